/* Closed-form SSL: queries of a fit and its use as a model (apply to new data).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "linalg/linalg.h"
#include "theory_internal.h"

static sslk_status need_fit(const sslk_cfssl *h, const char *fn) {
    if (!h) return ssli_err(SSLK_E_INVALID_ARG, "%s: the sslk_cfssl handle is NULL", fn);
    if (!h->fitted) return ssli_err(SSLK_E_STATE, "%s: the solver has not been fitted", fn);
    return SSLK_OK;
}

sslk_status sslk_cfssl_shape(const sslk_cfssl *h, size_t *in_dim, size_t *out_dim) {
    SSLI_TRY(need_fit(h, "sslk_cfssl_shape"));
    if (in_dim) *in_dim = h->d;
    if (out_dim) *out_dim = h->k;
    return SSLK_OK;
}

sslk_status sslk_cfssl_spectrum(const sslk_cfssl *h, double *mu, size_t cap, size_t *count, size_t *collapsed) {
    static const char *fn = "sslk_cfssl_spectrum";
    SSLI_TRY(need_fit(h, fn));
    SSLI_CHECK_PTR(count, fn);
    *count = h->r;
    if (mu)
        for (size_t j = 0; j < cap && j < h->r; j++) mu[j] = h->mu[j];
    if (collapsed) {
        size_t c = 0;
        for (size_t j = 0; j < h->k; j++) c += !(h->mu[j] > 0);
        *collapsed = c;
    }
    return SSLK_OK;
}

sslk_status sslk_cfssl_apply(const sslk_cfssl *h, const float *x, size_t n, float *out) {
    static const char *fn = "sslk_cfssl_apply";
    SSLI_TRY(need_fit(h, fn));
    SSLI_CHECK_PTR(x, fn);
    SSLI_CHECK_PTR(out, fn);
    if (n == 0) return SSLK_OK;
    size_t tmp;
    if (ssli_mul3_overflow(n, h->d, sizeof(float), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x d = %zu x %zu overflows", fn, n, h->d);
    SSLI_TRY(ssli_check_finite_f32(x, n, h->d, fn, "x"));
    size_t r = h->r, k = h->k, width = h->kernel == SSLK_CFSSL_LINEAR ? 0 : h->p + h->d;
    size_t per = r > width ? r : width, bs = ((size_t)1 << 20) / (per + k);
    if (bs == 0) bs = 1;
    if (bs > n) bs = n;
    double *F = ssli_malloc(h->ctx, bs * r, sizeof(double));
    double *Y = ssli_malloc(h->ctx, bs * k, sizeof(double));
    double *scratch = width ? ssli_malloc(h->ctx, bs * width, sizeof(double)) : NULL;
    sslk_status st = SSLK_OK;
    if (!F || !Y || (width && !scratch)) {
        st = ssli_alloc_status();
        goto done;
    }
    for (size_t i0 = 0; i0 < n; i0 += bs) {
        size_t rows = n - i0 < bs ? n - i0 : bs;
        ssli_cfssl_features(h, x + i0 * h->d, rows, F, scratch);
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < r; j++) F[i * r + j] -= h->mean[j];
        ssli_dgemm(h->ctx, false, true, rows, k, r, 1.0, F, r, h->theta, r, 0.0, Y, k);
        for (size_t i = 0; i < rows * k; i++) out[i0 * k + i] = (float)Y[i];
    }
done:
    ssli_free(h->ctx, F);
    ssli_free(h->ctx, Y);
    ssli_free(h->ctx, scratch);
    return st;
}

sslk_status sslk_cfssl_linear_map(const sslk_cfssl *h, float *theta, float *mean) {
    static const char *fn = "sslk_cfssl_linear_map";
    SSLI_TRY(need_fit(h, fn));
    SSLI_CHECK_PTR(theta, fn);
    if (h->kernel != SSLK_CFSSL_LINEAR)
        return ssli_err(SSLK_E_STATE, "%s: the fit uses the Gaussian kernel; it has no linear map (use apply)", fn);
    for (size_t i = 0; i < h->k * h->r; i++) theta[i] = (float)h->theta[i];
    if (mean)
        for (size_t j = 0; j < h->r; j++) mean[j] = (float)h->mean[j];
    return SSLK_OK;
}
