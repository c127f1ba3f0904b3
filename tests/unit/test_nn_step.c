/* nn, issue 16 (the rest of a training step): the batch-norm + ReLU pair
 * back-propagated in one pass against the two layers run apart (bit for
 * bit) and against a double-precision reference computed layer by layer;
 * the conv column cache against recomputed columns (bit for bit) on odd
 * shapes, over its memory budget and across a thread-count change;
 * batch-norm over planes: thread-count invariance, far-from-zero statistics;
 * determinism for a fixed seed and thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/model_internal.h"
#include "testutil.h"

/* A hook with no callbacks: seq.c then runs the ReLU's backward on its own
 * (the unfused path) and changes nothing else. */
static const ssli_model_hook NO_FUSE = {0};

typedef struct step_out {
    float *y, *gx, *grads;
    size_t ny, nx, ng;
} step_out;

static void out_free(step_out *o) { free(o->y), free(o->gx), free(o->grads); }

/* Forward (mode) + backward of L = sum coef * y from a fresh model of the
 * spec; every parameter gradient concatenated.  Returns the model (caller
 * destroys) so callers can inspect layer state. */
static sslk_model *run_step(sslk_ctx *c, const char *spec, size_t ndim, const size_t *shape, size_t n,
                            sslk_mode mode, bool fuse, bool cache, unsigned seed, step_out *o) {
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, spec, ndim, shape, 11, &m));
    if (!fuse) ssli_model_set_hook(m, &NO_FUSE);
    m->cols_cache = cache;
    size_t in, out, np;
    ck_ok(sslk_model_io_size(m, &in, &out));
    ck_ok(sslk_model_param_count(m, &np));
    float *x = malloc(n * in * sizeof(float)), *gy = malloc(n * out * sizeof(float));
    tu_fill_uniform(x, n * in, seed, -1.0f, 1.0f);
    tu_fill_uniform(gy, n * out, seed + 3, -1.0f, 1.0f);
    o->ny = n * out, o->nx = n * in, o->ng = 0;
    o->y = malloc(o->ny * sizeof(float));
    o->gx = malloc(o->nx * sizeof(float));
    ck_ok(sslk_model_zero_grad(m));
    ck_ok(sslk_model_forward(m, x, n, o->y, mode));
    ck_ok(sslk_model_backward(m, gy, o->gx));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        if (v.grad) o->ng += v.count;
    }
    o->grads = malloc((o->ng ? o->ng : 1) * sizeof(float));
    size_t k = 0;
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(m, i, &v));
        if (!v.grad) continue;
        memcpy(o->grads + k, v.grad, v.count * sizeof(float));
        k += v.count;
    }
    free(x), free(gy);
    return m;
}

static void ck_same(const float *a, const float *b, size_t n, const char *what, const char *spec) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&a[i], &b[i], sizeof(float)) == 0, "%s: %s[%zu] %.9g vs %.9g", spec, what, i,
                      (double)a[i], (double)b[i]);
}

static void ck_same_out(const step_out *a, const step_out *b, const char *spec) {
    ck_assert_uint_eq(a->ng, b->ng);
    ck_same(a->y, b->y, a->ny, "y", spec);
    ck_same(a->gx, b->gx, a->nx, "gx", spec);
    ck_same(a->grads, b->grads, a->ng, "param grad", spec);
}

typedef struct shape_case {
    const char *spec;
    size_t ndim, c, h, w, n;
} shape_case;

static const shape_case FUSE_CASES[] = {
    {"bn,relu", 3, 3, 5, 4, 4},                          /* planes of 20: the 8-lane tail */
    {"conv:4:3:2:1,bn,relu,conv:2:1:1:0", 3, 2, 9, 7, 3}, /* stride 2, padding, 1x1 after */
    {"bn,relu", 3, 2, 23, 23, 2},                        /* planes of 529: several mask blocks */
    {"bn,relu", 3, 3, 4, 4, 1},                          /* batch 1 (statistics over the plane) */
    {"linear:6,bn,relu,linear:3", 1, 5, 1, 1, 7},        /* batch-norm 1d */
    {"conv:3:3:1:1,bn,relu,res(conv:3:3:1:1,bn,relu,conv:3:3:1:1,bn),relu,gap,linear:2", 3, 2, 6, 6, 3},
    {"bn,relu", 3, 20, 32, 32, 3}, /* above the threading threshold: planes split over threads */
};

START_TEST(bn_relu_fused_matches_unfused) {
    for (int threads = 1; threads <= 2; threads++) {
        sslk_ctx *c;
        ck_ok(sslk_ctx_create(&c));
        ck_ok(sslk_ctx_set_threads(c, threads));
        for (size_t t = 0; t < sizeof FUSE_CASES / sizeof FUSE_CASES[0]; t++) {
            const shape_case *k = &FUSE_CASES[t];
            const size_t shape[3] = {k->c, k->h, k->w};
            for (int mode = 0; mode < 2; mode++) {
                const sslk_mode md = mode ? SSLK_MODE_EVAL : SSLK_MODE_TRAIN;
                if (md == SSLK_MODE_TRAIN && k->ndim == 1 && k->n < 2) continue;
                step_out a, b;
                sslk_model_destroy(run_step(c, k->spec, k->ndim, shape, k->n, md, true, false, 7 + (unsigned)t, &a));
                sslk_model_destroy(run_step(c, k->spec, k->ndim, shape, k->n, md, false, false, 7 + (unsigned)t, &b));
                ck_same_out(&a, &b, k->spec);
                /* where the model ends in the ReLU, it did rectify some values (the mask is not trivial) */
                const size_t sl = strlen(k->spec);
                if (sl >= 4 && strcmp(k->spec + sl - 4, "relu") == 0) {
                    size_t zero = 0;
                    for (size_t i = 0; i < a.ny; i++) zero += a.y[i] == 0.0f;
                    ck_assert_uint_gt(zero, 0);
                    ck_assert_uint_lt(zero, a.ny);
                }
                out_free(&a), out_free(&b);
            }
        }
        sslk_ctx_destroy(c);
    }
}
END_TEST

/* "bn,relu" on (c, h, w) images against the layers in double: forward with
 * batch statistics (biased variance), L = sum coef y, backward through the
 * ReLU mask and the batch-norm's three terms. */
START_TEST(bn_relu_matches_double_reference) {
    const size_t C = 3, H = 5, W = 6, N = 4, HW = H * W, CHW = C * HW;
    const size_t shape[3] = {C, H, W};
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "bn,relu", 3, shape, 3, &m));
    /* non-trivial gamma / beta */
    sslk_param_view gv = {.struct_size = sizeof gv}, bv = {.struct_size = sizeof bv};
    ck_ok(sslk_model_param(m, 0, &gv));
    ck_ok(sslk_model_param(m, 1, &bv));
    for (size_t j = 0; j < C; j++) gv.data[j] = 0.5f + 0.25f * (float)j, bv.data[j] = 0.1f * (float)j - 0.1f;
    float x[N * CHW], y[N * CHW], gy[N * CHW], gx[N * CHW];
    tu_fill_uniform(x, N * CHW, 21, -2.0f, 2.0f);
    tu_fill_uniform(gy, N * CHW, 22, -1.0f, 1.0f);
    ck_ok(sslk_model_zero_grad(m));
    ck_ok(sslk_model_forward(m, x, N, y, SSLK_MODE_TRAIN));
    ck_ok(sslk_model_backward(m, gy, gx));
    const double eps = 1e-5, M = (double)(N * HW);
    for (size_t j = 0; j < C; j++) {
        double mu = 0, var = 0;
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) mu += x[r * CHW + j * HW + p];
        mu /= M;
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) var += pow(x[r * CHW + j * HW + p] - mu, 2);
        var /= M;
        const double is = 1.0 / sqrt(var + eps), gam = gv.data[j], bet = bv.data[j];
        double s1 = 0, s2 = 0; /* sums of the masked gradient and of it times xhat */
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) {
                const size_t i = r * CHW + j * HW + p;
                const double h = (x[i] - mu) * is, v = gam * h + bet;
                ck_close(y[i], v > 0 ? v : 0.0, 1e-5, 1e-5);
                const double g = v > 0 ? gy[i] : 0.0;
                s1 += g, s2 += g * h;
            }
        ck_close(bv.grad[j], s1, 1e-5, 1e-5);
        ck_close(gv.grad[j], s2, 1e-5, 1e-5);
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) {
                const size_t i = r * CHW + j * HW + p;
                const double h = (x[i] - mu) * is, v = gam * h + bet, g = v > 0 ? gy[i] : 0.0;
                ck_close(gx[i], gam * is * (g - s1 / M - h * s2 / M), 1e-4, 1e-5);
            }
    }
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

static const shape_case CONV_CASES[] = {
    {"conv:4:3:2:1,bn,relu,conv:3:3:1:1", 3, 2, 9, 7, 5}, /* stride 2 + padding, then stride 1 */
    {"conv:3:1:1:0,relu,conv:2:1:2:0", 3, 4, 6, 5, 6},    /* 1x1 (gathered columns), 1x1 stride 2 */
    {"conv:2:3:1:1,conv:2:3:2:1", 3, 30, 4, 4, 3},        /* 270 column rows: two channel blocks */
    {"conv:3:5:2:2,relu,conv:2:3:1:0", 3, 1, 8, 8, 1},    /* batch 1, the default stem's shape */
    {"conv:3:3:1:1,res(conv:3:3:1:1,bn,relu,conv:3:3:1:1),gap,linear:2", 3, 2, 5, 5, 4},
    {"conv:8:3:1:1,conv:8:3:1:1", 3, 3, 30, 30, 40}, /* chunks of several samples, a partial last one */
};

START_TEST(conv_cached_columns_match_recomputed) {
    for (int threads = 1; threads <= 2; threads++) {
        sslk_ctx *c;
        ck_ok(sslk_ctx_create(&c));
        ck_ok(sslk_ctx_set_threads(c, threads));
        for (size_t t = 0; t < sizeof CONV_CASES / sizeof CONV_CASES[0]; t++) {
            const shape_case *k = &CONV_CASES[t];
            const size_t shape[3] = {k->c, k->h, k->w};
            step_out a, b;
            sslk_model *m = run_step(c, k->spec, 3, shape, k->n, SSLK_MODE_TRAIN, true, true, 30 + (unsigned)t, &a);
            /* the first conv kept its columns (pointwise with one sample per chunk builds none) */
            const ssli_layer *L0 = &m->top.layers[0];
            ck_assert_uint_eq(L0->cols_rows, k->n);
            ck_assert_uint_gt(m->cols_used, 0);
            sslk_model_destroy(m);
            m = run_step(c, k->spec, 3, shape, k->n, SSLK_MODE_TRAIN, true, false, 30 + (unsigned)t, &b);
            ck_assert_uint_eq(m->top.layers[0].cols_rows, 0);
            sslk_model_destroy(m);
            ck_same_out(&a, &b, k->spec);
            out_free(&a), out_free(&b);
        }
        sslk_ctx_destroy(c);
    }
}
END_TEST

/* Over the budget (a quarter of max_alloc_bytes here) later layers recompute;
 * an eval-mode forward keeps nothing; a thread-count change between forward
 * and backward (another chunking) falls back to recomputing. */
START_TEST(conv_cache_budget_and_fallbacks) {
    const char *spec = "conv:8:3:1:1,conv:8:3:1:1,conv:8:3:1:1";
    const size_t shape[3] = {8, 12, 12}, n = 6;
    const size_t per_layer = n * 72 * 144 * sizeof(float); /* rows x ckk x hw_out floats */
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, 2));
    /* room for two layers' columns, not three */
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, (int64_t)(4 * 2 * per_layer + 64)));
    step_out a, b;
    sslk_model *m = run_step(c, spec, 3, shape, n, SSLK_MODE_TRAIN, true, true, 5, &a);
    ck_assert_uint_eq(m->top.layers[0].cols_rows, n);
    ck_assert_uint_eq(m->top.layers[1].cols_rows, n);
    ck_assert_uint_eq(m->top.layers[2].cols_rows, 0);
    ck_assert_uint_eq(m->cols_used, 2 * per_layer);
    ck_assert_ptr_null(m->top.layers[2].aux);
    sslk_model_destroy(m);
    m = run_step(c, spec, 3, shape, n, SSLK_MODE_TRAIN, true, false, 5, &b);
    sslk_model_destroy(m);
    ck_same_out(&a, &b, spec);
    out_free(&a), out_free(&b);

    /* eval mode: nothing kept */
    m = run_step(c, spec, 3, shape, n, SSLK_MODE_EVAL, true, true, 5, &a);
    for (size_t i = 0; i < 3; i++) ck_assert_uint_eq(m->top.layers[i].cols_rows, 0);
    sslk_model_destroy(m);
    out_free(&a);

    /* forward at 2 threads with the cache, backward at 1: the same gradients as
     * a model run at 1 thread throughout would give only up to the thread-order
     * reduction, so compare with the same split done without a cache */
    size_t in, out;
    float *x = malloc(n * 8 * 144 * sizeof(float)), *y = malloc(n * 8 * 144 * sizeof(float));
    float *gy = malloc(n * 8 * 144 * sizeof(float)), *gx[2];
    float *gw[2];
    tu_fill_uniform(x, n * 8 * 144, 8, -1, 1);
    tu_fill_uniform(gy, n * 8 * 144, 9, -1, 1);
    for (int v = 0; v < 2; v++) {
        ck_ok(sslk_ctx_set_threads(c, 2));
        ck_ok(sslk_model_from_spec(c, spec, 3, shape, 11, &m));
        ck_ok(sslk_model_io_size(m, &in, &out));
        m->cols_cache = v == 0;
        ck_ok(sslk_model_zero_grad(m));
        ck_ok(sslk_model_forward(m, x, n, y, SSLK_MODE_TRAIN));
        ck_ok(sslk_ctx_set_threads(c, 1));
        gx[v] = malloc(in * n * sizeof(float));
        ck_ok(sslk_model_backward(m, gy, gx[v]));
        sslk_param_view w = {.struct_size = sizeof w};
        ck_ok(sslk_model_param(m, 0, &w));
        gw[v] = malloc(w.count * sizeof(float));
        memcpy(gw[v], w.grad, w.count * sizeof(float));
        ck_same(gx[v], gx[0], in * n, "gx after a thread change", spec);
        ck_same(gw[v], gw[0], w.count, "weight grad after a thread change", spec);
        sslk_model_destroy(m);
    }
    for (int v = 0; v < 2; v++) free(gx[v]), free(gw[v]);
    free(x), free(y), free(gy);
    sslk_ctx_destroy(c);
}
END_TEST

/* Batch-norm 2d over planes split by plane index, 1d over blocks of rows
 * (issue 16): the same bits at 1, 2, 3 and 5 threads, also with fewer
 * channels than threads and above the threading threshold, train and eval (conv layers are left out: their
 * weight-gradient partials are summed per thread, by design); train statistics of values far
 * from zero (1000 + U(-1, 1): the per-plane moments combined in double must
 * keep the small variance) against a double reference. */
START_TEST(bn_planes_thread_invariant_and_stable) {
    static const shape_case K[] = {
        {"bn,relu", 3, 3, 32, 32, 16},  /* 48 planes of 1024, 3 channels */
        {"bn", 3, 1, 64, 64, 9},        /* one channel: every plane on its own */
        {"bn,relu,bn", 3, 5, 24, 24, 12}, /* two in a row; 60 planes */
        /* batch-norm 1d, rows split in blocks of 16: a partial last block, above the threshold */
        {"bn,relu", 1, 512, 1, 1, 70},
        {"linear:600,bn,relu,linear:3,bn", 1, 7, 1, 1, 61},
    };
    for (size_t t = 0; t < sizeof K / sizeof K[0]; t++) {
        const shape_case *k = &K[t];
        const size_t shape[3] = {k->c, k->h, k->w};
        for (int mode = 0; mode < 2; mode++) {
            const sslk_mode md = mode ? SSLK_MODE_EVAL : SSLK_MODE_TRAIN;
            step_out ref = {0};
            for (int threads = 1; threads <= 5; threads += threads == 3 ? 2 : 1) {
                sslk_ctx *c;
                ck_ok(sslk_ctx_create(&c));
                ck_ok(sslk_ctx_set_threads(c, threads));
                step_out o;
                sslk_model_destroy(run_step(c, k->spec, k->ndim, shape, k->n, md, true, false, 31 + (unsigned)t, &o));
                if (threads == 1) ref = o;
                else ck_same_out(&ref, &o, k->spec), out_free(&o);
                sslk_ctx_destroy(c);
            }
            out_free(&ref);
        }
    }
    /* large offset: y = gamma (x - mean) / sqrt(var + eps) + beta with gamma 1, beta 0 */
    const size_t C = 2, HW = 37 * 29, N = 40, CHW = C * HW;
    const size_t shape[3] = {C, 37, 29};
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, 2));
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "bn", 3, shape, 3, &m));
    float *x = malloc(N * CHW * sizeof(float)), *y = malloc(N * CHW * sizeof(float));
    tu_fill_uniform(x, N * CHW, 5, -1.0f, 1.0f);
    for (size_t i = 0; i < N * CHW; i++) x[i] += 1000.0f + (float)(i / CHW % 3); /* sample offsets too */
    ck_ok(sslk_model_forward(m, x, N, y, SSLK_MODE_TRAIN));
    for (size_t j = 0; j < C; j++) {
        double mu = 0, var = 0;
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) mu += x[r * CHW + j * HW + p];
        mu /= (double)(N * HW);
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p++) var += pow(x[r * CHW + j * HW + p] - mu, 2);
        var /= (double)(N * HW);
        const double is = 1.0 / sqrt(var + 1e-5);
        for (size_t r = 0; r < N; r++)
            for (size_t p = 0; p < HW; p += 7) {
                const size_t i = r * CHW + j * HW + p;
                ck_close(y[i], (x[i] - mu) * is, 1e-3, 1e-3);
            }
    }
    free(x), free(y);
    sslk_model_destroy(m);
    /* 1d, 3 threads, 75 rows (blocks of 16 and a partial one) x 500 features */
    const size_t R = 75, F = 500, shape1[1] = {F};
    ck_ok(sslk_ctx_set_threads(c, 3));
    ck_ok(sslk_model_from_spec(c, "bn", 1, shape1, 3, &m));
    x = malloc(R * F * sizeof(float)), y = malloc(R * F * sizeof(float));
    tu_fill_uniform(x, R * F, 6, -1.0f, 1.0f);
    for (size_t i = 0; i < R * F; i++) x[i] += 1000.0f + (float)(i % F % 5);
    ck_ok(sslk_model_forward(m, x, R, y, SSLK_MODE_TRAIN));
    for (size_t j = 0; j < F; j += 3) {
        double mu = 0, var = 0;
        for (size_t r = 0; r < R; r++) mu += x[r * F + j];
        mu /= (double)R;
        for (size_t r = 0; r < R; r++) var += pow(x[r * F + j] - mu, 2);
        var /= (double)R;
        for (size_t r = 0; r < R; r++) ck_close(y[r * F + j], (x[r * F + j] - mu) / sqrt(var + 1e-5), 1e-3, 1e-3);
    }
    free(x), free(y);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(step_is_deterministic) {
    const char *spec = "conv:32:5:2:2,bn,relu,conv:64:3:2:1,bn,relu,flatten,linear:16,bn,relu";
    const size_t shape[3] = {1, 28, 28};
    for (int threads = 1; threads <= 2; threads++) {
        sslk_ctx *c;
        ck_ok(sslk_ctx_create(&c));
        ck_ok(sslk_ctx_set_threads(c, threads));
        step_out a, b;
        sslk_model_destroy(run_step(c, spec, 3, shape, 9, SSLK_MODE_TRAIN, true, false, 4, &a));
        sslk_model_destroy(run_step(c, spec, 3, shape, 9, SSLK_MODE_TRAIN, true, false, 4, &b));
        ck_same_out(&a, &b, spec);
        out_free(&a), out_free(&b);
        sslk_ctx_destroy(c);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("nn_step");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bn_relu_fused_matches_unfused);
    tcase_add_test(tc, bn_relu_matches_double_reference);
    tcase_add_test(tc, conv_cached_columns_match_recomputed);
    tcase_add_test(tc, conv_cache_budget_and_fallbacks);
    tcase_add_test(tc, bn_planes_thread_invariant_and_stable);
    tcase_add_test(tc, step_is_deterministic);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
