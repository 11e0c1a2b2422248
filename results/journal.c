// results/journal.c: the append-only journal of a sweep, DIR/journal, and its
// lock, DIR/lock (format and contract in results.h).
//
// Crash safety rests on three habits: a frame goes to the file with one
// write() on an O_APPEND descriptor (so a crash leaves at most one partial
// frame, at the end), results are fdatasync'd before the caller counts them
// as recorded, and replay trusts nothing it reads (magic, type, length and a
// CRC over type, length and payload are all checked before a frame is used).
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "results/results_internal.h"

#define FRAME_HEADER_BYTES 13u        // magic 4 | type 1 | length 4 | crc 4
#define READ_CHUNK (1u << 20)         // replay reads the file 1 MiB at a time
#define LOCK_PATIENCE_MS 200          // how long a busy lock may be a status probe (lock_directory)
static const unsigned char FRAME_MAGIC[4] = {'P', 'J', 'F', '1'};

struct Journal {
    int fd;        // DIR/journal, opened O_APPEND
    int lock_fd;   // DIR/lock, flock'd while `locked`
    int locked;
    char path[PATH_MAX];
};

// ----------------------------------------------------------------------------
// small helpers

static int join_path(char out[PATH_MAX], const char *dir, const char *name, Err *err) {
    if (!dir || !*dir) return err_fail(err, "journal: no directory given");
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX) return err_fail(err, "%s: path too long for %s", dir, name);
    return 0;
}

// The frame's CRC: over the type byte and the length as on disk, then the payload.
static uint32_t frame_crc(int type, uint32_t len, const void *payload) {
    unsigned char typelen[5];
    typelen[0] = (unsigned char)type;
    put_u32le(typelen + 1, len);
    return zframe_crc32(zframe_crc32(0, typelen, sizeof typelen), payload, len);
}

static int frame_type_known(int type) { return type >= JOURNAL_HEADER && type <= JOURNAL_RESULT; }

// ----------------------------------------------------------------------------
// the lock

// The holder writes its pid right after taking the lock: a reader that comes
// in between sees an empty file, so it waits a moment for the pid.
static long read_lock_holder(int fd) {
    for (int attempt = 0; attempt < 50; attempt++) {
        char buf[32];
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            buf[n] = '\0';
            long pid = strtol(buf, NULL, 10);
            if (pid > 0) return pid;
        }
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return -1;
}

/* Opens one of the sweep's own files (flags as for open, plus O_CLOEXEC): never through a
 * symbolic link (O_NOFOLLOW: a planted link must not make the sweep write or cut another
 * file), never anything but a regular file (a FIFO would block, a device is not ours; the
 * open itself does not block: O_NONBLOCK, cleared after). Returns the descriptor, or -1 with
 * errno set (ENOENT passed through for the callers that treat it as "none yet") and the reason
 * in err. */
static int open_own_file(const char *path, int flags, const char *doing, Err *err) {
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) { // said before open, which a FIFO could fail otherwise
        if (S_ISLNK(st.st_mode))
            err_fail(err, "%s: is a symbolic link: refused (the sweep writes only its own files)", path);
        else
            err_fail(err, "%s: not a regular file: refused", path);
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
    if (fd < 0) {
        int why = errno;
        if (why == ELOOP) err_fail(err, "%s: is a symbolic link: refused (the sweep writes only its own files)", path);
        else err_fail(err, "%s: cannot open %s (%s)", path, doing, strerror(why));
        errno = why;
        return -1;
    }
    // what was opened, whatever changed since the lstat
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err_fail(err, "%s: not a regular file: refused", path);
        close(fd);
        errno = EINVAL;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

static int lock_directory(Journal *j, const char *dir, Err *err) {
    char lock_path[PATH_MAX];
    if (join_path(lock_path, dir, "lock", err)) return -1;
    j->lock_fd = open_own_file(lock_path, O_RDWR | O_CREAT, "the lock file", err);
    if (j->lock_fd < 0) return -1;
    // `sweep status` probes the lock with a shared flock held for an instant
    // (journal_lock_holder): a lock busy for less than LOCK_PATIENCE_MS is such a probe, not
    // another sweep, and must not refuse this one
    int busy = flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0;
    for (int waited = 0; busy && errno == EWOULDBLOCK && waited < LOCK_PATIENCE_MS; waited += 10) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
        busy = flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0;
    }
    if (busy) {
        if (errno != EWOULDBLOCK) return err_fail(err, "%s: cannot lock (%s)", lock_path, strerror(errno));
        long holder = read_lock_holder(j->lock_fd);
        if (holder > 0)
            return err_fail(err, "%s: in use by another sweep (pid %ld holds %s)", dir, holder, lock_path);
        return err_fail(err, "%s: in use by another sweep (%s is locked, holder's pid unknown)", dir, lock_path);
    }
    j->locked = 1;
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(j->lock_fd, 0) != 0 || pwrite(j->lock_fd, pid, (size_t)n, 0) != n)
        return err_fail(err, "%s: cannot write the pid (%s)", lock_path, strerror(errno));
    return 0;
}

int journal_lock_holder(const char *dir, int *held, long *pid, double *since, Err *err) {
    *held = 0;
    *pid = -1;
    *since = 0;
    char lock_path[PATH_MAX];
    if (join_path(lock_path, dir, "lock", err)) return -1;
    Err oerr;
    int fd = open_own_file(lock_path, O_RDONLY, "the lock file", &oerr);
    if (fd < 0) {
        if (errno == ENOENT) return 0;   // never run here
        return err_fail(err, "%s", oerr.msg);
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);   // free: nobody runs (a pid left there is a killed run's)
    } else if (errno == EWOULDBLOCK) {
        *held = 1;
        *pid = read_lock_holder(fd);
        struct stat st;
        if (fstat(fd, &st) == 0) *since = (double)st.st_mtim.tv_sec + 1e-9 * (double)st.st_mtim.tv_nsec;
    } else {
        int e = errno;
        close(fd);
        return err_fail(err, "%s: cannot ask for the lock (%s)", lock_path, strerror(e));
    }
    close(fd);
    return 0;
}

// ----------------------------------------------------------------------------
// writing

void journal_close(Journal *j) {
    if (!j) return;
    if (j->fd >= 0) close(j->fd);
    if (j->lock_fd >= 0) {
        // an empty lock file says "free" to a reader; the flock goes with the close
        if (j->locked) (void)ftruncate(j->lock_fd, 0);
        close(j->lock_fd);
    }
    free(j);
}

int journal_open(Journal **out, const char *dir, Err *err) {
    *out = NULL;
    Journal *j = calloc(1, sizeof *j);
    if (!j) return err_fail(err, "journal: out of memory");
    j->fd = -1;
    j->lock_fd = -1;
    if (join_path(j->path, dir, "journal", err) || lock_directory(j, dir, err)) {
        journal_close(j);
        return -1;
    }
    j->fd = open_own_file(j->path, O_WRONLY | O_CREAT | O_APPEND, "for appending", err);
    if (j->fd < 0) {
        journal_close(j);
        return -1;
    }
    (void)util_sync_dir(dir, NULL);   // best effort: some filesystems refuse (EINVAL) and need none
    *out = j;
    return 0;
}

// After a failed write or sync the frame must not count: cut the file back to
// where it was, so that replay never sees half of it.
static int undo_append(Journal *j, off_t before, size_t frame_len, const char *doing, int why,
                       Err *err) {
    if (ftruncate(j->fd, before) == 0 && fdatasync(j->fd) == 0)
        return err_fail(err, "%s: %s a frame of %zu bytes failed (%s); the file is back to its %lld bytes",
                    j->path, doing, frame_len, strerror(why), (long long)before);
    return err_fail(err, "%s: %s a frame of %zu bytes failed (%s), and cutting the file back to %lld bytes "
                "failed too (%s): its tail is torn", j->path, doing, frame_len, strerror(why),
                (long long)before, strerror(errno));
}

int journal_append(Journal *j, int type, const void *payload, size_t len, int sync, Err *err) {
    if (!j || j->fd < 0) return err_fail(err, "journal: append to a journal that is not open");
    if (!frame_type_known(type))
        return err_fail(err, "%s: cannot append a frame of unknown type %d", j->path, type);
    if (len > JOURNAL_MAX_PAYLOAD)
        return err_fail(err, "%s: a payload of %zu bytes is over the limit of %u", j->path, len,
                            JOURNAL_MAX_PAYLOAD);
    if (len > 0 && !payload) return err_fail(err, "%s: no payload for a frame of %zu bytes", j->path, len);

    size_t frame_len = FRAME_HEADER_BYTES + len;
    unsigned char *frame = malloc(frame_len);
    if (!frame) return err_fail(err, "%s: out of memory for a frame of %zu bytes", j->path, frame_len);
    memcpy(frame, FRAME_MAGIC, 4);
    frame[4] = (unsigned char)type;
    put_u32le(frame + 5, (uint32_t)len);
    put_u32le(frame + 9, frame_crc(type, (uint32_t)len, payload));
    if (len > 0) memcpy(frame + FRAME_HEADER_BYTES, payload, len);

    struct stat st;
    if (fstat(j->fd, &st) != 0) {
        free(frame);
        return err_fail(err, "%s: cannot stat (%s)", j->path, strerror(errno));
    }
    int rc = util_write_all(j->fd, frame, frame_len);
    int why = errno;
    free(frame);
    if (rc != 0) return undo_append(j, st.st_size, frame_len, "writing", why, err);
    if (sync && fdatasync(j->fd) != 0) return undo_append(j, st.st_size, frame_len, "syncing", errno, err);
    return 0;
}

int journal_truncate(const char *dir, int64_t offset, Err *err) {
    char path[PATH_MAX];
    if (join_path(path, dir, "journal", err)) return -1;
    int fd = open_own_file(path, O_RDWR, "to cut it", err);
    if (fd < 0) return -1;
    struct stat st;
    int rc = 0;
    // only a file that is ours is ever cut: it starts with a frame's magic (a torn first frame
    // included); anything else named "journal" is left as it is
    unsigned char head[4];
    ssize_t got = pread(fd, head, sizeof head, 0);
    if (got < 0) rc = err_fail(err, "%s: cannot read (%s)", path, strerror(errno));
    else if (memcmp(head, FRAME_MAGIC, (size_t)got) != 0)
        rc = err_fail(err, "%s: not a sweep journal (it does not start with \"PJF1\"): left as it is, not cut",
                          path);
    else if (fstat(fd, &st) != 0) rc = err_fail(err, "%s: cannot stat (%s)", path, strerror(errno));
    else if (offset < 0 || offset > (int64_t)st.st_size)
        rc = err_fail(err, "%s: cannot cut at byte %lld of a %lld-byte file", path, (long long)offset,
                  (long long)st.st_size);
    else if (ftruncate(fd, (off_t)offset) != 0 || fsync(fd) != 0)
        rc = err_fail(err, "%s: cutting at byte %lld failed (%s)", path, (long long)offset, strerror(errno));
    close(fd);
    return rc;
}

// ----------------------------------------------------------------------------
// reading: a window over the file, refilled sequentially

typedef struct {
    int fd;
    const char *path;
    uint64_t size;        // the file's size when reading began; nothing past it is read
    unsigned char *buf;
    size_t cap;
    uint64_t start;       // file offset of buf[0]
    size_t fill;          // bytes of buf that hold file data
} Reader;

// Bytes [off, off + n) of the file (off + n <= size), valid until the next call.
static const unsigned char *reader_view(Reader *r, uint64_t off, size_t n, Err *err) {
    static const unsigned char nothing[1];
    if (n == 0) return nothing;   // an empty payload, possibly at the very end
    if (off >= r->start && off + n <= r->start + r->fill) return r->buf + (off - r->start);
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > r->size - off) want = (size_t)(r->size - off);
    if (want > r->cap) {
        unsigned char *grown = realloc(r->buf, want);
        if (!grown) { err_fail(err, "%s: out of memory reading %zu bytes", r->path, want); return NULL; }
        r->buf = grown;
        r->cap = want;
    }
    size_t kept = 0;   // what the window already holds from off on is not read again
    if (off >= r->start && off < r->start + r->fill) {
        kept = (size_t)(r->start + r->fill - off);
        memmove(r->buf, r->buf + (off - r->start), kept);
    }
    r->start = off;
    r->fill = kept;
    while (r->fill < want) {
        ssize_t got = pread(r->fd, r->buf + r->fill, want - r->fill, (off_t)(off + r->fill));
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            err_fail(err, "%s: read error at byte %llu (%s)", r->path, (unsigned long long)(off + r->fill),
                 strerror(errno));
            return NULL;
        }
        if (got == 0) {
            err_fail(err, "%s: the file shrank to %llu bytes while being read", r->path,
                 (unsigned long long)(off + r->fill));
            return NULL;
        }
        r->fill += (size_t)got;
    }
    return r->buf;
}

typedef enum { FRAME_INTACT, FRAME_TORN, FRAME_CORRUPT } FrameState;

typedef struct {
    FrameState state;
    int type;
    uint32_t len;                  // payload bytes
    const unsigned char *payload;  // when intact; valid until the next reader_view
    char why[160];                 // when not intact: what is wrong
} Frame;

// Checks the frame that starts at `off`: everything it says about itself is
// verified before it is believed. Returns -1 only on a read error.
static int read_frame(Reader *r, uint64_t off, Frame *f, Err *err) {
    memset(f, 0, sizeof *f);
    uint64_t left = r->size - off;
    size_t have = left < FRAME_HEADER_BYTES ? (size_t)left : FRAME_HEADER_BYTES;
    const unsigned char *h = reader_view(r, off, have, err);
    if (!h) return -1;
    f->state = FRAME_CORRUPT;
    size_t magic_have = have < 4 ? have : 4;
    if (memcmp(h, FRAME_MAGIC, magic_have) != 0) {
        char shown[4 * 3 + 1] = "";
        for (size_t i = 0; i < magic_have; i++) snprintf(shown + 3 * i, 4, " %02x", h[i]);
        snprintf(f->why, sizeof f->why, "bad magic%s, expected \"PJF1\"", shown);
        return 0;
    }
    if (have >= 5 && !frame_type_known(h[4])) {
        snprintf(f->why, sizeof f->why, "unknown type %u", h[4]);
        return 0;
    }
    if (have >= 9 && get_u32le(h + 5) > JOURNAL_MAX_PAYLOAD) {
        snprintf(f->why, sizeof f->why, "absurd payload length %u, over the limit of %u",
                 get_u32le(h + 5), JOURNAL_MAX_PAYLOAD);
        return 0;
    }
    f->state = FRAME_TORN;
    if (have < FRAME_HEADER_BYTES) {
        snprintf(f->why, sizeof f->why, "expected a %u-byte header, %llu left", FRAME_HEADER_BYTES,
                 (unsigned long long)left);
        return 0;
    }
    f->type = h[4];
    f->len = get_u32le(h + 5);
    uint32_t stored_crc = get_u32le(h + 9);
    uint64_t frame_bytes = FRAME_HEADER_BYTES + (uint64_t)f->len;
    if (frame_bytes > left) {
        snprintf(f->why, sizeof f->why, "expected %llu bytes, %llu left", (unsigned long long)frame_bytes,
                 (unsigned long long)left);
        return 0;
    }
    const unsigned char *payload = reader_view(r, off + FRAME_HEADER_BYTES, f->len, err);
    if (!payload) return -1;
    uint32_t crc = frame_crc(f->type, f->len, payload);
    if (crc != stored_crc) {
        f->state = FRAME_CORRUPT;
        snprintf(f->why, sizeof f->why, "CRC mismatch: stored %08x, computed %08x over %llu bytes",
                 stored_crc, crc, (unsigned long long)frame_bytes);
        return 0;
    }
    f->state = FRAME_INTACT;
    f->payload = payload;
    return 0;
}

// The first offset after `after` where an intact frame starts, or -1, in time linear in the
// bytes after `after` (a crafted file of magics that each claim the rest of it must not cost
// a CRC over the rest per magic: seconds at 1 MB). One pass collects the candidates (magic,
// known type, a length that fits) and the offsets whose running CRC their check needs; one
// more pass, in offset order, takes the running CRC at each; a candidate's CRC over its type,
// length and payload then comes from those by zlib's CRC algebra (crc32_combine_op), without
// reading its payload again.
typedef struct {
    uint64_t off;
    uLong crc;    // CRC of the bytes [base, off)
} Mark;

typedef struct {
    uint64_t at;
    uint32_t len, stored;
    size_t mark;  // its first of 4 marks: at+4, at+9, at+13, at+13+len
} Candidate;

static int cmp_mark_ptr(const void *a, const void *b) {
    const Mark *x = *(Mark *const *)a, *y = *(Mark *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

/* CRC of the bytes [x, y) from the running CRCs at x and y: crc(y) is crc(x) shifted by
 * y - x bytes, xor crc([x, y)). */
static uLong crc_between(const Mark *x, const Mark *y) {
    return crc32_combine_op(x->crc, 0, crc32_combine_gen((z_off_t)(y->off - x->off))) ^ y->crc;
}

static int scan_for_intact(Reader *r, uint64_t after, int64_t *found, Err *err) {
    *found = -1;
    size_t n_cand = 0, cap = 0;
    Candidate *cand = NULL;
    Mark *marks = NULL;
    Mark **order = NULL;
    int rc = -1;
    for (uint64_t p = after + 1; p + FRAME_HEADER_BYTES <= r->size; p++) {
        const unsigned char *h = reader_view(r, p, FRAME_HEADER_BYTES, err);
        if (!h) goto done;
        if (memcmp(h, FRAME_MAGIC, 4) != 0 || !frame_type_known(h[4])) continue;
        uint32_t len = get_u32le(h + 5);
        if (len > JOURNAL_MAX_PAYLOAD || FRAME_HEADER_BYTES + (uint64_t)len > r->size - p) continue;
        if (n_cand == cap) {
            cap = cap ? 2 * cap : 64;
            Candidate *grown = realloc(cand, cap * sizeof *cand);
            if (!grown) { err_fail(err, "%s: out of memory scanning for intact frames", r->path); goto done; }
            cand = grown;
        }
        cand[n_cand] = (Candidate){.at = p, .len = len, .stored = get_u32le(h + 9), .mark = 4 * n_cand};
        n_cand++;
    }
    if (n_cand == 0) { rc = 0; goto done; }
    marks = malloc(4 * n_cand * sizeof *marks);
    order = malloc(4 * n_cand * sizeof *order);
    if (!marks || !order) { err_fail(err, "%s: out of memory scanning for intact frames", r->path); goto done; }
    for (size_t c = 0; c < n_cand; c++) {
        uint64_t at = cand[c].at;
        const uint64_t offs[4] = {at + 4, at + 9, at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + cand[c].len};
        for (int k = 0; k < 4; k++) {
            marks[4 * c + (size_t)k] = (Mark){.off = offs[k]};
            order[4 * c + (size_t)k] = &marks[4 * c + (size_t)k];
        }
    }
    qsort(order, 4 * n_cand, sizeof *order, cmp_mark_ptr);
    // the running CRC from the first candidate's first mark on, read once in chunks
    uint64_t pos = order[0]->off;
    uLong crc = 0;
    for (size_t i = 0; i < 4 * n_cand; i++) {
        while (pos < order[i]->off) {
            uint64_t step = order[i]->off - pos;
            size_t chunk = step > READ_CHUNK ? READ_CHUNK : (size_t)step;
            const unsigned char *b = reader_view(r, pos, chunk, err);
            if (!b) goto done;
            crc = zframe_crc32((uint32_t)crc, b, chunk);
            pos += chunk;
        }
        order[i]->crc = crc;
    }
    for (size_t c = 0; c < n_cand; c++) {
        const Mark *m = &marks[cand[c].mark];
        uLong head = crc_between(&m[0], &m[1]), payload = crc_between(&m[2], &m[3]);
        uLong whole = crc32_combine_gen((z_off_t)cand[c].len);
        whole = crc32_combine_op(head, payload, whole);
        if ((uint32_t)whole == cand[c].stored) {
            *found = (int64_t)cand[c].at;
            break;
        }
    }
    rc = 0;
done:
    free(cand);
    free(marks);
    free(order);
    return rc;
}

static int reader_open(Reader *r, const char *path, int *missing, Err *err) {
    memset(r, 0, sizeof *r);
    r->path = path;
    *missing = 0;
    r->fd = open_own_file(path, O_RDONLY, "for reading", err);
    if (r->fd < 0) {
        if (errno == ENOENT) { *missing = 1; return 0; }
        return -1;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0) {
        err_fail(err, "%s: cannot stat (%s)", path, strerror(errno));
        close(r->fd);
        return -1;
    }
    r->size = (uint64_t)st.st_size;
    return 0;
}

static void reader_close(Reader *r) {
    if (r->fd >= 0) close(r->fd);
    free(r->buf);
}

// The message for a bad frame: what, where, and what a cut there would lose.
// Returns -1 only on a read error.
static int describe_damage(Reader *r, uint64_t off, const Frame *f, Err *err) {
    int64_t next;
    if (scan_for_intact(r, off, &next, err) != 0) return -1;
    unsigned long long follow = (unsigned long long)(r->size - off);
    if (next < 0) {
        err_fail(err, "%s: %s frame at byte %llu (%s); %llu bytes from there to the end, no intact "
             "frame among them: cutting there loses nothing intact", r->path,
             f->state == FRAME_TORN ? "torn" : "corrupt", (unsigned long long)off, f->why, follow);
        return 0;
    }
    // Intact data after the damage: not a torn tail, whatever the header said.
    err_fail(err, "%s: corrupt frame at byte %llu (%s); %llu bytes from there to the end, with an "
         "intact frame at byte %lld: damage in the middle, cutting there would lose data",
         r->path, (unsigned long long)off, f->why, follow, (long long)next);
    return 0;
}

int journal_replay(const char *dir, JournalVisit visit, void *user, int64_t *bad_offset,
                   Err *err) {
    int64_t ignored;
    if (!bad_offset) bad_offset = &ignored;
    *bad_offset = -1;
    if (err) err->msg[0] = '\0';
    char path[PATH_MAX];
    if (join_path(path, dir, "journal", err)) return -1;
    Reader r;
    int missing;
    if (reader_open(&r, path, &missing, err) != 0) return -1;
    if (missing) return 0;   // no journal yet: nothing done

    int rc = 0;
    uint64_t off = 0;
    while (off < r.size) {
        Frame f;
        if (read_frame(&r, off, &f, err) != 0) { rc = -1; break; }
        if (f.state != FRAME_INTACT) {
            *bad_offset = (int64_t)off;
            if (describe_damage(&r, off, &f, err) != 0) rc = -1;
            break;
        }
        if (visit) {
            if (err) err->msg[0] = '\0';
            if (visit(user, f.type, f.payload, f.len, err) != 0) {
                if (err && err->msg[0] == '\0')
                    err_fail(err, "%s: replay stopped by its caller at byte %llu", path, (unsigned long long)off);
                rc = -1;
                break;
            }
        }
        off += FRAME_HEADER_BYTES + f.len;
    }
    reader_close(&r);
    return rc;
}

int journal_find_intact(const char *dir, int64_t after, int64_t *next_frame, Err *err) {
    *next_frame = -1;
    char path[PATH_MAX];
    if (join_path(path, dir, "journal", err)) return -1;
    if (after < 0) return err_fail(err, "%s: no frame search from byte %lld", path, (long long)after);
    Reader r;
    int missing;
    if (reader_open(&r, path, &missing, err) != 0) return -1;
    if (missing) return 0;
    int rc = scan_for_intact(&r, (uint64_t)after, next_frame, err);
    reader_close(&r);
    return rc;
}
