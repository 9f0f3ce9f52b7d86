/* test_layers.c — batchnorm, relu, dropout, max/average pooling: hand values, running
 * statistics, inference mode, dropout statistics and determinism, FD gradient checks. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/elementwise.h"
#include "nn/pool.h"
#include "test.h"
#include "test_gradcheck.h"

/* ------------------------------------------------------------------ batchnorm ------- */

static void test_bn_hand(void) {
    /* B=2, C=2, L=2. channel 0 values {1,3,5,7}: mean 4, biased var 5, unbiased 20/3.
     * channel 1 values {2,2,2,2}: mean 2, var 0. */
    float x[8] = {1, 3, 2, 2, 5, 7, 2, 2};
    float g[2] = {2, 1}, b[2] = {0.5f, -1}, y[8], mean[2], rstd[2];
    float rm[2] = {0, 1}, rv[2] = {1, 1};
    batchnorm_forward_train(y, mean, rstd, rm, rv, x, g, b, 2, 2, 2, 0.1f, 1e-5f);
    CHECK_CLOSE(mean[0], 4, 1e-6, 0);
    CHECK_CLOSE(rstd[0], 1 / sqrt(5 + 1e-5), 1e-7, 1e-6);
    CHECK_CLOSE(rstd[1], 1 / sqrt(1e-5), 0, 1e-5);
    CHECK_CLOSE(y[0], 2 * (1 - 4) / sqrt(5 + 1e-5) + 0.5, 1e-6, 1e-6);
    CHECK_CLOSE(y[5], 2 * (7 - 4) / sqrt(5 + 1e-5) + 0.5, 1e-6, 1e-6);
    CHECK_CLOSE(y[2], -1, 1e-6, 0); /* constant channel -> beta */
    /* running stats: (1 - m) * old + m * batch, batch variance unbiased */
    CHECK_CLOSE(rm[0], 0.9 * 0 + 0.1 * 4, 1e-7, 1e-6);
    CHECK_CLOSE(rv[0], 0.9 * 1 + 0.1 * (20.0 / 3.0), 1e-7, 1e-6);
    CHECK_CLOSE(rm[1], 0.9 * 1 + 0.1 * 2, 1e-7, 1e-6);
    CHECK_CLOSE(rv[1], 0.9 * 1 + 0.1 * 0, 1e-7, 1e-6);
    /* second step compounds */
    batchnorm_forward_train(y, mean, rstd, rm, rv, x, g, b, 2, 2, 2, 0.1f, 1e-5f);
    CHECK_CLOSE(rm[0], 0.9 * 0.4 + 0.1 * 4, 1e-7, 1e-6);
    CHECK_CLOSE(rv[0], 0.9 * (0.9 + 0.1 * 20.0 / 3.0) + 0.1 * 20.0 / 3.0, 1e-6, 1e-6);
    /* inference mode uses the running statistics, not the batch */
    float rme[2] = {1, 2}, rve[2] = {4, 0.25f}, ye[8];
    batchnorm_forward_eval(ye, x, g, b, rme, rve, 2, 2, 2, 0);
    CHECK_CLOSE(ye[0], 2 * (1 - 1) / 2.0 + 0.5, 1e-6, 0);
    CHECK_CLOSE(ye[1], 2 * (3 - 1) / 2.0 + 0.5, 1e-6, 0);
    CHECK_CLOSE(ye[2], 1 * (2 - 2) / 0.5 - 1, 1e-6, 0);
    CHECK_CLOSE(ye[5], 2 * (7 - 1) / 2.0 + 0.5, 1e-6, 0);
    /* in-place forward (out == inp) gives the same result */
    float xi[8];
    memcpy(xi, x, sizeof x);
    batchnorm_forward_eval(xi, xi, g, b, rme, rve, 2, 2, 2, 0);
    CHECK(memcmp(xi, ye, sizeof ye) == 0);
}

static void test_bn_output_stats(void) {
    enum { B = 4, C = 3, L = 50 };
    Rng r;
    rng_seed(&r, 3);
    float *x = xmalloc(B * C * L * sizeof(float)), *y = xmalloc(B * C * L * sizeof(float));
    for (int i = 0; i < B * C * L; i++) x[i] = (float)(5 + 3 * rng_normal(&r));
    float g[C] = {1, 1, 1}, b[C] = {0, 0, 0}, mean[C], rstd[C];
    batchnorm_forward_train(y, mean, rstd, NULL, NULL, x, g, b, B, C, L, 0.1f, 1e-5f);
    int ok = 1;
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int bb = 0; bb < B; bb++)
            for (int t = 0; t < L; t++) {
                double v = y[(bb * C + c) * L + t];
                s += v;
                ss += v * v;
            }
        double m = s / (B * L), var = ss / (B * L) - m * m;
        if (fabs(m) > 1e-5 || fabs(var - 1) > 1e-4) ok = 0;
    }
    CHECK(ok);
    free(x);
    free(y);
}

typedef struct {
    int B, C, L;
    float *x, *g, *b, *y, *R, *mean, *rstd;
} BnCase;

static double bn_loss(void *p) {
    BnCase *c = p;
    batchnorm_forward_train(c->y, c->mean, c->rstd, NULL, NULL, c->x, c->g, c->b, c->B, c->C, c->L,
                            0.1f, 1e-5f);
    return gc_dot(c->y, c->R, (size_t)c->B * c->C * c->L);
}

static void test_bn_gradcheck(void) {
    BnCase c = {3, 2, 5, 0, 0, 0, 0, 0, 0, 0};
    size_t n = 30;
    Rng r;
    rng_seed(&r, 4);
    c.x = xmalloc(n * sizeof(float));
    c.y = xmalloc(n * sizeof(float));
    c.R = xmalloc(n * sizeof(float));
    c.g = xmalloc(2 * sizeof(float));
    c.b = xmalloc(2 * sizeof(float));
    c.mean = xmalloc(2 * sizeof(float));
    c.rstd = xmalloc(2 * sizeof(float));
    gc_fill_normal(c.x, n, &r, 1);
    gc_fill_normal(c.R, n, &r, 1);
    c.g[0] = 1.5f;
    c.g[1] = -0.7f;
    c.b[0] = 0.2f;
    c.b[1] = 0.3f;
    bn_loss(&c);
    /* accumulate on top of ones to check the += contract: subtract afterwards */
    float *dx = xmalloc(n * sizeof(float)), dg[2] = {1, 1}, db[2] = {1, 1};
    for (size_t i = 0; i < n; i++) dx[i] = 1;
    batchnorm_backward(dx, dg, db, c.R, c.x, c.g, c.mean, c.rstd, 3, 2, 5);
    for (size_t i = 0; i < n; i++) dx[i] -= 1;
    dg[0] -= 1, dg[1] -= 1, db[0] -= 1, db[1] -= 1;
    gradcheck("bn dinp", c.x, dx, n, bn_loss, &c, 1e-2f, 2e-3, 1e-2);
    gradcheck("bn dgamma", c.g, dg, 2, bn_loss, &c, 1e-2f, 2e-3, 1e-2);
    gradcheck("bn dbeta", c.b, db, 2, bn_loss, &c, 1e-2f, 2e-3, 1e-2);
    /* the input gradient of batch-statistics BN sums to zero per channel */
    double s0 = 0;
    for (int bb = 0; bb < 3; bb++)
        for (int t = 0; t < 5; t++) s0 += dx[(bb * 2 + 0) * 5 + t];
    CHECK_CLOSE(s0, 0, 1e-5, 0);
    free(c.x);
    free(c.y);
    free(c.R);
    free(c.g);
    free(c.b);
    free(c.mean);
    free(c.rstd);
    free(dx);
}

/* ------------------------------------------------------------------ relu/dropout ---- */

typedef struct {
    size_t n;
    float *x, *y, *R;
    float p;
    uint8_t *mask;
    uint64_t seed;
} ActCase;

static double relu_loss(void *p) {
    ActCase *c = p;
    relu_forward(c->y, c->x, c->n);
    return gc_dot(c->y, c->R, c->n);
}

static double dropout_loss(void *p) {
    ActCase *c = p;
    Rng r;
    rng_seed(&r, c->seed); /* the same mask on every evaluation */
    dropout_forward(c->y, c->mask, c->x, c->n, c->p, &r);
    return gc_dot(c->y, c->R, c->n);
}

static void test_relu(void) {
    float x[5] = {-2, -0.0f, 0, 0.5f, 3}, y[5], d[5] = {0}, g[5] = {1, 2, 3, 4, 5};
    relu_forward(y, x, 5);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 0 && y[3] == 0.5f && y[4] == 3);
    relu_backward(d, g, y, 5); /* using the output */
    CHECK(d[0] == 0 && d[1] == 0 && d[2] == 0 && d[3] == 4 && d[4] == 5);
    relu_backward(d, g, x, 5); /* using the input: same mask, accumulates */
    CHECK(d[0] == 0 && d[2] == 0 && d[3] == 8 && d[4] == 10);
    relu_forward(x, x, 5); /* in place */
    CHECK(memcmp(x, y, sizeof y) == 0);

    /* FD with inputs kept at least 0.1 away from the kink at 0 (eps = 1e-3) */
    enum { N = 40 };
    Rng r;
    rng_seed(&r, 6);
    ActCase c = {N, xmalloc(N * sizeof(float)), xmalloc(N * sizeof(float)),
                 xmalloc(N * sizeof(float)), 0, NULL, 0};
    for (int i = 0; i < N; i++) {
        double v = rng_normal(&r);
        c.x[i] = (float)(v >= 0 ? v + 0.1 : v - 0.1);
    }
    gc_fill_normal(c.R, N, &r, 1);
    float *dx = xcalloc(N, sizeof(float));
    relu_loss(&c);
    relu_backward(dx, c.R, c.y, N);
    gradcheck("relu dinp", c.x, dx, N, relu_loss, &c, 1e-3f, 1e-3, 1e-3);
    free(c.x);
    free(c.y);
    free(c.R);
    free(dx);
}

static void test_dropout(void) {
    enum { N = 100000 };
    float *x = xmalloc(N * sizeof(float)), *y = xmalloc(N * sizeof(float));
    float *y2 = xmalloc(N * sizeof(float));
    uint8_t *m = xmalloc(N), *m2 = xmalloc(N);
    for (int i = 0; i < N; i++) x[i] = 1.0f + (float)(i % 7);
    Rng r;
    /* p = 0: identity, all kept, no random numbers consumed */
    rng_seed(&r, 1);
    Rng r0 = r;
    dropout_forward(y, m, x, N, 0.0f, &r);
    CHECK(memcmp(y, x, N * sizeof(float)) == 0);
    CHECK(memchr(m, 0, N) == NULL);
    CHECK(memcmp(&r, &r0, sizeof r) == 0);
    /* p = 0.2: keep rate ~0.8 (binomial sd 0.0013), kept values scaled by 1/0.8 */
    rng_seed(&r, 7);
    dropout_forward(y, m, x, N, 0.2f, &r);
    long kept = 0;
    double sx = 0, sy = 0;
    int scaled_ok = 1;
    for (int i = 0; i < N; i++) {
        kept += m[i];
        sx += x[i];
        sy += y[i];
        if (m[i] ? fabsf(y[i] - x[i] / 0.8f) > 1e-6f * x[i] : y[i] != 0) scaled_ok = 0;
    }
    CHECK_CLOSE((double)kept / N, 0.8, 0.008, 0);
    /* independent neighbours (two draws share one rng_u64): P(equal) = 0.8^2 + 0.2^2 */
    long same = 0;
    for (int i = 0; i + 1 < N; i += 2) same += m[i] == m[i + 1];
    CHECK_CLOSE((double)same / (N / 2), 0.68, 0.015, 0);
    CHECK_CLOSE(sy / sx, 1.0, 0.01, 0); /* inverted dropout preserves the mean */
    CHECK(scaled_ok);
    /* same seed -> same mask and output; different seed -> different mask */
    rng_seed(&r, 7);
    dropout_forward(y2, m2, x, N, 0.2f, &r);
    CHECK(memcmp(m, m2, N) == 0 && memcmp(y, y2, N * sizeof(float)) == 0);
    rng_seed(&r, 8);
    dropout_forward(y2, m2, x, N, 0.2f, &r);
    CHECK(memcmp(m, m2, N) != 0);
    /* odd length: the last element uses the low half of its pair's value, so a shorter mask
     * is a prefix of a longer one under the same rng state */
    rng_seed(&r, 7);
    dropout_forward(y2, m2, x, 3, 0.5f, &r);
    CHECK(m2[0] <= 1 && m2[1] <= 1 && m2[2] <= 1);
    rng_seed(&r, 7);
    dropout_forward(y2, m2, x, 4, 0.5f, &r);
    uint8_t m3[3];
    rng_seed(&r, 7);
    dropout_forward(y2, m3, x, 3, 0.5f, &r);
    CHECK(memcmp(m2, m3, 3) == 0);
    /* one draw per call, whatever n; the same mask on 1 and 2 threads (parallel hash) */
    rng_seed(&r, 9);
    r0 = r;
    rng_u64(&r0);
    dropout_forward(y, m, x, N, 0.3f, &r);
    CHECK(memcmp(&r, &r0, sizeof r) == 0);
    const int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    rng_seed(&r, 9);
    dropout_forward(y2, m2, x, N, 0.3f, &r);
    omp_set_num_threads(nt);
    CHECK(memcmp(m, m2, N) == 0 && memcmp(y, y2, N * sizeof(float)) == 0);
    /* in place gives the same output */
    memcpy(y2, x, N * sizeof(float));
    rng_seed(&r, 9);
    dropout_forward(y2, m2, y2, N, 0.3f, &r);
    CHECK(memcmp(y, y2, N * sizeof(float)) == 0);
    /* backward: dinp += dout * mask / (1 - p) */
    float g[4] = {1, 2, 3, 4}, d[4] = {10, 10, 10, 10};
    uint8_t mk[4] = {1, 0, 1, 0};
    dropout_backward(d, g, mk, 4, 0.5f);
    CHECK(d[0] == 12 && d[1] == 10 && d[2] == 16 && d[3] == 10);

    /* FD with a fixed mask */
    enum { M = 30 };
    ActCase c = {M, xmalloc(M * sizeof(float)), xmalloc(M * sizeof(float)),
                 xmalloc(M * sizeof(float)), 0.3f, xmalloc(M), 99};
    Rng q;
    rng_seed(&q, 10);
    gc_fill_normal(c.x, M, &q, 1);
    gc_fill_normal(c.R, M, &q, 1);
    float *dx = xcalloc(M, sizeof(float));
    dropout_loss(&c);
    dropout_backward(dx, c.R, c.mask, M, c.p);
    gradcheck("dropout dinp", c.x, dx, M, dropout_loss, &c, 1e-2f, 1e-3, 1e-3);
    free(c.x);
    free(c.y);
    free(c.R);
    free(c.mask);
    free(dx);
    free(x);
    free(y);
    free(y2);
    free(m);
    free(m2);
}

/* ------------------------------------------------------------------ pooling --------- */

typedef struct {
    int B, C, L, S;
    float *x, *y, *R;
    int32_t *idx;
} PoolCase;

static double maxpool_loss(void *p) {
    PoolCase *c = p;
    maxpool1d_forward(c->y, c->idx, c->x, c->B, c->C, c->L, c->S);
    return gc_dot(c->y, c->R, (size_t)c->B * c->C * (c->L / c->S));
}

static double avgpool_loss(void *p) {
    PoolCase *c = p;
    avgpool_forward(c->y, c->x, c->B, c->C, c->L);
    return gc_dot(c->y, c->R, (size_t)c->B * c->C);
}

static void test_maxpool(void) {
    CHECK(maxpool1d_out_len(1024, 4) == 256);
    CHECK(maxpool1d_out_len(10, 4) == 2);
    /* one row, L = 9, S = 4: windows {3,1,4,1}, {5,9,2,6}; the trailing element is dropped */
    float x[9] = {3, 1, 4, 1, 5, 9, 2, 6, 100}, y[2];
    int32_t idx[2];
    maxpool1d_forward(y, idx, x, 1, 1, 9, 4);
    CHECK(y[0] == 4 && y[1] == 9 && idx[0] == 2 && idx[1] == 5);
    /* ties: the first maximum gets the gradient */
    float xt[4] = {2, 7, 7, 1}, yt[1], d[4] = {0};
    int32_t it[1];
    maxpool1d_forward(yt, it, xt, 1, 1, 4, 4);
    CHECK(yt[0] == 7 && it[0] == 1);
    float g[1] = {3};
    maxpool1d_backward(d, g, it, 1, 1, 4, 4);
    CHECK(d[0] == 0 && d[1] == 3 && d[2] == 0 && d[3] == 0);
    /* NaN propagates */
    float xn[4] = {1, NAN, 5, 2};
    maxpool1d_forward(yt, it, xn, 1, 1, 4, 4);
    CHECK(isnan(yt[0]) && it[0] == 1);
    /* the vectorised path (rows without NaN) against the rule written out, on many ties
     * (values from {0, 1, 2}), next to a row with a NaN in its second window */
    {
        enum { RB = 2, RC = 3, RL = 64, RS = 4, RO = RL / RS };
        float xr[RB * RC * RL], yr[RB * RC * RO];
        int32_t ir[RB * RC * RO];
        Rng rr;
        rng_seed(&rr, 5);
        for (int i = 0; i < RB * RC * RL; i++) xr[i] = (float)(int)(3 * rng_uniform(&rr));
        xr[RL + RS + 2] = NAN; /* row 1, window 1 */
        maxpool1d_forward(yr, ir, xr, RB, RC, RL, RS);
        int bad = 0;
        for (int row = 0; row < RB * RC; row++)
            for (int t = 0; t < RO; t++) {
                const float *w = xr + row * RL + t * RS;
                int best = 0;
                for (int j = 1; j < RS && !isnan(w[best]); j++)
                    if (w[j] > w[best] || isnan(w[j])) best = j;
                const float got = yr[row * RO + t];
                bad += ir[row * RO + t] != t * RS + best; /* index within the row */
                bad += isnan(w[best]) ? !isnan(got) : got != w[best];
            }
        CHECKF(bad == 0, "maxpool: %d outputs differ from the first-maximum rule", bad);
        CHECK(isnan(yr[RO + 1]) && ir[RO + 1] == RS + 2);
    }

    /* FD: values are a shuffled grid with spacing 0.05 (no ties within 2*eps = 2e-3) */
    enum { B = 2, C = 3, L = 11, S = 3, N = B * C * L, NO = B * C * (L / S) };
    PoolCase c = {B, C, L, S, xmalloc(N * sizeof(float)), xmalloc(NO * sizeof(float)),
                  xmalloc(NO * sizeof(float)), xmalloc(NO * sizeof(int32_t))};
    int perm[N];
    for (int i = 0; i < N; i++) perm[i] = i;
    Rng r;
    rng_seed(&r, 12);
    rng_shuffle_int(&r, perm, N);
    for (int i = 0; i < N; i++) c.x[i] = 0.05f * (float)(perm[i] - N / 2);
    gc_fill_normal(c.R, NO, &r, 1);
    float *dx = xcalloc(N, sizeof(float));
    maxpool_loss(&c);
    maxpool1d_backward(dx, c.R, c.idx, B, C, L, S);
    gradcheck("maxpool dinp", c.x, dx, N, maxpool_loss, &c, 1e-3f, 1e-3, 1e-3);
    free(c.x);
    free(c.y);
    free(c.R);
    free(c.idx);
    free(dx);
}

static void test_avgpool(void) {
    float x[2 * 3] = {1, 2, 6, -1, 0, 4}, y[2], d[6] = {0}, g[2] = {3, 6};
    avgpool_forward(y, x, 1, 2, 3);
    CHECK_CLOSE(y[0], 3, 1e-6, 0);
    CHECK_CLOSE(y[1], 1, 1e-6, 0);
    avgpool_backward(d, g, 1, 2, 3);
    CHECK(d[0] == 1 && d[2] == 1 && d[3] == 2 && d[5] == 2);

    enum { B = 2, C = 3, L = 7, N = B * C * L };
    PoolCase c = {B, C, L, 1, xmalloc(N * sizeof(float)), xmalloc(B * C * sizeof(float)),
                  xmalloc(B * C * sizeof(float)), NULL};
    Rng r;
    rng_seed(&r, 13);
    gc_fill_normal(c.x, N, &r, 1);
    gc_fill_normal(c.R, B * C, &r, 1);
    float *dx = xcalloc(N, sizeof(float));
    avgpool_backward(dx, c.R, B, C, L);
    gradcheck("avgpool dinp", c.x, dx, N, avgpool_loss, &c, 1e-2f, 1e-3, 1e-3);
    free(c.x);
    free(c.y);
    free(c.R);
    free(dx);
}

/* par_zero / par_copy / par_add: the same as the plain loops, on both sides of the parallel
 * threshold and with a length that is no multiple of the chunk. */
static void test_elementwise(void) {
    const size_t sizes[] = {0, 1, 7, 65536, 65537, 300001};
    Rng r;
    rng_seed(&r, 11);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const size_t n = sizes[si];
        float *a = xmalloc((n + 1) * sizeof(float)), *b = xmalloc((n + 1) * sizeof(float));
        float *o = xmalloc((n + 1) * sizeof(float));
        for (size_t i = 0; i <= n; i++) a[i] = (float)rng_normal(&r), b[i] = (float)rng_normal(&r);
        o[n] = 42.0f; /* one past the end: must stay */
        par_add(o, a, b, n);
        int ok = o[n] == 42.0f;
        for (size_t i = 0; i < n; i++) ok &= o[i] == a[i] + b[i];
        CHECKF(ok, "par_add n=%zu", n);
        par_copy(o, a, n);
        CHECKF(memcmp(o, a, n * sizeof(float)) == 0 && o[n] == 42.0f, "par_copy n=%zu", n);
        par_zero(o, n);
        ok = o[n] == 42.0f;
        for (size_t i = 0; i < n; i++) ok &= o[i] == 0.0f;
        CHECKF(ok, "par_zero n=%zu", n);
        par_add(a, a, b, n); /* in place */
        par_copy(o, b, n);
        ok = 1;
        for (size_t i = 0; i < n; i++) ok &= a[i] - b[i] == a[i] - o[i];
        CHECKF(ok, "par_add in place n=%zu", n);
        free(a), free(b), free(o);
    }
}

int main(void) {
    test_elementwise();
    test_bn_hand();
    test_bn_output_stats();
    test_bn_gradcheck();
    test_relu();
    test_dropout();
    test_maxpool();
    test_avgpool();
    TEST_MAIN_END();
}
