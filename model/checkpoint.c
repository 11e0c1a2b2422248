// model/checkpoint.c: Hugging Face GPT-2 checkpoints (config.json + model.safetensors).
//
// Loading mmaps model.safetensors read-only and points F32 tensors straight
// into the map, so every process on a node shares one copy in the page cache.
// F16/BF16 tensors (and F32 ones that are not 4-byte aligned) are converted
// into one owned allocation. The header is validated completely before any
// weight is used: a bad file gives a one-line error, never a crash and never
// a half-built model.
//
// Saving writes the same layout (F32, openai-community/gpt2 names and order)
// to temporaries that are fsynced and renamed into place.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkstemp, fchmod
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "model/bf16_internal.h"
#include "model/gpt2.h"

// safetensors is little-endian and F32 tensors are used in place, so the host
// must be too; 1.5B-parameter files are > 6 GB, so sizes need 64 bits.
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "model/checkpoint.c uses F32 safetensors data in place: little-endian hosts only"
#endif
_Static_assert(sizeof(size_t) >= 8, "checkpoints of the larger GPT-2s need a 64-bit size_t");
_Static_assert(sizeof(float) == 4, "safetensors F32 is IEEE binary32");

#define CONFIG_FILE "config.json"
#define WEIGHTS_FILE "model.safetensors"
#define NAME_PREFIX "transformer."      // distilgpt2 and GPT2LMHeadModel saves
#define MAX_CONFIG_BYTES (16u << 20)    // HF configs are a few KB
#define MAX_HEADER_BYTES 100000000ull   // the limit of the reference safetensors reader
#define MAX_JSON_INT 9007199254740992.0 // 2^53: integers a JSON double holds exactly

// Sane upper bounds for a GPT-2 config: far above any released model, low
// enough that every size computed from them fits comfortably in 64 bits.
#define MAX_LAYERS 1024
#define MAX_HEADS 1024
#define MAX_EMBD 65536
#define MAX_POSITIONS (1 << 20)
#define MAX_VOCAB (1 << 24)

// ----------------------------------------------------------------------------
// the canonical tensor list: names, shapes and where each lives in GPT2Weights

// One tensor of a block; its shape is given in units of C, e.g. {1, 3} = (C, 3C).
typedef struct {
    const char *name;   // after "h.{i}."
    size_t field;       // offset of its pointer in GPT2Block
    int ndim;
    int c_units[2];
} BlockTensor;

// GPT2Block field order, which is also the order of openai-community/gpt2.
static const BlockTensor BLOCK_TENSORS[GPT2_TENSORS_PER_BLOCK] = {
    {"ln_1.weight",        offsetof(GPT2Block, ln_1_w),      1, {1, 0}},
    {"ln_1.bias",          offsetof(GPT2Block, ln_1_b),      1, {1, 0}},
    {"attn.c_attn.weight", offsetof(GPT2Block, attn_w),      2, {1, 3}},
    {"attn.c_attn.bias",   offsetof(GPT2Block, attn_b),      1, {3, 0}},
    {"attn.c_proj.weight", offsetof(GPT2Block, attn_proj_w), 2, {1, 1}},
    {"attn.c_proj.bias",   offsetof(GPT2Block, attn_proj_b), 1, {1, 0}},
    {"ln_2.weight",        offsetof(GPT2Block, ln_2_w),      1, {1, 0}},
    {"ln_2.bias",          offsetof(GPT2Block, ln_2_b),      1, {1, 0}},
    {"mlp.c_fc.weight",    offsetof(GPT2Block, fc_w),        2, {1, 4}},
    {"mlp.c_fc.bias",      offsetof(GPT2Block, fc_b),        1, {4, 0}},
    {"mlp.c_proj.weight",  offsetof(GPT2Block, fc_proj_w),   2, {4, 1}},
    {"mlp.c_proj.bias",    offsetof(GPT2Block, fc_proj_b),   1, {1, 0}},
};

typedef struct {
    char name[64];      // canonical name, without "transformer."
    int ndim;
    size_t shape[2];
    size_t numel;
} TensorInfo;

// wte, wpe, 12 per block, ln_f weight and bias
static size_t num_tensors(const GPT2Config *c) {
    return 2 + (size_t)c->n_layer * GPT2_TENSORS_PER_BLOCK + 2;
}

static void tensor_info(const GPT2Config *c, size_t t, TensorInfo *ti) {
    size_t C = (size_t)c->n_embd;
    size_t last = num_tensors(c) - 2;
    if (t == 0) {
        snprintf(ti->name, sizeof ti->name, "wte.weight");
        ti->ndim = 2, ti->shape[0] = (size_t)c->vocab_size, ti->shape[1] = C;
    } else if (t == 1) {
        snprintf(ti->name, sizeof ti->name, "wpe.weight");
        ti->ndim = 2, ti->shape[0] = (size_t)c->n_positions, ti->shape[1] = C;
    } else if (t >= last) {
        snprintf(ti->name, sizeof ti->name, "ln_f.%s", t == last ? "weight" : "bias");
        ti->ndim = 1, ti->shape[0] = C, ti->shape[1] = 1;
    } else {
        size_t layer = (t - 2) / GPT2_TENSORS_PER_BLOCK;
        const BlockTensor *bt = &BLOCK_TENSORS[(t - 2) % GPT2_TENSORS_PER_BLOCK];
        snprintf(ti->name, sizeof ti->name, "h.%zu.%s", layer, bt->name);
        ti->ndim = bt->ndim;
        ti->shape[0] = (size_t)bt->c_units[0] * C;
        ti->shape[1] = bt->ndim == 2 ? (size_t)bt->c_units[1] * C : 1;
    }
    ti->numel = ti->shape[0] * ti->shape[1];
}

// Where tensor t's pointer lives; w->blocks must already be set.
static float **tensor_slot(GPT2Weights *w, const GPT2Config *c, size_t t) {
    size_t last = num_tensors(c) - 2;
    if (t == 0) return &w->wte;
    if (t == 1) return &w->wpe;
    if (t == last) return &w->ln_f_w;
    if (t == last + 1) return &w->ln_f_b;
    GPT2Block *b = &w->blocks[(t - 2) / GPT2_TENSORS_PER_BLOCK];
    return (float **)((char *)b + BLOCK_TENSORS[(t - 2) % GPT2_TENSORS_PER_BLOCK].field);
}

size_t gpt2_num_params(const GPT2Config *c) {
    size_t total = 0;
    TensorInfo ti;
    for (size_t t = 0; t < num_tensors(c); t++) {
        tensor_info(c, t, &ti);
        total += ti.numel;
    }
    return total;
}

void gpt2_point_weights(GPT2Weights *w, GPT2Block *blocks, float *params, const GPT2Config *c) {
    w->blocks = blocks;
    TensorInfo ti;
    for (size_t t = 0; t < num_tensors(c); t++) {
        tensor_info(c, t, &ti);
        *tensor_slot(w, c, t) = params;
        params += ti.numel;
    }
}

// ----------------------------------------------------------------------------
// small helpers

// "dir/name" into out; an error when it does not fit.
static int join_path(char *out, size_t cap, const char *dir, const char *name, Err *err) {
    if (!dir || !*dir) return err_fail(err, "%s: no checkpoint directory given", name);
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) return err_fail(err, "%s/%s: path too long", dir, name);
    return 0;
}

// Strings from a file go into one-line messages: control characters would break them.
static int printable(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

// NULL when item is an integer in [0, 2^53] (stored in *out), else what is wrong with it.
static const char *json_uint_problem(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return "is not a number";
    double v = item->valuedouble;
    if (!isfinite(v)) return "is not finite";
    if (v < 0) return "is negative";
    if (v != floor(v)) return "is not an integer";
    if (v > MAX_JSON_INT) return "is too large";
    *out = (uint64_t)v;
    return NULL;
}

// "[64, 200]" from a JSON array of numbers (already validated).
static const char *format_json_shape(const cJSON *shape, char *buf, size_t cap) {
    size_t used = (size_t)snprintf(buf, cap, "[");
    const cJSON *dim;
    int first = 1;
    cJSON_ArrayForEach(dim, shape) {
        if (used >= cap) break;
        used += (size_t)snprintf(buf + used, cap - used, "%s%.0f", first ? "" : ", ", dim->valuedouble);
        first = 0;
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

static const char *format_shape(const TensorInfo *ti, char *buf, size_t cap) {
    if (ti->ndim == 1) snprintf(buf, cap, "[%zu]", ti->shape[0]);
    else snprintf(buf, cap, "[%zu, %zu]", ti->shape[0], ti->shape[1]);
    return buf;
}

// ----------------------------------------------------------------------------
// config.json

static int check_config_int(const cJSON *root, const char *key, int max, int *out,
                            const char *path, Err *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!item) return err_fail(err, "%s: %s is missing", path, key);
    uint64_t v;
    const char *problem = json_uint_problem(item, &v);
    if (problem) return err_fail(err, "%s: %s %s", path, key, problem);
    if (v == 0 || v > (uint64_t)max)
        return err_fail(err, "%s: %s = %" PRIu64 " is out of range (1..%d)", path, key, v, max);
    *out = (int)v;
    return 0;
}

// The checks both loading and saving apply to a config; where names the source.
static int check_config(const GPT2Config *c, const char *where, Err *err) {
    const struct { const char *key; int value, max; } fields[] = {
        {"n_layer", c->n_layer, MAX_LAYERS},       {"n_head", c->n_head, MAX_HEADS},
        {"n_embd", c->n_embd, MAX_EMBD},           {"n_positions", c->n_positions, MAX_POSITIONS},
        {"vocab_size", c->vocab_size, MAX_VOCAB},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i].value < 1 || fields[i].value > fields[i].max)
            return err_fail(err, "%s: %s = %d is out of range (1..%d)", where, fields[i].key,
                             fields[i].value, fields[i].max);
    if (c->n_embd % c->n_head != 0)
        return err_fail(err, "%s: n_embd (%d) is not divisible by n_head (%d)", where, c->n_embd,
                         c->n_head);
    if (!(c->layer_norm_epsilon > 0.0f && c->layer_norm_epsilon < 1.0f))
        return err_fail(err, "%s: layer_norm_epsilon = %g is not in (0, 1)", where,
                         (double)c->layer_norm_epsilon);
    return 0;
}

// Reads a whole small file into a NUL-terminated buffer the caller frees.
static int read_small_file(const char *path, size_t max_bytes, char **out, size_t *len, Err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_fail(err, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? 2 * cap : 4096;
            char *grown = cap <= max_bytes + 1 ? realloc(buf, cap + 1) : NULL;
            if (!grown) {
                free(buf);
                fclose(f);
                return err_fail(err, "%s: %s", path,
                                 cap > max_bytes + 1 ? "file is too large" : "out of memory");
            }
            buf = grown;
        }
        size_t got = fread(buf + used, 1, cap - used, f);
        used += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return err_fail(err, "%s: read error", path);
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}

int gpt2_config_load(GPT2Config *c, const char *dir, Err *err) {
    char path[4096];
    if (join_path(path, sizeof path, dir, CONFIG_FILE, err)) return -1;
    char *text = NULL;
    size_t len = 0;
    if (read_small_file(path, MAX_CONFIG_BYTES, &text, &len, err)) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) return err_fail(err, "%s: not valid JSON", path);

    GPT2Config cfg = {0};
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        err_fail(err, "%s: not a JSON object", path);
        goto done;
    }
    // older GPT-2 configs name the context length n_ctx
    const char *positions_key =
        cJSON_GetObjectItemCaseSensitive(root, "n_positions") || !cJSON_GetObjectItemCaseSensitive(root, "n_ctx")
            ? "n_positions" : "n_ctx";
    if (check_config_int(root, "n_layer", MAX_LAYERS, &cfg.n_layer, path, err) ||
        check_config_int(root, "n_head", MAX_HEADS, &cfg.n_head, path, err) ||
        check_config_int(root, "n_embd", MAX_EMBD, &cfg.n_embd, path, err) ||
        check_config_int(root, positions_key, MAX_POSITIONS, &cfg.n_positions, path, err) ||
        check_config_int(root, "vocab_size", MAX_VOCAB, &cfg.vocab_size, path, err))
        goto done;
    cfg.layer_norm_epsilon = 1e-5f;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (eps) {
        if (!cJSON_IsNumber(eps)) {
            err_fail(err, "%s: layer_norm_epsilon is not a number", path);
            goto done;
        }
        cfg.layer_norm_epsilon = (float)eps->valuedouble;
    }
    if (check_config(&cfg, path, err)) goto done;
    *c = cfg;
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

// ----------------------------------------------------------------------------
// model.safetensors: the header

typedef enum { DT_F32, DT_F16, DT_BF16, DT_OTHER } DType;

// Every dtype the format defines, so that offsets of tensors we ignore can
// still be checked; only the first three can be loaded.
static const struct { const char *name; DType dtype; size_t bytes; } DTYPES[] = {
    {"F32", DT_F32, 4},     {"F16", DT_F16, 2},     {"BF16", DT_BF16, 2},
    {"F64", DT_OTHER, 8},   {"I64", DT_OTHER, 8},   {"U64", DT_OTHER, 8},
    {"I32", DT_OTHER, 4},   {"U32", DT_OTHER, 4},   {"I16", DT_OTHER, 2},
    {"U16", DT_OTHER, 2},   {"I8", DT_OTHER, 1},    {"U8", DT_OTHER, 1},
    {"BOOL", DT_OTHER, 1},  {"F8_E4M3", DT_OTHER, 1}, {"F8_E5M2", DT_OTHER, 1},
};

// What a header entry is to us.
enum { ROLE_WEIGHT, ROLE_BUFFER, ROLE_LM_HEAD };

typedef struct {
    const char *name;      // key in the header (owned by the cJSON tree)
    const char *dtype_name;
    DType dtype;
    size_t elem_bytes;
    const cJSON *shape;    // validated: array of integers >= 0
    uint64_t numel;
    uint64_t begin, end;   // byte offsets into the data section
    int role;
    size_t tensor;         // canonical index when role == ROLE_WEIGHT
} Entry;

typedef struct {
    const char *path;             // of model.safetensors, for messages
    cJSON *json;
    Entry *entries;
    size_t n_entries;
    const unsigned char *data;    // the data section inside the map
    uint64_t data_bytes;
} Header;

static void header_free(Header *h) {
    cJSON_Delete(h->json);
    free(h->entries);
    h->json = NULL;
    h->entries = NULL;
}

static int map_file(const char *path, void **map, size_t *size, Err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_fail(err, "%s: not a regular file", path);
    }
    // checked before mmap, which refuses an empty file
    if (st.st_size < 8) {
        close(fd);
        return err_fail(err, "%s: file is %lld bytes, too short for the 8-byte header length",
                         path, (long long)st.st_size);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd); // the mapping keeps the file open
    if (p == MAP_FAILED) return err_fail(err, "%s: mmap failed: %s", path, strerror(e));
    *map = p;
    *size = (size_t)st.st_size;
    return 0;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

// The length prefix and the JSON itself: parses, and is an object.
static int parse_header_json(Header *h, const unsigned char *file, size_t file_bytes, Err *err) {
    uint64_t n = read_le64(file);
    if (n == 0) return err_fail(err, "%s: header length is 0", h->path);
    if (n > MAX_HEADER_BYTES)
        return err_fail(err, "%s: header length %" PRIu64 " is absurdly large (limit %llu bytes)",
                         h->path, n, MAX_HEADER_BYTES);
    if (n > file_bytes - 8)
        return err_fail(err, "%s: header length %" PRIu64 " exceeds the %zu bytes after the length",
                         h->path, n, file_bytes - 8);
    h->data = file + 8 + n;
    h->data_bytes = file_bytes - 8 - n;

    // A NUL-terminated copy: cJSON never reads past it, whatever the bytes,
    // and the header is small next to the tensors (15 KB for GPT-2 124M).
    char *text = malloc((size_t)n + 1);
    if (!text) return err_fail(err, "%s: out of memory reading a %" PRIu64 "-byte header", h->path, n);
    memcpy(text, file + 8, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    h->json = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    if (!h->json) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        free(text);
        return err_fail(err, "%s: header is not valid JSON (error near byte %zu)", h->path, at);
    }
    size_t parsed = (size_t)(end - text);
    free(text);
    // writers pad the header with spaces so that the data is aligned
    for (size_t i = parsed; i < n; i++) {
        unsigned char ch = file[8 + i];
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            return err_fail(err, "%s: header has bytes after its JSON (at byte %zu)", h->path, i);
    }
    if (!cJSON_IsObject(h->json)) return err_fail(err, "%s: header is not a JSON object", h->path);
    return 0;
}

static int check_metadata(const Header *h, const cJSON *meta, Err *err) {
    if (!cJSON_IsObject(meta)) return err_fail(err, "%s: __metadata__ is not a JSON object", h->path);
    const cJSON *item;
    cJSON_ArrayForEach(item, meta) if (!cJSON_IsString(item))
        return err_fail(err, "%s: __metadata__ value \"%s\" is not a string", h->path,
                         printable(item->string) ? item->string : "(unprintable)");
    return 0;
}

static int parse_dtype(const Header *h, Entry *e, const cJSON *obj, Err *err) {
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(obj, "dtype");
    if (!dtype) return err_fail(err, "%s: tensor \"%s\" has no dtype", h->path, e->name);
    if (!cJSON_IsString(dtype))
        return err_fail(err, "%s: dtype of tensor \"%s\" is not a string", h->path, e->name);
    for (size_t i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++)
        if (strcmp(dtype->valuestring, DTYPES[i].name) == 0) {
            e->dtype_name = DTYPES[i].name;
            e->dtype = DTYPES[i].dtype;
            e->elem_bytes = DTYPES[i].bytes;
            return 0;
        }
    return err_fail(err, "%s: tensor \"%s\" has unknown dtype \"%.32s\"", h->path, e->name,
                     printable(dtype->valuestring) ? dtype->valuestring : "(unprintable)");
}

static int parse_shape(const Header *h, Entry *e, const cJSON *obj, Err *err) {
    e->shape = cJSON_GetObjectItemCaseSensitive(obj, "shape");
    if (!e->shape) return err_fail(err, "%s: tensor \"%s\" has no shape", h->path, e->name);
    if (!cJSON_IsArray(e->shape))
        return err_fail(err, "%s: shape of tensor \"%s\" is not an array", h->path, e->name);
    e->numel = 1; // a scalar (shape []) has one element
    const cJSON *dim;
    int i = 0;
    cJSON_ArrayForEach(dim, e->shape) {
        uint64_t d;
        const char *problem = json_uint_problem(dim, &d);
        if (problem)
            return err_fail(err, "%s: shape[%d] of tensor \"%s\" %s", h->path, i, e->name, problem);
        if (d != 0 && e->numel > UINT64_MAX / d)
            return err_fail(err, "%s: shape of tensor \"%s\" is too large", h->path, e->name);
        e->numel *= d;
        i++;
    }
    return 0;
}

// data_offsets: inside the data section and exactly the size shape x dtype needs.
static int parse_offsets(const Header *h, Entry *e, const cJSON *obj, Err *err) {
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(obj, "data_offsets");
    if (!offsets) return err_fail(err, "%s: tensor \"%s\" has no data_offsets", h->path, e->name);
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2)
        return err_fail(err, "%s: data_offsets of tensor \"%s\" is not an array [begin, end]",
                         h->path, e->name);
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        const char *problem = json_uint_problem(cJSON_GetArrayItem(offsets, i), &v[i]);
        if (problem)
            return err_fail(err, "%s: data_offsets[%d] of tensor \"%s\" %s", h->path, i, e->name, problem);
    }
    e->begin = v[0], e->end = v[1];
    if (e->begin > e->end)
        return err_fail(err, "%s: data_offsets of tensor \"%s\" are reversed (begin %" PRIu64
                         " > end %" PRIu64 ")", h->path, e->name, e->begin, e->end);
    if (e->end > h->data_bytes)
        return err_fail(err, "%s: tensor \"%s\" ends at byte %" PRIu64 ", beyond the %" PRIu64
                         "-byte data section", h->path, e->name, e->end, h->data_bytes);
    char shape[128];
    if (e->numel > UINT64_MAX / e->elem_bytes || e->numel * e->elem_bytes != e->end - e->begin)
        return err_fail(err, "%s: tensor \"%s\" has %" PRIu64 " bytes of data, but shape %s of %s"
                         " needs %" PRIu64 " x %zu", h->path, e->name, e->end - e->begin,
                         format_json_shape(e->shape, shape, sizeof shape), e->dtype_name, e->numel,
                         e->elem_bytes);
    return 0;
}

static int parse_entry(const Header *h, Entry *e, const cJSON *obj, Err *err) {
    e->name = obj->string;
    if (!printable(e->name))
        return err_fail(err, "%s: a tensor name contains control characters", h->path);
    if (!cJSON_IsObject(obj))
        return err_fail(err, "%s: tensor \"%s\" is not a JSON object", h->path, e->name);
    if (parse_dtype(h, e, obj, err) || parse_shape(h, e, obj, err) || parse_offsets(h, e, obj, err))
        return -1;
    return 0;
}

static int parse_entries(Header *h, Err *err) {
    size_t n = (size_t)cJSON_GetArraySize(h->json);
    h->entries = calloc(n + 1, sizeof *h->entries);
    if (!h->entries) return err_fail(err, "%s: out of memory", h->path);
    const cJSON *item;
    cJSON_ArrayForEach(item, h->json) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (check_metadata(h, item, err)) return -1;
            continue;
        }
        if (parse_entry(h, &h->entries[h->n_entries], item, err)) return -1;
        h->n_entries++;
    }
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const Entry *x = *(const Entry *const *)a, *y = *(const Entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

// Sorted by begin, non-empty tensors are disjoint iff each starts at or after
// the end of the one before.
static int check_overlaps(const Header *h, Err *err) {
    const Entry **sorted = malloc((h->n_entries + 1) * sizeof *sorted);
    if (!sorted) return err_fail(err, "%s: out of memory", h->path);
    for (size_t i = 0; i < h->n_entries; i++) sorted[i] = &h->entries[i];
    qsort(sorted, h->n_entries, sizeof *sorted, by_begin);
    const Entry *prev = NULL;
    int rc = 0;
    for (size_t i = 0; i < h->n_entries && rc == 0; i++) {
        const Entry *e = sorted[i];
        if (e->begin == e->end) continue;
        if (prev && e->begin < prev->end)
            rc = err_fail(err, "%s: tensors \"%s\" [%" PRIu64 ", %" PRIu64 ") and \"%s\" [%" PRIu64
                           ", %" PRIu64 ") overlap in the data section", h->path, prev->name,
                           prev->begin, prev->end, e->name, e->begin, e->end);
        prev = e;
    }
    free(sorted);
    return rc;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// JSON allows a key twice; safetensors does not.
static int check_repeated_keys(const Header *h, Err *err) {
    const char **names = malloc((h->n_entries + 1) * sizeof *names);
    if (!names) return err_fail(err, "%s: out of memory", h->path);
    for (size_t i = 0; i < h->n_entries; i++) names[i] = h->entries[i].name;
    qsort(names, h->n_entries, sizeof *names, by_name);
    int rc = 0;
    for (size_t i = 1; i < h->n_entries && rc == 0; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            rc = err_fail(err, "%s: duplicate tensor name \"%s\" in the header", h->path, names[i]);
    free(names);
    return rc;
}

// Layer number in "h.{i}." without leading zeros; the rest of the name in *rest.
static int parse_layer(const char *s, long *layer, const char **rest) {
    if (s[0] < '0' || s[0] > '9' || (s[0] == '0' && s[1] >= '0' && s[1] <= '9')) return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > MAX_LAYERS) return -1;
    }
    if (*s != '.') return -1;
    *layer = v;
    *rest = s + 1;
    return 0;
}

// What a header name is: one of our tensors, an ignored buffer, the LM head; -1 otherwise.
static int classify_name(const char *name, const GPT2Config *c, size_t *tensor) {
    if (strcmp(name, "lm_head.weight") == 0) return ROLE_LM_HEAD;
    if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) == 0) name += strlen(NAME_PREFIX);
    size_t last = num_tensors(c) - 2;
    if (strcmp(name, "wte.weight") == 0) return *tensor = 0, ROLE_WEIGHT;
    if (strcmp(name, "wpe.weight") == 0) return *tensor = 1, ROLE_WEIGHT;
    if (strcmp(name, "ln_f.weight") == 0) return *tensor = last, ROLE_WEIGHT;
    if (strcmp(name, "ln_f.bias") == 0) return *tensor = last + 1, ROLE_WEIGHT;
    long layer;
    const char *rest;
    if (strncmp(name, "h.", 2) != 0 || parse_layer(name + 2, &layer, &rest) || layer >= c->n_layer)
        return -1;
    // the causal mask buffers of older transformers versions; we build our own
    if (strcmp(rest, "attn.bias") == 0 || strcmp(rest, "attn.masked_bias") == 0) return ROLE_BUFFER;
    for (size_t k = 0; k < GPT2_TENSORS_PER_BLOCK; k++)
        if (strcmp(rest, BLOCK_TENSORS[k].name) == 0)
            return *tensor = 2 + (size_t)layer * GPT2_TENSORS_PER_BLOCK + k, ROLE_WEIGHT;
    return -1;
}

static int shape_matches(const cJSON *shape, const size_t *dims, int ndim) {
    if (cJSON_GetArraySize(shape) != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (cJSON_GetArrayItem(shape, i)->valuedouble != (double)dims[i]) return 0;
    return 1;
}

static int check_loadable_dtype(const Header *h, const Entry *e, Err *err) {
    if (e->dtype == DT_OTHER)
        return err_fail(err, "%s: tensor \"%s\" has dtype %s; only F32, F16 and BF16 are supported",
                         h->path, e->name, e->dtype_name);
    return 0;
}

// Gives every entry its role, checks names, shapes and dtypes against the
// config, and fills by_tensor[t] (the entry of canonical tensor t) and *lm_head.
static int match_entries(Header *h, const GPT2Config *c, const Entry **by_tensor,
                         const Entry **lm_head, Err *err) {
    if (check_repeated_keys(h, err)) return -1;
    char got[128], want[128];
    for (size_t i = 0; i < h->n_entries; i++) {
        Entry *e = &h->entries[i];
        e->role = classify_name(e->name, c, &e->tensor);
        if (e->role < 0)
            return err_fail(err, "%s: unexpected tensor \"%s\" (not part of a GPT-2 with n_layer %d)",
                             h->path, e->name, c->n_layer);
        if (e->role == ROLE_BUFFER) continue;
        if (e->role == ROLE_LM_HEAD) {
            size_t vc[2] = {(size_t)c->vocab_size, (size_t)c->n_embd};
            if (!shape_matches(e->shape, vc, 2))
                return err_fail(err, "%s: lm_head.weight has shape %s, expected [%zu, %zu] (tied to "
                                 "wte); untied LM heads are not supported", h->path,
                                 format_json_shape(e->shape, got, sizeof got), vc[0], vc[1]);
            *lm_head = e;
        } else {
            TensorInfo ti;
            tensor_info(c, e->tensor, &ti);
            if (by_tensor[e->tensor])
                return err_fail(err, "%s: duplicate tensors \"%s\" and \"%s\" are both %s", h->path,
                                 by_tensor[e->tensor]->name, e->name, ti.name);
            if (!shape_matches(e->shape, ti.shape, ti.ndim))
                return err_fail(err, "%s: %s has shape %s, expected %s", h->path, e->name,
                                 format_json_shape(e->shape, got, sizeof got),
                                 format_shape(&ti, want, sizeof want));
            by_tensor[e->tensor] = e;
        }
        if (check_loadable_dtype(h, e, err)) return -1;
    }
    size_t missing = 0, first = 0;
    for (size_t t = 0; t < num_tensors(c); t++)
        if (!by_tensor[t] && missing++ == 0) first = t;
    if (missing) {
        TensorInfo ti;
        tensor_info(c, first, &ti);
        return err_fail(err, "%s: missing tensor %s (%zu of %zu tensors missing)", h->path, ti.name,
                         missing, num_tensors(c));
    }
    return 0;
}

// ----------------------------------------------------------------------------
// model.safetensors: the data

// IEEE half to single, exactly (subnormals, infinities and NaN payloads included).
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits;
    if (exponent == 0x1f) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else if (exponent != 0) {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        bits = sign;
    } else { // subnormal half: normal single after shifting the leading 1 into place
        uint32_t shift = 0;
        while (!(mantissa & 0x400u)) mantissa <<= 1, shift++;
        bits = sign | ((127 - 15 + 1 - shift) << 23) | ((mantissa & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// bfloat16 is the top half of a single.
static float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Element i of a tensor as a float, whatever its dtype and alignment.
static float entry_element(const Header *h, const Entry *e, size_t i) {
    const unsigned char *p = h->data + e->begin + i * e->elem_bytes;
    if (e->dtype == DT_F32) {
        float f;
        memcpy(&f, p, sizeof f);
        return f;
    }
    uint16_t half = (uint16_t)(p[0] | (p[1] << 8));
    return e->dtype == DT_F16 ? f16_to_f32(half) : bf16_to_f32(half);
}

static int usable_in_place(const Header *h, const Entry *e) {
    return e->dtype == DT_F32 && (uintptr_t)(h->data + e->begin) % _Alignof(float) == 0;
}

// Points every weight into the map, or into m->owned after conversion.
static int place_tensors(GPT2Model *m, const Header *h, const Entry **by_tensor, Err *err) {
    const GPT2Config *c = &m->config;
    size_t n = num_tensors(c);
    m->blocks_storage = calloc((size_t)c->n_layer, sizeof *m->blocks_storage);
    if (!m->blocks_storage) return err_fail(err, "%s: out of memory", h->path);
    m->w.blocks = m->blocks_storage;

    size_t owned = 0;
    for (size_t t = 0; t < n; t++)
        if (!usable_in_place(h, by_tensor[t])) owned += by_tensor[t]->numel;
    if (owned) {
        m->owned = malloc(owned * sizeof(float));
        if (!m->owned)
            return err_fail(err, "%s: out of memory converting %zu floats", h->path, owned);
        m->owned_floats = owned;
    }
    float *next = m->owned;
    for (size_t t = 0; t < n; t++) {
        const Entry *e = by_tensor[t];
        float **slot = tensor_slot(&m->w, c, t);
        if (usable_in_place(h, e)) {
            // the map is read-only: GPT2Weights has no const, but loaded weights must not be written
            *slot = (float *)(uintptr_t)(h->data + e->begin);
            continue;
        }
        for (size_t i = 0; i < e->numel; i++) next[i] = entry_element(h, e, i);
        *slot = next;
        next += e->numel;
    }
    return 0;
}

// The LM head is tied to wte: a stored copy is accepted only if it is wte.
static int check_lm_head(const GPT2Model *m, const Header *h, const Entry *e, Err *err) {
    const float *wte = m->w.wte;
    size_t n = (size_t)e->numel, differs_at = 0;
    if (e->dtype == DT_F32 && memcmp(h->data + e->begin, wte, n * sizeof(float)) == 0) return 0;
    for (; differs_at < n; differs_at++) { // bit for bit, so -0.0 != 0.0 and NaN == same NaN
        float f = entry_element(h, e, differs_at);
        if (memcmp(&f, &wte[differs_at], sizeof f) != 0) break;
    }
    if (differs_at < n)
        return err_fail(err, "%s: lm_head.weight differs from wte.weight (first at element %zu); "
                         "untied LM heads are not supported", h->path, differs_at);
    return 0;
}

int gpt2_load(GPT2Model *m, const char *dir, Err *err) {
    memset(m, 0, sizeof *m); // gpt2_free is safe from here on, whatever happens
    char path[4096];
    if (join_path(path, sizeof path, dir, WEIGHTS_FILE, err)) return -1;
    if (gpt2_config_load(&m->config, dir, err)) return -1;

    Header h = {.path = path};
    const Entry **by_tensor = calloc(num_tensors(&m->config), sizeof *by_tensor);
    const Entry *lm_head = NULL;
    if (!by_tensor) {
        err_fail(err, "%s: out of memory", path);
        goto fail;
    }
    if (map_file(path, &m->map, &m->map_size, err) ||
        parse_header_json(&h, m->map, m->map_size, err) ||
        parse_entries(&h, err) ||
        match_entries(&h, &m->config, by_tensor, &lm_head, err) ||
        check_overlaps(&h, err) ||
        place_tensors(m, &h, by_tensor, err) ||
        (lm_head && check_lm_head(m, &h, lm_head, err)))
        goto fail;
    free(by_tensor);
    header_free(&h);
    return 0;
fail:
    free(by_tensor);
    header_free(&h);
    gpt2_free(m);
    return -1;
}

void gpt2_free(GPT2Model *m) {
    if (!m) return;
    if (m->map) munmap(m->map, m->map_size);
    gpt2_bf16_free(m->bf16);
    free(m->owned);
    free(m->blocks_storage);
    memset(m, 0, sizeof *m);
}

// ----------------------------------------------------------------------------
// saving

// A growable string for the two headers.
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} Text;

__attribute__((format(printf, 2, 3))) static void text_printf(Text *t, const char *fmt, ...) {
    if (t->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)n) cap *= 2;
        char *grown = realloc(t->s, cap);
        if (!grown) {
            t->oom = 1;
            return;
        }
        t->s = grown, t->cap = cap;
    }
}

// The shortest decimal that reads back as the same float ("1e-05", not 9.99999974737875e-06).
static void shortest_float(float f, char *buf, size_t cap) {
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, cap, "%.*g", digits, (double)f);
        if (strtof(buf, NULL) == f) return;
    }
}

static void build_config_json(Text *t, const GPT2Config *c) {
    char eps[32];
    shortest_float(c->layer_norm_epsilon, eps, sizeof eps);
    // keys sorted, as transformers writes them
    text_printf(t,
                "{\n"
                "  \"activation_function\": \"gelu_new\",\n"
                "  \"architectures\": [\n"
                "    \"GPT2LMHeadModel\"\n"
                "  ],\n"
                "  \"bos_token_id\": %d,\n"
                "  \"eos_token_id\": %d,\n"
                "  \"layer_norm_epsilon\": %s,\n"
                "  \"model_type\": \"gpt2\",\n"
                "  \"n_ctx\": %d,\n"
                "  \"n_embd\": %d,\n"
                "  \"n_head\": %d,\n"
                "  \"n_layer\": %d,\n"
                "  \"n_positions\": %d,\n"
                "  \"vocab_size\": %d\n"
                "}\n",
                GPT2_EOT, GPT2_EOT, eps, c->n_positions, c->n_embd, c->n_head, c->n_layer,
                c->n_positions, c->vocab_size);
}

// The safetensors header, padded with spaces so that the data (at 8 + its
// length) starts 8-byte aligned.
static void build_safetensors_header(Text *t, const GPT2Config *c) {
    text_printf(t, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t offset = 0;
    TensorInfo ti;
    for (size_t i = 0; i < num_tensors(c); i++) {
        tensor_info(c, i, &ti);
        uint64_t bytes = (uint64_t)ti.numel * sizeof(float);
        text_printf(t, ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu", ti.name, ti.shape[0]);
        if (ti.ndim == 2) text_printf(t, ",%zu", ti.shape[1]);
        text_printf(t, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset, offset + bytes);
        offset += bytes;
    }
    text_printf(t, "}");
    while (!t->oom && t->len % 8 != 0) text_printf(t, " ");
}

static int write_config(TempFile *f, const GPT2Config *c, const char *dir, Err *err) {
    Text text = {0};
    build_config_json(&text, c);
    int rc;
    if (text.oom) rc = err_fail(err, "%s/%s: out of memory", dir, CONFIG_FILE);
    else if (temp_open(f, dir, CONFIG_FILE, err) || temp_write(f, text.s, text.len, err)) rc = -1;
    else rc = temp_close(f, err);
    free(text.s);
    return rc;
}

static int write_safetensors(TempFile *f, const GPT2Config *c, const GPT2Weights *w, const char *dir,
                             Err *err) {
    Text header = {0};
    build_safetensors_header(&header, c);
    if (header.oom) {
        free(header.s);
        return err_fail(err, "%s/%s: out of memory", dir, WEIGHTS_FILE);
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
    int rc = temp_open(f, dir, WEIGHTS_FILE, err) || temp_write(f, len, sizeof len, err) ||
             temp_write(f, header.s, header.len, err) ? -1 : 0;
    free(header.s);
    GPT2Weights view = *w; // tensor_slot wants a mutable struct; only read here
    TensorInfo ti;
    for (size_t t = 0; rc == 0 && t < num_tensors(c); t++) {
        tensor_info(c, t, &ti);
        rc = temp_write(f, *tensor_slot(&view, c, t), ti.numel * sizeof(float), err);
    }
    if (rc == 0) rc = temp_close(f, err);
    return rc;
}

int gpt2_save(const GPT2Config *c, const GPT2Weights *w, const char *dir, Err *err) {
    if (!dir || !*dir) return err_fail(err, "gpt2_save: no checkpoint directory given");
    char where[4200];
    snprintf(where, sizeof where, "gpt2_save %s", dir);
    if (check_config(c, where, err)) return -1;
    if (!w->blocks) return err_fail(err, "%s: weights have no blocks", where);
    GPT2Weights view = *w;
    TensorInfo ti;
    for (size_t t = 0; t < num_tensors(c); t++)
        if (!*tensor_slot(&view, c, t)) {
            tensor_info(c, t, &ti);
            return err_fail(err, "%s: tensor %s is NULL", where, ti.name);
        }
    if (util_make_dirs(dir, err)) return -1;

    // Both files are complete on disk before either is renamed. The weights
    // go first: a crash between the renames leaves a new model.safetensors
    // with an old config.json, which gpt2_load rejects on shapes if they differ.
    TempFile config = {.fd = -1}, weights = {.fd = -1};
    if (write_config(&config, c, dir, err) || write_safetensors(&weights, c, w, dir, err) ||
        temp_publish(&weights, err) || temp_publish(&config, err) || util_sync_dir(dir, err)) {
        temp_discard(&config);
        temp_discard(&weights);
        return -1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// the random-init marker (gpt2.h)

int gpt2_write_init_marker(const char *dir, uint64_t seed, double std, Err *err) {
    char path[4200], sha[65];
    snprintf(path, sizeof path, "%s/%s", dir, WEIGHTS_FILE);
    if (gpt2_file_sha256(path, sha, err)) return -1;
    char text[512];
    int n = snprintf(text, sizeof text, "{\"init\": \"random\", \"seed\": %" PRIu64 ", \"std\": %.9g, \"weights_sha256\": \"%s\"}\n",
                     seed, std, sha);
    snprintf(path, sizeof path, "%s/%s", dir, GPT2_INIT_MARKER);
    return util_write_file_atomic(path, text, (size_t)n, err);
}

int gpt2_random_init(const char *dir, const char weights_sha256[65]) {
    char path[4200], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, GPT2_INIT_MARKER);
    Err ignored;
    if (!weights_sha256 || !weights_sha256[0] || access(path, F_OK) != 0 || util_read_file(path, &text, &len, &ignored))
        return 0;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    const char *init = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "init"));
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "weights_sha256"));
    int random = init && sha && strcmp(init, "random") == 0 && strcmp(sha, weights_sha256) == 0;
    cJSON_Delete(j);
    return random;
}
