/* Losses: the design note's test vectors (TV-VIC, TV-NCE, TV-MSN, TV-PMSN,
 * TV-DIET, TV-ENT), central finite-difference gradient checks in double for
 * every kind and setting combination, float vs double paths, bad inputs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loss/loss_internal.h"
#include "testutil.h"

static sslk_ctx *ctx;

static void setup(void) {
    ck_ok(sslk_ctx_create(&ctx));
    sslk_ctx_set_seed(ctx, 7);
}
static void teardown(void) { sslk_ctx_destroy(ctx); }

static sslk_loss *mk(sslk_loss_kind k) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(ctx, k, &L));
    return L;
}

static double term(sslk_loss *L, const char *name) {
    size_t n;
    ck_ok(sslk_loss_num_terms(L, &n));
    for (size_t i = 0; i < n; i++) {
        const char *nm;
        double v;
        ck_ok(sslk_loss_term_name(L, i, &nm));
        if (strcmp(nm, name) == 0) {
            ck_ok(sslk_loss_term_value(L, i, &v));
            return v;
        }
    }
    ck_abort_msg("no term %s", name);
    return NAN;
}

/* ---- finite differences ------------------------------------------------------ */

typedef struct {
    sslk_loss *L;
    float *views[8];
    size_t V, n, d;
    int64_t *idx;
    float *targets;
} prob;

static double eval(prob *p) {
    sslk_loss_batch b = {sizeof b, (const float *const *)p->views, p->V, p->n, p->d, p->idx, p->targets};
    double v;
    ck_ok(sslk_loss_compute(p->L, &b, &v, NULL));
    return v;
}

static double fd_at(prob *p, float *x) {
    float x0 = *x;
    double h = 1e-4 * (fabs((double)x0) > 1 ? fabs((double)x0) : 1.0);
    float xp = (float)(x0 + h), xm = (float)(x0 - h);
    *x = xp;
    double fp = eval(p);
    *x = xm;
    double fm = eval(p);
    *x = x0;
    return (fp - fm) / ((double)xp - (double)xm);
}

/* Every input gradient against central differences (precision forced to double). */
static void fd_inputs(prob *p, double rtol) {
    ck_ok(sslk_loss_set_i64(p->L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    size_t nd = p->n * p->d;
    float *g[8];
    for (size_t v = 0; v < p->V; v++) g[v] = malloc(nd * sizeof(float));
    sslk_loss_batch b = {sizeof b, (const float *const *)p->views, p->V, p->n, p->d, p->idx, p->targets};
    ck_ok(sslk_loss_compute(p->L, &b, NULL, g));
    double gmax = 0;
    for (size_t v = 0; v < p->V; v++)
        for (size_t e = 0; e < nd; e++) gmax = fmax(gmax, fabs(g[v][e]));
    ck_assert_msg(gmax > 0, "all-zero gradient");
    for (size_t v = 0; v < p->V; v++)
        for (size_t e = 0; e < nd; e++) {
            double fd = fd_at(p, &p->views[v][e]);
            ck_assert_msg(fabs(g[v][e] - fd) <= rtol * (gmax + fabs(fd)),
                          "view %zu elem %zu: analytic %.9g vs FD %.9g (gmax %.3g)", v, e, g[v][e], fd, gmax);
        }
    for (size_t v = 0; v < p->V; v++) free(g[v]);
}

/* The owned parameter's accumulated gradient against central differences. */
static void fd_param(prob *p, double rtol) {
    ck_ok(sslk_loss_set_i64(p->L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    sslk_param_view pv = {.struct_size = sizeof pv};
    ck_ok(sslk_loss_param(p->L, 0, &pv));
    ck_ok(sslk_loss_zero_grad(p->L));
    float *g[8];
    for (size_t v = 0; v < p->V; v++) g[v] = malloc(p->n * p->d * sizeof(float));
    sslk_loss_batch b = {sizeof b, (const float *const *)p->views, p->V, p->n, p->d, p->idx, p->targets};
    ck_ok(sslk_loss_compute(p->L, &b, NULL, g));
    /* accumulation: a second call doubles the gradient */
    float *g1 = malloc(pv.count * sizeof(float));
    memcpy(g1, pv.grad, pv.count * sizeof(float));
    ck_ok(sslk_loss_compute(p->L, &b, NULL, g));
    for (size_t e = 0; e < pv.count; e++) ck_close(pv.grad[e], 2.0 * g1[e], 1e-6, 1e-12);
    double gmax = 0;
    for (size_t e = 0; e < pv.count; e++) gmax = fmax(gmax, fabs(g1[e]));
    ck_assert(gmax > 0);
    for (size_t e = 0; e < pv.count; e++) {
        double fd = fd_at(p, &pv.data[e]);
        ck_assert_msg(fabs(g1[e] - fd) <= rtol * (gmax + fabs(fd)), "param elem %zu: analytic %.9g vs FD %.9g",
                      e, g1[e], fd);
    }
    free(g1);
    for (size_t v = 0; v < p->V; v++) free(g[v]);
}

static float *rnd(size_t cnt, unsigned seed) {
    float *x = malloc(cnt * sizeof(float));
    double *t = malloc(cnt * sizeof(double));
    tu_fill_normal_d(t, cnt, seed);
    for (size_t i = 0; i < cnt; i++) x[i] = (float)t[i];
    free(t);
    return x;
}

static void prob_free(prob *p) {
    for (size_t v = 0; v < p->V; v++) free(p->views[v]);
    free(p->idx);
    free(p->targets);
    sslk_loss_destroy(p->L);
}

/* ---- VICReg ------------------------------------------------------------------ */

static const float VZ[] = {1, 0, 0, 2, -1, 1, 2, -1}, VZP[] = {0.5f, 0.5f, 0, 1, -1, 0, 1, -1};

START_TEST(vicreg_tv4_values_and_gradients) {
    static const double gz[] = {3.569444, -3.569444, -1.333333, 6.694444, -0.444444, 7.583333, 7.583333, -1.333333};
    static const double gzp[] = {-4.107552, 2.142448, 0.146962, -8.362066, 2.767100, -5.741927, -8.181510, 2.586545};
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(SSLK_LOSS_VICREG);
        ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
        float ga[8], gb[8];
        double v;
        ck_ok(sslk_loss_compute_pair(L, VZ, VZP, 4, 2, &v, ga, gb));
        ck_close(v, 14.6139895, 1e-7, 0);
        ck_close(term(L, "invariance"), 0.4375, 1e-12, 0);
        ck_close(term(L, "variance"), 0.5 * 0.1460289, 1e-6, 0);
        ck_close(term(L, "covariance"), 1.7777778 + 0.0733507, 0, 2e-7 + 1e-6 * (prec == 0));
        for (int i = 0; i < 8; i++) {
            ck_close(ga[i], gz[i], 0, 2e-6);
            ck_close(gb[i], gzp[i], 0, 2e-6);
        }
        ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_VAR_BRANCH_REDUCTION, SSLK_REDUCE_SUM));
        ck_ok(sslk_loss_compute_pair(L, VZ, VZP, 4, 2, &v, NULL, NULL));
        ck_close(v, 16.4393506, 1e-7, 0);
        sslk_loss_destroy(L);
    }
}
END_TEST

START_TEST(vicreg_tv1_tv2_tv3) {
    sslk_loss *L = mk(SSLK_LOSS_VICREG);
    double v;
    /* TV-VIC-1: identical views, s = 0, v = 0, c(Z) + c(Z') = 20.0555556 */
    const float z1[] = {1, 2, 3, 5, 0, 1};
    ck_ok(sslk_loss_compute_pair(L, z1, z1, 3, 2, &v, NULL, NULL));
    ck_assert(term(L, "invariance") == 0.0);
    ck_close(term(L, "variance"), 0, 0, 1e-15);
    ck_close(term(L, "covariance"), 20.0555556, 1e-6, 0);
    ck_close(v, 20.0555556, 1e-6, 0);
    /* TV-VIC-2: collapse; 24.75 official, 49.5 summed; all gradients exactly 0 */
    float zc[12], ga[12], gb[12];
    for (int i = 0; i < 4; i++) zc[3 * i] = 0.3f, zc[3 * i + 1] = -0.7f, zc[3 * i + 2] = 1.1f;
    ck_ok(sslk_loss_compute_pair(L, zc, zc, 4, 3, &v, ga, gb));
    ck_close(v, 24.75, 1e-12, 0);
    for (int i = 0; i < 12; i++) ck_assert(ga[i] == 0.0f && gb[i] == 0.0f);
    ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_VAR_BRANCH_REDUCTION, SSLK_REDUCE_SUM));
    ck_ok(sslk_loss_compute_pair(L, zc, zc, 4, 3, &v, NULL, NULL));
    ck_close(v, 49.5, 1e-12, 0);
    /* TV-VIC-3: pure covariance, both conventions 2.0 */
    const float z3[] = {1, 1, 0, 0, -1, -1};
    ck_ok(sslk_loss_compute_pair(L, z3, z3, 3, 2, &v, NULL, NULL));
    ck_close(v, 2.0, 1e-9, 0);
    ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_VAR_BRANCH_REDUCTION, SSLK_REDUCE_MEAN));
    ck_ok(sslk_loss_compute_pair(L, z3, z3, 3, 2, &v, NULL, NULL));
    ck_close(v, 2.0, 1e-9, 0);
    sslk_loss_destroy(L);
}
END_TEST

/* Both Gram forms (n < d and n >= d), both reductions, non-default coefficients. */
START_TEST(vicreg_fd_all_settings) {
    const size_t shapes[][2] = {{5, 3}, {3, 6}, {6, 6}};
    for (int s = 0; s < 3; s++)
        for (int red = 0; red < 2; red++) {
            prob p = {mk(SSLK_LOSS_VICREG), {0}, 2, shapes[s][0], shapes[s][1], NULL, NULL};
            p.views[0] = rnd(p.n * p.d, 11 + s);
            p.views[1] = rnd(p.n * p.d, 21 + s);
            for (size_t e = 0; e < p.n * p.d; e++) p.views[1][e] = 0.6f * p.views[1][e]; /* some hinges active */
            ck_ok(sslk_loss_set_i64(p.L, SSLK_VICREG_VAR_BRANCH_REDUCTION, red));
            ck_ok(sslk_loss_set_f64(p.L, SSLK_VICREG_COV_COEFF, 2.5));
            ck_ok(sslk_loss_set_f64(p.L, SSLK_VICREG_GAMMA, 1.2));
            fd_inputs(&p, 2e-6);
            prob_free(&p);
        }
}
END_TEST

/* ---- entropy-estimator VICReg ---------------------------------------------------- */

START_TEST(entropy_test_vectors) {
    double v;
    /* TV-ENT-2: LogDet beta = 1, Chat = [[1,1],[1,1]] -> 1/2 log 3 per view (d x d and n x n forms) */
    sslk_loss *L = mk(SSLK_LOSS_VICREG_LOGDET);
    ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_LOGDET_PER_DIM, 0));
    const float z3[] = {1, 1, 0, 0, -1, -1};
    ck_ok(sslk_loss_compute_pair(L, z3, z3, 3, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), log(3.0), 1e-7, 0);
    ck_close(v, -25 * log(3.0), 1e-7, 0);
    const float z4[] = {1, 1, 0, 0, 0, 0, 0, 0, -1, -1, 0, 0};
    ck_ok(sslk_loss_compute_pair(L, z4, z4, 3, 4, &v, NULL, NULL));
    ck_close(term(L, "entropy"), log(3.0), 1e-7, 0);
    const float zero[6] = {0};
    ck_ok(sslk_loss_compute_pair(L, zero, zero, 3, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), 0, 0, 1e-15);
    sslk_loss_destroy(L);
    /* TV-ENT-1: pairwise KL, sigma^2 = 1: equal points -> 0; two points at distance 2 -> 0.5662192 */
    L = mk(SSLK_LOSS_VICREG_PAIRDIST);
    ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_PAIRDIST_SIGMA2_PER_DIM, 0));
    const float same[] = {0.5f, -1, 0.5f, -1, 0.5f, -1};
    ck_ok(sslk_loss_compute_pair(L, same, same, 3, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), 0, 0, 1e-12);
    const float two[] = {0, 0, 2, 0};
    ck_ok(sslk_loss_compute_pair(L, two, two, 2, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), 2 * 0.5662192, 1e-6, 0);
    /* far apart -> log n per view; Bhattacharyya is below KL */
    const float far[] = {0, 0, 100, 0, 0, 100};
    ck_ok(sslk_loss_compute_pair(L, far, far, 3, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), 2 * log(3.0), 1e-9, 0);
    ck_ok(sslk_loss_compute_pair(L, two, two, 2, 2, &v, NULL, NULL));
    double kl = term(L, "entropy");
    ck_ok(sslk_loss_set_i64(L, SSLK_VICREG_PAIRDIST_ESTIMATOR, SSLK_PAIRDIST_BHATTACHARYYA));
    ck_ok(sslk_loss_compute_pair(L, two, two, 2, 2, &v, NULL, NULL));
    ck_close(term(L, "entropy"), 2 * -log((1 + exp(-0.5)) / 2), 1e-6, 0);
    ck_assert(term(L, "entropy") < kl);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(logdet_fd_all_settings) {
    const size_t shapes[][2] = {{6, 3}, {3, 5}};
    for (int s = 0; s < 2; s++)
        for (int centered = 0; centered < 2; centered++)
            for (int per_dim = 0; per_dim < 2; per_dim++) {
                prob p = {mk(SSLK_LOSS_VICREG_LOGDET), {0}, 2, shapes[s][0], shapes[s][1], NULL, NULL};
                p.views[0] = rnd(p.n * p.d, 31 + s);
                p.views[1] = rnd(p.n * p.d, 41 + s);
                ck_ok(sslk_loss_set_i64(p.L, SSLK_VICREG_LOGDET_CENTERED, centered));
                ck_ok(sslk_loss_set_i64(p.L, SSLK_VICREG_LOGDET_PER_DIM, per_dim));
                ck_ok(sslk_loss_set_f64(p.L, SSLK_VICREG_LOGDET_BETA, 0.7));
                fd_inputs(&p, 2e-6);
                prob_free(&p);
            }
}
END_TEST

START_TEST(pairdist_fd_all_settings) {
    for (int est = 0; est < 2; est++)
        for (int per_dim = 0; per_dim < 2; per_dim++) {
            prob p = {mk(SSLK_LOSS_VICREG_PAIRDIST), {0}, 2, 5, 3, NULL, NULL};
            p.views[0] = rnd(p.n * p.d, 51 + est);
            p.views[1] = rnd(p.n * p.d, 61 + per_dim);
            ck_ok(sslk_loss_set_i64(p.L, SSLK_VICREG_PAIRDIST_ESTIMATOR, est));
            ck_ok(sslk_loss_set_i64(p.L, SSLK_VICREG_PAIRDIST_SIGMA2_PER_DIM, per_dim));
            ck_ok(sslk_loss_set_f64(p.L, SSLK_VICREG_PAIRDIST_SIGMA2, 0.8));
            fd_inputs(&p, 2e-6);
            prob_free(&p);
        }
}
END_TEST

/* ---- InfoNCE ----------------------------------------------------------------- */

START_TEST(infonce_test_vectors) {
    sslk_loss *L = mk(SSLK_LOSS_INFONCE);
    double v;
    for (int prec = 0; prec < 2; prec++) {
        ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
        const float e1[] = {1, 0, 0, 1};
        ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.5));
        ck_ok(sslk_loss_compute_pair(L, e1, e1, 2, 2, &v, NULL, NULL));
        ck_close(v, 0.2395448, 1e-6, 0);
        ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.1));
        ck_ok(sslk_loss_compute_pair(L, e1, e1, 2, 2, &v, NULL, NULL));
        ck_close(v, 9.0796e-05, 1e-4, 0);
        /* TV-NCE-2: collapse, N = 4 -> log 7 for any tau and norm */
        float c1[8], c2[8];
        for (int i = 0; i < 4; i++) c1[2 * i] = 0.6f * (float)(i + 1), c1[2 * i + 1] = 0.8f * (float)(i + 1);
        for (int i = 0; i < 4; i++) c2[2 * i] = 3, c2[2 * i + 1] = 4;
        for (double t = 0.05; t < 2; t *= 4) {
            ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, t));
            ck_ok(sslk_loss_compute_pair(L, c1, c2, 4, 2, &v, NULL, NULL));
            ck_close(v, log(7.0), 1e-6, 0);
        }
        /* TV-NCE-3 */
        const float a[] = {1, 0, 0, 1, 1, 1}, b[] = {1, 0.2f, -0.1f, 1, 0.5f, 1};
        ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.5));
        ck_ok(sslk_loss_compute_pair(L, a, b, 3, 2, &v, NULL, NULL));
        ck_close(v, 1.0334727, 1e-6, 0);
        ck_close(term(L, "positive") + term(L, "logsumexp"), 1.0334727, 1e-6, 0);
        ck_ok(sslk_loss_set_i64(L, SSLK_INFONCE_VIEW_REDUCTION, SSLK_REDUCE_SUM));
        ck_ok(sslk_loss_compute_pair(L, a, b, 3, 2, &v, NULL, NULL));
        ck_close(v, 2 * 1.0334727, 1e-6, 0);
        ck_ok(sslk_loss_set_i64(L, SSLK_INFONCE_VIEW_REDUCTION, SSLK_REDUCE_MEAN));
        ck_ok(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.1));
        ck_ok(sslk_loss_compute_pair(L, a, b, 3, 2, &v, NULL, NULL));
        ck_close(v, 0.3297943, 1e-6, 0);
        /* the same batch as one view with sample ids */
        float st[12];
        memcpy(st, a, sizeof a);
        memcpy(st + 6, b, sizeof b);
        const int64_t ids[] = {0, 1, 2, 0, 1, 2};
        ck_ok(sslk_loss_compute_indexed(L, st, ids, 6, 2, &v, NULL));
        ck_close(v, 0.3297943, 1e-6, 0);
        /* TV-NCE-3 symmetric cross-view only */
        sslk_loss *S = mk(SSLK_LOSS_INFONCE_SYMMETRIC);
        ck_ok(sslk_loss_set_i64(S, SSLK_LOSS_PRECISION, prec));
        ck_ok(sslk_loss_set_f64(S, SSLK_INFONCE_TEMPERATURE, 0.5));
        ck_ok(sslk_loss_compute_pair(S, a, b, 3, 2, &v, NULL, NULL));
        ck_close(v, 0.6463725, 1e-6, 0);
        sslk_loss_destroy(S);
    }
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(infonce_scale_invariance) {
    sslk_loss *L = mk(SSLK_LOSS_INFONCE);
    float *a = rnd(24, 3), *b = rnd(24, 4);
    double v0, v1;
    ck_ok(sslk_loss_compute_pair(L, a, b, 6, 4, &v0, NULL, NULL));
    for (int j = 0; j < 4; j++) a[8 + j] *= 7.5f, b[4 + j] *= 0.01f;
    ck_ok(sslk_loss_compute_pair(L, a, b, 6, 4, &v1, NULL, NULL));
    ck_close(v1, v0, 1e-5, 0);
    free(a);
    free(b);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(infonce_fd_all_settings) {
    for (int V = 2; V <= 3; V++)
        for (int red = 0; red < 2; red++) {
            prob p = {mk(SSLK_LOSS_INFONCE), {0}, (size_t)V, 4, 3, NULL, NULL};
            for (int v = 0; v < V; v++) p.views[v] = rnd(p.n * p.d, 71 + 10 * v + red);
            ck_ok(sslk_loss_set_i64(p.L, SSLK_INFONCE_VIEW_REDUCTION, red));
            ck_ok(sslk_loss_set_f64(p.L, SSLK_INFONCE_TEMPERATURE, V == 2 ? 0.5 : 0.2));
            fd_inputs(&p, 2e-6);
            prob_free(&p);
        }
    /* small temperatures: 2/tau above and below the float fast-path limit (80) */
    for (int t = 0; t < 2; t++) {
        prob q = {mk(SSLK_LOSS_INFONCE), {0}, 2, 4, 3, NULL, NULL};
        q.views[0] = rnd(12, 81 + t);
        q.views[1] = rnd(12, 83 + t);
        ck_ok(sslk_loss_set_f64(q.L, SSLK_INFONCE_TEMPERATURE, t ? 0.02 : 0.03));
        fd_inputs(&q, 2e-6);
        /* the float path agrees with the double one */
        float ga[12], gb[12], da[12], db[12];
        double vf, vd;
        ck_ok(sslk_loss_set_i64(q.L, SSLK_LOSS_PRECISION, SSLK_PRECISION_FLOAT));
        ck_ok(sslk_loss_compute_pair(q.L, q.views[0], q.views[1], 4, 3, &vf, ga, gb));
        ck_ok(sslk_loss_set_i64(q.L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
        ck_ok(sslk_loss_compute_pair(q.L, q.views[0], q.views[1], 4, 3, &vd, da, db));
        ck_close(vf, vd, 1e-5, 1e-6);
        for (int e = 0; e < 12; e++) {
            ck_close(ga[e], da[e], 1e-3, 1e-3);
            ck_close(gb[e], db[e], 1e-3, 1e-3);
        }
        prob_free(&q);
    }
    /* indexed form with uneven groups: ids {5: 3 rows, 9: 2 rows, 2: 2 rows} */
    prob p = {mk(SSLK_LOSS_INFONCE), {0}, 1, 7, 3, NULL, NULL};
    p.views[0] = rnd(21, 91);
    p.idx = malloc(7 * sizeof(int64_t));
    const int64_t ids[] = {5, 9, 5, 2, 9, 5, 2};
    memcpy(p.idx, ids, sizeof ids);
    ck_ok(sslk_loss_set_f64(p.L, SSLK_INFONCE_TEMPERATURE, 0.3));
    ck_ok(sslk_loss_set_i64(p.L, SSLK_INFONCE_VIEW_REDUCTION, SSLK_REDUCE_SUM));
    fd_inputs(&p, 2e-6);
    prob_free(&p);
    /* symmetric kind */
    for (int red = 0; red < 2; red++) {
        prob q = {mk(SSLK_LOSS_INFONCE_SYMMETRIC), {0}, 2, 5, 3, NULL, NULL};
        q.views[0] = rnd(15, 101 + red);
        q.views[1] = rnd(15, 111 + red);
        ck_ok(sslk_loss_set_i64(q.L, SSLK_INFONCE_VIEW_REDUCTION, red));
        ck_ok(sslk_loss_set_f64(q.L, SSLK_INFONCE_TEMPERATURE, 0.4));
        fd_inputs(&q, 2e-6);
        prob_free(&q);
    }
}
END_TEST

/* ---- DIET ---------------------------------------------------------------------- */

static void diet_case(const float *wcol, int64_t target, double ce, const double *dw) {
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(SSLK_LOSS_DIET);
        ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 4));
        ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, 1));
        ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
        sslk_param_view pv = {.struct_size = sizeof pv};
        ck_ok(sslk_loss_param(L, 0, &pv));
        ck_assert_str_eq(pv.name, "head.weight");
        ck_assert(pv.ndim == 2 && pv.shape[0] == 4 && pv.shape[1] == 1);
        memcpy(pv.data, wcol, 4 * sizeof(float));
        const float h = 1;
        float gh;
        double v;
        ck_ok(sslk_loss_compute_indexed(L, &h, &target, 1, 1, &v, &gh));
        ck_close(v, ce, 1e-6, 0);
        double dh = 0;
        for (int k = 0; k < 4; k++) {
            ck_close(pv.grad[k], dw[k], 0, 1e-6); /* dL/dl = P - Q since h = 1 */
            dh += dw[k] * wcol[k];
        }
        ck_close(gh, dh, 0, 1e-6);
        sslk_loss_destroy(L);
    }
}

START_TEST(diet_test_vectors) {
    const float w1[] = {0, 0, 0, 0}, w2[] = {(float)log(3.0), 0, 0, 0}, w3[] = {(float)log(2.0), 0, 0, 0};
    const double g1[] = {0.05, 0.05, -0.15, 0.05}, g2[] = {0.1, -1.0 / 30, -1.0 / 30, -1.0 / 30}, g3[] = {0, 0, 0, 0};
    diet_case(w1, 2, log(4.0), g1);
    diet_case(w2, 0, 1.3523146, g2);
    diet_case(w3, 0, 1.3321790, g3);
}
END_TEST

START_TEST(diet_fd_all_settings) {
    /* cached (one chunk) and chunked (4 chunks of 3) paths, 1 and 2 views, two smoothings */
    for (int chunked = 0; chunked < 2; chunked++)
        for (int V = 1; V <= 2; V++) {
            prob p = {mk(SSLK_LOSS_DIET), {0}, (size_t)V, 4, 3, NULL, NULL};
            ck_ok(sslk_loss_set_i64(p.L, SSLK_DIET_NUM_SAMPLES, 10));
            ck_ok(sslk_loss_set_i64(p.L, SSLK_DIET_DIM, 3));
            ck_ok(sslk_loss_set_f64(p.L, SSLK_DIET_LABEL_SMOOTHING, V == 1 ? 0.8 : 0.0));
            if (chunked) {
                ck_ok(sslk_loss_set_f64(p.L, SSLK_DIET_LOGIT_CACHE_MB, 0));
                ck_ok(sslk_loss_set_i64(p.L, SSLK_DIET_CHUNK, 3));
            }
            for (int v = 0; v < V; v++) p.views[v] = rnd(12, 121 + v + 3 * chunked);
            p.idx = malloc(4 * sizeof(int64_t));
            const int64_t ids[] = {9, 0, 4, 9};
            memcpy(p.idx, ids, sizeof ids);
            /* scale the head so the softmax is not flat */
            sslk_param_view pv = {.struct_size = sizeof pv};
            ck_ok(sslk_loss_param(p.L, 0, &pv));
            for (size_t e = 0; e < pv.count; e++) pv.data[e] *= 3;
            fd_inputs(&p, 2e-6);
            fd_param(&p, 2e-6);
            prob_free(&p);
        }
}
END_TEST

START_TEST(diet_chunked_matches_cached) {
    const size_t B = 6, K = 5, N = 37;
    float *h = rnd(B * K, 7);
    int64_t idx[6] = {0, 36, 12, 5, 12, 30};
    float g1[30], g2[30];
    double v1, v2;
    sslk_loss *A = mk(SSLK_LOSS_DIET), *C = mk(SSLK_LOSS_DIET);
    sslk_loss *Ls[2] = {A, C};
    for (int i = 0; i < 2; i++) {
        ck_ok(sslk_loss_set_i64(Ls[i], SSLK_DIET_NUM_SAMPLES, (int64_t)N));
        ck_ok(sslk_loss_set_i64(Ls[i], SSLK_DIET_DIM, (int64_t)K));
    }
    ck_ok(sslk_loss_set_f64(C, SSLK_DIET_LOGIT_CACHE_MB, 0));
    ck_ok(sslk_loss_set_i64(C, SSLK_DIET_CHUNK, 8));
    ck_ok(sslk_loss_compute_indexed(A, h, idx, B, K, &v1, g1));
    ck_ok(sslk_loss_compute_indexed(C, h, idx, B, K, &v2, g2));
    ck_close(v2, v1, 1e-6, 0);
    for (int i = 0; i < 30; i++) ck_close(g2[i], g1[i], 1e-4, 1e-7);
    sslk_param_view pa = {.struct_size = sizeof pa}, pc = {.struct_size = sizeof pc};
    ck_ok(sslk_loss_param(A, 0, &pa));
    ck_ok(sslk_loss_param(C, 0, &pc));
    for (size_t e = 0; e < pa.count; e++) {
        ck_assert(pa.data[e] == pc.data[e]); /* same seed, same init */
        ck_close(pc.grad[e], pa.grad[e], 1e-4, 1e-7);
        ck_assert(fabs(pa.data[e]) <= 1 / sqrt(5.0));
    }
    ck_close(term(A, "cross_entropy"), v1, 1e-12, 0);
    free(h);
    sslk_loss_destroy(A);
    sslk_loss_destroy(C);
}
END_TEST

/* ---- MSN ----------------------------------------------------------------------- */

START_TEST(msn_helpers) {
    double pi[4];
    ssli_msn_power_law(4, 0.25, pi);
    const double want[] = {0.302312, 0.254213, 0.229708, 0.213767};
    for (int k = 0; k < 4; k++) ck_close(pi[k], want[k], 0, 1e-6);
    double T[] = {0.9, 0.1, 0.8, 0.2}, cs[2];
    ssli_msn_sinkhorn(T, 2, 2, 3, cs, 2);
    const double ws[] = {0.600022, 0.399978, 0.400022, 0.599978};
    for (int k = 0; k < 4; k++) ck_close(T[k], ws[k], 0, 1e-6);
}
END_TEST

/* issue 20: float exps of double exponents (rowkern.c), 2 vector blocks + a tail:
 * ~2 ulp down to -80, float denormals (not the float exp's e^-87 clamp) to -150,
 * 0 below and for -inf. */
START_TEST(double_exponent_exp_kernels) {
    const double x[21] = {0.0,    -0.5,   -1e-9,  -37.123456789, -49.99, -79.9,  -80.1,
                          -86.9,  -87.5,  -95.3,  -103.0,        -120.0, -149.0, -151.0,
                          -1e300, -3.25,  -64.0,  -79.999,       -80.0,  -12.5,  -INFINITY};
    double y[21], s = 0;
    double sum = ssli_row_expsumd_f(x, y, 21, 0.0);
    for (int k = 0; k < 21; k++) {
        double e = exp(x[k]);
        if (x[k] < -150.0)
            ck_assert_msg(y[k] == 0.0, "exp(%g) = %g, want 0", x[k], y[k]);
        else
            ck_assert_msg(fabs(y[k] - e) <= 3e-7 * e + 1.5e-45, "exp(%g) = %.9g, want %.9g", x[k], y[k], e);
        s += y[k];
    }
    ck_close(sum, s, 1e-15, 0);
    ck_close(ssli_row_expsumd_f(x, NULL, 21, 0.0), s, 1e-15, 0);
    /* c (exp(x - la) + exp(x - lb[k])) for a logit row near 50 (tau 0.02) */
    double r[21], lb[21];
    float g[21];
    for (int k = 0; k < 21; k++) {
        r[k] = 50.0 - 4.75 * k;
        lb[k] = 49.5 + 0.125 * k;
    }
    ssli_row_softmax2_dx(r, g, 21, 50.25, lb, 0.125f);
    for (int k = 0; k < 21; k++) {
        double e = 0.125 * (exp(r[k] - 50.25) + exp(r[k] - lb[k]));
        ck_assert_msg(fabs(g[k] - e) <= 4e-7 * e + 1.5e-45, "k %d: %.9g, want %.9g", k, (double)g[k], e);
    }
}
END_TEST

/* Prototypes with cosines s_k to anchor e_0 (d = K + 1). */
static void set_protos(sslk_loss *L, const double *s, size_t K) {
    sslk_param_view pv = {.struct_size = sizeof pv};
    ck_ok(sslk_loss_param(L, 0, &pv));
    size_t d = K + 1;
    memset(pv.data, 0, K * d * sizeof(float));
    for (size_t k = 0; k < K; k++) {
        pv.data[k * d] = (float)s[k];
        pv.data[k * d + 1 + k] = (float)sqrt(1 - s[k] * s[k]);
    }
}

static sslk_loss *msn_small(size_t K, int prec) {
    sslk_loss *L = mk(SSLK_LOSS_MSN);
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, (int64_t)K));
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, (int64_t)K + 1));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
    return L;
}

START_TEST(msn_test_vectors) {
    for (int prec = 0; prec < 2; prec++) {
        /* TV-MSN-2: CE = 0.4588466 */
        sslk_loss *L = msn_small(4, prec);
        const double s[] = {0.2, 0.1, 0.0, -0.1};
        set_protos(L, s, 4);
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_SINKHORN_ITERATIONS, 0));
        const float a[5] = {1, 0, 0, 0, 0};
        double v;
        ck_ok(sslk_loss_compute_targets(L, a, 1, a, 1, 5, &v, NULL));
        ck_close(term(L, "cross_entropy"), 0.4588466, 1e-6, 0);
        /* pbar = P = (0.643914, ...): KL to uniform */
        const double P[] = {0.643914, 0.236883, 0.087144, 0.032059};
        double kl = log(4.0);
        for (int k = 0; k < 4; k++) kl += P[k] * log(P[k]);
        ck_close(term(L, "prior_kl"), kl, 1e-5, 0);
        ck_close(v, 0.4588466 + kl, 1e-5, 0);
        /* TV-MSN-1: uniform predictions -> CE = log K, R = 0 */
        const double z4[] = {0, 0, 0, 0};
        set_protos(L, z4, 4);
        ck_ok(sslk_loss_compute_targets(L, a, 1, a, 1, 5, &v, NULL));
        ck_close(term(L, "cross_entropy"), log(4.0), 1e-6, 0);
        ck_close(term(L, "prior_kl"), 0, 0, 1e-7);
        ck_close(term(L, "entropy"), log(4.0), 1e-6, 0);
        /* PMSN: pbar uniform vs power-law prior, both directions */
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_POWER_LAW));
        ck_ok(sslk_loss_compute_targets(L, a, 1, a, 1, 5, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.0086291, 1e-4, 0);
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_KL_DIRECTION, SSLK_KL_REVERSE));
        ck_ok(sslk_loss_compute_targets(L, a, 1, a, 1, 5, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.0087716, 1e-4, 0);
        sslk_loss_destroy(L);

        /* one-hot predictions (tau tiny): 10 anchors with pbar = (0.4, 0.3, 0.2, 0.1) */
        L = mk(SSLK_LOSS_MSN);
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, 4));
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, 4));
        ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
        ck_ok(sslk_loss_set_f64(L, SSLK_MSN_TEMPERATURE, 1e-3));
        sslk_param_view pv = {.struct_size = sizeof pv};
        ck_ok(sslk_loss_param(L, 0, &pv));
        memset(pv.data, 0, 16 * sizeof(float));
        for (int k = 0; k < 4; k++) pv.data[k * 4 + k] = 1;
        float an[40] = {0};
        const int cls[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 3};
        for (int i = 0; i < 10; i++) an[i * 4 + cls[i]] = 1;
        ck_ok(sslk_loss_compute_targets(L, an, 1, an, 10, 4, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.1064401, 1e-6, 0);
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_POWER_LAW));
        ck_ok(sslk_loss_compute_targets(L, an, 1, an, 10, 4, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.0580149, 1e-5, 0);
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_KL_DIRECTION, SSLK_KL_REVERSE));
        ck_ok(sslk_loss_compute_targets(L, an, 1, an, 10, 4, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.0674657, 1e-5, 0);
        /* a user prior equal to the power law gives the same value */
        float pl[4];
        double pid[4];
        ssli_msn_power_law(4, 0.25, pid);
        for (int k = 0; k < 4; k++) pl[k] = (float)pid[k];
        ck_ok(sslk_loss_set_prior(L, pl, 4));
        ck_ok(sslk_loss_compute_targets(L, an, 1, an, 10, 4, &v, NULL));
        ck_close(term(L, "prior_kl"), 0.0674657, 1e-5, 0);
        /* all anchors on one prototype -> R = log 4 */
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_UNIFORM));
        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_KL_DIRECTION, SSLK_KL_FORWARD));
        for (int i = 0; i < 10; i++) memcpy(an + 4 * i, an, 4 * sizeof(float));
        ck_ok(sslk_loss_compute_targets(L, an, 1, an, 10, 4, &v, NULL));
        ck_close(term(L, "prior_kl"), log(4.0), 1e-6, 0);
        sslk_loss_destroy(L);
    }
}
END_TEST

START_TEST(msn_fd_all_settings) {
    /* prior x direction x Sinkhorn x entropy weight, 1 and 3 anchor views */
    for (int prior = 0; prior < 3; prior++)
        for (int rev = 0; rev < 2; rev++)
            for (int sk = 0; sk < 2; sk++) {
                size_t V = (size_t)(1 + 2 * ((prior + rev + sk) % 2));
                prob p = {mk(SSLK_LOSS_MSN), {0}, V, 4, 3, NULL, NULL};
                ck_ok(sslk_loss_set_i64(p.L, SSLK_MSN_NUM_PROTOTYPES, 5));
                ck_ok(sslk_loss_set_i64(p.L, SSLK_MSN_DIM, 3));
                ck_ok(sslk_loss_set_f64(p.L, SSLK_MSN_TEMPERATURE, 0.3));
                ck_ok(sslk_loss_set_i64(p.L, SSLK_MSN_KL_DIRECTION, rev));
                ck_ok(sslk_loss_set_i64(p.L, SSLK_MSN_SINKHORN_ITERATIONS, sk ? 3 : 0));
                ck_ok(sslk_loss_set_f64(p.L, SSLK_MSN_ENTROPY_WEIGHT, sk ? 0.5 : 0.0));
                ck_ok(sslk_loss_set_f64(p.L, SSLK_MSN_PRIOR_WEIGHT, 1.7));
                if (prior == 2) {
                    const float up[] = {0.1f, 0.3f, 0.2f, 0.25f, 0.15f};
                    ck_ok(sslk_loss_set_prior(p.L, up, 5));
                } else {
                    ck_ok(sslk_loss_set_i64(p.L, SSLK_MSN_PRIOR, prior));
                    ck_ok(sslk_loss_set_f64(p.L, SSLK_MSN_TAU, 0.6));
                }
                for (size_t v = 0; v < V; v++) p.views[v] = rnd(12, 131 + (unsigned)(v + 3 * prior + 7 * rev));
                p.targets = rnd(12, 141 + (unsigned)sk);
                fd_inputs(&p, 2e-6);
                /* prototypes: with one-hot targets (each target on a prototype, sharpen
                 * tiny) the targets are locally constant, so the stop-gradient
                 * derivative equals the total one */
                ck_ok(sslk_loss_set_f64(p.L, SSLK_MSN_SHARPEN, 1e-3));
                sslk_param_view pv = {.struct_size = sizeof pv};
                ck_ok(sslk_loss_param(p.L, 0, &pv));
                for (size_t i = 0; i < 4; i++) memcpy(p.targets + 3 * i, pv.data + 3 * ((2 * i) % 5), 3 * sizeof(float));
                fd_param(&p, 2e-6);
                prob_free(&p);
            }
}
END_TEST

/* ---- float path vs double path, determinism ------------------------------------ */

START_TEST(float_path_matches_double) {
    const sslk_loss_kind kinds[] = {SSLK_LOSS_VICREG, SSLK_LOSS_VICREG_LOGDET, SSLK_LOSS_VICREG_PAIRDIST,
                                    SSLK_LOSS_INFONCE, SSLK_LOSS_INFONCE_SYMMETRIC, SSLK_LOSS_DIET, SSLK_LOSS_MSN};
    const size_t n = 40, d = 24;
    float *za = rnd(n * d, 5), *zb = rnd(n * d, 6);
    int64_t idx[40];
    for (size_t i = 0; i < n; i++) idx[i] = (int64_t)((i * 7) % 50);
    ck_ok(sslk_ctx_set_threads(ctx, 2));
    for (int k = 0; k < 7; k++) {
        double v[2];
        float *g[2] = {malloc(n * d * 4), malloc(n * d * 4)}, *h[2] = {malloc(n * d * 4), malloc(n * d * 4)};
        for (int prec = 0; prec < 2; prec++) {
            sslk_loss *L = mk(kinds[k]);
            ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
            float **out = prec ? h : g;
            if (kinds[k] == SSLK_LOSS_DIET) {
                ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 50));
                ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, (int64_t)d));
                ck_ok(sslk_loss_compute_indexed(L, za, idx, n, d, &v[prec], out[0]));
                memcpy(out[1], out[0], n * d * 4);
            } else if (kinds[k] == SSLK_LOSS_MSN) {
                ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, 16));
                ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, (int64_t)d));
                ck_ok(sslk_loss_compute_targets(L, za, 1, zb, n, d, &v[prec], out[0]));
                memcpy(out[1], out[0], n * d * 4);
            } else {
                ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &v[prec], out[0], out[1]));
            }
            if (prec == 0) { /* determinism at a fixed thread count */
                double again;
                float *t = malloc(n * d * 4);
                memcpy(t, out[0], n * d * 4);
                if (kinds[k] == SSLK_LOSS_DIET)
                    ck_ok(sslk_loss_compute_indexed(L, za, idx, n, d, &again, out[0]));
                else if (kinds[k] == SSLK_LOSS_MSN)
                    ck_ok(sslk_loss_compute_targets(L, za, 1, zb, n, d, &again, out[0]));
                else
                    ck_ok(sslk_loss_compute_pair(L, za, zb, n, d, &again, out[0], out[1]));
                ck_assert(again == v[0]);
                ck_assert(memcmp(t, out[0], n * d * 4) == 0);
                free(t);
            }
            sslk_loss_destroy(L);
        }
        ck_close(v[0], v[1], 2e-5, 1e-6);
        double gm = 0;
        for (size_t e = 0; e < n * d; e++) gm = fmax(gm, fabs(h[0][e]));
        for (int b = 0; b < 2; b++)
            for (size_t e = 0; e < n * d; e++) ck_close(g[b][e], h[b][e], 1e-3, 1e-4 * gm);
        for (int b = 0; b < 2; b++) free(g[b]), free(h[b]);
    }
    free(za);
    free(zb);
}
END_TEST

/* ---- settings and bad inputs ------------------------------------------------------ */

START_TEST(settings_introspection) {
    const char *name, *dom;
    sslk_setting_type t;
    double lo, hi, def;
    ck_ok(sslk_setting_info(SSLK_VICREG_SIM_COEFF, &name, &dom, &t, &lo, &hi, &def));
    ck_assert_str_eq(name, "sim_coeff");
    ck_assert_str_eq(dom, "vicreg");
    ck_assert(def == 25);
    ck_ok(sslk_setting_info(SSLK_MSN_TAU, &name, &dom, &t, &lo, &hi, &def));
    ck_assert_str_eq(name, "tau");
    ck_assert(def == 0.25);
    int key;
    ck_ok(sslk_setting_find("diet", "label_smoothing", &key));
    ck_assert_int_eq(key, SSLK_DIET_LABEL_SMOOTHING);
    const char *d2;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_INFONCE_SYMMETRIC, &d2));
    ck_assert_str_eq(d2, "infonce");
    sslk_loss *L = mk(SSLK_LOSS_MSN);
    double v;
    ck_ok(sslk_loss_get_f64(L, SSLK_MSN_TEMPERATURE, &v));
    ck_assert(v == 0.1);
    ck_ok(sslk_loss_get_f64(L, SSLK_MSN_SHARPEN, &v));
    ck_assert(v == 0.25);
    int64_t iv;
    ck_ok(sslk_loss_get_i64(L, SSLK_MSN_SINKHORN_ITERATIONS, &iv));
    ck_assert(iv == 3);
    sslk_loss_kind kd;
    ck_ok(sslk_loss_get_kind(L, &kd));
    ck_assert(kd == SSLK_LOSS_MSN);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(bad_inputs) {
    sslk_loss *L = NULL;
    ck_status(sslk_loss_create(ctx, (sslk_loss_kind)99, &L), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_create(NULL, SSLK_LOSS_VICREG, &L), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_create(ctx, SSLK_LOSS_VICREG, NULL), SSLK_E_INVALID_ARG);
    L = mk(SSLK_LOSS_VICREG);
    float z[8] = {1, 2, 3, 4, 5, 6, 7, 9}, g[8];
    double v;
    ck_status(sslk_loss_compute_pair(NULL, z, z, 4, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_pair(L, NULL, z, 4, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute(L, NULL, &v, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_pair(L, z, z, 1, 8, &v, NULL, NULL), SSLK_E_SHAPE);
    ck_assert(strstr(sslk_last_error(), "n = 1") != NULL);
    ck_status(sslk_loss_compute_pair(L, z, z, 0, 2, &v, NULL, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_compute_pair(L, z, z, SIZE_MAX / 2, 4, &v, NULL, NULL), SSLK_E_OVERFLOW);
    z[5] = NAN;
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 2, &v, g, NULL), SSLK_E_NONFINITE);
    ck_assert(strstr(sslk_last_error(), "views[0]") != NULL);
    z[5] = INFINITY;
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 2, &v, g, NULL), SSLK_E_NONFINITE);
    z[5] = 6;
    const float *three[3] = {z, z, z};
    sslk_loss_batch b = {sizeof b, three, 3, 4, 2, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE);
    b.struct_size = 8;
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0.5), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_VICREG_EPS, -1), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_VICREG_SIM_COEFF, NAN), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_VICREG_VAR_BRANCH_REDUCTION, 0.5), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 2), SSLK_E_SETTING);
    ck_status(sslk_loss_term_value(L, 0, &v), SSLK_E_STATE);
    ck_ok(sslk_loss_compute_pair(L, z, z, 4, 2, &v, NULL, NULL));
    ck_status(sslk_loss_term_value(L, 3, &v), SSLK_E_RANGE);
    size_t np;
    ck_ok(sslk_loss_param_count(L, &np));
    ck_assert(np == 0);
    sslk_param_view pv = {.struct_size = sizeof pv};
    ck_status(sslk_loss_param(L, 0, &pv), SSLK_E_RANGE);
    float p4[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    ck_status(sslk_loss_set_prior(L, p4, 4), SSLK_E_UNSUPPORTED);
    sslk_loss_destroy(L);
    sslk_loss_destroy(NULL);

    /* InfoNCE */
    L = mk(SSLK_LOSS_INFONCE);
    ck_status(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_INFONCE_TEMPERATURE, -0.1), SSLK_E_SETTING);
    const float *one[1] = {z};
    sslk_loss_batch b1 = {sizeof b1, one, 1, 4, 2, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b1, &v, NULL), SSLK_E_SHAPE);
    const int64_t lonely[] = {0, 1, 0, 2};
    ck_status(sslk_loss_compute_indexed(L, z, lonely, 4, 2, &v, NULL), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "occurs once") != NULL);
    sslk_loss_destroy(L);
    L = mk(SSLK_LOSS_INFONCE_SYMMETRIC);
    ck_status(sslk_loss_compute_pair(L, z, z, 1, 8, &v, NULL, NULL), SSLK_E_SHAPE);
    sslk_loss_destroy(L);

    /* DIET */
    L = mk(SSLK_LOSS_DIET);
    const int64_t ids[] = {0, 1, 2, 3};
    ck_status(sslk_loss_compute_indexed(L, z, ids, 4, 2, &v, NULL), SSLK_E_STATE);
    ck_status(sslk_loss_param(L, 0, &pv), SSLK_E_STATE);
    ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 4));
    ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, 2));
    ck_status(sslk_loss_set_f64(L, SSLK_DIET_LABEL_SMOOTHING, 1.5), SSLK_E_SETTING);
    ck_ok(sslk_loss_compute_indexed(L, z, ids, 4, 2, &v, NULL));
    const int64_t bad[] = {0, 4, 2, 3}, neg[] = {0, -1, 2, 3};
    ck_status(sslk_loss_compute_indexed(L, z, bad, 4, 2, &v, NULL), SSLK_E_RANGE);
    ck_assert(strstr(sslk_last_error(), "indices[1]") != NULL);
    ck_status(sslk_loss_compute_indexed(L, z, neg, 4, 2, &v, NULL), SSLK_E_RANGE);
    ck_status(sslk_loss_compute_indexed(L, z, ids, 2, 4, &v, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 5), SSLK_E_STATE);
    ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 4)); /* unchanged value is fine */
    sslk_loss_destroy(L);

    /* MSN */
    L = mk(SSLK_LOSS_MSN);
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, 4));
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, 2));
    const float bad_sum[] = {0.5f, 0.5f, 0.5f, 0.5f}, bad_neg[] = {1.5f, -0.5f, 0, 0}, ok3[] = {0.3f, 0.3f, 0.4f};
    ck_status(sslk_loss_set_prior(L, bad_sum, 4), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_prior(L, bad_neg, 4), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_set_prior(L, ok3, 3), SSLK_E_SHAPE);
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_USER));
    ck_status(sslk_loss_compute_targets(L, z, 1, z, 4, 2, &v, NULL), SSLK_E_STATE);
    ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_UNIFORM));
    ck_status(sslk_loss_set_f64(L, SSLK_MSN_TEMPERATURE, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_compute_pair(L, z, z, 4, 2, &v, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_targets(L, z, 1, z, 2, 4, &v, NULL), SSLK_E_SHAPE);
    float tn[8] = {1, 2, 3, 4, 5, 6, 7, NAN};
    ck_status(sslk_loss_compute_targets(L, z, 1, tn, 4, 2, &v, NULL), SSLK_E_NONFINITE);
    ck_status(sslk_loss_compute_targets(L, z, 0, z, 4, 2, &v, NULL), SSLK_E_SHAPE);
    ck_status(sslk_loss_compute_targets(L, z, 4096, z, SIZE_MAX / 4096, 2, &v, NULL), SSLK_E_OVERFLOW);
    ck_ok(sslk_loss_compute_targets(L, z, 1, z, 4, 2, &v, NULL));
    ck_status(sslk_loss_set_i64(L, SSLK_MSN_DIM, 3), SSLK_E_STATE);
    pv.struct_size = 4;
    ck_status(sslk_loss_param(L, 0, &pv), SSLK_E_INVALID_ARG);
    sslk_loss_destroy(L);
}
END_TEST

/* ---- hostile inputs (issue 12) ------------------------------------------------ */

/* A DIET head with a NaN / Inf entry: refused with SSLK_E_NONFINITE naming the
 * parameter, row and column, at both precisions, with and without gradients.
 * An all-NaN head made the arg-max search run past the logit row. */
START_TEST(diet_nonfinite_head) {
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int prec = 0; prec < 2; prec++)
        for (int which = 0; which < 3; which++) {
            sslk_loss *L = mk(SSLK_LOSS_DIET);
            ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 4));
            ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, 2));
            ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
            sslk_param_view pv = {.struct_size = sizeof pv};
            ck_ok(sslk_loss_param(L, 0, &pv));
            const float z[4] = {1, 2, -1, 0.5f};
            const int64_t ids[2] = {1, 3};
            float g[4];
            double v = 42;
            /* the whole head bad: every logit NaN (the old arg-max ran off the row) */
            for (size_t e = 0; e < pv.count; e++) pv.data[e] = bad[which];
            ck_status(sslk_loss_compute_indexed(L, z, ids, 2, 2, &v, g), SSLK_E_NONFINITE);
            ck_assert_msg(strstr(sslk_last_error(), "row 0") && strstr(sslk_last_error(), "column 0"),
                          "message: %s", sslk_last_error());
            for (size_t e = 0; e < pv.count; e++) pv.data[e] = 0.1f * (float)e;
            /* then one bad entry at row 2, column 1 */
            pv.data[2 * 2 + 1] = bad[which];
            ck_status(sslk_loss_compute_indexed(L, z, ids, 2, 2, &v, g), SSLK_E_NONFINITE);
            ck_assert_msg(strstr(sslk_last_error(), "head.weight") && strstr(sslk_last_error(), "row 2") &&
                              strstr(sslk_last_error(), "column 1"),
                          "message: %s", sslk_last_error());
            ck_status(sslk_loss_compute_indexed(L, z, ids, 2, 2, &v, NULL), SSLK_E_NONFINITE);
            ck_assert(v == 42);
            /* a finite head again computes */
            for (size_t e = 0; e < pv.count; e++) pv.data[e] = 0.1f * (float)e;
            ck_ok(sslk_loss_compute_indexed(L, z, ids, 2, 2, &v, g));
            ck_assert(isfinite(v));
            sslk_loss_destroy(L);
        }
}
END_TEST

/* Finite head and inputs whose float32 logits overflow: NONFINITE naming the
 * logit's row and class, not a garbage value. */
START_TEST(diet_logit_overflow) {
    sslk_loss *L = mk(SSLK_LOSS_DIET);
    ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 3));
    ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, 2));
    sslk_param_view pv = {.struct_size = sizeof pv};
    ck_ok(sslk_loss_param(L, 0, &pv));
    for (size_t e = 0; e < pv.count; e++) pv.data[e] = 0.5f;
    pv.data[2 * 2 + 0] = 3e38f; /* class 2 */
    pv.data[2 * 2 + 1] = 3e38f;
    const float z[4] = {1, 1, 0.25f, 0.25f}; /* row 0: logit 6e38 for class 2 (overflows); row 1: 1.5e38 */
    const int64_t ids[2] = {0, 1};
    double v;
    float g[4];
    ck_status(sslk_loss_compute_indexed(L, z, ids, 2, 2, &v, g), SSLK_E_NONFINITE);
    ck_assert_msg(strstr(sslk_last_error(), "row 0") && strstr(sslk_last_error(), "column 2"), "message: %s",
                  sslk_last_error());
    sslk_loss_destroy(L);
}
END_TEST

/* MSN prototypes with NaN / Inf: NONFINITE naming them, row and column. */
START_TEST(msn_nonfinite_prototypes) {
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = msn_small(3, prec);
        sslk_param_view pv = {.struct_size = sizeof pv};
        ck_ok(sslk_loss_param(L, 0, &pv));
        pv.data[1 * 4 + 3] = prec ? INFINITY : NAN;
        float *z = rnd(8, 5), *t = rnd(8, 6), g[8];
        double v;
        ck_status(sslk_loss_compute_targets(L, z, 1, t, 2, 4, &v, g), SSLK_E_NONFINITE);
        ck_assert_msg(strstr(sslk_last_error(), "prototypes") && strstr(sslk_last_error(), "row 1") &&
                          strstr(sslk_last_error(), "column 3"),
                      "message: %s", sslk_last_error());
        free(z);
        free(t);
        sslk_loss_destroy(L);
    }
}
END_TEST

/* Power-law prior with a steep exponent: k^-tau underflows to 0 for large k,
 * which made log(pi) = -inf and the loss infinite.  Log domain now. */
START_TEST(msn_power_law_steep) {
    const size_t K = 2048, d = 4, n = 3;
    for (int prec = 0; prec < 2; prec++)
        for (int dir = 0; dir < 2; dir++) {
            sslk_loss *L = mk(SSLK_LOSS_MSN);
            ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, (int64_t)K));
            ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, (int64_t)d));
            ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
            ck_ok(sslk_loss_set_i64(L, SSLK_MSN_PRIOR, SSLK_MSN_PRIOR_POWER_LAW));
            ck_ok(sslk_loss_set_f64(L, SSLK_MSN_TAU, 100));
            ck_ok(sslk_loss_set_i64(L, SSLK_MSN_KL_DIRECTION, dir));
            float *z = rnd(n * d, 9), *t = rnd(n * d, 10), g[12];
            double v;
            ck_ok(sslk_loss_compute_targets(L, z, 1, t, n, d, &v, g));
            ck_assert(isfinite(v) && v > 0);
            for (int e = 0; e < 12; e++) ck_assert(isfinite(g[e]));
            free(z);
            free(t);
            sslk_loss_destroy(L);
        }
}
END_TEST

/* Sinkhorn with a prototype column of denormal mass: the column scale
 * 1 / (mass K) overflowed to inf and the row scaling made NaN. */
START_TEST(msn_sinkhorn_tiny_column) {
    double T[] = {1, 1e-320, 1, 2e-320}, cs[2];
    ssli_msn_sinkhorn(T, 2, 2, 3, cs, 1);
    for (int e = 0; e < 4; e++) ck_assert_msg(isfinite(T[e]) && T[e] >= 0, "T[%d] = %g", e, T[e]);
    /* rows are probabilities, columns carry mass 1/K each (times B) */
    ck_close(T[0] + T[1], 1.0, 1e-9, 0);
    ck_close(T[2] + T[3], 1.0, 1e-9, 0);
    ck_close(T[1] + T[3], 1.0, 1e-3, 0); /* three iterations: nearly balanced */
}
END_TEST

/* A finite value with overflowing gradients (double-precision VICReg on
 * inputs ~1e20: var ~1e40 fits a double, x var does not fit a float) is
 * refused with SSLK_E_NUMERIC naming the gradient, row and column. */
START_TEST(gradient_overflow_refused) {
    sslk_loss *L = mk(SSLK_LOSS_VICREG);
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, SSLK_PRECISION_DOUBLE));
    float za[8] = {1e20f, 0, -1e20f, 1, 2e20f, 3, -2e20f, 2}, zb[8];
    for (int e = 0; e < 8; e++) zb[e] = za[e] * 0.5f;
    float ga[8], gb[8];
    double v;
    ck_ok(sslk_loss_compute_pair(L, za, zb, 4, 2, &v, NULL, NULL));
    ck_assert(isfinite(v));
    ck_status(sslk_loss_compute_pair(L, za, zb, 4, 2, &v, ga, gb), SSLK_E_NUMERIC);
    ck_assert_msg(strstr(sslk_last_error(), "gradient") && strstr(sslk_last_error(), "views[0]") &&
                      strstr(sslk_last_error(), "row 0") && strstr(sslk_last_error(), "column 1"),
                  "message: %s", sslk_last_error());
    sslk_loss_destroy(L);
    /* LogDet: the float Gram of the same inputs overflows; said so (LAPACK saw NaN) */
    L = mk(SSLK_LOSS_VICREG_LOGDET);
    ck_status(sslk_loss_compute_pair(L, za, zb, 4, 2, &v, NULL, NULL), SSLK_E_NUMERIC);
    ck_assert_msg(strstr(sslk_last_error(), "Gram of views[0] overflows"), "message: %s", sslk_last_error());
    sslk_loss_destroy(L);
}
END_TEST

/* Edge shapes for every kind: n = 1 is refused where a batch statistic needs
 * 2 rows and computes elsewhere; d = 1 computes; results finite. */
START_TEST(edge_shapes_every_kind) {
    const sslk_loss_kind kinds[] = {SSLK_LOSS_VICREG, SSLK_LOSS_VICREG_LOGDET, SSLK_LOSS_VICREG_PAIRDIST,
                                    SSLK_LOSS_INFONCE, SSLK_LOSS_INFONCE_SYMMETRIC, SSLK_LOSS_DIET, SSLK_LOSS_MSN};
    for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++)
        for (size_t n = 1; n <= 2; n++)
            for (size_t d = 1; d <= 2; d++)
                for (int prec = 0; prec < 2; prec++) {
                    sslk_loss *L = mk(kinds[ki]);
                    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
                    if (kinds[ki] == SSLK_LOSS_DIET) {
                        ck_ok(sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 3));
                        ck_ok(sslk_loss_set_i64(L, SSLK_DIET_DIM, (int64_t)d));
                    }
                    if (kinds[ki] == SSLK_LOSS_MSN) {
                        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, 2));
                        ck_ok(sslk_loss_set_i64(L, SSLK_MSN_DIM, (int64_t)d));
                    }
                    float *a = rnd(n * d, 30 + (unsigned)d), *b = rnd(n * d, 40 + (unsigned)d);
                    float ga[4], gb[4];
                    const float *views[2] = {a, b};
                    float *grads[2] = {ga, gb};
                    const int64_t ids[2] = {0, 1};
                    bool diet = kinds[ki] == SSLK_LOSS_DIET, msn = kinds[ki] == SSLK_LOSS_MSN;
                    sslk_loss_batch bt = {sizeof bt, views, msn ? 1 : 2, n, d, diet ? ids : NULL, msn ? b : NULL};
                    double v = NAN;
                    sslk_status st = sslk_loss_compute(L, &bt, &v, grads);
                    bool needs2 = kinds[ki] == SSLK_LOSS_VICREG || kinds[ki] == SSLK_LOSS_VICREG_LOGDET ||
                                  kinds[ki] == SSLK_LOSS_VICREG_PAIRDIST || kinds[ki] == SSLK_LOSS_INFONCE_SYMMETRIC;
                    if (n == 1 && needs2) {
                        ck_assert_msg(st == SSLK_E_SHAPE, "kind %d n 1: %s", (int)kinds[ki], sslk_status_str(st));
                        ck_assert(sslk_last_error()[0] != '\0');
                    } else {
                        ck_assert_msg(st == SSLK_OK, "kind %d n %zu d %zu prec %d: %s", (int)kinds[ki], n, d, prec,
                                      sslk_last_error());
                        ck_assert(isfinite(v));
                        for (size_t e = 0; e < n * d; e++) ck_assert(isfinite(ga[e]));
                    }
                    free(a);
                    free(b);
                    sslk_loss_destroy(L);
                }
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, vicreg_tv4_values_and_gradients);
    tcase_add_test(tc, vicreg_tv1_tv2_tv3);
    tcase_add_test(tc, vicreg_fd_all_settings);
    tcase_add_test(tc, entropy_test_vectors);
    tcase_add_test(tc, logdet_fd_all_settings);
    tcase_add_test(tc, pairdist_fd_all_settings);
    tcase_add_test(tc, infonce_test_vectors);
    tcase_add_test(tc, infonce_scale_invariance);
    tcase_add_test(tc, infonce_fd_all_settings);
    tcase_add_test(tc, diet_test_vectors);
    tcase_add_test(tc, diet_fd_all_settings);
    tcase_add_test(tc, diet_chunked_matches_cached);
    tcase_add_test(tc, msn_helpers);
    tcase_add_test(tc, double_exponent_exp_kernels);
    tcase_add_test(tc, msn_test_vectors);
    tcase_add_test(tc, msn_fd_all_settings);
    tcase_add_test(tc, float_path_matches_double);
    tcase_add_test(tc, settings_introspection);
    tcase_add_test(tc, bad_inputs);
    tcase_add_test(tc, diet_nonfinite_head);
    tcase_add_test(tc, diet_logit_overflow);
    tcase_add_test(tc, msn_nonfinite_prototypes);
    tcase_add_test(tc, msn_power_law_steep);
    tcase_add_test(tc, msn_sinkhorn_tiny_column);
    tcase_add_test(tc, gradient_overflow_refused);
    tcase_add_test(tc, edge_shapes_every_kind);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
