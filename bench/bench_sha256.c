/*
 * bench/bench_sha256.c: the sha256 of a model-sized file (500 MB by default, --mb N), in the page
 * cache, by model/sha256.c (OpenSSL's libcrypto) and by the hand-written FIPS 180-4 code it
 * replaced (kept here as the reference, streamed in the same 1 MiB reads), side by side: MB/s of
 * each, their ratio, and what each costs a 124M point (model.safetensors: 548 MB) and a 1.5B one
 * (6.4 GB) that hashes the model itself, against the check of a digest handed over by the
 * sweep (gpt2_file_sha256_reuse: an open and a stat); then 1 KB in memory (a point id). The
 * digests must agree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

// ----------------------------------------------------------------------------
// the hand-written SHA-256 that model/sha256.c held before OpenSSL's

typedef struct {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
} RefSha256;

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void ref_block(RefSha256 *s, const unsigned char *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
    uint32_t e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void ref_init(RefSha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->bytes = 0;
    s->fill = 0;
}

static void ref_update(RefSha256 *s, const unsigned char *p, size_t n) {
    s->bytes += n;
    while (n > 0) {
        if (s->fill == 0 && n >= 64) { ref_block(s, p); p += 64; n -= 64; continue; }
        size_t take = 64 - s->fill < n ? 64 - s->fill : n;
        memcpy(s->block + s->fill, p, take);
        s->fill += take; p += take; n -= take;
        if (s->fill == 64) { ref_block(s, s->block); s->fill = 0; }
    }
}

static void ref_final(RefSha256 *s, char hex[65]) {
    uint64_t bits = s->bytes * 8;
    unsigned char pad[72] = {0x80};
    size_t npad = (s->fill < 56 ? 56 : 120) - s->fill;
    for (int i = 0; i < 8; i++) pad[npad + i] = (unsigned char)(bits >> (56 - 8 * i));
    ref_update(s, pad, npad + 8);
    for (int i = 0; i < 8; i++) snprintf(hex + 8 * i, 9, "%08x", s->h[i]);
}

static int ref_file_sha256(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static unsigned char buf[1 << 20];
    RefSha256 s;
    ref_init(&s);
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) ref_update(&s, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return -1;
    ref_final(&s, hex);
    return 0;
}

/* Seconds per sha256 of n bytes in memory (a point id hashes ~1 KB of JSON): hand-written and
 * libcrypto, alternated; the digests must agree. */
static void small_inputs(size_t n, int reps, double *ref_s, double *lib_s) {
    unsigned char *data = malloc(n);
    if (!data) { fprintf(stderr, "bench_sha256: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) data[i] = (unsigned char)('a' + i % 26);
    char ref_hex[65], lib_hex[65];
    double t0 = util_now();
    for (int r = 0; r < reps; r++) {
        RefSha256 s;
        ref_init(&s);
        data[0] = (unsigned char)r;
        ref_update(&s, data, n);
        ref_final(&s, ref_hex);
    }
    double t1 = util_now();
    for (int r = 0; r < reps; r++) {
        data[0] = (unsigned char)r;
        gpt2_sha256_hex(data, n, lib_hex);
    }
    double t2 = util_now();
    free(data);
    if (strcmp(ref_hex, lib_hex)) { fprintf(stderr, "bench_sha256: the digests differ in memory\n"); exit(1); }
    *ref_s = (t1 - t0) / reps;
    *lib_s = (t2 - t1) / reps;
}

// ----------------------------------------------------------------------------

/* A file of mb MB of a fixed pseudo-random pattern (incompressible, like weights). */
static void write_file(const char *path, int mb) {
    FILE *f = fopen(path, "wb");
    if (!f) { fprintf(stderr, "bench_sha256: %s: %s\n", path, strerror(errno)); exit(1); }
    static uint32_t chunk[1 << 18];   // 1 MiB
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int m = 0; m < mb; m++) {
        for (size_t i = 0; i < sizeof chunk / sizeof chunk[0]; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            chunk[i] = (uint32_t)x;
        }
        if (fwrite(chunk, 1, sizeof chunk, f) != sizeof chunk) { fprintf(stderr, "bench_sha256: write failed\n"); exit(1); }
    }
    if (fclose(f) != 0) { fprintf(stderr, "bench_sha256: write failed\n"); exit(1); }
}

int main(int argc, char **argv) {
    int mb = 500, iters = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mb") && i + 1 < argc) mb = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else { fprintf(stderr, "usage: bench_sha256 [--mb 500] [--iters 3]\n"); return 2; }
    }
    if (mb < 1 || iters < 1 || iters > 64) { fprintf(stderr, "bench_sha256: bad --mb or --iters\n"); return 2; }
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/bench_sha256.%d", tmp, (int)getpid());
    write_file(path, mb);
    char ref_hex[65] = "", lib_hex[65] = "";
    double ref_t[64], lib_t[64];
    for (int it = 0; it < iters; it++) {   // alternated, so both see the same cache and load
        double t0 = util_now();
        if (ref_file_sha256(path, ref_hex)) { fprintf(stderr, "bench_sha256: cannot read %s\n", path); unlink(path); return 1; }
        double t1 = util_now();
        Err err;
        if (gpt2_file_sha256(path, lib_hex, &err)) { fprintf(stderr, "bench_sha256: %s\n", err.msg); unlink(path); return 1; }
        ref_t[it] = t1 - t0;
        lib_t[it] = util_now() - t1;
    }
    // the digest handed over (a sweep's point): tune opens the file and compares its stamp
    struct timespec old[2];
    clock_gettime(CLOCK_REALTIME, &old[0]);
    old[0].tv_sec -= 60;   // not vouched for while it is new
    old[1] = old[0];
    char known[GPT2_KNOWN_SHA256_MAX], hex[65];
    Err err;
    int hashed = 1;
    if (utimensat(AT_FDCWD, path, old, 0) != 0 || gpt2_file_sha256_known(path, hex, known, sizeof known, &err) || !known[0]) {
        fprintf(stderr, "bench_sha256: no known line for %s\n", path);
        unlink(path);
        return 1;
    }
    double t2 = util_now();
    for (int r = 0; r < 100 && hashed == 1; r++)
        if (gpt2_file_sha256_reuse(path, known, hex, &hashed, &err)) hashed = 2;
    double handed = (util_now() - t2) / 100;
    unlink(path);
    if (hashed != 0 || strcmp(hex, lib_hex)) { fprintf(stderr, "bench_sha256: the known digest was not used\n"); return 1; }
    if (strcmp(ref_hex, lib_hex)) { fprintf(stderr, "bench_sha256: the digests differ: %s %s\n", ref_hex, lib_hex); return 1; }
    qsort(ref_t, (size_t)iters, sizeof ref_t[0], cmp_double);
    qsort(lib_t, (size_t)iters, sizeof lib_t[0], cmp_double);
    double ref = ref_t[iters / 2], lib = lib_t[iters / 2], bytes = (double)mb * (1 << 20);
    printf("sha256 of a %d MB file (page cache, median of %d): hand-written %.0f MB/s (%.2f s), "
           "libcrypto %.0f MB/s (%.2f s): %.2fx\n",
           mb, iters, bytes / ref / 1e6, ref, bytes / lib / 1e6, lib, ref / lib);
    const double gpt2_124m = 548e6, gpt2_1558m = 6.43e9;   // model.safetensors of gpt2, gpt2-xl
    printf("per point that hashes its model: 124M %.2f s -> %.2f s, 1.5B %.1f s -> %.1f s; "
           "handed over by the sweep (known digest, stamp checked): %.0f us\n",
           gpt2_124m / bytes * ref, gpt2_124m / bytes * lib, gpt2_1558m / bytes * ref, gpt2_1558m / bytes * lib,
           handed * 1e6);
    double ref_small, lib_small;
    small_inputs(1024, 100000, &ref_small, &lib_small);
    printf("sha256 of 1 KB in memory (a point id): hand-written %.2f us, libcrypto %.2f us: %.2fx\n",
           ref_small * 1e6, lib_small * 1e6, ref_small / lib_small);
    return 0;
}
