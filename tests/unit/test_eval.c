/* kNN classifier and linear probe: hand-derived values and error paths.
 * (numpy references for the general case live in tests/python/test_train.py)
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static sslk_ctx *mkctx(int threads) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    return c;
}

/* Points on the unit circle at angles 0.1 (class 1), 0.2, 0.3 (class 0), 3.0 (class 1);
 * query at angle 0, k = 3, T = 0.1: class 0 gets e^(10 cos .2) + e^(10 cos .3),
 * class 1 gets e^(10 cos .1). */
START_TEST(knn_hand_votes) {
    sslk_ctx *c = mkctx(_i % 2 + 1);
    const double ang[4] = {0.1, 0.2, 0.3, 3.0};
    float z[8];
    for (int i = 0; i < 4; i++) {
        z[2 * i] = (float)(3.0 * cos(ang[i])); /* norm 3: cosine must ignore it */
        z[2 * i + 1] = (float)(3.0 * sin(ang[i]));
    }
    const int32_t y[4] = {1, 0, 0, 1};
    sslk_knn *k = NULL;
    ck_ok(sslk_knn_create(c, &k));
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_K, 3));
    ck_ok(sslk_knn_set_f64(k, SSLK_KNN_TEMPERATURE, 0.1));
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_MEMORY_MB, 1));
    ck_ok(sslk_knn_fit(k, z, y, 4, 2, 2));
    const float q[2] = {0.5f, 0.0f};
    float sc[2];
    int32_t rk[2];
    ck_ok(sslk_knn_predict(k, q, 1, 2, rk, 2, sc));
    ck_close(sc[0], exp(10 * cos(0.2)) + exp(10 * cos(0.3)), 1e-5, 0);
    ck_close(sc[1], exp(10 * cos(0.1)), 1e-5, 0);
    ck_assert_int_eq(rk[0], 0);
    ck_assert_int_eq(rk[1], 1);
    /* uniform votes: 2 vs 1; k = 1: nearest is class 1 */
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_WEIGHTING, SSLK_KNN_WEIGHT_UNIFORM));
    ck_ok(sslk_knn_predict(k, q, 1, 2, rk, 1, sc));
    ck_close(sc[0], 2.0, 0, 0);
    ck_close(sc[1], 1.0, 0, 0);
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_K, 1));
    double t1 = -1, t5 = -1;
    const int32_t yq[1] = {1};
    ck_ok(sslk_knn_evaluate(k, q, yq, 1, 2, &t1, &t5));
    ck_close(t1, 1.0, 0, 0);
    ck_close(t5, 1.0, 0, 0);
    /* inverse distance under euclidean: refit; query (1,0) to points (0,0) c0, (3,0) c1, (1,1) c0 */
    const float ze[6] = {0, 0, 3, 0, 1, 1};
    const int32_t ye[3] = {0, 1, 0};
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_DISTANCE, SSLK_KNN_EUCLIDEAN));
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_WEIGHTING, SSLK_KNN_WEIGHT_INVERSE));
    ck_ok(sslk_knn_set_f64(k, SSLK_KNN_EPS, 0.5));
    ck_status(sslk_knn_predict(k, q, 1, 2, rk, 1, sc), SSLK_E_STATE); /* distance changed */
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_K, 2));
    ck_ok(sslk_knn_fit(k, ze, ye, 3, 2, 2));
    const float qe[2] = {1, 0};
    ck_ok(sslk_knn_predict(k, qe, 1, 2, rk, 1, sc));
    /* two nearest: (0,0) and (1,1), both at distance 1 -> class 0 gets 2 / 1.5 */
    ck_close(sc[0], 2.0 / 1.5, 1e-6, 0);
    ck_close(sc[1], 0.0, 0, 0);
    sslk_knn_destroy(k);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(knn_errors) {
    sslk_ctx *c = mkctx(1);
    sslk_knn *k = NULL;
    ck_status(sslk_knn_create(c, NULL), SSLK_E_INVALID_ARG);
    ck_ok(sslk_knn_create(c, &k));
    float z[4] = {1, 0, 0, 1};
    int32_t y[2] = {0, 3};
    float q[2] = {1, 1};
    ck_status(sslk_knn_predict(k, q, 1, 2, NULL, 1, NULL), SSLK_E_STATE);
    ck_status(sslk_knn_fit(k, z, y, 2, 2, 2), SSLK_E_RANGE);
    y[1] = 1;
    ck_status(sslk_knn_fit(k, z, y, 0, 2, 2), SSLK_E_SHAPE);
    ck_status(sslk_knn_fit(k, z, y, SIZE_MAX / 2, 4, 2), SSLK_E_OVERFLOW);
    z[0] = NAN;
    ck_status(sslk_knn_fit(k, z, y, 2, 2, 2), SSLK_E_NONFINITE);
    z[0] = 1;
    ck_ok(sslk_knn_fit(k, z, y, 2, 2, 2));
    ck_status(sslk_knn_predict(k, q, 1, 3, NULL, 1, NULL), SSLK_E_SHAPE);
    ck_status(sslk_knn_predict(k, q, 1, 2, (int32_t[3]){0}, 3, NULL), SSLK_E_SHAPE);
    ck_status(sslk_knn_set_f64(k, SSLK_KNN_TEMPERATURE, 0.0), SSLK_E_SETTING);
    ck_status(sslk_knn_set_i64(k, 9999, 1), SSLK_E_SETTING);
    q[0] = q[1] = 0;
    ck_status(sslk_knn_predict(k, q, 1, 2, NULL, 1, NULL), SSLK_E_DEGENERATE);
    sslk_knn_destroy(k);
    sslk_knn_destroy(NULL);
    sslk_ctx_destroy(c);
}
END_TEST

/* Two separable 1-D classes {-2,-1} vs {1,2} with l2 = 0.5 (standardisation off):
 * by symmetry the bias difference is 0 and the weight difference u = w1 - w0 solves
 * the stationarity condition mean_i x_i (sigma(u x_i) - [y_i = 1]) + (l2 / 2) u = 0
 * (the penalty on (w0, w1) = (-u/2, u/2) has gradient l2 u / 2 along u).
 * Solved by bisection here, independently of the library. */
static double sigm(double t) { return 1.0 / (1.0 + exp(-t)); }
static double stat_eq(double u, double l2) {
    const double xs[4] = {-2, -1, 1, 2};
    const int ys[4] = {0, 0, 1, 1};
    double g = 0;
    for (int i = 0; i < 4; i++) g += xs[i] * (sigm(u * xs[i]) - ys[i]);
    return g / 4 + 0.5 * l2 * u;
}

START_TEST(probe_closed_form_1d) {
    sslk_ctx *c = mkctx(_i % 2 + 1);
    const float z[4] = {-2, -1, 1, 2};
    const int32_t y[4] = {0, 0, 1, 1};
    const double l2 = 0.5;
    double lo = 0, hi = 50;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi);
        if (stat_eq(mid, l2) < 0) lo = mid; else hi = mid;
    }
    double u = 0.5 * (lo + hi);
    sslk_probe *p = NULL;
    ck_ok(sslk_probe_create(c, &p));
    ck_ok(sslk_probe_set_f64(p, SSLK_PROBE_L2, l2));
    ck_ok(sslk_probe_set_i64(p, SSLK_PROBE_STANDARDIZE, 0));
    ck_ok(sslk_probe_set_f64(p, SSLK_PROBE_TOL, 1e-10));
    ck_ok(sslk_probe_fit(p, z, y, 4, 1, 2));
    const float q[1] = {1.0f};
    float lg[2];
    int32_t pred;
    ck_ok(sslk_probe_predict(p, q, 1, 1, &pred, lg));
    ck_close(lg[1] - lg[0], u, 1e-4, 1e-5);
    ck_assert_int_eq(pred, 1);
    double l2g = 0, acc = 0;
    ck_ok(sslk_probe_chosen_l2(p, &l2g));
    ck_close(l2g, l2, 0, 0);
    ck_ok(sslk_probe_evaluate(p, z, y, 4, 1, &acc));
    ck_close(acc, 1.0, 0, 0);
    sslk_probe_destroy(p);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(probe_errors) {
    sslk_ctx *c = mkctx(1);
    sslk_probe *p = NULL;
    ck_ok(sslk_probe_create(c, &p));
    float z[4] = {0, 1, 2, 3};
    int32_t y[4] = {0, 1, 0, 2};
    double v;
    ck_status(sslk_probe_chosen_l2(p, &v), SSLK_E_STATE);
    ck_status(sslk_probe_evaluate(p, z, y, 4, 1, &v), SSLK_E_STATE);
    ck_status(sslk_probe_fit(p, z, y, 4, 1, 2), SSLK_E_RANGE);
    ck_status(sslk_probe_fit(p, z, y, 1, 1, 3), SSLK_E_SHAPE);
    ck_status(sslk_probe_fit(p, NULL, y, 4, 1, 3), SSLK_E_INVALID_ARG);
    z[2] = INFINITY;
    ck_status(sslk_probe_fit(p, z, y, 4, 1, 3), SSLK_E_NONFINITE);
    ck_status(sslk_probe_set_f64(p, SSLK_PROBE_VAL_FRACTION, 0.95), SSLK_E_SETTING);
    z[2] = 2;
    ck_ok(sslk_probe_fit(p, z, y, 4, 1, 3));
    ck_ok(sslk_probe_chosen_l2(p, &v));
    ck_assert(v > 0);
    ck_status(sslk_probe_predict(p, z, 2, 2, NULL, NULL), SSLK_E_SHAPE);
    sslk_probe_destroy(p);
    sslk_probe_destroy(NULL);
    sslk_ctx_destroy(c);
}
END_TEST


/* Plots: PNG signature / SVG text, refused extensions, unwritable folder. */
START_TEST(plots_write_png_and_svg) {
    char dir[] = "/tmp/sslk_plot_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char png[256], svg[256], bad[256];
    snprintf(png, sizeof png, "%s/c.png", dir);
    snprintf(svg, sizeof svg, "%s/b.svg", dir);
    snprintf(bad, sizeof bad, "%s/none/x.png", dir);
    double y[2 * 5] = {5, 4, 3, NAN, 1, 0.5, 0.6, 0.7, 0.8, 0.9};
    const char *names[2] = {"loss", "rankme"};
    ck_ok(sslk_plot_curves(png, "curves", "epoch", "value", NULL, y, 2, 5, names, SSLK_PLOT_LOG_Y));
    double acc[3] = {0.9, NAN, 0.5};
    const char *labels[3] = {"a", "b", "c"};
    ck_ok(sslk_plot_bars(svg, "per class", "accuracy", acc, labels, 3));
    unsigned char hdr[8] = {0};
    FILE *f = fopen(png, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(hdr, 1, 8, f), 8);
    fclose(f);
    ck_assert(memcmp(hdr, "\x89PNG\r\n\x1a\n", 8) == 0);
    char text[512] = {0};
    f = fopen(svg, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 100);
    fclose(f);
    ck_assert(strstr(text, "<svg") != NULL);
    ck_status(sslk_plot_bars(bad, NULL, NULL, acc, NULL, 3), SSLK_E_IO);
    snprintf(bad, sizeof bad, "%s/x.jpg", dir);
    ck_status(sslk_plot_curves(bad, NULL, NULL, NULL, NULL, y, 2, 5, NULL, 0), SSLK_E_INVALID_ARG);
    ck_status(sslk_plot_curves(png, NULL, NULL, NULL, NULL, y, 0, 5, NULL, 0), SSLK_E_SHAPE);
    remove(png);
    remove(svg);
    rmdir(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("eval");
    TCase *tc = tcase_create("eval");
    tcase_add_loop_test(tc, knn_hand_votes, 0, 2);
    tcase_add_test(tc, knn_errors);
    tcase_add_loop_test(tc, probe_closed_form_1d, 0, 2);
    tcase_add_test(tc, probe_errors);
    tcase_add_test(tc, plots_write_png_and_svg);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
