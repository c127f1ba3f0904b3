/* POLICE on two noisy concentric rings (the method's 2-D classification
 * figure): a leaky-ReLU MLP constrained to be affine on the square
 * [0, 1.5]^2, trained with AdamW; inside the square its decision boundary
 * is one straight segment.  Writes police_rings.png (or argv[1]).
 *
 *   cc -std=c11 police_rings.c $(pkg-config --cflags --libs sslkit) -lm -o police_rings
 *
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <sslkit/sslkit.h>

#define CHECK(call)                                                                     \
    do {                                                                                \
        sslk_status st_ = (call);                                                       \
        if (st_ != SSLK_OK) {                                                           \
            fprintf(stderr, "%s failed: %s: %s\n", #call, sslk_status_str(st_),         \
                    sslk_last_error());                                                 \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

enum { R = 1024, N = 2 * R, STEPS = 600 };
static const double PI = 3.14159265358979323846;

/* Wavy rings of radius ~1 (class 0) and ~2 (class 1) with Gaussian noise. */
static void make_rings(float *x, float *y) {
    unsigned long long s = 12345;
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < R; i++) {
            double u[2];
            for (int k = 0; k < 2; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                u[k] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
            }
            double noise = sqrt(-2 * log(u[0])) * cos(2 * PI * u[1]);
            double t = 2 * PI * i / R, r = (c ? 2.0 : 1.0) + 0.1 * sin(5 * t) + 0.08 * noise;
            x[2 * (c * R + i)] = (float)(r * cos(t));
            x[2 * (c * R + i) + 1] = (float)(r * sin(t));
            y[c * R + i] = (float)c;
        }
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "police_rings.png";
    static float x[2 * N], y[N], z[N], g[N];
    make_rings(x, y);

    sslk_ctx *ctx;
    CHECK(sslk_ctx_create(&ctx));
    CHECK(sslk_ctx_set_threads(ctx, 2));
    const size_t in = 2;
    sslk_model *m;
    CHECK(sslk_model_from_spec(ctx,
                               "linear:64,leaky_relu:0.01,linear:64,leaky_relu:0.01,"
                               "linear:64,leaky_relu:0.01,linear:1",
                               1, &in, 7, &m));

    /* the constraint region: the square with corners (0,0) and (1.5,1.5) */
    const double lo[2] = {0, 0}, hi[2] = {1.5, 1.5};
    float V[8];
    size_t C;
    CHECK(sslk_police_box_vertices(lo, hi, 2, V, 4, &C));
    sslk_police *police;
    CHECK(sslk_police_create(m, V, C, 2, &police));

    /* ordinary training: AdamW, full batch, logistic loss, lr x0.3 every quarter */
    sslk_optim *opt;
    CHECK(sslk_optim_create(ctx, SSLK_OPTIM_ADAMW, &opt));
    size_t np;
    CHECK(sslk_model_param_count(m, &np));
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        CHECK(sslk_model_param(m, i, &v));
        CHECK(sslk_optim_add_params(opt, &v, 1, 0));
    }
    CHECK(sslk_optim_set_f64(opt, SSLK_ADAMW_LR, 1e-3));
    CHECK(sslk_optim_set_f64(opt, SSLK_ADAMW_WEIGHT_DECAY, 1e-5));
    for (int t = 0; t < STEPS; t++) {
        CHECK(sslk_optim_set_lr_scale(opt, pow(0.3, 4 * t / STEPS)));
        CHECK(sslk_optim_zero_grad(opt));
        CHECK(sslk_model_forward(m, x, N, z, SSLK_MODE_TRAIN));
        double loss = 0;
        for (int i = 0; i < N; i++) {
            double v = z[i];
            loss += (v > 0 ? v : 0) + log1p(exp(-fabs(v))) - y[i] * v;
            g[i] = (float)((1 / (1 + exp(-v)) - y[i]) / N);
        }
        CHECK(sslk_model_backward(m, g, NULL));
        CHECK(sslk_optim_step(opt));
        if ((t + 1) % 150 == 0) printf("step %d  loss %.4f\n", t + 1, loss / N);
    }

    /* exact checks: affinity in double, one SplineCam region in the square */
    sslk_police_report rep = {.struct_size = sizeof rep};
    CHECK(sslk_police_verify(ctx, m, V, C, 2, 1000, 1, &rep));
    printf("affinity error on the square: %.2e (relative %.2e)\n", rep.affine_max_abs, rep.affine_max_rel);
    printf("SplineCam regions: %zu inside the square, %zu in the square scaled x2\n", rep.regions_inside,
           rep.regions_around);

    sslk_slice *sq;
    sslk_partition *inside;
    CHECK(sslk_slice_from_polygon(ctx, V, C, 2, &sq));
    CHECK(sslk_police_splinecam(ctx, m, sq, 0, &inside));
    size_t segs;
    CHECK(sslk_partition_boundary(inside, NULL, NULL, 0, &segs));
    double seg[4];
    if (segs == 1) {
        float ends[4]; /* slice coordinates back to the input plane */
        CHECK(sslk_partition_boundary(inside, seg, NULL, 1, &segs));
        CHECK(sslk_slice_to_input(sq, seg, 2, ends));
        printf("decision boundary in the square: one straight segment (%.3f, %.3f) - (%.3f, %.3f)\n",
               ends[0], ends[1], ends[2], ends[3]);
    } else {
        printf("decision boundary in the square: %zu segments\n", segs);
    }

    /* picture of the whole plane with the square outlined */
    const float origin[2] = {0, 0}, dirs[4] = {1, 0, 0, 1};
    const double ext[4] = {-2.8, 2.8, -2.8, 2.8};
    sslk_slice *plane;
    sslk_partition *part;
    CHECK(sslk_slice_from_box(ctx, origin, dirs, 2, ext, &plane));
    CHECK(sslk_police_splinecam(ctx, m, plane, 0, &part));
    static double uv[2 * N], outline[8];
    static int32_t lab[N];
    for (int i = 0; i < 2 * N; i++) uv[i] = x[i];
    for (int i = 0; i < N; i++) lab[i] = y[i] > 0.5f;
    for (int i = 0; i < 8; i++) outline[i] = V[i];
    CHECK(sslk_police_plot(part, outline, C, uv, lab, N, out, 800, 800));
    printf("wrote %s\n", out);

    sslk_partition_destroy(part);
    sslk_partition_destroy(inside);
    sslk_slice_destroy(plane);
    sslk_slice_destroy(sq);
    sslk_optim_destroy(opt);
    sslk_police_destroy(police);
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return rep.regions_inside == 1 && segs <= 1 ? 0 : 1;
}
