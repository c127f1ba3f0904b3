/* Translate an sslk_model (evaluation mode) into the CPWL op list:
 * batch-norm folded into a directly preceding linear / conv layer, flatten
 * dropped (the layout is already flat), residual blocks as stack ops.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "geometry/partition.h"
#include "nn/model_internal.h"

sslk_status ssli_cpwl_from_model(const sslk_model *m, ssli_cpwl *net);

static sslk_status check_finite(const ssli_layer *L, const float *x, size_t n, const char *what) {
    size_t bad = x ? ssli_first_nonfinite_f32(x, n) : SIZE_MAX;
    if (bad != SIZE_MAX)
        return ssli_err(SSLK_E_NONFINITE, "sslk_splinecam: layer '%s' %s[%zu] is not finite", L->name, what, bad);
    return SSLK_OK;
}

static sslk_status bind_seq(const sslk_model *m, const ssli_seq *s, ssli_cpwl *net) {
    for (size_t i = 0; i < s->n; i++) {
        const ssli_layer *L = &s->layers[i];
        size_t c = L->in.c, h = L->in.h, w = L->in.w;
        SSLI_TRY(check_finite(L, L->weight, L->weight_count, "weight"));
        SSLI_TRY(check_finite(L, L->bias, L->bias_count, "bias"));
        if (L->kind == SSLI_LAYER_BATCHNORM) {
            SSLI_TRY(check_finite(L, L->running_mean, c, "running_mean"));
            SSLI_TRY(check_finite(L, L->running_var, c, "running_var"));
            for (size_t j = 0; j < c; j++)
                if (!((double)L->running_var[j] + ssli_model_bn_eps(m) > 0))
                    return ssli_err(SSLK_E_NUMERIC, "sslk_splinecam: layer '%s' running_var[%zu] + eps = %g is not positive",
                                    L->name, j, (double)L->running_var[j] + ssli_model_bn_eps(m));
        }
        switch (L->kind) {
        case SSLI_LAYER_LINEAR:
            SSLI_TRY(ssli_cpwl_dense(net, ssli_shape_numel(L->out), L->weight, NULL, L->bias, NULL));
            break;
        case SSLI_LAYER_CONV2D:
            SSLI_TRY(ssli_cpwl_conv(net, c, h, w, L->out.c, L->kernel, L->stride, L->pad, L->weight,
                                    NULL, L->bias, NULL));
            break;
        case SSLI_LAYER_BATCHNORM: {
            double eps = ssli_model_bn_eps(m);
            size_t spatial = h * w;
            double *sc = ssli_malloc(net->ctx, 2 * c, sizeof(double));
            if (!sc) return ssli_alloc_status();
            double *sh = sc + c;
            for (size_t j = 0; j < c; j++) {
                double g = L->weight ? L->weight[j] : 1.0, b = L->bias ? L->bias[j] : 0.0;
                sc[j] = g / sqrt((double)L->running_var[j] + eps);
                sh[j] = b - (double)L->running_mean[j] * sc[j];
            }
            bool folded = false;
            if (i > 0 && (s->layers[i - 1].kind == SSLI_LAYER_LINEAR ||
                          s->layers[i - 1].kind == SSLI_LAYER_CONV2D)) {
                /* per output feature of the dense op: expand channels over positions */
                const ssli_cpwl_op *last = &net->ops[net->nops - 1];
                if (last->kind == SSLI_COP_CONV) folded = ssli_cpwl_fold_scale(net, sc, sh);
                else if (spatial == 1) folded = ssli_cpwl_fold_scale(net, sc, sh);
            }
            sslk_status st = folded ? SSLK_OK : ssli_cpwl_scale(net, c, spatial, sc, sh);
            ssli_free(net->ctx, sc);
            SSLI_TRY(st);
            break;
        }
        case SSLI_LAYER_RELU: SSLI_TRY(ssli_cpwl_unit(net, 0.0, 1.0)); break;
        case SSLI_LAYER_LEAKY_RELU: SSLI_TRY(ssli_cpwl_unit(net, (double)L->slope, 1.0)); break;
        case SSLI_LAYER_ABS: SSLI_TRY(ssli_cpwl_unit(net, -1.0, 1.0)); break;
        case SSLI_LAYER_MAXPOOL:
            SSLI_TRY(ssli_cpwl_maxpool(net, c, h, w, L->kernel, L->stride));
            break;
        case SSLI_LAYER_AVGPOOL:
            SSLI_TRY(ssli_cpwl_avgpool(net, c, h, w, L->kernel, L->stride));
            break;
        case SSLI_LAYER_GAP: SSLI_TRY(ssli_cpwl_gap(net, c, h, w)); break;
        case SSLI_LAYER_FLATTEN: break;
        case SSLI_LAYER_RESIDUAL:
            SSLI_TRY(ssli_cpwl_push(net));
            if (L->body) SSLI_TRY(bind_seq(m, L->body, net));
            if (L->shortcut) {
                SSLI_TRY(ssli_cpwl_swap(net));
                SSLI_TRY(bind_seq(m, L->shortcut, net));
            }
            SSLI_TRY(ssli_cpwl_add(net));
            break;
        default:
            return ssli_err(SSLK_E_UNSUPPORTED, "sslk_splinecam: layer '%s' of kind %d is not supported",
                            L->name, (int)L->kind);
        }
    }
    return SSLK_OK;
}

sslk_status ssli_cpwl_from_model(const sslk_model *m, ssli_cpwl *net) {
    const ssli_seq *top = ssli_model_top(m);
    ssli_cpwl_init(net, m->ctx, ssli_shape_numel(top->in));
    sslk_status st = bind_seq(m, top, net);
    if (st == SSLK_OK) st = ssli_cpwl_finish(net);
    if (st != SSLK_OK) ssli_cpwl_free(net);
    return st;
}
