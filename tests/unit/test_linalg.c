/* linalg: BLIS products and LAPACK wrappers against naive loops and
 * hand-derived decompositions.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "linalg/linalg.h"
#include "testutil.h"

static void naive_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, const double *A, size_t lda,
                       const double *B, size_t ldb, double *C, size_t ldc) {
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t p = 0; p < k; p++)
                s += (ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]);
            C[i * ldc + j] = s;
        }
}

START_TEST(gemm_all_transposes_both_precisions) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, 2));
    const size_t m = 37, n = 29, k = 41;
    double *A = malloc(sizeof(double) * 64 * 64), *B = malloc(sizeof(double) * 64 * 64);
    double *C = malloc(sizeof(double) * m * n), *R = malloc(sizeof(double) * m * n);
    float *Af = malloc(sizeof(float) * 64 * 64), *Bf = malloc(sizeof(float) * 64 * 64),
          *Cf = malloc(sizeof(float) * m * n);
    tu_fill_uniform_d(A, 64 * 64, 1, -1, 1);
    tu_fill_uniform_d(B, 64 * 64, 2, -1, 1);
    for (size_t i = 0; i < 64 * 64; i++) {
        Af[i] = (float)A[i];
        Bf[i] = (float)B[i];
    }
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            size_t lda = 50, ldb = 45; /* leading dims larger than the views */
            naive_gemm(ta, tb, m, n, k, A, lda, B, ldb, R, n);
            for (size_t i = 0; i < m * n; i++) C[i] = 1.0;
            ssli_dgemm(c, ta, tb, m, n, k, 2.0, A, lda, B, ldb, -1.0, C, n);
            for (size_t i = 0; i < m * n; i++) ck_close(C[i], 2 * R[i] - 1.0, 1e-12, 1e-12);
            ssli_sgemm(c, ta, tb, m, n, k, 1.0f, Af, lda, Bf, ldb, 0.0f, Cf, n);
            for (size_t i = 0; i < m * n; i++) ck_close(Cf[i], R[i], 1e-5, 1e-5);
        }
    free(A); free(B); free(C); free(R); free(Af); free(Bf); free(Cf);
    sslk_ctx_destroy(c);
}
END_TEST

/* Operands that end right before an inaccessible page: small float products
 * must not read past them (BLIS 0.9.0's single-precision sup kernels did,
 * e.g. m = 1, n = 16, k = 3; see lib/linalg/blas.c).  Each operand in turn is
 * placed against the guard page; a stray read faults and fails the test. */
static float *guarded(size_t count, void **base, size_t *len) {
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), bytes = count * sizeof(float);
    size_t pages = (bytes + pg - 1) / pg;
    *len = (pages + 1) * pg;
    char *p = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    ck_assert_int_eq(mprotect(p + pages * pg, pg, PROT_NONE), 0);
    *base = p;
    return (float *)(p + pages * pg - bytes);
}

START_TEST(small_float_gemm_stays_inside_operands) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    static const size_t shapes[][3] = {{1, 16, 3}, {1, 2100, 3}, {13, 2100, 3}, {2100, 1, 3}, {63, 1, 100},
                                       {63, 3, 64}, {100, 3, 100}, {7, 100, 5}, {1, 17, 9}, {1, 100, 17}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                void *ba, *bb;
                size_t la, lb;
                float *A = guarded(m * k, &ba, &la), *B = guarded(k * n, &bb, &lb);
                float *C = malloc(m * n * sizeof *C);
                for (size_t i = 0; i < m * k; i++) A[i] = (float)(i % 7) - 3;
                for (size_t i = 0; i < k * n; i++) B[i] = (float)(i % 5) - 2;
                ssli_sgemm(c, ta, tb, m, n, k, 1.0f, A, ta ? m : k, B, tb ? k : n, 0.0f, C, n);
                for (size_t i = 0; i < m; i += m > 8 ? m / 8 : 1)
                    for (size_t j = 0; j < n; j += n > 8 ? n / 8 : 1) {
                        double r = 0;
                        for (size_t p = 0; p < k; p++)
                            r += (double)(ta ? A[p * m + i] : A[i * k + p]) * (tb ? B[j * k + p] : B[p * n + j]);
                        ck_close(C[i * n + j], r, 1e-6, 1e-6);
                    }
                free(C);
                munmap(ba, la);
                munmap(bb, lb);
            }
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(gemm_split_is_thread_count_invariant) {
    /* Large enough to be split across threads, odd sizes so blocks are ragged:
     * results must be bitwise equal at 1, 2 and 3 threads, and match naive. */
    const size_t m = 203, n = 177, k = 150;
    float *A = malloc(sizeof(float) * m * k), *B = malloc(sizeof(float) * k * n);
    float *C[3];
    tu_fill_uniform(A, m * k, 11, -1, 1);
    tu_fill_uniform(B, k * n, 12, -1, 1);
    for (int ta = 0; ta < 2; ta++)
        for (int shape = 0; shape < 2; shape++) {
            size_t mm = shape ? 40 : m; /* shape 1 splits along n */
            for (int t = 0; t < 3; t++) {
                sslk_ctx *c;
                ck_ok(sslk_ctx_create(&c));
                ck_ok(sslk_ctx_set_threads(c, t + 1));
                C[t] = malloc(sizeof(float) * mm * n);
                ssli_sgemm(c, ta, false, mm, n, k, 1.0f, A, ta ? mm : k, B, n, 0.0f, C[t], n);
                sslk_ctx_destroy(c);
            }
            ck_assert_mem_eq(C[0], C[1], sizeof(float) * mm * n);
            ck_assert_mem_eq(C[0], C[2], sizeof(float) * mm * n);
            for (size_t i = 0; i < mm; i += 7)
                for (size_t j = 0; j < n; j += 5) {
                    double r = 0;
                    for (size_t p = 0; p < k; p++)
                        r += (double)(ta ? A[p * mm + i] : A[i * k + p]) * B[p * n + j];
                    ck_close(C[0][i * n + j], r, 1e-4, 1e-4);
                }
            for (int t = 0; t < 3; t++) free(C[t]);
        }
    free(A);
    free(B);
}
END_TEST

START_TEST(syrk_fills_both_triangles) {
    const size_t k = 13, n = 7;
    double A[13 * 7], G[49], R[49];
    float Af[13 * 7], Gf[49];
    tu_fill_uniform_d(A, k * n, 3, -1, 1);
    for (size_t i = 0; i < k * n; i++) Af[i] = (float)A[i];
    naive_gemm(true, false, n, n, k, A, n, A, n, R, n);
    ssli_dsyrk(NULL, true, n, k, 1.0, A, n, 0.0, G, n);
    ssli_ssyrk(NULL, true, n, k, 1.0f, Af, n, 0.0f, Gf, n);
    for (size_t i = 0; i < n * n; i++) {
        ck_close(G[i], R[i], 1e-12, 1e-12);
        ck_close(Gf[i], R[i], 1e-5, 1e-5);
    }
    /* A A^T of the 7 x 13 view */
    double R2[49], G2[49];
    naive_gemm(false, true, n, n, k, A, k, A, k, R2, n);
    ssli_dsyrk(NULL, false, n, k, 1.0, A, k, 0.0, G2, n);
    for (size_t i = 0; i < n * n; i++) ck_close(G2[i], R2[i], 1e-12, 1e-12);
}
END_TEST

/* ---- threaded policy (blas.c split, gram.c) ---------------------------------------- */

static sslk_ctx *ctx_threads(int t) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, t));
    return c;
}

/* Odd shapes with ragged last blocks (1000 = 5 x 192 + 40 at 2 threads): the
 * threaded product equals the one-thread product bit for bit, in float always
 * and in double when every dimension is >= 64 (BLIS's small-matrix kernels,
 * which double products below that take, depend on the shape of each call), and
 * both match a naive double reference. */
START_TEST(gemm_threaded_equals_single_threaded) {
    const size_t shapes[][3] = {{1000, 70, 97}, {65, 1000, 129}, {300, 301, 64}, {2, 3000, 700}};
    sslk_ctx *c[3] = {NULL, ctx_threads(2), ctx_threads(3)};
    for (size_t s = 0; s < 4; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                const size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                const size_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
                size_t na = (ta ? k : m) * lda, nb = (tb ? n : k) * ldb, nc = m * ldc;
                double *A = malloc(na * 8), *B = malloc(nb * 8), *R = malloc(m * n * 8), *C[3];
                float *Af = malloc(na * 4), *Bf = malloc(nb * 4), *Cf[3];
                tu_fill_uniform_d(A, na, 21 + (unsigned)s, -1, 1);
                tu_fill_uniform_d(B, nb, 31 + (unsigned)s, -1, 1);
                for (size_t i = 0; i < na; i++) Af[i] = (float)A[i];
                for (size_t i = 0; i < nb; i++) Bf[i] = (float)B[i];
                naive_gemm(ta, tb, m, n, k, A, lda, B, ldb, R, n);
                for (int t = 0; t < 3; t++) {
                    C[t] = malloc(nc * 8);
                    Cf[t] = malloc(nc * 4);
                    for (size_t i = 0; i < nc; i++) Cf[t][i] = (float)(C[t][i] = 0.25 * (double)(i % 7));
                    ssli_dgemm(c[t], ta, tb, m, n, k, 0.5, A, lda, B, ldb, 2.0, C[t], ldc);
                    ssli_sgemm(c[t], ta, tb, m, n, k, 0.5f, Af, lda, Bf, ldb, 2.0f, Cf[t], ldc);
                }
                for (int t = 1; t < 3; t++) {
                    ck_assert_mem_eq(Cf[0], Cf[t], nc * 4);
                    if (m >= 64 && n >= 64 && k >= 64) ck_assert_mem_eq(C[0], C[t], nc * 8);
                }
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        double want = 0.5 * R[i * n + j] + 2.0 * 0.25 * (double)((i * ldc + j) % 7);
                        ck_close(C[2][i * ldc + j], want, 1e-12, 1e-12);
                        ck_close(Cf[2][i * ldc + j], want, 1e-5, 1e-4);
                    }
                for (size_t i = 0; i < m; i++) /* the padding columns are not touched */
                    for (size_t j = n; j < ldc; j++) ck_assert(C[2][i * ldc + j] == 0.25 * (double)((i * ldc + j) % 7));
                for (int t = 0; t < 3; t++) free(C[t]), free(Cf[t]);
                free(A), free(B), free(R), free(Af), free(Bf);
            }
    sslk_ctx_destroy(c[1]);
    sslk_ctx_destroy(c[2]);
}
END_TEST

/* Zero-sized products: nothing is read and C is untouched when m or n is 0;
 * k = 0 leaves beta * C, also on the threaded path. */
START_TEST(gemm_and_gram_zero_sized) {
    sslk_ctx *c = ctx_threads(2);
    float Cf[12], A[1] = {NAN};
    double Cd[12];
    for (int i = 0; i < 12; i++) Cf[i] = (float)(Cd[i] = i + 1);
    ssli_sgemm(c, false, false, 0, 3, 5, 1.0f, NULL, 5, NULL, 3, 0.0f, Cf, 3);
    ssli_dgemm(c, true, true, 4, 0, 5, 1.0, NULL, 4, NULL, 5, 0.0, Cd, 3);
    ssli_sgram(c, false, 0, 9, 1.0f, NULL, 9, 0.0f, Cf, 3);
    ssli_dgram(c, true, 0, 9, 1.0, NULL, 1, 0.0, Cd, 3);
    for (int i = 0; i < 12; i++) ck_assert(Cf[i] == (float)(i + 1) && Cd[i] == i + 1);
    ssli_sgemm(c, false, false, 4, 3, 0, 1.0f, A, 1, A, 3, 2.0f, Cf, 3);
    ssli_dgemm(c, false, false, 4, 3, 0, 1.0, NULL, 1, NULL, 3, 0.0, Cd, 3);
    for (int i = 0; i < 12; i++) ck_assert(Cf[i] == 2.0f * (float)(i + 1) && Cd[i] == 0.0);
    /* a 3 x 3 Gram with an empty sum: beta * (lower triangle), mirrored */
    for (int i = 0; i < 12; i++) Cf[i] = (float)(Cd[i] = i + 1);
    ssli_sgram(c, false, 3, 0, 1.0f, A, 1, 0.5f, Cf, 4);
    ssli_dgram(c, true, 3, 0, 1.0, NULL, 3, 0.0, Cd, 4);
    const float want[12] = {0.5f, 2.5f, 4.5f, 4, 2.5f, 3, 5, 8, 4.5f, 5, 5.5f, 12};
    for (int i = 0; i < 12; i++) {
        ck_assert(Cf[i] == want[i]);
        ck_assert(Cd[i] == (i % 4 == 3 ? i + 1 : 0.0));
    }
    sslk_ctx_destroy(c);
}
END_TEST

/* Both Gram paths (column blocks for short sums or n > 2048; syrk and GEMM
 * tasks for long sums), both layouts, against a naive double reference; with
 * beta = 1 and ldc > n it adds to the lower triangle it reads. */
START_TEST(gram_paths_match_naive) {
    const size_t shapes[][2] = {{2100, 3}, {300, 600}, {77, 513}, {130, 40}};
    sslk_ctx *c = ctx_threads(2);
    for (size_t sh = 0; sh < 4; sh++)
        for (int ta = 0; ta < 2; ta++) {
            const size_t n = shapes[sh][0], k = shapes[sh][1], ldc = n + 5, lda = ta ? n : k;
            float *A = malloc(n * k * 4), *C = malloc(n * ldc * 4);
            double *Ad = malloc(n * k * 8), *Cd = malloc(n * ldc * 8);
            tu_fill_uniform(A, n * k, 17 + (unsigned)sh, -1, 1);
            for (size_t i = 0; i < n * k; i++) Ad[i] = A[i];
            for (size_t i = 0; i < n; i++) /* lower triangle i + j, upper garbage */
                for (size_t j = 0; j < ldc; j++)
                    C[i * ldc + j] = (float)(Cd[i * ldc + j] = j <= i ? (double)(i + j) : 1e30);
            ssli_sgram(c, ta, n, k, 0.5f, A, lda, 1.0f, C, ldc);
            ssli_dgram(c, ta, n, k, 0.5, Ad, lda, 1.0, Cd, ldc);
            for (size_t i = 0; i < n; i += n > 300 ? 37 : 1)
                for (size_t j = 0; j < n; j += n > 300 ? 41 : 1) {
                    double want = 0;
                    for (size_t t = 0; t < k; t++)
                        want += ta ? (double)A[t * n + i] * A[t * n + j] : (double)A[i * k + t] * A[j * k + t];
                    want = 0.5 * want + (double)(i + j); /* the lower entry of either */
                    ck_close(C[i * ldc + j], want, 1e-5, 1e-4);
                    ck_close(Cd[i * ldc + j], want, 1e-12, 1e-12);
                    ck_assert(C[i * ldc + j] == C[j * ldc + i] && Cd[i * ldc + j] == Cd[j * ldc + i]);
                }
            for (size_t i = 0; i < n; i++)
                for (size_t j = n; j < ldc; j++) ck_assert(C[i * ldc + j] == 1e30f && Cd[i * ldc + j] == 1e30);
            free(A), free(C), free(Ad), free(Cd);
        }
    sslk_ctx_destroy(c);
}
END_TEST

/* Grams equal one syrk bit for bit at 1, 2 and 3 threads, in both precisions
 * and on both paths (the blocks change with the thread count, the sums of each
 * element do not: the GEMM blocks never take BLIS's sup kernels); accumulating
 * (beta = 1) into a symmetric C as the metrics do. */
START_TEST(gram_threaded_equals_syrk) {
    const size_t shapes[][2] = {{300, 600}, {100, 513}, {1000, 70}, {2100, 5}, {33, 64}};
    sslk_ctx *c[3] = {NULL, ctx_threads(2), ctx_threads(3)};
    for (size_t sh = 0; sh < 5; sh++)
        for (int ta = 0; ta < 2; ta++) {
            const size_t n = shapes[sh][0], k = shapes[sh][1], lda = ta ? n : k;
            float *A = malloc(n * k * 4), *R = malloc(n * n * 4), *C = malloc(n * n * 4);
            double *Ad = malloc(n * k * 8), *Rd = malloc(n * n * 8), *Cd = malloc(n * n * 8);
            tu_fill_uniform(A, n * k, 41 + (unsigned)sh, -1, 1);
            for (size_t i = 0; i < n * k; i++) Ad[i] = A[i];
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++) R[i * n + j] = (float)(Rd[i * n + j] = 0.01 * (double)(i + j));
            ssli_ssyrk(NULL, ta, n, k, 1.0f, A, lda, 1.0f, R, n);
            ssli_dsyrk(NULL, ta, n, k, 1.0, Ad, lda, 1.0, Rd, n);
            for (int t = 0; t < 3; t++) {
                for (size_t i = 0; i < n; i++)
                    for (size_t j = 0; j < n; j++) C[i * n + j] = (float)(Cd[i * n + j] = 0.01 * (double)(i + j));
                ssli_sgram(c[t], ta, n, k, 1.0f, A, lda, 1.0f, C, n);
                ssli_dgram(c[t], ta, n, k, 1.0, Ad, lda, 1.0, Cd, n);
                ck_assert_mem_eq(C, R, n * n * 4);
                ck_assert_mem_eq(Cd, Rd, n * n * 8);
            }
            free(A), free(R), free(C), free(Ad), free(Rd), free(Cd);
        }
    sslk_ctx_destroy(c[1]);
    sslk_ctx_destroy(c[2]);
}
END_TEST

START_TEST(gemv_matches_naive) {
    const size_t m = 9, n = 6;
    double A[54], x[9], y[9], r[9];
    tu_fill_uniform_d(A, 54, 4, -1, 1);
    tu_fill_uniform_d(x, 9, 5, -1, 1);
    naive_gemm(false, false, m, 1, n, A, n, x, 1, r, 1);
    ssli_dgemv(NULL, false, m, n, 1.0, A, n, x, 0.0, y);
    for (size_t i = 0; i < m; i++) ck_close(y[i], r[i], 1e-12, 1e-12);
    /* A^T x with A stored 9 x 6 as the 6 x 9 transposed view */
    naive_gemm(true, false, n, 1, m, A, n, x, 1, r, 1);
    ssli_dgemv(NULL, true, n, m, 1.0, A, n, x, 0.0, y);
    for (size_t i = 0; i < n; i++) ck_close(y[i], r[i], 1e-12, 1e-12);
    float Af[54], xf[9], yf[9];
    for (int i = 0; i < 54; i++) Af[i] = (float)A[i];
    for (int i = 0; i < 9; i++) xf[i] = (float)x[i];
    ssli_sgemv(NULL, true, n, m, 1.0f, Af, n, xf, 0.0f, yf);
    for (size_t i = 0; i < n; i++) ck_close(yf[i], r[i], 1e-5, 1e-5);
    ck_close(ssli_sdot(9, xf, xf), 0, 0, 1e9); /* smoke: finite */
}
END_TEST

START_TEST(eigen_of_hand_matrix) {
    /* [[2,1],[1,2]] has eigenvalues 1 and 3, eigenvectors (1,-1)/sqrt2, (1,1)/sqrt2 */
    double A[4] = {2, 1, 1, 2}, w[2];
    ck_ok(ssli_dsyev(2, A, 2, w, true));
    ck_close(w[0], 1.0, 1e-14, 1e-14);
    ck_close(w[1], 3.0, 1e-14, 1e-14);
    ck_close(fabs(A[0 * 2 + 1]), sqrt(0.5), 1e-14, 1e-14); /* column 1 = (1,1)/sqrt2 */
    ck_close(A[0 * 2 + 1] * A[1 * 2 + 1], 0.5, 1e-14, 1e-14);
    ck_close(A[0 * 2 + 0] * A[1 * 2 + 0], -0.5, 1e-14, 1e-14);
    /* random SPD: trace and reconstruction */
    const size_t n = 20;
    double X[400], S[400], Q[400], ev[20];
    tu_fill_uniform_d(X, 400, 8, -1, 1);
    naive_gemm(true, false, n, n, n, X, n, X, n, S, n);
    for (size_t i = 0; i < 400; i++) Q[i] = S[i];
    ck_ok(ssli_dsyev(n, Q, n, ev, true));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double r = 0;
            for (size_t p = 0; p < n; p++) r += Q[i * n + p] * ev[p] * Q[j * n + p];
            ck_close(r, S[i * n + j], 1e-10, 1e-10);
        }
    for (size_t i = 1; i < n; i++) ck_assert(ev[i] >= ev[i - 1]);
}
END_TEST

START_TEST(svd_values_of_hand_matrix) {
    /* diag(3, 2) padded with a zero row: singular values 3, 2 */
    double A[6] = {0, 2, 3, 0, 0, 0}, s[2];
    ck_ok(ssli_dsvd_values(3, 2, A, 2, s));
    ck_close(s[0], 3.0, 1e-14, 1e-14);
    ck_close(s[1], 2.0, 1e-14, 1e-14);
    /* singular values of random X equal sqrt(eig(X^T X)) */
    double X[15 * 6], G[36], w[6], sv[6];
    tu_fill_uniform_d(X, 90, 9, -1, 1);
    naive_gemm(true, false, 6, 6, 15, X, 6, X, 6, G, 6);
    ck_ok(ssli_dsyev(6, G, 6, w, false));
    ck_ok(ssli_dsvd_values(15, 6, X, 6, sv));
    for (int i = 0; i < 6; i++) ck_close(sv[i], sqrt(w[5 - i]), 1e-12, 1e-12);
}
END_TEST

START_TEST(cholesky_and_inverse) {
    double A[4] = {4, 2, 2, 3};
    ck_ok(ssli_dpotrf(2, A, 2));
    ck_close(A[0], 2.0, 1e-15, 0);             /* L = [[2,0],[1,sqrt2]] */
    ck_close(A[2], 1.0, 1e-15, 0);
    ck_close(A[3], sqrt(2.0), 1e-15, 0);
    ck_ok(ssli_dpotri(2, A, 2));               /* inverse = [[3,-2],[-2,4]] / 8 */
    ck_close(A[0], 3.0 / 8, 1e-14, 0);
    ck_close(A[1], -2.0 / 8, 1e-14, 0);
    ck_close(A[2], -2.0 / 8, 1e-14, 0);
    ck_close(A[3], 4.0 / 8, 1e-14, 0);
    double N[4] = {1, 2, 2, 1}; /* indefinite */
    ck_status(ssli_dpotrf(2, N, 2), SSLK_E_NUMERIC);
}
END_TEST

int main(void) {
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("linalg");
    tcase_add_test(tc, gemm_all_transposes_both_precisions);
    tcase_add_test(tc, gemm_split_is_thread_count_invariant);
    tcase_add_test(tc, small_float_gemm_stays_inside_operands);
    tcase_add_test(tc, syrk_fills_both_triangles);
    tcase_add_test(tc, gemm_threaded_equals_single_threaded);
    tcase_add_test(tc, gemm_and_gram_zero_sized);
    tcase_add_test(tc, gram_paths_match_naive);
    tcase_add_test(tc, gram_threaded_equals_syrk);
    tcase_add_test(tc, gemv_matches_naive);
    tcase_add_test(tc, eigen_of_hand_matrix);
    tcase_add_test(tc, svd_values_of_hand_matrix);
    tcase_add_test(tc, cholesky_and_inverse);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
