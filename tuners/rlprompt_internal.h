/*
 * tuners/rlprompt_internal.h: the pieces of RLPrompt (tuners/rlprompt.c),
 * exposed for tests/test_rlprompt.c only. Not part of the tuners.h contract.
 *
 * Shapes: N rows (N = T*B in rlprompt.c: time-major, row t*B + b), C = n_embd,
 * H = MLP hidden width, V vocabulary, B prompts, T prompt length.
 */
#ifndef TUNERS_RLPROMPT_INTERNAL_H
#define TUNERS_RLPROMPT_INTERNAL_H

#include <stddef.h>

#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// the policy's MLP: m = relu(h W1 + b1) W2 + b2, no residual

/* Views into one flat buffer of rl_mlp_num_params floats, in this order, so
 * that Polyak, Adam and clipping each run over a single array. Linear weights
 * use the model's (in, out) layout: y = x W + b. */
typedef struct {
    float *w1;   // (C, H)
    float *b1;   // (H)
    float *w2;   // (H, C)
    float *b2;   // (C)
} RlMLP;

size_t rl_mlp_num_params(int C, int H);
void rl_mlp_point(RlMLP *w, float *params, int C, int H);

/* Xavier-uniform with gain 1e-4 (U(-a, a), a = 1e-4 sqrt(6 / (fan_in + fan_out)))
 * on both weight matrices, biases filled with -1e-4, as the reference does. */
void rl_mlp_init(RlMLP *w, int C, int H, Rng *rng);

/* pre (N,H) = in (N,C) W1 + b1; act (N,H) = relu(pre); out (N,C) = act W2 + b2. */
void rl_mlp_forward(float *out, float *pre, float *act, const float *in, const RlMLP *w,
                    int N, int C, int H);

/* Backward of rl_mlp_forward: grads += d loss / d (W1, b1, W2, b2) given
 * dout (N,C), the forward's in (N,C), pre (N,H), act (N,H). dact (N,H) is
 * scratch. No d in: the backbone is frozen. */
void rl_mlp_backward(RlMLP *grads, float *dact, const float *dout, const float *in,
                     const float *pre, const float *act, const RlMLP *w, int N, int C, int H);

// ----------------------------------------------------------------------------
// actions

/* Index of the largest of x (V); ties to the lowest index. */
int rl_argmax(const float *x, int V);

/* Samples from softmax(logits) restricted to the k largest logits (ties at the
 * k-th value to the lower indices; k >= V samples from the full softmax).
 * heap (k ints) is scratch. One rng_uniform draw. */
int rl_sample_top_k(const float *logits, int V, int k, int *heap, Rng *rng);

// ----------------------------------------------------------------------------
// reward

/* R (P) per prompt: -(w_task * loss + w_interp * log_ppl) (RL_REWARD_OBJECTIVE:
 * minus the objective) or w_task * reward - w_interp * log_ppl (RL_REWARD_GAP:
 * the reference's gap reward). log_ppl is not read when w_interp is 0. */
void rl_prompt_rewards(double *R, const EvalResult *res, const double *log_ppl, int P,
                       double w_task, double w_interp, RlReward kind);

/* out (n) = scale * (R - mean R) / (std R + 1e-4), population std. */
void rl_zscore(double *out, const double *R, int n, double scale);

// ----------------------------------------------------------------------------
// soft Q-learning

/* Per row of logits (N,V): lse (N) = logsumexp, and if actions (N) is not
 * NULL, logp (N) = logits[action] - lse (A_t, log pi(a_t | s_t)).
 * Exponentials to ~2 ulp (vectorised), summed in doubles. */
void rl_row_logsumexp(double *lse, double *logp, const float *logits, const int *actions, int N,
                      int V);

/* The on-policy SQL loss of B prompts of T steps (reference "v2_v2r_v3_v3r",
 * coefficient None): A, Vt (B,T) are A_t and V'_t = logsumexp of the target
 * logits, r (B) the shaped rewards. Returns
 *   mean_b sum_t 1/2 [(A_t - tgt2_t)^2 + (S_t - tgt3_t)^2],
 *   tgt2_t = V'_{t+1} - V'_t (t < T-1), r - V'_{T-1} (last), S_t = sum_{k>=t} A_k,
 *   tgt3_t = r - V'_t,
 * targets constant; dA (B,T) gets d loss / d A. */
double rl_sql_loss(double *dA, const double *A, const double *Vt, const double *r, int B, int T);

/* dlogits (N,V) = dA (N) * (onehot(action) - softmax(logits)), with lse (N)
 * the rows' logsumexp: A = logits[a] - lse pushed back to the logits. */
void rl_logits_backward(float *dlogits, const float *logits, const double *lse,
                        const int *actions, const double *dA, int N, int V);

// ----------------------------------------------------------------------------
// optimisation over a flat parameter array (n)

/* target = (1 - tau) target + tau online. */
void rl_polyak(float *target, const float *online, size_t n, double tau);

/* The settings of RLPrompt's optimiser for gpt2_adam_step: torch.optim.Adam
 * (betas 0.9, 0.999, eps 1e-8, no weight decay) in float
 * (GPT2_NUMERICS_TORCH_F32); its gradient clip is gpt2_clip_grads with the
 * same numerics (torch's clip_grad_norm_). */
GPT2Adam rl_adam(double lr);

#endif
