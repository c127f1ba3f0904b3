/* The training loop: load -> augment -> forward -> loss -> backward ->
 * optimizer step (warm-up + cosine) -> EMA target -> collapse monitor ->
 * callbacks -> checkpoint at epoch ends.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/affinity.h"
#include "data/data_internal.h"
#include "sslkit/metrics.h"
#include "train/trainer_dist.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The loader over the training data, built from the trainer's recipe and
 * settings (it copies the recipe: edits of tr->aug apply at the next build). */
sslk_status ssli_train_make_loader(sslk_trainer *tr) {
    if (tr->ld) return SSLK_OK;
    size_t B = (size_t)ssli_train_get(tr, SSLK_TRAIN_BATCH);
    if (B > tr->n)
        return ssli_err(SSLK_E_SHAPE, "sslk_trainer_fit: batch %zu is larger than the dataset (%zu items)", B, tr->n);
    if (!tr->aug) SSLI_TRY(ssli_train_make_augment(tr, false, &tr->aug));
    SSLI_TRY(sslk_loader_create(tr->ctx, ssli_train_data(tr), tr->aug, B, &tr->ld));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_SEED, (int64_t)ssli_train_get(tr, SSLK_TRAIN_SEED)));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_AUG_SEED, (int64_t)ssli_train_get(tr, SSLK_TRAIN_AUG_SEED)));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_WORKERS, (int64_t)ssli_train_get(tr, SSLK_TRAIN_WORKERS)));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_DROP_LAST, 1));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_SHUFFLE, 1));
    SSLI_TRY(sslk_loader_set_i64(tr->ld, SSLK_LOADER_ON_CORRUPT, (int64_t)ssli_train_get(tr, SSLK_TRAIN_ON_CORRUPT)));
    size_t c, h, w;
    SSLI_TRY(sslk_loader_view_shape(tr->ld, 0, &c, &h, &w));
    if (c != tr->in_c || h != tr->in_s || w != tr->in_s)
        return ssli_err(SSLK_E_INTERNAL, "sslk_trainer_fit: loader views are %zux%zux%zu, encoder expects %zux%zux%zu",
                        c, h, w, tr->in_c, tr->in_s, tr->in_s);
    tr->ld_batch = B;
    return SSLK_OK;
}

static sslk_status prepare(sslk_trainer *tr) {
    SSLI_TRY(ssli_train_make_loader(tr));
    if (tr->x) return SSLK_OK;
    const sslk_ctx *ctx = tr->ctx;
    const size_t B = tr->ld_batch, chw = tr->in_c * tr->in_s * tr->in_s, nv = tr->nviews;
    tr->x = ssli_malloc(ctx, nv * B, chw * sizeof(float));
    tr->h = ssli_malloc(ctx, nv * B, tr->de * sizeof(float));
    tr->gh = ssli_malloc(ctx, nv * B, tr->de * sizeof(float));
    tr->z = ssli_malloc(ctx, nv * B, tr->dz * sizeof(float));
    tr->gz = ssli_malloc(ctx, nv * B, tr->dz * sizeof(float));
    tr->tz = ssli_malloc(ctx, nv * B, tr->dz * sizeof(float)); /* EMA targets of every view (BYOL, MoCo v3) */
    if (tr->pred) {
        tr->p = ssli_malloc(ctx, nv * B, tr->dz * sizeof(float));
        tr->gp = ssli_malloc(ctx, nv * B, tr->dz * sizeof(float));
        if (!tr->p || !tr->gp) return ssli_alloc_status();
    }
    tr->labels = ssli_malloc(ctx, B, sizeof(int32_t));
    tr->indices = ssli_malloc(ctx, B, sizeof(int64_t));
    tr->ylab = ssli_malloc(ctx, B, sizeof(int64_t));
    if (!tr->x || !tr->h || !tr->gh || !tr->z || !tr->gz || !tr->tz || !tr->labels || !tr->indices || !tr->ylab)
        return ssli_alloc_status();
    return SSLK_OK;
}

/* target = m * target + (1 - m) * online, every tensor (buffers included). */
static sslk_status ema_update(sslk_model *target, sslk_model *online, double m) {
    size_t cnt = 0;
    SSLI_TRY(sslk_model_param_count(online, &cnt));
    const float a = (float)m, b = (float)(1.0 - m);
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view vo = {.struct_size = sizeof vo}, vt = {.struct_size = sizeof vt};
        SSLI_TRY(sslk_model_param(online, i, &vo));
        SSLI_TRY(sslk_model_param(target, i, &vt));
        if (vo.count != vt.count) return ssli_err(SSLK_E_INTERNAL, "ema: tensor %zu sizes differ", i);
        for (size_t j = 0; j < vo.count; j++) vt.data[j] = a * vt.data[j] + b * vo.data[j];
    }
    return SSLK_OK;
}

/* Collapse monitor on the encoder outputs h (n x d). */
static void monitor(sslk_trainer *tr, const float *h, size_t n, size_t d, double *rank, double *sd) {
    *rank = NAN;
    *sd = NAN;
    double r;
    sslk_status st = sslk_rankme(tr->ctx, h, n, d, &r);
    if (st == SSLK_OK) *rank = r;
    else if (st == SSLK_E_DEGENERATE) *rank = 0;
    double *mu = ssli_calloc(tr->ctx, d, 2 * sizeof(double));
    if (!mu) return;
    double *m2 = mu + d;
    for (size_t i = 0; i < n; i++) {
        double nn = 0;
        for (size_t j = 0; j < d; j++) nn += (double)h[i * d + j] * h[i * d + j];
        double inv = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
        for (size_t j = 0; j < d; j++) {
            double v = h[i * d + j] * inv;
            mu[j] += v;
            m2[j] += v * v;
        }
    }
    double acc = 0;
    for (size_t j = 0; j < d; j++) {
        double m = mu[j] / (double)n, var = m2[j] / (double)n - m * m;
        acc += sqrt(var > 0 ? var : 0);
    }
    *sd = acc / (double)d;
    ssli_free(tr->ctx, mu);
}

/* One optimisation step on the batch in tr->x (rows per view); with gs the
 * gradients come out summed over the ranks. */
static sslk_status train_step(sslk_trainer *tr, size_t rows, double *value, ssli_grad_sync *gs) {
    const size_t chw = tr->in_c * tr->in_s * tr->in_s, de = tr->de, dz = tr->dz, B = tr->ld_batch;
    SSLI_TRY(sslk_optim_zero_grad(tr->opt));
    for (size_t v = 1; v < tr->nviews && rows < B; v++) /* pack view v right after view v - 1 */
        memmove(tr->x + v * rows * chw, tr->x + v * B * chw, rows * chw * sizeof(float));
    /* rows through the online networks: the anchor view alone when the other is the EMA target's */
    const bool one = tr->md->step == SSLI_STEP_EMA_TARGET || tr->md->step == SSLI_STEP_QUEUE;
    const size_t nfw = one ? rows : tr->nviews * rows;
    SSLI_TRY(sslk_model_forward(tr->enc, tr->x, nfw, tr->h, SSLK_MODE_TRAIN));
    SSLI_TRY(sslk_model_forward(tr->proj, tr->h, nfw, tr->z, SSLK_MODE_TRAIN));
    switch (tr->md->step) {
    case SSLI_STEP_LABEL:
        for (size_t i = 0; i < rows; i++) tr->ylab[i] = tr->labels[i];
        SSLI_TRY(sslk_loss_compute_indexed(tr->loss, tr->z, tr->ylab, rows, dz, value, tr->gz));
        break;
    case SSLI_STEP_DATUM_INDEX:
        SSLI_TRY(sslk_loss_compute_indexed(tr->loss, tr->z, tr->indices, rows, dz, value, tr->gz));
        break;
    case SSLI_STEP_EMA_TARGET:
        /* targets: the EMA networks on view 1 (gh is free scratch until backward) */
        SSLI_TRY(sslk_model_forward(tr->tenc, tr->x + rows * chw, rows, tr->gh, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_model_forward(tr->tproj, tr->gh, rows, tr->tz, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_loss_compute_targets(tr->loss, tr->z, 1, tr->tz, rows, dz, value, tr->gz));
        break;
    case SSLI_STEP_PAIR:
        SSLI_TRY(sslk_loss_compute_pair(tr->loss, tr->z, tr->z + rows * dz, rows, dz, value, tr->gz,
                                        tr->gz + rows * dz));
        break;
    case SSLI_STEP_PRED_EMA: case SSLI_STEP_PRED_SG: case SSLI_STEP_QUEUE: /* trainer_methods.c */
    case SSLI_STEP_DINO: case SSLI_STEP_MULTI:
        SSLI_TRY(ssli_train_step_extra(tr, rows, value));
        break;
    }
    if (!isfinite(*value)) return SSLK_OK; /* the caller stops */
    SSLI_TRY(ssli_train_backward_sync(tr, gs, tr->gz)); /* overlapped with the all-reduce when it can */
    (void)de;
    return SSLK_OK;
}

static sslk_status push_history(sslk_trainer *tr, const sslk_train_progress *p) {
    if (tr->nhist == tr->hcap) {
        size_t nc = tr->hcap ? 2 * tr->hcap : 16;
        sslk_train_progress *nh = ssli_malloc(tr->ctx, nc, sizeof *nh);
        if (!nh) return ssli_alloc_status();
        if (tr->nhist) memcpy(nh, tr->hist, tr->nhist * sizeof *nh);
        ssli_free(tr->ctx, tr->hist);
        tr->hist = nh;
        tr->hcap = nc;
    }
    tr->hist[tr->nhist++] = *p;
    return SSLK_OK;
}

static sslk_status checkpoint(sslk_trainer *tr, const ssli_ckpt_full *full, const char *fn) { /* rank 0 only */
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/checkpoint.sslkt", tr->ckpt_dir);
    if (k < 0 || (size_t)k >= sizeof path) return ssli_err(SSLK_E_INVALID_ARG, "%s: checkpoint dir too long", fn);
    SSLI_TRY(ssli_train_save_full(tr, full, path, fn));
    snprintf(path, sizeof path, "%s/encoder.sslk", tr->ckpt_dir); /* the encoder alone, for other tools */
    return sslk_model_save(tr->enc, path);
}

static size_t term_info(const sslk_trainer *tr, const char **names) {
    size_t nt = 0;
    if (sslk_loss_num_terms(tr->loss, &nt) != SSLK_OK) return 0;
    if (nt > 8) nt = 8;
    for (size_t i = 0; i < nt; i++)
        if (sslk_loss_term_name(tr->loss, i, &names[i]) != SSLK_OK) names[i] = "?";
    return nt;
}

static sslk_status fit_epochs(sslk_trainer *tr, uint64_t until, ssli_grad_sync *gs);

/* SSLK_TRAIN_PIN_THREADS: compute thread t on all[t], loader worker w on
 * all[nt + w] (all: the CPUs the caller may use).  *nall = 0 when nothing
 * was pinned (off, or no CPU list on this system). */
static sslk_status pin_threads(sslk_trainer *tr, int *all, int *nall, int *nt_out, const char *fn) {
    *nall = 0;
    if (ssli_train_get(tr, SSLK_TRAIN_PIN_THREADS) == 0) return ssli_loader_pin(tr->ld, NULL, 0);
    const int n = ssli_cpus_allowed(all, SSLI_MAX_CPUS);
    if (n == 0) return ssli_loader_pin(tr->ld, NULL, 0); /* not Linux: a no-op */
    const int nt = ssli_threads(tr->ctx);
    int w = (int)ssli_train_get(tr, SSLK_TRAIN_WORKERS);
    if (w == 0) w = nt; /* the loader's rule for 0 workers */
    if (nt + w > n)
        return ssli_err(SSLK_E_RANGE,
                        "%s: pin_threads needs %d CPUs (threads %d + loader workers %d), the calling thread may "
                        "run on %d: lower the threads or workers setting, or turn pin_threads off",
                        fn, nt + w, nt, w, n);
    SSLI_TRY(ssli_loader_pin(tr->ld, all + nt, w));
    sslk_status st = ssli_pin_team(nt, all, fn);
    if (st != SSLK_OK) {
        ssli_unpin_team(nt, all, n);
        return st;
    }
    *nall = n, *nt_out = nt;
    return SSLK_OK;
}

sslk_status sslk_trainer_fit(sslk_trainer *tr, uint64_t until) {
    static const char *fn = "sslk_trainer_fit";
    SSLI_CHECK_PTR(tr, fn);
    if (tr->mid_epoch)
        return ssli_err(SSLK_E_STATE, "%s: a previous fit stopped inside epoch %llu; resume from the last checkpoint",
                        fn, (unsigned long long)tr->epoch);
    const uint64_t total = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_EPOCHS);
    if (until == 0 || until > total) until = total;
    if (tr->epoch >= until) return SSLK_OK;
    SSLI_TRY(prepare(tr));
    const sslk_dist *dist = ssli_dist(tr->ctx);
    ssli_grad_sync *gs = NULL; /* the gradient all-reduce (and its thread) for this fit */
    if (dist) SSLI_TRY(ssli_train_shard_loader(tr, dist));
    if (dist) SSLI_TRY(ssli_grad_sync_create(tr, dist, &gs));
    int all[SSLI_MAX_CPUS], nall = 0, nt = 0;
    sslk_status s = pin_threads(tr, all, &nall, &nt, fn);
    if (s == SSLK_OK) s = fit_epochs(tr, until, gs);
    if (nall) ssli_unpin_team(nt, all, nall); /* the caller's and the team's CPUs as before */
    ssli_grad_sync_destroy(gs);
    return s;
}

static sslk_status fit_epochs(sslk_trainer *tr, uint64_t until, ssli_grad_sync *gs) {
    static const char *fn = "sslk_trainer_fit";
    const uint64_t total = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_EPOCHS);
    size_t nb = 0;
    SSLI_TRY(sslk_loader_num_batches(tr->ld, &nb));
    uint64_t spe = nb, cap = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_STEPS_PER_EPOCH);
    if (cap && cap < spe) spe = cap;
    if (spe == 0) return ssli_err(SSLK_E_SHAPE, "%s: no full batch per epoch", fn);
    const uint64_t total_steps = total * spe;
    const uint64_t warm = (uint64_t)(ssli_train_get(tr, SSLK_TRAIN_WARMUP_EPOCHS) * (double)spe);
    const double base = ssli_train_get(tr, SSLK_TRAIN_LR), fin = base * ssli_train_get(tr, SSLK_TRAIN_FINAL_LR_RATIO);
    const uint64_t every = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_MONITOR_EVERY);
    const uint64_t ck_every = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_CHECKPOINT_EVERY);
    const size_t B = tr->ld_batch, chw = tr->in_c * tr->in_s * tr->in_s;
    float *views[4] = {NULL, NULL, NULL, NULL}; /* up to 4 views (multi-crop: 2 global + 2 local) */
    for (size_t v = 0; v < tr->nviews && v < 4; v++) views[v] = tr->x + v * B * chw;
    const sslk_dist *dist = ssli_dist(tr->ctx); /* data-parallel over its ranks when set */
    if (dist && tr->md->step >= SSLI_STEP_PRED_EMA)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: method %s does not train across ranks yet (its predictor, EMA keys "
                        "or queue are not synchronised)", fn, tr->md->name);

    while (tr->epoch < until) {
        SSLI_TRY(sslk_loader_begin_epoch(tr->ld, tr->epoch));
        sslk_train_progress ep = {.struct_size = sizeof ep, .epoch = tr->epoch, .steps_per_epoch = spe};
        ep.num_terms = term_info(tr, ep.term_names);
        ep.rankme = ep.embed_std = NAN;
        double t0 = now_s();
        size_t images = 0;
        tr->mid_epoch = true;
        for (uint64_t s = 0; s < spe; s++) {
            size_t rows = 0;
            double ts = now_s();
            SSLI_TRY(sslk_loader_next(tr->ld, views, tr->labels, tr->indices, &rows));
            const size_t nloc = rows; /* with a table the loader read only this rank's rows */
            bool empty = false;
            if (dist) SSLI_TRY(ssli_train_global_rows(tr, dist, nloc, &rows, &empty)); /* every rank decides alike */
            if (rows == 0 && !dist) break;
            if (rows < 2 || empty) continue;
            double lr;
            SSLI_TRY(sslk_schedule_warmup_cosine(tr->global_step, warm, total_steps, base, fin, &lr));
            SSLI_TRY(sslk_optim_set_lr_scale(tr->opt, base > 0 ? lr / base : 0.0));
            double val = NAN;
            sslk_status sst = train_step(tr, nloc, &val, gs);
            if (sst == SSLK_E_NONFINITE) val = NAN; /* a layer or the loss met NaN/Inf: diverged */
            else SSLI_TRY(sst);
            sslk_status st = isfinite(val) ? sslk_optim_step(tr->opt) : SSLK_E_NONFINITE;
            if (st == SSLK_E_NONFINITE)
                return ssli_err(SSLK_E_NUMERIC,
                                "%s: the %s became non-finite at epoch %llu step %llu (lr %.3g); training "
                                "stopped%s", fn, isfinite(val) ? "gradient" : "loss",
                                (unsigned long long)tr->epoch, (unsigned long long)s, lr,
                                tr->ckpt_dir ? "; the checkpoint on disk holds the last good epoch" : "");
            SSLI_TRY(st);
            SSLI_TRY(ssli_train_after_step(tr, nloc)); /* MoCo v2: enqueue the keys */
            if (tr->tenc) { /* constant, or BYOL's cosine schedule to SSLK_TRAIN_EMA_END */
                const double ema = ssli_train_ema_at(tr, tr->global_step, total_steps);
                SSLI_TRY(ema_update(tr->tenc, tr->enc, ema));
                SSLI_TRY(ema_update(tr->tproj, tr->proj, ema));
            }
            tr->global_step++;
            images += rows;
            sslk_train_progress p = ep;
            p.step = s;
            p.global_step = tr->global_step;
            p.loss = val;
            for (size_t i = 0; i < p.num_terms; i++) {
                double tv = NAN;
                if (sslk_loss_term_value(tr->loss, i, &tv) != SSLK_OK) tv = NAN;
                p.terms[i] = tv;
                ep.terms[i] += tv;
            }
            ep.loss += val;
            p.lr = lr;
            p.rankme = p.embed_std = NAN;
            if (every && (s % every == 0 || s + 1 == spe)) {
                monitor(tr, tr->h, nloc, tr->de, &p.rankme, &p.embed_std); /* this rank's rows */
                ep.rankme = p.rankme;
                ep.embed_std = p.embed_std;
            }
            double tn = now_s();
            p.images_per_s = (double)rows / (tn - ts > 1e-9 ? tn - ts : 1e-9);
            p.seconds = tn - t0;
            ep.step = s + 1;
            ep.lr = lr;
            if (tr->on_step && tr->on_step(tr->cb_user, &p))
                return ssli_err(SSLK_E_CANCELLED, "%s: stopped by the step callback at epoch %llu step %llu", fn,
                                (unsigned long long)tr->epoch, (unsigned long long)s);
        }
        double dt = now_s() - t0;
        if (ep.step) {
            ep.loss /= (double)ep.step;
            for (size_t i = 0; i < ep.num_terms; i++) ep.terms[i] /= (double)ep.step;
        }
        ep.global_step = tr->global_step;
        ep.seconds = dt;
        ep.images_per_s = (double)images / (dt > 1e-9 ? dt : 1e-9);
        SSLI_TRY(push_history(tr, &ep));
        tr->epoch++;
        tr->mid_epoch = false;
        if (tr->ckpt_dir && ((ck_every && tr->epoch % ck_every == 0) || tr->epoch == until))
            SSLI_TRY(ssli_train_rank0_checkpoint(tr, dist, checkpoint, fn));
        if (tr->on_epoch && tr->on_epoch(tr->cb_user, &ep))
            return ssli_err(SSLK_E_CANCELLED, "%s: stopped by the epoch callback after epoch %llu", fn,
                            (unsigned long long)ep.epoch);
    }
    return SSLK_OK;
}
