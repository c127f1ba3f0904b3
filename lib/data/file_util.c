/* File helpers for the readers: bounded whole-file reads (plain or gzip),
 * path tests and joins, and per-thread decode scratch.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <zlib.h>

bool ssli_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool ssli_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *ssli_strdup(const sslk_ctx *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ssli_malloc(ctx, n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

char *ssli_path_join(const sslk_ctx *ctx, const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *d = ssli_malloc(ctx, na + nb + 2, 1);
    if (!d) return NULL;
    memcpy(d, a, na);
    size_t k = na;
    if (k && d[k - 1] != '/') d[k++] = '/';
    memcpy(d + k, b, nb + 1);
    return d;
}

sslk_status ssli_scratch_reserve(const sslk_ctx *ctx, uint8_t **buf, size_t *cap, size_t n,
                                 const char *fn) {
    if (n <= *cap) return SSLK_OK;
    size_t want = n + n / 4 + 4096;
    uint8_t *p = ssli_malloc(ctx, want, 1);
    if (!p) return ssli_err(ssli_alloc_status(), "%s: cannot allocate %zu bytes of decode buffer", fn, want);
    ssli_free(ctx, *buf);
    *buf = p;
    *cap = want;
    return SSLK_OK;
}

void ssli_scratch_init(ssli_scratch *s, const sslk_ctx *ctx) {
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
}

void ssli_scratch_free(ssli_scratch *s) {
    ssli_free(s->ctx, s->file);
    ssli_free(s->ctx, s->pix);
    if (s->tj) tjDestroy((tjhandle)s->tj);
    memset(s, 0, sizeof *s);
}

sslk_status ssli_read_file_into(const sslk_ctx *ctx, const char *path, size_t max, uint8_t **buf,
                                size_t *cap, size_t *len, const char *fn) {
    FILE *f = fopen(path, "rb");
    if (!f) return ssli_err(SSLK_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return ssli_err(SSLK_E_IO, "%s: '%s' is not a regular file", fn, path);
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        fclose(f);
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' has %lld bytes, more than the limit %zu", fn, path,
                        (long long)st.st_size, max);
    }
    size_t n = (size_t)st.st_size;
    sslk_status s = ssli_scratch_reserve(ctx, buf, cap, n + 1, fn);
    if (s != SSLK_OK) {
        fclose(f);
        return s;
    }
    size_t got = fread(*buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != n) return ssli_err(SSLK_E_IO, "%s: short read of '%s' (%zu of %zu bytes)", fn, path, got, n);
    *len = n;
    return SSLK_OK;
}

sslk_status ssli_read_file(const sslk_ctx *ctx, const char *path, size_t max, int gz, uint8_t **out,
                           size_t *len, const char *fn) {
    *out = NULL;
    *len = 0;
    if (!gz) {
        size_t cap = 0;
        return ssli_read_file_into(ctx, path, max, out, &cap, len, fn);
    }
    gzFile g = gzopen(path, "rb");
    if (!g) return ssli_err(SSLK_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    /* Grow geometrically with the data actually decompressed, so a hostile
     * header can never make us allocate more than twice what the file holds. */
    size_t cap = 0, n = 0;
    uint8_t *buf = NULL;
    sslk_status s = SSLK_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                s = ssli_err(SSLK_E_FORMAT, "%s: '%s' decompresses to more than %zu bytes", fn, path, max);
                break;
            }
            size_t nc = cap ? cap * 2 : ((size_t)1 << 20);
            if (nc > max) nc = max;
            uint8_t *nb = ssli_malloc(ctx, nc, 1);
            if (!nb) {
                s = ssli_err(ssli_alloc_status(), "%s: cannot allocate %zu bytes for '%s'", fn, nc, path);
                break;
            }
            if (n) memcpy(nb, buf, n);
            ssli_free(ctx, buf);
            buf = nb;
            cap = nc;
        }
        size_t want = cap - n;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(g, buf + n, (unsigned)want);
        if (r < 0) {
            int e;
            const char *m = gzerror(g, &e);
            s = ssli_err(SSLK_E_FORMAT, "%s: '%s' is corrupt: %s", fn, path, m ? m : "gzip error");
            break;
        }
        if (r == 0) {
            /* gzread returns 0 both at a clean end and at a truncated stream. */
            int e;
            const char *m = gzerror(g, &e);
            if (e != Z_OK && e != Z_STREAM_END)
                s = ssli_err(SSLK_E_FORMAT, "%s: '%s' is corrupt: %s", fn, path, m ? m : "gzip error");
            else if (!gzeof(g))
                s = ssli_err(SSLK_E_IO, "%s: read error on '%s'", fn, path);
            break;
        }
        n += (size_t)r;
    }
    gzclose(g);
    if (s != SSLK_OK) {
        ssli_free(ctx, buf);
        return s;
    }
    *out = buf;
    *len = n;
    return SSLK_OK;
}
