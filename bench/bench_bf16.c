/*
 * bench/bench_bf16.c: the bf16 precision (model/bf16.c) against f32, side by side in one run,
 * on a random GPT-2 (124M shape by default):
 *
 *   bench_bf16 [--layers 12 --heads 12 --embd 768 --vocab 50257] [--B 16 --T 58] [--iters 5]
 *
 *   1. the per-core peaks, measured by register-only loops (the best of 8 tries of 50 ms): f32
 *      FMAs (vfmadd on 12 independent zmm accumulators, 32 FLOP each) and bf16 dot products
 *      (vdpbf16ps, 64 FLOP each);
 *   2. each GEMM of the 124M block at M = B*T/3 rows (256 by default): OpenBLAS sgemm next to
 *      the bf16 path as the model calls it (gpt2_bf16_matmul: the input rounded to bf16, then
 *      oneDNN), as GFLOP/s and as shares of the two peaks, forward (x W + b) and the backward's
 *      d input (dy W^T), and the LM head (x wte^T) and its backward (dlogits wte) at 16 rows;
 *   3. a frozen-weight step like PEZ's (forward, 2-label loss at each row's last position and
 *      the prompt's log-PPL row, backward to the inputs; grads NULL) on B rows of SST-2-like
 *      lengths (mean 29, longest T = 58), f32 and bf16 alternating: median times and the
 *      median of the per-pair ratios.
 * Timings run on a shared machine: each figure is a median, each ratio taken from neighbouring
 * measurements.
 */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "model/bf16_internal.h"
#include "model/gpt2.h"

static void die(const Err *err) {
    fprintf(stderr, "bench_bf16: %s\n", err->msg);
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) { fprintf(stderr, "bench_bf16: out of memory\n"); exit(1); }
    return p;
}

static double median(double *x, int n) {
    qsort(x, n, sizeof x[0], cmp_double);
    return x[n / 2];
}

// ----------------------------------------------------------------------------
// 1. the peaks

static volatile float sink;

/* GFLOP/s of 12 chains of f32 FMAs over at least min_s seconds. */
__attribute__((target("avx512f"))) static double peak_f32(double min_s) {
    __m512 acc[12], a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-6f);
    for (int k = 0; k < 12; k++) acc[k] = _mm512_set1_ps(1.0f + k);
    long n = 0;
    double t0 = util_now(), el;
    do {
        for (int r = 0; r < 1000; r++)
            for (int k = 0; k < 12; k++) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
        n += 1000;
    } while ((el = util_now() - t0) < min_s);
    __m512 s = acc[0];
    for (int k = 1; k < 12; k++) s = _mm512_add_ps(s, acc[k]);
    sink = _mm512_reduce_add_ps(s);
    return 12.0 * 32 * n / el / 1e9;
}

/* GFLOP/s of 12 chains of bf16 dot products (vdpbf16ps: 32 products and 32 sums) over at
 * least min_s seconds. */
__attribute__((target("avx512f,avx512bf16"))) static double peak_bf16(double min_s) {
    __m512 acc[12];
    __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
    __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(-1e-3f));
    for (int k = 0; k < 12; k++) acc[k] = _mm512_set1_ps(1.0f + k);
    long n = 0;
    double t0 = util_now(), el;
    do {
        for (int r = 0; r < 1000; r++)
            for (int k = 0; k < 12; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
        n += 1000;
    } while ((el = util_now() - t0) < min_s);
    __m512 s = acc[0];
    for (int k = 1; k < 12; k++) s = _mm512_add_ps(s, acc[k]);
    sink = _mm512_reduce_add_ps(s);
    return 12.0 * 64 * n / el / 1e9;
}

// ----------------------------------------------------------------------------
// 2. the GEMMs

typedef struct {
    const char *name;
    const float *w, *bias;
    int M, K, N, trans;   // out (M,N) = in (M,K) x (w or w^T)
} Shape;

/* Calls per second of the f32 (sgemm) or the bf16 (the model's) matmul, over >= min_s. */
static double calls_per_s(GPT2Bf16 *b, const Shape *s, const float *in, float *out, double min_s) {
    int n = 0;
    double t0 = util_now(), el;
    do {
        if (b) gpt2_bf16_matmul(b, out, in, s->w, s->bias, s->M, s->K, s->N, s->trans);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, s->trans ? CblasTrans : CblasNoTrans, s->M, s->N, s->K, 1.0f,
                        in, s->K, s->w, s->trans ? s->K : s->N, 0.0f, out, s->N);
        n++;
    } while ((el = util_now() - t0) < min_s);
    return n / el;
}

static void bench_gemms(GPT2Bf16 *b, const GPT2Model *m, int M, double pf32, double pbf16) {
    const GPT2Block *w = &m->w.blocks[0];
    int C = m->config.n_embd, V = m->config.vocab_size, H = 16;
    Shape shapes[] = {
        {"qkv      x W + b", w->attn_w, w->attn_b, M, C, 3 * C, 0},
        {"proj     x W + b", w->attn_proj_w, w->attn_proj_b, M, C, C, 0},
        {"fc       x W + b", w->fc_w, w->fc_b, M, C, 4 * C, 0},
        {"fc_proj  x W + b", w->fc_proj_w, w->fc_proj_b, M, 4 * C, C, 0},
        {"qkv      dy W^T", w->attn_w, NULL, M, 3 * C, C, 1},
        {"proj     dy W^T", w->attn_proj_w, NULL, M, C, C, 1},
        {"fc       dy W^T", w->fc_w, NULL, M, 4 * C, C, 1},
        {"fc_proj  dy W^T", w->fc_proj_w, NULL, M, C, 4 * C, 1},
        {"LM head  x wte^T", m->w.wte, NULL, H, C, V, 1},
        {"LM head  dl wte", m->w.wte, NULL, H, V, C, 0},
    };
    size_t most = (size_t)M * 4 * C > (size_t)H * V ? (size_t)M * 4 * C : (size_t)H * V;
    float *in = xmalloc(most * sizeof(float)), *out = xmalloc(most * sizeof(float));
    for (size_t i = 0; i < most; i++) in[i] = 0.5f * (float)((i * 7919) % 1001) / 1000.0f - 0.25f;
    printf("%-17s %5s %5s %5s | %14s %6s | %14s %6s | %s\n", "GEMM", "M", "K", "N", "sgemm GFLOP/s", "%f32pk",
           "bf16 GFLOP/s", "%bfpk", "bf16/f32");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        double flop = 2.0 * s->M * s->K * s->N, f[5], h[5], q[5];
        calls_per_s(NULL, s, in, out, 0.02);
        calls_per_s(b, s, in, out, 0.02);
        for (int r = 0; r < 5; r++) {
            f[r] = flop * calls_per_s(NULL, s, in, out, 0.1) / 1e9;
            h[r] = flop * calls_per_s(b, s, in, out, 0.1) / 1e9;
            q[r] = h[r] / f[r];
        }
        double fm = median(f, 5), hm = median(h, 5), qm = median(q, 5);
        printf("%-17s %5d %5d %5d | %14.1f %5.0f%% | %14.1f %5.0f%% | %.2fx\n", s->name, s->M, s->K, s->N, fm,
               100 * fm / pf32, hm, 100 * hm / pbf16, qm);
    }
    Err err;
    if (gpt2_bf16_error(b, "bench", &err)) die(&err);
    free(in);
    free(out);
}

// ----------------------------------------------------------------------------
// 3. a PEZ-like frozen step

typedef struct {
    GPT2Acts a;
    GPT2Batch bt;
    int *ids, *lens, *label_pos, *labels, *out_pos, *targets;
    int label_ids[2], n_rows, L;
    float *dlabel, *dlogits, *d_input;
} Step;

/* B example rows of SST-2-like lengths (mean 29, longest 58 at B = 16: the figures)
 * in rows of T, and the prompt's row (L = 10 ids, its next-token logits: the log-PPL term). */
static void step_new(Step *s, const GPT2Config *c, int B, int T) {
    static const int sst2[16] = {58, 41, 35, 33, 31, 30, 29, 28, 27, 26, 24, 22, 21, 20, 19, 20};
    memset(s, 0, sizeof *s);
    int R = B + 1, V = c->vocab_size;
    s->L = 10 < T ? 10 : T;
    s->n_rows = R;
    Err err;
    if (gpt2_acts_alloc(&s->a, c, R, T, T, s->L > B ? s->L : B, 1, &err)) die(&err);
    s->ids = xmalloc(sizeof(int) * R * T);
    s->lens = xmalloc(sizeof(int) * R);
    s->label_pos = xmalloc(sizeof(int) * B);
    s->labels = xmalloc(sizeof(int) * B);
    s->out_pos = xmalloc(sizeof(int) * s->L);
    s->targets = xmalloc(sizeof(int) * s->L);
    s->dlabel = xmalloc(sizeof(float) * B * 2);
    s->dlogits = xmalloc(sizeof(float) * s->L * V);
    s->d_input = xmalloc(sizeof(float) * R * T * c->n_embd);
    for (int i = 0; i < R * T; i++) s->ids[i] = (i * 7919) % V;
    for (int b = 0; b < B; b++) {
        int len = (int)((double)sst2[b % 16] * T / 58);
        s->lens[b] = len < 1 ? 1 : len > T ? T : len;
        s->label_pos[b] = b * T + s->lens[b] - 1;
        s->labels[b] = b % 2;
    }
    s->lens[B] = s->L;
    for (int t = 0; t < s->L; t++) {
        s->out_pos[t] = B * T + t;
        s->targets[t] = s->ids[B * T + (t + 1) % s->L];
    }
    s->label_ids[0] = 3967 % V; // " positive", " negative" in GPT-2's vocabulary
    s->label_ids[1] = 4633 % V;
    s->bt = (GPT2Batch){.B = R, .T = T, .ids = s->ids, .lens = s->lens, .out_pos = s->out_pos, .n_out = s->L,
                        .label_pos = s->label_pos, .n_label = B, .label_ids = s->label_ids, .n_label_ids = 2};
}

static void step_free(Step *s) {
    gpt2_acts_free(&s->a);
    free(s->ids); free(s->lens); free(s->label_pos); free(s->labels); free(s->out_pos); free(s->targets);
    free(s->dlabel); free(s->dlogits); free(s->d_input);
}

static double step_run(const GPT2Model *m, Step *s) {
    Err err;
    int B = s->bt.n_label, V = m->config.vocab_size;
    double t0 = util_now();
    if (gpt2_forward(m, &s->a, &s->bt, &err)) die(&err);
    for (int b = 0; b < B; b++) {
        const float *x = s->a.label_logits + b * 2;
        float p1 = 1.0f / (1.0f + expf(x[0] - x[1]));
        s->dlabel[b * 2] = ((1.0f - p1) - (s->labels[b] == 0)) / B;
        s->dlabel[b * 2 + 1] = (p1 - (s->labels[b] == 1)) / B;
    }
    gpt2_crossentropy(s->a.logits, s->targets, s->L, V, s->dlogits, 0.1f);
    if (gpt2_backward(m, &s->a, &s->bt, s->dlogits, s->dlabel, s->d_input, NULL, &err)) die(&err);
    return util_now() - t0;
}

static int run(const BenchShape *sh, const GPT2Model *m) {
    const GPT2Config *c = &sh->c;
    int B = sh->B, T = sh->T, iters = sh->iters;
    Err err;
    if (!gpt2_bf16_supported(&err)) {
        printf("bf16 not measured: %s\n", err.msg);
        return 0;
    }
    GPT2Model m16 = *m; // the same f32 weights, plus the bf16 state
    m16.bf16 = NULL;
    double t0 = util_now();
    if (gpt2_set_precision(&m16, GPT2_BF16, &err)) die(&err);
    double t_set = util_now() - t0;
    size_t C = c->n_embd, bf16_bytes = 2 * ((size_t)c->vocab_size * C + 12 * C * C * c->n_layer);
    printf("openblas core %s, %d thread(s); L=%d H=%d C=%zu V=%d; bf16 weights %.0f MB (private), converted "
           "and primitives made in %.2f s\n", openblas_get_corename(), openblas_get_num_threads(), c->n_layer,
           c->n_head, C, c->vocab_size, bf16_bytes / 1e6, t_set);

    // a peak is an upper bound: the best of several short tries (another process taking the core
    // can only lower a try)
    double pf32 = 0, pbf16 = 0;
    for (int r = 0; r < 8; r++) {
        pf32 = fmax(pf32, peak_f32(0.05));
        pbf16 = fmax(pbf16, peak_bf16(0.05));
    }
    printf("peak per core (register-only loops): f32 FMA %.1f GFLOP/s, bf16 dot %.1f GFLOP/s (%.2fx)\n", pf32,
           pbf16, pbf16 / pf32);

    bench_gemms(m16.bf16, m, 256, pf32, pbf16);

    Step s;
    step_new(&s, c, B, T);
    int tokens = 0;
    for (int b = 0; b < s.n_rows; b++) tokens += s.lens[b];
    double tf[64], tb[64], q[64];
    step_run(m, &s);
    step_run(&m16, &s);
    for (int i = 0; i < iters; i++) {
        tf[i] = step_run(m, &s);
        tb[i] = step_run(&m16, &s);
        q[i] = tf[i] / tb[i];
    }
    printf("frozen step like PEZ's (fwd + 2-label loss + log-PPL row + bwd to inputs), %d rows, T=%d, "
           "%d real positions, median of %d:\n", s.n_rows, T, tokens, iters);
    printf("  f32 %.1f ms | bf16 %.1f ms | f32/bf16 %.2fx\n", 1e3 * median(tf, iters), 1e3 * median(tb, iters),
           median(q, iters));
    step_free(&s);
    gpt2_set_precision(&m16, GPT2_F32, &err);
    return 0;
}

int main(int argc, char **argv) {
    // the PEZ step's shape unless given
    int has_shape = 0;
    for (int i = 1; i < argc; i++) has_shape |= !strcmp(argv[i], "--B") || !strcmp(argv[i], "--T");
    if (has_shape) return bench_model_main(argc, argv, "bench_bf16", run);
    char *args[64];
    int n = 0;
    for (int i = 0; i < argc && n < 59; i++) args[n++] = argv[i];
    args[n++] = "--B"; args[n++] = "16"; args[n++] = "--T"; args[n++] = "58";
    args[n] = NULL;
    return bench_model_main(n, args, "bench_bf16", run);
}
