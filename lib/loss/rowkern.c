/* Float row kernels of the softmax-type losses (max, sums, exp + sum, dot)
 * written with GCC vector types so they vectorise without -ffast-math (the
 * exp clamps would otherwise block if-conversion), and cloned for x86-64-v3
 * (AVX2 + FMA) with a run-time choice.  8 lanes, partial sums combined in a
 * fixed order.  Results do not depend on the thread count; the clone (and its
 * FMA contraction) is fixed per machine.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "loss_internal.h"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SSLI_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SSLI_CLONES
#endif

/* Helpers are macros (not functions taking or returning vectors) so no
 * vector crosses a call boundary in the non-AVX default clone. */
#define vld(v, p) memcpy(&(v), (p), sizeof(v8f))
#define vst(p, v) memcpy((p), &(v), sizeof(v8f))
#define vsplat(a) ((v8f){(a), (a), (a), (a), (a), (a), (a), (a)})
#define vsel(m, a, b) ((v8f)((((v8i)(a)) & (m)) | (((v8i)(b)) & ~(m))))
#define vmax(a, b) vsel((a) > (b), (a), (b))
#define vsplatd(a) ((v8d){(a), (a), (a), (a), (a), (a), (a), (a)})

/* out = exp(xin), same polynomial as ssli_fexp */
#define VEXP(out, xin)                                                                 \
    do {                                                                               \
        v8f x_ = (xin);                                                                \
        x_ = vsel(x_ < vsplat(-87.0f), vsplat(-87.0f), x_);                            \
        x_ = vsel(x_ > vsplat(88.0f), vsplat(88.0f), x_);                              \
        const v8f sh_ = vsplat(12582912.0f);                                           \
        v8f k_ = (x_ * vsplat(1.44269504088896341f) + sh_) - sh_;                      \
        v8f r_ = x_ - k_ * vsplat(0.693145751953125f);                                 \
        r_ = r_ - k_ * vsplat(1.428606765330187e-06f);                                 \
        v8f p_ = vsplat(1.0f / 5040.0f);                                               \
        p_ = p_ * r_ + vsplat(1.0f / 720.0f);                                          \
        p_ = p_ * r_ + vsplat(1.0f / 120.0f);                                          \
        p_ = p_ * r_ + vsplat(1.0f / 24.0f);                                           \
        p_ = p_ * r_ + vsplat(1.0f / 6.0f);                                            \
        p_ = p_ * r_ + vsplat(0.5f);                                                   \
        p_ = p_ * r_ + vsplat(1.0f);                                                   \
        p_ = p_ * r_ + vsplat(1.0f);                                                   \
        v8i b_ = (__builtin_convertvector(k_, v8i) + 127) << 23;                       \
        (out) = p_ * (v8f)b_;                                                          \
    } while (0)

/* out = exp(ad) for a double exponent ad <= 0: the float exp of b = ad + 100 ln 2
 * rounded to h, times exp(b - h) ~ 1 + (b - h), times 2^-100.  Rounding the
 * exponent alone would cost |ad| 6e-8 of relative error (3e-6 at -50); the
 * shift keeps the float exp in range for ad in [-156, 19], so results under
 * FLT_MIN come out as float denormals (the float exp alone clamps at e^-87)
 * and lower ones, -inf included, as 0. */
#define VEXPD(out, ad)                                                                 \
    do {                                                                               \
        const v8d b_ = (ad) + vsplatd(69.31471805599453);                              \
        v8f h_ = __builtin_convertvector(b_, v8f);                                     \
        v8f l_ = __builtin_convertvector(b_ - __builtin_convertvector(h_, v8d), v8f);  \
        l_ = vsel(h_ >= vsplat(-87.0f), l_, vsplat(0.0f)); /* h -inf: l NaN or inf */   \
        VEXP(out, h_);                                                                 \
        (out) = ((out) + (out) * l_) * vsplat(0x1p-100f);                              \
    } while (0)

static inline float fexpd(double a) {
    if (!(a >= -156.0)) return 0.0f; /* -inf (an excluded entry) too */
    a += 69.31471805599453;          /* 100 ln 2 */
    float h = (float)a, f = ssli_fexp(h);
    return (f + f * (float)(a - (double)h)) * 0x1p-100f;
}

static inline double hsum(const v8f *v) {
    double s = 0;
    for (int j = 0; j < 8; j++) s += (*v)[j];
    return s;
}

SSLI_CLONES float ssli_row_max_f(const float *x, size_t n) {
    v8f a = vsplat(-INFINITY), b = a, u, w;
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        vld(u, x + k);
        vld(w, x + k + 8);
        a = vmax(u, a);
        b = vmax(w, b);
    }
    a = vmax(a, b);
    float m = -INFINITY;
    for (int j = 0; j < 8; j++) m = a[j] > m ? a[j] : m;
    for (; k < n; k++) m = x[k] > m ? x[k] : m;
    return m;
}

SSLI_CLONES double ssli_row_sum_f(const float *x, size_t n) {
    v8f a = vsplat(0.0f), b = a, u, w;
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        vld(u, x + k);
        vld(w, x + k + 8);
        a += u;
        b += w;
    }
    double s = hsum(&a) + hsum(&b);
    for (; k < n; k++) s += x[k];
    return s;
}

SSLI_CLONES double ssli_row_dot_f(const float *x, const float *y, size_t n) {
    v8f a = vsplat(0.0f), b = a, u1, u2, w1, w2;
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
        vld(u1, x + k);
        vld(w1, y + k);
        vld(u2, x + k + 8);
        vld(w2, y + k + 8);
        a += u1 * w1;
        b += u2 * w2;
    }
    double s = hsum(&a) + hsum(&b);
    for (; k < n; k++) s += (double)x[k] * y[k];
    return s;
}

SSLI_CLONES double ssli_row_dotgap_f(const float *t, const float *x, size_t n, float m) {
    double a[8] = {0};
    size_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) a[j] += (double)t[k + j] * (double)(m - x[k + j]);
    double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; k < n; k++) s += (double)t[k] * (double)(m - x[k]);
    return s;
}

SSLI_CLONES double ssli_row_expsum_f(const float *x, float *y, size_t n, float m) {
    v8f a = vsplat(0.0f), vm = vsplat(m), u, e;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        VEXP(e, u - vm);
        if (y) vst(y + k, e);
        a += e;
    }
    double s = hsum(&a);
    for (; k < n; k++) {
        float t = ssli_fexp(x[k] - m);
        if (y) y[k] = t;
        s += t;
    }
    return s;
}

SSLI_CLONES double ssli_row_expsum2_f(float *x, size_t n, float m, double *es) {
    v8f a = vsplat(0.0f), q = a, vm = vsplat(m), u, e;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        u -= vm;
        VEXP(e, u);
        vst(x + k, e);
        a += e;
        q += e * u;
    }
    double s = hsum(&a), z = hsum(&q);
    for (; k < n; k++) {
        float t = x[k] - m, f = ssli_fexp(t);
        x[k] = f;
        s += f;
        z += (double)f * t;
    }
    *es = z;
    return s;
}

SSLI_CLONES void ssli_row_expaffine_f(float *x, size_t n, float m, float a, float b) {
    v8f vm = vsplat(m), va = vsplat(a), vb = vsplat(b), u, e;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        VEXP(e, u - vm);
        e = va * e - vb;
        vst(x + k, e);
    }
    for (; k < n; k++) x[k] = a * ssli_fexp(x[k] - m) - b;
}

SSLI_CLONES void ssli_row_scale_f(float *x, size_t n, float a) {
    v8f va = vsplat(a), u;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        u *= va;
        vst(x + k, u);
    }
    for (; k < n; k++) x[k] *= a;
}

/* x[k] = c * (exp(x[k] - la) + exp(x[k] - lb[k])): a row of G + G^T for a
 * row-softmax G of a symmetric matrix, without transposing anything */
SSLI_CLONES void ssli_row_softmax2_f(float *x, size_t n, float la, const float *lb, float c) {
    v8f va = vsplat(la), vc = vsplat(c), u, w, e1, e2;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        vld(w, lb + k);
        VEXP(e1, u - va);
        VEXP(e2, u - w);
        e1 = vc * (e1 + e2);
        vst(x + k, e1);
    }
    for (; k < n; k++) x[k] = c * (ssli_fexp(x[k] - la) + ssli_fexp(x[k] - lb[k]));
}

/* x[k] = x[k] * (a + b * w[k]) */
SSLI_CLONES void ssli_row_affine_f(float *x, size_t n, float a, float b, const float *w) {
    v8f va = vsplat(a), vb = vsplat(b), u, v;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        vld(u, x + k);
        vld(v, w + k);
        u = u * (va + vb * v);
        vst(x + k, u);
    }
    for (; k < n; k++) x[k] = x[k] * (a + b * w[k]);
}

/* Double-row kernels of InfoNCE's float path below temperature 0.025
 * (infonce_wide.c): the logits stay double, the exponentials are float (VEXPD). */

/* y[k] = exp(x[k] - m) (y may equal x, or be NULL to only sum); returns the
 * sum, accumulated in double */
SSLI_CLONES double ssli_row_expsumd_f(const double *x, double *y, size_t n, double m) {
    v8d a = vsplatd(0.0), vm = vsplatd(m), u;
    v8f e;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        memcpy(&u, x + k, sizeof u);
        VEXPD(e, u - vm);
        u = __builtin_convertvector(e, v8d);
        if (y) memcpy(y + k, &u, sizeof u);
        a += u;
    }
    double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; k < n; k++) {
        double t = fexpd(x[k] - m);
        if (y) y[k] = t;
        s += t;
    }
    return s;
}

/* y[k] = c * (exp(x[k] - la) + exp(x[k] - lb[k])) */
SSLI_CLONES void ssli_row_softmax2_dx(const double *x, float *y, size_t n, double la, const double *lb, float c) {
    v8d vla = vsplatd(la), u, w;
    v8f vc = vsplat(c), e1, e2;
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        memcpy(&u, x + k, sizeof u);
        memcpy(&w, lb + k, sizeof w);
        VEXPD(e1, u - vla);
        VEXPD(e2, u - w);
        e1 = vc * (e1 + e2);
        vst(y + k, e1);
    }
    for (; k < n; k++) y[k] = c * (fexpd(x[k] - la) + fexpd(x[k] - lb[k]));
}
