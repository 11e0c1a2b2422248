// sweep/meta.c: what a sweep's journal header says about the sweep beyond its points (issue
// 15): the spec's "name", "description" and "tags" ("about"), and the invocation that created
// the journal ("runs": code version, host of rank 0, command line, rank count). Neither is
// part of a point's id; the report copies both into frontier.json and names the sweep in the
// plot's title.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"

/* Bounds that keep a header small and a plot's title readable; a spec past them is refused
 * with the limit named (not cut silently: a cut description would misquote its author). */
#define ABOUT_NAME_MAX 200
#define ABOUT_DESCRIPTION_MAX 4000
#define ABOUT_TAGS_MAX 32
#define ABOUT_TAG_MAX 64

static int text_field(const cJSON *v, const char *key, size_t max, Err *err) {
    if (!cJSON_IsString(v) || !v->valuestring[0]) return err_fail(err, "spec: \"%s\" must be a non-empty string", key);
    if (strlen(v->valuestring) > max) return err_fail(err, "spec: \"%s\" is over %zu bytes", key, max);
    return 0;
}

int sweep_about_parse(SweepSpec *s, const cJSON *root, Err *err) {
    s->about = NULL;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    const cJSON *description = cJSON_GetObjectItemCaseSensitive(root, "description");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (!name && !description && !tags) return 0;
    if (name && text_field(name, "name", ABOUT_NAME_MAX, err)) return -1;
    if (description && text_field(description, "description", ABOUT_DESCRIPTION_MAX, err)) return -1;
    if (tags) {
        if (!cJSON_IsArray(tags)) return err_fail(err, "spec: \"tags\" must be an array of strings");
        if (cJSON_GetArraySize(tags) > ABOUT_TAGS_MAX) return err_fail(err, "spec: \"tags\": more than %d", ABOUT_TAGS_MAX);
        int i = 0;
        for (const cJSON *t = tags->child; t; t = t->next, i++) {
            char key[32];
            snprintf(key, sizeof key, "tags[%d]", i);
            if (text_field(t, key, ABOUT_TAG_MAX, err)) return -1;
            for (const cJSON *u = tags->child; u != t; u = u->next)
                if (strcmp(u->valuestring, t->valuestring) == 0) return err_fail(err, "spec: tags[%d] repeats \"%s\"", i, t->valuestring);
        }
    }
    // in a fixed key order, whatever the spec's: the header says the same for the same values
    cJSON *a = cJSON_CreateObject();
    if (a && name) cJSON_AddStringToObject(a, "name", name->valuestring);
    if (a && description) cJSON_AddStringToObject(a, "description", description->valuestring);
    if (a && tags) cJSON_AddItemToObject(a, "tags", cJSON_Duplicate(tags, 1));
    s->about = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s->about ? 0 : err_fail(err, "spec: out of memory");
}

char *sweep_run_json(int ranks, int argc, char *const *argv) {
    cJSON *r = cJSON_CreateObject();
    char host[256];
    util_host_name(host, sizeof host);
    cJSON_AddStringToObject(r, "code_version", util_code_version());
    cJSON_AddStringToObject(r, "host", host);
    cJSON *cmd = cJSON_AddArrayToObject(r, "command");
    for (int i = 0; i < argc && cmd; i++) cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i] ? argv[i] : ""));
    cJSON_AddNumberToObject(r, "ranks", ranks);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

char *sweep_header_json(const SweepSpec *s, const SweepRunOptions *o, long long created) {
    char shard[160];
    sweep_shard_header_keys(s, shard, sizeof shard);
    // the header is written once: "runs" names the invocation that created the journal
    char *run = sweep_run_json(o->ranks, o->argc, o->argv);
    char *runs = run ? malloc(strlen(run) + 3) : NULL;
    if (runs) snprintf(runs, strlen(run) + 3, "[%s]", run);
    char *meta = runs ? sweep_header_meta(s, runs) : NULL;
    size_t cap = (meta ? strlen(meta) : 0) + strlen(s->replicates) + sizeof shard + 256;
    char *header = meta ? malloc(cap) : NULL;
    if (header)
        snprintf(header, cap,
                 "{\"spec_sha256\":\"%s\",\"version\":%d,\"created\":%lld,\"model_sha256\":\"%s\","
                 "\"replicates\":%s%s%s}",
                 s->spec_sha256, SWEEP_JOURNAL_VERSION, created, s->model_sha256, s->replicates, shard, meta);
    free(run);
    free(runs);
    free(meta);
    return header;
}

char *sweep_header_meta(const SweepSpec *s, const char *runs_json) {
    size_t cap = (s->about ? strlen(s->about) : 0) + (runs_json ? strlen(runs_json) : 0) + 32;
    char *out = malloc(cap);
    if (!out) return NULL;
    int n = 0;
    out[0] = '\0';
    if (s->about) n += snprintf(out + n, cap - (size_t)n, ",\"about\":%s", s->about);
    if (runs_json) snprintf(out + n, cap - (size_t)n, ",\"runs\":%s", runs_json);
    return out;
}
