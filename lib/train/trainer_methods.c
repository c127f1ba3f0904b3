/* The issue-21 step kinds of the trainer: a predictor after the projector
 * (BYOL, SimSiam, MoCo v3), the EMA momentum schedule (BYOL's cosine to 1)
 * and MoCo v2's queue of keys.
 *   PRED_EMA (BYOL, MoCo v3): p_v = pred(proj(enc(x_v))) for both views,
 *     targets t_v = tproj(tenc(x_v)) (EMA networks, train-mode batch norm as
 *     the official BYOL and MoCo v3 code), loss on (p1, p2, t1, t2) with the
 *     swapped pairs (p1, t2) and (p2, t1).
 *   PRED_SG (SimSiam): the targets are the online projections z_v themselves,
 *     held constant (the loss writes no gradient for them).
 *   QUEUE (MoCo v2): q = proj(enc(x_0)), k = tproj(tenc(x_1)); negatives = the
 *     queue; after the step the normalised k are enqueued (MoCo's
 *     _dequeue_and_enqueue).
 *   DINO: the student (online networks) sees all 4 crops, the EMA teacher the
 *     2 global ones; the loss gets (s_0..s_3, t_0, t_1), its epoch setting
 *     follows the trainer's (teacher-temperature warm-up).
 *   MULTI (SwAV): all 4 crops through the online networks, codes from the 2
 *     global ones (the loss's crops_for_assign). 
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "loss/loss_internal.h"
#include "train/trainer_internal.h"

sslk_status ssli_train_build_extra(sslk_trainer *tr) {
    const ssli_method_def *md = tr->md;
    if (md->predictor) {
        char spec[256];
        int k = snprintf(spec, sizeof spec, "%s,linear:%zu", md->predictor, tr->dz);
        if (k < 0 || (size_t)k >= sizeof spec) return ssli_err(SSLK_E_INTERNAL, "trainer: predictor spec too long");
        size_t shape[1] = {tr->dz}, out = 0;
        uint64_t seed = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_INIT_SEED);
        SSLI_TRY(sslk_model_from_spec(tr->ctx, spec, 1, shape, ssli_rng_key(seed, 4, 0), &tr->pred));
        SSLI_TRY(sslk_model_io_size(tr->pred, NULL, &out));
        if (out != tr->dz) return ssli_err(SSLK_E_INTERNAL, "trainer: predictor outputs %zu, not %zu", out, tr->dz);
    }
    if (md->step == SSLI_STEP_QUEUE)
        SSLI_TRY(sslk_negqueue_create(tr->ctx, (size_t)ssli_train_get(tr, SSLK_TRAIN_QUEUE), tr->dz,
                                      SSLK_NEGQUEUE_RANDOM, &tr->queue));
    return SSLK_OK;
}

double ssli_train_ema_at(const sslk_trainer *tr, uint64_t k, uint64_t total) {
    const double m0 = ssli_train_get(tr, SSLK_TRAIN_EMA), end = ssli_train_get(tr, SSLK_TRAIN_EMA_END);
    if (end < 0 || total == 0) return m0;
    double f = k >= total ? 1.0 : (double)k / (double)total;
    return end - (end - m0) * 0.5 * (1.0 + cos(3.14159265358979323846 * f));
}

/* Crop scales of the multi-crop presets (DINO's global_crops_scale /
 * local_crops_scale, SwAV's min_scale_crops / max_scale_crops), every crop
 * resized to the training size. */
sslk_status ssli_train_multicrop(const sslk_trainer *tr, sslk_augment *a) {
    const bool dino = tr->md->step == SSLI_STEP_DINO;
    const double glo[2] = {dino ? 0.4 : 0.14, 1.0}, loc[2] = {0.05, dino ? 0.4 : 0.14};
    for (int v = 0; v < 4; v++) {
        const double *r = v < 2 ? glo : loc;
        SSLI_TRY(sslk_augment_set_f64(a, v, SSLK_AUG_SCALE_MIN, r[0]));
        SSLI_TRY(sslk_augment_set_f64(a, v, SSLK_AUG_SCALE_MAX, r[1]));
    }
    return SSLK_OK;
}

static sslk_status multicrop_step(sslk_trainer *tr, size_t rows, double *value) {
    const size_t chw = tr->in_c * tr->in_s * tr->in_s, dz = tr->dz, V = tr->nviews;
    const float *views[6];
    float *grads[6];
    for (size_t v = 0; v < V; v++) {
        views[v] = tr->z + v * rows * dz;
        grads[v] = tr->gz + v * rows * dz;
    }
    size_t nv = V;
    if (tr->md->step == SSLI_STEP_DINO) { /* the teacher on the global crops 0 and 1 */
        SSLI_TRY(sslk_model_forward(tr->tenc, tr->x, 2 * rows, tr->gh, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_model_forward(tr->tproj, tr->gh, 2 * rows, tr->tz, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_loss_set_i64(tr->loss, SSLK_DINO_EPOCH, (int64_t)tr->epoch));
        for (size_t t = 0; t < 2; t++) {
            views[V + t] = tr->tz + t * rows * dz;
            grads[V + t] = NULL;
        }
        nv = V + 2;
    }
    (void)chw;
    sslk_loss_batch b = {sizeof b, views, nv, rows, dz, NULL, NULL};
    return sslk_loss_compute(tr->loss, &b, value, grads);
}

sslk_status ssli_train_step_extra(sslk_trainer *tr, size_t rows, double *value) {
    const size_t chw = tr->in_c * tr->in_s * tr->in_s, dz = tr->dz;
    const ssli_step_kind kind = tr->md->step;
    if (kind == SSLI_STEP_DINO || kind == SSLI_STEP_MULTI) return multicrop_step(tr, rows, value);
    if (kind == SSLI_STEP_QUEUE) {
        /* keys of view 1 by the EMA networks (gh is scratch until backward) */
        SSLI_TRY(sslk_model_forward(tr->tenc, tr->x + rows * chw, rows, tr->gh, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_model_forward(tr->tproj, tr->gh, rows, tr->tz, SSLK_MODE_TRAIN));
        const float *neg = NULL;
        size_t m = 0;
        SSLI_TRY(sslk_negqueue_rows(tr->queue, &neg, &m));
        return sslk_loss_compute_negatives(tr->loss, tr->z, tr->tz, rows, dz, neg, m, value, tr->gz, NULL);
    }
    const size_t nr = 2 * rows;
    SSLI_TRY(sslk_model_forward(tr->pred, tr->z, nr, tr->p, SSLK_MODE_TRAIN));
    const float *targets = tr->z; /* SimSiam: the online projections, constants */
    if (kind == SSLI_STEP_PRED_EMA) {
        SSLI_TRY(sslk_model_forward(tr->tenc, tr->x, nr, tr->gh, SSLK_MODE_TRAIN));
        SSLI_TRY(sslk_model_forward(tr->tproj, tr->gh, nr, tr->tz, SSLK_MODE_TRAIN));
        targets = tr->tz;
    }
    const float *views[4] = {tr->p, tr->p + rows * dz, targets, targets + rows * dz};
    float *grads[4] = {tr->gp, tr->gp + rows * dz, NULL, NULL};
    sslk_loss_batch b = {sizeof b, views, 4, rows, dz, NULL, NULL};
    SSLI_TRY(sslk_loss_compute(tr->loss, &b, value, grads));
    if (!isfinite(*value)) return SSLK_OK;
    return sslk_model_backward(tr->pred, tr->gp, tr->gz); /* dL/dz through the predictor only */
}

sslk_status ssli_train_after_step(sslk_trainer *tr, size_t rows) {
    if (!tr->queue) return SSLK_OK;
    const size_t dz = tr->dz;
    for (size_t i = 0; i < rows; i++) { /* keys enter the queue L2-normalised, as MoCo's */
        float *k = tr->tz + i * dz;
        double s = 0;
        for (size_t j = 0; j < dz; j++) s += (double)k[j] * k[j];
        double inv = 1.0 / fmax(sqrt(s), 1e-12);
        for (size_t j = 0; j < dz; j++) k[j] = (float)(k[j] * inv);
    }
    return sslk_negqueue_push(tr->queue, tr->tz, rows, dz);
}
