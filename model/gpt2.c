/*
 * model/gpt2.c: the GPT-2 forward pass on the CPU.
 *
 * Layer functions in the llm.c style: outputs first, then inputs, weights and
 * dims, every tensor's shape in a comment. The linear layers and the LM head
 * run on cblas_sgemm; the rest are plain loops written so that gcc vectorises
 * them (-O3 -march=native, `omp simd` reductions without the OpenMP runtime).
 *
 * Batches come right-padded, row b with lens[b] real positions, and are
 * computed packed: the N = sum(lens) real positions, row b's at off[b] .. +
 * lens[b] (off the prefix sum of lens), so every layer is a plain (N, C)
 * matrix for sgemm and padding costs nothing (on 16-shot SST-2 about half of
 * a right-padded batch was padding). Attention is causal, so a row's real
 * positions never depended on its padding anyway.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/bf16_internal.h"
#include "model/gpt2.h"

// ----------------------------------------------------------------------------
// layers

/* out (N,C), packed (row b at off[b]) = wte[ids] or embeds, plus wpe[pos0[b] + t], for the
 * real positions t < lens[b] of each row. ids (B,T), embeds (B,T,C) used where is_embed (B,T)
 * is set; lens, off, pos0 (B). */
static void encoder_forward(float *out, const int *ids, const float *embeds,
                            const unsigned char *is_embed, const int *lens, const int *off,
                            const int *pos0, const float *wte, const float *wpe, int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < lens[b]; t++) {
            size_t bt = (size_t)b * T + t;
            float *o = out + ((size_t)off[b] + t) * C;
            const float *wp = wpe + (size_t)(pos0[b] + t) * C;
            const float *src = (is_embed && is_embed[bt]) ? embeds + bt * C : wte + (size_t)ids[bt] * C;
            for (int i = 0; i < C; i++) o[i] = src[i] + wp[i];
        }
    }
}

/* out (N,C) = (inp - mean) * rstd * weight + bias, per row.
 * inp (N,C), weight (C), bias (C); mean, rstd (N) are kept for the backward. */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float m = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + eps);
        float *o = out + (size_t)n * C;
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * weight[i] + bias[i];
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = s;
    }
}

/* out (N,OC) = inp (N,C) weight (C,OC) + bias (OC): the HF Conv1D layout. In m's precision
 * (bf16: its copy of weight, model/bf16.c; a failure is reported at the end of the pass). */
static void matmul_forward(const GPT2Model *m, float *out, const float *inp, const float *weight,
                           const float *bias, int N, int C, int OC) {
    if (m->bf16) {
        gpt2_bf16_matmul(m->bf16, out, inp, weight, bias, N, C, OC, 0);
        return;
    }
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, bias, (size_t)OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C,
                1.0f, inp, C, weight, OC, 1.0f, out, OC);
}

/* Causal self-attention of the new positions over [cached prefix | new keys], packed rows.
 * out (N,C), att (N,NH,K) softmax weights, qkv (N,3C) = q | k | v; row b's lens[b] positions
 * start at off[b]. Row b has plen[b] cached keys/values at pk[b], pv[b], each
 * (NH, kv_stride, hs) (NULL when plen[b] == 0); query t sees those and new keys 0..t. */
static void attention_forward(float *out, float *att, const float *qkv,
                              const float *const *pk, const float *const *pv, const int *plen,
                              size_t kv_stride, const int *lens, const int *off, int B, int C,
                              int NH, int K) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    size_t C3 = (size_t)3 * C;
    for (int b = 0; b < B; b++) {
        int P = plen[b];
        const float *row = qkv + (size_t)off[b] * C3; // position t of row b at row + t * C3
        for (int h = 0; h < NH; h++) {
            const float *ck = P ? pk[b] + (size_t)h * kv_stride * hs : NULL;
            const float *cv = P ? pv[b] + (size_t)h * kv_stride * hs : NULL;
            for (int t = 0; t < lens[b]; t++) {
                const float *q = row + (size_t)t * C3 + h * hs;
                float *a = att + (((size_t)off[b] + t) * NH + h) * K;
                int nk = P + t + 1;
                float maxv = -INFINITY;
                for (int j = 0; j < nk; j++) {
                    const float *k = j < P ? ck + (size_t)j * hs : row + (size_t)(j - P) * C3 + C + h * hs;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < hs; i++) s += q[i] * k[i];
                    s *= scale;
                    a[j] = s;
                    if (s > maxv) maxv = s;
                }
                float sum = 0.0f;
                for (int j = 0; j < nk; j++) {
                    a[j] = expf(a[j] - maxv);
                    sum += a[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j < nk; j++) a[j] *= inv;
                float *o = out + ((size_t)off[b] + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int j = 0; j < nk; j++) {
                    const float *v = j < P ? cv + (size_t)j * hs : row + (size_t)(j - P) * C3 + 2 * C + h * hs;
                    float w = a[j];
#pragma omp simd
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        }
    }
}

/* GPT-2's gelu_new, 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
 * computed as the identical x / (1 + e^(-2u)): no cancellation for negative x
 * (more accurate than tanhf there) and ~40x faster, being vectorised.
 * out, inp (N). */
static void gelu_forward(float *out, const float *inp, size_t N) {
    const float s = 0.7978845608028654f; // sqrt(2/pi)
#pragma omp simd
    for (size_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = s * (x + 0.044715f * x * x * x);
        out[i] = x / (1.0f + gpt2_expf(-2.0f * u));
    }
}

/* out = a + b, all (N). */
static void residual_forward(float *out, const float *a, const float *b, size_t N) {
    for (size_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

/* The LM head restricted to K vocabulary ids: out (N,K) = in (N,C) wte[ids]^T.
 * ids (K). A classifier reads a few verbalizer logits; this skips the other
 * 50k columns of the (N, V) product. */
static void label_head_forward(float *out, const float *in, const float *wte, const int *ids,
                               int N, int K, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        for (int k = 0; k < K; k++) {
            const float *w = wte + (size_t)ids[k] * C;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int i = 0; i < C; i++) s += x[i] * w[i];
            out[(size_t)n * K + k] = s;
        }
    }
}

void gpt2_lm_head(const GPT2Model *m, const float *in, float *out, int N) {
    // out (N,V) = in (N,C) wte (V,C)^T
    int C = m->config.n_embd, V = m->config.vocab_size;
    if (N <= 0) return;
    if (m->bf16) {
        gpt2_bf16_matmul(m->bf16, out, in, m->w.wte, NULL, N, C, V, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, V, C,
                1.0f, in, C, m->w.wte, C, 0.0f, out, V);
}

// ----------------------------------------------------------------------------
// KV cache

int kvcache_alloc(GPT2KVCache *kv, const GPT2Config *c, int rows, int max_len, Err *err) {
    memset(kv, 0, sizeof *kv);
    if (rows <= 0 || max_len <= 0 || max_len > c->n_positions)
        return err_fail(err, "kv cache: bad size (%d rows of %d positions, model context %d)",
                         rows, max_len, c->n_positions);
    kv->L = c->n_layer; kv->NH = c->n_head; kv->hs = c->n_embd / c->n_head;
    kv->rows = rows; kv->max_len = max_len;
    size_t n = (size_t)kv->L * rows * kv->NH * max_len * kv->hs;
    // one allocation: k, v, then the row lengths
    char *mem = malloc(2 * n * sizeof(float) + (size_t)rows * sizeof(int));
    if (!mem) return err_fail(err, "kv cache: out of memory (%zu MB)", 2 * n * sizeof(float) >> 20);
    kv->k = (float *)mem;
    kv->v = kv->k + n;
    kv->len = (int *)(kv->v + n);
    kvcache_reset(kv);
    return 0;
}

void kvcache_reset(GPT2KVCache *kv) {
    for (int r = 0; r < kv->rows; r++) kv->len[r] = 0;
}

void kvcache_free(GPT2KVCache *kv) {
    free(kv->k);
    memset(kv, 0, sizeof *kv);
}

/* Start of (layer l, row r, head 0, position 0) in k or v: (NH, max_len, hs) follows. */
static size_t kv_offset(const GPT2KVCache *kv, int l, int r) {
    return (((size_t)l * kv->rows + r) * kv->NH) * kv->max_len * kv->hs;
}

/* Appends the keys and values of n positions starting at packed position p0 of qkv (N,3C)
 * to cache row r after its first base positions. */
static void kv_store(GPT2KVCache *kv, int l, int r, int base, const float *qkv, int p0, int n, int C) {
    int hs = kv->hs;
    size_t off = kv_offset(kv, l, r);
    for (int h = 0; h < kv->NH; h++) {
        for (int t = 0; t < n; t++) {
            const float *src = qkv + ((size_t)p0 + t) * 3 * C + h * hs;
            size_t dst = off + ((size_t)h * kv->max_len + base + t) * hs;
            memcpy(kv->k + dst, src + C, hs * sizeof(float));
            memcpy(kv->v + dst, src + 2 * C, hs * sizeof(float));
        }
    }
}

// ----------------------------------------------------------------------------
// activations

/* The arena's views in order, with their sizes in floats (per-token buffers by max_tokens:
 * rows are packed). Returns the number of views; view may be NULL (sizes only). */
static size_t acts_layout(GPT2Acts *a, float ***view, size_t *size) {
    size_t N = (size_t)a->max_tokens, C = a->C, NL = a->all_layers ? (size_t)a->L : 1;
    size_t att = N * a->NH * a->max_keys, out = a->max_out, bw = a->all_layers;
    float **v[] = {&a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->att,
                   &a->atty, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch,
                   &a->fch_gelu, &a->residual3, &a->scratch, &a->lnf, &a->lnf_mean, &a->lnf_rstd,
                   &a->gathered, &a->logits, &a->label_gathered, &a->label_logits, &a->dresidual,
                   &a->dln, &a->dscratch, &a->dqkv, &a->datt, &a->dfch, &a->dgathered};
    size_t sz[] = {N * C, NL * N * C, NL * N, NL * N, NL * N * 3 * C, NL * att,
                   NL * N * C, NL * N * C, NL * N * C, NL * N, NL * N, NL * N * 4 * C,
                   NL * N * 4 * C, NL * N * C, N * C, N * C, N, N,
                   out * C, out * a->V, out * C, out * GPT2_MAX_LABEL_IDS,
                   // backward scratch: only when every layer is kept
                   bw * N * C, bw * N * C, bw * N * C, bw * N * 3 * C, bw * att, bw * N * 4 * C,
                   bw * out * C};
    _Static_assert(sizeof v / sizeof v[0] == sizeof sz / sizeof sz[0], "one size per view");
    size_t n = sizeof sz / sizeof sz[0];
    for (size_t i = 0; i < n; i++) {
        if (view) view[i] = v[i];
        size[i] = sz[i];
    }
    return n;
}

enum { ACTS_VIEWS = 29 };

static int acts_dims(GPT2Acts *a, const GPT2Config *c, int max_B, int max_T, int max_tokens,
                     int max_keys, int max_out, int all_layers, Err *err) {
    memset(a, 0, sizeof *a);
    if (max_tokens == 0) max_tokens = max_B > 0 && max_T > 0 ? max_B * max_T : 0;
    if (max_B <= 0 || max_T <= 0 || max_out < 0 || max_keys < max_T || max_keys > c->n_positions ||
        max_tokens <= 0 || max_tokens > max_B * max_T)
        return err_fail(err, "activations: bad size (B %d, T %d, tokens %d, keys %d, out %d; context %d)",
                         max_B, max_T, max_tokens, max_keys, max_out, c->n_positions);
    a->max_B = max_B; a->max_T = max_T; a->max_tokens = max_tokens;
    a->max_keys = max_keys; a->max_out = max_out;
    a->C = c->n_embd; a->NH = c->n_head; a->L = c->n_layer; a->V = c->vocab_size;
    a->all_layers = all_layers;
    return 0;
}

size_t gpt2_acts_bytes(const GPT2Config *c, int max_B, int max_T, int max_tokens, int max_keys,
                       int max_out, int all_layers) {
    GPT2Acts a;
    if (acts_dims(&a, c, max_B, max_T, max_tokens, max_keys, max_out, all_layers, NULL)) return 0;
    size_t size[ACTS_VIEWS], total = 0;
    size_t n = acts_layout(&a, NULL, size);
    for (size_t i = 0; i < n; i++) total += size[i];
    return total * sizeof(float);
}

int gpt2_acts_alloc_tokens(GPT2Acts *a, const GPT2Config *c, int max_B, int max_T, int max_tokens,
                           int max_keys, int max_out, int all_layers, Err *err) {
    if (acts_dims(a, c, max_B, max_T, max_tokens, max_keys, max_out, all_layers, err)) return -1;
    float **view[ACTS_VIEWS];
    size_t size[ACTS_VIEWS], total = 0;
    size_t n = acts_layout(a, view, size);
    for (size_t i = 0; i < n; i++) total += size[i];
    a->memory = malloc(total * sizeof(float));
    if (!a->memory)
        return err_fail(err, "activations: out of memory (%zu MB for B %d, T %d, %d tokens)",
                         total * sizeof(float) >> 20, max_B, max_T, a->max_tokens);
    a->floats = total;
    float *p = a->memory;
    for (size_t i = 0; i < n; i++) { *view[i] = size[i] ? p : NULL; p += size[i]; }
    return 0;
}

int gpt2_acts_alloc(GPT2Acts *a, const GPT2Config *c, int max_B, int max_T,
                    int max_keys, int max_out, int all_layers, Err *err) {
    return gpt2_acts_alloc_tokens(a, c, max_B, max_T, 0, max_keys, max_out, all_layers, err);
}

void gpt2_acts_free(GPT2Acts *a) {
    free(a->memory);
    memset(a, 0, sizeof *a);
}

// ----------------------------------------------------------------------------
// forward

/* Every position must be a real (not padding) position of the batch. */
static int positions_check(const GPT2Batch *bt, const int *pos, int n, const char *what, const char *pass,
                           Err *err) {
    for (int i = 0; i < n; i++) {
        int p = pos[i];
        if (p < 0 || p >= bt->B * bt->T) return err_fail(err, "%s: %s %d out of range", pass, what, p);
        int b = p / bt->T, len = bt->lens ? bt->lens[b] : bt->T;
        if (p % bt->T >= len) return err_fail(err, "%s: %s %d is padding", pass, what, p);
    }
    return 0;
}

int gpt2_batch_check(const GPT2Model *m, const GPT2Acts *a, const GPT2Batch *bt, const char *pass, Err *err) {
    const GPT2Config *c = &m->config;
    if (a->C != c->n_embd || a->L != c->n_layer || a->V != c->vocab_size || a->NH != c->n_head)
        return err_fail(err, "%s: activations were sized for another model", pass);
    if (bt->B <= 0 || bt->T <= 0 || bt->B > a->max_B || bt->T > a->max_T)
        return err_fail(err, "%s: batch %dx%d does not fit activations %dx%d", pass,
                         bt->B, bt->T, a->max_B, a->max_T);
    if (bt->n_out < 0 || bt->n_out > a->max_out || (bt->n_out && !bt->out_pos))
        return err_fail(err, "%s: %d logit rows asked, room for %d", pass, bt->n_out, a->max_out);
    if (!bt->ids) return err_fail(err, "%s: no ids", pass);
    long tokens = 0;
    for (int b = 0; b < bt->B; b++) {
        int len = bt->lens ? bt->lens[b] : bt->T;
        if (len < 0 || len > bt->T) return err_fail(err, "%s: row %d has length %d of %d", pass, b, len, bt->T);
        tokens += len;
        if (tokens > a->max_tokens)
            return err_fail(err, "%s: batch has more than the %d real positions the activations hold",
                            pass, a->max_tokens);
        for (int t = 0; t < len; t++) {
            size_t i = (size_t)b * bt->T + t;
            if (bt->is_embed && bt->is_embed[i]) continue;
            if (bt->ids[i] < 0 || bt->ids[i] >= c->vocab_size)
                return err_fail(err, "%s: token id %d at row %d position %d is out of range", pass,
                                 bt->ids[i], b, t);
        }
    }
    if (positions_check(bt, bt->out_pos, bt->n_out, "out_pos", pass, err)) return -1;
    if (bt->n_label < 0 || bt->n_label > a->max_out || (bt->n_label && (!bt->label_pos || !bt->label_ids)))
        return err_fail(err, "%s: %d classifier rows asked, room for %d", pass, bt->n_label, a->max_out);
    if (bt->n_label && (bt->n_label_ids <= 0 || bt->n_label_ids > GPT2_MAX_LABEL_IDS))
        return err_fail(err, "%s: %d label ids, expected 1..%d", pass, bt->n_label_ids, GPT2_MAX_LABEL_IDS);
    for (int k = 0; bt->n_label && k < bt->n_label_ids; k++)
        if (bt->label_ids[k] < 0 || bt->label_ids[k] >= c->vocab_size)
            return err_fail(err, "%s: label id %d out of range", pass, bt->label_ids[k]);
    return positions_check(bt, bt->label_pos, bt->n_label, "label_pos", pass, err);
}

/* What only a forward reads, beyond gpt2_batch_check: the embeddings of soft
 * prompts and the KV caches (matching the model, rows in range, keys within
 * the activations, positions within the context, room to store, no cache row
 * stored by two batch rows). */
static int forward_check(const GPT2Model *m, const GPT2Acts *a, const GPT2Batch *bt, Err *err) {
    const GPT2Config *c = &m->config;
    if (bt->is_embed && !bt->embeds) return err_fail(err, "forward: is_embed without embeds");
    if (bt->prefix && (!bt->prefix_rows || bt->prefix->L != c->n_layer ||
                       bt->prefix->NH != c->n_head))
        return err_fail(err, "forward: prefix cache does not match the model");
    if (bt->store && (!bt->store_rows || bt->store->L != c->n_layer || bt->store->NH != c->n_head))
        return err_fail(err, "forward: store cache does not match the model");
    for (int b = 0; b < bt->B; b++) {
        int len = bt->lens ? bt->lens[b] : bt->T;
        int P = 0;
        if (bt->prefix) {
            int r = bt->prefix_rows[b];
            if (r < 0 || r >= bt->prefix->rows) return err_fail(err, "forward: row %d: prefix row %d out of range", b, r);
            P = bt->prefix->len[r];
        }
        if (P + bt->T > a->max_keys)
            return err_fail(err, "forward: row %d: %d cached + %d new keys exceed %d", b, P, bt->T, a->max_keys);
        if (P + len > c->n_positions)
            return err_fail(err, "forward: row %d reaches position %d, context is %d", b, P + len, c->n_positions);
        if (bt->store) {
            int r = bt->store_rows[b];
            if (r < 0 || r >= bt->store->rows) return err_fail(err, "forward: row %d: store row %d out of range", b, r);
            if (bt->store->len[r] + len > bt->store->max_len)
                return err_fail(err, "forward: cache row %d is full (%d + %d > %d)", r,
                                 bt->store->len[r], len, bt->store->max_len);
            for (int b2 = 0; b2 < b; b2++)
                if (bt->store_rows[b2] == r) return err_fail(err, "forward: rows %d and %d both store into cache row %d", b2, b, r);
        }
    }
    return 0;
}

int gpt2_batch_pack(const GPT2Batch *bt, int *lens, int *off) {
    int n = 0;
    for (int b = 0; b < bt->B; b++) {
        lens[b] = bt->lens ? bt->lens[b] : bt->T;
        off[b] = n;
        n += lens[b];
    }
    return n;
}

int gpt2_forward(const GPT2Model *m, GPT2Acts *a, const GPT2Batch *bt, Err *err) {
    if (gpt2_batch_check(m, a, bt, "forward", err) || forward_check(m, a, bt, err)) return -1;
    const GPT2Config *c = &m->config;
    int B = bt->B, T = bt->T, C = c->n_embd, NH = c->n_head, L = c->n_layer;
    int K = a->max_keys;
    // per-row bookkeeping on the stack: small (B is at most a few thousand)
    int lens[B], off[B], pos0[B], plen[B], base[B];
    const float *pk[B], *pv[B];
    size_t N = (size_t)gpt2_batch_pack(bt, lens, off); // real positions, packed
    for (int b = 0; b < B; b++) {
        plen[b] = bt->prefix ? bt->prefix->len[bt->prefix_rows[b]] : 0;
        pos0[b] = plen[b];
        base[b] = bt->store ? bt->store->len[bt->store_rows[b]] : 0;
    }
    encoder_forward(a->encoded, bt->ids, bt->embeds, bt->is_embed, lens, off, pos0,
                    m->w.wte, m->w.wpe, B, T, C);

    // per-layer slices advance only when every layer is kept (for a backward)
    size_t step = a->all_layers ? 1 : 0;
    const float *residual = a->encoded;
    for (int l = 0; l < L; l++) {
        const GPT2Block *w = &m->w.blocks[l];
        size_t s = step * l;
        float *ln1 = a->ln1 + s * N * C, *qkv = a->qkv + s * N * 3 * C;
        float *att = a->att + s * N * NH * K, *atty = a->atty + s * N * C;
        float *res2 = a->residual2 + s * N * C, *ln2 = a->ln2 + s * N * C;
        float *fch = a->fch + s * N * 4 * C, *fch_gelu = a->fch_gelu + s * N * 4 * C;
        float *res3 = a->residual3 + s * N * C;

        layernorm_forward(ln1, a->ln1_mean + s * N, a->ln1_rstd + s * N, residual,
                          w->ln_1_w, w->ln_1_b, (int)N, C, c->layer_norm_epsilon);
        matmul_forward(m, qkv, ln1, w->attn_w, w->attn_b, (int)N, C, 3 * C);
        if (bt->prefix)
            for (int b = 0; b < B; b++) {
                size_t at = kv_offset(bt->prefix, l, bt->prefix_rows[b]);
                pk[b] = bt->prefix->k + at;
                pv[b] = bt->prefix->v + at;
            }
        attention_forward(atty, att, qkv, pk, pv, plen, bt->prefix ? (size_t)bt->prefix->max_len : 0,
                          lens, off, B, C, NH, K);
        if (bt->store)
            for (int b = 0; b < B; b++)
                kv_store(bt->store, l, bt->store_rows[b], base[b], qkv, off[b], lens[b], C);
        matmul_forward(m, a->scratch, atty, w->attn_proj_w, w->attn_proj_b, (int)N, C, C);
        residual_forward(res2, residual, a->scratch, N * C);
        layernorm_forward(ln2, a->ln2_mean + s * N, a->ln2_rstd + s * N, res2,
                          w->ln_2_w, w->ln_2_b, (int)N, C, c->layer_norm_epsilon);
        matmul_forward(m, fch, ln2, w->fc_w, w->fc_b, (int)N, C, 4 * C);
        gelu_forward(fch_gelu, fch, N * 4 * C);
        matmul_forward(m, a->scratch, fch_gelu, w->fc_proj_w, w->fc_proj_b, (int)N, 4 * C, C);
        residual_forward(res3, res2, a->scratch, N * C);
        residual = res3;
    }
    if (bt->store)
        for (int b = 0; b < B; b++) bt->store->len[bt->store_rows[b]] += lens[b];

    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, residual, m->w.ln_f_w, m->w.ln_f_b,
                      (int)N, C, c->layer_norm_epsilon);
    for (int i = 0; i < bt->n_out; i++) {
        int p = bt->out_pos[i];
        memcpy(a->gathered + (size_t)i * C, a->lnf + ((size_t)off[p / T] + p % T) * C, C * sizeof(float));
    }
    gpt2_lm_head(m, a->gathered, a->logits, bt->n_out);
    for (int i = 0; i < bt->n_label; i++) {
        int p = bt->label_pos[i];
        memcpy(a->label_gathered + (size_t)i * C, a->lnf + ((size_t)off[p / T] + p % T) * C, C * sizeof(float));
    }
    label_head_forward(a->label_logits, a->label_gathered, m->w.wte, bt->label_ids,
                       bt->n_label, bt->n_label_ids, C);
    return gpt2_bf16_error(m->bf16, "forward", err);
}
