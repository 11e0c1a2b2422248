/*
 * tests/cases.h: what tests/tool_forward_cases.c and tests/tool_grad_cases.c
 * share: a splitmix64 generator seeded by the tool (rng_state), die(), the
 * raw float32 files and cases.json they write for tests/torch_ref.py. Define
 * TOOL_NAME before including it.
 */
#ifndef TESTS_CASES_H
#define TESTS_CASES_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/gpt2.h"

#ifndef TOOL_NAME
#error "define TOOL_NAME before including tests/cases.h"
#endif

static uint64_t rng_state;
static uint64_t rng_next(void) { return splitmix64(&rng_state); }
__attribute__((unused)) static int rng_int(int n) { return (int)(rng_next() % (uint64_t)n); }
__attribute__((unused)) static float rng_symmetric(void) {   // [-1, 1)
    return (float)((rng_next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

__attribute__((noreturn)) static void die(const char *what, const Err *err) {
    fprintf(stderr, TOOL_NAME ": %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

// Writes n floats (raw, this machine's byte order) to dir/name.
static void write_floats(const char *dir, const char *name, const float *x, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(float), n, f) != n || fclose(f)) die(path, NULL);
}

static cJSON *int_array(const int *x, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[i]));
    return a;
}

// Writes {"cases": cases} to out_dir/cases.json; takes cases.
static void write_cases(const char *out_dir, cJSON *cases) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "cases", cases);
    char *text = cJSON_Print(root);
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.json", out_dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) die(path, NULL);
    free(text);
    cJSON_Delete(root);
}

#endif
