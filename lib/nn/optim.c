/* SGD (PyTorch semantics), LARS (VICReg recipe) and AdamW (PyTorch
 * semantics) over any set of sslk_param_view tensors, with parameter groups,
 * a NaN/Inf gate before every step, and an exact state blob for checkpoints.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "core/struct_sizes.h"
#include "nn/optim_internal.h"


static const ssli_setting_table *table_of(sslk_optim_kind k) {
    switch (k) {
    case SSLK_OPTIM_SGD: return &ssli_settings_sgd;
    case SSLK_OPTIM_LARS: return &ssli_settings_lars;
    case SSLK_OPTIM_ADAMW: return &ssli_settings_adamw;
    }
    return NULL;
}

sslk_status sslk_optim_create(sslk_ctx *ctx, sslk_optim_kind kind, sslk_optim **out) {
    static const char fn[] = "sslk_optim_create";
    SSLI_CHECK_PTR(ctx, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    const ssli_setting_table *t = table_of(kind);
    if (!t) return ssli_err(SSLK_E_INVALID_ARG, "%s: 'kind' = %d is not a sslk_optim_kind", fn, (int)kind);
    sslk_optim *o = ssli_calloc(ctx, 1, sizeof *o);
    if (!o) return ssli_alloc_status();
    o->ctx = ctx;
    o->kind = kind;
    o->table = t;
    o->lr_scale = 1.0;
    ssli_setting_defaults(t, o->defaults);
    *out = o;
    return SSLK_OK;
}

void sslk_optim_destroy(sslk_optim *opt) {
    if (!opt) return;
    for (size_t i = 0; i < opt->np; i++) {
        ssli_free(opt->ctx, opt->p[i].s1);
        ssli_free(opt->ctx, opt->p[i].s2);
    }
    ssli_free(opt->ctx, opt->p);
    ssli_free(opt->ctx, opt->groups);
    ssli_optim_free_chunks(opt);
    ssli_free(opt->ctx, opt);
}

sslk_status sslk_optim_add_params(sslk_optim *opt, const sslk_param_view *views, size_t n,
                                  size_t group) {
    static const char fn[] = "sslk_optim_add_params";
    SSLI_CHECK_PTR(opt, fn);
    if (n && !views) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'views' is NULL", fn);
    if (group > opt->ngroups)
        return ssli_err(SSLK_E_RANGE, "%s: 'group' = %zu, the next new group is %zu", fn, group,
                        opt->ngroups);
    /* Arrays are strided by the caller's struct size (a newer header may have
     * appended fields); every element must carry the same size. */
    const size_t stride = n ? views[0].struct_size : sizeof *views;
    if (n) SSLI_TRY(ssli_struct_check(&views[0], SSLI_V10_PARAM_VIEW, fn, "views[0]"));
#define VIEW(i) ((const sslk_param_view *)(const void *)((const char *)views + (i) * stride))
    for (size_t i = 0; i < n; i++) {
        const sslk_param_view *v = VIEW(i);
        if (v->struct_size != stride)
            return ssli_err(SSLK_E_INVALID_ARG, "%s: views[%zu].struct_size = %zu, views[0] has %zu", fn,
                            i, v->struct_size, stride);
        if (v->flags & SSLK_PARAM_FROZEN) continue;
        if (!v->data || !v->grad || v->count == 0)
            return ssli_err(SSLK_E_INVALID_ARG, "%s: views[%zu] ('%s') has no data, no grad or no values",
                            fn, i, v->name ? v->name : "?");
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !(VIEW(j)->flags & SSLK_PARAM_FROZEN) && VIEW(j)->data == v->data;
        for (size_t j = 0; j < opt->np && !dup; j++) dup = opt->p[j].v.data == v->data;
        if (dup)
                return ssli_err(SSLK_E_INVALID_ARG, "%s: views[%zu] ('%s') is already registered", fn,
                                i, v->name ? v->name : "?");
    }
    if (group == opt->ngroups) {
        double(*g)[SSLI_OPTIM_MAX_SETTINGS] = ssli_malloc(opt->ctx, group + 1, sizeof *g);
        if (!g) return ssli_alloc_status();
        if (group) memcpy(g, opt->groups, group * sizeof *g);
        memcpy(g[group], opt->defaults, sizeof g[group]);
        ssli_free(opt->ctx, opt->groups);
        opt->groups = g;
        opt->ngroups++;
    }
    if (opt->np + n > opt->pcap) {
        size_t nc = (opt->np + n) * 2;
        ssli_optim_param *np = ssli_calloc(opt->ctx, nc, sizeof *np);
        if (!np) return ssli_alloc_status();
        if (opt->np) memcpy(np, opt->p, opt->np * sizeof *np);
        ssli_free(opt->ctx, opt->p);
        opt->p = np;
        opt->pcap = nc;
    }
    for (size_t i = 0; i < n; i++) {
        const sslk_param_view *v = VIEW(i);
        if (v->flags & SSLK_PARAM_FROZEN) continue;
        ssli_optim_param *q = &opt->p[opt->np];
        memset(q, 0, sizeof *q);
        SSLI_TRY(ssli_struct_in(&q->v, sizeof q->v, v, SSLI_V10_PARAM_VIEW, fn, "views[i]"));
        q->group = group;
        q->s1 = ssli_calloc(opt->ctx, v->count, sizeof(float));
        if (opt->kind == SSLK_OPTIM_ADAMW) q->s2 = ssli_calloc(opt->ctx, v->count, sizeof(float));
        if (!q->s1 || (opt->kind == SSLK_OPTIM_ADAMW && !q->s2)) {
            ssli_free(opt->ctx, q->s1);
            ssli_free(opt->ctx, q->s2);
            return ssli_alloc_status();
        }
        opt->np++;
    }
#undef VIEW
    return ssli_optim_build_chunks(opt);
}

sslk_status sslk_optim_counts(const sslk_optim *opt, size_t *groups, size_t *tensors) {
    SSLI_CHECK_PTR(opt, "sslk_optim_counts");
    if (groups) *groups = opt->ngroups;
    if (tensors) *tensors = opt->np;
    return SSLK_OK;
}

/* The defaults (used by groups added later) and every group. */
static sslk_status optim_put(sslk_optim *opt, int key, double v, sslk_setting_type as, const char *fn) {
    SSLI_CHECK_PTR(opt, fn);
    SSLI_TRY(ssli_setting_set(opt->table, opt->defaults, key, v, as, fn));
    for (size_t g = 0; g < opt->ngroups; g++) SSLI_TRY(ssli_setting_set(opt->table, opt->groups[g], key, v, as, fn));
    return SSLK_OK;
}

static sslk_status optim_group_put(sslk_optim *opt, size_t group, int key, double v, sslk_setting_type as,
                                   const char *fn) {
    SSLI_CHECK_PTR(opt, fn);
    if (group >= opt->ngroups)
        return ssli_err(SSLK_E_RANGE, "%s: 'group' = %zu, the optimizer has %zu group(s)", fn, group,
                        opt->ngroups);
    return ssli_setting_set(opt->table, opt->groups[group], key, v, as, fn);
}

/* group SIZE_MAX reads the defaults */
static sslk_status optim_read(const sslk_optim *opt, size_t group, int key, double *v, const char *fn) {
    SSLI_CHECK_PTR(opt, fn);
    if (group == SIZE_MAX) return ssli_setting_get(opt->table, opt->defaults, key, v, fn);
    if (group >= opt->ngroups)
        return ssli_err(SSLK_E_RANGE, "%s: 'group' = %zu, the optimizer has %zu group(s)", fn, group,
                        opt->ngroups);
    return ssli_setting_get(opt->table, opt->groups[group], key, v, fn);
}

/* sslk_optim_set_{f64,i64}, sslk_optim_group_set_{f64,i64}, sslk_optim_get_{f64,i64} */
SSLI_SETTINGS_SETTERS(sslk_optim, sslk_optim, optim_put)
SSLI_SETTINGS_SETTERS_AT(sslk_optim, sslk_optim_group, size_t, optim_group_put)
SSLI_SETTINGS_GETTERS_AT(sslk_optim, sslk_optim, size_t, optim_read)

sslk_status sslk_optim_set_lr_scale(sslk_optim *opt, double scale) {
    SSLI_CHECK_PTR(opt, "sslk_optim_set_lr_scale");
    if (!(scale >= 0.0 && scale <= 1e6))
        return ssli_err(SSLK_E_INVALID_ARG, "sslk_optim_set_lr_scale: 'scale' = %g must be in [0, 1e6]",
                        scale);
    opt->lr_scale = scale;
    return SSLK_OK;
}

sslk_status sslk_optim_steps(const sslk_optim *opt, uint64_t *steps) {
    SSLI_CHECK_PTR(opt, "sslk_optim_steps");
    SSLI_CHECK_PTR(steps, "sslk_optim_steps");
    *steps = opt->steps;
    return SSLK_OK;
}

/* ---- schedule -------------------------------------------------------------- */

sslk_status sslk_schedule_warmup_cosine(uint64_t step, uint64_t warmup_steps, uint64_t total_steps,
                                        double base, double final, double *lr) {
    static const char fn[] = "sslk_schedule_warmup_cosine";
    SSLI_CHECK_PTR(lr, fn);
    if (!isfinite(base) || !isfinite(final))
        return ssli_err(SSLK_E_NONFINITE, "%s: 'base' = %g and 'final' = %g must be finite", fn, base, final);
    if (step < warmup_steps) {
        *lr = base * (double)(step + 1) / (double)warmup_steps;
        return SSLK_OK;
    }
    uint64_t span = total_steps > warmup_steps ? total_steps - warmup_steps : 1;
    double t = (double)(step - warmup_steps) / (double)span;
    if (t > 1.0) t = 1.0;
    *lr = final + (base - final) * 0.5 * (1.0 + cos(M_PI * t));
    return SSLK_OK;
}
