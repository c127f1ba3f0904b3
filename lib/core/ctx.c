/* The context: everything that would otherwise be global state.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"
#include "linalg/linalg.h" /* $SSLKIT_KERNELS, $SSLKIT_GEMM_THREADING (issue 16) */
#include "struct_sizes.h"

#include <stdlib.h>
#include <unistd.h>

sslk_status sslk_ctx_create(sslk_ctx **out) {
    SSLI_CHECK_PTR(out, "sslk_ctx_create");
    *out = NULL;
    /* an unknown or unsupported $SSLKIT_KERNELS, or an unknown
     * $SSLKIT_GEMM_THREADING, is refused here, where every program starts,
     * rather than ignored by the products (docs/building.md) */
    SSLI_TRY(ssli_kernels_check());
    SSLI_TRY(ssli_gemm_threading_check());
    sslk_ctx *c = calloc(1, sizeof *c);
    if (!c) return ssli_err(SSLK_E_NOMEM, "sslk_ctx_create: out of memory");
    c->nthreads = 1;
    c->seed = 0;
    c->log_min = SSLK_LOG_WARN;
    ssli_ctx_limits_default(c);
    *out = c;
    return SSLK_OK;
}

void sslk_ctx_destroy(sslk_ctx *ctx) { free(ctx); }

sslk_status sslk_ctx_set_threads(sslk_ctx *ctx, int n) {
    SSLI_CHECK_PTR(ctx, "sslk_ctx_set_threads");
    if (n < 0 || n > SSLK_MAX_THREADS)
        return ssli_err(SSLK_E_INVALID_ARG,
                        "sslk_ctx_set_threads: nthreads = %d, must be in [0, %d] (0 = all processors)",
                        n, SSLK_MAX_THREADS);
    if (n == 0) {
        long p = sysconf(_SC_NPROCESSORS_ONLN);
        n = p < 1 ? 1 : (p > SSLK_MAX_THREADS ? SSLK_MAX_THREADS : (int)p);
    }
    ctx->nthreads = n;
    return SSLK_OK;
}

int sslk_ctx_get_threads(const sslk_ctx *ctx) { return ctx ? ctx->nthreads : 1; }

sslk_status sslk_ctx_set_allocator(sslk_ctx *ctx, const sslk_allocator *a) {
    SSLI_CHECK_PTR(ctx, "sslk_ctx_set_allocator");
    if (!a) {
        ctx->custom_alloc = false;
        return SSLK_OK;
    }
    sslk_allocator in = {0};
    SSLI_TRY(ssli_struct_in(&in, sizeof in, a, SSLI_V10_ALLOCATOR, "sslk_ctx_set_allocator", "a"));
    if (!in.alloc || !in.free)
        return ssli_err(SSLK_E_INVALID_ARG, "sslk_ctx_set_allocator: both 'a->alloc' and 'a->free' must be set");
    ctx->alloc = in;
    ctx->custom_alloc = true;
    return SSLK_OK;
}

void sslk_ctx_set_log(sslk_ctx *ctx, sslk_log_fn fn, void *user, sslk_log_level min_level) {
    if (!ctx) return;
    ctx->log_fn = fn;
    ctx->log_user = user;
    ctx->log_min = min_level;
}

void sslk_ctx_set_seed(sslk_ctx *ctx, uint64_t seed) {
    if (ctx) ctx->seed = seed;
}

uint64_t sslk_ctx_get_seed(const sslk_ctx *ctx) { return ctx ? ctx->seed : 0; }
