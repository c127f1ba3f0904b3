/* MPI filler parts that need no MPI: launcher detection (both builds).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdlib.h>

#include "dist_internal.h"
#include "sslkit/dist_mpi.h"

int sslk_dist_mpi_launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return 1;
    }
    return 0;
}
