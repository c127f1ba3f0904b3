/* sslkit model: inspect, create and convert model files (native .sslk and
 * safetensors with PyTorch names).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *help =
    "usage: sslkit model info FILE.sslk\n"
    "       sslkit model info FILE.safetensors --spec SPEC --input SHAPE\n"
    "       sslkit model new --spec SPEC --input SHAPE [--seed N] OUT\n"
    "       sslkit model convert IN OUT [--spec SPEC --input SHAPE]\n"
    "  SHAPE: D or C,H,W.  OUT ending in .safetensors is written as safetensors\n"
    "  (PyTorch state_dict names), anything else as a native .sslk file.\n"
    "  safetensors inputs need --spec and --input (the file holds weights only).\n";

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* "784" or "3,32,32": 0, or 2 after a usage error naming --input. */
static int parse_shape(const char *cmd, const char *txt, size_t *ndim, size_t shape[3]) {
    int64_t v[3];
    size_t n;
    int rc = cli_parse_i64_list(cmd, "--input", txt, ',', 1, 3, 1, INT32_MAX, v, &n);
    if (rc) return rc;
    if (n == 2) return cli_usage(cmd, "--input '%s' is not D or C,H,W", txt);
    for (size_t i = 0; i < n; i++) shape[i] = (size_t)v[i];
    *ndim = n;
    return 0;
}

/* Load IN: native file, or safetensors into a model built from --spec/--input. */
static int load_any(const char *cmd, sslk_ctx *ctx, int argc, char **argv, const char *path,
                    sslk_model **m) {
    sslk_status s;
    if (!ends_with(path, ".safetensors")) {
        s = sslk_model_load(ctx, path, m);
        return s ? cli_fail(cmd, path, s) : 0;
    }
    const char *spec = cli_opt(argc, argv, "--spec"), *in = cli_opt(argc, argv, "--input");
    size_t nd = 0, shape[3] = {0, 0, 0};
    if (!spec || !in) return cli_usage(cmd, "a safetensors file needs --spec and --input");
    int rc = parse_shape(cmd, in, &nd, shape);
    if (rc) return rc;
    if ((s = sslk_model_from_spec(ctx, spec, nd, shape, 0, m))) return cli_fail(cmd, "--spec", s);
    if ((s = sslk_model_load_safetensors(*m, path))) {
        sslk_model_destroy(*m);
        *m = NULL;
        return cli_fail(cmd, path, s);
    }
    return 0;
}

static int save_any(const char *cmd, const sslk_model *m, const char *path) {
    sslk_status s = ends_with(path, ".safetensors") ? sslk_model_save_safetensors(m, path)
                                                     : sslk_model_save(m, path);
    return s ? cli_fail(cmd, path, s) : 0;
}

static void print_shape(const char *label, size_t nd, const size_t *s) {
    printf("%s", label);
    for (size_t i = 0; i < nd; i++) printf("%s%zu", i ? " x " : "", s[i]);
    printf("\n");
}

static int info(const char *cmd, sslk_model *m) {
    size_t len, nd, sh[3], np, ns;
    sslk_model_spec(m, NULL, 0, &len);
    char *spec = malloc(len + 1);
    if (!spec) return cli_fail(cmd, "spec", SSLK_E_NOMEM);
    sslk_model_spec(m, spec, len + 1, &len);
    printf("spec: %s\n", spec);
    free(spec);
    sslk_model_input_shape(m, &nd, sh);
    print_shape("input: ", nd, sh);
    sslk_model_output_shape(m, &nd, sh);
    print_shape("output: ", nd, sh);
    sslk_model_num_scalars(m, &ns);
    sslk_model_param_count(m, &np);
    printf("trainable scalars: %zu\ntensors: %zu\n", ns, np);
    for (size_t i = 0; i < np; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        sslk_model_param(m, i, &v);
        double sq = 0;
        for (size_t k = 0; k < v.count; k++) sq += (double)v.data[k] * v.data[k];
        printf("  %-28s", v.name);
        for (int d = 0; d < v.ndim; d++) printf("%s%zu", d ? " x " : " ", v.shape[d]);
        printf("   rms %.4g%s\n", v.count ? sqrt(sq / (double)v.count) : 0.0,
               (v.flags & SSLK_PARAM_FROZEN) ? "  (buffer)" : "");
    }
    return 0;
}

int cmd_model(int argc, char **argv) {
    const char *cmd = "model";
    if (argc < 2 || cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return argc < 2 ? 2 : 0;
    }
    static const char *const vopts[] = {"--spec", "--input", "--seed", "--threads", NULL};
    char *pos[4];
    int np = cli_positionals(argc, argv, vopts, pos, 4);
    const char *sub = argv[1];
    sslk_ctx *ctx = cli_ctx(1);
    if (!ctx) return cli_fail(cmd, "context", SSLK_E_NOMEM);
    sslk_model *m = NULL;
    int rc;
    if (!strcmp(sub, "info")) {
        if (np != 2) rc = cli_usage(cmd, "info expects one FILE");
        else if (!(rc = load_any(cmd, ctx, argc, argv, pos[1], &m))) rc = info(cmd, m);
    } else if (!strcmp(sub, "new")) {
        const char *spec = cli_opt(argc, argv, "--spec"), *in = cli_opt(argc, argv, "--input");
        const char *seed = cli_opt(argc, argv, "--seed");
        size_t nd = 0, shape[3] = {0, 0, 0};
        uint64_t seed_v = 0;
        sslk_status s;
        if (np != 2 || !spec || !in) rc = cli_usage(cmd, "new expects --spec, --input and OUT");
        else if ((rc = parse_shape(cmd, in, &nd, shape)) || (seed && (rc = cli_parse_u64(cmd, "--seed", seed, &seed_v))))
            ;
        else if ((s = sslk_model_from_spec(ctx, spec, nd, shape, seed_v, &m)))
            rc = cli_fail(cmd, "--spec", s);
        else rc = save_any(cmd, m, pos[1]);
    } else if (!strcmp(sub, "convert")) {
        if (np != 3) rc = cli_usage(cmd, "convert expects IN and OUT");
        else if (!(rc = load_any(cmd, ctx, argc, argv, pos[1], &m))) rc = save_any(cmd, m, pos[2]);
    } else {
        rc = cli_usage(cmd, "unknown subcommand '%s' (info, new, convert)", sub);
    }
    sslk_model_destroy(m);
    sslk_ctx_destroy(ctx);
    return rc;
}
