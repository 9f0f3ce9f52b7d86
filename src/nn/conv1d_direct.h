/* conv1d_direct.h — direct (no im2col, no GEMM library) fp32 convolution forward for a few
 * examples at a time: the batch-1 inference path.
 *
 * Same shapes, dimension legend and contract as conv1d.h (forward overwrites). Why: at batch
 * 1 every KRes convolution is a GEMM with a short side (Lout = 4 .. 1024 columns against
 * Cin * K = 204 .. 5440 reductions), where library GEMMs spend much of their time packing the
 * weights they read only once; oneDNN 2.6's 1-D kernels on AVX2 are such GEMMs. Here the
 * weights are read in their own (Cout, Cin, K) layout straight into a register-blocked
 * kernel, and the input is split once into its S stride phases so that every tap reads a
 * contiguous run of samples:
 *   out[o, t] = sum_{c, k} w[o, c, k] * xpad[c, t S + k] = sum_{c, k} w[o, c, k] * ph[c, k mod S][t + k div S]
 * Two kernels (AVX2 + FMA; chosen at run time, nothing is used on CPUs without them):
 *   Lout >= 9  6 output channels x 16 outputs in 12 accumulators, broadcast weights (the
 *              AVX-512 build, nn/simd.h: 8 channels x 16 outputs, one vector each; same bits);
 *   Lout <= 8  dot products: 3 output channels x 4 outputs, vectors along (c, k), over a
 *              transposed im2col of the few outputs (the deepest KRes layers, Lout = 4).
 * Every output is summed in one fixed order whatever the thread count (threads split output
 * channels), so results repeat bit for bit; they differ from the reference by rounding.
 *
 * Workspace: an internal buffer that grows to the largest shape seen; not reentrant (the
 * dnnl backend calls it under its lock). */
#ifndef KRES_NN_CONV1D_DIRECT_H
#define KRES_NN_CONV1D_DIRECT_H

#include <stddef.h>

/* 1 where the CPU (and OS) have AVX2 and FMA, so the kernels can run. KRES_CONV_DIRECT=0 in
 * the environment makes it 0 (to compare with the other paths). */
int conv1d_direct_available(void);

/* How many examples kres's own forward kernels (Winograd always, the direct ones in
 * inference) take instead of oneDNN: every batch on a CPU without AVX-512, where they beat
 * oneDNN at every size measured (1-64: batch-64 inference 258-345 -> 211-229 ms at 2
 * threads, the stride-4 layers 1.3-2.5x; the Winograd training forward 7-14% faster); 2 on
 * AVX-512 CPUs, where oneDNN's kernels are twice as wide as these AVX2 ones and larger
 * batches are unmeasured. KRES_OWN_KERNELS_MAX_BATCH=N overrides it (for measuring). */
int conv1d_own_kernels_max_batch(void);

/* 1 where the direct path is expected to beat oneDNN's primitives for this forward call:
 * fp32, K >= 2, and B <= 2 in training (frozen 0: oneDNN's batched kernels win there, the
 * step measured 0.93-1.00 -> 1.11-1.16 s with the direct kernels at batch 64), B <=
 * conv1d_own_kernels_max_batch() in inference (frozen weights). */
int conv1d_direct_wins(int B, int frozen, int Cin, int Cout, int L, int K, int stride, int pad);

/* Forward convolution (conv1d.h contract), any stride >= 1, 0 <= pad < K. Requires
 * conv1d_direct_available(). */
void conv1d_direct_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Bytes held by the workspace, and its release. */
size_t conv1d_direct_workspace_bytes(void);
void conv1d_direct_release(void);

#endif
