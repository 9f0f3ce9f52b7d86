/* pool.c — see pool.h. */
#include "nn/pool.h"

#include <math.h>
#include <stddef.h>

#include "common/util.h"

int maxpool1d_out_len(int L, int S) {
    KRES_ASSERT(S >= 1 && L >= S);
    return L / S;
}

/* One row with the exact NaN rule: strict > keeps the first maximum; the first NaN wins and
 * nothing replaces it. */
static void maxpool_row_nan(float *out, int32_t *idx, const float *x, int Lo, int S) {
    for (int t = 0; t < Lo; t++) {
        int best = t * S;
        float bv = x[best];
        for (int j = t * S + 1; j < t * S + S && !isnan(bv); j++)
            if (x[j] > bv || isnan(x[j])) {
                bv = x[j];
                best = j;
            }
        out[t] = bv;
        idx[t] = best;
    }
}

void maxpool1d_forward(float *out, int32_t *idx, const float *inp, int B, int C, int L, int S) {
    int Lo = maxpool1d_out_len(L, S);
    size_t rows = (size_t)B * C;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *x = inp + r * L;
        float *o = out + r * Lo;
        int32_t *ix = idx + r * Lo;
        int has_nan = 0;
#pragma omp simd reduction(| : has_nan)
        for (int t = 0; t < Lo * S; t++) has_nan |= x[t] != x[t];
        if (has_nan) {
            maxpool_row_nan(o, ix, x, Lo, S);
            continue;
        }
        /* No NaN: the same first-maximum rule as selects, vectorised across outputs (the
         * comparisons on real signals are too unpredictable for branches). */
#pragma omp simd
        for (int t = 0; t < Lo; t++) {
            int best = t * S;
            float bv = x[best];
            for (int j = 1; j < S; j++) {
                const float v = x[t * S + j];
                const int take = v > bv;
                bv = take ? v : bv;
                best = take ? t * S + j : best;
            }
            o[t] = bv;
            ix[t] = best;
        }
    }
}

void maxpool1d_backward(float *dinp, const float *dout, const int32_t *idx,
                        int B, int C, int L, int S) {
    int Lo = maxpool1d_out_len(L, S);
    size_t rows = (size_t)B * C;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (int t = 0; t < Lo; t++) {
            int j = idx[r * Lo + t];
            KRES_ASSERT(j >= t * S && j < t * S + S);
            dinp[r * L + j] += dout[r * Lo + t];
        }
}

void avgpool_forward(float *out, const float *inp, int B, int C, int L) {
    size_t rows = (size_t)B * C;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        double s = 0;
        for (int t = 0; t < L; t++) s += inp[r * L + t];
        out[r] = (float)(s / L);
    }
}

void avgpool_backward(float *dinp, const float *dout, int B, int C, int L) {
    size_t rows = (size_t)B * C;
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float g = dout[r] / (float)L;
        for (int t = 0; t < L; t++) dinp[r * L + t] += g;
    }
}
