/*
 * model/gpt2.h: the contract of model/, GPT-2 on the CPU.
 *
 * - Checkpoints in the Hugging Face layout (config.json, model.safetensors,
 *   vocab.json + merges.txt or encoder.json + vocab.bpe), weights mmapped
 *   read-only and used in place when they are F32.
 * - Exact GPT-2 byte-level BPE.
 * - Forward on batches of right-padded sequences, inputs as token ids or as
 *   embedding vectors, logits only for the rows a caller asks for, and a KV
 *   cache so that a shared prefix is computed once.
 *
 * Errors: every function that can fail returns 0 on success and -1 on error,
 * with a one-line message in a Err (which file, what, why). Nothing here
 * exits or prints.
 *
 * Shapes use llm.c's letters: B batch rows, T positions per row, C = n_embd,
 * NH heads, hs = C/NH, L layers, V vocabulary, P positions in a KV cache row.
 */
#ifndef GPT2_H
#define GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"   // Err, err_fail, files, Rng

#define GPT2_EOT 50256 /* <|endoftext|> */

/* e^x for x in [-87, 88] (clamped outside), within ~1 ulp, in plain
 * arithmetic so that loops calling it vectorise (glibc's expf is a call per
 * element): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for exact
 * reduction), e^r by its degree-7 Taylor polynomial, 2^n built in the
 * exponent bits. NaN gives NaN (the integer part is taken of 0 instead, so
 * no NaN is ever converted to an integer). Used by GELU, softmaxes and
 * cross-entropies. */
static inline float gpt2_expf(float x) {
    float in = x;
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x == x ? x : 0.0f;
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; // round to nearest
    float r = x - n * 0.693145751953125f;                                // ln2 = this (exact)
    r = r - n * 1.428606765330187e-06f;                                  //       + this
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666668e-2f +
              r * (8.3333338e-3f + r * (1.3888889e-3f + r * 1.9841270e-4f))))));
    union { int32_t i; float f; } scale = {.i = ((int32_t)n + 127) << 23};
    return in == in ? p * scale.f : in;
}

// ----------------------------------------------------------------------------
// configuration and weights

typedef struct {
    int n_layer;       // L
    int n_head;        // NH
    int n_embd;        // C
    int n_positions;   // maximum context length
    int vocab_size;    // V (50257 for GPT-2)
    float layer_norm_epsilon;
} GPT2Config;

/* One transformer block. Linear weights are in the Hugging Face Conv1D layout
 * (in, out), row-major, so a layer computes y = x W + b. */
typedef struct {
    float *ln_1_w, *ln_1_b;   // (C), (C)
    float *attn_w, *attn_b;   // (C, 3C), (3C): q | k | v
    float *attn_proj_w;       // (C, C)
    float *attn_proj_b;       // (C)
    float *ln_2_w, *ln_2_b;   // (C), (C)
    float *fc_w, *fc_b;       // (C, 4C), (4C)
    float *fc_proj_w;         // (4C, C)
    float *fc_proj_b;         // (C)
} GPT2Block;

typedef struct {
    float *wte;          // (V, C), also the tied LM head
    float *wpe;          // (n_positions, C)
    GPT2Block *blocks;   // (L)
    float *ln_f_w, *ln_f_b; // (C), (C)
} GPT2Weights;

/* Number of floats in every tensor of a config, in the canonical order
 * (wte, wpe, then per block in GPT2Block order, then ln_f). */
#define GPT2_TENSORS_PER_BLOCK 12
size_t gpt2_num_params(const GPT2Config *c);

/* The arithmetic of the matmuls (gpt2_set_precision). */
typedef enum {
    GPT2_F32,    // OpenBLAS sgemm on the f32 weights: the default, the reference-tested path
    GPT2_BF16,   // oneDNN, bf16 weights and inputs, f32 accumulation (model/bf16.c)
    GPT2_N_PRECISIONS
} GPT2Precision;
extern const char *const GPT2_PRECISION_NAMES[GPT2_N_PRECISIONS];   // "f32", "bf16"

typedef struct GPT2Bf16 GPT2Bf16;   // bf16 weights and oneDNN primitives (model/bf16.c)

typedef struct {
    GPT2Config config;
    GPT2Weights w;
    GPT2Block *blocks_storage;   // w.blocks points here
    void *map;                   // model.safetensors, mmapped read-only (or NULL)
    size_t map_size;
    float *owned;                // tensors that could not be used in place
    size_t owned_floats;         //   (F16/BF16 converted, misaligned F32)
    GPT2Precision precision;     // GPT2_F32 unless gpt2_set_precision said otherwise
    GPT2Bf16 *bf16;              // under GPT2_BF16 (owned; gpt2_free frees it)
} GPT2Model;

/* Parses DIR/config.json. Unknown keys are ignored (HF configs carry many);
 * missing or out-of-range required keys are errors. */
int gpt2_config_load(GPT2Config *c, const char *dir, Err *err);

/* Loads DIR/config.json and DIR/model.safetensors and validates the file
 * completely: header length, JSON, dtypes, offsets inside the file and not
 * overlapping, shapes against the config, missing and unexpected tensors.
 * Accepts names with or without "transformer.", ignores *.attn.bias and
 * *.attn.masked_bias buffers, accepts lm_head.weight only if it equals wte. */
int gpt2_load(GPT2Model *m, const char *dir, Err *err);
/* F32 weights of a loaded model point into a read-only map: writing through
 * them faults. To change weights, copy them into a gpt2_num_params buffer laid
 * out with gpt2_point_weights. On failure *m is left zeroed; gpt2_free accepts
 * a zeroed model, a failed load or NULL, and may be called twice. */
void gpt2_free(GPT2Model *m);

/* Sets the arithmetic of the model's matmuls (the linear layers of the blocks and the tied LM
 * head, forward and the backward's d input):
 *   GPT2_F32   OpenBLAS sgemm on the f32 weights (the default; frees what bf16 held);
 *   GPT2_BF16  oneDNN matmuls with bf16 weights and bf16-rounded inputs, accumulated in f32.
 *              The four linear weights of each block and wte are converted to bf16 now, once
 *              (2 bytes a parameter, private to the process: ~250 MB at 124M); everything
 *              else (embedding lookups, layer norms, attention, GELU, the classifier rows of
 *              the LM head, biases, activations) stays f32. Later changes to m->w are not
 *              seen until the next call. For forwards and for backwards with frozen weights
 *              (grads NULL: prompt tuning); gpt2_backward refuses weight gradients under it.
 *              Needs a CPU with avx512_bf16 or AMX, found at run time (cpuid and oneDNN's own
 *              dispatch); the error says what is missing. oneDNN runs on as many threads as
 *              OpenBLAS (OPENBLAS_NUM_THREADS). A bf16 model holds scratch buffers: one
 *              forward or backward at a time. The environment variable GPT2_BF16_DISABLE=1
 *              makes the CPU check fail (for tests: a CPU without bf16).
 * On failure the model keeps its previous precision. */
int gpt2_set_precision(GPT2Model *m, GPT2Precision p, Err *err);
/* "f32" or "bf16" into *p; -1 (with the choices in err) for anything else. */
int gpt2_precision_parse(const char *name, GPT2Precision *p, Err *err);

/* Writes DIR/config.json and DIR/model.safetensors (F32, tensor names as in
 * openai-community/gpt2: "wte.weight", "h.0.attn.c_attn.weight", ...) from a
 * config and weights. Each file is written to a temporary, fsynced and
 * renamed (weights first), so a failure never leaves a partial file; a crash
 * between the two renames leaves new weights beside the old config, which the
 * loader rejects if the shapes differ. Creates DIR if needed. */
int gpt2_save(const GPT2Config *c, const GPT2Weights *w, const char *dir, Err *err);

/* The random-init marker (issue 15): `gpt2 init` writes DIR/init.json,
 *     {"init": "random", "seed": S, "std": X, "weights_sha256": H}
 * naming the sha256 of the model.safetensors it wrote. A checkpoint is known to be
 * random-init exactly while its weights still have that digest: training in place (gpt2
 * train --out into the same directory) rewrites the weights and so retires the marker without
 * touching it, and a copy of the directory keeps it. A checkpoint without a marker (the hub's,
 * a trained one) is not known to be random. gpt2_write_init_marker hashes DIR's weights and
 * writes the marker whole; gpt2_random_init says 1 when DIR's marker says random for the
 * weights digest weights_sha256, 0 otherwise (no marker, another digest, a marker that does not
 * parse: what cannot be shown random is not called random). */
#define GPT2_INIT_MARKER "init.json"
int gpt2_write_init_marker(const char *dir, uint64_t seed, double std, Err *err);
int gpt2_random_init(const char *dir, const char weights_sha256[65]);

/* sha256 of a file as 64 lowercase hex digits (model/sha256.c, OpenSSL's libcrypto): a
 * model's identity in result records and sweep points. */
int gpt2_file_sha256(const char *path, char hex[65], Err *err);
/* sha256 of len bytes in memory, as 64 lowercase hex digits (e.g. a point id). */
void gpt2_sha256_hex(const void *data, size_t len, char hex[65]);

/* Known digests: the process that hashed a file hands the digest to another (the sweep to each
 * point's tune, which would hash the model otherwise: 0.4 s per point at 124M, 4 s at 1.5B, on
 * every rank at once), which uses it only while the file is the one that was hashed. A known line is
 *   HEX INO SIZE MTIME CTIME PATH     (MTIME, CTIME: seconds.nanoseconds)
 * the file's inode, size, mtime and ctime while it was hashed; several are separated by '\n'.
 * st_dev is not in it: the same NFS/Lustre file has another on each node. */
#define GPT2_KNOWN_SHA256_MAX 4200   // bytes of one line, its NUL included (paths up to 4 KB)
/* gpt2_file_sha256, and the file's known line in known (cap bytes), or "" when the file cannot
 * be vouched for: it changed while it was hashed, was modified less than 2 s before (coarse
 * timestamps could hide a rewrite), or its path holds a newline or does not fit. */
int gpt2_file_sha256_known(const char *path, char hex[65], char *known, size_t cap, Err *err);
/* The sha256 of path: the digest of a line of known (NULL: none) that names path (the same
 * string) with the file's present inode, size, mtime and ctime, else hashed (*hashed = 1).
 * Malformed lines name nothing. */
int gpt2_file_sha256_reuse(const char *path, const char *known, char hex[65], int *hashed, Err *err);

/* Points w (and blocks, an array of L) at consecutive tensors inside params,
 * a buffer of gpt2_num_params floats, in the canonical order. */
void gpt2_point_weights(GPT2Weights *w, GPT2Block *blocks, float *params, const GPT2Config *c);

// ----------------------------------------------------------------------------
// tokenizer: exact GPT-2 byte-level BPE

typedef struct GPT2Tokenizer GPT2Tokenizer;

/* Loads DIR/vocab.json + DIR/merges.txt, or DIR/encoder.json + DIR/vocab.bpe. */
int tokenizer_load(GPT2Tokenizer **tok, const char *dir, Err *err);
void tokenizer_free(GPT2Tokenizer *tok);
int tokenizer_vocab_size(const GPT2Tokenizer *tok);

/* Encodes len bytes of text into at most max_ids ids; *n_ids gets the count.
 * Ill-formed UTF-8 is read as U+FFFD per maximal subpart (as the WHATWG
 * decoder in JavaScript does), so such bytes do not round-trip.
 * Errors when the ids do not fit, with *n_ids set to the number needed, so a
 * caller can grow its buffer and retry. Not thread-safe (it fills a cache). */
int tokenizer_encode(GPT2Tokenizer *tok, const char *text, size_t len,
                     int *ids, int max_ids, int *n_ids, Err *err);

/* Bytes of one token (not NUL-terminated); NULL for an id out of range. */
const char *tokenizer_token_bytes(const GPT2Tokenizer *tok, int id, size_t *len);

/* Decodes ids into out (capacity cap, always NUL-terminated when cap > 0);
 * *out_len gets the number of bytes. Errors on a bad id or a short buffer
 * (then *out_len is the number of bytes needed, without the NUL). */
int tokenizer_decode(const GPT2Tokenizer *tok, const int *ids, int n,
                     char *out, size_t cap, size_t *out_len, Err *err);

/* Length (1..4) of the well-formed UTF-8 sequence at s (n >= 1 bytes left),
 * or 0 when it is ill-formed there (overlong forms, surrogates and code
 * points past U+10FFFF are ill-formed). */
size_t gpt2_utf8_len(const void *s, size_t n);

/* Id of a token given as its vocab.json string (byte-to-unicode form, e.g.
 * "\u0120great" for " great"), or -1. */
int tokenizer_lookup(const GPT2Tokenizer *tok, const char *vocab_string);

// ----------------------------------------------------------------------------
// KV cache: the keys and values of prefixes, computed once, reused by many
// continuations.

typedef struct {
    int L, NH, hs;
    int rows;        // independent prefixes
    int max_len;     // positions per row
    float *k, *v;    // (L, rows, NH, max_len, hs) each
    int *len;        // (rows) positions filled
} GPT2KVCache;

int kvcache_alloc(GPT2KVCache *kv, const GPT2Config *c, int rows, int max_len, Err *err);
void kvcache_free(GPT2KVCache *kv);
void kvcache_reset(GPT2KVCache *kv);   // every row back to length 0

// ----------------------------------------------------------------------------
// forward

/* A batch of B right-padded rows of T positions. Row b holds lens[b] real
 * positions (lens NULL: all T); positions at or past lens[b] are padding:
 * never read, never computed (the real positions are packed, gpt2_batch_pack).
 *
 * Inputs: ids (B,T); where is_embed[b*T+t] is set, embeds[(b*T+t)*C ...]
 * replaces wte[id] (a soft prompt). Position embeddings are always added.
 *
 * With prefix, row b continues cache row prefix_rows[b]: its positions start
 * at kv->len[that row] and attend to the cached keys first. Many batch rows
 * may share one cache row. With store_rows, the K/V of row b's real positions
 * are appended to cache row store_rows[b] (which may be the prefix row:
 * generation). A row may not both read and store a cache row another batch
 * row reads. */
typedef struct {
    int B, T;
    const int *ids;               // (B, T)
    const int *lens;              // (B) or NULL
    const float *embeds;          // (B, T, C) or NULL
    const unsigned char *is_embed;// (B, T) or NULL
    const GPT2KVCache *prefix;    // or NULL
    const int *prefix_rows;       // (B)
    GPT2KVCache *store;           // or NULL
    const int *store_rows;        // (B)
    const int *out_pos;           // (n_out) flat positions b*T+t whose logits are wanted
    int n_out;
    // classifier rows: logits over a few vocabulary ids only (the verbalizers),
    // without the (rows, V) LM head
    const int *label_pos;         // (n_label) flat positions b*T+t
    int n_label;
    const int *label_ids;         // (n_label_ids) vocabulary ids
    int n_label_ids;              // at most GPT2_MAX_LABEL_IDS
} GPT2Batch;

#define GPT2_MAX_LABEL_IDS 64

/* Activations, one allocation sized once for at most max_B rows, max_T
 * positions per row, max_keys keys per query (prefix + T) and max_out logit
 * rows. Forward-only activations keep one layer at a time. N is a batch's real
 * positions (packed rows; at most max_tokens).  */
typedef struct {
    int max_B, max_T, max_keys, max_out;
    int max_tokens;   // real positions of a batch in all (rows are packed)
    int C, NH, L, V, all_layers;
    float *memory;  size_t floats;
    // views into memory; (x) = per layer, times L when all_layers
    float *encoded;   // (N, C)    input to block 0
    float *ln1;       // (x) (N, C)
    float *ln1_mean, *ln1_rstd; // (x) (N)
    float *qkv;       // (x) (N, 3C)
    float *att;       // (x) (N, NH, max_keys) softmax weights
    float *atty;      // (x) (N, C)
    float *residual2; // (x) (N, C)
    float *ln2;       // (x) (N, C)
    float *ln2_mean, *ln2_rstd; // (x) (N)
    float *fch;       // (x) (N, 4C)
    float *fch_gelu;  // (x) (N, 4C)
    float *residual3; // (x) (N, C) output of each block
    float *scratch;   // (N, C)    projection outputs, consumed at once
    float *lnf;       // (N, C)    final layer norm output
    float *lnf_mean, *lnf_rstd; // (N)
    float *gathered;  // (max_out, C) lnf rows for the LM head
    float *logits;    // (max_out, V)
    float *label_gathered; // (max_out, C) lnf rows of the classifier rows
    float *label_logits;   // (max_out, GPT2_MAX_LABEL_IDS), row stride n_label_ids
    // backward scratch, allocated only with all_layers (one layer's worth, reused)
    float *dresidual; // (N, C)    d loss / d residual stream
    float *dln;       // (N, C)    d of a layer norm output (or of atty)
    float *dscratch;  // (N, C)
    float *dqkv;      // (N, 3C)
    float *datt;      // (N, NH, max_keys)
    float *dfch;      // (N, 4C)
    float *dgathered; // (max_out, C)
} GPT2Acts;

int gpt2_acts_alloc(GPT2Acts *a, const GPT2Config *c, int max_B, int max_T,
                    int max_keys, int max_out, int all_layers, Err *err);
/* The same for batches of at most max_tokens real positions in all (the sum of lens, which
 * is what a forward computes: rows are packed, padding costs nothing), max_tokens <= max_B *
 * max_T (0: max_B * max_T). A caller bounding its memory sizes its micro-batches by tokens. */
int gpt2_acts_alloc_tokens(GPT2Acts *a, const GPT2Config *c, int max_B, int max_T, int max_tokens,
                           int max_keys, int max_out, int all_layers, Err *err);
/* Bytes gpt2_acts_alloc_tokens allocates for these sizes (0 when they are bad). */
size_t gpt2_acts_bytes(const GPT2Config *c, int max_B, int max_T, int max_tokens, int max_keys,
                       int max_out, int all_layers);
void gpt2_acts_free(GPT2Acts *a);

/* Runs the batch; a->logits gets (n_out, V) rows in out_pos order,
 * a->label_logits (n_label, n_label_ids) in label_pos order, and a->lnf the
 * final hidden states of the real positions, packed (row b's at off[b] of
 * gpt2_batch_pack; b*T when no row is padded). n_out and n_label are each at
 * most max_out. */
int gpt2_forward(const GPT2Model *m, GPT2Acts *a, const GPT2Batch *batch, Err *err);

/* The checks gpt2_forward and gpt2_backward share, run first by both: the
 * batch against the model and the activations (sized for this model, room
 * for B x T and for the logit and classifier rows), ids given, row lengths
 * within T, token ids of the real positions (those not replaced by embeds)
 * within the vocabulary, label ids valid, and out_pos / label_pos on real
 * positions. Messages start with pass ("forward" or "backward"). Each pass
 * then checks what only it reads (the forward its caches and embeds). */
int gpt2_batch_check(const GPT2Model *m, const GPT2Acts *a, const GPT2Batch *batch, const char *pass,
                     Err *err);

/* The packed layout of a batch's real positions: lens (B) = bt->lens or T, off (B) their
 * prefix sum (row b's first position). Returns N, the real positions in all. */
int gpt2_batch_pack(const GPT2Batch *bt, int *lens, int *off);

/* The tied LM head alone: out (N, V) = in (N, C) wte^T (in the model's precision; under bf16 a
 * failure of oneDNN leaves NaN rows, and the next forward or backward reports it). */
void gpt2_lm_head(const GPT2Model *m, const float *in, float *out, int N);

// ----------------------------------------------------------------------------
// backward (model/gpt2_backward.c)

/* Backward of the last gpt2_forward, on the same batch, whose activations were
 * allocated with all_layers = 1 (batches with a prefix cache are not
 * supported; nor are grads under GPT2_BF16). dlogits (n_out, V) is d loss / d logits of the rows out_pos;
 * dlabel_logits (n_label, n_label_ids) that of the classifier rows label_pos
 * (each may be NULL when its row count is 0).
 * d_input (B, T, C), if not NULL, gets d loss / d the input vector of every
 * position (the embeds, or wte[id] + wpe: the same thing), overwritten.
 * grads, if not NULL, are parameter gradients laid out with
 * gpt2_point_weights over a gpt2_num_params buffer, accumulated with +=
 * (zero them before the first micro-batch). grads == NULL means frozen
 * weights: no weight-gradient GEMMs at all (prompt tuning). */
int gpt2_backward(const GPT2Model *m, GPT2Acts *a, const GPT2Batch *batch, const float *dlogits,
                  const float *dlabel_logits, float *d_input, GPT2Weights *grads, Err *err);

/* Mean next-token cross-entropy of logits (N, V) against targets (N); when
 * dlogits (N, V) is not NULL it gets scale * d mean-loss / d logits. */
float gpt2_crossentropy(const float *logits, const int *targets, int N, int V,
                        float *dlogits, float scale);

// ----------------------------------------------------------------------------
// training (model/train.c)

/* Whose arithmetic an Adam step (gpt2_adam_step) and a gradient clip
 * (gpt2_clip_grads) reproduce, to the bit. The three users follow different
 * references, which differ in precision, in where the bias corrections and
 * eps go, and in how the weight decay is applied; each keeps its own.
 *   LLMC       llm.c's AdamW (the trainer), in float: the corrections as
 *              factors, p -= lr (m^ / (sqrt(v^) + eps) + wd p) with
 *              m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); the clip's sum of
 *              squares in double, vectorised, scale max_norm / norm in float.
 *   TORCH_F32  torch.optim.AdamW (Adam when wd = 0), in float (RLPrompt):
 *              p *= 1 - lr wd, then p -= (lr / (1 - b1^t)) m /
 *              (sqrt(v) / sqrt(1 - b2^t) + eps); the clip as
 *              torch.nn.utils.clip_grad_norm_, factor max_norm / (norm + 1e-6)
 *              when below 1, in double.
 *   TORCH_F64  the same step with every element in double (the moments
 *              stored as float) (PEZ); the same clip.
 * Both: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2. */
typedef enum {
    GPT2_NUMERICS_LLMC,
    GPT2_NUMERICS_TORCH_F32,
    GPT2_NUMERICS_TORCH_F64,
} GPT2Numerics;

/* The settings of one Adam step. weight_decay is decoupled (AdamW); 0 makes
 * it plain Adam. */
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
    GPT2Numerics numerics;
} GPT2Adam;

/* One Adam step (t = 1-based step count) over n parameters; m and v (n)
 * are the moments, 0 before the first step. is_decayed (n) marks the
 * parameters that get weight decay (see gpt2_decay_mask), NULL: all. */
void gpt2_adam_step(float *params, const float *grads, float *m, float *v, size_t n,
                    const GPT2Adam *opt, int t, const unsigned char *is_decayed);

/* Global L2 norm of grads (n); when it exceeds max_norm, grads are scaled
 * down to norm max_norm, in the arithmetic of numerics (above). max_norm <= 0:
 * no clipping. Returns the norm before clipping. */
double gpt2_clip_grads(float *grads, size_t n, double max_norm, GPT2Numerics numerics);

/* Fills mask (gpt2_num_params) with 1 for parameters that get weight decay:
 * matrices and embeddings (wte, wpe, attn_w, attn_proj_w, fc_w, fc_proj_w),
 * not biases or layer norms. */
void gpt2_decay_mask(unsigned char *mask, const GPT2Config *c);

/* The trainer's optimiser: AdamW with llm.c's numerics and its schedule. */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay; // AdamW: GPT-2 style 0.9, 0.95, 1e-8, 0.1
    int warmup_steps, total_steps;             // linear warm-up, then cosine to min_lr_frac * lr
    float min_lr_frac;
} GPT2AdamW;

/* Learning rate at step (0-based) under warm-up + cosine decay. */
float gpt2_lr_at(const GPT2AdamW *opt, int step);


/* Copies the weights of a loaded model into params (gpt2_num_params floats,
 * the caller's) and points m->w at them, so that they can be trained in
 * place; gpt2_save(&m->config, &m->w, ...) then writes the trained weights. */
void gpt2_own_weights(GPT2Model *m, float *params);

/* Documents of a data file, NUL-terminated, in file order, without the
 * blanks around them; empty ones are skipped. A .tsv file (by its name) is a
 * table read by util/'s TSV reader (tsv_open, util/util.h: header, quoting,
 * CRLF, BOM); the documents are its text column, "sentence" or "text". Any
 * other file is plain text, one document per non-empty line; lines end in
 * LF or CRLF; a UTF-8 BOM is skipped. Errors (naming the file): cannot read,
 * a NUL byte, a bad header, a line with too few fields, no document at all. */
typedef struct {
    char *buf;      // the file, unquoted and split in place
    char **docs;    // (n) pointers into buf
    size_t n;
} GPT2Docs;

int gpt2_docs_load(GPT2Docs *d, const char *path, Err *err);
void gpt2_docs_free(GPT2Docs *d);

/* One token stream <|endoftext|> d0 <|endoftext|> d1 ... <|endoftext|>: each
 * document is predicted from <|endoftext|> (as gpt2 score does) and so is
 * its end. */
typedef struct {
    int *ids;       // (n)
    size_t n;
    size_t n_docs;
} GPT2Tokens;

int gpt2_tokens_encode(GPT2Tokens *s, const GPT2Docs *d, GPT2Tokenizer *tok, Err *err);
void gpt2_tokens_free(GPT2Tokens *s);

/* Next-token batches of B rows of T positions: inputs are windows of a token
 * stream, targets the tokens after them, for the n_out flat positions
 * out_pos (all B*T when training; evaluation skips targets that an earlier
 * window already scored). */
typedef struct {
    int B, T;
    int rows;        // rows filled (B, or fewer in the last evaluation batch)
    int *inputs;     // (B, T)
    int *out_pos;    // (B*T) positions b*T+t whose loss counts
    int *targets;    // (B*T) in out_pos order
    int n_out;
} GPT2LMBatch;

int gpt2_lmbatch_alloc(GPT2LMBatch *b, int B, int T, Err *err);
void gpt2_lmbatch_free(GPT2LMBatch *b);

/* B windows of T+1 tokens at uniformly random offsets; *rng is a splitmix64
 * state that advances. Requires s->n > T. */
void gpt2_lmbatch_sample(GPT2LMBatch *b, const GPT2Tokens *s, uint64_t *rng);


/* The evaluation windows of a stream for T: windows at offsets 0, T, 2T, ...
 * and one ending at the stream's end, so that every target is scored exactly
 * once. Requires s->n > T. With max_windows (0 = all) below their number, a
 * fixed, evenly spread subset. */
size_t gpt2_eval_windows(const GPT2Tokens *s, int T, size_t max_windows);

/* Mean next-token loss (nats per target) over the evaluation windows, in
 * batches of b->B rows through a (sized for b->B x b->T with b->B*b->T logit
 * rows); *n_targets gets the number of targets scored. */
int gpt2_eval_loss(const GPT2Model *m, GPT2Acts *a, GPT2LMBatch *b, const GPT2Tokens *s,
                   size_t max_windows, double *loss, size_t *n_targets, Err *err);

#endif
