/* Gaussian-kernel closed-form SSL.  The RKHS restricted to the span of p
 * landmark points is a linear model in the coordinates
 *   phi(x) = E^{-1/2} U^T kvec(x),  K_pp = U E U^T,
 * whose Euclidean norm is the RKHS norm, so the linear solver on phi solves
 * the kernel problem (exact when the landmarks are all N*m views, Nystrom
 * otherwise).  Eigenvalues of K_pp below KRANK_TOL * max are dropped.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "theory_internal.h"

#define KRANK_TOL 1e-10

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

sslk_status ssli_cfssl_kernel_setup(sslk_cfssl *h, const float *x, size_t rows, size_t d, const char *fn) {
    size_t cap = (size_t)h->vals[CF_MAX_POINTS], p = (size_t)h->vals[CF_LANDMARKS];
    if (p == 0 && rows > cap)
        return ssli_err(SSLK_E_LIMIT,
                        "%s: the exact Gaussian kernel on N*m = %zu views exceeds the cap max_points = %zu (it needs "
                        "about 3 (N*m)^2 doubles = %.0f MiB and O((N*m)^3) time); use Nystrom landmarks (setting "
                        "'landmarks', at most %zu) or raise 'max_points'",
                        fn, rows, cap, 3.0 * (double)rows * (double)rows * 8.0 / 1048576.0, cap);
    if (p > cap)
        return ssli_err(SSLK_E_LIMIT, "%s: %zu Nystrom landmarks exceed the cap max_points = %zu (N*m = %zu views)",
                        fn, p, cap, rows);
    if (p == 0 || p > rows) p = rows;
    size_t tmp;
    if (ssli_mul3_overflow(p, p > d ? p : d, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu kernel points overflow", fn, p);
    h->p = p;
    h->sigma = h->vals[CF_SIGMA];
    size_t *idx = ssli_malloc(h->ctx, rows, sizeof(size_t));
    h->land = ssli_malloc(h->ctx, p * d, sizeof(double));
    h->land_sq = ssli_malloc(h->ctx, p, sizeof(double));
    double *K = ssli_malloc(h->ctx, p * p, sizeof(double));
    double *e = ssli_malloc(h->ctx, p, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!idx || !h->land || !h->land_sq || !K || !e) {
        st = ssli_alloc_status();
        goto done;
    }
    for (size_t i = 0; i < rows; i++) idx[i] = i;
    if (p < rows) { /* first p of a seeded partial shuffle, in data order */
        ssli_rng rng;
        ssli_rng_init(&rng, (uint64_t)h->vals[CF_SEED], 0x18c0);
        for (size_t i = 0; i < p; i++) {
            size_t j = i + (size_t)ssli_rng_next_below(&rng, rows - i);
            size_t t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        qsort(idx, p, sizeof(size_t), cmp_size);
    }
    for (size_t i = 0; i < p; i++) {
        double s = 0;
        for (size_t t = 0; t < d; t++) {
            double v = x[idx[i] * d + t];
            h->land[i * d + t] = v;
            s += v * v;
        }
        h->land_sq[i] = s;
    }
    ssli_dsyrk(h->ctx, false, p, d, 1.0, h->land, d, 0.0, K, p);
    double g = 1.0 / (2 * h->sigma * h->sigma);
    for (size_t i = 0; i < p; i++)
        for (size_t j = 0; j < p; j++) {
            double d2 = h->land_sq[i] + h->land_sq[j] - 2 * K[i * p + j];
            K[i * p + j] = i == j ? 1.0 : exp(-(d2 > 0 ? d2 : 0) * g);
        }
    st = ssli_dsyev(p, K, p, e, true);
    if (st != SSLK_OK) goto done;
    size_t r = 0;
    double emax = e[p - 1];
    for (size_t j = 0; j < p; j++) r += e[j] > KRANK_TOL * emax;
    h->proj = ssli_malloc(h->ctx, p * r, sizeof(double));
    if (!h->proj) {
        st = ssli_alloc_status();
        goto done;
    }
    /* columns in descending eigenvalue order */
    for (size_t c = 0; c < r; c++) {
        size_t src = p - 1 - c;
        double s = 1.0 / sqrt(e[src]);
        for (size_t i = 0; i < p; i++) h->proj[i * r + c] = K[i * p + src] * s;
    }
    h->r = r;
done:
    ssli_free(h->ctx, idx);
    ssli_free(h->ctx, K);
    ssli_free(h->ctx, e);
    return st;
}
