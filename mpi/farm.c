/*
 * mpi/farm.c: the task farm over MPI_COMM_WORLD (the contract is mpi/farm.h).
 *
 * Protocol. Every message carries one of the tags below (a range of its own
 * on MPI_COMM_WORLD: while the farm runs, nothing else may send point-to-point
 * messages to rank 0 there). Payloads travel as a frame: a first message with
 * a WireHeader and, when small, the payload inline; a large payload follows
 * in pieces of at most 1 GiB (MPI counts are ints; piece_bytes in farm.h may
 * lower it) tagged *_MORE. The receiver needs only the header's total length,
 * so a sender may cut pieces as it likes. A result's payload is a zlib frame
 * (util.h: zframe_compress), its CRC32 and raw length in the header.
 *
 *   worker -> master   READY        (empty) first ask, sent once at start
 *                      RESULT(+MORE) item id, zlib bytes, CRC32 + raw length;
 *                                   also the next ask
 *                      FAILED       the worker's error message; no reply, the
 *                                   worker has left its loop
 *   master -> worker   WORK(+MORE)  item id and its bytes
 *                      STOP         (empty) leave the loop
 *
 * Every READY or RESULT gets exactly one reply, WORK or STOP; a worker asks
 * only when it is idle, so it has at most one item at a time. When next_work
 * has nothing while items are in flight, the asking worker is parked (no
 * reply yet): a result may bring new items (retries). No items and none in
 * flight: every worker gets STOP as its reply, the new ones when they first
 * ask. So each worker gets exactly one STOP, whatever the counts.
 *
 * Stopping early (should_stop, or an error: a callback's -1, a bad result, a
 * worker's FAILED): parked workers get STOP at once, every later ask gets
 * STOP, results still arriving reach on_result when draining (not after an
 * error). The master waits for that at most drain_seconds; then every worker
 * still out (busy on an item, or not yet started) gets an unsolicited STOP,
 * and farm_master returns. A busy worker looks for that STOP before it sends
 * its result, drops the result and leaves. The MPI_Finalize that follows on
 * rank 0 then waits for those workers' items to end (mpirun ends with them).
 *
 * Waiting. Open MPI's blocking calls busy-poll, so 64 ranks on 2 cores would
 * spin at 100% each. Every wait here is MPI_Iprobe or MPI_Test(all) between
 * nanosleeps that grow by a quarter from 50 us to 10 ms (1 ms inside a
 * transfer, where a large message moves only when both sides call MPI).
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi/farm.h"

enum {
    TAG_READY = 17400,
    TAG_RESULT,
    TAG_RESULT_MORE,
    TAG_FAILED,
    TAG_WORK,
    TAG_WORK_MORE,
    TAG_STOP,
};

#define MASTER 0
#define PIECE_MAX ((size_t)1 << 30)     // piece size cap: fits an int count
#define INLINE_MAX ((size_t)64 << 10)   // payloads up to this ride in the first message
#define POLL_FIRST_NS 50000L            // 50 us: first sleep of a wait
#define POLL_IDLE_MAX_NS 10000000L      // 10 ms: longest sleep waiting for a message
#define POLL_XFER_MAX_NS 1000000L       // 1 ms: longest sleep inside a transfer
#define STOP_SEND_SECONDS 5.0           // bound on delivering one STOP

/* The first message of a frame; the same binary layout on every rank (the
 * farm runs on one kind of machine). */
typedef struct {
    uint64_t item_id;
    uint64_t len;       // payload bytes in the whole frame
    uint64_t raw_len;   // results: bytes before compression
    uint32_t crc32;     // results: CRC32 of the raw bytes
    uint32_t reserved;
} WireHeader;

static int mpi_fail(int rc, const char *what, Err *err) {
    char text[MPI_MAX_ERROR_STRING];
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    return err_fail(err, "farm: %s: %s", what, text);
}

/* ---- polling with backoff ---- */

typedef struct {
    long ns, max_ns;
} Backoff;

static Backoff backoff_start(long max_ns) { return (Backoff){POLL_FIRST_NS, max_ns}; }

/* Sleeps, then lengthens the next sleep by a quarter: a message that comes
 * after waiting T is seen at most ~T/4 late (doubling would make it T), and
 * the cap is still reached in about 25 polls. */
static void backoff_sleep(Backoff *b) {
    struct timespec ts = {0, b->ns};
    nanosleep(&ts, NULL);
    long next = b->ns + b->ns / 4;
    b->ns = next > b->max_ns ? b->max_ns : next;
}

/* Waits until every request is done, polling; timeout < 0: no limit. Returns
 * 1 done, 0 timed out (requests still active), -1 MPI error. */
static int wait_requests(int n, MPI_Request *reqs, double timeout, Err *err) {
    double t_end = util_now() + timeout;
    Backoff b = backoff_start(POLL_XFER_MAX_NS);
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, reqs, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Testall", err);
        if (done) return 1;
        if (timeout >= 0 && util_now() >= t_end) return 0;
        backoff_sleep(&b);
    }
}

/* MPI_Iprobe that also sees what arrived while this rank slept: Open MPI's
 * probe looks for a match first and only then progresses (reads the incoming
 * queues), so after a sleep a single call misses a message that is there. */
static int probe(int source, int tag, int *flag, MPI_Status *st, Err *err) {
    for (int tries = 0; tries < 2; tries++) {
        int rc = MPI_Iprobe(source, tag, MPI_COMM_WORLD, flag, st);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Iprobe", err);
        if (*flag) return 0;
    }
    return 0;
}

/* Gives up on requests that may never complete (a peer that left): MPI
 * finishes them in the background, or at MPI_Finalize. */
static void release_requests(int n, MPI_Request *reqs) {
    for (int i = 0; i < n; i++)
        if (reqs[i] != MPI_REQUEST_NULL) MPI_Request_free(&reqs[i]);
}

/* ---- frames ---- */

/* The piece size a side asked for (farm.h: piece_bytes), within (0, PIECE_MAX]. */
static size_t piece_size(size_t piece_bytes) {
    return piece_bytes == 0 || piece_bytes > PIECE_MAX ? PIECE_MAX : piece_bytes;
}

/* A frame being sent: the first message (header + inline payload) and the
 * requests of it and its pieces. The payload itself stays the caller's and
 * must live until the requests are done. */
typedef struct {
    unsigned char *first;
    MPI_Request *reqs;
    int nreq;
} Outgoing;

static void outgoing_free(Outgoing *o) {
    free(o->first);
    free(o->reqs);
    *o = (Outgoing){0};
}

static int frame_send(int dest, int tag, int more_tag, size_t piece_bytes, const WireHeader *h,
                      const void *payload, Outgoing *o, Err *err) {
    size_t piece = piece_size(piece_bytes);
    size_t inline_len = h->len <= INLINE_MAX && h->len <= piece ? h->len : 0;
    size_t rest = h->len - inline_len;
    size_t npieces = (rest + piece - 1) / piece;
    *o = (Outgoing){0};
    o->first = malloc(sizeof *h + inline_len);
    o->reqs = malloc(sizeof(MPI_Request) * (1 + npieces));
    if (!o->first || !o->reqs) {
        outgoing_free(o);
        return err_fail(err, "farm: out of memory sending %llu bytes", (unsigned long long)h->len);
    }
    memcpy(o->first, h, sizeof *h);
    if (inline_len) memcpy(o->first + sizeof *h, payload, inline_len);
    int rc = MPI_Isend(o->first, (int)(sizeof *h + inline_len), MPI_BYTE, dest, tag, MPI_COMM_WORLD, &o->reqs[0]);
    if (rc != MPI_SUCCESS) {
        outgoing_free(o);
        return mpi_fail(rc, "MPI_Isend", err);
    }
    o->nreq = 1;
    const unsigned char *p = (const unsigned char *)payload + inline_len;
    for (size_t i = 0; i < npieces; i++, p += piece, rest -= piece) {
        int n = (int)(rest < piece ? rest : piece);
        rc = MPI_Isend(p, n, MPI_BYTE, dest, more_tag, MPI_COMM_WORLD, &o->reqs[o->nreq]);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Isend", err);   // o still owns what was sent
        o->nreq++;
    }
    return 0;
}

/* Sends a whole frame and waits for it to leave (the receiver is waiting for it). */
static int frame_send_wait(int dest, int tag, int more_tag, size_t piece_bytes, const WireHeader *h,
                           const void *payload, Err *err) {
    Outgoing o;
    if (frame_send(dest, tag, more_tag, piece_bytes, h, payload, &o, err)) return -1;
    int rc = wait_requests(o.nreq, o.reqs, -1, err);
    outgoing_free(&o);
    return rc < 0 ? -1 : 0;
}

/* A growable receive buffer. */
typedef struct {
    unsigned char *p;
    size_t cap;
} Buf;

static int buf_reserve(Buf *b, size_t n, Err *err) {
    if (n <= b->cap) return 0;
    unsigned char *p = realloc(b->p, n);
    if (!p) return err_fail(err, "farm: out of memory for a %zu-byte message", n);
    b->p = p;
    b->cap = n;
    return 0;
}

/* Receives one piece of a frame, up to max bytes, into dst; *n: its size. */
static int piece_recv(int source, int tag, void *dst, size_t max, size_t *n, Err *err) {
    MPI_Request req;
    int rc = MPI_Irecv(dst, (int)(max > INT_MAX ? INT_MAX : max), MPI_BYTE, source, tag, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Irecv", err);
    MPI_Status st;
    Backoff b = backoff_start(POLL_XFER_MAX_NS);
    for (int done = 0; !done;) {
        rc = MPI_Test(&req, &done, &st);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Test", err);
        if (!done) backoff_sleep(&b);
    }
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    *n = (size_t)count;
    return 0;
}

/* Receives the frame whose first message was probed (st, tag) into b: the
 * header into *h, the payload at b->p + sizeof *h. */
static int frame_recv(const MPI_Status *st, int more_tag, Buf *b, WireHeader *h, Err *err) {
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    if (buf_reserve(b, count > 0 ? (size_t)count : 1, err)) return -1;
    int rc = MPI_Recv(b->p, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Recv", err);
    if ((size_t)count < sizeof *h)
        return err_fail(err, "farm: a %d-byte message from rank %d is too short for its header", count,
                         st->MPI_SOURCE);
    memcpy(h, b->p, sizeof *h);
    size_t got = (size_t)count - sizeof *h;
    if (got > h->len)
        return err_fail(err, "farm: rank %d sent %zu bytes for a %llu-byte frame", st->MPI_SOURCE, got,
                    (unsigned long long)h->len);
    if (h->len > SIZE_MAX - sizeof *h || buf_reserve(b, sizeof *h + h->len, err))
        return err_fail(err, "farm: cannot hold a %llu-byte frame from rank %d", (unsigned long long)h->len,
                    st->MPI_SOURCE);
    while (got < h->len) {
        size_t n = 0;
        if (piece_recv(st->MPI_SOURCE, more_tag, b->p + sizeof *h + got, h->len - got, &n, err)) return -1;
        if (n == 0) return err_fail(err, "farm: empty piece from rank %d", st->MPI_SOURCE);
        got += n;
    }
    return 0;
}

/* A STOP or READY: an empty message. */
static int empty_send(int dest, int tag, double timeout, Err *err) {
    MPI_Request req;
    int rc = MPI_Isend(NULL, 0, MPI_BYTE, dest, tag, MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Isend", err);
    int done = wait_requests(1, &req, timeout, err);
    if (done < 0) return -1;
    if (!done) release_requests(1, &req);
    return 0;
}

static int empty_recv(const MPI_Status *st, Err *err) {
    int rc = MPI_Recv(NULL, 0, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Recv", err);
}

/* Receives and throws away a message nobody expects (so it leaves the queue). */
static int junk_recv(const MPI_Status *st, Err *err) {
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    void *p = malloc(count > 0 ? (size_t)count : 1);
    if (!p) return err_fail(err, "farm: out of memory");
    int rc = MPI_Recv(p, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    free(p);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "MPI_Recv", err);
}

/* Receives a message of text (a FAILED) into b, NUL-terminated. */
static int text_recv(const MPI_Status *st, Buf *b, Err *err) {
    int count = 0;
    MPI_Get_count(st, MPI_BYTE, &count);
    if (buf_reserve(b, (size_t)(count > 0 ? count : 0) + 1, err)) return -1;
    int rc = MPI_Recv(b->p, count, MPI_BYTE, st->MPI_SOURCE, st->MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Recv", err);
    b->p[count > 0 ? count : 0] = 0;
    return 0;
}

static int check_mpi_ready(Err *err) {
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized) return err_fail(err, "farm: MPI is not initialised (or already finalised)");
    return 0;
}

/* ---- the master ---- */

typedef enum {
    WORKER_NEW,       // has not asked yet
    WORKER_PARKED,    // asked, waits for work (no reply yet)
    WORKER_BUSY,      // runs an item
    WORKER_STOPPED,   // got its STOP
    WORKER_FAILED,    // sent FAILED and left
} WorkerState;

typedef enum {
    PHASE_RUNNING,     // dispatching
    PHASE_FINISHING,   // no work left: STOP to every ask
    PHASE_DRAINING,    // should_stop: results still delivered, STOP to every ask, until the deadline
    PHASE_ABORTING,    // an error: results dropped, STOP to every ask, until the deadline
} Phase;

typedef struct {
    const FarmMaster *m;
    FarmStats *stats;
    int nranks;
    WorkerState *state;   // by rank; [0] unused
    uint64_t *item;       // by rank: the item a busy worker runs
    int *parked;          // a stack of parked ranks
    int nparked;
    int busy;             // items in flight
    int open;             // workers neither stopped nor failed
    Phase phase;
    double deadline;      // draining/aborting: when the workers still out are given up
    int failed;           // the farm returns -1 with `error`
    Err error;
    Buf rx;
} Master;

/* The farm fails: keeps the first message, stops dispatching and delivering. */
static void master_abort(Master *ms, const char *msg) {
    if (!ms->failed) snprintf(ms->error.msg, sizeof ms->error.msg, "%s", msg);
    ms->failed = 1;
    if (ms->phase != PHASE_DRAINING && ms->phase != PHASE_ABORTING) ms->deadline = util_now() + ms->m->drain_seconds;
    ms->phase = PHASE_ABORTING;
}

/* Runs a callback's result through: on -1, the farm aborts with its message. */
static int callback_ok(Master *ms, int rc, Err *cb_err, const char *name) {
    if (rc == 0) return 1;
    if (!cb_err->msg[0]) snprintf(cb_err->msg, sizeof cb_err->msg, "farm: %s failed (no message)", name);
    master_abort(ms, cb_err->msg);
    return 0;
}

static int master_stop_worker(Master *ms, int rank, double timeout) {
    if (empty_send(rank, TAG_STOP, timeout, &ms->error)) return -1;
    ms->state[rank] = WORKER_STOPPED;
    ms->open--;
    return 0;
}

static int master_stop_parked(Master *ms) {
    while (ms->nparked > 0)
        if (master_stop_worker(ms, ms->parked[--ms->nparked], STOP_SEND_SECONDS)) return -1;
    return 0;
}

/* An asking worker (new, or just done) waits for work, or gets STOP when the farm is ending. */
static int master_answer_ask(Master *ms, int rank) {
    if (ms->phase != PHASE_RUNNING) return master_stop_worker(ms, rank, STOP_SEND_SECONDS);
    ms->state[rank] = WORKER_PARKED;
    ms->parked[ms->nparked++] = rank;
    return 0;
}

static int master_send_work(Master *ms, int rank, uint64_t id, const void *data, size_t len) {
    WireHeader h = {.item_id = id, .len = len};
    if (frame_send_wait(rank, TAG_WORK, TAG_WORK_MORE, ms->m->piece_bytes, &h, data, &ms->error)) return -1;
    ms->state[rank] = WORKER_BUSY;
    ms->item[rank] = id;
    ms->busy++;
    return 0;
}

/* Hands items to parked workers while next_work has some. With none left and
 * none in flight, the farm is finishing. Returns -1 only on an MPI failure. */
static int master_dispatch(Master *ms) {
    const FarmMaster *m = ms->m;
    while (ms->phase == PHASE_RUNNING && ms->nparked > 0) {
        uint64_t id = 0;
        const void *data = NULL;
        size_t len = 0;
        int has_item = 0;
        Err cb_err = {{0}};
        if (!callback_ok(ms, m->next_work(m->user, &id, &data, &len, &has_item, &cb_err), &cb_err, "next_work"))
            break;
        if (!has_item) {
            if (ms->busy == 0) ms->phase = PHASE_FINISHING;
            break;
        }
        int rank = ms->parked[--ms->nparked];
        if (master_send_work(ms, rank, id, data, len)) return -1;
        if (m->on_dispatch && !callback_ok(ms, m->on_dispatch(m->user, id, rank, &cb_err), &cb_err, "on_dispatch"))
            break;
    }
    return ms->phase == PHASE_RUNNING ? 0 : master_stop_parked(ms);
}

/* Checks a received result and hands it to on_result (while delivering). */
static void master_deliver(Master *ms, int rank, const WireHeader *h, const unsigned char *zdata) {
    if (ms->phase != PHASE_RUNNING && ms->phase != PHASE_DRAINING) return;   // aborting: dropped
    char msg[sizeof ms->error.msg];
    if (h->item_id != ms->item[rank]) {
        snprintf(msg, sizeof msg, "farm: worker %d returned item %llu, was sent %llu", rank,
                 (unsigned long long)h->item_id, (unsigned long long)ms->item[rank]);
        master_abort(ms, msg);
        return;
    }
    void *raw = NULL;
    Err cb_err = {{0}};
    if (zframe_decompress(zdata, h->len, h->raw_len, h->crc32, &raw, &cb_err)) {
        snprintf(msg, sizeof msg, "farm: bad result of item %llu from worker %d: %.400s",
                 (unsigned long long)h->item_id, rank, cb_err.msg);
        master_abort(ms, msg);
        return;
    }
    const FarmMaster *m = ms->m;
    int rc = m->on_result(m->user, h->item_id, rank, raw, h->raw_len, zdata, h->len, h->crc32, &cb_err);
    free(raw);
    if (!callback_ok(ms, rc, &cb_err, "on_result")) return;
    ms->stats->items_done++;
    ms->stats->bytes_raw += h->raw_len;
    ms->stats->bytes_compressed += h->len;
}

static int master_on_result(Master *ms, const MPI_Status *st) {
    int rank = st->MPI_SOURCE;
    WireHeader h;
    if (frame_recv(st, TAG_RESULT_MORE, &ms->rx, &h, &ms->error)) return -1;
    if (ms->state[rank] != WORKER_BUSY) {   // cannot happen with farm_worker on the other side
        char msg[128];
        snprintf(msg, sizeof msg, "farm: result from worker %d, which had no item", rank);
        master_abort(ms, msg);
        return 0;
    }
    ms->busy--;
    master_deliver(ms, rank, &h, ms->rx.p + sizeof h);
    return master_answer_ask(ms, rank);
}

static int master_on_failed(Master *ms, const MPI_Status *st) {
    int rank = st->MPI_SOURCE;
    if (text_recv(st, &ms->rx, &ms->error)) return -1;
    if (ms->state[rank] == WORKER_BUSY) ms->busy--;
    if (ms->state[rank] != WORKER_STOPPED && ms->state[rank] != WORKER_FAILED) ms->open--;
    ms->state[rank] = WORKER_FAILED;
    char msg[sizeof ms->error.msg];
    snprintf(msg, sizeof msg, "worker %d: %.*s", rank, (int)(sizeof msg - 32), (const char *)ms->rx.p);
    master_abort(ms, msg);
    return 0;
}

static int master_on_message(Master *ms, const MPI_Status *st) {
    int rank = st->MPI_SOURCE;
    char msg[128];
    switch (st->MPI_TAG) {
    case TAG_READY:
        if (empty_recv(st, &ms->error)) return -1;
        if (ms->state[rank] == WORKER_NEW) return master_answer_ask(ms, rank);
        snprintf(msg, sizeof msg, "farm: worker %d said READY twice", rank);
        master_abort(ms, msg);
        return 0;
    case TAG_RESULT:
        return master_on_result(ms, st);
    case TAG_FAILED:
        return master_on_failed(ms, st);
    default:
        if (junk_recv(st, &ms->error)) return -1;
        snprintf(msg, sizeof msg, "farm: unexpected message (tag %d) from rank %d", st->MPI_TAG, rank);
        master_abort(ms, msg);
        return 0;
    }
}

typedef enum { WAIT_MESSAGE, WAIT_STOP_ASKED, WAIT_DEADLINE, WAIT_ERROR } WaitResult;

/* Waits for the next message to the master, polling should_stop while
 * running and watching the deadline while draining or aborting. */
static WaitResult master_wait(Master *ms, MPI_Status *st) {
    Backoff b = backoff_start(POLL_IDLE_MAX_NS);
    for (;;) {
        int flag = 0;
        if (probe(MPI_ANY_SOURCE, MPI_ANY_TAG, &flag, st, &ms->error)) return WAIT_ERROR;
        if (flag) return WAIT_MESSAGE;
        if (ms->phase == PHASE_RUNNING && ms->m->should_stop && ms->m->should_stop(ms->m->user))
            return WAIT_STOP_ASKED;
        if ((ms->phase == PHASE_DRAINING || ms->phase == PHASE_ABORTING) && util_now() >= ms->deadline)
            return WAIT_DEADLINE;
        backoff_sleep(&b);
    }
}

/* The drain time is up: every worker still out gets its STOP unasked (a busy
 * one finds it when its item ends). Their items are abandoned. */
static int master_give_up_workers(Master *ms) {
    for (int r = 1; r < ms->nranks; r++)
        if (ms->state[r] == WORKER_NEW || ms->state[r] == WORKER_BUSY)
            if (master_stop_worker(ms, r, STOP_SEND_SECONDS)) return -1;
    return 0;
}

static void master_begin_drain(Master *ms) {
    ms->phase = PHASE_DRAINING;
    ms->deadline = util_now() + ms->m->drain_seconds;
}

/* The master's loop; returns -1 on an MPI failure (the farm cannot go on). */
static int master_loop(Master *ms) {
    while (ms->open > 0) {
        if (ms->phase == PHASE_RUNNING && ms->m->should_stop && ms->m->should_stop(ms->m->user))
            master_begin_drain(ms);
        if (ms->phase == PHASE_RUNNING ? master_dispatch(ms) : master_stop_parked(ms)) return -1;
        if (ms->open == 0) break;
        MPI_Status st;
        switch (master_wait(ms, &st)) {
        case WAIT_MESSAGE:
            if (master_on_message(ms, &st)) return -1;
            break;
        case WAIT_STOP_ASKED:
            master_begin_drain(ms);
            break;
        case WAIT_DEADLINE:
            return master_give_up_workers(ms);
        case WAIT_ERROR:
            return -1;
        }
    }
    return 0;
}

/* One rank: the master runs each item itself, one after another. */
static int master_run_local(const FarmMaster *m, const FarmWorker *w, FarmStats *stats, Err *err) {
    if (!w || !w->run) return err_fail(err, "farm: a single rank needs a local worker to run the items");
    for (;;) {
        if (m->should_stop && m->should_stop(m->user)) return 0;
        uint64_t id = 0;
        const void *data = NULL;
        size_t len = 0;
        int has_item = 0;
        if (m->next_work(m->user, &id, &data, &len, &has_item, err)) return -1;
        if (!has_item) return 0;
        if (m->on_dispatch && m->on_dispatch(m->user, id, MASTER, err)) return -1;
        void *out = NULL, *z = NULL;
        size_t out_len = 0, zlen = 0;
        uint32_t crc = 0;
        Err run_err = {{0}};
        if (w->run(w->user, id, data, len, &out, &out_len, &run_err)) {
            free(out);
            return err_fail(err, "worker 0: %s", run_err.msg[0] ? run_err.msg : "run failed (no message)");
        }
        int rc = zframe_compress(out, out_len, &z, &zlen, &crc, err);
        if (rc == 0) rc = m->on_result(m->user, id, MASTER, out, out_len, z, zlen, crc, err);
        free(out);
        free(z);
        if (rc) return -1;
        stats->items_done++;
        stats->bytes_raw += out_len;
        stats->bytes_compressed += zlen;
    }
}

static int master_init(Master *ms, const FarmMaster *m, FarmStats *stats, int nranks, Err *err) {
    *ms = (Master){.m = m, .stats = stats, .nranks = nranks, .open = nranks - 1};
    ms->state = calloc((size_t)nranks, sizeof *ms->state);
    ms->item = calloc((size_t)nranks, sizeof *ms->item);
    ms->parked = calloc((size_t)nranks, sizeof *ms->parked);
    if (!ms->state || !ms->item || !ms->parked) return err_fail(err, "farm: out of memory for %d ranks", nranks);
    for (int r = 0; r < nranks; r++) ms->state[r] = WORKER_NEW;
    return 0;
}

static void master_free(Master *ms) {
    free(ms->state);
    free(ms->item);
    free(ms->parked);
    free(ms->rx.p);
}

int farm_master(const FarmMaster *m, const FarmWorker *local, FarmStats *stats, Err *err) {
    FarmStats scratch;
    if (!stats) stats = &scratch;
    *stats = (FarmStats){0};
    if (!m || !m->next_work || !m->on_result) return err_fail(err, "farm: next_work and on_result are required");
    if (!(m->drain_seconds >= 0)) return err_fail(err, "farm: drain_seconds must be >= 0");
    if (check_mpi_ready(err)) return -1;
    int rank = 0, nranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (rank != MASTER) return err_fail(err, "farm: farm_master called on rank %d (only rank 0 is the master)", rank);
    double t0 = util_now();
    int rc;
    if (nranks == 1) {
        err->msg[0] = 0;
        rc = master_run_local(m, local, stats, err);
        if (rc && !err->msg[0]) err_fail(err, "farm: a callback failed (no message)");
    } else {
        Master ms;
        rc = master_init(&ms, m, stats, nranks, err);
        if (rc == 0) {
            rc = master_loop(&ms);
            if (rc == 0 && ms.failed) rc = -1;
            if (rc) snprintf(err->msg, sizeof err->msg, "%s", ms.error.msg);
        }
        master_free(&ms);
    }
    stats->seconds = util_now() - t0;
    return rc;
}

/* ---- the worker ---- */

typedef struct {
    const FarmWorker *w;
    Buf rx;
    Outgoing sending;   // the last result, until its requests are done
    void *zdata;        // ... and its compressed bytes
} Worker;

/* Tells the master this worker failed (it leaves its loop), then returns -1. */
static int worker_failed(const Err *why, Err *err) {
    if (err != why) snprintf(err->msg, sizeof err->msg, "%s", why->msg);
    size_t n = strlen(err->msg);
    Err ignored;
    MPI_Request req;
    if (MPI_Isend(err->msg, (int)n, MPI_BYTE, MASTER, TAG_FAILED, MPI_COMM_WORLD, &req) == MPI_SUCCESS &&
        wait_requests(1, &req, STOP_SEND_SECONDS, &ignored) == 0)
        release_requests(1, &req);
    return -1;
}

/* Waits for the master's reply (WORK or STOP), polling; meanwhile drives the
 * sends of the previous result, with short sleeps while they are under way
 * (a large message moves only when both sides call into MPI). */
static int worker_wait_reply(Worker *wk, MPI_Status *st, Err *err) {
    int sending = wk->sending.nreq > 0;
    Backoff b = backoff_start(sending ? POLL_XFER_MAX_NS : POLL_IDLE_MAX_NS);
    for (;;) {
        int flag = 0;
        if (probe(MASTER, MPI_ANY_TAG, &flag, st, err)) return -1;
        if (flag) return 0;
        if (sending) {
            int rc = MPI_Testall(wk->sending.nreq, wk->sending.reqs, &flag, MPI_STATUSES_IGNORE);
            if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Testall", err);
            if (flag) {   // sent: now an idle wait
                sending = 0;
                b = backoff_start(POLL_IDLE_MAX_NS);
                continue;
            }
        }
        backoff_sleep(&b);
    }
}

/* The previous result has left once the master replied to it; after an
 * unasked STOP it may never leave, so the wait is bounded and its buffers are
 * then left to MPI (not freed: MPI may still read them). */
static int worker_settle_sending(Worker *wk, double timeout, Err *err) {
    if (!wk->sending.nreq) return 0;
    int done = wait_requests(wk->sending.nreq, wk->sending.reqs, timeout, err);
    if (done < 0) return -1;
    if (done) {
        outgoing_free(&wk->sending);
        free(wk->zdata);
    } else {
        release_requests(wk->sending.nreq, wk->sending.reqs);
        free(wk->sending.reqs);
    }
    wk->sending = (Outgoing){0};
    wk->zdata = NULL;
    return 0;
}

/* An unasked STOP already here: the master gave this worker up while it was busy. */
static int worker_stop_waiting(int *stop, Err *err) {
    MPI_Status st;
    if (probe(MASTER, TAG_STOP, stop, &st, err)) return -1;
    return *stop ? empty_recv(&st, err) : 0;
}

/* Runs one item and starts sending its result. *stopped: the master gave up
 * on this worker meanwhile (the result is dropped). */
static int worker_run_item(Worker *wk, const WireHeader *item, const void *data, int *stopped, Err *err) {
    void *out = NULL;
    size_t out_len = 0;
    Err run_err = {{0}};
    if (wk->w->run(wk->w->user, item->item_id, data, item->len, &out, &out_len, &run_err)) {
        free(out);
        if (!run_err.msg[0]) snprintf(run_err.msg, sizeof run_err.msg, "run failed on item %llu (no message)",
                                      (unsigned long long)item->item_id);
        return worker_failed(&run_err, err);
    }
    WireHeader h = {.item_id = item->item_id, .raw_len = out_len};
    size_t zlen = 0;
    int rc = zframe_compress(out, out_len, &wk->zdata, &zlen, &h.crc32, err);
    free(out);
    if (rc) return worker_failed(err, err);
    h.len = zlen;
    if (worker_stop_waiting(stopped, err)) return -1;
    if (*stopped) {
        free(wk->zdata);
        wk->zdata = NULL;
        return 0;
    }
    return frame_send(MASTER, TAG_RESULT, TAG_RESULT_MORE, wk->w->piece_bytes, &h, wk->zdata, &wk->sending, err);
}

static int worker_loop(Worker *wk, Err *err) {
    if (empty_send(MASTER, TAG_READY, -1, err)) return -1;
    for (;;) {
        MPI_Status st;
        if (worker_wait_reply(wk, &st, err)) return -1;
        if (st.MPI_TAG == TAG_STOP) {
            if (empty_recv(&st, err)) return -1;
            return worker_settle_sending(wk, 1.0, err);
        }
        if (st.MPI_TAG != TAG_WORK) {
            Err why;
            if (junk_recv(&st, err)) return -1;
            err_fail(&why, "farm: unexpected message (tag %d) from the master", st.MPI_TAG);
            return worker_failed(&why, err);
        }
        // The master replied, so it has the previous result whole: its sends end now.
        if (worker_settle_sending(wk, -1, err)) return -1;
        WireHeader h;
        if (frame_recv(&st, TAG_WORK_MORE, &wk->rx, &h, err)) return worker_failed(err, err);
        int stopped = 0;
        if (worker_run_item(wk, &h, wk->rx.p + sizeof h, &stopped, err)) return -1;
        if (stopped) return 0;
    }
}

int farm_worker(const FarmWorker *w, Err *err) {
    if (!w || !w->run) return err_fail(err, "farm: the worker needs a run callback");
    if (check_mpi_ready(err)) return -1;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == MASTER) return err_fail(err, "farm: farm_worker called on rank 0 (the master's rank)");
    Worker wk = {.w = w};
    int rc = worker_loop(&wk, err);
    Err ignored;
    if (wk.sending.nreq) worker_settle_sending(&wk, 1.0, &ignored);   // after an error only
    free(wk.rx.p);
    return rc;
}
