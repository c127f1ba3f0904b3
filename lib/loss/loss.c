/* The sslk_loss handle: kinds, settings dispatch, input validation, terms and
 * owned parameters.  The maths lives in one file per kind.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "core/par.h"
#include "core/struct_sizes.h"
#include "dist/dist_internal.h"
#include "loss_dist.h"
#include "loss_internal.h"

static const ssli_setting_def loss_defs[] = {
    {SSLK_LOSS_PRECISION, "precision", SSLK_SETTING_I64, 0, 1, 0,
     "0 = float32 GEMMs with double reductions (fast); 1 = every step in double"},
};
static const ssli_setting_choices loss_choices[] = {
    {SSLK_LOSS_PRECISION, (const char *const[]){"float", "double", NULL}},
    {0, NULL},
};
const ssli_setting_table ssli_settings_loss = {"loss", loss_defs,
                                               sizeof loss_defs / sizeof loss_defs[0], loss_choices};

static const ssli_loss_vt *vt_of(sslk_loss_kind k) {
    if (k == SSLK_LOSS_XENT) return &ssli_loss_xent_vt; /* experimental, outside the frozen enum */
    if (k == SSLK_LOSS_BARLOW_TWINS) return &ssli_loss_barlow_vt; /* issue 21 */
    if (k == SSLK_LOSS_NEGCOS) return &ssli_loss_negcos_vt;
    if (k == SSLK_LOSS_MOCO) return &ssli_loss_moco_vt; /* issue 21c */
    if (k == SSLK_LOSS_DINO) return &ssli_loss_dino_vt;
    if (k == SSLK_LOSS_SWAV) return &ssli_loss_swav_vt; /* issue 21b */
    switch (k) {
    case SSLK_LOSS_VICREG: return &ssli_loss_vicreg_vt;
    case SSLK_LOSS_VICREG_LOGDET: return &ssli_loss_logdet_vt;
    case SSLK_LOSS_VICREG_PAIRDIST: return &ssli_loss_pairdist_vt;
    case SSLK_LOSS_INFONCE: return &ssli_loss_infonce_vt;
    case SSLK_LOSS_INFONCE_SYMMETRIC: return &ssli_loss_infonce_sym_vt;
    case SSLK_LOSS_DIET: return &ssli_loss_diet_vt;
    case SSLK_LOSS_MSN: return &ssli_loss_msn_vt;
    }
    return NULL;
}

sslk_status sslk_loss_kind_domain(sslk_loss_kind kind, const char **domain) {
    SSLI_CHECK_PTR(domain, "sslk_loss_kind_domain");
    const ssli_loss_vt *vt = vt_of(kind);
    if (!vt) return ssli_err(SSLK_E_INVALID_ARG, "sslk_loss_kind_domain: unknown kind %d", (int)kind);
    *domain = vt->settings->domain;
    return SSLK_OK;
}

sslk_status sslk_loss_create(sslk_ctx *ctx, sslk_loss_kind kind, sslk_loss **out) {
    SSLI_CHECK_PTR(out, "sslk_loss_create");
    *out = NULL;
    SSLI_CHECK_PTR(ctx, "sslk_loss_create");
    const ssli_loss_vt *vt = vt_of(kind);
    if (!vt) return ssli_err(SSLK_E_INVALID_ARG, "sslk_loss_create: 'kind' = %d is not a sslk_loss_kind", (int)kind);
    sslk_loss *L = ssli_calloc(ctx, 1, sizeof *L);
    if (!L) return ssli_alloc_status();
    L->ctx = ctx;
    L->vt = vt;
    L->seed = ctx->seed;
    ssli_setting_defaults(vt->settings, L->set);
    ssli_setting_defaults(&ssli_settings_loss, L->gen);
    *out = L;
    return SSLK_OK;
}

void sslk_loss_destroy(sslk_loss *L) {
    if (!L) return;
    ssli_free(L->ctx, L->param.data);
    ssli_free(L->ctx, L->param.grad);
    ssli_free(L->ctx, L->prior);
    ssli_free(L->ctx, L->ws);
    ssli_free(L->ctx, L->dino_center);
    ssli_free(L->ctx, L);
}

sslk_status sslk_loss_get_kind(const sslk_loss *L, sslk_loss_kind *kind) {
    SSLI_CHECK_PTR(L, "sslk_loss_get_kind");
    SSLI_CHECK_PTR(kind, "sslk_loss_get_kind");
    *kind = L->vt->kind;
    return SSLK_OK;
}

double ssli_loss_setting(const sslk_loss *L, int key) {
    int i = ssli_setting_index(L->vt->settings, key);
    return i < 0 ? 0.0 : L->set[i];
}

static sslk_status set_any(sslk_loss *L, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_CHECK_PTR(L, fn);
    if (ssli_setting_index(&ssli_settings_loss, key) >= 0)
        return ssli_setting_set(&ssli_settings_loss, L->gen, key, v, as, fn);
    if (ssli_setting_index(L->vt->settings, key) < 0)
        return ssli_err(SSLK_E_SETTING, "%s: setting key %d does not belong to a '%s' loss", fn, key,
                        L->vt->settings->domain);
    if (L->param_ready && L->vt->size_keys)
        for (const int *k = L->vt->size_keys; *k >= 0; k++)
            if (*k == key && v != ssli_loss_setting(L, key))
                return ssli_err(SSLK_E_STATE, "%s: setting %d fixes the parameter shape and the "
                                "parameters already exist", fn, key);
    return ssli_setting_set(L->vt->settings, L->set, key, v, as, fn);
}

static sslk_status get_any(const sslk_loss *L, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(L, fn);
    if (ssli_setting_index(&ssli_settings_loss, key) >= 0)
        return ssli_setting_get(&ssli_settings_loss, L->gen, key, v, fn);
    return ssli_setting_get(L->vt->settings, L->set, key, v, fn);
}

SSLI_SETTINGS_ACCESSORS(sslk_loss, sslk_loss, set_any, get_any)

static sslk_status set_prior(sslk_loss *L, const float *pf, const double *pd, size_t k, const char *fn);

sslk_status sslk_loss_set_prior(sslk_loss *L, const float *p, size_t k) {
    SSLI_CHECK_PTR(p, "sslk_loss_set_prior");
    return set_prior(L, p, NULL, k, "sslk_loss_set_prior");
}

sslk_status sslk_loss_set_prior_f64(sslk_loss *L, const double *p, size_t k) {
    SSLI_CHECK_PTR(p, "sslk_loss_set_prior_f64");
    return set_prior(L, NULL, p, k, "sslk_loss_set_prior_f64");
}

/* one of pf / pd: the prior in float or double; renormalised in double */
static sslk_status set_prior(sslk_loss *L, const float *pf, const double *pd, size_t k, const char *fn) {
    SSLI_CHECK_PTR(L, fn);
    if (L->vt->kind != SSLK_LOSS_MSN)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: only MSN losses take a prior", fn);
    size_t K = (size_t)ssli_loss_setting(L, SSLK_MSN_NUM_PROTOTYPES);
    if (k != K)
        return ssli_err(SSLK_E_SHAPE, "%s: 'k' = %zu but num_prototypes = %zu", fn, k, K);
    if (pf) SSLI_TRY(ssli_check_finite_f32(pf, 1, k, fn, "p"));
    double s = 0;
    for (size_t i = 0; i < k; i++) {
        double v = pf ? (double)pf[i] : pd[i];
        if (!isfinite(v)) return ssli_err(SSLK_E_NONFINITE, "%s: 'p[%zu]' = %g is not finite", fn, i, v);
        if (!(v > 0))
            return ssli_err(SSLK_E_INVALID_ARG, "%s: 'p[%zu]' = %g: a prior needs every entry > 0", fn, i, v);
        s += v;
    }
    if (fabs(s - 1.0) > 1e-3)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'p' sums to %.9g, not 1: not a probability vector", fn, s);
    double *q = ssli_malloc(L->ctx, k, sizeof *q);
    if (!q) return ssli_alloc_status();
    for (size_t i = 0; i < k; i++) q[i] = (pf ? (double)pf[i] : pd[i]) / s;
    ssli_free(L->ctx, L->prior);
    L->prior = q;
    L->prior_k = k;
    L->set[ssli_setting_index(L->vt->settings, SSLK_MSN_PRIOR)] = SSLK_MSN_PRIOR_USER;
    return SSLK_OK;
}

/* ---- compute ----------------------------------------------------------------- */

size_t ssli_loss_first_nonfinite(const float *x, size_t cnt) {
    for (size_t b = 0; b < cnt; b += 4096) {
        size_t e = b + 4096 < cnt ? b + 4096 : cnt;
        /* exponent bits all ones = NaN / Inf; an integer OR reduction vectorises */
        uint32_t bad = 0;
        for (size_t i = b; i < e; i++) {
            uint32_t u;
            memcpy(&u, x + i, sizeof u);
            bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        if (!bad) continue;
        for (size_t i = b; i < e; i++)
            if (!isfinite(x[i])) return i;
    }
    return cnt;
}

/* Finite inputs can still give gradients beyond float32 (double precision on
 * inputs ~1e20, or float GEMMs overflowing): refuse them rather than hand back
 * Inf / NaN that an optimizer would spread into the weights. */
static sslk_status check_grads(const sslk_loss *L, const sslk_loss_batch *b, float *const *grads, const char *fn) {
    for (size_t v = 0; v < b->num_views; v++) {
        if (!grads[v]) continue;
        size_t e = ssli_par_first_nonfinite(L->ctx, grads[v], b->n * b->d, NULL);
        if (e < b->n * b->d)
            return ssli_err(SSLK_E_NUMERIC, "%s: %s loss: the gradient of views[%zu] is %g at row %zu, column %zu "
                            "(float32 overflow: rescale the inputs)", fn, L->vt->fn, v, (double)grads[v][e],
                            e / b->d, e % b->d);
    }
    if (L->param_ready) {
        size_t e = ssli_loss_first_nonfinite(L->param.grad, L->param.count);
        if (e < L->param.count)
            return ssli_err(SSLK_E_NUMERIC, "%s: %s loss: the accumulated gradient of '%s' is %g at row %zu, "
                            "column %zu (float32 overflow; sslk_loss_zero_grad clears it)", fn, L->vt->fn,
                            L->param.name, (double)L->param.grad[e], e / L->pcols, e % L->pcols);
    }
    return SSLK_OK;
}

/* This rank's own input checks (kept apart so that, across ranks, a refusal
 * still takes part in the agreement step: lib/loss/dist_gather.c). */
static sslk_status check_batch(const sslk_ctx *ctx, const sslk_loss_batch *b, const char *fn) {
    if (!b->views) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'batch->views' is NULL", fn);
    if (b->num_views == 0 || b->num_views > 4096)
        return ssli_err(SSLK_E_SHAPE, "%s: 'batch->num_views' = %zu (1..4096)", fn, b->num_views);
    if (b->n == 0 || b->d == 0)
        return ssli_err(SSLK_E_SHAPE, "%s: empty batch (n = %zu, d = %zu)", fn, b->n, b->d);
    size_t tot;
    if (ssli_mul3_overflow(b->n, b->d, b->num_views, &tot) || ssli_mul_overflow(tot, 8, &tot) ||
        tot > ((size_t)1 << 60))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu x d = %zu x views = %zu overflows", fn, b->n,
                        b->d, b->num_views);
    char arg[32];
    for (size_t v = 0; v < b->num_views; v++) {
        if (!b->views[v]) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'batch->views[%zu]' is NULL", fn, v);
        snprintf(arg, sizeof arg, "views[%zu]", v);
        SSLI_TRY(ssli_par_check_finite(ctx, b->views[v], b->n, b->d, NULL, fn, arg));
    }
    if (b->targets) SSLI_TRY(ssli_par_check_finite(ctx, b->targets, b->n, b->d, NULL, fn, "targets"));
    return SSLK_OK;
}

sslk_status sslk_loss_compute(sslk_loss *L, const sslk_loss_batch *caller_b, double *value,
                              float *const *grads) {
    const char *fn = "sslk_loss_compute";
    SSLI_CHECK_PTR(L, fn);
    sslk_loss_batch batch = {0};
    sslk_status local = ssli_struct_in(&batch, sizeof batch, caller_b, SSLI_V10_LOSS_BATCH, fn, "batch");
    const sslk_loss_batch *b = &batch;
    if (local == SSLK_OK) local = check_batch(L->ctx, b, fn);
    ssli_loss_in in = {b->views, b->num_views, b->n, b->d, b->indices, b->targets, grads};
    L->have_terms = false;
    double v = 0;
    /* with no collectives table: local, else the kind's compute, as before */
    SSLI_TRY(ssli_loss_dist_compute(L, local, &in, &v, fn));
    if (!isfinite(v))
        return ssli_err(SSLK_E_NUMERIC, "%s: %s loss evaluated to %g", fn, L->vt->fn, v);
    if (grads) SSLI_TRY(check_grads(L, b, grads, fn));
    if (value) *value = v;
    L->have_terms = true;
    return SSLK_OK;
}

sslk_status sslk_loss_compute_pair(sslk_loss *L, const float *za, const float *zb, size_t n, size_t d,
                                   double *value, float *ga, float *gb) {
    SSLI_CHECK_PTR(za, "sslk_loss_compute_pair");
    SSLI_CHECK_PTR(zb, "sslk_loss_compute_pair");
    const float *views[2] = {za, zb};
    float *grads[2] = {ga, gb};
    sslk_loss_batch b = {sizeof b, views, 2, n, d, NULL, NULL};
    return sslk_loss_compute(L, &b, value, (ga || gb) ? grads : NULL);
}

sslk_status sslk_loss_compute_indexed(sslk_loss *L, const float *z, const int64_t *indices, size_t n,
                                      size_t d, double *value, float *gz) {
    SSLI_CHECK_PTR(z, "sslk_loss_compute_indexed");
    SSLI_CHECK_PTR(indices, "sslk_loss_compute_indexed");
    const float *views[1] = {z};
    float *grads[1] = {gz};
    sslk_loss_batch b = {sizeof b, views, 1, n, d, indices, NULL};
    return sslk_loss_compute(L, &b, value, gz ? grads : NULL);
}

sslk_status sslk_loss_compute_targets(sslk_loss *L, const float *anchors, size_t num_views,
                                      const float *targets, size_t n, size_t d, double *value,
                                      float *ganchors) {
    const char *fn = "sslk_loss_compute_targets";
    SSLI_CHECK_PTR(L, fn);
    SSLI_CHECK_PTR(anchors, fn);
    SSLI_CHECK_PTR(targets, fn);
    if (num_views == 0 || num_views > 4096)
        return ssli_err(SSLK_E_SHAPE, "%s: 'num_views' = %zu (1..4096)", fn, num_views);
    size_t nd, all;
    /* before forming the view pointers anchors + v n d */
    if (ssli_mul_overflow(n, d, &nd) || ssli_mul_overflow(nd, num_views, &all))
        return ssli_err(SSLK_E_OVERFLOW, "%s: n = %zu x d = %zu x num_views = %zu overflows", fn, n, d, num_views);
    const float **views = ssli_malloc(L->ctx, 2 * num_views, sizeof(float *));
    if (!views) return ssli_alloc_status();
    float **grads = (float **)(views + num_views);
    for (size_t v = 0; v < num_views; v++) {
        views[v] = anchors + v * nd;
        grads[v] = ganchors ? ganchors + v * nd : NULL;
    }
    sslk_loss_batch b = {sizeof b, views, num_views, n, d, NULL, targets};
    sslk_status st = sslk_loss_compute(L, &b, value, ganchors ? grads : NULL);
    ssli_free(L->ctx, views);
    return st;
}

/* ---- terms ---------------------------------------------------------------- */

sslk_status sslk_loss_num_terms(const sslk_loss *L, size_t *count) {
    SSLI_CHECK_PTR(L, "sslk_loss_num_terms");
    SSLI_CHECK_PTR(count, "sslk_loss_num_terms");
    *count = L->vt->nterms;
    return SSLK_OK;
}

sslk_status sslk_loss_term_name(const sslk_loss *L, size_t i, const char **name) {
    SSLI_CHECK_PTR(L, "sslk_loss_term_name");
    SSLI_CHECK_PTR(name, "sslk_loss_term_name");
    if (i >= L->vt->nterms)
        return ssli_err(SSLK_E_RANGE, "sslk_loss_term_name: 'i' = %zu >= %zu terms", i, L->vt->nterms);
    *name = L->vt->terms[i];
    return SSLK_OK;
}

sslk_status sslk_loss_term_value(const sslk_loss *L, size_t i, double *value) {
    SSLI_CHECK_PTR(L, "sslk_loss_term_value");
    SSLI_CHECK_PTR(value, "sslk_loss_term_value");
    if (i >= L->vt->nterms)
        return ssli_err(SSLK_E_RANGE, "sslk_loss_term_value: 'i' = %zu >= %zu terms", i, L->vt->nterms);
    if (!L->have_terms)
        return ssli_err(SSLK_E_STATE, "sslk_loss_term_value: no successful compute call yet");
    *value = L->terms[i];
    return SSLK_OK;
}

/* ---- parameters --------------------------------------------------------------- */

sslk_status sslk_loss_param_count(const sslk_loss *L, size_t *count) {
    SSLI_CHECK_PTR(L, "sslk_loss_param_count");
    SSLI_CHECK_PTR(count, "sslk_loss_param_count");
    *count = L->vt->nparams;
    return SSLK_OK;
}

sslk_status ssli_loss_param_ready(sslk_loss *L, const char *fn) {
    if (L->param_ready) return SSLK_OK;
    size_t rows, cols;
    const char *name;
    SSLI_TRY(L->vt->param_shape(L, &rows, &cols, &name));
    /* across ranks, DIET's head is sharded by datum index (lib/loss/dist_diet.c) */
    size_t first = 0, all_rows = rows;
    const sslk_dist *dt = L->vt->kind == SSLK_LOSS_DIET ? ssli_dist(L->ctx) : NULL;
    if (dt) {
        size_t hi;
        if (rows < (size_t)dt->world_size)
            return ssli_err(SSLK_E_SHAPE, "%s: the DIET head of %zu classes cannot be sharded over %d ranks", fn,
                            rows, dt->world_size);
        ssli_loss_dist_shard(all_rows, dt->rank, dt->world_size, &first, &hi);
        rows = hi - first;
    }
    size_t cnt;
    if (ssli_mul_overflow(rows, cols, &cnt) || cnt > ((size_t)1 << 40))
        return ssli_err(SSLK_E_OVERFLOW, "%s: parameter %zu x %zu is too large", fn, rows, cols);
    float *data = ssli_malloc(L->ctx, cnt, sizeof(float));
    if (!data) return ssli_alloc_status();
    float *grad = ssli_calloc(L->ctx, cnt, sizeof(float));
    if (!grad) {
        ssli_free(L->ctx, data);
        return ssli_alloc_status();
    }
    uint64_t key = ssli_rng_key(L->seed, 0x1055, (uint64_t)L->vt->kind);
    double (*init)(const sslk_loss *, uint64_t, size_t, size_t, size_t) = L->vt->param_init;
    long long total = (long long)cnt;
#pragma omp parallel for schedule(static) num_threads(ssli_threads(L->ctx))
    for (long long e = 0; e < total; e++) data[e] = (float)init(L, key, (size_t)e + first * cols, all_rows, cols);
    memset(&L->param, 0, sizeof L->param);
    L->param.struct_size = sizeof L->param;
    L->param.name = name;
    L->param.data = data;
    L->param.grad = grad;
    L->param.count = cnt;
    L->param.ndim = 2;
    L->param.shape[0] = rows;
    L->param.shape[1] = cols;
    L->param.flags = 0;
    L->prows = rows;
    L->pcols = cols;
    L->param_ready = true;
    return SSLK_OK;
}

sslk_status sslk_loss_param(sslk_loss *L, size_t i, sslk_param_view *out) {
    const char *fn = "sslk_loss_param";
    SSLI_CHECK_PTR(L, fn);
    SSLI_CHECK_PTR(out, fn);
    if (i >= L->vt->nparams)
        return ssli_err(SSLK_E_RANGE, "%s: 'i' = %zu but the %s loss owns %zu parameters", fn, i,
                        L->vt->fn, L->vt->nparams);
    SSLI_TRY(ssli_struct_check(out, SSLI_V10_PARAM_VIEW, fn, "out"));
    SSLI_TRY(ssli_loss_param_ready(L, fn));
    ssli_struct_out(out, &L->param, sizeof L->param);
    return SSLK_OK;
}

sslk_status sslk_loss_zero_grad(sslk_loss *L) {
    SSLI_CHECK_PTR(L, "sslk_loss_zero_grad");
    if (L->param_ready) memset(L->param.grad, 0, L->param.count * sizeof(float));
    return SSLK_OK;
}

/* ---- shared numeric helpers ------------------------------------------------------ */

sslk_status ssli_loss_need_rows(const char *fn, size_t n, size_t nmin) {
    if (n < nmin)
        return ssli_err(SSLK_E_SHAPE, "%s: batch has n = %zu rows, this loss needs at least %zu", fn, n, nmin);
    return SSLK_OK;
}

/* Column blocks per thread: each column sum runs over rows in order, so the
 * result does not depend on the thread count (nor on the block width: 16
 * columns, one cache line per row, gives d = 512 32 blocks, enough for 16
 * threads; 64 gave 8). */
void ssli_loss_colmean(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *mu) {
    const size_t blk = 16;
    long long nb = (long long)((d + blk - 1) / blk);
#pragma omp parallel for schedule(static) num_threads(ssli_threads(ctx))
    for (long long b = 0; b < nb; b++) {
        size_t j0 = (size_t)b * blk, j1 = j0 + blk < d ? j0 + blk : d;
        double acc[64];
        for (size_t j = j0; j < j1; j++) acc[j - j0] = 0;
        for (size_t i = 0; i < n; i++) {
            const float *z = Z + i * d;
            for (size_t j = j0; j < j1; j++) acc[j - j0] += z[j];
        }
        for (size_t j = j0; j < j1; j++) mu[j] = acc[j - j0] / (double)n;
    }
}

void ssli_loss_rownorm(const sslk_ctx *ctx, const float *Z, size_t n, size_t d, double *r) {
#pragma omp parallel for schedule(static) num_threads(ssli_threads(ctx))
    for (long long i = 0; i < (long long)n; i++) {
        double s = ssli_sdot(d, Z + (size_t)i * d, Z + (size_t)i * d);
        s = sqrt(s);
        r[i] = s > 1e-12 ? s : 1e-12;
    }
}

void *ssli_loss_workspace(sslk_loss *L, size_t bytes) {
    if (bytes <= L->ws_bytes && L->ws) return L->ws;
    ssli_free(L->ctx, L->ws);
    L->ws_bytes = 0;
    L->ws = ssli_malloc(L->ctx, bytes ? bytes : 1, 1);
    if (L->ws) L->ws_bytes = bytes;
    return L->ws;
}

double ssli_loss_invariance(sslk_loss *L, const float *za, const float *zb, size_t n, size_t d) {
    const sslk_ctx *ctx = L->ctx;
    double s = 0;
    /* per-row sums in the loss's workspace (kept across steps: no allocation per step);
     * callers carve the workspace again only after this returns */
    double *part = (double *)ssli_loss_workspace(L, n * sizeof(double));
    if (!part) return NAN;
#pragma omp parallel for schedule(static) num_threads(ssli_threads(ctx))
    for (long long i = 0; i < (long long)n; i++) {
        const float *a = za + (size_t)i * d, *b = zb + (size_t)i * d;
        double acc = 0;
        for (size_t j = 0; j < d; j++) {
            double t = (double)a[j] - (double)b[j];
            acc += t * t;
        }
        part[i] = acc;
    }
    for (size_t i = 0; i < n; i++) s += part[i];
    return s / ((double)n * (double)d);
}

/* Row normalisation u = z / max(|z|, 1e-12) and its backward
 * dz = (du - u (u . du)) / r, for both working types. */
#define SSLI_NORM_IMPL(T, SFX)                                                                   \
    void ssli_loss_normalize_##SFX(const sslk_ctx *ctx, const float *Z, size_t n, size_t d,      \
                                   double *r, T *U) {                                            \
        ssli_loss_rownorm(ctx, Z, n, d, r);                                                      \
        _Pragma("omp parallel for schedule(static) num_threads(ssli_threads(ctx))")              \
        for (long long i = 0; i < (long long)n; i++) {                                           \
            double inv = 1.0 / r[i];                                                             \
            const float *z = Z + (size_t)i * d;                                                  \
            T *u = U + (size_t)i * d;                                                            \
            for (size_t j = 0; j < d; j++) u[j] = (T)((double)z[j] * inv);                       \
        }                                                                                        \
    }                                                                                            \
    void ssli_loss_normalize_back_##SFX(const sslk_ctx *ctx, const T *U, const T *dU,            \
                                        const double *r, size_t n, size_t d, float *gz,          \
                                        bool accumulate) {                                       \
        _Pragma("omp parallel for schedule(static) num_threads(ssli_threads(ctx))")              \
        for (long long i = 0; i < (long long)n; i++) {                                           \
            const T *u = U + (size_t)i * d, *du = dU + (size_t)i * d;                            \
            double dot = 0;                                                                      \
            for (size_t j = 0; j < d; j++) dot += (double)u[j] * (double)du[j];                  \
            double inv = 1.0 / r[i];                                                             \
            float *g = gz + (size_t)i * d;                                                       \
            if (accumulate)                                                                      \
                for (size_t j = 0; j < d; j++)                                                   \
                    g[j] += (float)(((double)du[j] - (double)u[j] * dot) * inv);                 \
            else                                                                                 \
                for (size_t j = 0; j < d; j++)                                                   \
                    g[j] = (float)(((double)du[j] - (double)u[j] * dot) * inv);                  \
        }                                                                                        \
    }
SSLI_NORM_IMPL(float, f)
SSLI_NORM_IMPL(double, d)


/* All views in one parallel region each way (fewer barriers: on a loaded
 * machine every barrier can cost a scheduler time slice). */
#define SSLI_NORMV_IMPL(T, SFX)                                                                  \
    void ssli_loss_normalize_views_##SFX(const sslk_ctx *ctx, const float *const *views, size_t V, \
                                         size_t n, size_t d, double *r, T *U) {                  \
        _Pragma("omp parallel for schedule(static) num_threads(ssli_threads(ctx))")              \
        for (long long a = 0; a < (long long)(V * n); a++) {                                     \
            const float *z = views[(size_t)a / n] + ((size_t)a % n) * d;                         \
            double s = sqrt(ssli_sdot(d, z, z));                                                 \
            s = s > 1e-12 ? s : 1e-12;                                                           \
            r[a] = s;                                                                            \
            double inv = 1.0 / s;                                                                \
            T *u = U + (size_t)a * d;                                                            \
            for (size_t j = 0; j < d; j++) u[j] = (T)((double)z[j] * inv);                       \
        }                                                                                        \
    }                                                                                            \
    void ssli_loss_normalize_back_views_##SFX(const sslk_ctx *ctx, const T *U, const T *dU,      \
                                              const double *r, size_t V, size_t n, size_t d,     \
                                              float *const *grads) {                             \
        _Pragma("omp parallel for schedule(static) num_threads(ssli_threads(ctx))")              \
        for (long long a = 0; a < (long long)(V * n); a++) {                                     \
            float *g = grads[(size_t)a / n];                                                     \
            if (!g) continue;                                                                    \
            g += ((size_t)a % n) * d;                                                            \
            const T *u = U + (size_t)a * d, *du = dU + (size_t)a * d;                            \
            double dot = 0;                                                                      \
            for (size_t j = 0; j < d; j++) dot += (double)u[j] * (double)du[j];                  \
            double inv = 1.0 / r[a];                                                             \
            for (size_t j = 0; j < d; j++) g[j] = (float)(((double)du[j] - (double)u[j] * dot) * inv); \
        }                                                                                        \
    }
SSLI_NORMV_IMPL(float, f)
SSLI_NORMV_IMPL(double, d)
