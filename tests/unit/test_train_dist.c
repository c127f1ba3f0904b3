/* Data-parallel training on the in-process fake (issue 17, i17-mpi): for
 * VICReg, SimCLR, MSN and DIET, 5 steps on 2 and 3 ranks (uneven shards of
 * a batch of 14) end with the parameters of one process with the whole
 * batch (SyncBN on); with SyncBN off they do not (the check can fail); a run
 * checkpointed on 2 ranks resumes on 3 and ends where one process ends.
 * Ranks write into shared arrays; only the main thread asserts.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include "testutil.h"
#include "train/trainer_dist.h"

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
    const char *enc; /* encoder spec (NULL: the default MLP) */
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
        s = sslk_trainer_create(ctx, J->method, ds, J->enc ? J->enc : "flatten,linear:32,bn,relu", proj, &tr);
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

static const sslk_method methods[] = {SSLK_METHOD_VICREG, SSLK_METHOD_SIMCLR, SSLK_METHOD_MSN, SSLK_METHOD_DIET,
                                      SSLK_METHOD_BARLOW_TWINS};

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

/* The presets with a predictor, EMA keys or a queue refuse a collectives
 * table (their extra state is not synchronised yet) before any step, on
 * every rank, with SSLK_E_UNSUPPORTED and a message naming the method. */
static const sslk_method unsynced[] = {SSLK_METHOD_BYOL,    SSLK_METHOD_SIMSIAM, SSLK_METHOD_MOCO_V2,
                                       SSLK_METHOD_MOCO_V3, SSLK_METHOD_DINO,    SSLK_METHOD_SWAV};

START_TEST(unsynced_presets_refuse_ranks) {
    fill_pixels();
    job J = {.method = unsynced[_i], .epochs = 1, .sync_bn = 1};
    ck_ok(sslk_dist_fake_run(2, rank_fn, &J));
    for (int r = 0; r < 2; r++)
        ck_assert_msg(J.st[r] == SSLK_E_UNSUPPORTED, "%s rank %d: status %d", sslk_method_name(unsynced[_i]), r,
                      (int)J.st[r]);
    /* and the same preset trains in one process */
    job ref = {.method = unsynced[_i], .epochs = 1, .sync_bn = 1};
    one_process(&ref);
    ck_assert_uint_gt(ref.n[0], 0);
    free_job(&ref);
    free_job(&J);
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

/* ---- overlap of the gradient all-reduce with the backward ----------------
 * Ranks run on our own threads with the fake's table wrapped: the wrapper
 * logs rank 0's collectives (kind, count, and whether the rank's own thread
 * or another one made the call), and any_thread switches the overlap. */
typedef struct wrap {
    sslk_dist in;
    pthread_t self; /* the rank's thread */
    job *J;
    int rank, log;
    size_t nev;
    struct {
        char kind; /* 'f' float all-reduce, 'd' double all-reduce, 'o' other */
        size_t count;
        bool other_thread;
    } ev[4096];
} wrap;

static void log_ev(wrap *w, char kind, size_t count) {
    if (w->log && w->nev < 4096) {
        w->ev[w->nev].kind = kind;
        w->ev[w->nev].count = count;
        w->ev[w->nev].other_thread = !pthread_equal(pthread_self(), w->self);
        w->nev++;
    }
}
static int w_ag32(void *u, const float *s, size_t c, float *r, const size_t *cs) {
    wrap *w = u;
    log_ev(w, 'o', c);
    return w->in.allgatherv_f32(w->in.user, s, c, r, cs);
}
static int w_ag64(void *u, const double *s, size_t c, double *r, const size_t *cs) {
    wrap *w = u;
    log_ev(w, 'o', c);
    return w->in.allgatherv_f64(w->in.user, s, c, r, cs);
}
static int w_ar32(void *u, float *b, size_t c) {
    wrap *w = u;
    log_ev(w, 'f', c);
    return w->in.allreduce_sum_f32(w->in.user, b, c);
}
static int w_ar64(void *u, double *b, size_t c) {
    wrap *w = u;
    log_ev(w, 'd', c);
    return w->in.allreduce_sum_f64(w->in.user, b, c);
}
static int w_bc(void *u, void *b, size_t n, int root) {
    wrap *w = u;
    log_ev(w, 'o', n);
    return w->in.broadcast(w->in.user, b, n, root);
}
static int w_bar(void *u) {
    wrap *w = u;
    log_ev(w, 'o', 0);
    return w->in.barrier(w->in.user);
}

static void *wrapped_rank(void *arg) {
    wrap *w = arg;
    w->self = pthread_self();
    sslk_ctx *c = NULL;
    sslk_status s = sslk_ctx_create(&c);
    sslk_dist t = w->in;
    t.user = w;
    t.allgatherv_f32 = w_ag32;
    t.allgatherv_f64 = w_ag64;
    t.allreduce_sum_f32 = w_ar32;
    t.allreduce_sum_f64 = w_ar64;
    t.broadcast = w_bc;
    t.barrier = w_bar;
    if (!s) s = sslk_ctx_set_threads(c, 1);
    if (!s) s = sslk_ctx_set_dist(c, &t);
    if (!s) rank_fn(c, w->rank, w->J);
    else w->J->st[w->rank] = s;
    sslk_ctx_destroy(c);
    return NULL;
}

/* W ranks of J on the wrapped fake; rank 0's log in *log0 (caller frees). */
static void run_wrapped(int W, int any_thread, job *J, wrap **log0) {
    sslk_dist_fake *f = NULL;
    ck_ok(sslk_dist_fake_create(W, &f));
    wrap *w = calloc((size_t)W, sizeof *w);
    pthread_t th[4];
    for (int r = 0; r < W; r++) {
        w[r].in.struct_size = sizeof w[r].in;
        ck_ok(sslk_dist_fake_table(f, r, &w[r].in));
        ck_assert_int_eq(w[r].in.any_thread, 1);
        w[r].in.any_thread = any_thread;
        w[r].J = J;
        w[r].rank = r;
        w[r].log = r == 0;
        ck_assert_int_eq(pthread_create(&th[r], NULL, wrapped_rank, &w[r]), 0);
    }
    for (int r = 0; r < W; r++) pthread_join(th[r], NULL);
    sslk_dist_fake_destroy(f);
    *log0 = w;
}

/* Index of the first event of this kind and count (count 0: any), or nev. */
static size_t first_ev(const wrap *w, char kind, size_t count) {
    for (size_t i = 0; i < w->nev; i++)
        if (w->ev[i].kind == kind && (!count || w->ev[i].count == count)) return i;
    return w->nev;
}

/* The overlapped all-reduce (communication thread, buckets handed over as
 * the backward finishes their layers) gives the bits of the blocking one
 * (same buckets, same order), and both equal one process.  Buckets of 300
 * floats: the projector's last linear (272 floats) is one.  _i: 0 VICReg on
 * 2 ranks (MLP encoder), 1 SimCLR on 3 ranks with a residual block in the
 * encoder (layout: body before shortcut). */
START_TEST(overlap_same_bits) {
    fill_pixels();
    const sslk_method m = _i == 0 ? SSLK_METHOD_VICREG : SSLK_METHOD_SIMCLR;
    const int W = 2 + _i;
    const char *enc = _i == 0 ? NULL : "flatten,linear:32,bn,relu,res(linear:32,bn,relu,linear:32|linear:32),relu";
    ssli_train_set_bucket(300);
    job ref = {.method = m, .enc = enc, .epochs = 1, .sync_bn = 1};
    one_process(&ref);
    job on = {.method = m, .enc = enc, .epochs = 1, .sync_bn = 1}, off = on;
    wrap *lon = NULL, *loff = NULL;
    run_wrapped(W, 1, &on, &lon);
    run_wrapped(W, 0, &off, &loff);
    ssli_train_set_bucket(0);
    for (int r = 0; r < W; r++) {
        ck_ok(on.st[r]);
        ck_ok(off.st[r]);
        ck_assert_uint_eq(on.n[r], off.n[r]);
        ck_assert_msg(!memcmp(on.params[r], off.params[r], on.n[r] * sizeof(float)),
                      "rank %d: the overlapped all-reduce changed the bits", r);
    }
    double d = rel_diff(on.params[0], ref.params[0], ref.n[0]);
    ck_assert_msg(d <= 1e-5, "overlapped run vs one process: relative difference %g", d);
    /* the calls: SyncBN's backward all-reduce of the encoder's first bn
     * (2 x 32 + 1 doubles) comes after the projector's buckets were handed
     * over with the overlap, before them without it */
    const size_t enc_bn = 2 * 32 + 1;
    size_t nf_on = 0, nf_off = 0;
    for (size_t i = 0; i < lon->nev; i++)
        if (lon->ev[i].kind == 'f') {
            nf_on++;
            ck_assert_msg(lon->ev[i].other_thread, "a bucket all-reduce ran on the training thread");
        }
    for (size_t i = 0; i < loff->nev; i++)
        if (loff->ev[i].kind == 'f') {
            nf_off++;
            ck_assert_msg(!loff->ev[i].other_thread, "without any_thread every call is the rank's own");
        }
    ck_assert_uint_eq(nf_on, nf_off);
    ck_assert_uint_ge(nf_on, 5 * 3); /* 5 steps of at least 3 buckets */
    ck_assert_uint_lt(first_ev(lon, 'f', 0), first_ev(lon, 'd', enc_bn));
    ck_assert_uint_gt(first_ev(loff, 'f', 0), first_ev(loff, 'd', enc_bn));
    ck_assert_uint_lt(first_ev(loff, 'd', enc_bn), loff->nev);
    /* SyncBN's routed backward all-reduces also ran on the communication thread */
    ck_assert_msg(lon->ev[first_ev(lon, 'd', enc_bn)].other_thread, "SyncBN's backward call was not routed");
    free(lon);
    free(loff);
    free_job(&on);
    free_job(&off);
    free_job(&ref);
}
END_TEST

/* A rank that stops before the backward's all-reduce: the other rank's
 * overlapped step fails with SSLK_E_DIST (no hang), naming the collective. */
static void leave_early(sslk_ctx *ctx, int rank, void *user) {
    job *J = user;
    if (rank == 1) return; /* leaves: the fake fails the others' next collective */
    rank_fn(ctx, rank, J);
}

START_TEST(overlap_rank_leaves) {
    fill_pixels();
    job J = {.method = SSLK_METHOD_VICREG, .epochs = 1, .sync_bn = 1};
    ck_ok(sslk_dist_fake_run(2, leave_early, &J));
    ck_assert_int_eq(J.st[0], SSLK_E_DIST);
    free_job(&J);
}
END_TEST

/* sslk_dist_wait_seconds: a thread's time blocked in collectives, per thread. */
static void waiter(sslk_ctx *ctx, int rank, void *user) {
    double *out = user;
    out[2 + rank] = sslk_dist_wait_seconds();
    size_t total = 0;
    sslk_status s = sslk_dist_rows(ctx, 1, &total);
    out[rank] = s == SSLK_OK && total == 2 ? sslk_dist_wait_seconds() - out[2 + rank] : -1;
}

START_TEST(wait_seconds_counts) {
    double out[4] = {-1, -1, -1, -1};
    ck_assert(sslk_dist_wait_seconds() == 0.0); /* this thread never ran a collective */
    ck_ok(sslk_dist_fake_run(2, waiter, out));
    ck_assert(out[2] == 0.0 && out[3] == 0.0); /* fresh threads start at 0 */
    ck_assert_msg(out[0] > 0 && out[1] > 0, "the gather's time was not counted (%g, %g)", out[0], out[1]);
    ck_assert(sslk_dist_wait_seconds() == 0.0); /* the ranks' threads counted, not this one */
}
END_TEST

/* ---- loader shards ---------------------------------------------------------
 * Every batch of one loader (views, labels, indices), read to the end. */
typedef struct epoch_rows {
    size_t nb, rows[64];
    float *v[2];
    int32_t lab[256];
    int64_t idx[256];
} epoch_rows;

static void read_epoch(sslk_ctx *c, sslk_dataset *ds, const sslk_augment *a, size_t batch, int r, int P,
                       epoch_rows *out, uint64_t *images) {
    sslk_loader *ld = NULL;
    ck_ok(sslk_loader_create(c, ds, a, batch, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_DROP_LAST, 0));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_WORKERS, 2));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHARD_COUNT, P));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHARD_RANK, r));
    size_t nb = 0, vc, vh, vw;
    ck_ok(sslk_loader_num_batches(ld, &nb));
    ck_ok(sslk_loader_view_shape(ld, 0, &vc, &vh, &vw));
    const size_t per = vc * vh * vw;
    ck_ok(sslk_loader_begin_epoch(ld, 3));
    out->nb = nb;
    size_t off = 0;
    for (size_t b = 0; b < nb; b++) {
        float *views[2] = {out->v[0] + off * per, out->v[1] + off * per};
        ck_ok(sslk_loader_next(ld, views, out->lab + off, out->idx + off, &out->rows[b]));
        off += out->rows[b];
    }
    size_t rows = 99;
    ck_ok(sslk_loader_next(ld, (float *[]){out->v[0], out->v[1]}, NULL, NULL, &rows));
    ck_assert_uint_eq(rows, 0); /* the epoch is over */
    sslk_loader_stats st = {.struct_size = sizeof st};
    ck_ok(sslk_loader_stats_get(ld, &st));
    ck_assert_uint_eq(st.images, off); /* this rank's rows only */
    ck_assert_uint_eq(st.batches, nb);
    *images = st.images;
    sslk_loader_destroy(ld);
}

/* A sharded loader delivers exactly its rows of every global batch (same
 * items, labels, and bit for bit the same augmented views as one loader),
 * the partial last batch included; with fewer rows than ranks a rank gets
 * empty batches but still every batch.  _i: 0 batch 14 on 3 ranks (96 items:
 * 6 x 14 + 12), 1 batch 3 on 4 ranks. */
START_TEST(loader_shard_rows) {
    fill_pixels();
    const size_t batch = _i == 0 ? 14 : 3;
    const int P = _i == 0 ? 3 : 4;
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    sslk_dataset *ds = NULL;
    ck_ok(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &ds));
    sslk_augment *a = NULL;
    ck_ok(sslk_augment_create(c, 2, &a));
    ck_ok(sslk_augment_recipe(a, "simclr")); /* random crops, flips, jitter: per-item draws */
    ck_ok(sslk_augment_set_i64(a, -1, SSLK_AUG_SIZE, 6));
    const size_t per = 6 * 6;
    epoch_rows *all = calloc(1, sizeof *all), *mine = calloc(1, sizeof *mine);
    for (int v = 0; v < 2; v++) {
        all->v[v] = calloc(NIMG * per, sizeof(float));
        mine->v[v] = calloc(NIMG * per, sizeof(float));
    }
    uint64_t images = 0, sum = 0;
    read_epoch(c, ds, a, batch, 0, 1, all, &images);
    ck_assert_uint_eq(images, NIMG);
    for (int r = 0; r < P; r++) {
        read_epoch(c, ds, a, batch, r, P, mine, &images);
        sum += images;
        ck_assert_uint_eq(mine->nb, all->nb);
        size_t g = 0, l = 0; /* row offsets in all / mine */
        for (size_t b = 0; b < all->nb; b++) {
            const size_t n = all->rows[b], lo = n * (size_t)r / (size_t)P, hi = n * (size_t)(r + 1) / (size_t)P;
            ck_assert_uint_eq(mine->rows[b], hi - lo);
            for (size_t k = 0; k < hi - lo; k++) {
                ck_assert_int_eq(mine->idx[l + k], all->idx[g + lo + k]);
                ck_assert_int_eq(mine->lab[l + k], all->lab[g + lo + k]);
            }
            for (int v = 0; v < 2; v++)
                ck_assert_msg(!memcmp(mine->v[v] + l * per, all->v[v] + (g + lo) * per, (hi - lo) * per * sizeof(float)),
                              "rank %d batch %zu view %d: pixels differ from one loader's rows", r, b, v);
            g += n;
            l += hi - lo;
        }
    }
    ck_assert_uint_eq(sum, NIMG); /* the shards partition the epoch */
    if (_i == 1) { /* rank 0 of 4 has floor(3 * 1 / 4) = 0 rows of every batch */
        read_epoch(c, ds, a, batch, 0, P, mine, &images);
        ck_assert_uint_eq(images, 0);
        ck_assert_uint_eq(mine->nb, NIMG / 3);
    }
    /* rank outside the shard count */
    sslk_loader *ld = NULL;
    ck_ok(sslk_loader_create(c, ds, a, batch, &ld));
    ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHARD_RANK, 2));
    ck_status(sslk_loader_begin_epoch(ld, 0), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "shard_rank = 2 must be below shard_count = 1") != NULL);
    sslk_loader_destroy(ld);
    for (int v = 0; v < 2; v++) {
        free(all->v[v]);
        free(mine->v[v]);
    }
    free(all);
    free(mine);
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* A rank decodes only its rows: with item 5 of 12 corrupt (batch 12, no
 * shuffle, 3 ranks of 4 rows), rank 1 fails naming it under the FAIL policy
 * while ranks 0 and 2 never touch it (no failure counted); one unsharded
 * loader fails. */
START_TEST(loader_shard_decodes_own_rows) {
    char dir[] = "/tmp/sslk_shard_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[600];
    uint8_t rgb[8 * 8 * 3];
    for (int i = 0; i < 12; i++) {
        snprintf(path, sizeof path, "%s/%02d.jpg", dir, i);
        if (i == 5) {
            static const char bad[] = "\xff\xd8\xff\xe0 not a jpeg";
            write_bytes(path, bad, sizeof bad - 1);
            continue;
        }
        for (int p = 0; p < 8 * 8 * 3; p++) rgb[p] = (uint8_t)(20 * i + p % 7);
        tjhandle t = tjInitCompress();
        unsigned char *jb = NULL;
        unsigned long jn = 0;
        ck_assert_int_eq(tjCompress2(t, rgb, 8, 0, 8, TJPF_RGB, &jb, &jn, TJSAMP_444, 95, 0), 0);
        write_bytes(path, jb, jn);
        tjFree(jb);
        tjDestroy(t);
    }
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    sslk_dataset *ds = NULL;
    ck_ok(sslk_dataset_open_folder(c, dir, NULL, &ds));
    sslk_augment *a = NULL;
    ck_ok(sslk_augment_create(c, 1, &a));
    ck_ok(sslk_augment_preset(a, -1, SSLK_AUG_PRESET_PLAIN));
    ck_ok(sslk_augment_set_i64(a, 0, SSLK_AUG_SIZE, 8));
    float v[12 * 3 * 64];
    int64_t idx[12];
    for (int P = 1; P <= 3; P += 2)
        for (int r = 0; r < P; r++) {
            sslk_loader *ld = NULL;
            ck_ok(sslk_loader_create(c, ds, a, 12, &ld));
            ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHUFFLE, 0));
            ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHARD_COUNT, P));
            ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_SHARD_RANK, r));
            ck_ok(sslk_loader_begin_epoch(ld, 0));
            size_t rows = 0;
            sslk_status s = sslk_loader_next(ld, (float *[]){v}, NULL, idx, &rows);
            sslk_loader_stats st = {.struct_size = sizeof st};
            ck_ok(sslk_loader_stats_get(ld, &st));
            if (P == 1 || r == 1) {
                ck_assert_int_eq(s, SSLK_E_FORMAT);
                ck_assert(strstr(sslk_last_error(), "05.jpg") != NULL);
            } else {
                ck_ok(s);
                ck_assert_uint_eq(rows, 4);
                ck_assert_int_eq(idx[0], 4 * r);
                ck_assert_uint_eq(st.failures, 0);
            }
            sslk_loader_destroy(ld);
        }
    sslk_augment_destroy(a);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    for (int i = 0; i < 12; i++) {
        snprintf(path, sizeof path, "%s/%02d.jpg", dir, i);
        unlink(path);
    }
    rmdir(dir);
}
END_TEST

/* Each rank of a data-parallel fit loaded only its rows: its loader's
 * count over 5 steps of a batch of 14 on 3 ranks is 5 x (4, 5, 5). */
static void count_rows(sslk_ctx *ctx, int rank, void *user) {
    uint64_t *out = user;
    sslk_dataset *ds = NULL;
    sslk_trainer *tr = NULL;
    sslk_loader *ld = NULL;
    sslk_loader_stats st = {.struct_size = sizeof st};
    sslk_status s = sslk_dataset_from_memory(ctx, px, NIMG, SIDE, SIDE, 1, lab, &ds);
    if (!s) s = sslk_trainer_create(ctx, SSLK_METHOD_VICREG, ds, "flatten,linear:16,bn,relu", "linear:8", &tr);
    if (!s) s = configure(tr, 1);
    if (!s) s = sslk_trainer_fit(tr, 0);
    if (!s) s = sslk_trainer_loader(tr, &ld);
    if (!s) s = sslk_loader_stats_get(ld, &st);
    out[rank] = s ? (uint64_t)-1 : st.images;
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
}

START_TEST(fit_loads_own_rows) {
    fill_pixels();
    uint64_t n[3] = {0, 0, 0};
    ck_ok(sslk_dist_fake_run(3, count_rows, n));
    ck_assert_uint_eq(n[0], 5 * 4);
    ck_assert_uint_eq(n[1], 5 * 5);
    ck_assert_uint_eq(n[2], 5 * 5);
}
END_TEST

/* A table of the first size (before any_thread) is still taken, and reads
 * as any_thread 0 (no overlap); the fake and a full-size table say 1. */
START_TEST(table_old_size) {
    sslk_dist_fake *f = NULL;
    ck_ok(sslk_dist_fake_create(2, &f));
    sslk_dist t;
    memset(&t, 0xab, sizeof t);
    t.struct_size = offsetof(sslk_dist, any_thread);
    ck_ok(sslk_dist_fake_table(f, 1, &t));
    ck_assert_uint_eq(t.struct_size, offsetof(sslk_dist, any_thread)); /* any_thread left alone */
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_dist(c, &t));
    sslk_dist got = {.struct_size = sizeof got};
    ck_ok(sslk_ctx_get_dist(c, &got));
    ck_assert_int_eq(got.any_thread, 0);
    ck_assert_int_eq(got.rank, 1);
    t.struct_size = sizeof t;
    ck_ok(sslk_dist_fake_table(f, 1, &t));
    ck_assert_int_eq(t.any_thread, 1);
    ck_ok(sslk_ctx_set_dist(c, &t));
    ck_ok(sslk_ctx_get_dist(c, &got));
    ck_assert_int_eq(got.any_thread, 1);
    t.struct_size = offsetof(sslk_dist, any_thread) - 1;
    ck_status(sslk_ctx_set_dist(c, &t), SSLK_E_INVALID_ARG);
    sslk_ctx_destroy(c);
    sslk_dist_fake_destroy(f);
}
END_TEST

static Suite *suite(void) {
    Suite *s = suite_create("train_dist");
    TCase *tc = tcase_create("fake");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, ranks_equal_one_process, 0, 10);
    tcase_add_loop_test(tc, unsynced_presets_refuse_ranks, 0, 6);
    tcase_add_test(tc, local_bn_differs);
    tcase_add_loop_test(tc, resume_on_other_rank_count, 0, 3);
    tcase_add_loop_test(tc, overlap_same_bits, 0, 2);
    tcase_add_test(tc, overlap_rank_leaves);
    tcase_add_test(tc, wait_seconds_counts);
    tcase_add_loop_test(tc, loader_shard_rows, 0, 2);
    tcase_add_test(tc, loader_shard_decodes_own_rows);
    tcase_add_test(tc, fit_loads_own_rows);
    tcase_add_test(tc, table_old_size);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tu_run(suite()); }
