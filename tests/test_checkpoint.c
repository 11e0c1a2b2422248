// tests/test_checkpoint.c: config.json + model.safetensors loading and saving.
//
// Every case writes its files into a fresh directory under a mkdtemp root
// ($TMP or /tmp), removed at the end. Files are built here independently of
// model/checkpoint.c (own name list, own header writer), except for the
// cases that start from a gpt2_save'd checkpoint and damage it.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // strcasestr, mkdtemp, nftw
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/gpt2.h"

#define TEST_NAME "test_checkpoint"
#include "tests/testlib.h"


// ----------------------------------------------------------------------------
// files in the scratch directory (making and writing them: tests/testlib.h)

static char *read_file(const char *dir, const char *name, size_t *len) {
    char path[4200];
    path_in(path, sizeof path, dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read %s", path);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

// Names in a directory, sorted, joined by spaces (to spot leftover temporaries).
static void list_dir(const char *dir, char *out, size_t cap) {
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | tr '\\n' ' '", dir);
    FILE *p = popen(cmd, "r");
    if (!p) die("popen");
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
}

// ----------------------------------------------------------------------------
// GPT-2 tensors, written out here independently of model/checkpoint.c

static const char *BLOCK_NAMES[GPT2_TENSORS_PER_BLOCK] = {
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
    "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
    "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
};
// shapes in units of C; 0 = no second dimension
static const int BLOCK_SHAPES[GPT2_TENSORS_PER_BLOCK][2] = {
    {1, 0}, {1, 0}, {1, 3}, {3, 0}, {1, 1}, {1, 0}, {1, 0}, {1, 0}, {1, 4}, {4, 0}, {4, 1}, {1, 0},
};

typedef struct {
    char name[96];
    int ndim;
    uint64_t shape[2];
    uint64_t numel;
} Spec;

static size_t n_specs(const GPT2Config *c) { return 4 + 12 * (size_t)c->n_layer; }

static void spec(const GPT2Config *c, size_t t, const char *prefix, Spec *s) {
    uint64_t C = (uint64_t)c->n_embd;
    size_t n = n_specs(c);
    s->ndim = 2;
    if (t == 0) {
        snprintf(s->name, sizeof s->name, "%swte.weight", prefix);
        s->shape[0] = (uint64_t)c->vocab_size, s->shape[1] = C;
    } else if (t == 1) {
        snprintf(s->name, sizeof s->name, "%swpe.weight", prefix);
        s->shape[0] = (uint64_t)c->n_positions, s->shape[1] = C;
    } else if (t >= n - 2) {
        snprintf(s->name, sizeof s->name, "%sln_f.%s", prefix, t == n - 2 ? "weight" : "bias");
        s->ndim = 1, s->shape[0] = C, s->shape[1] = 1;
    } else {
        size_t k = (t - 2) % 12;
        snprintf(s->name, sizeof s->name, "%sh.%zu.%s", prefix, (t - 2) / 12, BLOCK_NAMES[k]);
        s->shape[0] = (uint64_t)BLOCK_SHAPES[k][0] * C;
        s->shape[1] = BLOCK_SHAPES[k][1] ? (uint64_t)BLOCK_SHAPES[k][1] * C : 1;
        s->ndim = BLOCK_SHAPES[k][1] ? 2 : 1;
    }
    s->numel = s->shape[0] * s->shape[1];
}

// The pointer GPT2Weights holds for tensor t, by field name.
static const float *weight_ptr(const GPT2Weights *w, const GPT2Config *c, size_t t) {
    size_t n = n_specs(c);
    if (t == 0) return w->wte;
    if (t == 1) return w->wpe;
    if (t == n - 2) return w->ln_f_w;
    if (t == n - 1) return w->ln_f_b;
    const GPT2Block *b = &w->blocks[(t - 2) / 12];
    const float *fields[12] = {b->ln_1_w, b->ln_1_b, b->attn_w, b->attn_b, b->attn_proj_w, b->attn_proj_b,
                               b->ln_2_w, b->ln_2_b, b->fc_w, b->fc_b, b->fc_proj_w, b->fc_proj_b};
    return fields[(t - 2) % 12];
}

// ----------------------------------------------------------------------------
// a reference model with random weights

typedef struct {
    GPT2Config c;
    size_t n;
    float *params;
    GPT2Block *blocks;
    GPT2Weights w;
} Ref;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float rng_float(void) { return (float)((double)(xorshift64(&rng_state) >> 11) / 9007199254740992.0 * 2 - 1); }

static const GPT2Config TINY = {.n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 16,
                                .vocab_size = 64, .layer_norm_epsilon = 1e-5f};

static void ref_init(Ref *r, GPT2Config c) {
    r->c = c;
    r->n = gpt2_num_params(&c);
    r->params = xmalloc(r->n * sizeof(float));
    for (size_t i = 0; i < r->n; i++) r->params[i] = rng_float();
    // values whose bits are easy to lose: -0, a subnormal, a NaN with a payload, infinity
    uint32_t special[4] = {0x80000000u, 0x00000001u, 0x7fc01234u, 0x7f800000u};
    for (int i = 0; i < 4; i++) memcpy(&r->params[7 * i + 3], &special[i], 4);
    r->blocks = xmalloc((size_t)c.n_layer * sizeof(GPT2Block));
    gpt2_point_weights(&r->w, r->blocks, r->params, &c);
}

static void ref_free(Ref *r) {
    free(r->params);
    free(r->blocks);
}

// 1 when every tensor of a matches b bit for bit; else names the first that differs.
static int same_weights(const GPT2Weights *a, const GPT2Weights *b, const GPT2Config *c, char *which,
                        size_t cap) {
    Spec s;
    for (size_t t = 0; t < n_specs(c); t++) {
        spec(c, t, "", &s);
        if (memcmp(weight_ptr(a, c, t), weight_ptr(b, c, t), s.numel * sizeof(float)) != 0) {
            snprintf(which, cap, "%s", s.name);
            return 0;
        }
    }
    snprintf(which, cap, "(none)");
    return 1;
}

// ----------------------------------------------------------------------------
// safetensors files built or edited here

typedef struct {
    cJSON *header;
    unsigned char *data;   // the first data_bytes_present bytes of the data section
    size_t data_present;
    uint64_t data_len;     // the whole data section (the rest is a hole: zeros)
} St;

static St st_new(void) {
    St st = {.header = cJSON_CreateObject()};
    cJSON *meta = cJSON_AddObjectToObject(st.header, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "pt");
    return st;
}

static void st_free(St *st) {
    cJSON_Delete(st->header);
    free(st->data);
}

static cJSON *offsets_json(uint64_t begin, uint64_t end) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)end));
    return a;
}

// Adds a tensor at the end of the data section; bytes NULL leaves it a hole
// (only after all materialized tensors: for sparse multi-GB files).
static void st_append(St *st, const char *name, const char *dtype, const uint64_t *shape, int ndim,
                      const void *bytes, uint64_t nbytes) {
    uint64_t begin = st->data_len;
    if (bytes) {
        if (st->data_present != begin) die("st_append: data after a hole");
        st->data = realloc(st->data, (size_t)(begin + nbytes) + 1);
        if (!st->data) die("out of memory");
        memcpy(st->data + begin, bytes, (size_t)nbytes);
        st->data_present = (size_t)(begin + nbytes);
    }
    st->data_len = begin + nbytes;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "dtype", dtype);
    cJSON *sh = cJSON_AddArrayToObject(e, "shape");
    for (int i = 0; i < ndim; i++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)shape[i]));
    cJSON_AddItemToObject(e, "data_offsets", offsets_json(begin, begin + nbytes));
    cJSON_AddItemToObject(st->header, name, e);
}

// Writes DIR/model.safetensors with the header padded by spaces until
// (8 + header length) % 8 == residue (0: aligned, as writers do). Returns -1
// only when the filesystem refuses the size of a file with holes.
static int st_write(const St *st, const char *dir, int residue) {
    char *json = cJSON_PrintUnformatted(st->header);
    if (!json) die("cJSON_PrintUnformatted");
    size_t n = strlen(json);
    char *header = xmalloc(n + 8);
    memcpy(header, json, n);
    free(json);
    while ((8 + n) % 8 != (size_t)residue) header[n++] = ' ';
    char path[4200];
    path_in(path, sizeof path, dir, "model.safetensors");
    FILE *f = fopen(path, "wb");
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    if (!f || fwrite(len, 1, 8, f) != 8 || fwrite(header, 1, n, f) != n ||
        (st->data_present && fwrite(st->data, 1, st->data_present, f) != st->data_present) || fflush(f) != 0)
        die("cannot write %s", path);
    int rc = ftruncate(fileno(f), (off_t)(8 + n + st->data_len));
    if (rc != 0 && st->data_present == st->data_len) die("ftruncate %s: %s", path, strerror(errno));
    fclose(f);
    free(header);
    return rc;
}

// Reads a DIR/model.safetensors (one written by gpt2_save) for editing.
static St st_read(const char *dir) {
    size_t len;
    char *file = read_file(dir, "model.safetensors", &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)file[i];
    if (len < 8 || n > len - 8) die("st_read: bad file");
    St st = {.header = cJSON_ParseWithLength(file + 8, (size_t)n)};
    if (!st.header) die("st_read: bad header");
    st.data_present = st.data_len = len - 8 - (size_t)n;
    st.data = xmalloc(st.data_present + 1);
    memcpy(st.data, file + 8 + n, st.data_present);
    free(file);
    return st;
}

static cJSON *st_entry(St *st, const char *name) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(st->header, name);
    if (!e) die("no tensor %s in the header", name);
    return e;
}

static uint64_t st_offset(St *st, const char *name, int which) {
    return (uint64_t)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st_entry(st, name), "data_offsets"),
                                        which)->valuedouble;
}

// Writes the whole tiny model from a Ref with our own writer: each tensor in
// the dtype dtype_of(t) returns, names with prefix; config.json in HF style.
static void write_config_json(const char *dir, const GPT2Config *c) {
    char text[1024];
    snprintf(text, sizeof text,
             "{\"_name_or_path\": \"test\", \"activation_function\": \"gelu_new\", \"architectures\": "
             "[\"GPT2LMHeadModel\"], \"attn_pdrop\": 0.1, \"bos_token_id\": 50256, \"embd_pdrop\": 0.1, "
             "\"eos_token_id\": 50256, \"initializer_range\": 0.02, \"layer_norm_epsilon\": %.9g, "
             "\"model_type\": \"gpt2\", \"n_ctx\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_inner\": null, "
             "\"n_layer\": %d, \"n_positions\": %d, \"task_specific_params\": {\"text-generation\": "
             "{\"do_sample\": true, \"max_length\": 50}}, \"vocab_size\": %d}\n",
             (double)c->layer_norm_epsilon, c->n_positions, c->n_embd, c->n_head, c->n_layer,
             c->n_positions, c->vocab_size);
    write_text(dir, "config.json", text);
}

// ----------------------------------------------------------------------------
// F16 / BF16

// Half to float the long way (ldexp), to check the loader's bit manipulation.
static float half_reference(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    double v;
    if (exponent == 31 && mantissa) { // NaN: widened with its payload, as F16C and PyTorch do
        uint32_t bits = (uint32_t)sign << 31 | 0x7f800000u | (uint32_t)mantissa << 13;
        float f;
        memcpy(&f, &bits, 4);
        return f;
    }
    if (exponent == 31) v = INFINITY;
    else if (exponent == 0) v = ldexp(mantissa, -24);
    else v = ldexp(1024 + mantissa, exponent - 25);
    return (float)(sign ? -v : v);
}

static uint16_t random_finite_half(void) {
    for (;;) {
        uint16_t h = (uint16_t)xorshift64(&rng_state);
        if (((h >> 10) & 31) != 31) return h;
    }
}

static float bf16_reference(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// ----------------------------------------------------------------------------
// loading, expecting success or a particular failure

static Err err;

static int load_ok(GPT2Model *m, const char *dir, const char *what) {
    memset(m, 0xab, sizeof *m);
    int rc = gpt2_load(m, dir, &err);
    CHECK(rc == 0, "%s: load failed: %s", what, err.msg);
    return rc == 0;
}

static int model_is_empty(const GPT2Model *m) {
    GPT2Model zero;
    memset(&zero, 0, sizeof zero);
    return memcmp(m, &zero, sizeof zero) == 0;
}

// gpt2_load must fail with a message naming file and containing word; the
// model must be left empty (freeing it, twice, is then harmless).
static void load_fails(const char *dir, const char *file, const char *word, const char *what) {
    GPT2Model m;
    memset(&m, 0xab, sizeof m); // garbage in: the loader must not trust it
    snprintf(err.msg, sizeof err.msg, "(no message)");
    int rc = gpt2_load(&m, dir, &err);
    CHECK(rc == -1, "%s: expected an error, got rc %d", what, rc);
    if (rc == 0) {
        gpt2_free(&m);
        return;
    }
    CHECK(strstr(err.msg, file) != NULL, "%s: message does not name %s: %s", what, file, err.msg);
    CHECK(strcasestr(err.msg, word) != NULL, "%s: message lacks \"%s\": %s", what, word, err.msg);
    CHECK(strchr(err.msg, '\n') == NULL, "%s: message is not one line: %s", what, err.msg);
    CHECK(model_is_empty(&m), "%s: a failed load left the model non-empty", what);
    gpt2_free(&m);
    gpt2_free(&m);
    printf("ok   %-34s %s\n", what, err.msg);
}

// A directory holding the reference model saved by gpt2_save.
static void saved_case(char *dir, size_t cap, const char *name, const Ref *r) {
    scratch_dir(dir, cap, name);
    if (gpt2_save(&r->c, &r->w, dir, &err) != 0) die("gpt2_save %s: %s", dir, err.msg);
}

// A saved_case whose weights file is read back for editing.
static St saved_for_edit(char *dir, size_t cap, const char *name, const Ref *r) {
    saved_case(dir, cap, name, r);
    return st_read(dir);
}

// Writes the edited st as dir's weights file (and frees it): loading must now
// fail with word (load_fails).
static void edited_fails(St *st, const char *dir, const char *word, const char *what) {
    st_write(st, dir, 0);
    st_free(st);
    load_fails(dir, "model.safetensors", word, what);
}

// ----------------------------------------------------------------------------
// the tests

static void test_num_params_and_pointers(void) {
    const struct { GPT2Config c; size_t params; } sizes[] = {
        {{12, 12, 768, 1024, 50257, 1e-5f}, 124439808},  {{24, 16, 1024, 1024, 50257, 1e-5f}, 354823168},
        {{36, 20, 1280, 1024, 50257, 1e-5f}, 774030080}, {{48, 25, 1600, 1024, 50257, 1e-5f}, 1557611200},
        {{6, 12, 768, 1024, 50257, 1e-5f}, 81912576}, // distilgpt2
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        CHECK(gpt2_num_params(&sizes[i].c) == sizes[i].params, "n_layer %d: %zu params, expected %zu",
              sizes[i].c.n_layer, gpt2_num_params(&sizes[i].c), sizes[i].params);

    // canonical order: consecutive tensors, wte first, ln_f.bias last
    const GPT2Config *c = &TINY;
    size_t n = gpt2_num_params(c);
    float *params = xmalloc(n * sizeof(float));
    GPT2Block blocks[2];
    GPT2Weights w;
    gpt2_point_weights(&w, blocks, params, c);
    CHECK(w.blocks == blocks, "blocks not set");
    size_t at = 0;
    Spec s;
    for (size_t t = 0; t < n_specs(c); t++) {
        spec(c, t, "", &s);
        CHECK(weight_ptr(&w, c, t) == params + at, "%s at offset %td, expected %zu", s.name,
              weight_ptr(&w, c, t) - params, at);
        at += s.numel;
    }
    CHECK(at == n, "tensors cover %zu floats, gpt2_num_params says %zu", at, n);
    free(params);
}

/* The config.json text of a tiny valid model ({"n_layer": 2, "n_head": 2, "n_embd": 8,
 * "n_positions": 16, "vocab_size": 64}) with key's value replaced by json, or key
 * removed (json NULL); a key it lacks is added at the end. */
static void tiny_config_with(char *out, size_t cap, const char *key, const char *json) {
    static const char *const keys[] = {"n_layer", "n_head", "n_embd", "n_positions", "vocab_size"};
    static const char *const values[] = {"2", "2", "8", "16", "64"};
    int n = snprintf(out, cap, "{"), found = 0;
    for (int k = 0; k < 5; k++) {
        int this_key = strcmp(keys[k], key) == 0;
        found |= this_key;
        if (this_key && !json) continue;
        n += snprintf(out + n, cap - (size_t)n, "%s\"%s\": %s", n > 1 ? ", " : "", keys[k], this_key ? json : values[k]);
    }
    if (!found) n += snprintf(out + n, cap - (size_t)n, ", \"%s\": %s", key, json);
    if (snprintf(out + n, cap - (size_t)n, "}") >= (int)cap - n) die("config text too long");
}

static void test_config(void) {
    char dir[4200];
    GPT2Config c;
    // the config.json of openai-community/gpt2, as published
    scratch_dir(dir, sizeof dir, "config_hf");
    write_text(dir, "config.json",
               "{\n  \"activation_function\": \"gelu_new\",\n  \"architectures\": [\n    \"GPT2LMHeadModel\"\n"
               "  ],\n  \"attn_pdrop\": 0.1,\n  \"bos_token_id\": 50256,\n  \"embd_pdrop\": 0.1,\n"
               "  \"eos_token_id\": 50256,\n  \"initializer_range\": 0.02,\n  \"layer_norm_epsilon\": 1e-05,\n"
               "  \"model_type\": \"gpt2\",\n  \"n_ctx\": 1024,\n  \"n_embd\": 768,\n  \"n_head\": 12,\n"
               "  \"n_layer\": 12,\n  \"n_positions\": 1024,\n  \"resid_pdrop\": 0.1,\n"
               "  \"summary_activation\": null,\n  \"summary_first_dropout\": 0.1,\n"
               "  \"summary_proj_to_labels\": true,\n  \"summary_type\": \"cls_index\",\n"
               "  \"summary_use_proj\": true,\n  \"task_specific_params\": {\n    \"text-generation\": {\n"
               "      \"do_sample\": true,\n      \"max_length\": 50\n    }\n  },\n  \"vocab_size\": 50257\n}\n");
    int rc = gpt2_config_load(&c, dir, &err);
    CHECK(rc == 0, "HF gpt2 config.json: %s", err.msg);
    CHECK(rc == 0 && c.n_layer == 12 && c.n_head == 12 && c.n_embd == 768 && c.n_positions == 1024 &&
              c.vocab_size == 50257 && c.layer_norm_epsilon == 1e-5f,
          "HF gpt2 config.json read wrong");

    // n_ctx stands in for n_positions; layer_norm_epsilon defaults to 1e-5
    scratch_dir(dir, sizeof dir, "config_n_ctx");
    write_text(dir, "config.json", "{\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_ctx\": 16, \"vocab_size\": 64}");
    rc = gpt2_config_load(&c, dir, &err);
    CHECK(rc == 0 && c.n_positions == 16 && c.layer_norm_epsilon == 1e-5f, "n_ctx config: rc %d %s", rc, err.msg);

    // key NULL: json is the whole file; else a valid tiny config with key set to json (NULL: removed)
    const struct { const char *name, *key, *json, *word; } bad[] = {
        {"cfg_not_json", NULL, "{\"n_layer\": 2,", "JSON"},
        {"cfg_array", NULL, "[1, 2]", "object"},
        {"cfg_no_n_layer", "n_layer", NULL, "n_layer"},
        {"cfg_n_head_string", "n_head", "\"2\"", "n_head"},
        {"cfg_n_layer_zero", "n_layer", "0", "n_layer"},
        {"cfg_n_layer_negative", "n_layer", "-2", "n_layer"},
        {"cfg_n_embd_fraction", "n_embd", "8.5", "n_embd"},
        {"cfg_not_divisible", "n_head", "3", "divisible"},
        {"cfg_vocab_huge", "vocab_size", "1e12", "vocab_size"},
        {"cfg_positions_huge", "n_positions", "1e9", "n_positions"},
        {"cfg_no_positions", "n_positions", NULL, "n_positions"},
        {"cfg_eps_string", "layer_norm_epsilon", "\"small\"", "layer_norm_epsilon"},
        {"cfg_eps_negative", "layer_norm_epsilon", "-1", "layer_norm_epsilon"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        scratch_dir(dir, sizeof dir, bad[i].name);
        char text[256];
        if (bad[i].key) tiny_config_with(text, sizeof text, bad[i].key, bad[i].json);
        else snprintf(text, sizeof text, "%s", bad[i].json);
        write_text(dir, "config.json", text);
        GPT2Config before = {1, 1, 1, 1, 1, 0.5f}, after = before;
        CHECK(gpt2_config_load(&after, dir, &err) == -1, "%s: accepted", bad[i].name);
        CHECK(memcmp(&before, &after, sizeof before) == 0, "%s: failed load changed the config", bad[i].name);
        load_fails(dir, "config.json", bad[i].word, bad[i].name); // gpt2_load reports it too
    }
    scratch_dir(dir, sizeof dir, "cfg_missing");
    load_fails(dir, "config.json", "open", "cfg_missing");
}

static void test_roundtrip(const Ref *r) {
    char dir[4200], which[128];
    saved_case(dir, sizeof dir, "roundtrip", r);
    GPT2Model m;
    if (!load_ok(&m, dir, "roundtrip")) return;
    CHECK(memcmp(&m.config, &r->c, sizeof m.config) == 0, "config changed: L %d H %d C %d P %d V %d eps %g",
          m.config.n_layer, m.config.n_head, m.config.n_embd, m.config.n_positions, m.config.vocab_size,
          (double)m.config.layer_norm_epsilon);
    CHECK(same_weights(&m.w, &r->w, &r->c, which, sizeof which), "roundtrip differs in %s", which);
    // zero copy: every tensor inside the map, nothing owned
    CHECK(m.owned == NULL && m.owned_floats == 0, "F32 aligned file produced %zu owned floats", m.owned_floats);
    const char *lo = m.map, *hi = lo + m.map_size;
    for (size_t t = 0; t < n_specs(&r->c); t++) {
        const char *p = (const char *)weight_ptr(&m.w, &r->c, t);
        CHECK(p >= lo && p < hi && ((uintptr_t)p & 7) == 0, "tensor %zu not in the map or not 8-aligned", t);
    }
    CHECK(m.w.blocks == m.blocks_storage, "w.blocks does not point at blocks_storage");
    gpt2_free(&m);
    CHECK(model_is_empty(&m), "gpt2_free left fields set");
    gpt2_free(&m);

    // the files themselves: an HF config and an aligned, F32, unprefixed header
    size_t len;
    char *text = read_file(dir, "config.json", &len);
    cJSON *cfg = cJSON_Parse(text);
    CHECK(cfg != NULL, "saved config.json is not JSON: %s", text);
    if (cfg) {
        const cJSON *arch = cJSON_GetObjectItem(cfg, "architectures");
        CHECK(cJSON_IsString(cJSON_GetObjectItem(cfg, "model_type")) &&
                  strcmp(cJSON_GetObjectItem(cfg, "model_type")->valuestring, "gpt2") == 0, "model_type");
        CHECK(cJSON_IsArray(arch) && cJSON_GetArraySize(arch) == 1 &&
                  strcmp(cJSON_GetArrayItem(arch, 0)->valuestring, "GPT2LMHeadModel") == 0, "architectures");
        CHECK(strcmp(cJSON_GetObjectItem(cfg, "activation_function")->valuestring, "gelu_new") == 0, "activation");
        const char *ints[] = {"n_layer", "n_head", "n_embd", "n_positions", "n_ctx", "vocab_size",
                              "bos_token_id", "eos_token_id"};
        int want[] = {r->c.n_layer, r->c.n_head, r->c.n_embd, r->c.n_positions, r->c.n_positions,
                      r->c.vocab_size, 50256, 50256};
        for (int i = 0; i < 8; i++) {
            const cJSON *v = cJSON_GetObjectItem(cfg, ints[i]);
            CHECK(cJSON_IsNumber(v) && v->valuedouble == want[i], "config.json %s", ints[i]);
        }
        CHECK(strstr(text, "\"layer_norm_epsilon\": 1e-05") != NULL, "epsilon not written shortest: %s", text);
    }
    cJSON_Delete(cfg);
    free(text);

    char *file = read_file(dir, "model.safetensors", &len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)file[i];
    CHECK(n % 8 == 0, "header length %" PRIu64 " is not a multiple of 8", n);
    CHECK(len == 8 + n + gpt2_num_params(&r->c) * 4, "file is %zu bytes", len);
    CHECK(file[8 + n - 1] == ' ' || file[8 + n - 1] == '}', "header does not end in } or padding");
    cJSON *h = cJSON_ParseWithLength(file + 8, (size_t)n);
    CHECK(h != NULL, "saved header is not JSON");
    if (h) {
        const cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
        CHECK(meta && cJSON_IsString(cJSON_GetObjectItem(meta, "format")) &&
                  strcmp(cJSON_GetObjectItem(meta, "format")->valuestring, "pt") == 0, "__metadata__.format");
        CHECK(cJSON_GetArraySize(h) == (int)n_specs(&r->c) + 1, "header has %d entries", cJSON_GetArraySize(h));
        Spec s;
        uint64_t offset = 0;
        for (size_t t = 0; t < n_specs(&r->c); t++) { // openai-community/gpt2 names, in order
            spec(&r->c, t, "", &s);
            const cJSON *e = cJSON_GetArrayItem(h, (int)t + 1);
            CHECK(e && strcmp(e->string, s.name) == 0, "entry %zu is %s, expected %s", t, e ? e->string : "-", s.name);
            if (!e) continue;
            CHECK(strcmp(cJSON_GetObjectItem(e, "dtype")->valuestring, "F32") == 0, "%s dtype", s.name);
            const cJSON *off = cJSON_GetObjectItem(e, "data_offsets");
            CHECK(cJSON_GetArrayItem(off, 0)->valuedouble == (double)offset &&
                      cJSON_GetArrayItem(off, 1)->valuedouble == (double)(offset + s.numel * 4),
                  "%s offsets", s.name);
            offset += s.numel * 4;
        }
    }
    cJSON_Delete(h);
    free(file);

    // an odd epsilon survives too, and saving over a checkpoint replaces it
    Ref r2;
    GPT2Config c2 = r->c;
    c2.layer_norm_epsilon = 3.3e-6f;
    ref_init(&r2, c2);
    if (gpt2_save(&r2.c, &r2.w, dir, &err) != 0) {
        CHECK(0, "save over an existing checkpoint: %s", err.msg);
    } else if (load_ok(&m, dir, "resave")) {
        CHECK(m.config.layer_norm_epsilon == 3.3e-6f, "epsilon %.9g", (double)m.config.layer_norm_epsilon);
        CHECK(same_weights(&m.w, &r2.w, &r2.c, which, sizeof which), "resave differs in %s", which);
        gpt2_free(&m);
    }
    char names[512];
    list_dir(dir, names, sizeof names);
    CHECK(strcmp(names, "config.json model.safetensors ") == 0, "directory holds: %s", names);

    // a loaded model saved back into its own directory: the rename replaces
    // the file the weights are mapped from, which the map keeps alive
    if (load_ok(&m, dir, "load before saving in place")) {
        CHECK(gpt2_save(&m.config, &m.w, dir, &err) == 0, "save over the mapped file: %s", err.msg);
        GPT2Model again;
        if (load_ok(&again, dir, "reload after saving in place")) {
            CHECK(same_weights(&again.w, &m.w, &m.config, which, sizeof which), "in-place save differs in %s", which);
            CHECK(same_weights(&again.w, &r2.w, &r2.c, which, sizeof which), "in-place save lost %s", which);
            gpt2_free(&again);
        }
        gpt2_free(&m);
    }
    CHECK(gpt2_save(&r->c, &r->w, "", &err) == -1, "saved into \"\"");
    CHECK(gpt2_load(&m, "", &err) == -1 && model_is_empty(&m), "loaded from \"\"");

    // DIR is created, parents included
    path_in(dir, sizeof dir, root, "new/nested/dir");
    CHECK(gpt2_save(&r->c, &r->w, dir, &err) == 0, "save into a new nested directory: %s", err.msg);
    if (load_ok(&m, dir, "nested")) gpt2_free(&m);
    ref_free(&r2);
}

static void test_save_errors(const Ref *r) {
    char dir[4200], names[512];
    // DIR is a regular file
    path_in(dir, sizeof dir, root, "a_file");
    write_text(root, "a_file", "x");
    CHECK(gpt2_save(&r->c, &r->w, dir, &err) == -1, "saved into a regular file");
    CHECK(strstr(err.msg, "a_file") != NULL, "message does not name the path: %s", err.msg);
    printf("ok   %-34s %s\n", "save_into_file", err.msg);

    scratch_dir(dir, sizeof dir, "save_errors");
    GPT2Config bad = r->c;
    bad.n_head = 3;
    CHECK(gpt2_save(&bad, &r->w, dir, &err) == -1 && strstr(err.msg, "divisible"), "bad config saved: %s", err.msg);
    printf("ok   %-34s %s\n", "save_bad_config", err.msg);
    GPT2Weights w = r->w;
    GPT2Block blocks[2] = {r->blocks[0], r->blocks[1]};
    w.blocks = blocks;
    blocks[1].fc_b = NULL;
    CHECK(gpt2_save(&r->c, &w, dir, &err) == -1 && strstr(err.msg, "h.1.mlp.c_fc.bias"), "NULL tensor saved: %s",
          err.msg);
    printf("ok   %-34s %s\n", "save_null_tensor", err.msg);
    list_dir(dir, names, sizeof names);
    CHECK(strcmp(names, "") == 0, "failed saves left: %s", names);

    // a write that fails half way (file size limit): the old checkpoint stays, no temporaries
    if (gpt2_save(&r->c, &r->w, dir, &err) != 0) die("gpt2_save: %s", err.msg);
    Ref r2;
    ref_init(&r2, r->c);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {.rlim_cur = 2000, .rlim_max = old.rlim_max};
    signal(SIGXFSZ, SIG_IGN); // write fails with EFBIG instead of killing us
    setrlimit(RLIMIT_FSIZE, &small);
    int rc = gpt2_save(&r2.c, &r2.w, dir, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(rc == -1 && strstr(err.msg, "write"), "save past the file size limit: rc %d %s", rc, err.msg);
    printf("ok   %-34s %s\n", "save_write_fails", err.msg);
    list_dir(dir, names, sizeof names);
    CHECK(strcmp(names, "config.json model.safetensors ") == 0, "after a failed save the directory holds: %s", names);
    GPT2Model m;
    char which[128];
    if (load_ok(&m, dir, "after failed save")) {
        CHECK(same_weights(&m.w, &r->w, &r->c, which, sizeof which), "old checkpoint damaged in %s", which);
        gpt2_free(&m);
    }
    ref_free(&r2);
}

// Our own writer: every tensor of r in dtype_of(t), names with prefix, and
// optionally the attn.bias / masked_bias buffers and a tied lm_head.
typedef const char *(*DtypeOf)(size_t t);
static const char *all_f32(size_t t) { return (void)t, "F32"; }
static const char *all_f16(size_t t) { return (void)t, "F16"; }
static const char *all_bf16(size_t t) { return (void)t, "BF16"; }
static const char *mixed(size_t t) { return t % 3 == 0 ? "F32" : t % 3 == 1 ? "F16" : "BF16"; }

// Tensor t's values as dtype bytes; for F16/BF16 r's floats are replaced by
// what the bytes hold, so r stays the expected result.
static void *encode(Ref *r, size_t t, const char *dtype, uint64_t numel, size_t *nbytes) {
    float *x = (float *)weight_ptr(&r->w, &r->c, t);
    if (strcmp(dtype, "F32") == 0) {
        *nbytes = numel * 4;
        void *b = xmalloc(*nbytes);
        memcpy(b, x, *nbytes);
        return b;
    }
    uint16_t *h = xmalloc(numel * 2);
    for (uint64_t i = 0; i < numel; i++) {
        if (strcmp(dtype, "F16") == 0) {
            h[i] = random_finite_half();
            x[i] = half_reference(h[i]);
        } else {
            uint32_t bits;
            memcpy(&bits, &x[i], 4);
            h[i] = (uint16_t)(bits >> 16); // truncation: any bf16 pattern will do
            x[i] = bf16_reference(h[i]);
        }
    }
    *nbytes = numel * 2;
    return h;
}

static void write_model(const char *dir, Ref *r, DtypeOf dtype_of, const char *prefix, int buffers, int lm_head,
                        int residue) {
    write_config_json(dir, &r->c);
    St st = st_new();
    Spec s;
    for (size_t t = 0; t < n_specs(&r->c); t++) {
        spec(&r->c, t, prefix, &s);
        size_t nbytes;
        void *bytes = encode(r, t, dtype_of(t), s.numel, &nbytes);
        st_append(&st, s.name, dtype_of(t), s.shape, s.ndim, bytes, nbytes);
        if (t == 0 && lm_head) st_append(&st, "lm_head.weight", dtype_of(t), s.shape, 2, bytes, nbytes);
        free(bytes);
        if (buffers && t >= 2 && (t - 2) % 12 == 11) { // after each block, as older transformers saved them
            char name[96];
            uint64_t P = (uint64_t)r->c.n_positions, mask_shape[4] = {1, 1, P, P};
            float *mask = xmalloc(P * P * 4);
            for (uint64_t i = 0; i < P * P; i++) mask[i] = (i % P) <= (i / P);
            float masked = -1e4f;
            snprintf(name, sizeof name, "%sh.%zu.attn.bias", prefix, (t - 2) / 12);
            st_append(&st, name, "F32", mask_shape, 4, mask, P * P * 4);
            snprintf(name, sizeof name, "%sh.%zu.attn.masked_bias", prefix, (t - 2) / 12);
            st_append(&st, name, "F32", NULL, 0, &masked, 4);
            free(mask);
        }
    }
    st_write(&st, dir, residue);
    st_free(&st);
}

static void check_loads_as(const char *dir, const Ref *r, const char *what, size_t want_owned) {
    GPT2Model m;
    char which[128];
    if (!load_ok(&m, dir, what)) return;
    CHECK(same_weights(&m.w, &r->w, &r->c, which, sizeof which), "%s: differs in %s", what, which);
    CHECK(m.owned_floats == want_owned, "%s: %zu owned floats, expected %zu", what, m.owned_floats, want_owned);
    gpt2_free(&m);
    printf("ok   %-34s loads (%zu floats converted or copied)\n", what, want_owned);
}

static void test_variants(const Ref *ref) {
    char dir[4200];
    Ref r; // write_model changes r's values to what F16/BF16 can hold, so work on a copy
    ref_init(&r, ref->c);
    memcpy(r.params, ref->params, r.n * 4);
    size_t all = r.n, converted = 0; // the floats a load must convert or copy
    Spec s;
    for (size_t t = 0; t < n_specs(&r.c); t++)
        if (strcmp(mixed(t), "F32") != 0) spec(&r.c, t, "", &s), converted += s.numel;
    // residue 2: a header whose length leaves every F32 tensor 2 bytes off alignment: copied
    const struct {
        const char *dir, *what;
        DtypeOf dtype_of;
        const char *prefix;
        int buffers, lm_head, residue;
        size_t owned;
    } variants[] = {
        {"prefix", "prefix", all_f32, "transformer.", 0, 0, 0, 0},
        {"buffers", "prefix+buffers+lm_head", all_f32, "transformer.", 1, 1, 0, 0},
        {"unprefixed_buffers", "buffers", all_f32, "", 1, 0, 0, 0},
        {"misaligned", "misaligned F32", all_f32, "", 0, 1, 2, all},
        {"f16", "F16 (+ lm_head in F16)", all_f16, "", 0, 1, 0, all},
        {"bf16", "BF16", all_bf16, "transformer.", 1, 1, 0, all},
        {"mixed", "mixed F32/F16/BF16", mixed, "", 0, 0, 0, converted},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        scratch_dir(dir, sizeof dir, variants[i].dir);
        write_model(dir, &r, variants[i].dtype_of, variants[i].prefix, variants[i].buffers, variants[i].lm_head,
                    variants[i].residue);
        check_loads_as(dir, &r, variants[i].what, variants[i].owned);
    }
    ref_free(&r);
}

// Known conversions, put into ln_f of a tiny F16 / BF16 file.
static void test_known_halves(void) {
    const struct { uint16_t h; float f; } f16[] = {
        {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x7bff, 65504.0f}, {0x0001, 5.9604644775390625e-08f},
        {0x03ff, 6.0975551605224609e-05f}, {0x0400, 6.103515625e-05f}, {0x3555, 0.333251953125f},
        {0x8000, -0.0f}, {0x7c00, INFINITY}, {0xfc00, -INFINITY}, {0x3800, 0.5f}, {0x5640, 100.0f},
        {0x2e66, 0.0999755859375f}, {0x0000, 0.0f}, {0x8001, -5.9604644775390625e-08f}, {0xfbff, -65504.0f},
    };
    const struct { uint16_t h; float f; } bf16[] = {
        {0x3f80, 1.0f}, {0xc040, -3.0f}, {0x4049, 3.140625f}, {0x7f7f, 3.3895313892515355e38f},
        {0x0001, 9.183549615799121e-41f}, {0x8000, -0.0f}, {0x7f80, INFINITY}, {0xff80, -INFINITY},
        {0x3e80, 0.25f}, {0x42c8, 100.0f}, {0xbf00, -0.5f}, {0x0080, 1.1754943508222875e-38f},
        {0x3dcd, 0.10009765625f}, {0x0000, 0.0f}, {0x4780, 65536.0f}, {0xc7c0, -98304.0f},
    };
    GPT2Config c = {.n_layer = 1, .n_head = 1, .n_embd = 8, .n_positions = 2, .vocab_size = 3,
                    .layer_norm_epsilon = 1e-5f};
    for (int kind = 0; kind < 2; kind++) {
        const char *dtype = kind ? "BF16" : "F16";
        char dir[4200];
        scratch_dir(dir, sizeof dir, kind ? "known_bf16" : "known_f16");
        write_config_json(dir, &c);
        St st = st_new();
        Spec s;
        const size_t first_ln_f = n_specs(&c) - 2;
        for (size_t t = 0; t < n_specs(&c); t++) {
            spec(&c, t, "", &s);
            uint16_t *h = xmalloc(s.numel * 2);
            for (uint64_t i = 0; i < s.numel; i++) h[i] = (uint16_t)(0x3c00 + i); // anything finite
            if (t >= first_ln_f) // ln_f.weight gets known values 0..7, ln_f.bias 8..15
                for (size_t i = 0; i < 8; i++) {
                    size_t k = (t - first_ln_f) * 8 + i;
                    h[i] = kind ? bf16[k].h : f16[k].h;
                }
            st_append(&st, s.name, dtype, s.shape, s.ndim, h, s.numel * 2);
            free(h);
        }
        // NaN: kept a NaN with its payload (quiet bit and top mantissa bits)
        uint16_t nan_bits = kind ? 0x7fc1 : 0x7e01;
        uint64_t one = 1;
        st_append(&st, "h.0.attn.masked_bias", dtype, &one, 1, &nan_bits, 2); // ignored, offsets checked
        st_write(&st, dir, 0);
        st_free(&st);
        GPT2Model m;
        if (!load_ok(&m, dir, dtype)) continue;
        for (int i = 0; i < 16; i++) {
            float want = kind ? bf16[i].f : f16[i].f;
            float got = i < 8 ? m.w.ln_f_w[i] : m.w.ln_f_b[i - 8];
            CHECK(memcmp(&got, &want, 4) == 0, "%s 0x%04x -> %.9g, expected %.9g", dtype,
                  kind ? bf16[i].h : f16[i].h, (double)got, (double)want);
        }
        gpt2_free(&m);
        printf("ok   %-34s 16 known values\n", dtype);
    }
    // every finite half against the ldexp reference, through a file of all 63488 of them
    GPT2Config all = {.n_layer = 1, .n_head = 1, .n_embd = 4, .n_positions = 1, .vocab_size = 16384,
                      .layer_norm_epsilon = 1e-5f};
    char dir[4200];
    scratch_dir(dir, sizeof dir, "all_halves");
    write_config_json(dir, &all);
    St st = st_new();
    Spec s;
    for (size_t t = 0; t < n_specs(&all); t++) {
        spec(&all, t, "", &s);
        uint16_t *h = xmalloc(s.numel * 2);
        for (uint64_t i = 0; i < s.numel; i++) h[i] = t == 0 ? (uint16_t)i : 0x3c00; // wte: 0x0000..0xffff
        st_append(&st, s.name, "F16", s.shape, s.ndim, h, s.numel * 2);
        free(h);
    }
    st_write(&st, dir, 0);
    st_free(&st);
    GPT2Model m;
    if (load_ok(&m, dir, "all halves")) {
        int wrong = 0;
        for (uint32_t i = 0; i < 65536; i++) {
            float want = half_reference((uint16_t)i), got = m.w.wte[i];
            if (memcmp(&got, &want, 4) != 0 && wrong++ < 5) CHECK(0, "F16 0x%04x -> %.9g, expected %.9g", i, (double)got, (double)want);
        }
        CHECK(wrong == 0, "%d of 65536 halves converted wrong", wrong);
        gpt2_free(&m);
    }
}

// Cases that edit one field of one entry of a saved tiny model.
static void test_bad_entries(const Ref *r) {
    const char *T = "h.0.ln_1.weight"; // shape [8], 32 bytes
    const struct { const char *name, *tensor, *key, *json, *word; } edits[] = {
        // key NULL: the whole entry; json NULL: delete it
        {"missing_tensor", T, NULL, NULL, "missing"},
        {"no_dtype", T, "dtype", NULL, "dtype"},
        {"no_shape", T, "shape", NULL, "shape"},
        {"no_offsets", T, "data_offsets", NULL, "data_offsets"},
        // replaced by json
        {"entry_not_object", T, NULL, "5", "object"},
        {"dtype_not_string", T, "dtype", "4", "dtype"},
        {"unknown_dtype", T, "dtype", "\"Q4_K\"", "unknown dtype"},
        {"unsupported_dtype", T, "dtype", "\"I32\"", "only F32, F16 and BF16"},
        {"dtype_size_mismatch", T, "dtype", "\"F64\"", "bytes"},
        {"shape_not_array", T, "shape", "8", "shape"},
        {"shape_not_number", T, "shape", "[\"8\"]", "not a number"},
        {"shape_negative", T, "shape", "[-8]", "negative"},
        {"shape_fraction", T, "shape", "[8.5]", "not an integer"},
        {"shape_huge", T, "shape", "[4294967296, 4294967296, 4294967296]", "too large"},
        {"shape_size_mismatch", T, "shape", "[9]", "bytes"},
        {"shape_vs_config", T, "shape", "[2, 4]", "expected [8]"},
        {"offsets_not_array", T, "data_offsets", "{}", "data_offsets"},
        {"offsets_one_number", T, "data_offsets", "[0]", "data_offsets"},
        {"offsets_three_numbers", T, "data_offsets", "[0, 32, 64]", "data_offsets"},
        {"offsets_negative", T, "data_offsets", "[-32, 0]", "negative"},
        {"offsets_fraction", T, "data_offsets", "[0.5, 32.5]", "not an integer"},
        {"offsets_string", T, "data_offsets", "[\"0\", 32]", "not a number"},
        {"offsets_reversed", T, "data_offsets", "[32, 0]", "reversed"},
        {"offsets_beyond_data", T, "data_offsets", "[1000000, 1000032]", "beyond"},
        {"offsets_beyond_2^53", T, "data_offsets", "[0, 1e300]", "too large"},
        {"name_with_newline", "h.0.ln_1.weight\nx", NULL, "{\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}",
         "control characters"},
        {"dtype_with_newline", T, "dtype", "\"F\\n32\"", "unprintable"},
        {"metadata_not_object", "__metadata__", NULL, "[]", "__metadata__"},
        {"metadata_not_strings", "__metadata__", "format", "1", "__metadata__"},
        {"lm_head_shape", "lm_head.weight", NULL,
         "{\"dtype\": \"F32\", \"shape\": [8, 64], \"data_offsets\": [0, 2048]}", "untied"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        char dir[4200];
        St st = saved_for_edit(dir, sizeof dir, edits[i].name, r);
        cJSON *value = edits[i].json ? cJSON_Parse(edits[i].json) : NULL;
        if (edits[i].json && !value) die("bad test JSON %s", edits[i].json);
        if (!edits[i].key && !value) {
            cJSON_DeleteItemFromObjectCaseSensitive(st.header, edits[i].tensor);
        } else if (!edits[i].key) {
            if (cJSON_GetObjectItemCaseSensitive(st.header, edits[i].tensor))
                cJSON_ReplaceItemInObjectCaseSensitive(st.header, edits[i].tensor, value);
            else
                cJSON_AddItemToObject(st.header, edits[i].tensor, value);
        } else if (!value) {
            cJSON_DeleteItemFromObjectCaseSensitive(st_entry(&st, edits[i].tensor), edits[i].key);
        } else {
            cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, edits[i].tensor), edits[i].key, value);
        }
        edited_fails(&st, dir, edits[i].word, edits[i].name);
    }
}

// Cases that need more than one edit.
static void test_bad_layouts(const Ref *r) {
    char dir[4200];
    size_t C = (size_t)r->c.n_embd;

    // the brief's example: a weight of the wrong shape, its offsets consistent
    St st = saved_for_edit(dir, sizeof dir, "fc_shape", r);
    const char *fc = "h.1.mlp.c_fc.weight";
    uint64_t begin = st_offset(&st, fc, 0);
    cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, fc), "shape", cJSON_Parse("[8, 20]"));
    cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, fc), "data_offsets", offsets_json(begin, begin + 8 * 20 * 4));
    edited_fails(&st, dir, "h.1.mlp.c_fc.weight has shape [8, 20], expected [8, 32]", "fc_shape");

    // config.json and weights disagree
    saved_case(dir, sizeof dir, "config_mismatch", r);
    GPT2Config other = r->c;
    other.vocab_size = 63;
    write_config_json(dir, &other);
    load_fails(dir, "model.safetensors", "wte.weight has shape [64, 8], expected [63, 8]", "config_mismatch");
    saved_case(dir, sizeof dir, "config_more_layers", r);
    other = r->c;
    other.n_layer = 3;
    write_config_json(dir, &other);
    load_fails(dir, "model.safetensors", "missing tensor h.2.ln_1.weight", "config_more_layers");
    saved_case(dir, sizeof dir, "config_fewer_layers", r);
    other.n_layer = 1;
    write_config_json(dir, &other);
    load_fails(dir, "model.safetensors", "unexpected tensor \"h.1.", "config_fewer_layers");

    // two tensors on the same bytes, and a partial overlap
    st = saved_for_edit(dir, sizeof dir, "overlap_same", r);
    begin = st_offset(&st, "h.0.ln_1.weight", 0);
    cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, "h.0.ln_1.bias"), "data_offsets", offsets_json(begin, begin + C * 4));
    edited_fails(&st, dir, "overlap", "overlap_same");
    st = saved_for_edit(dir, sizeof dir, "overlap_partial", r);
    begin = st_offset(&st, "ln_f.bias", 0);
    cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, "ln_f.weight"), "data_offsets",
                                           offsets_json(begin - 4, begin - 4 + C * 4));
    edited_fails(&st, dir, "overlap", "overlap_partial");
    // an ignored buffer overlapping a weight is still an overlap
    st = saved_for_edit(dir, sizeof dir, "overlap_buffer", r);
    uint64_t scalar_shape[1] = {1};
    float zero = 0;
    st_append(&st, "h.1.attn.masked_bias", "F32", scalar_shape, 0, &zero, 4);
    cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, "h.1.attn.masked_bias"), "data_offsets", offsets_json(8, 12));
    edited_fails(&st, dir, "overlap", "overlap_buffer");

    // tensors that do not belong, each with its own valid bytes
    const struct { const char *name, *tensor, *word; } extra[] = {
        {"unexpected_name", "h.0.attn.c_attn.extra", "unexpected"},
        {"unexpected_layer", "h.2.ln_1.weight", "unexpected"},
        {"unexpected_leading_zero", "h.01.ln_1.weight", "unexpected"},
        {"unexpected_prefixed_lm_head", "transformer.lm_head.weight", "unexpected"},
        {"unexpected_other_prefix", "model.wte.weight", "unexpected"},
        {"duplicate_prefixed", "transformer.h.1.ln_2.bias", "duplicate"},
        {"duplicate_key", "h.1.ln_2.bias", "duplicate"},
        {"buffer_beyond_data", "h.0.attn.bias", "beyond"},
        {"lm_head_different", "lm_head.weight", "untied"},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        st = saved_for_edit(dir, sizeof dir, extra[i].name, r);
        int lm = strcmp(extra[i].tensor, "lm_head.weight") == 0;
        uint64_t shape[2] = {lm ? (uint64_t)r->c.vocab_size : C, C};
        float *bytes = xmalloc(shape[0] * C * 4);
        memcpy(bytes, r->w.wte, shape[0] * C * 4);
        if (lm) bytes[5 * C + 3] += 1.0f; // one element differs
        st_append(&st, extra[i].tensor, "F32", shape, lm ? 2 : 1, bytes, (lm ? shape[0] : 1) * C * 4);
        if (strcmp(extra[i].name, "buffer_beyond_data") == 0)
            cJSON_ReplaceItemInObjectCaseSensitive(st_entry(&st, extra[i].tensor), "data_offsets",
                                                   offsets_json(st.data_len, st.data_len + C * 4));
        free(bytes);
        edited_fails(&st, dir, extra[i].word, extra[i].name);
    }

    // an ignored buffer may be of any dtype safetensors defines: it is never read
    st = saved_for_edit(dir, sizeof dir, "bool_buffer", r);
    uint64_t mask_shape[4] = {1, 1, 16, 16};
    unsigned char mask[256] = {1};
    st_append(&st, "h.0.attn.bias", "BOOL", mask_shape, 4, mask, sizeof mask);
    st_write(&st, dir, 0);
    st_free(&st);
    check_loads_as(dir, r, "BOOL attn.bias buffer", 0);
    // a zero-sized tensor overlaps nothing, but a wrong name is still wrong
    st = saved_for_edit(dir, sizeof dir, "empty_unexpected", r);
    uint64_t empty_shape[1] = {0};
    st_append(&st, "h.0.attn.empty", "F32", empty_shape, 1, NULL, 0);
    edited_fails(&st, dir, "unexpected", "empty_unexpected");
}

// Files broken before the JSON: length prefix, JSON syntax, trailing bytes.
static void test_bad_files(const Ref *r) {
    char dir[4200];
    scratch_dir(dir, sizeof dir, "no_weights");
    write_config_json(dir, &r->c);
    load_fails(dir, "model.safetensors", "open", "no_weights");

    scratch_dir(dir, sizeof dir, "weights_is_dir");
    write_config_json(dir, &r->c);
    char sub[4300];
    path_in(sub, sizeof sub, dir, "model.safetensors");
    mkdir(sub, 0755);
    load_fails(dir, "model.safetensors", "regular file", "weights_is_dir");

    // broken before the tensors: `bytes` (len bytes; 0: up to its NUL) as the whole file, or
    // (prefixed) as the header after its 8-byte length
    const struct { const char *name; int prefixed; size_t len; const char *bytes, *word; } broken[] = {
        // length prefixes
        {"empty_file", 0, 0, "", "too short"},
        {"five_bytes", 0, 5, "\x10\0\0\0\0", "too short"},
        {"seven_bytes", 0, 7, "\x02\0\0\0\0\0\0", "too short"},
        {"header_len_0", 0, 12, "\0\0\0\0\0\0\0\0{}  ", "header length is 0"},
        {"header_past_end", 0, 12, "\x05\0\0\0\0\0\0\0{}  ", "exceeds"},
        {"header_absurd", 0, 12, "\0\0\0\0\0\0\0\x40{}  ", "absurdly large"},
        {"header_2^64-1", 0, 12, "\xff\xff\xff\xff\xff\xff\xff\xff{}  ", "absurdly large"},
        // JSON headers
        {"json_truncated", 1, 12, "{\"wte.weight", "not valid JSON"},
        {"json_garbage", 1, 8, "\xff\xfe\x00\001abcd", "not valid JSON"},
        {"json_array", 1, 8, "[1, 2]  ", "not a JSON object"},
        {"json_string", 1, 8, "\"abc\"   ", "not a JSON object"},
        {"json_trailing", 1, 8, "{}  x   ", "after its JSON"},
        {"json_trailing_nul", 1, 8, "{}\0\0\0\0\0\0", "after its JSON"},
        {"json_two_objects", 1, 8, "{} {}   ", "after its JSON"},
        {"json_empty_object", 1, 8, "{}      ", "missing tensor wte.weight"},
        {"json_only_metadata", 1, 0, "{\"__metadata__\": {\"format\": \"pt\"}}", "missing"},
        {"json_nested_deep", 1, 0, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "not a JSON object"},
        // a header that is exactly the rest of the file (no data) is fine as far as the length goes
        {"header_whole_file", 0, 16, "\x08\0\0\0\0\0\0\0{}      ", "missing"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        size_t n = broken[i].len ? broken[i].len : strlen(broken[i].bytes), at = broken[i].prefixed ? 8 : 0;
        unsigned char *file = xmalloc(at + n);
        for (size_t b = 0; b < at; b++) file[b] = (unsigned char)((uint64_t)n >> (8 * b));
        memcpy(file + at, broken[i].bytes, n);
        scratch_dir(dir, sizeof dir, broken[i].name);
        write_config_json(dir, &r->c);
        write_file(dir, "model.safetensors", file, at + n);
        free(file);
        load_fails(dir, "model.safetensors", broken[i].word, broken[i].name);
    }
}

// Every GPT-2 size as a sparse file (holes read as zeros, cost no disk):
// checks the 64-bit offset arithmetic on > 6 GB files and zero-copy placement.
static void test_full_sizes(void) {
    const struct { const char *name; GPT2Config c; const char *prefix; int buffers; } sizes[] = {
        {"gpt2", {12, 12, 768, 1024, 50257, 1e-5f}, "", 1},
        {"gpt2-medium", {24, 16, 1024, 1024, 50257, 1e-5f}, "", 0},
        {"gpt2-large", {36, 20, 1280, 1024, 50257, 1e-5f}, "transformer.", 0},
        {"gpt2-xl", {48, 25, 1600, 1024, 50257, 1e-5f}, "", 1},
        {"distilgpt2", {6, 12, 768, 1024, 50257, 1e-5f}, "transformer.", 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        const GPT2Config *c = &sizes[i].c;
        char dir[4200];
        scratch_dir(dir, sizeof dir, sizes[i].name);
        write_config_json(dir, c);
        St st = st_new();
        Spec s;
        uint64_t last_begin = 0;
        for (size_t t = 0; t < n_specs(c); t++) {
            spec(c, t, sizes[i].prefix, &s);
            last_begin = st.data_len;
            st_append(&st, s.name, "F32", s.shape, s.ndim, NULL, s.numel * 4);
            if (sizes[i].buffers && t >= 2 && t < n_specs(c) - 2 && (t - 2) % 12 == 0) {
                char name[96];
                uint64_t mask_shape[4] = {1, 1, 1024, 1024};
                snprintf(name, sizeof name, "%sh.%zu.attn.bias", sizes[i].prefix, (t - 2) / 12);
                st_append(&st, name, "F32", mask_shape, 4, NULL, 1024 * 1024 * 4);
            }
        }
        int written = st_write(&st, dir, 0);
        uint64_t data_len = st.data_len;
        st_free(&st);
        if (written != 0) {
            printf("skip-check: %s: this filesystem refuses a %.2f GB sparse file: %s\n", sizes[i].name,
                   (double)data_len / 1e9, strerror(errno));
            continue;
        }
        GPT2Model m;
        if (!load_ok(&m, dir, sizes[i].name)) continue;
        const char *data = (const char *)m.map + (m.map_size - data_len);
        CHECK(m.owned == NULL, "%s: copied %zu floats", sizes[i].name, m.owned_floats);
        CHECK((const char *)m.w.ln_f_b == data + last_begin, "%s: ln_f.bias at %td, expected %" PRIu64,
              sizes[i].name, (const char *)m.w.ln_f_b - data, last_begin);
        CHECK(m.w.blocks[c->n_layer - 1].fc_proj_b != NULL && m.config.n_layer == c->n_layer, "%s: blocks",
              sizes[i].name);
        printf("ok   %-34s %zu params, %.2f GB file, ln_f.bias at byte %" PRIu64 "\n", sizes[i].name,
               gpt2_num_params(&m.config), (double)m.map_size / 1e9, last_begin);
        gpt2_free(&m);
        char path[4300];
        path_in(path, sizeof path, dir, "model.safetensors");
        unlink(path);
    }
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0); // "ok" lines and FAIL lines in order in one log
    make_root();
    gpt2_free(NULL);
    GPT2Model zero = {0};
    gpt2_free(&zero); // freeing an empty model is harmless

    Ref r;
    ref_init(&r, TINY);
    test_num_params_and_pointers();
    test_config();
    test_roundtrip(&r);
    test_save_errors(&r);
    test_variants(&r);
    test_known_halves();
    test_bad_entries(&r);
    test_bad_layouts(&r);
    test_bad_files(&r);
    test_full_sizes();
    ref_free(&r);

    return test_finish();
}
