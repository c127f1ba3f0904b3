/* Conventions of other code bases (issue 20): InfoNCE with outside negatives
 * (hand-derived value, central differences in double, float vs double), the
 * negatives queue (lightly's enqueue rule), MSN label smoothing (central
 * differences in double), and their bad inputs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"
#include "testutil.h"

static sslk_ctx *ctx;

static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    sslk_ctx_set_seed(ctx, 11);
}
static void teardown(void) { sslk_ctx_destroy(ctx); }

static void fill(float *x, size_t cnt, unsigned seed) {
    srand(seed);
    for (size_t i = 0; i < cnt; i++) x[i] = (float)((double)rand() / RAND_MAX * 2.0 - 1.0);
}

START_TEST(negatives_hand_value) {
    sslk_loss *L;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &L));
    ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.5));
    /* anchor (1,0), positive (2,0), negatives (0,3) and (-1,0): cosines 1, 0, -1 */
    const float za[2] = {1, 0}, zb[2] = {2, 0}, neg[4] = {0, 3, -1, 0};
    const double want = -2.0 + log(exp(2.0) + 1.0 + exp(-2.0));
    for (int prec = 0; prec < 2; prec++) {
        ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
        double v;
        float ga[2], gb[2];
        ck_ok(sslk_loss_compute_negatives(L, za, zb, 1, 2, neg, 2, &v, ga, gb));
        ck_close(v, want, prec ? 1e-14 : 1e-6, 0);
        /* along the anchor the cosine gradient vanishes (normalisation); across it
         * dl/da_y = (1/tau) p(0,3) * 1 / |a| = 2 e^0 / (e^2 + 1 + e^-2) */
        ck_close(ga[0], 0.0, 0, 1e-7);
        ck_close(ga[1], 2.0 / (exp(2.0) + 1.0 + exp(-2.0)), prec ? 1e-7 : 1e-5, 0);
        ck_close(gb[0], 0.0, 0, 1e-7);
        ck_close(gb[1], 0.0, 0, 1e-7);
    }
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(negatives_fd_and_float) {
    enum { n = 3, d = 4, m = 5 };
    float za[n * d], zb[n * d], neg[m * d], ga[n * d], gb[n * d], fa[n * d], fb[n * d];
    fill(za, n * d, 1);
    fill(zb, n * d, 2);
    fill(neg, m * d, 3);
    sslk_loss *L;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &L));
    ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.2));
    double vf, v;
    ck_ok(sslk_loss_compute_negatives(L, za, zb, n, d, neg, m, &vf, fa, fb));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 1));
    ck_ok(sslk_loss_compute_negatives(L, za, zb, n, d, neg, m, &v, ga, gb));
    ck_close(vf, v, 1e-6, 0);
    float *x[2] = {za, zb}, *g[2] = {ga, gb}, *gf[2] = {fa, fb};
    for (int b = 0; b < 2; b++)
        for (size_t e = 0; e < n * d; e++) {
            float x0 = x[b][e];
            double h = 1e-3, vp, vm;
            x[b][e] = (float)(x0 + h);
            double hp = (double)x[b][e] - x0;
            ck_ok(sslk_loss_compute_negatives(L, za, zb, n, d, neg, m, &vp, NULL, NULL));
            x[b][e] = (float)(x0 - h);
            double hm = x0 - (double)x[b][e];
            ck_ok(sslk_loss_compute_negatives(L, za, zb, n, d, neg, m, &vm, NULL, NULL));
            x[b][e] = x0;
            ck_close(g[b][e], (vp - vm) / (hp + hm), 1e-4, 1e-6);
            ck_close(gf[b][e], g[b][e], 1e-4, 1e-6);
        }
    /* terms of the last call: value = mean(lse) + mean(-s_pos) */
    ck_ok(sslk_loss_compute_negatives(L, za, zb, n, d, neg, m, &v, NULL, NULL));
    size_t nt;
    ck_ok(sslk_loss_num_terms(L, &nt));
    double t0, t1;
    ck_ok(sslk_loss_term_value(L, 0, &t0));
    ck_ok(sslk_loss_term_value(L, 1, &t1));
    ck_close(t0 + t1, v, 1e-12, 0);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(negatives_bad_inputs) {
    float z[4] = {1, 0, 0, 1}, neg[2] = {1, 1};
    double v;
    sslk_loss *L, *V;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &L));
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_VICREG, &V));
    ck_status(sslk_loss_compute_negatives(V, z, z, 2, 2, neg, 1, &v, NULL, NULL), SSLK_E_UNSUPPORTED);
    ck_status(sslk_loss_compute_negatives(L, z, z, 2, 2, NULL, 1, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_negatives(L, z, z, 2, 2, neg, 0, &v, NULL, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_compute_negatives(L, z, z, (size_t)1 << 40, 2, neg, (size_t)1 << 40, &v, NULL, NULL),
              SSLK_E_OVERFLOW);
    neg[1] = NAN;
    ck_status(sslk_loss_compute_negatives(L, z, z, 2, 2, neg, 1, &v, NULL, NULL), SSLK_E_NONFINITE);
    sslk_loss_destroy(L);
    sslk_loss_destroy(V);
}
END_TEST

START_TEST(queue_rules) {
    sslk_negqueue *q;
    const float *rows;
    size_t cnt;
    ck_ok(sslk_negqueue_create(ctx, 6, 3, SSLK_NEGQUEUE_RANDOM, &q));
    ck_ok(sslk_negqueue_rows(q, &rows, &cnt));
    ck_assert_uint_eq(cnt, 6);
    for (size_t i = 0; i < cnt; i++) {
        double s = 0;
        for (size_t j = 0; j < 3; j++) s += (double)rows[i * 3 + j] * rows[i * 3 + j];
        ck_close(sqrt(s), 1.0, 1e-6, 0);
    }
    sslk_negqueue_destroy(q);
    ck_ok(sslk_negqueue_create(ctx, 5, 1, SSLK_NEGQUEUE_EMPTY, &q));
    ck_ok(sslk_negqueue_rows(q, &rows, &cnt));
    ck_assert_uint_eq(cnt, 0);
    const float a[2] = {1, 1}, b[4] = {2, 2, 2, 2}, c[1] = {3};
    ck_ok(sslk_negqueue_push(q, a, 2, 1));
    ck_ok(sslk_negqueue_push(q, b, 4, 1)); /* 2 + 4 >= 5: 3 rows fit, 1 dropped, pointer to 0 */
    ck_ok(sslk_negqueue_push(q, c, 1, 1));
    ck_ok(sslk_negqueue_rows(q, &rows, &cnt));
    ck_assert_uint_eq(cnt, 5);
    const float want[5] = {3, 1, 2, 2, 2};
    for (size_t i = 0; i < 5; i++) ck_assert(rows[i] == want[i]);
    ck_status(sslk_negqueue_push(q, a, 1, 2), SSLK_E_SHAPE);
    const float bad[1] = {INFINITY};
    ck_status(sslk_negqueue_push(q, bad, 1, 1), SSLK_E_NONFINITE);
    sslk_negqueue_destroy(q);
    sslk_negqueue_destroy(NULL);
    ck_status(sslk_negqueue_create(ctx, 0, 3, 0, &q), SSLK_E_SHAPE);
    ck_status(sslk_negqueue_create(ctx, 4, 3, 7, &q), SSLK_E_INVALID_ARG);
    ck_status(sslk_negqueue_create(ctx, (size_t)1 << 40, (size_t)1 << 30, 0, &q), SSLK_E_OVERFLOW);
    ck_status(sslk_negqueue_rows(NULL, &rows, &cnt), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(msn_label_smoothing_fd) {
    enum { n = 3, d = 4, K = 5, V = 2 };
    float anchors[V * n * d], targets[n * d], ga[V * n * d];
    fill(anchors, V * n * d, 4);
    fill(targets, n * d, 5);
    sslk_loss *L;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_MSN, &L));
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, K));
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, d));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 1));
    ck_ok(sslk_loss_set_f64(L, SSLK_MSN_ENTROPY_WEIGHT, 0.5));
    ck_status(sslk_loss_set_f64(L, SSLK_MSN_LABEL_SMOOTHING, 1.0), SSLK_E_SETTING);
    double v0, v;
    ck_ok(sslk_loss_compute_targets(L, anchors, V, targets, n, d, &v0, NULL));
    ck_ok(sslk_loss_set_f64(L, SSLK_MSN_LABEL_SMOOTHING, 0.1));
    ck_ok(sslk_loss_compute_targets(L, anchors, V, targets, n, d, &v, ga));
    ck_assert(fabs(v - v0) > 1e-4); /* the smoothing changes the value */
    for (size_t e = 0; e < V * n * d; e++) {
        float x0 = anchors[e];
        double vp, vm, h = 1e-3;
        anchors[e] = (float)(x0 + h);
        double hp = (double)anchors[e] - x0;
        ck_ok(sslk_loss_compute_targets(L, anchors, V, targets, n, d, &vp, NULL));
        anchors[e] = (float)(x0 - h);
        double hm = x0 - (double)anchors[e];
        ck_ok(sslk_loss_compute_targets(L, anchors, V, targets, n, d, &vm, NULL));
        anchors[e] = x0;
        ck_close(ga[e], (vp - vm) / (hp + hm), 1e-4, 1e-6);
    }
    /* float path agrees */
    float gf[V * n * d];
    double vf;
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 0));
    ck_ok(sslk_loss_compute_targets(L, anchors, V, targets, n, d, &vf, gf));
    ck_close(vf, v, 1e-6, 0);
    for (size_t e = 0; e < V * n * d; e++) ck_close(gf[e], ga[e], 1e-4, 1e-6);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(worst_k_shared_ties) {
    /* accuracies 0.5 (2 samples), 0.5 (10), 0.5 (4), 0.9 (10), 0.2 (5); k = 2: class 4
     * and one slot shared by the three classes tied at 0.5 (weight 1/3 each) */
    const int64_t count[5] = {2, 10, 4, 10, 5}, correct[5] = {1, 5, 2, 9, 1};
    double wk, wp;
    size_t t;
    ck_ok(sslk_worst_k_tie_mean(correct, count, 5, 2, &wk, &wp, &t));
    ck_assert_uint_eq(t, 3);
    ck_close(wk, (0.2 + 0.5) / 2, 1e-15, 0);
    ck_close(wp, (1.0 + (1 + 5 + 2) / 3.0) / (5.0 + (2 + 10 + 4) / 3.0), 1e-15, 0);
    ck_ok(sslk_worst_k_tie_mean(correct, count, 5, 4, &wk, &wp, &t)); /* all tied classes fit */
    ck_close(wp, (1.0 + 1 + 5 + 2) / (5.0 + 2 + 10 + 4), 1e-15, 0);
    ck_ok(sslk_worst_k_tie_mean(correct, count, 5, 5, NULL, NULL, &t));
    ck_assert_uint_eq(t, 1);
    ck_status(sslk_worst_k_tie_mean(correct, count, 5, 6, &wk, &wp, &t), SSLK_E_RANGE);
    ck_status(sslk_worst_k_tie_mean(correct, count, 5, 0, &wk, &wp, &t), SSLK_E_RANGE);
    const int64_t bad[5] = {3, 0, 0, 0, 0};
    ck_status(sslk_worst_k_tie_mean(bad, count, 5, 1, &wk, &wp, &t), SSLK_E_RANGE);
    ck_status(sslk_worst_k_tie_mean(NULL, count, 5, 1, &wk, &wp, &t), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(knn_top5_rule) {
    /* 1-D cosine: train points at angles; k = 1 neighbour, 6 classes */
    const float z[12] = {1, 0, 0, 1, -1, 0, 0, -1, 0.7f, 0.7f, -0.7f, 0.7f};
    const int32_t y[6] = {0, 1, 2, 3, 4, 5};
    const float q[4] = {0.9f, 0.1f, 0.1f, 0.9f}; /* nearest: class 0, then class 1 */
    const int32_t qy[2] = {5, 5};               /* class 5 never a neighbour */
    sslk_knn *k;
    ck_ok(sslk_knn_create(ctx, &k));
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_K, 1));
    ck_ok(sslk_knn_fit(k, z, y, 6, 2, 6));
    double t1, t5;
    ck_ok(sslk_knn_evaluate(k, q, qy, 2, 2, &t1, &t5));
    ck_close(t1, 0.0, 0, 0);
    ck_close(t5, 0.0, 0, 0); /* all: zero-vote classes ranked by id, 5 is 6th of 6 */
    const int32_t qy2[2] = {2, 2};          /* zero votes, ranked within the first 5 by id */
    ck_ok(sslk_knn_evaluate(k, q, qy2, 2, 2, &t1, &t5));
    ck_close(t5, 1.0, 0, 0);
    ck_ok(sslk_knn_set_i64(k, SSLK_KNN_TOP5_RULE, SSLK_KNN_TOP5_DINO));
    ck_ok(sslk_knn_evaluate(k, q, qy2, 2, 2, &t1, &t5));
    ck_close(t5, 0.0, 0, 0); /* DINO: only min(5, k) = 1 prediction counts */
    ck_status(sslk_knn_set_i64(k, SSLK_KNN_TOP5_RULE, 2), SSLK_E_SETTING);
    sslk_knn_destroy(k);
}
END_TEST

START_TEST(prior_in_double) {
    enum { K = 4, d = 3, n = 2 };
    sslk_loss *L, *Lf;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_MSN, &L));
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_MSN, &Lf));
    sslk_loss *both[2] = {L, Lf};
    for (int i = 0; i < 2; i++) {
        ck_ok(sslk_loss_set_i64(both[i], SSLK_MSN_NUM_PROTOTYPES, K));
        ck_ok(sslk_loss_set_i64(both[i], SSLK_MSN_DIM, d));
        ck_ok(sslk_loss_set_i64(both[i], SSLK_LOSS_PRECISION, 1));
    }
    /* 0.5, 0.25, 0.125, 0.125 are exact in float: both setters give the same prior */
    const double p[K] = {0.5, 0.25, 0.125, 0.125};
    const float pf[K] = {0.5f, 0.25f, 0.125f, 0.125f};
    ck_ok(sslk_loss_set_prior_f64(L, p, K));
    ck_ok(sslk_loss_set_prior(Lf, pf, K));
    int64_t pr;
    ck_ok(sslk_loss_get_i64(L, SSLK_MSN_PRIOR, &pr));
    ck_assert_int_eq(pr, SSLK_MSN_PRIOR_USER);
    float a[n * d], t[n * d];
    fill(a, n * d, 6);
    fill(t, n * d, 7);
    double v, vf;
    ck_ok(sslk_loss_compute_targets(L, a, 1, t, n, d, &v, NULL));
    ck_ok(sslk_loss_compute_targets(Lf, a, 1, t, n, d, &vf, NULL));
    ck_close(v, vf, 1e-15, 0);
    /* renormalised: 2x a prior summing to 1 + 5e-4 equals the prior divided by its sum */
    const double p2[K] = {0.5 + 5e-4, 0.25, 0.125, 0.125};
    double q2[K];
    for (int k = 0; k < K; k++) q2[k] = p2[k] / 1.0005;
    double v2, v3;
    ck_ok(sslk_loss_set_prior_f64(L, p2, K));
    ck_ok(sslk_loss_compute_targets(L, a, 1, t, n, d, &v2, NULL));
    ck_ok(sslk_loss_set_prior_f64(L, q2, K));
    ck_ok(sslk_loss_compute_targets(L, a, 1, t, n, d, &v3, NULL));
    ck_close(v2, v3, 1e-14, 0);
    const double off[K] = {0.6, 0.25, 0.125, 0.125}, neg[K] = {1.0, 0.25, -0.125, -0.125},
                 nanp[K] = {NAN, 0.25, 0.125, 0.125};
    ck_status(sslk_loss_set_prior_f64(L, off, K), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_prior_f64(L, neg, K), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_prior_f64(L, nanp, K), SSLK_E_NONFINITE);
    ck_status(sslk_loss_set_prior_f64(L, p, K - 1), SSLK_E_SHAPE);
    ck_status(sslk_loss_set_prior_f64(L, NULL, K), SSLK_E_INVALID_ARG);
    sslk_loss_destroy(L);
    sslk_loss_destroy(Lf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss_conventions");
    TCase *tc = tcase_create("loss_conventions");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, negatives_hand_value);
    tcase_add_test(tc, negatives_fd_and_float);
    tcase_add_test(tc, negatives_bad_inputs);
    tcase_add_test(tc, queue_rules);
    tcase_add_test(tc, msn_label_smoothing_fd);
    tcase_add_test(tc, worst_k_shared_ties);
    tcase_add_test(tc, knn_top5_rule);
    tcase_add_test(tc, prior_in_double);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
