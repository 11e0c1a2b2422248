// sweep/report.c: `sweep frontier DIR`: the journal's points and records handed to
// results/ (results_frontier_write), which turns them into points.csv, frontier.csv,
// frontier.svg and frontier.json. Here only what is the sweep's: reading the journal and
// where the files go.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/results.h"
#include "sweep/sweep.h"

/* The journal header's "replicates" (issue 13: the point keys the report takes statistics over,
 * written by the sweep from its spec; sweep_journal_read keeps them as JSON text) as keys
 * (malloc'd, n entries pointing into *list, which the caller frees); *keys NULL when the header
 * has none (journals before issue 13: the report's default). */
static int header_replicates(const SweepJournal *jr, const char *dir, cJSON **list, const char ***keys, int *n,
                             Err *err) {
    *keys = NULL;
    *n = 0;
    *list = NULL;
    if (!jr->replicates[0]) return 0;
    *list = cJSON_Parse(jr->replicates);
    int count = cJSON_GetArraySize(*list);
    *keys = malloc((size_t)(count > 0 ? count : 1) * sizeof **keys);
    if (!*keys) return err_fail(err, "frontier: out of memory");
    for (const cJSON *k = cJSON_IsArray(*list) ? (*list)->child : NULL; k; k = k->next) {
        if (!cJSON_IsString(k) || !k->valuestring[0]) break;
        (*keys)[(*n)++] = k->valuestring;
    }
    if (!cJSON_IsArray(*list) || *n != count)
        return err_fail(err, "frontier: %s/journal: the header's \"replicates\" must be an array of point keys", dir);
    return 0;
}

int sweep_refine_proposals(const SweepJournal *jr, const char *dir, int round, int max_new,
                           ResultsRefinement **props, int *n_props, Err *err) {
    *props = NULL;
    *n_props = 0;
    cJSON *replicates_list;
    const char **replicates;
    int n_replicates;
    ResultsRecordRef *refs = malloc((size_t)(jr->n ? jr->n : 1) * sizeof *refs);
    int *journal_index = malloc((size_t)(jr->n ? jr->n : 1) * sizeof *journal_index);
    int rc = header_replicates(jr, dir, &replicates_list, &replicates, &n_replicates, err);
    if (rc == 0 && (!refs || !journal_index)) rc = err_fail(err, "refine: out of memory");
    int n = 0;
    for (int i = 0; rc == 0 && i < jr->n; i++) {
        const SweepJournalPoint *p = &jr->points[i];
        if (p->round >= round) continue;   // the round's own points (a round decided again) and later
        journal_index[n] = i;
        refs[n++] = (ResultsRecordRef){.id = p->id, .attempts = p->n_ok + p->n_failed, .point_json = p->point_json,
                                       .record = p->record};
    }
    ResultsRunInfo info = {.replicates = replicates, .n_replicates = n_replicates};
    Err rerr = {{0}};
    if (rc == 0 && results_refine(&info, refs, n, max_new, props, n_props, &rerr))
        rc = err_fail(err, "%s", rerr.msg);
    for (int k = 0; rc == 0 && k < *n_props; k++)
        for (int c = 0; c < (*props)[k].n_clone; c++) (*props)[k].clone[c] = journal_index[(*props)[k].clone[c]];
    free(refs);
    free(journal_index);
    free(replicates);
    cJSON_Delete(replicates_list);
    return rc;
}

int sweep_frontier(const char *dir, const char *out_dir, Err *err) {
    if (!out_dir) out_dir = dir;
    SweepJournal jr;
    if (sweep_journal_read(&jr, dir, err)) return -1;
    if (!jr.have_header) {
        sweep_journal_free(&jr);
        return err_fail(err, "frontier: %s: no sweep journal here", dir);
    }
    cJSON *replicates_list;
    const char **replicates;
    int n_replicates;
    if (header_replicates(&jr, dir, &replicates_list, &replicates, &n_replicates, err)) {
        free(replicates);
        cJSON_Delete(replicates_list);
        sweep_journal_free(&jr);
        return -1;
    }
    // a sweep appending as we read leaves a torn last frame: report what came before
    if (jr.bad_offset >= 0)
        fprintf(stderr, "sweep: frontier: warning: %s/journal is damaged (%s); using the frames before byte %lld\n",
                dir, jr.damage, (long long)jr.bad_offset);
    ResultsRecordRef *refs = malloc((size_t)(jr.n ? jr.n : 1) * sizeof *refs);
    if (!refs) {
        free(replicates);
        cJSON_Delete(replicates_list);
        sweep_journal_free(&jr);
        return err_fail(err, "frontier: out of memory");
    }
    // successive halving's lower rungs are screening runs of fewer steps: the frontier is drawn
    // from the top rung (the grid's own points) alone; the journal and the export keep them all
    int n_refs = 0, lower_rungs = 0;
    for (int i = 0; i < jr.n; i++) {
        const SweepJournalPoint *p = &jr.points[i];
        if (p->rung >= 0 && p->rung < p->rungs - 1) {
            lower_rungs++;
            continue;
        }
        refs[n_refs++] = (ResultsRecordRef){.id = p->id, .attempts = p->n_ok + p->n_failed,
                                            .point_json = p->point_json, .record = p->record,
                                            .refined_round = p->round};
    }
    if (lower_rungs)
        fprintf(stderr, "sweep: frontier: %d runs of successive halving's lower rungs left out (the top rung's "
                        "points make the frontier)\n", lower_rungs);
    char source[SWEEP_PATH + 16];
    snprintf(source, sizeof source, "%s/journal", dir);
    ResultsRunInfo info = {.source = source, .spec_sha256 = jr.spec_sha256, .model_sha256 = jr.model_sha256,
                           .journal_version = jr.version, .created = jr.created, .now = (long long)time(NULL),
                           .damage = jr.bad_offset >= 0 ? jr.damage : NULL,
                           .replicates = replicates, .n_replicates = n_replicates,
                           .about_json = jr.about, .runs_json = jr.runs,
                           .lower_rung_runs = lower_rungs};
    ResultsFrontierSummary sum;
    Err rerr = {{0}};
    Err derr;
    int rc = 0;
    if (util_make_dirs(out_dir, &derr)) rc = err_fail(err, "frontier: %s", derr.msg);
    if (rc == 0 && results_frontier_write(&info, refs, n_refs, out_dir, &sum, &rerr))
        rc = err_fail(err, "frontier: %s: %s", out_dir, rerr.msg);
    if (rc == 0)
        fprintf(stderr,
                "sweep: frontier: %d points (%d ok, %d failed, %d pending), %d configurations, %d on their method's "
                "frontier: %s/{points.csv, frontier.csv, frontier.svg, frontier.json, frontier.tex}\n",
                sum.n_points, sum.n_ok, sum.n_failed, sum.n_pending, sum.n_configs, sum.n_on_front, out_dir);
    free(refs);
    free(replicates);
    cJSON_Delete(replicates_list);
    sweep_journal_free(&jr);
    return rc;
}
