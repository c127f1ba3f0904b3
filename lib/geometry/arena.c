/* Chunked bump allocator and growable arrays (see arena.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "geometry/arena.h"

#include <string.h>

void *ssli_arena_alloc(ssli_arena *a, size_t n, size_t elem) {
    size_t bytes;
    if (ssli_mul_overflow(n, elem, &bytes) || bytes > SIZE_MAX - 128) {
        ssli_err(SSLK_E_OVERFLOW, "arena: %zu x %zu bytes overflows", n, elem);
        return NULL;
    }
    bytes = (bytes + 63) & ~(size_t)63;
    if (bytes == 0) bytes = 64;
    ssli_arena_chunk *c = a->top;
    if (!c || c->cap - c->used < bytes) {
        size_t cap = (size_t)1 << 20;
        if (c && c->cap * 2 > cap) cap = c->cap * 2;
        if (cap > ((size_t)64 << 20)) cap = (size_t)64 << 20;
        if (cap < bytes) cap = bytes;
        ssli_arena_chunk *nc = ssli_malloc(a->ctx, 1, sizeof *nc);
        if (!nc) return NULL;
        nc->data = ssli_malloc(a->ctx, cap, 1);
        if (!nc->data) {
            ssli_free(a->ctx, nc);
            return NULL;
        }
        nc->cap = cap;
        nc->used = 0;
        nc->prev = c;
        a->top = c = nc;
    }
    void *p = c->data + c->used;
    c->used += bytes;
    return p;
}

ssli_arena_mark ssli_arena_save(const ssli_arena *a) {
    ssli_arena_mark m = {a->top, a->top ? a->top->used : 0};
    return m;
}

void ssli_arena_release(ssli_arena *a, ssli_arena_mark m) {
    while (a->top && a->top != m.chunk) {
        ssli_arena_chunk *p = a->top->prev;
        ssli_free(a->ctx, a->top->data);
        ssli_free(a->ctx, a->top);
        a->top = p;
    }
    if (a->top) a->top->used = m.used;
}

void ssli_arena_free(ssli_arena *a) {
    ssli_arena_mark m = {NULL, 0};
    ssli_arena_release(a, m);
}

sslk_status ssli_grow(const sslk_ctx *ctx, void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SSLK_OK;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return ssli_err(SSLK_E_OVERFLOW, "grow: %zu elements", need);
        nc *= 2;
    }
    void *q = ssli_malloc(ctx, nc, elem);
    if (!q) return ssli_alloc_status();
    if (*p && *cap) memcpy(q, *p, *cap * elem);
    ssli_free(ctx, *p);
    *p = q;
    *cap = nc;
    return SSLK_OK;
}
