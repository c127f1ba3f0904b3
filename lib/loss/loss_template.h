/* Instantiates the template section of SSLI_LOSS_TEMPLATE (a loss source that
 * includes itself through this header) once for float and once for double:
 * R is the working type, F(name) suffixes function names, GEMM/SYRK/EXPR/LOGR
 * are the matching kernels (GEMM/SYRK: linalg's threaded policy; SYRK fills
 * both triangles).  The float instance is the fast path; the double
 * instance gives exact references (SSLK_LOSS_PRECISION = DOUBLE).
 * SPDX-License-Identifier: BSD-3-Clause */
#define SSLI_IN_TEMPLATE 1
#define R float
#define F(x) x##_f
#define GEMM ssli_sgemm
#define SYRK ssli_sgram
#define EXPR ssli_fexp
#define LOGR logf
#include SSLI_LOSS_TEMPLATE
#undef R
#undef F
#undef GEMM
#undef SYRK
#undef EXPR
#undef LOGR
#define R double
#define F(x) x##_d
#define GEMM ssli_dgemm
#define SYRK ssli_dgram
#define EXPR exp
#define LOGR log
#include SSLI_LOSS_TEMPLATE
#undef R
#undef F
#undef GEMM
#undef SYRK
#undef EXPR
#undef LOGR
#undef SSLI_IN_TEMPLATE
