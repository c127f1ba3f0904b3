/* Closed-form VC-regularised SSL: the handle, its settings, the moment
 * matrices of N x m views and the generalised eigenproblem (design note 6.1).
 * Moments are accumulated in blocks of inputs, so memory is O(r^2) plus one
 * block whatever N.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "linalg/linalg.h"
#include "theory_internal.h"

static const ssli_setting_def cfssl_defs[] = {
    {SSLK_CFSSL_K, "k", SSLK_SETTING_I64, 1, 2147483648.0, 16, "directions kept (output width)"},
    {SSLK_CFSSL_BETA, "beta", SSLK_SETTING_F64, 0, 1e12, 1, "invariance weight beta"},
    {SSLK_CFSSL_LAMBDA, "lambda", SSLK_SETTING_F64, 0, 1e12, 0, "Tikhonov weight lambda on ||Theta||^2"},
    {SSLK_CFSSL_KERNEL, "kernel", SSLK_SETTING_I64, 0, 1, 0, "0 = linear features, 1 = Gaussian kernel"},
    {SSLK_CFSSL_SIGMA, "sigma", SSLK_SETTING_F64, 1e-12, 1e12, 1, "Gaussian bandwidth: exp(-|x-y|^2/(2 sigma^2))"},
    {SSLK_CFSSL_MAX_POINTS, "max_points", SSLK_SETTING_I64, 1, 2147483648.0, 4096,
     "cap on kernel points: N*m views (exact) or landmarks (Nystrom)"},
    {SSLK_CFSSL_LANDMARKS, "landmarks", SSLK_SETTING_I64, 0, 2147483648.0, 0,
     "Nystrom landmarks p; 0 means the exact kernel on every view"},
    {SSLK_CFSSL_CENTER, "center", SSLK_SETTING_I64, 0, 1, 0, "1 = centre the features"},
    {SSLK_CFSSL_JITTER, "jitter", SSLK_SETTING_F64, 0, 1, 1e-10,
     "ridge added to the right-hand Sigma, relative to its mean diagonal"},
    {SSLK_CFSSL_SEED, "seed", SSLK_SETTING_I64, 0, 9007199254740992.0, 0, "seed of the landmark draw"},
};
static const ssli_setting_choices cfssl_choices[] = {
    {SSLK_CFSSL_KERNEL, (const char *const[]){"linear", "gaussian", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_cfssl = {"cfssl", cfssl_defs, sizeof cfssl_defs / sizeof cfssl_defs[0],
                                                cfssl_choices};

sslk_status sslk_cfssl_create(sslk_ctx *ctx, sslk_cfssl **out) {
    SSLI_CHECK_PTR(out, "sslk_cfssl_create");
    *out = NULL;
    sslk_cfssl *h = ssli_calloc(ctx, 1, sizeof *h);
    if (!h) return ssli_alloc_status();
    h->ctx = ctx;
    ssli_setting_defaults(&ssli_settings_cfssl, h->vals);
    *out = h;
    return SSLK_OK;
}

void ssli_cfssl_clear(sslk_cfssl *h) {
    double **arrays[] = {&h->mu, &h->theta, &h->mean, &h->land, &h->land_sq, &h->proj};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        ssli_free(h->ctx, *arrays[i]);
        *arrays[i] = NULL;
    }
    h->fitted = false;
    h->d = h->r = h->k = h->p = 0;
}

void sslk_cfssl_destroy(sslk_cfssl *h) {
    if (!h) return;
    ssli_cfssl_clear(h);
    ssli_free(h->ctx, h);
}

/* sslk_cfssl_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_cfssl, sslk_cfssl, ssli_settings_cfssl, vals)

sslk_status ssli_cfssl_solve(sslk_cfssl *h, double *S, double *SX, size_t r, const char *fn) {
    double beta = h->vals[CF_BETA], lambda = h->vals[CF_LAMBDA], tr = 0;
    for (size_t i = 0; i < r; i++) tr += S[i * r + i];
    if (!(tr > 0))
        return ssli_err(SSLK_E_DEGENERATE, "%s: the features' second moment is zero: nothing to learn", fn);
    /* A = (1 - beta) S + beta SX - lambda/2 I goes into SX; B = S + ridge. */
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++) SX[i * r + j] = (1 - beta) * S[i * r + j] + beta * SX[i * r + j];
    double ridge = h->vals[CF_JITTER] * tr / (double)r;
    for (size_t i = 0; i < r; i++) {
        SX[i * r + i] -= lambda / 2;
        S[i * r + i] += ridge;
    }
    double *w = ssli_malloc(h->ctx, r, sizeof(double));
    if (!w) return ssli_alloc_status();
    sslk_status st = ssli_dsygv(r, SX, r, S, r, w, true);
    if (st != SSLK_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", sslk_last_error());
        ssli_free(h->ctx, w);
        return ssli_err(st, "%s: %s (raise the 'jitter' setting when features are linearly dependent)", fn, why);
    }
    size_t k = (size_t)h->vals[CF_K] < r ? (size_t)h->vals[CF_K] : r;
    h->mu = ssli_malloc(h->ctx, r, sizeof(double));
    h->theta = ssli_calloc(h->ctx, k * r, sizeof(double));
    if (!h->mu || !h->theta) {
        ssli_free(h->ctx, w);
        return ssli_alloc_status();
    }
    for (size_t j = 0; j < r; j++) h->mu[j] = w[r - 1 - j];
    for (size_t j = 0; j < k; j++) {
        double s = h->mu[j] > 0 ? sqrt(h->mu[j]) : 0;
        /* column r-1-j of the eigenvector matrix; sign fixed so its largest entry is positive */
        size_t c = r - 1 - j, arg = 0;
        for (size_t i = 1; i < r; i++)
            if (fabs(SX[i * r + c]) > fabs(SX[arg * r + c])) arg = i;
        if (SX[arg * r + c] < 0) s = -s;
        for (size_t i = 0; i < r; i++) h->theta[j * r + i] = s * SX[i * r + c];
    }
    ssli_free(h->ctx, w);
    h->k = k;
    h->r = r;
    return SSLK_OK;
}

void ssli_cfssl_features(const sslk_cfssl *h, const float *x, size_t rows, double *out, double *scratch) {
    size_t d = h->d;
    if (h->kernel == SSLK_CFSSL_LINEAR) {
        for (size_t i = 0; i < rows * d; i++) out[i] = x[i];
        return;
    }
    /* scratch = exp(-(|x|^2 + |l|^2 - 2 x.l) / (2 sigma^2)), rows x p; the
     * cross term through BLAS on double copies of x (in out, rows x d). */
    size_t p = h->p;
    double *xs = scratch + rows * p; /* the caller sized scratch rows x (p + d) */
    for (size_t i = 0; i < rows * d; i++) xs[i] = x[i];
    ssli_dgemm(h->ctx, false, true, rows, p, d, 1.0, xs, d, h->land, d, 0.0, scratch, p);
    double g = 1.0 / (2 * h->sigma * h->sigma);
    for (size_t i = 0; i < rows; i++) {
        double xx = 0;
        for (size_t t = 0; t < d; t++) xx += xs[i * d + t] * xs[i * d + t];
        for (size_t j = 0; j < p; j++) {
            double d2 = xx + h->land_sq[j] - 2 * scratch[i * p + j];
            scratch[i * p + j] = exp(-(d2 > 0 ? d2 : 0) * g);
        }
    }
    ssli_dgemm(h->ctx, false, false, rows, h->r, p, 1.0, scratch, p, h->proj, h->r, 0.0, out, h->r);
}

/* Inputs per block: about 2^20 doubles of features. */
static size_t block_inputs(size_t m, size_t width) {
    size_t per = m * (width ? width : 1);
    size_t b = ((size_t)1 << 20) / per;
    return b ? b : 1;
}

static sslk_status check_views(const float *x, size_t n, size_t m, size_t d, const char *fn) {
    SSLI_CHECK_PTR(x, fn);
    if (n < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0 inputs", fn);
    if (m < 2) return ssli_err(SSLK_E_SHAPE, "%s: 'm' = %zu views per input; at least 2 are needed", fn, m);
    if (d < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0 features", fn);
    size_t rows, tmp;
    if (ssli_mul_overflow(n, m, &rows) || ssli_mul3_overflow(rows, d, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n x m x d = %zu x %zu x %zu overflows", fn, n, m, d);
    return ssli_check_finite_f32(x, rows, d, fn, "x");
}

static sslk_status fit_views(sslk_cfssl *h, const float *x, size_t n, size_t m, size_t d, const char *fn) {
    size_t r = h->r, width = h->kernel == SSLK_CFSSL_LINEAR ? 0 : h->p + d;
    size_t bi = block_inputs(m, r > width ? r : width), tmp;
    if (ssli_mul3_overflow(r, r, sizeof(double), &tmp))
        return ssli_err(SSLK_E_OVERFLOW, "%s: the %zu x %zu moment matrix overflows", fn, r, r);
    double *S = ssli_calloc(h->ctx, r * r, sizeof(double));
    double *SX = ssli_calloc(h->ctx, r * r, sizeof(double));
    double *F = ssli_malloc(h->ctx, bi * m * r, sizeof(double));
    double *sums = ssli_malloc(h->ctx, bi * r, sizeof(double));
    double *scratch = width ? ssli_malloc(h->ctx, bi * m * width, sizeof(double)) : NULL;
    h->mean = ssli_calloc(h->ctx, r, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!S || !SX || !F || !sums || (width && !scratch) || !h->mean) {
        st = ssli_alloc_status();
        goto done;
    }
    bool center = h->vals[CF_CENTER] != 0;
    for (int pass = center ? 0 : 1; pass < 2; pass++) {
        for (size_t i0 = 0; i0 < n; i0 += bi) {
            size_t ni = n - i0 < bi ? n - i0 : bi, rows = ni * m;
            ssli_cfssl_features(h, x + i0 * m * d, rows, F, scratch);
            if (pass == 0) {
                for (size_t i = 0; i < rows; i++)
                    for (size_t j = 0; j < r; j++) h->mean[j] += F[i * r + j];
                continue;
            }
            for (size_t i = 0; i < rows; i++)
                for (size_t j = 0; j < r; j++) F[i * r + j] -= h->mean[j];
            memset(sums, 0, ni * r * sizeof(double));
            for (size_t i = 0; i < ni; i++)
                for (size_t a = 0; a < m; a++)
                    for (size_t j = 0; j < r; j++) sums[i * r + j] += F[(i * m + a) * r + j];
            ssli_dsyrk(h->ctx, true, r, rows, 1.0, F, r, 1.0, S, r);
            ssli_dsyrk(h->ctx, true, r, ni, 1.0, sums, r, 1.0, SX, r);
        }
        if (pass == 0)
            for (size_t j = 0; j < r; j++) h->mean[j] /= (double)(n * m);
    }
    /* sum_i s_i s_i^T = sum_ia phi phi^T + sum_i sum_{a != b} phi_ia phi_ib^T */
    double nm = (double)n * (double)m;
    for (size_t i = 0; i < r * r; i++) {
        SX[i] = (SX[i] - S[i]) / (nm * (double)(m - 1));
        S[i] /= nm;
    }
    st = ssli_cfssl_solve(h, S, SX, r, fn);
done:
    ssli_free(h->ctx, S);
    ssli_free(h->ctx, SX);
    ssli_free(h->ctx, F);
    ssli_free(h->ctx, sums);
    ssli_free(h->ctx, scratch);
    return st;
}

sslk_status sslk_cfssl_fit(sslk_cfssl *h, const float *x, size_t n, size_t m, size_t d) {
    static const char *fn = "sslk_cfssl_fit";
    SSLI_CHECK_PTR(h, fn);
    SSLI_TRY(check_views(x, n, m, d, fn));
    ssli_cfssl_clear(h);
    h->kernel = (int)h->vals[CF_KERNEL];
    h->d = d;
    h->r = d;
    sslk_status st = SSLK_OK;
    if (h->kernel == SSLK_CFSSL_GAUSSIAN) st = ssli_cfssl_kernel_setup(h, x, n * m, d, fn);
    if (st == SSLK_OK) st = fit_views(h, x, n, m, d, fn);
    if (st != SSLK_OK) {
        ssli_cfssl_clear(h);
        return st;
    }
    h->fitted = true;
    return SSLK_OK;
}

sslk_status sslk_cfssl_fit_moments(sslk_cfssl *h, const double *sigma, const double *sigma_x, size_t d) {
    static const char *fn = "sslk_cfssl_fit_moments";
    SSLI_CHECK_PTR(h, fn);
    SSLI_CHECK_PTR(sigma, fn);
    SSLI_CHECK_PTR(sigma_x, fn);
    if (h->vals[CF_KERNEL] != SSLK_CFSSL_LINEAR)
        return ssli_err(SSLK_E_STATE, "%s: moments define a linear model; set 'kernel' to linear", fn);
    if (d < 1) return ssli_err(SSLK_E_SHAPE, "%s: 'd' = 0", fn);
    size_t dd;
    if (ssli_mul3_overflow(d, d, sizeof(double), &dd))
        return ssli_err(SSLK_E_OVERFLOW, "%s: 'd' = %zu: d x d overflows", fn, d);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double a = sigma[i * d + j], b = sigma_x[i * d + j];
            if (!isfinite(a) || !isfinite(b))
                return ssli_err(SSLK_E_NONFINITE, "%s: '%s' [%zu, %zu] is not finite", fn,
                                isfinite(a) ? "sigma_x" : "sigma", i, j);
            if (fabs(a - sigma[j * d + i]) > 1e-12 * (fabs(a) + 1) ||
                fabs(b - sigma_x[j * d + i]) > 1e-12 * (fabs(b) + 1))
                return ssli_err(SSLK_E_INVALID_ARG, "%s: '%s' is not symmetric at [%zu, %zu]", fn,
                                fabs(a - sigma[j * d + i]) > 1e-12 * (fabs(a) + 1) ? "sigma" : "sigma_x", i, j);
        }
    ssli_cfssl_clear(h);
    h->kernel = SSLK_CFSSL_LINEAR;
    h->d = h->r = d;
    double *S = ssli_malloc(h->ctx, d * d, sizeof(double));
    double *SX = ssli_malloc(h->ctx, d * d, sizeof(double));
    h->mean = ssli_calloc(h->ctx, d, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!S || !SX || !h->mean)
        st = ssli_alloc_status();
    else {
        memcpy(S, sigma, d * d * sizeof(double));
        memcpy(SX, sigma_x, d * d * sizeof(double));
        st = ssli_cfssl_solve(h, S, SX, d, fn);
    }
    ssli_free(h->ctx, S);
    ssli_free(h->ctx, SX);
    if (st != SSLK_OK) {
        ssli_cfssl_clear(h);
        return st;
    }
    h->fitted = true;
    return SSLK_OK;
}
