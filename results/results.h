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
 *     JOURNAL_HEADER    payload: JSON {"spec_sha256", "version", "created"}      (first frame;
 *                       optionally "model_sha256" and, issue 13, "replicates": the point keys
 *                       the report takes statistics over, ResultsRunInfo.replicates)
 *     JOURNAL_POINT     payload: JSON of a point: {"id", "index", "point": {...}} (the grid, once per point)
 *     JOURNAL_DISPATCH  payload: JSON {"id", "attempt", "worker", "time"} (and, issue 15,
 *                       "retries": the run's, so a reader can tell failed for good)
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

#include "util/util.h"   // Err, err_fail, the zlib frame

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
int journal_open(Journal **j, const char *dir, Err *err);
/* Whether a sweep holds DIR/lock now (*held), its pid (*pid, -1 unknown) and when it took it
 * (*since: the lock file's mtime, which the holder's pid write sets; unix seconds). Asks with a
 * shared flock taken and dropped at once, never waiting; journal_open retries a lock that is
 * busy for a moment, so a sweep starting meanwhile is not refused for it. No lock file: not
 * held. For `sweep status` (flock works across the nodes of NFSv4 and Lustre mounts). */
int journal_lock_holder(const char *dir, int *held, long *pid, double *since, Err *err);
/* Appends one frame with one write; with sync, fdatasyncs before returning.
 * On failure the file is cut back to its previous size (the message says if
 * even that failed) and the frame counts as not written. */
int journal_append(Journal *j, int type, const void *payload, size_t len, int sync, Err *err);
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
typedef int (*JournalVisit)(void *user, int type, const void *payload, size_t len, Err *err);
int journal_replay(const char *dir, JournalVisit visit, void *user, int64_t *bad_offset,
                   Err *err);
/* Where the first intact frame after byte `after` starts, or -1 if none
 * does: -1 means the damage at `after` is a tail that journal_truncate can
 * cut without losing a frame; otherwise cutting there loses records. */
int journal_find_intact(const char *dir, int64_t after, int64_t *next_frame, Err *err);
/* Cuts DIR/journal to `offset` bytes and fsyncs. Call it while holding the
 * journal open (journal_open), so no other sweep appends meanwhile. */
int journal_truncate(const char *dir, int64_t offset, Err *err);

/* CRC32 of data: zframe_crc32 from 0 (util.h), under the name the journal's
 * tests know it by. */
static inline uint32_t results_crc32(const void *data, size_t len) { return zframe_crc32(0, data, len); }
/* The result frame's payload. The id is 64 lowercase hex digits; zrecord, zlen,
 * raw_len and raw_crc are a zlib frame of the raw record (zframe_compress,
 * util.h), the stream copied as is into a malloc'd payload. */
int result_frame_encode(int failed, const char id[65], const void *zrecord, size_t zlen,
                        size_t raw_len, uint32_t raw_crc, void **payload, size_t *payload_len,
                        Err *err);
/* Decodes a result payload, decompressing the record (zframe_decompress:
 * checked against its length and CRC) into a malloc'd NUL-terminated string. */
int result_frame_decode(const void *payload, size_t len, int *failed, char id[65], char **record,
                        Err *err);

// ----------------------------------------------------------------------------
// frontier (issues 6, 11, 15): records -> points.csv, frontier.csv, frontier.svg, frontier.json, frontier.tex
//
// Works on record text and numbers only. A configuration (issue 13) is every key of the
// point (nested objects flattened to dotted paths, "pez.lr") except its replicate keys
// (ResultsRunInfo.replicates; by default seed and split): its point is the mean over its runs,
// one per combination of the replicate keys' values (splits x seeds). The frontier a paper
// publishes is chosen on DEV data and only reported on test (issue 11): the
// objective pair that decides it is (dev accuracy: maximise, log-PPL of the
// prompt: minimise); the chosen configurations are then reported, plotted and
// measured (hypervolume) at their test means. The frontier decided on test
// means is kept beside it, clearly named (_test, test_chosen), for comparison
// only. The best run ("best seed") of a configuration is chosen without test too: the
// lowest objective (the run's own, on dev).
//
// Dominance: p dominates q when acc_p >= acc_q and lp_p <= lp_q and p != q in
// at least one coordinate. The frontier is the set of non-dominated points, so
// exact duplicates of a frontier point are all on it (neither dominates the
// other), and ties in one coordinate are decided by the other. Non-finite
// points are never on it.
//
// Hypervolume: the area (accuracy x nats) dominated by the points and
// dominating the reference point (ref_acc, ref_log_ppl), the union of the boxes
// [lp_i, ref_log_ppl] x [ref_acc, acc_i]; points not strictly better than the
// reference in both coordinates add nothing.

#define RESULTS_FRONTIER_VERSION "frontier 3 (issue 13)"

/* Student's t quantile: the t with P(T <= t) = p for df > 0 degrees of freedom
 * (df need not be an integer; +inf or > 1e7 gives the normal quantile). Exact to
 * ~1e-12 relative (bisection on the regularized incomplete beta function).
 * NaN for p outside (0, 1) or df <= 0. */
double results_t_quantile(double p, double df);

/* Statistics over the finite values of x: n, mean, sample standard deviation
 * (n - 1) and the half-width of the 95% confidence interval of the mean,
 * t(0.975, n - 1) * sd / sqrt(n). sd and ci95 are NaN for n < 2, all NaN for n 0. */
typedef struct {
    int n;
    double mean, sd, ci95;
} ResultsStats;
void results_stats(const double *x, int n, ResultsStats *s);

/* The 2-D non-dominated sort, O(n log n): on_front[i] = 1 for the points on the
 * frontier (0 otherwise); front (n entries of room) gets their indexes in
 * log-PPL order (accuracy rising along it; duplicates by index). Returns the
 * number on the frontier, or -1 (out of memory, message in err). */
int results_pareto(const double *acc, const double *log_ppl, int n, unsigned char *on_front, int *front,
                   Err *err);
/* Whether (a, l) is dominated by a frontier from results_pareto, O(log n). */
int results_dominated(const double *acc, const double *log_ppl, const int *front, int n_front, double a,
                      double l);
/* The hypervolume of the points against the reference, O(n log n). */
int results_hypervolume(const double *acc, const double *log_ppl, int n, double ref_acc, double ref_log_ppl,
                        double *hv, Err *err);

/* Growable text; an allocation failure sets oom and later writes do nothing. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} ResultsBuf;
void results_buf_put(ResultsBuf *b, const char *s, size_t n);
void results_buf_cat(ResultsBuf *b, const char *s);
void results_buf_printf(ResultsBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void results_buf_free(ResultsBuf *b);

/* Length of the valid UTF-8 sequence at p (n bytes left), 0 if invalid. */
size_t results_utf8_len(const unsigned char *p, size_t n);
/* Appends s cut to its first max_chars characters, "…" where it was cut (NULL: nothing). */
void results_buf_cut(ResultsBuf *b, const char *s, int max_chars);
/* One CSV field (RFC 4180): quoted when it holds a comma, a double quote, CR or
 * LF, or starts or ends with white space; quotes doubled; invalid UTF-8 bytes
 * become U+FFFD. NULL is the empty field. */
void results_csv_field(ResultsBuf *b, const char *s);
/* The shortest decimal that reads back as x, whole numbers with ".0" (150.0: a
 * float to every reader); nothing (an empty field) for NaN and infinities. */
void results_csv_number(ResultsBuf *b, double x);

/* Text into LaTeX (tex.c): the ten special characters escaped, spaces kept as written (tt: as
 * control spaces, for \texttt), < > | " as their typewriter glyphs (tt) or in math (text), and
 * every character beyond printable ASCII, controls and invalid bytes (as U+FFFD) too, as
 * \promptchar{HEX}{char}, which frontier.tex defines to print [U+HEX]. Safe in any argument
 * (no unbalanced braces, no verbatim); compiles with pdflatex and no packages. */
void results_tex(ResultsBuf *b, const char *s, int tt);

/* Writes n files into dir: each to a temp file there, fsync'd, then all renamed
 * (readers see the old or the new file, never a part). On an error the temp
 * files are removed. */
int results_write_files(const char *dir, const char *const *names, const ResultsBuf *const *texts, int n,
                        Err *err);

/* The plot (svg.c): one panel per task. y is the reported accuracy (test), while
 * the frontiers (filled markers, step lines) are those chosen on dev: a chosen
 * point may sit below another at test means, and the step lines are the
 * staircase of the best reported accuracy among the chosen points up to a log-PPL. */
typedef struct {
    int method;                        // index into ResultsPlot.methods (its colour)
    double lambda;
    int prompt_length;
    double acc, acc_ci;                // test: mean and 95% CI half-width (NaN: none)
    double log_ppl, log_ppl_ci;
    int on_front, on_front_all;        // on its method's frontier, on the one across methods (chosen on dev)
    int n_runs;                        // ok runs behind the means (seeds, or splits x seeds)
    int n_collapsed;                   // of them, collapsed (one label for >= 95% of test); -1 unknown (old records)
    int identical;                     // 2+ runs that all gave the same result (no spread: the CI says nothing)
    int refined;                       // its λ was added by λ refinement in this round (0: the grid's)
    /* NULL: a tuned configuration, a marker in its method's colour on its method's series.
     * Else a baseline (a manual prompt): its text ("" the empty prompt), drawn as a labelled
     * reference marker apart from the methods' colours and step lines; a method whose points
     * are baselines has no colour of its own. */
    const char *baseline;
    const char *detail;                // NULL, or the configuration keys beyond λ and L its label adds ("pez.lr=0.3")
} ResultsPlotPoint;
typedef struct {
    const char *title;
    /* What the panel's numbers come from (issue 15), one line each under the title: the model
     * (sha256 prefix, shape) and the data (splits, sizes, test examples scored); NULL: unknown. */
    const char *model_line, *data_line;
    int n_random_init, n_runs_all;     // ok runs on a random-init model, of all ok runs
    double chance, ln_vocab;           // the reference point (lines drawn when in range)
    const ResultsPlotPoint *points;
    int n_points;
    const double *hypervolume;         // per method (NaN: method absent), may be NULL
    double hypervolume_all;
    int n_failed, n_pending;           // runs, said in the legend
    int runs_min, runs_max;            // ok runs per plotted point
} ResultsPlotPanel;
typedef struct {
    const char *name;                  // the sweep's name (the spec's "name"), before each panel's title; NULL: none
    const char *const *methods;
    int n_methods;
    const ResultsPlotPanel *panels;
    int n_panels;
    int show_length;                   // labels say the prompt length too
    /* NULL: a point's runs are its seeds (the words say "seeds"); else what they vary in, e.g.
     * "split × seed" (the words say "runs"). */
    const char *replicates;
    /* NULL: a configuration is (method, λ, prompt length); else the keys beyond them that
     * make one too, e.g. "pez.lr, template" (the panel's subtitle names them). */
    const char *config_keys;
} ResultsPlot;
int results_svg(ResultsBuf *b, const ResultsPlot *plot, Err *err);

/* The report (report.c). One entry per point of the sweep: its grid point
 * (JSON), and its record (JSON as tune or the sweep wrote it: status "ok" or
 * "failed"), or NULL while it has none (pending). */
typedef struct {
    const char *id;
    int attempts;                      // results journaled for it
    const char *point_json;            // may be NULL when record has "point"
    const char *record;                // NULL: no result yet
    int refined_round;                 // added by an adaptive sweep's λ refinement in this round (0: not)
} ResultsRecordRef;

typedef struct {
    const char *source;                // what was read, for the sidecar ("DIR/journal")
    const char *spec_sha256, *model_sha256;
    int journal_version;               // the journal header's "version"
    long long created, now;            // unix seconds: the journal's creation (0: unknown), the report's date
    const char *damage;                // NULL, or the journal damage the frames before it were read despite
    int lower_rung_runs;               // successive halving's lower-rung runs left out of the report (issue 16)
    /* The point keys a configuration repeats over (issue 13): its statistics are over its runs,
     * one per combination of these keys' values; every other key of the point makes the
     * configuration. A key names its nested keys too ("data": "data.train", ...). "split"
     * brings "data" with it: the point tune writes names a split's files in "data". task,
     * method, λ and prompt length always make the configuration. NULL: the default,
     * RESULTS_DEFAULT_REPLICATES; the journal header's "replicates" when it has one. */
    const char *const *replicates;
    int n_replicates;
    /* Issue 15, from the journal header (NULL: a journal without them): "about", the spec's
     * {"name", "description", "tags"} (the plot's title says the name), and "runs", the
     * invocations that made the journal ([{"code_version", "host", "command", "ranks"}]), both
     * compact JSON, copied into frontier.json. */
    const char *about_json, *runs_json;
} ResultsRunInfo;

#define RESULTS_DEFAULT_REPLICATES {"seed", "split"}

typedef struct {
    int n_points, n_ok, n_failed, n_pending;
    int n_configs, n_on_front, n_tasks;   // n_on_front: on their method's frontier (chosen on dev)
} ResultsFrontierSummary;

enum { RESULTS_POINTS_CSV, RESULTS_FRONTIER_CSV, RESULTS_FRONTIER_SVG, RESULTS_FRONTIER_JSON, RESULTS_FRONTIER_TEX,
       RESULTS_N_FILES };
extern const char *const RESULTS_FILE_NAMES[RESULTS_N_FILES];

/* Builds the five files' text (points.csv, frontier.csv, frontier.svg,
 * frontier.json, frontier.tex: README.md documents every column) into out[] (zeroed by the
 * caller, freed with results_buf_free). Bad records become failed rows; records
 * of an older tune ("tune 1 (issue 4)") lack the fields of issue 11 and leave
 * those cells empty; only running out of memory is an error. */
int results_frontier_build(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n,
                           ResultsBuf out[RESULTS_N_FILES], ResultsFrontierSummary *sum, Err *err);
/* results_frontier_build, then the files into out_dir (which must exist). */
int results_frontier_write(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n, const char *out_dir,
                           ResultsFrontierSummary *sum, Err *err);

/* Frontier-guided λ refinement (refine.c, issue 16): where an adaptive sweep puts its next
 * λ values. A family is a configuration without its λ (every key of the point but lambda and
 * the replicate keys of info; manual prompts are no family). Each of its λs is a candidate at
 * the means of its ok runs' dev accuracy and log-PPL (never test). The rule, per family: the
 * gaps between neighbours of its dev frontier, (lp_b - lp_a) x (acc_b - acc_a), largest first;
 * the first whose λ interval [λa, λb] can still be split is bisected: among the family's λs
 * inside it, the widest neighbouring pair in log λ, at its geometric mean (6 significant
 * digits; λ = 0 stands for a tenth of the family's smallest positive λ); pairs closer than
 * RESULTS_REFINE_MIN_RATIO are used up. One new λ per family, proposals by gap, largest first
 * (ties: the families' order, by their keys), at most max_new. The same records in any order
 * give the same proposals. */
#define RESULTS_REFINE_MIN_RATIO 1.1
typedef struct {
    double lambda;             // the new λ
    double lambda_a, lambda_b; // the frontier neighbours whose gap it fills (lower log-PPL first)
    double gap;                // that gap's area, dev accuracy x nats
    int family;                // the family's rank in key order
    int n_clone;               // the points to copy with the new λ: every run of the family at
    int *clone;                // lambda_a (n_clone indexes into recs; any status)
} ResultsRefinement;
int results_refine(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n, int max_new,
                   ResultsRefinement **out, int *n_out, Err *err);
void results_refinements_free(ResultsRefinement *r, int n);

#endif
