/* NPY header dictionary: a Python literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 * parsed with a small recursive-descent reader that accepts exactly the
 * subset numpy writes (any key order, either quote, optional trailing commas,
 * Python-2 'L' suffixes on integers) and refuses everything else, including a
 * one-element shape without its comma.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "npy_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct cursor {
    const char *p, *end;
    const char *fn, *path;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static sslk_status bad(const cursor *c, const char *what) {
    return ssli_err(SSLK_E_FORMAT, "%s: '%s' is not a valid NPY file: header %s", c->fn, c->path, what);
}

static bool eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes (numpy never writes any); copied into buf. */
static sslk_status read_str(cursor *c, char *buf, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expects a quoted string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\') return bad(c, "string contains an escape");
        if (n + 1 >= cap) return bad(c, "string is too long");
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end) return bad(c, "string is not terminated");
    c->p++;
    buf[n] = '\0';
    return SSLK_OK;
}

static sslk_status read_uint(cursor *c, size_t *v) {
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') {
        if (c->p < c->end && *c->p == '-') return bad(c, "has a negative dimension");
        return bad(c, "expects a dimension");
    }
    size_t x = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        size_t d = (size_t)(*c->p - '0');
        if (x > (SIZE_MAX - d) / 10)
            return ssli_err(SSLK_E_OVERFLOW, "%s: '%s': a dimension in the NPY header overflows size_t",
                            c->fn, c->path);
        x = x * 10 + d;
        c->p++;
    }
    if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;
    *v = x;
    return SSLK_OK;
}

static sslk_status read_descr(cursor *c, ssli_npy_hdr *h) {
    skip_ws(c);
    if (c->p < c->end && *c->p == '[')
        return ssli_err(SSLK_E_DTYPE, "%s: '%s' holds a structured (record) dtype, which is not supported",
                        c->fn, c->path);
    char d[64];
    SSLI_TRY(read_str(c, d, sizeof d));
    char order = d[0];
    const char *code = d + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '|';
        code = d;
    }
    char kind = code[0];
    unsigned size = code[0] ? (unsigned)(code[1] - '0') : 0;
    bool plain = kind && strchr("fiub", kind) && code[1] && code[2] == '\0' &&
                 (size == 1 || size == 2 || size == 4 || size == 8) && !(kind == 'f' && size == 1) &&
                 !(kind == 'b' && size != 1);
    if (!plain)
        return ssli_err(SSLK_E_DTYPE,
                        "%s: '%s' has dtype '%s'; supported: float32, float64, int32, int64, uint8, bool",
                        c->fn, c->path, d);
    if (order == '|' && size > 1) return bad(c, "gives a multi-byte dtype without byte order");
    h->kind = kind;
    h->size = size;
    h->big = order == '>' && size > 1;
    static const struct {
        char kind;
        unsigned size;
        sslk_dtype t;
    } known[] = {{'f', 4, SSLK_DTYPE_F32}, {'f', 8, SSLK_DTYPE_F64}, {'i', 4, SSLK_DTYPE_I32},
                 {'i', 8, SSLK_DTYPE_I64}, {'u', 1, SSLK_DTYPE_U8},  {'b', 1, SSLK_DTYPE_BOOL}};
    h->dtype = (sslk_dtype)0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].kind == kind && known[i].size == size) h->dtype = known[i].t;
    return SSLK_OK;
}

static sslk_status read_bool(cursor *c, bool *v) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *v = true;
        return SSLK_OK;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *v = false;
        return SSLK_OK;
    }
    return bad(c, "expects True or False for 'fortran_order'");
}

static sslk_status read_shape(cursor *c, ssli_npy_hdr *h) {
    if (!eat(c, '(')) return bad(c, "expects a tuple for 'shape'");
    h->ndim = 0;
    for (;;) {
        if (eat(c, ')')) break;
        if (h->ndim == SSLK_NPY_MAX_NDIM)
            return bad(c, "has more than 32 dimensions");
        SSLI_TRY(read_uint(c, &h->shape[h->ndim]));
        h->ndim++;
        if (eat(c, ',')) continue;
        /* "(3)" is the number 3 in Python, not a tuple: numpy writes "(3,)" */
        if (h->ndim == 1 && c->p < c->end && *c->p == ')')
            return ssli_err(SSLK_E_FORMAT,
                            "%s: '%s' is not a valid NPY file: header 'shape' (%zu) lacks the comma of a "
                            "one-element tuple, (%zu,)",
                            c->fn, c->path, h->shape[0], h->shape[0]);
        if (eat(c, ')')) break;
        return bad(c, "has a malformed 'shape' tuple");
    }
    return SSLK_OK;
}

sslk_status ssli_npy_preamble(const unsigned char *pre, size_t avail, size_t *prefix, size_t *hlen,
                              const char *fn, const char *path) {
    if (avail < 10 || memcmp(pre, "\x93NUMPY", 6) != 0)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' is not an NPY file (bad magic or too short)", fn, path);
    unsigned major = pre[6], minor = pre[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0)
        return ssli_err(SSLK_E_UNSUPPORTED, "%s: '%s' uses NPY format version %u.%u; versions 1.0-3.0 are read",
                        fn, path, major, minor);
    if (major == 1) {
        *prefix = 10;
        *hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else {
        if (avail < 12) return ssli_err(SSLK_E_FORMAT, "%s: '%s': truncated NPY preamble", fn, path);
        *prefix = 12;
        *hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    }
    if (*hlen > SSLI_NPY_MAX_HEADER)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': NPY header length %zu exceeds the %u-byte limit", fn, path,
                        *hlen, SSLI_NPY_MAX_HEADER);
    return SSLK_OK;
}

sslk_status ssli_npy_parse_header(const char *text, size_t len, ssli_npy_hdr *out, const char *fn,
                                  const char *path) {
    SSLI_TRY(ssli_npy_parse_header_raw(text, len, out, fn, path));
    if (!out->dtype)
        return ssli_err(SSLK_E_DTYPE,
                        "%s: '%s' has dtype %c%u; supported: float32, float64, int32, int64, uint8, bool", fn,
                        path, out->kind, out->size);
    if (out->big)
        return ssli_err(SSLK_E_UNSUPPORTED,
                        "%s: '%s' is big-endian (dtype %s); only little-endian files are read: "
                        "save with arr.astype(arr.dtype.newbyteorder('<'))",
                        fn, path, sslk_dtype_name(out->dtype));
    return SSLK_OK;
}

sslk_status ssli_npy_parse_header_raw(const char *text, size_t len, ssli_npy_hdr *out, const char *fn,
                                      const char *path) {
    cursor c = {text, text + len, fn, path};
    memset(out, 0, sizeof *out);
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    if (!eat(&c, '{')) return bad(&c, "does not start with '{'");
    for (;;) {
        if (eat(&c, '}')) break;
        char key[32];
        SSLI_TRY(read_str(&c, key, sizeof key));
        if (!eat(&c, ':')) return bad(&c, "misses ':' after a key");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            SSLI_TRY(read_descr(&c, out));
            have_descr = true;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            SSLI_TRY(read_bool(&c, &fortran));
            have_order = true;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            SSLI_TRY(read_shape(&c, out));
            have_shape = true;
        } else {
            return bad(&c, "has an unknown or repeated key");
        }
        if (eat(&c, ',')) continue;
        if (eat(&c, '}')) break;
        return bad(&c, "has a malformed dictionary");
    }
    skip_ws(&c);
    if (c.p != c.end) return bad(&c, "has trailing characters after the dictionary");
    if (!have_descr || !have_order || !have_shape)
        return bad(&c, "misses one of 'descr', 'fortran_order', 'shape'");
    if (fortran && out->ndim > 1)
        return ssli_err(SSLK_E_UNSUPPORTED,
                        "%s: '%s' is stored in Fortran (column-major) order; save it with "
                        "np.save(path, np.ascontiguousarray(a))",
                        fn, path);
    size_t count = 1;
    for (size_t i = 0; i < out->ndim; i++)
        if (ssli_mul_overflow(count, out->shape[i], &count))
            return ssli_err(SSLK_E_OVERFLOW, "%s: '%s': the NPY shape's element count overflows size_t",
                            fn, path);
    size_t bytes;
    if (ssli_mul_overflow(count, out->size, &bytes) || bytes > (size_t)INT64_MAX)
        return ssli_err(SSLK_E_OVERFLOW, "%s: '%s': the NPY data size overflows", fn, path);
    out->count = count;
    out->bytes = bytes;
    return SSLK_OK;
}

static const char *descr_of(sslk_dtype t) {
    switch (t) {
    case SSLK_DTYPE_F32: return "<f4";
    case SSLK_DTYPE_F64: return "<f8";
    case SSLK_DTYPE_I32: return "<i4";
    case SSLK_DTYPE_I64: return "<i8";
    case SSLK_DTYPE_U8: return "|u1";
    case SSLK_DTYPE_BOOL: return "|b1";
    }
    return NULL;
}

sslk_status ssli_npy_format_header(sslk_dtype dtype, size_t ndim, const size_t *shape, char *buf,
                                   size_t cap, size_t *len, const char *fn) {
    const char *descr = descr_of(dtype);
    if (!descr) return ssli_err(SSLK_E_DTYPE, "%s: 'dtype' = %d is not an sslk_dtype", fn, (int)dtype);
    if (ndim > SSLK_NPY_MAX_NDIM)
        return ssli_err(SSLK_E_SHAPE, "%s: 'ndim' = %zu exceeds %d", fn, ndim, SSLK_NPY_MAX_NDIM);
    /* The dictionary goes after a 10- or 12-byte prefix; build it first. */
    char dict[32 * 24 + 96];
    int k = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (size_t i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%zu%s", shape[i],
                      (ndim == 1 || i + 1 < ndim) ? ", " : "");
    if (ndim == 1) k -= 1; /* "(3,)" as numpy writes it */
    k += snprintf(dict + k, sizeof dict - (size_t)k, "), }");
    size_t dlen = (size_t)k;
    size_t prefix = 10;
    size_t total = (prefix + dlen + 1 + 63) / 64 * 64;
    if (total - prefix > 65535) {
        prefix = 12;
        total = (prefix + dlen + 1 + 63) / 64 * 64;
    }
    if (total > cap) return ssli_err(SSLK_E_INTERNAL, "%s: NPY header buffer too small", fn);
    size_t hl = total - prefix;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = prefix == 10 ? 1 : 2;
    buf[7] = 0;
    if (prefix == 10) {
        buf[8] = (char)(hl & 0xff);
        buf[9] = (char)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++) buf[8 + i] = (char)((hl >> (8 * i)) & 0xff);
    }
    memcpy(buf + prefix, dict, dlen);
    memset(buf + prefix + dlen, ' ', total - prefix - dlen - 1);
    buf[total - 1] = '\n';
    *len = total;
    return SSLK_OK;
}
