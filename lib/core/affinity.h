/* CPU pinning for the split between compute threads and loader workers
 * (issue 16, SSLK_TRAIN_PIN_THREADS).  Linux only (sched_getaffinity /
 * pthread_setaffinity_np); elsewhere no CPU list is known and pinning is a
 * no-op.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CORE_AFFINITY_H
#define SSLKIT_CORE_AFFINITY_H

#include <pthread.h>

#include "core/internal.h"

#define SSLI_MAX_CPUS 1024

/* The CPUs the calling thread may run on, in increasing order, into
 * cpus[0..cap); returns their number (0: unknown, not Linux). */
int ssli_cpus_allowed(int *cpus, int cap);
/* Pin thread th to the CPU list cpus[0..n) (n = 1: one CPU). */
sslk_status ssli_pin_thread(pthread_t th, const int *cpus, int n, const char *fn);
/* Pin the OpenMP team of nt threads (the caller is thread 0): thread t on
 * cpus[t].  libgomp keeps a team's threads for the next parallel regions of
 * the same size, so the pinning holds for the regions that follow. */
sslk_status ssli_pin_team(int nt, const int *cpus, const char *fn);
/* Put every thread of a team of nt back on the list all[0..n). */
void ssli_unpin_team(int nt, const int *all, int n);

#endif
