/* Output files of the CLI written atomically: a temporary file next to the
 * target, flushed and synced, then renamed over it, so an interrupted or
 * failed write never leaves a truncated report behind.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *cli_atomic_open(cli_atomic *a, const char *path) {
    a->f = NULL;
    if (snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof a->tmp) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkstemp(a->tmp);
    if (fd < 0) return NULL;
    /* mkstemp creates 0600; give the output the permissions fopen would */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        errno = e;
        return NULL;
    }
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
    if (ok && rename(a->tmp, path) == 0) return 0;
    e = errno ? errno : e;
    unlink(a->tmp);
    errno = e;
    return -1;
}
