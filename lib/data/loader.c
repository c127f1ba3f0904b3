/* The batch loader: a seeded permutation per epoch, worker threads that claim
 * items in epoch order and write each into its fixed row of a batch slot, a
 * ring of PREFETCH slots as the bounded queue, and in-order delivery.  Since
 * every item's row and random draw are fixed before any thread touches it,
 * batches are identical at any worker count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "core/affinity.h"
#include "core/par.h"
#include "core/struct_sizes.h"
#include "data_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NSET 9
static const ssli_setting_def loader_defs[NSET] = {
    {SSLK_LOADER_SHUFFLE, "shuffle", SSLK_SETTING_I64, 0, 1, 1, "seeded permutation of the items every epoch"},
    {SSLK_LOADER_DROP_LAST, "drop_last", SSLK_SETTING_I64, 0, 1, 1, "drop the last partial batch of an epoch"},
    {SSLK_LOADER_WORKERS, "workers", SSLK_SETTING_I64, 0, 256, 0, "worker threads (0: the context's thread count)"},
    {SSLK_LOADER_PREFETCH, "prefetch", SSLK_SETTING_I64, 1, 64, 2, "batches prepared ahead of the consumer"},
    {SSLK_LOADER_ON_CORRUPT, "on_corrupt", SSLK_SETTING_I64, 0, 1, 0, "0 = fail naming the file, 1 = skip and count"},
    {SSLK_LOADER_SEED, "seed", SSLK_SETTING_I64, 0, 9007199254740992.0, 0,
     "seed of the epoch order and of the augmentation draws (default: the context's seed)"},
    {SSLK_LOADER_AUG_SEED, "aug_seed", SSLK_SETTING_I64, -1, 9007199254740992.0, -1,
     "seed of the augmentation draws alone (-1: the loader seed)"},
    /* shards of the global batch (issue 17) */
    {SSLK_LOADER_SHARD_RANK, "shard_rank", SSLK_SETTING_I64, 0, 65535, 0,
     "this rank: decode only its rows of every global batch"},
    {SSLK_LOADER_SHARD_COUNT, "shard_count", SSLK_SETTING_I64, 1, 65536, 1,
     "ranks sharing each global batch (1: no sharding)"},
};
static const ssli_setting_choices loader_choices[] = {
    {SSLK_LOADER_ON_CORRUPT, (const char *const[]){"fail", "skip", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_loader = {"loader", loader_defs, NSET, loader_choices};

typedef struct slot {
    float *views[SSLI_AUG_MAX_VIEWS];
    int32_t *labels;
    int64_t *index;
    uint8_t *ok;
    size_t done;       /* rows finished (ok or not) */
    sslk_status fail;  /* first failing row's status under the FAIL policy */
    size_t fail_row;
    char fail_msg[512];
} slot;

struct sslk_loader {
    sslk_ctx *ctx;
    sslk_dataset *ds;
    sslk_augment *aug; /* copy; NULL = plain native-size */
    size_t batch, nviews;
    size_t vc[SSLI_AUG_MAX_VIEWS], vh[SSLI_AUG_MAX_VIEWS], vw[SSLI_AUG_MAX_VIEWS];
    double set[NSET];

    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    pthread_t *threads;
    size_t nthreads;
    bool active;   /* an epoch has begun and not failed */
    bool cancel;
    slot *slots;
    size_t nslots;

    uint64_t epoch, seed, aug_seed; /* order seed; augmentation seed */
    int policy;
    size_t *order, n_items, nbatches, next_item, delivered;
    size_t shard_r, shard_p, n_local; /* rank, ranks (1: whole batches); items this rank reads */
    double t0, t_last, wait_s;
    uint64_t images, skipped, failures;
    int *pin, npin; /* worker t runs on CPU pin[t % npin] (npin 0: not pinned; ssli_loader_pin) */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t lset(const sslk_loader *ld, int key) {
    return (int64_t)ld->set[ssli_setting_index(&ssli_settings_loader, key)];
}

/* ---- shards ------------------------------------------------------------------ *
 * Rank r of P reads rows [floor(n r / P), floor(n (r + 1) / P)) of each batch
 * of n rows; P = 1 reads all. */
static void shard_rows(const sslk_loader *ld, size_t b, size_t *lo, size_t *cnt) {
    size_t n = ld->n_items - b * ld->batch;
    if (n > ld->batch) n = ld->batch;
    *lo = n * ld->shard_r / ld->shard_p;
    *cnt = n * (ld->shard_r + 1) / ld->shard_p - *lo;
}

/* This rank's j-th item of the epoch: its batch, its row there (in the
 * delivered batch) and its place k in the epoch order. */
static void local_item(const sslk_loader *ld, size_t j, size_t *b, size_t *row, size_t *k) {
    size_t lo, m;
    shard_rows(ld, 0, &lo, &m); /* every batch but a partial last one has m rows here */
    const size_t full = ld->n_items / ld->batch;
    if (m && j < full * m) {
        *b = j / m;
        *row = j % m;
    } else {
        *b = full;
        *row = j - full * m;
        shard_rows(ld, full, &lo, &m);
    }
    *k = *b * ld->batch + lo + *row;
}

/* ---- worker ------------------------------------------------------------------ */
typedef struct worker {
    sslk_loader *ld;
    ssli_scratch sc;
    float *tmp;
    size_t tmp_cap;
} worker;

static sslk_status process_item(worker *wk, size_t i, slot *sl, size_t row) {
    sslk_loader *ld = wk->ld;
    const sslk_dataset *ds = ld->ds;
    size_t h, w, c;
    SSLI_TRY(ds->rd->header(ds, &wk->sc, i, &h, &w, &c));
    ssli_image img;
    if (!ld->aug) {
        SSLI_TRY(ds->rd->decode(ds, &wk->sc, i, w, h, &img));
        size_t hw = img.h * img.w;
        float *o = sl->views[0] + row * img.c * hw;
        for (size_t ch = 0; ch < img.c; ch++)
            for (size_t p = 0; p < hw; p++) o[ch * hw + p] = (float)img.data[p * img.c + ch] * (1.0f / 255.0f);
        return SSLK_OK;
    }
    ssli_aug_plan plans[SSLI_AUG_MAX_VIEWS];
    size_t need_h = 1, need_w = 1;
    for (size_t v = 0; v < ld->nviews; v++) {
        ssli_aug_make_plan(ld->aug, v, h, w, c, ld->aug_seed, ld->epoch, i, &plans[v]);
        ssli_aug_need(&plans[v], h, w, &need_h, &need_w);
    }
    SSLI_TRY(ds->rd->decode(ds, &wk->sc, i, need_w, need_h, &img));
    for (size_t v = 0; v < ld->nviews; v++) {
        size_t nt = ssli_aug_tmp_floats(&plans[v], &img);
        if (nt > wk->tmp_cap) {
            ssli_free(ld->ctx, wk->tmp);
            wk->tmp_cap = 0;
            wk->tmp = ssli_malloc(ld->ctx, nt, sizeof(float));
            if (!wk->tmp) return ssli_err(ssli_alloc_status(), "sslk_loader: cannot allocate %zu floats", nt);
            wk->tmp_cap = nt;
        }
        size_t per = ld->vc[v] * ld->vh[v] * ld->vw[v];
        ssli_aug_run(&plans[v], &img, h, w, sl->views[v] + row * per, wk->tmp);
    }
    return SSLK_OK;
}

static void *worker_main(void *arg) {
    worker *wk = arg;
    sslk_loader *ld = wk->ld;
    pthread_mutex_lock(&ld->mu);
    while (!ld->cancel && ld->next_item < ld->n_local) {
        size_t b, row, k;
        local_item(ld, ld->next_item, &b, &row, &k);
        if (b >= ld->delivered + ld->nslots) {
            pthread_cond_wait(&ld->cv_work, &ld->mu);
            continue;
        }
        ld->next_item++;
        pthread_mutex_unlock(&ld->mu);

        slot *sl = &ld->slots[b % ld->nslots];
        size_t i = ld->order[k];
        sslk_status s = process_item(wk, i, sl, row);
        if (s != SSLK_OK && ld->policy == SSLK_CORRUPT_SKIP) /* the policy is fixed during an epoch */
            ssli_log(ld->ctx, SSLK_LOG_WARN, "sslk_loader: skipped item %zu: %s", i, sslk_last_error());
        sl->index[row] = (int64_t)i;
        sl->labels[row] = ld->ds->labels ? ld->ds->labels[i] : -1;
        sl->ok[row] = s == SSLK_OK;

        pthread_mutex_lock(&ld->mu);
        if (s != SSLK_OK) {
            ld->failures++;
            if (ld->policy == SSLK_CORRUPT_SKIP) ld->skipped++;
            else if (sl->fail == SSLK_OK || row < sl->fail_row) {
                sl->fail = s;
                sl->fail_row = row;
                snprintf(sl->fail_msg, sizeof sl->fail_msg, "item %zu: %s", i, sslk_last_error());
            }
        }
        sl->done++;
        pthread_cond_broadcast(&ld->cv_done);
    }
    pthread_mutex_unlock(&ld->mu);
    ssli_scratch_free(&wk->sc);
    ssli_free(ld->ctx, wk->tmp);
    wk->tmp = NULL;
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */
static void stop_workers(sslk_loader *ld) {
    if (!ld->threads) return;
    pthread_mutex_lock(&ld->mu);
    ld->cancel = true;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    for (size_t t = 0; t < ld->nthreads; t++) pthread_join(ld->threads[t], NULL);
    ssli_free(ld->ctx, ld->threads);
    ld->threads = NULL;
    ld->nthreads = 0;
}

static void free_slots(sslk_loader *ld) {
    if (!ld->slots) return;
    for (size_t q = 0; q < ld->nslots; q++) {
        for (size_t v = 0; v < ld->nviews; v++) ssli_free(ld->ctx, ld->slots[q].views[v]);
        ssli_free(ld->ctx, ld->slots[q].labels);
        ssli_free(ld->ctx, ld->slots[q].index);
        ssli_free(ld->ctx, ld->slots[q].ok);
    }
    ssli_free(ld->ctx, ld->slots);
    ld->slots = NULL;
    ld->nslots = 0;
}

static sslk_status alloc_slots(sslk_loader *ld, size_t q, const char *fn) {
    if (ld->slots && ld->nslots == q) return SSLK_OK;
    free_slots(ld);
    ld->slots = ssli_calloc(ld->ctx, q, sizeof(slot));
    if (!ld->slots) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    ld->nslots = q;
    for (size_t k = 0; k < q; k++) {
        slot *s = &ld->slots[k];
        for (size_t v = 0; v < ld->nviews; v++) {
            size_t per;
            if (ssli_mul3_overflow(ld->vc[v], ld->vh[v], ld->vw[v], &per) ||
                !(s->views[v] = ssli_malloc(ld->ctx, per, ld->batch * sizeof(float))))
                goto fail;
        }
        s->labels = ssli_malloc(ld->ctx, ld->batch, sizeof(int32_t));
        s->index = ssli_malloc(ld->ctx, ld->batch, sizeof(int64_t));
        s->ok = ssli_malloc(ld->ctx, ld->batch, 1);
        if (!s->labels || !s->index || !s->ok) goto fail;
    }
    return SSLK_OK;
fail:;
    sslk_status st = ssli_alloc_status();
    free_slots(ld);
    return ssli_err(st, "%s: cannot allocate %zu batch buffers of %zu rows", fn, q, ld->batch);
}

sslk_status sslk_loader_create(sslk_ctx *ctx, sslk_dataset *ds, const sslk_augment *aug, size_t batch,
                               sslk_loader **out) {
    static const char *fn = "sslk_loader_create";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(ds, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (batch == 0 || batch > ((size_t)1 << 24))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: batch = %zu must be in [1, 2^24]", fn, batch);
    if (!aug && (ds->h == 0 || ds->w == 0))
        return ssli_err(SSLK_E_SHAPE, "%s: images of '%s' differ in size; pass an augmentation recipe (e.g. the PLAIN "
                        "preset) to resize them", fn, ds->path);
    if (aug) SSLI_TRY(ssli_aug_validate(aug, fn));
    sslk_loader *ld = ssli_calloc(ctx, 1, sizeof *ld);
    if (!ld) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    ld->ctx = ctx;
    ld->ds = ds;
    ld->batch = batch;
    ssli_setting_defaults(&ssli_settings_loader, ld->set);
    ld->set[ssli_setting_index(&ssli_settings_loader, SSLK_LOADER_SEED)] =
        (double)(ctx->seed & (((uint64_t)1 << 53) - 1));
    if (aug) {
        ld->aug = ssli_malloc(ctx, 1, sizeof *ld->aug);
        if (!ld->aug) {
            ssli_free(ctx, ld);
            return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
        }
        memcpy(ld->aug, aug, sizeof *aug);
        ld->nviews = aug->nviews;
        for (size_t v = 0; v < ld->nviews; v++) {
            ld->vc[v] = ssli_aug_out_channels(aug, v, ds->c);
            ld->vh[v] = ld->vw[v] = (size_t)ssli_aug_get(aug, v, SSLK_AUG_SIZE);
        }
    } else {
        ld->nviews = 1;
        ld->vc[0] = ds->c;
        ld->vh[0] = ds->h;
        ld->vw[0] = ds->w;
    }
    if (pthread_mutex_init(&ld->mu, NULL) != 0) {
        ssli_free(ctx, ld->aug);
        ssli_free(ctx, ld);
        return ssli_err(SSLK_E_INTERNAL, "%s: pthread_mutex_init failed", fn);
    }
    pthread_cond_init(&ld->cv_work, NULL);
    pthread_cond_init(&ld->cv_done, NULL);
    *out = ld;
    return SSLK_OK;
}

void sslk_loader_destroy(sslk_loader *ld) {
    if (!ld) return;
    stop_workers(ld);
    free_slots(ld);
    pthread_cond_destroy(&ld->cv_work);
    pthread_cond_destroy(&ld->cv_done);
    pthread_mutex_destroy(&ld->mu);
    ssli_free(ld->ctx, ld->order);
    ssli_free(ld->ctx, ld->aug);
    ssli_free(ld->ctx, ld->pin);
    ssli_free(ld->ctx, ld);
}

sslk_status ssli_loader_pin(sslk_loader *ld, const int *cpus, int n) {
    int *p = NULL;
    if (n > 0) {
        p = ssli_malloc(ld->ctx, (size_t)n, sizeof *p);
        if (!p) return ssli_alloc_status();
        memcpy(p, cpus, (size_t)n * sizeof *p);
    }
    ssli_free(ld->ctx, ld->pin);
    ld->pin = p;
    ld->npin = n > 0 ? n : 0;
    return SSLK_OK;
}

static sslk_status loader_put(sslk_loader *ld, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_CHECK_PTR(ld, fn);
    if (ld->active && ld->delivered < ld->nbatches)
        return ssli_err(SSLK_E_STATE, "%s: epoch %llu is in progress (%zu of %zu batches delivered)", fn,
                        (unsigned long long)ld->epoch, ld->delivered, ld->nbatches);
    return ssli_setting_set(&ssli_settings_loader, ld->set, key, v, as, fn);
}

static sslk_status loader_read(const sslk_loader *ld, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(ld, fn);
    return ssli_setting_get(&ssli_settings_loader, ld->set, key, v, fn);
}

SSLI_SETTINGS_ACCESSORS(sslk_loader, sslk_loader, loader_put, loader_read)

sslk_status sslk_loader_num_views(const sslk_loader *ld, size_t *nviews) {
    SSLI_CHECK_PTR(ld, "sslk_loader_num_views");
    SSLI_CHECK_PTR(nviews, "sslk_loader_num_views");
    *nviews = ld->nviews;
    return SSLK_OK;
}

sslk_status sslk_loader_view_shape(const sslk_loader *ld, size_t view, size_t *c, size_t *h, size_t *w) {
    SSLI_CHECK_PTR(ld, "sslk_loader_view_shape");
    if (view >= ld->nviews)
        return ssli_err(SSLK_E_RANGE, "sslk_loader_view_shape: view = %zu >= nviews %zu", view, ld->nviews);
    if (c) *c = ld->vc[view];
    if (h) *h = ld->vh[view];
    if (w) *w = ld->vw[view];
    return SSLK_OK;
}

static size_t items_per_epoch(const sslk_loader *ld) {
    size_t n = ld->ds->n;
    return lset(ld, SSLK_LOADER_DROP_LAST) ? n / ld->batch * ld->batch : n;
}

sslk_status sslk_loader_num_batches(const sslk_loader *ld, size_t *nbatches) {
    SSLI_CHECK_PTR(ld, "sslk_loader_num_batches");
    SSLI_CHECK_PTR(nbatches, "sslk_loader_num_batches");
    *nbatches = (items_per_epoch(ld) + ld->batch - 1) / ld->batch;
    return SSLK_OK;
}

sslk_status sslk_loader_begin_epoch(sslk_loader *ld, uint64_t epoch) {
    static const char *fn = "sslk_loader_begin_epoch";
    SSLI_CHECK_PTR(ld, fn);
    stop_workers(ld);
    ld->active = false;
    ld->cancel = false;
    ld->epoch = epoch;
    ld->seed = (uint64_t)lset(ld, SSLK_LOADER_SEED);
    const int64_t as = lset(ld, SSLK_LOADER_AUG_SEED);
    ld->aug_seed = as < 0 ? ld->seed : (uint64_t)as;
    ld->policy = (int)lset(ld, SSLK_LOADER_ON_CORRUPT);
    ld->shard_r = (size_t)lset(ld, SSLK_LOADER_SHARD_RANK);
    ld->shard_p = (size_t)lset(ld, SSLK_LOADER_SHARD_COUNT);
    if (ld->shard_r >= ld->shard_p)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: shard_rank = %zu must be below shard_count = %zu", fn, ld->shard_r,
                        ld->shard_p);
    SSLI_TRY(alloc_slots(ld, (size_t)lset(ld, SSLK_LOADER_PREFETCH), fn));
    if (!ld->order) {
        ld->order = ssli_malloc(ld->ctx, ld->ds->n, sizeof(size_t));
        if (!ld->order) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    }
    for (size_t i = 0; i < ld->ds->n; i++) ld->order[i] = i;
    if (lset(ld, SSLK_LOADER_SHUFFLE)) {
        ssli_rng r;
        ssli_rng_init(&r, ld->seed, 0x5ffeULL ^ (epoch * 0x9e3779b97f4a7c15ULL));
        ssli_rng_shuffle(&r, ld->order, ld->ds->n);
    }
    ld->n_items = items_per_epoch(ld);
    ld->nbatches = (ld->n_items + ld->batch - 1) / ld->batch;
    ld->n_local = 0;
    for (size_t b = ld->n_items / ld->batch; b < ld->nbatches; b++) { /* the partial last batch */
        size_t lo, cnt;
        shard_rows(ld, b, &lo, &cnt);
        ld->n_local += cnt;
    }
    if (ld->n_items >= ld->batch) {
        size_t lo, m;
        shard_rows(ld, 0, &lo, &m);
        ld->n_local += ld->n_items / ld->batch * m;
    }
    ld->next_item = ld->delivered = 0;
    ld->images = ld->skipped = ld->failures = 0;
    ld->wait_s = 0;
    for (size_t q = 0; q < ld->nslots; q++) {
        ld->slots[q].done = 0;
        ld->slots[q].fail = SSLK_OK;
    }
    ld->t0 = ld->t_last = now_s();
    size_t nt = (size_t)lset(ld, SSLK_LOADER_WORKERS);
    if (nt == 0) nt = (size_t)ssli_threads(ld->ctx);
    if (nt > ld->n_local) nt = ld->n_local;
    ld->active = true;
    if (nt == 0) return SSLK_OK;
    /* worker structs live right after the thread ids */
    ld->threads = ssli_calloc(ld->ctx, nt, sizeof(pthread_t) + sizeof(worker));
    if (!ld->threads) return ssli_err(ssli_alloc_status(), "%s: out of memory", fn);
    worker *wks = (worker *)(ld->threads + nt);
    for (size_t t = 0; t < nt; t++) {
        wks[t].ld = ld;
        ssli_scratch_init(&wks[t].sc, ld->ctx);
        if (pthread_create(&ld->threads[t], NULL, worker_main, &wks[t]) != 0) {
            ld->nthreads = t;
            stop_workers(ld);
            ld->active = false;
            return ssli_err(SSLK_E_INTERNAL, "%s: cannot start worker thread %zu", fn, t);
        }
        ld->nthreads = t + 1;
        sslk_status ps = ld->npin ? ssli_pin_thread(ld->threads[t], &ld->pin[t % (size_t)ld->npin], 1, fn) : SSLK_OK;
        if (ps != SSLK_OK) {
            stop_workers(ld);
            ld->active = false;
            return ps;
        }
    }
    return SSLK_OK;
}

/* Deliver batch ld->delivered (it may have no rows left after skips). */
static sslk_status next_batch(sslk_loader *ld, float *const *views, int32_t *labels, int64_t *indices,
                              size_t *rows) {
    static const char *fn = "sslk_loader_next";
    size_t b = ld->delivered, lo, want;
    shard_rows(ld, b, &lo, &want); /* this rank's rows of the batch (all of them unsharded) */
    slot *sl = &ld->slots[b % ld->nslots];
    double t = now_s();
    pthread_mutex_lock(&ld->mu);
    while (sl->done < want) pthread_cond_wait(&ld->cv_done, &ld->mu);
    pthread_mutex_unlock(&ld->mu);
    ld->wait_s += now_s() - t;
    if (sl->fail != SSLK_OK) {
        sslk_status s = sl->fail;
        char msg[512];
        memcpy(msg, sl->fail_msg, sizeof msg);
        stop_workers(ld);
        ld->active = false;
        return ssli_err(s, "%s: epoch %llu batch %zu: %s", fn, (unsigned long long)ld->epoch, b, msg);
    }
    /* Copy the rows that succeeded, in order (skipped rows leave no hole);
     * a whole batch goes view by view over the context's threads (issue 16:
     * 1.6 MB per default VICReg step, serial in the consumer before). */
    size_t n = 0, good = 0;
    for (size_t r = 0; r < want; r++) good += sl->ok[r] != 0;
    if (good == want) {
        for (size_t v = 0; v < ld->nviews; v++)
            ssli_par_copy(ld->ctx, views[v], sl->views[v], want * ld->vc[v] * ld->vh[v] * ld->vw[v]);
        if (labels) memcpy(labels, sl->labels, want * sizeof *labels);
        if (indices) memcpy(indices, sl->index, want * sizeof *indices);
        n = want;
    }
    for (size_t r = 0; r < want && good != want; r++) {
        if (!sl->ok[r]) continue;
        for (size_t v = 0; v < ld->nviews; v++) {
            size_t per = ld->vc[v] * ld->vh[v] * ld->vw[v];
            memcpy(views[v] + n * per, sl->views[v] + r * per, per * sizeof(float));
        }
        if (labels) labels[n] = sl->labels[r];
        if (indices) indices[n] = sl->index[r];
        n++;
    }
    pthread_mutex_lock(&ld->mu);
    sl->done = 0;
    sl->fail = SSLK_OK;
    ld->delivered++;
    ld->images += n;
    pthread_cond_broadcast(&ld->cv_work);
    pthread_mutex_unlock(&ld->mu);
    ld->t_last = now_s();
    *rows = n;
    return SSLK_OK;
}

sslk_status sslk_loader_next(sslk_loader *ld, float *const *views, int32_t *labels, int64_t *indices,
                             size_t *rows) {
    static const char *fn = "sslk_loader_next";
    SSLI_CHECK_PTR(ld, fn);
    SSLI_CHECK_PTR(views, fn);
    SSLI_CHECK_PTR(rows, fn);
    *rows = 0;
    if (!ld->active)
        return ssli_err(SSLK_E_STATE, "%s: no epoch in progress (call sslk_loader_begin_epoch; an epoch also ends "
                        "after a corrupt item under the FAIL policy)", fn);
    for (size_t v = 0; v < ld->nviews; v++)
        if (!views[v]) return ssli_err(SSLK_E_INVALID_ARG, "%s: views[%zu] is NULL", fn, v);
    /* a batch whose every item was skipped is passed over, except in a shard
     * (the other ranks may have rows in it: every rank returns every batch) */
    if (ld->shard_p > 1) {
        if (ld->delivered < ld->nbatches) SSLI_TRY(next_batch(ld, views, labels, indices, rows));
        return SSLK_OK;
    }
    while (*rows == 0 && ld->delivered < ld->nbatches) SSLI_TRY(next_batch(ld, views, labels, indices, rows));
    return SSLK_OK;
}

sslk_status sslk_loader_stats_get(const sslk_loader *ld, sslk_loader_stats *st) {
    static const char *fn = "sslk_loader_stats_get";
    SSLI_CHECK_PTR(ld, fn);
    SSLI_CHECK_PTR(st, fn);
    SSLI_TRY(ssli_struct_check(st, SSLI_V10_LOADER_STATS, fn, "st"));
    sslk_loader_stats s;
    memset(&s, 0, sizeof s);
    pthread_mutex_t *mu = (pthread_mutex_t *)&ld->mu; /* counters are written under the lock */
    pthread_mutex_lock(mu);
    s.epoch = ld->epoch;
    s.batches = ld->delivered;
    s.images = ld->images;
    s.skipped = ld->skipped;
    s.failures = ld->failures;
    pthread_mutex_unlock(mu);
    s.seconds = ld->t_last - ld->t0;
    s.images_per_s = s.seconds > 0 ? (double)s.images / s.seconds : 0.0;
    s.wait_seconds = ld->wait_s;
    s.struct_size = sizeof s;
    ssli_struct_out(st, &s, sizeof s);
    return SSLK_OK;
}
