/* RankMe from C: one-shot, streaming, and through an NPY file.
 * Build against the installed library:
 *   cc rankme_example.c $(pkg-config --cflags --libs sslkit) -o rankme_example
 * SPDX-License-Identifier: BSD-3-Clause */
#include <sslkit/sslkit.h>

#include <stdio.h>

static int fail(const char *what, sslk_status s) {
    fprintf(stderr, "%s: %s: %s\n", what, sslk_status_str(s), sslk_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "embeddings.npy";
    sslk_ctx *ctx;
    sslk_status s = sslk_ctx_create(&ctx);
    if (s != SSLK_OK) return fail("sslk_ctx_create", s);

    /* Singular values 3 and 1: p = (0.75, 0.25) + 1e-7, RankMe = exp(H(p)). */
    float z[4] = {3, 0, 0, 1};
    double v;
    if ((s = sslk_rankme(ctx, z, 2, 2, &v)) != SSLK_OK) return fail("sslk_rankme", s);
    printf("rankme diag(3,1) = %.10f\n", v);

    /* Streaming: rows arrive in batches; memory stays O(d^2). */
    float rows[4 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    sslk_rankme_acc *acc;
    if ((s = sslk_rankme_create(ctx, 4, &acc)) != SSLK_OK) return fail("sslk_rankme_create", s);
    sslk_rankme_update(acc, rows, 2);
    sslk_rankme_update(acc, rows + 8, 2);
    double sv[4];
    if ((s = sslk_rankme_compute(acc, &v, sv)) != SSLK_OK) return fail("sslk_rankme_compute", s);
    printf("rankme identity(4) = %.9f, singular values %g %g %g %g\n", v, sv[0], sv[1], sv[2], sv[3]);
    sslk_rankme_destroy(acc);

    /* Round trip through an NPY file (readable with numpy.load). */
    size_t shape[2] = {2, 2};
    if ((s = sslk_npy_save(ctx, path, SSLK_DTYPE_F32, z, 2, shape)) != SSLK_OK) return fail("sslk_npy_save", s);
    sslk_npy *f;
    if ((s = sslk_npy_open(ctx, path, &f)) != SSLK_OK) return fail("sslk_npy_open", s);
    float back[4];
    s = sslk_npy_read(f, SSLK_DTYPE_F32, back, sslk_npy_count(f));
    size_t n = sslk_npy_dim(f, 0), d = sslk_npy_dim(f, 1);
    sslk_npy_close(f);
    if (s != SSLK_OK) return fail("sslk_npy_read", s);
    if ((s = sslk_rankme(ctx, back, n, d, &v)) != SSLK_OK) return fail("sslk_rankme", s);
    printf("rankme from %s (%zu x %zu) = %.10f\n", path, n, d, v);

    /* Bad input is reported, never a crash. */
    s = sslk_rankme(ctx, z, 1, 4, &v);
    printf("one row -> %s\n", sslk_status_str(s));
    sslk_ctx_destroy(ctx);
    return 0;
}
