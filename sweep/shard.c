// sweep/shard.c: a sweep cut into shards (one per Slurm array task) and the exact merge of
// the shards' journals into the journal the whole grid's sweep would have written (the
// contract is in sweep.h, "shards and their merge").
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results/results.h"
#include "sweep/sweep.h"

int sweep_shard_parse(const char *arg, int *shard, int *n_shards, Err *err) {
    char *end = NULL;
    errno = 0;
    long i = strtol(arg, &end, 10);
    if (end == arg || *end != '/' || errno) return err_fail(err, "--shard wants I/N (shard I of N, 0 <= I < N), not \"%s\"", arg);
    const char *rest = end + 1;
    long n = strtol(rest, &end, 10);
    if (end == rest || *end || errno) return err_fail(err, "--shard wants I/N (shard I of N, 0 <= I < N), not \"%s\"", arg);
    if (n < 1 || n > 1000000 || i < 0 || i >= n)
        return err_fail(err, "--shard %s: I must be in 0..N-1 and N at least 1", arg);
    *shard = (int)i;
    *n_shards = (int)n;
    return 0;
}

int sweep_shard_select(SweepSpec *s, int shard, int n_shards, Err *err) {
    if (n_shards < 1 || shard < 0 || shard >= n_shards) return err_fail(err, "sweep: bad shard %d/%d", shard, n_shards);
    int kept = 0;
    for (int i = 0; i < s->n_points; i++) {
        if (s->points[i].index % n_shards == shard) s->points[kept++] = s->points[i];
        else free(s->points[i].point_json);
    }
    s->grid_points = s->n_points;
    s->n_points = kept;
    s->shard = shard;
    s->n_shards = n_shards;
    char dir[SWEEP_PATH];
    int n = snprintf(dir, sizeof dir, "%s/shard-%d-of-%d", s->out_dir, shard, n_shards);
    if (n < 0 || (size_t)n >= sizeof dir) return err_fail(err, "sweep: the shard's directory name is too long");
    memcpy(s->out_dir, dir, (size_t)n + 1);
    return 0;
}

void sweep_shard_header_keys(const SweepSpec *s, char *buf, size_t cap) {
    if (s->n_shards <= 0) {
        if (cap) buf[0] = '\0';
        return;
    }
    snprintf(buf, cap, ",\"shard\":%d,\"shards\":%d,\"grid_points\":%d,\"retries\":%d", s->shard, s->n_shards,
             s->grid_points, s->retries);
}

// ----------------------------------------------------------------------------
// a shard's journal, read for the merge

typedef struct {
    char id[65];
    int grid_index;
    char *point;          // the POINT frame's "point" exactly as written (owned)
    int n_ok, n_failed;
} MergePoint;

typedef struct {
    int type;
    size_t len;
    unsigned char *payload;   // owned
} MergeFrame;

typedef struct {
    const char *dir;
    int have_header;
    char spec_sha256[65], model_sha256[65];
    char replicates[512];     // the header's "replicates" as compact JSON ("" none: a shard from before them)
    char *about, *runs;       // the header's "about" and "runs" as compact JSON (owned; NULL: none)
    double created;
    int version, shard, shards, grid_points, retries;
    MergePoint *points;
    int n_points, cap_points;
    SweepIdIndex by_id;       // id -> index in points
    MergeFrame *frames;       // DISPATCH and RESULT frames, journal order
    int n_frames, cap_frames;
    Journal *lock;            // held while merging: no sweep writes the shard meanwhile
} Shard;

static int rfail(Err *err, const char *msg) {
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return -1;
}

static int find_point(const Shard *sh, const char *id) {
    return sweep_id_get(&sh->by_id, id);
}

/* An integer of a header, in 0..2^30 (a grid of over a billion points is not one of ours): a
 * crafted or damaged header must not overflow the arithmetic below. */
static int json_int(const cJSON *j, const char *key, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= (double)(1 << 30)) ||
        v->valuedouble != floor(v->valuedouble))
        return -1;
    *out = (int)v->valuedouble;
    return 0;
}

static int copy_sha(const cJSON *j, const char *key, char out[65]) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
    if (!v || strlen(v) != 64) return -1;
    memcpy(out, v, 65);
    return 0;
}

static int on_header(Shard *sh, const cJSON *j, Err *err) {
    if (sh->have_header) return rfail(err, "a second header frame");
    sh->have_header = 1;
    if (copy_sha(j, "spec_sha256", sh->spec_sha256) || copy_sha(j, "model_sha256", sh->model_sha256))
        return rfail(err, "a header without spec_sha256 or model_sha256");
    char *replicates = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "replicates"));
    if (replicates) snprintf(sh->replicates, sizeof sh->replicates, "%s",
                             strlen(replicates) < sizeof sh->replicates ? replicates : "(too long)");
    free(replicates);
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(j, "created");
    sh->created = cJSON_IsNumber(created) ? created->valuedouble : 0;
    const cJSON *about = cJSON_GetObjectItemCaseSensitive(j, "about"), *runs = cJSON_GetObjectItemCaseSensitive(j, "runs");
    sh->about = cJSON_IsObject(about) ? cJSON_PrintUnformatted(about) : NULL;
    sh->runs = cJSON_IsArray(runs) ? cJSON_PrintUnformatted(runs) : NULL;
    if (json_int(j, "version", &sh->version)) sh->version = 1;
    if (json_int(j, "shards", &sh->shards))
        return rfail(err, "not a shard's journal (its header has no \"shards\"): merge the directories of "
                          "`sweep --shard I/N` runs");
    if (json_int(j, "shard", &sh->shard) || json_int(j, "grid_points", &sh->grid_points) ||
        json_int(j, "retries", &sh->retries))
        return rfail(err, "a shard header without shard, grid_points or retries");
    return 0;
}

static int on_point(Shard *sh, const void *payload, size_t len, const cJSON *j, Err *err) {
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
    int index = -1, grid_index = -1;
    if (!id || strlen(id) != 64 || json_int(j, "index", &index) || json_int(j, "grid_index", &grid_index))
        return rfail(err, "a POINT frame without id, index or grid_index (not written by a shard's sweep)");
    if (index != sh->n_points) return rfail(err, "POINT frames out of order");
    if (find_point(sh, id) >= 0) return rfail(err, "a point journaled twice");
    // the point's JSON as written: the frame ends with ,"point":<json>}
    static const char key[] = ",\"point\":";
    const char *text = payload, *at = NULL;
    for (size_t i = 0; i + sizeof key - 1 < len; i++)
        if (memcmp(text + i, key, sizeof key - 1) == 0) { at = text + i + sizeof key - 1; break; }
    if (!at || text[len - 1] != '}') return rfail(err, "a POINT frame whose \"point\" is not last");
    size_t plen = (size_t)(text + len - 1 - at);
    if (util_grow(&sh->points, &sh->cap_points, sh->n_points, sizeof *sh->points, 64))
        return rfail(err, "out of memory");
    MergePoint *p = &sh->points[sh->n_points];
    memset(p, 0, sizeof *p);
    if (!(p->point = malloc(plen + 1))) return rfail(err, "out of memory");
    memcpy(p->point, at, plen);
    p->point[plen] = '\0';
    memcpy(p->id, id, 65);
    p->grid_index = grid_index;
    if (sweep_id_put(&sh->by_id, id, sh->n_points)) {
        free(p->point);
        return rfail(err, "out of memory");
    }
    sh->n_points++;
    return 0;
}

static int keep_frame(Shard *sh, int type, const void *payload, size_t len, Err *err) {
    if (util_grow(&sh->frames, &sh->cap_frames, sh->n_frames, sizeof *sh->frames, 256))
        return rfail(err, "out of memory");
    MergeFrame *f = &sh->frames[sh->n_frames];
    if (!(f->payload = malloc(len ? len : 1))) return rfail(err, "out of memory");
    memcpy(f->payload, payload, len);
    f->len = len;
    f->type = type;
    sh->n_frames++;
    return 0;
}

static int visit(void *user, int type, const void *payload, size_t len, Err *err) {
    Shard *sh = user;
    if (type == JOURNAL_RESULT) {
        int failed = 0;
        char id[65];
        char *record = NULL;
        if (result_frame_decode(payload, len, &failed, id, &record, err)) return -1;
        free(record);
        int i = find_point(sh, id);
        if (i < 0) return rfail(err, "a result for a point never journaled");
        if (failed) sh->points[i].n_failed++;
        else sh->points[i].n_ok++;
        return keep_frame(sh, type, payload, len, err);
    }
    cJSON *j = cJSON_ParseWithLength(payload, len);
    if (!j) return rfail(err, "a frame whose JSON does not parse");
    int rc = 0;
    if (type != JOURNAL_HEADER && !sh->have_header) rc = rfail(err, "frames before the header");
    else if (type == JOURNAL_HEADER) rc = on_header(sh, j, err);
    else if (type == JOURNAL_POINT) rc = on_point(sh, payload, len, j, err);
    else if (type == JOURNAL_DISPATCH) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
        if (!id || find_point(sh, id) < 0) rc = rfail(err, "a dispatch of a point never journaled");
        else rc = keep_frame(sh, type, payload, len, err);
    }
    cJSON_Delete(j);
    return rc;
}

static void shard_free(Shard *sh) {
    for (int i = 0; i < sh->n_points; i++) free(sh->points[i].point);
    for (int i = 0; i < sh->n_frames; i++) free(sh->frames[i].payload);
    free(sh->points);
    free(sh->frames);
    sweep_id_free(&sh->by_id);
    free(sh->about);
    free(sh->runs);
    if (sh->lock) journal_close(sh->lock);
    memset(sh, 0, sizeof *sh);
}

static int join(char *out, size_t cap, const char *dir, const char *name);

static int file_exists(const char *dir, const char *name) {
    char path[PATH_MAX];
    if (join(path, sizeof path, dir, name)) return 0;
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int shard_read(Shard *sh, const char *dir, Err *err) {
    memset(sh, 0, sizeof *sh);
    sh->dir = dir;
    if (!file_exists(dir, "journal")) return err_fail(err, "merge: %s: no sweep journal here", dir);
    Err rerr = {{0}};
    if (journal_open(&sh->lock, dir, &rerr)) return err_fail(err, "merge: %s: %s", dir, rerr.msg);
    int64_t bad = -1;
    if (journal_replay(dir, visit, sh, &bad, &rerr)) return err_fail(err, "merge: %s/journal: %s", dir, rerr.msg);
    if (bad >= 0)
        return err_fail(err, "merge: %s/journal is damaged (%s); run that shard again first (a torn tail is cut on resume)",
                          dir, rerr.msg);
    if (!sh->have_header) return err_fail(err, "merge: %s: no sweep journal here (empty journal)", dir);
    if (sh->shards <= 0 || sh->shard < 0 || sh->shard >= sh->shards || sh->grid_points < 0)
        return err_fail(err, "merge: %s: a shard header with shard %d of %d", dir, sh->shard, sh->shards);
    return 0;
}

// ----------------------------------------------------------------------------
// the checks

static int check_shards(Shard *sh, int n, Err *err) {
    const Shard *a = &sh[0];
    for (int s = 1; s < n; s++) {
        const Shard *b = &sh[s];
        if (strcmp(a->spec_sha256, b->spec_sha256) != 0)
            return err_fail(err, "merge: %s and %s are shards of different specs (spec sha256 %.12s... and %.12s...)",
                              a->dir, b->dir, a->spec_sha256, b->spec_sha256);
        if (strcmp(a->model_sha256, b->model_sha256) != 0)
            return err_fail(err, "merge: %s and %s are shards with different models (model sha256 %.12s... and %.12s...)",
                              a->dir, b->dir, a->model_sha256, b->model_sha256);
        if (strcmp(a->replicates, b->replicates) != 0)
            return err_fail(err, "merge: %s and %s are shards with different replicates (%s and %s): run every shard "
                                 "with the same sweep", a->dir, b->dir, a->replicates[0] ? a->replicates : "none",
                            b->replicates[0] ? b->replicates : "none");
        if (a->version != b->version)
            return err_fail(err, "merge: %s and %s are journals of versions %d and %d (their point ids differ): "
                                 "run every shard with the same sweep", a->dir, b->dir, a->version, b->version);
        if (a->shards != b->shards || a->grid_points != b->grid_points || a->retries != b->retries)
            return err_fail(err, "merge: %s is shard %d of %d (%d grid points), %s is shard %d of %d (%d grid points)",
                              a->dir, a->shard, a->shards, a->grid_points, b->dir, b->shard, b->shards, b->grid_points);
    }
    int N = a->shards;
    for (int s = 0; s < n; s++)
        for (int t = s + 1; t < n; t++)
            if (sh[s].shard == sh[t].shard)
                return err_fail(err, "merge: %s and %s are both shard %d of %d (overlapping shards)", sh[s].dir,
                                  sh[t].dir, sh[s].shard, N);
    for (int i = 0; i < N; i++) {
        int found = 0;
        for (int s = 0; s < n && !found; s++) found = sh[s].shard == i;
        if (!found)
            return err_fail(err, "merge: shard %d of %d is missing (%d shard director%s given): give every shard's directory",
                              i, N, n, n == 1 ? "y" : "ies");
    }
    // every grid point once, where the shard's rule puts it
    for (int s = 0; s < n; s++) {
        const Shard *x = &sh[s];
        long long want = x->grid_points > x->shard ? ((long long)x->grid_points - x->shard + N - 1) / N : 0;
        if (x->n_points != want)
            return err_fail(err, "merge: %s (shard %d of %d) holds %d points, not the %lld of its share of %d",
                              x->dir, x->shard, N, x->n_points, want, x->grid_points);
        for (int k = 0; k < x->n_points; k++) {
            const MergePoint *p = &x->points[k];
            if (p->grid_index != x->shard + k * N)
                return err_fail(err, "merge: %s: point %d has grid index %d, not %d", x->dir, k, p->grid_index,
                                  x->shard + k * N);
            if (p->n_ok == 0 && p->n_failed <= x->retries)
                return err_fail(err, "merge: %s: point %d (grid index %d, id %.12s...) has not finished (%d failed "
                                       "attempts, no ok); run that shard again to finish it before merging",
                                  x->dir, k, p->grid_index, p->id, p->n_failed);
        }
    }
    // no point in two shards (ids are unique within one journal)
    for (int s = 0; s < n; s++)
        for (int t = s + 1; t < n; t++)
            for (int k = 0; k < sh[s].n_points; k++)
                if (find_point(&sh[t], sh[s].points[k].id) >= 0)
                    return err_fail(err, "merge: point %.12s... is in both %s and %s (overlapping shards)",
                                      sh[s].points[k].id, sh[s].dir, sh[t].dir);
    return 0;
}

// ----------------------------------------------------------------------------
// writing the merged journal

static int read_whole(const char *path, unsigned char **data, size_t *len) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 0;
    unsigned char *buf = NULL;
    for (;;) {
        if (*len + 65536 > cap) {
            cap = 2 * cap + 65536;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) { free(buf); fclose(f); return -1; }
            buf = grown;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(buf); return -1; }
    *data = buf;
    return 0;
}

static int append(Journal *j, int type, const void *payload, size_t len, int sync, Err *err) {
    Err rerr;
    if (journal_append(j, type, payload, len, sync, &rerr)) return err_fail(err, "merge: %s", rerr.msg);
    return 0;
}

/* The merged header's ",\"about\":{...},\"runs\":[...]": shard 0's about, every shard's runs in
 * shard order (keys a shard lacks, from before issue 15, are left out). malloc'd; NULL: no memory. */
static char *merged_meta(const Shard *const *by_index, int n) {
    cJSON *runs = cJSON_CreateArray();
    int any = 0;
    for (int i = 0; i < n && runs; i++) {
        cJSON *r = by_index[i]->runs ? cJSON_Parse(by_index[i]->runs) : NULL;
        for (cJSON *x = r ? r->child : NULL; x; x = x->next, any = 1) cJSON_AddItemToArray(runs, cJSON_Duplicate(x, 1));
        cJSON_Delete(r);
    }
    char *runs_text = runs && any ? cJSON_PrintUnformatted(runs) : NULL;
    cJSON_Delete(runs);
    const char *about = by_index[0]->about;
    size_t cap = (about ? strlen(about) : 0) + (runs_text ? strlen(runs_text) : 0) + 32;
    char *out = malloc(cap);
    if (out) {
        int k = 0;
        out[0] = '\0';
        if (about) k += snprintf(out, cap, ",\"about\":%s", about);
        if (runs_text) snprintf(out + k, cap - (size_t)k, ",\"runs\":%s", runs_text);
    }
    free(runs_text);
    return out;
}

/* The merged journal into TMP/journal. */
static int write_merged(const char *tmp, Shard *sh, int n, Err *err) {
    Journal *j = NULL;
    Err rerr;
    if (journal_open(&j, tmp, &rerr)) return err_fail(err, "merge: %s", rerr.msg);
    int N = sh[0].shards, T = sh[0].grid_points;
    const Shard *by_index[n];
    double created = sh[0].created;
    for (int s = 0; s < n; s++) {
        by_index[sh[s].shard] = &sh[s];
        if (sh[s].created < created) created = sh[s].created;
    }
    int total_frames = 0;
    for (int s = 0; s < n; s++) total_frames += sh[s].n_frames;
    char replicates[600] = "";
    if (sh[0].replicates[0]) snprintf(replicates, sizeof replicates, ",\"replicates\":%s", sh[0].replicates);
    // issue 15: the spec's about (one spec: every shard's is the same) and the runs that made
    // the shards, in shard order; from the shards alone, so that merging twice writes the same
    // bytes (a merge that is already there is kept)
    char *meta = merged_meta(by_index, N);
    size_t hcap = (meta ? strlen(meta) : 0) + sizeof replicates + 512;
    char *header = meta ? malloc(hcap) : NULL;
    if (!header) {
        free(meta);
        journal_close(j);
        return err_fail(err, "merge: out of memory");
    }
    int hl = snprintf(header, hcap, "{\"spec_sha256\":\"%s\",\"version\":%d,\"created\":%lld,\"model_sha256\":\"%s\"%s%s}",
                      sh[0].spec_sha256, sh[0].version, (long long)created, sh[0].model_sha256, replicates, meta);
    free(meta);
    int rc = append(j, JOURNAL_HEADER, header, (size_t)hl, T == 0 && total_frames == 0, err);
    free(header);
    for (int g = 0; g < T && rc == 0; g++) {
        const MergePoint *p = &by_index[g % N]->points[g / N];
        size_t cap = strlen(p->point) + 160;
        char *frame = malloc(cap);
        if (!frame) { rc = err_fail(err, "merge: out of memory"); break; }
        int fl = snprintf(frame, cap, "{\"id\":\"%s\",\"index\":%d,\"point\":%s}", p->id, g, p->point);
        rc = append(j, JOURNAL_POINT, frame, (size_t)fl, g == T - 1 && total_frames == 0, err);
        free(frame);
    }
    int written = 0;
    for (int i = 0; i < N && rc == 0; i++) {
        const Shard *x = by_index[i];
        for (int f = 0; f < x->n_frames && rc == 0; f++) {
            written++;
            rc = append(j, x->frames[f].type, x->frames[f].payload, x->frames[f].len, written == total_frames, err);
        }
    }
    journal_close(j);
    return rc;
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

static int join(char *out, size_t cap, const char *dir, const char *name) {
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static void remove_tmp(const char *tmp) {
    char path[PATH_MAX];
    if (join(path, sizeof path, tmp, "journal") == 0) unlink(path);
    if (join(path, sizeof path, tmp, "lock") == 0) unlink(path);
    rmdir(tmp);
}

/* Under OUT's lock: the merge into OUT/.merge-tmp, then renamed to OUT/journal; an
 * OUT/journal that holds the same bytes already is kept. Returns 1 when it was already there. */
static int install(const char *out, Shard *sh, int n, Err *err) {
    char tmp[PATH_MAX], tmp_journal[PATH_MAX], out_journal[PATH_MAX];
    if (join(tmp, sizeof tmp, out, ".merge-tmp") || join(tmp_journal, sizeof tmp_journal, tmp, "journal") ||
        join(out_journal, sizeof out_journal, out, "journal"))
        return err_fail(err, "merge: %.200s: path too long", out);
    Journal *lock = NULL;
    Err rerr;
    if (journal_open(&lock, out, &rerr)) return err_fail(err, "merge: %s", rerr.msg);
    // looked at under the lock (journal_open leaves an empty journal where there was none)
    struct stat st;
    int had = stat(out_journal, &st) == 0 && st.st_size > 0;
    remove_tmp(tmp);   // a merge that died half-way
    int rc = 0;
    if (mkdir(tmp, 0755) != 0) rc = err_fail(err, "merge: cannot create %s: %s", tmp, strerror(errno));
    if (rc == 0) rc = write_merged(tmp, sh, n, err);
    if (rc == 0 && had) {
        unsigned char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        if (read_whole(out_journal, &a, &la) || read_whole(tmp_journal, &b, &lb))
            rc = err_fail(err, "merge: cannot read %s back", out_journal);
        else if (la != lb || memcmp(a, b, la) != 0)
            rc = err_fail(err, "merge: %s already holds a journal that is not this merge; remove it, or merge into "
                                 "another directory", out_journal);
        else
            rc = 1;
        free(a);
        free(b);
    } else if (rc == 0) {
        if (rename(tmp_journal, out_journal) != 0)
            rc = err_fail(err, "merge: cannot rename %s to %s: %s", tmp_journal, out_journal, strerror(errno));
        else
            sync_dir(out);
    }
    remove_tmp(tmp);
    journal_close(lock);
    return rc;
}

int sweep_merge(const char *out_dir, const char *const *shard_dirs, int n_dirs, Err *err) {
    if (n_dirs < 1) return err_fail(err, "merge: no shard directories given");
    Err derr;
    if (util_make_dirs(out_dir, &derr)) return err_fail(err, "merge: %s", derr.msg);
    Shard *sh = calloc((size_t)n_dirs, sizeof *sh);
    if (!sh) return err_fail(err, "merge: out of memory");
    int rc = 0;
    for (int s = 0; s < n_dirs && rc == 0; s++) {
        char a[PATH_MAX], b[PATH_MAX];
        for (int t = 0; t < s && rc == 0; t++)
            if (realpath(shard_dirs[s], a) && realpath(shard_dirs[t], b) && strcmp(a, b) == 0)
                rc = err_fail(err, "merge: %s is given twice (overlapping shards)", shard_dirs[s]);
    }
    for (int s = 0; s < n_dirs && rc == 0; s++) rc = shard_read(&sh[s], shard_dirs[s], err);
    if (rc == 0) rc = check_shards(sh, n_dirs, err);
    int done = 0, failed = 0, frames = 0;
    if (rc == 0) {
        for (int s = 0; s < n_dirs; s++) {
            frames += sh[s].n_frames;
            for (int k = 0; k < sh[s].n_points; k++) {
                if (sh[s].points[k].n_ok) done++;
                else failed++;
            }
        }
        rc = install(out_dir, sh, n_dirs, err);
    }
    if (rc >= 0)
        fprintf(stderr, "sweep: merge: %d shards, %d points (%d done, %d failed for good), %d dispatch and result frames: "
                        "%s/journal%s\n",
                n_dirs, sh[0].grid_points, done, failed, frames, out_dir, rc == 1 ? " (already merged: unchanged)" : "");
    for (int s = 0; s < n_dirs; s++) shard_free(&sh[s]);
    free(sh);
    if (rc < 0) return -1;
    Err ferr = {{0}};
    if (sweep_frontier(out_dir, NULL, &ferr))
        return err_fail(err, "merge: %s/journal is merged, but the frontier: %.900s", out_dir, ferr.msg);
    return 0;
}
