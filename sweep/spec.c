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
// the grid: its axes

/* Axes named by the point's keys; these have a fixed rank in the expansion order, every other
 * axis comes after lambda in the order of its name, and seed is last. */
static const char *const RANKED_AXES[] = {REC_POINT_TASK, REC_POINT_SPLIT, REC_POINT_METHOD, REC_POINT_PROMPT_LENGTH,
                                          REC_POINT_LAMBDA};
enum { N_RANKED = sizeof RANKED_AXES / sizeof RANKED_AXES[0] };
/* The methods whose settings are an object of the same name in a point. */
static const char *const SETTINGS_METHODS[] = {"pez", "rlprompt", "soft"};
enum { N_SETTINGS_METHODS = sizeof SETTINGS_METHODS / sizeof SETTINGS_METHODS[0] };
static const char *const RANGE_KINDS[] = {"linspace", "logspace", "log_uniform"};

#define MAX_AXES 32

typedef struct {
    const char *path;      // the grid key: a point key, dotted for a nested one ("pez.lr")
    const char *method;    // the method whose settings object the path is in, or NULL: every method
    cJSON *lists;          // owned: {"*": [values]}, or per method {"pez": [...], "rlprompt": [...]}
    int per_method;
} Axis;

typedef struct {
    Axis axes[MAX_AXES];   // in expansion order, outermost first
    int n;
    int method_axis;       // index of grid.method
    const cJSON *methods;  // grid.method's array
} Grid;

static void grid_free(Grid *g) {
    for (int a = 0; a < g->n; a++) cJSON_Delete(g->axes[a].lists);
}

static int axis_rank(const char *path) {
    if (strcmp(path, REC_POINT_SEED) == 0) return N_RANKED + 1;
    for (int r = 0; r < N_RANKED; r++)
        if (strcmp(path, RANKED_AXES[r]) == 0) return r;
    return N_RANKED;
}

static int axis_before(const Axis *a, const Axis *b) {
    int ra = axis_rank(a->path), rb = axis_rank(b->path);
    return ra != rb ? ra < rb : strcmp(a->path, b->path) < 0;
}

/* The settings method a path lies in ("pez.lr" -> "pez"), or NULL. */
static const char *settings_method(const char *path) {
    for (int m = 0; m < N_SETTINGS_METHODS; m++) {
        size_t n = strlen(SETTINGS_METHODS[m]);
        if (strncmp(path, SETTINGS_METHODS[m], n) == 0 && (path[n] == '\0' || path[n] == '.'))
            return SETTINGS_METHODS[m];
    }
    return NULL;
}

static int is_range(const cJSON *v) {
    if (!cJSON_IsObject(v)) return 0;
    for (int k = 0; k < 3; k++)
        if (cJSON_GetObjectItemCaseSensitive(v, RANGE_KINDS[k])) return 1;
    return 0;
}

/* {"linspace" | "logspace" | "log_uniform": [lo, hi], "n": k, "seed": s (log_uniform),
 * "round": true (whole numbers)} -> a new array of k numbers, ascending. linspace: evenly
 * spaced from lo to hi; logspace: evenly spaced in log (lo, hi > 0); log_uniform: k draws
 * from the log-uniform distribution on [lo, hi] with the project's Rng seeded by s [0]. */
static cJSON *range_values(const cJSON *r, const char *where, Err *err) {
    static const char *const keys[] = {"linspace", "logspace", "log_uniform", "n", "seed", "round"};
    char at[300];
    snprintf(at, sizeof at, "%s.", where);
    if (check_keys(r, at, keys, 6, err)) return NULL;
    int kind = -1;
    for (int k = 0; k < 3; k++) {
        if (!cJSON_GetObjectItemCaseSensitive(r, RANGE_KINDS[k])) continue;
        if (kind >= 0) return err_fail(err, "spec: %s: give one of linspace, logspace, log_uniform", where), NULL;
        kind = k;
    }
    const cJSON *ends = cJSON_GetObjectItemCaseSensitive(r, RANGE_KINDS[kind]);
    const cJSON *n_item = cJSON_GetObjectItemCaseSensitive(r, "n");
    const cJSON *seed_item = cJSON_GetObjectItemCaseSensitive(r, "seed");
    const cJSON *round_item = cJSON_GetObjectItemCaseSensitive(r, "round");
    if (!cJSON_IsArray(ends) || cJSON_GetArraySize(ends) != 2 || !cJSON_IsNumber(ends->child) ||
        !cJSON_IsNumber(ends->child->next) || !isfinite(ends->child->valuedouble) ||
        !isfinite(ends->child->next->valuedouble))
        return err_fail(err, "spec: %s.%s must be [lo, hi], two numbers", where, RANGE_KINDS[kind]), NULL;
    double lo = ends->child->valuedouble, hi = ends->child->next->valuedouble;
    if (!(lo < hi)) return err_fail(err, "spec: %s.%s: lo must be below hi", where, RANGE_KINDS[kind]), NULL;
    if (kind > 0 && !(lo > 0))
        return err_fail(err, "spec: %s.%s: a log range needs lo > 0", where, RANGE_KINDS[kind]), NULL;
    if (!cJSON_IsNumber(n_item) || n_item->valuedouble != floor(n_item->valuedouble) || n_item->valuedouble < 1 ||
        n_item->valuedouble > 10000)
        return err_fail(err, "spec: %s.n must be an integer in 1..10000", where), NULL;
    if (seed_item && (kind != 2 || !cJSON_IsNumber(seed_item) || seed_item->valuedouble < 0 ||
                      seed_item->valuedouble != floor(seed_item->valuedouble) ||
                      seed_item->valuedouble >= 9007199254740992.0))
        return err_fail(err, "spec: %s.seed: an integer in 0..2^53-1, for log_uniform only", where), NULL;
    if (round_item && !cJSON_IsBool(round_item)) return err_fail(err, "spec: %s.round must be true or false", where), NULL;
    int n = (int)n_item->valuedouble, whole = cJSON_IsTrue(round_item);
    if (kind < 2 && n == 1) return err_fail(err, "spec: %s: a %s of one value: give a list", where, RANGE_KINDS[kind]), NULL;
    double *x = malloc((size_t)n * sizeof *x);
    if (!x) return err_fail(err, "spec: out of memory"), NULL;
    Rng rng;
    rng_seed(&rng, seed_item ? (uint64_t)seed_item->valuedouble : 0);
    for (int i = 0; i < n; i++) {
        double t = kind < 2 ? (double)i / (n - 1) : rng_uniform(&rng);
        x[i] = kind == 0 ? lo + t * (hi - lo) : exp(log(lo) + t * (log(hi) - log(lo)));
        if (kind < 2 && i == n - 1) x[i] = hi;   // the ends exactly as given
        x[i] = whole ? round(x[i]) : util_six_digits(x[i]);
    }
    if (kind == 2)   // draws in ascending order: the index order reads as a scan
        for (int i = 1; i < n; i++)
            for (int j = i; j > 0 && x[j - 1] > x[j]; j--) { double t = x[j]; x[j] = x[j - 1]; x[j - 1] = t; }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; arr && i < n; i++) {
        if (i > 0 && x[i] == x[i - 1]) {
            err_fail(err, "spec: %s gives %g twice%s", where, x[i], whole ? " after rounding" : "");
            cJSON_Delete(arr);
            free(x);
            return NULL;
        }
        cJSON *v = cJSON_CreateNumber(x[i]);
        if (!v) { cJSON_Delete(arr); arr = NULL; break; }
        cJSON_AddItemToArray(arr, v);
    }
    free(x);
    if (!arr) err_fail(err, "spec: out of memory");
    return arr;
}

/* One list of an axis (an array or a range) as a new array; where names it ("grid.lambda",
 * "grid.lambda.pez"). */
static cJSON *axis_list(const cJSON *v, const char *where, Err *err) {
    if (is_range(v)) return range_values(v, where, err);
    if (!cJSON_IsArray(v))
        return err_fail(err, "spec: %s must be an array, a range ({\"linspace\": [lo, hi], \"n\": k}, logspace, "
                             "log_uniform) or an object of lists per method", where), NULL;
    if (cJSON_GetArraySize(v) == 0) return err_fail(err, "spec: %s is empty: the grid has no points", where), NULL;
    cJSON *dup = cJSON_Duplicate(v, 1);
    if (!dup) err_fail(err, "spec: out of memory");
    return dup;
}

/* The value checks of the axes that have them, with the messages of their grid key. */
static int check_axis_value(const char *path, const char *where, const cJSON *v, int i, Err *err) {
    if (strcmp(path, REC_POINT_TASK) == 0 || strcmp(path, REC_POINT_METHOD) == 0 || strcmp(path, REC_POINT_SPLIT) == 0) {
        if (!cJSON_IsString(v)) return err_fail(err, "spec: %s[%d] must be a string", where, i);
    } else if (strcmp(path, REC_POINT_LAMBDA) == 0) {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return err_fail(err, "spec: %s[%d] must be a number", where, i);
        if (v->valuedouble < 0)
            return err_fail(err, "spec: %s[%d] is %g: lambda must be >= 0", where, i, v->valuedouble);
    } else if (strcmp(path, REC_POINT_PROMPT_LENGTH) == 0) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
            return err_fail(err, "spec: %s[%d] must be an integer", where, i);
        if (v->valuedouble < 1 || v->valuedouble > TUNE_MAX_PROMPT)
            return err_fail(err, "spec: %s[%d] is %g: out of range 1..%d", where, i, v->valuedouble, TUNE_MAX_PROMPT);
    } else if (strcmp(path, REC_POINT_SEED) == 0) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble >= 9007199254740992.0)
            return err_fail(err, "spec: %s[%d] must be an integer in 0..2^53-1", where, i);
    }
    return 0;
}

static int check_list(const Axis *x, const cJSON *list, const char *where, Err *err) {
    int i = 0;
    for (const cJSON *v = list->child; v; v = v->next, i++)
        if (check_axis_value(x->path, where, v, i, err)) return -1;
    return 0;
}

static int grid_has_method(const Grid *g, const char *method) {
    for (const cJSON *m = g->methods->child; m; m = m->next)
        if (strcmp(m->valuestring, method) == 0) return 1;
    return 0;
}

/* grid.<path> into axis x: its lists, checked. The methods are known (grid.method first). */
static int parse_axis(Grid *g, Axis *x, const cJSON *value, Err *err) {
    char where[300];
    snprintf(where, sizeof where, "grid.%s", x->path);
    x->method = settings_method(x->path);
    if (x->method && !grid_has_method(g, x->method))
        return err_fail(err, "spec: %s: no point has method \"%s\" (grid.method)", where, x->method);
    if (!(x->lists = cJSON_CreateObject())) return err_fail(err, "spec: out of memory");
    x->per_method = cJSON_IsObject(value) && !is_range(value);
    if (!x->per_method) {
        cJSON *list = axis_list(value, where, err);
        if (!list) return -1;
        cJSON_AddItemToObject(x->lists, "*", list);
        return check_list(x, list, where, err);
    }
    // per method: one list for each method of the grid, none for another
    if (x->method || axis_rank(x->path) <= 2)
        return err_fail(err, "spec: %s cannot be given per method (a list or a range)", where);
    for (const cJSON *c = value->child; c; c = c->next)
        if (!grid_has_method(g, c->string))
            return err_fail(err, "spec: %s.%s: not a method of grid.method", where, c->string);
    for (const cJSON *m = g->methods->child; m; m = m->next) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(value, m->valuestring);
        char sub[400];
        snprintf(sub, sizeof sub, "%s.%s", where, m->valuestring);
        if (!v) return err_fail(err, "spec: %s has no list for method \"%s\" (lists per method name every method)",
                                where, m->valuestring);
        cJSON *list = axis_list(v, sub, err);
        if (!list) return -1;
        cJSON_AddItemToObject(x->lists, m->valuestring, list);
        if (check_list(x, list, sub, err)) return -1;
    }
    return 0;
}

static int parse_grid(Grid *g, const cJSON *grid, Err *err) {
    if (!cJSON_IsObject(grid)) return err_fail(err, "spec: \"grid\" must be an object");
    g->methods = cJSON_GetObjectItemCaseSensitive(grid, REC_POINT_METHOD);
    if (!g->methods) return err_fail(err, "spec: grid.method is missing");
    if (!cJSON_IsArray(g->methods)) return err_fail(err, "spec: grid.method must be an array");
    if (cJSON_GetArraySize(g->methods) == 0) return err_fail(err, "spec: grid.method is empty: the grid has no points");
    int i = 0;
    for (const cJSON *m = g->methods->child; m; m = m->next, i++)
        if (check_axis_value(REC_POINT_METHOD, "grid.method", m, i, err)) return -1;
    for (const cJSON *c = grid->child; c; c = c->next) {
        if (g->n == MAX_AXES) return err_fail(err, "spec: more than %d grid axes", MAX_AXES);
        if (!c->string[0] || c->string[0] == '.' || c->string[strlen(c->string) - 1] == '.' || strstr(c->string, ".."))
            return err_fail(err, "spec: grid key \"%s\" is not a point key (dotted for a nested one: \"pez.lr\")",
                            c->string);
        // insertion in expansion order: the order of the spec's keys does not matter
        int at = g->n++;
        Axis x = {.path = c->string};
        while (at > 0 && axis_before(&x, &g->axes[at - 1])) {
            g->axes[at] = g->axes[at - 1];
            at--;
        }
        g->axes[at] = x;
    }
    for (int a = 0; a < g->n; a++) {
        if (strcmp(g->axes[a].path, REC_POINT_METHOD) == 0) g->method_axis = a;
        if (parse_axis(g, &g->axes[a], cJSON_GetObjectItemCaseSensitive(grid, g->axes[a].path), err)) return -1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// the baselines: manual prompts evaluated on every task and split of the grid

#define MAX_BASELINES 256

typedef struct {
    const char *prompt;
    const cJSON *template_text;   // its own template, or NULL: the grid's
} Baseline;

typedef struct {
    Baseline b[MAX_BASELINES + 1];
    int n;
} Baselines;

/* "baselines": ["text", {"prompt": "text", "template": "..."}, ...]; the empty prompt (the
 * template alone) first unless "empty_baseline" is false or the list has it. */
static int parse_baselines(Baselines *bl, const cJSON *root, Err *err) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "baselines");
    const cJSON *empty = cJSON_GetObjectItemCaseSensitive(root, "empty_baseline");
    if (empty && !cJSON_IsBool(empty)) return err_fail(err, "spec: \"empty_baseline\" must be true or false");
    if (list && !cJSON_IsArray(list)) return err_fail(err, "spec: \"baselines\" must be an array of prompts");
    if (cJSON_GetArraySize(list) > MAX_BASELINES) return err_fail(err, "spec: more than %d baselines", MAX_BASELINES);
    bl->n = 0;
    if (!cJSON_IsFalse(empty)) bl->b[bl->n++] = (Baseline){.prompt = ""};
    int i = 0;
    for (const cJSON *c = list ? list->child : NULL; c; c = c->next, i++) {
        Baseline b = {0};
        if (cJSON_IsString(c)) {
            b.prompt = c->valuestring;
        } else if (cJSON_IsObject(c)) {
            static const char *const keys[] = {"prompt", "template"};
            char at[64];
            snprintf(at, sizeof at, "baselines[%d].", i);
            if (check_keys(c, at, keys, 2, err)) return -1;
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "prompt");
            b.template_text = cJSON_GetObjectItemCaseSensitive(c, "template");
            if (!cJSON_IsString(p)) return err_fail(err, "spec: baselines[%d].prompt must be a string", i);
            if (b.template_text && !cJSON_IsString(b.template_text))
                return err_fail(err, "spec: baselines[%d].template must be a string", i);
            b.prompt = p->valuestring;
        } else {
            return err_fail(err, "spec: baselines[%d] must be a prompt (a string) or {\"prompt\", \"template\"}", i);
        }
        if (!b.prompt[0] && !b.template_text && !cJSON_IsFalse(empty)) continue;   // the default one
        bl->b[bl->n++] = b;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// building one point

typedef struct {
    const cJSON *root;        // the spec
    const cJSON *shared;      // "point": keys shared by every point, or NULL
} Builder;

/* The known line of an input already hashed, or NULL. The line is its own allocation: points
 * keep pointing at it while the inputs array grows. */
static const char *input_known(const SweepSpec *s, const char *path) {
    for (int i = 0; i < s->n_inputs; i++)
        if (strcmp(s->inputs[i].path, path) == 0) return s->inputs[i].known;
    return NULL;
}

/* sha256 of a point's input file, from the spec's inputs or hashed now; "" for no file. */
static int input_sha256(SweepSpec *s, const char *path, char out[65], Err *err) {
    out[0] = '\0';
    if (!path[0]) return 0;
    for (int i = 0; i < s->n_inputs; i++)   // few distinct files: tasks x splits x 3, a model or two
        if (strcmp(s->inputs[i].path, path) == 0) {
            memcpy(out, s->inputs[i].sha256, 65);
            return 0;
        }
    if (util_grow(&s->inputs, &s->cap_inputs, s->n_inputs, sizeof *s->inputs, 16)) return err_fail(err, "out of memory");
    struct SweepInput *f = &s->inputs[s->n_inputs];
    char known[GPT2_KNOWN_SHA256_MAX];
    f->known = NULL;
    if (!(f->path = strdup(path))) return err_fail(err, "out of memory");
    if (gpt2_file_sha256_known(path, f->sha256, known, sizeof known, err)) {
        free(f->path);
        return -1;
    }
    if (known[0] && !(f->known = strdup(known))) {
        free(f->path);
        return err_fail(err, "out of memory");
    }
    s->n_inputs++;
    memcpy(out, f->sha256, 65);
    return 0;
}

/* The id of a validated point (tuners.h point_identity): its inputs hashed by content. */
static int content_id(SweepSpec *s, const TunePoint *tp, char id[65], Err *err) {
    char sha[N_POINT_INPUTS][65];
    for (int i = 0; i < N_POINT_INPUTS; i++) {
        char path[TUNE_PATH + 32];
        if (point_input_path(tp, i, path, sizeof path)) return err_fail(err, "%s: path too long", POINT_INPUT_NAMES[i]);
        if (input_sha256(s, path, sha[i], err)) return -1;
    }
    if (point_identity(tp, sha, id)) return err_fail(err, "out of memory");
    return 0;
}

/* point.<path> = a copy of value, making the objects on the way ("pez.lr": point.pez.lr);
 * replaces what is there. */
static int set_path(cJSON *point, const char *path, const cJSON *value) {
    char key[256];
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    if (n >= sizeof key) return -1;
    memcpy(key, path, n);
    key[n] = '\0';
    if (!dot) {
        cJSON *dup = cJSON_Duplicate(value, 1);
        if (!dup) return -1;
        if (cJSON_GetObjectItemCaseSensitive(point, key)) return cJSON_ReplaceItemInObjectCaseSensitive(point, key, dup) ? 0 : -1;
        cJSON_AddItemToObject(point, key, dup);
        return 0;
    }
    cJSON *sub = cJSON_GetObjectItemCaseSensitive(point, key);
    if (!cJSON_IsObject(sub)) {
        if (!(sub = cJSON_CreateObject())) return -1;
        if (cJSON_GetObjectItemCaseSensitive(point, key)) cJSON_ReplaceItemInObjectCaseSensitive(point, key, sub);
        else cJSON_AddItemToObject(point, key, sub);
    }
    return set_path(sub, dot + 1, value);
}

/* "{task}" in a path string replaced by the point's task (data_dir: one spec, several tasks). */
static int substitute_task(cJSON *s, const char *task) {
    if (!cJSON_IsString(s) || !strstr(s->valuestring, "{task}")) return 0;
    char out[SWEEP_PATH * 2];
    size_t used = 0;
    for (const char *p = s->valuestring; *p && used < sizeof out - 1;) {
        if (strncmp(p, "{task}", 6) == 0) {
            used += (size_t)snprintf(out + used, sizeof out - used, "%s", task);
            p += 6;
        } else {
            out[used++] = *p++;
        }
    }
    if (used >= sizeof out - 1) return -1;
    out[used] = '\0';
    return cJSON_SetValuestring(s, out) ? 0 : -1;
}

/* One combination: each axis' value (NULL: the axis does not apply), and the baseline when
 * this is one. */
typedef struct {
    const cJSON *value[MAX_AXES];
    const Baseline *baseline;
} Combination;

/* The point of one combination as JSON text (malloc'd), before validation: the shared
 * "point" keys, the top-level keys, the method's settings object, the grid's values (which
 * win over the top-level ones), a baseline's prompt and template. */
static char *build_point(const Builder *b, const Grid *g, const Combination *c) {
    cJSON *p = b->shared ? cJSON_Duplicate(b->shared, 1) : cJSON_CreateObject();
    if (!p) return NULL;
    static const char *const copied[] = {"model", "task", "data", "data_dir", "split"};
    int bad = 0;
    for (int k = 0; k < 5; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->root, copied[k]);
        if (v) bad |= set_path(p, copied[k], v);
    }
    const char *method = c->baseline ? REC_METHOD_MANUAL : c->value[g->method_axis]->valuestring;
    // each method gets its own settings only: point_parse checks them, keeps the method's
    const cJSON *settings = settings_method(method) ? cJSON_GetObjectItemCaseSensitive(b->root, method) : NULL;
    if (settings) bad |= set_path(p, method, settings);
    for (int a = 0; a < g->n; a++)
        if (c->value[a]) bad |= set_path(p, g->axes[a].path, c->value[a]);
    if (c->baseline) {
        cJSON *prompt = cJSON_CreateString(c->baseline->prompt), *m = cJSON_CreateString(REC_METHOD_MANUAL);
        if (prompt && m) bad |= set_path(p, REC_POINT_METHOD, m) | set_path(p, REC_POINT_PROMPT, prompt);
        else bad = 1;
        cJSON_Delete(prompt);
        cJSON_Delete(m);
        if (c->baseline->template_text) bad |= set_path(p, "template", c->baseline->template_text);
    }
    const char *task = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, REC_POINT_TASK));
    if (task) {
        bad |= substitute_task(cJSON_GetObjectItemCaseSensitive(p, "data_dir"), task);
        cJSON *data = cJSON_GetObjectItemCaseSensitive(p, "data");
        for (cJSON *f = cJSON_IsObject(data) ? data->child : NULL; f; f = f->next) bad |= substitute_task(f, task);
    }
    char *text = bad ? NULL : cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    return text;
}

/* "method \"pez\", lambda 0.1, ..." for messages. */
static void describe(const Grid *g, const Combination *c, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    if (c->baseline) used += (size_t)snprintf(out, cap, "baseline \"%.60s\"", c->baseline->prompt);
    for (int a = 0; a < g->n && used < cap; a++) {
        if (!c->value[a]) continue;
        char *v = cJSON_PrintUnformatted(c->value[a]);
        used += (size_t)snprintf(out + used, cap - used, "%s%s %.80s", used ? ", " : "", g->axes[a].path, v ? v : "?");
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
    case METHOD_SOFT:   // PEZ's loop, a step of the same cost
        sp->cost_class = SWEEP_COST_PEZ;
        sp->cost = (double)tp->prompt_length * tp->pez.steps;
        break;
    default:   // manual: no steps, its prompt's length is known only to tune
        sp->cost_class = SWEEP_COST_MANUAL;
        sp->cost = 1;
    }
}

/* A point of the spec from its JSON text: validated (point_parse), its canonical JSON, its
 * content id, cost and model's known line; where names it in messages. */
static int point_from_text(SweepSpec *s, const char *text, const char *where, SweepPoint *out, Err *err) {
    TunePoint tp;
    Err gerr;
    if (point_parse(&tp, text, &gerr)) return err_fail(err, "spec: the point (%s): %s", where, gerr.msg);
    SweepPoint sp = {.index = s->n_points};
    if (content_id(s, &tp, sp.id, &gerr)) {
        point_free(&tp);
        return err_fail(err, "spec: the point (%s): %s", where, gerr.msg);
    }
    sp.point_json = tp.canonical_json;
    tp.canonical_json = NULL;
    estimate_cost(&sp, &tp);
    sp.rung = -1;
    if (tp.method != METHOD_MANUAL) {   // what successive halving would cut down
        const char *m = tp.method == METHOD_PEZ ? "pez" : tp.method == METHOD_SOFT ? "soft" : "rlprompt";
        snprintf(sp.steps_key, sizeof sp.steps_key, "%s.steps", m);
        sp.full_steps = tp.method == METHOD_RLPROMPT ? tp.rl.steps : tp.pez.steps;
    }
    char weights[TUNE_PATH + 32];   // hashed by content_id: its line, if any, goes to the point's tune
    if (point_input_path(&tp, INPUT_MODEL, weights, sizeof weights) == 0) sp.model_known = input_known(s, weights);
    point_free(&tp);
    *out = sp;
    return 0;
}

/* Validates one combination and appends it. A baseline that repeats a point already there
 * (a grid of manual prompts may hold it) is left out; any other repeat is an error. */
static int add_point(SweepSpec *s, Builder *b, const Grid *g, const Combination *c, SweepIdIndex *ids, Err *err) {
    char where[512];
    describe(g, c, where, sizeof where);
    char *text = build_point(b, g, c);
    if (!text) return err_fail(err, "spec: out of memory");
    SweepPoint sp;
    Err gerr;
    int rc = point_from_text(s, text, where, &sp, err);
    free(text);
    if (rc) return -1;
    if (!s->model_sha256[0]) {   // the journal header's model: the first point's (grid.model)
        char path[TUNE_PATH + 32];
        const char *model = NULL;
        cJSON *pj = cJSON_Parse(sp.point_json);
        model = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pj, "model"));
        snprintf(path, sizeof path, "%s/model.safetensors", model ? model : "");
        cJSON_Delete(pj);
        if (input_sha256(s, path, s->model_sha256, &gerr)) {
            free(sp.point_json);
            return err_fail(err, "spec: \"model\": %s", gerr.msg);
        }
    }
    int i = sweep_id_get(ids, sp.id);
    if (i >= 0) {
        free(sp.point_json);
        if (c->baseline) return 0;
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

/* The list axis a takes for the combination so far (its method chosen: grid.method comes
 * before every axis that may depend on it), or NULL where it does not apply: another
 * method's settings, manual's prompt length, a per-method list without this method; for a
 * baseline also lambda, seed, prompt and, when it has its own, template (a manual prompt
 * is evaluated once per task, split and the other axes). */
static const cJSON *axis_values(const Grid *g, int a, const Combination *c) {
    const Axis *x = &g->axes[a];
    if (a == g->method_axis) return c->baseline ? NULL : x->lists->child;
    const char *method = c->baseline ? REC_METHOD_MANUAL : c->value[g->method_axis] ? c->value[g->method_axis]->valuestring : NULL;
    if (method && x->method && strcmp(x->method, method) != 0) return NULL;
    if (method && strcmp(method, REC_METHOD_MANUAL) == 0 && strcmp(x->path, REC_POINT_PROMPT_LENGTH) == 0) return NULL;
    if (c->baseline) {
        static const char *const fixed[] = {REC_POINT_LAMBDA, REC_POINT_SEED, REC_POINT_PROMPT};
        if (key_in(x->path, fixed, 3) || (c->baseline->template_text && strcmp(x->path, "template") == 0)) return NULL;
    }
    if (!x->per_method) return x->lists->child;
    return method ? cJSON_GetObjectItemCaseSensitive(x->lists, method) : NULL;
}

typedef struct {
    SweepSpec *s;
    Builder *b;
    const Grid *g;
    SweepIdIndex ids;      // the points so far, to find repeats
    Combination c;
} Expansion;

/* Every combination of axes a.. in order, the last axis fastest (an odometer). */
static int expand_from(Expansion *x, int a, Err *err) {
    if (a == x->g->n) return add_point(x->s, x->b, x->g, &x->c, &x->ids, err);
    const cJSON *list = axis_values(x->g, a, &x->c);
    if (!list) {
        x->c.value[a] = NULL;
        return expand_from(x, a + 1, err);
    }
    for (const cJSON *v = list->child; v; v = v->next) {
        x->c.value[a] = v;
        if (expand_from(x, a + 1, err)) return -1;
    }
    return 0;
}

/* The grid's points, then each baseline's. */
static int expand(SweepSpec *s, Builder *b, const Grid *g, const Baselines *bl, Err *err) {
    Expansion x = {.s = s, .b = b, .g = g};
    int rc = expand_from(&x, 0, err);
    for (int i = 0; rc == 0 && i < bl->n; i++) {
        x.c.baseline = &bl->b[i];
        rc = expand_from(&x, 0, err);
    }
    sweep_id_free(&x.ids);
    return rc;
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

/* Whether the grid has an axis at path or under it ("pez" has "pez.lr"). */
static int grid_owns(const Grid *g, const char *key) {
    size_t n = strlen(key);
    for (int a = 0; a < g->n; a++)
        if (strncmp(g->axes[a].path, key, n) == 0 && (g->axes[a].path[n] == '\0' || g->axes[a].path[n] == '.'))
            return 1;
    return 0;
}

/* "replicates": the point keys that repeat a configuration (statistics over them) rather than
 * make a new one; ["seed", "split"] unless given. Kept as compact JSON for the journal. */
static int parse_replicates(SweepSpec *s, const cJSON *root, Err *err) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "replicates");
    if (!r) {
        snprintf(s->replicates, sizeof s->replicates, "%s", SWEEP_DEFAULT_REPLICATES);
        return 0;
    }
    if (!cJSON_IsArray(r)) return err_fail(err, "spec: \"replicates\" must be an array of point keys");
    int i = 0;
    for (const cJSON *c = r->child; c; c = c->next, i++) {
        if (!cJSON_IsString(c) || !c->valuestring[0] || strchr(c->valuestring, '"') || strchr(c->valuestring, '\\'))
            return err_fail(err, "spec: replicates[%d] must be a point key (\"seed\", \"split\", \"pez.lr\", ...)", i);
        static const char *const never[] = {REC_POINT_METHOD, REC_POINT_TASK, REC_POINT_LAMBDA, REC_POINT_PROMPT_LENGTH};
        if (key_in(c->valuestring, never, 4))
            return err_fail(err, "spec: replicates[%d]: %s cannot be a replicate (a frontier is per task and method, "
                                 "and lambda and prompt_length are always part of a configuration)", i, c->valuestring);
        for (const cJSON *d = r->child; d != c; d = d->next)
            if (strcmp(d->valuestring, c->valuestring) == 0) return err_fail(err, "spec: replicates[%d] repeats \"%s\"", i, c->valuestring);
    }
    char *text = cJSON_PrintUnformatted(r);
    if (!text) return err_fail(err, "spec: out of memory");
    int fits = strlen(text) < sizeof s->replicates;
    if (fits) snprintf(s->replicates, sizeof s->replicates, "%s", text);
    free(text);
    return fits ? 0 : err_fail(err, "spec: \"replicates\" is too long");
}

/* "adaptive": {"points": N}: frontier-guided λ refinement (issue 16, run.c) adds up to N
 * points after the grid's. Off when absent. */
static int parse_adaptive(SweepSpec *s, const cJSON *root, Err *err) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "adaptive");
    if (!a) return 0;
    static const char *const keys[] = {"points"};
    if (!cJSON_IsObject(a)) return err_fail(err, "spec: \"adaptive\" must be an object {\"points\": N}");
    if (check_keys(a, "adaptive.", keys, 1, err)) return -1;
    double v = 0;
    int rc = get_number(a, "points", 1, 1e7, 1, &v, err);
    if (rc < 0) return -1;
    if (rc > 0) return err_fail(err, "spec: \"adaptive.points\" is missing (how many points the refinement may add)");
    s->adaptive_points = (int)v;
    return 0;
}

/* "halving": {"eta": η [3], "rungs": R [3]}: successive halving (issue 16, halving.c). */
static int parse_halving(SweepSpec *s, const cJSON *root, Err *err) {
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(root, "halving");
    if (!h) return 0;
    static const char *const keys[] = {"eta", "rungs"};
    if (!cJSON_IsObject(h)) return err_fail(err, "spec: \"halving\" must be an object {\"eta\": 3, \"rungs\": 3}");
    if (check_keys(h, "halving.", keys, 2, err)) return -1;
    double eta = 3, rungs = 3;
    if (get_number(h, "eta", 2, 100, 1, &eta, err) < 0 || get_number(h, "rungs", 2, 20, 1, &rungs, err) < 0) return -1;
    if (s->adaptive_points)
        return err_fail(err, "spec: \"halving\" and \"adaptive\" together are not supported: run the halving "
                             "sweep, then refine λ in a sweep of the configurations it kept");
    s->halving_eta = (int)eta;
    s->halving_rungs = (int)rungs;
    return 0;
}

static int parse_top(SweepSpec *s, const cJSON *root, Builder *b, Grid *g, Baselines *bl,
                     const char *default_tune, Err *err) {
    static const char *const keys[] = {"model", "task", "data", "data_dir", "split", "out", "grid",
                                       "pez", "rlprompt", "soft", "point", "baselines", "empty_baseline",
                                       "replicates", "timeout_seconds", "retries", "drain_seconds", "tune",
                                       "adaptive", "halving", "name", "description", "tags"};
    if (!cJSON_IsObject(root)) return err_fail(err, "spec: expected a JSON object");
    if (no_repeated_keys(root, "", err) || check_keys(root, "", keys, sizeof keys / sizeof keys[0], err)) return -1;
    char model[SWEEP_PATH] = "";
    int rc;
    if (get_string(root, "model", model, sizeof model, err) < 0) return -1;
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
    if (parse_adaptive(s, root, err) || parse_halving(s, root, err)) return -1;
    static const char *const objects[] = {"pez", "rlprompt", "soft", "point", "data"};
    for (int k = 0; k < 5; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, objects[k]);
        if (o && !cJSON_IsObject(o)) return err_fail(err, "spec: \"%s\" must be an object", objects[k]);
    }
    static const char *const strings[] = {"task", "data_dir", "split"};
    for (int k = 0; k < 3; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, strings[k]);
        if (o && !cJSON_IsString(o)) return err_fail(err, "spec: \"%s\" must be a string", strings[k]);
    }
    b->root = root;
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(root, "grid");
    if (!grid) return err_fail(err, "spec: \"grid\" is missing");
    if (parse_grid(g, grid, err) || parse_baselines(bl, root, err) || parse_replicates(s, root, err) ||
        sweep_about_parse(s, root, err))
        return -1;
    b->shared = cJSON_GetObjectItemCaseSensitive(root, "point");
    for (const cJSON *c = b->shared ? b->shared->child : NULL; c; c = c->next) {
        static const char *const owned[] = {"model", "task", "data", "data_dir", "split", "pez", "rlprompt", "soft",
                                            "method", "lambda", "prompt_length", "seed"};
        if (key_in(c->string, owned, sizeof owned / sizeof owned[0]) || grid_owns(g, c->string))
            return err_fail(err, "spec: \"point.%s\" belongs at the top of the spec or in the grid", c->string);
    }
    if (!grid_owns(g, REC_POINT_TASK) && !cJSON_GetObjectItemCaseSensitive(root, "task"))
        return err_fail(err, "spec: \"task\" is missing (give it at the top or as grid.task)");
    if (!model[0] && !grid_owns(g, "model"))
        return err_fail(err, "spec: \"model\" is missing (give it at the top or as grid.model)");
    if (!s->tune_path[0]) return err_fail(err, "spec: no tune program (give \"tune\")");
    if (check_tune(s->tune_path, err)) return -1;
    if (model[0]) {   // the journal header's model (with grid.model: the first point's, add_point)
        char weights[SWEEP_PATH + 32];
        snprintf(weights, sizeof weights, "%s/model.safetensors", model);
        Err gerr;
        if (input_sha256(s, weights, s->model_sha256, &gerr)) return err_fail(err, "spec: \"model\": %s", gerr.msg);
    }
    return 0;
}

static int halving_rung0(SweepSpec *s, Err *err);

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
    Baselines bl;
    int rc = parse_top(s, root, &b, &g, &bl, default_tune, err);
    if (rc == 0) rc = expand(s, &b, &g, &bl, err);
    if (rc == 0 && s->halving_rungs) rc = halving_rung0(s, err);
    grid_free(&g);
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

int sweep_halving_budget(const SweepSpec *s, int full_steps, int rung) {
    double b = full_steps;
    for (int r = rung; r < s->halving_rungs - 1; r++) b /= s->halving_eta;
    return b < 1 ? 1 : (int)floor(b);
}

/* Successive halving: every tuned point of the grid becomes its rung-0 point (its steps cut to
 * the first rung's budget), remembering the budget it stands for; the grid's points themselves
 * come back as the top rung's when halving promotes their configuration (halving.c). */
static int halving_rung0(SweepSpec *s, Err *err) {
    int n = s->n_points;
    for (int i = 0; i < n; i++) {
        SweepPoint *p = &s->points[i];
        if (!p->steps_key[0]) continue;
        int b0 = sweep_halving_budget(s, p->full_steps, 0);
        if (sweep_halving_budget(s, p->full_steps, 1) == b0)
            return err_fail(err, "spec: halving: point %d has %d steps: too few for %d rungs of eta %d (its first two "
                                 "rungs would both run %d)", i, p->full_steps, s->halving_rungs, s->halving_eta, b0);
        if (sweep_spec_add_point(s, p->point_json, p->steps_key, b0, err)) return -1;
        SweepPoint r0 = s->points[--s->n_points];
        p = &s->points[i];   // (the array may have moved)
        for (int j = 0; j < n; j++)
            if (strcmp(s->points[j].id, r0.id) == 0) {
                free(r0.point_json);
                return err_fail(err, "spec: halving: the first rung of point %d (%d steps) is point %d of the grid: "
                                     "halving cannot run a steps axis", i, b0, j);
            }
        free(p->point_json);
        memcpy(p->id, r0.id, sizeof p->id);
        p->point_json = r0.point_json;
        p->cost = r0.cost;
        p->rung = 0;
    }
    return 0;
}

int sweep_spec_add_point(SweepSpec *s, const char *point_json, const char *key, double value, Err *err) {
    cJSON *pt = cJSON_Parse(point_json);
    if (!cJSON_IsObject(pt)) {
        cJSON_Delete(pt);
        return err_fail(err, "spec: an added point is not a JSON object: %.120s", point_json);
    }
    char *text = NULL;
    cJSON *number = key ? cJSON_CreateNumber(value) : NULL;
    if (!key || (number && set_path(pt, key, number) == 0)) text = cJSON_PrintUnformatted(pt);
    cJSON_Delete(number);   // set_path set a copy
    cJSON_Delete(pt);
    if (!text) return err_fail(err, "spec: out of memory");
    char where[64];
    snprintf(where, sizeof where, "added point %d", s->n_points);
    SweepPoint sp;
    int rc = point_from_text(s, text, where, &sp, err);
    free(text);
    if (rc) return -1;
    if (util_grow(&s->points, &s->cap_points, s->n_points, sizeof *s->points, 64)) {
        free(sp.point_json);
        return err_fail(err, "spec: out of memory");
    }
    s->points[s->n_points++] = sp;
    return 0;
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
    for (int i = 0; i < s->n_inputs; i++) {
        free(s->inputs[i].path);
        free(s->inputs[i].known);
    }
    free(s->inputs);
    s->inputs = NULL;
    s->n_inputs = s->cap_inputs = 0;
    free(s->about);
    s->about = NULL;
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
