/* A dataset viewing chosen items of another one (low-shot pre-training,
 * DIET's small-N regime, held-out splits) without copying pixels or files.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct subset_priv {
    const sslk_dataset *parent;
    size_t *idx;
} subset_priv;

static sslk_status sub_header(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t *h, size_t *w,
                              size_t *c) {
    const subset_priv *p = ds->priv;
    return p->parent->rd->header(p->parent, sc, p->idx[i], h, w, c);
}

static sslk_status sub_decode(const sslk_dataset *ds, ssli_scratch *sc, size_t i, size_t need_w, size_t need_h,
                              ssli_image *img) {
    const subset_priv *p = ds->priv;
    return p->parent->rd->decode(p->parent, sc, p->idx[i], need_w, need_h, img);
}

static void sub_close(sslk_dataset *ds) {
    subset_priv *p = ds->priv;
    if (!p) return;
    ssli_free(ds->ctx, p->idx);
    ssli_free(ds->ctx, p);
    ds->priv = NULL;
}

static const ssli_reader subset_reader = {sub_header, sub_decode, sub_close};

sslk_status sslk_dataset_subset(const sslk_dataset *parent, const size_t *indices, size_t n, sslk_dataset **out) {
    static const char *fn = "sslk_dataset_subset";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(parent, fn);
    SSLI_CHECK_PTR(indices, fn);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: a subset needs at least one item", fn);
    for (size_t i = 0; i < n; i++)
        if (indices[i] >= parent->n)
            return ssli_err(SSLK_E_RANGE, "%s: indices[%zu] = %zu but '%s' holds %zu items", fn, i, indices[i],
                            parent->path, parent->n);
    sslk_ctx *ctx = parent->ctx;
    sslk_dataset *ds = ssli_calloc(ctx, 1, sizeof *ds);
    if (!ds) return ssli_err(ssli_alloc_status(), "%s: cannot allocate the dataset", fn);
    ds->ctx = ctx;
    ds->kind = parent->kind;
    ds->rd = &subset_reader;
    ds->n = n;
    ds->h = parent->h;
    ds->w = parent->w;
    ds->c = parent->c;
    memcpy(ds->set, parent->set, sizeof ds->set);
    ds->nclasses = parent->nclasses;
    subset_priv *p = ssli_calloc(ctx, 1, sizeof *p);
    ds->priv = p;
    size_t plen = strlen(parent->path) + 48;
    ds->path = ssli_malloc(ctx, plen, 1);
    if (p) p->parent = parent;
    if (p) p->idx = ssli_malloc(ctx, n, sizeof *p->idx);
    if (parent->labels) ds->labels = ssli_malloc(ctx, n, sizeof *ds->labels);
    if (!p || !p->idx || !ds->path || (parent->labels && !ds->labels)) {
        sslk_status s = ssli_alloc_status();
        sslk_dataset_destroy(ds);
        return ssli_err(s, "%s: cannot allocate a subset of %zu items", fn, n);
    }
    snprintf(ds->path, plen, "%s (subset of %zu)", parent->path, n);
    memcpy(p->idx, indices, n * sizeof *indices);
    if (parent->labels)
        for (size_t i = 0; i < n; i++) ds->labels[i] = parent->labels[indices[i]];
    ds->info = parent->info;
    *out = ds;
    return SSLK_OK;
}
