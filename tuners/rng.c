// tuners/rng.c: the one seeded generator of tuners/ (splitmix64), so that a
// point and its seed give the same record on every machine.
#include <math.h>

#include "tuners/tuners.h"

void rng_seed(Rng *r, uint64_t seed) { r->s = seed; }

uint64_t rng_u64(Rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

int rng_below(Rng *r, int n) { return (int)(rng_uniform(r) * n); }

double rng_normal(Rng *r) { // Box-Muller; one of the pair is dropped to keep no state
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
