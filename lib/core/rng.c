/* Counter-based random numbers: a draw is a pure function of (key, counter).
 * The bijective mixer is splitmix64's finaliser applied to a Weyl sequence
 * keyed by the stream, which passes BigCrush for this use (SplitMix, Steele
 * et al. 2014) and makes per-element draws trivially parallel.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

uint64_t ssli_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t ssli_rng_key(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t k = ssli_mix64(seed + 0x9e3779b97f4a7c15ULL);
    k = ssli_mix64(k ^ (a + 0x632be59bd9b4e019ULL));
    k = ssli_mix64(k ^ (b + 0x85157af5ULL * 0x100000001ULL));
    return k;
}

uint64_t ssli_rng_u64(uint64_t key, uint64_t counter) {
    /* Two rounds so that nearby counters under nearby keys decorrelate. */
    uint64_t z = ssli_mix64(key ^ ssli_mix64(counter * 0x9e3779b97f4a7c15ULL + key));
    return z;
}

double ssli_rng_uniform(uint64_t key, uint64_t counter) {
    return (double)(ssli_rng_u64(key, counter) >> 11) * 0x1.0p-53;
}

double ssli_rng_normal(uint64_t key, uint64_t counter) {
    /* Box-Muller on two sub-draws of the same counter: the result depends on
     * one counter only, so element i of a tensor always gets the same value. */
    uint64_t c2 = counter * 2;
    double u1 = ((double)(ssli_rng_u64(key, c2) >> 11) + 0.5) * 0x1.0p-53; /* (0,1) */
    double u2 = (double)(ssli_rng_u64(key, c2 + 1) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

__extension__ typedef unsigned __int128 ssli_u128;

uint64_t ssli_rng_below(uint64_t key, uint64_t counter, uint64_t n) {
    if (n <= 1) return 0;
    /* Lemire's multiply-shift; rejection on a derived counter keeps it unbiased. */
    uint64_t x = ssli_rng_u64(key, counter);
    ssli_u128 m = (ssli_u128)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = (0 - n) % n;
        uint64_t j = 1;
        while (lo < t) {
            x = ssli_rng_u64(key ^ 0xa5a5a5a5a5a5a5a5ULL, counter * 131 + j++);
            m = (ssli_u128)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void ssli_rng_shuffle(ssli_rng *r, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ssli_rng_next_below(r, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}
