/* nn: layers, models, spec parser, init, hooks.  Gradients are checked
 * against central finite differences of a double-accumulated loss, forward
 * values against hand-computed cases and direct (naive, double) loops.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"
#include "testutil.h"

static sslk_ctx *mkctx(int threads) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    return c;
}

static sslk_model *mk(sslk_ctx *c, const char *spec, size_t ndim, size_t a, size_t b, size_t d,
                      uint64_t seed) {
    size_t shape[3] = {a, b, d};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, spec, ndim, shape, seed, &m));
    return m;
}

/* L = sum_i coef_i * y_i in double. */
static double loss_of(sslk_model *m, const float *x, size_t n, const double *coef, sslk_mode mode) {
    size_t out;
    ck_ok(sslk_model_io_size(m, NULL, &out));
    float *y = malloc(n * out * sizeof(float));
    ck_ok(sslk_model_forward(m, x, n, y, mode));
    double L = 0;
    for (size_t i = 0; i < n * out; i++) L += coef[i] * y[i];
    free(y);
    return L;
}

/* The analytic derivative must match the central difference, or, when a
 * kink of a piecewise-linear unit (relu, abs, max-pool switch) lies within
 * h on one side, the one-sided difference of the other side. */
static bool fd_agrees(double g, double central, double lp, double lm, double L0, double h,
                      double atol, double rtol) {
    double right = (lp - L0) / h, left = (L0 - lm) / h;
    return fabs(central - g) <= atol + rtol * fabs(central) ||
           fabs(right - g) <= 2 * atol + rtol * fabs(right) ||
           fabs(left - g) <= 2 * atol + rtol * fabs(left);
}

/* Check every parameter gradient and every input gradient of L against
 * central differences with step h.  BN running statistics are restored
 * around each perturbed pass so eval-mode checks see fixed statistics. */
static void grad_check(sslk_model *m, size_t n, sslk_mode mode, unsigned seed, double h, double atol,
                       double rtol) {
    size_t in, out;
    ck_ok(sslk_model_io_size(m, &in, &out));
    float *x = malloc(n * in * sizeof(float)), *y = malloc(n * out * sizeof(float));
    float *gx = malloc(n * in * sizeof(float)), *gy = malloc(n * out * sizeof(float));
    double *coef = malloc(n * out * sizeof(double));
    tu_fill_uniform(x, n * in, seed, -1.0f, 1.0f);
    tu_fill_uniform_d(coef, n * out, seed + 7, -1.0, 1.0);
    for (size_t i = 0; i < n * out; i++) gy[i] = (float)coef[i];
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    /* snapshot running stats */
    float *save[64] = {0};
    sslk_param_view v[64];
    ck_assert_uint_le(np, 64);
    for (size_t i = 0; i < np; i++) {
        v[i].struct_size = sizeof v[i];
        ck_ok(sslk_model_param(m, i, &v[i]));
        if (v[i].flags & SSLK_PARAM_FROZEN) {
            save[i] = malloc(v[i].count * sizeof(float));
            memcpy(save[i], v[i].data, v[i].count * sizeof(float));
        }
    }
#define RESTORE()                                                                         \
    for (size_t q = 0; q < np; q++)                                                       \
        if (save[q]) memcpy(v[q].data, save[q], v[q].count * sizeof(float));
    ck_ok(sslk_model_zero_grad(m));
    ck_ok(sslk_model_forward(m, x, n, y, mode));
    RESTORE();
    ck_ok(sslk_model_backward(m, gy, gx));
    const double L0 = loss_of(m, x, n, coef, mode);
    RESTORE();
    int checked = 0;
    for (size_t i = 0; i < np; i++) {
        if (v[i].flags & SSLK_PARAM_FROZEN) continue;
        for (size_t j = 0; j < v[i].count; j++) {
            float old = v[i].data[j];
            v[i].data[j] = old + (float)h;
            double lp = loss_of(m, x, n, coef, mode);
            RESTORE();
            v[i].data[j] = old - (float)h;
            double lm = loss_of(m, x, n, coef, mode);
            RESTORE();
            v[i].data[j] = old;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fd_agrees(v[i].grad[j], fd, lp, lm, L0, h, atol, rtol),
                          "param %s[%zu]: backward %.7g, finite difference %.7g (one-sided %.7g, %.7g)",
                          v[i].name, j, (double)v[i].grad[j], fd, (lp - L0) / h, (L0 - lm) / h);
            checked++;
        }
    }
    for (size_t j = 0; j < n * in; j++) {
        float old = x[j];
        x[j] = old + (float)h;
        double lp = loss_of(m, x, n, coef, mode);
        RESTORE();
        x[j] = old - (float)h;
        double lm = loss_of(m, x, n, coef, mode);
        RESTORE();
        x[j] = old;
        double fd = (lp - lm) / (2 * h);
        ck_assert_msg(fd_agrees(gx[j], fd, lp, lm, L0, h, atol, rtol),
                      "input[%zu]: backward %.7g, fd %.7g (one-sided %.7g, %.7g)", j, (double)gx[j], fd,
                      (lp - L0) / h, (L0 - lm) / h);
        checked++;
    }
    ck_assert_int_gt(checked, 0);
    for (size_t i = 0; i < np; i++) free(save[i]);
    free(x), free(y), free(gx), free(gy), free(coef);
#undef RESTORE
}

typedef struct gc_case {
    const char *spec;
    size_t ndim, c, h, w, n;
} gc_case;

static const gc_case layer_cases[] = {
    {"linear:3", 1, 4, 1, 1, 3},
    {"linear:3:nobias", 1, 4, 1, 1, 3},
    {"linear:5,relu,linear:2", 1, 3, 1, 1, 4},
    {"linear:5,leaky_relu:0.2,linear:2", 1, 3, 1, 1, 4},
    {"linear:5,abs,linear:2", 1, 3, 1, 1, 4},
    {"linear:4,bn,linear:2", 1, 3, 1, 1, 5},
    {"conv:3:3:1:1", 3, 2, 5, 5, 2},
    {"conv:2:3:2:1:nobias", 3, 2, 6, 5, 2},
    {"conv:2:2:3:2", 3, 2, 5, 6, 2},
    {"conv:3:1:1:0", 3, 2, 4, 4, 2},
    {"conv:2:2:1:0,bn,linear:2", 3, 2, 4, 4, 3},
    {"conv:2:3:1:1,maxpool:2,flatten,linear:2", 3, 1, 6, 6, 2},
    {"conv:2:3:1:1,avgpool:2:1,linear:2", 3, 1, 5, 5, 2},
    {"conv:2:3:1:1,gap,linear:2", 3, 1, 5, 5, 2},
    {"conv:2:3:1:1,res(conv:2:3:1:1,relu,conv:2:3:1:1),linear:2", 3, 2, 4, 4, 2},
    {"conv:2:3:1:1,res(conv:3:3:2:1,bn,relu,conv:3:3:1:1|conv:3:1:2:0,bn),linear:2", 3, 2, 5, 5, 3},
    {"conv:2:3:1:1", 3, 30, 3, 3, 2}, /* 270 column rows: two channel blocks */
    /* in-place ReLUs (after bn, a residual sum, another ReLU; not after flatten), bodies ending in bn
     * (no gradient copy), nested blocks and a later block growing the shared per-depth buffers */
    {"conv:2:3:1:1,bn,relu,res(conv:3:3:2:1,bn,relu,res(conv:3:3:1:1,bn),relu,conv:3:3:1:1,bn|conv:3:1:2:0,bn),"
     "relu,res(conv:3:3:1:1,bn,relu,conv:3:3:1:1,bn),relu,relu,flatten,relu,linear:2",
     3, 2, 4, 4, 3},
};

START_TEST(layer_gradients_train_and_eval) {
    sslk_ctx *c = mkctx(1);
    const gc_case *k = &layer_cases[_i];
    for (int mode = 0; mode < 2; mode++) {
        sslk_model *m = mk(c, k->spec, k->ndim, k->c, k->h, k->w, 11 + (unsigned)_i);
        if (mode == SSLK_MODE_EVAL) {
            /* non-trivial running statistics for eval mode */
            size_t in, out;
            ck_ok(sslk_model_io_size(m, &in, &out));
            float *x = malloc(8 * in * sizeof(float)), *y = malloc(8 * out * sizeof(float));
            tu_fill_uniform(x, 8 * in, 99, -2.0f, 1.0f);
            ck_ok(sslk_model_forward(m, x, 8, y, SSLK_MODE_TRAIN));
            free(x), free(y);
        }
        grad_check(m, k->n, (sslk_mode)mode, 3 + (unsigned)_i, 1e-3, 3e-3, 1e-2);
        sslk_model_destroy(m);
    }
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(whole_model_gradients) {
    sslk_ctx *c = mkctx(1);
    const char *spec =
        "conv:3:3:1:1,bn,relu,maxpool:2,res(conv:3:3:1:1,bn,leaky_relu:0.1,conv:3:3:1:1,bn|conv:3:1:1:0,bn),"
        "abs,gap,linear:4,bn,relu,linear:2";
    for (int mode = 0; mode < 2; mode++) {
        sslk_model *m = mk(c, spec, 3, 2, 6, 6, 5);
        grad_check(m, 4, (sslk_mode)mode, 21, 1e-3, 3e-3, 1e-2);
        sslk_model_destroy(m);
    }
    sslk_model *m = mk(c, "linear:6,bn,relu,linear:6,leaky_relu:0.05,linear:3", 1, 5, 1, 1, 9);
    grad_check(m, 6, SSLK_MODE_TRAIN, 22, 1e-3, 3e-3, 1e-2);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(linear_and_activations_hand_values) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mk(c, "linear:2,leaky_relu:0.5,linear:1,abs", 1, 3, 1, 1, 0);
    const float W0[6] = {1, 2, 3, -1, 0, 1}, b0[2] = {0.5f, -1};
    const float W1[2] = {2, -4}, b1[1] = {-10};
    ck_ok(sslk_model_set_param(m, "0.weight", W0, 6));
    ck_ok(sslk_model_set_param(m, "0.bias", b0, 2));
    ck_ok(sslk_model_set_param(m, "2.weight", W1, 2));
    ck_ok(sslk_model_set_param(m, "2.bias", b1, 1));
    const float x[3] = {1, 1, 1};
    float y;
    /* h = (6.5, -1) -> leaky (6.5, -0.5) -> 13 + 2 - 10 = 5 -> |5| */
    ck_ok(sslk_model_forward(m, x, 1, &y, SSLK_MODE_EVAL));
    ck_close(y, 5.0, 0, 1e-6);
    const float x2[3] = {0, 0, -1};
    /* h = (-2.5, -2) -> (-1.25, -1) -> -2.5 + 4 - 10 = -8.5 -> 8.5 */
    ck_ok(sslk_model_forward(m, x2, 1, &y, SSLK_MODE_EVAL));
    ck_close(y, 8.5, 0, 1e-6);
    /* backward of |.| at -8.5 with g = 1: d/dh1 = -2 * 0.5 = -1, d/dh2 = -(-4) * 0.5 = 2 */
    float g = 1, gx[3];
    ck_ok(sslk_model_zero_grad(m));
    ck_ok(sslk_model_backward(m, &g, gx));
    /* gx = W0^T (-1, 2) = (-1 - 2, -2 + 0, -3 + 2) */
    ck_close(gx[0], -3.0, 0, 1e-6);
    ck_close(gx[1], -2.0, 0, 1e-6);
    ck_close(gx[2], -1.0, 0, 1e-6);
    float gb[1];
    sslk_param_view v = {.struct_size = sizeof v};
    ck_ok(sslk_model_param(m, 3, &v));
    ck_assert_str_eq(v.name, "2.bias");
    memcpy(gb, v.grad, sizeof gb);
    ck_close(gb[0], -1.0, 0, 1e-6);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Naive double-precision convolution for reference. */
static void naive_conv(const float *x, size_t cin, size_t h, size_t w, const float *W, const float *b,
                       size_t cout, size_t k, size_t s, size_t p, double *y, size_t ho, size_t wo) {
    for (size_t co = 0; co < cout; co++)
        for (size_t oh = 0; oh < ho; oh++)
            for (size_t ow = 0; ow < wo; ow++) {
                double acc = b ? b[co] : 0.0;
                for (size_t ci = 0; ci < cin; ci++)
                    for (size_t i = 0; i < k; i++)
                        for (size_t j = 0; j < k; j++) {
                            long ih = (long)(oh * s + i) - (long)p, iw = (long)(ow * s + j) - (long)p;
                            if (ih < 0 || iw < 0 || ih >= (long)h || iw >= (long)w) continue;
                            acc += (double)W[((co * cin + ci) * k + i) * k + j] * x[(ci * h + ih) * w + iw];
                        }
                y[(co * ho + oh) * wo + ow] = acc;
            }
}

START_TEST(conv_matches_direct_loops) {
    /* cin, h, w, cout, k, stride, padding */
    const size_t cases[][7] = {{3, 7, 6, 4, 3, 1, 1}, {2, 8, 8, 5, 3, 2, 1}, {4, 5, 5, 3, 1, 1, 0},
                               {1, 9, 9, 2, 5, 2, 2}, {2, 5, 6, 3, 2, 3, 2}, {1, 4, 4, 2, 3, 1, 0},
                               {2, 6, 5, 2, 1, 2, 1},
                               /* stride-1 "same" convs (shifted-plane im2col), planes narrower than the pad */
                               {2, 6, 7, 3, 5, 1, 2}, {3, 1, 1, 2, 3, 1, 1}, {2, 2, 3, 2, 5, 1, 2},
                               /* more than 256 column rows: the GEMM's k runs in channel blocks */
                               {32, 5, 4, 3, 3, 1, 1}, {30, 4, 4, 2, 3, 2, 1}, {11, 6, 6, 2, 5, 1, 2}};
    for (int threads = 1; threads <= 2; threads++) {
        sslk_ctx *c = mkctx(threads);
        for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
            size_t cin = cases[t][0], h = cases[t][1], w = cases[t][2], cout = cases[t][3], k = cases[t][4];
            size_t s = cases[t][5], p = cases[t][6], n = 3;
            size_t shape[3] = {cin, h, w};
            sslk_model *m;
            ck_ok(sslk_model_create(c, 3, shape, 42 + t, &m));
            ck_ok(sslk_model_add_conv2d(m, cout, k, s, p, 1));
            size_t nd, os[3], in, out;
            ck_ok(sslk_model_output_shape(m, &nd, os));
            ck_assert_uint_eq(nd, 3);
            ck_assert_uint_eq(os[1], (h + 2 * p - k) / s + 1);
            ck_ok(sslk_model_io_size(m, &in, &out));
            float *x = malloc(n * in * sizeof(float)), *y = malloc(n * out * sizeof(float));
            double *ref = malloc(out * sizeof(double));
            tu_fill_uniform(x, n * in, 5 + (unsigned)t, -1, 1);
            ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_EVAL));
            sslk_param_view W = {.struct_size = sizeof W}, B = {.struct_size = sizeof B};
            ck_ok(sslk_model_param(m, 0, &W));
            ck_ok(sslk_model_param(m, 1, &B));
            ck_assert_int_eq(W.ndim, 4);
            ck_assert_uint_eq(W.shape[1], cin);
            for (size_t r = 0; r < n; r++) {
                naive_conv(x + r * in, cin, h, w, W.data, B.data, cout, k, s, p, ref, os[1], os[2]);
                for (size_t i = 0; i < out; i++) ck_close(y[r * out + i], ref[i], 1e-5, 1e-5);
            }
            free(x), free(y), free(ref);
            sslk_model_destroy(m);
        }
        sslk_ctx_destroy(c);
    }
}
END_TEST

START_TEST(pools_hand_values) {
    sslk_ctx *c = mkctx(1);
    const float x[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    float y[4], g[16];
    sslk_model *m = mk(c, "maxpool:2", 3, 1, 4, 4, 0);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_close(y[0], 6, 0, 0);
    ck_close(y[1], 8, 0, 0);
    ck_close(y[2], 14, 0, 0);
    ck_close(y[3], 16, 0, 0);
    const float gy[4] = {1, 2, 3, 4};
    ck_ok(sslk_model_backward(m, gy, g));
    for (int i = 0; i < 16; i++) {
        double want = i == 5 ? 1 : i == 7 ? 2 : i == 13 ? 3 : i == 15 ? 4 : 0;
        ck_close(g[i], want, 0, 0);
    }
    sslk_model_destroy(m);
    m = mk(c, "avgpool:2", 3, 1, 4, 4, 0);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_close(y[0], 3.5, 0, 1e-6);
    ck_close(y[3], 13.5, 0, 1e-6);
    sslk_model_destroy(m);
    m = mk(c, "maxpool:3:1,gap", 3, 1, 4, 4, 0);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_close(y[0], (11 + 12 + 15 + 16) / 4.0, 0, 1e-6);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(batchnorm_statistics_and_running_averages) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mk(c, "bn", 1, 2, 1, 1, 0);
    const float x[8] = {1, 10, 2, 20, 3, 30, 6, 40};
    float y[8];
    ck_ok(sslk_model_forward(m, x, 4, y, SSLK_MODE_TRAIN));
    /* feature 0: mean 3, biased var (4+1+0+9)/4 = 3.5, unbiased 14/3 */
    double is0 = 1.0 / sqrt(3.5 + 1e-5);
    ck_close(y[0], (1 - 3) * is0, 1e-6, 1e-6);
    ck_close(y[6], (6 - 3) * is0, 1e-6, 1e-6);
    float rm[2], rv[2];
    ck_ok(sslk_model_get_param(m, "0.running_mean", rm, 2));
    ck_ok(sslk_model_get_param(m, "0.running_var", rv, 2));
    ck_close(rm[0], 0.3, 1e-6, 0);
    ck_close(rm[1], 2.5, 1e-6, 0);
    ck_close(rv[0], 0.9 + 0.1 * 14.0 / 3.0, 1e-6, 0);
    /* feature 1: mean 25, sum sq dev 225+25+25+225 = 500, unbiased 500/3 */
    ck_close(rv[1], 0.9 + 0.1 * 500.0 / 3.0, 1e-6, 0);
    /* eval uses running statistics */
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_close(y[0], (1 - 0.3) / sqrt(0.9 + 0.1 * 14.0 / 3.0 + 1e-5), 1e-6, 1e-6);
    /* momentum setting */
    ck_ok(sslk_model_set_f64(m, SSLK_MODEL_BN_MOMENTUM, 1.0));
    ck_ok(sslk_model_forward(m, x, 4, y, SSLK_MODE_TRAIN));
    ck_ok(sslk_model_get_param(m, "0.running_mean", rm, 2));
    ck_close(rm[0], 3.0, 1e-6, 0);
    ck_status(sslk_model_forward(m, x, 1, y, SSLK_MODE_TRAIN), SSLK_E_SHAPE);
    ck_status(sslk_model_set_f64(m, SSLK_MODEL_BN_MOMENTUM, 1.5), SSLK_E_SETTING);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(threads_agree) {
    /* 2-D (conv) and 1-D batch-norm paths large enough to run on 2 threads */
    static const char *specs[2] = {"conv:8:3:1:1,bn,relu,maxpool:2,conv:8:3:1:1,bn,relu,gap,linear:5",
                                   "flatten,linear:300,bn,relu,linear:5"};
    for (int k = 0; k < 2; k++) {
        float *res[2];
        float *grads[2];
        size_t in, out, np, total = 0, n = k == 0 ? 16 : 128;
        for (int t = 1; t <= 2; t++) {
            sslk_ctx *c = mkctx(t);
            sslk_model *m = mk(c, specs[k], 3, 3, 8, 8, 77);
            ck_ok(sslk_model_io_size(m, &in, &out));
            float *x = malloc(n * in * sizeof(float)), *gy = malloc(n * out * sizeof(float));
            res[t - 1] = malloc(n * out * sizeof(float));
            tu_fill_uniform(x, n * in, 1, -1, 1);
            tu_fill_uniform(gy, n * out, 2, -1, 1);
            ck_ok(sslk_model_forward(m, x, n, res[t - 1], SSLK_MODE_TRAIN));
            ck_ok(sslk_model_backward(m, gy, NULL));
            ck_ok(sslk_model_param_count(m, &np));
            grads[t - 1] = malloc(100000 * sizeof(float));
            total = 0;
            for (size_t i = 0; i < np; i++) {
                sslk_param_view v = {.struct_size = sizeof v};
                ck_ok(sslk_model_param(m, i, &v));
                if (v.grad) memcpy(grads[t - 1] + total, v.grad, v.count * sizeof(float)), total += v.count;
            }
            free(x), free(gy);
            sslk_model_destroy(m);
            sslk_ctx_destroy(c);
        }
        for (size_t i = 0; i < n * out; i++) ck_close(res[0][i], res[1][i], 1e-5, 1e-6);
        for (size_t i = 0; i < total; i++) ck_close(grads[0][i], grads[1][i], 1e-4, 1e-5);
        free(res[0]), free(res[1]), free(grads[0]), free(grads[1]);
    }
}
END_TEST

START_TEST(init_is_seeded_and_pytorch_scaled) {
    sslk_ctx *c = mkctx(1);
    sslk_model *a = mk(c, "linear:300", 1, 400, 1, 1, 1), *b = mk(c, "linear:300", 1, 400, 1, 1, 1);
    sslk_model *d = mk(c, "linear:300", 1, 400, 1, 1, 2);
    sslk_param_view va = {.struct_size = sizeof va}, vb = va, vd = va;
    ck_ok(sslk_model_param(a, 0, &va));
    ck_ok(sslk_model_param(b, 0, &vb));
    ck_ok(sslk_model_param(d, 0, &vd));
    ck_assert_int_eq(memcmp(va.data, vb.data, va.count * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(va.data, vd.data, va.count * sizeof(float)), 0);
    /* U(-1/sqrt(400), 1/sqrt(400)) = U(-0.05, 0.05): max |w| <= 0.05, variance 0.05^2 / 3 */
    double s2 = 0, mx = 0;
    for (size_t i = 0; i < va.count; i++) {
        s2 += (double)va.data[i] * va.data[i];
        if (fabs(va.data[i]) > mx) mx = fabs(va.data[i]);
    }
    ck_assert(mx <= 0.05);
    ck_assert(mx > 0.0499);
    ck_close(s2 / (double)va.count, 0.0025 / 3.0, 0.02, 0);
    /* Kaiming normal: variance 2 / fan_in, bias zero */
    ck_ok(sslk_model_init_params(a, SSLK_INIT_KAIMING_NORMAL, 3));
    s2 = 0;
    for (size_t i = 0; i < va.count; i++) s2 += (double)va.data[i] * va.data[i];
    ck_close(s2 / (double)va.count, 2.0 / 400.0, 0.02, 0);
    ck_ok(sslk_model_param(a, 1, &va));
    for (size_t i = 0; i < va.count; i++) ck_assert(va.data[i] == 0.0f);
    ck_ok(sslk_model_init_params(a, SSLK_INIT_KAIMING_NORMAL_OUT, 3));
    ck_status(sslk_model_init_params(a, (sslk_init)9, 3), SSLK_E_INVALID_ARG);
    sslk_model_destroy(a), sslk_model_destroy(b), sslk_model_destroy(d);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(param_names_follow_pytorch) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mk(c, "conv:4:3:1:1:nobias,bn,relu,res(conv:4:3:1:1,bn|conv:4:1:1:0),flatten,linear:3",
                       3, 2, 5, 5, 0);
    const char *want[] = {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                          "3.body.0.weight", "3.body.0.bias", "3.body.1.weight", "3.body.1.bias",
                          "3.body.1.running_mean", "3.body.1.running_var", "3.shortcut.0.weight",
                          "3.shortcut.0.bias", "5.weight", "5.bias"};
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    ck_assert_uint_eq(np, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        ck_assert_str_eq(v.name, want[i]);
        if (strstr(v.name, "running")) {
            ck_assert(v.flags & SSLK_PARAM_FROZEN);
            ck_assert_ptr_null(v.grad);
        }
        if (!strcmp(v.name, "5.weight")) {
            ck_assert_int_eq(v.ndim, 2);
            ck_assert_uint_eq(v.shape[1], 100);
        }
        if (!strcmp(v.name, "1.bias")) ck_assert(v.flags & SSLK_PARAM_NO_DECAY);
    }
    sslk_param_view v = {.struct_size = sizeof v};
    ck_status(sslk_model_param(m, np, &v), SSLK_E_RANGE);
    float buf[3];
    ck_status(sslk_model_get_param(m, "9.weight", buf, 3), SSLK_E_NOT_FOUND);
    ck_status(sslk_model_get_param(m, "5.bias", buf, 2), SSLK_E_SHAPE);
    float bad[3] = {0, NAN, 0};
    ck_status(sslk_model_set_param(m, "5.bias", bad, 3), SSLK_E_NONFINITE);
    size_t ns;
    ck_ok(sslk_model_num_scalars(m, &ns));
    ck_assert_uint_eq(ns, 4 * 2 * 9 + 8 + (4 * 4 * 9 + 4) + 8 + (16 + 4) + 300 + 3);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(spec_errors_name_token_and_offset) {
    sslk_ctx *c = mkctx(1);
    size_t shape[3] = {3, 8, 8};
    sslk_model *m = NULL;
    ck_status(sslk_model_from_spec(c, "conv:4:3:1:1,relu,foo:3", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(sslk_last_error(), "'foo:3'") && strstr(sslk_last_error(), "offset 18"), "%s",
                  sslk_last_error());
    ck_status(sslk_model_from_spec(c, "conv:4:x:1:1", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "'conv:4:x:1:1'") && strstr(sslk_last_error(), "offset 0"));
    ck_status(sslk_model_from_spec(c, "relu,,bn", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "offset 5"));
    ck_status(sslk_model_from_spec(c, "gap,conv:3:3:1:1", 3, shape, 0, &m), SSLK_E_SHAPE);
    ck_assert_msg(strstr(sslk_last_error(), "'conv:3:3:1:1' at offset 4"), "%s", sslk_last_error());
    ck_status(sslk_model_from_spec(c, "maxpool:9", 3, shape, 0, &m), SSLK_E_SHAPE);
    ck_status(sslk_model_from_spec(c, "res(conv:4:3:1:1", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "')'"));
    ck_status(sslk_model_from_spec(c, "res(conv:4:3:1:1)", 3, shape, 0, &m), SSLK_E_SHAPE);
    ck_status(sslk_model_from_spec(c, "linear:0", 3, shape, 0, &m), SSLK_E_SHAPE);
    ck_status(sslk_model_from_spec(c, "linear:99999999999999999999", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_status(sslk_model_from_spec(c, "linear:100000000", 3, shape, 0, &m), SSLK_E_RANGE);
    ck_status(sslk_model_from_spec(c, "leaky_relu:nan", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_status(sslk_model_from_spec(c, "relu)", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    /* a spec starting with ')' or '|' was taken as the identity, the rest ignored (issue 12) */
    ck_status(sslk_model_from_spec(c, ")linear:99999999999", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(sslk_last_error(), "unexpected ')' at offset 0"), "%s", sslk_last_error());
    ck_status(sslk_model_from_spec(c, "  |relu", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert_msg(strstr(sslk_last_error(), "unexpected '|' at offset 2"), "%s", sslk_last_error());
    ck_status(sslk_model_from_spec(c, "res(relu)|abs", 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_assert_msg(strstr(sslk_last_error(), "unexpected '|' at offset 9"), "%s", sslk_last_error());
    /* add_spec leaves the model unchanged on error */
    ck_ok(sslk_model_from_spec(c, " conv:4:3:1:1 , relu ", 3, shape, 0, &m));
    ck_status(sslk_model_add_spec(m, "bn,linear:3,conv:1:1:1:0"), SSLK_E_SHAPE);
    ck_status(sslk_model_add_spec(m, ")relu"), SSLK_E_INVALID_ARG);
    char buf[256];
    size_t len;
    ck_ok(sslk_model_spec(m, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "conv:4:3:1:1,relu");
    ck_status(sslk_model_spec(m, buf, 5, &len), SSLK_E_RANGE);
    ck_assert_uint_eq(len, strlen("conv:4:3:1:1,relu"));
    sslk_model_destroy(m);
    /* canonical round trip */
    const char *spec = "conv:8:3:2:1:nobias,bn,leaky_relu:0.125,res(conv:8:3:1:1,bn,abs|),maxpool:2,"
                       "res(res(conv:8:1:1:0)|avgpool:1),avgpool:2:1,flatten,linear:7:nobias";
    ck_ok(sslk_model_from_spec(c, spec, 3, (size_t[]){3, 16, 16}, 0, &m));
    ck_ok(sslk_model_spec(m, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "conv:8:3:2:1:nobias,bn,leaky_relu:0.125,res(conv:8:3:1:1,bn,abs),maxpool:2,"
                          "res(res(conv:8:1:1:0)|avgpool:1),avgpool:2:1,flatten,linear:7:nobias");
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Issue 12: every size product of spec building is checked.  An output C*H*W
 * that wraps (it wrapped to 0 and im2col wrote past its workspace) is
 * SSLK_E_OVERFLOW; a size that is merely huge is SSLK_E_LIMIT from the
 * context budget, before anything is allocated and with the model unchanged. */
START_TEST(hostile_sizes_refused) {
    sslk_ctx *c = mkctx(1), *small = mkctx(1), *unlimited = mkctx(1);
    ck_ok(sslk_ctx_set_i64(small, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)64 << 20));
    ck_ok(sslk_ctx_set_i64(unlimited, SSLK_CTX_MAX_ALLOC_BYTES, 0));
    sslk_model *m = NULL;
    ck_status(sslk_model_from_spec(c, "conv:16777216:1:1:16777215", 3, (size_t[]){1, 1, 1}, 0, &m),
              SSLK_E_OVERFLOW);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(sslk_last_error(), "'conv:16777216:1:1:16777215' at offset 0") &&
                      strstr(sslk_last_error(), "16777216 x 33554431 x 33554431"),
                  "%s", sslk_last_error());
    /* the reported spec and the CLI's encoder (a 64 MiB budget keeps a wrong build small) */
    ck_status(sslk_model_from_spec(small, "conv:16384:1:1:16777215", 3, (size_t[]){16384, 2, 2}, 0, &m),
              SSLK_E_OVERFLOW);
    ck_status(sslk_model_from_spec(small, "conv:16384:1:1:0,conv:16384:1:1:16777212,gap", 3,
                                   (size_t[]){1, 28, 28}, 0, &m),
              SSLK_E_OVERFLOW);
    ck_assert_msg(strstr(sslk_last_error(), "at offset 17"), "%s", sslk_last_error());
    /* 52 GB of weights: refused by the budget, naming the tensor, before allocating */
    ck_status(sslk_model_from_spec(c, "linear:16777216", 1, (size_t[]){784}, 0, &m), SSLK_E_LIMIT);
    ck_assert_msg(strstr(sslk_last_error(), "weight of 16777216 x 784 floats") &&
                      strstr(sslk_last_error(), "max_alloc_bytes"),
                  "%s", sslk_last_error());
    ck_ok(sslk_model_from_spec(c, "relu", 1, (size_t[]){784}, 0, &m));
    ck_status(sslk_model_add_spec(m, "abs,linear:16777216"), SSLK_E_LIMIT);
    char buf[64];
    size_t len;
    ck_ok(sslk_model_spec(m, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, "relu"); /* the dry pass refused it: nothing was appended */
    sslk_model_destroy(m);
    m = NULL;
    /* one sample's output (2.7 TB) and a conv's im2col columns (64 GB for one sample) */
    ck_status(sslk_model_from_spec(c, "conv:16777216:1:1:100", 3, (size_t[]){1, 1, 1}, 0, &m), SSLK_E_LIMIT);
    ck_assert_msg(strstr(sslk_last_error(), "output"), "%s", sslk_last_error());
    ck_status(sslk_model_from_spec(c, "conv:1:63:1:31", 3, (size_t[]){1024, 64, 64}, 0, &m), SSLK_E_LIMIT);
    ck_assert_msg(strstr(sslk_last_error(), "workspace"), "%s", sslk_last_error());
    /* an input shape is held to the same budget */
    ck_status(sslk_model_create(small, 3, (size_t[]){65, 512, 512}, 0, &m), SSLK_E_LIMIT);
    ck_assert_msg(strstr(sslk_last_error(), "input"), "%s", sslk_last_error());
    /* max-pool keeps int32 winner indices: a plane above 2^31 - 1 values is refused */
    ck_status(sslk_model_from_spec(unlimited, "conv:1:1:1:30000,maxpool:1", 3, (size_t[]){1, 1, 1}, 0, &m),
              SSLK_E_RANGE);
    ck_assert_msg(strstr(sslk_last_error(), "60001 x 60001"), "%s", sslk_last_error());
    ck_assert_ptr_null(m);
    /* sizes near the limits that are fine still build and run */
    ck_ok(sslk_model_from_spec(small, "conv:4:3:1:1,maxpool:2,conv:8:3:2:1,gap,linear:3", 3,
                               (size_t[]){2, 9, 9}, 0, &m));
    float x[2 * 162], y[6];
    tu_fill_uniform(x, 2 * 162, 3, -1, 1);
    ck_ok(sslk_model_forward(m, x, 2, y, SSLK_MODE_TRAIN));
    sslk_model_destroy(m);
    sslk_ctx_destroy(unlimited);
    sslk_ctx_destroy(small);
    sslk_ctx_destroy(c);
}
END_TEST

/* Random token soup: every spec either builds or fails with a message, never crashes. */
START_TEST(spec_parser_survives_garbage) {
    sslk_ctx *c = mkctx(1);
    static const char *atoms[] = {"linear:", "conv:", "bn", "relu", "abs", "leaky_relu:", "maxpool:",
                                  "avgpool:", "gap", "flatten", "res(", ")", "|", ",", ":", "3", "1",
                                  "0", "2", "-1", "0.5", "nobias", " ", "((", "x", "99999999999"};
    const size_t na = sizeof atoms / sizeof atoms[0];
    char spec[256];
    unsigned state = 12345;
    int built = 0;
    for (int it = 0; it < 3000; it++) {
        size_t len = 0;
        int parts = 1 + (int)((state >> 16) % 12);
        for (int k = 0; k < parts; k++) {
            state = state * 1103515245u + 12345u;
            const char *a = atoms[(state >> 16) % na];
            size_t al = strlen(a);
            if (len + al + 1 >= sizeof spec) break;
            memcpy(spec + len, a, al);
            len += al;
        }
        spec[len] = '\0';
        sslk_model *m = NULL;
        sslk_status st = sslk_model_from_spec(c, spec, 3, (size_t[]){2, 6, 6}, 0, &m);
        if (st == SSLK_OK) {
            built++;
            float x[72 * 2], y[4096];
            size_t out;
            ck_ok(sslk_model_io_size(m, NULL, &out));
            tu_fill_uniform(x, 144, (unsigned)it, -1, 1);
            if (out <= 2048) ck_ok(sslk_model_forward(m, x, 2, y, SSLK_MODE_TRAIN));
            sslk_model_destroy(m);
        } else {
            ck_assert_ptr_null(m);
            ck_assert_msg(sslk_last_error()[0] != '\0', "no message for '%s'", spec);
        }
    }
    ck_assert_int_gt(built, 10);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(builder_and_bad_input) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m;
    size_t shape[3] = {2, 4, 4};
    ck_status(sslk_model_create(c, 2, shape, 0, &m), SSLK_E_SHAPE);
    ck_status(sslk_model_create(NULL, 3, shape, 0, &m), SSLK_E_INVALID_ARG);
    ck_ok(sslk_model_create(c, 3, shape, 0, &m));
    ck_ok(sslk_model_add_conv2d(m, 2, 3, 1, 1, 1));
    ck_ok(sslk_model_residual_begin(m));
    ck_ok(sslk_model_add_conv2d(m, 2, 3, 1, 1, 0));
    ck_ok(sslk_model_add_relu(m));
    float x[64], y[64];
    tu_fill_uniform(x, 64, 1, -1, 1);
    ck_status(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL), SSLK_E_STATE);
    ck_ok(sslk_model_residual_end(m));
    ck_status(sslk_model_residual_end(m), SSLK_E_STATE);
    ck_status(sslk_model_residual_shortcut(m), SSLK_E_STATE);
    ck_status(sslk_model_add_leaky_relu(m, NAN), SSLK_E_INVALID_ARG);
    ck_ok(sslk_model_add_gap(m));
    ck_status(sslk_model_add_maxpool(m, 2, 0), SSLK_E_SHAPE);
    float g[2] = {1, 1};
    ck_status(sslk_model_backward(m, g, NULL), SSLK_E_STATE);
    x[5] = NAN;
    ck_status(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL), SSLK_E_NONFINITE);
    x[5] = 0;
    ck_status(sslk_model_forward(m, x, 0, y, SSLK_MODE_EVAL), SSLK_E_SHAPE);
    ck_status(sslk_model_forward(m, x, 1, y, (sslk_mode)5), SSLK_E_INVALID_ARG);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    g[1] = INFINITY;
    ck_status(sslk_model_backward(m, g, NULL), SSLK_E_NONFINITE);
    size_t nd, os[3];
    ck_ok(sslk_model_output_shape(m, &nd, os));
    ck_assert_uint_eq(nd, 1);
    ck_assert_uint_eq(os[0], 2);
    /* clone gives the same outputs */
    sslk_model *k;
    ck_ok(sslk_model_clone(m, &k));
    float y2[2];
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_ok(sslk_model_forward(k, x, 1, y2, SSLK_MODE_EVAL));
    ck_close(y[0], y2[0], 0, 0);
    ck_close(y[1], y2[1], 0, 0);
    sslk_model_destroy(k);
    sslk_model_destroy(m);
    sslk_model_destroy(NULL);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(batch_size_changes_reuse_handle) {
    sslk_ctx *c = mkctx(2);
    sslk_model *m = mk(c, "conv:4:3:1:1,relu,gap,linear:3", 3, 2, 6, 6, 1);
    size_t in, out;
    ck_ok(sslk_model_io_size(m, &in, &out));
    float *x = malloc(9 * in * sizeof(float)), *y9 = malloc(9 * out * sizeof(float)), y1[3];
    tu_fill_uniform(x, 9 * in, 3, -1, 1);
    ck_ok(sslk_model_forward(m, x, 9, y9, SSLK_MODE_EVAL));
    for (size_t r = 0; r < 9; r++) {
        ck_ok(sslk_model_forward(m, x + r * in, 1, y1, SSLK_MODE_EVAL));
        for (size_t j = 0; j < out; j++) ck_close(y1[j], y9[r * out + j], 1e-5, 1e-6);
    }
    free(x), free(y9);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- constraint hook ---------------------------------------------------------
 * A test hook adds the value of the first extra row to every row (per unit):
 * h'[r, k] = h[r, k] + h[n, k]; its backward adds the column sums of g to the
 * extra row.  Gradient checks through it exercise the hook plumbing. */
static int hook_calls;
static sslk_status add_first_extra(void *u, const void *L, float *h, size_t n, size_t c, size_t w) {
    (void)u, (void)L;
    hook_calls++;
    if (!c) return SSLK_OK;
    for (size_t r = 0; r < n + c; r++)
        if (r != n)
            for (size_t k = 0; k < w; k++) h[r * w + k] += h[n * w + k];
    for (size_t k = 0; k < w; k++) h[n * w + k] *= 2.0f;
    return SSLK_OK;
}
static sslk_status add_first_extra_back(void *u, const void *L, float *g, size_t n, size_t c,
                                        size_t w) {
    (void)u, (void)L;
    if (!c) return SSLK_OK;
    for (size_t k = 0; k < w; k++) {
        double s = 0;
        for (size_t r = 0; r < n + c; r++) s += g[r * w + k];
        g[n * w + k] = (float)(s + g[n * w + k]);
    }
    return SSLK_OK;
}

START_TEST(constraint_hook_points_and_gradients) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mk(c, "linear:4,bn,relu,linear:3,leaky_relu:0.1,linear:2", 1, 3, 1, 1, 4);
    float extra[6];
    tu_fill_uniform(extra, 6, 8, -1, 1);
    ssli_model_hook hk = {2, extra, add_first_extra, add_first_extra_back, NULL};
    ck_assert(!ssli_seq_is_preact(&m->top, 0));
    ck_assert(ssli_seq_is_preact(&m->top, 1));
    ck_assert(ssli_seq_is_preact(&m->top, 3));
    ck_assert(ssli_seq_is_preact(&m->top, 5));
    ssli_model_set_hook(m, &hk);
    hook_calls = 0;
    float x[12], y[8];
    tu_fill_uniform(x, 12, 1, -1, 1);
    ck_ok(sslk_model_forward(m, x, 4, y, SSLK_MODE_TRAIN));
    ck_assert_int_eq(hook_calls, 3);
    grad_check(m, 4, SSLK_MODE_TRAIN, 5, 1e-3, 3e-3, 1e-2);
    grad_check(m, 4, SSLK_MODE_EVAL, 6, 1e-3, 3e-3, 1e-2);
    ssli_model_set_hook(m, NULL);
    sslk_model_destroy(m);
    /* extra rows with identity hooks leave the data rows' outputs unchanged, bn stats from data rows */
    m = mk(c, "linear:4,bn,relu,linear:2", 1, 3, 1, 1, 4);
    ssli_model_hook none = {2, extra, NULL, NULL, NULL};
    float y0[8];
    ck_ok(sslk_model_forward(m, x, 4, y0, SSLK_MODE_TRAIN));
    ssli_model_set_hook(m, &none);
    ck_ok(sslk_model_forward(m, x, 4, y, SSLK_MODE_TRAIN));
    for (int i = 0; i < 8; i++) ck_close(y[i], y0[i], 1e-6, 1e-6);
    grad_check(m, 4, SSLK_MODE_TRAIN, 9, 1e-3, 3e-3, 1e-2);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- read-only walk (nn/walk.h) ----------------------------------------------
 * Operations, shapes, parameters, pre-activation flags and nested residual
 * walks; the hook's keys are the walk's keys. */
static const void *seen_keys[8];
static int nseen;
static sslk_status record_key(void *u, const void *key, float *h, size_t n, size_t c, size_t w) {
    (void)u, (void)h, (void)n, (void)c, (void)w;
    if (nseen < 8) seen_keys[nseen] = key;
    nseen++;
    return SSLK_OK;
}

START_TEST(walk_describes_layers_and_residual_blocks) {
    sslk_ctx *c = mkctx(1);
    sslk_model *m = mk(c, "linear:4,bn,leaky_relu:0.25,res(linear:4,abs,linear:4|linear:4),relu,linear:2", 1, 3, 1, 1,
                       7);
    ck_ok(sslk_model_set_f64(m, SSLK_MODEL_BN_EPS, 1e-3));
    ssli_walk w = ssli_model_walk(m);
    ck_assert_uint_eq(ssli_walk_count(w), 6);
    ssli_walk_layer L[6];
    for (size_t i = 0; i < 6; i++) ssli_walk_get(w, i, &L[i]);
    const ssli_walk_op ops[6] = {SSLI_WALK_DENSE, SSLI_WALK_NORM, SSLI_WALK_UNIT, SSLI_WALK_ADD, SSLI_WALK_UNIT,
                                 SSLI_WALK_DENSE};
    for (size_t i = 0; i < 6; i++) ck_assert_int_eq(L[i].op, ops[i]);
    ck_assert_str_eq(L[0].name, "0");
    ck_assert_uint_eq(L[0].in.c, 3);
    ck_assert_uint_eq(L[0].out.c, 4);
    ck_assert_uint_eq(L[0].weight_count, 12);
    ck_assert_uint_eq(L[0].bias_count, 4);
    ck_assert(!L[0].preact && L[1].preact && !L[2].preact);
    ck_assert(L[1].mean != NULL && L[1].var != NULL);
    ck_assert(L[1].eps == 1e-3);
    ck_assert(L[2].neg == 0.25 && L[2].pos == 1.0);
    ck_assert(L[4].neg == 0.0);
    /* the residual block: nested body and shortcut walks */
    ck_assert(!L[3].identity);
    ck_assert_uint_eq(ssli_walk_count(L[3].body), 3);
    ck_assert_uint_eq(ssli_walk_count(L[3].shortcut), 1);
    ssli_walk_layer b0, b1, b2, s0;
    ssli_walk_get(L[3].body, 0, &b0);
    ssli_walk_get(L[3].body, 1, &b1);
    ssli_walk_get(L[3].body, 2, &b2);
    ssli_walk_get(L[3].shortcut, 0, &s0);
    ck_assert_str_eq(b0.name, "3.body.0");
    ck_assert_str_eq(s0.name, "3.shortcut.0");
    ck_assert(b1.op == SSLI_WALK_UNIT && b1.neg == -1.0);
    ck_assert(b0.preact && b2.preact && s0.preact);
    ck_assert_str_eq(ssli_walk_key_name(b2.key), "3.body.2");
    ck_assert(L[5].preact && L[5].weight_count == 8);
    ck_assert_uint_eq(ssli_shape_numel(ssli_model_out_shape(m)), 2);
    /* the hook sees the pre-activation points in walk order, by key */
    float extra[3] = {0.1f, 0.2f, 0.3f}, x[6] = {1, 2, 3, -1, 0, 1}, y[4];
    ssli_model_hook hk = {1, extra, record_key, NULL, NULL};
    ssli_model_set_hook(m, &hk);
    ck_assert(ssli_model_hook_of(m) == &hk);
    nseen = 0;
    ck_ok(sslk_model_forward(m, x, 2, y, SSLK_MODE_EVAL));
    ck_assert_int_eq(nseen, 5);
    ck_assert(seen_keys[0] == L[1].key && seen_keys[1] == b0.key && seen_keys[2] == b2.key &&
              seen_keys[3] == s0.key && seen_keys[4] == L[5].key);
    ssli_model_set_hook(m, NULL);
    ck_assert(ssli_model_hook_of(m) == NULL);
    sslk_model_destroy(m);
    /* identity shortcut */
    m = mk(c, "linear:4,relu,res(linear:4,relu,linear:4),relu,linear:2", 1, 3, 1, 1, 8);
    ssli_walk_layer r;
    ssli_walk_get(ssli_model_walk(m), 2, &r);
    ck_assert(r.op == SSLI_WALK_ADD && r.identity);
    ck_assert_uint_eq(ssli_walk_count(r.shortcut), 0);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

Suite *nn_suite(void);
Suite *nn_suite(void) {
    Suite *s = suite_create("nn");
    TCase *tc = tcase_create("layers");
    tcase_add_loop_test(tc, layer_gradients_train_and_eval, 0, (int)(sizeof layer_cases / sizeof layer_cases[0]));
    tcase_add_test(tc, whole_model_gradients);
    tcase_add_test(tc, linear_and_activations_hand_values);
    tcase_add_test(tc, conv_matches_direct_loops);
    tcase_add_test(tc, pools_hand_values);
    tcase_add_test(tc, batchnorm_statistics_and_running_averages);
    tcase_add_test(tc, threads_agree);
    tcase_add_test(tc, init_is_seeded_and_pytorch_scaled);
    tcase_add_test(tc, param_names_follow_pytorch);
    tcase_add_test(tc, spec_errors_name_token_and_offset);
    tcase_add_test(tc, builder_and_bad_input);
    tcase_add_test(tc, spec_parser_survives_garbage);
    tcase_add_test(tc, hostile_sizes_refused);
    tcase_add_test(tc, batch_size_changes_reuse_handle);
    tcase_add_test(tc, constraint_hook_points_and_gradients);
    tcase_add_test(tc, walk_describes_layers_and_residual_blocks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(nn_suite()); }
