/* libsslkit — core: export macro, version, status codes, context, settings.
 * SPDX-License-Identifier: BSD-3-Clause */
#ifndef SSLKIT_CORE_H
#define SSLKIT_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(SSLK_BUILDING)
#    define SSLK_API __declspec(dllexport)
#  else
#    define SSLK_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__)
#  define SSLK_API __attribute__((visibility("default")))
#else
#  define SSLK_API
#endif

/* Experimental tier (as zstd's ZSTD_STATIC_LINKING_ONLY).  Declarations in
 * `#ifdef SSLK_EXPERIMENTAL` sections are API on trial: exported under the
 * symbol version SSLKIT_EXPERIMENTAL with no ABI or API promise, they may
 * change or disappear in any minor release; a function graduates by moving to
 * a release node (then a program built against the trial must be rebuilt).
 * Define SSLK_EXPERIMENTAL before including sslkit headers to use them.  The
 * Python package binds them too and says so in their docstrings. */

/* Compile-time version.  SSLK_VERSION_NUMBER = 10000*major + 100*minor + patch. */
#define SSLK_VERSION_MAJOR 1
#define SSLK_VERSION_MINOR 2
#define SSLK_VERSION_PATCH 0
#define SSLK_VERSION_NUMBER \
    (SSLK_VERSION_MAJOR * 10000 + SSLK_VERSION_MINOR * 100 + SSLK_VERSION_PATCH)
#define SSLK_VERSION_STRING "1.2.0"

/** Run-time version number of the loaded library (compare with SSLK_VERSION_NUMBER). */
SSLK_API unsigned sslk_version_number(void);
/** Run-time version string of the loaded library, e.g. "1.0.0". */
SSLK_API const char *sslk_version_string(void);

/* Status codes.  Values are frozen: never renumbered, never reused. */
typedef enum sslk_status {
    SSLK_OK = 0,
    SSLK_E_INVALID_ARG = 1,  /**< NULL pointer or meaningless argument value */
    SSLK_E_SHAPE = 2,        /**< sizes disagree or are too small (e.g. n < 2) */
    SSLK_E_NOMEM = 3,        /**< allocation failed */
    SSLK_E_UNSUPPORTED = 4,  /**< valid request this build or kind cannot serve */
    SSLK_E_NONFINITE = 5,    /**< NaN or Inf in an input */
    SSLK_E_IO = 6,           /**< file could not be opened, read, written or renamed */
    SSLK_E_FORMAT = 7,       /**< malformed or truncated file contents */
    SSLK_E_STATE = 8,        /**< call not valid in the handle's current state */
    SSLK_E_RANGE = 9,        /**< index or label outside its valid range */
    SSLK_E_OVERFLOW = 10,    /**< a size computation would overflow */
    SSLK_E_NUMERIC = 11,     /**< numerical failure (no convergence, not positive definite) */
    SSLK_E_DEGENERATE = 12,  /**< input carries no information (e.g. all-zero matrix) */
    SSLK_E_DTYPE = 13,       /**< element type not accepted by this call */
    SSLK_E_SETTING = 14,     /**< unknown setting key, wrong type, or value out of bounds */
    SSLK_E_NOT_FOUND = 15,   /**< named item (file, dataset, tensor, setting) does not exist */
    SSLK_E_CANCELLED = 16,   /**< a user callback asked to stop */
    SSLK_E_INTERNAL = 17,    /**< bug in libsslkit: please report */
    SSLK_E_LIMIT = 18,       /**< request exceeds a context limit (SSLK_CTX_MAX_*); since 1.2 */
    SSLK_E_DIST = 19         /**< a collective of the context's table (sslkit/dist.h) failed; since 1.2 */
} sslk_status;

/** Static, never-NULL name of a status code, e.g. "SSLK_E_SHAPE". */
SSLK_API const char *sslk_status_str(sslk_status s);

/** Thread-local sentence describing the last failure on this thread (names the
 *  argument and the offending values).  Empty string when none.  Valid until
 *  the next failing libsslkit call on the same thread. */
SSLK_API const char *sslk_last_error(void);

/** Opaque context: thread count, allocator, log callback, seed.
 *
 *  Thread safety (every handle kind; each header states its own case):
 *  - The library has no global mutable state; error messages are per thread.
 *  - A context is read-only after set-up: handles read its thread count,
 *    seed, allocator, log callback and limits at each call and never write
 *    it.  So different handles made from one context may be used from
 *    different threads at the same time.  Calling a context setter while
 *    another thread uses a handle made from it is a data race: configure
 *    first.  The log callback and a custom allocator may be called from
 *    several threads at once and must be thread-safe.
 *  - One handle: calls taking a `const` handle are read-only queries and may
 *    run concurrently with each other (exceptions: sslk_model_*); any call
 *    taking a non-const handle (compute, forward/backward, step, next, fit,
 *    predict, set_*) writes state or scratch and needs exclusive use: the
 *    caller serialises it (the Python binding does, with one lock per object).
 *  - A handle that points into another (a loader, subset or trainer into its
 *    dataset, an optimizer into the tensors of its model or loss, a POLICE
 *    constraint into its model) uses it during its own calls: the target must
 *    not be written or destroyed meanwhile, and is destroyed after it. */
typedef struct sslk_ctx sslk_ctx;

/** Custom allocator.  alloc must return memory aligned to at least `align`
 *  (a power of two <= 4096); free accepts NULL. */
typedef struct sslk_allocator {
    size_t struct_size; /**< set to sizeof(sslk_allocator) */
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
} sslk_allocator;

typedef enum sslk_log_level {
    SSLK_LOG_DEBUG = 10,
    SSLK_LOG_INFO = 20,
    SSLK_LOG_WARN = 30,
    SSLK_LOG_ERROR = 40
} sslk_log_level;

/** Log callback: receives one complete line without trailing newline. */
typedef void (*sslk_log_fn)(void *user, sslk_log_level level, const char *msg);

/** Create a context with 1 thread, the C allocator, no logging, seed 0. */
SSLK_API sslk_status sslk_ctx_create(sslk_ctx **out);
/** Destroy a context (NULL accepted).  Destroy every handle made from it first. */
SSLK_API void sslk_ctx_destroy(sslk_ctx *ctx);
/** Thread count for the library's parallel loops and for BLIS (1..SSLK_MAX_THREADS).
 *  0 means "the number of online processors". */
SSLK_API sslk_status sslk_ctx_set_threads(sslk_ctx *ctx, int nthreads);
/** Current thread count (>= 1). */
SSLK_API int sslk_ctx_get_threads(const sslk_ctx *ctx);
#define SSLK_MAX_THREADS 1024
/** Replace the allocator (NULL restores the C allocator).  Only before any handle exists. */
SSLK_API sslk_status sslk_ctx_set_allocator(sslk_ctx *ctx, const sslk_allocator *a);
/** Route diagnostics with level >= min_level to fn (NULL disables logging). */
SSLK_API void sslk_ctx_set_log(sslk_ctx *ctx, sslk_log_fn fn, void *user,
                               sslk_log_level min_level);
/** Default seed for handles created from this context. */
SSLK_API void sslk_ctx_set_seed(sslk_ctx *ctx, uint64_t seed);
SSLK_API uint64_t sslk_ctx_get_seed(const sslk_ctx *ctx);

#ifdef SSLK_EXPERIMENTAL
/* ---- Context limits (experimental, since 1.2) ------------------------------
 * A memory budget checked before anything is allocated, in the spirit of
 * libpng's user limits and zstd's window limit: a tiny hostile input (a JPEG
 * header claiming 16384 x 16384, a gzip bomb, an absurd layer width) is
 * refused with SSLK_E_LIMIT and a message naming the limit and its setting,
 * instead of asking the system for gigabytes.  0 means "no limit" (a hard cap
 * of 64 TiB per allocation always holds).  Handles read the limits of their
 * context at each call, so raising one takes effect at once. */
typedef enum sslk_ctx_setting {
    SSLK_CTX_MAX_ALLOC_BYTES = 2600, /**< I64 bytes in one allocation, default 2^34 (16 GiB) */
    SSLK_CTX_MAX_IMAGE_PIXELS = 2601, /**< I64 width x height of one decoded image,
                                          default 89478485 (Pillow's MAX_IMAGE_PIXELS) */
    SSLK_CTX_MAX_FILE_BYTES = 2602   /**< I64 bytes one file may expand to when read whole
                                          (decompressed gzip, NPY/IDX payloads), default 2^31 */
} sslk_ctx_setting;

/** Set / get an integer context setting (SSLK_CTX_*); bounds via sslk_setting_info.
 *  Experimental since 1.2. */
SSLK_API sslk_status sslk_ctx_set_i64(sslk_ctx *ctx, int key, int64_t value);
SSLK_API sslk_status sslk_ctx_get_i64(const sslk_ctx *ctx, int key, int64_t *value);
/** Real-valued access to the same settings (they are all integers; a real
 *  value must be whole).  Experimental since 1.2. */
SSLK_API sslk_status sslk_ctx_set_f64(sslk_ctx *ctx, int key, double value);
SSLK_API sslk_status sslk_ctx_get_f64(const sslk_ctx *ctx, int key, double *value);

/* ---- Names of choice-valued settings (experimental, since 1.2) -------------
 * Integer settings that pick one of a few behaviours (kNN weighting, MSN
 * prior, loader on_corrupt, ...) name their values, so bindings and the CLI
 * need not copy enums: value v of such a setting is named
 * sslk_setting_choice(key, v), and every v in [lo, hi] has a name.
 * Settings without names (counts, 0/1 flags) give SSLK_E_NOT_FOUND. */
/** Name of value `value` of setting `key` (static storage); SSLK_E_RANGE
 *  when value is outside the setting's bounds. */
SSLK_API sslk_status sslk_setting_choice(int key, int64_t value, const char **name);
/** Value of setting `key` named `name`; SSLK_E_NOT_FOUND when no value has it. */
SSLK_API sslk_status sslk_setting_choice_find(int key, const char *name, int64_t *value);
#endif /* SSLK_EXPERIMENTAL */

#ifdef SSLK_EXPERIMENTAL
/* ---- Dense kernels (experimental, issue 16) --------------------------------
 * Which BLIS micro-kernels the library's products run (docs/performance.md
 * "Dense kernels"; $SSLKIT_KERNELS in docs/building.md). */
/** One line of space-separated key=value pairs, e.g. "kernels=avx512
 *  default=avx512 override=none cpu_isa=avx512 blis_version=0.9.0
 *  blis_arch=haswell sgemm_tile=24x16 dgemm_tile=14x16 gemm_threading=auto":
 *  the active kernel set
 *  (blis, avx2, avx512, neon), the one chosen without $SSLKIT_KERNELS, that
 *  variable's value ("none", or "invalid:VALUE" when it names no set this
 *  machine runs), the CPU's vector ISA (avx512, avx2, neon+sve, neon, none),
 *  BLIS's version and run-time configuration, the register tiles
 *  (rows x columns of C), and how multi-threaded products use the threads
 *  (auto, split or blis: $SSLKIT_GEMM_THREADING, "invalid:VALUE" when unknown;
 *  auto runs BLIS's own threading from 4 threads, blocks of single-thread
 *  calls below).  Keys are only ever added.  Thread-local storage,
 *  valid until the next call on the same thread.  Experimental since 1.2. */
SSLK_API const char *sslk_linalg_info(void);
#endif /* SSLK_EXPERIMENTAL */

/* ---- Settings introspection -------------------------------------------
 * Settings of every handle family are keyed by an int from a family enum
 * (values grouped by hundreds, frozen).  Their names, types, bounds and
 * defaults can be queried so bindings can be generic.  Bounds are inclusive;
 * a value outside them is refused with SSLK_E_SETTING, never clamped. */
typedef enum sslk_setting_type {
    SSLK_SETTING_F64 = 1, /**< real number */
    SSLK_SETTING_I64 = 2, /**< integer (also booleans 0/1 and enum choices) */
} sslk_setting_type;

/** Describe a setting key: name (lower_snake_case), domain (e.g. "vicreg"),
 *  type, inclusive bounds and default.  Any out pointer may be NULL.
 *  SSLK_E_SETTING for an unknown key. */
SSLK_API sslk_status sslk_setting_info(int key, const char **name, const char **domain,
                                       sslk_setting_type *type, double *lo, double *hi,
                                       double *def);
/** One-line documentation of a setting ("" when unknown). */
SSLK_API const char *sslk_setting_doc(int key);
/** Find a key by domain and name.  SSLK_E_NOT_FOUND when none matches. */
SSLK_API sslk_status sslk_setting_find(const char *domain, const char *name, int *key);
/** Write up to cap keys of a domain into keys (may be NULL when cap is 0);
 *  returns the total count in *count. */
SSLK_API sslk_status sslk_setting_list(const char *domain, int *keys, size_t cap,
                                       size_t *count);

#ifdef __cplusplus
}
#endif
#endif
