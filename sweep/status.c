// sweep/status.c: `sweep status DIR [--json]`: where a sweep stands, from its journal and its
// lock only (no MPI, no spec), also while it runs: which points run where and since when, which
// failed and why, how many are left and when they should be done, the best point of each method
// so far (chosen on dev). The words and the JSON keys are sweep.h's ("Watching a run").
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/results.h"
#include "sweep/sweep.h"
#include "util/record.h"

enum { ST_DONE, ST_FAILED, ST_PENDING, ST_RUNNING, ST_COUNT };

#define MAX_METHODS 16        // distinct methods tracked for the best point (there are 4)
#define MAX_FAILED_SHOWN 20   // failed points listed in the text (--json lists all)

typedef struct {
    char method[32];
    int point;                // journal index
    double acc_dev, log_ppl;
} Best;

typedef struct {
    const SweepJournal *jr;
    int live;
    long pid;
    double run_started;       // unix s (live only)
    double now;               // unix s
    int count[ST_COUNT], dispatches, finished_this_run;
    double rate, eta;         // points/s and s; NaN: unknown
    unsigned char *state;     // per journal point
    Best best[MAX_METHODS];
    int n_best;
} Status;

static double number(const cJSON *j, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Failed for good: more failed results than the retries of its latest run; a journal from
 * before "retries" in DISPATCH frames cannot tell, and counts a failed latest attempt. */
static int failed_for_good(const SweepJournalPoint *p) {
    if (p->n_ok || !p->n_failed) return 0;
    return p->last_retries < 0 || p->n_failed > p->last_retries;
}

/* A dispatch of the live run rather than of a run that is gone: made after its lock was taken.
 * One second of slack: the lock's time is the file's mtime (on a shared filesystem the server's
 * clock) and a DISPATCH's time is rank 0's, in whole seconds; a point of a run killed within that
 * second of the restart shows as running until its result or its new dispatch. */
static int of_live_run(const Status *st, const SweepJournalPoint *p) {
    return st->live && (double)p->last_dispatch_time >= floor(st->run_started) - 1;
}

/* The ok record's dev accuracy against the best of its method so far. */
static void consider_best(Status *st, int i) {
    const SweepJournalPoint *p = &st->jr->points[i];
    cJSON *r = cJSON_Parse(p->record);
    const char *method = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, REC_POINT), REC_POINT_METHOD));
    double acc = number(cJSON_GetObjectItemCaseSensitive(r, REC_ACCURACY), REC_DEV);
    double lp = number(r, REC_LOG_PPL);
    if (method && isfinite(acc)) {
        int k = 0;
        while (k < st->n_best && strcmp(st->best[k].method, method) != 0) k++;
        if (k == st->n_best && k < MAX_METHODS) {
            snprintf(st->best[k].method, sizeof st->best[k].method, "%s", method);
            st->best[k].point = -1;
            st->n_best++;
        }
        Best *b = k < MAX_METHODS ? &st->best[k] : NULL;
        // the higher dev accuracy, then the lower log-PPL (NaN loses), then the earlier point
        int better = b && (b->point < 0 || acc > b->acc_dev ||
                           (acc == b->acc_dev && isfinite(lp) && !(lp >= b->log_ppl)));
        if (better) {
            b->point = i;
            b->acc_dev = acc;
            b->log_ppl = lp;
        }
    }
    cJSON_Delete(r);
}

static int status_compute(Status *st, const SweepJournal *jr, const char *dir, Err *err) {
    memset(st, 0, sizeof *st);
    st->jr = jr;
    st->rate = st->eta = NAN;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    st->now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    Err lerr;
    int held = 0;
    if (journal_lock_holder(dir, &held, &st->pid, &st->run_started, &lerr))
        return err_fail(err, "status: %s", lerr.msg);
    st->live = held;
    if (!(st->state = calloc((size_t)(jr->n ? jr->n : 1), 1))) return err_fail(err, "status: out of memory");
    for (int i = 0; i < jr->n; i++) {
        const SweepJournalPoint *p = &jr->points[i];
        int s = p->n_ok ? ST_DONE
              : p->awaiting && of_live_run(st, p) ? ST_RUNNING
              : failed_for_good(p) ? ST_FAILED : ST_PENDING;
        st->state[i] = (unsigned char)s;
        st->count[s]++;
        st->dispatches += p->n_dispatched;
        // finished by a dispatch of this run: its final result answers a dispatch made since
        if ((s == ST_DONE || s == ST_FAILED) && of_live_run(st, p)) st->finished_this_run++;
        if (s == ST_DONE && p->record) consider_best(st, i);
    }
    double elapsed = st->now - st->run_started;
    if (st->live && st->finished_this_run > 0 && elapsed > 0) {
        st->rate = st->finished_this_run / elapsed;
        st->eta = (st->count[ST_RUNNING] + st->count[ST_PENDING]) / st->rate;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// text

void sweep_duration(double s, char *out, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, cap, "%ld h %02ld m", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(out, cap, "%ld m %02ld s", t / 60, t % 60);
    else snprintf(out, cap, "%ld s", t);
}

static void clock_time(long long t, const char *fmt, char *out, size_t cap) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (!localtime_r(&tt, &tm) || !strftime(out, cap, fmt, &tm)) snprintf(out, cap, "%lld", t);
}

void sweep_point_describe(const char *point_json, char *out, size_t cap) {
    cJSON *p = cJSON_Parse(point_json);
    const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, REC_POINT_METHOD));
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, REC_POINT_TASK));
    double lambda = number(p, REC_POINT_LAMBDA), seed = number(p, REC_POINT_SEED);
    int n = snprintf(out, cap, "%s %s", task ? task : "?", method ? method : "?");
    if (n > 0 && (size_t)n < cap && isfinite(lambda)) n += snprintf(out + n, cap - (size_t)n, ", lambda %g", lambda);
    if (n > 0 && (size_t)n < cap && isfinite(seed)) snprintf(out + n, cap - (size_t)n, ", seed %.0f", seed);
    cJSON_Delete(p);
}

/* The record's error and log (NULL when none), borrowed from r. */
static void failure(const cJSON *r, const char **error, const char **log) {
    *error = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, REC_ERROR));
    *log = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, REC_LOG));
}

/* What an adaptive sweep added (issue 16): refined points per round (rounds[0]: the grid's and
 * the baselines), halved points per rung (rungs[r]); *n_rounds, *n_rungs their counts. */
#define STATUS_MAX_ROUNDS 64
static void adaptive_counts(const SweepJournal *jr, int *rounds, int *n_rounds, int *rungs, int *n_rungs) {
    *n_rounds = *n_rungs = 0;
    for (int k = 0; k < STATUS_MAX_ROUNDS; k++) rounds[k] = rungs[k] = 0;
    for (int i = 0; i < jr->n; i++) {
        const SweepJournalPoint *p = &jr->points[i];
        int r = p->round < STATUS_MAX_ROUNDS ? p->round : STATUS_MAX_ROUNDS - 1;
        rounds[r]++;
        if (p->round && r + 1 > *n_rounds) *n_rounds = r + 1;
        if (p->rung >= 0 && p->rung < STATUS_MAX_ROUNDS) {
            rungs[p->rung]++;
            if (p->rungs > *n_rungs) *n_rungs = p->rungs < STATUS_MAX_ROUNDS ? p->rungs : STATUS_MAX_ROUNDS;
        }
    }
}

static void print_text(const Status *st, const char *dir) {
    const SweepJournal *jr = st->jr;
    // the fields of the line before issue 15 keep their places (scripts cut them); running last
    printf("points %d done %d failed %d pending %d dispatches %d spec_sha256 %s running %d\n", jr->n,
           st->count[ST_DONE], st->count[ST_FAILED], st->count[ST_PENDING], st->dispatches, jr->spec_sha256,
           st->count[ST_RUNNING]);
    char a[64], b[64], what[256];
    if (st->live) {
        clock_time((long long)st->run_started, "%Y-%m-%d %H:%M:%S", a, sizeof a);
        printf("live: a sweep (pid %ld) holds %s/lock since %s; %d points finished in this run", st->pid, dir, a,
               st->finished_this_run);
        if (isfinite(st->eta)) {
            sweep_duration(st->eta, b, sizeof b);
            printf(", %.3g points/s, ETA %s\n", st->rate, b);
        } else {
            printf(", ETA unknown until one finishes\n");
        }
    } else {
        int left = st->count[ST_PENDING];
        if (left) printf("not running (nobody holds %s/lock): %d points left; run the same command to resume\n", dir, left);
        else printf("not running (nobody holds %s/lock): every point finished\n", dir);
    }
    for (int i = 0; i < jr->n; i++) {
        if (st->state[i] != ST_RUNNING) continue;
        const SweepJournalPoint *p = &jr->points[i];
        sweep_point_describe(p->point_json, what, sizeof what);
        clock_time(p->last_dispatch_time, "%H:%M:%S", a, sizeof a);
        sweep_duration(st->now - (double)p->last_dispatch_time, b, sizeof b);
        printf("running: point %d (%s) on rank %d since %s (%s), attempt %d\n", i, what, p->last_worker, a, b,
               p->last_attempt);
    }
    int shown = 0;
    for (int i = 0; i < jr->n; i++) {
        if (st->state[i] != ST_FAILED) continue;
        if (shown++ == MAX_FAILED_SHOWN) {
            printf("failed: ... %d more (sweep status --json lists every one)\n", st->count[ST_FAILED] - MAX_FAILED_SHOWN);
            break;
        }
        const SweepJournalPoint *p = &jr->points[i];
        cJSON *r = cJSON_Parse(p->record ? p->record : "");
        const char *error, *log;
        failure(r, &error, &log);
        sweep_point_describe(p->point_json, what, sizeof what);
        printf("failed: point %d (%s) after %d attempts: %s", i, what, p->n_ok + p->n_failed, error ? error : "?");
        if (log) printf(" (log: %s/%s)", dir, log);
        putchar('\n');
        cJSON_Delete(r);
    }
    int rounds[STATUS_MAX_ROUNDS], rungs[STATUS_MAX_ROUNDS], n_rounds, n_rungs;
    adaptive_counts(jr, rounds, &n_rounds, rungs, &n_rungs);
    if (n_rounds) {   // points λ refinement added, by round
        printf("refinement: %d points added in %d round%s (", jr->n - rounds[0], n_rounds - 1, n_rounds == 2 ? "" : "s");
        for (int r = 1; r < n_rounds; r++) printf("%sround %d: %d", r > 1 ? ", " : "", r, rounds[r]);
        printf("); `sweep export` marks them refined_round\n");
    }
    if (n_rungs) {   // successive halving: points per rung
        printf("halving: points by rung");
        for (int r = 0; r < n_rungs; r++) printf(" %d: %d%s", r, rungs[r], r == n_rungs - 1 ? " (the top: the frontier's)" : ",");
        printf("\n");
    }
    for (int k = 0; k < st->n_best; k++) {
        const Best *bt = &st->best[k];
        cJSON *r = cJSON_Parse(jr->points[bt->point].record);
        const char *text = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, REC_PROMPT), REC_PROMPT_TEXT));
        sweep_point_describe(jr->points[bt->point].point_json, what, sizeof what);
        printf("best %s by dev accuracy: point %d (%s): acc_dev %.4f, log_ppl %.3f, prompt \"%.80s\"\n", bt->method,
               bt->point, what, bt->acc_dev, bt->log_ppl, text ? text : "");
        cJSON_Delete(r);
    }
}

// ----------------------------------------------------------------------------
// JSON

static cJSON *json_number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *json_string_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

static cJSON *running_json(const Status *st, int i) {
    const SweepJournalPoint *p = &st->jr->points[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddNumberToObject(o, "attempt", p->last_attempt);
    cJSON_AddNumberToObject(o, "rank", p->last_worker);
    cJSON_AddNumberToObject(o, "since", (double)p->last_dispatch_time);
    return o;
}

static cJSON *failed_json(const Status *st, int i) {
    const SweepJournalPoint *p = &st->jr->points[i];
    cJSON *r = cJSON_Parse(p->record ? p->record : "");
    const char *error, *log;
    failure(r, &error, &log);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", i);
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddNumberToObject(o, "attempts", p->n_ok + p->n_failed);
    cJSON_AddItemToObject(o, "error", json_string_or_null(error));
    cJSON_AddItemToObject(o, "log", json_string_or_null(log));
    cJSON_Delete(r);
    return o;
}

static cJSON *best_json(const Status *st, const Best *b) {
    const SweepJournalPoint *p = &st->jr->points[b->point];
    cJSON *r = cJSON_Parse(p->record);
    const cJSON *point = cJSON_GetObjectItemCaseSensitive(r, REC_POINT);
    const char *text = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, REC_PROMPT), REC_PROMPT_TEXT));
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", b->point);
    cJSON_AddStringToObject(o, "id", p->id);
    cJSON_AddItemToObject(o, "acc_dev", json_number_or_null(b->acc_dev));
    cJSON_AddItemToObject(o, "log_ppl", json_number_or_null(b->log_ppl));
    cJSON_AddItemToObject(o, "lambda", json_number_or_null(number(point, REC_POINT_LAMBDA)));
    cJSON_AddItemToObject(o, "seed", json_number_or_null(number(point, REC_POINT_SEED)));
    cJSON_AddItemToObject(o, "prompt", json_string_or_null(text));
    cJSON_Delete(r);
    return o;
}

static int print_json(const Status *st, const char *dir, Err *err) {
    const SweepJournal *jr = st->jr;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dir", dir);
    cJSON_AddStringToObject(o, "spec_sha256", jr->spec_sha256);
    cJSON_AddBoolToObject(o, "live", st->live);
    cJSON_AddItemToObject(o, "pid", st->live && st->pid > 0 ? cJSON_CreateNumber((double)st->pid) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "run_started", st->live ? cJSON_CreateNumber(floor(st->run_started)) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "points", jr->n);
    cJSON_AddNumberToObject(o, "done", st->count[ST_DONE]);
    cJSON_AddNumberToObject(o, "failed", st->count[ST_FAILED]);
    cJSON_AddNumberToObject(o, "running", st->count[ST_RUNNING]);
    cJSON_AddNumberToObject(o, "pending", st->count[ST_PENDING]);
    cJSON_AddNumberToObject(o, "dispatches", st->dispatches);
    cJSON_AddItemToObject(o, "points_per_second", json_number_or_null(st->rate));
    cJSON_AddItemToObject(o, "eta_seconds", json_number_or_null(st->eta));
    cJSON_AddItemToObject(o, "damaged", json_string_or_null(jr->bad_offset >= 0 ? jr->damage : NULL));
    cJSON *running = cJSON_AddArrayToObject(o, "running_points");
    cJSON *failed = cJSON_AddArrayToObject(o, "failed_points");
    for (int i = 0; i < jr->n; i++) {
        if (st->state[i] == ST_RUNNING) cJSON_AddItemToArray(running, running_json(st, i));
        if (st->state[i] == ST_FAILED) cJSON_AddItemToArray(failed, failed_json(st, i));
    }
    int rounds[STATUS_MAX_ROUNDS], rungs[STATUS_MAX_ROUNDS], n_rounds, n_rungs;
    adaptive_counts(jr, rounds, &n_rounds, rungs, &n_rungs);
    cJSON *refined = cJSON_AddArrayToObject(o, "refined_per_round");   // [round 1, round 2, ...]; [] none
    for (int r = 1; r < n_rounds; r++) cJSON_AddItemToArray(refined, cJSON_CreateNumber(rounds[r]));
    cJSON *halved = cJSON_AddArrayToObject(o, "halving_per_rung");     // [rung 0, ...]; [] no halving
    for (int r = 0; r < n_rungs; r++) cJSON_AddItemToArray(halved, cJSON_CreateNumber(rungs[r]));
    cJSON *best = cJSON_AddObjectToObject(o, "best_by_dev_accuracy");
    for (int k = 0; k < st->n_best; k++) cJSON_AddItemToObject(best, st->best[k].method, best_json(st, &st->best[k]));
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) return err_fail(err, "status: out of memory");
    puts(text);
    free(text);
    return 0;
}

int sweep_status(const char *dir, int json, Err *err) {
    SweepJournal jr;
    if (sweep_journal_read(&jr, dir, err)) return -1;
    if (!jr.have_header) {
        sweep_journal_free(&jr);
        return err_fail(err, "%s: no sweep journal here", dir);
    }
    // a live run's journal may end in the frame being written: reported up to there
    if (jr.bad_offset >= 0 && !json)
        fprintf(stderr, "sweep: warning: %s/journal is damaged (%s); reporting the frames before byte %lld\n", dir,
                jr.damage, (long long)jr.bad_offset);
    Status st;
    int rc = status_compute(&st, &jr, dir, err);
    if (rc == 0) rc = json ? print_json(&st, dir, err) : (print_text(&st, dir), 0);
    if (rc == 0 && fflush(stdout) != 0) rc = err_fail(err, "status: cannot write to stdout");
    free(st.state);
    sweep_journal_free(&jr);
    return rc;
}
