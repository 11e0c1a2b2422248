/*
 * model/gpt2_cli_generate.c: `gpt2 generate`, the sampler: a continuation of
 * a prompt, one token at a time through the KV cache, with temperature and
 * top-k.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

static const char USAGE_GENERATE[] =
    "usage: gpt2 generate --model DIR [options] [PROMPT | - | --file F]\n"
    "\n"
    "Encodes <|endoftext|> followed by the prompt (an empty or missing prompt\n"
    "starts from <|endoftext|> alone), runs it once through the model storing\n"
    "the KV cache, then samples one token at a time, streaming the decoded\n"
    "continuation (not the prompt) to stdout, followed by a newline. Stops at\n"
    "<|endoftext|>, after --max-tokens tokens, or when the context is full.\n"
    "The same seed gives the same text.\n"
    "\n"
    "  --model DIR         checkpoint directory\n"
    "  --seed S            random seed (unsigned 64-bit integer, default 1)\n"
    "  --temperature T     softmax temperature (default 1.0; 0 = greedy argmax)\n"
    "  --top-k K           sample among the K most likely tokens (default 40; 0 = all)\n"
    "  --max-tokens N      at most N new tokens (default 64)\n"
    "  --file F            read the prompt from file F ('-' = standard input)\n"
    "  --verbose           print the timing (tokens/s) on stderr\n";

typedef struct {
    const char *model_dir;
    TextSource prompt;
    uint64_t seed;
    float temperature;
    int top_k, max_tokens, verbose;
} GenerateOptions;

static const char *const GENERATE_FLAGS[] = {"--verbose", NULL};
static const char *const GENERATE_VALUE_OPTIONS[] = {
    "--model", "--file", "--seed", "--temperature", "--top-k", "--max-tokens", NULL,
};

static int parse_generate(int argc, char **argv, GenerateOptions *o) {
    const char *cmd = "generate";
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->temperature = 1.0f;
    o->top_k = 40;
    o->max_tokens = 64;
    OptionSpec spec = {cmd, USAGE_GENERATE, GENERATE_FLAGS, GENERATE_VALUE_OPTIONS, 1, 0};
    for (int i = 0; i < argc; i++) {
        const char *a, *v;
        int st = next_option(&spec, argc, argv, &i, &a, &v);
        if (st != ST_OK) return st;
        if (!a) st = v ? set_text_source(cmd, &o->prompt, v, NULL) : ST_OK;
        else if (strcmp(a, "--verbose") == 0) o->verbose = 1;
        else if (strcmp(a, "--model") == 0) o->model_dir = v;
        else if (strcmp(a, "--file") == 0) st = set_text_source(cmd, &o->prompt, NULL, v);
        else if (strcmp(a, "--seed") == 0) st = parse_u64(cmd, a, v, &o->seed);
        else if (strcmp(a, "--temperature") == 0) st = parse_float(cmd, a, v, 0.0, 1e6, &o->temperature);
        else if (strcmp(a, "--top-k") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->top_k);
        else if (strcmp(a, "--max-tokens") == 0) st = parse_int(cmd, a, v, 0, INT32_MAX, &o->max_tokens);
        if (st != ST_OK) return st;
    }
    if (!o->model_dir) return usage_error(cmd, "missing --model");
    return ST_OK;
}

typedef struct {
    float logit;
    int id;
} Candidate;

static void swap_candidates(Candidate *a, Candidate *b) {
    Candidate t = *a;
    *a = *b;
    *b = t;
}

static float median_of_three(float a, float b, float c) {
    if (a > b) { float t = a; a = b; b = t; }
    if (b > c) b = c;
    return a > b ? a : b;
}

// Moves the k largest logits into c[0..k) (in no particular order):
// quickselect with a three-way partition, so that runs of equal logits (a
// degenerate model) cost one pass instead of quadratic time.
static void select_top_k(Candidate *c, int n, int k) {
    int lo = 0, hi = n;  // invariant: c[0..lo) >= c[lo..hi) >= c[hi..n), lo <= k <= hi
    while (hi - lo > 1 && k > lo && k < hi) {
        float pivot = median_of_three(c[lo].logit, c[lo + (hi - lo) / 2].logit, c[hi - 1].logit);
        int gt = lo, i = lo, lt = hi;   // [lo,gt) > pivot, [gt,lt) == pivot, [lt,hi) < pivot
        while (i < lt) {
            if (c[i].logit > pivot) swap_candidates(&c[gt++], &c[i++]);
            else if (c[i].logit < pivot) swap_candidates(&c[i], &c[--lt]);
            else i++;
        }
        if (k <= gt) hi = gt;
        else if (k <= lt) return;   // the boundary falls among equals: done
        else lo = lt;
    }
}

static int argmax_token(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

// One token from softmax(logits / temperature) restricted to the top_k most
// likely (0 = all), or the argmax at temperature 0. NaN logits count as -inf.
static int sample_token(const float *logits, int n, float temperature, int top_k, Candidate *cands, Rng *rng) {
    if (temperature == 0.0f) return argmax_token(logits, n);
    for (int i = 0; i < n; i++) {
        cands[i].logit = isnan(logits[i]) ? -INFINITY : logits[i];
        cands[i].id = i;
    }
    int k = (top_k == 0 || top_k > n) ? n : top_k;
    if (k < n) select_top_k(cands, n, k);
    float max = cands[0].logit;
    for (int i = 1; i < k; i++)
        if (cands[i].logit > max) max = cands[i].logit;
    if (max == -INFINITY) return cands[0].id;   // nothing to weigh
    double total = 0.0;
    for (int i = 0; i < k; i++) total += exp(((double)cands[i].logit - max) / temperature);
    double target = rng_uniform(rng) * total, acc = 0.0;
    for (int i = 0; i < k; i++) {
        acc += exp(((double)cands[i].logit - max) / temperature);
        if (target < acc) return cands[i].id;
    }
    return cands[k - 1].id;   // rounding left target at the very top
}

// Streams one token's bytes. They are written raw and flushed: a character
// split across tokens arrives whole in the byte stream, which is what a
// terminal or a pipe reads.
static void emit_token(const GPT2Tokenizer *tok, int id) {
    size_t len = 0;
    const char *bytes = tokenizer_token_bytes(tok, id, &len);
    if (bytes) fwrite(bytes, 1, len, stdout);
    fflush(stdout);
}

int cmd_generate(int argc, char **argv) {
    GenerateOptions o;
    int st = parse_generate(argc, argv, &o);
    if (st != ST_OK) return st;

    Err err = {{0}};
    Session s;
    char *text = NULL;
    size_t text_len = 0;
    int *prompt_ids = NULL, *seq = NULL, n_prompt = 0;
    Candidate *cands = NULL;
    int rc = -1;
    if (session_open(&s, o.model_dir, 1, &err) != 0) goto done;
    const GPT2Config *c = &s.model.config;
    if (read_text(&o.prompt, &text, &text_len, &err) != 0) goto done;
    if (encode_text(&s, text, text_len, &prompt_ids, &n_prompt, &err) != 0) goto done;
    if (check_ids_in_vocab(&eot, 1, c->vocab_size, &err) != 0) goto done;
    if (check_ids_in_vocab(prompt_ids, n_prompt, c->vocab_size, &err) != 0) goto done;
    int n0 = n_prompt + 1;   // <|endoftext|> + prompt
    if (n0 > c->n_positions) {
        err_fail(&err, "the prompt is %d tokens: with <|endoftext|> it exceeds the model's context of %d positions",
                  n_prompt, c->n_positions);
        goto done;
    }
    // sampling never picks an id that the tokenizer cannot print (a padded V)
    int tok_V = tokenizer_vocab_size(s.tok);
    int n_vocab = c->vocab_size < tok_V ? c->vocab_size : tok_V;
    // positions that will ever be fed: the prompt and all but the last new token
    long want = (long)n0 + (o.max_tokens > 0 ? o.max_tokens - 1 : 0);
    int kv_len = want < c->n_positions ? (int)want : c->n_positions;

    seq = malloc(sizeof(int) * (size_t)n0);
    cands = malloc(sizeof(Candidate) * (size_t)n_vocab);
    if (!seq || !cands) { err_fail(&err, "out of memory"); goto done; }
    seq[0] = GPT2_EOT;
    memcpy(seq + 1, prompt_ids, sizeof(int) * (size_t)n_prompt);
    if (session_alloc(&s, kv_len, n0, kv_len, 1, &err) != 0) goto done;

    // the prompt, once, filling the cache; only its last position's logits
    const int row = 0, last = n0 - 1, first = 0;
    double t0 = util_now();
    GPT2Batch prompt = {
        .B = 1, .T = n0, .ids = seq, .store = &s.kv, .store_rows = &row, .out_pos = &last, .n_out = 1,
    };
    if (gpt2_forward(&s.model, &s.acts, &prompt, &err) != 0) goto done;
    double t1 = util_now();

    // then one token at a time, each continuing and extending cache row 0
    Rng rng;
    rng_seed(&rng, o.seed);
    int pos = n0, generated = 0;
    while (generated < o.max_tokens) {
        int next = sample_token(s.acts.logits, n_vocab, o.temperature, o.top_k, cands, &rng);
        if (next == GPT2_EOT) break;
        emit_token(s.tok, next);
        generated++;
        if (generated == o.max_tokens || pos >= kv_len) break;
        GPT2Batch step = {
            .B = 1, .T = 1, .ids = &next, .prefix = &s.kv, .prefix_rows = &row,
            .store = &s.kv, .store_rows = &row, .out_pos = &first, .n_out = 1,
        };
        if (gpt2_forward(&s.model, &s.acts, &step, &err) != 0) {
            fputc('\n', stdout);
            goto done;
        }
        pos++;
    }
    fputc('\n', stdout);
    fflush(stdout);
    double t2 = util_now();
    if (o.verbose) {
        fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tokens/s)\n", n0, t1 - t0, n0 / (t1 - t0));
        fprintf(stderr, "generated: %d tokens in %.3f s (%.1f tokens/s)\n", generated, t2 - t1,
                generated / (t2 - t1));
    }
    rc = 0;
done:
    free(text);
    free(prompt_ids);
    free(seq);
    free(cands);
    session_close(&s);
    return rc == 0 ? ST_OK : runtime_error(&err);
}
