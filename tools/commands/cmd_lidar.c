/* sslkit lidar --features F.npy (--views Q | --ids IDS.npy): LiDAR of the
 * embeddings of several views per sample, with the collapse monitors.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_cli.h"

static const char *help =
    "usage: sslkit lidar --features F.npy (--views Q | --ids IDS.npy) [--delta D] [--eps E] [--json]\n"
    "                    [--threads N]\n"
    "  F.npy: (n*Q) x d embeddings, the Q views of each sample consecutive (with --views),\n"
    "         or an (n, Q, d) array (then --views may be left out)\n"
    "  IDS.npy: integer sample id of each row instead; every id must have the same number of rows\n"
    "  --delta: ridge on the within-sample scatter (default 1e-4); --eps: added to each\n"
    "  normalised eigenvalue (default 1e-8).  Also prints the per-dimension std of the\n"
    "  embeddings and of their L2-normalised rows (collapse monitors).\n";

typedef struct id_row {
    int64_t id;
    size_t row;
} id_row;

static int cmp_id(const void *a, const void *b) {
    const id_row *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Reorder rows of z (rows x d) so equal ids are consecutive (stable); *q gets
 * the common group size.  Returns 0, or prints and returns 1. */
static int group_by_ids(const char *cmd, const char *path, float *z, size_t rows, size_t d, size_t *q) {
    cli_array ids;
    if (cli_load(cmd, "sample ids", path, SSLK_DTYPE_I64, 1, 1, &ids)) return 1;
    int rc = 1;
    id_row *ir = NULL;
    float *copy = NULL;
    if (ids.shape[0] != rows) {
        fprintf(stderr, "sslkit %s: %s has %zu ids for %zu feature rows\n", cmd, path, ids.shape[0], rows);
        goto done;
    }
    ir = malloc(rows * sizeof *ir);
    copy = malloc(rows * d * sizeof(float));
    if (!ir || !copy) {
        fprintf(stderr, "sslkit %s: out of memory for %zu rows\n", cmd, rows);
        goto done;
    }
    for (size_t i = 0; i < rows; i++) ir[i] = (id_row){((const int64_t *)ids.data)[i], i};
    qsort(ir, rows, sizeof *ir, cmp_id);
    size_t first = 0;
    while (first < rows && ir[first].id == ir[0].id) first++;
    for (size_t i = 0; i < rows; i += first) {
        size_t j = i;
        while (j < rows && ir[j].id == ir[i].id) j++;
        if (j - i != first) {
            fprintf(stderr, "sslkit %s: id %lld has %zu rows but id %lld has %zu; every sample needs the same "
                            "number of views\n", cmd, (long long)ir[i].id, j - i, (long long)ir[0].id, first);
            goto done;
        }
    }
    memcpy(copy, z, rows * d * sizeof(float));
    for (size_t i = 0; i < rows; i++) memcpy(z + i * d, copy + ir[i].row * d, d * sizeof(float));
    *q = first;
    rc = 0;
done:
    free(ir);
    free(copy);
    cli_array_free(&ids);
    return rc;
}

int cmd_lidar(int argc, char **argv) {
    const char *cmd = "lidar";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    static const char *const vopts[] = {"--features", "--views", "--ids", "--delta", "--eps", "--threads", NULL};
    char *pos[1];
    if (cli_positionals(argc, argv, vopts, pos, 1) != 0) return cli_usage(cmd, "takes no positional arguments");
    const char *feat = cli_opt(argc, argv, "--features"), *ids = cli_opt(argc, argv, "--ids");
    if (!feat) return cli_usage(cmd, "--features F.npy is required");
    int64_t views;
    double delta, eps;
    int threads, rc;
    if ((rc = cli_opt_i64(argc, argv, cmd, "--views", 0, INT64_MAX, 0, &views)) ||
        (rc = cli_opt_f64(argc, argv, cmd, "--delta", 0, 1e6, 1e-4, &delta)) ||
        (rc = cli_opt_f64(argc, argv, cmd, "--eps", 0, 0.1, 1e-8, &eps)) ||
        (rc = cli_opt_threads(argc, argv, cmd, &threads)))
        return rc;
    if (ids && views) return cli_usage(cmd, "give either --views or --ids, not both");
    bool json = cli_flag(argc, argv, "--json");
    cli_array z;
    if (cli_load(cmd, "features", feat, SSLK_DTYPE_F32, 2, 3, &z)) return 1;
    size_t rows = z.shape[0], d = z.ndim == 3 ? z.shape[2] : z.shape[1], q = (size_t)views;
    if (z.ndim == 3) {
        if (ids || (views && q != z.shape[1])) {
            cli_array_free(&z);
            return cli_usage(cmd, "%s is (n, Q, d) = (%zu, %zu, %zu): its views are given by the shape", feat,
                             z.shape[0], z.shape[1], d);
        }
        q = z.shape[1];
        rows = z.shape[0] * q;
    } else if (ids) {
        if (group_by_ids(cmd, ids, z.data, rows, d, &q)) {
            cli_array_free(&z);
            return 1;
        }
    } else if (!views) {
        cli_array_free(&z);
        return cli_usage(cmd, "--views Q or --ids IDS.npy is required for a 2-D %s", feat);
    }
    if (q < 2 || rows % q) {
        cli_array_free(&z);
        return cli_usage(cmd, "%zu rows cannot be split into samples of %zu >= 2 views", rows, q);
    }
    size_t n = rows / q;
    sslk_ctx *ctx = cli_ctx(threads);
    double v, sd, sdn;
    sslk_status s = sslk_lidar(ctx, z.data, n, q, d, delta, eps, &v, NULL);
    if (s == SSLK_OK) s = sslk_collapse_std(ctx, z.data, rows, d, 0, &sd, NULL);
    if (s == SSLK_OK) s = sslk_collapse_std(ctx, z.data, rows, d, 1, &sdn, NULL);
    cli_array_free(&z);
    sslk_ctx_destroy(ctx);
    if (s != SSLK_OK) return cli_fail(cmd, feat, s);
    size_t cap = d < n - 1 ? d : n - 1;
    if (json) {
        printf("{\"file\": ");
        cli_json_str(stdout, feat);
        printf(", \"samples\": %zu, \"views\": %zu, \"d\": %zu, \"lidar\": ", n, q, d);
        cli_json_num(stdout, v);
        printf(", \"delta\": ");
        cli_json_num(stdout, delta);
        printf(", \"eps\": ");
        cli_json_num(stdout, eps);
        printf(", \"std\": ");
        cli_json_num(stdout, sd);
        printf(", \"std_normalized\": ");
        cli_json_num(stdout, sdn);
        printf("}\n");
    } else {
        printf("features            %s (%zu samples x %zu views x %zu)\n", feat, n, q, d);
        printf("LiDAR               %.4f  of at most %zu (delta %g, eps %g)\n", v, cap, delta, eps);
        printf("std per dimension   %.4g  (mean over dimensions)\n", sd);
        printf("std, L2-normalised  %.4g  (collapsed: 0; spread: about 1/sqrt(d) = %.4g)\n", sdn,
               1 / sqrt((double)d));
    }
    return 0;
}
