/* Spectra of float32 data matrices in double precision: Gram matrices built
 * block by block (the float rows are widened to double one block at a time,
 * so memory stays O(block + d^2)), symmetric eigenvalues, and exact SVDs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "gram.h"
#include "linalg/linalg.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Widen rows [0, rows) of z (ld d) minus shift into out (rows x d). */
static void widen_rows(const sslk_ctx *ctx, const float *z, size_t rows, size_t d, const double *shift,
                       double *out) {
#pragma omp parallel for num_threads(ssli_threads(ctx)) schedule(static) if (rows * d > 65536)
    for (size_t i = 0; i < rows; i++) {
        const float *zi = z + i * d;
        double *oi = out + i * d;
        if (shift)
            for (size_t j = 0; j < d; j++) oi[j] = (double)zi[j] - shift[j];
        else
            for (size_t j = 0; j < d; j++) oi[j] = (double)zi[j];
    }
}

static void add_rows_serial(const sslk_ctx *ctx, double *G, size_t d, const float *z, size_t n,
                            const double *shift, double *block, size_t block_rows) {
    for (size_t i0 = 0; i0 < n; i0 += block_rows) {
        size_t b = n - i0 < block_rows ? n - i0 : block_rows;
        widen_rows(ctx, z + i0 * d, b, d, shift, block);
        ssli_dgram(ctx, true, d, b, 1.0, block, d, 1.0, G, d);
    }
}

/* With several threads and many rows, each thread accumulates a private
 * Gram matrix over a contiguous share of the rows with single-threaded BLIS
 * calls, and the partials are added in thread order.  Coarse, barrier-free
 * work holds up far better than BLIS's fine-grained threading when other
 * processes compete for the cores, and the result is deterministic for a
 * given thread count. */
void ssli_gram_add_rows(const sslk_ctx *ctx, double *G, size_t d, const float *z, size_t n,
                        const double *shift, double *block, size_t block_rows) {
    int nt = ssli_threads(ctx);
    size_t per_thread = n / (size_t)(nt > 0 ? nt : 1);
    if (nt < 2 || per_thread < 2 * block_rows || per_thread < d) {
        add_rows_serial(ctx, G, d, z, n, shift, block, block_rows);
        return;
    }
    size_t dd = d * d, bsz = block_rows * d;
    double *part = ssli_malloc(ctx, (size_t)(nt - 1) * (dd + bsz), sizeof(double));
    if (!part) { /* not enough memory for partials: the serial path needs none */
        add_rows_serial(ctx, G, d, z, n, shift, block, block_rows);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        size_t lo = n * (size_t)t / (size_t)nt, hi = n * (size_t)(t + 1) / (size_t)nt;
        double *Gt = t == 0 ? G : part + (size_t)(t - 1) * (dd + bsz);
        double *bt = t == 0 ? block : Gt + dd;
        if (t) memset(Gt, 0, dd * sizeof(double));
        add_rows_serial(NULL, Gt, d, z + lo * d, hi - lo, shift, bt, block_rows);
    }
    for (int t = 1; t < nt; t++) {
        const double *Gt = part + (size_t)(t - 1) * (dd + bsz);
        for (size_t i = 0; i < dd; i++) G[i] += Gt[i];
    }
    ssli_free(ctx, part);
}

void ssli_gram_add_rows_d(const sslk_ctx *ctx, double *G, size_t d, const double *z, size_t n) {
    if (n) ssli_dgram(ctx, true, d, n, 1.0, z, d, 1.0, G, d);
}

void ssli_gram_add_cols(const sslk_ctx *ctx, double *G, const float *z, size_t n, size_t d,
                        const double *shift, double *block, size_t block_cols) {
    for (size_t j0 = 0; j0 < d; j0 += block_cols) {
        size_t b = d - j0 < block_cols ? d - j0 : block_cols;
#pragma omp parallel for num_threads(ssli_threads(ctx)) schedule(static) if (n * b > 65536)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < b; j++)
                block[i * b + j] = (double)z[i * d + j0 + j] - (shift ? shift[j0 + j] : 0.0);
        ssli_dgram(ctx, false, n, b, 1.0, block, b, 1.0, G, n);
    }
}

sslk_status ssli_sym_spectrum(const sslk_ctx *ctx, double *G, size_t m, double *w) {
    double *tmp = ssli_malloc(ctx, m, sizeof(double));
    if (!tmp) return ssli_alloc_status();
    sslk_status s = ssli_dsyev(m, G, m, tmp, false);
    if (s == SSLK_OK)
        for (size_t i = 0; i < m; i++) w[i] = tmp[m - 1 - i] > 0 ? tmp[m - 1 - i] : 0.0;
    ssli_free(ctx, tmp);
    return s;
}

sslk_status ssli_exact_singular(const sslk_ctx *ctx, const double *z, size_t n, size_t d, double *s) {
    double *a = ssli_malloc(ctx, n * d, sizeof(double));
    if (!a) return ssli_alloc_status();
    memcpy(a, z, n * d * sizeof(double));
    sslk_status st = ssli_dsvd_values(n, d, a, d, s);
    ssli_free(ctx, a);
    return st;
}

sslk_status ssli_exact_singular_f(const sslk_ctx *ctx, const float *z, size_t n, size_t d, const double *shift,
                                  double *s) {
    double *a = ssli_malloc(ctx, n * d, sizeof(double));
    if (!a) return ssli_alloc_status();
    widen_rows(ctx, z, n, d, shift, a);
    sslk_status st = ssli_dsvd_values(n, d, a, d, s);
    ssli_free(ctx, a);
    return st;
}

size_t ssli_gram_block_rows(size_t d) {
    size_t b = (size_t)1 << 20; /* ~8 MB of doubles per block */
    b /= d ? d : 1;
    if (b < 256) b = 256;
    if (b > 4096) b = 4096;
    return b;
}
