// tests/tool_label_signal.c: how much a task LM knows about a binary task's
// label at the read position, for a fixed prompt: the diagnostic behind the
// choice of sst2-lm's pretraining text (README, "The sst2-lm model").
//
//   tool_label_signal MODEL SPLIT.tsv TEMPLATE PROMPT [VERB0 VERB1]
//
// TEMPLATE holds [P] and {sentence} as in a tune point; PROMPT is the text
// placed at [P] (at least one token); the verbalizers default to " terrible" " great".
// For every example, margin = log p(VERB1) - log p(VERB0) over the two
// verbalizer logits. Prints: the argmax accuracy (what tune reports), the mean
// margin (the LM's prior for one label), the AUC of the margin against the
// label (0.5: the LM's decision carries nothing about the label, whatever
// constant a prompt adds to it) and the accuracy at the best threshold (an
// upper bound for prompts that only shift the margin).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "tuners/tuners.h"

static const double *g_margin;   // qsort has no context argument
static int by_margin(const void *a, const void *b) {
    double x = g_margin[*(const int *)a], y = g_margin[*(const int *)b];
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 7) {
        fprintf(stderr, "usage: tool_label_signal MODEL SPLIT.tsv TEMPLATE PROMPT [VERB0 VERB1]\n");
        return 2;
    }
    const char *verbalizers[2] = {" terrible", " great"};
    if (argc == 7) { verbalizers[0] = argv[5]; verbalizers[1] = argv[6]; }
    const char *prompt = argv[4];
    Err err = {{0}};
    GPT2Model model;
    GPT2Tokenizer *tok = NULL;
    Split split;
    EncodedSplit enc;
    Evaluator *ev = NULL;
    int label_ids[2], prompt_ids[64], L = 0;
    if (gpt2_load(&model, argv[1], &err) || tokenizer_load(&tok, argv[1], &err) ||
        split_load(&split, argv[2], 2, &err) ||
        encode_split(&enc, &split, argv[3], tok, model.config.n_positions - 64, &err) ||
        verbalizer_ids(tok, verbalizers, 2, label_ids, &err) ||
        tokenizer_encode(tok, prompt, strlen(prompt), prompt_ids, 64, &L, &err) ||
        evaluator_new(&ev, &model, label_ids, 2, 64, model.config.n_positions, &err) ||
        evaluator_cache(ev, &enc, &err)) {
        fprintf(stderr, "tool_label_signal: %s\n", err.msg);
        return 1;
    }
    int n = enc.n;
    float *probs = malloc(sizeof(float) * 2 * (size_t)n);
    double *margin = malloc(sizeof(double) * (size_t)n);
    int *order = malloc(sizeof(int) * (size_t)n);
    EvalResult res;
    if (!probs || !margin || !order) { fprintf(stderr, "tool_label_signal: out of memory\n"); return 1; }
    if (eval_prompts(ev, &enc, prompt_ids, 1, L, &res, probs, &err)) {
        fprintf(stderr, "tool_label_signal: %s\n", err.msg);
        return 1;
    }
    double mean = 0;
    for (int i = 0; i < n; i++) {
        margin[i] = log(probs[2 * i + 1]) - log(probs[2 * i]);
        mean += margin[i] / n;
        order[i] = i;
    }
    g_margin = margin;
    qsort(order, (size_t)n, sizeof(int), by_margin);
    // AUC by ranks (Mann-Whitney U); best threshold by sweeping it up the sorted margins
    double rank_sum = 0;
    int n_pos = 0;
    for (int i = 0; i < n; i++)
        if (enc.label[order[i]] == 1) { rank_sum += i + 1; n_pos++; }
    int n_neg = n - n_pos;
    double auc = n_pos && n_neg ? (rank_sum - 0.5 * n_pos * (n_pos + 1.0)) / ((double)n_pos * n_neg) : NAN;
    int correct = n_pos, best = n_pos;   // threshold below every margin: all predicted 1
    for (int i = 0; i < n; i++) {
        correct += enc.label[order[i]] == 0 ? 1 : -1;
        if (correct > best) best = correct;
    }
    printf("n %d  accuracy %.3f  mean margin %+.3f  AUC %.3f  best-threshold accuracy %.3f\n", n,
           res.accuracy, mean, auc, (double)best / n);
    free(order); free(margin); free(probs);
    evaluator_free(ev); encoded_split_free(&enc); split_free(&split); tokenizer_free(tok); gpt2_free(&model);
    return 0;
}
