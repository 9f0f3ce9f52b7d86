/* test_loss.c — BCE-with-logits (hand values, pos_weight, mask, extremes, gradient) and
 * NT-Xent (hand cases, invariances, accuracy, FD gradient through the normalisation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/loss.h"
#include "test.h"
#include "test_gradcheck.h"

static void test_sigmoid(void) {
    CHECK(sigmoid_stable(0) == 0.5f);
    CHECK_CLOSE(sigmoid_stable(2), 1 / (1 + exp(-2.0)), 1e-7, 0);
    CHECK_CLOSE(sigmoid_stable(-2), 1 / (1 + exp(2.0)), 1e-7, 0);
    CHECK(sigmoid_stable(-200) >= 0 && sigmoid_stable(-200) < 1e-30f);
    CHECK(sigmoid_stable(200) == 1.0f);
}

static void test_bce_hand(void) {
    /* x = 0 -> log 2 whatever the target */
    float x0[2] = {0, 0}, y01[2] = {0, 1}, d[2];
    CHECK_CLOSE(bce_with_logits_loss(d, x0, y01, NULL, NULL, 2, 1), log(2.0), 1e-7, 0);
    CHECK_CLOSE(d[0], 0.5 / 2, 1e-7, 0);  /* (sigmoid(0) - 0) / n */
    CHECK_CLOSE(d[1], -0.5 / 2, 1e-7, 0); /* (sigmoid(0) - 1) / n */
    /* pos_weight 3 on a positive at x = 0: 3 log 2; negatives unaffected */
    float pw[1] = {3}, one[1] = {1}, zero[1] = {0};
    CHECK_CLOSE(bce_with_logits_loss(d, x0, one, pw, NULL, 1, 1), 3 * log(2.0), 1e-6, 0);
    CHECK_CLOSE(d[0], -1.5, 1e-7, 0);
    CHECK_CLOSE(bce_with_logits_loss(d, x0, zero, pw, NULL, 1, 1), log(2.0), 1e-7, 0);
    /* x = 2, y = 1: log(1 + e^-2); x = 2, y = 0: log(1 + e^2) */
    float x2[1] = {2};
    CHECK_CLOSE(bce_with_logits_loss(NULL, x2, one, NULL, NULL, 1, 1), log1p(exp(-2.0)), 1e-7, 0);
    CHECK_CLOSE(bce_with_logits_loss(NULL, x2, zero, NULL, NULL, 1, 1), log1p(exp(2.0)), 1e-6, 0);
    /* extremes stay finite and exact: softplus(1000) = 1000, softplus(-1000) = 0 */
    float xb[2] = {1000, -1000}, yb[2] = {0, 0};
    float l = bce_with_logits_loss(d, xb, yb, NULL, NULL, 2, 1);
    CHECK_CLOSE(l, 500, 1e-3, 0);
    CHECK(isfinite(d[0]) && isfinite(d[1]));
    CHECK_CLOSE(d[0], 0.5, 1e-7, 0);
    CHECK_CLOSE(d[1], 0, 1e-7, 0);
    /* soft target 0.3 at x = 0 is still log 2 */
    float ys[1] = {0.3f};
    CHECK_CLOSE(bce_with_logits_loss(NULL, x0, ys, NULL, NULL, 1, 1), log(2.0), 1e-7, 0);
}

static void test_bce_multilabel_mask(void) {
    /* B = 2, O = 3; mask excludes (0,1) and (1,2); pos_weight per output */
    float x[6] = {0.5f, 9, -1, 2, -0.3f, 50}, y[6] = {1, 0, 0, 1, 1, 0};
    float mask[6] = {1, 0, 1, 1, 1, 0}, pw[3] = {2, 1, 0.5f}, d[6];
    double want = 0;
    int keep[4] = {0, 2, 3, 4};
    for (int k = 0; k < 4; k++) {
        int i = keep[k];
        double xi = x[i], yi = y[i], p = pw[i % 3];
        want += -(p * yi * log(1 / (1 + exp(-xi))) + (1 - yi) * log(1 - 1 / (1 + exp(-xi))));
    }
    want /= 4;
    float l = bce_with_logits_loss(d, x, y, pw, mask, 2, 3);
    CHECK_CLOSE(l, want, 1e-6, 1e-6);
    CHECK(d[1] == 0 && d[5] == 0);
    /* all masked: loss 0 and zero gradient, not NaN */
    float m0[6] = {0};
    CHECK(bce_with_logits_loss(d, x, y, pw, m0, 2, 3) == 0.0f);
    CHECK(d[0] == 0 && d[3] == 0);
}

typedef struct {
    float *x, *y, *pw, *mask, *z;
    int B, O, N2, P;
    float temp;
} LossCase;

static double bce_loss_fn(void *p) {
    LossCase *c = p;
    return bce_with_logits_loss(NULL, c->x, c->y, c->pw, c->mask, c->B, c->O);
}

static double ntx_loss_fn(void *p) {
    LossCase *c = p;
    return nt_xent_loss(NULL, NULL, c->z, c->N2, c->P, c->temp, NULL);
}

static void test_bce_gradcheck(void) {
    enum { B = 4, O = 3, N = B * O };
    float x[N], y[N], mask[N], pw[O] = {1.5f, 1, 4}, d[N];
    Rng r;
    rng_seed(&r, 1);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(2 * rng_normal(&r));
        y[i] = (float)rng_uniform(&r); /* soft targets exercise both terms */
        mask[i] = i % 5 == 2 ? 0.0f : 1.0f;
    }
    LossCase c = {x, y, pw, mask, NULL, B, O, 0, 0, 0};
    bce_with_logits_loss(d, x, y, pw, mask, B, O);
    /* loss is returned as float: eps 1e-2 keeps rounding noise ~1e-5 */
    gradcheck("bce dlogits", x, d, N, bce_loss_fn, &c, 1e-2f, 1e-4, 1e-2);
}

static void test_ntxent_hand(void) {
    /* 2 pairs in 2-D: rows 0,2 = e1 and rows 1,3 = e2 (row 2 scaled: normalisation).
     * Every anchor: s(pair) = 1/T, the other two 0 -> loss = log(2 + e^(1/T)) - 1/T. */
    float z[8] = {1, 0, 0, 1, 3, 0, 0, 0.5f}, dz[8], acc = -1;
    float l = nt_xent_loss(dz, &acc, z, 4, 2, 1.0f, NULL);
    CHECK_CLOSE(l, log(2 + exp(1.0)) - 1, 1e-6, 0);
    CHECK(acc == 1.0f);
    l = nt_xent_loss(NULL, NULL, z, 4, 2, 0.5f, NULL);
    CHECK_CLOSE(l, log(2 + exp(2.0)) - 2, 1e-6, 0);
    /* a wrong pairing: rows 0,1 = e1 and rows 2,3 = e2. Anchor 0 (pair 2): others are
     * s01 = 1/T, s02 = 0, s03 = 0 -> l = log(e^(1/T) + 2) - 0; same for every anchor. */
    float w[8] = {1, 0, 1, 0, 0, 1, 0, 1};
    l = nt_xent_loss(NULL, &acc, w, 4, 2, 1.0f, NULL);
    CHECK_CLOSE(l, log(exp(1.0) + 2), 1e-6, 0);
    CHECK(acc == 0.0f);
    /* gradient is orthogonal to each row (normalisation makes the loss scale-invariant) */
    double dot = 0;
    for (int i = 0; i < 4; i++) dot += fabs(dz[2 * i] * z[2 * i] + dz[2 * i + 1] * z[2 * i + 1]);
    CHECK(dot < 1e-6);
}

static void test_ntxent_random(void) {
    enum { N2 = 6, P = 4, N = N2 * P };
    float z[N], dz[N], acc;
    Rng r;
    rng_seed(&r, 2);
    gc_fill_normal(z, N, &r, 1);
    double *work = xmalloc(nt_xent_workspace_size(N2, P) * sizeof(double));
    float l = nt_xent_loss(dz, &acc, z, N2, P, 0.5f, work);
    /* independent naive recomputation of the loss */
    double zn[N], want = 0;
    for (int i = 0; i < N2; i++) {
        double s = 0;
        for (int p = 0; p < P; p++) s += z[i * P + p] * z[i * P + p];
        for (int p = 0; p < P; p++) zn[i * P + p] = z[i * P + p] / sqrt(s);
    }
    int correct = 0;
    for (int i = 0; i < N2; i++) {
        double den = 0, pos = 0, best = -1e300;
        int arg = -1;
        for (int k = 0; k < N2; k++) {
            if (k == i) continue;
            double s = 0;
            for (int p = 0; p < P; p++) s += zn[i * P + p] * zn[k * P + p];
            s /= 0.5;
            den += exp(s);
            if (k == (i + N2 / 2) % N2) pos = s;
            if (s > best) best = s, arg = k;
        }
        want += -pos + log(den);
        correct += arg == (i + N2 / 2) % N2;
    }
    want /= N2;
    CHECK_CLOSE(l, want, 1e-6, 1e-6);
    CHECK_CLOSE(acc, (double)correct / N2, 1e-7, 0);
    /* the provided workspace and the internal allocation agree bit for bit */
    float dz2[N], acc2;
    float l2 = nt_xent_loss(dz2, &acc2, z, N2, P, 0.5f, NULL);
    CHECK(l2 == l && memcmp(dz, dz2, sizeof dz) == 0);
    LossCase c = {0, 0, 0, 0, z, 0, 0, N2, P, 0.5f};
    gradcheck("ntxent dz", z, dz, N, ntx_loss_fn, &c, 1e-2f, 1e-4, 1e-2);
    /* a small temperature sharpens the softmax; still finite and exact */
    c.temp = 0.1f;
    nt_xent_loss(dz, NULL, z, N2, P, 0.1f, work);
    gradcheck("ntxent dz T=0.1", z, dz, N, ntx_loss_fn, &c, 2e-3f, 1e-3, 1e-2);
    free(work);
}

int main(void) {
    test_sigmoid();
    test_bce_hand();
    test_bce_multilabel_mask();
    test_bce_gradcheck();
    test_ntxent_hand();
    test_ntxent_random();
    TEST_MAIN_END();
}
