/* Optimizers and schedule: updates against hand-computed values, groups,
 * NaN refusal, exact state restore, and a small MLP trained with SGD.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static sslk_ctx *mkctx(void) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    return c;
}

static sslk_param_view view(const char *name, float *d, float *g, size_t n, unsigned flags) {
    sslk_param_view v;
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v;
    v.name = name, v.data = d, v.grad = g, v.count = n, v.ndim = 1, v.shape[0] = n, v.flags = flags;
    return v;
}

START_TEST(sgd_momentum_weight_decay_nesterov) {
    sslk_ctx *c = mkctx();
    float p[2] = {1, -2}, g[2] = {0.5f, 1};
    sslk_optim *o;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_SGD, &o));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_LR, 0.1));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, 0.9));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_WEIGHT_DECAY, 0.01));
    sslk_param_view v = view("w", p, g, 2, 0);
    ck_ok(sslk_optim_add_params(o, &v, 1, 0));
    ck_ok(sslk_optim_step(o));
    ck_close(p[0], 0.949, 1e-6, 0);
    ck_close(p[1], -2.098, 1e-6, 0);
    ck_ok(sslk_optim_step(o));
    ck_close(p[0], 0.852151, 1e-6, 0);
    ck_close(p[1], -2.284102, 1e-6, 0);
    sslk_optim_destroy(o);
    /* Nesterov: first step d + 0.9 d */
    float q[2] = {1, -2};
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_SGD, &o));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_LR, 0.1));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, 0.9));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_WEIGHT_DECAY, 0.01));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_NESTEROV, 1));
    v = view("w", q, g, 2, 0);
    ck_ok(sslk_optim_add_params(o, &v, 1, 0));
    ck_ok(sslk_optim_step(o));
    ck_close(q[0], 0.9031, 1e-6, 0);
    ck_close(q[1], -2.1862, 1e-6, 0);
    ck_status(sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, -0.1), SSLK_E_SETTING);
    ck_status(sslk_optim_set_f64(o, SSLK_LARS_ETA, 0.1), SSLK_E_SETTING);
    sslk_optim_destroy(o);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(lars_trust_ratio_and_exclusions) {
    sslk_ctx *c = mkctx();
    float w[2] = {3, 4}, gw[2] = {0.3f, 0.4f}, b[1] = {1}, gb[1] = {0.5f};
    sslk_optim *o;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_LARS, &o));
    ck_ok(sslk_optim_set_f64(o, SSLK_LARS_LR, 2.0));
    ck_ok(sslk_optim_set_f64(o, SSLK_LARS_WEIGHT_DECAY, 0.1));
    sslk_param_view v[2] = {view("0.weight", w, gw, 2, 0), view("0.bias", b, gb, 1, SSLK_PARAM_NO_DECAY)};
    ck_ok(sslk_optim_add_params(o, v, 2, 0));
    ck_ok(sslk_optim_step(o));
    /* dp = g + 0.1 p = (0.6, 0.8), |dp| = 1, |p| = 5, q = 0.005; p -= 2 * 0.005 dp */
    ck_close(w[0], 2.994, 1e-6, 0);
    ck_close(w[1], 3.992, 1e-6, 0);
    ck_close(b[0], 0.0, 0, 1e-7); /* excluded: plain momentum SGD, 1 - 2 * 0.5 */
    ck_ok(sslk_optim_step(o));
    ck_close(w[0], 2.982612, 1e-6, 0);
    ck_close(w[1], 3.976816, 1e-6, 0);
    ck_close(b[0], -1.9, 1e-6, 0); /* mu = 0.9 * 0.5 + 0.5 = 0.95 */
    sslk_optim_destroy(o);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(adamw_two_steps) {
    sslk_ctx *c = mkctx();
    float p[1] = {1}, g[1] = {0.5f};
    sslk_optim *o;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_ADAMW, &o));
    ck_ok(sslk_optim_set_f64(o, SSLK_ADAMW_LR, 0.1));
    sslk_param_view v = view("w", p, g, 1, 0);
    ck_ok(sslk_optim_add_params(o, &v, 1, 0));
    ck_ok(sslk_optim_step(o));
    ck_close(p[0], 0.899, 1e-6, 0);
    ck_ok(sslk_optim_step(o));
    ck_close(p[0], 0.798101, 1e-6, 0);
    uint64_t s;
    ck_ok(sslk_optim_steps(o, &s));
    ck_assert_uint_eq(s, 2);
    sslk_optim_destroy(o);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(groups_scale_and_nan_refusal) {
    sslk_ctx *c = mkctx();
    float a[2] = {1, 1}, ga[2] = {1, 1}, b[2] = {1, 1}, gb[2] = {1, 1};
    sslk_optim *o;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_SGD, &o));
    sslk_param_view va = view("a", a, ga, 2, 0), vb = view("b", b, gb, 2, 0);
    ck_status(sslk_optim_add_params(o, &va, 1, 1), SSLK_E_RANGE);
    ck_ok(sslk_optim_add_params(o, &va, 1, 0));
    ck_status(sslk_optim_add_params(o, &va, 1, 1), SSLK_E_INVALID_ARG); /* registered twice */
    sslk_param_view twice[2] = {vb, vb};
    ck_status(sslk_optim_add_params(o, twice, 2, 1), SSLK_E_INVALID_ARG);
    twice[1].struct_size = 8;
    ck_status(sslk_optim_add_params(o, twice, 2, 1), SSLK_E_INVALID_ARG);
    ck_ok(sslk_optim_add_params(o, &vb, 1, 1));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_LR, 0.1));
    ck_ok(sslk_optim_group_set_f64(o, 1, SSLK_SGD_LR, 0.01));
    ck_status(sslk_optim_group_set_f64(o, 2, SSLK_SGD_LR, 0.01), SSLK_E_RANGE);
    double lr;
    ck_ok(sslk_optim_get_f64(o, 1, SSLK_SGD_LR, &lr));
    ck_close(lr, 0.01, 0, 0);
    ck_ok(sslk_optim_set_lr_scale(o, 0.5));
    ck_ok(sslk_optim_step(o));
    ck_close(a[0], 0.95, 1e-7, 0);
    ck_close(b[0], 0.995, 1e-7, 0);
    gb[1] = NAN;
    ck_status(sslk_optim_step(o), SSLK_E_NONFINITE);
    ck_assert_msg(strstr(sslk_last_error(), "'b'") && strstr(sslk_last_error(), "element 1"), "%s",
                  sslk_last_error());
    ck_close(a[0], 0.95, 1e-7, 0); /* nothing moved */
    ck_close(b[0], 0.995, 1e-7, 0);
    ga[0] = INFINITY;
    gb[1] = 1;
    ck_status(sslk_optim_step(o), SSLK_E_NONFINITE);
    ck_ok(sslk_optim_zero_grad(o));
    ck_assert(ga[0] == 0.0f && gb[1] == 0.0f);
    size_t ng, nt;
    ck_ok(sslk_optim_counts(o, &ng, &nt));
    ck_assert_uint_eq(ng, 2);
    ck_assert_uint_eq(nt, 2);
    /* frozen views are skipped */
    float f[1] = {1};
    sslk_param_view vf = view("f", f, NULL, 1, SSLK_PARAM_FROZEN);
    ck_ok(sslk_optim_add_params(o, &vf, 1, 0));
    ck_ok(sslk_optim_counts(o, NULL, &nt));
    ck_assert_uint_eq(nt, 2);
    sslk_optim *bad = o;
    ck_status(sslk_optim_create(c, (sslk_optim_kind)7, &bad), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(bad);
    sslk_optim_destroy(o);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(state_restore_is_exact) {
    sslk_ctx *c = mkctx();
    for (int kind = SSLK_OPTIM_SGD; kind <= SSLK_OPTIM_ADAMW; kind++) {
        float p[5], g[5], q[5];
        tu_fill_uniform(p, 5, 1, -1, 1);
        sslk_optim *a, *b;
        ck_ok(sslk_optim_create(c, (sslk_optim_kind)kind, &a));
        ck_ok(sslk_optim_create(c, (sslk_optim_kind)kind, &b));
        if (kind == SSLK_OPTIM_SGD) {
            ck_ok(sslk_optim_set_f64(a, SSLK_SGD_MOMENTUM, 0.9));
            ck_ok(sslk_optim_set_f64(b, SSLK_SGD_MOMENTUM, 0.9));
        }
        sslk_param_view va = view("p", p, g, 5, 0), vb = view("q", q, g, 5, 0);
        ck_ok(sslk_optim_add_params(a, &va, 1, 0));
        ck_ok(sslk_optim_add_params(b, &vb, 1, 0));
        for (unsigned s = 0; s < 3; s++) {
            tu_fill_uniform(g, 5, 10 + s, -1, 1);
            ck_ok(sslk_optim_step(a));
        }
        size_t nb;
        ck_ok(sslk_optim_state_size(a, &nb));
        unsigned char *blob = malloc(nb);
        ck_status(sslk_optim_state_get(a, blob, nb - 1), SSLK_E_SHAPE);
        ck_ok(sslk_optim_state_get(a, blob, nb));
        memcpy(q, p, sizeof q);
        ck_status(sslk_optim_state_set(b, blob, nb - 4), SSLK_E_FORMAT);
        blob[0] ^= 1;
        ck_status(sslk_optim_state_set(b, blob, nb), SSLK_E_FORMAT);
        blob[0] ^= 1;
        ck_ok(sslk_optim_state_set(b, blob, nb));
        for (unsigned s = 0; s < 2; s++) {
            tu_fill_uniform(g, 5, 20 + s, -1, 1);
            ck_ok(sslk_optim_step(a));
            ck_ok(sslk_optim_step(b));
        }
        ck_assert_int_eq(memcmp(p, q, sizeof p), 0);
        uint64_t sa, sb;
        ck_ok(sslk_optim_steps(a, &sa));
        ck_ok(sslk_optim_steps(b, &sb));
        ck_assert_uint_eq(sa, sb);
        free(blob);
        sslk_optim_destroy(a);
        sslk_optim_destroy(b);
    }
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(warmup_cosine_values) {
    double lr;
    ck_ok(sslk_schedule_warmup_cosine(0, 10, 110, 1.0, 0.1, &lr));
    ck_close(lr, 0.1, 1e-12, 0);
    ck_ok(sslk_schedule_warmup_cosine(9, 10, 110, 1.0, 0.1, &lr));
    ck_close(lr, 1.0, 1e-12, 0);
    ck_ok(sslk_schedule_warmup_cosine(10, 10, 110, 1.0, 0.1, &lr));
    ck_close(lr, 1.0, 1e-12, 0);
    ck_ok(sslk_schedule_warmup_cosine(60, 10, 110, 1.0, 0.1, &lr));
    ck_close(lr, 0.55, 1e-12, 0);
    ck_ok(sslk_schedule_warmup_cosine(35, 10, 110, 1.0, 0.0, &lr));
    ck_close(lr, 0.5 * (1 + cos(M_PI / 4)), 1e-12, 0);
    ck_ok(sslk_schedule_warmup_cosine(500, 10, 110, 1.0, 0.1, &lr));
    ck_close(lr, 0.1, 1e-12, 0);
    ck_status(sslk_schedule_warmup_cosine(0, 0, 10, NAN, 0, &lr), SSLK_E_NONFINITE);
}
END_TEST

/* Fit |x1| on 64 fixed points in [-1, 1]^2 with linear:16,relu,linear:1 and
 * mean squared error.  The best constant predictor has loss Var(t) (about
 * 1/12); |x1| = relu(x1) + relu(-x1) is exactly representable, so training
 * must get far below it: we require 5% of the sample variance. */
START_TEST(mlp_sgd_reaches_bound) {
    sslk_ctx *c = mkctx();
    size_t shape[1] = {2};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:16,relu,linear:1", 1, shape, 3, &m));
    enum { N = 64 };
    float x[2 * N], t[N], y[N], gy[N];
    tu_fill_uniform(x, 2 * N, 5, -1, 1);
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) mean += t[i] = fabsf(x[2 * i]);
    mean /= N;
    for (int i = 0; i < N; i++) var += (t[i] - mean) * (t[i] - mean);
    var /= N;
    sslk_optim *o;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_SGD, &o));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_LR, 0.05));
    ck_ok(sslk_optim_set_f64(o, SSLK_SGD_MOMENTUM, 0.9));
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        ck_ok(sslk_optim_add_params(o, &v, 1, 0));
    }
    double loss = 0;
    for (int step = 0; step < 1500; step++) {
        ck_ok(sslk_model_forward(m, x, N, y, SSLK_MODE_TRAIN));
        loss = 0;
        for (int i = 0; i < N; i++) {
            loss += (y[i] - t[i]) * (y[i] - t[i]) / N;
            gy[i] = 2.0f * (y[i] - t[i]) / N;
        }
        ck_ok(sslk_model_zero_grad(m));
        ck_ok(sslk_model_backward(m, gy, NULL));
        ck_ok(sslk_optim_step(o));
    }
    ck_assert_msg(loss < 0.05 * var, "final loss %g, bound %g", loss, 0.05 * var);
    sslk_optim_destroy(o);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_add_test(tc, sgd_momentum_weight_decay_nesterov);
    tcase_add_test(tc, lars_trust_ratio_and_exclusions);
    tcase_add_test(tc, adamw_two_steps);
    tcase_add_test(tc, groups_scale_and_nan_refusal);
    tcase_add_test(tc, state_restore_is_exact);
    tcase_add_test(tc, warmup_cosine_values);
    tcase_add_test(tc, mlp_sgd_reaches_bound);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
