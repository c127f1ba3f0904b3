/* The one CPWL binder: translate a model (evaluation mode), through the
 * read-only walk of nn/walk.h, into the CPWL op list used by SplineCam,
 * POLICE and the double evaluator.  Flatten is dropped (the layout is
 * already flat), residual blocks become stack ops, batch-norm is folded into
 * a directly preceding linear / conv layer on request, and an optional
 * per-unit shift (POLICE) is subtracted at every pre-activation point.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "geometry/model_bind.h"

typedef struct binder {
    const ssli_bind_opts *o;
    size_t point; /* next pre-activation point */
} binder;

static sslk_status check_finite(const char *fn, const ssli_walk_layer *L, const float *x, size_t n,
                                const char *what) {
    size_t bad = x ? ssli_first_nonfinite_f32(x, n) : SIZE_MAX;
    if (bad != SIZE_MAX)
        return ssli_err(SSLK_E_NONFINITE, "%s: layer '%s' %s[%zu] is not finite", fn, L->name, what, bad);
    return SSLK_OK;
}

static sslk_status check_layer(const char *fn, const ssli_walk_layer *L) {
    SSLI_TRY(check_finite(fn, L, L->weight, L->weight_count, "weight"));
    SSLI_TRY(check_finite(fn, L, L->bias, L->bias_count, "bias"));
    if (L->op != SSLI_WALK_NORM) return SSLK_OK;
    const size_t c = L->in.c;
    SSLI_TRY(check_finite(fn, L, L->mean, c, "running_mean"));
    SSLI_TRY(check_finite(fn, L, L->var, c, "running_var"));
    for (size_t j = 0; j < c; j++)
        if (!((double)L->var[j] + L->eps > 0))
            return ssli_err(SSLK_E_NUMERIC, "%s: layer '%s' running_var[%zu] + eps = %g is not positive",
                            fn, L->name, j, (double)L->var[j] + L->eps);
    return SSLK_OK;
}

/* Bias of a dense / conv op less the shift (double), or NULL when unshifted. */
static sslk_status shifted_bias(const sslk_ctx *ctx, const ssli_walk_layer *L, const double *sh,
                                double **out) {
    *out = NULL;
    if (!sh) return SSLK_OK;
    const size_t units = L->out.c;
    double *b = ssli_malloc(ctx, units ? units : 1, sizeof(double));
    if (!b) return ssli_alloc_status();
    for (size_t u = 0; u < units; u++) b[u] = (L->bias ? (double)L->bias[u] : 0.0) - sh[u];
    *out = b;
    return SSLK_OK;
}

static sslk_status bind_norm(const ssli_bind_opts *o, const ssli_walk_layer *L, bool after_affine,
                             const double *shift, ssli_cpwl *net) {
    const size_t c = L->in.c, spatial = L->in.h * L->in.w;
    double *sc = ssli_malloc(net->ctx, 2 * c, sizeof(double));
    if (!sc) return ssli_alloc_status();
    double *sh = sc + c;
    for (size_t j = 0; j < c; j++) {
        double g = L->weight ? L->weight[j] : 1.0, b = L->bias ? L->bias[j] : 0.0;
        sc[j] = g / sqrt((double)L->var[j] + L->eps);
        sh[j] = b - (double)L->mean[j] * sc[j];
        if (shift) sh[j] -= shift[j];
    }
    bool folded = false;
    if (o->fold_norm && after_affine) {
        /* per output feature of the dense op: expand channels over positions */
        const ssli_cpwl_op *last = &net->ops[net->nops - 1];
        if (last->kind == SSLI_COP_CONV || spatial == 1) folded = ssli_cpwl_fold_scale(net, sc, sh);
    }
    sslk_status st = folded ? SSLK_OK : ssli_cpwl_scale(net, c, spatial, sc, sh);
    ssli_free(net->ctx, sc);
    return st;
}

static sslk_status bind_walk(binder *B, ssli_walk w, ssli_cpwl *net) {
    const ssli_bind_opts *o = B->o;
    ssli_walk_op prev = 0;
    for (size_t i = 0, n = ssli_walk_count(w); i < n; i++) {
        ssli_walk_layer L;
        ssli_walk_get(w, i, &L);
        const size_t c = L.in.c, h = L.in.h, wd = L.in.w;
        SSLI_TRY(check_layer(o->fn, &L));
        const double *shift = L.preact && o->shift && B->point < o->nshift ? o->shift[B->point] : NULL;
        double *b = NULL;
        sslk_status st = SSLK_OK;
        switch (L.op) {
        case SSLI_WALK_DENSE:
            st = shifted_bias(net->ctx, &L, shift, &b);
            if (st == SSLK_OK)
                st = ssli_cpwl_dense(net, ssli_shape_numel(L.out), L.weight, NULL, b ? NULL : L.bias, b);
            break;
        case SSLI_WALK_CONV:
            st = shifted_bias(net->ctx, &L, shift, &b);
            if (st == SSLK_OK)
                st = ssli_cpwl_conv(net, c, h, wd, L.out.c, L.kernel, L.stride, L.pad, L.weight, NULL,
                                    b ? NULL : L.bias, b);
            break;
        case SSLI_WALK_NORM:
            st = bind_norm(o, &L, prev == SSLI_WALK_DENSE || prev == SSLI_WALK_CONV, shift, net);
            break;
        case SSLI_WALK_UNIT: st = ssli_cpwl_unit(net, L.neg, L.pos); break;
        case SSLI_WALK_MAXPOOL: st = ssli_cpwl_maxpool(net, c, h, wd, L.kernel, L.stride, L.pad); break;
        case SSLI_WALK_AVGPOOL: st = ssli_cpwl_avgpool(net, c, h, wd, L.kernel, L.stride); break;
        case SSLI_WALK_GAP: st = ssli_cpwl_gap(net, c, h, wd); break;
        case SSLI_WALK_RESHAPE: break;
        case SSLI_WALK_ADD:
            st = ssli_cpwl_push(net);
            if (st == SSLK_OK) st = bind_walk(B, L.body, net);
            if (st == SSLK_OK && !L.identity) {
                st = ssli_cpwl_swap(net);
                if (st == SSLK_OK) st = bind_walk(B, L.shortcut, net);
            }
            if (st == SSLK_OK) st = ssli_cpwl_add(net);
            break;
        case SSLI_WALK_ADAPTIVE:
            st = ssli_err(SSLK_E_UNSUPPORTED,
                          "%s: layer '%s' is an adaptive average pool with unequal bins (%zu x %zu -> %zu x %zu), "
                          "which has no CPWL form (use output sizes that divide the input, or 1 x 1)",
                          o->fn, L.name, L.in.h, L.in.w, L.out.h, L.out.w);
            break;
        default:
            st = ssli_err(SSLK_E_UNSUPPORTED, "%s: layer '%s' (walk operation %d) is not supported",
                          o->fn, L.name, (int)L.op);
        }
        ssli_free(net->ctx, b);
        SSLI_TRY(st);
        if (L.preact) {
            /* the op holding the pre-activation (the one just added, or the one a
             * batch-norm was folded into) */
            if (net->nops == 0)
                return ssli_err(SSLK_E_INTERNAL, "%s: pre-activation '%s' has no op", o->fn, L.name);
            net->ops[net->nops - 1].point = ++B->point;
        }
        prev = L.op;
    }
    return SSLK_OK;
}

sslk_status ssli_cpwl_bind(const sslk_model *m, const ssli_bind_opts *o, ssli_cpwl *net) {
    ssli_cpwl_init(net, ssli_model_ctx(m), ssli_shape_numel(ssli_model_in_shape(m)));
    binder B = {o, 0};
    sslk_status st = bind_walk(&B, ssli_model_walk(m), net);
    if (st == SSLK_OK) {
        net->npoints = B.point;
        st = ssli_cpwl_finish(net);
    }
    if (st != SSLK_OK) ssli_cpwl_free(net);
    return st;
}
