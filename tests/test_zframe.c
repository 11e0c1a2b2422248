// tests/test_zframe.c: zframe_compress / zframe_decompress / zframe_crc32 (util.h), the zlib
//   frame of results on the farm's wire and in the journal. Round trips (empty, small, 16 MB
//   mixed, every window size), the bytes it makes unchanged (journals written before still
//   read), the CRC32 check value and its continuation, the NUL after the bytes, and every
//   way a frame can be wrong: each single-bit flip of a stream, each truncation (also one
//   that ends where the output is full), stray bytes after it, a wrong raw length either way
//   or one deflate could never give, a wrong CRC32. All must fail with a one-line message
//   that starts "zlib frame: ".
#define TEST_NAME "test_zframe"
#include "tests/testlib.h"
#include "util/util.h"

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

static int one_line(const Err *e) { return !strncmp(e->msg, "zlib frame: ", 12) && !strchr(e->msg, '\n'); }

/* Decompressing (z, zlen) with (raw_len, crc) must fail, with a message, leaving *dst NULL. */
static int rejects(const void *z, size_t zlen, size_t raw_len, uint32_t crc, const char *want_in_msg) {
    void *out = (void *)1;
    Err e = {{0}};
    int rc = zframe_decompress(z, zlen, raw_len, crc, &out, &e);
    if (rc == 0) {
        free(out);
        return 0;
    }
    if (out != NULL || !one_line(&e)) {
        printf("  message \"%s\" is not one line starting \"zlib frame: \"\n", e.msg);
        return 0;
    }
    if (want_in_msg && !strstr(e.msg, want_in_msg)) {
        printf("  message \"%s\" lacks \"%s\"\n", e.msg, want_in_msg);
        return 0;
    }
    return 1;
}

/* A frame of src (n bytes): the stream (free it), its length and the CRC32 of src; a
 * failure to make it is a failed check. */
typedef struct {
    void *z;
    size_t zlen;
    uint32_t crc;
} Frame;

static Frame frame_of(const void *src, size_t n) {
    Frame f = {NULL, 0, 0};
    Err e;
    CHECK(zframe_compress(src, n, &f.z, &f.zlen, &f.crc, &e) == 0, "compress %zu bytes: %s", n, e.msg);
    return f;
}

static void round_trip(const void *src, size_t n, const char *what) {
    Frame f = frame_of(src, n);
    void *back = NULL;
    Err e = {{0}};
    CHECK(zframe_decompress(f.z, f.zlen, n, f.crc, &back, &e) == 0, "%s: decompress: %s", what, e.msg);
    CHECK(back && (n == 0 || memcmp(back, src, n) == 0), "%s: bytes differ after the round trip", what);
    CHECK(back && ((const char *)back)[n] == '\0', "%s: no NUL after the bytes", what);
    printf("  %-28s %10zu -> %9zu bytes\n", what, n, f.zlen);
    free(f.z);
    free(back);
}

static void test_round_trips(void) {
    round_trip(NULL, 0, "empty (NULL source)");
    round_trip("", 0, "empty");
    round_trip("x", 1, "one byte");
    unsigned char *m = mixed_bytes(16u << 20, 11);
    round_trip(m, 4000, "4000 mixed bytes");
    round_trip(m, 16u << 20, "16 MB mixed");
    // zframe_compress sizes zlib's window to the input: each side of every window size
    int window_misses = 0;
    for (size_t w = 256; w <= (64u << 10); w *= 2)
        for (size_t n = w - 1; n <= w + 1; n++) {
            Frame f = frame_of(m, n);
            void *back = NULL;
            Err e;
            if (zframe_decompress(f.z, f.zlen, n, f.crc, &back, &e) || memcmp(back, m, n)) window_misses++;
            free(f.z);
            free(back);
        }
    CHECK(window_misses == 0, "%d round trips failed around the window sizes", window_misses);
    free(m);
    unsigned char *zeros = calloc(1u << 20, 1);
    Frame f = frame_of(zeros, 1u << 20);
    CHECK(f.zlen < 4096, "1 MB of zeros compressed to %zu bytes, expected a few KB at most", f.zlen);
    round_trip(zeros, 1u << 20, "1 MB of zeros");
    free(f.z);
    free(zeros);
}

/* The bytes of a frame as the farm's codec made them before util/ held it: the same level,
 * window and hash sizes, so the journals and the wire carry what they carried. */
static void expect_bytes(const void *src, size_t n, size_t want_zlen, uint32_t want_crc, uint32_t want_zcrc,
                         const char *what) {
    Frame f = frame_of(src, n);
    uint32_t zcrc = zframe_crc32(0, f.z, f.zlen);
    CHECK(f.zlen == want_zlen && f.crc == want_crc && zcrc == want_zcrc,
          "%s: %zu bytes, CRC32 %08x, stream CRC32 %08x; want %zu, %08x, %08x", what, f.zlen, f.crc, zcrc, want_zlen,
          want_crc, want_zcrc);
    free(f.z);
}

static void test_same_bytes(void) {
    const char *rec = "{\"accuracy\": 0.875, \"prompt\": \"a movie review:\"}";
    const unsigned char want[] = "\x18\x95\xab\x56\x4a\x4c\x4e\x2e\x2d\x4a\x4c\xae\x54\xb2\x52\x30\xd0\xb3"
                                 "\x30\x37\xd5\x51\x50\x2a\x28\xca\xcf\x2d\x28\x01\x0a\x28\x25\x2a\xe4\xe6"
                                 "\x97\x65\xa6\x2a\x14\xa5\x02\xc9\x72\x2b\xa5\x5a\x00\x6c\xe4\x0f\x41";
    Frame f = frame_of(rec, strlen(rec));
    CHECK(f.zlen == sizeof want - 1 && !memcmp(f.z, want, f.zlen) && f.crc == 0x8b70b88cu,
          "a record's frame: %zu bytes, CRC32 %08x, not the codec's bytes", f.zlen, f.crc);
    free(f.z);
    expect_bytes("", 0, 8, 0, 0x861fee54u, "empty");
    unsigned char *m = mixed_bytes(16u << 20, 11);
    expect_bytes(m, 100000, 12868, 0x4c7031f4u, 0xaeeb16a0u, "100000 mixed bytes");
    expect_bytes(m, 16u << 20, 5401850, 0x3d6b2560u, 0xdb3f2843u, "16 MB mixed");
    free(m);
}

static void test_crc_value(void) {
    Frame f = frame_of("123456789", 9);
    CHECK(f.crc == 0xCBF43926u, "CRC32 of \"123456789\" is %08x, want cbf43926", f.crc);
    free(f.z);
    f = frame_of("", 0);
    CHECK(f.crc == 0, "CRC32 of nothing is %08x, want 0", f.crc);
    free(f.z);
    // continued: the CRC of a then b, whatever the cut, and nothing (even NULL) adds nothing
    CHECK(zframe_crc32(0, "123456789", 9) == 0xCBF43926u, "zframe_crc32 of \"123456789\"");
    for (size_t cut = 0; cut <= 9; cut++)
        CHECK(zframe_crc32(zframe_crc32(0, "123456789", cut), "123456789" + cut, 9 - cut) == 0xCBF43926u,
              "the CRC32 continued after %zu bytes", cut);
    CHECK(zframe_crc32(0xCBF43926u, NULL, 0) == 0xCBF43926u && zframe_crc32(0, "", 0) == 0, "nothing adds nothing");
}

/* Every bit flip, every truncation and stray bytes of one stream must be caught. */
static void test_damaged_streams(void) {
    const char *text = "Rank 0 farms points to worker ranks; each result travels zlib-compressed with its "
                       "CRC32 and length, and rank 0 checks both. Rank 0 farms points to worker ranks.";
    size_t n = strlen(text);
    Frame f = frame_of(text, n);
    const unsigned char *z = f.z;
    size_t zlen = f.zlen;
    uint32_t crc = f.crc;
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
            Err e;
            zframe_decompress(bad, zlen, n, crc, &out, &e);
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
    CHECK(rejects(z, 0, 10, crc, "truncated"), "an empty stream was accepted");
    CHECK(rejects(z, zlen / 2, n, crc, "corrupt or incomplete stream (truncated"), "half a stream was accepted");
    // cut in the adler32 trailer: every byte is out and the output is full, yet it is cut short
    CHECK(rejects(z, zlen - 2, n, crc, "corrupt or incomplete stream (truncated"),
          "a stream cut in its trailer was not called truncated");
    memcpy(bad, z, zlen);
    memcpy(bad + zlen, "tail", 4);
    CHECK(rejects(bad, zlen + 4, n, crc, "stray"), "stray bytes after the stream were accepted");
    CHECK(rejects("not zlib at all", 15, n, crc, "corrupt or incomplete stream (incorrect header check)"),
          "garbage was accepted as a zlib stream");
    free(bad);
    free(f.z);
}

static void test_wrong_header(void) {
    unsigned char *m = mixed_bytes(100000, 3);
    Frame f = frame_of(m, 100000);
    CHECK(rejects(f.z, f.zlen, 99999, f.crc, "longer than its stated"), "a raw length one short was accepted");
    CHECK(rejects(f.z, f.zlen, 100001, f.crc, "its frame says 100001"), "a raw length one long was accepted");
    CHECK(rejects(f.z, f.zlen, 0, f.crc, NULL), "a raw length of 0 was accepted");
    CHECK(rejects(f.z, f.zlen, 100000, f.crc ^ 1u, "CRC32 mismatch"), "a wrong CRC32 was accepted");
    CHECK(rejects(f.z, f.zlen, 100000, ~f.crc, "CRC32"), "a wrong CRC32 was accepted");
    Frame empty = frame_of(NULL, 0);
    CHECK(rejects(empty.z, empty.zlen, 1, empty.crc, NULL), "an empty stream passed as 1 byte");
    CHECK(rejects(empty.z, empty.zlen, 0, 0xdeadbeef, "CRC32"), "an empty stream passed with a wrong CRC32");
    free(empty.z);
    free(f.z);
    free(m);
}

/* A raw length no deflate stream of that size can give is refused before it is allocated:
 * 4 GiB from a few bytes must not cost 4 GiB. */
static void test_impossible_ratio(void) {
    Frame f = frame_of("x", 1);
    CHECK(rejects(f.z, f.zlen, (size_t)1 << 32, f.crc, "claims 4294967296 bytes"), "4 GiB from %zu bytes accepted",
          f.zlen);
    CHECK(rejects(f.z, f.zlen, SIZE_MAX, f.crc, "claims"), "SIZE_MAX bytes accepted");
    free(f.z);
    // deflate's best, about 1032:1, stays within what is believed
    unsigned char *zeros = calloc(64u << 20, 1);
    if (!zeros) die("out of memory");
    f = frame_of(zeros, 64u << 20);
    void *back = NULL;
    Err e;
    CHECK(zframe_decompress(f.z, f.zlen, 64u << 20, f.crc, &back, &e) == 0, "64 MB of zeros from %zu bytes: %s",
          f.zlen, e.msg);
    printf("  64 MB of zeros: %zu bytes, %.0f:1\n", f.zlen, (double)(64u << 20) / (double)f.zlen);
    free(back);
    free(f.z);
    free(zeros);
}

int main(void) {
    test_round_trips();
    test_same_bytes();
    test_crc_value();
    test_damaged_streams();
    test_wrong_header();
    test_impossible_ratio();
    printf("%s: %d checks, %d failures\n", TEST_NAME, checks, failures);
    return failures ? 1 : 0;
}
