/*
 * tuners/rlprompt.c: RLPrompt (Deng et al. 2022), a discrete prompt found by
 * soft Q-learning, as the reference code (mingkaid/rl-prompt) does it; see
 * ../shared/docs/tuners-reference.md section 2.
 *
 * The policy is a frozen GPT-2 backbone whose final hidden state h (after
 * ln_f) goes through a small trainable MLP, m = relu(h W1 + b1) W2 + b2, into
 * the frozen tied LM head, logits = wte m. Starting from <|endoftext|> it
 * generates L tokens (top-k sampling for training, greedy for evaluation),
 * one KV cache row per prompt. Each prompt's reward is minus the run's
 * objective over the whole train split, R = -(w_task CE + w_interp log_ppl)
 * (or, with "reward": "gap", the reference's gap reward minus lambda times
 * the log-perplexity); the rewards are z-scored over the step's prompts and
 * scaled. The loss is the on-policy SQL loss with a Polyak-averaged target
 * MLP.
 *
 * Only the MLP is trained, so the backbone never runs backward: its hidden
 * states from generation (the same for the online and the target MLP, since
 * the actions are teacher-forced through a frozen backbone) are kept, and the
 * MLP and the LM head run forward and backward on them as plain sgemms.
 *
 * Choices where the reference is silent or does not apply (documented here):
 * - Policy buffers are time-major, row t*B + b, so that each generation step
 *   writes B contiguous rows; prompts are (B, L) as eval_prompts takes them.
 * - The action space is the prompt vocabulary (ctx->allowed): never
 *   <|endoftext|>, which the reference's full-vocabulary head can emit (its
 *   prompts then read as several documents to the scorer, and as text they
 *   are the 13 characters "<|endoftext|>"). The logits of the other ids are
 *   set to -inf after the head, online and target alike, so sampling, the
 *   greedy prompt and the soft values V = logsumexp all run over the
 *   allowed ids (a soft Q-learning policy over the smaller action space).
 * - The reward (departure from the reference, "rlprompt.reward"). The
 *   reference pays the gap reward, 200 gap or 180 gap per example (in
 *   [-180, 200]), and lambda would then price a nat of log-PPL against gap
 *   points, where PEZ prices it against a nat of cross-entropy: the same
 *   lambda grid would mean other trade-offs. By default the reward is minus
 *   the objective both tuners share, R = -(w_task CE + w_interp log_ppl),
 *   CE the mean cross-entropy of the label over the verbalizer logits on
 *   train (a proper scoring rule: a prompt confident in one label for every
 *   example is paid less than a calibrated one, where the gap reward's
 *   asymmetry pays it more). "gap" keeps the reference's reward, R = w_task
 *   gap_reward - w_interp log_ppl. Either way the z-score over the step's
 *   prompts follows.
 * - The greedy prompt is scored on dev after every eval_every steps and after
 *   the last step (so a short run always has a best prompt); the best is the
 *   lowest objective J = w_task CE_dev + w_interp log_ppl on dev, ties to the
 *   lower log-PPL, then to the earlier step (the reference selects nothing:
 *   its authors pick a prompt from the logs).
 * - Top-k ties at the k-th value go to the lower token ids; argmax ties too.
 * - Gradient clipping as torch's clip_grad_norm_ (in double); clip <= 0
 *   turns it off. Adam in float, as torch computes it for float parameters.
 * - A non-finite loss stops the run with an error rather than training on.
 * - With w_interp = 0 the scorer is not run on the sampled prompts.
 * - The KV cache holds L positions per row (<|endoftext|>, a_0 .. a_{L-2}):
 *   the last action is never fed back.
 * - Progress and history report the mean raw gap reward of the step's
 *   sampled prompts on train, and the greedy prompt's dev accuracy and log-PPL.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuners/rlprompt_internal.h"
#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// the MLP

size_t rl_mlp_num_params(int C, int H) {
    return (size_t)C * H + H + (size_t)H * C + C;
}

void rl_mlp_point(RlMLP *w, float *params, int C, int H) {
    w->w1 = params;
    w->b1 = w->w1 + (size_t)C * H;
    w->w2 = w->b1 + H;
    w->b2 = w->w2 + (size_t)H * C;
}

/* Fills x (n) from U(-a, a). */
static void uniform_fill(float *x, size_t n, double a, Rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((2.0 * rng_uniform(rng) - 1.0) * a);
}

void rl_mlp_init(RlMLP *w, int C, int H, Rng *rng) {
    // Xavier-uniform: a = gain sqrt(6 / (fan_in + fan_out)); both layers have fans C and H.
    // The tiny gain makes m nearly constant, so the first policy is close to uniform.
    double a = 1e-4 * sqrt(6.0 / (double)(C + H));
    uniform_fill(w->w1, (size_t)C * H, a, rng);
    uniform_fill(w->w2, (size_t)H * C, a, rng);
    for (int i = 0; i < H; i++) w->b1[i] = -1e-4f;
    for (int i = 0; i < C; i++) w->b2[i] = -1e-4f;
}

/* out (N,OC) = in (N,IC) weight (IC,OC) + bias (OC). */
static void linear_forward(float *out, const float *in, const float *weight, const float *bias,
                           int N, int IC, int OC) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, IC,
                1.0f, in, IC, weight, OC, 1.0f, out, OC);
}

/* dweight (IC,OC) += in^T (IC,N) dout (N,OC); dbias (OC) += column sums of dout (N,OC). */
static void linear_backward_weights(float *dweight, float *dbias, const float *dout, const float *in,
                                    int N, int IC, int OC) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IC, OC, N,
                1.0f, in, IC, dout, OC, 1.0f, dweight, OC);
    for (int n = 0; n < N; n++) {
        const float *d = dout + (size_t)n * OC;
        for (int o = 0; o < OC; o++) dbias[o] += d[o];
    }
}

void rl_mlp_forward(float *out, float *pre, float *act, const float *in, const RlMLP *w,
                    int N, int C, int H) {
    linear_forward(pre, in, w->w1, w->b1, N, C, H);       // (N,H)
    size_t NH = (size_t)N * H;
    for (size_t i = 0; i < NH; i++) act[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
    linear_forward(out, act, w->w2, w->b2, N, H, C);      // (N,C)
}

void rl_mlp_backward(RlMLP *grads, float *dact, const float *dout, const float *in,
                     const float *pre, const float *act, const RlMLP *w, int N, int C, int H) {
    // second layer: dW2, db2, then dact (N,H) = dout (N,C) W2^T (C,H)
    linear_backward_weights(grads->w2, grads->b2, dout, act, N, H, C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, H, C,
                1.0f, dout, C, w->w2, C, 0.0f, dact, H);
    // relu: dpre = dact where pre > 0 (0 at pre == 0, as torch), in place
    size_t NH = (size_t)N * H;
    for (size_t i = 0; i < NH; i++) if (!(pre[i] > 0.0f)) dact[i] = 0.0f;
    // first layer: dW1, db1 (no d in: the backbone is frozen)
    linear_backward_weights(grads->w1, grads->b1, dact, in, N, C, H);
}

/* The frozen tied LM head's backward: dm (N,C) = dlogits (N,V) wte (V,C). */
static void lm_head_backward(float *dm, const float *dlogits, const float *wte, int N, int V, int C) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, V,
                1.0f, dlogits, V, wte, C, 0.0f, dm, C);
}

// ----------------------------------------------------------------------------
// actions

int rl_argmax(const float *x, int V) {
    int best = 0;
    for (int i = 1; i < V; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* Heap order for top-k: a ranks below b (is "worse") if its logit is lower,
 * or equal with a higher id, so that ties keep the lower ids. */
static int worse(const float *x, int a, int b) {
    return x[a] < x[b] || (x[a] == x[b] && a > b);
}

/* Restores the min-heap (worst at the root) of n ids below position i. */
static void heap_sift_down(int *heap, int n, int i, const float *x) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && worse(x, heap[l], heap[w])) w = l;
        if (r < n && worse(x, heap[r], heap[w])) w = r;
        if (w == i) return;
        int t = heap[i]; heap[i] = heap[w]; heap[w] = t;
        i = w;
    }
}

static void heap_sift_up(int *heap, int i, const float *x) {
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!worse(x, heap[i], heap[parent])) return;
        int t = heap[i]; heap[i] = heap[parent]; heap[parent] = t;
        i = parent;
    }
}

/* The ids of the k largest of x (V), k < V, into heap (k), in heap order. */
static void top_k_ids(int *heap, const float *x, int V, int k) {
    for (int i = 0; i < k; i++) {
        heap[i] = i;
        heap_sift_up(heap, i, x);
    }
    // every id in the heap is below i, so i beats the root exactly when its logit is higher
    float floor = x[heap[0]];
    for (int i = k; i < V; i++) {
        if (!(x[i] > floor)) continue;
        heap[0] = i;
        heap_sift_down(heap, k, 0, x);
        floor = x[heap[0]];
    }
}

/* Draws one of the candidates ids (n) with probability softmax over their
 * logits (ids NULL: every id 0..n-1). One rng_uniform draw. */
static int sample_softmax(const float *logits, const int *ids, int n, Rng *rng) {
#define ID(i) (ids ? ids[i] : (i))
    float maxv = logits[ID(0)];
    for (int i = 1; i < n; i++) if (logits[ID(i)] > maxv) maxv = logits[ID(i)];
    double total = 0.0;
    for (int i = 0; i < n; i++) total += exp((double)logits[ID(i)] - maxv);
    double u = rng_uniform(rng) * total, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += exp((double)logits[ID(i)] - maxv);
        if (u < cum) return ID(i);
    }
    return ID(n - 1); // u within rounding of total
#undef ID
}

int rl_sample_top_k(const float *logits, int V, int k, int *heap, Rng *rng) {
    if (k >= V) return sample_softmax(logits, NULL, V, rng); // no filtering
    top_k_ids(heap, logits, V, k);
    return sample_softmax(logits, heap, k, rng);
}

// ----------------------------------------------------------------------------
// reward

void rl_prompt_rewards(double *R, const EvalResult *res, const double *log_ppl, int P,
                       double w_task, double w_interp, RlReward kind) {
    for (int p = 0; p < P; p++) {
        double interp = w_interp != 0.0 ? w_interp * log_ppl[p] : 0.0; // log_ppl not computed at 0
        R[p] = kind == RL_REWARD_GAP ? w_task * res[p].reward - interp : -(w_task * res[p].loss + interp);
    }
}

void rl_zscore(double *out, const double *R, int n, double scale) {
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < n; i++) mean += R[i];
    mean /= n;
    for (int i = 0; i < n; i++) var += (R[i] - mean) * (R[i] - mean);
    double std = sqrt(var / n); // population std (numpy's default, ddof = 0)
    for (int i = 0; i < n; i++) out[i] = scale * (R[i] - mean) / (std + 1e-4);
}

// ----------------------------------------------------------------------------
// soft Q-learning

/* max of x (V) */
static float max_of(const float *x, int V) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int i = 0; i < V; i++) m = x[i] > m ? x[i] : m;
    return m;
}

void rl_row_logsumexp(double *lse, double *logp, const float *logits, const int *actions, int N,
                      int V) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float maxv = max_of(x, V);
        double sum = 0.0; // 50k terms: summed in doubles, still vectorised
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < V; i++) sum += gpt2_expf(x[i] - maxv);
        lse[n] = maxv + log(sum);
        if (logp) logp[n] = x[actions[n]] - lse[n];
    }
}

double rl_sql_loss(double *dA, const double *A, const double *Vt, const double *r, int B, int T) {
    double loss = 0.0;
    double e2[TUNE_MAX_PROMPT], e3[TUNE_MAX_PROMPT]; // T <= TUNE_MAX_PROMPT
    for (int b = 0; b < B; b++) {
        const double *a = A + (size_t)b * T, *v = Vt + (size_t)b * T;
        double S = 0.0; // suffix sum of A, built from the end
        for (int t = T - 1; t >= 0; t--) {
            S += a[t];
            double tgt2 = t < T - 1 ? v[t + 1] - v[t] : r[b] - v[t]; // single-step (v2)
            double tgt3 = r[b] - v[t];                                 // multi-step (v3)
            e2[t] = a[t] - tgt2;
            e3[t] = S - tgt3;
            loss += 0.5 * (e2[t] * e2[t] + e3[t] * e3[t]);
        }
        // S_k = sum_{j>=k} A_j depends on A_t for every k <= t: a prefix sum of e3
        double prefix = 0.0;
        for (int t = 0; t < T; t++) {
            prefix += e3[t];
            dA[(size_t)b * T + t] = (e2[t] + prefix) / B;
        }
    }
    return loss / B;
}

void rl_logits_backward(float *dlogits, const float *logits, const double *lse,
                        const int *actions, const double *dA, int N, int V) {
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        float g = (float)dA[n], l = (float)lse[n];
#pragma omp simd
        for (int i = 0; i < V; i++) d[i] = -g * gpt2_expf(x[i] - l);
        d[actions[n]] += g;
    }
}

// ----------------------------------------------------------------------------
// optimisation

void rl_polyak(float *target, const float *online, size_t n, double tau) {
    for (size_t i = 0; i < n; i++) target[i] = (float)((1.0 - tau) * target[i] + tau * online[i]);
}

GPT2Adam rl_adam(double lr) {
    return (GPT2Adam){.lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0,
                      .numerics = GPT2_NUMERICS_TORCH_F32};
}

// ----------------------------------------------------------------------------
// the policy: backbone, MLPs, optimizer state and every buffer, allocated once

typedef struct {
    const GPT2Model *backbone;
    int B, T, C, H, V, k;   // prompts per step, prompt length, dims, top-k (<= V)
    GPT2Acts acts;          // B rows of 1 position, up to T keys
    GPT2KVCache kv;         // B rows of T positions: <|endoftext|> and a_0 .. a_{T-2}
    size_t n_params;
    float *fmem;            // one allocation for every float buffer below
    float *params, *target, *grads, *adam_m, *adam_v;   // (n_params) each
    RlMLP online, target_w, grad_w;                      // views of params, target, grads
    // time-major rows t*B + b, N = T*B
    float *h;               // (N, C) backbone final hidden states
    float *pre, *act, *m;   // (N, H), (N, H), (N, C) online MLP
    float *logits;          // (N, V) online logits L_t (the Q-values)
    float *tpre, *tact, *tm;// (N, H), (N, H), (N, C) target MLP
    float *scratch;         // (N, V) target logits L'_t, then d loss / d L_t
    float *dm;              // (N, C)
    float *dact;            // (N, H)
    double *dmem;           // one allocation for the doubles
    double *lse, *logp, *tlse, *drow;   // (N) online logsumexp, A_t, target logsumexp (V'_t), dA
    double *A, *Vt, *dA;    // (B, T) batch-major for the loss
    double *R, *r, *log_ppl;// (B) raw reward, shaped reward, prompt log-PPL
    int *imem;
    int *prompts;           // (B, T) the step's actions
    int *actions;           // (N) the same, time-major
    int *ids, *rows;        // (B) generation inputs and their cache rows
    int *heap;              // (k) top-k scratch
    int *banned;            // (n_banned) ids outside the prompt vocabulary: logits -inf
    int n_banned;
    EvalResult *res;        // (B)
} RlPolicy;

static void policy_free(RlPolicy *p) {
    gpt2_acts_free(&p->acts);
    kvcache_free(&p->kv);
    free(p->fmem);
    free(p->dmem);
    free(p->imem);
    free(p->res);
    memset(p, 0, sizeof *p);
}

static int policy_alloc(RlPolicy *p, const GPT2Model *backbone, const TuneContext *ctx, int B, int T, int H,
                        int top_k, Err *err) {
    memset(p, 0, sizeof *p);
    const GPT2Config *c = &backbone->config;
    p->backbone = backbone;
    p->B = B; p->T = T; p->C = c->n_embd; p->H = H; p->V = c->vocab_size;
    p->k = top_k < p->V ? top_k : p->V;
    // forward-only activations: B rows of one new position, no LM head rows (the head runs on m)
    if (gpt2_acts_alloc(&p->acts, c, B, 1, T, 0, 0, err)) goto fail;
    if (kvcache_alloc(&p->kv, c, B, T, err)) goto fail;
    size_t C = p->C, V = p->V, N = (size_t)T * B, NP = rl_mlp_num_params(p->C, H);
    p->n_params = NP;
    float **fview[] = {&p->params, &p->target, &p->grads, &p->adam_m, &p->adam_v, &p->h,
                       &p->pre, &p->act, &p->m, &p->logits, &p->tpre, &p->tact, &p->tm,
                       &p->scratch, &p->dm, &p->dact};
    size_t fsize[] = {NP, NP, NP, NP, NP, N * C,
                      N * H, N * H, N * C, N * V, N * H, N * H, N * C,
                      N * V, N * C, N * H};
    double **dview[] = {&p->lse, &p->logp, &p->tlse, &p->drow, &p->A, &p->Vt, &p->dA,
                        &p->R, &p->r, &p->log_ppl};
    size_t dsize[] = {N, N, N, N, N, N, N, B, B, B};
    int n_banned = 0;
    for (int v = 0; v < p->V; v++) n_banned += !prompt_token_allowed(ctx, v);
    int **iview[] = {&p->prompts, &p->actions, &p->ids, &p->rows, &p->heap, &p->banned};
    size_t isize[] = {N, N, B, B, p->k, (size_t)n_banned};
    TUNE_LAY_OUT(p->fmem, float, fview, fsize);
    TUNE_LAY_OUT(p->dmem, double, dview, dsize);
    TUNE_LAY_OUT(p->imem, int, iview, isize);
    p->res = calloc((size_t)B, sizeof(EvalResult));
    if (!p->fmem || !p->dmem || !p->imem || !p->res) {
        err_fail(err, "rlprompt: out of memory (policy buffers for %d prompts of %d tokens, "
                  "MLP hidden %d)", B, T, H);
        goto fail;
    }
    for (int v = 0; v < p->V; v++)
        if (!prompt_token_allowed(ctx, v)) p->banned[p->n_banned++] = v;
    if (p->n_banned >= p->V) {
        err_fail(err, "rlprompt: the prompt vocabulary is empty");
        goto fail;
    }
    rl_mlp_point(&p->online, p->params, p->C, H);
    rl_mlp_point(&p->target_w, p->target, p->C, H);
    rl_mlp_point(&p->grad_w, p->grads, p->C, H);
    return 0;
fail:
    policy_free(p);
    return -1;
}

/* The action space: logits (N,V) of the ids outside the prompt vocabulary
 * set to -inf (their exponentials are 0 to the softmaxes, never sampled). */
static void mask_logits(const RlPolicy *p, float *logits, int N) {
    for (int n = 0; n < N; n++)
        for (int i = 0; i < p->n_banned; i++) logits[(size_t)n * p->V + p->banned[i]] = -INFINITY;
}

/* Generates nb <= B prompts of T tokens from <|endoftext|> with the online MLP,
 * one KV cache row each: top-k sampling (greedy == 0) or argmax. Fills rows
 * t*nb + b of h, pre, act, m and logits, and prompts (nb, T). */
static int policy_generate(RlPolicy *p, int nb, int greedy, Rng *rng, int *prompts, Err *err) {
    int T = p->T, C = p->C, H = p->H, V = p->V;
    kvcache_reset(&p->kv);
    for (int b = 0; b < nb; b++) p->rows[b] = b;
    for (int t = 0; t < T; t++) {
        for (int b = 0; b < nb; b++) p->ids[b] = t == 0 ? GPT2_EOT : prompts[b * T + t - 1];
        // the state continues its own cache row and appends the new token to it
        GPT2Batch batch = {.B = nb, .T = 1, .ids = p->ids, .prefix = &p->kv, .prefix_rows = p->rows,
                           .store = &p->kv, .store_rows = p->rows};
        if (gpt2_forward(p->backbone, &p->acts, &batch, err)) return -1;
        size_t row = (size_t)t * nb;
        float *h = p->h + row * C, *m = p->m + row * C, *logits = p->logits + row * V;
        memcpy(h, p->acts.lnf, (size_t)nb * C * sizeof(float));
        rl_mlp_forward(m, p->pre + row * H, p->act + row * H, h, &p->online, nb, C, H);
        gpt2_lm_head(p->backbone, m, logits, nb);
        mask_logits(p, logits, nb);
        for (int b = 0; b < nb; b++) {
            const float *x = logits + (size_t)b * V;
            prompts[b * T + t] = greedy ? rl_argmax(x, V) : rl_sample_top_k(x, V, p->k, p->heap, rng);
        }
    }
    return 0;
}

/* V'_t for the step's rows: the target MLP on the kept hidden states (the
 * same states a teacher-forced backbone pass would give), through the LM head. */
static void target_values(RlPolicy *p) {
    int N = p->T * p->B;
    rl_mlp_forward(p->tm, p->tpre, p->tact, p->h, &p->target_w, N, p->C, p->H);
    gpt2_lm_head(p->backbone, p->tm, p->scratch, N);
    mask_logits(p, p->scratch, N);
    rl_row_logsumexp(p->tlse, NULL, p->scratch, NULL, N, p->V);
}

/* The SQL loss of the step's prompts with shaped rewards p->r (B), and its
 * gradient into p->grads (overwritten). Needs target_values first. */
static double sql_loss_and_grads(RlPolicy *p) {
    int B = p->B, T = p->T, N = T * B;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) p->actions[t * B + b] = p->prompts[b * T + t];
    rl_row_logsumexp(p->lse, p->logp, p->logits, p->actions, N, p->V);
    // the loss works per prompt: (B, T) batch-major
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            p->A[b * T + t] = p->logp[t * B + b];
            p->Vt[b * T + t] = p->tlse[t * B + b];
        }
    double loss = rl_sql_loss(p->dA, p->A, p->Vt, p->r, B, T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) p->drow[t * B + b] = p->dA[b * T + t];
    // back through log-softmax, the tied head and the MLP
    rl_logits_backward(p->scratch, p->logits, p->lse, p->actions, p->drow, N, p->V);
    lm_head_backward(p->dm, p->scratch, p->backbone->w.wte, N, p->V, p->C);
    memset(p->grads, 0, p->n_params * sizeof(float));
    rl_mlp_backward(&p->grad_w, p->dact, p->dm, p->h, p->pre, p->act, &p->online, N, p->C, p->H);
    return loss;
}

// ----------------------------------------------------------------------------
// the run

static int check_settings(const TuneContext *ctx, const GPT2Model *policy, Err *err) {
    const TunePoint *pt = ctx->point;
    const RlSettings *s = &pt->rl;
    if (pt->prompt_length < 1 || pt->prompt_length > TUNE_MAX_PROMPT)
        return err_fail(err, "rlprompt: prompt_length %d out of 1..%d", pt->prompt_length, TUNE_MAX_PROMPT);
    if (pt->prompt_length > policy->config.n_positions)
        return err_fail(err, "rlprompt: prompt_length %d exceeds the policy's context %d",
                         pt->prompt_length, policy->config.n_positions);
    if (s->steps < 1 || s->prompts_per_step < 1 || s->top_k < 1 || s->eval_every < 1 || s->hidden < 1)
        return err_fail(err, "rlprompt: steps %d, prompts_per_step %d, top_k %d, eval_every %d and "
                         "hidden %d must all be >= 1", s->steps, s->prompts_per_step, s->top_k,
                         s->eval_every, s->hidden);
    if (!(s->lr >= 0.0) || !(s->polyak >= 0.0 && s->polyak <= 1.0) || !isfinite(s->reward_scale))
        return err_fail(err, "rlprompt: lr %g must be >= 0, polyak %g in [0, 1], reward_scale finite",
                         s->lr, s->polyak);
    if (policy->config.vocab_size <= GPT2_EOT)
        return err_fail(err, "rlprompt: the policy's vocabulary of %d has no <|endoftext|> (id %d)",
                         policy->config.vocab_size, GPT2_EOT);
    if (policy->config.vocab_size != ctx->model->config.vocab_size)
        return err_fail(err, "rlprompt: the policy's vocabulary (%d) differs from the task model's (%d)",
                         policy->config.vocab_size, ctx->model->config.vocab_size);
    if (!ctx->eval || !ctx->scorer)
        return err_fail(err, "rlprompt: the context has no evaluator or no scorer");
    if (ctx->train.n < 1 || ctx->dev.n < 1)
        return err_fail(err, "rlprompt: empty train or dev split");
    return 0;
}

/* The greedy prompt under the current MLP, scored on dev. */
static int evaluate_greedy(RlPolicy *p, TuneContext *ctx, int *prompt, EvalResult *dev,
                           double *log_ppl, Err *err) {
    if (policy_generate(p, 1, 1, NULL, prompt, err)) return -1;
    if (eval_prompts(ctx->eval, &ctx->dev, prompt, 1, p->T, dev, NULL, err)) return -1;
    return scorer_log_ppl(ctx->scorer, prompt, 1, p->T, log_ppl, err);
}

int rlprompt_run(TuneContext *ctx, TuneResult *r, Err *err) {
    if (!ctx || !ctx->point || !ctx->model || !r) return err_fail(err, "rlprompt: no context");
    const TunePoint *pt = ctx->point;
    const RlSettings *s = &pt->rl;
    const GPT2Model *backbone = ctx->policy_model ? ctx->policy_model : ctx->model;
    if (check_settings(ctx, backbone, err)) return -1;
    int B = s->prompts_per_step, T = pt->prompt_length;
    double w_task, w_interp;
    objective_weights(pt, &w_task, &w_interp);

    RlPolicy p;
    if (policy_alloc(&p, backbone, ctx, B, T, s->hidden, s->top_k, err)) return -1;
    Rng rng;
    rng_seed(&rng, pt->seed);
    rl_mlp_init(&p.online, p.C, p.H, &rng);
    memcpy(p.target, p.params, p.n_params * sizeof(float)); // the target starts as a copy

    const GPT2Adam adam = rl_adam(s->lr);
    int best[TUNE_MAX_PROMPT], greedy[TUNE_MAX_PROMPT];
    DevChoice chosen = DEV_CHOICE_NONE;
    int steps_run = 0, stale = 0;
    StopReason stop = STOP_STEPS;
    for (int step = 1; step <= s->steps && stop == STOP_STEPS; step++) {
        steps_run = step;
        rl_polyak(p.target, p.params, p.n_params, s->polyak); // before the loss, every step
        if (policy_generate(&p, B, 0, &rng, p.prompts, err)) goto fail;

        // rewards: the task LM over all of train, the scorer for the lambda term (skipped
        // when its weight is 0: a full-vocabulary pass that would not change R)
        if (eval_prompts(ctx->eval, &ctx->train, p.prompts, B, T, p.res, NULL, err)) goto fail;
        if (w_interp != 0.0 && scorer_log_ppl(ctx->scorer, p.prompts, B, T, p.log_ppl, err)) goto fail;
        rl_prompt_rewards(p.R, p.res, p.log_ppl, B, w_task, w_interp, s->reward);
        rl_zscore(p.r, p.R, B, s->reward_scale);

        target_values(&p);
        double loss = sql_loss_and_grads(&p);
        if (!isfinite(loss)) {
            err_fail(err, "rlprompt: the loss is not finite at step %d", step);
            goto fail;
        }
        gpt2_clip_grads(p.grads, p.n_params, s->clip, adam.numerics);
        gpt2_adam_step(p.params, p.grads, p.adam_m, p.adam_v, p.n_params, &adam, step, NULL);

        if (step % s->eval_every != 0 && step != s->steps) continue;
        EvalResult dev;
        double log_ppl;
        if (evaluate_greedy(&p, ctx, greedy, &dev, &log_ppl, err)) goto fail;
        double j = w_task * dev.loss + w_interp * log_ppl;
        double mean_R = 0.0;   // the step's mean raw reward, before the z-score
        for (int b = 0; b < B; b++) mean_R += p.R[b] / B;
        HistoryEntry h = {.step = step, .loss = loss, .train_reward = mean_R, .dev_acc = dev.accuracy,
                          .dev_task = dev.loss,
                          .log_ppl = log_ppl, .dev_objective = j};
        if (result_add_history(r, h, err)) goto fail;
        int improved = dev_choice_offer(&chosen, &h);
        if (improved) memcpy(best, greedy, (size_t)T * sizeof(int)); // ties: the earlier step keeps it
        if (early_stop_due(&s->early, &stale, improved, step)) stop = STOP_PATIENCE;
        if (ctx->progress) {
            double mean_reward = 0.0;
            for (int b = 0; b < B; b++) mean_reward += p.res[b].reward;
            char line[256];
            snprintf(line, sizeof line, "rlprompt step %d/%d loss %.4g gap reward %.2f dev acc %.4f J %.4f "
                     "log-ppl %.2f best J %.4f @ %d (log-ppl %.2f)", step, s->steps, loss,
                     mean_reward / B, dev.accuracy, j, log_ppl, chosen.j, chosen.step, chosen.log_ppl);
            ctx->progress(ctx->progress_user, line);
            if (stop == STOP_PATIENCE) {
                snprintf(line, sizeof line, "rlprompt: stopped at step %d: dev J not better than %.4f (step %d) "
                         "for %d evaluations (patience)", step, chosen.j, chosen.step, s->early.patience);
                ctx->progress(ctx->progress_user, line);
            }
        }
    }
    policy_free(&p);
    if (chosen.step == 0) return err_fail(err, "rlprompt: no greedy prompt had a finite objective on dev");

    memcpy(r->prompt_ids, best, (size_t)T * sizeof(int));
    r->prompt_length = T;
    r->steps = steps_run;
    r->stop_reason = stop;
    r->best_step = chosen.step;
    return result_finish(ctx, r, NULL, err); // discrete prompt: faithful by construction
fail:
    policy_free(&p);
    return -1;
}
