// sweep/state.c: the journal as a sweep reads it: which points exist, how often each was
// dispatched, failed and done, the latest record of each; `sweep export` (status.c: `sweep
// status`).
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"
#include "sweep/sweep.h"

// ----------------------------------------------------------------------------
// id -> int: open addressing, linear probing, at most half full

struct SweepIdSlot {
    char id[65];   // "" when empty
    int value;
};

static size_t id_hash(const char *id) {   // FNV-1a
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return (size_t)h;
}

static struct SweepIdSlot *id_slot(const SweepIdIndex *x, const char *id) {
    size_t i = id_hash(id) & (x->cap - 1);
    while (x->slots[i].id[0] && strcmp(x->slots[i].id, id) != 0) i = (i + 1) & (x->cap - 1);
    return &x->slots[i];
}

int sweep_id_put(SweepIdIndex *x, const char *id, int value) {
    if (2 * (x->n + 1) > x->cap) {
        SweepIdIndex grown = {.cap = x->cap ? 2 * x->cap : 64};
        if (!(grown.slots = calloc(grown.cap, sizeof *grown.slots))) return -1;
        for (size_t i = 0; i < x->cap; i++)
            if (x->slots[i].id[0]) *id_slot(&grown, x->slots[i].id) = x->slots[i];
        grown.n = x->n;
        free(x->slots);
        *x = grown;
    }
    struct SweepIdSlot *s = id_slot(x, id);
    if (!s->id[0]) {
        snprintf(s->id, sizeof s->id, "%s", id);
        x->n++;
    }
    s->value = value;
    return 0;
}

int sweep_id_get(const SweepIdIndex *x, const char *id) {
    if (!x->cap || !id[0]) return -1;
    const struct SweepIdSlot *s = id_slot(x, id);
    return s->id[0] ? s->value : -1;
}

void sweep_id_free(SweepIdIndex *x) {
    free(x->slots);
    memset(x, 0, sizeof *x);
}

// ----------------------------------------------------------------------------
// the journal

int sweep_journal_find(const SweepJournal *jr, const char *id) {
    return sweep_id_get(&jr->by_id, id);
}

static int fail_frame(Err *err, const char *what) {
    snprintf(err->msg, sizeof err->msg, "journal: %s", what);
    return -1;
}

static int on_point(SweepJournal *jr, const cJSON *j, Err *err) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
    const cJSON *point = cJSON_GetObjectItemCaseSensitive(j, "point");
    if (!id || strlen(id) != 64 || !cJSON_IsObject(point)) return fail_frame(err, "a POINT frame without id or point");
    if (sweep_journal_find(jr, id) >= 0) return fail_frame(err, "a point journaled twice");
    if (util_grow(&jr->points, &jr->cap, jr->n, sizeof *jr->points, 64)) return fail_frame(err, "out of memory");
    SweepJournalPoint *p = &jr->points[jr->n];
    memset(p, 0, sizeof *p);
    memcpy(p->id, id, 65);
    // a point added by λ refinement (issue 16): its round and the round's size
    const cJSON *refined = cJSON_GetObjectItemCaseSensitive(j, SWEEP_REFINED_KEY);
    const cJSON *round = cJSON_GetObjectItemCaseSensitive(refined, "round");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(refined, "of");
    if (refined && !(cJSON_IsNumber(round) && round->valueint >= 1 && cJSON_IsNumber(of) && of->valueint >= 1))
        return fail_frame(err, "a refined POINT frame without its round and size");
    p->round = refined ? round->valueint : 0;
    p->round_size = refined ? of->valueint : 0;
    const cJSON *halving = cJSON_GetObjectItemCaseSensitive(j, SWEEP_HALVING_KEY);
    const cJSON *rung = cJSON_GetObjectItemCaseSensitive(halving, "rung");
    const cJSON *rungs = cJSON_GetObjectItemCaseSensitive(halving, "of");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(halving, "steps");
    if (halving && !(cJSON_IsNumber(rung) && cJSON_IsNumber(rungs) && cJSON_IsNumber(steps) && rung->valueint >= 0 &&
                     rung->valueint < rungs->valueint && steps->valueint >= 1))
        return fail_frame(err, "a halving POINT frame without its rung, rungs and steps");
    p->rung = halving ? rung->valueint : -1;
    p->rungs = halving ? rungs->valueint : 0;
    p->full_steps = halving ? steps->valueint : 0;
    if (!(p->point_json = cJSON_PrintUnformatted(point))) return fail_frame(err, "out of memory");
    if (sweep_id_put(&jr->by_id, id, jr->n)) {
        free(p->point_json);
        return fail_frame(err, "out of memory");
    }
    jr->n++;
    return 0;
}

static int on_result(SweepJournal *jr, const void *payload, size_t len, Err *err) {
    int failed = 0;
    char id[65];
    char *record = NULL;
    if (result_frame_decode(payload, len, &failed, id, &record, err)) return -1;
    int i = sweep_journal_find(jr, id);
    if (i < 0) { free(record); return fail_frame(err, "a result for a point never journaled"); }
    SweepJournalPoint *p = &jr->points[i];
    p->awaiting = 0;
    if (failed) p->n_failed++;
    else p->n_ok++;
    // the ok record is final; a failed one is the latest attempt
    if (!failed || p->n_ok == 0) {
        if (!failed && p->n_ok > 1) { free(record); return 0; }   // a duplicate ok keeps the first
        free(p->record);
        p->record = record;
    } else {
        free(record);
    }
    return 0;
}

static int json_int(const cJSON *j, const char *key, int missing) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9 ? v->valueint : missing;
}

static void on_dispatch(SweepJournalPoint *p, const cJSON *j) {
    p->n_dispatched++;
    p->last_attempt = json_int(j, "attempt", p->n_dispatched);
    p->last_worker = json_int(j, "worker", -1);
    p->last_retries = json_int(j, "retries", -1);   // -1: before issue 15
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "time");
    p->last_dispatch_time = cJSON_IsNumber(t) && t->valuedouble > 0 && t->valuedouble < 1e15 ? (long long)t->valuedouble : 0;
    p->awaiting = 1;
}

static int visit(void *user, int type, const void *payload, size_t len, Err *err) {
    SweepJournal *jr = user;
    if (type == JOURNAL_RESULT) return on_result(jr, payload, len, err);
    cJSON *j = cJSON_ParseWithLength(payload, len);
    if (!j) return fail_frame(err, "a frame whose JSON does not parse");
    int rc = 0;
    if (type == JOURNAL_HEADER) {
        const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "spec_sha256"));
        const char *model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model_sha256"));
        const cJSON *version = cJSON_GetObjectItemCaseSensitive(j, "version");
        const cJSON *created = cJSON_GetObjectItemCaseSensitive(j, "created");
        jr->have_header = 1;
        snprintf(jr->spec_sha256, sizeof jr->spec_sha256, "%s", sha ? sha : "?");
        snprintf(jr->model_sha256, sizeof jr->model_sha256, "%s", model ? model : "");
        jr->version = cJSON_IsNumber(version) ? version->valueint : 0;
        char *replicates = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "replicates"));
        // one the spec could not have written (too long) stays visibly wrong, never silently absent
        if (replicates) snprintf(jr->replicates, sizeof jr->replicates, "%s",
                                 strlen(replicates) < sizeof jr->replicates ? replicates : "(too long)");
        free(replicates);
        int sane = cJSON_IsNumber(created) && created->valuedouble > 0 && created->valuedouble < 1e15;
        jr->created = sane ? (long long)created->valuedouble : 0;
        // issue 15's keys, optional: journals before them have neither
        const cJSON *about = cJSON_GetObjectItemCaseSensitive(j, "about");
        const cJSON *runs = cJSON_GetObjectItemCaseSensitive(j, "runs");
        free(jr->about);
        free(jr->runs);
        jr->about = cJSON_IsObject(about) ? cJSON_PrintUnformatted(about) : NULL;
        jr->runs = cJSON_IsArray(runs) ? cJSON_PrintUnformatted(runs) : NULL;
    } else if (type == JOURNAL_POINT) {
        rc = on_point(jr, j, err);
    } else if (type == JOURNAL_DISPATCH) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
        int i = id ? sweep_journal_find(jr, id) : -1;
        if (i < 0) rc = fail_frame(err, "a dispatch of a point never journaled");
        else on_dispatch(&jr->points[i], j);
    }
    cJSON_Delete(j);
    return rc;
}

int sweep_journal_read(SweepJournal *jr, const char *dir, Err *err) {
    memset(jr, 0, sizeof *jr);
    Err rerr = {{0}};
    if (journal_replay(dir, visit, jr, &jr->bad_offset, &rerr)) {
        sweep_journal_free(jr);
        return err_fail(err, "%s/journal: %s", dir, rerr.msg);
    }
    if (jr->bad_offset < 0) return 0;
    snprintf(jr->damage, sizeof jr->damage, "%s", rerr.msg);
    int64_t next = -1;
    if (journal_find_intact(dir, jr->bad_offset, &next, &rerr)) {
        sweep_journal_free(jr);
        return err_fail(err, "%s/journal: %s", dir, rerr.msg);
    }
    jr->damage_is_tail = next < 0;
    return 0;
}

void sweep_journal_free(SweepJournal *jr) {
    free(jr->about);
    free(jr->runs);
    jr->about = jr->runs = NULL;
    for (int i = 0; i < jr->n; i++) {
        free(jr->points[i].point_json);
        free(jr->points[i].record);
    }
    free(jr->points);
    sweep_id_free(&jr->by_id);
    memset(jr, 0, sizeof *jr);
    jr->bad_offset = -1;
}

// ----------------------------------------------------------------------------
// export: the journal only, no MPI, no spec

static int read_for_report(SweepJournal *jr, const char *dir, Err *err) {
    if (sweep_journal_read(jr, dir, err)) return -1;
    if (!jr->have_header) {
        sweep_journal_free(jr);
        return err_fail(err, "%s: no sweep journal here", dir);
    }
    if (jr->bad_offset >= 0)
        fprintf(stderr, "sweep: warning: %s/journal is damaged (%s); reporting the frames before byte %lld\n",
                dir, jr->damage, (long long)jr->bad_offset);
    return 0;
}

int sweep_export(const char *dir, Err *err) {
    SweepJournal jr;
    if (read_for_report(&jr, dir, err)) return -1;
    for (int i = 0; i < jr.n; i++) {
        const SweepJournalPoint *p = &jr.points[i];
        if (!p->record || p->record[0] != '{') continue;
        // the record with the point's id in front: {"id":"...", <the record's own keys>}
        const char *rest = p->record + 1;
        while (*rest == ' ') rest++;
        // a point λ refinement added says its round (issue 16)
        char round[48] = "";
        if (p->round) snprintf(round, sizeof round, ",\"refined_round\":%d", p->round);
        if (p->rung >= 0) snprintf(round, sizeof round, ",\"halving_rung\":%d", p->rung);   // (never both)
        printf("{\"id\":\"%s\",\"attempts\":%d%s%s%s", p->id, p->n_ok + p->n_failed, round, *rest == '}' ? "" : ",",
               rest);
        size_t n = strlen(rest);
        if (n == 0 || rest[n - 1] != '\n') putchar('\n');
    }
    sweep_journal_free(&jr);
    if (fflush(stdout) != 0) return err_fail(err, "export: cannot write to stdout");
    return 0;
}
