/* Threaded check / copy passes (see par.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "core/par.h"

/* 64 KB per chunk; below two chunks one thread does it (a parallel region is
 * a barrier, and the pass is only a few microseconds) */
#define CHUNK ((size_t)1 << 14)

static int threads_for(const sslk_ctx *ctx, size_t n) { return n >= 2 * CHUNK ? ssli_threads(ctx) : 1; }

/* exponent bits all ones = NaN / Inf; the integer OR vectorises, the exact
 * scan runs only on a chunk that has a bad value */
static size_t chunk_first_bad(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    if (!bad) return SIZE_MAX;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return SIZE_MAX;
}

size_t ssli_par_first_nonfinite(const sslk_ctx *ctx, const float *x, size_t n, float *dst) {
    const long long nch = (long long)((n + CHUNK - 1) / CHUNK);
    size_t first = SIZE_MAX;
#pragma omp parallel for schedule(static) num_threads(threads_for(ctx, n)) reduction(min : first)
    for (long long k = 0; k < nch; k++) {
        size_t lo = (size_t)k * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        if (dst) memcpy(dst + lo, x + lo, len * sizeof(float));
        size_t b = chunk_first_bad(x + lo, len);
        if (b != SIZE_MAX && lo + b < first) first = lo + b;
    }
    return first;
}

sslk_status ssli_par_check_finite(const sslk_ctx *ctx, const float *x, size_t rows, size_t cols, float *dst,
                                  const char *fn, const char *arg) {
    size_t n;
    if (ssli_mul_overflow(rows, cols, &n))
        return ssli_err(SSLK_E_OVERFLOW, "%s: '%s' size %zu x %zu overflows", fn, arg, rows, cols);
    size_t i = ssli_par_first_nonfinite(ctx, x, n, dst);
    if (i == SIZE_MAX) return SSLK_OK;
    return ssli_err(SSLK_E_NONFINITE, "%s: '%s' has a non-finite value (%g) at row %zu, column %zu", fn, arg,
                    (double)x[i], cols ? i / cols : 0, cols ? i % cols : 0);
}

void ssli_par_copy(const sslk_ctx *ctx, float *dst, const float *src, size_t n) {
    const long long nch = (long long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) num_threads(threads_for(ctx, n))
    for (long long k = 0; k < nch; k++) {
        size_t lo = (size_t)k * CHUNK, len = n - lo < CHUNK ? n - lo : CHUNK;
        memcpy(dst + lo, src + lo, len * sizeof(float));
    }
}
