/* LAPACK through LAPACKE.  Debian's reference LAPACK is used because it is
 * the one implementation every Debian architecture ships; its inner BLAS
 * calls resolve to BLIS because libblis precedes liblapack in our link line.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg.h"

#include <lapacke.h>

sslk_status ssli_dsyev(size_t n, double *A, size_t lda, double *w, bool vectors) {
    if (n == 0) return SSLK_OK;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', (lapack_int)n, A,
                                     (lapack_int)lda, w);
    if (info < 0) return ssli_err(SSLK_E_INTERNAL, "dsyevd: argument %d invalid", (int)-info);
    if (info > 0)
        return ssli_err(SSLK_E_NUMERIC, "symmetric eigensolver (dsyevd) did not converge (info %d)",
                        (int)info);
    return SSLK_OK;
}

sslk_status ssli_dsvd_values(size_t m, size_t n, double *A, size_t lda, double *s) {
    if (m == 0 || n == 0) return SSLK_OK;
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', (lapack_int)m, (lapack_int)n, A,
                                     (lapack_int)lda, s, NULL, (lapack_int)m, NULL, (lapack_int)n);
    if (info < 0) return ssli_err(SSLK_E_INTERNAL, "dgesdd: argument %d invalid", (int)-info);
    if (info > 0)
        return ssli_err(SSLK_E_NUMERIC, "SVD (dgesdd) did not converge (info %d)", (int)info);
    return SSLK_OK;
}

sslk_status ssli_dpotrf(size_t n, double *A, size_t lda) {
    if (n == 0) return SSLK_OK;
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, A, (lapack_int)lda);
    if (info < 0) return ssli_err(SSLK_E_INTERNAL, "dpotrf: argument %d invalid", (int)-info);
    if (info > 0)
        return ssli_err(SSLK_E_NUMERIC, "Cholesky (dpotrf): leading minor %d not positive definite",
                        (int)info);
    return SSLK_OK;
}

sslk_status ssli_dpotri(size_t n, double *A, size_t lda) {
    if (n == 0) return SSLK_OK;
    lapack_int info = LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', (lapack_int)n, A, (lapack_int)lda);
    if (info != 0)
        return ssli_err(SSLK_E_NUMERIC, "SPD inverse (dpotri) failed (info %d)", (int)info);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) A[i * lda + j] = A[j * lda + i];
    return SSLK_OK;
}

/* issue 18 (closed-form SSL, LiDAR): generalised symmetric-definite eigenproblem. */
sslk_status ssli_dsygv(size_t n, double *A, size_t lda, double *B, size_t ldb, double *w, bool vectors) {
    if (n == 0) return SSLK_OK;
    lapack_int info = LAPACKE_dsygvd(LAPACK_ROW_MAJOR, 1, vectors ? 'V' : 'N', 'U', (lapack_int)n, A,
                                     (lapack_int)lda, B, (lapack_int)ldb, w);
    if (info < 0) return ssli_err(SSLK_E_INTERNAL, "dsygvd: argument %d invalid", (int)-info);
    if (info > (lapack_int)n)
        return ssli_err(SSLK_E_NUMERIC,
                        "generalised eigensolver (dsygvd): the right-hand matrix is not positive definite "
                        "(leading minor %d)", (int)(info - (lapack_int)n));
    if (info > 0)
        return ssli_err(SSLK_E_NUMERIC, "generalised eigensolver (dsygvd) did not converge (info %d)",
                        (int)info);
    return SSLK_OK;
}
