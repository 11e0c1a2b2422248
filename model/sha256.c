// model/sha256.c: SHA-256 through OpenSSL's libcrypto (EVP) of bytes in memory or of a file (a
// model's identity in result records and sweep points; streamed in 1 MiB reads), and the
// "known digest" lines with which the process that hashed a file spares another process the
// same work while the file is unchanged (gpt2.h). libcrypto's SHA-256 uses the CPU's SHA
// extensions or AVX2 where there are some: several times the hand-written one this file held
// before (bench/bench_sha256.c measures both side by side).
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "model/gpt2.h"

/* A file older than this when it was hashed is vouched for: filesystems with coarse timestamps
 * (1 s, 2 s on FAT) keep the same mtime through a rewrite within the same tick, so a file
 * modified just before or while it was hashed could change again unseen (git's "racy" index
 * entries). */
#define RACY_SECONDS 2

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

// ----------------------------------------------------------------------------
// known digests

/* What says a file is the one that was hashed: not st_dev, which is a per-mount number (the same
 * NFS or Lustre file has different ones on different nodes); the inode, size, mtime and ctime
 * are the file server's. A rewrite changes mtime and ctime, a replacement (rename over it) the
 * inode; ctime cannot be set back (touch -d, cp -p and rsync -t set mtime only). */
typedef struct {
    uint64_t ino;
    int64_t size, mtime_s, mtime_ns, ctime_s, ctime_ns;
} Stamp;

static Stamp stamp_of(const struct stat *st) {
    return (Stamp){.ino = (uint64_t)st->st_ino, .size = (int64_t)st->st_size,
                   .mtime_s = (int64_t)st->st_mtim.tv_sec, .mtime_ns = st->st_mtim.tv_nsec,
                   .ctime_s = (int64_t)st->st_ctim.tv_sec, .ctime_ns = st->st_ctim.tv_nsec};
}

static int same_stamp(const Stamp *a, const Stamp *b) {
    return a->ino == b->ino && a->size == b->size && a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
           a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

int gpt2_file_sha256_known(const char *path, char hex[65], char *known, size_t cap, Err *err) {
    if (cap) known[0] = '\0';
    int fd = open_for_hash(path, err);
    if (fd < 0) return -1;
    struct timespec now;
    struct stat before, after;
    clock_gettime(CLOCK_REALTIME, &now);
    int stat_ok = fstat(fd, &before) == 0;
    int rc = hash_fd(fd, path, hex, err);
    stat_ok = stat_ok && fstat(fd, &after) == 0;
    close(fd);
    if (rc) return -1;
    if (!stat_ok || !cap || strchr(path, '\n')) return 0;
    Stamp s = stamp_of(&before), s_after = stamp_of(&after);
    if (!same_stamp(&s, &s_after) || s.mtime_s > (int64_t)now.tv_sec - RACY_SECONDS) return 0;
    int n = snprintf(known, cap, "%s %" PRIu64 " %" PRId64 " %" PRId64 ".%09" PRId64 " %" PRId64 ".%09" PRId64 " %s",
                     hex, s.ino, s.size, s.mtime_s, s.mtime_ns, s.ctime_s, s.ctime_ns, path);
    if (n < 0 || (size_t)n >= cap) known[0] = '\0';
    return 0;
}

/* The digest of the line of `known` that names path with stamp s, or NULL. A line that is
 * not well formed names nothing. */
static const char *find_known(const char *known, const char *path, const Stamp *s, char hex[65]) {
    for (const char *line = known; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char copy[GPT2_KNOWN_SHA256_MAX], digest[65];
        Stamp k;
        int used = 0;
        if (len > 65 && len < sizeof copy) {
            memcpy(copy, line, len);
            copy[len] = '\0';
            if (sscanf(copy, "%64[0-9a-f] %" SCNu64 " %" SCNd64 " %" SCNd64 ".%9" SCNd64 " %" SCNd64 ".%9" SCNd64 " %n",
                       digest, &k.ino, &k.size, &k.mtime_s, &k.mtime_ns, &k.ctime_s, &k.ctime_ns, &used) == 7 &&
                copy[64] == ' ' && used > 0 && strcmp(copy + used, path) == 0 && same_stamp(&k, s)) {
                memcpy(hex, digest, 65);
                return hex;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

int gpt2_file_sha256_reuse(const char *path, const char *known, char hex[65], int *hashed, Err *err) {
    *hashed = 0;
    int fd = open_for_hash(path, err);   // an open (not a stat): NFS revalidates the attributes
    if (fd < 0) return -1;
    struct stat st;
    if (known && fstat(fd, &st) == 0) {
        Stamp s = stamp_of(&st);
        if (find_known(known, path, &s, hex)) {
            close(fd);
            return 0;
        }
    }
    *hashed = 1;
    int rc = hash_fd(fd, path, hex, err);
    close(fd);
    return rc;
}
