/*
 * bench/bench_pez_step.c: a real PEZ step at the GPT-2 124M shape (issue 14's targets), its
 * code paths side by side in one run, and the single-number probes bench/bench_pez.sh runs in
 * one and in two processes at once.
 *
 *   bench_pez_step --model DIR --data DIR [--split 16-42] [--dictionary F] [--B 16] [--L 8]
 *                  [--lambda 0.1] [--iters 3]
 *       the step (B examples of DIR/SPLIT/train.tsv through the tuners' data path: split_load,
 *       encode_split with the point's PEZ template, pez_state_alloc, pez_step) by every path
 *       this build has, each iteration on the same batch for all paths, in turn:
 *         - padded: today's layout, emulated through the public model API: every row of the
 *           batch (the log-PPL row too) given all T positions of the batch's longest, so the
 *           padding is computed as real positions; pez_project and pez_update as pez_step's;
 *         - pez_step: the normal call (packed rows once the model computes only real positions;
 *           micro-batches under the point's default activation budget once points have one);
 *         - pez_step with "activation_mb": "none" (one batch), when points know the key;
 *         - pez_step in bf16, when the model has gpt2_set_precision (BENCH_HAVE_PRECISION, set
 *           by the Makefile from model/gpt2.h) and the CPU runs it.
 *       Prints each path's median step time and its ratio to the padded one (per iteration,
 *       from neighbouring measurements, then the median), the GEMM FLOPs of the step counted
 *       analytically (block projections, LM head of the log-PPL row, the projection onto the
 *       vocabulary; attention is loops here, counted apart) divided by the step time, as a
 *       share of this core's peak measured by a register-only FMA kernel, the same GEMMs
 *       replayed alone through cblas_sgemm (the GEMM phases' own rate and their share of the
 *       step), the padding share computed before and after, and minor page faults per step.
 *   bench_pez_step --probe fma|stream|sgemm [--seconds S] | --probe step [--iters N] (with the options above)
 *       one line "probe NAME CPU_RATE WALL_RATE UNIT ...", the rate per CPU second (the time the
 *       process ran) and per wall second: what bench_pez.sh compares alone and two at once.
 *   bench_pez_step --memory [--measured-mb MB] (with the options above): the private memory of
 *       a PEZ rank as tune lays it out, estimated from gpt2_acts_bytes and the buffer sizes, at
 *       the model's shape and at the 1.5B shape (48 layers, C 1600, 25 heads); with a rank's
 *       measured private memory at this model, the share of the layout that was resident,
 *       carried over to the 1.5B figure.
 *   bench_pez_step --known FILE: the file's known-digest line (gpt2_file_sha256_known), what a
 *       sweep hands each tune in TUNE_KNOWN_SHA256.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <immintrin.h>

#include "bench/bench.h"
#include "model/gpt2.h"
#include "tuners/pez_internal.h"
#include "tuners/tuners.h"

#define MAX_ITERS 64
#define MAX_B 1024   // examples per step

static void die(const char *what, const Err *err) {
    fprintf(stderr, "bench_pez_step: %s: %s\n", what, err ? err->msg : "out of memory");
    exit(1);
}

// ----------------------------------------------------------------------------
// this core's peak: register-only FMA (f32) and bf16 dot-product kernels

/* 24 independent accumulators: enough to cover the latency of both units (bf16 dot products
 * on this CPU need more than 12). Kept in registers (32 zmm). */
#define PEAK_ACCS 24

/* GFLOP/s of a loop of independent FMAs on registers for about `seconds`, per CPU second (the
 * time this process ran: other processes on a shared core do not count). */
static double peak_f32(double seconds) {
    long iters = 0;
    double t0 = util_now(), c0 = util_cpu_seconds();
#if defined(__AVX512F__)
    typedef __m512 Vec;
    const double flops = PEAK_ACCS * 16 * 2;
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__FMA__)
    typedef __m256 Vec;
    const double flops = PEAK_ACCS * 8 * 2;
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define SUM(v) ((v)[0])
#else
    typedef float Vec;
    const double flops = PEAK_ACCS * 2;
#define SET1(x) (x)
#define FMA(x, m, a) ((x) * (m) + (a))
#define SUM(v) (v)
#endif
    Vec acc[PEAK_ACCS];
    const Vec mul = SET1(0.999999f), add = SET1(1e-6f);
    for (int k = 0; k < PEAK_ACCS; k++) acc[k] = SET1(1.0f);
    do {
        for (int i = 0; i < 1 << 19; i++) {
#pragma GCC unroll 24
            for (int k = 0; k < PEAK_ACCS; k++) acc[k] = FMA(acc[k], mul, add);
        }
        iters += 1 << 19;
    } while (util_now() - t0 < seconds);
    double cpu = util_cpu_seconds() - c0;
    float sum = 0;
    for (int k = 0; k < PEAK_ACCS; k++) sum += SUM(acc[k]);
    volatile float sink = sum;
    (void)sink;
#undef SET1
#undef FMA
#undef SUM
    return iters * flops / cpu / 1e9;
}

/* The same with bf16 dot products into f32 (vdpbf16ps: 32 multiply-adds an instruction); 0
 * when this build has no avx512_bf16. */
static double peak_bf16(double seconds) {
#if defined(__AVX512BF16__)
    long iters = 0;
    double t0 = util_now(), c0 = util_cpu_seconds();
    __m512 acc[PEAK_ACCS];
    for (int k = 0; k < PEAK_ACCS; k++) acc[k] = _mm512_setzero_ps();
    const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    do {
        for (int i = 0; i < 1 << 19; i++) {
#pragma GCC unroll 24
            for (int k = 0; k < PEAK_ACCS; k++) acc[k] = _mm512_dpbf16_ps(acc[k], x, x);
        }
        iters += 1 << 19;
    } while (util_now() - t0 < seconds);
    double cpu = util_cpu_seconds() - c0;
    float sum = 0;
    for (int k = 0; k < PEAK_ACCS; k++) sum += _mm512_reduce_add_ps(acc[k]);
    volatile float sink = sum;
    (void)sink;
    return iters * PEAK_ACCS * 64.0 / cpu / 1e9;
#else
    (void)seconds;
    return 0;
#endif
}

// ----------------------------------------------------------------------------
// options and the run's inputs, loaded once through the tuners' own code

typedef struct {
    const char *model, *data, *split, *dictionary, *probe, *known;
    int B, L, iters, memory;
    double lambda, seconds, measured_mb;
} Options;

static int parse_options(Options *o, int argc, char **argv) {
    *o = (Options){.split = "16-42", .dictionary = "/usr/share/dict/words", .B = 16, .L = 8, .iters = 3,
                   .lambda = 0.1, .seconds = 2.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            printf("usage: bench_pez_step --model DIR --data DIR [--split 16-42] [--dictionary F] [--B 16]\n"
                   "       [--L 8] [--lambda 0.1] [--iters 3] [--probe fma|stream|sgemm|step [--seconds 2]]\n"
                   "       [--memory [--measured-mb MB]]   |   bench_pez_step --known FILE\n");
            exit(0);
        }
        if (!strcmp(a, "--memory")) { o->memory = 1; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "bench_pez_step: %s needs a value\n", a); return 2; }
        const char *v = argv[++i];
        if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--split")) o->split = v;
        else if (!strcmp(a, "--dictionary")) o->dictionary = v;
        else if (!strcmp(a, "--probe")) o->probe = v;
        else if (!strcmp(a, "--known")) o->known = v;
        else if (!strcmp(a, "--B")) o->B = atoi(v);
        else if (!strcmp(a, "--L")) o->L = atoi(v);
        else if (!strcmp(a, "--iters")) o->iters = atoi(v);
        else if (!strcmp(a, "--lambda")) o->lambda = atof(v);
        else if (!strcmp(a, "--seconds")) o->seconds = atof(v);
        else if (!strcmp(a, "--measured-mb")) o->measured_mb = atof(v);
        else { fprintf(stderr, "bench_pez_step: unknown option %s\n", a); return 2; }
    }
    if (o->B < 1 || o->B > MAX_B) { fprintf(stderr, "bench_pez_step: --B is 1..%d\n", MAX_B); return 2; }
    if (o->iters < 1) o->iters = 1;
    if (o->iters > MAX_ITERS) o->iters = MAX_ITERS;
    int needs_run = !o->known && (!o->probe || !strcmp(o->probe, "step"));
    if (needs_run && (!o->model || !o->data)) {
        fprintf(stderr, "bench_pez_step: --model and --data are needed\n");
        return 2;
    }
    return -1;
}

/* What the steps work with: the point, the model, the train split encoded with its template. */
typedef struct {
    TunePoint point;
    GPT2Model model;
    GPT2Tokenizer *tok;
    TuneContext ctx;   // point, model, tokenizer, label ids, train; no evaluator, scorer or dictionary
} Inputs;

/* The point of the options with `extra` keys (e.g. ,"activation_mb":"none"); -1 when
 * point_parse refuses it (a key this build does not know: err says so). */
static int parse_point(TunePoint *p, const Options *o, const char *extra, Err *err) {
    char json[4 * TUNE_PATH];
    snprintf(json, sizeof json,
             "{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"%s\",\"data_dir\":\"%s\",\"split\":\"%s\","
             "\"dictionary\":\"%s\",\"prompt_length\":%d,\"lambda\":%.17g,\"seed\":1,\"pez\":{\"batch\":%d}%s}",
             o->model, o->data, o->split, o->dictionary, o->L, o->lambda, o->B, extra);
    return point_parse(p, json, err);
}

static int load_split(EncodedSplit *e, const char *path, const TunePoint *p, GPT2Tokenizer *tok, Err *err) {
    Split s;
    if (split_load(&s, path, p->n_classes, err)) return -1;
    int rc = encode_split(e, &s, p->template_text, tok, p->max_tokens, err);
    split_free(&s);
    return rc;
}

static void inputs_load(Inputs *in, const Options *o) {
    memset(in, 0, sizeof *in);
    Err err;
    if (parse_point(&in->point, o, "", &err)) die("the point", &err);
    const TunePoint *p = &in->point;
    if (gpt2_load(&in->model, p->model_dir, &err)) die("the model", &err);
    if (tokenizer_load(&in->tok, p->model_dir, &err)) die("the tokenizer", &err);
    TuneContext *c = &in->ctx;
    c->point = p;
    c->model = c->scorer_model = c->policy_model = &in->model;
    c->tok = in->tok;
    c->n_classes = p->n_classes;
    const char *verbalizers[TUNE_MAX_CLASSES];
    for (int k = 0; k < p->n_classes; k++) verbalizers[k] = p->verbalizers[k];
    if (verbalizer_ids(in->tok, verbalizers, p->n_classes, c->label_ids, &err)) die("the verbalizers", &err);
    if (load_split(&c->train, p->train_path, p, in->tok, &err)) die("train", &err);
}

static void inputs_free(Inputs *in) {
    encoded_split_free(&in->ctx.train);
    tokenizer_free(in->tok);
    gpt2_free(&in->model);
    point_free(&in->point);
}

/* A PEZ state on ctx with its prompt initialised as pez_run does (class-name tokens). */
static void state_new(PezState *s, const TuneContext *ctx) {
    Err err;
    if (pez_state_alloc(s, ctx, &err)) die("pez_state_alloc", &err);
    Rng rng;
    rng_seed(&rng, 1);
    pez_init_ids(s->ids, s->L, ctx->label_ids, s->K, 0, s->allowed, s->V, &rng);
    pez_embed(s->P, s->ids, s->model->w.wte, s->L, s->C);
}

// ----------------------------------------------------------------------------
// today's layout, emulated: every row of the batch computed to the longest

typedef struct {
    GPT2Acts acts;
    int *ids, *label_pos, *out_pos, *targets, *labels;
    float *d_input, *dlabel, *dlogits;
} Padded;

static void padded_new(Padded *pd, const PezState *s) {
    int R = s->B + 1, T = s->max_T, L = s->L;
    Err err;
    if (gpt2_acts_alloc(&pd->acts, &s->model->config, R, T, T, L > s->B ? L : s->B, 1, &err))
        die("padded activations", &err);
    pd->ids = calloc((size_t)R * T, sizeof(int));
    pd->label_pos = malloc(sizeof(int) * R);
    pd->labels = malloc(sizeof(int) * R);
    pd->out_pos = malloc(sizeof(int) * L);
    pd->targets = malloc(sizeof(int) * L);
    pd->d_input = malloc(sizeof(float) * R * T * s->C);
    pd->dlabel = malloc(sizeof(float) * R * s->K);
    pd->dlogits = malloc(sizeof(float) * L * s->V);
    if (!pd->ids || !pd->label_pos || !pd->labels || !pd->out_pos || !pd->targets || !pd->d_input ||
        !pd->dlabel || !pd->dlogits)
        die("padded buffers", NULL);
}

static void padded_free(Padded *pd) {
    gpt2_acts_free(&pd->acts);
    free(pd->ids); free(pd->label_pos); free(pd->labels); free(pd->out_pos); free(pd->targets);
    free(pd->d_input); free(pd->dlabel); free(pd->dlogits);
}

/* Width of the batch: the longest row (the log-PPL row holds L positions). */
static int batch_width(const PezState *s, const EncodedSplit *sp, const int *ex) {
    int T = s->w_interp != 0.0 ? s->L : 0;
    for (int b = 0; b < s->B; b++) {
        int len = sp->pre_len[ex[b]] + s->L + sp->post_len[ex[b]];
        if (len > T) T = len;
    }
    return T;
}

/* pez_loss_and_grad's objective and gradient (the task model scoring the prompt in the batch,
 * as a default point has it) with the rows as wide as the batch, lens all T: the padding is
 * computed. The log-PPL term's target side (an (L,C) outer product) is left out. */
static void padded_loss_and_grad(Padded *pd, PezState *s, const EncodedSplit *sp, const int *ex, PezLoss *out) {
    int L = s->L, C = s->C, B = s->B, K = s->K, V = s->V, in_batch = s->w_interp != 0.0;
    int T = batch_width(s, sp, ex);
    for (int b = 0; b < B; b++) {
        int i = ex[b], *row = pd->ids + (size_t)b * T, k = sp->pre_len[i];
        memcpy(row, sp->ids + sp->pre_off[i], sizeof(int) * k);
        memcpy(row + k, s->ids, sizeof(int) * L);
        memcpy(row + k + L, sp->ids + sp->post_off[i], sizeof(int) * sp->post_len[i]);
        int len = k + L + sp->post_len[i];
        for (int t = len; t < T; t++) row[t] = 0;
        pd->label_pos[b] = b * T + len - 1;
        pd->labels[b] = sp->label[i];
    }
    if (in_batch) {
        int *row = pd->ids + (size_t)B * T;
        row[0] = GPT2_EOT;
        memcpy(row + 1, s->ids, sizeof(int) * (L - 1));
        for (int t = L; t < T; t++) row[t] = 0;
        for (int t = 0; t < L; t++) { pd->out_pos[t] = B * T + t; pd->targets[t] = s->ids[t]; }
    }
    GPT2Batch batch = {.B = B + in_batch, .T = T, .ids = pd->ids, .out_pos = in_batch ? pd->out_pos : NULL,
                       .n_out = in_batch ? L : 0, .label_pos = pd->label_pos, .n_label = B,
                       .label_ids = s->ctx->label_ids, .n_label_ids = K};
    Err err;
    if (gpt2_forward(s->model, &pd->acts, &batch, &err)) die("padded forward", &err);
    double task = 0;
    for (int b = 0; b < B; b++) { // mean cross-entropy over the K label logits
        const float *x = pd->acts.label_logits + (size_t)b * K;
        double mx = x[0], e[TUNE_MAX_CLASSES], sum = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) sum += (e[k] = exp(x[k] - mx));
        task += log(sum) + mx - x[pd->labels[b]];
        for (int k = 0; k < K; k++)
            pd->dlabel[(size_t)b * K + k] = (float)(s->w_task * (e[k] / sum - (k == pd->labels[b])) / B);
    }
    out->task = task / B;
    out->log_ppl = in_batch ? gpt2_crossentropy(pd->acts.logits, pd->targets, L, V, pd->dlogits, (float)s->w_interp) : 0;
    out->loss = s->w_task * out->task + s->w_interp * out->log_ppl;
    if (gpt2_backward(s->model, &pd->acts, &batch, pd->dlogits, pd->dlabel, pd->d_input, NULL, &err))
        die("padded backward", &err);
    memset(s->g, 0, sizeof(float) * L * C);
    for (int b = 0; b < B; b++) {
        const float *d = pd->d_input + ((size_t)b * T + sp->pre_len[ex[b]]) * C;
        for (size_t k = 0; k < (size_t)L * C; k++) s->g[k] += d[k];
    }
    if (in_batch) {
        const float *d = pd->d_input + ((size_t)B * T + 1) * C;
        for (size_t k = 0; k < (size_t)(L - 1) * C; k++) s->g[k] += d[k];
    }
}

static void padded_step(Padded *pd, PezState *s, const EncodedSplit *sp, const int *ex, PezLoss *out) {
    const PezSettings *set = &s->ctx->point->pez;
    pez_project(s->ids, s->proj, s->cos, s->P, s->model->w.wte, s->wte_inv_norm, s->allowed, s->L, s->V, s->C);
    padded_loss_and_grad(pd, s, sp, ex, out);
    pez_update(s->P, s->proj, s->g, &s->opt, set->clip, set->reset_quirk);
}

/* On the same prompt and batch, pez_loss_and_grad against the emulation: |loss difference| and
 * the largest |gradient difference| relative to the largest gradient (the emulation's gradient
 * plus the target side it leaves out, s->g_target, with ppl_grad full). */
static void emulation_check(Padded *pd, PezState *s, const EncodedSplit *sp, double *d_loss, double *d_grad) {
    size_t n = (size_t)s->L * s->C;
    float *g = malloc(sizeof(float) * n);
    if (!g) die("the check", NULL);
    PezLoss a, b;
    Err err;
    pez_project(s->ids, s->proj, s->cos, s->P, s->model->w.wte, s->wte_inv_norm, s->allowed, s->L, s->V, s->C);
    if (pez_loss_and_grad(s, sp, s->examples, &a, &err)) die("pez_loss_and_grad", &err);
    memcpy(g, s->g, sizeof(float) * n);
    padded_loss_and_grad(pd, s, sp, s->examples, &b);
    int target = s->full_ppl_grad && s->w_interp != 0.0 && !s->scorer;
    double big = 0, diff = 0;
    for (size_t k = 0; k < n; k++) {
        double other = s->g[k] + (target ? s->g_target[k] : 0.0f);
        big = fmax(big, fabs(g[k]));
        diff = fmax(diff, fabs(g[k] - other));
    }
    *d_loss = fabs(a.loss - b.loss);
    *d_grad = big > 0 ? diff / big : diff;
    free(g);
}

// ----------------------------------------------------------------------------
// does the model compute padding? A 1-position row in a 512-wide batch against a 1-wide batch

static int model_computes_padding(double *ratio) {
    GPT2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 128, .n_positions = 512, .vocab_size = 64,
                    .layer_norm_epsilon = 1e-5f};
    GPT2Model m;
    float *params = bench_random_model(&m, &c);
    if (!params) die("the padding probe", NULL);
    GPT2Acts a;
    Err err;
    if (gpt2_acts_alloc(&a, &c, 1, 512, 512, 1, 0, &err)) die("the padding probe", &err);
    static int ids[512];
    int len = 1, pos = 0;
    double t[2];
    for (int w = 0; w < 2; w++) {
        GPT2Batch b = {.B = 1, .T = w ? 512 : 1, .ids = ids, .lens = &len, .label_pos = &pos, .n_label = 1,
                       .label_ids = ids, .n_label_ids = 1};
        double best = 1e9;
        for (int i = 0; i < 7; i++) {
            double t0 = util_now();
            if (gpt2_forward(&m, &a, &b, &err)) die("the padding probe", &err);
            double el = util_now() - t0;
            if (el < best) best = el;
        }
        t[w] = best;
    }
    gpt2_acts_free(&a);
    free(params);
    free(m.blocks_storage);
    *ratio = t[1] / t[0];
    return *ratio > 50; // computed: ~500x (the padded positions' work); packed: ~1x plus bookkeeping
}

// ----------------------------------------------------------------------------
// FLOPs of a step, and its GEMMs replayed alone

typedef struct {
    double tokens;    // positions computed
    double gemm;      // block projections fwd + dX, LM head of the log-PPL row fwd + bwd, projection
    double attention; // QK^T and AV, forward + backward (loops, not GEMMs)
} StepFlops;

/* rows: the lengths computed of each row (padded: all T). */
static StepFlops step_flops(const GPT2Config *c, const int *rows, int n_rows, int n_out, int L) {
    double C = c->n_embd, V = c->vocab_size, NL = c->n_layer;
    StepFlops f = {0};
    for (int r = 0; r < n_rows; r++) {
        f.tokens += rows[r];
        f.attention += 3 * 2 * C * NL * (double)rows[r] * (rows[r] + 1);
    }
    f.gemm = 2 * 24 * C * C * NL * f.tokens + 2 * 2 * V * C * n_out + 2 * L * C * V;
    return f;
}

/* CPU milliseconds of the step's GEMMs alone at `tokens` rows through cblas_sgemm on the model's
 * layer-0 weights: one layer's forward and dX GEMMs (best of 3, times n_layer), the LM head of
 * n_out rows forward and back, the projection (L,C)x(C,V). buf: (tokens, 8C) floats. */
static double gemm_replay_ms(const GPT2Model *m, int tokens, int n_out, int L, float *buf) {
    const GPT2Config *c = &m->config;
    int C = c->n_embd, V = c->vocab_size, N = tokens;
    const GPT2Block *w = &m->w.blocks[0];
    float *x = buf, *y = buf + (size_t)N * 4 * C;
    // (out, in, weight, OC, K): forward y (N,OC) = x (N,K) W (K,OC); dX x (N,K) = y (N,OC) W^T
    struct { const float *W; int K, OC; } g[4] = {{w->attn_w, C, 3 * C}, {w->attn_proj_w, C, C},
                                                  {w->fc_w, C, 4 * C}, {w->fc_proj_w, 4 * C, C}};
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = util_cpu_seconds();
        for (int i = 0; i < 4; i++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, g[i].OC, g[i].K, 1.0f, x, g[i].K, g[i].W,
                        g[i].OC, 0.0f, y, g[i].OC);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, g[i].K, g[i].OC, 1.0f, y, g[i].OC, g[i].W,
                        g[i].OC, 0.0f, x, g[i].K);
        }
        double el = util_cpu_seconds() - t0;
        if (el < best) best = el;
    }
    double t = best * c->n_layer;
    // the LM head (n_out, C) x wte^T and back, and the projection (L, C) x wte^T
    float *logits = malloc(sizeof(float) * (size_t)(n_out > L ? n_out : L) * V);
    if (!logits) die("the GEMM replay", NULL);
    double t0 = util_cpu_seconds();
    if (n_out) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_out, V, C, 1.0f, x, C, m->w.wte, C, 0.0f, logits, V);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_out, C, V, 1.0f, logits, V, m->w.wte, C, 0.0f, y, C);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, V, C, 1.0f, x, C, m->w.wte, C, 0.0f, logits, V);
    t += util_cpu_seconds() - t0;
    free(logits);
    return 1e3 * t;
}

// ----------------------------------------------------------------------------
// the paths side by side

enum { PATH_PADDED, PATH_STEP, PATH_ONE_BATCH, PATH_BF16, N_PATHS };
static const char *const PATH_NAMES[N_PATHS] = {
    "padded (today: rows to the batch's longest)", "pez_step (the normal call)",
    "pez_step, activation_mb \"none\" (one batch)", "pez_step, precision bf16"};

typedef struct {
    int on;
    PezState s;
    PezState *st;        // the state it steps: its own s, or (padded) pez_step's
    TuneContext ctx;
    TunePoint point;     // PATH_ONE_BATCH's own
    GPT2Model model;     // PATH_BF16's own
    double ms[MAX_ITERS], cpu_ms[MAX_ITERS], ratio[MAX_ITERS], faults;
} Path;

static long minor_faults(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

static double median(double *x, int n) {
    qsort(x, n, sizeof x[0], cmp_double);
    return x[n / 2];
}

static void run_path(Path *p, int k, Padded *pd, const EncodedSplit *sp, const int *ex, int it) {
    PezLoss loss;
    Err err;
    long f0 = minor_faults();
    double t0 = util_now(), c0 = util_cpu_seconds();
    if (k == PATH_PADDED) padded_step(pd, p->st, sp, ex, &loss);
    else if (pez_step(p->st, sp, ex, &loss, &err)) die(PATH_NAMES[k], &err);
    if (it >= 0) {
        p->ms[it] = 1e3 * (util_now() - t0);
        p->cpu_ms[it] = 1e3 * (util_cpu_seconds() - c0);
        p->faults += (double)(minor_faults() - f0);
    }
}

static int run_paths(const Options *o) {
    Inputs in;
    inputs_load(&in, o);
    const GPT2Config *c = &in.model.config;
    Path paths[N_PATHS];
    memset(paths, 0, sizeof paths);
    Err err;
    // padded and pez_step share one state: the same prompt, moved by both
    paths[PATH_PADDED].on = paths[PATH_STEP].on = 1;
    paths[PATH_STEP].ctx = in.ctx;
    state_new(&paths[PATH_STEP].s, &paths[PATH_STEP].ctx);
    Padded pd;
    padded_new(&pd, &paths[PATH_STEP].s);

    Path *one = &paths[PATH_ONE_BATCH];
    char why_one[sizeof err.msg] = "", why_bf16[sizeof err.msg] = "this build's model has no gpt2_set_precision (wt-bf16 not merged)";
    if (parse_point(&one->point, o, ",\"activation_mb\":\"none\"", &err) == 0) {
        one->on = 1;
        one->ctx = in.ctx;
        one->ctx.point = &one->point;
        state_new(&one->s, &one->ctx);
    } else {
        snprintf(why_one, sizeof why_one, "%s", err.msg);
    }
#ifdef BENCH_HAVE_PRECISION
    {
        Path *bf = &paths[PATH_BF16];
        if (gpt2_load(&bf->model, in.point.model_dir, &err) == 0 && gpt2_set_precision(&bf->model, GPT2_BF16, &err) == 0) {
            bf->on = 1;
            bf->ctx = in.ctx;
            bf->ctx.model = bf->ctx.scorer_model = bf->ctx.policy_model = &bf->model;
            state_new(&bf->s, &bf->ctx);
        } else {
            snprintf(why_bf16, sizeof why_bf16, "%s", err.msg);
        }
    }
#endif

    PezState *s0 = &paths[PATH_STEP].s;
    for (int k = 0; k < N_PATHS; k++) paths[k].st = k == PATH_PADDED ? s0 : &paths[k].s;
    const EncodedSplit *sp = &in.ctx.train;
    int B = s0->B, L = s0->L, in_batch = s0->w_interp != 0.0, iters = o->iters;
    // the peak: the best of short measurements spread over the run (a shared core only lowers it)
    double peak = peak_f32(0.2), peak16 = peak_bf16(0.2);
    double pad_ratio;
    int pads = model_computes_padding(&pad_ratio);
    printf("openblas core %s, %d thread(s); model %s: L=%d H=%d C=%d V=%d; %s %s, %d train examples\n",
           openblas_get_corename(), openblas_get_num_threads(), in.point.model_dir, c->n_layer, c->n_head,
           c->n_embd, c->vocab_size, in.point.task, o->split, sp->n);
    printf("PEZ: B=%d, prompt length %d, lambda %g (the log-PPL row in the batch: %s), template \"%s\", "
           "rows up to %d positions; median of %d steps after one warm-up, paths in turn on the same batch\n",
           B, L, o->lambda, in_batch ? "yes" : "no", in.point.template_text, s0->max_T, iters);
    printf("the model computes padded positions: %s (a 1-position row in a 512-wide batch costs %.0fx a 1-wide one)\n",
           pads ? "yes" : "no (packed rows)", pad_ratio);

    // warm-up, a check that the emulation computes pez_step's objective, then the timed steps
    Rng rng;
    rng_seed(&rng, 7);
    pez_sample_batch(s0, &rng);
    for (int k = 0; k < N_PATHS; k++)
        if (paths[k].on) run_path(&paths[k], k, &pd, sp, s0->examples, -1);
    double d_loss, d_grad;
    emulation_check(&pd, s0, sp, &d_loss, &d_grad);
    double pad_before = 0, all_before = 0;
    int rows[MAX_B + 1];   // the lengths computed of each row: B task rows and the log-PPL row
    StepFlops fl_pad = {0}, fl_real = {0};
    for (int it = 0; it < iters; it++) {
        pez_sample_batch(s0, &rng);
        const int *ex = s0->examples;
        int T = batch_width(s0, sp, ex), n = 0;
        for (int b = 0; b < B; b++) rows[n++] = sp->pre_len[ex[b]] + L + sp->post_len[ex[b]];
        if (in_batch) rows[n++] = L;
        StepFlops fr = step_flops(c, rows, n, in_batch ? L : 0, L);
        for (int r = 0; r < n; r++) rows[r] = T;
        StepFlops fp = step_flops(c, rows, n, in_batch ? L : 0, L);
        fl_real.tokens += fr.tokens / iters; fl_real.gemm += fr.gemm / iters; fl_real.attention += fr.attention / iters;
        fl_pad.tokens += fp.tokens / iters; fl_pad.gemm += fp.gemm / iters; fl_pad.attention += fp.attention / iters;
        all_before += fp.tokens;
        pad_before += fp.tokens - fr.tokens;
        for (int j = 0; j < N_PATHS; j++) { // rotate the order
            int k = (j + it) % N_PATHS;
            if (paths[k].on) run_path(&paths[k], k, &pd, sp, ex, it);
        }
        for (int k = 0; k < N_PATHS; k++)
            if (paths[k].on) paths[k].ratio[it] = paths[k].cpu_ms[it] / paths[PATH_PADDED].cpu_ms[it];
        peak = fmax(peak, peak_f32(0.1));
        peak16 = fmax(peak16, peak_bf16(0.1));
    }
    double share_before = pad_before / all_before, share_after = pads ? share_before : 0;
    printf("peak of this core (register-only kernels, the best of %d short runs): f32 FMA %.0f GFLOP/s", iters + 1, peak);
    if (peak16 > 0) printf(", bf16 dot products %.0f GFLOP/s", peak16);
    printf("\n");
    printf("the emulation computes pez_step's objective: |loss difference| %.2g, max |gradient difference| %.2g "
           "(relative to the largest)\n", d_loss, d_grad);
    printf("padding share computed (padded positions / positions computed): before %.1f%% (%.0f of %.0f a step), "
           "after %.1f%%\n", 100 * share_before, pad_before / iters, all_before / iters, 100 * share_after);

    // the GEMMs alone at the tokens each layout computes
    float *buf = malloc(sizeof(float) * (size_t)(fl_pad.tokens + 1) * 8 * c->n_embd);
    if (!buf) die("the GEMM replay", NULL);
    double replay_pad = gemm_replay_ms(&in.model, (int)fl_pad.tokens, in_batch ? L : 0, L, buf);
    double replay_real = gemm_replay_ms(&in.model, (int)(fl_real.tokens + 0.5), in_batch ? L : 0, L, buf);
    free(buf);

    printf("%-46s %8s %8s %7s %8s %7s %8s %7s\n", "path", "wall ms", "cpu ms", "ratio", "GEMM GF", "GF/s",
           "of peak", "faults");
    for (int k = 0; k < N_PATHS; k++) {
        Path *p = &paths[k];
        if (!p->on) continue;
        // the FLOPs the path computes: padded everything; the others what the model computes
        const StepFlops *f = k == PATH_PADDED || pads ? &fl_pad : &fl_real;
        double ms = median(p->ms, iters), cpu = median(p->cpu_ms, iters), ratio = median(p->ratio, iters);
        double rate = f->gemm / (cpu / 1e3) / 1e9, pk = k == PATH_BF16 && peak16 > 0 ? peak16 : peak;
        printf("%-46s %8.0f %8.0f %6.2fx %8.1f %7.1f %7.1f%% %7.0f\n", PATH_NAMES[k], ms, cpu, ratio, f->gemm / 1e9,
               rate, 100 * rate / pk, p->faults / iters);
    }
    if (!paths[PATH_ONE_BATCH].on) printf("%-46s skipped: %s\n", PATH_NAMES[PATH_ONE_BATCH], why_one);
    if (!paths[PATH_BF16].on) printf("%-46s skipped: %s\n", PATH_NAMES[PATH_BF16], why_bf16);
    printf("(cpu ms: the time the process ran, which other processes on a shared machine do not lengthen; ratio:\n"
           " cpu ms / the padded step's, per iteration, median; GF/s: the step's GEMM FLOPs counted analytically per\n"
           " cpu second, share of the f32 peak (bf16: of the bf16 peak); attention loops add %.1f GFLOP padded, %.1f\n"
           " packed; faults: minor page faults per step, first touches of the arenas included)\n",
           fl_pad.attention / 1e9, fl_real.attention / 1e9);
    printf("the step's GEMMs alone (cblas_sgemm, same shapes, cpu time): padded %.0f tokens %.0f ms = %.1f GFLOP/s = "
           "%.1f%% of peak; packed %.0f tokens %.0f ms = %.1f GFLOP/s = %.1f%% of peak\n",
           fl_pad.tokens, replay_pad, fl_pad.gemm / replay_pad / 1e6, 100 * fl_pad.gemm / replay_pad / 1e6 / peak,
           fl_real.tokens, replay_real, fl_real.gemm / replay_real / 1e6, 100 * fl_real.gemm / replay_real / 1e6 / peak);
    printf("GEMM share of the step (replay / cpu ms): padded %.0f%%, pez_step %.0f%%\n",
           100 * replay_pad / median(paths[PATH_PADDED].cpu_ms, iters),
           100 * (pads ? replay_pad : replay_real) / median(paths[PATH_STEP].cpu_ms, iters));

    padded_free(&pd);
    for (int k = 0; k < N_PATHS; k++) {
        if (k == PATH_PADDED || !paths[k].on) continue;
        pez_state_free(&paths[k].s);
        if (k == PATH_ONE_BATCH) point_free(&paths[k].point);
        if (k == PATH_BF16) gpt2_free(&paths[k].model);
    }
    inputs_free(&in);
    return 0;
}

// ----------------------------------------------------------------------------
// probes: one number each, compared by bench_pez.sh alone and two processes at once

static int run_probe(const Options *o) {
    const char *name = o->probe;
    double sec = o->seconds;
    if (!strcmp(name, "fma")) {
        double t0 = util_now(), c0 = util_cpu_seconds(), r = peak_f32(sec);
        printf("probe fma %.1f %.1f GFLOP/s\n", r, r * (util_cpu_seconds() - c0) / (util_now() - t0));
    } else if (!strcmp(name, "stream")) { // a[i] = b[i] + s c[i] over 3 x 64 MB, far past the caches
        size_t n = (size_t)16 << 20;
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float)), *cc = malloc(n * sizeof(float));
        if (!a || !b || !cc) die("the stream probe", NULL);
        for (size_t i = 0; i < n; i++) { a[i] = 0; b[i] = 1; cc[i] = 2; }
        int passes = 0;
        double t0 = util_now(), c0 = util_cpu_seconds();
        do {
            for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * cc[i];
            passes++;
        } while (util_now() - t0 < sec);
        double el = util_now() - t0, cpu = util_cpu_seconds() - c0;
        volatile float sink = a[n / 2];
        (void)sink;
        printf("probe stream %.1f %.1f GB/s\n", 12.0 * n * passes / cpu / 1e9, 12.0 * n * passes / el / 1e9);
        free(a); free(b); free(cc);
    } else if (!strcmp(name, "sgemm")) { // the MLP's first GEMM at a packed PEZ batch's ~544 tokens
        int M = 544, N = 3072, K = 768, reps = 0;
        float *A = malloc(sizeof(float) * M * K), *Bm = malloc(sizeof(float) * K * N), *Cm = malloc(sizeof(float) * M * N);
        if (!A || !Bm || !Cm) die("the sgemm probe", NULL);
        for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.01f;
        for (int i = 0; i < K * N; i++) Bm[i] = (float)(i % 5) * 0.01f;
        double t0 = util_now(), c0 = util_cpu_seconds();
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, Bm, N, 0.0f, Cm, N);
            reps++;
        } while (util_now() - t0 < sec);
        double el = util_now() - t0, cpu = util_cpu_seconds() - c0, f = 2.0 * M * N * K * reps / 1e9;
        printf("probe sgemm %.1f %.1f GFLOP/s\n", f / cpu, f / el);
        free(A); free(Bm); free(Cm);
    } else if (!strcmp(name, "step")) { // iters steps after a warm-up, on the seed's batches
        Inputs in;
        inputs_load(&in, o);
        PezState s;
        state_new(&s, &in.ctx);
        Rng rng;
        rng_seed(&rng, 7);
        PezLoss loss;
        Err err;
        long f0 = 0;
        double t0 = 0, c0 = 0;
        for (int it = -1; it < o->iters; it++) {
            if (it == 0) { t0 = util_now(); c0 = util_cpu_seconds(); f0 = minor_faults(); }
            pez_sample_batch(&s, &rng);
            if (pez_step(&s, &in.ctx.train, s.examples, &loss, &err)) die("pez_step", &err);
        }
        double el = util_now() - t0, cpu = util_cpu_seconds() - c0;
        printf("probe step %.4f %.4f steps/s (%.0f ms, cpu %.0f ms a step over %d steps; %.0f minor page faults a step)\n",
               o->iters / cpu, o->iters / el, 1e3 * el / o->iters, 1e3 * cpu / o->iters, o->iters,
               (double)(minor_faults() - f0) / o->iters);
        pez_state_free(&s);
        inputs_free(&in);
    } else {
        fprintf(stderr, "bench_pez_step: unknown probe %s (fma, stream, sgemm, step)\n", name);
        return 2;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// private memory of a PEZ rank, as tune lays it out (tuners/tune_main.c, pez.c, task.c, interp.c)

#define TUNE_EVAL_ROWS 64        // tune_main.c's EVAL_ROWS
#define TUNE_SCORER_PROMPTS 16   // tune_main.c's SCORER_PROMPTS
#define TUNE_SCORER_CHUNK 64     // interp.c's SCORER_CHUNK

typedef struct {
    double train_acts, train_bufs, eval, scorer, bf16_weights;
} MemEstimate;

/* T_train: the widest training row; T_eval: the widest row of any split (with the prompt). */
static MemEstimate mem_estimate(const GPT2Config *c, int B, int L, int in_batch, int K, int T_train, int T_eval) {
    double C = c->n_embd, V = c->vocab_size, R = B + in_batch;
    int max_out = in_batch && L > B ? L : B, sL = c->n_positions < TUNE_MAX_PROMPT ? c->n_positions : TUNE_MAX_PROMPT;
    MemEstimate e;
    e.train_acts = (double)gpt2_acts_bytes(c, B + in_batch, T_train, 0, T_train, max_out, 1);
    e.train_bufs = 4 * (4 * L * C + L * V + V + R * T_train * C + (in_batch ? L * V + L * C : 0) + B * K);
    e.eval = (double)gpt2_acts_bytes(c, TUNE_EVAL_ROWS, T_eval, 0, T_eval, TUNE_EVAL_ROWS, 0) +
             (double)TUNE_EVAL_ROWS * T_eval * (4 * C + 5);
    e.scorer = (double)gpt2_acts_bytes(c, TUNE_SCORER_PROMPTS, sL, 0, sL, TUNE_SCORER_CHUNK, 0);
    e.bf16_weights = 2.0 * gpt2_num_params(c);
    return e;
}


static int run_memory(const Options *o) {
    Inputs in;
    inputs_load(&in, o);
    EncodedSplit dev, test;
    Err err;
    if (load_split(&dev, in.point.dev_path, &in.point, in.tok, &err)) die("dev", &err);
    if (load_split(&test, in.point.test_path, &in.point, in.tok, &err)) die("test", &err);
    int L = in.point.prompt_length, B = in.point.pez.batch, in_batch = o->lambda != 0.0, K = in.point.n_classes;
    int T_train = encoded_split_longest(&in.ctx.train) + L, T_eval = T_train;
    if (encoded_split_longest(&dev) + L > T_eval) T_eval = encoded_split_longest(&dev) + L;
    if (encoded_split_longest(&test) + L > T_eval) T_eval = encoded_split_longest(&test) + L;
    GPT2Config big = in.model.config;
    big.n_layer = 48; big.n_embd = 1600; big.n_head = 25;
    const GPT2Config *cs[2] = {&in.model.config, &big};
    const char *names[2] = {"this model", "1.5B shape"};
    printf("private memory of a PEZ rank, estimated (MB): B=%d, prompt %d, training rows up to %d positions, "
           "evaluation rows up to %d\n", B, L, T_train, T_eval);
    printf("%-12s %9s %10s %11s %9s %8s %9s %10s %12s\n", "shape", "params", "train acts", "train bufs",
           "evaluator", "scorer", "sum f32", "bf16 copy", "sum bf16");
    double MB = 1 << 20, sums[2];
    for (int i = 0; i < 2; i++) {
        MemEstimate e = mem_estimate(cs[i], B, L, in_batch, K, T_train, T_eval);
        double sum = sums[i] = e.train_acts + e.train_bufs + e.eval + e.scorer;
        printf("%-12s %8.0fM %10.0f %11.0f %9.0f %8.0f %9.0f %10.0f %12.0f\n", names[i],
               gpt2_num_params(cs[i]) / 1e6, e.train_acts / MB, e.train_bufs / MB, e.eval / MB, e.scorer / MB,
               sum / MB, e.bf16_weights / MB, (sum + e.bf16_weights) / MB);
    }
    if (o->measured_mb > 0) {
        double share = o->measured_mb / (sums[0] / MB);
        printf("measured at this model: %.0f MB resident = %.0f%% of the %.0f MB laid out (arenas are sized for the\n"
               " widest rows and touched as far as the batches reach; the tokenizer, word list and splits add a\n"
               " little); 1.5B shape: %.0f MB laid out, ~%.0f MB resident at the same share (f32; a bf16 copy of\n"
               " the weights: +%.0f)\n", o->measured_mb, 100 * share, sums[0] / MB, sums[1] / MB, share * sums[1] / MB,
               2.0 * gpt2_num_params(&big) / MB);
    }
    printf("(train acts: gpt2_acts_bytes of the one-batch layout, every layer kept; under a per-rank activation\n"
           " budget (wt-micro's activation_mb) the train and evaluator parts are capped by it instead; f32 weights are\n"
           " mmapped from the file: shared page cache, not private; a bf16 copy made at load is private to each rank)\n");
    encoded_split_free(&dev);
    encoded_split_free(&test);
    inputs_free(&in);
    return 0;
}

int main(int argc, char **argv) {
    Options o;
    int rc = parse_options(&o, argc, argv);
    if (rc >= 0) return rc;
    if (o.known) {
        char hex[65], known[GPT2_KNOWN_SHA256_MAX];
        Err err;
        if (gpt2_file_sha256_known(o.known, hex, known, sizeof known, &err)) die("sha256", &err);
        printf("%s\n", known);
        return 0;
    }
    if (o.probe) return run_probe(&o);
    if (o.memory) return run_memory(&o);
    return run_paths(&o);
}
