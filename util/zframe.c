/*
 * util/zframe.c: the zlib frame (see util.h): the zlib stream of the raw
 * bytes with their CRC32 and length, the form a result takes on the farm's
 * wire and in the journal. The reader trusts nothing: the stream must inflate
 * to exactly raw_len bytes, end where the buffer ends, and match the CRC32.
 */
#include <limits.h>
#include <stdlib.h>
#include <zlib.h>

#include "util/util.h"

// zlib's level 6: its default, a good ratio at a good speed.
#define ZFRAME_LEVEL 6
// Deflate cannot do better than about 1032:1, so a frame that claims more raw
// bytes than this from its compressed size (plus a little for a tiny stream)
// is a lie, refused before allocating what it claims.
#define ZFRAME_MAX_RATIO 1100u
#define ZFRAME_RATIO_SLACK 64u

uint32_t zframe_crc32(uint32_t crc, const void *data, size_t len) {
    // crc32_z(c, NULL, 0) is 0, not c: nothing to add leaves crc as it is
    if (len == 0) return crc;
    return (uint32_t)crc32_z(crc, (const Bytef *)data, len);
}

/* zlib's window and hash table for len bytes: a window as large as the input
 * (up to zlib's 32 KB: no match is lost) and a hash table to match. compress2
 * sets up 256 KB and clears 64 KB of it whatever the size, which costs more
 * than compressing a small result (a JSON record) itself. */
static void deflate_sizes(size_t len, int *window_bits, int *mem_level) {
    int w = 9;   // zlib's smallest window for deflate
    while (w < 15 && ((size_t)1 << w) < len) w++;
    *window_bits = w;
    *mem_level = w - 6 < 1 ? 1 : w - 6 > 8 ? 8 : w - 6;   // 8, zlib's default, from 16 KB up
}

/* Deflates src whole into out (room for deflateBound bytes), feeding zlib at
 * most UINT_MAX bytes at a time (its counters are 32-bit); *out_len: bytes made. */
static int deflate_all(z_stream *zs, const void *src, size_t len, Bytef *out, size_t room, size_t *out_len,
                       Err *err) {
    const Bytef *in = src;
    size_t in_left = len, out_left = room;
    zs->next_out = out;
    int zrc = Z_OK;
    while (zrc == Z_OK) {
        if (zs->avail_in == 0 && in_left) {
            zs->next_in = (Bytef *)in;
            zs->avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in += zs->avail_in;
            in_left -= zs->avail_in;
        }
        if (zs->avail_out == 0 && out_left) {
            zs->avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            out_left -= zs->avail_out;
        }
        zrc = deflate(zs, in_left ? Z_NO_FLUSH : Z_FINISH);
    }
    if (zrc != Z_STREAM_END) return err_fail(err, "zlib frame: zlib error %d compressing %zu bytes", zrc, len);
    *out_len = room - out_left - zs->avail_out;
    return 0;
}

int zframe_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32, Err *err) {
    *dst = NULL;
    *dst_len = 0;
    if (!src && len) return err_fail(err, "zlib frame: NULL source of %zu bytes", len);
    int window_bits, mem_level;
    deflate_sizes(len, &window_bits, &mem_level);
    z_stream zs = {0};
    if (deflateInit2(&zs, ZFRAME_LEVEL, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return err_fail(err, "zlib frame: deflateInit2 failed");
    size_t room = deflateBound(&zs, (uLong)len);
    Bytef *out = malloc(room);
    if (!out) {
        deflateEnd(&zs);
        return err_fail(err, "zlib frame: out of memory for %zu bytes", room);
    }
    int rc = deflate_all(&zs, src, len, out, room, dst_len, err);
    deflateEnd(&zs);
    if (rc) {
        free(out);
        return -1;
    }
    *dst = out;
    *crc32 = zframe_crc32(0, src, len);
    return 0;
}

/* Inflates the whole of src into exactly raw_len bytes at out, feeding zlib
 * at most UINT_MAX bytes at a time (its counters are 32-bit). */
static int inflate_exact(const void *src, size_t len, size_t raw_len, Bytef *out, Err *err) {
    z_stream zs = {0};
    if (inflateInit(&zs) != Z_OK) return err_fail(err, "zlib frame: inflateInit failed");
    const Bytef *in = src;
    size_t in_left = len, out_left = raw_len;
    zs.next_out = out;
    int zrc = Z_OK;
    while (zrc == Z_OK) {
        if (zs.avail_in == 0 && in_left) {
            zs.next_in = (Bytef *)in;
            zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
            in += zs.avail_in;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0 && out_left) {
            zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
            out_left -= zs.avail_out;
        }
        zrc = inflate(&zs, Z_NO_FLUSH);
        // no progress possible: input used up (truncated) or output full (longer than raw_len)
        if (zrc == Z_BUF_ERROR || (zrc == Z_OK && zs.avail_in == 0 && !in_left && zs.avail_out)) break;
    }
    size_t produced = raw_len - out_left - zs.avail_out;
    size_t unread = zs.avail_in + in_left;
    const char *why = zs.msg ? zs.msg : "no detail";
    inflateEnd(&zs);
    if (zrc == Z_STREAM_END) {
        if (produced != raw_len)
            return err_fail(err, "zlib frame: the stream inflates to %zu bytes, its frame says %zu", produced, raw_len);
        if (unread) return err_fail(err, "zlib frame: %zu stray bytes after the zlib stream", unread);
        return 0;
    }
    if (zrc == Z_MEM_ERROR) return err_fail(err, "zlib frame: zlib out of memory");
    if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT || zrc == Z_STREAM_ERROR)
        return err_fail(err, "zlib frame: corrupt or incomplete stream (%s)", why);
    // stuck with the output full: more data follows (with input left) or the stream is cut short
    if (produced == raw_len && unread)
        return err_fail(err, "zlib frame: the data is longer than its stated %zu bytes", raw_len);
    return err_fail(err, "zlib frame: corrupt or incomplete stream (truncated: %zu bytes inflate to %zu of %zu)", len,
                    produced, raw_len);
}

int zframe_decompress(const void *src, size_t len, size_t raw_len, uint32_t crc32, void **dst, Err *err) {
    *dst = NULL;
    if (!src && len) return err_fail(err, "zlib frame: NULL source of %zu bytes", len);
    size_t most = len > (SIZE_MAX - 1 - ZFRAME_RATIO_SLACK) / ZFRAME_MAX_RATIO
                      ? SIZE_MAX - 1   // room for the NUL
                      : len * ZFRAME_MAX_RATIO + ZFRAME_RATIO_SLACK;
    if (raw_len > most)
        return err_fail(err, "zlib frame: the frame claims %zu bytes from only %zu compressed bytes", raw_len, len);
    Bytef *out = malloc(raw_len + 1);   // + the NUL after the bytes
    if (!out) return err_fail(err, "zlib frame: out of memory for %zu bytes", raw_len);
    if (inflate_exact(src, len, raw_len, out, err)) {
        free(out);
        return -1;
    }
    uint32_t got = zframe_crc32(0, out, raw_len);
    if (got != crc32) {
        free(out);
        return err_fail(err, "zlib frame: CRC32 mismatch (%08x computed, %08x expected) on %zu bytes", got, crc32,
                        raw_len);
    }
    out[raw_len] = 0;
    *dst = out;
    return 0;
}
