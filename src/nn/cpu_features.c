/* cpu_features.c — see cpu_features.h. */
#include "nn/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define KRES_X86 1
#endif

static CpuFeatures g_feat;
static char g_summary[256];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static void detect(void) {
    CpuFeatures *f = &g_feat;
    memset(f, 0, sizeof *f);
#ifdef KRES_X86
    unsigned a, b, c, d;
    unsigned long long xcr0 = 0;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        f->fma = (c >> 12) & 1;
        if ((c >> 27) & 1) { /* OSXSAVE: XGETBV tells which register files the OS saves */
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            xcr0 = ((unsigned long long)hi << 32) | lo;
        }
    }
    int os_avx = (xcr0 & 0x6) == 0x6;            /* XMM + YMM state */
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    int os_amx = (xcr0 & 0x60000) == 0x60000;     /* XTILECFG + XTILEDATA */
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f->avx2 = os_avx && ((b >> 5) & 1);
        f->avx512f = os_avx512 && ((b >> 16) & 1);
        f->avx512vl = f->avx512f && ((b >> 31) & 1);
        f->amx_bf16 = os_amx && ((d >> 22) & 1) && ((d >> 24) & 1); /* AMX-BF16 + AMX-TILE */
        if (a >= 1 && __get_cpuid_count(7, 1, &a, &b, &c, &d))
            f->avx512_bf16 = f->avx512f && ((a >> 5) & 1);
    }
    f->fma = f->fma && f->avx2;
#endif
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    f->dnnl_isa = (int)isa;
    f->dnnl_isa_name = isa_name(isa);
    snprintf(g_summary, sizeof g_summary, "%s, %s, %s, %s; oneDNN ISA %s",
             f->avx2 ? (f->fma ? "AVX2+FMA" : "AVX2") : "no AVX2",
             f->avx512f ? "AVX-512" : "no AVX-512",
             f->avx512_bf16 ? "AVX512-BF16" : "no AVX512-BF16",
             f->amx_bf16 ? "AMX-BF16" : "no AMX-BF16", f->dnnl_isa_name);
}

const CpuFeatures *cpu_features(void) {
    pthread_once(&g_once, detect);
    return &g_feat;
}

int cpu_has_fast_bf16(void) {
    const CpuFeatures *f = cpu_features();
    const char *force = getenv("KRES_FORCE_NO_BF16");
    if (force && *force && strcmp(force, "0") != 0) return 0;
    /* oneDNN's effective ISA must include bf16 instructions too (it may be capped). */
    int dnnl_bf16 = f->dnnl_isa == dnnl_cpu_isa_avx512_core_bf16 ||
                    f->dnnl_isa == dnnl_cpu_isa_avx512_core_amx;
    return (f->avx512_bf16 || f->amx_bf16) && dnnl_bf16;
}

const char *cpu_features_summary(void) {
    cpu_features();
    return g_summary;
}

int cpu_avx2_kernels_enabled(const char *env) {
    const CpuFeatures *f = cpu_features();
    const char *e = env ? getenv(env) : NULL;
    return f->avx2 && f->fma && !(e && strcmp(e, "0") == 0);
}

/* The automatic choice, made once: the kernels ask for it per call, from any thread. */
static OwnIsa g_auto_isa;
static int g_has_avx512_kernels;
static pthread_once_t g_isa_once = PTHREAD_ONCE_INIT;
static int g_forced_isa = -1;

static void choose_isa(void) {
    const CpuFeatures *f = cpu_features();
    const char *e = getenv("KRES_AVX512_KERNELS");
    g_has_avx512_kernels = f->avx512f && f->avx512vl && f->fma;
    g_auto_isa = g_has_avx512_kernels && e && strcmp(e, "1") == 0 ? OWN_ISA_AVX512 : OWN_ISA_AVX2;
}

void own_kernels_force_isa(int isa) { g_forced_isa = isa; }

OwnIsa own_kernels_isa(void) {
    pthread_once(&g_isa_once, choose_isa);
    if (g_forced_isa == OWN_ISA_AVX2 || g_forced_isa == OWN_ISA_AVX512_SHAPES)
        return (OwnIsa)g_forced_isa;
    if (g_forced_isa == OWN_ISA_AVX512 && g_has_avx512_kernels) return OWN_ISA_AVX512;
    return g_auto_isa;
}

const char *own_kernels_isa_name(OwnIsa isa) {
    return isa == OWN_ISA_AVX512          ? "avx512"
           : isa == OWN_ISA_AVX512_SHAPES ? "avx512-shapes-on-avx2"
                                          : "avx2";
}
