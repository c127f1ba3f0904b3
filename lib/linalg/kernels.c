/* Which dense kernels run: BLIS's own choice, or the library's micro-kernels
 * registered in a copy of BLIS's native context (BLIS 0.9's documented way to
 * bring kernels: bli_cntx_set_l3_nat_ukrs and bli_cntx_set_blkszs, then the
 * context goes to every bli_?gemm_ex / syrk / gemv call in blas.c).  BLIS keeps
 * the packing, the blocking loops and its small-matrix (sup) path.
 *
 * Chosen once per process, at the first dense product or context creation:
 * SSLKIT_KERNELS=blis|avx2|avx512|neon forces a set; otherwise the rule in
 * choose_default().  An unknown or unsupported value is an error at
 * sslk_ctx_create (ssli_kernels_check) and leaves the default set running.
 * SPDX-License-Identifier: BSD-3-Clause */
#include "linalg_impl.h"
#include "ukr.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kernel_names[SSLI_KERNELS_COUNT] = {"blis", "avx2", "avx512", "neon"};

enum { ENV_OK, ENV_UNKNOWN, ENV_UNSUPPORTED };

static struct {
    pthread_once_t once;
    ssli_cpu_features cpu;
    bool have[SSLI_KERNELS_COUNT];
    ssli_kernels dflt;
    int env_state;
    char env_value[32];
    _Atomic int active;
    cntx_t avx512;
    cntx_t neon;
} K = {.once = PTHREAD_ONCE_INIT};

/* BLIS configurations whose level-3 kernels are AVX2 + FMA. */
static bool blis_arch_is_avx2(void) {
    static const char *const avx2[] = {"haswell", "zen", "zen2", "zen3"};
    const char *a = bli_arch_string(bli_arch_query_id());
    for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; i++)
        if (strcmp(a, avx2[i]) == 0) return true;
    return false;
}

static bool blis_arch_is_avx512(void) {
    const char *a = bli_arch_string(bli_arch_query_id());
    return strcmp(a, "skx") == 0 || strcmp(a, "knl") == 0;
}

/* BLIS's portable configuration: reference (plain C) kernels, no SIMD. */
static bool blis_arch_is_generic(void) { return strcmp(bli_arch_string(bli_arch_query_id()), "generic") == 0; }

#if defined(__x86_64__)
/* Cache blocking of the AVX-512 set, tuned on the 2-core Zen 4 (1 MB L2) with
 * bench_gemm at 1 thread (with the earlier 12 x 32 float tile): KC 128 -> 512
 * took the 1024^3 sgemm from ~86% to ~96% of BLIS's rate (fewer passes over
 * C, each kernel call's set-up amortised over more FMAs); the B micro-panel
 * (KC x NR: 32 KB) then mostly lives in L2 rather than L1, which one or two
 * vector loads per 24-28 FMAs allow.  MC keeps the packed A block (MC x KC)
 * within L2.  Not tuned on an Intel server. */
#define AVX512_S_MC 360
#define AVX512_S_KC 512
#define AVX512_S_NC 4096
#define AVX512_D_MC 224
#define AVX512_D_KC 512
#define AVX512_D_NC 4096
#endif

#if defined(__aarch64__)
/* Cache blocking of the NEON set.  Not measured (no Arm machine was at hand;
 * the set is tested under qemu, whose timings mean nothing): chosen for the
 * common server cores' 64 KB L1D and 1 MB private L2 (Neoverse N1 / V1 / N2,
 * Graviton 2 / 3, Ampere Altra), and so that a 32 KB L1D (Cortex-A57 / A72)
 * still holds the B micro-panel.  KC x NR of B (float 512 x 12, double 256 x 6:
 * 24 / 12 KB) stays in L1 while the kernel streams A; the packed A block
 * (MC x KC: 480 / 240 KB) within half of L2; NC as BLIS's armv8a configs.
 * BLIS 0.9's own cortexa57 values for comparison: MC 120 / 120, KC 640 / 240,
 * NC 3072 / 3072 (float / double); its firestorm (Apple M1): 480 / 256,
 * 4096 / 3072, 9600 / 8184. */
#define NEON_S_MC 240
#define NEON_S_KC 512
#define NEON_S_NC 3072
#define NEON_D_MC 120
#define NEON_D_KC 256
#define NEON_D_NC 3072
#endif

#if defined(__x86_64__) || defined(__aarch64__)
/* Replaces the s and d entries of one blocksize, keeping the complex ones. */
static void set_bs(blksz_t *b, dim_t s, dim_t d) {
    bli_blksz_set_def(s, BLIS_FLOAT, b);
    bli_blksz_set_max(s, BLIS_FLOAT, b);
    bli_blksz_set_def(d, BLIS_DOUBLE, b);
    bli_blksz_set_max(d, BLIS_DOUBLE, b);
}

/* BLIS 0.9 stores kernels as void *; ISO C has no cast from a function
 * pointer to it, POSIX guarantees the representation. */
static void_fp fp_of(void (*f)(void)) {
    void_fp p;
    memcpy(&p, &f, sizeof p);
    return p;
}

/* A copy of BLIS's native context with the set's float and double gemm
 * micro-kernels (both row-preferred) and blocksizes {MR, NR, MC, KC, NC}. */
static void build_cntx(cntx_t *c, void (*sukr)(void), void (*dukr)(void), const dim_t s[5],
                       const dim_t d[5]) {
    *c = *bli_gks_query_cntx();
    bli_cntx_set_l3_nat_ukrs(2, BLIS_GEMM_UKR, BLIS_FLOAT, fp_of(sukr), TRUE, BLIS_GEMM_UKR, BLIS_DOUBLE,
                             fp_of(dukr), TRUE, c);
    blksz_t mr = *bli_cntx_get_blksz(BLIS_MR, c), nr = *bli_cntx_get_blksz(BLIS_NR, c);
    blksz_t mc = *bli_cntx_get_blksz(BLIS_MC, c), kc = *bli_cntx_get_blksz(BLIS_KC, c);
    blksz_t nc = *bli_cntx_get_blksz(BLIS_NC, c);
    set_bs(&mr, s[0], d[0]);
    set_bs(&nr, s[1], d[1]);
    set_bs(&mc, s[2], d[2]);
    set_bs(&kc, s[3], d[3]);
    set_bs(&nc, s[4], d[4]);
    bli_cntx_set_blkszs(BLIS_NAT, 5, BLIS_NC, &nc, BLIS_NR, BLIS_KC, &kc, BLIS_KR, BLIS_MC, &mc,
                        BLIS_MR, BLIS_NR, &nr, BLIS_NR, BLIS_MR, &mr, BLIS_MR, c);
}
#endif

#if defined(__x86_64__)
static void build_avx512(cntx_t *c) {
    static const dim_t s[5] = {SSLI_AVX512_S_MR, SSLI_AVX512_S_NR, AVX512_S_MC, AVX512_S_KC, AVX512_S_NC};
    static const dim_t d[5] = {SSLI_AVX512_D_MR, SSLI_AVX512_D_NR, AVX512_D_MC, AVX512_D_KC, AVX512_D_NC};
    build_cntx(c, (void (*)(void))ssli_sgemm_avx512_24x16, (void (*)(void))ssli_dgemm_avx512_14x16, s, d);
}
#endif

#if defined(__aarch64__)
static void build_neon(cntx_t *c) {
    static const dim_t s[5] = {SSLI_NEON_S_MR, SSLI_NEON_S_NR, NEON_S_MC, NEON_S_KC, NEON_S_NC};
    static const dim_t d[5] = {SSLI_NEON_D_MR, SSLI_NEON_D_NR, NEON_D_MC, NEON_D_KC, NEON_D_NC};
    build_cntx(c, (void (*)(void))ssli_sgemm_neon_8x12, (void (*)(void))ssli_dgemm_neon_8x6, s, d);
}
#endif

/* The default: BLIS's own kernels unless it runs AVX2 kernels on a CPU with
 * full-rate AVX-512 (an Intel server it does not recognise), or, on Arm, it
 * fell back to its plain-C "generic" configuration (a build or CPU it has no
 * Arm kernels for).  Where BLIS has an Arm configuration (cortexa53/57,
 * thunderx2, firestorm, armsve, a64fx) its kernels stay the default: the NEON
 * set has not been timed on Arm hardware, so it replaces only reference C. */
static ssli_kernels choose_default(void) {
    if (K.have[SSLI_KERNELS_AVX512] && !blis_arch_is_avx512() &&
        strcmp(K.cpu.vendor, "GenuineIntel") == 0)
        return SSLI_KERNELS_AVX512;
    if (K.have[SSLI_KERNELS_NEON] && blis_arch_is_generic()) return SSLI_KERNELS_NEON;
    return SSLI_KERNELS_BLIS;
}

static void init_once(void) {
    ssli_cpu_detect(&K.cpu);
    K.have[SSLI_KERNELS_BLIS] = true;
    K.have[SSLI_KERNELS_AVX2] = blis_arch_is_avx2();
#if defined(__x86_64__)
    if (K.cpu.avx512f && K.cpu.avx512dq && K.cpu.avx512bw && K.cpu.avx512vl) {
        build_avx512(&K.avx512);
        K.have[SSLI_KERNELS_AVX512] = true;
    }
#endif
#if defined(__aarch64__)
    if (K.cpu.neon) {
        build_neon(&K.neon);
        K.have[SSLI_KERNELS_NEON] = true;
    }
#endif
    K.dflt = choose_default();
    int active = (int)K.dflt;
    const char *e = getenv("SSLKIT_KERNELS");
    if (e && *e) {
        snprintf(K.env_value, sizeof K.env_value, "%s", e);
        int found = -1;
        for (int i = 0; i < SSLI_KERNELS_COUNT; i++)
            if (strcmp(e, kernel_names[i]) == 0) found = i;
        if (found < 0)
            K.env_state = ENV_UNKNOWN;
        else if (!K.have[found])
            K.env_state = ENV_UNSUPPORTED;
        else
            active = found;
    }
    atomic_store(&K.active, active);
}

static void init(void) { pthread_once(&K.once, init_once); }

const char *ssli_kernels_name(ssli_kernels k) {
    return (unsigned)k < SSLI_KERNELS_COUNT ? kernel_names[k] : "?";
}

bool ssli_kernels_supported(ssli_kernels k) {
    init();
    return (unsigned)k < SSLI_KERNELS_COUNT && K.have[k];
}

ssli_kernels ssli_kernels_active(void) {
    init();
    return (ssli_kernels)atomic_load(&K.active);
}

ssli_kernels ssli_kernels_default(void) {
    init();
    return K.dflt;
}

sslk_status ssli_kernels_force(ssli_kernels k) {
    init();
    if ((unsigned)k >= SSLI_KERNELS_COUNT)
        return ssli_err(SSLK_E_INVALID_ARG, "ssli_kernels_force: k = %d is not a kernel set", (int)k);
    if (!K.have[k])
        return ssli_err(SSLK_E_UNSUPPORTED, "ssli_kernels_force: kernel set '%s' is not available here",
                        kernel_names[k]);
    atomic_store(&K.active, (int)k);
    return SSLK_OK;
}

const char *ssli_cpu_isa(void) {
    init();
    if (K.cpu.avx512f && K.cpu.avx512dq && K.cpu.avx512bw && K.cpu.avx512vl) return "avx512";
    if (K.cpu.avx2_fma) return "avx2";
    if (K.cpu.sve) return "neon+sve";
    if (K.cpu.neon) return "neon";
    return "none";
}

static void list_available(char *buf, size_t n) {
    buf[0] = '\0';
    for (int i = 0; i < SSLI_KERNELS_COUNT; i++)
        if (K.have[i]) {
            size_t l = strlen(buf);
            snprintf(buf + l, n - l, "%s%s", l ? ", " : "", kernel_names[i]);
        }
}

bool ssli_kernels_env_valid(void) {
    init();
    return K.env_state == ENV_OK;
}

sslk_status ssli_kernels_check(void) {
    init();
    char avail[64];
    list_available(avail, sizeof avail);
    if (K.env_state == ENV_UNKNOWN)
        return ssli_err(SSLK_E_INVALID_ARG,
                        "SSLKIT_KERNELS = '%s' is not a kernel set: use blis, avx2, avx512 or neon "
                        "(available here: %s)",
                        K.env_value, avail);
    if (K.env_state == ENV_UNSUPPORTED)
        return ssli_err(SSLK_E_UNSUPPORTED,
                        "SSLKIT_KERNELS = '%s': this CPU or build cannot run that set "
                        "(CPU ISA %s, BLIS config %s; available here: %s)",
                        K.env_value, ssli_cpu_isa(), ssli_blis_arch(), avail);
    return SSLK_OK;
}

void *ssli_kernels_cntx(void) {
    init();
#if defined(__x86_64__)
    if (atomic_load(&K.active) == SSLI_KERNELS_AVX512) return &K.avx512;
#endif
#if defined(__aarch64__)
    if (atomic_load(&K.active) == SSLI_KERNELS_NEON) return &K.neon;
#endif
    return NULL; /* BLIS's own context ("blis"; "avx2" is BLIS's when it runs AVX2 kernels) */
}

void ssli_kernels_blocksizes(ssli_kernels k, bool dbl, size_t bs[5]) {
    init();
    cntx_t *c = NULL;
#if defined(__x86_64__)
    if (k == SSLI_KERNELS_AVX512 && K.have[k]) c = &K.avx512;
#endif
#if defined(__aarch64__)
    if (k == SSLI_KERNELS_NEON && K.have[k]) c = &K.neon;
#endif
    if (!c) c = bli_gks_query_cntx();
    const num_t dt = dbl ? BLIS_DOUBLE : BLIS_FLOAT;
    const bszid_t ids[5] = {BLIS_MR, BLIS_NR, BLIS_MC, BLIS_KC, BLIS_NC};
    for (int i = 0; i < 5; i++) bs[i] = (size_t)bli_cntx_get_blksz_def_dt(dt, ids[i], c);
}
