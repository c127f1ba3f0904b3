/* Metrics: RankMe, alpha-ReQ, accuracy reports, ensembles, factor error
 * ratios.  Expected values are hand-derived (the design note's test cases
 * R1-R7, F1-F3, X1-X2) or exact identities of the definitions.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static sslk_ctx *ctx;
static void setup(void) { ck_ok(sslk_ctx_create(&ctx)); }
static void teardown(void) { sslk_ctx_destroy(ctx); }

/* p_k = s_k / sum + eps; exp(-sum p log p), written out for the hand cases. */
static double entropy_rank(const double *s, size_t q, double eps) {
    double t = 0, h = 0;
    for (size_t i = 0; i < q; i++) t += s[i];
    for (size_t i = 0; i < q; i++) {
        double p = s[i] / t + eps;
        if (p > 0) h -= p * log(p);
    }
    return exp(h);
}

/* Product of Givens rotations: an orthogonal d x d matrix (row-major). */
static void orthogonal(float *Q, size_t d, unsigned seed) {
    double *A = calloc(d * d, sizeof(double)), ang[64];
    tu_fill_uniform_d(ang, 64, seed, 0, 6.283185307179586);
    for (size_t i = 0; i < d; i++) A[i * d + i] = 1;
    for (size_t r = 0; r < 3 * d && r < 64; r++) {
        size_t p = r % d, q = (r + 1 + r / d) % d;
        if (p == q) continue;
        double c = cos(ang[r]), s = sin(ang[r]);
        for (size_t i = 0; i < d; i++) {
            double a = A[i * d + p], b = A[i * d + q];
            A[i * d + p] = c * a - s * b;
            A[i * d + q] = s * a + c * b;
        }
    }
    for (size_t i = 0; i < d * d; i++) Q[i] = (float)A[i];
    free(A);
}

START_TEST(rankme_hand_cases) {
    double v;
    float I4[16] = {0};
    for (int i = 0; i < 4; i++) I4[i * 5] = 1;
    ck_ok(sslk_rankme(ctx, I4, 4, 4, &v)); /* R1 */
    ck_close(v, 4.000000618071, 0, 1e-9);
    float Q[16], cQ[16];
    orthogonal(Q, 4, 3);
    for (int i = 0; i < 16; i++) cQ[i] = -2.5f * Q[i];
    ck_ok(sslk_rankme(ctx, cQ, 4, 4, &v)); /* R1: c * orthogonal */
    ck_close(v, 4.000000618071, 0, 1e-6);
    float D2[4] = {3, 0, 0, 1};
    ck_ok(sslk_rankme(ctx, D2, 2, 2, &v)); /* R2 */
    ck_close(v, 1.754765293394, 0, 1e-9);
    double s2[2] = {3, 1};
    ck_close(v, entropy_rank(s2, 2, 1e-7), 0, 1e-12);
    float D3[9] = {2, 0, 0, 0, 1, 0, 0, 0, 1};
    sslk_rankme_acc *r;
    ck_ok(sslk_rankme_create(ctx, 3, &r)); /* R3 with eps = 0 */
    ck_ok(sslk_rankme_set_f64(r, SSLK_RANKME_EPS, 0.0));
    ck_ok(sslk_rankme_update(r, D3, 3));
    double spec[3];
    ck_ok(sslk_rankme_compute(r, &v, spec));
    ck_close(v, 2 * sqrt(2.0), 0, 1e-12);
    ck_close(spec[0], 2, 0, 1e-12);
    ck_close(spec[1], 1, 0, 1e-12);
    ck_close(spec[2], 1, 0, 1e-12);
    sslk_rankme_destroy(r);
    float E1[16] = {1}; /* R4: rank one */
    ck_ok(sslk_rankme(ctx, E1, 4, 4, &v));
    ck_close(v, 1.000004735440, 0, 1e-9);
    float Z[16] = {0}; /* R7 */
    ck_status(sslk_rankme(ctx, Z, 4, 4, &v), SSLK_E_DEGENERATE);
}
END_TEST

START_TEST(rankme_invariances) {
    enum { N = 60, D = 8 };
    float z[N * D], z2[N * D], Q[D * D];
    tu_fill_uniform(z, N * D, 11, -1, 1);
    double v0, v;
    ck_ok(sslk_rankme(ctx, z, N, D, &v0));
    ck_assert(v0 > 1 && v0 < D);
    for (int i = 0; i < N * D; i++) z2[i] = 3.7f * z[i];
    ck_ok(sslk_rankme(ctx, z2, N, D, &v));
    ck_close(v, v0, 1e-6, 0);
    for (int i = 0; i < N; i++) memcpy(z2 + i * D, z + (size_t)((i * 7) % N) * D, D * sizeof(float));
    ck_ok(sslk_rankme(ctx, z2, N, D, &v));
    ck_close(v, v0, 1e-9, 0);
    orthogonal(Q, D, 5);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) {
            double a = 0;
            for (int k = 0; k < D; k++) a += (double)z[i * D + k] * Q[k * D + j];
            z2[i * D + j] = (float)a;
        }
    ck_ok(sslk_rankme(ctx, z2, N, D, &v));
    ck_close(v, v0, 1e-5, 0);
    /* R5: not invariant to centring: (1, 1) + small noise is rank ~1 raw,
     * but its centred covariance is isotropic. */
    for (int i = 0; i < N; i++) {
        z2[2 * i] = 1 + 0.01f * z[i * D];
        z2[2 * i + 1] = 1 + 0.01f * z[i * D + 1];
    }
    ck_ok(sslk_rankme(ctx, z2, N, 2, &v));
    ck_assert_msg(v < 1.05, "raw RankMe %g", v);
    ck_ok(sslk_rankme_covariance(ctx, z2, N, 2, &v));
    ck_assert_msg(v > 1.7, "covariance RankMe %g", v);
}
END_TEST

START_TEST(rankme_covariance_variant) {
    double e[2] = {9, 1}, v; /* R6 */
    ck_ok(sslk_rankme_spectrum(e, 2, 0.0, &v));
    ck_close(v, 1.384145488462, 0, 1e-11);
    /* centred scatter diag(18, 2): eigenvalue ratio 9 : 1 */
    float z[8] = {3, 0, -3, 0, 0, 1, 0, -1};
    ck_ok(sslk_rankme_covariance(ctx, z, 4, 2, &v));
    ck_close(v, 1.384145544927, 0, 1e-9);
    ck_ok(sslk_rankme(ctx, z, 4, 2, &v)); /* paper: singular values (sqrt 18, sqrt 2) */
    double s[2] = {sqrt(18.0), sqrt(2.0)};
    ck_close(v, entropy_rank(s, 2, 1e-7), 0, 1e-9);
    sslk_rankme_acc *r;
    ck_ok(sslk_rankme_create(ctx, 2, &r));
    ck_ok(sslk_rankme_set_i64(r, SSLK_RANKME_VARIANT, SSLK_RANKME_COVARIANCE));
    float shifted[8];
    for (int i = 0; i < 8; i++) shifted[i] = z[i] + (i % 2 ? -5.0f : 10.0f); /* centring removes the shift */
    ck_ok(sslk_rankme_update(r, shifted, 4));
    double spec[2];
    ck_ok(sslk_rankme_compute(r, &v, spec));
    ck_close(v, 1.384145544927, 0, 1e-9);
    ck_close(spec[0], 6, 0, 1e-9); /* 18 / (n - 1) */
    ck_close(spec[1], 2.0 / 3, 0, 1e-9);
    ck_ok(sslk_rankme_set_i64(r, SSLK_RANKME_METHOD, SSLK_RANKME_GRAM));
    ck_ok(sslk_rankme_compute(r, &v, spec));
    ck_close(v, 1.384145544927, 0, 1e-9);
    sslk_rankme_destroy(r);
}
END_TEST

START_TEST(rankme_streaming_matches_oneshot) {
    enum { N = 700, D = 16 };
    float *z = malloc(sizeof(float) * N * D);
    tu_fill_uniform(z, N * D, 21, -1, 1);
    for (int i = 0; i < N; i++) /* decaying column scales: a non-trivial spectrum */
        for (int j = 0; j < D; j++) z[i * D + j] *= 1.0f / (1 + j);
    double v1, v, spec[D], spec2[D];
    ck_ok(sslk_rankme(ctx, z, N, D, &v1)); /* small: exact SVD */
    sslk_rankme_acc *a, *b;
    ck_ok(sslk_rankme_create(ctx, D, &a));
    ck_ok(sslk_rankme_create(ctx, D, &b));
    ck_ok(sslk_rankme_update(a, z, 100)); /* buffered */
    ck_ok(sslk_rankme_compute(a, &v, NULL));
    ck_ok(sslk_rankme_update(a, z + 100 * D, 300)); /* folds at 256 rows */
    ck_ok(sslk_rankme_update(b, z + 400 * D, 50));
    ck_ok(sslk_rankme_update(b, z + 450 * D, 250));
    ck_ok(sslk_rankme_merge(a, b));
    ck_assert_uint_eq(sslk_rankme_count(a), N);
    ck_assert_uint_eq(sslk_rankme_count(b), 300);
    ck_ok(sslk_rankme_compute(a, &v, spec));
    ck_close(v, v1, 1e-10, 0);
    ck_status(sslk_rankme_set_i64(a, SSLK_RANKME_METHOD, 3), SSLK_E_SETTING);
    ck_ok(sslk_rankme_set_i64(a, SSLK_RANKME_METHOD, SSLK_RANKME_EXACT));
    ck_status(sslk_rankme_compute(a, &v, NULL), SSLK_E_STATE);
    /* b is still buffered: exact and Gram agree on a well-conditioned input */
    ck_ok(sslk_rankme_compute(b, &v, spec));
    ck_ok(sslk_rankme_set_i64(b, SSLK_RANKME_METHOD, SSLK_RANKME_GRAM));
    ck_ok(sslk_rankme_compute(b, &v1, spec2));
    ck_close(v, v1, 1e-10, 0);
    for (int j = 0; j < D; j++) ck_close(spec2[j], spec[j], 1e-8, 0);
    for (int j = 1; j < D; j++) ck_assert(spec[j] <= spec[j - 1]);
    ck_ok(sslk_rankme_reset(b));
    ck_status(sslk_rankme_compute(b, &v, NULL), SSLK_E_SHAPE);
    sslk_rankme_destroy(a);
    sslk_rankme_destroy(b);
    sslk_rankme_destroy(NULL);
    free(z);
}
END_TEST

/* n < d with enough work to take the n x n Gram path, against the
 * accumulator's exact SVD of the same rows. */
START_TEST(rankme_wide_gram_path) {
    enum { N = 300, D = 4000 };
    float *z = malloc(sizeof(float) * N * D);
    tu_fill_uniform(z, N * D, 8, -1, 1);
    double v, ve;
    ck_ok(sslk_rankme(ctx, z, N, D, &v));
    sslk_rankme_acc *a;
    ck_ok(sslk_rankme_create(ctx, D, &a));
    ck_ok(sslk_rankme_set_i64(a, SSLK_RANKME_METHOD, SSLK_RANKME_EXACT));
    ck_ok(sslk_rankme_update(a, z, N));
    ck_ok(sslk_rankme_compute(a, &ve, NULL));
    ck_close(v, ve, 1e-9, 0);
    ck_assert(v > 250 && v < 300);
    sslk_rankme_destroy(a);
    free(z);
}
END_TEST

/* The threaded Gram (per-thread partials) agrees with one thread and is
 * bit-identical from run to run at a fixed thread count. */
START_TEST(rankme_threaded_gram_deterministic) {
    enum { N = 20000, D = 64 };
    float *z = malloc(sizeof(float) * N * D);
    tu_fill_uniform(z, N * D, 4, -1, 1);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) z[i * D + j] *= 1.0f / (1 + j);
    sslk_ctx *c2;
    ck_ok(sslk_ctx_create(&c2));
    ck_ok(sslk_ctx_set_threads(c2, 2));
    double v[3], spec1[D], spec2[D];
    sslk_ctx *cs[3] = {ctx, c2, c2};
    for (int k = 0; k < 3; k++) {
        sslk_rankme_acc *a;
        ck_ok(sslk_rankme_create(cs[k], D, &a));
        ck_ok(sslk_rankme_update(a, z, 100)); /* buffered, then folded by the big batch */
        ck_ok(sslk_rankme_update(a, z + 100 * D, N - 100));
        ck_ok(sslk_rankme_compute(a, &v[k], k ? spec2 : spec1));
        sslk_rankme_destroy(a);
    }
    ck_close(v[1], v[0], 1e-12, 0);
    ck_assert(v[2] == v[1]);
    for (int j = 0; j < D; j++) ck_close(spec2[j], spec1[j], 1e-10, 0);
    sslk_ctx_destroy(c2);
    free(z);
}
END_TEST

START_TEST(rankme_bad_input) {
    float z[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double v;
    ck_status(sslk_rankme(ctx, NULL, 4, 2, &v), SSLK_E_INVALID_ARG);
    ck_status(sslk_rankme(ctx, z, 4, 2, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_rankme(ctx, z, 1, 8, &v), SSLK_E_SHAPE);
    ck_status(sslk_rankme(ctx, z, 8, 0, &v), SSLK_E_SHAPE);
    ck_status(sslk_rankme(ctx, z, SIZE_MAX / 2, 4, &v), SSLK_E_OVERFLOW);
    z[5] = NAN;
    ck_status(sslk_rankme(ctx, z, 4, 2, &v), SSLK_E_NONFINITE);
    ck_assert(strstr(sslk_last_error(), "'z'") != NULL);
    z[5] = INFINITY;
    ck_status(sslk_rankme_covariance(ctx, z, 4, 2, &v), SSLK_E_NONFINITE);
    z[5] = 6;
    float c[8] = {1, 2, 1, 2, 1, 2, 1, 2};
    ck_status(sslk_rankme_covariance(ctx, c, 4, 2, &v), SSLK_E_DEGENERATE);
    double s[2] = {1, -1};
    ck_status(sslk_rankme_spectrum(s, 2, 1e-7, &v), SSLK_E_RANGE);
    s[1] = 0;
    s[0] = 0;
    ck_status(sslk_rankme_spectrum(s, 2, 1e-7, &v), SSLK_E_DEGENERATE);
    sslk_rankme_acc *a, *b;
    ck_status(sslk_rankme_create(ctx, 0, &a), SSLK_E_SHAPE);
    ck_status(sslk_rankme_create(ctx, SIZE_MAX / 4, &a), SSLK_E_OVERFLOW);
    ck_ok(sslk_rankme_create(ctx, 2, &a));
    ck_ok(sslk_rankme_create(ctx, 3, &b));
    ck_status(sslk_rankme_merge(a, b), SSLK_E_SHAPE);
    ck_status(sslk_rankme_set_f64(a, SSLK_RANKME_EPS, -1), SSLK_E_SETTING);
    ck_status(sslk_rankme_set_f64(a, 12345, 1), SSLK_E_SETTING);
    ck_ok(sslk_rankme_update(a, z, 1));
    ck_status(sslk_rankme_compute(a, &v, NULL), SSLK_E_SHAPE);
    z[0] = NAN;
    ck_status(sslk_rankme_update(a, z, 4), SSLK_E_NONFINITE);
    ck_assert_uint_eq(sslk_rankme_count(a), 1); /* unchanged */
    float zero[4] = {0};
    ck_ok(sslk_rankme_reset(a));
    ck_ok(sslk_rankme_update(a, zero, 2));
    ck_status(sslk_rankme_compute(a, &v, NULL), SSLK_E_DEGENERATE);
    double eps;
    ck_ok(sslk_rankme_get_f64(a, SSLK_RANKME_EPS, &eps));
    ck_close(eps, 1e-7, 0, 0);
    sslk_rankme_destroy(a);
    sslk_rankme_destroy(b);
}
END_TEST

START_TEST(alpha_req_power_laws) {
    enum { M = 2048 };
    double *lam = malloc(sizeof(double) * M), a, r2;
    for (int i = 0; i < M; i++) lam[i] = pow(i + 1.0, -2.0);
    ck_ok(sslk_alpha_req_spectrum(lam, M, &a, &r2));
    ck_close(a, 2, 1e-12, 0);
    ck_close(r2, 1, 0, 1e-12);
    free(lam);
    /* Data with orthogonal centred columns of variance j^-1.5: cosines of
     * distinct frequencies over a full period. */
    enum { N = 512, D = 128 };
    float *z = malloc(sizeof(float) * N * D);
    for (int t = 0; t < N; t++)
        for (int j = 0; j < D; j++)
            z[t * D + j] = (float)(pow(j + 1.0, -0.75) * sqrt(2.0) * cos(6.283185307179586 * (j + 1) * t / N));
    ck_ok(sslk_alpha_req(ctx, z, N, D, &a, &r2));
    ck_close(a, 1.5, 1e-4, 0);
    ck_close(r2, 1, 0, 1e-6);
    ck_status(sslk_alpha_req(ctx, z, N, 6, &a, &r2), SSLK_E_SHAPE);
    double bad[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ck_status(sslk_alpha_req_spectrum(bad, 8, &a, &r2), SSLK_E_INVALID_ARG);
    double flat[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    ck_status(sslk_alpha_req_spectrum(flat, 8, &a, &r2), SSLK_E_DEGENERATE);
    free(z);
}
END_TEST

/* Predictions with a given number correct per class (10 samples each). */
static void make_preds(int32_t *pred, int32_t *lab, const int *correct, int C, int per) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < per; i++) {
            lab[c * per + i] = c;
            pred[c * per + i] = i < correct[c] ? c : (c + 1) % C;
        }
}

static sslk_accuracy_summary summary_init(void) {
    sslk_accuracy_summary s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    return s;
}

START_TEST(accuracy_fair_cases) {
    int32_t pred[40], lab[40], worst[2], best[2];
    int cor[4] = {9, 5, 7, 2}; /* F1: 90, 50, 70, 20 % */
    make_preds(pred, lab, cor, 4, 10);
    sslk_accuracy_summary s = summary_init();
    double acc[4];
    int64_t cnt[4];
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 40, 4, NULL, 0, 2, NULL, NULL, &s, acc, cnt, worst, best, NULL,
                               NULL));
    ck_close(s.worst_k, 0.35, 0, 1e-12);
    ck_close(s.best_k, 0.80, 0, 1e-12);
    ck_close(s.balanced_accuracy, 0.575, 0, 1e-12);
    ck_close(s.accuracy, 23.0 / 40, 0, 1e-12);
    ck_close(s.worst_k_pooled, 7.0 / 20, 0, 1e-12);
    ck_assert_int_eq(worst[0], 3);
    ck_assert_int_eq(worst[1], 1);
    ck_assert_int_eq(best[0], 0);
    ck_assert_int_eq(best[1], 2);
    ck_close(acc[1], 0.5, 0, 1e-12);
    ck_assert_int_eq(cnt[2], 10);
    ck_assert_uint_eq(s.num_absent, 0);
    /* F2: another model scored on the reference's class sets */
    int cor2[4] = {2, 9, 5, 7};
    make_preds(pred, lab, cor2, 4, 10);
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 40, 4, NULL, 0, 2, worst, best, &s, NULL, NULL, NULL, NULL, NULL,
                               NULL));
    ck_close(s.worst_k, (0.7 + 0.9) / 2, 0, 1e-12); /* classes 3 and 1 of the reference */
    ck_close(s.best_k, (0.2 + 0.5) / 2, 0, 1e-12);
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 40, 4, NULL, 0, 2, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                               NULL));
    ck_close(s.worst_k, 0.35, 0, 1e-12); /* its own worst: 20 and 50 */
    /* rank_classes from accuracies, NaN skipped, ties to the lower id */
    double a5[5] = {0.5, NAN, 0.2, 0.5, 0.9};
    int32_t w2[2], b2[2];
    ck_ok(sslk_rank_classes(a5, 5, 2, w2, b2));
    ck_assert_int_eq(w2[0], 2);
    ck_assert_int_eq(w2[1], 0);
    ck_assert_int_eq(b2[0], 4);
    ck_assert_int_eq(b2[1], 0);
    ck_status(sslk_rank_classes(a5, 5, 5, w2, b2), SSLK_E_RANGE);
}
END_TEST

START_TEST(accuracy_pooled_absent_groups) {
    /* X2: A has 2 samples, 0 correct; B 10, 5 correct; C 10, 10 correct */
    int32_t lab[22], pred[22], grp[22];
    for (int i = 0; i < 22; i++) {
        lab[i] = i < 2 ? 0 : (i < 12 ? 1 : 2);
        pred[i] = i < 2 ? 1 : (i < 7 ? 1 : (i < 12 ? 0 : 2));
        grp[i] = i < 6 ? 1 : 0; /* group 1: 6 samples (2 correct: i = 2..5 are 4 correct) */
    }
    sslk_accuracy_summary s = summary_init();
    double acc[4], gacc[3];
    int64_t gcnt[3];
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 22, 4, grp, 3, 2, NULL, NULL, &s, acc, NULL, NULL, NULL, gacc, gcnt));
    ck_close(s.worst_k_pooled, 5.0 / 12, 0, 1e-12);
    ck_close(s.worst_k, 0.25, 0, 1e-12);
    ck_assert(isnan(acc[3])); /* class 3 absent: reported, not averaged */
    ck_assert_uint_eq(s.num_absent, 1);
    ck_assert_uint_eq(s.num_present, 3);
    ck_close(s.balanced_accuracy, 1.5 / 3, 0, 1e-12);
    ck_assert_int_eq(gcnt[1], 6);
    ck_assert_int_eq(gcnt[0], 16);
    ck_assert(isnan(gacc[2]));
    ck_close(gacc[1], 4.0 / 6, 0, 1e-12);  /* i = 2..5 correct */
    ck_close(gacc[0], 11.0 / 16, 0, 1e-12); /* i = 6 + 10 of class C */
    ck_assert_int_eq(s.minority_group, 1);
    ck_assert_int_eq(s.majority_group, 0);
    ck_close(s.minority_majority_gap, 11.0 / 16 - 4.0 / 6, 0, 1e-12);
    ck_close(s.worst_group, 4.0 / 6, 0, 1e-12);
    /* a fixed class set naming the absent class gives NaN, not a silent 0 */
    int32_t fw[2] = {3, 0}, fb[2] = {2, 1};
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 22, 4, NULL, 0, 2, fw, fb, &s, NULL, NULL, NULL, NULL, NULL, NULL));
    ck_assert(isnan(s.worst_k));
    ck_close(s.best_k, 0.75, 0, 1e-12);
    /* one struct rule: below the 1.0 size is refused, a longer (newer) struct
     * is filled up to ours, its tail untouched, struct_size = bytes written */
    sslk_accuracy_summary small = summary_init();
    small.struct_size = offsetof(sslk_accuracy_summary, worst_k);
    ck_status(sslk_accuracy_report(ctx, pred, lab, 22, 4, NULL, 0, 2, NULL, NULL, &small, NULL, NULL, NULL, NULL,
                                   NULL, NULL),
              SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "summary->struct_size"));
    struct {
        sslk_accuracy_summary s;
        double future[2];
    } big;
    memset(&big, 0, sizeof big);
    big.s.struct_size = sizeof big;
    big.future[0] = big.future[1] = -7;
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 22, 4, NULL, 0, 2, NULL, NULL, &big.s, NULL, NULL, NULL, NULL, NULL,
                               NULL));
    ck_assert_uint_eq(big.s.struct_size, sizeof(sslk_accuracy_summary));
    ck_close(big.s.accuracy, 15.0 / 22, 0, 1e-12);
    ck_close(big.future[0], -7, 0, 0);
    ck_close(big.future[1], -7, 0, 0);
}
END_TEST

START_TEST(accuracy_bad_input) {
    int32_t lab[4] = {0, 1, 2, 1}, pred[4] = {0, 1, 1, 1}, grp[4] = {0, 0, 1, 1};
    sslk_accuracy_summary s = summary_init();
    ck_status(sslk_accuracy_report(ctx, NULL, lab, 4, 3, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_accuracy_report(ctx, pred, lab, 0, 3, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_SHAPE);
    lab[2] = 3;
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_RANGE);
    ck_assert(strstr(sslk_last_error(), "labels[2]") != NULL);
    lab[2] = -1;
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_RANGE);
    lab[2] = 1; /* classes 0 and 1 present, class 2 absent */
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 0, 3, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_RANGE);
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 0, 4, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_RANGE);
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, grp, 1, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_RANGE);
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 2, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_INVALID_ARG);
    s.struct_size = 0;
    ck_status(sslk_accuracy_report(ctx, pred, lab, 4, 3, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL, NULL,
                                   NULL), SSLK_E_INVALID_ARG);
    float lg[6] = {1, 3, 3, 0, 0, 0};
    int32_t p2[2];
    ck_ok(sslk_argmax(ctx, lg, 2, 3, p2));
    ck_assert_int_eq(p2[0], 1); /* tie between 1 and 2: lowest */
    ck_assert_int_eq(p2[1], 0);
    lg[4] = NAN;
    ck_status(sslk_argmax(ctx, lg, 2, 3, p2), SSLK_E_NONFINITE);
}
END_TEST

/* Issue 12: 3 predictions with num_classes = 2^31 - 1 asked for 16-34 GB of
 * counters.  Memory now follows the samples: under a 1 MiB budget the
 * report still comes out, with the right values. */
START_TEST(accuracy_memory_follows_samples) {
    int32_t lab[3] = {0, 5, 2147483646}, pred[3] = {0, 1, 2147483646}, grp[3] = {2000000000, 7, 7};
    ck_ok(sslk_ctx_set_i64(ctx, SSLK_CTX_MAX_ALLOC_BYTES, 1 << 20));
    sslk_accuracy_summary s = {.struct_size = sizeof s};
    int32_t worst[2], best[2];
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 3, INT32_MAX, grp, INT32_MAX, 2, NULL, NULL, &s, NULL, NULL, worst,
                               best, NULL, NULL));
    ck_assert_uint_eq(s.num_classes, INT32_MAX);
    ck_assert_uint_eq(s.num_present, 3);
    ck_assert_uint_eq(s.num_absent, (size_t)INT32_MAX - 3);
    ck_assert_double_eq_tol(s.accuracy, 2.0 / 3.0, 1e-15);
    ck_assert_double_eq_tol(s.balanced_accuracy, 2.0 / 3.0, 1e-15);
    ck_assert_int_eq(worst[0], 5); /* accuracy 0 */
    ck_assert_int_eq(worst[1], 0); /* tie at 1: lower id */
    ck_assert_int_eq(best[0], 0);
    ck_assert_int_eq(best[1], 2147483646);
    ck_assert_double_eq_tol(s.worst_k, 0.5, 1e-15);
    ck_assert_double_eq_tol(s.worst_group, 0.5, 1e-15);
    ck_assert_int_eq(s.minority_group, 2000000000);
    ck_assert_int_eq(s.majority_group, 7);
    ck_assert_double_eq_tol(s.minority_majority_gap, 0.5 - 1.0, 1e-15);
    /* fixed sets naming classes absent from the data */
    int32_t fw[2] = {5, 1000000000}, fb[2] = {0, 2147483646};
    ck_ok(sslk_accuracy_report(ctx, pred, lab, 3, INT32_MAX, NULL, 0, 2, fw, fb, &s, NULL, NULL, worst, best, NULL,
                               NULL));
    ck_assert(isnan(s.worst_k));
    ck_assert_double_eq_tol(s.worst_k_pooled, 0.0, 1e-15);
    ck_assert_double_eq_tol(s.best_k, 1.0, 1e-15);
    ck_assert_int_eq(worst[1], 1000000000);
    ck_assert_int_eq(best[1], 2147483646);
    /* an id past num_classes is still refused by name */
    ck_status(sslk_accuracy_report(ctx, pred, lab, 3, 2147483646, NULL, 0, 1, NULL, NULL, &s, NULL, NULL, NULL, NULL,
                                   NULL, NULL),
              SSLK_E_RANGE);
    ck_assert(strstr(sslk_last_error(), "labels[2]") != NULL);
}
END_TEST

/* The counted-ids path gives what the dense one gives, ties included. */
START_TEST(accuracy_sparse_matches_dense) {
    enum { N = 300, C = 40, G = 5, K = 6 };
    int32_t lab[N], pred[N], grp[N], lab2[N], pred2[N], grp2[N];
    uint64_t r = 12345;
    for (int i = 0; i < N; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        lab[i] = (int32_t)((r >> 33) % 31); /* classes 31..39 absent */
        pred[i] = (r >> 20) % 3 ? lab[i] : (int32_t)((r >> 40) % C);
        grp[i] = (int32_t)((r >> 50) % G);
        /* spread ids to 50000 * id: same order, far beyond the dense bound */
        lab2[i] = lab[i] * 50000;
        pred2[i] = pred[i] * 50000;
        grp2[i] = grp[i] * 400000;
    }
    int32_t fw[K] = {3, 35, 7, 0, 12, 30}, fb[K] = {1, 2, 36, 4, 5, 6}, fw2[K], fb2[K];
    for (int i = 0; i < K; i++) fw2[i] = fw[i] * 50000, fb2[i] = fb[i] * 50000;
    for (int fixed = 0; fixed < 2; fixed++) {
        sslk_accuracy_summary a = {.struct_size = sizeof a}, b = {.struct_size = sizeof b};
        double acc[C], gacc[G], *acc2 = malloc(C * 50000 * sizeof *acc2), *gacc2 = malloc(G * 400000 * sizeof *gacc2);
        int64_t cnt[C], *cnt2 = malloc(C * 50000 * sizeof *cnt2);
        int32_t wa[K], ba[K], wb[K], bb[K];
        ck_ok(sslk_accuracy_report(ctx, pred, lab, N, C, grp, G, K, fixed ? fw : NULL, fixed ? fb : NULL, &a, acc, cnt,
                                   wa, ba, gacc, NULL));
        ck_ok(sslk_accuracy_report(ctx, pred2, lab2, N, C * 50000, grp2, G * 400000, K, fixed ? fw2 : NULL,
                                   fixed ? fb2 : NULL, &b, acc2, cnt2, wb, bb, gacc2, NULL));
        ck_assert_uint_eq(b.num_present, a.num_present);
        ck_assert_uint_eq(b.num_absent, C * 50000 - a.num_present);
        ck_assert_double_eq(b.accuracy, a.accuracy);
        ck_assert_double_eq(b.balanced_accuracy, a.balanced_accuracy);
        ck_assert((isnan(a.worst_k) && isnan(b.worst_k)) || a.worst_k == b.worst_k);
        ck_assert((isnan(a.best_k) && isnan(b.best_k)) || a.best_k == b.best_k);
        ck_assert(fixed || !isnan(a.best_k));
        ck_assert((isnan(a.worst_k_pooled) && isnan(b.worst_k_pooled)) || a.worst_k_pooled == b.worst_k_pooled);
        ck_assert_double_eq(b.worst_group, a.worst_group);
        ck_assert_double_eq(b.minority_majority_gap, a.minority_majority_gap);
        ck_assert_int_eq(b.minority_group, a.minority_group * 400000);
        ck_assert_int_eq(b.majority_group, a.majority_group * 400000);
        for (int i = 0; i < K; i++) {
            ck_assert_int_eq(wb[i], wa[i] * 50000);
            ck_assert_int_eq(bb[i], ba[i] * 50000);
        }
        for (int c = 0; c < C * 50000; c++) {
            bool on = c % 50000 == 0;
            ck_assert_int_eq(cnt2[c], on ? cnt[c / 50000] : 0);
            if (on && cnt[c / 50000]) ck_assert_double_eq(acc2[c], acc[c / 50000]);
            else ck_assert(isnan(acc2[c]));
        }
        for (int g = 0; g < G * 400000; g++) {
            if (g % 400000 == 0) ck_assert_double_eq(gacc2[g], gacc[g / 400000]);
            else ck_assert(isnan(gacc2[g]));
        }
        free(acc2);
        free(gacc2);
        free(cnt2);
    }
}
END_TEST

START_TEST(ensemble_combination_rules) {
    /* F3: two members at (0.51, 0.49), one at (0, 1) */
    float lg[3 * 1 * 2] = {logf(0.51f), logf(0.49f), logf(0.51f), logf(0.49f), -200.0f, 0.0f};
    int32_t p;
    float sc[2];
    ck_ok(sslk_ensemble_predict(ctx, lg, 3, 1, 2, SSLK_ENSEMBLE_MEAN_PROB, &p, sc));
    ck_assert_int_eq(p, 1);
    ck_close(sc[0], 0.34, 0, 1e-6);
    ck_close(sc[1], 0.66, 0, 1e-6);
    ck_ok(sslk_ensemble_predict(ctx, lg, 3, 1, 2, SSLK_ENSEMBLE_MAJORITY_VOTE, &p, sc));
    ck_assert_int_eq(p, 0);
    ck_close(sc[0], 2.0 / 3, 0, 1e-6);
    ck_ok(sslk_ensemble_predict(ctx, lg, 3, 1, 2, SSLK_ENSEMBLE_MEAN_LOGIT, &p, sc));
    ck_assert_int_eq(p, 1);
    ck_close(sc[0], (2 * log(0.51) - 200) / 3, 1e-5, 0);
    /* vote tie between classes 2 and 1 goes to 1 */
    float tie[2 * 3] = {0, 0, 5, 0, 5, 0};
    ck_ok(sslk_ensemble_predict(ctx, tie, 2, 1, 3, SSLK_ENSEMBLE_MAJORITY_VOTE, &p, NULL));
    ck_assert_int_eq(p, 1);
    ck_status(sslk_ensemble_predict(ctx, tie, 2, 1, 3, (sslk_ensemble_combine)7, &p, NULL), SSLK_E_INVALID_ARG);
    tie[3] = INFINITY;
    ck_status(sslk_ensemble_predict(ctx, tie, 2, 1, 3, SSLK_ENSEMBLE_MEAN_PROB, &p, NULL), SSLK_E_NONFINITE);
    ck_assert(strstr(sslk_last_error(), "member 1") != NULL);
    ck_status(sslk_ensemble_predict(ctx, tie, 0, 1, 3, SSLK_ENSEMBLE_MEAN_PROB, &p, NULL), SSLK_E_SHAPE);
}
END_TEST

START_TEST(ensemble_curve_values) {
    /* member 0 right on every sample with margin 1, member 1 wrong with
     * margin 0.5: singles score 1 and 0; the pair's mean logit is right. */
    enum { N = 6, C = 3, O = 400 };
    float lg[2 * N * C];
    int32_t lab[N];
    for (int i = 0; i < N; i++) {
        lab[i] = i % C;
        for (int c = 0; c < C; c++) {
            lg[i * C + c] = c == lab[i] ? 1.0f : 0.0f;
            lg[N * C + i * C + c] = c == (lab[i] + 1) % C ? 0.5f : 0.0f;
        }
    }
    double acc[2], wk[2], bk[2], bal[2], acc2[2];
    ck_ok(sslk_ensemble_curve(ctx, lg, 2, N, C, lab, SSLK_ENSEMBLE_MEAN_LOGIT, 1, O, 42, acc, bal, wk, bk));
    ck_close(acc[1], 1, 0, 1e-12);
    ck_close(wk[1], 1, 0, 1e-12);
    double firsts = acc[0] * O; /* orders that start with member 0 */
    ck_close(firsts, round(firsts), 0, 1e-9);
    ck_assert_msg(fabs(acc[0] - 0.5) < 0.1, "acc[0] = %g", acc[0]);
    ck_close(wk[0], acc[0], 0, 1e-12); /* singles: every class 1 or every class 0 */
    ck_close(bal[0], acc[0], 0, 1e-12);
    sslk_ctx *c2;
    ck_ok(sslk_ctx_create(&c2));
    ck_ok(sslk_ctx_set_threads(c2, 2));
    ck_ok(sslk_ensemble_curve(c2, lg, 2, N, C, lab, SSLK_ENSEMBLE_MEAN_LOGIT, 1, O, 42, acc2, NULL, NULL, NULL));
    ck_close(acc2[0], acc[0], 0, 0); /* same seed, other thread count: identical */
    ck_status(sslk_ensemble_curve(c2, lg, 2, N, C, lab, SSLK_ENSEMBLE_MEAN_LOGIT, 4, O, 42, acc2, NULL, NULL, NULL),
              SSLK_E_RANGE);
    lab[0] = 9;
    ck_status(sslk_ensemble_curve(c2, lg, 2, N, C, lab, SSLK_ENSEMBLE_MEAN_LOGIT, 1, O, 42, acc2, NULL, NULL, NULL),
              SSLK_E_RANGE);
    sslk_ctx_destroy(c2);
}
END_TEST

START_TEST(factor_ratios) {
    /* X1: 10 images, 8 correct; pose on 4 images with 1 error; background on
     * 3 images without error; a third factor never occurs. */
    uint8_t cor[10] = {1, 1, 1, 0, 1, 1, 1, 1, 1, 0};
    uint8_t f[30] = {0};
    for (int i = 0; i < 4; i++) f[i * 3 + 0] = 1;
    for (int i = 4; i < 7; i++) f[i * 3 + 1] = 1;
    double acc, fa[3], er[3];
    int64_t cnt[3], worst;
    ck_ok(sslk_factor_error_ratios(ctx, cor, 10, f, 3, &acc, fa, er, cnt, &worst));
    ck_close(acc, 0.8, 0, 1e-12);
    ck_close(fa[0], 0.75, 0, 1e-12);
    ck_close(er[0], 1.25, 0, 1e-12);
    ck_close(er[1], 0, 0, 1e-12);
    ck_assert(isnan(fa[2]) && isnan(er[2]));
    ck_assert_int_eq(cnt[0], 4);
    ck_assert_int_eq(cnt[2], 0);
    ck_assert_int_eq(worst, 0);
    cor[3] = 2;
    ck_status(sslk_factor_error_ratios(ctx, cor, 10, f, 3, &acc, fa, er, cnt, &worst), SSLK_E_RANGE);
    cor[3] = 0;
    f[5] = 7;
    ck_status(sslk_factor_error_ratios(ctx, cor, 10, f, 3, &acc, fa, er, cnt, &worst), SSLK_E_RANGE);
    ck_status(sslk_factor_error_ratios(ctx, cor, 0, f, 3, &acc, fa, er, cnt, &worst), SSLK_E_SHAPE);
}
END_TEST

START_TEST(settings_introspection) {
    int key;
    ck_ok(sslk_setting_find("rankme", "eps", &key));
    ck_assert_int_eq(key, SSLK_RANKME_EPS);
    double lo, hi, def;
    ck_ok(sslk_setting_info(SSLK_RANKME_METHOD, NULL, NULL, NULL, &lo, &hi, &def));
    ck_close(hi, 2, 0, 0);
    ck_close(def, 0, 0, 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("metrics");
    TCase *t = tcase_create("metrics");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, rankme_hand_cases);
    tcase_add_test(t, rankme_invariances);
    tcase_add_test(t, rankme_covariance_variant);
    tcase_add_test(t, rankme_streaming_matches_oneshot);
    tcase_add_test(t, rankme_wide_gram_path);
    tcase_add_test(t, rankme_threaded_gram_deterministic);
    tcase_add_test(t, rankme_bad_input);
    tcase_add_test(t, alpha_req_power_laws);
    tcase_add_test(t, accuracy_fair_cases);
    tcase_add_test(t, accuracy_pooled_absent_groups);
    tcase_add_test(t, accuracy_bad_input);
    tcase_add_test(t, accuracy_memory_follows_samples);
    tcase_add_test(t, accuracy_sparse_matches_dense);
    tcase_add_test(t, ensemble_combination_rules);
    tcase_add_test(t, ensemble_curve_values);
    tcase_add_test(t, factor_ratios);
    tcase_add_test(t, settings_introspection);
    suite_add_tcase(s, t);
    return tu_run(s) ? 1 : 0;
}
