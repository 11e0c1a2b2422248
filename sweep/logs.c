// sweep/logs.c: a failed attempt's log on its way from the worker to OUT/logs (sweep.h, "Logs"):
// the result bytes that carry it beside the record, its file name, and the record that names it.
// The worker never writes into OUT (a worker node may not see it): rank 0 writes every log.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep/sweep.h"
#include "util/record.h"

int sweep_record_failed(const char *record, size_t len) {
    cJSON *r = cJSON_ParseWithLength(record, len);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, REC_STATUS));
    int failed = !(st && strcmp(st, REC_STATUS_OK) == 0);
    cJSON_Delete(r);
    return failed;
}

/* The record first and alone when there is no log, so that an ok result's bytes are its record
 * and the farm's zlib frame of them goes to the journal as received (rank 0 compresses nothing
 * for an ok point); a NUL cannot occur in the record (JSON text, escaped by cJSON, and tune's
 * stdout is read as a C string), so it can separate the log. */
int sweep_result_encode(const char *record, const char *log, size_t log_len, char **out, size_t *out_len, Err *err) {
    size_t rl = strlen(record), n = rl + (log ? 1 + log_len : 0);
    char *buf = malloc(n + 1);
    if (!buf) return err_fail(err, "sweep: out of memory");
    memcpy(buf, record, rl);
    if (log) {
        buf[rl] = '\0';
        memcpy(buf + rl + 1, log, log_len);
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return 0;
}

void sweep_result_split(const void *raw, size_t raw_len, size_t *record_len, const char **log, size_t *log_len) {
    const char *nul = memchr(raw, '\0', raw_len);
    *record_len = nul ? (size_t)(nul - (const char *)raw) : raw_len;
    *log = nul ? nul + 1 : NULL;
    *log_len = nul ? raw_len - *record_len - 1 : 0;
}

void sweep_log_name(const char *id, int attempt, char *name, size_t cap) {
    snprintf(name, cap, "%s/%s.%d.log", SWEEP_LOGS_DIR, id, attempt);
}

char *sweep_record_with_log(const char *record, size_t len, const char *log_name) {
    cJSON *r = cJSON_ParseWithLength(record, len);
    if (!cJSON_IsObject(r)) {   // not a record the worker would send: left as it is
        cJSON_Delete(r);
        char *same = malloc(len + 1);
        if (same) {
            memcpy(same, record, len);
            same[len] = '\0';
        }
        return same;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(r, REC_LOG);
    cJSON_AddStringToObject(r, REC_LOG, log_name);
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}
