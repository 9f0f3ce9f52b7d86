/* conv1d_fft.c — overlap-save FFT convolution (see conv1d_fft.h for the algorithm).
 *
 * Data layout. A "spectrum matrix" holds, for every frequency bin f in [0, N/2], one complex
 * row-major matrix: element (f, r, col) at 2 * (f * kstride + r * ld + col) floats
 * (interleaved re, im), so that bin f's matrix is directly a cgemm operand. Columns are
 * windows (example b, block j) of one chunk of examples; rows are channels.
 *
 * Transforms run on 16 windows at a time: lane l of an 8-wide vector holds the complex
 * sequence x_{2l} + i x_{2l+1}; one complex FFT yields both real spectra (split with the
 * conjugate-symmetry identities in scatter_spectra / gather_spectra). */
#include "nn/conv1d_fft.h"

#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/cpu_features.h"
#include "nn/frozen.h"
#include "nn/simd.h"
#include "nn/threads.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define KRES_FFT_X86 1
#endif

typedef float v8 __attribute__((vector_size(32)));
typedef int v8i __attribute__((vector_size(32)));
/* unaligned, aliasing view of 8 floats in a matrix */
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
enum { LANES = 8, WIN = 16, LOG_MIN = 4, LOG_MAX = 8, NMAX = 1 << LOG_MAX };
static const double TWO_PI = 6.283185307179586476925286766559;

/* ---------------------------------------------------------------- FFT core ---------- */

typedef struct {
    int n;
    int rev[NMAX];           /* bit reversal of [0, n) */
    float cs[NMAX / 2];      /* cos(2 pi j / n) */
    float sn[NMAX / 2];      /* sin(2 pi j / n) */
} Plan;

static Plan g_plan[LOG_MAX + 1];
static pthread_once_t g_plan_once = PTHREAD_ONCE_INIT;

static void init_plans(void) {
    for (int lg = LOG_MIN; lg <= LOG_MAX; lg++) {
        Plan *p = &g_plan[lg];
        int n = 1 << lg;
        p->n = n;
        for (int i = 0; i < n; i++) {
            int r = 0;
            for (int b = 0; b < lg; b++)
                if ((i >> b) & 1) r |= 1 << (lg - 1 - b);
            p->rev[i] = r;
        }
        for (int j = 0; j < n / 2; j++) { /* double, then rounded once: accurate twiddles */
            p->cs[j] = (float)cos(TWO_PI * j / n);
            p->sn[j] = (float)sin(TWO_PI * j / n);
        }
    }
}

static const Plan *plan_for(int n) {
    pthread_once(&g_plan_once, init_plans);
    for (int lg = LOG_MIN; lg <= LOG_MAX; lg++)
        if (n == 1 << lg) return &g_plan[lg];
    KRES_ASSERT(!"FFT length must be a power of two in [16, 256]");
    return NULL;
}

/* In-place radix-2 decimation-in-time FFT of 8 sequences (one per lane) whose input is
 * already in bit-reversed order. Forward uses e^{-2 pi i jk/n}; the inverse is unscaled. */
__attribute__((target_clones("avx2", "default")))
static void fft_lanes(v8 *re, v8 *im, const Plan *p, int inverse) {
    const int n = p->n;
    const float sgn = inverse ? 1.0f : -1.0f;
    for (int len = 2; len <= n; len <<= 1) {
        const int half = len >> 1, step = n / len;
        for (int j = 0; j < half; j++) {
            const float c = p->cs[j * step], s = sgn * p->sn[j * step];
            for (int i = j; i < n; i += len) {
                v8 br = re[i + half], bi = im[i + half];
                v8 tr = c * br - s * bi, ti = c * bi + s * br;
                v8 ar = re[i], ai = im[i];
                re[i] = ar + tr;
                im[i] = ai + ti;
                re[i + half] = ar - tr;
                im[i + half] = ai - ti;
            }
        }
    }
}

/* One window of real input: row[start + i] for i < nvalid and 0 <= start + i < len, else 0.
 * row == NULL: an all-zero padding window. */
typedef struct {
    const float *row;
    int start;
} Src;

/* Windows w and w + 8 share lane w: real and imaginary part of one complex sequence. This
 * pairing makes the spectra of windows 0..7 and 8..15 come out as whole vectors. */
static v8 *lane_part(v8 *re, v8 *im, int w) { return w < LANES ? re : im; }

#ifdef KRES_FFT_X86
/* 1 where the transposed window gathers and writes below may run (AVX2; KRES_FFT_GATHER=0
 * turns them off, to compare). Decided once (pthread_once: the first caller may be any of
 * a parallel region's threads). */
static pthread_once_t g_moves_once = PTHREAD_ONCE_INIT;
static int g_moves;
static void init_moves(void) { g_moves = cpu_avx2_kernels_enabled("KRES_FFT_GATHER"); }
static int transposed_moves(void) {
    pthread_once(&g_moves_once, init_moves);
    return g_moves;
}

/* In-register transpose: r[w] holds samples i0 .. i0+7 of window w; afterwards r[k] holds
 * sample i0 + k of windows 0 .. 7. */
__attribute__((target("avx2"))) static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* gather_windows for one lane group (8 windows): 8 x 8 blocks transposed in registers
 * instead of one scalar lane insert per sample; windows that reach past their row (or
 * padding windows) are first copied into zero-filled rows. The same values land in the
 * same places, so the results are the same bits. */
__attribute__((target("avx2"))) static void gather_group8(v8 *dst, const Plan *p, const Src *src,
                                                          int len, int nvalid) {
    const int n = p->n;
    float tmp[LANES][NMAX] __attribute__((aligned(32)));
    const float *rows[LANES];
    for (int w = 0; w < LANES; w++) {
        const float *row = src[w].row;
        const int st = src[w].start;
        int lo = st < 0 ? -st : 0, hi = len - st;
        if (hi > nvalid) hi = nvalid;
        if (hi > n) hi = n;
        if (!row) lo = hi = 0;
        if (lo == 0 && hi == n) {
            rows[w] = row + st;
            continue;
        }
        memset(tmp[w], 0, (size_t)n * sizeof(float));
        for (int i = lo; i < hi; i++) tmp[w][i] = row[st + i];
        rows[w] = tmp[w];
    }
    for (int i0 = 0; i0 < n; i0 += 8) {
        __m256 r[8];
        for (int w = 0; w < 8; w++) r[w] = _mm256_loadu_ps(rows[w] + i0);
        transpose8(r);
        for (int k = 0; k < 8; k++) _mm256_storeu_ps((float *)&dst[p->rev[i0 + k]], r[k]);
    }
}
#endif

/* Load 16 windows in bit-reversed order, ready for fft_lanes. */
static void gather_windows(v8 *re, v8 *im, const Plan *p, const Src *src, int len, int nvalid) {
    const int n = p->n;
#ifdef KRES_FFT_X86
    if (transposed_moves()) {
        gather_group8(re, p, src, len, nvalid);
        gather_group8(im, p, src + LANES, len, nvalid);
        return;
    }
#endif
    for (int w = 0; w < WIN; w++) {
        v8 *dst = lane_part(re, im, w);
        const int l = w & (LANES - 1);
        const float *row = src[w].row;
        const int s = src[w].start;
        int lo = s < 0 ? -s : 0, hi = len - s;
        if (hi > nvalid) hi = nvalid;
        if (!row) lo = hi = 0;
        for (int i = 0; i < n; i++) dst[p->rev[i]][l] = (i >= lo && i < hi) ? row[s + i] : 0.0f;
    }
}

/* Load 16 kernels (rows of K taps, zero-padded to n; reversed: tap K-1-i at i). */
static void gather_kernels(v8 *re, v8 *im, const Plan *p, const float *const rows[WIN], int K,
                           int reverse) {
    const int n = p->n;
    for (int w = 0; w < WIN; w++) {
        v8 *dst = lane_part(re, im, w);
        const int l = w & (LANES - 1);
        const float *row = rows[w];
        for (int i = 0; i < n; i++)
            dst[p->rev[i]][l] = (row && i < K) ? row[reverse ? K - 1 - i : i] : 0.0f;
    }
}

/* Planar spectra: bin k of column col has its real part at base[k * bstride + col] and its
 * imaginary part at base[k * bstride + istride + col]. */
typedef struct {
    float *base;
    size_t bstride, istride;
} Planes;

/* Split the FFT Z of x_l + i x_{l+8} into both real spectra (bins 0..n/2) and store them as
 * columns col0 .. col0+15:  X1[k] = (Z[k] + conj(Z[n-k])) / 2,  X2[k] = (Z[k] - conj(Z[n-k])) / 2i. */
__attribute__((target_clones("avx2", "default")))
static void scatter_spectra(Planes d, size_t col0, const v8 *re, const v8 *im, int n) {
    for (int k = 0; k <= n / 2; k++) {
        const int nk = (n - k) & (n - 1);
        float *r = d.base + (size_t)k * d.bstride + col0, *i = r + d.istride;
        v8 zr = re[k], zi = im[k], wr = re[nk], wi = im[nk];
        *(v8u *)r = 0.5f * (zr + wr);
        *(v8u *)(r + LANES) = 0.5f * (zi + wi);
        *(v8u *)i = 0.5f * (zi - wi);
        *(v8u *)(i + LANES) = 0.5f * (wr - zr);
    }
}

/* The inverse of scatter_spectra: rebuild Z = X1 + i X2 over all n bins from the stored half
 * spectra (X[n-k] = conj(X[k]) for real signals), in bit-reversed order. Only the first
 * nvalid of the 16 columns are read; the others (stale bytes) count as zero spectra. */
__attribute__((target_clones("avx2", "default")))
static void gather_spectra(v8 *re, v8 *im, const Plan *p, Planes s, size_t col0, int nvalid) {
    const int n = p->n, h = n / 2;
    v8i m1, m2;
    for (int l = 0; l < LANES; l++) {
        m1[l] = l < nvalid ? -1 : 0;
        m2[l] = l + LANES < nvalid ? -1 : 0;
    }
    for (int k = 0; k <= h; k++) {
        const float *r = s.base + (size_t)k * s.bstride + col0, *i = r + s.istride;
        v8 x1r = (v8)((v8i) * (const v8u *)r & m1), x2r = (v8)((v8i) * (const v8u *)(r + LANES) & m2);
        v8 x1i = (v8)((v8i) * (const v8u *)i & m1), x2i = (v8)((v8i) * (const v8u *)(i + LANES) & m2);
        const int pk = p->rev[k];
        re[pk] = x1r - x2i;
        im[pk] = x1i + x2r;
        if (k > 0 && k < h) {
            const int pn = p->rev[n - k];
            re[pn] = x1r + x2i;
            im[pn] = x2r - x1i;
        }
    }
}

/* Where the real outputs of 16 inverse-transformed windows go: row[m] (+)= scale * x[off + m]
 * for m < count (count <= 0: nothing). */
typedef struct {
    float *row;
    int count;
} Dst;

#ifdef KRES_FFT_X86
/* write_windows for one lane group (8 windows): blocks of 8 outputs transposed in registers
 * and stored as vectors; a window's last partial block goes through a small buffer. Each
 * value gets the same multiply (and add) as in the scalar loop, so the same bits. */
__attribute__((target("avx2"))) static void write_group8(const v8 *src, const Dst *dst, int off,
                                                         float scale, int accumulate) {
    int most = 0;
    for (int w = 0; w < LANES; w++)
        if (dst[w].count > most) most = dst[w].count;
    const __m256 sc = _mm256_set1_ps(scale);
    for (int m0 = 0; m0 < most; m0 += 8) {
        __m256 r[8];
        for (int k = 0; k < 8; k++) /* only indices below off + most: inside the transform */
            r[k] = m0 + k < most ? _mm256_loadu_ps((const float *)&src[off + m0 + k])
                                 : _mm256_setzero_ps();
        transpose8(r);
        for (int w = 0; w < LANES; w++) {
            const int left = dst[w].count - m0;
            if (left <= 0) continue;
            float *row = dst[w].row + m0;
            const __m256 v = _mm256_mul_ps(sc, r[w]);
            if (left >= 8) {
                _mm256_storeu_ps(row, accumulate ? _mm256_add_ps(_mm256_loadu_ps(row), v) : v);
            } else {
                float t[8];
                _mm256_storeu_ps(t, v);
                for (int m = 0; m < left; m++) row[m] = accumulate ? row[m] + t[m] : t[m];
            }
        }
    }
}
#endif

static void write_windows(const v8 *re, const v8 *im, const Dst *dst, int off, float scale,
                          int accumulate) {
#ifdef KRES_FFT_X86
    if (transposed_moves()) {
        write_group8(re, dst, off, scale, accumulate);
        write_group8(im, dst + LANES, off, scale, accumulate);
        return;
    }
#endif
    for (int w = 0; w < WIN; w++) {
        const v8 *src = w < LANES ? re : im;
        const int l = w & (LANES - 1);
        float *row = dst[w].row;
        const int cnt = dst[w].count;
        if (accumulate)
            for (int m = 0; m < cnt; m++) row[m] += scale * src[off + m][l];
        else
            for (int m = 0; m < cnt; m++) row[m] = scale * src[off + m][l];
    }
}

/* ---------------------------------------------------------------- planning ---------- */

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Cost of transforming one window of length n (gather, FFT, split, scatter), in units of
 * GEMM multiply-adds: measured on the KRes shapes (AVX2, one thread). The growth is faster
 * than n log n because the larger transforms and their strided scatters leave L1. n = 64 was
 * lowered from 5200 after the transposed window moves, where the plans it changes measured
 * faster at 64 than at 32: the stem at batch 1 (inference, 0.23 -> 0.18 ms) and 64 (forward +
 * backward, 2 threads, 17.5 -> 15.0 ms), units.1.conv1 at batch 16 (23.6 -> 20.7 ms). */
static double transform_cost(int n) {
    switch (n) {
    case 16: return 400;
    case 32: return 1440;
    case 64: return 4400;
    case 128: return 18400;
    default: return 66000;
    }
}

/* Reading one cached kernel-spectrum float pair (8 bytes) from memory, in multiply-add units
 * (~10 GB/s against ~35 G multiply-adds/s on one AVX2 core), with a margin for the weight
 * comparison that validates the cache and for the few-column GEMMs at batch 1 (calibrated on
 * the KRes conv1 layers at batch 1: FFT wins at L = 1024 and 256, loses at 64 and 16). */
enum { SPEC_READ_COST = 40 };

/* Cheapest transform length by the cost model, and that cost (multiply-adds per example).
 * frozen: a forward pass whose kernel spectra come from the cache (weights unchanged since
 * the last call), so no kernel transforms, but the spectra are read once per call. */
static int best_n(int B, int Cin, int Cout, int L, int K, int stride, int pad, int frozen,
                  double *cost_out) {
    if (stride != 1 || K < 5 || Cin < 1 || Cout < 1 || B < 1) return 0;
    const int Lo = L + 2 * pad - K + 1;
    if (Lo < 1) return 0;
    const int span = Lo > L ? Lo : L;
    double best = 0;
    int bn = 0;
    for (int n = 1 << LOG_MIN; n <= NMAX; n <<= 1) {
        const int M = n - K + 1;
        if (M < 1) continue;
        const double nblk = ceil_div(span, M), pairs = (double)Cin * Cout;
        /* per example: 4 real multiply-adds per complex one, per channel pair, bin and block;
         * the window transforms; the kernel transforms, shared by the batch */
        double cost = pairs * nblk * (n / 2 + 1) * 4.0 + (Cin + Cout) * nblk * transform_cost(n) +
                      (frozen ? pairs * (n / 2 + 1) * (double)SPEC_READ_COST
                              : pairs * transform_cost(n)) / B;
        if (!bn || cost < best) {
            best = cost;
            bn = n;
        }
    }
    *cost_out = best;
    return bn;
}

int conv1d_fft_best_n(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    double cost;
    return best_n(B, Cin, Cout, L, K, stride, pad, 0, &cost);
}

int conv1d_fft_plan_n(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    return conv1d_fft_plan_n_frozen(B, Cin, Cout, L, K, stride, pad, 0);
}

int conv1d_fft_plan_n_frozen(int B, int Cin, int Cout, int L, int K, int stride, int pad,
                             int frozen) {
    double cost;
    int n = best_n(B, Cin, Cout, L, K, stride, pad, frozen, &cost);
    if (!n) return 0;
    /* Worth it only with a clear margin over direct convolution's K multiply-adds per output
     * and channel pair (small GEMMs and memory traffic are not in the model). A short
     * reduction (Cin K below 512: the KRes stem, 12 x 17) keeps direct kernels and oneDNN's
     * im2col GEMMs well under their peak, so there direct is charged up to 2x more (measured
     * on the stem: forward at batch 1 direct 0.48 vs FFT (N = 32) 0.40 ms; forward + backward
     * at batch 64 oneDNN 52 vs FFT 27 ms). */
    const double reduction = (double)Cin * K;
    const double short_penalty = reduction >= 512 ? 1 : reduction >= 256 ? 512 / reduction : 2;
    const double direct = (double)Cin * Cout * K * (L + 2 * pad - K + 1) * short_penalty;
    return cost < 0.6 * direct ? n : 0;
}

/* ---------------------------------------------------------------- workspace --------- */

static struct {
    float *base;
    size_t floats;
} g_ws;
/* Row-major C = alpha op(A) op(B) + beta C through oneDNN's sgemm: JIT-compiled for the
 * CPU it runs on, so it does not depend on which core type OpenBLAS detected (OpenBLAS
 * 0.3.21 falls back to a generic SSE3 kernel on CPUs it does not know). Called inside our
 * parallel regions it runs on the calling thread (omp_single_thread_calls). */
static void gemm(char ta, char tb, int m, int n, int k, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    omp_single_thread_calls();
    dnnl_status_t st = dnnl_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    KRES_ASSERT(st == dnnl_success);
}

/* The arena only grows (during warm-up, as new shapes appear). Not reentrant. */
static float *workspace(size_t floats) { return grow_floats(&g_ws.base, &g_ws.floats, floats); }

size_t conv1d_fft_workspace_bytes(void) { return g_ws.floats * sizeof(float); }

/* Forward kernel spectra are kept per weight tensor and reused while the weights are
 * unchanged (inference, frozen encoders): frozen.h's cache checks them against a copy of the
 * weights (once per kres_freeze promise), so a stale spectrum is never used. In training the
 * check fails at the first weight (every step changes them) and the spectra are recomputed. */
static WeightCache g_spec;

static void kernel_spectra(float *KS, const float *weight, int Cout, int Cin, int K, const Plan *p,
                           int reverse);

static const float *forward_spectra(const float *weight, int Cout, int Cin, int K, const Plan *p) {
    const int key[WEIGHT_CACHE_KEY] = {Cout, Cin, K, p->n};
    int fresh;
    float *spec = weight_cache_get(&g_spec, weight, (size_t)Cout * Cin * K, key,
                                   (size_t)(p->n / 2 + 1) * 2 * round16((size_t)Cout * Cin), &fresh);
    if (fresh) kernel_spectra(spec, weight, Cout, Cin, K, p, 1); /* correlation: reversed */
    return spec;
}

void conv1d_fft_release(void) {
    free(g_ws.base);
    g_ws.base = NULL;
    g_ws.floats = 0;
    weight_cache_release(&g_spec);
}

/* Geometry shared by forward and backward. */
typedef struct {
    int N, M, K, bins, nblk, nt, per_thread, chunk;
    size_t nbp;   /* padded columns of a chunk's spectrum matrices */
} Geo;

/* nt: the threads that split the examples (at most B). */
static void geometry(Geo *g, int B, int L, int Lo, int K, int N, int nt) {
    g->N = N;
    g->K = K;
    g->M = N - K + 1;
    KRES_ASSERT(g->M >= 1);
    g->bins = N / 2 + 1;
    g->nblk = ceil_div(Lo > L ? Lo : L, g->M);
    if (nt > B) nt = B;
    g->nt = nt < 1 ? 1 : nt;
    g->per_thread = ceil_div(B, g->nt);
    /* ~128 windows per chunk: a well-shaped cgemm, spectra that stay in the L2/L3 caches */
    g->chunk = ceil_div(128, g->nblk);
    if (g->chunk > g->per_thread) g->chunk = g->per_thread;
    g->nbp = round16((size_t)g->chunk * g->nblk);
}

/* Spectra of all Cout x Cin kernels, planar: bin f's real parts form the (Cout, Cin)
 * row-major matrix KS + f * 2 * round16(Cout * Cin), its imaginary parts follow at
 * + round16(Cout * Cin). */
static void kernel_spectra(float *KS, const float *weight, int Cout, int Cin, int K, const Plan *p,
                           int reverse) {
    const size_t nw = (size_t)Cout * Cin, ncol = round16(nw);
    const int groups = (int)(ncol / WIN);
    const Planes ks = {KS, 2 * ncol, ncol};
#pragma omp parallel for schedule(static)
    for (int gi = 0; gi < groups; gi++) {
        v8 re[NMAX], im[NMAX];
        const float *rows[WIN];
        for (int w = 0; w < WIN; w++) {
            size_t idx = (size_t)gi * WIN + w;
            rows[w] = idx < nw ? weight + idx * K : NULL;
        }
        gather_kernels(re, im, p, rows, K, reverse);
        fft_lanes(re, im, p, 0);
        scatter_spectra(ks, (size_t)gi * WIN, re, im, p->n);
    }
}

/* One bin of a complex matrix product on planar operands, as four real GEMMs:
 *   C = op(A) B  with  Cr = Ar' Br - Ai' Bi,  Ci = Ar' Bi + Ai' Br  (A' = A or A^T, no conj).
 * A: kernel spectra (Cout, Cin) planes; B, C: stacked [real rows; imaginary rows]. */
static void complex_gemm(int transA, int m, int n, int k, const float *Ar, const float *Ai, int lda,
                         const float *Br, const float *Bi, int ldb, float *Cr, float *Ci, int ldc) {
    const char ta = transA ? 'T' : 'N';
    gemm(ta, 'N', m, n, k, 1.0f, Ar, lda, Br, ldb, 0.0f, Cr, ldc);
    gemm(ta, 'N', m, n, k, -1.0f, Ai, lda, Bi, ldb, 1.0f, Cr, ldc);
    gemm(ta, 'N', m, n, k, 1.0f, Ar, lda, Bi, ldb, 0.0f, Ci, ldc);
    gemm(ta, 'N', m, n, k, 1.0f, Ai, lda, Br, ldb, 1.0f, Ci, ldc);
}

/* Few columns (batch 1: one column per window of one example): the four sgemm calls per
 * bin each pack their operands for a product of a few hundred multiply-adds per column, so a
 * register-blocked complex kernel does the bin in one pass instead. C = A B, overwritten,
 * planar as in complex_gemm (transA = 0); RR rows of A x 8 columns in 4 RR accumulators.
 * Columns are computed up to n rounded up to 8: the spectrum matrices hold zeros (or stale
 * bytes that nothing reads) there. */
enum { SMALL_COLS = 32 };
#ifdef KRES_FFT_X86
#define DEF_CSMALL(NAME, TARGET, RR)                                                          \
    TARGET static void NAME(int k, const float *Ar, const float *Ai, int lda, const float *Br, \
                            const float *Bi, int ldb, float *Cr, float *Ci, int ldc) {        \
        /* four partial sums per row (rr - ii, ri + ir): independent FMA chains */            \
        vf8 rr[RR], ii[RR], ri[RR], ir[RR];                                                   \
        _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) rr[r] = ii[r] = ri[r] = ir[r] =  \
            (vf8){0};                                                                         \
        for (int c = 0; c < k; c++) {                                                         \
            const vf8 xr = *(const vf8u *)(Br + (size_t)c * ldb);                             \
            const vf8 xi = *(const vf8u *)(Bi + (size_t)c * ldb);                             \
            _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) {                            \
                const float wr = Ar[(size_t)r * lda + c], wi = Ai[(size_t)r * lda + c];       \
                FMA8(rr[r], wr, xr);                                                          \
                FMA8(ii[r], wi, xi);                                                          \
                FMA8(ri[r], wr, xi);                                                          \
                FMA8(ir[r], wi, xr);                                                          \
            }                                                                                 \
        }                                                                                     \
        _Pragma("GCC unroll 6") for (int r = 0; r < RR; r++) {                                \
            *(vf8u *)(Cr + (size_t)r * ldc) = rr[r] - ii[r];                                  \
            *(vf8u *)(Ci + (size_t)r * ldc) = ri[r] + ir[r];                                  \
        }                                                                                     \
    }

typedef void (*CsmallFn)(int k, const float *Ar, const float *Ai, int lda, const float *Br,
                         const float *Bi, int ldb, float *Cr, float *Ci, int ldc);

/* One build's kernels by descending row count (simd.h), 8 columns each: AVX2 holds 3 rows'
 * 12 sums in its 16 registers; AVX-512 (VL: 32 eight-float registers) holds 6 rows, which
 * halves the loads of B per multiply-add. */
enum { CSETS = 4 };
typedef struct {
    int rows[CSETS];
    CsmallFn fn[CSETS];
} CsmallSet;

DEF_CSMALL(csmall3_avx2, KRES_TARGET_AVX2, 3)
DEF_CSMALL(csmall2_avx2, KRES_TARGET_AVX2, 2)
DEF_CSMALL(csmall1_avx2, KRES_TARGET_AVX2, 1)
DEF_CSMALL(csmall6_avx512, KRES_TARGET_AVX512, 6)
DEF_CSMALL(csmall4_avx512, KRES_TARGET_AVX512, 4)
DEF_CSMALL(csmall2_avx512, KRES_TARGET_AVX512, 2)
DEF_CSMALL(csmall1_avx512, KRES_TARGET_AVX512, 1)
DEF_CSMALL(csmall6_shapes, KRES_TARGET_AVX2, 6)
DEF_CSMALL(csmall4_shapes, KRES_TARGET_AVX2, 4)

static const CsmallSet g_csmall[] = {
    [OWN_ISA_AVX2] = {{3, 2, 1, 1}, {csmall3_avx2, csmall2_avx2, csmall1_avx2, csmall1_avx2}},
    [OWN_ISA_AVX512] = {{6, 4, 2, 1},
                        {csmall6_avx512, csmall4_avx512, csmall2_avx512, csmall1_avx512}},
    /* its 2- and 1-row kernels are the AVX2 ones: the same code in either target */
    [OWN_ISA_AVX512_SHAPES] = {{6, 4, 2, 1},
                               {csmall6_shapes, csmall4_shapes, csmall2_avx2, csmall1_avx2}},
};
#endif

/* 1 where complex_gemm_small can run (AVX2 + FMA); KRES_FFT_SMALL=0 turns it off. */
static int small_kernel_available(void) { return cpu_avx2_kernels_enabled("KRES_FFT_SMALL"); }

/* With 16 columns or fewer (units.1.conv1 at batch 1: 16 windows) each spectrum row feeds
 * only two 8-column blocks, too little work to hide its fetch from memory: software prefetch
 * 12 KiB ahead (cold, one thread: 1.41-1.65 -> 1.16-1.25 ms). With 24 columns (units.0.conv1)
 * it measured 5% slower, so it is not used there. */
enum { SPEC_PREFETCH_BYTES = 12288 };

static void complex_gemm_small(int m, int n, int k, const float *Ar, const float *Ai, int lda,
                               const float *Br, const float *Bi, int ldb, float *Cr, float *Ci,
                               int ldc) {
#ifdef KRES_FFT_X86
    /* rows outer: each block of A rows is read from memory once and then serves every column
     * block from L1 (B, a few KB per bin, stays in L1), so the kernel spectra stream at an
     * even rate instead of in bursts */
    const CsmallSet *ks = &g_csmall[own_kernels_isa()];
    for (int r = 0; r < m;) {
        int i = 0;
        while (ks->rows[i] > m - r) i++;
        const int rr = ks->rows[i];
        const size_t a = (size_t)r * lda;
        if (n <= 16) { /* little work per spectrum byte: fetch ahead (see the enum) */
            const char *pr = (const char *)(Ar + a) + SPEC_PREFETCH_BYTES;
            const char *pi = (const char *)(Ai + a) + SPEC_PREFETCH_BYTES;
            for (size_t o = 0; o < (size_t)rr * lda * sizeof(float); o += 64) {
                _mm_prefetch(pr + o, _MM_HINT_T0);
                _mm_prefetch(pi + o, _MM_HINT_T0);
            }
        }
        for (int j = 0; j < n; j += 8) {
            const size_t c = (size_t)r * ldc + j;
            ks->fn[i](k, Ar + a, Ai + a, lda, Br + j, Bi + j, ldb, Cr + c, Ci + c, ldc);
        }
        r += rr;
    }
#else
    (void)m, (void)n, (void)k, (void)Ar, (void)Ai, (void)lda, (void)Br, (void)Bi, (void)ldb;
    (void)Cr, (void)Ci, (void)ldc;
    KRES_ASSERT(!"complex_gemm_small needs x86-64");
#endif
}

/* Spectra of the windows of channel rows `base + (b * C + c) * len`, c in [c0, c1), for the
 * chunk's columns (col = (b - b0) * nblk + j): window j starts at j * step + shift and keeps
 * nvalid samples. Stored stacked per bin: (2C, nbp) = [real rows; imaginary rows]. */
static void window_spectra(float *S, const float *base, int C, int c0, int c1, int len, int b0,
                           int ncols, const Geo *g, int step, int shift, int nvalid, const Plan *p) {
    for (int c = c0; c < c1; c++) {
        const Planes d = {S + (size_t)c * g->nbp, 2 * (size_t)C * g->nbp, (size_t)C * g->nbp};
        for (int col0 = 0; col0 < ncols; col0 += WIN) {
            v8 re[NMAX], im[NMAX];
            Src src[WIN];
            for (int w = 0; w < WIN; w++) {
                int col = col0 + w;
                if (col < ncols) {
                    int b = b0 + col / g->nblk, j = col % g->nblk;
                    src[w].row = base + ((size_t)b * C + c) * len;
                    src[w].start = j * step + shift;
                } else {
                    src[w].row = NULL;
                    src[w].start = 0;
                }
            }
            gather_windows(re, im, p, src, len, nvalid);
            fft_lanes(re, im, p, 0);
            scatter_spectra(d, (size_t)col0, re, im, p->n);
        }
    }
}

/* Inverse transforms of the chunk's stacked spectra S (C channels; those in [c0, c1) here)
 * into rows of `base` (length len per (b, c)): out[j * M + m] (+)= IDFT[K - 1 + m] / N for the valid m. */
static void window_outputs(float *base, const float *S, int C, int c0, int c1, int len, int b0,
                           int ncols, const Geo *g, const Plan *p, int accumulate) {
    const float scale = 1.0f / (float)g->N;
    for (int c = c0; c < c1; c++) {
        const Planes s = {(float *)S + (size_t)c * g->nbp, 2 * (size_t)C * g->nbp,
                          (size_t)C * g->nbp};
        for (int col0 = 0; col0 < ncols; col0 += WIN) {
            v8 re[NMAX], im[NMAX];
            Dst dst[WIN];
            for (int w = 0; w < WIN; w++) {
                int col = col0 + w;
                dst[w].row = NULL;
                dst[w].count = 0;
                if (col < ncols) {
                    int b = b0 + col / g->nblk, j = col % g->nblk, t0 = j * g->M;
                    int cnt = len - t0 < g->M ? len - t0 : g->M;
                    dst[w].row = base + ((size_t)b * C + c) * len + t0;
                    dst[w].count = cnt;
                }
            }
            gather_spectra(re, im, p, s, (size_t)col0, ncols - col0);
            fft_lanes(re, im, p, 1);
            write_windows(re, im, dst, g->K - 1, scale, accumulate);
        }
    }
}

static int min_i(int a, int b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- forward ----------- */

/* Y_f (Cout, cols) = W_f (Cout, Cin) X_f: bin f's product of a chunk's stacked spectra X
 * (Cin channels) with the kernel spectra KS, into Y (Cout channels). small_ok: the
 * register-blocked kernel may take chunks of up to SMALL_COLS columns. */
static void bin_product(float *Y, const float *KS, const float *X, int f, int Cin, int Cout, int ncols,
                        const Geo *g, int small_ok) {
    const size_t ncol = round16((size_t)Cout * Cin);
    const float *kr = KS + f * 2 * ncol, *xr = X + f * 2 * (size_t)Cin * g->nbp;
    float *yr = Y + f * 2 * (size_t)Cout * g->nbp;
    if (ncols <= SMALL_COLS && small_ok)
        complex_gemm_small(Cout, ncols, Cin, kr, kr + ncol, Cin, xr, xr + (size_t)Cin * g->nbp, (int)g->nbp, yr,
                           yr + (size_t)Cout * g->nbp, (int)g->nbp);
    else
        complex_gemm(0, Cout, ncols, Cin, kr, kr + ncol, Cin, xr, xr + (size_t)Cin * g->nbp, (int)g->nbp, yr,
                     yr + (size_t)Cout * g->nbp, (int)g->nbp);
}

/* Fewer examples than threads (batch 1 on a multi-core machine): the examples split
 * across threads would leave all but B threads idle, so the whole team works on each chunk
 * instead, splitting the input channels, then the bins, then the output channels. Every
 * value is computed by the same code as with one thread: the same bits. */
static void forward_team(float *out, const float *inp, const float *KS, int B, int Cin, int Cout,
                         int L, int Lo, int pad, const Geo *g, const Plan *p, int nt) {
    const size_t xb = 2 * (size_t)Cin * g->nbp, yb = 2 * (size_t)Cout * g->nbp;
    float *X = workspace((size_t)g->bins * (xb + yb)), *Y = X + (size_t)g->bins * xb;
    const int small = small_kernel_available();
#pragma omp parallel num_threads(nt)
    for (int b0 = 0; b0 < B; b0 += g->chunk) {
        const int ncols = min_i(g->chunk, B - b0) * g->nblk;
#pragma omp for schedule(static)
        for (int c = 0; c < Cin; c++) window_spectra(X, inp, Cin, c, c + 1, L, b0, ncols, g, g->M, -pad, g->N, p);
#pragma omp for schedule(static)
        for (int f = 0; f < g->bins; f++) bin_product(Y, KS, X, f, Cin, Cout, ncols, g, small);
#pragma omp for schedule(static)
        for (int c = 0; c < Cout; c++) window_outputs(out, Y, Cout, c, c + 1, Lo, b0, ncols, g, p, 0);
    }
}

/* The examples split across the threads, each with its own spectra workspace. */
static void forward_split(float *out, const float *inp, const float *KS, int B, int Cin, int Cout,
                          int L, int Lo, int pad, const Geo *gp, const Plan *p) {
    const Geo g = *gp;
    const int N = g.N;
    const size_t xs = (size_t)g.bins * 2 * Cin * g.nbp, ys = (size_t)g.bins * 2 * Cout * g.nbp;
    const size_t per = xs + ys;
    float *thread_ws = workspace(g.nt * per);
    const int small_ok = small_kernel_available();
#pragma omp parallel num_threads(g.nt)
    {
        const int tid = omp_get_thread_num();
        float *X = thread_ws + (size_t)tid * per, *Y = X + xs;
        const int b_lo = tid * g.per_thread, b_hi = min_i(b_lo + g.per_thread, B);
        for (int b0 = b_lo; b0 < b_hi; b0 += g.chunk) {
            const int ncols = min_i(g.chunk, b_hi - b0) * g.nblk;
            window_spectra(X, inp, Cin, 0, Cin, L, b0, ncols, &g, g.M, -pad, N, p);
            for (int f = 0; f < g.bins; f++) bin_product(Y, KS, X, f, Cin, Cout, ncols, &g, small_ok);
            window_outputs(out, Y, Cout, 0, Cout, Lo, b0, ncols, &g, p, 0);
        }
    }
}

void conv1d_fft_forward(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int Cin, int Cout, int L, int K, int pad, int N) {
    if (B <= 0) return;
    const int Lo = L + 2 * pad - K + 1;
    KRES_ASSERT(Lo >= 1 && K >= 1 && pad >= 0);
    const Plan *p = plan_for(N);
    const float *KS = forward_spectra(weight, Cout, Cin, K, p);
    const int team = omp_get_max_threads();
    /* fewer examples than threads: every example in one chunk sequence, the team on each */
    const int whole_team = team > B && omp_get_level() == 0;
    Geo g;
    geometry(&g, B, L, Lo, K, N, whole_team ? 1 : team);
    if (whole_team) forward_team(out, inp, KS, B, Cin, Cout, L, Lo, pad, &g, p, team);
    else forward_split(out, inp, KS, B, Cin, Cout, L, Lo, pad, &g, p);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < B * Cout; r++) {
            float *y = out + (size_t)r * Lo, bv = bias[r % Cout];
            for (int t = 0; t < Lo; t++) y[t] += bv;
        }
    }
}

/* ---------------------------------------------------------------- backward ---------- */

/* Weight-gradient spectra -> dweight: G_f (2Cin, 2Cout) = [Xr; Xi] [DYr; DYi]^T summed over
 * the np partials at G0 + t * pstride (in order), combined into conj(DY) X form
 * (DWr = Gr,r + Gi,i, DWi = Gi,r - Gr,i) stored planar in KS (column c * Cout + o), then one
 * inverse transform per (c, o) pair: dw[o, c, k] += IDFT[k]. Runs inside a parallel region. */
static void wgrad_finish(float *dweight, float *KS, const float *G0, size_t pstride, int np,
                         int Cin, int Cout, int K, const Plan *p) {
    const size_t nw = (size_t)Cout * Cin, ncol = round16(nw), ldg = 2 * (size_t)Cout;
    const int bins = p->n / 2 + 1;
#pragma omp for schedule(static)
    for (int f = 0; f < bins; f++) {
        float *dr = KS + (size_t)f * 2 * ncol, *di = dr + ncol;
        for (int c = 0; c < Cin; c++)
            for (int o = 0; o < Cout; o++) {
                float grr = 0, gii = 0, gir = 0, gri = 0;
                for (int t = 0; t < np; t++) {
                    const float *Gt = G0 + (size_t)t * pstride + (size_t)f * 4 * nw;
                    grr += Gt[(size_t)c * ldg + o];
                    gii += Gt[(size_t)(Cin + c) * ldg + Cout + o];
                    gir += Gt[(size_t)(Cin + c) * ldg + o];
                    gri += Gt[(size_t)c * ldg + Cout + o];
                }
                dr[(size_t)c * Cout + o] = grr + gii;
                di[(size_t)c * Cout + o] = gir - gri;
            }
    }
    const int groups = (int)(ncol / WIN);
    const float scale = 1.0f / (float)p->n;
    const Planes dws = {KS, 2 * ncol, ncol};
#pragma omp for schedule(static)
    for (int gi = 0; gi < groups; gi++) {
        v8 re[NMAX], im[NMAX];
        Dst dst[WIN];
        for (int w = 0; w < WIN; w++) {
            size_t idx = (size_t)gi * WIN + w; /* idx = c * Cout + o */
            dst[w].row = NULL;
            dst[w].count = 0;
            if (idx < nw) {
                size_t c = idx / Cout, o = idx % Cout;
                dst[w].row = dweight + (o * Cin + c) * K;
                dst[w].count = K;
            }
        }
        gather_spectra(re, im, p, dws, (size_t)gi * WIN, (int)(nw - (size_t)gi * WIN));
        fft_lanes(re, im, p, 1);
        write_windows(re, im, dst, 0, scale, 1);
    }
}

void conv1d_fft_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight,
                         int B, int Cin, int Cout, int L, int K, int pad, int N) {
    if (B <= 0) return;
    const int Lo = L + 2 * pad - K + 1;
    KRES_ASSERT(Lo >= 1 && K >= 1 && pad >= 0);
    const Plan *p = plan_for(N);
    Geo g, ga;
    geometry(&g, B, L, Lo, K, N, omp_get_max_threads());
    const size_t nw = (size_t)Cout * Cin, ncol = round16(nw);
    const size_t kss = (size_t)g.bins * 2 * ncol; /* kernel spectra, later the dW spectra */
    const size_t xs = (size_t)g.bins * 2 * Cin * g.nbp, ys = (size_t)g.bins * 2 * Cout * g.nbp;
    const size_t gs = dweight ? (size_t)g.bins * 4 * nw : 0;
    /* Weight gradient: per-thread partials over example chunks (reduced in thread order), or,
     * where the whole batch's spectra are smaller than the partials (short signals, many
     * threads, wide layers), the batch's spectra at once and the GEMMs split by bin: no
     * partials, no reduction, bits independent of the thread count. */
    ga = g;
    ga.chunk = ga.per_thread = B;
    ga.nbp = round16((size_t)B * g.nblk);
    const size_t xa = (size_t)g.bins * 2 * Cin * ga.nbp, ya = (size_t)g.bins * 2 * Cout * ga.nbp;
    const int bybin = dweight && g.nt > 1 && xa + ya < (size_t)g.nt * gs;
    const size_t per = (dinp || !bybin ? xs + ys : 0) + (bybin ? 0 : gs);
    const size_t shared = bybin ? xa + ya + gs : 0;
    float *ws = workspace(kss + shared + g.nt * per);
    float *KS = ws, *XA = ws + kss, *YA = XA + xa, *GA = YA + ya, *thread_ws = ws + kss + shared;
    if (dweight && bybin) {
        const int ncols = B * g.nblk;
        const size_t xb = 2 * (size_t)Cin * ga.nbp, yb = 2 * (size_t)Cout * ga.nbp;
#pragma omp parallel num_threads(g.nt)
        {
#pragma omp for schedule(static)
            for (int c = 0; c < Cin + Cout; c++) {
                if (c < Cin)
                    window_spectra(XA, inp, Cin, c, c + 1, L, 0, ncols, &ga, g.M, -pad, N, p);
                else
                    window_spectra(YA, dout, Cout, c - Cin, c - Cin + 1, Lo, 0, ncols, &ga, g.M, 0,
                                   g.M, p);
            }
#pragma omp for schedule(static)
            for (int f = 0; f < g.bins; f++)
                gemm('N', 'T', 2 * Cin, 2 * Cout, ncols, 1.0f, XA + f * xb, (int)ga.nbp,
                     YA + f * yb, (int)ga.nbp, 0.0f, GA + f * 4 * nw, 2 * Cout);
            wgrad_finish(dweight, KS, GA, 0, 1, Cin, Cout, K, p);
        }
    }
    if (dinp) kernel_spectra(KS, weight, Cout, Cin, K, p, 0);
    if (dinp || (dweight && !bybin)) {
#pragma omp parallel num_threads(g.nt)
        {
            const int tid = omp_get_thread_num();
            float *X = thread_ws + (size_t)tid * per, *D = X + xs, *G = D + ys;
            const int b_lo = tid * g.per_thread, b_hi = min_i(b_lo + g.per_thread, B);
            const size_t xb = 2 * (size_t)Cin * g.nbp, yb = 2 * (size_t)Cout * g.nbp;
            const int wg = dweight && !bybin;
            if (wg) memset(G, 0, gs * sizeof(float));
            for (int b0 = b_lo; b0 < b_hi; b0 += g.chunk) {
                const int ncols = min_i(g.chunk, b_hi - b0) * g.nblk;
                if (wg) {
                    /* G_f (2Cin, 2Cout) += [Xr; Xi] [DYr; DYi]^T over the chunk's windows,
                     * the dy blocks of M samples zero-padded to N (no circular wrap-around) */
                    window_spectra(X, inp, Cin, 0, Cin, L, b0, ncols, &g, g.M, -pad, N, p);
                    window_spectra(D, dout, Cout, 0, Cout, Lo, b0, ncols, &g, g.M, 0, g.M, p);
                    for (int f = 0; f < g.bins; f++)
                        gemm('N', 'T', 2 * Cin, 2 * Cout, ncols, 1.0f, X + f * xb, (int)g.nbp,
                             D + f * yb, (int)g.nbp, 1.0f, G + f * 4 * nw, 2 * Cout);
                }
                if (dinp) {
                    /* DX_f (Cin, cols) = W_f^T DY_f with the dy windows covering every tap
                     * that reaches the block: dy[jM + P - K + 1 .. + N) */
                    window_spectra(D, dout, Cout, 0, Cout, Lo, b0, ncols, &g, g.M, pad - K + 1, N,
                                   p);
                    for (int f = 0; f < g.bins; f++) {
                        const float *kr = KS + f * 2 * ncol, *dr = D + f * yb;
                        float *xr = X + f * xb;
                        complex_gemm(1, Cin, ncols, Cout, kr, kr + ncol, Cin, dr,
                                     dr + (size_t)Cout * g.nbp, (int)g.nbp, xr,
                                     xr + (size_t)Cin * g.nbp, (int)g.nbp);
                    }
                    window_outputs(dinp, X, Cin, 0, Cin, L, b0, ncols, &g, p, 1);
                }
            }
            if (wg) {
#pragma omp barrier
                /* the kernel spectra in KS are no longer needed: they become the dW spectra */
                wgrad_finish(dweight, KS, thread_ws + xs + ys, per, g.nt, Cin, Cout, K, p);
            }
        }
    }
    if (dbias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < Cout; o++) {
            double s = 0;
            for (int b = 0; b < B; b++) {
                const float *g0 = dout + ((size_t)b * Cout + o) * Lo;
                for (int t = 0; t < Lo; t++) s += g0[t];
            }
            dbias[o] += (float)s;
        }
    }
}
