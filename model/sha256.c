// model/sha256.c: SHA-256 through OpenSSL's libcrypto (EVP) of bytes in memory or of a file (a
// model's identity in result records and sweep points; streamed in 1 MiB reads). libcrypto's
// SHA-256 uses the CPU's SHA extensions or AVX2 where there are some: several times the
// hand-written one this file held before (bench/bench_sha256.c measures both side by side).
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gpt2.h"

static void to_hex(const unsigned char md[32], char hex[65]) {
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

void gpt2_sha256_hex(const void *data, size_t len, char hex[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    // fails only when libcrypto cannot allocate its context: no id can be made then, and
    // callers (point ids, spec sha256) have no error path for a function of bytes
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
        fputs("gpt2_sha256_hex: libcrypto's SHA-256 failed (out of memory?)\n", stderr);
        abort();
    }
    to_hex(md, hex);
}

/* sha256 of what is left to read from fd (path names it in messages). */
static int hash_fd(int fd, const char *path, char hex[65], Err *err) {
    static unsigned char buf[1 << 20]; // not reentrant across threads; model/ is single-threaded
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        return err_fail(err, "%s: cannot start a sha256 (libcrypto: out of memory?)", path);
    }
    int bad = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { bad = errno; break; }
        if (n == 0) break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) { bad = ENOMEM; break; }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    int done = !bad && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
    EVP_MD_CTX_free(ctx);
    if (bad == ENOMEM || (!bad && !done)) return err_fail(err, "%s: sha256 failed in libcrypto", path);
    if (bad) return err_fail(err, "%s: read error: %s", path, strerror(bad));
    to_hex(md, hex);
    return 0;
}

static int open_for_hash(const char *path, Err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_fail(err, "%s: cannot open: %s", path, strerror(errno));
    return fd;
}

int gpt2_file_sha256(const char *path, char hex[65], Err *err) {
    int fd = open_for_hash(path, err);
    if (fd < 0) return -1;
    int rc = hash_fd(fd, path, hex, err);
    close(fd);
    return rc;
}
