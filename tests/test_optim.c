/* test_optim.c — AdamW and SGD against hand-computed steps, per-range lr scale / decay
 * exemption / freezing, the warm-up + cosine schedule, and global-norm clipping. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/optim.h"
#include "test.h"

static void test_adamw_hand(void) {
    /* p = 1, g = 0.5, lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.01.
     * step 1: p = 1 - 0.1*0.01*1 = 0.999; m = 0.05, v = 0.00025; mhat = 0.5, vhat = 0.25
     *         p -= 0.1 * 0.5 / (0.5 + 1e-8)  ->  0.899 */
    float p[1] = {1}, g[1] = {0.5f}, m[1] = {0}, v[1] = {0};
    adamw_update(p, g, m, v, 1, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, NULL, 0);
    /* betas arrive as float (0.999f = 0.99900001287), so 1 - beta2 is off by ~1.3e-5 rel */
    CHECK_CLOSE(m[0], 0.05, 0, 1e-6);
    CHECK_CLOSE(v[0], 0.00025, 0, 3e-5);
    CHECK_CLOSE(p[0], 0.899, 1e-6, 0);
    /* step 2 with g = -0.25: m = 0.02, v = 0.00031225, bc1 = 0.19, bc2 = 0.001999
     * p = 0.899 * (1 - 0.001) - 0.1 * (0.02/0.19) / (sqrt(0.00031225/0.001999) + 1e-8) */
    g[0] = -0.25f;
    adamw_update(p, g, m, v, 1, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, NULL, 0);
    double want = 0.899 * 0.999 - 0.1 * (0.02 / 0.19) / (sqrt(0.00031225 / 0.001999) + 1e-8);
    CHECK_CLOSE(m[0], 0.02, 0, 1e-5);
    CHECK_CLOSE(v[0], 0.00031225, 0, 3e-5);
    CHECK_CLOSE(p[0], want, 1e-6, 0);
    CHECK_CLOSE(p[0], 0.8714678, 1e-6, 0);
}

static void test_adamw_ranges(void) {
    /* 8 params, zero gradient except index 0..1. Ranges: [2,4) frozen, [4,6) no decay,
     * [0,2) lr x0.5; [6,8) default (decay on, scale 1). With g = 0 only decay moves p. */
    float p[8], g[8] = {1, -1, 1, 1, 0, 0, 0, 0}, m[8] = {0}, v[8] = {0};
    for (int i = 0; i < 8; i++) p[i] = 2;
    ParamRange r[3] = {{2, 4, 0.0f, 1}, {4, 6, 1.0f, 0}, {0, 2, 0.5f, 1}};
    adamw_update(p, g, m, v, 8, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f, r, 3);
    /* [0,2): lr 0.05: p = 2*(1 - 0.005) -/+ 0.05 */
    CHECK_CLOSE(p[0], 2 * 0.995 - 0.05, 1e-6, 0);
    CHECK_CLOSE(p[1], 2 * 0.995 + 0.05, 1e-6, 0);
    /* frozen: parameters and state untouched although the gradient is non-zero */
    CHECK(p[2] == 2 && p[3] == 2 && m[2] == 0 && v[3] == 0);
    /* exempt from decay, zero gradient: unchanged */
    CHECK(p[4] == 2 && p[5] == 2);
    /* default: decoupled decay only */
    CHECK_CLOSE(p[6], 2 * (1 - 0.1 * 0.1), 1e-7, 0);
    CHECK_CLOSE(p[7], 2 * (1 - 0.1 * 0.1), 1e-7, 0);
    /* overlapping ranges: the first listed wins */
    float q[4] = {1, 1, 1, 1}, gq[4] = {1, 1, 1, 1}, mq[4] = {0}, vq[4] = {0};
    ParamRange o[2] = {{0, 2, 0.0f, 1}, {0, 4, 1.0f, 0}};
    adamw_update(q, gq, mq, vq, 4, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, o, 2);
    CHECK(q[0] == 1 && q[1] == 1);
    CHECK_CLOSE(q[2], 1 - 0.1, 1e-6, 0);
}

/* A large buffer goes through the OpenMP path; result must match an independent loop
 * and not depend on the thread count. */
static void test_adamw_parallel(void) {
    enum { N = 200003 };
    float *p = xmalloc(N * sizeof(float)), *g = xmalloc(N * sizeof(float));
    float *m = xcalloc(N, sizeof(float)), *v = xcalloc(N, sizeof(float));
    float *p2 = xmalloc(N * sizeof(float)), *m2 = xcalloc(N, sizeof(float));
    float *v2 = xcalloc(N, sizeof(float));
    Rng r;
    rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        p[i] = p2[i] = (float)rng_normal(&r);
        g[i] = (float)rng_normal(&r);
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    adamw_update(p, g, m, v, N, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, NULL, 0);
    omp_set_num_threads(1);
    adamw_update(p2, g, m2, v2, N, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, NULL, 0);
    omp_set_num_threads(saved);
    CHECK(memcmp(p, p2, N * sizeof(float)) == 0);
    /* first step: p' = p (1 - lr wd) - lr * g / (|g| + eps) */
    int ok = 1;
    Rng r2;
    rng_seed(&r2, 3);
    for (int i = 0; i < N; i++) {
        double p0 = (float)rng_normal(&r2), gi = (float)rng_normal(&r2);
        double want = p0 * (1 - 1e-3 * 0.05) - 1e-3 * gi / (fabs(gi) + 1e-8);
        if (fabs(p[i] - want) > 1e-6) ok = 0;
    }
    CHECK(ok);
    free(p);
    free(g);
    free(m);
    free(v);
    free(p2);
    free(m2);
    free(v2);
}

static void test_sgd(void) {
    /* momentum 0.9, lr 0.1, wd 0: g = 1, then g = 1.
     * step 1: buf = 1, p = 1 - 0.1 = 0.9; step 2: buf = 1.9, p = 0.9 - 0.19 = 0.71 */
    float p[1] = {1}, g[1] = {1}, b[1] = {0};
    sgd_update(p, g, b, 1, 0.1f, 0.9f, 0, 0, NULL, 0);
    CHECK_CLOSE(p[0], 0.9, 1e-7, 0);
    sgd_update(p, g, b, 1, 0.1f, 0.9f, 0, 0, NULL, 0);
    CHECK_CLOSE(b[0], 1.9, 1e-7, 0);
    CHECK_CLOSE(p[0], 0.71, 1e-7, 0);
    /* nesterov: step 1 buf = 1, step = 1 + 0.9*1 = 1.9 -> p = 1 - 0.19 */
    float q[1] = {1}, bq[1] = {0};
    sgd_update(q, g, bq, 1, 0.1f, 0.9f, 0, 1, NULL, 0);
    CHECK_CLOSE(q[0], 0.81, 1e-7, 0);
    /* weight decay 0.5 coupled into the gradient: g' = 1 + 0.5*2 = 2; p = 2 - 0.1*2 = 1.8;
     * a decay-exempt range sees g' = 1 -> 1.9; a frozen range stays 2 */
    float w[3] = {2, 2, 2}, gw[3] = {1, 1, 1}, bw[3] = {0};
    ParamRange rr[2] = {{1, 2, 1.0f, 0}, {2, 3, 0.0f, 1}};
    sgd_update(w, gw, bw, 3, 0.1f, 0.0f, 0.5f, 0, rr, 2);
    CHECK_CLOSE(w[0], 1.8, 1e-7, 0);
    CHECK_CLOSE(w[1], 1.9, 1e-7, 0);
    CHECK(w[2] == 2 && bw[2] == 0);
}

static void test_schedule(void) {
    /* total 100, warm-up 10, base 1, floor 0.1 */
    CHECK_CLOSE(lr_at(0, 100, 10, 1.0f, 0.1f), 0.1, 1e-7, 0);
    CHECK_CLOSE(lr_at(4, 100, 10, 1.0f, 0.1f), 0.5, 1e-7, 0);
    CHECK_CLOSE(lr_at(9, 100, 10, 1.0f, 0.1f), 1.0, 1e-7, 0);
    CHECK_CLOSE(lr_at(10, 100, 10, 1.0f, 0.1f), 1.0, 1e-7, 0);
    CHECK_CLOSE(lr_at(55, 100, 10, 1.0f, 0.1f), 0.55, 1e-6, 0); /* half way: mean of ends */
    CHECK_CLOSE(lr_at(99, 100, 10, 1.0f, 0.1f),
                0.1 + 0.9 * 0.5 * (1 + cos(3.14159265358979 * 89.0 / 90.0)), 1e-6, 0);
    CHECK(lr_at(99, 100, 10, 1.0f, 0.1f) > 0.1f);
    CHECK(lr_at(100, 100, 10, 1.0f, 0.1f) == 0.1f);
    CHECK(lr_at(500, 100, 10, 1.0f, 0.1f) == 0.1f);
    /* no warm-up starts at base; monotone non-increasing afterwards */
    CHECK(lr_at(0, 50, 0, 3e-4f, 0) == 3e-4f);
    int mono = 1;
    for (long s = 1; s < 50; s++)
        if (lr_at(s, 50, 0, 3e-4f, 0) > lr_at(s - 1, 50, 0, 3e-4f, 0)) mono = 0;
    CHECK(mono);
}

static void test_clip(void) {
    float g[3] = {3, 4, 0};
    CHECK_CLOSE(grad_norm(g, 3), 5, 1e-12, 0);
    CHECK(clip_grad_norm(g, 3, 10) == 5.0 && g[0] == 3 && g[1] == 4); /* under the max */
    CHECK(clip_grad_norm(g, 3, 0) == 5.0 && g[0] == 3);              /* disabled */
    double n = clip_grad_norm(g, 3, 1);
    CHECK_CLOSE(n, 5, 1e-12, 0);
    CHECK_CLOSE(g[0], 3 / (5 + 1e-6), 1e-7, 0);
    CHECK_CLOSE(g[1], 4 / (5 + 1e-6), 1e-7, 0);
    CHECK_CLOSE(grad_norm(g, 3), 1, 1e-6, 0);
    float h[2] = {NAN, 1};
    CHECK(isnan(clip_grad_norm(h, 2, 1)) && h[1] == 1);
    CHECK(grad_norm(h, 0) == 0);
    /* large buffer: matches a serial double sum and is identical for 1 and 2 threads */
    enum { N = 100001 };
    float *x = xmalloc(N * sizeof(float));
    Rng r;
    rng_seed(&r, 4);
    double s = 0;
    for (int i = 0; i < N; i++) {
        x[i] = (float)rng_normal(&r);
        s += (double)x[i] * x[i];
    }
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double n1 = grad_norm(x, N);
    omp_set_num_threads(2);
    double n2 = grad_norm(x, N);
    omp_set_num_threads(saved);
    CHECK(n1 == n2);
    CHECK_CLOSE(n1, sqrt(s), 0, 1e-12);
    free(x);
}

int main(void) {
    test_adamw_hand();
    test_adamw_ranges();
    test_adamw_parallel();
    test_sgd();
    test_schedule();
    test_clip();
    TEST_MAIN_END();
}
