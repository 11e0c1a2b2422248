/*
 * tuners/point.c: the hyperparameter point (parse, validate, defaults,
 * canonical JSON) and the result record (the point section of
 * tuners/tuners.h).
 *
 * A point is one JSON object; every key but method, task, model and the data
 * is optional (defaults in the table of point_parse's helpers below and in
 * tuners.h). The canonical JSON is the point with every default filled in,
 * the data given as three paths, keys in sorted order, no whitespace and
 * numbers in their shortest round-trip form, so that equivalent points give
 * byte-identical text (a sweep hashes it to name a point).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tuners/tuners.h"
#include "util/record.h"

#define DEFAULT_DICTIONARY "/usr/share/dict/words"
#define MAX_SEED 9007199254740992.0   // 2^53: JSON numbers are doubles; larger seeds would round
#define MAX_TOKENS_LIMIT 1048576
#define DEFAULT_ACTIVATION_MB 200   // a 124M PEZ rank on 16-shot SST-2 then holds about 240 MB of private memory

// ----------------------------------------------------------------------------
// a growing text buffer and JSON writing

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} Buf;

static void buf_put(Buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->n + n + 1 > cap) cap *= 2;
        char *grown = realloc(b->s, cap);
        if (!grown) { b->oom = 1; return; }
        b->s = grown;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void buf_cat(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string. Bytes that are not well-formed UTF-8 (a prompt can end in
 * half a character) become U+FFFD, so the record is always valid JSON. */
static void buf_json_string(Buf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    buf_cat(b, "\"");
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t len = gpt2_utf8_len(p + i, n - i);
        if (len == 0) { buf_cat(b, "\\ufffd"); i++; continue; }
        if (c == '"') buf_cat(b, "\\\"");
        else if (c == '\\') buf_cat(b, "\\\\");
        else if (c == '\n') buf_cat(b, "\\n");
        else if (c == '\r') buf_cat(b, "\\r");
        else if (c == '\t') buf_cat(b, "\\t");
        else if (c < 0x20 || c == 0x7F) buf_printf(b, "\\u%04x", c);
        else buf_put(b, (const char *)p + i, len);
        i += len;
    }
    buf_cat(b, "\"");
}

/* The shortest "%.Ng" that reads back as exactly x: the same double always
 * prints the same way (0.1 as 0.1, not 0.10000000000000001). Non-finite
 * numbers are not JSON: null. */
static void buf_json_number(Buf *b, double x) {
    if (!isfinite(x)) { buf_cat(b, "null"); return; }
    if (x == 0) x = 0.0; // -0 prints as 0
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    buf_cat(b, tmp);
}

static void buf_key(Buf *b, const char *key, int first) {
    if (!first) buf_cat(b, ",");
    buf_json_string(b, key);
    buf_cat(b, ":");
}

/* "key":value, after a comma unless first. */
static void write_number_field(Buf *b, const char *key, double x, int first) {
    buf_key(b, key, first);
    buf_json_number(b, x);
}

/* A run of numbers of one object, as "key":value pairs in the given order. */
typedef struct {
    const char *key;
    double x;
} NumberField;
#define FIELDS(f) f, (int)(sizeof f / sizeof f[0])

static void write_number_fields(Buf *b, const NumberField *f, int n, int first) {
    for (int i = 0; i < n; i++) write_number_field(b, f[i].key, f[i].x, first && i == 0);
}

static void write_int_field(Buf *b, const char *key, int x, int first) {
    buf_key(b, key, first);
    buf_printf(b, "%d", x);
}

static void write_bool_field(Buf *b, const char *key, int x, int first) {
    buf_key(b, key, first);
    buf_cat(b, x ? "true" : "false");
}

// ----------------------------------------------------------------------------
// reading the JSON: typed fields with messages that name the key

/* A JSON object being read: its members and its path for messages ("" at the
 * top, "pez." inside "pez"). */
typedef struct {
    const cJSON *obj;
    const char *prefix;
    Err *err;
} Reader;

/* Unknown and repeated keys are errors. */
static int check_keys(const Reader *r, const char *const *known, int n_known) {
    for (const cJSON *it = r->obj->child; it; it = it->next) {
        int ok = 0;
        for (int k = 0; k < n_known && !ok; k++) ok = strcmp(it->string, known[k]) == 0;
        if (!ok) {
            char list[512] = "";
            size_t used = 0;
            for (int k = 0; k < n_known && used < sizeof list; k++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", known[k]);
            return err_fail(r->err, "point: unknown key \"%s%s\" (known: %s)", r->prefix, it->string, list);
        }
        for (const cJSON *prev = r->obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0)
                return err_fail(r->err, "point: key \"%s%s\" given twice", r->prefix, it->string);
    }
    return 0;
}

static const cJSON *member(const Reader *r, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(r->obj, key);
}

/* Each getter returns 0 when the key was read, 1 when it is absent (the
 * default stays), -1 on an error. */
static int get_string(const Reader *r, const char *key, char *dst, size_t cap) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    if (!cJSON_IsString(it)) return err_fail(r->err, "point: \"%s%s\" must be a string", r->prefix, key);
    size_t n = strlen(it->valuestring);
    if (n >= cap) return err_fail(r->err, "point: \"%s%s\" is longer than %zu bytes", r->prefix, key, cap - 1);
    memcpy(dst, it->valuestring, n + 1);
    return 0;
}

static int get_number(const Reader *r, const char *key, double *out) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
        return err_fail(r->err, "point: \"%s%s\" must be a number", r->prefix, key);
    *out = it->valuedouble;
    return 0;
}

/* A number in [lo, hi] (lo_open: > lo). */
static int get_range(const Reader *r, const char *key, double lo, int lo_open, double hi, double *out) {
    double x = *out;
    int rc = get_number(r, key, &x);
    if (rc) return rc;
    if ((lo_open ? x <= lo : x < lo) || x > hi) {
        char hi_text[32] = "";
        if (isfinite(hi)) snprintf(hi_text, sizeof hi_text, " and <= %g", hi);
        return err_fail(r->err, "point: \"%s%s\" must be %s %g%s, got %g", r->prefix, key,
                         lo_open ? ">" : ">=", lo, hi_text, x);
    }
    *out = x;
    return 0;
}

static int get_int(const Reader *r, const char *key, int lo, int hi, int *out) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    double x = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(x) || x != floor(x))
        return err_fail(r->err, "point: \"%s%s\" must be an integer", r->prefix, key);
    if (x < lo || x > hi)
        return err_fail(r->err, "point: \"%s%s\" must be in %d..%d, got %.17g", r->prefix, key, lo, hi, x);
    *out = (int)x;
    return 0;
}

static int get_bool(const Reader *r, const char *key, int *out) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    if (!cJSON_IsBool(it)) return err_fail(r->err, "point: \"%s%s\" must be true or false", r->prefix, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return 0;
}

/* One of n names; *out gets its index. */
static int get_enum(const Reader *r, const char *key, const char *const *names, int n, int *out) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    for (int k = 0; cJSON_IsString(it) && k < n; k++)
        if (strcmp(it->valuestring, names[k]) == 0) { *out = k; return 0; }
    char list[256] = "";
    size_t used = 0;
    for (int k = 0; k < n && used < sizeof list; k++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s\"%s\"", k ? " or " : "", names[k]);
    if (!cJSON_IsString(it)) return err_fail(r->err, "point: \"%s%s\" must be %s", r->prefix, key, list);
    return err_fail(r->err, "point: \"%s%s\" is \"%.60s\", expected %s", r->prefix, key, it->valuestring, list);
}

/* A nested object, or absent (1). */
static int get_object(const Reader *r, const char *key, Reader *sub, const char *sub_prefix) {
    const cJSON *it = member(r, key);
    if (!it) return 1;
    if (!cJSON_IsObject(it)) return err_fail(r->err, "point: \"%s%s\" must be an object", r->prefix, key);
    *sub = (Reader){.obj = it, .prefix = sub_prefix, .err = r->err};
    return 0;
}

static int need(int rc, const Reader *r, const char *key) {
    if (rc == 1) return err_fail(r->err, "point: missing \"%s%s\"", r->prefix, key);
    return rc;
}

// ----------------------------------------------------------------------------
// files named by a point

static int readable_file(Err *err, const char *key, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(err, "point: \"%s\": cannot read %s: %s", key, path, strerror(errno));
    fclose(f);
    return 0;
}

/* A checkpoint directory: config.json and model.safetensors must be there
 * (their contents are checked when the model is loaded). */
static int model_dir_ok(Err *err, const char *key, const char *dir) {
    char path[TUNE_PATH + 32];
    const char *files[2] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (access(path, R_OK) != 0)
            return err_fail(err, "point: \"%s\": %s has no readable %s (%s)", key, dir, files[i], strerror(errno));
    }
    return 0;
}

/* dir/name, without doubling a trailing slash. */
static int join_path(char *dst, const char *dir, const char *name, Err *err, const char *key) {
    size_t n = strlen(dir);
    const char *sep = n > 0 && dir[n - 1] == '/' ? "" : "/";
    int len = snprintf(dst, TUNE_PATH, "%s%s%s", dir, sep, name);
    if (len < 0 || len >= TUNE_PATH) return err_fail(err, "point: \"%s\": path too long", key);
    return 0;
}

// ----------------------------------------------------------------------------
// the sections of a point

static const char *const METHODS[] = {"pez", "rlprompt", "manual", "soft"}; // Method's order
static const char *const OBJECTIVES[] = {"additive", "convex"};
static const char *const PEZ_OPTIMIZERS[] = {"adafactor", "adamw"};
static const char *const PEZ_INITS[] = {"classes", "random"};
static const char *const PEZ_PPL_GRADS[] = {"full", "input"};
static const char *const RL_REWARDS[] = {"objective", "gap"};
static const char *const PROMPT_VOCABS[] = {"all", "utf8", "ascii"};

/* "patience" and "min_steps" of a method's settings (EarlyStop, tuners.h). */
static int parse_early_stop(const Reader *r, int steps, EarlyStop *e) {
    if (get_int(r, "patience", 0, 100000000, &e->patience) < 0 ||
        get_int(r, "min_steps", 0, 100000000, &e->min_steps) < 0)
        return -1;
    if (e->min_steps > 0 && e->patience == 0)
        return err_fail(r->err, "point: \"%smin_steps\" needs \"%spatience\" (early stopping is off without it)",
                        r->prefix, r->prefix);
    if (e->min_steps > steps)
        return err_fail(r->err, "point: \"%smin_steps\" %d exceeds \"%ssteps\" %d", r->prefix, e->min_steps,
                        r->prefix, steps);
    return 0;
}

/* "pez": {...}, or "soft": {...} (key; prefix "pez." or "soft." for messages): soft prompt
 * tuning takes PEZ's settings, keys and defaults. lr's default follows the optimizer: 0.3
 * (Adafactor, the reference LM script) or 0.1 (AdamW, the reference CLIP code). */
static int parse_pez(const Reader *top, const char *key, const char *prefix, PezSettings *s) {
    *s = (PezSettings){.steps = 1000, .batch = 16, .eval_every = 10, .optimizer = PEZ_ADAFACTOR,
                       .lr = -1, .weight_decay = 0.1, .clip = 1.0, .init_random = 0, .reset_quirk = 0,
                       .ppl_grad = PEZ_PPL_GRAD_FULL};
    Reader r;
    int rc = get_object(top, key, &r, prefix);
    if (rc < 0) return -1;
    if (rc == 0) {
        static const char *const keys[] = {"steps", "batch", "eval_every", "optimizer", "lr",
                                           "weight_decay", "clip", "init", "reset_quirk", "ppl_grad",
                                           "patience", "min_steps"};
        int optimizer = PEZ_ADAFACTOR, ppl_grad = PEZ_PPL_GRAD_FULL;
        if (check_keys(&r, keys, sizeof keys / sizeof keys[0]) ||
            get_int(&r, "steps", 1, 100000000, &s->steps) < 0 ||
            get_int(&r, "batch", 1, 1000000, &s->batch) < 0 ||
            get_int(&r, "eval_every", 1, 100000000, &s->eval_every) < 0 ||
            get_enum(&r, "optimizer", PEZ_OPTIMIZERS, 2, &optimizer) < 0 ||
            get_range(&r, "lr", 0, 1, INFINITY, &s->lr) < 0 ||
            get_range(&r, "weight_decay", 0, 0, INFINITY, &s->weight_decay) < 0 ||
            get_range(&r, "clip", 0, 0, INFINITY, &s->clip) < 0 ||
            get_enum(&r, "init", PEZ_INITS, 2, &s->init_random) < 0 ||
            get_bool(&r, "reset_quirk", &s->reset_quirk) < 0 ||
            get_enum(&r, "ppl_grad", PEZ_PPL_GRADS, 2, &ppl_grad) < 0 ||
            parse_early_stop(&r, s->steps, &s->early) < 0)
            return -1;
        s->optimizer = (PezOptimizer)optimizer;
        s->ppl_grad = (PezPplGrad)ppl_grad;
    }
    if (s->lr < 0) s->lr = s->optimizer == PEZ_ADAMW ? 0.1 : 0.3;
    return 0;
}

static int parse_rlprompt(const Reader *top, RlSettings *s) {
    *s = (RlSettings){.steps = 1000, .prompts_per_step = 16, .top_k = 256, .eval_every = 10,
                      .hidden = 2048, .lr = 5e-5, .clip = 5.0, .polyak = 0.001, .reward_scale = 5.0,
                      .reward = RL_REWARD_OBJECTIVE};
    Reader r;
    int rc = get_object(top, "rlprompt", &r, "rlprompt.");
    if (rc) return rc < 0 ? -1 : 0;
    static const char *const keys[] = {"steps", "prompts_per_step", "top_k", "eval_every", "hidden",
                                       "lr", "clip", "polyak", "reward_scale", "reward", "patience", "min_steps"};
    int reward = RL_REWARD_OBJECTIVE;
    if (check_keys(&r, keys, sizeof keys / sizeof keys[0]) ||
        get_int(&r, "steps", 1, 100000000, &s->steps) < 0 ||
        get_int(&r, "prompts_per_step", 1, 4096, &s->prompts_per_step) < 0 ||
        get_int(&r, "top_k", 1, 1 << 24, &s->top_k) < 0 ||
        get_int(&r, "eval_every", 1, 100000000, &s->eval_every) < 0 ||
        get_int(&r, "hidden", 1, 1 << 20, &s->hidden) < 0 ||
        get_range(&r, "lr", 0, 1, INFINITY, &s->lr) < 0 ||
        get_range(&r, "clip", 0, 0, INFINITY, &s->clip) < 0 ||
        get_range(&r, "polyak", 0, 0, 1, &s->polyak) < 0 ||
        get_range(&r, "reward_scale", 0, 1, INFINITY, &s->reward_scale) < 0 ||
        get_enum(&r, "reward", RL_REWARDS, 2, &reward) < 0 ||
        parse_early_stop(&r, s->steps, &s->early) < 0)
        return -1;
    s->reward = (RlReward)reward;
    return 0;
}

/* The data: "data": {"train", "dev", "test"} paths, or the few-shot layout
 * "data_dir" + "split" (data_dir/split/train.tsv, data_dir/split/dev.tsv,
 * data_dir/test.tsv). Exactly one of the two forms. */
static int parse_data(const Reader *top, TunePoint *p) {
    Reader d;
    int has_data = member(top, "data") != NULL;
    int has_dir = member(top, "data_dir") != NULL || member(top, "split") != NULL;
    if (has_data && has_dir)
        return err_fail(top->err, "point: give either \"data\" or \"data_dir\" + \"split\", not both");
    if (!has_data && !has_dir)
        return err_fail(top->err, "point: missing \"data\" (or \"data_dir\" + \"split\")");
    if (has_data) {
        static const char *const keys[] = {"train", "dev", "test"};
        if (get_object(top, "data", &d, "data.") < 0 || check_keys(&d, keys, 3) ||
            need(get_string(&d, "train", p->train_path, TUNE_PATH), &d, "train") ||
            need(get_string(&d, "dev", p->dev_path, TUNE_PATH), &d, "dev") ||
            need(get_string(&d, "test", p->test_path, TUNE_PATH), &d, "test"))
            return -1;
        return 0;
    }
    char dir[TUNE_PATH], split[128], sub[TUNE_PATH + 128];
    if (need(get_string(top, "data_dir", dir, sizeof dir), top, "data_dir") ||
        need(get_string(top, "split", split, sizeof split), top, "split"))
        return -1;
    if (split[0] == '\0' || strchr(split, '/'))
        return err_fail(top->err, "point: \"split\" must name a directory like \"16-42\", got \"%s\"", split);
    if (join_path(sub, dir, split, top->err, "data_dir") ||
        join_path(p->train_path, sub, "train.tsv", top->err, "data_dir") ||
        join_path(p->dev_path, sub, "dev.tsv", top->err, "data_dir") ||
        join_path(p->test_path, dir, "test.tsv", top->err, "data_dir"))
        return -1;
    return 0;
}

/* "task" and "verbalizers": a built-in task gives its classes and
 * verbalizers (which a point may override, one per class); "custom" needs
 * the verbalizers, and its class count is theirs. */
static int parse_task(const Reader *top, TunePoint *p) {
    if (need(get_string(top, REC_POINT_TASK, p->task, sizeof p->task), top, REC_POINT_TASK)) return -1;
    const TaskSpec *spec = task_spec(p->task);
    int custom = strcmp(p->task, "custom") == 0;
    if (!spec && !custom)
        return err_fail(top->err, "point: \"task\" is \"%s\": expected sst-2, mr, cr, subj, trec, sst-5, "
                         "agnews, yahoo or custom", p->task);
    const cJSON *v = member(top, REC_POINT_VERBALIZERS);
    if (!v) {
        if (custom) return err_fail(top->err, "point: task \"custom\" needs \"verbalizers\"");
        p->n_classes = spec->n_classes;
        for (int k = 0; k < spec->n_classes; k++)
            snprintf(p->verbalizers[k], sizeof p->verbalizers[k], "%s", spec->verbalizers[k]);
        return 0;
    }
    if (!cJSON_IsArray(v)) return err_fail(top->err, "point: \"verbalizers\" must be an array of strings");
    int n = cJSON_GetArraySize(v);
    if (spec && n != spec->n_classes)
        return err_fail(top->err, "point: \"verbalizers\" has %d entries, task %s has %d classes", n,
                         p->task, spec->n_classes);
    if (n < 2 || n > TUNE_MAX_CLASSES)
        return err_fail(top->err, "point: \"verbalizers\" has %d entries, expected 2..%d", n, TUNE_MAX_CLASSES);
    int k = 0;
    for (const cJSON *it = v->child; it; it = it->next, k++) {
        if (!cJSON_IsString(it) || it->valuestring[0] == '\0')
            return err_fail(top->err, "point: \"verbalizers\"[%d] must be a non-empty string", k);
        if (strlen(it->valuestring) >= sizeof p->verbalizers[k])
            return err_fail(top->err, "point: \"verbalizers\"[%d] is longer than %zu bytes", k,
                             sizeof p->verbalizers[k] - 1);
        snprintf(p->verbalizers[k], sizeof p->verbalizers[k], "%s", it->valuestring);
    }
    p->n_classes = n;
    return 0;
}

static int count_of(const char *s, const char *needle) {
    int n = 0;
    for (const char *q = strstr(s, needle); q; q = strstr(q + 1, needle)) n++;
    return n;
}

// ----------------------------------------------------------------------------
// canonical JSON

/* "key":{PEZ's settings}, as "pez" or as "soft". */
static void write_pez_settings(Buf *b, const char *key, const PezSettings *s) {
    buf_key(b, key, 0);
    buf_cat(b, "{\"batch\":");
    buf_printf(b, "%d", s->batch);
    buf_cat(b, ",\"clip\":");
    buf_json_number(b, s->clip);
    buf_printf(b, ",\"eval_every\":%d,\"init\":", s->eval_every);
    buf_json_string(b, PEZ_INITS[s->init_random ? 1 : 0]);
    buf_cat(b, ",\"lr\":");
    buf_json_number(b, s->lr);
    if (s->early.patience) buf_printf(b, ",\"min_steps\":%d", s->early.min_steps);
    buf_cat(b, ",\"optimizer\":");
    buf_json_string(b, PEZ_OPTIMIZERS[s->optimizer]);
    if (s->early.patience) buf_printf(b, ",\"patience\":%d", s->early.patience);
    buf_cat(b, ",\"ppl_grad\":");
    buf_json_string(b, PEZ_PPL_GRADS[s->ppl_grad]);
    buf_printf(b, ",\"reset_quirk\":%s,\"steps\":%d,\"weight_decay\":", s->reset_quirk ? "true" : "false",
               s->steps);
    buf_json_number(b, s->weight_decay);
    buf_cat(b, "}");
}

static void write_rl_settings(Buf *b, const RlSettings *s) {
    buf_key(b, "rlprompt", 0);
    buf_cat(b, "{\"clip\":");
    buf_json_number(b, s->clip);
    buf_printf(b, ",\"eval_every\":%d,\"hidden\":%d,\"lr\":", s->eval_every, s->hidden);
    buf_json_number(b, s->lr);
    if (s->early.patience) buf_printf(b, ",\"min_steps\":%d,\"patience\":%d", s->early.min_steps, s->early.patience);
    buf_cat(b, ",\"polyak\":");
    buf_json_number(b, s->polyak);
    buf_printf(b, ",\"prompts_per_step\":%d,\"reward\":", s->prompts_per_step);
    buf_json_string(b, RL_REWARDS[s->reward]);
    buf_cat(b, ",\"reward_scale\":");
    buf_json_number(b, s->reward_scale);
    buf_printf(b, ",\"steps\":%d,\"top_k\":%d}", s->steps, s->top_k);
}

/* A file the point reads: its path, or with sha (identity JSON) "sha256:" and the sha256 of its
 * contents ("" stays "": no such input). */
static void buf_input(Buf *b, const char *path, const char (*sha)[65], int input) {
    if (!sha || !path[0]) {
        buf_json_string(b, path);
        return;
    }
    buf_cat(b, "\"sha256:");
    buf_cat(b, sha[input]);
    buf_cat(b, "\"");
}

/* Keys in sorted order; the settings of the other methods, the policy model of
 * all but RLPrompt and the activation budget are left out (they do not change
 * the run's results: a budget only splits batches). sha NULL: the
 * files as paths (what tune reads); else as the sha256 of their contents
 * (the point's identity: the same wherever the files are). */
static char *canonical_json(const TunePoint *p, const char (*sha)[65]) {
    Buf b = {0};
    buf_cat(&b, "{\"data\":{\"dev\":");
    buf_input(&b, p->dev_path, sha, INPUT_DEV);
    buf_cat(&b, ",\"test\":");
    buf_input(&b, p->test_path, sha, INPUT_TEST);
    buf_cat(&b, ",\"train\":");
    buf_input(&b, p->train_path, sha, INPUT_TRAIN);
    buf_cat(&b, "}");
    buf_key(&b, "dictionary", 0);
    buf_input(&b, p->dict_path, sha, INPUT_DICTIONARY);
    buf_key(&b, REC_POINT_LAMBDA, 0);
    buf_json_number(&b, p->lambda);
    buf_printf(&b, ",\"max_test\":%d,\"max_tokens\":%d", p->max_test, p->max_tokens);
    buf_key(&b, REC_POINT_METHOD, 0);
    buf_json_string(&b, METHODS[p->method]);
    buf_key(&b, "model", 0);
    buf_input(&b, p->model_dir, sha, INPUT_MODEL);
    buf_key(&b, "objective", 0);
    buf_json_string(&b, OBJECTIVES[p->objective]);
    if (p->method == METHOD_PEZ) write_pez_settings(&b, "pez", &p->pez);
    if (p->method == METHOD_RLPROMPT) {
        buf_key(&b, "policy_model", 0);
        buf_input(&b, p->policy_dir, sha, INPUT_POLICY);
    }
    buf_key(&b, "precision", 0);
    buf_json_string(&b, GPT2_PRECISION_NAMES[p->precision]);
    if (p->method == METHOD_MANUAL) {
        buf_key(&b, "prompt", 0);
        buf_json_string(&b, p->manual_prompt);
    } else {
        write_int_field(&b, REC_POINT_PROMPT_LENGTH, p->prompt_length, 0);
    }
    buf_key(&b, "prompt_vocab", 0);
    buf_json_string(&b, PROMPT_VOCABS[p->prompt_vocab]);
    if (p->method == METHOD_RLPROMPT) write_rl_settings(&b, &p->rl);
    buf_key(&b, "scorer_model", 0);
    buf_input(&b, p->scorer_dir, sha, INPUT_SCORER);
    buf_key(&b, REC_POINT_SEED, 0);
    buf_printf(&b, "%llu", (unsigned long long)p->seed);
    if (p->method == METHOD_SOFT) write_pez_settings(&b, "soft", &p->pez);
    buf_key(&b, REC_POINT_TASK, 0);
    buf_json_string(&b, p->task);
    buf_key(&b, "template", 0);
    buf_json_string(&b, p->template_text);
    buf_key(&b, REC_POINT_VERBALIZERS, 0);
    buf_cat(&b, "[");
    for (int k = 0; k < p->n_classes; k++) {
        if (k) buf_cat(&b, ",");
        buf_json_string(&b, p->verbalizers[k]);
    }
    buf_cat(&b, "]}");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

// ----------------------------------------------------------------------------
// the point

static int parse_object(TunePoint *p, const Reader *top) {
    Err *err = top->err;
    static const char *const keys[] = {REC_POINT_METHOD, REC_POINT_TASK, "model", "scorer_model", "policy_model",
                                       "data", "data_dir", "split", REC_POINT_LAMBDA, "objective",
                                       REC_POINT_PROMPT_LENGTH, REC_POINT_SEED, "template", REC_POINT_VERBALIZERS,
                                       "max_tokens", "max_test", "dictionary", "pez", "rlprompt", "soft",
                                       "prompt", "prompt_vocab", "activation_mb", "precision"};
    if (check_keys(top, keys, sizeof keys / sizeof keys[0])) return -1;
    int method = 0, objective = OBJECTIVE_ADDITIVE;
    if (need(get_enum(top, REC_POINT_METHOD, METHODS, 4, &method), top, REC_POINT_METHOD)) return -1;
    p->method = (Method)method;
    // a manual prompt is text, the only point where a prompt is given, not learnt; "" is the
    // template alone, the baseline every tuned prompt must beat
    int has_prompt = member(top, "prompt") != NULL;
    if (p->method == METHOD_MANUAL) {
        if (need(get_string(top, "prompt", p->manual_prompt, sizeof p->manual_prompt), top, "prompt"))
            return -1;
        if (member(top, REC_POINT_PROMPT_LENGTH))
            return err_fail(err, "point: \"prompt_length\" comes from the manual \"prompt\"; leave it out");
    } else if (has_prompt) {
        return err_fail(err, "point: \"prompt\" is only for the \"manual\" method");
    }
    if (parse_task(top, p)) return -1;
    if (need(get_string(top, "model", p->model_dir, TUNE_PATH), top, "model") ||
        get_string(top, "scorer_model", p->scorer_dir, TUNE_PATH) < 0 ||
        get_string(top, "policy_model", p->policy_dir, TUNE_PATH) < 0)
        return -1;
    // the task model named again is the default
    if (strcmp(p->scorer_dir, p->model_dir) == 0) p->scorer_dir[0] = '\0';
    if (strcmp(p->policy_dir, p->model_dir) == 0 || p->method != METHOD_RLPROMPT) p->policy_dir[0] = '\0';
    if (parse_data(top, p)) return -1;

    p->lambda = 0.0;
    if (get_range(top, REC_POINT_LAMBDA, 0, 0, INFINITY, &p->lambda) < 0 ||
        get_enum(top, "objective", OBJECTIVES, 2, &objective) < 0)
        return -1;
    p->objective = (Objective)objective;
    if (p->objective == OBJECTIVE_CONVEX && p->lambda > 1)
        return err_fail(err, "point: \"lambda\" is %g: the convex objective needs it in [0, 1]", p->lambda);

    // RLPrompt's paper prompts have 5 tokens; PEZ's LM script uses 10 (and soft, on PEZ's settings)
    int pez_like = p->method == METHOD_PEZ || p->method == METHOD_SOFT;
    p->prompt_length = pez_like ? 10 : 5; // manual: set by tune from the text
    if (get_int(top, REC_POINT_PROMPT_LENGTH, 1, TUNE_MAX_PROMPT, &p->prompt_length) < 0) return -1;
    double seed = 0;
    const cJSON *sj = member(top, REC_POINT_SEED);
    if (sj && (!cJSON_IsNumber(sj) || sj->valuedouble != floor(sj->valuedouble) || sj->valuedouble < 0 ||
               sj->valuedouble >= MAX_SEED))
        return err_fail(err, "point: \"seed\" must be an integer in 0..2^53-1");
    if (sj) seed = sj->valuedouble;
    p->seed = (uint64_t)seed;

    snprintf(p->template_text, sizeof p->template_text, "%s",
             pez_like ? "[P]{sentence} It was" : "{sentence}[P]"); // manual: as RLPrompt
    if (get_string(top, "template", p->template_text, sizeof p->template_text) < 0) return -1;
    if (count_of(p->template_text, "[P]") != 1 || count_of(p->template_text, "{sentence}") != 1)
        return err_fail(err, "point: \"template\" is \"%s\": it needs \"[P]\" and \"{sentence}\" once each",
                         p->template_text);
    p->max_tokens = 128;
    p->max_test = 0;
    if (get_int(top, "max_tokens", 1, MAX_TOKENS_LIMIT, &p->max_tokens) < 0 ||
        get_int(top, "max_test", 0, 1 << 30, &p->max_test) < 0)
        return -1;
    // the activation budget: MB, or "none" (= 0: one batch per step, the evaluator's full rows)
    p->activation_mb = DEFAULT_ACTIVATION_MB;
    const cJSON *budget = member(top, "activation_mb");
    p->activation_default = budget == NULL;
    if (cJSON_IsString(budget)) {
        if (strcmp(budget->valuestring, "none") != 0)
            return err_fail(err, "point: \"activation_mb\" is \"%.60s\", expected a number of MB or \"none\"",
                             budget->valuestring);
        p->activation_mb = 0;
    } else if (get_range(top, "activation_mb", 0, 0, 1 << 24, &p->activation_mb) < 0) {
        return -1;
    }
    int vocab = PROMPT_VOCAB_ALL;
    if (get_enum(top, "prompt_vocab", PROMPT_VOCABS, 3, &vocab) < 0) return -1;
    p->prompt_vocab = (PromptVocab)vocab;
    int precision = GPT2_F32;
    if (get_enum(top, "precision", GPT2_PRECISION_NAMES, GPT2_N_PRECISIONS, &precision) < 0) return -1;
    p->precision = (GPT2Precision)precision;
    snprintf(p->dict_path, sizeof p->dict_path, "%s", DEFAULT_DICTIONARY);
    if (get_string(top, "dictionary", p->dict_path, TUNE_PATH) < 0) return -1;
    // every settings object is checked; only the method's own is kept (soft's in p->pez)
    PezSettings other;
    int soft = p->method == METHOD_SOFT;
    if (parse_pez(top, "pez", "pez.", soft ? &other : &p->pez) ||
        parse_pez(top, "soft", "soft.", soft ? &p->pez : &other) || parse_rlprompt(top, &p->rl))
        return -1;
    if (soft && p->pez.reset_quirk)
        return err_fail(err, "point: \"soft.reset_quirk\" is PEZ's step from the projection; a soft prompt has none");

    // files last: a typo in a key is reported before a missing file
    if (model_dir_ok(err, "model", p->model_dir) ||
        (p->scorer_dir[0] && model_dir_ok(err, "scorer_model", p->scorer_dir)) ||
        (p->policy_dir[0] && model_dir_ok(err, "policy_model", p->policy_dir)) ||
        readable_file(err, "data.train", p->train_path) || readable_file(err, "data.dev", p->dev_path) ||
        readable_file(err, "data.test", p->test_path) || readable_file(err, "dictionary", p->dict_path))
        return -1;
    return 0;
}

double tune_eval_share(const TunePoint *p) {
    return p->method == METHOD_PEZ || p->method == METHOD_SOFT ? TUNE_EVAL_BUDGET_SHARE : 1.0;
}

const char *method_name(Method m) {
    return (unsigned)m < sizeof METHODS / sizeof METHODS[0] ? METHODS[m] : "unknown";
}

int point_parse(TunePoint *p, const char *json_text, Err *err) {
    memset(p, 0, sizeof *p);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json_text, &end, 1);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= json_text ? (long)(at - json_text) : -1;
        return err_fail(err, "point: not valid JSON (near byte %ld)", off);
    }
    int rc = -1;
    if (!cJSON_IsObject(root)) err_fail(err, "point: expected a JSON object");
    else {
        Reader top = {.obj = root, .prefix = "", .err = err};
        rc = parse_object(p, &top);
    }
    cJSON_Delete(root);
    if (rc == 0 && !(p->canonical_json = canonical_json(p, NULL))) rc = err_fail(err, "point: out of memory");
    if (rc) memset(p, 0, sizeof *p);
    return rc;
}

const char *const POINT_INPUT_NAMES[N_POINT_INPUTS] = {"model", "scorer_model", "policy_model", "train",
                                                       "dev", "test", "dictionary"};

int point_input_path(const TunePoint *p, int input, char *out, size_t cap) {
    const char *dirs[] = {p->model_dir, p->scorer_dir, p->policy_dir};
    int n = input <= INPUT_POLICY
                ? (dirs[input][0] ? snprintf(out, cap, "%s/model.safetensors", dirs[input]) : snprintf(out, cap, "%s", ""))
                : snprintf(out, cap, "%s",
                           input == INPUT_TRAIN ? p->train_path : input == INPUT_DEV ? p->dev_path
                                                : input == INPUT_TEST ? p->test_path : p->dict_path);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int point_identity(const TunePoint *p, const char sha[N_POINT_INPUTS][65], char id[65]) {
    char *json = canonical_json(p, sha);
    if (!json) return -1;
    Buf b = {0};
    buf_printf(&b, "{\"identity\":%d,\"point\":", POINT_IDENTITY_VERSION);
    buf_cat(&b, json);
    buf_key(&b, "tune", 0);
    buf_json_string(&b, TUNE_VERSION);
    buf_cat(&b, "}");
    free(json);
    if (b.oom) {
        free(b.s);
        return -1;
    }
    gpt2_sha256_hex(b.s, b.n, id);
    free(b.s);
    return 0;
}

void point_free(TunePoint *p) {
    free(p->canonical_json);
    p->canonical_json = NULL;
}

int objective_better(double j, double log_ppl, double best_j, double best_log_ppl) {
    if (!isfinite(j)) return 0;
    if (!isfinite(best_j)) return 1;
    return j < best_j || (j == best_j && log_ppl < best_log_ppl);
}

const char *const STOP_REASON_NAMES[] = {"none", "steps", "patience"};

int early_stop_due(const EarlyStop *e, int *stale, int improved, int step) {
    *stale = improved ? 0 : *stale + 1;
    return e->patience > 0 && *stale >= e->patience && step >= e->min_steps;
}

int dev_choice_offer(DevChoice *c, const HistoryEntry *h) {
    if (!objective_better(h->dev_objective, h->log_ppl, c->j, c->log_ppl)) return 0;
    *c = (DevChoice){.j = h->dev_objective, .log_ppl = h->log_ppl, .step = h->step};
    return 1;
}

void objective_weights(const TunePoint *p, double *w_task, double *w_interp) {
    if (p->objective == OBJECTIVE_CONVEX) {
        *w_task = 1.0 - p->lambda;
        *w_interp = p->lambda;
    } else {
        *w_task = 1.0;
        *w_interp = p->lambda;
    }
}

// ----------------------------------------------------------------------------
// the result

void result_free(TuneResult *r) {
    free(r->history);
    r->history = NULL;
    r->n_history = r->cap_history = 0;
}

int result_add_history(TuneResult *r, HistoryEntry h, Err *err) {
    if (util_grow(&r->history, &r->cap_history, r->n_history, sizeof *r->history, 64))
        return err_fail(err, "result: out of memory (%d history entries)", r->n_history + 1);
    r->history[r->n_history++] = h;
    return 0;
}

static void write_ints(Buf *b, const int *x, int n) {
    buf_cat(b, "[");
    for (int j = 0; j < n; j++) buf_printf(b, "%s%d", j ? "," : "", x[j]);
    buf_cat(b, "]");
}

static void write_numbers(Buf *b, const double *x, int n) {
    buf_cat(b, "[");
    for (int j = 0; j < n; j++) {
        if (j) buf_cat(b, ",");
        buf_json_number(b, x[j]);
    }
    buf_cat(b, "]");
}

static const char *const SPLIT_NAMES[TUNE_N_SPLITS] = {REC_TRAIN, REC_DEV, REC_TEST};

/* {"train": f(train), "dev": ..., "test": ...} of one EvalResult field per split. */
static void write_per_split(Buf *b, const char *key, const TuneResult *r, size_t offset, int K) {
    buf_key(b, key, 0);
    buf_cat(b, "{");
    for (int s = 0; s < TUNE_N_SPLITS; s++) {
        buf_key(b, SPLIT_NAMES[s], s == 0);
        const double *field = (const double *)((const char *)&r->eval[s] + offset);
        if (K > 0) write_numbers(b, field, K);
        else buf_json_number(b, *field);
    }
    buf_cat(b, "}");
}

/* run, data_files and model (record.h), after versions: a reader comparing two runs' records
 * drops run like wall_seconds, and the keys before them keep their bytes. */
static void write_provenance(Buf *b, const TuneProvenance *v) {
    buf_key(b, REC_RUN, 0);
    buf_cat(b, "{");
    buf_key(b, REC_RUN_CODE_VERSION, 1);
    buf_json_string(b, v->code_version ? v->code_version : "unknown");
    buf_key(b, REC_RUN_HOST, 0);
    buf_json_string(b, v->host);
    buf_key(b, REC_RUN_COMMAND, 0);
    buf_cat(b, "[");
    for (int i = 0; i < v->argc; i++) {
        if (i) buf_cat(b, ",");
        buf_json_string(b, v->argv[i]);
    }
    buf_cat(b, "]");
    buf_key(b, REC_RUN_OPENBLAS_CORE, 0);
    buf_json_string(b, v->openblas_core);
    write_int_field(b, REC_RUN_OPENBLAS_THREADS, v->openblas_threads, 0);
    buf_key(b, REC_RUN_OPENBLAS_CORETYPE, 0);
    if (v->openblas_coretype) buf_json_string(b, v->openblas_coretype);
    else buf_cat(b, "null");
    buf_cat(b, "}");
    if (v->have_data) {
        static const char *const names[TUNE_N_SPLITS] = {REC_TRAIN, REC_DEV, REC_TEST};
        buf_key(b, REC_DATA_FILES, 0);
        buf_cat(b, "{");
        for (int sp = 0; sp < TUNE_N_SPLITS; sp++) {
            buf_key(b, names[sp], sp == 0);
            buf_cat(b, "{");
            buf_key(b, REC_DATA_SHA256, 1);
            buf_json_string(b, v->data_sha256[sp]);
            write_int_field(b, REC_DATA_EXAMPLES, v->data_n[sp], 0);
            if (sp == TUNE_TEST) write_int_field(b, REC_DATA_SCORED, v->test_scored, 0);
            buf_cat(b, "}");
        }
        buf_cat(b, "}");
    }
    if (v->have_model) {
        buf_key(b, REC_MODEL, 0);
        buf_cat(b, "{");
        write_int_field(b, REC_MODEL_N_LAYER, v->n_layer, 1);
        write_int_field(b, REC_MODEL_N_HEAD, v->n_head, 0);
        write_int_field(b, REC_MODEL_N_EMBD, v->n_embd, 0);
        write_int_field(b, REC_MODEL_N_POSITIONS, v->n_positions, 0);
        write_bool_field(b, REC_MODEL_RANDOM_INIT, v->random_init, 0);
        buf_cat(b, "}");
    }
}

/* The keys are util/record.h's, written in its tables' order. */
char *result_record_json(const TunePoint *p, const TuneResult *r, const char *status,
                         const char *error, const char *model_sha256, const TuneProvenance *prov) {
    Buf b = {0};
    buf_cat(&b, "{");
    buf_key(&b, REC_POINT, 1);
    buf_cat(&b, p && p->canonical_json ? p->canonical_json : "null");
    buf_key(&b, REC_STATUS, 0);
    buf_json_string(&b, status ? status : REC_STATUS_FAILED);
    buf_key(&b, REC_ERROR, 0);
    if (error) buf_json_string(&b, error);
    else buf_cat(&b, "null");

    int L = r->prompt_length < 0 ? 0 : r->prompt_length > TUNE_MAX_PROMPT ? TUNE_MAX_PROMPT : r->prompt_length;
    int ok = status && strcmp(status, REC_STATUS_OK) == 0;
    int K = r->n_classes < 0 ? 0 : r->n_classes > TUNE_MAX_CLASSES ? TUNE_MAX_CLASSES : r->n_classes;
    buf_key(&b, REC_PROMPT, 0);
    buf_cat(&b, "{");
    buf_key(&b, REC_PROMPT_IDS, 1);
    write_ints(&b, r->prompt_ids, L);
    buf_key(&b, REC_PROMPT_TEXT, 0);
    buf_json_string(&b, L ? r->prompt_text : "");
    if (ok) {
        int cap = (int)(sizeof r->text_ids / sizeof r->text_ids[0]);
        int nt = r->n_text_ids < 0 ? 0 : r->n_text_ids > cap ? cap : r->n_text_ids;
        buf_key(&b, REC_PROMPT_TEXT_IDS, 0);
        write_ints(&b, r->text_ids, nt);
        write_bool_field(&b, REC_PROMPT_ROUNDTRIP, r->roundtrip, 0);
        write_number_field(&b, REC_PROMPT_ROUNDTRIP_SHARE, r->roundtrip_share, 0);
        write_int_field(&b, REC_PROMPT_TEXT_TRUNCATED, r->text_truncated, 0);
    }
    buf_cat(&b, "}");
    buf_key(&b, REC_ACCURACY, 0);
    buf_cat(&b, "{");
    NumberField accuracy[] = {{REC_TRAIN, r->train_acc}, {REC_DEV, r->dev_acc}, {REC_TEST, r->test_acc}};
    write_number_fields(&b, FIELDS(accuracy), 1);
    if (ok) write_number_field(&b, REC_TEST_TEXT, r->test_text_acc, 0);
    buf_cat(&b, "}");
    if (ok) {
        write_per_split(&b, REC_BALANCED_ACCURACY, r, offsetof(EvalResult, balanced_accuracy), 0);
        write_per_split(&b, REC_CLASS_ACCURACY, r, offsetof(EvalResult, class_accuracy), K);
        write_per_split(&b, REC_PREDICTION_SHARE, r, offsetof(EvalResult, prediction_share), K);
        write_bool_field(&b, REC_COLLAPSED, r->collapsed, 0);
        write_per_split(&b, REC_TASK_LOSS, r, offsetof(EvalResult, loss), 0);
        buf_key(&b, REC_OBJECTIVE, 0);
        buf_cat(&b, "{");
        buf_key(&b, REC_OBJ_SPLIT, 1);
        buf_json_string(&b, REC_DEV);
        buf_key(&b, REC_OBJ_FORM, 0);
        buf_json_string(&b, OBJECTIVES[p && p->objective == OBJECTIVE_CONVEX ? OBJECTIVE_CONVEX : OBJECTIVE_ADDITIVE]);
        NumberField objective[] = {{REC_OBJ_LAMBDA, p ? p->lambda : NAN}, {REC_OBJ_W_TASK, r->w_task},
                                   {REC_OBJ_W_INTERP, r->w_interp},       {REC_OBJ_TASK, r->obj_task},
                                   {REC_OBJ_INTERP, r->obj_interp},       {REC_OBJ_TOTAL, r->obj_total}};
        write_number_fields(&b, FIELDS(objective), 0);
        buf_cat(&b, "}");
    }
    NumberField prompt_scores[] = {{REC_DEV_REWARD, r->dev_reward}, {REC_LOG_PPL, r->log_ppl}, {REC_PPL, r->ppl},
                                   {REC_DICT_SHARE, r->dict_share}};
    write_number_fields(&b, FIELDS(prompt_scores), 0);
    if (ok) write_number_field(&b, REC_DISTINCT_SHARE, r->distinct_share, 0);
    buf_key(&b, REC_FAITHFULNESS, 0);
    buf_cat(&b, "{");
    NumberField faithfulness[] = {{REC_FAITH_ACC_CONTINUOUS, r->acc_continuous},
                                  {REC_FAITH_ACC_PROJECTED, r->acc_projected},
                                  {REC_FAITH_KL, r->kl_continuous_projected}};
    write_number_fields(&b, FIELDS(faithfulness), 1);
    buf_cat(&b, "}");
    write_int_field(&b, REC_STEPS, r->steps, 0);
    if (ok) {
        buf_key(&b, REC_STOP_REASON, 0);
        buf_json_string(&b, STOP_REASON_NAMES[r->stop_reason]);
    }
    write_int_field(&b, REC_BEST_STEP, r->best_step, 0);
    write_number_field(&b, REC_WALL_SECONDS, r->wall_seconds, 0);
    buf_key(&b, REC_HISTORY, 0);
    buf_cat(&b, "[");
    for (int i = 0; i < r->n_history; i++) {
        const HistoryEntry *h = &r->history[i];
        buf_cat(&b, i ? ",{" : "{");
        write_int_field(&b, REC_HIST_STEP, h->step, 1);
        NumberField entry[] = {{REC_HIST_LOSS, h->loss},         {REC_HIST_DEV_ACC, h->dev_acc},
                               {REC_HIST_DEV_TASK, h->dev_task}, {REC_HIST_LOG_PPL, h->log_ppl},
                               {REC_HIST_DEV_OBJECTIVE, h->dev_objective},
                               {REC_HIST_TRAIN_REWARD, h->train_reward}};
        write_number_fields(&b, FIELDS(entry), 0);
        buf_cat(&b, "}");
    }
    buf_cat(&b, "]");
    if (r->vocab_size > 0) write_int_field(&b, REC_VOCAB_SIZE, r->vocab_size, 0);
    buf_key(&b, REC_VERSIONS, 0);
    buf_cat(&b, "{");
    buf_key(&b, REC_VERSION_TUNE, 1);
    buf_json_string(&b, TUNE_VERSION);
    buf_key(&b, REC_VERSION_MODEL_SHA256, 0);
    if (model_sha256 && model_sha256[0]) buf_json_string(&b, model_sha256);
    else buf_cat(&b, "null");
    buf_cat(&b, "}");
    if (prov) write_provenance(&b, prov);
    buf_cat(&b, "}");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
