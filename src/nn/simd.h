/* simd.h — the vector types and target attributes of kres's own fp32 kernels (direct,
 * Winograd, the FFT path's small complex product).
 *
 * Each kernel is written once, in GCC's generic vector syntax, over a vector type and a
 * register-block size, and instantiated per instruction set (cpu_features.h's OwnIsa picks
 * one at run time): AVX2 (8 floats a vector, 16 registers) and AVX-512 (16 floats a vector,
 * or 8 in 32 registers). Every output element is one FMA chain over the same terms in the
 * same order in every build (the blocking only decides which elements share a pass), so all
 * builds give the same bits; the AVX-512 blocking compiled for AVX2 (OWN_ISA_AVX512_SHAPES)
 * lets a CPU without AVX-512 run and test everything but the instruction selection. */
#ifndef KRES_NN_SIMD_H
#define KRES_NN_SIMD_H

/* Register values (accumulators, loaded operands), and the unaligned views that load and
 * store them, allowed to alias the float arrays they point into. (Accumulators declared with
 * the view types made GCC copy registers around every multiply-add.) */
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf16 __attribute__((vector_size(64)));
typedef float vf8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float vf16u __attribute__((vector_size(64), aligned(4), may_alias));

#if defined(__x86_64__)
#include <immintrin.h>

#define KRES_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define KRES_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512vl")))

/* acc += a * b as one fused multiply-add (a: a float, broadcast; acc, b: vectors), written
 * out because the bits depend on it and GCC contracts `acc += a * b` only at -O2 and with
 * -ffp-contract=fast (off under -std=c11). FMA8 works in both targets (32 registers in the
 * AVX-512 one); FMA16_HALVES is the 16-float FMA as two AVX2 halves, for the AVX-512 blocking
 * compiled for AVX2 (a test build: acc and b must be lvalues). */
#define FMA8(acc, a, b)                                                                       \
    ((acc) = (vf8)_mm256_fmadd_ps(_mm256_set1_ps(a), (__m256)(b), (__m256)(acc)))
#define FMA16(acc, a, b)                                                                      \
    ((acc) = (vf16)_mm512_fmadd_ps(_mm512_set1_ps(a), (__m512)(b), (__m512)(acc)))
#define FMA16_HALVES(acc, a, b)                                                               \
    do {                                                                                      \
        vf8u *acc_ = (vf8u *)&(acc);                                                          \
        const vf8u *b_ = (const vf8u *)&(b);                                                  \
        FMA8(acc_[0], a, b_[0]);                                                              \
        FMA8(acc_[1], a, b_[1]);                                                              \
    } while (0)
#endif

#endif
