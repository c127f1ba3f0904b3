/* AArch64 Advanced SIMD (NEON) micro-kernels for BLIS 0.9's expert API
 * (kernels.c registers them in a copy of BLIS's context; BLIS keeps the
 * packing and blocking).  Compiled only for aarch64, where Advanced SIMD is
 * part of the base ISA; kernels.c still uses them only when the kernel
 * reports HWCAP_ASIMD.
 *
 * Same design as ukr_avx512.c: C is preferred row-stored, the tile is MR rows
 * of NR / LANES vectors, and each k step loads the NR values of the packed B
 * micro-panel as vectors and the MR values of the packed A micro-panel as
 * vectors too, then multiplies each B vector by one lane of A (FMLA by
 * element), so no broadcast registers are needed: of the 32 128-bit
 * registers, float 8 x 12 takes 24 accumulators + 3 (B) + 2 (A) and double
 * 8 x 6 takes 24 + 3 + 4.  Each element of C is summed in k order by one
 * fused multiply-add chain, then C = alpha * AB + beta * C, so an element's
 * value does not depend on where its tile lies (same bits whatever the
 * thread split).  beta == 0 never reads C.  Edge tiles (m < MR or n < NR, or
 * C not row-stored) go through a row-major buffer with the same arithmetic.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "ukr.h"

#include <arm_neon.h>
#include <string.h>

/* Software prefetch of the packed A micro-panel this far ahead (bytes). */
#define PREFETCH_A_AHEAD 512

enum { S_MR = SSLI_NEON_S_MR, S_NV = SSLI_NEON_S_NR / 4, D_MR = SSLI_NEON_D_MR, D_NV = SSLI_NEON_D_NR / 2 };

/* acc[row][h] += b[h] * lane L of the A vector */
#define S_ROW(row, av, L)                                                                          \
    for (int h = 0; h < S_NV; h++) acc[row][h] = vfmaq_laneq_f32(acc[row][h], bv[h], av, L);
#define D_ROW(row, av, L)                                                                          \
    for (int h = 0; h < D_NV; h++) acc[row][h] = vfmaq_laneq_f64(acc[row][h], bv[h], av, L);

static inline void s_update(float32x4_t acc[S_MR][S_NV], float alpha, float beta, float *c, inc_t ldc) {
    const float32x4_t va = vdupq_n_f32(alpha), vb = vdupq_n_f32(beta);
    for (int i = 0; i < S_MR; i++)
        for (int h = 0; h < S_NV; h++) {
            float32x4_t r = alpha == 1.0f ? acc[i][h] : vmulq_f32(va, acc[i][h]);
            float *ci = c + i * ldc + h * 4;
            if (beta != 0.0f) r = vfmaq_f32(r, vb, vld1q_f32(ci));
            vst1q_f32(ci, r);
        }
}

static inline void d_update(float64x2_t acc[D_MR][D_NV], double alpha, double beta, double *c, inc_t ldc) {
    const float64x2_t va = vdupq_n_f64(alpha), vb = vdupq_n_f64(beta);
    for (int i = 0; i < D_MR; i++)
        for (int h = 0; h < D_NV; h++) {
            float64x2_t r = alpha == 1.0 ? acc[i][h] : vmulq_f64(va, acc[i][h]);
            double *ci = c + i * ldc + h * 2;
            if (beta != 0.0) r = vfmaq_f64(r, vb, vld1q_f64(ci));
            vst1q_f64(ci, r);
        }
}

void ssli_sgemm_neon_8x12(dim_t m, dim_t n, dim_t k, float *restrict alpha, float *restrict a,
                          float *restrict b, float *restrict beta, float *restrict c, inc_t rs_c,
                          inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx) {
    (void)data;
    (void)cntx;
    float32x4_t acc[S_MR][S_NV];
    for (int i = 0; i < S_MR; i++)
        for (int h = 0; h < S_NV; h++) acc[i][h] = vdupq_n_f32(0.0f);
    const bool direct = m == S_MR && n == S_NV * 4 && cs_c == 1;
    if (direct)
        for (int i = 0; i < S_MR; i++) __builtin_prefetch(c + i * rs_c, 1);
    for (dim_t p = 0; p < k; p++) {
        __builtin_prefetch((const char *)a + PREFETCH_A_AHEAD);
        float32x4_t bv[S_NV];
        for (int h = 0; h < S_NV; h++) bv[h] = vld1q_f32(b + h * 4);
        const float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        S_ROW(0, a0, 0) S_ROW(1, a0, 1) S_ROW(2, a0, 2) S_ROW(3, a0, 3)
        S_ROW(4, a1, 0) S_ROW(5, a1, 1) S_ROW(6, a1, 2) S_ROW(7, a1, 3)
        a += S_MR;
        b += S_NV * 4;
    }
    if (direct) {
        s_update(acc, *alpha, *beta, c, rs_c);
        return;
    }
    /* Edge or non-row-stored tile: the same arithmetic on a row-major copy. */
    enum { W = S_NV * 4 };
    float ct[S_MR * W];
    memset(ct, 0, sizeof ct);
    if (*beta != 0.0f)
        for (dim_t i = 0; i < m; i++)
            for (dim_t j = 0; j < n; j++) ct[i * W + j] = c[i * rs_c + j * cs_c];
    s_update(acc, *alpha, *beta, ct, W);
    for (dim_t i = 0; i < m; i++)
        for (dim_t j = 0; j < n; j++) c[i * rs_c + j * cs_c] = ct[i * W + j];
}

void ssli_dgemm_neon_8x6(dim_t m, dim_t n, dim_t k, double *restrict alpha, double *restrict a,
                         double *restrict b, double *restrict beta, double *restrict c, inc_t rs_c,
                         inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx) {
    (void)data;
    (void)cntx;
    float64x2_t acc[D_MR][D_NV];
    for (int i = 0; i < D_MR; i++)
        for (int h = 0; h < D_NV; h++) acc[i][h] = vdupq_n_f64(0.0);
    const bool direct = m == D_MR && n == D_NV * 2 && cs_c == 1;
    if (direct)
        for (int i = 0; i < D_MR; i++) __builtin_prefetch(c + i * rs_c, 1);
    for (dim_t p = 0; p < k; p++) {
        __builtin_prefetch((const char *)a + PREFETCH_A_AHEAD);
        float64x2_t bv[D_NV];
        for (int h = 0; h < D_NV; h++) bv[h] = vld1q_f64(b + h * 2);
        const float64x2_t a0 = vld1q_f64(a), a1 = vld1q_f64(a + 2), a2 = vld1q_f64(a + 4),
                          a3 = vld1q_f64(a + 6);
        D_ROW(0, a0, 0) D_ROW(1, a0, 1) D_ROW(2, a1, 0) D_ROW(3, a1, 1)
        D_ROW(4, a2, 0) D_ROW(5, a2, 1) D_ROW(6, a3, 0) D_ROW(7, a3, 1)
        a += D_MR;
        b += D_NV * 2;
    }
    if (direct) {
        d_update(acc, *alpha, *beta, c, rs_c);
        return;
    }
    enum { W = D_NV * 2 };
    double ct[D_MR * W];
    memset(ct, 0, sizeof ct);
    if (*beta != 0.0)
        for (dim_t i = 0; i < m; i++)
            for (dim_t j = 0; j < n; j++) ct[i * W + j] = c[i * rs_c + j * cs_c];
    d_update(acc, *alpha, *beta, ct, W);
    for (dim_t i = 0; i < m; i++)
        for (dim_t j = 0; j < n; j++) c[i * rs_c + j * cs_c] = ct[i * W + j];
}
