// util/rng.c: the one seeded generator (see util.h), so that a seed gives the
// same model, prompt and record on every machine.
#include <math.h>

#include "util/util.h"

uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    r->s = seed;
    r->have_spare = 0;
    r->spare = 0.0;
}

uint64_t rng_u64(Rng *r) { return splitmix64(&r->s); }

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

int rng_below(Rng *r, int n) { return (int)(rng_uniform(r) * n); }

double rng_normal(Rng *r) {
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = 1.0 - rng_uniform(r);   // (0, 1]: log(u1) is finite
    double u2 = rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1)), angle = 6.283185307179586 * u2;
    r->spare = radius * sin(angle);
    r->have_spare = 1;
    return radius * cos(angle);
}
