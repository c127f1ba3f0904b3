/* libsslkit — the MPI filler of the collectives table (experimental, since
 * 1.2): data-parallel jobs started by `mpirun -np P`.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_DIST_MPI_H
#define SSLKIT_DIST_MPI_H

#include "sslkit/dist.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef SSLK_EXPERIMENTAL
/** Fill *out (out->struct_size must be set) with a table over a private
 *  duplicate of MPI_COMM_WORLD.  Calls MPI_Init_thread itself when MPI is not
 *  initialised yet (plain C programs, Python without mpi4py) and reuses the
 *  running MPI otherwise (mpi4py).  Errors of MPI calls are returned, never
 *  fatal (MPI_ERRORS_RETURN), and every collective waits at most timeout_s
 *  seconds (0: 600, or env SSLKIT_DIST_TIMEOUT) for the other ranks: past it
 *  the collective fails with SSLK_E_DIST saying which one and how long it
 *  waited, so a rank that died or stopped never leaves the others hanging
 *  (then call sslk_dist_mpi_abort: the pending collective cannot be cancelled).
 *  SSLK_E_UNSUPPORTED when the library was built without the `mpi` feature.
 *  Repeated calls return the same world. */
SSLK_API sslk_status sslk_dist_mpi_init(double timeout_s, sslk_dist *out);
/** 1 when this build has the MPI filler, else 0. */
SSLK_API int sslk_dist_mpi_available(void);
/** 1 when the environment says this process was started by mpirun / an MPI
 *  launcher (OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK set), else 0; works
 *  in builds without the filler too. */
SSLK_API int sslk_dist_mpi_launched(void);
/** Seconds this process spent inside MPI collectives of the filler so far
 *  (the communication time of bench_dist); 0 without the filler. */
SSLK_API double sslk_dist_mpi_seconds(void);
/** Free the duplicate communicator and call MPI_Finalize when
 *  sslk_dist_mpi_init called MPI_Init.  Tables filled before must no longer
 *  be used.  No-op without the filler or when never initialised. */
SSLK_API void sslk_dist_mpi_finalize(void);
/** End every rank of the job (MPI_Abort with `code`); for a rank whose
 *  collective failed, so the others do not wait for it.  Without the filler
 *  or before init it just exits the process with `code`. */
SSLK_API void sslk_dist_mpi_abort(int code);
#endif /* SSLK_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif
#endif
