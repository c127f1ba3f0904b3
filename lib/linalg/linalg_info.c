/* sslk_linalg_info: which dense kernels run, for `sslkit version --verbose`,
 * bug reports and the Python package (sslkit.linalg_info()).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg.h"

#include <stdio.h>
#include <stdlib.h>

const char *sslk_linalg_info(void) {
    /* per thread, like sslk_last_error: the active set may be changed by tests */
    static _Thread_local char buf[400];
    size_t s[5], d[5];
    const ssli_kernels k = ssli_kernels_active();
    ssli_kernels_blocksizes(k, false, s);
    ssli_kernels_blocksizes(k, true, d);
    const char *env = getenv("SSLKIT_KERNELS");
    const bool bad = !ssli_kernels_env_valid();
    const char *gt_env = getenv("SSLKIT_GEMM_THREADING");
    const bool gt_bad = !ssli_gemm_threading_env_valid() && gt_env;
    snprintf(buf, sizeof buf,
             "kernels=%s default=%s override=%s%s cpu_isa=%s blis_version=%s blis_arch=%s "
             "sgemm_tile=%zux%zu dgemm_tile=%zux%zu gemm_threading=%s%s",
             ssli_kernels_name(k), ssli_kernels_name(ssli_kernels_default()),
             bad ? "invalid:" : "", env && *env ? env : "none", ssli_cpu_isa(), ssli_blis_version(),
             ssli_blis_arch(), s[0], s[1], d[0], d[1], gt_bad ? "invalid:" : "",
             gt_bad ? gt_env : ssli_gemm_threading_name(ssli_gemm_threading_setting()));
    return buf;
}
