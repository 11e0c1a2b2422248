/*
 * results/results.h: the contract of results/, what a sweep leaves behind.
 * Knows no MPI and no GPT-2: records are JSON text, points are identified by
 * a 64-hex-digit id.
 *
 * The journal: an append-only file DIR/journal of length-prefixed frames,
 *     magic "PJF1" (4 bytes) | type (1) | payload length (u32 LE) | CRC32 (u32 LE) | payload
 * The CRC32 covers the type byte, the 4 length bytes and the payload (in that
 * order, as on disk), so a flipped bit that turns one valid type into another
 * (3 -> 1 or 2) is caught too. A payload holds at most JOURNAL_MAX_PAYLOAD
 * bytes; a larger length on disk is corruption.
 * Only rank 0 writes it. Frame types:
 *     JOURNAL_HEADER    payload: JSON {"spec_sha256", "version", "created"}      (first frame)
 *     JOURNAL_POINT     payload: JSON of a point: {"id", "index", "point": {...}} (the grid, once per point)
 *     JOURNAL_DISPATCH  payload: JSON {"id", "attempt", "worker", "time"}
 *     JOURNAL_RESULT    payload: u8 status (0 ok, 1 failed) | 64 hex id | u32 raw length |
 *                                u32 CRC32 of the raw record | zlib-compressed JSON record, as received
 * Results are fsync'd one by one; a crash loses at most the frame being
 * written. Replay reads frames until the first torn or corrupt one and
 * reports it; the caller truncates the file there (repair) before appending
 * again, or refuses when intact frames follow the damage (journal_find_intact).
 */
#ifndef RESULTS_H
#define RESULTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char msg[512];
} ResultsErr;

enum { JOURNAL_HEADER = 1, JOURNAL_POINT = 2, JOURNAL_DISPATCH = 3, JOURNAL_RESULT = 4 };
#define JOURNAL_MAX_PAYLOAD (1u << 30)   // 1 GiB

// ----------------------------------------------------------------------------
// journal

typedef struct Journal Journal;

/* Opens (creating) DIR/journal for appending, taking DIR/lock (flock on a
 * lock file holding the pid; a second sweep on the same directory gets a
 * clear error naming the holder). DIR must exist. The file is not checked
 * here: replay it, and cut a damaged tail, before appending (a frame
 * appended after a torn tail would turn it into damage in the middle).
 * The lock belongs to the open file: a child that forks without exec holds
 * it until it exits (the descriptors are close-on-exec). */
int journal_open(Journal **j, const char *dir, ResultsErr *err);
/* Appends one frame with one write; with sync, fdatasyncs before returning.
 * On failure the file is cut back to its previous size (the message says if
 * even that failed) and the frame counts as not written. */
int journal_append(Journal *j, int type, const void *payload, size_t len, int sync, ResultsErr *err);
void journal_close(Journal *j);   // releases the lock

/* Reads every intact frame of DIR/journal in order. On a torn or corrupt
 * frame it stops, sets *bad_offset to where the bad data starts (-1 if the
 * whole file was good) and a description in err->msg, and returns 0: the
 * caller decides whether to repair (journal_truncate) or refuse. The
 * description says what is wrong, where, how many bytes follow, and whether
 * an intact frame lies among them ("... torn frame at byte 1234 (expected 56
 * bytes, 20 left); ..."); journal_find_intact answers the same question for
 * code. A missing file is an empty journal. Returns -1 when the file cannot
 * be read, or when visit returns non-zero (replay stops, visit's message
 * stays in err). The payload passed to visit is valid during the call only. */
typedef int (*JournalVisit)(void *user, int type, const void *payload, size_t len, ResultsErr *err);
int journal_replay(const char *dir, JournalVisit visit, void *user, int64_t *bad_offset,
                   ResultsErr *err);
/* Where the first intact frame after byte `after` starts, or -1 if none
 * does: -1 means the damage at `after` is a tail that journal_truncate can
 * cut without losing a frame; otherwise cutting there loses records. */
int journal_find_intact(const char *dir, int64_t after, int64_t *next_frame, ResultsErr *err);
/* Cuts DIR/journal to `offset` bytes and fsyncs. Call it while holding the
 * journal open (journal_open), so no other sweep appends meanwhile. */
int journal_truncate(const char *dir, int64_t offset, ResultsErr *err);

/* CRC32 (zlib's) and the result frame's payload layout. */
uint32_t results_crc32(const void *data, size_t len);
/* The id is 64 lowercase hex digits; zrecord is the zlib stream of the raw
 * record (raw_len bytes, CRC32 raw_crc), copied as is into a malloc'd payload. */
int result_frame_encode(int failed, const char id[65], const void *zrecord, size_t zlen,
                        size_t raw_len, uint32_t raw_crc, void **payload, size_t *payload_len,
                        ResultsErr *err);
/* Decodes a result payload, decompressing the record (checked against its
 * length and CRC) into a malloc'd NUL-terminated string. */
int result_frame_decode(const void *payload, size_t len, int *failed, char id[65], char **record,
                        ResultsErr *err);

// ----------------------------------------------------------------------------
// frontier (issue 6)

#endif
