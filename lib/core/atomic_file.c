/* Atomic file replacement: temp file in the same directory, fsync, rename.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Create "<path>.tmp.XXXXXX" exclusively with mode 0666, so the process umask
 * gives the final file the permissions a plain fopen would (mkstemp's 0600
 * made every saved model, checkpoint and NPY file private to its owner). */
static int create_temp(char *tmpl, size_t n) {
    static const char digits[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                    (uint64_t)(uintptr_t)tmpl;
    for (uint64_t attempt = 0; attempt < 1000; attempt++) {
        uint64_t r = ssli_rng_u64(seed, attempt);
        for (size_t i = n - 6; i < n; i++) {
            tmpl[i] = digits[r % (sizeof digits - 1)];
            r /= sizeof digits - 1;
        }
        int fd = open(tmpl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

sslk_status ssli_atomic_open(ssli_atomic_file *f, const char *path, const char *fn) {
    memset(f, 0, sizeof *f);
    if (!path || !*path) return ssli_err(SSLK_E_INVALID_ARG, "%s: empty output path", fn);
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp_path = malloc(n + 16);
    if (!f->path || !f->tmp_path) {
        free(f->path);
        free(f->tmp_path);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    }
    memcpy(f->path, path, n + 1);
    snprintf(f->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    int fd = create_temp(f->tmp_path, strlen(f->tmp_path));
    if (fd < 0) {
        int e = errno;
        free(f->path);
        free(f->tmp_path);
        memset(f, 0, sizeof *f);
        return ssli_err(SSLK_E_IO, "%s: cannot create a temporary file next to '%s': %s", fn, path,
                        strerror(e));
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        close(fd);
        unlink(f->tmp_path);
        free(f->path);
        free(f->tmp_path);
        memset(f, 0, sizeof *f);
        return ssli_err(SSLK_E_IO, "%s: fdopen failed for '%s'", fn, path);
    }
    return SSLK_OK;
}

sslk_status ssli_atomic_write(ssli_atomic_file *f, const void *buf, size_t n, const char *fn) {
    if (n && fwrite(buf, 1, n, (FILE *)f->fp) != n)
        return ssli_err(SSLK_E_IO, "%s: write to '%s' failed: %s", fn, f->path, strerror(errno));
    return SSLK_OK;
}

void ssli_atomic_abort(ssli_atomic_file *f) {
    if (f->fp) fclose((FILE *)f->fp);
    if (f->tmp_path) unlink(f->tmp_path);
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
}

sslk_status ssli_atomic_commit(ssli_atomic_file *f, const char *fn) {
    FILE *fp = (FILE *)f->fp;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        sslk_status s = ssli_err(SSLK_E_IO, "%s: flushing '%s' failed: %s", fn, f->path, strerror(errno));
        ssli_atomic_abort(f);
        return s;
    }
    if (fclose(fp) != 0) {
        f->fp = NULL;
        sslk_status s = ssli_err(SSLK_E_IO, "%s: closing '%s' failed: %s", fn, f->path, strerror(errno));
        ssli_atomic_abort(f);
        return s;
    }
    f->fp = NULL;
    if (rename(f->tmp_path, f->path) != 0) {
        sslk_status s = ssli_err(SSLK_E_IO, "%s: renaming the temporary file onto '%s' failed: %s", fn,
                                 f->path, strerror(errno));
        ssli_atomic_abort(f);
        return s;
    }
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
    return SSLK_OK;
}
