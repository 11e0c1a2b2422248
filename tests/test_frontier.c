// tests/test_frontier.c: the frontier of results/ (results.h, issues 6 and 11): Student-t
// quantiles against known values (mpmath at 30 digits, and the closed forms for 1, 2 and 4
// degrees of freedom); seed statistics; the non-dominated sort and the hypervolume on
// hand-made sets with known answers (ties, duplicates, one point, all dominated, NaN) and on
// random sets against brute force; RFC 4180 quoting of prompts with commas, quotes and
// newlines; the report from hand-made records (columns, frontier flags, failed and pending
// points, the sidecar, the SVG); selection on dev (issue 11): records whose dev and test
// disagree get dev's frontier and best seed, test's kept apart, the new columns, old records
// without them, collapsed points, the hypervolume of the dev-chosen set at test means, the
// plot's staircase; the reference log-PPL from the records' vocabulary size (another than
// GPT-2's; none; records that disagree); files replaced whole. Issue 13: a point's keys as dotted
// paths; a nested key (pez.lr) makes configurations and columns; records differing only in split
// and seed are one configuration with statistics over all its runs (split given as "split" or
// as tune's "data" paths); other replicate lists; manual prompts as baselines (a configuration
// each, labelled markers on the plot) and a colour of its own for each tuned method.
#define TEST_NAME "test_frontier"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "results/results.h"
#include "results/results_internal.h"
#include "tests/testlib.h"

static int close_rel(double a, double b, double tol) { return fabs(a - b) <= tol * fmax(1.0, fabs(b)); }

// ----------------------------------------------------------------------------
// Student's t and the statistics

static void test_t_quantile(void) {
    // mpmath 1.3, 30 digits: the root of betainc(df/2, 1/2, 0, df/(df+t^2))/2 = 1 - p
    static const struct { double p, df, t; } known[] = {
        {0.975, 1, 12.706204736174693},  {0.975, 2, 4.3026527297494618},  {0.975, 3, 3.1824463052837084},
        {0.975, 4, 2.7764451051977935},  {0.975, 5, 2.5705818356363148},  {0.975, 9, 2.262157162798205},
        {0.975, 10, 2.2281388519862742}, {0.975, 29, 2.0452296421327039}, {0.975, 30, 2.0422724563012379},
        {0.975, 100, 1.9839715185235519}, {0.975, 1000, 1.9623390808264081}, {0.995, 10, 3.1692726726169507},
        {0.95, 1, 6.3137515146750374},   {0.975, 1e6, 1.9599663568141067},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        double t = results_t_quantile(known[i].p, known[i].df);
        CHECK(close_rel(t, known[i].t, 1e-10), "t(%g, %g) = %.17g, want %.17g", known[i].p, known[i].df, t, known[i].t);
        double lo = results_t_quantile(1 - known[i].p, known[i].df);   // symmetric
        CHECK(close_rel(lo, -known[i].t, 1e-9), "t(%g, %g) = %.17g", 1 - known[i].p, known[i].df, lo);
    }
    // the printed tables everyone knows
    CHECK(fabs(results_t_quantile(0.975, 1) - 12.706) < 5e-4, "12.706");
    CHECK(fabs(results_t_quantile(0.975, 2) - 4.303) < 5e-4, "4.303");
    CHECK(fabs(results_t_quantile(0.975, 4) - 2.776) < 5e-4, "2.776");
    CHECK(fabs(results_t_quantile(0.975, 9) - 2.262) < 5e-4, "2.262");
    CHECK(fabs(results_t_quantile(0.975, 29) - 2.045) < 5e-4, "2.045");
    CHECK(fabs(results_t_quantile(0.975, INFINITY) - 1.959963984540054) < 1e-10, "normal: %.17g",
          results_t_quantile(0.975, INFINITY));
    CHECK(fabs(results_t_quantile(0.975, 1e9) - 1.959963984540054) < 1e-8, "huge df");
    // closed forms over a range of p: df 1 (Cauchy), 2, 4
    for (double p = 0.51; p < 0.9995; p += 0.0123) {
        double t1 = tan(M_PI * (p - 0.5));
        double t2 = (2 * p - 1) / sqrt(2 * p * (1 - p));
        double a = 4 * p * (1 - p), q = cos(acos(sqrt(a)) / 3) / sqrt(a), t4 = 2 * sqrt(q - 1);
        CHECK(close_rel(results_t_quantile(p, 1), t1, 1e-11), "df 1, p %g: %.17g vs %.17g", p, results_t_quantile(p, 1), t1);
        CHECK(close_rel(results_t_quantile(p, 2), t2, 1e-11), "df 2, p %g", p);
        CHECK(close_rel(results_t_quantile(p, 4), t4, 1e-10), "df 4, p %g: %.17g vs %.17g", p, results_t_quantile(p, 4), t4);
    }
    CHECK(results_t_quantile(0.5, 7) == 0, "median");
    CHECK(isnan(results_t_quantile(0, 3)) && isnan(results_t_quantile(1, 3)) && isnan(results_t_quantile(0.9, 0)) &&
          isnan(results_t_quantile(NAN, 3)) && isnan(results_t_quantile(0.9, NAN)), "bad arguments give NaN");
    // fractional degrees of freedom lie between their neighbours
    double t25 = results_t_quantile(0.975, 2.5);
    CHECK(t25 < results_t_quantile(0.975, 2) && t25 > results_t_quantile(0.975, 3), "df 2.5: %g", t25);
}

static void test_stats(void) {
    ResultsStats s;
    double x[] = {1, 2, 3, 4};
    results_stats(x, 4, &s);
    double sd = sqrt(5.0 / 3.0);
    CHECK(s.n == 4 && s.mean == 2.5 && close_rel(s.sd, sd, 1e-15), "n %d mean %g sd %g", s.n, s.mean, s.sd);
    CHECK(close_rel(s.ci95, 3.1824463052837084 * sd / 2, 1e-10), "ci95 %.17g", s.ci95);
    double two[] = {0.5, 0.6};   // n 2: t(0.975, 1) = 12.706: wide
    results_stats(two, 2, &s);
    CHECK(close_rel(s.ci95, 12.706204736174693 * sqrt(0.005) / sqrt(2), 1e-10), "n 2 ci95 %.17g", s.ci95);
    double one[] = {0.7};
    results_stats(one, 1, &s);
    CHECK(s.n == 1 && s.mean == 0.7 && isnan(s.sd) && isnan(s.ci95), "one value: no spread");
    results_stats(one, 0, &s);
    CHECK(s.n == 0 && isnan(s.mean) && isnan(s.sd) && isnan(s.ci95), "no values");
    double gaps[] = {NAN, 2, INFINITY, 4};
    results_stats(gaps, 4, &s);
    CHECK(s.n == 2 && s.mean == 3 && close_rel(s.sd, sqrt(2), 1e-15), "non-finite values skipped");
    double same[] = {0.53, 0.53, 0.53};
    results_stats(same, 3, &s);
    CHECK(s.sd == 0 && s.ci95 == 0, "identical seeds: sd 0");
    double far[] = {1e9 + 1, 1e9 + 2, 1e9 + 3};   // two passes: no cancellation
    results_stats(far, 3, &s);
    CHECK(close_rel(s.sd, 1, 1e-9), "offset values: sd %.17g", s.sd);
}

// ----------------------------------------------------------------------------
// the frontier

static int pareto(const double *acc, const double *lp, int n, unsigned char *on, int *front) {
    Err err = {{0}};
    int nf = results_pareto(acc, lp, n, on, front, &err);
    if (nf < 0) die("results_pareto: %s", err.msg);
    return nf;
}

static int dominates(double a1, double l1, double a2, double l2) {
    return a1 >= a2 && l1 <= l2 && (a1 > a2 || l1 < l2);
}

static void test_pareto_known(void) {
    unsigned char on[16];
    int front[16];
    CHECK(pareto(NULL, NULL, 0, on, front) == 0, "empty set");
    {   // a single point
        double a[] = {0.7}, l[] = {3};
        CHECK(pareto(a, l, 1, on, front) == 1 && on[0] && front[0] == 0, "single point");
    }
    {   // a staircase with dominated points in between; front in log-PPL order
        double a[] = {0.8, 0.6, 0.7, 0.65, 0.9, 0.55};
        double l[] = {3, 1, 2, 2.5, 5, 4};
        int nf = pareto(a, l, 6, on, front);
        CHECK(nf == 4, "staircase: %d on the frontier", nf);
        CHECK(front[0] == 1 && front[1] == 2 && front[2] == 0 && front[3] == 4, "order %d %d %d %d", front[0], front[1],
              front[2], front[3]);
        CHECK(!on[3] && !on[5] && on[0] && on[1] && on[2] && on[4], "flags");
        CHECK(results_dominated(a, l, front, nf, 0.65, 2.5) && results_dominated(a, l, front, nf, 0.55, 4),
              "the dominated points are dominated");
        CHECK(!results_dominated(a, l, front, nf, 0.8, 3) && !results_dominated(a, l, front, nf, 0.75, 2.5) &&
                  !results_dominated(a, l, front, nf, 0.95, 6) && !results_dominated(a, l, front, nf, 0.5, 0.5),
              "frontier points, gaps of the staircase and points beyond it are not");
        CHECK(results_dominated(a, l, front, nf, 0.7, 2.0001) && results_dominated(a, l, front, nf, 0.6999, 2),
              "a hair behind a frontier point is dominated");
    }
    {   // all dominated by one point
        double a[] = {0.7, 0.9, 0.8, 0.6};
        double l[] = {3, 1, 2, 4};
        CHECK(pareto(a, l, 4, on, front) == 1 && front[0] == 1 && on[1] && !on[0] && !on[2] && !on[3], "one dominates all");
    }
    {   // ties in one coordinate: the other decides
        double a[] = {0.6, 0.7, 0.7};
        double l[] = {2, 2, 3};
        CHECK(pareto(a, l, 3, on, front) == 1 && on[1] && !on[0] && !on[2], "tie in log-PPL and in accuracy");
    }
    {   // exact duplicates of a frontier point: all on it, in index order; duplicates of a
        // dominated point: all off
        double a[] = {0.8, 0.8, 0.5, 0.5, 0.8, 0.9};
        double l[] = {2, 2, 3, 3, 2, 4};
        int nf = pareto(a, l, 6, on, front);
        CHECK(nf == 4 && front[0] == 0 && front[1] == 1 && front[2] == 4 && front[3] == 5, "duplicates: %d", nf);
        CHECK(!on[2] && !on[3], "dominated duplicates off");
        CHECK(!results_dominated(a, l, front, nf, 0.8, 2), "a duplicate of a frontier point is not dominated");
    }
    {   // every point the same
        double a[] = {0.5, 0.5, 0.5}, l[] = {1, 1, 1};
        CHECK(pareto(a, l, 3, on, front) == 3, "all equal: all on the frontier");
    }
    {   // NaN and infinity are never on it and do not block others
        double a[] = {NAN, 0.6, 0.9, 0.7};
        double l[] = {1, 2, -INFINITY, NAN};
        CHECK(pareto(a, l, 4, on, front) == 1 && on[1] && !on[0] && !on[2] && !on[3], "non-finite points left out");
        CHECK(results_dominated(a, l, front, 1, NAN, 1), "a NaN query counts as dominated");
    }
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) { return xorshift64(&rng_state); }

/* The union of the boxes [l_i, rl] x [ra, a_i] by coordinate compression: O(n^3), obviously right. */
static double hv_brute(const double *a, const double *l, int n, double ra, double rl) {
    double xs[64], ys[64];
    int nx = 0, ny = 0;
    for (int i = 0; i < n; i++)
        if (a[i] > ra && l[i] < rl) xs[nx++] = l[i], ys[ny++] = a[i];
    xs[nx++] = rl, ys[ny++] = ra;
    double area = 0;
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++) {
            // the cell from xs[i] to the next larger x, from ys[j] to the next larger y
            double x1 = INFINITY, y1 = INFINITY;
            for (int k = 0; k < nx; k++) if (xs[k] > xs[i] && xs[k] < x1) x1 = xs[k];
            for (int k = 0; k < ny; k++) if (ys[k] > ys[j] && ys[k] < y1) y1 = ys[k];
            if (isinf(x1) || isinf(y1)) continue;
            int dup = 0;   // count each cell once
            for (int k = 0; k < i; k++) dup |= xs[k] == xs[i];
            for (int k = 0; k < j; k++) dup |= ys[k] == ys[j];
            if (dup) continue;
            double cx = 0.5 * (xs[i] + x1), cy = 0.5 * (ys[j] + y1);
            int covered = 0;
            for (int k = 0; k < n && !covered; k++) covered = a[k] > ra && l[k] < rl && l[k] <= cx && a[k] >= cy;
            if (covered) area += (x1 - xs[i]) * (y1 - ys[j]);
        }
    return area;
}

static double hv(const double *a, const double *l, int n, double ra, double rl) {
    Err err = {{0}};
    double v = -1;
    if (results_hypervolume(a, l, n, ra, rl, &v, &err)) die("results_hypervolume: %s", err.msg);
    return v;
}

static void test_pareto_random(void) {
    // small integer grids: many ties and duplicates
    unsigned char on[40];
    int front[40];
    double a[40], l[40];
    int bad = 0, bad_hv = 0;
    for (int trial = 0; trial < 2000; trial++) {
        int n = 1 + (int)(rng() % 40);
        int grid = 2 + (int)(rng() % 8);
        for (int i = 0; i < n; i++) {
            a[i] = (double)(rng() % (uint64_t)grid) / grid;
            l[i] = (double)(rng() % (uint64_t)grid);
        }
        int nf = pareto(a, l, n, on, front);
        int count = 0;
        for (int i = 0; i < n; i++) {
            int dominated = 0;
            for (int k = 0; k < n; k++) dominated |= dominates(a[k], l[k], a[i], l[i]);
            bad += on[i] == dominated;
            bad += results_dominated(a, l, front, nf, a[i], l[i]) != dominated;
            count += !dominated;
        }
        bad += count != nf;
        for (int k = 1; k < nf; k++)   // log-PPL order, accuracy rising, duplicates by index
            bad += !(l[front[k - 1]] < l[front[k]] ? a[front[k - 1]] < a[front[k]]
                                                   : l[front[k - 1]] == l[front[k]] && a[front[k - 1]] == a[front[k]] &&
                                                         front[k - 1] < front[k]);
        double ra = 0.25, rl = grid * 0.8;
        double h = hv(a, l, n, ra, rl), hb = hv_brute(a, l, n, ra, rl);
        bad_hv += !close_rel(h, hb, 1e-12);
        // the frontier alone has the same hypervolume
        double fa[40], fl[40];
        for (int k = 0; k < nf; k++) fa[k] = a[front[k]], fl[k] = l[front[k]];
        bad_hv += !close_rel(hv(fa, fl, nf, ra, rl), h, 1e-12);
    }
    CHECK(bad == 0, "random sets: %d disagreements with brute force", bad);
    CHECK(bad_hv == 0, "random sets: %d hypervolume disagreements", bad_hv);
}

static void test_hypervolume_known(void) {
    CHECK(hv(NULL, NULL, 0, 0.5, 10) == 0, "empty set");
    double a1[] = {0.8}, l1[] = {2};
    CHECK(close_rel(hv(a1, l1, 1, 0.5, 10), 8 * 0.3, 1e-15), "one point: %.17g", hv(a1, l1, 1, 0.5, 10));
    double a2[] = {0.6, 0.8}, l2[] = {1, 3};   // 9 x 0.1 + 7 x 0.2
    CHECK(close_rel(hv(a2, l2, 2, 0.5, 10), 2.3, 1e-14), "staircase of two: %.17g", hv(a2, l2, 2, 0.5, 10));
    double a3[] = {0.6, 0.8, 0.6, 0.7, 0.8, 0.55};   // plus duplicates and dominated points
    double l3[] = {1, 3, 1, 4, 3, 2};
    CHECK(close_rel(hv(a3, l3, 6, 0.5, 10), 2.3, 1e-14), "dominated and duplicate points add nothing");
    double a4[] = {0.5, 0.4, 0.9}, l4[] = {1, 2, 10};   // at or behind the reference in a coordinate
    CHECK(hv(a4, l4, 3, 0.5, 10) == 0, "points not beating the reference add nothing");
    double a5[] = {0.9, NAN}, l5[] = {12, 1};
    CHECK(hv(a5, l5, 2, 0.5, 10.824905) == 0, "beyond ln V and NaN: 0");
    double a6[] = {1.0}, l6[] = {0};   // the ideal point: the whole box
    CHECK(close_rel(hv(a6, l6, 1, 0.5, log(50257)), 0.5 * log(50257), 1e-15), "the ideal point fills the box");
}

// ----------------------------------------------------------------------------
// CSV

static void field(const char *in, const char *want) {
    ResultsBuf b = {0};
    results_csv_field(&b, in);
    CHECK(b.len == strlen(want) && memcmp(b.s ? b.s : "", want, b.len) == 0, "field [%s]: [%s], want [%s]",
          in ? in : "(null)", b.s ? b.s : "", want);
    results_buf_free(&b);
}

static void number(double x, const char *want) {
    ResultsBuf b = {0};
    results_csv_number(&b, x);
    CHECK(strcmp(b.s ? b.s : "", want) == 0, "number %.17g: [%s], want [%s]", x, b.s ? b.s : "", want);
    results_buf_free(&b);
}

static void test_csv_quoting(void) {
    field("plain", "plain");
    field("", "");
    field(NULL, "");
    field("a,b", "\"a,b\"");
    field("say \"hi\"", "\"say \"\"hi\"\"\"");
    field("\"", "\"\"\"\"");
    field("line1\nline2", "\"line1\nline2\"");
    field("cr\rlf\r\n", "\"cr\rlf\r\n\"");
    field(" great", "\" great\"");
    field("great ", "\"great \"");
    field("in side", "in side");
    field("It was, \"really\"\ngood", "\"It was, \"\"really\"\"\ngood\"");
    field("\xce\xbb=0.1 caf\xc3\xa9", "\xce\xbb=0.1 caf\xc3\xa9");
    field("bad\xff byte", "bad\xef\xbf\xbd byte");
    field("cut \xe2\x82", "cut \xef\xbf\xbd\xef\xbf\xbd");
    field("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");   // a UTF-16 surrogate is not UTF-8
    number(150, "150.0");
    number(-3, "-3.0");
    number(0.1, "0.1");
    number(-0.0, "0.0");
    number(1e-05, "1e-05");
    number(0.485, "0.485");
    number(1.0 / 3, "0.3333333333333333");
    number(25914.880397158497, "25914.880397158497");
    number(NAN, "");
    number(INFINITY, "");
    number(1e20, "1e+20");
}

/* An RFC 4180 reader, for checking what was written: fields of each record, quotes
 * undone. Returns the number of records; fields[r][f] point into the copy. */
typedef struct {
    char *text;
    int n_records;
    int n_fields[64];
    char *fields[64][96];   // (the records of these tests fit)
} Csv;

static int csv_parse(Csv *c, const char *src) {
    memset(c, 0, sizeof *c);
    c->text = xmalloc(strlen(src) + 1);
    const char *p = src;
    char *w = c->text;
    while (*p && c->n_records < 64) {
        int r = c->n_records, f = 0;
        for (;;) {
            if (f == 96) return -1;
            c->fields[r][f++] = w;
            if (*p == '"') {
                p++;
                for (;;) {
                    if (!*p) return -1;   // unterminated quote
                    if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; continue; }
                    if (*p == '"') { p++; break; }
                    *w++ = *p++;
                }
            } else {
                while (*p && *p != ',' && *p != '\r' && *p != '\n') {
                    if (*p == '"') return -1;   // a quote inside an unquoted field
                    *w++ = *p++;
                }
            }
            *w++ = '\0';
            if (*p == ',') { p++; continue; }
            if (p[0] == '\r' && p[1] == '\n') { p += 2; break; }
            if (!*p) break;
            return -1;   // a bare CR or LF ends no record in what we write
        }
        c->n_fields[r] = f;
        c->n_records++;
    }
    return c->n_records;
}

static int column(const Csv *c, const char *name) {
    for (int f = 0; f < c->n_fields[0]; f++)
        if (strcmp(c->fields[0][f], name) == 0) return f;
    return -1;
}

// ----------------------------------------------------------------------------
// the report from hand-made records

/* A record of tune 1 (issue 4): none of issue 11's fields; dev accuracy = test accuracy, so
 * that the frontier chosen on dev is the one on test. */
static char *record(const char *method, double lambda, int length, int seed, double acc, double lp, const char *prompt_json) {
    char *s = xmalloc(2048);
    snprintf(s, 2048,
             "{\"point\":{\"method\":\"%s\",\"task\":\"sst-2\",\"lambda\":%g,\"prompt_length\":%d,\"seed\":%d,"
             "\"verbalizers\":[\" terrible\",\" great\"]},\"status\":\"ok\",\"error\":null,"
             "\"prompt\":{\"ids\":[1,2,3],\"text\":%s},\"accuracy\":{\"train\":0.9,\"dev\":%.17g,\"test\":%.17g},"
             "\"log_ppl\":%.17g,\"ppl\":%.17g,\"dict_share\":0.5,"
             "\"faithfulness\":{\"acc_continuous\":%.17g,\"acc_projected\":%.17g,\"kl\":0.01},\"steps\":100,"
             "\"best_step\":50,\"wall_seconds\":1.5,\"history\":[],\"versions\":{\"tune\":\"tune 1 (issue 4)\"}}",
             method, lambda, length, seed, prompt_json, acc, acc, lp, exp(lp), acc + 0.05, acc);
    return s;
}

/* refs[i]: record recs[i] (NULL: pending), id i in 64 digits, one attempt. */
static void refs_of(ResultsRecordRef *refs, char (*ids)[65], char *const *recs, int n) {
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], 65, "%064d", i);
        refs[i] = (ResultsRecordRef){.id = ids[i], .attempts = 1, .record = recs[i]};
    }
}

static void test_report(void) {
    // pez: lambda 0 (acc .80/.82, lp 6/6.2), lambda 1 (acc .70/.72, lp 4/4.4), lambda 2
    // (dominated by lambda 1: acc .68, lp 4.5), rlprompt: lambda 0 one seed ok and one failed,
    // a pending point, a record that is not JSON
    const char *tricky = "\"It was, \\\"really\\\"\\ngood\"";   // It was, "really"<LF>good
    char *recs[11];
    recs[0] = record("pez", 0, 5, 1, 0.80, 6.0, "\" great\"");
    recs[1] = record("pez", 0, 5, 2, 0.82, 6.2, tricky);
    recs[2] = record("pez", 1, 5, 1, 0.70, 4.0, "\"a,b\"");
    recs[3] = record("pez", 1, 5, 2, 0.72, 4.4, "\"plain\"");
    recs[4] = record("pez", 2, 5, 1, 0.68, 4.5, "\"x\"");
    recs[5] = record("pez", 2, 5, 2, 0.68, 4.5, "\"x\"");
    recs[6] = record("rlprompt", 0, 5, 1, 0.75, 3.0, "\"r\"");
    recs[7] = strdup("{\"point\":{\"method\":\"rlprompt\",\"task\":\"sst-2\",\"lambda\":0,\"prompt_length\":5,\"seed\":2,"
                     "\"verbalizers\":[\" terrible\",\" great\"]},\"status\":\"failed\",\"error\":\"crashed: killed by signal 11\"}");
    recs[8] = NULL;   // pending
    recs[9] = strdup("{\"point\": {\"method\": \"pez\"");
    recs[10] = record("pez", 0, 5, 3, 0.84, 6.4, "\"s3\"");   // a third seed for lambda 0
    ResultsRecordRef refs[11];
    char ids[11][65];
    refs_of(refs, ids, recs, 11);
    refs[7].attempts = 2;
    refs[8].point_json = "{\"method\":\"rlprompt\",\"task\":\"sst-2\",\"lambda\":1,\"prompt_length\":5,\"seed\":1}";
    refs[9].point_json = "{\"method\":\"pez\",\"task\":\"sst-2\",\"lambda\":3,\"prompt_length\":5,\"seed\":1}";
    ResultsRunInfo info = {.source = "test/journal", .spec_sha256 = "ab", .model_sha256 = "cd", .journal_version = 1,
                           .created = 1700000000, .now = 1700000100};
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    ResultsFrontierSummary sum;
    Err err = {{0}};
    CHECK(results_frontier_build(&info, refs, 11, out, &sum, &err) == 0, "build: %s", err.msg);
    CHECK(sum.n_points == 11 && sum.n_ok == 8 && sum.n_failed == 2 && sum.n_pending == 1, "summary %d %d %d %d",
          sum.n_points, sum.n_ok, sum.n_failed, sum.n_pending);

    // points.csv: a row per point, constant width, the prompts back as they were
    Csv c;
    int nr = csv_parse(&c, out[RESULTS_POINTS_CSV].s);
    CHECK(nr == 12, "points.csv: %d records", nr);
    for (int r = 1; r < nr; r++) CHECK(c.n_fields[r] == c.n_fields[0], "points.csv row %d: %d fields", r, c.n_fields[r]);
    int fp = column(&c, "prompt"), fs = column(&c, "status"), fe = column(&c, "error"), fa = column(&c, "acc_test");
    CHECK(fp >= 0 && fs >= 0 && fe >= 0 && fa >= 0, "columns");
    if (nr == 12 && fp >= 0) {
        CHECK(strcmp(c.fields[1][fp], " great") == 0, "leading space kept: [%s]", c.fields[1][fp]);
        CHECK(strcmp(c.fields[2][fp], "It was, \"really\"\ngood") == 0, "comma, quotes, newline: [%s]", c.fields[2][fp]);
        CHECK(strcmp(c.fields[3][fp], "a,b") == 0, "comma");
        CHECK(strcmp(c.fields[8][fs], "failed") == 0 && strstr(c.fields[8][fe], "signal 11") && !c.fields[8][fa][0],
              "failed row: status, error, no metrics");
        CHECK(strcmp(c.fields[9][fs], "pending") == 0, "pending row: %s", c.fields[9][fs]);
        CHECK(strcmp(c.fields[10][fs], "failed") == 0 && strstr(c.fields[10][fe], "not valid JSON"), "broken record");
        CHECK(strcmp(c.fields[1][column(&c, "faith_gap")], "0.05") == 0, "gap %s (0.85 - 0.8, rounded)",
              c.fields[1][column(&c, "faith_gap")]);
    }
    free(c.text);

    // frontier.csv: a row per configuration
    nr = csv_parse(&c, out[RESULTS_FRONTIER_CSV].s);
    CHECK(nr == 7, "frontier.csv: %d records", nr);   // header + pez 0,1,2,3 + rlprompt 0,1
    for (int r = 1; r < nr; r++) CHECK(c.n_fields[r] == c.n_fields[0], "frontier.csv row %d: %d fields", r, c.n_fields[r]);
    int fm = column(&c, "method"), fl = column(&c, "lambda"), fn = column(&c, "n_seeds"), fo = column(&c, "on_frontier"),
        fo2 = column(&c, "on_frontier_all"), fci = column(&c, "acc_test_ci95"), fmean = column(&c, "acc_test_mean"),
        fov = column(&c, "ci_overlaps_frontier"), ff = column(&c, "n_failed"), fpend = column(&c, "n_pending"),
        fbp = column(&c, "best_prompt");
    if (nr == 7) {
        // rows sorted: pez 0, pez 1, pez 2, pez 3 (only a broken record), rlprompt 0, rlprompt 1 (pending)
        const char *want_l[] = {"0.0", "1.0", "2.0", "3.0", "0.0", "1.0"};
        for (int r = 1; r < 7; r++) CHECK(strcmp(c.fields[r][fl], want_l[r - 1]) == 0, "row %d lambda %s", r, c.fields[r][fl]);
        CHECK(strcmp(c.fields[1][fm], "pez") == 0 && strcmp(c.fields[5][fm], "rlprompt") == 0, "methods");
        CHECK(strcmp(c.fields[1][fn], "3") == 0 && strcmp(c.fields[5][fn], "1") == 0 && strcmp(c.fields[5][ff], "1") == 0 &&
                  strcmp(c.fields[6][fpend], "1") == 0 && strcmp(c.fields[4][ff], "1") == 0, "counts");
        CHECK(close_rel(atof(c.fields[1][fmean]), 0.82, 1e-12), "mean %s", c.fields[1][fmean]);
        CHECK(close_rel(atof(c.fields[1][fci]), 4.3026527297494618 * 0.02 / sqrt(3), 1e-9), "ci95 %s", c.fields[1][fci]);
        // within pez: lambda 0 (.82, 6.2) and 1 (.71, 4.2) on it, 2 (.68, 4.5) dominated by 1
        CHECK(!strcmp(c.fields[1][fo], "1") && !strcmp(c.fields[2][fo], "1") && !strcmp(c.fields[3][fo], "0") &&
                  !strcmp(c.fields[4][fo], "0"), "pez frontier");
        // lambda 2 has zero spread: its CI does not reach lambda 1
        CHECK(!strcmp(c.fields[3][fov], "0"), "pez lambda 2 CI: %s", c.fields[3][fov]);
        CHECK(!strcmp(c.fields[4][fov], ""), "no seeds: overlap unknown");
        // across methods rlprompt (.75, 3.0) dominates pez lambda 1 (.71, 4.2)
        CHECK(!strcmp(c.fields[5][fo], "1") && !strcmp(c.fields[5][fo2], "1") && !strcmp(c.fields[1][fo2], "1") &&
                  !strcmp(c.fields[2][fo2], "0"), "frontier across methods");
        CHECK(!strcmp(c.fields[5][fov], "1") && !strcmp(c.fields[5][fci], ""), "one seed: no CI");
        // records of tune 1: no objective, so the best seed is the highest dev accuracy (= test here)
        CHECK(!strcmp(c.fields[1][fbp], "s3"), "best prompt: the best seed's: %s", c.fields[1][fbp]);
        // dev = test in these records: test's frontier is dev's
        CHECK(!strcmp(c.fields[1][column(&c, "on_frontier_test")], "1") &&
                  !strcmp(c.fields[3][column(&c, "on_frontier_test")], "0") &&
                  !strcmp(c.fields[2][column(&c, "on_frontier_all_test")], "0"), "the _test columns");
        // none of issue 11's fields: empty, not 0
        static const char *const empty[] = {"class_acc_test_mean", "n_collapsed", "n_roundtrip", "obj_total_mean",
                                            "acc_test_text_mean", "bal_acc_test_mean", "distinct_share_mean"};
        for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++)
            CHECK(column(&c, empty[k]) >= 0 && !c.fields[1][column(&c, empty[k])][0], "old records: %s empty",
                  empty[k]);
        CHECK(close_rel(atof(c.fields[1][column(&c, "acc_dev_mean")]), 0.82, 1e-12), "acc_dev_mean");
    }
    free(c.text);

    // frontier.json
    cJSON *j = cJSON_Parse(out[RESULTS_FRONTIER_JSON].s);
    CHECK(j != NULL, "frontier.json parses");
    const cJSON *failed = cJSON_GetObjectItem(j, "failed");
    CHECK(cJSON_GetArraySize(failed) == 2, "two failed points listed");
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "spec_sha256")), "ab") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "model_sha256")), "cd") &&
              !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "date")), "2023-11-14T22:15:00Z"),
          "provenance");
    const cJSON *ref = cJSON_GetObjectItem(j, "reference");
    CHECK(close_rel(cJSON_GetObjectItem(ref, "log_ppl")->valuedouble, log(50257), 1e-15), "ln V");
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ref, "tasks"), "sst-2"), "chance_accuracy")->valuedouble == 0.5,
          "chance from the verbalizers");
    const cJSON *fr = cJSON_GetObjectItem(j, "frontiers");
    CHECK(cJSON_GetArraySize(fr) == 3, "frontiers: all, pez, rlprompt");
    const cJSON *pez = cJSON_GetArrayItem(fr, 1);
    double lnv = log(50257);
    // pez frontier (.71, 4.2), (.82, 6.2) against (0.5, ln V)
    double want = (lnv - 4.2) * 0.21 + (lnv - 6.2) * 0.11;
    CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(pez, "method")), "pez") &&
              close_rel(cJSON_GetObjectItem(pez, "hypervolume")->valuedouble, want, 1e-12),
          "pez hypervolume %.17g, want %.17g", cJSON_GetObjectItem(pez, "hypervolume")->valuedouble, want);
    const cJSON *ps = cJSON_GetObjectItem(pez, "per_seed_hypervolume");
    CHECK(cJSON_GetObjectItem(ps, "n")->valueint == 3, "three seeds");
    // seed 1: (.80, 6), (.70, 4), (.68, 4.5): (lnv-4)*.2 + (lnv-6)*.1 ; seed 2: (.82, 6.2), (.72, 4.4), (.68, 4.5);
    // seed 3: (.84, 6.4)
    double s1 = (lnv - 4) * 0.2 + (lnv - 6) * 0.1, s2 = (lnv - 4.4) * 0.22 + (lnv - 6.2) * 0.1, s3 = (lnv - 6.4) * 0.34;
    CHECK(close_rel(cJSON_GetObjectItem(ps, "mean")->valuedouble, (s1 + s2 + s3) / 3, 1e-12), "per-seed mean");
    cJSON_Delete(j);

    // frontier.svg: well-formed enough to start and end right, one label per point
    const char *svg = out[RESULTS_FRONTIER_SVG].s;
    CHECK(!strncmp(svg, "<?xml", 5) && strstr(svg, "</svg>\n") && strstr(svg, "\xce\xbb=0") && strstr(svg, "rlprompt"),
          "svg");
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    for (int i = 0; i < 11; i++) free(recs[i]);

    // nothing at all, and only pending points: still four files
    memset(out, 0, sizeof out);
    CHECK(results_frontier_build(&info, NULL, 0, out, &sum, &err) == 0 && out[RESULTS_FRONTIER_SVG].len > 0 &&
              csv_parse(&c, out[RESULTS_FRONTIER_CSV].s) == 1,
          "an empty sweep: %s", err.msg);
    free(c.text);
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    memset(out, 0, sizeof out);
    CHECK(results_frontier_build(&info, refs + 8, 1, out, &sum, &err) == 0 && sum.n_pending == 1, "only pending");
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
}

/* A record of tune 2 (issue 11): dev and test apart, the dev objective (obj NaN: none), the
 * per-class numbers (JSON arrays as text), collapse and round trip. */
static char *record2(const char *method, double lambda, int seed, double dev, double test, double lp, double obj,
                     int collapsed, int roundtrip, const char *class_test, const char *share_test) {
    char objective[256] = "";
    if (!isnan(obj))
        snprintf(objective, sizeof objective,
                 "\"objective\":{\"split\":\"dev\",\"form\":\"additive\",\"lambda\":%g,\"w_task\":1,\"w_interp\":%g,"
                 "\"task\":%.17g,\"interp\":%.17g,\"total\":%.17g},",
                 lambda, lambda, obj - lambda * lp, lp, obj);
    char *s = xmalloc(4096);
    snprintf(s, 4096,
             "{\"point\":{\"method\":\"%s\",\"task\":\"sst-2\",\"lambda\":%g,\"prompt_length\":5,\"seed\":%d,"
             "\"verbalizers\":[\" terrible\",\" great\"]},\"status\":\"ok\",\"error\":null,"
             "\"prompt\":{\"ids\":[1,2,3],\"text\":\"p%d\",\"text_ids\":[1,2,3],\"roundtrip\":%s,\"roundtrip_share\":%s},"
             "\"accuracy\":{\"train\":0.9,\"dev\":%.17g,\"test\":%.17g,\"test_text\":%.17g},"
             "\"balanced_accuracy\":{\"train\":0.8,\"dev\":0.7,\"test\":0.6},"
             "\"class_accuracy\":{\"train\":[null,1],\"dev\":[0.5,0.875],\"test\":%s},"
             "\"prediction_share\":{\"train\":[0.5,0.5],\"dev\":[0.5,0.5],\"test\":%s},\"collapsed\":%s,%s"
             "\"task_loss\":{\"train\":0.3,\"dev\":0.4,\"test\":0.5},"
             "\"log_ppl\":%.17g,\"ppl\":%.17g,\"dict_share\":0.5,\"distinct_share\":0.75,\"vocab_size\":50257,"
             "\"faithfulness\":{\"acc_continuous\":%.17g,\"acc_projected\":%.17g,\"kl\":0.01},\"steps\":100,"
             "\"best_step\":50,\"wall_seconds\":1.5,\"history\":[],\"versions\":{\"tune\":\"tune 2 (issue 11)\"}}",
             method, lambda, seed, seed, roundtrip ? "true" : "false", roundtrip ? "1" : "0.5", dev, test, test - 0.01,
             class_test, share_test, collapsed ? "true" : "false", objective, lp, exp(lp), test, test);
    return s;
}

static const char *cell(const Csv *c, int r, const char *name) {
    int f = column(c, name);
    if (f < 0 || r >= c->n_records || f >= c->n_fields[r]) die("no cell %s in record %d", name, r);
    return c->fields[r][f];
}

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = jget(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Issue 11: dev and test disagree. pez lambda 0 (A) is better on dev, lambda 1 (B) on test, at the
 * same log-PPL; lambda 2 (C) is on both frontiers, one seed an old record; rlprompt (R) has the
 * best dev accuracy and chance-level test accuracy. The frontier, the best seeds and the
 * hypervolumes must come from dev; test's choice only in the _test columns and test_chosen. */
static void test_report_dev(void) {
    const char *cls = "[0.5,0.75]", *even = "[0.5,0.5]";
    char *recs[9];
    //                   method      lambda seed dev   test  lp   obj  coll rt class test       share test
    recs[0] = record2("pez", 0, 1, 0.88, 0.72, 5.0, 1.2, 0, 1, cls, even);            // A: higher test,
    recs[1] = record2("pez", 0, 2, 0.92, 0.68, 5.0, 1.0, 0, 0, "[0.25,1]", "[0.4,0.6]");   // lower objective
    recs[2] = record2("pez", 1, 1, 0.80, 0.74, 5.0, 1.1, 0, 1, cls, "[0.6,0.4]");          // B
    recs[3] = record2("pez", 1, 2, 0.80, 0.76, 5.0, 1.3, 1, 1, "[1,0.0]", "[0.97,0.03]");  // B, collapsed
    recs[4] = record("pez", 2, 5, 1, 0.60, 3.0, "\"old\"");                                // C: tune 1
    recs[5] = record2("pez", 2, 2, 0.60, 0.60, 3.0, 2.0, 0, 0, cls, even);                 // C
    recs[6] = record2("rlprompt", 0, 1, 0.94, 0.44, 6.0, 0.5, 0, 1, cls, even);            // R: objective tie,
    recs[7] = record2("rlprompt", 0, 2, 0.96, 0.40, 6.0, 0.5, 0, 1, cls, even);            // higher dev wins
    recs[8] = record2("rlprompt", 1, 1, 0.50, 0.45, 7.0, NAN, 0, 1, cls, even);            // no objective
    int n = 9;
    ResultsRecordRef refs[9];
    char ids[9][65];
    refs_of(refs, ids, recs, n);
    ResultsRunInfo info = {.source = "test/journal", .journal_version = 1, .now = 1700000100};
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    ResultsFrontierSummary sum;
    Err err = {{0}};
    CHECK(results_frontier_build(&info, refs, n, out, &sum, &err) == 0, "build: %s", err.msg);
    CHECK(sum.n_ok == 9 && sum.n_configs == 5 && sum.n_on_front == 3, "summary: %d ok, %d configs, %d on front",
          sum.n_ok, sum.n_configs, sum.n_on_front);

    // points.csv: the documented columns, the new values, an old record's empty cells
    Csv c;
    int nr = csv_parse(&c, out[RESULTS_POINTS_CSV].s);
    CHECK(nr == n + 1, "points.csv: %d records", nr);
    static const char *const pcols[] = {
        "id", "task", "method", "lambda", "prompt_length", "seed", "status", "attempts", "error", "acc_test", "acc_dev",
        "acc_train", "acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train", "class_acc_test", "class_acc_dev",
        "class_acc_train", "majority_share_test", "collapsed", "obj_task", "obj_interp", "obj_total", "log_ppl", "ppl",
        "dict_share", "distinct_share", "acc_continuous", "acc_projected", "faith_gap", "faith_kl", "steps",
        "best_step", "wall_seconds", "roundtrip", "roundtrip_share", "prompt_ids", "prompt"};
    int np = (int)(sizeof pcols / sizeof pcols[0]);
    CHECK(nr > 0 && c.n_fields[0] == np, "points.csv: %d columns, want %d", c.n_fields[0], np);
    for (int f = 0; f < np && f < c.n_fields[0]; f++)
        CHECK(strcmp(c.fields[0][f], pcols[f]) == 0, "points.csv column %d: %s, want %s", f, c.fields[0][f], pcols[f]);
    for (int r = 1; r < nr; r++) CHECK(c.n_fields[r] == c.n_fields[0], "points.csv row %d: %d fields", r, c.n_fields[r]);
    if (nr == n + 1 && c.n_fields[0] == np) {
        static const char *const want1[][2] = {   // record 0: A seed 1
            {"acc_test", "0.72"}, {"acc_dev", "0.88"}, {"acc_train", "0.9"}, {"acc_test_text", "0.71"},
            {"bal_acc_test", "0.6"}, {"bal_acc_dev", "0.7"}, {"bal_acc_train", "0.8"},
            {"class_acc_test", "0.5 0.75"}, {"class_acc_dev", "0.5 0.875"}, {"class_acc_train", "nan 1.0"},
            {"majority_share_test", "0.5"}, {"collapsed", "0"}, {"obj_task", "1.2"}, {"obj_interp", "5.0"},
            {"obj_total", "1.2"}, {"distinct_share", "0.75"}, {"roundtrip", "1"}, {"roundtrip_share", "1.0"},
            {"prompt", "p1"},
        };
        for (size_t k = 0; k < sizeof want1 / sizeof want1[0]; k++)
            CHECK(strcmp(cell(&c, 1, want1[k][0]), want1[k][1]) == 0, "A seed 1 %s: [%s], want [%s]", want1[k][0],
                  cell(&c, 1, want1[k][0]), want1[k][1]);
        CHECK(!strcmp(cell(&c, 4, "collapsed"), "1") && !strcmp(cell(&c, 4, "majority_share_test"), "0.97") &&
                  !strcmp(cell(&c, 4, "class_acc_test"), "1.0 0.0"),
              "B seed 2 collapsed: %s %s", cell(&c, 4, "collapsed"), cell(&c, 4, "majority_share_test"));
        CHECK(!strcmp(cell(&c, 2, "roundtrip"), "0") && !strcmp(cell(&c, 2, "roundtrip_share"), "0.5"), "no round trip");
        // the old record: ok, its metrics, every new cell empty
        CHECK(!strcmp(cell(&c, 5, "status"), "ok") && !strcmp(cell(&c, 5, "acc_dev"), "0.6") &&
                  !strcmp(cell(&c, 5, "acc_test"), "0.6"), "old record ok");
        static const char *const empty[] = {"acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train",
                                            "class_acc_test", "class_acc_dev", "class_acc_train", "majority_share_test",
                                            "collapsed", "obj_task", "obj_interp", "obj_total", "distinct_share",
                                            "roundtrip", "roundtrip_share"};
        for (size_t k = 0; k < sizeof empty / sizeof empty[0]; k++)
            CHECK(!cell(&c, 5, empty[k])[0], "old record: %s [%s], want empty", empty[k], cell(&c, 5, empty[k]));
        CHECK(!cell(&c, 9, "obj_total")[0] && !strcmp(cell(&c, 9, "collapsed"), "0"), "no objective: empty obj_total");
    }
    free(c.text);

    // frontier.csv
    nr = csv_parse(&c, out[RESULTS_FRONTIER_CSV].s);
    CHECK(nr == 6, "frontier.csv: %d records", nr);   // A, B, C, R, rlprompt lambda 1
    static const char *const metrics[] = {"acc_test", "acc_dev", "acc_test_text", "bal_acc_test", "bal_acc_dev", "bal_acc_train",
                                          "log_ppl", "ppl", "dict_share", "distinct_share", "faith_gap", "faith_kl",
                                          "obj_total"};
    const char *fcols[64];
    int nfc = 0;
    static const char *const head[] = {"task",   "method",   "lambda",  "prompt_length", "n_ok",
                                       "n_splits", "n_seeds", "n_failed", "n_pending"};
    for (size_t k = 0; k < sizeof head / sizeof head[0]; k++) fcols[nfc++] = head[k];
    char names[13][3][40];
    for (int m = 0; m < 13; m++)
        for (int q = 0; q < 3; q++) {
            snprintf(names[m][q], sizeof names[m][q], "%s_%s", metrics[m], q == 0 ? "mean" : q == 1 ? "sd" : "ci95");
            fcols[nfc++] = names[m][q];
        }
    static const char *const tail[] = {"class_acc_test_mean", "class_acc_dev_mean", "class_acc_train_mean",
                                       "n_collapsed", "n_roundtrip", "on_frontier",
                                       "ci_overlaps_frontier", "on_frontier_all", "ci_overlaps_frontier_all",
                                       "on_frontier_test", "on_frontier_all_test", "best_seed", "best_prompt"};
    for (size_t k = 0; k < sizeof tail / sizeof tail[0]; k++) fcols[nfc++] = tail[k];
    CHECK(nr > 0 && c.n_fields[0] == nfc && nfc == 61, "frontier.csv: %d columns, want %d", c.n_fields[0], nfc);
    for (int f = 0; f < nfc && f < c.n_fields[0]; f++)
        CHECK(strcmp(c.fields[0][f], fcols[f]) == 0, "frontier.csv column %d: %s, want %s", f, c.fields[0][f], fcols[f]);
    for (int r = 1; r < nr; r++) CHECK(c.n_fields[r] == c.n_fields[0], "frontier.csv row %d: %d fields", r, c.n_fields[r]);
    if (nr == 6 && c.n_fields[0] == 61) {
        // rows: A (pez 0), B (pez 1), C (pez 2), R (rlprompt 0), rlprompt 1
        const char *onf = "10110", *onf_test = "01111", *onf_all = "10110", *onf_all_test = "01100";
        for (int r = 1; r < 6; r++) {
            char w[2] = {onf[r - 1], 0}, wt[2] = {onf_test[r - 1], 0}, wa[2] = {onf_all[r - 1], 0},
                 wat[2] = {onf_all_test[r - 1], 0};
            CHECK(!strcmp(cell(&c, r, "on_frontier"), w), "row %d on_frontier %s, want %s (dev)", r,
                  cell(&c, r, "on_frontier"), w);
            CHECK(!strcmp(cell(&c, r, "on_frontier_test"), wt), "row %d on_frontier_test %s, want %s", r,
                  cell(&c, r, "on_frontier_test"), wt);
            CHECK(!strcmp(cell(&c, r, "on_frontier_all"), wa), "row %d on_frontier_all %s, want %s (dev)", r,
                  cell(&c, r, "on_frontier_all"), wa);
            CHECK(!strcmp(cell(&c, r, "on_frontier_all_test"), wat), "row %d on_frontier_all_test %s, want %s", r,
                  cell(&c, r, "on_frontier_all_test"), wat);
        }
        // B: no spread on dev (0.80, 0.80), behind A at the same log-PPL: its CI cannot reach the dev frontier
        // (on test it is the frontier)
        CHECK(!strcmp(cell(&c, 2, "ci_overlaps_frontier"), "0"), "B's dev CI: %s", cell(&c, 2, "ci_overlaps_frontier"));
        // best seeds without test: A seed 2 (objective 1.0 < 1.2, though seed 1 has the higher test accuracy);
        // B seed 1 (1.1 < 1.3); C seed 2 (seed 1, an old record, has no objective); R seed 2 (objective tie,
        // higher acc_dev, lower test); rlprompt 1: no objective, its one seed
        const char *best[] = {"2", "1", "2", "2", "1"}, *bp[] = {"p2", "p1", "p2", "p2", "p1"};
        for (int r = 1; r < 6; r++)
            CHECK(!strcmp(cell(&c, r, "best_seed"), best[r - 1]) && !strcmp(cell(&c, r, "best_prompt"), bp[r - 1]),
                  "row %d best seed %s (%s), want %s", r, cell(&c, r, "best_seed"), cell(&c, r, "best_prompt"), best[r - 1]);
        CHECK(close_rel(atof(cell(&c, 1, "acc_dev_mean")), 0.9, 1e-12) &&
                  close_rel(atof(cell(&c, 1, "acc_test_mean")), 0.7, 1e-12) &&
                  close_rel(atof(cell(&c, 1, "obj_total_mean")), 1.1, 1e-12) &&
                  close_rel(atof(cell(&c, 1, "acc_test_text_mean")), 0.69, 1e-12),
              "A means: dev %s test %s", cell(&c, 1, "acc_dev_mean"), cell(&c, 1, "acc_test_mean"));
        CHECK(!strcmp(cell(&c, 1, "class_acc_test_mean"), "0.375 0.875"), "A per-class means [%s]",
              cell(&c, 1, "class_acc_test_mean"));
        CHECK(!strcmp(cell(&c, 3, "class_acc_test_mean"), "0.5 0.75"), "C: the old seed has none [%s]",
              cell(&c, 3, "class_acc_test_mean"));
        CHECK(!strcmp(cell(&c, 1, "class_acc_dev_mean"), "0.5 0.875") &&
                  !strcmp(cell(&c, 1, "class_acc_train_mean"), "nan 1.0"),
              "A per-class dev / train means [%s] [%s] (train: a class no split has is nan)",
              cell(&c, 1, "class_acc_dev_mean"), cell(&c, 1, "class_acc_train_mean"));
        CHECK(!strcmp(cell(&c, 3, "n_seeds"), "2") && !strcmp(cell(&c, 3, "obj_total_mean"), "2.0") &&
                  !cell(&c, 3, "obj_total_sd")[0] && !strcmp(cell(&c, 3, "distinct_share_mean"), "0.75"),
              "C: statistics over the seeds that have the field: obj %s", cell(&c, 3, "obj_total_mean"));
        const char *coll[] = {"0", "1", "0", "0", "0"}, *rt[] = {"1", "2", "0", "2", "1"};
        for (int r = 1; r < 6; r++)
            CHECK(!strcmp(cell(&c, r, "n_collapsed"), coll[r - 1]) && !strcmp(cell(&c, r, "n_roundtrip"), rt[r - 1]),
                  "row %d n_collapsed %s n_roundtrip %s", r, cell(&c, r, "n_collapsed"), cell(&c, r, "n_roundtrip"));
    }
    free(c.text);

    // frontier.json: dev's frontier, its hypervolume at test means; test's apart
    cJSON *j = cJSON_Parse(out[RESULTS_FRONTIER_JSON].s);
    CHECK(j != NULL, "frontier.json parses");
    CHECK(!strcmp(cJSON_GetStringValue(jget(j, "selection")), "dev"), "selection: dev");
    CHECK(!strcmp(cJSON_GetStringValue(jget(jget(j, "code_version"), "report")), RESULTS_FRONTIER_VERSION) &&
              !strcmp(RESULTS_FRONTIER_VERSION, "frontier 3 (issue 13)"), "report version");
    CHECK(jnum(jget(j, "points"), "collapsed") == 1, "one collapsed point");
    static const char *const defs[] = {"selection", "acc_dev", "acc_test_text", "roundtrip", "bal_acc", "class_acc",
                                       "collapsed", "distinct_share", "obj_total", "best_seed", "on_frontier_test",
                                       "test_chosen", "hypervolume", "hypervolume_dev"};
    for (size_t k = 0; k < sizeof defs / sizeof defs[0]; k++)
        CHECK(cJSON_IsString(jget(jget(j, "definitions"), defs[k])), "definition of %s", defs[k]);
    const cJSON *fr = jget(j, "frontiers");
    CHECK(cJSON_GetArraySize(fr) == 3, "frontiers: all, pez, rlprompt");
    const cJSON *all = cJSON_GetArrayItem(fr, 0), *pez = cJSON_GetArrayItem(fr, 1);
    double lnv = log(50257);
    // pez: chosen on dev A (dev .9, test .7, lp 5) and C (.6, .6, lp 3); against (0.5, ln V):
    double hv_test_means = (lnv - 3) * 0.1 + (lnv - 5) * 0.1;   // at test means: A .7, C .6
    double hv_dev_means = (lnv - 3) * 0.1 + (lnv - 5) * 0.3;    // at dev means: A .9, C .6
    double hv_test_chosen = (lnv - 3) * 0.1 + (lnv - 5) * 0.15; // test's choice B (.75, 5), C
    CHECK(close_rel(jnum(pez, "hypervolume"), hv_test_means, 1e-12), "pez hypervolume %.17g, want %.17g",
          jnum(pez, "hypervolume"), hv_test_means);
    CHECK(close_rel(jnum(pez, "hypervolume_normalized"), hv_test_means / (0.5 * lnv), 1e-12), "normalized");
    CHECK(close_rel(jnum(pez, "hypervolume_dev"), hv_dev_means, 1e-12), "pez hypervolume_dev %.17g",
          jnum(pez, "hypervolume_dev"));
    const cJSON *tc = jget(pez, "test_chosen");
    CHECK(close_rel(jnum(tc, "hypervolume"), hv_test_chosen, 1e-12), "test_chosen hypervolume %.17g",
          jnum(tc, "hypervolume"));
    const cJSON *pf = jget(pez, "frontier"), *tf = jget(tc, "frontier");
    CHECK(cJSON_GetArraySize(pf) == 2 && jnum(cJSON_GetArrayItem(pf, 0), "lambda") == 2 &&
              jnum(cJSON_GetArrayItem(pf, 1), "lambda") == 0,
          "pez frontier: C then A (log-PPL order)");
    const cJSON *a = cJSON_GetArrayItem(pf, 1);
    CHECK(close_rel(jnum(a, "acc_dev_mean"), 0.9, 1e-12) && close_rel(jnum(a, "acc_test_mean"), 0.7, 1e-12) &&
              close_rel(jnum(a, "acc_test_ci95"), 12.706204736174693 * sqrt(0.0008) / sqrt(2), 1e-9) &&
              jnum(a, "log_ppl_mean") == 5 && jnum(a, "log_ppl_ci95") == 0 && jnum(a, "n_seeds") == 2 &&
              jnum(a, "n_collapsed") == 0 && jnum(a, "prompt_length") == 5 && !jget(a, "method"),
          "A's frontier point");
    CHECK(cJSON_GetArraySize(tf) == 2 && jnum(cJSON_GetArrayItem(tf, 1), "lambda") == 1 &&
              jnum(cJSON_GetArrayItem(tf, 1), "n_collapsed") == 1,
          "test_chosen: C then B (with its collapsed seed)");
    // per seed, chosen on the seed's dev: seed 1 A (.72), C (.6); seed 2 A (.68), C (.6)
    const cJSON *ps = jget(pez, "per_seed_hypervolume");
    double s1 = (lnv - 3) * 0.1 + (lnv - 5) * 0.12, s2 = (lnv - 3) * 0.1 + (lnv - 5) * 0.08;
    CHECK(jnum(ps, "n") == 2 && close_rel(cJSON_GetArrayItem(jget(ps, "values"), 0)->valuedouble, s1, 1e-12) &&
              close_rel(cJSON_GetArrayItem(jget(ps, "values"), 1)->valuedouble, s2, 1e-12) &&
              close_rel(jnum(ps, "mean"), (s1 + s2) / 2, 1e-12),
          "per-seed hypervolumes");
    // across methods: dev chooses C, A, R (R's test accuracy .42 is below chance: it adds nothing)
    const cJSON *af = jget(all, "frontier");
    CHECK(cJSON_GetArraySize(af) == 3 && !strcmp(cJSON_GetStringValue(jget(cJSON_GetArrayItem(af, 2), "method")), "rlprompt"),
          "all: C, A, R");
    CHECK(close_rel(jnum(all, "hypervolume"), hv_test_means, 1e-12), "all hypervolume %.17g", jnum(all, "hypervolume"));
    CHECK(cJSON_GetArraySize(jget(jget(all, "test_chosen"), "frontier")) == 2, "all, on test: C, B");
    cJSON_Delete(j);

    // frontier.svg: the selection said, one collapsed configuration marked, the legend counts it
    const char *svg = out[RESULTS_FRONTIER_SVG].s;
    int marks = 0;
    for (const char *p = svg; (p = strstr(p, "<title>collapsed: ")); p++) marks++;
    CHECK(marks == 1, "collapsed marks: %d", marks);
    CHECK(strstr(svg, "<title>collapsed: 1 of 2 seeds") != NULL, "B's mark says 1 of 2");
    CHECK(strstr(svg, "frontier chosen on dev, plotted at test means (selection: dev)") != NULL, "selection said");
    CHECK(strstr(svg, "collapsed: 1 run (1 point)") && strstr(svg, "95% of test predicted as one label"),
          "collapsed legend");
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    for (int i = 0; i < n; i++) free(recs[i]);
}

/* The plot's step line: dev-chosen points at their test means need not rise with log-PPL; the
 * line is the staircase of the best test accuracy so far, so it turns only where one is beaten. */
static const char *jstr(const cJSON *o, const char *k) {
    const char *v = cJSON_GetStringValue(jget(o, k));
    return v ? v : "";
}

/* record2's record with vocab_size V instead of GPT-2's (a record of another model); frees rec. */
static char *with_vocab(char *rec, int V) {
    static const char gpt2[] = "\"vocab_size\":50257";
    char *at = strstr(rec, gpt2);
    if (!at) die("record2 has no vocab_size");
    char *s = xmalloc(strlen(rec) + 32);
    snprintf(s, strlen(rec) + 32, "%.*s\"vocab_size\":%d%s", (int)(at - rec), rec, V, at + strlen(gpt2));
    free(rec);
    return s;
}

/* The reference log-PPL is ln V with V the records' vocab_size: a model of 50304 tokens (GPT-2's
 * padded to a multiple of 64) moves it and the hypervolumes, an old record without one changes
 * nothing, and records that disagree are an error naming both. */
static void test_report_vocab(void) {
    const char *cls = "[0.5,0.75]", *even = "[0.5,0.5]";
    char *recs[4];
    //                              method lambda seed dev  test  lp   obj  coll rt
    recs[0] = with_vocab(record2("pez", 0, 1, 0.80, 0.70, 5.0, 1.0, 0, 1, cls, even), 50304);
    recs[1] = with_vocab(record2("pez", 1, 1, 0.70, 0.60, 3.0, 1.0, 0, 1, cls, even), 50304);
    recs[2] = record("pez", 2, 5, 1, 0.60, 2.0, "\"old\"");   // tune 1: no vocab_size
    recs[3] = record2("pez", 1, 2, 0.70, 0.60, 3.0, 1.0, 0, 1, cls, even);   // GPT-2's 50257
    ResultsRecordRef refs[4];
    char ids[4][65];
    refs_of(refs, ids, recs, 4);
    ResultsRunInfo info = {.source = "test/journal", .journal_version = 2, .now = 1700000100};
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    ResultsFrontierSummary sum;
    Err err = {{0}};
    CHECK(results_frontier_build(&info, refs, 3, out, &sum, &err) == 0, "build: %s", err.msg);
    cJSON *j = cJSON_Parse(out[RESULTS_FRONTIER_JSON].s ? out[RESULTS_FRONTIER_JSON].s : "");
    const cJSON *ref = jget(j, "reference");
    double lnv = log(50304);
    CHECK(jnum(ref, "vocab_size") == 50304 && close_rel(jnum(ref, "log_ppl"), lnv, 1e-15) &&
              strstr(jstr(ref, "vocab_source"), "records"),
          "reference from the records: V %g, log_ppl %.17g", jnum(ref, "vocab_size"), jnum(ref, "log_ppl"));
    // chosen on dev, all three on the frontier; at test means (0.6, 2), (0.6, 3), (0.7, 5) against (0.5, ln V)
    const cJSON *pez = cJSON_GetArrayItem(jget(j, "frontiers"), 1);
    double want = 0.1 * (lnv - 2) + 0.1 * (lnv - 5);
    CHECK(close_rel(jnum(pez, "hypervolume"), want, 1e-12) &&
              close_rel(jnum(pez, "hypervolume_normalized"), want / (0.5 * lnv), 1e-12),
          "hypervolume %.17g, want %.17g", jnum(pez, "hypervolume"), want);
    cJSON_Delete(j);
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);

    memset(out, 0, sizeof out);
    CHECK(results_frontier_build(&info, refs, 4, out, &sum, &err) == -1 && strstr(err.msg, "disagree") &&
              strstr(err.msg, "50304") && strstr(err.msg, "50257") && strstr(err.msg, ids[3]),
          "records that disagree on V: %s", err.msg);
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);

    // none says V: GPT-2's, and the sidecar says why
    memset(out, 0, sizeof out);
    CHECK(results_frontier_build(&info, refs + 2, 1, out, &sum, &err) == 0, "build: %s", err.msg);
    j = cJSON_Parse(out[RESULTS_FRONTIER_JSON].s ? out[RESULTS_FRONTIER_JSON].s : "");
    ref = jget(j, "reference");
    CHECK(jnum(ref, "vocab_size") == 50257 && close_rel(jnum(ref, "log_ppl"), log(50257), 1e-15) &&
              strstr(jstr(ref, "vocab_source"), "GPT-2"),
          "no record says V: GPT-2's");
    cJSON_Delete(j);
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    for (int i = 0; i < 4; i++) free(recs[i]);
}

static void test_svg_staircase(void) {
    ResultsPlotPoint pts[3] = {
        {.method = 0, .lambda = 0, .prompt_length = 5, .acc = 0.7, .acc_ci = NAN, .log_ppl = 1, .log_ppl_ci = NAN,
         .on_front = 1, .on_front_all = 0, .n_runs = 1, .n_collapsed = -1},
        {.method = 0, .lambda = 1, .prompt_length = 5, .acc = 0.6, .acc_ci = NAN, .log_ppl = 2, .log_ppl_ci = NAN,
         .on_front = 1, .on_front_all = 0, .n_runs = 1, .n_collapsed = -1},   // chosen on dev, lower on test
        {.method = 0, .lambda = 2, .prompt_length = 5, .acc = 0.8, .acc_ci = NAN, .log_ppl = 3, .log_ppl_ci = NAN,
         .on_front = 1, .on_front_all = 0, .n_runs = 1, .n_collapsed = -1},
    };
    const char *methods[] = {"pez"};
    ResultsPlotPanel pn = {.title = "t", .chance = 0.5, .ln_vocab = log(50257), .points = pts, .n_points = 3,
                           .hypervolume = NULL, .hypervolume_all = NAN, .runs_min = 1, .runs_max = 1};
    ResultsPlot plot = {.methods = methods, .n_methods = 1, .panels = &pn, .n_panels = 1};
    ResultsBuf b = {0};
    Err err = {{0}};
    CHECK(results_svg(&b, &plot, &err) == 0, "svg: %s", err.msg);
    // the method's step line: the path ending in its style
    const char *style = strstr(b.s, "\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"");
    const char *d = style;
    while (d && d > b.s && strncmp(d, "<path d=\"", 9)) d--;
    int turns = 0;
    for (const char *p = d; p && p < style; p++) turns += *p == 'V';
    CHECK(style && d && turns == 1, "one turn (at log-PPL 3), not down to 0.6 and up again: %d", turns);
    CHECK(!strstr(b.s, "class=\"collapsed\"") && !strstr(b.s, "collapsed:"), "old records: no collapse claimed");
    results_buf_free(&b);
}

/* Records of every wrong shape: no crash, every one a row, every row as wide as the header. */
static void test_bad_records(void) {
    char *long_prompt = xmalloc(20001);
    for (int i = 0; i < 20000; i++) long_prompt[i] = ",\"a \n"[i % 5];
    long_prompt[20000] = '\0';
    cJSON *lp = cJSON_CreateString(long_prompt);
    char *lp_json = cJSON_PrintUnformatted(lp);
    cJSON_Delete(lp);
    char *big = xmalloc(strlen(lp_json) + 512);
    sprintf(big, "{\"point\":{\"task\":\"t\",\"method\":\"pez\",\"lambda\":0,\"seed\":1},\"status\":\"ok\","
                 "\"accuracy\":{\"test\":0.5},\"log_ppl\":3,\"prompt\":{\"ids\":[1],\"text\":%s}}", lp_json);
    const char *bad[] = {
        "{}", "[]", "null", "", "{\"point\":5,\"status\":\"ok\"}",
        "{\"point\":{\"task\":7,\"method\":[],\"lambda\":\"x\",\"seed\":1e300,\"prompt_length\":-4,"
        "\"verbalizers\":{}},\"status\":\"ok\",\"accuracy\":{\"test\":0.5},\"log_ppl\":3,"
        "\"prompt\":{\"ids\":[\"a\",1e300,-1,2.5],\"text\":\"\\u0000x\"}}",
        "{\"point\":{\"task\":\"t\",\"method\":\"pez\",\"lambda\":null,\"prompt_length\":1e300},\"status\":\"ok\","
        "\"accuracy\":{\"test\":0.5},\"log_ppl\":\"3\"}",
        "{\"point\":{\"task\":\"<&>\\\"'\",\"method\":\"a\\u0001b\",\"lambda\":1},\"status\":\"ok\","
        "\"accuracy\":{\"test\":-1e308},\"log_ppl\":1e308,\"faithfulness\":7}",
        "{\"status\":\"failed\"}",
        "{\"status\":\"weird\",\"error\":\"\xff\xfe\"}",
        big,
    };
    int n = (int)(sizeof bad / sizeof bad[0]);
    ResultsRecordRef refs[16];
    for (int i = 0; i < n; i++) refs[i] = (ResultsRecordRef){.id = "x", .attempts = i, .record = bad[i]};
    refs[3].point_json = "not json";
    ResultsRunInfo info = {0};
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    ResultsFrontierSummary sum;
    Err err = {{0}};
    CHECK(results_frontier_build(&info, refs, n, out, &sum, &err) == 0, "bad records: %s", err.msg);
    // ok: the garbage point with finite metrics, the absurd but finite one, the long prompt
    CHECK(sum.n_points == n && sum.n_ok == 3 && sum.n_failed == n - 3, "bad records: %d ok, %d failed", sum.n_ok,
          sum.n_failed);
    Csv c;
    CHECK(csv_parse(&c, out[RESULTS_POINTS_CSV].s) == n + 1, "a row for each bad record");
    for (int r = 1; r < c.n_records; r++) CHECK(c.n_fields[r] == c.n_fields[0], "row %d: %d fields", r, c.n_fields[r]);
    int fp = column(&c, "prompt");
    CHECK(c.n_records == n + 1 && strcmp(c.fields[n][fp], long_prompt) == 0, "a 20000-byte prompt round-trips");
    free(c.text);
    CHECK(csv_parse(&c, out[RESULTS_FRONTIER_CSV].s) > 1, "frontier.csv");
    free(c.text);
    cJSON *j = cJSON_Parse(out[RESULTS_FRONTIER_JSON].s);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "failed")) == n - 3, "sidecar lists them");
    cJSON_Delete(j);
    const char *svg = out[RESULTS_FRONTIER_SVG].s;
    CHECK(strstr(svg, "&lt;&amp;&gt;&quot;&apos;") && !strchr(svg, '\x01'), "svg text escaped");
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    free(big);
    free(lp_json);
    free(long_prompt);
}

// ----------------------------------------------------------------------------
// issue 13: a point's keys (keys.c)

/* Leaves under dotted paths, values in order, the keys that vary. */
static void test_keys(void) {
    cJSON *a = cJSON_Parse("{\"e\":\"x\",\"b\":{\"d\":{},\"c\":[1,2]},\"a\":0.3,\"pez\":{\"lr\":0.1,\"steps\":5}}");
    cJSON *b = cJSON_Parse("{\"a\":0.3,\"pez\":{\"lr\":0.30,\"steps\":5},\"b\":{\"c\":[1,2]},\"f\":true}");
    ResultsLeaves la, lb;
    CHECK(results_leaves(&la, a) == 0 && results_leaves(&lb, b) == 0, "leaves");
    static const char *const paths[] = {"a", "b.c", "b.d", "e", "pez.lr", "pez.steps"};
    CHECK(la.n == 6, "six leaves: %d", la.n);
    for (int i = 0; i < la.n && i < 6; i++) CHECK(!strcmp(la.leaf[i].path, paths[i]), "leaf %d: %s", i, la.leaf[i].path);
    const ResultsLeaf *c = results_leaf_find(&la, "b.c"), *d = results_leaf_find(&la, "b.d");
    CHECK(c && !strcmp(c->json, "[1,2]") && d && !strcmp(d->json, "{}"), "an array and an empty object are leaves");
    CHECK(!results_leaf_find(&la, "b") && !results_leaf_find(&la, "pez"), "objects are not leaves");
    const ResultsLeaf *lr_a = results_leaf_find(&la, "pez.lr"), *lr_b = results_leaf_find(&lb, "pez.lr");
    CHECK(results_leaf_cmp(lr_a, lr_b) < 0 && results_leaf_cmp(lr_b, lr_a) > 0, "0.1 < 0.3, by value");
    CHECK(results_leaf_cmp(NULL, lr_a) < 0 && results_leaf_cmp(NULL, NULL) == 0, "absent first");
    CHECK(results_leaf_cmp(results_leaf_find(&la, "b.c"), results_leaf_find(&lb, "b.c")) == 0, "arrays by value");
    char *t = results_leaf_text(results_leaf_find(&la, "e")), *u = results_leaf_text(lr_b);
    CHECK(t && !strcmp(t, "x") && u && !strcmp(u, "0.3"), "text: a string as it is [%s], a number as JSON [%s]",
          t ? t : "", u ? u : "");
    free(t);
    free(u);
    CHECK(results_key_under("data.train", "data") && results_key_under("data", "data") &&
              !results_key_under("data_dir", "data") && !results_key_under("dat", "data"),
          "a key names its nested keys, not its prefixes");
    ResultsKeys k = {0};
    const ResultsLeaves *pts[] = {&la, &lb};
    static const char *const skip[] = {"a"};
    CHECK(results_keys_varying(&k, pts, 2, skip, 1) == 0, "varying");
    // b.d, e and f are only in one point: absent is no value; a is skipped; steps is the same
    CHECK(k.n == 1 && !strcmp(k.path[0], "pez.lr"), "varying: %d, %s", k.n, k.n ? k.path[0] : "");
    results_keys_free(&k);
    results_leaves_free(&la);
    results_leaves_free(&lb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

// ----------------------------------------------------------------------------
// issue 13: a configuration is the point minus its replicate keys; splits; baselines

/* A record of tune 2 for the point given whole (JSON text): dev and test accuracy, log-PPL and
 * the prompt's text (JSON). */
static char *record_for(const char *point, double dev, double test, double lp, const char *text) {
    char *s = xmalloc(4096);
    snprintf(s, 4096,
             "{\"point\":%s,\"status\":\"ok\",\"error\":null,"
             "\"prompt\":{\"ids\":[1,2],\"text\":%s,\"text_ids\":[1,2],\"roundtrip\":true,\"roundtrip_share\":1},"
             "\"accuracy\":{\"train\":0.9,\"dev\":%.17g,\"test\":%.17g,\"test_text\":%.17g},"
             "\"balanced_accuracy\":{\"train\":0.8,\"dev\":0.7,\"test\":0.6},"
             "\"class_accuracy\":{\"train\":[0.9,0.9],\"dev\":[0.5,0.5],\"test\":[0.5,0.5]},"
             "\"prediction_share\":{\"train\":[0.5,0.5],\"dev\":[0.5,0.5],\"test\":[0.5,0.5]},\"collapsed\":false,"
             "\"objective\":{\"split\":\"dev\",\"form\":\"additive\",\"lambda\":0,\"w_task\":1,\"w_interp\":0,"
             "\"task\":1,\"interp\":%.17g,\"total\":1},"
             "\"log_ppl\":%.17g,\"ppl\":%.17g,\"dict_share\":0.5,\"distinct_share\":1,\"vocab_size\":50257,"
             "\"faithfulness\":{\"acc_continuous\":%.17g,\"acc_projected\":%.17g,\"kl\":0},\"steps\":10,"
             "\"best_step\":5,\"wall_seconds\":1,\"history\":[],\"versions\":{\"tune\":\"tune 2 (issue 11)\"}}",
             point, text, dev, test, test, lp, lp, exp(lp), test, test);
    return s;
}

typedef struct {
    int n;
    char *recs[64];
    char ids[64][65];
    ResultsRecordRef refs[64];
    ResultsBuf out[RESULTS_N_FILES];
    Csv points, frontier;
    cJSON *json;
} Built;

static void add(Built *b, char *rec) {
    if (b->n == 64) die("too many records");
    b->recs[b->n++] = rec;
}

/* The report of b's records under info; the CSVs and the sidecar parsed. */
static int build(Built *b, const ResultsRunInfo *info) {
    refs_of(b->refs, b->ids, b->recs, b->n);
    memset(b->out, 0, sizeof b->out);
    ResultsFrontierSummary sum;
    Err err = {{0}};
    int rc = results_frontier_build(info, b->refs, b->n, b->out, &sum, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) die("no report");
    CHECK(csv_parse(&b->points, b->out[RESULTS_POINTS_CSV].s) == b->n + 1, "points.csv: a row per record");
    csv_parse(&b->frontier, b->out[RESULTS_FRONTIER_CSV].s);
    for (int r = 1; r < b->frontier.n_records; r++)
        CHECK(b->frontier.n_fields[r] == b->frontier.n_fields[0], "frontier.csv row %d: %d fields", r,
              b->frontier.n_fields[r]);
    b->json = cJSON_Parse(b->out[RESULTS_FRONTIER_JSON].s);
    CHECK(b->json != NULL, "frontier.json parses");
    return sum.n_configs;
}

static void built_free(Built *b) {
    free(b->points.text);
    free(b->frontier.text);
    cJSON_Delete(b->json);
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&b->out[f]);
    for (int i = 0; i < b->n; i++) free(b->recs[i]);
    memset(b, 0, sizeof *b);
}

/* Whether a JSON array of strings is exactly want (n of them). */
static int strings_are(const cJSON *a, const char *const *want, int n) {
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return 0;
    int i = 0;
    for (const cJSON *v = a->child; v; v = v->next, i++)
        if (!cJSON_IsString(v) || strcmp(v->valuestring, want[i])) return 0;
    return 1;
}

static int count_of(const char *text, const char *s) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, s)); p++) n++;
    return n;
}

#define POINT_HEAD "\"task\":\"sst-2\",\"verbalizers\":[\" terrible\",\" great\"]"

/* A nested key (pez.lr) makes configurations: two, with a pez.lr column in both CSVs, named in
 * the sidecar and on the labels. (Before issue 13: one configuration of four seeds, no column.) */
static void test_report_nested_key(void) {
    Built b = {0};
    char point[512];
    for (int lr = 0; lr < 2; lr++)
        for (int seed = 1; seed <= 2; seed++) {
            snprintf(point, sizeof point,
                     "{\"method\":\"pez\",\"lambda\":0,\"prompt_length\":5,\"seed\":%d,\"pez\":{\"lr\":%s,\"steps\":100},"
                     POINT_HEAD "}", seed, lr ? "0.3" : "0.1");
            double acc = 0.7 + 0.1 * lr + 0.02 * (seed - 1);
            add(&b, record_for(point, acc, acc, 5 + lr, "\"p\""));
        }
    ResultsRunInfo info = {.source = "test/journal", .journal_version = 3, .now = 1700000100};
    int n_configs = build(&b, &info);
    CHECK(n_configs == 2, "pez.lr 0.1 and 0.3: two configurations, not %d", n_configs);
    Csv *f = &b.frontier, *p = &b.points;
    CHECK(f->n_records == 3 && column(f, "pez.lr") == 4 && column(f, "pez.steps") < 0,
          "frontier.csv: a pez.lr column after prompt_length (%d), none for the constant pez.steps",
          column(f, "pez.lr"));
    if (f->n_records == 3 && column(f, "pez.lr") == 4) {
        CHECK(!strcmp(cell(f, 1, "pez.lr"), "0.1") && !strcmp(cell(f, 2, "pez.lr"), "0.3"), "values, sorted: %s %s",
              cell(f, 1, "pez.lr"), cell(f, 2, "pez.lr"));
        CHECK(!strcmp(cell(f, 1, "n_ok"), "2") && !strcmp(cell(f, 1, "n_seeds"), "2") &&
                  !strcmp(cell(f, 1, "n_splits"), "1"),
              "each: 2 ok runs, 2 seeds, 1 split");
        CHECK(close_rel(atof(cell(f, 1, "acc_test_mean")), 0.71, 1e-12) &&
                  close_rel(atof(cell(f, 2, "acc_test_mean")), 0.81, 1e-12),
              "means over each one's seeds: %s %s", cell(f, 1, "acc_test_mean"), cell(f, 2, "acc_test_mean"));
    }
    CHECK(column(p, "pez.lr") == 5 && column(p, "seed") == 6, "points.csv: pez.lr before seed (%d)", column(p, "pez.lr"));
    if (column(p, "pez.lr") == 5) CHECK(!strcmp(cell(p, 3, "pez.lr"), "0.3"), "points.csv value");
    static const char *const varying[] = {"pez.lr"}, *const reps[] = {"seed", "split", "data"};
    CHECK(strings_are(jget(b.json, "varying_keys"), varying, 1), "sidecar: varying_keys [pez.lr]");
    CHECK(strings_are(jget(b.json, "replicate_keys"), reps, 3), "sidecar: the default replicate keys, data with split");
    const cJSON *front = jget(cJSON_GetArrayItem(jget(b.json, "frontiers"), 1), "frontier");
    const cJSON *keys = jget(cJSON_GetArrayItem(front, cJSON_GetArraySize(front) - 1), "keys");
    CHECK(cJSON_GetArraySize(keys) == 1 && jnum(keys, "pez.lr") == 0.3, "a frontier point says its pez.lr");
    const char *svg = b.out[RESULTS_FRONTIER_SVG].s;
    // (2 seeds each: under 3 runs, the label says n, issue 15)
    CHECK(strstr(svg, "\xce\xbb=0 pez.lr=0.1 (n=2)<") && strstr(svg, "\xce\xbb=0 pez.lr=0.3 (n=2)<"), "labels say pez.lr");
    CHECK(strstr(svg, "mean over seeds per (method, \xce\xbb, prompt length, pez.lr)"), "the subtitle names pez.lr");
    built_free(&b);
}

/* The split axis: records that differ only in split and seed are one configuration, statistics
 * over all six runs with n_splits 3 and n_seeds 2; the same when tune's point names the split's
 * files ("data") instead of "split"; a replicate list of just "seed" makes the split a
 * configuration key; an empty one makes every run a configuration. (Before issue 13: n_seeds
 * was the run count, no n_splits, per-seed hypervolumes mixed the splits.) */
static void add_split_grid(Built *b, int data_paths) {
    static const char *const splits[] = {"16-13", "16-42", "16-87"};
    char point[512], where[256];
    for (int lam = 0; lam < 2; lam++)
        for (int s = 0; s < 3; s++)
            for (int seed = 1; seed <= 2; seed++) {
                if (data_paths)
                    snprintf(where, sizeof where,
                             "\"data\":{\"dev\":\"/d/%s/dev.tsv\",\"test\":\"/d/test.tsv\",\"train\":\"/d/%s/train.tsv\"}",
                             splits[s], splits[s]);
                else
                    snprintf(where, sizeof where, "\"data_dir\":\"/d\",\"split\":\"%s\"", splits[s]);
                snprintf(point, sizeof point, "{\"method\":\"pez\",\"lambda\":%d,\"prompt_length\":5,\"seed\":%d,%s,"
                         POINT_HEAD "}", lam, seed, where);
                double acc = 0.6 + 0.1 * s + 0.01 * seed - 0.2 * lam;
                add(b, record_for(point, acc, acc, 6 - 2 * lam, "\"p\""));
            }
}

static void test_report_splits(void) {
    for (int data_paths = 0; data_paths < 2; data_paths++) {
        Built b = {0};
        add_split_grid(&b, data_paths);
        ResultsRunInfo info = {.source = "test/journal", .journal_version = 3, .now = 1700000100};
        int n_configs = build(&b, &info);
        const char *how = data_paths ? "data paths" : "split";
        CHECK(n_configs == 2, "%s: two configurations (lambda 0, 1), not %d", how, n_configs);
        Csv *f = &b.frontier;
        CHECK(column(f, "split") < 0 && column(f, "data.train") < 0 && column(f, "n_ok") == 4,
              "%s: replicate keys are no columns of frontier.csv", how);
        if (f->n_records == 3 && column(f, "n_ok") == 4) {
            CHECK(!strcmp(cell(f, 1, "n_ok"), "6") && !strcmp(cell(f, 1, "n_splits"), "3") &&
                      !strcmp(cell(f, 1, "n_seeds"), "2"),
                  "%s: n_ok %s n_splits %s n_seeds %s, want 6 3 2", how, cell(f, 1, "n_ok"), cell(f, 1, "n_splits"),
                  cell(f, 1, "n_seeds"));
            // over the six runs: 0.6 + 0.1 (0, 1, 2) + 0.01 (1, 2): mean 0.715, sd of (.61 .62 .71 .72 .81 .82)
            double x[] = {0.61, 0.62, 0.71, 0.72, 0.81, 0.82};
            ResultsStats st;
            results_stats(x, 6, &st);
            CHECK(close_rel(atof(cell(f, 1, "acc_test_mean")), 0.715, 1e-12) &&
                      close_rel(atof(cell(f, 1, "acc_test_sd")), st.sd, 1e-12) &&
                      close_rel(atof(cell(f, 1, "acc_test_ci95")), 2.5705818356363148 * st.sd / sqrt(6), 1e-9),
                  "%s: statistics over splits x seeds: mean %s sd %s ci95 %s", how, cell(f, 1, "acc_test_mean"),
                  cell(f, 1, "acc_test_sd"), cell(f, 1, "acc_test_ci95"));
        }
        Csv *p = &b.points;
        if (!data_paths) {
            CHECK(column(p, "split") == 5 && !strcmp(cell(p, 3, "split"), "16-42"), "points.csv: the split column");
        } else {
            CHECK(column(p, "data.dev") == 5 && column(p, "data.train") == 6 && column(p, "data.test") < 0 &&
                      !strcmp(cell(p, 3, "data.train"), "/d/16-42/train.tsv"),
                  "points.csv: the split's files (data.test is the same for all: no column)");
        }
        const cJSON *ps = jget(cJSON_GetArrayItem(jget(b.json, "frontiers"), 1), "per_seed_hypervolume");
        const cJSON *r0 = cJSON_GetArrayItem(jget(ps, "replicates"), 0);
        CHECK(jnum(ps, "n") == 6 && cJSON_GetArraySize(jget(ps, "replicates")) == 6 && jnum(r0, "seed") == 1 &&
                  (data_paths || !strcmp(jstr(r0, "split"), "16-13")),
              "%s: a hypervolume per split and seed: %g", how, jnum(ps, "n"));
        CHECK(cJSON_IsArray(jget(b.json, "varying_keys")) && cJSON_GetArraySize(jget(b.json, "varying_keys")) == 0,
              "%s: no configuration key varies", how);
        const char *svg = b.out[RESULTS_FRONTIER_SVG].s;
        CHECK(strstr(svg, "mean over runs (split \xc3\x97 seed) per (method, \xce\xbb, prompt length)") &&
                  strstr(svg, ">6 runs per point<") && strstr(svg, "95% CI over runs (t)"),
              "%s: the plot says runs over split x seed", how);
        built_free(&b);

        // the split a configuration key: three configurations per lambda, a column for it
        add_split_grid(&b, data_paths);
        static const char *const only_seed[] = {"seed"};
        info.replicates = only_seed;
        info.n_replicates = 1;
        n_configs = build(&b, &info);
        CHECK(n_configs == 6, "%s, replicates [seed]: six configurations, not %d", how, n_configs);
        f = &b.frontier;
        const char *key = data_paths ? "data.train" : "split";
        CHECK(column(f, key) == 4 + data_paths, "%s, replicates [seed]: frontier.csv has %s", how, key);
        if (f->n_records == 7 && column(f, key) >= 0)
            CHECK(!strcmp(cell(f, 2, "n_ok"), "2") && !strcmp(cell(f, 2, "n_splits"), "1") &&
                      !strcmp(cell(f, 2, "n_seeds"), "2") &&
                      !strcmp(cell(f, 2, key), data_paths ? "/d/16-42/train.tsv" : "16-42"),
                  "%s, replicates [seed]: one split each", how);
        CHECK(strings_are(jget(b.json, "replicate_keys"), only_seed, 1), "the replicate keys given");
        CHECK(strstr(b.out[RESULTS_FRONTIER_SVG].s, ">2 seeds per point<"), "seeds again");
        built_free(&b);

        // no replicate key: every run its own configuration
        add_split_grid(&b, data_paths);
        info.n_replicates = 0;
        n_configs = build(&b, &info);
        CHECK(n_configs == 12 && column(&b.frontier, "seed") >= 0, "%s, replicates []: 12 configurations, not %d", how,
              n_configs);
        built_free(&b);
    }
}

/* Manual prompts are baselines: a configuration per prompt (the empty one too, log-PPL 0), a
 * prompt column, in the frontiers like any other (the empty prompt is on the one across
 * methods: a finding), and on the plot grey diamonds labelled with their prompt, outside the
 * methods' colours; pez, rlprompt and soft keep three colours of their own. (Before issue 13:
 * the three prompts were one configuration, drawn as a method in the first colour.) */
static void test_report_baselines(void) {
    Built b = {0};
    static const char *const prompts[] = {"It was", "This movie review, \\\"quoted\\\" at length, says", ""};
    char point[512], text[256];
    for (int k = 0; k < 3; k++)
        for (int seed = 1; seed <= 2; seed++) {
            snprintf(point, sizeof point, "{\"method\":\"manual\",\"lambda\":0,\"prompt\":\"%s\",\"seed\":%d," POINT_HEAD "}",
                     prompts[k], seed);
            snprintf(text, sizeof text, "\"%s\"", prompts[k]);
            double acc = 0.6 + 0.05 * k + 0.01 * seed;
            add(&b, record_for(point, acc, acc, k == 2 ? 0 : 5 + k, text));
        }
    static const char *const methods[] = {"pez", "rlprompt", "soft"};
    for (int m = 0; m < 3; m++)
        for (int seed = 1; seed <= 2; seed++) {
            snprintf(point, sizeof point, "{\"method\":\"%s\",\"lambda\":1,\"prompt_length\":5,\"seed\":%d," POINT_HEAD "}",
                     methods[m], seed);
            add(&b, record_for(point, 0.8 + 0.01 * m, 0.8 + 0.01 * m, 4 + m, "\"t\""));
        }
    ResultsRunInfo info = {.source = "test/journal", .journal_version = 3, .now = 1700000100};
    int n_configs = build(&b, &info);
    CHECK(n_configs == 6, "three manual prompts and three methods: six configurations, not %d", n_configs);
    Csv *f = &b.frontier;
    CHECK(column(f, "prompt") == 4, "frontier.csv: a prompt column (%d)", column(f, "prompt"));
    if (f->n_records == 7 && column(f, "prompt") == 4) {
        // sorted by prompt: "", "It was", "This movie ..."
        CHECK(!strcmp(cell(f, 1, "method"), "manual") && !strcmp(cell(f, 1, "prompt"), "") &&
                  !strcmp(cell(f, 2, "prompt"), "It was") &&
                  !strcmp(cell(f, 3, "prompt"), "This movie review, \"quoted\" at length, says") &&
                  !strcmp(cell(f, 4, "prompt"), ""),
              "a manual configuration per prompt: [%s] [%s] [%s]", cell(f, 1, "prompt"), cell(f, 2, "prompt"),
              cell(f, 3, "prompt"));
        CHECK(!strcmp(cell(f, 1, "log_ppl_mean"), "0.0") && !strcmp(cell(f, 1, "n_ok"), "2") &&
                  !strcmp(cell(f, 1, "on_frontier_all"), "1"),
              "the empty prompt: log-PPL 0, on the frontier across methods");
        CHECK(close_rel(atof(cell(f, 2, "acc_test_mean")), 0.615, 1e-12), "It was: its own mean %s",
              cell(f, 2, "acc_test_mean"));
    }
    static const char *const varying[] = {"prompt"};
    CHECK(strings_are(jget(b.json, "varying_keys"), varying, 1), "sidecar: varying_keys [prompt]");

    const char *svg = b.out[RESULTS_FRONTIER_SVG].s;
    CHECK(count_of(svg, "<path class=\"baseline\"") == 4 && count_of(svg, "<title>manual prompt (baseline): ") == 3,
          "three baseline diamonds with their prompt (and the legend's): %d", count_of(svg, "<path class=\"baseline\""));
    CHECK(strstr(svg, "<title>manual prompt (baseline): the empty prompt</title>") != NULL, "the empty prompt's tooltip");
    CHECK(strstr(svg, ">\xe2\x80\x9cIt was\xe2\x80\x9d (n=2)<") && strstr(svg, ">(empty prompt) (n=2)<") &&
              strstr(svg, ">\xe2\x80\x9cThis movie review, &quot;quot\xe2\x80\xa6\xe2\x80\x9d (n=2)<"),
          "labels: the prompts, cut at 24 characters, and (empty prompt), with their n (2 runs)");
    CHECK(strstr(svg, ">manual prompts (baselines)</text>") && !strstr(svg, ">manual ("),
          "the legend: baselines, not a method");
    static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c"};
    for (int m = 0; m < 3; m++) {
        char entry[128];
        snprintf(entry, sizeof entry, "r=\"5\" fill=\"%s\"/>\n<text x=\"750\" y=\"%d\" font-size=\"12\">%s", colours[m],
                 152 + 20 * m, methods[m]);
        CHECK(strstr(svg, entry) != NULL, "%s has colour %s of its own", methods[m], colours[m]);
    }
    CHECK(!strstr(svg, "<circle cx=\"730\" cy=\"208\""), "no fourth colour taken by the baselines");
    built_free(&b);
}

// ----------------------------------------------------------------------------
// files

static int entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.' || (e->d_name[1] && e->d_name[1] != '.');
    closedir(d);
    return n;
}

static void test_write_files(void) {
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/out", root);
    mkdir(dir, 0755);
    ResultsBuf a = {0}, b = {0};
    results_buf_cat(&a, "first\r\n");
    results_buf_cat(&b, "second");
    const char *names[] = {"a.csv", "b.csv"};
    const ResultsBuf *texts[] = {&a, &b};
    Err err = {{0}};
    CHECK(results_write_files(dir, names, texts, 2, &err) == 0, "write: %s", err.msg);
    CHECK(entries(dir) == 2, "two files, no temp files left: %d", entries(dir));
    snprintf(path, sizeof path, "%s/a.csv", dir);
    FILE *f = fopen(path, "rb");
    char got[64] = {0};
    if (f) { CHECK(fread(got, 1, sizeof got - 1, f) == 7, "size"); fclose(f); }
    CHECK(strcmp(got, "first\r\n") == 0, "content [%s]", got);
    // replaced whole
    results_buf_cat(&a, "more");
    CHECK(results_write_files(dir, names, texts, 2, &err) == 0 && entries(dir) == 2, "rewrite");
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 11, "rewritten size %lld", (long long)st.st_size);
    // a directory that is not there: an error, nothing made
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/missing", root);
    CHECK(results_write_files(missing, names, texts, 2, &err) == -1 && strstr(err.msg, "missing"), "missing dir: %s", err.msg);
    // a text that ran out of memory is never written
    ResultsBuf broken = {0};
    broken.oom = 1;
    const ResultsBuf *texts2[] = {&a, &broken};
    CHECK(results_write_files(dir, names, texts2, 2, &err) == -1 && entries(dir) == 2, "oom: nothing written, no temp left");
    CHECK(stat(path, &st) == 0 && st.st_size == 11, "the old file stays");
    results_buf_free(&a);
    results_buf_free(&b);
}

// ----------------------------------------------------------------------------
// issue 15: LaTeX text, frontier.tex, and what the sidecar says without the new keys

static void tex_case(const char *in, int tt, const char *want) {
    ResultsBuf b = {0};
    results_tex(&b, in, tt);
    CHECK(strcmp(b.s ? b.s : "", want) == 0, "results_tex(%s, %d): [%s], expected [%s]", in, tt, b.s ? b.s : "", want);
    results_buf_free(&b);
}

static void test_tex(void) {
    tex_case("", 1, "");   // nothing: an empty buffer stays empty
    tex_case("a_b%c&d#e$f{g}h~i^j\\k", 1,
             "a\\_b\\%c\\&d\\#e\\$f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k");
    tex_case(" two  spaces ", 1, "\\ two\\ \\ spaces\\ ");   // kept as written in typewriter
    tex_case(" two  spaces ", 0, " two  spaces ");
    tex_case("<a>|\"b\"", 1, "{<}a{>}|\"b\"");
    tex_case("<a>|\"b\"", 0, "$<$a$>$$|$''b''");
    tex_case("--``!`'", 1, "{-}{-}{`}{`}!{`}{'}");
    tex_case("caf\xc3\xa9 \xe4\xb8\xad", 1, "caf\\promptchar{00E9}{\xc3\xa9}\\ \\promptchar{4E2D}{\xe4\xb8\xad}");
    tex_case("\xf0\x9f\x98\x80", 0, "\\promptchar{1F600}{\xf0\x9f\x98\x80}");
    // controls and bytes that are not UTF-8 have no character to print: no second argument
    tex_case("a\tb\nc\x7f", 1, "a\\promptchar{0009}{}b\\promptchar{000A}{}c\\promptchar{007F}{}");
    tex_case("x\xff\xc3(y", 1, "x\\promptchar{FFFD}{}\\promptchar{FFFD}{}(y");
    tex_case("\xed\xa0\x80", 1, "\\promptchar{FFFD}{}\\promptchar{FFFD}{}\\promptchar{FFFD}{}");   // a surrogate
}

/* frontier.tex beside the others: a table of the configurations, the frontier across methods
 * in bold, the prompts escaped; a journal without issue 15's header keys gives null about and
 * runs, and records without run, data_files, model give empty lists and the plot says so. */
static void test_report_tex(void) {
    Built b = {0};
    const char *texts[] = {"\" 100% {x}\"", "\"a_b\"", "\"\\\\\""};
    for (int k = 0; k < 3; k++)
        for (int seed = 1; seed <= 3; seed++) {
            char point[512];
            snprintf(point, sizeof point, "{\"method\":\"pez\",\"lambda\":%d,\"prompt_length\":5,\"seed\":%d," POINT_HEAD "}",
                     k, seed);
            add(&b, record_for(point, 0.8 - 0.1 * k + 0.01 * seed, 0.7 - 0.1 * k + 0.01 * seed, 6 - 2 * k, texts[k]));
        }
    ResultsRunInfo info = {.source = "DIR/journal", .spec_sha256 = "s", .model_sha256 = "m", .journal_version = 2};
    CHECK(build(&b, &info) == 3, "3 configurations");
    const char *tex = b.out[RESULTS_FRONTIER_TEX].s;
    CHECK(tex && strstr(tex, "\\providecommand{\\promptchar}[2]{\\texttt{[U+#1]}}") &&
              count_of(tex, "\\begin{table}") == 1 && count_of(tex, "\\end{table}") == 1 && strstr(tex, "\\toprule") &&
              strstr(tex, "\\bottomrule"),
          "frontier.tex: one booktabs table");
    CHECK(strstr(tex, "\\caption{sst{-}2. Mean") && strstr(tex, "\\label{tab:frontier-sst-2}"), "caption and label");
    // all three on the frontier (each trades accuracy for log-PPL): every row bold
    CHECK(count_of(tex, "\\textbf{\\texttt{pez}}") == 3, "the frontier rows in bold");
    CHECK(strstr(tex, "\\texttt{\"\\ 100\\%\\ \\{x\\}\"}") && strstr(tex, "\\texttt{\"a\\_b\"}") &&
              strstr(tex, "\\texttt{\"\\textbackslash{}\"}"),
          "the prompts escaped: %s", tex);
    // lambda 0: test 0.71, 0.72, 0.73: mean 0.72, CI t(0.975, 2) * 0.01 / sqrt(3) = 0.0248
    CHECK(strstr(tex, "\\textbf{0.820 $\\pm$ 0.025} & \\textbf{0.720 $\\pm$ 0.025} & \\textbf{6.00 $\\pm$ 0.00} & "),
          "mean and CI (dev, test, log-PPL): %s", tex);
    CHECK(cJSON_IsNull(jget(b.json, "about")) && cJSON_IsNull(jget(b.json, "runs")), "no about, no runs: null");
    const cJSON *r = jget(b.json, "reproduce");
    CHECK(cJSON_GetArraySize(jget(r, "hosts")) == 0 && cJSON_GetArraySize(jget(r, "models")) == 0 &&
              cJSON_GetArraySize(jget(r, "data")) == 0,
          "records without run, data_files, model: empty lists");
    const char *svg = b.out[RESULTS_FRONTIER_SVG].s;
    CHECK(strstr(svg, ">model: not in the records<") && strstr(svg, "(sizes: not in the records)") &&
              !strstr(svg, "RANDOM-INIT"),
          "the plot says what the records do not");
    CHECK(count_of(svg, "class=\"few-runs\"") == 0 && count_of(svg, "class=\"identical\"") == 0, "3 distinct runs each: no flag");
    built_free(&b);

    // about and runs pass through; the name heads the table and the plot
    for (int seed = 1; seed <= 2; seed++) {
        char point[512];
        snprintf(point, sizeof point, "{\"method\":\"pez\",\"lambda\":0,\"prompt_length\":5,\"seed\":%d," POINT_HEAD "}", seed);
        add(&b, record_for(point, 0.8, 0.7, 6, "\"same\""));
    }
    info.about_json = "{\"name\":\"N#1\",\"tags\":[\"t\"]}";
    info.runs_json = "[{\"code_version\":\"v\",\"host\":\"h\",\"command\":[\"sweep\",\"s.json\"],\"ranks\":4}]";
    CHECK(build(&b, &info) == 1, "1 configuration");
    CHECK(jnum(cJSON_GetArrayItem(jget(b.json, "runs"), 0), "ranks") == 4 && !strcmp(jstr(jget(b.json, "about"), "name"), "N#1"),
          "about and runs copied");
    tex = b.out[RESULTS_FRONTIER_TEX].s;
    svg = b.out[RESULTS_FRONTIER_SVG].s;
    CHECK(strstr(tex, "\\caption{N\\#1: sst{-}2.") && strstr(svg, ">N#1 \xe2\x80\x94 sst-2<"), "the name in the caption and the title");
    // two identical runs: no CI, flagged in the table and on the plot; n < 3 in the label
    CHECK(strstr(tex, "{0.700$^{=}$}") && count_of(svg, "class=\"identical\"") == 1 && strstr(svg, "(n=2)<"),
          "identical runs flagged: %s", tex);
    built_free(&b);
}

int main(void) {
    make_root();
    test_tex();
    test_report_tex();
    test_t_quantile();
    test_stats();
    test_pareto_known();
    test_pareto_random();
    test_hypervolume_known();
    test_csv_quoting();
    test_report();
    test_report_dev();
    test_report_vocab();
    test_svg_staircase();
    test_bad_records();
    test_write_files();
    test_keys();
    test_report_nested_key();
    test_report_splits();
    test_report_baselines();
    return test_finish();
}
