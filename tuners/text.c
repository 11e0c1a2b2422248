/*
 * tuners/text.c: prompts as text a person reads and reuses (the text parts of
 * tuners/tuners.h).
 *
 *   the prompt vocabulary  which ids a tuner may put in a prompt: never
 *                          <|endoftext|> (the scorer reads it as the start of
 *                          a new document, so a prompt full of them looks
 *                          fluent, and as text it is the 13 characters
 *                          "<|endoftext|>", seven tokens), optionally only
 *                          tokens that are whole characters (UTF-8) or
 *                          printable ASCII
 *   the round trip         a tuner scores ids; a reader gets text. The text
 *                          pasted into the template and encoded as one string
 *                          may not give back those ids: BPE merges across the
 *                          joins (" great" + "it" -> " greatit" may split
 *                          otherwise) and a token sequence need not be the
 *                          one BPE makes of its own text (" is" + "odd" ->
 *                          " isodd" -> " iso" + "dd"). The test accuracy of
 *                          the pasted text is what a reader who reuses the
 *                          prompt gets.
 */
#include <stdlib.h>
#include <string.h>

#include "tuners/tuners.h"

// ----------------------------------------------------------------------------
// the prompt vocabulary

/* Whether bytes (n) are well-formed UTF-8 with no control character but tab
 * and newline. */
static int is_text_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t len = gpt2_utf8_len(s + i, n - i);
        if (len == 0) return 0;
        if (len == 1 && ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n') || s[i] == 0x7F)) return 0;
        // C1 controls U+0080..U+009F are C2 80..C2 9F
        if (len == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0) return 0;
        i += len;
    }
    return 1;
}

static int is_printable_ascii(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E) return 0;
    return 1;
}

int prompt_vocab_mask(unsigned char *mask, const GPT2Tokenizer *tok, int V, PromptVocab kind,
                      int *n_allowed, Err *err) {
    int n = 0;
    for (int v = 0; v < V; v++) {
        size_t len = 0;
        const unsigned char *bytes = (const unsigned char *)tokenizer_token_bytes(tok, v, &len);
        int ok = v != GPT2_EOT && bytes && len > 0;
        if (ok && kind == PROMPT_VOCAB_UTF8) ok = is_text_utf8(bytes, len);
        if (ok && kind == PROMPT_VOCAB_ASCII) ok = is_printable_ascii(bytes, len);
        mask[v] = (unsigned char)ok;
        n += ok;
    }
    if (n_allowed) *n_allowed = n;
    if (n == 0) return err_fail(err, "prompt vocabulary: no token of the %d is allowed", V);
    return 0;
}

// ----------------------------------------------------------------------------
// the template filled with text

long template_fill(char *out, size_t cap, const char *tmpl, const char *prompt, const char *sentence) {
    size_t used = 0;
    for (const char *t = tmpl; *t;) {
        const char *piece = NULL;
        size_t n = 0;
        if (strncmp(t, "[P]", 3) == 0) {
            piece = prompt;
            t += 3;
        } else if (strncmp(t, "{sentence}", 10) == 0) {
            piece = sentence;
            t += 10;
        } else {
            piece = t++;
            n = 1;
        }
        if (!n) n = strlen(piece);
        if (used + n + 1 > cap) return -1;
        memcpy(out + used, piece, n);
        used += n;
    }
    if (cap == 0) return -1;
    out[used] = '\0';
    return (long)used;
}

// ----------------------------------------------------------------------------
// the round trip on the test split

/* Grows a buffer of ints to at least need (doubling). */
static int grow_ints(int **buf, size_t *cap, size_t need, Err *err) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    int *g = realloc(*buf, c * sizeof(int));
    if (!g) return err_fail(err, "text: out of memory (%zu tokens)", c);
    *buf = g;
    *cap = c;
    return 0;
}

/* Whether ids (n) are exactly example i's row pre ++ prompt (L) ++ post. */
static int same_row(const EncodedSplit *s, int i, const int *prompt, int L, const int *ids, int n) {
    if (n != s->pre_len[i] + L + s->post_len[i]) return 0;
    return memcmp(ids, s->ids + s->pre_off[i], (size_t)s->pre_len[i] * sizeof(int)) == 0 &&
           memcmp(ids + s->pre_len[i], prompt, (size_t)L * sizeof(int)) == 0 &&
           memcmp(ids + s->pre_len[i] + L, s->ids + s->post_off[i], (size_t)s->post_len[i] * sizeof(int)) == 0;
}

int prompt_text_check(TuneContext *ctx, const EncodedSplit *test, const int *pred, TuneResult *r, Err *err) {
    const TunePoint *pt = ctx->point;
    int L = r->prompt_length, n = test->n, context = ctx->model->config.n_positions;
    if (!pt) return err_fail(err, "text: no point in the context");
    if (!test->sent_off) return err_fail(err, "text: the test split has no sentence positions");
    const char *prompt = r->prompt_text;
    size_t prompt_bytes = strlen(prompt), tmpl_bytes = strlen(pt->template_text);

    // the prompt alone
    r->n_text_ids = 0;
    if (tokenizer_encode(ctx->tok, prompt, prompt_bytes, r->text_ids, 3 * TUNE_TEXT_BYTES, &r->n_text_ids, err))
        return -1;

    // the test split pasted: sentence text, whole string, its ids; the rows that are not the
    // prompt's own (whose class pred has) kept for the evaluator, m of them
    int *row = NULL, *rows = NULL, row_cap = 0;
    size_t rows_cap = 0, rows_used = 0;
    char *sentence = NULL, *filled = NULL;
    int *mem = malloc((size_t)5 * n * sizeof(int));
    int rc = -1, same = 0, truncated = 0, longest = 1, m = 0, correct = 0;
    Evaluator *own = NULL;
    if (!mem) {
        err_fail(err, "text: out of memory (%d examples)", n);
        goto done;
    }
    int *post_off = mem, *post_len = mem + n, *zeros = mem + 2 * n, *label = mem + 3 * n, *text_pred = mem + 4 * n;
    // the buffers for the longest sentence, once
    size_t longest_sentence = 0;
    for (int i = 0; i < n; i++) {
        size_t need = 0;
        Err probe; // a short buffer: need gets the size (a bad id fails again below)
        tokenizer_decode(ctx->tok, test->ids + test->sent_off[i], test->sent_len[i], NULL, 0, &need, &probe);
        if (need > longest_sentence) longest_sentence = need;
    }
    size_t filled_cap = longest_sentence + prompt_bytes + tmpl_bytes + 1;
    sentence = malloc(longest_sentence + 1);
    filled = malloc(filled_cap);
    if (!sentence || !filled) {
        err_fail(err, "text: out of memory (a sentence of %zu bytes)", longest_sentence);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        // the sentence as the model saw it: its kept tokens, decoded (the sentence itself when
        // it was not cut; byte-level BPE gives back the bytes of well-formed UTF-8)
        size_t sent_bytes = 0;
        if (tokenizer_decode(ctx->tok, test->ids + test->sent_off[i], test->sent_len[i], sentence,
                             longest_sentence + 1, &sent_bytes, err))
            goto done;
        if (template_fill(filled, filled_cap, pt->template_text, prompt, sentence) < 0) {
            err_fail(err, "text: the filled template of example %d does not fit", i);
            goto done;
        }
        int k = 0;
        if (encode_grow(ctx->tok, filled, strlen(filled), &row, &row_cap, &k, err)) goto done;
        int is_same = same_row(test, i, r->prompt_ids, L, row, k);
        same += is_same;
        if (is_same && pred) { // the prompt's own row, already classified
            correct += pred[i] == test->label[i];
            continue;
        }
        int start = 0;
        if (k > context) { // the label is read at the end: keep the end
            start = k - context;
            truncated++;
        }
        if (grow_ints(&rows, &rows_cap, rows_used + (size_t)(k - start), err)) goto done;
        memcpy(rows + rows_used, row + start, (size_t)(k - start) * sizeof(int));
        post_off[m] = (int)rows_used;
        post_len[m] = k - start;
        zeros[m] = 0;
        label[m] = test->label[i];
        rows_used += (size_t)(k - start);
        if (k - start > longest) longest = k - start;
        m++;
    }
    r->roundtrip_share = n > 0 ? (double)same / n : 0.0;
    r->roundtrip = n > 0 && same == n;
    r->text_truncated = truncated;

    // the pasted rows scored as they are (no prompt slot): by the run's evaluator when they
    // fit its rows, else by one made for them
    EncodedSplit text_split = {.n = m, .ids = rows, .pre_off = zeros, .pre_len = zeros, .post_off = post_off,
                               .post_len = post_len, .label = label, .max_pre = 0, .max_post = longest};
    Evaluator *ev = ctx->eval;
    if (m > 0 && longest > evaluator_max_T(ev)) {
        size_t bytes = (size_t)(ctx->point->activation_mb * tune_eval_share(ctx->point) * 1048576.0);
        if (evaluator_new_bounded(&own, ctx->model, ctx->label_ids, ctx->n_classes, 16, longest, bytes, 0, err))
            goto done;
        ev = own;
    }
    EvalResult res;
    if (m > 0 && eval_prompts_pred(ev, &text_split, NULL, 1, 0, &res, NULL, text_pred, err)) goto done;
    for (int j = 0; j < m; j++) correct += text_pred[j] == label[j];
    r->test_text_acc = n > 0 ? (double)correct / n : 0.0;
    rc = 0;
done:
    evaluator_free(own);
    free(mem);
    free(row);
    free(rows);
    free(sentence);
    free(filled);
    return rc;
}
