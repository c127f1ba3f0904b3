/* Temporary files of atomic writes, shared by the library (atomic_file.c)
 * and the sslkit CLI (tools/cli_atomic.c), which compiles atomic_tmp.c
 * itself because the library hides its internal symbols.  Plain POSIX, no
 * library state, so both sides name, lock and clean them the same way.
 *
 * A writer creates "<path>.tmp.<pid>.<6 random>" exclusively and holds an
 * flock on it until the rename.  A writer killed with SIGKILL leaves the file
 * behind; the next writer of the same path removes every such file whose lock
 * is free AND whose pid no longer runs (either sign alone keeps it, so a live
 * writer's file, local or on another host, is never touched).  Files of the
 * old "<path>.tmp.XXXXXX" form carry no pid and are removed once unlocked and
 * older than an hour.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_ATOMIC_TMP_H
#define SSLKIT_ATOMIC_TMP_H

#include <stddef.h>

/* Room needed for the temporary name of a path of length n (with the NUL). */
#define SSLI_TMP_EXTRA 40
/* Remove the stale temporary files of path (see above); returns how many. */
int ssli_tmp_sweep(const char *path);
/* Sweep, then create path's temporary file into tmp[cap] with mode 0666 (the
 * umask applies, as for fopen), locked.  The fd, or -1 with errno. */
int ssli_tmp_create(const char *path, char *tmp, size_t cap);
/* fsync the directory holding path so a rename into it survives a crash;
 * 0, or -1 with errno (filesystems that cannot sync directories count as 0). */
int ssli_tmp_sync_dir(const char *path);

#endif
