/* Losses across ranks, by gathering the batch: every rank receives all rows
 * of every view (allgatherv through the context's table), computes the loss
 * of the global batch with the single-process code, and keeps the gradient
 * rows of its own slice.  This is exact by construction (the same arithmetic
 * as one process holding all rows, in rank order), and the backward of the
 * gather is the slice: each rank already holds the full gradient of the
 * gathered rows, so "sum over ranks, then slice" reduces to the slice.
 * Owned parameter gradients (MSN prototypes, DIET head) come out as the full
 * global gradient, identical on every rank.
 * Used for the kinds whose batch statistics are O(B^2) or per-sample
 * (docs/distributed.md); VICReg and LogDet all-reduce d x d statistics instead
 * when the global batch is at least 2d rows (dist_vicreg.c, dist_logdet.c); DIET shards its head
 * (dist_diet.c).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "dist/dist_internal.h"
#include "loss_dist.h"

enum { META_STATUS, META_D, META_V, META_IDX, META_TGT, META_N };

sslk_status ssli_loss_dist_agree(sslk_loss *L, const sslk_dist *t, sslk_status local, const ssli_loss_in *in,
                                 size_t *counts, size_t *total, const char *fn) {
    size_t W = (size_t)t->world_size;
    double mine[META_N];
    mine[META_STATUS] = (double)local;
    mine[META_D] = local ? 0 : (double)in->d;
    mine[META_V] = local ? 0 : (double)in->nviews;
    mine[META_IDX] = local ? 0 : (double)(in->indices != NULL);
    mine[META_TGT] = local ? 0 : (double)(in->targets != NULL);
    double *all = ssli_malloc(L->ctx, W * META_N + 1, sizeof(double));
    size_t *six = ssli_malloc(L->ctx, W, sizeof(size_t));
    sslk_status s = all && six ? SSLK_OK : ssli_alloc_status();
    for (size_t r = 0; s == SSLK_OK && r < W; r++) six[r] = META_N;
    if (s == SSLK_OK) s = ssli_dist_allgatherv_f64(t, mine, META_N, all, six, fn);
    for (size_t r = 0; s == SSLK_OK && r < W; r++) {
        const double *m = all + r * META_N;
        if (m[META_STATUS] != 0) {
            s = local ? local /* our own message stays */
                      : ssli_err(SSLK_E_DIST, "%s: %s loss: rank %zu refused its inputs (%s), so every rank stops", fn,
                                 L->vt->fn, r, sslk_status_str((sslk_status)m[META_STATUS]));
        } else if (!local) {
            for (int k = META_D; k < META_N && s == SSLK_OK; k++)
                if (m[k] != mine[k])
                    s = ssli_err(SSLK_E_SHAPE, "%s: %s loss: rank %zu has %s = %g, this rank (%d) %g", fn, L->vt->fn,
                                 r,
                                 k == META_D   ? "d"
                                 : k == META_V ? "num_views"
                                 : k == META_IDX ? "indices (1 = given)"
                                                 : "targets (1 = given)",
                                 m[k], t->rank, mine[k]);
        }
    }
    ssli_free(L->ctx, all);
    ssli_free(L->ctx, six);
    if (s != SSLK_OK) return s;
    if (local) return local;
    return ssli_dist_counts(L->ctx, t, in->n, counts, total, fn);
}

sslk_status ssli_loss_dist_gather_compute(sslk_loss *L, const sslk_dist *t, const ssli_loss_in *in,
                                          const size_t *counts, size_t N, double *value, const char *fn) {
    size_t W = (size_t)t->world_size, V = in->nviews, d = in->d, n = in->n, off = 0;
    for (int r = 0; r < t->rank; r++) off += counts[r];
    size_t *cd = ssli_malloc(L->ctx, W, sizeof(size_t));
    size_t nd;
    if (!cd) return ssli_alloc_status();
    if (ssli_mul_overflow(N, d, &nd)) {
        ssli_free(L->ctx, cd);
        return ssli_err(SSLK_E_OVERFLOW, "%s: gathered batch %zu x %zu overflows", fn, N, d);
    }
    for (size_t r = 0; r < W; r++) cd[r] = counts[r] * d;
    /* views, then gradients, then targets, in one block; pointer arrays apart */
    size_t nbuf = V + (in->grads ? V : 0) + (in->targets ? 1 : 0), fl;
    sslk_status s = SSLK_OK;
    if (ssli_mul_overflow(nbuf, nd, &fl)) s = ssli_err(SSLK_E_OVERFLOW, "%s: gathered batch overflows", fn);
    float *buf = s ? NULL : ssli_malloc(L->ctx, fl, sizeof(float));
    const float **views = ssli_calloc(L->ctx, 2 * V, sizeof(float *));
    int64_t *idx = in->indices ? ssli_malloc(L->ctx, N, sizeof(int64_t)) : NULL;
    if (s == SSLK_OK && (!buf || !views || (in->indices && !idx))) s = ssli_alloc_status();
    float **grads = views ? (float **)(views + V) : NULL;
    float *p = buf;
    for (size_t v = 0; s == SSLK_OK && v < V; v++, p += nd) {
        views[v] = p;
        s = ssli_dist_allgatherv_f32(t, in->views[v], n * d, p, cd, fn);
    }
    if (s == SSLK_OK && in->grads)
        for (size_t v = 0; v < V; v++, p += nd) grads[v] = in->grads[v] ? p : NULL;
    const float *targets = NULL;
    if (s == SSLK_OK && in->targets) {
        s = ssli_dist_allgatherv_f32(t, in->targets, n * d, p, cd, fn);
        targets = p;
    }
    if (s == SSLK_OK && in->indices) s = ssli_dist_allgatherv_i64(L->ctx, t, in->indices, n, idx, counts, fn);
    if (s == SSLK_OK) {
        ssli_loss_in g = {views, V, N, d, idx, targets, in->grads ? grads : NULL};
        s = L->vt->compute(L, &g, value);
    }
    if (s == SSLK_OK && in->grads)
        for (size_t v = 0; v < V; v++)
            if (in->grads[v]) memcpy(in->grads[v], grads[v] + off * d, n * d * sizeof(float));
    ssli_free(L->ctx, buf);
    ssli_free(L->ctx, views);
    ssli_free(L->ctx, idx);
    ssli_free(L->ctx, cd);
    return s;
}

sslk_status ssli_loss_dist_compute(sslk_loss *L, sslk_status local, const ssli_loss_in *in, double *value,
                                   const char *fn) {
    const sslk_dist *t = ssli_dist(L->ctx);
    if (!t) return local ? local : L->vt->compute(L, in, value);
    size_t *counts = ssli_malloc(L->ctx, (size_t)t->world_size, sizeof(size_t));
    if (!counts) return ssli_alloc_status(); /* the others fail when this rank's process does */
    size_t N = 0;
    sslk_status s = ssli_loss_dist_agree(L, t, local, in, counts, &N, fn);
    if (s == SSLK_OK) {
        /* VICReg: all-reduce the two d x d Grams (16 d^2 bytes) when that is no
         * more than gathering the rows (8 N d bytes), i.e. N >= 2d; below, gather
         * the rows (the one-process code then uses its N x N Gram) */
        if (L->vt->kind == SSLK_LOSS_VICREG && in->nviews == 2 && N >= 2 * in->d)
            s = ssli_loss_dist_vicreg(L, t, in, counts, N, value, fn);
        else if (L->vt->kind == SSLK_LOSS_VICREG_LOGDET && in->nviews == 2 && N >= 2 * in->d)
            s = ssli_loss_dist_logdet(L, t, in, N, value, fn);
        else if (L->vt->kind == SSLK_LOSS_DIET)
            s = ssli_loss_dist_diet(L, t, in, counts, N, value, fn);
        else if (L->vt->kind == SSLK_LOSS_DINO) /* per-row loss: no gather (issue 21) */
            s = ssli_loss_dist_dino(L, t, in, N, value, fn);
        else if (L->vt->kind == SSLK_LOSS_SWAV) /* local rows, all-reduced Sinkhorn sums (swav.c) */
            s = L->vt->compute(L, in, value);
        else
            s = ssli_loss_dist_gather_compute(L, t, in, counts, N, value, fn);
    }
    ssli_free(L->ctx, counts);
    return s;
}

sslk_status ssli_loss_dist_rowmean(sslk_loss *L, size_t n, size_t d, double *value, float *ga, float *gb,
                                   const char *fn) {
    const sslk_dist *t = ssli_dist(L->ctx);
    if (!t) return SSLK_OK;
    size_t nt = L->vt->nterms < SSLI_LOSS_MAX_TERMS ? L->vt->nterms : SSLI_LOSS_MAX_TERMS;
    double s[2 + SSLI_LOSS_MAX_TERMS] = {(double)n, (double)n * *value};
    for (size_t k = 0; k < nt; k++) s[2 + k] = (double)n * L->terms[k];
    SSLI_TRY(ssli_dist_allreduce_f64(t, s, 2 + nt, fn));
    double N = s[0], scale = (double)n / N;
    *value = s[1] / N;
    for (size_t k = 0; k < nt; k++) L->terms[k] = s[2 + k] / N;
    for (size_t e = 0; e < n * d; e++) {
        if (ga) ga[e] = (float)((double)ga[e] * scale);
        if (gb) gb[e] = (float)((double)gb[e] * scale);
    }
    return SSLK_OK;
}
