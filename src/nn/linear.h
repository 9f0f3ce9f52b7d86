/* linear.h — fully connected layer, PyTorch nn.Linear layout.
 *
 * Dimension legend:  B batch   In input features   Out output features
 * Shapes: inp (B, In)   weight (Out, In)   bias (Out) or NULL   out (B, Out)
 *   out = inp weight^T + bias
 * forward OVERWRITES out; backward ACCUMULATES (+=) into dinp, dweight, dbias (dinp and
 * dbias may be NULL). linear_forward/backward dispatch on nn_get_backend() (conv1d.h):
 * NN_BACKEND_REF uses the naive loops, anything else OpenBLAS sgemm (single call, so the
 * result does not depend on the OpenMP thread count). */
#ifndef KRES_NN_LINEAR_H
#define KRES_NN_LINEAR_H

void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int B, int In, int Out);
void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int B, int In, int Out);

/* Naive references (double accumulation), kept for tests. */
void linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int In, int Out);
void linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int B, int In, int Out);

#endif
