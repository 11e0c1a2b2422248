// results/refine.c (issue 16): frontier-guided λ refinement, the rule an adaptive sweep follows
// to place its next λ values where a configuration family's dev frontier has its largest gap.
// Works on records only, like the report: the sweep (rank 0) turns a proposal into points.
//
// A family is a configuration without its λ: every key of the point but lambda and the
// replicate keys (the report's configurations, results.h; "split" brings "data"). Manual
// prompts (baselines) have no λ to refine and are left out. Each λ of a family is one point of
// its dev frontier candidates: the means over its ok runs of dev accuracy and of log-PPL (the
// pair the report chooses frontiers by; test is never read here). The rule:
//   1. the family's frontier (results_pareto) in log-PPL order; between two neighbours a, b the
//      gap is the rectangle they leave uncovered, (lp_b - lp_a) x (acc_b - acc_a), in the
//      hypervolume's units (accuracy x nats); gaps of area 0 are not gaps;
//   2. the largest gap whose λ interval can still be split: the family's λ values inside
//      [min(λa, λb), max(λa, λb)] (dominated ones too) cut it into sub-intervals, and the
//      widest in log λ is bisected at its geometric mean, to 6 significant digits. λ = 0 stands
//      for a tenth of the family's smallest positive λ (bisecting [0, x] gives x / sqrt(10)).
//      An interval narrower than RESULTS_REFINE_MIN_RATIO is used up; a gap with every
//      sub-interval used up gives way to the next largest;
//   3. one new λ per family per round, families by gap, largest first (ties: family order,
//      i.e. their keys' order), at most max_new.
// The same records give the same proposals: nothing here depends on timing, rank count or the
// order of the records (families and λs are sorted by value).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results_internal.h"
#include "util/record.h"

typedef struct {
    const char *family;    // the point's keys but λ and the replicates, as text (owned by Refine)
    double lambda;
    int ref;               // index into recs
    int ok;                // a finite dev accuracy and log-PPL
    double acc_dev, log_ppl;
} RefineRow;

static int cmp_rows(const void *pa, const void *pb) {
    const RefineRow *a = pa, *b = pb;
    int c = strcmp(a->family, b->family);
    if (c) return c;
    if (a->lambda != b->lambda) return a->lambda < b->lambda ? -1 : 1;
    return a->ref - b->ref;
}

static double number_at(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Whether path is a replicate key (or under one); "split" brings "data". */
static int replicate_path(const ResultsRunInfo *info, const char *path) {
    static const char *const fallback[] = RESULTS_DEFAULT_REPLICATES;
    const char *const *list = info->replicates ? info->replicates : fallback;
    int n = info->replicates ? info->n_replicates : (int)(sizeof fallback / sizeof fallback[0]);
    for (int i = 0; i < n; i++) {
        if (!list[i]) continue;
        if (results_key_under(path, list[i])) return 1;
        if (strcmp(list[i], REC_POINT_SPLIT) == 0 && results_key_under(path, REC_POINT_DATA)) return 1;
    }
    return 0;
}

/* The family of a point as text: "path=value\n" for each leaf but λ and the replicates. */
static char *family_text(const ResultsRunInfo *info, const cJSON *pt) {
    ResultsLeaves leaves;
    if (results_leaves(&leaves, pt)) return NULL;
    ResultsBuf b = {0};
    for (int i = 0; i < leaves.n; i++) {
        const ResultsLeaf *f = &leaves.leaf[i];
        if (strcmp(f->path, REC_POINT_LAMBDA) == 0 || replicate_path(info, f->path)) continue;
        char *v = results_leaf_text(f);
        results_buf_printf(&b, "%s=%s\n", f->path, v ? v : "");
        free(v);
    }
    results_leaves_free(&leaves);
    results_buf_cat(&b, "");   // a family of no keys is "", not NULL (NULL: out of memory)
    if (b.oom) {
        results_buf_free(&b);
        return NULL;
    }
    return b.s;
}

/* One λ of a family: its runs rows[r0, r1), their dev means. */
typedef struct {
    double lambda;
    int r0, r1;
    double acc_dev, log_ppl;   // means over the ok runs (NaN: none)
} RefineLambda;

/* The bisection of the gap between frontier λs la and lb: the widest sub-interval in log λ
 * among the family's λs (ls, n, ascending) inside it; 0 when every one is used up. */
static double bisect_gap(const RefineLambda *ls, int n, double la, double lb) {
    double lo = fmin(la, lb), hi = fmax(la, lb), smallest = 0;
    for (int i = 0; i < n && smallest == 0; i++)
        if (ls[i].lambda > 0) smallest = ls[i].lambda;
    double best_width = log(RESULTS_REFINE_MIN_RATIO), best = 0;
    for (int i = 0; i + 1 < n; i++) {
        double a = ls[i].lambda, b = ls[i + 1].lambda;
        if (a < lo || b > hi || b <= 0) continue;
        double a_log = a > 0 ? a : smallest / 10;   // λ = 0 stands for a tenth of the smallest
        double width = log(b / a_log);
        if (width > best_width) {
            double mid = util_six_digits(sqrt(a_log * b));
            if (mid > a && mid < b) {   // 6 digits may land on an end: used up
                best_width = width;
                best = mid;
            }
        }
    }
    return best;
}

/* Scratch for family_gap, n entries each (the most λs a family can have). */
typedef struct {
    double *acc, *lp, *gap;
    int *idx, *front, *order;
    unsigned char *on;
} RefineScratch;

/* The largest fillable gap of one family (its λs ls, n, ascending): fills *out, returns 1 if
 * there is one, 0 if not, -1 out of memory. */
static int family_gap(const RefineLambda *ls, int n, RefineScratch *w, ResultsRefinement *out, Err *err) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(ls[i].acc_dev) && isfinite(ls[i].log_ppl)) {
            w->acc[m] = ls[i].acc_dev;
            w->lp[m] = ls[i].log_ppl;
            w->idx[m++] = i;
        }
    int nf = results_pareto(w->acc, w->lp, m, w->on, w->front, err);
    if (nf < 0) return -1;
    // the gaps between frontier neighbours, largest first (ties: lower log-PPL first); few, so
    // an insertion sort
    int ng = 0;
    for (int k = 0; k + 1 < nf; k++) {
        int a = w->front[k], b = w->front[k + 1];
        double g = (w->lp[b] - w->lp[a]) * (w->acc[b] - w->acc[a]);
        if (!(g > 0)) continue;
        w->gap[k] = g;
        int at = ng++;
        while (at > 0 && w->gap[w->order[at - 1]] < g) {
            w->order[at] = w->order[at - 1];
            at--;
        }
        w->order[at] = k;
    }
    for (int i = 0; i < ng; i++) {
        int k = w->order[i];
        double la = ls[w->idx[w->front[k]]].lambda, lb = ls[w->idx[w->front[k + 1]]].lambda;
        double mid = bisect_gap(ls, n, la, lb);
        if (mid > 0) {   // else the gap's interval is used up: the next largest
            *out = (ResultsRefinement){.lambda = mid, .lambda_a = la, .lambda_b = lb, .gap = w->gap[k]};
            return 1;
        }
    }
    return 0;
}

static int cmp_proposals(const void *pa, const void *pb) {
    const ResultsRefinement *a = pa, *b = pb;
    if (a->gap != b->gap) return a->gap > b->gap ? -1 : 1;
    return a->family - b->family;
}

int results_refine(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n, int max_new,
                   ResultsRefinement **out, int *n_out, Err *err) {
    *out = NULL;
    *n_out = 0;
    RefineRow *rows = calloc((size_t)(n > 0 ? n : 1), sizeof *rows);
    RefineLambda *ls = malloc((size_t)(n > 0 ? n : 1) * sizeof *ls);
    ResultsRefinement *props = calloc((size_t)(n > 0 ? n : 1), sizeof *props);
    size_t cap = (size_t)(n > 0 ? n : 1);
    RefineScratch w = {malloc(cap * sizeof(double)), malloc(cap * sizeof(double)), malloc(cap * sizeof(double)),
                       malloc(cap * sizeof(int)),    malloc(cap * sizeof(int)),    malloc(cap * sizeof(int)),
                       malloc(cap)};
    int n_rows = 0, n_props = 0, rc = -1;
    if (!rows || !ls || !props || !w.acc || !w.lp || !w.gap || !w.idx || !w.front || !w.order || !w.on) goto done;
    for (int i = 0; i < n; i++) {
        cJSON *rec = recs[i].record ? cJSON_Parse(recs[i].record) : NULL;
        cJSON *own = NULL;
        const cJSON *pt = cJSON_GetObjectItemCaseSensitive(rec, REC_POINT);
        if (!cJSON_IsObject(pt) && recs[i].point_json) pt = own = cJSON_Parse(recs[i].point_json);
        const cJSON *method = cJSON_GetObjectItemCaseSensitive(pt, REC_POINT_METHOD);
        double lambda = number_at(pt, REC_POINT_LAMBDA);
        if (cJSON_IsObject(pt) && isfinite(lambda) && lambda >= 0 &&
            !(cJSON_IsString(method) && strcmp(method->valuestring, REC_METHOD_MANUAL) == 0)) {
            RefineRow *r = &rows[n_rows];
            r->family = family_text(info, pt);
            if (!r->family) {
                cJSON_Delete(rec);
                cJSON_Delete(own);
                goto done;
            }
            r->lambda = lambda;
            r->ref = i;
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, REC_STATUS);
            r->acc_dev = number_at(cJSON_GetObjectItemCaseSensitive(rec, REC_ACCURACY), REC_DEV);
            r->log_ppl = number_at(rec, REC_LOG_PPL);
            r->ok = cJSON_IsString(st) && strcmp(st->valuestring, REC_STATUS_OK) == 0 && isfinite(r->acc_dev) &&
                    isfinite(r->log_ppl);
            n_rows++;
        }
        cJSON_Delete(rec);
        cJSON_Delete(own);
    }
    qsort(rows, (size_t)n_rows, sizeof *rows, cmp_rows);
    for (int f0 = 0, family = 0; f0 < n_rows; family++) {
        int f1 = f0, nl = 0;
        while (f1 < n_rows && strcmp(rows[f1].family, rows[f0].family) == 0) f1++;
        for (int r = f0; r < f1;) {   // the family's λs, each with the means of its ok runs
            RefineLambda *l = &ls[nl++];
            l->lambda = rows[r].lambda;
            l->r0 = r;
            double sa = 0, sl = 0;
            int k = 0;
            for (; r < f1 && rows[r].lambda == l->lambda; r++)
                if (rows[r].ok) {
                    sa += rows[r].acc_dev;
                    sl += rows[r].log_ppl;
                    k++;
                }
            l->r1 = r;
            l->acc_dev = k ? sa / k : NAN;
            l->log_ppl = k ? sl / k : NAN;
        }
        ResultsRefinement p = {0};
        int has = family_gap(ls, nl, &w, &p, err);
        if (has < 0) goto done;
        if (has) {
            // the points to copy: every run of the family at λa, whatever its status (the
            // replicate combinations the new λ needs)
            int at = 0;
            while (ls[at].lambda != p.lambda_a) at++;
            p.family = family;
            p.n_clone = ls[at].r1 - ls[at].r0;
            p.clone = malloc((size_t)p.n_clone * sizeof *p.clone);
            if (!p.clone) goto done;
            for (int k = 0; k < p.n_clone; k++) p.clone[k] = rows[ls[at].r0 + k].ref;
            props[n_props++] = p;
        }
        f0 = f1;
    }
    qsort(props, (size_t)n_props, sizeof *props, cmp_proposals);
    for (int i = max_new; i < n_props; i++) free(props[i].clone);
    *n_out = n_props < max_new ? n_props : max_new;
    *out = props;
    props = NULL;
    rc = 0;
done:
    if (rc) err_fail(err, "refine: out of memory (%d records)", n);
    if (props)
        for (int i = 0; i < n_props; i++) free(props[i].clone);
    free(props);
    for (int i = 0; i < n_rows; i++) free((char *)rows[i].family);
    free(rows);
    free(ls);
    free(w.acc), free(w.lp), free(w.gap), free(w.idx), free(w.front), free(w.order), free(w.on);
    return rc;
}

void results_refinements_free(ResultsRefinement *r, int n) {
    if (!r) return;
    for (int i = 0; i < n; i++) free(r[i].clone);
    free(r);
}
