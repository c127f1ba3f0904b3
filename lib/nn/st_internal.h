/* Internal pieces of the safetensors reader / writer (lib/nn/safetensors.c,
 * st_dtype.c, st_report.c), also used by the fuzz target.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_NN_ST_INTERNAL_H
#define SSLKIT_NN_ST_INTERNAL_H

#include "nn/model_internal.h"

typedef enum ssli_st_dtype {
    SSLI_ST_UNKNOWN = -1, /* not a safetensors dtype */
    SSLI_ST_OTHER = 0,    /* a valid dtype that never becomes a float parameter */
    SSLI_ST_F32 = 1,
    SSLI_ST_F64 = 2,
    SSLI_ST_F16 = 3,
    SSLI_ST_BF16 = 4,
    SSLI_ST_I64 = 5
} ssli_st_dtype;

/* The dtype named `name` and its element size (0 when unknown). */
ssli_st_dtype ssli_st_dtype_find(const char *name, size_t *size);
/* Element i of a floating tensor (F32, F64, F16, BF16; little-endian bytes) as float. */
float ssli_st_to_f32(const unsigned char *p, ssli_st_dtype t, size_t i);

/* The batch-norm layers of m in build order (array allocated with ssli_malloc). */
sslk_status ssli_st_bn_layers(sslk_model *m, ssli_layer ***out, size_t *n);

/* The loader on a whole file in memory.  opt NULL: strict, no prefix; rep
 * may be NULL; legacy: the 1.x function's dtypes (F32 and F64 only). */
sslk_status ssli_st_load_buffer(sslk_model *m, const unsigned char *buf, size_t sz, const char *path,
                                const char *fn, const sslk_safetensors_options *opt, sslk_load_report *rep,
                                bool legacy);

/* Report filling (st_report.c): replaces list `list` by names[0..n). */
void ssli_load_report_clear(sslk_load_report *r);
sslk_status ssli_load_report_set(sslk_load_report *r, int list, const char *const *names, size_t n);

/* The caller's options read under the struct-size rule (NULL: defaults). */
sslk_status ssli_st_options_in(const sslk_safetensors_options *opt, sslk_safetensors_options *out,
                               const char *fn);

#endif
