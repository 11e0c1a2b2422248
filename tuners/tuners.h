/*
 * tuners/tuners.h: the contract of tuners/, prompt tuning with an
 * interpretability objective.
 *
 * One hyperparameter point (method, lambda, prompt length, seed, task,
 * settings) goes in as JSON; one result record comes out:
 *   point.c     the point: parse, validate, canonical JSON; the result record
 *   task.c      data splits, tasks and verbalizers, templates, evaluation
 *   interp.c    interpretability: prompt log-perplexity under a scorer LM,
 *               dictionary-word share, distinct-token share, KL between label
 *               distributions; result_finish
 *   text.c      prompts as text: the prompt vocabulary (no <|endoftext|>,
 *               optionally only well-formed UTF-8 or printable ASCII), the
 *               text round trip inside the template and its accuracy
 *   pez.c       PEZ (Wen et al. 2023): projected gradient on a soft prompt; and
 *               soft prompt tuning (Lester et al. 2021) on the same loop
 *   rlprompt.c  RLPrompt (Deng et al. 2022): soft Q-learning policy
 *   tune_main.c the `tune` program
 * ../shared/docs/tuners-reference.md restates both methods as their reference
 * code does them.
 *
 * Depends on model/ only. Errors as in model/: return -1 with a one-line
 * message in a Err; nothing here exits, and only progress goes to stderr
 * (through the callback in TuneContext).
 */
#ifndef TUNERS_H
#define TUNERS_H

#include <stddef.h>
#include <stdint.h>

#include "model/gpt2.h"

#define TUNE_MAX_CLASSES 16
#define TUNE_MAX_PROMPT 64   // prompt_length is 1..TUNE_MAX_PROMPT (a manual prompt: 0..)
#define TUNE_PATH 1024

/* One allocation per lifetime: lays views out in one zeroed block *mem of
 * `type`, view[i] getting size[i] elements (NULL for size 0). view is an array
 * of type** and size an array of size_t of the same length. *mem is NULL when
 * out of memory. */
#define TUNE_LAY_OUT(mem, type, view, size)                                                 \
    do {                                                                                   \
        _Static_assert(sizeof view / sizeof view[0] == sizeof size / sizeof size[0],        \
                       "one size per view");                                                \
        size_t n_ = sizeof size / sizeof size[0], total_ = 0;                              \
        for (size_t i_ = 0; i_ < n_; i_++) total_ += size[i_];                             \
        type *p_ = (mem) = calloc(total_ ? total_ : 1, sizeof(type));                      \
        for (size_t i_ = 0; p_ && i_ < n_; i_++) {                                         \
            *view[i_] = size[i_] ? p_ : NULL;                                              \
            p_ += size[i_];                                                                \
        }                                                                                  \
    } while (0)

// ----------------------------------------------------------------------------
// data (task.c)

/* A TSV split: header line naming a "sentence" or "text" column and a
 * "label" column, CRLF or LF, each line split at its last tab (sentences may
 * contain quotes; they are kept as they are, except that a field wrapped in
 * quotes with its inner quotes doubled is unquoted, as pandas reads it),
 * integer labels 0..n_classes-1. */
typedef struct {
    int n;              // examples
    char **text;        // (n) NUL-terminated UTF-8, into storage
    int *label;         // (n)
    char *storage;      // one allocation for everything above
} Split;

/* Errors: missing file, bad header, a line without a tab, a label that is not
 * an integer or out of 0..n_classes-1, an empty split. Messages name the file
 * and the line. */
int split_load(Split *s, const char *path, int n_classes, Err *err);
void split_free(Split *s);

/* Built-in tasks: name, classes and the usual verbalizers as text (" great"),
 * see ../shared/data/README.md. */
typedef struct {
    const char *name;            // "sst-2", "mr", "cr", "subj", "trec", "sst-5", "agnews", "yahoo"
    int n_classes;
    const char *verbalizers[TUNE_MAX_CLASSES];
} TaskSpec;

const TaskSpec *task_spec(const char *name); // NULL if unknown

/* Each verbalizer text must encode to exactly one token; label_ids (K) get
 * them. Errors name the verbalizer and what it encodes to. */
int verbalizer_ids(GPT2Tokenizer *tok, const char *const *verbalizers, int K, int *label_ids,
                   Err *err);

/* A split run through a template: a string holding "[P]" (the prompt, once)
 * and "{sentence}" (once), e.g. "[P]{sentence} It was" (PEZ) or
 * "{sentence}[P]" (RLPrompt). The text before [P] and the text after it are
 * tokenized separately (the prompt is fed as ids or vectors, never
 * re-tokenized), so example i is
 *     ids[pre_off[i] .. + pre_len[i]]  ++  prompt (L)  ++  ids[post_off[i] .. + post_len[i]]
 * and the label is read at the last position. Sentences are truncated at the
 * end (whole tokens) so that pre + post <= max_tokens. */
typedef struct {
    int n;
    int *ids;                    // all pre and post tokens, concatenated
    int *pre_off, *pre_len;      // (n)
    int *post_off, *post_len;    // (n)
    int *sent_off, *sent_len;    // (n) the sentence's kept tokens inside pre or post (offsets into ids)
    int *label;                  // (n)
    int max_pre, max_post;       // longest pre and post
    void *storage;               // one allocation
} EncodedSplit;

int encode_split(EncodedSplit *e, const Split *s, const char *template_text, GPT2Tokenizer *tok,
                 int max_tokens, Err *err);
/* Encodes len bytes of text into *buf (malloc'd or NULL, capacity *cap), grown
 * as needed; *n the count. */
int encode_grow(GPT2Tokenizer *tok, const char *text, size_t len, int **buf, int *cap, int *n, Err *err);
void encoded_split_free(EncodedSplit *e);
/* The longest example of a split: pre + post tokens (the prompt not counted). */
int encoded_split_longest(const EncodedSplit *e);

// ----------------------------------------------------------------------------
// evaluation (task.c)

/* Batches under a memory budget (task.c). A batch of at most `rows` rows of
 * at most max_T positions each and at most `tokens` real positions in all
 * (the sum of its row lengths) has activations of gpt2_acts_bytes (model/gpt2.h;
 * keys max_T, max(rows, min_out) logit rows), and its caller keeps
 * position_bytes of buffers for each of its rows x max_T positions: `bytes`
 * in all. */
typedef struct {
    int max_rows, max_T;       // the most rows a batch ever has, positions per row
    int min_rows, min_tokens;  // the smallest batch that must fit: rows, real positions
    int mean_T;                // a typical row's length: rows are planned at it (1..max_T)
    int min_out;               // logit rows beyond one per row
    int all_layers;            // every layer kept (for a backward)
    size_t position_bytes;     // the caller's buffers per row position
} ActsNeed;

typedef struct {
    int rows, tokens;          // a batch's most rows and real positions
    size_t bytes;              // what they take: activations and the caller's buffers
} ActsFit;

/* What `rows` rows of `tokens` real positions take (0 for bad sizes). */
size_t acts_need_bytes(const GPT2Config *c, const ActsNeed *need, int rows, int tokens);
/* The batch that fits budget bytes: the most rows that fit with mean_T positions each (at
 * least min_tokens), then the most tokens for those rows. budget 0: no bound (max_rows rows of
 * max_T). -1 when the smallest batch (min_rows, min_tokens) does not fit: *fit is then that
 * batch, and its bytes what it needs. */
int acts_fit(ActsFit *fit, const GPT2Config *c, const ActsNeed *need, size_t budget);

/* The activation budget of a rank ("activation_mb" of a point, MB = 2^20 bytes; 0: none):
 * with PEZ and soft, the evaluator's activations and batch buffers take at most this share of
 * it and the training batches the rest; with RLPrompt and manual prompts the evaluator may take
 * it all (tune_eval_share). */
#define TUNE_EVAL_BUDGET_SHARE 0.25

/* The classifier: a task model, its label ids, and buffers for batches of up
 * to max_rows sequences of up to max_T positions, allocated once. When the
 * prompt comes after the sentence (pre_len > 0), the pre tokens of a split
 * registered with evaluator_cache are computed once into a KV cache and every
 * prompt continues them. */
typedef struct Evaluator Evaluator;

int evaluator_new(Evaluator **ev, const GPT2Model *m, const int *label_ids, int K, int max_rows,
                  int max_T, Err *err);
/* The same within max_bytes (0: no bound) for its activations and batch buffers: fewer rows
 * (and real positions) per batch, planned for rows of mean_T positions (0: max_T); the
 * results are the same whatever the batches. Never less than one row of max_T positions, even
 * past max_bytes (evaluator_bytes says what it took). */
int evaluator_new_bounded(Evaluator **ev, const GPT2Model *m, const int *label_ids, int K, int max_rows,
                          int max_T, size_t max_bytes, int mean_T, Err *err);
/* Bytes of its activations and batch buffers; rows and real positions per batch. */
size_t evaluator_bytes(const Evaluator *ev, int *rows, int *tokens);
void evaluator_free(Evaluator *ev);
/* Computes the pre-prompt KV cache of a split once (no-op when every pre_len
 * is 0). At most a few splits; the split must stay alive. */
int evaluator_cache(Evaluator *ev, const EncodedSplit *s, Err *err);
/* The longest row (positions) the evaluator holds. */
int evaluator_max_T(const Evaluator *ev);

typedef struct {
    double accuracy;     // argmax over the K label logits == label
    double reward;       // RLPrompt's mean gap reward: 200*gap if gap > 0 else 180*gap
    double loss;         // mean cross-entropy of softmax over the K label logits (nats): the task term
    double balanced_accuracy;                  // mean of class_accuracy over the classes present
    double class_accuracy[TUNE_MAX_CLASSES];   // (K) recall of each class; NaN for a class absent from the split
    double prediction_share[TUNE_MAX_CLASSES]; // (K) share of the examples predicted as each class
} EvalResult;

/* The largest prediction_share of K: the share of the examples given the
 * most-predicted label. */
double majority_share(const EvalResult *r, int K);

/* Scores P prompts given as ids, (P, L), on a split: res (P), and if probs is
 * not NULL, the label distributions (P, n, K). Rows are batched across
 * prompts and examples. L may be 0 (no prompt: the rows are pre ++ post, and
 * prompt_ids is not read), for rows that already hold everything. */
int eval_prompts(Evaluator *ev, const EncodedSplit *s, const int *prompt_ids, int P, int L,
                 EvalResult *res, float *probs, Err *err);
/* The same, and pred (P, n) (NULL: not wanted) the class each row was given: the argmax of its
 * K label logits (ties to the lower class), what accuracy counts. */
int eval_prompts_pred(Evaluator *ev, const EncodedSplit *s, const int *prompt_ids, int P, int L,
                      EvalResult *res, float *probs, int *pred, Err *err);

/* Scores one prompt given as input vectors (L, C): a soft prompt. */
int eval_soft_prompt(Evaluator *ev, const EncodedSplit *s, const float *prompt_embeds, int L,
                     EvalResult *res, float *probs, Err *err);

/* RLPrompt's reward of one example from its label probabilities p (K):
 * gap = p[label] - max other; 200*gap if gap > 0 else 180*gap. */
double gap_reward(const float *p, int K, int label);

// ----------------------------------------------------------------------------
// interpretability (interp.c)

/* Scrutability: mean negative log-likelihood (natural log) of the L prompt
 * tokens under a scorer LM, the first scored after <|endoftext|>:
 * log_ppl = -(1/L) sum_i log p(z_i | <|endoftext|>, z_<i). No tokens (L = 0,
 * the empty manual prompt: the template alone) have log_ppl 0 (ppl 1): the
 * total NLL of no tokens is 0, and the template alone adds nothing to read. */
typedef struct Scorer Scorer;
int scorer_new(Scorer **sc, const GPT2Model *m, int max_prompts, Err *err);
void scorer_free(Scorer *sc);
/* Scores P prompts (P, L) at once; log_ppl (P). L = 0: every log_ppl 0. */
int scorer_log_ppl(Scorer *sc, const int *prompt_ids, int P, int L, double *log_ppl, Err *err);

/* The share of the words of a prompt's decoded text that are dictionary
 * words. A word is a run of non-blank bytes of the text (split at white
 * space), with punctuation stripped from both ends (ASCII punctuation and the
 * typographic quotes, dashes and ellipsis); what is left empty (punctuation
 * alone) is not a word. A word counts when it is in the word list
 * (case-insensitively; Debian's wamerican, /usr/share/dict/words), or when
 * it holds hyphens and every part between them is. No words: share 0, and
 * *n_words (if not NULL) gets the number of words. Tokens are never counted:
 * "NealNealNeal" is one word, not in the list. */
typedef struct Dictionary Dictionary;
int dictionary_load(Dictionary **d, const char *path, Err *err);
void dictionary_free(Dictionary *d);
double dictionary_share(const Dictionary *d, const char *text, int *n_words);

/* Repetition: the share of distinct ids among the L ids (1: no token repeats;
 * 1/L: one token repeated; 0 for no ids). */
double distinct_share(const int *ids, int L);

/* Mean over n examples of KL(p || q) between label distributions (n, K). */
double mean_kl(const float *p, const float *q, int n, int K);

// ----------------------------------------------------------------------------
// the point (point.c)

/* METHOD_MANUAL: a fixed prompt text, evaluated with no training (a baseline; "" is the
 * template alone). METHOD_SOFT: continuous prompt tuning (Lester et al. 2021) on PEZ's loop and
 * settings: the task term at the soft prompt itself, the lambda term at its projection. */
typedef enum { METHOD_PEZ, METHOD_RLPROMPT, METHOD_MANUAL, METHOD_SOFT } Method;
/* (point.c) A method's name in a point: "pez", "rlprompt", "manual" or "soft". */
const char *method_name(Method m);
typedef enum { OBJECTIVE_ADDITIVE, OBJECTIVE_CONVEX } Objective;
typedef enum { PEZ_ADAFACTOR, PEZ_ADAMW } PezOptimizer;
/* The tokens a tuner may put in a prompt ("prompt_vocab"). <|endoftext|> is
 * never one of them: PEZ's projection and RLPrompt's actions exclude it. */
typedef enum {
    PROMPT_VOCAB_ALL,     // every token of the tokenizer but <|endoftext|> (default)
    PROMPT_VOCAB_UTF8,    // and only tokens whose bytes are well-formed UTF-8 on their own, with no
                          // control character but tab and newline
    PROMPT_VOCAB_ASCII    // and only printable ASCII (bytes 0x20..0x7E)
} PromptVocab;
/* PEZ's gradient of the log-PPL term ("pez.ppl_grad"). */
typedef enum {
    PEZ_PPL_GRAD_FULL,    // input side + target side (straight-through on the tied output embedding):
                          // every prompt token gets the term's gradient (default)
    PEZ_PPL_GRAD_INPUT    // the input side only, as the reference: the last token gets none, and no
                          // token gets the gradient of its own log-probability
} PezPplGrad;
/* RLPrompt's training reward ("rlprompt.reward"). */
typedef enum {
    RL_REWARD_OBJECTIVE,  // R = -(w_task * cross-entropy + w_interp * log_ppl): minus the objective,
                          // the same J as PEZ, so lambda means the same in both methods (default)
    RL_REWARD_GAP         // the reference's gap reward: R = w_task * gap_reward - w_interp * log_ppl
                          // (lambda then prices a nat against gap-reward points, not comparable)
} RlReward;

/* Early stopping on dev (keys "patience" and "min_steps" of "pez", "soft" and "rlprompt"):
 * after an evaluation on dev at step >= min_steps, the run stops when the dev objective J has
 * not improved on its best (dev_choice_offer: strictly lower J, or equal J and lower log-PPL)
 * for `patience` evaluations in a row. patience 0 is off (the default): the run takes all its
 * steps, and neither key enters the canonical point, so points without them keep their ids.
 * The record says how many steps ran and why the run stopped (REC_STEPS, REC_STOP_REASON). */
typedef struct {
    int patience;         // evaluations without a better dev objective before stopping; 0: off
    int min_steps;        // no stop before this step (needs patience > 0)
} EarlyStop;

/* Counts evaluations since the last improvement (*stale, 0 at the start) and says whether
 * the run stops after this evaluation (improved: dev_choice_offer took it; step: the step). */
int early_stop_due(const EarlyStop *e, int *stale, int improved, int step);

/* Why a tuner stopped (REC_STOP_REASON). */
typedef enum {
    STOP_NO_STEPS,        // a manual prompt: nothing to run ("none")
    STOP_STEPS,           // every step of the budget ran ("steps")
    STOP_PATIENCE         // early stopping ("patience")
} StopReason;
extern const char *const STOP_REASON_NAMES[];

/* PEZ's settings ("pez"), and soft's ("soft": the same keys and defaults). */
typedef struct {
    int steps;            // optimizer steps (default 1000)
    int batch;            // examples per step, sampled from train (default 16)
    int eval_every;       // score the prompt on dev every K steps (default 10)
    PezOptimizer optimizer;   // default Adafactor
    double lr;            // default 0.3 (Adafactor) or 0.1 (AdamW)
    double weight_decay;  // AdamW only, default 0.1
    double clip;          // gradient-norm clip, default 1.0 (0 = off)
    int init_random;      // 0: class-name tokens repeated to length L (default); 1: random tokens
    int reset_quirk;      // 1: the LM script's P <- Proj(P) - step quirk (PEZ parity checks only;
                          // soft refuses it)
    PezPplGrad ppl_grad;  // default full
    EarlyStop early;      // default off
} PezSettings;

typedef struct {
    int steps;            // training steps (default 1000)
    int prompts_per_step; // default 16
    int top_k;            // sampling during training, default 256
    int eval_every;       // greedy prompt scored on dev every K steps (default 10)
    int hidden;           // MLP hidden width, default 2048
    double lr;            // Adam, default 5e-5
    double clip;          // gradient-norm clip, default 5.0
    double polyak;        // target network update rate, default 0.001
    double reward_scale;  // z-scored reward times this, default 5
    RlReward reward;      // default objective
    EarlyStop early;      // default off
} RlSettings;

typedef struct {
    Method method;
    char task[32];                    // a TaskSpec name, or "custom" with verbalizers given
    char model_dir[TUNE_PATH];        // the task LM
    char scorer_dir[TUNE_PATH];       // scrutability scorer LM; "" = the task model
    char policy_dir[TUNE_PATH];       // RLPrompt's frozen backbone; "" = the task model
    char train_path[TUNE_PATH], dev_path[TUNE_PATH], test_path[TUNE_PATH];
    char dict_path[TUNE_PATH];        // default /usr/share/dict/words
    double lambda;                    // >= 0
    Objective objective;              // additive (default) or convex (lambda in [0, 1])
    int prompt_length;                // L
    uint64_t seed;
    char template_text[256];          // default per method (see encode_split)
    char manual_prompt[512];          // METHOD_MANUAL: the prompt text, tokenized by tune ("" allowed)
    int n_classes;                    // from the task
    char verbalizers[TUNE_MAX_CLASSES][64];
    int max_tokens;                   // pre + post token budget per example (default 128)
    int max_test;                     // 0: the whole test split; else its first max_test examples
    double activation_mb;             // the rank's activation budget, MB (0: none; tune_eval_share);
                                      // not part of the point's identity: every budget gives the same results
    int activation_default;           // activation_mb was not given: a run that needs more for one example
                                      // (a large model) takes that least, where a given budget fails
    PromptVocab prompt_vocab;         // default all (every token but <|endoftext|>)
    GPT2Precision precision;          // of every model of the run (gpt2_set_precision), default f32
    PezSettings pez;                  // PEZ's, or soft's ("soft" in the JSON)
    RlSettings rl;
    char *canonical_json;             // the point with every default filled in, keys sorted (owned)
} TunePoint;

/* (point.c) The share of the point's activation_mb the evaluator may take: TUNE_EVAL_BUDGET_SHARE
 * for PEZ and soft, whose training batches take the rest; 1 for RLPrompt and manual prompts. */
double tune_eval_share(const TunePoint *p);

/* Parses and validates a point: unknown keys, wrong types, lambda < 0,
 * prompt_length out of 1..TUNE_MAX_PROMPT, an unknown task or method, missing
 * files: one clear error. Fills every default. */
int point_parse(TunePoint *p, const char *json_text, Err *err);
void point_free(TunePoint *p);

/* The tune program's version: in every record, and part of every point's identity (a tune
 * that computes differently must not resume another's results). */
#define TUNE_VERSION "tune 2 (issue 11)"

/* The environment variable in which a supervisor that already hashed the point's model hands
 * its digest to tune: known-digest lines (model/gpt2.h), used for the model's weights only
 * while the file is unchanged (gpt2_file_sha256_reuse); the sweep sets it for each point. */
#define TUNE_KNOWN_SHA256_ENV "TUNE_KNOWN_SHA256"

/* The files whose contents define a point, in this order: the task model's weights, the scorer's
 * and RLPrompt's policy model's (when separate), the three splits, the dictionary. */
enum { INPUT_MODEL, INPUT_SCORER, INPUT_POLICY, INPUT_TRAIN, INPUT_DEV, INPUT_TEST, INPUT_DICTIONARY,
       N_POINT_INPUTS };
extern const char *const POINT_INPUT_NAMES[N_POINT_INPUTS];   // "model", ..., "dictionary"

/* The path of a point's input (a model's DIR/model.safetensors); "" for an input the point
 * does not have (no separate scorer or policy model). -1 if it does not fit in cap. */
int point_input_path(const TunePoint *p, int input, char *out, size_t cap);

/* The point's identity, 64 hex digits: the sha256 of {"identity":2,"point":P,"tune":TUNE_VERSION}
 * where P is the canonical JSON with each file's path replaced by "sha256:" and the sha256 of its
 * contents (sha[input], from point_input_path's files). So the same point on the same files has
 * the same id wherever the files are, and a changed file (a relabelled split, another model),
 * dictionary or tune version gives another id. Paths of the tokenizer files and config.json are
 * not in it: they travel with the weights in the model directory. -1: out of memory. */
#define POINT_IDENTITY_VERSION 2
int point_identity(const TunePoint *p, const char sha[N_POINT_INPUTS][65], char id[65]);

/* The objective's weights: J = w_task * task + w_interp * log_ppl, i.e.
 * (1, lambda) for additive and (1 - lambda, lambda) for convex. The task
 * term is the mean cross-entropy (nats) of the label over the K verbalizer
 * logits, log_ppl the prompt's mean negative log-likelihood (nats/token)
 * under the scorer: both methods minimise this J (RLPrompt as the reward -J),
 * and both choose their best prompt by J on dev. */
void objective_weights(const TunePoint *p, double *w_task, double *w_interp);

/* Which of two prompts scored on dev is better by the run's objective: a
 * lower J, then (exact ties) a lower log_ppl; returns 1 when (j, log_ppl)
 * beats (best_j, best_log_ppl). An equal pair does not beat: the earlier
 * step keeps it. */
int objective_better(double j, double log_ppl, double best_j, double best_log_ppl);

// ----------------------------------------------------------------------------
// running a point

typedef struct {
    int step;
    double loss;        // training objective at this step (RLPrompt: its SQL loss)
    double dev_acc;     // of the prompt as it is now (projected / greedy; soft: the soft prompt itself)
    double dev_task;    // its task term (cross-entropy) on dev
    double log_ppl;     // of that prompt (soft: of its projection)
    double dev_objective; // w_task dev_task + w_interp log_ppl: what selection compares
    double train_reward;  // minus the training objective at this step: PEZ's and soft's on the batch (= -loss),
                          // RLPrompt's mean over the step's sampled prompts on train (its mean reward)
} HistoryEntry;

/* The dev-chosen evaluation of a run so far (step 0: none yet). */
typedef struct {
    double j, log_ppl;
    int step;
} DevChoice;
#define DEV_CHOICE_NONE /* (needs <math.h>) */ ((DevChoice){.j = INFINITY, .log_ppl = INFINITY, .step = 0})
/* Whether the evaluation h beats c by objective_better; if so c becomes h's. */
int dev_choice_offer(DevChoice *c, const HistoryEntry *h);

enum { TUNE_TRAIN, TUNE_DEV, TUNE_TEST, TUNE_N_SPLITS };
#define TUNE_TEXT_BYTES 4096          // a prompt's decoded text, and its re-encoding, at most
#define TUNE_COLLAPSE_SHARE 0.95      // collapsed: this share of test examples or more get one label

typedef struct {
    int prompt_ids[TUNE_MAX_PROMPT];  // the best prompt (projected for PEZ and soft)
    int prompt_length;
    char prompt_text[TUNE_TEXT_BYTES];// its decoded text
    // the text as a person reuses it: its standalone re-encoding, and the test split with the
    // text pasted into the template (see text.c)
    int text_ids[3 * TUNE_TEXT_BYTES]; // a byte gives at most 3 tokens (ill-formed UTF-8: U+FFFD)
    int n_text_ids;
    int roundtrip;                    // every test example's pasted text encodes to pre ++ ids ++ post
    double roundtrip_share;           // the share of test examples for which it does
    int text_truncated;               // test examples cut at the front to fit the context
    double test_text_acc;             // test accuracy of the pasted text
    double train_acc, dev_acc, test_acc;
    EvalResult eval[TUNE_N_SPLITS];   // per split: loss, balanced and per-class accuracy, predictions
    int n_classes;
    int collapsed;                    // majority_share(test) >= TUNE_COLLAPSE_SHARE
    double dev_reward;                // RLPrompt's gap reward on dev (PEZ: reported too)
    double log_ppl, ppl;              // of the best prompt under the scorer (no tokens: 0, 1)
    double dict_share;                // of the words of prompt_text
    double distinct_share;            // of the prompt's ids
    // the run's objective on dev, the split that chose the prompt (soft: obj_task is the soft
    // prompt's dev cross-entropy, what chose the step; eval[TUNE_DEV].loss its projection's)
    double w_task, w_interp, obj_task, obj_interp, obj_total;
    int vocab_size;                   // the task model's vocabulary; 0 (not in the record): not loaded
    // faithfulness (PEZ, soft): continuous vs projected prompt on the test split, at the chosen
    // step; RLPrompt's and manual prompts are discrete: gap 0, both accuracies equal
    double acc_continuous, acc_projected, kl_continuous_projected;
    int steps;                        // steps run
    StopReason stop_reason;           // why they stopped there
    int best_step;                    // the step the best prompt was found
    double wall_seconds;
    HistoryEntry *history;            // every eval_every steps (owned)
    int n_history, cap_history;
} TuneResult;

void result_free(TuneResult *r);
int result_add_history(TuneResult *r, HistoryEntry h, Err *err);

/* What the tuners work with, loaded once by tune (or a test). */
typedef struct {
    const TunePoint *point;
    GPT2Model *model;            // task LM
    GPT2Tokenizer *tok;
    GPT2Model *scorer_model;     // == model unless scorer_dir is set
    GPT2Model *policy_model;     // == model unless policy_dir is set (RLPrompt)
    int label_ids[TUNE_MAX_CLASSES];
    int n_classes;
    EncodedSplit train, dev, test;   // encoded with the point's template
    Evaluator *eval;             // on model, with label_ids
    Scorer *scorer;              // on scorer_model
    Dictionary *dict;
    /* The prompt vocabulary: allowed[v] for the V ids of the task model, or
     * NULL for every id but <|endoftext|> (which is never allowed, whatever
     * the mask says): prompt_token_allowed. */
    const unsigned char *allowed;
    /* progress, e.g. "pez step 120/1000 loss 0.41 dev 0.81 best 0.84 @ 110";
     * may be NULL */
    void (*progress)(void *user, const char *line);
    void *progress_user;
} TuneContext;

/* Frees what a context owns: the evaluator, the scorer, the dictionary and
 * the encoded splits (not the models, the tokenizer or the point). */
void tune_context_free(TuneContext *ctx);

/* Run the tuner: each fills prompt_ids, prompt_length, steps, best_step and
 * history, then calls result_finish. Deterministic for a point and seed. */
int pez_run(TuneContext *ctx, TuneResult *r, Err *err);
int rlprompt_run(TuneContext *ctx, TuneResult *r, Err *err);
/* Soft prompt tuning (method soft, pez.c): PEZ's loop, settings and lambda term, but the task
 * term and its gradient at the soft prompt P itself (fed as vectors), not at its projection.
 * Dev chooses the step by J = w_task CE_dev(P) + w_interp log_ppl(projection of P); the
 * record's prompt, accuracies and log-PPL are the projection's (valid text), its faithfulness
 * numbers the chosen P's against that projection, and its objective the chosen P's J. */
int soft_run(TuneContext *ctx, TuneResult *r, Err *err);
/* A manual prompt: tokenizes point->manual_prompt and scores it (no steps). */
int manual_run(TuneContext *ctx, TuneResult *r, Err *err);
/* The manual prompt's ids (at most TUNE_MAX_PROMPT; none for ""); *n gets the count. */
int manual_prompt_ids(const TunePoint *p, GPT2Tokenizer *tok, int *ids, int *n, Err *err);

/* (text.c) The prompt vocabulary of a point: mask (V) gets 1 for the ids a
 * tuner may use (never <|endoftext|>, never an id the tokenizer has no bytes
 * for); *n_allowed the count. Errors when no id is left. */
int prompt_vocab_mask(unsigned char *mask, const GPT2Tokenizer *tok, int V, PromptVocab kind,
                      int *n_allowed, Err *err);
/* Whether a tuner may put id in a prompt under ctx->allowed. */
static inline int prompt_token_allowed(const TuneContext *ctx, int id) {
    return id != GPT2_EOT && (!ctx->allowed || ctx->allowed[id]);
}

/* (text.c) The template with [P] replaced by prompt and {sentence} by
 * sentence, into out (cap bytes, NUL-terminated); the length, or -1 when it
 * does not fit. */
long template_fill(char *out, size_t cap, const char *tmpl, const char *prompt, const char *sentence);

/* (text.c) The prompt as a person reuses it: r->prompt_text (already
 * decoded) re-encoded alone into r->text_ids, then pasted into the point's
 * template with each test example's sentence (its kept tokens, decoded) and
 * encoded whole, as one string. r->roundtrip / roundtrip_share say whether
 * that gives back the rows the tuner scored (pre ++ ids ++ post), and
 * r->test_text_acc is the accuracy of the pasted rows (a row longer than the
 * model's context loses tokens at its front: r->text_truncated). test is the
 * test split as result_finish scores it; pred (test->n), or NULL, the classes
 * eval_prompts_pred gave r->prompt_ids on it: a pasted row that is the
 * prompt's own row takes its class, and only the other rows are evaluated (a
 * prompt whose text round-trips costs no second pass over test). The
 * accuracy is the same either way: a row's logits do not depend on the rows
 * batched with it. */
int prompt_text_check(TuneContext *ctx, const EncodedSplit *test, const int *pred, TuneResult *r, Err *err);

/* (interp.c) Everything else from the best prompt r->prompt_ids (L = 0..TUNE_MAX_PROMPT; 0: the
 * template alone, without continuous): its text,
 * accuracy, balanced and per-class accuracy and task loss on train/dev/test
 * (test capped by max_test), collapse, dev reward, the objective on dev,
 * log-PPL and PPL under the scorer, dictionary and distinct shares, the text
 * round trip (prompt_text_check) and faithfulness: with continuous (L, C),
 * the soft prompt the projection came from, the accuracy of each on test
 * and the mean KL(continuous || projected) of their label distributions;
 * with NULL (discrete prompts) both accuracies are the test accuracy and the
 * KL is 0. */
int result_finish(TuneContext *ctx, TuneResult *r, const float *continuous, Err *err);

/* What reproduces a run beyond its point (issue 15; record.h: run, data_files, model): the
 * environment it ran in, which differs between two runs of one point on other machines or
 * command lines, and what tune read, which does not. tune fills it as far as it got (a run
 * that failed early leaves the rest unknown). */
typedef struct {
    const char *code_version;          // util_code_version()
    char host[256];
    const char *const *argv;           // tune's command line (argc strings)
    int argc;
    char openblas_core[64];            // openblas_get_corename(): the kernels in use
    int openblas_threads;
    const char *openblas_coretype;     // $OPENBLAS_CORETYPE (NULL: unset)
    int have_data;                     // the three splits were read:
    char data_sha256[TUNE_N_SPLITS][65];   //   train, dev, test (TUNE_TRAIN, ...)
    int data_n[TUNE_N_SPLITS];         //   examples in each file
    int test_scored;                   //   the test examples scored (max_test)
    int have_model;                    // the task model was loaded:
    int n_layer, n_head, n_embd, n_positions;
    int random_init;                   //   its weights are those `gpt2 init` wrote (gpt2_random_init)
} TuneProvenance;

/* The record (its keys: util/record.h): the point, status ("ok" or "failed"
 * + error), the result, the versions and the model's sha256, then (when prov is not NULL)
 * run, data_files and model. Returns a malloc'd JSON text. */
char *result_record_json(const TunePoint *p, const TuneResult *r, const char *status,
                         const char *error, const char *model_sha256, const TuneProvenance *prov);

#endif
