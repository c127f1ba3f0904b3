/* POLICE constraint handle: vertex checks, the pre-activation points of the
 * model, and the forward / backward hook run inside every model pass.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <float.h>
#include <math.h>
#include <string.h>

#include "geometry/police_internal.h"
#include "linalg/linalg.h"

static const ssli_setting_def police_defs[] = {
    {SSLK_POLICE_CONSTRAIN_OUTPUT, "constrain_output", SSLK_SETTING_I64, 0, 1, 0,
     "1: also shift the last pre-activation (the output layer) when no activation follows it"},
};
const ssli_setting_table ssli_settings_police = {"police", police_defs,
                                                 sizeof police_defs / sizeof police_defs[0], NULL};

/* ---- the unit rule (double; the float hook below mirrors it) ---------------- */

int ssli_police_rule_d(const double *V, size_t c, size_t width, size_t u, size_t spatial,
                       double *delta, size_t *arg) {
    size_t npos = 0, amin = 0, amax = 0, count = c * spatial;
    double mn = INFINITY, mx = -INFINITY;
    for (size_t r = 0; r < c; r++)
        for (size_t q = 0; q < spatial; q++) {
            size_t i = r * width + u * spatial + q;
            double x = V[i];
            npos += x > 0.0;
            if (x < mn) mn = x, amin = i;
            if (x > mx) mx = x, amax = i;
        }
    *delta = 0.0;
    *arg = 0;
    if (npos == 0 || npos == count) return 0;
    if (2 * npos > count) { /* raise: the lowest vertex goes to 0 (mn <= 0 here) */
        *delta = mn;
        *arg = amin;
        return 1;
    }
    *delta = mx; /* lower: the highest vertex goes to 0 (mx > 0 here); ties land here */
    *arg = amax;
    return -1;
}

/* ---- model walk -------------------------------------------------------------- */

static bool is_activation(ssli_walk_op op) {
    return op == SSLI_WALK_UNIT || op == SSLI_WALK_MAXPOOL || op == SSLI_WALK_ADD;
}

/* Count (pts == NULL) or record the points of w in forward order.
 * *sided tracks whether the current values keep one side per unit on the
 * region (true after a point, kept by activations and pooling within a
 * channel); an activation on values that are not (the raw input, a residual
 * sum) cannot be constrained by bias shifts and is refused. */
static sslk_status walk(ssli_walk w, ssli_police_point *pts, size_t *n, bool *sided, const char *fn) {
    for (size_t i = 0, nl = ssli_walk_count(w); i < nl; i++) {
        ssli_walk_layer L;
        ssli_walk_get(w, i, &L);
        switch (L.op) {
        case SSLI_WALK_MAXPOOL:
            return ssli_err(SSLK_E_UNSUPPORTED,
                            "%s: layer '%s' is a max-pool, whose argmax may change inside the region "
                            "(not supported by POLICE; so neither is a torchvision ResNet stem -- POLICE "
                            "supports linear / conv / batch-norm layers each followed by a ReLU-type "
                            "activation, average pools and residual blocks whose sum feeds no activation)",
                            fn, L.name);
        case SSLI_WALK_ADAPTIVE:
            return ssli_err(SSLK_E_UNSUPPORTED,
                            "%s: layer '%s' is an adaptive average pool with unequal bins (not supported "
                            "by POLICE; output sizes dividing the input, or 1 x 1, are average pools)",
                            fn, L.name);
        case SSLI_WALK_UNIT:
            if (!*sided)
                return ssli_err(SSLK_E_UNSUPPORTED,
                                "%s: activation '%s' acts on values that are not the output of a "
                                "linear / conv / batch-norm layer (the input or a residual sum), "
                                "which a bias shift cannot keep on one side (ResNet blocks and the "
                                "resnet backbones apply a ReLU to the residual sum: not supported)",
                                fn, L.name);
            break;
        case SSLI_WALK_ADD: {
            bool b = *sided, sc = *sided;
            SSLI_TRY(walk(L.body, pts, n, &b, fn));
            if (!L.identity) SSLI_TRY(walk(L.shortcut, pts, n, &sc, fn));
            *sided = false;
            break;
        }
        case SSLI_WALK_AVGPOOL:
        case SSLI_WALK_GAP:
        case SSLI_WALK_RESHAPE: break; /* within a channel: sides kept */
        default: *sided = false; break; /* mixes units (and any operation added later) */
        }
        if (L.preact) {
            *sided = true;
            if (pts) {
                ssli_police_point *P = &pts[*n];
                P->L = L;
                P->units = L.out.c;
                P->spatial = L.out.h * L.out.w;
            }
            (*n)++;
        }
    }
    return SSLK_OK;
}

/* The last point is the unconstrained output when it is a top-level layer
 * with no activation after it. */
static void mark_output(sslk_police *p) {
    if (!p->npts) return;
    const ssli_walk top = ssli_model_walk(p->model);
    const void *last = p->pts[p->npts - 1].L.key;
    ssli_walk_layer L;
    for (size_t i = 0, n = ssli_walk_count(top); i < n; i++) {
        ssli_walk_get(top, i, &L);
        if (L.key != last) continue;
        for (size_t j = i + 1; j < n; j++) {
            ssli_walk_get(top, j, &L);
            if (is_activation(L.op)) return;
        }
        p->pts[p->npts - 1].output = true;
    }
}

sslk_status ssli_police_check(const sslk_police *p, const char *fn) {
    size_t n = 0;
    bool sided = false;
    sslk_status st = walk(ssli_model_walk(p->model), NULL, &n, &sided, fn);
    if (st == SSLK_OK && n == p->npts) {
        ssli_police_point *tmp = ssli_calloc(p->ctx, n ? n : 1, sizeof *tmp);
        if (!tmp) return ssli_alloc_status();
        n = 0;
        sided = false;
        st = walk(ssli_model_walk(p->model), tmp, &n, &sided, fn);
        for (size_t i = 0; i < n && st == SSLK_OK; i++)
            if (tmp[i].L.key != p->pts[i].L.key || tmp[i].units != p->pts[i].units ||
                tmp[i].spatial != p->pts[i].spatial)
                n = SIZE_MAX;
        ssli_free(p->ctx, tmp);
    }
    if (st == SSLK_OK && n != p->npts)
        st = ssli_err(SSLK_E_STATE, "%s: the model's layers changed after sslk_police_create", fn);
    return st;
}

/* ---- vertex checks ------------------------------------------------------------ */

sslk_status ssli_police_affine_rank(const sslk_ctx *ctx, const float *V, size_t c, size_t d,
                                    size_t *rank) {
    *rank = 0;
    if (c < 2) return SSLK_OK;
    const size_t m = c - 1;
    size_t ycount, g = m <= d ? m : d, gcount;
    if (ssli_mul_overflow(m, d, &ycount) || ssli_mul_overflow(g, g, &gcount))
        return ssli_err(SSLK_E_OVERFLOW, "police: vertex matrix size overflows");
    double *Y = ssli_malloc(ctx, ycount, sizeof(double));
    double *G = ssli_malloc(ctx, 2 * gcount + g, sizeof(double));
    sslk_status st = SSLK_OK;
    if (!Y || !G) {
        st = ssli_alloc_status();
        goto done;
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < d; j++) Y[i * d + j] = (double)V[(i + 1) * d + j] - (double)V[j];
    double *H = G + gcount, *w = H + gcount;
    /* Gram of the smaller side: same nonzero spectrum */
    if (m <= d) ssli_dsyrk(NULL, false, g, d, 1.0, Y, d, 0.0, G, g);
    else ssli_dsyrk(NULL, true, g, m, 1.0, Y, d, 0.0, G, g);
    double dmax = 0.0;
    for (size_t i = 0; i < g; i++) dmax = fmax(dmax, G[i * g + i]);
    if (dmax == 0.0) goto done; /* all vertices coincide */
    const double tol = 1e-10;
    if (m >= d) { /* full dimension is the common case: a Cholesky with clear pivots proves it */
        memcpy(H, G, gcount * sizeof(double));
        if (ssli_dpotrf(g, H, g) == SSLK_OK) {
            bool ok = true;
            for (size_t i = 0; i < g && ok; i++) ok = H[i * g + i] * H[i * g + i] > tol * dmax;
            if (ok) {
                *rank = d;
                goto done;
            }
        }
    }
    st = ssli_dsyev(g, G, g, w, false);
    if (st != SSLK_OK) goto done;
    double wmax = w[g - 1];
    for (size_t i = 0; i < g; i++) *rank += w[i] > tol * wmax;
done:
    ssli_free(ctx, Y);
    ssli_free(ctx, G);
    return st;
}

/* ---- the float hook ---------------------------------------------------------- */

static ssli_police_point *find_point(sslk_police *p, const void *key, size_t *idx) {
    size_t c = p->cursor < p->npts ? p->cursor : 0;
    for (size_t k = 0; k < p->npts; k++) {
        size_t i = (c + k) % p->npts;
        if (p->pts[i].L.key == key) {
            *idx = i;
            return &p->pts[i];
        }
    }
    return NULL;
}

#define BLK 64

/* Vector layers: units are columns of the row-major vertex block. */
static void rule_vectors(ssli_police_point *P, const float *V, size_t C, size_t width, int nt) {
    const size_t nblk = (width + BLK - 1) / BLK;
#pragma omp parallel for num_threads(nt) schedule(static) if (C * width > 65536)
    for (size_t b = 0; b < nblk; b++) {
        const size_t k0 = b * BLK, k1 = k0 + BLK < width ? k0 + BLK : width, nk = k1 - k0;
        size_t cnt[BLK], amn[BLK], amx[BLK];
        float mn[BLK], mx[BLK];
        for (size_t k = 0; k < nk; k++) cnt[k] = amn[k] = amx[k] = 0, mn[k] = INFINITY, mx[k] = -INFINITY;
        for (size_t r = 0; r < C; r++) {
            const float *row = V + r * width + k0;
            for (size_t k = 0; k < nk; k++) {
                float x = row[k];
                cnt[k] += x > 0.0f;
                if (x < mn[k]) mn[k] = x, amn[k] = r;
                if (x > mx[k]) mx[k] = x, amx[k] = r;
            }
        }
        for (size_t k = 0; k < nk; k++) {
            size_t u = k0 + k;
            P->on[u] = 0;
            P->delta[u] = 0.0f;
            if (cnt[k] == 0 || cnt[k] == C) continue;
            P->on[u] = 1;
            if (2 * cnt[k] > C) P->delta[u] = mn[k], P->arg[u] = amn[k] * width + u;
            else P->delta[u] = mx[k], P->arg[u] = amx[k] * width + u;
        }
    }
}

/* Image layers: a unit is a channel, its values are C x spatial. */
static void rule_channels(ssli_police_point *P, const float *V, size_t C, size_t width, int nt) {
    const size_t S = P->spatial, units = P->units;
#pragma omp parallel for num_threads(nt) schedule(static) if (C * width > 65536)
    for (size_t u = 0; u < units; u++) {
        size_t cnt = 0, amn = 0, amx = 0;
        float mn = INFINITY, mx = -INFINITY;
        for (size_t r = 0; r < C; r++) {
            const float *x = V + r * width + u * S;
            for (size_t q = 0; q < S; q++) {
                cnt += x[q] > 0.0f;
                if (x[q] < mn) mn = x[q], amn = r * width + u * S + q;
                if (x[q] > mx) mx = x[q], amx = r * width + u * S + q;
            }
        }
        P->on[u] = 0;
        P->delta[u] = 0.0f;
        if (cnt == 0 || cnt == C * S) continue;
        P->on[u] = 1;
        if (2 * cnt > C * S) P->delta[u] = mn, P->arg[u] = amn;
        else P->delta[u] = mx, P->arg[u] = amx;
    }
}

static sslk_status hook_forward(void *user, const void *key, float *h, size_t n, size_t c,
                                size_t width) {
    sslk_police *p = user;
    size_t idx;
    ssli_police_point *P = find_point(p, key, &idx);
    if (!P || P->units * P->spatial != width || c != p->c)
        return ssli_err(SSLK_E_STATE,
                        "sslk_model_forward: the model changed after sslk_police_create "
                        "(layer '%s' unknown to the constraint)",
                        ssli_walk_key_name(key));
    p->cursor = idx + 1;
    P->nshift = 0;
    if (!ssli_police_active(p, idx)) return SSLK_OK;
    const int nt = ssli_threads(p->ctx);
    const float *V = h + n * width;
    if (P->spatial == 1) rule_vectors(P, V, c, width, nt);
    else rule_channels(P, V, c, width, nt);
    size_t ns = 0;
    for (size_t u = 0; u < P->units; u++) ns += P->on[u];
    P->nshift = ns;
    if (!ns) return SSLK_OK;
    const size_t rows = n + c, S = P->spatial, units = P->units;
    const float *dl = P->delta;
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * width > 65536)
    for (size_t r = 0; r < rows; r++) {
        float *row = h + r * width;
        if (S == 1) {
            for (size_t k = 0; k < width; k++) row[k] -= dl[k];
        } else {
            for (size_t u = 0; u < units; u++) {
                if (dl[u] == 0.0f) continue;
                for (size_t q = 0; q < S; q++) row[u * S + q] -= dl[u];
            }
        }
    }
    return SSLK_OK;
}

/* d shifted / d unshifted: every row moves with the arg-extreme vertex, so
 * that vertex's gradient loses the sum of the unit's gradient over all rows. */
static sslk_status hook_backward(void *user, const void *key, float *g, size_t n, size_t c,
                                 size_t width) {
    sslk_police *p = user;
    size_t idx;
    ssli_police_point *P = find_point(p, key, &idx);
    if (!P || P->units * P->spatial != width || c != p->c)
        return ssli_err(SSLK_E_STATE, "sslk_model_backward: the model changed after sslk_police_create");
    p->cursor = idx ? idx - 1 : p->npts - 1;
    if (!P->nshift) return SSLK_OK;
    const size_t rows = n + c, S = P->spatial, units = P->units;
    const int nt = ssli_threads(p->ctx);
    if (S == 1) {
        const size_t nblk = (width + BLK - 1) / BLK;
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * width > 65536)
        for (size_t b = 0; b < nblk; b++) {
            const size_t k0 = b * BLK, k1 = k0 + BLK < width ? k0 + BLK : width, nk = k1 - k0;
            double acc[BLK] = {0};
            for (size_t r = 0; r < rows; r++) {
                const float *row = g + r * width + k0;
                for (size_t k = 0; k < nk; k++) acc[k] += row[k];
            }
            for (size_t k = 0; k < nk; k++)
                if (P->on[k0 + k]) g[n * width + P->arg[k0 + k]] -= (float)acc[k];
        }
    } else {
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * width > 65536)
        for (size_t u = 0; u < units; u++) {
            if (!P->on[u]) continue;
            double acc = 0.0;
            for (size_t r = 0; r < rows; r++) {
                const float *x = g + r * width + u * S;
                for (size_t q = 0; q < S; q++) acc += x[q];
            }
            g[n * width + P->arg[u]] -= (float)acc;
        }
    }
    return SSLK_OK;
}

sslk_police *ssli_police_of(const sslk_model *m) {
    const ssli_model_hook *h = m ? ssli_model_hook_of(m) : NULL;
    return h && h->forward == hook_forward ? h->user : NULL;
}

/* ---- handle ------------------------------------------------------------------- */

static void free_points(sslk_police *p) {
    if (!p->pts) return;
    for (size_t i = 0; i < p->npts; i++) {
        ssli_free(p->ctx, p->pts[i].delta);
        ssli_free(p->ctx, p->pts[i].arg);
        ssli_free(p->ctx, p->pts[i].on);
    }
    ssli_free(p->ctx, p->pts);
    p->pts = NULL;
}

void sslk_police_destroy(sslk_police *p) {
    if (!p) return;
    if (p->attached && ssli_model_hook_of(p->model) == &p->hook) ssli_model_set_hook(p->model, NULL);
    free_points(p);
    ssli_free(p->ctx, p->V);
    const sslk_ctx *ctx = p->ctx;
    ssli_free(ctx, p);
}

sslk_status sslk_police_create(sslk_model *model, const float *vertices, size_t c, size_t d,
                               sslk_police **out) {
    static const char fn[] = "sslk_police_create";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(model, fn);
    SSLI_CHECK_PTR(vertices, fn);
    if (ssli_model_open_blocks(model))
        return ssli_err(SSLK_E_STATE, "%s: the model has %d open residual block(s)", fn,
                        ssli_model_open_blocks(model));
    if (ssli_model_hook_of(model))
        return ssli_err(SSLK_E_STATE, "%s: the model already has a constraint attached", fn);
    const size_t in = ssli_shape_numel(ssli_model_in_shape(model));
    if (d != in)
        return ssli_err(SSLK_E_SHAPE, "%s: 'd' = %zu differs from the model input size %zu", fn, d, in);
    if (c < 2)
        return ssli_err(SSLK_E_SHAPE, "%s: 'c' = %zu vertices; a region needs at least 2", fn, c);
    size_t vcount;
    if (ssli_mul_overflow(c, d, &vcount) || c > SIZE_MAX / 2)
        return ssli_err(SSLK_E_OVERFLOW, "%s: %zu x %zu vertices overflow", fn, c, d);
    SSLI_TRY(ssli_check_finite_f32(vertices, c, d, fn, "vertices"));
    size_t npts = 0;
    bool sided = false;
    SSLI_TRY(walk(ssli_model_walk(model), NULL, &npts, &sided, fn));
    sslk_police *p = ssli_calloc(ssli_model_ctx(model), 1, sizeof *p);
    if (!p) return ssli_alloc_status();
    p->ctx = ssli_model_ctx(model);
    p->model = model;
    p->c = c;
    p->d = d;
    ssli_setting_defaults(&ssli_settings_police, p->settings);
    sslk_status st = SSLK_OK;
    p->V = ssli_malloc(p->ctx, vcount, sizeof(float));
    p->pts = ssli_calloc(p->ctx, npts ? npts : 1, sizeof *p->pts);
    if (!p->V || !p->pts) {
        st = ssli_alloc_status();
        goto fail;
    }
    memcpy(p->V, vertices, vcount * sizeof(float));
    p->npts = 0;
    sided = false;
    st = walk(ssli_model_walk(model), p->pts, &p->npts, &sided, fn);
    if (st != SSLK_OK) goto fail;
    for (size_t i = 0; i < p->npts; i++) {
        ssli_police_point *P = &p->pts[i];
        P->delta = ssli_calloc(p->ctx, P->units, sizeof(float));
        P->arg = ssli_calloc(p->ctx, P->units, sizeof(size_t));
        P->on = ssli_calloc(p->ctx, P->units, 1);
        if (!P->delta || !P->arg || !P->on) {
            st = ssli_alloc_status();
            goto fail;
        }
    }
    mark_output(p);
    st = ssli_police_affine_rank(p->ctx, p->V, c, d, &p->rank);
    if (st != SSLK_OK) goto fail;
    if (p->rank == 0) {
        st = ssli_err(SSLK_E_DEGENERATE, "%s: the %zu vertices coincide (affine rank 0)", fn, c);
        goto fail;
    }
    p->hook.extra_rows = c;
    p->hook.extra_input = p->V;
    p->hook.forward = hook_forward;
    p->hook.backward = hook_backward;
    p->hook.user = p;
    ssli_model_set_hook(model, &p->hook);
    p->attached = true;
    *out = p;
    return SSLK_OK;
fail:
    sslk_police_destroy(p);
    return st;
}

static sslk_status police_put(sslk_police *p, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_CHECK_PTR(p, fn);
    SSLI_TRY(ssli_setting_set(&ssli_settings_police, p->settings, key, v, as, fn));
    if (p->attached) ssli_model_set_hook(p->model, &p->hook); /* invalidates the last forward */
    return SSLK_OK;
}

static sslk_status police_read(const sslk_police *p, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(p, fn);
    return ssli_setting_get(&ssli_settings_police, p->settings, key, v, fn);
}

SSLI_SETTINGS_ACCESSORS(sslk_police, sslk_police, police_put, police_read)

sslk_status sslk_police_info(const sslk_police *p, size_t *c, size_t *d, size_t *rank,
                             size_t *points, size_t *shifted_units, size_t *units) {
    SSLI_CHECK_PTR(p, "sslk_police_info");
    size_t act = 0, sh = 0, un = 0;
    for (size_t i = 0; i < p->npts; i++) {
        if (!ssli_police_active(p, i)) continue;
        act++;
        sh += p->pts[i].nshift;
        un += p->pts[i].units;
    }
    if (c) *c = p->c;
    if (d) *d = p->d;
    if (rank) *rank = p->rank;
    if (points) *points = act;
    if (shifted_units) *shifted_units = sh;
    if (units) *units = un;
    return SSLK_OK;
}
