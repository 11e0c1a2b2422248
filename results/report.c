// results/report.c: a sweep's records -> what a paper needs: points.csv (one row per
// point), frontier.csv (one row per configuration: statistics over its runs (splits x seeds)
// and the frontier),
// frontier.svg (the plot), frontier.json (provenance, reference point, hypervolumes,
// failed points) and frontier.tex (a booktabs table per task, issue 15). The records are JSON
// text (cJSON); the numbers go through frontier.c.
// Every column is documented in README.md ("The Pareto frontier").
//
// Selection is on dev (issue 11): the frontier and the best seed are chosen from dev
// accuracy, log-PPL and the run's dev objective, never from test; test is what the chosen
// configurations report. A frontier decided on test means is kept beside it (the _test
// columns, test_chosen) so that a reader can see what choosing on test would have changed.
//
// A configuration (issue 13) is every key of the point (keys.c: nested ones as dotted paths)
// but the replicate keys (by default seed and split); its runs, one per combination of the
// replicate keys' values, are what its statistics are over. Manual prompts (method "manual")
// are configurations like any other in the tables and frontiers, and baselines on the plot.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results/results_internal.h"
#include "util/record.h"

const char *const RESULTS_FILE_NAMES[RESULTS_N_FILES] = {"points.csv", "frontier.csv", "frontier.svg",
                                                         "frontier.json", "frontier.tex"};

/* The reference log-PPL is ln V: a prompt no likelier than uniform over the vocabulary. V is
 * the records' vocab_size (tune writes the task model's). Records without one (those of tune 1,
 * and failed runs that never loaded the model) leave it unknown: when none has one, V is
 * GPT-2's, since every checkpoint here uses the GPT-2 tokenizer. The model directory is never
 * read, so the report works on a journal whose model has gone. */
#define DEFAULT_VOCAB 50257

/* Point keys the report reads beyond util/record.h's (issue 13). */

/* The keys of the point that vary between points of a task and method (keys.c), beyond the
 * fixed columns task, method, λ and prompt length: what tells configurations, and runs of
 * one, apart. A row's key[k] is its value of list.path[k]. */
typedef struct {
    ResultsKeys list;
    unsigned char *replicate;        // per key: 1 a replicate key, 0 a configuration key
    unsigned char *split;            // per key: names the split (split, data.*): n_splits counts its values
    int seed;                        // the index of seed, -1 when it does not vary
    int seed_replicate;              // whether seed is a replicate key (varying or not)
} Keys;

/* Which of the varying keys a table shows: the configuration keys (frontier.csv, a frontier
 * point's "keys"), the replicate keys (a replicate's), or all but seed, which has a column of
 * its own (points.csv, a failed point's). */
enum { KEYS_CONFIG, KEYS_REPLICATE, KEYS_POINT };

static int key_shown(const Keys *K, int k, int which) {
    return which == KEYS_POINT ? k != K->seed : K->replicate[k] == (which == KEYS_REPLICATE);
}

/* The metrics with seed statistics in frontier.csv, in its column order. */
enum { M_ACC, M_ACC_DEV, M_ACC_TEXT, M_BAL, M_BAL_DEV, M_BAL_TRAIN, M_LOGPPL, M_PPL, M_DICT, M_DISTINCT, M_GAP,
       M_KL, M_OBJ, N_METRICS };
static const char *const METRICS[N_METRICS] = {
    "acc_test", "acc_dev", "acc_test_text", "bal_acc_test", "bal_acc_dev",    "bal_acc_train", "log_ppl",
    "ppl",      "dict_share", "distinct_share", "faith_gap", "faith_kl", "obj_total"};

/* The splits of the per-split arrays, in points.csv's column order. */
enum { SPLIT_TEST, SPLIT_DEV, SPLIT_TRAIN, N_SPLITS };
static const char *const SPLITS[N_SPLITS] = {REC_TEST, REC_DEV, REC_TRAIN};

enum { ST_OK, ST_FAILED, ST_PENDING };
static const char *const STATUS[] = {REC_STATUS_OK, REC_STATUS_FAILED, "pending"};   // points.csv's words

typedef struct {
    const ResultsRecordRef *ref;
    int index;                       // journal order
    cJSON *rec, *pt_tree;            // owned: the record, the point when parsed apart
    const cJSON *pt;                 // the point (in rec or pt_tree)
    const char *task, *method, *error, *prompt, *tune_version;
    double lambda, seed;
    int length_key;                  // the point's prompt_length; -1 without one (manual)
    int length;                      // shown: the point's, or the record's prompt token count
    int status, n_classes;
    double m[N_METRICS];
    double acc_train, acc_cont, acc_proj, wall, vocab;
    double steps, best_step;
    double majority;                 // max of prediction_share.test
    double obj_task, obj_interp;     // the objective's parts (obj_total is m[M_OBJ])
    double obj_rank;                 // obj_total when measured on dev: what ranks the seeds (NaN: not)
    double roundtrip_share;
    int collapsed, roundtrip;        // 1, 0, or -1 when the record does not say (before tune 2)
    const cJSON *ids;
    const cJSON *class_acc[N_SPLITS];   // per-class recall, class order (NULL: absent)
    ResultsLeaves leaves;            // the point's keys
    const Keys *keys;                // the report's varying keys
    const ResultsLeaf **key;         // per varying key: this point's value (NULL: absent)
    // what reproduces it (issue 15; NULL in records from before): the model's digest, its shape
    // and init, the splits' files by contents, where it ran; the point's precision and train file
    const char *model_sha, *precision, *train_path;
    const cJSON *model, *data_files, *run;
} Row;

typedef struct {
    const Row *key;                  // a row of it, for the key fields
    int r0, r1;                      // its rows in the sorted row list
    int n_ok, n_failed, n_pending;   // runs
    int n_splits, n_seeds;           // distinct splits, seeds among the ok runs
    int length;
    ResultsStats st[N_METRICS];
    int on_front, on_front_all;      // chosen on dev means: the frontier reported
    int overlap, overlap_all;        // 1, 0, or -1 unknown (one seed)
    int on_front_test, on_front_all_test;   // decided on test means: for comparison only
    int n_collapsed, n_roundtrip;    // ok seeds whose record says so; -1 when none says (before tune 2)
    const Row *best;                 // the run shown as the best prompt (chosen without test)
    int task, method;                // indexes into the task and method lists
    const char *baseline;            // a manual prompt's text ("": the empty prompt); NULL: tuned
    int identical;                   // 2+ ok runs, all with the same accuracies, log-PPL and prompt
    int refined;                     // the round of λ refinement that added its runs (0: the grid's)
} Config;

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* A boolean field as 1 / 0, -1 when absent or not a boolean. */
static int flag_of(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) != 0 : -1;
}

/* The largest finite number of an array, NaN when there is none. */
static double max_of(const cJSON *a) {
    double m = NAN;
    for (const cJSON *v = cJSON_IsArray(a) ? a->child : NULL; v; v = v->next)
        if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && !(v->valuedouble <= m)) m = v->valuedouble;
    return m;
}

// ----------------------------------------------------------------------------
// records -> rows

static void parse_row(Row *r, const ResultsRecordRef *ref, int index) {
    memset(r, 0, sizeof *r);
    r->ref = ref;
    r->index = index;
    for (int k = 0; k < N_METRICS; k++) r->m[k] = NAN;
    r->acc_train = r->acc_cont = r->acc_proj = r->wall = r->vocab = NAN;
    r->steps = r->best_step = r->majority = r->obj_task = r->obj_interp = r->obj_rank = r->roundtrip_share = NAN;
    r->collapsed = r->roundtrip = -1;
    r->status = ST_PENDING;
    if (ref->record) {
        r->rec = cJSON_Parse(ref->record);
        r->status = ST_FAILED;
        if (!r->rec) r->error = "the record is not valid JSON";
    }
    r->pt = cJSON_GetObjectItemCaseSensitive(r->rec, REC_POINT);
    if (!cJSON_IsObject(r->pt) && ref->point_json) r->pt = r->pt_tree = cJSON_Parse(ref->point_json);
    r->task = str(r->pt, REC_POINT_TASK);
    r->method = str(r->pt, REC_POINT_METHOD);
    r->lambda = num(r->pt, REC_POINT_LAMBDA);
    r->seed = num(r->pt, REC_POINT_SEED);
    double L = num(r->pt, REC_POINT_PROMPT_LENGTH);
    r->length_key = r->length = isfinite(L) && L >= 0 && L < 1e9 ? (int)L : -1;
    r->n_classes = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->pt, REC_POINT_VERBALIZERS));
    r->precision = str(r->pt, REC_POINT_PRECISION);
    r->train_path = str(cJSON_GetObjectItemCaseSensitive(r->pt, REC_POINT_DATA), REC_TRAIN);
    if (!r->rec) return;

    const cJSON *rec = r->rec;
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(rec, REC_PROMPT);
    r->prompt = str(prompt, REC_PROMPT_TEXT);
    r->ids = cJSON_GetObjectItemCaseSensitive(prompt, REC_PROMPT_IDS);
    if (r->length < 0 && cJSON_IsArray(r->ids) && cJSON_GetArraySize(r->ids) > 0) r->length = cJSON_GetArraySize(r->ids);
    r->tune_version = str(cJSON_GetObjectItemCaseSensitive(rec, REC_VERSIONS), REC_VERSION_TUNE);
    r->model_sha = str(cJSON_GetObjectItemCaseSensitive(rec, REC_VERSIONS), REC_VERSION_MODEL_SHA256);
    r->model = cJSON_GetObjectItemCaseSensitive(rec, REC_MODEL);
    r->data_files = cJSON_GetObjectItemCaseSensitive(rec, REC_DATA_FILES);
    r->run = cJSON_GetObjectItemCaseSensitive(rec, REC_RUN);
    if (!cJSON_IsObject(r->model)) r->model = NULL;
    if (!cJSON_IsObject(r->data_files)) r->data_files = NULL;
    if (!cJSON_IsObject(r->run)) r->run = NULL;
    r->vocab = num(rec, REC_VOCAB_SIZE);
    const char *st = str(rec, REC_STATUS);
    if (!(st && strcmp(st, REC_STATUS_OK) == 0)) {
        r->error = str(rec, REC_ERROR);
        if (!r->error) r->error = st ? "failed without a reason" : "the record has no status";
        return;
    }
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(rec, REC_ACCURACY);
    const cJSON *faith = cJSON_GetObjectItemCaseSensitive(rec, REC_FAITHFULNESS);
    const cJSON *bal = cJSON_GetObjectItemCaseSensitive(rec, REC_BALANCED_ACCURACY);
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(rec, REC_CLASS_ACCURACY);
    const cJSON *share = cJSON_GetObjectItemCaseSensitive(rec, REC_PREDICTION_SHARE);
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(rec, REC_OBJECTIVE);
    // every field of issue 11 may be absent (records of tune 1): NaN, -1 or NULL, an empty cell
    r->m[M_ACC] = num(acc, REC_TEST);
    r->m[M_ACC_DEV] = num(acc, REC_DEV);
    r->m[M_ACC_TEXT] = num(acc, REC_TEST_TEXT);
    r->m[M_BAL] = num(bal, REC_TEST);
    r->m[M_BAL_DEV] = num(bal, REC_DEV);
    r->m[M_BAL_TRAIN] = num(bal, REC_TRAIN);
    for (int s = 0; s < N_SPLITS; s++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(cls, SPLITS[s]);
        r->class_acc[s] = cJSON_IsArray(a) ? a : NULL;
    }
    r->majority = max_of(cJSON_GetObjectItemCaseSensitive(share, REC_TEST));
    r->collapsed = flag_of(rec, REC_COLLAPSED);
    r->roundtrip = flag_of(prompt, REC_PROMPT_ROUNDTRIP);
    r->roundtrip_share = num(prompt, REC_PROMPT_ROUNDTRIP_SHARE);
    r->obj_task = num(obj, REC_OBJ_TASK);
    r->obj_interp = num(obj, REC_OBJ_INTERP);
    r->m[M_OBJ] = num(obj, REC_OBJ_TOTAL);
    // the best seed is chosen without test: an objective measured on another split (none
    // today; tune writes "dev") must not rank the seeds
    const char *split = str(obj, REC_OBJ_SPLIT);
    r->obj_rank = !split || strcmp(split, REC_DEV) == 0 ? r->m[M_OBJ] : NAN;
    r->m[M_LOGPPL] = num(rec, REC_LOG_PPL);
    r->m[M_PPL] = num(rec, REC_PPL);
    r->m[M_DICT] = num(rec, REC_DICT_SHARE);
    r->m[M_DISTINCT] = num(rec, REC_DISTINCT_SHARE);
    r->acc_cont = num(faith, REC_FAITH_ACC_CONTINUOUS);
    r->acc_proj = num(faith, REC_FAITH_ACC_PROJECTED);
    // accuracy lost by projecting onto tokens; rounded to 1e-12, far below one example of any
    // test set, so that 0.495 - 0.485 reads 0.01 and not 0.010000000000000009
    r->m[M_GAP] = round((r->acc_cont - r->acc_proj) * 1e12) / 1e12;
    r->m[M_KL] = num(faith, REC_FAITH_KL);
    r->acc_train = num(acc, REC_TRAIN);
    r->wall = num(rec, REC_WALL_SECONDS);
    r->steps = num(rec, REC_STEPS);
    r->best_step = num(rec, REC_BEST_STEP);
    // the two coordinates of the frontier must be there; the sweep makes such records
    // failed already, a hand-made journal may not
    if (!isfinite(r->m[M_ACC]) || !isfinite(r->m[M_LOGPPL])) {
        r->error = "the record has no finite test accuracy or log_ppl";
        for (int k = 0; k < N_METRICS; k++) r->m[k] = NAN;
        return;
    }
    r->status = ST_OK;
}

static int cmp_text(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* NaN after every number, equal to itself: a key with NaN still groups. */
static int cmp_num(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return (a > b) - (a < b);
}

static int cmp_task_method(const Row *a, const Row *b) {
    int c = cmp_text(a->task, b->task);
    return c ? c : cmp_text(a->method, b->method);
}

static int cmp_task_method_rows(const void *pa, const void *pb) {
    const Row *a = *(const Row *const *)pa, *b = *(const Row *const *)pb;
    int c = cmp_task_method(a, b);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

/* The configuration: task, method, prompt length, λ, then the other configuration keys in
 * the order of their paths. */
static int cmp_config_key(const Row *a, const Row *b) {
    int c = cmp_task_method(a, b);
    if (!c) c = (a->length_key > b->length_key) - (a->length_key < b->length_key);
    if (!c) c = cmp_num(a->lambda, b->lambda);
    const Keys *K = a->keys;
    for (int k = 0; !c && k < K->list.n; k++)
        if (!K->replicate[k]) c = results_leaf_cmp(a->key[k], b->key[k]);
    return c;
}

/* The run within its configuration: its seed, then the other replicate keys. */
static int cmp_replicates(const Row *a, const Row *b) {
    const Keys *K = a->keys;
    int c = K->seed_replicate ? cmp_num(a->seed, b->seed) : 0;
    for (int k = 0; !c && k < K->list.n; k++)
        if (K->replicate[k] && k != K->seed) c = results_leaf_cmp(a->key[k], b->key[k]);
    return c;
}

static int cmp_rows(const void *pa, const void *pb) {
    const Row *a = *(const Row *const *)pa, *b = *(const Row *const *)pb;
    int c = cmp_config_key(a, b);
    if (!c) c = cmp_replicates(a, b);
    if (!c) c = (a->index > b->index) - (a->index < b->index);
    return c;
}

/* Whether two runs name the same split (their split, or their data files). */
static int same_split(const Row *a, const Row *b) {
    const Keys *K = a->keys;
    for (int k = 0; k < K->list.n; k++)
        if (K->split[k] && results_leaf_cmp(a->key[k], b->key[k])) return 0;
    return 1;
}

static int cmp_strings(const void *pa, const void *pb) {
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* The index of s (NULL: "") in a sorted list of distinct strings, -1 if absent. */
static int find_string(const char *const *list, int n, const char *s) {
    if (!s) s = "";
    const char *const *hit = n > 0 ? bsearch(&s, list, (size_t)n, sizeof *list, cmp_strings) : NULL;
    return hit ? (int)(hit - list) : -1;
}

// ----------------------------------------------------------------------------
// the report's state

typedef struct {
    const ResultsRunInfo *info;
    int n_rows;
    Row *rows;
    const Row **sorted;
    int n_configs;
    Config *configs;
    int n_tasks, n_methods;
    const char **tasks, **methods;    // sorted, distinct
    double *chance;                   // per task
    int *classes;                     // per task
    double *hv;                       // per task x method, [task * n_methods + method] (NaN: method absent)
    double *hv_all;                   // per task
    double ln_vocab, vocab;
    int vocab_from_records;
    // scratch for one frontier group, n_rows entries each, carved from one block (scratch)
    double *scratch;
    double *acc, *acc_t, *lp;         // per configuration: dev and test accuracy means, log-PPL mean
    double *sel_acc, *sel_lp;         // the chosen points, measured where they are reported
    double *seed_acc, *seed_acc_t, *seed_lp, *seed_values;
    unsigned char *onf;
    int *front;
    const Row **seed_rows;
    cJSON *json_frontiers;
    const char **replicates;          // the replicate keys in force (ResultsRunInfo's, or the default; + "data")
    int n_replicates;
    Keys keys;
    const ResultsLeaf **key_block;    // the rows' key[] arrays
    cJSON *about;                     // ResultsRunInfo.about_json parsed (NULL: none)
    const char *name;                 // its "name" (NULL: none)
} Report;

static void report_free(Report *R) {
    for (int i = 0; i < R->n_rows; i++) {
        results_leaves_free(&R->rows[i].leaves);
        cJSON_Delete(R->rows[i].rec);
        cJSON_Delete(R->rows[i].pt_tree);
    }
    free(R->rows);
    free(R->sorted);
    free(R->configs);
    free(R->tasks);
    free(R->methods);
    free(R->chance);
    free(R->classes);
    free(R->hv);
    free(R->hv_all);
    free(R->scratch);
    free(R->onf);
    free(R->front);
    free(R->seed_rows);
    cJSON_Delete(R->json_frontiers);
    free(R->replicates);
    results_keys_free(&R->keys.list);
    free(R->keys.replicate);
    free(R->keys.split);
    free(R->key_block);
    cJSON_Delete(R->about);
}

/* Whether run r is a better one to show as a configuration's best prompt than b, chosen
 * without test data: the lower objective (the run's own, on dev, which chose its prompt; a
 * record without one ranks after those with one), then the higher dev accuracy, then the lower
 * log-PPL. Rows come in seed order (then split), so a full tie keeps the lower seed. */
static int better_seed(const Row *r, const Row *b) {
    double ro = r->obj_rank, bo = b->obj_rank;
    if (!isnan(ro) != !isnan(bo)) return !isnan(ro);
    if (!isnan(ro) && ro != bo) return ro < bo;
    double rd = r->m[M_ACC_DEV], bd = b->m[M_ACC_DEV];
    if (!isnan(rd) != !isnan(bd)) return !isnan(rd);
    if (!isnan(rd) && rd != bd) return rd > bd;
    return r->m[M_LOGPPL] < b->m[M_LOGPPL];
}

/* Whether path is a replicate key of the report (ResultsRunInfo.replicates). */
static int is_replicate(const Report *R, const char *path) {
    for (int i = 0; i < R->n_replicates; i++)
        if (results_key_under(path, R->replicates[i])) return 1;
    return 0;
}

/* The replicate keys in force: the run's, or the default; "split" brings "data" (tune's point
 * names a split's files there). */
static int replicate_keys(Report *R) {
    static const char *const fallback[] = RESULTS_DEFAULT_REPLICATES;
    const char *const *list = R->info->replicates ? R->info->replicates : fallback;
    int n = R->info->replicates ? R->info->n_replicates : (int)(sizeof fallback / sizeof fallback[0]);
    R->replicates = malloc((size_t)(n + 1) * sizeof *R->replicates);
    if (!R->replicates) return -1;
    int split = 0, data = 0;
    for (int i = 0; i < n; i++) {
        if (!list[i]) continue;
        R->replicates[R->n_replicates++] = list[i];
        split |= strcmp(list[i], REC_POINT_SPLIT) == 0;
        data |= strcmp(list[i], REC_POINT_DATA) == 0;
    }
    if (split && !data) R->replicates[R->n_replicates++] = REC_POINT_DATA;
    return 0;
}

/* The keys that vary between points of a task and method, and each row's values of them. */
static int find_keys(Report *R) {
    static const char *const fixed[] = {REC_POINT_TASK, REC_POINT_METHOD, REC_POINT_LAMBDA, REC_POINT_PROMPT_LENGTH};
    Keys *K = &R->keys;
    K->seed = -1;
    int n = R->n_rows;
    const ResultsLeaves **pts = malloc((size_t)(n > 0 ? n : 1) * sizeof *pts);
    if (!pts || replicate_keys(R)) {
        free(pts);
        return -1;
    }
    for (int i = 0; i < n; i++) R->sorted[i] = &R->rows[i];
    qsort(R->sorted, (size_t)n, sizeof *R->sorted, cmp_task_method_rows);
    int rc = 0;
    for (int i = 0; i < n && rc == 0;) {
        int j = i;
        for (; j < n && cmp_task_method(R->sorted[i], R->sorted[j]) == 0; j++) pts[j - i] = &R->sorted[j]->leaves;
        rc = results_keys_varying(&K->list, pts, j - i, fixed, (int)(sizeof fixed / sizeof fixed[0]));
        i = j;
    }
    free(pts);
    int nk = K->list.n;
    K->replicate = malloc((size_t)(nk ? nk : 1));
    K->split = malloc((size_t)(nk ? nk : 1));
    R->key_block = malloc((size_t)(n > 0 ? n : 1) * (size_t)(nk ? nk : 1) * sizeof *R->key_block);
    if (rc || !K->replicate || !K->split || !R->key_block) return -1;
    for (int k = 0; k < nk; k++) {
        const char *path = K->list.path[k];
        K->replicate[k] = (unsigned char)is_replicate(R, path);
        K->split[k] = strcmp(path, REC_POINT_SPLIT) == 0 || results_key_under(path, REC_POINT_DATA);
        if (strcmp(path, REC_POINT_SEED) == 0) K->seed = k;
    }
    K->seed_replicate = is_replicate(R, REC_POINT_SEED);
    for (int i = 0; i < n; i++) {
        Row *r = &R->rows[i];
        r->keys = K;
        r->key = R->key_block + (size_t)i * (size_t)nk;
        for (int k = 0; k < nk; k++) r->key[k] = results_leaf_find(&r->leaves, K->list.path[k]);
    }
    return 0;
}

/* A manual prompt's text, the label of its baseline: the point's prompt, else the record's. */
static const char *baseline_text(const Config *c) {
    if (!c->key->method || strcmp(c->key->method, REC_METHOD_MANUAL) != 0) return NULL;
    const char *text = str(c->key->pt, REC_POINT_PROMPT);
    if (!text && c->best) text = c->best->prompt;
    return text ? text : "";
}

/* Distinct seeds and splits among a configuration's ok runs. Runs come in seed order. */
static void count_replicates(const Report *R, Config *c) {
    const Row *prev = NULL;
    for (int k = c->r0; k < c->r1; k++) {
        const Row *r = R->sorted[k];
        if (r->status != ST_OK) continue;
        c->n_seeds += !prev || cmp_num(r->seed, prev->seed) != 0;
        prev = r;
        int seen = 0;
        for (int q = c->r0; q < k && !seen; q++) seen = R->sorted[q]->status == ST_OK && same_split(R->sorted[q], r);
        c->n_splits += !seen;
    }
}

/* Whether a configuration's 2+ ok runs all gave the same result: the same test and dev
 * accuracy, log-PPL and prompt. Then their sd is 0 and the CI has no width, which says nothing
 * about precision: the seeds did not vary what they were meant to (the plot and the table say
 * so). */
static int identical_runs(const Report *R, const Config *c) {
    const Row *first = NULL;
    for (int k = c->r0; k < c->r1; k++) {
        const Row *r = R->sorted[k];
        if (r->status != ST_OK) continue;
        if (!first) { first = r; continue; }
        if (r->m[M_ACC] != first->m[M_ACC] || r->m[M_ACC_DEV] != first->m[M_ACC_DEV] ||
            r->m[M_LOGPPL] != first->m[M_LOGPPL] || cmp_text(r->prompt, first->prompt) != 0)
            return 0;
    }
    return c->n_ok >= 2;
}

static void build_configs(Report *R) {
    int n = R->n_rows;
    for (int i = 0; i < n; i++) R->sorted[i] = &R->rows[i];
    qsort(R->sorted, (size_t)n, sizeof *R->sorted, cmp_rows);
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && cmp_config_key(R->sorted[i], R->sorted[j]) == 0) j++;
        Config *c = &R->configs[R->n_configs++];
        memset(c, 0, sizeof *c);
        c->key = R->sorted[i];
        c->r0 = i;
        c->r1 = j;
        c->length = c->key->length_key;
        c->overlap = c->overlap_all = -1;
        c->n_collapsed = c->n_roundtrip = -1;
        for (int k = i; k < j; k++) {
            const Row *r = R->sorted[k];
            c->n_ok += r->status == ST_OK;
            c->n_failed += r->status == ST_FAILED;
            c->n_pending += r->status == ST_PENDING;
            if (c->length < 0 && r->length >= 0) c->length = r->length;   // manual: the prompt's tokens
            if (r->status != ST_OK) continue;
            if (!c->best || better_seed(r, c->best)) c->best = r;
            // counted where the records say; unknown (-1) while none does
            if (r->collapsed >= 0) c->n_collapsed = (c->n_collapsed > 0 ? c->n_collapsed : 0) + r->collapsed;
            if (r->roundtrip >= 0) c->n_roundtrip = (c->n_roundtrip > 0 ? c->n_roundtrip : 0) + r->roundtrip;
        }
        for (int m = 0; m < N_METRICS; m++) {
            int v = 0;
            for (int k = i; k < j; k++)
                if (R->sorted[k]->status == ST_OK) R->seed_values[v++] = R->sorted[k]->m[m];
            results_stats(R->seed_values, v, &c->st[m]);
        }
        count_replicates(R, c);
        c->baseline = baseline_text(c);
        c->identical = identical_runs(R, c);
        for (int k = i; k < j; k++)
            if (R->sorted[k]->ref->refined_round > c->refined) c->refined = R->sorted[k]->ref->refined_round;
        i = j;
    }
    // the task and method lists, sorted and distinct
    for (int i = 0; i < R->n_configs; i++) {
        R->tasks[i] = R->configs[i].key->task ? R->configs[i].key->task : "";
        R->methods[i] = R->configs[i].key->method ? R->configs[i].key->method : "";
    }
    qsort(R->tasks, (size_t)R->n_configs, sizeof *R->tasks, cmp_strings);
    qsort(R->methods, (size_t)R->n_configs, sizeof *R->methods, cmp_strings);
    for (int i = 0; i < R->n_configs; i++) {
        if (i == 0 || strcmp(R->tasks[i], R->tasks[R->n_tasks - 1])) R->tasks[R->n_tasks++] = R->tasks[i];
        if (i == 0 || strcmp(R->methods[i], R->methods[R->n_methods - 1])) R->methods[R->n_methods++] = R->methods[i];
    }
    for (int i = 0; i < R->n_configs; i++) {
        R->configs[i].task = find_string(R->tasks, R->n_tasks, R->configs[i].key->task);
        R->configs[i].method = find_string(R->methods, R->n_methods, R->configs[i].key->method);
    }
}

/* The reference point: chance accuracy per task (1 / the most classes seen in its points),
 * ln V for log-PPL. Records that disagree on V are an error: every frontier of the report is
 * measured against one ln V, and log-PPLs over different vocabularies are not comparable
 * (a sweep has one model, and its scorer must share its vocabulary). */
static int reference(Report *R, Err *err) {
    for (int t = 0; t < R->n_tasks; t++) R->classes[t] = 0;
    R->vocab = DEFAULT_VOCAB;
    const Row *vocab_row = NULL;   // the first record that says V
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        int t = find_string(R->tasks, R->n_tasks, r->task);
        if (t >= 0 && r->n_classes > R->classes[t]) R->classes[t] = r->n_classes;
        if (!(isfinite(r->vocab) && r->vocab > 1)) continue;
        if (!vocab_row) {
            vocab_row = r;
            R->vocab = r->vocab;
            R->vocab_from_records = 1;
        } else if (r->vocab != R->vocab) {
            return err_fail(err, "frontier: the records disagree on the vocabulary size: %.17g (point %.64s), "
                            "%.17g (point %.64s); the reference log-PPL ln V needs one vocabulary",
                            R->vocab, vocab_row->ref->id ? vocab_row->ref->id : "?", r->vocab,
                            r->ref->id ? r->ref->id : "?");
        }
    }
    for (int t = 0; t < R->n_tasks; t++) R->chance[t] = R->classes[t] > 0 ? 1.0 / R->classes[t] : 0;
    R->ln_vocab = log(R->vocab);
    return 0;
}

static int cmp_replicate_rows(const void *pa, const void *pb) {
    const Row *a = *(const Row *const *)pa, *b = *(const Row *const *)pb;
    int c = cmp_replicates(a, b);
    return c ? c : (a->index > b->index) - (a->index < b->index);
}

static cJSON *json_number(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

/* A row's values of the varying keys a table shows (KEYS_*); null where the point has none. */
static cJSON *json_keys(const Row *r, int which) {
    const Keys *K = r->keys;
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; o && k < K->list.n; k++) {
        if (!key_shown(K, k, which)) continue;
        cJSON_AddItemToObject(o, K->list.path[k], r->key[k] ? cJSON_Duplicate(r->key[k]->v, 1) : cJSON_CreateNull());
    }
    return o;
}

static cJSON *json_stats(const ResultsStats *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n", s->n);
    cJSON_AddItemToObject(o, "mean", json_number(s->mean));
    cJSON_AddItemToObject(o, "sd", json_number(s->sd));
    cJSON_AddItemToObject(o, "ci95", json_number(s->ci95));
    return o;
}

/* The frontier points of a group for the sidecar, in the frontier's log-PPL order: what each
 * was chosen on (acc_dev_mean) beside what it reports (acc_test_mean and its CI). */
static cJSON *json_front(const Report *R, int c0, const int *front, int nf, int all) {
    cJSON *pts = cJSON_CreateArray();
    for (int f = 0; f < nf; f++) {
        const Config *c = &R->configs[c0 + front[f]];
        cJSON *p = cJSON_CreateObject();
        if (all) cJSON_AddStringToObject(p, "method", R->methods[c->method]);
        cJSON_AddItemToObject(p, "lambda", json_number(c->key->lambda));
        cJSON_AddItemToObject(p, "prompt_length", c->length >= 0 ? cJSON_CreateNumber(c->length) : cJSON_CreateNull());
        cJSON_AddItemToObject(p, "keys", json_keys(c->key, KEYS_CONFIG));
        cJSON_AddNumberToObject(p, "n_ok", c->n_ok);
        cJSON_AddNumberToObject(p, "n_splits", c->n_splits);
        cJSON_AddNumberToObject(p, "n_seeds", c->n_seeds);
        cJSON_AddItemToObject(p, "n_collapsed", c->n_collapsed >= 0 ? cJSON_CreateNumber(c->n_collapsed) : cJSON_CreateNull());
        cJSON_AddItemToObject(p, "acc_dev_mean", json_number(c->st[M_ACC_DEV].mean));
        cJSON_AddItemToObject(p, "acc_test_mean", json_number(c->st[M_ACC].mean));
        cJSON_AddItemToObject(p, "acc_test_ci95", json_number(c->st[M_ACC].ci95));
        cJSON_AddItemToObject(p, "log_ppl_mean", json_number(c->st[M_LOGPPL].mean));
        cJSON_AddItemToObject(p, "log_ppl_ci95", json_number(c->st[M_LOGPPL].ci95));
        cJSON_AddItemToArray(pts, p);
    }
    return pts;
}

/* The hypervolume of the chosen points front[0..nf) measured at (acc, lp). */
static int chosen_hypervolume(Report *R, const double *acc, const double *lp, const int *front, int nf, double chance,
                              double *hv, Err *err) {
    for (int f = 0; f < nf; f++) R->sel_acc[f] = acc[front[f]], R->sel_lp[f] = lp[front[f]];
    return results_hypervolume(R->sel_acc, R->sel_lp, nf, chance, R->ln_vocab, hv, err);
}

/* One frontier: the configurations [c0, c1) of a task, of one method (or all: method -1).
 * Chosen on dev means, reported (and its hypervolume measured) at test means; the frontier
 * decided on test means follows as test_chosen, for comparison only. */
static int frontier_group(Report *R, int task, int method, int c0, int c1, Err *err) {
    int k = c1 - c0, all = method < 0;
    double chance = R->chance[task], box = (1 - chance) * R->ln_vocab;
    for (int i = 0; i < k; i++) {
        const Config *c = &R->configs[c0 + i];
        R->acc[i] = c->n_ok ? c->st[M_ACC_DEV].mean : NAN;   // NaN without dev accuracy: never chosen
        R->acc_t[i] = c->n_ok ? c->st[M_ACC].mean : NAN;
        R->lp[i] = c->n_ok ? c->st[M_LOGPPL].mean : NAN;
    }
    // the group goes into the sidecar first, so that an error below leaves nothing to free here
    cJSON *g = cJSON_CreateObject();
    cJSON_AddItemToArray(R->json_frontiers, g);
    cJSON_AddStringToObject(g, "task", R->tasks[task]);
    cJSON_AddStringToObject(g, "method", all ? "all" : R->methods[method]);
    cJSON_AddNumberToObject(g, "configurations", k);

    // chosen on dev: the frontier reported
    int nf = results_pareto(R->acc, R->lp, k, R->onf, R->front, err);
    if (nf < 0) return -1;
    for (int i = 0; i < k; i++) {
        Config *c = &R->configs[c0 + i];
        int overlap = -1;
        if (R->onf[i]) {
            overlap = 1;
        } else if (c->n_ok >= 2) {
            // within its CI the point could reach the frontier: its optimistic corner is not dominated
            double a = R->acc[i] + c->st[M_ACC_DEV].ci95, l = R->lp[i] - c->st[M_LOGPPL].ci95;
            if (isfinite(a) && isfinite(l)) overlap = !results_dominated(R->acc, R->lp, R->front, nf, a, l);
        }
        if (all) c->on_front_all = R->onf[i], c->overlap_all = overlap;
        else c->on_front = R->onf[i], c->overlap = overlap;
    }
    double hv = 0, hv_dev = 0;
    if (chosen_hypervolume(R, R->acc_t, R->lp, R->front, nf, chance, &hv, err) ||
        chosen_hypervolume(R, R->acc, R->lp, R->front, nf, chance, &hv_dev, err))
        return -1;
    if (all) R->hv_all[task] = hv;
    else R->hv[(size_t)task * (size_t)R->n_methods + (size_t)method] = hv;
    cJSON_AddItemToObject(g, "frontier", json_front(R, c0, R->front, nf, all));
    cJSON_AddItemToObject(g, "hypervolume", json_number(hv));
    cJSON_AddItemToObject(g, "hypervolume_normalized", json_number(box > 0 ? hv / box : NAN));
    cJSON_AddItemToObject(g, "hypervolume_dev", json_number(hv_dev));

    // decided on test means: what choosing on test would have published
    int nt = results_pareto(R->acc_t, R->lp, k, R->onf, R->front, err);
    if (nt < 0) return -1;
    for (int i = 0; i < k; i++) {
        Config *c = &R->configs[c0 + i];
        if (all) c->on_front_all_test = R->onf[i];
        else c->on_front_test = R->onf[i];
    }
    double hv_test = 0;
    if (chosen_hypervolume(R, R->acc_t, R->lp, R->front, nt, chance, &hv_test, err)) return -1;
    cJSON *tc = cJSON_AddObjectToObject(g, "test_chosen");
    cJSON_AddItemToObject(tc, "frontier", json_front(R, c0, R->front, nt, all));
    cJSON_AddItemToObject(tc, "hypervolume", json_number(hv_test));

    // per seed (per replicate: split x seed): each one's own configurations, its frontier
    // chosen on its dev accuracies, the hypervolume at its test accuracies; then their statistics
    int n = 0;
    for (int r = R->configs[c0].r0; r < R->configs[c1 - 1].r1; r++)
        if (R->sorted[r]->status == ST_OK) R->seed_rows[n++] = R->sorted[r];
    qsort(R->seed_rows, (size_t)n, sizeof *R->seed_rows, cmp_replicate_rows);
    cJSON *seeds = cJSON_CreateArray(), *values = cJSON_CreateArray(), *reps = cJSON_CreateArray();
    int n_seeds = 0;
    for (int i = 0; i < n;) {
        int j = i;
        for (; j < n && cmp_replicates(R->seed_rows[j], R->seed_rows[i]) == 0; j++) {
            R->seed_acc[j - i] = R->seed_rows[j]->m[M_ACC_DEV];
            R->seed_acc_t[j - i] = R->seed_rows[j]->m[M_ACC];
            R->seed_lp[j - i] = R->seed_rows[j]->m[M_LOGPPL];
        }
        double v = 0;
        int ns = results_pareto(R->seed_acc, R->seed_lp, j - i, R->onf, R->front, err);
        if (ns < 0 || chosen_hypervolume(R, R->seed_acc_t, R->seed_lp, R->front, ns, chance, &v, err)) {
            cJSON_Delete(seeds);
            cJSON_Delete(values);
            cJSON_Delete(reps);
            return -1;
        }
        R->seed_values[n_seeds++] = v;
        cJSON_AddItemToArray(seeds, json_number(R->seed_rows[i]->seed));
        cJSON_AddItemToArray(values, cJSON_CreateNumber(v));
        cJSON_AddItemToArray(reps, json_keys(R->seed_rows[i], KEYS_REPLICATE));
        i = j;
    }
    ResultsStats s;
    results_stats(R->seed_values, n_seeds, &s);
    cJSON *ps = json_stats(&s);
    cJSON_AddItemToObject(ps, "seeds", seeds);
    cJSON_AddItemToObject(ps, "values", values);
    cJSON_AddItemToObject(ps, "replicates", reps);
    cJSON_AddItemToObject(g, "per_seed_hypervolume", ps);
    return 0;
}

static int frontiers(Report *R, Err *err) {
    for (size_t i = 0; i < (size_t)R->n_tasks * (size_t)R->n_methods; i++) R->hv[i] = NAN;
    // configurations are sorted by task, then method: each group is a contiguous range
    for (int c0 = 0; c0 < R->n_configs;) {
        int task = R->configs[c0].task, c1 = c0;
        while (c1 < R->n_configs && R->configs[c1].task == task) c1++;
        if (frontier_group(R, task, -1, c0, c1, err)) return -1;
        for (int m0 = c0; m0 < c1;) {
            int m1 = m0;
            while (m1 < c1 && R->configs[m1].method == R->configs[m0].method) m1++;
            if (frontier_group(R, task, R->configs[m0].method, m0, m1, err)) return -1;
            m0 = m1;
        }
        c0 = c1;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// the files

#define EOL "\r\n"   // RFC 4180's record separator

static void csv_int(ResultsBuf *b, int v) {
    if (v >= 0) results_buf_printf(b, "%d", v);
}

static void csv_sep(ResultsBuf *b) { results_buf_put(b, ",", 1); }

/* Seeds and step counts: integers when they are whole (they are, from tune). */
static void csv_whole(ResultsBuf *b, double x) {
    if (isfinite(x) && x == floor(x) && fabs(x) < 1e15) results_buf_printf(b, "%.0f", x);
    else results_csv_number(b, x);
}

static void flag(ResultsBuf *b, int v) {
    csv_sep(b);
    if (v >= 0) results_buf_printf(b, "%d", v);
}

/* One number of a space-separated list: shortest round trip, "nan" where there is none (a
 * class absent from a split: tune writes null), so the list keeps its class order. */
static void list_number(ResultsBuf *b, double x) {
    if (isfinite(x)) results_csv_number(b, x);
    else results_buf_cat(b, "nan");
}

/* A per-class array as one field, space-separated in class order (no quotes needed); empty when
 * absent. */
static void csv_list(ResultsBuf *b, const cJSON *a) {
    csv_sep(b);
    int first = 1;
    for (const cJSON *v = a ? a->child : NULL; v; v = v->next, first = 0) {
        if (!first) results_buf_put(b, " ", 1);
        list_number(b, cJSON_IsNumber(v) ? v->valuedouble : NAN);
    }
}

/* The names of the varying keys a table shows (KEYS_*), as header fields. */
static void csv_key_names(const Report *R, int which, ResultsBuf *b) {
    const Keys *K = &R->keys;
    for (int k = 0; k < K->list.n; k++)
        if (key_shown(K, k, which)) csv_sep(b), results_csv_field(b, K->list.path[k]);
}

/* A row's values of those keys: strings as they are, anything else its compact JSON, empty
 * where the point has none. */
static void csv_key_values(const Report *R, const Row *r, int which, ResultsBuf *b) {
    const Keys *K = &R->keys;
    for (int k = 0; k < K->list.n; k++) {
        if (!key_shown(K, k, which)) continue;
        char *text = results_leaf_text(r->key[k]);
        if (r->key[k] && !text) b->oom = 1;
        csv_sep(b), results_csv_field(b, text);
        free(text);
    }
}

static void points_csv(const Report *R, ResultsBuf *b) {
    results_buf_cat(b, "id,task,method,lambda,prompt_length");
    csv_key_names(R, KEYS_POINT, b);
    results_buf_cat(b, ",seed,status,attempts,error,acc_test,acc_dev,acc_train,"
                       "acc_test_text,bal_acc_test,bal_acc_dev,bal_acc_train,class_acc_test,class_acc_dev,"
                       "class_acc_train,majority_share_test,collapsed,obj_task,obj_interp,obj_total,log_ppl,ppl,"
                       "dict_share,distinct_share,acc_continuous,acc_projected,faith_gap,faith_kl,steps,best_step,"
                       "wall_seconds,roundtrip,roundtrip_share,prompt_ids,prompt" EOL);
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        int ok = r->status == ST_OK;
        results_csv_field(b, r->ref->id);
        csv_sep(b), results_csv_field(b, r->task);
        csv_sep(b), results_csv_field(b, r->method);
        csv_sep(b), results_csv_number(b, r->lambda);
        csv_sep(b), csv_int(b, r->length);
        csv_key_values(R, r, KEYS_POINT, b);
        csv_sep(b), csv_whole(b, r->seed);
        csv_sep(b), results_csv_field(b, STATUS[r->status]);
        csv_sep(b), csv_int(b, r->ref->attempts);
        csv_sep(b), results_csv_field(b, r->error);
        double acc[] = {r->m[M_ACC], r->m[M_ACC_DEV], r->acc_train, r->m[M_ACC_TEXT],
                        r->m[M_BAL], r->m[M_BAL_DEV], r->m[M_BAL_TRAIN]};
        for (size_t k = 0; k < sizeof acc / sizeof acc[0]; k++) csv_sep(b), results_csv_number(b, ok ? acc[k] : NAN);
        for (int s = 0; s < N_SPLITS; s++) csv_list(b, ok ? r->class_acc[s] : NULL);
        csv_sep(b), results_csv_number(b, ok ? r->majority : NAN);
        flag(b, ok ? r->collapsed : -1);
        double v[] = {r->obj_task,     r->obj_interp, r->m[M_OBJ],  r->m[M_LOGPPL], r->m[M_PPL], r->m[M_DICT],
                      r->m[M_DISTINCT], r->acc_cont,  r->acc_proj,  r->m[M_GAP],    r->m[M_KL]};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) csv_sep(b), results_csv_number(b, ok ? v[k] : NAN);
        csv_sep(b), csv_whole(b, ok ? r->steps : NAN);
        csv_sep(b), csv_whole(b, ok ? r->best_step : NAN);
        csv_sep(b), results_csv_number(b, ok ? r->wall : NAN);
        flag(b, ok ? r->roundtrip : -1);
        csv_sep(b), results_csv_number(b, ok ? r->roundtrip_share : NAN);
        csv_sep(b);
        if (ok && cJSON_IsArray(r->ids)) {   // token ids, space-separated: one field, no quotes needed
            int first = 1;
            for (const cJSON *id = r->ids->child; id; id = id->next) {
                if (!cJSON_IsNumber(id)) continue;
                if (!first) results_buf_put(b, " ", 1);
                csv_whole(b, id->valuedouble);
                first = 0;
            }
        }
        csv_sep(b), results_csv_field(b, ok ? r->prompt : NULL);
        results_buf_cat(b, EOL);
    }
}

/* A configuration's per-class recall on one split, each class's mean over its ok seeds (those
 * whose record has it), space-separated in class order; empty when no seed's record has them. */
static void csv_class_means(const Report *R, const Config *c, int split, ResultsBuf *b) {
    csv_sep(b);
    int classes = 0;
    for (int k = c->r0; k < c->r1; k++) {
        const Row *r = R->sorted[k];
        if (r->status == ST_OK && r->class_acc[split] && cJSON_GetArraySize(r->class_acc[split]) > classes)
            classes = cJSON_GetArraySize(r->class_acc[split]);
    }
    for (int q = 0; q < classes; q++) {
        int v = 0;
        for (int k = c->r0; k < c->r1; k++) {
            const Row *r = R->sorted[k];
            if (r->status != ST_OK || !r->class_acc[split]) continue;
            const cJSON *x = cJSON_GetArrayItem(r->class_acc[split], q);
            R->seed_values[v++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;   // results_stats skips NaN
        }
        ResultsStats st;
        results_stats(R->seed_values, v, &st);
        if (q) results_buf_put(b, " ", 1);
        list_number(b, st.mean);
    }
}

static void frontier_csv(const Report *R, ResultsBuf *b) {
    results_buf_cat(b, "task,method,lambda,prompt_length");
    csv_key_names(R, KEYS_CONFIG, b);
    results_buf_cat(b, ",n_ok,n_splits,n_seeds,n_failed,n_pending");
    for (int m = 0; m < N_METRICS; m++) results_buf_printf(b, ",%s_mean,%s_sd,%s_ci95", METRICS[m], METRICS[m], METRICS[m]);
    results_buf_cat(b, ",class_acc_test_mean,class_acc_dev_mean,class_acc_train_mean,n_collapsed,n_roundtrip,"
                       "on_frontier,ci_overlaps_frontier,on_frontier_all,"
                       "ci_overlaps_frontier_all,on_frontier_test,on_frontier_all_test,best_seed,best_prompt" EOL);
    for (int i = 0; i < R->n_configs; i++) {
        const Config *c = &R->configs[i];
        results_csv_field(b, c->key->task);
        csv_sep(b), results_csv_field(b, c->key->method);
        csv_sep(b), results_csv_number(b, c->key->lambda);
        csv_sep(b), csv_int(b, c->length);
        csv_key_values(R, c->key, KEYS_CONFIG, b);
        results_buf_printf(b, ",%d,%d,%d,%d,%d", c->n_ok, c->n_splits, c->n_seeds, c->n_failed, c->n_pending);
        for (int m = 0; m < N_METRICS; m++) {
            csv_sep(b), results_csv_number(b, c->st[m].mean);
            csv_sep(b), results_csv_number(b, c->st[m].sd);
            csv_sep(b), results_csv_number(b, c->st[m].ci95);
        }
        for (int sp = 0; sp < N_SPLITS; sp++) csv_class_means(R, c, sp, b);
        flag(b, c->n_collapsed);
        flag(b, c->n_roundtrip);
        flag(b, c->on_front);
        flag(b, c->overlap);
        flag(b, c->on_front_all);
        flag(b, c->overlap_all);
        flag(b, c->on_front_test);
        flag(b, c->on_front_all_test);
        csv_sep(b);
        if (c->best) csv_whole(b, c->best->seed);
        csv_sep(b), results_csv_field(b, c->best ? c->best->prompt : NULL);
        results_buf_cat(b, EOL);
    }
}

/* What the plot's words say beyond today's: reps, what a point's runs vary in ("split ×
 * seed"; left empty when only seeds do), and cfg, the configuration keys beyond method, λ and
 * prompt length (a manual prompt's text is its baseline's label, not one of them). */
static void plot_words(const Report *R, ResultsBuf *reps, ResultsBuf *cfg) {
    const Keys *K = &R->keys;
    int split = 0, dims = 0;
    for (int k = 0; k < K->list.n; k++) split |= K->replicate[k] && K->split[k];
    if (split) results_buf_cat(reps, "split"), dims++;
    for (int k = 0; k < K->list.n; k++) {
        if (!K->replicate[k] || K->split[k] || k == K->seed) continue;
        results_buf_printf(reps, "%s%s", dims++ ? " \xc3\x97 " : "", K->list.path[k]);
    }
    if (dims && K->seed >= 0 && K->replicate[K->seed]) results_buf_printf(reps, " \xc3\x97 %s", REC_POINT_SEED);
    for (int k = 0, n = 0; k < K->list.n; k++)
        if (key_shown(K, k, KEYS_CONFIG) && strcmp(K->list.path[k], REC_POINT_PROMPT) != 0)
            results_buf_printf(cfg, "%s%s", n++ ? ", " : "", K->list.path[k]);
}

/* A configuration's label text beyond λ and L: "key=value" for its configuration keys (but a
 * manual prompt's text), values cut to 16 characters; into b, NUL-terminated. */
static void put_detail(const Report *R, const Config *c, ResultsBuf *b) {
    const Keys *K = &R->keys;
    int n = 0;
    for (int k = 0; k < K->list.n; k++) {
        if (!key_shown(K, k, KEYS_CONFIG) || !c->key->key[k] || strcmp(K->list.path[k], REC_POINT_PROMPT) == 0) continue;
        char *text = results_leaf_text(c->key->key[k]);
        if (!text) { b->oom = 1; continue; }
        results_buf_printf(b, "%s%s=", n++ ? " " : "", K->list.path[k]);
        results_buf_cut(b, text, 16);
        free(text);
    }
    results_buf_put(b, "", 1);
}

// ----------------------------------------------------------------------------
// frontier.tex (issue 15): one booktabs table per task, frontier.csv's configurations with
// their means and CIs as it gives them, the frontier across methods in bold

/* "mean \pm ci", digits decimals; the mean alone without a CI (n < 2), with ^{=} when the runs
 * were identical (a CI of 0 that says nothing); -- for no value. */
static void tex_stat(ResultsBuf *b, const ResultsStats *st, int digits, int identical) {
    if (!isfinite(st->mean)) { results_buf_cat(b, "--"); return; }
    results_buf_printf(b, "%.*f", digits, st->mean);
    if (identical) results_buf_cat(b, "$^{=}$");
    else if (isfinite(st->ci95)) results_buf_printf(b, " $\\pm$ %.*f", digits, st->ci95);
}

/* One cell, bold on a frontier row. */
static void tex_cell_open(ResultsBuf *b, int bold, int first) { results_buf_cat(b, first ? "" : " & "), results_buf_cat(b, bold ? "\\textbf{" : "{"); }

static void frontier_tex(const Report *R, ResultsBuf *b) {
    const char *source = R->info->source ? R->info->source : "";
    results_buf_cat(b, "% frontier.tex: written by `sweep frontier` (results/report.c) from ");
    results_tex(b, source, 0);   // a path in a comment: escaped all the same (a newline would end it)
    results_buf_cat(b, ".\n% \\input it in a document that loads booktabs (\\usepackage{booktabs}); pdflatex, XeLaTeX\n"
                       "% or LuaLaTeX. A prompt's characters beyond printable ASCII are \\promptchar{HEX}{the character}:\n"
                       "% printed [U+HEX] (any font can); with a Unicode font under XeLaTeX or LuaLaTeX,\n"
                       "% \\newcommand{\\promptchar}[2]{#2} before the \\input prints the characters themselves.\n"
                       "\\providecommand{\\promptchar}[2]{\\texttt{[U+#1]}}\n");
    const Keys *K = &R->keys;
    for (int t = 0; t < R->n_tasks; t++) {
        results_buf_cat(b, "\n\\begin{table}[ht]\n\\centering\n\\small\n\\caption{");
        if (R->name) results_tex(b, R->name, 0), results_buf_cat(b, ": ");
        results_tex(b, R->tasks[t], 0);
        results_buf_cat(b, ". Mean $\\pm$ 95\\% CI (Student $t$) over each configuration's $n$ runs (one per value of ");
        for (int k = 0; k < R->n_replicates; k++)
            results_buf_cat(b, k ? (k + 1 == R->n_replicates ? " and " : ", ") : ""), results_buf_cat(b, "\\texttt{"),
                results_tex(b, R->replicates[k], 1), results_buf_cat(b, "}");
        results_buf_cat(b, "); "
                              "\\textbf{bold}: on the Pareto frontier across methods, chosen on dev accuracy and "
                              "log-PPL and reported at test; $^{=}$: its runs gave identical results (no spread, no CI). "
                              "log-PPL: of the prompt under the scorer LM, nats/token. The prompt: the best run's, "
                              "chosen on dev, in quotes.}\n");
        results_buf_cat(b, "\\label{tab:frontier-");
        for (const char *c = R->tasks[t]; *c; c++)   // a label takes letters, digits and - only
            results_buf_printf(b, "%c", ((*c | 32) >= 'a' && (*c | 32) <= 'z') || (*c >= '0' && *c <= '9') ? *c : '-');
        results_buf_cat(b, "}\n\\begin{tabular}{lrr");
        for (int k = 0; k < K->list.n; k++)
            if (key_shown(K, k, KEYS_CONFIG) && strcmp(K->list.path[k], REC_POINT_PROMPT) != 0) results_buf_cat(b, "l");
        results_buf_cat(b, "rlllp{5cm}}\n\\toprule\nMethod & $\\lambda$ & $L$");
        for (int k = 0; k < K->list.n; k++)
            if (key_shown(K, k, KEYS_CONFIG) && strcmp(K->list.path[k], REC_POINT_PROMPT) != 0)
                results_buf_cat(b, " & \\texttt{"), results_tex(b, K->list.path[k], 1), results_buf_cat(b, "}");
        results_buf_cat(b, " & $n$ & Dev acc. & Test acc. & log-PPL & Prompt \\\\\n\\midrule\n");
        for (int i = 0; i < R->n_configs; i++) {
            const Config *c = &R->configs[i];
            if (c->task != t) continue;
            int bold = c->on_front_all;
            tex_cell_open(b, bold, 1), results_buf_cat(b, "\\texttt{"), results_tex(b, R->methods[c->method], 1),
                results_buf_cat(b, "}}");
            tex_cell_open(b, bold, 0), results_buf_printf(b, "%g}", c->key->lambda);
            tex_cell_open(b, bold, 0);
            if (c->length >= 0) results_buf_printf(b, "%d}", c->length);
            else results_buf_cat(b, "--}");
            for (int k = 0; k < K->list.n; k++) {
                if (!key_shown(K, k, KEYS_CONFIG) || strcmp(K->list.path[k], REC_POINT_PROMPT) == 0) continue;
                char *text = results_leaf_text(c->key->key[k]);
                tex_cell_open(b, bold, 0), results_buf_cat(b, "\\texttt{"), results_tex(b, text ? text : "--", 1),
                    results_buf_cat(b, "}}");
                free(text);
            }
            tex_cell_open(b, bold, 0), results_buf_printf(b, "%d}", c->n_ok);
            tex_cell_open(b, bold, 0), tex_stat(b, &c->st[M_ACC_DEV], 3, c->identical), results_buf_cat(b, "}");
            tex_cell_open(b, bold, 0), tex_stat(b, &c->st[M_ACC], 3, c->identical), results_buf_cat(b, "}");
            tex_cell_open(b, bold, 0), tex_stat(b, &c->st[M_LOGPPL], 2, c->identical), results_buf_cat(b, "}");
            // the prompt: typewriter, in straight quotes, as a reader would paste it
            results_buf_cat(b, " & ");
            if (c->best && c->best->prompt) results_buf_cat(b, "\\texttt{\""), results_tex(b, c->best->prompt, 1), results_buf_cat(b, "\"}");
            else results_buf_cat(b, "--");
            results_buf_cat(b, " \\\\\n");
        }
        results_buf_cat(b, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    }
}

// ----------------------------------------------------------------------------
// what reproduces the numbers (issue 15): the plot's model and data lines, frontier.json's
// "reproduce"

/* A split's name from its train file: the few-shot layout's directory (".../16-42/train.tsv":
 * "16-42"), else the file's own name. */
static void split_label(const char *train, char *out, size_t cap) {
    if (!train) { snprintf(out, cap, "?"); return; }
    const char *base = strrchr(train, '/');
    base = base ? base + 1 : train;
    if (strcmp(base, "train.tsv") == 0 && base > train + 1) {
        const char *end = base - 1, *start = end;
        while (start > train && start[-1] != '/') start--;
        snprintf(out, cap, "%.*s", (int)(end - start), start);
    } else {
        snprintf(out, cap, "%s", base);
    }
}

/* Appends item to list unless an equal one is there (then item is freed). */
static void add_distinct(cJSON *list, cJSON *item) {
    if (!list || !item) { cJSON_Delete(item); return; }
    for (const cJSON *x = list->child; x; x = x->next)
        if (cJSON_Compare(x, item, 1)) { cJSON_Delete(item); return; }
    cJSON_AddItemToArray(list, item);
}

static cJSON *json_string_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

static cJSON *copy_or_null(const cJSON *x) { return x ? cJSON_Duplicate(x, 1) : cJSON_CreateNull(); }

/* frontier.json's "reproduce": the distinct values over every record that says them (records of
 * tunes before issue 15 say none of run, data_files, model). */
static cJSON *reproduce(const Report *R) {
    cJSON *o = cJSON_CreateObject();
    cJSON *versions = cJSON_AddArrayToObject(o, "code_versions"), *hosts = cJSON_AddArrayToObject(o, "hosts");
    cJSON *blas = cJSON_AddArrayToObject(o, "openblas"), *prec = cJSON_AddArrayToObject(o, "precisions");
    cJSON *models = cJSON_AddArrayToObject(o, "models"), *data = cJSON_AddArrayToObject(o, "data");
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        if (!r->rec) continue;
        if (r->precision) add_distinct(prec, cJSON_CreateString(r->precision));
        if (r->run) {
            const char *v = str(r->run, REC_RUN_CODE_VERSION), *h = str(r->run, REC_RUN_HOST);
            if (v) add_distinct(versions, cJSON_CreateString(v));
            if (h) add_distinct(hosts, cJSON_CreateString(h));
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToObject(b, "core", copy_or_null(cJSON_GetObjectItemCaseSensitive(r->run, REC_RUN_OPENBLAS_CORE)));
            cJSON_AddItemToObject(b, "threads", copy_or_null(cJSON_GetObjectItemCaseSensitive(r->run, REC_RUN_OPENBLAS_THREADS)));
            cJSON_AddItemToObject(b, "coretype_env", copy_or_null(cJSON_GetObjectItemCaseSensitive(r->run, REC_RUN_OPENBLAS_CORETYPE)));
            add_distinct(blas, b);
        }
        if (r->model_sha) {
            cJSON *m = r->model ? cJSON_Duplicate(r->model, 1) : cJSON_CreateObject();
            cJSON_AddStringToObject(m, "sha256", r->model_sha);
            cJSON_AddItemToObject(m, "vocab_size", json_number(r->vocab));
            add_distinct(models, m);
        }
        if (r->data_files) {
            char label[256];
            split_label(r->train_path, label, sizeof label);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddItemToObject(d, "task", json_string_or_null(r->task));
            cJSON_AddStringToObject(d, "split", label);
            for (const cJSON *f = r->data_files->child; f; f = f->next) cJSON_AddItemToObject(d, f->string, cJSON_Duplicate(f, 1));
            add_distinct(data, d);
        }
    }
    return o;
}

/* One number, or its range over the values seen ("32", "16-32"); "?" for none. */
typedef struct {
    double lo, hi;
} Range;
static void range_add(Range *g, double x) {
    if (!isfinite(x)) return;
    if (!(g->lo <= x)) g->lo = x;
    if (!(g->hi >= x)) g->hi = x;
}
static void range_put(ResultsBuf *b, const Range *g) {
    if (!isfinite(g->lo)) results_buf_cat(b, "?");
    else if (g->lo == g->hi) results_buf_printf(b, "%.0f", g->lo);
    else results_buf_printf(b, "%.0f\xe2\x80\x93%.0f", g->lo, g->hi);
}

/* The panel's model line: "model 1a2b3c4d5e6f… · 2 layers, 2 heads, n_embd 64, 128 positions,
 * V 50257", or the models' digests when the task has several. NUL-terminated into b. Counts the
 * ok runs on a random-init model into pn. */
static void model_line(const Report *R, int task, ResultsBuf *b, ResultsPlotPanel *pn) {
    const char *shas[4];
    int n_sha = 0;
    const Row *shaped = NULL;
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        if (r->status != ST_OK || find_string(R->tasks, R->n_tasks, r->task) != task) continue;
        pn->n_runs_all++;
        pn->n_random_init += r->model && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->model, REC_MODEL_RANDOM_INIT));
        if (r->model && !shaped) shaped = r;
        int seen = 0;
        for (int k = 0; k < n_sha && r->model_sha; k++) seen |= strcmp(shas[k], r->model_sha) == 0;
        if (r->model_sha && !seen && n_sha < 4) shas[n_sha++] = r->model_sha;
    }
    if (n_sha == 0) results_buf_cat(b, "model: not in the records");
    else if (n_sha == 1) results_buf_printf(b, "model sha256 %.12s\xe2\x80\xa6", shas[0]);
    else {
        results_buf_printf(b, "%s%d models: ", n_sha == 4 ? "\xe2\x89\xa5 " : "", n_sha);
        for (int k = 0; k < n_sha; k++) results_buf_printf(b, "%s%.8s\xe2\x80\xa6", k ? ", " : "", shas[k]);
    }
    if (n_sha == 1 && shaped && shaped->model_sha && strcmp(shaped->model_sha, shas[0]) == 0) {
        const cJSON *m = shaped->model;
        results_buf_printf(b, " \xc2\xb7 %.0f layers, %.0f heads, n_embd %.0f, %.0f positions", num(m, REC_MODEL_N_LAYER),
                           num(m, REC_MODEL_N_HEAD), num(m, REC_MODEL_N_EMBD), num(m, REC_MODEL_N_POSITIONS));
        if (isfinite(shaped->vocab)) results_buf_printf(b, ", V %.0f", shaped->vocab);
    } else if (n_sha == 1) {
        results_buf_cat(b, " (shape: not in the records)");
    }
    results_buf_put(b, "", 1);
}

/* The panel's data line: "data: split 16-42 · train 32, dev 32 · test: 200 of 1821 examples
 * scored" (splits listed up to 4; sizes as ranges when they differ). NUL-terminated into b. */
static void data_line(const Report *R, int task, ResultsBuf *b) {
    char labels[4][64];
    int n_labels = 0, more = 0;
    Range tr = {NAN, NAN}, dv = {NAN, NAN}, te = {NAN, NAN}, sc = {NAN, NAN};
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        if (r->status != ST_OK || find_string(R->tasks, R->n_tasks, r->task) != task) continue;
        char label[64];
        split_label(r->train_path, label, sizeof label);
        int seen = 0;
        for (int k = 0; k < n_labels; k++) seen |= strcmp(labels[k], label) == 0;
        if (!seen && n_labels < 4) snprintf(labels[n_labels++], sizeof labels[0], "%s", label);
        else if (!seen) more = 1;
        const cJSON *f = r->data_files;
        range_add(&tr, num(cJSON_GetObjectItemCaseSensitive(f, REC_TRAIN), REC_DATA_EXAMPLES));
        range_add(&dv, num(cJSON_GetObjectItemCaseSensitive(f, REC_DEV), REC_DATA_EXAMPLES));
        range_add(&te, num(cJSON_GetObjectItemCaseSensitive(f, REC_TEST), REC_DATA_EXAMPLES));
        range_add(&sc, num(cJSON_GetObjectItemCaseSensitive(f, REC_TEST), REC_DATA_SCORED));
    }
    results_buf_printf(b, "data: split%s ", n_labels > 1 || more ? "s" : "");
    for (int k = 0; k < n_labels; k++) {
        if (k) results_buf_cat(b, ", ");
        results_buf_cut(b, labels[k], 20);
    }
    if (more) results_buf_cat(b, ", \xe2\x80\xa6");
    if (isfinite(tr.lo)) {
        results_buf_cat(b, " \xc2\xb7 train ");
        range_put(b, &tr);
        results_buf_cat(b, ", dev ");
        range_put(b, &dv);
        results_buf_cat(b, " examples \xc2\xb7 test: ");
        range_put(b, &sc);
        if (!(sc.lo == te.lo && sc.hi == te.hi)) results_buf_cat(b, " of "), range_put(b, &te);
        results_buf_cat(b, " scored");
    } else {
        results_buf_cat(b, " (sizes: not in the records)");
    }
    results_buf_put(b, "", 1);
}

static int svg(const Report *R, ResultsBuf *b, Err *err) {
    int show_length = 0;
    for (int i = 1; i < R->n_configs; i++) {
        const Config *c = &R->configs[i], *p = &R->configs[i - 1];
        if (c->task == p->task && c->method == p->method && c->length != p->length && !c->baseline) show_length = 1;
    }
    ResultsPlotPoint *pts = malloc((size_t)(R->n_configs ? R->n_configs : 1) * sizeof *pts);
    ResultsPlotPanel *panels = malloc((size_t)(R->n_tasks ? R->n_tasks : 1) * sizeof *panels);
    size_t *detail = malloc((size_t)(R->n_configs ? R->n_configs : 1) * sizeof *detail);   // offsets in details
    size_t *lines = malloc((size_t)(R->n_tasks ? R->n_tasks : 1) * 2 * sizeof *lines);        // offsets in heads
    ResultsBuf details = {0}, reps = {0}, cfg = {0}, heads = {0};
    int rc = -1;
    if (!pts || !panels || !detail || !lines) {
        err_fail(err, "frontier: out of memory (svg)");
        goto done;
    }
    int n = 0;
    for (int t = 0; t < R->n_tasks; t++) {
        ResultsPlotPanel *pn = &panels[t];
        memset(pn, 0, sizeof *pn);
        pn->title = R->tasks[t][0] ? R->tasks[t] : "(no task)";
        pn->chance = R->chance[t];
        pn->ln_vocab = R->ln_vocab;
        pn->points = pts + n;
        pn->hypervolume = R->hv + (size_t)t * (size_t)R->n_methods;
        pn->hypervolume_all = R->hv_all[t];
        pn->runs_min = 1 << 30;
        lines[2 * t] = heads.len;
        model_line(R, t, &heads, pn);
        lines[2 * t + 1] = heads.len;
        data_line(R, t, &heads);
        for (int i = 0; i < R->n_configs; i++) {
            const Config *c = &R->configs[i];
            if (c->task != t) continue;
            pn->n_failed += c->n_failed;
            pn->n_pending += c->n_pending;
            if (!c->n_ok) continue;
            if (c->n_ok < pn->runs_min) pn->runs_min = c->n_ok;
            if (c->n_ok > pn->runs_max) pn->runs_max = c->n_ok;
            detail[n] = details.len;
            put_detail(R, c, &details);
            pts[n++] = (ResultsPlotPoint){.method = c->method, .lambda = c->key->lambda, .prompt_length = c->length,
                                          .acc = c->st[M_ACC].mean, .acc_ci = c->st[M_ACC].ci95,
                                          .log_ppl = c->st[M_LOGPPL].mean, .log_ppl_ci = c->st[M_LOGPPL].ci95,
                                          .on_front = c->on_front, .on_front_all = c->on_front_all,
                                          .n_runs = c->n_ok, .n_collapsed = c->n_collapsed, .baseline = c->baseline,
                                          .identical = c->identical, .refined = c->refined};
            pn->n_points++;
        }
        if (pn->runs_max == 0) pn->runs_min = 0;
    }
    plot_words(R, &reps, &cfg);
    if (details.oom || reps.oom || cfg.oom || heads.oom) {
        err_fail(err, "frontier: out of memory (svg)");
        goto done;
    }
    for (int i = 0; i < n; i++) pts[i].detail = details.s + detail[i];   // the text is complete: no more moves
    for (int t = 0; t < R->n_tasks; t++) panels[t].model_line = heads.s + lines[2 * t], panels[t].data_line = heads.s + lines[2 * t + 1];
    ResultsPlot plot = {.methods = R->methods, .n_methods = R->n_methods, .panels = panels, .n_panels = R->n_tasks,
                        .show_length = show_length, .replicates = reps.len ? reps.s : NULL,
                        .config_keys = cfg.len ? cfg.s : NULL, .name = R->name};
    rc = results_svg(b, &plot, err);
done:
    free(pts);
    free(panels);
    free(detail);
    free(lines);
    results_buf_free(&heads);
    results_buf_free(&details);
    results_buf_free(&reps);
    results_buf_free(&cfg);
    return rc;
}

static void iso_date(char *out, size_t cap, long long t) {
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm)) snprintf(out, cap, "?");
}

static int sidecar(Report *R, const ResultsFrontierSummary *sum, ResultsBuf *b, Err *err) {
    const ResultsRunInfo *info = R->info;
    cJSON *j = cJSON_CreateObject();
    char date[64];
    cJSON_AddStringToObject(j, "generated_by", "sweep frontier (results/report.c)");
    iso_date(date, sizeof date, info->now);
    cJSON_AddStringToObject(j, "date", date);
    cJSON_AddStringToObject(j, "source", info->source ? info->source : "");
    cJSON_AddStringToObject(j, "spec_sha256", info->spec_sha256 ? info->spec_sha256 : "");
    cJSON_AddStringToObject(j, "model_sha256", info->model_sha256 ? info->model_sha256 : "");
    if (info->created > 0) {
        iso_date(date, sizeof date, info->created);
        cJSON_AddStringToObject(j, "journal_created", date);
    } else {
        cJSON_AddNullToObject(j, "journal_created");
    }
    if (info->damage) cJSON_AddStringToObject(j, "journal_damage", info->damage);
    else cJSON_AddNullToObject(j, "journal_damage");
    // successive halving: the screening runs of its lower rungs are not in the report (issue 16)
    cJSON_AddNumberToObject(j, "halving_lower_rung_runs_left_out", info->lower_rung_runs);

    cJSON *cv = cJSON_AddObjectToObject(j, "code_version");
    cJSON_AddStringToObject(cv, "report", RESULTS_FRONTIER_VERSION);
    cJSON_AddNumberToObject(cv, "journal_format", info->journal_version);
    cJSON *tunes = cJSON_AddArrayToObject(cv, "tune");
    for (int i = 0; i < R->n_rows; i++) {   // the distinct versions of tune that made the records, first seen first
        const char *v = R->rows[i].tune_version;
        int seen = !v;
        for (const cJSON *k = tunes ? tunes->child : NULL; k && !seen; k = k->next) seen = strcmp(k->valuestring, v) == 0;
        if (!seen) cJSON_AddItemToArray(tunes, cJSON_CreateString(v));
    }
    // what the sweep is and what reproduces it (issue 15): the spec's name, description and
    // tags, the invocations that made the journal, and what the records say they ran on
    cJSON_AddItemToObject(j, "about", R->about ? cJSON_Duplicate(R->about, 1) : cJSON_CreateNull());
    cJSON *runs = info->runs_json ? cJSON_Parse(info->runs_json) : NULL;
    cJSON_AddItemToObject(j, "runs", runs ? runs : cJSON_CreateNull());
    cJSON_AddItemToObject(j, "reproduce", reproduce(R));
    // what chose the frontiers and the best seeds: dev; test is only reported
    cJSON_AddStringToObject(j, "selection", "dev");

    cJSON *pts = cJSON_AddObjectToObject(j, "points");
    cJSON_AddNumberToObject(pts, "total", sum->n_points);
    cJSON_AddNumberToObject(pts, "ok", sum->n_ok);
    cJSON_AddNumberToObject(pts, "failed", sum->n_failed);
    cJSON_AddNumberToObject(pts, "pending", sum->n_pending);
    int collapsed = 0;
    for (int i = 0; i < R->n_rows; i++) collapsed += R->rows[i].status == ST_OK && R->rows[i].collapsed == 1;
    cJSON_AddNumberToObject(pts, "collapsed", collapsed);
    cJSON_AddNumberToObject(j, "configurations", sum->n_configs);
    // what makes a configuration (issue 13): every key of the point but the replicate keys
    cJSON *rk = cJSON_AddArrayToObject(j, "replicate_keys");
    for (int i = 0; i < R->n_replicates; i++) cJSON_AddItemToArray(rk, cJSON_CreateString(R->replicates[i]));
    cJSON *vk = cJSON_AddArrayToObject(j, "varying_keys");
    for (int k = 0; k < R->keys.list.n; k++)
        if (key_shown(&R->keys, k, KEYS_CONFIG)) cJSON_AddItemToArray(vk, cJSON_CreateString(R->keys.list.path[k]));

    cJSON *ref = cJSON_AddObjectToObject(j, "reference");
    cJSON_AddNumberToObject(ref, "log_ppl", R->ln_vocab);
    cJSON_AddNumberToObject(ref, "vocab_size", R->vocab);
    cJSON_AddStringToObject(ref, "vocab_source",
                            R->vocab_from_records ? "the records' \"" REC_VOCAB_SIZE "\""
                                                  : "GPT-2's vocabulary (50257): the records carry no vocabulary "
                                                    "size and every checkpoint here uses the GPT-2 tokenizer");
    cJSON *tasks = cJSON_AddObjectToObject(ref, "tasks");
    for (int t = 0; t < R->n_tasks; t++) {
        cJSON *o = cJSON_AddObjectToObject(tasks, R->tasks[t]);
        cJSON_AddNumberToObject(o, "chance_accuracy", R->chance[t]);
        cJSON_AddNumberToObject(o, "classes", R->classes[t]);
    }

    cJSON *def = cJSON_AddObjectToObject(j, "definitions");
    static const char *const DEFS[][2] = {
        {"selection", "dev: each frontier is chosen on dev means (acc_dev maximised, log_ppl minimised) and each best "
                      "seed on the dev objective; test is only reported, never used to choose"},
        {"configuration", "every key of the point (nested ones as dotted paths: pez.lr) except the replicate keys "
                          "(replicate_keys); its statistics are over its ok runs, one per combination of the replicate "
                          "keys' values (splits x seeds); varying_keys: the configuration keys beyond task, method, "
                          "lambda and prompt_length whose values differ between points of a task and method"},
        {"n_ok", "ok runs of a configuration, the n of its statistics; n_splits, n_seeds: the distinct splits (the "
                 "point's split, or its data files) and seeds among them"},
        {"baseline", "a configuration of method manual: a manual prompt (the empty prompt: the template alone); in "
                     "the tables and frontiers like any other, on the plot a labelled reference marker"},
        {"acc_dev", "accuracy of the tuned prompt (its token ids) on dev: what chooses the frontier; acc_test (capped at "
                    "max_test) is what the chosen configurations report"},
        {"acc_test_text", "test accuracy of the prompt's text pasted into the template and encoded again, as a reader "
                          "would use it (acc_test: the tuned ids)"},
        {"roundtrip", "1 when every test example's text, pasted into the template, encodes back to the tuned ids; "
                      "roundtrip_share: the share of test examples for which it does; n_roundtrip: ok seeds with 1"},
        {"bal_acc", "balanced accuracy: mean over the classes of the per-class recall"},
        {"class_acc", "per-class recall, space-separated in class order (nan: a class absent from the split); "
                      "class_acc_test_mean: each class's mean over the seeds"},
        {"majority_share_test", "the largest share of test examples predicted as one class"},
        {"collapsed", "1 when majority_share_test >= 0.95: the prompt predicts one label for almost everything; "
                      "n_collapsed: ok seeds whose record says so"},
        {"distinct_share", "share of distinct token ids among the prompt's ids (1: no repetition)"},
        {"obj_total", "the run's own objective on dev, which chose its prompt: w_task * obj_task (dev cross-entropy) + "
                      "w_interp * obj_interp (log-PPL); lower is better"},
        {"best_seed", "the seed of the ok run shown as best_prompt: the lowest obj_total (dev), then the higher acc_dev, "
                      "then the lower log_ppl, then the lower seed; a record without obj_total ranks after those with "
                      "one; no test data"},
        {"faith_gap", "acc_continuous - acc_projected: test accuracy lost when PEZ's soft prompt is projected onto "
                      "tokens (0 for discrete prompts)"},
        {"faith_kl", "mean KL(continuous || projected) of the label distributions"},
        {"ci95", "half-width t(0.975, n-1) * sd / sqrt(n) over the ok runs (seeds, or splits x seeds); empty for n < 2"},
        {"frontier", "non-dominated configurations on the means over their runs, chosen on dev: maximise acc_dev, "
                     "minimise log_ppl; exact duplicates are all on it; reported at their test means"},
        {"ci_overlaps_frontier", "1 on the frontier, or when (acc_dev_mean + acc_dev_ci95, log_ppl_mean - "
                                 "log_ppl_ci95) is not dominated by the dev frontier; 0 otherwise; empty with one seed"},
        {"on_frontier_test", "on_frontier_test, on_frontier_all_test: the same frontiers decided on test means "
                             "(acc_test): for comparison only, not what is published"},
        {"test_chosen", "the frontier decided on test means and its hypervolume at test means: for comparison only"},
        {"hypervolume", "area (accuracy x nats) dominated by the dev-chosen frontier's configurations at their test "
                        "means and dominating (chance accuracy, ln V); normalized: / ((1 - chance) ln V)"},
        {"hypervolume_dev", "the same area for the same configurations at their dev means"},
        {"reproduce", "the distinct values the records say they ran with (issue 15; records of older tunes say none): "
                      "code versions, hosts, OpenBLAS core and threads, precisions, models (sha256, shape, random_init: "
                      "the weights gpt2 init wrote), the splits' files (sha256, examples, test examples scored)"},
        {"runs", "the invocations that created the journal (its header): code version, rank 0's host, command line, "
                 "ranks; a merge's are its shards'"},
        {"per_seed_hypervolume", "per replicate (a seed, or a split and seed): its runs of the configurations, their "
                                 "frontier chosen on its dev accuracies, the hypervolume at its test accuracies; then "
                                 "n, mean, sd, ci95 over the replicates, with their seeds, values and replicate keys"},
    };
    for (size_t k = 0; k < sizeof DEFS / sizeof DEFS[0]; k++) cJSON_AddStringToObject(def, DEFS[k][0], DEFS[k][1]);
    cJSON_AddItemToObject(j, "frontiers", R->json_frontiers);   // moved into j
    R->json_frontiers = NULL;

    cJSON *failed = cJSON_AddArrayToObject(j, "failed");
    for (int i = 0; i < R->n_rows; i++) {
        const Row *r = &R->rows[i];
        if (r->status != ST_FAILED) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", r->ref->id ? r->ref->id : "");
        cJSON_AddStringToObject(o, "task", r->task ? r->task : "");
        cJSON_AddStringToObject(o, "method", r->method ? r->method : "");
        cJSON_AddItemToObject(o, "lambda", json_number(r->lambda));
        cJSON_AddItemToObject(o, "prompt_length", r->length >= 0 ? cJSON_CreateNumber(r->length) : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "seed", json_number(r->seed));
        cJSON_AddItemToObject(o, "keys", json_keys(r, KEYS_POINT));
        cJSON_AddNumberToObject(o, "attempts", r->ref->attempts);
        cJSON_AddStringToObject(o, "error", r->error);
        cJSON_AddItemToArray(failed, o);
    }
    cJSON *files = cJSON_AddArrayToObject(j, "files");
    for (int f = 0; f < RESULTS_N_FILES; f++) cJSON_AddItemToArray(files, cJSON_CreateString(RESULTS_FILE_NAMES[f]));

    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return err_fail(err, "frontier: out of memory (frontier.json)");
    results_buf_cat(b, text);
    results_buf_cat(b, "\n");
    cJSON_free(text);
    return 0;
}

// ----------------------------------------------------------------------------

int results_frontier_build(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n,
                           ResultsBuf out[RESULTS_N_FILES], ResultsFrontierSummary *sum, Err *err) {
    Report R;
    memset(&R, 0, sizeof R);
    R.info = info;
    memset(sum, 0, sizeof *sum);
    R.about = info->about_json ? cJSON_Parse(info->about_json) : NULL;
    R.name = str(R.about, "name");
    size_t nn = (size_t)(n > 0 ? n : 1);
    R.rows = calloc(nn, sizeof *R.rows);
    R.sorted = malloc(nn * sizeof *R.sorted);
    R.configs = malloc(nn * sizeof *R.configs);
    R.tasks = malloc(nn * sizeof *R.tasks);
    R.methods = malloc(nn * sizeof *R.methods);
    R.chance = malloc(nn * sizeof *R.chance);
    R.classes = malloc(nn * sizeof *R.classes);
    R.hv_all = malloc(nn * sizeof *R.hv_all);
    enum { N_SCRATCH = 9 };   // the double arrays of the frontier groups, below
    R.scratch = malloc(N_SCRATCH * nn * sizeof *R.scratch);
    R.onf = malloc(nn);
    R.front = malloc(nn * sizeof *R.front);
    R.seed_rows = malloc(nn * sizeof *R.seed_rows);
    R.json_frontiers = cJSON_CreateArray();
    int rc = -1;
    if (!R.rows || !R.sorted || !R.configs || !R.tasks || !R.methods || !R.chance || !R.classes || !R.hv_all ||
        !R.scratch || !R.onf || !R.front || !R.seed_rows || !R.json_frontiers) {
        err_fail(err, "frontier: out of memory");
        goto done;
    }
    double **carve[N_SCRATCH] = {&R.acc,      &R.acc_t,      &R.lp,      &R.sel_acc,    &R.sel_lp,
                                 &R.seed_acc, &R.seed_acc_t, &R.seed_lp, &R.seed_values};
    for (int k = 0; k < N_SCRATCH; k++) *carve[k] = R.scratch + (size_t)k * nn;
    for (int i = 0; i < n; i++) {
        parse_row(&R.rows[i], &recs[i], i);
        R.n_rows++;
        if (results_leaves(&R.rows[i].leaves, R.rows[i].pt)) {
            err_fail(err, "frontier: out of memory");
            goto done;
        }
        sum->n_ok += R.rows[i].status == ST_OK;
        sum->n_failed += R.rows[i].status == ST_FAILED;
        sum->n_pending += R.rows[i].status == ST_PENDING;
    }
    sum->n_points = n;
    if (find_keys(&R)) {
        err_fail(err, "frontier: out of memory");
        goto done;
    }
    build_configs(&R);
    size_t cells = (size_t)R.n_tasks * (size_t)R.n_methods;
    R.hv = malloc((cells ? cells : 1) * sizeof *R.hv);
    if (!R.hv) {
        err_fail(err, "frontier: out of memory");
        goto done;
    }
    if (reference(&R, err) || frontiers(&R, err)) goto done;
    sum->n_configs = R.n_configs;
    sum->n_tasks = R.n_tasks;
    for (int i = 0; i < R.n_configs; i++) sum->n_on_front += R.configs[i].on_front;

    points_csv(&R, &out[RESULTS_POINTS_CSV]);
    frontier_csv(&R, &out[RESULTS_FRONTIER_CSV]);
    if (svg(&R, &out[RESULTS_FRONTIER_SVG], err)) goto done;
    if (sidecar(&R, sum, &out[RESULTS_FRONTIER_JSON], err)) goto done;
    frontier_tex(&R, &out[RESULTS_FRONTIER_TEX]);
    rc = 0;
    for (int f = 0; f < RESULTS_N_FILES; f++)
        if (out[f].oom) rc = err_fail(err, "frontier: out of memory");
done:
    report_free(&R);
    return rc;
}

int results_frontier_write(const ResultsRunInfo *info, const ResultsRecordRef *recs, int n, const char *out_dir,
                           ResultsFrontierSummary *sum, Err *err) {
    ResultsBuf out[RESULTS_N_FILES];
    memset(out, 0, sizeof out);
    int rc = results_frontier_build(info, recs, n, out, sum, err);
    if (rc == 0) {
        const ResultsBuf *texts[RESULTS_N_FILES];
        for (int f = 0; f < RESULTS_N_FILES; f++) texts[f] = &out[f];
        rc = results_write_files(out_dir, RESULTS_FILE_NAMES, texts, RESULTS_N_FILES, err);
    }
    for (int f = 0; f < RESULTS_N_FILES; f++) results_buf_free(&out[f]);
    return rc;
}
