/*
 * mpi/farm_codec.c: the zlib framing of results on the wire (and in the
 * journal): zlib stream of the raw bytes + their CRC32 + their length. The
 * receiver trusts nothing: the stream must inflate to exactly raw_len bytes,
 * end where the buffer ends, and match the CRC32.
 *
 * No MPI here, so the unit test links this without starting MPI.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

#include "mpi/farm.h"

// zlib's level 6: its default, a good ratio at a good speed.
#define FARM_ZLIB_LEVEL 6

/* CRC32 of any length: crc32_z takes a size_t length (zlib >= 1.2.9). */
static uint32_t crc32_of(const void *src, size_t len) {
    return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), (const Bytef *)src, len);
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
    if (zrc != Z_STREAM_END) return err_fail(err, "farm_compress: zlib error %d on %zu bytes", zrc, len);
    *out_len = room - out_left - zs->avail_out;
    return 0;
}

int farm_compress(const void *src, size_t len, void **dst, size_t *dst_len, uint32_t *crc32,
                  Err *err) {
    *dst = NULL;
    *dst_len = 0;
    if (!src && len) return err_fail(err, "farm_compress: NULL source of %zu bytes", len);
    int window_bits, mem_level;
    deflate_sizes(len, &window_bits, &mem_level);
    z_stream zs = {0};
    if (deflateInit2(&zs, FARM_ZLIB_LEVEL, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return err_fail(err, "farm_compress: deflateInit2 failed");
    size_t room = deflateBound(&zs, (uLong)len);
    Bytef *out = malloc(room);
    if (!out) {
        deflateEnd(&zs);
        return err_fail(err, "farm_compress: out of memory for %zu bytes", room);
    }
    int rc = deflate_all(&zs, src, len, out, room, dst_len, err);
    deflateEnd(&zs);
    if (rc) {
        free(out);
        return -1;
    }
    *dst = out;
    *crc32 = crc32_of(src, len);
    return 0;
}

/* Inflates the whole of src into exactly raw_len bytes at out, feeding zlib
 * at most UINT_MAX bytes at a time (its counters are 32-bit). */
static int inflate_exact(const void *src, size_t len, size_t raw_len, Bytef *out, Err *err) {
    z_stream zs = {0};
    if (inflateInit(&zs) != Z_OK) return err_fail(err, "farm_decompress: inflateInit failed");
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
    inflateEnd(&zs);
    if (zrc == Z_STREAM_END) {
        if (produced != raw_len)
            return err_fail(err, "farm_decompress: %zu bytes inflated, header says %zu", produced, raw_len);
        if (unread) return err_fail(err, "farm_decompress: %zu stray bytes after the zlib stream", unread);
        return 0;
    }
    if (zrc == Z_MEM_ERROR) return err_fail(err, "farm_decompress: zlib out of memory");
    if (zrc == Z_DATA_ERROR || zrc == Z_NEED_DICT || zrc == Z_STREAM_ERROR)
        return err_fail(err, "farm_decompress: corrupt zlib stream (%s)", zs.msg ? zs.msg : "no detail");
    if (zs.avail_out == 0 && !out_left)
        return err_fail(err, "farm_decompress: inflates to more than the %zu bytes the header says", raw_len);
    return err_fail(err, "farm_decompress: truncated zlib stream (%zu bytes, %zu inflated of %zu)", len,
                produced, raw_len);
}

int farm_decompress(const void *src, size_t len, size_t raw_len, uint32_t crc32, void **dst,
                    Err *err) {
    *dst = NULL;
    if (!src && len) return err_fail(err, "farm_decompress: NULL source of %zu bytes", len);
    Bytef *out = malloc(raw_len ? raw_len : 1);   // malloc(0) may be NULL; callers free *dst
    if (!out) return err_fail(err, "farm_decompress: out of memory for %zu bytes", raw_len);
    if (inflate_exact(src, len, raw_len, out, err)) {
        free(out);
        return -1;
    }
    uint32_t got = crc32_of(out, raw_len);
    if (got != crc32) {
        free(out);
        return err_fail(err, "farm_decompress: CRC32 mismatch (%08x computed, %08x expected) on %zu bytes", got,
                    crc32, raw_len);
    }
    *dst = out;
    return 0;
}
