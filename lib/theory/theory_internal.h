/* Internal parts of the theory layer (lib/theory).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_THEORY_INTERNAL_H
#define SSLKIT_THEORY_INTERNAL_H

#include "core/internal.h"
#include "sslkit/theory.h"

extern const ssli_setting_table ssli_settings_cfssl;
enum { CF_K, CF_BETA, CF_LAMBDA, CF_KERNEL, CF_SIGMA, CF_MAX_POINTS, CF_LANDMARKS, CF_CENTER, CF_JITTER, CF_SEED,
       CF_NVALS };

struct sslk_cfssl {
    sslk_ctx *ctx;
    double vals[CF_NVALS];
    bool fitted;
    int kernel;      /* kernel of the fit (settings may change afterwards) */
    size_t d;        /* input width */
    size_t r;        /* feature width (d, or kernel rank) */
    size_t k;        /* output width, min(K, r) */
    double *mu;      /* r, descending */
    double *theta;   /* k x r */
    double *mean;    /* r: subtracted from the features (zeros without centring) */
    /* Gaussian kernel: phi(x) = proj^T kvec(x), kvec_j = exp(-|x - land_j|^2 / (2 sigma^2)) */
    size_t p;
    double sigma;
    double *land;    /* p x d */
    double *land_sq; /* p: squared norms */
    double *proj;    /* p x r */
};

/* Features of rows x (rows x d float) into out (rows x h->r doubles); the
 * fit's kernel and landmarks.  scratch holds rows x max(d, p) doubles. */
void ssli_cfssl_features(const sslk_cfssl *h, const float *x, size_t rows, double *out, double *scratch);
/* Solve the eigenproblem from S (second moment) and SX (cross-view moment),
 * r x r, both destroyed; fills mu, theta, k.  mean must already be set. */
sslk_status ssli_cfssl_solve(sslk_cfssl *h, double *S, double *SX, size_t r, const char *fn);
/* Kernel set-up: choose landmarks from x, build proj; sets p, r, land*, proj. */
sslk_status ssli_cfssl_kernel_setup(sslk_cfssl *h, const float *x, size_t rows, size_t d, const char *fn);
/* Release the arrays of a fit. */
void ssli_cfssl_clear(sslk_cfssl *h);

#endif
