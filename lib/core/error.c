/* Status names and the thread-local error sentence.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <stdio.h>

static _Thread_local char tl_msg[1024];

const char *sslk_status_str(sslk_status s) {
    switch (s) {
    case SSLK_OK: return "SSLK_OK";
    case SSLK_E_INVALID_ARG: return "SSLK_E_INVALID_ARG";
    case SSLK_E_SHAPE: return "SSLK_E_SHAPE";
    case SSLK_E_NOMEM: return "SSLK_E_NOMEM";
    case SSLK_E_UNSUPPORTED: return "SSLK_E_UNSUPPORTED";
    case SSLK_E_NONFINITE: return "SSLK_E_NONFINITE";
    case SSLK_E_IO: return "SSLK_E_IO";
    case SSLK_E_FORMAT: return "SSLK_E_FORMAT";
    case SSLK_E_STATE: return "SSLK_E_STATE";
    case SSLK_E_RANGE: return "SSLK_E_RANGE";
    case SSLK_E_OVERFLOW: return "SSLK_E_OVERFLOW";
    case SSLK_E_NUMERIC: return "SSLK_E_NUMERIC";
    case SSLK_E_DEGENERATE: return "SSLK_E_DEGENERATE";
    case SSLK_E_DTYPE: return "SSLK_E_DTYPE";
    case SSLK_E_SETTING: return "SSLK_E_SETTING";
    case SSLK_E_NOT_FOUND: return "SSLK_E_NOT_FOUND";
    case SSLK_E_CANCELLED: return "SSLK_E_CANCELLED";
    case SSLK_E_INTERNAL: return "SSLK_E_INTERNAL";
    case SSLK_E_LIMIT: return "SSLK_E_LIMIT";
    case SSLK_E_DIST: return "SSLK_E_DIST";
    }
    return "SSLK_E_UNKNOWN";
}

const char *sslk_last_error(void) { return tl_msg; }

void ssli_clear_error(void) { tl_msg[0] = '\0'; }

sslk_status ssli_err(sslk_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_msg, sizeof tl_msg, fmt, ap);
    va_end(ap);
    return s;
}

void ssli_log(const sslk_ctx *ctx, sslk_log_level lvl, const char *fmt, ...) {
    if (!ctx || !ctx->log_fn || lvl < ctx->log_min) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log_fn(ctx->log_user, lvl, buf);
}

size_t ssli_first_nonfinite_f32(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return SIZE_MAX;
}

size_t ssli_first_nonfinite_f64(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return SIZE_MAX;
}

sslk_status ssli_check_finite_f32(const float *x, size_t rows, size_t cols, const char *fn,
                                  const char *arg) {
    size_t n;
    if (ssli_mul_overflow(rows, cols, &n))
        return ssli_err(SSLK_E_OVERFLOW, "%s: '%s' size %zu x %zu overflows", fn, arg, rows, cols);
    size_t i = ssli_first_nonfinite_f32(x, n);
    if (i == SIZE_MAX) return SSLK_OK;
    return ssli_err(SSLK_E_NONFINITE, "%s: '%s' has a non-finite value (%g) at row %zu, column %zu",
                    fn, arg, (double)x[i], cols ? i / cols : 0, cols ? i % cols : 0);
}
