/* safetensors element types: their sizes, and the exact conversion of the
 * floating ones to float32 (what torch's .float() gives: F16 and BF16 widen
 * exactly, subnormals included; F64 rounds to nearest even).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <math.h>
#include <string.h>

#include "nn/st_internal.h"

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [SSLI_ST_OTHER] = {"?", 0}, [SSLI_ST_F32] = {"F32", 4}, [SSLI_ST_F64] = {"F64", 8},
    [SSLI_ST_F16] = {"F16", 2}, [SSLI_ST_BF16] = {"BF16", 2}, [SSLI_ST_I64] = {"I64", 8},
};

/* The integer, boolean and 8-bit float types: sized (so the data layout can be
 * checked for tensors nobody loads) but never converted. */
static const struct {
    const char *name;
    size_t size;
} OTHER[] = {{"BOOL", 1}, {"U8", 1}, {"I8", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"I16", 2}, {"U16", 2},
             {"I32", 4}, {"U32", 4}, {"U64", 8}};

ssli_st_dtype ssli_st_dtype_find(const char *name, size_t *size) {
    for (int k = SSLI_ST_F32; k <= SSLI_ST_I64; k++)
        if (!strcmp(name, DTYPES[k].name)) {
            *size = DTYPES[k].size;
            return (ssli_st_dtype)k;
        }
    for (size_t k = 0; k < sizeof OTHER / sizeof OTHER[0]; k++)
        if (!strcmp(name, OTHER[k].name)) {
            *size = OTHER[k].size;
            return SSLI_ST_OTHER;
        }
    *size = 0;
    return SSLI_ST_UNKNOWN;
}

static float half_to_float(unsigned h) {
    unsigned sign = h >> 15, exp = (h >> 10) & 31u, mant = h & 1023u;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24); /* zero and subnormals: exact (mant < 2^11) */
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 1024u), (int)exp - 25);
    return sign ? -v : v;
}

float ssli_st_to_f32(const unsigned char *p, ssli_st_dtype t, size_t i) {
    switch (t) {
    case SSLI_ST_F32: {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    case SSLI_ST_F64: {
        double d;
        memcpy(&d, p + 8 * i, 8);
        return (float)d; /* inf beyond the float range: refused by the caller */
    }
    case SSLI_ST_F16: return half_to_float((unsigned)p[2 * i] | (unsigned)p[2 * i + 1] << 8);
    case SSLI_ST_BF16: {
        uint32_t u = ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: return NAN;
    }
}
