/* checkpoint.h — save and load KRes models as safetensors files.
 *
 * A checkpoint is an ordinary safetensors file (see safetensors.h, docs/file-formats.md):
 * one F32 tensor per entry of the model's tensor table (parameters and BN running
 * statistics, named like PyTorch's state_dict: "units.0.conv1.weight"), optional extra
 * F32 tensors (e.g. "probe.weight"), and string metadata:
 *   format        "kres-checkpoint-1"
 *   kind          "classifier" | "encoder" | "probe"
 *   kres_config   JSON from kres_config_to_json (the loader rebuilds the model from it)
 *   preprocess    JSON, caller-provided (sampling rate, length, filters, normalisation)
 *   task          JSON, caller-provided (name, codes, protocol, min_likelihood)
 *   threshold     decision threshold as a decimal string (absent if none)
 *   provenance    JSON: data dir, seed, git commit, command line, date, kres version
 *   data_crc32    CRC-32 (hex) of the whole data buffer, verified on load
 *   kres_version  version of the writer
 * plus any caller-provided extra key/value pairs. Writes are atomic: a failed save never
 * leaves a partial file and never damages an existing one. Loading refuses truncated,
 * corrupted or mismatched files with "<file>: <what is wrong>" (kres_fail). */
#ifndef KRES_CHECKPOINT_H
#define KRES_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/kres.h"
#include "nn/safetensors.h"

#define CKPT_FORMAT "kres-checkpoint-1"
#ifndef KRES_VERSION
#define KRES_VERSION "0.1.0"
#endif

typedef struct {
    const char *kind;             /* "classifier", "encoder" or "probe" (required) */
    const char *preprocess_json;  /* valid JSON, or NULL to omit */
    const char *task_json;        /* valid JSON, or NULL to omit */
    const char *provenance_json;  /* valid JSON, or NULL to omit (see ckpt_provenance_json) */
    double threshold;             /* NAN to omit */
    int n_extra;                  /* extra metadata pairs; keys must not be reserved ones */
    const char *const *extra_keys;
    const char *const *extra_vals;
} CkptMeta;

/* Save every tensor of m plus n_extra_tensors extra tensors (F32 only, names distinct
 * from the model's) and the metadata to path, atomically. Returns 0 or -1 (kres_fail). */
int ckpt_save(const char *path, Kres *m, const CkptMeta *meta, const StTensor *extra_tensors,
              int n_extra_tensors);

/* An extra (non-model) tensor read back from a checkpoint, converted to float32. */
typedef struct {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    float *data;
} CkptTensor;

/* What ckpt_load learned from the file; owns copies of every string. */
typedef struct {
    char *path;
    char *kind;                   /* never NULL after a successful load */
    char *kres_config;            /* never NULL after a successful load */
    char *preprocess_json, *task_json, *provenance_json; /* NULL if absent */
    double threshold;             /* NAN if absent */
    int nmeta;                    /* every metadata pair, reserved keys included */
    char **meta_keys, **meta_vals;
    int n_tensors;                /* extra tensors: in the file but not in the model */
    CkptTensor *tensors;
} CkptInfo;

/* Build the model described by the file's kres_config (activations for max_batch) and fill
 * every parameter and buffer from it. Every model tensor must be present with exactly its
 * shape. info may be NULL; otherwise it is filled (free with ckpt_info_free, also after a
 * failure). On failure *out is NULL. */
int ckpt_load(const char *path, int max_batch, Kres **out, CkptInfo *info);
void ckpt_info_free(CkptInfo *info);
const char *ckpt_meta(const CkptInfo *info, const char *key);           /* NULL if absent */
const CkptTensor *ckpt_tensor(const CkptInfo *info, const char *name);  /* NULL if absent */

/* Fine-tuning: copy the encoder tensors (stem.*, units.*: parameters before
 * kres_num_encoder_params and all BN buffers) of an existing model from a checkpoint,
 * leaving its head untouched. A tensor present with another shape is an error; a tensor
 * absent from the file is an error if strict, else it is listed in the report. At least
 * one tensor must be loaded. */
typedef struct {
    int n_loaded;
    int n_missing;                /* encoder tensors of m absent from the file */
    char missing[KRES_MAX_TENSORS][64];
    int n_unused;                 /* tensors of the file not copied (heads, probe, ...) */
} CkptLoadReport;
int ckpt_load_encoder_into(const char *path, Kres *m, int strict, CkptLoadReport *rep);

/* Provenance JSON for CkptMeta.provenance_json (malloc'd; free it):
 *   {"data_dir": ..., "seed": ..., "git_commit": ..., "command": "kres train ...",
 *    "date": "2024-01-31T12:00:00Z", "kres_version": ...}
 * argv may be NULL (argc 0). */
char *ckpt_provenance_json(const char *data_dir, uint64_t seed, int argc, char *const *argv);
/* `git describe --always --dirty` of the source tree the running binary was built in
 * (looked up next to /proc/self/exe, then in the working directory), or "unknown". */
void ckpt_git_commit(char *buf, size_t n);

/* CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc (start with 0). */
uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n);

#endif
