/* sslkit version: library version and the BLIS/LAPACK set-up.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("sslkit %s (library %s, ABI soname libsslkit.so.1)\n", SSLK_VERSION_STRING,
           sslk_version_string());
    return sslk_version_number() == SSLK_VERSION_NUMBER ? 0 : 1;
}
