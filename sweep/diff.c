// sweep/diff.c: what differs between two points, said the way a researcher edits a spec:
// "pez.steps 40 → 50" (sweep_json_diff), for the message of a resume that finds its spec changed.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"

#define VALUE_CHARS 40   // a value longer than this (a template, a prompt) is cut: the line stays one line

typedef struct {
    char *out;
    size_t cap, len;
    int max_keys, n;
} Diff;

static void put(Diff *d, const char *s) {
    size_t n = strlen(s);
    if (d->len + 1 >= d->cap) return;
    if (n > d->cap - 1 - d->len) n = d->cap - 1 - d->len;
    memcpy(d->out + d->len, s, n);
    d->len += n;
    d->out[d->len] = '\0';
}

/* A value as compact JSON, cut (on a UTF-8 boundary) to VALUE_CHARS bytes with "…". */
static void put_value(Diff *d, const cJSON *v) {
    if (!v) { put(d, "(none)"); return; }
    char *text = cJSON_PrintUnformatted(v);
    if (!text) { put(d, "?"); return; }
    size_t n = strlen(text);
    int cut = n > VALUE_CHARS;
    if (cut) {
        n = VALUE_CHARS;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;   // not inside a character
        text[n] = '\0';
    }
    put(d, text);
    if (cut) put(d, "…");
    free(text);
}

static void differ(Diff *d, const char *path, const cJSON *a, const cJSON *b) {
    if (d->n < d->max_keys) {
        put(d, d->n ? ", " : "");
        put(d, path);
        put(d, " ");
        put_value(d, a);
        put(d, " → ");
        put_value(d, b);
    } else if (d->n == d->max_keys) {
        put(d, ", …");
    }
    d->n++;
}

static int by_name(const void *x, const void *y) { return strcmp(*(const char *const *)x, *(const char *const *)y); }

static void walk(Diff *d, const char *path, const cJSON *a, const cJSON *b);

/* Both objects: every key of either, in name order (a canonical point's order), once. */
static void walk_object(Diff *d, const char *path, const cJSON *a, const cJSON *b) {
    int n = cJSON_GetArraySize(a) + cJSON_GetArraySize(b), k = 0;
    const char **keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    if (!keys) { differ(d, path[0] ? path : "(the point)", a, b); return; }
    const cJSON *e;
    cJSON_ArrayForEach(e, a) keys[k++] = e->string;
    cJSON_ArrayForEach(e, b) keys[k++] = e->string;
    qsort(keys, (size_t)k, sizeof *keys, by_name);
    for (int i = 0; i < k; i++) {
        if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0) continue;
        char sub[512];
        snprintf(sub, sizeof sub, "%s%s%s", path, path[0] ? "." : "", keys[i]);
        walk(d, sub, cJSON_GetObjectItemCaseSensitive(a, keys[i]), cJSON_GetObjectItemCaseSensitive(b, keys[i]));
    }
    free(keys);
}

static void walk(Diff *d, const char *path, const cJSON *a, const cJSON *b) {
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) walk_object(d, path, a, b);
    else if (!a || !b || !cJSON_Compare(a, b, 1)) differ(d, path, a, b);   // arrays: whole
}

int sweep_json_diff(const char *old_json, const char *new_json, int max_keys, char *out, size_t cap) {
    if (cap) out[0] = '\0';
    cJSON *a = cJSON_Parse(old_json), *b = cJSON_Parse(new_json);
    int rc = -1;
    if (a && b) {
        Diff d = {.out = out, .cap = cap, .max_keys = max_keys};
        walk(&d, "", a, b);
        rc = d.n;
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    return rc;
}
