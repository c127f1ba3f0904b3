/* How a multi-threaded GEMM is spread over the context's threads (issue 16).
 *
 * split: C cut into 2-4 blocks per thread, each block one single-thread
 *   BLIS call, taken dynamically (blas.c).  Robust when other processes
 *   compete for the cores (one barrier per product), but every block packs
 *   its own panels of A and B: run one block after another on one core, the
 *   blocks of a 16-thread split do 1.12-1.42x the work of one call on the
 *   encoder's and projector's products (docs/performance.md: 13% more work
 *   for a whole VICReg step), which a 16-core step pays on every linear layer.
 * blis: one BLIS call with the threads (BLIS's own ic / jr loops, packed
 *   panels shared by the threads): no repeated packing, but BLIS's barriers
 *   spin, so it loses most of its rate when the cores are oversubscribed.
 * auto (default): blis from 4 threads, split at 2 and 3, where machines are
 *   more often shared and the split costs less (1.04-1.14x the work).
 * Both give the same bits at every thread count (BLIS never splits the k
 * loop and keeps its micro-tiles on one grid; tested), so the choice changes
 * speed only.  $SSLKIT_GEMM_THREADING=split|blis|auto overrides, read once.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[SSLI_GEMM_THREADING_COUNT] = {"auto", "split", "blis"};

static struct {
    pthread_once_t once;
    atomic_int mode;
    bool env_bad;
    char env_value[32];
} G = {.once = PTHREAD_ONCE_INIT};

static void init_once(void) {
    int mode = SSLI_GEMM_THREADING_AUTO;
    const char *e = getenv("SSLKIT_GEMM_THREADING");
    if (e && *e) {
        snprintf(G.env_value, sizeof G.env_value, "%s", e);
        int found = -1;
        for (int i = 0; i < SSLI_GEMM_THREADING_COUNT; i++)
            if (strcmp(e, names[i]) == 0) found = i;
        if (found < 0) G.env_bad = true;
        else mode = found;
    }
    atomic_store(&G.mode, mode);
}

static void init(void) { pthread_once(&G.once, init_once); }

const char *ssli_gemm_threading_name(ssli_gemm_threading t) {
    return (unsigned)t < SSLI_GEMM_THREADING_COUNT ? names[t] : "?";
}

ssli_gemm_threading ssli_gemm_threading_setting(void) {
    init();
    return (ssli_gemm_threading)atomic_load(&G.mode);
}

ssli_gemm_threading ssli_gemm_threading_for(int nthreads) {
    ssli_gemm_threading t = ssli_gemm_threading_setting();
    if (t == SSLI_GEMM_THREADING_AUTO) t = nthreads >= 4 ? SSLI_GEMM_THREADING_BLIS : SSLI_GEMM_THREADING_SPLIT;
    return t;
}

sslk_status ssli_gemm_threading_force(ssli_gemm_threading t) {
    init();
    if ((unsigned)t >= SSLI_GEMM_THREADING_COUNT)
        return ssli_err(SSLK_E_INVALID_ARG, "ssli_gemm_threading_force: %d is not a threading mode", (int)t);
    atomic_store(&G.mode, (int)t);
    return SSLK_OK;
}

sslk_status ssli_gemm_threading_check(void) {
    init();
    if (G.env_bad)
        return ssli_err(SSLK_E_INVALID_ARG,
                        "SSLKIT_GEMM_THREADING = '%s' is not a threading mode: use auto, split or blis",
                        G.env_value);
    return SSLK_OK;
}

bool ssli_gemm_threading_env_valid(void) {
    init();
    return !G.env_bad;
}
