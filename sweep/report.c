// sweep/report.c: `sweep frontier DIR`: the journal's points and records handed to
// results/ (results_frontier_write), which turns them into points.csv, frontier.csv,
// frontier.svg and frontier.json. Here only what is the sweep's: reading the journal and
// where the files go.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/results.h"
#include "sweep/sweep.h"

int sweep_frontier(const char *dir, const char *out_dir, Err *err) {
    if (!out_dir) out_dir = dir;
    SweepJournal jr;
    if (sweep_journal_read(&jr, dir, err)) return -1;
    if (!jr.have_header) {
        sweep_journal_free(&jr);
        return err_fail(err, "frontier: %s: no sweep journal here", dir);
    }
    // a sweep appending as we read leaves a torn last frame: report what came before
    if (jr.bad_offset >= 0)
        fprintf(stderr, "sweep: frontier: warning: %s/journal is damaged (%s); using the frames before byte %lld\n",
                dir, jr.damage, (long long)jr.bad_offset);
    ResultsRecordRef *refs = malloc((size_t)(jr.n ? jr.n : 1) * sizeof *refs);
    if (!refs) {
        sweep_journal_free(&jr);
        return err_fail(err, "frontier: out of memory");
    }
    for (int i = 0; i < jr.n; i++) {
        const SweepJournalPoint *p = &jr.points[i];
        refs[i] = (ResultsRecordRef){.id = p->id, .attempts = p->n_ok + p->n_failed, .point_json = p->point_json,
                                     .record = p->record};
    }
    char source[SWEEP_PATH + 16];
    snprintf(source, sizeof source, "%s/journal", dir);
    ResultsRunInfo info = {.source = source, .spec_sha256 = jr.spec_sha256, .model_sha256 = jr.model_sha256,
                           .journal_version = jr.version, .created = jr.created, .now = (long long)time(NULL),
                           .damage = jr.bad_offset >= 0 ? jr.damage : NULL};
    ResultsFrontierSummary sum;
    Err rerr = {{0}};
    Err derr;
    int rc = 0;
    if (util_make_dirs(out_dir, &derr)) rc = err_fail(err, "frontier: %s", derr.msg);
    if (rc == 0 && results_frontier_write(&info, refs, jr.n, out_dir, &sum, &rerr))
        rc = err_fail(err, "frontier: %s: %s", out_dir, rerr.msg);
    if (rc == 0)
        fprintf(stderr,
                "sweep: frontier: %d points (%d ok, %d failed, %d pending), %d configurations, %d on their method's "
                "frontier: %s/{points.csv, frontier.csv, frontier.svg, frontier.json}\n",
                sum.n_points, sum.n_ok, sum.n_failed, sum.n_pending, sum.n_configs, sum.n_on_front, out_dir);
    free(refs);
    sweep_journal_free(&jr);
    return rc;
}
