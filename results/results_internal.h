/*
 * results/results_internal.h: what the files of results/ share; not part of
 * the contract (results.h).
 */
#ifndef RESULTS_INTERNAL_H
#define RESULTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "results/results.h"

// little-endian 32-bit fields of the journal's frames
static inline void put_u32le(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

static inline uint32_t get_u32le(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
