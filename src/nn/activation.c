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

void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, Rng *rng) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    if (p == 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        memset(mask, 1, n);
        return;
    }
    /* Two 32-bit draws per rng_u64, consumed serially: the mask depends on the seed only.
     * Keep when u >= p * 2^32, i.e. with probability 1 - p (to within 2^-32). */
    uint32_t thr = (uint32_t)((double)p * 4294967296.0);
    size_t i = 0;
    while (i < n) {
        uint64_t r = rng_u64(rng);
        mask[i] = (uint32_t)r >= thr;
        i++;
        if (i < n) {
            mask[i] = (uint32_t)(r >> 32) >= thr;
            i++;
        }
    }
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t j = 0; j < n; j++) out[j] = mask[j] ? inp[j] * scale : 0.0f;
}

void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += mask[i] ? dout[i] * scale : 0.0f;
}
