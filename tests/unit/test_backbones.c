/* Backbones and the layers they need: padded max-pool and adaptive average
 * pooling against double reference loops (forward) and central finite
 * differences of the double reference (backward); backbone tokens, the
 * canonical spec, torchvision tensor names and counts, clone / save / load,
 * torchvision's initialisation (moments), and the CPWL binder on a whole
 * backbone against the float forward.  torchvision equivalence itself is in
 * tests/python/test_backbones.py.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geometry/model_bind.h"
#include "nn/layers.h"
#include "testutil.h"

static sslk_ctx *mkctx(void) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    return c;
}

static sslk_model *mk(sslk_ctx *c, const char *spec, size_t ch, size_t h, size_t w) {
    size_t shape[3] = {ch, h, w};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, spec, 3, shape, 7, &m));
    return m;
}

static void spec_is(sslk_model *m, const char *want);

/* ---- pooling: double reference ---------------------------------------------- */

typedef struct pool_case {
    const char *spec;
    int adaptive;               /* 0: max-pool k, s, p; 1: adaptive to (oh, ow) */
    size_t k, s, p, oh, ow;     /* geometry of the layer */
    size_t c, h, w;             /* input */
} pool_case;

static const pool_case pool_cases[] = {
    {"maxpool:3:2:1", 0, 3, 2, 1, 0, 0, 2, 7, 7},
    {"maxpool:3:1:1", 0, 3, 1, 1, 0, 0, 1, 5, 6},
    {"maxpool:2:2:1", 0, 2, 2, 1, 0, 0, 2, 5, 4},
    {"maxpool:5:3:2", 0, 5, 3, 2, 0, 0, 1, 8, 9},
    {"adaptive_avgpool:3", 1, 0, 0, 0, 3, 3, 2, 7, 7},
    {"adaptive_avgpool:2:3", 1, 0, 0, 0, 2, 3, 2, 5, 4},
    {"adaptive_avgpool:1", 1, 0, 0, 0, 1, 1, 3, 4, 5},
    {"adaptive_avgpool:4", 1, 0, 0, 0, 4, 4, 2, 3, 3},
};

static void out_size(const pool_case *P, size_t *oh, size_t *ow) {
    if (P->adaptive) {
        *oh = P->oh, *ow = P->ow;
    } else {
        *oh = (P->h + 2 * P->p - P->k) / P->s + 1;
        *ow = (P->w + 2 * P->p - P->k) / P->s + 1;
    }
}

/* Written from PyTorch's definitions: -inf padding; bins [floor(i L / n), ceil((i + 1) L / n)). */
static void ref_pool(const pool_case *P, const double *x, double *y) {
    size_t oh, ow;
    out_size(P, &oh, &ow);
    for (size_t ch = 0; ch < P->c; ch++)
        for (size_t i = 0; i < oh; i++)
            for (size_t j = 0; j < ow; j++) {
                double v;
                if (P->adaptive) {
                    size_t a0 = (size_t)floor((double)(i * P->h) / (double)oh);
                    size_t a1 = (size_t)ceil((double)((i + 1) * P->h) / (double)oh);
                    size_t b0 = (size_t)floor((double)(j * P->w) / (double)ow);
                    size_t b1 = (size_t)ceil((double)((j + 1) * P->w) / (double)ow);
                    v = 0;
                    for (size_t a = a0; a < a1; a++)
                        for (size_t b = b0; b < b1; b++) v += x[(ch * P->h + a) * P->w + b];
                    v /= (double)((a1 - a0) * (b1 - b0));
                } else {
                    v = -INFINITY;
                    for (size_t a = 0; a < P->k; a++)
                        for (size_t b = 0; b < P->k; b++) {
                            long yy = (long)(i * P->s + a) - (long)P->p, xx = (long)(j * P->s + b) - (long)P->p;
                            if (yy < 0 || xx < 0 || yy >= (long)P->h || xx >= (long)P->w) continue;
                            double t = x[(ch * P->h + (size_t)yy) * P->w + (size_t)xx];
                            if (t > v) v = t;
                        }
                }
                y[(ch * oh + i) * ow + j] = v;
            }
}

START_TEST(pool_forward_and_gradient_vs_double_reference) {
    const pool_case *P = &pool_cases[_i];
    sslk_ctx *c = mkctx();
    sslk_model *m = mk(c, P->spec, P->c, P->h, P->w);
    size_t oh, ow, nd, os[3];
    out_size(P, &oh, &ow);
    ck_ok(sslk_model_output_shape(m, &nd, os));
    ck_assert_uint_eq(nd, 3);
    ck_assert_uint_eq(os[1], oh);
    ck_assert_uint_eq(os[2], ow);
    const size_t n = 2, in = P->c * P->h * P->w, out = P->c * oh * ow;
    float *x = malloc(n * in * sizeof(float)), *y = malloc(n * out * sizeof(float));
    float *gy = malloc(n * out * sizeof(float)), *gx = malloc(n * in * sizeof(float));
    double *xd = malloc(in * sizeof(double)), *yd = malloc(out * sizeof(double)), *coef = malloc(n * out * sizeof(double));
    /* distinct values (no max-pool ties), well apart relative to the step */
    for (size_t i = 0; i < n * in; i++) x[i] = (float)(((i * 7919) % (n * in)) * 0.01 - 0.3);
    tu_fill_uniform_d(coef, n * out, 3, -1.0, 1.0);
    for (size_t i = 0; i < n * out; i++) gy[i] = (float)coef[i];
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN));
    ck_ok(sslk_model_backward(m, gy, gx));
    const double h = 1e-3;
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < in; i++) xd[i] = x[r * in + i];
        ref_pool(P, xd, yd);
        for (size_t o = 0; o < out; o++) ck_close(y[r * out + o], yd[o], 1e-6, 1e-6);
        /* d/dx_i of sum_o coef_o y_o by central differences of the double reference */
        for (size_t i = 0; i < in; i++) {
            double lp = 0, lm = 0, old = xd[i];
            xd[i] = old + h;
            ref_pool(P, xd, yd);
            for (size_t o = 0; o < out; o++) lp += coef[r * out + o] * yd[o];
            xd[i] = old - h;
            ref_pool(P, xd, yd);
            for (size_t o = 0; o < out; o++) lm += coef[r * out + o] * yd[o];
            xd[i] = old;
            ck_close(gx[r * in + i], (lp - lm) / (2 * h), 1e-5, 1e-6);
        }
    }
    free(x), free(y), free(gy), free(gx), free(xd), free(yd), free(coef);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(pool_hand_values) {
    sslk_ctx *c = mkctx();
    /* 3 x 3 of -1 .. -9, window 3, stride 2, padding 1: padding is -inf, not 0 */
    sslk_model *m = mk(c, "maxpool:3:2:1", 1, 3, 3);
    float x[9], y[4];
    for (int i = 0; i < 9; i++) x[i] = (float)-(i + 1);
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_close(y[0], -1, 0, 0);
    ck_close(y[1], -2, 0, 0);
    ck_close(y[2], -4, 0, 0);
    ck_close(y[3], -5, 0, 0);
    /* ties: the first maximum in row-major window order gets the gradient */
    for (int i = 0; i < 9; i++) x[i] = 1.0f;
    float gy[4] = {1, 10, 100, 1000}, gx[9];
    ck_ok(sslk_model_forward(m, x, 1, y, SSLK_MODE_EVAL));
    ck_ok(sslk_model_backward(m, gy, gx));
    ck_close(gx[0], 1, 0, 0);
    ck_close(gx[1], 10, 0, 0);
    ck_close(gx[3], 100, 0, 0);
    ck_close(gx[4], 1000, 0, 0);
    sslk_model_destroy(m);
    /* 1 x 5 -> 1 x 3: bins [0, 2), [1, 4), [3, 5) overlap */
    m = mk(c, "adaptive_avgpool:1:3", 1, 1, 5);
    float a[5] = {1, 2, 3, 4, 5}, b[3];
    ck_ok(sslk_model_forward(m, a, 1, b, SSLK_MODE_EVAL));
    ck_close(b[0], 1.5, 1e-7, 0);
    ck_close(b[1], 3.0, 1e-7, 0);
    ck_close(b[2], 4.5, 1e-7, 0);
    sslk_model_destroy(m);
    /* the builder calls behind the tokens */
    size_t in3[3] = {2, 6, 5};
    ck_ok(sslk_model_create(c, 3, in3, 0, &m));
    ck_ok(sslk_model_add_maxpool_pad(m, 3, 2, 1));
    ck_ok(sslk_model_add_adaptive_avgpool(m, 2, 1));
    spec_is(m, "maxpool:3:2:1,adaptive_avgpool:2:1");
    size_t nd, os[3];
    ck_ok(sslk_model_output_shape(m, &nd, os));
    ck_assert_uint_eq(os[0], 2);
    ck_assert_uint_eq(os[1], 2);
    ck_assert_uint_eq(os[2], 1);
    ck_status(sslk_model_add_maxpool_pad(NULL, 3, 2, 1), SSLK_E_INVALID_ARG);
    ck_status(sslk_model_add_adaptive_avgpool(m, 0, 1), SSLK_E_SHAPE);
    ck_status(sslk_model_add_maxpool_pad(m, 2, 1, 2), SSLK_E_INVALID_ARG);
    sslk_model_destroy(m);
    /* bad geometry */
    sslk_model *e;
    size_t sh[3] = {1, 4, 4};
    ck_status(sslk_model_from_spec(c, "maxpool:3:1:2", 3, sh, 0, &e), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "half the window"));
    ck_status(sslk_model_from_spec(c, "maxpool:3:1:1:1", 3, sh, 0, &e), SSLK_E_INVALID_ARG);
    ck_status(sslk_model_from_spec(c, "adaptive_avgpool:0", 3, sh, 0, &e), SSLK_E_SHAPE);
    ck_status(sslk_model_from_spec(c, "linear:3,adaptive_avgpool:1", 3, sh, 0, &e), SSLK_E_SHAPE);
    ck_status(sslk_model_from_spec(c, "adaptive_avgpool:2:2:2", 3, sh, 0, &e), SSLK_E_INVALID_ARG);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- tokens, canonical spec, names -------------------------------------------- */

/* A shape-only model (nothing allocated or drawn): spec and shapes of big backbones cheaply. */
static sslk_model *mk_dry(sslk_ctx *c, const char *spec, size_t ch, size_t h, size_t w) {
    size_t shape[3] = {ch, h, w};
    sslk_model *m;
    ck_ok(sslk_model_create(c, 3, shape, 0, &m));
    m->dry = true;
    ck_ok(sslk_model_add_spec(m, spec));
    return m;
}

static void spec_is(sslk_model *m, const char *want) {
    char buf[512];
    size_t len;
    ck_ok(sslk_model_spec(m, buf, sizeof buf, &len));
    ck_assert_str_eq(buf, want);
}

START_TEST(tokens_and_canonical_spec) {
    sslk_ctx *c = mkctx();
    static const char *const in[][2] = {
        {"resnet18", "resnet18"},
        {"resnet50-headless", "resnet50-headless"},
        {"resnet18-zeroinit-cifar", "resnet18-cifar-zeroinit"},
        {"resnet34-pad2-fc10-cifar-w2", "resnet34-w2-cifar-pad2-fc10"},
        {"resnet18-fc1000", "resnet18"},
        {"resnet18-cifar , linear:16,bn,relu,linear:8", "resnet18-cifar,linear:16,bn,relu,linear:8"},
        {"conv:3:3:1:1,resnet18-cifar-headless", "conv:3:3:1:1,resnet18-cifar-headless"},
        {"maxpool:3:2:1,maxpool:2:2,maxpool:1:1:0,adaptive_avgpool:3:3,adaptive_avgpool:2:1",
         "maxpool:3:2:1,maxpool:2,maxpool:1,adaptive_avgpool:3,adaptive_avgpool:2:1"},
    };
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        sslk_model *m = mk_dry(c, in[i][0], 3, 32, 32);
        spec_is(m, in[i][1]);
        sslk_model_destroy(m);
    }
    static const char *const bad[] = {"resnet19", "resnet18-", "resnet18-cifar-cifar", "resnet18-pad2",
                                      "resnet18-headless-fc10", "resnet18-w0", "resnet18-w17", "resnet18-fc0",
                                      "resnet18-fc", "resnet18-wide", "resnet18x", "resnet18,resnet18",
                                      "res(resnet18-cifar)", "resnet18-fc99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t shape[3] = {3, 32, 32};
        sslk_model *m = NULL;
        ck_status(sslk_model_from_spec(c, bad[i], 3, shape, 0, &m), SSLK_E_INVALID_ARG);
        ck_assert_ptr_null(m);
        ck_assert_ptr_nonnull(strstr(sslk_last_error(), "resnet"));
    }
    /* add_spec: a second backbone is refused and leaves m unchanged */
    sslk_model *m = mk_dry(c, "resnet18-cifar-headless", 3, 8, 8);
    ck_status(sslk_model_add_spec(m, "linear:4,resnet18"), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "second backbone"));
    spec_is(m, "resnet18-cifar-headless");
    ck_ok(sslk_model_add_spec(m, "linear:4"));
    spec_is(m, "resnet18-cifar-headless,linear:4");
    sslk_model_destroy(m);
    /* a backbone needs an image input */
    size_t vec[1] = {10};
    ck_status(sslk_model_from_spec(c, "resnet18", 1, vec, 0, &m), SSLK_E_SHAPE);
    sslk_ctx_destroy(c);
}
END_TEST

static void tensor_shape(sslk_model *m, const char *name, size_t ndim, size_t a, size_t b, size_t k) {
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v;
        v.struct_size = sizeof v;
        ck_ok(sslk_model_param(m, i, &v));
        if (strcmp(v.name, name)) continue;
        ck_assert_uint_eq(v.ndim, ndim);
        ck_assert_uint_eq(v.shape[0], a);
        if (ndim > 1) ck_assert_uint_eq(v.shape[1], b);
        if (ndim > 2) ck_assert_uint_eq(v.shape[2], k);
        return;
    }
    ck_abort_msg("no tensor named %s", name);
}

START_TEST(torchvision_names_and_counts) {
    sslk_ctx *c = mkctx();
    /* torchvision's parameter counts (sum of numel over model.parameters()) */
    sslk_model *m = mk(c, "resnet18", 3, 64, 64);
    size_t ns, np;
    ck_ok(sslk_model_num_scalars(m, &ns));
    ck_ok(sslk_model_param_count(m, &np));
    ck_assert_uint_eq(ns, 11689512);
    ck_assert_uint_eq(np, 102);
    /* every scalar incl. batch-norm buffers (state_dict less num_batches_tracked), shape-only */
    static const struct {
        const char *spec;
        size_t all;
    } cases[] = {{"resnet18", 11689512 + 9600}, {"resnet34", 21797672 + 2 * 8512}, {"resnet50", 25557032 + 2 * 26560},
                 {"resnet18-cifar-fc10", 11173962 + 9600}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t shape[3] = {3, 64, 64}, all;
        ck_ok(ssli_spec_scalars(c, cases[i].spec, 3, shape, &all));
        ck_assert_uint_eq(all, cases[i].all);
    }
    tensor_shape(m, "conv1.weight", 4, 64, 3, 7);
    tensor_shape(m, "bn1.running_mean", 1, 64, 0, 0);
    tensor_shape(m, "layer1.0.conv1.weight", 4, 64, 64, 3);
    tensor_shape(m, "layer2.0.downsample.0.weight", 4, 128, 64, 1);
    tensor_shape(m, "layer2.0.downsample.1.running_var", 1, 128, 0, 0);
    tensor_shape(m, "layer4.1.bn2.bias", 1, 512, 0, 0);
    tensor_shape(m, "fc.weight", 2, 1000, 512, 0);
    tensor_shape(m, "fc.bias", 1, 1000, 0, 0);
    /* no downsample where shapes agree */
    float tmp[128];
    ck_status(sslk_model_get_param(m, "layer1.0.downsample.0.weight", tmp, 64 * 64), SSLK_E_NOT_FOUND);
    /* set / get by name */
    float w[128];
    for (int i = 0; i < 128; i++) w[i] = 0.5f + (float)i;
    ck_ok(sslk_model_set_param(m, "layer2.0.downsample.1.running_var", w, 128));
    ck_ok(sslk_model_get_param(m, "layer2.0.downsample.1.running_var", tmp, 128));
    ck_assert_mem_eq(w, tmp, sizeof w);
    /* clone and save / load keep spec, names and values */
    sslk_model *k;
    ck_ok(sslk_model_clone(m, &k));
    spec_is(k, "resnet18");
    ck_ok(sslk_model_get_param(k, "layer2.0.downsample.1.running_var", tmp, 128));
    ck_assert_mem_eq(w, tmp, sizeof w);
    sslk_model_destroy(k);
    char path[] = "/tmp/sslk_bb_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_ok(sslk_model_save(m, path));
    ck_ok(sslk_model_load(c, path, &k));
    remove(path);
    spec_is(k, "resnet18");
    ck_ok(sslk_model_get_param(k, "layer2.0.downsample.1.running_var", tmp, 128));
    ck_assert_mem_eq(w, tmp, sizeof w);
    sslk_model_destroy(k);
    sslk_model_destroy(m);
    /* ResNet-50: bottleneck widths, downsample in layer1.0 (64 -> 256), stride on conv2 */
    m = mk(c, "resnet50-headless", 3, 64, 64);
    tensor_shape(m, "conv1.weight", 4, 64, 3, 7);
    tensor_shape(m, "layer1.0.downsample.0.weight", 4, 256, 64, 1);
    tensor_shape(m, "layer3.0.conv2.weight", 4, 256, 256, 3);
    tensor_shape(m, "layer4.2.bn3.weight", 1, 2048, 0, 0);
    sslk_model_destroy(m);
    m = mk_dry(c, "resnet50-w2-headless", 3, 64, 64); /* SimCLR's x2: every width doubled */
    ssli_walk top = ssli_model_walk(m);
    ssli_walk_layer L, B;
    for (size_t i = 0; i < ssli_walk_count(top); i++) {
        ssli_walk_get(top, i, &L);
        if (strcmp(L.name, "layer2.0")) continue;
        ck_assert_int_eq(L.op, SSLI_WALK_ADD);
        ssli_walk_get(L.body, 0, &B);
        ck_assert_str_eq(B.name, "layer2.0.conv1");
        ck_assert_uint_eq(B.stride, 1);
        ck_assert_uint_eq(B.out.c, 256);
        ssli_walk_get(L.body, 3, &B);
        ck_assert_str_eq(B.name, "layer2.0.conv2");
        ck_assert_uint_eq(B.stride, 2);
        ck_assert_uint_eq(B.out.h, 8); /* 64 -> stem 16 -> layer2 8 */
    }
    size_t nd, os[3];
    ck_ok(sslk_model_output_shape(m, &nd, os));
    ck_assert_uint_eq(nd, 1);
    ck_assert_uint_eq(os[0], 4096);
    sslk_model_destroy(m);
    /* layers after a backbone: head.<j> */
    m = mk(c, "resnet18-cifar-headless,linear:32,bn,relu,linear:8", 3, 32, 32);
    tensor_shape(m, "head.0.weight", 2, 32, 512, 0);
    tensor_shape(m, "head.1.running_mean", 1, 32, 0, 0);
    tensor_shape(m, "head.3.bias", 1, 8, 0, 0);
    tensor_shape(m, "conv1.weight", 4, 64, 3, 3);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- initialisation ---------------------------------------------------------- */

static void moments(sslk_model *m, const char *name, size_t count, double *mean, double *var, double *amax) {
    float *w = malloc(count * sizeof(float));
    ck_ok(sslk_model_get_param(m, name, w, count));
    double s = 0, s2 = 0, mx = 0;
    for (size_t i = 0; i < count; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
        if (fabs(w[i]) > mx) mx = fabs(w[i]);
    }
    *mean = s / (double)count;
    *var = s2 / (double)count - *mean * *mean;
    *amax = mx;
    free(w);
}

START_TEST(torchvision_init_moments) {
    sslk_ctx *c = mkctx();
    sslk_model *m = mk(c, "resnet18-zeroinit,linear:64", 3, 32, 32);
    double mu, var, mx;
    /* kaiming normal, fan_out, relu gain: var 2 / (cout k k); sd of the sample variance sqrt(2 / n) */
    moments(m, "layer4.1.conv2.weight", 512 * 512 * 9, &mu, &var, &mx);
    ck_close(var, 2.0 / (512 * 9), 0.01, 0);
    ck_close(mu, 0, 0, 5 * sqrt(2.0 / (512 * 9) / (512.0 * 512 * 9)));
    moments(m, "conv1.weight", 64 * 3 * 49, &mu, &var, &mx);
    ck_close(var, 2.0 / (64 * 49), 0.06, 0);
    ck_assert(mx > 3 * sqrt(2.0 / (64 * 49))); /* a normal's tail, not a uniform */
    moments(m, "layer3.0.downsample.0.weight", 256 * 128, &mu, &var, &mx);
    ck_close(var, 2.0 / 256, 0.04, 0);
    /* fc: PyTorch Linear default U(-1/sqrt(fan_in), +): var bound^2 / 3, bias the same bound */
    double bound = 1.0 / sqrt(512.0);
    moments(m, "fc.weight", 1000 * 512, &mu, &var, &mx);
    ck_close(var, bound * bound / 3, 0.01, 0);
    ck_assert(mx <= bound);
    ck_assert(mx > 0.99 * bound);
    moments(m, "fc.bias", 1000, &mu, &var, &mx);
    ck_assert(mx <= bound);
    ck_close(var, bound * bound / 3, 0.15, 0);
    /* the head after the backbone keeps the PyTorch default (fan_in 1000) */
    moments(m, "head.0.weight", 64 * 1000, &mu, &var, &mx);
    ck_assert(mx <= 1.0 / sqrt(1000.0));
    ck_close(var, 1.0 / 3000, 0.03, 0);
    /* batch-norm: gamma 1, beta 0, buffers 0 / 1; zeroinit: the last bn of every block at 0 */
    moments(m, "layer1.0.bn1.weight", 64, &mu, &var, &mx);
    ck_close(mu, 1, 0, 0);
    ck_close(var, 0, 0, 0);
    moments(m, "layer1.0.bn2.weight", 64, &mu, &var, &mx);
    ck_close(mx, 0, 0, 0);
    moments(m, "layer3.0.downsample.1.weight", 256, &mu, &var, &mx);
    ck_close(mu, 1, 0, 0);
    moments(m, "layer2.1.bn2.bias", 128, &mu, &var, &mx);
    ck_close(mx, 0, 0, 0);
    moments(m, "layer2.1.bn2.running_var", 128, &mu, &var, &mx);
    ck_close(mu, 1, 0, 0);
    /* re-initialising: other schemes apply to every layer, the default gives the same values back */
    float *a = malloc(512 * 512 * 9 * sizeof(float)), *b = malloc(512 * 512 * 9 * sizeof(float));
    ck_ok(sslk_model_get_param(m, "layer4.1.conv2.weight", a, 512 * 512 * 9));
    ck_ok(sslk_model_init_params(m, SSLK_INIT_KAIMING_NORMAL, 7));
    moments(m, "conv1.weight", 64 * 3 * 49, &mu, &var, &mx);
    ck_close(var, 2.0 / (3 * 49), 0.06, 0);
    moments(m, "layer1.0.bn2.weight", 64, &mu, &var, &mx);
    ck_close(mx, 0, 0, 0); /* zeroinit is part of the spec */
    ck_ok(sslk_model_init_params(m, SSLK_INIT_PYTORCH, 7));
    ck_ok(sslk_model_get_param(m, "layer4.1.conv2.weight", b, 512 * 512 * 9));
    ck_assert_mem_eq(a, b, 512 * 512 * 9 * sizeof(float));
    free(a), free(b);
    sslk_model_destroy(m);
    /* resnet50-zeroinit: bn3 of every bottleneck */
    m = mk(c, "resnet50-zeroinit-headless", 3, 32, 32);
    moments(m, "layer3.5.bn3.weight", 1024, &mu, &var, &mx);
    ck_close(mx, 0, 0, 0);
    moments(m, "layer3.5.bn2.weight", 256, &mu, &var, &mx);
    ck_close(mu, 1, 0, 0);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- the CPWL binder on a whole backbone ------------------------------------- */

START_TEST(cpwl_binder_runs_a_backbone) {
    sslk_ctx *c = mkctx();
    /* 7x7/2 stem and padded max-pool: 3 x 24 x 24 reaches layer4 at 1 x 1 */
    sslk_model *m = mk(c, "resnet18-fc5", 3, 24, 24);
    /* non-trivial batch-norm statistics */
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v;
        v.struct_size = sizeof v;
        ck_ok(sslk_model_param(m, i, &v));
        if (strstr(v.name, "running_var")) tu_fill_uniform(v.data, v.count, (unsigned)i, 0.5f, 2.0f);
        else if (strstr(v.name, "running_mean")) tu_fill_uniform(v.data, v.count, (unsigned)i, -0.2f, 0.2f);
        else if (strstr(v.name, "bn") && strstr(v.name, "bias")) tu_fill_uniform(v.data, v.count, (unsigned)i, -0.2f, 0.2f);
    }
    const size_t in = 3 * 24 * 24, n = 2;
    float *x = malloc(n * in * sizeof(float)), y[10];
    tu_fill_uniform(x, n * in, 11, -1.0f, 1.0f);
    ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_EVAL));
    ssli_cpwl net;
    ssli_bind_opts o = {0};
    o.fn = "test";
    ck_ok(ssli_cpwl_bind(m, &o, &net));
    double *xd = malloc(n * in * sizeof(double)), yd[10];
    for (size_t i = 0; i < n * in; i++) xd[i] = x[i];
    ck_ok(ssli_cpwl_eval_rows(&net, xd, n, yd, NULL, NULL, NULL));
    double scale = 0;
    for (int i = 0; i < 10; i++) scale = fmax(scale, fabs(yd[i]));
    for (int i = 0; i < 10; i++) ck_close(y[i], yd[i], 0, 1e-4 * scale);
    ssli_cpwl_free(&net);
    sslk_model_destroy(m);
    /* unequal adaptive bins have no CPWL form: refused by name */
    m = mk(c, "conv:2:3:1:1,adaptive_avgpool:2,flatten,linear:2", 1, 5, 5);
    ck_status(ssli_cpwl_bind(m, &o, &net), SSLK_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'1'"));
    sslk_model_destroy(m);
    free(x), free(xd);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(police_names_unsupported_backbone_layers) {
    sslk_ctx *c = mkctx();
    sslk_model *m = mk(c, "resnet18-fc4", 3, 24, 24);
    sslk_police *p = NULL;
    float *v = malloc(2 * 3 * 24 * 24 * sizeof(float));
    tu_fill_uniform(v, 2 * 3 * 24 * 24, 5, -1.0f, 1.0f);
    ck_status(sslk_police_create(m, v, 2, 3 * 24 * 24, &p), SSLK_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'maxpool'"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "ResNet"));
    sslk_model_destroy(m);
    m = mk(c, "resnet18-cifar-fc4", 3, 8, 8);
    ck_status(sslk_police_create(m, v, 2, 3 * 8 * 8, &p), SSLK_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'layer1.0.relu_1'"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "residual sum"));
    sslk_model_destroy(m);
    m = mk(c, "conv:2:3:1:1,relu,adaptive_avgpool:2,flatten,linear:2", 3, 5, 5);
    ck_status(sslk_police_create(m, v, 2, 3 * 5 * 5, &p), SSLK_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'2' is an adaptive average pool"));
    sslk_model_destroy(m);
    m = mk(c, "conv:2:3:1:1,relu,adaptive_avgpool:1,flatten,linear:2", 3, 4, 4); /* 1 x 1: a gap */
    ck_ok(sslk_police_create(m, v, 2, 3 * 4 * 4, &p));
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    free(v);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backbones");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, pool_forward_and_gradient_vs_double_reference, 0,
                        (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_test(tc, pool_hand_values);
    tcase_add_test(tc, tokens_and_canonical_spec);
    tcase_add_test(tc, torchvision_names_and_counts);
    tcase_add_test(tc, torchvision_init_moments);
    tcase_add_test(tc, cpwl_binder_runs_a_backbone);
    tcase_add_test(tc, police_names_unsupported_backbone_layers);
    suite_add_tcase(s, tc);
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
