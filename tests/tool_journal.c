// tests/tool_journal.c: the journal under fire, for tests/t_journal_crash.sh.
// Frame i of the test sequence is a JOURNAL_RESULT whose id, status and
// record all follow from i alone, so any journal can be checked against it.
//
//   tool_journal append DIR N     replay (checking), cut a torn tail, then append frames
//                                 k..N-1, each fsync'd; prints i once frame i is durable
//   tool_journal verify DIR [--printed FILE] [--expect N]
//                                 with the lock: replay, check that the frames are exactly
//                                 0..k-1 of the sequence, cut a torn tail; with --printed,
//                                 every index the writer printed must be there; exit 3 and
//                                 no change when intact frames follow the damage
//   tool_journal replay DIR       no lock, no repair: "frames K", "bad_offset B", "message M"
//   tool_journal offsets DIR      "OFFSET BYTES" of each intact frame
//   tool_journal flip FILE BYTE BIT
//   tool_journal hold DIR SECONDS holds the journal open (and locked), prints "locked PID"
//   tool_journal open DIR         opens and closes; on failure prints the message, exit 1
// A last argument --big selects the sequence of large frames (append, verify, replay).
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "results/results.h"

// ----------------------------------------------------------------------------
// the deterministic sequence

static void frame_id(uint64_t i, char id[65]) {
    uint64_t s = i * 7919 + 17;
    for (int k = 0; k < 4; k++) snprintf(id + 16 * k, 17, "%016" PRIx64, splitmix64(&s));
}

static int frame_failed(uint64_t i) { return i % 5 == 3; }

// --big: the sequence of large frames (0.5 to 3 MB, stored uncompressed), so
// that a kill often lands inside the write() of a frame and tears it.
static int big_frames = 0;

// Mostly small records; every 7th is a few hundred KB.
static char *frame_record(uint64_t i) {
    uint64_t s = i ^ 0xC0FFEEull;
    size_t blob = big_frames ? 500000 + splitmix64(&s) % 2500000
                : i % 7 == 6 ? 200000 + splitmix64(&s) % 200000 : 20 + splitmix64(&s) % 3000;
    char *rec = malloc(blob + 128);
    int n = snprintf(rec, 128, "{\"index\": %" PRIu64 ", \"failed\": %d, \"blob\": \"", i, frame_failed(i));
    static const char hex[] = "0123456789abcdef";
    for (size_t k = 0; k < blob; k += 16) {
        uint64_t r = splitmix64(&s);
        for (size_t b = k; b < blob && b < k + 16; b++, r >>= 4) rec[n + b] = hex[r & 15];
    }
    strcpy(rec + n + blob, "\"}");
    return rec;
}

static int frame_payload(uint64_t i, void **payload, size_t *len, Err *err) {
    char *rec = frame_record(i), id[65];
    frame_id(i, id);
    size_t raw = strlen(rec);
    uLongf zlen = compressBound(raw);
    unsigned char *z = malloc(zlen);
    if (compress2(z, &zlen, (const Bytef *)rec, raw, big_frames ? 0 : 1) != Z_OK) {
        snprintf(err->msg, sizeof err->msg, "compressing record %" PRIu64 " failed", i);
        free(rec);
        free(z);
        return -1;
    }
    int rc = result_frame_encode(frame_failed(i), id, z, zlen, raw, results_crc32(rec, raw), payload, len, err);
    free(rec);
    free(z);
    return rc;
}

// ----------------------------------------------------------------------------
// replay that checks every frame against the sequence

typedef struct {
    uint64_t count;      // frames seen, all correct
    uint64_t offset;     // where the next frame starts
    int print_offsets;
    int count_only;      // a writer resuming only needs to know where to go on
} Check;

static int check_frame(void *user, int type, const void *payload, size_t len, Err *err) {
    Check *c = user;
    uint64_t i = c->count;
    if (type != JOURNAL_RESULT) {
        snprintf(err->msg, sizeof err->msg, "frame %" PRIu64 " has type %d, not a result", i, type);
        return -1;
    }
    if (c->count_only) {
        c->count++;
        return 0;
    }
    int failed;
    char id[65], want_id[65], *rec;
    if (result_frame_decode(payload, len, &failed, id, &rec, err) != 0) return -1;
    char *want = frame_record(i);
    frame_id(i, want_id);
    int same = failed == frame_failed(i) && strcmp(id, want_id) == 0 && strcmp(rec, want) == 0;
    free(rec);
    free(want);
    if (!same) {
        snprintf(err->msg, sizeof err->msg, "frame %" PRIu64 " is not record %" PRIu64 " of the sequence "
                 "(a frame missing, duplicated or changed)", i, i);
        return -1;
    }
    if (c->print_offsets) printf("%" PRIu64 " %zu\n", c->offset, 13 + len);
    c->offset += 13 + len;
    c->count++;
    return 0;
}

// Replays DIR against the sequence; cuts a damaged tail when nothing intact
// follows it, saying so on `notes`. Returns 0, 1 on a failed check, 3 when it
// refuses to cut.
static int replay_and_repair(const char *dir, Check *c, FILE *notes) {
    Err err;
    int64_t bad;
    if (journal_replay(dir, check_frame, c, &bad, &err) != 0) {
        fprintf(notes, "FAIL %s: %s\n", dir, err.msg);
        return 1;
    }
    if (bad < 0) return 0;
    char damage[sizeof err.msg];
    memcpy(damage, err.msg, sizeof damage);
    int64_t next;
    if (journal_find_intact(dir, bad, &next, &err) != 0) {
        fprintf(notes, "FAIL %s: %s\n", dir, err.msg);
        return 1;
    }
    if (next >= 0) {
        fprintf(notes, "refused: %s\n", damage);
        return 3;
    }
    if (journal_truncate(dir, bad, &err) != 0) {
        fprintf(notes, "FAIL %s: %s\n", dir, err.msg);
        return 1;
    }
    fprintf(notes, "repaired: %s\n", damage);
    return 0;
}

// ----------------------------------------------------------------------------
// commands

static int cmd_append(const char *dir, uint64_t n) {
    Journal *j;
    Err err;
    if (journal_open(&j, dir, &err) != 0) { fprintf(stderr, "%s\n", err.msg); return 1; }
    Check c = {.count_only = 1};   // verify checks the contents after each kill
    int rc = replay_and_repair(dir, &c, stderr);   // stdout is for the indexes
    if (rc != 0) { journal_close(j); return rc; }
    for (uint64_t i = c.count; i < n; i++) {
        void *payload;
        size_t len;
        if (frame_payload(i, &payload, &len, &err) != 0 ||
            journal_append(j, JOURNAL_RESULT, payload, len, 1, &err) != 0) {
            fprintf(stderr, "append %" PRIu64 ": %s\n", i, err.msg);
            journal_close(j);
            return 1;
        }
        free(payload);
        printf("%" PRIu64 "\n", i);   // only now is frame i durable
        fflush(stdout);
    }
    journal_close(j);
    return 0;
}

// Every complete line of the writer's output is an index it saw fsync'd.
static int check_printed(const char *path, uint64_t count) {
    FILE *f = fopen(path, "r");
    if (!f) { printf("FAIL cannot read %s (%s)\n", path, strerror(errno)); return 1; }
    char line[64];
    uint64_t lines = 0, highest = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n')) break;   // cut mid-line by the kill: not a promise
        uint64_t i = strtoull(line, NULL, 10);
        if (i >= count) {
            printf("FAIL the writer reported frame %" PRIu64 " durable, but the journal holds 0..%" PRIu64 "\n", i,
                   count ? count - 1 : 0);
            fclose(f);
            return 1;
        }
        if (lines++ == 0 || i > highest) highest = i;
    }
    fclose(f);
    if (lines) printf("printed: %" PRIu64 " indexes up to %" PRIu64 ", all present\n", lines, highest);
    else printf("printed: none\n");
    return 0;
}

static int cmd_verify(const char *dir, const char *printed, long long expect) {
    Journal *j;
    Err err;
    if (journal_open(&j, dir, &err) != 0) { printf("FAIL %s\n", err.msg); return 1; }
    Check c = {0};
    int rc = replay_and_repair(dir, &c, stdout);
    journal_close(j);
    if (rc != 0) return rc;
    printf("frames %" PRIu64 "\n", c.count);
    if (expect >= 0 && c.count != (uint64_t)expect) {
        printf("FAIL %" PRIu64 " frames, expected %lld\n", c.count, expect);
        return 1;
    }
    return printed ? check_printed(printed, c.count) : 0;
}

static int cmd_replay(const char *dir, int print_offsets) {
    Check c = {.print_offsets = print_offsets};
    Err err;
    int64_t bad;
    if (journal_replay(dir, check_frame, &c, &bad, &err) != 0) {
        printf("FAIL %s: %s\n", dir, err.msg);
        return 1;
    }
    if (!print_offsets) printf("frames %" PRIu64 "\nbad_offset %lld\nmessage %s\n", c.count, (long long)bad, err.msg);
    return 0;
}

static int cmd_flip(const char *path, long long byte, int bit) {
    FILE *f = fopen(path, "r+b");
    if (!f) { printf("FAIL %s: %s\n", path, strerror(errno)); return 1; }
    int c;
    if (fseek(f, byte, SEEK_SET) != 0 || (c = fgetc(f)) == EOF || fseek(f, byte, SEEK_SET) != 0 ||
        fputc(c ^ (1 << bit), f) == EOF) {
        printf("FAIL cannot flip bit %d of byte %lld of %s\n", bit, byte, path);
        fclose(f);
        return 1;
    }
    fclose(f);
    return 0;
}

static int cmd_hold(const char *dir, int seconds) {
    Journal *j;
    Err err;
    if (journal_open(&j, dir, &err) != 0) { printf("%s\n", err.msg); return 1; }
    printf("locked %ld\n", (long)getpid());
    fflush(stdout);
    sleep((unsigned)seconds);
    journal_close(j);
    return 0;
}

static int cmd_open(const char *dir) {
    Journal *j;
    Err err;
    if (journal_open(&j, dir, &err) != 0) { printf("%s\n", err.msg); return 1; }
    journal_close(j);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: tool_journal append DIR N | verify DIR [--printed FILE] [--expect N] | replay DIR |\n"
                    "       offsets DIR | flip FILE BYTE BIT | hold DIR SECONDS | open DIR   [--big]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[argc - 1], "--big")) {
        big_frames = 1;
        argc--;
    }
    if (argc < 3) return usage();
    const char *cmd = argv[1], *dir = argv[2];
    if (!strcmp(cmd, "append") && argc == 4) return cmd_append(dir, strtoull(argv[3], NULL, 10));
    if (!strcmp(cmd, "verify")) {
        const char *printed = NULL;
        long long expect = -1;
        for (int a = 3; a + 1 < argc; a += 2) {
            if (!strcmp(argv[a], "--printed")) printed = argv[a + 1];
            else if (!strcmp(argv[a], "--expect")) expect = atoll(argv[a + 1]);
            else return usage();
        }
        if (argc % 2 == 0) return usage();
        return cmd_verify(dir, printed, expect);
    }
    if (!strcmp(cmd, "replay") && argc == 3) return cmd_replay(dir, 0);
    if (!strcmp(cmd, "offsets") && argc == 3) return cmd_replay(dir, 1);
    if (!strcmp(cmd, "flip") && argc == 5) return cmd_flip(dir, atoll(argv[3]), atoi(argv[4]) & 7);
    if (!strcmp(cmd, "hold") && argc == 4) return cmd_hold(dir, atoi(argv[3]));
    if (!strcmp(cmd, "open") && argc == 3) return cmd_open(dir);
    return usage();
}
