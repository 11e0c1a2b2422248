/*
 * tests/testlib.h: what the C unit tests share: the CHECK macro and its
 * counters, die() for a broken test setup (not a failed check), and a
 * scratch directory under $TMP (tests/run.sh gives each test its own) or
 * /tmp, removed at the end. Define TEST_NAME before including it.
 */
#ifndef TESTLIB_H
#define TESTLIB_H

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef TEST_NAME
#error "define TEST_NAME before including tests/testlib.h"
#endif

static int checks, failures;

#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        checks++;                                                                     \
        if (!(cond)) {                                                                \
            failures++;                                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
        }                                                                             \
    } while (0)

// Test infrastructure failing (not the code under test): stop here.
__attribute__((noreturn, format(printf, 1, 2), unused)) static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, TEST_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

__attribute__((unused)) static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}

// ----------------------------------------------------------------------------
// the scratch directory

static char root[4096];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

__attribute__((unused)) static void make_root(void) {
    const char *tmp = getenv("TMP");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(root, sizeof root, "%s/" TEST_NAME ".XXXXXX", tmp);
    if (!mkdtemp(root)) die("mkdtemp %s: %s", root, strerror(errno));
}

__attribute__((unused)) static void remove_root(void) {
    if (root[0]) nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
