/*
 * tuners/interp.c: interpretability metrics (the interpretability section of
 * tuners/tuners.h) and result_finish, which turns a tuner's best prompt into
 * every number of the record.
 *
 *   scrutability  log-PPL of the prompt under a scorer LM, first token scored
 *                 after <|endoftext|>; 0 for no tokens (the empty prompt)
 *   words         the share of the prompt text's words that are dictionary words
 *   repetition    the share of distinct tokens
 *   faithfulness  accuracy of the continuous and the projected prompt, and the
 *                 mean KL between their label distributions
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// scorer: log-perplexity of prompts

/* Logit rows per LM-head call: the (rows, V) block is the scorer's largest
 * buffer (64 x 50257 floats = 12.9 MB), so positions go through it in chunks. */
#define SCORER_CHUNK 64

struct Scorer {
    const GPT2Model *m;
    int max_prompts, max_L;
    GPT2Acts acts;   // max_prompts rows of max_L positions; gathered/logits: SCORER_CHUNK rows
    double *nll;     // (max_prompts) running sums; the one allocation
    int *ids;        // (max_prompts, max_L) <|endoftext|> z_1 .. z_{L-1}
};

int scorer_new(Scorer **out, const GPT2Model *m, int max_prompts, Err *err) {
    *out = NULL;
    const GPT2Config *c = &m->config;
    if (max_prompts < 1) return err_fail(err, "scorer: max_prompts %d < 1", max_prompts);
    if (c->vocab_size <= GPT2_EOT)
        return err_fail(err, "scorer: vocabulary of %d has no <|endoftext|> (id %d)", c->vocab_size, GPT2_EOT);
    Scorer *sc = calloc(1, sizeof *sc);
    if (!sc) return err_fail(err, "scorer: out of memory");
    sc->m = m;
    sc->max_prompts = max_prompts;
    sc->max_L = c->n_positions < TUNE_MAX_PROMPT ? c->n_positions : TUNE_MAX_PROMPT;
    size_t rows = (size_t)max_prompts * sc->max_L;
    // one allocation: the sums (doubles first, for alignment), then the ids
    sc->nll = malloc((size_t)max_prompts * sizeof(double) + rows * sizeof(int));
    if (!sc->nll) {
        free(sc);
        return err_fail(err, "scorer: out of memory");
    }
    sc->ids = (int *)(sc->nll + max_prompts);
    if (gpt2_acts_alloc(&sc->acts, c, max_prompts, sc->max_L, sc->max_L, SCORER_CHUNK, 0, err)) {
        free(sc->nll);
        free(sc);
        return -1;
    }
    *out = sc;
    return 0;
}

void scorer_free(Scorer *sc) {
    if (!sc) return;
    gpt2_acts_free(&sc->acts);
    free(sc->nll);
    free(sc);
}

/* -log softmax(logits)[target] for one row of V logits. */
static double row_nll(const float *logits, int V, int target) {
    float maxv = logits[0];
    for (int v = 1; v < V; v++) maxv = logits[v] > maxv ? logits[v] : maxv;
    double sum = 0.0;
    for (int v = 0; v < V; v++) sum += expf(logits[v] - maxv);
    return log(sum) + (double)maxv - (double)logits[target];
}

/* Scores B <= max_prompts prompts: one forward over <|endoftext|> z_1..z_{L-1},
 * then the LM head on the final hidden states in chunks of SCORER_CHUNK
 * positions, each position t predicting z_{t+1}. */
static int score_batch(Scorer *sc, const int *prompt_ids, int B, int L, double *log_ppl, Err *err) {
    const GPT2Model *m = sc->m;
    int C = m->config.n_embd, V = m->config.vocab_size;
    for (int b = 0; b < B; b++) {
        int *row = sc->ids + (size_t)b * L;
        row[0] = GPT2_EOT;
        memcpy(row + 1, prompt_ids + (size_t)b * L, (size_t)(L - 1) * sizeof(int));
        sc->nll[b] = 0.0;
    }
    GPT2Batch batch = {.B = B, .T = L, .ids = sc->ids};
    if (gpt2_forward(m, &sc->acts, &batch, err)) return -1;
    int n = B * L;
    for (int r0 = 0; r0 < n; r0 += SCORER_CHUNK) {
        int rows = n - r0 < SCORER_CHUNK ? n - r0 : SCORER_CHUNK;
        memcpy(sc->acts.gathered, sc->acts.lnf + (size_t)r0 * C, (size_t)rows * C * sizeof(float));
        gpt2_lm_head(m, sc->acts.gathered, sc->acts.logits, rows);
        for (int r = 0; r < rows; r++) {
            int b = (r0 + r) / L, t = (r0 + r) % L;
            sc->nll[b] += row_nll(sc->acts.logits + (size_t)r * V, V, prompt_ids[(size_t)b * L + t]);
        }
    }
    for (int b = 0; b < B; b++) log_ppl[b] = sc->nll[b] / L;
    return 0;
}

/* No tokens (L = 0: the template alone) have log_ppl 0, and ppl e^0 = 1: the total NLL of no
 * tokens is 0, and the mean of none is taken as that total; there is nothing to read. */
int scorer_log_ppl(Scorer *sc, const int *prompt_ids, int P, int L, double *log_ppl, Err *err) {
    if (L < 0 || L > sc->max_L)
        return err_fail(err, "scorer: prompt length %d, expected 0..%d", L, sc->max_L);
    if (L == 0) {
        for (int p = 0; p < P; p++) log_ppl[p] = 0.0;
        return 0;
    }
    int V = sc->m->config.vocab_size;
    for (int j = 0; j < P * L; j++)
        if (prompt_ids[j] < 0 || prompt_ids[j] >= V)
            return err_fail(err, "scorer: prompt %d token %d is id %d, outside the vocabulary of %d",
                             j / L, j % L, prompt_ids[j], V);
    for (int p0 = 0; p0 < P; p0 += sc->max_prompts) {
        int B = P - p0 < sc->max_prompts ? P - p0 : sc->max_prompts;
        if (score_batch(sc, prompt_ids + (size_t)p0 * L, B, L, log_ppl + p0, err)) return -1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// dictionary: a hash set of lowercase words

/* The words of the file, lowercased and NUL-terminated in place, and an
 * open-addressing table of their offsets + 1 (0 = empty slot). Possessives
 * and contractions ("cat's", "don't") are words of the list like any other:
 * the share counts the words of the prompt's text, where they occur whole. */
struct Dictionary {
    char *words;        // the file's bytes, one lowercase word per NUL-terminated run
    uint32_t *slots;    // (cap) offset + 1 into words, or 0
    size_t cap;         // a power of two, at least twice the word count
    size_t n_words;
};

static uint64_t hash_bytes(const char *s, size_t n) { // FNV-1a
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* Lowercases ASCII and the Latin-1 capitals (U+00C0..U+00DE but U+00D7, as
 * UTF-8 C3 80..C3 9E) in place: the list's "Asunción" and a token's "ASUNCIÓN"
 * compare equal. */
static void lowercase_utf8(char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z') s[i] = (char)(c + 32);
        else if (c == 0xC3 && i + 1 < n) {
            unsigned char d = (unsigned char)s[i + 1];
            if (d >= 0x80 && d <= 0x9E && d != 0x97) s[i + 1] = (char)(d + 32);
            i++;
        }
    }
}

static int dict_contains(const Dictionary *d, const char *w, size_t n) {
    size_t mask = d->cap - 1;
    for (size_t i = hash_bytes(w, n) & mask;; i = (i + 1) & mask) {
        uint32_t off = d->slots[i];
        if (off == 0) return 0;
        const char *e = d->words + off - 1;
        if (strncmp(e, w, n) == 0 && e[n] == '\0') return 1;
    }
}

int dictionary_load(Dictionary **out, const char *path, Err *err) {
    *out = NULL;
    char *words;
    size_t size, lines = 1;
    Err why;
    if (util_read_file(path, &words, &size, &why))
        return err_fail(err, "dictionary: %s (Debian: apt-get install wamerican)", why.msg);
    if (size >= (size_t)UINT32_MAX - 1) {
        free(words);
        return err_fail(err, "dictionary: %s is over 4 GiB", path);
    }
    for (size_t i = 0; i < size; i++) lines += words[i] == '\n';
    size_t cap = 16;
    while (cap < 2 * lines) cap *= 2;
    Dictionary *d = calloc(1, sizeof *d);
    uint32_t *slots = calloc(cap, sizeof(uint32_t));
    if (!d || !slots) {
        free(words); free(d); free(slots);
        return err_fail(err, "dictionary: out of memory");
    }
    d->words = words; d->slots = slots; d->cap = cap;
    for (size_t start = 0; start < size;) {
        char *nl = memchr(words + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - words) : size, n = end - start;
        char *w = words + start;
        w[n] = '\0';
        if (n > 0 && w[n - 1] == '\r') w[--n] = '\0';
        start = end + 1;
        if (n == 0) continue;
        lowercase_utf8(w, n);
        if (dict_contains(d, w, n)) continue;       // "Polish" and "polish" are one word here
        size_t i = hash_bytes(w, n) & (cap - 1);
        while (slots[i]) i = (i + 1) & (cap - 1);
        slots[i] = (uint32_t)(w - words) + 1;
        d->n_words++;
    }
    if (d->n_words == 0) {
        dictionary_free(d);
        return err_fail(err, "dictionary: %s holds no words", path);
    }
    *out = d;
    return 0;
}

void dictionary_free(Dictionary *d) {
    if (!d) return;
    free(d->words);
    free(d->slots);
    free(d);
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Punctuation a word may start or end with: the bytes of one ASCII
 * punctuation character or of a typographic quote, dash, guillemet or
 * ellipsis; 0 if s (n bytes) does not start with one. */
static size_t punct_at_start(const unsigned char *s, size_t n) {
    if (n >= 1 && s[0] < 0x80) return (s[0] > 0x20 && s[0] < 0x7F && !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') &&
                                       !(s[0] >= '0' && s[0] <= '9')) ? 1 : 0;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0xAB || s[1] == 0xBB)) return 2;           // « »
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] == 0x93 || s[2] == 0x94 || (s[2] >= 0x98 && s[2] <= 0x9F) || s[2] == 0xA6))
        return 3;                                                                      // – — ‘ ’ ‚ ‛ “ ” „ ‟ …
    return 0;
}

/* The same at the end of s (n bytes). */
static size_t punct_at_end(const unsigned char *s, size_t n) {
    if (n >= 1 && s[n - 1] < 0x80) return punct_at_start(s + n - 1, 1);
    if (n >= 2 && punct_at_start(s + n - 2, 2) == 2) return 2;
    if (n >= 3 && punct_at_start(s + n - 3, 3) == 3) return 3;
    return 0;
}

/* Whether w (n bytes, lowercase) is a word of the list, or hyphenated parts that all are. */
static int dict_word(const Dictionary *d, const char *w, size_t n) {
    if (dict_contains(d, w, n)) return 1;
    if (!memchr(w, '-', n)) return 0;
    for (size_t start = 0; start <= n;) {
        const char *dash = memchr(w + start, '-', n - start);
        size_t end = dash ? (size_t)(dash - w) : n;
        if (end == start || !dict_contains(d, w + start, end - start)) return 0;
        start = end + 1;
    }
    return 1;
}

double dictionary_share(const Dictionary *d, const char *text, int *n_words) {
    const unsigned char *s = (const unsigned char *)(text ? text : "");
    size_t n = strlen((const char *)s);
    int words = 0, found = 0;
    char w[256];
    for (size_t i = 0; i < n;) {
        while (i < n && is_space(s[i])) i++;
        size_t start = i;
        while (i < n && !is_space(s[i])) i++;
        size_t a = start, b = i, k;
        while (a < b && (k = punct_at_start(s + a, b - a)) > 0) a += k;
        while (b > a && (k = punct_at_end(s + a, b - a)) > 0) b -= k;
        if (a == b) continue; // punctuation alone (or nothing) is no word
        words++;
        // the word, lowercased, with a typographic apostrophe read as the list's '
        size_t len = 0;
        for (size_t j = a; j < b && len < sizeof w - 1; j++) {
            if (j + 2 < b && s[j] == 0xE2 && s[j + 1] == 0x80 && s[j + 2] == 0x99) {
                w[len++] = '\'';
                j += 2;
            } else {
                w[len++] = (char)s[j];
            }
        }
        if (len >= sizeof w - 1) continue; // longer than any word of the list
        w[len] = '\0';
        lowercase_utf8(w, len);
        found += dict_word(d, w, len);
    }
    if (n_words) *n_words = words;
    return words ? (double)found / words : 0.0;
}

double distinct_share(const int *ids, int L) {
    if (L <= 0) return 0.0;
    int distinct = 0;
    for (int j = 0; j < L; j++) {
        int seen = 0;
        for (int k = 0; k < j && !seen; k++) seen = ids[k] == ids[j];
        distinct += !seen;
    }
    return (double)distinct / L;
}

// ----------------------------------------------------------------------------
// faithfulness

/* KL(p || q) summed over the K classes, averaged over n rows; q is floored at
 * a tiny epsilon so that a class the projected prompt gives (rounded) zero
 * probability costs a large but finite amount. Terms with p = 0 are 0. */
double mean_kl(const float *p, const float *q, int n, int K) {
    const double eps = 1e-12;
    if (n <= 0) return 0.0;
    double total = 0.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            double pk = p[(size_t)i * K + k], qk = q[(size_t)i * K + k];
            if (pk > 0) total += pk * (log(pk) - log(qk > eps ? qk : eps));
        }
    return total / n;
}

// ----------------------------------------------------------------------------
// the result of a run

/* Decodes the prompt into text, whole tokens only: a prompt longer than the
 * buffer (64 very long tokens) is cut at a token boundary. */
static void prompt_text(const GPT2Tokenizer *tok, const int *ids, int L, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (int j = 0; j < L; j++) {
        size_t n;
        const char *bytes = tokenizer_token_bytes(tok, ids[j], &n);
        if (!bytes || used + n + 1 > cap) break;
        memcpy(out + used, bytes, n);
        used += n;
    }
    out[used] = '\0';
}

void tune_context_free(TuneContext *ctx) {
    evaluator_free(ctx->eval);
    scorer_free(ctx->scorer);
    dictionary_free(ctx->dict);
    encoded_split_free(&ctx->train);
    encoded_split_free(&ctx->dev);
    encoded_split_free(&ctx->test);
}

int result_finish(TuneContext *ctx, TuneResult *r, const float *continuous, Err *err) {
    const TunePoint *pt = ctx->point;
    int L = r->prompt_length, K = ctx->n_classes;
    if (L < (continuous ? 1 : 0) || L > TUNE_MAX_PROMPT) // 0: the template alone (a manual "")
        return err_fail(err, "result: prompt length %d, expected %d..%d", L, continuous ? 1 : 0, TUNE_MAX_PROMPT);
    if (!ctx->dict) return err_fail(err, "result: no dictionary in the context");
    if (!pt) return err_fail(err, "result: no point in the context");
    const int *ids = r->prompt_ids;
    prompt_text(ctx->tok, ids, L, r->prompt_text, sizeof r->prompt_text);
    r->n_classes = K;
    r->vocab_size = ctx->model->config.vocab_size;

    // the first max_test examples: the split's arrays are per example, so a shorter n is that prefix
    EncodedSplit test_split = ctx->test;
    if (pt->max_test > 0 && pt->max_test < test_split.n) test_split.n = pt->max_test;
    int n = test_split.n;
    // the classes the prompt's rows get on test (the text round trip reuses them), then the label
    // distributions of the projected and the continuous prompt (faithfulness)
    int *pred = malloc((size_t)n * sizeof(int) + (continuous ? (size_t)2 * n * K * sizeof(float) : 0));
    if (!pred) return err_fail(err, "result: out of memory (%d test examples)", n);
    float *probs = continuous ? (float *)(pred + n) : NULL;
    EvalResult soft;
    // the evaluations' times, for the progress line
    double t_start = util_now();
    int failed = eval_prompts(ctx->eval, &ctx->train, ids, 1, L, &r->eval[TUNE_TRAIN], NULL, err) ||
                 eval_prompts(ctx->eval, &ctx->dev, ids, 1, L, &r->eval[TUNE_DEV], NULL, err);
    double t_dev = util_now();
    failed = failed || eval_prompts_pred(ctx->eval, &test_split, ids, 1, L, &r->eval[TUNE_TEST], probs, pred, err);
    double t_test = util_now();
    failed = failed || (continuous && eval_soft_prompt(ctx->eval, &test_split, continuous, L, &soft,
                                                       probs + (size_t)n * K, err));
    double t_continuous = util_now();
    if (failed) {
        free(pred);
        return -1;
    }
    const EvalResult *test = &r->eval[TUNE_TEST];
    r->train_acc = r->eval[TUNE_TRAIN].accuracy;
    r->dev_acc = r->eval[TUNE_DEV].accuracy;
    r->dev_reward = r->eval[TUNE_DEV].reward;
    r->test_acc = test->accuracy;
    r->acc_projected = test->accuracy;
    r->collapsed = majority_share(test, K) >= TUNE_COLLAPSE_SHARE;
    if (continuous) {
        r->acc_continuous = soft.accuracy;
        r->kl_continuous_projected = mean_kl(probs + (size_t)n * K, probs, n, K);
    } else {
        r->acc_continuous = test->accuracy;
        r->kl_continuous_projected = 0.0;
    }

    if (scorer_log_ppl(ctx->scorer, ids, 1, L, &r->log_ppl, err)) {
        free(pred);
        return -1;
    }
    r->ppl = exp(r->log_ppl);
    r->dict_share = dictionary_share(ctx->dict, r->prompt_text, NULL);
    r->distinct_share = distinct_share(ids, L);
    // the objective on dev: what chose this prompt
    objective_weights(pt, &r->w_task, &r->w_interp);
    r->obj_task = r->eval[TUNE_DEV].loss;
    r->obj_interp = r->log_ppl;
    r->obj_total = r->w_task * r->obj_task + r->w_interp * r->obj_interp;
    double t_text = util_now();
    int text_failed = prompt_text_check(ctx, &test_split, pred, r, err); // pred: test once per prompt
    free(pred);
    if (text_failed) return -1;
    double t_end = util_now();
    if (ctx->progress) {
        char line[256];
        snprintf(line, sizeof line, "result: evaluation train+dev %.2f s, test %.2f s (prompt %.2f, continuous %.2f, "
                 "text %.2f for %ld rows not the prompt's; %d examples)", t_dev - t_start,
                 t_continuous - t_dev + t_end - t_text, t_test - t_dev, t_continuous - t_test, t_end - t_text,
                 lround((1.0 - r->roundtrip_share) * n), n);
        ctx->progress(ctx->progress_user, line);
    }
    // a number that is not finite fails the point: it must not reach a frontier as a result
    const struct { const char *name; double x; } checks[] = {
        {"train accuracy", r->train_acc}, {"dev accuracy", r->dev_acc}, {"test accuracy", r->test_acc},
        {"text accuracy", r->test_text_acc}, {"dev task loss", r->obj_task}, {"log-PPL", r->log_ppl},
        {"objective", r->obj_total}, {"continuous accuracy", r->acc_continuous},
        {"KL", r->kl_continuous_projected}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        if (!isfinite(checks[i].x)) return err_fail(err, "result: the %s is not finite (%g)", checks[i].name, checks[i].x);
    return 0;
}
