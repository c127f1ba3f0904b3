/* Barlow Twins and negative-cosine (SimSiam / BYOL) losses (issue 21):
 * hand-derived values and gradients, central differences in double for every
 * input, float vs double, the stop-gradient of the targets, bad inputs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sslkit/sslkit.h"
#include "testutil.h"

static sslk_ctx *ctx;

static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    sslk_ctx_set_seed(ctx, 5);
}
static void teardown(void) { sslk_ctx_destroy(ctx); }

static sslk_loss *mk(sslk_loss_kind k) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(ctx, k, &L));
    return L;
}

static double term(sslk_loss *L, size_t i) {
    double v;
    ck_ok(sslk_loss_term_value(L, i, &v));
    return v;
}

static double eval(sslk_loss *L, float *const *views, size_t V, size_t n, size_t d) {
    sslk_loss_batch b = {sizeof b, (const float *const *)views, V, n, d, NULL, NULL};
    double v;
    ck_ok(sslk_loss_compute(L, &b, &v, NULL));
    return v;
}

/* central difference of the loss in element x (double precision path) */
static double fd_at(sslk_loss *L, float *const *views, size_t V, size_t n, size_t d, float *x) {
    float x0 = *x;
    double h = 1e-3 * (fabs((double)x0) > 1 ? fabs((double)x0) : 1.0);
    float xp = (float)(x0 + h), xm = (float)(x0 - h);
    *x = xp;
    double fp = eval(L, views, V, n, d);
    *x = xm;
    double fm = eval(L, views, V, n, d);
    *x = x0;
    return (fp - fm) / ((double)xp - (double)xm);
}

/* ---- Barlow Twins ----------------------------------------------------------- */

/* n = 2, d = 2: every column normalises to +-k, k = 1/sqrt(1 + eps) (biased
 * variance 1), so C = k^2 [[-1, 1], [-1, 1]] and
 * L = (1 + k^2)^2 + (1 - k^2)^2 + lambda 2 k^4. */
START_TEST(barlow_hand_value) {
    const float za[4] = {1, 2, -1, 0}, zb[4] = {0, -5, 2, -7};
    for (int prec = 0; prec < 2; prec++)
        for (int e = 0; e < 2; e++) {
            sslk_loss *L = mk(SSLK_LOSS_BARLOW_TWINS);
            double lam, eps = e ? 0.5 : 1e-5;
            ck_ok(sslk_loss_get_f64(L, SSLK_BARLOW_LAMBDA, &lam));
            ck_close(lam, 0.0051, 0, 0);
            ck_ok(sslk_loss_set_f64(L, SSLK_BARLOW_EPS, eps));
            ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
            double k2 = 1.0 / (1.0 + eps), v;
            ck_ok(sslk_loss_compute_pair(L, za, zb, 2, 2, &v, NULL, NULL));
            double on = (1 + k2) * (1 + k2) + (1 - k2) * (1 - k2), off = 2 * k2 * k2;
            ck_close(term(L, 0), on, prec ? 1e-14 : 1e-6, 0);
            ck_close(term(L, 1), off, prec ? 1e-14 : 1e-6, 0);
            ck_close(v, on + 0.0051 * off, prec ? 1e-14 : 1e-6, 0);
            sslk_loss_destroy(L);
        }
}
END_TEST

/* identical views with orthogonal standardised columns: C = I / (1 + eps) */
START_TEST(barlow_identity) {
    const float z[8] = {1, 1, 1, -1, -1, 1, -1, -1}; /* n = 4, d = 2 */
    sslk_loss *L = mk(SSLK_LOSS_BARLOW_TWINS);
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    double v;
    float ga[8], gb[8];
    ck_ok(sslk_loss_compute_pair(L, z, z, 4, 2, &v, ga, gb));
    double t = 1.0 - 1.0 / (1.0 + 1e-5);
    ck_close(v, 2 * t * t, 1e-9, 0);
    ck_close(term(L, 1), 0.0, 0, 1e-30);
    for (int i = 0; i < 8; i++) ck_close(ga[i], gb[i], 1e-12, 1e-20);
    sslk_loss_destroy(L);
}
END_TEST

/* n x d = 6 x 4 (d x d cross-correlation) or 3 x 7 (n < d: n x n Grams) */
static void barlow_fd(double lam, int small) {
    const int n = small ? 3 : 6, d = small ? 7 : 4;
    float za[24], zb[24], ga[24], gb[24];
    tu_fill_uniform(za, n * d, 3, -1, 1);
    tu_fill_uniform(zb, n * d, 4, -1, 1);
    for (int i = 0; i < n * d; i++) zb[i] = 0.6f * za[i] + 0.4f * zb[i];
    sslk_loss *L = mk(SSLK_LOSS_BARLOW_TWINS);
    ck_ok(sslk_loss_set_f64(L, SSLK_BARLOW_LAMBDA, lam));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    double v;
    ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &v, ga, gb));
    float *views[2] = {za, zb}, *g[2] = {ga, gb};
    double gmax = 0;
    for (int e = 0; e < n * d; e++) gmax = fmax(gmax, fmax(fabs(ga[e]), fabs(gb[e])));
    ck_assert(gmax > 1e-3);
    for (int w = 0; w < 2; w++)
        for (int e = 0; e < n * d; e++) {
            double fd = fd_at(L, views, 2, n, d, &views[w][e]);
            ck_assert_msg(fabs(g[w][e] - fd) <= 1e-5 * gmax + 1e-5 * fabs(fd),
                          "view %d elem %d: analytic %.9g vs FD %.9g", w, e, g[w][e], fd);
        }
    sslk_loss_destroy(L);
}

START_TEST(barlow_fd_default) {
    barlow_fd(0.0051, 0);
    barlow_fd(0.0051, 1);
}
END_TEST
START_TEST(barlow_fd_lambda1) {
    barlow_fd(1.0, 0);
    barlow_fd(1.0, 1);
}
END_TEST

/* 40 x 24: d x d path; 12 x 30: n x n path */
START_TEST(barlow_float_vs_double) {
    const int n = _i ? 12 : 40, d = _i ? 30 : 24;
    float *za = malloc(4 * n * d * sizeof(float)), *zb = za + n * d, *g[4];
    tu_fill_uniform(za, 2 * n * d, 9, -2, 2);
    for (int k = 0; k < 4; k++) g[k] = malloc(n * d * sizeof(float));
    sslk_loss *L = mk(SSLK_LOSS_BARLOW_TWINS);
    double vf, vd;
    ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &vf, g[0], g[1]));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &vd, g[2], g[3]));
    ck_close(vf, vd, 1e-5, 0);
    double gmax = 0, err = 0;
    for (int e = 0; e < 2 * n * d; e++) {
        int w = e / (n * d), i = e % (n * d);
        gmax = fmax(gmax, fabs(g[2 + w][i]));
        err = fmax(err, fabs((double)g[w][i] - g[2 + w][i]));
    }
    ck_assert_msg(err <= 1e-5 * gmax, "float vs double gradient: %g (max %g)", err, gmax);
    /* value only (no gradient) equals the value with gradients */
    double v0;
    ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &v0, NULL, NULL));
    ck_close(v0, vd, 1e-15, 0);
    for (int k = 0; k < 4; k++) free(g[k]);
    free(za);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(barlow_bad_inputs) {
    float za[6] = {1, 2, 3, 4, 5, 6}, zb[6] = {0, 1, 0, 2, 1, 1};
    sslk_loss *L = mk(SSLK_LOSS_BARLOW_TWINS);
    double v;
    ck_status(sslk_loss_compute_pair(L, za, zb, 1, 6, &v, NULL, NULL), SSLK_E_SHAPE); /* n < 2 */
    const float *three[3] = {za, zb, za};
    sslk_loss_batch b = {sizeof b, three, 3, 3, 2, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE);
    const int64_t idx[3] = {0, 1, 2};
    b.num_views = 2;
    b.indices = idx;
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_INVALID_ARG);
    zb[3] = NAN;
    ck_status(sslk_loss_compute_pair(L, za, zb, 3, 2, &v, NULL, NULL), SSLK_E_NONFINITE);
    ck_status(sslk_loss_set_f64(L, SSLK_BARLOW_LAMBDA, -1), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_BARLOW_EPS, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_NEGCOS_FORM, 1), SSLK_E_SETTING); /* another kind's key */
    const char *dom;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_BARLOW_TWINS, &dom));
    ck_assert_str_eq(dom, "barlow_twins");
    sslk_loss_destroy(L);
}
END_TEST

/* ---- negative cosine ------------------------------------------------------- */

/* p = [(1,0), (0,2)], z = [(1,1), (0,-3)]: cos = 1/sqrt2, -1.  dcos/dp = (u_z - u_p cos)/|p|:
 * row 0 (0, 1/(2 sqrt2)) ... times -1/n; row 1 is antiparallel: zero. */
START_TEST(negcos_hand_value) {
    const float p[4] = {1, 0, 0, 2}, z[4] = {1, 1, 0, -3};
    const double c0 = 1 / sqrt(2.0), mc = 0.5 * (c0 - 1.0);
    for (int prec = 0; prec < 2; prec++)
        for (int form = 0; form < 2; form++) {
            sslk_loss *L = mk(SSLK_LOSS_NEGCOS);
            ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
            ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_FORM, form));
            double v, s = form ? 2.0 : 1.0;
            float gp[4], gz[4] = {7, 7, 7, 7};
            ck_ok(sslk_loss_compute_pair(L, p, z, 2, 2, &v, gp, gz));
            ck_close(v, form ? 2.0 - 2.0 * mc : -mc, prec ? 1e-15 : 1e-7, 0);
            ck_close(term(L, 0), mc, prec ? 1e-15 : 1e-7, 0);
            ck_close(gp[0], 0.0, 0, 1e-8);
            ck_close(gp[1], -s * 0.5 * c0, prec ? 1e-7 : 1e-6, 0);
            ck_close(gp[2], 0.0, 0, 1e-8);
            ck_close(gp[3], 0.0, 0, 1e-8);
            for (int i = 0; i < 4; i++) ck_assert(gz[i] == 0.0f); /* stop-gradient */
            sslk_loss_destroy(L);
        }
}
END_TEST

/* gradients of the predictions against central differences; the targets'
 * true derivative (which the loss replaces by 0) equals the prediction
 * gradient with the roles swapped, since cos is symmetric. */
static void negcos_fd(int sym, int form, int red) {
    enum { n = 5, d = 3 };
    const size_t V = sym ? 4 : 2;
    float x[4][n * d], g[4][n * d], gs[4][n * d];
    for (size_t v = 0; v < V; v++) tu_fill_uniform(x[v], n * d, 20 + (unsigned)v, -1, 1);
    sslk_loss *L = mk(SSLK_LOSS_NEGCOS);
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_SYMMETRIC, sym));
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_FORM, form));
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_VIEW_REDUCTION, red));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    float *views[4] = {x[0], x[1], x[2], x[3]}, *grads[4] = {g[0], g[1], g[2], g[3]};
    sslk_loss_batch b = {sizeof b, (const float *const *)views, V, n, d, NULL, NULL};
    ck_ok(sslk_loss_compute(L, &b, NULL, grads));
    /* swapped roles: (z, p) or (z2, z1, p2, p1) -- target of p1 is z2 */
    float *sw[4], *gsw[4] = {gs[0], gs[1], gs[2], gs[3]};
    if (sym) sw[0] = x[3], sw[1] = x[2], sw[2] = x[1], sw[3] = x[0];
    else sw[0] = x[1], sw[1] = x[0];
    sslk_loss_batch bs = {sizeof bs, (const float *const *)sw, V, n, d, NULL, NULL};
    ck_ok(sslk_loss_compute(L, &bs, NULL, gsw));
    double gmax = 0;
    for (size_t e = 0; e < n * d; e++) gmax = fmax(gmax, fabs(g[0][e]));
    ck_assert(gmax > 1e-3);
    for (size_t v = 0; v < V; v++)
        for (size_t e = 0; e < n * d; e++) {
            double fd = fd_at(L, views, V, n, d, &views[v][e]);
            double an;
            if (v < V / 2) an = g[v][e];
            else {
                ck_assert(g[v][e] == 0.0f);
                an = sym ? gs[3 - v][e] : gs[0][e]; /* view v is swapped view V-1-v */
            }
            ck_assert_msg(fabs(an - fd) <= 1e-6 * gmax + 1e-5 * fabs(fd),
                          "sym %d form %d view %zu elem %zu: analytic %.9g vs FD %.9g", sym, form, v, e, an, fd);
        }
    sslk_loss_destroy(L);
}

START_TEST(negcos_fd_asym) {
    negcos_fd(0, 0, 0);
    negcos_fd(0, 1, 0);
}
END_TEST
START_TEST(negcos_fd_sym) {
    negcos_fd(1, 0, 0);
    negcos_fd(1, 1, 1);
}
END_TEST

/* symmetric = the pairs (p1, z2), (p2, z1) of the asymmetric loss, halved (mean) or summed */
START_TEST(negcos_symmetric_composition) {
    enum { n = 7, d = 5 };
    float x[4][n * d];
    for (int v = 0; v < 4; v++) tu_fill_uniform(x[v], n * d, 40 + (unsigned)v, -1, 1);
    sslk_loss *A = mk(SSLK_LOSS_NEGCOS), *S = mk(SSLK_LOSS_NEGCOS);
    double a1, a2, vm, vs;
    ck_ok(sslk_loss_compute_pair(A, x[0], x[3], n, d, &a1, NULL, NULL));
    ck_ok(sslk_loss_compute_pair(A, x[1], x[2], n, d, &a2, NULL, NULL));
    ck_ok(sslk_loss_set_i64(S, SSLK_NEGCOS_SYMMETRIC, 1));
    float *views[4] = {x[0], x[1], x[2], x[3]};
    vm = eval(S, views, 4, n, d);
    ck_close(term(S, 0), -(a1 + a2) / 2, 1e-12, 0);
    ck_ok(sslk_loss_set_i64(S, SSLK_NEGCOS_VIEW_REDUCTION, SSLK_REDUCE_SUM));
    vs = eval(S, views, 4, n, d);
    ck_close(vm, 0.5 * (a1 + a2), 1e-12, 0);
    ck_close(vs, a1 + a2, 1e-12, 0);
    sslk_loss_destroy(A);
    sslk_loss_destroy(S);
}
END_TEST

START_TEST(negcos_float_vs_double) {
    enum { n = 64, d = 32 };
    float *x = malloc(8 * n * d * sizeof(float));
    tu_fill_uniform(x, 4 * n * d, 77, -1, 1);
    float *views[4], *gf[4], *gd[4];
    for (int v = 0; v < 4; v++) {
        views[v] = x + v * n * d;
        gf[v] = x + (4 + v) * n * d;
        gd[v] = malloc(n * d * sizeof(float));
    }
    sslk_loss *L = mk(SSLK_LOSS_NEGCOS);
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_SYMMETRIC, 1));
    sslk_loss_batch b = {sizeof b, (const float *const *)views, 4, n, d, NULL, NULL};
    double vf, vd;
    ck_ok(sslk_loss_compute(L, &b, &vf, gf));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    ck_ok(sslk_loss_compute(L, &b, &vd, gd));
    ck_close(vf, vd, 1e-6, 1e-7);
    double gmax = 0, err = 0;
    for (int v = 0; v < 4; v++)
        for (int e = 0; e < n * d; e++) {
            gmax = fmax(gmax, fabs(gd[v][e]));
            err = fmax(err, fabs((double)gf[v][e] - gd[v][e]));
        }
    ck_assert_msg(err <= 1e-5 * gmax, "float vs double: %g (max %g)", err, gmax);
    for (int v = 0; v < 4; v++) free(gd[v]);
    free(x);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(negcos_bad_inputs) {
    float p[6] = {1, 2, 0, 0, 5, 6}, z[6] = {1, 1, 1, 1, 1, 1};
    sslk_loss *L = mk(SSLK_LOSS_NEGCOS);
    double v;
    ck_status(sslk_loss_compute_pair(L, p, z, 3, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG); /* zero row */
    p[2] = 1;
    ck_ok(sslk_loss_compute_pair(L, p, z, 3, 2, &v, NULL, NULL));
    z[5] = 0, z[4] = 0;
    ck_status(sslk_loss_compute_pair(L, p, z, 3, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG); /* zero target row */
    z[4] = INFINITY;
    ck_status(sslk_loss_compute_pair(L, p, z, 3, 2, &v, NULL, NULL), SSLK_E_NONFINITE);
    z[4] = 1;
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_SYMMETRIC, 1)); /* needs 4 views now */
    ck_status(sslk_loss_compute_pair(L, p, z, 3, 2, &v, NULL, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_set_i64(L, SSLK_NEGCOS_FORM, 2), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_BARLOW_LAMBDA, 1), SSLK_E_SETTING);
    const int64_t idx[3] = {0, 1, 2};
    ck_ok(sslk_loss_set_i64(L, SSLK_NEGCOS_SYMMETRIC, 0));
    ck_status(sslk_loss_compute_indexed(L, p, idx, 3, 2, &v, NULL), SSLK_E_SHAPE);
    sslk_loss_destroy(L);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss_barlow");
    TCase *tc = tcase_create("loss_barlow");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, barlow_hand_value);
    tcase_add_test(tc, barlow_identity);
    tcase_add_test(tc, barlow_fd_default);
    tcase_add_test(tc, barlow_fd_lambda1);
    tcase_add_loop_test(tc, barlow_float_vs_double, 0, 2);
    tcase_add_test(tc, barlow_bad_inputs);
    tcase_add_test(tc, negcos_hand_value);
    tcase_add_test(tc, negcos_fd_asym);
    tcase_add_test(tc, negcos_fd_sym);
    tcase_add_test(tc, negcos_symmetric_composition);
    tcase_add_test(tc, negcos_float_vs_double);
    tcase_add_test(tc, negcos_bad_inputs);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
