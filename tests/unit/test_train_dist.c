/* Data-parallel training on the in-process fake (issue 17, i17-mpi): for
 * VICReg, SimCLR, MSN and DIET, 5 steps on 2 and 3 ranks (uneven shards of
 * a batch of 14) end with the parameters of one process with the whole
 * batch (SyncBN on); with SyncBN off they do not (the check can fail); a run
 * checkpointed on 2 ranks resumes on 3 and ends where one process ends.
 * Ranks write into shared arrays; only the main thread asserts.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define NIMG 96
#define SIDE 8
#define BATCH 14
#define MAXP 16384

static uint8_t px[NIMG * SIDE * SIDE];
static int32_t lab[NIMG];

static void fill_pixels(void) {
    unsigned s = 12345;
    for (int i = 0; i < NIMG; i++) {
        int k = i % 4;
        lab[i] = k;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int on = k == 0 ? (y == 2 || y == 5) : k == 1 ? (x == 3 || x == 4)
                         : k == 2 ? (abs(x - 4) + abs(y - 4) < 3) : (x == y || x == SIDE - 1 - y);
                s = s * 1103515245u + 12345u;
                px[(i * SIDE + y) * SIDE + x] = (uint8_t)((on ? 200 : 30) + (int)((s >> 16) % 40));
            }
    }
}

typedef struct job {
    sslk_method method;
    int epochs, sync_bn;
    uint64_t until; /* fit until this epoch (0: the schedule's end) */
    const char *save_dir; /* checkpoint here (rank 0 writes) */
    const char *load_dir; /* start from the checkpoint here */
    sslk_status st[4];
    float *params[4];
    size_t n[5], nmodel[4]; /* all values; of them, the networks' (the rest: the loss's, sharded for DIET) */
} job;

/* SGD: see tests/mpi/mpi_train.c (AdamW turns rounding noise of exactly-zero
 * gradients into lr-sized steps). */
static sslk_status configure(sslk_trainer *tr, int epochs) {
    sslk_status s = SSLK_OK;
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, BATCH);
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, epochs);
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_STEPS_PER_EPOCH, 5);
    if (!s) s = sslk_trainer_set_f64(tr, SSLK_TRAIN_WARMUP_EPOCHS, 0);
    if (!s) s = sslk_trainer_set_f64(tr, SSLK_TRAIN_FINAL_LR_RATIO, 1.0);
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_OPTIMIZER, SSLK_OPTIM_SGD);
    if (!s) s = sslk_trainer_set_f64(tr, SSLK_TRAIN_LR, 0.05);
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_WORKERS, 1);
    if (!s) s = sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 0);
    return s;
}

static sslk_status collect(sslk_trainer *tr, float **out, size_t *n, size_t *nmodel) {
    sslk_model *ms[2];
    sslk_loss *l = NULL;
    sslk_status s = sslk_trainer_encoder(tr, &ms[0]);
    if (!s) s = sslk_trainer_projector(tr, &ms[1]);
    if (!s) s = sslk_trainer_loss(tr, &l);
    float *buf = malloc(MAXP * sizeof(float));
    size_t len = 0;
    for (int pass = 0; !s && pass < 3; pass++) {
        size_t cnt = 0;
        if (pass == 2) *nmodel = len;
        if (pass < 2 && ms[pass]) s = sslk_model_param_count(ms[pass], &cnt);
        if (pass == 2 && l) s = sslk_loss_param_count(l, &cnt);
        for (size_t i = 0; !s && i < cnt; i++) {
            sslk_param_view v = {.struct_size = sizeof v};
            s = pass < 2 ? sslk_model_param(ms[pass], i, &v) : sslk_loss_param(l, i, &v);
            if (!s && len + v.count > MAXP) s = SSLK_E_LIMIT;
            if (!s) memcpy(buf + len, v.data, v.count * sizeof(float));
            len += v.count;
        }
    }
    *out = buf;
    *n = len;
    return s;
}

static void rank_fn(sslk_ctx *ctx, int rank, void *user) {
    job *J = user;
    sslk_dataset *ds = NULL;
    sslk_trainer *tr = NULL;
    sslk_status s = sslk_dataset_from_memory(ctx, px, NIMG, SIDE, SIDE, 1, lab, &ds);
    if (!s && J->load_dir) {
        char path[512];
        snprintf(path, sizeof path, "%s/checkpoint.sslkt", J->load_dir);
        s = sslk_trainer_load(ctx, path, ds, &tr);
    } else if (!s) {
        const char *proj = J->method == SSLK_METHOD_DIET ? "" : "linear:16,bn,relu,linear:16";
        s = sslk_trainer_create(ctx, J->method, ds, "flatten,linear:32,bn,relu", proj, &tr);
        if (!s) s = configure(tr, J->epochs);
        sslk_model *enc = NULL, *proj_m = NULL;
        if (!s && !J->sync_bn) {
            s = sslk_trainer_encoder(tr, &enc);
            if (!s) s = sslk_model_set_i64(enc, SSLK_MODEL_SYNC_BN, 0);
            if (!s) s = sslk_trainer_projector(tr, &proj_m);
            if (!s && proj_m) s = sslk_model_set_i64(proj_m, SSLK_MODEL_SYNC_BN, 0);
        }
    }
    if (!s && J->save_dir) s = sslk_trainer_set_checkpoint_dir(tr, J->save_dir);
    if (!s) s = sslk_trainer_fit(tr, J->until);
    if (!s) s = collect(tr, &J->params[rank], &J->n[rank], &J->nmodel[rank]);
    J->st[rank] = s;
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
}

/* One process (a plain context like the fake's: 1 thread, seed 0). */
static void one_process(job *J) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, 1));
    sslk_ctx_set_seed(c, 0);
    rank_fn(c, 0, J);
    sslk_ctx_destroy(c);
    ck_ok(J->st[0]);
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return worst / scale;
}

static void free_job(job *J) {
    for (int r = 0; r < 4; r++) free(J->params[r]);
}

static float *assemble(job *J, int W, bool sharded) {
    for (int r = 0; r < W; r++) {
        ck_ok(J->st[r]);
        ck_assert_uint_eq(J->nmodel[r], J->nmodel[0]);
        size_t cmp = sharded ? J->nmodel[0] : J->n[0];
        ck_assert_msg(J->n[r] == J->n[0] || sharded, "rank %d holds %zu values, rank 0 %zu", r, J->n[r], J->n[0]);
        ck_assert_msg(!memcmp(J->params[r], J->params[0], cmp * sizeof(float)), "rank %d differs from rank 0", r);
    }
    size_t total = J->nmodel[0];
    for (int r = 0; r < W; r++) total += sharded ? J->n[r] - J->nmodel[r] : (r == 0 ? J->n[0] - J->nmodel[0] : 0);
    float *all = malloc(total * sizeof(float));
    memcpy(all, J->params[0], J->nmodel[0] * sizeof(float));
    size_t off = J->nmodel[0];
    for (int r = 0; r < (sharded ? W : 1); r++) {
        memcpy(all + off, J->params[r] + J->nmodel[r], (J->n[r] - J->nmodel[r]) * sizeof(float));
        off += J->n[r] - J->nmodel[r];
    }
    J->n[W] = total;
    return all;
}

static const sslk_method methods[] = {SSLK_METHOD_VICREG, SSLK_METHOD_SIMCLR, SSLK_METHOD_MSN, SSLK_METHOD_DIET};

START_TEST(ranks_equal_one_process) {
    fill_pixels();
    const sslk_method m = methods[_i / 2];
    const int W = 2 + _i % 2;
    job ref = {.method = m, .epochs = 1, .sync_bn = 1};
    one_process(&ref);
    job J = {.method = m, .epochs = 1, .sync_bn = 1};
    ck_ok(sslk_dist_fake_run(W, rank_fn, &J));
    /* the networks are the same on every rank; the loss's tensors too, except
     * DIET's head whose row shards, concatenated in rank order, are the head */
    float *all = assemble(&J, W, m == SSLK_METHOD_DIET);
    ck_assert_uint_eq(J.n[W], ref.n[0]);
    double d = rel_diff(all, ref.params[0], ref.n[0]);
    free(all);
    ck_assert_msg(d <= 1e-5, "%s on %d ranks: relative difference %g", sslk_method_name(m), W, d);
    free_job(&J);
    free_job(&ref);
}
END_TEST

/* Without SyncBN each rank normalises with its own rows: the runs part. */
START_TEST(local_bn_differs) {
    fill_pixels();
    job ref = {.method = SSLK_METHOD_VICREG, .epochs = 1, .sync_bn = 1};
    one_process(&ref);
    job J = {.method = SSLK_METHOD_VICREG, .epochs = 1, .sync_bn = 0};
    ck_ok(sslk_dist_fake_run(2, rank_fn, &J));
    ck_ok(J.st[0]);
    double d = rel_diff(J.params[0], ref.params[0], ref.n[0]);
    ck_assert_msg(d > 1e-3, "local batch-norm statistics should change the run (difference %g)", d);
    free_job(&J);
    free_job(&ref);
}
END_TEST

static void rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

/* The networks are replicated and the data order global, and a DIET
 * checkpoint holds the whole head (assembled from the shards), so a 2-rank
 * checkpoint resumes on 3 ranks, or on one process, and ends where one
 * process ends.  _i: 0 SimCLR on 3 ranks, 1 DIET on 3 ranks, 2 DIET on 1. */
START_TEST(resume_on_other_rank_count) {
    fill_pixels();
    const sslk_method m = _i == 0 ? SSLK_METHOD_SIMCLR : SSLK_METHOD_DIET;
    const int W2 = _i == 2 ? 1 : 3;
    char dir[] = "/tmp/sslk_tdist_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    job ref = {.method = m, .epochs = 2, .sync_bn = 1};
    one_process(&ref);
    job a = {.method = m, .epochs = 2, .sync_bn = 1, .save_dir = dir, .until = 1};
    ck_ok(sslk_dist_fake_run(2, rank_fn, &a));
    float *pa = assemble(&a, 2, m == SSLK_METHOD_DIET);
    double mid = rel_diff(pa, ref.params[0], ref.n[0]);
    ck_assert_msg(mid > 1e-3, "after one of two epochs the run must still differ from the finished one (%g)", mid);
    job b = {.method = m, .sync_bn = 1, .load_dir = dir};
    if (W2 == 1) {
        one_process(&b);
    } else {
        ck_ok(sslk_dist_fake_run(W2, rank_fn, &b));
    }
    float *pb = assemble(&b, W2, m == SSLK_METHOD_DIET && W2 > 1);
    ck_assert_uint_eq(b.n[W2], ref.n[0]);
    double d = rel_diff(pb, ref.params[0], ref.n[0]);
    ck_assert_msg(d <= 1e-5, "%s: 2 ranks then %d: relative difference %g from one process", sslk_method_name(m), W2,
                  d);
    free(pa);
    free(pb);
    free_job(&a);
    free_job(&b);
    rmtree(dir);
    free_job(&ref);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_dist");
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ranks_equal_one_process, 0, 8);
    tcase_add_test(tc, local_bn_differs);
    tcase_add_loop_test(tc, resume_on_other_rank_count, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
