/* Memory-bound passes over large float arrays (the input checks and copies
 * of the model and loss APIs, gradient zeroing), split into fixed chunks
 * over the context's threads (issue 16: done on one thread they were a
 * serial share of every training step).  Chunk boundaries do not depend on
 * the thread count, and every result (copy, first bad index) is exact.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CORE_PAR_H
#define SSLKIT_CORE_PAR_H

#include "core/internal.h"

/* Index of the first NaN / Inf in x[0..n), or SIZE_MAX; when dst is not
 * NULL, x is also copied to dst (all of it, bad values included). */
size_t ssli_par_first_nonfinite(const sslk_ctx *ctx, const float *x, size_t n, float *dst);
/* ssli_check_finite_f32 with the scan (and a copy into dst, unless NULL) threaded. */
sslk_status ssli_par_check_finite(const sslk_ctx *ctx, const float *x, size_t rows, size_t cols, float *dst,
                                  const char *fn, const char *arg);
/* dst[0..n) = src[0..n) */
void ssli_par_copy(const sslk_ctx *ctx, float *dst, const float *src, size_t n);

#endif
