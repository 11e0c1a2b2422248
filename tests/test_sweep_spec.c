/*
 * tests/test_sweep_spec.c: sweep/spec.c and sweep/sha256.c.
 *   - sha256 of bytes against FIPS 180-4 vectors;
 *   - a good spec: the number of points, the fixed expansion order (task, method,
 *     prompt_length, lambda, seed; last fastest), per-method settings given to their
 *     method only, shared "point" keys, defaults (timeout, retries, drain);
 *   - ids: 64 hex digits, distinct, stable across parses and key order, unchanged for old
 *     points when the grid grows, changed when the model's bytes change;
 *   - manual points collapse across prompt lengths; costly-first order;
 *   - each point carries its model's known-digest line (none for a file just written);
 *   - every kind of bad spec gives one clear message naming what is wrong;
 *   - name, description and tags (issue 15) reach SweepSpec.about and change no point.
 * Files (a fake checkpoint: only its bytes matter here, splits, a word list) go into a
 * scratch directory ($TMP or /tmp).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "model/gpt2.h"
#include "sweep/sweep.h"
#include "tuners/tuners.h"   // TUNE_VERSION

#define TEST_NAME "test_sweep_spec"
#include "tests/testlib.h"

static char model_dir[4200], data_dir[4200], words[4200], out_dir[4200];

static void make_files(void) {
    scratch_dir(model_dir, sizeof model_dir, "model");
    scratch_dir(data_dir, sizeof data_dir, "data");
    path_in(words, sizeof words, root, "words");
    path_in(out_dir, sizeof out_dir, root, "out");
    write_text(model_dir, "config.json", "{}");
    write_text(model_dir, "model.safetensors", "weights v1");
    static const char *const splits[] = {"train.tsv", "dev.tsv", "test.tsv"};
    for (int i = 0; i < 3; i++) write_text(data_dir, splits[i], "sentence\tlabel\ngood\t1\nbad\t0\n");
    write_text(root, "words", "good\nbad\n");
}

/* A spec: the common part with `extra` keys spliced in (a leading comma each) and `grid`. */
static char *spec_text(const char *grid, const char *extra) {
    size_t cap = 8192 + strlen(grid) + strlen(extra);
    char *s = xmalloc(cap);
    snprintf(s, cap,
             "{\"model\":\"%s\",\"task\":\"sst-2\",\"data\":{\"train\":\"%s/train.tsv\",\"dev\":\"%s/dev.tsv\","
             "\"test\":\"%s/test.tsv\"},\"out\":\"%s\",\"grid\":%s,\"point\":{\"dictionary\":\"%s\",\"max_test\":8}%s}",
             model_dir, data_dir, data_dir, data_dir, out_dir, grid, words, extra);
    return s;
}

static int parse(SweepSpec *s, const char *text, Err *err) {
    return sweep_spec_parse(s, text, strlen(text), "/bin/true", err);
}

static const char *const GRID =
    "{\"method\":[\"pez\",\"rlprompt\"],\"prompt_length\":[2,3],\"lambda\":[0,0.5],\"seed\":[1,2,3]}";

// ----------------------------------------------------------------------------

static void test_sha256(void) {
    char hex[65];
    gpt2_sha256_hex("", 0, hex);
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0, "%s", hex);
    gpt2_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0, "%s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    gpt2_sha256_hex(two, strlen(two), hex);
    CHECK(strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1") == 0, "%s", hex);
}

/* Each point carries its model's known-digest line for its tune (sweep.h "Hash once"): the line
 * rank 0 made hashing model.safetensors, one for all points; none while the file is too new
 * to be vouched for. */
static void test_known_lines(void) {
    char *text = spec_text(GRID, ",\"empty_baseline\":false");
    char weights[4300];
    path_in(weights, sizeof weights, model_dir, "model.safetensors");
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) == 0 && s.n_points == 24, "%s", err.msg);
    int none = 1;
    for (int i = 0; i < s.n_points; i++) none = none && !s.points[i].model_known;
    int lines = 0;
    for (int i = 0; i < s.n_inputs; i++) lines += s.inputs[i].known != NULL;
    CHECK(none && lines == 0, "a model written just now was vouched for: %s", s.points[0].model_known);
    sweep_spec_free(&s);

    struct timespec t[2];
    clock_gettime(CLOCK_REALTIME, &t[0]);
    t[0].tv_sec -= 60;
    t[1] = t[0];
    if (utimensat(AT_FDCWD, weights, t, 0) != 0) die("utimensat %s", weights);
    char hex[65], want[GPT2_KNOWN_SHA256_MAX];
    if (gpt2_file_sha256_known(weights, hex, want, sizeof want, &err) || !want[0]) die("no known line for %s", weights);
    CHECK(parse(&s, text, &err) == 0 && s.n_points == 24, "%s", err.msg);
    const char *line = NULL;
    lines = 0;
    for (int i = 0; i < s.n_inputs; i++)
        if (s.inputs[i].known) line = s.inputs[i].known, lines++;
    CHECK(lines == 1 && strcmp(line, want) == 0, "%d lines: %s, expected %s", lines, line ? line : "", want);
    int all = 1;
    for (int i = 0; i < s.n_points; i++) all = all && s.points[i].model_known == line;
    CHECK(all, "a point without its model's line");
    CHECK(strncmp(want, s.model_sha256, 64) == 0, "the line's digest is not the model's %s", s.model_sha256);
    sweep_spec_free(&s);
    free(text);
}

/* The value of key in point i's canonical JSON, printed. */
static char *point_value(const SweepSpec *s, int i, const char *key) {
    cJSON *p = cJSON_Parse(s->points[i].point_json);
    char *v = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(p, key));
    cJSON_Delete(p);
    return v ? v : strdup("(none)");
}

static int point_has(const SweepSpec *s, int i, const char *key, const char *want) {
    char *v = point_value(s, i, key);
    int ok = strcmp(v, want) == 0;
    if (!ok) fprintf(stderr, "point %d: %s is %s, expected %s\n", i, key, v, want);
    free(v);
    return ok;
}

/* text with every "from" replaced by "to" (malloc'd). */
static char *replaced(const char *text, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + nf, from)) count++;
    char *out = xmalloc(strlen(text) + count * nt + 1), *w = out;
    const char *p = text;
    for (const char *q = strstr(p, from); q; p = q + nf, q = strstr(p, from)) {
        memcpy(w, p, (size_t)(q - p));
        w += q - p;
        memcpy(w, to, nt);
        w += nt;
    }
    strcpy(w, p);
    return out;
}

/* A point's id computed here from its canonical JSON and the files' bytes (sweep.h). */
static char *identity_of(const char *point_json) {
    static char id[65];
    char *text = strdup(point_json), path[4400], quoted[4500], sha[80];
    static const char *const splits[] = {"train", "dev", "test"};
    for (int i = 0; i < 5; i++) {
        const char *file = path;
        if (i < 3) snprintf(path, sizeof path, "%s/%s.tsv", data_dir, splits[i]);
        else if (i == 3) file = words;
        else snprintf(path, sizeof path, "%s/model.safetensors", model_dir);
        Err err;
        char hex[65];
        if (gpt2_file_sha256(file, hex, &err)) die("%s", err.msg);
        snprintf(quoted, sizeof quoted, "\"%s\"", i == 4 ? model_dir : file);
        snprintf(sha, sizeof sha, "\"sha256:%s\"", hex);
        char *next = replaced(text, quoted, sha);
        free(text);
        text = next;
    }
    size_t cap = strlen(text) + 200;
    char *wrapped = xmalloc(cap);
    snprintf(wrapped, cap, "{\"identity\":2,\"point\":%s,\"tune\":\"%s\"}", text, TUNE_VERSION);
    gpt2_sha256_hex(wrapped, strlen(wrapped), id);
    free(text);
    free(wrapped);
    return id;
}

static void test_expansion(void) {
    char *text = spec_text(GRID, ",\"pez\":{\"steps\":7},\"rlprompt\":{\"steps\":9}");
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) == 0, "%s", err.msg);
    // the grid, then the empty prompt's baseline (by default: one per task and split)
    CHECK(s.n_points == 2 * 2 * 2 * 3 + 1, "%d points", s.n_points);
    CHECK(point_has(&s, 24, "method", "\"manual\"") && point_has(&s, 24, "prompt", "\"\"") &&
              point_has(&s, 24, "lambda", "0") && point_has(&s, 24, "seed", "0"),
          "the empty-prompt baseline last, lambda and seed at their defaults");
    CHECK(strcmp(s.replicates, "[\"seed\",\"split\"]") == 0, "default replicates: %s", s.replicates);
    CHECK(s.timeout_seconds == 3600 && s.retries == 1 && s.drain_seconds == 30, "defaults");
    CHECK(strcmp(s.tune_path, "/bin/true") == 0 && strcmp(s.out_dir, out_dir) == 0, "paths");
    // odometer: method, prompt_length, lambda, seed (last fastest)
    static const char *const methods[] = {"\"pez\"", "\"rlprompt\""};
    static const char *const lengths[] = {"2", "3"}, *const lambdas[] = {"0", "0.5"}, *const seeds[] = {"1", "2", "3"};
    int i = 0;
    for (int m = 0; m < 2; m++)
        for (int l = 0; l < 2; l++)
            for (int a = 0; a < 2; a++)
                for (int d = 0; d < 3; d++, i++) {
                    CHECK(s.points[i].index == i, "index");
                    CHECK(point_has(&s, i, "method", methods[m]) && point_has(&s, i, "prompt_length", lengths[l]) &&
                              point_has(&s, i, "lambda", lambdas[a]) && point_has(&s, i, "seed", seeds[d]),
                          "point %d out of order", i);
                }
    // settings go to their own method; shared point keys to all
    CHECK(strstr(s.points[0].point_json, "\"steps\":7") && !strstr(s.points[0].point_json, "rlprompt\":{"), "pez settings");
    CHECK(strstr(s.points[12].point_json, "\"steps\":9") && !strstr(s.points[12].point_json, "\"pez\":{"), "rl settings");
    CHECK(point_has(&s, 5, "max_test", "8"), "shared keys");
    // ids: 64 hex, all distinct
    for (int p = 0; p < s.n_points; p++) {
        CHECK(strlen(s.points[p].id) == 64 && strspn(s.points[p].id, "0123456789abcdef") == 64, "id %s", s.points[p].id);
        for (int q = 0; q < p; q++) CHECK(strcmp(s.points[p].id, s.points[q].id) != 0, "ids %d and %d equal", p, q);
    }
    // the id: sha256 of {"identity":2,"point":P,"tune":TUNE_VERSION}, P the canonical JSON with each
    // file's path replaced by "sha256:" and its contents' sha256
    CHECK(strcmp(identity_of(s.points[3].point_json), s.points[3].id) == 0, "id formula");
    // journals of version 1: sha256(canonical JSON + model sha256)
    char v2_id[65];
    memcpy(v2_id, s.points[3].id, 65);
    size_t n = strlen(s.points[3].point_json);
    char *keyed = xmalloc(n + 65);
    memcpy(keyed, s.points[3].point_json, n);
    memcpy(keyed + n, s.model_sha256, 65);
    char want[65];
    gpt2_sha256_hex(keyed, n + 64, want);
    CHECK(sweep_spec_use_v1_ids(&s, &err) == 0 && strcmp(want, s.points[3].id) == 0 && strcmp(want, v2_id) != 0,
          "version-1 id formula");
    free(keyed);

    // costly first: rlprompt, then more steps x longer prompts, ties by index
    int all[24];
    for (int p = 0; p < 24; p++) all[p] = p;
    int *order = sweep_cost_order(&s, all, 24);
    CHECK(order && order[0] == 18 && order[5] == 23 && order[6] == 12 && order[12] == 6 && order[23] == 5,
          "cost order %d %d %d %d %d", order[0], order[5], order[6], order[12], order[23]);
    free(order);
    sweep_spec_free(&s);
    free(text);
}

static void test_ids(void) {
    char *a = spec_text(GRID, "");
    // the same spec with keys in another order and other spacing
    char *b = spec_text("{ \"seed\":[1,2,3], \"lambda\":[0,0.5], \"prompt_length\":[2,3], \"method\":[\"pez\",\"rlprompt\"] }",
                        ",\"retries\":3");
    // a grown grid: a new seed and a new lambda
    char *c = spec_text("{\"method\":[\"pez\",\"rlprompt\"],\"prompt_length\":[2,3],\"lambda\":[0,0.5,1],\"seed\":[1,2,3,4]}", "");
    SweepSpec sa, sb, sc;
    Err err = {{0}};
    CHECK(parse(&sa, a, &err) == 0, "%s", err.msg);
    CHECK(parse(&sb, b, &err) == 0, "%s", err.msg);
    CHECK(parse(&sc, c, &err) == 0, "%s", err.msg);
    CHECK(sc.n_points == 2 * 2 * 3 * 4 + 1, "%d", sc.n_points);
    for (int i = 0; i < sa.n_points; i++) {
        int in_b = 0, in_c = 0;
        for (int j = 0; j < sb.n_points; j++) in_b |= strcmp(sa.points[i].id, sb.points[j].id) == 0;
        for (int j = 0; j < sc.n_points; j++) in_c |= strcmp(sa.points[i].id, sc.points[j].id) == 0;
        CHECK(in_b && in_c, "point %d's id lost (reordered %d, grown %d)", i, in_b, in_c);
    }
    CHECK(strcmp(sa.points[7].id, sb.points[7].id) == 0, "same order, same ids");
    // another model (other bytes): every id changes
    write_text(model_dir, "model.safetensors", "weights v2");
    SweepSpec sd;
    CHECK(parse(&sd, a, &err) == 0, "%s", err.msg);
    for (int i = 0; i < sa.n_points && i < sd.n_points; i++) CHECK(strcmp(sa.points[i].id, sd.points[i].id) != 0, "model");
    write_text(model_dir, "model.safetensors", "weights v1");
    // a data file or the dictionary with other contents (a label changed): other ids; the same
    // contents again: the same ids
    static const char *const changed[][2] = {{"train", "sentence\tlabel\ngood\t0\nbad\t0\n"}, {"words", "good\nbad\nfine\n"}};
    for (int k = 0; k < 2; k++) {
        const char *dir = k == 0 ? data_dir : root, *file = k == 0 ? "train.tsv" : "words";
        write_text(dir, file, changed[k][1]);
        SweepSpec se;
        CHECK(parse(&se, a, &err) == 0, "%s", err.msg);
        for (int i = 0; i < sa.n_points && i < se.n_points; i++)
            CHECK(strcmp(sa.points[i].id, se.points[i].id) != 0, "%s changed, point %d's id did not", changed[k][0], i);
        sweep_spec_free(&se);
        write_text(dir, file, k == 0 ? "sentence\tlabel\ngood\t1\nbad\t0\n" : "good\nbad\n");
        CHECK(parse(&se, a, &err) == 0 && strcmp(se.points[0].id, sa.points[0].id) == 0, "%s restored", changed[k][0]);
        sweep_spec_free(&se);
    }
    sweep_spec_free(&sa);
    sweep_spec_free(&sb);
    sweep_spec_free(&sc);
    sweep_spec_free(&sd);
    free(a);
    free(b);
    free(c);
}

/* An adaptive sweep's point (sweep_spec_add_point): a grid point with another λ is the point
 * a grid with that λ would have made (same canonical JSON, same id), hashing nothing new;
 * "adaptive" is read and checked. */
static void expect_error(const char *grid, const char *extra, const char *needle);

static void test_added_points(void) {
    char *small = spec_text("{\"method\":[\"pez\"],\"prompt_length\":[2],\"lambda\":[0,0.5],\"seed\":[1,2]}",
                            ",\"adaptive\":{\"points\":4}");
    char *full = spec_text("{\"method\":[\"pez\"],\"prompt_length\":[2],\"lambda\":[0,0.316228,0.5],\"seed\":[1,2]}", "");
    SweepSpec s, f;
    Err err = {{0}};
    CHECK(parse(&s, small, &err) == 0, "%s", err.msg);
    CHECK(parse(&f, full, &err) == 0, "%s", err.msg);
    CHECK(s.adaptive_points == 4 && f.adaptive_points == 0, "adaptive %d %d", s.adaptive_points, f.adaptive_points);
    int inputs = s.n_inputs, n = s.n_points;
    for (int seed = 0; seed < 2; seed++) {   // points 0 and 1: λ 0, seeds 1 and 2
        CHECK(sweep_spec_add_point(&s, s.points[seed].point_json, "lambda", 0.316228, &err) == 0, "%s", err.msg);
        const SweepPoint *added = &s.points[s.n_points - 1], *want = &f.points[2 + seed];   // λ 0.316228, the seed
        CHECK(added->index == n + seed, "index %d", added->index);
        CHECK(strcmp(added->id, want->id) == 0 && strcmp(added->point_json, want->point_json) == 0,
              "added %s\n want %s", added->point_json, want->point_json);
        CHECK(added->model_known == s.points[0].model_known && added->cost == want->cost, "known line, cost");
    }
    CHECK(s.n_inputs == inputs, "inputs hashed again: %d -> %d", inputs, s.n_inputs);
    // a nested key: pez.steps 250 is the point of a spec whose pez settings say so
    char *steps = spec_text("{\"method\":[\"pez\"],\"prompt_length\":[2],\"lambda\":[0,0.5],\"seed\":[1,2]}",
                            ",\"pez\":{\"steps\":250}");
    SweepSpec st;
    CHECK(parse(&st, steps, &err) == 0, "%s", err.msg);
    CHECK(sweep_spec_add_point(&s, s.points[1].point_json, "pez.steps", 250, &err) == 0 &&
              strcmp(s.points[s.n_points - 1].id, st.points[1].id) == 0, "pez.steps: %s", s.points[s.n_points - 1].point_json);
    sweep_spec_free(&st);
    free(steps);
    // no key: the point as it is
    CHECK(sweep_spec_add_point(&s, s.points[0].point_json, NULL, 0, &err) == 0 &&
              strcmp(s.points[s.n_points - 1].id, s.points[0].id) == 0, "as it is");
    CHECK(sweep_spec_add_point(&s, "[1]", "lambda", 0.1, &err) == -1 && strstr(err.msg, "not a JSON object"), "%s", err.msg);
    sweep_spec_free(&s);
    sweep_spec_free(&f);
    free(small);
    free(full);
    expect_error(GRID, ",\"adaptive\":{\"points\":0}", "\"points\" must be an integer in [1,");
    expect_error(GRID, ",\"adaptive\":{\"pointz\":3}", "unknown key \"adaptive.pointz\"");
    expect_error(GRID, ",\"adaptive\":{}", "\"adaptive.points\" is missing");
    expect_error(GRID, ",\"adaptive\":3", "\"adaptive\" must be an object");
}

static void test_manual(void) {
    char *text = xmalloc(16384);
    char *base = spec_text("{\"method\":[\"manual\",\"pez\"],\"prompt_length\":[2,3]}", "");
    // "prompt" is for manual points only: the spec gives it through "point" for an all-manual grid
    snprintf(text, 16384, "%s", base);
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) != 0 && strstr(err.msg, "\"prompt\""), "manual without prompt: %s", err.msg);
    free(base);
    base = spec_text("{\"method\":[\"manual\"],\"prompt_length\":[2,3],\"seed\":[1,2]}", "");
    char *at = strstr(base, "\"max_test\":8");
    snprintf(text, 16384, "%.*s\"prompt\":\"It was\",%s", (int)(at - base), base, at);
    CHECK(parse(&s, text, &err) == 0, "%s", err.msg);
    CHECK(s.n_points == 2 + 1, "manual points collapse across prompt lengths (+ the empty baseline): %d", s.n_points);
    if (s.n_points == 3) CHECK(s.points[0].cost_class == SWEEP_COST_MANUAL, "manual cost");
    sweep_spec_free(&s);
    free(base);
    free(text);
}

/* Parsing text must fail with a one-line message holding needle. */
static void expect_text_error(const char *text, const char *needle) {
    SweepSpec s;
    Err err = {{0}};
    int rc = parse(&s, text, &err);
    CHECK(rc != 0, "spec accepted, expected an error with \"%s\"", needle);
    if (rc == 0) sweep_spec_free(&s);
    else CHECK(strstr(err.msg, needle) != NULL && !strchr(err.msg, '\n'), "message \"%s\" lacks \"%s\"", err.msg, needle);
}

/* The same for the spec spec_text(grid, extra). */
static void expect_error(const char *grid, const char *extra, const char *needle) {
    char *text = spec_text(grid, extra);
    expect_text_error(text, needle);
    free(text);
}

static void test_errors(void) {
    // bad keys beside a good grid ({"method":["pez"]})
    const struct { const char *keys, *says; } bad_keys[] = {
        {",\"colour\":1", "unknown key \"colour\""},
        // control characters from the spec never reach the terminal: an escape sequence, a newline
        {",\"\\u001b[2Jx\\ny\":1", "unknown key \"?[2Jx?y\""},
        {",\"retries\":\"two\"", "\"retries\""},
        {",\"retries\":-1", "\"retries\""},
        {",\"timeout_seconds\":0", "\"timeout_seconds\""},
        {",\"pez\":[1]", "\"pez\" must be an object"},
        {",\"pez\":{\"stepz\":3}", "stepz"},
        {",\"tune\":\"/no/such/tune\"", "not an executable"},
        // a directory passes access(X_OK); a newline would split the work item's lines
        {",\"tune\":\"/tmp\"", "not an executable program"},
        {",\"tune\":\"/bin/true\\n/bin/sh\"", "control character"},
        // a key given twice, at the top, nested, in the grid: refused, not the first one kept
        {",\"retries\":1,\"retries\":5", "key \"retries\" given twice"},
        {",\"pez\":{\"steps\":3,\"steps\":4}", "key \"pez.steps\" given twice"},
    };
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++)
        expect_error("{\"method\":[\"pez\"]}", bad_keys[i].keys, bad_keys[i].says);
    const struct { const char *grid, *says; } bad_grids[] = {
        {"{\"method\":[\"pez\"],\"temperature\":[1]}", "(method \"pez\", temperature 1): point: unknown key \"temperature\""},
        {"{\"method\":\"pez\"}", "grid.method must be an array"},
        {"{\"method\":[]}", "grid.method is empty"},
        {"{\"method\":[\"pez\"],\"seed\":[]}", "grid.seed is empty"},
        {"{\"lambda\":[0]}", "grid.method is missing"},
        {"{\"method\":[\"pez\"],\"lambda\":[0,-0.5]}", "grid.lambda[1] is -0.5: lambda must be >= 0"},
        {"{\"method\":[\"pez\"],\"lambda\":[\"big\"]}", "grid.lambda[0] must be a number"},
        {"{\"method\":[\"pez\"],\"prompt_length\":[0]}", "grid.prompt_length[0] is 0: out of range 1..64"},
        {"{\"method\":[\"pez\"],\"prompt_length\":[65]}", "out of range 1..64"},
        {"{\"method\":[\"pez\"],\"prompt_length\":[2.5]}", "must be an integer"},
        {"{\"method\":[\"pez\"],\"seed\":[-1]}", "grid.seed[0]"},
        {"{\"method\":[\"beam\"]}", "method"},
        {"{\"method\":[\"pez\"],\"seed\":[1,1]}", "repeats"},
        {"{\"method\":[\"pez\"],\"task\":[\"nope\"]}", "task"},
        {"{\"method\":[\"pez\"],\"seed\":[1],\"seed\":[2]}", "key \"grid.seed\" given twice"},
    };
    for (size_t i = 0; i < sizeof bad_grids / sizeof bad_grids[0]; i++) expect_error(bad_grids[i].grid, "", bad_grids[i].says);
    // whole specs, the model directory in place of their %s
    const struct { const char *spec, *says; } bad_specs[] = {
        {"{\"model\":\"%s\",\"task\":\"sst-2\",\"out\":3,\"grid\":{\"method\":[\"pez\"]}}", "\"out\" must be a string"},
        {"{\"model\":\"%s\",\"task\":\"sst-2\",\"grid\":{\"method\":[\"pez\"]}}", "\"out\" is missing"},
        {"{\"model\":\"%s\",\"task\":\"sst-2\",\"out\":\"o\"}", "\"grid\" is missing"},
        {"{\"model\":\"%s\",\"out\":\"o\",\"grid\":{\"method\":[\"pez\"]}}", "\"task\" is missing"},
        {"{\"model\":\"/no/such/model\",\"task\":\"sst-2\",\"out\":\"o\",\"grid\":{\"method\":[\"pez\"]}}",
         "/no/such/model/model.safetensors"},
        {"{\"model\": ", "not valid JSON"},
        {"[1,2]", "expected a JSON object"},
    };
    char text[16384];
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        snprintf(text, sizeof text, bad_specs[i].spec, model_dir);
        expect_text_error(text, bad_specs[i].says);
    }
    // missing data files: the point's own check, reported with the grid values
    snprintf(text, sizeof text,
             "{\"model\":\"%s\",\"task\":\"sst-2\",\"data_dir\":\"%s/nowhere\",\"split\":\"16-42\",\"out\":\"o\","
             "\"grid\":{\"method\":[\"pez\"],\"seed\":[4]},\"point\":{\"dictionary\":\"%s\"}}",
             model_dir, data_dir, words);
    expect_text_error(text, "the point (method \"pez\", seed 4)");
    expect_text_error(text, "nowhere");
    // keys owned by the grid or the top may not hide in "point"
    snprintf(text, sizeof text, "{\"model\":\"%s\",\"task\":\"sst-2\",\"data_dir\":\"%s\",\"split\":\"x\",\"out\":\"o\","
                                "\"grid\":{\"method\":[\"pez\"]},\"point\":{\"seed\":3}}", model_dir, data_dir);
    expect_text_error(text, "\"point.seed\" belongs at the top of the spec or in the grid");
}

// ----------------------------------------------------------------------------
// the protocol: any key an axis, per-method lists, ranges, tasks x splits, baselines

static char fewshot[4200];

/* A few-shot layout: FEWSHOT/TASK/SPLIT/{train,dev}.tsv and FEWSHOT/TASK/test.tsv. */
static void make_fewshot(void) {
    scratch_dir(fewshot, sizeof fewshot, "fewshot");
    static const char *const tasks[] = {"sst-2", "mr"}, *const splits[] = {"16-13", "16-42"};
    char dir[4400], sub[4500];
    for (int t = 0; t < 2; t++) {
        snprintf(dir, sizeof dir, "%s/%s", fewshot, tasks[t]);
        if (mkdir(dir, 0755) != 0) die("mkdir %s", dir);
        for (int k = 0; k < 2; k++) {
            snprintf(sub, sizeof sub, "%s/%s", dir, splits[k]);
            if (mkdir(sub, 0755) != 0) die("mkdir %s", sub);
            // each split its own examples (a point's id hashes its files' contents)
            char rows[256];
            snprintf(rows, sizeof rows, "sentence\tlabel\ngood %s %s\t1\nbad\t0\n", tasks[t], splits[k]);
            write_text(sub, "train.tsv", rows);
            snprintf(rows, sizeof rows, "sentence\tlabel\nfine %s %s\t1\nawful\t0\n", tasks[t], splits[k]);
            write_text(sub, "dev.tsv", rows);
        }
        snprintf(sub, sizeof sub, "sentence\tlabel\nnice %s\t1\npoor\t0\n", tasks[t]);
        write_text(dir, "test.tsv", sub);
    }
}

/* A spec on the few-shot layout with this grid and extra top-level keys. */
static char *protocol_text(const char *grid, const char *extra) {
    size_t cap = 4 * sizeof model_dir + 512 + strlen(grid) + strlen(extra);
    char *s = xmalloc(cap);
    snprintf(s, cap, "{\"model\":\"%s\",\"data_dir\":\"%s/{task}\",\"out\":\"%s\",\"grid\":%s,"
                     "\"point\":{\"dictionary\":\"%s\",\"max_test\":8}%s}",
             model_dir, fewshot, out_dir, grid, words, extra);
    return s;
}

static int index_of(const SweepSpec *s, const char *id) {
    for (int i = 0; i < s->n_points; i++)
        if (strcmp(s->points[i].id, id) == 0) return i;
    return -1;
}

static const char *const PROTOCOL_GRID =
    "{\"task\":[\"sst-2\",\"mr\"],\"split\":[\"16-13\",\"16-42\"],\"method\":[\"pez\",\"rlprompt\"],"
    "\"lambda\":{\"pez\":[0,1],\"rlprompt\":[0,10,100]},\"pez.lr\":[0.1,0.3],\"seed\":[1,2]}";
static const char *const PROTOCOL_BASELINES =
    ",\"baselines\":[\"It was\",{\"prompt\":\"Review:\",\"template\":\"[P] {sentence} All in all, it was\"}]";

static void test_protocol(void) {
    make_fewshot();
    char *text = protocol_text(PROTOCOL_GRID, PROTOCOL_BASELINES);
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) == 0, "%s", err.msg);
    // per task x split: pez 2 lambdas x 2 lr x 2 seeds, rlprompt 3 lambdas x 2 seeds (pez.lr is
    // pez's only); then 3 baselines (the empty prompt, two given) per task x split
    CHECK(s.n_points == 4 * (8 + 6) + 3 * 4, "%d points", s.n_points);
    // order: task, split, method, prompt_length, lambda, the other axes by name, seed
    // (a point names its split by its files: data_dir/split/train.tsv)
    CHECK(point_has(&s, 0, "task", "\"sst-2\"") && strstr(s.points[0].point_json, "/sst-2/16-13/train.tsv") &&
              point_has(&s, 0, "method", "\"pez\"") && point_has(&s, 0, "lambda", "0") && point_has(&s, 0, "seed", "1"),
          "point 0");
    CHECK(point_has(&s, 1, "seed", "2") && point_has(&s, 2, "seed", "1") && point_has(&s, 4, "lambda", "1"), "odometer");
    char *lr0 = point_value(&s, 0, "pez"), *lr2 = point_value(&s, 2, "pez");
    CHECK(strstr(lr0, "\"lr\":0.1") && strstr(lr2, "\"lr\":0.3"), "pez.lr: %s, %s", lr0, lr2);
    free(lr0);
    free(lr2);
    CHECK(point_has(&s, 8, "method", "\"rlprompt\"") && point_has(&s, 8, "lambda", "0") &&
              point_has(&s, 10, "lambda", "10") && point_has(&s, 12, "lambda", "100") && strstr(s.points[14].point_json, "/16-42/train.tsv"),
          "rlprompt's own lambdas, no lr axis");
    CHECK(!strstr(s.points[8].point_json, "\"pez\":"), "rlprompt points carry no pez settings");
    CHECK(point_has(&s, 28, "task", "\"mr\"") && strstr(s.points[28].point_json, "/mr/16-13/train.tsv\"") &&
              !strstr(s.points[28].point_json, "{task}"),
          "{task} in data_dir: %s", s.points[28].point_json);
    // the baselines: manual, lambda and seed at their defaults, one per task and split
    int manual = 0, review = 0;
    for (int i = 56; i < s.n_points; i++) {
        manual += point_has(&s, i, "method", "\"manual\"") && point_has(&s, i, "seed", "0") && point_has(&s, i, "lambda", "0");
        if (strstr(s.points[i].point_json, "\"prompt\":\"Review:\"")) {
            review++;
            CHECK(strstr(s.points[i].point_json, "All in all, it was"), "a baseline's own template");
        }
    }
    CHECK(manual == 12 && review == 4, "baselines: %d manual, %d with the prompt Review:", manual, review);
    for (int p = 0; p < s.n_points; p++)
        for (int q = 0; q < p; q++) CHECK(strcmp(s.points[p].id, s.points[q].id) != 0, "ids %d and %d equal", p, q);

    // the same study with the keys of the spec and of its grid in another order: the same ids, in
    // the same order
    char *shuffled = xmalloc(24576);
    snprintf(shuffled, 24576,
             "{\"point\":{\"max_test\":8,\"dictionary\":\"%s\"},\"baselines\":[\"It was\",{\"template\":\"[P] {sentence} "
             "All in all, it was\",\"prompt\":\"Review:\"}],\"grid\":{\"seed\":[1,2],\"pez.lr\":[0.1,0.3],\"lambda\":"
             "{\"rlprompt\":[0,10,100],\"pez\":[0,1]},\"method\":[\"pez\",\"rlprompt\"],\"split\":[\"16-13\",\"16-42\"],"
             "\"task\":[\"sst-2\",\"mr\"]},\"out\":\"%s\",\"data_dir\":\"%s/{task}\",\"model\":\"%s\"}",
             words, out_dir, fewshot, model_dir);
    SweepSpec r;
    CHECK(parse(&r, shuffled, &err) == 0, "%s", err.msg);
    int same = r.n_points == s.n_points;
    for (int i = 0; same && i < s.n_points; i++) same = strcmp(s.points[i].id, r.points[i].id) == 0;
    CHECK(same, "reordered keys: other points or another order");
    sweep_spec_free(&r);
    free(shuffled);
    sweep_spec_free(&s);
    free(text);

    // a grid with more splits keeps every id of the smaller one (the grid grows, --extend)
    char *small = protocol_text("{\"task\":[\"mr\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"seed\":[1]}", "");
    char *big = protocol_text("{\"task\":[\"mr\"],\"split\":[\"16-13\",\"16-42\"],\"method\":[\"pez\"],\"seed\":[1,2]}", "");
    SweepSpec a, b;
    CHECK(parse(&a, small, &err) == 0 && parse(&b, big, &err) == 0, "%s", err.msg);
    CHECK(a.n_points == 2 && b.n_points == 4 + 2, "%d and %d points", a.n_points, b.n_points);
    for (int i = 0; i < a.n_points; i++) CHECK(index_of(&b, a.points[i].id) >= 0, "point %d lost when the grid grew", i);
    sweep_spec_free(&a);
    sweep_spec_free(&b);
    free(small);
    free(big);
}

/* The values a grid axis expands to, as the points' "pez" objects say them. */
static void range_case(const char *range, const char *const *want, int n_want) {
    char grid[512];
    snprintf(grid, sizeof grid, "{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":%s}", range);
    char *text = protocol_text(grid, ",\"empty_baseline\":false");
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) == 0, "%s: %s", range, err.msg);
    CHECK(s.n_points == n_want, "%s: %d points", range, s.n_points);
    for (int i = 0; i < s.n_points && i < n_want; i++) {
        char *v = point_value(&s, i, "pez"), key[64];
        snprintf(key, sizeof key, "\"lr\":%s,", want[i]);
        CHECK(strstr(v, key) != NULL, "%s: point %d has %s, expected lr %s", range, i, v, want[i]);
        free(v);
    }
    sweep_spec_free(&s);
    free(text);
}

static void test_ranges(void) {
    // (six significant digits: 0.1 + 2 * 0.1 is 0.3, not 0.30000000000000004)
    static const char *const lin[] = {"0.1", "0.2", "0.3", "0.4", "0.5"};
    range_case("{\"linspace\":[0.1,0.5],\"n\":5}", lin, 5);
    static const char *const logs[] = {"0.001", "0.0316228", "1"};
    range_case("{\"logspace\":[0.001,1],\"n\":3}", logs, 3);
    static const char *const whole[] = {"1", "4", "7", "10"};
    range_case("{\"linspace\":[1,10],\"n\":4,\"round\":true}", whole, 4);
    // log_uniform: deterministic (the same spec, the same draws), ascending, inside [lo, hi], and
    // its seed changes them
    char grid[512];
    double got[2][4];
    for (int k = 0; k < 3; k++) {
        snprintf(grid, sizeof grid, "{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],"
                                    "\"pez.lr\":{\"log_uniform\":[0.001,0.1],\"n\":4,\"seed\":%d}}", k < 2 ? 7 : 8);
        char *text = protocol_text(grid, ",\"empty_baseline\":false");
        SweepSpec s;
        Err err = {{0}};
        CHECK(parse(&s, text, &err) == 0 && s.n_points == 4, "%s", err.msg);
        for (int i = 0; i < s.n_points && i < 4; i++) {
            cJSON *p = cJSON_Parse(s.points[i].point_json);
            double lr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(p, "pez"), "lr")->valuedouble;
            cJSON_Delete(p);
            CHECK(lr >= 0.001 && lr <= 0.1 && (i == 0 || lr > got[k % 2][i - 1]), "draw %d: %g", i, lr);
            if (k < 2) CHECK(k == 0 || lr == got[0][i], "log_uniform draws differ between parses: %g, %g", lr, got[0][i]);
            else CHECK(lr != got[0][i], "another seed, the same draw %g", lr);
            got[k % 2][i] = lr;
        }
        sweep_spec_free(&s);
        free(text);
    }
}

/* One bad protocol spec: grid and extra keys. */
static void expect_protocol_error(const char *grid, const char *extra, const char *needle) {
    char *text = protocol_text(grid, extra);
    expect_text_error(text, needle);
    free(text);
}

static void test_protocol_errors(void) {
    const struct { const char *grid, *extra, *says; } bad[] = {
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\",\"rlprompt\"],\"lambda\":{\"pez\":[0]}}", "",
         "grid.lambda has no list for method \"rlprompt\""},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"lambda\":{\"pez\":[0],\"soft\":[1]}}", "",
         "grid.lambda.soft: not a method of grid.method"},
        {"{\"task\":[\"sst-2\"],\"split\":{\"pez\":[\"16-42\"]},\"method\":[\"pez\"]}", "",
         "grid.split cannot be given per method"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"rlprompt.top_k\":[8]}", "",
         "grid.rlprompt.top_k: no point has method \"rlprompt\""},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"lambda\":{\"pez\":[0,-1]}}", "",
         "grid.lambda.pez[1] is -1: lambda must be >= 0"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":{\"linspace\":[1,0],\"n\":3}}", "",
         "grid.pez.lr.linspace: lo must be below hi"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":{\"logspace\":[0,1],\"n\":3}}", "",
         "a log range needs lo > 0"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":{\"linspace\":[0,1]}}", "",
         "grid.pez.lr.n must be an integer"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":{\"linspace\":[0,1],\"n\":3,\"step\":1}}", "",
         "unknown key \"grid.pez.lr.step\""},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.steps\":{\"linspace\":[1,2],\"n\":4,\"round\":true}}",
         "", "gives 1 twice after rounding"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"pez.lr\":[0.1]}", ",\"pez\":{\"lr\":0.2,\"lr\":0.3}",
         "given twice"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"],\"template\":[\"[P] {sentence} It was\"]}", "",
         "\"point.template\" belongs at the top of the spec or in the grid"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"baselines\":[3]",
         "baselines[0] must be a prompt"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"baselines\":[{\"text\":\"x\"}]",
         "unknown key \"baselines[0].text\""},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"replicates\":[\"seed\",\"seed\"]",
         "replicates[1] repeats \"seed\""},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"replicates\":[\"task\"]",
         "task cannot be a replicate"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"replicates\":[\"seed\",\"lambda\"]",
         "lambda cannot be a replicate"},
        {"{\"task\":[\"sst-2\"],\"split\":[\"16-99\"],\"method\":[\"pez\"]}", "", "16-99"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strstr(bad[i].grid, "template")) {   // a grid key also in "point"
            char *text = protocol_text(bad[i].grid, "");
            char *at = strstr(text, "\"max_test\":8");
            char *with = xmalloc(strlen(text) + 64);
            snprintf(with, strlen(text) + 64, "%.*s\"template\":\"[P] {sentence} x\",%s", (int)(at - text), text, at);
            expect_text_error(with, bad[i].says);
            free(with);
            free(text);
            continue;
        }
        expect_protocol_error(bad[i].grid, bad[i].extra, bad[i].says);
    }
    // custom replicates are kept for the journal, as written
    char *text = protocol_text("{\"task\":[\"sst-2\"],\"split\":[\"16-42\"],\"method\":[\"pez\"]}", ",\"replicates\":[\"seed\"]");
    SweepSpec s;
    Err err = {{0}};
    CHECK(parse(&s, text, &err) == 0 && strcmp(s.replicates, "[\"seed\"]") == 0, "replicates: %s %s", err.msg, s.replicates);
    sweep_spec_free(&s);
    free(text);
}

/* A spec file that is a FIFO is refused at once (nothing ever writes to it). */
/* The spec's name, description and tags (issue 15): kept for the journal header in a fixed
 * key order, and no point changes (nor its id) with them; bad values are refused. */
static void test_about(void) {
    char *plain = spec_text(GRID, "");
    char *named = spec_text(GRID, ",\"tags\":[\"pilot\",\"sst-2\"],\"description\":\"the \\\"first\\\" try\","
                                  "\"name\":\"lambda sweep\"");
    SweepSpec a, b;
    Err err = {{0}};
    CHECK(parse(&a, plain, &err) == 0 && !a.about, "a spec without them has no about: %s", err.msg);
    CHECK(parse(&b, named, &err) == 0, "%s", err.msg);
    CHECK(b.about && strcmp(b.about, "{\"name\":\"lambda sweep\",\"description\":\"the \\\"first\\\" try\","
                                     "\"tags\":[\"pilot\",\"sst-2\"]}") == 0,
          "about: %s", b.about ? b.about : "(none)");
    int same = a.n_points == b.n_points && a.n_points > 0;
    for (int i = 0; same && i < a.n_points; i++)
        same = strcmp(a.points[i].id, b.points[i].id) == 0 && strcmp(a.points[i].point_json, b.points[i].point_json) == 0;
    CHECK(same, "name, description and tags changed the points");
    CHECK(strcmp(a.spec_sha256, b.spec_sha256) != 0, "the spec's sha256 is of its bytes");
    sweep_spec_free(&a);
    sweep_spec_free(&b);
    free(plain);
    free(named);
    expect_error(GRID, ",\"name\":\"\"", "\"name\" must be a non-empty string");
    expect_error(GRID, ",\"name\":3", "\"name\" must be a non-empty string");
    expect_error(GRID, ",\"description\":[\"x\"]", "\"description\" must be a non-empty string");
    expect_error(GRID, ",\"tags\":\"x\"", "\"tags\" must be an array of strings");
    expect_error(GRID, ",\"tags\":[\"a\",1]", "\"tags[1]\" must be a non-empty string");
    expect_error(GRID, ",\"tags\":[\"a\",\"a\"]", "tags[1] repeats \"a\"");
    char *long_name = xmalloc(300);
    memset(long_name, 'n', 299);
    long_name[299] = '\0';
    char extra[400];
    snprintf(extra, sizeof extra, ",\"name\":\"%s\"", long_name);
    expect_error(GRID, extra, "\"name\" is over 200 bytes");
    free(long_name);
}

static void test_fifo(void) {
    char path[4300];
    snprintf(path, sizeof path, "%s/spec.fifo", root);
    if (mkfifo(path, 0644) != 0) die("mkfifo %s", path);
    SweepSpec s;
    Err err;
    CHECK(sweep_spec_load(&s, path, "/bin/true", &err) != 0 && strstr(err.msg, "not a regular file"), "a FIFO spec: %s",
          err.msg);
    unlink(path);
}

int main(void) {
    make_root();
    make_files();
    test_about();
    test_fifo();
    test_sha256();
    test_known_lines();
    test_expansion();
    test_ids();
    test_added_points();
    test_manual();
    test_errors();
    test_protocol();
    test_ranges();
    test_protocol_errors();
    return test_finish();
}
