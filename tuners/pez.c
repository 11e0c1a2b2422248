/*
 * tuners/pez.c: PEZ (Wen et al. 2023), hard prompts by projected gradient
 * descent on a soft prompt, as ../shared/docs/tuners-reference.md section 1
 * restates the reference code (the paper's Alg. 1, the LM script's
 * optimizer and template).
 *
 * State: a continuous prompt P (L,C). Each step
 *   1. projects every row of P to the vocabulary embedding nearest by cosine,
 *      among the prompt vocabulary (never <|endoftext|>, as the reference's
 *      projection, which searches the tokenizer's vocabulary without special
 *      tokens): ids z (L) and the raw rows P' = wte[z];
 *   2. runs the task model forward and backward at P' on B training examples
 *      (rows pre ++ P' ++ post, the label read as K classifier logits at the
 *      last position), and, for the lambda term, one more row
 *      [<|endoftext|>, P'_0 .. P'_{L-2}] predicting z_0 .. z_{L-1} over the
 *      full vocabulary (mean cross-entropy = log_ppl(z), the Scorer's
 *      definition) in the same batch, so that its gradient flows through the
 *      same prompt positions; a separate scorer model runs that row alone;
 *   3. applies g = d(w_task task + w_interp log_ppl) / d P' to the continuous
 *      P (straight-through): gradient-norm clip, then Adafactor or AdamW.
 * Every eval_every steps (and after the last) the projection of P is scored
 * on dev by the run's own objective J = w_task CE_dev + w_interp log_ppl; the
 * lowest J (ties: lower log-PPL, then the earlier step) gives the result, and
 * its continuous P the faithfulness numbers. The reference keeps the best
 * holdout accuracy (ties to the later step): with lambda > 0 that keeps
 * prompts the objective rejected, and 32 dev examples tie often.
 *
 * Choices where the reference is silent or does not apply:
 * - P' is fed as the token ids z: the encoder then reads exactly the rows
 *   wte[z] that P' is (bit for bit the same input as feeding P' as vectors,
 *   tests/test_forward.c), and d_input at those positions is d loss / d P'.
 *   No (rows, T, C) copy of the prompt is made.
 * - The log-PPL row holds L positions, <|endoftext|> z_0 .. z_{L-2}, as the
 *   Scorer feeds it: the last prompt token is only ever a target, so an
 *   (L+1)-th position would carry no loss.
 * - The gradient of the log-PPL term ("pez.ppl_grad"). The reference feeds
 *   the projected prompt as inputs and its ids as labels, so the gradient
 *   reaches P'_i only as the context of later tokens ("input"): z_{L-1} gets
 *   none, and no token the gradient of its own log-probability. "full" (the
 *   default) adds the target side, straight-through on the tied output
 *   embedding: position t's logit of its target is h_t . wte[z_t] = h_t .
 *   P'_t, so d NLL_t / d P'_t gets dlogits_t[z_t] h_t (h_t the final hidden
 *   state after ln_f). It is the exact gradient of the log-PPL with the
 *   target's output embedding replaced by the prompt vector (the competitor
 *   logits of z_t at other positions are left to the vocabulary), tested
 *   against finite differences of that function (tests/test_pez.c).
 * - With w_interp = 0 the log-PPL row is not run (its gradient would be 0),
 *   so the step's loss is the task loss alone.
 * - A separate scorer must share the task model's vocabulary (always: its
 *   log-PPL of the task model's ids means nothing otherwise) and, when
 *   w_interp != 0, its width C: its gradient w.r.t. its own input vectors
 *   wte_s[z] is added to the task model's P straight-through.
 * - Batches: per-epoch shuffling of train (Fisher-Yates with the point's Rng,
 *   as the reference's shuffled DataLoader); a batch that crosses the end of
 *   an epoch takes the rest of that epoch and the start of the next, so each
 *   example is seen once per epoch and every batch has B rows.
 * - The dev score after step t is of the projection of P after that step's
 *   update (the LM script projects after optimizer.step() to evaluate); its
 *   history entry has the loss of step t (computed at the projection before
 *   the update) and the log-PPL of the scored projection.
 * - Cosine with torch's F.normalize floor: |x| below 1e-12 counts as 1e-12,
 *   so a zero row has cosine 0; argmax ties go to the lower id.
 * - A non-finite loss or gradient stops the run with an error rather than
 *   training on.
 *
 * Soft prompt tuning (method "soft", Lester et al. 2021) is this loop with
 * one change (PezState.soft): in step 2 the task rows hold the continuous P
 * itself as input vectors, so the task term and its gradient are P's own;
 * the log-PPL row stays the projection's (a soft prompt has no tokens for a
 * scorer to read), its gradient passed straight through to P as in PEZ. So
 * lambda 0 is plain prompt tuning, and lambda > 0 pulls P toward vectors
 * whose projection the scorer finds likely. Dev scores P itself for the task
 * term (eval_soft_prompt) and the projection for log_ppl: that J chooses the
 * step. The record reports the chosen step's projection (valid text, whose
 * accuracy its text reproduces), the chosen P's test accuracy and KL as its
 * faithfulness, and the chosen P's J as its objective. Lester et al. tune T5
 * with Adafactor (lr 0.3) for 30k steps; here PEZ's settings, optimizers and
 * defaults are used unchanged, so the two methods differ in that one thing.
 * PEZ's reset quirk (a step from the projection) has no meaning for a soft
 * prompt and is refused.
 *
 * Memory: the activations of a step's batch are bounded by the point's
 * activation_mb (less the evaluator's share, TUNE_EVAL_BUDGET_SHARE; the
 * default is raised to one example with the log-PPL row when that needs more,
 * a given budget fails then): the B
 * examples go through the model in micro-batches of consecutive examples
 * while their rows and real positions fit (acts_fit sizes the arena once
 * from gpt2_acts_bytes), the log-PPL row with the last; each task row's label
 * gradient is scaled by 1/B and the prompt gradients are summed in row order,
 * so the loss and gradient are the one batch's (pez_loss_and_grad).
 *
 * Everything is allocated once in pez_state_alloc; the step loop allocates
 * nothing. All randomness (random init, batches) comes from one Rng seeded
 * with the point's seed, so a point always gives the same run.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuners/pez_internal.h"
#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// projection

#define NORM_FLOOR 1e-12   // torch.nn.functional.normalize's eps

void pez_inv_norms(float *inv_norm, const float *wte, int V, int C) {
    for (int v = 0; v < V; v++) {
        const float *w = wte + (size_t)v * C;
        double ss = 0.0;
        for (int i = 0; i < C; i++) ss += (double)w[i] * w[i];
        inv_norm[v] = (float)(1.0 / fmax(sqrt(ss), NORM_FLOOR));
    }
}

void pez_project(int *ids, float *proj, float *cos, const float *P, const float *wte,
                 const float *wte_inv_norm, const unsigned char *allowed, int L, int V, int C) {
    // proj (L,C) = the unit rows of P, for the one product below
    for (int i = 0; i < L; i++) {
        const float *p = P + (size_t)i * C;
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)p[c] * p[c];
        float inv = (float)(1.0 / fmax(sqrt(ss), NORM_FLOOR));
        for (int c = 0; c < C; c++) proj[(size_t)i * C + c] = p[c] * inv;
    }
    // cos (L,V) = unit(P) (L,C) wte^T (C,V), then each column scaled by 1 / |wte_v|
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, L, V, C, 1.0f, proj, C, wte, C, 0.0f, cos, V);
    for (int i = 0; i < L; i++) {
        const float *row = cos + (size_t)i * V;
        int best = -1;
        float best_cos = 0.0f;
        for (int v = 0; v < V; v++) {
            if (v == GPT2_EOT || (allowed && !allowed[v])) continue; // outside the prompt vocabulary
            float c = row[v] * wte_inv_norm[v];
            if (best < 0 || c > best_cos) { best_cos = c; best = v; } // strictly: ties keep the lower id
        }
        ids[i] = best < 0 ? 0 : best; // an empty vocabulary is refused before (prompt_vocab_mask)
    }
    pez_embed(proj, ids, wte, L, C); // the raw rows, not the normalised ones
}

// ----------------------------------------------------------------------------
// initialisation

void pez_init_ids(int *ids, int L, const int *label_ids, int K, int init_random, const unsigned char *allowed,
                  int V, Rng *rng) {
    for (int i = 0; i < L; i++) {
        if (!init_random) {
            ids[i] = label_ids[i % K];
            continue;
        }
        do ids[i] = rng_below(rng, V); // uniform over the prompt vocabulary
        while (ids[i] == GPT2_EOT || (allowed && !allowed[ids[i]]));
    }
}

void pez_embed(float *P, const int *ids, const float *wte, int L, int C) {
    for (int i = 0; i < L; i++)
        memcpy(P + (size_t)i * C, wte + (size_t)ids[i] * C, (size_t)C * sizeof(float));
}

// ----------------------------------------------------------------------------
// optimisation

#define ADAFACTOR_EPS1 1e-30

/* beta2 avg + (1 - beta2) mean(g^2 + eps1) over the n elements of g that
 * stand stride apart: one row (stride 1) or one column (stride C) of g. */
static float decayed_mean_square(float avg, const float *g, int n, size_t stride, double beta2) {
    double s = 0.0;
    for (int k = 0; k < n; k++) {
        double x = g[(size_t)k * stride];
        s += x * x + ADAFACTOR_EPS1;
    }
    return (float)(beta2 * avg + (1.0 - beta2) * (s / n));
}

void pez_adafactor_step(float *P, const float *g, float *row, float *col, int L, int C, int t,
                        double lr) {
    const double decay_rate = -0.8, clip_threshold = 1.0;
    double beta2 = 1.0 - pow((double)t, decay_rate); // 0 at t = 1: the first step is g^2 itself
    // running means of u2 = g^2 + eps1 over each row (L) and each column (C)
    for (int i = 0; i < L; i++) row[i] = decayed_mean_square(row[i], g + (size_t)i * C, C, 1, beta2);
    for (int c = 0; c < C; c++) col[c] = decayed_mean_square(col[c], g + c, L, (size_t)C, beta2);
    double row_mean = 0.0;
    for (int i = 0; i < L; i++) row_mean += row[i];
    row_mean /= L;
    // upd = g / sqrt(row_i / row_mean * col_c): its RMS first, for the update clipping
    double ss = 0.0;
    for (int i = 0; i < L; i++) {
        double r = row_mean / row[i];
        for (int c = 0; c < C; c++) {
            double u = g[(size_t)i * C + c] * sqrt(r / col[c]);
            ss += u * u;
        }
    }
    double rms = sqrt(ss / ((double)L * C));
    double step = lr / fmax(1.0, rms / clip_threshold);
    for (int i = 0; i < L; i++) {
        double r = row_mean / row[i];
        for (int c = 0; c < C; c++) {
            size_t k = (size_t)i * C + c;
            P[k] = (float)(P[k] - step * g[k] * sqrt(r / col[c]));
        }
    }
}

GPT2Adam pez_adamw(double lr, double weight_decay) {
    return (GPT2Adam){.lr = lr, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = weight_decay,
                      .numerics = GPT2_NUMERICS_TORCH_F64};
}

void pez_update(float *P, const float *proj, float *g, PezOptim *o, double clip, int reset_quirk) {
    size_t n = (size_t)o->L * o->C;
    gpt2_clip_grads(g, n, clip, GPT2_NUMERICS_TORCH_F64);
    // the LM script's double copy: the step starts from the projection, the drift is lost
    if (reset_quirk) memcpy(P, proj, n * sizeof(float));
    o->t++;
    if (o->kind == PEZ_ADAMW) {
        GPT2Adam adamw = pez_adamw(o->lr, o->weight_decay);
        gpt2_adam_step(P, g, o->m, o->v, n, &adamw, o->t, NULL);
    } else {
        pez_adafactor_step(P, g, o->row, o->col, o->L, o->C, o->t, o->lr);
    }
}

// ----------------------------------------------------------------------------
// the state

void pez_state_free(PezState *s) {
    gpt2_acts_free(&s->acts);
    gpt2_acts_free(&s->scorer_acts);
    free(s->fmem);
    free(s->imem);
    free(s->is_embed);
    memset(s, 0, sizeof *s);
}

static int check_settings(const TuneContext *ctx, Err *err) {
    const TunePoint *pt = ctx->point;
    const PezSettings *s = &pt->pez;
    const char *name = method_name(pt->method);
    if (pt->prompt_length < 1 || pt->prompt_length > TUNE_MAX_PROMPT)
        return err_fail(err, "%s: prompt_length %d out of 1..%d", name, pt->prompt_length, TUNE_MAX_PROMPT);
    if (s->steps < 1 || s->batch < 1 || s->eval_every < 1)
        return err_fail(err, "%s: steps %d, batch %d and eval_every %d must all be >= 1", name, s->steps,
                         s->batch, s->eval_every);
    if (!(s->lr >= 0.0 && isfinite(s->lr)) || !(s->clip >= 0.0) || !(s->weight_decay >= 0.0))
        return err_fail(err, "%s: lr %g, clip %g and weight_decay %g must be finite and >= 0", name, s->lr,
                         s->clip, s->weight_decay);
    if (s->optimizer != PEZ_ADAFACTOR && s->optimizer != PEZ_ADAMW)
        return err_fail(err, "%s: unknown optimizer %d", name, (int)s->optimizer);
    if (pt->method == METHOD_SOFT && s->reset_quirk)
        return err_fail(err, "soft: reset_quirk is PEZ's step from the projection; a soft prompt has none");
    if (ctx->n_classes < 1 || ctx->n_classes > TUNE_MAX_CLASSES)
        return err_fail(err, "%s: %d classes, expected 1..%d", name, ctx->n_classes, TUNE_MAX_CLASSES);
    int V = ctx->model->config.vocab_size;
    for (int k = 0; k < ctx->n_classes; k++)
        if (ctx->label_ids[k] < 0 || ctx->label_ids[k] >= V)
            return err_fail(err, "%s: label id %d outside the vocabulary of %d", name, ctx->label_ids[k], V);
    if (ctx->train.n < 1) return err_fail(err, "%s: empty train split", name);
    int allowed = 0;
    for (int v = 0; v < V && !allowed; v++) allowed = prompt_token_allowed(ctx, v);
    if (!allowed) return err_fail(err, "%s: the prompt vocabulary is empty", name);
    return 0;
}

/* The scorer of the lambda term: its vocabulary (and, when it has a
 * gradient to give, its width) must be the task model's. */
static int check_scorer(const char *name, const GPT2Model *m, const GPT2Model *sc, int L, double w_interp,
                        Err *err) {
    if (sc->config.vocab_size != m->config.vocab_size)
        return err_fail(err, "%s: the scorer's vocabulary (%d) differs from the task model's (%d)", name,
                         sc->config.vocab_size, m->config.vocab_size);
    if (w_interp == 0.0) return 0;
    if (sc->config.vocab_size <= GPT2_EOT)
        return err_fail(err, "%s: the scorer's vocabulary of %d has no <|endoftext|> (id %d)", name,
                         sc->config.vocab_size, GPT2_EOT);
    if (sc != m && sc->config.n_embd != m->config.n_embd)
        return err_fail(err, "%s: the scorer's width %d differs from the task model's %d: its "
                         "log-PPL gradient cannot reach the prompt", name, sc->config.n_embd, m->config.n_embd);
    if (L > sc->config.n_positions)
        return err_fail(err, "%s: prompt_length %d exceeds the scorer's context %d", name, L,
                         sc->config.n_positions);
    return 0;
}

void pez_acts_need(const PezState *s, ActsNeed *need) {
    const EncodedSplit *tr = &s->ctx->train;
    int L = s->L, in_batch = s->w_interp != 0.0 && !s->scorer;
    long tokens = 0;
    for (int i = 0; i < tr->n; i++) tokens += tr->pre_len[i] + tr->post_len[i] + L;
    // at least one example of the widest with the log-PPL row; buffers per position: d_input, and
    // for soft embeds and is_embed; batch_ids
    *need = (ActsNeed){.max_rows = s->B + in_batch, .max_T = s->max_T, .min_rows = 1 + in_batch,
                       .min_tokens = s->max_T + (in_batch ? L : 0), .mean_T = (int)((tokens + tr->n - 1) / tr->n),
                       .min_out = in_batch ? L : 0, .all_layers = 1,
                       .position_bytes = (size_t)s->C * sizeof(float) * (1 + s->soft) + sizeof(int) + s->soft};
}

int pez_state_alloc(PezState *s, const TuneContext *ctx, Err *err) {
    memset(s, 0, sizeof *s);
    if (!ctx || !ctx->point || !ctx->model) return err_fail(err, "pez: no context");
    if (check_settings(ctx, err)) return -1;
    const TunePoint *pt = ctx->point;
    const GPT2Model *m = ctx->model, *sc = ctx->scorer_model ? ctx->scorer_model : ctx->model;
    const GPT2Config *c = &m->config;
    s->ctx = ctx;
    s->name = method_name(pt->method);
    s->soft = pt->method == METHOD_SOFT;
    s->model = m;
    s->allowed = ctx->allowed;
    s->full_ppl_grad = pt->pez.ppl_grad == PEZ_PPL_GRAD_FULL;
    s->L = pt->prompt_length;
    s->C = c->n_embd;
    s->V = c->vocab_size;
    s->K = ctx->n_classes;
    s->B = pt->pez.batch;
    objective_weights(pt, &s->w_task, &s->w_interp);
    if (check_scorer(s->name, m, sc, s->L, s->w_interp, err)) return -1;
    s->scorer = s->w_interp != 0.0 && sc != m ? sc : NULL;

    // the widest training row; the log-PPL row (L positions) is never wider
    const EncodedSplit *tr = &ctx->train;
    int longest = 0;
    for (int i = 0; i < tr->n; i++)
        if (tr->pre_len[i] + tr->post_len[i] > longest) longest = tr->pre_len[i] + tr->post_len[i];
    s->max_T = longest + s->L;
    if (s->max_T > c->n_positions)
        return err_fail(err, "%s: training rows need %d positions (%d + prompt %d), the model's "
                         "context is %d", s->name, s->max_T, longest, s->L, c->n_positions);

    int L = s->L, C = s->C, V = s->V, B = s->B, K = s->K, interp = s->w_interp != 0.0;
    int in_batch = interp && !s->scorer; // the log-PPL row rides in the task batch
    ActsNeed need;
    pez_acts_need(s, &need);
    s->budget = (size_t)(pt->activation_mb * (1.0 - TUNE_EVAL_BUDGET_SHARE) * 1048576.0);
    ActsFit fit;
    if (acts_fit(&fit, c, &need, s->budget) && !pt->activation_default) {
        err_fail(err, "%s: activation_mb %g leaves %.3g MB for training, and one example of %d positions%s needs "
                  "%.3g MB (activation_mb >= %.0f)", s->name, pt->activation_mb, s->budget / 1048576.0, s->max_T,
                  in_batch ? " with the log-PPL row" : "", fit.bytes / 1048576.0,
                  ceil(fit.bytes / 1048576.0 / (1.0 - TUNE_EVAL_BUDGET_SHARE)));
        goto fail;
    }
    s->mb_rows = fit.rows;
    s->mb_tokens = fit.tokens;
    s->mb_bytes = fit.bytes;
    int R = s->mb_rows, max_out = R > need.min_out ? R : need.min_out;
    if (gpt2_acts_alloc_tokens(&s->acts, c, R, s->max_T, s->mb_tokens, s->max_T, max_out, 1, err)) goto fail;
    if (s->scorer && gpt2_acts_alloc(&s->scorer_acts, &s->scorer->config, 1, L, L, L, 1, err)) goto fail;

    int adamw = pt->pez.optimizer == PEZ_ADAMW;
    size_t LC = (size_t)L * C, rows = (size_t)R;
    float **fview[] = {&s->P, &s->proj, &s->g, &s->best_P, &s->cos, &s->wte_inv_norm, &s->d_input,
                       &s->dlogits, &s->dlabel, &s->scorer_d_input, &s->g_target,
                       &s->opt.row, &s->opt.col, &s->opt.m, &s->opt.v, &s->embeds};
    size_t fsize[] = {LC, LC, LC, LC, (size_t)L * V, (size_t)V, rows * s->max_T * C,
                      interp ? (size_t)L * V : 0, rows * K, s->scorer ? LC : 0, interp ? LC : 0,
                      adamw ? 0 : (size_t)L, adamw ? 0 : (size_t)C, adamw ? LC : 0, adamw ? LC : 0,
                      s->soft ? rows * s->max_T * C : 0};
    int **iview[] = {&s->ids, &s->best_ids, &s->batch_ids, &s->lens, &s->label_pos, &s->labels,
                     &s->out_pos, &s->targets, &s->examples, &s->order};
    size_t isize[] = {(size_t)L, (size_t)L, rows * s->max_T, rows, rows, (size_t)B, (size_t)L,
                      (size_t)L, (size_t)B, (size_t)tr->n};
    TUNE_LAY_OUT(s->fmem, float, fview, fsize);
    TUNE_LAY_OUT(s->imem, int, iview, isize);
    if (s->soft) s->is_embed = calloc(rows * s->max_T, 1);
    if (!s->fmem || !s->imem || (s->soft && !s->is_embed)) {
        err_fail(err, "%s: out of memory (buffers for %d rows of %d positions, prompt %d x %d)", s->name,
                  R, s->max_T, L, C);
        goto fail;
    }
    s->opt = (PezOptim){.kind = pt->pez.optimizer, .lr = pt->pez.lr, .weight_decay = pt->pez.weight_decay,
                        .L = L, .C = C, .row = s->opt.row, .col = s->opt.col, .m = s->opt.m, .v = s->opt.v};
    pez_inv_norms(s->wte_inv_norm, m->w.wte, V, C);
    s->n_train = tr->n;
    for (int i = 0; i < tr->n; i++) s->order[i] = i;
    return 0;
fail:
    pez_state_free(s);
    return -1;
}

void pez_sample_batch(PezState *s, Rng *rng) {
    for (int b = 0; b < s->B; b++) {
        if (s->cursor == 0) // a new epoch: Fisher-Yates over the previous order
            for (int i = s->n_train - 1; i > 0; i--) {
                int j = rng_below(rng, i + 1), t = s->order[i];
                s->order[i] = s->order[j];
                s->order[j] = t;
            }
        s->examples[b] = s->order[s->cursor];
        s->cursor = (s->cursor + 1) % s->n_train;
    }
}

// ----------------------------------------------------------------------------
// the objective and its gradient

/* The summed cross-entropy of softmax over the K label logits of n rows, logits (n,K), added
 * to *total; dlabel (n,K) = scale * d (sum / B) / d logits: the rows' share of the mean over
 * the step's B rows. labels (n). */
static void label_loss(double *total, float *dlabel, const float *logits, const int *labels, int n, int K,
                       int B, double scale) {
    for (int b = 0; b < n; b++) {
        const float *x = logits + (size_t)b * K;
        double mx = x[0], e[TUNE_MAX_CLASSES], sum = 0.0;
        for (int k = 1; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) sum += (e[k] = exp(x[k] - mx));
        *total += log(sum) + mx - x[labels[b]];
        for (int k = 0; k < K; k++)
            dlabel[(size_t)b * K + k] = (float)(scale * (e[k] / sum - (k == labels[b])) / B);
    }
}

/* Row b (width T) = pre ++ the prompt ids ++ post of example i; its length. */
static int fill_task_row(int *row, const EncodedSplit *split, int i, const int *prompt, int L, int T) {
    int k = split->pre_len[i];
    memcpy(row, split->ids + split->pre_off[i], (size_t)k * sizeof(int));
    memcpy(row + k, prompt, (size_t)L * sizeof(int));
    k += L;
    memcpy(row + k, split->ids + split->post_off[i], (size_t)split->post_len[i] * sizeof(int));
    k += split->post_len[i];
    for (int t = k; t < T; t++) row[t] = 0; // padding: computed, never read
    return k;
}

/* The log-PPL row <|endoftext|> z_0 .. z_{L-2} into row (width T): position t
 * predicts z_t. out_pos (L) = base + t, targets (L) = z. */
static void fill_log_ppl_row(int *row, int *out_pos, int *targets, const int *z, int L, int T, int base) {
    row[0] = GPT2_EOT;
    memcpy(row + 1, z, (size_t)(L - 1) * sizeof(int));
    for (int t = L; t < T; t++) row[t] = 0;
    for (int t = 0; t < L; t++) {
        out_pos[t] = base + t;
        targets[t] = z[t];
    }
}

/* g (L,C) += the gradient at the inputs z_0 .. z_{L-2} of a log-PPL row,
 * d_row (L,C) = d_input of its positions 0 .. L-1 (position 0, <|endoftext|>,
 * is not a prompt vector). */
static void add_log_ppl_grad(float *g, const float *d_row, int L, int C) {
    const float *d = d_row + C;
    for (size_t k = 0; k < (size_t)(L - 1) * C; k++) g[k] += d[k];
}

/* The target side of the log-PPL term (ppl_grad "full"): g_target (L,C) row
 * t = dlogits (L,V)[t][z_t] h (L,C)[t], the gradient of position t's target
 * logit h_t . P'_t through P'_t, with h the final hidden states (after
 * ln_f) of the row's L positions. Computed right after the forward, while
 * the LM head's inputs are there. */
static void target_grad(float *g_target, const float *dlogits, const float *h, const int *z, int L, int V, int C) {
    for (int t = 0; t < L; t++) {
        float d = dlogits[(size_t)t * V + z[t]];
        for (int c = 0; c < C; c++) g_target[(size_t)t * C + c] = d * h[(size_t)t * C + c];
    }
}

/* Soft: row b (width T) reads the L vectors P (L,C) at its prompt positions pre .. pre + L - 1
 * instead of their ids; is_embed of the row's other positions is cleared. */
static void feed_soft_prompt(unsigned char *is_embed, float *embeds, const float *P, int b, int pre, int L,
                             int T, int C) {
    size_t base = (size_t)b * T;
    memset(is_embed + base, 0, (size_t)T);
    memset(is_embed + base + pre, 1, (size_t)L);
    memcpy(embeds + (base + pre) * C, P, (size_t)L * C * sizeof(float));
}

static void add_grad(float *g, const float *more, size_t n) {
    for (size_t k = 0; k < n; k++) g[k] += more[k];
}

/* The lambda term on a separate scorer: forward and backward of the log-PPL
 * row alone, w_interp times its gradient added to s->g. Reuses batch_ids
 * (the task batch is done with by then). */
static int scorer_term(PezState *s, double *log_ppl, Err *err) {
    int L = s->L;
    fill_log_ppl_row(s->batch_ids, s->out_pos, s->targets, s->ids, L, L, 0);
    GPT2Batch batch = {.B = 1, .T = L, .ids = s->batch_ids, .out_pos = s->out_pos, .n_out = L};
    if (gpt2_forward(s->scorer, &s->scorer_acts, &batch, err)) return -1;
    *log_ppl = gpt2_crossentropy(s->scorer_acts.logits, s->targets, L, s->V, s->dlogits,
                                 (float)s->w_interp);
    if (s->full_ppl_grad)
        target_grad(s->g_target, s->dlogits, s->scorer_acts.gathered, s->targets, L, s->V, s->C);
    if (gpt2_backward(s->scorer, &s->scorer_acts, &batch, s->dlogits, NULL, s->scorer_d_input, NULL, err))
        return -1;
    add_log_ppl_grad(s->g, s->scorer_d_input, L, s->C);
    if (s->full_ppl_grad) add_grad(s->g, s->g_target, (size_t)L * s->C);
    return 0;
}

/* One micro-batch: the task rows of examples[b0 .. b1-1] (lens (b1-b0) given in s->lens), and
 * with ppl the log-PPL row after them; its forward and backward, the task loss added to *task,
 * the rows' prompt gradients added to s->g in row order. */
static int micro_batch(PezState *s, const EncodedSplit *split, const int *examples, int b0, int b1, int ppl,
                       double *task, PezLoss *out, Err *err) {
    int L = s->L, C = s->C, K = s->K, n = b1 - b0;
    int T = ppl ? L : 1;
    for (int r = 0; r < n; r++)
        if (s->lens[r] > T) T = s->lens[r];
    for (int r = 0; r < n; r++) {
        int i = examples[b0 + r];
        fill_task_row(s->batch_ids + (size_t)r * T, split, i, s->ids, L, T);
        s->label_pos[r] = r * T + s->lens[r] - 1;
        if (s->soft) feed_soft_prompt(s->is_embed, s->embeds, s->P, r, split->pre_len[i], L, T, C);
    }
    if (ppl) {
        fill_log_ppl_row(s->batch_ids + (size_t)n * T, s->out_pos, s->targets, s->ids, L, T, n * T);
        s->lens[n] = L;
        if (s->soft) memset(s->is_embed + (size_t)n * T, 0, (size_t)T); // the projection's ids
    }
    GPT2Batch batch = {.B = n + ppl, .T = T, .ids = s->batch_ids, .lens = s->lens,
                       .embeds = s->soft ? s->embeds : NULL, .is_embed = s->soft ? s->is_embed : NULL,
                       .out_pos = ppl ? s->out_pos : NULL, .n_out = ppl ? L : 0,
                       .label_pos = s->label_pos, .n_label = n,
                       .label_ids = s->ctx->label_ids, .n_label_ids = K};
    if (gpt2_forward(s->model, &s->acts, &batch, err)) return -1;

    // the two terms' logit gradients, each scaled by its weight: one backward gives their sum
    label_loss(task, s->dlabel, s->acts.label_logits, s->labels + b0, n, K, s->B, s->w_task);
    if (ppl) {
        out->log_ppl = gpt2_crossentropy(s->acts.logits, s->targets, L, s->V, s->dlogits, (float)s->w_interp);
        if (s->full_ppl_grad) target_grad(s->g_target, s->dlogits, s->acts.gathered, s->targets, L, s->V, C);
    }
    if (gpt2_backward(s->model, &s->acts, &batch, s->dlogits, s->dlabel, s->d_input, NULL, err)) return -1;

    // g (L,C) += d_input at each task row's prompt positions (d / d P' for PEZ, d / d P for soft:
    // its rows read P), then the log-PPL row's
    for (int r = 0; r < n; r++) {
        const float *d = s->d_input + ((size_t)r * T + split->pre_len[examples[b0 + r]]) * C;
        for (size_t k = 0; k < (size_t)L * C; k++) s->g[k] += d[k];
    }
    if (ppl) {
        add_log_ppl_grad(s->g, s->d_input + (size_t)n * T * C, L, C);
        if (s->full_ppl_grad) add_grad(s->g, s->g_target, (size_t)L * C);
    }
    s->n_micro++;
    return 0;
}

int pez_loss_and_grad(PezState *s, const EncodedSplit *split, const int *examples, PezLoss *out,
                      Err *err) {
    int L = s->L, B = s->B, K = s->K;
    int in_batch = s->w_interp != 0.0 && !s->scorer; // the log-PPL row rides in the task batches
    for (int b = 0; b < B; b++) {
        int i = examples[b];
        if (i < 0 || i >= split->n) return err_fail(err, "%s: example %d of a split of %d", s->name, i, split->n);
        if (split->label[i] < 0 || split->label[i] >= K)
            return err_fail(err, "%s: example %d has label %d of %d classes", s->name, i, split->label[i], K);
        s->labels[b] = split->label[i];
        int len = split->pre_len[i] + L + split->post_len[i];
        if (len > s->max_T)
            return err_fail(err, "%s: example %d needs %d positions, rows hold %d", s->name, i, len, s->max_T);
    }
    memset(s->g, 0, (size_t)L * s->C * sizeof(float));
    out->log_ppl = 0.0;
    s->n_micro = 0;
    double task = 0.0;
    // consecutive examples while they fit (the widest always fits with the log-PPL row: pez_state_alloc),
    // the log-PPL row with the last of them when it fits there, else alone after them
    for (int b0 = 0, ppl_done = !in_batch; b0 < B || !ppl_done;) {
        int b1 = b0, tokens = 0;
        while (b1 < B && b1 - b0 < s->mb_rows) {
            int i = examples[b1], len = split->pre_len[i] + L + split->post_len[i];
            if (tokens + len > s->mb_tokens) break;
            s->lens[b1 - b0] = len;
            tokens += len;
            b1++;
        }
        int ppl = !ppl_done && b1 == B && b1 - b0 < s->mb_rows && tokens + L <= s->mb_tokens;
        if (micro_batch(s, split, examples, b0, b1, ppl, &task, out, err)) return -1;
        ppl_done |= ppl;
        b0 = b1;
    }
    out->task = task / B;
    if (s->scorer && scorer_term(s, &out->log_ppl, err)) return -1;
    out->loss = s->w_task * out->task + s->w_interp * out->log_ppl;
    return 0;
}

int pez_step(PezState *s, const EncodedSplit *split, const int *examples, PezLoss *out,
             Err *err) {
    const PezSettings *set = &s->ctx->point->pez;
    pez_project(s->ids, s->proj, s->cos, s->P, s->model->w.wte, s->wte_inv_norm, s->allowed, s->L, s->V, s->C);
    if (pez_loss_and_grad(s, split, examples, out, err)) return -1;
    int finite = isfinite(out->loss);
    for (size_t k = 0; finite && k < (size_t)s->L * s->C; k++) finite = isfinite(s->g[k]);
    if (!finite)
        return err_fail(err, "%s: the loss or its gradient is not finite at step %d (task %g, "
                         "log-PPL %g)", s->name, s->opt.t + 1, out->task, out->log_ppl);
    pez_update(s->P, s->proj, s->g, &s->opt, set->clip, set->reset_quirk);
    for (size_t k = 0; k < (size_t)s->L * s->C; k++)
        if (!isfinite(s->P[k]))
            return err_fail(err, "%s: the soft prompt is not finite after step %d (lr %g too large?)", s->name,
                             s->opt.t, set->lr);
    return 0;
}

// ----------------------------------------------------------------------------
// the run (PEZ and soft)

/* The prompt as it is after a step, scored on dev: s->ids and s->proj get the projection of P;
 * dev the task term's scores, of that projection (PEZ) or of P itself (soft); *log_ppl the
 * projection's. */
static int score_on_dev(PezState *s, EvalResult *dev, double *log_ppl, Err *err) {
    const TuneContext *ctx = s->ctx;
    int L = s->L;
    pez_project(s->ids, s->proj, s->cos, s->P, s->model->w.wte, s->wte_inv_norm, s->allowed, L, s->V, s->C);
    int rc = s->soft ? eval_soft_prompt(ctx->eval, &ctx->dev, s->P, L, dev, NULL, err)
                     : eval_prompts(ctx->eval, &ctx->dev, s->ids, 1, L, dev, NULL, err);
    return rc ? rc : scorer_log_ppl(ctx->scorer, s->ids, 1, L, log_ppl, err);
}

/* Soft: the record's objective is the one that chose the step, the chosen soft prompt's (its task
 * term P's dev cross-entropy; result_finish wrote the projection's, which task_loss keeps). */
static void soft_objective(TuneResult *r, const HistoryEntry *chosen) {
    r->obj_task = chosen->dev_task;
    r->obj_total = chosen->dev_objective;
}

/* PEZ, or soft (the point's method): the steps, dev's choice every eval_every steps and after
 * the last, and the result of the chosen step. */
static int run(TuneContext *ctx, TuneResult *r, Err *err) {
    const TunePoint *pt = ctx->point;
    const char *name = method_name(pt->method);
    if (!ctx->eval || !ctx->scorer || !ctx->dict)
        return err_fail(err, "%s: the context has no evaluator, scorer or dictionary", name);
    if (ctx->dev.n < 1) return err_fail(err, "%s: empty dev split", name);
    const PezSettings *set = &pt->pez;
    PezState s;
    if (pez_state_alloc(&s, ctx, err)) return -1;
    int L = s.L;
    Rng rng;
    rng_seed(&rng, pt->seed);
    pez_init_ids(s.ids, L, ctx->label_ids, s.K, set->init_random, s.allowed, s.V, &rng);
    pez_embed(s.P, s.ids, s.model->w.wte, L, s.C);

    if (ctx->progress) {
        char line[256];
        if (s.budget)
            snprintf(line, sizeof line, "%s: training batches in micro-batches of up to %d rows, %d positions: "
                     "%.1f MB of the %.1f MB left by activation_mb %g%s", name, s.mb_rows, s.mb_tokens,
                     s.mb_bytes / 1048576.0, s.budget / 1048576.0, pt->activation_mb,
                     s.mb_bytes > s.budget ? " (the default: raised to the least a step needs)" : "");
        else
            snprintf(line, sizeof line, "%s: training batches whole (%d rows, %.1f MB; activation_mb none)", name,
                     s.mb_rows, s.mb_bytes / 1048576.0);
        ctx->progress(ctx->progress_user, line);
    }
    DevChoice best = DEV_CHOICE_NONE;
    HistoryEntry chosen = {0};
    int steps_run = 0, stale = 0;
    StopReason stop = STOP_STEPS;
    for (int step = 1; step <= set->steps && stop == STOP_STEPS; step++) {
        steps_run = step;
        PezLoss loss;
        pez_sample_batch(&s, &rng);
        if (pez_step(&s, &ctx->train, s.examples, &loss, err)) goto fail;
        if (step % set->eval_every != 0 && step != set->steps) continue;

        // the prompt as it is after this step, scored on dev by J
        EvalResult dev;
        double log_ppl;
        if (score_on_dev(&s, &dev, &log_ppl, err)) goto fail;
        double j = s.w_task * dev.loss + s.w_interp * log_ppl;
        HistoryEntry h = {.step = step, .loss = loss.loss, .train_reward = -loss.loss, .dev_acc = dev.accuracy,
                          .dev_task = dev.loss,
                          .log_ppl = log_ppl, .dev_objective = j};
        if (result_add_history(r, h, err)) goto fail;
        int improved = dev_choice_offer(&best, &h);
        if (improved) { // ties: the earlier step keeps it
            chosen = h;
            memcpy(s.best_ids, s.ids, (size_t)L * sizeof(int));
            memcpy(s.best_P, s.P, (size_t)L * s.C * sizeof(float));
        }
        if (early_stop_due(&set->early, &stale, improved, step)) stop = STOP_PATIENCE;
        if (ctx->progress) {
            char line[256];
            snprintf(line, sizeof line, "%s step %d/%d loss %.4g dev acc %.4f J %.4f log-ppl %.2f best J %.4f @ %d "
                     "(log-ppl %.2f) micro-batches %d", name, step, set->steps, loss.loss, dev.accuracy, j, log_ppl,
                     best.j, best.step, best.log_ppl, s.n_micro);
            ctx->progress(ctx->progress_user, line);
            if (stop == STOP_PATIENCE) {
                snprintf(line, sizeof line, "%s: stopped at step %d: dev J not better than %.4f (step %d) for %d "
                         "evaluations (patience)", name, step, best.j, best.step, set->early.patience);
                ctx->progress(ctx->progress_user, line);
            }
        }
    }
    if (best.step == 0) {
        err_fail(err, "%s: no prompt had a finite objective on dev", name);
        goto fail;
    }

    memcpy(r->prompt_ids, s.best_ids, (size_t)L * sizeof(int));
    r->prompt_length = L;
    r->steps = steps_run;
    r->stop_reason = stop;
    r->best_step = best.step;
    int rc = result_finish(ctx, r, s.best_P, err); // faithfulness: the continuous best_P vs its projection
    if (rc == 0 && s.soft) soft_objective(r, &chosen);
    pez_state_free(&s);
    return rc;
fail:
    pez_state_free(&s);
    return -1;
}

int pez_run(TuneContext *ctx, TuneResult *r, Err *err) {
    if (!ctx || !ctx->point || !ctx->model || !r) return err_fail(err, "pez: no context");
    if (ctx->point->method == METHOD_SOFT) return err_fail(err, "pez: the point's method is soft (soft_run)");
    return run(ctx, r, err);
}

int soft_run(TuneContext *ctx, TuneResult *r, Err *err) {
    if (!ctx || !ctx->point || !ctx->model || !r) return err_fail(err, "soft: no context");
    if (ctx->point->method != METHOD_SOFT) return err_fail(err, "soft: the point's method is not soft");
    return run(ctx, r, err);
}
