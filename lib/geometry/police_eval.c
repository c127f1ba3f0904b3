/* POLICE in double precision, on the one binder and evaluator of
 * model_bind.c / cpwl.c: the reference for verification, the double shifts of
 * a constraint, freezing, and the shifted CPWL net for SplineCam.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "geometry/police_internal.h"

static double *dalloc(const sslk_ctx *ctx, size_t rows, size_t cols) {
    size_t n;
    if (ssli_mul_overflow(rows, cols, &n)) return NULL;
    return ssli_malloc(ctx, n ? n : 1, sizeof(double));
}

sslk_status ssli_police_eval_d(const sslk_model *m, const double *x, size_t rows, double *y,
                               ssli_cpwl_point_cb cb, void *user) {
    /* unfolded, so that every pre-activation point is an op's output */
    const ssli_bind_opts o = {"police", false, NULL, 0};
    ssli_cpwl net;
    SSLI_TRY(ssli_cpwl_bind(m, &o, &net));
    sslk_status st = ssli_cpwl_eval_rows(&net, x, rows, y, NULL, cb, user);
    ssli_cpwl_free(&net);
    return st;
}

/* ---- double shifts ---------------------------------------------------------- */

typedef struct shiftctx {
    sslk_police *p;
    double **shifts;
} shiftctx;

/* Vertex rows are the last p->c rows of h. */
static sslk_status shift_cb(void *user, size_t point, double *h, size_t rows, size_t width) {
    shiftctx *S = user;
    sslk_police *p = S->p;
    if (point >= p->npts) return ssli_err(SSLK_E_INTERNAL, "police: point %zu out of range", point);
    if (!ssli_police_active(p, point)) return SSLK_OK;
    const ssli_police_point *P = &p->pts[point];
    double *dl = S->shifts[point];
    const double *V = h + (rows - p->c) * width;
    for (size_t u = 0; u < P->units; u++) {
        size_t arg;
        ssli_police_rule_d(V, p->c, width, u, P->spatial, &dl[u], &arg);
    }
    for (size_t r = 0; r < rows; r++)
        for (size_t u = 0; u < P->units; u++)
            for (size_t q = 0; q < P->spatial; q++) h[r * width + u * P->spatial + q] -= dl[u];
    return SSLK_OK;
}

void ssli_police_free_shifts(const sslk_police *p, double **shifts) {
    if (!shifts) return;
    for (size_t i = 0; i < p->npts; i++) ssli_free(p->ctx, shifts[i]);
    ssli_free(p->ctx, shifts);
}

static sslk_status alloc_shifts(const sslk_police *p, double ***out) {
    double **s = ssli_calloc(p->ctx, p->npts ? p->npts : 1, sizeof(double *));
    if (!s) return ssli_alloc_status();
    for (size_t i = 0; i < p->npts; i++) {
        s[i] = ssli_calloc(p->ctx, p->pts[i].units, sizeof(double));
        if (!s[i]) {
            ssli_police_free_shifts(p, s);
            return ssli_alloc_status();
        }
    }
    *out = s;
    return SSLK_OK;
}

/* Evaluate rows x (the last p->c of which must be p's vertices) with the
 * double shifts; y may be NULL. */
static sslk_status run_shifts(sslk_police *p, const double *x, size_t rows, double *y,
                              double **shifts) {
    shiftctx S = {p, shifts};
    double *out = y;
    if (!out) {
        out = dalloc(p->ctx, rows, ssli_shape_numel(ssli_model_out_shape(p->model)));
        if (!out) return ssli_alloc_status();
    }
    sslk_status st = ssli_police_eval_d(p->model, x, rows, out, shift_cb, &S);
    if (out != y) ssli_free(p->ctx, out);
    return st;
}

sslk_status ssli_police_shifts_d(sslk_police *p, double ***shifts) {
    *shifts = NULL;
    SSLI_TRY(ssli_police_check(p, "police"));
    double **s = NULL;
    SSLI_TRY(alloc_shifts(p, &s));
    double *x = dalloc(p->ctx, p->c, p->d);
    sslk_status st = x ? SSLK_OK : ssli_alloc_status();
    if (st == SSLK_OK) {
        for (size_t i = 0; i < p->c * p->d; i++) x[i] = p->V[i];
        st = run_shifts(p, x, p->c, NULL, s);
    }
    ssli_free(p->ctx, x);
    if (st != SSLK_OK) {
        ssli_police_free_shifts(p, s);
        return st;
    }
    *shifts = s;
    return SSLK_OK;
}

sslk_status ssli_police_eval_constrained(sslk_police *p, const double *x, size_t rows, double *y) {
    SSLI_TRY(ssli_police_check(p, "sslk_police_verify"));
    double **s = NULL;
    SSLI_TRY(alloc_shifts(p, &s));
    sslk_status st = run_shifts(p, x, rows, y, s);
    ssli_police_free_shifts(p, s);
    return st;
}

/* ---- freeze ---------------------------------------------------------------- */

typedef struct freezectx {
    sslk_police *p;
    float **bias; /* per point: staged new biases (NULL when unchanged) */
} freezectx;

static sslk_status freeze_cb(void *user, size_t point, double *h, size_t rows, size_t width) {
    freezectx *F = user;
    sslk_police *p = F->p;
    if (point >= p->npts) return ssli_err(SSLK_E_INTERNAL, "police: point %zu out of range", point);
    if (!ssli_police_active(p, point)) return SSLK_OK;
    const ssli_police_point *P = &p->pts[point];
    const ssli_walk_layer *L = &P->L;
    const size_t S = P->spatial;
    for (size_t u = 0; u < P->units; u++) {
        double delta;
        size_t arg;
        int s = ssli_police_rule_d(h, rows, width, u, S, &delta, &arg);
        if (s == 0) continue;
        if (!L->bias)
            return ssli_err(SSLK_E_UNSUPPORTED,
                            "sslk_police_freeze: layer '%s' has no bias to fold its shift into "
                            "(add a bias or a batch-norm after it)",
                            L->name);
        if (!F->bias[point]) {
            F->bias[point] = ssli_malloc(p->ctx, P->units, sizeof(float));
            if (!F->bias[point]) return ssli_alloc_status();
            memcpy(F->bias[point], L->bias, P->units * sizeof(float));
        }
        /* round the folded bias toward the majority side, with a margin far
         * above the rounding differences of other double evaluations */
        const double b0 = L->bias[u], t = b0 - delta;
        const double margin = 1e-12 * (fabs(t) + fabs(b0) + fabs(delta)) + 1e-300;
        float bf = (float)t;
        for (int it = 0; it < 64; it++) {
            bool ok = s > 0 ? (double)bf >= t + margin : (double)bf <= t - margin;
            if (ok) break;
            bf = nextafterf(bf, s > 0 ? INFINITY : -INFINITY);
        }
        if (!isfinite(bf)) /* checked here so that the commit cannot fail half-way */
            return ssli_err(SSLK_E_NUMERIC, "sslk_police_freeze: layer '%s' bias[%zu] - shift = %g overflows a float",
                            L->name, u, t);
        F->bias[point][u] = bf;
        const double add = (double)bf - b0;
        for (size_t r = 0; r < rows; r++)
            for (size_t q = 0; q < S; q++) h[r * width + u * S + q] += add;
    }
    return SSLK_OK;
}

sslk_status sslk_police_freeze(sslk_police *p) {
    static const char fn[] = "sslk_police_freeze";
    SSLI_CHECK_PTR(p, fn);
    if (!p->attached) return ssli_err(SSLK_E_STATE, "%s: the constraint is already frozen", fn);
    SSLI_TRY(ssli_police_check(p, fn));
    freezectx F = {p, ssli_calloc(p->ctx, p->npts ? p->npts : 1, sizeof(float *))};
    if (!F.bias) return ssli_alloc_status();
    double *x = dalloc(p->ctx, p->c, p->d);
    double *y = dalloc(p->ctx, p->c, ssli_shape_numel(ssli_model_out_shape(p->model)));
    sslk_status st = x && y ? SSLK_OK : ssli_alloc_status();
    if (st == SSLK_OK) {
        for (size_t i = 0; i < p->c * p->d; i++) x[i] = p->V[i];
        st = ssli_police_eval_d(p->model, x, p->c, y, freeze_cb, &F);
    }
    if (st == SSLK_OK) { /* commit only when every point could be folded */
        for (size_t i = 0; i < p->npts && st == SSLK_OK; i++)
            if (F.bias[i]) {
                char name[96];
                snprintf(name, sizeof name, "%s.bias", p->pts[i].L.name);
                st = sslk_model_set_param(p->model, name, F.bias[i], p->pts[i].units);
            }
    }
    if (st == SSLK_OK) {
        ssli_model_set_hook(p->model, NULL);
        p->attached = false;
    }
    for (size_t i = 0; i < p->npts; i++) ssli_free(p->ctx, F.bias[i]);
    ssli_free(p->ctx, F.bias);
    ssli_free(p->ctx, x);
    ssli_free(p->ctx, y);
    return st;
}

/* ---- CPWL net with shifts ---------------------------------------------------- */

sslk_status ssli_police_cpwl(const sslk_model *m, const sslk_police *p, double **shifts,
                             ssli_cpwl *net) {
    const ssli_bind_opts o = {"police", false, (const double *const *)shifts,
                              p && shifts ? p->npts : 0};
    return ssli_cpwl_bind(m, &o, net);
}
