/* The library's own BLIS micro-kernels and CPU detection, shared by
 * kernels.c, cpu_detect.c and the ukr_*.c files (which are compiled with
 * their own ISA flags).  Signatures are BLIS 0.9's (GEMM_UKR_PROT and
 * PACKM_KER_PROT in blis.h): the micro-kernel gets the edge sizes m <= MR,
 * n <= NR and must not read C when beta == 0.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_LINALG_UKR_H
#define SSLKIT_LINALG_UKR_H

#include <blis.h>
#include <stdbool.h>

/* What the CPU and the OS offer (cpu_detect.c).  The AVX flags are set only
 * when the OS saves the matching register state (XGETBV). */
typedef struct {
    bool avx2_fma;
    bool avx512f, avx512dq, avx512bw, avx512vl;
    bool neon, sve;
    char vendor[13]; /* CPUID vendor string ("GenuineIntel", "AuthenticAMD"), "" elsewhere */
    int family, model; /* x86 display family / model, 0 elsewhere */
} ssli_cpu_features;

/* Detected once per call; cheap (a few CPUID instructions). */
void ssli_cpu_detect(ssli_cpu_features *f);

/* AVX-512 set: register blocking (rows x columns of the C tile). */
#define SSLI_AVX512_S_MR 24
#define SSLI_AVX512_S_NR 16
#define SSLI_AVX512_D_MR 14
#define SSLI_AVX512_D_NR 16

#if defined(__x86_64__)
void ssli_sgemm_avx512_24x16(dim_t m, dim_t n, dim_t k, float *restrict alpha, float *restrict a,
                             float *restrict b, float *restrict beta, float *restrict c, inc_t rs_c,
                             inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx);
void ssli_dgemm_avx512_14x16(dim_t m, dim_t n, dim_t k, double *restrict alpha, double *restrict a,
                             double *restrict b, double *restrict beta, double *restrict c,
                             inc_t rs_c, inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx);
#endif

/* NEON set (AArch64): register blocking (ukr_neon.c).  Float 8 x 12 is the
 * shape of BLIS 0.9's armv8a sgemm kernel, double 8 x 6 that of its later
 * firestorm (row-preferred) dgemm kernel. */
#define SSLI_NEON_S_MR 8
#define SSLI_NEON_S_NR 12
#define SSLI_NEON_D_MR 8
#define SSLI_NEON_D_NR 6

#if defined(__aarch64__)
void ssli_sgemm_neon_8x12(dim_t m, dim_t n, dim_t k, float *restrict alpha, float *restrict a,
                          float *restrict b, float *restrict beta, float *restrict c, inc_t rs_c,
                          inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx);
void ssli_dgemm_neon_8x6(dim_t m, dim_t n, dim_t k, double *restrict alpha, double *restrict a,
                         double *restrict b, double *restrict beta, double *restrict c, inc_t rs_c,
                         inc_t cs_c, auxinfo_t *restrict data, cntx_t *restrict cntx);
#endif

#endif
