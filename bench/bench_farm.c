/*
 * bench/bench_farm.c: the MPI farm's own costs (mpi/farm.h), under mpirun.
 *
 *   mpirun -n 64 --oversubscribe bench_farm [--items 20000] [--idle-seconds 2]
 *
 * 1. Rank 0's time per item with trivial items (no bytes in, 8 bytes out): the wall time of
 *    farm_master over the item count, in us per item, and rank 0's CPU per item.
 * 2. The CPU of idle ranks: 2 items of --idle-seconds (sleeping) and every other worker
 *    idle; the CPU time of the idle ranks in all, over the wall time: the share of one core
 *    they take together. Side by side, the same ranks waiting in a blocking MPI_Recv for
 *    as long (what Open MPI's blocking calls cost: they poll), and the ratio of the two.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi/farm.h"

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

typedef struct {
    uint64_t next, count;
} Items;

static int items_next(void *user, uint64_t *id, const void **data, size_t *len, int *has_item, Err *err) {
    (void)err;
    Items *it = user;
    *has_item = it->next < it->count;
    *id = it->next++;
    *data = NULL;
    *len = 0;
    return 0;
}

static int items_result(void *user, uint64_t id, int worker, const void *raw, size_t raw_len, const void *zdata,
                        size_t zlen, uint32_t crc32, Err *err) {
    (void)user, (void)worker, (void)zdata, (void)zlen, (void)crc32;
    if (raw_len != sizeof id || memcmp(raw, &id, sizeof id)) {
        snprintf(err->msg, sizeof err->msg, "bench_farm: wrong result for item %llu", (unsigned long long)id);
        return -1;
    }
    return 0;
}

typedef struct {
    double item_seconds;   // how long each item sleeps
    int items_run;
} WorkerCtx;

static int run_item(void *user, uint64_t id, const void *data, size_t len, void **out, size_t *out_len, Err *err) {
    (void)data, (void)len, (void)err;
    WorkerCtx *w = user;
    w->items_run++;
    if (w->item_seconds > 0) sleep_seconds(w->item_seconds);
    *out = malloc(sizeof id);
    memcpy(*out, &id, sizeof id);
    *out_len = sizeof id;
    return 0;
}

/* Runs one farm of `count` items of item_seconds each; returns this rank's CPU and wall
 * time in the farm, and (rank 0) the farm's wall time. */
static void run_farm(uint64_t count, double item_seconds, double *cpu, double *wall, int *items_run) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    WorkerCtx wc = {.item_seconds = item_seconds};
    FarmWorker fw = {.run = run_item, .user = &wc};
    Items it = {.count = count};
    Err err;
    double c0 = util_cpu_seconds(), t0 = util_now();
    int rc;
    if (rank == 0) {
        FarmMaster fm = {.next_work = items_next, .on_result = items_result, .user = &it};
        FarmStats st;
        rc = farm_master(&fm, &fw, &st, &err);
    } else {
        rc = farm_worker(&fw, &err);
    }
    *cpu = util_cpu_seconds() - c0;
    *wall = util_now() - t0;
    *items_run = wc.items_run;
    if (rc) {
        fprintf(stderr, "bench_farm: rank %d: %s\n", rank, err.msg);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

/* Each worker waits in a blocking MPI_Recv while rank 0 sleeps `seconds`, then gets a message. */
static void blocking_wait(double seconds, double *cpu, double *wall) {
    int rank, nranks, token = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    double c0 = util_cpu_seconds(), t0 = util_now();
    if (rank == 0) {
        sleep_seconds(seconds);
        for (int r = 1; r < nranks; r++) MPI_Send(&token, 1, MPI_INT, r, 99, MPI_COMM_WORLD);
    } else {
        MPI_Recv(&token, 1, MPI_INT, 0, 99, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
    *cpu = util_cpu_seconds() - c0;
    *wall = util_now() - t0;
}

/* Sums over the workers that ran no item: their CPU, and their mean wall time. */
static void idle_totals(double cpu, double wall, int items_run, int *n_idle, double *idle_cpu, double *idle_wall) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    double mine[3] = {0, 0, 0}, sum[3];
    if (rank > 0 && items_run == 0) mine[0] = 1, mine[1] = cpu, mine[2] = wall;
    MPI_Reduce(mine, sum, 3, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    *n_idle = (int)sum[0];
    *idle_cpu = sum[1];
    *idle_wall = sum[0] > 0 ? sum[2] / sum[0] : 0;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, nranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    uint64_t items = 20000;
    double idle_seconds = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--items")) items = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--idle-seconds")) idle_seconds = atof(argv[i + 1]);
    }

    // 1. trivial items: rank 0's time per item
    double cpu, wall;
    int ran;
    MPI_Barrier(MPI_COMM_WORLD);
    run_farm(items, 0, &cpu, &wall, &ran);
    if (rank == 0)
        printf("%d ranks, %llu trivial items: rank 0 %.1f us per item (wall), %.1f us CPU per item, %.0f items/s\n",
               nranks, (unsigned long long)items, 1e6 * wall / items, 1e6 * cpu / items, items / wall);

    if (nranks > 3) {
        // 2. idle ranks in the farm, then in a blocking receive, side by side
        int n_idle;
        double idle_cpu, idle_wall, block_cpu, block_wall;
        MPI_Barrier(MPI_COMM_WORLD);
        run_farm(2, idle_seconds, &cpu, &wall, &ran);
        idle_totals(cpu, wall, ran, &n_idle, &idle_cpu, &idle_wall);
        MPI_Barrier(MPI_COMM_WORLD);
        blocking_wait(idle_seconds, &cpu, &wall);
        int n_block;
        idle_totals(cpu, wall, 0, &n_block, &block_cpu, &block_wall);
        if (rank == 0) {
            double farm_share = idle_cpu / idle_wall, block_share = block_cpu / block_wall;
            printf("%d idle ranks, farm (poll + sleep):  %.3f s CPU in %.2f s: %.3f of one core in all, %.4f per rank\n",
                   n_idle, idle_cpu, idle_wall, farm_share, farm_share / n_idle);
            printf("%d idle ranks, blocking MPI_Recv:    %.3f s CPU in %.2f s: %.3f of one core in all, %.4f per rank\n",
                   n_block, block_cpu, block_wall, block_share, block_share / n_block);
            printf("blocking / farm idle CPU: %.0fx\n", farm_share > 0 ? block_share / farm_share : 0);
        }
    }
    MPI_Finalize();
    return 0;
}
