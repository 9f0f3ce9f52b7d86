/* fused.h — batch norm + ReLU (+ dropout backward) in one pass over the activations.
 *
 * Dimension legend:  B batch   C channels   L length   (tensors (B, C, L), per-channel (C))
 *
 * Each function computes what the unfused sequence it replaces computes (batchnorm.h,
 * activation.h), which stays the reference and is what tests compare against, with the same
 * float expressions; only the per-channel double sums are added in another (fixed, shape-only)
 * order, over eight interleaved lanes that vectorise, so the statistics can differ from the
 * reference in their last bits (for short channels, where the double sums are exact, not at
 * all). The fused forms also save memory passes (a separate ReLU reads and writes the tensor
 * once more, the unfused backward writes and re-reads three intermediate gradient tensors)
 * and use bit masks instead of branches for the ReLU and dropout masks. */
#ifndef KRES_NN_FUSED_H
#define KRES_NN_FUSED_H

#include <stdint.h>

/* out = relu(batchnorm_forward_train(inp)): same arguments and statistics outputs as
 * batchnorm_forward_train; out may equal inp. */
void bn_relu_forward_train(float *out, float *mean, float *rstd,
                           float *running_mean, float *running_var,
                           const float *inp, const float *gamma, const float *beta,
                           int B, int C, int L, float momentum, float eps);

/* out = relu(batchnorm_forward_eval(inp)); out may equal inp. */
void bn_relu_forward_eval(float *out, const float *inp, const float *gamma, const float *beta,
                          const float *running_mean, const float *running_var,
                          int B, int C, int L, float eps);

/* Backward of act = relu(bn(inp)) followed by dropout (mask, keep probability 1 - p; mask
 * NULL: no dropout). Equals, up to the order of the statistics sums, zeroed buffers t1, t2 and
 *   dropout_backward(t1, dout, mask, n, p); relu_backward(t2, t1, act, n);
 *   batchnorm_backward(dinp, dgamma, dbeta, t2, inp, gamma, mean, rstd, B, C, L)
 * (without mask: relu_backward(t2, dout, act, n) then batchnorm_backward). ACCUMULATES into
 * dinp, dgamma, dbeta; dinp may be NULL and must not alias dout. */
void dropout_relu_bn_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                              const uint8_t *mask, float p, const float *act, const float *inp,
                              const float *gamma, const float *mean, const float *rstd,
                              int B, int C, int L);

#endif
