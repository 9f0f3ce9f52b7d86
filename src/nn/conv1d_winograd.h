/* conv1d_winograd.h — fp32 forward convolution of a few examples by Winograd minimal
 * filtering, F(4, 4) or F(4, 5) over blocks of taps: the batch-1 inference path for the
 * long-kernel layers that the FFT path does not take (KRes's stride-4 conv2 layers and the
 * L = 64 conv1).
 *
 * Same shapes, dimension legend and contract as conv1d.h (forward overwrites), any stride.
 * Why: direct convolution spends K multiply-adds per output and channel pair (17 in KRes);
 * at batch 1 those layers run at the CPU's multiply-add rate already, so only fewer
 * multiply-adds make them faster. Method, for stride S:
 *   split the input into its S stride phases z_p[u] = xpad[S u + p]; phase p holds the taps
 *   k = S j + p; cut each phase's taps into blocks of 4 (zero-padded). Then
 *     y[t] = sum_{p, b} sum_{i < 4} w[S (4b + i) + p] z_p[t + 4b + i]
 *   and every (p, b) term is a stride-1, 4-tap correlation, which F(4, 4) computes for 4
 *   outputs from 7 inputs with 7 multiplies instead of 16:
 *     y[4T + i] = sum_xi AT[i, xi] M[xi, T],   M[xi, o, T] = sum_{p, b, c} U[xi, o, (p, b, c)] V[xi, p, c, T + b]
 *     U = G w_block (7 x 4),  V = BT z_tile (7 x 7),  AT (4 x 7)
 *   with the interpolation points {0, 1, -1, 2, -2, 1/2, inf}. KRes's K = 17 makes 5 blocks
 *   for S = 1: 35 multiplies per 4 outputs, 8.75 per output against 17 (1.9x fewer). Where
 *   every phase has at most 5 taps (KRes's S = 4: 5, 4, 4, 4) one 5-tap block per phase and
 *   F(4, 5) (8 points, adding -1/2) take 32 multiplies per 4 outputs instead of 35: 8 per
 *   output (2.1x fewer), and a 9% smaller U. The products M[xi] are GEMM-shaped
 *   (Cout x nblk Cin x tiles) and run in a register-blocked kernel of 16 tiles by 6 output
 *   channels (AVX2) or 8 (the AVX-512 build, nn/simd.h; same bits).
 * Results differ from direct convolution by rounding (relative error ~1e-6 of the output
 * scale); every output is summed in one fixed order whatever the thread count, so results
 * repeat bit for bit.
 *
 * The transformed weights U (tn/tr times the weights per block) are kept per weight tensor
 * in nn/frozen.h's WeightCache (with the FFT path's spectra): reused while the weights are
 * unchanged, checked byte for byte against a saved copy, or once per kres_freeze promise.
 * Workspace: an internal arena that grows to the largest shape seen; not reentrant (the dnnl
 * backend calls it under its lock). */
#ifndef KRES_NN_CONV1D_WINOGRAD_H
#define KRES_NN_CONV1D_WINOGRAD_H

#include <stddef.h>

/* 1 where the CPU (and OS) have AVX2 and FMA, so the kernel can run. KRES_CONV_WINOGRAD=0
 * in the environment makes it 0 (to compare with the other paths). */
int conv1d_winograd_available(void);

/* 1 where this path is expected to beat the direct kernels and oneDNN for a forward:
 * B <= conv1d_own_kernels_max_batch() (conv1d_direct.h; in training too: the transformed
 * weights are then recomputed each step, which costs little next to a batch's products, and
 * the training step measured 7-14% faster), long kernels, enough outputs to fill the 16-tile
 * kernel and enough channels to amortise the transforms. */
int conv1d_winograd_wins(int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Forward convolution (conv1d.h contract), any stride >= 1, 0 <= pad. Requires
 * conv1d_winograd_available(). */
void conv1d_winograd_forward(float *out, const float *inp, const float *weight,
                             const float *bias, int B, int Cin, int Cout, int L, int K,
                             int stride, int pad);

/* Bytes held by the workspace and the transformed-weight cache, and their release. */
size_t conv1d_winograd_workspace_bytes(void);
void conv1d_winograd_release(void);

#endif
