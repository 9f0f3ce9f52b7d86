/* activation.h — elementwise ReLU and inverted dropout over flat buffers of n floats
 * (any layout; KRes uses (B, C, L)).
 *
 * forward OVERWRITES out (out == inp allowed); backward ACCUMULATES (+=) into dinp, which
 * must not alias dout. */
#ifndef KRES_NN_ACTIVATION_H
#define KRES_NN_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* out = max(inp, 0). */
void relu_forward(float *out, const float *inp, size_t n);

/* dinp += dout * (act > 0), where act is either the forward input or the forward output
 * (both have the same sign pattern; the gradient at exactly 0 is taken as 0, like PyTorch). */
void relu_backward(float *dinp, const float *dout, const float *act, size_t n);

/* Inverted dropout, training mode: each element is kept with probability 1 - p and scaled by
 * 1 / (1 - p), else zeroed. mask (n bytes) records 1 = kept, 0 = dropped. One number is drawn
 * from rng per call and keys a counter-based hash of the element index, so the rng state
 * fixes the mask regardless of thread count (computed in parallel). p == 0 copies inp and
 * sets mask to all 1 without consuming random numbers. Requires 0 <= p < 1; out may be inp.
 * (Inference mode is the identity: just don't call it.) */
void dropout_forward(float *out, uint8_t *mask, const float *inp, size_t n, float p, Rng *rng);

/* dinp += dout * mask / (1 - p). */
void dropout_backward(float *dinp, const float *dout, const uint8_t *mask, size_t n, float p);

#endif
