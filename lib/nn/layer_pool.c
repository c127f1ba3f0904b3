/* Pooling: max-pool 2-D (window k, stride, -inf padding, floor output
 * size), avg-pool 2-D (no padding, floor), adaptive average pooling to
 * (out.h, out.w) with PyTorch's bins, and global average pooling
 * (c, h, w) -> (c).  Max-pool ties go to the first maximum in row-major
 * window order (as PyTorch's CPU kernel).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/layers.h"

/* PyTorch's adaptive bins: output i of n over an input of len covers
 * [floor(i len / n), ceil((i + 1) len / n)). */
static size_t bin_start(size_t i, size_t len, size_t n) { return i * len / n; }
static size_t bin_end(size_t i, size_t len, size_t n) { return ((i + 1) * len + n - 1) / n; }

static void adaptive_forward(const ssli_layer *L, const float *x, size_t planes, int nt) {
    const size_t h = L->in.h, w = L->in.w, ho = L->out.h, wo = L->out.w;
    float *y = L->out_buf;
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * ho * wo;
        for (size_t oh = 0; oh < ho; oh++) {
            size_t i0 = bin_start(oh, h, ho), i1 = bin_end(oh, h, ho);
            for (size_t ow = 0; ow < wo; ow++) {
                size_t j0 = bin_start(ow, w, wo), j1 = bin_end(ow, w, wo);
                double acc = 0.0;
                for (size_t i = i0; i < i1; i++) acc += ssli_nn_sum(xp + i * w + j0, j1 - j0);
                yp[oh * wo + ow] = (float)(acc / (double)((i1 - i0) * (j1 - j0)));
            }
        }
    }
}

static void adaptive_backward(const ssli_layer *L, const float *gy, size_t pl, float *gp) {
    const size_t h = L->in.h, w = L->in.w, ho = L->out.h, wo = L->out.w;
    const float *gyp = gy + pl * ho * wo;
    for (size_t oh = 0; oh < ho; oh++) {
        size_t i0 = bin_start(oh, h, ho), i1 = bin_end(oh, h, ho);
        for (size_t ow = 0; ow < wo; ow++) {
            size_t j0 = bin_start(ow, w, wo), j1 = bin_end(ow, w, wo);
            const float v = (float)((double)gyp[oh * wo + ow] / (double)((i1 - i0) * (j1 - j0)));
            for (size_t i = i0; i < i1; i++)
                for (size_t j = j0; j < j1; j++) gp[i * w + j] += v;
        }
    }
}

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
    if (L->kind == SSLI_LAYER_ADAPTIVE_AVGPOOL) {
        adaptive_forward(L, x, planes, nt);
        return SSLK_OK;
    }
    size_t bytes;
    if (ssli_mul3_overflow(planes, ho * wo, sizeof(int32_t), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "maxpool: buffer size overflows");
    SSLI_TRY(ssli_nn_grow(m->ctx, &L->aux, &L->aux_cap, bytes));
    int32_t *arg = L->aux;
    const size_t p = L->pad;
#pragma omp parallel for num_threads(nt) schedule(static) if (planes * h * w > SSLI_NN_PAR_MIN)
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * h * w;
        float *yp = y + pl * ho * wo;
        int32_t *ap = arg + pl * ho * wo;
        for (size_t oh = 0; oh < ho; oh++) {
            /* window rows [i0, i1) clipped to the input: padding is -inf, never chosen */
            size_t i0 = oh * s >= p ? oh * s - p : 0, i1 = oh * s + k - p < h ? oh * s + k - p : h;
            for (size_t ow = 0; ow < wo; ow++) {
                size_t j0 = ow * s >= p ? ow * s - p : 0, j1 = ow * s + k - p < w ? ow * s + k - p : w;
                size_t best = i0 * w + j0;
                float bv = xp[best];
                for (size_t i = i0; i < i1; i++)
                    for (size_t j = j0; j < j1; j++) {
                        size_t idx = i * w + j;
                        if (xp[idx] > bv) {
                            bv = xp[idx];
                            best = idx;
                        }
                    }
                yp[oh * wo + ow] = bv;
                ap[oh * wo + ow] = (int32_t)best;
            }
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
        if (L->kind == SSLI_LAYER_ADAPTIVE_AVGPOOL) {
            adaptive_backward(L, gy, pl, gp);
        } else if (L->kind == SSLI_LAYER_AVGPOOL) {
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
