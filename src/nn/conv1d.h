/* conv1d.h — 1-D convolution over (B, C, L) activations, PyTorch Conv1d semantics.
 *
 * Dimension legend:
 *   B  batch            Cin  input channels     Cout  output channels
 *   L  input length     K    kernel width       S     stride       P  zero padding (each side)
 *   Lo output length = (L + 2P - K) / S + 1     (conv1d_out_len)
 *
 * Shapes (row-major, contiguous float32):
 *   inp (B, Cin, L)   weight (Cout, Cin, K)   bias (Cout) or NULL   out (B, Cout, Lo)
 *   out[b,o,t] = bias[o] + sum_{c,k} weight[o,c,k] * inp[b, c, t*S + k - P]   (0 outside [0, L))
 *
 * Conventions (llm.c style): forward OVERWRITES out; backward ACCUMULATES (+=) into dinp,
 * dweight and dbias, so the caller zeroes gradients once per step. dinp may be NULL (first
 * layer: no input gradient needed); dbias may be NULL (bias-free conv). Gradient buffers
 * must not alias inputs.
 *
 * Backends: conv1d_forward/backward dispatch on a process-wide backend (nn_set_backend).
 *   NN_BACKEND_REF   naive direct loops with double accumulation (the reference, kept forever)
 *   NN_BACKEND_FAST  im2col + OpenBLAS sgemm, OpenMP over the batch (default)
 *   NN_BACKEND_DNNL  oneDNN primitives, cached per shape (conv1d_dnnl.h; fp32 or bf16)
 * The fast path never allocates: the caller passes `work` with at least
 * conv1d_workspace_size(...) floats (compute the size AFTER fixing the OpenMP thread count;
 * the size depends on it). The reference ignores work. Results are bit-identical across runs
 * for the same thread count (static schedules, per-thread partials summed in thread order).
 * The fast path sets OpenBLAS to one thread (openblas_set_num_threads(1)) on first use, since
 * it calls sgemm from inside its own OpenMP loop. */
#ifndef KRES_NN_CONV1D_H
#define KRES_NN_CONV1D_H

#include <stddef.h>

typedef enum { NN_BACKEND_REF = 0, NN_BACKEND_FAST = 1, NN_BACKEND_DNNL = 2 } NnBackend;

/* Select the backend used by conv1d_* and linear_* dispatchers (default NN_BACKEND_FAST). */
void nn_set_backend(NnBackend b);
NnBackend nn_get_backend(void);
const char *nn_backend_name(NnBackend b);

/* Output length (L + 2P - K) / S + 1; KRES_ASSERTs that it is >= 1. */
int conv1d_out_len(int L, int K, int stride, int pad);

/* Floats of scratch needed by conv1d_forward/backward for these sizes with the current
 * backend and omp_get_max_threads() (0 for the reference backend). */
size_t conv1d_workspace_size(int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* out (B, Cout, Lo) = conv(inp (B, Cin, L), weight (Cout, Cin, K)) + bias (Cout | NULL).
 * work: >= work_n floats of scratch, work_n >= conv1d_workspace_size(...) (asserted). */
void conv1d_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int B, int Cin, int Cout, int L, int K, int stride, int pad,
                    float *work, size_t work_n);

/* Given dout (B, Cout, Lo): dinp (B, Cin, L) += ..., dweight (Cout, Cin, K) += ...,
 * dbias (Cout) += sum over b, t of dout. dinp and/or dbias may be NULL. */
void conv1d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight,
                     int B, int Cin, int Cout, int L, int K, int stride, int pad,
                     float *work, size_t work_n);

/* The two implementations behind the dispatchers (same contracts). */
void conv1d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int Cin, int Cout, int L, int K, int stride, int pad);
void conv1d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad);
size_t conv1d_fast_workspace_size(int B, int Cin, int Cout, int L, int K, int stride, int pad);
void conv1d_forward_fast(float *out, const float *inp, const float *weight, const float *bias,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad,
                         float *work, size_t work_n);
void conv1d_backward_fast(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *weight,
                          int B, int Cin, int Cout, int L, int K, int stride, int pad,
                          float *work, size_t work_n);

#endif
