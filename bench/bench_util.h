/* Timing helpers shared by the benchmark programs.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLK_BENCH_UTIL_H
#define SSLK_BENCH_UTIL_H
#include <stddef.h>
/* Monotonic wall-clock seconds. */
double bench_now(void);
/* Median of `reps` timings of fn(arg) after one warm-up call. */
double bench_median(void (*fn)(void *), void *arg, int reps);
/* BLIS sgemm GFLOP/s at m = n = k = size with nthreads (for rate fractions). */
double bench_sgemm_gflops(int nthreads, size_t size);
#endif
