/* The MPI filler of a build without the `mpi` feature: same symbols, every
 * entry says how to get the real one.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "dist_internal.h"
#include "sslkit/dist_mpi.h"

sslk_status sslk_dist_mpi_init(double timeout_s, sslk_dist *out) {
    (void)timeout_s;
    (void)out;
    return ssli_err(SSLK_E_UNSUPPORTED,
                    "sslk_dist_mpi_init: this libsslkit was built without the 'mpi' feature "
                    "(install OpenMPI with install-deps.sh and reconfigure: meson setup -Dmpi=enabled)");
}

int sslk_dist_mpi_available(void) { return 0; }
double sslk_dist_mpi_seconds(void) { return 0.0; }
void sslk_dist_mpi_finalize(void) {}
void sslk_dist_mpi_abort(int code) { exit(code); }
