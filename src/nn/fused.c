/* fused.c — see fused.h. The arithmetic follows batchnorm.c and activation.c (double
 * statistics, the same float expressions), except that each per-channel sum runs over eight
 * interleaved double lanes (element t of a row goes to lane t mod 8), added in a fixed order
 * at the end: the serial reference sums are bound by the add latency (one element per ~4
 * cycles), the lanes vectorise. The order depends on the shapes only, never on the thread
 * count, so results still repeat bit for bit; they differ from the unfused reference by
 * rounding in the last bits of the statistics (tests/test_backend.c). */
#include "nn/fused.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "common/util.h"
#include "nn/batchnorm.h"

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

/* Eight double lanes: lo holds lanes 0-3, hi lanes 4-7. */
typedef struct {
    v4d lo, hi;
} Lanes;

/* 4 floats (unaligned) widened to doubles; a macro, since a function returning a 32-byte
 * vector would change the ABI of the generic (non-AVX) build */
#define LOAD4(p)                                                                              \
    __extension__({                                                                           \
        v4f f_;                                                                               \
        memcpy(&f_, (p), sizeof f_);                                                          \
        __builtin_convertvector(f_, v4d);                                                     \
    })

static inline double lane_total(const Lanes *a) {
    return ((a->lo[0] + a->lo[1]) + (a->lo[2] + a->lo[3])) +
           ((a->hi[0] + a->hi[1]) + (a->hi[2] + a->hi[3]));
}

static inline void lane_add1(Lanes *a, int t, double v) {
    if ((t & 7) < 4) a->lo[t & 3] += v;
    else a->hi[t & 3] += v;
}

/* s += x[t]; over one row (lane t mod 8). */
__attribute__((target_clones("avx2", "default")))
static void lanes_sum(Lanes *s, const float *x, int L) {
    int t = 0;
    for (; t + 8 <= L; t += 8) {
        s->lo += LOAD4(x + t);
        s->hi += LOAD4(x + t + 4);
    }
    for (; t < L; t++) lane_add1(s, t, x[t]);
}

/* s += (x[t] - mu)^2 in double. */
__attribute__((target_clones("avx2", "default")))
static void lanes_sqdev(Lanes *s, const float *x, int L, double mu) {
    int t = 0;
    for (; t + 8 <= L; t += 8) {
        const v4d a = LOAD4(x + t) - mu, b = LOAD4(x + t + 4) - mu;
        s->lo += a * a;
        s->hi += b * b;
    }
    for (; t < L; t++) {
        const double d = x[t] - mu;
        lane_add1(s, t, d * d);
    }
}

/* sg += g[t]; sgx += (double)g[t] * xh[t]. */
__attribute__((target_clones("avx2", "default")))
static void lanes_sum_dot(Lanes *sg, Lanes *sgx, const float *g, const float *xh, int L) {
    int t = 0;
    for (; t + 8 <= L; t += 8) {
        const v4d g0 = LOAD4(g + t), g1 = LOAD4(g + t + 4);
        sg->lo += g0;
        sg->hi += g1;
        sgx->lo += g0 * LOAD4(xh + t);
        sgx->hi += g1 * LOAD4(xh + t + 4);
    }
    for (; t < L; t++) {
        lane_add1(sg, t, g[t]);
        lane_add1(sgx, t, (double)g[t] * xh[t]);
    }
}

/* Channel c of out = relu((inp - m) * scale + bt), the expression batchnorm.c evaluates. */
static void bn_relu_channel(float *out, const float *inp, int B, int C, int L, int c, float m,
                            float scale, float bt) {
    for (int b = 0; b < B; b++) {
        const float *x = inp + ((size_t)b * C + c) * L;
        float *y = out + ((size_t)b * C + c) * L;
        /* simd: GCC's -O2 cost model will not version this loop for aliasing (y may be x: in
         * place is still element by element); same operations, same bits */
#pragma omp simd
        for (int t = 0; t < L; t++) {
            const float v = (x[t] - m) * scale + bt;
            y[t] = v > 0.0f ? v : 0.0f;
        }
    }
}

void bn_relu_forward_train(float *out, float *mean, float *rstd,
                           float *running_mean, float *running_var,
                           const float *inp, const float *gamma, const float *beta,
                           int B, int C, int L, float momentum, float eps) {
    KRES_ASSERT(B >= 1 && C >= 1 && L >= 1);
    KRES_ASSERT((running_mean == NULL) == (running_var == NULL));
    double n = (double)B * L;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        Lanes ls = {{0, 0, 0, 0}, {0, 0, 0, 0}}, lss = ls;
        for (int b = 0; b < B; b++) lanes_sum(&ls, inp + ((size_t)b * C + c) * L, L);
        double mu = lane_total(&ls) / n;
        for (int b = 0; b < B; b++) lanes_sqdev(&lss, inp + ((size_t)b * C + c) * L, L, mu);
        batchnorm_channel_stats(c, mu, lane_total(&lss), n, momentum, eps, mean, rstd,
                                running_mean, running_var);
        bn_relu_channel(out, inp, B, C, L, c, mean[c], gamma[c] * rstd[c], beta[c]);
    }
}

void bn_relu_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var,
                          int B, int C, int L, float eps) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++)
        bn_relu_channel(out, inp, B, C, L, c, running_mean[c],
                        (float)(gamma[c] / sqrt((double)running_var[c] + eps)), beta[c]);
}

/* The gradient reaching the batch norm's output for n elements from k0, as the unfused
 * chain leaves it in its zeroed buffers: each "0.0f +" is the += into zero (it turns -0 into
 * +0, as there). Bit masks, not branches: the ReLU and dropout masks are unpredictable, and
 * GCC will not if-convert the float selects under the default -ftrapping-math. */
typedef float v8f __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
typedef unsigned char v8b __attribute__((vector_size(8)));

__attribute__((target_clones("avx2", "default")))
static void grad_in(float *g, const float *dout, const uint8_t *mask, const float *act, size_t k0,
                    int n, float scale) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const size_t k = k0 + (size_t)i;
        v8f d, a;
        memcpy(&d, dout + k, sizeof d);
        memcpy(&a, act + k, sizeof a);
        if (mask) {
            v8b mb;
            memcpy(&mb, mask + k, sizeof mb);
            const v8i keep = __builtin_convertvector(mb, v8i) != 0;
            d = 0.0f + (v8f)((v8i)(d * scale) & keep);
        }
        const v8f r = 0.0f + (v8f)((v8i)d & (a > 0.0f));
        memcpy(g + i, &r, sizeof r);
    }
    for (; i < n; i++) {
        const size_t k = k0 + (size_t)i;
        const float d = mask ? 0.0f + (mask[k] ? dout[k] * scale : 0.0f) : dout[k];
        g[i] = 0.0f + (act[k] > 0.0f ? d : 0.0f);
    }
}

void dropout_relu_bn_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const uint8_t *mask, float p, const float *act, const float *inp,
                              const float *gamma, const float *mean, const float *rstd,
                              int B, int C, int L) {
    KRES_ASSERT(p >= 0.0f && p < 1.0f);
    const float scale = 1.0f / (1.0f - p);
    double n = (double)B * L;
    enum { CHUNK = 256 };
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        float m = mean[c], rs = rstd[c];
        Lanes lg = {{0, 0, 0, 0}, {0, 0, 0, 0}}, lgx = lg;
        float gbuf[CHUNK], xbuf[CHUNK];
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * L;
            /* chunks keep lane = t mod 8 (CHUNK is a multiple of 8) */
            for (int t0 = 0; t0 < L; t0 += CHUNK) {
                const int len = L - t0 < CHUNK ? L - t0 : CHUNK;
                grad_in(gbuf, dout, mask, act, o + (size_t)t0, len, scale);
#pragma omp simd
                for (int i = 0; i < len; i++) xbuf[i] = (inp[o + (size_t)(t0 + i)] - m) * rs;
                lanes_sum_dot(&lg, &lgx, gbuf, xbuf, len);
            }
        }
        const double sg = lane_total(&lg), sgx = lane_total(&lgx);
        dbeta[c] += (float)sg;
        dgamma[c] += (float)sgx;
        if (!dinp) continue;
        float k = gamma[c] * rs;
        float mg = (float)(sg / n), mgx = (float)(sgx / n);
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * L;
            for (int t0 = 0; t0 < L; t0 += CHUNK) {
                const int len = L - t0 < CHUNK ? L - t0 : CHUNK;
                float *dx = dinp + o + t0;
                const float *x = inp + o + t0;
                grad_in(gbuf, dout, mask, act, o + (size_t)t0, len, scale);
#pragma omp simd
                for (int i = 0; i < len; i++) {
                    float xhat = (x[i] - m) * rs;
                    dx[i] += k * (gbuf[i] - mg - xhat * mgx);
                }
            }
        }
    }
}
