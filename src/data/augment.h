/* augment.h — seeded ECG augmentations for SimCLR-style contrastive pretraining.
 *
 * Inputs are preprocessed examples x: [12][L] (standardised units, see preprocess.h) at
 * `rate` Hz. augment_apply draws every random choice from the caller's Rng, so the same
 * seed and call sequence give the same bits. Two views of one ECG: copy it twice and call
 * augment_apply on each copy with the same Rng (the second call continues the stream).
 *
 * Order inside augment_apply (each step taken with its own probability):
 *   shift -> amplitude scale -> baseline wander -> power-line -> Gaussian noise
 *   -> lead mask -> time mask
 * Masks come last so masked samples are exactly zero. Defaults and rationale:
 * docs/preprocessing.md. */
#ifndef KRES_AUGMENT_H
#define KRES_AUGMENT_H

#include "common/util.h"

typedef struct {
    /* Random shift with zero fill: x[t] <- x[t + s], s uniform integer in
     * [-shift_max_s * rate, +shift_max_s * rate]. */
    double p_shift, shift_max_s;
    /* Amplitude scaling by a factor uniform in [scale_min, scale_max]; one factor for all
     * leads, or one per lead when scale_per_lead. */
    double p_scale, scale_min, scale_max;
    int scale_per_lead;
    /* Baseline wander: per lead, a sinusoid with frequency uniform in
     * [wander_min_hz, wander_max_hz], random phase, amplitude uniform in [0, wander_amp]. */
    double p_wander, wander_amp, wander_min_hz, wander_max_hz;
    /* Power-line interference: 50 or 60 Hz (equal odds), one phase for all leads,
     * per-lead amplitude uniform in [0, powerline_amp]. A no-op when the frequency is at or
     * above Nyquist (e.g. at 100 Hz, where resampling has removed mains anyway). */
    double p_powerline, powerline_amp;
    /* Additive white Gaussian noise with standard deviation noise_sigma. */
    double p_noise, noise_sigma;
    /* Lead masking: each lead zeroed with probability lead_mask_prob; at least one lead is
     * always kept. */
    double p_lead_mask, lead_mask_prob;
    /* Time masking: one contiguous span of all leads zeroed; length uniform in
     * [1, time_mask_max_frac * L]. */
    double p_time_mask, time_mask_max_frac;
} AugmentConfig;

void augment_default(AugmentConfig *c);
/* Ranges: probabilities in [0,1], non-negative amplitudes, 0 < scale_min <= scale_max,
 * 0 < wander_min_hz <= wander_max_hz, fractions in [0,1]. Returns 0 or -1 with kres_fail. */
int augment_validate(const AugmentConfig *c);
/* All augmentations switched off (probabilities 0, other fields at their defaults). */
void augment_none(AugmentConfig *c);

/* Apply the configured augmentations in place. x: [12][L]; c must pass augment_validate. */
void augment_apply(const AugmentConfig *c, float *x, int L, int rate, Rng *rng);

/* Random crop / shift. in: [12][Lin] -> out: [12][Lout]. out[t] = in[t + s] (0 outside
 * the input) with s uniform integer in [min(0, Lin-Lout) - max_shift, max(0, Lin-Lout) +
 * max_shift]: a random window from a longer input, a random placement of a shorter one,
 * and with equal lengths a shift of up to max_shift samples. Returns the offset s. */
int augment_crop(const float *in, int Lin, float *out, int Lout, int max_shift, Rng *rng);

/* The single steps, exposed for tests and custom pipelines. x: [12][L]. */
void augment_scale(float *x, int L, double lo, double hi, int per_lead, Rng *rng);
void augment_noise(float *x, int L, double sigma, Rng *rng);
void augment_wander(float *x, int L, int rate, double amp, double fmin, double fmax, Rng *rng);
/* Returns the frequency added (50 or 60), or 0 if it was at/above Nyquist (no change). */
double augment_powerline(float *x, int L, int rate, double amp, Rng *rng);
/* Returns a bit mask of the leads zeroed (bit l = lead l). */
int augment_lead_mask(float *x, int L, double prob, Rng *rng);
/* Zeroes [*start, *start + *len) of every lead; returns the span via start/len. */
void augment_time_mask(float *x, int L, double max_frac, Rng *rng, int *start, int *len);

#endif
