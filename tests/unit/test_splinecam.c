/* SplineCam: hand-derived partitions (design note S1-S8, S10), and property
 * tests on random models checked against an independent naive forward pass
 * in double (outputs and activation patterns) and the model's own float
 * forward.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "geometry/cpwl.h"
#include "geometry/model_bind.h"
#include "geometry/partition.h"
#include "nn/model_internal.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------ */

static sslk_slice *square_slice(sslk_ctx *c, double h) {
    float o[2] = {0, 0}, dirs[4] = {1, 0, 0, 1};
    double ext[4] = {-h, h, -h, h};
    sslk_slice *s = NULL;
    ck_ok(sslk_slice_from_box(c, o, dirs, 2, ext, &s));
    return s;
}

/* 2 -> F (W, b) -> unit(neg, pos) -> out (Wo, bo) */
static void one_layer_net(ssli_cpwl *n, sslk_ctx *c, size_t F, const double *W, const double *b,
                          size_t K, const double *Wo, const double *bo) {
    ssli_cpwl_init(n, c, 2);
    ck_ok(ssli_cpwl_dense(n, F, NULL, W, NULL, b));
    ck_ok(ssli_cpwl_unit(n, 0.0, 1.0));
    ck_ok(ssli_cpwl_dense(n, K, NULL, Wo, NULL, bo));
    ck_ok(ssli_cpwl_finish(n));
}

static size_t regions_of(sslk_partition *p) {
    size_t n = 0;
    ck_ok(sslk_partition_info(p, &n, NULL, NULL, NULL));
    return n;
}

static double area_sum(sslk_partition *p) {
    size_t n = regions_of(p);
    double *a = malloc(n * sizeof *a), s = 0;
    ck_ok(sslk_partition_areas(p, a));
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(a[i] > 0, "region %zu has area %g", i, a[i]);
        s += a[i];
    }
    free(a);
    return s;
}

static size_t hand_case(size_t F, const double *W, const double *b) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ssli_cpwl n;
    double Wo[8] = {1, 1, 1, 1, 1, 1, 1, 1}, bo[1] = {0};
    one_layer_net(&n, c, F, W, b, 1, Wo, bo);
    sslk_slice *s = square_slice(c, 1.0);
    sslk_partition *p = NULL;
    ck_ok(ssli_splinecam_net(c, &n, s, 0, &p));
    size_t r = regions_of(p);
    ck_close(area_sum(p), 4.0, 1e-12, 0);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    ssli_cpwl_free(&n);
    sslk_ctx_destroy(c);
    return r;
}

/* ---- hand cases ------------------------------------------------------------------ */

START_TEST(s1_to_s5_one_layer_counts) {
    double I2[4] = {1, 0, 0, 1}, z2[2] = {0, 0};
    ck_assert_uint_eq(hand_case(2, I2, z2), 4);                 /* S1: x, y */
    double Wp[4] = {1, 0, 1, 0}, bp[2] = {0, -0.5};
    ck_assert_uint_eq(hand_case(2, Wp, bp), 3);                 /* S2: x, x - 0.5 */
    double b3[2] = {5, 0};
    ck_assert_uint_eq(hand_case(2, I2, b3), 2);                 /* S3: x + 5, y */
    double W4[6] = {1, 0, 0, 1, 1, 1}, b4[3] = {0, 0, -0.2};
    ck_assert_uint_eq(hand_case(3, W4, b4), 7);                 /* S4: 1 + 3 + 3 */
    double b5[3] = {0, 0, 0};
    ck_assert_uint_eq(hand_case(3, W4, b5), 6);                 /* S5: concurrent lines */
}
END_TEST

START_TEST(s6_two_layers_seven_regions) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ssli_cpwl n;
    ssli_cpwl_init(&n, c, 2);
    double I2[4] = {1, 0, 0, 1}, z2[2] = {0, 0}, W2[2] = {1, 1}, b2[1] = {-0.5}, Wo[1] = {1}, bo[1] = {0};
    ck_ok(ssli_cpwl_dense(&n, 2, NULL, I2, NULL, z2));
    ck_ok(ssli_cpwl_unit(&n, 0, 1));
    ck_ok(ssli_cpwl_dense(&n, 1, NULL, W2, NULL, b2));
    ck_ok(ssli_cpwl_unit(&n, 0, 1));
    ck_ok(ssli_cpwl_dense(&n, 1, NULL, Wo, NULL, bo));
    ck_ok(ssli_cpwl_finish(&n));
    sslk_slice *s = square_slice(c, 1.0);
    sslk_partition *p;
    ck_ok(ssli_splinecam_net(c, &n, s, SSLK_SPLINECAM_MAPS, &p));
    ck_assert_uint_eq(regions_of(p), 7);
    ck_close(area_sum(p), 4.0, 1e-12, 0);
    /* quadrant III (both hidden units off) stays whole: one region of area 1
     * with code 000 and output 0 */
    size_t nr = regions_of(p);
    uint64_t *codes = malloc(nr * sizeof *codes);
    double *a = malloc(nr * sizeof *a), *maps = malloc(nr * 3 * sizeof *maps);
    ck_ok(sslk_partition_codes(p, codes));
    ck_ok(sslk_partition_areas(p, a));
    ck_ok(sslk_partition_maps(p, maps));
    int found = 0;
    for (size_t i = 0; i < nr; i++)
        if (codes[i] == 0) {
            found++;
            ck_close(a[i], 1.0, 1e-12, 0);
            ck_close(fabs(maps[3 * i]) + fabs(maps[3 * i + 1]) + fabs(maps[3 * i + 2]), 0, 0, 1e-15);
        }
    ck_assert_int_eq(found, 1);
    free(codes);
    free(a);
    free(maps);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    ssli_cpwl_free(&n);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(s7_decision_boundary_three_segments) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ssli_cpwl n;
    double I2[4] = {1, 0, 0, 1}, z2[2] = {0, 0}, Wo[2] = {1, 1}, bo[1] = {-0.5};
    one_layer_net(&n, c, 2, I2, z2, 1, Wo, bo);
    sslk_slice *s = square_slice(c, 1.0);
    sslk_partition *p;
    ck_ok(ssli_splinecam_net(c, &n, s, 0, &p));
    ck_assert_uint_eq(regions_of(p), 4);
    size_t m = 0;
    ck_ok(sslk_partition_boundary(p, NULL, NULL, 0, &m));
    ck_assert_uint_eq(m, 3);
    double segs[12];
    int32_t info[9];
    ck_status(sslk_partition_boundary(p, segs, info, 2, &m), SSLK_E_RANGE);
    ck_ok(sslk_partition_boundary(p, segs, info, 3, &m));
    double len;
    ck_ok(sslk_partition_boundary_length(p, &len));
    ck_close(len, 2 + sqrt(0.5), 1e-12, 0);
    /* the expected segments, either orientation */
    const double want[3][4] = {{0.5, -1, 0.5, 0}, {0.5, 0, 0, 0.5}, {0, 0.5, -1, 0.5}};
    for (int w = 0; w < 3; w++) {
        int hit = 0;
        for (size_t i = 0; i < m; i++) {
            const double *g = segs + 4 * i;
            double d1 = fabs(g[0] - want[w][0]) + fabs(g[1] - want[w][1]) + fabs(g[2] - want[w][2]) + fabs(g[3] - want[w][3]);
            double d2 = fabs(g[2] - want[w][0]) + fabs(g[3] - want[w][1]) + fabs(g[0] - want[w][2]) + fabs(g[1] - want[w][3]);
            hit += d1 < 1e-12 || d2 < 1e-12;
        }
        ck_assert_msg(hit == 1, "segment %d found %d times", w, hit);
        ck_assert_int_eq(info[3 * w + 1], 0);
        ck_assert_int_eq(info[3 * w + 2], 1);
    }
    /* argmax cells of the three crossed regions: class 1 where h1 + h2 > 0.5 */
    ck_assert_uint_eq(p->ncell, 6);
    double ca[2] = {0, 0};
    for (size_t i = 0; i < p->ncell; i++)
        ca[p->cell_info[2 * i + 1]] += ssli_poly_area(p->cell_pts + p->cell_off[i], p->cell_off[i + 1] - p->cell_off[i]);
    ck_close(ca[1], 1.875, 1e-12, 0);
    ck_close(ca[0], 1.125, 1e-12, 0);
    /* boundary samples lie on h1 + h2 = 0.5 */
    float x[200];
    double uv[200];
    ck_ok(sslk_partition_boundary_sample(p, 100, 5, x, uv));
    for (int i = 0; i < 100; i++) {
        double h = fmax(uv[2 * i], 0) + fmax(uv[2 * i + 1], 0);
        ck_close(h, 0.5, 0, 1e-12);
        ck_close(x[2 * i], uv[2 * i], 0, 1e-6);
    }
    /* local complexity: the line v = 0.75 crosses quadrants II and I */
    double path[4] = {-1, 0.75, 1, 0.75};
    size_t cnt;
    double per;
    ck_ok(sslk_partition_path_complexity(p, path, 2, &cnt, &per));
    ck_assert_uint_eq(cnt, 2);
    ck_close(per, 1.0, 1e-12, 0);
    double q[4] = {0.1, 0.1, 0.5, 0.5};
    size_t near[2];
    ck_ok(sslk_partition_near_complexity(p, q, 2, 0.2, near));
    ck_assert_uint_eq(near[0], 4);
    ck_assert_uint_eq(near[1], 1);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    ssli_cpwl_free(&n);
    sslk_ctx_destroy(c);
}
END_TEST

/* Multi-class argmax boundary: outputs (x, y, 0.3) on [-1,1]^2 with one
 * identity hidden layer of leaky units (slope 1: affine) -> three cells
 * x > max(y, .3), y > max(x, .3), else class 2. */
START_TEST(argmax_boundary_three_classes) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ssli_cpwl n;
    ssli_cpwl_init(&n, c, 2);
    double I2[4] = {1, 0, 0, 1}, z2[2] = {0, 0}, Wo[6] = {1, 0, 0, 1, 0, 0}, bo[3] = {0, 0, 0.3};
    ck_ok(ssli_cpwl_dense(&n, 2, NULL, I2, NULL, z2));
    ck_ok(ssli_cpwl_unit(&n, 1, 1));
    ck_ok(ssli_cpwl_dense(&n, 3, NULL, Wo, NULL, bo));
    ck_ok(ssli_cpwl_finish(&n));
    sslk_slice *s = square_slice(c, 1.0);
    sslk_partition *p;
    ck_ok(ssli_splinecam_net(c, &n, s, 0, &p));
    double len;
    ck_ok(sslk_partition_boundary_length(p, &len));
    /* x = .3 for y < .3 (length 1.3), y = .3 for x < .3 (1.3), x = y from (.3,.3) to (1,1) */
    ck_close(len, 2.6 + 0.7 * sqrt(2.0), 1e-12, 0);
    /* cells: class 0 = {x > max(y, .3)} has area .7 * 1.3 + .7 * .7 / 2 */
    double ca[3] = {0, 0, 0};
    for (size_t i = 0; i < p->ncell; i++)
        ca[p->cell_info[2 * i + 1]] += ssli_poly_area(p->cell_pts + p->cell_off[i], p->cell_off[i + 1] - p->cell_off[i]);
    ck_close(ca[0], 0.91 + 0.245, 1e-12, 0);
    ck_close(ca[1], 0.91 + 0.245, 1e-12, 0);
    ck_close(ca[0] + ca[1] + ca[2], 3.0, 1e-12, 0); /* quadrant III is all class 2: not crossed */
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    ssli_cpwl_free(&n);
    sslk_ctx_destroy(c);
}
END_TEST

/* S8: one hidden layer in general position: regions = 1 + L + I. */
START_TEST(s8_one_layer_general_position) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    for (unsigned seed = 1; seed <= 6; seed++) {
        size_t F = 8 + 2 * seed;
        double W[64], b[32], Wo[32], bo[1] = {0};
        tu_fill_normal_d(W, 2 * F, seed);
        tu_fill_uniform_d(b, F, seed + 100, -1.2, 1.2);
        for (size_t i = 0; i < F; i++) Wo[i] = 1;
        /* independent count: lines crossing the square, pairwise intersections inside */
        size_t L = 0, I = 0;
        for (size_t i = 0; i < F; i++) {
            int pos = 0, neg = 0;
            for (int cx = -1; cx <= 1; cx += 2)
                for (int cy = -1; cy <= 1; cy += 2) {
                    double v = W[2 * i] * cx + W[2 * i + 1] * cy + b[i];
                    pos |= v > 0;
                    neg |= v < 0;
                }
            if (!(pos && neg)) continue;
            L++;
            for (size_t j = 0; j < i; j++) {
                double det = W[2 * i] * W[2 * j + 1] - W[2 * i + 1] * W[2 * j];
                double x = (-b[i] * W[2 * j + 1] + b[j] * W[2 * i + 1]) / det;
                double y = (-W[2 * i] * b[j] + W[2 * j] * b[i]) / det;
                I += fabs(x) < 1 && fabs(y) < 1;
            }
        }
        ssli_cpwl n;
        one_layer_net(&n, c, F, W, b, 1, Wo, bo);
        sslk_slice *s = square_slice(c, 1.0);
        sslk_partition *p;
        ck_ok(ssli_splinecam_net(c, &n, s, 0, &p));
        ck_assert_uint_eq(regions_of(p), 1 + L + I);
        ck_close(area_sum(p), 4.0, 1e-12, 0);
        sslk_partition_destroy(p);
        sslk_slice_destroy(s);
        ssli_cpwl_free(&n);
    }
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- naive double forward over the model's layers (independent reference) ---- */

typedef struct ref {
    const sslk_model *m;
    uint64_t *code;
    size_t bit;
} ref;

static void bitset(uint64_t *c, size_t b, int v) {
    if (v) c[b / 64] |= (uint64_t)1 << (b % 64);
}

/* x has numel(s->in) values; returns a malloc'd output of numel(s->out). */
static double *ref_seq(ref *R, const ssli_seq *s, const double *x0) {
    size_t n0 = ssli_shape_numel(s->in);
    double *x = malloc((n0 ? n0 : 1) * sizeof *x);
    memcpy(x, x0, n0 * sizeof *x);
    for (size_t li = 0; li < s->n; li++) {
        const ssli_layer *L = &s->layers[li];
        size_t ni = ssli_shape_numel(L->in), no = ssli_shape_numel(L->out);
        double *y = calloc(no ? no : 1, sizeof *y);
        size_t C = L->in.c, H = L->in.h, Wd = L->in.w, OC = L->out.c, OH = L->out.h, OW = L->out.w;
        switch (L->kind) {
        case SSLI_LAYER_LINEAR:
            for (size_t o = 0; o < no; o++) {
                double a = L->bias ? L->bias[o] : 0;
                for (size_t i = 0; i < ni; i++) a += (double)L->weight[o * ni + i] * x[i];
                y[o] = a;
            }
            break;
        case SSLI_LAYER_CONV2D: {
            size_t k = L->kernel;
            for (size_t o = 0; o < OC; o++)
                for (size_t i = 0; i < OH; i++)
                    for (size_t j = 0; j < OW; j++) {
                        double a = L->bias ? L->bias[o] : 0;
                        for (size_t ch = 0; ch < C; ch++)
                            for (size_t p = 0; p < k; p++)
                                for (size_t q = 0; q < k; q++) {
                                    long yy = (long)(i * L->stride + p) - (long)L->pad;
                                    long xx = (long)(j * L->stride + q) - (long)L->pad;
                                    if (yy < 0 || xx < 0 || yy >= (long)H || xx >= (long)Wd) continue;
                                    a += (double)L->weight[((o * C + ch) * k + p) * k + q] *
                                         x[(ch * H + (size_t)yy) * Wd + (size_t)xx];
                                }
                        y[(o * OH + i) * OW + j] = a;
                    }
            break;
        }
        case SSLI_LAYER_BATCHNORM: {
            size_t sp = H * Wd;
            double eps = ssli_model_bn_eps(R->m);
            for (size_t ch = 0; ch < C; ch++)
                for (size_t i = 0; i < sp; i++)
                    y[ch * sp + i] = (x[ch * sp + i] - L->running_mean[ch]) / sqrt((double)L->running_var[ch] + eps) *
                                         L->weight[ch] + L->bias[ch];
            break;
        }
        case SSLI_LAYER_RELU:
        case SSLI_LAYER_LEAKY_RELU:
        case SSLI_LAYER_ABS:
            for (size_t i = 0; i < ni; i++) {
                bitset(R->code, R->bit++, x[i] > 0);
                double neg = L->kind == SSLI_LAYER_RELU ? 0 : L->kind == SSLI_LAYER_ABS ? -1 : L->slope;
                y[i] = x[i] > 0 ? x[i] : neg * x[i];
            }
            break;
        case SSLI_LAYER_MAXPOOL:
        case SSLI_LAYER_AVGPOOL: {
            size_t k = L->kernel, bits = 0;
            while (((size_t)1 << bits) < k * k) bits++;
            for (size_t ch = 0; ch < C; ch++)
                for (size_t i = 0; i < OH; i++)
                    for (size_t j = 0; j < OW; j++) {
                        double best = -INFINITY, sum = 0;
                        size_t arg = 0;
                        /* padding (max-pool): the CPWL form repeats the window's first real entry */
                        size_t pd = L->pad, y0 = i * L->stride >= pd ? i * L->stride - pd : 0,
                               x0 = j * L->stride >= pd ? j * L->stride - pd : 0;
                        for (size_t p = 0; p < k; p++)
                            for (size_t q = 0; q < k; q++) {
                                long yy = (long)(i * L->stride + p) - (long)pd, xx = (long)(j * L->stride + q) - (long)pd;
                                bool in = yy >= 0 && xx >= 0 && yy < (long)H && xx < (long)Wd;
                                double v = in ? x[(ch * H + (size_t)yy) * Wd + (size_t)xx] : x[(ch * H + y0) * Wd + x0];
                                sum += v;
                                if (v > best) best = v, arg = p * k + q;
                            }
                        size_t o = (ch * OH + i) * OW + j;
                        if (L->kind == SSLI_LAYER_MAXPOOL) {
                            y[o] = best;
                            for (size_t t = 0; t < bits; t++) bitset(R->code, R->bit + o * bits + t, (arg >> t) & 1);
                        } else {
                            y[o] = sum / (double)(k * k);
                        }
                    }
            if (L->kind == SSLI_LAYER_MAXPOOL) R->bit += no * bits;
            break;
        }
        case SSLI_LAYER_ADAPTIVE_AVGPOOL:
            for (size_t ch = 0; ch < C; ch++)
                for (size_t i = 0; i < OH; i++)
                    for (size_t j = 0; j < OW; j++) {
                        size_t i0 = i * H / OH, i1 = ((i + 1) * H + OH - 1) / OH;
                        size_t j0 = j * Wd / OW, j1 = ((j + 1) * Wd + OW - 1) / OW;
                        double a = 0;
                        for (size_t p = i0; p < i1; p++)
                            for (size_t q = j0; q < j1; q++) a += x[(ch * H + p) * Wd + q];
                        y[(ch * OH + i) * OW + j] = a / (double)((i1 - i0) * (j1 - j0));
                    }
            break;
        case SSLI_LAYER_GAP:
            for (size_t ch = 0; ch < C; ch++) {
                double a = 0;
                for (size_t i = 0; i < H * Wd; i++) a += x[ch * H * Wd + i];
                y[ch] = a / (double)(H * Wd);
            }
            break;
        case SSLI_LAYER_FLATTEN: memcpy(y, x, ni * sizeof *y); break;
        case SSLI_LAYER_RESIDUAL: {
            double *bo = ref_seq(R, L->body, x);
            double *so = L->shortcut ? ref_seq(R, L->shortcut, x) : NULL;
            for (size_t i = 0; i < no; i++) y[i] = bo[i] + (so ? so[i] : x[i]);
            free(bo);
            free(so);
            break;
        }
        }
        free(x);
        x = y;
    }
    return x;
}

/* ---- property tests on models ---------------------------------------------- */

static void randomise_bn(sslk_model *m, unsigned seed) {
    size_t np;
    ck_ok(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v;
        v.struct_size = sizeof v;
        ck_ok(sslk_model_param(m, i, &v));
        if (strstr(v.name, "running_var")) tu_fill_uniform(v.data, v.count, seed + (unsigned)i, 0.5f, 2.0f);
        else if (strstr(v.name, "running_mean")) tu_fill_uniform(v.data, v.count, seed + (unsigned)i, -0.3f, 0.3f);
        else if (v.ndim == 1 && strstr(v.name, "weight")) tu_fill_uniform(v.data, v.count, seed + (unsigned)i, 0.5f, 1.5f);
        else if (strstr(v.name, "bias")) tu_fill_uniform(v.data, v.count, seed + (unsigned)i, -0.3f, 0.3f);
    }
}

static int code_cmp_words;
static int cmp_code(const void *a, const void *b) {
    return memcmp(a, b, (size_t)code_cmp_words * 8);
}

typedef struct prop_stats {
    size_t regions;
    double max_rel_ref, max_rel_model;
} prop_stats;

/* zero_param: a tensor whose first half (e.g. the first of two output
 * channels) is set to zero after initialisation (NULL: none). */
static prop_stats check_model_z(const char *spec, size_t ndim, const size_t *shape, double half,
                                unsigned seed, int threads, int npoints, int grid, const char *zero_param) {
    prop_stats out = {0, 0, 0};
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    sslk_ctx_set_seed(c, seed);
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, spec, ndim, shape, seed, &m));
    randomise_bn(m, seed);
    if (zero_param) {
        size_t np;
        ck_ok(sslk_model_param_count(m, &np));
        for (size_t i = 0; i < np; i++) {
            sslk_param_view v;
            v.struct_size = sizeof v;
            ck_ok(sslk_model_param(m, i, &v));
            if (strcmp(v.name, zero_param) == 0) memset(v.data, 0, v.count / 2 * sizeof(float));
        }
    }
    size_t D, K;
    ck_ok(sslk_model_io_size(m, &D, &K));
    float *anchor = malloc(D * sizeof *anchor);
    tu_fill_uniform(anchor, D, seed + 7, -0.5f, 0.5f);
    sslk_slice *s;
    ck_ok(sslk_slice_from_anchors(c, anchor, 1, D, half, &s));
    sslk_partition *p;
    ck_ok(sslk_splinecam(c, m, s, SSLK_SPLINECAM_MAPS, &p));
    size_t n, cb, dd, kk;
    ck_ok(sslk_partition_info(p, &n, &dd, &kk, &cb));
    ck_assert_uint_eq(dd, D);
    ck_assert_uint_eq(kk, K);
    out.regions = n;
    size_t cw = (cb + 63) / 64;
    /* areas sum to the slice area; regions are convex and CCW */
    ck_close(area_sum(p), 4 * half * half, 1e-9, 0);
    size_t *off = malloc((n + 1) * sizeof *off);
    ck_ok(sslk_partition_vertex_offsets(p, off));
    double *uv = malloc(2 * off[n] * sizeof *uv);
    ck_ok(sslk_partition_vertices(p, uv));
    for (size_t i = 0; i < n; i++) {
        size_t nv = off[i + 1] - off[i];
        ck_assert_uint_ge(nv, 3);
        for (size_t j = 0; j < nv; j++) {
            const double *a = uv + 2 * (off[i] + j), *b = uv + 2 * (off[i] + (j + 1) % nv),
                         *e = uv + 2 * (off[i] + (j + 2) % nv);
            double cr = (b[0] - a[0]) * (e[1] - b[1]) - (b[1] - a[1]) * (e[0] - b[0]);
            ck_assert_msg(cr >= -1e-9 * half * half, "region %zu not convex (cross %g)", i, cr);
        }
    }
    /* unique codes */
    uint64_t *codes = malloc((n * cw + 1) * sizeof *codes), *sorted = malloc((n * cw + 1) * sizeof *sorted);
    ck_ok(sslk_partition_codes(p, codes));
    memcpy(sorted, codes, n * cw * sizeof *codes);
    code_cmp_words = (int)cw;
    if (cw) {
        qsort(sorted, n, cw * 8, cmp_code);
        for (size_t i = 1; i < n; i++) ck_assert_msg(memcmp(sorted + (i - 1) * cw, sorted + i * cw, cw * 8) != 0, "duplicate code");
    }
    double *maps = malloc(n * 3 * K * sizeof *maps);
    ck_ok(sslk_partition_maps(p, maps));
    /* random points: naive double forward and the model's float forward vs
     * the region's affine map; naive pattern vs the region's code */
    double *pts = malloc(2 * (size_t)npoints * sizeof *pts);
    tu_fill_uniform_d(pts, 2 * (size_t)npoints, seed + 11, -half, half);
    int64_t *reg = malloc((size_t)npoints * sizeof *reg);
    ck_ok(sslk_partition_locate(p, pts, (size_t)npoints, reg));
    float *x = malloc((size_t)npoints * D * sizeof *x), *y = malloc((size_t)npoints * K * sizeof *y);
    ck_ok(sslk_slice_to_input(s, pts, (size_t)npoints, x));
    ck_ok(sslk_model_forward(m, x, (size_t)npoints, y, SSLK_MODE_EVAL));
    double *org = malloc(D * sizeof *org), *dirs = malloc(2 * D * sizeof *dirs), *xd = malloc(D * sizeof *xd);
    ck_ok(sslk_slice_frame(s, org, dirs));
    uint64_t *code = calloc(cw + 1, sizeof *code);
    for (int t = 0; t < npoints; t++) {
        ck_assert_msg(reg[t] >= 0, "point %d not located", t);
        double u = pts[2 * t], v = pts[2 * t + 1];
        for (size_t i = 0; i < D; i++) xd[i] = org[i] + u * dirs[i] + v * dirs[D + i];
        memset(code, 0, (cw + 1) * sizeof *code);
        ref R = {m, code, 0};
        double *yr = ref_seq(&R, ssli_model_top(m), xd);
        ck_assert_uint_eq(R.bit, cb);
        const double *M = maps + (size_t)reg[t] * 3 * K;
        double scale = 0, er = 0, em = 0;
        for (size_t k = 0; k < K; k++) scale = fmax(scale, fabs(yr[k]));
        for (size_t k = 0; k < K; k++) {
            double z = M[k] * u + M[K + k] * v + M[2 * K + k];
            er = fmax(er, fabs(z - yr[k]));
            em = fmax(em, fabs(z - (double)y[t * K + k]));
        }
        out.max_rel_ref = fmax(out.max_rel_ref, er / (scale + 1e-30));
        out.max_rel_model = fmax(out.max_rel_model, em / (scale + 1e-30));
        ck_assert_msg(er <= 1e-9 * (scale + 1e-12), "%s: point %d map vs double forward %g (scale %g)", spec, t, er, scale);
        ck_assert_msg(em <= 1e-6 * (scale + 1e-2), "%s: point %d map vs model forward %g (scale %g)", spec, t, em, scale);
        ck_assert_msg(memcmp(code, codes + (size_t)reg[t] * cw, cw * 8) == 0, "%s: point %d pattern differs from region %lld's code",
                      spec, t, (long long)reg[t]);
        free(yr);
    }
    /* dense grid: every pattern belongs to some region */
    for (int i = 0; i < grid; i++)
        for (int j = 0; j < grid; j++) {
            double u = -half + (2 * half) * (i + 0.5) / grid, v = -half + (2 * half) * (j + 0.5) / grid;
            for (size_t q = 0; q < D; q++) xd[q] = org[q] + u * dirs[q] + v * dirs[D + q];
            memset(code, 0, (cw + 1) * sizeof *code);
            ref R = {m, code, 0};
            free(ref_seq(&R, ssli_model_top(m), xd));
            if (cw) ck_assert_msg(bsearch(code, sorted, n, cw * 8, cmp_code) != NULL, "%s: grid pattern without region", spec);
        }
    if (getenv("SSLK_TEST_VERBOSE"))
        fprintf(stderr, "%s: %zu regions, %zu code bits, map vs double %.2e, vs float model %.2e\n", spec, n, cb,
                out.max_rel_ref, out.max_rel_model);
    free(code);
    free(org);
    free(dirs);
    free(xd);
    free(x);
    free(y);
    free(reg);
    free(pts);
    free(maps);
    free(codes);
    free(sorted);
    free(uv);
    free(off);
    free(anchor);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
    return out;
}

static prop_stats check_model(const char *spec, size_t ndim, const size_t *shape, double half,
                              unsigned seed, int threads, int npoints, int grid) {
    return check_model_z(spec, ndim, shape, half, seed, threads, npoints, grid, NULL);
}

START_TEST(mlp_each_activation) {
    size_t shape[1] = {5};
    const char *specs[] = {"linear:12,relu,linear:12,relu,linear:3", "linear:12,leaky_relu:0.1,linear:10,leaky_relu:0.2,linear:4",
                           "linear:10,abs,linear:10,abs,linear:1", "linear:10,bn,relu,linear:8,relu,bn,linear:3"};
    for (int i = 0; i < 4; i++) {
        prop_stats st = check_model(specs[i], 1, shape, 2.0, 3 + (unsigned)i, 2, 2000, 60);
        ck_assert_uint_gt(st.regions, 20);
    }
}
END_TEST

START_TEST(conv_pool_batchnorm) {
    size_t shape[3] = {1, 8, 8};
    const char *specs[] = {"conv:3:3:1:1,bn,relu,maxpool:2,conv:4:3:1:0,relu,flatten,linear:3",
                           "conv:3:3:2:1,abs,avgpool:2,conv:2:1:1:0,bn,leaky_relu:0.05,gap,linear:2",
                           "conv:2:3:1:1,relu,maxpool:3:2,flatten,linear:6,relu,linear:2",
                           "conv:3:3:1:1,relu,conv:4:3:2:1,leaky_relu:0.1,conv:2:2:2:0,relu,gap,linear:2"};
    for (int i = 0; i < 4; i++) {
        prop_stats st = check_model(specs[i], 3, shape, 1.5, 21 + (unsigned)i, 2, 1000, 30);
        ck_assert_uint_gt(st.regions, 5);
    }
}
END_TEST

/* The double evaluator (ssli_cpwl_eval_rows over the one binder) against the
 * naive double forward above (1e-12, same activation codes) and the model's
 * float forward (1e-5), folded and unfolded; the pre-activation callback sees
 * every point once per evaluation with its width. */
typedef struct point_log {
    size_t calls[8], width[8];
} point_log;

static sslk_status log_point(void *user, size_t k, double *h, size_t rows, size_t width) {
    point_log *L = user;
    (void)h;
    ck_assert_uint_lt(k, 8);
    ck_assert_uint_eq(rows, 5);
    L->calls[k]++;
    L->width[k] = width;
    return SSLK_OK;
}

START_TEST(double_evaluator_matches_forward) {
    size_t shape[3] = {2, 8, 8};
    const char *specs[] = {"conv:3:3:1:1,bn,relu,maxpool:2,conv:4:3:1:1,bn,abs,avgpool:2,flatten,linear:3",
                           "conv:2:3:1:1,relu,res(conv:2:3:1:1,bn,relu,conv:2:3:1:1,bn|conv:2:1:1:0),relu,gap,linear:2"};
    const size_t npts[] = {3, 5}, w0[] = {3 * 64, 2 * 64}, wlast[] = {3, 2};
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    for (int t = 0; t < 2; t++) {
        sslk_model *m;
        ck_ok(sslk_model_from_spec(c, specs[t], 3, shape, 51 + (uint64_t)t, &m));
        randomise_bn(m, 52 + (unsigned)t);
        size_t D, K;
        ck_ok(sslk_model_io_size(m, &D, &K));
        const size_t rows = 5;
        float *x = malloc(rows * D * sizeof *x), *y = malloc(rows * K * sizeof *y);
        double *xd = malloc(rows * D * sizeof *xd), *yd = malloc(rows * K * sizeof *yd), *y1 = malloc(K * sizeof *y1);
        tu_fill_uniform(x, rows * D, 60 + (unsigned)t, -1, 1);
        for (size_t i = 0; i < rows * D; i++) xd[i] = x[i];
        ck_ok(sslk_model_forward(m, x, rows, y, SSLK_MODE_EVAL));
        for (int fold = 0; fold < 2; fold++) {
            const ssli_bind_opts o = {"test", fold == 1, NULL, 0};
            ssli_cpwl net;
            ck_ok(ssli_cpwl_bind(m, &o, &net));
            ck_assert_uint_eq(net.npoints, npts[t]);
            const size_t cw = ssli_code_words(net.code_bits);
            uint64_t *code = calloc(rows * cw + 1, sizeof *code), *code1 = calloc(cw + 1, sizeof *code1),
                     *rcode = calloc(cw + 1, sizeof *rcode);
            point_log lg;
            memset(&lg, 0, sizeof lg);
            ck_ok(ssli_cpwl_eval_rows(&net, xd, rows, yd, code, log_point, &lg));
            for (size_t k = 0; k < npts[t]; k++) ck_assert_uint_eq(lg.calls[k], 1);
            ck_assert_uint_eq(lg.width[0], w0[t]);
            ck_assert_uint_eq(lg.width[npts[t] - 1], wlast[t]);
            for (size_t r = 0; r < rows; r++) {
                ref R = {m, rcode, 0};
                memset(rcode, 0, (cw + 1) * sizeof *rcode);
                double *yr = ref_seq(&R, ssli_model_top(m), xd + r * D);
                ck_assert_uint_eq(R.bit, net.code_bits);
                ck_assert(memcmp(rcode, code + r * cw, cw * 8) == 0);
                ck_ok(ssli_cpwl_eval(&net, xd + r * D, y1, code1));
                ck_assert(memcmp(code1, code + r * cw, cw * 8) == 0);
                for (size_t k = 0; k < K; k++) {
                    ck_assert(y1[k] == yd[r * K + k]); /* one evaluator: a row alone = in a batch */
                    ck_close(yd[r * K + k], yr[k], 1e-12, 1e-12);
                    ck_close(yd[r * K + k], (double)y[r * K + k], 1e-5, 1e-5);
                }
                free(yr);
            }
            free(code);
            free(code1);
            free(rcode);
            ssli_cpwl_free(&net);
        }
        free(x);
        free(y);
        free(xd);
        free(yd);
        free(y1);
        sslk_model_destroy(m);
    }
    sslk_ctx_destroy(c);
}
END_TEST

/* Max-pool windows whose entries are identical (a dead channel: zero weights,
 * so every position holds the same ReLU of the bias): the first entry wins,
 * as in the forward pass, and no region is duplicated. */
START_TEST(maxpool_ties_go_to_first_entry) {
    size_t shape[3] = {1, 6, 6};
    prop_stats st = check_model_z("conv:2:3:1:1,relu,maxpool:2,flatten,linear:5,relu,linear:2", 3, shape, 1.5, 41, 2, 500,
                                  30, "0.weight");
    ck_assert_uint_gt(st.regions, 10);
    size_t vshape[1] = {5};
    prop_stats st2 = check_model_z("linear:8,relu,linear:6,abs,linear:2", 1, vshape, 1.5, 42, 1, 300, 20, "2.weight");
    ck_assert_uint_gt(st2.regions, 10);
}
END_TEST

START_TEST(residual_blocks) {
    size_t shape[1] = {4};
    prop_stats a = check_model("linear:8,relu,res(linear:8,relu,linear:8),relu,linear:3", 1, shape, 2.0, 31, 2, 1500, 50);
    ck_assert_uint_gt(a.regions, 20);
    prop_stats b = check_model("linear:6,res(linear:6,abs|linear:6,relu),leaky_relu:0.1,linear:2", 1, shape, 2.0, 32, 1, 1500, 50);
    ck_assert_uint_gt(b.regions, 10);
    size_t ishape[3] = {2, 6, 6};
    prop_stats cc = check_model("conv:3:3:1:1,relu,res(conv:3:3:1:1,bn,relu,conv:3:3:1:1),relu,gap,linear:2", 3, ishape, 1.0, 33, 2,
                                1000, 25);
    ck_assert_uint_gt(cc.regions, 5);
    /* a ResNet in miniature: bias-free convs, padded max-pool stem, a
     * downsampling block with a conv + bn shortcut, adaptive pooling */
    size_t rshape[3] = {1, 8, 8};
    prop_stats r = check_model("conv:2:3:1:1:nobias,bn,relu,maxpool:3:2:1,res(conv:2:3:1:1:nobias,bn,relu,"
                               "conv:2:3:1:1:nobias,bn),relu,res(conv:3:3:2:1:nobias,bn,relu,conv:3:3:1:1:nobias,bn|"
                               "conv:3:1:2:0:nobias,bn),relu,adaptive_avgpool:1,flatten,linear:2",
                               3, rshape, 1.5, 34, 2, 1000, 25);
    ck_assert_uint_gt(r.regions, 5);
}
END_TEST

/* One hidden layer of a real model in general position: 1 + L + I, with
 * the lines computed from the model's parameters in input space. */
START_TEST(model_one_hidden_layer_count) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    size_t shape[1] = {3};
    for (unsigned seed = 1; seed <= 3; seed++) {
        sslk_model *m;
        ck_ok(sslk_model_from_spec(c, "linear:9,relu,linear:2", 1, shape, seed, &m));
        float W[27], b[9];
        ck_ok(sslk_model_get_param(m, "0.weight", W, 27));
        ck_ok(sslk_model_get_param(m, "0.bias", b, 9));
        float o[3] = {0.1f, -0.2f, 0.3f}, dirs[6] = {1, 0.5f, 0, 0, 1, -1};
        double ext[4] = {-2, 2, -1.5, 1.5};
        sslk_slice *s;
        ck_ok(sslk_slice_from_box(c, o, dirs, 3, ext, &s));
        /* line of unit i in (s, t): w.(o + s d1 + t d2) + b */
        double A[9], B[9], C0[9];
        for (int i = 0; i < 9; i++) {
            A[i] = B[i] = 0;
            C0[i] = b[i];
            for (int j = 0; j < 3; j++) {
                A[i] += W[i * 3 + j] * (double)dirs[j];
                B[i] += W[i * 3 + j] * (double)dirs[3 + j];
                C0[i] += W[i * 3 + j] * (double)o[j];
            }
        }
        size_t L = 0, I = 0;
        for (int i = 0; i < 9; i++) {
            int pos = 0, neg = 0;
            for (int k = 0; k < 4; k++) {
                double v = A[i] * ext[k & 1] + B[i] * ext[2 + (k >> 1)] + C0[i];
                pos |= v > 0, neg |= v < 0;
            }
            if (!(pos && neg)) continue;
            L++;
            for (int j = 0; j < i; j++) {
                double det = A[i] * B[j] - B[i] * A[j];
                double x = (-C0[i] * B[j] + C0[j] * B[i]) / det, y = (-A[i] * C0[j] + A[j] * C0[i]) / det;
                I += x > ext[0] && x < ext[1] && y > ext[2] && y < ext[3];
            }
        }
        sslk_partition *p;
        ck_ok(sslk_splinecam(c, m, s, 0, &p));
        ck_assert_uint_eq(regions_of(p), 1 + L + I);
        double parea = 0;
        double poly[8];
        size_t np;
        ck_ok(sslk_slice_polygon(s, poly, 4, &np));
        for (size_t i = 0; i < np; i++) {
            size_t j = (i + 1) % np;
            parea += 0.5 * (poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1]);
        }
        ck_close(area_sum(p), parea, 1e-12, 0);
        sslk_partition_destroy(p);
        sslk_slice_destroy(s);
        sslk_model_destroy(m);
    }
    sslk_ctx_destroy(c);
}
END_TEST

/* A head with no decision boundary in the slice (constant output, class 0
 * everywhere): every work item has regions but zero boundary segments, so
 * the merge copies zero segments from NULL arrays (memcpy(NULL, NULL, 0):
 * undefined, flagged by -fsanitize=undefined before the guards). */
START_TEST(no_boundary_zero_length_copies) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    size_t shape[1] = {3};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:12,relu,linear:2", 1, shape, 5, &m));
    const float W0[24] = {0}, b0[2] = {1, 0};
    ck_ok(sslk_model_set_param(m, "2.weight", W0, 24));
    ck_ok(sslk_model_set_param(m, "2.bias", b0, 2));
    float o[3] = {0.1f, -0.2f, 0.3f}, dirs[6] = {1, 0.5f, 0, 0, 1, -1};
    double ext[4] = {-3, 3, -2, 2};
    sslk_slice *s;
    ck_ok(sslk_slice_from_box(c, o, dirs, 3, ext, &s));
    double poly[8], parea = 0;
    size_t np;
    ck_ok(sslk_slice_polygon(s, poly, 4, &np));
    for (size_t i = 0; i < np; i++) {
        size_t j = (i + 1) % np;
        parea += 0.5 * (poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1]);
    }
    ck_assert(parea > 0);
    for (int flags = 0; flags <= (int)SSLK_SPLINECAM_MAPS; flags += (int)SSLK_SPLINECAM_MAPS) {
        sslk_partition *p;
        ck_ok(sslk_splinecam(c, m, s, (unsigned)flags, &p));
        size_t n = regions_of(p);
        ck_assert_uint_gt(n, 4);
        ck_close(area_sum(p), parea, 1e-12, 0);
        double len = -1;
        ck_ok(sslk_partition_boundary_length(p, &len));
        ck_assert(len == 0);
        int32_t *cls = malloc(n * sizeof *cls);
        ck_ok(sslk_partition_classes(p, cls));
        for (size_t i = 0; i < n; i++) ck_assert_int_eq(cls[i], 0);
        free(cls);
        sslk_partition_destroy(p);
    }
    sslk_slice_destroy(s);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Same regions, vertices (bitwise), codes and boundary at 1, 2 and 3 threads. */
START_TEST(deterministic_across_threads) {
    const char *specs[2] = {"linear:16,relu,linear:16,relu,linear:4",
                            "conv:3:3:1:1,relu,maxpool:2,conv:4:3:1:1,abs,res(conv:4:3:1:1,relu),flatten,linear:3"};
    size_t shapes[2][3] = {{6, 0, 0}, {1, 6, 6}}, ndims[2] = {1, 3}, D[2] = {6, 36};
    for (int k = 0; k < 2; k++) {
        sslk_partition *p[3];
        for (int t = 0; t < 3; t++) {
            sslk_ctx *c;
            ck_ok(sslk_ctx_create(&c));
            ck_ok(sslk_ctx_set_threads(c, t + 1));
            sslk_model *m;
            ck_ok(sslk_model_from_spec(c, specs[k], ndims[k], shapes[k], 9, &m));
            float a[72];
            tu_fill_uniform(a, 2 * D[k], 4, -1, 1);
            sslk_slice *s;
            ck_ok(sslk_slice_from_anchors(c, a, 2, D[k], 1.0, &s));
            ck_ok(sslk_splinecam(c, m, s, SSLK_SPLINECAM_MAPS, &p[t]));
            sslk_slice_destroy(s);
            sslk_model_destroy(m);
            p[t]->ctx = NULL; /* outlives its context below: freed with the C allocator */
            sslk_ctx_destroy(c);
        }
        ck_assert_uint_gt(p[0]->n, 50);
        for (int t = 1; t < 3; t++) {
            ck_assert_uint_eq(p[0]->n, p[t]->n);
            ck_assert_uint_eq(p[0]->voff[p[0]->n], p[t]->voff[p[t]->n]);
            ck_assert(memcmp(p[0]->pts, p[t]->pts, p[0]->voff[p[0]->n] * sizeof(ssli_pt)) == 0);
            ck_assert(memcmp(p[0]->codes, p[t]->codes, p[0]->n * p[0]->cw * 8) == 0);
            ck_assert(memcmp(p[0]->maps, p[t]->maps, p[0]->n * 3 * p[0]->k * sizeof(double)) == 0);
            ck_assert_uint_eq(p[0]->nseg, p[t]->nseg);
            if (p[0]->nseg) /* no boundary: segs may be NULL (memcmp(NULL, NULL, 0) is undefined) */
                ck_assert(memcmp(p[0]->segs, p[t]->segs, 4 * p[0]->nseg * sizeof(double)) == 0);
        }
        for (int t = 0; t < 3; t++) sslk_partition_destroy(p[t]);
    }
}
END_TEST

/* ---- slices --------------------------------------------------------------------- */

START_TEST(s10_two_anchor_slice) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    const size_t D = 7;
    float a[14];
    tu_fill_uniform(a, 14, 3, -2, 2);
    sslk_slice *s;
    ck_ok(sslk_slice_from_anchors(c, a, 2, D, 0.25, &s));
    double o[7], d[14];
    ck_ok(sslk_slice_frame(s, o, d));
    double d11 = 0, d22 = 0, d12 = 0, dist = 0;
    for (size_t i = 0; i < D; i++) {
        d11 += d[i] * d[i], d22 += d[D + i] * d[D + i], d12 += d[i] * d[D + i];
        ck_close(o[i], 0.5 * ((double)a[i] + a[D + i]), 1e-12, 1e-12);
        dist += ((double)a[i] - a[D + i]) * ((double)a[i] - a[D + i]);
    }
    dist = sqrt(dist);
    ck_close(d11, 1, 1e-12, 0);
    ck_close(d22, 1, 1e-12, 0);
    ck_assert(fabs(d12) < 1e-12);
    double uv[4];
    ck_ok(sslk_slice_project(s, a, 2, uv));
    ck_close(uv[0], dist / 2, 1e-6, 1e-6); /* d1 points toward anchor 0 */
    ck_close(uv[1], 0, 0, 1e-6);
    ck_close(uv[2], -dist / 2, 1e-6, 1e-6);
    double poly[8];
    size_t np;
    ck_status(sslk_slice_polygon(s, poly, 2, &np), SSLK_E_RANGE);
    ck_ok(sslk_slice_polygon(s, poly, 4, &np));
    ck_assert_uint_eq(np, 4);
    for (int i = 0; i < 4; i++) ck_close(fmax(fabs(poly[2 * i]), fabs(poly[2 * i + 1])), dist / 2 + 0.25, 1e-12, 0);
    /* mapping back reproduces the anchors */
    float x[14];
    ck_ok(sslk_slice_to_input(s, uv, 2, x));
    for (size_t i = 0; i < 2 * D; i++) ck_close(x[i], a[i], 0, 1e-5);
    sslk_slice_destroy(s);
    /* coincident and collinear anchors */
    float same[14];
    memcpy(same, a, 7 * sizeof(float));
    memcpy(same + 7, a, 7 * sizeof(float));
    ck_status(sslk_slice_from_anchors(c, same, 2, D, 1.0, &s), SSLK_E_DEGENERATE);
    float col[21];
    for (size_t i = 0; i < D; i++) col[i] = 0, col[D + i] = (float)i, col[2 * D + i] = 2.0f * (float)i;
    ck_status(sslk_slice_from_anchors(c, col, 3, D, 1.0, &s), SSLK_E_DEGENERATE);
    ck_status(sslk_slice_from_anchors(c, a, 4, D, 1.0, &s), SSLK_E_SHAPE);
    ck_status(sslk_slice_from_anchors(c, a, 2, D, -1.0, &s), SSLK_E_INVALID_ARG);
    a[3] = NAN;
    ck_status(sslk_slice_from_anchors(c, a, 2, D, 1.0, &s), SSLK_E_NONFINITE);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(three_anchor_and_polygon_slices) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    /* three anchors in R^4: all strictly inside the domain */
    float a[12] = {1, 0, 0, 2, 0, 1, 0, 2, 0, 0, 1, 2};
    sslk_slice *s;
    ck_ok(sslk_slice_from_anchors(c, a, 3, 4, 0.1, &s));
    double uv[6], poly[16];
    size_t np;
    ck_ok(sslk_slice_project(s, a, 3, uv));
    ck_ok(sslk_slice_polygon(s, poly, 8, &np));
    for (int k = 0; k < 3; k++) {
        double u0 = INFINITY, u1 = -INFINITY, v0 = INFINITY, v1 = -INFINITY;
        for (size_t i = 0; i < np; i++)
            u0 = fmin(u0, poly[2 * i]), u1 = fmax(u1, poly[2 * i]), v0 = fmin(v0, poly[2 * i + 1]), v1 = fmax(v1, poly[2 * i + 1]);
        ck_assert(uv[2 * k] > u0 + 0.09 && uv[2 * k] < u1 - 0.09);
        ck_assert(uv[2 * k + 1] > v0 + 0.09 && uv[2 * k + 1] < v1 - 0.09);
    }
    ck_assert(uv[1] == 0 || fabs(uv[1]) < 1e-6); /* anchor 0 on the d1 axis */
    sslk_slice_destroy(s);
    /* polygon: a unit square (in scrambled order, plus an interior point) in a
     * tilted plane of R^3 -> hull area 1 */
    float sq[15] = {0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0.5f, 0.5f, 0.5f};
    ck_ok(sslk_slice_from_polygon(c, sq, 5, 3, &s));
    ck_ok(sslk_slice_polygon(s, poly, 8, &np));
    ck_assert_uint_eq(np, 4);
    double ar = 0;
    for (size_t i = 0; i < np; i++) {
        size_t j = (i + 1) % np;
        ar += 0.5 * (poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1]);
    }
    ck_close(ar, sqrt(2.0), 1e-6, 0); /* the square (0,0,0),(1,0,1),(0,1,0),(1,1,1) has sides 1 and sqrt 2 */
    sslk_slice_destroy(s);
    float bent[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0.3f};
    ck_status(sslk_slice_from_polygon(c, bent, 4, 3, &s), SSLK_E_INVALID_ARG);
    float line[9] = {0, 0, 0, 1, 1, 1, 2, 2, 2};
    ck_status(sslk_slice_from_polygon(c, line, 3, 3, &s), SSLK_E_DEGENERATE);
    /* box with non-orthogonal directions: parallelogram of area |d1 x d2| * 4 */
    float o[2] = {0, 0}, d[4] = {1, 0, 1, 1};
    double ext[4] = {-1, 1, -1, 1};
    ck_ok(sslk_slice_from_box(c, o, d, 2, ext, &s));
    ck_ok(sslk_slice_polygon(s, poly, 8, &np));
    ar = 0;
    for (size_t i = 0; i < np; i++) {
        size_t j = (i + 1) % np;
        ar += 0.5 * (poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1]);
    }
    ck_close(ar, 4.0, 1e-12, 0);
    sslk_slice_destroy(s);
    float par[4] = {1, 1, 2, 2};
    ck_status(sslk_slice_from_box(c, o, par, 2, ext, &s), SSLK_E_DEGENERATE);
    double bad[4] = {1, -1, 0, 1};
    ck_status(sslk_slice_from_box(c, o, d, 2, bad, &s), SSLK_E_INVALID_ARG);
    /* settings */
    ck_ok(sslk_slice_from_box(c, o, d, 2, ext, &s));
    double v;
    ck_ok(sslk_slice_get_f64(s, SSLK_SPLINECAM_TOL, &v));
    ck_close(v, 1e-10, 0, 0);
    ck_status(sslk_slice_set_f64(s, SSLK_SPLINECAM_TOL, 0.5), SSLK_E_SETTING);
    ck_status(sslk_slice_set_f64(s, 1000, 1.0), SSLK_E_SETTING);
    ck_ok(sslk_slice_set_f64(s, SSLK_SPLINECAM_MAX_REGIONS, 3));
    sslk_model *m;
    size_t shape[1] = {2};
    ck_ok(sslk_model_from_spec(c, "linear:6,relu,linear:2", 1, shape, 1, &m));
    sslk_partition *p = NULL;
    ck_ok(sslk_slice_set_f64(s, SSLK_SPLINECAM_MAX_REGIONS, 1e6));
    ck_ok(sslk_splinecam(c, m, s, 0, &p));
    if (regions_of(p) > 1) {
        ck_ok(sslk_slice_set_f64(s, SSLK_SPLINECAM_MAX_REGIONS, 1));
        sslk_partition *q = NULL;
        ck_status(sslk_splinecam(c, m, s, 0, &q), SSLK_E_OVERFLOW);
        ck_assert_ptr_null(q);
    }
    double maps[6];
    ck_status(sslk_partition_maps(p, maps), SSLK_E_STATE);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    /* dimension mismatch */
    float o3[3] = {0, 0, 0}, d3[6] = {1, 0, 0, 0, 1, 0};
    ck_ok(sslk_slice_from_box(c, o3, d3, 3, ext, &s));
    ck_status(sslk_splinecam(c, m, s, 0, &p), SSLK_E_SHAPE);
    ck_status(sslk_splinecam(c, NULL, s, 0, &p), SSLK_E_INVALID_ARG);
    sslk_slice_destroy(s);
    /* non-finite parameters are refused */
    ck_ok(sslk_slice_from_box(c, o, d, 2, ext, &s));
    float wbad[12];
    ck_ok(sslk_model_get_param(m, "0.weight", wbad, 12));
    sslk_param_view pv;
    pv.struct_size = sizeof pv;
    ck_ok(sslk_model_param(m, 0, &pv));
    ck_assert_str_eq(pv.name, "0.weight");
    pv.data[3] = NAN;
    ck_status(sslk_splinecam(c, m, s, 0, &p), SSLK_E_NONFINITE);
    ck_assert_ptr_null(p);
    pv.data[3] = wbad[3];
    sslk_slice_destroy(s);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* Options on the call (sslk_splinecam_ex): the slice's own settings are
 * ignored, the call's tolerance / region cap / flags apply, bad options are
 * named.  S1 (identity + ReLU on [-1, 1]^2) has exactly 4 regions. */
START_TEST(splinecam_options_on_the_call) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_model *m;
    size_t shape[1] = {2};
    ck_ok(sslk_model_from_spec(c, "linear:2,relu", 1, shape, 1, &m));
    float w[4] = {1, 0, 0, 1}, b[2] = {0, 0};
    ck_ok(sslk_model_set_param(m, "0.weight", w, 4));
    ck_ok(sslk_model_set_param(m, "0.bias", b, 2));
    float o[2] = {0, 0}, d[4] = {1, 0, 0, 1};
    double ext[4] = {-1, 1, -1, 1};
    sslk_slice *s;
    ck_ok(sslk_slice_from_box(c, o, d, 2, ext, &s));
    ck_ok(sslk_slice_set_f64(s, SSLK_SPLINECAM_MAX_REGIONS, 1)); /* the 1.x call obeys it */
    sslk_partition *p = NULL;
    ck_status(sslk_splinecam(c, m, s, 0, &p), SSLK_E_OVERFLOW);
    ck_ok(sslk_splinecam_ex(c, m, s, NULL, &p)); /* defaults; the slice's cap is not read */
    ck_assert_uint_eq(regions_of(p), 4);
    double maps[4 * 3 * 2];
    ck_status(sslk_partition_maps(p, maps), SSLK_E_STATE);
    sslk_partition_destroy(p);
    sslk_splinecam_options opt;
    ck_ok(sslk_splinecam_options_init(&opt));
    ck_assert_uint_eq(opt.struct_size, sizeof opt);
    ck_close(opt.tol, 1e-10, 0, 0);
    ck_assert_uint_eq(opt.max_regions, 10000000u);
    ck_assert_uint_eq(opt.flags, 0);
    opt.flags = SSLK_SPLINECAM_MAPS;
    ck_ok(sslk_splinecam_ex(c, m, s, &opt, &p));
    ck_assert_uint_eq(regions_of(p), 4);
    ck_ok(sslk_partition_maps(p, maps)); /* kept on request */
    sslk_partition_destroy(p);
    opt.max_regions = 3;
    ck_status(sslk_splinecam_ex(c, m, s, &opt, &p), SSLK_E_OVERFLOW);
    ck_assert_ptr_null(p);
    opt.max_regions = 4;
    ck_ok(sslk_splinecam_ex(c, m, s, &opt, &p));
    sslk_partition_destroy(p);
    double v = 0;
    ck_ok(sslk_slice_get_f64(s, SSLK_SPLINECAM_MAX_REGIONS, &v)); /* the slice is left alone */
    ck_close(v, 1, 0, 0);
    opt.tol = 0.5;
    ck_status(sslk_splinecam_ex(c, m, s, &opt, &p), SSLK_E_SETTING);
    ck_assert_msg(strstr(sslk_last_error(), "tol") != NULL, "%s", sslk_last_error());
    opt.tol = 1e-10;
    opt.max_regions = 0;
    ck_status(sslk_splinecam_ex(c, m, s, &opt, &p), SSLK_E_SETTING);
    opt.max_regions = 10;
    opt.flags = 1u << 7;
    ck_status(sslk_splinecam_ex(c, m, s, &opt, &p), SSLK_E_INVALID_ARG);
    opt.flags = 0;
    opt.struct_size = sizeof(size_t);
    ck_status(sslk_splinecam_ex(c, m, s, &opt, &p), SSLK_E_INVALID_ARG);
    ck_status(sslk_splinecam_ex(c, m, NULL, NULL, &p), SSLK_E_INVALID_ARG);
    sslk_slice_destroy(s);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

/* ---- export ------------------------------------------------------------------------ */

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

START_TEST(export_json_csv_pictures) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    size_t shape[1] = {4};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:8,relu,linear:3", 1, shape, 2, &m));
    float a[12];
    tu_fill_uniform(a, 12, 8, -1, 1);
    sslk_slice *s;
    ck_ok(sslk_slice_from_anchors(c, a, 3, 4, 0.5, &s));
    sslk_partition *p;
    ck_ok(sslk_splinecam(c, m, s, 0, &p));
    size_t n = regions_of(p), nseg, nv;
    ck_ok(sslk_partition_boundary(p, NULL, NULL, 0, &nseg));
    size_t *off = malloc((n + 1) * sizeof *off);
    ck_ok(sslk_partition_vertex_offsets(p, off));
    nv = off[n];
    char dir[] = "/tmp/sslk_splinecam_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/r.json", dir);
    ck_ok(sslk_partition_write_json(p, path));
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    size_t nreg = 0, nsegl = 0;
    while (fgets(line, sizeof line, f)) {
        nreg += strstr(line, "\"area\"") != NULL;
        nsegl += strstr(line, "\"segment\"") != NULL;
    }
    fclose(f);
    ck_assert_uint_eq(nreg, n);
    ck_assert_uint_eq(nsegl, nseg);
    unlink(path);
    char p2[256];
    snprintf(path, sizeof path, "%s/r.csv", dir);
    snprintf(p2, sizeof p2, "%s/b.csv", dir);
    ck_ok(sslk_partition_write_csv(p, path, p2));
    size_t rows = 0;
    f = fopen(path, "r");
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    ck_assert_uint_eq(rows, nv + 1);
    rows = 0;
    f = fopen(p2, "r");
    while (fgets(line, sizeof line, f)) rows++;
    fclose(f);
    ck_assert_uint_eq(rows, nseg + 1);
    unlink(path);
    unlink(p2);
    const char *ext[3] = {"png", "svg", "pdf"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/r.%s", dir, ext[i]);
        ck_ok(sslk_partition_plot(p, path, 200, 160, i == 1 ? SSLK_PARTITION_PLOT_RANDOM_COLORS : 0));
        ck_assert_int_gt(file_size(path), 100);
        f = fopen(path, "rb");
        unsigned char mg[4];
        ck_assert_uint_eq(fread(mg, 1, 4, f), 4);
        fclose(f);
        if (i == 0) ck_assert(mg[1] == 'P' && mg[2] == 'N' && mg[3] == 'G');
        if (i == 2) ck_assert(mg[0] == '%' && mg[1] == 'P');
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/r.gif", dir);
    ck_status(sslk_partition_plot(p, path, 200, 160, 0), SSLK_E_INVALID_ARG);
    ck_status(sslk_partition_write_json(p, "/nonexistent-dir/x.json"), SSLK_E_IO);
    rmdir(dir);
    /* stats agree with the getters */
    sslk_partition_stats st;
    st.struct_size = sizeof st;
    ck_ok(sslk_partition_stats_get(p, &st));
    ck_assert_uint_eq(st.regions, n);
    ck_assert_uint_eq(st.vertices, nv);
    ck_assert_uint_eq(st.boundary_segments, nseg);
    ck_assert(st.area_min <= st.area_median && st.area_median <= st.area_max);
    ck_close(st.area_mean * (double)n, st.area_total, 1e-12, 0);
    /* one struct rule: a newer, longer struct is filled up to ours (it used to
     * be refused), a struct below the 1.0 size is refused */
    struct {
        sslk_partition_stats s;
        double future;
    } big = {.s = {.struct_size = sizeof big}, .future = -3};
    ck_ok(sslk_partition_stats_get(p, &big.s));
    ck_assert_uint_eq(big.s.regions, n);
    ck_assert_uint_eq(big.s.struct_size, sizeof(sslk_partition_stats));
    ck_close(big.future, -3, 0, 0);
    big.s.struct_size = sizeof(size_t);
    ck_status(sslk_partition_stats_get(p, &big.s), SSLK_E_INVALID_ARG);
    /* region vertices in input space are the slice map of the 2-D vertices */
    float xin[64 * 4];
    size_t k;
    ck_ok(sslk_partition_region_input(p, 0, xin, 64, &k));
    double *uv = malloc(2 * nv * sizeof *uv);
    ck_ok(sslk_partition_vertices(p, uv));
    float chk[64 * 4];
    ck_ok(sslk_slice_to_input(s, uv, k, chk));
    for (size_t i = 0; i < 4 * k; i++) ck_close(xin[i], chk[i], 0, 1e-6);
    ck_status(sslk_partition_region_input(p, n, xin, 64, &k), SSLK_E_RANGE);
    free(uv);
    free(off);
    sslk_partition_destroy(p);
    sslk_slice_destroy(s);
    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("splinecam");
    TCase *tc = tcase_create("splinecam");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, s1_to_s5_one_layer_counts);
    tcase_add_test(tc, s6_two_layers_seven_regions);
    tcase_add_test(tc, s7_decision_boundary_three_segments);
    tcase_add_test(tc, argmax_boundary_three_classes);
    tcase_add_test(tc, s8_one_layer_general_position);
    tcase_add_test(tc, mlp_each_activation);
    tcase_add_test(tc, conv_pool_batchnorm);
    tcase_add_test(tc, double_evaluator_matches_forward);
    tcase_add_test(tc, residual_blocks);
    tcase_add_test(tc, maxpool_ties_go_to_first_entry);
    tcase_add_test(tc, model_one_hidden_layer_count);
    tcase_add_test(tc, deterministic_across_threads);
    tcase_add_test(tc, s10_two_anchor_slice);
    tcase_add_test(tc, three_anchor_and_polygon_slices);
    tcase_add_test(tc, splinecam_options_on_the_call);
    tcase_add_test(tc, export_json_csv_pictures);
    tcase_add_test(tc, no_boundary_zero_length_copies);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
