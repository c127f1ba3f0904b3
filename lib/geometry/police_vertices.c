/* POLICE vertex helpers: box corners, simplex, polygon in a 2-D slice.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "geometry/police_internal.h"

sslk_status sslk_police_box_vertices(const double *lo, const double *hi, size_t d, float *out,
                                     size_t cap, size_t *c) {
    static const char fn[] = "sslk_police_box_vertices";
    SSLI_CHECK_PTR(lo, fn);
    SSLI_CHECK_PTR(hi, fn);
    SSLI_CHECK_PTR(c, fn);
    if (d == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'd' must be >= 1", fn);
    if (d > SSLK_POLICE_BOX_MAX_DIM)
        return ssli_err(SSLK_E_UNSUPPORTED,
                        "%s: a box in d = %zu dimensions has 2^%zu corners; at most d = %d is "
                        "accepted (use sslk_police_simplex_vertices for high dimensions)",
                        fn, d, d, SSLK_POLICE_BOX_MAX_DIM);
    for (size_t i = 0; i < d; i++)
        if (!isfinite(lo[i]) || !isfinite(hi[i]) || !(lo[i] < hi[i]) || fabs(lo[i]) > 3e38 ||
            fabs(hi[i]) > 3e38)
            return ssli_err(SSLK_E_INVALID_ARG, "%s: side %zu [%g, %g] is not a finite interval lo < hi",
                            fn, i, lo[i], hi[i]);
    const size_t n = (size_t)1 << d;
    *c = n;
    if (cap < n) return ssli_err(SSLK_E_RANGE, "%s: 'cap' = %zu < %zu corners", fn, cap, n);
    SSLI_CHECK_PTR(out, fn);
    for (size_t j = 0; j < n; j++)
        for (size_t i = 0; i < d; i++) out[j * d + i] = (float)((j >> i) & 1 ? hi[i] : lo[i]);
    return SSLK_OK;
}

sslk_status sslk_police_simplex_vertices(const float *x0, size_t d, double r, float *out) {
    static const char fn[] = "sslk_police_simplex_vertices";
    SSLI_CHECK_PTR(out, fn);
    if (d == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'd' must be >= 1", fn);
    if (d > SIZE_MAX / (d + 1)) return ssli_err(SSLK_E_OVERFLOW, "%s: 'd' = %zu overflows", fn, d);
    if (!isfinite(r) || r == 0.0 || fabs(r) > 1e30)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'r' = %g must be finite and nonzero", fn, r);
    if (x0) SSLI_TRY(ssli_check_finite_f32(x0, 1, d, fn, "x0"));
    for (size_t j = 0; j <= d; j++)
        for (size_t i = 0; i < d; i++) {
            double v = x0 ? x0[i] : 0.0;
            if (j > 0 && i == j - 1) v += r;
            out[j * d + i] = (float)v;
        }
    return SSLK_OK;
}

sslk_status sslk_police_polygon_vertices(const float *origin, const float *directions, size_t d,
                                         const double *uv, size_t n, float *out) {
    static const char fn[] = "sslk_police_polygon_vertices";
    SSLI_CHECK_PTR(directions, fn);
    SSLI_CHECK_PTR(uv, fn);
    SSLI_CHECK_PTR(out, fn);
    if (d < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu; a slice needs d >= 2", fn, d);
    if (n < 3) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = %zu; a polygon needs >= 3 points", fn, n);
    if (origin) SSLI_TRY(ssli_check_finite_f32(origin, 1, d, fn, "origin"));
    SSLI_TRY(ssli_check_finite_f32(directions, 2, d, fn, "directions"));
    for (size_t i = 0; i < 2 * n; i++)
        if (!isfinite(uv[i]) || fabs(uv[i]) > 1e30)
            return ssli_err(SSLK_E_NONFINITE, "%s: 'uv' value %zu = %g is not finite", fn, i, uv[i]);
    /* independence: |d1|^2 |d2|^2 - (d1.d2)^2 > 0 relative */
    double a = 0, b = 0, ab = 0;
    for (size_t i = 0; i < d; i++) {
        a += (double)directions[i] * directions[i];
        b += (double)directions[d + i] * directions[d + i];
        ab += (double)directions[i] * directions[d + i];
    }
    if (!(a * b - ab * ab > 1e-12 * a * b))
        return ssli_err(SSLK_E_DEGENERATE, "%s: the two directions are parallel or zero", fn);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < d; i++)
            out[k * d + i] = (float)((origin ? (double)origin[i] : 0.0) +
                                     uv[2 * k] * directions[i] + uv[2 * k + 1] * directions[d + i]);
    return SSLK_OK;
}
