/* Context limits: the memory budget every reader and allocation consults
 * before it allocates.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <inttypes.h>

#define NSET 3
/* 2^53: the largest integer a setting (stored as double) holds exactly. */
#define MAXV 9007199254740992.0
static const ssli_setting_def ctx_defs[NSET] = {
    {SSLK_CTX_MAX_ALLOC_BYTES, "max_alloc_bytes", SSLK_SETTING_I64, 0, MAXV, 17179869184.0,
     "bytes in one allocation (0: no limit below the 64 TiB hard cap)"},
    {SSLK_CTX_MAX_IMAGE_PIXELS, "max_image_pixels", SSLK_SETTING_I64, 0, MAXV, 89478485.0,
     "width x height of one decoded image (0: no limit); default as Pillow's MAX_IMAGE_PIXELS"},
    {SSLK_CTX_MAX_FILE_BYTES, "max_file_bytes", SSLK_SETTING_I64, 0, MAXV, 2147483648.0,
     "bytes one file may expand to when read whole, e.g. decompressed gzip (0: no limit)"},
};
const ssli_setting_table ssli_settings_ctx = {"ctx", ctx_defs, NSET, NULL};

void ssli_ctx_limits_default(sslk_ctx *ctx) { ssli_setting_defaults(&ssli_settings_ctx, ctx->limits); }

/* sslk_ctx_{set,get}_{f64,i64} */
SSLI_SETTINGS_TABLE_ACCESSORS(sslk_ctx, sslk_ctx, ssli_settings_ctx, limits)

uint64_t ssli_limit(const sslk_ctx *ctx, int key) {
    int i = ssli_setting_index(&ssli_settings_ctx, key);
    if (i < 0) return UINT64_MAX;
    double v = ctx ? ctx->limits[i] : ctx_defs[i].def;
    return v <= 0 ? UINT64_MAX : (uint64_t)v;
}

static const char *key_enum(int key) {
    switch (key) {
    case SSLK_CTX_MAX_ALLOC_BYTES: return "SSLK_CTX_MAX_ALLOC_BYTES";
    case SSLK_CTX_MAX_IMAGE_PIXELS: return "SSLK_CTX_MAX_IMAGE_PIXELS";
    case SSLK_CTX_MAX_FILE_BYTES: return "SSLK_CTX_MAX_FILE_BYTES";
    }
    return "?";
}

sslk_status ssli_check_limit(const sslk_ctx *ctx, int key, uint64_t want, const char *fn,
                             const char *what) {
    uint64_t lim = ssli_limit(ctx, key);
    if (want <= lim) return SSLK_OK;
    int i = ssli_setting_index(&ssli_settings_ctx, key);
    const char *name = i >= 0 ? ctx_defs[i].name : "?";
    const char *unit = key == SSLK_CTX_MAX_IMAGE_PIXELS ? "pixels" : "bytes";
    return ssli_err(SSLK_E_LIMIT,
                    "%s: %s needs %" PRIu64 " %s, above the context limit %s = %" PRIu64
                    " (raise it with sslk_ctx_set_i64(ctx, %s, n), 0 = no limit; Python: "
                    "sslkit.Context(limits={'%s': n}))",
                    fn, what, want, unit, name, lim, key_enum(key), name);
}
