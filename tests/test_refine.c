// tests/test_refine.c: frontier-guided λ refinement (results/refine.c, issue 16) on constructed
// dev frontiers: the new λ bisects the largest gap (in log λ; λ = 0 as a tenth of the smallest
// positive λ), a gap whose λ interval is used up gives way to the next, one proposal per family
// ordered by gap, the points to copy are every run at the gap's lower-log-PPL λ, test numbers
// and the records' order change nothing, manual prompts and failed runs are no candidates.
#define TEST_NAME "test_refine"
#include "tests/testlib.h"

#include "results/results.h"

#define MAX_RECS 64

typedef struct {
    char text[MAX_RECS][512];
    ResultsRecordRef ref[MAX_RECS];
    int n;
} Recs;

/* An ok record of method at (λ, prompt length, seed) with dev accuracy and log-PPL; test
 * accuracy test_acc. */
static void add(Recs *r, const char *method, double lambda, int length, int seed, double dev, double lp,
                double test_acc) {
    snprintf(r->text[r->n], sizeof r->text[r->n],
             "{\"point\":{\"method\":\"%s\",\"task\":\"sst-2\",\"lambda\":%.17g,\"prompt_length\":%d,\"seed\":%d,"
             "\"data\":{\"dev\":\"d%d\",\"test\":\"t\",\"train\":\"tr%d\"}},"
             "\"status\":\"ok\",\"accuracy\":{\"dev\":%.17g,\"test\":%.17g},\"log_ppl\":%.17g}",
             method, lambda, length, seed, seed, seed, dev, test_acc, lp);
    r->ref[r->n] = (ResultsRecordRef){.id = "x", .record = r->text[r->n]};
    r->n++;
}

static void add_failed(Recs *r, double lambda, int length, int seed) {
    snprintf(r->text[r->n], sizeof r->text[r->n],
             "{\"point\":{\"method\":\"pez\",\"task\":\"sst-2\",\"lambda\":%.17g,\"prompt_length\":%d,\"seed\":%d},"
             "\"status\":\"failed\",\"error\":\"boom\"}",
             lambda, length, seed);
    r->ref[r->n] = (ResultsRecordRef){.id = "x", .record = r->text[r->n]};
    r->n++;
}

/* The family's grid: λ in {0, 0.01, 0.1, 1, 10}, seeds 1 and 2 (dev accuracy off by ±0.01),
 * a bend between λ = 0.1 and λ = 1: the largest gap (5.5 nats x 0.18). */
static void bend(Recs *r, int length, double shift, double test_acc) {
    static const double lambdas[] = {0, 0.01, 0.1, 1, 10};
    static const double dev[] = {0.80, 0.79, 0.78, 0.60, 0.58};
    static const double lp[] = {9.0, 8.8, 8.5, 3.0, 2.8};
    for (int i = 0; i < 5; i++)
        for (int s = 1; s <= 2; s++)
            add(r, "pez", lambdas[i], length, s, dev[i] + (s == 1 ? 0.01 : -0.01) + shift, lp[i], test_acc);
}

static int propose(const Recs *r, int max_new, ResultsRefinement **out, int *n) {
    ResultsRunInfo info = {0};
    Err err = {0};
    int rc = results_refine(&info, r->ref, r->n, max_new, out, n, &err);
    if (rc) fprintf(stderr, "results_refine: %s\n", err.msg);
    return rc;
}

int main(void) {
    Recs *r = calloc(1, sizeof *r);
    ResultsRefinement *p;
    int n;

    // the largest gap: between λ = 1 (lower log-PPL) and λ = 0.1, bisected at sqrt(0.1)
    bend(r, 5, 0, 0.5);
    CHECK(propose(r, 4, &p, &n) == 0 && n == 1, "n %d", n);
    CHECK(n == 1 && p[0].lambda == 0.316228 && p[0].lambda_a == 1 && p[0].lambda_b == 0.1, "lambda %g between %g and %g",
          p[0].lambda, p[0].lambda_a, p[0].lambda_b);
    CHECK(n == 1 && close_to(p[0].gap, 5.5 * 0.18, 1e-12), "gap %g", p[0].gap);
    // the points to copy: both seeds at λ = 1 (records 6 and 7)
    CHECK(n == 1 && p[0].n_clone == 2 && ((p[0].clone[0] == 6 && p[0].clone[1] == 7) ||
                                          (p[0].clone[0] == 7 && p[0].clone[1] == 6)),
          "clone %d", p[0].n_clone);
    results_refinements_free(p, n);

    // max_new 0: nothing
    CHECK(propose(r, 0, &p, &n) == 0 && n == 0, "max_new 0 gave %d", n);
    results_refinements_free(p, n);

    // the records in reverse order, and other test accuracies: the same proposal (test is never read)
    Recs *rev = calloc(1, sizeof *rev);
    bend(rev, 5, 0, 0.9);
    for (int i = 0; i < rev->n / 2; i++) {
        char tmp[512];
        memcpy(tmp, rev->text[i], sizeof tmp);
        memcpy(rev->text[i], rev->text[rev->n - 1 - i], sizeof tmp);
        memcpy(rev->text[rev->n - 1 - i], tmp, sizeof tmp);
    }
    CHECK(propose(rev, 4, &p, &n) == 0 && n == 1 && p[0].lambda == 0.316228 && p[0].lambda_a == 1,
          "reversed, other test accuracy: %g", n ? p[0].lambda : -1);
    results_refinements_free(p, n);

    // the new λ came back dominated (dev 0.55 at 6 nats): the gap stays; its interval is now
    // split at 0.316228 into two of equal log width: the lower one is bisected
    add(r, "pez", 0.316228, 5, 1, 0.55, 6.0, 0.5);
    add(r, "pez", 0.316228, 5, 2, 0.55, 6.0, 0.5);
    CHECK(propose(r, 4, &p, &n) == 0 && n == 1 && p[0].lambda == 0.177828 && p[0].lambda_a == 1,
          "after a dominated point: %g", n ? p[0].lambda : -1);
    results_refinements_free(p, n);

    // two families (prompt length 10: the bend; 20: λ 0 and 1 only, a smaller gap): one
    // proposal each, the larger gap first; max_new 1 keeps the larger
    Recs *two = calloc(1, sizeof *two);
    bend(two, 10, 0, 0.5);
    static const double lambdas[] = {0, 1};
    for (int s = 1; s <= 2; s++) {   // length 20: λ 0 and 1 only, a small gap (1 nat x 0.1)
        add(two, "pez", lambdas[0], 20, s, 0.7, 4.0, 0.5);
        add(two, "pez", lambdas[1], 20, s, 0.6, 3.0, 0.5);
    }
    CHECK(propose(two, 4, &p, &n) == 0 && n == 2, "two families: %d", n);
    if (n == 2) {
        CHECK(p[0].lambda == 0.316228 && p[0].lambda_a == 1 && p[0].lambda_b == 0.1, "first %g", p[0].lambda);
        // λ = 0 stands for a tenth of the smallest positive λ (1): sqrt(0.1 x 1)
        CHECK(p[1].lambda == 0.316228 && p[1].lambda_a == 1 && p[1].lambda_b == 0 && close_to(p[1].gap, 0.1, 1e-12),
              "second %g between %g and %g, gap %g", p[1].lambda, p[1].lambda_a, p[1].lambda_b, p[1].gap);
        CHECK(p[0].gap > p[1].gap && p[0].family != p[1].family, "order");
    }
    results_refinements_free(p, n);
    CHECK(propose(two, 1, &p, &n) == 0 && n == 1 && close_to(p[0].gap, 5.5 * 0.18, 1e-12), "max_new 1");
    results_refinements_free(p, n);

    // a used-up interval: λ 1 and 1.05 (closer than RESULTS_REFINE_MIN_RATIO) leave no proposal;
    // a failed λ in between is no frontier point but still splits; manual prompts are no family
    Recs *tight = calloc(1, sizeof *tight);
    add(tight, "pez", 1, 5, 1, 0.7, 4.0, 0.5);
    add(tight, "pez", 1.05, 5, 1, 0.6, 3.0, 0.5);
    add(tight, "manual", 0, 0, 1, 0.9, 1.0, 0.5);
    add(tight, "manual", 0.5, 0, 1, 0.1, 9.0, 0.5);
    CHECK(propose(tight, 4, &p, &n) == 0 && n == 0, "used up: %d proposals", n);
    results_refinements_free(p, n);
    Recs *failed = calloc(1, sizeof *failed);
    add(failed, "pez", 0.01, 5, 1, 0.7, 4.0, 0.5);
    add(failed, "pez", 1, 5, 1, 0.6, 3.0, 0.5);
    add_failed(failed, 0.1, 5, 1);
    CHECK(propose(failed, 4, &p, &n) == 0 && n == 1 && p[0].lambda == 0.0316228,
          "a failed λ splits the interval: %g", n ? p[0].lambda : -1);
    results_refinements_free(p, n);
    // one frontier point only (λ = 0 dominates): no gap
    Recs *one = calloc(1, sizeof *one);
    add(one, "pez", 0, 5, 1, 0.9, 2.0, 0.5);
    add(one, "pez", 1, 5, 1, 0.6, 3.0, 0.5);
    CHECK(propose(one, 4, &p, &n) == 0 && n == 0, "no gap: %d", n);
    results_refinements_free(p, n);

    free(r), free(rev), free(two), free(tight), free(failed), free(one);
    return test_finish();
}
