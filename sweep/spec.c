// sweep/spec.c: the sweep spec: keys and types checked, the grid expanded in a fixed order,
// every point validated by point_parse and named by the sha256 of its canonical JSON plus
// the model's sha256 (see sweep.h).
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sweep/sweep.h"
#include "tuners/tuners.h"
#include "util/record.h"

static int key_in(const char *key, const char *const *keys, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(key, keys[i]) == 0) return 1;
    return 0;
}

static int check_keys(const cJSON *obj, const char *where, const char *const *keys, int n,
                      Err *err) {
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (key_in(c->string, keys, n)) continue;
        char list[512] = "";
        size_t used = 0;
        for (int k = 0; k < n && used < sizeof list; k++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", keys[k]);
        return err_fail(err, "spec: unknown key \"%s%s\" (known: %s)", where, c->string, list);
    }
    return 0;
}

/* A string member into dst: 1 if absent, 0 if read, -1 on a wrong type or a long value. */
static int get_string(const cJSON *obj, const char *key, char *dst, size_t cap, Err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 1;
    if (!cJSON_IsString(v)) return err_fail(err, "spec: \"%s\" must be a string", key);
    if (strlen(v->valuestring) >= cap) return err_fail(err, "spec: \"%s\" is too long", key);
    snprintf(dst, cap, "%s", v->valuestring);
    return 0;
}

static int get_number(const cJSON *obj, const char *key, double lo, double hi, int integer,
                      double *dst, Err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return 1;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        (integer && v->valuedouble != floor(v->valuedouble)))
        return err_fail(err, "spec: \"%s\" must be %s in [%g, %g]", key, integer ? "an integer" : "a number",
                          lo, hi);
    *dst = v->valuedouble;
    return 0;
}

// ----------------------------------------------------------------------------
// the grid

enum { AXIS_TASK, AXIS_METHOD, AXIS_PROMPT_LENGTH, AXIS_LAMBDA, AXIS_SEED, N_AXES };
// expansion order, outermost first; the names are the grid's keys, and each the key of the points
// that its values go to
static const char *const AXIS_NAMES[N_AXES] = {REC_POINT_TASK, REC_POINT_METHOD, REC_POINT_PROMPT_LENGTH,
                                               REC_POINT_LAMBDA, REC_POINT_SEED};

typedef struct {
    const cJSON *values[N_AXES];   // the grid's arrays; NULL: the axis is not in the grid
    int n[N_AXES];                 // values per axis (1 when absent)
} Grid;

static int check_axis_value(int axis, const cJSON *v, int i, Err *err) {
    const char *name = AXIS_NAMES[axis];
    switch (axis) {
    case AXIS_TASK:
    case AXIS_METHOD:
        if (!cJSON_IsString(v)) return err_fail(err, "spec: grid.%s[%d] must be a string", name, i);
        return 0;
    case AXIS_LAMBDA:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return err_fail(err, "spec: grid.lambda[%d] must be a number", i);
        if (v->valuedouble < 0)
            return err_fail(err, "spec: grid.lambda[%d] is %g: lambda must be >= 0", i, v->valuedouble);
        return 0;
    case AXIS_PROMPT_LENGTH:
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
            return err_fail(err, "spec: grid.prompt_length[%d] must be an integer", i);
        if (v->valuedouble < 1 || v->valuedouble > TUNE_MAX_PROMPT)
            return err_fail(err, "spec: grid.prompt_length[%d] is %g: out of range 1..%d", i, v->valuedouble,
                              TUNE_MAX_PROMPT);
        return 0;
    default: // AXIS_SEED
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble >= 9007199254740992.0)
            return err_fail(err, "spec: grid.seed[%d] must be an integer in 0..2^53-1", i);
        return 0;
    }
}

static int parse_grid(Grid *g, const cJSON *grid, Err *err) {
    if (!cJSON_IsObject(grid)) return err_fail(err, "spec: \"grid\" must be an object");
    if (check_keys(grid, "grid.", AXIS_NAMES, N_AXES, err)) return -1;
    for (int a = 0; a < N_AXES; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(grid, AXIS_NAMES[a]);
        g->values[a] = arr;
        g->n[a] = 1;
        if (!arr) continue;
        if (!cJSON_IsArray(arr)) return err_fail(err, "spec: grid.%s must be an array", AXIS_NAMES[a]);
        g->n[a] = cJSON_GetArraySize(arr);
        if (g->n[a] == 0) return err_fail(err, "spec: grid.%s is empty: the grid has no points", AXIS_NAMES[a]);
        int i = 0;
        for (const cJSON *v = arr->child; v; v = v->next, i++)
            if (check_axis_value(a, v, i, err)) return -1;
    }
    if (!g->values[AXIS_METHOD]) return err_fail(err, "spec: grid.method is missing");
    return 0;
}

// ----------------------------------------------------------------------------
// building one point

/* A file's sha256, hashed once per spec however many points read it. */
typedef struct {
    char *path;
    char sha256[65];
} HashedFile;

typedef struct {
    const cJSON *root;        // the spec
    const cJSON *shared;      // "point": keys shared by every point, or NULL
    char model_sha256[65];
    HashedFile *files;        // (n_files): the distinct inputs of the points so far
    int n_files, cap_files;
} Builder;

static void builder_free(Builder *b) {
    for (int i = 0; i < b->n_files; i++) free(b->files[i].path);
    free(b->files);
}

/* sha256 of a point's input file, from the cache or hashed now; "" for no file. */
static int input_sha256(Builder *b, const char *path, char out[65], Err *err) {
    out[0] = '\0';
    if (!path[0]) return 0;
    for (int i = 0; i < b->n_files; i++)   // few distinct files: tasks x splits x 3, a model or two
        if (strcmp(b->files[i].path, path) == 0) {
            memcpy(out, b->files[i].sha256, 65);
            return 0;
        }
    if (util_grow(&b->files, &b->cap_files, b->n_files, sizeof *b->files, 16)) return err_fail(err, "out of memory");
    HashedFile *f = &b->files[b->n_files];
    if (!(f->path = strdup(path))) return err_fail(err, "out of memory");
    if (gpt2_file_sha256(path, f->sha256, err)) {
        free(f->path);
        return -1;
    }
    b->n_files++;
    memcpy(out, f->sha256, 65);
    return 0;
}

/* The id of a validated point (tuners.h point_identity): its inputs hashed by content. */
static int content_id(Builder *b, const TunePoint *tp, char id[65], Err *err) {
    char sha[N_POINT_INPUTS][65];
    for (int i = 0; i < N_POINT_INPUTS; i++) {
        char path[TUNE_PATH + 32];
        if (point_input_path(tp, i, path, sizeof path)) return err_fail(err, "%s: path too long", POINT_INPUT_NAMES[i]);
        if (input_sha256(b, path, sha[i], err)) return -1;
    }
    if (point_identity(tp, sha, id)) return err_fail(err, "out of memory");
    return 0;
}

static int add_copy(cJSON *point, const char *key, const cJSON *value) {
    cJSON *dup = cJSON_Duplicate(value, 1);
    if (!dup) return -1;
    cJSON_AddItemToObject(point, key, dup);
    return 0;
}

/* The point of one grid combination as JSON text (malloc'd), before validation. */
static char *build_point(const Builder *b, const cJSON *const value[N_AXES]) {
    cJSON *p = b->shared ? cJSON_Duplicate(b->shared, 1) : cJSON_CreateObject();
    if (!p) return NULL;
    static const char *const copied[] = {"model", "task", "data", "data_dir", "split"};
    int bad = 0;
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->root, copied[k]);
        if (v && !(k == 1 && value[AXIS_TASK])) bad |= add_copy(p, copied[k], v);
    }
    for (int a = 0; a < N_AXES; a++)
        if (value[a]) bad |= add_copy(p, AXIS_NAMES[a], value[a]);
    // each method gets its own settings only: point_parse checks both, keeps the method's
    const char *method = value[AXIS_METHOD]->valuestring;
    if (strcmp(method, "pez") == 0 || strcmp(method, "rlprompt") == 0) {
        const cJSON *settings = cJSON_GetObjectItemCaseSensitive(b->root, method);
        if (settings) bad |= add_copy(p, method, settings);
    }
    char *text = bad ? NULL : cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return text;
}

/* "method pez, lambda 0.1, ..." for messages. */
static void describe(const cJSON *const value[N_AXES], char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (int a = 0; a < N_AXES && used < cap; a++) {
        if (!value[a]) continue;
        char *v = cJSON_PrintUnformatted(value[a]);
        used += (size_t)snprintf(out + used, cap - used, "%s%s %s", used ? ", " : "", AXIS_NAMES[a],
                                 v ? v : "?");
        free(v);
    }
}

/* The cost estimate of a validated point. */
static void estimate_cost(SweepPoint *sp, const TunePoint *tp) {
    switch (tp->method) {
    case METHOD_PEZ:
        sp->cost_class = SWEEP_COST_PEZ;
        sp->cost = (double)tp->prompt_length * tp->pez.steps;
        break;
    case METHOD_RLPROMPT:
        sp->cost_class = SWEEP_COST_RLPROMPT;
        sp->cost = (double)tp->prompt_length * tp->rl.steps;
        break;
    default:   // manual: no steps, its prompt's length is known only to tune
        sp->cost_class = SWEEP_COST_MANUAL;
        sp->cost = 1;
    }
}

/* Validates one combination and appends it, unless it repeats a point (manual points
 * repeat across prompt lengths). */
static int add_point(SweepSpec *s, Builder *b, const cJSON *const value[N_AXES], SweepIdIndex *ids,
                     Err *err) {
    char where[512];
    describe(value, where, sizeof where);
    char *text = build_point(b, value);
    if (!text) return err_fail(err, "spec: out of memory");
    TunePoint tp;
    Err gerr;
    int rc = point_parse(&tp, text, &gerr);
    free(text);
    if (rc) return err_fail(err, "spec: the point (%s): %s", where, gerr.msg);
    SweepPoint sp = {.index = s->n_points};
    if (content_id(b, &tp, sp.id, &gerr)) {
        point_free(&tp);
        return err_fail(err, "spec: the point (%s): %s", where, gerr.msg);
    }
    sp.point_json = tp.canonical_json;
    tp.canonical_json = NULL;
    estimate_cost(&sp, &tp);
    point_free(&tp);
    int i = sweep_id_get(ids, sp.id);
    if (i >= 0) {
        int manual = strcmp(value[AXIS_METHOD]->valuestring, "manual") == 0;
        free(sp.point_json);
        if (manual) return 0;
        return err_fail(err, "spec: the point (%s) repeats point %d: a grid list repeats a value", where, i);
    }
    if (util_grow(&s->points, &s->cap_points, s->n_points, sizeof *s->points, 64) ||
        sweep_id_put(ids, sp.id, s->n_points)) {
        free(sp.point_json);
        return err_fail(err, "spec: out of memory");
    }
    s->points[s->n_points++] = sp;
    return 0;
}

/* Every combination in the fixed order: an odometer over the axes, the last fastest. */
static int expand(SweepSpec *s, Builder *b, const Grid *g, Err *err) {
    int at[N_AXES] = {0};
    // each axis' current value, stepped along its list: looking it up by index (cJSON's arrays
    // are lists) made the expansion quadratic in an axis' length (100k seeds: 22 s)
    const cJSON *cur[N_AXES];
    for (int a = 0; a < N_AXES; a++) cur[a] = g->values[a] ? g->values[a]->child : NULL;
    SweepIdIndex ids = {0};   // the points so far, to find repeats
    for (;;) {
        const cJSON *value[N_AXES] = {0};
        for (int a = 0; a < N_AXES; a++) value[a] = cur[a];
        int manual = strcmp(value[AXIS_METHOD]->valuestring, "manual") == 0;
        if (manual) value[AXIS_PROMPT_LENGTH] = NULL;   // a manual prompt has its own length
        int rc = add_point(s, b, value, &ids, err), a = N_AXES - 1;
        if (rc == 0) {
            for (; a >= 0; a--) {
                if (g->values[a]) cur[a] = cur[a]->next;
                if (++at[a] < g->n[a]) break;
                at[a] = 0;
                cur[a] = g->values[a] ? g->values[a]->child : NULL;
            }
        }
        if (rc || a < 0) {
            sweep_id_free(&ids);
            return rc;
        }
    }
}

// ----------------------------------------------------------------------------
// the spec

/* A key given twice anywhere in the spec is an error (cJSON would keep the first silently, and
 * the point parser refuses the same in a point): the path of the second one. */
static int no_repeated_keys(const cJSON *node, const char *path, Err *err) {
    for (const cJSON *c = node ? node->child : NULL; c; c = c->next) {
        char sub[256];
        if (cJSON_IsObject(node)) {
            for (const cJSON *prev = node->child; prev != c; prev = prev->next)
                if (strcmp(prev->string, c->string) == 0)
                    return err_fail(err, "spec: key \"%s%s\" given twice", path, c->string);
            snprintf(sub, sizeof sub, "%s%s.", path, c->string);
        } else {
            snprintf(sub, sizeof sub, "%s", path);
        }
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && no_repeated_keys(c, sub, err)) return -1;
    }
    return 0;
}

/* The tune program: a regular executable file, its path free of control characters (the work
 * item carries it on one line). */
static int check_tune(const char *path, Err *err) {
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7F) return err_fail(err, "spec: \"tune\": the path holds a control character");
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0)
        return err_fail(err, "spec: \"tune\": %.300s is not an executable program (a regular file with x)", path);
    return 0;
}

static int parse_top(SweepSpec *s, const cJSON *root, Builder *b, Grid *g, const char *default_tune,
                     Err *err) {
    static const char *const keys[] = {"model", "task", "data", "data_dir", "split", "out", "grid",
                                       "pez", "rlprompt", "point", "timeout_seconds", "retries",
                                       "drain_seconds", "tune"};
    if (!cJSON_IsObject(root)) return err_fail(err, "spec: expected a JSON object");
    if (no_repeated_keys(root, "", err) || check_keys(root, "", keys, sizeof keys / sizeof keys[0], err)) return -1;
    char model[SWEEP_PATH] = "";
    int rc;
    if ((rc = get_string(root, "model", model, sizeof model, err)) != 0)
        return rc < 0 ? -1 : err_fail(err, "spec: \"model\" is missing");
    if ((rc = get_string(root, "out", s->out_dir, sizeof s->out_dir, err)) != 0)
        return rc < 0 ? -1 : err_fail(err, "spec: \"out\" is missing");
    if (!s->out_dir[0]) return err_fail(err, "spec: \"out\" is empty");
    snprintf(s->tune_path, sizeof s->tune_path, "%s", default_tune ? default_tune : "");
    if (get_string(root, "tune", s->tune_path, sizeof s->tune_path, err) < 0) return -1;
    double v = 3600;
    if (get_number(root, "timeout_seconds", 0.001, 1e9, 0, &v, err) < 0) return -1;
    s->timeout_seconds = v;
    v = 1;
    if (get_number(root, "retries", 0, 100, 1, &v, err) < 0) return -1;
    s->retries = (int)v;
    v = 30;
    if (get_number(root, "drain_seconds", 0, 1e6, 0, &v, err) < 0) return -1;
    s->drain_seconds = v;
    static const char *const objects[] = {"pez", "rlprompt", "point", "data"};
    for (int k = 0; k < 4; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, objects[k]);
        if (o && !cJSON_IsObject(o)) return err_fail(err, "spec: \"%s\" must be an object", objects[k]);
    }
    static const char *const strings[] = {"task", "data_dir", "split"};
    for (int k = 0; k < 3; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, strings[k]);
        if (o && !cJSON_IsString(o)) return err_fail(err, "spec: \"%s\" must be a string", strings[k]);
    }
    b->root = root;
    b->shared = cJSON_GetObjectItemCaseSensitive(root, "point");
    if (b->shared) {
        static const char *const owned[] = {"model", "task", "data", "data_dir", "split", "pez", "rlprompt",
                                            "method", "lambda", "prompt_length", "seed"};
        for (const cJSON *c = b->shared->child; c; c = c->next)
            if (key_in(c->string, owned, sizeof owned / sizeof owned[0]))
                return err_fail(err, "spec: \"point.%s\" belongs at the top of the spec or in the grid",
                                  c->string);
    }
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    if (!grid) return err_fail(err, "spec: \"grid\" is missing");
    if (parse_grid(g, grid, err)) return -1;
    if (!g->values[AXIS_TASK] && !cJSON_GetObjectItemCaseSensitive(root, "task"))
        return err_fail(err, "spec: \"task\" is missing (give it at the top or as grid.task)");
    if (!s->tune_path[0]) return err_fail(err, "spec: no tune program (give \"tune\")");
    if (check_tune(s->tune_path, err)) return -1;
    // the model's identity is part of every point's id
    char weights[SWEEP_PATH + 32];
    snprintf(weights, sizeof weights, "%s/model.safetensors", model);
    Err gerr;
    if (gpt2_file_sha256(weights, b->model_sha256, &gerr))
        return err_fail(err, "spec: \"model\": %s", gerr.msg);
    memcpy(s->model_sha256, b->model_sha256, 65);
    return 0;
}

int sweep_spec_parse(SweepSpec *s, const char *json_text, size_t len, const char *default_tune,
                     Err *err) {
    memset(s, 0, sizeof *s);
    gpt2_sha256_hex(json_text, len, s->spec_sha256);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json_text, len, &end, 0);
    if (!root) {
        long off = end ? (long)(end - json_text) : -1;
        return err_fail(err, "spec: not valid JSON (near byte %ld)", off);
    }
    Builder b = {0};
    Grid g = {0};
    int rc = parse_top(s, root, &b, &g, default_tune, err);
    if (rc == 0) rc = expand(s, &b, &g, err);
    builder_free(&b);
    cJSON_Delete(root);
    if (rc) sweep_spec_free(s);
    return rc;
}

int sweep_spec_load(SweepSpec *s, const char *path, const char *default_tune, Err *err) {
    memset(s, 0, sizeof *s);
    char *text;
    size_t len;
    Err gerr;
    if (util_read_file(path, &text, &len, &gerr)) return err_fail(err, "spec: %s", gerr.msg);
    int rc = sweep_spec_parse(s, text, len, default_tune, err);
    free(text);
    if (rc) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        snprintf(err->msg, sizeof err->msg, "%.200s: %.800s", path, msg);
    }
    return rc;
}

int sweep_spec_use_v1_ids(SweepSpec *s, Err *err) {
    for (int i = 0; i < s->n_points; i++) {
        SweepPoint *p = &s->points[i];
        size_t clen = strlen(p->point_json);
        char *keyed = malloc(clen + 64);
        if (!keyed) return err_fail(err, "sweep: out of memory");
        memcpy(keyed, p->point_json, clen);
        memcpy(keyed + clen, s->model_sha256, 64);
        gpt2_sha256_hex(keyed, clen + 64, p->id);
        free(keyed);
    }
    return 0;
}

void sweep_spec_free(SweepSpec *s) {
    for (int i = 0; i < s->n_points; i++) free(s->points[i].point_json);
    free(s->points);
    s->points = NULL;
    s->n_points = s->cap_points = 0;
}

// ----------------------------------------------------------------------------
// cost order

static const SweepSpec *g_order_spec;   // qsort has no user pointer; one sort at a time

static int costly_first(const void *pa, const void *pb) {
    const SweepPoint *a = &g_order_spec->points[*(const int *)pa];
    const SweepPoint *b = &g_order_spec->points[*(const int *)pb];
    if (a->cost_class != b->cost_class) return b->cost_class - a->cost_class;
    if (a->cost != b->cost) return a->cost < b->cost ? 1 : -1;
    return a->index - b->index;
}

int *sweep_cost_order(const SweepSpec *s, const int *which, int n) {
    int *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!order) return NULL;
    memcpy(order, which, (size_t)n * sizeof *order);
    g_order_spec = s;
    qsort(order, (size_t)n, sizeof *order, costly_first);
    return order;
}
