/* Overflow-checked, aligned allocation through the context's allocator.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local sslk_status tl_alloc_status = SSLK_OK;

sslk_status ssli_alloc_status(void) { return tl_alloc_status; }

bool ssli_mul_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}

bool ssli_mul3_overflow(size_t a, size_t b, size_t c, size_t *out) {
    size_t t;
    return __builtin_mul_overflow(a, b, &t) || __builtin_mul_overflow(t, c, out);
}

/* Refuse single blocks above this: a "size" that large is a corrupted header
 * or a caller bug, and asking the OS for it invites the OOM killer. */
#define SSLI_MAX_ALLOC ((size_t)1 << 46)

void *ssli_malloc(const sslk_ctx *ctx, size_t n, size_t elem) {
    size_t bytes;
    if (ssli_mul_overflow(n, elem, &bytes) || bytes > SSLI_MAX_ALLOC) {
        tl_alloc_status = SSLK_E_OVERFLOW;
        ssli_err(SSLK_E_OVERFLOW, "allocation of %zu x %zu bytes overflows or exceeds 64 TiB", n, elem);
        return NULL;
    }
    if (ssli_check_limit(ctx, SSLK_CTX_MAX_ALLOC_BYTES, bytes, "libsslkit", "one allocation") != SSLK_OK) {
        tl_alloc_status = SSLK_E_LIMIT;
        return NULL;
    }
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + SSLI_ALIGN - 1) / SSLI_ALIGN * SSLI_ALIGN;
    void *p;
    if (ctx && ctx->custom_alloc)
        p = ctx->alloc.alloc(ctx->alloc.user, rounded, SSLI_ALIGN);
    else
        p = aligned_alloc(SSLI_ALIGN, rounded);
    if (!p) {
        tl_alloc_status = SSLK_E_NOMEM;
        ssli_err(SSLK_E_NOMEM, "out of memory allocating %zu bytes", bytes);
    }
    return p;
}

void *ssli_calloc(const sslk_ctx *ctx, size_t n, size_t elem) {
    void *p = ssli_malloc(ctx, n, elem);
    if (p) memset(p, 0, n * elem);
    return p;
}

void ssli_free(const sslk_ctx *ctx, void *p) {
    if (!p) return;
    if (ctx && ctx->custom_alloc)
        ctx->alloc.free(ctx->alloc.user, p);
    else
        free(p);
}
