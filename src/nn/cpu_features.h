/* cpu_features.h — what the CPU (and the OS, and oneDNN) can do, detected at run time.
 *
 * Used to pick the numeric precision: bf16 compute is only worth it where the hardware
 * has bf16 dot products (AVX512-BF16 on Cooper Lake / Zen 4 and later, AMX-BF16 on
 * Sapphire Rapids and later). Elsewhere oneDNN would emulate bf16 (AVX-512 without BF16)
 * or run a reference kernel (AVX2), both slower than fp32, so callers fall back to fp32
 * and say so (cpu_features_summary gives the words).
 *
 * Detection: CPUID leaf 7 for the instruction sets, XGETBV for the register state the OS
 * saves (an ISA the OS does not enable is unusable), and oneDNN's effective ISA, which
 * also honours ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA limits set in the environment. */
#ifndef KRES_NN_CPU_FEATURES_H
#define KRES_NN_CPU_FEATURES_H

typedef struct {
    int avx2, fma;          /* 256-bit fp32 FMA */
    int avx512f;            /* AVX-512 foundation, OS-enabled */
    int avx512_bf16;        /* VDPBF16PS, OS-enabled */
    int amx_bf16;           /* AMX tiles with bf16 TDPBF16PS, OS-enabled */
    int dnnl_isa;           /* dnnl_get_effective_cpu_isa() (a dnnl_cpu_isa_t value) */
    const char *dnnl_isa_name; /* "avx2", "avx512_core_bf16", "avx512_core_amx", ... */
} CpuFeatures;

/* Detected once (thread-safe), then cached. */
const CpuFeatures *cpu_features(void);

/* 1 where bf16 convolutions run natively: the CPU and OS have AVX512-BF16 or AMX-BF16 and
 * oneDNN may use them. KRES_FORCE_NO_BF16=1 in the environment makes it 0 (for testing
 * the fallback on a machine that has bf16). */
int cpu_has_fast_bf16(void);

/* 1 where kres's hand-written AVX2+FMA kernels may run: the CPU and OS have AVX2 and FMA, and
 * the environment variable `env` (e.g. "KRES_CONV_DIRECT") is not "0" (a switch for comparing
 * against the other paths). Always 0 off x86-64. */
int cpu_avx2_kernels_enabled(const char *env);

/* One line for logs, e.g. "AVX2+FMA, no AVX-512, no AVX512-BF16, no AMX-BF16; oneDNN ISA avx2". */
const char *cpu_features_summary(void);

#endif
