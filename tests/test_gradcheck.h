/* test_gradcheck.h — finite-difference gradient checks shared by the nn tests.
 *
 * A layer is reduced to a scalar f = sum(out * R) for a fixed random R (computed in double
 * from the float outputs), so the analytic gradient of f w.r.t. the layer input is the
 * layer's backward applied to dout = R. Central differences divide by the perturbation
 * actually representable in float (xp - xm), not by 2*eps. */
#ifndef KRES_TEST_GRADCHECK_H
#define KRES_TEST_GRADCHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "test.h"

typedef double (*GcLoss)(void *ctx);

/* One CHECK: every |numeric - analytic| <= atol + rtol*|numeric|. Returns the failures. */
static inline int gradcheck(const char *name, float *x, const float *grad, size_t n, GcLoss f,
                     void *ctx, float eps, double atol, double rtol) {
    int bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        float xp = x[i];
        double fp = f(ctx);
        x[i] = x0 - eps;
        float xm = x[i];
        double fm = f(ctx);
        x[i] = x0;
        double num = (fp - fm) / ((double)xp - (double)xm);
        double err = fabs(num - grad[i]);
        if (err > worst) worst = err;
        if (err > atol + rtol * fabs(num)) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: numeric %.8g analytic %.8g\n", name, i, num, grad[i]);
            bad++;
        }
    }
    CHECKF(bad == 0, "gradcheck %s: %d of %zu entries wrong (worst abs err %.3g)", name, bad, n,
           worst);
    return bad;
}

/* sum(out * R) in double */
static inline double gc_dot(const float *out, const float *R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * R[i];
    return s;
}

static inline void gc_fill_normal(float *x, size_t n, Rng *r, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(rng_normal(r) * scale);
}

/* max |a - b| / max(max |b|, tiny): a scale-aware relative error for whole tensors */
static inline double gc_rel_err(const float *a, const float *b, size_t n) {
    double md = 0, mb = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / mb;
}

#endif
