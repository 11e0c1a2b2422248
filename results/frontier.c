// results/frontier.c: the numbers behind the Pareto frontier: Student-t quantiles for the
// 95% confidence intervals, seed statistics, the 2-D non-dominated sort (maximise accuracy,
// minimise log-PPL) and the 2-D hypervolume. Plain arrays in, no records, no files.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "results/results.h"

// ----------------------------------------------------------------------------
// Student's t

/* The continued fraction of the regularized incomplete beta function (modified Lentz, as in
 * Numerical Recipes' betacf). It converges in O(sqrt(max(a, b))) terms where it is used
 * (x < (a+1)/(a+b+2)); the cap only guards against a NaN argument looping forever. */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 200000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps) break;
    }
    return h;
}

/* I_x(a, b), the regularized incomplete beta function. */
static double beta_inc(double a, double b, double x) {
    if (x <= 0) return 0;
    if (x >= 1) return 1;
    double front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x));
    if (x < (a + 1) / (a + b + 2)) return front * beta_cf(a, b, x) / a;
    return 1 - front * beta_cf(b, a, 1 - x) / b;
}

/* P(T > t) for t >= 0: I_{df/(df+t^2)}(df/2, 1/2) / 2. */
static double t_upper_tail(double t, double df) {
    return 0.5 * beta_inc(0.5 * df, 0.5, df / (df + t * t));
}

/* Bisection on a decreasing tail function: the t >= 0 where tail(t) = q (0 < q < 1/2).
 * Bisection rather than Newton: the quantile is needed a few times per report, and
 * bisection cannot overshoot into x outside (0, 1) at df = 1's heavy tails. */
static double solve_tail(double q, double df, int normal) {
    double lo = 0, hi = 1;
    for (int i = 0; i < 2000; i++) {
        double tail = normal ? 0.5 * erfc(hi / sqrt(2.0)) : t_upper_tail(hi, df);
        if (tail < q) break;
        lo = hi;
        hi *= 2;
    }
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        double tail = normal ? 0.5 * erfc(mid / sqrt(2.0)) : t_upper_tail(mid, df);
        if (tail > q) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double results_t_quantile(double p, double df) {
    if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
    if (p == 0.5) return 0;
    double q = p > 0.5 ? 1 - p : p;   // the tail beyond the quantile
    // beyond 1e7 degrees of freedom t and the normal agree to ~1e-7 relative, and the
    // continued fraction would need ~sqrt(df) terms
    double t = solve_tail(q, df, df > 1e7 || isinf(df));
    return p > 0.5 ? t : -t;
}

void results_stats(const double *x, int n, ResultsStats *s) {
    s->n = 0;
    s->mean = s->sd = s->ci95 = NAN;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) { sum += x[i]; s->n++; }
    if (s->n == 0) return;
    s->mean = sum / s->n;
    if (s->n < 2) return;   // one seed: no spread to estimate
    double ss = 0;          // two passes: no cancellation for values far from 0
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - s->mean) * (x[i] - s->mean);
    s->sd = sqrt(ss / (s->n - 1));
    s->ci95 = results_t_quantile(0.975, s->n - 1) * s->sd / sqrt((double)s->n);
}

// ----------------------------------------------------------------------------
// the non-dominated sort and the hypervolume

typedef struct {
    double acc, lp;
    int i;
} XY;

/* log-PPL ascending, then accuracy descending, then index: a total order, so equal points
 * come out in the order they went in whatever qsort does. */
static int cmp_xy(const void *pa, const void *pb) {
    const XY *a = pa, *b = pb;
    if (a->lp != b->lp) return a->lp < b->lp ? -1 : 1;
    if (a->acc != b->acc) return a->acc > b->acc ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* The finite points (and, with a reference, only those that beat it), sorted; malloc'd. */
static XY *sorted_points(const double *acc, const double *lp, int n, int beat_ref, double ref_acc,
                         double ref_lp, int *m, Err *err) {
    XY *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v) {
        snprintf(err->msg, sizeof err->msg, "frontier: out of memory (%d points)", n);
        return NULL;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(acc[i]) || !isfinite(lp[i])) continue;
        if (beat_ref && !(acc[i] > ref_acc && lp[i] < ref_lp)) continue;
        v[k++] = (XY){acc[i], lp[i], i};
    }
    qsort(v, (size_t)k, sizeof *v, cmp_xy);
    *m = k;
    return v;
}

int results_pareto(const double *acc, const double *log_ppl, int n, unsigned char *on_front, int *front,
                   Err *err) {
    for (int i = 0; i < n; i++) on_front[i] = 0;
    int m = 0;
    XY *v = sorted_points(acc, log_ppl, n, 0, 0, 0, &m, err);
    if (!v) return -1;
    /* One pass in log-PPL order: everything seen before a point has log-PPL <= its own, so
     * it is dominated iff an earlier point has higher accuracy, or the same accuracy at a
     * strictly lower log-PPL. best_* is the first point (lowest log-PPL) reaching the best
     * accuracy so far; a point equal to it in both coordinates is a duplicate, which it
     * does not dominate, so duplicates of a frontier point are all on the frontier. */
    int nf = 0;
    double best_acc = -INFINITY, best_lp = NAN;
    for (int k = 0; k < m; k++) {
        int on = 0;
        if (v[k].acc > best_acc) {
            best_acc = v[k].acc;
            best_lp = v[k].lp;
            on = 1;
        } else if (v[k].acc == best_acc && v[k].lp == best_lp) {
            on = 1;
        }
        if (on) {
            on_front[v[k].i] = 1;
            front[nf++] = v[k].i;
        }
    }
    free(v);
    return nf;
}

int results_dominated(const double *acc, const double *log_ppl, const int *front, int n_front, double a,
                      double l) {
    if (!isfinite(a) || !isfinite(l)) return 1;
    // the last frontier point with log-PPL <= l: the most accurate of those (the front rises)
    int lo = 0, hi = n_front;   // first index with log-PPL > l
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (log_ppl[front[mid]] <= l) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return 0;
    int f = front[lo - 1];
    return acc[f] > a || (acc[f] == a && log_ppl[f] < l);
}

int results_hypervolume(const double *acc, const double *log_ppl, int n, double ref_acc, double ref_log_ppl,
                        double *hv, Err *err) {
    *hv = 0;
    int m = 0;
    XY *v = sorted_points(acc, log_ppl, n, 1, ref_acc, ref_log_ppl, &m, err);
    if (!v) return -1;
    /* The dominated region is the union of the boxes [lp_i, ref_lp] x [ref_acc, acc_i]. In
     * log-PPL order, point i adds the accuracy band above everything seen so far, and that
     * band reaches from lp_i to ref_lp: dominated points and duplicates add nothing. */
    double best = ref_acc, sum = 0;
    for (int k = 0; k < m; k++) {
        if (v[k].acc <= best) continue;
        sum += (ref_log_ppl - v[k].lp) * (v[k].acc - best);
        best = v[k].acc;
    }
    free(v);
    *hv = sum;
    return 0;
}
