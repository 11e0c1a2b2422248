/*
 * bench/bench_spec_expand.c: expanding a sweep spec into its points (sweep/spec.c) must grow
 * linearly with the grid: specs of 10k, 40k and 160k seeds (fake files, only their bytes and
 * paths matter) parsed side by side, microseconds per point and the ratio of the largest to
 * the smallest (about 1 when linear; before, each point looked its axis value up by index in
 * cJSON's list: 100k points 22 s, 200k 65 s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "sweep/sweep.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) { perror(path); exit(1); }
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4300];
    snprintf(dir, sizeof dir, "%s/bench_spec_expand.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    snprintf(path, sizeof path, "%s/model", dir);
    mkdir(path, 0755);
    const char *files[] = {"model/config.json", "model/model.safetensors", "train.tsv", "dev.tsv", "test.tsv", "words"};
    const char *text[] = {"{}", "weights", "sentence\tlabel\na\t1\n", "sentence\tlabel\na\t1\n",
                          "sentence\tlabel\na\t1\n", "a\n"};
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        write_file(path, text[i]);
    }
    const int sizes[] = {10000, 40000, 160000};
    double per[3];
    for (int k = 0; k < 3; k++) {
        size_t cap = (size_t)sizes[k] * 8 + 4096;
        char *spec = malloc(cap), *seeds = malloc(cap);
        size_t used = 0;
        for (int i = 0; i < sizes[k]; i++) used += (size_t)snprintf(seeds + used, cap - used, "%s%d", i ? "," : "", i);
        snprintf(spec, cap,
                 "{\"model\":\"%s/model\",\"task\":\"sst-2\",\"data\":{\"train\":\"%s/train.tsv\",\"dev\":\"%s/dev.tsv\","
                 "\"test\":\"%s/test.tsv\"},\"out\":\"%s/out\",\"grid\":{\"method\":[\"pez\"],\"seed\":[%s]},"
                 "\"point\":{\"dictionary\":\"%s/words\"}}", dir, dir, dir, dir, dir, seeds, dir);
        SweepSpec s;
        Err err;
        double t0 = util_now();
        if (sweep_spec_parse(&s, spec, strlen(spec), "/bin/true", &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
        double t = util_now() - t0;
        per[k] = t / s.n_points * 1e6;
        printf("%7d points: %7.2f s, %6.1f us per point\n", s.n_points, t, per[k]);
        sweep_spec_free(&s);
        free(spec);
        free(seeds);
    }
    printf("time per point, 160k / 10k: %.2f (1: linear)\n", per[2] / per[0]);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) != 0;
}
