/* Gather helpers for evaluation across ranks (probe on gathered features).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist_internal.h"

sslk_status sslk_dist_rows(sslk_ctx *ctx, size_t n, size_t *total) {
    const char *fn = "sslk_dist_rows";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(total, fn);
    const sslk_dist *t = ssli_dist(ctx);
    if (!t) {
        *total = n;
        return SSLK_OK;
    }
    size_t *counts = ssli_malloc(ctx, (size_t)t->world_size, sizeof(size_t));
    if (!counts) return ssli_alloc_status();
    sslk_status s = ssli_dist_counts(ctx, t, n, counts, total, fn);
    ssli_free(ctx, counts);
    return s;
}

/* Gather count elements per rank of el bytes through the f64 or f32 path. */
static sslk_status gather_any(sslk_ctx *ctx, const void *x, size_t n, size_t width, void *out, bool i32,
                              const char *fn) {
    const sslk_dist *t = ssli_dist(ctx);
    size_t el = i32 ? sizeof(int32_t) : sizeof(float), cnt;
    if (ssli_mul_overflow(n, width, &cnt)) return ssli_err(SSLK_E_OVERFLOW, "%s: n x d overflows", fn);
    if (!t) {
        if (cnt) memcpy(out, x, cnt * el);
        return SSLK_OK;
    }
    size_t W = (size_t)t->world_size, total;
    size_t *counts = ssli_malloc(ctx, W, sizeof(size_t));
    if (!counts) return ssli_alloc_status();
    sslk_status s = ssli_dist_counts(ctx, t, n, counts, &total, fn);
    for (size_t r = 0; s == SSLK_OK && r < W; r++) counts[r] *= width;
    if (s == SSLK_OK && !i32) s = ssli_dist_allgatherv_f32(t, x, cnt, out, counts, fn);
    if (s == SSLK_OK && i32) {
        /* labels travel as doubles (exact for every int32) */
        double *buf = ssli_malloc(ctx, total + cnt + 1, sizeof(double));
        if (!buf) s = ssli_alloc_status();
        for (size_t i = 0; s == SSLK_OK && i < cnt; i++) buf[total + i] = ((const int32_t *)x)[i];
        if (s == SSLK_OK) s = ssli_dist_allgatherv_f64(t, buf + total, cnt, buf, counts, fn);
        for (size_t i = 0; s == SSLK_OK && i < total; i++) ((int32_t *)out)[i] = (int32_t)buf[i];
        ssli_free(ctx, buf);
    }
    ssli_free(ctx, counts);
    return s;
}

sslk_status sslk_dist_gather_rows(sslk_ctx *ctx, const float *x, size_t n, size_t d, float *out) {
    const char *fn = "sslk_dist_gather_rows";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    if (n && !x) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'x' is NULL with n = %zu", fn, n);
    return gather_any(ctx, x, n, d, out, false, fn);
}

sslk_status sslk_dist_gather_i32(sslk_ctx *ctx, const int32_t *x, size_t n, int32_t *out) {
    const char *fn = "sslk_dist_gather_i32";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    if (n && !x) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'x' is NULL with n = %zu", fn, n);
    return gather_any(ctx, x, n, 1, out, true, fn);
}
