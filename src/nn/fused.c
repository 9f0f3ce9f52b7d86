/* fused.c — see fused.h. The loops copy batchnorm.c's arithmetic operation for operation
 * (double statistics in the same order, the same float expressions) so that the results are
 * identical to the unfused layers; only the element-wise steps around them move inside. */
#include "nn/fused.h"

#include <math.h>
#include <stddef.h>

#include "common/util.h"

void bn_relu_forward_train(float *out, float *mean, float *rstd,
                           float *running_mean, float *running_var,
                           const float *inp, const float *gamma, const float *beta,
                           int B, int C, int L, float momentum, float eps) {
    KRES_ASSERT(B >= 1 && C >= 1 && L >= 1);
    KRES_ASSERT((running_mean == NULL) == (running_var == NULL));
    double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) s += x[t];
        }
        double mu = s / n;
        double ss = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) {
                double d = x[t] - mu;
                ss += d * d;
            }
        }
        double var = ss / n;
        double rs = 1.0 / sqrt(var + eps);
        mean[c] = (float)mu;
        rstd[c] = (float)rs;
        if (running_mean) {
            double unbiased = n > 1 ? ss / (n - 1) : var;
            running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
        }
        float scale = gamma[c] * rstd[c];
        float m = mean[c], bt = beta[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            /* simd: GCC's -O2 cost model will not version this loop for aliasing (y may
             * be x: in place is still element by element); same operations, same bits */
#pragma omp simd
            for (int t = 0; t < L; t++) {
                float v = (x[t] - m) * scale + bt;
                y[t] = v > 0.0f ? v : 0.0f;
            }
        }
    }
}

void bn_relu_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var,
                          int B, int C, int L, float eps) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float scale = (float)(gamma[c] / sqrt((double)running_var[c] + eps));
        float m = running_mean[c], bt = beta[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            /* simd: GCC's -O2 cost model will not version this loop for aliasing (y may
             * be x: in place is still element by element); same operations, same bits */
#pragma omp simd
            for (int t = 0; t < L; t++) {
                float v = (x[t] - m) * scale + bt;
                y[t] = v > 0.0f ? v : 0.0f;
            }
        }
    }
}

/* The gradient reaching the batch norm's output, as the unfused chain leaves it in its
 * zeroed buffers: each "0.0f +" is the += into zero (it turns -0 into +0, as there). */
static inline float grad_in(float d, const uint8_t *mask, size_t i, float scale, float act) {
    float g = mask ? 0.0f + (mask[i] ? d * scale : 0.0f) : d;
    return 0.0f + (act > 0.0f ? g : 0.0f);
}

void dropout_relu_bn_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const uint8_t *mask, float p, const float *act, const float *inp,
                              const float *gamma, const float *mean, const float *rstd,
                              int B, int C, int L) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    const float scale = 1.0f / (1.0f - p);
    double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float m = mean[c], rs = rstd[c];
        double sg = 0, sgx = 0;
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) {
                float g = grad_in(dout[o + t], mask, o + t, scale, act[o + t]);
                sg += g;
                sgx += (double)g * ((inp[o + t] - m) * rs);
            }
        }
        dbeta[c] += (float)sg;
        dgamma[c] += (float)sgx;
        if (!dinp) continue;
        float k = gamma[c] * rs;
        float mg = (float)(sg / n), mgx = (float)(sgx / n);
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) {
                float g = grad_in(dout[o + t], mask, o + t, scale, act[o + t]);
                float xhat = (inp[o + t] - m) * rs;
                dinp[o + t] += k * (g - mg - xhat * mgx);
            }
        }
    }
}
