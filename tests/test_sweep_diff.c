/*
 * tests/test_sweep_diff.c: sweep_json_diff (sweep/diff.c), the words of a refused resume:
 * nested keys as dotted paths in key order, "old → new" as compact JSON, a key only on one
 * side as "(none)", arrays compared whole, long values cut on a character boundary, at most
 * max_keys said (then ", …") while all are counted, identical points 0, bad JSON -1, and a
 * small buffer never overrun.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"

#define TEST_NAME "test_sweep_diff"
#include "tests/testlib.h"

static void expect(const char *a, const char *b, int max_keys, int want_n, const char *want) {
    char out[1024];
    int n = sweep_json_diff(a, b, max_keys, out, sizeof out);
    CHECK(n == want_n && strcmp(out, want) == 0, "%s vs %s: %d [%s], expected %d [%s]", a, b, n, out, want_n, want);
}

int main(void) {
    const char *base = "{\"lambda\":0.5,\"method\":\"pez\",\"pez\":{\"lr\":0.1,\"steps\":40},\"seed\":1}";
    expect(base, base, 4, 0, "");
    expect(base, "{\"lambda\":0.5,\"method\":\"pez\",\"pez\":{\"lr\":0.1,\"steps\":50},\"seed\":1}", 4, 1,
           "pez.steps 40 → 50");
    expect(base, "{\"lambda\":1,\"method\":\"pez\",\"pez\":{\"lr\":0.3,\"steps\":40},\"seed\":2}", 4, 3,
           "lambda 0.5 → 1, pez.lr 0.1 → 0.3, seed 1 → 2");
    expect(base, "{\"lambda\":1,\"method\":\"pez\",\"pez\":{\"lr\":0.3,\"steps\":40},\"seed\":2}", 2, 3,
           "lambda 0.5 → 1, pez.lr 0.1 → 0.3, …");
    expect(base, "{\"lambda\":0.5,\"method\":\"pez\",\"pez\":{\"lr\":0.1,\"steps\":40,\"batch\":8},\"seed\":1}", 4, 1,
           "pez.batch (none) → 8");
    expect("{\"a\":{\"b\":1}}", "{\"a\":2}", 4, 1, "a {\"b\":1} → 2");
    expect("{\"verbalizers\":[\"bad\",\"good\"]}", "{\"verbalizers\":[\"terrible\",\"great\"]}", 4, 1,
           "verbalizers [\"bad\",\"good\"] → [\"terrible\",\"great\"]");
    expect("{\"template\":\"[P]{sentence} It was\"}", "{\"template\":\"[P]{sentence} All in all, the movie was really\"}",
           4, 1, "template \"[P]{sentence} It was\" → \"[P]{sentence} All in all, the movie was…");
    // a cut inside a two-byte character backs off to its start: a quote and 38 a's, then é
    expect("{\"p\":\"\"}", "{\"p\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9z\"}", 4, 1,
           "p \"\" → \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…");
    char out[1024];
    CHECK(sweep_json_diff("{", base, 4, out, sizeof out) == -1, "bad JSON: -1");
    char small[12];
    memset(small, 'x', sizeof small);
    int n = sweep_json_diff(base, "{\"lambda\":1}", 4, small, 8);
    CHECK(n == 4 && strlen(small) == 7 && small[8] == 'x', "a buffer of 8: %d [%s]", n, small);
    return test_finish();
}
