// tests/test_util.c: util's growable arrays (util/grow.c) and monotonic clock (util/clock.c).
#define TEST_NAME "test_util"
#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "util/util.h"
#include "tests/testlib.h"

typedef struct {
    double x;
    char tag[24];
} Item;

/* Appending 1000 items: each kept, the capacity doubling from first_cap (so ~log2 reallocations). */
static void test_grow_appends(void) {
    Item *items = NULL;
    int n = 0, cap = 0, reallocs = 0;
    for (int i = 0; i < 1000; i++) {
        int before = cap;
        CHECK(util_grow(&items, &cap, n, sizeof *items, 4) == 0, "grow at %d", i);
        if (cap != before) {
            reallocs++;
            CHECK(cap == (before ? 2 * before : 4), "capacity %d after %d", cap, before);
        }
        items[n] = (Item){.x = i};
        snprintf(items[n].tag, sizeof items[n].tag, "item %d", i);
        n++;
    }
    CHECK(cap == 1024 && reallocs == 9, "capacity %d after %d reallocations", cap, reallocs);
    int intact = 1;
    for (int i = 0; i < n; i++) {
        char want[24];
        snprintf(want, sizeof want, "item %d", i);
        intact &= items[i].x == i && strcmp(items[i].tag, want) == 0;
    }
    CHECK(intact, "items changed by the growth");
    // not full: nothing moves
    Item *same = items;
    CHECK(util_grow(&items, &cap, n, sizeof *items, 4) == 0 && items == same && cap == 1024, "grew while not full");
    free(items);
}

/* A count that would overflow is refused, and the array is left as it was. */
static void test_grow_overflow(void) {
    int *ids = malloc(4 * sizeof *ids);
    if (!ids) die("out of memory");
    int *before = ids, cap = INT_MAX / 2 + 1;
    CHECK(util_grow(&ids, &cap, cap, sizeof *ids, 4) == -1 && ids == before && cap == INT_MAX / 2 + 1,
          "an int overflow of the capacity");
    cap = 1 << 20;
    CHECK(util_grow(&ids, &cap, cap, SIZE_MAX / 1024, 4) == -1 && ids == before && cap == 1 << 20,
          "a size_t overflow of the bytes");
    free(ids);
}

static void test_clock(void) {
    double t0 = util_now();
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    double t1 = util_now();
    CHECK(t0 > 0 && t1 - t0 >= 0.019 && t1 - t0 < 10, "20 ms measured as %g s", t1 - t0);
}

int main(void) {
    test_grow_appends();
    test_grow_overflow();
    test_clock();
    return test_finish();
}
