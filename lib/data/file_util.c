/* File helpers for the readers: bounded whole-file reads (plain or gzip),
 * path tests and joins, and per-thread decode scratch.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "data_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>
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
    ssli_free(s->ctx, s->aux);
    if (s->tj) tjDestroy((tjhandle)s->tj);
    memset(s, 0, sizeof *s);
}

/* Open path for reading if it is a regular file.  O_NONBLOCK keeps open()
 * itself from waiting for a writer when the name is a FIFO (a '*.jpg' FIFO
 * used to block a dataset read forever); fstat then refuses anything but a
 * regular file, so no read ever waits either. */
static sslk_status open_regular(const char *path, struct stat *st, int *fd_out, const char *fn) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return ssli_err(SSLK_E_IO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return ssli_err(SSLK_E_IO, "%s: '%s' is not a regular file", fn, path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    *fd_out = fd;
    return SSLK_OK;
}

/* read() until n bytes, end of file or an error; returns the count or -1. */
static ssize_t read_full(int fd, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got > ((size_t)1 << 30) ? (size_t)1 << 30 : n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Size checks for a raw file: the caller's format bound, then the context's. */
static sslk_status check_raw_size(const sslk_ctx *ctx, const char *path, uint64_t size, size_t max, const char *fn) {
    if (size > (uint64_t)max)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' has %llu bytes, more than the limit %zu", fn, path,
                        (unsigned long long)size, max);
    char what[600];
    snprintf(what, sizeof what, "reading '%s' whole", path);
    return ssli_check_limit(ctx, SSLK_CTX_MAX_FILE_BYTES, size, fn, what);
}

static sslk_status read_raw_fd(const sslk_ctx *ctx, int fd, const struct stat *st, const char *path, size_t max,
                               uint8_t **buf, size_t *cap, size_t *len, const char *fn) {
    SSLI_TRY(check_raw_size(ctx, path, (uint64_t)st->st_size, max, fn));
    size_t n = (size_t)st->st_size;
    SSLI_TRY(ssli_scratch_reserve(ctx, buf, cap, n + 1, fn));
    ssize_t got = read_full(fd, *buf, n);
    if (got != (ssize_t)n)
        return ssli_err(SSLK_E_IO, "%s: short read of '%s' (%zd of %zu bytes)", fn, path, got, n);
    *len = n;
    return SSLK_OK;
}

sslk_status ssli_read_file_into(const sslk_ctx *ctx, const char *path, size_t max, uint8_t **buf,
                                size_t *cap, size_t *len, const char *fn) {
    struct stat st;
    int fd = -1;
    SSLI_TRY(open_regular(path, &st, &fd, fn));
    sslk_status s = read_raw_fd(ctx, fd, &st, path, max, buf, cap, len, fn);
    close(fd);
    return s;
}

/* Inflate a gzip file (one or more members, as gzip -d reads them) into a
 * buffer that grows with the data actually produced, so a hostile header never
 * makes us allocate more than twice what the stream holds.  head > 0: stop
 * quietly after head bytes (header peeks).  Anything after a member that is not
 * another member is refused with its offset (zlib's gzread ignored it). */
static sslk_status inflate_fd(const sslk_ctx *ctx, int fd, const char *path, size_t max, size_t head,
                              uint8_t **out, size_t *len, const char *fn) {
    uint64_t lim = ssli_limit(ctx, SSLK_CTX_MAX_FILE_BYTES);
    size_t bound = max;
    if (!head && lim < (uint64_t)bound) bound = (size_t)lim;
    if (head) bound = head;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return ssli_err(SSLK_E_NOMEM, "%s: cannot start zlib for '%s'", fn, path);
    static const size_t IN_CHUNK = (size_t)1 << 16;
    uint8_t *in = ssli_malloc(ctx, IN_CHUNK, 1);
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    unsigned long long fed = 0; /* compressed bytes handed to zlib so far */
    bool eof = false, member_done = false;
    sslk_status s = in ? SSLK_OK : ssli_err(ssli_alloc_status(), "%s: cannot allocate a read buffer", fn);
    while (s == SSLK_OK) {
        if (z.avail_in == 0 && !eof) {
            ssize_t r = read_full(fd, in, IN_CHUNK);
            if (r < 0) {
                s = ssli_err(SSLK_E_IO, "%s: read error on '%s': %s", fn, path, strerror(errno));
                break;
            }
            eof = (size_t)r < IN_CHUNK;
            z.next_in = in;
            z.avail_in = (uInt)r;
            fed += (unsigned long long)r;
        }
        unsigned long long at = fed - z.avail_in; /* offset of the next unread byte */
        if (member_done) {
            if (z.avail_in == 0) break; /* clean end after the last member */
            if (z.next_in[0] != 0x1f) {
                s = ssli_err(SSLK_E_FORMAT, "%s: '%s' has trailing data after its gzip stream at offset %llu", fn,
                             path, at);
                break;
            }
            inflateReset(&z);
            member_done = false;
        }
        if (n == cap) {
            /* one byte of room past the bound tells "exactly bound" from "more" */
            if (cap > bound) {
                if (head) break;
                if (bound < max) {
                    char what[600];
                    snprintf(what, sizeof what, "decompressing '%s'", path);
                    s = ssli_check_limit(ctx, SSLK_CTX_MAX_FILE_BYTES, (uint64_t)n, fn, what);
                } else {
                    s = ssli_err(SSLK_E_FORMAT, "%s: '%s' decompresses to more than %zu bytes", fn, path, max);
                }
                break;
            }
            size_t nc = cap ? cap * 2 : ((size_t)1 << 20);
            if (nc > bound + 1 || nc < cap) nc = bound + 1;
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
        size_t room = cap - n;
        z.next_out = buf + n;
        z.avail_out = room > (size_t)1 << 30 ? 1u << 30 : (uInt)room;
        uInt before = z.avail_out;
        int zr = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (zr == Z_STREAM_END) member_done = true;
        else if (zr == Z_BUF_ERROR && z.avail_in == 0 && eof && z.avail_out > 0) {
            s = ssli_err(SSLK_E_FORMAT, "%s: '%s' is corrupt: gzip stream truncated at offset %llu", fn, path, fed);
            break;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            s = ssli_err(SSLK_E_FORMAT, "%s: '%s' is corrupt near offset %llu: %s", fn, path, fed - z.avail_in,
                         z.msg ? z.msg : "gzip error");
            break;
        }
    }
    inflateEnd(&z);
    ssli_free(ctx, in);
    if (s == SSLK_OK && head && n > head) n = head;
    if (s != SSLK_OK) {
        ssli_free(ctx, buf);
        return s;
    }
    *out = buf;
    *len = n;
    return SSLK_OK;
}

/* Shared by ssli_read_file and ssli_read_head: gzip when asked for and the
 * magic says so, raw otherwise (plain IDX files go through the same call). */
static sslk_status read_any(const sslk_ctx *ctx, const char *path, size_t max, int gz, size_t head, uint8_t **out,
                            size_t *len, const char *fn) {
    *out = NULL;
    *len = 0;
    struct stat st;
    int fd = -1;
    SSLI_TRY(open_regular(path, &st, &fd, fn));
    uint8_t magic[2] = {0, 0};
    sslk_status s = SSLK_OK;
    if (gz) {
        ssize_t r = read_full(fd, magic, 2);
        gz = r == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
        if (lseek(fd, 0, SEEK_SET) != 0) s = ssli_err(SSLK_E_IO, "%s: cannot seek in '%s'", fn, path);
    }
    size_t cap = 0;
    if (s == SSLK_OK && gz) s = inflate_fd(ctx, fd, path, max, head, out, len, fn);
    else if (s == SSLK_OK && head) {
        s = ssli_scratch_reserve(ctx, out, &cap, head, fn);
        ssize_t r = s == SSLK_OK ? read_full(fd, *out, head) : 0;
        if (r < 0) s = ssli_err(SSLK_E_IO, "%s: read error on '%s': %s", fn, path, strerror(errno));
        else *len = (size_t)r;
    } else if (s == SSLK_OK) {
        s = read_raw_fd(ctx, fd, &st, path, max, out, &cap, len, fn);
    }
    close(fd);
    if (s != SSLK_OK) {
        ssli_free(ctx, *out);
        *out = NULL;
        *len = 0;
    }
    return s;
}

sslk_status ssli_read_file(const sslk_ctx *ctx, const char *path, size_t max, int gz, uint8_t **out,
                           size_t *len, const char *fn) {
    return read_any(ctx, path, max, gz, 0, out, len, fn);
}

sslk_status ssli_read_head(const sslk_ctx *ctx, const char *path, size_t n, int gz, uint8_t **out, size_t *len,
                           const char *fn) {
    return read_any(ctx, path, n, gz, n ? n : 1, out, len, fn);
}
