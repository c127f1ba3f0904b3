/* sslkit spectral --features F.npy --k K --out EMB.npy: Laplacian eigenmaps,
 * diffusion maps or Galerkin eigenfunctions of a feature matrix.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metric_cli.h"

static const char *help =
    "usage: sslkit spectral --features F.npy --k K --out EMB.npy [--method eigenmaps|diffusion|galerkin]\n"
    "                       [--neighbors N] [--weights self_tuning|rbf|binary] [--sigma S]\n"
    "                       [--symmetrize union|mutual] [--graph knn|dense] [--dense-max-n N]\n"
    "                       [--laplacian symmetric|random_walk|unnormalized] [--keep-first]\n"
    "                       [--t T] [--p P] [--query Q.npy --query-out QEMB.npy]\n"
    "                       [--eigenvalues EV.npy] [--tol T] [--max-iter N] [--ncv N]\n"
    "                       [--seed N] [--threads N] [--json]\n"
    "  F.npy: n x d features (any numeric dtype; extra axes are flattened)\n"
    "  eigenmaps (default): k smallest non-trivial eigenvectors of the graph Laplacian (ARPACK)\n"
    "  diffusion: diffusion-map coordinates at time --t (default 1); row distances = diffusion distances\n"
    "  galerkin: Gaussian-kernel Galerkin eigenfunctions on the first --p rows (default min(n, 1000)),\n"
    "            evaluated at F (EMB.npy) and at --query points (QEMB.npy)\n"
    "  Defaults: 10 neighbours, self-tuning weights, union symmetrisation, symmetric Laplacian,\n"
    "  sigma 1 (rbf / dense / galerkin).  EMB.npy is n x k float32; EV.npy the k eigenvalues.\n";

static const char *const vopts[] = {"--features", "--k", "--out", "--method", "--neighbors", "--weights", "--sigma",
                                    "--symmetrize", "--graph", "--dense-max-n", "--laplacian", "--t", "--p",
                                    "--query", "--query-out", "--eigenvalues", "--tol", "--max-iter", "--ncv",
                                    "--seed", "--threads", NULL};

/* A choice setting given by name (the library's table names them). */
static int set_choice(const char *cmd, sslk_spectral *sp, int argc, char **argv, const char *opt, int key) {
    const char *v = cli_opt(argc, argv, opt);
    if (!v) return 0;
    int64_t val;
    if (sslk_setting_choice_find(key, v, &val) != SSLK_OK) return cli_usage(cmd, "%s: %s", opt, sslk_last_error());
    sslk_status s = sslk_spectral_set_i64(sp, key, val);
    return s == SSLK_OK ? 0 : cli_fail(cmd, opt, s);
}

static int set_num(const char *cmd, sslk_spectral *sp, int argc, char **argv, const char *opt, int key, bool real) {
    const char *v = cli_opt(argc, argv, opt);
    if (!v) return 0;
    sslk_status s;
    if (real) {
        double x;
        int rc = cli_parse_f64(cmd, opt, v, 0, 1e12, &x);
        if (rc) return rc;
        s = sslk_spectral_set_f64(sp, key, x);
    } else {
        int64_t x;
        int rc = cli_parse_i64(cmd, opt, v, 0, INT64_MAX, &x);
        if (rc) return rc;
        s = sslk_spectral_set_i64(sp, key, x);
    }
    return s == SSLK_OK ? 0 : cli_fail(cmd, opt, s);
}

static int save(const char *cmd, sslk_ctx *ctx, const char *path, sslk_dtype t, const void *data, size_t nd,
                const size_t *shape) {
    sslk_status s = sslk_npy_save(ctx, path, t, data, nd, shape);
    return s == SSLK_OK ? 0 : cli_fail(cmd, path, s);
}

int cmd_spectral(int argc, char **argv) {
    const char *cmd = "spectral";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    char *pos[1];
    if (cli_positionals(argc, argv, vopts, pos, 1) != 0) return cli_usage(cmd, "takes no positional arguments");
    const char *feat = cli_opt(argc, argv, "--features"), *out = cli_opt(argc, argv, "--out");
    if (!feat || !out) return cli_usage(cmd, "needs --features F.npy and --out EMB.npy");
    const char *method = cli_opt(argc, argv, "--method");
    int m = !method || !strcmp(method, "eigenmaps") ? 0 : !strcmp(method, "diffusion") ? 1
            : !strcmp(method, "galerkin")          ? 2
                                                   : -1;
    if (m < 0) return cli_usage(cmd, "--method expects eigenmaps, diffusion or galerkin, got '%s'", method);
    const char *qpath = cli_opt(argc, argv, "--query"), *qout = cli_opt(argc, argv, "--query-out");
    if ((qpath || qout) && (m != 2 || !qpath || !qout))
        return cli_usage(cmd, "--query and --query-out go together, with --method galerkin");
    int64_t k, p = 0;
    double t;
    uint64_t seed;
    int threads, rc;
    if ((rc = cli_opt_i64(argc, argv, cmd, "--k", 1, 1 << 20, 2, &k)) ||
        (rc = cli_opt_i64(argc, argv, cmd, "--p", 0, 1 << 20, 0, &p)) ||
        (rc = cli_opt_f64(argc, argv, cmd, "--t", 0, 1e6, 1, &t)) ||
        (rc = cli_opt_u64(argc, argv, cmd, "--seed", 0, &seed)) || (rc = cli_opt_threads(argc, argv, cmd, &threads)))
        return rc;
    bool json = cli_flag(argc, argv, "--json");
    cli_array x;
    if (cli_load(cmd, "features", feat, SSLK_DTYPE_F32, 2, SSLK_NPY_MAX_NDIM, &x)) return 1;
    size_t n = x.shape[0], d = cli_row_width(&x);
    sslk_ctx *ctx = cli_ctx(threads);
    sslk_ctx_set_seed(ctx, seed);
    sslk_spectral *sp = NULL;
    float *emb = NULL, *q = NULL, *qemb = NULL;
    double *ev = NULL, *alpha = NULL;
    cli_array qa = {0};
    sslk_status s = sslk_spectral_create(ctx, &sp);
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, "create", s);
        goto done;
    }
    if ((rc = set_num(cmd, sp, argc, argv, "--neighbors", SSLK_SPECTRAL_NEIGHBORS, false)) ||
        (rc = set_num(cmd, sp, argc, argv, "--sigma", SSLK_SPECTRAL_SIGMA, true)) ||
        (rc = set_num(cmd, sp, argc, argv, "--dense-max-n", SSLK_SPECTRAL_DENSE_MAX_N, false)) ||
        (rc = set_num(cmd, sp, argc, argv, "--tol", SSLK_SPECTRAL_TOL, true)) ||
        (rc = set_num(cmd, sp, argc, argv, "--max-iter", SSLK_SPECTRAL_MAX_ITER, false)) ||
        (rc = set_num(cmd, sp, argc, argv, "--ncv", SSLK_SPECTRAL_NCV, false)) ||
        (rc = set_choice(cmd, sp, argc, argv, "--weights", SSLK_SPECTRAL_WEIGHTS)) ||
        (rc = set_choice(cmd, sp, argc, argv, "--symmetrize", SSLK_SPECTRAL_SYMMETRIZE)) ||
        (rc = set_choice(cmd, sp, argc, argv, "--graph", SSLK_SPECTRAL_GRAPH)) ||
        (rc = set_choice(cmd, sp, argc, argv, "--laplacian", SSLK_SPECTRAL_LAPLACIAN)))
        goto done;
    if (cli_flag(argc, argv, "--keep-first")) sslk_spectral_set_i64(sp, SSLK_SPECTRAL_DROP_FIRST, 0);
    emb = malloc(n * (size_t)k * sizeof *emb);
    ev = malloc((size_t)k * sizeof *ev);
    if (!emb || !ev) {
        rc = cli_fail(cmd, "output", SSLK_E_NOMEM);
        goto done;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t np = 0;
    if (m == 0) {
        s = sslk_spectral_eigenmaps(sp, x.data, n, d, (size_t)k, emb, ev);
    } else if (m == 1) {
        s = sslk_spectral_diffusion_map(sp, x.data, n, d, (size_t)k, t, emb, ev);
    } else {
        np = p ? (size_t)p : (n < 1000 ? n : 1000);
        alpha = malloc(np * (size_t)k * sizeof *alpha);
        s = alpha ? sslk_spectral_galerkin_fit(sp, x.data, n, d, np, (size_t)k, alpha, ev) : SSLK_E_NOMEM;
        if (s == SSLK_OK) s = sslk_spectral_galerkin_eval(sp, x.data, np, d, alpha, (size_t)k, x.data, n, emb);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (s != SSLK_OK) {
        rc = cli_fail(cmd, feat, s);
        goto done;
    }
    size_t shape[2] = {n, (size_t)k}, kk = (size_t)k;
    if ((rc = save(cmd, ctx, out, SSLK_DTYPE_F32, emb, 2, shape))) goto done;
    const char *evp = cli_opt(argc, argv, "--eigenvalues");
    if (evp && (rc = save(cmd, ctx, evp, SSLK_DTYPE_F64, ev, 1, &kk))) goto done;
    if (qpath) {
        if (cli_load(cmd, "query", qpath, SSLK_DTYPE_F32, 2, SSLK_NPY_MAX_NDIM, &qa)) {
            rc = 1;
            goto done;
        }
        if (cli_row_width(&qa) != d) {
            rc = cli_usage(cmd, "%s has rows of %zu values, the features %zu", qpath, cli_row_width(&qa), d);
            goto done;
        }
        qemb = malloc(qa.shape[0] * kk * sizeof *qemb);
        s = qemb ? sslk_spectral_galerkin_eval(sp, x.data, np, d, alpha, kk, qa.data, qa.shape[0], qemb)
                 : SSLK_E_NOMEM;
        if (s != SSLK_OK) {
            rc = cli_fail(cmd, qpath, s);
            goto done;
        }
        size_t qs[2] = {qa.shape[0], kk};
        if ((rc = save(cmd, ctx, qout, SSLK_DTYPE_F32, qemb, 2, qs))) goto done;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    static const char *names[] = {"eigenmaps", "diffusion", "galerkin"};
    if (json) {
        printf("{\"features\": ");
        cli_json_str(stdout, feat);
        printf(", \"method\": \"%s\", \"n\": %zu, \"d\": %zu, \"k\": %zu, \"seconds\": ", names[m], n, d, kk);
        cli_json_num(stdout, secs);
        printf(", \"eigenvalues\": [");
        for (size_t i = 0; i < kk; i++) {
            if (i) printf(", ");
            cli_json_num(stdout, ev[i]);
        }
        printf("]}\n");
    } else {
        printf("features     %s (%zu x %zu)\n", feat, n, d);
        printf("method       %s, k = %zu, %.3f s\n", names[m], kk, secs);
        printf("eigenvalues  ");
        for (size_t i = 0; i < kk && i < 8; i++) printf("%s%.6g", i ? " " : "", ev[i]);
        printf("%s\n", kk > 8 ? " ..." : "");
        printf("written      %s\n", out);
    }
    rc = 0;
done:
    sslk_spectral_destroy(sp);
    free(emb);
    free(ev);
    free(alpha);
    free(q);
    free(qemb);
    cli_array_free(&qa);
    cli_array_free(&x);
    sslk_ctx_destroy(ctx);
    return rc;
}
