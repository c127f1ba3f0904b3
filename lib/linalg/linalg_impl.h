/* Shared between linalg's own files only.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LINALG_IMPL_H
#define SSLKIT_LINALG_IMPL_H

#include "linalg.h"

/* ssli_?gemm that never takes BLIS's small-matrix (sup) path, whatever the
 * shape: the Gram's blocks then run the same packed kernels as syrk, so a
 * Gram's value does not depend on how it was cut into blocks. */
void ssli_sgemm_packed(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                       size_t ldc);
void ssli_dgemm_packed(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k,
                       double alpha, const double *A, size_t lda, const double *B, size_t ldb,
                       double beta, double *C, size_t ldc);

/* The BLIS context (cntx_t *) of the active kernel set, NULL for BLIS's own;
 * every BLIS call in blas.c passes it. */
void *ssli_kernels_cntx(void);

#endif
