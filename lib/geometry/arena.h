/* Growable scratch for the SplineCam engine: a chunked bump allocator with
 * stack discipline (mark / release), one per thread, and growable arrays.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_GEOMETRY_ARENA_H
#define SSLKIT_GEOMETRY_ARENA_H

#include "core/internal.h"

typedef struct ssli_arena_chunk {
    struct ssli_arena_chunk *prev;
    size_t cap, used;
    unsigned char *data;
} ssli_arena_chunk;

typedef struct ssli_arena {
    const sslk_ctx *ctx;
    ssli_arena_chunk *top;
} ssli_arena;

typedef struct ssli_arena_mark {
    ssli_arena_chunk *chunk;
    size_t used;
} ssli_arena_mark;

/* 64-byte aligned block of n * elem bytes; NULL (error set) on failure. */
void *ssli_arena_alloc(ssli_arena *a, size_t n, size_t elem);
ssli_arena_mark ssli_arena_save(const ssli_arena *a);
void ssli_arena_release(ssli_arena *a, ssli_arena_mark m);
void ssli_arena_free(ssli_arena *a);

/* Grow *p (n elements of elem bytes, capacity *cap) to hold at least need
 * elements, keeping the contents. */
sslk_status ssli_grow(const sslk_ctx *ctx, void **p, size_t *cap, size_t need, size_t elem);

#endif
