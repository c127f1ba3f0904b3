/* sslkit rankme EMB.npy: label-free metrics of an embedding matrix.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric_cli.h"

static const char *help =
    "usage: sslkit rankme EMB.npy [--json] [--threads N]\n"
    "  EMB.npy: n x d embeddings (any numeric dtype; extra axes are flattened)\n"
    "  Prints RankMe (paper definition: singular values of raw Z, eps 1e-7),\n"
    "  its covariance-eigenvalue variant, and alpha-ReQ (with R^2) when d >= 7.\n";

int cmd_rankme(int argc, char **argv) {
    const char *cmd = "rankme";
    if (cli_flag(argc, argv, "--help")) {
        fputs(help, stdout);
        return 0;
    }
    static const char *const vopts[] = {"--threads", NULL};
    char *pos[2];
    if (cli_positionals(argc, argv, vopts, pos, 2) != 1) return cli_usage(cmd, "expects one EMB.npy file");
    int threads, rc = cli_opt_threads(argc, argv, cmd, &threads);
    if (rc) return rc;
    bool json = cli_flag(argc, argv, "--json");
    cli_array z;
    if (cli_load(cmd, "embeddings", pos[0], SSLK_DTYPE_F32, 2, SSLK_NPY_MAX_NDIM, &z)) return 1;
    size_t n = z.shape[0], d = cli_row_width(&z);
    sslk_ctx *ctx = cli_ctx(threads);
    double rm, rmc, alpha = NAN, r2 = NAN;
    sslk_status s = sslk_rankme(ctx, z.data, n, d, &rm);
    if (s == SSLK_OK) s = sslk_rankme_covariance(ctx, z.data, n, d, &rmc);
    if (s != SSLK_OK) {
        cli_array_free(&z);
        sslk_ctx_destroy(ctx);
        return cli_fail(cmd, pos[0], s);
    }
    bool have_alpha = d >= 7 && sslk_alpha_req(ctx, z.data, n, d, &alpha, &r2) == SSLK_OK;
    if (json) {
        printf("{\"file\": ");
        cli_json_str(stdout, pos[0]);
        printf(", \"n\": %zu, \"d\": %zu, \"rankme\": ", n, d);
        cli_json_num(stdout, rm);
        printf(", \"rankme_covariance\": ");
        cli_json_num(stdout, rmc);
        printf(", \"alpha_req\": ");
        cli_json_num(stdout, have_alpha ? alpha : NAN);
        printf(", \"alpha_req_r2\": ");
        cli_json_num(stdout, have_alpha ? r2 : NAN);
        printf("}\n");
    } else {
        size_t q = n < d ? n : d;
        printf("embeddings          %s (%zu x %zu)\n", pos[0], n, d);
        printf("RankMe              %.4f  of at most %zu (singular values of raw Z, eps 1e-7)\n", rm, q);
        printf("RankMe, covariance  %.4f  (variant: centred covariance eigenvalues)\n", rmc);
        if (have_alpha)
            printf("alpha-ReQ           %.4f  (R^2 %.4f, ranks 6..%zu)\n", alpha, r2, q < 100 ? q : 100);
        else
            printf("alpha-ReQ           n/a   (%s)\n", d < 7 ? "needs d >= 7" : sslk_last_error());
    }
    cli_array_free(&z);
    sslk_ctx_destroy(ctx);
    return 0;
}
