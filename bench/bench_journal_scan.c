/*
 * bench/bench_journal_scan.c: the scan for an intact frame after journal damage
 * (journal_find_intact) on crafted tails: every 13 bytes a magic whose length claims the
 * rest of the file (wrong CRCs), nothing intact. Its cost must grow linearly with the size:
 * the time per MB is printed for 0.25, 1 and 4 MB side by side, with the ratio of the
 * largest to the smallest (about 1 when linear; it was about 16 per 4x when each magic cost
 * a CRC over the rest of the file: 13.9 s at 1 MB).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "results/results.h"

static double scan_seconds(const char *dir, size_t bytes) {
    size_t n = bytes / 13 * 13;
    unsigned char *buf = calloc(n, 1);
    if (!buf) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t i = 0; i + 13 <= n; i += 13) {
        uint32_t rest = (uint32_t)(n - i - 13);
        memcpy(buf + i, "PJF1", 4);
        buf[i + 4] = JOURNAL_DISPATCH;
        for (int k = 0; k < 4; k++) buf[i + 5 + k] = (unsigned char)(rest >> (8 * k));
        memset(buf + i + 9, 0xA5, 4);
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/journal", dir);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) { perror(path); exit(1); }
    free(buf);
    Err err;
    int64_t next;
    double t0 = util_now();
    if (journal_find_intact(dir, 0, &next, &err) != 0 || next != -1) { fprintf(stderr, "scan: %s\n", err.msg); exit(1); }
    return util_now() - t0;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/bench_journal_scan.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    const size_t sizes[] = {1 << 18, 1 << 20, 1 << 22};
    double per_mb[3];
    for (int i = 0; i < 3; i++) {
        double s = scan_seconds(dir, sizes[i]);
        per_mb[i] = s / ((double)sizes[i] / (1 << 20));
        printf("crafted tail of %5.2f MB: %8.3f s, %7.3f s per MB\n", (double)sizes[i] / (1 << 20), s, per_mb[i]);
    }
    printf("time per MB, 4 MB / 0.25 MB: %.2f (1: linear)\n", per_mb[2] / per_mb[0]);
    char path[4200];
    snprintf(path, sizeof path, "%s/journal", dir);
    unlink(path);
    rmdir(dir);
    return 0;
}
