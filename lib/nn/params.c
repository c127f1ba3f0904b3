/* Named parameter views in PyTorch state_dict order, get / set by name.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include "core/struct_sizes.h"
#include "nn/layers.h"

typedef struct view_builder {
    sslk_param_view *v;
    size_t n;
} view_builder;

static void add_view(view_builder *b, const ssli_layer *L, const char *suffix, float *data,
                     float *grad, size_t count, unsigned flags) {
    if (b->v) {
        sslk_param_view *v = &b->v[b->n];
        memset(v, 0, sizeof *v);
        v->struct_size = sizeof *v;
        int k = suffix[0] == 'w' ? 0 : suffix[0] == 'b' ? 1 : !strcmp(suffix, "running_mean") ? 2 : 3;
        v->name = L->pnames[k]; /* owned by the layer: stable for the model's lifetime */
        v->data = data;
        v->grad = grad;
        v->count = count;
        v->flags = flags;
        if (!strcmp(suffix, "weight") && L->kind == SSLI_LAYER_LINEAR) {
            v->ndim = 2;
            v->shape[0] = L->out.c;
            v->shape[1] = L->weight_count / L->out.c;
        } else if (!strcmp(suffix, "weight") && L->kind == SSLI_LAYER_CONV2D) {
            v->ndim = 4;
            v->shape[0] = L->out.c;
            v->shape[1] = L->in.c;
            v->shape[2] = v->shape[3] = L->kernel;
        } else {
            v->ndim = 1;
            v->shape[0] = count;
        }
    }
    b->n++;
}

static void walk(view_builder *b, ssli_seq *s) {
    for (size_t i = 0; i < s->n; i++) {
        ssli_layer *L = &s->layers[i];
        bool bn = L->kind == SSLI_LAYER_BATCHNORM;
        if (L->weight)
            add_view(b, L, "weight", L->weight, L->gweight, L->weight_count, bn ? SSLK_PARAM_NO_DECAY : 0);
        if (L->bias) add_view(b, L, "bias", L->bias, L->gbias, L->bias_count, SSLK_PARAM_NO_DECAY);
        if (bn) {
            add_view(b, L, "running_mean", L->running_mean, NULL, L->in.c, SSLK_PARAM_FROZEN);
            add_view(b, L, "running_var", L->running_var, NULL, L->in.c, SSLK_PARAM_FROZEN);
        }
        if (L->body) walk(b, L->body);
        if (L->shortcut) walk(b, L->shortcut);
    }
}

static sslk_status refresh_views(sslk_model *m) {
    if (!m->views_dirty) return SSLK_OK;
    view_builder b = {NULL, 0};
    walk(&b, &m->top);
    sslk_param_view *v = ssli_calloc(m->ctx, b.n ? b.n : 1, sizeof *v);
    if (!v) return ssli_alloc_status();
    b = (view_builder){v, 0};
    walk(&b, &m->top);
    ssli_free(m->ctx, m->views);
    m->views = v;
    m->nviews = b.n;
    m->views_dirty = false;
    return SSLK_OK;
}

sslk_status sslk_model_param_count(const sslk_model *m, size_t *count) {
    SSLI_CHECK_PTR(m, "sslk_model_param_count");
    SSLI_CHECK_PTR(count, "sslk_model_param_count");
    SSLI_TRY(refresh_views((sslk_model *)m));
    *count = m->nviews;
    return SSLK_OK;
}

sslk_status sslk_model_param(sslk_model *m, size_t i, sslk_param_view *view) {
    static const char fn[] = "sslk_model_param";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(view, fn);
    SSLI_TRY(ssli_struct_check(view, SSLI_V10_PARAM_VIEW, fn, "view"));
    SSLI_TRY(refresh_views(m));
    if (i >= m->nviews)
        return ssli_err(SSLK_E_RANGE, "%s: index %zu out of range (model has %zu tensors)", fn, i,
                        m->nviews);
    ssli_struct_out(view, &m->views[i], sizeof m->views[i]);
    return SSLK_OK;
}

sslk_status sslk_model_num_scalars(const sslk_model *m, size_t *count) {
    SSLI_CHECK_PTR(m, "sslk_model_num_scalars");
    SSLI_CHECK_PTR(count, "sslk_model_num_scalars");
    SSLI_TRY(refresh_views((sslk_model *)m));
    size_t t = 0;
    for (size_t i = 0; i < m->nviews; i++)
        if (!(m->views[i].flags & SSLK_PARAM_FROZEN)) t += m->views[i].count;
    *count = t;
    return SSLK_OK;
}

const sslk_param_view *ssli_model_find_view(sslk_model *m, const char *name) {
    if (refresh_views(m) != SSLK_OK) return NULL;
    for (size_t i = 0; i < m->nviews; i++)
        if (!strcmp(m->views[i].name, name)) return &m->views[i];
    return NULL;
}

static sslk_status lookup(const sslk_model *m, const char *name, size_t count, const char *fn,
                          const sslk_param_view **out) {
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(name, fn);
    SSLI_TRY(refresh_views((sslk_model *)m));
    const sslk_param_view *v = ssli_model_find_view((sslk_model *)m, name);
    if (!v) return ssli_err(SSLK_E_NOT_FOUND, "%s: the model has no tensor named '%s'", fn, name);
    if (v->count != count)
        return ssli_err(SSLK_E_SHAPE, "%s: tensor '%s' has %zu values, 'count' = %zu", fn, name,
                        v->count, count);
    *out = v;
    return SSLK_OK;
}

sslk_status sslk_model_get_param(const sslk_model *m, const char *name, float *buf, size_t count) {
    static const char fn[] = "sslk_model_get_param";
    const sslk_param_view *v = NULL;
    SSLI_TRY(lookup(m, name, count, fn, &v));
    SSLI_CHECK_PTR(buf, fn);
    memcpy(buf, v->data, count * sizeof(float));
    return SSLK_OK;
}

sslk_status sslk_model_set_param(sslk_model *m, const char *name, const float *buf, size_t count) {
    static const char fn[] = "sslk_model_set_param";
    const sslk_param_view *v = NULL;
    SSLI_TRY(lookup(m, name, count, fn, &v));
    SSLI_CHECK_PTR(buf, fn);
    SSLI_TRY(ssli_check_finite_f32(buf, 1, count, fn, "buf"));
    if (strstr(name, "running_var"))
        for (size_t i = 0; i < count; i++)
            if (buf[i] < 0.0f)
                return ssli_err(SSLK_E_INVALID_ARG, "%s: '%s'[%zu] = %g is negative", fn, name, i,
                                (double)buf[i]);
    memcpy(v->data, buf, count * sizeof(float));
    m->last_rows = 0;
    return SSLK_OK;
}

static size_t collect(ssli_seq *s, ssli_layer **out, size_t cap, size_t n) {
    for (size_t i = 0; i < s->n; i++) {
        if (n < cap) out[n] = &s->layers[i];
        n++;
        if (s->layers[i].body) n = collect(s->layers[i].body, out, cap, n);
        if (s->layers[i].shortcut) n = collect(s->layers[i].shortcut, out, cap, n);
    }
    return n;
}

size_t ssli_model_collect_layers(sslk_model *m, ssli_layer **out, size_t cap) {
    return collect(&m->top, out, cap, 0);
}

sslk_status ssli_model_views(sslk_model *m, const sslk_param_view **views, size_t *n) {
    SSLI_TRY(refresh_views(m));
    *views = m->views;
    *n = m->nviews;
    return SSLK_OK;
}

size_t ssli_param_negative_var(const sslk_param_view *v) {
    size_t n = strlen(v->name), k = sizeof "running_var" - 1;
    if (n < k || strcmp(v->name + n - k, "running_var") != 0) return SIZE_MAX;
    for (size_t i = 0; i < v->count; i++)
        if (v->data[i] < 0.0f) return i;
    return SIZE_MAX;
}
