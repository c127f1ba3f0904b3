/* Enum-keyed typed settings with bounds, and their introspection.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#include <string.h>

static const ssli_setting_def *find_def(int key, const ssli_setting_table **tab) {
    for (size_t t = 0; ssli_setting_tables[t]; t++) {
        const ssli_setting_table *T = ssli_setting_tables[t];
        for (size_t i = 0; i < T->count; i++)
            if (T->defs[i].key == key) {
                if (tab) *tab = T;
                return &T->defs[i];
            }
    }
    return NULL;
}

sslk_status sslk_setting_info(int key, const char **name, const char **domain,
                              sslk_setting_type *type, double *lo, double *hi, double *def) {
    const ssli_setting_table *T = NULL;
    const ssli_setting_def *d = find_def(key, &T);
    if (!d) return ssli_err(SSLK_E_SETTING, "sslk_setting_info: unknown setting key %d", key);
    if (name) *name = d->name;
    if (domain) *domain = T->domain;
    if (type) *type = d->type;
    if (lo) *lo = d->lo;
    if (hi) *hi = d->hi;
    if (def) *def = d->def;
    return SSLK_OK;
}

const char *sslk_setting_doc(int key) {
    const ssli_setting_def *d = find_def(key, NULL);
    return d && d->doc ? d->doc : "";
}

sslk_status sslk_setting_find(const char *domain, const char *name, int *key) {
    SSLI_CHECK_PTR(domain, "sslk_setting_find");
    SSLI_CHECK_PTR(name, "sslk_setting_find");
    SSLI_CHECK_PTR(key, "sslk_setting_find");
    for (size_t t = 0; ssli_setting_tables[t]; t++) {
        const ssli_setting_table *T = ssli_setting_tables[t];
        if (strcmp(T->domain, domain) != 0) continue;
        for (size_t i = 0; i < T->count; i++)
            if (strcmp(T->defs[i].name, name) == 0) {
                *key = T->defs[i].key;
                return SSLK_OK;
            }
    }
    return ssli_err(SSLK_E_NOT_FOUND, "sslk_setting_find: no setting '%s' in domain '%s'", name, domain);
}

sslk_status sslk_setting_list(const char *domain, int *keys, size_t cap, size_t *count) {
    SSLI_CHECK_PTR(domain, "sslk_setting_list");
    SSLI_CHECK_PTR(count, "sslk_setting_list");
    if (cap && !keys) return ssli_err(SSLK_E_INVALID_ARG, "sslk_setting_list: keys is NULL but cap = %zu", cap);
    size_t n = 0;
    bool found = false;
    for (size_t t = 0; ssli_setting_tables[t]; t++) {
        const ssli_setting_table *T = ssli_setting_tables[t];
        if (strcmp(T->domain, domain) != 0) continue;
        found = true;
        for (size_t i = 0; i < T->count; i++, n++)
            if (n < cap) keys[n] = T->defs[i].key;
    }
    *count = n;
    if (!found) return ssli_err(SSLK_E_NOT_FOUND, "sslk_setting_list: unknown domain '%s'", domain);
    return SSLK_OK;
}

int ssli_setting_index(const ssli_setting_table *t, int key) {
    for (size_t i = 0; i < t->count; i++)
        if (t->defs[i].key == key) return (int)i;
    return -1;
}

void ssli_setting_defaults(const ssli_setting_table *t, double *vals) {
    for (size_t i = 0; i < t->count; i++) vals[i] = t->defs[i].def;
}

sslk_status ssli_setting_set(const ssli_setting_table *t, double *vals, int key, double v,
                             sslk_setting_type as, const char *fn) {
    int i = ssli_setting_index(t, key);
    if (i < 0)
        return ssli_err(SSLK_E_SETTING, "%s: setting key %d does not belong to domain '%s'", fn, key,
                        t->domain);
    const ssli_setting_def *d = &t->defs[i];
    if (d->type == SSLK_SETTING_I64 && as == SSLK_SETTING_F64 && v != floor(v))
        return ssli_err(SSLK_E_SETTING, "%s: setting '%s' is an integer, got %g", fn, d->name, v);
    if (!(v >= d->lo && v <= d->hi)) /* also refuses NaN */
        return ssli_err(SSLK_E_SETTING, "%s: setting '%s' = %g is outside [%g, %g]", fn, d->name, v,
                        d->lo, d->hi);
    vals[i] = v;
    return SSLK_OK;
}

sslk_status ssli_setting_check_i64(int64_t v, const char *fn) {
    if (v > SSLI_SETTING_I64_EXACT || v < -SSLI_SETTING_I64_EXACT)
        return ssli_err(SSLK_E_SETTING,
                        "%s: value %lld is beyond +-2^53 (%lld), where a setting can no longer hold it exactly", fn,
                        (long long)v, (long long)SSLI_SETTING_I64_EXACT);
    return SSLK_OK;
}

sslk_status ssli_setting_get(const ssli_setting_table *t, const double *vals, int key, double *v,
                             const char *fn) {
    int i = ssli_setting_index(t, key);
    if (i < 0)
        return ssli_err(SSLK_E_SETTING, "%s: setting key %d does not belong to domain '%s'", fn, key,
                        t->domain);
    if (!v) return ssli_err(SSLK_E_INVALID_ARG, "%s: output argument 'value' is NULL", fn);
    *v = vals[i];
    return SSLK_OK;
}

int64_t ssli_setting_to_i64(double v) {
    if (!(v == v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

/* ---- names of choice-valued settings ---------------------------------------- */

static const char *const *choice_names(const ssli_setting_table *T, int key) {
    if (!T->choices) return NULL;
    for (const ssli_setting_choices *c = T->choices; c->key; c++)
        if (c->key == key) return c->names;
    return NULL;
}

/* The setting, its table and its names; an error naming fn when the key is
 * unknown or the setting has no names. */
static sslk_status find_choices(int key, const ssli_setting_def **d, const char *const **names, const char *fn) {
    const ssli_setting_table *T = NULL;
    *d = find_def(key, &T);
    if (!*d) return ssli_err(SSLK_E_SETTING, "%s: unknown setting key %d", fn, key);
    *names = choice_names(T, key);
    if (!*names)
        return ssli_err(SSLK_E_NOT_FOUND, "%s: setting '%s' of domain '%s' has no named values", fn, (*d)->name,
                        T->domain);
    return SSLK_OK;
}

sslk_status sslk_setting_choice(int key, int64_t value, const char **name) {
    static const char fn[] = "sslk_setting_choice";
    SSLI_CHECK_PTR(name, fn);
    const ssli_setting_def *d;
    const char *const *names;
    SSLI_TRY(find_choices(key, &d, &names, fn));
    if (!((double)value >= d->lo && (double)value <= d->hi))
        return ssli_err(SSLK_E_RANGE, "%s: value %lld of setting '%s' is outside [%g, %g]", fn, (long long)value,
                        d->name, d->lo, d->hi);
    *name = names[value - (int64_t)d->lo];
    return SSLK_OK;
}

sslk_status sslk_setting_choice_find(int key, const char *name, int64_t *value) {
    static const char fn[] = "sslk_setting_choice_find";
    SSLI_CHECK_PTR(name, fn);
    SSLI_CHECK_PTR(value, fn);
    const ssli_setting_def *d;
    const char *const *names;
    SSLI_TRY(find_choices(key, &d, &names, fn));
    for (size_t i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0) {
            *value = (int64_t)d->lo + (int64_t)i;
            return SSLK_OK;
        }
    return ssli_err(SSLK_E_NOT_FOUND, "%s: setting '%s' has no value named '%s'", fn, d->name, name);
}
