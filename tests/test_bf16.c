/*
 * tests/test_bf16.c: the bf16 precision (model/bf16.c) against the f32 path.
 *
 *   - rounding to bf16: ties to even, NaN and infinities kept, overflow to infinity;
 *   - each matmul of the 124M shape in isolation (the block's four weights forward and
 *     transposed for the backward's d input, wte for the LM head and its backward), at
 *     three row counts in turn (the memory objects follow M, the primitives do not change):
 *       (a) against the exact product of the bf16-rounded inputs (double): only the f32
 *           accumulation differs, |err| <= gamma_K * sum_k |a_k w_k| with gamma_K = K 2^-24
 *           (the classic summation bound, whatever the order oneDNN adds in): this pins the
 *           wiring (layouts, transposes, bias) to the last bits;
 *       (b) against the exact product of the f32 inputs: rounding a and w to bf16 costs each
 *           a relative error of at most u = 2^-9, so |err| <= (2u + u^2 + gamma_K) sum|a w|
 *           elementwise (a hard bound). For random data the errors are independent: one
 *           rounding's rms relative error is ulp/sqrt(12) * sqrt(E[1/x^2]) = 2^-7/sqrt(12) *
 *           sqrt(0.54) = 1.66e-3 (x the significand in [1,2), log-uniform), two per product
 *           give 2.35e-3 norm-wise (what this test measures, whatever K): we assert <= 2^-8 =
 *           3.9e-3;
 *   - a 2-layer C=256 GPT-2 checkpoint written here (gpt2_save, gpt2_load), ragged rows, a
 *     soft prompt, LM and 2-label losses: bf16 logits against f32 and the prompt gradients of
 *     gpt2_backward with frozen weights (d input), norm-wise relative error <= 2e-2 for both
 *     (the logits pass through 4L+1 = 9 matmuls, the gradients through 18 with the backward's;
 *     independent errors of 2.35e-3 each add up to 7e-3 and 1e-2 in quadrature, the residual
 *     stream adds them rather than multiplies them), and a cosine > 0.99 for the gradients;
 *     back to f32 gives the f32 results to the bit;
 *   - gpt2_backward with weight gradients under bf16 is refused; so is bf16 on a CPU without
 *     avx512_bf16/AMX (GPT2_BF16_DISABLE=1 makes one), with the message and the model left
 *     in f32; a weight the bf16 state does not know is a reported failure, not a crash.
 * On a CPU without bf16 the comparisons cannot run: they are reported as skipped checks
 * (tests/run.sh fails them under CI unless tests/skips-allowed lists them).
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bf16_internal.h"
#include "model/gpt2.h"

#define TEST_NAME "test_bf16"
#include "tests/testlib.h"

static const double U = 1.0 / 512; // 2^-9: bf16's unit roundoff

static void test_rounding(void) {
    const float in[] = {1.0f, 1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f, -0.0f,
                        INFINITY, -INFINITY, 3.4028235e38f, 0x1p-130f};
    const uint16_t want[] = {0x3f80, 0x3f80, 0x3f82, 0x3f81, 0x8000, 0x7f80, 0xff80, 0x7f80, 0x0008};
    enum { N = sizeof in / sizeof in[0] };
    uint16_t got[N];
    gpt2_bf16_round(got, in, N);
    for (int i = 0; i < N; i++) CHECK(got[i] == want[i], "bf16(%a) = %#x, want %#x", in[i], got[i], want[i]);
    float nan_in = NAN, back;
    uint16_t h;
    gpt2_bf16_round(&h, &nan_in, 1);
    gpt2_bf16_widen(&back, &h, 1);
    CHECK(isnan(back), "NaN rounds to %#x, not a NaN", h);
    float x = 1.5f + 0x1p-7f;
    gpt2_bf16_round(&h, &x, 1);
    gpt2_bf16_widen(&back, &h, 1);
    CHECK(back == x, "a bf16 value (%a) does not round-trip: %a", x, back);
}

static void test_parse(void) {
    GPT2Precision p = GPT2_BF16;
    Err err;
    CHECK(gpt2_precision_parse("f32", &p, &err) == 0 && p == GPT2_F32, "f32");
    CHECK(gpt2_precision_parse("bf16", &p, &err) == 0 && p == GPT2_BF16, "bf16");
    CHECK(gpt2_precision_parse("fp16", &p, &err) == -1 && strstr(err.msg, "\"bf16\""), "fp16: %s", err.msg);
    CHECK(!strcmp(GPT2_PRECISION_NAMES[GPT2_F32], "f32") && !strcmp(GPT2_PRECISION_NAMES[GPT2_BF16], "bf16"),
          "the names");
}

/* A model of config c in memory, weights N(0, 0.02^2) (GPT-2's initialisation), layer norms
 * at 1 and 0 (model_on_params shifts the gains by 1). */
static float *normal_model(GPT2Model *m, GPT2Config c, uint64_t seed) {
    size_t n = gpt2_num_params(&c);
    float *params = xmalloc(n * sizeof(float));
    Rng rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) params[i] = (float)(0.02 * rng_normal(&rng));
    model_on_params(m, c, params);
    return params;
}

// ----------------------------------------------------------------------------
// the matmuls of the 124M shape, one by one

/* ref (M,N) in double of a (M,K) times w (K,N), or w^T when trans (w (N,K)); abs (M,N) the
 * sum of |a_k w_k|. */
static void reference(double *ref, double *abs_sum, const float *a, const float *w, const float *bias, int M,
                      int K, int N, int trans) {
    for (int i = 0; i < M; i++) {
        double *s = ref + (size_t)i * N, *t = abs_sum + (size_t)i * N;
        for (int j = 0; j < N; j++) {
            s[j] = bias ? bias[j] : 0;
            t[j] = bias ? fabs(bias[j]) : 0;
        }
        const float *ai = a + (size_t)i * K;
        if (trans) // w (N,K): row j of w against row i of a
            for (int j = 0; j < N; j++) {
                const float *wj = w + (size_t)j * K;
                double x = 0, y = 0;
                for (int k = 0; k < K; k++) {
                    double p = (double)ai[k] * wj[k];
                    x += p;
                    y += fabs(p);
                }
                s[j] += x;
                t[j] += y;
            }
        else // w (K,N): row i of a times w, row by row of w
            for (int k = 0; k < K; k++) {
                const float *wk = w + (size_t)k * N;
                double x = ai[k];
                for (int j = 0; j < N; j++) {
                    double p = x * wk[j];
                    s[j] += p;
                    t[j] += fabs(p);
                }
            }
    }
}

static float *rounded_copy(const float *x, size_t n) {
    uint16_t *h = xmalloc(n * sizeof(uint16_t));
    float *r = xmalloc(n * sizeof(float));
    gpt2_bf16_round(h, x, n);
    gpt2_bf16_widen(r, h, n);
    free(h);
    return r;
}

/* One shape at M rows: the two comparisons of the header. */
static void check_matmul(GPT2Bf16 *b, const char *name, const float *w, const float *bias, int M, int K, int N,
                         int trans, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    size_t nin = (size_t)M * K, nout = (size_t)M * N, nw = (size_t)K * N;
    float *in = xmalloc(nin * sizeof(float)), *out = xmalloc(nout * sizeof(float));
    for (size_t i = 0; i < nin; i++) in[i] = (float)rng_normal(&rng); // layer-norm-like inputs
    Err err;
    int rc = gpt2_bf16_matmul(b, out, in, w, bias, M, K, N, trans);
    CHECK(rc == 0 && gpt2_bf16_error(b, "test", &err) == 0, "%s: the matmul failed", name);
    double *ref = xmalloc(nout * sizeof(double)), *abs_sum = xmalloc(nout * sizeof(double));
    // (a) the rounded inputs, exactly
    float *in_r = rounded_copy(in, nin), *w_r = rounded_copy(w, nw);
    reference(ref, abs_sum, in_r, w_r, bias, M, K, N, trans);
    double gamma = (K + 1) * 0x1p-24, worst_a = 0;
    for (size_t i = 0; i < nout; i++) worst_a = fmax(worst_a, fabs(out[i] - ref[i]) / (abs_sum[i] + 1e-30));
    CHECK(worst_a <= gamma, "%s M=%d: %g of sum|a w| from the product of the rounded inputs, over the "
                            "f32 accumulation bound %g", name, M, worst_a, gamma);
    // (b) the f32 inputs
    reference(ref, abs_sum, in, w, bias, M, K, N, trans);
    double worst_b = 0, d2 = 0, r2 = 0;
    for (size_t i = 0; i < nout; i++) {
        worst_b = fmax(worst_b, fabs(out[i] - ref[i]) / (abs_sum[i] + 1e-30));
        d2 += (out[i] - ref[i]) * (out[i] - ref[i]);
        r2 += ref[i] * ref[i];
    }
    double rel = sqrt(d2 / r2), bound_b = 2 * U + U * U + gamma;
    CHECK(worst_b <= bound_b, "%s M=%d: %g of sum|a w| from the f32 product, over %g", name, M, worst_b, bound_b);
    CHECK(rel <= 0x1p-8, "%s M=%d: norm-wise relative error %g over 2^-8", name, M, rel);
    printf("  %-26s M=%3d K=%5d N=%5d: rel. error %.2e (vs f32), max %.2e of sum|aw| (bound %.2e), "
           "%.1e vs bf16 inputs (bound %.1e)\n", name, M, K, N, rel, worst_b, bound_b, worst_a, gamma);
    free(in); free(out); free(ref); free(abs_sum); free(in_r); free(w_r);
}

static void test_matmuls_124m(void) {
    // the 124M block shape, one layer; a vocabulary of 2048 (the LM head's shape but V)
    GPT2Config c = {.n_layer = 1, .n_head = 12, .n_embd = 768, .n_positions = 64, .vocab_size = 2048,
                    .layer_norm_epsilon = 1e-5f};
    GPT2Model m;
    float *params = normal_model(&m, c, 7);
    Err err;
    if (gpt2_set_precision(&m, GPT2_BF16, &err)) die("bf16 on a supported CPU: %s", err.msg);
    CHECK(m.precision == GPT2_BF16 && m.bf16, "the model is not bf16");
    const GPT2Block *w = &m.w.blocks[0];
    int C = c.n_embd, V = c.vocab_size;
    const int rows[] = {32, 5, 32};   // a new M, a smaller one, the first again
    for (int r = 0; r < 3; r++) {
        int M = rows[r];
        uint64_t s = 100 + r;
        check_matmul(m.bf16, "attn (qkv) forward", w->attn_w, w->attn_b, M, C, 3 * C, 0, s);
        check_matmul(m.bf16, "attn proj forward", w->attn_proj_w, w->attn_proj_b, M, C, C, 0, s);
        check_matmul(m.bf16, "fc forward", w->fc_w, w->fc_b, M, C, 4 * C, 0, s);
        check_matmul(m.bf16, "fc proj forward", w->fc_proj_w, w->fc_proj_b, M, 4 * C, C, 0, s);
        if (r == 1) continue;   // the backward's and the head's at two M
        check_matmul(m.bf16, "attn (qkv) d input", w->attn_w, NULL, M, 3 * C, C, 1, s);
        check_matmul(m.bf16, "attn proj d input", w->attn_proj_w, NULL, M, C, C, 1, s);
        check_matmul(m.bf16, "fc d input", w->fc_w, NULL, M, 4 * C, C, 1, s);
        check_matmul(m.bf16, "fc proj d input", w->fc_proj_w, NULL, M, C, 4 * C, 1, s);
        check_matmul(m.bf16, "LM head", m.w.wte, NULL, M, C, V, 1, s);
        check_matmul(m.bf16, "LM head d input", m.w.wte, NULL, M, V, C, 0, s);
    }
    // a tensor the bf16 state does not hold: NaN out, the failure reported once
    float out[4 * 8], in[4 * 16] = {0};
    CHECK(gpt2_bf16_matmul(m.bf16, out, in, in, NULL, 4, 16, 8, 0) == -1 && isnan(out[0]) && isnan(out[31]),
          "an unknown weight gave no failure and no NaN");
    CHECK(gpt2_bf16_error(m.bf16, "forward", &err) == -1 && strstr(err.msg, "forward: bf16 matmul: no bf16 copy"),
          "the failure's message: %s", err.msg);
    CHECK(gpt2_bf16_error(m.bf16, "forward", &err) == 0, "the failure was reported twice");
    CHECK(gpt2_set_precision(&m, GPT2_F32, &err) == 0 && m.precision == GPT2_F32 && !m.bf16, "back to f32");
    free(params);
    free(m.blocks_storage);
}

// ----------------------------------------------------------------------------
// a 2-layer C=256 checkpoint: logits and prompt gradients

static double rel_error(const float *x, const float *ref, size_t n, double *cosine) {
    double d2 = 0, r2 = 0, x2 = 0, dot = 0;
    for (size_t i = 0; i < n; i++) {
        d2 += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
        r2 += (double)ref[i] * ref[i];
        x2 += (double)x[i] * x[i];
        dot += (double)x[i] * ref[i];
    }
    if (cosine) *cosine = dot / sqrt(x2 * r2);
    return sqrt(d2 / r2);
}

enum { B = 4, T = 40, SOFT = 6 };

typedef struct {
    GPT2Acts a;
    GPT2Batch bt;
    int ids[B * T], lens[B], out_pos[B * T], targets[B * T], label_pos[B], label_ids[2];
    unsigned char is_embed[B * T];
    float *embeds, *dlogits, *dlabel, *d_input;
    int n_real;
} Run;

/* Forward, LM loss over every real position plus a 2-label loss at each row's last position,
 * backward to the inputs (frozen weights): logits into logits, d input into d_input. */
static int run_once(const GPT2Model *m, Run *r, float *logits, float *label_logits, float *d_input, Err *err) {
    int V = m->config.vocab_size, C = m->config.n_embd;
    if (gpt2_forward(m, &r->a, &r->bt, err)) return -1;
    memcpy(logits, r->a.logits, (size_t)r->n_real * V * sizeof(float));
    memcpy(label_logits, r->a.label_logits, (size_t)B * 2 * sizeof(float));
    gpt2_crossentropy(r->a.logits, r->targets, r->n_real, V, r->dlogits, 1.0f);
    for (int b = 0; b < B; b++) {
        const float *x = r->a.label_logits + b * 2;
        float p1 = 1.0f / (1.0f + expf(x[0] - x[1]));
        r->dlabel[b * 2] = (1.0f - p1) - (b % 2 == 0);
        r->dlabel[b * 2 + 1] = p1 - (b % 2 == 1);
    }
    if (gpt2_backward(m, &r->a, &r->bt, r->dlogits, r->dlabel, d_input, NULL, err)) return -1;
    (void)C;
    return 0;
}

static void test_model(const char *dir) {
    GPT2Config c = {.n_layer = 2, .n_head = 4, .n_embd = 256, .n_positions = 128, .vocab_size = 4096,
                    .layer_norm_epsilon = 1e-5f};
    GPT2Model made, m;
    float *params = normal_model(&made, c, 11);
    Err err;
    if (gpt2_save(&c, &made.w, dir, &err) || gpt2_load(&m, dir, &err)) die("checkpoint: %s", err.msg);
    free(params);
    free(made.blocks_storage);
    int V = c.vocab_size, C = c.n_embd;

    static Run r;
    memset(&r, 0, sizeof r);
    if (gpt2_acts_alloc(&r.a, &c, B, T, T, B * T, 1, &err)) die("%s", err.msg);
    uint64_t s = 5;
    r.embeds = xmalloc((size_t)B * T * C * sizeof(float));
    for (size_t i = 0; i < (size_t)B * T * C; i++) r.embeds[i] = 0.02f * sum_of_uniforms(&s) * 1.7f;
    const int lens[B] = {40, 23, 9, 31};
    for (int b = 0; b < B; b++) {
        r.lens[b] = lens[b];
        for (int t = 0; t < T; t++) {
            r.ids[b * T + t] = (int)(xorshift64(&s) % (uint64_t)V);
            r.is_embed[b * T + t] = t < SOFT;
        }
        for (int t = 0; t < lens[b]; t++) {
            r.out_pos[r.n_real] = b * T + t;
            r.targets[r.n_real++] = t + 1 < lens[b] ? r.ids[b * T + t + 1] : GPT2_EOT % V;
        }
        r.label_pos[b] = b * T + lens[b] - 1;
    }
    r.label_ids[0] = 17;
    r.label_ids[1] = 1234;
    r.bt = (GPT2Batch){.B = B, .T = T, .ids = r.ids, .lens = r.lens, .embeds = r.embeds, .is_embed = r.is_embed,
                       .out_pos = r.out_pos, .n_out = r.n_real, .label_pos = r.label_pos, .n_label = B,
                       .label_ids = r.label_ids, .n_label_ids = 2};
    r.dlogits = xmalloc((size_t)B * T * V * sizeof(float));
    r.dlabel = xmalloc(B * 2 * sizeof(float));
    size_t nl = (size_t)r.n_real * V, nd = (size_t)B * T * C;
    float *logits32 = xmalloc(nl * sizeof(float)), *logits16 = xmalloc(nl * sizeof(float));
    float *again = xmalloc(nl * sizeof(float)), lab32[B * 2], lab16[B * 2], lab_again[B * 2];
    float *d32 = xmalloc(nd * sizeof(float)), *d16 = xmalloc(nd * sizeof(float)), *d_again = xmalloc(nd * sizeof(float));

    CHECK(run_once(&m, &r, logits32, lab32, d32, &err) == 0, "f32: %s", err.msg);
    CHECK(gpt2_set_precision(&m, GPT2_BF16, &err) == 0, "bf16: %s", err.msg);
    CHECK(run_once(&m, &r, logits16, lab16, d16, &err) == 0, "bf16: %s", err.msg);
    double cos_d, rel_l = rel_error(logits16, logits32, nl, NULL), rel_lab = rel_error(lab16, lab32, B * 2, NULL);
    double rel_d = rel_error(d16, d32, nd, &cos_d);
    // the padding positions of d input are 0 in both
    int pad_zero = 1;
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int i = 0; i < C; i++) pad_zero &= d16[((size_t)b * T + t) * C + i] == 0.0f;
    printf("  2 layers C=256 V=4096, %d real positions: logits rel. error %.2e, label logits %.2e; d input "
           "rel. error %.2e, cosine %.6f\n", r.n_real, rel_l, rel_lab, rel_d, cos_d);
    CHECK(rel_l <= 2e-2, "bf16 logits differ from f32 by %g (norm-wise)", rel_l);
    CHECK(rel_lab <= 2e-2, "bf16 label logits differ from f32 by %g (norm-wise)", rel_lab);
    CHECK(cos_d > 0.99, "bf16 prompt gradients: cosine %g with f32", cos_d);
    CHECK(rel_d <= 2e-2, "bf16 prompt gradients differ from f32 by %g (norm-wise)", rel_d);
    CHECK(pad_zero, "bf16: padding positions got a gradient");

    // weight gradients are refused under bf16
    size_t np = gpt2_num_params(&c);
    float *gbuf = calloc(np, sizeof(float));
    GPT2Block *gblocks = xmalloc((size_t)c.n_layer * sizeof(GPT2Block));
    GPT2Weights grads;
    gpt2_point_weights(&grads, gblocks, gbuf, &c);
    CHECK(gpt2_backward(&m, &r.a, &r.bt, r.dlogits, r.dlabel, d16, &grads, &err) == -1 &&
          strstr(err.msg, "weight gradients need precision f32"), "bf16 + grads: %s", err.msg);
    int untouched = 1;
    for (size_t i = 0; i < np; i++) untouched &= gbuf[i] == 0.0f;
    CHECK(untouched, "a refused backward wrote gradients");

    // back to f32: the f32 results to the bit
    CHECK(gpt2_set_precision(&m, GPT2_F32, &err) == 0 && !m.bf16, "f32 again: %s", err.msg);
    CHECK(run_once(&m, &r, again, lab_again, d_again, &err) == 0, "f32 again: %s", err.msg);
    CHECK(!memcmp(again, logits32, nl * sizeof(float)) && !memcmp(lab_again, lab32, sizeof lab32) &&
          !memcmp(d_again, d32, nd * sizeof(float)), "f32 after bf16 is not the f32 of before");
    CHECK(gpt2_backward(&m, &r.a, &r.bt, r.dlogits, r.dlabel, d_again, &grads, &err) == 0, "f32 + grads: %s", err.msg);

    // bf16 twice: the second call replaces the first (no leak: ASan), gpt2_free frees it
    CHECK(gpt2_set_precision(&m, GPT2_BF16, &err) == 0 && gpt2_set_precision(&m, GPT2_BF16, &err) == 0, "bf16 twice");
    free(gbuf); free(gblocks);
    free(logits32); free(logits16); free(again); free(d32); free(d16); free(d_again);
    free(r.embeds); free(r.dlogits); free(r.dlabel);
    gpt2_acts_free(&r.a);
    gpt2_free(&m);
    CHECK(!m.bf16, "gpt2_free left the bf16 state");
}

/* A CPU without avx512_bf16/AMX, as GPT2_BF16_DISABLE makes one: bf16 refused with the
 * reason, the model left in f32. */
static void test_disabled(void) {
    GPT2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 16, .vocab_size = 64,
                    .layer_norm_epsilon = 1e-5f};
    GPT2Model m;
    float *params = normal_model(&m, c, 3);
    Err err;
    const char *was = getenv("GPT2_BF16_DISABLE");
    char keep[64] = "";
    if (was) snprintf(keep, sizeof keep, "%s", was);
    setenv("GPT2_BF16_DISABLE", "1", 1);
    CHECK(gpt2_set_precision(&m, GPT2_BF16, &err) == -1, "bf16 accepted with GPT2_BF16_DISABLE=1");
    CHECK(strstr(err.msg, "precision bf16: this CPU has neither avx512_bf16 nor AMX") &&
          strstr(err.msg, "use precision f32") && !strchr(err.msg, '\n'), "the message: %s", err.msg);
    CHECK(m.precision == GPT2_F32 && !m.bf16, "a refused bf16 changed the model");
    CHECK(gpt2_bf16_supported(&err) == 0, "supported with GPT2_BF16_DISABLE=1");
    setenv("GPT2_BF16_DISABLE", "0", 1);   // "0" is not set
    CHECK(gpt2_bf16_supported(NULL) == gpt2_bf16_supported(&err), "GPT2_BF16_DISABLE=0");
    if (was) setenv("GPT2_BF16_DISABLE", keep, 1);
    else unsetenv("GPT2_BF16_DISABLE");
    free(params);
    free(m.blocks_storage);
}

int main(void) {
    make_root();
    test_rounding();
    test_parse();
    test_disabled();
    Err err;
    if (!gpt2_bf16_supported(&err)) {
        // the comparisons need the instructions: a skipped check, never a pass
        printf("skip-check: bf16 against f32 not compared: %s\n", err.msg);
        return test_finish();
    }
    test_matmuls_124m();
    in_scratch_dir("model", test_model);
    return test_finish();
}
