/* ARPACK's symmetric Lanczos (dsaupd / dseupd, implicitly restarted) in
 * reverse-communication mode around the caller's mat-vec.  The library never
 * hand-rolls an eigensolver: this file only drives ARPACK's loop.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <limits.h>
#include <string.h>

#include "spectral/spectral_internal.h"

#ifdef SSLK_HAVE_ARPACK
#include <arpack.h>
#include <pthread.h>

/* ARPACK keeps the state of a reverse-communication loop in Fortran SAVE
 * variables (and its timing / debug common blocks), so two loops must never
 * interleave: calls from different threads take turns here.  The mat-vec
 * inside still uses the handle's threads. */
static pthread_mutex_t arpack_lock = PTHREAD_MUTEX_INITIALIZER;

sslk_status ssli_arpack_largest(const sslk_ctx *ctx, size_t n, size_t nev, size_t ncv, double tol, int64_t maxiter, uint64_t seed,
                                ssli_matvec_fn mv, const void *op, double *evals, double *evecs, const char *fn) {
    if (nev < 1 || nev >= n)
        return ssli_err(SSLK_E_SHAPE, "%s: %zu eigenpairs need 1 <= nev < n = %zu (ARPACK)", fn, nev, n);
    if (ncv == 0) ncv = 2 * nev + 1 > 20 ? 2 * nev + 1 : 20;
    if (ncv <= nev) ncv = nev + 1;
    if (ncv > n) ncv = n;
    size_t lworkl = ncv * (ncv + 8);
    if (n > (size_t)INT_MAX / (ncv + 8) || maxiter > INT_MAX)
        return ssli_err(SSLK_E_SHAPE, "%s: n = %zu with ncv = %zu is beyond ARPACK's int sizes", fn, n, ncv);
    /* ARPACK allocates nothing: every buffer comes from here */
    double *resid = ssli_malloc(ctx, n, sizeof(double));
    double *v = ssli_malloc(ctx, n * ncv, sizeof(double));
    double *workd = ssli_malloc(ctx, 3 * n, sizeof(double));
    double *workl = ssli_malloc(ctx, lworkl, sizeof(double));
    double *d = ssli_malloc(ctx, ncv, sizeof(double));
    a_int *select = ssli_calloc(ctx, ncv, sizeof(a_int));
    sslk_status s = SSLK_OK;
    if (!resid || !v || !workd || !workl || !d || !select) {
        s = ssli_alloc_status();
        goto done;
    }
    ssli_rng rng;
    ssli_rng_init(&rng, seed, 0xa2ac);
    for (size_t i = 0; i < n; i++) resid[i] = 2.0 * ssli_rng_next_uniform(&rng) - 1.0;
    pthread_mutex_lock(&arpack_lock);
    a_int ido = 0, info = 1; /* info = 1: use resid as the start vector */
    a_int iparam[11] = {0}, ipntr[14] = {0};
    iparam[0] = 1;             /* exact shifts */
    iparam[2] = (a_int)maxiter;
    iparam[6] = 1;             /* mode 1: standard problem A x = lambda x */
    for (;;) {
        dsaupd_c(&ido, "I", (a_int)n, "LA", (a_int)nev, tol, resid, (a_int)ncv, v, (a_int)n, iparam, ipntr, workd,
                 workl, (a_int)lworkl, &info);
        if (ido != 1 && ido != -1) break;
        mv(op, workd + ipntr[0] - 1, workd + ipntr[1] - 1);
    }
    if (info != 0) pthread_mutex_unlock(&arpack_lock);
    if (info == 1) {
        s = ssli_err(SSLK_E_NUMERIC,
                     "%s: ARPACK did not converge in max_iter = %lld restarts (%d of %zu eigenvalues converged); "
                     "raise SSLK_SPECTRAL_MAX_ITER or SSLK_SPECTRAL_NCV, or loosen SSLK_SPECTRAL_TOL",
                     fn, (long long)maxiter, (int)iparam[4], nev);
        goto done;
    }
    if (info != 0) {
        s = ssli_err(info == -9 ? SSLK_E_DEGENERATE : SSLK_E_NUMERIC,
                     "%s: ARPACK dsaupd failed with info = %d (n = %zu, nev = %zu, ncv = %zu)%s", fn, (int)info, n,
                     nev, ncv, info == -9 ? ": the start vector is zero in the operator's range" : "");
        goto done;
    }
    a_int ierr = 0;
    dseupd_c(1, "A", select, d, evecs, (a_int)n, 0.0, "I", (a_int)n, "LA", (a_int)nev, tol, resid, (a_int)ncv, v,
             (a_int)n, iparam, ipntr, workd, workl, (a_int)lworkl, &ierr);
    pthread_mutex_unlock(&arpack_lock);
    if (ierr != 0) {
        s = ssli_err(SSLK_E_NUMERIC, "%s: ARPACK dseupd failed with info = %d (n = %zu, nev = %zu)", fn, (int)ierr,
                     n, nev);
        goto done;
    }
    /* dseupd returns ascending order: reverse to descending */
    for (size_t j = 0; j < nev; j++) evals[j] = d[nev - 1 - j];
    for (size_t j = 0; j < nev / 2; j++) {
        double *a = evecs + j * n, *b = evecs + (nev - 1 - j) * n;
        for (size_t i = 0; i < n; i++) {
            double t = a[i];
            a[i] = b[i];
            b[i] = t;
        }
    }
done:
    ssli_free(ctx, resid);
    ssli_free(ctx, v);
    ssli_free(ctx, workd);
    ssli_free(ctx, workl);
    ssli_free(ctx, d);
    ssli_free(ctx, select);
    return s;
}

sslk_status ssli_arpack_available(const char *fn) {
    (void)fn;
    return SSLK_OK;
}

#else

sslk_status ssli_arpack_available(const char *fn) {
    return ssli_err(SSLK_E_UNSUPPORTED,
                    "%s: this libsslkit was built without ARPACK (Debian libarpack2-dev); graph eigenvectors "
                    "need it (the Galerkin eigenfunctions do not)",
                    fn);
}

sslk_status ssli_arpack_largest(const sslk_ctx *ctx, size_t n, size_t nev, size_t ncv, double tol, int64_t maxiter, uint64_t seed,
                                ssli_matvec_fn mv, const void *op, double *evals, double *evecs, const char *fn) {
    (void)ctx, (void)n, (void)nev, (void)ncv, (void)tol, (void)maxiter, (void)seed, (void)mv, (void)op, (void)evals,
        (void)evecs;
    return ssli_arpack_available(fn);
}

#endif
