/* DINO loss (issue 21): a hand-derived case (value, terms, gradients, centre
 * update), the teacher-temperature warm-up schedule, central differences in
 * double for every student input, float vs double, the centre's get/set and
 * its use, bad inputs, and across ranks on the fake collectives table (value,
 * gradients and the all-reduced centre equal one process holding all rows).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
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

static sslk_loss *mk(int prec) {
    sslk_loss *L = NULL;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_DINO, &L));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, prec));
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

/* S = T = 2, K = 2, n = 2, both temperatures 1; a = ln 3 (as a float).
 * Row 0: students s0 = (0, 0), s1 = (a, 0); teachers t0 = (0, 0), t1 = (a, 0), so
 * q0 = (1/2, 1/2), q1 = p1 = (3/4, 1/4).  Pairs (t0, s1): 2 ln2 - ln3 / 2;
 * (t1, s0): ln 2.  Row 1: all zeros, each pair ln 2.  Value = mean over the
 * 2 pairs and 2 rows = (5 ln2 - ln3 / 2) / 4.  Entropies: ln 2, 2 ln2 - 3/4 ln3,
 * ln 2, ln 2.  Gradient (c_v p_v - w_v) / (P N) = row 0: s0 (-1/4, 1/4) / 4,
 * s1 (1/4, -1/4) / 4; row 1: 0.  Centre: 0.1 * mean of the 4 teacher rows = (a / 40, 0). */
START_TEST(dino_hand_value) {
    const float a = (float)log(3.0);
    float s0[4] = {0, 0, 0, 0}, s1[4] = {a, 0, 0, 0}, t0[4] = {0, 0, 0, 0}, t1[4] = {a, 0, 0, 0};
    const double l2 = log(2.0), l3 = log(3.0);
    for (int prec = 0; prec < 2; prec++) {
        sslk_loss *L = mk(prec);
        double v;
        ck_ok(sslk_loss_get_f64(L, SSLK_DINO_STUDENT_TEMP, &v));
        ck_close(v, 0.1, 0, 0);
        ck_ok(sslk_loss_get_f64(L, SSLK_DINO_TEACHER_TEMP, &v));
        ck_close(v, 0.04, 0, 0);
        ck_ok(sslk_loss_get_f64(L, SSLK_DINO_CENTER_MOMENTUM, &v));
        ck_close(v, 0.9, 0, 0);
        ck_ok(sslk_loss_set_f64(L, SSLK_DINO_STUDENT_TEMP, 1));
        ck_ok(sslk_loss_set_f64(L, SSLK_DINO_TEACHER_TEMP, 1));
        size_t k = 9;
        ck_ok(sslk_loss_dino_center_size(L, &k));
        ck_assert_uint_eq(k, 0);
        float *views[4] = {s0, s1, t0, t1}, g[4][4];
        float *grads[4] = {g[0], g[1], g[2], g[3]};
        memset(g, 0x7f, sizeof g);
        sslk_loss_batch b = {sizeof b, (const float *const *)views, 4, 2, 2, NULL, NULL};
        ck_ok(sslk_loss_compute(L, &b, &v, grads));
        const double tol = 1e-7;
        ck_close(v, (5 * l2 - l3 / 2) / 4, tol, 0);
        ck_close(term(L, 0), v, 0, 0);
        double h = (3 * l2 + 2 * l2 - 0.75 * l3) / 4;
        ck_close(term(L, 1), h, tol, 0);
        ck_close(term(L, 2), v - h, tol, 0);
        const double e0[4] = {-1.0 / 16, 1.0 / 16, 0, 0};
        for (int i = 0; i < 4; i++) {
            ck_close(g[0][i], e0[i], tol, 1e-9);
            ck_close(g[1][i], -e0[i], tol, 1e-9);
            ck_assert(g[2][i] == 0.0f && g[3][i] == 0.0f); /* stop-gradient */
        }
        double c[2];
        ck_ok(sslk_loss_dino_center_size(L, &k));
        ck_assert_uint_eq(k, 2);
        ck_ok(sslk_loss_dino_get_center(L, c, 2));
        ck_close(c[0], 0.1 * (double)a / 4, 1e-15, 0);
        ck_close(c[1], 0.0, 0, 0);
        sslk_loss_destroy(L);
    }
}
END_TEST

/* epoch e < W uses np.linspace(warm, teacher, W)[e], then teacher_temp: the value
 * at each epoch equals the value with that temperature fixed (no warm-up). */
START_TEST(dino_temperature_warmup) {
    enum { S = 3, T = 2, n = 4, K = 6 };
    float x[S + T][n * K], *views[S + T];
    for (int v = 0; v < S + T; v++) {
        tu_fill_uniform(x[v], n * K, 60 + (unsigned)v, -0.2f, 0.2f);
        views[v] = x[v];
    }
    sslk_loss *W = mk(1), *F = mk(1);
    ck_ok(sslk_loss_set_f64(W, SSLK_DINO_CENTER_MOMENTUM, 1)); /* freezes the centre */
    ck_ok(sslk_loss_set_f64(F, SSLK_DINO_CENTER_MOMENTUM, 1));
    ck_ok(sslk_loss_set_f64(W, SSLK_DINO_WARMUP_TEACHER_TEMP, 0.04));
    ck_ok(sslk_loss_set_f64(W, SSLK_DINO_TEACHER_TEMP, 0.07));
    ck_ok(sslk_loss_set_i64(W, SSLK_DINO_WARMUP_TEACHER_TEMP_EPOCHS, 5));
    const int epochs[] = {0, 1, 2, 4, 5, 300};
    const double temps[] = {0.04, 0.0475, 0.055, 0.07, 0.07, 0.07};
    double prev = 0;
    for (int e = 0; e < 6; e++) {
        ck_ok(sslk_loss_set_i64(W, SSLK_DINO_EPOCH, epochs[e]));
        ck_ok(sslk_loss_set_f64(F, SSLK_DINO_TEACHER_TEMP, temps[e]));
        double vw = eval(W, views, S + T, n, K), vf = eval(F, views, S + T, n, K);
        ck_close(vw, vf, 1e-13, 0);
        if (e > 0 && e < 4) ck_assert(vw != prev); /* the temperature did change */
        prev = vw;
    }
    /* W = 1: linspace(a, b, 1) = [a] at epoch 0 */
    ck_ok(sslk_loss_set_i64(W, SSLK_DINO_WARMUP_TEACHER_TEMP_EPOCHS, 1));
    ck_ok(sslk_loss_set_i64(W, SSLK_DINO_EPOCH, 0));
    ck_ok(sslk_loss_set_f64(F, SSLK_DINO_TEACHER_TEMP, 0.04));
    ck_close(eval(W, views, S + T, n, K), eval(F, views, S + T, n, K), 1e-13, 0);
    sslk_loss_destroy(W);
    sslk_loss_destroy(F);
}
END_TEST

/* central differences in double (frozen, non-zero centre) for every student input */
static void dino_fd(size_t S, size_t T) {
    enum { n = 3, K = 5, MAXV = 6 };
    float x[MAXV][n * K], g[MAXV][n * K], *views[MAXV], *grads[MAXV];
    for (size_t v = 0; v < S + T; v++) {
        tu_fill_uniform(x[v], n * K, 80 + (unsigned)(v + 7 * S), -0.3f, 0.3f);
        views[v] = x[v];
        grads[v] = g[v];
    }
    sslk_loss *L = mk(1);
    ck_ok(sslk_loss_set_i64(L, SSLK_DINO_TEACHER_VIEWS, (int64_t)T));
    ck_ok(sslk_loss_set_f64(L, SSLK_DINO_CENTER_MOMENTUM, 1));
    ck_ok(sslk_loss_set_f64(L, SSLK_DINO_TEACHER_TEMP, 0.07));
    const double c[K] = {0.05, -0.1, 0.0, 0.2, -0.02};
    ck_ok(sslk_loss_dino_set_center(L, c, K));
    sslk_loss_batch b = {sizeof b, (const float *const *)views, S + T, n, K, NULL, NULL};
    ck_ok(sslk_loss_compute(L, &b, NULL, grads));
    double gmax = 0;
    for (size_t v = 0; v < S; v++)
        for (size_t e = 0; e < n * K; e++) gmax = fmax(gmax, fabs(g[v][e]));
    ck_assert(gmax > 1e-2);
    for (size_t v = 0; v < S + T; v++)
        for (size_t e = 0; e < n * K; e++) {
            if (v >= S) {
                ck_assert(g[v][e] == 0.0f);
                continue;
            }
            float x0 = x[v][e], xp = x0 + 1e-4f, xm = x0 - 1e-4f;
            x[v][e] = xp;
            double fp = eval(L, views, S + T, n, K);
            x[v][e] = xm;
            double fm = eval(L, views, S + T, n, K);
            x[v][e] = x0;
            double fd = (fp - fm) / ((double)xp - (double)xm);
            ck_assert_msg(fabs(g[v][e] - fd) <= 1e-5 * gmax + 1e-5 * fabs(fd),
                          "S %zu T %zu view %zu elem %zu: analytic %.9g vs FD %.9g", S, T, v, e, g[v][e], fd);
        }
    double c2[K];
    ck_ok(sslk_loss_dino_get_center(L, c2, K));
    for (int k = 0; k < K; k++) ck_assert(c2[k] == c[k]); /* momentum 1: unchanged */
    sslk_loss_destroy(L);
}

START_TEST(dino_fd_multicrop) { dino_fd(4, 2); } /* 2 global + 2 local crops */
END_TEST
START_TEST(dino_fd_one_or_three_teachers) {
    dino_fd(2, 1);
    dino_fd(3, 3); /* T > 2: the weights of a global crop are summed */
}
END_TEST

START_TEST(dino_float_vs_double) {
    enum { S = 6, T = 2, n = 40, K = 64 };
    float *x = malloc((size_t)(3 * (S + T)) * n * K * sizeof(float));
    float *views[S + T], *gf[S + T], *gd[S + T];
    tu_fill_uniform(x, (size_t)(S + T) * n * K, 91, -1, 1);
    for (int v = 0; v < S + T; v++) {
        views[v] = x + (size_t)v * n * K;
        gf[v] = x + (size_t)(S + T + v) * n * K;
        gd[v] = x + (size_t)(2 * (S + T) + v) * n * K;
    }
    const double c[K] = {0.3, -0.2};
    double vf, vd, cf[K], cd[K];
    sslk_loss *Lf = mk(0), *Ld = mk(1);
    ck_ok(sslk_loss_dino_set_center(Lf, c, K));
    ck_ok(sslk_loss_dino_set_center(Ld, c, K));
    sslk_loss_batch b = {sizeof b, (const float *const *)views, S + T, n, K, NULL, NULL};
    ck_ok(sslk_loss_compute(Lf, &b, &vf, gf));
    ck_ok(sslk_loss_compute(Ld, &b, &vd, gd));
    ck_close(vf, vd, 1e-6, 0);
    for (int i = 1; i < 3; i++) ck_close(term(Lf, (size_t)i), term(Ld, (size_t)i), 1e-5, 1e-7);
    double gmax = 0, err = 0;
    for (int v = 0; v < S + T; v++)
        for (int e = 0; e < n * K; e++) {
            gmax = fmax(gmax, fabs(gd[v][e]));
            err = fmax(err, fabs((double)gf[v][e] - gd[v][e]));
        }
    ck_assert_msg(err <= 1e-5 * gmax, "float vs double gradient: %g (max %g)", err, gmax);
    /* the centre update is the same double arithmetic on both paths */
    ck_ok(sslk_loss_dino_get_center(Lf, cf, K));
    ck_ok(sslk_loss_dino_get_center(Ld, cd, K));
    for (int k = 0; k < K; k++) ck_assert(cf[k] == cd[k]);
    /* value only equals the value with gradients (momentum 1: same centre) */
    ck_ok(sslk_loss_set_f64(Ld, SSLK_DINO_CENTER_MOMENTUM, 1));
    double v1, v2;
    ck_ok(sslk_loss_compute(Ld, &b, &v1, gd));
    ck_ok(sslk_loss_compute(Ld, &b, &v2, NULL));
    ck_assert(v1 == v2);
    free(x);
    sslk_loss_destroy(Lf);
    sslk_loss_destroy(Ld);
}
END_TEST

/* The centre: c <- m c + (1 - m) mean of the teacher rows after each call; a
 * set centre acts as a shift of the teacher outputs. */
START_TEST(dino_center_update_and_set) {
    enum { S = 3, T = 2, n = 5, K = 4 };
    float x[S + T][n * K], sh[T][n * K], *views[S + T], *shifted[S + T];
    for (int v = 0; v < S + T; v++) {
        tu_fill_uniform(x[v], n * K, 120 + (unsigned)v, -1, 1);
        views[v] = shifted[v] = x[v];
    }
    sslk_loss *L = mk(1);
    ck_ok(sslk_loss_set_f64(L, SSLK_DINO_CENTER_MOMENTUM, 0.7));
    double c[K] = {0}, want[K];
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < K; k++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                for (int i = 0; i < n; i++) s += x[S + t][i * K + k];
            want[k] = 0.7 * c[k] + 0.3 * s / (T * n);
        }
        eval(L, views, S + T, n, K);
        ck_ok(sslk_loss_dino_get_center(L, c, K));
        for (int k = 0; k < K; k++) ck_close(c[k], want[k], 1e-14, 1e-16);
        x[S][step] += 0.5f; /* new teacher outputs for the next step */
    }
    /* centre c0 = teacher outputs shifted by -c0 with a zero centre */
    const double c0[K] = {0.25, -0.5, 0.125, 1.0};
    for (int t = 0; t < T; t++) {
        for (int e = 0; e < n * K; e++) sh[t][e] = (float)((double)x[S + t][e] - c0[e % K]);
        shifted[S + t] = sh[t];
    }
    sslk_loss *Z = mk(1);
    ck_ok(sslk_loss_set_f64(L, SSLK_DINO_CENTER_MOMENTUM, 1));
    ck_ok(sslk_loss_set_f64(Z, SSLK_DINO_CENTER_MOMENTUM, 1));
    ck_ok(sslk_loss_dino_set_center(L, c0, K));
    ck_close(eval(L, views, S + T, n, K), eval(Z, shifted, S + T, n, K), 1e-6, 0);
    /* errors */
    double big[K + 1];
    ck_status(sslk_loss_dino_get_center(L, big, K + 1), SSLK_E_SHAPE);
    ck_status(sslk_loss_dino_set_center(L, c0, 0), SSLK_E_SHAPE);
    big[0] = NAN;
    ck_status(sslk_loss_dino_set_center(L, big, 2), SSLK_E_NONFINITE);
    ck_ok(sslk_loss_dino_set_center(L, c0, 3)); /* resizes: K = 4 views now refused */
    sslk_loss_batch b = {sizeof b, (const float *const *)views, S + T, n, K, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, NULL, NULL), SSLK_E_SHAPE);
    sslk_loss *Fresh = mk(0);
    ck_status(sslk_loss_dino_get_center(Fresh, big, K), SSLK_E_STATE);
    sslk_loss *B = NULL;
    ck_ok(sslk_loss_create(ctx, SSLK_LOSS_BARLOW_TWINS, &B));
    size_t k;
    ck_status(sslk_loss_dino_center_size(B, &k), SSLK_E_UNSUPPORTED);
    ck_status(sslk_loss_dino_set_center(B, c0, K), SSLK_E_UNSUPPORTED);
    sslk_loss_destroy(B);
    sslk_loss_destroy(Fresh);
    sslk_loss_destroy(Z);
    sslk_loss_destroy(L);
}
END_TEST

START_TEST(dino_bad_inputs) {
    enum { n = 3, K = 4 };
    float x[6][n * K], *views[6];
    for (int v = 0; v < 6; v++) {
        tu_fill_uniform(x[v], n * K, 200 + (unsigned)v, -1, 1);
        views[v] = x[v];
    }
    sslk_loss *L = mk(0);
    double v, c[K];
    sslk_loss_batch b = {sizeof b, (const float *const *)views, 3, n, K, NULL, NULL};
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE); /* 1 student + 2 teachers */
    b.num_views = 1;
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE);
    ck_ok(sslk_loss_set_i64(L, SSLK_DINO_TEACHER_VIEWS, 3));
    b.num_views = 5; /* 2 students < 3 teachers */
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_SHAPE);
    ck_ok(sslk_loss_set_i64(L, SSLK_DINO_TEACHER_VIEWS, 2));
    const int64_t idx[n] = {0, 1, 2};
    b.num_views = 4;
    b.indices = idx;
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_INVALID_ARG);
    b.indices = NULL;
    ck_ok(sslk_loss_compute(L, &b, &v, NULL));
    ck_ok(sslk_loss_dino_get_center(L, c, K));
    x[3][5] = NAN; /* a teacher */
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_NONFINITE);
    x[3][5] = 0;
    x[1][2] = INFINITY;
    ck_status(sslk_loss_compute(L, &b, &v, NULL), SSLK_E_NONFINITE);
    x[1][2] = 0;
    /* logits beyond float32 range after the temperature: refused, centre kept */
    ck_ok(sslk_loss_set_f64(L, SSLK_DINO_STUDENT_TEMP, 1e-3));
    x[0][0] = 3e38f, x[0][1] = -3e38f;
    float g[4][n * K], *grads[4] = {g[0], g[1], g[2], g[3]};
    ck_assert(sslk_loss_compute(L, &b, &v, grads) != SSLK_OK);
    ck_assert(sslk_last_error()[0] != '\0');
    double c2[K];
    ck_ok(sslk_loss_dino_get_center(L, c2, K));
    for (int k = 0; k < K; k++) ck_assert(c2[k] == c[k]);
    ck_status(sslk_loss_set_f64(L, SSLK_DINO_STUDENT_TEMP, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_DINO_CENTER_MOMENTUM, 1.5), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_DINO_TEACHER_VIEWS, 0), SSLK_E_SETTING);
    ck_status(sslk_loss_set_i64(L, SSLK_DINO_EPOCH, -1), SSLK_E_SETTING);
    ck_status(sslk_loss_set_f64(L, SSLK_BARLOW_LAMBDA, 1), SSLK_E_SETTING); /* another kind's key */
    const char *dom;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_DINO, &dom));
    ck_assert_str_eq(dom, "dino");
    sslk_loss_destroy(L);
}
END_TEST

/* ---- across ranks (fake table): each rank computes its own rows; the loss
 * sums and the teacher column sums are all-reduced.  Value, every rank's
 * gradient rows and the centre equal one process holding all rows. */

enum { DV = 5, DT = 2, DK = 6, DMAXN = 16 };
typedef struct dino_job {
    int prec, bad_rank;
    size_t counts[4], offs[4];
    float Z[DV][DMAXN * DK], G[DV][DMAXN * DK];
    double value[4], center[4][DK];
    sslk_status st[4];
    char msg[4][256];
} dino_job;

static sslk_status dino_rows_call(sslk_ctx *c, dino_job *J, size_t off, size_t n, int teacher_views, double *value,
                                  double *center) {
    sslk_loss *L = NULL;
    sslk_status s = sslk_loss_create(c, SSLK_LOSS_DINO, &L);
    if (s) return s;
    sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, J->prec);
    sslk_loss_set_i64(L, SSLK_DINO_TEACHER_VIEWS, teacher_views);
    const double c0[DK] = {0.1, -0.2, 0.3, 0, 0.05, -0.05};
    sslk_loss_dino_set_center(L, c0, DK);
    const float *views[DV];
    float *grads[DV];
    for (int v = 0; v < DV; v++) {
        views[v] = J->Z[v] + off * DK;
        grads[v] = J->G[v] + off * DK;
    }
    sslk_loss_batch b = {sizeof b, views, DV, n, DK, NULL, NULL};
    s = sslk_loss_compute(L, &b, value, grads);
    if (s == SSLK_OK) s = sslk_loss_dino_get_center(L, center, DK);
    sslk_loss_destroy(L);
    return s;
}

static void dino_rank(sslk_ctx *c, int rank, void *user) {
    dino_job *J = user;
    J->st[rank] = dino_rows_call(c, J, J->offs[rank], J->counts[rank], rank == J->bad_rank ? 4 : DT,
                                 &J->value[rank], J->center[rank]);
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
}

START_TEST(dino_across_ranks) {
    static const size_t c3[] = {4, 1, 6}, c2[] = {5, 5};
    for (int prec = 0; prec < 2; prec++)
        for (int w = 2; w <= 3; w++) {
            dino_job *J = calloc(1, sizeof *J);
            J->prec = prec;
            J->bad_rank = -1;
            size_t N = 0;
            for (int r = 0; r < w; r++) {
                J->counts[r] = w == 3 ? c3[r] : c2[r];
                J->offs[r] = N;
                N += J->counts[r];
            }
            for (int v = 0; v < DV; v++) tu_fill_uniform(J->Z[v], N * DK, 300 + (unsigned)(v + 10 * w), -1, 1);
            double v1, c1[DK];
            ck_ok(dino_rows_call(ctx, J, 0, N, DT, &v1, c1));
            float G1[DV][DMAXN * DK];
            memcpy(G1, J->G, sizeof G1);
            memset(J->G, 0, sizeof J->G);
            ck_ok(sslk_dist_fake_run(w, dino_rank, J));
            double gmax = 0;
            for (int v = 0; v < DV; v++)
                for (size_t e = 0; e < N * DK; e++) gmax = fmax(gmax, fabs(G1[v][e]));
            ck_assert(gmax > 0);
            for (int r = 0; r < w; r++) {
                ck_assert_msg(J->st[r] == SSLK_OK, "W %d rank %d: %s", w, r, J->msg[r]);
                ck_close(J->value[r], v1, prec ? 1e-13 : 1e-6, 0);
                for (int k = 0; k < DK; k++) ck_close(J->center[r][k], c1[k], 1e-13, 1e-15);
            }
            for (int v = 0; v < DV; v++)
                for (size_t e = 0; e < N * DK; e++)
                    ck_assert_msg(fabs(J->G[v][e] - G1[v][e]) <= (prec ? 1e-12 : 1e-6) * gmax,
                                  "W %d view %d elem %zu: %g vs one process %g", w, v, e, J->G[v][e], G1[v][e]);
            /* a rank whose DINO settings refuse the batch stops every rank (no hang) */
            J->bad_rank = 1;
            ck_ok(sslk_dist_fake_run(w, dino_rank, J));
            ck_assert_int_eq(J->st[1], SSLK_E_SHAPE);
            ck_assert_int_eq(J->st[0], SSLK_E_DIST);
            ck_assert_msg(strstr(J->msg[0], "refused") != NULL, "%s", J->msg[0]);
            free(J);
        }
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss_dino");
    TCase *tc = tcase_create("loss_dino");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, dino_hand_value);
    tcase_add_test(tc, dino_temperature_warmup);
    tcase_add_test(tc, dino_fd_multicrop);
    tcase_add_test(tc, dino_fd_one_or_three_teachers);
    tcase_add_test(tc, dino_float_vs_double);
    tcase_add_test(tc, dino_center_update_and_set);
    tcase_add_test(tc, dino_bad_inputs);
    tcase_add_test(tc, dino_across_ranks);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
