/*
 * tests/tool_forward_cases.c: runs the C forward on a checkpoint in every way
 * the tuners use it and writes what it computed for tests/torch_ref.py.
 *
 *   tool_forward_cases MODEL_DIR OUT_DIR [--seed S] [--big]
 *
 * Every case is described to the reference as plain full sequences (ids,
 * lens, optional input embeddings, the positions whose logits were taken), so
 * the reference knows nothing of how the C side batched, padded or cached:
 *   plain       ragged right-padded batch, logits at chosen positions
 *   embeds      soft prompt vectors first (PEZ layout) and last
 *   cache       prefixes stored in a KV cache, continuations computed on top
 *   shared      several batch rows continuing the same cached prefix
 *   generate    one token at a time, appending to the cache (generation)
 * --big adds the B=4, T=64 batch with every position's logits.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

#define TOOL_NAME "tool_forward_cases"
#include "tests/cases.h"

typedef struct {
    const char *out_dir;
    cJSON *cases;
    int count;
} Writer;

/* Records one case: full sequences (B,T) with lens, optional embeds, and the
 * C logits (n_out, V) taken at out_pos (flat positions in the full layout). */
static void add_case(Writer *w, const char *name, int B, int T, const int *ids, const int *lens,
                     const float *embeds, const unsigned char *is_embed, int C,
                     const int *out_pos, int n_out, const float *logits, int V) {
    char file[256];
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddNumberToObject(c, "B", B);
    cJSON_AddNumberToObject(c, "T", T);
    cJSON_AddItemToObject(c, "ids", int_array(ids, B * T));
    cJSON_AddItemToObject(c, "lens", int_array(lens, B));
    if (embeds) {
        snprintf(file, sizeof file, "case%d.embeds.f32", w->count);
        write_floats(w->out_dir, file, embeds, (size_t)B * T * C);
        cJSON_AddStringToObject(c, "embeds", file);
        int flags[B * T];
        for (int i = 0; i < B * T; i++) flags[i] = is_embed[i];
        cJSON_AddItemToObject(c, "is_embed", int_array(flags, B * T));
    } else {
        cJSON_AddNullToObject(c, "embeds");
        cJSON_AddNullToObject(c, "is_embed");
    }
    cJSON_AddItemToObject(c, "out_pos", int_array(out_pos, n_out));
    snprintf(file, sizeof file, "case%d.logits.f32", w->count);
    write_floats(w->out_dir, file, logits, (size_t)n_out * V);
    cJSON_AddStringToObject(c, "logits", file);
    cJSON_AddItemToArray(w->cases, c);
    w->count++;
    fprintf(stderr, "case %-22s B=%d T=%d rows=%d\n", name, B, T, n_out);
}

static void random_ids(int *ids, int n, int V) {
    for (int i = 0; i < n; i++) ids[i] = rng_int(V);
}

// ----------------------------------------------------------------------------
// the cases

/* Ragged batch, logits at the last real position of each row and a few more. */
static void case_plain(Writer *w, const GPT2Model *m, GPT2Acts *a, const char *name, int B, int T,
                       int all_positions) {
    int V = m->config.vocab_size, C = m->config.n_embd;
    int ids[B * T], lens[B], out_pos[B * T], n_out = 0;
    random_ids(ids, B * T, V);
    for (int b = 0; b < B; b++) {
        lens[b] = all_positions || b == 0 ? T : 1 + rng_int(T);
        if (all_positions) {
            for (int t = 0; t < lens[b]; t++) out_pos[n_out++] = b * T + t;
        } else {
            out_pos[n_out++] = b * T + lens[b] - 1;
            if (lens[b] > 2) out_pos[n_out++] = b * T + rng_int(lens[b] - 1);
        }
    }
    GPT2Batch batch = {.B = B, .T = T, .ids = ids, .lens = lens, .out_pos = out_pos, .n_out = n_out};
    Err err;
    if (gpt2_forward(m, a, &batch, &err)) die(name, &err);
    add_case(w, name, B, T, ids, lens, NULL, NULL, C, out_pos, n_out, a->logits, V);
}

/* Soft prompt of P vectors first (PEZ) or after the ids (prompt last). */
static void case_embeds(Writer *w, const GPT2Model *m, GPT2Acts *a, const char *name, int B, int T,
                        int P, int prompt_first) {
    int V = m->config.vocab_size, C = m->config.n_embd;
    int ids[B * T], lens[B], out_pos[B];
    unsigned char is_embed[B * T];
    float *embeds = calloc((size_t)B * T * C, sizeof(float));
    if (!embeds) die("out of memory", NULL);
    random_ids(ids, B * T, V);
    memset(is_embed, 0, sizeof is_embed);
    for (int b = 0; b < B; b++) {
        lens[b] = P + 1 + rng_int(T - P);
        int start = prompt_first ? 0 : lens[b] - P;
        for (int t = start; t < start + P; t++) {
            is_embed[b * T + t] = 1;
            for (int i = 0; i < C; i++) embeds[((size_t)b * T + t) * C + i] = 0.1f * rng_symmetric();
        }
        out_pos[b] = b * T + lens[b] - 1;
    }
    GPT2Batch batch = {.B = B, .T = T, .ids = ids, .lens = lens, .embeds = embeds,
                       .is_embed = is_embed, .out_pos = out_pos, .n_out = B};
    Err err;
    if (gpt2_forward(m, a, &batch, &err)) die(name, &err);
    add_case(w, name, B, T, ids, lens, embeds, is_embed, C, out_pos, B, a->logits, V);
    free(embeds);
}

/* Rows split into a cached prefix and a continuation. With shared, R prefixes
 * are continued by B rows (row b continues prefix b % R). */
static void case_cache(Writer *w, const GPT2Model *m, GPT2Acts *a, GPT2KVCache *kv,
                       const char *name, int B, int R, int T) {
    int V = m->config.vocab_size, C = m->config.n_embd;
    int Tp = T / 2, Tc = T - Tp;               // prefix and continuation widths
    int pre_ids[R * Tp], pre_lens[R], rows[R];
    int cont_ids[B * Tc], cont_lens[B], prefix_rows[B], cont_out[B * Tc], n_out = 0;
    int full_ids[B * T], full_lens[B], full_out[B * Tc];
    random_ids(pre_ids, R * Tp, V);
    random_ids(cont_ids, B * Tc, V);
    for (int r = 0; r < R; r++) { pre_lens[r] = 1 + rng_int(Tp); rows[r] = r; }
    kvcache_reset(kv);
    Err err;
    GPT2Batch pre = {.B = R, .T = Tp, .ids = pre_ids, .lens = pre_lens, .store = kv, .store_rows = rows};
    if (gpt2_forward(m, a, &pre, &err)) die(name, &err);
    for (int b = 0; b < B; b++) {
        int r = b % R;
        prefix_rows[b] = r;
        cont_lens[b] = 1 + rng_int(Tc);
        full_lens[b] = pre_lens[r] + cont_lens[b];
        for (int t = 0; t < T; t++) full_ids[b * T + t] = 0;
        for (int t = 0; t < pre_lens[r]; t++) full_ids[b * T + t] = pre_ids[r * Tp + t];
        for (int t = 0; t < cont_lens[b]; t++) {
            full_ids[b * T + pre_lens[r] + t] = cont_ids[b * Tc + t];
            cont_out[n_out] = b * Tc + t;
            full_out[n_out++] = b * T + pre_lens[r] + t;
        }
    }
    GPT2Batch cont = {.B = B, .T = Tc, .ids = cont_ids, .lens = cont_lens, .prefix = kv,
                      .prefix_rows = prefix_rows, .out_pos = cont_out, .n_out = n_out};
    if (gpt2_forward(m, a, &cont, &err)) die(name, &err);
    add_case(w, name, B, T, full_ids, full_lens, NULL, NULL, C, full_out, n_out, a->logits, V);
}

/* A prompt stored in the cache, then tokens fed one at a time, each appended. */
static void case_generate(Writer *w, const GPT2Model *m, GPT2Acts *a, GPT2KVCache *kv,
                          const char *name, int prompt_len, int steps) {
    int V = m->config.vocab_size, C = m->config.n_embd, T = prompt_len + steps;
    int ids[T], row = 0, out_pos[steps + 1], n_out = 0;
    float *logits = malloc((size_t)(steps + 1) * V * sizeof(float));
    if (!logits) die("out of memory", NULL);
    random_ids(ids, T, V);
    kvcache_reset(kv);
    Err err;
    int last = prompt_len - 1;
    GPT2Batch first = {.B = 1, .T = prompt_len, .ids = ids, .store = kv, .store_rows = &row,
                       .out_pos = &last, .n_out = 1};
    if (gpt2_forward(m, a, &first, &err)) die(name, &err);
    memcpy(logits, a->logits, (size_t)V * sizeof(float));
    out_pos[n_out++] = last;
    for (int s = 0; s < steps; s++) {
        int zero = 0;
        GPT2Batch one = {.B = 1, .T = 1, .ids = ids + prompt_len + s, .prefix = kv, .prefix_rows = &row,
                         .store = kv, .store_rows = &row, .out_pos = &zero, .n_out = 1};
        if (gpt2_forward(m, a, &one, &err)) die(name, &err);
        memcpy(logits + (size_t)n_out * V, a->logits, (size_t)V * sizeof(float));
        out_pos[n_out++] = prompt_len + s;
    }
    add_case(w, name, 1, T, ids, &T, NULL, NULL, C, out_pos, n_out, logits, V);
    free(logits);
}

// ----------------------------------------------------------------------------

int main(int argc, char **argv) {
    if (argc < 3 || !strcmp(argv[1], "--help")) {
        fprintf(stderr, "usage: tool_forward_cases MODEL_DIR OUT_DIR [--seed S] [--big]\n");
        return 2;
    }
    int big = 0;
    rng_state = 1;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--big")) big = 1;
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state = strtoull(argv[++i], NULL, 10);
        else { fprintf(stderr, "tool_forward_cases: unknown option %s\n", argv[i]); return 2; }
    }
    GPT2Model m;
    Err err;
    if (gpt2_load(&m, argv[1], &err)) die("load", &err);
    int maxT = 64, maxB = 8;
    GPT2Acts a;
    GPT2KVCache kv;
    if (gpt2_acts_alloc(&a, &m.config, maxB, maxT, 2 * maxT, maxB * maxT, 0, &err)) die("acts", &err);
    if (kvcache_alloc(&kv, &m.config, maxB, maxT, &err)) die("kv cache", &err);

    Writer w = {.out_dir = argv[2], .cases = cJSON_CreateArray()};
    case_plain(&w, &m, &a, "plain-B1-T16-all", 1, 16, 1);
    case_plain(&w, &m, &a, "plain-B5-T23-ragged", 5, 23, 0);
    case_plain(&w, &m, &a, "plain-B8-T1", 8, 1, 1);
    case_embeds(&w, &m, &a, "embeds-first-B3", 3, 20, 5, 1);
    case_embeds(&w, &m, &a, "embeds-last-B3", 3, 20, 5, 0);
    case_cache(&w, &m, &a, &kv, "cache-B4", 4, 4, 24);
    case_cache(&w, &m, &a, &kv, "shared-prefix-B6-R2", 6, 2, 30);
    case_generate(&w, &m, &a, &kv, "generate-7+9", 7, 9);
    if (big) case_plain(&w, &m, &a, "plain-B4-T64-all", 4, 64, 1);

    write_cases(argv[2], w.cases);
    kvcache_free(&kv);
    gpt2_acts_free(&a);
    gpt2_free(&m);
    return 0;
}
