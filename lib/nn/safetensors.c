/* safetensors import / export with PyTorch state_dict names.  The JSON
 * header is built and parsed with json-c; every offset and shape is checked
 * against the data actually present before use.
 * Layout: u64 header length N | N bytes of JSON (space-padded to 8) | data.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "nn/layers.h"

sslk_status ssli_nn_read_file(const sslk_ctx *ctx, const char *path, const char *fn, unsigned char **out,
                           size_t *n);

#define MAX_HEADER ((size_t)100 << 20) /* the reference implementation's limit */

static sslk_status bn_layers(sslk_model *m, ssli_layer ***out, size_t *n) {
    size_t nl = ssli_model_collect_layers(m, NULL, 0);
    ssli_layer **all = ssli_malloc(m->ctx, nl ? nl : 1, sizeof *all);
    if (!all) return ssli_alloc_status();
    ssli_model_collect_layers(m, all, nl);
    size_t k = 0;
    for (size_t i = 0; i < nl; i++)
        if (all[i]->kind == SSLI_LAYER_BATCHNORM) all[k++] = all[i];
    *out = all;
    *n = k;
    return SSLK_OK;
}

static json_object *tensor_entry(const char *dtype, const size_t *shape, int ndim, size_t b, size_t e) {
    json_object *o = json_object_new_object(), *sh = json_object_new_array(), *off = json_object_new_array();
    json_object_object_add(o, "dtype", json_object_new_string(dtype));
    for (int d = 0; d < ndim; d++) json_object_array_add(sh, json_object_new_int64((int64_t)shape[d]));
    json_object_object_add(o, "shape", sh);
    json_object_array_add(off, json_object_new_int64((int64_t)b));
    json_object_array_add(off, json_object_new_int64((int64_t)e));
    json_object_object_add(o, "data_offsets", off);
    return o;
}

sslk_status sslk_model_save_safetensors(const sslk_model *mc, const char *path) {
    static const char fn[] = "sslk_model_save_safetensors";
    SSLI_CHECK_PTR(mc, fn);
    SSLI_CHECK_PTR(path, fn);
    sslk_model *m = (sslk_model *)mc;
    if (m->nopen) return ssli_err(SSLK_E_STATE, "%s: residual block still open", fn);
    const sslk_param_view *v;
    size_t nv = 0, nbn = 0;
    SSLI_TRY(ssli_model_views(m, &v, &nv));
    ssli_layer **bn = NULL;
    SSLI_TRY(bn_layers(m, &bn, &nbn));
    char *spec;
    sslk_status st = ssli_model_spec_alloc(m, &spec);
    if (st) {
        ssli_free(m->ctx, bn);
        return st;
    }
    json_object *root = json_object_new_object(), *meta = json_object_new_object();
    json_object_object_add(meta, "format", json_object_new_string("pt"));
    json_object_object_add(meta, "sslkit_spec", json_object_new_string(spec));
    json_object_object_add(root, "__metadata__", meta);
    size_t off = 0;
    char name[128];
    for (size_t i = 0; i < nv; i++) {
        json_object_object_add(root, v[i].name,
                               tensor_entry("F32", v[i].shape, v[i].ndim, off, off + 4 * v[i].count));
        off += 4 * v[i].count;
    }
    for (size_t i = 0; i < nbn; i++) {
        snprintf(name, sizeof name, "%s.num_batches_tracked", bn[i]->name);
        json_object_object_add(root, name, tensor_entry("I64", NULL, 0, off, off + 8));
        off += 8;
    }
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t jl = strlen(js), padded = (jl + 7) & ~(size_t)7;
    ssli_atomic_file f;
    st = ssli_atomic_open(&f, path, fn);
    if (!st) {
        unsigned char hdr[8];
        for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)((uint64_t)padded >> (8 * i));
        st = ssli_atomic_write(&f, hdr, 8, fn);
        if (!st) st = ssli_atomic_write(&f, js, jl, fn);
        for (size_t i = jl; !st && i < padded; i++) st = ssli_atomic_write(&f, " ", 1, fn);
        for (size_t i = 0; !st && i < nv; i++) st = ssli_atomic_write(&f, v[i].data, 4 * v[i].count, fn);
        for (size_t i = 0; !st && i < nbn; i++) {
            unsigned char b[8];
            for (int k = 0; k < 8; k++) b[k] = (unsigned char)((uint64_t)bn[i]->num_batches_tracked >> (8 * k));
            st = ssli_atomic_write(&f, b, 8, fn);
        }
        if (st)
            ssli_atomic_abort(&f);
        else
            st = ssli_atomic_commit(&f, fn);
    }
    json_object_put(root);
    ssli_free(m->ctx, spec);
    ssli_free(m->ctx, bn);
    return st;
}

/* ---- loading ---------------------------------------------------------------- */

typedef struct entry {
    const char *name; /* the header's key (valid while the JSON lives) */
    const char *dtype;
    size_t shape[8];
    int ndim;
    size_t numel, b, e;
} entry;

#define FAIL(code, ...)                       \
    do {                                      \
        st = ssli_err(code, __VA_ARGS__);     \
        goto done;                            \
    } while (0)

/* Parse and check one header value; data_len bounds the offsets. */
static sslk_status parse_entry(const char *name, json_object *val, size_t data_len, entry *e,
                               const char *fn, const char *path) {
    json_object *dt, *sh, *off;
    if (!json_object_is_type(val, json_type_object) || !json_object_object_get_ex(val, "dtype", &dt) ||
        !json_object_object_get_ex(val, "shape", &sh) || !json_object_object_get_ex(val, "data_offsets", &off) ||
        !json_object_is_type(dt, json_type_string) || !json_object_is_type(sh, json_type_array) ||
        !json_object_is_type(off, json_type_array) || json_object_array_length(off) != 2)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': entry '%s' lacks dtype, shape or data_offsets", fn, path, name);
    e->dtype = json_object_get_string(dt);
    size_t nd = json_object_array_length(sh);
    if (nd > 8) return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' has %zu dims", fn, path, name, nd);
    e->ndim = (int)nd;
    e->numel = 1;
    for (size_t d = 0; d < nd; d++) {
        json_object *x = json_object_array_get_idx(sh, d);
        int64_t s = json_object_get_int64(x);
        if (!json_object_is_type(x, json_type_int) || s < 0 || s > ((int64_t)1 << 40) ||
            ssli_mul_overflow(e->numel, (size_t)s, &e->numel))
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' has an invalid shape", fn, path, name);
        e->shape[d] = (size_t)s;
    }
    int64_t o[2];
    for (int k = 0; k < 2; k++) {
        json_object *x = json_object_array_get_idx(off, (size_t)k);
        o[k] = json_object_get_int64(x);
        if (!json_object_is_type(x, json_type_int) || o[k] < 0)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' has invalid data_offsets", fn, path, name);
    }
    e->b = (size_t)o[0], e->e = (size_t)o[1];
    if (e->b > e->e || e->e > data_len)
        return ssli_err(SSLK_E_FORMAT,
                        "%s: '%s': tensor '%s' data_offsets [%zu, %zu] exceed the %zu data bytes", fn,
                        path, name, e->b, e->e, data_len);
    size_t es = !strcmp(e->dtype, "F32") ? 4 : (!strcmp(e->dtype, "F64") || !strcmp(e->dtype, "I64")) ? 8 : 0;
    size_t need;
    if (es && (ssli_mul_overflow(e->numel, es, &need) || need != e->e - e->b))
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' spans %zu bytes, its shape needs %zu x %zu",
                        fn, path, name, e->e - e->b, e->numel, es);
    return SSLK_OK;
}

/* Offset of the first NUL in the header: a raw 0 byte, or a \u0000 escape
 * inside a string.  json-c hands keys and strings out as C strings, so
 * "0.weight\u0000x" would be read as "0.weight" and the dtype "F32\u0000" as
 * "F32": refuse them rather than guess.  SIZE_MAX when there is none. */
static size_t find_nul(const unsigned char *h, size_t n) {
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == 0) return i;
        if (!in_str) {
            in_str = h[i] == '"';
        } else if (h[i] == '"') {
            in_str = false;
        } else if (h[i] == '\\') {
            if (i + 5 < n && h[i + 1] == 'u' && !memcmp(h + i + 2, "0000", 4)) return i;
            i++; /* skip the escaped character: after an escaped backslash, "u0000" is text */
        }
    }
    return SIZE_MAX;
}

static int by_offset(const void *a, const void *b) {
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->b != y->b) return x->b < y->b ? -1 : 1;
    return x->e < y->e ? -1 : x->e > y->e;
}

/* The tensors' byte ranges must tile the data exactly, as the reference
 * reader requires: sorted by offset, each starts where the previous ended,
 * the first at 0, the last at the end.  Overlaps would alias two tensors,
 * gaps and trailing bytes hide data nobody reads. */
static sslk_status check_layout(entry **e, size_t n, size_t data_len, const char *fn, const char *path) {
    qsort(e, n, sizeof *e, by_offset);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i]->b < at)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensors '%s' and '%s' overlap (bytes [%zu, %zu) and [%zu, %zu))",
                            fn, path, e[i - 1]->name, e[i]->name, e[i - 1]->b, e[i - 1]->e, e[i]->b, e[i]->e);
        if (e[i]->b > at)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': a gap of %zu data bytes before tensor '%s' (at %zu)", fn,
                            path, e[i]->b - at, e[i]->name, at);
        at = e[i]->e;
    }
    if (at != data_len)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': %zu trailing data bytes after the last tensor (at %zu)", fn,
                        path, data_len - at, at);
    return SSLK_OK;
}

static double read_elem(const unsigned char *p, const char *dtype, size_t i) {
    if (dtype[1] == '3') {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    double d;
    memcpy(&d, p + 8 * i, 8);
    return d;
}

sslk_status sslk_model_load_safetensors(sslk_model *m, const char *path) {
    static const char fn[] = "sslk_model_load_safetensors";
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(path, fn);
    unsigned char *buf;
    size_t sz;
    SSLI_TRY(ssli_nn_read_file(m->ctx, path, fn, &buf, &sz));
    sslk_status st = ssli_model_load_safetensors_buffer(m, buf, sz, path, fn);
    ssli_free(m->ctx, buf);
    return st;
}

sslk_status ssli_model_load_safetensors_buffer(sslk_model *m, const unsigned char *buf, size_t sz,
                                               const char *path, const char *fn) {
    const sslk_param_view *v;
    size_t nv = 0, nbn = 0;
    SSLI_TRY(ssli_model_views(m, &v, &nv));
    sslk_status st = SSLK_OK;
    ssli_layer **bn = NULL;
    json_tokener *tok = NULL;
    json_object *root = NULL;
    entry *ent = NULL; /* per view, then per bn layer */
    const unsigned char *data = NULL;
    bool *seen = NULL;
    entry **order = NULL; /* seen entries sorted by offset */
    size_t hl = 0;
    if (sz < 8) FAIL(SSLK_E_FORMAT, "%s: '%s' is truncated (%zu bytes)", fn, path, sz);
    for (int i = 0; i < 8; i++) hl |= (size_t)buf[i] << (8 * i);
    if (hl > MAX_HEADER || hl > sz - 8 || hl < 2)
        FAIL(SSLK_E_FORMAT, "%s: '%s': header length %zu is invalid for a %zu-byte file", fn, path, hl, sz);
    data = buf + 8 + hl;
    const size_t data_len = sz - 8 - hl;
    size_t nul = find_nul(buf + 8, hl);
    if (nul != SIZE_MAX)
        FAIL(SSLK_E_FORMAT, "%s: '%s': the header holds a NUL character (byte %zu, in a key or string)", fn,
             path, 8 + nul);
    tok = json_tokener_new_ex(16);
    if (!tok) FAIL(SSLK_E_NOMEM, "%s: json tokener allocation failed", fn);
    root = json_tokener_parse_ex(tok, (const char *)buf + 8, (int)hl);
    if (!root || json_tokener_get_error(tok) != json_tokener_success)
        FAIL(SSLK_E_FORMAT, "%s: '%s': header is not valid JSON (%s)", fn, path,
             json_tokener_error_desc(json_tokener_get_error(tok)));
    for (size_t i = json_tokener_get_parse_end(tok); i < hl; i++)
        if (buf[8 + i] != ' ' && buf[8 + i] != '\n' && buf[8 + i] != '\t' && buf[8 + i] != '\r')
            FAIL(SSLK_E_FORMAT, "%s: '%s': junk after the JSON header at byte %zu", fn, path, 8 + i);
    if (!json_object_is_type(root, json_type_object))
        FAIL(SSLK_E_FORMAT, "%s: '%s': header is not a JSON object", fn, path);
    if ((st = bn_layers(m, &bn, &nbn))) goto done;
    ent = ssli_calloc(m->ctx, nv + nbn + 1, sizeof *ent);
    seen = ssli_calloc(m->ctx, nv + nbn + 1, sizeof *seen);
    order = ssli_calloc(m->ctx, nv + nbn + 1, sizeof *order);
    if (!ent || !seen || !order) {
        st = ssli_alloc_status();
        goto done;
    }
    char name[128];
    struct json_object_iterator it = json_object_iter_begin(root), end = json_object_iter_end(root);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        json_object *val = json_object_iter_peek_value(&it);
        if (!strcmp(key, "__metadata__")) continue;
        size_t slot = SIZE_MAX;
        for (size_t i = 0; i < nv && slot == SIZE_MAX; i++)
            if (!strcmp(v[i].name, key)) slot = i;
        for (size_t i = 0; i < nbn && slot == SIZE_MAX; i++) {
            snprintf(name, sizeof name, "%s.num_batches_tracked", bn[i]->name);
            if (!strcmp(name, key)) slot = nv + i;
        }
        if (slot == SIZE_MAX)
            FAIL(SSLK_E_NOT_FOUND, "%s: '%s' holds tensor '%s', which the model (spec) does not have", fn,
                 path, key);
        entry *e = &ent[slot];
        if ((st = parse_entry(key, val, data_len, e, fn, path))) goto done;
        e->name = key;
        seen[slot] = true;
        if (slot >= nv) {
            if (strcmp(e->dtype, "I64") || e->numel != 1)
                FAIL(SSLK_E_DTYPE, "%s: '%s': '%s' must be one I64, got %s with %zu values", fn, path, key,
                     e->dtype, e->numel);
            continue;
        }
        if (strcmp(e->dtype, "F32") && strcmp(e->dtype, "F64"))
            FAIL(SSLK_E_DTYPE, "%s: '%s': tensor '%s' has dtype %s (F32 or F64 accepted)", fn, path, key, e->dtype);
        bool same = e->ndim == v[slot].ndim;
        for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == v[slot].shape[d];
        if (!same)
            FAIL(SSLK_E_SHAPE, "%s: '%s': tensor '%s' has %d dims (%zu, ...), the model's has %d (%zu, ...)",
                 fn, path, key, e->ndim, e->ndim ? e->shape[0] : 0, v[slot].ndim, v[slot].shape[0]);
        for (size_t i = 0; i < e->numel; i++) {
            double x = read_elem(data + e->b, e->dtype, i);
            if (!isfinite(x) || fabs(x) > 3.4e38)
                FAIL(SSLK_E_NONFINITE, "%s: '%s': tensor '%s' holds %g at %zu", fn, path, key, x, i);
            if (strstr(key, "running_var") && x < 0)
                FAIL(SSLK_E_FORMAT, "%s: '%s': '%s' holds a negative variance", fn, path, key);
        }
    }
    for (size_t i = 0; i < nv; i++)
        if (!seen[i]) FAIL(SSLK_E_NOT_FOUND, "%s: '%s' lacks tensor '%s'", fn, path, v[i].name);
    {
        size_t k = 0;
        for (size_t i = 0; i < nv + nbn; i++)
            if (seen[i]) order[k++] = &ent[i];
        if ((st = check_layout(order, k, data_len, fn, path))) goto done;
    }
    /* all checked: commit */
    for (size_t i = 0; i < nv; i++)
        for (size_t k = 0; k < v[i].count; k++) v[i].data[k] = (float)read_elem(data + ent[i].b, ent[i].dtype, k);
    for (size_t i = 0; i < nbn; i++)
        if (seen[nv + i]) {
            int64_t c;
            memcpy(&c, data + ent[nv + i].b, 8);
            bn[i]->num_batches_tracked = c;
        }
    m->last_rows = 0;
done:
    if (root) json_object_put(root);
    if (tok) json_tokener_free(tok);
    ssli_free(m->ctx, bn);
    ssli_free(m->ctx, ent);
    ssli_free(m->ctx, seen);
    ssli_free(m->ctx, order);
    return st;
}
