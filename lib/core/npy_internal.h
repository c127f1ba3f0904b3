/* NPY header parsing and formatting shared by lib/core/npy.c (and tests).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NPY_INTERNAL_H
#define SSLKIT_NPY_INTERNAL_H

#include "core/internal.h"
#include "sslkit/npy.h"

typedef struct ssli_npy_hdr {
    sslk_dtype dtype;
    size_t ndim;
    size_t shape[SSLK_NPY_MAX_NDIM];
    size_t count; /* product of shape, overflow-checked */
    size_t bytes; /* count * element size, overflow-checked */
} ssli_npy_hdr;

/* Parse the dictionary text of an NPY header (len bytes, not NUL-terminated).
 * Errors name fn and path. */
sslk_status ssli_npy_parse_header(const char *text, size_t len, ssli_npy_hdr *out, const char *fn,
                                  const char *path);

/* Format a complete preamble (magic, version, length, dictionary, padding to a
 * multiple of 64 bytes, newline) into buf (cap bytes); *len receives its size. */
sslk_status ssli_npy_format_header(sslk_dtype dtype, size_t ndim, const size_t *shape, char *buf,
                                   size_t cap, size_t *len, const char *fn);

#endif
