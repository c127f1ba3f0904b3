/* POLICE: unit-level shift cases of the design note (P1), gradients through
 * the constrained forward against central differences in double, affinity
 * in double before and after freezing (P3, P4), exact SplineCam region
 * counts (P2), vertex helpers and bad inputs.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geometry/police_internal.h"
#include "testutil.h"

static sslk_ctx *mkctx(int threads) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    return c;
}

static sslk_model *mlp(sslk_ctx *c, size_t d, const char *spec, uint64_t seed) {
    sslk_model *m = NULL;
    ck_ok(sslk_model_from_spec(c, spec, 1, &d, seed, &m));
    return m;
}

static void set_param(sslk_model *m, const char *name, const float *v, size_t n) {
    ck_ok(sslk_model_set_param(m, name, v, n));
}

/* ---- P1: unit-level shifts --------------------------------------------------- */

/* Vertices e_1..e_C through one linear layer W (K x C, W[k][i] = value of
 * vertex i at unit k), bias 0: feeding the vertices as data rows returns the
 * shifted vertex values. */
static void shifted_values(size_t C, size_t K, const float *W, float *out) {
    sslk_ctx *c = mkctx(1);
    char spec[32];
    snprintf(spec, sizeof spec, "linear:%zu", K);
    sslk_model *m = mlp(c, C, spec, 1);
    set_param(m, "0.weight", W, K * C);
    float *b = calloc(K, sizeof(float)), *V = calloc(C * C, sizeof(float));
    for (size_t i = 0; i < C; i++) V[i * C + i] = 1.0f;
    set_param(m, "0.bias", b, K);
    sslk_police *p = NULL;
    ck_ok(sslk_police_create(m, V, C, C, &p));
    /* the single linear layer is the output layer: unconstrained by default */
    ck_ok(sslk_model_forward(m, V, C, out, SSLK_MODE_EVAL));
    for (size_t i = 0; i < C; i++)
        for (size_t k = 0; k < K; k++) ck_close(out[i * K + k], W[k * C + i], 0, 1e-7);
    ck_ok(sslk_police_set_f64(p, SSLK_POLICE_CONSTRAIN_OUTPUT, 1));
    ck_ok(sslk_model_forward(m, V, C, out, SSLK_MODE_TRAIN));
    float train[64];
    memcpy(train, out, C * K * sizeof(float));
    ck_ok(sslk_model_forward(m, V, C, out, SSLK_MODE_EVAL));
    for (size_t i = 0; i < C * K; i++) ck_assert_float_eq(train[i], out[i]); /* both modes */
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
    free(b);
    free(V);
}

START_TEST(p1_unit_shifts) {
    /* columns = units; rows of the tables below = vertices */
    const float cols[6][4] = {
        {-0.3f, 0.5f, 0.2f, 0.1f},   /* npos 3 > 2: raise by 0.3 */
        {0.4f, -0.2f, -0.5f, -0.1f}, /* npos 1: lower by 0.4 */
        {-1.0f, -2.0f, -3.0f, -4.0f}, /* all negative: unchanged */
        {1.0f, 2.0f, 3.0f, 4.0f},     /* all positive: unchanged */
        {0.0f, -0.1f, -0.2f, -0.3f},  /* zero is non-positive: unchanged */
        {0.3f, 0.1f, -0.2f, -0.4f},   /* tie npos = 2 = C/2: lower by 0.3 */
    };
    const float want[6][4] = {
        {0.0f, 0.8f, 0.5f, 0.4f},   {0.0f, -0.6f, -0.9f, -0.5f}, {-1.0f, -2.0f, -3.0f, -4.0f},
        {1.0f, 2.0f, 3.0f, 4.0f},   {0.0f, -0.1f, -0.2f, -0.3f}, {0.0f, -0.2f, -0.5f, -0.7f},
    };
    float W[24], out[24];
    for (size_t k = 0; k < 6; k++)
        for (size_t i = 0; i < 4; i++) W[k * 4 + i] = cols[k][i];
    shifted_values(4, 6, W, out);
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 6; k++) ck_close(out[i * 6 + k], want[k][i], 0, 2e-7);
    /* the design note's tie with C = 2: (0.2, -0.2) -> (0, -0.4); zero case (0, -0.1, -0.2) */
    const float W2[2] = {0.2f, -0.2f};
    shifted_values(2, 1, W2, out);
    ck_close(out[0], 0.0, 0, 1e-7);
    ck_close(out[1], -0.4, 0, 1e-7);
    const float W3[3] = {0.0f, -0.1f, -0.2f};
    shifted_values(3, 1, W3, out);
    for (int i = 0; i < 3; i++) ck_close(out[i], W3[i], 0, 0);
    /* the double rule gives the same shifts */
    const double P[4] = {-0.3, 0.5, 0.2, 0.1};
    double delta;
    size_t arg;
    ck_assert_int_eq(ssli_police_rule_d(P, 4, 1, 0, 1, &delta, &arg), 1);
    ck_close(delta, -0.3, 0, 0);
    ck_assert_uint_eq(arg, 0);
    const double T[2] = {0.2, -0.2};
    ck_assert_int_eq(ssli_police_rule_d(T, 2, 1, 0, 1, &delta, &arg), -1);
    ck_close(delta, 0.2, 0, 0);
    const double Z[3] = {0.0, -0.1, -0.2};
    ck_assert_int_eq(ssli_police_rule_d(Z, 3, 1, 0, 1, &delta, &arg), 0);
}
END_TEST

/* ---- gradients through the constrained forward -------------------------------- */

typedef struct gcase {
    const char *spec;
    size_t ndim, shape[3];
} gcase;

/* loss = sum_i w_i y_i over the batch, in double with the double evaluator */
static double loss_d(sslk_police *p, const double *X, size_t n, const double *w, size_t K) {
    size_t rows = n + p->c;
    double *x = malloc(rows * p->d * sizeof(double)), *y = malloc(rows * K * sizeof(double));
    memcpy(x, X, n * p->d * sizeof(double));
    for (size_t i = 0; i < p->c * p->d; i++) x[n * p->d + i] = p->V[i];
    ck_ok(ssli_police_eval_constrained(p, x, rows, y));
    double s = 0;
    for (size_t i = 0; i < n * K; i++) s += w[i] * y[i];
    free(x);
    free(y);
    return s;
}

static void gradcheck(const gcase *g, uint64_t seed) {
    sslk_ctx *c = mkctx(2);
    sslk_model *m = NULL;
    ck_ok(sslk_model_from_spec(c, g->spec, g->ndim, g->shape, seed, &m));
    size_t D, K;
    ck_ok(sslk_model_io_size(m, &D, &K));
    const size_t n = 5, C = D + 1;
    /* batch-norm running statistics away from (0, 1) */
    float *warm = malloc(16 * D * sizeof(float));
    tu_fill_uniform(warm, 16 * D, (unsigned)seed + 7, -1, 1);
    float *tmp = malloc(16 * K * sizeof(float));
    for (int it = 0; it < 3; it++) ck_ok(sslk_model_forward(m, warm, 16, tmp, SSLK_MODE_TRAIN));
    float *V = malloc(C * D * sizeof(float));
    ck_ok(sslk_police_simplex_vertices(NULL, D, 1.0, V));
    for (size_t i = 0; i < C * D; i++) V[i] -= 0.3f;
    sslk_police *p = NULL;
    ck_ok(sslk_police_create(m, V, C, D, &p));
    float *x = malloc(n * D * sizeof(float)), *y = malloc(n * K * sizeof(float));
    float *wf = malloc(n * K * sizeof(float)), *gx = malloc(n * D * sizeof(float));
    double *X = malloc(n * D * sizeof(double)), *w = malloc(n * K * sizeof(double));
    tu_fill_uniform(x, n * D, (unsigned)seed, -1, 1);
    tu_fill_uniform(wf, n * K, (unsigned)seed + 1, -1, 1);
    for (size_t i = 0; i < n * D; i++) X[i] = x[i];
    for (size_t i = 0; i < n * K; i++) w[i] = wf[i];
    ck_ok(sslk_model_zero_grad(m));
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_EVAL));
    size_t shifted = 0;
    ck_ok(sslk_police_info(p, NULL, NULL, NULL, NULL, &shifted, NULL));
    ck_assert_msg(shifted > 0, "%s: no unit was shifted: the check would not test POLICE", g->spec);
    ck_ok(sslk_model_backward(m, wf, gx));
    /* input gradient */
    for (size_t i = 0; i < n * D; i++) {
        double e = 1e-5, save = X[i];
        X[i] = save + e;
        double lp = loss_d(p, X, n, w, K);
        X[i] = save - e;
        double lm = loss_d(p, X, n, w, K);
        X[i] = save;
        ck_close(gx[i], (lp - lm) / (2 * e), 1e-3, 1e-4);
    }
    /* every parameter (a subsample of large tensors) */
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    size_t checked = 0;
    for (size_t t = 0; t < np; t++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, t, &v));
        if (!v.grad) continue;
        size_t step = v.count > 40 ? v.count / 40 + 1 : 1;
        for (size_t j = 0; j < v.count; j += step) {
            float save = v.data[j];
            float hi = save + 1e-5f * (1.0f + fabsf(save)), lo = save - 1e-5f * (1.0f + fabsf(save));
            v.data[j] = hi;
            double lp = loss_d(p, X, n, w, K);
            v.data[j] = lo;
            double lm = loss_d(p, X, n, w, K);
            v.data[j] = save;
            double fd = (lp - lm) / ((double)hi - (double)lo);
            ck_assert_msg(fabs(v.grad[j] - fd) <= 1e-4 + 2e-3 * fabs(fd), "%s: %s[%zu] grad %.9g fd %.9g",
                          g->spec, v.name, j, v.grad[j], fd);
            checked++;
        }
    }
    ck_assert_uint_gt(checked, 10);
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
    free(warm), free(tmp), free(V), free(x), free(y), free(wf), free(gx), free(X), free(w);
}

START_TEST(gradients_mlp) {
    gcase g = {"linear:8,leaky_relu:0.1,linear:8,abs,linear:6,relu,linear:3", 1, {3, 1, 1}};
    gradcheck(&g, 11);
    gcase b = {"linear:8,bn,relu,linear:8,leaky_relu:0.2,linear:2", 1, {4, 1, 1}};
    gradcheck(&b, 12);
}
END_TEST

START_TEST(gradients_conv) {
    gcase g = {"conv:3:3:1:1,bn,relu,conv:2:3:2:1,abs,flatten,linear:2", 3, {1, 4, 4}};
    gradcheck(&g, 21);
    gcase r = {"linear:6,relu,res(linear:6,leaky_relu:0.1,linear:6),linear:5,relu,linear:2", 1, {3, 1, 1}};
    gradcheck(&r, 22);
}
END_TEST

/* ---- affinity before/after freezing, outputs unchanged -------------------------- */

static void affinity_case(const char *spec, size_t ndim, const size_t *shape, uint64_t seed, int box) {
    sslk_ctx *c = mkctx(2);
    sslk_model *m = NULL;
    ck_ok(sslk_model_from_spec(c, spec, ndim, shape, seed, &m));
    size_t D, K;
    ck_ok(sslk_model_io_size(m, &D, &K));
    float *warm = malloc(32 * D * sizeof(float)), *tmp = malloc(32 * K * sizeof(float));
    tu_fill_uniform(warm, 32 * D, (unsigned)seed, -1, 1);
    for (int it = 0; it < 3; it++) ck_ok(sslk_model_forward(m, warm, 32, tmp, SSLK_MODE_TRAIN));
    size_t C = box ? (size_t)1 << D : D + 1;
    float *V = malloc(C * D * sizeof(float));
    if (box) {
        double lo[8], hi[8];
        for (size_t i = 0; i < D; i++) lo[i] = -0.5, hi[i] = 0.4 + 0.1 * (double)i;
        size_t cc;
        ck_ok(sslk_police_box_vertices(lo, hi, D, V, C, &cc));
        ck_assert_uint_eq(cc, C);
    } else {
        ck_ok(sslk_police_simplex_vertices(warm, D, 0.8, V));
    }
    sslk_police_report plain = {.struct_size = sizeof plain}, before = plain, after = plain;
    ck_ok(sslk_police_verify(c, m, V, C, D, 300, 5, &plain));
    /* an unconstrained random net is visibly non-affine on the region */
    ck_assert_msg(plain.affine_max_rel > 1e-4, "%s: plain net already affine (%g)", spec,
                  plain.affine_max_rel);
    sslk_police *p = NULL;
    ck_ok(sslk_police_create(m, V, C, D, &p));
    ck_ok(sslk_police_verify(c, m, V, C, D, 300, 5, &before));
    ck_assert_msg(before.affine_max_rel < 1e-9, "%s: constrained affinity error %g", spec,
                  before.affine_max_rel);
    /* freezing leaves the (evaluation-mode) outputs unchanged */
    const size_t n = 7;
    float *x = malloc(n * D * sizeof(float)), *y0 = malloc(n * K * sizeof(float)),
          *y1 = malloc(n * K * sizeof(float)), *y2 = malloc(n * K * sizeof(float));
    tu_fill_uniform(x, n * D, (unsigned)seed + 3, -1.5f, 1.5f);
    ck_ok(sslk_model_forward(m, x, n, y0, SSLK_MODE_EVAL));
    ck_ok(sslk_police_freeze(p));
    ck_status(sslk_police_freeze(p), SSLK_E_STATE);
    ck_ok(sslk_model_forward(m, x, n, y1, SSLK_MODE_EVAL));
    for (size_t i = 0; i < n * K; i++) ck_close(y1[i], y0[i], 1e-5, 1e-5);
    ck_ok(sslk_police_verify(c, m, V, C, D, 300, 5, &after));
    ck_assert_msg(after.affine_max_rel < 1e-9, "%s: frozen affinity error %g", spec, after.affine_max_rel);
    /* the frozen model is an ordinary model file */
    char path[] = "/tmp/police_frozen_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_ok(sslk_model_save(m, path));
    sslk_model *m2 = NULL;
    ck_ok(sslk_model_load(c, path, &m2));
    ck_ok(sslk_model_forward(m2, x, n, y2, SSLK_MODE_EVAL));
    for (size_t i = 0; i < n * K; i++) ck_assert_float_eq(y2[i], y1[i]);
    unlink(path);
    sslk_model_destroy(m2);
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
    free(warm), free(tmp), free(V), free(x), free(y0), free(y1), free(y2);
}

START_TEST(affinity_and_freeze) {
    size_t s2[1] = {2}, s5[1] = {5}, img[3] = {2, 5, 5};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        affinity_case("linear:16,leaky_relu:0.01,linear:16,leaky_relu:0.01,linear:16,leaky_relu:0.01,linear:1",
                      1, s2, seed, 1);
        affinity_case("linear:32,relu,linear:32,relu,linear:4", 1, s5, seed, 1);
        affinity_case("linear:24,bn,abs,linear:24,bn,relu,linear:3", 1, s5, seed, 0);
    }
    affinity_case("conv:4:3:1:1,bn,relu,conv:4:3:2:1,leaky_relu:0.1,avgpool:3,flatten,linear:3", 3, img, 4, 0);
    affinity_case("linear:12,relu,res(linear:12,bn,relu,linear:12),linear:12,abs,linear:2", 1, s5, 5, 0);
}
END_TEST

/* In train mode (batch statistics) the function of one pass is affine on the
 * region too: feed convex combinations and the vertices in one batch. */
START_TEST(train_mode_affine) {
    sslk_ctx *c = mkctx(2);
    size_t D = 3;
    sslk_model *m = mlp(c, D, "linear:16,bn,leaky_relu:0.05,linear:16,bn,relu,linear:2", 9);
    const size_t C = 4, S = 20, n = S + C, K = 2;
    float V[12], x[24 * 3], y[24 * 2];
    ck_ok(sslk_police_simplex_vertices(NULL, D, 1.0, V));
    sslk_police *p = NULL;
    ck_ok(sslk_police_create(m, V, C, D, &p));
    double L[20][4];
    for (size_t s = 0; s < S; s++) {
        double t = 0;
        for (size_t i = 0; i < C; i++) t += L[s][i] = 0.05 + (double)((s * 7 + i * 3) % 11);
        for (size_t i = 0; i < C; i++) L[s][i] /= t;
        for (size_t j = 0; j < D; j++) {
            double v = 0;
            for (size_t i = 0; i < C; i++) v += L[s][i] * V[i * D + j];
            x[s * D + j] = (float)v;
        }
    }
    memcpy(x + S * D, V, sizeof V);
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN));
    double dev = 0, unc = 0;
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < K; k++) {
            double v = 0;
            for (size_t i = 0; i < C; i++) v += L[s][i] * y[(S + i) * K + k];
            dev = fmax(dev, fabs(v - y[s * K + k]));
        }
    ck_assert_msg(dev < 1e-5, "train-mode affinity error %g", dev);
    sslk_police_destroy(p);
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN));
    for (size_t s = 0; s < S; s++)
        for (size_t k = 0; k < K; k++) {
            double v = 0;
            for (size_t i = 0; i < C; i++) v += L[s][i] * y[(S + i) * K + k];
            unc = fmax(unc, fabs(v - y[s * K + k]));
        }
    ck_assert_msg(unc > 1e-3, "unconstrained net already affine (%g)", unc);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- P2: exact region counts ------------------------------------------------------ */

static size_t count_on(sslk_ctx *c, sslk_model *m, const float *poly, size_t n, bool police) {
    sslk_slice *s = NULL;
    sslk_partition *part = NULL;
    size_t r = 0;
    ck_ok(sslk_slice_from_polygon(c, poly, n, 2, &s));
    if (police) ck_ok(sslk_police_splinecam(c, m, s, 0, &part));
    else ck_ok(sslk_splinecam(c, m, s, 0, &part));
    ck_ok(sslk_partition_info(part, &r, NULL, NULL, NULL));
    sslk_partition_destroy(part);
    sslk_slice_destroy(s);
    return r;
}

START_TEST(splinecam_one_region) {
    sslk_ctx *c = mkctx(2);
    const char *acts[3] = {"leaky_relu:0.01", "relu", "abs"};
    const double lo[2] = {-0.5, -0.5}, hi[2] = {0.5, 0.5};
    float box[8], big[8] = {-1, -1, 1, -1, -1, 1, 1, 1};
    size_t C;
    ck_ok(sslk_police_box_vertices(lo, hi, 2, box, 4, &C));
    for (int a = 0; a < 3; a++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            char spec[128];
            snprintf(spec, sizeof spec, "linear:16,%s,linear:16,%s,linear:16,%s,linear:1", acts[a], acts[a],
                     acts[a]);
            sslk_model *m = mlp(c, 2, spec, 100 + seed);
            size_t before = count_on(c, m, box, 4, false);
            ck_assert_msg(before > 20, "%s seed %d: only %zu regions before", spec, (int)seed, before);
            sslk_police *p = NULL;
            ck_ok(sslk_police_create(m, box, 4, 2, &p));
            sslk_police_report r = {.struct_size = sizeof r};
            ck_ok(sslk_police_verify(c, m, box, 4, 2, 200, 1, &r));
            ck_assert_int_eq(r.slice_checked, 1);
            ck_assert_uint_eq(r.rank, 2);
            ck_assert_msg(r.regions_inside == 1, "%s seed %d: %zu regions inside", spec, (int)seed,
                          r.regions_inside);
            ck_assert_msg(r.regions_around > 10, "%s: only %zu regions around", spec, r.regions_around);
            size_t outside = count_on(c, m, big, 4, true);
            ck_assert_msg(outside > 20, "%s: %zu regions in [-1,1]^2", spec, outside);
            ck_ok(sslk_police_freeze(p));
            /* the frozen net through the public SplineCam */
            ck_assert_uint_eq(count_on(c, m, box, 4, false), 1);
            sslk_police_destroy(p);
            sslk_model_destroy(m);
        }
    sslk_ctx_destroy(c);
}
END_TEST

/* A polygon in a 2-D slice of a 6-D input space (lower-dimensional region). */
START_TEST(slice_polygon_region) {
    sslk_ctx *c = mkctx(1);
    const size_t D = 6;
    sslk_model *m = mlp(c, D, "linear:24,relu,linear:24,leaky_relu:0.1,linear:3", 31);
    float origin[6], dirs[12], V[5 * 6];
    tu_fill_uniform(origin, D, 3, -0.5f, 0.5f);
    tu_fill_uniform(dirs, 2 * D, 4, -1, 1);
    const double uv[10] = {0, 0, 1, 0, 1.3, 0.7, 0.5, 1.2, -0.2, 0.6};
    ck_ok(sslk_police_polygon_vertices(origin, dirs, D, uv, 5, V));
    for (size_t j = 0; j < D; j++)
        ck_close(V[2 * D + j], origin[j] + 1.3 * dirs[j] + 0.7 * dirs[D + j], 1e-6, 1e-6);
    sslk_police *p = NULL;
    ck_ok(sslk_police_create(m, V, 5, D, &p));
    size_t rank;
    ck_ok(sslk_police_info(p, NULL, NULL, &rank, NULL, NULL, NULL));
    ck_assert_uint_eq(rank, 2);
    sslk_police_report r = {.struct_size = sizeof r};
    ck_ok(sslk_police_verify(c, m, V, 5, D, 200, 2, &r));
    ck_assert_int_eq(r.slice_checked, 1);
    ck_assert_uint_eq(r.regions_inside, 1);
    ck_assert_msg(r.affine_max_rel < 1e-9, "affinity %g", r.affine_max_rel);
    ck_assert_uint_gt(r.regions_around, 1);
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- helpers and bad inputs ---------------------------------------------------------- */

START_TEST(vertex_helpers) {
    const double lo[3] = {-1, 0, 2}, hi[3] = {1, 0.5, 3};
    float out[24];
    size_t C = 0;
    ck_status(sslk_police_box_vertices(lo, hi, 3, out, 7, &C), SSLK_E_RANGE);
    ck_assert_uint_eq(C, 8);
    ck_ok(sslk_police_box_vertices(lo, hi, 3, out, 8, &C));
    /* corner 5 = bits 0 and 2 -> (hi0, lo1, hi2) */
    ck_assert_float_eq(out[15], 1.0f);
    ck_assert_float_eq(out[16], 0.0f);
    ck_assert_float_eq(out[17], 3.0f);
    double l17[17] = {0}, h17[17];
    for (int i = 0; i < 17; i++) h17[i] = 1;
    ck_status(sslk_police_box_vertices(l17, h17, 17, NULL, 0, &C), SSLK_E_UNSUPPORTED);
    const double bad[3] = {1, 0, 2};
    ck_status(sslk_police_box_vertices(bad, hi, 3, out, 8, &C), SSLK_E_INVALID_ARG);
    const float x0[2] = {0.5f, -1.0f};
    ck_ok(sslk_police_simplex_vertices(x0, 2, 0.25, out));
    const float sw[6] = {0.5f, -1.0f, 0.75f, -1.0f, 0.5f, -0.75f};
    for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], sw[i]);
    ck_status(sslk_police_simplex_vertices(x0, 2, 0.0, out), SSLK_E_INVALID_ARG);
    const float dpar[4] = {1, 0, 2, 0};
    const double uv[6] = {0, 0, 1, 0, 0, 1};
    ck_status(sslk_police_polygon_vertices(NULL, dpar, 2, uv, 3, out), SSLK_E_DEGENERATE);
}
END_TEST

START_TEST(bad_inputs) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mlp(c, 2, "linear:4,relu,linear:1", 3);
    float V[8] = {0, 0, 1, 0, 0, 1, 1, 1};
    sslk_police *p = NULL;
    ck_status(sslk_police_create(NULL, V, 4, 2, &p), SSLK_E_INVALID_ARG);
    ck_status(sslk_police_create(m, V, 4, 3, &p), SSLK_E_SHAPE);
    ck_status(sslk_police_create(m, V, 1, 2, &p), SSLK_E_SHAPE);
    float same[6] = {1, 2, 1, 2, 1, 2};
    ck_status(sslk_police_create(m, same, 3, 2, &p), SSLK_E_DEGENERATE);
    V[3] = NAN;
    ck_status(sslk_police_create(m, V, 4, 2, &p), SSLK_E_NONFINITE);
    V[3] = 0;
    ck_ok(sslk_police_create(m, V, 4, 2, &p));
    sslk_police *q = NULL;
    ck_status(sslk_police_create(m, V, 4, 2, &q), SSLK_E_STATE);
    ck_status(sslk_police_set_f64(p, SSLK_POLICE_CONSTRAIN_OUTPUT, 2), SSLK_E_SETTING);
    ck_status(sslk_police_set_f64(p, 2799, 0), SSLK_E_SETTING);
    /* changing the architecture while attached is detected */
    ck_ok(sslk_model_add_relu(m));
    ck_ok(sslk_model_add_linear(m, 2, 1));
    float x[2] = {0.1f, 0.2f}, y[2];
    ck_status(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL), SSLK_E_STATE);
    ck_status(sslk_police_freeze(p), SSLK_E_STATE);
    sslk_police_report rs = {.struct_size = sizeof rs};
    ck_status(sslk_police_verify(c, m, V, 4, 2, 10, 1, &rs), SSLK_E_STATE);
    sslk_police_destroy(p);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    sslk_model_destroy(m);
    /* max-pool refused */
    size_t shp[3] = {1, 4, 4};
    ck_ok(sslk_model_from_spec(c, "conv:2:3:1:1,relu,maxpool:2,flatten,linear:1", 3, shp, 1, &m));
    float Vi[17 * 16];
    ck_ok(sslk_police_simplex_vertices(NULL, 16, 1.0, Vi));
    ck_status(sslk_police_create(m, Vi, 17, 16, &p), SSLK_E_UNSUPPORTED);
    sslk_model_destroy(m);
    /* no bias to fold into: freeze refuses and leaves the model unchanged */
    m = mlp(c, 2, "linear:8:nobias,relu,linear:1", 4);
    float before[8 * 2 + 9], after[8 * 2 + 9];
    ck_ok(sslk_model_get_param(m, "0.weight", before, 16));
    ck_ok(sslk_police_create(m, V, 4, 2, &p));
    ck_status(sslk_police_freeze(p), SSLK_E_UNSUPPORTED);
    ck_ok(sslk_model_get_param(m, "0.weight", after, 16));
    ck_assert_mem_eq(before, after, 16 * sizeof(float));
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL)); /* still attached */
    sslk_police_report r = {.struct_size = 8};
    ck_status(sslk_police_verify(c, m, V, 4, 2, 10, 1, &r), SSLK_E_INVALID_ARG);
    r.struct_size = sizeof r;
    ck_status(sslk_police_verify(c, m, V, 4, 2, 0, 1, &r), SSLK_E_INVALID_ARG);
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    /* a non-finite parameter (written behind the setters' checks) is named by
     * the binder in the double paths; freeze then leaves the model unchanged */
    m = mlp(c, 2, "linear:4,relu,linear:1", 5);
    ck_ok(sslk_police_create(m, V, 4, 2, &p));
    sslk_param_view v = {.struct_size = sizeof v};
    ck_ok(sslk_model_param(m, 1, &v));
    ck_assert_str_eq(v.name, "0.bias");
    float b2 = v.data[2];
    v.data[2] = INFINITY;
    ck_status(sslk_police_verify(c, m, V, 4, 2, 10, 1, &r), SSLK_E_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "layer '0' bias[2] is not finite"));
    ck_status(sslk_police_freeze(p), SSLK_E_NONFINITE);
    ck_assert(isinf(v.data[2]));
    v.data[2] = b2;
    ck_ok(sslk_police_freeze(p));
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_police_destroy(NULL);
    sslk_ctx_destroy(c);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("police");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, p1_unit_shifts);
    tcase_add_test(t, gradients_mlp);
    tcase_add_test(t, gradients_conv);
    tcase_add_test(t, affinity_and_freeze);
    tcase_add_test(t, train_mode_affine);
    tcase_add_test(t, splinecam_one_region);
    tcase_add_test(t, slice_polygon_region);
    tcase_add_test(t, vertex_helpers);
    tcase_add_test(t, bad_inputs);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tu_run(suite()) ? 1 : 0; }
