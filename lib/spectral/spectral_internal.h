/* Internal pieces of the spectral layer: the handle, the CSR graph, the
 * ARPACK wrapper and the shared distance-block helper.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_SPECTRAL_INTERNAL_H
#define SSLKIT_SPECTRAL_INTERNAL_H

#include "core/internal.h"
#include "sslkit/spectral.h"

/* Symmetric sparse graph without self-loops; rows sorted by column. */
typedef struct ssli_csr {
    size_t n, nnz;
    int64_t *indptr; /* n + 1 */
    int32_t *col;    /* nnz */
    float *w;        /* nnz */
} ssli_csr;

void ssli_csr_free(const sslk_ctx *ctx, ssli_csr *g);

#define SSLI_SPECTRAL_NSET 12
extern const ssli_setting_table ssli_settings_spectral;

struct sslk_spectral {
    sslk_ctx *ctx;
    double set[SSLI_SPECTRAL_NSET];
    ssli_csr g;
};

double ssli_spectral_get(const sslk_spectral *sp, int key);

/* Validate x (n x d): pointers, sizes, overflow, finiteness. */
sslk_status ssli_spectral_check_x(const float *x, size_t n, size_t d, const char *fn);

/* Build the graph of x into sp->g (graph.c). */
sslk_status ssli_spectral_build_graph(sslk_spectral *sp, const float *x, size_t n, size_t d, const char *fn);

/* Squared Euclidean distances of rows [i0, i1) of x to every row of x into
 * out ((i1 - i0) x n), through one GEMM; sq holds the n squared norms. */
void ssli_spectral_dist_block(const sslk_ctx *ctx, const float *x, const float *sq, size_t n, size_t d,
                              size_t i0, size_t i1, float *out);
/* Squared row norms (double accumulation) into sq[n]. */
void ssli_spectral_sqnorms(const sslk_ctx *ctx, const float *x, size_t n, size_t d, float *sq);

/* y = op(x) for a symmetric operator of size n. */
typedef void (*ssli_matvec_fn)(const void *op, const double *x, double *y);

/* The nev largest algebraic eigenpairs of a symmetric operator through
 * ARPACK's dsaupd/dseupd in reverse communication.  evals[nev] descending;
 * evecs column-major (vector j at evecs + j * n), orthonormal.  Start vector
 * drawn from seed.  SSLK_E_UNSUPPORTED when built without ARPACK. */
sslk_status ssli_arpack_largest(const sslk_ctx *ctx, size_t n, size_t nev, size_t ncv, double tol, int64_t maxiter, uint64_t seed,
                                ssli_matvec_fn mv, const void *op, double *evals, double *evecs, const char *fn);

/* SSLK_OK when built with ARPACK, else SSLK_E_UNSUPPORTED naming fn. */
sslk_status ssli_arpack_available(const char *fn);

/* Degree-normalised operator A = D^-1/2 W D^-1/2 (dh = D^-1/2, 0 for
 * isolated nodes), or c I - (D - W) with c = shift. */
typedef struct ssli_graph_op {
    const sslk_ctx *ctx;
    const ssli_csr *g;
    const double *deg; /* degrees */
    const double *dh;  /* D^-1/2, NULL for the unnormalised operator */
    double shift;
    double *tmp; /* n scratch */
} ssli_graph_op;
void ssli_graph_op_apply(const void *op, const double *x, double *y);
/* Degrees of g into deg[n] (double sums). */
void ssli_graph_degrees(const ssli_csr *g, double *deg);

/* Shared by eigenmaps and diffusion maps: the nev largest eigenpairs of the
 * operator of sp->g (normalised, or shifted by *shift = 2 max degree), with
 * deg and dh (D^-1/2) filled. */
sslk_status ssli_spectral_top(sslk_spectral *sp, bool normalized, size_t nev, double *mu, double *vec, double *deg,
                              double *dh, double *shift, const char *fn);
/* Common front: checks, graph, nev = k + DROP_FIRST (< n). */
sslk_status ssli_spectral_prepare(sslk_spectral *sp, const float *x, size_t n, size_t d, size_t k, const void *out,
                                  size_t *nev, const char *fn);

/* Make the largest-magnitude entry of each of the k columns (column-major,
 * length n each) positive. */
void ssli_sign_fix(double *v, size_t n, size_t k);

#endif
