/* Pooling: max-pool and avg-pool 2-D (window k, stride, no padding, floor
 * output size) and global average pooling (c, h, w) -> (c).
 * Max-pool ties go to the first maximum in row-major window order.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/layers.h"

sslk_status ssli_pool_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows) {
    const size_t c = L->in.c, h = L->in.h, w = L->in.w;
    const size_t ho = L->out.h, wo = L->out.w, k = L->kernel, s = L->stride;
    const size_t planes = rows * c;
    float *y = L->out_buf;
    int nt = ssli_threads(m->ctx);
    if (L->kind == SSLI_LAYER_GAP) {
        const double inv = 1.0 / (double)(h * w);
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
        for (size_t pl = 0; pl < planes; pl++) {
            const float *xp = x + pl * h * w;
            double acc = 0.0;
            for (size_t i = 0; i < h * w; i++) acc += xp[i];
            y[pl] = (float)(acc * inv);
        }
        return SSLK_OK;
    }
    if (L->kind == SSLI_LAYER_AVGPOOL) {
        const float inv = 1.0f / (float)(k * k);
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
        for (size_t pl = 0; pl < planes; pl++) {
            const float *xp = x + pl * h * w;
            float *yp = y + pl * ho * wo;
            for (size_t oh = 0; oh < ho; oh++)
                for (size_t ow = 0; ow < wo; ow++) {
                    float acc = 0.0f;
                    for (size_t i = 0; i < k; i++)
                        for (size_t j = 0; j < k; j++) acc += xp[(oh * s + i) * w + ow * s + j];
                    yp[oh * wo + ow] = acc * inv;
                }
        }
        return SSLK_OK;
    }
    size_t bytes;
    if (ssli_mul3_overflow(planes, ho * wo, sizeof(int32_t), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "maxpool: buffer size overflows");
    SSLI_TRY(ssli_nn_grow(m->ctx, &L->aux, &L->aux_cap, bytes));
    int32_t *arg = L->aux;
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * ho * wo;
        int32_t *ap = arg + pl * ho * wo;
        for (size_t oh = 0; oh < ho; oh++)
            for (size_t ow = 0; ow < wo; ow++) {
                size_t best = (oh * s) * w + ow * s;
                float bv = xp[best];
                for (size_t i = 0; i < k; i++)
                    for (size_t j = 0; j < k; j++) {
                        size_t idx = (oh * s + i) * w + ow * s + j;
                        if (xp[idx] > bv) {
                            bv = xp[idx];
                            best = idx;
                        }
                    }
                yp[oh * wo + ow] = bv;
                ap[oh * wo + ow] = (int32_t)best;
            }
    }
    return SSLK_OK;
}

void ssli_pool_backward(const sslk_model *m, const ssli_layer *L, const float *gy, size_t rows,
                        float *gx) {
    if (!gx) return;
    const size_t c = L->in.c, h = L->in.h, w = L->in.w;
    const size_t ho = L->out.h, wo = L->out.w, k = L->kernel, s = L->stride;
    const size_t planes = rows * c;
    int nt = ssli_threads(m->ctx);
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
    for (size_t pl = 0; pl < planes; pl++) {
        float *gp = gx + pl * h * w;
        if (L->kind == SSLI_LAYER_GAP) {
            const float v = gy[pl] / (float)(h * w);
            for (size_t i = 0; i < h * w; i++) gp[i] = v;
            continue;
        }
        memset(gp, 0, h * w * sizeof(float));
        const float *gyp = gy + pl * ho * wo;
        if (L->kind == SSLI_LAYER_AVGPOOL) {
            const float inv = 1.0f / (float)(k * k);
            for (size_t oh = 0; oh < ho; oh++)
                for (size_t ow = 0; ow < wo; ow++) {
                    const float v = gyp[oh * wo + ow] * inv;
                    for (size_t i = 0; i < k; i++)
                        for (size_t j = 0; j < k; j++) gp[(oh * s + i) * w + ow * s + j] += v;
                }
        } else {
            const int32_t *ap = (const int32_t *)L->aux + pl * ho * wo;
            for (size_t o = 0; o < ho * wo; o++) gp[ap[o]] += gyp[o];
        }
    }
}
