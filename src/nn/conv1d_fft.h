/* conv1d_fft.h — stride-1 1-D convolution by overlap-save FFT with per-frequency complex GEMMs.
 *
 * Same shapes, dimension legend and contract as conv1d.h (forward overwrites, backward
 * accumulates), restricted to stride 1. Why: KRes's kernel-17 stride-1 convolutions hold ~70%
 * of its multiply-adds. Direct (im2col + GEMM) convolution spends K = 17 multiply-adds per
 * output per channel pair; here each channel pair costs one complex multiply-add per
 * frequency bin, (N/2 + 1) bins per block of M = N - K + 1 outputs, i.e. about 4 * 65 / 112
 * = 2.3 real multiply-adds per output at N = 128: ~7x fewer, and the channel mixing is a
 * well-shaped complex GEMM per bin (four real sgemm calls, oneDNN's JIT sgemm).
 *
 * Algorithm (per example, per block j of M outputs, window length N, a power of two):
 *   forward   Y_f = sum_c DFT(w_rev[o,c]) X_f[c],  X = DFT(x[jM - P .. jM - P + N)),
 *             y[jM + m] = IDFT(Y)[m + K - 1]                       (w_rev[k] = w[K-1-k])
 *   dinp      DX_f = sum_o DFT(w[o,c]) DY_f[o],  DY = DFT(dy[jM + P - K + 1 .. + N)),
 *             dx[jM + m] += IDFT(DX)[m + K - 1]
 *   dweight   DW_f[o,c] = sum_{b,j} conj(DFT(dy[jM .. jM + M) zero-padded)) X_f[c],
 *             dw[o,c,k] += IDFT(DW)[k]   (k < K; no wrap-around because the dy block has
 *             only M non-zeros)
 * Real transforms go two at a time through one complex FFT (x1 + i x2), eight such pairs
 * per SIMD vector. The examples are split statically over OpenMP threads; each thread owns
 * its buffers and its weight-gradient partial, summed in thread order, so results repeat
 * bit for bit for a given thread count. They differ from direct convolution by rounding
 * (relative error ~1e-6 of the output scale).
 *
 * Workspace: an internal arena that grows the first time a larger shape is seen (warm-up),
 * then is reused; not reentrant (one caller at a time). The forward kernel spectra are also
 * kept per weight tensor (up to 16) with a copy of the weights they came from, and reused
 * while a byte comparison shows the weights unchanged (inference); training recomputes them. */
#ifndef KRES_NN_CONV1D_FFT_H
#define KRES_NN_CONV1D_FFT_H

#include <stddef.h>

/* Transform length the FFT path would use for these sizes (16 .. 256), or 0 when the FFT
 * path is not expected to beat direct convolution by a clear margin (or stride != 1).
 * B matters because the kernel transforms are shared by the batch. */
int conv1d_fft_plan_n(int B, int Cin, int Cout, int L, int K, int stride, int pad);
/* As conv1d_fft_plan_n, for a forward pass with frozen != 0: the weights are not expected to
 * change between calls (inference), so the cached kernel spectra make the kernel transforms
 * free and only their reading is charged; this admits the FFT path at batch 1 for long
 * signals. frozen == 0 is conv1d_fft_plan_n. */
int conv1d_fft_plan_n_frozen(int B, int Cin, int Cout, int L, int K, int stride, int pad,
                             int frozen);
/* The cheapest length by the same model without the margin: nonzero for every stride-1
 * convolution with K >= 5 (used to force the FFT path in tests). */
int conv1d_fft_best_n(int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Stride-1 convolution (see conv1d.h). N is conv1d_fft_plan_n(...) or any power of two in
 * [16, 256] with N >= K (tests force other lengths). */
void conv1d_fft_forward(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int Cin, int Cout, int L, int K, int pad, int N);
void conv1d_fft_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight,
                         int B, int Cin, int Cout, int L, int K, int pad, int N);

/* Bytes currently held by the workspace arena, and its release (with the spectra cache). */
size_t conv1d_fft_workspace_bytes(void);
void conv1d_fft_release(void);

#endif
