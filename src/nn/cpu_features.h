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
    int avx512vl;           /* AVX-512 on 256-bit vectors (32 ymm registers), OS-enabled */
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

/* Which build of kres's own fp32 kernels runs (simd.h): AVX2, the default wherever
 * cpu_avx2_kernels_enabled; AVX-512 where the CPU has AVX-512F+VL and KRES_AVX512_KERNELS=1
 * (opt-in until its speed is measured on such a CPU: it gives the same bits); or the
 * AVX-512 blocking compiled for AVX2, which only a test asks for. */
typedef enum { OWN_ISA_AVX2 = 0, OWN_ISA_AVX512 = 1, OWN_ISA_AVX512_SHAPES = 2 } OwnIsa;
OwnIsa own_kernels_isa(void);
const char *own_kernels_isa_name(OwnIsa isa);

/* Tests: force a build (-1: back to the automatic choice). Forcing OWN_ISA_AVX512 on a CPU
 * without it is ignored (the automatic choice stays). Not thread-safe: call between
 * forwards. */
void own_kernels_force_isa(int isa);

/* One line for logs, e.g. "AVX2+FMA, no AVX-512, no AVX512-BF16, no AMX-BF16; oneDNN ISA avx2". */
const char *cpu_features_summary(void);

#endif
