/* test_backend.c — every fast convolution path against the naive reference.
 *
 * Paths: the fast backend (im2col + sgemm), the oneDNN backend with the FFT path off (pure
 * oneDNN primitives), the oneDNN backend with the FFT path forced for every stride-1 K >= 5
 * convolution, and the FFT routines called directly with every transform length. Shapes are
 * KRes-like but tiny: kernel 17 with stride 1 and 4, the 1x1 skip, odd lengths, bias and no
 * bias, no input gradient (first layer). Backward must ACCUMULATE into prefilled buffers.
 * bf16 runs only where the CPU has native bf16 (else: a skip message, and a check that it
 * is refused). The direct batch-1 forward (conv1d_direct.c) is checked on its own shapes:
 * both kernels, every row and column remainder, strides 1-4, thread counts; so is the
 * Winograd forward (conv1d_winograd.c), with its cache of transformed weights and the
 * kres_freeze promise (nn/frozen.h) that lets it skip re-checking them. A small KRes model
 * with the FFT path forced must match the reference backend through the whole network. */
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/conv1d.h"
#include "nn/conv1d_dnnl.h"
#include "nn/conv1d_direct.h"
#include "nn/conv1d_fft.h"
#include "nn/conv1d_winograd.h"
#include "nn/frozen.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/cpu_features.h"
#include "nn/fused.h"
#include "nn/kres.h"
#include "nn/threads.h"
#include "test.h"

typedef struct {
    int B, Cin, Cout, L, K, S, P, bias, dinp;
} Shape;

/* max |a - b| / max |b|: the error relative to the tensor's scale; a NaN or infinity in a
 * (an output never written, a masked value leaking) is an infinite error, not one that
 * fmax would skip */
static double rel_err(const float *a, const float *b, size_t n) {
    double m = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) && !(isnan(a[i]) && isnan(b[i]))) return INFINITY;
        m = fmax(m, fabs(b[i]));
        e = fmax(e, fabs((double)a[i] - b[i]));
    }
    return e / (m > 0 ? m : 1);
}

static void fill(float *x, size_t n, Rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * rng_uniform(r) - 1.0);
}

typedef enum { P_FAST, P_DNNL, P_DNNL_FFT, P_FFT_N16, P_FFT_N32, P_FFT_N64, P_FFT_N128,
               P_FFT_N256, P_BF16, P_BF16_FFT } Path;
static const char *path_name[] = {"fast", "dnnl", "dnnl+fft", "fft16", "fft32", "fft64",
                                  "fft128", "fft256", "dnnl-bf16", "dnnl-bf16+fft"};

/* Run one path on shape s; returns 0 if the path does not apply to the shape. */
static int run_path(Path p, const Shape *s, float *y, float *dx, float *dw, float *db,
                    const float *x, const float *w, const float *bias, const float *dy) {
    if (p >= P_FFT_N16 && p <= P_FFT_N256) {
        int n = 16 << (p - P_FFT_N16);
        if (s->S != 1 || n < s->K + 1) return 0;
        conv1d_fft_forward(y, x, w, bias, s->B, s->Cin, s->Cout, s->L, s->K, s->P, n);
        conv1d_fft_backward(dx, dw, db, dy, x, w, s->B, s->Cin, s->Cout, s->L, s->K, s->P, n);
        return 1;
    }
    nn_set_backend(p == P_FAST ? NN_BACKEND_FAST : NN_BACKEND_DNNL);
    conv1d_dnnl_set_fft(p == P_DNNL_FFT ? 2 : 0);
    size_t wn = conv1d_workspace_size(s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
    float *work = xmalloc((wn ? wn : 1) * sizeof(float));
    conv1d_forward(y, x, w, bias, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P, work, wn);
    conv1d_backward(dx, dw, db, dy, x, w, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P, work, wn);
    free(work);
    return 1;
}

static void test_paths(void) {
    static const Shape shapes[] = {
        {3, 5, 7, 64, 17, 1, 8, 0, 1},   /* unit conv1 */
        {2, 6, 6, 64, 17, 4, 8, 0, 1},   /* unit conv2, stride 4 */
        {3, 5, 8, 16, 1, 1, 0, 0, 1},    /* skip 1x1 */
        {2, 12, 8, 96, 17, 1, 8, 0, 0},  /* stem: no input gradient */
        {2, 4, 3, 50, 17, 4, 8, 1, 1},   /* odd length, bias */
        {1, 3, 5, 37, 9, 1, 4, 1, 1},    /* odd length, bias, K 9 */
        {2, 3, 4, 20, 5, 1, 0, 0, 1},    /* no padding: Lo < L */
        {2, 3, 4, 20, 5, 1, 3, 1, 1},    /* more padding than "same": Lo > L */
        {1, 2, 3, 7, 17, 1, 8, 0, 1},    /* shorter than the kernel */
        {4, 20, 24, 16, 17, 1, 8, 0, 1}, /* deep unit: short, wide */
    };
    const int bf16 = cpu_has_fast_bf16();
    Rng r;
    rng_seed(&r, 42);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const Shape *s = &shapes[si];
        const int Lo = conv1d_out_len(s->L, s->K, s->S, s->P);
        const size_t nx = (size_t)s->B * s->Cin * s->L, ny = (size_t)s->B * s->Cout * Lo;
        const size_t nw = (size_t)s->Cout * s->Cin * s->K;
        float *x = xmalloc(nx * sizeof(float)), *w = xmalloc(nw * sizeof(float));
        float *dy = xmalloc(ny * sizeof(float)), *bias = xmalloc((size_t)s->Cout * sizeof(float));
        float *dx0 = xmalloc(nx * sizeof(float)), *dw0 = xmalloc(nw * sizeof(float));
        float *db0 = xmalloc((size_t)s->Cout * sizeof(float));
        fill(x, nx, &r);
        fill(w, nw, &r);
        fill(dy, ny, &r);
        fill(bias, (size_t)s->Cout, &r);
        /* prefilled gradients: the backward contract is +=, not = */
        fill(dx0, nx, &r);
        fill(dw0, nw, &r);
        fill(db0, (size_t)s->Cout, &r);
        float *yr = xmalloc(ny * sizeof(float)), *dxr = xmalloc(nx * sizeof(float));
        float *dwr = xmalloc(nw * sizeof(float)), *dbr = xmalloc((size_t)s->Cout * sizeof(float));
        memcpy(dxr, dx0, nx * sizeof(float));
        memcpy(dwr, dw0, nw * sizeof(float));
        memcpy(dbr, db0, (size_t)s->Cout * sizeof(float));
        const float *b = s->bias ? bias : NULL;
        conv1d_forward_ref(yr, x, w, b, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
        conv1d_backward_ref(s->dinp ? dxr : NULL, dwr, s->bias ? dbr : NULL, dy, x, w, s->B, s->Cin,
                            s->Cout, s->L, s->K, s->S, s->P);
        float *y = xmalloc(ny * sizeof(float)), *dx = xmalloc(nx * sizeof(float));
        float *dw = xmalloc(nw * sizeof(float)), *db = xmalloc((size_t)s->Cout * sizeof(float));
        for (int p = P_FAST; p <= P_BF16_FFT; p++) {
            const int bf = p == P_BF16 || p == P_BF16_FFT;
            if (bf) {
                if (!bf16) continue;
                nn_set_backend(NN_BACKEND_DNNL);
                CHECK(conv1d_dnnl_set_precision(NN_PREC_BF16) == 0);
                /* bf16 mode with the (fp32) FFT path allowed, forced where it applies */
                conv1d_dnnl_set_bf16_fft(p == P_BF16_FFT);
            }
            memcpy(dx, dx0, nx * sizeof(float));
            memcpy(dw, dw0, nw * sizeof(float));
            memcpy(db, db0, (size_t)s->Cout * sizeof(float));
            for (size_t i = 0; i < ny; i++) y[i] = NAN; /* forward must overwrite everything */
            const Path run = p == P_BF16 ? P_DNNL : p == P_BF16_FFT ? P_DNNL_FFT : (Path)p;
            if (!run_path(run, s, y, s->dinp ? dx : NULL, dw, s->bias ? db : NULL, x, w, b, dy))
                continue;
            if (bf) {
                conv1d_dnnl_set_precision(NN_PREC_FP32);
                conv1d_dnnl_set_bf16_fft(0);
            }
            /* fp32 paths agree to rounding; bf16 rounds inputs to 8 significant bits, and
             * the sums here are over a few hundred terms */
            const double tol = bf ? 2e-2 : 2e-5;
            double ey = rel_err(y, yr, ny), ex = s->dinp ? rel_err(dx, dxr, nx) : 0;
            double ew = rel_err(dw, dwr, nw), eb = s->bias ? rel_err(db, dbr, (size_t)s->Cout) : 0;
            CHECKF(ey <= tol, "%s shape %zu: forward error %.3e", path_name[p], si, ey);
            CHECKF(ex <= tol, "%s shape %zu: dinp error %.3e", path_name[p], si, ex);
            CHECKF(ew <= tol, "%s shape %zu: dweight error %.3e", path_name[p], si, ew);
            CHECKF(eb <= tol, "%s shape %zu: dbias error %.3e", path_name[p], si, eb);
            if (!s->dinp) CHECK(memcmp(dx, dx0, nx * sizeof(float)) == 0); /* untouched */
        }
        free(x), free(w), free(dy), free(bias), free(dx0), free(dw0), free(db0);
        free(yr), free(dxr), free(dwr), free(dbr), free(y), free(dx), free(dw), free(db);
    }
    if (!bf16)
        printf("test_backend: bf16 checks skipped: %s\n", cpu_features_summary());
    nn_set_backend(NN_BACKEND_FAST);
    conv1d_dnnl_set_fft(1);
}

/* Repeated calls give identical bits (static schedules, fixed reduction order), and the
 * oneDNN cache holds one entry per shape and direction, built once. */
static void test_determinism_and_cache(void) {
    const int B = 4, Cin = 6, Cout = 8, L = 48, K = 17, P = 8;
    const size_t nx = (size_t)B * Cin * L, ny = (size_t)B * Cout * L, nw = (size_t)Cout * Cin * K;
    float *x = xmalloc(nx * sizeof(float)), *w = xmalloc(nw * sizeof(float));
    float *dy = xmalloc(ny * sizeof(float));
    float *y[2], *dx[2], *dw[2];
    Rng r;
    rng_seed(&r, 7);
    fill(x, nx, &r);
    fill(w, nw, &r);
    fill(dy, ny, &r);
    for (int rep = 0; rep < 2; rep++) {
        y[rep] = xmalloc(ny * sizeof(float));
        dx[rep] = xcalloc(nx, sizeof(float));
        dw[rep] = xcalloc(nw, sizeof(float));
        conv1d_fft_forward(y[rep], x, w, NULL, B, Cin, Cout, L, K, P, 32);
        conv1d_fft_backward(dx[rep], dw[rep], NULL, dy, x, w, B, Cin, Cout, L, K, P, 32);
    }
    CHECK(memcmp(y[0], y[1], ny * sizeof(float)) == 0);
    CHECK(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0);
    CHECK(conv1d_fft_workspace_bytes() > 0);

    nn_set_backend(NN_BACKEND_DNNL);
    conv1d_dnnl_set_fft(0);
    conv1d_dnnl_release();
    CHECK(conv1d_dnnl_cache_size() == 0);
    for (int rep = 0; rep < 2; rep++) {
        memset(dx[rep], 0, nx * sizeof(float));
        memset(dw[rep], 0, nw * sizeof(float));
        conv1d_forward(y[rep], x, w, NULL, B, Cin, Cout, L, K, 4, P, NULL, 0);
        conv1d_backward(dx[rep], dw[rep], NULL, dy, x, w, B, Cin, Cout, L, K, 4, P, NULL, 0);
        /* forward, backward-weights and backward-data: three entries, not rebuilt */
        CHECKF(conv1d_dnnl_cache_size() == 3, "cache holds %d entries", conv1d_dnnl_cache_size());
    }
    const size_t nys = (size_t)B * Cout * conv1d_out_len(L, K, 4, P);
    CHECK(memcmp(y[0], y[1], nys * sizeof(float)) == 0);
    CHECK(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0);
    const char *impl = conv1d_dnnl_impl_name(B, Cin, Cout, L, K, 4, P);
    CHECK(impl && strlen(impl) > 0);
    conv1d_dnnl_release();
    conv1d_dnnl_set_fft(1);
    nn_set_backend(NN_BACKEND_FAST);
    for (int rep = 0; rep < 2; rep++) free(y[rep]), free(dx[rep]), free(dw[rep]);
    free(x), free(w), free(dy);
}

/* The cost model sends KRes's kernel-17 stride-1 convolutions (the stem included) to the FFT
 * path at training batch sizes, and never stride 4, 1x1 or tiny layers. */
static void test_plan(void) {
    CHECK(conv1d_fft_plan_n(64, 64, 128, 1024, 17, 1, 8) > 0);   /* units.0.conv1 */
    CHECK(conv1d_fft_plan_n(64, 128, 196, 256, 17, 1, 8) > 0);  /* units.1.conv1 */
    CHECK(conv1d_fft_plan_n(64, 128, 128, 1024, 17, 4, 8) == 0); /* stride 4 */
    CHECK(conv1d_fft_plan_n(64, 64, 128, 256, 1, 1, 0) == 0);    /* 1x1 */
    CHECK(conv1d_fft_plan_n(2, 3, 4, 32, 17, 1, 8) == 0);        /* too small to pay off */
    CHECK(conv1d_fft_plan_n(64, 12, 64, 1024, 17, 1, 8) > 0);    /* the stem: short reduction */
    CHECK(conv1d_fft_plan_n_frozen(1, 12, 64, 1024, 17, 1, 8, 1) > 0);
    int n = conv1d_fft_plan_n(64, 64, 128, 1024, 17, 1, 8);
    CHECK(n >= 32 && n <= 256 && (n & (n - 1)) == 0);
    CHECK(conv1d_fft_best_n(2, 3, 4, 32, 17, 1, 8) >= 32);
    CHECK(conv1d_fft_best_n(2, 3, 4, 32, 17, 4, 8) == 0);
    nn_set_backend(NN_BACKEND_DNNL);
    conv1d_dnnl_set_fft(0);
    CHECK(conv1d_dnnl_uses_fft(64, 64, 128, 1024, 17, 1, 8) == 0);
    conv1d_dnnl_set_fft(1);
    CHECK(conv1d_dnnl_uses_fft(64, 64, 128, 1024, 17, 1, 8) == n);
    nn_set_backend(NN_BACKEND_FAST);
}

/* The inference hint (conv1d_dnnl_set_frozen_weights): at batch 1 the cost model without
 * kernel transforms admits the FFT path for long signals (KRes units.1.conv1) but not for
 * short ones; the hinted forward really runs the FFT path (same bits as calling it), matches
 * the reference, and stays correct when the "frozen" weights change after all (the spectra
 * cache is validated). */
static void test_frozen(void) {
    CHECK(conv1d_fft_plan_n(1, 128, 196, 256, 17, 1, 8) == 0);
    CHECK(conv1d_fft_plan_n_frozen(1, 128, 196, 256, 17, 1, 8, 1) > 0);  /* units.1.conv1 */
    CHECK(conv1d_fft_plan_n_frozen(1, 64, 128, 1024, 17, 1, 8, 1) > 0);  /* units.0.conv1 */
    CHECK(conv1d_fft_plan_n_frozen(1, 256, 320, 16, 17, 1, 8, 1) == 0);  /* units.3.conv1 */
    CHECK(conv1d_fft_plan_n_frozen(1, 128, 128, 1024, 17, 4, 8, 1) == 0); /* stride 4 */
    CHECK(conv1d_fft_plan_n_frozen(64, 64, 128, 1024, 17, 1, 8, 0) ==
          conv1d_fft_plan_n(64, 64, 128, 1024, 17, 1, 8));
    const int B = 1, C = 64, L = 256, K = 17, P = 8;
    const int n = conv1d_fft_plan_n_frozen(B, C, C, L, K, 1, P, 1);
    CHECKF(n > 0 && conv1d_fft_plan_n(B, C, C, L, K, 1, P) == 0, "frozen plan %d", n);
    if (n <= 0) return;
    const size_t nx = (size_t)B * C * L, nw = (size_t)C * C * K;
    float *x = xmalloc(nx * sizeof(float)), *w = xmalloc(nw * sizeof(float));
    float *y = xmalloc(nx * sizeof(float)), *yf = xmalloc(nx * sizeof(float));
    float *yr = xmalloc(nx * sizeof(float));
    Rng r;
    rng_seed(&r, 11);
    fill(x, nx, &r);
    fill(w, nw, &r);
    nn_set_backend(NN_BACKEND_DNNL);
    conv1d_dnnl_set_fft(1);
    conv1d_dnnl_set_frozen_weights(1);
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 2) w[5] += 0.5f; /* weights change although promised frozen */
        conv1d_forward(y, x, w, NULL, B, C, C, L, K, 1, P, NULL, 0);
        conv1d_fft_forward(yf, x, w, NULL, B, C, C, L, K, P, n);
        conv1d_forward_ref(yr, x, w, NULL, B, C, C, L, K, 1, P);
        CHECKF(memcmp(y, yf, nx * sizeof(float)) == 0, "pass %d: not the FFT path", pass);
        double e = rel_err(y, yr, nx);
        CHECKF(e <= 2e-5, "pass %d: forward error %.3e", pass, e);
    }
    conv1d_dnnl_set_frozen_weights(0);
    conv1d_forward(y, x, w, NULL, B, C, C, L, K, 1, P, NULL, 0); /* oneDNN again */
    CHECK(rel_err(y, yr, nx) <= 2e-5);
    nn_set_backend(NN_BACKEND_FAST);
    free(x), free(w), free(y), free(yf), free(yr);
}

/* Fused batch norm + ReLU (+ dropout backward), src/nn/fused.h, against the unfused layers
 * (the references): identical bits for forward (training and inference) and backward (with
 * and without a dropout mask, with and without an input gradient), accumulating, at a size
 * where the double statistics are exact in any order; then at a long size, where the fused
 * lanes add in another order, within rounding, and the same bits for one and two threads. */
static void test_fused(void) {
    const int B = 3, C = 5, L = 37;
    const size_t n = (size_t)B * C * L;
    Rng r;
    rng_seed(&r, 13);
    float *x = xmalloc(n * sizeof(float)), *dy = xmalloc(n * sizeof(float));
    float *y0 = xmalloc(n * sizeof(float)), *y1 = xmalloc(n * sizeof(float));
    float *t1 = xmalloc(n * sizeof(float)), *t2 = xmalloc(n * sizeof(float));
    float *dx0 = xmalloc(n * sizeof(float)), *dx1 = xmalloc(n * sizeof(float));
    uint8_t *mask = xmalloc(n);
    float gam[5], bet[5], st[6][5], dg[2][5], db[2][5];
    fill(x, n, &r);
    fill(dy, n, &r);
    fill(gam, C, &r);
    fill(bet, C, &r);
    for (size_t i = 0; i < n; i++) mask[i] = rng_uniform(&r) >= 0.2;
    for (int c = 0; c < C; c++) st[2][c] = st[4][c] = 0.1f * c, st[3][c] = st[5][c] = 1.0f + c;
    /* training forward: out, saved statistics and running statistics */
    batchnorm_forward_train(y0, st[0], st[1], st[2], st[3], x, gam, bet, B, C, L, 0.1f, 1e-5f);
    relu_forward(y0, y0, n);
    float m1[5], r1[5];
    bn_relu_forward_train(y1, m1, r1, st[4], st[5], x, gam, bet, B, C, L, 0.1f, 1e-5f);
    CHECK(memcmp(y0, y1, n * sizeof(float)) == 0);
    CHECK(memcmp(st[0], m1, sizeof m1) == 0 && memcmp(st[1], r1, sizeof r1) == 0);
    CHECK(memcmp(st[2], st[4], sizeof st[2]) == 0 && memcmp(st[3], st[5], sizeof st[3]) == 0);
    int zeros = 0;
    for (size_t i = 0; i < n; i++) zeros += y0[i] == 0.0f;
    CHECK(zeros > 0 && zeros < (int)n); /* the ReLU mask matters below */
    /* backward: with dropout mask, then without (stem); with and without dinp */
    for (int v = 0; v < 4; v++) {
        const uint8_t *mk = v < 2 ? mask : NULL;
        const float p = v < 2 ? 0.2f : 0.0f;
        const int has_dx = v % 2 == 0;
        fill(dx0, n, &r);
        memcpy(dx1, dx0, n * sizeof(float));
        for (int c = 0; c < C; c++) dg[0][c] = dg[1][c] = 0.5f, db[0][c] = db[1][c] = -0.25f;
        memset(t1, 0, n * sizeof(float));
        memset(t2, 0, n * sizeof(float));
        if (mk) {
            dropout_backward(t1, dy, mk, n, p);
            relu_backward(t2, t1, y0, n);
        } else {
            relu_backward(t2, dy, y0, n);
        }
        batchnorm_backward(has_dx ? dx0 : NULL, dg[0], db[0], t2, x, gam, st[0], st[1], B, C, L);
        dropout_relu_bn_backward(has_dx ? dx1 : NULL, dg[1], db[1], dy, mk, p, y0, x, gam, st[0],
                                 st[1], B, C, L);
        CHECKF(memcmp(dx0, dx1, n * sizeof(float)) == 0, "variant %d: dinp differs", v);
        CHECKF(memcmp(dg[0], dg[1], sizeof dg[0]) == 0, "variant %d: dgamma differs", v);
        CHECKF(memcmp(db[0], db[1], sizeof db[0]) == 0, "variant %d: dbeta differs", v);
    }
    /* inference forward */
    batchnorm_forward_eval(y0, x, gam, bet, st[2], st[3], B, C, L, 1e-5f);
    relu_forward(y0, y0, n);
    memcpy(y1, x, n * sizeof(float));
    bn_relu_forward_eval(y1, y1, gam, bet, st[2], st[3], B, C, L, 1e-5f); /* in place */
    CHECK(memcmp(y0, y1, n * sizeof(float)) == 0);
    free(x), free(dy), free(y0), free(y1), free(t1), free(t2), free(dx0), free(dx1), free(mask);

    /* long channels: 2 x 4099 values each (not a multiple of the 8 lanes) */
    {
        const int LB = 2, LC = 3, LL = 4099;
        const size_t ln = (size_t)LB * LC * LL;
        float *lx = xmalloc(ln * sizeof(float)), *ldy = xmalloc(ln * sizeof(float));
        float *la = xmalloc(ln * sizeof(float)), *lb = xmalloc(ln * sizeof(float));
        float *lt = xcalloc(ln, sizeof(float)), *ldx[3];
        uint8_t *lm = xmalloc(ln);
        float lg[3], lbe[3], lmean[2][3], lrstd[2][3], ldg[3][3], ldb[3][3];
        fill(lx, ln, &r);
        fill(ldy, ln, &r);
        fill(lg, LC, &r);
        fill(lbe, LC, &r);
        for (size_t i = 0; i < ln; i++) lx[i] = 3.0f + 1e3f * lx[i], lm[i] = rng_uniform(&r) >= 0.2;
        batchnorm_forward_train(la, lmean[0], lrstd[0], NULL, NULL, lx, lg, lbe, LB, LC, LL, 0.1f, 1e-5f);
        relu_forward(la, la, ln);
        bn_relu_forward_train(lb, lmean[1], lrstd[1], NULL, NULL, lx, lg, lbe, LB, LC, LL, 0.1f, 1e-5f);
        CHECKF(rel_err(lb, la, ln) <= 1e-6, "long forward error %.3e", rel_err(lb, la, ln));
        CHECK(rel_err(lmean[1], lmean[0], LC) <= 1e-6 && rel_err(lrstd[1], lrstd[0], LC) <= 1e-6);
        float *t3 = xcalloc(ln, sizeof(float));
        dropout_backward(lt, ldy, lm, ln, 0.2f);
        relu_backward(t3, lt, la, ln);
        for (int v = 0; v < 3; v++) {
            ldx[v] = xcalloc(ln, sizeof(float));
            for (int c = 0; c < LC; c++) ldg[v][c] = ldb[v][c] = 0.0f;
        }
        batchnorm_backward(ldx[0], ldg[0], ldb[0], t3, lx, lg, lmean[0], lrstd[0], LB, LC, LL);
        const int saved = omp_get_max_threads();
        for (int v = 1; v < 3; v++) {
            omp_set_num_threads(v);
            dropout_relu_bn_backward(ldx[v], ldg[v], ldb[v], ldy, lm, 0.2f, la, lx, lg, lmean[0],
                                     lrstd[0], LB, LC, LL);
        }
        omp_set_num_threads(saved); /* later checks run at the thread count they were given */
        double e = rel_err(ldx[1], ldx[0], ln);
        CHECKF(e <= 1e-5, "long backward dinp error %.3e", e);
        CHECK(rel_err(ldg[1], ldg[0], LC) <= 1e-5 && rel_err(ldb[1], ldb[0], LC) <= 1e-5);
        CHECK(memcmp(ldx[1], ldx[2], ln * sizeof(float)) == 0);
        CHECK(memcmp(ldg[1], ldg[2], sizeof ldg[1]) == 0 && memcmp(ldb[1], ldb[2], sizeof ldb[1]) == 0);
        free(lx), free(ldy), free(la), free(lb), free(lt), free(t3), free(lm);
        for (int v = 0; v < 3; v++) free(ldx[v]);
    }
}

/* CPU feature detection is self-consistent, and bf16 is refused where it is not native. */
static void test_cpu_features(void) {
    const CpuFeatures *f = cpu_features();
    CHECK(f == cpu_features());
    CHECK(strlen(cpu_features_summary()) > 10);
    CHECK(!f->avx512_bf16 || f->avx512f);
    CHECK(f->dnnl_isa_name != NULL);
    if (!cpu_has_fast_bf16()) {
        CHECK(nn_precision_auto() == NN_PREC_FP32);
        CHECK(conv1d_dnnl_set_precision(NN_PREC_BF16) == -1);
        CHECK(strstr(kres_last_error(), "bf16") != NULL);
        CHECK(conv1d_dnnl_get_precision() == NN_PREC_FP32);
    } else {
        CHECK(nn_precision_auto() == NN_PREC_BF16);
        setenv("KRES_FORCE_NO_BF16", "1", 1);
        CHECK(cpu_has_fast_bf16() == 0);
        unsetenv("KRES_FORCE_NO_BF16");
    }
    CHECK(strcmp(nn_precision_name(NN_PREC_BF16), "bf16") == 0);
}

/* A small KRes for the model-level checks: 3 leads, kernel 17, no dropout, no projection
 * head; nunits 1 or 2 of widths w0 (and w1). */
static KresConfig small_config(int in_len, int stem, int nunits, int w0, int w1) {
    KresConfig c;
    kres_config_default(&c);
    c.in_leads = 3;
    c.in_len = in_len;
    c.stem_width = stem;
    c.nunits = nunits;
    c.widths[0] = w0;
    if (nunits > 1) c.widths[1] = w1;
    c.dropout = 0.0f;
    c.proj_hidden = 0;
    return c;
}

/* A small KRes (kernel 17, widths 16 -> 24, length 64) with the FFT path forced: logits and
 * every parameter gradient match the reference backend. */
static void test_model(void) {
    KresConfig c = small_config(64, 8, 2, 16, 24);
    const int B = 3;
    Kres *m = kres_create(&c, B, 5);
    CHECK(m != NULL);
    if (!m) return;
    Rng r;
    rng_seed(&r, 9);
    const size_t nx = (size_t)B * c.in_leads * c.in_len, np = kres_num_params(m);
    float *x = xmalloc(nx * sizeof(float)), *dl = xmalloc((size_t)B * sizeof(float));
    fill(x, nx, &r);
    fill(dl, (size_t)B, &r);
    float *buf0 = xmalloc(kres_num_buffers(m) * sizeof(float));
    memcpy(buf0, kres_buffers(m), kres_num_buffers(m) * sizeof(float));
    float logits[2][3], *grads[2];
    for (int pass = 0; pass < 2; pass++) {
        nn_set_backend(pass == 0 ? NN_BACKEND_REF : NN_BACKEND_DNNL);
        conv1d_dnnl_set_fft(2);
        memcpy(kres_buffers(m), buf0, kres_num_buffers(m) * sizeof(float));
        kres_zero_grad(m);
        kres_forward(m, x, B, 1, NULL);
        memcpy(logits[pass], kres_logits(m), sizeof logits[pass]);
        kres_backward(m, dl, NULL, NULL);
        grads[pass] = xmalloc(np * sizeof(float));
        memcpy(grads[pass], kres_grads(m), np * sizeof(float));
    }
    double le = 0;
    for (int b = 0; b < B; b++) le = fmax(le, fabs(logits[1][b] - logits[0][b]) / (1 + fabs(logits[0][b])));
    CHECKF(le <= 1e-4, "logits differ by %.3e", le);
    for (int t = 0; t < kres_num_tensors(m); t++) {
        const KresTensor *T = kres_tensor(m, t);
        if (T->kind != KRES_PARAM) continue;
        double e = rel_err(grads[1] + T->offset, grads[0] + T->offset, T->numel);
        CHECKF(e <= 1e-3, "%s gradient differs by %.3e", T->name, e);
    }
    conv1d_dnnl_set_fft(1);
    nn_set_backend(NN_BACKEND_FAST);
    free(grads[0]), free(grads[1]), free(x), free(dl), free(buf0);
    kres_free(m);
}

/* A forward-only kernel with the conv1d.h contract against the reference on each shape:
 * every output overwritten (NaN-filled first), relative error <= 2e-5, and one thread against
 * two bit for bit. */
typedef void (*ForwardFn)(float *out, const float *inp, const float *weight, const float *bias,
                          int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Random input, weights and bias for shape s, drawn from r in that order. */
static void conv_inputs(const Shape *s, Rng *r, float **x, float **w, float **bias) {
    const size_t nx = (size_t)s->B * s->Cin * s->L, nw = (size_t)s->Cout * s->Cin * s->K;
    *x = xmalloc(nx * sizeof(float));
    *w = xmalloc(nw * sizeof(float));
    *bias = xmalloc((size_t)s->Cout * sizeof(float));
    fill(*x, nx, r);
    fill(*w, nw, r);
    fill(*bias, (size_t)s->Cout, r);
}

static void check_forward_kernel(const char *name, ForwardFn fwd, const Shape *shapes, size_t n,
                                 Rng *r) {
    for (size_t si = 0; si < n; si++) {
        const Shape *s = &shapes[si];
        const int Lo = conv1d_out_len(s->L, s->K, s->S, s->P);
        const size_t ny = (size_t)s->B * s->Cout * Lo;
        float *x, *w, *bias;
        conv_inputs(s, r, &x, &w, &bias);
        float *yr = xmalloc(ny * sizeof(float)), *y1 = xmalloc(ny * sizeof(float));
        float *y2 = xmalloc(ny * sizeof(float));
        const float *b = s->bias ? bias : NULL;
        conv1d_forward_ref(yr, x, w, b, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
        for (size_t i = 0; i < ny; i++) y1[i] = y2[i] = NAN; /* must overwrite everything */
        const int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        fwd(y1, x, w, b, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
        omp_set_num_threads(2);
        fwd(y2, x, w, b, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
        omp_set_num_threads(saved);
        double e = rel_err(y1, yr, ny);
        CHECKF(e <= 2e-5, "%s shape %zu (Lout %d): forward error %.3e", name, si, Lo, e);
        CHECKF(memcmp(y1, y2, ny * sizeof(float)) == 0, "%s shape %zu: 1 vs 2 threads", name, si);
        free(x), free(w), free(bias), free(yr), free(y1), free(y2);
    }
}

/* The direct forward kernels against the reference: the wide kernel (Lout >= 9) with every
 * remainder of its 6-row and 16-column blocks, the dot kernel (Lout <= 8) with reductions
 * that are not a multiple of 8, strides 1-4, bias, several examples, and one and two threads
 * giving the same bits. The dnnl backend must route batch-1 fp32 forwards here. */
static void test_direct(void) {
    if (!conv1d_direct_available()) {
        printf("test_backend: direct kernels skipped: %s\n", cpu_features_summary());
        CHECK(!conv1d_direct_wins(1, 1, 8, 8, 64, 17, 1, 8));
        return;
    }
    static const Shape shapes[] = {
        /* B Cin Cout L K S P bias */
        {1, 5, 7, 64, 17, 1, 8, 0, 0},    /* 64 outputs: no column padding; rows 6 + 1 */
        {1, 6, 13, 50, 17, 4, 8, 1, 0},   /* stride 4, 13 outputs, rows 6 + 6 + 1 */
        {2, 3, 11, 37, 9, 1, 4, 1, 0},    /* odd everything, two examples; rows 6 + 4 + 1 */
        {1, 12, 16, 100, 17, 1, 8, 0, 0}, /* stem-like */
        {3, 4, 9, 40, 5, 2, 2, 0, 0},     /* stride 2, three examples; rows 6 + 2 + 1 */
        {1, 7, 5, 30, 3, 3, 0, 1, 0},     /* stride 3, no padding */
        {1, 9, 10, 16, 17, 4, 8, 0, 0},   /* 4 outputs: dot kernel, Kd = 153 */
        {1, 5, 8, 8, 17, 1, 8, 1, 0},     /* 8 outputs: dot kernel, Kd = 85, rows 3+3+2 */
        {2, 3, 7, 5, 2, 1, 0, 0, 0},      /* K 2, 4 outputs, Kd = 6 < 8 */
        {1, 16, 4, 3, 17, 4, 8, 0, 0},    /* shorter than the kernel, 1 output, Kd = 272 */
        {1, 40, 12, 300, 17, 1, 8, 0, 0}, /* several channel chunks in the wide kernel */
    };
    Rng r;
    rng_seed(&r, 7);
    check_forward_kernel("direct", conv1d_direct_forward, shapes, sizeof shapes / sizeof shapes[0], &r);
    /* routing: batch 1 and 2 fp32 forwards take the direct path, batch 64 only in inference
     * (frozen weights) on a CPU without AVX-512, or with the limit set in the environment */
    CHECK(conv1d_direct_wins(1, 0, 128, 128, 1024, 17, 4, 8));
    CHECK(conv1d_direct_wins(2, 0, 256, 320, 16, 17, 1, 8));
    CHECK(!conv1d_direct_wins(64, 0, 128, 128, 1024, 17, 4, 8));
    CHECK(conv1d_direct_wins(64, 1, 128, 128, 1024, 17, 4, 8) == !cpu_features()->avx512f);
    CHECK(!conv1d_direct_wins(1, 0, 64, 128, 256, 1, 1, 0)); /* 1x1: the pointwise sgemm */
    CHECK(!conv1d_direct_wins(3, 0, 128, 128, 1024, 17, 4, 8)); /* training: at most 2 */
    setenv("KRES_OWN_KERNELS_MAX_BATCH", "8", 1);
    CHECK(conv1d_own_kernels_max_batch() == 8 && !conv1d_direct_wins(3, 0, 128, 128, 1024, 17, 4, 8));
    CHECK(conv1d_direct_wins(8, 1, 128, 128, 1024, 17, 4, 8) && !conv1d_direct_wins(9, 1, 128, 128, 1024, 17, 4, 8));
    setenv("KRES_OWN_KERNELS_MAX_BATCH", "many", 1); /* not a number: the default */
    CHECK(conv1d_own_kernels_max_batch() == (cpu_features()->avx512f ? 2 : INT_MAX));
    unsetenv("KRES_OWN_KERNELS_MAX_BATCH");
    {
        const int Cin = 6, Cout = 7, L = 45, K = 17, S = 4, P = 8, Lo = conv1d_out_len(L, K, S, P);
        float x[6 * 45], w[7 * 6 * 17], yd[7 * 12], yb[7 * 12];
        fill(x, sizeof x / sizeof x[0], &r);
        fill(w, sizeof w / sizeof w[0], &r);
        CHECK(Lo == 12);
        conv1d_direct_forward(yd, x, w, NULL, 1, Cin, Cout, L, K, S, P);
        nn_set_backend(NN_BACKEND_DNNL);
        conv1d_forward(yb, x, w, NULL, 1, Cin, Cout, L, K, S, P, NULL, 0);
        CHECK(memcmp(yd, yb, sizeof yd) == 0);
        nn_set_backend(NN_BACKEND_FAST);
    }
    CHECK(conv1d_direct_workspace_bytes() > 0);
    conv1d_direct_release();
    CHECK(conv1d_direct_workspace_bytes() == 0);
}

/* The Winograd forward against the reference, both variants (F(4, 4) over 4-tap blocks,
 * F(4, 5) where every phase fits one 5-tap block): strides 1-4 (phases with 1-5 tap blocks), kernels that are not a multiple of 4, output-channel remainders of its 6-row
 * kernel, tile counts below, at and above its 16-tile block, outputs not a multiple of 4,
 * padding 0 and past the kernel, bias, two examples; one and two threads give the same
 * bits; every output is written. Then its weight cache: changed weights (same pointer) are
 * noticed without a promise; under a frozen.h promise the check happens once, and a new
 * promise checks again. Then routing: the dnnl backend sends frozen batch-1 forwards of the
 * KRes conv2 shapes here, unfrozen ones to the direct kernels. */
static void test_winograd(void) {
    if (!conv1d_winograd_available()) {
        printf("test_backend: Winograd kernel skipped: %s\n", cpu_features_summary());
        CHECK(!conv1d_winograd_wins(1, 128, 128, 1024, 17, 4, 8));
        return;
    }
    static const Shape shapes[] = {
        /* B Cin Cout L K S P bias */
        {1, 5, 7, 64, 17, 1, 8, 0, 0},     /* 16 tiles, 5 blocks, rows 6 + 1 */
        {1, 6, 13, 250, 17, 4, 8, 1, 0},   /* stride 4: 62 outputs, 16 tiles; rows 6+6+1 */
        {2, 3, 12, 37, 9, 1, 4, 1, 0},     /* 37 outputs (10 tiles), two examples */
        {1, 4, 6, 301, 17, 2, 8, 0, 0},    /* stride 2, 151 outputs: 38 tiles, 3 blocks of 16 */
        {1, 7, 5, 90, 11, 3, 0, 1, 0},     /* stride 3, no padding, 27 outputs */
        {1, 3, 8, 20, 4, 1, 10, 0, 0},     /* padding past the kernel, one block */
        {1, 9, 11, 200, 8, 4, 3, 0, 0},    /* stride 4, K 8: two taps per phase */
        {2, 16, 20, 128, 17, 4, 8, 1, 0},  /* KRes conv2-like (F(4, 5): phases of 5,4,4,4 taps) */
        {1, 5, 9, 120, 10, 2, 4, 1, 0},    /* F(4, 5) with two full 5-tap phases */
    };
    Rng r;
    rng_seed(&r, 17);
    check_forward_kernel("winograd", conv1d_winograd_forward, shapes,
                         sizeof shapes / sizeof shapes[0], &r);

    /* the cache of transformed weights, one weight buffer changed in place */
    const int Cin = 8, Cout = 7, L = 96, K = 17, S = 4, P = 8, Lo = conv1d_out_len(L, K, S, P);
    const size_t nx = (size_t)Cin * L, nw = (size_t)Cout * Cin * K, ny = (size_t)Cout * Lo;
    float *x = xmalloc(nx * sizeof(float)), *w = xmalloc(nw * sizeof(float));
    float *y = xmalloc(ny * sizeof(float)), *yr = xmalloc(ny * sizeof(float));
    float *y0 = xmalloc(ny * sizeof(float));
    fill(x, nx, &r);
    fill(w, nw, &r);
    conv1d_winograd_forward(y0, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    w[3] += 0.75f; /* no promise: noticed */
    conv1d_winograd_forward(y, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    conv1d_forward_ref(yr, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    CHECK(rel_err(y, yr, ny) <= 2e-5);
    CHECK(memcmp(y, y0, ny * sizeof(float)) != 0);
    const uint64_t g1 = frozen_new_generation(), g2 = frozen_new_generation();
    CHECK(g1 != 0 && g2 != g1);
    frozen_set_generation(g1);
    CHECK(frozen_generation() == g1);
    conv1d_winograd_forward(y0, x, w, NULL, 1, Cin, Cout, L, K, S, P); /* checked once */
    CHECK(memcmp(y0, y, ny * sizeof(float)) == 0);
    w[3] -= 0.75f; /* breaks the promise: the transform is trusted, so the output is stale */
    conv1d_winograd_forward(y0, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    CHECK(memcmp(y0, y, ny * sizeof(float)) == 0);
    frozen_set_generation(g2); /* a new promise checks again */
    conv1d_winograd_forward(y0, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    conv1d_forward_ref(yr, x, w, NULL, 1, Cin, Cout, L, K, S, P);
    CHECK(rel_err(y0, yr, ny) <= 2e-5);
    CHECK(memcmp(y0, y, ny * sizeof(float)) != 0);
    frozen_set_generation(0);
    free(x), free(w), free(y), free(yr), free(y0);

    /* routing: the KRes layers it wins on, and those it leaves to the direct kernels */
    CHECK(conv1d_winograd_wins(1, 128, 128, 1024, 17, 4, 8)); /* units.0.conv2 */
    CHECK(conv1d_winograd_wins(1, 196, 196, 256, 17, 4, 8));  /* units.1.conv2 */
    CHECK(conv1d_winograd_wins(2, 196, 256, 64, 17, 1, 8));   /* units.2.conv1 */
    CHECK(!conv1d_winograd_wins(1, 12, 64, 1024, 17, 1, 8));  /* stem */
    CHECK(!conv1d_winograd_wins(1, 256, 256, 64, 17, 4, 8));  /* units.2.conv2: 16 outputs */
    CHECK(conv1d_winograd_wins(64, 128, 128, 1024, 17, 4, 8) == !cpu_features()->avx512f);
    CHECK(!conv1d_winograd_wins(1, 128, 128, 256, 1, 1, 0)); /* 1x1 */
    {
        const int Ci = 64, Co = 64, Ln = 256, n_y = 64 * 64;
        const size_t n_x = (size_t)Ci * Ln, n_w = (size_t)Co * Ci * K;
        float *xx = xmalloc(n_x * sizeof(float)), *ww = xmalloc(n_w * sizeof(float));
        float *yw = xmalloc(n_y * sizeof(float)), *yb = xmalloc(n_y * sizeof(float));
        float *yd = xmalloc(n_y * sizeof(float));
        fill(xx, n_x, &r);
        fill(ww, n_w, &r);
        CHECK(conv1d_out_len(Ln, K, S, P) == 64 && conv1d_winograd_wins(1, Ci, Co, Ln, K, S, P));
        conv1d_winograd_forward(yw, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P);
        const int direct = conv1d_direct_available();
        if (direct) conv1d_direct_forward(yd, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P);
        CHECK(!direct || memcmp(yw, yd, n_y * sizeof(float)) != 0); /* they round differently */
        nn_set_backend(NN_BACKEND_DNNL);
        conv1d_dnnl_set_frozen_weights(1);
        conv1d_forward(yb, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P, NULL, 0);
        CHECK(memcmp(yw, yb, n_y * sizeof(float)) == 0);
        conv1d_dnnl_set_frozen_weights(0); /* training forwards: here too, transformed again */
        ww[0] += 1.0f;                     /* the next step's weights */
        conv1d_winograd_forward(yw, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P);
        ww[0] -= 1.0f;
        conv1d_forward(yb, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P, NULL, 0);
        CHECK(memcmp(yw, yb, n_y * sizeof(float)) != 0); /* not the stale transform */
        conv1d_winograd_forward(yw, xx, ww, NULL, 1, Ci, Co, Ln, K, S, P);
        CHECK(memcmp(yw, yb, n_y * sizeof(float)) == 0);
        nn_set_backend(NN_BACKEND_FAST);
        free(xx), free(ww), free(yw), free(yb), free(yd);
    }
    if (!cpu_features()->avx512f) {
        /* batches of 5 go here too on AVX2 CPUs, frozen (inference) or not (training) */
        const int Bb = 5, Ci = 64, Co = 64, Ln = 256, n_y = Bb * 64 * 64;
        const size_t n_x = (size_t)Bb * Ci * Ln, n_w = (size_t)Co * Ci * K;
        float *xx = xmalloc(n_x * sizeof(float)), *ww = xmalloc(n_w * sizeof(float));
        float *yw = xmalloc(n_y * sizeof(float)), *yb = xmalloc(n_y * sizeof(float));
        fill(xx, n_x, &r);
        fill(ww, n_w, &r);
        conv1d_winograd_forward(yw, xx, ww, NULL, Bb, Ci, Co, Ln, K, S, P);
        nn_set_backend(NN_BACKEND_DNNL);
        conv1d_dnnl_set_frozen_weights(1);
        conv1d_forward(yb, xx, ww, NULL, Bb, Ci, Co, Ln, K, S, P, NULL, 0);
        CHECK(memcmp(yw, yb, n_y * sizeof(float)) == 0);
        conv1d_dnnl_set_frozen_weights(0);
        memset(yb, 0, n_y * sizeof(float));
        conv1d_forward(yb, xx, ww, NULL, Bb, Ci, Co, Ln, K, S, P, NULL, 0);
        CHECK(memcmp(yw, yb, n_y * sizeof(float)) == 0);
        nn_set_backend(NN_BACKEND_FAST);
        free(xx), free(ww), free(yw), free(yb);
    }
    CHECK(conv1d_winograd_workspace_bytes() > 0);
    conv1d_winograd_release();
    CHECK(conv1d_winograd_workspace_bytes() == 0);
}

/* frozen.h's weight-transform cache on its own: a new entry and changed weights ask for a
 * fresh transform, unchanged ones do not; another key or size is another entry; more than
 * WEIGHT_CACHE_SLOTS tensors replace entries round-robin; under a promise the check runs once. */
static void test_weight_cache(void) {
    WeightCache c;
    memset(&c, 0, sizeof c);
    float w[WEIGHT_CACHE_SLOTS + 2][8];
    for (int t = 0; t < WEIGHT_CACHE_SLOTS + 2; t++)
        for (int i = 0; i < 8; i++) w[t][i] = (float)(t * 8 + i);
    const int k1[WEIGHT_CACHE_KEY] = {1, 2, 3, 4}, k2[WEIGHT_CACHE_KEY] = {1, 2, 3, 5};
    int fresh = -1;
    float *d = weight_cache_get(&c, w[0], 8, k1, 5, &fresh);
    CHECK(d != NULL && fresh == 1);
    d[0] = 42.0f; /* the caller's transform */
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 0 && d[0] == 42.0f);
    w[0][3] += 1.0f; /* changed in place: recompute */
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 1);
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 0);
    float *d2 = weight_cache_get(&c, w[0], 8, k2, 5, &fresh); /* another key */
    CHECK(d2 != d && fresh == 1 && c.n == 2);
    CHECK(weight_cache_bytes(&c) == 2 * (8 + 5) * sizeof(float));
    frozen_set_generation(frozen_new_generation());
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 0); /* checked once */
    w[0][3] -= 1.0f; /* a broken promise goes unseen ... */
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 0);
    frozen_set_generation(0); /* ... and is caught without one */
    CHECK(weight_cache_get(&c, w[0], 8, k1, 5, &fresh) == d && fresh == 1);
    for (int t = 1; t < WEIGHT_CACHE_SLOTS + 2; t++) weight_cache_get(&c, w[t], 8, k1, 5, &fresh);
    CHECK(c.n == WEIGHT_CACHE_SLOTS && fresh == 1);
    weight_cache_get(&c, w[0], 8, k1, 5, &fresh); /* its slot was reused: a fresh entry */
    CHECK(fresh == 1);
    weight_cache_release(&c);
    CHECK(c.n == 0 && weight_cache_bytes(&c) == 0);
}

/* kres_freeze end to end, batch 1 through the dnnl backend on a model whose stride-4 conv2
 * takes the Winograd path (64 channels, 64 outputs): logits match the reference backend;
 * weights changed through kres_params (which ends the promise) are used; weights changed
 * through an old pointer under a promise are not (the documented contract), until the
 * next promise. */
static void test_freeze_model(void) {
    if (!conv1d_winograd_available()) return;
    KresConfig c = small_config(256, 64, 1, 64, 0);
    Kres *m = kres_create(&c, 1, 21);
    CHECK(m != NULL);
    if (!m) return;
    Rng r;
    rng_seed(&r, 23);
    const size_t nx = (size_t)c.in_leads * c.in_len;
    float *x = xmalloc(nx * sizeof(float));
    fill(x, nx, &r);
    const KresTensor *w2 = kres_find_tensor(m, "units.0.conv2.weight");
    CHECK(w2 != NULL);
    if (!w2) {
        free(x);
        kres_free(m);
        return;
    }
    float *params = kres_params(m), ref[3], got[4];
    for (int step = 0; step < 3; step++) {
        /* the reference logit for the weights as they are now */
        nn_set_backend(NN_BACKEND_REF);
        kres_forward(m, x, 1, 0, NULL);
        ref[step] = kres_logits(m)[0];
        nn_set_backend(NN_BACKEND_DNNL);
        conv1d_winograd_release();
        kres_freeze(m, 1);
        kres_forward(m, x, 1, 0, NULL);
        got[step] = kres_logits(m)[0];
        CHECKF(fabs(got[step] - ref[step]) <= 1e-4 * (1 + fabs(ref[step])),
               "step %d: logit %.6f vs reference %.6f", step, got[step], ref[step]);
        CHECK(conv1d_winograd_workspace_bytes() > 0); /* the path was taken */
        float *p = kres_params(m) + w2->offset;       /* ends the promise */
        for (size_t i = 0; i < w2->numel; i += 7) p[i] *= 1.5f;
    }
    CHECK(got[1] != got[0] && got[2] != got[1]);
    /* a broken promise: weights written through the old pointer are not seen ... */
    kres_freeze(m, 1);
    kres_forward(m, x, 1, 0, NULL);
    const float before = kres_logits(m)[0];
    for (size_t i = 0; i < w2->numel; i += 5) params[w2->offset + i] *= -1.0f;
    kres_forward(m, x, 1, 0, NULL);
    CHECK(kres_logits(m)[0] == before);
    /* ... until the next promise */
    kres_freeze(m, 1);
    kres_forward(m, x, 1, 0, NULL);
    got[3] = kres_logits(m)[0];
    nn_set_backend(NN_BACKEND_REF);
    kres_forward(m, x, 1, 0, NULL);
    CHECK(got[3] != before && fabs(got[3] - kres_logits(m)[0]) <= 1e-4 * (1 + fabs(got[3])));
    CHECK(frozen_generation() == 0); /* kres_forward withdraws it */
    nn_set_backend(NN_BACKEND_FAST);
    free(x);
    kres_free(m);
}

/* Forward weights kept in oneDNN's layout under a promise (batch 4: the oneDNN primitives,
 * FFT off): frozen forwards give the same bits as an unfrozen one, again on a second call;
 * weights changed through kres_params are used; under a promise, weights written through an
 * old pointer are not seen where the cache holds the layer (the documented contract). In
 * fp32, and in bf16 where the CPU has it. */
static void test_freeze_dnnl_weights(void) {
    KresConfig c = small_config(256, 16, 2, 16, 24);
    enum { B = 4 };
    Kres *m = kres_create(&c, B, 31);
    CHECK(m != NULL);
    if (!m) return;
    Rng r;
    rng_seed(&r, 37);
    const size_t nx = (size_t)B * c.in_leads * c.in_len;
    float *x = xmalloc(nx * sizeof(float));
    fill(x, nx, &r);
    const KresTensor *w = kres_find_tensor(m, "units.1.conv2.weight");
    CHECK(w != NULL);
    nn_set_backend(NN_BACKEND_DNNL);
    conv1d_dnnl_set_fft(0);
    for (int bf = 0; bf <= cpu_has_fast_bf16() && w; bf++) {
        if (bf) CHECK(conv1d_dnnl_set_precision(NN_PREC_BF16) == 0);
        float y0[B], y1[B], y2[B];
        kres_forward(m, x, B, 0, NULL); /* no promise: the arena path */
        memcpy(y0, kres_logits(m), sizeof y0);
        kres_freeze(m, 1);
        kres_forward(m, x, B, 0, NULL);
        memcpy(y1, kres_logits(m), sizeof y1);
        kres_forward(m, x, B, 0, NULL);
        memcpy(y2, kres_logits(m), sizeof y2);
        CHECKF(memcmp(y0, y1, sizeof y0) == 0 && memcmp(y1, y2, sizeof y1) == 0,
               "%s: frozen forwards differ from the unfrozen one", bf ? "bf16" : "fp32");
        const int cached = conv1d_dnnl_weight_cache_bytes() > 0;
        float *p = kres_params(m) + w->offset; /* ends the promise */
        for (size_t i = 0; i < w->numel; i += 3) p[i] = -2.0f * p[i] + 0.01f;
        kres_freeze(m, 1);
        kres_forward(m, x, B, 0, NULL);
        memcpy(y1, kres_logits(m), sizeof y1);
        kres_freeze(m, 0);
        kres_forward(m, x, B, 0, NULL);
        CHECK(memcmp(y1, kres_logits(m), sizeof y1) == 0 && memcmp(y1, y0, sizeof y0) != 0);
        /* a broken promise: stale weights while the cache holds the layer */
        kres_freeze(m, 1);
        kres_forward(m, x, B, 0, NULL);
        for (size_t i = 0; i < w->numel; i += 3) p[i] *= -1.0f;
        kres_forward(m, x, B, 0, NULL);
        if (cached) CHECK(memcmp(y1, kres_logits(m), sizeof y1) == 0);
        kres_freeze(m, 1); /* the next promise sees them */
        kres_forward(m, x, B, 0, NULL);
        CHECK(memcmp(y1, kres_logits(m), sizeof y1) != 0);
        kres_freeze(m, 0);
        if (bf) conv1d_dnnl_set_precision(NN_PREC_FP32);
    }
    conv1d_dnnl_set_fft(1);
    nn_set_backend(NN_BACKEND_FAST);
    free(x);
    kres_free(m);
}

/* --digest: a 64-bit FNV-1a hash of FFT forward and backward outputs at batch 1 (both
 * transform lengths the KRes conv1 layers use, windows past both ends) and of a Winograd
 * forward, printed for tests/kernel_switches_test.sh to compare across KRES_* switches that
 * must not change any bit. */
static uint64_t fnv(uint64_t h, const float *x, size_t n) {
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static int digest(void) {
    const int Cin = 16, Cout = 24, L = 200, K = 17, P = 8;
    const size_t nx = (size_t)Cin * L, ny = (size_t)Cout * L, nw = (size_t)Cout * Cin * K;
    float *x = xmalloc(nx * sizeof(float)), *w = xmalloc(nw * sizeof(float));
    float *y = xmalloc(ny * sizeof(float)), *dx = xcalloc(nx, sizeof(float));
    float *dw = xcalloc(nw, sizeof(float));
    Rng r;
    rng_seed(&r, 29);
    fill(x, nx, &r);
    fill(w, nw, &r);
    uint64_t h = 1469598103934665603ULL;
    for (int n = 32; n <= 64; n *= 2) {
        conv1d_fft_forward(y, x, w, NULL, 1, Cin, Cout, L, K, P, n);
        h = fnv(h, y, ny);
        conv1d_fft_backward(dx, dw, NULL, y, x, w, 1, Cin, Cout, L, K, P, n);
        h = fnv(fnv(h, dx, nx), dw, nw);
    }
    if (conv1d_winograd_available()) {
        conv1d_winograd_forward(y, x, w, NULL, 1, Cin, Cout, L, K, 4, P);
        h = fnv(h, y, (size_t)Cout * conv1d_out_len(L, K, 4, P));
    }
    printf("digest %016llx\n", (unsigned long long)h);
    free(x), free(w), free(y), free(dx), free(dw);
    return 0;
}

/* The FFT forward with fewer examples than threads (the whole team on each chunk) against
 * the reference and, bit for bit, against one thread (the examples split): batch 1 through
 * the register-blocked products and, with a long input, through sgemm. (With as many
 * examples as threads the split path's chunks, and so its bits, depend on the thread count,
 * as they always have: same bits are promised for the same thread count only.) */
static void fft_forward_64(float *out, const float *inp, const float *weight, const float *bias, int B, int Cin,
                           int Cout, int L, int K, int stride, int pad) {
    KRES_ASSERT(stride == 1);
    conv1d_fft_forward(out, inp, weight, bias, B, Cin, Cout, L, K, pad, 64);
}

static void test_fft_team(void) {
    const Shape shapes[] = {
        {1, 12, 16, 1024, 17, 1, 8, 1, 0},
        {1, 9, 7, 4000, 17, 1, 8, 0, 0},
        {1, 5, 6, 100, 9, 1, 0, 1, 0},
    };
    Rng r;
    rng_seed(&r, 33);
    check_forward_kernel("fft team", fft_forward_64, shapes, sizeof shapes / sizeof shapes[0], &r);
}

/* The FFT forward at its own best length (the register-blocked complex products at batch 1). */
static void fft_forward_best(float *out, const float *inp, const float *weight, const float *bias, int B,
                             int Cin, int Cout, int L, int K, int stride, int pad) {
    KRES_ASSERT(stride == 1);
    conv1d_fft_forward(out, inp, weight, bias, B, Cin, Cout, L, K, pad,
                       conv1d_fft_best_n(B, Cin, Cout, L, K, 1, pad));
}

/* y = fwd(shape) with fixed inputs (seeded per shape), NaN-filled first. */
static void run_forward(float *y, ForwardFn fwd, const Shape *s, unsigned seed) {
    const int Lo = conv1d_out_len(s->L, s->K, s->S, s->P);
    float *x, *w, *bias;
    Rng r;
    rng_seed(&r, seed);
    conv_inputs(s, &r, &x, &w, &bias);
    for (size_t i = 0; i < (size_t)s->B * s->Cout * Lo; i++) y[i] = NAN;
    fwd(y, x, w, s->bias ? bias : NULL, s->B, s->Cin, s->Cout, s->L, s->K, s->S, s->P);
    free(x), free(w), free(bias);
}

/* Every build of the own kernels (nn/simd.h) gives the AVX2 build's bits: the AVX-512
 * blocking compiled for AVX2 on every CPU, and the AVX-512 build itself where the CPU has
 * it. The shapes are the KRes batch-1 layers each kernel takes plus shapes that leave every
 * remainder of the 8-row (direct, Winograd) and 6-row (FFT products) blocks; the AVX2
 * build is checked against the reference in test_direct, test_winograd and test_fft_team. */
static void test_own_kernel_builds(void) {
    if (!conv1d_direct_available() || !conv1d_winograd_available()) {
        printf("test_backend: own-kernel builds skipped: %s\n", cpu_features_summary());
        return;
    }
    const char *env = getenv("KRES_AVX512_KERNELS");
    if (!env || strcmp(env, "1") != 0) CHECK(own_kernels_isa() == OWN_ISA_AVX2); /* opt-in */
    const CpuFeatures *f = cpu_features();
    const int has512 = f->avx512f && f->avx512vl;
    own_kernels_force_isa(OWN_ISA_AVX512);
    CHECK(own_kernels_isa() == (has512 ? OWN_ISA_AVX512 : OWN_ISA_AVX2)); /* ignored without it */
    static const struct {
        const char *name;
        ForwardFn fwd;
        Shape s;
    } cases[] = {
        /* B Cin Cout L K S P bias */
        {"direct stem", conv1d_direct_forward, {1, 12, 64, 1024, 17, 1, 8, 1, 0}},
        {"direct units.2.conv2", conv1d_direct_forward, {1, 256, 256, 64, 17, 4, 8, 0, 0}},
        {"direct units.3.conv1", conv1d_direct_forward, {1, 256, 320, 16, 17, 1, 8, 0, 0}},
        {"direct rows 8+4+1", conv1d_direct_forward, {2, 6, 13, 50, 17, 4, 8, 1, 0}},
        {"direct rows 4+2+1", conv1d_direct_forward, {1, 5, 7, 37, 9, 1, 4, 0, 0}},
        {"direct chunks, rows 8+4+2+1", conv1d_direct_forward, {1, 40, 15, 300, 17, 1, 8, 1, 0}},
        {"winograd units.1.conv2", conv1d_winograd_forward, {1, 128, 196, 256, 17, 4, 8, 1, 0}},
        {"winograd units.2.conv1", conv1d_winograd_forward, {1, 196, 256, 64, 17, 1, 8, 0, 0}},
        {"winograd rows 8+5", conv1d_winograd_forward, {2, 64, 13, 130, 9, 1, 4, 1, 0}},
        {"fft units.1.conv1", fft_forward_best, {1, 128, 196, 256, 17, 1, 8, 1, 0}},
        {"fft units.0.conv1", fft_forward_best, {1, 64, 128, 1024, 17, 1, 8, 0, 0}},
        {"fft rows 6+4+1", fft_forward_best, {1, 16, 11, 200, 17, 1, 8, 1, 0}},
    };
    const int builds[] = {OWN_ISA_AVX512_SHAPES, OWN_ISA_AVX512};
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const Shape *s = &cases[ci].s;
        const size_t ny = (size_t)s->B * s->Cout * conv1d_out_len(s->L, s->K, s->S, s->P);
        float *y0 = xmalloc(ny * sizeof(float)), *y = xmalloc(ny * sizeof(float));
        own_kernels_force_isa(OWN_ISA_AVX2);
        run_forward(y0, cases[ci].fwd, s, 100 + (unsigned)ci);
        for (size_t bi = 0; bi < sizeof builds / sizeof builds[0]; bi++) {
            if (builds[bi] == OWN_ISA_AVX512 && !has512) continue;
            own_kernels_force_isa(builds[bi]);
            CHECK(own_kernels_isa() == (OwnIsa)builds[bi]);
            run_forward(y, cases[ci].fwd, s, 100 + (unsigned)ci);
            CHECKF(memcmp(y, y0, ny * sizeof(float)) == 0, "%s: %s build differs from avx2",
                   cases[ci].name, own_kernels_isa_name((OwnIsa)builds[bi]));
        }
        free(y0), free(y);
    }
    own_kernels_force_isa(-1);
    if (!has512) printf("test_backend: avx512 kernel build not run: %s\n", cpu_features_summary());
}

/* omp_single_thread_calls (nn/threads.h): inside a region, even a team of one, library
 * calls run on one thread, and the setting ends with the region. Then the dnnl backend's
 * 1x1 convolutions at batch 1 and 2 (oneDNN's sgemm inside a one-thread region, where it
 * used to open a nested team of new threads) against the reference, 1 vs 2 threads bit for
 * bit. */
static void test_single_thread_calls(void) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    omp_single_thread_calls(); /* outside any region: no effect */
    CHECK(omp_get_max_threads() == 2);
    int inner_max = -1, nested_team = -1;
#pragma omp parallel num_threads(1)
    {
        omp_single_thread_calls();
        inner_max = omp_get_max_threads();
#pragma omp parallel
        nested_team = omp_get_num_threads();
    }
    CHECK(inner_max == 1);
    CHECK(nested_team == 1);
    CHECK(omp_get_max_threads() == 2); /* the region's setting did not leak */
#pragma omp parallel num_threads(2)
    omp_single_thread_calls(); /* every thread of a real team, the master included */
    CHECK(omp_get_max_threads() == 2);
    omp_set_num_threads(saved);
    nn_set_backend(NN_BACKEND_DNNL);
    const Shape shapes[] = {
        {1, 128, 196, 64, 1, 1, 0, 0, 0},
        {1, 40, 24, 300, 1, 1, 0, 1, 0},
        {2, 64, 128, 256, 1, 1, 0, 0, 0},
    };
    Rng r;
    rng_seed(&r, 21);
    check_forward_kernel("dnnl 1x1", conv1d_forward_dnnl, shapes, sizeof shapes / sizeof shapes[0], &r);
    nn_set_backend(NN_BACKEND_FAST);
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--digest") == 0) return digest();
    test_paths();
    test_direct();
    test_winograd();
    test_weight_cache();
    test_freeze_model();
    test_freeze_dnnl_weights();
    test_determinism_and_cache();
    test_plan();
    test_frozen();
    test_fused();
    test_cpu_features();
    test_model();
    test_single_thread_calls();
    test_fft_team();
    test_own_kernel_builds();
    conv1d_dnnl_release();
    TEST_MAIN_END();
}
