/* optim.c — see optim.h. Updates are elementwise (no reductions), so OpenMP over elements
 * gives the same bits for every thread count; the norm uses fixed chunks. */
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>

#include "common/util.h"

/* The segment [i, end) over which the effective options are constant: the first range
 * containing i decides (scale, decay); the segment ends at the next range boundary. */
static size_t segment_at(size_t i, size_t n, const ParamRange *r, int nr, float *scale, int *decay) {
    size_t end = n;
    int found = 0;
    *scale = 1.0f;
    *decay = 1;
    for (int j = 0; j < nr; j++) {
        if (!found && r[j].begin <= i && i < r[j].end) {
            *scale = r[j].lr_scale;
            *decay = r[j].decay;
            found = 1;
        }
        if (r[j].begin > i && r[j].begin < end) end = r[j].begin;
        if (r[j].end > i && r[j].end < end) end = r[j].end;
    }
    return end;
}

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n, long t,
                  float lr, float beta1, float beta2, float eps, float weight_decay,
                  const ParamRange *ranges, int nranges) {
    KRES_ASSERT(t >= 1);
    double bc1 = 1.0 - pow(beta1, (double)t), bc2 = 1.0 - pow(beta2, (double)t);
    float sqrt_bc2 = (float)sqrt(bc2);
    for (size_t i = 0; i < n;) {
        float scale;
        int decay;
        size_t end = segment_at(i, n, ranges, nranges, &scale, &decay);
        if (scale != 0.0f) {
            float lr_eff = lr * scale;
            float step = (float)(lr_eff / bc1);
            float wd = decay ? lr_eff * weight_decay : 0.0f;
            long len = (long)(end - i);
            float *p = params + i, *mm = m + i, *vv = v + i;
            const float *g = grads + i;
#pragma omp parallel for simd schedule(static) if (len > 65536)
            for (long j = 0; j < len; j++) {
                p[j] -= wd * p[j];
                mm[j] = beta1 * mm[j] + (1.0f - beta1) * g[j];
                vv[j] = beta2 * vv[j] + (1.0f - beta2) * g[j] * g[j];
                p[j] -= step * mm[j] / (sqrtf(vv[j]) / sqrt_bc2 + eps);
            }
        }
        i = end;
    }
}

void sgd_update(float *params, const float *grads, float *mom, size_t n,
                float lr, float momentum, float weight_decay, int nesterov,
                const ParamRange *ranges, int nranges) {
    for (size_t i = 0; i < n;) {
        float scale;
        int decay;
        size_t end = segment_at(i, n, ranges, nranges, &scale, &decay);
        if (scale != 0.0f) {
            float lr_eff = lr * scale;
            float wd = decay ? weight_decay : 0.0f;
            long len = (long)(end - i);
            float *p = params + i, *b = mom + i;
            const float *g = grads + i;
#pragma omp parallel for simd schedule(static) if (len > 65536)
            for (long j = 0; j < len; j++) {
                float gg = g[j] + wd * p[j];
                b[j] = momentum * b[j] + gg;
                p[j] -= lr_eff * (nesterov ? gg + momentum * b[j] : b[j]);
            }
        }
        i = end;
    }
}

float lr_at(long step, long total, long warmup, float base, float min_lr) {
    if (step >= total) return min_lr;
    if (step < warmup) return (float)((double)base * (double)(step + 1) / (double)warmup);
    double progress = (double)(step - warmup) / (double)(total - warmup);
    return (float)(min_lr + (base - (double)min_lr) * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}

#define NORM_CHUNK 4096

double grad_norm(const float *grads, size_t n) {
    size_t nc = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    if (nc == 0) return 0.0;
    double *part = xmalloc(nc * sizeof(double));
#pragma omp parallel for schedule(static) if (nc > 16)
    for (size_t c = 0; c < nc; c++) {
        size_t a = c * NORM_CHUNK, b = a + NORM_CHUNK < n ? a + NORM_CHUNK : n;
        double s = 0;
        for (size_t i = a; i < b; i++) s += (double)grads[i] * grads[i];
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nc; c++) s += part[c];
    free(part);
    return sqrt(s);
}

double clip_grad_norm(float *grads, size_t n, float max_norm) {
    double norm = grad_norm(grads, n);
    if (!isfinite(norm) || !(max_norm > 0) || norm <= max_norm) return norm;
    float s = (float)(max_norm / (norm + 1e-6));
#pragma omp parallel for simd schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) grads[i] *= s;
    return norm;
}
