/* kres.h — the KRes network: a multichannel 1-D residual network over 12-lead ECGs.
 *
 * Dimension legend:
 *   B  batch size            C  leads in (12)          L  input length (1024)
 *   W0 stem width (64)       Wi width of residual unit i (128, 196, 256, 320)
 *   K  kernel (17)           S  downsampling per unit (4)
 *   E  embedding = last width (320)    O  head outputs    P  projection dim (128)
 *
 * Forward (Ribeiro et al. 2020 / PCLR style, pre-activation between units):
 *   stem:   h = relu(bn(conv_K(x)))                         (B, W0, L)
 *           x_main = h, x_skip = h
 *   unit i: a = dropout(relu(bn1(conv1_K(x_main))))          (B, Wi, Li-1)
 *           a = conv2_K_strideS(a)                          (B, Wi, Li = Li-1/S)
 *           s = conv1x1(maxpool_S(x_skip))  (1x1 only where width changes)
 *           x_skip = a + s
 *           x_main = dropout(relu(bn2(x_skip)))
 *   embed:  e = mean over time of x_main                    (B, E)
 *   head:   logits = e W^T + b                              (B, O)
 *   proj:   z = relu(e W1^T + b1) W2^T + b2                 (B, P)   (contrastive only)
 * Convolutions feeding batch norm have no bias. "Same" padding (K-1)/2 everywhere.
 *
 * Memory (llm.c style): parameters, gradients, BN running statistics and activations each
 * live in one flat allocation with named views; zero-grad is one memset and a checkpoint
 * is one walk over the tensor table. The parameter order puts the encoder first, then the
 * head, then the projection, so the encoder is the prefix [0, n_encoder_params). */
#ifndef KRES_MODEL_H
#define KRES_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define KRES_MAX_UNITS 8
#define KRES_MAX_TENSORS 128

typedef struct {
    int in_leads;              /* C, default 12 */
    int in_len;                /* L, default 1024 */
    int stem_width;            /* W0, default 64 */
    int kernel;                /* K, odd, default 17 */
    int nunits;                /* default 4 */
    int widths[KRES_MAX_UNITS];/* default 128, 196, 256, 320 */
    int downsample;            /* S, default 4 */
    float dropout;             /* default 0.2 */
    int n_outputs;             /* O, default 1 (binary); 0 = no head */
    int proj_hidden;           /* default 320; 0 = no projection head */
    int proj_dim;              /* P, default 128 */
    float bn_momentum;         /* running-average momentum, PyTorch convention, 0.1 */
    float bn_eps;              /* 1e-5 */
} KresConfig;

void kres_config_default(KresConfig *c);
int kres_config_validate(const KresConfig *c);   /* 0, or -1 with kres_fail */
int kres_embed_dim(const KresConfig *c);         /* E */
int kres_config_to_json(const KresConfig *c, char *buf, int n);
int kres_config_from_json(const char *json, KresConfig *c);

typedef enum { KRES_PARAM, KRES_BUFFER } KresTensorKind;
typedef struct {
    char name[64];             /* safetensors/PyTorch-style name, e.g. "units.0.conv1.weight" */
    KresTensorKind kind;       /* trainable parameter or BN running statistic */
    int ndim;
    int shape[3];
    size_t offset;             /* into params (KRES_PARAM) or buffers (KRES_BUFFER) */
    size_t numel;
} KresTensor;

typedef struct Kres Kres;      /* opaque; activations sized for max_batch */

/* Build a model with He-initialised weights from `seed`; activations for up to max_batch. */
Kres *kres_create(const KresConfig *c, int max_batch, uint64_t seed);
/* The same model with every parameter 0 (running variances 1), for a loader that fills
 * every tensor (ckpt_load): skips drawing 7 M random numbers (~0.2 s of a cold start). */
Kres *kres_create_for_load(const KresConfig *c, int max_batch);
void kres_free(Kres *m);
const KresConfig *kres_config(const Kres *m);

/* kres_params hands out a writable pointer, so it also ends a kres_freeze promise. */
float *kres_params(Kres *m);          size_t kres_num_params(const Kres *m);
float *kres_grads(Kres *m);           /* same layout as params; allocated (zeroed) on first use */
float *kres_buffers(Kres *m);         size_t kres_num_buffers(const Kres *m);
size_t kres_num_encoder_params(const Kres *m); /* params[0, n) belong to the encoder */
int kres_num_tensors(const Kres *m);
const KresTensor *kres_tensor(const Kres *m, int i);
const KresTensor *kres_find_tensor(const Kres *m, const char *name);
void kres_zero_grad(Kres *m);

/* Forward a batch x: (B, C, L), B <= max_batch. training: batch statistics, running-average
 * updates and dropout drawn from rng; otherwise running statistics, no dropout (rng unused).
 * Afterwards kres_embeddings (B, E), kres_logits (B, O) and kres_projection (B, P) are valid
 * (the latter two only if the model has those heads). */
void kres_forward(Kres *m, const float *x, int B, int training, Rng *rng);
/* Promise (frozen != 0) that m's parameters stay unchanged until kres_freeze(m, 0) or the
 * next kres_params(m): inference forwards then check each cached weight transform of the
 * fast convolution paths once per promise instead of on every call (nn/frozen.h; saves
 * reading up to twice the weights per forward). Writing the weights through a pointer taken
 * before the promise breaks it: later forwards may use stale transforms. */
void kres_freeze(Kres *m, int frozen);
const float *kres_embeddings(const Kres *m);
const float *kres_logits(const Kres *m);
const float *kres_projection(const Kres *m);

/* Backward of the last training forward. Any of the upstream gradients may be NULL:
 * dlogits (B, O), dproj (B, P), dembed (B, E) are summed into the embedding gradient.
 * Parameter gradients are accumulated (+=) into kres_grads. */
void kres_backward(Kres *m, const float *dlogits, const float *dproj, const float *dembed);

/* Multiply-accumulates per ECG of the forward pass (encoder + heads). */
double kres_macs_per_example(const KresConfig *c);
/* Print the layer table (name, output shape, params, MACs) to fp. */
void kres_print_summary(const KresConfig *c, FILE *fp);

#endif
