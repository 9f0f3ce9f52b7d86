/* conv1d_direct.c — see conv1d_direct.h for the method and the contract.
 *
 * Layouts (one example at a time):
 *   ph   (Cin, S, Lp)   stride phases of the zero-padded input: ph[c, p, s] = xpad[c, s S + p],
 *                       Lp = L16 + (K - 1) / S + 1 so that every 16-wide read stays inside;
 *   ob   (Cout, L16)    output rows padded to 16 columns where Lout is not a multiple of 16;
 *   col  (T4, Kd8)      transposed im2col for Lout <= 8: col[t, c K + k] = xpad[c, t S + k],
 *                       rows padded with zeros to a multiple of 8, T4 = Lout rounded up to 4. */
#include "nn/conv1d_direct.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/cpu_features.h"
#include "nn/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define KRES_DIRECT_X86 1
#endif

static struct {
    float *base;
    size_t floats;
    int *offs;
    int noffs;
} g_ws;

static float *workspace(size_t floats) { return grow_floats(&g_ws.base, &g_ws.floats, floats); }

size_t conv1d_direct_workspace_bytes(void) {
    return g_ws.floats * sizeof(float) + (size_t)g_ws.noffs * sizeof(int);
}

void conv1d_direct_release(void) {
    free(g_ws.base);
    free(g_ws.offs);
    memset(&g_ws, 0, sizeof g_ws);
}

int conv1d_direct_available(void) { return cpu_avx2_kernels_enabled("KRES_CONV_DIRECT"); }

int conv1d_own_kernels_max_batch(void) {
    const char *e = getenv("KRES_OWN_KERNELS_MAX_BATCH");
    if (e && *e) {
        char *end;
        const long v = strtol(e, &end, 10);
        if (*end == '\0' && v >= 0) return v > INT_MAX ? INT_MAX : (int)v;
    }
    return cpu_features()->avx512f ? 2 : INT_MAX;
}

int conv1d_direct_wins(int B, int frozen, int Cin, int Cout, int L, int K, int stride, int pad) {
    (void)Cin;
    (void)Cout;
    (void)L;
    /* At batch 1 this path beat oneDNN on every KRes layer it was measured on (stem, the
     * stride-4 conv2 layers, the two deep conv1 layers: 1.2-2x); for larger batches see
     * conv1d_own_kernels_max_batch. */
    return B >= 1 && B <= (frozen ? conv1d_own_kernels_max_batch() : 2) && K >= 2 && stride >= 1 && pad >= 0 &&
           pad < K && conv1d_direct_available();
}

#ifdef KRES_DIRECT_X86

/* ---------------------------------------------------------------- Lout >= 9 --------- */

/* RR output rows x 16 outputs: out[r, 0..16) (=|+=) sum over channels [c0, c1) and taps,
 * each row as NV vectors of type V (simd.h: one source for every instruction set).
 * w points at row 0, channel 0 of the block (rows ldw floats apart); xp at phase row
 * (0, 0) plus the block's first output; offs[k] = (k mod S) Lp + k div S. */
#define DEF_WIDE(NAME, TARGET, V, VU, NV, RR, FMA)                                             \
    TARGET static void NAME(float *out, size_t ldo, const float *xp, size_t cstride,           \
                            const int *offs, const float *w, size_t ldw, int c0, int c1,       \
                            int K, int accumulate) {                                           \
        enum { W = WCOLS / (NV) };                                                             \
        V acc[RR][NV];                                                                         \
        _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++)                                   \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) acc[r][v] = (V){0};           \
        for (int c = c0; c < c1; c++) {                                                        \
            const float *wc = w + (size_t)c * K, *xc = xp + (size_t)c * cstride;               \
            for (int k = 0; k < K; k++) {                                                      \
                const float *xk = xc + offs[k];                                                \
                V b[NV];                                                                       \
                _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) b[v] =                    \
                    *(const VU *)(xk + v * W);                                                 \
                _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++) {                         \
                    const float a = wc[(size_t)r * ldw + k];                                   \
                    _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++)                       \
                        FMA(acc[r][v], a, b[v]);                                               \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++)                                   \
            _Pragma("GCC unroll 2") for (int v = 0; v < NV; v++) {                             \
                VU *o = (VU *)(out + (size_t)r * ldo + v * W);                                 \
                if (accumulate) acc[r][v] += *o;                                               \
                *o = acc[r][v];                                                                \
            }                                                                                  \
    }

enum { WCOLS = 16, WSETS = 4 };

typedef void (*WideFn)(float *out, size_t ldo, const float *xp, size_t cstride, const int *offs,
                       const float *w, size_t ldw, int c0, int c1, int K, int accumulate);

/* One build's kernels, by descending row count (the last takes one row). AVX2: 6 rows of two
 * 8-float vectors in 12 of its 16 registers. AVX-512: 8 rows of one 16-float vector; with one
 * weight broadcast per multiply-add either way, more rows would only add weight streams. */
typedef struct {
    int rows[WSETS];
    WideFn fn[WSETS];
} WideSet;

/* One build's set: kernels of R0, 4, 2 and 1 rows, and its table entry. */
#define DEF_WIDE_SET(SET, TARGET, V, VU, NV, FMA, R0)                                          \
    DEF_WIDE(wide##R0##_##SET, TARGET, V, VU, NV, R0, FMA)                                     \
    DEF_WIDE(wide4_##SET, TARGET, V, VU, NV, 4, FMA)                                           \
    DEF_WIDE(wide2_##SET, TARGET, V, VU, NV, 2, FMA)                                           \
    DEF_WIDE(wide1_##SET, TARGET, V, VU, NV, 1, FMA)
#define WIDE_SET(SET, R0) {{R0, 4, 2, 1}, {wide##R0##_##SET, wide4_##SET, wide2_##SET, wide1_##SET}}

DEF_WIDE_SET(avx2, KRES_TARGET_AVX2, vf8, vf8u, 2, FMA8, 6)
DEF_WIDE_SET(avx512, KRES_TARGET_AVX512, vf16, vf16u, 1, FMA16, 8)
DEF_WIDE_SET(shapes, KRES_TARGET_AVX2, vf16, vf16u, 1, FMA16_HALVES, 8)

static const WideSet g_wide[] = {
    [OWN_ISA_AVX2] = WIDE_SET(avx2, 6),
    [OWN_ISA_AVX512] = WIDE_SET(avx512, 8),
    [OWN_ISA_AVX512_SHAPES] = WIDE_SET(shapes, 8),
};

static void forward_wide(float *out, const float *x, const float *weight, int Cin, int Cout, int L,
                         int K, int S, int pad, int Lout, const WideSet *ks) {
    const int L16 = (Lout + WCOLS - 1) / WCOLS * WCOLS;
    const int Lp = L16 + (K - 1) / S + 1;
    const size_t cstride = (size_t)S * Lp, nph = (size_t)Cin * cstride;
    const int padded = Lout % WCOLS != 0;
    float *ph = workspace(nph + (padded ? (size_t)Cout * L16 : 0));
    float *ob = padded ? ph + nph : out;
    const size_t ldo = padded ? (size_t)L16 : (size_t)Lout;
    for (int k = 0; k < K; k++) g_ws.offs[k] = (k % S) * Lp + k / S;
    const int *offs = g_ws.offs;
    /* channel chunks: a chunk of phases (~96 KiB) stays in L2 while every row block and
     * column block reads it; rows and their weights are split over the threads */
    int cc = (int)(96 * 1024 / (sizeof(float) * cstride));
    cc = cc < 1 ? 1 : cc > Cin ? Cin : cc;
    const int wrows = ks->rows[0], nrb = (Cout + wrows - 1) / wrows;
    const size_t ldw = (size_t)Cin * K;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int c = 0; c < Cin; c++)
            for (int p = 0; p < S; p++) {
                float *d = ph + (size_t)c * cstride + (size_t)p * Lp;
                const float *xs = x + (size_t)c * L;
                for (int s = 0; s < Lp; s++) {
                    const long i = (long)s * S + p - pad;
                    d[s] = i >= 0 && i < L ? xs[i] : 0.0f;
                }
            }
        for (int c0 = 0; c0 < Cin; c0 += cc) {
            const int c1 = c0 + cc < Cin ? c0 + cc : Cin;
            /* same static split every chunk: a thread's rows stay its own, no barrier */
#pragma omp for schedule(static) nowait
            for (int rb = 0; rb < nrb; rb++) {
                const int o0 = rb * wrows, rows = Cout - o0 < wrows ? Cout - o0 : wrows;
                for (int t = 0; t < L16; t += WCOLS)
                    for (int r = 0; r < rows;) {
                        float *o = ob + (size_t)(o0 + r) * ldo + t;
                        const float *w = weight + (size_t)(o0 + r) * ldw;
                        const float *xp = ph + t;
                        int i = 0;
                        while (ks->rows[i] > rows - r) i++;
                        ks->fn[i](o, ldo, xp, cstride, offs, w, ldw, c0, c1, K, c0 > 0);
                        r += ks->rows[i];
                    }
            }
        }
    }
    if (padded)
        for (int o = 0; o < Cout; o++)
            memcpy(out + (size_t)o * Lout, ob + (size_t)o * L16, (size_t)Lout * sizeof(float));
}

/* ---------------------------------------------------------------- Lout <= 8 --------- */

__attribute__((target("avx2,fma"))) static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Each weight is used once here (one block of 4 outputs), so the kernel streams the weights
 * from memory: a software prefetch 1 KiB ahead in every row keeps the RR streams in flight
 * (10% faster on units.3.conv2, 7 MB of weights, measured cold). */
enum { DOT_PREFETCH_BYTES = 1024 };

/* RR output rows x 4 outputs as dot products over j = c K + k in [0, Kd): w rows ldw
 * floats apart, col rows ldc apart (zero beyond Kd). The last partial vector of a weight
 * row is a masked load, so nothing past the weights is read (prefetches, which cannot
 * fault, aside). */
#define DEF_DOT(NAME, RR)                                                                     \
    __attribute__((target("avx2,fma"))) static void NAME(                                     \
        float *out, size_t ldo, int nout, const float *col, size_t ldc, const float *w,       \
        size_t ldw, int Kd) {                                                                 \
        __m256 acc[RR][4];                                                                    \
        _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) acc[r][0] = acc[r][1] =          \
            acc[r][2] = acc[r][3] = _mm256_setzero_ps();                                      \
        const int full = Kd / 8 * 8;                                                          \
        for (int j = 0; j <= full; j += 8) {                                                  \
            if (j == Kd) break;                                                               \
            __m256i mask = _mm256_set1_epi32(-1);                                             \
            if (j == full) {                                                                  \
                const int n = Kd - full;                                                      \
                mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n),                               \
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));         \
            }                                                                                 \
            if ((j & 15) == 0) _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++)           \
                _mm_prefetch((const char *)(w + r * ldw + j) + DOT_PREFETCH_BYTES,            \
                             _MM_HINT_T0);                                                    \
            const __m256 x0 = _mm256_load_ps(col + j), x1 = _mm256_load_ps(col + ldc + j);    \
            const __m256 x2 = _mm256_load_ps(col + 2 * ldc + j);                              \
            const __m256 x3 = _mm256_load_ps(col + 3 * ldc + j);                              \
            _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) {                            \
                const __m256 a = j == full ? _mm256_maskload_ps(w + r * ldw + j, mask)        \
                                           : _mm256_loadu_ps(w + r * ldw + j);                \
                acc[r][0] = _mm256_fmadd_ps(a, x0, acc[r][0]);                                \
                acc[r][1] = _mm256_fmadd_ps(a, x1, acc[r][1]);                                \
                acc[r][2] = _mm256_fmadd_ps(a, x2, acc[r][2]);                                \
                acc[r][3] = _mm256_fmadd_ps(a, x3, acc[r][3]);                                \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) for (int t = 0; t < nout; t++)  \
            out[r * ldo + t] = hsum(acc[r][t]);                                               \
    }
DEF_DOT(dot3, 3)
DEF_DOT(dot2, 2)
DEF_DOT(dot1, 1)

enum { DROWS = 3, DCOLS = 4 };

static void forward_dot(float *out, const float *x, const float *weight, int Cin, int Cout, int L,
                        int K, int S, int pad, int Lout) {
    const int Kd = Cin * K;
    const size_t ldc = (size_t)(Kd + 7) / 8 * 8;
    const int T4 = (Lout + DCOLS - 1) / DCOLS * DCOLS;
    float *col = workspace((size_t)T4 * ldc);
    for (int t = 0; t < T4; t++) {
        float *row = col + (size_t)t * ldc;
        memset(row, 0, ldc * sizeof(float));
        if (t >= Lout) continue;
        for (int c = 0; c < Cin; c++)
            for (int k = 0; k < K; k++) {
                const long i = (long)t * S + k - pad;
                row[c * K + k] = i >= 0 && i < L ? x[(size_t)c * L + i] : 0.0f;
            }
    }
    const int nrb = (Cout + DROWS - 1) / DROWS;
#pragma omp parallel for schedule(static)
    for (int rb = 0; rb < nrb; rb++) {
        const int o0 = rb * DROWS, rows = Cout - o0 < DROWS ? Cout - o0 : DROWS;
        for (int t = 0; t < Lout; t += DCOLS) {
            const int n = Lout - t < DCOLS ? Lout - t : DCOLS;
            float *o = out + (size_t)o0 * Lout + t;
            const float *w = weight + (size_t)o0 * Kd, *cl = col + (size_t)t * ldc;
            if (rows == 3) dot3(o, Lout, n, cl, ldc, w, Kd, Kd);
            else if (rows == 2) dot2(o, Lout, n, cl, ldc, w, Kd, Kd);
            else dot1(o, Lout, n, cl, ldc, w, Kd, Kd);
        }
    }
}

#endif /* KRES_DIRECT_X86 */

void conv1d_direct_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    KRES_ASSERT(conv1d_direct_available());
    KRES_ASSERT(B >= 0 && Cin >= 1 && Cout >= 1 && K >= 1 && stride >= 1 && pad >= 0);
    const int Lout = (L + 2 * pad - K) / stride + 1;
    KRES_ASSERT(Lout >= 1);
#ifdef KRES_DIRECT_X86
    if (K > g_ws.noffs) {
        free(g_ws.offs);
        g_ws.offs = xmalloc((size_t)K * sizeof(int));
        g_ws.noffs = K;
    }
    const WideSet *ks = &g_wide[own_kernels_isa()];
    for (int b = 0; b < B; b++) {
        const float *x = inp + (size_t)b * Cin * L;
        float *y = out + (size_t)b * Cout * Lout;
        if (Lout <= 8) forward_dot(y, x, weight, Cin, Cout, L, K, stride, pad, Lout);
        else forward_wide(y, x, weight, Cin, Cout, L, K, stride, pad, Lout, ks);
        if (bias)
            for (int o = 0; o < Cout; o++)
                for (int t = 0; t < Lout; t++) y[(size_t)o * Lout + t] += bias[o];
    }
#else
    (void)out, (void)inp, (void)weight, (void)bias, (void)B, (void)L;
#endif
}
