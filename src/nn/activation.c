/* activation.c — see activation.h. Elementwise loops: parallel only when large (no
 * reductions, so any thread count gives identical bits). */
#include "nn/activation.h"

#include <string.h>

#define PAR_MIN 65536

void relu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *act, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += act[i] > 0.0f ? dout[i] : 0.0f;
}

/* SplitMix64's output function: consecutive counters give independent-looking 64-bit
 * values, so element pairs can be drawn in any order and by any thread */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, Rng *rng) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        memset(mask, 1, n);
        return;
    }
    /* One draw from rng keys the call; the pair (2j, 2j+1) takes the two 32-bit halves of
     * mix64(key + (j + 1) * golden). Drawing every element from rng serially cost ~20 ms of
     * one core per batch-64 training step. Keep when u >= p * 2^32: probability 1 - p. */
    const uint64_t key = rng_u64(rng);
    const uint32_t thr = (uint32_t)((double)p * 4294967296.0);
    const float scale = 1.0f / (1.0f - p);
    const size_t npair = n / 2;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t j = 0; j < npair; j++) {
        const uint64_t r = mix64(key + (j + 1) * 0x9E3779B97F4A7C15ull);
        const uint8_t k0 = (uint32_t)r >= thr, k1 = (uint32_t)(r >> 32) >= thr;
        mask[2 * j] = k0;
        mask[2 * j + 1] = k1;
        out[2 * j] = k0 ? inp[2 * j] * scale : 0.0f;
        out[2 * j + 1] = k1 ? inp[2 * j + 1] * scale : 0.0f;
    }
    if (n % 2) { /* the last element: the low half of its pair's value */
        const uint8_t k = (uint32_t)mix64(key + (npair + 1) * 0x9E3779B97F4A7C15ull) >= thr;
        mask[n - 1] = k;
        out[n - 1] = k ? inp[n - 1] * scale : 0.0f;
    }
}

void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += mask[i] ? dout[i] * scale : 0.0f;
}
