/* 2-D convolution, NCHW, square kernel, stride, zero padding: per-sample
 * im2col + one BLIS GEMM, samples spread over OpenMP threads (each GEMM on
 * one thread).  Weight gradients are summed in per-thread partials reduced
 * in thread order, so results depend only on the thread count.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <omp.h>

#include "linalg/linalg.h"
#include "nn/layers.h"

typedef struct conv_geom {
    size_t cin, h, w, cout, ho, wo, k, s, p, ckk, hw_out;
} conv_geom;

static conv_geom geom_of(const ssli_layer *L) {
    conv_geom g;
    g.cin = L->in.c, g.h = L->in.h, g.w = L->in.w;
    g.cout = L->out.c, g.ho = L->out.h, g.wo = L->out.w;
    g.k = L->kernel, g.s = L->stride, g.p = L->pad;
    g.ckk = g.cin * g.k * g.k;
    g.hw_out = g.ho * g.wo;
    return g;
}

static bool is_pointwise(const conv_geom *g) { return g->k == 1 && g->s == 1 && g->p == 0; }

/* col[(ci*k + ki)*k + kj][oh*wo + ow] = x[ci][oh*s - p + ki][ow*s - p + kj] (0 outside). */
static void im2col(const conv_geom *g, const float *x, float *col) {
    for (size_t ci = 0; ci < g->cin; ci++)
        for (size_t ki = 0; ki < g->k; ki++)
            for (size_t kj = 0; kj < g->k; kj++) {
                float *dst = col + ((ci * g->k + ki) * g->k + kj) * g->hw_out;
                const float *src = x + ci * g->h * g->w;
                for (size_t oh = 0; oh < g->ho; oh++) {
                    ptrdiff_t ih = (ptrdiff_t)(oh * g->s + ki) - (ptrdiff_t)g->p;
                    float *d = dst + oh * g->wo;
                    if (ih < 0 || ih >= (ptrdiff_t)g->h) {
                        memset(d, 0, g->wo * sizeof(float));
                        continue;
                    }
                    const float *srow = src + (size_t)ih * g->w;
                    if (g->s == 1) {
                        /* contiguous run with zero margins */
                        for (size_t ow = 0; ow < g->wo; ow++) {
                            ptrdiff_t iw = (ptrdiff_t)(ow + kj) - (ptrdiff_t)g->p;
                            d[ow] = (iw < 0 || iw >= (ptrdiff_t)g->w) ? 0.0f : srow[iw];
                        }
                    } else {
                        for (size_t ow = 0; ow < g->wo; ow++) {
                            ptrdiff_t iw = (ptrdiff_t)(ow * g->s + kj) - (ptrdiff_t)g->p;
                            d[ow] = (iw < 0 || iw >= (ptrdiff_t)g->w) ? 0.0f : srow[iw];
                        }
                    }
                }
            }
}

/* x += col2im(col) (x zeroed by the caller). */
static void col2im_add(const conv_geom *g, const float *col, float *x) {
    for (size_t ci = 0; ci < g->cin; ci++)
        for (size_t ki = 0; ki < g->k; ki++)
            for (size_t kj = 0; kj < g->k; kj++) {
                const float *src = col + ((ci * g->k + ki) * g->k + kj) * g->hw_out;
                float *dst = x + ci * g->h * g->w;
                for (size_t oh = 0; oh < g->ho; oh++) {
                    ptrdiff_t ih = (ptrdiff_t)(oh * g->s + ki) - (ptrdiff_t)g->p;
                    if (ih < 0 || ih >= (ptrdiff_t)g->h) continue;
                    float *drow = dst + (size_t)ih * g->w;
                    const float *s = src + oh * g->wo;
                    for (size_t ow = 0; ow < g->wo; ow++) {
                        ptrdiff_t iw = (ptrdiff_t)(ow * g->s + kj) - (ptrdiff_t)g->p;
                        if (iw >= 0 && iw < (ptrdiff_t)g->w) drow[iw] += s[ow];
                    }
                }
            }
}

/* Threads used over samples; when there are fewer samples than threads the
 * GEMMs themselves get the context's threads instead. */
static int sample_threads(const sslk_model *m, size_t rows) {
    int nt = ssli_threads(m->ctx);
    return (size_t)nt > rows ? 1 : nt;
}

sslk_status ssli_conv2d_forward(sslk_model *m, ssli_layer *L, const float *x, size_t rows) {
    conv_geom g = geom_of(L);
    const int nt = sample_threads(m, rows);
    const sslk_ctx *gemm_ctx = nt == 1 ? m->ctx : NULL;
    const bool pw = is_pointwise(&g);
    size_t per = pw ? 0 : g.ckk * g.hw_out, bytes;
    if (ssli_mul3_overflow(per, (size_t)nt, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "conv2d: workspace size overflows");
    float *ws;
    SSLI_TRY(ssli_nn_scratch(m, bytes, (void **)&ws));
    const size_t in_n = g.cin * g.h * g.w, out_n = g.cout * g.hw_out;
#pragma omp parallel num_threads(nt)
    {
        float *col = ws + (size_t)omp_get_thread_num() * per;
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const float *xs = x + r * in_n;
            float *ys = L->out_buf + r * out_n;
            const float *B = xs;
            if (!pw) {
                im2col(&g, xs, col);
                B = col;
            }
            float beta = 0.0f;
            if (L->bias) {
                for (size_t co = 0; co < g.cout; co++) {
                    float b = L->bias[co];
                    float *yc = ys + co * g.hw_out;
                    for (size_t i = 0; i < g.hw_out; i++) yc[i] = b;
                }
                beta = 1.0f;
            }
            ssli_sgemm(gemm_ctx, false, false, g.cout, g.hw_out, g.ckk, 1.0f, L->weight, g.ckk, B,
                       g.hw_out, beta, ys, g.hw_out);
        }
    }
    return SSLK_OK;
}

sslk_status ssli_conv2d_backward(sslk_model *m, ssli_layer *L, const float *x, const float *gy,
                                 size_t rows, float *gx) {
    conv_geom g = geom_of(L);
    const int nt = sample_threads(m, rows);
    const sslk_ctx *gemm_ctx = nt == 1 ? m->ctx : NULL;
    const bool pw = is_pointwise(&g);
    const size_t wcount = g.cout * g.ckk;
    /* per thread: col, gcol, weight-gradient partial, bias partial (doubles as 2 floats) */
    size_t per = (pw ? 0 : 2 * g.ckk * g.hw_out) + wcount + 2 * g.cout, bytes;
    per = (per + 15) & ~(size_t)15; /* keep each thread's slice 64-byte aligned */
    if (ssli_mul3_overflow(per, (size_t)nt, sizeof(float), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "conv2d: workspace size overflows");
    float *ws;
    SSLI_TRY(ssli_nn_scratch(m, bytes, (void **)&ws));
    const size_t in_n = g.cin * g.h * g.w, out_n = g.cout * g.hw_out;
#pragma omp parallel num_threads(nt)
    {
        float *base = ws + (size_t)omp_get_thread_num() * per;
        double *gb = (double *)base;
        float *gw = base + 2 * g.cout;
        float *col = gw + wcount;
        float *gcol = col + g.ckk * g.hw_out;
        memset(gw, 0, wcount * sizeof(float));
        for (size_t co = 0; co < g.cout; co++) gb[co] = 0.0;
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            const float *xs = x + r * in_n;
            const float *gys = gy + r * out_n;
            const float *B = xs;
            if (!pw) {
                im2col(&g, xs, col);
                B = col;
            }
            /* dW += gy_s col^T */
            ssli_sgemm(gemm_ctx, false, true, g.cout, g.ckk, g.hw_out, 1.0f, gys, g.hw_out, B,
                       g.hw_out, 1.0f, gw, g.ckk);
            if (L->bias)
                for (size_t co = 0; co < g.cout; co++) {
                    const float *gc = gys + co * g.hw_out;
                    double s = 0.0;
                    for (size_t i = 0; i < g.hw_out; i++) s += gc[i];
                    gb[co] += s;
                }
            if (gx) {
                float *gxs = gx + r * in_n;
                if (pw) {
                    ssli_sgemm(gemm_ctx, true, false, g.ckk, g.hw_out, g.cout, 1.0f, L->weight,
                               g.ckk, gys, g.hw_out, 0.0f, gxs, g.hw_out);
                } else {
                    ssli_sgemm(gemm_ctx, true, false, g.ckk, g.hw_out, g.cout, 1.0f, L->weight,
                               g.ckk, gys, g.hw_out, 0.0f, gcol, g.hw_out);
                    memset(gxs, 0, in_n * sizeof(float));
                    col2im_add(&g, gcol, gxs);
                }
            }
        }
    }
    /* reduce partials in thread order */
    for (int t = 0; t < nt; t++) {
        const float *base = ws + (size_t)t * per;
        const double *gb = (const double *)base;
        const float *gw = base + 2 * g.cout;
        for (size_t i = 0; i < wcount; i++) L->gweight[i] += gw[i];
        if (L->bias)
            for (size_t co = 0; co < g.cout; co++) L->gbias[co] += (float)gb[co];
    }
    return SSLK_OK;
}
