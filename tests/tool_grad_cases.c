/*
 * tests/tool_grad_cases.c: runs the C forward + backward on a checkpoint for
 * the losses the tuners and the trainer use, and writes what it computed for
 * `tests/torch_ref.py grad` (autograd in float64 on the same safetensors).
 *
 *   tool_grad_cases MODEL_DIR OUT_DIR [--seed S]
 *
 * OUT_DIR/cases.json lists the cases; raw little-endian float32 files beside
 * it hold the inputs and results. Each case is described as full sequences
 * (ids, lens, is_embed, embeds) and a loss per row, so the reference needs
 * nothing of how the C side batched:
 *   "loss": {"rows": [{"label_ce": {"pos": t, "label_ids": [...], "target": k} or null,
 *                      "lm": {"from": t0, "to": t1} or null}, ...]}
 *   label_ce: -log softmax(logits[b, t, label_ids])[k]: a classifier over K labels;
 *   lm:       -log softmax(logits[b, t])[ids[b, t+1]] for t0 <= t < t1 (t1 < lens[b]);
 *   total = mean over all label_ce terms of the batch + mean over all lm terms
 *           (a kind with no terms adds 0).
 * Results: "loss_value" (1 float), "d_input" (n_soft, C): d total / d embeds at
 * the is_embed positions in (b, t) order, and for the weight case "grads"
 * (gpt2_num_params floats in gpt2_point_weights order, canonical names).
 *
 * Cases: soft prompt first (PEZ layout) and last, each with the label loss at
 * the last position, the next-token loss over the prompt, and both; and a
 * full-weights case: next-token loss on every position of a ragged batch
 * (with two soft positions, whose ids must get no input gradient).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

#define TOOL_NAME "tool_grad_cases"
#include "tests/cases.h"

enum { NK = 4 }; // labels per classifier

static void *xmalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) die("out of memory", NULL);
    return p;
}

// ----------------------------------------------------------------------------
// a case: inputs, the loss per row, and the C results

typedef struct {
    const char *name;
    int B, T;
    int *ids, *lens;            // (B,T), (B)
    unsigned char *is_embed;    // (B,T)
    float *embeds;              // (B,T,C)
    int *label_pos;             // (B) -1: no label term
    int labels[NK], *label_target; // (B) index into labels
    int *lm_from, *lm_to;       // (B) empty when from == to
    int weights;                // also the parameter gradient
} Case;

static Case case_new(const char *name, int B, int T, int C) {
    Case c = {.name = name, .B = B, .T = T};
    c.ids = xmalloc(sizeof(int) * B * T);
    c.lens = xmalloc(sizeof(int) * B);
    c.is_embed = xmalloc((size_t)B * T);
    c.embeds = xmalloc(sizeof(float) * B * T * C);
    c.label_pos = xmalloc(sizeof(int) * B);
    c.label_target = xmalloc(sizeof(int) * B);
    c.lm_from = xmalloc(sizeof(int) * B);
    c.lm_to = xmalloc(sizeof(int) * B);
    for (int b = 0; b < B; b++) c.label_pos[b] = -1;
    return c;
}

static void case_free(Case *c) {
    free(c->ids); free(c->lens); free(c->is_embed); free(c->embeds);
    free(c->label_pos); free(c->label_target); free(c->lm_from); free(c->lm_to);
}

/* Forward, the loss as defined above, backward; writes the case's files and
 * its JSON entry. */
static void run_case(cJSON *cases, const char *out_dir, int index, const GPT2Model *m, GPT2Acts *a,
                     const Case *cs) {
    int B = cs->B, T = cs->T, C = m->config.n_embd, V = m->config.vocab_size;
    int *out_pos = xmalloc(sizeof(int) * 2 * B * T), *targets = xmalloc(sizeof(int) * B * T);
    int n_lab = 0, n_lm = 0, n = 0;
    for (int b = 0; b < B; b++)
        if (cs->label_pos[b] >= 0) { out_pos[n++] = b * T + cs->label_pos[b]; n_lab++; }
    for (int b = 0; b < B; b++)
        for (int t = cs->lm_from[b]; t < cs->lm_to[b]; t++) {
            out_pos[n++] = b * T + t;
            targets[n_lm++] = cs->ids[b * T + t + 1];
        }
    GPT2Batch batch = {.B = B, .T = T, .ids = cs->ids, .lens = cs->lens, .embeds = cs->embeds,
                       .is_embed = cs->is_embed, .out_pos = out_pos, .n_out = n};
    Err err;
    if (gpt2_forward(m, a, &batch, &err)) die(cs->name, &err);
    float *dlogits = xmalloc(sizeof(float) * n * V);
    double loss = 0;
    for (int r = 0, b = 0; b < B; b++) { // label rows: softmax over the K label logits only
        if (cs->label_pos[b] < 0) continue;
        const float *lg = a->logits + (size_t)r * V;
        float *d = dlogits + (size_t)r * V;
        double mx = -INFINITY, sum = 0, e[NK];
        for (int j = 0; j < NK; j++) mx = fmax(mx, lg[cs->labels[j]]);
        for (int j = 0; j < NK; j++) sum += (e[j] = exp(lg[cs->labels[j]] - mx));
        loss += (log(sum) + mx - lg[cs->labels[cs->label_target[b]]]) / n_lab;
        for (int j = 0; j < NK; j++)
            d[cs->labels[j]] += (float)((e[j] / sum - (j == cs->label_target[b])) / n_lab);
        r++;
    }
    if (n_lm)
        loss += gpt2_crossentropy(a->logits + (size_t)n_lab * V, targets, n_lm, V,
                                  dlogits + (size_t)n_lab * V, 1.0f);
    size_t n_params = gpt2_num_params(&m->config);
    float *d_input = xmalloc(sizeof(float) * B * T * C), *grad_buf = NULL;
    GPT2Weights grads;
    GPT2Block *grad_blocks = NULL;
    if (cs->weights) {
        grad_buf = xmalloc(sizeof(float) * n_params); // zeroed
        grad_blocks = xmalloc(sizeof(GPT2Block) * m->config.n_layer);
        gpt2_point_weights(&grads, grad_blocks, grad_buf, &m->config);
    }
    if (gpt2_backward(m, a, &batch, dlogits, NULL, d_input, cs->weights ? &grads : NULL, &err)) die(cs->name, &err);

    // the record
    char file[256];
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", cs->name);
    cJSON_AddNumberToObject(c, "B", B);
    cJSON_AddNumberToObject(c, "T", T);
    cJSON_AddItemToObject(c, "ids", int_array(cs->ids, B * T));
    cJSON_AddItemToObject(c, "lens", int_array(cs->lens, B));
    int *flags = xmalloc(sizeof(int) * B * T), n_soft = 0;
    for (int i = 0; i < B * T; i++) n_soft += flags[i] = cs->is_embed[i];
    cJSON_AddItemToObject(c, "is_embed", int_array(flags, B * T));
    snprintf(file, sizeof file, "case%d.embeds.f32", index);
    write_floats(out_dir, file, cs->embeds, (size_t)B * T * C);
    cJSON_AddStringToObject(c, "embeds", file);
    cJSON *rows = cJSON_CreateArray();
    for (int b = 0; b < B; b++) {
        cJSON *row = cJSON_CreateObject();
        if (cs->label_pos[b] >= 0) {
            cJSON *l = cJSON_CreateObject();
            cJSON_AddNumberToObject(l, "pos", cs->label_pos[b]);
            cJSON_AddItemToObject(l, "label_ids", int_array(cs->labels, NK));
            cJSON_AddNumberToObject(l, "target", cs->label_target[b]);
            cJSON_AddItemToObject(row, "label_ce", l);
        } else {
            cJSON_AddNullToObject(row, "label_ce");
        }
        if (cs->lm_to[b] > cs->lm_from[b]) {
            cJSON *l = cJSON_CreateObject();
            cJSON_AddNumberToObject(l, "from", cs->lm_from[b]);
            cJSON_AddNumberToObject(l, "to", cs->lm_to[b]);
            cJSON_AddItemToObject(row, "lm", l);
        } else {
            cJSON_AddNullToObject(row, "lm");
        }
        cJSON_AddItemToArray(rows, row);
    }
    cJSON *lossj = cJSON_CreateObject();
    cJSON_AddStringToObject(lossj, "total", "mean(label_ce terms) + mean(lm terms)");
    cJSON_AddItemToObject(lossj, "rows", rows);
    cJSON_AddItemToObject(c, "loss", lossj);
    float lv = (float)loss;
    snprintf(file, sizeof file, "case%d.loss.f32", index);
    write_floats(out_dir, file, &lv, 1);
    cJSON_AddStringToObject(c, "loss_value", file);
    float *soft = xmalloc(sizeof(float) * (n_soft ? n_soft : 1) * C);
    for (int i = 0, k = 0; i < B * T; i++)
        if (cs->is_embed[i]) memcpy(soft + (size_t)k++ * C, d_input + (size_t)i * C, sizeof(float) * C);
    snprintf(file, sizeof file, "case%d.d_input.f32", index);
    write_floats(out_dir, file, soft, (size_t)n_soft * C);
    cJSON_AddStringToObject(c, "d_input", file);
    if (cs->weights) {
        snprintf(file, sizeof file, "case%d.grads.f32", index);
        write_floats(out_dir, file, grad_buf, n_params);
        cJSON_AddStringToObject(c, "grads", file);
    } else {
        cJSON_AddNullToObject(c, "grads");
    }
    cJSON_AddItemToArray(cases, c);
    fprintf(stderr, "case %-26s B=%d T=%d label terms %d, lm terms %d, loss %.6f\n", cs->name, B, T,
            n_lab, n_lm, loss);
    free(soft); free(flags); free(d_input); free(grad_buf); free(grad_blocks);
    free(dlogits); free(out_pos); free(targets);
}

// ----------------------------------------------------------------------------

int main(int argc, char **argv) {
    if (argc < 3 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: tool_grad_cases MODEL_DIR OUT_DIR [--seed S]\n");
        return 2;
    }
    rng_state = 1;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "tool_grad_cases: unknown option %s\n", argv[i]); return 2; }
    }
    GPT2Model m;
    Err err;
    if (gpt2_load(&m, argv[1], &err)) die("load", &err);
    int C = m.config.n_embd, V = m.config.vocab_size, maxB = 4, maxT = 24, P = 5;
    if (maxT > m.config.n_positions) die("the model's context is shorter than 24 positions", NULL);
    GPT2Acts a;
    if (gpt2_acts_alloc(&a, &m.config, maxB, maxT, maxT, 2 * maxB * maxT, 1, &err)) die("acts", &err);
    // soft vectors on the scale of the model's own token embeddings
    double ss = 0;
    for (size_t i = 0; i < (size_t)V * C; i++) ss += (double)m.w.wte[i] * m.w.wte[i];
    float emb_scale = (float)sqrt(3.0 * ss / ((double)V * C));

    cJSON *cases = cJSON_CreateArray();
    int index = 0;
    int labels[NK];
    if (V < NK) die("vocabulary smaller than the label set", NULL);
    for (int j = 0; j < NK;) { // distinct label ids
        int v = rng_int(V), dup = 0;
        for (int i = 0; i < j; i++) dup |= labels[i] == v;
        if (!dup) labels[j++] = v;
    }
    const char *names[2][3] = {{"first-label", "first-lm", "first-label+lm"},
                               {"last-label", "last-lm", "last-label+lm"}};
    for (int last = 0; last <= 1; last++)
        for (int kind = 0; kind < 3; kind++) {
            int B = 3, T = 20;
            Case cs = case_new(names[last][kind], B, T, C);
            memcpy(cs.labels, labels, sizeof labels);
            for (int b = 0; b < B; b++) {
                cs.lens[b] = b == 0 ? T : P + 2 + rng_int(T - P - 1);
                for (int t = 0; t < T; t++) cs.ids[b * T + t] = t < cs.lens[b] ? rng_int(V) : 0;
                int start = last ? cs.lens[b] - P : 0;
                for (int t = start; t < start + P; t++) {
                    cs.is_embed[b * T + t] = 1;
                    for (int i = 0; i < C; i++) cs.embeds[((size_t)b * T + t) * C + i] = emb_scale * rng_symmetric();
                }
                cs.label_target[b] = rng_int(NK);
                if (kind != 1) cs.label_pos[b] = cs.lens[b] - 1; // the classifier reads the last position
                if (kind != 0) { // next-token terms over the prompt (ids there: its projected tokens)
                    cs.lm_from[b] = last ? cs.lens[b] - P - 1 : 0;
                    cs.lm_to[b] = last ? cs.lens[b] - 1 : P;
                }
            }
            run_case(cases, argv[2], index++, &m, &a, &cs);
            case_free(&cs);
        }
    { // full weights: next-token loss on every real position
        int B = 4, T = 24;
        Case cs = case_new("weights-lm", B, T, C);
        cs.weights = 1;
        for (int b = 0; b < B; b++) {
            cs.lens[b] = b == 0 ? T : 2 + rng_int(T - 1);
            for (int t = 0; t < T; t++) cs.ids[b * T + t] = t < cs.lens[b] ? rng_int(V) : 0;
            cs.lm_from[b] = 0;
            cs.lm_to[b] = cs.lens[b] - 1;
        }
        for (int t = 0; t < 2; t++) {
            cs.is_embed[T + t] = 1;
            for (int i = 0; i < C; i++) cs.embeds[((size_t)T + t) * C + i] = emb_scale * rng_symmetric();
        }
        run_case(cases, argv[2], index++, &m, &a, &cs);
        case_free(&cs);
    }

    write_cases(argv[2], cases);
    gpt2_acts_free(&a);
    gpt2_free(&m);
    return 0;
}
