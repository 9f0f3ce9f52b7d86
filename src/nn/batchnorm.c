/* batchnorm.c — see batchnorm.h. Channels are independent, so the OpenMP loop over C
 * keeps every statistic's summation order fixed (deterministic for any thread count). */
#include "nn/batchnorm.h"

#include <math.h>
#include <stddef.h>

#include "common/util.h"

void batchnorm_channel_stats(int c, double mu, double ss, double n, float momentum, float eps,
                             float *mean, float *rstd, float *running_mean, float *running_var) {
    const double var = ss / n;
    mean[c] = (float)mu;
    rstd[c] = (float)(1.0 / sqrt(var + eps));
    if (running_mean) {
        const double unbiased = n > 1 ? ss / (n - 1) : var;
        running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
        running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
    }
}

void batchnorm_forward_train(float *out, float *mean, float *rstd,
                             float *running_mean, float *running_var,
                             const float *inp, const float *gamma, const float *beta,
                             int B, int C, int L, float momentum, float eps) {
    KRES_ASSERT(B >= 1 && C >= 1 && L >= 1);
    KRES_ASSERT((running_mean == NULL) == (running_var == NULL));
    double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        /* two passes in double: mean, then centred sum of squares (no cancellation) */
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
        batchnorm_channel_stats(c, mu, ss, n, momentum, eps, mean, rstd, running_mean, running_var);
        /* out = x * scale + shift with the float statistics the backward pass will see */
        float scale = gamma[c] * rstd[c];
        float m = mean[c], bt = beta[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) y[t] = (x[t] - m) * scale + bt;
        }
    }
}

void batchnorm_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                            const float *running_mean, const float *running_var,
                            int B, int C, int L, float eps) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float scale = (float)(gamma[c] / sqrt((double)running_var[c] + eps));
        float m = running_mean[c], bt = beta[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            float *y = out + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) y[t] = (x[t] - m) * scale + bt;
        }
    }
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *gamma, const float *mean, const float *rstd,
                        int B, int C, int L) {
    double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float m = mean[c], rs = rstd[c];
        /* sums of dout and dout * xhat over the channel */
        double sg = 0, sgx = 0;
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            const float *g = dout + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) {
                sg += g[t];
                sgx += (double)g[t] * ((x[t] - m) * rs);
            }
        }
        dbeta[c] += (float)sg;
        dgamma[c] += (float)sgx;
        if (!dinp) continue;
        /* dx = gamma*rstd * (g - mean(g) - xhat * mean(g*xhat)) */
        float k = gamma[c] * rs;
        float mg = (float)(sg / n), mgx = (float)(sgx / n);
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * L;
            const float *g = dout + ((size_t)b * C + c) * L;
            float *dx = dinp + ((size_t)b * C + c) * L;
            for (int t = 0; t < L; t++) {
                float xhat = (x[t] - m) * rs;
                dx[t] += k * (g[t] - mg - xhat * mgx);
            }
        }
    }
}
