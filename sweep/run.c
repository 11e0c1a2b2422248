// sweep/run.c: the MPI run. Rank 0 reads the spec, reconciles it with the journal
// (resume), and farms the pending points costly first; it alone writes the journal.
// Workers run each point in a child tune (child.c). SIGTERM/SIGUSR1 stop dispatching.
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mpi/farm.h"
#include "results/results.h"
#include "sweep/sweep.h"
#include "util/record.h"

#define BAR_WIDTH 24

static volatile sig_atomic_t g_stop;   // set by SIGTERM / SIGUSR1 (Slurm's warnings)

static void on_stop_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* Every rank: SIGTERM and SIGUSR1 ask for a clean stop; SIGPIPE from a dead child's stdin
 * must not kill a worker. No SA_RESTART: a blocking call returns and the loop looks. */
static void install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

// ----------------------------------------------------------------------------
// the master's state

typedef struct {
    SweepSpec spec;
    Journal *journal;
    int *queue;             // spec indexes waiting to be dispatched, front first
    int q_head, q_len, q_cap;
    int *failures;          // failed results per spec point (journal + this run)
    int *attempts;          // dispatches per spec point (journal + this run)
    char *item;             // the work item last handed out (valid until the next)
    int total, done, failed, finished_at_start, in_flight;   // the words of sweep.h, "Watching a run"
    double t_start;
    SweepProgress progress; // BAR, LINES or NONE (AUTO resolved)
    int bar_shown;          // the bar is on screen, without its newline
    int logs_dir_made;
    int refine_round;       // the last round of λ refinement decided (0: none yet)
    int refine_added;       // points the refinement has added (journal + this run)
    int refine_over;        // a round added nothing: the sweep ends when its points do
    int journal_points;     // POINT frames in the journal (the next one's "index")
    SweepHalving *halving;  // successive halving's state (NULL: off)
} Master;

static int queue_push(Master *m, int idx) {
    if (m->q_head + m->q_len == m->q_cap) {
        if (m->q_head > 0) {   // reuse the consumed front
            memmove(m->queue, m->queue + m->q_head, (size_t)m->q_len * sizeof *m->queue);
            m->q_head = 0;
        } else if (util_grow(&m->queue, &m->q_cap, m->q_len, sizeof *m->queue, 64)) {
            return -1;
        }
    }
    m->queue[m->q_head + m->q_len++] = idx;
    return 0;
}

/* A promoted point runs before the rest (ASHA: promotions first). */
static int queue_push_front(Master *m, int idx) {
    if (m->q_head == 0) {
        if (queue_push(m, idx)) return -1;   // room at the end, then rotate it to the front
        memmove(m->queue + 1, m->queue, (size_t)(m->q_len - 1) * sizeof *m->queue);
        m->queue[0] = idx;
        return 0;
    }
    m->queue[--m->q_head] = idx;
    m->q_len++;
    return 0;
}

/* The counts and the pace, the same words in every mode and in the last line. */
static void progress_text(const Master *m, char *out, size_t cap) {
    int finished = m->done + m->failed;
    double t = util_now() - m->t_start;
    double rate = (finished - m->finished_at_start) / (t > 1e-9 ? t : 1e-9);
    char eta[32] = "?";
    if (finished == m->total) snprintf(eta, sizeof eta, "0 s");
    else if (rate > 0) sweep_duration((m->total - finished) / rate, eta, sizeof eta);
    snprintf(out, cap, "%d/%d finished (%d done, %d failed), %d running, %d pending, %.3g points/s, ETA %s", finished,
             m->total, m->done, m->failed, m->in_flight, m->total - finished - m->in_flight, rate, eta);
}

/* The bar mode's line, redrawn in place. */
static void draw_bar(Master *m) {
    char text[256], bar[BAR_WIDTH + 1];
    progress_text(m, text, sizeof text);
    int filled = m->total ? (int)((long long)BAR_WIDTH * (m->done + m->failed) / m->total) : BAR_WIDTH;
    for (int k = 0; k < BAR_WIDTH; k++) bar[k] = k < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    fprintf(stderr, "\rsweep: [%s] %s\033[K", bar, text);
    fflush(stderr);
    m->bar_shown = 1;
}

/* A line that stays: the bar (if shown) is cleared first and redrawn by the next update. */
static void say(Master *m, const char *line) {
    if (m->bar_shown) fputs("\r\033[K", stderr);
    m->bar_shown = 0;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* After a change of the counts: the bar redrawn; with lines, a line per finished point. */
static void progress(Master *m, int point_finished) {
    if (m->progress == SWEEP_PROGRESS_BAR) {
        draw_bar(m);
    } else if (m->progress == SWEEP_PROGRESS_LINES && point_finished) {
        char text[256], line[300];
        progress_text(m, text, sizeof text);
        snprintf(line, sizeof line, "sweep: %s", text);
        say(m, line);
    }
}

/* The bar's newline before the last lines. */
static void progress_end(Master *m) {
    if (m->bar_shown) fputc('\n', stderr);
    m->bar_shown = 0;
}

static int journal_point(Master *m, int idx, int journal_index, const char *refined, int sync, Err *err);

/* Room for the spec's points in the per-point arrays after the spec grew to n points. */
static int grow_point_arrays(Master *m, int n) {
    int *failures = realloc(m->failures, (size_t)n * sizeof *failures);
    if (!failures) return -1;
    m->failures = failures;
    int *attempts = realloc(m->attempts, (size_t)n * sizeof *attempts);
    if (!attempts) return -1;
    m->attempts = attempts;
    return 0;
}

/* Decides round `round` of λ refinement (sweep.h "adaptive sweeps") from jr's points before
 * it, with `added_before` points added by the rounds before: appends the round's new points to
 * the spec and the journal (the last frame fsync'd) and queues them. A point already in the
 * spec (a round cut short, decided again) is neither journaled nor queued again. *n_new gets
 * the points the round holds. */
static int refine_decide(Master *m, const SweepJournal *jr, int round, int added_before, int *n_new, Err *err) {
    SweepSpec *s = &m->spec;
    *n_new = 0;
    ResultsRefinement *props;
    int n_props;
    if (sweep_refine_proposals(jr, s->out_dir, round, INT_MAX, &props, &n_props, err)) return -1;
    // the budget: whole proposals (a λ with all its runs) in gap order while they fit
    int budget = s->adaptive_points - added_before, of = 0;
    unsigned char *take = calloc((size_t)(n_props ? n_props : 1), 1);
    if (!take) {
        results_refinements_free(props, n_props);
        return err_fail(err, "sweep: out of memory");
    }
    for (int k = 0; k < n_props; k++)
        if (props[k].n_clone <= budget - of) {
            take[k] = 1;
            of += props[k].n_clone;
        }
    // the round's points into the spec; those a kill left journaled already are there
    int first = s->n_points, rc = 0;
    const char **refined_of = malloc((size_t)(of ? of : 1) * sizeof *refined_of);   // per new point
    char (*refined)[320] = malloc((size_t)(n_props ? n_props : 1) * sizeof *refined);
    if (!refined_of || !refined) rc = err_fail(err, "sweep: out of memory");
    for (int k = 0; rc == 0 && k < n_props; k++) {
        if (!take[k]) continue;
        snprintf(refined[k], sizeof refined[k],
                 "{\"round\":%d,\"of\":%d,\"lambda\":%.17g,\"between\":[%.17g,%.17g],\"gap\":%.17g}", round, of,
                 props[k].lambda, props[k].lambda_a, props[k].lambda_b, props[k].gap);
        for (int c = 0; rc == 0 && c < props[k].n_clone; c++) {
            if (sweep_spec_add_point(s, jr->points[props[k].clone[c]].point_json, REC_POINT_LAMBDA, props[k].lambda, err)) {
                rc = -1;
                break;
            }
            int idx = s->n_points - 1;
            if (sweep_journal_find(jr, s->points[idx].id) >= 0) {   // journaled before the kill: in the spec already
                free(s->points[idx].point_json);
                s->n_points--;
                continue;
            }
            for (int j = first; j < idx && rc == 0; j++)
                if (strcmp(s->points[j].id, s->points[idx].id) == 0)
                    rc = err_fail(err, "sweep: refinement round %d proposed point %.12s... twice", round, s->points[idx].id);
            refined_of[idx - first] = refined[k];
        }
    }
    int n_added = s->n_points - first;
    if (rc == 0 && n_added && grow_point_arrays(m, s->n_points)) rc = err_fail(err, "sweep: out of memory");
    // journaled before any is dispatched, the last fsync'd: a kill before it leaves a round cut short
    for (int i = 0; rc == 0 && i < n_added; i++) {
        m->failures[first + i] = m->attempts[first + i] = 0;
        if (journal_point(m, first + i, m->journal_points + i, refined_of[i], i == n_added - 1, err)) rc = -1;
    }
    if (rc == 0) m->journal_points += n_added;
    free(refined_of);
    free(refined);
    free(take);
    results_refinements_free(props, n_props);
    if (rc) return -1;
    int *order = NULL;
    if (n_added > 0) {
        int *which = malloc((size_t)n_added * sizeof *which);
        if (!which) return err_fail(err, "sweep: out of memory");
        for (int i = 0; i < n_added; i++) which[i] = first + i;
        order = sweep_cost_order(s, which, n_added);
        free(which);
        if (!order) return err_fail(err, "sweep: out of memory");
        for (int i = 0; i < n_added; i++)
            if (queue_push(m, order[i])) {
                free(order);
                return err_fail(err, "sweep: out of memory");
            }
        free(order);
    }
    m->total += n_added;
    *n_new = of;
    return 0;
}

/* The next round, once every point so far has finished: decided from the journal as it is. */
static int refine_next(Master *m, Err *err) {
    SweepJournal jr;
    if (sweep_journal_read(&jr, m->spec.out_dir, err)) return -1;
    int n_new = 0, round = m->refine_round + 1;
    int rc = refine_decide(m, &jr, round, m->refine_added, &n_new, err);
    sweep_journal_free(&jr);
    if (rc) return -1;
    if (n_new == 0) {
        m->refine_over = 1;
        fprintf(stderr, "sweep: refinement: round %d adds no point (%d of %d added: %s)\n", round, m->refine_added,
                m->spec.adaptive_points,
                m->refine_added >= m->spec.adaptive_points ? "the budget is spent" : "no gap left to split");
        return 0;
    }
    m->refine_round = round;
    m->refine_added += n_new;
    fprintf(stderr, "sweep: refinement: round %d adds %d points (%d of %d)\n", round, n_new, m->refine_added,
            m->spec.adaptive_points);
    return 0;
}

/* Successive halving: adds, journals (the last frame fsync'd) and queues first the points of
 * every promotion due now (sweep.h "successive halving"). */
static int halving_promote(Master *m, int stalled, Err *err) {
    SweepSpec *s = &m->spec;
    int *promote, n;
    if (sweep_halving_promotions(m->halving, s, stalled, &promote, &n, err)) return -1;
    int first = s->n_points, rc = 0;
    for (int k = 0; rc == 0 && k < n; k++) {
        char key[sizeof s->points[0].steps_key];
        memcpy(key, s->points[promote[k]].steps_key, sizeof key);
        int rung = s->points[promote[k]].rung + 1, full = s->points[promote[k]].full_steps;
        if (sweep_spec_add_point(s, s->points[promote[k]].point_json, key, sweep_halving_budget(s, full, rung), err)) {
            rc = -1;
            break;
        }
        SweepPoint *p = &s->points[s->n_points - 1];
        p->rung = rung;
        p->full_steps = full;
    }
    free(promote);
    int n_added = s->n_points - first;
    if (rc == 0 && n_added && grow_point_arrays(m, s->n_points)) rc = err_fail(err, "sweep: out of memory");
    int journaled = 0;
    for (int i = 0; rc == 0 && i < n_added; i++) {
        int idx = first + i;
        m->failures[idx] = m->attempts[idx] = 0;
        if (journal_point(m, idx, m->journal_points + i, NULL, i == n_added - 1, err) ||
            sweep_halving_add(m->halving, s, idx, err))
            rc = -1;
        else
            journaled++;
    }
    m->journal_points += journaled;
    for (int i = n_added - 1; rc == 0 && i >= 0; i--)   // the first promoted first
        if (queue_push_front(m, first + i)) rc = err_fail(err, "sweep: out of memory");
    if (rc) return -1;
    m->total += n_added;
    if (n_added)
        fprintf(stderr, "sweep: halving: %d points promoted to rung %d%s\n", n_added, s->points[first].rung,
                stalled ? " (nothing else to run: the frontier of what is complete)" : "");
    return 0;
}

static int farm_fail(Err *err, const char *what, const char *detail) {
    snprintf(err->msg, sizeof err->msg, "%.20s: %.480s", what, detail);
    return -1;
}

static int next_work(void *user, uint64_t *item_id, const void **data, size_t *len, int *has_item,
                     Err *err) {
    Master *m = user;
    *has_item = 0;
    // everything so far finished: an adaptive sweep's next round of λ refinement
    if (m->q_len == 0 && m->in_flight == 0 && m->spec.adaptive_points > 0 && !m->refine_over && !g_stop) {
        Err rerr;
        if (refine_next(m, &rerr)) return farm_fail(err, "refine", rerr.msg);
    }
    if (m->q_len == 0 && m->in_flight == 0 && m->halving && !g_stop) {   // a stall: promote what is complete
        Err rerr;
        if (halving_promote(m, 1, &rerr)) return farm_fail(err, "halving", rerr.msg);
    }
    if (m->q_len == 0) return 0;
    int idx = m->queue[m->q_head++];
    m->q_len--;
    free(m->item);
    m->item = NULL;
    Err serr;
    const SweepSpec *s = &m->spec;
    if (sweep_item_encode(s->timeout_seconds, s->tune_path, s->points[idx].model_known, s->points[idx].point_json,
                          &m->item, len, &serr))
        return farm_fail(err, "next_work", serr.msg);
    *item_id = (uint64_t)idx;
    *data = m->item;
    *has_item = 1;
    return 0;
}

static int on_dispatch(void *user, uint64_t item_id, int worker, Err *err) {
    Master *m = user;
    int idx = (int)item_id;
    m->attempts[idx]++;
    m->in_flight++;
    // retries: the run's, so that `sweep status` can tell a failed point that will be retried
    // from one failed for good (the spec's retries may change between runs)
    char frame[256];
    int n = snprintf(frame, sizeof frame,
                     "{\"id\":\"%s\",\"attempt\":%d,\"worker\":%d,\"time\":%lld,\"retries\":%d}",
                     m->spec.points[idx].id, m->attempts[idx], worker, (long long)time(NULL), m->spec.retries);
    Err rerr;
    if (journal_append(m->journal, JOURNAL_DISPATCH, frame, (size_t)n, 0, &rerr))
        return farm_fail(err, "journal", rerr.msg);
    progress(m, 0);
    return 0;
}

/* A failed record's reason (one line), "" when it has none. */
static void record_error(const char *record, size_t len, char *out, size_t cap) {
    cJSON *r = cJSON_ParseWithLength(record, len);
    const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, REC_ERROR));
    snprintf(out, cap, "%s", e ? e : "");
    cJSON_Delete(r);
}

/* OUT/logs/<id>.<attempt>.log, whole (temp file, rename): rank 0's line, then the worker's
 * log. Fills name (relative to OUT) and returns 0; -1 when it cannot be written (said on
 * stderr: the sweep goes on, and the record names no log). */
static int write_log(Master *m, int idx, int worker, const char *error, const char *log, size_t log_len,
                     char *name, size_t cap) {
    const SweepPoint *p = &m->spec.points[idx];
    sweep_log_name(p->id, m->attempts[idx], name, cap);
    char path[SWEEP_PATH + 160], dir[SWEEP_PATH + 16];
    snprintf(dir, sizeof dir, "%s/%s", m->spec.out_dir, SWEEP_LOGS_DIR);
    snprintf(path, sizeof path, "%s/%s", m->spec.out_dir, name);
    char head[1024];
    int hn = snprintf(head, sizeof head, "sweep: point %d (id %s) attempt %d on rank %d failed: %s\n", p->index, p->id,
                      m->attempts[idx], worker, error);
    if (hn < 0 || (size_t)hn >= sizeof head) hn = (int)strlen(head);
    char *text = malloc((size_t)hn + log_len);
    Err werr = {{0}};
    int rc = -1;
    if (!text) snprintf(werr.msg, sizeof werr.msg, "out of memory");
    else if (m->logs_dir_made || util_make_dirs(dir, &werr) == 0) {
        m->logs_dir_made = 1;
        memcpy(text, head, (size_t)hn);
        memcpy(text + hn, log, log_len);
        rc = util_write_file_atomic(path, text, (size_t)hn + log_len, &werr);
    }
    free(text);
    if (rc) {
        char line[1400];
        snprintf(line, sizeof line, "sweep: warning: cannot write the log of point %d attempt %d: %s", p->index,
                 m->attempts[idx], werr.msg);
        say(m, line);
        name[0] = '\0';
    }
    return rc;
}

/* One line per failed attempt, in the bar and lines modes: what failed, why, where its log is. */
static void report_failure(Master *m, int idx, int worker, const char *error, const char *log_name, int retried) {
    if (m->progress == SWEEP_PROGRESS_NONE) return;
    const SweepPoint *p = &m->spec.points[idx];
    char what[256], line[2600], log[SWEEP_PATH + 200] = "";
    sweep_point_describe(p->point_json, what, sizeof what);
    if (log_name[0]) snprintf(log, sizeof log, "; log %s/%s", m->spec.out_dir, log_name);
    snprintf(line, sizeof line, "sweep: point %d (%s) failed on rank %d (attempt %d; %s): %.1000s%s", p->index, what,
             worker, m->attempts[idx], retried ? "to be retried" : "failed for good", error, log);
    say(m, line);
}

static int on_result(void *user, uint64_t item_id, int worker, const void *raw, size_t raw_len,
                     const void *zdata, size_t zlen, uint32_t crc32, Err *err) {
    Master *m = user;
    int idx = (int)item_id;
    m->in_flight--;
    size_t marker = strlen(SWEEP_INTERRUPTED_RECORD);
    if (raw_len == marker && memcmp(raw, SWEEP_INTERRUPTED_RECORD, marker) == 0) {
        g_stop = 1;   // the worker was told to stop: so is the sweep; the point stays pending
        return 0;
    }
    size_t rec_len, log_len;
    const char *log;
    sweep_result_split(raw, raw_len, &rec_len, &log, &log_len);
    int failed = sweep_record_failed(raw, rec_len);
    char error[1024] = "", log_name[160] = "";
    char *rec = NULL;   // the record as journaled when it is not raw's bytes (owned)
    void *z = NULL, *payload = NULL;
    size_t payload_len = 0;
    Err rerr;
    if (failed) record_error(raw, rec_len, error, sizeof error);
    if (log) {
        // the record alone, naming its log (written first: a journaled record never names a
        // missing log), compressed here; an ok result without a log (every ok one) is its
        // record, whose zlib frame from the farm goes to the journal as received
        if (failed) write_log(m, idx, worker, error, log, log_len, log_name, sizeof log_name);
        rec = log_name[0] ? sweep_record_with_log(raw, rec_len, log_name) : strndup((const char *)raw, rec_len);
        if (!rec) return farm_fail(err, "sweep", "out of memory");
        raw_len = strlen(rec);
        if (zframe_compress(rec, raw_len, &z, &zlen, &crc32, &rerr)) {
            free(rec);
            return farm_fail(err, "sweep", rerr.msg);
        }
        zdata = z;
    }
    int rc = result_frame_encode(failed, m->spec.points[idx].id, zdata, zlen, raw_len, crc32, &payload,
                                 &payload_len, &rerr) ||
             journal_append(m->journal, JOURNAL_RESULT, payload, payload_len, 1, &rerr);
    free(payload);
    free(z);
    if (rc) { free(rec); return farm_fail(err, "journal", rerr.msg); }
    int retried = 0;
    if (!failed) {
        m->done++;
    } else if (++m->failures[idx] <= m->spec.retries) {
        if (queue_push(m, idx)) {
            free(rec);
            return farm_fail(err, "sweep", "out of memory");
        }
        retried = 1;
    } else {
        m->failed++;
    }
    if (m->halving && !retried) {   // the record as journaled
        if (rec) sweep_halving_finished(m->halving, idx, rec, strlen(rec));
        else sweep_halving_finished(m->halving, idx, raw, raw_len);
        Err herr;
        if (!g_stop && halving_promote(m, 0, &herr)) {
            free(rec);
            return farm_fail(err, "halving", herr.msg);
        }
    }
    free(rec);
    if (failed) report_failure(m, idx, worker, error, log_name, retried);
    progress(m, !retried);
    return 0;
}

static int should_stop(void *user) {
    (void)user;
    return g_stop != 0;
}

// ----------------------------------------------------------------------------
// the worker's side (also rank 0's local worker when it runs alone)

static int run_point(void *user, uint64_t item_id, const void *data, size_t len, void **out,
                     size_t *out_len, Err *err) {
    (void)user;
    (void)item_id;
    char *record = NULL, *log = NULL;
    size_t log_len = 0;
    int interrupted = 1;
    Err serr;
    if (!g_stop && sweep_run_item(data, len, &g_stop, &record, &log, &log_len, &interrupted, &serr))
        return farm_fail(err, "worker", serr.msg);
    if (interrupted) {
        free(record);
        free(log);
        record = strdup(SWEEP_INTERRUPTED_RECORD);
        if (!record) return farm_fail(err, "worker", "out of memory");
        *out = record;
        *out_len = strlen(record);
        return 0;
    }
    // the record, and a failed one's log after a NUL: rank 0 writes it into OUT/logs
    char *result = NULL;
    int rc = sweep_result_encode(record, log, log_len, &result, out_len, &serr);
    free(record);
    free(log);
    if (rc) return farm_fail(err, "worker", serr.msg);
    *out = result;
    return 0;
}

// ----------------------------------------------------------------------------
// setup on rank 0: spec, output directory, journal, resume

static int append_json(Master *m, int type, const char *text, int sync, Err *err) {
    Err rerr;
    if (journal_append(m->journal, type, text, strlen(text), sync, &rerr))
        return err_fail(err, "sweep: journal: %s", rerr.msg);
    return 0;
}

/* A POINT frame; refined (NULL for the grid's points) is a point's "refined" object. */
static int journal_point(Master *m, int idx, int journal_index, const char *refined, int sync, Err *err) {
    const SweepPoint *p = &m->spec.points[idx];
    size_t cap = strlen(p->point_json) + 256 + (refined ? strlen(refined) + 16 : 0);
    char *frame = malloc(cap);
    if (!frame) return err_fail(err, "sweep: out of memory");
    char grid[128] = "";   // a shard's point also says where it is in the whole grid (shard.c)
    if (m->spec.n_shards) snprintf(grid, sizeof grid, ",\"grid_index\":%d", p->index);
    if (p->rung >= 0)   // a halved point: its rung and the budget it stands for
        snprintf(grid + strlen(grid), sizeof grid - strlen(grid), ",\"" SWEEP_HALVING_KEY "\":{\"rung\":%d,\"of\":%d,\"steps\":%d}",
                 p->rung, m->spec.halving_rungs, p->full_steps);
    snprintf(frame, cap, "{\"id\":\"%s\",\"index\":%d%s%s%s,\"point\":%s}", p->id, journal_index, grid,
             refined ? ",\"" SWEEP_REFINED_KEY "\":" : "", refined ? refined : "", p->point_json);
    int rc = append_json(m, JOURNAL_POINT, frame, sync, err);
    free(frame);
    return rc;
}

/* Of the candidate points (canonical JSON), the one whose settings differ from json's in the
 * fewest keys; ties go to position `prefer` (the same index), then to the first. -1: none. */
static int most_alike(const char *json, const char *const *cands, int n, int prefer) {
    int best = -1, best_keys = 0;
    char scratch[8];
    for (int c = 0; c < n; c++) {
        int keys = sweep_json_diff(json, cands[c], 0, scratch, sizeof scratch);
        if (keys < 0) continue;
        if (best < 0 || keys < best_keys || (keys == best_keys && c == prefer)) {
            best = c;
            best_keys = keys;
        }
    }
    return best;
}

#define CHANGED_KEYS_SHOWN 4   // a changed point's keys said in the refusal

/* The refusal of a spec that lacks journal point k (and missing - 1 others): which spec point it
 * became and how, "pez.steps 40 → 50", paired with the most alike spec point new to the journal. */
static void changed_point_message(const SweepJournal *jr, int k, int missing, const SweepSpec *s, Err *err) {
    const char **cands = malloc((size_t)(s->n_points ? s->n_points : 1) * sizeof *cands);
    int *which = malloc((size_t)(s->n_points ? s->n_points : 1) * sizeof *which);
    int n = 0, prefer = -1;
    for (int i = 0; cands && which && i < s->n_points; i++) {
        if (sweep_journal_find(jr, s->points[i].id) >= 0) continue;
        if (s->points[i].index == k) prefer = n;
        which[n] = i;
        cands[n++] = s->points[i].point_json;
    }
    int c = cands && which ? most_alike(jr->points[k].point_json, cands, n, prefer) : -1;
    char what[256], how[1024], others[96] = "";
    sweep_point_describe(jr->points[k].point_json, what, sizeof what);
    if (missing > 1) snprintf(others, sizeof others, " (and %d other points of the journal changed)", missing - 1);
    if (c < 0) {
        snprintf(how, sizeof how, "the spec has no new point in its place (removed)");
    } else {
        char keys[900];
        int nk = sweep_json_diff(jr->points[k].point_json, cands[c], CHANGED_KEYS_SHOWN, keys, sizeof keys);
        if (nk > 0)
            snprintf(how, sizeof how, "it is now the spec's point %d with %s", s->points[which[c]].index, keys);
        else
            snprintf(how, sizeof how, "the spec's point %d has the same settings but another id: a file it reads "
                                      "(model, data split, dictionary) has other contents, or tune's version changed",
                     s->points[which[c]].index);
    }
    err_fail(err, "sweep: the spec no longer has point %d of the journal (%s): %s%s; a spec that changes existing "
                  "points is refused (--extend only adds new points; another \"out\" starts a new sweep)",
             k, what, how, others);
    free(cands);
    free(which);
}

/* The refusal of new points without --extend: the first (of n_new), and how it differs from
 * the most alike journal point. */
static void new_point_message(const SweepJournal *jr, int i, int n_new, const SweepSpec *s, Err *err) {
    const char **cands = malloc((size_t)(jr->n ? jr->n : 1) * sizeof *cands);
    for (int k = 0; cands && k < jr->n; k++) cands[k] = jr->points[k].point_json;
    int c = cands ? most_alike(s->points[i].point_json, cands, jr->n, s->points[i].index) : -1;
    char what[256], like[1024] = "";
    sweep_point_describe(s->points[i].point_json, what, sizeof what);
    if (c >= 0) {
        char keys[900];
        if (sweep_json_diff(jr->points[c].point_json, s->points[i].point_json, CHANGED_KEYS_SHOWN, keys, sizeof keys) > 0)
            snprintf(like, sizeof like, ": like the journal's point %d with %s", c, keys);
    }
    err_fail(err, "sweep: the spec has %d point%s the journal does not (the first: point %d, %s%s); rerun with "
                  "--extend to add them", n_new, n_new == 1 ? "" : "s", s->points[i].index, what, like);
    free(cands);
}

/* A journal that is new gets its header and the grid; an old one must hold the spec's
 * points exactly (or a subset, with --extend: the new ones are appended). Returns 1 for a
 * spec that does not fit the journal (exit 2), -1 for other errors. */
static int reconcile(Master *m, const SweepJournal *jr, int extend, const SweepRunOptions *o, Err *err) {
    const SweepSpec *s = &m->spec;
    if (!jr->have_header) {
        char *header = sweep_header_json(s, o, (long long)time(NULL));   // meta.c
        if (!header) return err_fail(err, "sweep: out of memory");
        int rc = append_json(m, JOURNAL_HEADER, header, s->n_points == 0, err);   // (sync: an empty shard)
        free(header);
        if (rc) return -1;
        for (int i = 0; i < s->n_points; i++)
            if (journal_point(m, i, i, NULL, i == s->n_points - 1, err)) return -1;
        return 0;
    }
    // the replicates decide the report's configurations: a journal has one set (a journal from
    // before replicates had the default)
    const char *journal_replicates = jr->replicates[0] ? jr->replicates : SWEEP_DEFAULT_REPLICATES;
    if (strcmp(journal_replicates, s->replicates) != 0) {
        err_fail(err, "sweep: the journal's replicates are %s, the spec's %s: they decide the frontier's "
                      "configurations; keep the journal's or start another \"out\"", journal_replicates, s->replicates);
        return 1;
    }
    unsigned char *in_spec = calloc((size_t)(jr->n ? jr->n : 1), 1);   // per journal point
    if (!in_spec) return err_fail(err, "sweep: out of memory");
    for (int i = 0; i < s->n_points; i++) {
        int k = sweep_journal_find(jr, s->points[i].id);
        if (k >= 0) in_spec[k] = 1;
    }
    // the points λ refinement added (an adaptive sweep's earlier run) join the spec's, named again
    // from their journaled JSON: the same id, or their files changed since
    // the points successive halving promoted (their configurations' higher rungs) likewise
    for (int k = 0; k < jr->n; k++) {
        const SweepJournalPoint *jp = &jr->points[k];
        if (in_spec[k] || jp->rung <= 0) continue;
        if (s->halving_rungs != jp->rungs) {
            free(in_spec);
            err_fail(err, "sweep: the journal holds rung %d of %d of successive halving (point %d), the spec %s: "
                          "resume with the spec that made them", jp->rung, jp->rungs, k,
                          s->halving_rungs ? "another number of rungs" : "no \"halving\"");
            return 1;
        }
        if (sweep_spec_add_point(&m->spec, jp->point_json, NULL, 0, err)) {
            free(in_spec);
            return -1;
        }
        SweepPoint *p = &m->spec.points[m->spec.n_points - 1];
        if (strcmp(p->id, jp->id) != 0) {
            free(in_spec);
            err_fail(err, "sweep: the journal's halving point %d (id %.12s...) now has id %.12s...: a file it reads "
                          "changed; start another \"out\"", k, jp->id, p->id);
            return 1;
        }
        p->rung = jp->rung;
        p->full_steps = jp->full_steps;
        in_spec[k] = 1;
    }
    for (int k = 0; k < jr->n; k++) {
        if (in_spec[k] || jr->points[k].round == 0) continue;
        if (s->adaptive_points == 0) {
            free(in_spec);
            err_fail(err, "sweep: the journal holds points λ refinement added (point %d, round %d), the spec has no "
                          "\"adaptive\": resume with the spec that made them", k, jr->points[k].round);
            return 1;
        }
        if (sweep_spec_add_point(&m->spec, jr->points[k].point_json, NULL, 0, err)) {
            free(in_spec);
            return -1;
        }
        if (strcmp(s->points[s->n_points - 1].id, jr->points[k].id) != 0) {
            free(in_spec);
            err_fail(err, "sweep: the journal's refined point %d (id %.12s...) now has id %.12s...: a file it reads "
                          "changed; start another \"out\"", k, jr->points[k].id, s->points[s->n_points - 1].id);
            return 1;
        }
        in_spec[k] = 1;
    }
    int missing = 0, first_missing = -1;
    for (int k = 0; k < jr->n; k++)
        if (!in_spec[k] && missing++ == 0) first_missing = k;
    free(in_spec);
    if (missing) {
        changed_point_message(jr, first_missing, missing, s, err);
        return 1;
    }
    // a grid cut short: the same spec, the journal's points its first ones in order. Only a run
    // killed while writing its grid leaves that (nothing is dispatched before the grid is
    // whole), and the same command completes it
    int cut_short = jr->n < s->n_points && strcmp(jr->spec_sha256, s->spec_sha256) == 0;
    for (int k = 0; cut_short && k < jr->n; k++) cut_short = strcmp(jr->points[k].id, s->points[k].id) == 0;
    if (cut_short) {
        fprintf(stderr, "sweep: the journal's grid was cut short (%d of its %d points written): completing it\n",
                jr->n, s->n_points);
        for (int i = jr->n; i < s->n_points; i++)
            if (journal_point(m, i, i, NULL, i == s->n_points - 1, err)) return -1;
        return 0;
    }
    int added = 0, last_new = -1, n_new = 0, first_new = -1;
    for (int i = 0; i < s->n_points; i++) {
        if (sweep_journal_find(jr, s->points[i].id) >= 0) continue;
        if (n_new++ == 0) first_new = i;
        last_new = i;
    }
    if (n_new && !extend) {
        new_point_message(jr, first_new, n_new, s, err);
        return 1;
    }
    for (int i = 0; i <= last_new; i++) {
        if (sweep_journal_find(jr, s->points[i].id) >= 0) continue;
        if (journal_point(m, i, jr->n + added, NULL, i == last_new, err)) return -1;   // fsync'd with the last
        added++;
    }
    if (added) fprintf(stderr, "sweep: --extend: %d new points added to the journal's %d\n", added, jr->n);
    return 0;
}

/* The queue from the journal's counts: done and failed-for-good points are skipped. */
static int plan(Master *m, const SweepJournal *jr, Err *err) {
    const SweepSpec *s = &m->spec;
    int n = s->n_points;
    m->failures = calloc((size_t)n, sizeof *m->failures);
    m->attempts = calloc((size_t)n, sizeof *m->attempts);
    int *pending = malloc((size_t)(n ? n : 1) * sizeof *pending);
    if (!m->failures || !m->attempts || !pending) { free(pending); return err_fail(err, "sweep: out of memory"); }
    int n_pending = 0;
    for (int i = 0; i < n; i++) {
        int k = sweep_journal_find(jr, s->points[i].id);
        const SweepJournalPoint *p = k >= 0 ? &jr->points[k] : NULL;
        m->failures[i] = p ? p->n_failed : 0;
        m->attempts[i] = p ? p->n_dispatched : 0;
        if (p && p->n_ok) m->done++;
        else if (m->failures[i] > s->retries) m->failed++;
        else pending[n_pending++] = i;
    }
    int *order = sweep_cost_order(s, pending, n_pending);
    free(pending);
    if (!order) return err_fail(err, "sweep: out of memory");
    for (int i = 0; i < n_pending; i++)
        if (queue_push(m, order[i])) { free(order); return err_fail(err, "sweep: out of memory"); }
    free(order);
    m->total = n;
    m->finished_at_start = m->done + m->failed;
    return 0;
}

/* An adaptive sweep's refinement as the journal left it: the last round and the points added;
 * a round cut short by a kill (fewer frames than its "of") is decided again and completed. */
static int resume_refinement(Master *m, const SweepJournal *jr, Err *err) {
    int last = 0, in_last = 0, of = 0, added_before = 0;
    for (int k = 0; k < jr->n; k++) {
        const SweepJournalPoint *p = &jr->points[k];
        if (p->round > last) last = p->round, in_last = 0, of = p->round_size;
        if (p->round == last && last > 0) in_last++;
    }
    for (int k = 0; k < jr->n; k++)
        if (jr->points[k].round > 0 && jr->points[k].round < last) added_before++;
    m->refine_round = last;
    m->refine_added = added_before + in_last;
    if (last == 0 || in_last >= of) return 0;
    int n_new = 0;
    fprintf(stderr, "sweep: refinement round %d was cut short (%d of its %d points journaled): completing it\n", last,
            in_last, of);
    if (refine_decide(m, jr, last, added_before, &n_new, err)) return -1;
    m->refine_added = added_before + n_new;
    return 0;
}

/* Successive halving's state from the journal: what finished for good, then the promotions due
 * (a kill between a result and its promotions leaves some). */
static int resume_halving(Master *m, const SweepJournal *jr, Err *err) {
    if (sweep_halving_new(&m->halving, &m->spec, err)) return -1;
    for (int i = 0; i < m->spec.n_points; i++) {
        int k = sweep_journal_find(jr, m->spec.points[i].id);
        if (k < 0) continue;
        const SweepJournalPoint *p = &jr->points[k];
        if (p->n_ok || m->failures[i] > m->spec.retries) sweep_halving_finished(m->halving, i, p->record, p->record ? strlen(p->record) : 0);
    }
    return halving_promote(m, 0, err);
}

/* Everything before the farm: returns 0, or the exit status (1, 2) with the message. */
static int master_setup(Master *m, const SweepRunOptions *o, int n_workers, Err *err) {
    if (sweep_spec_load(&m->spec, o->spec_path, o->default_tune, err)) return 2;
    if (o->n_shards && (m->spec.adaptive_points || m->spec.halving_rungs))
        return err_fail(err, "sweep: --shard cannot run an adaptive or halving spec: their decisions need every "
                             "point's result in one journal (run it whole: mpirun -n N sweep SPEC)"), 2;
    if (o->n_shards && sweep_shard_select(&m->spec, o->shard, o->n_shards, err)) return 2;
    if (o->out_dir) snprintf(m->spec.out_dir, sizeof m->spec.out_dir, "%s", o->out_dir);   // --out
    Err derr;
    if (util_make_dirs(m->spec.out_dir, &derr)) {
        err_fail(err, "sweep: %s", derr.msg);
        return 1;
    }
    Err rerr;
    if (journal_open(&m->journal, m->spec.out_dir, &rerr)) {
        err_fail(err, "sweep: %s", rerr.msg);
        return 1;
    }
    SweepJournal jr;
    if (sweep_journal_read(&jr, m->spec.out_dir, err)) return 1;
    int rc = 0;
    if (jr.bad_offset >= 0 && !jr.damage_is_tail) {
        err_fail(err, "sweep: %s/journal is damaged before its end: %s; refusing to resume (nothing written). "
                        "Keep a copy; `sweep export` still reads the frames before the damage",
                   m->spec.out_dir, jr.damage);
        rc = 1;
    } else if (jr.bad_offset >= 0) {
        fprintf(stderr, "sweep: %s/journal has a damaged tail: %s; cutting it at byte %lld (every frame before it is kept)\n",
                m->spec.out_dir, jr.damage, (long long)jr.bad_offset);
        if (journal_truncate(m->spec.out_dir, jr.bad_offset, &rerr)) {
            err_fail(err, "sweep: %s", rerr.msg);
            rc = 1;
        }
    }
    if (rc == 0 && jr.have_header && jr.version > SWEEP_JOURNAL_VERSION) {
        err_fail(err, "sweep: %s/journal is version %d, made by a newer sweep (this one writes %d)", m->spec.out_dir,
                 jr.version, SWEEP_JOURNAL_VERSION);
        rc = 2;
    } else if (rc == 0 && jr.have_header && jr.version < 2) {
        // journals of sweeps before content ids resume with the ids they were written with
        fprintf(stderr, "sweep: %s/journal is version %d: its point ids name files by path, not by contents; it "
                        "resumes as it was made, and a data file changed since it started would go unnoticed (start "
                        "a new output directory to have the contents checked)\n",
                m->spec.out_dir, jr.version);
        if (sweep_spec_use_v1_ids(&m->spec, err)) rc = 1;
    }
    if (rc == 0) {
        int r = reconcile(m, &jr, o->extend, o, err);
        rc = r == 1 ? 2 : r < 0 ? 1 : 0;
    }
    m->journal_points = m->spec.n_points;   // reconciled: every point of the spec is journaled
    if (rc == 0 && plan(m, &jr, err)) rc = 1;
    if (rc == 0 && resume_refinement(m, &jr, err)) rc = 1;
    if (rc == 0 && m->spec.halving_rungs && resume_halving(m, &jr, err)) rc = 1;
    if (rc == 0)
        fprintf(stderr, "sweep: %d points in %s: %d done, %d failed, %d to run on %d worker%s%s\n", m->total,
                m->spec.out_dir, m->done, m->failed, m->q_len, n_workers, n_workers == 1 ? "" : "s",
                jr.have_header ? " (resumed from the journal)" : "");
    sweep_journal_free(&jr);
    return rc;
}

static void master_free(Master *m) {
    if (m->journal) journal_close(m->journal);
    sweep_halving_free(m->halving);
    sweep_spec_free(&m->spec);
    free(m->queue);
    free(m->failures);
    free(m->attempts);
    free(m->item);
}

static int run_master(const SweepRunOptions *o, int nranks) {
    Master m;
    memset(&m, 0, sizeof m);
    Err err = {{0}};
    int rc = master_setup(&m, o, nranks > 1 ? nranks - 1 : 1, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);   // the workers leave with the same status
    if (rc) { master_free(&m); return rc; }

    // AUTO: a bar only in a terminal; under mpirun or Slurm stderr is a pipe or a file, where a
    // redrawn line never shows (mpirun forwards whole lines) and lines are what a log keeps
    m.progress = o->progress != SWEEP_PROGRESS_AUTO ? o->progress : isatty(2) ? SWEEP_PROGRESS_BAR : SWEEP_PROGRESS_LINES;
    m.t_start = util_now();
    FarmMaster fm = {.next_work = next_work, .on_dispatch = on_dispatch, .on_result = on_result,
                     .should_stop = should_stop, .user = &m, .drain_seconds = m.spec.drain_seconds};
    FarmWorker local = {.run = run_point, .user = NULL};
    Err ferr = {{0}};
    FarmStats stats = {0};
    int frc = farm_master(&fm, &local, &stats, &ferr);
    progress_end(&m);
    if (frc) {
        fprintf(stderr, "sweep: %s\n", ferr.msg);
        rc = 1;
    } else if (g_stop) {
        int left = m.total - m.done - m.failed;
        fprintf(stderr, "sweep: stopped by a signal: %d points left (%d done, %d failed); run the same command to "
                        "resume\n", left, m.done, m.failed);
    } else {
        // rank 0's own CPU time: what the master costs per point (bench/bench_sweep.sh)
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                     (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
        fprintf(stderr,
                "sweep: finished: %d done, %d failed, of %d points (%.1f s; %.1f kB of records, %.1f kB compressed; "
                "rank 0 CPU %.2f s)\n",
                m.done, m.failed, m.total, stats.seconds, stats.bytes_raw / 1e3, stats.bytes_compressed / 1e3, cpu);
        // the paper's files (report.c), from the journal that is already complete and synced:
        // a failure is said, and the exit status stays 0 (`sweep frontier DIR` redoes them)
        Err ferr_report = {{0}};
        if (sweep_frontier(m.spec.out_dir, NULL, &ferr_report))
            fprintf(stderr, "sweep: %s (the journal is complete; `sweep frontier %s` tries again)\n", ferr_report.msg,
                    m.spec.out_dir);
    }
    master_free(&m);
    return rc;
}

static int run_worker(void) {
    int rc = 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc) return rc;
    FarmWorker w = {.run = run_point, .user = NULL};
    Err err = {{0}};
    if (farm_worker(&w, &err)) {
        int rank = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        fprintf(stderr, "sweep: rank %d: %s\n", rank, err.msg);
        return 1;
    }
    return 0;
}

int sweep_run_mpi(const SweepRunOptions *o) {
    install_signals();
    int rank = 0, nranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    SweepRunOptions with_ranks = *o;
    with_ranks.ranks = nranks;   // the journal header's "runs"
    return rank == 0 ? run_master(&with_ranks, nranks) : run_worker();
}
