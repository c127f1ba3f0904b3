/* Atomic file replacement: temp file in the same directory, fsync, rename,
 * fsync of the directory.  Temporary names, locks and the removal of those
 * left by killed writers live in atomic_tmp.c (shared with the CLI).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "atomic_tmp.h"
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

sslk_status ssli_atomic_open(ssli_atomic_file *f, const char *path, const char *fn) {
    memset(f, 0, sizeof *f);
    if (!path || !*path) return ssli_err(SSLK_E_INVALID_ARG, "%s: empty output path", fn);
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp_path = malloc(n + SSLI_TMP_EXTRA);
    if (!f->path || !f->tmp_path) {
        free(f->path);
        free(f->tmp_path);
        return ssli_err(SSLK_E_NOMEM, "%s: out of memory", fn);
    }
    memcpy(f->path, path, n + 1);
    /* the file gets mode 0666 less the umask, as with fopen (mkstemp's 0600
     * made saved models private to their owner) */
    int fd = ssli_tmp_create(path, f->tmp_path, n + SSLI_TMP_EXTRA);
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
    /* the rename is only durable once the directory entry is on disk */
    if (ssli_tmp_sync_dir(f->path) != 0) {
        sslk_status s = ssli_err(SSLK_E_IO, "%s: syncing the directory of '%s' failed: %s", fn, f->path,
                                 strerror(errno));
        free(f->tmp_path);
        free(f->path);
        memset(f, 0, sizeof *f);
        return s;
    }
    free(f->tmp_path);
    free(f->path);
    memset(f, 0, sizeof *f);
    return SSLK_OK;
}
