/* SPDX-License-Identifier: BSD-3-Clause */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 11;
}

void tu_fill_uniform_d(double *x, size_t n, unsigned seed, double lo, double hi) {
    uint64_t s = seed * 2654435761ULL + 1;
    for (int i = 0; i < 4; i++) lcg(&s);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (double)lcg(&s) * 0x1.0p-53;
}

void tu_fill_uniform(float *x, size_t n, unsigned seed, float lo, float hi) {
    uint64_t s = seed * 2654435761ULL + 1;
    for (int i = 0; i < 4; i++) lcg(&s);
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * (double)lcg(&s) * 0x1.0p-53);
}

void tu_fill_normal_d(double *x, size_t n, unsigned seed) {
    uint64_t s = seed * 2654435761ULL + 7;
    for (int i = 0; i < 4; i++) lcg(&s);
    for (size_t i = 0; i < n; i++) {
        double u1 = ((double)lcg(&s) + 0.5) * 0x1.0p-53, u2 = (double)lcg(&s) * 0x1.0p-53;
        x[i] = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
    }
}

int tu_run(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int nf = srunner_ntests_failed(sr);
    srunner_free(sr);
    return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
