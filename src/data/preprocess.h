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

#endif
