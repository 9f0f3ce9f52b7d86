/* preprocess.h — the one preprocessing chain used for training and prediction alike.
 *
 * Chain (docs/preprocessing.md): pick the 12 standard leads by name -> resample to
 * target_rate with an anti-aliasing resampler -> baseline-wander removal (zero-phase
 * high-pass) -> zero-phase low-pass -> fixed length (centre crop or symmetric zero pad)
 * -> per-lead standardisation (zero mean, unit variance). Units are mV until the final
 * standardisation. The config is stored in every checkpoint's metadata. */
#ifndef KRES_PREPROCESS_H
#define KRES_PREPROCESS_H

#include "data/wfdb.h"

#define KRES_NLEADS 12
extern const char *const KRES_LEAD_NAMES[KRES_NLEADS]; /* I II III aVR aVL aVF V1..V6 */

typedef struct {
    int target_rate;        /* Hz; default 100 */
    int length;             /* output samples per lead; default 1024 */
    double highpass_hz;     /* baseline-wander cut-off, 0 = off; default 0.5 */
    double lowpass_hz;      /* 0 = off; default 40 (clipped below Nyquist) */
    int standardize;        /* per-lead z-score; default 1 */
    int allow_missing_leads;/* zero-fill absent leads instead of failing; default 0 */
} PreprocConfig;

void preproc_default(PreprocConfig *c);
/* Validate ranges; returns 0 or -1 with kres_fail. */
int preproc_validate(const PreprocConfig *c);

/* Apply the chain to a loaded record. out: [12][c->length]. `path` names the record in
 * error messages. Returns 0 or -1 with kres_fail (e.g. a missing lead). */
int preprocess_record(const WfdbRecord *r, const PreprocConfig *c, float *out, const char *path);

/* Convenience: wfdb_load + preprocess_record. */
int preprocess_file(const char *record, const PreprocConfig *c, float *out);

/* Serialise to / parse from a compact JSON object (stored in checkpoint metadata). */
int preproc_to_json(const PreprocConfig *c, char *buf, int n);
int preproc_from_json(const char *json, PreprocConfig *c);

/* --- Additions (building blocks of the chain, exposed for tests and tools). --- */

/* 1 if every field is equal (e.g. checkpoint config vs. the one about to be used). */
int preproc_equal(const PreprocConfig *a, const PreprocConfig *b);
/* The low-pass cut-off actually applied: min(lowpass_hz, 0.45 * target_rate), 0 if off. */
double preproc_effective_lowpass(const PreprocConfig *c);
/* Samples after resampling n samples from fs_in to fs_out: round(n * fs_out / fs_in). */
long preproc_resampled_length(long n, double fs_in, double fs_out);
/* Anti-aliased resampling (libsamplerate sinc, odd-reflection context at both ends).
 * in: [nsig][n] -> out: [nsig][preproc_resampled_length(n, fs_in, fs_out)]. 0 or -1. */
int preproc_resample(const float *in, int nsig, long n, double fs_in, double fs_out, float *out);
/* Zero-phase band-pass in place: Butterworth high-pass (order 2, even-reflection padding)
 * then low-pass (order 4, odd-reflection padding), each run forward and backward; a
 * cut-off of 0 switches that stage off. */
void preproc_bandpass(double *x, long n, double fs, double highpass_hz, double lowpass_hz);
/* Padding (samples per side) of one stage: 10 time constants of its slowest pole, <= n-1. */
long preproc_filter_pad(long n, double fs, double cutoff_hz, int highpass);

#endif
