/* SwAV loss (issue 21b): hand-derived codes and values, central differences in
 * double for every input and the prototypes, float vs double, the queue,
 * in-place prototype normalisation, bad inputs, and across ranks with the
 * fake collectives table against one process.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"
#include "testutil.h"

static sslk_ctx *ctx;

static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    sslk_ctx_set_seed(ctx, 7);
}
static void teardown(void) { sslk_ctx_destroy(ctx); }

/* a SwAV loss with K x D prototypes set to C (normalize_prototypes = norm) */
static sslk_loss *mk(sslk_ctx *c, size_t K, size_t D, const float *C, int prec, int norm) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_SWAV, &L));
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_NUM_PROTOTYPES, (int64_t)K));
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_DIM, (int64_t)D));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_NORMALIZE_PROTOTYPES, norm));
    if (C) {
        sslk_param_view pv = {.struct_size = sizeof pv};
        ck_ok(sslk_loss_param(L, 0, &pv));
        ck_assert_uint_eq(pv.count, K * D);
        memcpy(pv.data, C, K * D * sizeof(float));
    }
    return L;
}

static sslk_param_view proto(sslk_loss *L) {
    sslk_param_view pv = {.struct_size = sizeof pv};
    ck_ok(sslk_loss_param(L, 0, &pv));
    return pv;
}

static double eval(sslk_loss *L, float *const *views, size_t V, size_t n, size_t D, const float *const *q, size_t m) {
    sslk_loss_batch b = {sizeof b, (const float *const *)views, V, n, D, NULL, NULL};
    double v;
    ck_ok(sslk_loss_compute_swav_queue(L, &b, q, m, &v, NULL));
    return v;
}

/* n = 2 rows, K = D = 2, C = I: crop 0 rows (1, 0), (0.6, 0.8); crop 1 the
 * same rows; only crop 0 assigned, one Sinkhorn iteration.  E = exp(S / eps)
 * = [[e^(1/eps), 1], [e^(0.6/eps), e^(0.8/eps)]]; columns divided by their
 * sums, then rows by theirs, give the codes; the loss is crop 1 predicting
 * them: mean_b -sum_k q_bk log softmax(s_b / T)_k. */
START_TEST(hand_codes_and_value) {
    const float C[4] = {1, 0, 0, 1}, z[4] = {1, 0, 0.6f, 0.8f};
    const double eps = 0.5, T = 0.25;
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(ctx, 2, 2, C, prec, 1);
        ck_ok(sslk_loss_set_f64(L, SSLK_SWAV_EPSILON, eps));
        ck_ok(sslk_loss_set_f64(L, SSLK_SWAV_TEMPERATURE, T));
        ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_SINKHORN_ITERATIONS, 1));
        ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 1));
        const double r1 = sqrt((double)z[2] * z[2] + (double)z[3] * z[3]); /* 0.6f, 0.8f: norm 1 to float rounding */
        const double s[2][2] = {{1, 0}, {z[2] / r1, z[3] / r1}};
        double E[2][2], c0, c1, ref = 0;
        for (int b = 0; b < 2; b++)
            for (int k = 0; k < 2; k++) E[b][k] = exp(s[b][k] / eps);
        c0 = E[0][0] + E[1][0];
        c1 = E[0][1] + E[1][1];
        for (int b = 0; b < 2; b++) {
            double q0 = E[b][0] / c0, q1 = E[b][1] / c1, r = q0 + q1;
            q0 /= r, q1 /= r;
            double lse = log(exp(s[b][0] / T) + exp(s[b][1] / T));
            ref += -(q0 * (s[b][0] / T - lse) + q1 * (s[b][1] / T - lse)) / 2;
        }
        float *views[2] = {(float *)z, (float *)z};
        double v = eval(L, views, 2, 2, 2, NULL, 0), t;
        ck_close(v, ref, prec ? 1e-14 : 1e-6, 0);
        ck_ok(sslk_loss_term_value(L, 0, &t));
        ck_close(t, v, 0, 0);
        /* both crops assigned: symmetric, each predicts the other's (equal) codes */
        ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 3));
        ck_close(eval(L, views, 2, 2, 2, NULL, 0), ref, prec ? 1e-14 : 1e-6, 0);
        sslk_loss_destroy(L);
    }
}
END_TEST

/* the official defaults, and the symmetric case: C = I, both crops e1, e2 ->
 * Sinkhorn is a no-op, q_bb = 1 / (1 + e^(-1/eps)), and
 * L = log(1 + e^(-1/T)) + (1 - q_bb) / T. */
START_TEST(defaults_and_symmetric_case) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_SWAV, &L));
    double x;
    int64_t i;
    ck_ok(sslk_loss_get_i64(L, SSLK_SWAV_NUM_PROTOTYPES, &i));
    ck_assert_int_eq(i, 3000);
    ck_ok(sslk_loss_get_i64(L, SSLK_SWAV_DIM, &i));
    ck_assert_int_eq(i, 128);
    ck_ok(sslk_loss_get_f64(L, SSLK_SWAV_TEMPERATURE, &x));
    ck_close(x, 0.1, 0, 0);
    ck_ok(sslk_loss_get_f64(L, SSLK_SWAV_EPSILON, &x));
    ck_close(x, 0.05, 0, 0);
    ck_ok(sslk_loss_get_i64(L, SSLK_SWAV_SINKHORN_ITERATIONS, &i));
    ck_assert_int_eq(i, 3);
    ck_ok(sslk_loss_get_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, &i));
    ck_assert_int_eq(i, 3);
    const char *dom;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_SWAV, &dom));
    ck_assert_str_eq(dom, "swav");
    size_t np;
    ck_ok(sslk_loss_param_count(L, &np));
    ck_assert_uint_eq(np, 1);
    sslk_loss_destroy(L);
    const float C[4] = {1, 0, 0, 1}, z[4] = {3, 0, 0, 0.5f}; /* rows normalise to e1, e2 */
    for (int prec = 0; prec < 2; prec++) {
        L = mk(ctx, 2, 2, C, prec, 1);
        float *views[2] = {(float *)z, (float *)z};
        double q = 1.0 / (1.0 + exp(-20.0)), ref = log1p(exp(-10.0)) + (1 - q) / 0.1;
        ck_close(eval(L, views, 2, 2, 2, NULL, 0), ref, prec ? 1e-12 : 1e-5, 1e-15);
        sslk_loss_destroy(L);
    }
}
END_TEST

/* Central differences in double.  Codes are stop-gradient, so the full loss is
 * not what the gradient differentiates; but L = mean over assigned crops a of
 * a sub-loss whose codes depend only on crop a (and C).  So:
 * - with one assigned crop a, the other crops never enter the codes: their
 *   finite differences are exact, and crop a's own gradient is exactly 0;
 * - with several, the gradient is the mean of those single-crop gradients;
 * - prototypes (the codes move with C): the code motion is O(1/epsilon), so
 *   d(eps) = fd - analytic = c / eps + O(eps^-2), and 2 d(2 eps) - d(eps)
 *   (Richardson) must vanish to O(eps^-2) at large epsilon. */
enum { FV = 3, FN = 4, FD_ = 3, FK = 5, FM = 6 };
static float fZ[FV][FN * FD_], fC[FK * FD_], fQ[FV][FM * FD_];

static double fd_eval(sslk_loss *L, const float *const *qs, size_t m, float *x) {
    float *views[FV] = {fZ[0], fZ[1], fZ[2]};
    float x0 = *x;
    const double h = 1e-5 * (fabs((double)x0) > 1 ? fabs((double)x0) : 1.0);
    *x = (float)(x0 + h);
    double hp = (double)*x - x0, fp = eval(L, views, FV, FN, FD_, qs, m);
    *x = (float)(x0 - h);
    double hm = x0 - (double)*x, fm = eval(L, views, FV, FN, FD_, qs, m);
    *x = x0;
    return (fp - fm) / (hp + hm);
}

/* analytic gradients of the views (G) and prototypes (PG) for a mask */
static void fd_grads(sslk_loss *L, uint64_t mask, size_t m, double eps, float G[FV][FN * FD_], float *PG) {
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, (int64_t)mask));
    ck_ok(sslk_loss_set_f64(L, SSLK_SWAV_EPSILON, eps));
    const float *qs[FV];
    size_t a = 0;
    for (int v = 0; v < FV; v++)
        if ((mask >> v) & 1) qs[a++] = fQ[v];
    float *views[FV] = {fZ[0], fZ[1], fZ[2]}, *grads[FV] = {G[0], G[1], G[2]};
    sslk_loss_batch b = {sizeof b, (const float *const *)views, FV, FN, FD_, NULL, NULL};
    ck_ok(sslk_loss_zero_grad(L));
    double v;
    ck_ok(sslk_loss_compute_swav_queue(L, &b, qs, m, &v, grads));
    memcpy(PG, proto(L).grad, FK * FD_ * sizeof(float));
}

static void fd_case(uint64_t mask, size_t m) {
    for (int v = 0; v < FV; v++) tu_fill_uniform(fZ[v], FN * FD_, 11 + (unsigned)v, -1, 1);
    for (int v = 0; v < FV; v++) tu_fill_uniform(fQ[v], FM * FD_, 21 + (unsigned)v, -1, 1);
    tu_fill_uniform(fC, FK * FD_, 3, -1, 1);
    sslk_loss *L = mk(ctx, FK, FD_, fC, 1, 0);
    static float G[FV][FN * FD_], Gs[FV][FN * FD_], Gsum[FV][FN * FD_];
    float PG[FK * FD_];
    memset(Gsum, 0, sizeof Gsum);
    size_t A = 0;
    for (int a = 0; a < FV; a++) {
        if (!((mask >> a) & 1)) continue;
        A++;
        fd_grads(L, (uint64_t)1 << a, m, 0.05, Gs, PG);
        const float *qs[1] = {fQ[a]};
        double gmax = 0;
        for (int v = 0; v < FV; v++)
            for (int e = 0; e < FN * FD_; e++) gmax = fmax(gmax, fabs(Gs[v][e]));
        ck_assert(gmax > 1e-3);
        for (int v = 0; v < FV; v++)
            for (int e = 0; e < FN * FD_; e++) {
                Gsum[v][e] += Gs[v][e];
                if (v == a) {
                    ck_assert_msg(Gs[v][e] == 0.0f, "crop %d's own codes carry no gradient", a);
                    continue;
                }
                double fd = fd_eval(L, qs, m, &fZ[v][e]);
                ck_assert_msg(fabs(fd - Gs[v][e]) <= 1e-6 * gmax, "assigned %d view %d elem %d: fd %.10g analytic %.10g",
                              a, v, e, fd, (double)Gs[v][e]);
            }
    }
    fd_grads(L, mask, m, 0.05, G, PG);
    for (int v = 0; v < FV; v++)
        for (int e = 0; e < FN * FD_; e++) ck_close(G[v][e], Gsum[v][e] / (double)A, 3e-7, 1e-9); /* float32 outputs */
    /* prototypes: Richardson over epsilon = 2000 and 4000 */
    const float *qs[FV];
    size_t a = 0;
    for (int v = 0; v < FV; v++)
        if ((mask >> v) & 1) qs[a++] = fQ[v];
    float PG1[FK * FD_], PG2[FK * FD_];
    fd_grads(L, mask, m, 2000, G, PG1);
    double pmax = 0;
    for (int e = 0; e < FK * FD_; e++) pmax = fmax(pmax, fabs(PG1[e]));
    ck_assert(pmax > 1e-3);
    sslk_param_view pv = proto(L);
    double d1[FK * FD_];
    for (int e = 0; e < FK * FD_; e++) d1[e] = fd_eval(L, qs, m, &pv.data[e]) - PG1[e];
    fd_grads(L, mask, m, 4000, G, PG2);
    for (int e = 0; e < FK * FD_; e++) {
        double d2 = fd_eval(L, qs, m, &pv.data[e]) - PG2[e];
        ck_assert_msg(fabs(d1[e]) < 1e-2 * pmax, "prototype elem %d: fd - analytic = %g at eps 2000", e, d1[e]);
        ck_assert_msg(fabs(2 * d2 - d1[e]) <= 1e-7 * pmax, "prototype elem %d: fd - analytic = %g (eps 2000), %g "
                      "(eps 4000): not O(1/eps)", e, d1[e], d2);
    }
    sslk_loss_destroy(L);
}

START_TEST(fd_two_assigned) { fd_case(3, 0); }
END_TEST
START_TEST(fd_with_queue_views_0_and_2) { fd_case(5, FM); }
END_TEST

/* float32 path against the double path: values and every gradient */
START_TEST(float_vs_double) {
    enum { V = 4, n = 32, D = 16, K = 40, m = 24 };
    static float Z[V][n * D], C[K * D], Q[2][m * D], G[2][V][n * D], PG[2][K * D];
    for (int v = 0; v < V; v++) tu_fill_uniform(Z[v], n * D, 40 + (unsigned)v, -1, 1);
    tu_fill_uniform(C, K * D, 41, -1, 1);
    tu_fill_uniform(Q[0], m * D, 42, -1, 1);
    tu_fill_uniform(Q[1], m * D, 43, -1, 1);
    double val[2];
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(ctx, K, D, C, prec, 1);
        const float *views[V] = {Z[0], Z[1], Z[2], Z[3]}, *qs[2] = {Q[0], Q[1]};
        float *grads[V] = {G[prec][0], G[prec][1], G[prec][2], G[prec][3]};
        sslk_loss_batch b = {sizeof b, views, V, n, D, NULL, NULL};
        ck_ok(sslk_loss_compute_swav_queue(L, &b, qs, m, &val[prec], grads));
        memcpy(PG[prec], proto(L).grad, sizeof PG[prec]);
        sslk_loss_destroy(L);
    }
    ck_close(val[0], val[1], 1e-6, 0);
    double e2 = 0, r2 = 0;
    for (int v = 0; v < V; v++)
        for (int e = 0; e < n * D; e++) {
            double d = (double)G[0][v][e] - G[1][v][e];
            e2 += d * d;
            r2 += (double)G[1][v][e] * G[1][v][e];
        }
    ck_assert_msg(r2 > 0 && sqrt(e2) <= 1e-5 * sqrt(r2), "view gradients differ: %g of %g", sqrt(e2), sqrt(r2));
    e2 = r2 = 0;
    for (int e = 0; e < K * D; e++) {
        double d = (double)PG[0][e] - PG[1][e];
        e2 += d * d;
        r2 += (double)PG[1][e] * PG[1][e];
    }
    ck_assert_msg(r2 > 0 && sqrt(e2) <= 1e-5 * sqrt(r2), "prototype gradients differ: %g of %g", sqrt(e2), sqrt(r2));
}
END_TEST

/* the loss normalises the prototype rows in place (official step before each
 * forward); gradients accumulate and are the same on the normalised rows */
START_TEST(prototypes_normalised_in_place) {
    enum { n = 6, D = 4, K = 7 };
    float z1[n * D], z2[n * D], g1[n * D], g2[n * D];
    tu_fill_uniform(z1, n * D, 1, -1, 1);
    tu_fill_uniform(z2, n * D, 2, -1, 1);
    sslk_loss *L = mk(ctx, K, D, NULL, 1, 1);
    sslk_param_view pv = proto(L);
    float raw[K * D];
    memcpy(raw, pv.data, sizeof raw);
    double v1, v2;
    ck_ok(sslk_loss_zero_grad(L));
    ck_ok(sslk_loss_compute_pair(L, z1, z2, n, D, &v1, g1, g2));
    for (int k = 0; k < K; k++) {
        double s = 0, r = 0;
        for (int j = 0; j < D; j++) s += (double)pv.data[k * D + j] * pv.data[k * D + j], r += (double)raw[k * D + j] * raw[k * D + j];
        ck_close(s, 1.0, 1e-6, 0);
        ck_close(pv.data[k * D], raw[k * D] / sqrt(r), 1e-6, 1e-7);
    }
    float pg1[K * D];
    memcpy(pg1, pv.grad, sizeof pg1);
    /* a second call: prototypes already unit, the value repeats, gradients double */
    ck_ok(sslk_loss_compute_pair(L, z1, z2, n, D, &v2, g1, g2));
    ck_close(v2, v1, 1e-12, 0);
    for (int e = 0; e < K * D; e++) ck_close(pv.grad[e], 2 * pg1[e], 1e-6, 1e-9);
    /* with normalize_prototypes = 0 on the same (unit) rows: the same value */
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_NORMALIZE_PROTOTYPES, 0));
    for (int e = 0; e < K * D; e++) pv.data[e] *= 2;
    ck_ok(sslk_loss_compute_pair(L, z1, z2, n, D, &v2, NULL, NULL));
    ck_assert(fabs(v2 - v1) > 1e-3); /* scores doubled: not renormalised */
    sslk_loss_destroy(L);
}
END_TEST

/* the result does not depend on the thread count */
START_TEST(thread_count_independent) {
    enum { V = 3, n = 64, D = 8, K = 130 };
    static float Z[V][n * D], G[2][V][n * D];
    for (int v = 0; v < V; v++) tu_fill_uniform(Z[v], n * D, 60 + (unsigned)v, -1, 1);
    double val[2];
    for (int t = 0; t < 2; t++) {
        ck_ok(sslk_ctx_set_threads(ctx, t + 1));
        sslk_loss *L = mk(ctx, K, D, NULL, 0, 1);
        const float *views[V] = {Z[0], Z[1], Z[2]};
        float *grads[V] = {G[t][0], G[t][1], G[t][2]};
        sslk_loss_batch b = {sizeof b, views, V, n, D, NULL, NULL};
        ck_ok(sslk_loss_compute(L, &b, &val[t], grads));
        sslk_loss_destroy(L);
    }
    ck_assert(val[0] == val[1]);
    ck_assert(memcmp(G[0], G[1], sizeof G[0]) == 0);
}
END_TEST

START_TEST(bad_inputs) {
    float z[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3}, q[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    sslk_loss *L = mk(ctx, 4, 3, NULL, 0, 1);
    double v;
    const float *one[1] = {z};
    sslk_loss_batch b = {sizeof b, one, 1, 4, 3, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE); /* one view */
    ck_status(sslk_loss_compute_pair(L, z, z, 3, 4, &v, NULL, NULL), SSLK_E_SHAPE); /* d != dim */
    ck_assert(strstr(sslk_last_error(), "dim = 3") != NULL);
    const int64_t idx[4] = {0, 1, 2, 3};
    ck_status(sslk_loss_compute_indexed(L, z, idx, 4, 3, &v, NULL), SSLK_E_SHAPE);
    const float *two[2] = {z, z};
    sslk_loss_batch bi = {sizeof bi, two, 2, 4, 3, idx, NULL};
    ck_status(sslk_loss_compute(L, &bi, &v, NULL), SSLK_E_INVALID_ARG); /* indices */
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 4));
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 3, &v, NULL, NULL), SSLK_E_SETTING);
    ck_assert(strstr(sslk_last_error(), "names view 2") != NULL);
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 3));
    ck_status(sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_SWAV_EPSILON, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_SWAV_SINKHORN_ITERATIONS, -1), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_SWAV_DIM, 5), SSLK_E_STATE); /* prototypes exist */
    /* queue: NULL block, NaN row, and a non-swav loss */
    sslk_loss_batch b2 = {sizeof b2, two, 2, 4, 3, NULL, NULL};
    const float *qs[2] = {q, NULL};
    ck_status(sslk_loss_compute_swav_queue(L, &b2, qs, 3, &v, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_swav_queue(L, &b2, NULL, 3, &v, NULL), SSLK_E_INVALID_ARG);
    float qn[9];
    memcpy(qn, q, sizeof qn);
    qn[4] = NAN;
    const float *qs2[2] = {q, qn};
    ck_status(sslk_loss_compute_swav_queue(L, &b2, qs2, 3, &v, NULL), SSLK_E_NONFINITE);
    /* NaN in the prototypes (writable through sslk_loss_param) */
    sslk_param_view pv = proto(L);
    pv.data[5] = INFINITY;
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 3, &v, NULL, NULL), SSLK_E_NONFINITE);
    pv.data[5] = 0.5f;
    ck_ok(sslk_loss_compute_pair(L, z, z, 4, 3, &v, NULL, NULL));
    pv = proto(L);
    /* far-apart unnormalised prototypes with the smallest epsilon: code rows underflow */
    ck_ok(sslk_loss_set_i64(L, SSLK_SWAV_NORMALIZE_PROTOTYPES, 0));
    ck_ok(sslk_loss_set_f64(L, SSLK_SWAV_EPSILON, 0.005));
    /* rows 1e4 e0, 1e4 e1, 1e4 e2, 1e4 e0: sample (4, 5, 6) is far below every column's best */
    for (int e = 0; e < 12; e++) pv.data[e] = (e == 0 || e == 4 || e == 8 || e == 9) ? 1e4f : 0.0f;
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 3, &v, NULL, NULL), SSLK_E_NUMERIC);
    sslk_loss_destroy(L);
    sslk_loss *I;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &I));
    ck_status(sslk_loss_compute_swav_queue(I, &b2, NULL, 0, &v, NULL), SSLK_E_UNSUPPORTED);
    sslk_loss_destroy(I);
}
END_TEST

/* ---- across ranks (fake table): each rank holds its rows and its own queue;
 * one process holding all rows and the concatenated queues gives the same
 * value, gradients and prototype gradient (Sinkhorn sums all-reduced) ---- */
enum { RV = 3, RN = 10, RD = 5, RK = 9, RM = 6 };
typedef struct swav_job {
    size_t counts[3], offs[3], qcounts[3], qoffs[3];
    int prec;
    float Z[RV][RN * RD], Q[2][RM * RD], C[RK * RD];
    float G[RV][RN * RD], PG[3][RK * RD];
    double value[3];
    sslk_status st[3];
} swav_job;

static sslk_status job_compute(sslk_ctx *c, swav_job *J, size_t off, size_t n, size_t qoff, size_t m, double *v,
                               float *pg) {
    sslk_loss *L = NULL;
    sslk_status s = sslk_loss_create(c, SSLK_LOSS_SWAV, &L);
    if (s) return s;
    sslk_loss_set_i64(L, SSLK_SWAV_NUM_PROTOTYPES, RK);
    sslk_loss_set_i64(L, SSLK_SWAV_DIM, RD);
    sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, J->prec);
    sslk_loss_set_i64(L, SSLK_SWAV_CROPS_FOR_ASSIGN, 5);
    sslk_param_view pv = {.struct_size = sizeof pv};
    s = sslk_loss_param(L, 0, &pv);
    if (s == SSLK_OK) {
        memcpy(pv.data, J->C, sizeof J->C);
        const float *views[RV], *qs[2] = {J->Q[0] + qoff * RD, J->Q[1] + qoff * RD};
        float *grads[RV];
        for (int k = 0; k < RV; k++) views[k] = J->Z[k] + off * RD, grads[k] = J->G[k] + off * RD;
        sslk_loss_batch b = {sizeof b, views, RV, n, RD, NULL, NULL};
        s = sslk_loss_compute_swav_queue(L, &b, qs, m, v, grads);
        if (s == SSLK_OK) memcpy(pg, pv.grad, sizeof J->C);
    }
    sslk_loss_destroy(L);
    return s;
}

static void swav_rank(sslk_ctx *c, int rank, void *user) {
    swav_job *J = user;
    J->st[rank] = job_compute(c, J, J->offs[rank], J->counts[rank], J->qoffs[rank], J->qcounts[rank],
                              &J->value[rank], J->PG[rank]);
}

START_TEST(across_ranks_fake_table) {
    const int prec = _i;
    static swav_job J;
    memset(&J, 0, sizeof J);
    J.prec = prec;
    const size_t cnt[3] = {4, 2, 4}, qc[3] = {2, 3, 1}; /* uneven rows and queue lengths */
    for (int r = 0, o = 0, q = 0; r < 3; r++) {
        J.counts[r] = cnt[r], J.offs[r] = (size_t)o, o += (int)cnt[r];
        J.qcounts[r] = qc[r], J.qoffs[r] = (size_t)q, q += (int)qc[r];
    }
    for (int v = 0; v < RV; v++) tu_fill_uniform(J.Z[v], RN * RD, 70 + (unsigned)v, -1, 1);
    tu_fill_uniform(J.Q[0], RM * RD, 80, -1, 1);
    tu_fill_uniform(J.Q[1], RM * RD, 81, -1, 1);
    tu_fill_uniform(J.C, RK * RD, 82, -1, 1);
    float G1[RV][RN * RD], PG1[RK * RD];
    double v1;
    ck_ok(job_compute(ctx, &J, 0, RN, 0, RM, &v1, PG1));
    memcpy(G1, J.G, sizeof G1);
    memset(J.G, 0, sizeof J.G);
    ck_ok(sslk_dist_fake_run(3, swav_rank, &J));
    const double tol = prec ? 1e-12 : 2e-6;
    for (int r = 0; r < 3; r++) {
        ck_assert_msg(J.st[r] == SSLK_OK, "rank %d: %s", r, sslk_status_str(J.st[r]));
        ck_close(J.value[r], v1, tol, 0);
        double pmax = 0;
        for (int e = 0; e < RK * RD; e++) pmax = fmax(pmax, fabs(PG1[e]));
        ck_assert(pmax > 0);
        for (int e = 0; e < RK * RD; e++) ck_close(J.PG[r][e], PG1[e], 0, tol * 10 * pmax);
    }
    double gmax = 0;
    for (int v = 0; v < RV; v++)
        for (int e = 0; e < RN * RD; e++) gmax = fmax(gmax, fabs(G1[v][e]));
    ck_assert(gmax > 0);
    for (int v = 0; v < RV; v++)
        for (int e = 0; e < RN * RD; e++) ck_close(J.G[v][e], G1[v][e], 0, tol * 10 * gmax);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss_swav");
    TCase *tc = tcase_create("loss_swav");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hand_codes_and_value);
    tcase_add_test(tc, defaults_and_symmetric_case);
    tcase_add_test(tc, fd_two_assigned);
    tcase_add_test(tc, fd_with_queue_views_0_and_2);
    tcase_add_test(tc, float_vs_double);
    tcase_add_test(tc, prototypes_normalised_in_place);
    tcase_add_test(tc, thread_count_independent);
    tcase_add_test(tc, bad_inputs);
    tcase_add_loop_test(tc, across_ranks_fake_table, 0, 2);
    suite_add_tcase(s, tc);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
