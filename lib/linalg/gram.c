/* Threaded Gram matrices C = alpha op(A) op(A)^T + beta C, both triangles,
 * built only from linalg's one-thread products (no BLIS call of its own).
 * Moved here from the loss layer so every caller gets the same policy.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg_impl.h"

/* Long sums (k >= 512) with n <= 2048: nth x nth block rows, a one-thread syrk
 * on each diagonal block and a one-thread GEMM below it, as independent tasks
 * (off-diagonal ones first, being the larger).  Otherwise, where syrk's
 * element-wise mirror would cost as much as the product: lower-triangle column
 * blocks of 512 through the threaded GEMM.  Either way only the lower triangle
 * is computed and then mirrored through a tile buffer (measured on zen3).
 * The GEMM blocks never take BLIS's sup path, so every element is summed by the
 * same packed kernels as in one syrk: results equal ssli_?syrk bit for bit at
 * every thread count (checked on 468 shapes, both precisions, beta 0 and 1). */
#define GRAM_TASK_MAX_N 2048
#define GRAM_TASK_MIN_K 512
#define GRAM_COL_BLOCK 512
#define GRAM_TILE 32
#define DEFINE_GRAM(NAME, T, GEMM, SYRK)                                                          \
    void NAME(const sslk_ctx *ctx, bool ta, size_t n, size_t k, T alpha, const T *A, size_t lda, \
              T beta, T *C, size_t ldc) {                                                         \
        if (n == 0) return;                                                                       \
        const int nth = ssli_threads(ctx);                                                        \
        if (n <= GRAM_TASK_MAX_N && k >= GRAM_TASK_MIN_K) {                                       \
            size_t blk = (n + (size_t)nth - 1) / (size_t)nth;                                     \
            blk = (blk + 31) / 32 * 32;                                                           \
            const size_t P = (n + blk - 1) / blk, ntask = P * (P + 1) / 2, noff = P * (P - 1) / 2; \
            if (P == 1) { /* one syrk, which fills both triangles itself */                      \
                SYRK(NULL, ta, n, k, alpha, A, lda, beta, C, ldc);                                \
                return;                                                                           \
            }                                                                                     \
            _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nth)")                     \
            for (long long t = 0; t < (long long)ntask; t++) {                                    \
                /* tasks 0 .. noff - 1 are off-diagonal (I > J), then the diagonal */             \
                size_t I = 0, J = 0, tt = (size_t)t;                                              \
                if (tt < noff) {                                                                  \
                    I = 1;                                                                        \
                    while (tt >= I) tt -= I, I++;                                                 \
                    J = tt;                                                                       \
                } else {                                                                          \
                    I = J = tt - noff;                                                            \
                }                                                                                 \
                size_t i0 = I * blk, j0 = J * blk;                                                \
                size_t bi = i0 + blk < n ? blk : n - i0, bj = j0 + blk < n ? blk : n - j0;        \
                const T *Ai = ta ? A + i0 : A + i0 * lda, *Aj = ta ? A + j0 : A + j0 * lda;       \
                if (I == J)                                                                       \
                    SYRK(NULL, ta, bi, k, alpha, Ai, lda, beta, C + i0 * ldc + i0, ldc);          \
                else                                                                              \
                    GEMM(NULL, ta, !ta, bi, bj, k, alpha, Ai, lda, Aj, lda, beta,                 \
                         C + i0 * ldc + j0, ldc);                                                 \
            }                                                                                     \
        } else {                                                                                  \
            for (size_t i0 = 0; i0 < n; i0 += GRAM_COL_BLOCK) {                                   \
                size_t ib = i0 + GRAM_COL_BLOCK < n ? GRAM_COL_BLOCK : n - i0, m = n - i0;        \
                const T *Ai = ta ? A + i0 : A + i0 * lda;                                         \
                GEMM(ctx, ta, !ta, m, ib, k, alpha, Ai, lda, Ai, lda, beta, C + i0 * ldc + i0,    \
                     ldc);                                                                        \
            }                                                                                     \
        }                                                                                         \
        /* Mirror through a tile: rows are read and written contiguously (a direct */            \
        /* strided copy hits 4K aliasing). */                                                     \
        const size_t nt = (n + GRAM_TILE - 1) / GRAM_TILE;                                        \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nth)")                         \
        for (long long q = 0; q < (long long)nt; q++) {                                           \
            size_t r0 = (size_t)q * GRAM_TILE, r1 = r0 + GRAM_TILE < n ? r0 + GRAM_TILE : n;      \
            T buf[GRAM_TILE][GRAM_TILE];                                                          \
            for (size_t c0 = 0; c0 <= r0; c0 += GRAM_TILE) {                                      \
                size_t c1 = c0 + GRAM_TILE < n ? c0 + GRAM_TILE : n;                              \
                for (size_t r = r0; r < r1; r++)                                                  \
                    for (size_t c = c0; c < c1; c++) buf[c - c0][r - r0] = C[r * ldc + c];        \
                for (size_t c = c0; c < c1; c++) {                                                \
                    size_t rs = c0 == r0 ? c + 1 : r0;                                            \
                    for (size_t r = rs; r < r1; r++) C[c * ldc + r] = buf[c - c0][r - r0];        \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

DEFINE_GRAM(ssli_sgram, float, ssli_sgemm_packed, ssli_ssyrk)
DEFINE_GRAM(ssli_dgram, double, ssli_dgemm_packed, ssli_dsyrk)
