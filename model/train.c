/*
 * model/train.c: what training GPT-2 needs besides the backward pass.
 *
 * - The learning-rate schedule (linear warm-up, then cosine decay) and the
 *   one Adam step and gradient-norm clip of the project: the trainer's
 *   (llm.c's AdamW, decay on matrices and embeddings only) and the tuners'
 *   (torch's Adam and AdamW), each in the arithmetic of its reference.
 * - Trainable weights: a loaded model's tensors point into a read-only map,
 *   so they are copied into one mutable buffer.
 * - Data: documents from a TSV column (util/'s reader) or a text file, one
 *   token stream with <|endoftext|> between documents, random training
 *   windows and a fixed, deterministic set of evaluation windows.
 *
 * The training loop itself is `gpt2 train` (model/gpt2_cli_train.c). As in the rest
 * of model/, errors return -1 with a one-line message; nothing here prints.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/gpt2.h"

// ----------------------------------------------------------------------------
// learning-rate schedule, Adam and gradient clipping

float gpt2_lr_at(const GPT2AdamW *opt, int step) {
    int W = opt->warmup_steps, N = opt->total_steps;
    // warm-up: step 0 gets lr/W, step W-1 the full lr
    if (step < W) return opt->lr * (float)(step + 1) / (float)W;
    float min_lr = opt->min_lr_frac * opt->lr;
    if (N <= W) return opt->lr;   // no room for a decay
    double progress = (double)(step - W) / (double)(N - W);
    if (progress > 1.0) progress = 1.0;   // past the end: stay at the floor
    double cosine = 0.5 * (1.0 + cos(M_PI * progress));   // 1 -> 0
    return (float)(min_lr + cosine * (opt->lr - min_lr));
}

/* One element of llm.c's AdamW, inlined into the loops below so that each of
 * them vectorises (the decay factor is a loop invariant or a 0/1 byte). */
static inline void adamw_update(float *p, float g, float *m, float *v, float b1, float b2,
                                float m_corr, float v_corr, float eps, float lr, float decay) {
    float mi = b1 * *m + (1.0f - b1) * g;
    float vi = b2 * *v + (1.0f - b2) * g * g;
    *m = mi;
    *v = vi;
    float m_hat = mi * m_corr, v_hat = vi * v_corr;
    // decoupled weight decay (Loshchilov & Hutter): lr * wd * param, not in the moments
    *p -= lr * (m_hat / (sqrtf(v_hat) + eps) + decay * *p);
}

static void adam_step_llmc(float *params, const float *grads, float *m, float *v, size_t n,
                           const GPT2Adam *opt, int t, const unsigned char *is_decayed) {
    const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, eps = (float)opt->eps;
    const float wd = (float)opt->weight_decay, lr = (float)opt->lr;
    // bias corrections 1 / (1 - beta^t): the moments start at 0
    const float m_corr = (float)(1.0 / (1.0 - pow(b1, t)));
    const float v_corr = (float)(1.0 / (1.0 - pow(b2, t)));
    if (!is_decayed) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            adamw_update(&params[i], grads[i], &m[i], &v[i], b1, b2, m_corr, v_corr, eps, lr, wd);
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            adamw_update(&params[i], grads[i], &m[i], &v[i], b1, b2, m_corr, v_corr, eps, lr,
                         wd * (float)is_decayed[i]);
    }
}

/* torch's single-tensor AdamW: the decay multiplies the parameter first. */
static void adam_step_torch_f32(float *params, const float *grads, float *m, float *v, size_t n,
                                const GPT2Adam *opt, int t, const unsigned char *is_decayed) {
    double bc1 = 1.0 - pow(opt->beta1, t), bc2 = 1.0 - pow(opt->beta2, t);
    const float b1 = (float)opt->beta1, b2 = (float)opt->beta2, eps = (float)opt->eps;
    const float step = (float)(opt->lr / bc1), sqrt_bc2 = (float)sqrt(bc2);
    const float decay = (float)(1.0 - opt->lr * opt->weight_decay);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i], keep = is_decayed && !is_decayed[i] ? 1.0f : decay;
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        params[i] = params[i] * keep - step * m[i] / (sqrtf(v[i]) / sqrt_bc2 + eps);
    }
}

static void adam_step_torch_f64(float *params, const float *grads, float *m, float *v, size_t n,
                                const GPT2Adam *opt, int t, const unsigned char *is_decayed) {
    const double b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    double bc1 = 1.0 - pow(b1, t), bc2 = 1.0 - pow(b2, t);
    double step = opt->lr / bc1, sqrt_bc2 = sqrt(bc2), decay = 1.0 - opt->lr * opt->weight_decay;
    for (size_t i = 0; i < n; i++) {
        double x = (double)params[i] * (is_decayed && !is_decayed[i] ? 1.0 : decay);
        m[i] = (float)(b1 * m[i] + (1.0 - b1) * grads[i]);
        v[i] = (float)(b2 * v[i] + (1.0 - b2) * (double)grads[i] * grads[i]);
        params[i] = (float)(x - step * m[i] / (sqrt((double)v[i]) / sqrt_bc2 + eps));
    }
}

void gpt2_adam_step(float *params, const float *grads, float *m, float *v, size_t n,
                    const GPT2Adam *opt, int t, const unsigned char *is_decayed) {
    switch (opt->numerics) {
    case GPT2_NUMERICS_LLMC: adam_step_llmc(params, grads, m, v, n, opt, t, is_decayed); break;
    case GPT2_NUMERICS_TORCH_F32: adam_step_torch_f32(params, grads, m, v, n, opt, t, is_decayed); break;
    case GPT2_NUMERICS_TORCH_F64: adam_step_torch_f64(params, grads, m, v, n, opt, t, is_decayed); break;
    }
}

double gpt2_clip_grads(float *grads, size_t n, double max_norm, GPT2Numerics numerics) {
    int llmc = numerics == GPT2_NUMERICS_LLMC;
    double sum = 0.0;
    if (llmc) {   // millions of squares: vectorised, still in double
#pragma omp simd reduction(+ : sum)
        for (size_t i = 0; i < n; i++) sum += (double)grads[i] * grads[i];
    } else {      // in order
        for (size_t i = 0; i < n; i++) sum += (double)grads[i] * grads[i];
    }
    double norm = sqrt(sum);
    if (!(max_norm > 0.0)) return norm;
    if (llmc) {
        float norm_f = (float)norm, max_f = (float)max_norm;
        if (norm_f > max_f) {
            float scale = max_f / norm_f;
            for (size_t i = 0; i < n; i++) grads[i] *= scale;
        }
    } else {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (size_t i = 0; i < n; i++) grads[i] = (float)(grads[i] * coef);
    }
    return norm;
}

// ----------------------------------------------------------------------------
// parameters: the tensors in the canonical order (gpt2_point_weights')

/* The tensors of w in the canonical order: their pointers (if ptr is not
 * NULL), sizes and whether they get weight decay. w may be NULL when only
 * sizes are wanted. Returns the count, 4 + 12 L. */
static size_t canonical_tensors(const GPT2Weights *w, const GPT2Config *c, float **ptr,
                                size_t *numel, unsigned char *decayed) {
    size_t C = (size_t)c->n_embd, k = 0;
#define TENSOR(field, n, decay)                         \
    do {                                                \
        if (ptr) ptr[k] = w ? (field) : NULL;           \
        numel[k] = (n);                                 \
        decayed[k] = (decay);                           \
        k++;                                            \
    } while (0)
    TENSOR(w->wte, (size_t)c->vocab_size * C, 1);
    TENSOR(w->wpe, (size_t)c->n_positions * C, 1);
    for (int l = 0; l < c->n_layer; l++) {
        const GPT2Block *b = w ? &w->blocks[l] : NULL;
        // matrices decay; biases and layer norms do not (GPT-2 / nanoGPT)
        TENSOR(b->ln_1_w, C, 0);
        TENSOR(b->ln_1_b, C, 0);
        TENSOR(b->attn_w, C * 3 * C, 1);
        TENSOR(b->attn_b, 3 * C, 0);
        TENSOR(b->attn_proj_w, C * C, 1);
        TENSOR(b->attn_proj_b, C, 0);
        TENSOR(b->ln_2_w, C, 0);
        TENSOR(b->ln_2_b, C, 0);
        TENSOR(b->fc_w, C * 4 * C, 1);
        TENSOR(b->fc_b, 4 * C, 0);
        TENSOR(b->fc_proj_w, 4 * C * C, 1);
        TENSOR(b->fc_proj_b, C, 0);
    }
    TENSOR(w->ln_f_w, C, 0);
    TENSOR(w->ln_f_b, C, 0);
#undef TENSOR
    return k;
}

static size_t max_tensors(const GPT2Config *c) { return 4 + (size_t)GPT2_TENSORS_PER_BLOCK * c->n_layer; }

void gpt2_decay_mask(unsigned char *mask, const GPT2Config *c) {
    size_t count = max_tensors(c);
    size_t numel[count];
    unsigned char decayed[count];
    canonical_tensors(NULL, c, NULL, numel, decayed);
    for (size_t t = 0; t < count; t++) {
        memset(mask, decayed[t], numel[t]);
        mask += numel[t];
    }
}

void gpt2_own_weights(GPT2Model *m, float *params) {
    const GPT2Config *c = &m->config;
    size_t count = max_tensors(c);
    float *src[count];
    size_t numel[count];
    unsigned char decayed[count];
    canonical_tensors(&m->w, c, src, numel, decayed);
    float *dst = params;
    for (size_t t = 0; t < count; t++) {
        memcpy(dst, src[t], numel[t] * sizeof(float));
        dst += numel[t];
    }
    // the map (or owned copy) stays until gpt2_free; nothing points into it now
    gpt2_point_weights(&m->w, m->blocks_storage, params, c);
}

// ----------------------------------------------------------------------------
// documents: a TSV column or the lines of a text file

/* Cuts buf into lines in place: each line's end (LF, or CR LF) becomes NUL.
 * Returns the start of the next line, or NULL at the end. */
static char *next_line(char **cursor) {
    char *line = *cursor;
    if (!line || !*line) return NULL;
    char *nl = strchr(line, '\n');
    char *end = nl ? nl : line + strlen(line);
    if (end > line && end[-1] == '\r') end[-1] = '\0';
    *end = '\0';
    *cursor = nl ? nl + 1 : NULL;
    return line;
}

/* A document without the blanks around it: SST-2's sentences end in a space,
 * which would otherwise become a token before every <|endoftext|>. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' || s[n - 1] == '\f'))
        n--;
    s[n] = '\0';
    return s;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The documents of a TSV file in d->buf (len bytes): its text column (util/tsv.c). */
static int tsv_docs(GPT2Docs *d, size_t len, const char *path, Err *err) {
    TsvReader tsv;
    if (tsv_open(&tsv, d->buf, len, path, err)) return -1;
    int rc;
    while ((rc = tsv_next_row(&tsv, err)) == 1) {
        char *text = trim(tsv.fields[tsv.text_col]);
        if (*text) d->docs[d->n++] = text;
    }
    tsv_close(&tsv);
    return rc;
}

/* The documents of a text file in d->buf: its lines. */
static int text_docs(GPT2Docs *d) {
    char *cursor = d->buf, *line;
    if (strncmp(cursor, "\xEF\xBB\xBF", 3) == 0) cursor += 3;   // UTF-8 BOM
    while ((line = next_line(&cursor))) {
        char *text = trim(line);
        if (*text) d->docs[d->n++] = text;
    }
    return 0;
}

void gpt2_docs_free(GPT2Docs *d) {
    if (!d) return;
    free(d->buf);
    free(d->docs);
    memset(d, 0, sizeof *d);
}

int gpt2_docs_load(GPT2Docs *d, const char *path, Err *err) {
    memset(d, 0, sizeof *d);
    size_t len = 0;
    if (util_read_file(path, &d->buf, &len, err)) return -1;
    if (memchr(d->buf, '\0', len)) {
        gpt2_docs_free(d);
        return err_fail(err, "%s: holds a NUL byte: not a text file", path);
    }
    // at most one document per line
    size_t max_docs = 1;
    for (size_t i = 0; i < len; i++) max_docs += d->buf[i] == '\n';
    d->docs = malloc(max_docs * sizeof *d->docs);
    if (!d->docs) {
        gpt2_docs_free(d);
        return err_fail(err, "%s: out of memory", path);
    }
    int tsv = has_suffix(path, ".tsv");
    if (tsv ? tsv_docs(d, len, path, err) : text_docs(d)) {
        gpt2_docs_free(d);
        return -1;
    }
    if (d->n == 0) {
        gpt2_docs_free(d);
        return err_fail(err, "%s: no %s", path, tsv ? "sentences after the header" : "non-empty lines");
    }
    return 0;
}

// ----------------------------------------------------------------------------
// token streams

void gpt2_tokens_free(GPT2Tokens *s) {
    if (!s) return;
    free(s->ids);
    memset(s, 0, sizeof *s);
}

int gpt2_tokens_encode(GPT2Tokens *s, const GPT2Docs *d, GPT2Tokenizer *tok, Err *err) {
    memset(s, 0, sizeof *s);
    size_t cap = 1 << 16;
    s->ids = malloc(cap * sizeof(int));
    if (!s->ids) return err_fail(err, "token stream: out of memory");
    s->ids[s->n++] = GPT2_EOT;
    for (size_t i = 0; i < d->n; i++) {
        size_t len = strlen(d->docs[i]);
        // a token holds at least one byte and a bad UTF-8 byte becomes 3
        // bytes of U+FFFD: 3 ids per byte always fit, plus the closing EOT
        size_t need = s->n + 3 * len + 1;
        if (need > (size_t)INT32_MAX) {
            gpt2_tokens_free(s);
            return err_fail(err, "token stream: document %zu is too long (%zu bytes)", i, len);
        }
        if (need > cap) {
            while (cap < need) cap *= 2;
            int *bigger = realloc(s->ids, cap * sizeof(int));
            if (!bigger) {
                gpt2_tokens_free(s);
                return err_fail(err, "token stream: out of memory");
            }
            s->ids = bigger;
        }
        int got = 0;
        if (tokenizer_encode(tok, d->docs[i], len, s->ids + s->n, (int)(3 * len), &got, err)) {
            gpt2_tokens_free(s);
            return -1;
        }
        s->n += (size_t)got;
        s->ids[s->n++] = GPT2_EOT;
    }
    s->n_docs = d->n;
    return 0;
}

// ----------------------------------------------------------------------------
// batches of windows

int gpt2_lmbatch_alloc(GPT2LMBatch *b, int B, int T, Err *err) {
    memset(b, 0, sizeof *b);
    if (B <= 0 || T <= 0) return err_fail(err, "batch: bad size %dx%d", B, T);
    size_t BT = (size_t)B * T;
    int *mem = malloc(3 * BT * sizeof(int));
    if (!mem) return err_fail(err, "batch: out of memory for %dx%d", B, T);
    b->B = B, b->T = T;
    b->inputs = mem;
    b->out_pos = mem + BT;
    b->targets = mem + 2 * BT;
    return 0;
}

void gpt2_lmbatch_free(GPT2LMBatch *b) {
    if (!b) return;
    free(b->inputs);
    memset(b, 0, sizeof *b);
}

/* Row b of the batch = window ids[start .. start+T], scoring its targets
 * from position first_new on (the ones before were scored already). */
static void put_window(GPT2LMBatch *b, int row, const int *ids, int first_new) {
    int T = b->T;
    memcpy(b->inputs + (size_t)row * T, ids, (size_t)T * sizeof(int));
    for (int t = first_new; t < T; t++) {
        b->out_pos[b->n_out] = row * T + t;
        b->targets[b->n_out] = ids[t + 1];
        b->n_out++;
    }
}

void gpt2_lmbatch_sample(GPT2LMBatch *b, const GPT2Tokens *s, uint64_t *rng) {
    size_t starts = s->n - (size_t)b->T;   // windows of T+1 tokens: offsets 0 .. n-T-1
    b->n_out = 0;
    for (int r = 0; r < b->B; r++) {
        // modulo bias is below starts / 2^64: nothing a training run can see
        size_t start = (size_t)(splitmix64(rng) % starts);
        put_window(b, r, s->ids + start, 0);
    }
    b->rows = b->B;
}

/* Full windows (offsets 0, T, 2T, ... whose T targets fit), plus a tail
 * window when targets are left over. */
static size_t all_eval_windows(const GPT2Tokens *s, int T) {
    size_t targets = s->n - 1, full = targets / (size_t)T;
    return full + (targets % (size_t)T != 0);
}

size_t gpt2_eval_windows(const GPT2Tokens *s, int T, size_t max_windows) {
    size_t all = all_eval_windows(s, T);
    return max_windows && max_windows < all ? max_windows : all;
}

/* Window w of the full list: its start and the first of its targets that
 * no earlier window scores. The tail window ends at the stream's end and
 * overlaps the last full one. */
static void eval_window(const GPT2Tokens *s, int T, size_t w, size_t *start, int *first_new) {
    size_t full = (s->n - 1) / (size_t)T;
    if (w < full) {
        *start = w * (size_t)T;
        *first_new = 0;
    } else {
        *start = s->n - 1 - (size_t)T;
        *first_new = (int)(full * (size_t)T - *start);
    }
}

int gpt2_eval_loss(const GPT2Model *m, GPT2Acts *a, GPT2LMBatch *b, const GPT2Tokens *s,
                   size_t max_windows, double *loss, size_t *n_targets, Err *err) {
    int T = b->T, V = m->config.vocab_size;
    if (s->n <= (size_t)T)
        return err_fail(err, "evaluation: %zu tokens, fewer than a window of %d + 1", s->n, T);
    size_t all = all_eval_windows(s, T), chosen = gpt2_eval_windows(s, T, max_windows);
    double total = 0.0;
    size_t count = 0;
    for (size_t first = 0; first < chosen; first += (size_t)b->B) {
        b->n_out = 0;
        b->rows = 0;
        for (size_t i = first; i < chosen && b->rows < b->B; i++) {
            // evenly spread over the full list; all of it when chosen == all
            size_t w = chosen == all ? i : i * all / chosen, start;
            int first_new;
            eval_window(s, T, w, &start, &first_new);
            put_window(b, b->rows++, s->ids + start, first_new);
        }
        GPT2Batch batch = {.B = b->rows, .T = T, .ids = b->inputs, .out_pos = b->out_pos, .n_out = b->n_out};
        if (gpt2_forward(m, a, &batch, err)) return -1;
        float mean = gpt2_crossentropy(a->logits, b->targets, b->n_out, V, NULL, 1.0f);
        total += (double)mean * b->n_out;
        count += (size_t)b->n_out;
    }
    *loss = count ? total / (double)count : 0.0;
    *n_targets = count;
    return 0;
}
