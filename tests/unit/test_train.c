/* Trainer: every method lowers its loss on a tiny synthetic dataset; resume
 * equals an uninterrupted run; NaN stop; interrupted checkpoint writes.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "testutil.h"
#include "train/trainer_internal.h"

#define NIMG 96
#define SIDE 8
#define NCLS 4

/* Four classes of 8x8 patterns (bars, blobs) with per-image noise. */
static sslk_dataset *tiny_dataset(sslk_ctx *c) {
    static uint8_t px[NIMG * SIDE * SIDE];
    static int32_t lab[NIMG];
    unsigned s = 12345;
    for (int i = 0; i < NIMG; i++) {
        int k = i % NCLS;
        lab[i] = k;
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                int on = k == 0 ? (y == 2 || y == 5) : k == 1 ? (x == 3 || x == 4)
                         : k == 2 ? (abs(x - 4) + abs(y - 4) < 3) : (x == y || x == SIDE - 1 - y);
                s = s * 1103515245u + 12345u;
                int v = (on ? 200 : 30) + (int)((s >> 16) % 40);
                px[(i * SIDE + y) * SIDE + x] = (uint8_t)v;
            }
    }
    sslk_dataset *ds = NULL;
    ck_ok(sslk_dataset_from_memory(c, px, NIMG, SIDE, SIDE, 1, lab, &ds));
    return ds;
}

static sslk_trainer *tiny_trainer(sslk_ctx *c, sslk_dataset *ds, sslk_method m, int epochs) {
    sslk_trainer *tr = NULL;
    const char *proj = m == SSLK_METHOD_SUPERVISED ? NULL : m == SSLK_METHOD_DIET ? "" : "linear:16,bn,relu,linear:16";
    ck_ok(sslk_trainer_create(c, m, ds, "flatten,linear:32,bn,relu", proj, &tr));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 16));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_EPOCHS, epochs));
    ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_WARMUP_EPOCHS, 0));
    ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_FINAL_LR_RATIO, 1.0));
    ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_LR, 5e-3));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_MONITOR_EVERY, 2));
    ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_AUG_SCALE_MIN, 0.6));
    return tr;
}

static sslk_ctx *mkctx(int threads) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    ck_ok(sslk_ctx_set_threads(c, threads));
    sslk_ctx_set_seed(c, 7);
    return c;
}

/* ---- supervised cross-entropy loss kind ----------------------------------- */

static double xent_value(sslk_loss *l, const float *z, const int64_t *y, size_t n, size_t c, float *g) {
    double v = NAN;
    ck_ok(sslk_loss_compute_indexed(l, z, y, n, c, &v, g));
    return v;
}

/* Hand values: row (1, 2, 3) with label 2 costs log(e + e^2 + e^3) - 3 =
 * log(1 + e^-1 + e^-2) = 0.40760596444; row (0, 0, 0) costs log 3.  With
 * smoothing 0.3 the first row costs lse - 0.7 * 3 - 0.1 * (1 + 2 + 3). */
START_TEST(xent_values_and_errors) {
    sslk_ctx *c = mkctx(1);
    sslk_loss *l = NULL;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_XENT, &l));
    const char *dom = NULL, *tn = NULL;
    ck_ok(sslk_loss_kind_domain(SSLK_LOSS_XENT, &dom));
    ck_assert_str_eq(dom, "xent");
    ck_ok(sslk_loss_term_name(l, 0, &tn));
    ck_assert_str_eq(tn, "cross_entropy");
    const float z[6] = {1, 2, 3, 0, 0, 0};
    const int64_t y[2] = {2, 0};
    float g[6];
    const double r0 = log(1 + exp(-1.0) + exp(-2.0)), r1 = log(3.0);
    ck_close(xent_value(l, z, y, 2, 3, g), (r0 + r1) / 2, 1e-12, 0);
    /* gradient: (softmax - onehot) / n */
    const double se = exp(1.0) + exp(2.0) + exp(3.0);
    ck_close(g[0], exp(1.0) / se / 2, 1e-6, 0);
    ck_close(g[2], (exp(3.0) / se - 1) / 2, 1e-6, 0);
    ck_close(g[3], (1.0 / 3 - 1) / 2, 1e-6, 0);
    ck_close(g[4], 1.0 / 6, 1e-6, 0);
    double tv = 0;
    ck_ok(sslk_loss_term_value(l, 0, &tv));
    ck_close(tv, (r0 + r1) / 2, 1e-12, 0);
    ck_ok(sslk_loss_set_f64(l, SSLK_XENT_LABEL_SMOOTHING, 0.3));
    const double lse0 = 3 + r0;
    ck_close(xent_value(l, z, y, 1, 3, NULL), lse0 - 0.7 * 3 - 0.1 * 6, 1e-12, 0);
    ck_status(sslk_loss_set_f64(l, SSLK_XENT_LABEL_SMOOTHING, 1.5), SSLK_E_SETTING);
    /* errors name the argument */
    const int64_t bad[2] = {2, 3};
    ck_status(sslk_loss_compute_indexed(l, z, bad, 2, 3, NULL, NULL), SSLK_E_RANGE);
    ck_assert_msg(strstr(sslk_last_error(), "indices[1]") != NULL, "%s", sslk_last_error());
    ck_status(sslk_loss_compute_pair(l, z, z, 2, 3, NULL, NULL, NULL), SSLK_E_SHAPE);
    const float *views[1] = {z};
    sslk_loss_batch b = {sizeof b, views, 1, 2, 3, NULL, NULL};
    ck_status(sslk_loss_compute(l, &b, NULL, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_loss_compute_indexed(l, z, y, 6, 1, NULL, NULL), SSLK_E_SHAPE);
    sslk_loss_destroy(l);
    sslk_ctx_destroy(c);
}
END_TEST

/* Central finite differences of the value (double sums of float inputs)
 * against the analytic gradient, with and without label smoothing. */
START_TEST(xent_gradient_matches_finite_differences) {
    sslk_ctx *c = mkctx(1);
    sslk_loss *l = NULL;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_XENT, &l));
    enum { N = 5, C = 4 };
    float z[N * C], g[N * C];
    int64_t y[N];
    unsigned r = 7;
    for (int i = 0; i < N * C; i++) {
        r = r * 1103515245u + 12345u;
        z[i] = (float)((int)((r >> 16) % 2001) - 1000) / 400.0f;
    }
    for (int i = 0; i < N; i++) y[i] = (i * 3) % C;
    for (int smooth = 0; smooth < 2; smooth++) {
        ck_ok(sslk_loss_set_f64(l, SSLK_XENT_LABEL_SMOOTHING, smooth ? 0.2 : 0.0));
        xent_value(l, z, y, N, C, g);
        for (int e = 0; e < N * C; e++) {
            const float keep = z[e], h = 1.0f / 64; /* exact in float */
            z[e] = keep + h;
            double up = xent_value(l, z, y, N, C, NULL);
            z[e] = keep - h;
            double dn = xent_value(l, z, y, N, C, NULL);
            z[e] = keep;
            ck_close(g[e], (up - dn) / (2.0 * h), 2e-4, 2e-6);
        }
    }
    sslk_loss_destroy(l);
    sslk_ctx_destroy(c);
}
END_TEST

/* The method table drives the presets; SUPERVISED trains through the
 * cross-entropy kind (internal) and keeps reporting no loss publicly. */
START_TEST(method_table_rows) {
    ck_assert_ptr_null(ssli_method_get((sslk_method)0));
    ck_assert_ptr_null(ssli_method_get((sslk_method)16)); /* 9-13 (15 with DINO, SwAV): issue 21 */
    for (int m = 1; m <= 15; m++) {
        const ssli_method_def *d = ssli_method_get((sslk_method)m);
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(d->name, sslk_method_name((sslk_method)m));
        ck_assert(d->nviews == 1 || d->nviews == 2 || (m >= 14 && d->nviews == 4)); /* dino, swav: multi-crop */
        ck_assert(d->lr > 0);
    }
    ck_assert_int_eq(ssli_method_get(SSLK_METHOD_SUPERVISED)->loss, SSLK_LOSS_XENT);
    ck_assert(ssli_method_get(SSLK_METHOD_PMSN)->ema_target);
    ck_assert_int_eq(ssli_method_get(SSLK_METHOD_PMSN)->msn_prior, SSLK_MSN_PRIOR_POWER_LAW);
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_SUPERVISED, 1);
    sslk_loss *l = (sslk_loss *)1;
    ck_ok(sslk_trainer_loss(tr, &l));
    ck_assert_ptr_null(l); /* 1.x contract */
    sslk_loss_kind k = 0;
    ck_ok(sslk_loss_get_kind(tr->loss, &k));
    ck_assert_int_eq(k, SSLK_LOSS_XENT);
    ck_assert_uint_eq(tr->nviews, 1);
    ck_ok(sslk_trainer_fit(tr, 0));
    sslk_train_progress h = {.struct_size = sizeof h};
    ck_ok(sslk_trainer_history(tr, 0, &h));
    ck_assert_uint_eq(h.num_terms, 1);
    ck_assert_str_eq(h.term_names[0], "cross_entropy");
    ck_close(h.terms[0], h.loss, 1e-12, 0);
    /* a random 4-class head starts near log 4 */
    ck_assert_msg(h.loss > 0.5 && h.loss < 3.0, "first-epoch loss %g", h.loss);
    sslk_trainer_destroy(tr);
    /* issue 21: BYOL's momentum 1 - (1 - 0.99)(cos(pi k / K) + 1) / 2; MSN's stays constant */
    tr = tiny_trainer(c, ds, SSLK_METHOD_BYOL, 1);
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_EMA_END, &(double){0}));
    ck_close(ssli_train_ema_at(tr, 0, 100), 0.99, 1e-15, 0);
    ck_close(ssli_train_ema_at(tr, 50, 100), 0.995, 1e-15, 0);
    ck_close(ssli_train_ema_at(tr, 25, 100), 1 - 0.01 * (cos(M_PI / 4) + 1) / 2, 1e-15, 0);
    ck_close(ssli_train_ema_at(tr, 100, 100), 1.0, 1e-15, 0);
    ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_EMA_END, -1)); /* constant */
    ck_close(ssli_train_ema_at(tr, 50, 100), 0.99, 0, 0);
    ck_assert_ptr_nonnull(tr->pred);
    ck_assert_ptr_null(tr->queue);
    sslk_trainer_destroy(tr);
    tr = tiny_trainer(c, ds, SSLK_METHOD_MSN, 1);
    ck_close(ssli_train_ema_at(tr, 50, 100), 0.99, 0, 0);
    ck_assert_ptr_null(tr->pred);
    sslk_trainer_destroy(tr);
    tr = tiny_trainer(c, ds, SSLK_METHOD_MOCO_V2, 1);
    ck_assert_ptr_nonnull(tr->queue);
    ck_assert_ptr_null(tr->pred);
    ck_ok(sslk_loss_get_kind(tr->loss, &k));
    ck_assert_int_eq(k, SSLK_LOSS_MOCO);
    int64_t ver = 0;
    double temp = 0;
    ck_ok(sslk_loss_get_i64(tr->loss, SSLK_MOCO_VERSION, &ver));
    ck_ok(sslk_loss_get_f64(tr->loss, SSLK_MOCO_TEMPERATURE, &temp));
    ck_assert_int_eq(ver, 2);
    ck_close(temp, 0.2, 0, 0);
    sslk_method back = 0;
    ck_ok(sslk_method_from_name("moco_v3", &back));
    ck_assert_int_eq(back, SSLK_METHOD_MOCO_V3);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

static void encoder_params(sslk_trainer *tr, float *buf, size_t cap, size_t *n) {
    sslk_model *enc = NULL;
    ck_ok(sslk_trainer_encoder(tr, &enc));
    size_t cnt = 0, off = 0;
    ck_ok(sslk_model_param_count(enc, &cnt));
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(enc, i, &v));
        ck_assert_uint_le(off + v.count, cap);
        memcpy(buf + off, v.data, v.count * sizeof(float));
        off += v.count;
    }
    *n = off;
}

/* One epoch of vicreg; way 0: trainer keys; 1: the borrowed loader / recipe;
 * 2: the defaults.  Returns the encoder parameters. */
static size_t borrowed_run(int way, float *out) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_VICREG, 1);
    if (way == 0) {
        ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_AUG_SEED, 77));
        ck_ok(sslk_trainer_set_f64(tr, SSLK_TRAIN_AUG_FLIP_P, 0.0));
    } else if (way == 1) {
        sslk_augment *a = NULL;
        sslk_loader *ld = NULL;
        ck_ok(sslk_trainer_augment(tr, &a));
        ck_ok(sslk_augment_set_f64(a, -1, SSLK_AUG_FLIP_P, 0.0));
        ck_ok(sslk_trainer_loader(tr, &ld));
        int64_t v = 0;
        ck_ok(sslk_loader_get_i64(ld, SSLK_LOADER_AUG_SEED, &v));
        ck_assert_int_eq(v, -1);
        ck_ok(sslk_loader_set_i64(ld, SSLK_LOADER_AUG_SEED, 5));
        ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_AUG_SEED, 77)); /* the alias forwards */
        ck_ok(sslk_loader_get_i64(ld, SSLK_LOADER_AUG_SEED, &v));
        ck_assert_int_eq(v, 77);
        sslk_loader *again = NULL;
        ck_ok(sslk_trainer_loader(tr, &again));
        ck_assert_ptr_eq(again, ld);
    }
    ck_ok(sslk_trainer_fit(tr, 0));
    size_t n = 0;
    encoder_params(tr, out, 65536, &n);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
    return n;
}

START_TEST(borrowed_loader_and_augment) {
    static float a[65536], b[65536], d[65536];
    size_t na = borrowed_run(0, a), nb = borrowed_run(1, b), nd = borrowed_run(2, d);
    ck_assert_uint_eq(na, nb);
    ck_assert_uint_eq(na, nd);
    ck_assert_msg(memcmp(a, b, na * sizeof(float)) == 0, "borrowed handles train differently from the trainer keys");
    ck_assert_msg(memcmp(a, d, na * sizeof(float)) != 0, "the settings had no effect");
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_VICREG, 1);
    sslk_loader *ld = NULL;
    ck_status(sslk_trainer_loader(NULL, &ld), SSLK_E_INVALID_ARG);
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, NIMG));
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, 32)); /* batch now exceeds the data */
    ck_status(sslk_trainer_loader(tr, &ld), SSLK_E_SHAPE);
    ck_assert_ptr_null(ld);
    ck_status(sslk_trainer_augment(tr, NULL), SSLK_E_INVALID_ARG);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* Named datasets carry their normalisation and class names; others do not. */
START_TEST(dataset_knows_its_stats_and_names) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    double mean = 0, std = 0;
    const char *name = "x";
    ck_status(sslk_dataset_mean_std(ds, &mean, &std), SSLK_E_NOT_FOUND);
    ck_status(sslk_dataset_class_name(ds, 0, &name), SSLK_E_NOT_FOUND);
    ck_assert_ptr_null(name);
    double v = 0;
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_VICREG, 1);
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_NORM_MEAN, &v)); /* the table's */
    ck_close(v, 0.286, 0, 0);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_dataset *fm = NULL;
    if (sslk_dataset_open(c, "fashion-mnist", SSLK_SPLIT_TEST, &fm) == SSLK_OK) {
        ck_ok(sslk_dataset_mean_std(fm, &mean, &std));
        ck_close(mean, 0.286, 0, 0);
        ck_close(std, 0.353, 0, 0);
        ck_ok(sslk_dataset_class_name(fm, 0, &name));
        ck_assert_str_eq(name, "T-shirt/top");
        ck_ok(sslk_dataset_class_name(fm, 9, &name));
        ck_assert_str_eq(name, "Ankle boot");
        ck_status(sslk_dataset_class_name(fm, 10, &name), SSLK_E_RANGE);
        size_t idx[3] = {5, 1, 9};
        sslk_dataset *sub = NULL;
        ck_ok(sslk_dataset_subset(fm, idx, 3, &sub));
        ck_ok(sslk_dataset_class_name(sub, 1, &name)); /* inherited */
        ck_assert_str_eq(name, "Trouser");
        sslk_dataset_destroy(sub);
        sslk_dataset_destroy(fm);
    }
    sslk_ctx_destroy(c);
}
END_TEST

/* Mean loss of the first two epochs vs the last two, for every method. */
START_TEST(each_method_lowers_its_loss) {
    sslk_method m = (sslk_method)(_i + 1);
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = tiny_trainer(c, ds, m, 12);
    if (m == SSLK_METHOD_MSN || m == SSLK_METHOD_PMSN) {
        ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_PROTOTYPES, 32));
        sslk_loss *l = NULL;
        int64_t k = 0;
        ck_ok(sslk_trainer_loss(tr, &l));
        ck_ok(sslk_loss_get_i64(l, SSLK_MSN_NUM_PROTOTYPES, &k));
        ck_assert_int_eq(k, 32);
    }
    if (m == SSLK_METHOD_MOCO_V2) ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_QUEUE, 32)); /* filled by real keys */
    ck_ok(sslk_trainer_fit(tr, 0));
    uint64_t done = 0;
    ck_ok(sslk_trainer_epochs_done(tr, &done));
    ck_assert_uint_eq(done, 12);
    sslk_train_progress h[12];
    for (int e = 0; e < 12; e++) {
        h[e].struct_size = sizeof h[e];
        ck_ok(sslk_trainer_history(tr, (uint64_t)e, &h[e]));
        ck_assert(isfinite(h[e].loss));
        ck_assert_uint_eq(h[e].steps_per_epoch, NIMG / 16);
        ck_assert(h[e].rankme >= 1.0 && h[e].rankme <= 32.0);
        ck_assert(h[e].embed_std > 0 && h[e].embed_std < 1);
    }
    double first = (h[0].loss + h[1].loss) / 2, last = (h[10].loss + h[11].loss) / 2;
    ck_assert_msg(last < first, "%s: loss %g -> %g", sslk_method_name(m), first, last);
    ck_assert_uint_eq(h[11].global_step, 12 * (NIMG / 16));
    if (m >= SSLK_METHOD_BARLOW_TWINS) {
        /* the collapse test (issue 21): RankMe of the embeddings of all 96 images stays well above the
         * 1 of a collapsed encoder (BYOL and SimSiam have no negatives: only the predictor and the
         * stop-gradient keep them apart) */
        static float z[NIMG * 32];
        size_t de = 0;
        double rank = 0;
        ck_ok(sslk_trainer_embed_dim(tr, &de));
        ck_assert_uint_eq(de, 32);
        ck_ok(sslk_trainer_embed(tr, ds, z, NIMG, de, NULL));
        ck_ok(sslk_rankme(c, z, NIMG, de, &rank));
        ck_assert_msg(rank > 4, "%s: embedding RankMe %g (collapsed)", sslk_method_name(m), rank); /* measured 9-10 */
    }
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

static void params_of(sslk_trainer *tr, float *buf, size_t cap, size_t *n) {
    sslk_model *enc = NULL;
    ck_ok(sslk_trainer_encoder(tr, &enc));
    size_t cnt = 0, off = 0;
    ck_ok(sslk_model_param_count(enc, &cnt));
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_model_param(enc, i, &v));
        ck_assert_uint_le(off + v.count, cap);
        memcpy(buf + off, v.data, v.count * sizeof(float));
        off += v.count;
    }
    sslk_loss *l = NULL; /* the DIET head too */
    ck_ok(sslk_trainer_loss(tr, &l));
    if (l) ck_ok(sslk_loss_param_count(l, &cnt));
    for (size_t i = 0; l && i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        ck_ok(sslk_loss_param(l, i, &v));
        ck_assert_uint_le(off + v.count, cap);
        memcpy(buf + off, v.data, v.count * sizeof(float));
        off += v.count;
    }
    *n = off;
}

static void tmpdir(char *dir) {
    strcpy(dir, "/tmp/sslk_train_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void rmtree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            remove(p);
        }
    closedir(d);
    rmdir(dir);
}

static sslk_trainer *resume_trainer(sslk_ctx *c, sslk_dataset *ds, sslk_method m) {
    sslk_trainer *tr = tiny_trainer(c, ds, m, 3);
    if (m == SSLK_METHOD_DIET) ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, 48));
    if (m == SSLK_METHOD_SUPERVISED) /* a non-default loss setting travels in the checkpoint */
        ck_ok(sslk_loss_set_f64(tr->loss, SSLK_XENT_LABEL_SMOOTHING, 0.1));
    return tr;
}

/* Two epochs straight vs two epochs, checkpoint, reload, one more epoch: the
 * encoder (and DIET head) parameters are bitwise equal (vicreg; msn exercises
 * the EMA target; diet a training subset and a loss-owned head; supervised
 * the cross-entropy kind with a loss setting restored from the file). */
START_TEST(resume_equals_uninterrupted) {
    /* issue 21: byol (predictor, cosine EMA), moco_v2 (queue), simsiam, moco_v3 */
    static const sslk_method ms[] = {SSLK_METHOD_VICREG, SSLK_METHOD_MSN, SSLK_METHOD_DIET, SSLK_METHOD_SUPERVISED,
                                     SSLK_METHOD_BYOL, SSLK_METHOD_MOCO_V2, SSLK_METHOD_SIMSIAM, SSLK_METHOD_MOCO_V3,
                                     SSLK_METHOD_DINO, SSLK_METHOD_SWAV}; /* dino: the centre; swav: prototypes */
    sslk_method m = ms[_i];
    int threads = 1 + (_i == 1);
    sslk_ctx *c = mkctx(threads);
    sslk_dataset *ds = tiny_dataset(c);
    static float a[65536], b[65536];
    size_t na = 0, nb = 0;
    sslk_trainer *tr = resume_trainer(c, ds, m);
    ck_ok(sslk_trainer_fit(tr, 0));
    params_of(tr, a, 65536, &na);
    sslk_trainer_destroy(tr);

    char dir[64];
    tmpdir(dir);
    tr = resume_trainer(c, ds, m);
    ck_ok(sslk_trainer_set_checkpoint_dir(tr, dir));
    ck_ok(sslk_trainer_fit(tr, 2));
    sslk_trainer_destroy(tr);
    char path[128];
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", dir);
    ck_ok(sslk_trainer_load(c, path, ds, &tr));
    uint64_t done = 0;
    ck_ok(sslk_trainer_epochs_done(tr, &done));
    ck_assert_uint_eq(done, 2);
    if (m == SSLK_METHOD_SUPERVISED) {
        double ls = 0;
        ck_ok(sslk_loss_get_f64(tr->loss, SSLK_XENT_LABEL_SMOOTHING, &ls));
        ck_close(ls, 0.1, 0, 0);
    }
    ck_ok(sslk_trainer_fit(tr, 0));
    params_of(tr, b, 65536, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na * sizeof(float)) == 0, "resumed parameters differ");
    sslk_train_progress h = {.struct_size = sizeof h};
    ck_ok(sslk_trainer_history(tr, 0, &h)); /* history survived the reload */
    ck_assert(isfinite(h.loss));
    sslk_trainer_destroy(tr);
    rmtree(dir);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* A diverged network stops training with SSLK_E_NUMERIC; the checkpoint on
 * disk still holds the last good epoch. */
START_TEST(nan_loss_stops_and_keeps_checkpoint) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    char dir[64], path[128];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", dir);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_VICREG, 4);
    ck_ok(sslk_trainer_set_checkpoint_dir(tr, dir));
    ck_ok(sslk_trainer_fit(tr, 1));
    static float good[65536];
    size_t ng = 0;
    params_of(tr, good, 65536, &ng);
    /* simulate divergence: an infinite weight */
    sslk_model *enc = NULL;
    ck_ok(sslk_trainer_encoder(tr, &enc));
    sslk_param_view v = {.struct_size = sizeof v};
    ck_ok(sslk_model_param(enc, 0, &v));
    v.data[0] = INFINITY;
    sslk_status st = sslk_trainer_fit(tr, 0);
    ck_assert_int_eq(st, SSLK_E_NUMERIC);
    ck_assert(strstr(sslk_last_error(), "non-finite") != NULL);
    ck_assert(strstr(sslk_last_error(), "epoch 1") != NULL);
    ck_status(sslk_trainer_save(tr, path), SSLK_E_STATE); /* no half-epoch saves */
    sslk_trainer_destroy(tr);
    ck_ok(sslk_trainer_load(c, path, ds, &tr));
    static float back[65536];
    size_t nbk = 0;
    params_of(tr, back, 65536, &nbk);
    ck_assert_uint_eq(ng, nbk);
    ck_assert(memcmp(good, back, ng * sizeof(float)) == 0);
    sslk_trainer_destroy(tr);
    rmtree(dir);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* A write interrupted part-way leaves the previous checkpoint loadable, no
 * temp file behind; a truncated or flipped file is refused. */
START_TEST(interrupted_checkpoint_keeps_previous) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    char dir[64], path[128];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", dir);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_DIET, 3);
    ck_ok(sslk_trainer_fit(tr, 1));
    ck_ok(sslk_trainer_save(tr, path));
    ck_ok(sslk_trainer_fit(tr, 2));
    ssli_train_fail_after_bytes = 300;
    ck_status(sslk_trainer_save(tr, path), SSLK_E_IO);
    ssli_train_fail_after_bytes = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') files++;
    closedir(d);
    ck_assert_int_eq(files, 1);
    sslk_trainer *back = NULL;
    ck_ok(sslk_trainer_load(c, path, ds, &back));
    uint64_t done = 0;
    ck_ok(sslk_trainer_epochs_done(back, &done));
    ck_assert_uint_eq(done, 1);
    sslk_trainer_destroy(back);
    /* corrupt copies */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)sz);
    ck_assert_uint_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)sz / 2, f);
    fclose(f);
    ck_status(sslk_trainer_load(c, path, ds, &back), SSLK_E_FORMAT);
    buf[sz / 3] ^= 0x40;
    f = fopen(path, "wb");
    fwrite(buf, 1, (size_t)sz, f);
    fclose(f);
    ck_status(sslk_trainer_load(c, path, ds, &back), SSLK_E_FORMAT);
    free(buf);
    sslk_trainer_destroy(tr);
    rmtree(dir);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* Index in ds of the image equal to item i of sub (pixels compared). */
static size_t parent_index(sslk_dataset *ds, sslk_dataset *sub, size_t i) {
    uint8_t a[SIDE * SIDE], b[SIDE * SIDE];
    ck_ok(sslk_dataset_read(sub, i, a, sizeof a, NULL, NULL, NULL));
    for (size_t j = 0; j < NIMG; j++) {
        ck_ok(sslk_dataset_read(ds, j, b, sizeof b, NULL, NULL, NULL));
        if (memcmp(a, b, sizeof a) == 0) return j;
    }
    ck_abort_msg("subset item %zu is no item of the dataset", i);
    return 0;
}

/* DIET's preset (4096-item subset, 60 epochs) and the subset setting: m
 * distinct items in ascending order, a head of m rows, the same draw for the
 * same init_seed, another for another seed, frozen once training started. */
START_TEST(subset_and_diet_preset) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = NULL, *t2 = NULL;
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_DIET, ds, "flatten,linear:8", "", &tr));
    double v = 0;
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_SUBSET, &v));
    ck_assert_double_eq(v, 4096);
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_EPOCHS, &v));
    ck_assert_double_eq(v, 60);
    sslk_loss *l = NULL;
    int64_t rows = 0;
    ck_ok(sslk_trainer_loss(tr, &l));
    ck_ok(sslk_loss_get_i64(l, SSLK_DIET_NUM_SAMPLES, &rows));
    ck_assert_int_eq(rows, NIMG); /* 4096 > 96 items: all of them */
    ck_assert_ptr_null(tr->sub);
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, 1), SSLK_E_SHAPE);
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, 40));
    ck_ok(sslk_trainer_loss(tr, &l));
    ck_ok(sslk_loss_get_i64(l, SSLK_DIET_NUM_SAMPLES, &rows));
    ck_assert_int_eq(rows, 40);
    size_t n = 0, prev = 0, first[40];
    ck_ok(sslk_dataset_count(tr->sub, &n));
    ck_assert_uint_eq(n, 40);
    for (size_t i = 0; i < n; i++) {
        first[i] = parent_index(ds, tr->sub, i);
        if (i) ck_assert_uint_gt(first[i], prev);
        prev = first[i];
    }
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_DIET, ds, "flatten,linear:8", "", &t2));
    ck_ok(sslk_trainer_set_i64(t2, SSLK_TRAIN_SUBSET, 40));
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += parent_index(ds, t2->sub, i) == first[i];
    ck_assert_uint_eq(same, 40);
    ck_ok(sslk_trainer_set_i64(t2, SSLK_TRAIN_INIT_SEED, 1));
    same = 0;
    for (size_t i = 0; i < n; i++) same += parent_index(ds, t2->sub, i) == first[i];
    ck_assert_uint_lt(same, 40);
    sslk_trainer_destroy(t2);
    /* an epoch is a pass over the subset */
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 16));
    ck_ok(sslk_trainer_fit(tr, 1));
    sslk_train_progress h = {.struct_size = sizeof h};
    ck_ok(sslk_trainer_history(tr, 0, &h));
    ck_assert_uint_eq(h.steps_per_epoch, 2);
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_SUBSET, 0), SSLK_E_STATE);
    sslk_trainer_destroy(tr);
    /* other methods train on everything by default */
    ck_ok(sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, "flatten,linear:8", NULL, &tr));
    ck_ok(sslk_trainer_get_f64(tr, SSLK_TRAIN_SUBSET, &v));
    ck_assert_double_eq(v, 0);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(embed_and_errors) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    sslk_trainer *tr = NULL;
    ck_status(sslk_trainer_create(c, (sslk_method)99, ds, NULL, NULL, &tr), SSLK_E_INVALID_ARG);
    ck_status(sslk_trainer_create(c, SSLK_METHOD_VICREG, ds, "linear:x", NULL, &tr), SSLK_E_INVALID_ARG);
    sslk_method m;
    ck_ok(sslk_method_from_name("pmsn", &m));
    ck_assert_int_eq(m, SSLK_METHOD_PMSN);
    ck_status(sslk_method_from_name("no_such_method", &m), SSLK_E_NOT_FOUND);
    tr = tiny_trainer(c, ds, SSLK_METHOD_SUPERVISED, 1);
    ck_status(sslk_trainer_set_f64(tr, SSLK_TRAIN_LR, -1), SSLK_E_SETTING);
    ck_status(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 1000), SSLK_OK);
    ck_status(sslk_trainer_fit(tr, 0), SSLK_E_SHAPE); /* batch larger than the dataset */
    ck_ok(sslk_trainer_set_i64(tr, SSLK_TRAIN_BATCH, 16));
    size_t d = 0;
    ck_ok(sslk_trainer_embed_dim(tr, &d));
    ck_assert_uint_eq(d, 32);
    static float z[NIMG * 32], z2[NIMG * 32];
    int32_t lab[NIMG];
    ck_status(sslk_trainer_embed(tr, ds, z, NIMG, 31, lab), SSLK_E_SHAPE);
    ck_ok(sslk_trainer_embed(tr, ds, z, NIMG, 32, lab));
    for (int i = 0; i < NIMG; i++) ck_assert_int_eq(lab[i], i % NCLS);
    /* eval mode: embedding twice gives the same values */
    ck_ok(sslk_trainer_embed(tr, ds, z2, NIMG, 32, NULL));
    ck_assert(memcmp(z, z2, sizeof z) == 0);
    /* the embedding matches the encoder run by hand on the normalised images */
    sslk_model *enc = NULL;
    ck_ok(sslk_trainer_encoder(tr, &enc));
    float x[SIDE * SIDE], h[32];
    uint8_t img[SIDE * SIDE];
    size_t hh, ww, cc;
    ck_ok(sslk_dataset_read(ds, 5, img, sizeof img, &hh, &ww, &cc));
    for (int i = 0; i < SIDE * SIDE; i++) x[i] = (float)((img[i] / 255.0 - 0.286) / 0.353);
    ck_ok(sslk_model_forward(enc, x, 1, h, SSLK_MODE_EVAL));
    for (int j = 0; j < 32; j++) ck_close(z[5 * 32 + j], h[j], 1e-4, 1e-5);
    sslk_trainer_destroy(tr);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

/* Rewrite a checkpoint's CRC after a patch and try to load it. */
static void load_patched(sslk_ctx *c, const char *path, unsigned char *buf, size_t n, sslk_dataset *ds,
                         sslk_status want, const char *msg) {
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    FILE *f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    sslk_trainer *back = NULL;
    ck_status(sslk_trainer_load(c, path, ds, &back), want);
    ck_assert_ptr_null(back);
    ck_assert_msg(strstr(sslk_last_error(), msg), "%s", sslk_last_error());
}

/* Issue 12: a checkpoint with a valid CRC but a NaN / Inf tensor or a
 * negative batch-norm running variance is refused, naming the tensor. */
START_TEST(checkpoint_tensor_values_checked) {
    sslk_ctx *c = mkctx(1);
    sslk_dataset *ds = tiny_dataset(c);
    char dir[64], path[128];
    tmpdir(dir);
    snprintf(path, sizeof path, "%s/checkpoint.sslkt", dir);
    sslk_trainer *tr = tiny_trainer(c, ds, SSLK_METHOD_SUPERVISED, 1);
    ck_ok(sslk_trainer_fit(tr, 1));
    sslk_model *enc = NULL;
    ck_ok(sslk_trainer_encoder(tr, &enc));
    float var[32]; /* a recognisable running variance: "flatten,linear:32,bn,relu" -> tensor 2.running_var */
    for (int i = 0; i < 32; i++) var[i] = 1000.0f + (float)i;
    ck_ok(sslk_model_set_param(enc, "2.running_var", var, 32));
    ck_ok(sslk_trainer_save(tr, path));
    sslk_trainer_destroy(tr);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n);
    ck_assert_uint_eq(fread(buf, 1, n, f), n);
    fclose(f);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i + sizeof var <= n && at == SIZE_MAX; i++)
        if (!memcmp(buf + i, var, sizeof var)) at = i;
    ck_assert_uint_ne(at, SIZE_MAX);
    const float neg = -1.0f, nan = NAN, inf = INFINITY;
    memcpy(buf + at + 4 * 7, &neg, 4);
    load_patched(c, path, buf, n, ds, SSLK_E_FORMAT, "'2.running_var'");
    memcpy(buf + at + 4 * 7, &nan, 4);
    load_patched(c, path, buf, n, ds, SSLK_E_NONFINITE, "'2.running_var'");
    memcpy(buf + at + 4 * 7, var + 7, 4);
    /* the tensor before it (u64 count between): the last running mean */
    memcpy(buf + at - 12, &inf, 4);
    load_patched(c, path, buf, n, ds, SSLK_E_NONFINITE, "'2.running_mean'");
    /* a finite value there loads */
    const float zero = 0.0f;
    memcpy(buf + at - 12, &zero, 4);
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(n - 4));
    memcpy(buf + n - 4, &crc, 4);
    f = fopen(path, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    fclose(f);
    ck_ok(sslk_trainer_load(c, path, ds, &tr));
    sslk_trainer_destroy(tr);
    free(buf);
    rmtree(dir);
    sslk_dataset_destroy(ds);
    sslk_ctx_destroy(c);
}
END_TEST

int main(void) {
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, each_method_lowers_its_loss, 0, 15); /* 9-15: issue 21 */
    tcase_add_loop_test(tc, resume_equals_uninterrupted, 0, 10);
    tcase_add_test(tc, subset_and_diet_preset);
    tcase_add_test(tc, nan_loss_stops_and_keeps_checkpoint);
    tcase_add_test(tc, interrupted_checkpoint_keeps_previous);
    tcase_add_test(tc, checkpoint_tensor_values_checked);
    tcase_add_test(tc, embed_and_errors);
    tcase_add_test(tc, xent_values_and_errors);
    tcase_add_test(tc, xent_gradient_matches_finite_differences);
    tcase_add_test(tc, method_table_rows);
    tcase_add_test(tc, borrowed_loader_and_augment);
    tcase_add_test(tc, dataset_knows_its_stats_and_names);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
