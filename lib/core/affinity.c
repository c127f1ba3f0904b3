/* CPU pinning (see affinity.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include <omp.h>

#include "core/affinity.h"

#if defined(__linux__)
int ssli_cpus_allowed(int *cpus, int cap) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
        if (CPU_ISSET(c, &set)) cpus[n++] = c;
    return n;
}

sslk_status ssli_pin_thread(pthread_t th, const int *cpus, int n, const char *fn) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    int e = pthread_setaffinity_np(th, sizeof set, &set);
    if (e != 0)
        return ssli_err(SSLK_E_INTERNAL, "%s: cannot pin a thread to CPU %d%s: %s", fn, n ? cpus[0] : -1,
                        n > 1 ? " and others" : "", strerror(e));
    return SSLK_OK;
}

sslk_status ssli_pin_team(int nt, const int *cpus, const char *fn) {
    int failed = -1, err = 0;
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num();
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpus[t], &set);
        int e = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
        if (e != 0) {
#pragma omp critical(ssli_pin_team)
            if (failed < 0 || t < failed) failed = t, err = e;
        }
    }
    if (failed >= 0)
        return ssli_err(SSLK_E_INTERNAL, "%s: cannot pin compute thread %d to CPU %d: %s", fn, failed, cpus[failed],
                        strerror(err));
    return SSLK_OK;
}

void ssli_unpin_team(int nt, const int *all, int n) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++)
        if (all[i] >= 0 && all[i] < CPU_SETSIZE) CPU_SET(all[i], &set);
#pragma omp parallel num_threads(nt)
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}
#else
int ssli_cpus_allowed(int *cpus, int cap) {
    (void)cpus, (void)cap;
    return 0;
}
sslk_status ssli_pin_thread(pthread_t th, const int *cpus, int n, const char *fn) {
    (void)th, (void)cpus, (void)n, (void)fn;
    return SSLK_OK;
}
sslk_status ssli_pin_team(int nt, const int *cpus, const char *fn) {
    (void)nt, (void)cpus, (void)fn;
    return SSLK_OK;
}
void ssli_unpin_team(int nt, const int *all, int n) { (void)nt, (void)all, (void)n; }
#endif
