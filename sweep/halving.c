// sweep/halving.c (issue 16): successive halving across configurations, asynchronous as in ASHA
// (Li et al. 2020, "A System for Massively Parallel Hyperparameter Tuning"), with the two
// objectives of the frontier. Rank 0 keeps this state; run.c turns promotions into points.
//
// A configuration is a tuned point of the grid without its replicate keys (its seeds and
// splits) and without its steps; its points at rung r run the rung's budget
// (sweep_halving_budget). A configuration is complete at rung r when every one of its rung-r
// points has finished (ok, or failed for good); it stands at the means of its ok runs' dev
// accuracy and log-PPL (never test). Configurations are compared within their group (task and
// method: accuracies of other tasks do not compare, and the report draws one frontier per
// method). Once at least eta configurations of a group are complete at rung r, those on the
// group's dev frontier among them (non-dominated: no other complete one has dev accuracy >= and
// log-PPL <= with one strict) are promoted to rung r + 1; every later completion is judged the
// same way against all complete ones so far, and a promotion is never undone (ASHA: no rung
// waits to fill, so which configurations a run promotes can depend on the order results come
// in; the journal records what was decided). When nothing runs and nothing waits (a stall: a
// group with fewer than eta configurations at a rung, or the sweep's end), the frontier of
// whatever is complete is promoted, so every group reaches the top rung. The top rung's points
// are the grid's own points (the same ids as without halving): the report's frontier is drawn
// from them alone; the lower rungs' records stay in the journal and the export.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"
#include "util/record.h"

typedef struct {
    char *key;         // the configuration: its point without replicates and steps, as JSON
    int group;         // index into groups
    int top;           // the highest rung it has points at (promoted to)
    int *points;       // its spec points, every rung (n_points; owned): a check reads these, not the spec
    int n_points, cap_points;
} HalvingConfig;

struct SweepHalving {
    int eta, rungs;
    int n, cap;                    // per spec point:
    int *config;                   // its configuration (-1: not halved)
    unsigned char *finished, *ok;
    double *acc_dev, *log_ppl;
    HalvingConfig *configs;
    int n_configs, cap_configs;
    char **groups;                 // "task\nmethod"
    int n_groups, cap_groups;
    const char *replicates;        // the spec's, compact JSON
};

/* Removes the dotted path from a point (absent: nothing). */
static void remove_path(cJSON *o, const char *path) {
    const char *dot = strchr(path, '.');
    if (!dot) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, path);
        return;
    }
    char key[128];
    size_t n = (size_t)(dot - path);
    if (n >= sizeof key) return;
    memcpy(key, path, n);
    key[n] = '\0';
    cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsObject(sub)) remove_path(sub, dot + 1);
}

/* The configuration of point p and its group as text (malloc'd), or -1 out of memory. */
static int config_of(const SweepHalving *h, const SweepPoint *p, char **key, char **group) {
    *key = *group = NULL;
    cJSON *pt = cJSON_Parse(p->point_json), *reps = cJSON_Parse(h->replicates);
    if (!pt) {
        cJSON_Delete(reps);
        return -1;
    }
    for (const cJSON *r = cJSON_IsArray(reps) ? reps->child : NULL; r; r = r->next)
        if (cJSON_IsString(r)) {
            remove_path(pt, r->valuestring);
            // the point tune writes names a split's files under "data" (results.h)
            if (strcmp(r->valuestring, REC_POINT_SPLIT) == 0) remove_path(pt, REC_POINT_DATA);
        }
    remove_path(pt, p->steps_key);
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, REC_POINT_TASK));
    const char *method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pt, REC_POINT_METHOD));
    size_t len = strlen(task ? task : "") + strlen(method ? method : "") + 2;
    *group = malloc(len);
    if (*group) snprintf(*group, len, "%s\n%s", task ? task : "", method ? method : "");
    *key = cJSON_PrintUnformatted(pt);
    cJSON_Delete(pt);
    cJSON_Delete(reps);
    if (!*key || !*group) {
        free(*key);
        free(*group);
        return -1;
    }
    return 0;
}

int sweep_halving_new(SweepHalving **out, const SweepSpec *s, Err *err) {
    SweepHalving *h = calloc(1, sizeof *h);
    if (!h) return err_fail(err, "halving: out of memory");
    h->eta = s->halving_eta;
    h->rungs = s->halving_rungs;
    h->replicates = s->replicates;
    *out = h;
    for (int i = 0; i < s->n_points; i++)
        if (sweep_halving_add(h, s, i, err)) return -1;
    return 0;
}

void sweep_halving_free(SweepHalving *h) {
    if (!h) return;
    for (int c = 0; c < h->n_configs; c++) {
        free(h->configs[c].key);
        free(h->configs[c].points);
    }
    for (int g = 0; g < h->n_groups; g++) free(h->groups[g]);
    free(h->configs);
    free(h->groups);
    free(h->config);
    free(h->finished);
    free(h->ok);
    free(h->acc_dev);
    free(h->log_ppl);
    free(h);
}

int sweep_halving_add(SweepHalving *h, const SweepSpec *s, int idx, Err *err) {
    if (idx >= h->cap) {
        int cap = h->cap ? h->cap : 64;
        while (cap <= idx) cap *= 2;
        int *config = realloc(h->config, (size_t)cap * sizeof *config);
        if (config) h->config = config;
        unsigned char *fin = realloc(h->finished, (size_t)cap), *ok = fin ? realloc(h->ok, (size_t)cap) : NULL;
        if (fin) h->finished = fin;
        if (ok) h->ok = ok;
        double *acc = realloc(h->acc_dev, (size_t)cap * sizeof *acc), *lp = acc ? realloc(h->log_ppl, (size_t)cap * sizeof *lp) : NULL;
        if (acc) h->acc_dev = acc;
        if (lp) h->log_ppl = lp;
        if (!config || !fin || !ok || !acc || !lp) return err_fail(err, "halving: out of memory");
        h->cap = cap;
    }
    while (h->n <= idx) {
        h->config[h->n] = -1;
        h->finished[h->n] = h->ok[h->n] = 0;
        h->acc_dev[h->n] = h->log_ppl[h->n] = NAN;
        h->n++;
    }
    const SweepPoint *p = &s->points[idx];
    if (p->rung < 0) return 0;
    char *key, *group;
    if (config_of(h, p, &key, &group)) return err_fail(err, "halving: out of memory");
    int c = 0, g = 0;
    while (c < h->n_configs && strcmp(h->configs[c].key, key) != 0) c++;
    while (g < h->n_groups && strcmp(h->groups[g], group) != 0) g++;
    if (g == h->n_groups) {
        if (util_grow(&h->groups, &h->cap_groups, h->n_groups, sizeof *h->groups, 8)) {
            free(key), free(group);
            return err_fail(err, "halving: out of memory");
        }
        h->groups[h->n_groups++] = group;
        group = NULL;
    }
    free(group);
    if (c == h->n_configs) {
        if (util_grow(&h->configs, &h->cap_configs, h->n_configs, sizeof *h->configs, 64)) {
            free(key);
            return err_fail(err, "halving: out of memory");
        }
        h->configs[h->n_configs++] = (HalvingConfig){.key = key, .group = g, .top = p->rung};
        key = NULL;
    }
    free(key);
    HalvingConfig *hc = &h->configs[c];
    if (util_grow(&hc->points, &hc->cap_points, hc->n_points, sizeof *hc->points, 8))
        return err_fail(err, "halving: out of memory");
    hc->points[hc->n_points++] = idx;
    if (p->rung > hc->top) hc->top = p->rung;
    h->config[idx] = c;
    return 0;
}

void sweep_halving_finished(SweepHalving *h, int idx, const char *record, size_t len) {
    if (idx < 0 || idx >= h->n || h->config[idx] < 0) return;
    h->finished[idx] = 1;
    cJSON *r = record ? cJSON_ParseWithLength(record, len) : NULL;
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, REC_STATUS));
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, REC_ACCURACY), REC_DEV);
    const cJSON *lp = cJSON_GetObjectItemCaseSensitive(r, REC_LOG_PPL);
    h->ok[idx] = st && strcmp(st, REC_STATUS_OK) == 0 && cJSON_IsNumber(acc) && cJSON_IsNumber(lp) &&
                 isfinite(acc->valuedouble) && isfinite(lp->valuedouble);
    h->acc_dev[idx] = h->ok[idx] ? acc->valuedouble : NAN;
    h->log_ppl[idx] = h->ok[idx] ? lp->valuedouble : NAN;
    cJSON_Delete(r);
}

/* Configuration c at rung r: complete (every point finished), and its means over ok runs
 * (NaN: none ok). A configuration without points at r is not complete. */
static int complete_at(const SweepHalving *h, const SweepSpec *s, int c, int r, double *acc, double *lp) {
    int points = 0, ok = 0;
    double sa = 0, sl = 0;
    const HalvingConfig *hc = &h->configs[c];
    for (int k = 0; k < hc->n_points; k++) {
        int i = hc->points[k];
        if (s->points[i].rung != r) continue;
        if (!h->finished[i]) return 0;
        points++;
        if (h->ok[i]) {
            ok++;
            sa += h->acc_dev[i];
            sl += h->log_ppl[i];
        }
    }
    *acc = ok ? sa / ok : NAN;
    *lp = ok ? sl / ok : NAN;
    return points > 0;
}

int sweep_halving_promotions(SweepHalving *h, const SweepSpec *s, int stalled, int **promote, int *n_promote,
                             Err *err) {
    *promote = NULL;
    *n_promote = 0;
    int nc = h->n_configs;
    int *done = malloc((size_t)(nc ? nc : 1) * sizeof *done);
    double *acc = malloc((size_t)(nc ? nc : 1) * sizeof *acc), *lp = malloc((size_t)(nc ? nc : 1) * sizeof *lp);
    int *out = malloc((size_t)(h->n ? h->n : 1) * sizeof *out), n_out = 0;
    if (!done || !acc || !lp || !out) {
        free(done), free(acc), free(lp), free(out);
        return err_fail(err, "halving: out of memory");
    }
    for (int r = 0; r + 1 < h->rungs; r++)
        for (int g = 0; g < h->n_groups; g++) {
            int m = 0;
            for (int c = 0; c < nc; c++)
                if (h->configs[c].group == g && complete_at(h, s, c, r, &acc[c], &lp[c])) done[m++] = c;
            if (m == 0 || (m < h->eta && !stalled)) continue;
            for (int a = 0; a < m; a++) {
                int c = done[a];
                if (h->configs[c].top != r || isnan(acc[c])) continue;   // promoted already, or no ok run
                int dominated = 0;
                for (int b = 0; b < m && !dominated; b++) {
                    int d = done[b];
                    dominated = d != c && !isnan(acc[d]) && acc[d] >= acc[c] && lp[d] <= lp[c] &&
                                (acc[d] > acc[c] || lp[d] < lp[c]);
                }
                if (dominated) continue;
                h->configs[c].top = r + 1;
                for (int k = 0; k < h->configs[c].n_points; k++) {   // its rung-r points: the next rung copies them
                    int i = h->configs[c].points[k];
                    if (s->points[i].rung == r) out[n_out++] = i;
                }
            }
        }
    free(done), free(acc), free(lp);
    *promote = out;
    *n_promote = n_out;
    return 0;
}
