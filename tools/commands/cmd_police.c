/* sslkit police: constrain a 2-D model to be affine on a convex region
 * (POLICE), train it on two noisy concentric rings, verify, picture the
 * partition with the region outlined, optionally save the frozen model.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *help =
    "usage: sslkit police [--model M | --spec SPEC] [--box LO1,LO2,HI1,HI2 | --vertices V.npy]\n"
    "                     [--steps 1000] [--lr 1e-3] [--seed 0] [--picture police.png]\n"
    "                     [--save frozen.sslk] [--threads N]\n"
    "  Attaches the POLICE constraint (the model becomes affine on the convex hull\n"
    "  of the vertices), trains it on two noisy concentric rings (AdamW, full batch,\n"
    "  lr x0.3 every quarter), verifies affinity in double and counts the SplineCam\n"
    "  regions inside the region (1 when affine), and draws the partition with the\n"
    "  region outlined.  The model takes 2 inputs and has 1 output (logistic) or\n"
    "  more (softmax over the first two).  Default: --spec\n"
    "  linear:128,leaky_relu:0.01,linear:128,leaky_relu:0.01,linear:128,leaky_relu:0.01,linear:1\n"
    "  and the box 0,0,1.5,1.5.  --save writes the model with the shifts folded\n"
    "  into its biases (an ordinary model file, evaluation mode).\n";

/* Two wavy noisy rings (radius ~1: class 0, ~2: class 1), n points per ring. */
static void rings(size_t n, uint64_t seed, float *x, float *y) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t c = 0; c < 2; c++)
        for (size_t i = 0; i < n; i++) {
            double u[2];
            for (int k = 0; k < 2; k++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                u[k] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
            }
            double g = sqrt(-2 * log(u[0])) * cos(2 * M_PI * u[1]);
            double t = 2 * M_PI * (double)i / (double)n;
            double r = (c ? 2.0 : 1.0) + 0.1 * sin(5 * t) + 0.08 * g;
            x[2 * (c * n + i)] = (float)(r * cos(t));
            x[2 * (c * n + i) + 1] = (float)(r * sin(t));
            y[c * n + i] = (float)c;
        }
}

/* Loss and output gradient: logistic for one output, softmax over outputs. */
static double loss_grad(const float *z, const float *y, size_t n, size_t K, float *g) {
    double L = 0;
    for (size_t i = 0; i < n; i++) {
        if (K == 1) {
            double v = z[i], p = 1 / (1 + exp(-v));
            L += (v > 0 ? v : 0) + log1p(exp(-fabs(v))) - y[i] * v;
            g[i] = (float)((p - y[i]) / (double)n);
            continue;
        }
        const float *r = z + i * K;
        double mx = r[0], s = 0;
        for (size_t k = 1; k < K; k++) mx = fmax(mx, r[k]);
        for (size_t k = 0; k < K; k++) s += exp(r[k] - mx);
        size_t lab = y[i] > 0.5f;
        L += log(s) + mx - r[lab];
        for (size_t k = 0; k < K; k++)
            g[i * K + k] = (float)((exp(r[k] - mx) / s - (k == lab)) / (double)n);
    }
    return L / (double)n;
}

static int accuracy_pct(const float *z, const float *y, size_t n, size_t K) {
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = K == 1 ? z[i] > 0 : z[i * K + 1] > z[i * K];
        ok += pred == (y[i] > 0.5f);
    }
    return (int)(100.0 * (double)ok / (double)n + 0.5);
}

static float *load_vertices(sslk_ctx *ctx, const char *path, size_t *c, size_t *d) {
    sslk_npy *f = NULL;
    if (sslk_npy_open(ctx, path, &f) != SSLK_OK) return NULL;
    float *v = NULL;
    if (sslk_npy_ndim(f) == 2) {
        *c = sslk_npy_dim(f, 0), *d = sslk_npy_dim(f, 1);
        v = malloc(sslk_npy_count(f) * sizeof(float) + 1);
        if (v && sslk_npy_read(f, SSLK_DTYPE_F32, v, sslk_npy_count(f)) != SSLK_OK) {
            free(v);
            v = NULL;
        }
    }
    sslk_npy_close(f);
    return v;
}

int cmd_police(int argc, char **argv) {
    const char *cmd = "police";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    const char *mpath = cli_opt(argc, argv, "--model"), *spec = cli_opt(argc, argv, "--spec");
    const char *box = cli_opt(argc, argv, "--box"), *vpath = cli_opt(argc, argv, "--vertices");
    const char *pic = cli_opt(argc, argv, "--picture"), *save = cli_opt(argc, argv, "--save");
    int64_t steps;
    double lr;
    uint64_t seed;
    int threads, urc;
    if ((urc = cli_opt_i64(argc, argv, cmd, "--steps", 0, 10000000, 1000, &steps)) ||
        (urc = cli_opt_f64(argc, argv, cmd, "--lr", 1e-12, 1e6, 1e-3, &lr)) ||
        (urc = cli_opt_u64(argc, argv, cmd, "--seed", 0, &seed)) || (urc = cli_opt_threads(argc, argv, cmd, &threads)))
        return urc;
    if (mpath && spec) return cli_usage(cmd, "give --model or --spec, not both");
    if (box && vpath) return cli_usage(cmd, "give --box or --vertices, not both");
    if (!pic) pic = "police.png";
    double b[4] = {0, 0, 1.5, 1.5};
    size_t nb;
    if (box && (urc = cli_parse_f64_list(cmd, "--box", box, ',', 4, 4, -1e12, 1e12, b, &nb))) return urc;

    sslk_ctx *ctx = cli_ctx(threads);
    if (!ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_model *m = NULL;
    sslk_police *p = NULL;
    sslk_optim *opt = NULL;
    sslk_slice *sl = NULL;
    sslk_partition *part = NULL;
    float *V = NULL, *x = NULL, *y = NULL, *z = NULL, *g = NULL;
    double *uvx = NULL;
    int rc = 1;
    sslk_status s;
    const char *what = "model";
    const size_t shape[1] = {2};
    if (mpath) s = sslk_model_load(ctx, mpath, &m);
    else
        s = sslk_model_from_spec(ctx,
                                 spec ? spec
                                      : "linear:128,leaky_relu:0.01,linear:128,leaky_relu:0.01,"
                                        "linear:128,leaky_relu:0.01,linear:1",
                                 1, shape, seed, &m);
    if (s != SSLK_OK) goto fail;
    size_t D, K;
    if ((s = sslk_model_io_size(m, &D, &K)) != SSLK_OK) goto fail;
    if (D != 2) {
        fprintf(stderr, "sslkit police: the toy task is 2-D but the model takes %zu inputs\n", D);
        rc = 2;
        goto done;
    }
    size_t C = 4, vd = 2;
    what = "vertices";
    if (vpath) {
        V = load_vertices(ctx, vpath, &C, &vd);
        if (!V) {
            s = SSLK_E_FORMAT;
            fprintf(stderr, "sslkit police: %s: need a 2-D C x 2 array (%s)\n", vpath, sslk_last_error());
            goto done;
        }
    } else {
        V = malloc(8 * sizeof(float));
        const double lo[2] = {b[0], b[1]}, hi[2] = {b[2], b[3]};
        if (!V || (s = sslk_police_box_vertices(lo, hi, 2, V, 4, &C)) != SSLK_OK) goto fail;
    }
    what = "constraint";
    if ((s = sslk_police_create(m, V, C, vd, &p)) != SSLK_OK) goto fail;

    const size_t R = 1024, n = 2 * R;
    x = malloc(n * 2 * sizeof(float)), y = malloc(n * sizeof(float));
    z = malloc(n * K * sizeof(float)), g = malloc(n * K * sizeof(float));
    if (!x || !y || !z || !g) {
        s = SSLK_E_NOMEM;
        goto fail;
    }
    rings(R, seed + 1, x, y);
    what = "training";
    if ((s = sslk_optim_create(ctx, SSLK_OPTIM_ADAMW, &opt)) != SSLK_OK) goto fail;
    size_t np;
    if ((s = sslk_model_param_count(m, &np)) != SSLK_OK) goto fail;
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        if ((s = sslk_model_param(m, i, &v)) != SSLK_OK || (s = sslk_optim_add_params(opt, &v, 1, 0)) != SSLK_OK)
            goto fail;
    }
    if ((s = sslk_optim_set_f64(opt, SSLK_ADAMW_LR, lr)) != SSLK_OK ||
        (s = sslk_optim_set_f64(opt, SSLK_ADAMW_WEIGHT_DECAY, 1e-5)) != SSLK_OK)
        goto fail;
    double L = NAN;
    for (long t = 0; t < steps; t++) {
        if ((s = sslk_optim_set_lr_scale(opt, pow(0.3, (double)(4 * t / (steps ? steps : 1))))) != SSLK_OK ||
            (s = sslk_optim_zero_grad(opt)) != SSLK_OK ||
            (s = sslk_model_forward(m, x, n, z, SSLK_MODE_TRAIN)) != SSLK_OK)
            goto fail;
        L = loss_grad(z, y, n, K, g);
        if ((s = sslk_model_backward(m, g, NULL)) != SSLK_OK || (s = sslk_optim_step(opt)) != SSLK_OK) goto fail;
        if (steps >= 10 && (t + 1) % (steps / 5) == 0) printf("step %6ld  loss %.4f\n", t + 1, L);
    }
    if ((s = sslk_model_forward(m, x, n, z, SSLK_MODE_EVAL)) != SSLK_OK) goto fail;
    printf("train accuracy      %d%% (%zu ring points, loss %.4f)\n", accuracy_pct(z, y, n, K), n,
           loss_grad(z, y, n, K, g));

    what = "verification";
    sslk_police_report rep = {.struct_size = sizeof rep};
    if ((s = sslk_police_verify(ctx, m, V, C, vd, 2000, seed, &rep)) != SSLK_OK) goto fail;
    size_t shifted, units, points;
    sslk_police_info(p, NULL, NULL, NULL, &points, &shifted, &units);
    printf("region              %zu vertices, affine rank %zu\n", C, rep.rank);
    printf("constrained         %zu pre-activation points, %zu of %zu units shifted\n", points, shifted,
           units);
    printf("affinity error      %.3g absolute, %.3g relative (%zu convex combinations, double)\n",
           rep.affine_max_abs, rep.affine_max_rel, rep.samples);
    if (rep.slice_checked)
        printf("SplineCam regions   %zu inside the region, %zu in the region scaled x2\n",
               rep.regions_inside, rep.regions_around);

    what = "picture";
    const float origin[2] = {0, 0}, dirs[4] = {1, 0, 0, 1};
    const double ext[4] = {-2.8, 2.8, -2.8, 2.8};
    if ((s = sslk_slice_from_box(ctx, origin, dirs, 2, ext, &sl)) != SSLK_OK ||
        (s = sslk_police_splinecam(ctx, m, sl, 0, &part)) != SSLK_OK)
        goto fail;
    uvx = malloc((2 * C + 2 * n) * sizeof(double));
    int32_t *lab = malloc(n * sizeof(int32_t));
    if (!uvx || !lab) {
        free(lab);
        s = SSLK_E_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < 2 * C; i++) uvx[i] = V[i];
    for (size_t i = 0; i < 2 * n; i++) uvx[2 * C + i] = x[i];
    for (size_t i = 0; i < n; i++) lab[i] = y[i] > 0.5f;
    s = sslk_police_plot(part, uvx, C, uvx + 2 * C, lab, n, pic, 900, 900);
    free(lab);
    if (s != SSLK_OK) goto fail;
    size_t regs;
    sslk_partition_info(part, &regs, NULL, NULL, NULL);
    printf("picture             %s (%zu regions in [-2.8, 2.8]^2)\n", pic, regs);
    if (save) {
        what = "freeze";
        if ((s = sslk_police_freeze(p)) != SSLK_OK || (s = sslk_model_save(m, save)) != SSLK_OK) goto fail;
        printf("frozen model        %s (shifts folded into the biases)\n", save);
    }
    rc = (rep.affine_max_rel < 1e-9 && (!rep.slice_checked || rep.regions_inside == 1)) ? 0 : 3;
    if (rc) fprintf(stderr, "sslkit police: verification FAILED\n");
    goto done;
fail:
    rc = cli_fail(cmd, what, s);
done:
    sslk_partition_destroy(part);
    sslk_slice_destroy(sl);
    sslk_optim_destroy(opt);
    sslk_police_destroy(p);
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    free(V), free(x), free(y), free(z), free(g), free(uvx);
    return rc;
}
