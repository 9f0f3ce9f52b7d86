/* augment.c — ECG augmentations (see augment.h and docs/preprocessing.md).
 * Dimension legend: 12 = KRES_NLEADS, L = samples per lead; x is [12][L], lead-major. */
#include "data/augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/preprocess.h"

#define PI 3.14159265358979323846

void augment_default(AugmentConfig *c) {
    c->p_shift = 0.5;
    c->shift_max_s = 0.5;
    c->p_scale = 0.8;
    c->scale_min = 0.8;
    c->scale_max = 1.2;
    c->scale_per_lead = 0;
    c->p_wander = 0.5;
    c->wander_amp = 0.3;
    c->wander_min_hz = 0.05;
    c->wander_max_hz = 0.5;
    c->p_powerline = 0.3;
    c->powerline_amp = 0.1;
    c->p_noise = 0.8;
    c->noise_sigma = 0.05;
    c->p_lead_mask = 0.5;
    c->lead_mask_prob = 0.25;
    c->p_time_mask = 0.5;
    c->time_mask_max_frac = 0.1;
}

void augment_none(AugmentConfig *c) {
    augment_default(c);
    c->p_shift = c->p_scale = c->p_wander = c->p_powerline = 0;
    c->p_noise = c->p_lead_mask = c->p_time_mask = 0;
}

static int bad_unit(double v) { return !(v >= 0 && v <= 1); } /* also rejects NaN */
static int bad_nonneg(double v) { return !(v >= 0 && isfinite(v)); }

int augment_validate(const AugmentConfig *c) {
    const double p[7] = {c->p_shift, c->p_scale,     c->p_wander,  c->p_powerline,
                         c->p_noise, c->p_lead_mask, c->p_time_mask};
    const char *pn[7] = {"p_shift", "p_scale",     "p_wander",   "p_powerline",
                         "p_noise", "p_lead_mask", "p_time_mask"};
    for (int i = 0; i < 7; i++)
        if (bad_unit(p[i])) return kres_fail(NULL, "augment: %s = %g is not in [0, 1]", pn[i], p[i]);
    if (bad_nonneg(c->shift_max_s)) return kres_fail(NULL, "augment: shift_max_s must be >= 0");
    if (!(c->scale_min > 0 && c->scale_min <= c->scale_max && isfinite(c->scale_max)))
        return kres_fail(NULL, "augment: need 0 < scale_min <= scale_max (got %g, %g)", c->scale_min,
                         c->scale_max);
    if (c->scale_per_lead != 0 && c->scale_per_lead != 1)
        return kres_fail(NULL, "augment: scale_per_lead must be 0 or 1");
    if (bad_nonneg(c->wander_amp)) return kres_fail(NULL, "augment: wander_amp must be >= 0");
    if (!(c->wander_min_hz > 0 && c->wander_min_hz <= c->wander_max_hz && isfinite(c->wander_max_hz)))
        return kres_fail(NULL, "augment: need 0 < wander_min_hz <= wander_max_hz (got %g, %g)",
                         c->wander_min_hz, c->wander_max_hz);
    if (bad_nonneg(c->powerline_amp)) return kres_fail(NULL, "augment: powerline_amp must be >= 0");
    if (bad_nonneg(c->noise_sigma)) return kres_fail(NULL, "augment: noise_sigma must be >= 0");
    if (bad_unit(c->lead_mask_prob)) return kres_fail(NULL, "augment: lead_mask_prob must be in [0, 1]");
    if (bad_unit(c->time_mask_max_frac))
        return kres_fail(NULL, "augment: time_mask_max_frac must be in [0, 1]");
    return 0;
}

/* Uniform integer in [lo, hi]. */
static long uniform_int(Rng *rng, long lo, long hi) {
    return lo + (long)rng_below(rng, (uint64_t)(hi - lo + 1));
}

static double uniform(Rng *rng, double lo, double hi) { return lo + (hi - lo) * rng_uniform(rng); }

int augment_crop(const float *in, int Lin, float *out, int Lout, int max_shift, Rng *rng) {
    /* in: [12][Lin], out: [12][Lout] */
    KRES_ASSERT(Lin > 0 && Lout > 0 && max_shift >= 0);
    long d = (long)Lin - Lout;
    long lo = (d < 0 ? d : 0) - max_shift, hi = (d > 0 ? d : 0) + max_shift;
    long s = uniform_int(rng, lo, hi);
    for (int l = 0; l < KRES_NLEADS; l++) {
        const float *a = in + (size_t)l * Lin;
        float *o = out + (size_t)l * Lout;
        for (long t = 0; t < Lout; t++) {
            long i = t + s;
            o[t] = i >= 0 && i < Lin ? a[i] : 0.0f;
        }
    }
    return (int)s;
}

void augment_scale(float *x, int L, double lo, double hi, int per_lead, Rng *rng) {
    double k = uniform(rng, lo, hi);
    for (int l = 0; l < KRES_NLEADS; l++) {
        if (per_lead && l > 0) k = uniform(rng, lo, hi);
        float *a = x + (size_t)l * L;
        for (int t = 0; t < L; t++) a[t] = (float)(a[t] * k);
    }
}

void augment_noise(float *x, int L, double sigma, Rng *rng) {
    for (size_t i = 0; i < (size_t)KRES_NLEADS * L; i++) x[i] += (float)(sigma * rng_normal(rng));
}

void augment_wander(float *x, int L, int rate, double amp, double fmin, double fmax, Rng *rng) {
    for (int l = 0; l < KRES_NLEADS; l++) {
        double f = uniform(rng, fmin, fmax), ph = uniform(rng, 0, 2 * PI), a = uniform(rng, 0, amp);
        double w = 2 * PI * f / rate;
        float *v = x + (size_t)l * L;
        for (int t = 0; t < L; t++) v[t] += (float)(a * sin(w * t + ph));
    }
}

double augment_powerline(float *x, int L, int rate, double amp, Rng *rng) {
    /* Draws are made even when the result is a no-op, so the stream of later steps does
     * not depend on the rate. */
    double f = rng_uniform(rng) < 0.5 ? 50.0 : 60.0, ph = uniform(rng, 0, 2 * PI);
    double a[KRES_NLEADS];
    for (int l = 0; l < KRES_NLEADS; l++) a[l] = uniform(rng, 0, amp);
    if (f >= 0.5 * rate) return 0; /* not representable at this rate */
    double w = 2 * PI * f / rate;
    for (int l = 0; l < KRES_NLEADS; l++) {
        float *v = x + (size_t)l * L;
        for (int t = 0; t < L; t++) v[t] += (float)(a[l] * sin(w * t + ph));
    }
    return f;
}

int augment_lead_mask(float *x, int L, double prob, Rng *rng) {
    int mask = 0;
    for (int l = 0; l < KRES_NLEADS; l++)
        if (rng_uniform(rng) < prob) mask |= 1 << l;
    if (mask == (1 << KRES_NLEADS) - 1) mask &= ~(1 << (int)rng_below(rng, KRES_NLEADS)); /* keep one */
    for (int l = 0; l < KRES_NLEADS; l++)
        if (mask & (1 << l)) memset(x + (size_t)l * L, 0, (size_t)L * sizeof(float));
    return mask;
}

void augment_time_mask(float *x, int L, double max_frac, Rng *rng, int *start, int *len) {
    long maxlen = (long)floor(max_frac * L);
    if (maxlen < 1) maxlen = 1;
    long n = uniform_int(rng, 1, maxlen);
    long s = uniform_int(rng, 0, L - n);
    for (int l = 0; l < KRES_NLEADS; l++) memset(x + (size_t)l * L + s, 0, (size_t)n * sizeof(float));
    if (start) *start = (int)s;
    if (len) *len = (int)n;
}

void augment_apply(const AugmentConfig *c, float *x, int L, int rate, Rng *rng) {
    /* x: [12][L] in place */
    KRES_ASSERT(L > 0 && rate > 0);
    KRES_ASSERT(augment_validate(c) == 0);
    /* One coin per step, always drawn (also for probability 0 or 1), so the draws are a
     * function of the seed and of which steps fire, nothing else. */
    if (rng_uniform(rng) < c->p_shift) {
        int ms = (int)floor(c->shift_max_s * rate);
        if (ms > L) ms = L;
        float *tmp = xmalloc((size_t)KRES_NLEADS * L * sizeof(float));
        memcpy(tmp, x, (size_t)KRES_NLEADS * L * sizeof(float));
        augment_crop(tmp, L, x, L, ms, rng);
        free(tmp);
    }
    if (rng_uniform(rng) < c->p_scale) augment_scale(x, L, c->scale_min, c->scale_max, c->scale_per_lead, rng);
    if (rng_uniform(rng) < c->p_wander)
        augment_wander(x, L, rate, c->wander_amp, c->wander_min_hz, c->wander_max_hz, rng);
    if (rng_uniform(rng) < c->p_powerline) augment_powerline(x, L, rate, c->powerline_amp, rng);
    if (rng_uniform(rng) < c->p_noise) augment_noise(x, L, c->noise_sigma, rng);
    if (rng_uniform(rng) < c->p_lead_mask) augment_lead_mask(x, L, c->lead_mask_prob, rng);
    if (rng_uniform(rng) < c->p_time_mask) augment_time_mask(x, L, c->time_mask_max_frac, rng, NULL, NULL);
}
