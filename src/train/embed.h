/* embed.h — frozen-encoder embeddings: open a pretrained encoder for inference, run records
 * through it, write the (N, E) embedding matrix as CSV or NPY.
 *
 * Dimension legend: N records, E embedding width (320 for the default KRes), L input length.
 *
 * The encoder is length-agnostic (convolutions, per-channel batch norm, global average
 * pooling), so an encoder pretrained on L = 512 segments is opened here with the input
 * length of its preprocessing config (1024 by default): only the activation sizing
 * depends on L. Embeddings are computed in inference mode (BN running statistics, no
 * dropout), so they are a pure function of the weights and the record. */
#ifndef KRES_TRAIN_EMBED_H
#define KRES_TRAIN_EMBED_H

#include "data/preprocess.h"
#include "nn/checkpoint.h"
#include "nn/kres.h"

/* Build an inference model from any KRes checkpoint (kind encoder, classifier or probe):
 * its kres_config with in_len = the checkpoint's preprocessing length (default preprocessing
 * when absent), n_outputs heads (0 = none) and no projection head; the encoder tensors are
 * loaded strictly, the head (if any) is zero. *pc receives the preprocessing config to use.
 * info may be NULL; otherwise it receives the file's metadata (free with ckpt_info_free).
 * Returns 0, or -1 with kres_fail naming the file. */
int embed_open_encoder(const char *path, int n_outputs, int max_batch, Kres **out,
                       PreprocConfig *pc, CkptInfo *info);

/* Embeddings of n WFDB records (record names without extension), in inference mode, in
 * batches of `batch` (at most the model's max_batch): out (n, E). Records are read and
 * preprocessed in parallel by the streaming loader (no cache), so memory is bounded by one
 * batch. If logits is non-NULL it receives (n, O) head outputs.
 * Returns 0, or -1 with the error of the first record (in order) that fails. */
int embed_records(Kres *m, int batch, const PreprocConfig *pc, const char *const *records, int n,
                  float *out, float *logits);

/* Write an (n, E) float matrix atomically.
 * CSV: header "record,e0,...,e{E-1}", one row per record, values %.9g (exact float32).
 * NPY: format 1.0, '<f4', C order, shape (n, E); plus a sidecar "<path>.txt" with one record
 *      name per line (row order). Returns 0, or -1 with kres_fail naming the file. */
int embed_write_csv(const char *path, const char *const *records, const float *emb, int n, int E);
int embed_write_npy(const char *path, const char *const *records, const float *emb, int n, int E);

/* Read an NPY v1.0/v2.0 '<f4' C-order 2-D array (tests and tools). *data is malloc'd. */
int npy_read_f32(const char *path, float **data, int *rows, int *cols);

#endif
