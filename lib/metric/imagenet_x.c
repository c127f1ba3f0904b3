/* ImageNet-X annotations as the toolkit publishes them (JSON lines: file_name,
 * class, the 16 factor columns, justification, one_word, metaclass), joined
 * with a model's predictions by file name; per-factor accuracy and error
 * ratio overall and per metaclass (lib/metric/factors.c does the counting).
 * SPDX-License-Identifier: BSD-3-Clause */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "metric_internal.h"

#define NF SSLK_IMAGENET_X_NUM_FACTORS
#define MAX_META 256
#define MAX_FILE ((size_t)1 << 31) /* 2 GiB of JSON lines (the val file is ~20 MB) */

typedef struct ax_row {
    char *name;
    int32_t cls, meta;
    size_t line;
    uint8_t f[NF];
} ax_row;

struct sslk_imagenet_x {
    sslk_ctx *ctx;
    size_t n, nmeta;
    ax_row *rows; /* sorted by name */
    char *meta[MAX_META];
};

void sslk_imagenet_x_destroy(sslk_imagenet_x *ax) {
    if (!ax) return;
    for (size_t i = 0; i < ax->n; i++) ssli_free(ax->ctx, ax->rows[i].name);
    for (size_t i = 0; i < ax->nmeta; i++) ssli_free(ax->ctx, ax->meta[i]);
    ssli_free(ax->ctx, ax->rows);
    ssli_free(ax->ctx, ax);
}

static int row_cmp(const void *a, const void *b) {
    return strcmp(((const ax_row *)a)->name, ((const ax_row *)b)->name);
}

static char *dup_str(const sslk_ctx *ctx, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = ssli_malloc(ctx, n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

/* One parsed line into r; the message names the path, line and field. */
static sslk_status parse_row(sslk_imagenet_x *ax, json_object *o, const char *path, size_t line, ax_row *r) {
    static const char *fn = "sslk_imagenet_x_load";
    json_object *v;
    if (!json_object_is_type(o, json_type_object))
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu is not a JSON object", fn, path, line);
    if (!json_object_object_get_ex(o, "file_name", &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu has no string 'file_name'", fn, path, line);
    const char *name = json_object_get_string(v);
    if (!json_object_object_get_ex(o, "class", &v) || !json_object_is_type(v, json_type_int) ||
        json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT32_MAX)
        return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu ('%s'): 'class' is not an integer in [0, 2^31)", fn, path,
                        line, name);
    r->cls = (int32_t)json_object_get_int64(v);
    for (size_t f = 0; f < NF; f++) {
        const char *fname = NULL;
        sslk_imagenet_x_factor_name(f, &fname);
        if (!json_object_object_get_ex(o, fname, &v))
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu ('%s'): factor column '%s' is missing", fn, path, line,
                            name, fname);
        int64_t x = -1;
        if (json_object_is_type(v, json_type_boolean)) x = json_object_get_boolean(v);
        else if (json_object_is_type(v, json_type_int)) x = json_object_get_int64(v);
        else if (json_object_is_type(v, json_type_double) && (json_object_get_double(v) == 0.0 ||
                                                              json_object_get_double(v) == 1.0))
            x = (int64_t)json_object_get_double(v);
        if (x != 0 && x != 1)
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu ('%s'): factor '%s' = %s is not 0 or 1", fn, path, line,
                            name, fname, json_object_to_json_string(v));
        r->f[f] = (uint8_t)x;
    }
    const char *meta = "";
    if (json_object_object_get_ex(o, "metaclass", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_string))
            return ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu ('%s'): 'metaclass' is not a string", fn, path, line,
                            name);
        meta = json_object_get_string(v);
    }
    size_t m = 0;
    while (m < ax->nmeta && strcmp(ax->meta[m], meta) != 0) m++;
    if (m == ax->nmeta) {
        if (ax->nmeta == MAX_META)
            return ssli_err(SSLK_E_LIMIT, "%s: '%s' line %zu: more than %d metaclasses", fn, path, line, MAX_META);
        if (!(ax->meta[m] = dup_str(ax->ctx, meta))) return ssli_alloc_status();
        ax->nmeta++;
    }
    r->meta = (int32_t)m;
    r->line = line;
    r->name = dup_str(ax->ctx, name);
    return r->name ? SSLK_OK : ssli_alloc_status();
}

static sslk_status load_lines(sslk_imagenet_x *ax, const uint8_t *buf, size_t len, const char *path, int variant) {
    static const char *fn = "sslk_imagenet_x_load";
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    ax->rows = ssli_calloc(ax->ctx, lines, sizeof *ax->rows);
    if (!ax->rows) return ssli_alloc_status();
    json_tokener *tok = json_tokener_new_ex(8);
    if (!tok) return ssli_err(SSLK_E_NOMEM, "%s: cannot create a JSON parser", fn);
    sslk_status st = SSLK_OK;
    size_t line = 0;
    for (size_t a = 0; a < len && st == SSLK_OK;) {
        size_t b = a;
        while (b < len && buf[b] != '\n') b++;
        line++;
        size_t e = b;
        while (e > a && (buf[e - 1] == '\r' || buf[e - 1] == ' ' || buf[e - 1] == '\t')) e--;
        if (e > a) {
            if (e - a > INT32_MAX) {
                st = ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu is longer than 2 GiB", fn, path, line);
                break;
            }
            json_tokener_reset(tok);
            json_object *o = json_tokener_parse_ex(tok, (const char *)buf + a, (int)(e - a));
            if (!o || json_tokener_get_error(tok) != json_tokener_success)
                st = ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu is not valid JSON (%s)", fn, path, line,
                              json_tokener_error_desc(json_tokener_get_error(tok)));
            else if ((size_t)json_tokener_get_parse_end(tok) != e - a)
                st = ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu has text after the JSON object", fn, path, line);
            else
                st = parse_row(ax, o, path, line, &ax->rows[ax->n]);
            json_object_put(o);
            if (st == SSLK_OK) {
                ax_row *r = &ax->rows[ax->n++];
                int nset = 0;
                for (size_t f = 0; f < NF; f++) nset += r->f[f];
                if (variant == SSLK_IMAGENET_X_TOP && nset > 1)
                    st = ssli_err(SSLK_E_FORMAT, "%s: '%s' line %zu ('%s'): %d factors set in a top-factor file "
                                  "(at most 1)", fn, path, line, r->name, nset);
            }
        }
        a = b + 1;
    }
    json_tokener_free(tok);
    if (st != SSLK_OK) return st;
    if (ax->n == 0) return ssli_err(SSLK_E_FORMAT, "%s: '%s' holds no annotation", fn, path);
    qsort(ax->rows, ax->n, sizeof *ax->rows, row_cmp);
    for (size_t i = 1; i < ax->n; i++)
        if (strcmp(ax->rows[i - 1].name, ax->rows[i].name) == 0) {
            size_t l0 = ax->rows[i - 1].line, l1 = ax->rows[i].line;
            return ssli_err(SSLK_E_FORMAT, "%s: '%s': file_name '%s' appears twice (lines %zu and %zu)", fn, path,
                            ax->rows[i].name, l0 < l1 ? l0 : l1, l0 < l1 ? l1 : l0);
        }
    return SSLK_OK;
}

sslk_status ssli_imagenet_x_parse(sslk_ctx *ctx, const uint8_t *buf, size_t len, const char *path, int variant,
                                  sslk_imagenet_x **out) {
    *out = NULL;
    sslk_imagenet_x *ax = ssli_calloc(ctx, 1, sizeof *ax);
    if (!ax) return ssli_alloc_status();
    ax->ctx = ctx;
    sslk_status st = load_lines(ax, buf, len, path, variant);
    if (st != SSLK_OK) {
        sslk_imagenet_x_destroy(ax);
        return st;
    }
    *out = ax;
    return SSLK_OK;
}

sslk_status sslk_imagenet_x_load(sslk_ctx *ctx, const char *path, int variant, sslk_imagenet_x **out) {
    static const char *fn = "sslk_imagenet_x_load";
    SSLI_CHECK_PTR(path, fn);
    SSLI_CHECK_PTR(out, fn);
    *out = NULL;
    if (variant != SSLK_IMAGENET_X_MULTI && variant != SSLK_IMAGENET_X_TOP)
        return ssli_err(SSLK_E_INVALID_ARG, "%s: 'variant' = %d is not MULTI (0) or TOP (1)", fn, variant);
    uint8_t *buf = NULL;
    size_t len = 0;
    SSLI_TRY(ssli_read_file(ctx, path, MAX_FILE, 0, &buf, &len, fn));
    sslk_status st = ssli_imagenet_x_parse(ctx, buf, len, path, variant, out);
    ssli_free(ctx, buf);
    return st;
}

sslk_status sslk_imagenet_x_count(const sslk_imagenet_x *ax, size_t *n, size_t *num_metaclasses) {
    SSLI_CHECK_PTR(ax, "sslk_imagenet_x_count");
    if (n) *n = ax->n;
    if (num_metaclasses) *num_metaclasses = ax->nmeta;
    return SSLK_OK;
}

sslk_status sslk_imagenet_x_metaclass(const sslk_imagenet_x *ax, size_t i, const char **name) {
    SSLI_CHECK_PTR(ax, "sslk_imagenet_x_metaclass");
    SSLI_CHECK_PTR(name, "sslk_imagenet_x_metaclass");
    if (i >= ax->nmeta)
        return ssli_err(SSLK_E_RANGE, "sslk_imagenet_x_metaclass: 'i' = %zu, the file has %zu metaclasses", i,
                        ax->nmeta);
    *name = ax->meta[i];
    return SSLK_OK;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(base_name(*(const char *const *)a), base_name(*(const char *const *)b));
}

/* Factor statistics of the rows sel[0..m) (NaN / 0 when m = 0). */
static sslk_status stats_of(const sslk_imagenet_x *ax, const size_t *sel, const uint8_t *correct, size_t m,
                            uint8_t *fbuf, double *acc, double *facc, double *ratio, int64_t *cnt) {
    if (m == 0) {
        *acc = NAN;
        for (size_t f = 0; f < NF; f++) {
            if (facc) facc[f] = NAN;
            if (ratio) ratio[f] = NAN;
            if (cnt) cnt[f] = 0;
        }
        return SSLK_OK;
    }
    for (size_t i = 0; i < m; i++) memcpy(fbuf + i * NF, ax->rows[sel[i]].f, NF);
    return sslk_factor_error_ratios(ax->ctx, correct, m, fbuf, NF, acc, facc, ratio, cnt, NULL);
}

sslk_status sslk_imagenet_x_evaluate(const sslk_imagenet_x *ax, const char *const *files, const int32_t *pred,
                                     size_t n, size_t counts[3], double *accuracy, double *factor_acc,
                                     double *error_ratio, int64_t *factor_count, double *meta_acc,
                                     int64_t *meta_count, double *meta_factor_acc, double *meta_error_ratio,
                                     int64_t *meta_factor_count) {
    static const char *fn = "sslk_imagenet_x_evaluate";
    SSLI_CHECK_PTR(ax, fn);
    SSLI_CHECK_PTR(files, fn);
    SSLI_CHECK_PTR(pred, fn);
    if (n == 0) return ssli_err(SSLK_E_SHAPE, "%s: 'n' = 0 predictions", fn);
    for (size_t i = 0; i < n; i++)
        if (!files[i] || !base_name(files[i])[0])
            return ssli_err(SSLK_E_INVALID_ARG, "%s: 'files[%zu]' is NULL or has no file name", fn, i);
    sslk_ctx *ctx = ax->ctx;
    const char **sorted = ssli_malloc(ctx, n, sizeof *sorted);
    size_t *sel = ssli_malloc(ctx, ax->n, sizeof *sel),
           *msel = ssli_malloc(ctx, ax->n, sizeof *msel);
    int32_t *rowpred = ssli_malloc(ctx, ax->n, sizeof *rowpred);
    uint8_t *correct = ssli_malloc(ctx, ax->n, 1), *mcorrect = ssli_malloc(ctx, ax->n, 1),
            *fbuf = ssli_malloc(ctx, ax->n, NF);
    sslk_status st = (sorted && sel && msel && rowpred && correct && mcorrect && fbuf) ? SSLK_OK
                                                                                           : ssli_alloc_status();
    size_t matched = 0, unannotated = 0;
    if (st == SSLK_OK) {
        memcpy(sorted, files, n * sizeof *sorted);
        qsort(sorted, n, sizeof *sorted, str_cmp);
        for (size_t i = 1; i < n && st == SSLK_OK; i++)
            if (strcmp(base_name(sorted[i - 1]), base_name(sorted[i])) == 0)
                st = ssli_err(SSLK_E_INVALID_ARG, "%s: file name '%s' appears twice in the predictions ('%s', '%s')",
                              fn, base_name(sorted[i]), sorted[i - 1], sorted[i]);
    }
    if (st == SSLK_OK) {
        for (size_t i = 0; i < ax->n; i++) rowpred[i] = -1;
        for (size_t i = 0; i < n; i++) {
            const char *key = base_name(files[i]);
            size_t lo = 0, hi = ax->n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(ax->rows[mid].name, key);
                if (c == 0) {
                    lo = mid;
                    break;
                }
                if (c < 0) lo = mid + 1;
                else hi = mid;
            }
            if (lo < ax->n && strcmp(ax->rows[lo].name, key) == 0) {
                if (pred[i] < 0)
                    st = ssli_err(SSLK_E_RANGE, "%s: 'pred[%zu]' = %d for '%s' is negative", fn, i, pred[i], key);
                rowpred[lo] = pred[i];
            } else {
                unannotated++;
            }
        }
    }
    if (st == SSLK_OK) {
        for (size_t r = 0; r < ax->n; r++)
            if (rowpred[r] >= 0) {
                correct[matched] = rowpred[r] == ax->rows[r].cls;
                sel[matched++] = r;
            }
        if (matched == 0)
            st = ssli_err(SSLK_E_INVALID_ARG, "%s: none of the %zu prediction file names is annotated (the join is "
                          "by file name, e.g. ILSVRC2012_val_00000001.JPEG)", fn, n);
    }
    double acc = NAN;
    if (st == SSLK_OK) st = stats_of(ax, sel, correct, matched, fbuf, &acc, factor_acc, error_ratio, factor_count);
    for (size_t m = 0; m < ax->nmeta && st == SSLK_OK; m++) {
        size_t k = 0;
        for (size_t i = 0; i < matched; i++)
            if (ax->rows[sel[i]].meta == (int32_t)m) {
                mcorrect[k] = correct[i];
                msel[k++] = sel[i];
            }
        double ma;
        st = stats_of(ax, msel, mcorrect, k, fbuf, &ma, meta_factor_acc ? meta_factor_acc + m * NF : NULL,
                      meta_error_ratio ? meta_error_ratio + m * NF : NULL,
                      meta_factor_count ? meta_factor_count + m * NF : NULL);
        if (meta_acc) meta_acc[m] = ma;
        if (meta_count) meta_count[m] = (int64_t)k;
    }
    if (st == SSLK_OK) {
        if (accuracy) *accuracy = acc;
        if (counts) {
            counts[0] = matched;
            counts[1] = ax->n - matched;
            counts[2] = unannotated;
        }
    }
    ssli_free(ctx, sorted);
    ssli_free(ctx, sel);
    ssli_free(ctx, msel);
    ssli_free(ctx, rowpred);
    ssli_free(ctx, correct);
    ssli_free(ctx, mcorrect);
    ssli_free(ctx, fbuf);
    return st;
}
