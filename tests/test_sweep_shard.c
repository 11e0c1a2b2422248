/*
 * tests/test_sweep_shard.c: sweep/shard.c without MPI.
 *   - --shard I/N parsing: good values, and every bad one refused with a message;
 *   - sweep_shard_select: the points whose index is I mod N, in index order, the others
 *     freed, the shard's directory, the header keys;
 *   - sweep_merge on journals written here: 5 grid points in 3 shards (shard sizes 2, 2, 1)
 *     and 2 points in 3 shards (an empty shard): the merged journal read back has every
 *     point once in index order with its result and attempts; a failed-for-good point is
 *     finished, a retriable one is not; refusals (missing, repeated, other spec, not a shard,
 *     unfinished), each leaving no journal; a second merge is a no-op, a different journal
 *     in OUT is refused.
 * Whole sweeps and Slurm job arrays: tests/t_slurm_array.sh.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "results/results.h"
#include "sweep/sweep.h"

#define TEST_NAME "test_sweep_shard"
#include "tests/testlib.h"

static const char *SPEC_SHA = "1111111111111111111111111111111111111111111111111111111111111111";
static const char *OTHER_SHA = "2222222222222222222222222222222222222222222222222222222222222222";
static const char *MODEL_SHA = "3333333333333333333333333333333333333333333333333333333333333333";

static void point_id(int g, char id[65]) {
    for (int i = 0; i < 64; i++) id[i] = "0123456789abcdef"[(g * 7 + i) % 16];
    snprintf(id + 56, 9, "%08x", (unsigned)g);
}

static void append(Journal *j, int type, const char *text) {
    Err err;
    if (journal_append(j, type, text, strlen(text), 0, &err)) die("journal_append: %s", err.msg);
}

static void append_result(Journal *j, int g, int failed) {
    char id[65], rec[512];
    point_id(g, id);
    snprintf(rec, sizeof rec,
             "{\"point\":{\"task\":\"sst-2\",\"method\":\"pez\",\"lambda\":%d,\"prompt_length\":3,\"seed\":%d},"
             "\"status\":\"%s\"%s,\"accuracy\":{\"test\":%g},\"log_ppl\":%g}",
             g % 2, g, failed ? "failed" : "ok", failed ? ",\"error\":\"crashed\"" : "", 0.5 + 0.01 * g, 3.0 + g);
    uLongf zlen = compressBound(strlen(rec));
    unsigned char *z = xmalloc(zlen);
    if (compress2(z, &zlen, (const Bytef *)rec, strlen(rec), 6) != Z_OK) die("compress2");
    void *payload = NULL;
    size_t plen = 0;
    Err err;
    if (result_frame_encode(failed, id, z, zlen, strlen(rec), results_crc32(rec, strlen(rec)), &payload, &plen, &err))
        die("result_frame_encode: %s", err.msg);
    if (journal_append(j, JOURNAL_RESULT, payload, plen, 0, &err)) die("journal_append: %s", err.msg);
    free(payload);
    free(z);
}

/* A shard's journal as `sweep --shard I/N` writes it: header, POINT frames, a dispatch and a
 * result per point; point `failing` (grid index) gets `fails` failed results (and no ok one
 * when fails > 0). */
static void write_shard(const char *dir, const char *spec_sha, int shard, int n, int grid, int failing, int fails) {
    mkdir(dir, 0755);
    Journal *j = NULL;
    Err err;
    if (journal_open(&j, dir, &err)) die("journal_open %s: %s", dir, err.msg);
    char buf[1024];
    snprintf(buf, sizeof buf,
             "{\"spec_sha256\":\"%s\",\"version\":1,\"created\":%d,\"model_sha256\":\"%s\",\"shard\":%d,"
             "\"shards\":%d,\"grid_points\":%d,\"retries\":1}",
             spec_sha, 1000 + shard, MODEL_SHA, shard, n, grid);
    append(j, JOURNAL_HEADER, buf);
    int k = 0;
    for (int g = shard; g < grid; g += n, k++) {
        char id[65];
        point_id(g, id);
        snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"index\":%d,\"grid_index\":%d,\"point\":{\"seed\":%d,\"x\":[1,2]}}",
                 id, k, g, g);
        append(j, JOURNAL_POINT, buf);
    }
    for (int g = shard; g < grid; g += n) {
        char id[65];
        point_id(g, id);
        int attempts = g == failing && fails > 0 ? fails : 1;
        for (int a = 1; a <= attempts; a++) {
            snprintf(buf, sizeof buf, "{\"id\":\"%s\",\"attempt\":%d,\"worker\":1,\"time\":5}", id, a);
            append(j, JOURNAL_DISPATCH, buf);
            append_result(j, g, g == failing && fails > 0);
        }
    }
    journal_close(j);
}

static void path(char *out, const char *name) { snprintf(out, 4200, "%s/%s", root, name); }

static int file_size(const char *dir) {
    char p[4400];
    if (snprintf(p, sizeof p, "%s/journal", dir) >= (int)sizeof p) die("path too long");
    struct stat st;
    return stat(p, &st) == 0 ? (int)st.st_size : -1;
}

static void test_parse(void) {
    Err err;
    int i = -1, n = -1;
    CHECK(sweep_shard_parse("0/1", &i, &n, &err) == 0 && i == 0 && n == 1, "0/1");
    CHECK(sweep_shard_parse("7/8", &i, &n, &err) == 0 && i == 7 && n == 8, "7/8");
    const char *bad[] = {"", "1", "1/", "/2", "2/2", "-1/2", "1/0", "a/b", "1/2x", "1 /2"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        err.msg[0] = '\0';
        CHECK(sweep_shard_parse(bad[k], &i, &n, &err) == -1 && strstr(err.msg, "--shard"), "\"%s\": %s", bad[k], err.msg);
    }
}

static void test_select(void) {
    SweepSpec s;
    memset(&s, 0, sizeof s);
    snprintf(s.out_dir, sizeof s.out_dir, "runs/x");
    s.retries = 2;
    s.n_points = 10;
    s.points = xmalloc(10 * sizeof *s.points);
    for (int i = 0; i < 10; i++) {
        memset(&s.points[i], 0, sizeof s.points[i]);
        s.points[i].index = i;
        s.points[i].point_json = strdup("{}");
    }
    Err err;
    CHECK(sweep_shard_select(&s, 1, 3, &err) == 0, "%s", err.msg);
    CHECK(s.n_points == 3 && s.grid_points == 10 && s.shard == 1 && s.n_shards == 3, "n %d grid %d", s.n_points, s.grid_points);
    for (int k = 0; k < s.n_points; k++) CHECK(s.points[k].index == 1 + 3 * k, "point %d has index %d", k, s.points[k].index);
    CHECK(strcmp(s.out_dir, "runs/x/shard-1-of-3") == 0, "%s", s.out_dir);
    char keys[200];
    sweep_shard_header_keys(&s, keys, sizeof keys);
    CHECK(strcmp(keys, ",\"shard\":1,\"shards\":3,\"grid_points\":10,\"retries\":2") == 0, "%s", keys);
    sweep_spec_free(&s);
    SweepSpec whole;
    memset(&whole, 0, sizeof whole);
    sweep_shard_header_keys(&whole, keys, sizeof keys);
    CHECK(keys[0] == '\0', "a whole grid has no shard keys: %s", keys);
}

/* The merged journal read back: every point once, in grid order, with its result. */
static void check_merged(const char *dir, int grid, int failing, int fails) {
    SweepJournal jr;
    Err err;
    if (sweep_journal_read(&jr, dir, &err)) die("sweep_journal_read: %s", err.msg);
    CHECK(jr.have_header && strcmp(jr.spec_sha256, SPEC_SHA) == 0 && jr.bad_offset < 0, "header %s", jr.spec_sha256);
    CHECK(jr.n == grid, "%d points, not %d", jr.n, grid);
    for (int g = 0; g < jr.n && g < grid; g++) {
        char id[65], want[64];
        point_id(g, id);
        snprintf(want, sizeof want, "{\"seed\":%d,\"x\":[1,2]}", g);
        const SweepJournalPoint *p = &jr.points[g];
        CHECK(strcmp(p->id, id) == 0, "point %d: id %s", g, p->id);
        CHECK(strcmp(p->point_json, want) == 0, "point %d: %s", g, p->point_json);
        int want_failed = g == failing ? fails : 0;
        CHECK(p->n_ok == (want_failed ? 0 : 1) && p->n_failed == want_failed && p->n_dispatched == (want_failed ? want_failed : 1),
              "point %d: ok %d failed %d dispatched %d", g, p->n_ok, p->n_failed, p->n_dispatched);
        CHECK(p->record && strstr(p->record, want_failed ? "\"failed\"" : "\"ok\""), "point %d: %s", g, p->record);
    }
    sweep_journal_free(&jr);
}

static void test_merge(void) {
    char s0[4200], s1[4200], s2[4200], out[4200], other[4200], bad[4200], cut[4200], whole[4200], huge[4200];
    path(s0, "a0"), path(s1, "a1"), path(s2, "a2"), path(out, "merged");
    path(other, "other1"), path(bad, "retriable1"), path(cut, "none"), path(whole, "whole"), path(huge, "huge2");
    // 5 points over 3 shards; point 3 (shard 0) failed for good (2 failed results > retries 1)
    write_shard(s0, SPEC_SHA, 0, 3, 5, 3, 2);
    write_shard(s1, SPEC_SHA, 1, 3, 5, -1, 0);
    write_shard(s2, SPEC_SHA, 2, 3, 5, -1, 0);
    Err err = {{0}};
    const char *dirs[] = {s2, s0, s1};   // any order
    int rc = sweep_merge(out, dirs, 3, &err);
    CHECK(rc == 0, "merge: %s", err.msg);
    check_merged(out, 5, 3, 2);
    int size = file_size(out);
    CHECK(sweep_merge(out, dirs, 3, &err) == 0 && file_size(out) == size, "a second merge: %s", err.msg);

    struct { const char *what, *want; const char *d[3]; int n; } refused[] = {
        {"a missing shard", "shard 2 of 3 is missing", {s0, s1}, 2},
        {"a repeated shard", "given twice", {s0, s1, s1}, 3},
        {"a shard of another spec", "different specs", {s0, s1, other}, 3},
        {"a retriable point", "has not finished", {s0, bad, s2}, 3},
        {"no journal", "no sweep journal", {s0, s1, cut}, 3},
        {"a whole sweep", "not a shard", {s0, s1, whole}, 3},
        {"a crafted grid size", "grid_points", {s0, s1, huge}, 3},
    };
    write_shard(other, OTHER_SHA, 1, 3, 5, -1, 0);
    write_shard(bad, SPEC_SHA, 1, 3, 5, 1, 1);   // one failed result, retries 1: not finished
    mkdir(cut, 0755);
    mkdir(whole, 0755);
    {
        Journal *j = NULL;
        Err rerr;
        if (journal_open(&j, whole, &rerr)) die("%s", rerr.msg);
        char h[300];
        snprintf(h, sizeof h, "{\"spec_sha256\":\"%s\",\"version\":1,\"created\":1,\"model_sha256\":\"%s\"}", SPEC_SHA, MODEL_SHA);
        append(j, JOURNAL_HEADER, h);
        journal_close(j);
        // shard 2 of 3 of a grid of INT_MAX points: (grid - shard + N - 1) overflowed an int
        mkdir(huge, 0755);
        if (journal_open(&j, huge, &rerr)) die("%s", rerr.msg);
        snprintf(h, sizeof h, "{\"spec_sha256\":\"%s\",\"version\":1,\"created\":1,\"model_sha256\":\"%s\",\"shard\":2,"
                 "\"shards\":3,\"grid_points\":2147483647,\"retries\":1}", SPEC_SHA, MODEL_SHA);
        append(j, JOURNAL_HEADER, h);
        journal_close(j);
    }
    for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
        char o[4300];
        snprintf(o, sizeof o, "%s/refused%zu", root, k);
        err.msg[0] = '\0';
        CHECK(sweep_merge(o, refused[k].d, refused[k].n, &err) == -1 && strstr(err.msg, refused[k].want),
              "%s: %s", refused[k].what, err.msg);
        CHECK(file_size(o) <= 0, "%s: a journal was written", refused[k].what);
    }
    // OUT holding another journal: refused, untouched
    char o2[4300];
    snprintf(o2, sizeof o2, "%s/taken", root);
    write_shard(o2, SPEC_SHA, 1, 3, 5, -1, 0);
    int before = file_size(o2);
    CHECK(sweep_merge(o2, dirs, 3, &err) == -1 && strstr(err.msg, "not this merge") && file_size(o2) == before, "%s", err.msg);

    // 2 points over 3 shards: shard 2 is empty
    char e0[4200], e1[4200], e2[4200], eout[4200];
    path(e0, "e0"), path(e1, "e1"), path(e2, "e2"), path(eout, "emerged");
    write_shard(e0, SPEC_SHA, 0, 3, 2, -1, 0);
    write_shard(e1, SPEC_SHA, 1, 3, 2, -1, 0);
    write_shard(e2, SPEC_SHA, 2, 3, 2, -1, 0);
    const char *edirs[] = {e0, e1, e2};
    CHECK(sweep_merge(eout, edirs, 3, &err) == 0, "merge with an empty shard: %s", err.msg);
    check_merged(eout, 2, -1, 0);
}

int main(void) {
    make_root();
    test_parse();
    test_select();
    test_merge();
    return test_finish();
}
