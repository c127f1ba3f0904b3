/* The load report of sslk_model_load_safetensors_ex (four name lists) and
 * the safetensors options struct.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "nn/st_internal.h"

#define NLISTS 4

struct sslk_load_report {
    sslk_ctx *ctx;
    char *text[NLISTS];   /* the names, NUL-separated */
    char **names[NLISTS]; /* pointers into text */
    size_t n[NLISTS];
};

/* The struct's size when it was introduced (1.2): the smallest struct_size accepted. */
#define SSLI_V12_SAFETENSORS_OPTIONS (offsetof(sslk_safetensors_options, prefix) + sizeof(const char *))

sslk_status sslk_load_report_create(sslk_ctx *ctx, sslk_load_report **out) {
    static const char fn[] = "sslk_load_report_create";
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    SSLI_CHECK_PTR(ctx, fn);
    sslk_load_report *r = ssli_calloc(ctx, 1, sizeof *r);
    if (!r) return ssli_alloc_status();
    r->ctx = ctx;
    *out = r;
    return SSLK_OK;
}

void ssli_load_report_clear(sslk_load_report *r) {
    for (int k = 0; k < NLISTS; k++) {
        ssli_free(r->ctx, r->text[k]);
        ssli_free(r->ctx, r->names[k]);
        r->text[k] = NULL;
        r->names[k] = NULL;
        r->n[k] = 0;
    }
}

void sslk_load_report_destroy(sslk_load_report *r) {
    if (!r) return;
    ssli_load_report_clear(r);
    ssli_free(r->ctx, r);
}

sslk_status ssli_load_report_set(sslk_load_report *r, int list, const char *const *names, size_t n) {
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) bytes += strlen(names[i]) + 1;
    char *text = ssli_malloc(r->ctx, bytes ? bytes : 1, 1);
    char **ptr = ssli_malloc(r->ctx, n ? n : 1, sizeof *ptr);
    if (!text || !ptr) {
        ssli_free(r->ctx, text);
        ssli_free(r->ctx, ptr);
        return ssli_alloc_status();
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]) + 1;
        memcpy(text + at, names[i], l);
        ptr[i] = text + at;
        at += l;
    }
    ssli_free(r->ctx, r->text[list]);
    ssli_free(r->ctx, r->names[list]);
    r->text[list] = text;
    r->names[list] = ptr;
    r->n[list] = n;
    return SSLK_OK;
}

static sslk_status check_list(const sslk_load_report *r, int list, const char *fn) {
    if (!r) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument 'r' is NULL", fn);
    if (list < 0 || list >= NLISTS)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: list %d is not an sslk_load_list (0..3)", fn, list);
    return SSLK_OK;
}

sslk_status sslk_load_report_count(const sslk_load_report *r, int list, size_t *n) {
    static const char fn[] = "sslk_load_report_count";
    SSLI_CHECK_PTR(n, fn);
    SSLI_TRY(check_list(r, list, fn));
    *n = r->n[list];
    return SSLK_OK;
}

sslk_status sslk_load_report_name(const sslk_load_report *r, int list, size_t i, const char **name) {
    static const char fn[] = "sslk_load_report_name";
    SSLI_CHECK_PTR(name, fn);
    *name = NULL;
    SSLI_TRY(check_list(r, list, fn));
    if (i >= r->n[list])
        return ssli_err(SSLK_E_RANGE, "%s: index %zu, list %d holds %zu names", fn, i, list, r->n[list]);
    *name = r->names[list][i];
    return SSLK_OK;
}

sslk_status sslk_safetensors_options_init(sslk_safetensors_options *opt) {
    SSLI_CHECK_PTR(opt, "sslk_safetensors_options_init");
    memset(opt, 0, sizeof *opt);
    opt->struct_size = sizeof *opt;
    return SSLK_OK;
}

sslk_status ssli_st_options_in(const sslk_safetensors_options *opt, sslk_safetensors_options *out,
                               const char *fn) {
    sslk_safetensors_options_init(out);
    if (!opt) return SSLK_OK;
    SSLI_TRY(ssli_struct_in(out, sizeof *out, opt, SSLI_V12_SAFETENSORS_OPTIONS, fn, "opt"));
    const unsigned known = SSLK_SAFETENSORS_NON_STRICT | SSLK_SAFETENSORS_SKIP_MISMATCHED;
    if (out->flags & ~known)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'opt->flags' = %#x holds unknown bits (known: %#x)", fn,
                        out->flags, known);
    if ((out->flags & SSLK_SAFETENSORS_SKIP_MISMATCHED) && !(out->flags & SSLK_SAFETENSORS_NON_STRICT))
        return ssli_err(SSLK_E_INVALID_ARG, "%s: SSLK_SAFETENSORS_SKIP_MISMATCHED needs SSLK_SAFETENSORS_NON_STRICT",
                        fn);
    if (out->prefix && strlen(out->prefix) > 256)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'opt->prefix' is %zu bytes long (at most 256)", fn,
                        strlen(out->prefix));
    if (out->prefix && !out->prefix[0]) out->prefix = NULL;
    return SSLK_OK;
}
