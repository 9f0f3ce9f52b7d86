/* elementwise.c — see elementwise.h. */
#include "nn/elementwise.h"

#include <string.h>

/* Below this many floats one thread is faster than waking the team. */
#define PAR_MIN 65536
/* zero and copy go by chunks through memset/memcpy (the C library's best stores) */
#define CHUNK 16384

void par_zero(float *x, size_t n) {
    const size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t c = 0; c < nc; c++) {
        const size_t a = c * CHUNK, len = n - a < CHUNK ? n - a : CHUNK;
        memset(x + a, 0, len * sizeof(float));
    }
}

void par_copy(float *dst, const float *src, size_t n) {
    const size_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t c = 0; c < nc; c++) {
        const size_t a = c * CHUNK, len = n - a < CHUNK ? n - a : CHUNK;
        memcpy(dst + a, src + a, len * sizeof(float));
    }
}

void par_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for simd schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
