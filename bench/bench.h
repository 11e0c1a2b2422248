/*
 * bench/bench.h: what the C benchmarks share: a median,
 * the shape options (--layers --heads --embd --vocab --B --T --iters) and a
 * random model in memory (no checkpoint file: only the shape matters), and
 * bench_model_main, the main of a benchmark of such a model.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"

char *openblas_get_corename(void);
int openblas_get_num_threads(void);

__attribute__((unused)) static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    GPT2Config c;   // default: the GPT-2 124M shape
    int B, T, iters;
} BenchShape;

/* Parses the shape options; returns -1 to go on, else the exit status
 * (0 after --help, 2 on a usage error). */
__attribute__((unused)) static int bench_parse_shape(BenchShape *s, int argc, char **argv, const char *name) {
    *s = (BenchShape){.c = {.n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024,
                            .vocab_size = 50257, .layer_norm_epsilon = 1e-5f},
                      .B = 4, .T = 64, .iters = 5};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: %s [--layers L --heads H --embd C --vocab V] [--B 4 --T 64] [--iters 5]\n", name);
            return 0;
        }
        if (i + 1 >= argc) { fprintf(stderr, "%s: %s needs a value\n", name, argv[i]); return 2; }
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--layers")) s->c.n_layer = v;
        else if (!strcmp(argv[i], "--heads")) s->c.n_head = v;
        else if (!strcmp(argv[i], "--embd")) s->c.n_embd = v;
        else if (!strcmp(argv[i], "--vocab")) s->c.vocab_size = v;
        else if (!strcmp(argv[i], "--B")) s->B = v;
        else if (!strcmp(argv[i], "--T")) s->T = v;
        else if (!strcmp(argv[i], "--iters")) s->iters = v < 1 ? 1 : v > 64 ? 64 : v;
        else { fprintf(stderr, "%s: unknown option %s\n", name, argv[i]); return 2; }
        i++;
    }
    if (s->B < 1 || s->T < 1 || s->T > s->c.n_positions || s->c.n_layer < 1 || s->c.n_head < 1 ||
        s->c.n_embd < 1 || s->c.n_embd % s->c.n_head || s->c.vocab_size < 1) {
        fprintf(stderr, "%s: bad shape\n", name);
        return 2;
    }
    return -1;
}

/* A model of shape c in memory, weights uniform in +-0.02 (an LCG); returns
 * the parameter buffer (free it and m->blocks_storage), NULL when out of memory. */
__attribute__((unused)) static float *bench_random_model(GPT2Model *m, const GPT2Config *c) {
    memset(m, 0, sizeof *m);
    m->config = *c;
    size_t n = gpt2_num_params(c);
    float *params = malloc(n * sizeof(float));
    m->blocks_storage = malloc(c->n_layer * sizeof(GPT2Block));
    if (!params || !m->blocks_storage) { free(params); free(m->blocks_storage); return NULL; }
    uint64_t s = 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        params[i] = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.04f;
    }
    gpt2_point_weights(&m->w, m->blocks_storage, params, c);
    return params;
}

/* The main of a benchmark of a random model: parses the shape options, makes
 * the model, returns run(shape, model)'s status and frees the model (0 after
 * --help, 2 on a usage error, 1 when out of memory). */
__attribute__((unused)) static int bench_model_main(int argc, char **argv, const char *name,
                                                    int (*run)(const BenchShape *s, const GPT2Model *m)) {
    BenchShape shape;
    int rc = bench_parse_shape(&shape, argc, argv, name);
    if (rc >= 0) return rc;
    GPT2Model m;
    float *params = bench_random_model(&m, &shape.c);
    if (!params) { fprintf(stderr, "%s: out of memory\n", name); return 1; }
    rc = run(&shape, &m);
    free(params);
    free(m.blocks_storage);
    return rc;
}

#endif
