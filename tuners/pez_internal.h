/*
 * tuners/pez_internal.h: the pieces of PEZ and of soft prompt tuning
 * (tuners/pez.c), exposed for the tests only (test_pez, test_learning). Not
 * part of the tuners.h contract.
 *
 * Shapes: L prompt length, C = n_embd, V vocabulary, K classes, B examples
 * per step, T batch width (positions per row).
 */
#ifndef TUNERS_PEZ_INTERNAL_H
#define TUNERS_PEZ_INTERNAL_H

#include <stddef.h>

#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// projection: each prompt row to its nearest vocabulary embedding by cosine

/* inv_norm (V) = 1 / max(|wte_v|, 1e-12) for the rows of wte (V,C): computed
 * once, so that the projection needs no normalised copy of wte. The floor is
 * torch's F.normalize eps: a zero row has cosine 0 with everything. */
void pez_inv_norms(float *inv_norm, const float *wte, int V, int C);

/* ids (L) = argmax_v cos(P_i, wte_v) over the prompt vocabulary (allowed (V),
 * or NULL for every id; <|endoftext|> never), ties to the lower id, and proj
 * (L,C) = the RAW rows wte[ids] (not normalised). P (L,C); cos (L,V)
 * scratch; the unit rows of P pass through proj on the way. One sgemm
 * (L,C)x(C,V). */
void pez_project(int *ids, float *proj, float *cos, const float *P, const float *wte,
                 const float *wte_inv_norm, const unsigned char *allowed, int L, int V, int C);

// ----------------------------------------------------------------------------
// initialisation

/* ids (L): the K label ids repeated cyclically (init_random 0: class-name
 * init), or uniform random ids of the prompt vocabulary (allowed (V) or NULL;
 * never <|endoftext|>) drawn from rng (init_random 1). */
void pez_init_ids(int *ids, int L, const int *label_ids, int K, int init_random, const unsigned char *allowed,
                  int V, Rng *rng);

/* P (L,C) = wte[ids] (raw rows). */
void pez_embed(float *P, const int *ids, const float *wte, int L, int C);

// ----------------------------------------------------------------------------
// optimisation of the continuous prompt P (L,C)

/* One step (t = 1-based step count) of HF transformers' Adafactor on a 2-D
 * parameter with lr fixed (relative_step, scale_parameter and warmup_init
 * off, so eps2 = 1e-3 is never read), decay_rate -0.8, eps1 1e-30,
 * clip_threshold 1, no first moment (beta1 None), no weight decay:
 *   beta2 = 1 - t^-0.8;  u2 = g^2 + 1e-30
 *   row = beta2 row + (1 - beta2) rowmean(u2)   (L)
 *   col = beta2 col + (1 - beta2) colmean(u2)   (C)
 *   upd = g / sqrt(outer(row / mean(row), col)) / max(1, rms(upd) / 1)
 *   P  -= lr upd
 * row (L) and col (C) start at 0. */
void pez_adafactor_step(float *P, const float *g, float *row, float *col, int L, int C, int t,
                        double lr);

/* The settings of PEZ's AdamW for gpt2_adam_step: torch.optim.AdamW (betas
 * 0.9, 0.999, eps 1e-8, decoupled weight decay) with every element in double
 * (GPT2_NUMERICS_TORCH_F64). */
GPT2Adam pez_adamw(double lr, double weight_decay);

/* The optimizer of one prompt (L,C): its settings, step count and state. */
typedef struct {
    PezOptimizer kind;
    double lr, weight_decay;   // weight_decay: AdamW only
    int L, C;
    int t;                     // steps taken
    float *row, *col;          // Adafactor: (L), (C) factored second moment
    float *m, *v;              // AdamW: (L,C) each
} PezOptim;

/* The straight-through update: g (L,C) is the gradient computed at the
 * projection proj (L,C) of P (soft: its task part at P itself). g is clipped in place (clip > 0; as torch's
 * clip_grad_norm_, gpt2_clip_grads with GPT2_NUMERICS_TORCH_F64), then the
 * optimizer moves the continuous P by it (Alg. 1), or with reset_quirk
 * moves proj and stores that in P: the LM script's P <- Proj(P) - step(g). */
void pez_update(float *P, const float *proj, float *g, PezOptim *o, double clip, int reset_quirk);

// ----------------------------------------------------------------------------
// a run's state: every buffer, allocated once by pez_state_alloc

typedef struct {
    const TuneContext *ctx;
    const char *name;          // "pez" or "soft": the method, for messages
    int soft;                  // method soft: the task term at P itself, fed as vectors; PEZ: at its
                               // projection. The log-PPL term is the projection's in both
    const GPT2Model *model;    // the task LM
    const GPT2Model *scorer;   // a separate scorer LM for the lambda term, or NULL (the task
                               // model scores: its row rides in the task batch, or w_interp is 0)
    const unsigned char *allowed; // (V) the prompt vocabulary (ctx->allowed), or NULL: all but EOT
    int full_ppl_grad;         // the log-PPL term's target side too (pez.ppl_grad "full")
    int L, C, V, K, B;
    int max_T;                 // widest row of a training batch (every task row, the log-PPL row)
    double w_task, w_interp;   // objective_weights of the point
    PezOptim opt;
    // micro-batches: a step's B examples, in order, go through the model in groups of at most
    // mb_rows rows and mb_tokens real positions (the log-PPL row with the last group, or after
    // it alone), their gradients accumulated: the same loss and gradient as one batch
    size_t budget;             // bytes for the training batch (the point's activation_mb less the
                               // evaluator's share; 0: none, one batch of B (+1) rows)
    int mb_rows, mb_tokens;    // a micro-batch's most rows and real positions
    size_t mb_bytes;           // what they take: acts and the buffers below sized by mb_rows
    int n_micro;               // micro-batches of the last step
    GPT2Acts acts;             // mb_rows rows of max_T positions (mb_tokens in all), every layer
    GPT2Acts scorer_acts;      // a separate scorer: 1 row of L positions
    float *fmem;               // one allocation for the floats below
    float *P;                  // (L,C) the continuous prompt
    float *proj;               // (L,C) its projection, raw wte rows
    float *g;                  // (L,C) d loss / d proj
    float *best_P;             // (L,C) the continuous prompt of the best step
    float *cos;                // (L,V) projection scratch
    float *wte_inv_norm;       // (V)
    float *d_input;            // (mb_rows, max_T, C) d loss / d every input vector of the batch
    float *dlogits;            // (L,V) d loss / d the log-PPL row's logits
    float *dlabel;             // (mb_rows,K) d loss / d the classifier logits
    float *scorer_d_input;     // (L,C) a separate scorer's d_input
    float *g_target;           // (L,C) the log-PPL term's target-side gradient (ppl_grad full)
    float *embeds;             // (mb_rows, max_T, C) soft: the input vectors of the batch (P at the
                               // task rows' prompt positions)
    unsigned char *is_embed;   // (mb_rows, max_T) soft: the positions embeds replaces; one allocation
    int *imem;                 // one allocation for the ints below
    int *ids, *best_ids;       // (L) the projection of P, and of best_P
    int *batch_ids;            // (mb_rows, max_T)
    int *lens;                 // (mb_rows)
    int *label_pos, *labels;   // (mb_rows) a micro-batch's label positions, (B) the step's labels
    int *out_pos, *targets;    // (L) the log-PPL row's logit positions and targets
    int *examples;             // (B) the step's examples
    int *order;                // (n_train) the epoch's permutation of train
    int n_train, cursor;       // next example of order
} PezState;

/* Checks the point and the context (models, vocabularies, lengths) and
 * allocates everything for a run on ctx->train; the point's method (pez or
 * soft) sets s->soft. P is not initialised. */
int pez_state_alloc(PezState *s, const TuneContext *ctx, Err *err);
void pez_state_free(PezState *s);   // accepts a zeroed or failed state

/* The sizes of a micro-batch of the state's run (s->ctx, s->L, s->C, s->B, s->max_T, the
 * objective and the scorer set, as pez_state_alloc sets them first), for acts_fit. */
void pez_acts_need(const PezState *s, ActsNeed *need);

/* The next B examples of train: the epoch's permutation in order, reshuffled
 * (Fisher-Yates, rng) at the start of every epoch. */
void pez_sample_batch(PezState *s, Rng *rng);

typedef struct {
    double loss;      // w_task task + w_interp log_ppl
    double task;      // mean cross-entropy over the K label logits (soft: at P)
    double log_ppl;   // of s->ids under the scorer (0 when w_interp is 0: not computed)
} PezLoss;

/* The objective at the prompt s->ids (fed as their raw wte rows) on the
 * examples (B) of split, and its gradient w.r.t. the L prompt vectors into
 * s->g (overwritten): a forward and backward of the B task rows, plus the
 * log-PPL row [<|endoftext|>, z_0 .. z_{L-2}] in the same batch (scorer =
 * task model) or on the separate scorer; with full_ppl_grad, the log-PPL
 * term's target side too. The rows go in micro-batches (s->mb_rows,
 * s->mb_tokens; s->n_micro gets their count), each task row's label gradient
 * scaled by 1/B and the rows' prompt gradients summed in row order, the
 * log-PPL row's last: the loss and the gradient of one batch, to the bit (a
 * row's arithmetic does not depend on the rows beside it). With s->soft the task rows hold s->P itself as
 * vectors instead (their gradient is then d task / d P), the log-PPL row
 * still s->ids (its gradient d log_ppl / d P', passed straight through). */
int pez_loss_and_grad(PezState *s, const EncodedSplit *split, const int *examples, PezLoss *out,
                      Err *err);

/* One step: project P (s->ids, s->proj), loss and gradient (PEZ: at the
 * projection; soft: the task term at P) on the examples (B) of split, update
 * P. */
int pez_step(PezState *s, const EncodedSplit *split, const int *examples, PezLoss *out,
             Err *err);

#endif
