// sweep/sweep_main.c: the `sweep` program. Runs a spec under MPI, or reads a sweep's
// journal (status, export) without MPI: MPI_Init only for the run.
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sweep/sweep.h"

static const char *USAGE =
    "usage: sweep [--extend] [--out DIR] [--shard I/N] [--progress bar|lines|none] SPEC.json\n"
    "             (under mpirun: mpirun -n N bin/sweep SPEC.json; without: the quick local mode)\n"
    "       sweep status [--json] DIR\n"
    "       sweep export DIR\n"
    "       sweep frontier DIR [--out OUTDIR]\n"
    "       sweep merge OUT SHARD_DIR...\n"
    "\n"
    "Runs the grid of a spec: rank 0 farms its points to the other ranks, each point a child\n"
    "`tune` process under a time limit, and journals every dispatch and result in OUT/journal.\n"
    "Run it again on the same spec to resume (done points are skipped). SIGTERM or SIGUSR1\n"
    "stop dispatching, wait for the points in flight, and exit 0.\n"
    "A finished sweep also writes OUT/points.csv, frontier.csv, frontier.svg, frontier.json and\n"
    "frontier.tex. The journal header also says the invocation (code version, host, command line,\n"
    "ranks).\n"
    "(see `sweep frontier --help`).\n"
    "\n"
    "The spec (JSON; unknown keys are errors; see sweep/sweep.h and README.md):\n"
    "  model            task LM checkpoint directory (required unless grid.model)\n"
    "  task             sst-2, mr, ... (required unless grid.task)\n"
    "  data | data_dir + split   the data, as in a tune point; \"{task}\" in data_dir\n"
    "                   becomes each point's task (\"../shared/data/fewshot/{task}\")\n"
    "  out              output directory: journal and lock (created)\n"
    "  grid             \"method\": [\"pez\", \"rlprompt\", \"soft\", \"manual\"] and any point key,\n"
    "                   dotted when nested (\"pez.lr\", \"rlprompt.top_k\", \"split\", \"template\",\n"
    "                   \"model\", ...), each a list, a range ({\"linspace\": [lo, hi], \"n\": k},\n"
    "                   \"logspace\", {\"log_uniform\": [lo, hi], \"n\": k, \"seed\": s}) or lists\n"
    "                   per method ({\"pez\": [0, 0.1], \"rlprompt\": [0, 10]}); expanded task,\n"
    "                   split, method, prompt_length, lambda, other keys by name, seed (last\n"
    "                   fastest); \"pez.lr\" only for pez points, prompt_length not for manual\n"
    "  pez, rlprompt, soft   settings for that method's points (see bin/tune --help)\n"
    "  point            other point keys shared by every point (max_test, template, ...)\n"
    "  baselines        manual prompts [\"text\", {\"prompt\": \"text\", \"template\": \"...\"}]\n"
    "                   evaluated on every task, split (and other applicable axis) [none]\n"
    "  empty_baseline   the empty prompt (template alone) as a baseline too [true]\n"
    "  replicates       keys whose values repeat a configuration: frontier statistics are\n"
    "                   over them [[\"seed\", \"split\"]]\n"
    "  timeout_seconds  per attempt [3600]; retries: extra attempts of a failed point [1]\n"
    "  drain_seconds    after a signal, how long to wait for points in flight [30]\n"
    "  tune             the tune program [tune next to this program]\n"
    "  adaptive         {\"points\": N}: after the grid, rounds of frontier-guided lambda\n"
    "                   refinement add up to N points (README \"Adaptive sweeps\") [off]\n"
    "  halving          {\"eta\": 3, \"rungs\": 3}: successive halving, asynchronous (ASHA):\n"
    "                   configurations start with steps / eta^(rungs-1); those on their\n"
    "                   dev frontier move up a rung (eta times the steps) [off]\n"
    "  name, description, tags   what the sweep is (strings; tags an array): the journal\n"
    "                   header and frontier.json keep them, the plot's title says the name;\n"
    "                   no point (nor id) changes with them [none]\n"
    "Without mpirun, `sweep SPEC.json` runs every point on one worker: the quick local mode\n"
    "(the same journal, resume and files; points one after another, in this process's child).\n"
    "A point's id is the sha256 of its canonical JSON with each file it reads (models, splits,\n"
    "dictionary) given by the sha256 of its contents, and the tune version: moving the files\n"
    "keeps the ids; changing one makes new points (a resume then refuses: exit 2).\n"
    "\n"
    "  --extend     the spec may add points to an existing journal (never change them)\n"
    "  --out DIR    the output directory instead of the spec's \"out\"\n"
    "  --shard I/N  run only the points whose index is I mod N (0 <= I < N), into\n"
    "               OUT/shard-I-of-N (or --out DIR); `sweep merge` joins the N shards\n"
    "  --progress bar|lines|none   progress on stderr: bar, one line redrawn in place; lines, a\n"
    "               line each time a point finishes (under mpirun and Slurm, where stderr is a pipe\n"
    "               or a file); none, only the first and last lines [bar in a terminal, else lines].\n"
    "               Every mode but none also prints a line per failed attempt, with its reason and log.\n"
    "               The words: done = an ok result, failed = failed for good (after `retries` extra\n"
    "               attempts), finished = done + failed, running = in a worker now, pending = the rest\n"
    "  --help       this text\n"
    "\n"
    "Logs: each failed attempt's tune stderr (its last 64 KiB) is kept in OUT/logs/<id>.<attempt>.log,\n"
    "written by rank 0, and the failed record names it (\"log\": \"logs/...\"). Ok attempts keep none.\n"
    "\n"
    "Exit status: 0 finished or stopped by a signal; 1 runtime error (journal damaged before its\n"
    "end, directory locked by another sweep, ...); 2 usage error, bad spec, or a spec that\n"
    "changes the journal's points (the message names the changed keys: \"pez.steps 40 → 50\").\n";

static const char *STATUS_USAGE =
    "usage: sweep status [--json] DIR\n"
    "Where the sweep in DIR stands, from DIR/journal and DIR/lock (no MPI; works while it runs,\n"
    "from any shell that sees DIR). First the line\n"
    "  points N done D failed F pending P dispatches A spec_sha256 S running R\n"
    "(done: an ok result; failed: failed for good; running: dispatched and unanswered while a\n"
    "sweep holds DIR/lock; pending: the rest, to run), then whether a sweep runs (its pid, since\n"
    "when, points/s and ETA over this run's finished points), each running point (rank, since\n"
    "when, attempt), each failed point (attempts, reason, log) and the best point of each method\n"
    "by dev accuracy (dev only: status never shows test accuracy).\n"
    "  --json   the same as one JSON object: dir, spec_sha256, live, pid, run_started, points,\n"
    "           done, failed, running, pending, dispatches, points_per_second, eta_seconds,\n"
    "           damaged, running_points [{index, id, attempt, rank, since}], failed_points\n"
    "           [{index, id, attempts, error, log}], best_by_dev_accuracy {METHOD: {index, id,\n"
    "           acc_dev, log_ppl, lambda, seed, prompt}}; unknown values are null, times unix\n"
    "           seconds, index the point's order in the journal (sweep/sweep.h)\n";

static const char *EXPORT_USAGE =
    "usage: sweep export DIR\n"
    "Prints every point's record from DIR/journal as JSON lines on stdout, in the journal's\n"
    "point order: {\"id\", \"attempts\", then the record's keys}; the ok record if there is one,\n"
    "else the latest failed one. Points without a result are left out.\n";

static const char *MERGE_USAGE =
    "usage: sweep merge OUT SHARD_DIR...\n"
    "Joins the journals of the N shards of one sweep (`sweep --shard I/N SPEC.json`, I = 0..N-1)\n"
    "into OUT/journal, exactly as one sweep of the whole grid would have written it: the same\n"
    "header, every point once in index order, every result. Refuses shards of different specs or\n"
    "models, a missing or repeated shard, and points without a final result (run that shard again\n"
    "first). Written beside and renamed into place; an OUT/journal holding exactly this merge is\n"
    "kept, any other is refused. Then writes OUT's frontier files, as a finished sweep does. Reads\n"
    "the journals only (no MPI). `sweep export OUT` then equals a single job's, and running the\n"
    "whole spec with --out OUT finds nothing left to do.\n";

static const char *FRONTIER_USAGE =
    "usage: sweep frontier DIR [--out OUTDIR]\n"
    "Derives the Pareto frontier of accuracy (maximise) against the prompt's log-PPL\n"
    "(minimise) from DIR/journal, chosen on dev accuracy and reported at test accuracy (test\n"
    "never chooses), and writes into OUTDIR (default DIR; created if missing):\n"
    "  points.csv     one row per point: its grid values, status, every metric, the prompt\n"
    "  frontier.csv   one row per (task, method, lambda, prompt length): n seeds, mean, sd and\n"
    "                 95% CI (Student t) of each metric, on/off the dev-chosen frontier per\n"
    "                 method and across methods, whether the CI reaches it, the best seed (by\n"
    "                 the dev objective), the test-chosen frontier as extra columns\n"
    "  frontier.svg   accuracy vs log-PPL per task: methods in colour, CI error bars (an arrow\n"
    "                 where cut at the edge), frontiers as step lines, lambda labels; under the\n"
    "                 title the model (sha256 prefix, shape; a random init in red) and the data\n"
    "                 (splits, sizes, test examples scored); marker shape = prompt length when\n"
    "                 it varies; n < 3 runs faded with (n=...), identical runs ringed\n"
    "  frontier.json  spec and model sha256, code versions, date, the spec's about (name,\n"
    "                 description, tags), the runs that made the journal, what the records ran\n"
    "                 on (reproduce: code versions, hosts, OpenBLAS, precisions, models, data\n"
    "                 sha256), the reference point (chance accuracy, ln V), hypervolumes (and\n"
    "                 per seed), the failed points\n"
    "  frontier.tex   a booktabs table per task: mean +- 95% CI of dev and test accuracy and\n"
    "                 log-PPL, the frontier across methods in bold, the best prompt (escaped)\n"
    "Each file is written whole or not at all (temp file, rename). Reads the journal only (no\n"
    "MPI, no lock), so it also works while the sweep runs; a finished sweep writes them itself.\n"
    "The columns: README.md, \"The Pareto frontier\".\n";

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

static int journal_command(int argc, char **argv, const char *usage, int (*fn)(const char *, Err *)) {
    if (argc == 3 && is_help(argv[2])) { fputs(usage, stdout); return 0; }
    if (argc != 3 || argv[2][0] == '-') { fputs(usage, stderr); return 2; }
    Err err = {{0}};
    if (fn(argv[2], &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 1; }
    return 0;
}

static int status_command(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) { fputs(STATUS_USAGE, stdout); return 0; }
        if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (argv[i][0] == '-' || dir) { fputs(STATUS_USAGE, stderr); return 2; }
        else dir = argv[i];
    }
    if (!dir) { fputs(STATUS_USAGE, stderr); return 2; }
    Err err = {{0}};
    if (sweep_status(dir, json, &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 1; }
    return 0;
}

static int parse_progress(const char *arg, SweepProgress *p) {
    if (strcmp(arg, "bar") == 0) *p = SWEEP_PROGRESS_BAR;
    else if (strcmp(arg, "lines") == 0) *p = SWEEP_PROGRESS_LINES;
    else if (strcmp(arg, "none") == 0) *p = SWEEP_PROGRESS_NONE;
    else return -1;
    return 0;
}

static int merge_command(int argc, char **argv) {
    for (int i = 2; i < argc; i++)
        if (is_help(argv[i])) { fputs(MERGE_USAGE, stdout); return 0; }
    if (argc < 4) { fputs(MERGE_USAGE, stderr); return 2; }
    for (int i = 2; i < argc; i++)
        if (argv[i][0] == '-') { fprintf(stderr, "sweep merge: unknown option %s\n%s", argv[i], MERGE_USAGE); return 2; }
    Err err = {{0}};
    if (sweep_merge(argv[2], (const char *const *)argv + 3, argc - 3, &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 1; }
    return 0;
}

static int frontier_command(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    for (int i = 2; i < argc; i++) {
        if (is_help(argv[i])) { fputs(FRONTIER_USAGE, stdout); return 0; }
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc && argv[i + 1][0]) out = argv[++i];
        else if (argv[i][0] == '-' || dir) { fputs(FRONTIER_USAGE, stderr); return 2; }
        else dir = argv[i];
    }
    if (!dir) { fputs(FRONTIER_USAGE, stderr); return 2; }
    Err err = {{0}};
    if (sweep_frontier(dir, out, &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 1; }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) return merge_command(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "status") == 0) return status_command(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "export") == 0) return journal_command(argc, argv, EXPORT_USAGE, sweep_export);
    if (argc >= 2 && strcmp(argv[1], "frontier") == 0) return frontier_command(argc, argv);
    SweepRunOptions o = {.argc = argc, .argv = argv};
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) { fputs(USAGE, stdout); return 0; }
        if (strcmp(argv[i], "--extend") == 0) o.extend = 1;
        else if ((strcmp(argv[i], "--out") == 0 || strcmp(argv[i], "--shard") == 0 ||
                  strcmp(argv[i], "--progress") == 0) && i + 1 >= argc) {
            fprintf(stderr, "sweep: %s needs a value\n%s", argv[i], USAGE);
            return 2;
        } else if (strcmp(argv[i], "--out") == 0) {
            o.out_dir = argv[++i];
        } else if (strcmp(argv[i], "--progress") == 0) {
            if (parse_progress(argv[++i], &o.progress)) {
                fprintf(stderr, "sweep: --progress is bar, lines or none, not \"%s\"\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--shard") == 0) {
            Err err = {{0}};
            if (sweep_shard_parse(argv[++i], &o.shard, &o.n_shards, &err)) { fprintf(stderr, "sweep: %s\n", err.msg); return 2; }
        }
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "sweep: unknown option %s\n%s", argv[i], USAGE); return 2; }
        else if (o.spec_path) { fprintf(stderr, "sweep: one spec only\n%s", USAGE); return 2; }
        else o.spec_path = argv[i];
    }
    if (!o.spec_path) { fputs(USAGE, stderr); return 2; }
    if (o.extend && o.n_shards) { fprintf(stderr, "sweep: --extend and --shard do not go together (a grown grid moves points between shards)\n"); return 2; }
    if (o.out_dir && !o.out_dir[0]) { fprintf(stderr, "sweep: --out is empty\n"); return 2; }
    char tune[PATH_MAX + 8];
    default_tune(tune, sizeof tune);
    o.default_tune = tune;
    MPI_Init(&argc, &argv);
    int rc = sweep_run_mpi(&o);
    MPI_Finalize();
    return rc;
}
