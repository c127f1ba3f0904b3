/* NPY preamble and header parsing and formatting, shared by lib/core/npy.c
 * (the public reader) and lib/data/reader_npy.c (image datasets).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NPY_INTERNAL_H
#define SSLKIT_NPY_INTERNAL_H

#include "core/internal.h"
#include "sslkit/npy.h"

typedef struct ssli_npy_hdr {
    sslk_dtype dtype; /* 0 when the element type has no sslk_dtype (raw parse only) */
    char kind;        /* 'f', 'i', 'u' or 'b' */
    unsigned size;    /* bytes per element: 1, 2, 4 or 8 */
    bool big;         /* big-endian multi-byte elements */
    size_t ndim;
    size_t shape[SSLK_NPY_MAX_NDIM];
    size_t count; /* product of shape, overflow-checked */
    size_t bytes; /* count * element size, overflow-checked */
} ssli_npy_hdr;

/* Largest header accepted (numpy itself refuses more than 10 KB by default),
 * so a hostile length field cannot make a reader allocate. */
#define SSLI_NPY_MAX_HEADER (1u << 20)

/* The preamble at pre (avail bytes: 10 suffice for version 1.0, 12 for 2.0 /
 * 3.0): magic, version, header length.  *prefix = bytes before the header. */
sslk_status ssli_npy_preamble(const unsigned char *pre, size_t avail, size_t *prefix, size_t *hlen,
                              const char *fn, const char *path);

/* Parse the dictionary text of an NPY header (len bytes, not NUL-terminated)
 * whose element type is one of sslk_dtype, little-endian.  Errors name fn and path. */
sslk_status ssli_npy_parse_header(const char *text, size_t len, ssli_npy_hdr *out, const char *fn,
                                  const char *path);
/* As ssli_npy_parse_header for any plain numeric element type [<>|=][fiub][1248]
 * of either byte order; out->dtype is 0 when no sslk_dtype matches. */
sslk_status ssli_npy_parse_header_raw(const char *text, size_t len, ssli_npy_hdr *out, const char *fn,
                                      const char *path);

/* Format a complete preamble (magic, version, length, dictionary, padding to a
 * multiple of 64 bytes, newline) into buf (cap bytes); *len receives its size. */
sslk_status ssli_npy_format_header(sslk_dtype dtype, size_t ndim, const size_t *shape, char *buf,
                                   size_t cap, size_t *len, const char *fn);

#endif
