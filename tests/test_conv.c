/* test_conv.c — conv1d and linear: hand values, finite-difference gradients of the naive
 * references, fast path (im2col + sgemm) against the references, accumulation semantics,
 * determinism and backend dispatch. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/conv1d.h"
#include "nn/linear.h"
#include "test.h"
#include "test_gradcheck.h"

typedef struct {
    int B, Cin, Cout, L, K, S, P, Lo;
    float *x, *w, *b, *out, *R;
} ConvCase;

static double conv_loss(void *p) {
    ConvCase *c = p;
    conv1d_forward_ref(c->out, c->x, c->w, c->b, c->B, c->Cin, c->Cout, c->L, c->K, c->S, c->P);
    return gc_dot(c->out, c->R, (size_t)c->B * c->Cout * c->Lo);
}

static void conv_case_init(ConvCase *c, int B, int Cin, int Cout, int L, int K, int S, int P,
                           int with_bias, Rng *r) {
    *c = (ConvCase){B, Cin, Cout, L, K, S, P, conv1d_out_len(L, K, S, P), 0, 0, 0, 0, 0};
    size_t nx = (size_t)B * Cin * L, nw = (size_t)Cout * Cin * K, no = (size_t)B * Cout * c->Lo;
    c->x = xmalloc(nx * sizeof(float));
    c->w = xmalloc(nw * sizeof(float));
    c->b = with_bias ? xmalloc((size_t)Cout * sizeof(float)) : NULL;
    c->out = xmalloc(no * sizeof(float));
    c->R = xmalloc(no * sizeof(float));
    gc_fill_normal(c->x, nx, r, 1.0f);
    gc_fill_normal(c->w, nw, r, 0.5f);
    if (c->b) gc_fill_normal(c->b, (size_t)Cout, r, 1.0f);
    gc_fill_normal(c->R, no, r, 1.0f);
}

static void conv_case_free(ConvCase *c) {
    free(c->x);
    free(c->w);
    free(c->b);
    free(c->out);
    free(c->R);
}

static void test_out_len_and_hand(void) {
    CHECK(conv1d_out_len(1024, 17, 1, 8) == 1024);
    CHECK(conv1d_out_len(1024, 17, 4, 8) == 256);
    CHECK(conv1d_out_len(10, 3, 1, 0) == 8);
    CHECK(conv1d_out_len(11, 4, 3, 1) == 4);
    /* x = [1 2 3 4], w = [1 0 -1], pad 1, bias 0.5: y[t] = x[t-1] - x[t+1] + 0.5 */
    float x[4] = {1, 2, 3, 4}, w[3] = {1, 0, -1}, b[1] = {0.5f}, y[4];
    conv1d_forward_ref(y, x, w, b, 1, 1, 1, 4, 3, 1, 1);
    CHECK_CLOSE(y[0], -2 + 0.5, 0, 0);
    CHECK_CLOSE(y[1], 1 - 3 + 0.5, 0, 0);
    CHECK_CLOSE(y[2], 2 - 4 + 0.5, 0, 0);
    CHECK_CLOSE(y[3], 3 + 0.5, 0, 0);
    /* stride 2, two input channels, no bias: y[o=0,t] = x0[2t] + 2 x1[2t+1] */
    float x2[2 * 5] = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50}, w2[2 * 2] = {1, 0, 0, 2}, y2[2];
    conv1d_forward_ref(y2, x2, w2, NULL, 1, 2, 1, 5, 2, 2, 0);
    CHECK_CLOSE(y2[0], 1 + 2 * 20, 0, 0);
    CHECK_CLOSE(y2[1], 3 + 2 * 40, 0, 0);
}

/* Naive backward against central differences of the naive forward. */
static void test_conv_ref_gradcheck(void) {
    static const int shapes[][8] = {
        /* B Cin Cout L K S P bias */
        {2, 3, 2, 9, 3, 1, 1, 1}, {2, 2, 3, 11, 5, 2, 2, 1}, {1, 3, 2, 7, 1, 1, 0, 0},
        {2, 2, 2, 10, 4, 3, 0, 1}, {1, 2, 2, 6, 5, 4, 3, 0},
    };
    Rng r;
    rng_seed(&r, 11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *h = shapes[s];
        ConvCase c;
        conv_case_init(&c, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], &r);
        size_t nx = (size_t)c.B * c.Cin * c.L, nw = (size_t)c.Cout * c.Cin * c.K;
        float *dx = xcalloc(nx, sizeof(float)), *dw = xcalloc(nw, sizeof(float));
        float *db = xcalloc((size_t)c.Cout, sizeof(float));
        conv1d_backward_ref(dx, dw, c.b ? db : NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout, c.L, c.K,
                            c.S, c.P);
        /* the layer is linear in each argument: a large eps is exact up to rounding */
        gradcheck("conv dinp", c.x, dx, nx, conv_loss, &c, 1e-2f, 1e-3, 1e-3);
        gradcheck("conv dweight", c.w, dw, nw, conv_loss, &c, 1e-2f, 1e-3, 1e-3);
        if (c.b) gradcheck("conv dbias", c.b, db, (size_t)c.Cout, conv_loss, &c, 1e-2f, 1e-3, 1e-3);
        free(dx);
        free(dw);
        free(db);
        conv_case_free(&c);
    }
}

/* Fast path against the reference: forward overwrites, backward accumulates on top of
 * whatever the gradient buffers already hold. */
static void test_conv_fast_vs_ref(void) {
    static const int shapes[][8] = {
        /* B Cin Cout L K S P bias */
        {3, 4, 5, 33, 17, 1, 8, 0}, {3, 4, 5, 33, 17, 4, 8, 0}, {2, 6, 3, 19, 5, 1, 2, 1},
        {2, 6, 3, 19, 5, 4, 2, 1},  {4, 7, 5, 13, 1, 1, 0, 1},  {2, 3, 4, 15, 1, 4, 0, 0},
        {1, 12, 8, 101, 17, 1, 8, 0}, {5, 3, 2, 8, 3, 2, 0, 1}, {2, 2, 3, 9, 4, 1, 3, 1},
    };
    Rng r;
    rng_seed(&r, 22);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *h = shapes[s];
        ConvCase c;
        conv_case_init(&c, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], &r);
        size_t nx = (size_t)c.B * c.Cin * c.L, nw = (size_t)c.Cout * c.Cin * c.K;
        size_t no = (size_t)c.B * c.Cout * c.Lo;
        size_t wn = conv1d_fast_workspace_size(c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P);
        float *work = xmalloc(wn * sizeof(float));
        float *yf = xmalloc(no * sizeof(float));
        for (size_t i = 0; i < no; i++) yf[i] = 1e9f; /* must be overwritten */
        conv1d_forward_fast(yf, c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P, work, wn);
        conv1d_forward_ref(c.out, c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P);
        double e = gc_rel_err(yf, c.out, no);
        CHECKF(e < 1e-5, "shape %zu forward rel err %.3g", s, e);
        /* gradients start from the same non-zero values in both runs */
        float *dx[2], *dw[2], *db[2];
        for (int k = 0; k < 2; k++) {
            dx[k] = xmalloc(nx * sizeof(float));
            dw[k] = xmalloc(nw * sizeof(float));
            db[k] = xmalloc((size_t)c.Cout * sizeof(float));
            Rng g;
            rng_seed(&g, 5);
            gc_fill_normal(dx[k], nx, &g, 1.0f);
            gc_fill_normal(dw[k], nw, &g, 1.0f);
            gc_fill_normal(db[k], (size_t)c.Cout, &g, 1.0f);
        }
        conv1d_backward_ref(dx[0], dw[0], c.b ? db[0] : NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout,
                            c.L, c.K, c.S, c.P);
        conv1d_backward_fast(dx[1], dw[1], c.b ? db[1] : NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout,
                             c.L, c.K, c.S, c.P, work, wn);
        e = gc_rel_err(dx[1], dx[0], nx);
        CHECKF(e < 1e-4, "shape %zu dinp rel err %.3g", s, e);
        e = gc_rel_err(dw[1], dw[0], nw);
        CHECKF(e < 1e-4, "shape %zu dweight rel err %.3g", s, e);
        e = gc_rel_err(db[1], db[0], (size_t)c.Cout);
        CHECKF(e < 1e-4, "shape %zu dbias rel err %.3g", s, e);
        /* dinp == NULL must still produce the same weight gradient */
        float *dw2 = xcalloc(nw, sizeof(float)), *dw3 = xcalloc(nw, sizeof(float));
        float *dxz = xcalloc(nx, sizeof(float));
        conv1d_backward_fast(NULL, dw2, NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout, c.L, c.K, c.S,
                             c.P, work, wn);
        conv1d_backward_fast(dxz, dw3, NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P,
                             work, wn);
        CHECK(memcmp(dw2, dw3, nw * sizeof(float)) == 0);
        for (int k = 0; k < 2; k++) {
            free(dx[k]);
            free(dw[k]);
            free(db[k]);
        }
        free(dw2);
        free(dw3);
        free(dxz);
        free(yf);
        free(work);
        conv_case_free(&c);
    }
}

/* Same thread count -> same bits; the forward is independent of the thread count. */
static void test_conv_determinism(void) {
    Rng r;
    rng_seed(&r, 33);
    ConvCase c;
    conv_case_init(&c, 6, 5, 7, 40, 17, 4, 8, 1, &r);
    size_t nx = (size_t)c.B * c.Cin * c.L, nw = (size_t)c.Cout * c.Cin * c.K;
    size_t no = (size_t)c.B * c.Cout * c.Lo;
    int saved = omp_get_max_threads();
    float *y[3], *dx[3], *dw[3];
    for (int run = 0; run < 3; run++) {
        omp_set_num_threads(run == 2 ? 1 : 2);
        size_t wn = conv1d_fast_workspace_size(c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P);
        float *work = xmalloc(wn * sizeof(float));
        y[run] = xmalloc(no * sizeof(float));
        dx[run] = xcalloc(nx, sizeof(float));
        dw[run] = xcalloc(nw, sizeof(float));
        conv1d_forward_fast(y[run], c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P, work, wn);
        conv1d_backward_fast(dx[run], dw[run], NULL, c.R, c.x, c.w, c.B, c.Cin, c.Cout, c.L, c.K,
                             c.S, c.P, work, wn);
        free(work);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(y[0], y[1], no * sizeof(float)) == 0);
    CHECK(memcmp(dx[0], dx[1], nx * sizeof(float)) == 0);
    CHECK(memcmp(dw[0], dw[1], nw * sizeof(float)) == 0);
    CHECK(memcmp(y[0], y[2], no * sizeof(float)) == 0);   /* per-example work only */
    CHECK(memcmp(dx[0], dx[2], nx * sizeof(float)) == 0); /* per-example work only */
    CHECK(gc_rel_err(dw[2], dw[0], nw) < 1e-5);           /* reduction order may differ */
    for (int run = 0; run < 3; run++) {
        free(y[run]);
        free(dx[run]);
        free(dw[run]);
    }
    conv_case_free(&c);
}

static void test_dispatch(void) {
    Rng r;
    rng_seed(&r, 44);
    ConvCase c;
    conv_case_init(&c, 2, 3, 4, 12, 3, 1, 1, 1, &r);
    size_t no = (size_t)c.B * c.Cout * c.Lo;
    float *y = xmalloc(no * sizeof(float));
    CHECK(nn_get_backend() == NN_BACKEND_FAST);
    nn_set_backend(NN_BACKEND_REF);
    CHECK(conv1d_workspace_size(c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P) == 0);
    conv1d_forward(y, c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P, NULL, 0);
    conv1d_forward_ref(c.out, c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P);
    CHECK(memcmp(y, c.out, no * sizeof(float)) == 0);
    nn_set_backend(NN_BACKEND_FAST);
    size_t wn = conv1d_workspace_size(c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P);
    CHECK(wn > 0);
    float *work = xmalloc(wn * sizeof(float));
    conv1d_forward(y, c.x, c.w, c.b, c.B, c.Cin, c.Cout, c.L, c.K, c.S, c.P, work, wn);
    CHECK(gc_rel_err(y, c.out, no) < 1e-5);
    CHECK(strcmp(nn_backend_name(NN_BACKEND_REF), "ref") == 0);
    free(work);
    free(y);
    conv_case_free(&c);
}

/* ------------------------------------------------------------------ linear ---------- */

typedef struct {
    int B, In, Out;
    float *x, *w, *b, *out, *R;
} LinCase;

static double lin_loss(void *p) {
    LinCase *c = p;
    linear_forward_ref(c->out, c->x, c->w, c->b, c->B, c->In, c->Out);
    return gc_dot(c->out, c->R, (size_t)c->B * c->Out);
}

static void test_linear(void) {
    /* hand: x = [1 2], W = [[1 1], [2 -1], [0 3]], b = [0.5 0 -1] */
    float x[2] = {1, 2}, W[6] = {1, 1, 2, -1, 0, 3}, b[3] = {0.5f, 0, -1}, y[3];
    linear_forward_ref(y, x, W, b, 1, 2, 3);
    CHECK_CLOSE(y[0], 3.5, 0, 0);
    CHECK_CLOSE(y[1], 0, 0, 0);
    CHECK_CLOSE(y[2], 5, 0, 0);
    linear_forward(y, x, W, b, 1, 2, 3); /* one example: the sgemv path */
    CHECK_CLOSE(y[0], 3.5, 1e-6, 0);
    CHECK_CLOSE(y[1], 0, 1e-6, 0);
    CHECK_CLOSE(y[2], 5, 1e-6, 0);
    linear_forward(y, x, W, NULL, 1, 2, 3);
    CHECK_CLOSE(y[0], 3, 1e-6, 0);
    CHECK_CLOSE(y[2], 6, 1e-6, 0);

    Rng r;
    rng_seed(&r, 55);
    LinCase c = {5, 7, 4, 0, 0, 0, 0, 0};
    size_t nx = 35, nw = 28, no = 20;
    c.x = xmalloc(nx * sizeof(float));
    c.w = xmalloc(nw * sizeof(float));
    c.b = xmalloc(4 * sizeof(float));
    c.out = xmalloc(no * sizeof(float));
    c.R = xmalloc(no * sizeof(float));
    gc_fill_normal(c.x, nx, &r, 1);
    gc_fill_normal(c.w, nw, &r, 1);
    gc_fill_normal(c.b, 4, &r, 1);
    gc_fill_normal(c.R, no, &r, 1);
    float *dx = xcalloc(nx, sizeof(float)), *dw = xcalloc(nw, sizeof(float));
    float *db = xcalloc(4, sizeof(float));
    linear_backward_ref(dx, dw, db, c.R, c.x, c.w, c.B, c.In, c.Out);
    gradcheck("linear dinp", c.x, dx, nx, lin_loss, &c, 1e-2f, 1e-3, 1e-3);
    gradcheck("linear dweight", c.w, dw, nw, lin_loss, &c, 1e-2f, 1e-3, 1e-3);
    gradcheck("linear dbias", c.b, db, 4, lin_loss, &c, 1e-2f, 1e-3, 1e-3);
    /* sgemm path vs reference, accumulating on top of the reference gradients (so 2x) */
    float *yf = xmalloc(no * sizeof(float));
    linear_forward(yf, c.x, c.w, c.b, c.B, c.In, c.Out);
    linear_forward_ref(c.out, c.x, c.w, c.b, c.B, c.In, c.Out);
    CHECK(gc_rel_err(yf, c.out, no) < 1e-5);
    for (int b = 0; b < c.B; b++) { /* each example alone (sgemv) gives the same, to rounding */
        float one[4];
        linear_forward(one, c.x + (size_t)b * c.In, c.w, c.b, 1, c.In, c.Out);
        CHECK(gc_rel_err(one, c.out + (size_t)b * c.Out, (size_t)c.Out) < 1e-5);
    }
    float *dx2 = xmalloc(nx * sizeof(float)), *dw2 = xmalloc(nw * sizeof(float));
    float *db2 = xmalloc(4 * sizeof(float));
    memcpy(dx2, dx, nx * sizeof(float));
    memcpy(dw2, dw, nw * sizeof(float));
    memcpy(db2, db, 4 * sizeof(float));
    linear_backward(dx2, dw2, db2, c.R, c.x, c.w, c.B, c.In, c.Out);
    for (size_t i = 0; i < nx; i++) dx[i] *= 2;
    for (size_t i = 0; i < nw; i++) dw[i] *= 2;
    for (size_t i = 0; i < 4; i++) db[i] *= 2;
    CHECK(gc_rel_err(dx2, dx, nx) < 1e-5);
    CHECK(gc_rel_err(dw2, dw, nw) < 1e-5);
    CHECK(gc_rel_err(db2, db, 4) < 1e-5);
    /* no bias, no input gradient */
    float *dw3 = xcalloc(nw, sizeof(float));
    linear_backward(NULL, dw3, NULL, c.R, c.x, c.w, c.B, c.In, c.Out);
    for (size_t i = 0; i < nw; i++) dw[i] *= 0.5f;
    CHECK(gc_rel_err(dw3, dw, nw) < 1e-5);
    free(dx);
    free(dw);
    free(db);
    free(dx2);
    free(dw2);
    free(db2);
    free(dw3);
    free(yf);
    free(c.x);
    free(c.w);
    free(c.b);
    free(c.out);
    free(c.R);
}

int main(void) {
    test_out_len_and_hand();
    test_conv_ref_gradcheck();
    test_conv_fast_vs_ref();
    test_conv_determinism();
    test_dispatch();
    test_linear();
    TEST_MAIN_END();
}
