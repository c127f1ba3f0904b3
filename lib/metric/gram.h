/* Double-precision Gram matrices and spectra of float32 data (lib/metric/gram.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_METRIC_GRAM_H
#define SSLKIT_METRIC_GRAM_H

#include "core/internal.h"

/* G (d x d, both triangles) += (z - shift)^T (z - shift) for z n x d; shift
 * (d values) may be NULL.  block holds block_rows x d doubles. */
void ssli_gram_add_rows(const sslk_ctx *ctx, double *G, size_t d, const float *z, size_t n,
                        const double *shift, double *block, size_t block_rows);
/* G += z^T z for double rows z (n x d). */
void ssli_gram_add_rows_d(const sslk_ctx *ctx, double *G, size_t d, const double *z, size_t n);
/* G (n x n) += (z - shift)(z - shift)^T, column blocks of block_cols (block
 * holds n x block_cols doubles): the small Gram when n < d. */
void ssli_gram_add_cols(const sslk_ctx *ctx, double *G, const float *z, size_t n, size_t d,
                        const double *shift, double *block, size_t block_cols);
/* Eigenvalues of symmetric G (m x m, destroyed) into w[m], DEScending,
 * negatives (rounding) clamped to 0. */
sslk_status ssli_sym_spectrum(const sslk_ctx *ctx, double *G, size_t m, double *w);
/* Singular values (descending, min(n, d) of them) of double z (kept) or of
 * float z - shift. */
sslk_status ssli_exact_singular(const sslk_ctx *ctx, const double *z, size_t n, size_t d, double *s);
sslk_status ssli_exact_singular_f(const sslk_ctx *ctx, const float *z, size_t n, size_t d, const double *shift,
                                  double *s);
/* Rows per widening block for a given width. */
size_t ssli_gram_block_rows(size_t d);

#endif
