/*
 * model/gpt2_cli_init.c: `gpt2 init`, a random GPT-2 checkpoint in the
 * Hugging Face layout, initialised as GPT-2 is.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

static const char USAGE_INIT[] =
    "usage: gpt2 init --layers L --heads H --embd C --seed S --out DIR [options]\n"
    "\n"
    "Writes a randomly initialised checkpoint into DIR: config.json and\n"
    "model.safetensors (F32, openai-community/gpt2 tensor names), plus the\n"
    "tokenizer files copied from TOKDIR. Initialisation follows GPT-2 / Hugging\n"
    "Face: every matrix and embedding ~ N(0, 0.02), except the two c_proj weights\n"
    "of each block (attention and MLP output projections), which are scaled by\n"
    "1/sqrt(2L), i.e. ~ N(0, 0.02/sqrt(2L)); biases 0; layer-norm weights 1 and\n"
    "biases 0. The same options and seed give byte-identical files.\n"
    "Last it writes DIR/init.json, {\"init\": \"random\", \"seed\", \"std\",\n"
    "\"weights_sha256\"}: tune's records call the model random-init while its\n"
    "weights keep that sha256 (training them in place retires the marker).\n"
    "\n"
    "  --layers L          transformer blocks (1..1024)\n"
    "  --heads H           attention heads per block (1..1024; C % H == 0)\n"
    "  --embd C            embedding width (1..65536)\n"
    "  --positions N       maximum context length (1..1048576, default 1024)\n"
    "  --vocab V           vocabulary size (1..16777216, default 50257)\n"
    "  --seed S            random seed (unsigned 64-bit integer)\n"
    "  --out DIR           output directory (created if needed)\n"
    "  --tokenizer TOKDIR  where vocab.json + merges.txt (or encoder.json +\n"
    "                      vocab.bpe) are copied from (default models/gpt2-tokenizer;\n"
    "                      'make tokenizer' fetches them)\n"
    "  --std S             standard deviation of the matrices and embeddings\n"
    "                      (default 0.02, GPT-2's); tests use larger values so\n"
    "                      that small numerical differences become visible\n"
    "  --test-noise SIGMA  for tests only: add N(0, SIGMA) to every bias and\n"
    "                      layer-norm parameter, so that a numerical test\n"
    "                      exercises them (default 0: off)\n"
    "  --force             overwrite a DIR that already holds a model.safetensors\n";

typedef struct {
    GPT2Config config;
    uint64_t seed;
    int have_seed;
    const char *out_dir;
    const char *tokenizer_dir;
    float test_noise;
    float std;
    int force;
} InitOptions;

static const char *const INIT_FLAGS[] = {"--force", NULL};
static const char *const INIT_VALUE_OPTIONS[] = {
    "--layers", "--heads", "--embd", "--positions", "--vocab", "--seed", "--out", "--tokenizer", "--test-noise", "--std", NULL,
};

static int parse_init(int argc, char **argv, InitOptions *o) {
    const char *cmd = "init";
    memset(o, 0, sizeof *o);
    o->config.n_positions = 1024;
    o->config.vocab_size = 50257;
    o->config.layer_norm_epsilon = 1e-5f;
    o->tokenizer_dir = "models/gpt2-tokenizer";
    o->std = 0.02f;
    OptionSpec spec = {cmd, USAGE_INIT, INIT_FLAGS, INIT_VALUE_OPTIONS, 0, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (strcmp(a, "--force") == 0) o->force = 1;
        else if (strcmp(a, "--layers") == 0) st = parse_int(cmd, a, v, 1, 1024, &o->config.n_layer);
        else if (strcmp(a, "--heads") == 0) st = parse_int(cmd, a, v, 1, 1024, &o->config.n_head);
        else if (strcmp(a, "--embd") == 0) st = parse_int(cmd, a, v, 1, 65536, &o->config.n_embd);
        else if (strcmp(a, "--positions") == 0) st = parse_int(cmd, a, v, 1, 1 << 20, &o->config.n_positions);
        else if (strcmp(a, "--vocab") == 0) st = parse_int(cmd, a, v, 1, 1 << 24, &o->config.vocab_size);
        else if (strcmp(a, "--seed") == 0) { st = parse_u64(cmd, a, v, &o->seed); o->have_seed = 1; }
        else if (strcmp(a, "--out") == 0) o->out_dir = v;
        else if (strcmp(a, "--tokenizer") == 0) o->tokenizer_dir = v;
        else if (strcmp(a, "--test-noise") == 0) st = parse_float(cmd, a, v, 0.0, 1e3, &o->test_noise);
        else if (strcmp(a, "--std") == 0) st = parse_float(cmd, a, v, 0.0, 1e3, &o->std);
        if (st != ST_OK) return st;
    }
    if (!o->config.n_layer) return usage_error(cmd, "missing --layers");
    if (!o->config.n_head) return usage_error(cmd, "missing --heads");
    if (!o->config.n_embd) return usage_error(cmd, "missing --embd");
    if (!o->have_seed) return usage_error(cmd, "missing --seed");
    if (!o->out_dir) return usage_error(cmd, "missing --out");
    if (o->config.n_embd % o->config.n_head != 0)
        return usage_error(cmd, "--embd (%d) must be divisible by --heads (%d)", o->config.n_embd, o->config.n_head);
    return ST_OK;
}

static void fill_normal(float *x, size_t n, double std, Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * rng_normal(rng));
}

static void fill_constant(float *x, size_t n, float value) {
    for (size_t i = 0; i < n; i++) x[i] = value;
}

// --test-noise: moves biases and layer-norm parameters off their exact
// 0 / 1 so that a numerical test would notice one that is ignored.
static void add_noise(float *x, size_t n, double sigma, Rng *rng) {
    if (sigma == 0.0) return;
    for (size_t i = 0; i < n; i++) x[i] += (float)(sigma * rng_normal(rng));
}

static void init_layer_norm(float *w, float *b, size_t C, double noise, Rng *rng) {
    fill_constant(w, C, 1.0f);
    fill_constant(b, C, 0.0f);
    add_noise(w, C, noise, rng);
    add_noise(b, C, noise, rng);
}

static void init_bias(float *b, size_t n, double noise, Rng *rng) {
    fill_constant(b, n, 0.0f);
    add_noise(b, n, noise, rng);
}

// GPT-2's initialisation as in Hugging Face's GPT2PreTrainedModel._init_weights,
// tensor by tensor in the canonical order so that one seed means one file.
static void init_weights(GPT2Weights *w, const GPT2Config *c, uint64_t seed, double std, double noise) {
    // the residual projections: each block adds two outputs into the residual
    // stream, so GPT-2 scales them to keep its variance independent of depth
    const double proj_std = std / sqrt(2.0 * c->n_layer);
    size_t C = (size_t)c->n_embd;
    Rng rng;
    rng_seed(&rng, seed);
    fill_normal(w->wte, (size_t)c->vocab_size * C, std, &rng);
    fill_normal(w->wpe, (size_t)c->n_positions * C, std, &rng);
    for (int l = 0; l < c->n_layer; l++) {
        GPT2Block *b = &w->blocks[l];
        init_layer_norm(b->ln_1_w, b->ln_1_b, C, noise, &rng);
        fill_normal(b->attn_w, C * 3 * C, std, &rng);
        init_bias(b->attn_b, 3 * C, noise, &rng);
        fill_normal(b->attn_proj_w, C * C, proj_std, &rng);
        init_bias(b->attn_proj_b, C, noise, &rng);
        init_layer_norm(b->ln_2_w, b->ln_2_b, C, noise, &rng);
        fill_normal(b->fc_w, C * 4 * C, std, &rng);
        init_bias(b->fc_b, 4 * C, noise, &rng);
        fill_normal(b->fc_proj_w, 4 * C * C, proj_std, &rng);
        init_bias(b->fc_proj_b, C, noise, &rng);
    }
    init_layer_norm(w->ln_f_w, w->ln_f_b, C, noise, &rng);
}

int cmd_init(int argc, char **argv) {
    InitOptions o;
    int st = parse_init(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    char target[4096];
    snprintf(target, sizeof target, "%s/model.safetensors", o.out_dir);
    if (!o.force && path_exists(target)) {
        err_fail(&err, "%s already exists: refusing to overwrite it (use --force)", target);
        return runtime_error(&err);
    }

    const char *tok_names[2] = {NULL, NULL};
    char *tok_data[2] = {NULL, NULL};
    size_t tok_len[2] = {0, 0};
    if (read_tokenizer_files(o.tokenizer_dir, tok_names, tok_data, tok_len, &err) != 0) return runtime_error(&err);

    size_t n_params = gpt2_num_params(&o.config);
    float *params = malloc(n_params * sizeof(float));
    GPT2Block *blocks = malloc((size_t)o.config.n_layer * sizeof(GPT2Block));
    int rc = 0;
    if (!params || !blocks) {
        rc = err_fail(&err, "out of memory for %zu parameters", n_params);
    } else {
        GPT2Weights w;
        gpt2_point_weights(&w, blocks, params, &o.config);
        init_weights(&w, &o.config, o.seed, o.std, o.test_noise);
        rc = gpt2_save(&o.config, &w, o.out_dir, &err);
        if (rc == 0) rc = write_tokenizer_files(o.out_dir, tok_names, tok_data, tok_len, &err);
        // last: a marker names weights that are complete on disk (gpt2.h, the random-init marker)
        if (rc == 0) rc = gpt2_write_init_marker(o.out_dir, o.seed, o.std, &err);
    }
    free(params);
    free(blocks);
    free(tok_data[0]);
    free(tok_data[1]);
    if (rc != 0) return runtime_error(&err);
    printf("wrote %s: %d layers, %d heads, %d embd, %d positions, %d vocab, %zu parameters, seed %llu%s\n",
           o.out_dir, o.config.n_layer, o.config.n_head, o.config.n_embd, o.config.n_positions,
           o.config.vocab_size, n_params, (unsigned long long)o.seed, o.test_noise > 0 ? " (test noise)" : "");
    return ST_OK;
}
