/*
 * bench/bench_forward.c: forward throughput of a random GPT-2 (124M shape by
 * default) next to the sgemm rate measured in the same process, so the two
 * can be compared as a ratio (share of the GEMM rate the whole forward gets).
 *
 *   bench_forward [--layers 12 --heads 12 --embd 768 --vocab 50257] [--B 4 --T 64] [--iters 5]
 *
 * Reports: forward with logits at every position, forward with logits at the
 * last position of each row only (what a classifier needs), and sgemm GFLOP/s
 * on the QKV projection shape (B*T x 3C x C).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "model/gpt2.h"

/* Median wall time of iters forwards. */
static double time_forward(const GPT2Model *m, GPT2Acts *a, const GPT2Batch *b, int iters) {
    double t[64];
    Err err;
    if (gpt2_forward(m, a, b, &err)) { fprintf(stderr, "bench_forward: %s\n", err.msg); exit(1); } // warm-up
    for (int i = 0; i < iters; i++) {
        double t0 = util_now();
        gpt2_forward(m, a, b, &err);
        t[i] = util_now() - t0;
    }
    qsort(t, iters, sizeof t[0], cmp_double);
    return t[iters / 2];
}

/* GFLOP/s of out (M,N) = A (M,K) B (K,N), median of a few runs of >= 0.2 s. */
static double sgemm_rate(int M, int N, int K) {
    float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N), *C = malloc(sizeof(float) * M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = (float)(i % 5) * 0.01f;
    double rates[5];
    for (int r = 0; r < 5; r++) {
        int n = 0;
        double t0 = util_now(), el;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
            n++;
        } while ((el = util_now() - t0) < 0.2);
        rates[r] = 2.0 * M * N * K * n / el / 1e9;
    }
    qsort(rates, 5, sizeof rates[0], cmp_double);
    free(A); free(B); free(C);
    return rates[2];
}

static int run(const BenchShape *s, const GPT2Model *m) {
    GPT2Config c = s->c;
    int B = s->B, T = s->T, iters = s->iters;
    GPT2Acts a;
    Err err;
    if (gpt2_acts_alloc(&a, &c, B, T, T, B * T, 0, &err)) { fprintf(stderr, "bench_forward: %s\n", err.msg); return 1; }
    int *ids = malloc(sizeof(int) * B * T), *all = malloc(sizeof(int) * B * T), last[B];
    for (int i = 0; i < B * T; i++) { ids[i] = (i * 7919) % c.vocab_size; all[i] = i; }
    for (int b = 0; b < B; b++) last[b] = b * T + T - 1;
    GPT2Batch full = {.B = B, .T = T, .ids = ids, .out_pos = all, .n_out = B * T};
    GPT2Batch cls = {.B = B, .T = T, .ids = ids, .out_pos = last, .n_out = B};

    double t_all = time_forward(m, &a, &full, iters), t_last = time_forward(m, &a, &cls, iters);
    double rate = sgemm_rate(B * T, 3 * c.n_embd, c.n_embd);
    // FLOPs: 2 per weight per token in the blocks, attention 4*L*C*(T+1)/2 per token, LM head 2*V*C per row
    double block = 2.0 * 12.0 * c.n_embd * c.n_embd * c.n_layer * B * T;
    double attn = 2.0 * c.n_layer * c.n_embd * (T + 1) * (double)B * T;
    double head = 2.0 * c.vocab_size * c.n_embd;
    double f_all = block + attn + head * B * T, f_last = block + attn + head * B;
    printf("openblas core %s, %d thread(s); L=%d H=%d C=%d V=%d, B=%d T=%d\n", openblas_get_corename(),
           openblas_get_num_threads(), c.n_layer, c.n_head, c.n_embd, c.vocab_size, B, T);
    printf("sgemm %dx%dx%d: %.1f GFLOP/s\n", B * T, 3 * c.n_embd, c.n_embd, rate);
    printf("forward, logits at all %d positions: %7.1f ms  %7.0f tok/s  %6.1f GFLOP/s = %.2f of sgemm\n",
           B * T, 1e3 * t_all, B * T / t_all, f_all / t_all / 1e9, f_all / t_all / 1e9 / rate);
    printf("forward, logits at last position:    %7.1f ms  %7.0f tok/s  %6.1f GFLOP/s = %.2f of sgemm\n",
           1e3 * t_last, B * T / t_last, f_last / t_last / 1e9, f_last / t_last / 1e9 / rate);
    gpt2_acts_free(&a);
    free(ids); free(all);
    return 0;
}

int main(int argc, char **argv) { return bench_model_main(argc, argv, "bench_forward", run); }
