/*
 * mpi/farm.h: the contract of mpi/, a task farm over MPI that moves opaque
 * byte buffers. It knows nothing of GPT-2, points or journals.
 *
 * Rank 0 (the master) hands out one work item at a time to whichever worker
 * asks (dynamic load balancing: a worker asks again as soon as it is done),
 * in the order its next_work callback gives them (the caller puts costly
 * items first). A worker runs each item through its callback and returns a
 * result, which travels as a zlib frame (zframe_compress, util/util.h: the
 * zlib stream with the raw bytes' CRC32 and length); the master checks both
 * and hands the result, compressed and raw, to its on_result callback (the
 * compressed bytes can go to a journal as received).
 * When there is no more work, every worker gets exactly one stop message.
 * Works with one worker and with more workers than items.
 *
 * Idle ranks do not spin: a rank waiting for a message polls with
 * MPI_Iprobe and sleeps between polls (backing off from 50 us to 10 ms),
 * so 64 ranks on 2 cores leave the CPU to the ranks that work.
 *
 * Stopping early: when the master's should_stop callback says so (a signal
 * arrived), it stops dispatching, waits up to drain_seconds for the items in
 * flight (their results still reach on_result), then sends every worker a
 * stop message (a worker that is still busy gets it when it next asks) and
 * returns. Errors return -1 with a message in Err; nothing here exits.
 * An error on the master (a callback's -1, a bad CRC32 or length, a worker's
 * failure) stops the farm the same way, bounded by drain_seconds too, but
 * the results still arriving are dropped. A worker given up while busy finds
 * its stop message when its item ends and returns without sending the
 * result; until then rank 0's MPI_Finalize waits for it (so does mpirun).
 *
 * The farm uses MPI_COMM_WORLD's point-to-point tags 17400-17406 while it
 * runs; nothing else may send point-to-point messages to rank 0 meanwhile.
 */
#ifndef FARM_H
#define FARM_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"   // Err, err_fail, the zlib frame

/* The master's side. Callbacks return 0 on success, -1 to abort the farm
 * (the farm then stops every worker and returns -1 with the callback's
 * message, which the callback writes into err). */
typedef struct {
    /* Next work item: *has_item = 0 when there is none left (for now: the
     * farm asks again after each result, so items may appear later, e.g.
     * retries). The buffer must stay valid until the next call. */
    int (*next_work)(void *user, uint64_t *item_id, const void **data, size_t *len, int *has_item,
                     Err *err);
    /* An item was sent to worker rank `worker` (e.g. to journal the dispatch). */
    int (*on_dispatch)(void *user, uint64_t item_id, int worker, Err *err);
    /* A result: raw (len raw_len) and as received (zlib, len zlen, crc32 of raw). */
    int (*on_result)(void *user, uint64_t item_id, int worker, const void *raw, size_t raw_len,
                     const void *zdata, size_t zlen, uint32_t crc32, Err *err);
    /* Polled between messages; non-zero: stop dispatching and drain. */
    int (*should_stop)(void *user);
    void *user;
    double drain_seconds;   // how long to wait for in-flight items after should_stop
    size_t piece_bytes;     // the largest piece a work item is sent in; 0: 1 GiB (see below)
} FarmMaster;

/* The worker's side: runs one item, fills *out (malloc'd, the farm frees
 * it) and *out_len. Returning -1 aborts this worker's loop (the master is
 * told, and the farm returns -1 there); a failed *item* should instead be
 * reported inside the result bytes. */
typedef struct {
    int (*run)(void *user, uint64_t item_id, const void *data, size_t len, void **out,
               size_t *out_len, Err *err);
    void *user;
    size_t piece_bytes;   // the largest piece a result is sent in; 0: 1 GiB (see below)
} FarmWorker;

/* piece_bytes: a payload that does not ride in its header's message (one over
 * 64 KB or over piece_bytes) follows it in pieces of at most piece_bytes (0,
 * or more than 1 GiB: 1 GiB, since MPI counts are ints). The receiver needs no
 * setting, so each side may choose its own. Leave it 0: smaller pieces only
 * cost messages; tests set it to send many pieces without sending gigabytes
 * (tests/t_farm.sh, through tests/tool_farm.c --piece-bytes). */

typedef struct {
    uint64_t items_done;
    uint64_t bytes_raw, bytes_compressed;
    double seconds;
} FarmStats;

/* Runs the farm on MPI_COMM_WORLD (MPI already initialised). Rank 0 must
 * call farm_master, every other rank farm_worker. With a single rank,
 * farm_master runs the items itself through `local` (may be NULL: error). */
int farm_master(const FarmMaster *m, const FarmWorker *local, FarmStats *stats, Err *err);
int farm_worker(const FarmWorker *w, Err *err);

#endif
