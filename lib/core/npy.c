/* NPY files: open (validate header and length), read with conversion,
 * atomic save.  Preamble and header parsing live in npy_header.c.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npy_internal.h"

#define NPY_CHUNK 8192 /* elements converted per fread (64 KiB on the stack) */

struct sslk_npy {
    const sslk_ctx *ctx;
    FILE *fp;
    char *path;
    long long data_offset;
    ssli_npy_hdr h;
};

size_t sslk_dtype_size(sslk_dtype t) {
    switch (t) {
    case SSLK_DTYPE_F32:
    case SSLK_DTYPE_I32: return 4;
    case SSLK_DTYPE_F64:
    case SSLK_DTYPE_I64: return 8;
    case SSLK_DTYPE_U8:
    case SSLK_DTYPE_BOOL: return 1;
    }
    return 0;
}

const char *sslk_dtype_name(sslk_dtype t) {
    switch (t) {
    case SSLK_DTYPE_F32: return "float32";
    case SSLK_DTYPE_F64: return "float64";
    case SSLK_DTYPE_I32: return "int32";
    case SSLK_DTYPE_I64: return "int64";
    case SSLK_DTYPE_U8: return "uint8";
    case SSLK_DTYPE_BOOL: return "bool";
    }
    return "unknown";
}

static sslk_status open_fail(sslk_npy *f, sslk_status s) {
    sslk_npy_close(f);
    return s;
}

sslk_status sslk_npy_open(sslk_ctx *ctx, const char *path, sslk_npy **out) {
    static const char *fn = "sslk_npy_open";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(path, fn);
    sslk_npy *f = ssli_calloc(ctx, 1, sizeof *f);
    if (!f) return ssli_alloc_status();
    f->ctx = ctx;
    size_t plen = strlen(path);
    f->path = ssli_malloc(ctx, plen + 1, 1);
    if (!f->path) return open_fail(f, ssli_alloc_status());
    memcpy(f->path, path, plen + 1);
    /* O_NONBLOCK: a FIFO must not block open(); only regular files are read. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        return open_fail(f, ssli_err(e == ENOENT ? SSLK_E_NOT_FOUND : SSLK_E_IO, "%s: cannot open '%s': %s",
                                     fn, path, strerror(e)));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return open_fail(f, ssli_err(SSLK_E_IO, "%s: '%s' is not a regular file", fn, path));
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    f->fp = fdopen(fd, "rb");
    if (!f->fp) {
        close(fd);
        return open_fail(f, ssli_err(SSLK_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno)));
    }
    unsigned char pre[12];
    size_t avail = fread(pre, 1, 10, f->fp), hlen = 0, prefix = 0;
    if (avail == 10 && (pre[6] == 2 || pre[6] == 3)) avail += fread(pre + 10, 1, 2, f->fp);
    sslk_status ps = ssli_npy_preamble(pre, avail, &prefix, &hlen, fn, path);
    if (ps != SSLK_OK) return open_fail(f, ps);
    char *text = ssli_malloc(ctx, hlen ? hlen : 1, 1);
    if (!text) return open_fail(f, ssli_alloc_status());
    if (fread(text, 1, hlen, f->fp) != hlen) {
        ssli_free(ctx, text);
        return open_fail(f, ssli_err(SSLK_E_FORMAT, "%s: '%s': NPY header truncated (expected %zu bytes)", fn,
                                     path, hlen));
    }
    sslk_status s = ssli_npy_parse_header(text, hlen, &f->h, fn, path);
    ssli_free(ctx, text);
    if (s != SSLK_OK) return open_fail(f, s);
    f->data_offset = (long long)(prefix + hlen);
    if (fseeko(f->fp, 0, SEEK_END) != 0)
        return open_fail(f, ssli_err(SSLK_E_IO, "%s: cannot seek in '%s'", fn, path));
    long long size = (long long)ftello(f->fp);
    if (size < f->data_offset || (unsigned long long)(size - f->data_offset) < (unsigned long long)f->h.bytes)
        return open_fail(f, ssli_err(SSLK_E_FORMAT,
                                     "%s: '%s' is truncated: shape needs %zu data bytes, file has %lld", fn,
                                     path, f->h.bytes, size < f->data_offset ? 0 : size - f->data_offset));
    /* numpy never writes past the array: more bytes mean another format or a damaged file */
    if ((unsigned long long)(size - f->data_offset) > (unsigned long long)f->h.bytes)
        return open_fail(f, ssli_err(SSLK_E_FORMAT,
                                     "%s: '%s' has %llu trailing bytes at offset %llu, after the %zu data bytes "
                                     "its shape needs",
                                     fn, path, (unsigned long long)(size - f->data_offset) - f->h.bytes,
                                     (unsigned long long)f->data_offset + f->h.bytes, f->h.bytes));
    *out = f;
    return SSLK_OK;
}

void sslk_npy_close(sslk_npy *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    ssli_free(f->ctx, f->path);
    ssli_free(f->ctx, f);
}

sslk_dtype sslk_npy_dtype(const sslk_npy *f) { return f ? f->h.dtype : (sslk_dtype)0; }
size_t sslk_npy_ndim(const sslk_npy *f) { return f ? f->h.ndim : 0; }
size_t sslk_npy_dim(const sslk_npy *f, size_t axis) { return f && axis < f->h.ndim ? f->h.shape[axis] : 0; }
size_t sslk_npy_count(const sslk_npy *f) { return f ? f->h.count : 0; }

static bool is_float(sslk_dtype t) { return t == SSLK_DTYPE_F32 || t == SSLK_DTYPE_F64; }

/* Convert m elements of the file's type at src into `as` at dst (element
 * offset base, for messages). */
static sslk_status convert(const sslk_npy *f, sslk_dtype as, const unsigned char *src, void *dst, size_t m,
                           size_t base) {
    static const char *fn = "sslk_npy_read";
    sslk_dtype from = f->h.dtype;
    for (size_t i = 0; i < m; i++) {
        double dv = 0;
        int64_t iv = 0;
        switch (from) {
        case SSLK_DTYPE_F32: {
            float v;
            memcpy(&v, src + 4 * i, 4);
            dv = v;
            break;
        }
        case SSLK_DTYPE_F64: memcpy(&dv, src + 8 * i, 8); break;
        case SSLK_DTYPE_I32: {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            iv = v;
            break;
        }
        case SSLK_DTYPE_I64: memcpy(&iv, src + 8 * i, 8); break;
        case SSLK_DTYPE_U8: iv = src[i]; break;
        case SSLK_DTYPE_BOOL: iv = src[i] != 0; break;
        }
        if (!is_float(from)) dv = (double)iv;
        int64_t lo = 0, hi = 0;
        switch (as) {
        case SSLK_DTYPE_F32: ((float *)dst)[i] = (float)dv; continue;
        case SSLK_DTYPE_F64: ((double *)dst)[i] = dv; continue;
        case SSLK_DTYPE_I32: lo = INT32_MIN, hi = INT32_MAX; break;
        case SSLK_DTYPE_I64: lo = INT64_MIN, hi = INT64_MAX; break;
        case SSLK_DTYPE_U8: lo = 0, hi = 255; break;
        case SSLK_DTYPE_BOOL: lo = 0, hi = 1; break;
        }
        if (iv < lo || iv > hi)
            return ssli_err(SSLK_E_RANGE, "%s: '%s': element %zu = %lld does not fit in %s", fn, f->path,
                            base + i, (long long)iv, sslk_dtype_name(as));
        switch (as) {
        case SSLK_DTYPE_I32: ((int32_t *)dst)[i] = (int32_t)iv; break;
        case SSLK_DTYPE_I64: ((int64_t *)dst)[i] = iv; break;
        default: ((unsigned char *)dst)[i] = (unsigned char)iv; break;
        }
    }
    return SSLK_OK;
}

sslk_status sslk_npy_read(sslk_npy *f, sslk_dtype as, void *buf, size_t count) {
    static const char *fn = "sslk_npy_read";
    SSLI_CHECK_PTR(f, fn);
    if (sslk_dtype_size(as) == 0)
        return ssli_err(SSLK_E_DTYPE, "%s: 'as' = %d is not an sslk_dtype", fn, (int)as);
    if (count != f->h.count)
        return ssli_err(SSLK_E_SHAPE, "%s: 'count' = %zu but '%s' holds %zu elements", fn, count, f->path,
                        f->h.count);
    if (count && !buf) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'buf' is NULL", fn);
    if (is_float(f->h.dtype) && !is_float(as))
        return ssli_err(SSLK_E_DTYPE, "%s: '%s' holds %s values; reading them as %s would truncate", fn,
                        f->path, sslk_dtype_name(f->h.dtype), sslk_dtype_name(as));
    if (fseeko(f->fp, (off_t)f->data_offset, SEEK_SET) != 0)
        return ssli_err(SSLK_E_IO, "%s: cannot seek in '%s'", fn, f->path);
    size_t es = sslk_dtype_size(f->h.dtype), os = sslk_dtype_size(as);
    if (as == f->h.dtype && as != SSLK_DTYPE_BOOL) {
        if (fread(buf, es, count, f->fp) != count)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' ended before its %zu elements were read", fn, f->path, count);
        return SSLK_OK;
    }
    unsigned char tmp[NPY_CHUNK * 8];
    size_t chunk = sizeof tmp / es;
    for (size_t done = 0; done < count;) {
        size_t m = count - done < chunk ? count - done : chunk;
        if (fread(tmp, es, m, f->fp) != m)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' ended before its %zu elements were read", fn, f->path, count);
        SSLI_TRY(convert(f, as, tmp, (unsigned char *)buf + done * os, m, done));
        done += m;
    }
    return SSLK_OK;
}

sslk_status sslk_npy_save(sslk_ctx *ctx, const char *path, sslk_dtype dtype, const void *data, size_t ndim,
                          const size_t *shape) {
    static const char *fn = "sslk_npy_save";
    (void)ctx;
    SSLI_CHECK_PTR(path, fn);
    if (ndim > 0) SSLI_CHECK_PTR(shape, fn);
    if (sslk_dtype_size(dtype) == 0)
        return ssli_err(SSLK_E_DTYPE, "%s: 'dtype' = %d is not an sslk_dtype", fn, (int)dtype);
    size_t count = 1, bytes;
    for (size_t i = 0; i < ndim && i < SSLK_NPY_MAX_NDIM; i++)
        if (ssli_mul_overflow(count, shape[i], &count))
            return ssli_err(SSLK_E_OVERFLOW, "%s: the element count of 'shape' overflows", fn);
    if (ssli_mul_overflow(count, sslk_dtype_size(dtype), &bytes))
        return ssli_err(SSLK_E_OVERFLOW, "%s: the byte size of 'shape' overflows", fn);
    if (bytes && !data) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'data' is NULL", fn);
    if (dtype == SSLK_DTYPE_BOOL)
        for (size_t i = 0; i < count; i++)
            if (((const unsigned char *)data)[i] > 1)
                return ssli_err(SSLK_E_RANGE, "%s: bool element %zu = %u is not 0 or 1", fn, i,
                                ((const unsigned char *)data)[i]);
    char hdr[1024];
    size_t hlen;
    SSLI_TRY(ssli_npy_format_header(dtype, ndim, shape, hdr, sizeof hdr, &hlen, fn));
    ssli_atomic_file af;
    SSLI_TRY(ssli_atomic_open(&af, path, fn));
    sslk_status s = ssli_atomic_write(&af, hdr, hlen, fn);
    if (s == SSLK_OK) s = ssli_atomic_write(&af, data, bytes, fn);
    if (s != SSLK_OK) {
        ssli_atomic_abort(&af);
        return s;
    }
    return ssli_atomic_commit(&af, fn);
}
