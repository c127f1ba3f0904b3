/* safetensors loading by name (PyTorch state_dict names), strict or not,
 * with a prefix to strip.  Every header entry is parsed and checked, then
 * matched to the model's tensors, then the data layout and values are
 * checked; only then is the model written (all or nothing).
 * Layout: u64 header length N | N bytes of JSON (space-padded) | data.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "nn/layers.h"
#include "nn/st_internal.h"

sslk_status ssli_nn_read_file(const sslk_ctx *ctx, const char *path, const char *fn, unsigned char **out,
                              size_t *n);

#define MAX_HEADER ((size_t)100 << 20) /* the reference implementation's limit */
#define LIST_CHARS 300                 /* of the error message per name list (it holds 1024) */

typedef struct entry {
    const char *key;  /* the header's key (valid while the JSON lives) */
    const char *name; /* key after the prefix; NULL when the key lacks it */
    const char *dtype;
    ssli_st_dtype t;
    size_t shape[8];
    int ndim;
    size_t numel, b, e;
    bool matched;
} entry;

#define FAIL(code, ...)                   \
    do {                                  \
        st = ssli_err(code, __VA_ARGS__); \
        goto done;                        \
    } while (0)

/* Parse and check one header value; data_len bounds the offsets. */
static sslk_status parse_entry(const char *name, json_object *val, size_t data_len, entry *e, const char *fn,
                               const char *path) {
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
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' data_offsets [%zu, %zu] exceed the %zu data bytes",
                        fn, path, name, e->b, e->e, data_len);
    size_t es, need;
    e->t = ssli_st_dtype_find(e->dtype, &es);
    if (e->t == SSLI_ST_UNKNOWN)
        return ssli_err(SSLK_E_DTYPE, "%s: '%s': tensor '%s' has dtype '%.32s', not a safetensors dtype", fn,
                        path, name, e->dtype);
    if (ssli_mul_overflow(e->numel, es, &need) || need != e->e - e->b)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensor '%s' spans %zu bytes, its shape needs %zu x %zu", fn,
                        path, name, e->e - e->b, e->numel, es);
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

static int by_name(const void *a, const void *b) {
    return strcmp((*(const entry *const *)a)->name, (*(const entry *const *)b)->name);
}

/* The tensors' byte ranges must tile the data exactly, as the reference
 * reader requires: sorted by offset, each starts where the previous ended,
 * the first at 0, the last at the end.  Overlaps would alias two tensors,
 * gaps and trailing bytes hide data nobody reads.  Every entry counts,
 * also the ones this load skips. */
static sslk_status check_layout(entry **e, size_t n, size_t data_len, const char *fn, const char *path) {
    qsort(e, n, sizeof *e, by_offset);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i]->b < at)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': tensors '%s' and '%s' overlap (bytes [%zu, %zu) and [%zu, %zu))",
                            fn, path, e[i - 1]->key, e[i]->key, e[i - 1]->b, e[i - 1]->e, e[i]->b, e[i]->e);
        if (e[i]->b > at)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': a gap of %zu data bytes before tensor '%s' (at %zu)", fn,
                            path, e[i]->b - at, e[i]->key, at);
        at = e[i]->e;
    }
    if (at != data_len)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s': %zu trailing data bytes after the last tensor (at %zu)", fn,
                        path, data_len - at, at);
    return SSLK_OK;
}

/* Append "'a', 'b', ... (N more)" for names[0..n) to out (at most LIST_CHARS). */
static void list_names(char *out, size_t cap, const char *const *names, size_t n) {
    size_t at = strlen(out), start = at;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        if (at - start + l + 24 > LIST_CHARS || at + l + 24 >= cap) {
            snprintf(out + at, cap - at, " ... (%zu more)", n - i);
            return;
        }
        at += (size_t)snprintf(out + at, cap - at, "%s'%s'", i ? ", " : "", names[i]);
    }
}

static void shape_str(char *out, size_t cap, const size_t *s, int nd) {
    size_t at = 0;
    out[0] = 0;
    if (nd == 0) snprintf(out, cap, "scalar");
    for (int d = 0; d < nd && at < cap; d++) at += (size_t)snprintf(out + at, cap - at, "%s%zu", d ? " x " : "", s[d]);
}

/* The message naming every missing, unexpected and mis-shaped tensor (lists
 * truncated with a count); the first mis-shaped one with both shapes. */
static sslk_status mismatch_error(sslk_status code, const char *fn, const char *path, const char *what,
                                  const char *const *lists[3], const size_t n[3], const entry *bad_e,
                                  const sslk_param_view *bad_v) {
    static const char *label[3] = {"missing", "unexpected", "mis-shaped"};
    char msg[1000] = "";
    for (int k = 0; k < 3; k++) {
        if (!n[k]) continue;
        size_t at = strlen(msg);
        snprintf(msg + at, sizeof msg - at, "%s%zu %s: ", at ? "; " : "", n[k], label[k]);
        list_names(msg, sizeof msg, lists[k], n[k]);
    }
    char fs[96] = "", ms[96] = "";
    if (bad_e && bad_v) {
        shape_str(fs, sizeof fs, bad_e->shape, bad_e->ndim);
        shape_str(ms, sizeof ms, bad_v->shape, bad_v->ndim);
    }
    if (!bad_v) return ssli_err(code, "%s: '%s' does not match the model%s: %s", fn, path, what, msg);
    return ssli_err(code, "%s: '%s' does not match the model%s: %s ('%s' is %s in the file, %s in the model)", fn,
                    path, what, msg, bad_v->name, fs, ms);
}

sslk_status ssli_st_load_buffer(sslk_model *m, const unsigned char *buf, size_t sz, const char *path,
                                const char *fn, const sslk_safetensors_options *opt, sslk_load_report *rep,
                                bool legacy) {
    sslk_safetensors_options o;
    SSLI_TRY(ssli_st_options_in(opt, &o, fn));
    const bool strict = !(o.flags & SSLK_SAFETENSORS_NON_STRICT);
    const size_t plen = o.prefix ? strlen(o.prefix) : 0;
    if (rep) ssli_load_report_clear(rep);
    const sslk_param_view *v;
    size_t nv = 0, nbn = 0;
    SSLI_TRY(ssli_model_views(m, &v, &nv));
    sslk_status st = SSLK_OK;
    ssli_layer **bn = NULL;
    json_tokener *tok = NULL;
    json_object *root = NULL;
    entry *ent = NULL, **byname = NULL, **slot = NULL; /* slot: per view, then per bn layer */
    const char **lists = NULL;                          /* names of the four lists, packed */
    char *nbt = NULL;                                   /* "<bn name>.num_batches_tracked" per bn layer */
    size_t hl = 0, ne = 0, nnamed = 0;
    if (sz < 8) FAIL(SSLK_E_FORMAT, "%s: '%s' is truncated (%zu bytes)", fn, path, sz);
    for (int i = 0; i < 8; i++) hl |= (size_t)buf[i] << (8 * i);
    if (hl > MAX_HEADER || hl > sz - 8 || hl < 2)
        FAIL(SSLK_E_FORMAT, "%s: '%s': header length %zu is invalid for a %zu-byte file", fn, path, hl, sz);
    const unsigned char *data = buf + 8 + hl;
    const size_t data_len = sz - 8 - hl;
    size_t nul = find_nul(buf + 8, hl);
    if (nul != SIZE_MAX)
        FAIL(SSLK_E_FORMAT, "%s: '%s': the header holds a NUL character (byte %zu, in a key or string)", fn, path,
             8 + nul);
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
    if ((st = ssli_st_bn_layers(m, &bn, &nbn))) goto done;
    const size_t nkeys = (size_t)json_object_object_length(root), nslots = nv + nbn;
    ent = ssli_calloc(m->ctx, nkeys + 1, sizeof *ent);
    byname = ssli_calloc(m->ctx, nkeys + 1, sizeof *byname);
    slot = ssli_calloc(m->ctx, nslots + 1, sizeof *slot);
    lists = ssli_calloc(m->ctx, 2 * nslots + nkeys + 1, sizeof *lists);
    nbt = ssli_calloc(m->ctx, nbn + 1, 96);
    if (!ent || !byname || !slot || !lists || !nbt) {
        st = ssli_alloc_status();
        goto done;
    }
    /* 1. parse every entry (file order) */
    struct json_object_iterator it = json_object_iter_begin(root), end = json_object_iter_end(root);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        if (!strcmp(key, "__metadata__")) continue;
        entry *e = &ent[ne++];
        e->key = key;
        if ((st = parse_entry(key, json_object_iter_peek_value(&it), data_len, e, fn, path))) goto done;
        if (!plen || !strncmp(key, o.prefix, plen)) {
            e->name = key + plen;
            byname[nnamed++] = e;
        }
    }
    qsort(byname, nnamed, sizeof *byname, by_name);
    /* 2. match the model's tensors by name */
    const char **loaded = lists, **missing = lists + nslots, **mism = lists + 2 * nslots, **unexp;
    size_t nload = 0, nmiss = 0, nmism = 0, nunexp = 0;
    const entry *bad_e = NULL;
    const sslk_param_view *bad_v = NULL;
    for (size_t i = 0; i < nslots; i++) {
        const char *want = i < nv ? v[i].name : nbt + 96 * (i - nv);
        if (i >= nv) snprintf(nbt + 96 * (i - nv), 96, "%s.num_batches_tracked", bn[i - nv]->name);
        entry key = {.name = want}, *kp = &key;
        entry **hit = nnamed ? bsearch(&kp, byname, nnamed, sizeof *byname, by_name) : NULL;
        if (!hit) {
            if (i < nv) missing[nmiss++] = want;
            continue;
        }
        entry *e = *hit;
        e->matched = true;
        if (i >= nv) {
            if (e->t != SSLI_ST_I64 || e->numel != 1)
                FAIL(SSLK_E_DTYPE, "%s: '%s': '%s' must be one I64, got %s with %zu values", fn, path, e->key,
                     e->dtype, e->numel);
            slot[i] = e;
            continue;
        }
        bool floating = e->t == SSLI_ST_F32 || e->t == SSLI_ST_F64 ||
                        (!legacy && (e->t == SSLI_ST_F16 || e->t == SSLI_ST_BF16));
        if (!floating)
            FAIL(SSLK_E_DTYPE, "%s: '%s': tensor '%s' has dtype %s (%s accepted)", fn, path, e->key, e->dtype,
                 legacy ? "F32 or F64" : "F32, F64, F16 or BF16");
        bool same = e->ndim == v[i].ndim;
        for (int d = 0; same && d < e->ndim; d++) same = e->shape[d] == v[i].shape[d];
        if (!same) {
            if (!bad_v) bad_e = e, bad_v = &v[i];
            mism[nmism++] = v[i].name;
            continue;
        }
        slot[i] = e;
        loaded[nload++] = v[i].name;
    }
    unexp = mism + nmism;
    for (size_t i = 0; i < ne; i++)
        if (!ent[i].matched) unexp[nunexp++] = ent[i].key;
    if (rep) {
        const char *const *src[4] = {loaded, missing, unexp, mism};
        size_t cnt[4] = {nload, nmiss, nunexp, nmism};
        for (int k = 0; k < 4; k++)
            if ((st = ssli_load_report_set(rep, k, src[k], cnt[k]))) goto done;
    }
    {
        const char *const *l3[3] = {missing, unexp, mism};
        if (strict && (nmiss || nunexp || nmism)) {
            size_t n3[3] = {nmiss, nunexp, nmism};
            st = mismatch_error(nmiss || nunexp ? SSLK_E_NOT_FOUND : SSLK_E_SHAPE, fn, path,
                                plen ? " (strict, after the prefix)" : " (strict)", l3, n3, bad_e, bad_v);
            goto done;
        }
        if (nmism && !(o.flags & SSLK_SAFETENSORS_SKIP_MISMATCHED)) {
            size_t n3[3] = {0, 0, nmism};
            st = mismatch_error(SSLK_E_SHAPE, fn, path, " (non-strict; skip mis-shaped tensors to load the rest)",
                                l3, n3, bad_e, bad_v);
            goto done;
        }
    }
    /* 3. the data layout (every entry), then the values loaded */
    {
        entry **order = byname; /* reused: every entry, sorted by offset */
        for (size_t i = 0; i < ne; i++) order[i] = &ent[i];
        if ((st = check_layout(order, ne, data_len, fn, path))) goto done;
    }
    for (size_t i = 0; i < nv; i++) {
        const entry *e = slot[i];
        if (!e) continue;
        for (size_t k = 0; k < e->numel; k++) {
            float x = ssli_st_to_f32(data + e->b, e->t, k);
            if (!isfinite(x))
                FAIL(SSLK_E_NONFINITE, "%s: '%s': tensor '%s' holds %g at %zu%s", fn, path, e->key, (double)x, k,
                     e->t == SSLI_ST_F64 ? " (as float32)" : "");
            if (strstr(e->key, "running_var") && x < 0)
                FAIL(SSLK_E_FORMAT, "%s: '%s': '%s' holds a negative variance", fn, path, e->key);
        }
    }
    /* all checked: commit */
    for (size_t i = 0; i < nv; i++)
        if (slot[i])
            for (size_t k = 0; k < v[i].count; k++) v[i].data[k] = ssli_st_to_f32(data + slot[i]->b, slot[i]->t, k);
    for (size_t i = 0; i < nbn; i++)
        if (slot[nv + i]) {
            int64_t c;
            memcpy(&c, data + slot[nv + i]->b, 8);
            bn[i]->num_batches_tracked = c;
        }
    m->last_rows = 0;
done:
    if (st && rep && st != SSLK_E_NOT_FOUND && st != SSLK_E_SHAPE)
        ssli_load_report_clear(rep); /* refused for what the file is, not for how it matches: no lists */
    if (root) json_object_put(root);
    if (tok) json_tokener_free(tok);
    ssli_free(m->ctx, bn);
    ssli_free(m->ctx, ent);
    ssli_free(m->ctx, byname);
    ssli_free(m->ctx, slot);
    ssli_free(m->ctx, lists);
    ssli_free(m->ctx, nbt);
    return st;
}

sslk_status ssli_model_load_safetensors_buffer(sslk_model *m, const unsigned char *buf, size_t sz,
                                               const char *path, const char *fn) {
    return ssli_st_load_buffer(m, buf, sz, path, fn, NULL, NULL, true);
}

static sslk_status load_file(sslk_model *m, const char *path, const sslk_safetensors_options *opt,
                             sslk_load_report *rep, bool legacy, const char *fn) {
    SSLI_CHECK_PTR(m, fn);
    SSLI_CHECK_PTR(path, fn);
    unsigned char *buf;
    size_t sz;
    SSLI_TRY(ssli_nn_read_file(m->ctx, path, fn, &buf, &sz));
    sslk_status st = ssli_st_load_buffer(m, buf, sz, path, fn, opt, rep, legacy);
    ssli_free(m->ctx, buf);
    return st;
}

sslk_status sslk_model_load_safetensors(sslk_model *m, const char *path) {
    return load_file(m, path, NULL, NULL, true, "sslk_model_load_safetensors");
}

sslk_status sslk_model_load_safetensors_ex(sslk_model *m, const char *path, const sslk_safetensors_options *opt,
                                           sslk_load_report *rep) {
    return load_file(m, path, opt, rep, false, "sslk_model_load_safetensors_ex");
}
