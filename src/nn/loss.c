/* loss.c — see loss.h. */
#include "nn/loss.h"

#include <math.h>
#include <stdlib.h>

#include "common/util.h"

float sigmoid_stable(float x) {
    /* exp of a non-positive argument only: never overflows */
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static double sigmoid_d(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^-|x|) */
static double softplus_d(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

float bce_with_logits_loss(float *dlogits, const float *logits, const float *targets,
                           const float *pos_weight, const float *mask, int B, int O) {
    size_t n = (size_t)B * O;
    double wsum = 0, lsum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = mask ? mask[i] : 1.0;
        if (w == 0) continue;
        double x = logits[i], y = targets[i];
        double pw = pos_weight ? pos_weight[i % O] : 1.0;
        wsum += w;
        lsum += w * (pw * y * softplus_d(-x) + (1 - y) * softplus_d(x));
    }
    if (dlogits)
        for (size_t i = 0; i < n; i++) {
            double w = mask ? mask[i] : 1.0;
            if (w == 0 || wsum == 0) {
                dlogits[i] = 0.0f;
                continue;
            }
            double x = logits[i], y = targets[i];
            double pw = pos_weight ? pos_weight[i % O] : 1.0;
            dlogits[i] = (float)(w * ((1 - y) * sigmoid_d(x) - pw * y * sigmoid_d(-x)) / wsum);
        }
    return wsum > 0 ? (float)(lsum / wsum) : 0.0f;
}

size_t nt_xent_workspace_size(int N2, int P) {
    /* zn (N2, P), dzn (N2, P), norms (N2), similarities / gradients (N2, N2) */
    return (size_t)N2 * P * 2 + (size_t)N2 + (size_t)N2 * N2;
}

float nt_xent_loss(float *dz, float *accuracy, const float *z, int N2, int P,
                   float temperature, double *work) {
    KRES_ASSERT(N2 >= 2 && N2 % 2 == 0 && P >= 1 && temperature > 0);
    double *own = NULL;
    if (!work) work = own = xmalloc(nt_xent_workspace_size(N2, P) * sizeof(double));
    int N = N2 / 2;
    double *zn = work, *dzn = zn + (size_t)N2 * P, *norm = dzn + (size_t)N2 * P;
    double *S = norm + N2;
    double inv_t = 1.0 / temperature;
    /* row L2 normalisation (F.normalize convention: divide by max(|z|, 1e-12)) */
    for (int i = 0; i < N2; i++) {
        double ss = 0;
        for (int p = 0; p < P; p++) ss += (double)z[(size_t)i * P + p] * z[(size_t)i * P + p];
        double nr = sqrt(ss);
        norm[i] = nr > 1e-12 ? nr : 1e-12;
        for (int p = 0; p < P; p++) zn[(size_t)i * P + p] = z[(size_t)i * P + p] / norm[i];
    }
    for (int i = 0; i < N2; i++)
        for (int j = 0; j <= i; j++) {
            double d = 0;
            for (int p = 0; p < P; p++) d += zn[(size_t)i * P + p] * zn[(size_t)j * P + p];
            S[(size_t)i * N2 + j] = S[(size_t)j * N2 + i] = d * inv_t;
        }
    /* per anchor: log-sum-exp over k != i, loss, accuracy; then S row becomes dL/ds row */
    double loss = 0;
    int correct = 0;
    for (int i = 0; i < N2; i++) {
        double *s = S + (size_t)i * N2;
        int pair = (i + N) % N2;
        int arg = -1;
        double mx = -INFINITY;
        for (int k = 0; k < N2; k++)
            if (k != i && s[k] > mx) {
                mx = s[k];
                arg = k;
            }
        correct += arg == pair;
        double se = 0;
        for (int k = 0; k < N2; k++)
            if (k != i) se += exp(s[k] - mx);
        double lse = mx + log(se);
        loss += lse - s[pair];
        for (int k = 0; k < N2; k++)
            s[k] = k == i ? 0.0 : (exp(s[k] - lse) - (k == pair)) / N2;
    }
    if (accuracy) *accuracy = (float)correct / (float)N2;
    if (dz) {
        /* s_ij = zn_i.zn_j / T  =>  dzn_i = sum_k (G_ik + G_ki) zn_k / T */
        for (int i = 0; i < N2; i++)
            for (int p = 0; p < P; p++) {
                double acc = 0;
                for (int k = 0; k < N2; k++)
                    acc += (S[(size_t)i * N2 + k] + S[(size_t)k * N2 + i]) * zn[(size_t)k * P + p];
                dzn[(size_t)i * P + p] = acc * inv_t;
            }
        /* through zn = z / |z|: dz = (dzn - zn (zn . dzn)) / |z| */
        for (int i = 0; i < N2; i++) {
            double d = 0;
            for (int p = 0; p < P; p++) d += zn[(size_t)i * P + p] * dzn[(size_t)i * P + p];
            for (int p = 0; p < P; p++)
                dz[(size_t)i * P + p] =
                    (float)((dzn[(size_t)i * P + p] - zn[(size_t)i * P + p] * d) / norm[i]);
        }
    }
    free(own);
    return (float)(loss / N2);
}
