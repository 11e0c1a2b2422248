/*
 * tests/test_sweep_child.c: one point in its child process (sweep/child.c), with small
 * programs standing in for tune, no MPI: a good record passes through; output that is not
 * one JSON record (text after it) fails the point; a flood on stdout is cut off at 64 MiB and
 * fails the point instead of filling the worker's memory; a program that cannot be started
 * (a directory, a missing file) fails it with the reason; the item's known digest of the model
 * is tune's TUNE_KNOWN_SHA256 and nothing else is.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sweep/sweep.h"

#define TEST_NAME "test_sweep_child"
#include "tests/testlib.h"

static const char *const POINT = "{\"method\":\"pez\",\"seed\":1}";
static const char *const RECORD =
    "{\"point\":{\"method\":\"pez\",\"seed\":1},\"status\":\"ok\",\"error\":null,"
    "\"accuracy\":{\"train\":1,\"dev\":1,\"test\":0.5},\"dev_reward\":0,\"log_ppl\":1,\"ppl\":2.718,\"dict_share\":1}";

/* A shell script in the scratch directory, executable; its path. */
static const char *script(const char *name, const char *body) {
    static char path[4][4300];
    static int next = 0;
    char *p = path[next++ % 4];
    snprintf(p, 4300, "%s/%s", root, name);
    FILE *f = fopen(p, "w");
    if (!f || fprintf(f, "#!/bin/sh\ncat >/dev/null\n%s\n", body) < 0 || fclose(f) != 0) die("cannot write %s", p);
    chmod(p, 0755);
    return p;
}

/* Runs POINT through tune_path, known as its model's known line; the record (malloc'd) or NULL. */
static char *run_known(const char *tune_path, double timeout, const char *known) {
    char *item, *record = NULL;
    size_t len;
    Err err;
    volatile sig_atomic_t stop = 0;
    int interrupted = 0;
    if (sweep_item_encode(timeout, tune_path, known, POINT, &item, &len, &err)) die("encode: %s", err.msg);
    if (sweep_run_item(item, len, &stop, &record, &interrupted, &err)) CHECK(0, "run_item: %s", err.msg);
    free(item);
    return record;
}

static char *run(const char *tune_path, double timeout) { return run_known(tune_path, timeout, NULL); }

/* The item's known line reaches tune as TUNE_KNOWN_SHA256, the only one it gets: one in the
 * worker's environment is not passed on, with a line or without. */
static void test_known_digest(void) {
    char body[8800], seen[4300];
    path_in(seen, sizeof seen, root, "seen");
    snprintf(body, sizeof body, "printf '%%s|%%s' \"${TUNE_KNOWN_SHA256-unset}\" \"$KEEP_ME\" >'%s'\nprintf '%%s\\n' '%s'",
             seen, RECORD);
    const char *tune = script("env", body);
    const char *line = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 12 0 1700000000.000000001 "
                       "1700000000.000000002 models/x y/model.safetensors";
    setenv("TUNE_KNOWN_SHA256", "from the worker", 1);
    setenv("KEEP_ME", "kept", 1);
    for (int k = 0; k < 2; k++) {
        char *r = run_known(tune, 60, k ? NULL : line);
        char *got = NULL;
        size_t n;
        Err err;
        if (util_read_file(seen, &got, &n, &err)) die("%s", err.msg);
        char want[4400];
        snprintf(want, sizeof want, "%s|kept", k ? "unset" : line);
        CHECK(r && strstr(r, "\"status\":\"ok\"") && strcmp(got, want) == 0, "tune's environment: %s, expected %s", got, want);
        free(got);
        free(r);
    }
    unsetenv("TUNE_KNOWN_SHA256");
    unsetenv("KEEP_ME");
}

static void expect(const char *what, const char *tune_path, const char *status, const char *says) {
    char *r = run(tune_path, 60);
    char want[64];
    snprintf(want, sizeof want, "\"status\":\"%s\"", status);
    CHECK(r && strstr(r, want) && (!says || strstr(r, says)), "%s: %.300s", what, r ? r : "(no record)");
    free(r);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); // as the sweep's workers do
    make_root();
    char body[4096];
    snprintf(body, sizeof body, "printf '%%s\\n' '%s'", RECORD);
    expect("a good record", script("good", body), "ok", "\"log_ppl\":1");
    snprintf(body, sizeof body, "printf '%%s\\nDEBUG: done\\n' '%s'", RECORD);
    expect("text after the record", script("trailing", body), "failed", "text after it");
    expect("70 MB on stdout", script("flood", "head -c 73400320 /dev/zero | tr '\\\\0' x"), "failed",
           "more than 64 MiB");
    expect("a directory as tune", root, "failed", "cannot start");
    char missing[4300];
    snprintf(missing, sizeof missing, "%s/no-such-tune", root);
    expect("a missing tune", missing, "failed", "cannot start");
    test_known_digest();
    return test_finish();
}
