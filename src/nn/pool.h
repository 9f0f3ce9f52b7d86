/* pool.h — max pooling along time and global average pooling over time.
 *
 * Dimension legend:  B batch   C channels   L length in   S pool size (= stride)
 *                    Lo = L / S (floor, PyTorch ceil_mode=False; trailing L % S dropped)
 *
 * forward OVERWRITES out; backward ACCUMULATES (+=) into dinp. */
#ifndef KRES_NN_POOL_H
#define KRES_NN_POOL_H

#include <stdint.h>

/* L / S; KRES_ASSERTs S >= 1 and L >= S. */
int maxpool1d_out_len(int L, int S);

/* out (B, C, Lo) = max over each window of S; idx (B, C, Lo) stores the argmax position t
 * in [0, L) within its row (first maximum on ties) for the backward pass. NaN inputs
 * propagate (a NaN in the window is selected). */
void maxpool1d_forward(float *out, int32_t *idx, const float *inp, int B, int C, int L, int S);

/* dinp (B, C, L) += dout (B, C, Lo) routed to the argmax positions. */
void maxpool1d_backward(float *dinp, const float *dout, const int32_t *idx,
                        int B, int C, int L, int S);

/* out (B, C) = mean over t of inp (B, C, L) (double accumulation). */
void avgpool_forward(float *out, const float *inp, int B, int C, int L);

/* dinp (B, C, L) += dout (B, C) / L. */
void avgpool_backward(float *dinp, const float *dout, int B, int C, int L);

#endif
