/*
 * tests/test_tuners_task.c: tuners/task.c and tuners/interp.c.
 *   - every real split in $SHARED/data loads (CRLF, quotes, "text" column),
 *     and crafted bad files give clear errors;
 *   - the task table and the verbalizer ids with the real tokenizer;
 *   - encode_split with both default templates, literals on both sides, and
 *     truncation;
 *   - the Evaluator against a direct gpt2_forward, cached vs uncached, soft
 *     prompts equal to wte rows vs ids, odd batch sizes;
 *   - gap_reward and mean_kl on hand values;
 *   - the Scorer against a direct full-vocabulary computation;
 *   - the Dictionary on known tokens; result_finish end to end; the empty
 *     manual prompt (the template alone: log-PPL 0, the accuracies of no prompt).
 * A tiny random checkpoint (V = 50257, so real token ids work) is written with
 * gpt2_save into a scratch directory ($TMP or /tmp) and loaded back.
 * Env: SHARED (default ../shared), TOKENIZER_DIR (default models/gpt2-tokenizer).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkdtemp, nftw
#endif
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tuners/tuners.h"

#define TEST_NAME "test_tuners_task"
#include "tests/testlib.h"


// ----------------------------------------------------------------------------
// scratch files


/* Writes text into root/name; returns the path (static storage, one at a time per slot). */
static const char *scratch_file(const char *name, const char *text) {
    static char paths[4][4200];
    static int slot;
    char *path = paths[slot++ % 4];
    path_in(path, sizeof paths[0], root, name);
    write_text(root, name, text);
    return path;
}

// ----------------------------------------------------------------------------
// a tiny random checkpoint

static uint64_t rng_state = 7;

/* Writes a random GPT-2 (2 layers, 2 heads, C = 32, full vocabulary, layer-norm
 * gains around 1) into dir with gpt2_save and loads it back into m. */
static void tiny_model(GPT2Model *m, const char *dir, int n_positions) {
    GPT2Config c = {.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = n_positions,
                    .vocab_size = 50257, .layer_norm_epsilon = 1e-5f};
    size_t n = gpt2_num_params(&c);
    float *params = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) params[i] = 0.3f * sum_of_uniforms(&rng_state);
    GPT2Model made;
    model_on_params(&made, c, params);
    Err err;
    if (gpt2_save(&c, &made.w, dir, &err) || gpt2_load(m, dir, &err)) die("tiny model: %s", err.msg);
    free(made.blocks_storage);
    free(params);
}

// ----------------------------------------------------------------------------
// splits

typedef struct {
    const char *task;
    int classes, test_rows;
} RealTask;

static const RealTask REAL[] = {
    {"sst-2", 2, 1821}, {"mr", 2, 2000}, {"cr", 2, 2000}, {"subj", 2, 2000},
    {"trec", 6, 500}, {"sst-5", 5, 2210}, {"agnews", 4, 7600}, {"yahoo", 10, 60000},
};
static const char *const SEEDS[] = {"16-100", "16-13", "16-21", "16-42", "16-87"};

/* Every text is clean: no CR, no tab, no newline (lines were split right). */
static int split_clean(const Split *s, int n_classes, int counts[TUNE_MAX_CLASSES]) {
    for (int k = 0; k < TUNE_MAX_CLASSES; k++) counts[k] = 0;
    for (int i = 0; i < s->n; i++) {
        if (strpbrk(s->text[i], "\r\n\t")) return 0;
        if (s->label[i] < 0 || s->label[i] >= n_classes) return 0;
        counts[s->label[i]]++;
    }
    return 1;
}

static int any_text_contains(const Split *s, const char *needle) {
    for (int i = 0; i < s->n; i++)
        if (strstr(s->text[i], needle)) return 1;
    return 0;
}

static void test_real_splits(const char *shared) {
    char path[4200];
    Err err;
    Split s;
    int counts[TUNE_MAX_CLASSES];
    for (size_t t = 0; t < sizeof REAL / sizeof REAL[0]; t++) {
        const RealTask *rt = &REAL[t];
        for (size_t k = 0; k < sizeof SEEDS / sizeof SEEDS[0]; k++)
            for (int which = 0; which < 2; which++) {
                snprintf(path, sizeof path, "%s/data/fewshot/%s/%s/%s.tsv", shared, rt->task, SEEDS[k],
                         which ? "dev" : "train");
                int rc = split_load(&s, path, rt->classes, &err);
                CHECK(rc == 0, "%s: %s", path, err.msg);
                if (rc) continue;
                CHECK(s.n == 16 * rt->classes, "%s: %d rows, want %d", path, s.n, 16 * rt->classes);
                CHECK(split_clean(&s, rt->classes, counts), "%s: a text holds CR/LF/tab or a bad label", path);
                if (strcmp(rt->task, "cr") == 0 && strcmp(SEEDS[k], "16-42") == 0 && which == 1)
                    CHECK(any_text_contains(&s, "the \" scene \" mode works well"),
                          "%s: quotes inside an unquoted field changed", path);
                for (int c = 0; c < rt->classes; c++)
                    CHECK(counts[c] == 16, "%s: class %d has %d examples, want 16", path, c, counts[c]);
                split_free(&s);
            }
        snprintf(path, sizeof path, "%s/data/fewshot/%s/test.tsv", shared, rt->task);
        int rc = split_load(&s, path, rt->classes, &err);
        CHECK(rc == 0, "%s: %s", path, err.msg);
        if (rc) continue;
        CHECK(s.n == rt->test_rows, "%s: %d rows, want %d", path, s.n, rt->test_rows);
        CHECK(split_clean(&s, rt->classes, counts), "%s: a text holds CR/LF/tab or a bad label", path);
        if (strcmp(rt->task, "agnews") == 0) {
            CHECK(counts[0] == 1900 && counts[3] == 1900, "agnews test: %d / %d in classes 0 / 3", counts[0], counts[3]);
            // a quoted field: unquoted, its doubled quotes single
            CHECK(any_text_contains(&s, "Edvard Munch's masterpiece \"The Scream\" and another famous painting"),
                  "agnews test: the quoted Munch text was not unquoted");
            CHECK(!any_text_contains(&s, "\"\"The Scream\"\""), "agnews test: doubled quotes left in");
        }
        if (strcmp(rt->task, "sst-2") == 0)
            CHECK(counts[0] == 912 && counts[1] == 909, "sst-2 test: %d / %d", counts[0], counts[1]);
        split_free(&s);
    }
    // full GLUE SST-2: LF train/dev, CRLF test
    const struct { const char *name; int rows, neg; } glue[] = {
        {"train", 67349, 29780}, {"dev", 872, 428}, {"test", 1821, 917}};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/data/sst2/%s.tsv", shared, glue[i].name);
        int rc = split_load(&s, path, 2, &err);
        CHECK(rc == 0, "%s: %s", path, err.msg);
        if (rc) continue;
        CHECK(s.n == glue[i].rows, "%s: %d rows, want %d", path, s.n, glue[i].rows);
        CHECK(split_clean(&s, 2, counts) && counts[0] == glue[i].neg, "%s: %d negatives, want %d", path,
              counts[0], glue[i].neg);
        split_free(&s);
    }
}

/* A bad file fails with a message holding each of the given pieces. */
static void expect_split_error(const char *path, int n_classes, const char *piece1, const char *piece2) {
    Split s;
    Err err = {{0}};
    int rc = split_load(&s, path, n_classes, &err);
    CHECK(rc != 0, "%s loaded, expected an error with \"%s\"", path, piece1);
    if (rc == 0) {
        split_free(&s);
        return;
    }
    CHECK(strstr(err.msg, piece1) && (!piece2 || strstr(err.msg, piece2)), "%s: message \"%s\" lacks \"%s\"%s%s",
          path, err.msg, piece1, piece2 ? " / " : "", piece2 ? piece2 : "");
    CHECK(s.n == 0 && s.storage == NULL, "a failed load left a split behind");
}

static void test_crafted_splits(void) {
    Err err;
    Split s;
    // BOM, CRLF, a quoted field with doubled quotes, inner quotes, a tab inside the text, blank lines
    const char *good = scratch_file("good.tsv",
        "\xEF\xBB\xBFsentence\tlabel\r\n"
        "\"say \"\"hi\"\" now\"\t1\r\n"
        "plain \"q\" text\t0\r\n"
        "\r\n"
        "left\tright\t1\r\n"
        "\"lone \" quote\"\t0\r\n");
    int rc = split_load(&s, good, 2, &err);
    CHECK(rc == 0, "good.tsv: %s", err.msg);
    if (rc == 0) {
        CHECK(s.n == 4, "good.tsv: %d rows, want 4", s.n);
        if (s.n == 4) {
            CHECK(strcmp(s.text[0], "say \"hi\" now") == 0, "quoted field: [%s]", s.text[0]);
            CHECK(strcmp(s.text[1], "plain \"q\" text") == 0, "inner quotes: [%s]", s.text[1]);
            CHECK(strcmp(s.text[2], "left\tright") == 0, "split at the last tab: [%s]", s.text[2]);
            CHECK(strcmp(s.text[3], "\"lone \" quote\"") == 0, "a lone inner quote keeps the field: [%s]", s.text[3]);
            CHECK(s.label[0] == 1 && s.label[1] == 0 && s.label[2] == 1 && s.label[3] == 0, "labels %d %d %d %d",
                  s.label[0], s.label[1], s.label[2], s.label[3]);
        }
        split_free(&s);
    }
    // "text" column, columns before it, no trailing newline
    const char *text_col = scratch_file("textcol.tsv", "id\ttext\tlabel\n7\tan id first\t2\n8\tsecond\t0");
    rc = split_load(&s, text_col, 3, &err);
    CHECK(rc == 0, "textcol.tsv: %s", err.msg);
    if (rc == 0) {
        CHECK(s.n == 2 && strcmp(s.text[0], "an id first") == 0 && s.label[0] == 2 && strcmp(s.text[1], "second") == 0,
              "id/text/label columns: n %d [%s]", s.n, s.n ? s.text[0] : "");
        split_free(&s);
    }

    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no-such.tsv", root);
    expect_split_error(missing, 2, "cannot open", "no-such.tsv");
    // a FIFO or a directory as a split: refused at once, never waited on
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/split.fifo", root);
    if (mkfifo(fifo, 0644) != 0) die("mkfifo %s", fifo);
    expect_split_error(fifo, 2, "not a regular file", "split.fifo");
    expect_split_error(root, 2, "not a regular file", NULL);
    expect_split_error(scratch_file("empty.tsv", ""), 2, "empty", NULL);
    expect_split_error(scratch_file("header.tsv", "sentence\tlabel\n"), 2, "empty split", "header.tsv");
    expect_split_error(scratch_file("badhdr.tsv", "review\tlabel\nfine\t1\n"), 2, "bad header", "review");
    expect_split_error(scratch_file("order.tsv", "label\tsentence\n1\tfine\n"), 2, "bad header", NULL);
    expect_split_error(scratch_file("range.tsv", "sentence\tlabel\nok\t1\nbad\t2\n"), 2, ":3:", "out of range 0..1");
    expect_split_error(scratch_file("neg.tsv", "sentence\tlabel\nbad\t-1\n"), 2, ":2:", "out of range");
    expect_split_error(scratch_file("word.tsv", "sentence\tlabel\r\nbad\tpositive\r\n"), 2, ":2:", "not an integer");
    expect_split_error(scratch_file("nolabel.tsv", "sentence\tlabel\nbad\t\n"), 2, ":2:", "not an integer");
    expect_split_error(scratch_file("notab.tsv", "sentence\tlabel\nfine\t0\nno tab here\n"), 2, ":3: no tab", NULL);
    expect_split_error(scratch_file("fields.tsv", "id\tsentence\tlabel\nonly\t0\n"), 2, ":2:", "too few fields");
}

// ----------------------------------------------------------------------------
// tasks and verbalizers

static void test_tasks(GPT2Tokenizer *tok) {
    Err err;
    const char *names[] = {"sst-2", "mr", "cr", "subj", "trec", "sst-5", "agnews", "yahoo"};
    const int classes[] = {2, 2, 2, 2, 6, 5, 4, 10};
    for (int t = 0; t < 8; t++) {
        const TaskSpec *spec = task_spec(names[t]);
        CHECK(spec && spec->n_classes == classes[t], "task %s", names[t]);
        if (!spec) continue;
        int ids[TUNE_MAX_CLASSES];
        int rc = verbalizer_ids(tok, spec->verbalizers, spec->n_classes, ids, &err);
        CHECK(rc == 0, "task %s: %s", names[t], err.msg);
        for (int k = 0; rc == 0 && k < spec->n_classes; k++) {
            // the id is the vocab.json token: a leading space is the byte-level "Ġ"
            const char *v = spec->verbalizers[k];
            char vocab_string[80];
            if (v[0] == ' ') snprintf(vocab_string, sizeof vocab_string, "\xC4\xA0%s", v + 1);
            else snprintf(vocab_string, sizeof vocab_string, "%s", v);
            CHECK(ids[k] == tokenizer_lookup(tok, vocab_string), "task %s verbalizer \"%s\": id %d, vocab %d",
                  names[t], v, ids[k], tokenizer_lookup(tok, vocab_string));
        }
    }
    CHECK(strcmp(task_spec("sst-2")->verbalizers[1], " great") == 0, "sst-2 verbalizer 1");
    CHECK(strcmp(task_spec("agnews")->verbalizers[3], "Tech") == 0, "agnews verbalizer 3 has no space");
    CHECK(strcmp(task_spec("yahoo")->verbalizers[9], "politics") == 0, "yahoo verbalizer 9");
    CHECK(strcmp(task_spec("trec")->verbalizers[0], " Description") == 0, "trec verbalizer 0");
    CHECK(task_spec("sst2") == NULL && task_spec("custom") == NULL && task_spec(NULL) == NULL, "unknown tasks");

    int ids[4];
    const char *multi[] = {" great", " terribleness"};
    CHECK(verbalizer_ids(tok, multi, 2, ids, &err) != 0 && strstr(err.msg, "\" terribleness\"") &&
          strstr(err.msg, "tokens"), "a multi-token verbalizer: %s", err.msg);
    const char *empty[] = {"", " great"};
    CHECK(verbalizer_ids(tok, empty, 2, ids, &err) != 0 && strstr(err.msg, "no token"), "an empty verbalizer: %s", err.msg);
    const char *same[] = {" great", " great"};
    CHECK(verbalizer_ids(tok, same, 2, ids, &err) != 0 && strstr(err.msg, "same"), "two equal verbalizers: %s", err.msg);
}

// ----------------------------------------------------------------------------
// templates

static int encode_text(GPT2Tokenizer *tok, const char *text, int *ids, int cap) {
    int n = 0;
    Err err;
    if (tokenizer_encode(tok, text, strlen(text), ids, cap, &n, &err)) die("encode \"%s\": %s", text, err.msg);
    return n;
}

static int same_ids(const int *a, const int *b, int n) { return n == 0 || memcmp(a, b, (size_t)n * sizeof(int)) == 0; }

static void test_encode(GPT2Tokenizer *tok) {
    Err err;
    Split s;
    const char *path = scratch_file("enc.tsv",
        "sentence\tlabel\n"
        "a gorgeous , witty , seductive movie .\t1\n"
        "the plot is nothing but boilerplate clichés from start to finish .\t0\n"
        "\t1\n");
    if (split_load(&s, path, 2, &err)) die("enc.tsv: %s", err.msg);
    CHECK(s.n == 3 && s.text[2][0] == '\0', "an empty sentence is an example");
    int sent[3][64], n_sent[3], it_was[8], prefix[8];
    for (int i = 0; i < 3; i++) n_sent[i] = encode_text(tok, s.text[i], sent[i], 64);
    int n_it = encode_text(tok, " It was", it_was, 8);
    int n_pre = encode_text(tok, "Review:", prefix, 8);

    // PEZ: [P]{sentence} It was: nothing before the prompt
    EncodedSplit e;
    int rc = encode_split(&e, &s, "[P]{sentence} It was", tok, 128, &err);
    CHECK(rc == 0, "PEZ template: %s", err.msg);
    if (rc == 0) {
        for (int i = 0; i < 3; i++) {
            CHECK(e.pre_len[i] == 0 && e.post_len[i] == n_sent[i] + n_it, "PEZ example %d: pre %d post %d", i,
                  e.pre_len[i], e.post_len[i]);
            CHECK(same_ids(e.ids + e.post_off[i], sent[i], n_sent[i]) &&
                  same_ids(e.ids + e.post_off[i] + n_sent[i], it_was, n_it), "PEZ example %d: post ids", i);
            CHECK(e.label[i] == s.label[i], "PEZ example %d: label", i);
        }
        CHECK(e.max_pre == 0 && e.max_post == n_sent[1] + n_it, "PEZ max_pre %d max_post %d", e.max_pre, e.max_post);
        encoded_split_free(&e);
    }
    // RLPrompt: {sentence}[P]: nothing after the prompt
    rc = encode_split(&e, &s, "{sentence}[P]", tok, 128, &err);
    CHECK(rc == 0, "RLPrompt template: %s", err.msg);
    if (rc == 0) {
        for (int i = 0; i < 3; i++)
            CHECK(e.pre_len[i] == n_sent[i] && e.post_len[i] == 0 && same_ids(e.ids + e.pre_off[i], sent[i], n_sent[i]),
                  "RLPrompt example %d: pre %d post %d", i, e.pre_len[i], e.post_len[i]);
        CHECK(e.max_pre == n_sent[1] && e.max_post == 0, "RLPrompt max_pre %d", e.max_pre);
        encoded_split_free(&e);
    }
    // literals on both sides of the prompt, and truncation: 5 tokens leave 5 - 1 - 2 for the sentence
    rc = encode_split(&e, &s, "Review:{sentence}[P] It was", tok, 5, &err);
    CHECK(rc == 0 && n_pre == 2, "both sides: %s (Review: is %d tokens)", err.msg, n_pre);
    if (rc == 0) {
        int keep = 5 - n_pre - n_it;
        CHECK(e.pre_len[0] == n_pre + keep && e.post_len[0] == n_it, "truncated example: pre %d post %d",
              e.pre_len[0], e.post_len[0]);
        CHECK(same_ids(e.ids + e.pre_off[0], prefix, n_pre) && same_ids(e.ids + e.pre_off[0] + n_pre, sent[0], keep) &&
              same_ids(e.ids + e.post_off[0], it_was, n_it), "truncated example: ids are the first tokens");
        for (int i = 0; i < 3; i++)
            CHECK(e.pre_len[i] + e.post_len[i] <= 5, "example %d: %d tokens > max_tokens", i, e.pre_len[i] + e.post_len[i]);
        CHECK(e.pre_len[2] == n_pre, "empty sentence: pre %d", e.pre_len[2]);
        encoded_split_free(&e);
    }
    // the prompt is not re-tokenized with its neighbours: "[P]" splits the literals
    rc = encode_split(&e, &s, "{sentence} It[P]was", tok, 128, &err);
    CHECK(rc == 0 && e.post_len[0] == encode_text(tok, "was", it_was, 8), "post literal alone: %s", err.msg);
    if (rc == 0) encoded_split_free(&e);

    CHECK(encode_split(&e, &s, "{sentence} It was", tok, 128, &err) != 0 && strstr(err.msg, "[P]"), "no [P]: %s", err.msg);
    CHECK(encode_split(&e, &s, "[P]{sentence}[P]", tok, 128, &err) != 0 && strstr(err.msg, "exactly once"),
          "two [P]: %s", err.msg);
    CHECK(encode_split(&e, &s, "[P] It was", tok, 128, &err) != 0 && strstr(err.msg, "{sentence}"), "no {sentence}: %s",
          err.msg);
    CHECK(encode_split(&e, &s, "[P]{sentence} It was", tok, 2, &err) != 0 && strstr(err.msg, "no room"),
          "template over max_tokens: %s", err.msg);
    CHECK(e.storage == NULL, "a failed encode left storage behind");
    split_free(&s);
}

// ----------------------------------------------------------------------------
// the evaluator

/* Probabilities of example i under prompt p computed directly: the whole
 * sequence in one row, the full (V) logits at its last position. */
static void direct_probs(const GPT2Model *m, const EncodedSplit *e, int i, const int *prompt, int L,
                         const int *label_ids, int K, float *p) {
    int n = e->pre_len[i] + L + e->post_len[i];
    int *ids = xmalloc((size_t)n * sizeof(int));
    memcpy(ids, e->ids + e->pre_off[i], (size_t)e->pre_len[i] * sizeof(int));
    memcpy(ids + e->pre_len[i], prompt, (size_t)L * sizeof(int));
    memcpy(ids + e->pre_len[i] + L, e->ids + e->post_off[i], (size_t)e->post_len[i] * sizeof(int));
    GPT2Acts a;
    Err err;
    int last = n - 1;
    GPT2Batch b = {.B = 1, .T = n, .ids = ids, .out_pos = &last, .n_out = 1};
    if (gpt2_acts_alloc(&a, &m->config, 1, n, n, 1, 0, &err) || gpt2_forward(m, &a, &b, &err)) die("direct: %s", err.msg);
    double maxv = -1e30, sum = 0;
    for (int k = 0; k < K; k++) maxv = fmax(maxv, a.logits[label_ids[k]]);
    for (int k = 0; k < K; k++) sum += exp(a.logits[label_ids[k]] - maxv);
    for (int k = 0; k < K; k++) p[k] = (float)(exp(a.logits[label_ids[k]] - maxv) / sum);
    gpt2_acts_free(&a);
    free(ids);
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float d = 0;
    for (size_t i = 0; i < n; i++) d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

/* The scores implied by the probabilities: accuracy, gap reward, CE, and per
 * class: recall, the share predicted, balanced accuracy. */
static void scores_from_probs(const float *probs, const EncodedSplit *e, int K, EvalResult *r) {
    memset(r, 0, sizeof *r);
    int class_n[TUNE_MAX_CLASSES] = {0};
    for (int i = 0; i < e->n; i++) {
        const float *p = probs + (size_t)i * K;
        int best = 0;
        for (int k = 1; k < K; k++) best = p[k] > p[best] ? k : best;
        r->accuracy += best == e->label[i];
        r->reward += gap_reward(p, K, e->label[i]);
        r->loss += -log(p[e->label[i]]);
        class_n[e->label[i]]++;
        r->class_accuracy[e->label[i]] += best == e->label[i];
        r->prediction_share[best] += 1.0 / e->n;
    }
    r->accuracy /= e->n;
    r->reward /= e->n;
    r->loss /= e->n;
    int present = 0;
    for (int k = 0; k < K; k++) {
        if (!class_n[k]) { r->class_accuracy[k] = NAN; continue; }
        r->class_accuracy[k] /= class_n[k];
        r->balanced_accuracy += r->class_accuracy[k];
        present++;
    }
    r->balanced_accuracy /= present;
}

/* Whether the per-class scores of a and b agree (NaN where both are). */
static int same_class_scores(const EvalResult *a, const EvalResult *b, int K) {
    if (fabs(a->balanced_accuracy - b->balanced_accuracy) > 1e-12) return 0;
    for (int k = 0; k < K; k++) {
        int nan_a = isnan(a->class_accuracy[k]), nan_b = isnan(b->class_accuracy[k]);
        if (nan_a != nan_b || (!nan_a && fabs(a->class_accuracy[k] - b->class_accuracy[k]) > 1e-12)) return 0;
        if (fabs(a->prediction_share[k] - b->prediction_share[k]) > 1e-12) return 0;
    }
    return 1;
}

static void test_evaluator(const GPT2Model *m, GPT2Tokenizer *tok, const char *shared) {
    Err err;
    Split s;
    char path[4200];
    snprintf(path, sizeof path, "%s/data/fewshot/sst-2/16-42/train.tsv", shared);
    if (split_load(&s, path, 2, &err)) die("%s", err.msg);
    int label_ids[2];
    const char *verb[2] = {" terrible", " great"};
    if (verbalizer_ids(tok, verb, 2, label_ids, &err)) die("%s", err.msg);
    const int K = 2, P = 3, L = 4, C = m->config.n_embd;
    int prompts[3 * 4] = {464, 3807, 318, 1049, 50256, 11, 13, 5, 40, 1842, 340, 0};

    for (int t = 0; t < 2; t++) {
        const char *tmpl = t ? "[P]{sentence} It was" : "{sentence}[P]";
        EncodedSplit e;
        if (encode_split(&e, &s, tmpl, tok, 48, &err)) die("%s", err.msg);
        int n = e.n, max_T = L + 48;
        Evaluator *plain, *cached;
        // 7 rows: batches cut across prompts and examples, ragged widths
        if (evaluator_new(&plain, m, label_ids, K, 7, max_T, &err) ||
            evaluator_new(&cached, m, label_ids, K, 7, max_T, &err) || evaluator_cache(cached, &e, &err) ||
            evaluator_cache(cached, &e, &err))
            die("evaluator (%s): %s", tmpl, err.msg);
        float *probs = xmalloc((size_t)P * n * K * sizeof(float)), *probs_c = xmalloc((size_t)P * n * K * sizeof(float));
        EvalResult res[3], res_c[3], implied;
        CHECK(eval_prompts(plain, &e, prompts, P, L, res, probs, &err) == 0, "%s uncached: %s", tmpl, err.msg);
        CHECK(eval_prompts(cached, &e, prompts, P, L, res_c, probs_c, &err) == 0, "%s cached: %s", tmpl, err.msg);
        float d = max_abs_diff(probs, probs_c, (size_t)P * n * K);
        CHECK(d < 1e-5f, "%s: cached probs differ by %g", tmpl, d);
        for (int p = 0; p < P; p++) {
            CHECK(res[p].accuracy == res_c[p].accuracy, "%s prompt %d: accuracy %g cached %g", tmpl, p,
                  res[p].accuracy, res_c[p].accuracy);
            CHECK(fabs(res[p].loss - res_c[p].loss) < 1e-5 && fabs(res[p].reward - res_c[p].reward) < 1e-3,
                  "%s prompt %d: loss/reward differ when cached", tmpl, p);
            scores_from_probs(probs + (size_t)p * n * K, &e, K, &implied);
            CHECK(implied.accuracy == res[p].accuracy && fabs(implied.reward - res[p].reward) < 1e-9 &&
                  fabs(implied.loss - res[p].loss) < 1e-5, "%s prompt %d: scores (%g %g %g) vs probs (%g %g %g)", tmpl,
                  p, res[p].accuracy, res[p].reward, res[p].loss, implied.accuracy, implied.reward, implied.loss);
            CHECK(same_class_scores(&implied, &res[p], K), "%s prompt %d: per-class scores (balanced %g, recall %g %g, "
                  "predicted %g %g) vs probs (%g, %g %g, %g %g)", tmpl, p, res[p].balanced_accuracy,
                  res[p].class_accuracy[0], res[p].class_accuracy[1], res[p].prediction_share[0],
                  res[p].prediction_share[1], implied.balanced_accuracy, implied.class_accuracy[0],
                  implied.class_accuracy[1], implied.prediction_share[0], implied.prediction_share[1]);
            CHECK(fabs(res[p].prediction_share[0] + res[p].prediction_share[1] - 1) < 1e-12 &&
                      majority_share(&res[p], K) >= 0.5,
                  "%s prompt %d: prediction shares %g %g", tmpl, p, res[p].prediction_share[0], res[p].prediction_share[1]);
            CHECK(res[p].accuracy >= 0 && res[p].accuracy <= 1 && res[p].reward >= -180 && res[p].reward <= 200,
                  "%s prompt %d: scores out of range", tmpl, p);
        }
        // against the full forward, for a few (prompt, example) pairs
        for (int p = 0; p < P; p++)
            for (int i = 0; i < n; i += 11) {
                float direct[2];
                direct_probs(m, &e, i, prompts + p * L, L, label_ids, K, direct);
                float dd = max_abs_diff(direct, probs + ((size_t)p * n + i) * K, K);
                CHECK(dd < 1e-5f, "%s prompt %d example %d: %g from the direct forward", tmpl, p, i, dd);
            }
        // one prompt alone gives the same as inside a batch of three
        EvalResult one;
        float *probs1 = xmalloc((size_t)n * K * sizeof(float));
        CHECK(eval_prompts(cached, &e, prompts + L, 1, L, &one, probs1, &err) == 0, "%s", err.msg);
        CHECK(max_abs_diff(probs1, probs + (size_t)n * K, (size_t)n * K) < 1e-5f && one.accuracy == res[1].accuracy,
              "%s: prompt 1 alone differs from prompt 1 in a batch", tmpl);
        // within a memory budget (two rows a batch), in another order (the examples reversed): the
        // same scores, each example's in its place; pred is the class accuracy counts
        {
            ActsNeed need = {.max_rows = 7, .max_T = max_T, .min_rows = 1, .min_tokens = max_T, .mean_T = max_T,
                             .position_bytes = (size_t)C * sizeof(float) + sizeof(int) + 1};
            size_t two_rows = acts_need_bytes(&m->config, &need, 2, 2 * max_T);
            Evaluator *small, *tiny;
            int rows = 0;
            if (evaluator_new_bounded(&small, m, label_ids, K, 7, max_T, two_rows, 0, &err) ||
                (t == 0 && evaluator_cache(small, &e, &err)))
                die("bounded evaluator: %s", err.msg);
            size_t bytes = evaluator_bytes(small, &rows, NULL);
            CHECK(rows == 2 && bytes <= two_rows, "%s: %zu bytes gave %d rows (%zu bytes)", tmpl, two_rows, rows, bytes);
            // below one row: one row all the same, and evaluator_bytes says it is more than was given
            CHECK(evaluator_new_bounded(&tiny, m, label_ids, K, 7, max_T, two_rows / 4, 0, &err) == 0,
                  "%s: a budget below one row: %s", tmpl, err.msg);
            if (tiny) {
                bytes = evaluator_bytes(tiny, &rows, NULL);
                CHECK(rows == 1 && bytes > two_rows / 4, "%s: below one row: %d rows, %zu bytes", tmpl, rows, bytes);
                evaluator_free(tiny);
            }
            EncodedSplit rev = e;
            int *mem = xmalloc((size_t)7 * n * sizeof(int));
            int *arrays[7] = {rev.pre_off = mem, rev.pre_len = mem + n, rev.post_off = mem + 2 * n,
                              rev.post_len = mem + 3 * n, rev.label = mem + 4 * n, rev.sent_off = mem + 5 * n,
                              rev.sent_len = mem + 6 * n};
            const int *from[7] = {e.pre_off, e.pre_len, e.post_off, e.post_len, e.label, e.sent_off, e.sent_len};
            for (int a = 0; a < 7; a++)
                for (int i = 0; i < n; i++) arrays[a][i] = from[a][n - 1 - i];
            float *probs_s = xmalloc((size_t)P * n * K * sizeof(float)), *probs_r = xmalloc((size_t)P * n * K * sizeof(float));
            int *pred = xmalloc((size_t)2 * P * n * sizeof(int)), *pred_r = pred + P * n;
            EvalResult res_s[3], res_r[3];
            CHECK(eval_prompts_pred(small, &e, prompts, P, L, res_s, probs_s, pred, &err) == 0 &&
                  eval_prompts_pred(t == 0 ? cached : plain, &rev, prompts, P, L, res_r, probs_r, pred_r, &err) == 0,
                  "%s, bounded or reversed: %s", tmpl, err.msg);
            float ds = max_abs_diff(probs_s, t == 0 ? probs_c : probs, (size_t)P * n * K), dr = 0;
            int pred_ok = 1;
            for (int p = 0; p < P; p++) {
                int correct = 0;
                for (int i = 0; i < n; i++) {
                    const float *q = probs_s + ((size_t)p * n + i) * K, *qr = probs_r + ((size_t)p * n + n - 1 - i) * K;
                    dr = fmaxf(dr, max_abs_diff(q, qr, K));
                    int k = pred[p * n + i];
                    correct += k == e.label[i];
                    pred_ok = pred_ok && k >= 0 && k < K && q[k] >= q[1 - k] && pred_r[p * n + n - 1 - i] == k;
                }
                CHECK(res_s[p].accuracy == res[p].accuracy && res_r[p].accuracy == res[p].accuracy &&
                      correct == lround(res[p].accuracy * n) && fabs(res_s[p].loss - res[p].loss) < 1e-5 &&
                      fabs(res_r[p].loss - res[p].loss) < 1e-5 && same_class_scores(&res_s[p], &res[p], K) &&
                      same_class_scores(&res_r[p], &res[p], K),
                      "%s prompt %d: accuracy %g, bounded %g, reversed %g, pred %d of %d", tmpl, p, res[p].accuracy,
                      res_s[p].accuracy, res_r[p].accuracy, correct, n);
            }
            CHECK(ds < 1e-5f && dr < 1e-5f && pred_ok, "%s: bounded probs %g away, reversed %g; pred %s", tmpl, ds, dr,
                  pred_ok ? "ok" : "not the argmax");
            free(probs_s);
            free(probs_r);
            free(pred);
            free(mem);
            evaluator_free(small);
        }
        // a soft prompt of wte rows is the ids prompt
        float *soft = xmalloc((size_t)L * C * sizeof(float));
        for (int j = 0; j < L; j++) memcpy(soft + (size_t)j * C, m->w.wte + (size_t)prompts[j] * C, C * sizeof(float));
        EvalResult sr;
        for (int c = 0; c < 2; c++) {
            CHECK(eval_soft_prompt(c ? cached : plain, &e, soft, L, &sr, probs1, &err) == 0, "%s soft: %s", tmpl, err.msg);
            float ds = max_abs_diff(probs1, probs, (size_t)n * K);
            CHECK(ds < 1e-5f && sr.accuracy == res[0].accuracy, "%s soft prompt (%s): probs differ by %g, acc %g vs %g",
                  tmpl, c ? "cached" : "uncached", ds, sr.accuracy, res[0].accuracy);
        }
        // errors: a bad id, a row that does not fit
        int bad[4] = {1, 2, 50257, 3};
        CHECK(eval_prompts(plain, &e, bad, 1, L, res, NULL, &err) != 0 && strstr(err.msg, "50257"), "bad id: %s", err.msg);
        Evaluator *narrow;
        if (evaluator_new(&narrow, m, label_ids, K, 4, 8, &err)) die("%s", err.msg);
        CHECK(eval_prompts(narrow, &e, prompts, 1, L, res, NULL, &err) != 0 && strstr(err.msg, "positions"),
              "rows too short: %s", err.msg);
        CHECK(t == 1 || (evaluator_cache(narrow, &e, &err) != 0 && strstr(err.msg, "pre tokens")),
              "cache wider than the rows: %s", err.msg);
        evaluator_free(narrow);
        free(soft);
        free(probs1);
        free(probs);
        free(probs_c);
        evaluator_free(plain);
        evaluator_free(cached);
        encoded_split_free(&e);
    }
    // an empty sentence under {sentence}[P]: its cache row stays empty, the prompt starts at position 0
    Split small;
    const char *path2 = scratch_file("eval-empty.tsv", "sentence\tlabel\nfine film .\t1\n\t0\na dull , dull mess\t0\n");
    EncodedSplit e2;
    if (split_load(&small, path2, 2, &err) || encode_split(&e2, &small, "{sentence}[P]", tok, 48, &err)) die("%s", err.msg);
    CHECK(e2.pre_len[1] == 0 && e2.post_len[1] == 0, "empty example: pre %d post %d", e2.pre_len[1], e2.post_len[1]);
    Evaluator *plain2, *cached2;
    if (evaluator_new(&plain2, m, label_ids, K, 5, L + 48, &err) || evaluator_new(&cached2, m, label_ids, K, 5, L + 48, &err) ||
        evaluator_cache(cached2, &e2, &err))
        die("%s", err.msg);
    float pa[3 * 3 * 2], pb[3 * 3 * 2];
    EvalResult ra[3], rb[3];
    CHECK(eval_prompts(plain2, &e2, prompts, P, L, ra, pa, &err) == 0 && eval_prompts(cached2, &e2, prompts, P, L, rb, pb, &err) == 0,
          "empty example: %s", err.msg);
    CHECK(max_abs_diff(pa, pb, sizeof pa / sizeof pa[0]) < 1e-5f && ra[2].accuracy == rb[2].accuracy,
          "empty example: cached and uncached differ by %g", max_abs_diff(pa, pb, sizeof pa / sizeof pa[0]));
    for (int p = 0; p < P; p++) {
        float direct[2];
        direct_probs(m, &e2, 1, prompts + p * L, L, label_ids, K, direct);
        CHECK(max_abs_diff(direct, pb + ((size_t)p * 3 + 1) * K, K) < 1e-5f, "empty example, prompt %d: not the direct forward", p);
    }
    evaluator_free(plain2);
    evaluator_free(cached2);
    encoded_split_free(&e2);
    split_free(&small);

    Evaluator *ev;
    int too_many[TUNE_MAX_CLASSES + 1] = {0};
    CHECK(evaluator_new(&ev, m, too_many, TUNE_MAX_CLASSES + 1, 4, 8, &err) != 0, "17 classes accepted");
    int out_of_vocab[2] = {0, 50257};
    CHECK(evaluator_new(&ev, m, out_of_vocab, 2, 4, 8, &err) != 0 && strstr(err.msg, "50257"), "label id: %s", err.msg);
    CHECK(evaluator_new(&ev, m, label_ids, 2, 4, m->config.n_positions + 1, &err) != 0, "rows past the context");
    split_free(&s);
}

// ----------------------------------------------------------------------------
// formulas

static void test_formulas(void) {
    float p3[3] = {0.7f, 0.2f, 0.1f};
    CHECK(fabs(gap_reward(p3, 3, 0) - 200 * 0.5) < 1e-5, "gap reward correct: %g", gap_reward(p3, 3, 0));
    CHECK(fabs(gap_reward(p3, 3, 1) - 180 * -0.5) < 1e-5, "gap reward wrong: %g", gap_reward(p3, 3, 1));
    CHECK(fabs(gap_reward(p3, 3, 2) - 180 * -0.6) < 1e-5, "gap reward wrong: %g", gap_reward(p3, 3, 2));
    float tie[2] = {0.5f, 0.5f};
    CHECK(gap_reward(tie, 2, 1) == 0.0, "gap reward tie: %g", gap_reward(tie, 2, 1));
    float two[2] = {0.25f, 0.75f};
    CHECK(fabs(gap_reward(two, 2, 1) - 100) < 1e-5 && fabs(gap_reward(two, 2, 0) + 90) < 1e-5, "gap reward K=2");

    float p[4] = {0.5f, 0.5f, 1.0f, 0.0f}, q[4] = {0.25f, 0.75f, 0.5f, 0.5f};
    double want0 = 0.5 * log(2.0) + 0.5 * log(0.5 / 0.75), want1 = log(2.0);
    CHECK(fabs(mean_kl(p, q, 2, 2) - (want0 + want1) / 2) < 1e-6, "mean_kl %g, want %g", mean_kl(p, q, 2, 2),
          (want0 + want1) / 2);
    CHECK(fabs(mean_kl(p, p, 2, 2)) < 1e-12, "KL(p || p) = %g", mean_kl(p, p, 2, 2));
    float zero_q[2] = {1.0f, 0.0f}, p_other[2] = {0.0f, 1.0f};
    double guarded = mean_kl(p_other, zero_q, 1, 2);
    CHECK(isfinite(guarded) && guarded > 20, "KL against a zero probability: %g", guarded);
    CHECK(mean_kl(p, q, 0, 2) == 0.0, "KL of no rows");
}

// ----------------------------------------------------------------------------
// the scorer

static void test_scorer(const GPT2Model *m) {
    Err err;
    const int V = m->config.vocab_size;
    int prompts[3 * 5] = {464, 3807, 318, 1049, 13, 50256, 11, 13, 5, 40, 1842, 340, 0, 262, 1110};
    for (int L = 1; L <= 5; L += 4) {
        Scorer *sc;
        if (scorer_new(&sc, m, 2, &err)) die("scorer: %s", err.msg); // 2: three prompts take two batches
        double got[3];
        int packed[15];
        for (int p = 0; p < 3; p++) memcpy(packed + p * L, prompts + p * 5, (size_t)L * sizeof(int));
        CHECK(scorer_log_ppl(sc, packed, 3, L, got, &err) == 0, "scorer L=%d: %s", L, err.msg);
        for (int p = 0; p < 3; p++) {
            // directly: <|endoftext|> z_1..z_{L-1}, full logits at every position, mean CE against z_1..z_L
            int ids[5], pos[5];
            ids[0] = GPT2_EOT;
            for (int t = 1; t < L; t++) ids[t] = packed[p * L + t - 1];
            for (int t = 0; t < L; t++) pos[t] = t;
            GPT2Acts a;
            GPT2Batch b = {.B = 1, .T = L, .ids = ids, .out_pos = pos, .n_out = L};
            if (gpt2_acts_alloc(&a, &m->config, 1, L, L, L, 0, &err) || gpt2_forward(m, &a, &b, &err)) die("%s", err.msg);
            double want = gpt2_crossentropy(a.logits, packed + p * L, L, V, NULL, 0);
            gpt2_acts_free(&a);
            CHECK(fabs(got[p] - want) < 1e-4 * (1 + fabs(want)), "L=%d prompt %d: log-PPL %.7f, direct %.7f", L, p,
                  got[p], want);
            CHECK(got[p] > 0, "log-PPL %g not positive", got[p]);
        }
        int bad[2] = {3, -1};
        CHECK(scorer_log_ppl(sc, bad, 1, 2, got, &err) != 0 && strstr(err.msg, "-1"), "bad id: %s", err.msg);
        CHECK(scorer_log_ppl(sc, packed, 1, TUNE_MAX_PROMPT + 1, got, &err) != 0, "prompt too long accepted");
        // no tokens: log-PPL 0 (the total NLL of nothing)
        got[0] = got[1] = -1;
        CHECK(scorer_log_ppl(sc, packed, 2, 0, got, &err) == 0 && got[0] == 0 && got[1] == 0, "L = 0: %g %g (%s)",
              got[0], got[1], err.msg);
        scorer_free(sc);
    }
}

// ----------------------------------------------------------------------------
// the dictionary

static int id_of(GPT2Tokenizer *tok, const char *text) {
    int ids[4];
    int n = encode_text(tok, text, ids, 4);
    if (n != 1) die("\"%s\" is %d tokens, expected one", text, n);
    return ids[0];
}

static void test_dictionary(void) {
    Err err;
    Dictionary *d;
    const char *path = scratch_file("words", "Great\nthe\ncat's\nmovie\nwell\nmade\nneal\r\n\n");
    int rc = dictionary_load(&d, path, &err);
    CHECK(rc == 0, "dictionary: %s", err.msg);
    if (rc == 0) {
        // hand-made prompts: the words of the text, punctuation stripped, case ignored
        static const struct { const char *text; double share; int words; } cases[] = {
            {" great", 1, 1},
            {" The movie", 1, 2},
            {"NealNealNealNealNeal", 0, 1},            // one word, not five tokens that are words
            {" Neal Neal", 1, 2},
            {" the movie\xe2\x80\x99s", 0.5, 2},       // "movie's" is not in this list
            {" cat's", 1, 1},                           // a possessive of the list, whole
            {" cat\xe2\x80\x99s", 1, 1},               // with a typographic apostrophe
            {"\"Great!\" (the) movie...", 1, 3},        // quotes, brackets, ellipsis stripped
            {" \xe2\x80\x9cgreat\xe2\x80\x9d \xe2\x80\x94 movie", 1, 2}, // curly quotes, an em dash alone
            {" well-made", 1, 1},                       // every hyphenated part is a word
            {" well-xqz", 0, 1},
            {" isodd performances", 0, 2},
            {" , . !!", 0, 0},                          // punctuation alone: no word at all
            {"", 0, 0},
            {" 2015 movie", 0.5, 2},                    // a number is a word, not in the list
            {"the\nmovie\tgreat", 1, 3},                // any white space splits
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            int words = -1;
            double share = dictionary_share(d, cases[i].text, &words);
            CHECK(fabs(share - cases[i].share) < 1e-12 && words == cases[i].words,
                  "\"%s\": share %g of %d words, want %g of %d", cases[i].text, share, words, cases[i].share,
                  cases[i].words);
        }
        dictionary_free(d);
    }
    // the real list, where installed (install-deps.sh installs wamerican)
    if (access("/usr/share/dict/words", R_OK) == 0) {
        rc = dictionary_load(&d, "/usr/share/dict/words", &err);
        CHECK(rc == 0, "wamerican: %s", err.msg);
        if (rc == 0) {
            CHECK(dictionary_share(d, " house Paris running It don't", NULL) == 1.0, "wamerican words: share %g",
                  dictionary_share(d, " house Paris running It don't", NULL));
            CHECK(dictionary_share(d, " xqzv 2015 NealNeal isodd", NULL) == 0.0, "wamerican non-words: share %g",
                  dictionary_share(d, " xqzv 2015 NealNeal isodd", NULL));
            dictionary_free(d);
        }
    } else {
        printf("skip-check: no /usr/share/dict/words (wamerican): the real word list was not checked\n");
    }
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no-words", root);
    CHECK(dictionary_load(&d, missing, &err) != 0 && strstr(err.msg, "no-words"), "missing dictionary: %s", err.msg);
    CHECK(dictionary_load(&d, scratch_file("blank", "\n\n"), &err) != 0 && strstr(err.msg, "no words"),
          "empty dictionary: %s", err.msg);
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s/words.fifo", root);
    if (mkfifo(fifo, 0644) != 0) die("mkfifo %s", fifo);
    CHECK(dictionary_load(&d, fifo, &err) != 0 && strstr(err.msg, "not a regular file"), "a FIFO word list: %s", err.msg);
    // repetition: the share of distinct tokens
    const int five[5] = {10, 11, 12, 13, 14}, rep[5] = {7, 7, 7, 7, 7}, some[5] = {3, 9, 3, 9, 4};
    CHECK(distinct_share(five, 5) == 1.0 && distinct_share(rep, 5) == 0.2 && distinct_share(some, 5) == 0.6 &&
              distinct_share(five, 0) == 0.0,
          "distinct shares %g %g %g", distinct_share(five, 5), distinct_share(rep, 5), distinct_share(some, 5));
}

// ----------------------------------------------------------------------------
// the prompt vocabulary

/* The id of the one-byte token for byte b. */
static int byte_token(const GPT2Tokenizer *tok, unsigned char b) {
    for (int v = 0; v < tokenizer_vocab_size(tok); v++) {
        size_t n;
        const char *bytes = tokenizer_token_bytes(tok, v, &n);
        if (bytes && n == 1 && (unsigned char)bytes[0] == b) return v;
    }
    die("no token for byte 0x%02x", b);
}

static void test_prompt_vocab(GPT2Tokenizer *tok) {
    Err err;
    int V = 50257, n[3];
    unsigned char *mask[3];
    const char *names[3] = {"all", "utf8", "ascii"};
    for (int k = 0; k < 3; k++) {
        mask[k] = xmalloc((size_t)V);
        CHECK(prompt_vocab_mask(mask[k], tok, V, (PromptVocab)k, &n[k], &err) == 0, "%s: %s", names[k], err.msg);
        CHECK(mask[k][GPT2_EOT] == 0, "%s allows <|endoftext|>", names[k]);
        printf("  prompt_vocab %s: %d of %d tokens (%d left out)\n", names[k], n[k], V, V - n[k]);
    }
    CHECK(n[0] == V - 1 && n[1] < n[0] && n[2] < n[1], "vocabulary sizes %d %d %d", n[0], n[1], n[2]);
    int great = id_of(tok, " great"), newline = id_of(tok, "\n"), cafe_e = -1;
    int half = byte_token(tok, 0xE2), control = byte_token(tok, 0x01), del = byte_token(tok, 0x7F);
    int enc[8], n_enc = encode_text(tok, " caf\xc3\xa9", enc, 8); // " café": its last token holds a whole é
    for (int j = 0; j < n_enc; j++) {
        size_t len;
        const char *bytes = tokenizer_token_bytes(tok, enc[j], &len);
        if (memchr(bytes, 0xC3, len) && memchr(bytes, 0xA9, len)) cafe_e = enc[j];
    }
    CHECK(cafe_e >= 0, "no token of \" caf\xc3\xa9\" holds the whole \xc3\xa9");
    const struct { const char *what; int id, in[3]; } cases[] = {
        {"\" great\"", great, {1, 1, 1}},
        {"a newline", newline, {1, 1, 0}},
        {"half a character (0xE2)", half, {1, 0, 0}},
        {"a control character (0x01)", control, {1, 0, 0}},
        {"DEL (0x7F)", del, {1, 0, 0}},
        {"a whole \xc3\xa9", cafe_e, {1, 1, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int k = 0; k < 3; k++)
            CHECK(cases[c].id < 0 || mask[k][cases[c].id] == cases[c].in[k], "%s (id %d) in %s: %d, want %d",
                  cases[c].what, cases[c].id, names[k], mask[k][cases[c].id], cases[c].in[k]);
    // ids past the tokenizer (a model with a padded vocabulary) are never allowed
    unsigned char *wide = xmalloc((size_t)V + 47);
    int n_wide = 0;
    CHECK(prompt_vocab_mask(wide, tok, V + 47, PROMPT_VOCAB_ALL, &n_wide, &err) == 0 && n_wide == V - 1 && !wide[V + 3],
          "padded vocabulary: %d allowed", n_wide);
    free(wide);
    for (int k = 0; k < 3; k++) free(mask[k]);
}

// ----------------------------------------------------------------------------
// result_finish

/* The label read after the whole of ids (n) by a direct forward: the argmax
 * of the K label logits. */
static int direct_label(const GPT2Model *m, const int *ids, int n, const int *label_ids, int K) {
    GPT2Acts a;
    Err err;
    int last = n - 1;
    GPT2Batch b = {.B = 1, .T = n, .ids = ids, .out_pos = &last, .n_out = 1};
    if (gpt2_acts_alloc(&a, &m->config, 1, n, n, 1, 0, &err) || gpt2_forward(m, &a, &b, &err)) die("direct: %s", err.msg);
    int best = 0;
    for (int k = 1; k < K; k++) best = a.logits[label_ids[k]] > a.logits[label_ids[best]] ? k : best;
    gpt2_acts_free(&a);
    return best;
}

/* The text round trip of prompt (L ids) computed here from the raw sentences
 * (the first n of raw; one longer than budget tokens cut to its first budget
 * tokens, as max_tokens cuts it): each pasted into tmpl with the prompt's
 * decoded text, encoded whole, compared with the tuner's row and classified
 * by a direct forward. */
static void independent_text(const GPT2Model *m, GPT2Tokenizer *tok, const Split *raw, const EncodedSplit *e, int n,
                             int budget, const char *tmpl, const int *prompt, int L, const int *label_ids, double *acc,
                             double *share) {
    char text[4096], filled[16384], sentence[4096];
    size_t len;
    Err err;
    if (tokenizer_decode(tok, prompt, L, text, sizeof text, &len, &err)) die("%s", err.msg);
    int correct = 0, same = 0, *ids = xmalloc(8192 * sizeof(int)), *row = xmalloc(8192 * sizeof(int));
    for (int i = 0; i < n; i++) {
        int k = 0;
        if (tokenizer_encode(tok, raw->text[i], strlen(raw->text[i]), ids, 8192, &k, &err)) die("%s", err.msg);
        if (k > budget) {
            if (tokenizer_decode(tok, ids, budget, sentence, sizeof sentence, &len, &err)) die("%s", err.msg);
        } else {
            snprintf(sentence, sizeof sentence, "%s", raw->text[i]);
        }
        // [P] and {sentence} by hand
        const char *pm = strstr(tmpl, "[P]"), *sm = strstr(tmpl, "{sentence}");
        if (pm < sm) snprintf(filled, sizeof filled, "%.*s%s%.*s%s%s", (int)(pm - tmpl), tmpl, text,
                              (int)(sm - pm - 3), pm + 3, sentence, sm + 10);
        else snprintf(filled, sizeof filled, "%.*s%s%.*s%s%s", (int)(sm - tmpl), tmpl, sentence,
                      (int)(pm - sm - 10), sm + 10, text, pm + 3);
        if (tokenizer_encode(tok, filled, strlen(filled), ids, 8192, &k, &err)) die("%s", err.msg);
        int r = 0;
        for (int t = 0; t < e->pre_len[i]; t++) row[r++] = e->ids[e->pre_off[i] + t];
        for (int t = 0; t < L; t++) row[r++] = prompt[t];
        for (int t = 0; t < e->post_len[i]; t++) row[r++] = e->ids[e->post_off[i] + t];
        same += r == k && memcmp(row, ids, (size_t)k * sizeof(int)) == 0;
        correct += direct_label(m, ids, k, label_ids, 2) == e->label[i];
    }
    *acc = (double)correct / n;
    *share = (double)same / n;
    free(ids);
    free(row);
}

/* The prompt's own classes of test reused for the pasted rows that round-trip (result_finish
 * gave r so) give the text accuracy of every pasted row evaluated; *shares collects the round
 * trip shares seen, so that the caller can tell that both kinds of rows were there. */
static void check_text_reuse(TuneContext *ctx, const EncodedSplit *test, const TuneResult *r, double *shares) {
    static TuneResult all;
    Err err;
    all = *r;
    CHECK(prompt_text_check(ctx, test, NULL, &all, &err) == 0, "text check, every row: %s", err.msg);
    CHECK(all.test_text_acc == r->test_text_acc && all.roundtrip_share == r->roundtrip_share &&
              all.text_truncated == r->text_truncated,
          "text accuracy %g with the prompt's classes reused, %g with every row evaluated", r->test_text_acc,
          all.test_text_acc);
    if (r->roundtrip_share > 0 && r->roundtrip_share < 1) *shares = r->roundtrip_share;
}

static void test_result_finish(GPT2Model *m, GPT2Tokenizer *tok, const char *shared) {
    Err err;
    TunePoint pt;
    memset(&pt, 0, sizeof pt);
    pt.max_test = 10;
    snprintf(pt.template_text, sizeof pt.template_text, "[P]{sentence} It was");
    TuneContext ctx = {.point = &pt, .model = m, .tok = tok, .scorer_model = m, .policy_model = m, .n_classes = 2};
    const char *verb[2] = {" terrible", " great"};
    if (verbalizer_ids(tok, verb, 2, ctx.label_ids, &err)) die("%s", err.msg);
    const char *names[3] = {"16-42/train", "16-42/dev", "test"};
    EncodedSplit *enc[3] = {&ctx.train, &ctx.dev, &ctx.test};
    for (int i = 0; i < 3; i++) {
        char path[4200];
        Split s;
        snprintf(path, sizeof path, "%s/data/fewshot/sst-2/%s.tsv", shared, names[i]);
        if (split_load(&s, path, 2, &err) || encode_split(enc[i], &s, "[P]{sentence} It was", tok, 40, &err))
            die("%s", err.msg);
        split_free(&s);
    }
    if (evaluator_new(&ctx.eval, m, ctx.label_ids, 2, 16, 45, &err) || scorer_new(&ctx.scorer, m, 4, &err) ||
        dictionary_load(&ctx.dict, scratch_file("w2", "the\nmovie\n"), &err))
        die("%s", err.msg);
    TuneResult r;
    memset(&r, 0, sizeof r);
    int prompt[5] = {464, 3807, 318, 1049, 13}; // "The movie is great."
    memcpy(r.prompt_ids, prompt, sizeof prompt);
    r.prompt_length = 5;
    CHECK(result_finish(&ctx, &r, NULL, &err) == 0, "result_finish: %s", err.msg);
    CHECK(strcmp(r.prompt_text, "The movie is great.") == 0, "prompt text [%s]", r.prompt_text);
    CHECK(fabs(r.dict_share - 2.0 / 4) < 1e-12, "dict share %g (the, movie of The movie is great.)", r.dict_share);
    CHECK(r.distinct_share == 1.0, "distinct share %g", r.distinct_share);
    CHECK(fabs(r.ppl - exp(r.log_ppl)) < 1e-9 * r.ppl && r.log_ppl > 0, "ppl %g log_ppl %g", r.ppl, r.log_ppl);
    CHECK(r.acc_continuous == r.test_acc && r.acc_projected == r.test_acc && r.kl_continuous_projected == 0,
          "discrete prompt: faithfulness gap not 0");
    // test capped at max_test: the accuracy of the first 10 examples
    EncodedSplit first10 = ctx.test;
    first10.n = 10;
    EvalResult t10, dev;
    if (eval_prompts(ctx.eval, &first10, prompt, 1, 5, &t10, NULL, &err) ||
        eval_prompts(ctx.eval, &ctx.dev, prompt, 1, 5, &dev, NULL, &err))
        die("%s", err.msg);
    CHECK(r.test_acc == t10.accuracy, "test accuracy %g, first 10: %g", r.test_acc, t10.accuracy);
    CHECK(r.dev_acc == dev.accuracy && r.dev_reward == dev.reward, "dev accuracy/reward");
    CHECK(same_class_scores(&r.eval[TUNE_TEST], &t10, 2) && same_class_scores(&r.eval[TUNE_DEV], &dev, 2) &&
              r.eval[TUNE_TEST].loss == t10.loss,
          "per-class scores of the record are not the evaluator's");
    CHECK(r.collapsed == (majority_share(&t10, 2) >= TUNE_COLLAPSE_SHARE), "collapsed %d, majority share %g",
          r.collapsed, majority_share(&t10, 2));
    double log_ppl;
    if (scorer_log_ppl(ctx.scorer, prompt, 1, 5, &log_ppl, &err)) die("%s", err.msg);
    CHECK(r.log_ppl == log_ppl, "log_ppl %g vs scorer %g", r.log_ppl, log_ppl);
    // the objective on dev: lambda 0.5 additive here
    pt.lambda = 0.5;
    CHECK(result_finish(&ctx, &r, NULL, &err) == 0, "result_finish: %s", err.msg);
    CHECK(r.w_task == 1 && r.w_interp == 0.5 && r.obj_task == dev.loss && r.obj_interp == log_ppl &&
              r.obj_total == dev.loss + 0.5 * log_ppl,
          "objective %g %g %g (weights %g %g)", r.obj_task, r.obj_interp, r.obj_total, r.w_task, r.w_interp);
    pt.lambda = 0;

    // the text round trip, against the same computed here from the raw test sentences
    Split raw;
    char test_path[4200];
    snprintf(test_path, sizeof test_path, "%s/data/fewshot/sst-2/test.tsv", shared);
    if (split_load(&raw, test_path, 2, &err)) die("%s", err.msg);
    int lit[8], n_lit = encode_text(tok, " It was", lit, 8), budget = 40 - n_lit, cut = 0;
    for (int i = 0; i < 10; i++) {
        int all[512];
        cut += encode_text(tok, raw.text[i], all, 512) > budget;
    }
    CHECK(cut > 0, "none of the first 10 test sentences is cut at max_tokens 40: the cut is not tested");
    double acc_here, share_here;
    independent_text(m, tok, &raw, &ctx.test, 10, budget, pt.template_text, prompt, 5, ctx.label_ids, &acc_here, &share_here);
    CHECK(r.test_text_acc == acc_here && r.roundtrip_share == share_here && r.roundtrip == (share_here == 1.0),
          "text accuracy %g (here %g), round trip share %g (here %g)", r.test_text_acc, acc_here, r.roundtrip_share,
          share_here);
    CHECK(r.n_text_ids == 5 && memcmp(r.text_ids, prompt, sizeof prompt) == 0, "\"The movie is great.\" re-encodes to "
          "%d tokens", r.n_text_ids);
    double partial = 0; // a round trip share strictly between 0 and 1 seen
    check_text_reuse(&ctx, &first10, &r, &partial);
    // prompts built to fail the round trip (tests/cases of test_roundtrip below use the RLPrompt template)
    const struct { const char *what; int ids[8], L, alone_ok; } merging[] = {
        // " the film" encodes to itself alone, but pasted before a sentence that starts with a
        // letter ("[P]{sentence}") it becomes " filmit ...": a merge at the join
        {"a merge at the join", {id_of(tok, " the"), id_of(tok, " film")}, 2, 1},
        // "great" + "ly": the text " greatly" is one token of its own
        {"a merge inside the prompt", {id_of(tok, " great"), id_of(tok, "ly")}, 2, 0},
        // <|endoftext|> as text: 13 characters, several tokens; the pasted rows outgrow the
        // run's evaluator (45 positions) and get one of their own
        {"<|endoftext|>", {GPT2_EOT, GPT2_EOT, GPT2_EOT, GPT2_EOT, GPT2_EOT}, 5, 0},
    };
    for (size_t c = 0; c < sizeof merging / sizeof merging[0]; c++) {
        memcpy(r.prompt_ids, merging[c].ids, sizeof merging[c].ids);
        r.prompt_length = merging[c].L;
        CHECK(result_finish(&ctx, &r, NULL, &err) == 0, "%s: %s", merging[c].what, err.msg);
        int alone[64], n_alone = 0;
        if (tokenizer_encode(tok, r.prompt_text, strlen(r.prompt_text), alone, 64, &n_alone, &err)) die("%s", err.msg);
        CHECK(r.n_text_ids == n_alone && (n_alone == merging[c].L) == merging[c].alone_ok &&
                  memcmp(r.text_ids, alone, n_alone * sizeof(int)) == 0,
              "%s: text_ids %d tokens, the text encodes to %d", merging[c].what, r.n_text_ids, n_alone);
        independent_text(m, tok, &raw, &ctx.test, 10, budget, pt.template_text, merging[c].ids, merging[c].L, ctx.label_ids,
                         &acc_here, &share_here);
        CHECK(!r.roundtrip && r.roundtrip_share < 0.95 && r.roundtrip_share == share_here && r.test_text_acc == acc_here,
              "%s: round trip %d (share %g, here %g), text accuracy %g (here %g)", merging[c].what, r.roundtrip,
              r.roundtrip_share, share_here, r.test_text_acc, acc_here);
        check_text_reuse(&ctx, &first10, &r, &partial);
    }
    CHECK(partial > 0, "no prompt had some rows round-trip and others not: the reuse of its classes is not tested");
    CHECK(r.n_text_ids > 5 * 5, "5 x <|endoftext|> re-encodes to %d tokens", r.n_text_ids);

    memcpy(r.prompt_ids, prompt, sizeof prompt);
    r.prompt_length = 5;
    split_free(&raw);

    // a continuous prompt: wte rows give no gap; moved rows give a positive KL
    int C = m->config.n_embd;
    float *soft = xmalloc((size_t)5 * C * sizeof(float));
    for (int j = 0; j < 5; j++) memcpy(soft + (size_t)j * C, m->w.wte + (size_t)prompt[j] * C, C * sizeof(float));
    CHECK(result_finish(&ctx, &r, soft, &err) == 0, "result_finish (continuous): %s", err.msg);
    CHECK(r.acc_continuous == r.acc_projected && r.kl_continuous_projected < 1e-9, "wte rows: acc %g/%g kl %g",
          r.acc_continuous, r.acc_projected, r.kl_continuous_projected);
    for (int i = 0; i < 5 * C; i++) soft[i] += 0.5f * sum_of_uniforms(&rng_state);
    CHECK(result_finish(&ctx, &r, soft, &err) == 0, "result_finish (moved): %s", err.msg);
    CHECK(r.kl_continuous_projected > 1e-6 && r.acc_projected == t10.accuracy, "moved rows: kl %g",
          r.kl_continuous_projected);
    TuneContext no_sentences = ctx;
    no_sentences.test.sent_off = NULL; // a test split made without encode_split cannot be pasted as text
    CHECK(result_finish(&no_sentences, &r, NULL, &err) != 0 && strstr(err.msg, "sentence"), "no sentence positions: %s",
          err.msg);
    // collapse, on a model rigged to say " great" whatever it reads: ln_f's output is its bias
    // alone (gain 0), so every position gives the same logits, and " great" gets the larger
    GPT2Model rigged;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/model", root);
    if (gpt2_load(&rigged, dir, &err)) die("%s", err.msg);
    float *own = xmalloc(gpt2_num_params(&rigged.config) * sizeof(float));
    gpt2_own_weights(&rigged, own);
    for (int c = 0; c < C; c++) {
        rigged.w.ln_f_w[c] = 0.0f;
        rigged.w.ln_f_b[c] = 1.0f;
        rigged.w.wte[(size_t)ctx.label_ids[1] * C + c] = 1.0f;   // " great": logit C
        rigged.w.wte[(size_t)ctx.label_ids[0] * C + c] = -1.0f;  // " terrible": logit -C
    }
    TuneContext rc_ctx = ctx;
    rc_ctx.model = rc_ctx.scorer_model = rc_ctx.policy_model = &rigged;
    if (evaluator_new(&rc_ctx.eval, &rigged, ctx.label_ids, 2, 16, 45, &err) || scorer_new(&rc_ctx.scorer, &rigged, 4, &err))
        die("%s", err.msg);
    memcpy(r.prompt_ids, prompt, sizeof prompt);
    r.prompt_length = 5;
    CHECK(result_finish(&rc_ctx, &r, NULL, &err) == 0, "rigged: %s", err.msg);
    const EvalResult *rt = &r.eval[TUNE_TEST];
    int positives = 0;
    for (int i = 0; i < 10; i++) positives += ctx.test.label[i];
    CHECK(r.collapsed && rt->prediction_share[1] == 1.0 && rt->prediction_share[0] == 0.0 &&
              rt->class_accuracy[0] == 0.0 && rt->class_accuracy[1] == 1.0 && rt->balanced_accuracy == 0.5 &&
              r.test_acc == positives / 10.0,
          "rigged model: collapsed %d, predicted %g %g, recall %g %g, balanced %g, accuracy %g (positives %d of 10)",
          r.collapsed, rt->prediction_share[0], rt->prediction_share[1], rt->class_accuracy[0], rt->class_accuracy[1],
          rt->balanced_accuracy, r.test_acc, positives);
    // and the unrigged model on the same prompt is not collapsed, whatever its accuracy
    CHECK(result_finish(&ctx, &r, NULL, &err) == 0 && r.collapsed == (majority_share(&r.eval[TUNE_TEST], 2) >= 0.95),
          "unrigged: collapsed %d", r.collapsed);
    evaluator_free(rc_ctx.eval);
    scorer_free(rc_ctx.scorer);
    gpt2_free(&rigged);
    free(own);

    // the empty manual prompt: the template alone, scored as eval_prompts scores no prompt;
    // log-PPL 0 (ppl 1), no text, no words; discrete: no faithfulness gap. No continuous prompt
    // of length 0
    result_free(&r);
    memset(&r, 0, sizeof r);
    pt.method = METHOD_MANUAL;
    pt.lambda = 0.5;
    CHECK(manual_run(&ctx, &r, &err) == 0, "the empty manual prompt: %s", err.msg);
    EvalResult bare[3];
    const EncodedSplit *bare_splits[3] = {&ctx.train, &ctx.dev, &first10};
    for (int i = 0; i < 3; i++)
        if (eval_prompts(ctx.eval, bare_splits[i], NULL, 1, 0, &bare[i], NULL, &err)) die("%s", err.msg);
    CHECK(r.prompt_length == 0 && r.prompt_text[0] == '\0' && r.n_text_ids == 0 && r.steps == 0,
          "empty prompt: length %d, text [%s], %d text ids", r.prompt_length, r.prompt_text, r.n_text_ids);
    CHECK(r.train_acc == bare[0].accuracy && r.dev_acc == bare[1].accuracy && r.test_acc == bare[2].accuracy &&
              r.eval[TUNE_DEV].loss == bare[1].loss && same_class_scores(&r.eval[TUNE_TEST], &bare[2], 2),
          "empty prompt: accuracies %g %g %g, the template alone %g %g %g", r.train_acc, r.dev_acc, r.test_acc,
          bare[0].accuracy, bare[1].accuracy, bare[2].accuracy);
    CHECK(r.log_ppl == 0 && r.ppl == 1 && r.dict_share == 0 && r.distinct_share == 0, "empty prompt: log_ppl %g, "
          "ppl %g, dict share %g, distinct share %g", r.log_ppl, r.ppl, r.dict_share, r.distinct_share);
    CHECK(r.acc_continuous == r.test_acc && r.acc_projected == r.test_acc && r.kl_continuous_projected == 0,
          "empty prompt: faithfulness %g %g %g", r.acc_continuous, r.acc_projected, r.kl_continuous_projected);
    CHECK(r.roundtrip && r.test_text_acc == r.test_acc, "empty prompt: round trip %d, text accuracy %g vs %g",
          r.roundtrip, r.test_text_acc, r.test_acc);
    CHECK(r.obj_interp == 0 && r.obj_total == bare[1].loss, "empty prompt: objective %g + 0.5 * %g = %g", r.obj_task,
          r.obj_interp, r.obj_total);
    pt.method = METHOD_PEZ;
    pt.lambda = 0;
    CHECK(result_finish(&ctx, &r, soft, &err) != 0, "a continuous prompt of length 0 accepted");
    free(soft);
    evaluator_free(ctx.eval);
    scorer_free(ctx.scorer);
    dictionary_free(ctx.dict);
    for (int i = 0; i < 3; i++) encoded_split_free(enc[i]);
}

// ----------------------------------------------------------------------------

int main(void) {
    const char *tok_dir = getenv("TOKENIZER_DIR");
    if (!tok_dir || !*tok_dir) tok_dir = "models/gpt2-tokenizer";
    const char *shared = getenv("SHARED");
    if (!shared || !*shared) shared = "../shared";
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/data/fewshot/sst-2/test.tsv", shared);
    int have_data = access(probe, R_OK) == 0;
    GPT2Tokenizer *tok = NULL;
    Err err;
    int have_tok = tokenizer_load(&tok, tok_dir, &err) == 0;
    make_root();
    char model_dir[4200];
    snprintf(model_dir, sizeof model_dir, "%s/model", root);
    GPT2Model m;
    tiny_model(&m, model_dir, 128);

    // what needs neither the data nor the tokenizer always runs
    test_crafted_splits();
    test_formulas();
    test_scorer(&m);
    test_dictionary();
    if (have_tok) {
        test_tasks(tok);
        test_encode(tok);
        test_prompt_vocab(tok);
    } else {
        printf("skip-check: no tokenizer in %s (make tokenizer): %s; the task, template and vocabulary "
               "checks did not run\n", tok_dir, err.msg);
    }
    if (have_data) test_real_splits(shared);
    else printf("skip-check: no few-shot data in %s (set SHARED): the real splits were not read\n", shared);
    if (have_data && have_tok) {
        test_evaluator(&m, tok, shared);
        test_result_finish(&m, tok, shared);
    } else {
        printf("skip-check: the evaluator and result_finish checks need the data and the tokenizer\n");
    }

    gpt2_free(&m);
    if (tok) tokenizer_free(tok);
    return test_finish();
}
