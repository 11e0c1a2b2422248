/*
 * sweep/sweep.h: the contract of sweep/, the `sweep` program
 * (`mpirun -n 64 bin/sweep spec.json`): a grid of tune points run through the
 * MPI farm (mpi/), journaled by rank 0 (results/), each point a child `tune`
 * process. Uses tuners/ only to validate points (point_parse) and model/ for
 * the model's sha256; mpi/ and results/ know nothing of points.
 *
 * The spec: one JSON object, every key checked (unknown keys are errors):
 *   model            task LM checkpoint directory (required unless grid.model)
 *   task             task name (required unless grid.task)
 *   data | data_dir + split   as in a tune point (required); "{task}" in
 *                    data_dir (or data's paths) becomes the point's task, so
 *                    one spec sweeps several tasks' few-shot directories
 *   out              output directory: journal, lock (required; created)
 *   grid             {"method": [...] (required), any other point key: ...}.
 *                    A key is any key a point accepts, dotted for a nested one
 *                    ("pez.lr", "rlprompt.top_k"); its value is
 *                      a non-empty list of values,
 *                      a range: {"linspace": [lo, hi], "n": k} (evenly spaced,
 *                        ends included), {"logspace": [lo, hi], "n": k} (evenly
 *                        in log), {"log_uniform": [lo, hi], "n": k, "seed": s}
 *                        (k draws with the project's Rng, sorted); values to 6
 *                        significant digits, "round": true for whole numbers;
 *                        the same spec gives the same values everywhere,
 *                      or per method: {"pez": LIST|RANGE, "rlprompt": ...},
 *                        one entry for each method of grid.method (for axes
 *                        after method: not task, split, method).
 *                    An axis inside a method's settings ("pez.lr") applies to
 *                    that method's points only; prompt_length not to manual.
 *   pez, rlprompt, soft   per-method settings, given to that method's points
 *                    only (a grid value wins over the same key here)
 *   point            any other point keys shared by every point (max_test,
 *                    template, dictionary, objective, scorer_model, prompt
 *                    for "manual", ...); must not repeat a grid key or a key above
 *   baselines        manual prompts: ["text", {"prompt": "text", "template":
 *                    "..."}, ...], each evaluated as a "manual" point on every
 *                    combination of the axes that apply to it (task, split,
 *                    model, template unless its own, ...; not lambda, seed,
 *                    prompt_length, another method's settings) [none]
 *   empty_baseline   the empty prompt (the template alone) as a baseline [true]
 *   replicates       the point keys whose values repeat a configuration rather
 *                    than make a new one: the report's statistics are over them
 *                    ["seed", "split"]; written in the journal header
 *   timeout_seconds  per point attempt [3600]
 *   retries          extra attempts for a failed point [1]
 *   drain_seconds    after SIGTERM/SIGUSR1, how long rank 0 waits for points
 *                    in flight [30]
 *   tune             the tune program [bin/tune next to the sweep binary]
 *   adaptive         {"points": N}: after the grid, rounds of frontier-guided λ refinement
 *                    add up to N points ("adaptive sweeps" below) [off]
 *   halving          {"eta": 3, "rungs": 3}: successive halving across configurations
 *                    ("successive halving" below) [off]; not with adaptive
 *   name, description   what the sweep is, for a reader: strings (name up to 200 bytes,
 *                    description 4000); the plot's title and frontier.json say them [none]
 *   tags             an array of distinct strings (up to 32 of 64 bytes) [none]
 *                    name, description and tags change no point (nor its id); they are
 *                    written in the journal header when it is created
 * Paths are used as written, relative to the working directory of mpirun.
 *
 * Expansion order (the point index): the axes task, split, method,
 * prompt_length, lambda, then every other axis in the order of its key, then
 * seed, outermost first, each in the order of its values; the order of the
 * spec's keys does not matter. Then the baselines: the empty prompt first,
 * then in the order given, each over the axes that apply to it. A baseline
 * that repeats a point already there is left out; any other repeated point is
 * an error. Every point is validated with point_parse before any work starts;
 * the first error is reported with the point's grid values.
 * Point id (tuners.h point_identity): the sha256 of the point's canonical JSON
 * with every file it reads (the models' weights, the train/dev/test splits, the
 * dictionary) given by the sha256 of its contents instead of its path, and the
 * tune version. The same point has the same id in any spec, any order and any
 * directory its files are moved to, so a grid can grow; a file whose contents
 * changed gives new ids, so a resume never mixes results of old and new data.
 * Each distinct file is hashed once per run. Journals of version 1 (before
 * content ids: sha256 of the canonical JSON, paths included, + the model's
 * sha256) resume with those ids, with a warning.
 *
 * Cost order: points are dispatched costly first: rlprompt, then pez, then
 * manual; within a method, more steps x longer prompts first; ties by index.
 *
 * The journal (rank 0 only, results/results.h): HEADER {"spec_sha256" (of
 * the spec file's bytes), "version" (SWEEP_JOURNAL_VERSION), "created", "model_sha256"
 * (the first point's model), "replicates", "about" (the spec's name, description, tags; only
 * when it has one), "runs" (issue 15: [the invocation that created the journal:
 * {"code_version", "host" of rank 0, "command", "ranks"}]; a merge's holds its shards' runs,
 * in shard order)}; one POINT
 * frame per point, in index order, its "index" its order in the journal;
 * a DISPATCH frame per attempt ({"id", "attempt", "worker", "time",
 * "retries": the run's retries, so that status can tell failed for good from retriable; older
 * journals lack it); a RESULT frame per finished attempt (status 1
 * for failed), fsync'd. A point is done when it has an ok result, failed for
 * good when it has more than `retries` failed results, pending otherwise.
 * Resume: a torn tail is cut (said on stderr); damage followed by intact
 * frames is refused (exit 1, nothing written). The spec's points must be the
 * journal's points (as a set); with --extend the journal's points must be a
 * subset and the new ones are appended. A refusal says what changed: the first journal
 * point the spec lacks, paired with the most alike spec point that is new to the journal,
 * and their differing keys as "pez.steps 40 → 50" (sweep_json_diff), with the count of the
 * other changed points; when no key differs, a file's contents or the tune version did. The spec's replicates must be the
 * journal's (a journal without them had the default). Done and failed-for-good points are
 * skipped; dispatched-but-unfinished and retriable ones run again.
 *
 * Hash once: tune records its model's sha256, which rank 0 has already computed for the
 * point ids. Each point's work item carries its model's known-digest line (model/gpt2.h:
 * sha256, inode, size, mtime, ctime and path of model.safetensors while rank 0 hashed it),
 * which the worker gives its tune as TUNE_KNOWN_SHA256 (tuners.h): tune uses the digest only
 * while its own open of that path shows the same inode, size, mtime and ctime, and hashes the
 * file otherwise (another file there, a rewrite, or a file modified less than 2 s before rank
 * 0 hashed it). Not a cache file beside the model: models sit on read-only shared
 * filesystems, and 64 ranks starting at once would all miss it and race to write it; the
 * handoff costs nothing, and the digest lives one run.
 *
 * Workers run each point as `tune -` in its own process group, the
 * point on stdin, the record read from stdout, under timeout_seconds (then
 * SIGTERM, 2 s later SIGKILL to the group). A crash, a non-zero exit without
 * a record, output that is not one JSON record, a non-finite (null/NaN)
 * metric, or a timeout become a failed record made by the worker (keys:
 * util/record.h):
 *   {"point": <canonical point>, "status": "failed", "error": "<reason>", "log": "<its log>"}
 *
 * Logs: every failed attempt (the worker's failed records and tune's own) has a log,
 * OUT/logs/<id>.<attempt>.log (SWEEP_LOGS_DIR; attempt as in its DISPATCH frame), and its
 * journaled record names it relative to OUT ("log": "logs/<id>.<attempt>.log", REC_LOG). The
 * log is rank 0's first line (point, attempt, rank, the error), then the end of tune's stderr:
 * its last SWEEP_LOG_MAX_BYTES (64 KiB: the end says why it failed; a line says how much was
 * cut before it). tune runs without --quiet, so that is its progress and timing lines. One file
 * per attempt, not one per point: a retry must not hide why the first attempt failed, and the
 * attempt numbers continue across resumes, so no run overwrites another's log. Ok attempts
 * keep no log: their record holds the history, and thousands of files nobody reads would cost
 * rank 0 a write each. The worker captures the log and sends it back with the record (the
 * farm's result: the record, then a NUL and the log for a failed one); only rank 0 writes into
 * OUT (a worker node may not see it), the log first, whole (temp file, rename), then the
 * record. A log that cannot be written is said on stderr and the record names none.
 *
 * Watching a run: progress on rank 0's stderr (SweepProgress: a bar in a terminal, else a
 * line per finished point, which is what mpirun and Slurm logs show, since under mpirun rank
 * 0's stderr is a pipe), a line per failed attempt with its reason and log, and `sweep status
 * DIR [--json]` from another shell (state.c). The words are the same everywhere: a point is
 * "done" with an ok result, "failed" when failed for good (more than retries failed results),
 * "running" while dispatched and unanswered in a live run, "pending" otherwise; "finished" is
 * done + failed.
 *
 * Signals: SIGTERM and SIGUSR1 on rank 0 stop dispatching, wait up to
 * drain_seconds for points in flight (journaling their results), and exit 0;
 * on a worker they kill the tune child and answer "interrupted" (not an
 * attempt; rank 0 then stops too). A worker still busy when the drain ends
 * finishes its point (bounded by timeout_seconds) before mpirun returns.
 * (Open MPI's mpirun forwards SIGUSR1 and exits 0; given SIGTERM it forwards
 * it too, the ranks stop cleanly, but mpirun itself exits 1.)
 *
 * Exit status: 0 finished or stopped by a signal; 1 runtime error (journal
 * damaged before its end, directory locked, a farm error); 2 usage error,
 * bad spec, or a spec whose points differ from the journal's.
 *
 * Library functions return -1 with a one-line message in Err; only
 * sweep_main.c exits.
 */
#ifndef SWEEP_H
#define SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "results/results.h"   // ResultsRefinement
#include "util/util.h"   // Err, err_fail

#define SWEEP_PATH 1024



/* Point id -> int, O(1): the grids and journals of a big sweep hold thousands of points
 * (state.c). Zero-initialised is empty. */
typedef struct {
    struct SweepIdSlot *slots;
    size_t cap, n;
} SweepIdIndex;
int sweep_id_put(SweepIdIndex *x, const char *id, int value);   // -1: out of memory (replaces a value)
int sweep_id_get(const SweepIdIndex *x, const char *id);         // the value, or -1
void sweep_id_free(SweepIdIndex *x);

// ----------------------------------------------------------------------------
// the spec and its points (spec.c)

typedef enum { SWEEP_COST_MANUAL = 0, SWEEP_COST_PEZ = 1, SWEEP_COST_RLPROMPT = 2 } SweepCostClass;

/* A file the points read, hashed once per spec however many points read it (the grid's, and
 * points an adaptive sweep adds later), and its known line (model/gpt2.h) for the tune of each
 * point that reads it as its model, or NULL (spec.c). */
typedef struct SweepInput {
    char *path;
    char sha256[65];
    char *known;
} SweepInput;

typedef struct {
    char id[65];
    int index;              // in the expansion order
    char *point_json;       // canonical JSON of the point (owned): what tune reads
    int cost_class;         // SweepCostClass
    double cost;            // steps x prompt length, within a class
    const char *model_known; // its model's known-digest line (in SweepSpec.inputs), or NULL: tune hashes the model
    // successive halving (issue 16): a tuned point's rung (0 .. rungs - 1; -1: not halved), the
    // budget of the grid's point it stands for (its method's steps at the top rung) and the key
    char steps_key[24];     // that names the steps ("pez.steps", "soft.steps", "rlprompt.steps")
    int rung, full_steps;
} SweepPoint;

typedef struct {
    char out_dir[SWEEP_PATH];
    char tune_path[SWEEP_PATH];
    double timeout_seconds;
    double drain_seconds;
    int retries;
    char spec_sha256[65];
    char model_sha256[65];  // the first point's model (the journal header's "model_sha256")
    char replicates[512];   // "replicates" as compact JSON (the journal header's; report.c)
    int n_points, cap_points;
    SweepPoint *points;     // (n_points), index order; room for cap_points
    int adaptive_points;    // "adaptive": {"points": N}: the most points λ refinement may add (0: off)
    int halving_eta, halving_rungs;   // "halving": {"eta", "rungs"} (0, 0: off)
    int shard, n_shards;    // a shard's run (shard.c): shard of n_shards; n_shards 0: the whole grid
    int grid_points;        // with n_shards: the whole grid's points (before sweep_shard_select)
    SweepInput *inputs;          // (n_inputs) the distinct files the points read, each hashed once:
    int n_inputs, cap_inputs;    // path, sha256, known-digest line ("Hash once"; spec.c; owned)
    char *about;            // the spec's name, description, tags as compact JSON (owned; NULL: none given)
} SweepSpec;

/* Parses and validates a spec and every point of its grid. default_tune is
 * the tune program when the spec names none. */
int sweep_spec_parse(SweepSpec *s, const char *json_text, size_t len, const char *default_tune,
                     Err *err);
int sweep_spec_load(SweepSpec *s, const char *path, const char *default_tune, Err *err);
void sweep_spec_free(SweepSpec *s);

/* Appends a point that is not the grid's (an adaptive sweep's, issue 16): the canonical point
 * point_json with its key (dotted: "lambda", "pez.steps"; NULL: none) set to value, validated
 * and named as the grid's points are, its files' sha256 those the spec has already taken (the
 * grid's: nothing is hashed again). Its index is the next (s->n_points - 1 after the call); the
 * caller checks that its id is new. */
int sweep_spec_add_point(SweepSpec *s, const char *point_json, const char *key, double value, Err *err);

/* Successive halving: the steps of rung `rung` for a point whose grid budget is full_steps:
 * full_steps / eta^(rungs - 1 - rung), rounded down, at least 1. */
int sweep_halving_budget(const SweepSpec *s, int full_steps, int rung);
/* What the journal header says of the sweep beyond its points (meta.c, issue 15). */
typedef struct cJSON cJSON;
/* The spec's "name", "description" and "tags" into s->about ({"name", "description", "tags"}
 * of those given, in that order; NULL when none is). */
int sweep_about_parse(SweepSpec *s, const cJSON *root, Err *err);
/* One invocation as JSON: {"code_version", "host", "command": [argv...], "ranks"} (malloc'd;
 * NULL out of memory). */
char *sweep_run_json(int ranks, int argc, char *const *argv);
/* The header's keys beyond the points': ",\"about\":{...}" when the spec has one, then
 * ",\"runs\":RUNS" when runs_json is not NULL (malloc'd; NULL out of memory). */
char *sweep_header_meta(const SweepSpec *s, const char *runs_json);

/* The replicates of a spec that names none, and of a journal from before "replicates". */
#define SWEEP_DEFAULT_REPLICATES "[\"seed\",\"split\"]"

/* The journal format this sweep writes: 2 = point ids by contents (1: by paths). */
#define SWEEP_JOURNAL_VERSION 2
/* Gives every point its version-1 id (sha256 of its canonical JSON + the model's sha256), for
 * resuming a journal written before content ids. */
int sweep_spec_use_v1_ids(SweepSpec *s, Err *err);

/* Indexes of the points in dispatch order (costly first), malloc'd (n). */
int *sweep_cost_order(const SweepSpec *s, const int *which, int n);

// ----------------------------------------------------------------------------
// the journal as a sweep reads it (state.c)

typedef struct {
    char id[65];
    char *point_json;       // the POINT frame's "point" as canonical text (owned)
    int n_ok, n_failed, n_dispatched;
    char *record;           // latest result record (owned): the ok one if any
    int round, round_size;  // added by λ refinement: its round (1, 2, ...) and how many points the
                            // round added; 0, 0 for the grid's points
    int rung, rungs, full_steps;   // successive halving: its rung of rungs, its grid budget; rung -1: not halved
    // its latest DISPATCH frame (status): attempt, worker rank, time (unix s), the run's
    // retries (-1: a journal from before "retries" in DISPATCH frames)
    int last_attempt, last_worker, last_retries;
    long long last_dispatch_time;
    int awaiting;           // 1: no result since its latest dispatch (in flight, or cut off)
} SweepJournalPoint;

typedef struct {
    int have_header;
    char spec_sha256[65];
    char model_sha256[65];       // "" when the header has none
    int version;                 // the header's journal format version
    char replicates[512];        // the header's "replicates" as compact JSON; "" when it has none
    long long created;           // the header's creation time (unix seconds; 0 unknown)
    char *about, *runs;          // the header's "about" and "runs" as compact JSON (owned; NULL: none)
    int n, cap;
    SweepJournalPoint *points;   // journal order
    SweepIdIndex by_id;          // id -> index in points
    int64_t bad_offset;          // -1: intact; else where the damage starts
    int damage_is_tail;          // 1: only a torn/corrupt tail (cut it to repair)
    char damage[1024];           // the description
} SweepJournal;

/* Replays DIR/journal (a missing one is empty). Damage is reported in the
 * struct, not as an error. */
int sweep_journal_read(SweepJournal *jr, const char *dir, Err *err);
void sweep_journal_free(SweepJournal *jr);
int sweep_journal_find(const SweepJournal *jr, const char *id);   // index or -1

/* `sweep status DIR [--json]`, printing to stdout (a live run's journal is read as it stands,
 * no lock taken). Live: DIR/lock is held (journal_lock_holder); the run's start is when its
 * holder took it. Counts as in "Watching a run" above; a point still awaiting the result of a
 * dispatch from a run that is gone is pending (it runs again on resume). Failed for good by
 * the retries of the point's latest DISPATCH frame; a journal from before "retries" there:
 * its latest attempt failed. The rate is the points finished by dispatches of the live run
 * over the time since it started, the ETA (running + pending) / rate.
 * Text: the line "points N done D failed F pending P dispatches A spec_sha256 S running R"
 * (fields in this order, those before running as before issue 15: scripts cut them), then the run, each running point, each failed
 * point with its reason and log, and the best point of each method by dev accuracy.
 * --json: one object, whose keys are a contract (tests/t_sweep_ops.sh checks them):
 *   dir, spec_sha256, live (bool), pid (int|null), run_started (unix s|null), points, done,
 *   failed, running, pending, dispatches, points_per_second (null: not live or none finished
 *   yet), eta_seconds (null likewise), damaged (string|null: the journal is read up to it),
 *   running_points [{index, id, attempt, rank, since (unix s)}],
 *   failed_points [{index, id, attempts, error, log (string|null)}],
 *   refined_per_round [points λ refinement added in round 1, 2, ...] ([] none; issue 16),
 *   halving_per_rung [halved points at rung 0, 1, ...] ([] no halving; issue 16),
 *   best_by_dev_accuracy {METHOD: {index, id, acc_dev, log_ppl, lambda, seed, prompt}}: the
 *     ok point with the highest dev accuracy (then the lower log-PPL, then journal order);
 *     chosen on dev and showing dev only, never test (selection is never on test data).
 * index is the point's order in the journal. */
int sweep_status(const char *dir, int json, Err *err);
int sweep_export(const char *dir, Err *err);

/* "sst-2 pez, lambda 0.5, seed 1": a point (canonical JSON) at a glance, for messages. */
void sweep_point_describe(const char *point_json, char *out, size_t cap);
/* "3 h 05 m", "4 m 20 s", "42 s". */
void sweep_duration(double seconds, char *out, size_t cap);

/* Where two points' canonical JSON differ, as "pez.steps 40 → 50, seed 1 → 2" (dotted paths in
 * key order, values as compact JSON cut to 40 characters, "(none)" for a missing key; arrays are
 * compared whole), at most max_keys of them (then ", …"). Returns the number of differing
 * keys (0: the same settings), or -1 when a text does not parse. */
int sweep_json_diff(const char *old_json, const char *new_json, int max_keys, char *out, size_t cap);

// ----------------------------------------------------------------------------
// adaptive sweeps (issue 16): frontier-guided λ refinement (run.c, report.c)
//
// With "adaptive": {"points": N}, rank 0 adds points once every point so far has finished
// (ok, or failed for good): a round. Each round asks results_refine (results/results.h: the
// rule) for one new λ per configuration family, from the journal's records of the points
// before the round, and adds each proposal's points (every run of the family at the gap's
// lower-log-PPL λ, with the new λ: its seeds and splits) while the points added so far stay
// within N; a proposal that would pass N is skipped, a smaller later one may still fit. The
// round's POINT frames are journaled (the last fsync'd) before any is dispatched, each with
// "refined": {"round": R, "of": the round's point count, "lambda": λ, "between": [λa, λb],
// "gap": area}. A round that adds nothing ends the sweep. Deterministic: the same records
// give the same rounds for any rank count (a round waits for every point before it). Resume:
// the journal's refined points join the spec's (their ids checked), and a round cut short by
// a kill (fewer than "of" frames) is decided again from the same records (the same points)
// and completed; a resumed run decides no round twice.

#define SWEEP_REFINED_KEY "refined"

/* The proposals of round `round` from DIR/journal's points of the rounds before it (the grid
 * is round 0): results_refine over their records, at most max_new proposals (the caller
 * applies the point budget). clone indexes are journal point indexes. */
int sweep_refine_proposals(const SweepJournal *jr, const char *dir, int round, int max_new,
                           ResultsRefinement **props, int *n_props, Err *err);

// ----------------------------------------------------------------------------
// successive halving (issue 16; halving.c has the rule, run.c applies it)
//
// With "halving": {"eta": η, "rungs": R}, every tuned grid point starts as its rung-0 point,
// its method's steps cut to sweep_halving_budget; a configuration whose rung-r points have all
// finished is promoted to rung r + 1 (its points again with η times the steps) when it is on
// its group's dev frontier among the configurations complete at rung r, once at least η of
// them are (or when nothing else runs). The top rung's points are the grid's. Each halved point's
// POINT frame holds "halving": {"rung": r, "of": R, "steps": its grid budget}; promotions are
// journaled before they are dispatched and go to the front of the queue. A resumed run takes
// the rungs from the journal and promotes what is due.

typedef struct SweepHalving SweepHalving;
/* The state for the spec's halved points (rung >= 0) so far. */
int sweep_halving_new(SweepHalving **h, const SweepSpec *s, Err *err);
/* Spec point idx (added after sweep_halving_new, or any point: unhalved ones are ignored). */
int sweep_halving_add(SweepHalving *h, const SweepSpec *s, int idx, Err *err);
/* Point idx finished for good: ok with its record (len bytes), or failed (record may be NULL). */
void sweep_halving_finished(SweepHalving *h, int idx, const char *record, size_t len);
/* The promotions due now (stalled: nothing runs or waits, so smaller groups count too): the
 * indexes of the rung-r points of each configuration promoted to r + 1 (malloc'd). Each is
 * promoted once; the caller adds the points (sweep_halving_add). */
int sweep_halving_promotions(SweepHalving *h, const SweepSpec *s, int stalled, int **promote, int *n_promote,
                             Err *err);
void sweep_halving_free(SweepHalving *h);

#define SWEEP_HALVING_KEY "halving"

// ----------------------------------------------------------------------------
// the Pareto frontier report (report.c; the computation is results/report.c)

/* `sweep frontier DIR [--out OUT]`, and the end of a finished run: reads
 * DIR/journal (no MPI, no lock, so also while a sweep runs: frames after a torn
 * tail are left out, with a warning) and writes points.csv, frontier.csv,
 * frontier.svg, frontier.json and frontier.tex into out_dir (created if missing; NULL: DIR),
 * each whole or not at all. Prints one line on stderr. */
int sweep_frontier(const char *dir, const char *out_dir, Err *err);

// ----------------------------------------------------------------------------
// one point in a child tune process (child.c)

/* The work item sent to a worker: "TIMEOUT\nTUNE_PATH\nMODEL_KNOWN\nPOINT_JSON"; model_known
 * (the point's model_known, one line) may be NULL: none. */
int sweep_item_encode(double timeout_seconds, const char *tune_path, const char *model_known,
                      const char *point_json, char **item, size_t *len, Err *err);

/* Runs one item, its tune with TUNE_KNOWN_SHA256 set to the item's model line (unset when it
 * has none, whatever the worker's environment holds): fills *record (malloc'd JSON text):
 * tune's record, or a failed record with the reason; for a failed record *log (malloc'd,
 * NUL-terminated, *log_len bytes; "Logs" above), NULL for an ok one; *interrupted = 1 (and no
 * record) when *stop became non-zero meanwhile. -1 only for a malformed item or no memory. */
int sweep_run_item(const void *item, size_t len, volatile sig_atomic_t *stop, char **record,
                   char **log, size_t *log_len, int *interrupted, Err *err);

/* The end of tune's stderr a failed attempt's log keeps. */
#define SWEEP_LOG_MAX_BYTES ((size_t)64 << 10)
/* The logs' folder in OUT. */
#define SWEEP_LOGS_DIR "logs"

// ----------------------------------------------------------------------------
// a failed attempt's log (logs.c; "Logs" above)

/* Whether a record (len bytes of JSON) is not an ok one. */
int sweep_record_failed(const char *record, size_t len);
/* The worker's result bytes (malloc'd): the record, then for a log a NUL and the log. */
int sweep_result_encode(const char *record, const char *log, size_t log_len, char **out, size_t *out_len,
                        Err *err);
/* Rank 0's side: the record's length, and the log (NULL: none) in the same bytes. */
void sweep_result_split(const void *raw, size_t raw_len, size_t *record_len, const char **log, size_t *log_len);
/* "logs/<id>.<attempt>.log": the log's path relative to OUT, as the record names it. */
void sweep_log_name(const char *id, int attempt, char *name, size_t cap);
/* The record with "log": log_name (malloc'd text; NULL: no memory). */
char *sweep_record_with_log(const char *record, size_t len, const char *log_name);

/* The record marking an interrupted attempt (not journaled). */
#define SWEEP_INTERRUPTED_RECORD "{\"interrupted\":true}"

// ----------------------------------------------------------------------------
// the MPI run (run.c)

/* How rank 0 shows progress on stderr (--progress). */
typedef enum {
    SWEEP_PROGRESS_AUTO = 0,   // a bar when stderr is a terminal, else lines
    SWEEP_PROGRESS_BAR,        // one line redrawn in place (\r), a bar and the counts
    SWEEP_PROGRESS_LINES,      // a line each time a point finishes (done or failed)
    SWEEP_PROGRESS_NONE,       // only the first and last lines and errors
} SweepProgress;

typedef struct {
    const char *spec_path;
    int argc;               // the command line, for the journal header's "runs"
    char *const *argv;
    int ranks;              // MPI ranks (sweep_run_mpi sets it)
    int extend;
    SweepProgress progress;
    const char *default_tune;
    const char *out_dir;    // --out: instead of the spec's "out" (NULL: the spec's)
    int shard, n_shards;    // --shard I/N (n_shards 0: the whole grid); see shard.c
} SweepRunOptions;

/* The journal header a new sweep writes (meta.c): spec and model sha256, version, created,
 * replicates, a shard's keys, about, runs (this invocation). malloc'd; NULL out of memory. */
char *sweep_header_json(const SweepSpec *s, const SweepRunOptions *o, long long created);

/* Every rank calls this after MPI_Init. Returns the exit status: 0 done or
 * stopped by a signal, 1 runtime error, 2 bad spec (on every rank). */
int sweep_run_mpi(const SweepRunOptions *o);

// ----------------------------------------------------------------------------
// shards and their merge (shard.c): many small jobs (a Slurm job array) instead of one
//
// `sweep --shard I/N SPEC.json` runs the points whose index (expansion order) is I mod N,
// into OUT/shard-I-of-N (or --out DIR): a sweep like any other (resume, signals, lock),
// whose journal header also holds {"shard": I, "shards": N, "grid_points": the whole
// grid's count, "retries"} and whose POINT frames also hold "grid_index".
// `sweep merge OUT SHARD_DIR...` checks that the shards are the N shards of one spec and
// model (same spec and model sha256, each I once, every grid point once, every point
// finished: an ok result or more than `retries` failed ones), then writes OUT/journal as
// the whole grid's sweep would have: the same header keys ("created": the earliest
// shard's), one POINT frame per grid point in index order, then each shard's DISPATCH
// and RESULT frames unchanged (shard order, then journal order). It is written beside
// and renamed into place, under OUT's lock; an OUT/journal that already holds exactly
// this merge is kept (a merge job run twice is a no-op), any other is refused. So
// `sweep export OUT` equals that of a single job on the spec, and the single job's
// command resumes OUT as a finished sweep.

/* Parses "I/N" (0 <= I < N). */
int sweep_shard_parse(const char *arg, int *shard, int *n_shards, Err *err);
/* Keeps the points of shard I of N (index mod N == I), sets s->shard, n_shards,
 * grid_points and s->out_dir to OUT/shard-I-of-N. */
int sweep_shard_select(SweepSpec *s, int shard, int n_shards, Err *err);
/* The journal header's extra keys for a shard: ",\"shard\":I,..." ("" for a whole grid). */
void sweep_shard_header_keys(const SweepSpec *s, char *buf, size_t cap);
/* `sweep merge OUT SHARD_DIR...`: the merge, then the frontier files (sweep_frontier)
 * into OUT; prints one line on stderr. */
int sweep_merge(const char *out_dir, const char *const *shard_dirs, int n_dirs, Err *err);

#endif
