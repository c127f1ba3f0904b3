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

/* The fake checks what the ranks agree on: a count that differs from
 * counts[rank], or a broadcast root out of range, fails on every rank. */
static void mismatch_rank(sslk_ctx *ctx, int rank, void *user) {
    leave_res *R = user;
    sslk_dist t = {.struct_size = sizeof t};
    sslk_ctx_get_dist(ctx, &t);
    size_t counts[2] = {2, 2};
    float send[3] = {1, 2, 3}, recv[4];
    int rc = t.allgatherv_f32(t.user, send, rank == 1 ? 3 : 2, recv, counts);
    unsigned char b[2] = {0, 0};
    rc |= t.broadcast(t.user, b, 2, 5) << 1;
    rc |= t.barrier(t.user) << 2; /* the world is still usable */
    R->st[rank] = (sslk_status)rc;
}

START_TEST(fake_mismatch_fails_everywhere) {
    leave_res R;
    memset(&R, 0, sizeof R);
    ck_ok(sslk_dist_fake_run(2, mismatch_rank, &R));
    ck_assert_int_eq(R.st[0], 3);
    ck_assert_int_eq(R.st[1], 3);
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

/* ---- losses across ranks ------------------------------------------------
 * For every loss kind: the value, the gradient of each rank's own rows and the
 * owned parameter's gradient on W ranks (uneven shards of different data)
 * equal one process holding all rows in rank order. */

#define MAXV 3
typedef struct loss_case {
    const char *name;
    sslk_loss_kind kind;
    int precision;
    size_t V, d;
    int idx;  /* 0 none, 1 DIET datum ids in [0, num_samples), 2 InfoNCE sample ids, 3 xent labels < d */
    int tgt;  /* MSN targets */
    int nset;
    int keys[6];
    double vals[6];
} loss_case;

static const loss_case loss_cases[] = {
    /* d = 3: N >= 2d at every world size here, so the d x d all-reduce path;
     * d = 5 mixes both paths (N = 8 and 7 gather rows, 11 and 16 all-reduce);
     * d = 16 always gathers the rows */
    {"vicreg mean", SSLK_LOSS_VICREG, 0, 2, 3, 0, 0, 1, {SSLK_VICREG_GAMMA}, {1.0}},
    {"vicreg sum double", SSLK_LOSS_VICREG, 1, 2, 5, 0, 0, 2, {SSLK_VICREG_VAR_BRANCH_REDUCTION, SSLK_VICREG_GAMMA},
     {SSLK_REDUCE_SUM, 1.2}},
    {"vicreg wide n < d", SSLK_LOSS_VICREG, 1, 2, 16, 0, 0, 0, {0}, {0}},
    {"logdet", SSLK_LOSS_VICREG_LOGDET, 0, 2, 4, 0, 0, 0, {0}, {0}},
    {"logdet d x d path", SSLK_LOSS_VICREG_LOGDET, 0, 2, 3, 0, 0, 1, {SSLK_VICREG_LOGDET_BETA}, {0.7}},
    {"logdet double uncentred", SSLK_LOSS_VICREG_LOGDET, 1, 2, 4, 0, 0, 1, {SSLK_VICREG_LOGDET_CENTERED}, {0}},
    {"pairdist", SSLK_LOSS_VICREG_PAIRDIST, 0, 2, 4, 0, 0, 0, {0}, {0}},
    {"pairdist double bhatt", SSLK_LOSS_VICREG_PAIRDIST, 1, 2, 4, 0, 0, 1, {SSLK_VICREG_PAIRDIST_ESTIMATOR},
     {SSLK_PAIRDIST_BHATTACHARYYA}},
    {"nt-xent", SSLK_LOSS_INFONCE, 0, 2, 6, 0, 0, 1, {SSLK_INFONCE_TEMPERATURE}, {0.5}},
    {"nt-xent 3 views double sum", SSLK_LOSS_INFONCE, 1, 3, 6, 0, 0, 1, {SSLK_INFONCE_VIEW_REDUCTION},
     {SSLK_REDUCE_SUM}},
    {"infonce ids", SSLK_LOSS_INFONCE, 1, 1, 6, 2, 0, 0, {0}, {0}},
    /* 2 / tau > 80: the row kernels' path that does not reuse pass 1's exponentials */
    {"nt-xent cold", SSLK_LOSS_INFONCE, 0, 2, 6, 0, 0, 1, {SSLK_INFONCE_TEMPERATURE}, {0.024}},
    {"nt-xent cold double", SSLK_LOSS_INFONCE, 1, 2, 6, 0, 0, 1, {SSLK_INFONCE_TEMPERATURE}, {0.02}},
    {"infonce symmetric", SSLK_LOSS_INFONCE_SYMMETRIC, 0, 2, 6, 0, 0, 0, {0}, {0}},
    {"infonce symmetric sum", SSLK_LOSS_INFONCE_SYMMETRIC, 0, 2, 6, 0, 0, 2,
     {SSLK_INFONCE_VIEW_REDUCTION, SSLK_INFONCE_TEMPERATURE}, {SSLK_REDUCE_SUM, 0.3}},
    {"infonce symmetric double", SSLK_LOSS_INFONCE_SYMMETRIC, 1, 2, 6, 0, 0, 0, {0}, {0}},
    {"diet", SSLK_LOSS_DIET, 0, 1, 5, 1, 0, 2, {SSLK_DIET_NUM_SAMPLES, SSLK_DIET_DIM}, {23, 5}},
    {"diet double 2 views", SSLK_LOSS_DIET, 1, 2, 5, 1, 0, 2, {SSLK_DIET_NUM_SAMPLES, SSLK_DIET_DIM}, {23, 5}},
    {"msn sinkhorn me-max", SSLK_LOSS_MSN, 0, 2, 6, 0, 1, 2, {SSLK_MSN_NUM_PROTOTYPES, SSLK_MSN_DIM}, {7, 6}},
    {"msn 3 views label smoothing", SSLK_LOSS_MSN, 0, 3, 6, 0, 1, 3,
     {SSLK_MSN_NUM_PROTOTYPES, SSLK_MSN_DIM, SSLK_MSN_LABEL_SMOOTHING}, {7, 6, 0.1}},
    {"pmsn double reverse entropy", SSLK_LOSS_MSN, 1, 2, 6, 0, 1, 6,
     {SSLK_MSN_NUM_PROTOTYPES, SSLK_MSN_DIM, SSLK_MSN_PRIOR, SSLK_MSN_KL_DIRECTION, SSLK_MSN_ENTROPY_WEIGHT,
      SSLK_MSN_SINKHORN_ITERATIONS},
     {7, 6, SSLK_MSN_PRIOR_POWER_LAW, SSLK_KL_REVERSE, 0.3, 0}},
    {"xent", SSLK_LOSS_XENT, 0, 1, 4, 3, 0, 1, {SSLK_XENT_LABEL_SMOOTHING}, {0.1}},
};
#define NCASES (sizeof loss_cases / sizeof loss_cases[0])

#define MAXN 16
typedef struct loss_job {
    const loss_case *c;
    int world;
    size_t counts[4], offs[4], N;
    float Z[MAXV][MAXN * 16], T[MAXN * 16];
    int64_t ids[MAXN];
    /* results: [0] = one process with all rows; [1] = the ranks (grads at their offsets) */
    double value[2][4];
    float grad[2][MAXV][MAXN * 16];
    float pgrad[5][23 * 16]; /* [0] reference, [1 + rank] */
    size_t pcount, pcount_rank[4];
    sslk_status st[4], st2[4];
    char msg[4][256], msg2[4][256];
} loss_job;

static sslk_loss *case_loss(sslk_ctx *c, const loss_case *lc) {
    sslk_loss *L = NULL;
    if (sslk_loss_create(c, lc->kind, &L) != SSLK_OK) return NULL;
    sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, lc->precision);
    for (int k = 0; k < lc->nset; k++) sslk_loss_set_f64(L, lc->keys[k], lc->vals[k]);
    return L;
}

/* compute rows [off, off + n) of the job's data with loss L; grads into g (rows at off), param grad into pg */
static sslk_status case_compute(loss_job *J, sslk_loss *L, size_t off, size_t n, double *value, float (*g)[MAXN * 16],
                                float *pg) {
    const loss_case *lc = J->c;
    const float *views[MAXV];
    float *grads[MAXV];
    for (size_t v = 0; v < lc->V; v++) {
        views[v] = J->Z[v] + off * lc->d;
        grads[v] = g[v] + off * lc->d;
    }
    sslk_loss_batch b = {sizeof b, views, lc->V, n, lc->d, lc->idx ? J->ids + off : NULL,
                         lc->tgt ? J->T + off * lc->d : NULL};
    sslk_status s = sslk_loss_compute(L, &b, value, grads);
    size_t np = 0;
    if (s == SSLK_OK) s = sslk_loss_param_count(L, &np);
    if (s == SSLK_OK && np) {
        sslk_param_view pv = {.struct_size = sizeof pv};
        s = sslk_loss_param(L, 0, &pv);
        if (s == SSLK_OK) {
            memcpy(pg, pv.grad, pv.count * sizeof(float));
            if (pg == J->pgrad[0]) J->pcount = pv.count;
            else J->pcount_rank[(pg - J->pgrad[1]) / (23 * 16)] = pv.count;
        }
    }
    return s;
}

static void loss_rank(sslk_ctx *ctx, int rank, void *user) {
    loss_job *J = user;
    sslk_loss *L = case_loss(ctx, J->c);
    if (!L) {
        J->st[rank] = SSLK_E_NOMEM;
        return;
    }
    J->st[rank] = case_compute(J, L, J->offs[rank], J->counts[rank], &J->value[1][rank], J->grad[1],
                               J->pgrad[1 + rank]);
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
    sslk_loss_destroy(L);
}

static void run_loss_case(const loss_case *lc, int W, const size_t *counts, unsigned seed) {
    loss_job *J = calloc(1, sizeof *J);
    J->c = lc;
    J->world = W;
    for (int r = 0; r < W; r++) {
        J->counts[r] = counts[r];
        J->offs[r] = J->N;
        J->N += counts[r];
    }
    ck_assert(J->N <= MAXN && lc->d <= 16);
    /* different data on every rank (no symmetry to hide a wrong backward) */
    for (size_t v = 0; v < lc->V; v++) tu_fill_uniform(J->Z[v], J->N * lc->d, seed + 17 * (unsigned)v, -1.5f, 2.0f);
    tu_fill_uniform(J->T, J->N * lc->d, seed + 99, -1.0f, 1.0f);
    for (size_t i = 0; i < J->N; i++)
        J->ids[i] = lc->idx == 1 ? (int64_t)((i * 7 + 3) % 23)
                    : lc->idx == 2 ? (int64_t)(i % (J->N / 2))
                                   : (int64_t)((i * 3 + 1) % lc->d);
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_loss *L = case_loss(c, lc);
    ck_assert_ptr_nonnull(L);
    ck_ok(case_compute(J, L, 0, J->N, &J->value[0][0], J->grad[0], J->pgrad[0]));
    sslk_loss_destroy(L);
    sslk_ctx_destroy(c);
    ck_ok(sslk_dist_fake_run(W, loss_rank, J));
    double tol = lc->precision ? 1e-10 : 1e-5;
    for (int r = 0; r < W; r++) {
        ck_assert_msg(J->st[r] == SSLK_OK, "%s W=%d rank %d: %s %s", lc->name, W, r, sslk_status_str(J->st[r]),
                      J->msg[r]);
        ck_assert_msg(fabs(J->value[1][r] - J->value[0][0]) <= tol * fabs(J->value[0][0]),
                      "%s W=%d rank %d: value %.15g vs one process %.15g", lc->name, W, r, J->value[1][r],
                      J->value[0][0]);
        /* owned parameter gradient: the full global gradient on every rank */
        /* DIET across ranks: rank r holds the head rows [floor(23 r / W), floor(23 (r+1) / W)) */
        size_t p0 = 0, pn = J->pcount;
        if (lc->kind == SSLK_LOSS_DIET && W > 1) {
            p0 = (size_t)(23 * r / W) * lc->d;
            pn = (size_t)(23 * (r + 1) / W) * lc->d - p0;
            ck_assert_uint_eq(J->pcount_rank[r], pn);
        }
        double e2 = 0, r2 = 0;
        for (size_t k = 0; k < pn; k++) {
            double e = (double)J->pgrad[1 + r][k] - (double)J->pgrad[0][p0 + k];
            e2 += e * e;
            r2 += (double)J->pgrad[0][p0 + k] * J->pgrad[0][p0 + k];
        }
        if (J->pcount) ck_assert_msg(r2 > 0, "%s W=%d rank %d: zero parameter gradient", lc->name, W, r);
        ck_assert_msg(sqrt(e2) <= tol * sqrt(r2) + 1e-300, "%s W=%d rank %d: parameter gradient differs (%g of %g)",
                      lc->name, W, r, sqrt(e2), sqrt(r2));
    }
    /* input gradients: every row (each written by its own rank) against one process */
    for (size_t v = 0; v < lc->V; v++) {
        double e2 = 0, r2 = 0, emax = 0, rmax = 0;
        for (size_t k = 0; k < J->N * lc->d; k++) {
            double e = fabs((double)J->grad[1][v][k] - (double)J->grad[0][v][k]);
            e2 += e * e;
            r2 += (double)J->grad[0][v][k] * J->grad[0][v][k];
            emax = e > emax ? e : emax;
            rmax = fabs(J->grad[0][v][k]) > rmax ? fabs(J->grad[0][v][k]) : rmax;
        }
        ck_assert_msg(r2 > 0, "%s: zero reference gradient (the test would prove nothing)", lc->name);
        ck_assert_msg(sqrt(e2) <= tol * sqrt(r2) && emax <= tol * rmax,
                      "%s W=%d view %zu: gradient differs (rms %g of %g, max %g of %g)", lc->name, W, v, sqrt(e2),
                      sqrt(r2), emax, rmax);
    }
    free(J);
}

START_TEST(losses_across_ranks) {
    const loss_case *lc = &loss_cases[_i];
    static const size_t c2[] = {3, 5}, c3[] = {1, 4, 2}, c4[] = {2, 1, 5, 3}, c4b[] = {4, 4, 4, 4};
    run_loss_case(lc, 1, (const size_t[]){7}, 11u + (unsigned)_i);
    run_loss_case(lc, 2, c2, 21u + (unsigned)_i);
    run_loss_case(lc, 3, c3, 31u + (unsigned)_i);
    run_loss_case(lc, 4, c4, 41u + (unsigned)_i);
    run_loss_case(lc, 4, c4b, 51u + (unsigned)_i);
}
END_TEST

/* A rank whose inputs are refused makes every rank fail (no hang): its own
 * message on it, SSLK_E_DIST naming it on the others. */
static void refuse_rank(sslk_ctx *ctx, int rank, void *user) {
    loss_job *J = user;
    sslk_loss *L = NULL;
    sslk_loss_create(ctx, SSLK_LOSS_VICREG, &L);
    float z[8], g[8];
    for (int i = 0; i < 8; i++) z[i] = (float)(i * (rank + 1));
    if (rank == 1) z[3] = NAN;
    J->st[rank] = sslk_loss_compute_pair(L, z, z, 4, 2, &J->value[1][rank], g, g);
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
    /* then a shape disagreement: d differs between ranks */
    z[3] = 1.0f;
    J->value[0][rank] = sslk_loss_compute_pair(L, z, z, rank == 2 ? 2 : 4, rank == 2 ? 4 : 2, NULL, NULL, NULL);
    /* gradients asked on one rank only (MSN and DIET all-reduce in backward only) */
    J->st2[rank] = sslk_loss_compute_pair(L, z, z, 4, 2, NULL, rank == 0 ? g : NULL, NULL);
    snprintf(J->msg2[rank], sizeof J->msg2[rank], "%s", sslk_last_error());
    sslk_loss_destroy(L);
}

/* InfoNCE with outside negatives (a queue): the mean over all ranks' anchors. */
typedef struct neg_job {
    size_t counts[4];
    float za[12 * 5], zb[12 * 5], neg[7 * 5], ga[12 * 5], gb[12 * 5];
    double value[4], pos[4];
    sslk_status st[4];
} neg_job;

static void neg_rank(sslk_ctx *ctx, int rank, void *user) {
    neg_job *J = user;
    size_t off = 0;
    for (int r = 0; r < rank; r++) off += J->counts[r];
    sslk_loss *L = NULL;
    sslk_loss_create(ctx, SSLK_LOSS_INFONCE, &L);
    sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 1);
    J->st[rank] = sslk_loss_compute_negatives(L, J->za + off * 5, J->zb + off * 5, J->counts[rank], 5, J->neg, 7,
                                              &J->value[rank], J->ga + off * 5, J->gb + off * 5);
    if (J->st[rank] == SSLK_OK) sslk_loss_term_value(L, 0, &J->pos[rank]);
    sslk_loss_destroy(L);
}

START_TEST(negatives_across_ranks) {
    neg_job *J = calloc(1, sizeof *J);
    J->counts[0] = 5, J->counts[1] = 2, J->counts[2] = 5;
    tu_fill_uniform(J->za, 60, 5, -1, 1);
    tu_fill_uniform(J->zb, 60, 6, -1, 1);
    tu_fill_uniform(J->neg, 35, 7, -1, 1);
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    sslk_loss *L;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_INFONCE, &L));
    ck_ok(sslk_loss_set_i64(L, SSLK_LOSS_PRECISION, 1));
    float ga[60], gb[60];
    double v, pos;
    ck_ok(sslk_loss_compute_negatives(L, J->za, J->zb, 12, 5, J->neg, 7, &v, ga, gb));
    ck_ok(sslk_loss_term_value(L, 0, &pos));
    sslk_loss_destroy(L);
    sslk_ctx_destroy(c);
    ck_ok(sslk_dist_fake_run(3, neg_rank, J));
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(J->st[r], SSLK_OK);
        ck_close(J->value[r], v, 1e-10, 0);
        ck_close(J->pos[r], pos, 1e-10, 1e-14);
    }
    for (int e = 0; e < 60; e++) {
        ck_close(J->ga[e], ga[e], 1e-6, 1e-9);
        ck_close(J->gb[e], gb[e], 1e-6, 1e-9);
    }
    free(J);
}
END_TEST

/* A DIET head made before the table was attached is refused on every rank. */
static void diet_late_rank(sslk_ctx *ctx, int rank, void *user) {
    loss_job *J = user;
    sslk_dist t = {.struct_size = sizeof t};
    sslk_ctx_get_dist(ctx, &t);
    sslk_ctx_set_dist(ctx, NULL);
    sslk_loss *L = NULL;
    sslk_loss_create(ctx, SSLK_LOSS_DIET, &L);
    sslk_loss_set_i64(L, SSLK_DIET_NUM_SAMPLES, 10);
    sslk_loss_set_i64(L, SSLK_DIET_DIM, 2);
    sslk_param_view pv = {.struct_size = sizeof pv};
    sslk_loss_param(L, 0, &pv); /* the full 10 x 2 head, single-process */
    sslk_ctx_set_dist(ctx, &t);
    float z[4] = {1, 2, 3, 4}, g[4];
    int64_t idx[2] = {rank, rank + 3};
    J->st[rank] = sslk_loss_compute_indexed(L, z, idx, 2, 2, NULL, g);
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
    sslk_loss_destroy(L);
}

START_TEST(diet_head_before_table) {
    loss_job *J = calloc(1, sizeof *J);
    ck_ok(sslk_dist_fake_run(2, diet_late_rank, J));
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(J->st[r], SSLK_E_STATE);
        ck_assert_msg(strstr(J->msg[r], "made before the collectives table") != NULL, "%s", J->msg[r]);
    }
    free(J);
}
END_TEST

/* MSN ranks configured with different Sinkhorn iteration counts (a different
 * number of all-reduces) fail alike instead of pairing mismatched collectives. */
static void msn_config_rank(sslk_ctx *ctx, int rank, void *user) {
    loss_job *J = user;
    sslk_loss *L = NULL;
    sslk_loss_create(ctx, SSLK_LOSS_MSN, &L);
    sslk_loss_set_i64(L, SSLK_MSN_NUM_PROTOTYPES, 4);
    sslk_loss_set_i64(L, SSLK_MSN_DIM, 2);
    sslk_loss_set_i64(L, SSLK_MSN_SINKHORN_ITERATIONS, rank == 1 ? 5 : 3);
    float z[8], tg[4], g[8];
    for (int i = 0; i < 8; i++) z[i] = (float)(i % 3) - 0.5f * (float)rank;
    for (int i = 0; i < 4; i++) tg[i] = (float)i;
    J->st[rank] = sslk_loss_compute_targets(L, z, 2, tg, 2, 2, NULL, g);
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
    sslk_loss_destroy(L);
}

START_TEST(msn_config_disagreement) {
    loss_job *J = calloc(1, sizeof *J);
    ck_ok(sslk_dist_fake_run(3, msn_config_rank, J));
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(J->st[r], SSLK_E_SHAPE);
        const char *want = r == 1 ? "rank 0 has num_prototypes = 4, sinkhorn_iterations = 3; this rank (1) 4, 5"
                                  : "rank 1 has num_prototypes = 4, sinkhorn_iterations = 5";
        ck_assert_msg(strstr(J->msg[r], want) != NULL, "%s", J->msg[r]);
    }
    free(J);
}
END_TEST

START_TEST(loss_refusal_propagates) {
    loss_job *J = calloc(1, sizeof *J);
    ck_ok(sslk_dist_fake_run(3, refuse_rank, J));
    ck_assert_int_eq(J->st[1], SSLK_E_NONFINITE);
    for (int r = 0; r < 3; r += 2) {
        ck_assert_int_eq(J->st[r], SSLK_E_DIST);
        ck_assert_msg(strstr(J->msg[r], "rank 1 refused its inputs (SSLK_E_NONFINITE)") != NULL, "%s", J->msg[r]);
    }
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq((int)J->value[0][r], SSLK_E_SHAPE);
        ck_assert_int_eq(J->st2[r], SSLK_E_SHAPE);
        ck_assert_msg(strstr(J->msg2[r], r == 0 ? "rank 1 has gradients (1 = asked) = 0, this rank (0) 1"
                                                : "rank 0 has gradients (1 = asked) = 1") != NULL, "%s", J->msg2[r]);
    }
    free(J);
}
END_TEST


/* ---- evaluation across ranks --------------------------------------------- */

typedef struct eval_job {
    size_t qc[4], bc[4], N, M, d, nc;
    int distance;
    float bank[40 * 4], qry[30 * 4];
    int32_t by[40], qy[30];
    double rk[4], top1[4], top5[4];
    int32_t ranked[30 * 3];
    float scores[30 * 3];
    float gath[4][40 * 4];
    int32_t gy[4][40];
    size_t tot[4];
    sslk_status st[4];
    char msg[4][256];
} eval_job;

static size_t offset_of(const size_t *c, int r) {
    size_t o = 0;
    for (int q = 0; q < r; q++) o += c[q];
    return o;
}

static void eval_rank(sslk_ctx *ctx, int rank, void *user) {
    eval_job *J = user;
    size_t bo = offset_of(J->bc, rank), qo = offset_of(J->qc, rank), d = J->d;
    sslk_rankme_acc *acc = NULL;
    sslk_knn *k = NULL;
    sslk_status s = sslk_rankme_create(ctx, d, &acc);
    if (s == SSLK_OK) s = sslk_rankme_update(acc, J->bank + bo * d, J->bc[rank]);
    if (s == SSLK_OK) s = sslk_rankme_allreduce(acc);
    if (s == SSLK_OK) s = sslk_rankme_compute(acc, &J->rk[rank], NULL);
    if (s == SSLK_OK) s = sslk_knn_create(ctx, &k);
    if (s == SSLK_OK) s = sslk_knn_set_i64(k, SSLK_KNN_K, 5);
    if (s == SSLK_OK) s = sslk_knn_set_i64(k, SSLK_KNN_DISTANCE, J->distance);
    if (s == SSLK_OK) s = sslk_knn_fit(k, J->bank + bo * d, J->by + bo, J->bc[rank], d, J->nc);
    if (s == SSLK_OK)
        s = sslk_knn_predict(k, J->qry + qo * d, J->qc[rank], d, J->ranked + qo * 3, 3, J->scores + qo * J->nc);
    if (s == SSLK_OK) s = sslk_knn_evaluate(k, J->qry + qo * d, J->qy + qo, J->qc[rank], d, &J->top1[rank],
                                            &J->top5[rank]);
    if (s == SSLK_OK) s = sslk_dist_rows(ctx, J->bc[rank], &J->tot[rank]);
    if (s == SSLK_OK) s = sslk_dist_gather_rows(ctx, J->bank + bo * d, J->bc[rank], d, J->gath[rank]);
    if (s == SSLK_OK) s = sslk_dist_gather_i32(ctx, J->by + bo, J->bc[rank], J->gy[rank]);
    J->st[rank] = s;
    snprintf(J->msg[rank], sizeof J->msg[rank], "%s", sslk_last_error());
    sslk_knn_destroy(k);
    sslk_rankme_destroy(acc);
}

START_TEST(eval_across_ranks) {
    static const size_t bcs[3][4] = {{17, 23}, {5, 30, 5}, {9, 1, 20, 10}};
    static const size_t qcs[3][4] = {{11, 19}, {12, 3, 15}, {1, 8, 13, 8}};
    for (int distance = 0; distance < 2; distance++)
        for (int wi = 0; wi < 3; wi++) {
            int W = wi + 2;
            eval_job *J = calloc(1, sizeof *J);
            J->d = 4;
            J->nc = 3;
            J->distance = distance;
            for (int r = 0; r < W; r++) {
                J->bc[r] = bcs[wi][r];
                J->qc[r] = qcs[wi][r];
                J->N += J->bc[r];
                J->M += J->qc[r];
            }
            tu_fill_uniform(J->bank, J->N * J->d, 70u + (unsigned)wi, -1, 1);
            tu_fill_uniform(J->qry, J->M * J->d, 80u + (unsigned)wi, -1, 1);
            for (size_t i = 0; i < J->N; i++) J->by[i] = J->bank[i * J->d] > 0 ? (J->bank[i * J->d + 1] > 0 ? 2 : 1) : 0;
            for (size_t i = 0; i < J->M; i++) J->qy[i] = J->qry[i * J->d] > 0 ? (J->qry[i * J->d + 1] > 0 ? 2 : 1) : 0;
            /* one process, all rows */
            sslk_ctx *c;
            ck_ok(sslk_ctx_create(&c));
            sslk_rankme_acc *acc;
            double rk, t1, t5;
            ck_ok(sslk_rankme_create(c, J->d, &acc));
            ck_ok(sslk_rankme_update(acc, J->bank, J->N));
            ck_ok(sslk_rankme_compute(acc, &rk, NULL));
            sslk_rankme_destroy(acc);
            sslk_knn *k;
            int32_t ranked[30 * 3];
            float scores[30 * 3];
            ck_ok(sslk_knn_create(c, &k));
            ck_ok(sslk_knn_set_i64(k, SSLK_KNN_K, 5));
            ck_ok(sslk_knn_set_i64(k, SSLK_KNN_DISTANCE, distance));
            ck_ok(sslk_knn_fit(k, J->bank, J->by, J->N, J->d, J->nc));
            ck_ok(sslk_knn_predict(k, J->qry, J->M, J->d, ranked, 3, scores));
            ck_ok(sslk_knn_evaluate(k, J->qry, J->qy, J->M, J->d, &t1, &t5));
            sslk_knn_destroy(k);
            sslk_ctx_destroy(c);
            ck_assert(t1 > 0.3 && t1 < 1.0); /* a real classification, not a constant */
            ck_ok(sslk_dist_fake_run(W, eval_rank, J));
            for (int r = 0; r < W; r++) {
                ck_assert_msg(J->st[r] == SSLK_OK, "W=%d rank %d: %s", W, r, J->msg[r]);
                ck_close(J->rk[r], rk, 1e-10, 0);
                ck_assert_double_eq(J->top1[r], t1);
                ck_assert_double_eq(J->top5[r], t5);
                ck_assert_uint_eq(J->tot[r], J->N);
                ck_assert_int_eq(memcmp(J->gath[r], J->bank, J->N * J->d * sizeof(float)), 0);
                ck_assert_int_eq(memcmp(J->gy[r], J->by, J->N * sizeof(int32_t)), 0);
            }
            for (size_t i = 0; i < J->M * 3; i++) ck_assert_int_eq(J->ranked[i], ranked[i]);
            for (size_t i = 0; i < J->M * J->nc; i++) ck_close(J->scores[i], scores[i], 1e-6, 0);
            free(J);
        }
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fake_collectives);
    tcase_add_test(tc, fake_rank_leaves);
    tcase_add_test(tc, ctx_table_checks);
    tcase_add_test(tc, fake_mismatch_fails_everywhere);
    suite_add_tcase(s, tc);
    TCase *tl = tcase_create("losses");
    tcase_set_timeout(tl, 120);
    tcase_add_loop_test(tl, losses_across_ranks, 0, (int)NCASES);
    tcase_add_test(tl, loss_refusal_propagates);
    tcase_add_test(tl, msn_config_disagreement);
    tcase_add_test(tl, diet_head_before_table);
    tcase_add_test(tl, negatives_across_ranks);
    suite_add_tcase(s, tl);
    TCase *te = tcase_create("eval");
    tcase_set_timeout(te, 60);
    tcase_add_test(te, eval_across_ranks);
    suite_add_tcase(s, te);
    return s;
}

int main(void) { return tu_run(suite()); }
