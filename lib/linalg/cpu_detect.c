/* What vector ISA the CPU offers, for the kernel choice in kernels.c.
 * x86-64: CPUID leaves 1 and 7 for the instructions, XGETBV for whether the
 * OS saves the YMM / ZMM state (without it the instructions fault).
 * aarch64: the kernel's hardware capabilities (getauxval).
 * SPDX-License-Identifier: BSD-3-Clause */
#include "ukr.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void ssli_cpu_detect(ssli_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    const unsigned maxleaf = a;
    memcpy(f->vendor, &b, 4);
    memcpy(f->vendor + 4, &d, 4);
    memcpy(f->vendor + 8, &c, 4);
    f->vendor[12] = '\0';
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const unsigned base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    f->family = (int)(base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family);
    f->model = (int)(base_family >= 6 ? base_model | (((a >> 16) & 0xF) << 4) : base_model);
    const bool osxsave = c & (1u << 27), fma = c & (1u << 12), avx = c & (1u << 28);
    if (!osxsave || !avx) return;
    const unsigned long long xcr0 = xgetbv0();
    const bool os_ymm = (xcr0 & 0x6) == 0x6;           /* SSE and AVX state */
    const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    if (!os_ymm || maxleaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2_fma = fma && (b & (1u << 5));
    if (!os_zmm) return;
    f->avx512f = b & (1u << 16);
    f->avx512dq = b & (1u << 17);
    f->avx512bw = b & (1u << 30);
    f->avx512vl = b & (1u << 31);
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1 << 22)
#endif

void ssli_cpu_detect(ssli_cpu_features *f) {
    memset(f, 0, sizeof *f);
    const unsigned long hw = getauxval(AT_HWCAP);
    f->neon = hw & HWCAP_ASIMD;
    f->sve = hw & HWCAP_SVE;
}

#else
void ssli_cpu_detect(ssli_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif
