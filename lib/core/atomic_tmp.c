/* Temporary files of atomic writes: naming, locking, stale-file sweep and
 * directory sync (see atomic_tmp.h).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "atomic_tmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LEGACY_MAX_AGE_S 3600
static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* The directory of path as a malloc'd string ("." without a slash); *base
 * points at the last component inside path. */
static char *dir_of(const char *path, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    size_t n = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 1;
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, slash ? path : ".", n);
    d[n] = '\0';
    return d;
}

static bool is_alnum6(const char *s) { return strlen(s) == 6 && strspn(s, alnum) == 6; }

/* The suffix after "<base>.tmp.": *pid > 0 for "<pid>.<6 alnum>", 0 for the
 * legacy "<6 alnum>"; false for anything else (never ours to delete). */
static bool parse_suffix(const char *s, long *pid) {
    size_t nd = strspn(s, "0123456789");
    if (nd > 0 && nd <= 10 && s[nd] == '.' && is_alnum6(s + nd + 1)) {
        long p = strtol(s, NULL, 10);
        if (p <= 0 || p > INT_MAX) return false;
        *pid = p;
        return true;
    }
    *pid = 0;
    return is_alnum6(s);
}

/* Remove dir/name when nobody holds its lock and its writer is gone: the pid
 * does not run (ESRCH; EPERM means it does), or, for a legacy name, the file
 * has not changed for an hour.  The lock is held across the unlink. */
static bool remove_if_stale(int dfd, const char *name, long pid) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st;
    bool stale = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (stale && pid > 0) stale = (pid_t)pid != getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
    else if (stale) stale = time(NULL) - st.st_mtime > LEGACY_MAX_AGE_S;
    stale = stale && unlinkat(dfd, name, 0) == 0;
    close(fd);
    return stale;
}

int ssli_tmp_sweep(const char *path) {
    const char *base;
    char *dir = path ? dir_of(path, &base) : NULL;
    if (!dir) return 0;
    size_t bl = strlen(base);
    DIR *d = bl ? opendir(dir) : NULL;
    free(dir);
    if (!d) return 0;
    int removed = 0, saved = errno;
    for (struct dirent *e; (e = readdir(d));) {
        const char *nm = e->d_name;
        long pid;
        if (strncmp(nm, base, bl) != 0 || strncmp(nm + bl, ".tmp.", 5) != 0 || !parse_suffix(nm + bl + 5, &pid))
            continue;
        removed += remove_if_stale(dirfd(d), nm, pid);
    }
    closedir(d);
    errno = saved;
    return removed;
}

int ssli_tmp_create(const char *path, char *tmp, size_t cap) {
    ssli_tmp_sweep(path);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
                 (uint64_t)(uintptr_t)tmp;
    for (int attempt = 0; attempt < 100; attempt++) {
        /* splitmix64: O_EXCL guarantees uniqueness, this only avoids retries */
        uint64_t r = (x += 0x9E3779B97F4A7C15ull);
        r = (r ^ (r >> 30)) * 0xBF58476D1CE4E5B9ull;
        r = (r ^ (r >> 27)) * 0x94D049BB133111EBull;
        r ^= r >> 31;
        char rnd[7];
        for (int i = 0; i < 6; i++, r /= sizeof alnum - 1) rnd[i] = alnum[r % (sizeof alnum - 1)];
        rnd[6] = '\0';
        int n = snprintf(tmp, cap, "%s.tmp.%ld.%s", path, (long)getpid(), rnd);
        if (n < 0 || (size_t)n >= cap) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            /* without lock support the live pid alone keeps the file safe */
            (void)flock(fd, LOCK_EX | LOCK_NB);
            return fd;
        }
        if (errno != EEXIST) return -1;
    }
    errno = EEXIST;
    return -1;
}

int ssli_tmp_sync_dir(const char *path) {
    const char *base;
    char *dir = dir_of(path, &base);
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd), e = errno;
    close(fd);
    if (rc != 0 && (e == EINVAL || e == EROFS || e == ENOTSUP)) rc = 0;
    errno = e;
    return rc;
}
