// util/file.c: reading a whole file or stream, mkdir -p, and writing files that are
// published whole or not at all (see util.h).
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)   // vocab files are ~1 MB, training text more; refuse absurd ones

// Opened without blocking: a FIFO or a device named as a data file is refused
// at once, not waited on.
int util_read_file(const char *path, char **data, size_t *size, Err *err) {
    *data = NULL;
    *size = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return err_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return err_fail(err, "%s: larger than %zu bytes", path, MAX_FILE_BYTES);
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return err_fail(err, "%s: out of memory (%zu bytes)", path, n);
    }
    while (got < n) {   // a regular file: O_NONBLOCK changes nothing for its reads
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return err_fail(err, "%s: read error (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return 0;
}

// Grows the buffer as the stream comes: a pipe has no size to ask for.
int util_read_stream(FILE *f, const char *name, size_t max_bytes, char **data, size_t *size, Err *err) {
    *data = NULL;
    *size = 0;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return err_fail(err, "%s: out of memory", name);
    for (;;) {
        if (n + 1 == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return err_fail(err, "%s: out of memory", name);
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        n += got;
        if (n > max_bytes) {
            free(buf);
            return err_fail(err, "%s: larger than %zu bytes", name, max_bytes);
        }
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return err_fail(err, "%s: read error: %s", name, strerror(errno));
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return 0;
}

int util_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int util_make_dirs(const char *dir, Err *err) {
    char path[4096];
    if (!dir || !*dir) return err_fail(err, "no directory given");
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return err_fail(err, "%.200s: path too long", dir);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return err_fail(err, "%s: cannot create directory: %s", path, strerror(errno));
        *p = saved;
        if (saved == '\0') break;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return err_fail(err, "%s: not a directory", dir);
    return 0;
}

int util_sync_dir(const char *dir, Err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_fail(err, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd) == 0 ? 0 : err_fail(err, "%s: fsync failed: %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int temp_open(TempFile *f, const char *dir, const char *name, Err *err) {
    f->fd = -1;
    f->exists = 0;
    int n = snprintf(f->final, sizeof f->final, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof f->final) return err_fail(err, "%.200s/%.200s: path too long", dir, name);
    n = snprintf(f->tmp, sizeof f->tmp, "%s/.%s.XXXXXX", dir, name);
    if (n < 0 || (size_t)n >= sizeof f->tmp) return err_fail(err, "%s: path too long", f->final);
    f->fd = mkstemp(f->tmp);
    if (f->fd < 0) return err_fail(err, "%s: cannot create a temporary: %s", f->final, strerror(errno));
    f->exists = 1;
    // mkstemp makes 0600; what is written here is shared like any file the user creates
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(f->fd, 0666 & ~mask) != 0) return err_fail(err, "%s: chmod: %s", f->tmp, strerror(errno));
    return 0;
}

int temp_write(TempFile *f, const void *buf, size_t n, Err *err) {
    if (util_write_all(f->fd, buf, n) != 0) return err_fail(err, "%s: write failed: %s", f->tmp, strerror(errno));
    return 0;
}

int temp_close(TempFile *f, Err *err) {
    int rc = 0;
    if (fsync(f->fd) != 0) rc = err_fail(err, "%s: fsync failed: %s", f->tmp, strerror(errno));
    if (close(f->fd) != 0 && rc == 0) rc = err_fail(err, "%s: close failed: %s", f->tmp, strerror(errno));
    f->fd = -1;
    return rc;
}

int temp_publish(TempFile *f, Err *err) {
    if (rename(f->tmp, f->final) != 0)
        return err_fail(err, "%s: rename from %s failed: %s", f->final, f->tmp, strerror(errno));
    f->exists = 0;
    return 0;
}

void temp_discard(TempFile *f) {
    if (f->fd >= 0) close(f->fd);
    if (f->exists) unlink(f->tmp);
    f->fd = -1;
    f->exists = 0;
}

int util_write_file_atomic(const char *path, const void *data, size_t len, Err *err) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) : snprintf(dir, sizeof dir, ".");
    if (n < 0 || (size_t)n >= sizeof dir || !*name) return err_fail(err, "%.300s: not a file path", path);
    if (!dir[0]) strcpy(dir, "/");
    TempFile f = {.fd = -1};
    if (temp_open(&f, dir, name, err) || temp_write(&f, data, len, err) || temp_close(&f, err) ||
        temp_publish(&f, err) || util_sync_dir(dir, err)) {
        temp_discard(&f);
        return -1;
    }
    return 0;
}
