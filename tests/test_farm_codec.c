// tests/test_farm_codec.c: farm_compress / farm_decompress, the zlib framing of results.
//   Round trips (empty, small, 16 MB mixed), the CRC32 check value, and every way a frame
//   can be wrong: each single-bit flip of a stream, each truncation, stray bytes after
//   it, a wrong raw length either way, a wrong CRC32. All must fail with a one-line message.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/farm.h"

static int fails = 0;
#define CHECK(cond, ...)                                                                                   \
    do {                                                                                                   \
        if (!(cond)) {                                                                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                    \
            printf(__VA_ARGS__);                                                                           \
            printf("\n");                                                                                  \
            fails++;                                                                                       \
        }                                                                                                  \
    } while (0)

/* n bytes that compress in parts: runs of one byte, random stretches, repeated phrases. */
static unsigned char *mixed_bytes(size_t n, uint64_t seed) {
    unsigned char *p = malloc(n ? n : 1);
    size_t i = 0;
    while (i < n) {
        size_t run = 1 + splitmix64(&seed) % 65536;
        if (run > n - i) run = n - i;
        int kind = (int)(splitmix64(&seed) % 3);
        for (size_t j = 0; j < run; j++)
            p[i + j] = kind == 0 ? 'a' : kind == 1 ? (unsigned char)splitmix64(&seed) : "the movie was "[j % 14];
        i += run;
    }
    return p;
}

static int one_line(const Err *e) { return e->msg[0] && !strchr(e->msg, '\n'); }

/* Decompressing (z, zlen) with (raw_len, crc) must fail, with a message, leaving *dst NULL. */
static int rejects(const void *z, size_t zlen, size_t raw_len, uint32_t crc, const char *want_in_msg) {
    void *out = (void *)1;
    Err e = {{0}};
    int rc = farm_decompress(z, zlen, raw_len, crc, &out, &e);
    if (rc == 0) {
        free(out);
        return 0;
    }
    if (out != NULL || !one_line(&e)) return 0;
    if (want_in_msg && !strstr(e.msg, want_in_msg)) {
        printf("  message \"%s\" lacks \"%s\"\n", e.msg, want_in_msg);
        return 0;
    }
    return 1;
}

static void round_trip(const void *src, size_t n, const char *what) {
    void *z = NULL, *back = NULL;
    size_t zlen = 0;
    uint32_t crc = 0;
    Err e = {{0}};
    CHECK(farm_compress(src, n, &z, &zlen, &crc, &e) == 0, "%s: compress: %s", what, e.msg);
    CHECK(farm_decompress(z, zlen, n, crc, &back, &e) == 0, "%s: decompress: %s", what, e.msg);
    CHECK(back && (n == 0 || memcmp(back, src, n) == 0), "%s: bytes differ after the round trip", what);
    printf("  %-28s %10zu -> %9zu bytes\n", what, n, zlen);
    free(z);
    free(back);
}

static void test_round_trips(void) {
    round_trip(NULL, 0, "empty (NULL source)");
    round_trip("", 0, "empty");
    round_trip("x", 1, "one byte");
    unsigned char *m = mixed_bytes(16u << 20, 11);
    round_trip(m, 4000, "4000 mixed bytes");
    round_trip(m, 16u << 20, "16 MB mixed");
    // farm_compress sizes zlib's window to the input: each side of every window size
    int window_misses = 0;
    for (size_t w = 256; w <= (64u << 10); w *= 2)
        for (size_t n = w - 1; n <= w + 1; n++) {
            void *z = NULL, *back = NULL;
            size_t zlen = 0;
            uint32_t crc = 0;
            Err e;
            if (farm_compress(m, n, &z, &zlen, &crc, &e) || farm_decompress(z, zlen, n, crc, &back, &e) ||
                memcmp(back, m, n))
                window_misses++;
            free(z);
            free(back);
        }
    CHECK(window_misses == 0, "%d round trips failed around the window sizes", window_misses);
    free(m);
    unsigned char *zeros = calloc(1u << 20, 1);
    void *z = NULL;
    size_t zlen = 0;
    uint32_t crc = 0;
    Err e;
    farm_compress(zeros, 1u << 20, &z, &zlen, &crc, &e);
    CHECK(zlen < 4096, "1 MB of zeros compressed to %zu bytes, expected a few KB at most", zlen);
    round_trip(zeros, 1u << 20, "1 MB of zeros");
    free(z);
    free(zeros);
}

static void test_crc_value(void) {
    void *z = NULL;
    size_t zlen = 0;
    uint32_t crc = 0;
    Err e;
    CHECK(farm_compress("123456789", 9, &z, &zlen, &crc, &e) == 0, "compress: %s", e.msg);
    CHECK(crc == 0xCBF43926u, "CRC32 of \"123456789\" is %08x, want cbf43926", crc);
    free(z);
    CHECK(farm_compress("", 0, &z, &zlen, &crc, &e) == 0 && crc == 0, "CRC32 of nothing is %08x, want 0", crc);
    free(z);
}

/* Every bit flip, every truncation and stray bytes of one stream must be caught. */
static void test_damaged_streams(void) {
    const char *text = "Rank 0 farms points to worker ranks; each result travels zlib-compressed with its "
                       "CRC32 and length, and rank 0 checks both. Rank 0 farms points to worker ranks.";
    size_t n = strlen(text);
    unsigned char *z = NULL;
    size_t zlen = 0;
    uint32_t crc = 0;
    Err e;
    CHECK(farm_compress(text, n, (void **)&z, &zlen, &crc, &e) == 0, "compress: %s", e.msg);
    unsigned char *bad = malloc(zlen + 8);
    // A flip is rejected, or it hit the unused padding bits after the last deflate block
    // (inflate ignores them): then the bytes out must be the original ones, CRC-checked.
    int missed = 0, padding = 0;
    for (size_t i = 0; i < zlen; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(bad, z, zlen);
            bad[i] ^= (unsigned char)(1u << bit);
            if (rejects(bad, zlen, n, crc, NULL)) continue;
            void *out = NULL;
            farm_decompress(bad, zlen, n, crc, &out, &e);
            if (out && memcmp(out, text, n) == 0 && i < zlen - 4) padding++;   // not in the adler32 trailer
            else missed++;
            free(out);
        }
    CHECK(missed == 0 && padding < 8, "%d of %zu single-bit flips went undetected (%d harmless)", missed,
          zlen * 8, padding);
    printf("  %zu single-bit flips: %zu rejected, %d in the final padding bits (data intact)\n", zlen * 8,
           zlen * 8 - (size_t)padding, padding);
    missed = 0;
    for (size_t cut = 0; cut < zlen; cut++)
        if (!rejects(z, cut, n, crc, NULL)) missed++;
    CHECK(missed == 0, "%d of %zu truncations went undetected", missed, zlen);
    CHECK(rejects(z, 0, n, crc, "truncated"), "an empty stream was accepted");
    memcpy(bad, z, zlen);
    memcpy(bad + zlen, "tail", 4);
    CHECK(rejects(bad, zlen + 4, n, crc, "stray"), "stray bytes after the stream were accepted");
    CHECK(rejects("not zlib at all", 15, n, crc, "corrupt"), "garbage was accepted as a zlib stream");
    free(bad);
    free(z);
}

static void test_wrong_header(void) {
    unsigned char *m = mixed_bytes(100000, 3);
    void *z = NULL;
    size_t zlen = 0;
    uint32_t crc = 0;
    Err e;
    CHECK(farm_compress(m, 100000, &z, &zlen, &crc, &e) == 0, "compress: %s", e.msg);
    CHECK(rejects(z, zlen, 99999, crc, "more than"), "a raw length one short was accepted");
    CHECK(rejects(z, zlen, 100001, crc, "100001"), "a raw length one long was accepted");
    CHECK(rejects(z, zlen, 0, crc, NULL), "a raw length of 0 was accepted");
    CHECK(rejects(z, zlen, 100000, crc ^ 1u, "CRC32"), "a wrong CRC32 was accepted");
    CHECK(rejects(z, zlen, 100000, ~crc, "CRC32"), "a wrong CRC32 was accepted");
    void *empty_z = NULL;
    size_t empty_zlen = 0;
    uint32_t empty_crc = 0;
    farm_compress(NULL, 0, &empty_z, &empty_zlen, &empty_crc, &e);
    CHECK(rejects(empty_z, empty_zlen, 1, empty_crc, NULL), "an empty stream passed as 1 byte");
    CHECK(rejects(empty_z, empty_zlen, 0, 0xdeadbeef, "CRC32"), "an empty stream passed with a wrong CRC32");
    free(empty_z);
    free(z);
    free(m);
}

int main(void) {
    test_round_trips();
    test_crc_value();
    test_damaged_streams();
    test_wrong_header();
    printf("test_farm_codec: %s\n", fails ? "FAILED" : "ok");
    return fails ? 1 : 0;
}
