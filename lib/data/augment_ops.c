/* Image kernels of the augmentation pipeline, on planar float images in [0,1]:
 * antialiased crop-resize (triangle filter widened when shrinking, like PIL),
 * colour jitter, grayscale, Gaussian blur, solarise, normalise.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <string.h>

/* The per-pixel selects below (hue, clamps) only vectorise when GCC may
 * ignore floating-point exception flags, which nothing here reads. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define GR 0.299f
#define GG 0.587f
#define GB 0.114f

/* Filter taps for one axis: out samples over [x0, x0 + len) of a size-n source. */
static size_t axis_taps(double len, size_t out) {
    double scale = len / (double)out, support = scale > 1.0 ? scale : 1.0;
    return (size_t)(2.0 * ceil(support)) + 2;
}

static void axis_weights(double x0, double len, size_t out, size_t n, int flip, size_t taps, float *w,
                         int32_t *first, int32_t *count) {
    double scale = len / (double)out, support = scale > 1.0 ? scale : 1.0;
    for (size_t o = 0; o < out; o++) {
        size_t oo = flip ? out - 1 - o : o;
        double c = x0 + ((double)oo + 0.5) * scale;
        long lo = (long)floor(c - support), hi = (long)ceil(c + support);
        float *wo = w + o * taps;
        double sum = 0.0;
        size_t k = 0;
        /* Clamp to the image: an edge pixel may appear several times. */
        long base = lo < 0 ? 0 : lo;
        if (base > (long)n - 1) base = (long)n - 1;
        for (long x = lo; x < hi && k < taps; x++) {
            double t = 1.0 - fabs(((double)x + 0.5 - c) / support);
            if (t <= 0) continue;
            long xi = x < 0 ? 0 : (x > (long)n - 1 ? (long)n - 1 : x);
            if (k == 0) base = xi;
            /* taps are consecutive source pixels except where clamped: accumulate */
            size_t slot = (size_t)(xi - base);
            while (k <= slot) wo[k++] = 0.0f;
            wo[slot] += (float)t;
            sum += t;
        }
        if (k == 0) { /* degenerate: nearest pixel */
            long xi = (long)floor(c);
            base = xi < 0 ? 0 : (xi > (long)n - 1 ? (long)n - 1 : xi);
            wo[0] = 1.0f;
            k = 1;
            sum = 1.0;
        }
        for (size_t j = 0; j < k; j++) wo[j] = (float)(wo[j] / sum);
        first[o] = (int32_t)base;
        count[o] = (int32_t)k;
    }
}

/* Resize the crop [x0, x0+cw) x [y0, y0+ch) of img (decoded coordinates) to
 * out_h x out_w, planar, c = img->c channels, values / 255. */
void ssli_resize_crop(const ssli_image *img, double x0, double y0, double cw, double chh, size_t out_w,
                      size_t out_h, int flip, size_t out_c, float *out, float *tmp) {
    (void)out_c;
    const size_t C = img->c, W = img->w, H = img->h;
    size_t tx = axis_taps(cw, out_w), ty = axis_taps(chh, out_h);
    float *wx = tmp, *wy = wx + out_w * tx;
    int32_t *fx = (int32_t *)(wy + out_h * ty), *nx = fx + out_w, *fy = nx + out_w, *ny = fy + out_h;
    float *rows = (float *)(ny + out_h);
    axis_weights(x0, cw, out_w, W, flip, tx, wx, fx, nx);
    axis_weights(y0, chh, out_h, H, 0, ty, wy, fy, ny);
    size_t r0 = (size_t)fy[0], r1 = (size_t)(fy[0] + ny[0]);
    for (size_t o = 1; o < out_h; o++) {
        if ((size_t)fy[o] < r0) r0 = (size_t)fy[o];
        if ((size_t)(fy[o] + ny[o]) > r1) r1 = (size_t)(fy[o] + ny[o]);
    }
    if (r1 - r0 > out_h) {
        /* Shrinking vertically: filter rows first (contiguous, vectorised over the
         * interleaved crop columns), then each output row horizontally, so the
         * scalar horizontal work is out_h rows instead of r1 - r0. */
        size_t c0 = (size_t)fx[0], c1 = (size_t)(fx[0] + nx[0]);
        for (size_t o = 1; o < out_w; o++) {
            if ((size_t)fx[o] < c0) c0 = (size_t)fx[o];
            if ((size_t)(fx[o] + nx[o]) > c1) c1 = (size_t)(fx[o] + nx[o]);
        }
        const size_t span = (c1 - c0) * C;
        const float inv255 = 1.0f / 255.0f;
        float *acc = rows;
        for (size_t o = 0; o < out_h; o++) {
            const float *wo = wy + o * ty;
            for (size_t i = 0; i < span; i++) acc[i] = 0.0f;
            for (int k = 0; k < ny[o]; k++) {
                const uint8_t *s = img->data + ((size_t)fy[o] + (size_t)k) * W * C + c0 * C;
                const float wk = wo[k] * inv255;
                for (size_t i = 0; i < span; i++) acc[i] += wk * (float)s[i];
            }
            for (size_t x = 0; x < out_w; x++) {
                const float *wx0 = wx + x * tx, *s = acc + ((size_t)fx[x] - c0) * C;
                for (size_t ch = 0; ch < C; ch++) {
                    float a = 0.0f;
                    for (int k = 0; k < nx[x]; k++) a += wx0[k] * s[(size_t)k * C + ch];
                    out[ch * out_h * out_w + o * out_w + x] = a < 0.0f ? 0.0f : (a > 1.0f ? 1.0f : a);
                }
            }
        }
        return;
    }
    /* Horizontal pass over the rows the vertical filter touches: rows[r][c][o]. */
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *src = img->data + r * W * C;
        float *dst = rows + (r - r0) * C * out_w;
        for (size_t o = 0; o < out_w; o++) {
            const float *wo = wx + o * tx;
            const uint8_t *s = src + (size_t)fx[o] * C;
            int n = nx[o];
            if (C == 3) {
                float a0 = 0, a1 = 0, a2 = 0;
                for (int k = 0; k < n; k++) {
                    a0 += wo[k] * s[3 * k];
                    a1 += wo[k] * s[3 * k + 1];
                    a2 += wo[k] * s[3 * k + 2];
                }
                dst[o] = a0;
                dst[out_w + o] = a1;
                dst[2 * out_w + o] = a2;
            } else {
                float a0 = 0;
                for (int k = 0; k < n; k++) a0 += wo[k] * s[k];
                dst[o] = a0;
            }
        }
    }
    /* Vertical pass, scaled to [0,1]. */
    const float inv = 1.0f / 255.0f;
    for (size_t o = 0; o < out_h; o++) {
        const float *wo = wy + o * ty;
        for (size_t ch = 0; ch < C; ch++) {
            float *d = out + ch * out_h * out_w + o * out_w;
            for (size_t x = 0; x < out_w; x++) d[x] = 0.0f;
            for (int k = 0; k < ny[o]; k++) {
                const float *s = rows + ((size_t)fy[o] + (size_t)k - r0) * C * out_w + ch * out_w;
                float wk = wo[k] * inv;
                for (size_t x = 0; x < out_w; x++) d[x] += wk * s[x];
            }
            for (size_t x = 0; x < out_w; x++) d[x] = d[x] < 0.0f ? 0.0f : (d[x] > 1.0f ? 1.0f : d[x]);
        }
    }
}

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

void ssli_adjust_brightness(float *x, size_t c, size_t hw, double f) {
    float ff = (float)f;
    for (size_t i = 0; i < c * hw; i++) x[i] = clamp01(x[i] * ff);
}

void ssli_adjust_contrast(float *x, size_t c, size_t hw, double f) {
    double m = 0.0;
    if (c == 3)
        for (size_t i = 0; i < hw; i++) m += (double)(GR * x[i] + GG * x[hw + i] + GB * x[2 * hw + i]);
    else
        for (size_t i = 0; i < hw; i++) m += x[i];
    m /= (double)hw;
    float ff = (float)f, mm = (float)((1.0 - f) * m);
    for (size_t i = 0; i < c * hw; i++) x[i] = clamp01(ff * x[i] + mm);
}

void ssli_adjust_saturation(float *x, size_t c, size_t hw, double f) {
    if (c != 3) return;
    float ff = (float)f, g1 = 1.0f - ff;
    for (size_t i = 0; i < hw; i++) {
        float g = GR * x[i] + GG * x[hw + i] + GB * x[2 * hw + i];
        x[i] = clamp01(ff * x[i] + g1 * g);
        x[hw + i] = clamp01(ff * x[hw + i] + g1 * g);
        x[2 * hw + i] = clamp01(ff * x[2 * hw + i] + g1 * g);
    }
}

/* Hue rotation through HSV, written branch-free so it vectorises: with
 * v = max, d = max - min and h the shifted hue in turns, each channel is
 * v - d * clamp(min(k, 4 - k), 0, 1) for k = (n + 6h) mod 6, n = 5, 3, 1. */
void ssli_adjust_hue(float *x, size_t c, size_t hw, double shift) {
    if (c != 3 || shift == 0.0) return;
    const float sh = (float)shift;
    float *R = x, *G = x + hw, *B = x + 2 * hw;
    for (size_t i = 0; i < hw; i++) {
        float r = R[i], g = G[i], b = B[i];
        float mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
        float mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
        /* d = 0 (gray) gives h = 0 and leaves the pixel unchanged; no branch on d */
        float d = mx - mn, inv = 1.0f / (d > 0.0f ? d : 1.0f);
        float hr = (g - b) * inv, hg = 2.0f + (b - r) * inv, hb = 4.0f + (r - g) * inv;
        float h = mx == r ? hr : (mx == g ? hg : hb);
        h = h * (1.0f / 6.0f) + sh; /* in [-2/3, 4/3): wrap without floorf so the loop vectorises */
        h = h < 0.0f ? h + 1.0f : (h >= 1.0f ? h - 1.0f : h);
        float h6 = h * 6.0f;
        float kr = 5.0f + h6, kg = 3.0f + h6, kb = 1.0f + h6;
        kr = kr >= 6.0f ? kr - 6.0f : kr;
        kg = kg >= 6.0f ? kg - 6.0f : kg;
        kb = kb >= 6.0f ? kb - 6.0f : kb;
        float tr = kr < 4.0f - kr ? kr : 4.0f - kr, tg = kg < 4.0f - kg ? kg : 4.0f - kg,
              tb = kb < 4.0f - kb ? kb : 4.0f - kb;
        tr = tr < 0.0f ? 0.0f : (tr > 1.0f ? 1.0f : tr);
        tg = tg < 0.0f ? 0.0f : (tg > 1.0f ? 1.0f : tg);
        tb = tb < 0.0f ? 0.0f : (tb > 1.0f ? 1.0f : tb);
        R[i] = mx - d * tr;
        G[i] = mx - d * tg;
        B[i] = mx - d * tb;
    }
}

void ssli_to_gray(float *x, size_t c, size_t hw) {
    if (c != 3) return;
    for (size_t i = 0; i < hw; i++) {
        float g = GR * x[i] + GG * x[hw + i] + GB * x[2 * hw + i];
        x[i] = x[hw + i] = x[2 * hw + i] = g;
    }
}

/* Separable Gaussian exp(-j^2 / (2 sigma^2)) over j in [-r, r], normalised,
 * borders reflected without repeating the edge (torchvision's gaussian_blur,
 * "reflect" padding); r = ceil(3 sigma) unless given. */
void ssli_gaussian_blur(float *x, size_t c, size_t h, size_t w, double sigma, size_t radius, float *tmp) {
    size_t r = radius ? radius : (size_t)ceil(3.0 * sigma);
    size_t lim = (h < w ? h : w) - 1;
    if (r > lim) r = lim;
    if (r == 0) return;
    float k[256 + 1];
    if (r > 256) r = 256;
    double sum = 0.0;
    for (size_t j = 0; j <= r; j++) {
        k[j] = (float)exp(-0.5 * (double)(j * j) / (sigma * sigma));
        sum += j ? 2.0 * k[j] : k[j];
    }
    for (size_t j = 0; j <= r; j++) k[j] = (float)(k[j] / sum);
    float *line = tmp, *plane = tmp + (w > h ? w : h) + 2 * r;
    for (size_t ch = 0; ch < c; ch++) {
        float *p = x + ch * h * w;
        /* horizontal: padded line, then a symmetric convolution */
        for (size_t y = 0; y < h; y++) {
            float *row = p + y * w;
            for (size_t j = 0; j < r; j++) {
                line[r - 1 - j] = row[j + 1];
                line[r + w + j] = row[w - 2 - j];
            }
            memcpy(line + r, row, w * sizeof(float));
            float *o = plane + y * w;
            const float *s = line + r;
            for (size_t xx = 0; xx < w; xx++) o[xx] = k[0] * s[xx];
            for (size_t j = 1; j <= r; j++) { /* tap-major so the inner loop vectorises */
                const float kj = k[j], *sp = s + j, *sm = s - j;
                for (size_t xx = 0; xx < w; xx++) o[xx] += kj * (sp[xx] + sm[xx]);
            }
        }
        /* vertical: rows of the horizontal result, reflected at the ends */
        for (size_t y = 0; y < h; y++) {
            float *o = p + y * w;
            const float *s0 = plane + y * w;
            for (size_t xx = 0; xx < w; xx++) o[xx] = k[0] * s0[xx];
            for (size_t j = 1; j <= r; j++) {
                long up = (long)y - (long)j, dn = (long)y + (long)j;
                if (up < 0) up = -up;
                if (dn > (long)h - 1) dn = 2 * ((long)h - 1) - dn;
                const float *a = plane + (size_t)up * w, *b = plane + (size_t)dn * w;
                for (size_t xx = 0; xx < w; xx++) o[xx] += k[j] * (a[xx] + b[xx]);
            }
        }
    }
}

void ssli_solarize(float *x, size_t n, double thr) {
    float t = (float)thr;
    for (size_t i = 0; i < n; i++)
        if (x[i] >= t - 1e-6f) x[i] = 1.0f - x[i];
}

void ssli_normalize(float *x, size_t c, size_t hw, const double *mean, const double *std) {
    for (size_t ch = 0; ch < c; ch++) {
        float m = (float)mean[ch], is = (float)(1.0 / std[ch]);
        float *p = x + ch * hw;
        for (size_t i = 0; i < hw; i++) p[i] = (p[i] - m) * is;
    }
}

/* ---- running a plan ------------------------------------------------------------ */
static void crop_in_decoded(const ssli_aug_plan *p, const ssli_image *img, size_t src_h, size_t src_w,
                            double *x0, double *y0, double *cw, double *ch) {
    double sx = (double)img->w / (double)src_w, sy = (double)img->h / (double)src_h;
    *x0 = p->cx0 * sx;
    *y0 = p->cy0 * sy;
    *cw = p->cw * sx;
    *ch = p->ch * sy;
}

size_t ssli_aug_tmp_floats(const ssli_aug_plan *p, const ssli_image *img) {
    /* The plan's crop is in full-resolution pixels; the decoded image can only be
     * smaller, so the bound from full resolution is safe for any decode scale. */
    size_t S = p->size;
    size_t tx = axis_taps(p->cw, S) + 2, ty = axis_taps(p->ch, S) + 2;
    size_t rows = (size_t)ceil(p->ch) + 2 * ty + 2;
    if (rows > img->h) rows = img->h;
    size_t cols = (size_t)ceil(p->cw) + 2 * tx + 2;
    if (cols > img->w) cols = img->w;
    size_t rbuf = rows * S > cols ? rows * S : cols; /* either pass order */
    size_t resize = S * tx + S * ty + 4 * S + rbuf * img->c;
    size_t work = 3 * S * S, blur = S * S + S + 2 * 257;
    return resize + work + blur + 64;
}

void ssli_aug_run(const ssli_aug_plan *p, const ssli_image *img, size_t src_h, size_t src_w, float *out,
                  float *tmp) {
    size_t S = p->size, hw = S * S, C = img->c;
    float *work = tmp, *scratch = tmp + 3 * hw;
    double x0, y0, cw, ch;
    crop_in_decoded(p, img, src_h, src_w, &x0, &y0, &cw, &ch);
    ssli_resize_crop(img, x0, y0, cw, ch, S, S, p->flip, C, work, scratch);
    size_t wc = C;
    if (p->out_c == 1 && wc == 3) {
        ssli_to_gray(work, 3, hw);
        wc = 1;
    }
    if (p->jitter)
        for (int k = 0; k < 4; k++) switch (p->order[k]) {
            case 0: if (p->bright != 1.0) ssli_adjust_brightness(work, wc, hw, p->bright); break;
            case 1: if (p->contrast != 1.0) ssli_adjust_contrast(work, wc, hw, p->contrast); break;
            case 2: if (p->sat != 1.0) ssli_adjust_saturation(work, wc, hw, p->sat); break;
            default: ssli_adjust_hue(work, wc, hw, p->hue); break;
            }
    if (p->gray) ssli_to_gray(work, wc, hw);
    if (p->blur_sigma > 0) ssli_gaussian_blur(work, wc, S, S, p->blur_sigma, p->blur_radius, scratch);
    if (p->solarize) ssli_solarize(work, wc * hw, p->sol_thr);
    for (size_t oc = 0; oc < p->out_c; oc++) {
        const float *src = work + (wc == 1 ? 0 : oc) * hw;
        float m = (float)p->mean[oc], is = (float)(1.0 / p->std[oc]);
        float *d = out + oc * hw;
        for (size_t i = 0; i < hw; i++) d[i] = (src[i] - m) * is;
    }
}
