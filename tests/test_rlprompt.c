/*
 * tests/test_rlprompt.c: every formula of RLPrompt (tuners/rlprompt.c) against
 * hand-checked numbers or an independent double-precision recomputation:
 *   - z-score (population std, + 1e-4) and the combined reward;
 *   - the SQL loss on hand numbers and on a made-up (B=2, T=3, V=5) example,
 *     its gradient w.r.t. the logits by central finite differences;
 *   - the MLP forward against doubles and its backward by finite differences;
 *   - Polyak, Xavier-uniform init, top-k sampling and argmax, Adam, clipping;
 * then a smoke run of rlprompt_run on a tiny random in-memory model with the
 * 16-shot SST-2 split: history, determinism (same point, same run), an error
 * inside the step loop and a bad point (skipped, exit 77, when the tokenizer
 * or the data are missing). Env: SHARED (default ../shared), TOKENIZER_DIR
 * (default models/gpt2-tokenizer).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "tuners/rlprompt_internal.h"
#include "tuners/tuners.h"

#define TEST_NAME "test_rlprompt"
#include "tests/testlib.h"

// ----------------------------------------------------------------------------
// reward

static void test_zscore(void) {
    double R[4] = {1, 2, 3, 4}, out[4];
    // mean 2.5, population std sqrt(1.25) = 1.118034: 5 (R - 2.5) / (1.118034 + 1e-4)
    const double want[4] = {-6.7076039861602, -2.2358679953867338, 2.2358679953867338, 6.7076039861602};
    rl_zscore(out, R, 4, 5.0);
    for (int i = 0; i < 4; i++) CHECK(close_to(out[i], want[i], 1e-12), "zscore[%d] %.15g, want %.15g", i, out[i], want[i]);
    double R3[3] = {-3.0, 7.5, 0.25}, out3[3];
    const double want3[3] = {-1.0442381757756725, 1.3480165541831408, -0.3037783784074683};
    rl_zscore(out3, R3, 3, 1.0);
    for (int i = 0; i < 3; i++) CHECK(close_to(out3[i], want3[i], 1e-12), "zscore3[%d] %.15g, want %.15g", i, out3[i], want3[i]);
    // equal rewards: std 0, every shaped reward 0 (the 1e-4 keeps it finite)
    double same[3] = {2, 2, 2};
    rl_zscore(out3, same, 3, 5.0);
    for (int i = 0; i < 3; i++) CHECK(out3[i] == 0.0, "zscore of equal rewards %g", out3[i]);
}

static void test_prompt_rewards(void) {
    EvalResult res[2] = {{.reward = 10.0, .loss = 0.5}, {.reward = -4.0, .loss = 2.0}};
    double log_ppl[2] = {2.0, 6.0}, R[2];
    // the default: minus the objective, J = w_task CE + w_interp log_ppl
    rl_prompt_rewards(R, res, log_ppl, 2, 1.0, 0.5, RL_REWARD_OBJECTIVE);   // additive, lambda 0.5
    CHECK(R[0] == -1.5 && R[1] == -5.0, "objective rewards %g %g, want -1.5 -5", R[0], R[1]);
    rl_prompt_rewards(R, res, log_ppl, 2, 0.75, 0.25, RL_REWARD_OBJECTIVE); // convex, lambda 0.25
    CHECK(R[0] == -0.875 && R[1] == -3.0, "convex objective rewards %g %g, want -0.875 -3", R[0], R[1]);
    // the reference's gap reward
    rl_prompt_rewards(R, res, log_ppl, 2, 1.0, 0.5, RL_REWARD_GAP);
    CHECK(R[0] == 9.0 && R[1] == -7.0, "gap rewards %g %g, want 9 -7", R[0], R[1]);
    rl_prompt_rewards(R, res, log_ppl, 2, 0.75, 0.25, RL_REWARD_GAP);
    CHECK(R[0] == 7.0 && R[1] == -4.5, "convex gap rewards %g %g, want 7 -4.5", R[0], R[1]);
    // lambda 0: log_ppl is not computed and must not be read (NaN here)
    double unread[2] = {NAN, NAN};
    rl_prompt_rewards(R, res, unread, 2, 1.0, 0.0, RL_REWARD_OBJECTIVE);
    CHECK(R[0] == -0.5 && R[1] == -2.0, "lambda 0 rewards %g %g", R[0], R[1]);
}

// ----------------------------------------------------------------------------
// soft Q-learning

static void test_logsumexp(void) {
    float x[8] = {0, 0, 0, 0, 1, 2, 3, 1000};
    int a[2] = {1, 3};
    double lse[2], logp[2];
    rl_row_logsumexp(lse, logp, x, a, 2, 4);
    CHECK(close_to(lse[0], log(4.0), 1e-12), "lse of zeros %g", lse[0]);
    CHECK(close_to(logp[0], -log(4.0), 1e-12), "logp of zeros %g", logp[0]);
    CHECK(close_to(lse[1], 1000.0, 1e-12), "lse with a huge logit %g (overflow?)", lse[1]);
    CHECK(close_to(logp[1], 0.0, 1e-12), "logp of the dominant action %g", logp[1]);
}

static void test_sql_loss_by_hand(void) {
    // B = 1, T = 2: A = (-1, -2), V' = (3, 4), r = 1.
    // tgt2 = (4 - 3, 1 - 4) = (1, -3); S = (-3, -2); tgt3 = (1 - 3, 1 - 4) = (-2, -3)
    // e2 = A - tgt2 = (-2, 1); e3 = S - tgt3 = (-1, 1)
    // loss = 1/2 (4 + 1) + 1/2 (1 + 1) = 3.5; dA = (e2_0 + e3_0, e2_1 + e3_0 + e3_1) = (-3, 1)
    double A[2] = {-1, -2}, Vt[2] = {3, 4}, r = 1, dA[2];
    double loss = rl_sql_loss(dA, A, Vt, &r, 1, 2);
    CHECK(loss == 3.5, "hand SQL loss %g, want 3.5", loss);
    CHECK(dA[0] == -3.0 && dA[1] == 1.0, "hand dA (%g, %g), want (-3, 1)", dA[0], dA[1]);
    // two copies of the prompt: the same mean loss, half the gradient each
    double A2[4] = {-1, -2, -1, -2}, V2[4] = {3, 4, 3, 4}, r2[2] = {1, 1}, d2[4];
    loss = rl_sql_loss(d2, A2, V2, r2, 2, 2);
    CHECK(loss == 3.5 && d2[0] == -1.5 && d2[3] == 0.5, "batch of 2: loss %g, dA %g %g", loss, d2[0], d2[3]);
}

enum { SB = 2, ST = 3, SV = 5, SN = SB * ST };

/* The SQL loss straight from the definitions, in doubles: logits and target
 * logits (B, T, V) batch-major, actions (B, T), rewards (B). */
static double sql_loss_reference(const double *logits, const double *tlogits, const int *actions,
                                 const double *r) {
    double A[SB][ST], Vt[SB][ST], loss = 0.0;
    for (int b = 0; b < SB; b++)
        for (int t = 0; t < ST; t++) {
            const double *x = logits + (b * ST + t) * SV, *y = tlogits + (b * ST + t) * SV;
            double sx = 0.0, sy = 0.0;
            for (int v = 0; v < SV; v++) { sx += exp(x[v]); sy += exp(y[v]); }
            A[b][t] = x[actions[b * ST + t]] - log(sx);
            Vt[b][t] = log(sy);
        }
    for (int b = 0; b < SB; b++)
        for (int t = 0; t < ST; t++) {
            double tgt2 = t < ST - 1 ? Vt[b][t + 1] - Vt[b][t] : r[b] - Vt[b][t];
            double S = 0.0;
            for (int k = t; k < ST; k++) S += A[b][k];
            double tgt3 = r[b] - Vt[b][t];
            loss += 0.5 * ((A[b][t] - tgt2) * (A[b][t] - tgt2) + (S - tgt3) * (S - tgt3));
        }
    return loss / SB;
}

static void test_sql_loss_and_gradient(void) {
    // made-up logits, multiples of 1/64 so that float and double hold the same numbers
    float logits[SN * SV], tlogits[SN * SV];
    double dlog[SN * SV], dtlog[SN * SV];
    for (int i = 0; i < SN * SV; i++) {
        logits[i] = (float)(((i * 37) % 23) - 11) / 8.0f + (float)(i % 3) / 64.0f;
        tlogits[i] = (float)(((i * 53) % 19) - 9) / 16.0f;
        dlog[i] = logits[i];
        dtlog[i] = tlogits[i];
    }
    int actions[SN] = {4, 0, 2, 1, 1, 3}; // (B, T)
    double r[SB] = {2.5, -1.25};

    // the tuner's path: rows in batch-major order here, so A and V' are (B, T) as rl_sql_loss wants
    double lse[SN], logp[SN], tlse[SN], dA[SN];
    rl_row_logsumexp(lse, logp, logits, actions, SN, SV);
    rl_row_logsumexp(tlse, NULL, tlogits, NULL, SN, SV);
    double loss = rl_sql_loss(dA, logp, tlse, r, SB, ST);
    double ref = sql_loss_reference(dlog, dtlog, actions, r);
    CHECK(close_to(loss, ref, 1e-6), "SQL loss %.10g, independent %.10g", loss, ref);

    float dlogits[SN * SV];
    rl_logits_backward(dlogits, logits, lse, actions, dA, SN, SV);
    // central differences of the double reference in each logit; the targets stay fixed
    double h = 1e-5, max_err = 0.0, max_g = 0.0;
    for (int i = 0; i < SN * SV; i++) {
        double keep = dlog[i];
        dlog[i] = keep + h;
        double up = sql_loss_reference(dlog, dtlog, actions, r);
        dlog[i] = keep - h;
        double down = sql_loss_reference(dlog, dtlog, actions, r);
        dlog[i] = keep;
        double fd = (up - down) / (2 * h);
        max_err = fmax(max_err, fabs(fd - dlogits[i]));
        max_g = fmax(max_g, fabs(fd));
    }
    CHECK(max_g > 0.1 && max_err / max_g <= 1e-4, "SQL d loss / d logits: relative error %g (max |grad| %g)",
          max_err / max_g, max_g);
    // every row of the gradient sums to 0: d (onehot - softmax) has no component along 1
    for (int n = 0; n < SN; n++) {
        double s = 0.0;
        for (int v = 0; v < SV; v++) s += dlogits[n * SV + v];
        CHECK(fabs(s) < 1e-5, "row %d of d logits sums to %g", n, s);
    }
}

// ----------------------------------------------------------------------------
// the MLP

enum { MC = 3, MH = 4, MN = 2 };

/* out (N, C) in doubles from float parameters. */
static void mlp_reference(double *out, const double *in, const double *w1, const double *b1,
                          const double *w2, const double *b2) {
    for (int n = 0; n < MN; n++) {
        double act[MH];
        for (int j = 0; j < MH; j++) {
            double s = b1[j];
            for (int i = 0; i < MC; i++) s += in[n * MC + i] * w1[i * MH + j];
            act[j] = s > 0 ? s : 0;
        }
        for (int o = 0; o < MC; o++) {
            double s = b2[o];
            for (int j = 0; j < MH; j++) s += act[j] * w2[j * MC + o];
            out[n * MC + o] = s;
        }
    }
}

static void test_mlp(void) {
    size_t np = rl_mlp_num_params(MC, MH);
    CHECK(np == (size_t)(MC * MH + MH + MH * MC + MC), "MLP size %zu", np);
    float params[MC * MH + MH + MH * MC + MC], grads[MC * MH + MH + MH * MC + MC];
    RlMLP w, g;
    rl_mlp_point(&w, params, MC, MH);
    rl_mlp_point(&g, grads, MC, MH);
    // a fixed point, chosen so that no pre-activation sits near the relu kink
    Rng rng;
    rng_seed(&rng, 7);
    for (size_t i = 0; i < np; i++) params[i] = (float)(rng_uniform(&rng) - 0.5);
    float in[MN * MC] = {0.5f, -1.0f, 0.25f, -0.75f, 0.3f, 1.2f};
    float G[MN * MC] = {1.0f, -2.0f, 0.5f, 0.25f, 1.5f, -1.0f}; // loss = sum out * G
    float out[MN * MC], pre[MN * MH], act[MN * MH], dact[MN * MH];
    rl_mlp_forward(out, pre, act, in, &w, MN, MC, MH);
    int active = 0;
    for (int i = 0; i < MN * MH; i++) {
        CHECK(fabsf(pre[i]) > 1e-2f, "pre-activation %d = %g is too close to the kink for the test", i, pre[i]);
        active += pre[i] > 0;
    }
    CHECK(active > 0 && active < MN * MH, "want both active and inactive units, %d of %d active", active, MN * MH);

    double din[MN * MC], dp[MC * MH + MH + MH * MC + MC], ref[MN * MC];
    for (int i = 0; i < MN * MC; i++) din[i] = in[i];
    for (size_t i = 0; i < np; i++) dp[i] = params[i];
    double *w1 = dp, *b1 = w1 + MC * MH, *w2 = b1 + MH, *b2 = w2 + MH * MC;
    mlp_reference(ref, din, w1, b1, w2, b2);
    for (int i = 0; i < MN * MC; i++) CHECK(close_to(out[i], ref[i], 1e-6), "MLP out[%d] %g, want %g", i, out[i], ref[i]);

    // backward accumulates: two calls give twice the gradient
    memset(grads, 0, sizeof grads);
    rl_mlp_backward(&g, dact, G, in, pre, act, &w, MN, MC, MH);
    rl_mlp_backward(&g, dact, G, in, pre, act, &w, MN, MC, MH);
    double h = 1e-6, max_err = 0.0, max_g = 0.0;
    for (size_t i = 0; i < np; i++) {
        double keep = dp[i], lo = 0.0, hi = 0.0;
        dp[i] = keep + h;
        mlp_reference(ref, din, w1, b1, w2, b2);
        for (int k = 0; k < MN * MC; k++) hi += ref[k] * G[k];
        dp[i] = keep - h;
        mlp_reference(ref, din, w1, b1, w2, b2);
        for (int k = 0; k < MN * MC; k++) lo += ref[k] * G[k];
        dp[i] = keep;
        double fd = 2.0 * (hi - lo) / (2 * h);
        max_err = fmax(max_err, fabs(fd - grads[i]));
        max_g = fmax(max_g, fabs(fd));
    }
    CHECK(max_g > 0.1 && max_err / max_g <= 1e-4, "MLP backward: relative error %g", max_err / max_g);
}

static void test_mlp_init(void) {
    enum { C = 8, H = 24 };
    size_t np = rl_mlp_num_params(C, H);
    float *params = malloc(np * sizeof(float));
    RlMLP w;
    rl_mlp_point(&w, params, C, H);
    Rng rng;
    rng_seed(&rng, 1);
    rl_mlp_init(&w, C, H, &rng);
    double bound = 1e-4 * sqrt(6.0 / (C + H)); // 4.330127e-5
    float *mats[2] = {w.w1, w.w2};
    for (int k = 0; k < 2; k++) {
        double maxabs = 0.0, mean = 0.0;
        for (int i = 0; i < C * H; i++) { maxabs = fmax(maxabs, fabs(mats[k][i])); mean += mats[k][i]; }
        mean /= C * H;
        CHECK(maxabs <= bound * (1 + 1e-6), "W%d reaches %g, bound %g", k + 1, maxabs, bound);
        CHECK(maxabs > 0.9 * bound, "W%d only reaches %g of bound %g: not uniform on the whole range", k + 1, maxabs, bound);
        CHECK(fabs(mean) < 0.2 * bound, "W%d mean %g is not near 0", k + 1, mean);
    }
    for (int i = 0; i < H; i++) CHECK(w.b1[i] == -1e-4f, "b1[%d] = %g", i, w.b1[i]);
    for (int i = 0; i < C; i++) CHECK(w.b2[i] == -1e-4f, "b2[%d] = %g", i, w.b2[i]);
    free(params);
}

// ----------------------------------------------------------------------------
// actions

static void test_sampling(void) {
    enum { V = 50, K = 5, DRAWS = 20000 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = (float)((i * 17) % V) / 10.0f; // distinct, a permutation
    // the top 5: values 4.9, 4.8, ... 4.5 at ids with (17 i) mod 50 = 49..45
    int is_top[V] = {0}, heap[V], count[V] = {0}; // heap: scratch for k up to V
    double z = 0.0;
    for (int i = 0; i < V; i++) if ((i * 17) % V >= V - K) { is_top[i] = 1; z += exp(logits[i]); }
    CHECK(rl_argmax(logits, V) == 47, "argmax %d, want 47 ((17*47) %% 50 = 49)", rl_argmax(logits, V));
    Rng rng;
    rng_seed(&rng, 3);
    for (int d = 0; d < DRAWS; d++) {
        int a = rl_sample_top_k(logits, V, K, heap, &rng);
        CHECK(a >= 0 && a < V && is_top[a], "sampled %d, outside the top %d", a, K);
        if (a >= 0 && a < V) count[a]++;
    }
    for (int i = 0; i < V; i++)
        if (is_top[i]) {
            double p = exp(logits[i]) / z, f = (double)count[i] / DRAWS;
            CHECK(fabs(f - p) < 0.015, "id %d drawn %.4f of the time, softmax over the top %d says %.4f", i, f, K, p);
        }
    // k = 1 is greedy
    for (int d = 0; d < 20; d++) CHECK(rl_sample_top_k(logits, V, 1, heap, &rng) == 47, "top-1 is not the argmax");
    // ties at the k-th value go to the lower ids; argmax ties too
    float flat[6] = {1, 1, 1, 1, 1, 1};
    for (int d = 0; d < 200; d++) {
        int a = rl_sample_top_k(flat, 6, 3, heap, &rng);
        CHECK(a >= 0 && a < 3, "tie-break picked %d, want one of 0..2", a);
    }
    CHECK(rl_argmax(flat, 6) == 0, "argmax of ties %d, want 0", rl_argmax(flat, 6));
    // k >= V: the full softmax, p = (1, 2, 3) / 6
    float three[3] = {0.0f, (float)log(2.0), (float)log(3.0)};
    int c3[3] = {0};
    for (int d = 0; d < 60000; d++) c3[rl_sample_top_k(three, 3, 256, NULL, &rng)]++;
    for (int i = 0; i < 3; i++)
        CHECK(fabs(c3[i] / 60000.0 - (i + 1) / 6.0) < 0.01, "full softmax: id %d drawn %.4f, want %.4f", i, c3[i] / 60000.0, (i + 1) / 6.0);
    // the same seed draws the same sequence
    Rng r1, r2;
    rng_seed(&r1, 11); rng_seed(&r2, 11);
    for (int d = 0; d < 50; d++)
        CHECK(rl_sample_top_k(logits, V, 20, heap, &r1) == rl_sample_top_k(logits, V, 20, heap, &r2), "not deterministic");
}

// ----------------------------------------------------------------------------
// optimisation

static void test_polyak(void) {
    float target[3] = {1.0f, 2.0f, -4.0f}, online[3] = {3.0f, -2.0f, 4.0f};
    rl_polyak(target, online, 3, 0.25);
    CHECK(target[0] == 1.5f && target[1] == 1.0f && target[2] == -2.0f, "polyak 0.25: %g %g %g, want 1.5 1 -2", target[0], target[1], target[2]);
    float t2[1] = {1.0f}, o2[1] = {2.0f};
    rl_polyak(t2, o2, 1, 0.001); // 0.999 * 1 + 0.001 * 2
    CHECK(close_to(t2[0], 1.001, 1e-7), "polyak 0.001: %.9g, want 1.001", t2[0]);
    rl_polyak(t2, o2, 1, 0.0);
    CHECK(close_to(t2[0], 1.001, 1e-7), "polyak 0 moved the target to %.9g", t2[0]);
}

/* RLPrompt's clip: gpt2_clip_grads with its Adam's numerics (torch's clip_grad_norm_). */
static void test_clip(void) {
    const GPT2Numerics torch = rl_adam(0.1).numerics;
    float g[2] = {3.0f, 4.0f};
    double norm = gpt2_clip_grads(g, 2, 10.0, torch);
    CHECK(norm == 5.0 && g[0] == 3.0f && g[1] == 4.0f, "clip above the norm changed the grads");
    norm = gpt2_clip_grads(g, 2, 0.0, torch);
    CHECK(norm == 5.0 && g[0] == 3.0f, "clip 0 (off) changed the grads");
    norm = gpt2_clip_grads(g, 2, 1.0, torch); // to norm 1: (0.6, 0.8), times 5 / (5 + 1e-6) as torch
    CHECK(norm == 5.0 && close_to(g[0], 0.6, 1e-6) && close_to(g[1], 0.8, 1e-6), "clip to 1: norm %g, %g %g", norm, g[0], g[1]);
    CHECK(close_to(sqrt((double)g[0] * g[0] + (double)g[1] * g[1]), 1.0, 1e-6), "clipped norm is not 1");
}

/* RLPrompt's Adam (rl_adam's settings for gpt2_adam_step) as torch.optim.Adam. */
static void test_adam(void) {
    // one parameter at 1, lr 0.1, torch defaults; gradients 0.5, -1, 0.25
    // step 1: m = 0.05, v = 2.5e-4, m^ = 0.5, v^ = 0.25: p = 1 - 0.1 * 0.5 / (0.5 + 1e-8) = 0.9
    // step 2: m = -0.055, v = 1.24975e-3: p = 0.9 - 0.1 (-0.055 / 0.19) / (sqrt(1.24975e-3 / 1.999e-3) + 1e-8)
    float p[1] = {1.0f}, m[1] = {0}, v[1] = {0};
    const float g[3] = {0.5f, -1.0f, 0.25f};
    const double want_p[3] = {0.900000002, 0.9366103542405654, 0.9502794203389762};
    const double want_m[3] = {0.05, -0.055, -0.0245}, want_v[3] = {2.5e-4, 1.24975e-3, 1.31100025e-3};
    const GPT2Adam adam = rl_adam(0.1);
    for (int t = 1; t <= 3; t++) {
        gpt2_adam_step(p, g + t - 1, m, v, 1, &adam, t, NULL);
        CHECK(close_to(p[0], want_p[t - 1], 1e-6), "Adam step %d: p %.9g, want %.9g", t, p[0], want_p[t - 1]);
        CHECK(close_to(m[0], want_m[t - 1], 1e-6) && close_to(v[0], want_v[t - 1], 1e-6),
              "Adam step %d: m %g v %g, want %g %g", t, m[0], v[0], want_m[t - 1], want_v[t - 1]);
    }
}

// ----------------------------------------------------------------------------
// a smoke run of rlprompt_run

typedef struct {
    GPT2Model model;
    float *params;
    GPT2Tokenizer *tok;
    Split train, dev;
    TunePoint point;
    TuneContext ctx;
} Smoke;

static void smoke_free(Smoke *s) {
    sst2_free(&s->ctx, s->tok, &s->train, &s->dev);
    free(s->params);
    free(s->model.blocks_storage);
}

/* 0 ready, 77 skip (no tokenizer or data), 1 failure. */
static int smoke_setup(Smoke *s, Err *err) {
    memset(s, 0, sizeof *s);
    int rc = load_sst2(&s->tok, &s->train, &s->dev, "16-100", err);
    if (rc) return rc;
    GPT2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 192, .vocab_size = 50257,
                    .layer_norm_epsilon = 1e-5f};
    s->params = random_model(&s->model, c, 0.2, 5); // GPT-2's vocabulary: the tokenizer's ids fit

    TunePoint *p = &s->point;
    sst2_point(p, METHOD_RLPROMPT, 3, "{sentence}[P]");
    p->rl = (RlSettings){.steps = 5, .prompts_per_step = 4, .top_k = 16, .eval_every = 2, .hidden = 32,
                         .lr = 1e-3, .clip = 5.0, .polyak = 0.001, .reward_scale = 5.0};

    TuneContext *ctx = &s->ctx;
    if (sst2_context(ctx, p, &s->model, s->tok, &s->train, &s->dev, p->max_tokens + p->prompt_length, err)) return 1;
    if (scorer_new(&ctx->scorer, &s->model, p->rl.prompts_per_step, err)) return 1;
    if (dictionary_load(&ctx->dict, "/usr/share/dict/words", err)) ctx->dict = NULL; // optional here
    ctx->progress = count_progress;
    return 0;
}

static int test_smoke(void) {
    Smoke s;
    Err err = {{0}};
    int rc = smoke_setup(&s, &err);
    if (rc == 1) { CHECK(0, "smoke setup: %s", err.msg); smoke_free(&s); return 1; }
    if (rc == 77) { smoke_free(&s); return 77; }

    TuneResult r1, r2;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    int rc1 = rlprompt_run(&s.ctx, &r1, &err);
    CHECK(rc1 == 0, "rlprompt_run: %s", err.msg);
    if (rc1 == 0) {
        CHECK(r1.steps == 5 && r1.prompt_length == 3, "steps %d, prompt length %d", r1.steps, r1.prompt_length);
        // evaluations after steps 2, 4 and the last, 5
        CHECK(r1.n_history == 3 && r1.history[0].step == 2 && r1.history[1].step == 4 && r1.history[2].step == 5,
              "history of %d entries", r1.n_history);
        CHECK(progress_lines == 3, "%d progress lines, want 3", progress_lines);
        CHECK(r1.best_step == 2 || r1.best_step == 4 || r1.best_step == 5, "best step %d", r1.best_step);
        for (int i = 0; i < r1.prompt_length; i++)
            CHECK(r1.prompt_ids[i] >= 0 && r1.prompt_ids[i] < 50257 && r1.prompt_ids[i] != GPT2_EOT, "prompt id %d",
                  r1.prompt_ids[i]);
        for (int i = 0; i < r1.n_history; i++)
            CHECK(isfinite(r1.history[i].loss) && r1.history[i].dev_acc >= 0 && r1.history[i].dev_acc <= 1,
                  "history %d: loss %g dev %g", i, r1.history[i].loss, r1.history[i].dev_acc);
        printf("  best prompt \"%s\" at step %d, dev %.3f\n", r1.prompt_text, r1.best_step, r1.dev_acc);
        // same point, same seed: the same run
        int rc2 = rlprompt_run(&s.ctx, &r2, &err);
        CHECK(rc2 == 0, "second rlprompt_run: %s", err.msg);
        CHECK(rc2 == 0 && memcmp(r1.prompt_ids, r2.prompt_ids, sizeof r1.prompt_ids) == 0 &&
              r1.best_step == r2.best_step && r1.n_history == r2.n_history, "the same point gave another prompt");
        for (int i = 0; rc2 == 0 && i < r1.n_history && i < r2.n_history; i++)
            CHECK(r1.history[i].loss == r2.history[i].loss && r1.history[i].dev_acc == r2.history[i].dev_acc,
                  "history %d differs between identical runs", i);
        // the best is the lowest dev objective (ties: lower log-PPL, then the earlier step)
        int want = -1;
        double bj = INFINITY, bl = INFINITY;
        for (int i = 0; i < r1.n_history; i++) {
            const HistoryEntry *h = &r1.history[i];
            CHECK(close_to(h->dev_objective, r1.w_task * h->dev_task + r1.w_interp * h->log_ppl, 1e-12),
                  "history %d: J %g", i, h->dev_objective);
            if (h->dev_objective < bj || (h->dev_objective == bj && h->log_ppl < bl)) {
                bj = h->dev_objective;
                bl = h->log_ppl;
                want = h->step;
            }
        }
        CHECK(r1.best_step == want && r1.obj_total == bj, "best step %d (J %g), want %d (J %g)", r1.best_step,
              r1.obj_total, want, bj);
        // selection never looks at test: flipped test labels, the same prompt
        for (int i = 0; i < s.ctx.test.n; i++) s.ctx.test.label[i] = 1 - s.ctx.test.label[i];
        TuneResult flipped;
        memset(&flipped, 0, sizeof flipped);
        CHECK(rlprompt_run(&s.ctx, &flipped, &err) == 0, "rlprompt_run (test flipped): %s", err.msg);
        CHECK(memcmp(flipped.prompt_ids, r1.prompt_ids, sizeof r1.prompt_ids) == 0 && flipped.best_step == r1.best_step &&
                  close_to(flipped.test_acc, 1.0 - r1.test_acc, 1e-12),
              "flipping the test labels changed the choice (step %d vs %d)", flipped.best_step, r1.best_step);
        for (int i = 0; i < s.ctx.test.n; i++) s.ctx.test.label[i] = 1 - s.ctx.test.label[i];
        result_free(&flipped);
    }
    // rigged so that <|endoftext|> is what the policy wants: EOT's embedding made huge along
    // -b2 (the initial MLP's output is about b2 = -1e-4 everywhere), so its logit tops every
    // other by far. First the rig's proof: the unrestricted greedy first token is EOT.
    {
        int C = s.model.config.n_embd, H = s.point.rl.hidden;
        float *wte_eot = s.model.w.wte + (size_t)GPT2_EOT * C;
        for (int c = 0; c < C; c++) wte_eot[c] = -20000.0f;
        GPT2Acts a;
        int eot = GPT2_EOT;
        GPT2Batch b = {.B = 1, .T = 1, .ids = &eot};
        float *mlp = xmalloc(rl_mlp_num_params(C, H) * sizeof(float)), *pre = xmalloc((size_t)H * sizeof(float));
        float *act = xmalloc((size_t)H * sizeof(float)), *m = xmalloc((size_t)C * sizeof(float));
        float *logits = xmalloc((size_t)50257 * sizeof(float));
        RlMLP w;
        rl_mlp_point(&w, mlp, C, H);
        Rng rng;
        rng_seed(&rng, s.point.seed); // the run's first draws are the MLP's
        rl_mlp_init(&w, C, H, &rng);
        if (gpt2_acts_alloc(&a, &s.model.config, 1, 1, 1, 0, 0, &err) || gpt2_forward(&s.model, &a, &b, &err))
            die("rig: %s", err.msg);
        rl_mlp_forward(m, pre, act, a.lnf, &w, 1, C, H);
        gpt2_lm_head(&s.model, m, logits, 1);
        int top = rl_argmax(logits, 50257);
        float second = -INFINITY;
        for (int v = 0; v < 50257; v++) if (v != GPT2_EOT && logits[v] > second) second = logits[v];
        CHECK(top == GPT2_EOT && logits[GPT2_EOT] - second > 12.0f, "the rig: greedy picks %d, EOT ahead by %g", top,
              logits[GPT2_EOT] - second);
        gpt2_acts_free(&a);
        free(mlp); free(pre); free(act); free(m); free(logits);
        TuneResult rig;
        memset(&rig, 0, sizeof rig);
        CHECK(rlprompt_run(&s.ctx, &rig, &err) == 0, "rigged run: %s", err.msg);
        for (int i = 0; i < rig.prompt_length; i++)
            CHECK(rig.prompt_ids[i] != GPT2_EOT, "the rigged run's prompt has <|endoftext|> at %d", i);
        for (int i = 0; i < rig.n_history; i++) CHECK(isfinite(rig.history[i].loss), "rigged run: loss %g", rig.history[i].loss);
        printf("  rigged for <|endoftext|>: best prompt \"%s\"\n", rig.prompt_text);
        result_free(&rig);
    }
    // a failure inside the step loop (a label the evaluator refuses) frees everything and
    // passes the evaluator's message on (ASan's leak check watches the error path)
    TuneResult r3;
    memset(&r3, 0, sizeof r3);
    int keep = s.ctx.train.label[0];
    s.ctx.train.label[0] = 7;
    CHECK(rlprompt_run(&s.ctx, &r3, &err) != 0 && strstr(err.msg, "label"), "a bad label went unnoticed: %s", err.msg);
    s.ctx.train.label[0] = keep;
    // a bad point is refused with a message
    s.point.prompt_length = 0;
    CHECK(rlprompt_run(&s.ctx, &r3, &err) != 0 && strstr(err.msg, "prompt_length"), "prompt_length 0 accepted");
    result_free(&r1);
    result_free(&r2);
    result_free(&r3);
    smoke_free(&s);
    return 0;
}

int main(void) {
    test_zscore();
    test_prompt_rewards();
    test_logsumexp();
    test_sql_loss_by_hand();
    test_sql_loss_and_gradient();
    test_mlp();
    test_mlp_init();
    test_sampling();
    test_polyak();
    test_clip();
    test_adam();
    return test_exit(test_smoke(), "formulas ok; smoke run skipped (needs the tokenizer and ../shared/data)");
}
