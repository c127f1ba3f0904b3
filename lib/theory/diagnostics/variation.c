/* Variation scores of a representation (minimal-variations paper, design
 * note 6.2): graph variation of embeddings over given edges, augmentation
 * variation of a model under Gaussian input noise, and the Dirichlet energy
 * of a model by central finite differences (no autograd needed, so any
 * model works; cost 2 d forwards of n rows).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/model_internal.h"
#include "theory/theory_internal.h"

sslk_status sslk_graph_variation(sslk_ctx *ctx, const float *z, size_t n, size_t k, const int64_t *src,
                                 const int64_t *dst, const float *w, size_t num_edges, double *value) {
    static const char *fn = "sslk_graph_variation";
    (void)ctx;
    SSLI_CHECK_PTR(z, fn);
    SSLI_CHECK_PTR(src, fn);
    SSLI_CHECK_PTR(dst, fn);
    SSLI_CHECK_PTR(value, fn);
    if (n < 1 || k < 1) return ssli_err(SSLK_E_SHAPE, "%s: n = %zu, k = %zu; both must be >= 1", fn, n, k);
    if (num_edges < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'num_edges' = 0", fn);
    size_t tmp;
    if (ssli_mul_overflow(n, k, &tmp)) return ssli_err(SSLK_E_OVERFLOW, "%s: n x k = %zu x %zu overflows", fn, n, k);
    SSLI_TRY(ssli_check_finite_f32(z, n, k, fn, "z"));
    double total = 0;
    for (size_t e = 0; e < num_edges; e++) {
        if (src[e] < 0 || (uint64_t)src[e] >= n || dst[e] < 0 || (uint64_t)dst[e] >= n)
            return ssli_err(SSLK_E_RANGE, "%s: edge %zu = (%lld, %lld) is outside [0, %zu)", fn, e,
                            (long long)src[e], (long long)dst[e], n);
        double we = w ? w[e] : 1.0;
        if (!isfinite(we)) return ssli_err(SSLK_E_NONFINITE, "%s: 'w[%zu]' is not finite", fn, e);
        const float *a = z + (size_t)src[e] * k, *b = z + (size_t)dst[e] * k;
        double s = 0;
        for (size_t t = 0; t < k; t++) {
            double diff = (double)a[t] - b[t];
            s += diff * diff;
        }
        total += we * s;
    }
    *value = total / (double)num_edges;
    return SSLK_OK;
}

static sslk_status model_io(sslk_model *model, const float *x, size_t n, size_t *in, size_t *out, const char *fn) {
    SSLI_CHECK_PTR(model, fn);
    SSLI_CHECK_PTR(x, fn);
    if (n < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0", fn);
    SSLI_TRY(sslk_model_io_size(model, in, out));
    size_t tmp;
    if (ssli_mul3_overflow(2 * n, *in > *out ? *in : *out, sizeof(float), &tmp) || n > SIZE_MAX / 4)
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu rows overflow", fn, n);
    return ssli_check_finite_f32(x, n, *in, fn, "x");
}

sslk_status sslk_augmentation_variation(sslk_model *model, const float *x, size_t n, double sigma, uint64_t seed,
                                        double *value) {
    static const char *fn = "sslk_augmentation_variation";
    SSLI_CHECK_PTR(value, fn);
    if (!(sigma >= 0) || !isfinite(sigma))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'sigma' = %g must be >= 0 and finite", fn, sigma);
    size_t in, out;
    SSLI_TRY(model_io(model, x, n, &in, &out, fn));
    const sslk_ctx *ctx = model->ctx;
    float *xx = ssli_malloc(ctx, 2 * n * in, sizeof(float));
    float *y = ssli_malloc(ctx, 2 * n * out, sizeof(float));
    sslk_status st = SSLK_OK;
    if (!xx || !y) {
        st = ssli_alloc_status();
        goto done;
    }
    memcpy(xx, x, n * in * sizeof(float));
    uint64_t key = ssli_rng_key(seed, 0xa06, 0);
    for (size_t i = 0; i < n * in; i++) xx[n * in + i] = (float)(x[i] + sigma * ssli_rng_normal(key, i));
    st = sslk_model_forward(model, xx, 2 * n, y, SSLK_MODE_EVAL);
    if (st != SSLK_OK) goto done;
    double s = 0;
    for (size_t i = 0; i < n * out; i++) {
        double diff = (double)y[i] - y[n * out + i];
        s += diff * diff;
    }
    *value = s / ((double)n * (double)out);
done:
    ssli_free(ctx, xx);
    ssli_free(ctx, y);
    return st;
}

sslk_status sslk_dirichlet_energy(sslk_model *model, const float *x, size_t n, double h, double *value) {
    static const char *fn = "sslk_dirichlet_energy";
    SSLI_CHECK_PTR(value, fn);
    if (!(h > 0) || !isfinite(h))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: step 'h' = %g must be positive and finite", fn, h);
    size_t in, out;
    SSLI_TRY(model_io(model, x, n, &in, &out, fn));
    const sslk_ctx *ctx = model->ctx;
    float *xx = ssli_malloc(ctx, 2 * n * in, sizeof(float));
    float *y = ssli_malloc(ctx, 2 * n * out, sizeof(float));
    sslk_status st = SSLK_OK;
    if (!xx || !y) {
        st = ssli_alloc_status();
        goto done;
    }
    memcpy(xx, x, n * in * sizeof(float));
    memcpy(xx + n * in, x, n * in * sizeof(float));
    double s = 0;
    for (size_t t = 0; t < in && st == SSLK_OK; t++) {
        /* the actual float steps, so rounding of x +- h does not bias the quotient */
        for (size_t i = 0; i < n; i++) {
            xx[i * in + t] = (float)(x[i * in + t] + h);
            xx[(n + i) * in + t] = (float)(x[i * in + t] - h);
        }
        st = sslk_model_forward(model, xx, 2 * n, y, SSLK_MODE_EVAL);
        for (size_t i = 0; i < n && st == SSLK_OK; i++) {
            double step = (double)xx[i * in + t] - xx[(n + i) * in + t];
            for (size_t j = 0; j < out; j++) {
                double g = ((double)y[i * out + j] - y[(n + i) * out + j]) / step;
                s += g * g;
            }
        }
        for (size_t i = 0; i < n; i++) xx[i * in + t] = xx[(n + i) * in + t] = x[i * in + t];
    }
    if (st == SSLK_OK) *value = s / ((double)n * (double)out * (double)in);
done:
    ssli_free(ctx, xx);
    ssli_free(ctx, y);
    return st;
}
