// sweep/sweep_main.c: the `sweep` program. Runs a spec under MPI, or reads a sweep's
// journal (status, export) without MPI: MPI_Init only for the run.
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sweep/sweep.h"

static const char *USAGE =
    "usage: sweep [--extend] SPEC.json      (under mpirun: mpirun -n N bin/sweep SPEC.json)\n"
    "       sweep status DIR\n"
    "       sweep export DIR\n"
    "\n"
    "Runs the grid of a spec: rank 0 farms its points to the other ranks, each point a child\n"
    "`tune` process under a time limit, and journals every dispatch and result in OUT/journal.\n"
    "Run it again on the same spec to resume (done points are skipped). SIGTERM or SIGUSR1\n"
    "stop dispatching, wait for the points in flight, and exit 0.\n"
    "\n"
    "The spec (JSON; unknown keys are errors; see sweep/sweep.h):\n"
    "  model            task LM checkpoint directory (required)\n"
    "  task             sst-2, mr, ... (required unless grid.task)\n"
    "  data | data_dir + split   the data, as in a tune point\n"
    "  out              output directory: journal and lock (created)\n"
    "  grid             {\"method\": [\"pez\", \"rlprompt\", \"manual\"], \"lambda\": [...],\n"
    "                    \"prompt_length\": [...], \"seed\": [...], \"task\": [...]}\n"
    "                   expanded task, method, prompt_length, lambda, seed (last fastest)\n"
    "  pez, rlprompt    settings for that method's points (see bin/tune --help)\n"
    "  point            other point keys shared by every point (max_test, template, ...)\n"
    "  timeout_seconds  per attempt [3600]; retries: extra attempts of a failed point [1]\n"
    "  drain_seconds    after a signal, how long to wait for points in flight [30]\n"
    "  tune             the tune program [tune next to this program]\n"
    "A point's id is the sha256 of its canonical JSON and the model's sha256.\n"
    "\n"
    "  --extend   the spec may add points to an existing journal (never change them)\n"
    "  --help     this text\n"
    "\n"
    "Exit status: 0 finished or stopped by a signal; 1 runtime error (journal damaged before its\n"
    "end, directory locked by another sweep, ...); 2 usage error, bad spec, or a spec that\n"
    "changes the journal's points.\n";

static const char *STATUS_USAGE =
    "usage: sweep status DIR\n"
    "Prints one line from DIR/journal: points, done, failed (latest attempt failed), pending,\n"
    "dispatches and the spec's sha256. Reads the journal only (no MPI, no lock).\n";

static const char *EXPORT_USAGE =
    "usage: sweep export DIR\n"
    "Prints every point's record from DIR/journal as JSON lines on stdout, in the journal's\n"
    "point order: {\"id\", \"attempts\", then the record's keys}; the ok record if there is one,\n"
    "else the latest failed one. Points without a result are left out.\n";

static int is_help(const char *a) { return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0; }

/* tune next to this program: the default for the spec's "tune". */
static void default_tune(char *out, size_t cap) {
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = '\0';
    if (n <= 0) return;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return;
    *slash = '\0';
    snprintf(out, cap, "%s/tune", self);
}

static int journal_command(int argc, char **argv, const char *usage, int (*fn)(const char *, SweepErr *)) {
    if (argc == 3 && is_help(argv[2])) { fputs(usage, stdout); return 0; }
    if (argc != 3 || argv[2][0] == '-') { fputs(usage, stderr); return 2; }
    SweepErr err = {{0}};
    if (fn(argv[2], &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "status") == 0) return journal_command(argc, argv, STATUS_USAGE, sweep_status);
    if (argc >= 2 && strcmp(argv[1], "export") == 0) return journal_command(argc, argv, EXPORT_USAGE, sweep_export);
    SweepRunOptions o = {0};
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) { fputs(USAGE, stdout); return 0; }
        if (strcmp(argv[i], "--extend") == 0) o.extend = 1;
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "sweep: unknown option %s\n%s", argv[i], USAGE); return 2; }
        else if (o.spec_path) { fprintf(stderr, "sweep: one spec only\n%s", USAGE); return 2; }
        else o.spec_path = argv[i];
    }
    if (!o.spec_path) { fputs(USAGE, stderr); return 2; }
    char tune[PATH_MAX + 8];
    default_tune(tune, sizeof tune);
    o.default_tune = tune;
    MPI_Init(&argc, &argv);
    int rc = sweep_run_mpi(&o);
    MPI_Finalize();
    return rc;
}
