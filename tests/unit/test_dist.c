/* Collectives table and the in-process fake (issue 17): the fake's
 * collectives with uneven counts, failure instead of a hang when a rank
 * leaves, the context's set/get checks.  Loss and evaluation equivalence
 * across ranks are further down.  Ranks record into shared arrays; only the
 * main thread asserts (Check's failures are not thread-safe).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist_internal.h"
#include "testutil.h"

/* ---- the fake's collectives ---------------------------------------------- */

typedef struct coll_res {
    int world;
    float gath[4][16];
    double red[4][3];
    float redf[4][2];
    unsigned char bc[4][5];
    int rc[4];
} coll_res;

static void coll_rank(sslk_ctx *ctx, int rank, void *user) {
    coll_res *R = user;
    sslk_dist t = {.struct_size = sizeof t};
    if (sslk_ctx_get_dist(ctx, &t) != SSLK_OK || t.rank != rank || t.world_size != R->world) {
        R->rc[rank] = 100;
        return;
    }
    size_t counts[4];
    for (int r = 0; r < R->world; r++) counts[r] = (size_t)r + 1; /* uneven: 1, 2, 3, 4 */
    float send[4];
    for (int i = 0; i <= rank; i++) send[i] = (float)(10 * rank + i);
    int rc = t.allgatherv_f32(t.user, send, (size_t)rank + 1, R->gath[rank], counts);
    double v[3] = {rank + 0.5, 1e15, -1e15 + rank};
    rc |= t.allreduce_sum_f64(t.user, v, 3) << 1;
    memcpy(R->red[rank], v, sizeof v);
    float f[2] = {(float)rank, 1.0f};
    rc |= t.allreduce_sum_f32(t.user, f, 2) << 2;
    memcpy(R->redf[rank], f, sizeof f);
    unsigned char b[5] = {0};
    if (rank == R->world - 1) memcpy(b, "hello", 5);
    rc |= t.broadcast(t.user, b, 5, R->world - 1) << 3;
    memcpy(R->bc[rank], b, 5);
    rc |= t.barrier(t.user) << 4;
    R->rc[rank] = rc;
}

START_TEST(fake_collectives) {
    for (int W = 1; W <= 4; W++) {
        coll_res R;
        memset(&R, 0, sizeof R);
        R.world = W;
        ck_ok(sslk_dist_fake_run(W, coll_rank, &R));
        for (int r = 0; r < W; r++) {
            ck_assert_int_eq(R.rc[r], 0);
            size_t k = 0;
            for (int q = 0; q < W; q++)
                for (int i = 0; i <= q; i++) ck_assert_float_eq(R.gath[r][k++], (float)(10 * q + i));
            double s = 0;
            for (int q = 0; q < W; q++) s += q + 0.5;
            ck_assert_double_eq(R.red[r][0], s);
            /* W * 1e15 and -W * 1e15 + sum(rank) are exact in double */
            ck_assert_double_eq(R.red[r][1] + R.red[r][2], (double)(W * (W - 1) / 2));
            ck_assert_float_eq(R.redf[r][0], (float)(W * (W - 1) / 2));
            ck_assert_float_eq(R.redf[r][1], (float)W);
            ck_assert_int_eq(memcmp(R.bc[r], "hello", 5), 0);
        }
    }
}
END_TEST

/* Rank 0 leaves early: the others' collectives fail (no hang), and the
 * library's wrapper turns that into SSLK_E_DIST with the fake's sentence. */
typedef struct leave_res {
    sslk_status st[3];
    char msg[3][512];
} leave_res;

static void leave_rank(sslk_ctx *ctx, int rank, void *user) {
    leave_res *R = user;
    if (rank == 0) return;
    double x = 1;
    R->st[rank] = ssli_dist_allreduce_f64(ssli_dist(ctx), &x, 1, "test_leave");
    snprintf(R->msg[rank], sizeof R->msg[rank], "%s", sslk_last_error());
}

START_TEST(fake_rank_leaves) {
    leave_res R;
    memset(&R, 0, sizeof R);
    ck_ok(sslk_dist_fake_run(3, leave_rank, &R));
    for (int r = 1; r < 3; r++) {
        ck_assert_int_eq(R.st[r], SSLK_E_DIST);
        ck_assert_msg(strstr(R.msg[r], "test_leave: collective allreduce_sum_f64 failed on rank") != NULL, "%s",
                      R.msg[r]);
        ck_assert_msg(strstr(R.msg[r], "left the world") != NULL, "%s", R.msg[r]);
    }
}
END_TEST

START_TEST(ctx_table_checks) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_dist t = {.struct_size = sizeof t};
    ck_ok(sslk_ctx_get_dist(c, &t));
    ck_assert_int_eq(t.world_size, 1);
    ck_assert_int_eq(t.rank, 0);
    ck_assert_int_eq(t.allreduce_sum_f64 == NULL, 1);
    ck_assert_ptr_null(ssli_dist(c));
    sslk_dist_fake *f;
    ck_status(sslk_dist_fake_create(0, &f), SSLK_E_INVALID_ARG);
    ck_ok(sslk_dist_fake_create(2, &f));
    ck_status(sslk_dist_fake_table(f, 2, &t), SSLK_E_INVALID_ARG);
    ck_ok(sslk_dist_fake_table(f, 1, &t));
    sslk_dist bad = t;
    bad.rank = 2;
    ck_status(sslk_ctx_set_dist(c, &bad), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'table->rank' = 2"));
    bad = t;
    bad.world_size = 0;
    ck_status(sslk_ctx_set_dist(c, &bad), SSLK_E_INVALID_ARG);
    bad = t;
    bad.broadcast = NULL;
    ck_status(sslk_ctx_set_dist(c, &bad), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "'table->broadcast' is NULL"));
    bad = t;
    bad.struct_size = 8;
    ck_status(sslk_ctx_set_dist(c, &bad), SSLK_E_INVALID_ARG);
    ck_status(sslk_ctx_set_dist(NULL, &t), SSLK_E_INVALID_ARG);
    ck_ok(sslk_ctx_set_dist(c, &t));
    sslk_dist got = {.struct_size = sizeof got};
    ck_ok(sslk_ctx_get_dist(c, &got));
    ck_assert_int_eq(got.rank, 1);
    ck_assert_int_eq(got.world_size, 2);
    ck_assert_ptr_eq(got.user, t.user);
    ck_assert_ptr_nonnull(ssli_dist(c));
    ck_ok(sslk_ctx_set_dist(c, NULL));
    ck_assert_ptr_null(ssli_dist(c));
    ck_assert_str_eq(sslk_status_str(SSLK_E_DIST), "SSLK_E_DIST");
    sslk_dist_fake_destroy(f);
    sslk_ctx_destroy(c);
}
END_TEST

/* @loss-dist (below) */

static Suite *suite(void) {
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fake_collectives);
    tcase_add_test(tc, fake_rank_leaves);
    tcase_add_test(tc, ctx_table_checks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
