/*
 * tests/tool_farm.c: the farm (mpi/farm.h) end to end, under mpirun; run by tests/t_farm.sh.
 *
 *   mpirun -n N tool_farm --probe      (MPI works here: no farm)
 *   mpirun -n N tool_farm [--items K] [--sleep-ms S] [--max-bytes B] [--retry-every R]
 *       [--stop-after R] [--drain-seconds D] [--long-item I --long-ms MS] [--expect-abandoned A]
 *       [--abort-after R] [--abort-dispatch R] [--fail-item I] [--expect-error TEXT]
 *       [--max-idle-cpu F] [--max-farm-seconds S] [--piece-bytes B] [--corrupt-rank R]
 *
 * Workers compute a deterministic function of each item: results from 0 bytes to --max-bytes
 * (default 1 MB), random, one repeated byte, or the item's own bytes repeated; items carry
 * 0 bytes to 200 KB of their own. The master recomputes each result and checks that every
 * item comes back exactly once, from the worker it went to, byte for byte, with the right
 * CRC32 and a zlib stream that inflates to it; it counts dispatches, and at the end every
 * rank reports its CPU (getrusage) and wall time in the farm, the items it ran and any farm
 * message left over (a second STOP would be one); first, each rank checks that the farm
 * refuses calls it cannot serve (wrong rank, no callbacks). Exit 0 when everything checks out
 * (with --expect-error: when the farm failed with that message), 1 otherwise, 2 on usage.
 *
 *   --stop-after R      should_stop turns true after R results: the drain path
 *   --long-item I       item index I sleeps --long-ms instead of --sleep-ms
 *   --expect-abandoned  items dispatched but not delivered when the farm returns (default 0)
 *   --abort-after R     on_result fails at the R-th result; --abort-dispatch: on_dispatch at the R-th
 *   --fail-item I       the worker's run fails on item index I
 *   --retry-every R     items with index % R == 0 come back once more as a retry (new id),
 *                       queued when their first result arrives (items that appear later)
 *   --max-idle-cpu F    every rank's CPU time in the farm must stay under F x its wall time
 *   --max-farm-seconds  farm_master must return within this time (a farm that gives up on
 *                       busy workers does not wait for their items)
 *   --piece-bytes B     every rank sends large payloads in pieces of at most B bytes (farm.h)
 *   --corrupt-rank R    rank R's results go out with a wrong CRC32, which the master must
 *                       catch: the link wraps the codec (-Wl,--wrap=zframe_compress, see the
 *                       Makefile), so the farm itself has no hook for it
 */
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "mpi/farm.h"

#define ID_BASE (1ull << 40)     // ids above 2^32: the wire must carry 64 bits
#define RETRY_BIT (1ull << 62)
#define BIG_ITEM_BYTES (200u << 10)

typedef struct {
    int items, sleep_ms, long_item, long_ms, retry_every;
    long max_bytes;
    int stop_after, abort_after, abort_dispatch, fail_item, expect_abandoned, corrupt_rank;
    long piece_bytes;
    double drain_seconds, max_idle_cpu, max_farm_seconds;
    const char *expect_error;
} Options;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t next_random(uint64_t *s) { return mix64(*s += 0x9E3779B97F4A7C15ull); }

static int index_of(uint64_t id) { return (int)((id & ~RETRY_BIT) - ID_BASE); }

/* ---- results corrupted on the wire (--corrupt-rank) ---- */

static int corrupt_crc;   // this rank sends wrong CRC32s

/* The farm's every call of zframe_compress comes here (the link's --wrap): the real one,
 * then on the corrupting rank a CRC32 that does not match the bytes. */
int __real_zframe_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32, Err *err);
int __wrap_zframe_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32, Err *err);
int __wrap_zframe_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32, Err *err) {
    int rc = __real_zframe_compress(src, len, dst, dst_len, crc32, err);
    if (rc == 0 && corrupt_crc) *crc32 ^= 1u;
    return rc;
}

/* ---- the deterministic work ---- */

/* An item's own bytes: none, a few KB, or 200 KB (more than the farm sends inline). */
static size_t item_len(uint64_t id) {
    int i = index_of(id);
    if (i % 5 == 0) return 0;
    if (i % 13 == 7) return BIG_ITEM_BYTES;
    return 1 + mix64(id) % 3000;
}

static void item_bytes(uint64_t id, unsigned char *p, size_t n) {
    uint64_t s = id * 31 + 7;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)next_random(&s);
}

/* The result of an item, from its id and its bytes: n = 0 .. max_bytes, of one of four kinds. */
static unsigned char *result_bytes(uint64_t id, const unsigned char *data, size_t len, long max_bytes, size_t *n) {
    int i = index_of(id);
    *n = i % 8 == 0 ? 0 : (size_t)(mix64(id ^ 0x5eed) % (uint64_t)(max_bytes + 1));
    unsigned char *out = malloc(*n ? *n : 1);
    uint64_t s = id;
    for (size_t k = 0; k < *n; k++) {
        switch (i % 4) {
        case 0:
        case 1: out[k] = (unsigned char)next_random(&s); break;            // incompressible
        case 2: out[k] = (unsigned char)('A' + i % 26); break;            // one byte repeated
        default: out[k] = len ? data[k % len] : (unsigned char)(k % 7);   // the item's bytes repeated
        }
    }
    return out;
}

/* ---- the worker's side ---- */

typedef struct {
    const Options *o;
    int items_run;
} WorkerCtx;

static int worker_run(void *user, uint64_t id, const void *data, size_t len, void **out, size_t *out_len,
                      Err *err) {
    WorkerCtx *w = user;
    w->items_run++;
    int i = index_of(id);
    if (i == w->o->fail_item) {
        snprintf(err->msg, sizeof err->msg, "tool: item %d failed on purpose", i);
        return -1;
    }
    sleep_ms(i == w->o->long_item ? w->o->long_ms : w->o->sleep_ms);
    *out = result_bytes(id, data, len, w->o->max_bytes, out_len);
    return 0;
}

/* ---- the master's side ---- */

typedef struct {
    const Options *o;
    int capacity;            // items + retries
    int *dispatched;         // by slot: times sent
    int *worker;             // by slot: rank it was sent to
    int *delivered;          // by slot: results received
    int next_index;          // next fresh item
    uint64_t *retry_queue;   // retries waiting to be sent
    int retries_queued, retries_sent;
    unsigned char *cur;      // the bytes of the item handed out last
    int n_dispatched, n_delivered, problems;
    double stop_asked_at;    // when should_stop first said yes
} MasterCtx;

static int slot_of(const MasterCtx *mc, uint64_t id) {
    int i = index_of(id);
    if (i < 0 || i >= mc->o->items) return -1;
    return id & RETRY_BIT ? mc->o->items + i : i;
}

static void problem(MasterCtx *mc, uint64_t id, const char *fmt, ...) {
    if (mc->problems++ >= 20) return;   // enough to see what is wrong
    printf("PROBLEM item %d%s: ", index_of(id), id & RETRY_BIT ? " (retry)" : "");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static int master_next_work(void *user, uint64_t *id, const void **data, size_t *len, int *has_item,
                            Err *err) {
    (void)err;
    MasterCtx *mc = user;
    if (mc->retries_sent < mc->retries_queued) *id = mc->retry_queue[mc->retries_sent++];
    else if (mc->next_index < mc->o->items) *id = ID_BASE + (uint64_t)mc->next_index++;
    else {
        *has_item = 0;
        return 0;
    }
    *has_item = 1;
    *len = item_len(*id);
    free(mc->cur);
    mc->cur = malloc(*len ? *len : 1);
    item_bytes(*id, mc->cur, *len);
    *data = mc->cur;
    return 0;
}

static int master_on_dispatch(void *user, uint64_t id, int worker, Err *err) {
    MasterCtx *mc = user;
    int s = slot_of(mc, id);
    if (s < 0) {
        problem(mc, id, "dispatched with an unknown id");
        return 0;
    }
    mc->dispatched[s]++;
    mc->worker[s] = worker;
    mc->n_dispatched++;
    if (mc->o->abort_dispatch && mc->n_dispatched == mc->o->abort_dispatch) {
        snprintf(err->msg, sizeof err->msg, "tool: dispatch %d refused on purpose", mc->n_dispatched);
        return -1;
    }
    return 0;
}

/* The result must be the one recomputed here, its CRC32 right, its zlib bytes inflate to it. */
static void check_result(MasterCtx *mc, uint64_t id, const void *raw, size_t raw_len, const void *zdata, size_t zlen,
                         uint32_t crc) {
    size_t in_len = item_len(id), want_len;
    unsigned char *in = malloc(in_len ? in_len : 1);
    item_bytes(id, in, in_len);
    unsigned char *want = result_bytes(id, in, in_len, mc->o->max_bytes, &want_len);
    if (raw_len != want_len || (raw_len && memcmp(raw, want, raw_len)))
        problem(mc, id, "wrong result: %zu bytes, want %zu", raw_len, want_len);
    if (crc != (uint32_t)crc32_z(0, raw, raw_len)) problem(mc, id, "CRC32 does not match the bytes");
    void *back = NULL;
    Err e;
    if (zframe_decompress(zdata, zlen, raw_len, crc, &back, &e) || (raw_len && memcmp(back, raw, raw_len)))
        problem(mc, id, "the zlib bytes do not give the result");
    free(back);
    free(want);
    free(in);
}

static int master_on_result(void *user, uint64_t id, int worker, const void *raw, size_t raw_len,
                            const void *zdata, size_t zlen, uint32_t crc, Err *err) {
    MasterCtx *mc = user;
    int s = slot_of(mc, id);
    if (s < 0) {
        problem(mc, id, "result with an unknown id");
        return 0;
    }
    if (mc->delivered[s]++) problem(mc, id, "delivered %d times", mc->delivered[s]);
    if (!mc->dispatched[s]) problem(mc, id, "delivered but never dispatched");
    if (worker != mc->worker[s]) problem(mc, id, "came back from rank %d, was sent to rank %d", worker, mc->worker[s]);
    check_result(mc, id, raw, raw_len, zdata, zlen, crc);
    mc->n_delivered++;
    int r = mc->o->retry_every;
    if (r > 0 && !(id & RETRY_BIT) && index_of(id) % r == 0) mc->retry_queue[mc->retries_queued++] = id | RETRY_BIT;
    if (mc->o->abort_after && mc->n_delivered == mc->o->abort_after) {
        snprintf(err->msg, sizeof err->msg, "tool: result %d refused on purpose", mc->n_delivered);
        return -1;
    }
    return 0;
}

static int master_should_stop(void *user) {
    MasterCtx *mc = user;
    if (!mc->o->stop_after || mc->n_delivered < mc->o->stop_after) return 0;
    if (mc->stop_asked_at == 0) mc->stop_asked_at = util_now();
    return 1;
}

static void master_ctx_init(MasterCtx *mc, const Options *o) {
    *mc = (MasterCtx){.o = o, .capacity = 2 * o->items + 1};
    mc->dispatched = calloc((size_t)mc->capacity, sizeof(int));
    mc->worker = calloc((size_t)mc->capacity, sizeof(int));
    mc->delivered = calloc((size_t)mc->capacity, sizeof(int));
    mc->retry_queue = calloc((size_t)mc->capacity, sizeof(uint64_t));
}

static void master_ctx_free(MasterCtx *mc) {
    free(mc->dispatched);
    free(mc->worker);
    free(mc->delivered);
    free(mc->retry_queue);
    free(mc->cur);
}

/* ---- per-rank report ---- */

enum { R_CPU, R_WALL, R_ITEMS, R_RC, R_LEFTOVER, R_MISUSE, R_N };

/* Calls the farm cannot accept fail at once, with a message, sending nothing: the wrong
 * side for this rank, missing callbacks. Returns how many were accepted. */
static int check_misuse(int rank, int nranks, FarmWorker *fw) {
    Err err = {{0}};
    FarmMaster no_callbacks = {0}, fm = {.next_work = master_next_work, .on_result = master_on_result};
    FarmWorker no_run = {0};
    int accepted = 0;
    if (rank == 0) {
        accepted += farm_worker(fw, &err) == 0;   // rank 0 is never a worker
        accepted += farm_master(&no_callbacks, fw, NULL, &err) == 0;
        if (nranks == 1) accepted += farm_master(&fm, NULL, NULL, &err) == 0;   // one rank needs a local worker
    } else {
        accepted += farm_master(&fm, fw, NULL, &err) == 0;   // only rank 0 is the master
        accepted += farm_worker(&no_run, &err) == 0;
    }
    if (accepted || !err.msg[0])
        printf("rank %d: misuse accepted %d time(s) (last message \"%s\")\n", rank, accepted, err.msg);
    return accepted + !err.msg[0];
}

/* Farm messages still queued for this rank once everyone is done (a second STOP, a lost result). */
static int count_leftovers(void) {
    int n = 0;
    for (int round = 0; round < 3; round++) {
        int flag = 1;
        while (flag) {
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
            if (!flag) break;
            int count = 0;
            MPI_Get_count(&st, MPI_BYTE, &count);
            void *p = malloc(count > 0 ? (size_t)count : 1);
            MPI_Recv(p, count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            free(p);
            n++;
        }
        sleep_ms(10);
    }
    return n;
}

/* The master's verdict on the whole run; prints the report; returns the number of problems. */
static int judge(const Options *o, MasterCtx *mc, int rc, const Err *err, const FarmStats *st, double farm_s,
                 double returned_at, const double *all, int nranks) {
    int bad = mc->problems;
    int expected_total = o->items + (o->retry_every > 0 ? (o->items + o->retry_every - 1) / o->retry_every : 0);
    int abandoned = mc->n_dispatched - mc->n_delivered;
    printf("tool_farm: %d ranks, %d items + %d retries: %d dispatched, %d delivered, %d abandoned; farm %s in %.2f s\n",
           nranks, o->items, mc->retries_queued, mc->n_dispatched, mc->n_delivered, abandoned,
           rc ? "FAILED" : "ok", farm_s);
    if (rc) printf("farm error: %s\n", err->msg);
    printf("farm stats: %llu done, %llu raw bytes, %llu compressed bytes\n", (unsigned long long)st->items_done,
           (unsigned long long)st->bytes_raw, (unsigned long long)st->bytes_compressed);
#define FAIL(...) (printf("FAIL: " __VA_ARGS__), printf("\n"), bad++)
    if (o->max_farm_seconds > 0 && farm_s > o->max_farm_seconds)
        FAIL("farm_master took %.2f s, limit %.2f s", farm_s, o->max_farm_seconds);
    if (o->expect_error) {
        if (rc == 0) FAIL("the farm succeeded, expected an error with \"%s\"", o->expect_error);
        else if (!strstr(err->msg, o->expect_error)) FAIL("error \"%s\" lacks \"%s\"", err->msg, o->expect_error);
    } else if (rc) {
        FAIL("the farm failed");
    }
    if (rc == 0 && st->items_done != (uint64_t)mc->n_delivered)
        FAIL("stats say %llu done, on_result saw %d", (unsigned long long)st->items_done, mc->n_delivered);
    int stopping = o->stop_after || o->expect_error;
    if (!stopping && mc->n_delivered != expected_total) FAIL("%d delivered, expected %d", mc->n_delivered, expected_total);
    if (!o->expect_error && abandoned != o->expect_abandoned)
        FAIL("%d items abandoned, expected %d", abandoned, o->expect_abandoned);
    for (int s = 0; s < mc->capacity; s++)
        if (mc->dispatched[s] > 1) FAIL("slot %d dispatched %d times", s, mc->dispatched[s]);
    if (o->stop_after && rc == 0) {
        double waited = returned_at - mc->stop_asked_at;
        printf("stop: asked after %d results, farm returned %.2f s later (drain limit %.2f s)\n", o->stop_after,
               waited, o->drain_seconds);
        if (mc->stop_asked_at == 0) FAIL("should_stop never said yes");
        else if (waited > o->drain_seconds + 1.5) FAIL("the drain took %.2f s, limit %.2f s", waited, o->drain_seconds);
        if (mc->n_dispatched >= expected_total) FAIL("everything was dispatched: the stop came too late to test");
    }
    int ran = 0, idle = 0, workers_failed = 0;
    double idle_cpu = 0, max_ratio = 0;
    printf("rank  role    items   cpu_s  wall_s  cpu/wall  rc  leftover\n");
    for (int r = 0; r < nranks; r++) {
        const double *x = all + (size_t)r * R_N;
        double ratio = x[R_WALL] > 0 ? x[R_CPU] / x[R_WALL] : 0;
        printf("%4d  %-6s  %5.0f  %6.3f  %6.3f  %8.4f  %2.0f  %8.0f\n", r, r ? "worker" : "master", x[R_ITEMS],
               x[R_CPU], x[R_WALL], ratio, x[R_RC], x[R_LEFTOVER]);
        if (r > 0) {
            ran += (int)x[R_ITEMS];
            if (x[R_ITEMS] == 0) idle++, idle_cpu += x[R_CPU];
        }
        if (ratio > max_ratio) max_ratio = ratio;
        if (x[R_LEFTOVER] > 0) FAIL("rank %d had %.0f farm messages left over", r, x[R_LEFTOVER]);
        if (x[R_MISUSE] > 0) FAIL("rank %d: the farm accepted a call it must refuse", r);
        if (r > 0 && x[R_RC] != 0) workers_failed++;
    }
    int want_failed = o->fail_item >= 0 && nranks > 1;   // the worker that ran the failing item
    if (workers_failed != want_failed) FAIL("%d workers returned an error, expected %d", workers_failed, want_failed);
    if (nranks > 1 && ran != mc->n_dispatched) FAIL("workers ran %d items, %d were dispatched", ran, mc->n_dispatched);
    printf("idle workers (no item): %d, CPU %.3f s in all; highest cpu/wall of any rank %.4f\n", idle, idle_cpu,
           max_ratio);
    if (o->max_idle_cpu > 0 && max_ratio > o->max_idle_cpu)
        FAIL("a rank used %.1f%% of its wall time in CPU, limit %.1f%%", 100 * max_ratio, 100 * o->max_idle_cpu);
#undef FAIL
    printf("%s\n", bad ? "FAILED" : "OK");
    return bad;
}

/* ---- main ---- */

static int usage(void) {
    fprintf(stderr, "usage: mpirun -n N tool_farm [--items K] [--sleep-ms S] [--max-bytes B] [--retry-every R]\n"
                    "  [--stop-after R] [--drain-seconds D] [--long-item I --long-ms MS] [--expect-abandoned A]\n"
                    "  [--abort-after R] [--abort-dispatch R] [--fail-item I] [--expect-error TEXT]\n"
                    "  [--max-idle-cpu F] [--max-farm-seconds S] [--piece-bytes B] [--corrupt-rank R]\n");
    return 2;
}

static int parse(int argc, char **argv, Options *o) {
    *o = (Options){.items = 40, .long_item = -1, .fail_item = -1, .max_bytes = 1 << 20, .drain_seconds = 5,
                   .corrupt_rank = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        i++;
        if (!strcmp(a, "--items")) o->items = atoi(v);
        else if (!strcmp(a, "--sleep-ms")) o->sleep_ms = atoi(v);
        else if (!strcmp(a, "--max-bytes")) o->max_bytes = atol(v);
        else if (!strcmp(a, "--retry-every")) o->retry_every = atoi(v);
        else if (!strcmp(a, "--stop-after")) o->stop_after = atoi(v);
        else if (!strcmp(a, "--drain-seconds")) o->drain_seconds = atof(v);
        else if (!strcmp(a, "--long-item")) o->long_item = atoi(v);
        else if (!strcmp(a, "--long-ms")) o->long_ms = atoi(v);
        else if (!strcmp(a, "--expect-abandoned")) o->expect_abandoned = atoi(v);
        else if (!strcmp(a, "--abort-after")) o->abort_after = atoi(v);
        else if (!strcmp(a, "--abort-dispatch")) o->abort_dispatch = atoi(v);
        else if (!strcmp(a, "--fail-item")) o->fail_item = atoi(v);
        else if (!strcmp(a, "--expect-error")) o->expect_error = v;
        else if (!strcmp(a, "--max-idle-cpu")) o->max_idle_cpu = atof(v);
        else if (!strcmp(a, "--max-farm-seconds")) o->max_farm_seconds = atof(v);
        else if (!strcmp(a, "--piece-bytes")) o->piece_bytes = atol(v);
        else if (!strcmp(a, "--corrupt-rank")) o->corrupt_rank = atoi(v);
        else return -1;
    }
    if (o->items < 0 || o->max_bytes < 0 || o->sleep_ms < 0 || o->long_ms < 0 || o->piece_bytes < 0) return -1;
    return 0;
}

/* --probe: can mpirun start ranks that talk to each other here? (No farm involved, so a
 * broken farm fails its tests instead of looking like a missing MPI.) */
static int probe_mpi(int rank, int nranks) {
    int one = 1, sum = 0;
    MPI_Allreduce(&one, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) printf("probe: %d of %d ranks answered\n", sum, nranks);
    MPI_Finalize();
    return sum == nranks ? 0 : 1;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (argc == 2 && !strcmp(argv[1], "--probe")) return probe_mpi(rank, nranks);
    Options o;
    if (parse(argc, argv, &o)) {
        if (rank == 0) usage();
        MPI_Finalize();
        return 2;
    }
    corrupt_crc = rank == o.corrupt_rank;
    WorkerCtx wc = {.o = &o};
    FarmWorker fw = {.run = worker_run, .user = &wc, .piece_bytes = (size_t)o.piece_bytes};
    MasterCtx mc;
    FarmStats stats = {0};
    Err err = {{0}};
    int misuse = check_misuse(rank, nranks, &fw);
    double cpu0 = util_cpu_seconds(), t0 = util_now();
    int rc;
    if (rank == 0) {
        master_ctx_init(&mc, &o);
        FarmMaster fm = {.next_work = master_next_work, .on_dispatch = master_on_dispatch,
                         .on_result = master_on_result, .should_stop = master_should_stop,
                         .user = &mc, .drain_seconds = o.drain_seconds, .piece_bytes = (size_t)o.piece_bytes};
        rc = farm_master(&fm, &fw, &stats, &err);
    } else {
        rc = farm_worker(&fw, &err);
        if (rc && o.fail_item < 0) fprintf(stderr, "rank %d: %s\n", rank, err.msg);
    }
    double mine[R_N] = {[R_CPU] = util_cpu_seconds() - cpu0, [R_WALL] = util_now() - t0, [R_ITEMS] = wc.items_run,
                        [R_RC] = rc};
    double farm_s = mine[R_WALL], returned_at = t0 + farm_s;
    MPI_Barrier(MPI_COMM_WORLD);
    mine[R_LEFTOVER] = count_leftovers();
    mine[R_MISUSE] = misuse;
    double *all = rank == 0 ? malloc(sizeof(double) * R_N * (size_t)nranks) : NULL;
    MPI_Gather(mine, R_N, MPI_DOUBLE, all, R_N, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int bad = 0;
    if (rank == 0) {
        bad = judge(&o, &mc, rc, &err, &stats, farm_s, returned_at, all, nranks);
        master_ctx_free(&mc);
        free(all);
    }
    MPI_Finalize();
    return bad ? 1 : 0;
}
