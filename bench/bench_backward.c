/*
 * bench/bench_backward.c: forward + backward throughput of a random GPT-2
 * (124M shape by default) next to the sgemm rate measured in the same
 * process, so that each can be read as a share of the GEMM rate.
 *
 *   bench_backward [--layers 12 --heads 12 --embd 768 --vocab 50257] [--B 4 --T 64] [--iters 5]
 *
 * Reports the median of iters runs (after one warm-up) of:
 *   - the forward alone with logits at the last position of each row;
 *   - prompt tuning, frozen weights (grads NULL): forward, loss, backward to
 *     the input embeddings (a soft prompt at the first 8 positions), with
 *       (a) a classifier loss at the last position of each row: cross-entropy
 *           over the logits of 2 label tokens (dlogits nonzero only there),
 *       (b) a next-token loss at every position;
 *   - a training step: forward, next-token loss at every position, backward
 *     with every parameter gradient; zeroing the gradients (a memset of all
 *     parameters, needed once per step) is timed apart and AdamW is excluded.
 * FLOPs count the matmul-shaped work only (2 per multiply-add): per token the
 * blocks have 12 C^2 L weights, causal attention 2 L C (T+1) for QK^T and AV
 * together, the LM head V C per logit row. A backward costs 1x the forward's
 * block and head FLOPs for dX, 1x more for dW (training only), and 2x its
 * attention FLOPs (dq, dk, da, dv; the causal half that matters). The
 * classifier's LM-head backward reads only the 2 label rows of wte: ~0.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "model/gpt2.h"

static void die(const Err *err) {
    fprintf(stderr, "bench_backward: %s\n", err->msg);
    exit(1);
}

/* sgemm out (M,N) = A (M,K) B (K,N) on fixed buffers: the reference rate. */
typedef struct {
    int M, N, K;
    float *A, *B, *C;
} Gemm;

static Gemm gemm_new(int M, int N, int K) {
    Gemm g = {M, N, K, malloc(sizeof(float) * M * K), malloc(sizeof(float) * K * N), malloc(sizeof(float) * M * N)};
    if (!g.A || !g.B || !g.C) { fprintf(stderr, "bench_backward: out of memory\n"); exit(1); }
    for (size_t i = 0; i < (size_t)M * K; i++) g.A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) g.B[i] = (float)(i % 5) * 0.01f;
    return g;
}

/* GFLOP/s over repeated calls for at least min_s seconds. */
static double gemm_rate(const Gemm *g, double min_s) {
    int n = 0;
    double t0 = util_now(), el;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M, g->N, g->K,
                    1.0f, g->A, g->K, g->B, g->N, 0.0f, g->C, g->N);
        n++;
    } while ((el = util_now() - t0) < min_s);
    return 2.0 * g->M * g->N * g->K * n / el / 1e9;
}

typedef struct {
    const GPT2Model *m;
    GPT2Acts *a;
    const GPT2Batch *batch;
    const int *targets;   // (n_out): next-token ids, or 0/1 for the classifier
    const int *labels;    // (2) label token ids: the classifier; NULL: full-vocabulary loss
    float *dlogits;       // (n_out, V)
    float *d_input;       // (B, T, C)
    GPT2Weights *grads;   // or NULL
    int forward_only;     // the reference: forward alone
} Step;

/* mean cross-entropy of each row over the 2 label logits; dlogits 0 elsewhere */
static void label_loss(float *dlogits, const float *logits, const int *labels, const int *targets,
                       int N, int V) {
    memset(dlogits, 0, sizeof(float) * N * V);
    for (int n = 0; n < N; n++) {
        float x0 = logits[(size_t)n * V + labels[0]], x1 = logits[(size_t)n * V + labels[1]];
        float p1 = 1.0f / (1.0f + expf(x0 - x1)); // softmax of two
        dlogits[(size_t)n * V + labels[0]] = ((1.0f - p1) - (targets[n] == 0)) / N;
        dlogits[(size_t)n * V + labels[1]] = (p1 - (targets[n] == 1)) / N;
    }
}

/* forward, loss over the n_out rows, backward */
static void step(const Step *s) {
    Err err;
    int V = s->m->config.vocab_size;
    if (gpt2_forward(s->m, s->a, s->batch, &err)) die(&err);
    if (s->forward_only) return;
    if (s->labels) label_loss(s->dlogits, s->a->logits, s->labels, s->targets, s->batch->n_out, V);
    else gpt2_crossentropy(s->a->logits, s->targets, s->batch->n_out, V, s->dlogits, 1.0f);
    if (gpt2_backward(s->m, s->a, s->batch, s->dlogits, NULL, s->d_input, s->grads, &err)) die(&err);
}

/* Median wall time of iters steps after one warm-up, each step preceded by
 * 0.15 s of sgemm: on a shared machine the load changes within seconds, so
 * the ratio step / sgemm is taken per step, from neighbouring measurements,
 * and its median reported. */
typedef struct {
    double ms, gflops, sgemm, ratio;
} Timing;

static Timing time_step(const Step *s, const Gemm *g, double flops, int iters) {
    double t[64], r[64], q[64];
    step(s);
    for (int i = 0; i < iters; i++) {
        r[i] = gemm_rate(g, 0.15);
        double t0 = util_now();
        step(s);
        t[i] = util_now() - t0;
        q[i] = flops / t[i] / 1e9 / r[i];
    }
    qsort(t, iters, sizeof t[0], cmp_double);
    qsort(r, iters, sizeof r[0], cmp_double);
    qsort(q, iters, sizeof q[0], cmp_double);
    return (Timing){1e3 * t[iters / 2], flops / t[iters / 2] / 1e9, r[iters / 2], q[iters / 2]};
}

static void report(const char *what, Timing x, double flops, int tokens) {
    printf("%-47s %7.1f ms  %5.0f tok/s  %6.1f GFLOP  %5.1f GFLOP/s | sgemm %5.1f | ratio %.2f\n",
           what, x.ms, tokens / (x.ms / 1e3), flops / 1e9, x.gflops, x.sgemm, x.ratio);
}

static int run(const BenchShape *s, const GPT2Model *m) {
    GPT2Config c = s->c;
    int B = s->B, T = s->T, iters = s->iters;
    size_t n = gpt2_num_params(&c);
    float *grad_buf = malloc(n * sizeof(float));
    GPT2Block *grad_blocks = malloc(c.n_layer * sizeof(GPT2Block));
    if (!grad_buf || !grad_blocks) { fprintf(stderr, "bench_backward: out of memory\n"); return 1; }
    memset(grad_buf, 0, n * sizeof(float));
    GPT2Weights grads;
    gpt2_point_weights(&grads, grad_blocks, grad_buf, &c);

    GPT2Acts a;
    Err err;
    int BT = B * T, C = c.n_embd, V = c.vocab_size;
    if (gpt2_acts_alloc(&a, &c, B, T, T, BT, 1, &err)) die(&err);
    int *ids = malloc(sizeof(int) * BT), *all = malloc(sizeof(int) * BT), *next = malloc(sizeof(int) * BT);
    int last[B], label[B], label_ids[2] = {3967, 4633}; // " positive", " negative" in GPT-2's vocabulary
    unsigned char *is_embed = calloc(BT, 1);
    float *embeds = malloc(sizeof(float) * BT * C), *d_input = malloc(sizeof(float) * BT * C);
    float *dlogits = malloc(sizeof(float) * BT * V);
    if (!ids || !all || !next || !is_embed || !embeds || !d_input || !dlogits) { fprintf(stderr, "bench_backward: out of memory\n"); return 1; }
    for (int i = 0; i < BT; i++) { ids[i] = (i * 7919) % V; all[i] = i; }
    for (int i = 0; i < BT; i++) next[i] = ids[(i + 1) % BT];
    for (int i = 0; i < BT * C; i++) embeds[i] = 0.02f * (float)((i * 37) % 101 - 50) / 50.0f;
    for (int b = 0; b < B; b++) {
        last[b] = b * T + T - 1;
        label[b] = b % 2;
        for (int t = 0; t < 8 && t < T; t++) is_embed[b * T + t] = 1;
    }
    GPT2Batch cls = {.B = B, .T = T, .ids = ids, .embeds = embeds, .is_embed = is_embed, .out_pos = last, .n_out = B};
    GPT2Batch lm_soft = {.B = B, .T = T, .ids = ids, .embeds = embeds, .is_embed = is_embed, .out_pos = all, .n_out = BT};
    GPT2Batch lm = {.B = B, .T = T, .ids = ids, .out_pos = all, .n_out = BT};

    for (int j = 0; j < 2; j++) label_ids[j] %= V;
    Step s_fwd = {m, &a, &cls, label, label_ids, dlogits, d_input, NULL, 1};
    Step s_cls = {m, &a, &cls, label, label_ids, dlogits, d_input, NULL, 0};
    Step s_lm = {m, &a, &lm_soft, next, NULL, dlogits, d_input, NULL, 0};
    Step s_train = {m, &a, &lm, next, NULL, dlogits, NULL, &grads, 0};
    double block = 2.0 * 12.0 * C * C * c.n_layer * BT;    // forward, per pass over the weights
    double attn = 2.0 * c.n_layer * C * (T + 1) * (double)BT;
    double head = 2.0 * (double)V * C;                     // per logit row
    double f_fwd = block + attn + head * B;
    double f_cls = 2 * block + 3 * attn + head * B;         // forward + dX (dlogits: 2 nonzeros a row)
    double f_lm = 2 * block + 3 * attn + 2 * head * BT;
    double f_train = 3 * block + 3 * attn + 3 * head * BT;  // forward + dX + dW
    printf("openblas core %s, %d thread(s); L=%d H=%d C=%d V=%d, B=%d T=%d (%d tokens), median of %d\n",
           openblas_get_corename(), openblas_get_num_threads(), c.n_layer, c.n_head, C, V, B, T, BT, iters);
    printf("sgemm reference: %dx%dx%d (the QKV projection), 0.15 s before each timed step\n", BT, 3 * C, C);
    Gemm g = gemm_new(BT, 3 * C, C);
    report("forward alone, logits at last position", time_step(&s_fwd, &g, f_fwd, iters), f_fwd, BT);
    report("frozen fwd+bwd to inputs, 2-label loss at last", time_step(&s_cls, &g, f_cls, iters), f_cls, BT);
    report("frozen fwd+bwd to inputs, LM loss all pos", time_step(&s_lm, &g, f_lm, iters), f_lm, BT);
    report("training step (no AdamW, no zero_grad)", time_step(&s_train, &g, f_train, iters), f_train, BT);
    double t_zero[64];
    for (int i = 0; i < iters; i++) {
        double t0 = util_now();
        memset(grad_buf, 0, n * sizeof(float));
        t_zero[i] = util_now() - t0;
    }
    qsort(t_zero, iters, sizeof t_zero[0], cmp_double);
    printf("zero_grad (memset of %zu params, part of a real step): %.1f ms\n", n, 1e3 * t_zero[iters / 2]);
    free(g.A); free(g.B); free(g.C);

    gpt2_acts_free(&a);
    free(ids); free(all); free(next); free(is_embed); free(embeds); free(d_input); free(dlogits);
    free(grad_buf); free(grad_blocks);
    return 0;
}

int main(int argc, char **argv) { return bench_model_main(argc, argv, "bench_backward", run); }
