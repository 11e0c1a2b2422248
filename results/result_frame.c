// results/result_frame.c: the payload of a JOURNAL_RESULT frame,
//     u8 status | 64 hex id | u32 raw length (LE) | u32 CRC32 of the raw record (LE) | zlib stream
// The record travels compressed, as the worker sent it: a zlib frame (util.h).
// Decoding checks it against its own length and CRC (zframe_decompress), so a
// record is either exact or refused.
#include <stdlib.h>
#include <string.h>

#include "results/results_internal.h"

#define RESULT_HEADER_BYTES (1u + 64u + 4u + 4u)

// A point id: exactly 64 lowercase hex digits (a sha256), so one point has one spelling.
static int point_id_valid(const char *id, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
    }
    return 1;
}

int result_frame_encode(int failed, const char id[65], const void *zrecord, size_t zlen,
                        size_t raw_len, uint32_t raw_crc, void **payload, size_t *payload_len,
                        Err *err) {
    *payload = NULL;
    *payload_len = 0;
    if (!id || strnlen(id, 65) != 64 || !point_id_valid(id, 64))
        return err_fail(err, "result frame: the point id is not 64 lowercase hex digits");
    if (!zrecord || zlen == 0) return err_fail(err, "result frame for %.12s: no compressed record", id);
    if (raw_len > UINT32_MAX)
        return err_fail(err, "result frame for %.12s: a record of %zu bytes is over 4 GiB", id, raw_len);
    if (zlen > JOURNAL_MAX_PAYLOAD - RESULT_HEADER_BYTES)
        return err_fail(err, "result frame for %.12s: %zu compressed bytes do not fit a journal frame", id, zlen);
    unsigned char *p = malloc(RESULT_HEADER_BYTES + zlen);
    if (!p) return err_fail(err, "result frame for %.12s: out of memory", id);
    p[0] = failed ? 1 : 0;
    memcpy(p + 1, id, 64);
    put_u32le(p + 65, (uint32_t)raw_len);
    put_u32le(p + 69, raw_crc);
    memcpy(p + RESULT_HEADER_BYTES, zrecord, zlen);
    *payload = p;
    *payload_len = RESULT_HEADER_BYTES + zlen;
    return 0;
}

int result_frame_decode(const void *payload, size_t len, int *failed, char id[65], char **record,
                        Err *err) {
    *record = NULL;
    const unsigned char *p = payload;
    if (!p || len <= RESULT_HEADER_BYTES)
        return err_fail(err, "result frame: %zu bytes, too short (the header alone is %u)", len,
                            RESULT_HEADER_BYTES);
    if (p[0] > 1) return err_fail(err, "result frame: status byte %u is neither 0 (ok) nor 1 (failed)", p[0]);
    if (!point_id_valid((const char *)p + 1, 64))
        return err_fail(err, "result frame: the point id is not 64 lowercase hex digits");
    char pid[65];
    memcpy(pid, p + 1, 64);
    pid[64] = '\0';
    uint32_t raw_len = get_u32le(p + 65), raw_crc = get_u32le(p + 69);
    const unsigned char *z = p + RESULT_HEADER_BYTES;
    size_t zlen = len - RESULT_HEADER_BYTES;
    void *rec = NULL;
    Err why;
    if (zframe_decompress(z, zlen, raw_len, raw_crc, &rec, &why))
        return err_fail(err, "result frame for %.12s: %s", pid, why.msg);
    if (memchr(rec, '\0', raw_len)) {
        free(rec);
        return err_fail(err, "result frame for %.12s: the record holds a NUL byte, so it is no JSON text", pid);
    }
    *failed = p[0];
    memcpy(id, pid, 65);
    *record = rec;
    return 0;
}
