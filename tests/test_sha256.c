// tests/test_sha256.c: gpt2_file_sha256 against the FIPS 180-4 test vectors and against
// sha256sum on a large file (many 1 MiB reads, a partial last one); the known-digest lines
// (gpt2_file_sha256_known, gpt2_file_sha256_reuse): a line is used only for its path while the
// file's inode, size, mtime and ctime are those it names, and a file just modified is not
// vouched for.
#define TEST_NAME "test_sha256"
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/gpt2.h"
#include "tests/testlib.h"

static const char *const ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

static void check_vector(const char *content, size_t n, size_t repeat, const char *want) {
    char path[4300];
    path_in(path, sizeof path, root, "vector");
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s", path);
    for (size_t i = 0; i < repeat; i++) fwrite(content, 1, n, f);
    if (fclose(f) != 0) die("cannot write %s", path);
    char hex[65];
    Err err;
    int rc = gpt2_file_sha256(path, hex, &err);
    CHECK(rc == 0 && strcmp(hex, want) == 0, "%zu x \"%.20s\": got %s, want %s", repeat, content, rc ? err.msg : hex, want);
}

static void test_vectors(void) {
    check_vector("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_vector("abc", 3, 1, ABC);
    check_vector("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 1,
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    check_vector("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    char hex[65];
    gpt2_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, ABC) == 0, "in memory \"abc\": %s", hex);
    Err err;
    CHECK(gpt2_file_sha256("/nonexistent/model.safetensors", hex, &err) != 0 && strstr(err.msg, "/nonexistent"),
          "a missing file gave no error naming it");
}

/* 64 MiB + 13 bytes of xorshift data: gpt2_file_sha256 equals sha256sum's digest. */
static void test_large_file(const char *dir) {
    char path[4300];
    path_in(path, sizeof path, dir, "large.bin");
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s", path);
    uint64_t state = 42;
    static uint64_t chunk[1 << 17];   // 1 MiB
    for (int m = 0; m < 64; m++) {
        for (size_t i = 0; i < sizeof chunk / sizeof chunk[0]; i++) chunk[i] = xorshift64(&state);
        if (fwrite(chunk, 1, sizeof chunk, f) != sizeof chunk) die("cannot write %s", path);
    }
    if (fwrite(chunk, 1, 13, f) != 13 || fclose(f) != 0) die("cannot write %s", path);
    char hex[65];
    Err err;
    CHECK(gpt2_file_sha256(path, hex, &err) == 0, "%s", err.msg);
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
    FILE *p = popen(cmd, "r");
    char want[65] = "";
    int got = p ? fscanf(p, "%64s", want) : 0;
    int status = p ? pclose(p) : -1;
    if (got != 1 || status != 0) {
        printf("skip-check: no sha256sum: the 64 MiB file's digest was not compared with it\n");
        return;
    }
    CHECK(strcmp(hex, want) == 0, "64 MiB + 13 bytes: %s, sha256sum %s", hex, want);
}

// ----------------------------------------------------------------------------
// known digests

/* The file's mtime set to `ago` seconds in the past (as touch -d does; its ctime becomes now). */
static void set_mtime_ago(const char *path, int ago) {
    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= ago;
    t[1] = t[0];
    if (utimensat(AT_FDCWD, path, t, 0) != 0) die("utimensat %s: %s", path, strerror(errno));
}

static void reuse(const char *path, const char *known, char hex[65], int *hashed) {
    Err err;
    if (gpt2_file_sha256_reuse(path, known, hex, hashed, &err)) die("%s", err.msg);
}

static void test_known(const char *dir) {
    char path[4300], other[4300];
    path_in(path, sizeof path, dir, "model.safetensors");
    path_in(other, sizeof other, dir, "other.safetensors");
    write_text(dir, "model.safetensors", "abc");
    char hex[65], known[GPT2_KNOWN_SHA256_MAX];
    Err err;
    // just written: not vouched for (a rewrite in the same timestamp tick would go unseen)
    CHECK(gpt2_file_sha256_known(path, hex, known, sizeof known, &err) == 0 && strcmp(hex, ABC) == 0, "%s", hex);
    CHECK(known[0] == '\0', "a file modified just now was vouched for: %s", known);

    set_mtime_ago(path, 60);
    CHECK(gpt2_file_sha256_known(path, hex, known, sizeof known, &err) == 0 && strcmp(hex, ABC) == 0, "%s", hex);
    struct stat st;
    if (stat(path, &st) != 0) die("stat %s", path);
    char want[GPT2_KNOWN_SHA256_MAX + 4400];
    snprintf(want, sizeof want, "%s %llu 3 %lld.%09ld %lld.%09ld %s", ABC, (unsigned long long)st.st_ino,
             (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec, path);
    CHECK(strcmp(known, want) == 0, "the known line\n  %s\nwant\n  %s", known, want);

    int hashed = -1;
    reuse(path, known, hex, &hashed);
    CHECK(hashed == 0 && strcmp(hex, ABC) == 0, "hashed %d: %s", hashed, hex);
    reuse(path, NULL, hex, &hashed);
    CHECK(hashed == 1 && strcmp(hex, ABC) == 0, "no known lines: hashed %d: %s", hashed, hex);

    // a wrong digest with the file's stamp is taken as it is: nothing was hashed
    char wrong[GPT2_KNOWN_SHA256_MAX];
    snprintf(wrong, sizeof wrong, "%s", known);
    memset(wrong, '0', 63);
    reuse(path, wrong, hex, &hashed);
    CHECK(hashed == 0 && strncmp(hex, "000000000000000", 15) == 0 && hex[63] == ABC[63], "hashed %d: %s", hashed, hex);

    // among other lines, and not for another path with the same stamp
    char many[3 * GPT2_KNOWN_SHA256_MAX];
    snprintf(many, sizeof many, "garbage\n%s\n%s", known + 1, known);
    reuse(path, many, hex, &hashed);
    CHECK(hashed == 0 && strcmp(hex, ABC) == 0, "the second of three lines: hashed %d", hashed);
    if (link(path, other) != 0) die("link %s: %s", other, strerror(errno));
    reuse(other, known, hex, &hashed);
    CHECK(hashed == 1 && strcmp(hex, ABC) == 0, "another path with the same inode: hashed %d", hashed);

    // malformed lines name nothing
    const char *edits[] = {"upper", "short", "tail", "no-ns"};
    for (int e = 0; e < 4; e++) {
        char bad[GPT2_KNOWN_SHA256_MAX];
        snprintf(bad, sizeof bad, "%s", wrong);
        if (e == 0) bad[0] = 'A';
        if (e == 1) memmove(bad + 10, bad + 11, strlen(bad + 10));
        if (e == 2) strcat(bad, "x");
        if (e == 3) *strchr(bad + 65 + 1, '.') = ' ';
        reuse(path, bad, hex, &hashed);
        CHECK(hashed == 1 && strcmp(hex, ABC) == 0, "a malformed line (%s) was used: %s", edits[e], hex);
    }

    // rewritten (same size), its mtime set back to the old one: the ctime tells
    struct timespec old[2] = {st.st_atim, st.st_mtim};
    write_text(dir, "model.safetensors", "abd");
    if (utimensat(AT_FDCWD, path, old, 0) != 0) die("utimensat %s", path);
    char abd[65];
    gpt2_sha256_hex("abd", 3, abd);
    reuse(path, wrong, hex, &hashed);
    CHECK(hashed == 1 && strcmp(hex, abd) == 0, "a rewritten file with its old mtime: hashed %d: %s", hashed, hex);
    // touched: the mtime tells
    if (gpt2_file_sha256_known(path, hex, known, sizeof known, &err)) die("%s", err.msg);
    set_mtime_ago(path, 30);
    reuse(path, known, hex, &hashed);
    CHECK(hashed == 1 && strcmp(hex, abd) == 0, "a touched file: hashed %d", hashed);

    // a path with a newline cannot be named by a line; a missing file is an error naming it
    char nl[4300];
    path_in(nl, sizeof nl, dir, "new\nline");
    write_text(dir, "new\nline", "abc");
    set_mtime_ago(nl, 60);
    CHECK(gpt2_file_sha256_known(nl, hex, known, sizeof known, &err) == 0 && strcmp(hex, ABC) == 0 && !known[0],
          "a path with a newline: %s", known);
    CHECK(gpt2_file_sha256_known("/nonexistent/m", hex, known, sizeof known, &err) != 0 && strstr(err.msg, "/nonexistent/m"),
          "missing file: %s", err.msg);
    CHECK(gpt2_file_sha256_reuse("/nonexistent/m", wrong, hex, &hashed, &err) != 0 && strstr(err.msg, "/nonexistent/m"),
          "missing file: %s", err.msg);
}

int main(void) {
    make_root();
    test_vectors();
    in_scratch_dir("large", test_large_file);
    in_scratch_dir("known", test_known);
    return test_finish();
}
