/*
 * mpi/farm_internal.h: what farm.c and farm_codec.c share; not part of the
 * contract (farm.h). results/ has its own copy of such a helper
 * (results/results_internal.h): the two folders know nothing of each other.
 */
#ifndef FARM_INTERNAL_H
#define FARM_INTERNAL_H

#include "mpi/farm.h"

// Formats the message into err (when there is one); returns -1. In farm_codec.c (no MPI).
int farm_errf(FarmErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
