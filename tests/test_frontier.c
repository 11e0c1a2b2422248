// tests/test_frontier.c: the frontier of results/ (results.h, issue 6): Student-t quantiles
// against known values (mpmath at 30 digits, and the closed forms for 1, 2 and 4 degrees of
// freedom); seed statistics; the non-dominated sort and the hypervolume on hand-made sets
// with known answers (ties, duplicates, one point, all dominated, NaN) and on random sets
// against brute force; RFC 4180 quoting of prompts with commas, quotes and newlines; the
// report from hand-made records (columns, frontier flags, failed and pending points, the
// sidecar, the SVG); files replaced whole.
#define TEST_NAME "test_frontier"
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "results/results.h"
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
    ResultsErr err = {{0}};
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
static uint64_t rng(void) {   // xorshift64
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

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
    ResultsErr err = {{0}};
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
    char *fields[64][40];   // (the records of these tests fit)
} Csv;

static int csv_parse(Csv *c, const char *src) {
    memset(c, 0, sizeof *c);
    c->text = xmalloc(strlen(src) + 1);
    const char *p = src;
    char *w = c->text;
    while (*p && c->n_records < 64) {
        int r = c->n_records, f = 0;
        for (;;) {
            if (f == 40) return -1;
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

static char *record(const char *method, double lambda, int length, int seed, double acc, double lp, const char *prompt_json) {
    char *s = xmalloc(2048);
    snprintf(s, 2048,
             "{\"point\":{\"method\":\"%s\",\"task\":\"sst-2\",\"lambda\":%g,\"prompt_length\":%d,\"seed\":%d,"
             "\"verbalizers\":[\" terrible\",\" great\"]},\"status\":\"ok\",\"error\":null,"
             "\"prompt\":{\"ids\":[1,2,3],\"text\":%s},\"accuracy\":{\"train\":0.9,\"dev\":0.8,\"test\":%.17g},"
             "\"log_ppl\":%.17g,\"ppl\":%.17g,\"dict_share\":0.5,"
             "\"faithfulness\":{\"acc_continuous\":%.17g,\"acc_projected\":%.17g,\"kl\":0.01},\"steps\":100,"
             "\"best_step\":50,\"wall_seconds\":1.5,\"history\":[],\"versions\":{\"tune\":\"tune 1 (issue 4)\"}}",
             method, lambda, length, seed, prompt_json, acc, lp, exp(lp), acc + 0.05, acc);
    return s;
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
                     "\"verbalizers\":[\"a\",\"b\"]},\"status\":\"failed\",\"error\":\"crashed: killed by signal 11\"}");
    recs[8] = NULL;   // pending
    recs[9] = strdup("{\"point\": {\"method\": \"pez\"");
    recs[10] = record("pez", 0, 5, 3, 0.84, 6.4, "\"s3\"");   // a third seed for lambda 0
    ResultsRecordRef refs[11];
    char ids[11][65];
    for (int i = 0; i < 11; i++) {
        snprintf(ids[i], sizeof ids[i], "%064d", i);
        refs[i] = (ResultsRecordRef){.id = ids[i], .attempts = i == 7 ? 2 : 1, .record = recs[i]};
    }
    refs[8].point_json = "{\"method\":\"rlprompt\",\"task\":\"sst-2\",\"lambda\":1,\"prompt_length\":5,\"seed\":1}";
    refs[9].point_json = "{\"method\":\"pez\",\"task\":\"sst-2\",\"lambda\":3,\"prompt_length\":5,\"seed\":1}";
    ResultsRunInfo info = {.source = "test/journal", .spec_sha256 = "ab", .model_sha256 = "cd", .journal_version = 1,
                           .created = 1700000000, .now = 1700000100};
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    ResultsFrontierSummary sum;
    ResultsErr err = {{0}};
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
        CHECK(!strcmp(c.fields[1][fbp], "s3"), "best prompt: the best seed's: %s", c.fields[1][fbp]);
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
    ResultsErr err = {{0}};
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
    ResultsErr err = {{0}};
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

int main(void) {
    make_root();
    test_t_quantile();
    test_stats();
    test_pareto_known();
    test_pareto_random();
    test_hypervolume_known();
    test_csv_quoting();
    test_report();
    test_bad_records();
    test_write_files();
    remove_root();
    printf("%s: %d checks, %d failures\n", TEST_NAME, checks, failures);
    return failures ? 1 : 0;
}
