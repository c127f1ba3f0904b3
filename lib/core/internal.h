/* Internal core API shared by every layer.  Internal names use the ssli_
 * prefix; they are hidden in the shared library (visibility + version script).
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CORE_INTERNAL_H
#define SSLKIT_CORE_INTERNAL_H

#include "sslkit/core.h"
#include "sslkit/dist.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SSLI_ALIGN 64

struct sslk_ctx {
    int nthreads;
    uint64_t seed;
    sslk_allocator alloc;
    bool custom_alloc;
    sslk_log_fn log_fn;
    void *log_user;
    sslk_log_level log_min;
    double limits[3]; /* SSLK_CTX_* values, indexed as in ssli_settings_ctx */
    sslk_dist dist;   /* collectives table (lib/dist/table.c); world_size 0 = none */
};

/* ---- errors -------------------------------------------------------------
 * ssli_err records a printf-style sentence in the thread-local buffer and
 * returns s, so callers write `return ssli_err(SSLK_E_SHAPE, "...", ...);`. */
sslk_status ssli_err(sslk_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ssli_clear_error(void);

/* Propagate a failing status from a call that already set the message. */
#define SSLI_TRY(expr)                                                                  \
    do {                                                                                \
        sslk_status ssli_try_s_ = (expr);                                               \
        if (ssli_try_s_ != SSLK_OK) return ssli_try_s_;                                 \
    } while (0)

/* Argument checks naming the function and argument. */
#define SSLI_CHECK_PTR(p, fn)                                                           \
    do {                                                                                \
        if ((p) == NULL) return ssli_err(SSLK_E_INVALID_ARG, "%s: argument '%s' is NULL", fn, #p); \
    } while (0)

void ssli_log(const sslk_ctx *ctx, sslk_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- allocation -----------------------------------------------------------
 * All return NULL on overflow or failure *and* set the error message
 * (status SSLK_E_OVERFLOW, SSLK_E_LIMIT or SSLK_E_NOMEM, retrievable via
 * ssli_alloc_status). */
bool ssli_mul_overflow(size_t a, size_t b, size_t *out);
bool ssli_mul3_overflow(size_t a, size_t b, size_t c, size_t *out);
void *ssli_malloc(const sslk_ctx *ctx, size_t n, size_t elem);      /* n*elem bytes, 64-aligned */
void *ssli_calloc(const sslk_ctx *ctx, size_t n, size_t elem);      /* zeroed */
void ssli_free(const sslk_ctx *ctx, void *p);
/* Status of the last failing ssli_malloc/ssli_calloc on this thread. */
sslk_status ssli_alloc_status(void);

/* ---- public structs (lib/core/struct_abi.c) -------------------------------
 * Every public struct starts with size_t struct_size.  ssli_struct_in fills
 * `ours` (pre-set to defaults, ours_size bytes) from the caller's struct: the
 * caller's prefix is copied (at most ours_size), ours->struct_size becomes
 * ours_size.  ssli_struct_check only validates (for out-only structs).
 * Both refuse NULL and a struct_size below min_size (the 1.0 size) with
 * SSLK_E_INVALID_ARG naming fn and arg.  ssli_struct_out writes our struct
 * back, at most the caller's struct_size bytes, and sets the caller's
 * struct_size to the bytes written (min of both sizes). */
sslk_status ssli_struct_in(void *ours, size_t ours_size, const void *caller, size_t min_size, const char *fn,
                           const char *arg);
sslk_status ssli_struct_check(const void *caller, size_t min_size, const char *fn, const char *arg);
void ssli_struct_out(void *caller, const void *ours, size_t ours_size);

/* ---- context limits -------------------------------------------------------
 * ssli_limit: the effective value of an SSLK_CTX_MAX_* key (the default when
 * ctx is NULL, UINT64_MAX when set to 0 = unlimited).  ssli_check_limit returns
 * SSLK_E_LIMIT with a sentence "fn: <what> needs <want> <unit>, above the
 * context limit <name> = <limit> (raise it with sslk_ctx_set_i64(SSLK_CTX_...)
 * or sslkit.Context(limits={...}))" when want > limit, else SSLK_OK.
 * ssli_malloc applies SSLK_CTX_MAX_ALLOC_BYTES itself. */
uint64_t ssli_limit(const sslk_ctx *ctx, int key);
void ssli_ctx_limits_default(sslk_ctx *ctx);
sslk_status ssli_check_limit(const sslk_ctx *ctx, int key, uint64_t want, const char *fn,
                             const char *what);

/* ---- counter-based RNG ------------------------------------------------------
 * Philox-style stateless generator: every draw is a pure function of
 * (key, counter), so results never depend on thread scheduling.  Derive keys
 * with ssli_rng_key(seed, stream...) and index draws by sample/element index. */
uint64_t ssli_mix64(uint64_t x);                              /* splitmix64 finaliser */
uint64_t ssli_rng_key(uint64_t seed, uint64_t a, uint64_t b); /* derive a stream key */
uint64_t ssli_rng_u64(uint64_t key, uint64_t counter);
double ssli_rng_uniform(uint64_t key, uint64_t counter);      /* [0, 1), 53 bits */
double ssli_rng_normal(uint64_t key, uint64_t counter);       /* N(0,1), Box-Muller on 2 draws */
uint64_t ssli_rng_below(uint64_t key, uint64_t counter, uint64_t n); /* uniform in [0, n) */

/* Sequential convenience stream over the counter-based generator. */
typedef struct ssli_rng {
    uint64_t key;
    uint64_t ctr;
} ssli_rng;
static inline void ssli_rng_init(ssli_rng *r, uint64_t seed, uint64_t stream) {
    r->key = ssli_rng_key(seed, stream, 0x5eed);
    r->ctr = 0;
}
static inline double ssli_rng_next_uniform(ssli_rng *r) { return ssli_rng_uniform(r->key, r->ctr++); }
static inline double ssli_rng_next_normal(ssli_rng *r) { return ssli_rng_normal(r->key, r->ctr++); }
static inline uint64_t ssli_rng_next_below(ssli_rng *r, uint64_t n) { return ssli_rng_below(r->key, r->ctr++, n); }
/* Fisher-Yates shuffle of idx[0..n) with the stream. */
void ssli_rng_shuffle(ssli_rng *r, size_t *idx, size_t n);

/* ---- settings -----------------------------------------------------------
 * Each layer declares its settings as a table; lib/core/settings.c looks
 * them up through ssli_setting_tables[], which the build generates from the
 * `const ssli_setting_table ssli_settings_*` definitions it finds
 * (lib/gen_settings_registry.py).  Handles store values in a double array
 * indexed by position in their table. */
typedef struct ssli_setting_def {
    int key;
    const char *name;
    sslk_setting_type type;
    double lo, hi, def;
    const char *doc;
} ssli_setting_def;

/* Names of a choice-valued integer setting: names[v - lo] names value v, one
 * per value of [lo, hi], NULL-terminated.  Listed per table (not per def) so
 * the many plain rows stay as they are. */
typedef struct ssli_setting_choices {
    int key; /* 0 ends the list */
    const char *const *names;
} ssli_setting_choices;

typedef struct ssli_setting_table {
    const char *domain;
    const ssli_setting_def *defs;
    size_t count;
    const ssli_setting_choices *choices; /* NULL when no setting has names */
} ssli_setting_table;

/* Look up key in table; returns index or -1. */
int ssli_setting_index(const ssli_setting_table *t, int key);
/* Validate and store a value into vals[] (sized t->count).  fn names the API call. */
sslk_status ssli_setting_set(const ssli_setting_table *t, double *vals, int key, double v,
                             sslk_setting_type as, const char *fn);
/* Settings are stored as doubles, which hold every integer only up to 2^53:
 * the _i64 setters (SSLI_SETTINGS_SETTERS below) refuse values beyond +-2^53
 * instead of storing a rounded one (2^53 + 1 would read back as 2^53). */
#define SSLI_SETTING_I64_EXACT ((int64_t)1 << 53)
sslk_status ssli_setting_check_i64(int64_t v, const char *fn);
sslk_status ssli_setting_get(const ssli_setting_table *t, const double *vals, int key,
                             double *v, const char *fn);
void ssli_setting_defaults(const ssli_setting_table *t, double *vals);
/* A stored value as int64 for the _get_i64 accessors: truncated toward zero
 * (what sslk_loss_get_i64 has always done for real settings), saturated
 * instead of overflowing. */
int64_t ssli_setting_to_i64(double v);
/* All tables, null-terminated (generated into settings_registry.c). */
extern const ssli_setting_table *const ssli_setting_tables[];

/* The typed accessors of a handle, defined once here so every handle has all
 * four with the same checks and messages.  A handle H supplies
 *   static sslk_status PUT(H *h, int key, double v, sslk_setting_type as, const char *fn);
 *   static sslk_status READ(const H *h, int key, double *v, const char *fn);
 * PUT checks h, its state and the value (usually through ssli_setting_set);
 * READ checks h and reads (ssli_setting_get refuses a NULL v).  PFX is the
 * public prefix (sslk_model); the _AT forms take one more argument of type AT
 * after the handle (a view, an optimizer group) and pass it on. */
#define SSLI_SETTINGS_SETTERS(H, PFX, PUT)                                                  \
    sslk_status PFX##_set_f64(H *h, int key, double value) {                               \
        return PUT(h, key, value, SSLK_SETTING_F64, #PFX "_set_f64");                      \
    }                                                                                      \
    sslk_status PFX##_set_i64(H *h, int key, int64_t value) {                              \
        SSLI_TRY(ssli_setting_check_i64(value, #PFX "_set_i64"));                          \
        return PUT(h, key, (double)value, SSLK_SETTING_I64, #PFX "_set_i64");              \
    }
#define SSLI_SETTINGS_GETTERS(H, PFX, READ)                                                 \
    sslk_status PFX##_get_f64(const H *h, int key, double *value) {                        \
        return READ(h, key, value, #PFX "_get_f64");                                       \
    }                                                                                      \
    sslk_status PFX##_get_i64(const H *h, int key, int64_t *value) {                       \
        double v = 0;                                                                      \
        SSLI_TRY(READ(h, key, value ? &v : NULL, #PFX "_get_i64"));                        \
        *value = ssli_setting_to_i64(v);                                                   \
        return SSLK_OK;                                                                    \
    }
#define SSLI_SETTINGS_ACCESSORS(H, PFX, PUT, READ)                                          \
    SSLI_SETTINGS_SETTERS(H, PFX, PUT)                                                     \
    SSLI_SETTINGS_GETTERS(H, PFX, READ)
#define SSLI_SETTINGS_SETTERS_AT(H, PFX, AT, PUT)                                           \
    sslk_status PFX##_set_f64(H *h, AT at, int key, double value) {                        \
        return PUT(h, at, key, value, SSLK_SETTING_F64, #PFX "_set_f64");                  \
    }                                                                                      \
    sslk_status PFX##_set_i64(H *h, AT at, int key, int64_t value) {                       \
        SSLI_TRY(ssli_setting_check_i64(value, #PFX "_set_i64"));                          \
        return PUT(h, at, key, (double)value, SSLK_SETTING_I64, #PFX "_set_i64");          \
    }
#define SSLI_SETTINGS_GETTERS_AT(H, PFX, AT, READ)                                          \
    sslk_status PFX##_get_f64(const H *h, AT at, int key, double *value) {                 \
        return READ(h, at, key, value, #PFX "_get_f64");                                   \
    }                                                                                      \
    sslk_status PFX##_get_i64(const H *h, AT at, int key, int64_t *value) {                \
        double v = 0;                                                                      \
        SSLI_TRY(READ(h, at, key, value ? &v : NULL, #PFX "_get_i64"));                    \
        *value = ssli_setting_to_i64(v);                                                   \
        return SSLK_OK;                                                                    \
    }
/* The common case: a handle whose values live in one array field of it. */
#define SSLI_SETTINGS_TABLE_ACCESSORS(H, PFX, TABLE, FIELD)                                 \
    static sslk_status PFX##_put_(H *h, int key, double v, sslk_setting_type as, const char *fn) { \
        if (!h) return ssli_err(SSLK_E_INVALID_ARG, "%s: the " #H " handle is NULL", fn);  \
        return ssli_setting_set(&(TABLE), h->FIELD, key, v, as, fn);                       \
    }                                                                                      \
    static sslk_status PFX##_read_(const H *h, int key, double *v, const char *fn) {       \
        if (!h) return ssli_err(SSLK_E_INVALID_ARG, "%s: the " #H " handle is NULL", fn);  \
        return ssli_setting_get(&(TABLE), h->FIELD, key, v, fn);                           \
    }                                                                                      \
    SSLI_SETTINGS_ACCESSORS(H, PFX, PFX##_put_, PFX##_read_)

/* ---- input validation ---------------------------------------------------- */
/* Returns the index of the first non-finite element or SIZE_MAX when all finite. */
size_t ssli_first_nonfinite_f32(const float *x, size_t n);
size_t ssli_first_nonfinite_f64(const double *x, size_t n);
/* SSLK_E_NONFINITE with a message naming fn, arg, and the row/column of the first bad value. */
sslk_status ssli_check_finite_f32(const float *x, size_t rows, size_t cols, const char *fn,
                                  const char *arg);

/* ---- threading ------------------------------------------------------------ */
static inline int ssli_threads(const sslk_ctx *ctx) { return ctx ? ctx->nthreads : 1; }

/* ---- file helpers ----------------------------------------------------------
 * Atomic write: open "<path>.tmp.<pid>.<random>" next to path (removing
 * those of killed writers, see atomic_tmp.h), caller writes, then commit =
 * fflush + fsync + rename + directory fsync (or abort = unlink).  Never
 * leaves a half-written file at path. */
typedef struct ssli_atomic_file {
    void *fp; /* FILE* */
    char *tmp_path;
    char *path;
} ssli_atomic_file;
sslk_status ssli_atomic_open(ssli_atomic_file *f, const char *path, const char *fn);
sslk_status ssli_atomic_write(ssli_atomic_file *f, const void *buf, size_t n, const char *fn);
sslk_status ssli_atomic_commit(ssli_atomic_file *f, const char *fn);
void ssli_atomic_abort(ssli_atomic_file *f);

#endif
