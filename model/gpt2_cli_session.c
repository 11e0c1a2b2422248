/*
 * model/gpt2_cli_session.c: a loaded model with its tokenizer, KV cache and
 * activations, as score, generate, logits and info use it; each part is
 * freed only if it was made, so that an early failure frees exactly what
 * exists. And the encoding of a command's text into checked token ids.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2_cli.h"

int session_open(Session *s, const char *dir, int with_tokenizer, Err *err) {
    memset(s, 0, sizeof *s);
    if (gpt2_load(&s->model, dir, err) != 0) return -1;
    s->have_model = 1;
    if (with_tokenizer && tokenizer_load(&s->tok, dir, err) != 0) {
        s->tok = NULL;
        return -1;
    }
    return 0;
}

int session_alloc(Session *s, int kv_len, int max_T, int max_keys, int max_out, Err *err) {
    if (kv_len > 0) {
        if (kvcache_alloc(&s->kv, &s->model.config, 1, kv_len, err) != 0) return -1;
        s->have_kv = 1;
    }
    if (gpt2_acts_alloc(&s->acts, &s->model.config, 1, max_T, max_keys, max_out, 0, err) != 0) return -1;
    s->have_acts = 1;
    return 0;
}

void session_close(Session *s) {
    if (s->have_acts) gpt2_acts_free(&s->acts);
    if (s->have_kv) kvcache_free(&s->kv);
    if (s->tok) tokenizer_free(s->tok);
    if (s->have_model) gpt2_free(&s->model);
    memset(s, 0, sizeof *s);
}

// Encodes text into a malloc'd array. A token holds at least one byte, and
// an ill-formed UTF-8 byte becomes the 3 bytes of U+FFFD, so 3 ids per input
// byte always suffice.
int encode_text(Session *s, const char *text, size_t len, int **ids, int *n_ids, Err *err) {
    if (len > (size_t)(INT32_MAX / 3 - 1)) return err_fail(err, "text too long (%zu bytes)", len);
    int cap = (int)(3 * len + 1);
    *ids = malloc(sizeof(int) * (size_t)cap);
    if (!*ids) return err_fail(err, "out of memory");
    if (tokenizer_encode(s->tok, text, len, *ids, cap, n_ids, err) != 0) {
        free(*ids);
        *ids = NULL;
        return -1;
    }
    return 0;
}

// Every id must index a row of wte.
int check_ids_in_vocab(const int *ids, int n, int V, Err *err) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return err_fail(err, "token id %d is outside the model's vocabulary (V = %d)", ids[i], V);
    return 0;
}
