/*
 * tests/test_forward.c: invariants of the forward pass that need no outside
 * reference (tests/t_torch_forward.sh compares against PyTorch):
 *   - a KV-cached continuation equals the full recomputation;
 *   - a row's logits do not depend on the other rows or its padding;
 *   - input embeddings equal to wte rows give exactly the ids' result;
 *   - bad batches are refused with a message, never a crash.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

#define TEST_NAME "test_forward"
#include "tests/testlib.h"

static uint64_t rng = 42;

/* A random model in memory: no checkpoint file involved. */
static float *random_model(GPT2Model *m, GPT2Config c) {
    size_t n = gpt2_num_params(&c);
    float *params = xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) params[i] = 0.2f * sum_of_uniforms(&rng);
    model_on_params(m, c, params);
    return params;
}

static float max_rel_diff(const float *a, const float *b, size_t n) {
    float d = 0.0f, s = 0.0f;
    for (size_t i = 0; i < n; i++) {
        d = fmaxf(d, fabsf(a[i] - b[i]));
        s = fmaxf(s, fabsf(b[i]));
    }
    return s > 0 ? d / s : d;
}

/* gpt2_expf against exp in double over its range, at the clamps and on
 * non-finite inputs (NaN in, NaN out: never converted to an integer). */
static void test_expf(void) {
    double worst = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
        double want = exp((double)x), got = gpt2_expf(x);
        worst = fmax(worst, fabs(got - want) / want);
    }
    CHECK(worst < 4e-7, "gpt2_expf: max relative error %g", worst);
    CHECK(isnan(gpt2_expf(NAN)) && isnan(gpt2_expf(-NAN)), "NaN in: %g", gpt2_expf(NAN));
    CHECK(gpt2_expf(-INFINITY) == gpt2_expf(-87.0f) && gpt2_expf(-1000.0f) == gpt2_expf(-87.0f), "clamped below");
    CHECK(gpt2_expf(INFINITY) == gpt2_expf(88.0f) && isfinite(gpt2_expf(INFINITY)), "clamped above");
}

int main(void) {
    test_expf();
    GPT2Config c = {.n_layer = 2, .n_head = 4, .n_embd = 32, .n_positions = 64, .vocab_size = 300,
                    .layer_norm_epsilon = 1e-5f};
    GPT2Model m;
    float *params = random_model(&m, c);
    int V = c.vocab_size, C = c.n_embd, T = 20, B = 3;
    GPT2Acts a;
    GPT2KVCache kv;
    Err err;
    if (gpt2_acts_alloc(&a, &c, 4, 32, 64, 4 * 32, 0, &err) || kvcache_alloc(&kv, &c, 4, 64, &err)) {
        printf("FAIL alloc: %s\n", err.msg);
        return 1;
    }
    int ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (i * 7919 + 13) % V;

    // full recomputation of row 0, logits at every position
    int all[T];
    for (int t = 0; t < T; t++) all[t] = t;
    GPT2Batch full = {.B = 1, .T = T, .ids = ids, .out_pos = all, .n_out = T};
    CHECK(gpt2_forward(&m, &a, &full, &err) == 0, "full forward: %s", err.msg);
    float *ref = malloc((size_t)T * V * sizeof(float));
    memcpy(ref, a.logits, (size_t)T * V * sizeof(float));

    // prefix of 8 into the cache, then the remaining 12 as a continuation
    int row = 0, P = 8;
    GPT2Batch pre = {.B = 1, .T = P, .ids = ids, .store = &kv, .store_rows = &row};
    CHECK(gpt2_forward(&m, &a, &pre, &err) == 0, "prefix: %s", err.msg);
    CHECK(kv.len[0] == P, "cache length %d after the prefix, want %d", kv.len[0], P);
    GPT2Batch cont = {.B = 1, .T = T - P, .ids = ids + P, .prefix = &kv, .prefix_rows = &row,
                      .out_pos = all, .n_out = T - P};
    CHECK(gpt2_forward(&m, &a, &cont, &err) == 0, "continuation: %s", err.msg);
    float d = max_rel_diff(a.logits, ref + (size_t)P * V, (size_t)(T - P) * V);
    CHECK(d < 1e-5f, "cached continuation differs from recomputation by %g", d);
    CHECK(kv.len[0] == P, "a read-only continuation changed the cache length to %d", kv.len[0]);

    // token by token, appending to the cache
    for (int t = P; t < T; t++) {
        int zero = 0;
        GPT2Batch one = {.B = 1, .T = 1, .ids = ids + t, .prefix = &kv, .prefix_rows = &row,
                         .store = &kv, .store_rows = &row, .out_pos = &zero, .n_out = 1};
        CHECK(gpt2_forward(&m, &a, &one, &err) == 0, "step %d: %s", t, err.msg);
        d = max_rel_diff(a.logits, ref + (size_t)t * V, V);
        CHECK(d < 1e-5f, "generation step %d differs from recomputation by %g", t, d);
    }
    CHECK(kv.len[0] == T, "cache length %d after generation, want %d", kv.len[0], T);

    // row 0 inside a ragged batch: other rows and padding must not matter
    int lens[3] = {T, 5, 11}, last[3] = {T - 1, T + 4, 2 * T + 10};
    GPT2Batch batch = {.B = B, .T = T, .ids = ids, .lens = lens, .out_pos = last, .n_out = 3};
    CHECK(gpt2_forward(&m, &a, &batch, &err) == 0, "batch: %s", err.msg);
    d = max_rel_diff(a.logits, ref + (size_t)(T - 1) * V, V);
    CHECK(d < 1e-5f, "row 0 in a batch differs from row 0 alone by %g", d);
    float row1[V];
    memcpy(row1, a.logits + V, sizeof row1);
    int ids_pad[B * T];
    memcpy(ids_pad, ids, sizeof ids_pad);
    for (int t = 5; t < T; t++) ids_pad[T + t] = 1; // other padding tokens in row 1
    batch.ids = ids_pad;
    CHECK(gpt2_forward(&m, &a, &batch, &err) == 0, "batch with other padding: %s", err.msg);
    CHECK(memcmp(row1, a.logits + V, sizeof row1) == 0, "padding changed row 1's logits");

    // activations sized by real positions: the ragged batch (36 of 60) runs in an arena for 36,
    // to the same bits (rows are packed either way), and one more position is refused
    GPT2Acts packed;
    int n_real = T + 5 + 11;
    CHECK(gpt2_acts_alloc_tokens(&packed, &c, B, T, n_real, T, 3, 0, &err) == 0, "alloc by tokens: %s", err.msg);
    CHECK(gpt2_acts_bytes(&c, B, T, n_real, T, 3, 0) == packed.floats * sizeof(float) &&
              packed.floats < gpt2_acts_bytes(&c, B, T, 0, T, 3, 0) / sizeof(float),
          "gpt2_acts_bytes %zu for %d tokens, arena %zu floats", gpt2_acts_bytes(&c, B, T, n_real, T, 3, 0), n_real,
          packed.floats);
    CHECK(gpt2_forward(&m, &packed, &batch, &err) == 0, "batch in an arena by tokens: %s", err.msg);
    CHECK(memcmp(row1, packed.logits + V, sizeof row1) == 0, "row 1 differs in an arena sized by tokens");
    lens[2]++;
    CHECK(gpt2_forward(&m, &packed, &batch, &err) != 0 && strstr(err.msg, "real positions"),
          "a batch of %d real positions accepted by an arena for %d", n_real + 1, n_real);
    lens[2]--;
    gpt2_acts_free(&packed);
    CHECK(gpt2_acts_alloc_tokens(&packed, &c, B, T, B * T + 1, T, 3, 0, &err) != 0, "more tokens than B x T accepted");

    // classifier rows: the label logits are the same columns of the full logits
    int label_ids[3] = {7, V - 1, 42};
    GPT2Batch cls = {.B = B, .T = T, .ids = ids, .lens = lens, .out_pos = last, .n_out = 3,
                     .label_pos = last, .n_label = 3, .label_ids = label_ids, .n_label_ids = 3};
    CHECK(gpt2_forward(&m, &a, &cls, &err) == 0, "classifier rows: %s", err.msg);
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) {
            float full = a.logits[(size_t)r * V + label_ids[k]], lab = a.label_logits[r * 3 + k];
            CHECK(fabsf(full - lab) <= 1e-5f * (1.0f + fabsf(full)), "label logit row %d id %d: %g vs %g", r, label_ids[k], lab, full);
        }
    int bad_label = V;
    cls.label_ids = &bad_label; cls.n_label_ids = 1;
    CHECK(gpt2_forward(&m, &a, &cls, &err) != 0 && strstr(err.msg, "label id"), "label id %d accepted", V);

    // embeddings equal to wte rows: identical to feeding the ids
    float *emb = malloc((size_t)T * C * sizeof(float));
    unsigned char is_embed[T];
    for (int t = 0; t < T; t++) {
        is_embed[t] = t < 6;
        memcpy(emb + (size_t)t * C, m.w.wte + (size_t)ids[t] * C, C * sizeof(float));
    }
    GPT2Batch soft = {.B = 1, .T = T, .ids = ids, .embeds = emb, .is_embed = is_embed,
                      .out_pos = all, .n_out = T};
    CHECK(gpt2_forward(&m, &a, &soft, &err) == 0, "soft: %s", err.msg);
    CHECK(memcmp(a.logits, ref, (size_t)T * V * sizeof(float)) == 0, "wte rows as embeds differ from ids");

    // bad batches are refused with a message
    int bad_ids[2] = {V, 0}, bad_out = 1;
    GPT2Batch b1 = {.B = 1, .T = 2, .ids = bad_ids};
    CHECK(gpt2_forward(&m, &a, &b1, &err) != 0 && strstr(err.msg, "out of range"), "id %d accepted", V);
    int one_len = 1;
    GPT2Batch b2 = {.B = 1, .T = 2, .ids = ids, .lens = &one_len, .out_pos = &bad_out, .n_out = 1};
    CHECK(gpt2_forward(&m, &a, &b2, &err) != 0 && strstr(err.msg, "padding"), "logits of padding accepted");
    GPT2Batch b3 = {.B = 5, .T = 2, .ids = ids};
    CHECK(gpt2_forward(&m, &a, &b3, &err) != 0 && strstr(err.msg, "does not fit"), "oversized batch accepted");
    int rows2[2] = {1, 1};
    GPT2Batch b4 = {.B = 2, .T = 2, .ids = ids, .store = &kv, .store_rows = rows2};
    CHECK(gpt2_forward(&m, &a, &b4, &err) != 0 && strstr(err.msg, "both store"), "two rows stored into one cache row");
    kv.len[2] = 63;
    int row2 = 2;
    GPT2Batch b5 = {.B = 1, .T = 2, .ids = ids, .store = &kv, .store_rows = &row2};
    CHECK(gpt2_forward(&m, &a, &b5, &err) != 0 && strstr(err.msg, "full"), "overfull cache row accepted");
    GPT2Batch b6 = {.B = 1, .T = 2, .ids = ids, .prefix = &kv, .prefix_rows = &row2};
    CHECK(gpt2_forward(&m, &a, &b6, &err) != 0, "context overflow accepted");
    GPT2Acts none;
    CHECK(gpt2_acts_alloc(&none, &c, 0, 1, 1, 1, 0, &err) != 0, "zero-row activations accepted");

    free(emb);
    free(ref);
    kvcache_free(&kv);
    gpt2_acts_free(&a);
    free(params);
    free(m.blocks_storage);
    return test_finish();
}
