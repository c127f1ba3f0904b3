/* Trainer checkpoints: one file holding everything a resumed run needs
 * (method, settings, loss settings, network specs, every tensor of the
 * online and target networks including batch-norm buffers, the loss's own
 * tensors, the optimizer state, the step counters and the history), written
 * through an atomic temp file + rename and closed by a CRC32, so a crash
 * mid-write leaves the previous checkpoint in place and a damaged file is
 * refused (SSLK_E_FORMAT) rather than half-loaded.
 *
 * Layout (little-endian, native float32/float64):
 *   "SSLKTRN\1" u32 version=1 u32 method u64 epoch u64 global_step
 *   u32 nset {i32 key, f64 value}*   trainer settings
 *   u32 nloss {i32 key, f64 value}*  loss settings
 *   str enc_spec, str proj_spec      (u64 length + bytes)
 *   u64 dataset count, u64 classes
 *   u32 nmodels { u64 ntensors { u64 count, f32[count] }* }*
 *   u64 nlosstensors { u64 count, f32[count] }*
 *   u64 optimizer state bytes, bytes
 *   u64 nhist { epoch step spe gstep u64, loss f64, nterms u64, terms f64[8],
 *               lr ips rankme std seconds f64 }*
 *   issue-21 methods only (after the history, so older files are unchanged):
 *     predictor (BYOL, SimSiam, MoCo v3): u64 ntensors { u64 count, f32[count] }*
 *     MoCo v2 queue: u64 rows, u64 write pointer, f32[rows x projector width]
 *     DINO centre: u64 K (0 before the first step), f64[K]
 *   (the EMA schedule is a function of the step counter: nothing to store)
 *   u32 crc32 of everything before it
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "loss/loss_internal.h"
#include "nn/model_internal.h"
#include "train/trainer_dist.h"

#define CKPT_MAGIC "SSLKTRN\1"
#define CKPT_VERSION 1u
#define MAX_LOSS_SETTINGS 64

size_t ssli_train_fail_after_bytes = 0;

typedef struct wctx {
    ssli_atomic_file f;
    uLong crc;
    size_t written;
    sslk_status st;
    const char *fn;
} wctx;

static void wbytes(wctx *w, const void *p, size_t n) {
    if (w->st != SSLK_OK || n == 0) return;
    if (ssli_train_fail_after_bytes && w->written + n > ssli_train_fail_after_bytes) {
        size_t part = ssli_train_fail_after_bytes > w->written ? ssli_train_fail_after_bytes - w->written : 0;
        if (part) ssli_atomic_write(&w->f, p, part, w->fn);
        w->st = ssli_err(SSLK_E_IO, "%s: simulated interruption after %zu bytes", w->fn, ssli_train_fail_after_bytes);
        return;
    }
    const unsigned char *b = p;
    for (size_t off = 0; off < n;) { /* crc32 takes uInt lengths */
        size_t k = n - off > (1u << 30) ? (1u << 30) : n - off;
        w->crc = crc32(w->crc, b + off, (uInt)k);
        off += k;
    }
    w->st = ssli_atomic_write(&w->f, p, n, w->fn);
    w->written += n;
}
static void w32(wctx *w, uint32_t v) { wbytes(w, &v, 4); }
static void w64(wctx *w, uint64_t v) { wbytes(w, &v, 8); }
static void wf64(wctx *w, double v) { wbytes(w, &v, 8); }
static void wstr(wctx *w, const char *s) {
    w64(w, strlen(s));
    wbytes(w, s, strlen(s));
}

static void wmodel(wctx *w, sslk_model *m) {
    size_t cnt = 0;
    if (w->st == SSLK_OK) w->st = sslk_model_param_count(m, &cnt);
    w64(w, cnt);
    for (size_t i = 0; i < cnt && w->st == SSLK_OK; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        w->st = sslk_model_param(m, i, &v);
        w64(w, v.count);
        wbytes(w, v.data, v.count * sizeof(float));
    }
}

static size_t loss_setting_keys(const sslk_loss *loss, int *keys) {
    sslk_loss_kind kind;
    const char *dom;
    size_t n = 0, got = 0;
    if (sslk_loss_get_kind(loss, &kind) != SSLK_OK || sslk_loss_kind_domain(kind, &dom) != SSLK_OK) return 0;
    if (sslk_setting_list(dom, keys, MAX_LOSS_SETTINGS / 2, &got) == SSLK_OK)
        n = got < MAX_LOSS_SETTINGS / 2 ? got : MAX_LOSS_SETTINGS / 2;
    if (sslk_setting_list("loss", keys + n, MAX_LOSS_SETTINGS / 2, &got) == SSLK_OK)
        n += got < MAX_LOSS_SETTINGS / 2 ? got : MAX_LOSS_SETTINGS / 2;
    return n;
}

sslk_status ssli_train_save(const sslk_trainer *tr, const char *path, const char *fn) {
    return ssli_train_save_full(tr, NULL, path, fn);
}

sslk_status ssli_train_save_full(const sslk_trainer *tr, const ssli_ckpt_full *full, const char *path,
                                 const char *fn) {
    wctx w = {.crc = crc32(0L, Z_NULL, 0), .fn = fn};
    SSLI_TRY(ssli_atomic_open(&w.f, path, fn));
    wbytes(&w, CKPT_MAGIC, 8);
    w32(&w, CKPT_VERSION);
    w32(&w, (uint32_t)tr->method);
    w64(&w, tr->epoch);
    w64(&w, tr->global_step);
    w32(&w, (uint32_t)ssli_settings_train.count);
    for (size_t i = 0; i < ssli_settings_train.count; i++) {
        w32(&w, (uint32_t)ssli_settings_train.defs[i].key);
        wf64(&w, tr->set[i]);
    }
    int keys[MAX_LOSS_SETTINGS];
    size_t nk = tr->loss ? loss_setting_keys(tr->loss, keys) : 0;
    w32(&w, (uint32_t)nk);
    for (size_t i = 0; i < nk; i++) {
        double v = 0;
        if (sslk_loss_get_f64(tr->loss, keys[i], &v) != SSLK_OK) v = NAN;
        w32(&w, (uint32_t)keys[i]);
        wf64(&w, v);
    }
    wstr(&w, tr->enc_spec);
    wstr(&w, tr->proj_spec);
    w64(&w, tr->n_all);
    w64(&w, tr->nclasses);
    sslk_model *ms[4] = {tr->enc, tr->proj, tr->tenc, tr->tproj};
    uint32_t nm = tr->tenc ? 4 : 2;
    w32(&w, nm);
    for (uint32_t i = 0; i < nm; i++) wmodel(&w, ms[i]);
    size_t lc = 0;
    if (tr->loss && w.st == SSLK_OK) w.st = sslk_loss_param_count(tr->loss, &lc);
    w64(&w, lc);
    for (size_t i = 0; i < lc && w.st == SSLK_OK; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        w.st = sslk_loss_param(tr->loss, i, &v);
        if (full && i == 0) { /* DIET's head assembled from the ranks' shards */
            v.data = full->head;
            v.count = full->head_count;
        }
        w64(&w, v.count);
        wbytes(&w, v.data, v.count * sizeof(float));
    }
    size_t ob = 0;
    if (full) {
        w64(&w, full->blob_len);
        wbytes(&w, full->blob, full->blob_len);
    } else {
        if (w.st == SSLK_OK) w.st = sslk_optim_state_size(tr->opt, &ob);
        void *blob = w.st == SSLK_OK ? ssli_malloc(tr->ctx, ob ? ob : 1, 1) : NULL;
        if (w.st == SSLK_OK && !blob) w.st = ssli_alloc_status();
        if (w.st == SSLK_OK) w.st = sslk_optim_state_get(tr->opt, blob, ob);
        w64(&w, ob);
        wbytes(&w, blob, ob);
        ssli_free(tr->ctx, blob);
    }
    w64(&w, tr->nhist);
    for (size_t i = 0; i < tr->nhist; i++) {
        const sslk_train_progress *h = &tr->hist[i];
        w64(&w, h->epoch);
        w64(&w, h->step);
        w64(&w, h->steps_per_epoch);
        w64(&w, h->global_step);
        wf64(&w, h->loss);
        w64(&w, h->num_terms);
        for (int t = 0; t < 8; t++) wf64(&w, h->terms[t]);
        wf64(&w, h->lr);
        wf64(&w, h->images_per_s);
        wf64(&w, h->rankme);
        wf64(&w, h->embed_std);
        wf64(&w, h->seconds);
    }
    if (tr->pred) wmodel(&w, tr->pred);
    if (tr->queue) {
        const float *rows = NULL;
        size_t cnt = 0;
        if (w.st == SSLK_OK) w.st = sslk_negqueue_rows(tr->queue, &rows, &cnt);
        w64(&w, cnt);
        w64(&w, ssli_negqueue_ptr(tr->queue));
        wbytes(&w, rows, cnt * tr->dz * sizeof(float));
    }
    if (tr->md->loss == SSLK_LOSS_DINO) {
        size_t k = 0;
        if (w.st == SSLK_OK) w.st = sslk_loss_dino_center_size(tr->loss, &k);
        double *c = w.st == SSLK_OK ? ssli_malloc(tr->ctx, k ? k : 1, sizeof(double)) : NULL;
        if (w.st == SSLK_OK && !c) w.st = ssli_alloc_status();
        if (w.st == SSLK_OK && k) w.st = sslk_loss_dino_get_center(tr->loss, c, k);
        w64(&w, k);
        wbytes(&w, c, k * sizeof(double));
        ssli_free(tr->ctx, c);
    }
    uint32_t crc = (uint32_t)w.crc;
    if (w.st == SSLK_OK) w.st = ssli_atomic_write(&w.f, &crc, 4, fn);
    if (w.st != SSLK_OK) {
        ssli_atomic_abort(&w.f);
        return w.st;
    }
    return ssli_atomic_commit(&w.f, fn);
}

sslk_status sslk_trainer_save(const sslk_trainer *tr, const char *path) {
    static const char *fn = "sslk_trainer_save";
    SSLI_CHECK_PTR(tr, fn);
    SSLI_CHECK_PTR(path, fn);
    if (tr->mid_epoch)
        return ssli_err(SSLK_E_STATE, "%s: training stopped inside epoch %llu; only epoch boundaries are saved", fn,
                        (unsigned long long)tr->epoch);
    if (ssli_train_head_sharded((sslk_trainer *)tr)) { /* collective: rank 0 writes the assembled head */
        ssli_ckpt_full full = {0};
        SSLI_TRY(ssli_train_gather_head((sslk_trainer *)tr, &full, fn));
        sslk_status s = ssli_dist(tr->ctx)->rank == 0 ? ssli_train_save_full(tr, &full, path, fn) : SSLK_OK;
        ssli_train_full_free(tr, &full);
        return s;
    }
    return ssli_train_save(tr, path, fn);
}

/* ---- reading ------------------------------------------------------------------ */
typedef struct rctx {
    const unsigned char *p;
    size_t n, off;
    bool bad;
} rctx;

static const void *rbytes(rctx *r, size_t n) {
    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return NULL;
    }
    const void *q = r->p + r->off;
    r->off += n;
    return q;
}
static uint32_t r32(rctx *r) {
    uint32_t v = 0;
    const void *q = rbytes(r, 4);
    if (q) memcpy(&v, q, 4);
    return v;
}
static uint64_t r64(rctx *r) {
    uint64_t v = 0;
    const void *q = rbytes(r, 8);
    if (q) memcpy(&v, q, 8);
    return v;
}
static double rf64(rctx *r) {
    double v = 0;
    const void *q = rbytes(r, 8);
    if (q) memcpy(&v, q, 8);
    return v;
}

static sslk_status read_file(const sslk_ctx *ctx, const char *path, unsigned char **buf, size_t *len,
                             const char *fn) {
    FILE *f = fopen(path, "rb");
    if (!f) return ssli_err(SSLK_E_IO, "%s: cannot open '%s'", fn, path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return ssli_err(SSLK_E_IO, "%s: cannot seek '%s'", fn, path);
    }
    long sz = ftell(f);
    if (sz < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return ssli_err(SSLK_E_IO, "%s: cannot size '%s'", fn, path);
    }
    unsigned char *b = ssli_malloc(ctx, (size_t)sz + 1, 1);
    if (!b) {
        fclose(f);
        return ssli_alloc_status();
    }
    size_t got = fread(b, 1, (size_t)sz, f);
    fclose(f);
    if (got != (size_t)sz) {
        ssli_free(ctx, b);
        return ssli_err(SSLK_E_IO, "%s: short read of '%s'", fn, path);
    }
    *buf = b;
    *len = (size_t)sz;
    return SSLK_OK;
}

/* A CRC only proves the bytes are the ones written: a tensor must also hold
 * finite values, and a batch-norm running variance no negative one (the
 * .sslk and safetensors loaders refuse the same). */
static sslk_status check_values(const sslk_param_view *v, const char *what, const char *fn) {
    size_t i = ssli_first_nonfinite_f32(v->data, v->count);
    if (i != SIZE_MAX)
        return ssli_err(SSLK_E_NONFINITE, "%s: %s tensor '%s' holds %g at %zu", fn, what, v->name ? v->name : "?",
                        (double)v->data[i], i);
    i = v->name ? ssli_param_negative_var(v) : SIZE_MAX;
    if (i != SIZE_MAX)
        return ssli_err(SSLK_E_FORMAT, "%s: %s tensor '%s' holds a negative variance %g at %zu", fn, what, v->name,
                        (double)v->data[i], i);
    return SSLK_OK;
}

static sslk_status rtensors_into_model(rctx *r, sslk_model *m, const char *what, const char *fn) {
    size_t cnt = 0;
    SSLI_TRY(sslk_model_param_count(m, &cnt));
    uint64_t nt = r64(r);
    if (r->bad || nt != cnt)
        return ssli_err(SSLK_E_FORMAT, "%s: %s has %llu tensors in the file, %zu in the network", fn, what,
                        (unsigned long long)nt, cnt);
    for (size_t i = 0; i < cnt; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        SSLI_TRY(sslk_model_param(m, i, &v));
        uint64_t c = r64(r);
        const void *d = r->bad || c != v.count ? NULL : rbytes(r, c * sizeof(float));
        if (!d)
            return ssli_err(SSLK_E_FORMAT, "%s: %s tensor %zu ('%s') has %llu values in the file, %zu expected", fn,
                            what, i, v.name ? v.name : "?", (unsigned long long)c, v.count);
        memcpy(v.data, d, v.count * sizeof(float));
        SSLI_TRY(check_values(&v, what, fn));
    }
    return SSLK_OK;
}

static sslk_status load_into(sslk_trainer **trp, sslk_ctx *ctx, rctx *r, sslk_dataset *data, const char *fn) {
    const void *mg = rbytes(r, 8);
    if (!mg || memcmp(mg, CKPT_MAGIC, 8) != 0) return ssli_err(SSLK_E_FORMAT, "%s: not an sslkit checkpoint", fn);
    uint32_t ver = r32(r), method = r32(r);
    if (ver != CKPT_VERSION) return ssli_err(SSLK_E_FORMAT, "%s: checkpoint version %u unsupported", fn, ver);
    if (!sslk_method_name((sslk_method)method)) return ssli_err(SSLK_E_FORMAT, "%s: unknown method %u", fn, method);
    uint64_t epoch = r64(r), gstep = r64(r);
    uint32_t nset = r32(r);
    if (r->bad || nset > 4096) return ssli_err(SSLK_E_FORMAT, "%s: truncated header", fn);
    size_t set_off = r->off;
    if (!rbytes(r, (size_t)nset * 12)) return ssli_err(SSLK_E_FORMAT, "%s: truncated settings", fn);
    uint32_t nloss = r32(r);
    if (r->bad || nloss > 4096) return ssli_err(SSLK_E_FORMAT, "%s: truncated loss settings", fn);
    size_t loss_off = r->off;
    if (!rbytes(r, (size_t)nloss * 12)) return ssli_err(SSLK_E_FORMAT, "%s: truncated loss settings", fn);
    char *spec[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        uint64_t l = r64(r);
        const char *s = r->bad || l > 65536 ? NULL : rbytes(r, l);
        if (!s) {
            ssli_free(ctx, spec[0]);
            return ssli_err(SSLK_E_FORMAT, "%s: bad network spec", fn);
        }
        spec[i] = ssli_malloc(ctx, l + 1, 1);
        if (!spec[i]) {
            ssli_free(ctx, spec[0]);
            return ssli_alloc_status();
        }
        memcpy(spec[i], s, l);
        spec[i][l] = 0;
    }
    uint64_t dn = r64(r), dc = r64(r);
    sslk_trainer *tr = NULL;
    sslk_status st = sslk_trainer_create(ctx, (sslk_method)method, data, spec[0], spec[1], &tr);
    ssli_free(ctx, spec[0]);
    ssli_free(ctx, spec[1]);
    SSLI_TRY(st);
    *trp = tr;
    if (dn != tr->n_all || dc != tr->nclasses)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: the checkpoint was trained on %llu items / %llu classes, this dataset "
                        "has %zu / %zu", fn, (unsigned long long)dn, (unsigned long long)dc, tr->n_all, tr->nclasses);
    /* settings, then networks rebuilt with them */
    rctx rs = {r->p, r->n, set_off, false};
    for (uint32_t i = 0; i < nset; i++) {
        int key = (int)r32(&rs);
        double v = rf64(&rs);
        int idx = ssli_setting_index(&ssli_settings_train, key);
        if (idx < 0) continue; /* a setting from a later version */
        if (!(v >= ssli_settings_train.defs[idx].lo && v <= ssli_settings_train.defs[idx].hi))
            return ssli_err(SSLK_E_FORMAT, "%s: setting %d = %g out of bounds", fn, key, v);
        tr->set[idx] = v;
    }
    SSLI_TRY(ssli_train_rebuild(tr));
    rctx rl = {r->p, r->n, loss_off, false};
    for (uint32_t i = 0; i < nloss && tr->loss; i++) {
        int key = (int)r32(&rl);
        double v = rf64(&rl), cur = NAN;
        if (sslk_loss_get_f64(tr->loss, key, &cur) != SSLK_OK || cur == v || !isfinite(v)) continue;
        SSLI_TRY(sslk_loss_set_f64(tr->loss, key, v));
    }
    uint32_t nm = r32(r);
    if (nm != (tr->tenc ? 4u : 2u)) return ssli_err(SSLK_E_FORMAT, "%s: %u networks in the file", fn, nm);
    sslk_model *ms[4] = {tr->enc, tr->proj, tr->tenc, tr->tproj};
    static const char *names[4] = {"encoder", "projector", "target encoder", "target projector"};
    for (uint32_t i = 0; i < nm; i++) SSLI_TRY(rtensors_into_model(r, ms[i], names[i], fn));
    uint64_t lc = r64(r);
    size_t have = 0;
    if (tr->loss) SSLI_TRY(sslk_loss_param_count(tr->loss, &have));
    if (r->bad || lc != have) return ssli_err(SSLK_E_FORMAT, "%s: %llu loss tensors in the file, %zu expected", fn,
                                              (unsigned long long)lc, have);
    const bool sharded = ssli_train_head_sharded(tr) && have == 1;
    if (sharded) { /* this rank's rows of DIET's whole head */
        uint64_t c = r64(r);
        const float *head = r->bad || c > (r->n - r->off) / sizeof(float) ? NULL : rbytes(r, c * sizeof(float));
        uint64_t ob = head ? r64(r) : 0;
        const unsigned char *blob = !head || r->bad ? NULL : rbytes(r, ob);
        if (!blob) return ssli_err(SSLK_E_FORMAT, "%s: truncated DIET head or optimizer state", fn);
        SSLI_TRY(ssli_train_slice_head(tr, head, c, blob, ob, fn));
        sslk_param_view v = {.struct_size = sizeof v};
        SSLI_TRY(sslk_loss_param(tr->loss, 0, &v));
        SSLI_TRY(check_values(&v, "loss", fn));
    }
    for (size_t i = 0; !sharded && i < have; i++) {
        sslk_param_view v = {.struct_size = sizeof v};
        SSLI_TRY(sslk_loss_param(tr->loss, i, &v));
        uint64_t c = r64(r);
        const void *d = r->bad || c != v.count ? NULL : rbytes(r, c * sizeof(float));
        if (!d) return ssli_err(SSLK_E_FORMAT, "%s: loss tensor %zu size mismatch", fn, i);
        memcpy(v.data, d, v.count * sizeof(float));
        SSLI_TRY(check_values(&v, "loss", fn));
    }
    if (!sharded) {
        uint64_t ob = r64(r);
        const void *blob = r->bad ? NULL : rbytes(r, ob);
        if (!blob) return ssli_err(SSLK_E_FORMAT, "%s: truncated optimizer state", fn);
        SSLI_TRY(sslk_optim_state_set(tr->opt, blob, ob));
    }
    uint64_t nh = r64(r);
    if (r->bad || nh != epoch || nh > (r->n - r->off) / 8)
        return ssli_err(SSLK_E_FORMAT, "%s: history holds %llu epochs for epoch %llu", fn, (unsigned long long)nh,
                        (unsigned long long)epoch);
    tr->hist = ssli_calloc(ctx, nh ? nh : 1, sizeof *tr->hist);
    if (!tr->hist) return ssli_alloc_status();
    tr->hcap = nh ? nh : 1;
    const char *tn[8] = {0};
    size_t ntn = 0;
    if (sslk_loss_num_terms(tr->loss, &ntn) != SSLK_OK) ntn = 0; /* every method has a loss */
    for (size_t i = 0; i < ntn && i < 8; i++)
        if (sslk_loss_term_name(tr->loss, i, &tn[i]) != SSLK_OK) tn[i] = "?";
    for (uint64_t i = 0; i < nh; i++) {
        sslk_train_progress *h = &tr->hist[i];
        h->struct_size = sizeof *h;
        h->epoch = r64(r);
        h->step = r64(r);
        h->steps_per_epoch = r64(r);
        h->global_step = r64(r);
        h->loss = rf64(r);
        h->num_terms = r64(r);
        if (h->num_terms > 8) r->bad = true;
        for (int t = 0; t < 8; t++) h->terms[t] = rf64(r);
        for (size_t t = 0; t < 8; t++) h->term_names[t] = t < ntn ? tn[t] : NULL;
        h->lr = rf64(r);
        h->images_per_s = rf64(r);
        h->rankme = rf64(r);
        h->embed_std = rf64(r);
        h->seconds = rf64(r);
    }
    if (tr->pred && !r->bad) SSLI_TRY(rtensors_into_model(r, tr->pred, "predictor", fn));
    if (tr->queue && !r->bad) {
        uint64_t cnt = r64(r), ptr = r64(r), cap = (uint64_t)ssli_train_get(tr, SSLK_TRAIN_QUEUE);
        const void *rows = r->bad || cnt > cap ? NULL : rbytes(r, (size_t)cnt * tr->dz * sizeof(float));
        if (!rows) return ssli_err(SSLK_E_FORMAT, "%s: truncated MoCo queue (%llu rows of %llu)", fn,
                                   (unsigned long long)cnt, (unsigned long long)cap);
        float *tmp = ssli_malloc(ctx, cnt ? (size_t)cnt * tr->dz : 1, sizeof(float)); /* aligned copy */
        if (!tmp) return ssli_alloc_status();
        memcpy(tmp, rows, (size_t)cnt * tr->dz * sizeof(float));
        sslk_status qs = ssli_negqueue_restore(tr->queue, tmp, (size_t)cnt, (size_t)ptr);
        ssli_free(ctx, tmp);
        SSLI_TRY(qs);
    }
    if (tr->md->loss == SSLK_LOSS_DINO && !r->bad) {
        uint64_t k = r64(r);
        const void *c = r->bad || k != tr->dz * (k != 0) ? NULL : rbytes(r, (size_t)k * sizeof(double));
        if (!c && k) return ssli_err(SSLK_E_FORMAT, "%s: DINO centre of %llu values (head width %zu)", fn,
                                     (unsigned long long)k, tr->dz);
        if (k) {
            double *tmp = ssli_malloc(ctx, (size_t)k, sizeof(double)); /* aligned copy */
            if (!tmp) return ssli_alloc_status();
            memcpy(tmp, c, (size_t)k * sizeof(double));
            sslk_status cs = sslk_loss_dino_set_center(tr->loss, tmp, (size_t)k);
            ssli_free(ctx, tmp);
            SSLI_TRY(cs);
        }
    }
    if (r->bad || r->off != r->n) return ssli_err(SSLK_E_FORMAT, "%s: malformed history or trailing bytes", fn);
    tr->nhist = nh;
    tr->epoch = epoch;
    tr->global_step = gstep;
    return SSLK_OK;
}

sslk_status sslk_trainer_load(sslk_ctx *ctx, const char *path, sslk_dataset *data, sslk_trainer **out) {
    static const char *fn = "sslk_trainer_load";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(path, fn);
    SSLI_CHECK_PTR(data, fn);
    unsigned char *buf = NULL;
    size_t len = 0;
    SSLI_TRY(read_file(ctx, path, &buf, &len, fn));
    sslk_status st = ssli_trainer_load_buffer(ctx, buf, len, path, data, fn, out);
    ssli_free(ctx, buf);
    return st;
}

sslk_status ssli_trainer_load_buffer(sslk_ctx *ctx, const unsigned char *buf, size_t len, const char *path,
                                     sslk_dataset *data, const char *fn, sslk_trainer **out) {
    *out = NULL;
    sslk_status st = SSLK_OK;
    if (len < 12) st = ssli_err(SSLK_E_FORMAT, "%s: '%s' is too short (%zu bytes) to be a checkpoint", fn, path, len);
    uint32_t want = 0;
    if (st == SSLK_OK) {
        memcpy(&want, buf + len - 4, 4);
        uLong crc = crc32(0L, Z_NULL, 0);
        for (size_t off = 0; off < len - 4;) {
            size_t k = len - 4 - off > (1u << 30) ? (1u << 30) : len - 4 - off;
            crc = crc32(crc, buf + off, (uInt)k);
            off += k;
        }
        if ((uint32_t)crc != want)
            st = ssli_err(SSLK_E_FORMAT, "%s: '%s' is corrupt or truncated (CRC mismatch)", fn, path);
    }
    sslk_trainer *tr = NULL;
    if (st == SSLK_OK) {
        rctx r = {buf, len - 4, 0, false};
        st = load_into(&tr, ctx, &r, data, fn);
    }
    if (st != SSLK_OK) {
        sslk_trainer_destroy(tr);
        return st;
    }
    *out = tr;
    return SSLK_OK;
}
