/* Timing helpers shared by the benchmark programs.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLK_BENCH_UTIL_H
#define SSLK_BENCH_UTIL_H
#include <stddef.h>
/* Monotonic wall-clock seconds. */
double bench_now(void);
/* Process CPU seconds (all threads). */
double bench_cpu_now(void);
/* Write count photo-like JPEGs (smooth gradients, blocks and noise: entropy-decoding cost close to
 * a photo's), even items W0 x H0, odd W1 x H1, as DIR/imgNNN.jpg, or DIR/c<k % classes>/imgNNN.jpg
 * when classes > 0 (the folders must exist).  Exits on failure. */
void bench_write_photos(const char *dir, int classes, int count, int W0, int H0, int W1, int H1);
/* Median of `reps` timings of fn(arg) after one warm-up call. */
double bench_median(void (*fn)(void *), void *arg, int reps);
/* BLIS sgemm GFLOP/s at m = n = k = size with nthreads (for rate fractions). */
double bench_sgemm_gflops(int nthreads, size_t size);
#endif
