/*
 * tests/testlib.h: what the C unit tests share: the CHECK macro and its
 * counters, die() for a broken test setup (not a failed check), a scratch
 * directory under $TMP (tests/run.sh gives each test its own), $TMPDIR or
 * /tmp, with helpers for files in it, and test_finish() for the end of main;
 * close_to for numbers, a small xorshift generator for test data, and
 * central differences. Define TEST_NAME before including it. For tests that
 * include model/gpt2.h first: model_on_params, an in-memory GPT-2 over
 * parameters the test filled; with tuners/tuners.h too: random_model, the same
 * filled from the tuners' seeded Rng, made_up_split (an encoded split without
 * a tokenizer), and the SST-2 setup of the tuners' smoke runs (load_sst2,
 * sst2_point, sst2_context, sst2_free).
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TEST_NAME
#error "define TEST_NAME before including tests/testlib.h"
#endif

static int checks, failures;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        checks++;                                                                     \
        if (!(cond)) {                                                                \
            failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

// Test infrastructure failing (not the code under test): stop here.
__attribute__((noreturn, format(printf, 1, 2), unused)) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, TEST_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

__attribute__((unused)) static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

// |a - b| within tol relative to 1 + |b| (so tol is absolute near 0)
__attribute__((unused)) static int close_to(double a, double b, double tol) {
    return fabs(a - b) <= tol * (1.0 + fabs(b));
}

// ----------------------------------------------------------------------------
// the scratch directory and files in it

static char root[4096];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

// Removes path and everything below it (links are removed, never followed); 0, or -1.
__attribute__((unused)) static int remove_tree(const char *path) {
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

__attribute__((unused)) static void make_root(void) {
    const char *tmp = getenv("TMP");
    if (!tmp || !*tmp) tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(root, sizeof root, "%s/" TEST_NAME ".XXXXXX", tmp);
    if (!mkdtemp(root)) die("mkdtemp %s: %s", root, strerror(errno));
}

__attribute__((unused)) static void remove_root(void) {
    if (root[0]) remove_tree(root);
    root[0] = '\0';
}

// dir/name into out (cap bytes); dies when it does not fit.
__attribute__((unused)) static void path_in(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) die("path too long: %s/%s", dir, name);
}

// A fresh directory root/name; its path in dir (cap bytes).
__attribute__((unused)) static void scratch_dir(char *dir, size_t cap, const char *name) {
    path_in(dir, cap, root, name);
    if (mkdir(dir, 0755) != 0) die("mkdir %s: %s", dir, strerror(errno));
}

// dir/name holding the n bytes at bytes (replaced if it exists).
__attribute__((unused)) static void write_file(const char *dir, const char *name, const void *bytes, size_t n) {
    char path[4300];
    path_in(path, sizeof path, dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(bytes, 1, n, f) != n) || fclose(f) != 0) die("cannot write %s", path);
}

__attribute__((unused)) static void write_text(const char *dir, const char *name, const char *text) {
    write_file(dir, name, text, strlen(text));
}

/* Runs test(dir) in a fresh scratch directory root/name and removes it
 * afterwards, so that a test's files are gone before the next one starts. */
__attribute__((unused)) static void in_scratch_dir(const char *name, void (*test)(const char *dir)) {
    char dir[4200];
    scratch_dir(dir, sizeof dir, name);
    test(dir);
    if (remove_tree(dir) != 0) die("cannot remove %s: %s", dir, strerror(errno));
}

/* The end of main: removes the scratch directory, prints the count of checks
 * and failures, and returns main's exit status (1 when a check failed). */
__attribute__((unused)) static int test_finish(void) {
    remove_root();
    printf(TEST_NAME ": %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}

// ----------------------------------------------------------------------------
// test data and numerical derivatives

/* xorshift64 (shifts 13, 7, 17) of the test's own state: a tiny generator for
 * test inputs whose values need not match anything outside the test. */
__attribute__((unused)) static uint64_t xorshift64(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The sum of 4 uniforms in [-0.5, 0.5) from xorshift64: roughly normal, mean 0,
 * variance 1/3; enough for test weights. */
__attribute__((unused)) static float sum_of_uniforms(uint64_t *state) {
    float s = 0.0f;
    for (int i = 0; i < 4; i++) s += (float)(xorshift64(state) >> 40) / 16777216.0f - 0.5f;
    return s;
}

/* d f / d x[i] by central differences with step h, where f(ctx) reads x:
 * (f at x[i] + h - f at x[i] - h) / 2h. x[i] is left as it was. */
__attribute__((unused)) static double central_difference(double (*f)(const void *ctx), const void *ctx, double *x,
                                                         size_t i, double h) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = f(ctx);
    x[i] = keep - h;
    const double down = f(ctx);
    x[i] = keep;
    return (up - down) / (2 * h);
}

// ----------------------------------------------------------------------------
// tiny random GPT-2 models in memory (no checkpoint file involved)

#ifdef GPT2_H
/* m becomes a model of config c over params (gpt2_num_params(&c) floats the
 * caller filled and keeps), its layer-norm gains shifted by 1 so that they
 * sit around 1. Free params and m->blocks_storage. */
__attribute__((unused)) static void model_on_params(GPT2Model *m, GPT2Config c, float *params) {
    memset(m, 0, sizeof *m);
    m->config = c;
    m->blocks_storage = xmalloc((size_t)c.n_layer * sizeof(GPT2Block));
    gpt2_point_weights(&m->w, m->blocks_storage, params, &c);
    for (int l = 0; l < c.n_layer; l++)
        for (int i = 0; i < c.n_embd; i++) { m->w.blocks[l].ln_1_w[i] += 1.0f; m->w.blocks[l].ln_2_w[i] += 1.0f; }
    for (int i = 0; i < c.n_embd; i++) m->w.ln_f_w[i] += 1.0f;
}
#endif

#ifdef TUNERS_H
/* A random model of config c: weights N(0, std^2) from Rng seeded with seed,
 * layer-norm gains around 1. Returns the parameters: free them and
 * m->blocks_storage. */
__attribute__((unused)) static float *random_model(GPT2Model *m, GPT2Config c, double std, uint64_t seed) {
    size_t n = gpt2_num_params(&c);
    float *params = xmalloc(n * sizeof(float));
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) params[i] = (float)(std * rng_normal(&rng));
    model_on_params(m, c, params);
    return params;
}

/* p: a point made in memory (no files) of `method`, lambda and form, L prompt tokens, K
 * classes, seed 1; its method's settings are the caller's. */
__attribute__((unused)) static void memory_point(TunePoint *p, Method method, double lambda, Objective form, int L,
                                                 int K) {
    memset(p, 0, sizeof *p);
    p->method = method;
    p->lambda = lambda;
    p->objective = form;
    p->prompt_length = L;
    p->n_classes = K;
    p->seed = 1;
}

/* A split made up without a tokenizer: n examples with pre tokens of length
 * pre (0: the prompt first) and 2..5 post tokens, ids in [1000, 3000) from
 * Rng seeded with seed, labels alternating 0, 1. No sentence positions
 * (sent_off NULL): not for result_finish. Free with encoded_split_free. */
__attribute__((unused)) static void made_up_split(EncodedSplit *e, int n, int pre, uint64_t seed) {
    memset(e, 0, sizeof *e);
    int per = pre + 5;
    int *mem = xmalloc((size_t)(5 * n + n * per) * sizeof(int));
    e->storage = mem;
    e->n = n;
    e->pre_off = mem; e->pre_len = mem + n; e->post_off = mem + 2 * n; e->post_len = mem + 3 * n;
    e->label = mem + 4 * n;
    e->ids = mem + 5 * n;
    Rng rng;
    rng_seed(&rng, seed);
    int used = 0;
    for (int i = 0; i < n; i++) {
        e->pre_off[i] = used;
        e->pre_len[i] = pre;
        for (int t = 0; t < pre; t++) e->ids[used++] = 1000 + rng_below(&rng, 2000);
        e->post_off[i] = used;
        e->post_len[i] = 2 + rng_below(&rng, 4);
        for (int t = 0; t < e->post_len[i]; t++) e->ids[used++] = 1000 + rng_below(&rng, 2000);
        e->label[i] = i % 2;
        if (e->pre_len[i] > e->max_pre) e->max_pre = e->pre_len[i];
        if (e->post_len[i] > e->max_post) e->max_post = e->post_len[i];
    }
}

// ----------------------------------------------------------------------------
// an SST-2 run of a tuner (the smoke tests): the data, the point, the context

/* The GPT-2 tokenizer ($TOKENIZER_DIR, default models/gpt2-tokenizer) and
 * the SST-2 16-shot split `seed` ($SHARED, default ../shared:
 * data/fewshot/sst-2/SEED/{train,dev}.tsv): 0, or 77 after a "skip:" line
 * when either is missing. */
__attribute__((unused)) static int load_sst2(GPT2Tokenizer **tok, Split *train, Split *dev, const char *seed,
                                             Err *err) {
    const char *tok_dir = getenv("TOKENIZER_DIR"), *shared = getenv("SHARED");
    if (!tok_dir) tok_dir = "models/gpt2-tokenizer";
    if (!shared) shared = "../shared";
    char train_path[TUNE_PATH], dev_path[TUNE_PATH];
    snprintf(train_path, sizeof train_path, "%s/data/fewshot/sst-2/%s/train.tsv", shared, seed);
    snprintf(dev_path, sizeof dev_path, "%s/data/fewshot/sst-2/%s/dev.tsv", shared, seed);
    if (tokenizer_load(tok, tok_dir, err)) { printf("skip: no tokenizer (%s)\n", err->msg); return 77; }
    if (split_load(train, train_path, 2, err) || split_load(dev, dev_path, 2, err)) {
        printf("skip: no SST-2 16-shot data (%s)\n", err->msg);
        return 77;
    }
    return 0;
}

/* p: a point of `method` on sst-2 (lambda 0.1, additive, " terrible" /
 * " great", 128 tokens); the method's settings are the caller's. */
__attribute__((unused)) static void sst2_point(TunePoint *p, Method method, int prompt_length,
                                               const char *template_text) {
    p->method = method;
    strcpy(p->task, "sst-2");
    p->lambda = 0.1;
    p->objective = OBJECTIVE_ADDITIVE;
    p->prompt_length = prompt_length;
    snprintf(p->template_text, sizeof p->template_text, "%s", template_text);
    p->n_classes = 2;
    strcpy(p->verbalizers[0], " terrible");
    strcpy(p->verbalizers[1], " great");
    p->max_tokens = 128;
}

/* ctx for point p on model m (also the scorer's and the policy's): the label
 * ids, train encoded, dev encoded as dev and as test, an evaluator (64 rows,
 * max_T positions) with the three cached. 0, or 1 with err set. */
__attribute__((unused)) static int sst2_context(TuneContext *ctx, const TunePoint *p, GPT2Model *m, GPT2Tokenizer *tok,
                                                const Split *train, const Split *dev, int max_T, Err *err) {
    ctx->point = p;
    ctx->model = ctx->scorer_model = ctx->policy_model = m;
    ctx->tok = tok;
    ctx->n_classes = 2;
    const char *verb[2] = {p->verbalizers[0], p->verbalizers[1]};
    if (verbalizer_ids(tok, verb, 2, ctx->label_ids, err)) return 1;
    if (encode_split(&ctx->train, train, p->template_text, tok, p->max_tokens, err) ||
        encode_split(&ctx->dev, dev, p->template_text, tok, p->max_tokens, err) ||
        encode_split(&ctx->test, dev, p->template_text, tok, p->max_tokens, err))
        return 1;
    if (evaluator_new(&ctx->eval, m, ctx->label_ids, 2, 64, max_T, err) ||
        evaluator_cache(ctx->eval, &ctx->train, err) || evaluator_cache(ctx->eval, &ctx->dev, err) ||
        evaluator_cache(ctx->eval, &ctx->test, err))
        return 1;
    return 0;
}

/* Frees what load_sst2 and sst2_context made, and ctx's scorer and dictionary. */
__attribute__((unused)) static void sst2_free(TuneContext *ctx, GPT2Tokenizer *tok, Split *train, Split *dev) {
    tune_context_free(ctx);
    split_free(train);
    split_free(dev);
    tokenizer_free(tok);
}
#endif

// ----------------------------------------------------------------------------
// the tuners' unit tests (test_pez, test_rlprompt): a progress callback and
// the end of main

__attribute__((unused)) static int progress_lines = 0;

/* A TuneContext progress callback: counts the lines of steps ("... step 10/20 ...") and prints
 * every line indented (others: the batch sizes, result_finish's evaluation times). */
__attribute__((unused)) static void count_progress(void *user, const char *line) {
    (void)user;
    if (strstr(line, " step ")) progress_lines++;
    printf("  %s\n", line);
}

/* The exit status of main after every check, its last part having returned
 * part (77: skipped for want of files): 1 after a failed check ("NAME:
 * FAILED (n)"), 77 (the line "NAME: " skipped_note), else 0 ("NAME: ok"). */
__attribute__((unused)) static int test_exit(int part, const char *skipped_note) {
    if (failures) {
        printf(TEST_NAME ": FAILED (%d)\n", failures);
        return 1;
    }
    if (part == 77) {
        printf(TEST_NAME ": %s\n", skipped_note);
        return 77;
    }
    printf(TEST_NAME ": ok\n");
    return 0;
}

#endif
