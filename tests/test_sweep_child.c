/*
 * tests/test_sweep_child.c: one point in its child process (sweep/child.c), with small
 * programs standing in for tune, no MPI: a good record passes through; output that is not
 * one JSON record (text after it) fails the point; a flood on stdout is cut off at 64 MiB and
 * fails the point instead of filling the worker's memory; a program that cannot be started
 * (a directory, a missing file) fails it with the reason; the item's known digest of the model
 * is tune's TUNE_KNOWN_SHA256 and nothing else is; a failed attempt's log is the end of its
 * stderr (the last 64 KiB, with a line saying how much was cut), an ok one has none; the
 * result bytes carry the record alone, or the record, a NUL and the log; a record naming its
 * log keeps every other key.
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

/* Runs POINT through tune_path, known as its model's known line; the record (malloc'd) or NULL,
 * and its log (malloc'd or NULL) in *log when log is not NULL. */
static char *run_logged(const char *tune_path, double timeout, const char *known, char **log, size_t *log_len) {
    char *item, *record = NULL, *kept = NULL;
    size_t len, kept_len = 0;
    Err err;
    volatile sig_atomic_t stop = 0;
    int interrupted = 0;
    if (sweep_item_encode(timeout, tune_path, known, POINT, &item, &len, &err)) die("encode: %s", err.msg);
    if (sweep_run_item(item, len, &stop, &record, &kept, &kept_len, &interrupted, &err)) CHECK(0, "run_item: %s", err.msg);
    CHECK(!kept || strlen(kept) == kept_len, "the log's length: %zu, strlen %zu", kept_len, kept ? strlen(kept) : 0);
    free(item);
    if (log) {
        *log = kept;
        *log_len = kept_len;
    } else {
        free(kept);
    }
    return record;
}

static char *run_known(const char *tune_path, double timeout, const char *known) {
    return run_logged(tune_path, timeout, known, NULL, NULL);
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

/* The logs: a failed attempt's stderr comes back whole when small, its last 64 KiB after a
 * line saying what was cut when large; an ok attempt's is dropped. */
static void test_logs(void) {
    char *log = NULL;
    size_t n = 0;
    char *r = run_logged(script("fails", "echo 'step 1 loss 0.5' >&2\necho 'boom: out of dev data' >&2\nexit 3"), 60,
                         NULL, &log, &n);
    CHECK(r && strstr(r, "\"status\":\"failed\"") && strstr(r, "boom: out of dev data"), "a failing tune: %.300s", r);
    CHECK(log && strcmp(log, "step 1 loss 0.5\nboom: out of dev data\n") == 0, "its log: [%s]", log ? log : "(none)");
    free(r);
    free(log);
    // 200 KiB of numbered lines, then the last words: the log is the end, cut to the cap
    r = run_logged(script("loud", "seq 1 40000 | sed 's/^/line /' >&2\necho 'the last words' >&2\nexit 3"), 60, NULL,
                   &log, &n);
    const char *note = log ? strstr(log, "bytes of tune's stderr were cut; its last 65536 follow\n") : NULL;
    size_t body = note ? n - (size_t)(strchr(note, '\n') + 1 - log) : 0;
    CHECK(r && log && note && body == SWEEP_LOG_MAX_BYTES && n < SWEEP_LOG_MAX_BYTES + 200 &&
              strstr(log, "line 40000\nthe last words\n") && !strstr(log, "line 1\n"),
          "a loud failing tune's log: %zu bytes, kept %zu, starts [%.120s]", n, body, log ? log : "(none)");
    free(r);
    free(log);
    char body_ok[4096];
    snprintf(body_ok, sizeof body_ok, "echo 'step 1 loss 0.5' >&2\nprintf '%%s\\n' '%s'", RECORD);
    r = run_logged(script("ok_noisy", body_ok), 60, NULL, &log, &n);
    CHECK(r && strstr(r, "\"status\":\"ok\"") && !log, "an ok tune keeps no log: %s", log ? log : "(none)");
    free(r);
    free(log);
}

/* The result bytes: the record alone (an ok point: what the journal keeps as received), or the
 * record, a NUL and the log; a record naming its log. */
static void test_result_bytes(void) {
    char *out;
    size_t n, rec_len, log_len;
    const char *log;
    Err err;
    if (sweep_result_encode(RECORD, NULL, 0, &out, &n, &err)) die("%s", err.msg);
    sweep_result_split(out, n, &rec_len, &log, &log_len);
    CHECK(n == strlen(RECORD) && memcmp(out, RECORD, n) == 0 && rec_len == n && !log, "an ok result is its record");
    free(out);
    if (sweep_result_encode(RECORD, "a\nb\n", 4, &out, &n, &err)) die("%s", err.msg);
    sweep_result_split(out, n, &rec_len, &log, &log_len);
    CHECK(rec_len == strlen(RECORD) && log && log_len == 4 && memcmp(log, "a\nb\n", 4) == 0, "record + log split");
    free(out);
    if (sweep_result_encode(RECORD, "", 0, &out, &n, &err)) die("%s", err.msg);
    sweep_result_split(out, n, &rec_len, &log, &log_len);
    CHECK(rec_len == strlen(RECORD) && log && log_len == 0, "an empty log is still a log");
    free(out);
    char name[128];
    sweep_log_name("ab12", 3, name, sizeof name);
    CHECK(strcmp(name, "logs/ab12.3.log") == 0, "log name %s", name);
    char *named = sweep_record_with_log("{\"status\":\"failed\",\"error\":\"x\",\"log\":\"old\"}", 43, name);
    CHECK(named && strcmp(named, "{\"status\":\"failed\",\"error\":\"x\",\"log\":\"logs/ab12.3.log\"}") == 0,
          "the record names its log: %s", named ? named : "(null)");
    free(named);
    CHECK(sweep_record_failed(RECORD, strlen(RECORD)) == 0 && sweep_record_failed("{\"status\":\"failed\"}", 19) &&
              sweep_record_failed("not json", 8),
          "ok and failed records told apart");
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
    test_logs();
    test_result_bytes();
    return test_finish();
}
