/* Core: context, status codes, errors, allocation, RNG, settings, atomic files.
 * SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "testutil.h"

START_TEST(version_matches_header) {
    ck_assert_uint_eq(sslk_version_number(), SSLK_VERSION_NUMBER);
    ck_assert_str_eq(sslk_version_string(), SSLK_VERSION_STRING);
    char buf[32];
    snprintf(buf, sizeof buf, "%d.%d.%d", SSLK_VERSION_MAJOR, SSLK_VERSION_MINOR, SSLK_VERSION_PATCH);
    ck_assert_str_eq(buf, sslk_version_string());
}
END_TEST

START_TEST(status_names_are_unique) {
    for (int i = 0; i <= SSLK_E_LIMIT; i++) {
        const char *a = sslk_status_str((sslk_status)i);
        ck_assert_ptr_nonnull(a);
        ck_assert_msg(strncmp(a, "SSLK_", 5) == 0, "%d -> %s", i, a);
        for (int j = 0; j < i; j++) ck_assert_str_ne(a, sslk_status_str((sslk_status)j));
    }
    ck_assert_str_eq(sslk_status_str((sslk_status)999), "SSLK_E_UNKNOWN");
    /* frozen values */
    ck_assert_int_eq(SSLK_E_SHAPE, 2);
    ck_assert_int_eq(SSLK_E_NONFINITE, 5);
    ck_assert_int_eq(SSLK_E_INTERNAL, 17);
    ck_assert_int_eq(SSLK_E_LIMIT, 18);
}
END_TEST

START_TEST(ctx_threads_and_errors) {
    sslk_ctx *c = NULL;
    ck_status(sslk_ctx_create(NULL), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "out") != NULL);
    ck_ok(sslk_ctx_create(&c));
    ck_assert_int_eq(sslk_ctx_get_threads(c), 1);
    ck_ok(sslk_ctx_set_threads(c, 2));
    ck_assert_int_eq(sslk_ctx_get_threads(c), 2);
    ck_status(sslk_ctx_set_threads(c, -1), SSLK_E_INVALID_ARG);
    ck_assert(strstr(sslk_last_error(), "-1") != NULL);
    ck_status(sslk_ctx_set_threads(c, SSLK_MAX_THREADS + 1), SSLK_E_INVALID_ARG);
    ck_assert_int_eq(sslk_ctx_get_threads(c), 2);
    ck_ok(sslk_ctx_set_threads(c, 0));
    ck_assert_int_eq(sslk_ctx_get_threads(c), (int)sysconf(_SC_NPROCESSORS_ONLN));
    sslk_ctx_set_seed(c, 42);
    ck_assert_uint_eq(sslk_ctx_get_seed(c), 42);
    sslk_ctx_destroy(c);
    sslk_ctx_destroy(NULL);
}
END_TEST


/* The memory budget: refused before allocating, with the limit named; 0 lifts it. */
START_TEST(ctx_limits_refuse_before_allocating) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    int64_t v = -1;
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, &v));
    ck_assert_int_eq(v, (int64_t)1 << 34);
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, &v));
    ck_assert_int_eq(v, 89478485);
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_FILE_BYTES, &v));
    ck_assert_int_eq(v, (int64_t)1 << 31);
    ck_status(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, -1), SSLK_E_SETTING);
    ck_status(sslk_ctx_set_i64(c, SSLK_LOADER_SHUFFLE, 1), SSLK_E_SETTING);
    ck_status(sslk_ctx_set_i64(NULL, SSLK_CTX_MAX_ALLOC_BYTES, 1), SSLK_E_INVALID_ARG);

    /* a custom allocator proves nothing reached it for a refused size */
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, 4096));
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, &v));
    ck_assert_int_eq(v, 4096);
    void *p = ssli_malloc(c, 4096, 1);
    ck_assert_ptr_nonnull(p);
    ssli_free(c, p);
    ck_assert_ptr_null(ssli_malloc(c, 4097, 1));
    ck_assert_int_eq(ssli_alloc_status(), SSLK_E_LIMIT);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "max_alloc_bytes = 4096"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "4097 bytes"));
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "SSLK_CTX_MAX_ALLOC_BYTES"));
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, 0)); /* 0: no limit */
    ck_assert_uint_eq(ssli_limit(c, SSLK_CTX_MAX_ALLOC_BYTES), UINT64_MAX);
    p = ssli_malloc(c, 4097, 1);
    ck_assert_ptr_nonnull(p);
    ssli_free(c, p);

    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_IMAGE_PIXELS, 100));
    ck_ok(ssli_check_limit(c, SSLK_CTX_MAX_IMAGE_PIXELS, 100, "f", "an image"));
    ck_status(ssli_check_limit(c, SSLK_CTX_MAX_IMAGE_PIXELS, 101, "f", "a 101 x 1 image"), SSLK_E_LIMIT);
    ck_assert_str_eq(sslk_status_str(SSLK_E_LIMIT), "SSLK_E_LIMIT");
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "f: a 101 x 1 image needs 101 pixels"));
    /* NULL context: the defaults */
    ck_assert_uint_eq(ssli_limit(NULL, SSLK_CTX_MAX_FILE_BYTES), (uint64_t)1 << 31);
    const char *name, *dom;
    ck_ok(sslk_setting_info(SSLK_CTX_MAX_FILE_BYTES, &name, &dom, NULL, NULL, NULL, NULL));
    ck_assert_str_eq(name, "max_file_bytes");
    ck_assert_str_eq(dom, "ctx");
    sslk_ctx_destroy(c);
}
END_TEST

/* Found by fuzz_settings: an _i64 setter converted its argument to the double
 * the settings store before the range check, so 2^53 + 1 passed as 2^53 and
 * read back as a different value.  Values beyond +-2^53 are refused, in every
 * _i64 setter, and the setting keeps its value. */
START_TEST(i64_settings_refuse_values_a_double_cannot_hold) {
    sslk_ctx *c = NULL;
    ck_ok(sslk_ctx_create(&c));
    const int64_t top = (int64_t)1 << 53;
    int64_t v = 0;
    ck_status(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, top + 1), SSLK_E_SETTING);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "sslk_ctx_set_i64: value 9007199254740993 is beyond +-2^53"));
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, &v));
    ck_assert_int_eq(v, 17179869184); /* the default, unchanged */
    ck_ok(sslk_ctx_set_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, top)); /* 2^53 itself is exact and in range */
    ck_ok(sslk_ctx_get_i64(c, SSLK_CTX_MAX_ALLOC_BYTES, &v));
    ck_assert_int_eq(v, top);
    ck_status(sslk_ctx_set_i64(c, SSLK_CTX_MAX_FILE_BYTES, INT64_MAX), SSLK_E_SETTING);
    /* the other _i64 setters share the check */
    sslk_loss *l = NULL;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_DIET, &l));
    ck_status(sslk_loss_set_i64(l, SSLK_DIET_NUM_SAMPLES, top + 1), SSLK_E_SETTING);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "sslk_loss_set_i64: value 9007199254740993"));
    sslk_loss_destroy(l);
    sslk_knn *k = NULL;
    ck_ok(sslk_knn_create(c, &k));
    ck_status(sslk_knn_set_i64(k, SSLK_KNN_K, -top - 1), SSLK_E_SETTING);
    sslk_knn_destroy(k);
    sslk_ctx_destroy(c);
}
END_TEST

/* The one public-struct rule, on a struct that grew from v1 to v2. */
typedef struct v1 {
    size_t struct_size;
    int64_t a;
} v1;
typedef struct v2 {
    size_t struct_size;
    int64_t a;
    int64_t b; /* appended in "v2", past v1's size (never into its padding) */
} v2;

START_TEST(struct_rule_shorter_and_longer) {
    /* in: a v1 caller on a v2 library reads a, keeps b's default */
    v1 c1 = {sizeof c1, 11};
    v2 in = {0, 0, 99};
    ck_ok(ssli_struct_in(&in, sizeof in, &c1, sizeof(v1), "f", "s"));
    ck_assert_int_eq(in.a, 11);
    ck_assert_uint_eq(sizeof(v2), sizeof(v1) + 8);
    ck_assert_int_eq(in.b, 99);
    ck_assert_uint_eq(in.struct_size, sizeof in);
    /* in: a v2 caller on a v1 library: the tail is ignored */
    v2 c2 = {sizeof c2, 12, 13};
    v1 in1 = {0, 0};
    ck_ok(ssli_struct_in(&in1, sizeof in1, &c2, sizeof(v1), "f", "s"));
    ck_assert_int_eq(in1.a, 12);
    /* below the 1.0 size, NULL */
    v1 bad = {sizeof(size_t), 1};
    ck_status(ssli_struct_in(&in, sizeof in, &bad, sizeof(v1), "f", "s"), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "f: 's->struct_size' = 8, below"));
    ck_status(ssli_struct_check(NULL, sizeof(v1), "f", "s"), SSLK_E_INVALID_ARG);
    /* out: never past the caller's size; struct_size = bytes written */
    v2 ours = {sizeof ours, 21, 22};
    struct {
        v1 s;
        int64_t guard;
    } o1 = {{sizeof(v1), 0}, -5};
    ck_ok(ssli_struct_check(&o1.s, sizeof(v1), "f", "s"));
    ssli_struct_out(&o1.s, &ours, sizeof ours);
    ck_assert_int_eq(o1.s.a, 21);
    ck_assert_int_eq(o1.guard, -5);
    ck_assert_uint_eq(o1.s.struct_size, sizeof(v1));
    struct {
        v2 s;
        int64_t future;
    } o2 = {{sizeof o2, 0, 0}, -6};
    v1 ours1 = {sizeof ours1, 31};
    ssli_struct_out(&o2.s, &ours1, sizeof ours1);
    ck_assert_int_eq(o2.s.a, 31);
    ck_assert_int_eq(o2.s.b, 0);
    ck_assert_int_eq(o2.future, -6);
    ck_assert_uint_eq(o2.s.struct_size, sizeof(v1));
}
END_TEST

static void *big_alloc(void *user, size_t size, size_t align) {
    (void)user;
    return aligned_alloc(align, size);
}
static void big_free(void *user, void *p) {
    (void)user;
    free(p);
}

/* The allocator struct under the rule: a newer, longer struct is accepted. */
START_TEST(allocator_struct_longer_accepted) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    struct {
        sslk_allocator a;
        void *future;
    } big = {{sizeof big, NULL, big_alloc, big_free}, NULL};
    ck_ok(sslk_ctx_set_allocator(c, &big.a));
    sslk_allocator small = {sizeof(size_t), NULL, big_alloc, big_free};
    ck_status(sslk_ctx_set_allocator(c, &small), SSLK_E_INVALID_ARG);
    sslk_allocator none = {sizeof none, NULL, NULL, big_free};
    ck_status(sslk_ctx_set_allocator(c, &none), SSLK_E_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sslk_last_error(), "a->alloc"));
    sslk_ctx_destroy(c);
}
END_TEST

static int log_count;
static char log_last[256];
static void log_cb(void *user, sslk_log_level lvl, const char *msg) {
    (void)lvl;
    *(int *)user += 1;
    snprintf(log_last, sizeof log_last, "%s", msg);
}

START_TEST(ctx_log_filters_levels) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    log_count = 0;
    sslk_ctx_set_log(c, log_cb, &log_count, SSLK_LOG_INFO);
    ssli_log(c, SSLK_LOG_DEBUG, "hidden %d", 1);
    ssli_log(c, SSLK_LOG_WARN, "shown %d", 2);
    ck_assert_int_eq(log_count, 1);
    ck_assert_str_eq(log_last, "shown 2");
    sslk_ctx_destroy(c);
}
END_TEST

static size_t alloc_calls, free_calls;
static void *my_alloc(void *u, size_t n, size_t a) {
    (void)u;
    alloc_calls++;
    return aligned_alloc(a, n);
}
static void my_free(void *u, void *p) {
    (void)u;
    if (p) free_calls++;
    free(p);
}

START_TEST(alloc_overflow_and_custom) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    size_t out;
    ck_assert(ssli_mul_overflow(SIZE_MAX / 2, 3, &out));
    ck_assert(!ssli_mul_overflow(1000, 1000, &out) && out == 1000000);
    ck_assert(ssli_mul3_overflow(1ULL << 30, 1ULL << 30, 1ULL << 10, &out));
    void *p = ssli_malloc(c, SIZE_MAX / 4, 8);
    ck_assert_ptr_null(p);
    ck_assert_int_eq(ssli_alloc_status(), SSLK_E_OVERFLOW);
    p = ssli_malloc(c, 10, 4);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % SSLI_ALIGN, 0);
    ssli_free(c, p);
    sslk_allocator a = {sizeof a, NULL, my_alloc, my_free};
    sslk_allocator bad = {4, NULL, my_alloc, my_free};
    ck_status(sslk_ctx_set_allocator(c, &bad), SSLK_E_INVALID_ARG);
    ck_ok(sslk_ctx_set_allocator(c, &a));
    float *q = ssli_calloc(c, 100, sizeof(float));
    ck_assert_ptr_nonnull(q);
    for (int i = 0; i < 100; i++) ck_assert(q[i] == 0.0f);
    ssli_free(c, q);
    ck_assert_uint_eq(alloc_calls, 1);
    ck_assert_uint_eq(free_calls, 1);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(rng_is_counter_based_and_uniform) {
    uint64_t k = ssli_rng_key(7, 1, 2);
    ck_assert_uint_eq(k, ssli_rng_key(7, 1, 2));
    ck_assert_uint_ne(k, ssli_rng_key(7, 2, 1));
    ck_assert_uint_ne(k, ssli_rng_key(8, 1, 2));
    /* same (key, counter) -> same value, whatever the order of evaluation */
    double a = ssli_rng_uniform(k, 12345);
    (void)ssli_rng_uniform(k, 1);
    ck_assert(a == ssli_rng_uniform(k, 12345));
    /* moments: mean 1/2, variance 1/12 for uniforms; 0 and 1 for normals.
     * With n = 200000 the standard error of the mean is 6.5e-4 (uniform). */
    const size_t n = 200000;
    double s = 0, s2 = 0, ns = 0, ns2 = 0, ns4 = 0;
    for (size_t i = 0; i < n; i++) {
        double u = ssli_rng_uniform(k, i);
        ck_assert(u >= 0 && u < 1);
        s += u;
        s2 += u * u;
        double z = ssli_rng_normal(k, i);
        ns += z;
        ns2 += z * z;
        ns4 += z * z * z * z;
    }
    double m = s / n, v = s2 / n - m * m;
    ck_assert_msg(fabs(m - 0.5) < 4e-3, "uniform mean %g", m);
    ck_assert_msg(fabs(v - 1.0 / 12) < 2e-3, "uniform var %g", v);
    ck_assert_msg(fabs(ns / n) < 1e-2, "normal mean %g", ns / n);
    ck_assert_msg(fabs(ns2 / n - 1) < 2e-2, "normal var %g", ns2 / n);
    ck_assert_msg(fabs(ns4 / n - 3) < 0.1, "normal 4th moment %g", ns4 / n);
    /* ssli_rng_below: every bucket of 10 within 5 sigma of n/10 */
    size_t cnt[10] = {0};
    for (size_t i = 0; i < n; i++) cnt[ssli_rng_below(k, i, 10)]++;
    for (int b = 0; b < 10; b++)
        ck_assert_msg(fabs((double)cnt[b] - n / 10.0) < 5 * sqrt(n * 0.09), "bucket %d: %zu", b, cnt[b]);
}
END_TEST

START_TEST(rng_shuffle_is_permutation) {
    size_t idx[1000], seen[1000] = {0};
    for (size_t i = 0; i < 1000; i++) idx[i] = i;
    ssli_rng r;
    ssli_rng_init(&r, 3, 0);
    ssli_rng_shuffle(&r, idx, 1000);
    size_t fixed = 0;
    for (size_t i = 0; i < 1000; i++) {
        seen[idx[i]]++;
        fixed += idx[i] == i;
    }
    for (size_t i = 0; i < 1000; i++) ck_assert_uint_eq(seen[i], 1);
    ck_assert_uint_lt(fixed, 10); /* expected 1 fixed point */
    size_t idx2[1000];
    for (size_t i = 0; i < 1000; i++) idx2[i] = i;
    ssli_rng_init(&r, 3, 0);
    ssli_rng_shuffle(&r, idx2, 1000);
    ck_assert_mem_eq(idx, idx2, sizeof idx);
}
END_TEST

static const ssli_setting_def test_defs[] = {
    {9901, "alpha", SSLK_SETTING_F64, 0.0, 10.0, 2.5, "a real"},
    {9902, "count", SSLK_SETTING_I64, 1, 100, 3, "an integer"},
};
static const ssli_setting_table test_table = {"test", test_defs, 2, NULL};

START_TEST(settings_bounds_and_types) {
    double v[2];
    ssli_setting_defaults(&test_table, v);
    ck_assert(v[0] == 2.5 && v[1] == 3);
    ck_ok(ssli_setting_set(&test_table, v, 9901, 7.0, SSLK_SETTING_F64, "f"));
    ck_assert(v[0] == 7.0);
    ck_status(ssli_setting_set(&test_table, v, 9901, 10.5, SSLK_SETTING_F64, "f"), SSLK_E_SETTING);
    ck_assert(strstr(sslk_last_error(), "alpha") != NULL);
    ck_status(ssli_setting_set(&test_table, v, 9901, NAN, SSLK_SETTING_F64, "f"), SSLK_E_SETTING);
    ck_status(ssli_setting_set(&test_table, v, 9902, 2.5, SSLK_SETTING_F64, "f"), SSLK_E_SETTING);
    ck_status(ssli_setting_set(&test_table, v, 9903, 1, SSLK_SETTING_I64, "f"), SSLK_E_SETTING);
    ck_assert(v[0] == 7.0 && v[1] == 3); /* failed sets change nothing */
    double got;
    ck_ok(ssli_setting_get(&test_table, v, 9902, &got, "f"));
    ck_assert(got == 3);
    ck_status(ssli_setting_get(&test_table, v, 9902, NULL, "f"), SSLK_E_INVALID_ARG);
    /* public introspection refuses unknown keys */
    ck_status(sslk_setting_info(-12345, NULL, NULL, NULL, NULL, NULL, NULL), SSLK_E_SETTING);
    int key;
    ck_status(sslk_setting_find("nodomain", "x", &key), SSLK_E_NOT_FOUND);
    size_t count;
    ck_status(sslk_setting_list("nodomain", NULL, 0, &count), SSLK_E_NOT_FOUND);
}
END_TEST

START_TEST(settings_registry_consistent) {
    /* Every registered key is unique, has bounds lo <= def <= hi, and is found by name. */
    for (size_t t = 0; ssli_setting_tables[t]; t++) {
        const ssli_setting_table *T = ssli_setting_tables[t];
        for (size_t i = 0; i < T->count; i++) {
            const ssli_setting_def *d = &T->defs[i];
            ck_assert_msg(d->lo <= d->def && d->def <= d->hi, "%s.%s default out of bounds", T->domain, d->name);
            int key;
            ck_ok(sslk_setting_find(T->domain, d->name, &key));
            ck_assert_int_eq(key, d->key);
            const char *nm, *dom;
            ck_ok(sslk_setting_info(d->key, &nm, &dom, NULL, NULL, NULL, NULL));
            ck_assert_str_eq(dom, T->domain);
            for (size_t u = 0; ssli_setting_tables[u]; u++)
                for (size_t j = 0; j < ssli_setting_tables[u]->count; j++)
                    if (!(u == t && j == i))
                        ck_assert_msg(ssli_setting_tables[u]->defs[j].key != d->key, "duplicate key %d", d->key);
        }
    }
}
END_TEST

/* Does the doc of an integer setting name its values ("0 = mean, 1 = sum")? */
static bool doc_lists_values(const ssli_setting_def *d) {
    char lo[32];
    snprintf(lo, sizeof lo, "%g = ", d->lo);
    return d->type == SSLK_SETTING_I64 && d->doc && strncmp(d->doc, lo, strlen(lo)) == 0;
}

START_TEST(settings_choices_named) {
    /* Every choice list belongs to an integer setting of its table and names
     * each value of [lo, hi] once; every integer setting whose doc lists its
     * values has names; sslk_setting_choice and _find are inverse. */
    size_t named = 0;
    for (size_t t = 0; ssli_setting_tables[t]; t++) {
        const ssli_setting_table *T = ssli_setting_tables[t];
        for (const ssli_setting_choices *c = T->choices; c && c->key; c++) {
            int i = ssli_setting_index(T, c->key);
            ck_assert_msg(i >= 0, "%s: choices of key %d outside the table", T->domain, c->key);
            const ssli_setting_def *d = &T->defs[i];
            ck_assert_int_eq(d->type, SSLK_SETTING_I64);
            size_t n = 0;
            while (c->names[n]) n++;
            ck_assert_msg((double)n == d->hi - d->lo + 1, "%s.%s: %zu names for [%g, %g]", T->domain, d->name, n,
                          d->lo, d->hi);
        }
        for (size_t i = 0; i < T->count; i++) {
            const ssli_setting_def *d = &T->defs[i];
            const char *nm;
            sslk_status st = sslk_setting_choice(d->key, (int64_t)d->lo, &nm);
            ck_assert_msg(doc_lists_values(d) == (st == SSLK_OK), "%s.%s: doc '%s' vs names (%d)", T->domain,
                          d->name, d->doc, (int)st);
            if (st != SSLK_OK) {
                ck_assert_int_eq(st, SSLK_E_NOT_FOUND);
                continue;
            }
            named++;
            for (int64_t v = (int64_t)d->lo; v <= (int64_t)d->hi; v++) {
                ck_ok(sslk_setting_choice(d->key, v, &nm));
                ck_assert(nm[0] != '\0');
                int64_t back = -99;
                ck_ok(sslk_setting_choice_find(d->key, nm, &back));
                ck_assert_int_eq(back, v); /* also proves the names are distinct */
            }
            ck_status(sslk_setting_choice(d->key, (int64_t)d->hi + 1, &nm), SSLK_E_RANGE);
            ck_status(sslk_setting_choice(d->key, (int64_t)d->lo - 1, &nm), SSLK_E_RANGE);
        }
    }
    ck_assert_uint_eq(named, 24); /* + negcos form, view_reduction (21); 13 + cfssl.kernel (18) + knn top5_rule (20) + train recipe, norm_mode, on_corrupt (15) + spectral weights, symmetrize, graph, laplacian (18) */
    const char *nm;
    int64_t v;
    ck_ok(sslk_setting_choice(SSLK_KNN_WEIGHTING, 1, &nm));
    ck_assert_str_eq(nm, "inverse");
    ck_ok(sslk_setting_choice(SSLK_TRAIN_OPTIMIZER, 2, &nm)); /* starts at lo = 1 */
    ck_assert_str_eq(nm, "lars");
    ck_ok(sslk_setting_choice_find(SSLK_MSN_PRIOR, "power_law", &v));
    ck_assert_int_eq(v, 1);
    ck_ok(sslk_setting_choice_find(SSLK_LOADER_ON_CORRUPT, "skip", &v));
    ck_assert_int_eq(v, 1);
    ck_status(sslk_setting_choice_find(SSLK_MSN_PRIOR, "gaussian", &v), SSLK_E_NOT_FOUND);
    ck_assert(strstr(sslk_last_error(), "'prior' has no value named 'gaussian'") != NULL);
    ck_status(sslk_setting_choice(SSLK_KNN_K, 1, &nm), SSLK_E_NOT_FOUND);
    ck_assert(strstr(sslk_last_error(), "'k' of domain 'knn' has no named values") != NULL);
    ck_status(sslk_setting_choice(-4242, 0, &nm), SSLK_E_SETTING);
    ck_status(sslk_setting_choice(SSLK_KNN_WEIGHTING, 0, NULL), SSLK_E_INVALID_ARG);
    ck_status(sslk_setting_choice_find(SSLK_KNN_WEIGHTING, NULL, &v), SSLK_E_INVALID_ARG);
}
END_TEST

START_TEST(settings_int64_reads) {
    ck_assert(ssli_setting_to_i64(3.9) == 3);
    ck_assert(ssli_setting_to_i64(-3.9) == -3);
    ck_assert(ssli_setting_to_i64(1e300) == INT64_MAX);
    ck_assert(ssli_setting_to_i64(-1e300) == INT64_MIN);
    ck_assert(ssli_setting_to_i64(NAN) == 0);
    ck_assert(ssli_setting_to_i64(9007199254740992.0) == INT64_C(9007199254740992));
}
END_TEST

/* Each handle's four accessors: an integer setting written as f64 reads back
 * as both types, a real one written as i64 too; a real value for an integer
 * setting, an unknown key and NULL outputs are refused with the caller's name. */
#define CHECK_FOUR(H, PFX, IKEY, IVAL, FKEY)                                                   \
    do {                                                                                   \
        double f_ = 0;                                                                     \
        int64_t i_ = 0;                                                                    \
        ck_ok(PFX##_set_f64(H, IKEY, (double)(IVAL)));                                     \
        ck_ok(PFX##_get_i64(H, IKEY, &i_));                                                \
        ck_assert_int_eq(i_, IVAL);                                                        \
        ck_ok(PFX##_set_i64(H, IKEY, (IVAL) + 1));                                         \
        ck_ok(PFX##_get_f64(H, IKEY, &f_));                                                \
        ck_assert(f_ == (double)(IVAL) + 1);                                               \
        ck_status(PFX##_set_f64(H, IKEY, 0.5), SSLK_E_SETTING);                            \
        ck_assert(strstr(sslk_last_error(), #PFX "_set_f64: setting") != NULL);            \
        ck_status(PFX##_get_i64(H, -4242, &i_), SSLK_E_SETTING);                           \
        ck_assert(strstr(sslk_last_error(), #PFX "_get_i64") != NULL);                     \
        ck_status(PFX##_get_i64(H, IKEY, NULL), SSLK_E_INVALID_ARG);                       \
        ck_status(PFX##_set_i64(NULL, IKEY, IVAL), SSLK_E_INVALID_ARG);                    \
        ck_assert(strstr(sslk_last_error(), #PFX "_set_i64") != NULL);                     \
        if ((FKEY) != 0) {                                                                 \
            ck_ok(PFX##_set_i64(H, FKEY, 1));                                              \
            ck_ok(PFX##_get_f64(H, FKEY, &f_));                                            \
            ck_assert(f_ == 1.0);                                                          \
            ck_ok(PFX##_get_i64(H, FKEY, &i_));                                            \
            ck_assert_int_eq(i_, 1);                                                       \
        }                                                                                  \
    } while (0)

START_TEST(settings_every_handle_has_four_accessors) {
    sslk_ctx *c;
    ck_ok(sslk_ctx_create(&c));
    CHECK_FOUR(c, sslk_ctx, SSLK_CTX_MAX_IMAGE_PIXELS, 1000, 0);

    size_t shape[1] = {2};
    sslk_model *m;
    ck_ok(sslk_model_from_spec(c, "linear:4,relu,linear:2", 1, shape, 1, &m));
    int64_t iv = -1;
    ck_ok(sslk_model_set_i64(m, SSLK_MODEL_BN_MOMENTUM, 1)); /* model has real settings only */
    ck_ok(sslk_model_get_i64(m, SSLK_MODEL_BN_MOMENTUM, &iv));
    ck_assert_int_eq(iv, 1);
    ck_ok(sslk_model_set_f64(m, SSLK_MODEL_BN_MOMENTUM, 0.25));
    ck_ok(sslk_model_get_i64(m, SSLK_MODEL_BN_MOMENTUM, &iv)); /* truncated, as sslk_loss_get_i64 */
    ck_assert_int_eq(iv, 0);
    ck_status(sslk_model_set_i64(m, SSLK_MODEL_BN_MOMENTUM, 2), SSLK_E_SETTING);
    ck_assert(strstr(sslk_last_error(), "sslk_model_set_i64: setting 'bn_momentum' = 2") != NULL);

    const float V[6] = {-1, -1, 1, -1, 0, 1};
    sslk_police *pol;
    ck_ok(sslk_police_create(m, V, 3, 2, &pol));
    CHECK_FOUR(pol, sslk_police, SSLK_POLICE_CONSTRAIN_OUTPUT, 0, 0);
    sslk_police_destroy(pol);

    const float o[2] = {0, 0}, dirs[4] = {1, 0, 0, 1};
    const double ext[4] = {-1, 1, -1, 1};
    sslk_slice *s;
    ck_ok(sslk_slice_from_box(c, o, dirs, 2, ext, &s));
    CHECK_FOUR(s, sslk_slice, SSLK_SPLINECAM_MAX_REGIONS, 5000, 0);
    sslk_slice_destroy(s);

    sslk_rankme_acc *r;
    ck_ok(sslk_rankme_create(c, 3, &r));
    CHECK_FOUR(r, sslk_rankme, SSLK_RANKME_METHOD, 1, 0);
    sslk_rankme_destroy(r);

    sslk_knn *k;
    ck_ok(sslk_knn_create(c, &k));
    CHECK_FOUR(k, sslk_knn, SSLK_KNN_K, 7, SSLK_KNN_TEMPERATURE);
    sslk_knn_destroy(k);
    sslk_probe *pr;
    ck_ok(sslk_probe_create(c, &pr));
    CHECK_FOUR(pr, sslk_probe, SSLK_PROBE_MAX_ITER, 50, SSLK_PROBE_TOL);
    sslk_probe_destroy(pr);

    sslk_loss *L;
    ck_ok(sslk_loss_create(c, SSLK_LOSS_MSN, &L));
    CHECK_FOUR(L, sslk_loss, SSLK_MSN_SINKHORN_ITERATIONS, 5, SSLK_MSN_TEMPERATURE);
    sslk_loss_destroy(L);

    uint8_t px[4 * 2 * 2] = {0};
    int32_t lab[4] = {0, 1, 0, 1};
    sslk_dataset *ds;
    ck_ok(sslk_dataset_from_memory(c, px, 4, 2, 2, 1, lab, &ds));
    CHECK_FOUR(ds, sslk_dataset, SSLK_DATASET_MAX_FILE_MB, 12, 0);
    sslk_augment *aug;
    ck_ok(sslk_augment_create(c, 2, &aug));
    double f = 0;
    ck_ok(sslk_augment_set_i64(aug, -1, SSLK_AUG_SIZE, 2));
    ck_ok(sslk_augment_get_i64(aug, 1, SSLK_AUG_SIZE, &iv));
    ck_assert_int_eq(iv, 2);
    ck_ok(sslk_augment_set_f64(aug, 0, SSLK_AUG_FLIP_P, 1.0));
    ck_ok(sslk_augment_get_i64(aug, 0, SSLK_AUG_FLIP_P, &iv));
    ck_assert_int_eq(iv, 1);
    ck_ok(sslk_augment_get_f64(aug, 1, SSLK_AUG_FLIP_P, &f));
    ck_assert(f == 0.5);
    ck_status(sslk_augment_get_i64(aug, 2, SSLK_AUG_SIZE, &iv), SSLK_E_RANGE);
    ck_assert(strstr(sslk_last_error(), "sslk_augment_get_i64: view = 2 outside [0, 2)") != NULL);
    sslk_loader *ld;
    ck_ok(sslk_loader_create(c, ds, aug, 2, &ld));
    CHECK_FOUR(ld, sslk_loader, SSLK_LOADER_PREFETCH, 3, 0);
    sslk_loader_destroy(ld);
    sslk_augment_destroy(aug);
    sslk_dataset_destroy(ds);

    sslk_optim *opt;
    ck_ok(sslk_optim_create(c, SSLK_OPTIM_SGD, &opt));
    ck_ok(sslk_optim_set_i64(opt, SSLK_SGD_NESTEROV, 1));
    ck_ok(sslk_optim_get_i64(opt, SIZE_MAX, SSLK_SGD_NESTEROV, &iv));
    ck_assert_int_eq(iv, 1);
    ck_status(sslk_optim_group_set_i64(opt, 0, SSLK_SGD_NESTEROV, 0), SSLK_E_RANGE); /* no groups yet */
    ck_assert(strstr(sslk_last_error(), "sslk_optim_group_set_i64: 'group' = 0") != NULL);
    ck_status(sslk_optim_get_i64(opt, 0, SSLK_SGD_NESTEROV, &iv), SSLK_E_RANGE);
    ck_status(sslk_optim_set_i64(opt, SSLK_SGD_LR, -1), SSLK_E_SETTING);
    sslk_optim_destroy(opt);

    sslk_model_destroy(m);
    sslk_ctx_destroy(c);
}
END_TEST

START_TEST(atomic_file_commit_and_abort) {
    char dir[] = "/tmp/sslk_atomicXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    FILE *f = fopen(path, "wb");
    fputs("old", f);
    fclose(f);
    ssli_atomic_file af;
    ck_ok(ssli_atomic_open(&af, path, "t"));
    ck_ok(ssli_atomic_write(&af, "new contents", 12, "t"));
    ssli_atomic_abort(&af); /* an interrupted write leaves the old file */
    char buf[32] = {0};
    f = fopen(path, "rb");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 3);
    fclose(f);
    ck_assert_str_eq(buf, "old");
    ck_ok(ssli_atomic_open(&af, path, "t"));
    ck_ok(ssli_atomic_write(&af, "new contents", 12, "t"));
    ck_ok(ssli_atomic_commit(&af, "t"));
    memset(buf, 0, sizeof buf);
    f = fopen(path, "rb");
    ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 12);
    fclose(f);
    ck_assert_str_eq(buf, "new contents");
    /* the committed file gets the permissions fopen would give (0666 & ~umask) */
    mode_t old_mask = umask(027);
    ck_ok(ssli_atomic_open(&af, path, "t"));
    ck_ok(ssli_atomic_commit(&af, "t"));
    umask(old_mask);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    /* no temporary file is left behind */
    DIR *dd = opendir(dir);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(dd));) entries += e->d_name[0] != '.';
    closedir(dd);
    ck_assert_uint_eq(entries, 1);
    ck_status(ssli_atomic_open(&af, "/nonexistent_dir_sslk/x", "t"), SSLK_E_IO);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Helpers of the stale-temporary tests: make dir/name (optionally aged), test
 * for it, and a pid that certainly ran and exited. */
static void touch(const char *dir, const char *name, time_t age_s) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    fputs("partial", f);
    fclose(f);
    if (age_s) {
        struct timespec t[2] = {{time(NULL) - age_s, 0}, {time(NULL) - age_s, 0}};
        ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
    }
}

static bool exists(const char *dir, const char *name) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static long dead_pid(void) {
    pid_t c = fork();
    ck_assert_int_ge(c, 0);
    if (c == 0) _exit(0);
    waitpid(c, NULL, 0);
    return (long)c;
}

static void save(const char *path, const char *text) {
    ssli_atomic_file af;
    ck_ok(ssli_atomic_open(&af, path, "t"));
    ck_ok(ssli_atomic_write(&af, text, strlen(text), "t"));
    ck_ok(ssli_atomic_commit(&af, "t"));
}

static size_t count_entries(const char *dir) {
    DIR *dd = opendir(dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(dd));) n += e->d_name[0] != '.';
    closedir(dd);
    return n;
}

/* Issue 12: killed writers left "<path>.tmp.XXXXXX" files (up to 84 MB each)
 * that nothing removed.  Now a save removes the ones whose writer is gone and
 * keeps any that a live writer may still own. */
START_TEST(atomic_file_removes_stale_temporaries) {
    char dir[] = "/tmp/sslk_staleXXXXXX", path[256], name[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/out.bin", dir);
    long dead = dead_pid();
    char stale[64], live_parent[64], live_self[64], locked[64];
    snprintf(stale, sizeof stale, "out.bin.tmp.%ld.AbC123", dead);
    snprintf(live_parent, sizeof live_parent, "out.bin.tmp.%ld.dEf456", (long)getppid());
    snprintf(live_self, sizeof live_self, "out.bin.tmp.%ld.gHi789", (long)getpid());
    snprintf(locked, sizeof locked, "out.bin.tmp.%ld.LoCk00", dead);
    touch(dir, stale, 0);
    touch(dir, live_parent, 0);
    touch(dir, live_self, 0);
    touch(dir, locked, 0);
    touch(dir, "out.bin.tmp.OlD999", 7200); /* legacy mkstemp name, 2 h old */
    touch(dir, "out.bin.tmp.NeW999", 0);    /* legacy, fresh: may be a live old writer */
    touch(dir, "out.bin.tmp.notours", 7200);
    snprintf(name, sizeof name, "other.bin.tmp.%ld.AbC123", dead);
    touch(dir, name, 0);
    /* a writer whose pid means nothing here (another host) still holds its lock */
    char lp[512];
    snprintf(lp, sizeof lp, "%s/%s", dir, locked);
    int lfd = open(lp, O_RDWR);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(flock(lfd, LOCK_EX), 0);

    save(path, "new");
    close(lfd);

    ck_assert_msg(!exists(dir, stale), "the dead writer's %s was kept", stale);
    ck_assert(!exists(dir, "out.bin.tmp.OlD999"));
    ck_assert(exists(dir, live_parent));
    ck_assert(exists(dir, live_self));
    ck_assert(exists(dir, locked));
    ck_assert(exists(dir, "out.bin.tmp.NeW999"));
    ck_assert(exists(dir, "out.bin.tmp.notours"));
    ck_assert(exists(dir, name));
    ck_assert(exists(dir, "out.bin"));
    ck_assert_uint_eq(count_entries(dir), 7);
    /* its own name carries this pid, for the next writer to judge */
    ssli_atomic_file af;
    ck_ok(ssli_atomic_open(&af, path, "t"));
    char want[300];
    snprintf(want, sizeof want, "%s.tmp.%ld.", path, (long)getpid());
    ck_assert_msg(strncmp(af.tmp_path, want, strlen(want)) == 0 && strlen(af.tmp_path) == strlen(want) + 6,
                  "temporary name %s", af.tmp_path);
    ssli_atomic_abort(&af);
    /* nothing but regular files is touched, even when named like ours */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/out.bin.tmp.%ld.DiR000", dir, dead);
    ck_assert_int_eq(mkdir(sub, 0700), 0);
    save(path, "again");
    ck_assert_int_eq(rmdir(sub), 0);
    DIR *dd = opendir(dir);
    for (struct dirent *e; (e = readdir(dd));)
        if (e->d_name[0] != '.') {
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            unlink(sub);
        }
    closedir(dd);
    rmdir(dir);
}
END_TEST

/* The real thing: a writer killed with SIGKILL between open and commit; the
 * next save of the same path cleans up after it. */
START_TEST(atomic_file_after_kill9) {
    char dir[] = "/tmp/sslk_kill9XXXXXX", path[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/model.sslk", dir);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t c = fork();
    ck_assert_int_ge(c, 0);
    if (c == 0) {
        ssli_atomic_file af;
        if (ssli_atomic_open(&af, path, "child") != SSLK_OK) _exit(1);
        static char big[1 << 20];
        memset(big, 7, sizeof big);
        ssli_atomic_write(&af, big, sizeof big, "child");
        fflush((FILE *)af.fp);
        ssize_t w = write(ready[1], "x", 1);
        (void)w;
        for (;;) pause();
    }
    char b;
    ck_assert_int_eq(read(ready[0], &b, 1), 1);
    save(path, "first"); /* a concurrent save keeps the live child's temporary */
    ck_assert_uint_eq(count_entries(dir), 2);
    ck_assert_int_eq(kill(c, SIGKILL), 0);
    int st;
    waitpid(c, &st, 0);
    ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    ck_assert_uint_eq(count_entries(dir), 2); /* the killed write's 1 MB leftover */
    save(path, "done");
    ck_assert_msg(count_entries(dir) == 1, "%zu entries: the killed write's temporary is still there",
                  count_entries(dir));
    ck_assert(exists(dir, "model.sslk"));
    close(ready[0]);
    close(ready[1]);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(nonfinite_check_names_position) {
    float x[6] = {0, 1, 2, 3, NAN, 5};
    ck_status(ssli_check_finite_f32(x, 2, 3, "fn", "z"), SSLK_E_NONFINITE);
    ck_assert(strstr(sslk_last_error(), "row 1, column 1") != NULL);
    x[4] = 4;
    ck_ok(ssli_check_finite_f32(x, 2, 3, "fn", "z"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_matches_header);
    tcase_add_test(tc, status_names_are_unique);
    tcase_add_test(tc, ctx_threads_and_errors);
    tcase_add_test(tc, ctx_limits_refuse_before_allocating);
    tcase_add_test(tc, i64_settings_refuse_values_a_double_cannot_hold);
    tcase_add_test(tc, struct_rule_shorter_and_longer);
    tcase_add_test(tc, allocator_struct_longer_accepted);
    tcase_add_test(tc, ctx_log_filters_levels);
    tcase_add_test(tc, alloc_overflow_and_custom);
    tcase_add_test(tc, rng_is_counter_based_and_uniform);
    tcase_add_test(tc, rng_shuffle_is_permutation);
    tcase_add_test(tc, settings_bounds_and_types);
    tcase_add_test(tc, settings_registry_consistent);
    tcase_add_test(tc, settings_choices_named);
    tcase_add_test(tc, settings_int64_reads);
    tcase_add_test(tc, settings_every_handle_has_four_accessors);
    tcase_add_test(tc, atomic_file_commit_and_abort);
    tcase_add_test(tc, atomic_file_removes_stale_temporaries);
    tcase_add_test(tc, atomic_file_after_kill9);
    tcase_add_test(tc, nonfinite_check_names_position);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
