/*
 * results/results_internal.h: what the files of results/ share; not part of
 * the contract (results.h). mpi/ has its own copies of such helpers
 * (mpi/farm_internal.h): the two folders know nothing of each other.
 */
#ifndef RESULTS_INTERNAL_H
#define RESULTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "results/results.h"

// Formats the message into err (when there is one); returns -1.
int results_errf(ResultsErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// write() until all n bytes are out (EINTR retried); -1 with errno set (EIO for a
// write that makes no progress). Defined in journal.c.
int results_write_all(int fd, const void *data, size_t n);
// fsync a directory, so that the entries just created or renamed in it are durable;
// best effort (some filesystems refuse, and need none). Defined in journal.c.
void results_sync_directory(const char *dir);

// little-endian 32-bit fields of the journal's frames
static inline void put_u32le(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
