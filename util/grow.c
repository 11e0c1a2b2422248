// util/grow.c: room for one more item in a growable array (see util.h), the doubling that
// keeps appending linear in the number of items.
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

int util_grow(void *array, int *cap, int n, size_t item_size, int first_cap) {
    if (n < *cap) return 0;
    if (*cap > INT_MAX / 2) return -1;
    int grown_cap = *cap > 0 ? 2 * *cap : first_cap;
    if (grown_cap < 1 || (size_t)grown_cap > SIZE_MAX / item_size) return -1;
    // the caller's T * is read and written through its bytes: no T ** is cast to void **
    void *items;
    memcpy(&items, array, sizeof items);
    void *grown = realloc(items, (size_t)grown_cap * item_size);
    if (!grown) return -1;
    memcpy(array, &grown, sizeof grown);
    *cap = grown_cap;
    return 0;
}
