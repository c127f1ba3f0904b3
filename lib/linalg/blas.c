/* BLIS typed API with per-call thread counts.  BLIS 0.9 prototypes lack
 * const, so the casts live here and nowhere else.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg_impl.h"

#include <blis.h>

static void rntm_for(const sslk_ctx *ctx, rntm_t *r) {
    rntm_t init = BLIS_RNTM_INITIALIZER;
    *r = init;
    bli_rntm_set_num_threads((dim_t)ssli_threads(ctx), r);
}

#define MUT(p) ((void *)(uintptr_t)(p))

/* Multi-threaded products are split along the longer side of C into blocks,
 * each a single-threaded BLIS call, taken dynamically inside one OpenMP
 * region.  Measured here: BLIS's own threading synchronises many times per
 * call and fell from ~195 to 4-90 GFLOP/s when another process competed for
 * the 2 cores, while one barrier per product keeps one core's worth; 2-4
 * blocks per thread (split_block) let the others carry on while the OS
 * deschedules one.
 * Blocks are multiples of 32 (96 on AArch64: the micro-kernel widths) and at
 * least 64 rows or columns; when the longer side gives fewer than 3 blocks per
 * thread, the other side is split as well (a 2-D grid of blocks, issue 16).
 * The packed kernels sum each element in the same order whatever the split,
 * so results are the same at every thread count; only double sup products (a
 * dimension < 64) depend on each block's shape.  From 4 threads the packed
 * products run as one BLIS call with the threads instead (gemm_threading.c:
 * the blocks repeat BLIS's packing, up to 1.4x the work at 16 threads). */
#define SPLIT_MIN_FLOPS 4.0e6
#define SPLIT_PER_THREAD 3
#if defined(__aarch64__)
/* BLIS 0.9's armv8a float kernel is 8 x 12 and evidently column-preferred (its 12-wide
 * side runs along C's rows), and finishes edge tiles with a separate
 * C = T + beta C pass: a block edge that cut a 12-wide tile gave other bits
 * than one call over the whole product (seen under qemu: a few hundred of
 * 79k elements at 1 vs 2 threads).  96 is a multiple of 8, 12 and of the NEON
 * set's tiles (8 x 12, 8 x 6). */
#define SPLIT_ALIGN 96
#else
#define SPLIT_ALIGN 32
#endif
#define SPLIT_MIN_BLOCK 64

static size_t split_block_for(size_t len, size_t parts) {
    size_t blk = (len + parts - 1) / parts;
    blk = (blk + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
    return blk < SPLIT_MIN_BLOCK ? SPLIT_MIN_BLOCK : blk;
}

/* Block length along C's longer side: 2 to SPLIT_PER_THREAD + 1 blocks per
 * thread, whichever leaves the busiest thread the least work (blocks taken in
 * turn: ceil(blocks / nt) blocks each), ties to fewer blocks (each block packs
 * its panels again).  Rounding to the
 * alignment used to unbalance common shapes: 512 rows at 2 threads gave 5
 * blocks of 96 and one of 32, one thread 288 rows and the other 224 (an idle
 * eighth of the encoder's linear layer); 2 blocks per thread give 128 each. */
static size_t split_block(size_t len, int nt) {
    size_t best = 0, best_span = SIZE_MAX;
    for (size_t k = 2; k <= SPLIT_PER_THREAD + 1; k++) {
        const size_t blk = split_block_for(len, k * (size_t)nt), nb = (len + blk - 1) / blk;
        const size_t span = (nb + (size_t)nt - 1) / (size_t)nt * blk;
        if (span < best_span) best = blk, best_span = span;
    }
    return best;
}

/* BLIS 0.9.0 (Debian 12) has out-of-bounds reads in several single-precision
 * small-matrix (sup) kernels (BLIS issue #635, PR #824): valgrind flags a read
 * past A or B for e.g. m = 1, n = 16, k = 3 or m = 63, n = 3, k = 64, which
 * can fault when the operand ends at a page boundary.  The double kernels are
 * clean on the same grid, so float products never take the sup path; measured
 * cost: 1.1-1.4x on skinny products, up to 3.9x for m = 1 (gemv-like), and
 * 1.4-2.8x faster where the sup kernels were slow (k <= 32, n >= 512). */
#define DEFINE_GEMM(NAME, T, BLIS_FN, SUP_SAFE)                                               \
    static void NAME##_1(int nt, bool sup, bool ta, bool tb, size_t m, size_t n, size_t k,     \
                         T alpha, const T *A, size_t lda, const T *B, size_t ldb, T beta, T *C, \
                         size_t ldc) {                                                         \
        rntm_t r = BLIS_RNTM_INITIALIZER;                                                      \
        bli_rntm_set_num_threads(nt, &r);                                                      \
        if (!sup) bli_rntm_set_l3_sup(false, &r);                                              \
        BLIS_FN(ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,\
                (dim_t)m, (dim_t)n, (dim_t)k, &alpha, MUT(A), (inc_t)lda, 1, MUT(B),           \
                (inc_t)ldb, 1, &beta, C, (inc_t)ldc, 1, ssli_kernels_cntx(), &r);              \
    }                                                                                          \
    static void NAME##_split(const sslk_ctx *ctx, bool sup, bool ta, bool tb, size_t m, size_t n, \
                             size_t k, T alpha, const T *A, size_t lda, const T *B, size_t ldb,  \
                             T beta, T *C, size_t ldc) {                                       \
        if (m == 0 || n == 0) return;                                                          \
        int nt = ssli_threads(ctx);                                                            \
        double flops = 2.0 * (double)m * (double)n * (double)k;                                \
        const bool rows = m >= n; /* split the longer side of C */                             \
        const size_t len = rows ? m : n;                                                       \
        if (nt <= 1 || flops < SPLIT_MIN_FLOPS || len < SPLIT_MIN_BLOCK) {                     \
            NAME##_1(1, sup, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);            \
            return;                                                                            \
        }                                                                                      \
        /* packed products: BLIS's own threads where the mode says so (gemm_threading.c) */  \
        if (!sup && ssli_gemm_threading_for(nt) == SSLI_GEMM_THREADING_BLIS) {                 \
            NAME##_1(nt, sup, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);           \
            return;                                                                            \
        }                                                                                      \
        const size_t blk = split_block(len, nt), nb = (len + blk - 1) / blk;                   \
        /* too few blocks for the threads (a 512-row C at 16 threads: 8 blocks of 64):       \
         * split the other side of C too, into blocks of the same rule (issue 16) */          \
        const size_t olen = rows ? n : m, want = SPLIT_PER_THREAD * (size_t)nt;                \
        size_t oblk = olen;                                                                    \
        if (nb < want && olen >= 2 * SPLIT_MIN_BLOCK) {                                        \
            const size_t pieces = (want + nb - 1) / nb;                                        \
            oblk = (olen + pieces - 1) / pieces;                                               \
            oblk = (oblk + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;                       \
            if (oblk < SPLIT_MIN_BLOCK) oblk = SPLIT_MIN_BLOCK;                                \
        }                                                                                      \
        const size_t onb = (olen + oblk - 1) / oblk;                                           \
        const long long total = (long long)(nb * onb);                                         \
        _Pragma("omp parallel for schedule(dynamic, 1) num_threads(nt)")                       \
        for (long long q = 0; q < total; q++) {                                                \
            size_t p0 = (size_t)q / onb * blk, w = len - p0 < blk ? len - p0 : blk;            \
            size_t o0 = (size_t)q % onb * oblk, ow = olen - o0 < oblk ? olen - o0 : oblk;      \
            size_t i0 = rows ? p0 : o0, mi = rows ? w : ow, j0 = rows ? o0 : p0, nj = rows ? ow : w; \
            NAME##_1(1, sup, ta, tb, mi, nj, k, alpha, ta ? A + i0 : A + i0 * lda, lda,         \
                     tb ? B + j0 * ldb : B + j0, ldb, beta, C + i0 * ldc + j0, ldc);            \
        }                                                                                      \
    }                                                                                          \
    void NAME(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k, T alpha,    \
              const T *A, size_t lda, const T *B, size_t ldb, T beta, T *C, size_t ldc) {      \
        /* Decided on the whole product so every block runs the same kernels. */              \
        bool sup = SUP_SAFE && !(m >= 64 && n >= 64 && k >= 64);                               \
        NAME##_split(ctx, sup, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);          \
    }                                                                                          \
    void NAME##_packed(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k,    \
                       T alpha, const T *A, size_t lda, const T *B, size_t ldb, T beta, T *C,  \
                       size_t ldc) {                                                           \
        NAME##_split(ctx, false, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);        \
    }

DEFINE_GEMM(ssli_sgemm, float, bli_sgemm_ex, false)
DEFINE_GEMM(ssli_dgemm, double, bli_dgemm_ex, true)

/* syrk computes one triangle; mirror it so callers see a full matrix.  The
 * copy goes tile by tile: an element-wise strided copy of a 4096 x 4096
 * triangle costs as much as the product itself. */
#define MIRROR_TILE 32
#define DEFINE_MIRROR(NAME, T)                                                                \
    static void NAME(T *C, size_t n, size_t ldc) {                                            \
        for (size_t i0 = 0; i0 < n; i0 += MIRROR_TILE)                                        \
            for (size_t j0 = i0; j0 < n; j0 += MIRROR_TILE) {                                 \
                size_t i1 = i0 + MIRROR_TILE < n ? i0 + MIRROR_TILE : n;                      \
                size_t j1 = j0 + MIRROR_TILE < n ? j0 + MIRROR_TILE : n;                      \
                for (size_t i = i0; i < i1; i++)                                              \
                    for (size_t j = (j0 > i + 1 ? j0 : i + 1); j < j1; j++)                   \
                        C[i * ldc + j] = C[j * ldc + i];                                      \
            }                                                                                 \
    }
DEFINE_MIRROR(mirror_lower_s, float)
DEFINE_MIRROR(mirror_lower_d, double)

void ssli_ssyrk(const sslk_ctx *ctx, bool ta, size_t n, size_t k, float alpha, const float *A,
                size_t lda, float beta, float *C, size_t ldc) {
    if (n == 0) return;
    if (ssli_threads(ctx) > 1) { /* the blocked policy, same bits (gram.c) */
        ssli_sgram(ctx, ta, n, k, alpha, A, lda, beta, C, ldc);
        return;
    }
    rntm_t r;
    rntm_for(NULL, &r);
    /* BLIS syrk: C = alpha * A * A^T with A n x k. A^T A of a k x n row-major
     * matrix is the same as A' A'^T with A' the column-major view. */
    if (ta)
        bli_ssyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)n, (dim_t)k, &alpha, MUT(A), (inc_t)lda, 1,
                     &beta, C, (inc_t)ldc, 1, ssli_kernels_cntx(), &r);
    else
        bli_ssyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)k, &alpha, MUT(A), (inc_t)lda,
                     1, &beta, C, (inc_t)ldc, 1, ssli_kernels_cntx(), &r);
    mirror_lower_s(C, n, ldc);
}

void ssli_dsyrk(const sslk_ctx *ctx, bool ta, size_t n, size_t k, double alpha, const double *A,
                size_t lda, double beta, double *C, size_t ldc) {
    if (n == 0) return;
    if (ssli_threads(ctx) > 1) { /* the blocked policy, same bits (gram.c) */
        ssli_dgram(ctx, ta, n, k, alpha, A, lda, beta, C, ldc);
        return;
    }
    rntm_t r;
    rntm_for(NULL, &r);
    if (ta)
        bli_dsyrk_ex(BLIS_LOWER, BLIS_TRANSPOSE, (dim_t)n, (dim_t)k, &alpha, MUT(A), (inc_t)lda, 1,
                     &beta, C, (inc_t)ldc, 1, ssli_kernels_cntx(), &r);
    else
        bli_dsyrk_ex(BLIS_LOWER, BLIS_NO_TRANSPOSE, (dim_t)n, (dim_t)k, &alpha, MUT(A), (inc_t)lda,
                     1, &beta, C, (inc_t)ldc, 1, ssli_kernels_cntx(), &r);
    mirror_lower_d(C, n, ldc);
}

void ssli_sgemv(const sslk_ctx *ctx, bool ta, size_t m, size_t n, float alpha, const float *A,
                size_t lda, const float *x, float beta, float *y) {
    if (m == 0) return;
    rntm_t r;
    rntm_for(ctx, &r);
    /* y (m) = op(A) x; with ta, the stored matrix is n x m. */
    if (ta)
        bli_sgemv_ex(BLIS_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)m, &alpha, MUT(A),
                     (inc_t)lda, 1, MUT(x), 1, &beta, y, 1, ssli_kernels_cntx(), &r);
    else
        bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)m, (dim_t)n, &alpha, MUT(A),
                     (inc_t)lda, 1, MUT(x), 1, &beta, y, 1, ssli_kernels_cntx(), &r);
}

void ssli_dgemv(const sslk_ctx *ctx, bool ta, size_t m, size_t n, double alpha, const double *A,
                size_t lda, const double *x, double beta, double *y) {
    if (m == 0) return;
    rntm_t r;
    rntm_for(ctx, &r);
    if (ta)
        bli_dgemv_ex(BLIS_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)n, (dim_t)m, &alpha, MUT(A),
                     (inc_t)lda, 1, MUT(x), 1, &beta, y, 1, ssli_kernels_cntx(), &r);
    else
        bli_dgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, (dim_t)m, (dim_t)n, &alpha, MUT(A),
                     (inc_t)lda, 1, MUT(x), 1, &beta, y, 1, ssli_kernels_cntx(), &r);
}

double ssli_sdot(size_t n, const float *x, const float *y) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * y[i];
    return s;
}

const char *ssli_blis_arch(void) {
    return bli_arch_string(bli_arch_query_id());
}

const char *ssli_blis_version(void) { return bli_info_get_version_str(); }
