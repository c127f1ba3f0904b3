/* Output files of the CLI written atomically: a temporary file next to the
 * target, flushed and synced, then renamed over it and the directory synced,
 * so an interrupted or failed write never leaves a truncated report behind.
 * Temporary names, locks and the removal of those left by killed runs come
 * from the library's lib/core/atomic_tmp.c, compiled into the CLI too.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_tmp.h"

FILE *cli_atomic_open(cli_atomic *a, const char *path) {
    a->f = NULL;
    int fd = ssli_tmp_create(path, a->tmp, sizeof a->tmp);
    if (fd < 0) return NULL;
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        errno = e;
    }
    return a->f;
}

int cli_atomic_commit(cli_atomic *a, const char *path, bool ok) {
    if (!a->f) return -1;
    ok = ok && fflush(a->f) == 0 && !ferror(a->f) && fsync(fileno(a->f)) == 0;
    int e = errno;
    if (fclose(a->f) != 0) ok = false;
    a->f = NULL;
    if (ok && rename(a->tmp, path) == 0) return ssli_tmp_sync_dir(path);
    e = errno ? errno : e;
    unlink(a->tmp);
    errno = e;
    return -1;
}
