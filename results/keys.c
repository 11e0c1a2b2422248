// results/keys.c (issue 13): a point's keys as the report sees them: every leaf of its JSON
// under a dotted path ("pez.lr"), leaves compared by value, and the keys whose values differ
// between points. report.c makes configurations of them: a configuration is every key of the
// point but the replicate keys.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_internal.h"

/* Counts the leaves under object o and the bytes of their paths (prefix bytes before each). */
static void count_leaves(const cJSON *o, size_t prefix, int *n, size_t *bytes, size_t *longest) {
    for (const cJSON *c = o->child; c; c = c->next) {
        size_t len = prefix + (prefix ? 1 : 0) + strlen(c->string ? c->string : "");
        if (len > *longest) *longest = len;
        if (cJSON_IsObject(c) && c->child) {
            count_leaves(c, len, n, bytes, longest);
        } else {
            (*n)++;
            *bytes += len + 1;
        }
    }
}

/* Appends the leaves under o, path[0..plen) their prefix; *at is where the next path goes. */
static int fill_leaves(ResultsLeaves *l, const cJSON *o, char *path, size_t plen, char **at) {
    for (const cJSON *c = o->child; c; c = c->next) {
        const char *name = c->string ? c->string : "";
        size_t len = plen + (plen ? 1 : 0) + strlen(name);
        if (plen) path[plen] = '.';
        memcpy(path + plen + (plen ? 1 : 0), name, strlen(name) + 1);
        if (cJSON_IsObject(c) && c->child) {
            if (fill_leaves(l, c, path, len, at)) return -1;
            continue;
        }
        ResultsLeaf *f = &l->leaf[l->n++];
        memcpy(*at, path, len + 1);
        f->path = *at;
        *at += len + 1;
        f->v = c;
        f->json = NULL;
        // arrays and empty objects compare and print as their compact JSON, made once here
        if ((cJSON_IsArray(c) || cJSON_IsObject(c)) && !(f->json = cJSON_PrintUnformatted(c))) return -1;
    }
    return 0;
}

static int cmp_leaf_paths(const void *pa, const void *pb) {
    return strcmp(((const ResultsLeaf *)pa)->path, ((const ResultsLeaf *)pb)->path);
}

int results_leaves(ResultsLeaves *l, const cJSON *point) {
    memset(l, 0, sizeof *l);
    if (!cJSON_IsObject(point)) return 0;
    int n = 0;
    size_t bytes = 0, longest = 0;
    count_leaves(point, 0, &n, &bytes, &longest);
    if (n == 0) return 0;
    l->leaf = malloc((size_t)n * sizeof *l->leaf);
    l->paths = malloc(bytes);
    char *path = malloc(longest + 1);
    char *at = l->paths;
    int rc = !l->leaf || !l->paths || !path ? -1 : fill_leaves(l, point, path, 0, &at);
    free(path);
    if (rc) {
        results_leaves_free(l);
        return -1;
    }
    qsort(l->leaf, (size_t)l->n, sizeof *l->leaf, cmp_leaf_paths);
    return 0;
}

void results_leaves_free(ResultsLeaves *l) {
    for (int i = 0; i < l->n; i++) cJSON_free(l->leaf[i].json);
    free(l->leaf);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

const ResultsLeaf *results_leaf_find(const ResultsLeaves *l, const char *path) {
    ResultsLeaf key = {.path = path};
    return l->n ? bsearch(&key, l->leaf, (size_t)l->n, sizeof *l->leaf, cmp_leaf_paths) : NULL;
}

/* The order of the kinds of values: numbers, strings, false/true/null, arrays and objects. */
static int kind(const cJSON *v) {
    if (cJSON_IsNumber(v)) return 0;
    if (cJSON_IsString(v)) return 1;
    if (cJSON_IsFalse(v)) return 2;
    if (cJSON_IsTrue(v)) return 3;
    if (cJSON_IsNull(v)) return 4;
    return 5;
}

int results_leaf_cmp(const ResultsLeaf *a, const ResultsLeaf *b) {
    if (!a || !b) return (a != NULL) - (b != NULL);
    int ka = kind(a->v), kb = kind(b->v);
    if (ka != kb) return ka - kb;
    if (ka == 0) {   // NaN cannot come from JSON; ordered anyway, after every number
        double x = a->v->valuedouble, y = b->v->valuedouble;
        if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
        return (x > y) - (x < y);
    }
    if (ka == 1) return strcmp(a->v->valuestring, b->v->valuestring);
    if (ka == 5) return strcmp(a->json ? a->json : "", b->json ? b->json : "");
    return 0;
}

char *results_leaf_text(const ResultsLeaf *f) {
    if (!f) return NULL;
    if (cJSON_IsString(f->v)) return strdup(f->v->valuestring);
    if (f->json) return strdup(f->json);
    char *t = cJSON_PrintUnformatted(f->v), *copy = t ? strdup(t) : NULL;
    cJSON_free(t);
    return copy;
}

int results_key_under(const char *path, const char *key) {
    size_t n = strlen(key);
    return strncmp(path, key, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

// ----------------------------------------------------------------------------
// the keys that vary

/* One path of a group: its first value seen, and whether another value was seen. */
typedef struct {
    const ResultsLeaf *first;
    int varies;
} Seen;

static int cmp_seen(const void *pa, const void *pb) {
    return strcmp(((const Seen *)pa)->first->path, ((const Seen *)pb)->first->path);
}

static int add_key(ResultsKeys *k, const char *path) {
    int lo = 0, hi = k->n;   // sorted insertion: the lists are short (the axes of a sweep)
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = strcmp(k->path[mid], path);
        if (c == 0) return 0;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 16;
        char **grown = realloc(k->path, (size_t)cap * sizeof *grown);
        if (!grown) return -1;
        k->path = grown;
        k->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy) return -1;
    memmove(k->path + lo + 1, k->path + lo, (size_t)(k->n - lo) * sizeof *k->path);
    k->path[lo] = copy;
    k->n++;
    return 0;
}

int results_keys_varying(ResultsKeys *keys, const ResultsLeaves *const *pts, int n, const char *const *skip,
                         int n_skip) {
    int n_seen = 0, cap = 0;
    Seen *seen = NULL;
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        for (int f = 0; f < pts[i]->n && rc == 0; f++) {
            const ResultsLeaf *leaf = &pts[i]->leaf[f];
            Seen probe = {.first = leaf};
            Seen *s = n_seen ? bsearch(&probe, seen, (size_t)n_seen, sizeof *seen, cmp_seen) : NULL;
            if (s) {
                s->varies |= results_leaf_cmp(s->first, leaf) != 0;
                continue;
            }
            if (n_seen == cap) {
                cap = cap ? 2 * cap : 64;
                Seen *grown = realloc(seen, (size_t)cap * sizeof *grown);
                if (!grown) { rc = -1; break; }
                seen = grown;
            }
            int at = n_seen;
            while (at > 0 && strcmp(seen[at - 1].first->path, leaf->path) > 0) {
                seen[at] = seen[at - 1];
                at--;
            }
            seen[at] = probe;
            n_seen++;
        }
    }
    for (int s = 0; s < n_seen && rc == 0; s++) {
        if (!seen[s].varies) continue;
        int skipped = 0;
        for (int k = 0; k < n_skip && !skipped; k++) skipped = strcmp(seen[s].first->path, skip[k]) == 0;
        if (!skipped) rc = add_key(keys, seen[s].first->path);
    }
    free(seen);
    return rc;
}

void results_keys_free(ResultsKeys *k) {
    for (int i = 0; i < k->n; i++) free(k->path[i]);
    free(k->path);
    memset(k, 0, sizeof *k);
}
