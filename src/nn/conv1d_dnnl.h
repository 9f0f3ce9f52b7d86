/* conv1d_dnnl.h — the oneDNN backend behind NN_BACKEND_DNNL (see conv1d.h for the shapes,
 * the dimension legend and the forward-overwrites / backward-accumulates contract).
 *
 * Each distinct (direction, B, Cin, Cout, L, K, S, P, precision) gets its oneDNN primitives
 * built once, on first use, and cached for the life of the process: after the first step no
 * primitive is created and nothing is allocated. User buffers stay (B, C, L) = oneDNN "ncw";
 * where the primitive prefers a blocked layout (nCw8c / nCw16c), reorders into cached scratch
 * run around it, so callers see plain arrays.
 *
 * Precision (process-wide, conv1d_dnnl_set_precision):
 *   NN_PREC_FP32  everything in fp32.
 *   NN_PREC_BF16  mixed precision: inputs, weights and output gradients are rounded to bf16
 *                 (round-to-nearest-even) for the convolution, accumulation is fp32 and every
 *                 result (out, dinp, dweight) is written as fp32, so the fp32 master weights,
 *                 batch-norm statistics, loss and optimiser are untouched. Only accepted where
 *                 the CPU has AVX512-BF16 or AMX-BF16 (cpu_has_fast_bf16); elsewhere
 *                 conv1d_dnnl_set_precision refuses it and fp32 stays. Forward calls of
 *                 one or two examples run the fp32 paths below anyway (faster there).
 * Determinism: oneDNN's fp32/bf16 kernels use static work splits, so results repeat for the
 * same thread count and ISA; they are not bit-identical to the fast or reference backends.
 * Thread count: oneDNN runs on the OpenMP runtime and uses omp_get_max_threads(). */
#ifndef KRES_NN_CONV1D_DNNL_H
#define KRES_NN_CONV1D_DNNL_H

#include <stddef.h>

typedef enum { NN_PREC_FP32 = 0, NN_PREC_BF16 = 1 } NnPrecision;

/* Returns 0, or -1 (kres_fail says why; precision unchanged) when bf16 is asked for on a CPU
 * without native bf16 (cpu_has_fast_bf16() == 0: oneDNN would refuse or emulate it). */
int conv1d_dnnl_set_precision(NnPrecision p);
NnPrecision conv1d_dnnl_get_precision(void);
/* NN_PREC_BF16 where the CPU runs it natively, else NN_PREC_FP32. */
NnPrecision nn_precision_auto(void);
const char *nn_precision_name(NnPrecision p);

/* Which implementation runs a convolution:
 *   fp32, stride 1, wide kernel, where the cost model predicts a clear win (KRes: the stem
 *         and the kernel-17 conv1 of each unit at training batch sizes): the overlap-save
 *         FFT path (conv1d_fft.h);
 *   fp32 1x1: one oneDNN sgemm per example (no layout reorders);
 *   fp32 inference forward (frozen hint set) of one or two examples where it wins (KRes:
 *         the stride-4 conv2 layers and units.2.conv1): Winograd (conv1d_winograd.h);
 *   fp32 forward of one or two examples (also in bf16 mode), K >= 2, on CPUs with AVX2+FMA:
 *         the direct register-blocked kernels (conv1d_direct.h);
 *   everything else, and everything in bf16: oneDNN convolution primitives.
 * FFT mode 1 (default): as the cost model says; 0: never; 2: for every stride-1 convolution
 * with K >= 5 (tests). The environment variable KRES_CONV_FFT=0|1|2 sets the initial mode. */
void conv1d_dnnl_set_fft(int mode);

/* In bf16 mode, also let the (fp32) FFT path take the stride-1 wide convolutions its cost
 * model picks (default off; KRES_BF16_FFT=1 in the environment turns it on). */
void conv1d_dnnl_set_bf16_fft(int on);

/* Speed hint for this thread's later forward calls: nonzero = the weights stay unchanged
 * between calls (inference), so cached weight transforms cost nothing to reuse: the FFT
 * path is chosen for smaller batches (batch 1 on long signals) and the Winograd path is
 * allowed. Results differ from the other paths only by rounding; the caches are validated
 * against the weights (byte for byte, or once per kres_freeze promise: nn/frozen.h), so a
 * wrong hint costs speed, never correctness. kres_forward sets it to !training for its
 * convolutions and clears it after them. Default 0. */
void conv1d_dnnl_set_frozen_weights(int frozen);
/* The FFT length used for these sizes (training, i.e. hint 0), or 0 if they go to oneDNN. */
int conv1d_dnnl_uses_fft(int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* out (B, Cout, Lo) = conv(inp, weight) + bias (bias may be NULL). Overwrites out. */
void conv1d_forward_dnnl(float *out, const float *inp, const float *weight, const float *bias,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* dinp (B, Cin, L) += ..., dweight (Cout, Cin, K) += ..., dbias (Cout) += ...;
 * dinp and dbias may be NULL. */
void conv1d_backward_dnnl(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *weight,
                          int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Bytes held by the forward weights kept in oneDNN's layout under kres_freeze promises (the
 * reordered weights plus the fp32 copies they are checked against); 0 where every forward
 * primitive takes the plain layout. */
size_t conv1d_dnnl_weight_cache_bytes(void);

/* Name of the oneDNN implementation chosen for a forward of these sizes (e.g.
 * "jit:avx2", "gemm:jit", "brgconv:avx512_core_amx"); builds the primitive if needed. */
const char *conv1d_dnnl_impl_name(int B, int Cin, int Cout, int L, int K, int stride, int pad);

/* Primitives currently cached, and a release of all of them (tests, leak checkers). */
int conv1d_dnnl_cache_size(void);
void conv1d_dnnl_release(void);

#endif
