/* The only door to BLIS and LAPACK.  Row-major views with leading
 * dimensions; ctx decides the thread count (NULL = 1 thread, which is what
 * callers inside their own parallel loops must pass).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LINALG_H
#define SSLKIT_LINALG_H

#include "core/internal.h"

/* C[m x n] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T.
 * A is m x k (k x m when ta), B is k x n (n x k when tb), all row-major.
 * With several threads, C is split along its longer side into blocks of
 * single-threaded BLIS calls (see blas.c); results do not depend on the
 * thread count. */
void ssli_sgemm(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k, float alpha,
                const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                size_t ldc);
void ssli_dgemm(const sslk_ctx *ctx, bool ta, bool tb, size_t m, size_t n, size_t k, double alpha,
                const double *A, size_t lda, const double *B, size_t ldb, double beta, double *C,
                size_t ldc);

/* Gram matrix: C[n x n] = alpha * A^T A + beta * C with A k x n (ta = true), or
 * alpha * A A^T + beta * C with A n x k (ta = false).  Both triangles of C are
 * filled on return.  With several threads this is ssli_?gram. */
void ssli_ssyrk(const sslk_ctx *ctx, bool ta, size_t n, size_t k, float alpha, const float *A,
                size_t lda, float beta, float *C, size_t ldc);
void ssli_dsyrk(const sslk_ctx *ctx, bool ta, size_t n, size_t k, double alpha, const double *A,
                size_t lda, double beta, double *C, size_t ldc);

/* Threaded Gram matrix: same operands and bitwise the same result as
 * ssli_?syrk, but split into one-thread syrk/GEMM tasks or column blocks (see
 * gram.c), which keeps its speed when other processes compete for the cores.
 * With beta != 0 only the lower triangle of C is read. */
void ssli_sgram(const sslk_ctx *ctx, bool ta, size_t n, size_t k, float alpha, const float *A,
                size_t lda, float beta, float *C, size_t ldc);
void ssli_dgram(const sslk_ctx *ctx, bool ta, size_t n, size_t k, double alpha, const double *A,
                size_t lda, double beta, double *C, size_t ldc);

/* y[m] = alpha * op(A) x + beta * y with A m x n row-major (ta: A is n x m). */
void ssli_sgemv(const sslk_ctx *ctx, bool ta, size_t m, size_t n, float alpha, const float *A,
                size_t lda, const float *x, float beta, float *y);
void ssli_dgemv(const sslk_ctx *ctx, bool ta, size_t m, size_t n, double alpha, const double *A,
                size_t lda, const double *x, double beta, double *y);

/* Dot products with double accumulation. */
double ssli_sdot(size_t n, const float *x, const float *y);

/* ---- LAPACK (double precision, row-major, square matrices dense n x n) ---- */
/* Symmetric eigen-decomposition of A (n x n, lda >= n).  w gets the
 * eigenvalues in ascending order; when vectors, A is overwritten by the
 * eigenvectors as columns.  SSLK_E_NUMERIC when LAPACK does not converge. */
sslk_status ssli_dsyev(size_t n, double *A, size_t lda, double *w, bool vectors);
/* Singular values of A (m x n, row-major), descending, into s[min(m,n)]; A destroyed. */
sslk_status ssli_dsvd_values(size_t m, size_t n, double *A, size_t lda, double *s);
/* Cholesky A = L L^T in place (lower triangle).  SSLK_E_NUMERIC when not PD. */
sslk_status ssli_dpotrf(size_t n, double *A, size_t lda);
/* Inverse of an SPD matrix from its Cholesky factor (both triangles filled). */
sslk_status ssli_dpotri(size_t n, double *A, size_t lda);
/* Generalised symmetric-definite eigenproblem A v = w B v (B SPD), both n x n,
 * upper triangles read.  w ascending; when vectors, A is overwritten by the
 * eigenvectors as columns, normalised so that V^T B V = I; B is destroyed
 * (its Cholesky factor).  SSLK_E_NUMERIC when B is not positive definite or
 * LAPACK does not converge. */
sslk_status ssli_dsygv(size_t n, double *A, size_t lda, double *B, size_t ldb, double *w, bool vectors);

/* Name of the BLIS kernel set chosen at run time (e.g. "zen3"). */
const char *ssli_blis_arch(void);
/* BLIS's version string (e.g. "0.9.0"). */
const char *ssli_blis_version(void);

/* ---- kernel sets (kernels.c, cpu_detect.c; docs/performance.md "Dense kernels") ----
 * blis: BLIS's own choice; avx2: BLIS's own when it runs AVX2 kernels (haswell,
 * zen, zen2, zen3 configs); avx512 / neon: the library's micro-kernels in a
 * copy of BLIS's context.  One set is active per process: the default rule,
 * or $SSLKIT_KERNELS read at first use. */
typedef enum {
    SSLI_KERNELS_BLIS = 0,
    SSLI_KERNELS_AVX2 = 1,
    SSLI_KERNELS_AVX512 = 2,
    SSLI_KERNELS_NEON = 3,
    SSLI_KERNELS_COUNT
} ssli_kernels;

const char *ssli_kernels_name(ssli_kernels k);
/* Whether this CPU and build can run set k. */
bool ssli_kernels_supported(ssli_kernels k);
ssli_kernels ssli_kernels_active(void);
/* What the active set would be without $SSLKIT_KERNELS. */
ssli_kernels ssli_kernels_default(void);
/* SSLK_OK, or the error for an unknown ($SSLKIT_KERNELS not a set name:
 * SSLK_E_INVALID_ARG) or unsupported (SSLK_E_UNSUPPORTED) value; then the
 * default set runs.  sslk_ctx_create returns it. */
sslk_status ssli_kernels_check(void);
/* The same test without touching the thread's error message. */
bool ssli_kernels_env_valid(void);
/* Makes k the active set for the whole process (tests and benches only: not
 * to be called while another thread runs a product). */
sslk_status ssli_kernels_force(ssli_kernels k);
/* "avx512" (F, DQ, BW, VL with OS support), "avx2" (with FMA), "neon+sve",
 * "neon" or "none". */
const char *ssli_cpu_isa(void);
/* MR, NR, MC, KC, NC of set k (BLIS's own for blis / avx2 or when k is not available). */
void ssli_kernels_blocksizes(ssli_kernels k, bool dbl, size_t bs[5]);

/* Multi-threaded GEMMs: cut into single-thread blocks (split) or one BLIS
 * call with the threads (blis); auto picks by thread count
 * (gemm_threading.c).  Same bits either way. */
typedef enum ssli_gemm_threading {
    SSLI_GEMM_THREADING_AUTO = 0,
    SSLI_GEMM_THREADING_SPLIT = 1,
    SSLI_GEMM_THREADING_BLIS = 2,
    SSLI_GEMM_THREADING_COUNT
} ssli_gemm_threading;
const char *ssli_gemm_threading_name(ssli_gemm_threading t);
/* The mode asked for ($SSLKIT_GEMM_THREADING or forced; auto by default). */
ssli_gemm_threading ssli_gemm_threading_setting(void);
/* split or blis: what a product with nthreads threads runs. */
ssli_gemm_threading ssli_gemm_threading_for(int nthreads);
/* Tests and benches only (not while another thread runs a product). */
sslk_status ssli_gemm_threading_force(ssli_gemm_threading t);
/* SSLK_E_INVALID_ARG for an unknown $SSLKIT_GEMM_THREADING (then auto runs);
 * sslk_ctx_create returns it.  _env_valid: the same test, error message untouched. */
sslk_status ssli_gemm_threading_check(void);
bool ssli_gemm_threading_env_valid(void);

#endif
