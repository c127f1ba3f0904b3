/* The one rule for public structs whose first field is their own size
 * (include/sslkit/core.h, "Public structs"): a caller's struct is accepted at
 * any size from the 1.0 size up.  In: the prefix the caller has is read, the
 * rest keeps our defaults, bytes beyond our layout (a newer header) are
 * ignored.  Out: at most the caller's size is written, and struct_size becomes
 * the number of bytes written (a newer caller learns which fields are ours).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <string.h>

static sslk_status check_size(const void *caller, size_t min_size, const char *fn, const char *arg,
                              size_t *size) {
    if (!caller) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument '%s' is NULL", fn, arg);
    memcpy(size, caller, sizeof *size);
    if (*size < min_size)
        return ssli_err(SSLK_E_INVALID_ARG,
                        "%s: '%s->struct_size' = %zu, below %zu (the struct's size in libsslkit 1.0); set it "
                        "to sizeof the struct",
                        fn, arg, *size, min_size);
    return SSLK_OK;
}

sslk_status ssli_struct_in(void *ours, size_t ours_size, const void *caller, size_t min_size, const char *fn,
                           const char *arg) {
    size_t cs = 0;
    SSLI_TRY(check_size(caller, min_size, fn, arg, &cs));
    size_t n = cs < ours_size ? cs : ours_size;
    memcpy((char *)ours + sizeof(size_t), (const char *)caller + sizeof(size_t), n - sizeof(size_t));
    memcpy(ours, &ours_size, sizeof ours_size);
    return SSLK_OK;
}

sslk_status ssli_struct_check(const void *caller, size_t min_size, const char *fn, const char *arg) {
    size_t cs = 0;
    return check_size(caller, min_size, fn, arg, &cs);
}

void ssli_struct_out(void *caller, const void *ours, size_t ours_size) {
    size_t cs = 0;
    memcpy(&cs, caller, sizeof cs);
    size_t n = cs < ours_size ? cs : ours_size;
    if (n > sizeof(size_t))
        memcpy((char *)caller + sizeof(size_t), (const char *)ours + sizeof(size_t), n - sizeof(size_t));
    memcpy(caller, &n, sizeof n); /* tells a newer caller which fields were filled */
}
