/* BLIS sgemm rate through libsslkit's linalg door, 1 and 2 threads: the
 * reference every other benchmark's "fraction of BLIS rate" is measured by.
 * Run it with a competing load to choose the threading back end
 * (docs/building.md).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"
#include "linalg/linalg.h"

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 1;
    printf("BLIS arch: %s\n", ssli_blis_arch());
    printf("%8s %8s %12s\n", "size", "threads", "GFLOP/s");
    const size_t sizes[] = {256, 512, 1024, 2048};
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            for (int t = 1; t <= 2; t++)
                printf("%8zu %8d %12.1f\n", sizes[i], t, bench_sgemm_gflops(t, sizes[i]));
    return 0;
}
