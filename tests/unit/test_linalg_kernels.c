/* linalg kernel sets (issue 16): every set this CPU can run (blis, avx2,
 * avx512, neon) against a double-precision reference on edge shapes around
 * its register blocking, all transposes, strided operands, alpha / beta in
 * {0, 1, -0.5}, 1 and 2 threads; bitwise-repeatable results; the
 * SSLKIT_KERNELS override and its errors.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "testutil.h"

static const double SCALARS[3] = {0.0, 1.0, -0.5};

/* R = alpha op(A) op(B) + beta C0 and S = |alpha| |op(A)| |op(B)| + |beta C0| (error scale). */
static void ref_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
                     size_t lda, const double *B, size_t ldb, double beta, const double *C0,
                     size_t ldc, double *R, double *S) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0, a = 0;
            for (size_t p = 0; p < k; p++) {
                double x = ta ? A[p * lda + i] : A[i * lda + p], y = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += x * y;
                a += fabs(x * y);
            }
            double c = beta == 0 ? 0 : beta * C0[i * ldc + j];
            R[i * n + j] = alpha * s + c;
            S[i * n + j] = fabs(alpha) * a + fabs(c);
        }
}

typedef struct {
    size_t m, n, k, lda, ldb, ldc;
    bool ta, tb;
    double alpha, beta;
} gcase;

/* Runs one case on the active set in both precisions at 1 and 2 threads and
 * checks every element, and that C's padding columns are untouched. */
static void check_case(const gcase *g, sslk_ctx *c1, sslk_ctx *c2, const double *A, const double *B,
                       const double *C0, const float *Af, const float *Bf, const float *C0f,
                       const double *R, const double *S, const char *set) {
    const size_t csz = g->m * g->ldc + 8;
    double *C = malloc(csz * sizeof *C);
    float *Cf = malloc(csz * sizeof *Cf);
    for (int t = 0; t < 2; t++) {
        sslk_ctx *ctx = t ? c2 : c1;
        /* beta == 0: C must not be read, so NaN there must not leak */
        for (size_t i = 0; i < csz; i++) {
            C[i] = g->beta == 0 ? NAN : C0[i];
            Cf[i] = g->beta == 0 ? NAN : C0f[i];
        }
        ssli_dgemm(ctx, g->ta, g->tb, g->m, g->n, g->k, g->alpha, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
        ssli_sgemm(ctx, g->ta, g->tb, g->m, g->n, g->k, (float)g->alpha, Af, g->lda, Bf, g->ldb,
                   (float)g->beta, Cf, g->ldc);
        for (size_t i = 0; i < g->m; i++) {
            for (size_t j = 0; j < g->n; j++) {
                double r = R[i * g->n + j], s = S[i * g->n + j];
                double d = C[i * g->ldc + j], f = Cf[i * g->ldc + j];
                ck_assert_msg(fabs(d - r) <= 1e-13 * s + 1e-300 && fabs(f - r) <= 4e-6 * s + 1e-30,
                              "set %s, %d threads, m=%zu n=%zu k=%zu ta=%d tb=%d alpha=%g beta=%g: "
                              "C[%zu,%zu] = %.17g (d) / %.9g (s), expected %.17g",
                              set, t + 1, g->m, g->n, g->k, g->ta, g->tb, g->alpha, g->beta, i, j, d,
                              (double)f, r);
            }
            for (size_t j = g->n; j < g->ldc && g->beta != 0; j++) /* padding untouched */
                ck_assert(C[i * g->ldc + j] == C0[i * g->ldc + j] && Cf[i * g->ldc + j] == C0f[i * g->ldc + j]);
        }
    }
    free(C);
    free(Cf);
}

/* Edge dimensions around a set's MR x NR tile, plus primes. */
static size_t edge_dims(const size_t bs[5], size_t out[10]) {
    const size_t mr = bs[0], nr = bs[1];
    size_t v[] = {0, 1, mr - 1, mr, mr + 1, nr - 1, nr + 1, 97};
    size_t cnt = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        bool dup = false;
        for (size_t j = 0; j < cnt; j++) dup |= out[j] == v[i];
        if (!dup) out[cnt++] = v[i];
    }
    return cnt;
}

START_TEST(every_set_matches_double_reference_on_edge_shapes) {
    sslk_ctx *c1, *c2;
    ck_ok(sslk_ctx_create(&c1));
    ck_ok(sslk_ctx_create(&c2));
    ck_ok(sslk_ctx_set_threads(c2, 2));
    const size_t maxd = 300, pad = 3, ks[] = {0, 1, 17, 257};
    const size_t big = (maxd + pad) * (maxd + pad);
    double *A = malloc(big * sizeof *A), *B = malloc(big * sizeof *B), *C0 = malloc(big * sizeof *C0);
    float *Af = malloc(big * sizeof *Af), *Bf = malloc(big * sizeof *Bf), *C0f = malloc(big * sizeof *C0f);
    double *R = malloc(maxd * maxd * sizeof *R), *S = malloc(maxd * maxd * sizeof *S);
    tu_fill_uniform(Af, big, 11, -1, 1);
    tu_fill_uniform(Bf, big, 12, -1, 1);
    tu_fill_uniform(C0f, big, 13, -1, 1);
    for (size_t i = 0; i < big; i++) { /* the same values in both precisions */
        A[i] = Af[i];
        B[i] = Bf[i];
        C0[i] = C0f[i];
    }
    int sets_run = 0;
    for (int ks_i = 0; ks_i < SSLI_KERNELS_COUNT; ks_i++) {
        ssli_kernels set = (ssli_kernels)ks_i;
        if (!ssli_kernels_supported(set)) continue;
        ck_ok(ssli_kernels_force(set));
        ck_assert_int_eq(ssli_kernels_active(), set);
        sets_run++;
        /* edge dims of the float and the double tiles */
        size_t bs_s[5], bs_d[5], dims[20];
        ssli_kernels_blocksizes(set, false, bs_s);
        ssli_kernels_blocksizes(set, true, bs_d);
        size_t nd = edge_dims(bs_s, dims);
        size_t nd2 = edge_dims(bs_d, dims + nd);
        size_t count = 0;
        for (size_t i = nd; i < nd + nd2; i++) {
            bool dup = false;
            for (size_t j = 0; j < nd; j++) dup |= dims[j] == dims[i];
            if (!dup) dims[nd + count++] = dims[i];
        }
        nd += count;
        unsigned combo = 0;
        for (size_t mi = 0; mi < nd; mi++)
            for (size_t ni = 0; ni < nd; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                    for (int tr = 0; tr < 4; tr++, combo++) {
                        gcase g = {.m = dims[mi], .n = dims[ni], .k = ks[ki], .ta = tr & 1, .tb = tr >> 1};
                        /* every (alpha, beta) pair in turn; lda, ldb, ldc above the views */
                        g.alpha = SCALARS[combo % 3];
                        g.beta = SCALARS[(combo / 3) % 3];
                        g.lda = (g.ta ? g.m : g.k) + pad;
                        g.ldb = (g.tb ? g.k : g.n) + pad;
                        g.ldc = g.n + pad;
                        ref_gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, A, g.lda, B, g.ldb, g.beta, C0, g.ldc, R, S);
                        check_case(&g, c1, c2, A, B, C0, Af, Bf, C0f, R, S, ssli_kernels_name(set));
                    }
    }
    ck_assert_int_ge(sets_run, 1);
#if defined(__x86_64__)
    /* on x86-64 at least BLIS's own set and, on an AVX-512 CPU, the library's */
    if (strcmp(ssli_cpu_isa(), "avx512") == 0) ck_assert_int_ge(sets_run, 2);
#endif
#if defined(__aarch64__)
    /* on AArch64 BLIS's own set and the NEON one (run under qemu by .ci/cross-arm64) */
    ck_assert(ssli_kernels_supported(SSLI_KERNELS_NEON));
    ck_assert_int_ge(sets_run, 2);
#endif
    free(A); free(B); free(C0); free(Af); free(Bf); free(C0f); free(R); free(S);
    sslk_ctx_destroy(c1);
    sslk_ctx_destroy(c2);
}
END_TEST

/* Same inputs, same thread count: the same bits, for every set; the packed
 * products (all dimensions >= 64) also equal across 1 and 2 threads, in both
 * threading modes (split blocks; one BLIS call with the threads). */
START_TEST(every_set_is_bitwise_repeatable) {
    sslk_ctx *c1, *c2;
    ck_ok(sslk_ctx_create(&c1));
    ck_ok(sslk_ctx_create(&c2));
    ck_ok(sslk_ctx_set_threads(c2, 2));
    const size_t m = 301, n = 263, k = 517;
    float *A = malloc(m * k * sizeof *A), *B = malloc(k * n * sizeof *B);
    float *C[3];
    double *Ad = malloc(m * k * sizeof *Ad), *Bd = malloc(k * n * sizeof *Bd), *D[3];
    tu_fill_uniform(A, m * k, 21, -1, 1);
    tu_fill_uniform(B, k * n, 22, -1, 1);
    for (size_t i = 0; i < m * k; i++) Ad[i] = A[i];
    for (size_t i = 0; i < k * n; i++) Bd[i] = B[i];
    for (int r = 0; r < 3; r++) {
        C[r] = malloc(m * n * sizeof(float));
        D[r] = malloc(m * n * sizeof(double));
    }
    for (int ks_i = 0; ks_i < SSLI_KERNELS_COUNT; ks_i++)
        for (int mode = SSLI_GEMM_THREADING_SPLIT; mode <= SSLI_GEMM_THREADING_BLIS; mode++) {
            if (!ssli_kernels_supported((ssli_kernels)ks_i)) continue;
            ck_ok(ssli_kernels_force((ssli_kernels)ks_i));
            ck_ok(ssli_gemm_threading_force((ssli_gemm_threading)mode)); /* blocks, or BLIS's own threads */
            const char *nm = ssli_kernels_name((ssli_kernels)ks_i), *tm = ssli_gemm_threading_name(mode);
            for (int r = 0; r < 3; r++) {
                for (size_t i = 0; i < m * n; i++) C[r][i] = D[r][i] = 0.25;
                sslk_ctx *ctx = r < 2 ? c2 : c1;
                ssli_sgemm(ctx, false, true, m, n, k, 0.75f, A, k, B, k, -0.5f, C[r], n);
                ssli_dgemm(ctx, true, false, m, n, k, 0.75, Ad, m, Bd, n, -0.5, D[r], n);
            }
            ck_assert_msg(memcmp(C[0], C[1], m * n * sizeof(float)) == 0, "%s, %s: float runs differ", nm, tm);
            ck_assert_msg(memcmp(D[0], D[1], m * n * sizeof(double)) == 0, "%s, %s: double runs differ", nm, tm);
            ck_assert_msg(memcmp(C[0], C[2], m * n * sizeof(float)) == 0, "%s, %s: float 1 vs 2 threads", nm, tm);
            ck_assert_msg(memcmp(D[0], D[2], m * n * sizeof(double)) == 0, "%s, %s: double 1 vs 2 threads", nm,
                          tm);
        }
    ck_ok(ssli_gemm_threading_force(SSLI_GEMM_THREADING_AUTO));
    for (int r = 0; r < 3; r++) {
        free(C[r]);
        free(D[r]);
    }
    free(A); free(B); free(Ad); free(Bd);
    sslk_ctx_destroy(c1);
    sslk_ctx_destroy(c2);
}
END_TEST

/* syrk (BLIS gemmt with the set's micro-kernel on diagonal tiles) and gemv
 * take the set's context too. */
START_TEST(every_set_runs_syrk_and_gemv) {
    const size_t n = 45, k = 77;
    float A[45 * 77], C[45 * 45], x[77], y[45];
    tu_fill_uniform(A, n * k, 31, -1, 1);
    tu_fill_uniform(x, k, 32, -1, 1);
    for (int ks_i = 0; ks_i < SSLI_KERNELS_COUNT; ks_i++) {
        if (!ssli_kernels_supported((ssli_kernels)ks_i)) continue;
        ck_ok(ssli_kernels_force((ssli_kernels)ks_i));
        ssli_ssyrk(NULL, false, n, k, 1.0f, A, k, 0.0f, C, n);
        ssli_sgemv(NULL, false, n, k, 1.0f, A, k, x, 0.0f, y);
        for (size_t i = 0; i < n; i++) {
            double yr = 0;
            for (size_t p = 0; p < k; p++) yr += (double)A[i * k + p] * x[p];
            ck_close(y[i], yr, 1e-5, 1e-5);
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t p = 0; p < k; p++) s += (double)A[i * k + p] * A[j * k + p];
                ck_close(C[i * n + j], s, 1e-5, 1e-5);
            }
        }
    }
}
END_TEST

START_TEST(sets_report_their_blocking) {
    size_t bs[5];
    ck_assert(ssli_kernels_supported(SSLI_KERNELS_BLIS));
    ck_assert(ssli_kernels_supported(ssli_kernels_default()));
    ck_assert_str_eq(ssli_kernels_name(SSLI_KERNELS_AVX512), "avx512");
    ck_assert_int_eq(ssli_kernels_force((ssli_kernels)99), SSLK_E_INVALID_ARG);
    if (ssli_kernels_supported(SSLI_KERNELS_AVX512)) {
        ssli_kernels_blocksizes(SSLI_KERNELS_AVX512, false, bs);
        ck_assert_uint_eq(bs[0], 24);
        ck_assert_uint_eq(bs[1], 16);
        ssli_kernels_blocksizes(SSLI_KERNELS_AVX512, true, bs);
        ck_assert_uint_eq(bs[0], 14);
        ck_assert_uint_eq(bs[1], 16);
        ck_assert(bs[2] % bs[0] == 0 && bs[4] % bs[1] == 0); /* MC, NC multiples of MR, NR */
    } else {
        ck_assert_int_eq(ssli_kernels_force(SSLI_KERNELS_AVX512), SSLK_E_UNSUPPORTED);
    }
#if defined(__aarch64__)
    ck_assert_str_eq(ssli_kernels_name(SSLI_KERNELS_NEON), "neon");
    ck_assert(ssli_kernels_supported(SSLI_KERNELS_NEON));
    ssli_kernels_blocksizes(SSLI_KERNELS_NEON, false, bs);
    ck_assert_uint_eq(bs[0], 8);
    ck_assert_uint_eq(bs[1], 12);
    ck_assert(bs[2] % bs[0] == 0 && bs[4] % bs[1] == 0);
    ssli_kernels_blocksizes(SSLI_KERNELS_NEON, true, bs);
    ck_assert_uint_eq(bs[0], 8);
    ck_assert_uint_eq(bs[1], 6);
    ck_assert(bs[2] % bs[0] == 0 && bs[4] % bs[1] == 0);
    /* the default on Arm: BLIS's kernels unless BLIS fell back to its plain-C config */
    const bool generic = strcmp(ssli_blis_arch(), "generic") == 0;
    ck_assert_int_eq(ssli_kernels_default(), generic ? SSLI_KERNELS_NEON : SSLI_KERNELS_BLIS);
    ck_assert_ptr_nonnull(strstr(ssli_cpu_isa(), "neon"));
#else
    ck_assert(!ssli_kernels_supported(SSLI_KERNELS_NEON));
    ck_assert_int_eq(ssli_kernels_force(SSLI_KERNELS_NEON), SSLK_E_UNSUPPORTED);
#endif
}
END_TEST

/* The public report follows the active set. */
START_TEST(linalg_info_reports_the_active_set) {
    char want[64];
    for (int ks_i = 0; ks_i < SSLI_KERNELS_COUNT; ks_i++) {
        if (!ssli_kernels_supported((ssli_kernels)ks_i)) continue;
        ck_ok(ssli_kernels_force((ssli_kernels)ks_i));
        const char *info = sslk_linalg_info();
        snprintf(want, sizeof want, "kernels=%s ", ssli_kernels_name((ssli_kernels)ks_i));
        ck_assert_msg(strncmp(info, want, strlen(want)) == 0, "%s", info);
        size_t bs[5];
        ssli_kernels_blocksizes((ssli_kernels)ks_i, false, bs);
        snprintf(want, sizeof want, " sgemm_tile=%zux%zu ", bs[0], bs[1]);
        ck_assert_msg(strstr(info, want) != NULL, "%s lacks '%s'", info, want);
        snprintf(want, sizeof want, " blis_version=%s ", ssli_blis_version());
        ck_assert_msg(strstr(info, want) != NULL, "%s lacks '%s'", info, want);
        ck_assert_ptr_nonnull(strstr(info, " override=none "));
    }
    if (ssli_kernels_supported(SSLI_KERNELS_AVX512)) {
        ck_ok(ssli_kernels_force(SSLI_KERNELS_AVX512));
        ck_assert_ptr_nonnull(strstr(sslk_linalg_info(), " sgemm_tile=24x16 dgemm_tile=14x16"));
    }
    if (ssli_kernels_supported(SSLI_KERNELS_NEON)) {
        ck_ok(ssli_kernels_force(SSLI_KERNELS_NEON));
        ck_assert_ptr_nonnull(strstr(sslk_linalg_info(), "kernels=neon "));
        ck_assert_ptr_nonnull(strstr(sslk_linalg_info(), " sgemm_tile=8x12 dgemm_tile=8x6"));
    }
}
END_TEST

/* $SSLKIT_KERNELS is read once per process, at first use: each test below
 * runs in its own forked process (CK_FORK), sets it, then makes a context. */
START_TEST(env_unknown_set_is_an_error_at_context_creation) {
    setenv("SSLKIT_KERNELS", "avx9000", 1);
    sslk_ctx *c = NULL;
    ck_status(sslk_ctx_create(&c), SSLK_E_INVALID_ARG);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "SSLKIT_KERNELS"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "avx9000"));
    /* the products still run, on the default set */
    ck_assert_int_eq(ssli_kernels_active(), ssli_kernels_default());
    ck_assert_ptr_nonnull(strstr(sslk_linalg_info(), " override=invalid:avx9000 "));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "avx9000")); /* the report leaves it */
    float a = 2, b = 3, r = 0;
    ssli_sgemm(NULL, false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &r, 1);
    ck_assert(r == 6.0f);
}
END_TEST

START_TEST(env_forces_each_available_set) {
    /* _i is the set index (loop test) */
    const ssli_kernels set = (ssli_kernels)_i;
    const char *names[] = {"blis", "avx2", "avx512", "neon"};
    setenv("SSLKIT_KERNELS", names[set], 1);
    sslk_ctx *c = NULL;
    sslk_status st = sslk_ctx_create(&c);
    if (ssli_kernels_supported(set)) {
        ck_ok(st);
        ck_assert_int_eq(ssli_kernels_active(), set);
        sslk_ctx_destroy(c);
    } else {
        ck_assert_int_eq(st, SSLK_E_UNSUPPORTED);
        ck_assert_ptr_nonnull(strstr(sslk_last_error(), names[set]));
        ck_assert_int_eq(ssli_kernels_active(), ssli_kernels_default());
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("linalg_kernels");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, every_set_matches_double_reference_on_edge_shapes);
    tcase_add_test(tc, every_set_is_bitwise_repeatable);
    tcase_add_test(tc, every_set_runs_syrk_and_gemv);
    tcase_add_test(tc, sets_report_their_blocking);
    tcase_add_test(tc, linalg_info_reports_the_active_set);
    suite_add_tcase(s, tc);
    /* The environment tests need a fresh process each (the choice is made once). */
    const char *fork = getenv("CK_FORK");
    if (!fork || strcmp(fork, "no") != 0) {
        TCase *te = tcase_create("environment");
        tcase_add_test(te, env_unknown_set_is_an_error_at_context_creation);
        tcase_add_loop_test(te, env_forces_each_available_set, 0, SSLI_KERNELS_COUNT);
        suite_add_tcase(s, te);
    }
    return tu_run(s) ? EXIT_FAILURE : EXIT_SUCCESS;
}
