/* sslkit version [--verbose]: library version; with --verbose also the dense
 * kernels in use (sslk_linalg_info: kernel set, CPU ISA, BLIS version and
 * configuration, register tiles, GEMM threading), one "key: value" line each.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "cli.h"

#include <string.h>

int cmd_version(int argc, char **argv) {
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: sslkit version [--verbose]\n"
                   "  --verbose  also the dense kernels in use: kernel set (SSLKIT_KERNELS overrides),\n"
                   "             CPU vector ISA, BLIS version and configuration, register tiles,\n"
                   "             GEMM threading (SSLKIT_GEMM_THREADING overrides)\n");
            return 0;
        } else {
            fprintf(stderr, "sslkit version: unknown option '%s' (usage: sslkit version [--verbose])\n", argv[i]);
            return 2;
        }
    }
    printf("sslkit %s (library %s, ABI soname libsslkit.so.1)\n", SSLK_VERSION_STRING,
           sslk_version_string());
    if (verbose) {
        char line[512];
        snprintf(line, sizeof line, "%s", sslk_linalg_info());
        for (char *save = NULL, *kv = strtok_r(line, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(kv, '=');
            if (eq) *eq = '\0';
            printf("  %s: %s\n", kv, eq ? eq + 1 : "");
        }
    }
    return sslk_version_number() == SSLK_VERSION_NUMBER ? 0 : 1;
}
