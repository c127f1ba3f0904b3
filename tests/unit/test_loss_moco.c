/* MoCo v2 (queue negatives) and v3 (in-batch, symmetric, x 2T) loss (issue 21):
 * hand-derived values, central differences in double for every input, the
 * stop-gradient of the keys, float vs double, bad inputs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"
#include "testutil.h"

static sslk_ctx *ctx;

static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    sslk_ctx_set_seed(ctx, 3);
}
static void teardown(void) { sslk_ctx_destroy(ctx); }

static sslk_loss *mk(int version, int prec) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_MOCO, &L));
    ck_ok(sslk_loss_set_i64(L, SSLK_MOCO_VERSION, version));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
    return L;
}

static double term(sslk_loss *L, size_t i) {
    double v;
    ck_ok(sslk_loss_term_value(L, i, &v));
    return v;
}

/* v2: q = (3, 0) (normalised to e1), k = (1, 0), negatives e2 and -e1:
 * logits (1, 0, -1) / T, L = log(e^{1/T} + 1 + e^{-1/T}) - 1/T. */
START_TEST(v2_hand_value) {
    const float q[2] = {3, 0}, k[2] = {1, 0}, neg[4] = {0, 2, -1, 0};
    for (int prec = 0; prec < 2; prec++)
        for (int t = 0; t < 2; t++) {
            sslk_loss *L = mk(2, prec);
            double T = t ? 1.0 : 0.2, v, def;
            ck_ok(sslk_loss_get_f64(L, SSLK_MOCO_TEMPERATURE, &def));
            ck_close(def, 0.2, 0, 0);
            ck_ok(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, T));
            float gq[2], gk[2] = {7, 7};
            ck_ok(sslk_loss_compute_negatives(L, q, k, 1, 2, neg, 2, &v, gq, gk));
            double want = log(exp(1 / T) + 1 + exp(-1 / T)) - 1 / T;
            ck_close(v, want, prec ? 1e-14 : 1e-6, 0);
            ck_close(term(L, 0), want, prec ? 1e-14 : 1e-6, 0);
            ck_close(term(L, 1), 1.0, 1e-7, 0); /* positive cosine */
            ck_assert(gk[0] == 0 && gk[1] == 0);
            /* dL/du = (p2 e2 - p3 e1 + (p1 - 1) e1) / T, projected off u = e1 and divided by |q| = 3:
             * only the e2 component survives: p2 / (3 T) */
            double Z = exp(1 / T) + 1 + exp(-1 / T);
            ck_close(gq[0], 0.0, 0, 1e-7);
            ck_close(gq[1], (1 / Z) / (3 * T), prec ? 1e-7 : 1e-5, 0);
            sslk_loss_destroy(L);
        }
}
END_TEST

/* v3: n = 2 orthonormal rows, keys = queries, T = 1: S = I, each row
 * CE = log(e + 1) - 1, ctr = 2 T CE; symmetric = 2 ctr. */
START_TEST(v3_hand_value) {
    const float a[4] = {2, 0, 0, 0.5f};
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(3, prec);
        ck_ok(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, 1.0));
        double v, ce = log(exp(1.0) + 1) - 1;
        ck_ok(sslk_loss_compute_pair(L, a, a, 2, 2, &v, NULL, NULL));
        ck_close(v, 2 * ce, prec ? 1e-14 : 1e-6, 0);
        ck_close(term(L, 0), ce, prec ? 1e-14 : 1e-6, 0);
        const float *views[4] = {a, a, a, a};
        sslk_loss_batch b = {sizeof b, views, 4, 2, 2, NULL, NULL};
        ck_ok(sslk_loss_compute(L, &b, &v, NULL));
        ck_close(v, 4 * ce, prec ? 1e-14 : 1e-6, 0);
        ck_ok(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, 0.5)); /* S = 2 I, ctr = 2 * 0.5 CE */
        ck_ok(sslk_loss_compute_pair(L, a, a, 2, 2, &v, NULL, NULL));
        ck_close(v, log(exp(2.0) + 1) - 2, prec ? 1e-14 : 1e-6, 0);
        sslk_loss_destroy(L);
    }
}
END_TEST

/* v2 equals lightly-style InfoNCE with a memory bank on q (the same CE with
 * the positive first), except that the key gets no gradient */
START_TEST(v2_matches_infonce_bank) {
    enum { n = 8, d = 6, m = 20 };
    float q[n * d], k[n * d], neg[m * d], g1[n * d], g2[n * d], gk[n * d];
    tu_fill_uniform(q, n * d, 1, -1, 1);
    tu_fill_uniform(k, n * d, 2, -1, 1);
    tu_fill_uniform(neg, m * d, 3, -1, 1);
    sslk_loss *M = mk(2, 1), *I = NULL;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &I));
    ck_ok(sslk_loss_set_i64(I, SSLK_LOSS_PRECISION, 1));
    ck_ok(sslk_loss_set_f64(I, SSLK_INFONCE_TEMPERATURE, 0.2));
    double vm, vi;
    ck_ok(sslk_loss_compute_negatives(M, q, k, n, d, neg, m, &vm, g1, gk));
    ck_ok(sslk_loss_compute_negatives(I, q, k, n, d, neg, m, &vi, g2, NULL));
    ck_close(vm, vi, 1e-13, 0);
    for (int e = 0; e < n * d; e++) {
        ck_close(g1[e], g2[e], 1e-6, 1e-9);
        ck_assert(gk[e] == 0);
    }
    sslk_loss_destroy(M);
    sslk_loss_destroy(I);
}
END_TEST

static double eval_v2(sslk_loss *L, const float *q, const float *k, size_t n, size_t d, const float *neg, size_t m) {
    double v;
    ck_ok(sslk_loss_compute_negatives(L, q, k, n, d, neg, m, &v, NULL, NULL));
    return v;
}

static double eval_v3(sslk_loss *L, float *const *views, size_t V, size_t n, size_t d) {
    sslk_loss_batch b = {sizeof b, (const float *const *)views, V, n, d, NULL, NULL};
    double v;
    ck_ok(sslk_loss_compute(L, &b, &v, NULL));
    return v;
}

static double step_of(float x0) { return 1e-3 * (fabs((double)x0) > 1 ? fabs((double)x0) : 1.0); }

/* central differences in double for every element of q, k and the negatives:
 * q's match the analytic gradient, k's and the queue's are the stop-gradient
 * zeros the loss reports (the true derivative is not zero: the keys are
 * constants by convention, so only q is checked against FD there) */
START_TEST(v2_finite_differences) {
    enum { n = 5, d = 4, m = 7 };
    float q[n * d], k[n * d], neg[m * d], gq[n * d], gk[n * d];
    tu_fill_uniform(q, n * d, 11, -1, 1);
    tu_fill_uniform(k, n * d, 12, -1, 1);
    tu_fill_uniform(neg, m * d, 13, -1, 1);
    for (int e = 0; e < n * d; e++) k[e] = 0.7f * q[e] + 0.3f * k[e];
    sslk_loss *L = mk(2, 1);
    double v;
    ck_ok(sslk_loss_compute_negatives(L, q, k, n, d, neg, m, &v, gq, gk));
    double gmax = 0;
    for (int e = 0; e < n * d; e++) gmax = fmax(gmax, fabs(gq[e]));
    ck_assert(gmax > 1e-3);
    for (int e = 0; e < n * d; e++) {
        float x0 = q[e];
        double h = step_of(x0);
        float xp = (float)(x0 + h), xm = (float)(x0 - h);
        q[e] = xp;
        double fp = eval_v2(L, q, k, n, d, neg, m);
        q[e] = xm;
        double fm = eval_v2(L, q, k, n, d, neg, m);
        q[e] = x0;
        double fd = (fp - fm) / ((double)xp - (double)xm);
        ck_assert_msg(fabs(gq[e] - fd) <= 1e-5 * gmax + 1e-5 * fabs(fd), "q elem %d: %.9g vs FD %.9g", e, gq[e], fd);
        ck_assert(gk[e] == 0);
    }
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(v3_finite_differences) {
    const int V = _i ? 4 : 2;
    enum { n = 6, d = 5 };
    float x[4 * n * d], g[4 * n * d];
    tu_fill_uniform(x, 4 * n * d, 21, -1, 1);
    float *views[4], *grads[4];
    for (int v = 0; v < 4; v++) {
        views[v] = x + v * n * d;
        grads[v] = g + v * n * d;
    }
    sslk_loss *L = mk(3, 1);
    ck_ok(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, 0.3));
    sslk_loss_batch b = {sizeof b, (const float *const *)views, (size_t)V, n, d, NULL, NULL};
    double v;
    memset(g, 0x7f, sizeof g);
    ck_ok(sslk_loss_compute(L, &b, &v, grads));
    double gmax = 0;
    for (int e = 0; e < V / 2 * n * d; e++) gmax = fmax(gmax, fabs(g[e]));
    ck_assert(gmax > 1e-3);
    for (int w = 0; w < V; w++)
        for (int e = 0; e < n * d; e++) {
            if (w >= V / 2) { /* keys */
                ck_assert(grads[w][e] == 0);
                continue;
            }
            float *p = &views[w][e], x0 = *p;
            double h = step_of(x0);
            float xp = (float)(x0 + h), xm = (float)(x0 - h);
            *p = xp;
            double fp = eval_v3(L, views, V, n, d);
            *p = xm;
            double fm = eval_v3(L, views, V, n, d);
            *p = x0;
            double fd = (fp - fm) / ((double)xp - (double)xm);
            ck_assert_msg(fabs(grads[w][e] - fd) <= 1e-5 * gmax + 1e-5 * fabs(fd), "view %d elem %d: %.9g vs %.9g",
                          w, e, grads[w][e], fd);
        }
    /* symmetric = ctr(q1, k2) + ctr(q2, k1) */
    if (V == 4) {
        float *p1[2] = {views[0], views[3]}, *p2[2] = {views[1], views[2]};
        ck_close(v, eval_v3(L, p1, 2, n, d) + eval_v3(L, p2, 2, n, d), 1e-13, 0);
    }
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(float_vs_double) {
    enum { n = 48, d = 32, m = 256 };
    float *x = malloc((4 * n * d + m * d) * sizeof(float)), *neg = x + 4 * n * d;
    float *gf = malloc(8 * n * d * sizeof(float)), *gd = gf + 4 * n * d;
    tu_fill_uniform(x, 4 * n * d + m * d, 31, -1, 1);
    float *views[4], *gvf[4], *gvd[4];
    for (int v = 0; v < 4; v++) {
        views[v] = x + v * n * d;
        gvf[v] = gf + v * n * d;
        gvd[v] = gd + v * n * d;
    }
    for (int version = 2; version <= 3; version++) {
        sslk_loss *F = mk(version, 0), *D = mk(version, 1);
        double vf, vd;
        if (version == 2) {
            ck_ok(sslk_loss_compute_negatives(F, views[0], views[1], n, d, neg, m, &vf, gvf[0], NULL));
            ck_ok(sslk_loss_compute_negatives(D, views[0], views[1], n, d, neg, m, &vd, gvd[0], NULL));
        } else {
            sslk_loss_batch b = {sizeof b, (const float *const *)views, 4, n, d, NULL, NULL};
            ck_ok(sslk_loss_compute(F, &b, &vf, gvf));
            ck_ok(sslk_loss_compute(D, &b, &vd, gvd));
        }
        ck_close(vf, vd, 1e-6, 0);
        double gmax = 0, err = 0;
        for (int e = 0; e < (version == 2 ? 1 : 2) * n * d; e++) {
            gmax = fmax(gmax, fabs(gd[e]));
            err = fmax(err, fabs((double)gf[e] - gd[e]));
        }
        ck_assert_msg(gmax > 0 && err <= 1e-5 * gmax, "v%d float vs double: %g (max %g)", version, err, gmax);
        sslk_loss_destroy(F);
        sslk_loss_destroy(D);
    }
    free(x);
    free(gf);
}
END_TEST

START_TEST(bad_inputs) {
    float q[6] = {1, 2, 3, 4, 5, 6}, k[6] = {1, 0, 0, 1, 1, 1}, neg[4] = {1, 0, 0, 1};
    sslk_loss *L = mk(2, 0);
    double v;
    /* v2 wants its queue; v3 has none */
    ck_status(sslk_loss_compute_pair(L, q, k, 3, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_ok(sslk_loss_compute_negatives(L, q, k, 3, 2, neg, 2, &v, NULL, NULL));
    ck_status(sslk_loss_compute_negatives(L, q, k, 3, 2, neg, 0, &v, NULL, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_compute_negatives(L, q, k, 3, 2, NULL, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    neg[3] = NAN;
    ck_status(sslk_loss_compute_negatives(L, q, k, 3, 2, neg, 2, &v, NULL, NULL), SSLK_E_NONFINITE);
    neg[3] = 1;
    k[2] = INFINITY;
    ck_status(sslk_loss_compute_negatives(L, q, k, 3, 2, neg, 2, &v, NULL, NULL), SSLK_E_NONFINITE);
    k[2] = 0;
    ck_status(sslk_loss_compute_negatives(L, q, k, (size_t)1 << 40, (size_t)1 << 30, neg, 2, &v, NULL, NULL),
              SSLK_E_OVERFLOW);
    ck_status(sslk_loss_set_i64(L, SSLK_MOCO_VERSION, 1), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_MOCO_VERSION, 4), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_MOCO_TEMPERATURE, NAN), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_BARLOW_LAMBDA, 1), SSLK_E_SETTING); /* another kind's key */
    ck_ok(sslk_loss_set_i64(L, SSLK_MOCO_VERSION, 3));
    ck_status(sslk_loss_compute_negatives(L, q, k, 3, 2, neg, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_ok(sslk_loss_compute_pair(L, q, k, 3, 2, &v, NULL, NULL));
    ck_status(sslk_loss_compute_pair(L, q, k, 1, 2, &v, NULL, NULL), SSLK_E_SHAPE); /* one row: no negatives */
    const float *three[3] = {q, k, q};
    sslk_loss_batch b = {sizeof b, three, 3, 3, 2, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE);
    const int64_t idx[3] = {0, 1, 2};
    ck_status(sslk_loss_compute_indexed(L, q, idx, 3, 2, &v, NULL), SSLK_E_SHAPE);
    const char *dom = NULL;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_MOCO, &dom));
    ck_assert_str_eq(dom, "moco");
    sslk_loss_destroy(L);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss_moco");
    TCase *tc = tcase_create("loss_moco");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, v2_hand_value);
    tcase_add_test(tc, v3_hand_value);
    tcase_add_test(tc, v2_matches_infonce_bank);
    tcase_add_test(tc, v2_finite_differences);
    tcase_add_loop_test(tc, v3_finite_differences, 0, 2);
    tcase_add_test(tc, float_vs_double);
    tcase_add_test(tc, bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
