/* safetensors export with PyTorch state_dict names (loading: st_load.c).
 * The JSON header is built with json-c.
 * Layout: u64 header length N | N bytes of JSON (space-padded to 8) | data.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "nn/layers.h"
#include "nn/st_internal.h"

sslk_status ssli_st_bn_layers(sslk_model *m, ssli_layer ***out, size_t *n) {
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

static sslk_status save(const sslk_model *mc, const char *path, const char *prefix, const char *fn) {
    SSLI_CHECK_PTR(mc, fn);
    SSLI_CHECK_PTR(path, fn);
    if (!prefix) prefix = "";
    sslk_model *m = (sslk_model *)mc;
    if (m->nopen) return ssli_err(SSLK_E_STATE, "%s: residual block still open", fn);
    const sslk_param_view *v;
    size_t nv = 0, nbn = 0;
    SSLI_TRY(ssli_model_views(m, &v, &nv));
    ssli_layer **bn = NULL;
    SSLI_TRY(ssli_st_bn_layers(m, &bn, &nbn));
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
    char name[512]; /* prefix (<= 256) + a layer name (< 80) + a suffix */
    for (size_t i = 0; i < nv; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, v[i].name);
        json_object_object_add(root, name,
                               tensor_entry("F32", v[i].shape, v[i].ndim, off, off + 4 * v[i].count));
        off += 4 * v[i].count;
    }
    for (size_t i = 0; i < nbn; i++) {
        snprintf(name, sizeof name, "%s%s.num_batches_tracked", prefix, bn[i]->name);
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


sslk_status sslk_model_save_safetensors(const sslk_model *m, const char *path) {
    return save(m, path, NULL, "sslk_model_save_safetensors");
}

sslk_status sslk_model_save_safetensors_ex(const sslk_model *m, const char *path,
                                           const sslk_safetensors_options *opt) {
    static const char fn[] = "sslk_model_save_safetensors_ex";
    sslk_safetensors_options o;
    SSLI_TRY(ssli_st_options_in(opt, &o, fn));
    if (o.flags)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'opt->flags' = %#x, saving takes none", fn, o.flags);
    return save(m, path, o.prefix, fn);
}

