/*
 * tests/test_pez.c: PEZ (tuners/pez.c).
 *   - the projection: cosine argmax on a made-up embedding matrix where
 *     cosine, dot product and L2 distance pick three different rows; raw
 *     rows out; ties to the lower id; a zero row;
 *   - init: class-name ids repeated, random ids from the seed;
 *   - gradient clipping; Adafactor (2x3, t = 1 with the update clipping
 *     engaged, t = 2 without) and AdamW (two steps) against numbers worked
 *     out by hand (plain Python floats, see the comments);
 *   - the reset quirk on the reference doc's toy case (constant gradient):
 *     stuck one step from the projection, vs Alg. 1 accumulating and
 *     changing token;
 *   - on a tiny random model with made-up examples (pre empty, and pre
 *     non-empty): the objective and its gradient against an independent
 *     batch (prompt fed as vectors, a [<|endoftext|>, P'] row of L+1
 *     positions); the straight-through step (P moves by the gradient at P',
 *     not at P); the lambda term's gradient (the extra batch row, and a
 *     separate scorer model) against central finite differences of log_ppl
 *     by an independent GPT-2 forward in double (h = 1e-5); lambda = 0 vs
 *     lambda > 0 (the difference is lambda times the row's gradient);
 *     per-epoch batches; refusals;
 *   - soft prompt tuning (method soft): its gradient w.r.t. P, the task
 *     term's at P plus the log-PPL term's at the projection P', against
 *     central differences in double of independent forwards (lambda 0.5 with
 *     both ppl_grad modes, lambda 0), with probes showing that PEZ's gradient
 *     (at P') or one without the log-PPL term would fail it (and by hand: the
 *     task rows fed the projection's ids, or the log-PPL term's input or
 *     target side dropped, each fail it); the step moves P itself;
 *   - an end-to-end pez_run on a tiny random checkpoint (gpt2_save, then
 *     gpt2_load: read-only mapped weights) with the tokenizer and the SST-2
 *     16-shot split: history, best step, progress, determinism, other
 *     settings, an error inside the loop; and soft_run: the projection
 *     reported, the soft prompt's objective, faithfulness at the chosen step.
 *     Skipped (exit 77) when the tokenizer or the data are missing.
 * Env: SHARED (default ../shared), TOKENIZER_DIR (default
 * models/gpt2-tokenizer), TMP (scratch, default /tmp).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkdtemp
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gpt2.h"
#include "tuners/pez_internal.h"
#include "tuners/tuners.h"

#define TEST_NAME "test_pez"
#include "tests/testlib.h"

/* max |a - b| over n, and max |b| */
static double max_abs_diff(const float *a, const float *b, size_t n, double *scale) {
    double d = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    if (scale) *scale = s;
    return d;
}

// ----------------------------------------------------------------------------
// projection

static void test_projection(void) {
    enum { V = 7, C = 4, L = 3 };
    const float wte[V * C] = {
        1, 0, 0, 0,        // 0: a, unit
        0, 0, 1, 0,        // 1: e
        10, 10, 0, 0,      // 2: b, the largest dot product with P_0
        0, 0, 1, 0,        // 3: e again (a tie with 1)
        0.5f, 0.6f, 0, 0,  // 4: c, the nearest to P_0 in L2
        0.25f, 0.2f, 0, 0, // 5: d, parallel to P_0: cosine 1
        0, 0, 0, 0,        // 6: a zero row
    };
    const float P[L * C] = {
        1, 0.8f, 0, 0,     // cosine -> 5, dot -> 2, L2 -> 4
        0, 0, 2, 0,        // a tie of 1 and 3 -> 1
        -1, -1, 0, 0,      // cosine 0 at 1, 3 and the zero row 6, negative elsewhere -> 1
    };
    // the construction: dot product and L2 pick other rows for P_0
    int by_dot = 0, by_l2 = 0;
    double best_dot = -1e30, best_l2 = 1e30;
    for (int v = 0; v < V; v++) {
        double dot = 0, d2 = 0;
        for (int c = 0; c < C; c++) {
            dot += P[c] * wte[v * C + c];
            d2 += (P[c] - wte[v * C + c]) * (P[c] - wte[v * C + c]);
        }
        if (dot > best_dot) { best_dot = dot; by_dot = v; }
        if (d2 < best_l2) { best_l2 = d2; by_l2 = v; }
    }
    CHECK(by_dot == 2 && by_l2 == 4, "test construction: dot picks %d, L2 picks %d", by_dot, by_l2);

    float inv_norm[V], proj[L * C], cos[L * V];
    int ids[L];
    pez_inv_norms(inv_norm, wte, V, C);
    CHECK(close_to(inv_norm[2], 1.0 / sqrt(200.0), 1e-7) && inv_norm[6] == 1e12f,
          "inverse norms %g %g", inv_norm[2], inv_norm[6]);
    pez_project(ids, proj, cos, P, wte, inv_norm, NULL, L, V, C);
    CHECK(ids[0] == 5, "cosine projection of P_0 picked %d, want 5 (dot: 2, L2: 4)", ids[0]);
    CHECK(ids[1] == 1, "a tie of rows 1 and 3 went to %d, want the lower id 1", ids[1]);
    CHECK(ids[2] == 1, "P_2 picked %d, want 1 (cosine 0, the lowest id among the zeros)", ids[2]);
    for (int i = 0; i < L; i++) // the raw rows, not normalised: row 5 has norm 0.32
        CHECK(memcmp(proj + i * C, wte + ids[i] * C, C * sizeof(float)) == 0, "projected row %d is not wte[%d]", i, ids[i]);
    // a prompt vocabulary without 5 and 1: for P_0 the next by cosine, 2 (0.994; 4 has 0.980);
    // 3 for the tie; for P_2, 3 again (cosine 0, below it the zero row 6: also 0, a higher id)
    const unsigned char allowed[V] = {1, 0, 1, 1, 1, 0, 1};
    pez_project(ids, proj, cos, P, wte, inv_norm, allowed, L, V, C);
    CHECK(ids[0] == 2 && ids[1] == 3 && ids[2] == 3, "restricted projection %d %d %d, want 2 3 3", ids[0], ids[1], ids[2]);
    for (int i = 0; i < L; i++)
        CHECK(memcmp(proj + i * C, wte + ids[i] * C, C * sizeof(float)) == 0, "projected row %d is not wte[%d]", i, ids[i]);
}

/* <|endoftext|> is never a projection, even when every prompt row points
 * at it and the mask (or no mask) would allow it: its embedding made the
 * most attractive there is (a huge row, and P equal to it), the projection
 * takes the runner-up. */
static void test_projection_never_eot(void) {
    enum { V = 50257, C = 8, L = 2 };
    float *wte = xmalloc((size_t)V * C * sizeof(float)), *cos = xmalloc((size_t)L * V * sizeof(float));
    float inv_norm[V], P[L * C], proj[L * C];
    Rng rng;
    rng_seed(&rng, 3);
    for (size_t k = 0; k < (size_t)V * C; k++) wte[k] = (float)rng_normal(&rng);
    for (int c = 0; c < C; c++) wte[(size_t)GPT2_EOT * C + c] = 100.0f * (c + 1);
    for (int i = 0; i < L; i++) memcpy(P + i * C, wte + (size_t)GPT2_EOT * C, C * sizeof(float));
    // the runner-up: the row with the highest cosine to the EOT row, by brute force
    double best = -2;
    int runner_up = -1;
    for (int v = 0; v < V; v++) {
        if (v == GPT2_EOT) continue;
        double dot = 0, n1 = 0, n2 = 0;
        for (int c = 0; c < C; c++) {
            dot += (double)wte[(size_t)v * C + c] * P[c];
            n1 += (double)wte[(size_t)v * C + c] * wte[(size_t)v * C + c];
            n2 += (double)P[c] * P[c];
        }
        if (dot / sqrt(n1 * n2) > best) { best = dot / sqrt(n1 * n2); runner_up = v; }
    }
    pez_inv_norms(inv_norm, wte, V, C);
    int ids[L];
    unsigned char *all = xmalloc(V);
    memset(all, 1, V); // a mask that (wrongly) allows everything
    for (int masked = 0; masked <= 1; masked++) {
        pez_project(ids, proj, cos, P, wte, inv_norm, masked ? all : NULL, L, V, C);
        CHECK(ids[0] != GPT2_EOT && ids[1] != GPT2_EOT, "projected onto <|endoftext|> (%s)", masked ? "mask" : "no mask");
        CHECK(ids[0] == runner_up && ids[1] == runner_up, "projection %d %d, want the runner-up %d", ids[0], ids[1],
              runner_up);
    }
    // random init draws from the vocabulary only: a mask of 3 ids
    memset(all, 0, V);
    all[7] = all[4000] = all[GPT2_EOT] = 1;
    Rng r;
    rng_seed(&r, 5);
    int init[64], label_ids[2] = {7, 9};
    pez_init_ids(init, 64, label_ids, 2, 1, all, V, &r);
    int seen7 = 0, seen4000 = 0, bad = 0;
    for (int i = 0; i < 64; i++) {
        seen7 += init[i] == 7;
        seen4000 += init[i] == 4000;
        bad += init[i] != 7 && init[i] != 4000;
    }
    CHECK(bad == 0 && seen7 > 0 && seen4000 > 0, "random init outside the vocabulary (%d), or one id only", bad);
    free(wte);
    free(cos);
    free(all);
}

// ----------------------------------------------------------------------------
// init

static void test_init(void) {
    int label_ids[3] = {11, 22, 33}, ids[7];
    pez_init_ids(ids, 7, label_ids, 3, 0, NULL, 100, NULL);
    const int want[7] = {11, 22, 33, 11, 22, 33, 11};
    CHECK(memcmp(ids, want, sizeof want) == 0, "class-name init %d %d %d %d %d %d %d", ids[0], ids[1],
          ids[2], ids[3], ids[4], ids[5], ids[6]);
    Rng a, b;
    rng_seed(&a, 9);
    rng_seed(&b, 9);
    int r1[7], r2[7], in_range = 1, distinct = 0;
    pez_init_ids(r1, 7, label_ids, 3, 1, NULL, 50257, &a);
    pez_init_ids(r2, 7, label_ids, 3, 1, NULL, 50257, &b);
    for (int i = 0; i < 7; i++) {
        in_range &= r1[i] >= 0 && r1[i] < 50257 && r1[i] != GPT2_EOT;
        distinct += r1[i] != r1[0];
    }
    CHECK(memcmp(r1, r2, sizeof r1) == 0 && in_range && distinct > 0, "random init not seeded or out of range");
    float wte[4 * 2] = {0, 1, 2, 3, 4, 5, 6, 7}, P[3 * 2];
    int e[3] = {3, 0, 3};
    pez_embed(P, e, wte, 3, 2);
    CHECK(P[0] == 6 && P[1] == 7 && P[2] == 0 && P[3] == 1 && P[4] == 6 && P[5] == 7, "pez_embed rows");
}

// ----------------------------------------------------------------------------
// optimisation

/* PEZ's clip: gpt2_clip_grads as torch's clip_grad_norm_ (pez_update). */
static void test_clip(void) {
    const GPT2Numerics torch = pez_adamw(0.1, 0.1).numerics;
    float g[2] = {3, 4};
    double norm = gpt2_clip_grads(g, 2, 1.0, torch);
    double k = 1.0 / (5.0 + 1e-6); // torch: max_norm / (norm + 1e-6)
    CHECK(norm == 5.0 && close_to(g[0], 3 * k, 1e-7) && close_to(g[1], 4 * k, 1e-7),
          "clip to 1: norm %g, g (%g, %g)", norm, g[0], g[1]);
    float h[2] = {0.3f, 0.4f};
    gpt2_clip_grads(h, 2, 1.0, torch);
    CHECK(h[0] == 0.3f && h[1] == 0.4f, "a norm under the limit was changed");
    float f[2] = {30, 40};
    norm = gpt2_clip_grads(f, 2, 0.0, torch);
    CHECK(norm == 50.0 && f[0] == 30 && f[1] == 40, "clip 0 must be off");
}

/* P (2x3), row (2), col (3) after Adafactor step t against the wanted values. */
static void check_adafactor(const float *P, const float *row, const float *col, const double *want_P,
                            const double *want_row, const double *want_col, int t) {
    for (int i = 0; i < 6; i++) CHECK(close_to(P[i], want_P[i], 1e-6), "adafactor t=%d P[%d] %.9g, want %.9g", t, i, P[i], want_P[i]);
    for (int i = 0; i < 2; i++) CHECK(close_to(row[i], want_row[i], 1e-6), "adafactor t=%d row[%d] %.9g", t, i, row[i]);
    for (int i = 0; i < 3; i++) CHECK(close_to(col[i], want_col[i], 1e-6), "adafactor t=%d col[%d] %.9g", t, i, col[i]);
}

/* Worked out in plain Python doubles from HF's Adafactor.step (factored,
 * beta1 None, lr fixed 0.3):
 *   t = 1: beta2 = 0, row = (0.0466667, 0.1741667), col = (0.085, 0.02125, 0.225),
 *          rms(upd) = 1.151873 > 1: the update is clipped;
 *   t = 2: beta2 = 1 - 2^-0.8, rms(upd) = 0.148204 <= 1: not clipped. */
static void test_adafactor(void) {
    float P[6] = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f, 0.25f};
    const float g1[6] = {0.1f, -0.2f, 0.3f, 0.4f, 0.05f, -0.6f};
    const float g2[6] = {0.01f, 0.02f, -0.03f, -0.002f, 0.004f, 0.001f};
    float row[2] = {0, 0}, col[3] = {0, 0, 0};
    pez_adafactor_step(P, g1, row, col, 2, 3, 1, 0.3);
    const double P1[6] = {0.8625891174161252, 2.549643530335499, 2.7466268518204227,
                          -1.2845129186581108, 0.4288717703354723, 0.5123079502242607};
    const double row1[2] = {0.04666666666666667, 0.17416666666666666};
    const double col1[3] = {0.08500000000000002, 0.021250000000000005, 0.22499999999999998};
    check_adafactor(P, row, col, P1, row1, col1, 1);
    pez_adafactor_step(P, g2, row, col, 2, 3, 2, 0.3);
    const double P2[6] = {0.8384658075660214, 2.453741715821741, 2.791066402383285,
                          -1.2819987960397583, 0.41887691794961507, 0.5115360379126573};
    const double row2[2] = {0.020131734666235163, 0.07413820536325069};
    const double col2[3] = {0.036210186069855946, 0.009164544607076199, 0.09603017936729666};
    check_adafactor(P, row, col, P2, row2, col2, 2);
}

/* PEZ's AdamW (pez_adamw's settings for gpt2_adam_step) as
 * torch.optim.AdamW(lr 0.1, weight_decay 0.1), two steps, by hand in Python. */
static void test_adamw(void) {
    const GPT2Adam adamw = pez_adamw(0.1, 0.1);
    float P[4] = {1.0f, -0.5f, 0.25f, 0.0f}, m[4] = {0}, v[4] = {0};
    const float g1[4] = {0.5f, -0.1f, 0.0f, 2.0f}, g2[4] = {-0.3f, 0.2f, 1e-3f, 2.0f};
    gpt2_adam_step(P, g1, m, v, 4, &adamw, 1, NULL);
    const double P1[4] = {0.890000002, -0.395000009999999, 0.2475, -0.0999999995};
    for (int i = 0; i < 4; i++) CHECK(close_to(P[i], P1[i], 1e-6), "adamw t=1 P[%d] %.9g, want %.9g", i, P[i], P1[i]);
    gpt2_adam_step(P, g2, m, v, 4, &adamw, 2, NULL);
    const double P2[4] = {0.8619501989217752, -0.42766036028848886, 0.17061236973368987, -0.19899999900499932};
    const double m2[4] = {0.015, 0.011, 1e-4, 0.38}, v2[4] = {3.3975e-4, 4.999e-5, 1e-9, 0.007996};
    for (int i = 0; i < 4; i++) {
        CHECK(close_to(P[i], P2[i], 1e-6), "adamw t=2 P[%d] %.9g, want %.9g", i, P[i], P2[i]);
        CHECK(fabs(m[i] - m2[i]) <= 1e-6 * fabs(m2[i]) && fabs(v[i] - v2[i]) <= 1e-6 * fabs(v2[i]),
              "adamw t=2 moments [%d] %g %g", i, m[i], v[i]);
    }
}

/* The reference doc's toy case: a constant small gradient, Adafactor lr 0.3.
 * Vocabulary a = (1, 0) (id 0), b = (0, 1) (id 1); P starts at a; g = (c, -c)
 * makes every Adafactor update exactly 0.3 (1, -1). Alg. 1: P = (1 - 0.3t,
 * 0.3t), the token becomes b at t = 2. Reset quirk: P = Proj(P) - step,
 * stuck at (0.7, 0.3), always a. */
static void test_reset_quirk(void) {
    const float wte[4] = {1, 0, 0, 1};
    float inv_norm[2], cos[2], proj[2], row[1], col[2], g[2];
    pez_inv_norms(inv_norm, wte, 2, 2);
    for (int quirk = 0; quirk <= 1; quirk++) {
        float P[2] = {1, 0};
        row[0] = col[0] = col[1] = 0;
        PezOptim o = {.kind = PEZ_ADAFACTOR, .lr = 0.3, .L = 1, .C = 2, .row = row, .col = col};
        int id = -1;
        for (int t = 1; t <= 3; t++) {
            pez_project(&id, proj, cos, P, wte, inv_norm, NULL, 1, 2, 2);
            g[0] = 0.01f;
            g[1] = -0.01f;
            pez_update(P, proj, g, &o, 1.0, quirk);
            double want0 = quirk ? 0.7 : 1.0 - 0.3 * t, want1 = quirk ? 0.3 : 0.3 * t;
            CHECK(close_to(P[0], want0, 1e-6) && close_to(P[1], want1, 1e-6),
                  "%s t=%d: P (%g, %g), want (%g, %g)", quirk ? "reset quirk" : "Alg. 1", t, P[0], P[1], want0, want1);
        }
        pez_project(&id, proj, cos, P, wte, inv_norm, NULL, 1, 2, 2);
        CHECK(id == (quirk ? 0 : 1), "%s: token %d after 3 steps", quirk ? "reset quirk" : "Alg. 1", id);
        CHECK(o.t == 3, "optimizer step count %d", o.t);
    }
}

// ----------------------------------------------------------------------------
// a tiny random model and made-up examples

enum { TV = 50257, TC = 16, TL = 3, TB = 4, TK = 2 };
static const int LABEL_IDS[TK] = {262, 318};

/* A random model in memory, GPT-2's vocabulary (so that <|endoftext|> exists). */
static float *tiny_model(GPT2Model *m, int n_layer, int n_embd, int n_positions, uint64_t seed) {
    GPT2Config c = {.n_layer = n_layer, .n_head = 2, .n_embd = n_embd, .n_positions = n_positions,
                    .vocab_size = TV, .layer_norm_epsilon = 1e-5f};
    return random_model(m, c, 0.3, seed);
}

static void make_point(TunePoint *p, double lambda, Objective objective, PezOptimizer optimizer) {
    memory_point(p, METHOD_PEZ, lambda, objective, TL, TK);
    p->pez = (PezSettings){.steps = 1, .batch = TB, .eval_every = 1, .optimizer = optimizer,
                           .lr = optimizer == PEZ_ADAMW ? 0.1 : 0.3, .weight_decay = 0.1, .clip = 0.0};
}

static void make_context(TuneContext *ctx, const TunePoint *p, GPT2Model *m, GPT2Model *scorer,
                         const EncodedSplit *train) {
    memset(ctx, 0, sizeof *ctx);
    ctx->point = p;
    ctx->model = m;
    ctx->scorer_model = scorer;
    ctx->policy_model = m;
    ctx->n_classes = TK;
    memcpy(ctx->label_ids, LABEL_IDS, sizeof LABEL_IDS);
    ctx->train = *train; // a view: the test owns the split
}

// ----------------------------------------------------------------------------
// independent references: the prompt fed as vectors, the losses in double

/* out (n,C) = layernorm of x (n,C) with weight w, bias b (C). */
static void ref_layernorm(double *out, const double *x, const float *w, const float *b, int n, int C) {
    for (int t = 0; t < n; t++) {
        double mean = 0, var = 0;
        for (int i = 0; i < C; i++) mean += x[t * C + i];
        mean /= C;
        for (int i = 0; i < C; i++) var += (x[t * C + i] - mean) * (x[t * C + i] - mean);
        var /= C;
        double s = 1.0 / sqrt(var + 1e-5);
        for (int i = 0; i < C; i++) out[t * C + i] = (x[t * C + i] - mean) * s * w[i] + b[i];
    }
}

/* out (n,OC) (+)= in (n,IC) W (IC,OC) + bias (OC) */
static void ref_linear(double *out, const double *in, const float *W, const float *bias, int n, int IC,
                       int OC, int add) {
    for (int t = 0; t < n; t++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int i = 0; i < IC; i++) s += in[t * IC + i] * W[(size_t)i * OC + o];
            out[t * OC + o] = (add ? out[t * OC + o] : 0.0) + s;
        }
}

/* ln (T,C) = the final hidden states (after ln_f) of one row of T input
 * vectors x (T,C) (token or prompt vectors; the position embeddings are added
 * here, in place), by a GPT-2 forward written here in double, straight from
 * the definitions (nothing shared with model/ but the weights), so that
 * finite differences with a tiny h are exact to ~1e-9. T <= 64. */
static void ref_hidden(const GPT2Model *m, double *x, int T, double *ln) {
    const GPT2Config *cf = &m->config;
    int C = cf->n_embd, NH = cf->n_head, hs = C / NH;
    double *qkv = malloc((size_t)T * 3 * C * sizeof(double)), *y = malloc((size_t)T * C * sizeof(double));
    double *h = malloc((size_t)T * 4 * C * sizeof(double)), a[64];
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++) x[t * C + i] += m->w.wpe[t * C + i];
    for (int l = 0; l < cf->n_layer; l++) {
        const GPT2Block *w = &m->w.blocks[l];
        ref_layernorm(ln, x, w->ln_1_w, w->ln_1_b, T, C);
        ref_linear(qkv, ln, w->attn_w, w->attn_b, T, C, 3 * C, 0);
        for (int hh = 0; hh < NH; hh++)
            for (int t = 0; t < T; t++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j <= t; j++) {
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += qkv[t * 3 * C + hh * hs + i] * qkv[j * 3 * C + C + hh * hs + i];
                    a[j] = s / sqrt((double)hs);
                    mx = fmax(mx, a[j]);
                }
                for (int j = 0; j <= t; j++) sum += (a[j] = exp(a[j] - mx));
                for (int i = 0; i < hs; i++) {
                    double s = 0;
                    for (int j = 0; j <= t; j++) s += a[j] / sum * qkv[j * 3 * C + 2 * C + hh * hs + i];
                    y[t * C + hh * hs + i] = s;
                }
            }
        ref_linear(x, y, w->attn_proj_w, w->attn_proj_b, T, C, C, 1);
        ref_layernorm(ln, x, w->ln_2_w, w->ln_2_b, T, C);
        ref_linear(h, ln, w->fc_w, w->fc_b, T, C, 4 * C, 0);
        for (int i = 0; i < T * 4 * C; i++)
            h[i] = 0.5 * h[i] * (1 + tanh(sqrt(2 / M_PI) * (h[i] + 0.044715 * h[i] * h[i] * h[i])));
        ref_linear(x, h, w->fc_proj_w, w->fc_proj_b, T, 4 * C, C, 1);
    }
    ref_layernorm(ln, x, m->w.ln_f_w, m->w.ln_f_b, T, C);
    free(qkv); free(y); free(h);
}

/* log_ppl = -(1/L) sum_i log p(z_i | <|endoftext|>, X_<i) of the row
 * [<|endoftext|>, X_0 .. X_{L-1}] (L+1 positions, X (L,C) input vectors in
 * double), by ref_hidden. With target_side, position t's logit of its target
 * z_t is h_t . X_t instead of h_t . wte[z_t] (the prompt vector as the
 * target's output embedding): the function whose gradient PEZ's ppl_grad
 * "full" is; without, the inputs alone ("input"). */
static double ref_log_ppl(const GPT2Model *m, const double *X, const int *z, int L, int target_side) {
    int C = m->config.n_embd, V = m->config.vocab_size, T = L + 1;
    double *x = malloc((size_t)T * C * sizeof(double)), *ln = malloc((size_t)T * C * sizeof(double));
    for (int t = 0; t < T; t++)
        for (int i = 0; i < C; i++) x[t * C + i] = t == 0 ? m->w.wte[(size_t)GPT2_EOT * C + i] : X[(t - 1) * C + i];
    ref_hidden(m, x, T, ln);
    double total = 0.0, *logits = malloc((size_t)V * sizeof(double));
    for (int t = 0; t < L; t++) { // position t predicts z_t
        double mx = -1e300, sum = 0.0;
        for (int v = 0; v < V; v++) {
            const float *e = m->w.wte + (size_t)v * C;
            double s = 0;
            for (int i = 0; i < C; i++) s += ln[t * C + i] * e[i];
            logits[v] = s;
        }
        if (target_side) {
            double s = 0;
            for (int i = 0; i < C; i++) s += ln[t * C + i] * X[t * C + i];
            logits[z[t]] = s;
        }
        for (int v = 0; v < V; v++) mx = fmax(mx, logits[v]);
        for (int v = 0; v < V; v++) sum += exp(logits[v] - mx);
        total += log(sum) + mx - logits[z[t]];
    }
    free(x); free(ln); free(logits);
    return total / L;
}

/* The task term at prompt input vectors X (L,C) in double: the mean over the B
 * examples ex of split of the cross-entropy of the label over the TK label
 * logits h_last . wte[LABEL_IDS[k]] of the row pre ++ X ++ post, by
 * ref_hidden (the soft prompt's task term; PEZ's at X = P'). */
static double ref_task(const GPT2Model *m, const EncodedSplit *sp, const int *ex, int B, const double *X, int L) {
    int C = m->config.n_embd;
    double total = 0.0, *x = malloc((size_t)64 * C * sizeof(double)), *ln = malloc((size_t)64 * C * sizeof(double));
    for (int b = 0; b < B; b++) {
        int i = ex[b], T = 0;
        for (int t = 0; t < sp->pre_len[i]; t++, T++)
            for (int c = 0; c < C; c++) x[T * C + c] = m->w.wte[(size_t)sp->ids[sp->pre_off[i] + t] * C + c];
        for (int t = 0; t < L; t++, T++)
            for (int c = 0; c < C; c++) x[T * C + c] = X[t * C + c];
        for (int t = 0; t < sp->post_len[i]; t++, T++)
            for (int c = 0; c < C; c++) x[T * C + c] = m->w.wte[(size_t)sp->ids[sp->post_off[i] + t] * C + c];
        ref_hidden(m, x, T, ln);
        double logit[TK], mx = -1e300, sum = 0.0;
        for (int k = 0; k < TK; k++) {
            logit[k] = 0.0;
            for (int c = 0; c < C; c++) logit[k] += ln[(T - 1) * C + c] * m->w.wte[(size_t)LABEL_IDS[k] * C + c];
            mx = fmax(mx, logit[k]);
        }
        for (int k = 0; k < TK; k++) sum += exp(logit[k] - mx);
        total += log(sum) + mx - logit[sp->label[i]];
    }
    free(x); free(ln);
    return total / B;
}

/* The same for float input vectors X (L,C). */
static double ref_log_ppl_f(const GPT2Model *m, const float *X, const int *z, int L) {
    double Xd[TUNE_MAX_PROMPT * 64];
    for (int k = 0; k < L * m->config.n_embd; k++) Xd[k] = X[k];
    return ref_log_ppl(m, Xd, z, L, 0);
}

/* The PEZ objective w_task mean CE over the label logits + w_interp log_ppl
 * at prompt input vectors X (L,C) (ids z for the log-PPL targets), and its
 * gradient g (L,C) w.r.t. X, by one batch built here: task rows pre ++ X ++
 * post with X as embeds, and a [<|endoftext|>, X] row of L+1 positions. */
static double ref_objective(const GPT2Model *m, const EncodedSplit *sp, const int *ex, int B,
                            const float *X, const int *z, int L, double w_task, double w_interp, float *g) {
    int C = m->config.n_embd, V = m->config.vocab_size, R = B + 1, T = L + 1;
    for (int b = 0; b < B; b++) {
        int len = sp->pre_len[ex[b]] + L + sp->post_len[ex[b]];
        if (len > T) T = len;
    }
    int *ids = calloc((size_t)R * T, sizeof(int)), lens[R], label_pos[B], out_pos[TUNE_MAX_PROMPT];
    unsigned char *is_embed = calloc((size_t)R * T, 1);
    float *embeds = calloc((size_t)R * T * C, sizeof(float)), *d_input = malloc((size_t)R * T * C * sizeof(float));
    float *dlogits = calloc((size_t)L * V, sizeof(float)), dlabel[TB * TK];
    for (int b = 0; b < B; b++) {
        int i = ex[b], k = 0, *row = ids + (size_t)b * T;
        for (int t = 0; t < sp->pre_len[i]; t++) row[k++] = sp->ids[sp->pre_off[i] + t];
        for (int t = 0; t < L; t++, k++) {
            is_embed[(size_t)b * T + k] = 1;
            memcpy(embeds + ((size_t)b * T + k) * C, X + (size_t)t * C, C * sizeof(float));
        }
        for (int t = 0; t < sp->post_len[i]; t++) row[k++] = sp->ids[sp->post_off[i] + t];
        lens[b] = k;
        label_pos[b] = b * T + k - 1;
    }
    ids[(size_t)B * T] = GPT2_EOT;
    for (int t = 0; t < L; t++) {
        is_embed[(size_t)B * T + 1 + t] = 1;
        memcpy(embeds + ((size_t)B * T + 1 + t) * C, X + (size_t)t * C, C * sizeof(float));
        out_pos[t] = B * T + t;
    }
    lens[B] = L + 1;
    GPT2Acts a;
    Err err;
    if (gpt2_acts_alloc(&a, &m->config, R, T, T, B > L ? B : L, 1, &err)) { printf("FAIL acts: %s\n", err.msg); exit(1); }
    GPT2Batch batch = {.B = R, .T = T, .ids = ids, .lens = lens, .embeds = embeds, .is_embed = is_embed,
                       .out_pos = out_pos, .n_out = L, .label_pos = label_pos, .n_label = B,
                       .label_ids = LABEL_IDS, .n_label_ids = TK};
    if (gpt2_forward(m, &a, &batch, &err)) { printf("FAIL forward: %s\n", err.msg); exit(1); }
    double task = 0.0, lp = 0.0;
    for (int b = 0; b < B; b++) {
        const float *x = a.label_logits + (size_t)b * TK;
        int y = sp->label[ex[b]];
        double mx = fmax(x[0], x[1]), e[TK], sum = 0.0;
        for (int k = 0; k < TK; k++) sum += (e[k] = exp(x[k] - mx));
        task += (log(sum) + mx - x[y]) / B;
        for (int k = 0; k < TK; k++) dlabel[b * TK + k] = (float)(w_task * (e[k] / sum - (k == y)) / B);
    }
    for (int t = 0; t < L; t++) {
        const float *x = a.logits + (size_t)t * V;
        double mx = x[0], sum = 0.0;
        for (int v = 1; v < V; v++) mx = fmax(mx, x[v]);
        for (int v = 0; v < V; v++) sum += exp(x[v] - mx);
        lp += (log(sum) + mx - x[z[t]]) / L;
        for (int v = 0; v < V; v++) dlogits[(size_t)t * V + v] = (float)(w_interp * exp(x[v] - mx) / sum / L);
        dlogits[(size_t)t * V + z[t]] -= (float)(w_interp / L);
    }
    if (gpt2_backward(m, &a, &batch, dlogits, dlabel, d_input, NULL, &err)) { printf("FAIL backward: %s\n", err.msg); exit(1); }
    memset(g, 0, (size_t)L * C * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int k = 0; k < L * C; k++) g[k] += d_input[((size_t)b * T + sp->pre_len[ex[b]]) * C + k];
    for (int k = 0; k < L * C; k++) g[k] += d_input[((size_t)B * T + 1) * C + k];
    free(ids); free(is_embed); free(embeds); free(d_input); free(dlogits);
    gpt2_acts_free(&a);
    return w_task * task + w_interp * lp;
}

/* The largest error of g (n) against finite differences fd (n). Error per
 * coordinate |g - fd| / max(|fd|, |g|, floor) with floor = 1e-3 max |g| (as
 * tests/test_backward.c): a coordinate whose gradient is ~0 next to the
 * large ones carries the float rounding of those (~1e-6 of the scale), so it
 * is held to 1e-6 of the scale in absolute terms. With check, each
 * coordinate is held to 1e-3 (else the error is only measured: "the test
 * can tell" probes). */
static double compare_gradient(const float *g, const double *fd, int n, int C, const char *what, int check) {
    double scale = 0.0, worst = 0.0;
    for (int k = 0; k < n; k++) scale = fmax(scale, fabs(g[k]));
    for (int k = 0; k < n; k++) {
        double e = fabs(g[k] - fd[k]) / fmax(fmax(fabs(fd[k]), fabs(g[k])), 1e-3 * scale);
        worst = fmax(worst, e);
        if (check)
            CHECK(e <= 1e-3, "%s: d / d P[%d][%d]: %.8g, finite differences %.8g (rel %.2g)", what, k / C, k % C,
                  g[k], fd[k], e);
    }
    if (check) {
        CHECK(scale > 1e-3, "%s: the gradient is ~0 (max %g): nothing tested", what, scale);
        printf("  %s: max rel err %.2e over %d coords (max |g| %.3g)\n", what, worst, n, scale);
    }
    return worst;
}

/* The arguments of a reference function of the prompt vectors X (L,C), in
 * double, for central_difference (tests/testlib.h). */
typedef struct {
    const GPT2Model *m;
    const double *X;
    int L;
    const int *z;                // ref_log_ppl: the targets
    int target_side;
    const EncodedSplit *split;   // ref_task: the examples
    const int *ex;
    int B;
} RefArgs;

static double ref_log_ppl_of(const void *a) {
    const RefArgs *r = a;
    return ref_log_ppl(r->m, r->X, r->z, r->L, r->target_side);
}

static double ref_task_of(const void *a) {
    const RefArgs *r = a;
    return ref_task(r->m, r->split, r->ex, r->B, r->X, r->L);
}

/* fd (L*C) = d f / d X at X (float, as the tuners have it) by central
 * differences in double with h = 1e-5: accurate to ~1e-9 here. */
static void differences(double *fd, double (*f)(const void *), RefArgs *a, const float *X) {
    double Xd[TUNE_MAX_PROMPT * 64];
    int n = a->L * a->m->config.n_embd;
    for (int k = 0; k < n; k++) Xd[k] = X[k];
    a->X = Xd;
    for (int k = 0; k < n; k++) fd[k] = central_difference(f, a, Xd, (size_t)k, 1e-5);
    a->X = NULL; // Xd ends here
}

/* Central finite differences of the double log_ppl w.r.t. every coordinate
 * of X (L,C), against g (L,C) (compare_gradient). */
static double fd_check(const GPT2Model *m, const float *X, const int *z, int L, int target_side, const float *g,
                       const char *what) {
    double fd[TUNE_MAX_PROMPT * 64];
    RefArgs a = {.m = m, .L = L, .z = z, .target_side = target_side};
    differences(fd, ref_log_ppl_of, &a, X);
    return compare_gradient(g, fd, L * m->config.n_embd, m->config.n_embd, what, 1);
}

// ----------------------------------------------------------------------------
// gradients and steps on the tiny model

typedef struct {
    GPT2Model m, m2, wide;       // task model, a second model (the scorer), one of another width
    float *params, *params2, *params_wide;
    EncodedSplit split;
} Tiny;

static void tiny_setup(Tiny *t, int pre) {
    t->params = tiny_model(&t->m, 2, TC, 32, 11);
    t->params2 = tiny_model(&t->m2, 1, TC, 32, 12);
    t->params_wide = tiny_model(&t->wide, 1, 2 * TC, 32, 13);
    made_up_split(&t->split, 6, pre, 21 + pre);
}

static void tiny_free(Tiny *t) {
    free(t->params); free(t->params2); free(t->params_wide);
    free(t->m.blocks_storage); free(t->m2.blocks_storage); free(t->wide.blocks_storage);
    encoded_split_free(&t->split);
}

/* A prompt near the embeddings of z: wte[z] plus noise of 1% of each row's
 * norm, so that it projects to z but is not P'. */
static void noisy_prompt(float *P, const GPT2Model *m, const int *z, int L, uint64_t seed) {
    int C = m->config.n_embd;
    Rng rng;
    rng_seed(&rng, seed);
    pez_embed(P, z, m->w.wte, L, C);
    for (int i = 0; i < L; i++) {
        double norm = 0.0;
        for (int c = 0; c < C; c++) norm += (double)P[i * C + c] * P[i * C + c];
        norm = sqrt(norm);
        for (int c = 0; c < C; c++) P[i * C + c] += (float)(0.01 * norm * rng_normal(&rng) / sqrt((double)C));
    }
}

static void test_gradients(int pre) {
    printf("gradients, %s:\n", pre ? "pre tokens before the prompt" : "the prompt first");
    Tiny t;
    tiny_setup(&t, pre);
    const int z[TL] = {1500, 2700, 4242}, examples[TB] = {0, 3, 4, 1};
    int C = TC;
    Err err;
    float P_noisy[TL * TC], Pp[TL * TC], g_ref[TL * TC], g_noisy[TL * TC];
    noisy_prompt(P_noisy, &t.m, z, TL, 5);
    pez_embed(Pp, z, t.m.w.wte, TL, C);

    // 1. lambda 0.5 (additive) with AdamW, clip off: the objective and its gradient at P'
    //    against the independent batch, then the straight-through step
    for (int quirk = 0; quirk <= 1; quirk++) {
        TunePoint p;
        TuneContext ctx;
        PezState s;
        make_point(&p, 0.5, OBJECTIVE_ADDITIVE, PEZ_ADAMW);
        p.pez.reset_quirk = quirk;
        p.pez.ppl_grad = PEZ_PPL_GRAD_INPUT; // the independent batch below: inputs only (full: part 2)
        make_context(&ctx, &p, &t.m, &t.m, &t.split);
        if (pez_state_alloc(&s, &ctx, &err)) { CHECK(0, "pez_state_alloc: %s", err.msg); break; }
        memcpy(s.P, P_noisy, sizeof P_noisy);
        PezLoss loss;
        CHECK(pez_step(&s, &t.split, examples, &loss, &err) == 0, "pez_step: %s", err.msg);
        CHECK(memcmp(s.ids, z, sizeof z) == 0, "the noisy prompt projected to %d %d %d", s.ids[0], s.ids[1], s.ids[2]);
        CHECK(memcmp(s.proj, Pp, sizeof Pp) == 0, "proj is not wte[z]");
        double ref = ref_objective(&t.m, &t.split, examples, TB, Pp, z, TL, 1.0, 0.5, g_ref);
        double ref_noisy = ref_objective(&t.m, &t.split, examples, TB, P_noisy, z, TL, 1.0, 0.5, g_noisy);
        double scale, diff = max_abs_diff(s.g, g_ref, TL * C, &scale);
        double diff_noisy = max_abs_diff(g_noisy, g_ref, TL * C, NULL);
        CHECK(close_to(loss.loss, ref, 1e-5), "loss %.9g, independent %.9g", loss.loss, ref);
        CHECK(diff <= 1e-4 * scale, "gradient at P' differs from the independent one by %g (scale %g)", diff, scale);
        // the test can tell: the gradient at the continuous P is another one
        CHECK(diff_noisy > 1e-3 * scale, "gradients at P and P' too close (%g) to tell them apart", diff_noisy);
        CHECK(fabs(loss.loss - ref_noisy) > 0 || diff_noisy > 0, "loss at P equals loss at P'");
        if (quirk == 0) printf("  loss %.6f (independent %.6f), gradient max diff %.2g of %.3g; at P: %.2g away\n",
                               loss.loss, ref, diff, scale, diff_noisy);
        // straight-through: P (or, with the quirk, P') moved by AdamW's first step on that gradient
        float want[TL * TC], m[TL * TC] = {0}, v[TL * TC] = {0};
        memcpy(want, quirk ? Pp : P_noisy, sizeof want);
        const GPT2Adam adamw = pez_adamw(0.1, 0.1);
        gpt2_adam_step(want, s.g, m, v, TL * C, &adamw, 1, NULL);
        CHECK(memcmp(want, s.P, sizeof want) == 0, "%s: P after the step is not %s - step(g(P'))",
              quirk ? "reset quirk" : "Alg. 1", quirk ? "P'" : "P");
        pez_state_free(&s);
    }

    // 2. the lambda term alone (convex, lambda 1: w_task 0): the extra batch row's gradient
    //    against finite differences; lambda 0 vs 0.5: the difference is 0.5 times it
    {
        TunePoint p0, p5, p1;
        TuneContext c0, c5, c1;
        PezState s0, s5, s1;
        make_point(&p0, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
        make_point(&p5, 0.5, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
        make_point(&p1, 1.0, OBJECTIVE_CONVEX, PEZ_ADAFACTOR);
        p0.pez.clip = p5.pez.clip = 1.0;
        make_context(&c0, &p0, &t.m, &t.m, &t.split);
        make_context(&c5, &p5, &t.m, &t.m, &t.split);
        make_context(&c1, &p1, &t.m, &t.m, &t.split);
        if (pez_state_alloc(&s0, &c0, &err) || pez_state_alloc(&s5, &c5, &err) || pez_state_alloc(&s1, &c1, &err)) {
            CHECK(0, "pez_state_alloc: %s", err.msg);
            tiny_free(&t);
            return;
        }
        PezLoss l0, l5, l1;
        memcpy(s1.ids, z, sizeof z);
        CHECK(pez_loss_and_grad(&s1, &t.split, examples, &l1, &err) == 0, "lambda only: %s", err.msg);
        double lp_ref = ref_log_ppl_f(&t.m, Pp, z, TL);
        CHECK(close_to(l1.log_ppl, lp_ref, 1e-5) && close_to(l1.loss, lp_ref, 1e-5),
              "log_ppl %.9g (loss %.9g), independent %.9g", l1.log_ppl, l1.loss, lp_ref);
        Scorer *sc;
        double lp_scorer = 0;
        if (scorer_new(&sc, &t.m, 1, &err) == 0) {
            CHECK(scorer_log_ppl(sc, z, 1, TL, &lp_scorer, &err) == 0, "scorer: %s", err.msg);
            CHECK(close_to(l1.log_ppl, lp_scorer, 1e-5), "log_ppl %.9g, the Scorer's %.9g", l1.log_ppl, lp_scorer);
            scorer_free(sc);
        }
        // the default, "full": every prompt token gets the term's gradient, the last one too
        CHECK(s1.full_ppl_grad, "ppl_grad full is not the default");
        for (int i = 0; i < TL; i++) {
            double norm = 0;
            for (int c = 0; c < C; c++) norm += fabs(s1.g[i * C + c]);
            CHECK(norm > 1e-6, "full: prompt token %d gets no log-PPL gradient", i);
        }
        fd_check(&t.m, Pp, z, TL, 1, s1.g, "lambda row in the task batch, full");
        // the reference's "input": the last token is only a target and gets nothing
        {
            TunePoint pi = p1;
            TuneContext ci;
            PezState si;
            PezLoss li;
            pi.pez.ppl_grad = PEZ_PPL_GRAD_INPUT;
            make_context(&ci, &pi, &t.m, &t.m, &t.split);
            if (pez_state_alloc(&si, &ci, &err) == 0) {
                memcpy(si.ids, z, sizeof z);
                CHECK(pez_loss_and_grad(&si, &t.split, examples, &li, &err) == 0, "input: %s", err.msg);
                CHECK(li.log_ppl == l1.log_ppl, "the mode changed the log-PPL: %.9g vs %.9g", li.log_ppl, l1.log_ppl);
                for (int c = 0; c < C; c++)
                    CHECK(si.g[(TL - 1) * C + c] == 0.0f, "input: gradient at the last prompt token %g",
                          si.g[(TL - 1) * C + c]);
                fd_check(&t.m, Pp, z, TL, 0, si.g, "lambda row in the task batch, input");
                double diff = max_abs_diff(si.g, s1.g, TL * C, NULL);
                CHECK(diff > 1e-4, "full and input gradients are the same (%g)", diff);
                pez_state_free(&si);
            } else {
                CHECK(0, "pez_state_alloc (input): %s", err.msg);
            }
        }

        memcpy(s0.P, P_noisy, sizeof P_noisy);
        memcpy(s5.P, P_noisy, sizeof P_noisy);
        CHECK(pez_step(&s0, &t.split, examples, &l0, &err) == 0, "lambda 0 step: %s", err.msg);
        CHECK(pez_step(&s5, &t.split, examples, &l5, &err) == 0, "lambda 0.5 step: %s", err.msg);
        CHECK(l0.log_ppl == 0.0 && l0.loss == l0.task, "lambda 0: log-PPL row run (%g)", l0.log_ppl);
        CHECK(close_to(l5.task, l0.task, 1e-6) && close_to(l5.loss, l0.task + 0.5 * l1.log_ppl, 1e-5),
              "lambda 0.5 loss %.9g, want %.9g + 0.5 * %.9g", l5.loss, l0.task, l1.log_ppl);
        // before clipping (clip 1.0 scales both), g(0.5) - g(0) = 0.5 g(lambda row)
        float g0[TL * TC], g5[TL * TC], d[TL * TC], half[TL * TC];
        memcpy(s0.ids, z, sizeof z);
        memcpy(s5.ids, z, sizeof z);
        CHECK(pez_loss_and_grad(&s0, &t.split, examples, &l0, &err) == 0 &&
              pez_loss_and_grad(&s5, &t.split, examples, &l5, &err) == 0, "loss_and_grad: %s", err.msg);
        memcpy(g0, s0.g, sizeof g0);
        memcpy(g5, s5.g, sizeof g5);
        for (int k = 0; k < TL * C; k++) { d[k] = g5[k] - g0[k]; half[k] = 0.5f * s1.g[k]; }
        double scale, diff = max_abs_diff(d, half, TL * C, &scale);
        CHECK(diff <= 1e-4 * scale + 1e-7, "g(0.5) - g(0) differs from 0.5 g(lambda) by %g (scale %g)", diff, scale);
        double moved = max_abs_diff(s0.P, s5.P, TL * C, NULL);
        CHECK(moved > 1e-4, "lambda 0 and 0.5 gave the same update (max diff %g)", moved);
        pez_state_free(&s0);
        pez_state_free(&s5);
        pez_state_free(&s1);
    }

    // 3. a separate scorer (same vocabulary and width): its own forward/backward row
    {
        TunePoint p;
        TuneContext ctx;
        PezState s;
        make_point(&p, 1.0, OBJECTIVE_CONVEX, PEZ_ADAFACTOR);
        make_context(&ctx, &p, &t.m, &t.m2, &t.split);
        if (pez_state_alloc(&s, &ctx, &err) == 0) {
            CHECK(s.scorer == &t.m2, "the separate scorer is not used");
            PezLoss l;
            memcpy(s.ids, z, sizeof z);
            CHECK(pez_loss_and_grad(&s, &t.split, examples, &l, &err) == 0, "separate scorer: %s", err.msg);
            float X[TL * TC];
            pez_embed(X, z, t.m2.w.wte, TL, C); // the scorer's own input vectors of z
            double lp_ref = ref_log_ppl_f(&t.m2, X, z, TL);
            CHECK(close_to(l.log_ppl, lp_ref, 1e-5), "separate scorer log_ppl %.9g, independent %.9g", l.log_ppl, lp_ref);
            fd_check(&t.m2, X, z, TL, 1, s.g, "lambda row on a separate scorer, full");
            pez_state_free(&s);
            p.pez.ppl_grad = PEZ_PPL_GRAD_INPUT;
            if (pez_state_alloc(&s, &ctx, &err) == 0) {
                memcpy(s.ids, z, sizeof z);
                CHECK(pez_loss_and_grad(&s, &t.split, examples, &l, &err) == 0, "separate scorer: %s", err.msg);
                fd_check(&t.m2, X, z, TL, 0, s.g, "lambda row on a separate scorer, input");
                pez_state_free(&s);
            }
            p.pez.ppl_grad = PEZ_PPL_GRAD_FULL;
        } else {
            CHECK(0, "pez_state_alloc with a separate scorer: %s", err.msg);
        }
        // refusals: another width with lambda > 0; lambda 0 does not need its gradient
        make_context(&ctx, &p, &t.m, &t.wide, &t.split);
        CHECK(pez_state_alloc(&s, &ctx, &err) != 0 && strstr(err.msg, "width"), "a scorer of another width: %s", err.msg);
        make_point(&p, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
        make_context(&ctx, &p, &t.m, &t.wide, &t.split);
        CHECK(pez_state_alloc(&s, &ctx, &err) == 0 && s.scorer == NULL, "lambda 0 with a wider scorer: %s", err.msg);
        pez_state_free(&s);
        // a model whose context cannot hold the rows
        make_point(&p, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
        p.prompt_length = 31;
        make_context(&ctx, &p, &t.m, &t.m, &t.split);
        CHECK(pez_state_alloc(&s, &ctx, &err) != 0 && strstr(err.msg, "context"), "rows past the context: %s", err.msg);
    }
    tiny_free(&t);
}

/* Soft prompt tuning (method soft): the gradient of its objective w.r.t. P is
 * the task term's at P itself plus w_interp times the log-PPL term's at the
 * projection P' = wte[z] (passed straight through), each against central
 * differences in double of an independent forward (ref_task at X = P,
 * ref_log_ppl at X = P'): lambda 0.5 with ppl_grad full and input, and
 * lambda 0 (plain prompt tuning). The test can tell: PEZ's gradient (the
 * task term at P' too), and soft's without its log-PPL term, each miss the
 * differences by far more than the tolerance. Then the step moves P itself
 * by that gradient, and soft refuses the reset quirk. */
static void test_soft_gradients(int pre) {
    printf("soft prompt gradients, %s:\n", pre ? "pre tokens before the prompt" : "the prompt first");
    Tiny t;
    tiny_setup(&t, pre);
    const int z[TL] = {1500, 2700, 4242}, examples[TB] = {0, 3, 4, 1};
    enum { N = TL * TC };
    Err err;
    float P[N], Pp[N];
    noisy_prompt(P, &t.m, z, TL, 5);
    pez_embed(Pp, z, t.m.w.wte, TL, TC);
    double fd_task[N], fd_full[N], fd_input[N], want[N], probe[N];
    RefArgs task = {.m = &t.m, .L = TL, .split = &t.split, .ex = examples, .B = TB};
    RefArgs full = {.m = &t.m, .L = TL, .z = z, .target_side = 1}, input = full;
    input.target_side = 0;
    differences(fd_task, ref_task_of, &task, P);
    differences(fd_full, ref_log_ppl_of, &full, Pp);
    differences(fd_input, ref_log_ppl_of, &input, Pp);
    double Pd[N];
    for (int k = 0; k < N; k++) Pd[k] = P[k];
    double task_at_P = ref_task(&t.m, &t.split, examples, TB, Pd, TL), log_ppl_at_Pp = ref_log_ppl_f(&t.m, Pp, z, TL);

    const struct { double lambda; PezPplGrad mode; const char *what; } cases[] = {
        {0.5, PEZ_PPL_GRAD_FULL, "soft, lambda 0.5, ppl_grad full"},
        {0.5, PEZ_PPL_GRAD_INPUT, "soft, lambda 0.5, ppl_grad input"},
        {0.0, PEZ_PPL_GRAD_FULL, "soft, lambda 0 (plain prompt tuning)"}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double lambda = cases[c].lambda;
        TunePoint p, pp;
        TuneContext ctx, cp;
        PezState s, sp;
        make_point(&p, lambda, OBJECTIVE_ADDITIVE, PEZ_ADAMW);
        p.method = METHOD_SOFT;
        p.pez.ppl_grad = cases[c].mode;
        pp = p;
        pp.method = METHOD_PEZ;
        make_context(&ctx, &p, &t.m, &t.m, &t.split);
        make_context(&cp, &pp, &t.m, &t.m, &t.split);
        if (pez_state_alloc(&s, &ctx, &err) || pez_state_alloc(&sp, &cp, &err)) {
            CHECK(0, "%s: pez_state_alloc: %s", cases[c].what, err.msg);
            break;
        }
        CHECK(s.soft && !sp.soft && strcmp(s.name, "soft") == 0, "%s: the state is not soft's", cases[c].what);
        // the objective and its gradient at P (projecting to z), as pez_step computes them
        memcpy(s.P, P, sizeof P);
        pez_project(s.ids, s.proj, s.cos, s.P, t.m.w.wte, s.wte_inv_norm, NULL, TL, TV, TC);
        CHECK(memcmp(s.ids, z, sizeof z) == 0, "the noisy prompt projected to %d %d %d", s.ids[0], s.ids[1], s.ids[2]);
        PezLoss l;
        CHECK(pez_loss_and_grad(&s, &t.split, examples, &l, &err) == 0, "%s: %s", cases[c].what, err.msg);
        CHECK(close_to(l.task, task_at_P, 1e-5), "%s: task %.9g, independent at P %.9g", cases[c].what, l.task, task_at_P);
        if (lambda > 0)
            CHECK(close_to(l.log_ppl, log_ppl_at_Pp, 1e-5) && close_to(l.loss, task_at_P + lambda * log_ppl_at_Pp, 1e-5),
                  "%s: log_ppl %.9g (loss %.9g), independent at P' %.9g", cases[c].what, l.log_ppl, l.loss, log_ppl_at_Pp);
        const double *fd_ppl = cases[c].mode == PEZ_PPL_GRAD_FULL ? fd_full : fd_input;
        for (int k = 0; k < N; k++) want[k] = fd_task[k] + lambda * fd_ppl[k];
        compare_gradient(s.g, want, N, TC, cases[c].what, 1);

        // the test can tell: PEZ's gradient at the same ids (its task term at P'), and soft's
        // without the log-PPL term
        memcpy(sp.ids, z, sizeof z);
        CHECK(pez_loss_and_grad(&sp, &t.split, examples, &l, &err) == 0, "%s (as PEZ): %s", cases[c].what, err.msg);
        double at_projection = compare_gradient(sp.g, want, N, TC, "", 0), without_ppl = INFINITY;
        if (lambda > 0) {
            for (int k = 0; k < N; k++) probe[k] = fd_task[k];
            without_ppl = compare_gradient(s.g, probe, N, TC, "", 0);
        }
        printf("    would fail: the task gradient at P' (max rel err %.2g), no log-PPL term (%.2g)\n", at_projection,
               without_ppl);
        CHECK(at_projection > 1e-2 && without_ppl > 1e-2, "%s: the comparison cannot tell the gradient at P' (%.2g) "
              "or one without the log-PPL term (%.2g) from the right one", cases[c].what, at_projection, without_ppl);

        // the step: P itself moves by AdamW's first step on that gradient (clip off)
        if (c == 0) {
            float g[N], m[N] = {0}, v[N] = {0}, stepped[N];
            memcpy(g, s.g, sizeof g);
            memcpy(stepped, P, sizeof stepped);
            const GPT2Adam adamw = pez_adamw(0.1, 0.1);
            gpt2_adam_step(stepped, g, m, v, N, &adamw, 1, NULL);
            memcpy(s.P, P, sizeof P);
            CHECK(pez_step(&s, &t.split, examples, &l, &err) == 0, "soft step: %s", err.msg);
            CHECK(memcmp(stepped, s.P, sizeof stepped) == 0, "soft: P after the step is not P - step(g(P))");
        }
        pez_state_free(&s);
        pez_state_free(&sp);
    }
    // the reset quirk steps from the projection: not for a soft prompt
    TunePoint p;
    TuneContext ctx;
    PezState s;
    make_point(&p, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
    p.method = METHOD_SOFT;
    p.pez.reset_quirk = 1;
    make_context(&ctx, &p, &t.m, &t.m, &t.split);
    CHECK(pez_state_alloc(&s, &ctx, &err) != 0 && strstr(err.msg, "soft: reset_quirk"), "soft with the quirk: %s",
          err.msg);
    tiny_free(&t);
}

/* A run rigged so that <|endoftext|> is the most attractive token there is:
 * the class-name init starts every other prompt row on EOT's own embedding
 * (EOT as the first "verbalizer") and a tiny learning rate keeps it there,
 * so the cosine projection over the whole vocabulary returns EOT at every
 * step. PEZ's projection never does. */
static void test_rigged_eot(void) {
    Tiny t;
    tiny_setup(&t, 0);
    TunePoint p;
    TuneContext ctx;
    PezState s;
    Err err;
    make_point(&p, 0.5, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
    p.pez.lr = 1e-6;
    make_context(&ctx, &p, &t.m, &t.m, &t.split);
    ctx.label_ids[0] = GPT2_EOT;
    if (pez_state_alloc(&s, &ctx, &err)) { CHECK(0, "alloc: %s", err.msg); tiny_free(&t); return; }
    Rng rng;
    rng_seed(&rng, 1);
    pez_init_ids(s.ids, TL, ctx.label_ids, TK, 0, NULL, TV, &rng);
    pez_embed(s.P, s.ids, t.m.w.wte, TL, TC);
    int eot_rows = 0, eot_chosen = 0, would_be_eot = 0;
    for (int i = 0; i < TL; i++) eot_rows += s.ids[i] == GPT2_EOT;
    for (int step = 0; step < 5; step++) {
        PezLoss loss;
        pez_sample_batch(&s, &rng);
        CHECK(pez_step(&s, &t.split, s.examples, &loss, &err) == 0, "step: %s", err.msg);
        for (int i = 0; i < TL; i++) {
            eot_chosen += s.ids[i] == GPT2_EOT;
            // what a projection over the whole vocabulary picks for this row of P
            const float *row = s.P + (size_t)i * TC;
            double best = -2;
            int best_id = -1;
            for (int v = 0; v < TV; v++) {
                const float *e = t.m.w.wte + (size_t)v * TC;
                double dot = 0, ne = 0, np = 0;
                for (int c = 0; c < TC; c++) { dot += (double)row[c] * e[c]; ne += (double)e[c] * e[c]; np += (double)row[c] * row[c]; }
                double cs = dot / sqrt(ne * np);
                if (cs > best) { best = cs; best_id = v; }
            }
            would_be_eot += best_id == GPT2_EOT;
        }
    }
    CHECK(eot_rows == 2 && would_be_eot >= 5 * 2, "the rig: %d rows start on EOT, an unrestricted projection picks it "
          "%d times in 5 steps", eot_rows, would_be_eot);
    CHECK(eot_chosen == 0, "PEZ's projection chose <|endoftext|> %d times", eot_chosen);
    pez_state_free(&s);
    // a learning rate that blows the soft prompt up fails the step, never a prompt of id 0
    make_point(&p, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAMW);
    p.pez.lr = 1e300;
    make_context(&ctx, &p, &t.m, &t.m, &t.split);
    if (pez_state_alloc(&s, &ctx, &err) == 0) {
        PezLoss loss;
        pez_embed(s.P, s.ids, t.m.w.wte, TL, TC);
        int rc = 0;
        for (int step = 0; step < 3 && rc == 0; step++) {
            pez_sample_batch(&s, &rng);
            rc = pez_step(&s, &t.split, s.examples, &loss, &err);
        }
        CHECK(rc != 0 && strstr(err.msg, "not finite"), "lr 1e300: %s", rc ? err.msg : "every step ok");
        pez_state_free(&s);
    }
    // a vocabulary with nothing in it (or only <|endoftext|>) is refused, not searched forever
    unsigned char *only_eot = calloc(TV, 1);
    only_eot[GPT2_EOT] = 1;
    ctx.allowed = only_eot;
    CHECK(pez_state_alloc(&s, &ctx, &err) != 0 && strstr(err.msg, "vocabulary is empty"), "empty vocabulary: %s", err.msg);
    free(only_eot);
    tiny_free(&t);
}

/* Batches: every example once per epoch, B rows each, the same for a seed. */
static void test_batches(void) {
    Tiny t;
    tiny_setup(&t, 0);
    TunePoint p;
    TuneContext ctx;
    PezState s;
    Err err;
    make_point(&p, 0.0, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
    make_context(&ctx, &p, &t.m, &t.m, &t.split);
    if (pez_state_alloc(&s, &ctx, &err)) { CHECK(0, "alloc: %s", err.msg); tiny_free(&t); return; }
    Rng a, b;
    rng_seed(&a, 3);
    rng_seed(&b, 3);
    int seen[2][12], n = t.split.n; // 3 batches of 4 = 2 epochs of 6
    for (int r = 0; r < 2; r++) {
        s.cursor = 0;
        for (int i = 0; i < n; i++) s.order[i] = i;
        for (int k = 0; k < 3; k++) {
            pez_sample_batch(&s, r ? &b : &a);
            memcpy(seen[r] + 4 * k, s.examples, 4 * sizeof(int));
        }
    }
    CHECK(memcmp(seen[0], seen[1], sizeof seen[0]) == 0, "batches differ for the same seed");
    for (int e = 0; e < 2; e++) {
        int count[6] = {0};
        for (int i = 0; i < n; i++) count[seen[0][e * n + i]]++;
        for (int i = 0; i < n; i++) CHECK(count[i] == 1, "epoch %d: example %d drawn %d times", e, i, count[i]);
    }
    pez_state_free(&s);
    tiny_free(&t);
}

// ----------------------------------------------------------------------------
// micro-batches under an activation budget

enum { MB_STEPS = 4, MB_B = 8, MB_N = 12 };

/* What a run of MB_STEPS steps gives at each step: the projection, the losses, the clipped
 * gradient and P after the update. */
typedef struct {
    int ids[MB_STEPS][TL];
    double loss[MB_STEPS], task[MB_STEPS], log_ppl[MB_STEPS];
    float g[MB_STEPS][TL * TC], P[MB_STEPS][TL * TC];
    int n_micro[MB_STEPS], mb_rows;
} MicroRun;

/* MB_STEPS steps of batches of MB_B from the split (two epochs' worth, so that batches cross an
 * epoch) from the noisy prompt P0, under the point's activation_mb. 0, or -1 with err set. */
static int micro_run(MicroRun *out, const TunePoint *p, GPT2Model *m, GPT2Model *scorer, const EncodedSplit *split,
                     const float *P0, Err *err) {
    TuneContext ctx;
    PezState s;
    make_context(&ctx, p, m, scorer, split);
    if (pez_state_alloc(&s, &ctx, err)) return -1;
    memcpy(s.P, P0, sizeof out->P[0]);
    const float *arena = s.acts.memory;
    Rng rng;
    rng_seed(&rng, 9);
    for (int k = 0; k < MB_STEPS; k++) {
        PezLoss l;
        pez_sample_batch(&s, &rng);
        if (pez_step(&s, &ctx.train, s.examples, &l, err)) {
            pez_state_free(&s);
            return -1;
        }
        memcpy(out->ids[k], s.ids, sizeof out->ids[k]);
        out->loss[k] = l.loss;
        out->task[k] = l.task;
        out->log_ppl[k] = l.log_ppl;
        memcpy(out->g[k], s.g, sizeof out->g[k]);
        memcpy(out->P[k], s.P, sizeof out->P[k]);
        out->n_micro[k] = s.n_micro;
    }
    CHECK(s.acts.memory == arena, "the activations moved during the run");
    CHECK(s.budget == 0 || s.mb_bytes <= s.budget, "micro-batches of %zu bytes over the budget of %zu", s.mb_bytes,
          s.budget);
    out->mb_rows = s.mb_rows;
    pez_state_free(&s);
    return 0;
}

/* The activation_mb at which a run's micro-batches hold at most `rows` rows: what `rows` rows at
 * the planned length take (acts_fit), as the point's budget (which the evaluator shares). */
static double budget_for_rows(const TunePoint *p, GPT2Model *m, GPT2Model *scorer, const EncodedSplit *split,
                              int rows) {
    TuneContext ctx;
    PezState s;
    Err err;
    TunePoint none = *p;
    none.activation_mb = 0;
    make_context(&ctx, &none, m, scorer, split);
    if (pez_state_alloc(&s, &ctx, &err)) return -1;
    ActsNeed need;
    pez_acts_need(&s, &need);
    long t = (long)rows * need.mean_T;
    if (t < need.min_tokens) t = need.min_tokens;
    if (t > (long)rows * need.max_T) t = (long)rows * need.max_T;
    size_t bytes = acts_need_bytes(&m->config, &need, rows, (int)t);
    pez_state_free(&s);
    return (bytes + 1.0) / 1048576.0 / (1.0 - TUNE_EVAL_BUDGET_SHARE);
}

/* Two runs: whether they are the same to the bit; over their first `steps` steps, the largest relative
 * differences of the losses (each to max(1, |loss|)), of the gradients (to the largest |g| of
 * the step) and of the prompts after the steps (to the largest |P|). */
static int micro_compare(const MicroRun *a, const MicroRun *b, int steps, double *loss_diff, double *g_diff,
                         double *P_diff) {
    int same = memcmp(a->ids, b->ids, sizeof a->ids) == 0 && memcmp(a->g, b->g, sizeof a->g) == 0 &&
               memcmp(a->P, b->P, sizeof a->P) == 0;
    *loss_diff = *g_diff = *P_diff = 0.0;
    for (int k = 0; k < steps; k++) {
        same = same && a->loss[k] == b->loss[k] && a->task[k] == b->task[k] && a->log_ppl[k] == b->log_ppl[k];
        const double x[3][2] = {{a->loss[k], b->loss[k]}, {a->task[k], b->task[k]}, {a->log_ppl[k], b->log_ppl[k]}};
        for (int j = 0; j < 3; j++) *loss_diff = fmax(*loss_diff, fabs(x[j][0] - x[j][1]) / fmax(1.0, fabs(x[j][0])));
        double scale, d = max_abs_diff(b->g[k], a->g[k], TL * TC, &scale);
        *g_diff = fmax(*g_diff, d / fmax(scale, 1e-30));
        d = max_abs_diff(b->P[k], a->P[k], TL * TC, &scale);
        *P_diff = fmax(*P_diff, d / fmax(scale, 1e-30));
    }
    return same;
}

/* Gradient accumulation over micro-batches: the same PEZ (and soft) run of a few steps with
 * the whole batch, and with budgets that allow micro-batches of the fewest rows (1, or 2 with
 * the log-PPL row), 2 or 3 rows, and most of the batch, gives the same projections (ids) at
 * every step, and the same losses, gradients and prompts within 1e-5 (relative). The label
 * gradients are scaled by 1/B as in one batch and the rows' prompt gradients are summed in the
 * same order, so the only differences are inside a row's own arithmetic: OpenBLAS picks its
 * sgemm kernel by the matrix sizes (its "direct" and small-matrix kernels, for products of
 * fewer than ~7M multiply-adds, sum in another order than its blocked kernel), and a
 * micro-batch has fewer rows. At this tiny model's sizes most runs are the same to the bit and
 * some differ by ~1e-7 (the test prints how many); at GPT-2's sizes every product is past those
 * kernels, and whole records come out the same to the bit (README, "Bounded memory").
 * Settings: the log-PPL row in the task batch (lambda 0.5, ppl_grad full, so its target side
 * too), none (lambda 0), a separate scorer; soft with the log-PPL row and without; the prompt
 * first and after pre tokens. A budget below one example with the log-PPL row is refused with
 * one line naming it. */
static void test_micro_batches(void) {
    printf("micro-batches:\n");
    struct { const char *what; Method method; double lambda; int separate, pre; } cases[] = {
        {"pez, log-PPL row in the batch", METHOD_PEZ, 0.5, 0, 0},
        {"pez, lambda 0", METHOD_PEZ, 0.0, 0, 0},
        {"pez, separate scorer", METHOD_PEZ, 0.5, 1, 3},
        {"pez, log-PPL row, pre tokens", METHOD_PEZ, 0.5, 0, 3},
        {"soft, log-PPL row", METHOD_SOFT, 0.5, 0, 0},
        {"soft, lambda 0, pre tokens", METHOD_SOFT, 0.0, 0, 3},
    };
    double worst_first = 0.0, worst_loss = 0.0, worst_g = 0.0, worst_P = 0.0;
    int runs = 0, bitwise = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        GPT2Model m, m2;
        float *params = tiny_model(&m, 2, TC, 32, 11), *params2 = tiny_model(&m2, 1, TC, 32, 12);
        EncodedSplit split;
        made_up_split(&split, MB_N, cases[c].pre, 31 + cases[c].pre);
        const int z[TL] = {1500, 2700, 4242};
        float P0[TL * TC];
        noisy_prompt(P0, &m, z, TL, 5);
        TunePoint p;
        make_point(&p, cases[c].lambda, OBJECTIVE_ADDITIVE, PEZ_ADAFACTOR);
        p.method = cases[c].method;
        p.pez.batch = MB_B;
        p.pez.clip = 1.0;
        p.pez.ppl_grad = PEZ_PPL_GRAD_FULL;
        GPT2Model *scorer = cases[c].separate ? &m2 : &m;
        Err err;
        static MicroRun whole, part;
        p.activation_mb = 0;
        if (micro_run(&whole, &p, &m, scorer, &split, P0, &err)) {
            CHECK(0, "%s, one batch: %s", cases[c].what, err.msg);
        } else {
            int in_batch = cases[c].lambda != 0.0 && !cases[c].separate;
            CHECK(whole.mb_rows == MB_B + in_batch && whole.n_micro[0] == 1, "%s: budget none gave %d rows, %d "
                  "micro-batches", cases[c].what, whole.mb_rows, whole.n_micro[0]);
            int rows[] = {1 + in_batch, 2 + in_batch, 3, MB_B - 1};
            printf("  %-32s micro-batches per step:", cases[c].what);
            for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
                p.activation_mb = budget_for_rows(&p, &m, scorer, &split, rows[r]);
                if (micro_run(&part, &p, &m, scorer, &split, P0, &err)) {
                    CHECK(0, "%s, %d rows: %s", cases[c].what, rows[r], err.msg);
                    continue;
                }
                CHECK(part.mb_rows == rows[r], "%s: activation_mb %g gave micro-batches of %d rows, not %d",
                      cases[c].what, p.activation_mb, part.mb_rows, rows[r]);
                for (int k = 0; k < MB_STEPS; k++)
                    CHECK(part.n_micro[k] >= (MB_B + in_batch + rows[r] - 1) / rows[r],
                          "%s: %d micro-batches of %d rows for %d rows", cases[c].what, part.n_micro[k], rows[r],
                          MB_B + in_batch);
                // the first step (the same prompt in: the micro-batches' own rounding), then the run
                double dl1, dg1, dP1, dl, dg, dP;
                micro_compare(&whole, &part, 1, &dl1, &dg1, &dP1);
                int same = micro_compare(&whole, &part, MB_STEPS, &dl, &dg, &dP);
                runs++;
                bitwise += same;
                worst_first = fmax(worst_first, fmax(dl1, dg1));
                worst_loss = fmax(worst_loss, dl);
                worst_g = fmax(worst_g, dg);
                worst_P = fmax(worst_P, dP);
                CHECK(memcmp(whole.ids, part.ids, sizeof whole.ids) == 0, "%s, micro-batches of %d rows: other "
                      "projections than the one batch's", cases[c].what, rows[r]);
                CHECK(dl1 <= 1e-6 && dg1 <= 1e-6, "%s, micro-batches of %d rows: the first step's loss or gradient is "
                      "not the one batch's (relative differences %.3g, %.3g)", cases[c].what, rows[r], dl1, dg1);
                CHECK(dl <= 1e-4 && dg <= 1e-4 && dP <= 1e-4, "%s, micro-batches of %d rows: not the one batch's run "
                      "(relative differences: loss %.3g, gradient %.3g, prompt %.3g)", cases[c].what, rows[r], dl, dg, dP);
                printf(" %d", part.n_micro[0]);
            }
            printf("\n");
            // too small: one example with the log-PPL row does not fit
            p.activation_mb = budget_for_rows(&p, &m, scorer, &split, 1 + in_batch) * 0.9;
            TuneContext ctx;
            PezState s;
            make_context(&ctx, &p, &m, scorer, &split);
            CHECK(pez_state_alloc(&s, &ctx, &err) != 0 && strstr(err.msg, "activation_mb") &&
                  !strchr(err.msg, '\n'), "%s: a budget too small: %s", cases[c].what, err.msg);
            // the default budget (not given) is raised to that least instead
            p.activation_default = 1;
            if (pez_state_alloc(&s, &ctx, &err) == 0) {
                CHECK(s.mb_rows == 1 + in_batch && s.mb_bytes > s.budget, "%s: the default raised to %d rows, %zu of "
                      "%zu bytes", cases[c].what, s.mb_rows, s.mb_bytes, s.budget);
                pez_state_free(&s);
            } else {
                CHECK(0, "%s: the default budget too small: %s", cases[c].what, err.msg);
            }
        }
        encoded_split_free(&split);
        free(params); free(params2);
        free(m.blocks_storage); free(m2.blocks_storage);
    }
    printf("  %d of %d runs the same as the one batch's to the bit; largest relative differences: first step's "
           "loss and gradient %.3g; over %d steps loss %.3g, gradient %.3g, prompt %.3g\n", bitwise, runs, worst_first,
           MB_STEPS, worst_loss, worst_g, worst_P);
    CHECK(runs == 24, "%d runs compared", runs);
}

// ----------------------------------------------------------------------------
// an end-to-end run

typedef struct {
    char dir[512], dir2[512];    // scratch checkpoints: the task model and a scorer
    GPT2Model model, scorer;
    GPT2Tokenizer *tok;
    Split train, dev;
    TunePoint point;
    TuneContext ctx;
} Smoke;

static void remove_checkpoint(const char *dir) {
    char path[600];
    if (!dir[0]) return;
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static void smoke_free(Smoke *s) {
    sst2_free(&s->ctx, s->tok, &s->train, &s->dev);
    gpt2_free(&s->model);
    gpt2_free(&s->scorer);
    remove_checkpoint(s->dir);
    remove_checkpoint(s->dir2);
}

/* Writes a random model with gpt2_save into a fresh scratch directory and
 * loads it back (F32 weights mapped read-only: a write to wte would fault). */
static int saved_model(GPT2Model *out, char *dir, size_t cap, int n_layer, uint64_t seed, Err *err) {
    const char *tmp = getenv("TMP");
    snprintf(dir, cap, "%s/test_pez.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir)) { dir[0] = '\0'; return err_fail(err, "mkdtemp failed"); }
    GPT2Model m;
    float *params = tiny_model(&m, n_layer, 16, 192, seed);
    int rc = gpt2_save(&m.config, &m.w, dir, err);
    free(params);
    free(m.blocks_storage);
    return rc ? rc : gpt2_load(out, dir, err);
}

/* 0 ready, 77 skip (no tokenizer or data), 1 failure. */
static int smoke_setup(Smoke *s, const char *template_text, Err *err) {
    memset(s, 0, sizeof *s);
    int rc = load_sst2(&s->tok, &s->train, &s->dev, "16-42", err);
    if (rc) return rc;
    if (saved_model(&s->model, s->dir, sizeof s->dir, 2, 5, err) ||
        saved_model(&s->scorer, s->dir2, sizeof s->dir2, 1, 6, err))
        return 1;

    TunePoint *p = &s->point;
    sst2_point(p, METHOD_PEZ, 4, template_text);
    p->seed = 7;
    p->pez = (PezSettings){.steps = 20, .batch = 4, .eval_every = 5, .optimizer = PEZ_ADAFACTOR, .lr = 0.3,
                           .weight_decay = 0.1, .clip = 1.0, .init_random = 0, .reset_quirk = 0};

    TuneContext *ctx = &s->ctx;
    if (sst2_context(ctx, p, &s->model, s->tok, &s->train, &s->dev, p->max_tokens + TUNE_MAX_PROMPT, err)) return 1;
    if (scorer_new(&ctx->scorer, &s->model, 1, err)) return 1;
    if (dictionary_load(&ctx->dict, "/usr/share/dict/words", err)) {
        printf("skip: no dictionary (%s)\n", err->msg);
        return 77;
    }
    ctx->progress = count_progress;
    return 0;
}

/* smoke_setup with its failure counted: 0 ready, 1 failed, 77 skip; s is freed unless ready. */
static int smoke_begin(Smoke *s, const char *template_text) {
    Err err = {{0}};
    int rc = smoke_setup(s, template_text, &err);
    if (rc == 1) CHECK(0, "smoke setup: %s", err.msg);
    if (rc) smoke_free(s);
    return rc;
}

static int same_runs(const TuneResult *a, const TuneResult *b) {
    if (memcmp(a->prompt_ids, b->prompt_ids, sizeof a->prompt_ids) || a->best_step != b->best_step ||
        a->n_history != b->n_history || a->test_acc != b->test_acc || a->acc_continuous != b->acc_continuous ||
        a->kl_continuous_projected != b->kl_continuous_projected || a->log_ppl != b->log_ppl)
        return 0;
    for (int i = 0; i < a->n_history; i++)
        if (a->history[i].loss != b->history[i].loss || a->history[i].dev_acc != b->history[i].dev_acc ||
            a->history[i].log_ppl != b->history[i].log_ppl)
            return 0;
    return 1;
}

/* With soft, the history and the objective are the soft prompt's, the other numbers its
 * projection's: the result's dev accuracy is not the history's. */
static void check_result(const TuneResult *r, const char *what, int steps, int eval_every, int soft) {
    int want = (steps + eval_every - 1) / eval_every; // every eval_every steps, and the last
    CHECK(r->steps == steps && r->prompt_length == 4, "%s: steps %d, prompt length %d", what, r->steps, r->prompt_length);
    CHECK(r->n_history == want, "%s: %d history entries, want %d", what, r->n_history, want);
    double best_j = INFINITY, best_lp = INFINITY;
    int best_step = -1;
    for (int i = 0; i < r->n_history; i++) {
        const HistoryEntry *h = &r->history[i];
        int step_want = i + 1 < want ? (i + 1) * eval_every : steps;
        CHECK(h->step == step_want, "%s: history %d at step %d, want %d", what, i, h->step, step_want);
        CHECK(isfinite(h->loss) && h->dev_acc >= 0 && h->dev_acc <= 1 && isfinite(h->log_ppl) && h->log_ppl > 0,
              "%s: history %d: loss %g dev %g log-ppl %g", what, i, h->loss, h->dev_acc, h->log_ppl);
        CHECK(close_to(h->dev_objective, r->w_task * h->dev_task + r->w_interp * h->log_ppl, 1e-12),
              "%s: history %d: J %g is not %g %g + %g %g", what, i, h->dev_objective, r->w_task, h->dev_task,
              r->w_interp, h->log_ppl);
        // the lowest J on dev, ties to the lower log-PPL, then to the earlier step
        if (h->dev_objective < best_j || (h->dev_objective == best_j && h->log_ppl < best_lp)) {
            best_j = h->dev_objective;
            best_lp = h->log_ppl;
            best_step = h->step;
        }
    }
    CHECK(r->best_step == best_step, "%s: best step %d, want %d (the lowest dev objective)", what, r->best_step,
          best_step);
    for (int i = 0; i < r->n_history; i++)
        if (r->history[i].step == r->best_step)
            CHECK((soft || r->dev_acc == r->history[i].dev_acc) && r->log_ppl == r->history[i].log_ppl &&
                      r->obj_total == r->history[i].dev_objective && r->obj_task == r->history[i].dev_task,
                  "%s: the result (dev %g, log-ppl %g, J %g) is not the best step's", what, r->dev_acc, r->log_ppl,
                  r->obj_total);
    CHECK(r->acc_continuous >= 0 && r->acc_continuous <= 1 && r->acc_projected == r->test_acc &&
          r->kl_continuous_projected >= 0 && isfinite(r->kl_continuous_projected),
          "%s: faithfulness %g %g %g", what, r->acc_continuous, r->acc_projected, r->kl_continuous_projected);
    for (int i = 0; i < r->prompt_length; i++)
        CHECK(r->prompt_ids[i] >= 0 && r->prompt_ids[i] < 50257 && r->prompt_ids[i] != GPT2_EOT, "%s: prompt id %d",
              what, r->prompt_ids[i]);
    printf("  %s: best \"%s\" at step %d, dev %.3f, test %.3f, continuous %.3f, KL %.3g, log-ppl %.2f\n", what,
           r->prompt_text, r->best_step, r->dev_acc, r->test_acc, r->acc_continuous, r->kl_continuous_projected,
           r->log_ppl);
}

/* soft_run end to end: the history and the choice by the soft prompt's dev
 * objective; the record's prompt and accuracies are the projection's
 * (eval_prompts of its ids gives them), its objective the chosen soft
 * prompt's; faithfulness at the chosen step, not the last: the same run
 * stopped at the chosen step (the same batches up to there) has the same
 * continuous accuracy and KL. Deterministic; pez_run and soft_run refuse
 * each other's points. On s as smoke_setup made it; its point is left as
 * it was. */
static void test_soft_smoke(Smoke *s) {
    printf("soft end to end:\n");
    Err err = {{0}};
    const TunePoint keep = s->point;
    s->point.method = METHOD_SOFT;
    const int steps = 25; // the chosen step is 20 (seen): faithfulness at 20 and at 25 differ
    s->point.pez.steps = steps;
    TuneResult r1 = {0}, r2 = {0}, stopped = {0}, last = {0}, r3 = {0};
    int rc1 = soft_run(&s->ctx, &r1, &err);
    CHECK(rc1 == 0, "soft_run: %s", err.msg);
    if (rc1 == 0) {
        check_result(&r1, "soft, adafactor, classes", steps, 5, 1);
        const HistoryEntry *chosen = NULL;
        for (int i = 0; i < r1.n_history; i++)
            if (r1.history[i].step == r1.best_step) chosen = &r1.history[i];
        EvalResult dev;
        CHECK(eval_prompts(s->ctx.eval, &s->ctx.dev, r1.prompt_ids, 1, 4, &dev, NULL, &err) == 0, "%s", err.msg);
        CHECK(chosen && r1.dev_acc == dev.accuracy && r1.eval[TUNE_DEV].loss == dev.loss &&
                  r1.obj_task == chosen->dev_task && r1.obj_task != dev.loss,
              "soft: the record's dev accuracy %g is not the projection's %g, or its objective's task %g not the soft "
              "prompt's", r1.dev_acc, dev.accuracy, r1.obj_task);
        CHECK(soft_run(&s->ctx, &r2, &err) == 0 && same_runs(&r1, &r2), "soft: the same point gave another run");
        // the same run stopped at the chosen step, evaluated there only; and at the last step
        s->point.pez.steps = s->point.pez.eval_every = r1.best_step;
        CHECK(soft_run(&s->ctx, &stopped, &err) == 0, "soft_run stopped: %s", err.msg);
        s->point.pez.steps = s->point.pez.eval_every = steps;
        CHECK(soft_run(&s->ctx, &last, &err) == 0, "soft_run to the last step: %s", err.msg);
        CHECK(r1.best_step < steps && last.kl_continuous_projected != r1.kl_continuous_projected,
              "the chosen step %d and the last give the same faithfulness (KL %g): the check below cannot tell",
              r1.best_step, last.kl_continuous_projected);
        CHECK(memcmp(stopped.prompt_ids, r1.prompt_ids, sizeof r1.prompt_ids) == 0 &&
                  stopped.acc_continuous == r1.acc_continuous &&
                  stopped.kl_continuous_projected == r1.kl_continuous_projected,
              "soft: faithfulness (%g, KL %g) is not the chosen step's (%g, KL %g)", r1.acc_continuous,
              r1.kl_continuous_projected, stopped.acc_continuous, stopped.kl_continuous_projected);
        printf("  the run stopped at step %d: continuous %.3f, KL %.4g (the record's %.3f, %.4g; at the last step "
               "%.3f, %.4g)\n", r1.best_step, stopped.acc_continuous, stopped.kl_continuous_projected, r1.acc_continuous,
               r1.kl_continuous_projected, last.acc_continuous, last.kl_continuous_projected);
    }
    CHECK(pez_run(&s->ctx, &r3, &err) != 0 && strstr(err.msg, "soft"), "pez_run of a soft point: %s", err.msg);
    s->point.method = METHOD_PEZ;
    CHECK(soft_run(&s->ctx, &r3, &err) != 0 && strstr(err.msg, "not soft"), "soft_run of a pez point: %s", err.msg);
    result_free(&r1);
    result_free(&r2);
    result_free(&r3);
    result_free(&stopped);
    result_free(&last);
    s->point = keep;
}

static int test_smoke(void) {
    printf("end to end:\n");
    Smoke s;
    Err err = {{0}};
    int rc = smoke_begin(&s, "[P]{sentence} It was");
    if (rc) return rc;

    TuneResult r1, r2, r3;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    memset(&r3, 0, sizeof r3);
    int rc1 = pez_run(&s.ctx, &r1, &err);
    CHECK(rc1 == 0, "pez_run: %s", err.msg);
    if (rc1 == 0) {
        check_result(&r1, "adafactor, classes", 20, 5, 0);
        CHECK(progress_lines == 4, "%d progress lines, want 4", progress_lines);
        int rc2 = pez_run(&s.ctx, &r2, &err); // same point, same seed: the same run
        CHECK(rc2 == 0 && same_runs(&r1, &r2), "the same point gave another run (%s)", rc2 ? err.msg : "results differ");
        // selection never looks at test: with every test label flipped, the same prompt at the
        // same step, and the test accuracy becomes its complement
        for (int i = 0; i < s.ctx.test.n; i++) s.ctx.test.label[i] = 1 - s.ctx.test.label[i];
        TuneResult flipped;
        memset(&flipped, 0, sizeof flipped);
        CHECK(pez_run(&s.ctx, &flipped, &err) == 0, "pez_run (test flipped): %s", err.msg);
        CHECK(memcmp(flipped.prompt_ids, r1.prompt_ids, sizeof r1.prompt_ids) == 0 && flipped.best_step == r1.best_step &&
                  flipped.dev_acc == r1.dev_acc && close_to(flipped.test_acc, 1.0 - r1.test_acc, 1e-12),
              "flipping the test labels changed the choice: step %d vs %d, test %g vs %g", flipped.best_step,
              r1.best_step, flipped.test_acc, r1.test_acc);
        for (int i = 0; i < s.ctx.test.n; i++) s.ctx.test.label[i] = 1 - s.ctx.test.label[i];
        result_free(&flipped);
    }
    test_soft_smoke(&s);
    // a failure inside the step loop (a label out of range; 20 steps of 4 draw every one of
    // the 32 examples) frees everything and says why
    int keep = s.ctx.train.label[0];
    s.ctx.train.label[0] = 7;
    CHECK(pez_run(&s.ctx, &r3, &err) != 0 && strstr(err.msg, "label"), "a bad label went unnoticed: %s", err.msg);
    s.ctx.train.label[0] = keep;
    // other settings: AdamW, random init, the reset quirk, a separate scorer; an odd step count
    s.point.pez = (PezSettings){.steps = 7, .batch = 4, .eval_every = 3, .optimizer = PEZ_ADAMW, .lr = 0.1,
                                .weight_decay = 0.1, .clip = 1.0, .init_random = 1, .reset_quirk = 1};
    Scorer *own = s.ctx.scorer, *other = NULL;
    if (scorer_new(&other, &s.scorer, 1, &err)) CHECK(0, "scorer_new: %s", err.msg);
    s.ctx.scorer_model = &s.scorer;
    s.ctx.scorer = other;
    result_free(&r3);
    CHECK(other && pez_run(&s.ctx, &r3, &err) == 0, "pez_run (adamw, random, quirk, scorer): %s", err.msg);
    check_result(&r3, "adamw, random init, reset quirk, separate scorer", 7, 3, 0);
    s.ctx.scorer_model = &s.model;
    s.ctx.scorer = own;
    scorer_free(other);
    // a bad point is refused with a message
    s.point.prompt_length = 0;
    result_free(&r3);
    CHECK(pez_run(&s.ctx, &r3, &err) != 0 && strstr(err.msg, "prompt_length"), "prompt_length 0 accepted: %s", err.msg);
    result_free(&r1);
    result_free(&r2);
    result_free(&r3);
    smoke_free(&s);

    // the prompt after the sentence (non-empty pre; the evaluator's cache path)
    if (smoke_begin(&s, "{sentence} It was[P]")) return 1;
    s.point.pez.steps = 4;
    s.point.pez.eval_every = 2;
    TuneResult r4;
    memset(&r4, 0, sizeof r4);
    CHECK(pez_run(&s.ctx, &r4, &err) == 0, "pez_run with the prompt last: %s", err.msg);
    check_result(&r4, "prompt after the sentence", 4, 2, 0);
    result_free(&r4);
    smoke_free(&s);
    return 0;
}

int main(void) {
    test_projection();
    test_projection_never_eot();
    test_init();
    test_clip();
    test_adafactor();
    test_adamw();
    test_reset_quirk();
    test_batches();
    test_micro_batches();
    test_gradients(0);
    test_gradients(3);
    test_soft_gradients(0);
    test_soft_gradients(3);
    test_rigged_eot();
    return test_exit(test_smoke(), "formulas ok; end-to-end run skipped (needs the tokenizer, ../shared/data, a word list)");
}
