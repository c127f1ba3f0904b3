/* AVX-512 micro-kernels for BLIS 0.9's expert API (kernels.c registers them
 * in a copy of BLIS's context; BLIS keeps the packing and blocking).
 * Compiled alone with -mavx512f -mavx512dq -mavx512bw -mavx512vl (meson), and
 * called only after cpu_detect.c found those features.
 *
 * Both kernels prefer row-stored C: the tile is MR rows of NV vectors, so
 * each k step loads NV vectors of the packed B micro-panel (kept near the core
 * by BLIS's loop order), broadcasts MR values of the packed A micro-panel and
 * issues MR * NV FMAs into as many accumulators (float 24 x 16: 24, double
 * 14 x 16: 28, leaving registers for B and the broadcast).  Float uses one
 * vector of width because BLIS 0.9 has packing kernels for 16- and 24-wide
 * panels but no slot for 32 (its generic fallback copies element by element):
 * a 12 x 32 tile measured 76-96% of BLIS's rate on the library's shapes, 24 x
 * 16 91-98% (bench_gemm, Zen 4).  Each element of C is summed in k order by
 * one FMA chain, then C = alpha * AB + beta * C, so an element's value does
 * not depend on where its tile lies: splitting C between threads gives the
 * same bits.  Edge tiles (m < MR or n < NR, or C not row-stored) go through a
 * row-major buffer with the same vector arithmetic.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "ukr.h"

#include <immintrin.h>
#include <string.h>

/* Software prefetch of the A micro-panel this far ahead (bytes); C's rows
 * are touched before the k loop so their misses overlap with it. */
#define PREFETCH_A_AHEAD 512

#define DEFINE_UKR(NAME, T, V, MR, NV, LANES, SET1, FMA, LOADU, STOREU, MUL, ZERO)                     \
    static inline void NAME##_update(V acc[MR][NV], T alpha, T beta, T *c, inc_t ldc) {           \
        const V va = SET1(alpha), vb = SET1(beta);                                                \
        for (int i = 0; i < MR; i++)                                                               \
            for (int h = 0; h < NV; h++) {                                                          \
                V r = alpha == (T)1 ? acc[i][h] : MUL(va, acc[i][h]);                              \
                T *ci = c + i * ldc + h * LANES;                                                   \
                if (beta != (T)0) r = FMA(vb, LOADU(ci), r);                                       \
                STOREU(ci, r);                                                                     \
            }                                                                                      \
    }                                                                                              \
    void NAME(dim_t m, dim_t n, dim_t k, T *restrict alpha, T *restrict a, T *restrict b,         \
              T *restrict beta, T *restrict c, inc_t rs_c, inc_t cs_c, auxinfo_t *restrict data,  \
              cntx_t *restrict cntx) {                                                             \
        (void)data;                                                                                \
        (void)cntx;                                                                                \
        V acc[MR][NV];                                                                              \
        for (int i = 0; i < MR; i++)                                                               \
            for (int h = 0; h < NV; h++) acc[i][h] = ZERO();                               \
        const bool direct = m == MR && n == NV * LANES && cs_c == 1;                                \
        if (direct)                                                                                \
            for (int i = 0; i < MR; i++) {                                                         \
                _mm_prefetch((const char *)(c + i * rs_c), _MM_HINT_T0);                           \
                _mm_prefetch((const char *)(c + i * rs_c + NV * LANES - 1), _MM_HINT_T0);           \
            }                                                                                      \
        for (dim_t p = 0; p < k; p++) {                                                            \
            _mm_prefetch((const char *)a + PREFETCH_A_AHEAD, _MM_HINT_T0);                         \
            V bv[NV];                                                                              \
            for (int h = 0; h < NV; h++) bv[h] = LOADU(b + h * LANES);                             \
            _Pragma("GCC unroll 32") for (int i = 0; i < MR; i++) {                                \
                const V ai = SET1(a[i]);                                                           \
                for (int h = 0; h < NV; h++) acc[i][h] = FMA(ai, bv[h], acc[i][h]);                \
            }                                                                                      \
            a += MR;                                                                               \
            b += NV * LANES;                                                                        \
        }                                                                                          \
        if (direct) {                                                                              \
            NAME##_update(acc, *alpha, *beta, c, rs_c);                                            \
            return;                                                                                \
        }                                                                                          \
        /* Edge or non-row-stored tile: the same arithmetic on a row-major copy. */               \
        T ct[MR * NV * LANES];                                                                      \
        const bool rd = *beta != (T)0;                                                             \
        if (rd)                                                                                    \
            for (dim_t i = 0; i < m; i++)                                                          \
                for (dim_t j = 0; j < n; j++) ct[i * NV * LANES + j] = c[i * rs_c + j * cs_c];      \
        else                                                                                       \
            memset(ct, 0, sizeof ct);                                                              \
        NAME##_update(acc, *alpha, *beta, ct, NV * LANES);                                          \
        for (dim_t i = 0; i < m; i++)                                                              \
            for (dim_t j = 0; j < n; j++) c[i * rs_c + j * cs_c] = ct[i * NV * LANES + j];          \
    }

DEFINE_UKR(ssli_sgemm_avx512_24x16, float, __m512, SSLI_AVX512_S_MR, SSLI_AVX512_S_NR / 16, 16, _mm512_set1_ps,
           _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_mul_ps, _mm512_setzero_ps)
DEFINE_UKR(ssli_dgemm_avx512_14x16, double, __m512d, SSLI_AVX512_D_MR, SSLI_AVX512_D_NR / 8, 8, _mm512_set1_pd,
           _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_mul_pd, _mm512_setzero_pd)
