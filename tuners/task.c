/*
 * tuners/task.c: data splits, tasks and verbalizers, templates, and the
 * classifier that scores prompts (the data and evaluation sections of
 * tuners/tuners.h).
 *
 * The Evaluator turns (prompt, example) pairs into right-padded batch rows
 *     pre tokens ++ prompt (L ids or L vectors) ++ post tokens
 * and reads K label logits at each row's last position through GPT2Batch's
 * classifier rows, so the (rows, V) LM head is never computed. When the
 * prompt follows the sentence (RLPrompt's "{sentence}[P]"), the pre tokens of
 * a registered split are run once into a KV cache and every prompt is a short
 * continuation of its example's cache row.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// files

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

// ----------------------------------------------------------------------------
// splits

/* A label: an optional '-' then digits, within 0..n_classes-1. */
static int parse_label(const char *s, int n_classes, int *label) {
    size_t i = 0, n = strlen(s);
    int neg = 0;
    if (i < n && s[i] == '-') { neg = 1; i++; }
    if (i == n) return -1;
    long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        if (v < 1000000) v = v * 10 + (s[i] - '0');
    }
    if (neg) v = -v;
    if (v < 0 || v >= n_classes) return -2;
    *label = (int)v;
    return 0;
}

int split_load(Split *s, const char *path, int n_classes, Err *err) {
    memset(s, 0, sizeof *s);
    if (n_classes < 1 || n_classes > TUNE_MAX_CLASSES)
        return err_fail(err, "split %s: %d classes, expected 1..%d", path, n_classes, TUNE_MAX_CLASSES);
    char *buf;
    size_t size;
    if (util_read_file(path, &buf, &size, err)) return -1;
    size_t max_lines = 1;
    for (size_t i = 0; i < size; i++) max_lines += buf[i] == '\n';
    // one allocation: the file (parsed in place), then text pointers, then labels
    size_t text_bytes = align8(size + 1);
    char *mem = realloc(buf, text_bytes + max_lines * (sizeof(char *) + sizeof(int)));
    if (!mem) {
        free(buf);
        return err_fail(err, "split %s: out of memory", path);
    }
    char **text = (char **)(mem + text_bytes);
    int *label = (int *)(text + max_lines);
    TsvReader tsv;
    if (tsv_open(&tsv, mem, size, path, err)) goto fail;
    // the text column, then the label as the last column (the few-shot and GLUE layout)
    int last = tsv.n_cols - 1;
    if (tsv.text_col != last - 1 || strcmp(tsv.fields[last], "label") != 0) {
        err_fail(err, "%s:1: bad header: expected a \"sentence\" (or \"text\") column followed by a last "
                 "\"label\" column, tab-separated; the text is column %d of %d, the last is \"%.40s\"", path,
                 tsv.text_col + 1, tsv.n_cols, tsv.fields[last]);
        goto fail;
    }
    int n = 0, rc;
    while ((rc = tsv_next_row(&tsv, err)) == 1) {
        const char *field = tsv.fields[last];
        int bad = parse_label(field, n_classes, &label[n]);
        if (bad == -1) {
            err_fail(err, "%s:%zu: label \"%.20s\" is not an integer", path, tsv.line_no, field);
            goto fail;
        }
        if (bad == -2) {
            err_fail(err, "%s:%zu: label %.20s is out of range 0..%d", path, tsv.line_no, field, n_classes - 1);
            goto fail;
        }
        text[n++] = tsv.fields[tsv.text_col];
    }
    if (rc < 0) goto fail;
    if (n == 0) {
        err_fail(err, "split %s: no examples (empty split)", path);
        goto fail;
    }
    tsv_close(&tsv);
    s->n = n;
    s->text = text;
    s->label = label;
    s->storage = mem;
    return 0;
fail:
    tsv_close(&tsv);
    free(mem);
    return -1;
}

void split_free(Split *s) {
    free(s->storage);
    memset(s, 0, sizeof *s);
}

// ----------------------------------------------------------------------------
// tasks and verbalizers

/* ../shared/data/README.md: RLPrompt's verbalizers; a leading space is the
 * table's Ġ. */
static const TaskSpec TASKS[] = {
    {"sst-2", 2, {" terrible", " great"}},
    {"mr", 2, {" terrible", " great"}},
    {"cr", 2, {" terrible", " great"}},
    {"subj", 2, {" subjective", " objective"}},
    {"trec", 6, {" Description", " Entity", " Expression", " Human", " Location", " Number"}},
    {"sst-5", 5, {" terrible", " bad", " okay", " good", " great"}},
    {"agnews", 4, {"World", "Sports", "Business", "Tech"}},
    {"yahoo", 10, {"culture", "science", "health", "education", "computer", "sports", "business",
                   "music", "family", "politics"}},
};

const TaskSpec *task_spec(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof TASKS / sizeof TASKS[0]; i++)
        if (strcmp(TASKS[i].name, name) == 0) return &TASKS[i];
    return NULL;
}

int verbalizer_ids(GPT2Tokenizer *tok, const char *const *verbalizers, int K, int *label_ids,
                   Err *err) {
    if (K < 1 || K > TUNE_MAX_CLASSES)
        return err_fail(err, "verbalizers: %d given, expected 1..%d", K, TUNE_MAX_CLASSES);
    for (int k = 0; k < K; k++) {
        const char *v = verbalizers[k];
        int ids[8], n = 0;
        Err e;
        int rc = tokenizer_encode(tok, v, strlen(v), ids, 8, &n, &e);
        if (rc == 0 && n == 1) {
            label_ids[k] = ids[0];
            continue;
        }
        if (n == 0) return err_fail(err, "verbalizer %d \"%s\" encodes to no token", k, v);
        char shown[256] = "";
        size_t used = 0;
        for (int i = 0; i < n && i < 8 && used + 12 < sizeof shown; i++)
            used += (size_t)snprintf(shown + used, sizeof shown - used, "%s%d", i ? " " : "", ids[i]);
        return err_fail(err, "verbalizer %d \"%s\" encodes to %d tokens (%s%s), not one", k, v, n,
                         shown, n > 8 ? " ..." : "");
    }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < k; j++)
            if (label_ids[j] == label_ids[k])
                return err_fail(err, "verbalizers %d and %d are the same token %d", j, k, label_ids[k]);
    return 0;
}

// ----------------------------------------------------------------------------
// templates

#define SENTENCE_MARK "{sentence}"
#define PROMPT_MARK "[P]"

int encode_grow(GPT2Tokenizer *tok, const char *text, size_t len, int **buf, int *cap, int *n, Err *err) {
    if (tokenizer_encode(tok, text, len, *buf, *cap, n, err) == 0) return 0;
    if (*n <= *cap) return -1; // a real error, not a short buffer
    int new_cap = *n + 64;
    int *grown = realloc(*buf, (size_t)new_cap * sizeof(int));
    if (!grown) return err_fail(err, "encode: out of memory (%d tokens)", new_cap);
    *buf = grown;
    *cap = new_cap;
    return tokenizer_encode(tok, text, len, *buf, *cap, n, err);
}

/* The template cut into literals around the sentence and the prompt:
 *   sentence before [P]:  pre = A ++ sentence ++ B,  post = O
 *   sentence after [P]:   pre = O,                   post = A ++ sentence ++ B
 * Each literal and each sentence is tokenized on its own (as OpenPrompt
 * tokenizes the pieces of a template), so that the sentence can lose whole
 * tokens at its end and the prompt is never merged with its neighbours. */
typedef struct {
    int sentence_in_pre;
    int *lit;            // A, B, O back to back
    int n_a, n_b, n_o;
} TemplateTokens;

static int template_tokens(TemplateTokens *tt, const char *tmpl, GPT2Tokenizer *tok, Err *err) {
    memset(tt, 0, sizeof *tt);
    const char *pm = strstr(tmpl, PROMPT_MARK), *sm = strstr(tmpl, SENTENCE_MARK);
    if (!pm || strstr(pm + 1, PROMPT_MARK))
        return err_fail(err, "template \"%s\": needs \"" PROMPT_MARK "\" exactly once", tmpl);
    if (!sm || strstr(sm + 1, SENTENCE_MARK))
        return err_fail(err, "template \"%s\": needs \"" SENTENCE_MARK "\" exactly once", tmpl);
    size_t pl = strlen(PROMPT_MARK), sl = strlen(SENTENCE_MARK), n = strlen(tmpl);
    const char *part[3];   // A, B, O
    size_t len[3];
    tt->sentence_in_pre = sm < pm;
    if (tt->sentence_in_pre) {
        part[0] = tmpl; len[0] = (size_t)(sm - tmpl);
        part[1] = sm + sl; len[1] = (size_t)(pm - part[1]);
        part[2] = pm + pl; len[2] = n - (size_t)(part[2] - tmpl);
    } else {
        part[2] = tmpl; len[2] = (size_t)(pm - tmpl);
        part[0] = pm + pl; len[0] = (size_t)(sm - part[0]);
        part[1] = sm + sl; len[1] = n - (size_t)(part[1] - tmpl);
    }
    // a byte gives at most 3 tokens (ill-formed UTF-8 becomes the 3 bytes of U+FFFD)
    int cap = (int)(3 * n + 3), used = 0;
    if (!(tt->lit = malloc((size_t)cap * sizeof(int)))) return err_fail(err, "template: out of memory");
    int *counts[3] = {&tt->n_a, &tt->n_b, &tt->n_o};
    for (int i = 0; i < 3; i++) {
        if (tokenizer_encode(tok, part[i], len[i], tt->lit + used, cap - used, counts[i], err)) {
            free(tt->lit);
            tt->lit = NULL;
            return -1;
        }
        used += *counts[i];
    }
    return 0;
}

int encode_split(EncodedSplit *e, const Split *s, const char *template_text, GPT2Tokenizer *tok,
                 int max_tokens, Err *err) {
    memset(e, 0, sizeof *e);
    if (s->n <= 0) return err_fail(err, "encode: empty split");
    TemplateTokens tt;
    if (template_tokens(&tt, template_text, tok, err)) return -1;
    int n_lit = tt.n_a + tt.n_b + tt.n_o;
    int budget = max_tokens - n_lit; // sentence tokens per example
    if (budget < 1) {
        free(tt.lit);
        return err_fail(err, "template \"%s\" takes %d tokens: no room for the sentence in max_tokens %d",
                         template_text, n_lit, max_tokens);
    }
    // one allocation: seven (n) arrays, then room for n * max_tokens ids, shrunk at the end
    size_t n = (size_t)s->n, head = 7 * n;
    int *mem = malloc((head + n * (size_t)max_tokens) * sizeof(int));
    int *sent = NULL, sent_cap = 0, n_sent = 0;
    if (!mem) {
        free(tt.lit);
        return err_fail(err, "encode: out of memory (%d examples of up to %d tokens)", s->n, max_tokens);
    }
    int *pre_off = mem, *pre_len = mem + n, *post_off = mem + 2 * n, *post_len = mem + 3 * n;
    int *label = mem + 4 * n, *sent_off = mem + 5 * n, *sent_len = mem + 6 * n, *ids = mem + head;
    const int *lit_a = tt.lit, *lit_b = tt.lit + tt.n_a, *lit_o = tt.lit + tt.n_a + tt.n_b;
    size_t used = 0;
    int max_pre = 0, max_post = 0;
    for (int i = 0; i < s->n; i++) {
        if (encode_grow(tok, s->text[i], strlen(s->text[i]), &sent, &sent_cap, &n_sent, err)) {
            free(mem);
            free(sent);
            free(tt.lit);
            return -1;
        }
        int keep = n_sent < budget ? n_sent : budget; // truncation: whole tokens off the end
        int with_sentence = tt.n_a + keep + tt.n_b;
        int *dst = ids + used;
        int k = 0;
        if (!tt.sentence_in_pre) for (int j = 0; j < tt.n_o; j++) dst[k++] = lit_o[j];
        for (int j = 0; j < tt.n_a; j++) dst[k++] = lit_a[j];
        sent_off[i] = (int)used + k;
        sent_len[i] = keep;
        for (int j = 0; j < keep; j++) dst[k++] = sent[j];
        for (int j = 0; j < tt.n_b; j++) dst[k++] = lit_b[j];
        if (tt.sentence_in_pre) for (int j = 0; j < tt.n_o; j++) dst[k++] = lit_o[j];
        int np = tt.sentence_in_pre ? with_sentence : tt.n_o;
        pre_off[i] = (int)used;
        pre_len[i] = np;
        post_off[i] = (int)used + np;
        post_len[i] = k - np;
        label[i] = s->label[i];
        used += (size_t)k;
        if (pre_len[i] > max_pre) max_pre = pre_len[i];
        if (post_len[i] > max_post) max_post = post_len[i];
    }
    free(sent);
    free(tt.lit);
    int *shrunk = realloc(mem, (head + (used ? used : 1)) * sizeof(int));
    if (shrunk) mem = shrunk; // shrinking cannot really fail; keep the old block if it does
    e->n = s->n;
    e->pre_off = mem; e->pre_len = mem + n; e->post_off = mem + 2 * n; e->post_len = mem + 3 * n;
    e->label = mem + 4 * n;
    e->sent_off = mem + 5 * n; e->sent_len = mem + 6 * n;
    e->ids = mem + head;
    e->max_pre = max_pre;
    e->max_post = max_post;
    e->storage = mem;
    return 0;
}

int encoded_split_longest(const EncodedSplit *e) {
    int longest = 0;
    for (int i = 0; i < e->n; i++)
        if (e->pre_len[i] + e->post_len[i] > longest) longest = e->pre_len[i] + e->post_len[i];
    return longest;
}

void encoded_split_free(EncodedSplit *e) {
    free(e->storage);
    memset(e, 0, sizeof *e);
}

// ----------------------------------------------------------------------------
// the evaluator

// ----------------------------------------------------------------------------
// batches under a memory budget

size_t acts_need_bytes(const GPT2Config *c, const ActsNeed *need, int rows, int tokens) {
    int out = rows > need->min_out ? rows : need->min_out;
    size_t acts = gpt2_acts_bytes(c, rows, need->max_T, tokens, need->max_T, out, need->all_layers);
    return acts ? acts + (size_t)rows * need->max_T * need->position_bytes : 0;
}

/* The real positions planned for `rows` rows: mean_T each, at least min_tokens, at most full rows. */
static int planned_tokens(const ActsNeed *need, int rows) {
    long full = (long)rows * need->max_T, t = (long)rows * need->mean_T;
    if (t < need->min_tokens) t = need->min_tokens;
    return (int)(t < full ? t : full);
}

int acts_fit(ActsFit *fit, const GPT2Config *c, const ActsNeed *need, size_t budget) {
    int lo = need->min_rows, hi = need->max_rows;
    if (budget == 0) {
        *fit = (ActsFit){.rows = hi, .tokens = hi * need->max_T};
        fit->bytes = acts_need_bytes(c, need, fit->rows, fit->tokens);
        return 0;
    }
    *fit = (ActsFit){.rows = lo, .tokens = planned_tokens(need, lo)};
    fit->bytes = acts_need_bytes(c, need, fit->rows, fit->tokens);
    if (fit->bytes == 0 || fit->bytes > budget) return -1;
    while (lo < hi) { // the most rows with their planned tokens: bytes grow with both
        int mid = lo + (hi - lo + 1) / 2;
        size_t b = acts_need_bytes(c, need, mid, planned_tokens(need, mid));
        if (b && b <= budget) lo = mid;
        else hi = mid - 1;
    }
    int rows = lo, t_lo = planned_tokens(need, rows), t_hi = rows * need->max_T;
    while (t_lo < t_hi) { // then the most tokens for those rows
        int mid = t_lo + (t_hi - t_lo + 1) / 2;
        size_t b = acts_need_bytes(c, need, rows, mid);
        if (b && b <= budget) t_lo = mid;
        else t_hi = mid - 1;
    }
    *fit = (ActsFit){.rows = rows, .tokens = t_lo, .bytes = acts_need_bytes(c, need, rows, t_lo)};
    return 0;
}

#define EVAL_MAX_CACHES 4
/* A split whose pre-prompt cache would exceed this is not cached: it is
 * evaluated on the uncached path, which gives the same results (full GLUE
 * SST-2 train under RLPrompt's template would need tens of GB). */
#define EVAL_CACHE_MAX_BYTES ((size_t)4 << 30)

typedef struct {
    const EncodedSplit *split;
    GPT2KVCache kv;   // row i: the pre tokens of example i
} PreCache;

struct Evaluator {
    const GPT2Model *m;
    int K;
    int label_ids[TUNE_MAX_CLASSES];   // (K)
    int max_rows, max_T;
    int max_tokens;                    // real positions of a batch in all
    size_t bytes;                      // activations and batch buffers
    GPT2Acts acts;                     // max_rows x max_T (max_tokens), keys max_T, K label logits per row
    // batch buffers, one allocation (storage)
    int *ids;                          // (max_rows, max_T)
    int *lens, *label_pos, *cache_rows, *row_example, *row_prompt; // (max_rows)
    float *embeds;                     // (max_rows, max_T, C) soft prompt vectors
    unsigned char *is_embed;           // (max_rows, max_T)
    int *length_count;                 // (max_T + 1) counting sort of example lengths
    void *storage;
    int *order;                        // (order_cap) examples by length; grows with the largest split
    int order_cap;
    PreCache caches[EVAL_MAX_CACHES];
    int n_caches;
};

int evaluator_new(Evaluator **out, const GPT2Model *m, const int *label_ids, int K, int max_rows,
                  int max_T, Err *err) {
    return evaluator_new_bounded(out, m, label_ids, K, max_rows, max_T, 0, 0, err);
}

int evaluator_new_bounded(Evaluator **out, const GPT2Model *m, const int *label_ids, int K, int max_rows,
                          int max_T, size_t max_bytes, int mean_T, Err *err) {
    *out = NULL;
    const GPT2Config *c = &m->config;
    if (K < 1 || K > TUNE_MAX_CLASSES || K > GPT2_MAX_LABEL_IDS)
        return err_fail(err, "evaluator: %d classes, expected 1..%d", K, TUNE_MAX_CLASSES);
    if (max_rows < 1 || max_T < 1 || max_T > c->n_positions)
        return err_fail(err, "evaluator: bad size (%d rows of %d positions; model context %d)",
                         max_rows, max_T, c->n_positions);
    for (int k = 0; k < K; k++)
        if (label_ids[k] < 0 || label_ids[k] >= c->vocab_size)
            return err_fail(err, "evaluator: label id %d outside the vocabulary of %d", label_ids[k],
                             c->vocab_size);
    // the batch buffers per row position: soft prompt vectors, ids, is_embed
    ActsNeed need = {.max_rows = max_rows, .max_T = max_T, .min_rows = 1, .min_tokens = max_T,
                     .mean_T = mean_T > 0 && mean_T < max_T ? mean_T : max_T,
                     .position_bytes = (size_t)c->n_embd * sizeof(float) + sizeof(int) + 1};
    ActsFit fit;
    acts_fit(&fit, c, &need, max_bytes); // too small a budget: one row of max_T all the same
    max_rows = fit.rows;
    Evaluator *ev = calloc(1, sizeof *ev);
    if (!ev) return err_fail(err, "evaluator: out of memory");
    ev->m = m;
    ev->K = K;
    memcpy(ev->label_ids, label_ids, (size_t)K * sizeof(int));
    ev->max_rows = max_rows;
    ev->max_T = max_T;
    ev->max_tokens = fit.tokens;
    ev->bytes = fit.bytes;
    size_t R = (size_t)max_rows, RT = R * (size_t)max_T, C = (size_t)c->n_embd;
    size_t bytes = RT * C * sizeof(float) + RT * sizeof(int) + 5 * R * sizeof(int) +
                   ((size_t)max_T + 1) * sizeof(int) + RT;
    char *mem = malloc(bytes);
    if (!mem) {
        free(ev);
        return err_fail(err, "evaluator: out of memory (%zu MB of batch buffers)", bytes >> 20);
    }
    ev->storage = mem;
    ev->embeds = (float *)mem;
    ev->ids = (int *)(ev->embeds + RT * C);
    ev->lens = ev->ids + RT;
    ev->label_pos = ev->lens + R;
    ev->cache_rows = ev->label_pos + R;
    ev->row_example = ev->cache_rows + R;
    ev->row_prompt = ev->row_example + R;
    ev->length_count = ev->row_prompt + R;
    ev->is_embed = (unsigned char *)(ev->length_count + max_T + 1);
    // keys: a cached prefix plus its continuation never exceed max_T (see next_batch)
    if (gpt2_acts_alloc_tokens(&ev->acts, c, max_rows, max_T, ev->max_tokens, max_T, max_rows, 0, err)) {
        free(mem);
        free(ev);
        return -1;
    }
    *out = ev;
    return 0;
}

void evaluator_free(Evaluator *ev) {
    if (!ev) return;
    for (int i = 0; i < ev->n_caches; i++) kvcache_free(&ev->caches[i].kv);
    gpt2_acts_free(&ev->acts);
    free(ev->storage);
    free(ev->order);
    free(ev);
}

int evaluator_max_T(const Evaluator *ev) { return ev->max_T; }

size_t evaluator_bytes(const Evaluator *ev, int *rows, int *tokens) {
    if (rows) *rows = ev->max_rows;
    if (tokens) *tokens = ev->max_tokens;
    return ev->bytes;
}

static const GPT2KVCache *find_cache(const Evaluator *ev, const EncodedSplit *s) {
    for (int i = 0; i < ev->n_caches; i++)
        if (ev->caches[i].split == s) return &ev->caches[i].kv;
    return NULL;
}

/* ev->order (n) = the examples of s by increasing length (pre + post, or the
 * pre tokens alone), a stable counting sort: batches then hold rows of
 * similar widths and waste little padding. Lengths are at most max_T
 * (checked by the callers). The buffer grows only for a larger split. */
static int order_by_length(Evaluator *ev, const EncodedSplit *s, int pre_only, Err *err) {
    if (s->n > ev->order_cap) {
        int *grown = realloc(ev->order, (size_t)s->n * sizeof(int));
        if (!grown) return err_fail(err, "evaluator: out of memory (%d examples)", s->n);
        ev->order = grown;
        ev->order_cap = s->n;
    }
    int *count = ev->length_count;
    for (int t = 0; t <= ev->max_T; t++) count[t] = 0;
    for (int i = 0; i < s->n; i++) count[s->pre_len[i] + (pre_only ? 0 : s->post_len[i])]++;
    for (int t = 0, start = 0; t <= ev->max_T; t++) { // counts -> first slot of each length
        int c = count[t];
        count[t] = start;
        start += c;
    }
    for (int i = 0; i < s->n; i++) ev->order[count[s->pre_len[i] + (pre_only ? 0 : s->post_len[i])]++] = i;
    return 0;
}

int evaluator_cache(Evaluator *ev, const EncodedSplit *s, Err *err) {
    if (s->max_pre == 0 || find_cache(ev, s)) return 0; // nothing before the prompt, or done
    if (s->max_pre > ev->max_T)
        return err_fail(err, "evaluator_cache: %d pre tokens exceed the %d positions of a row",
                         s->max_pre, ev->max_T);
    const GPT2Config *c = &ev->m->config;
    size_t bytes = 2 * sizeof(float) * (size_t)c->n_layer * (size_t)s->n * (size_t)s->max_pre * (size_t)c->n_embd;
    if (bytes > EVAL_CACHE_MAX_BYTES) return 0; // too big to keep: the uncached path is exact
    if (ev->n_caches == EVAL_MAX_CACHES)
        return err_fail(err, "evaluator_cache: at most %d cached splits", EVAL_MAX_CACHES);
    GPT2KVCache *kv = &ev->caches[ev->n_caches].kv;
    if (order_by_length(ev, s, 1, err) || kvcache_alloc(kv, c, s->n, s->max_pre, err)) return -1;
    // rows of up to max_rows examples of similar lengths: the pre tokens, stored into cache row = example
    for (int j = 0; j < s->n;) {
        int B = 0, T = 1, tokens = 0;
        for (; j < s->n && B < ev->max_rows; j++) {
            int i = ev->order[j];
            if (s->pre_len[i] == 0) continue; // an empty prefix: cache row stays at length 0
            if (tokens + s->pre_len[i] > ev->max_tokens) break;
            tokens += s->pre_len[i];
            ev->cache_rows[B] = i;
            ev->lens[B] = s->pre_len[i];
            if (s->pre_len[i] > T) T = s->pre_len[i];
            B++;
        }
        if (B == 0) break;
        for (int b = 0; b < B; b++) {
            int *row = ev->ids + (size_t)b * T, i = ev->cache_rows[b];
            memcpy(row, s->ids + s->pre_off[i], (size_t)s->pre_len[i] * sizeof(int));
            for (int t = s->pre_len[i]; t < T; t++) row[t] = 0;
        }
        GPT2Batch batch = {.B = B, .T = T, .ids = ev->ids, .lens = ev->lens, .store = kv,
                           .store_rows = ev->cache_rows};
        if (gpt2_forward(ev->m, &ev->acts, &batch, err)) {
            kvcache_free(kv);
            return -1;
        }
    }
    ev->caches[ev->n_caches++].split = s;
    return 0;
}

/* What is being scored: P prompts as ids (P, L), or one soft prompt (L, C). */
typedef struct {
    const int *ids;
    const float *embeds;
    int P, L;
} Prompts;

/* Row g of the (example, prompt) grid: the example ev->order[g / P] (by
 * length) with prompt g % P, so that a batch holds rows of similar widths. */
static int grid_example(const Evaluator *ev, const Prompts *pr, long g) { return ev->order[g / pr->P]; }
static int grid_prompt(const Prompts *pr, long g) { return (int)(g % pr->P); }

/* Picks rows g0.. of the grid for the next batch: at most max_rows rows and
 * max_tokens real positions, and with a cache, the longest prefix plus the longest continuation in the batch must
 * fit max_T keys. Returns the row count and the batch width *T. */
static int next_batch(const Evaluator *ev, const EncodedSplit *s, const Prompts *pr,
                      const GPT2KVCache *kv, long g0, long total, int *T) {
    int B = 0, width = 1, longest_pre = 0, tokens = 0;
    for (long g = g0; g < total && B < ev->max_rows; g++, B++) {
        int i = grid_example(ev, pr, g);
        int pre = kv ? s->pre_len[i] : 0;
        int len = (kv ? 0 : s->pre_len[i]) + pr->L + s->post_len[i];
        int new_pre = pre > longest_pre ? pre : longest_pre, new_width = len > width ? len : width;
        if (kv && B > 0 && new_pre + new_width > ev->max_T) break;
        if (B > 0 && tokens + len > ev->max_tokens) break; // one row always fits (max_tokens >= max_T)
        tokens += len;
        longest_pre = new_pre;
        width = new_width;
    }
    *T = width;
    return B;
}

/* Fills row b of a batch of width T with example i and prompt p: without a
 * cache pre ++ prompt ++ post, with one prompt ++ post. */
static void fill_row(Evaluator *ev, const EncodedSplit *s, const Prompts *pr, int with_cache, int b,
                     int T, int i, int p) {
    int C = ev->m->config.n_embd, L = pr->L;
    size_t base = (size_t)b * T;
    int *row = ev->ids + base;
    int k = 0;
    if (!with_cache) {
        memcpy(row, s->ids + s->pre_off[i], (size_t)s->pre_len[i] * sizeof(int));
        k = s->pre_len[i];
    }
    if (pr->embeds) {
        memset(ev->is_embed + base, 0, (size_t)T);
        memset(ev->is_embed + base + k, 1, (size_t)L);
        memcpy(ev->embeds + (base + k) * C, pr->embeds, (size_t)L * C * sizeof(float));
        for (int j = 0; j < L; j++) row[k + j] = 0; // ignored: the vectors replace them
    } else {
        memcpy(row + k, pr->ids + (size_t)p * L, (size_t)L * sizeof(int));
    }
    k += L;
    memcpy(row + k, s->ids + s->post_off[i], (size_t)s->post_len[i] * sizeof(int));
    k += s->post_len[i];
    for (int t = k; t < T; t++) row[t] = 0; // padding: computed, never read
    ev->lens[b] = k;
    ev->label_pos[b] = (int)base + k - 1;
    ev->cache_rows[b] = i;
    ev->row_example[b] = i;
    ev->row_prompt[b] = p;
}

/* Softmax over one row's K label logits into p, and its scores; per class,
 * class_accuracy and prediction_share count (normalised in eval_rows). */
static int score_row(const float *logits, int K, int label, float *p, EvalResult *acc) {
    double maxv = logits[0];
    int argmax = 0;
    for (int k = 1; k < K; k++)
        if (logits[k] > maxv) { maxv = logits[k]; argmax = k; }
    double sum = 0.0, e[TUNE_MAX_CLASSES];
    for (int k = 0; k < K; k++) sum += (e[k] = exp((double)logits[k] - maxv));
    for (int k = 0; k < K; k++) p[k] = (float)(e[k] / sum);
    acc->accuracy += argmax == label;
    acc->class_accuracy[label] += argmax == label;
    acc->prediction_share[argmax] += 1.0;
    acc->reward += gap_reward(p, K, label);
    acc->loss += log(sum) + maxv - (double)logits[label]; // -log softmax[label]
    return argmax;
}

/* Counts to means: per class, recall over the class's examples (class_n,
 * NaN when it has none) and the share of predictions; balanced accuracy the
 * mean recall over the classes present. */
static void finish_scores(EvalResult *r, const int *class_n, int K, int n) {
    r->accuracy /= n;
    r->reward /= n;
    r->loss /= n;
    double recall_sum = 0.0;
    int present = 0;
    for (int k = 0; k < K; k++) {
        r->prediction_share[k] /= n;
        if (class_n[k] == 0) {
            r->class_accuracy[k] = NAN;
            continue;
        }
        r->class_accuracy[k] /= class_n[k];
        recall_sum += r->class_accuracy[k];
        present++;
    }
    for (int k = K; k < TUNE_MAX_CLASSES; k++) r->class_accuracy[k] = r->prediction_share[k] = 0.0;
    r->balanced_accuracy = present ? recall_sum / present : NAN;
}

double majority_share(const EvalResult *r, int K) {
    double m = 0.0;
    for (int k = 0; k < K; k++) m = r->prediction_share[k] > m ? r->prediction_share[k] : m;
    return m;
}

static int eval_rows(Evaluator *ev, const EncodedSplit *s, const Prompts *pr, EvalResult *res,
                     float *probs, int *pred, Err *err) {
    int K = ev->K, n = s->n;
    if (n <= 0) return err_fail(err, "evaluate: empty split");
    if (pr->L < 0 || pr->P < 1) return err_fail(err, "evaluate: %d prompts of length %d", pr->P, pr->L);
    int class_n[TUNE_MAX_CLASSES] = {0};
    for (int i = 0; i < n; i++) {
        int len = s->pre_len[i] + pr->L + s->post_len[i];
        if (len < 1) return err_fail(err, "evaluate: example %d is empty (no tokens, no prompt)", i);
        if (len > ev->max_T)
            return err_fail(err, "evaluate: example %d needs %d positions (%d + prompt %d + %d), "
                             "rows hold %d", i, len, s->pre_len[i], pr->L, s->post_len[i], ev->max_T);
        if (s->label[i] < 0 || s->label[i] >= K)
            return err_fail(err, "evaluate: example %d has label %d of %d classes", i, s->label[i], K);
        class_n[s->label[i]]++;
    }
    // with no prompt a cached row would have nothing left to run: the uncached path
    const GPT2KVCache *kv = pr->L > 0 ? find_cache(ev, s) : NULL;
    if (order_by_length(ev, s, 0, err)) return -1;
    for (int p = 0; p < pr->P; p++) memset(&res[p], 0, sizeof res[p]);
    long total = (long)pr->P * n;
    float p_row[TUNE_MAX_CLASSES];
    for (long g0 = 0; g0 < total;) {
        int T, B = next_batch(ev, s, pr, kv, g0, total, &T);
        for (int b = 0; b < B; b++) {
            long g = g0 + b;
            fill_row(ev, s, pr, kv != NULL, b, T, grid_example(ev, pr, g), grid_prompt(pr, g));
        }
        GPT2Batch batch = {.B = B, .T = T, .ids = ev->ids, .lens = ev->lens,
                           .embeds = pr->embeds ? ev->embeds : NULL,
                           .is_embed = pr->embeds ? ev->is_embed : NULL,
                           .prefix = kv, .prefix_rows = kv ? ev->cache_rows : NULL,
                           .label_pos = ev->label_pos, .n_label = B,
                           .label_ids = ev->label_ids, .n_label_ids = K};
        if (gpt2_forward(ev->m, &ev->acts, &batch, err)) return -1;
        for (int b = 0; b < B; b++) {
            int i = ev->row_example[b], p = ev->row_prompt[b];
            float *dst = probs ? probs + ((size_t)p * n + i) * K : p_row;
            int k = score_row(ev->acts.label_logits + (size_t)b * K, K, s->label[i], dst, &res[p]);
            if (pred) pred[(size_t)p * n + i] = k;
        }
        g0 += B;
    }
    for (int p = 0; p < pr->P; p++) finish_scores(&res[p], class_n, K, n);
    return 0;
}

int eval_prompts(Evaluator *ev, const EncodedSplit *s, const int *prompt_ids, int P, int L,
                 EvalResult *res, float *probs, Err *err) {
    return eval_prompts_pred(ev, s, prompt_ids, P, L, res, probs, NULL, err);
}

int eval_prompts_pred(Evaluator *ev, const EncodedSplit *s, const int *prompt_ids, int P, int L,
                      EvalResult *res, float *probs, int *pred, Err *err) {
    int V = ev->m->config.vocab_size;
    for (int j = 0; j < P * L; j++)
        if (prompt_ids[j] < 0 || prompt_ids[j] >= V)
            return err_fail(err, "evaluate: prompt %d token %d is id %d, outside the vocabulary of %d",
                             j / L, j % L, prompt_ids[j], V);
    static const int no_prompt = 0; // L = 0: never read, but never NULL for memcpy
    Prompts pr = {.ids = L > 0 ? prompt_ids : &no_prompt, .P = P, .L = L};
    return eval_rows(ev, s, &pr, res, probs, pred, err);
}

int eval_soft_prompt(Evaluator *ev, const EncodedSplit *s, const float *prompt_embeds, int L,
                     EvalResult *res, float *probs, Err *err) {
    Prompts pr = {.embeds = prompt_embeds, .P = 1, .L = L};
    return eval_rows(ev, s, &pr, res, probs, NULL, err);
}

// ----------------------------------------------------------------------------
// RLPrompt's reward

/* "Other classes" are the other indices; the reference code masks the
 * entries equal to p[label] instead, which differs only on exact ties. */
double gap_reward(const float *p, int K, int label) {
    double other = 0.0;
    int first = 1;
    for (int k = 0; k < K; k++) {
        if (k == label) continue;
        if (first || p[k] > other) other = p[k];
        first = 0;
    }
    double gap = (double)p[label] - other;
    return gap > 0 ? 200.0 * gap : 180.0 * gap;
}
