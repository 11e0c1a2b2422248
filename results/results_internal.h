/*
 * results/results_internal.h: what the files of results/ share; not part of
 * the contract (results.h).
 */
#ifndef RESULTS_INTERNAL_H
#define RESULTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "results/results.h"

// little-endian 32-bit fields of the journal's frames
static inline void put_u32le(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// ----------------------------------------------------------------------------
// a point's keys (keys.c, issue 13)

typedef struct cJSON cJSON;

/* A leaf of a point's JSON under its dotted path ("pez.lr"): objects are flattened, anything
 * else (arrays, empty objects) is a leaf. */
typedef struct {
    const char *path;
    const cJSON *v;        // the value, in the point's tree
    char *json;            // an array's or object's compact JSON (owned), else NULL
} ResultsLeaf;

/* Every leaf of a point, sorted by path. */
typedef struct {
    ResultsLeaf *leaf;
    int n;
    char *paths;           // the paths' text, one block
} ResultsLeaves;

/* The leaves of point (no leaves when it is not an object); -1 out of memory. The tree must
 * outlive them. */
int results_leaves(ResultsLeaves *l, const cJSON *point);
void results_leaves_free(ResultsLeaves *l);
const ResultsLeaf *results_leaf_find(const ResultsLeaves *l, const char *path);   // NULL: absent
/* A total order of values: absent (NULL) first, then numbers (by value), strings (bytes),
 * false, true, null, arrays and objects (by their compact JSON). 0: the same value. */
int results_leaf_cmp(const ResultsLeaf *a, const ResultsLeaf *b);
/* The value as text, malloc'd: a string as it is, anything else its compact JSON; NULL absent. */
char *results_leaf_text(const ResultsLeaf *f);
/* Whether path is key or a key nested under it ("data.train" is under "data"). */
int results_key_under(const char *path, const char *key);

/* A sorted list of distinct paths (owned). */
typedef struct {
    char **path;
    int n, cap;
} ResultsKeys;
/* Adds to keys every path whose value differs between two of the n points, a point without
 * the path holding no value (so a key some points lack does not vary by that alone), unless
 * it is one of skip. -1 out of memory. */
int results_keys_varying(ResultsKeys *keys, const ResultsLeaves *const *pts, int n, const char *const *skip,
                         int n_skip);
void results_keys_free(ResultsKeys *k);

#endif
