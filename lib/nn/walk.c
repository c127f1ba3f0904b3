/* The read-only layer walk of nn/walk.h: the one place that maps layer kinds
 * to the piecewise-linear operations the geometry tools bind.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/model_internal.h"

ssli_walk ssli_model_walk(const sslk_model *m) { return (ssli_walk){&m->top, m}; }

const char *ssli_walk_key_name(const void *key) { return ((const ssli_layer *)key)->name; }

size_t ssli_walk_count(ssli_walk w) { return w.seq ? ((const ssli_seq *)w.seq)->n : 0; }

void ssli_walk_get(ssli_walk w, size_t i, ssli_walk_layer *d) {
    const ssli_seq *s = w.seq;
    const ssli_layer *L = &s->layers[i];
    memset(d, 0, sizeof *d);
    d->key = L;
    d->name = L->name;
    d->in = L->in;
    d->out = L->out;
    d->weight = L->weight;
    d->bias = L->bias;
    d->weight_count = L->weight_count;
    d->bias_count = L->bias_count;
    d->kernel = L->kernel;
    d->stride = L->stride;
    d->pad = L->pad;
    d->preact = ssli_seq_is_preact(s, i);
    switch (L->kind) {
    case SSLI_LAYER_LINEAR: d->op = SSLI_WALK_DENSE; break;
    case SSLI_LAYER_CONV2D: d->op = SSLI_WALK_CONV; break;
    case SSLI_LAYER_BATCHNORM:
        d->op = SSLI_WALK_NORM;
        d->mean = L->running_mean;
        d->var = L->running_var;
        d->eps = ssli_model_bn_eps(w.model);
        break;
    case SSLI_LAYER_RELU: d->op = SSLI_WALK_UNIT, d->neg = 0.0, d->pos = 1.0; break;
    case SSLI_LAYER_LEAKY_RELU: d->op = SSLI_WALK_UNIT, d->neg = (double)L->slope, d->pos = 1.0; break;
    case SSLI_LAYER_ABS: d->op = SSLI_WALK_UNIT, d->neg = -1.0, d->pos = 1.0; break;
    case SSLI_LAYER_MAXPOOL: d->op = SSLI_WALK_MAXPOOL; break;
    case SSLI_LAYER_AVGPOOL: d->op = SSLI_WALK_AVGPOOL; break;
    case SSLI_LAYER_ADAPTIVE_AVGPOOL:
        /* equal bins are an avg-pool (1 x 1: a global average); others have no CPWL op */
        if (L->out.h == 1 && L->out.w == 1) {
            d->op = SSLI_WALK_GAP;
        } else if (L->in.h % L->out.h == 0 && L->in.w % L->out.w == 0 &&
                   L->in.h / L->out.h == L->in.w / L->out.w) {
            d->op = SSLI_WALK_AVGPOOL;
            d->kernel = d->stride = L->in.h / L->out.h;
        } else {
            d->op = SSLI_WALK_ADAPTIVE;
        }
        break;
    case SSLI_LAYER_GAP: d->op = SSLI_WALK_GAP; break;
    case SSLI_LAYER_FLATTEN: d->op = SSLI_WALK_RESHAPE; break;
    case SSLI_LAYER_RESIDUAL:
        d->op = SSLI_WALK_ADD;
        d->body = (ssli_walk){L->body, w.model};
        d->shortcut = (ssli_walk){L->shortcut, w.model};
        d->identity = L->shortcut == NULL;
        break;
    }
}

const sslk_ctx *ssli_model_ctx(const sslk_model *m) { return m->ctx; }
int ssli_model_open_blocks(const sslk_model *m) { return m->nopen; }
ssli_shape ssli_model_in_shape(const sslk_model *m) { return m->top.in; }
ssli_shape ssli_model_out_shape(const sslk_model *m) { return m->top.out; }
const ssli_model_hook *ssli_model_hook_of(const sslk_model *m) { return m->hook; }

void ssli_model_set_grad_ready(sslk_model *m, sslk_status (*fn)(void *user, const void *key), void *user) {
    m->grad_ready = fn;
    m->grad_ready_user = fn ? user : NULL;
}
