/* Theory layer: closed-form VC-regularised SSL, LiDAR, collapse monitors,
 * variation scores, the VICReg bound report.  Expected values are
 * hand-derived (design note test T1, the interplay paper's three-regime toy,
 * the LiDAR case) or exact identities; numpy/scipy cross-checks on random
 * data are in tests/python/test_theory.py.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static sslk_ctx *ctx;
static void setup(void) { ck_ok(sslk_ctx_create(&ctx)); }
static void teardown(void) { sslk_ctx_destroy(ctx); }

static sslk_cfssl *solver(int64_t k, double beta, double lambda) {
    sslk_cfssl *h;
    ck_ok(sslk_cfssl_create(ctx, &h));
    ck_ok(sslk_cfssl_set_i64(h, SSLK_CFSSL_K, k));
    ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_BETA, beta));
    ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_LAMBDA, lambda));
    ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_JITTER, 0));
    return h;
}

/* T1: Sigma = diag(1, 1 + s^2), Sigma_X = I, beta = 1, lambda = 0:
 * mu = (1, 1/(1+s^2)), psi(x) = +-x_1; lambda = 2 (1 + eta): full collapse. */
START_TEST(cfssl_t1) {
    double s2 = 0.25, S[4] = {1, 0, 0, 1 + s2}, SX[4] = {1, 0, 0, 1}, mu[2];
    sslk_cfssl *h = solver(1, 1, 0);
    ck_ok(sslk_cfssl_fit_moments(h, S, SX, 2));
    size_t count, collapsed, in, out;
    ck_ok(sslk_cfssl_spectrum(h, mu, 2, &count, &collapsed));
    ck_assert_uint_eq(count, 2);
    ck_assert_uint_eq(collapsed, 0);
    ck_close(mu[0], 1, 1e-12, 0);
    ck_close(mu[1], 1 / (1 + s2), 1e-12, 0);
    ck_ok(sslk_cfssl_shape(h, &in, &out));
    ck_assert_uint_eq(in, 2);
    ck_assert_uint_eq(out, 1);
    float theta[2], x[4] = {0.5f, 3, -2, 7}, y[4]; /* y: 2 rows x up to 2 outputs */
    ck_ok(sslk_cfssl_linear_map(h, theta, NULL));
    ck_close(fabs(theta[0]), 1, 1e-6, 0);
    ck_close(theta[1], 0, 0, 1e-7);
    ck_ok(sslk_cfssl_apply(h, x, 2, y));
    ck_close(fabs(y[0]), 0.5, 1e-6, 0);
    ck_close(fabs(y[1]), 2, 1e-6, 0);
    /* lambda = 2 (1 + 0.1): A = (1 - 1.1) I, so mu = -0.1 / diag(Sigma) <= 0 */
    ck_ok(sslk_cfssl_set_i64(h, SSLK_CFSSL_K, 2));
    ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_LAMBDA, 2.2));
    ck_ok(sslk_cfssl_fit_moments(h, S, SX, 2));
    ck_ok(sslk_cfssl_spectrum(h, mu, 2, &count, &collapsed));
    ck_assert_uint_eq(collapsed, 2);
    ck_close(mu[0], -0.1 / (1 + s2), 1e-12, 0);
    ck_close(mu[1], -0.1, 1e-12, 0);
    ck_ok(sslk_cfssl_apply(h, x, 2, y));
    ck_assert(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0);
    sslk_cfssl_destroy(h);
}
END_TEST

/* Three-regime toy: eigenfunctions f_i of T (eigenvalues tau) with RKHS
 * norms ||f_i||^2 = c_i.  Features phi_i = f_i / sqrt(c_i) make the RKHS
 * norm Euclidean: Sigma = diag(1/c), Sigma_X = diag(tau/c), so with beta = 1
 * mu_i = tau_i - lambda c_i / 2.  k = 1 picks f1 for lambda < 2
 * (augmentation regime), f2 for 2 < lambda < 4 (interplay), f3 for
 * 4 < lambda < 8 (architecture), nothing beyond 8 (collapse). */
START_TEST(cfssl_three_regime_toy) {
    const double tau[3] = {0.9, 0.75, 0.5}, c[3] = {0.4, 0.25, 0.125};
    double S[9] = {0}, SX[9] = {0};
    for (int i = 0; i < 3; i++) {
        S[i * 4] = 1 / c[i];
        SX[i * 4] = tau[i] / c[i];
    }
    const double lambdas[] = {0, 1, 1.9, 2.1, 3, 3.9, 4.1, 6, 7.9, 8.1, 20};
    const int want[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, -1, -1};
    sslk_cfssl *h = solver(1, 1, 0);
    for (size_t t = 0; t < sizeof lambdas / sizeof lambdas[0]; t++) {
        ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_LAMBDA, lambdas[t]));
        ck_ok(sslk_cfssl_fit_moments(h, S, SX, 3));
        double mu[3], best = -INFINITY;
        size_t count, collapsed;
        ck_ok(sslk_cfssl_spectrum(h, mu, 3, &count, &collapsed));
        for (int i = 0; i < 3; i++) best = fmax(best, tau[i] - lambdas[t] * c[i] / 2);
        ck_close(mu[0], best, 1e-12, 1e-12);
        float theta[3];
        ck_ok(sslk_cfssl_linear_map(h, theta, NULL));
        int arg = -1;
        for (int i = 0; i < 3; i++)
            if (fabs(theta[i]) > 1e-6) {
                ck_assert_msg(arg < 0, "lambda %g: more than one eigenfunction in a k = 1 map", lambdas[t]);
                arg = i;
            }
        ck_assert_msg(arg == want[t], "lambda = %g selects f%d, expected f%d", lambdas[t], arg + 1, want[t] + 1);
        ck_assert_uint_eq(collapsed, want[t] < 0 ? 1 : 0);
        if (arg >= 0) /* theta = sqrt(mu) v, v^T Sigma v = 1 */
            ck_close(fabs(theta[arg]), sqrt(best * c[arg]), 1e-6, 0);
    }
    sslk_cfssl_destroy(h);
}
END_TEST

/* Views in, moments out: the fit from data equals the fit from moments
 * computed here by the definition (double loops over pairs a != b). */
START_TEST(cfssl_views_match_moments) {
    enum { N = 30, M = 3, D = 4 };
    float x[N * M * D];
    tu_fill_uniform(x, N * M * D, 11, -1, 1);
    for (int i = 0; i < N; i++) /* a shared component makes the views agree */
        for (int t = 0; t < D; t++)
            for (int a = 1; a < M; a++) x[(i * M + a) * D + t] = 0.6f * x[(i * M) * D + t] + 0.4f * x[(i * M + a) * D + t];
    double S[D * D] = {0}, SX[D * D] = {0};
    for (int i = 0; i < N; i++)
        for (int a = 0; a < M; a++)
            for (int b = 0; b < M; b++)
                for (int p = 0; p < D; p++)
                    for (int q = 0; q < D; q++) {
                        double v = (double)x[(i * M + a) * D + p] * x[(i * M + b) * D + q];
                        if (a == b)
                            S[p * D + q] += v / (N * M);
                        else
                            SX[p * D + q] += v / (N * M * (M - 1.0));
                    }
    sslk_cfssl *h1 = solver(3, 0.7, 0.05), *h2 = solver(3, 0.7, 0.05);
    ck_ok(sslk_cfssl_fit(h1, x, N, M, D));
    ck_ok(sslk_cfssl_fit_moments(h2, S, SX, D));
    double mu1[D], mu2[D];
    size_t count;
    ck_ok(sslk_cfssl_spectrum(h1, mu1, D, &count, NULL));
    ck_ok(sslk_cfssl_spectrum(h2, mu2, D, &count, NULL));
    for (int j = 0; j < D; j++) ck_close(mu1[j], mu2[j], 1e-9, 1e-12);
    float y1[N * 3], y2[N * 3];
    ck_ok(sslk_cfssl_apply(h1, x, N, y1));
    ck_ok(sslk_cfssl_apply(h2, x, N, y2));
    for (int i = 0; i < N * 3; i++) ck_close(y1[i], y2[i], 1e-4, 1e-5);
    /* the fit's representation whitens: Theta Sigma Theta^T = diag(mu) */
    for (int p = 0; p < 3; p++)
        for (int q = 0; q < 3; q++) {
            float th[3 * D];
            ck_ok(sslk_cfssl_linear_map(h1, th, NULL));
            double v = 0;
            for (int a = 0; a < D; a++)
                for (int b = 0; b < D; b++) v += th[p * D + a] * S[a * D + b] * th[q * D + b];
            ck_close(v, p == q ? mu1[p] : 0, 1e-5, 1e-6);
        }
    sslk_cfssl_destroy(h1);
    sslk_cfssl_destroy(h2);
}
END_TEST

/* Rotating the inputs (x -> Q x, Q orthogonal) leaves the invariance
 * spectrum unchanged and the representation equal up to sign (the
 * generalised problem is equivariant); lambda > 0 keeps this because
 * ||Theta Q^T||_F = ||Theta||_F.  Also with the Gaussian kernel. */
START_TEST(cfssl_rotation_invariance) {
    enum { N = 40, M = 2, D = 3 };
    float x[N * M * D], xr[N * M * D];
    tu_fill_uniform(x, N * M * D, 5, -1, 1);
    for (int i = 0; i < N; i++)
        for (int t = 0; t < D; t++) x[(i * M + 1) * D + t] = x[i * M * D + t] + 0.2f * x[(i * M + 1) * D + t] * (float)(t + 1);
    const double c = cos(0.7), s = sin(0.7), Q[9] = {c, -s, 0, s, c, 0, 0, 0, 1};
    for (int r = 0; r < N * M; r++)
        for (int p = 0; p < D; p++) {
            double v = 0;
            for (int q = 0; q < D; q++) v += Q[p * D + q] * x[r * D + q];
            xr[r * D + p] = (float)v;
        }
    for (int kernel = 0; kernel < 2; kernel++) {
        sslk_cfssl *a = solver(3, 1, 0.02), *b = solver(3, 1, 0.02);
        ck_ok(sslk_cfssl_set_i64(a, SSLK_CFSSL_KERNEL, kernel));
        ck_ok(sslk_cfssl_set_i64(b, SSLK_CFSSL_KERNEL, kernel));
        ck_ok(sslk_cfssl_fit(a, x, N, M, D));
        ck_ok(sslk_cfssl_fit(b, xr, N, M, D));
        double ma[80], mb[80];
        size_t ca, cb;
        ck_ok(sslk_cfssl_spectrum(a, ma, 80, &ca, NULL));
        ck_ok(sslk_cfssl_spectrum(b, mb, 80, &cb, NULL));
        ck_assert_uint_eq(ca, cb);
        for (size_t j = 0; j < 3; j++) ck_close(ma[j], mb[j], 1e-6, 1e-9);
        float ya[N * 3], yb[N * 3];
        ck_ok(sslk_cfssl_apply(a, x, N, ya));
        ck_ok(sslk_cfssl_apply(b, xr, N, yb));
        for (int j = 0; j < 3; j++) {
            double dot = 0;
            for (int i = 0; i < N; i++) dot += (double)ya[i * 3 + j] * yb[i * 3 + j];
            double sign = dot < 0 ? -1 : 1;
            for (int i = 0; i < N; i++) ck_close(yb[i * 3 + j], sign * ya[i * 3 + j], 1e-3, 1e-4);
        }
        sslk_cfssl_destroy(a);
        sslk_cfssl_destroy(b);
    }
}
END_TEST

/* Kernel mode: exact == Nystrom with every view as landmark; the cap refuses
 * with SSLK_E_LIMIT naming N*m and the cap; landmarks get past it. */
START_TEST(cfssl_kernel_cap_and_nystrom) {
    enum { N = 25, M = 2, D = 2 };
    float x[N * M * D];
    tu_fill_uniform(x, N * M * D, 9, -1, 1);
    sslk_cfssl *a = solver(2, 1, 0.01), *b = solver(2, 1, 0.01);
    for (sslk_cfssl *h = a; h; h = h == a ? b : NULL) {
        ck_ok(sslk_cfssl_set_i64(h, SSLK_CFSSL_KERNEL, SSLK_CFSSL_GAUSSIAN));
        ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_SIGMA, 0.8));
    }
    ck_ok(sslk_cfssl_set_i64(b, SSLK_CFSSL_LANDMARKS, N * M));
    ck_ok(sslk_cfssl_fit(a, x, N, M, D));
    ck_ok(sslk_cfssl_fit(b, x, N, M, D));
    float ya[N * 2], yb[N * 2];
    ck_ok(sslk_cfssl_apply(a, x, N, ya));
    ck_ok(sslk_cfssl_apply(b, x, N, yb));
    for (int i = 0; i < N * 2; i++) ck_close(ya[i], yb[i], 1e-4, 1e-5);
    float th[4];
    ck_status(sslk_cfssl_linear_map(a, th, NULL), SSLK_E_STATE);
    ck_ok(sslk_cfssl_set_i64(a, SSLK_CFSSL_MAX_POINTS, 49));
    ck_status(sslk_cfssl_fit(a, x, N, M, D), SSLK_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "N*m = 50"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "max_points = 49"));
    ck_status(sslk_cfssl_apply(a, x, N, ya), SSLK_E_STATE); /* a failed fit leaves no fit */
    ck_ok(sslk_cfssl_set_i64(a, SSLK_CFSSL_LANDMARKS, 30));
    ck_ok(sslk_cfssl_fit(a, x, N, M, D));
    size_t in, out;
    ck_ok(sslk_cfssl_shape(a, &in, &out));
    ck_assert_uint_eq(in, D);
    ck_assert_uint_eq(out, 2);
    ck_ok(sslk_cfssl_set_i64(a, SSLK_CFSSL_LANDMARKS, 60));
    ck_status(sslk_cfssl_fit(a, x, N, M, D), SSLK_E_LIMIT);
    sslk_cfssl_destroy(a);
    sslk_cfssl_destroy(b);
}
END_TEST

START_TEST(cfssl_bad_input) {
    sslk_cfssl *h = solver(2, 1, 0);
    float x[12] = {0}, y[4];
    double S[4] = {1, 0.5, 0, 1}, I[4] = {1, 0, 0, 1};
    ck_status(sslk_cfssl_apply(h, x, 2, y), SSLK_E_STATE);
    ck_status(sslk_cfssl_fit(h, x, 3, 1, 4), SSLK_E_SHAPE);
    ck_status(sslk_cfssl_fit(h, NULL, 3, 2, 2), SSLK_E_INVALID_ARG);
    ck_status(sslk_cfssl_fit(h, x, (size_t)1 << 62, 4, 8), SSLK_E_OVERFLOW);
    ck_status(sslk_cfssl_fit(h, x, 3, 2, 2), SSLK_E_DEGENERATE); /* all zero */
    x[5] = NAN;
    ck_status(sslk_cfssl_fit(h, x, 3, 2, 2), SSLK_E_NONFINITE);
    ck_status(sslk_cfssl_fit_moments(h, S, I, 2), SSLK_E_INVALID_ARG); /* not symmetric */
    ck_status(sslk_cfssl_set_f64(h, SSLK_CFSSL_BETA, -1), SSLK_E_SETTING);
    ck_status(sslk_cfssl_set_f64(h, SSLK_CFSSL_SIGMA, 0), SSLK_E_SETTING);
    ck_status(sslk_cfssl_set_i64(h, SSLK_CFSSL_K, 0), SSLK_E_SETTING);
    /* a singular right-hand side without jitter is a clear numeric error */
    double Z[4] = {1, 0, 0, 0};
    ck_status(sslk_cfssl_fit_moments(h, Z, Z, 2), SSLK_E_NUMERIC);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "jitter"));
    ck_ok(sslk_cfssl_set_f64(h, SSLK_CFSSL_JITTER, 1e-8));
    ck_ok(sslk_cfssl_fit_moments(h, Z, Z, 2));
    size_t count, collapsed;
    ck_ok(sslk_cfssl_spectrum(h, NULL, 0, &count, &collapsed));
    ck_assert_uint_eq(collapsed, 1); /* the zero-variance direction collapses */
    ck_ok(sslk_cfssl_set_i64(h, SSLK_CFSSL_KERNEL, 1));
    ck_status(sslk_cfssl_fit_moments(h, I, I, 2), SSLK_E_STATE);
    int64_t v;
    ck_ok(sslk_cfssl_get_i64(h, SSLK_CFSSL_MAX_POINTS, &v));
    ck_assert_int_eq(v, 4096);
    sslk_cfssl_destroy(h);
}
END_TEST

/* Random Fourier features: deterministic per seed; inner products
 * approach the Gaussian kernel (D = 20000: std ~ 1/sqrt(D) = 0.007). */
/* Same fit for 1 and 2 threads (the split GEMM / Gram are bitwise
 * thread-count independent and LAPACK runs on one thread). */
START_TEST(cfssl_threads_deterministic) {
    enum { N = 600, M = 2, D = 128 }; /* above the 4 MFLOP threshold of the split products */
    float *x = malloc(N * M * D * sizeof(float)), y1[N * 8], y2[N * 8];
    tu_fill_uniform(x, N * M * D, 17, -1, 1);
    for (int threads = 1; threads <= 2; threads++) {
        ck_ok(sslk_ctx_set_threads(ctx, threads));
        sslk_cfssl *h = solver(8, 0.9, 0.01);
        ck_ok(sslk_cfssl_fit(h, x, N, M, D));
        ck_ok(sslk_cfssl_apply(h, x, N, threads == 1 ? y1 : y2));
        sslk_cfssl_destroy(h);
    }
    ck_assert(memcmp(y1, y2, sizeof y1) == 0);
    free(x);
}
END_TEST

START_TEST(random_features_kernel) {
    enum { D = 20000 };
    float x[6] = {0, 0, 0.5f, -0.5f, 1, 1};
    float *f = malloc(3 * D * sizeof(float)), *g = malloc(3 * D * sizeof(float));
    ck_ok(sslk_random_features(ctx, x, 3, 2, D, 0.9, 42, f));
    ck_ok(sslk_random_features(ctx, x, 3, 2, D, 0.9, 42, g));
    ck_assert(memcmp(f, g, 3 * D * sizeof(float)) == 0);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double dot = 0, d2 = 0;
            for (int j = 0; j < D; j++) dot += (double)f[a * D + j] * f[b * D + j];
            for (int t = 0; t < 2; t++) d2 += (x[a * 2 + t] - x[b * 2 + t]) * (x[a * 2 + t] - x[b * 2 + t]);
            ck_close(dot, exp(-d2 / (2 * 0.81)), 0, 0.04);
        }
    ck_status(sslk_random_features(ctx, x, 3, 2, D, 0, 42, f), SSLK_E_INVALID_ARG);
    free(f);
    free(g);
}
END_TEST

/* Design-note LiDAR case: means (+-1, 0), (0, +-1); x-axis samples spread
 * +-0.1 along x, y-axis ones along y: Sigma_b = 2/3 I, Sigma_w = 0.01 I,
 * LiDAR = 2 (eps = 0).  All means on the x-axis with y spread -> ~1. */
START_TEST(lidar_cases) {
    float e[16] = {1.1f, 0, 0.9f, 0, -0.9f, 0, -1.1f, 0, 0, 1.1f, 0, 0.9f, 0, -0.9f, 0, -1.1f};
    double v, spec[2];
    ck_ok(sslk_lidar(ctx, e, 4, 2, 2, 0, 0, &v, spec));
    ck_close(v, 2, 1e-9, 0);
    ck_close(spec[0], (2.0 / 3) / 0.01, 1e-6, 0);
    ck_close(spec[1], (2.0 / 3) / 0.01, 1e-6, 0);
    ck_ok(sslk_lidar(ctx, e, 4, 2, 2, 1e-4, 1e-8, &v, NULL));
    ck_close(v, 2, 1e-6, 0);
    float f[16] = {1, 0.1f, 1, -0.1f, -1, 0.1f, -1, -0.1f, 2, 0.1f, 2, -0.1f, -2, 0.1f, -2, -0.1f};
    ck_ok(sslk_lidar(ctx, f, 4, 2, 2, 1e-4, 0, &v, spec));
    ck_assert(v >= 1 && v < 1.0001);
    ck_close(spec[1], 0, 0, 1e-9);
    /* invariance to an orthogonal map of the embedding space */
    float r[16];
    const double c = cos(1.1), s = sin(1.1);
    for (int i = 0; i < 8; i++) {
        r[i * 2] = (float)(c * e[i * 2] - s * e[i * 2 + 1]);
        r[i * 2 + 1] = (float)(s * e[i * 2] + c * e[i * 2 + 1]);
    }
    ck_ok(sslk_lidar(ctx, r, 4, 2, 2, 0, 0, &v, NULL));
    ck_close(v, 2, 1e-6, 0);
    ck_status(sslk_lidar(ctx, e, 4, 1, 4, 1e-4, 0, &v, NULL), SSLK_E_SHAPE);
    ck_status(sslk_lidar(ctx, e, 1, 2, 8, 1e-4, 0, &v, NULL), SSLK_E_SHAPE);
    ck_status(sslk_lidar(ctx, e, 4, 2, 2, -1, 0, &v, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_lidar(ctx, f, 4, 2, 2, 0, 0, &v, NULL), SSLK_E_NUMERIC); /* no x spread, delta 0 */
    float same[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    ck_status(sslk_lidar(ctx, same, 2, 2, 2, 1e-4, 0, &v, NULL), SSLK_E_DEGENERATE);
    e[3] = INFINITY;
    ck_status(sslk_lidar(ctx, e, 4, 2, 2, 1e-4, 0, &v, NULL), SSLK_E_NONFINITE);
}
END_TEST

/* T4: zero column means and Z^T Z = n I -> 0; Z = 0 -> k.  Averaged over
 * random splits, the two-halves estimator equals the U-statistic
 * sum_{i != j} (z_i . z_j)^2 / (n (n-1)) - 2 tr(C) + k (exactly, for n even),
 * which the biased full-batch square tr(C^2) - 2 tr(C) + k misses. */
START_TEST(ortho_penalty_t4) {
    float z[8] = {1, 1, 1, -1, -1, 1, -1, -1}, zero[8] = {0};
    double v;
    ck_ok(sslk_ortho_penalty(ctx, z, 4, 2, 1, &v));
    ck_close(v, 0, 0, 1e-15);
    ck_ok(sslk_ortho_penalty(ctx, zero, 4, 2, 0, &v));
    ck_close(v, 2, 0, 0);
    ck_ok(sslk_ortho_penalty_split(ctx, zero, 4, 2, 0, &v));
    ck_close(v, 2, 0, 0);
    enum { N = 12, K = 3 };
    float w[N * K];
    tu_fill_uniform(w, N * K, 21, -1.5f, 1.5f);
    double u = 0, tr = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double d = 0;
            for (int t = 0; t < K; t++) d += (double)w[i * K + t] * w[j * K + t];
            if (i != j) u += d * d;
            else tr += d;
        }
    double want = u / (N * (N - 1.0)) - 2 * tr / N + K, avg = 0, full;
    enum { SPLITS = 4000 };
    for (int s = 0; s < SPLITS; s++) {
        ck_ok(sslk_ortho_penalty_split(ctx, w, N, K, (uint64_t)s, &v));
        avg += v / SPLITS;
    }
    ck_close(avg, want, 0.02, 0);
    ck_ok(sslk_ortho_penalty(ctx, w, N, K, 0, &full));
    ck_assert_msg(fabs(full - want) > 0.1 * fabs(want), "full-batch %g vs unbiased %g: the test cannot tell", full,
                  want);
    ck_status(sslk_ortho_penalty_split(ctx, w, 1, K, 0, &v), SSLK_E_SHAPE);
    ck_status(sslk_ortho_penalty(ctx, w, N, K, 3, &v), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(collapse_std_values) {
    float z[6] = {1, 0, 3, 0, 5, 0}; /* column 0: 1, 3, 5 -> std 2; column 1 constant */
    double m, per[2];
    ck_ok(sslk_collapse_std(ctx, z, 3, 2, 0, &m, per));
    ck_close(per[0], 2, 1e-12, 0);
    ck_close(per[1], 0, 0, 0);
    ck_close(m, 1, 1e-12, 0);
    ck_ok(sslk_collapse_std(ctx, z, 3, 2, 1, &m, per)); /* normalised rows all (1, 0) */
    ck_close(m, 0, 0, 1e-12);
    float w[4] = {3, 4, -3, -4}; /* normalised: (0.6, 0.8), (-0.6, -0.8) */
    ck_ok(sslk_collapse_std(ctx, w, 2, 2, 1, &m, per));
    ck_close(per[0], 0.6 * sqrt(2.0), 1e-7, 0);
    ck_close(per[1], 0.8 * sqrt(2.0), 1e-7, 0);
    ck_status(sslk_collapse_std(ctx, w, 1, 2, 0, &m, NULL), SSLK_E_SHAPE);
    ck_status(sslk_collapse_std(ctx, w, 2, 2, 2, &m, NULL), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(graph_variation_values) {
    float z[6] = {0, 0, 1, 0, 1, 2}; /* 3 points in 2-D */
    int64_t src[3] = {0, 1, 0}, dst[3] = {1, 2, 2};
    float w[3] = {1, 0.5f, 2};
    double v;
    ck_ok(sslk_graph_variation(ctx, z, 3, 2, src, dst, w, 3, &v));
    ck_close(v, (1 * 1 + 0.5 * 4 + 2 * 5) / 3.0, 1e-12, 0);
    ck_ok(sslk_graph_variation(ctx, z, 3, 2, src, dst, NULL, 3, &v));
    ck_close(v, (1 + 4 + 5) / 3.0, 1e-12, 0);
    dst[2] = 3;
    ck_status(sslk_graph_variation(ctx, z, 3, 2, src, dst, w, 3, &v), SSLK_E_RANGE);
    ck_status(sslk_graph_variation(ctx, z, 3, 2, src, dst, w, 0, &v), SSLK_E_SHAPE);
}
END_TEST

/* A linear model y = W x + b: the Jacobian is W everywhere, so the Dirichlet
 * energy is |W|_F^2 / (k d) and the augmentation variation has mean
 * sigma^2 |W|_F^2 / k (and is exactly 0 at sigma = 0). */
START_TEST(model_variations_linear) {
    size_t shape[1] = {4};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(ctx, "linear:3", 1, shape, 7, &m));
    float W[12];
    ck_ok(sslk_model_get_param(m, "0.weight", W, 12));
    double fro = 0;
    for (int i = 0; i < 12; i++) fro += (double)W[i] * W[i];
    enum { N = 2000 };
    float *x = malloc(N * 4 * sizeof(float));
    tu_fill_uniform(x, N * 4, 3, -1, 1);
    double v;
    ck_ok(sslk_dirichlet_energy(m, x, 20, 1e-2, &v));
    ck_close(v, fro / 12, 1e-3, 0);
    ck_ok(sslk_augmentation_variation(m, x, N, 0, 1, &v));
    ck_close(v, 0, 0, 0);
    ck_ok(sslk_augmentation_variation(m, x, N, 0.1, 1, &v));
    ck_close(v, 0.01 * fro / 3, 0.1, 0); /* 6000 squared Gaussians: ~2% std */
    ck_status(sslk_dirichlet_energy(m, x, 20, 0, &v), SSLK_E_INVALID_ARG);
    ck_status(sslk_augmentation_variation(m, x, 0, 0.1, 1, &v), SSLK_E_SHAPE);
    free(x);
    sslk_model_destroy(m);
}
END_TEST

/* c = 2, k = 1, W = (1, -1)^T, b = 0: z = 0 gives logits (0, 0), loss log 2,
 * prediction class 0 (ties go low); z = 2 with label 1: logits (2, -2),
 * loss log(1 + e^4) - ... = 4 + log(1 + e^-4), wrong.  Pair (1, 0):
 * |W (1 - 0)| = sqrt 2.  delta = e^-2, n = 2: confidence sqrt(2 / 4). */
START_TEST(bound_report_values) {
    float w[2] = {1, -1}, z[2] = {0, 2}, z1[1] = {1}, z2[1] = {0};
    int32_t y[2] = {0, 1};
    sslk_bound_report r = {.struct_size = sizeof r};
    ck_ok(sslk_vicreg_bound(ctx, w, NULL, 2, 1, z, y, 2, z1, z2, 1, 0.5, 0.25, exp(-2.0), &r));
    double loss = (log(2.0) + 4 + log1p(exp(-4.0))) / 2;
    ck_close(r.labelled_loss, loss, 1e-12, 0);
    ck_close(r.labelled_error, 0.5, 0, 0);
    ck_close(r.invariance, sqrt(2.0), 1e-12, 0);
    ck_close(r.confidence, sqrt(0.5), 1e-12, 0);
    ck_close(r.complexity, 0.25, 0, 0);
    ck_close(r.total, loss + 0.5 * sqrt(2.0) + 0.25 + sqrt(0.5), 1e-12, 0);
    ck_assert_uint_eq(r.num_labelled, 2);
    ck_assert_uint_eq(r.struct_size, sizeof r);
    y[1] = 2;
    ck_status(sslk_vicreg_bound(ctx, w, NULL, 2, 1, z, y, 2, z1, z2, 1, 0.5, 0.25, 0.1, &r), SSLK_E_RANGE);
    y[1] = 1;
    ck_status(sslk_vicreg_bound(ctx, w, NULL, 2, 1, z, y, 2, z1, z2, 1, 0.5, 0.25, 1.5, &r), SSLK_E_INVALID_ARG);
    ck_status(sslk_vicreg_bound(ctx, w, NULL, 2, 1, z, y, 2, z1, z2, 1, 0.5, NAN, 0.1, &r), SSLK_E_INVALID_ARG);
    r.struct_size = 8;
    ck_status(sslk_vicreg_bound(ctx, w, NULL, 2, 1, z, y, 2, z1, z2, 1, 0.5, 0.25, 0.1, &r), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(cfssl_settings_names) {
    int64_t v;
    ck_ok(sslk_setting_choice_find(SSLK_CFSSL_KERNEL, "gaussian", &v));
    ck_assert_int_eq(v, SSLK_CFSSL_GAUSSIAN);
}
END_TEST

int main(void) {
    Suite *s = suite_create("theory");
    TCase *t = tcase_create("theory");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, cfssl_t1);
    tcase_add_test(t, cfssl_three_regime_toy);
    tcase_add_test(t, cfssl_views_match_moments);
    tcase_add_test(t, cfssl_rotation_invariance);
    tcase_add_test(t, cfssl_kernel_cap_and_nystrom);
    tcase_add_test(t, cfssl_bad_input);
    tcase_add_test(t, random_features_kernel);
    tcase_add_test(t, cfssl_threads_deterministic);
    tcase_add_test(t, lidar_cases);
    tcase_add_test(t, collapse_std_values);
    tcase_add_test(t, ortho_penalty_t4);
    tcase_add_test(t, graph_variation_values);
    tcase_add_test(t, model_variations_linear);
    tcase_add_test(t, bound_report_values);
    tcase_add_test(t, cfssl_settings_names);
    suite_add_tcase(s, t);
    return tu_run(s) ? 1 : 0;
}
