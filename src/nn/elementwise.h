/* elementwise.h — zero, copy and add over flat float buffers, on all threads when large.
 *
 * The model's own buffer work between layers (zeroing gradient accumulators, the residual
 * sum, the input copy) was single-threaded: at 16 threads and batch 64 those loops stream
 * 100+ MB per training step through one core. Elementwise only, so the result is the same
 * bits for any thread count. */
#ifndef KRES_NN_ELEMENTWISE_H
#define KRES_NN_ELEMENTWISE_H

#include <stddef.h>

/* x[0..n) = 0 */
void par_zero(float *x, size_t n);

/* dst[0..n) = src[0..n); the buffers must not overlap */
void par_copy(float *dst, const float *src, size_t n);

/* out[i] = a[i] + b[i] for i < n; out may be a or b */
void par_add(float *out, const float *a, const float *b, size_t n);

#endif
