/* Deterministic seeded initialisation.  Each layer draws from its own
 * counter-based stream keyed by (seed, build-order serial), element i of the
 * weight at counter i and of the bias at counter weight_count + i, so the
 * values do not depend on threads or on other layers.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>

#include "nn/layers.h"

static size_t fan_in(const ssli_layer *L) { return L->weight_count / L->out.c; }

static size_t fan_out(const ssli_layer *L) {
    return L->kind == SSLI_LAYER_CONV2D ? L->out.c * L->kernel * L->kernel : L->out.c;
}

void ssli_layer_init(ssli_layer *L, sslk_init scheme, uint64_t seed) {
    const uint64_t key = ssli_rng_key(seed, L->serial, 0x1417);
    if (L->kind == SSLI_LAYER_BATCHNORM) {
        for (size_t j = 0; j < L->in.c; j++) {
            L->weight[j] = L->zero_gamma ? 0.0f : 1.0f;
            L->bias[j] = 0.0f;
            L->running_mean[j] = 0.0f;
            L->running_var[j] = 1.0f;
        }
        L->num_batches_tracked = 0;
        return;
    }
    if (L->kind != SSLI_LAYER_LINEAR && L->kind != SSLI_LAYER_CONV2D) return;
    const size_t fi = fan_in(L);
    const double bound = 1.0 / sqrt((double)fi);
    if (scheme == SSLK_INIT_PYTORCH && L->tv_init) /* backbone convs: torchvision's ResNet init */
        scheme = SSLK_INIT_KAIMING_NORMAL_OUT;
    if (scheme == SSLK_INIT_PYTORCH) {
        /* kaiming_uniform(a = sqrt(5)): gain sqrt(2 / 6), bound gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in) */
        for (size_t i = 0; i < L->weight_count; i++)
            L->weight[i] = (float)((2.0 * ssli_rng_uniform(key, i) - 1.0) * bound);
        for (size_t i = 0; i < L->bias_count; i++)
            L->bias[i] = (float)((2.0 * ssli_rng_uniform(key, L->weight_count + i) - 1.0) * bound);
        return;
    }
    const double fan = scheme == SSLK_INIT_KAIMING_NORMAL_OUT ? (double)fan_out(L) : (double)fi;
    const double sd = sqrt(2.0 / fan);
    for (size_t i = 0; i < L->weight_count; i++)
        L->weight[i] = (float)(sd * ssli_rng_normal(key, i));
    for (size_t i = 0; i < L->bias_count; i++) L->bias[i] = 0.0f;
}

static void seq_init(ssli_seq *s, sslk_init scheme, uint64_t seed) {
    for (size_t i = 0; i < s->n; i++) {
        ssli_layer_init(&s->layers[i], scheme, seed);
        if (s->layers[i].body) seq_init(s->layers[i].body, scheme, seed);
        if (s->layers[i].shortcut) seq_init(s->layers[i].shortcut, scheme, seed);
    }
}

sslk_status sslk_model_init_params(sslk_model *m, sslk_init scheme, uint64_t seed) {
    static const char fn[] = "sslk_model_init_params";
    SSLI_CHECK_PTR(m, fn);
    if (scheme != SSLK_INIT_PYTORCH && scheme != SSLK_INIT_KAIMING_NORMAL &&
        scheme != SSLK_INIT_KAIMING_NORMAL_OUT)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'scheme' = %d is not a sslk_init", fn, (int)scheme);
    seq_init(&m->top, scheme, seed);
    m->seed = seed;
    return SSLK_OK;
}
