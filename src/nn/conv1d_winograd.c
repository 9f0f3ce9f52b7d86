/* conv1d_winograd.c — see conv1d_winograd.h for the method and the contract.
 *
 * Layouts (one example at a time; xi < tn = 7 or 8 interpolation points, p < S phases):
 *   Z  (4S, zlen)          per channel, per thread: Z[q, u] = xpad[4 S u + q], so the tn
 *                          inputs of phase p's tile T are Z[S (l mod 4) + p, T + l div 4];
 *   V  (tn, S, Cin, ldv)   transformed input tiles, ldv >= tiles16 + the largest block shift;
 *   U  (tn, nrb, KD, R)    transformed weights, KD = nblk Cin (row kd = block * Cin + c),
 *                          the R output channels of the product kernel's row block (6 for
 *                          AVX2, 8 for AVX-512) interleaved so that its broadcasts read one
 *                          sequential stream; rows past Cout are zero;
 *   M  (tn, nrb * R, tiles16) the products, before the output transform. */
#include "nn/conv1d_winograd.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/conv1d_direct.h"
#include "nn/cpu_features.h"
#include "nn/frozen.h"
#include "nn/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define KRES_WINO_X86 1
#endif

/* F(TM, tr): TM outputs of a tr-tap correlation from tn = TM + tr - 1 inputs with tn
 * multiplies. Two variants: F(4, 4) over blocks of 4 taps (any number of blocks per phase),
 * and F(4, 5) where every phase has at most 5 taps (one block per phase: KRes's stride-4
 * layers, 4 x 8 = 32 multiplies per 4 outputs instead of 5 x 7 = 35). */
enum { TM = 4, TNMAX = 8, COLS = 16 };

typedef struct {
    int tr, tn;
    float AT[TM][TNMAX], G[TNMAX][TNMAX], BT[TNMAX][TNMAX];
} Transform;

static Transform g_f44, g_f45;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static double ipow(double a, int e) {
    double r = 1.0;
    while (e-- > 0) r *= a;
    return r;
}

/* Toom-Cook matrices for correlation, from the polynomial-product algorithm by
 * transposition: with E the (tn x tn) evaluation map of degree-(tn-1) polynomials at the
 * points (inf: the leading coefficient), and Em, Er the same for degrees TM-1 and tr-1,
 *   y = Em^T ((Er g) . (E^-T d)),  so  AT = Em^T, G = Er, BT = E^-T.
 * pts: the tn - 1 finite points. Computed in double (Gauss-Jordan) and rounded once. */
static void build_transform(Transform *t, int tr, const double *pts) {
    const int tn = TM + tr - 1;
    KRES_ASSERT(tn <= TNMAX);
    t->tr = tr;
    t->tn = tn;
    double E[TNMAX][2 * TNMAX];
    for (int j = 0; j < tn; j++)
        for (int i = 0; i < 2 * tn; i++)
            E[j][i] = i >= tn ? (double)(i - tn == j)
                      : j < tn - 1 ? ipow(pts[j], i)
                                   : (double)(i == tn - 1);
    for (int c = 0; c < tn; c++) {
        int piv = c;
        for (int r = c + 1; r < tn; r++)
            if (fabs(E[r][c]) > fabs(E[piv][c])) piv = r;
        for (int i = 0; i < 2 * tn; i++) {
            const double x = E[c][i];
            E[c][i] = E[piv][i];
            E[piv][i] = x;
        }
        const double d = E[c][c];
        KRES_ASSERT(fabs(d) > 1e-12);
        for (int i = 0; i < 2 * tn; i++) E[c][i] /= d;
        for (int r = 0; r < tn; r++) {
            if (r == c || E[r][c] == 0.0) continue;
            const double f = E[r][c];
            for (int i = 0; i < 2 * tn; i++) E[r][i] -= f * E[c][i];
        }
    }
    memset(t->AT, 0, sizeof t->AT);
    memset(t->G, 0, sizeof t->G);
    memset(t->BT, 0, sizeof t->BT);
    for (int xi = 0; xi < tn; xi++) {
        for (int l = 0; l < tn; l++) t->BT[xi][l] = (float)E[l][tn + xi];
        for (int i = 0; i < tr; i++)
            t->G[xi][i] = (float)(xi < tn - 1 ? ipow(pts[xi], i) : (double)(i == tr - 1));
        for (int i = 0; i < TM; i++)
            t->AT[i][xi] = (float)(xi < tn - 1 ? ipow(pts[xi], i) : (double)(i == TM - 1));
    }
}

static void init_transforms(void) {
    static const double pts[TNMAX - 1] = {0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5};
    build_transform(&g_f44, 4, pts);
    build_transform(&g_f45, 5, pts);
}

/* ---------------------------------------------------------------- geometry ---------- */

typedef struct {
    int Cin, Cout, L, K, S, pad, Lout;
    int tiles, tiles16, maxb, ldv, zlen, rows, nrb, nblk, KD;
    int *bp, *bb;   /* phase and block index of each (p, b) block */
    size_t *voff;   /* each block's V offset: its phase's rows, shifted by its tile offset */
    size_t vsize, msize, zsize; /* floats of V, M and one thread's Z */
    const Transform *tf;
} Geo;

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* taps of phase p: k = S j + p < K */
static int phase_taps(int K, int S, int p) { return p < K ? ceil_div(K - p, S) : 0; }

static int count_blocks(int K, int S, int tr, int *maxb) {
    int n = 0, mb = 0;
    for (int p = 0; p < S; p++) {
        const int nb = ceil_div(phase_taps(K, S, p), tr);
        n += nb;
        if (nb > mb) mb = nb;
    }
    if (maxb) *maxb = mb > 0 ? mb - 1 : 0;
    return n;
}

static struct {
    float *base;
    size_t floats;
    int *blocks;
    int nblocks;
    size_t *voffs;
} g_ws;

/* F(4, 5) where every phase fits one 5-tap block and that takes fewer multiplies than the
 * 4-tap blocks of F(4, 4); else F(4, 4). */
static const Transform *choose_transform(int K, int S) {
    int maxb5;
    const int n4 = count_blocks(K, S, 4, NULL), n5 = count_blocks(K, S, 5, &maxb5);
    return maxb5 == 0 && n5 * g_f45.tn < n4 * g_f44.tn ? &g_f45 : &g_f44;
}

static void geometry(Geo *g, int Cin, int Cout, int L, int K, int S, int pad, int rows) {
    g->tf = choose_transform(K, S);
    g->Cin = Cin;
    g->Cout = Cout;
    g->L = L;
    g->K = K;
    g->S = S;
    g->pad = pad;
    g->Lout = (L + 2 * pad - K) / S + 1;
    g->tiles = ceil_div(g->Lout, TM);
    g->tiles16 = ceil_div(g->tiles, COLS) * COLS;
    g->nblk = count_blocks(K, S, g->tf->tr, &g->maxb);
    g->ldv = ceil_div(g->tiles16 + g->maxb, 8) * 8;
    g->zlen = g->ldv + 8; /* the l >= 4 inputs read one column further, 8-wide */
    g->rows = rows;
    g->nrb = ceil_div(Cout, rows);
    g->KD = g->nblk * Cin;
    if (2 * g->nblk > g_ws.nblocks) {
        free(g_ws.blocks);
        free(g_ws.voffs);
        g_ws.blocks = xmalloc(2 * (size_t)g->nblk * sizeof(int));
        g_ws.voffs = xmalloc((size_t)g->nblk * sizeof(size_t));
        g_ws.nblocks = 2 * g->nblk;
    }
    g->bp = g_ws.blocks;
    g->bb = g_ws.blocks + g->nblk;
    g->voff = g_ws.voffs;
    g->vsize = (size_t)g->tf->tn * S * Cin * g->ldv;
    g->msize = (size_t)g->tf->tn * g->nrb * rows * g->tiles16;
    g->zsize = (size_t)4 * S * g->zlen;
    int n = 0;
    for (int p = 0; p < S; p++)
        for (int b = 0; b < ceil_div(phase_taps(K, S, p), g->tf->tr); b++) {
            g->bp[n] = p;
            g->bb[n] = b;
            g->voff[n] = (size_t)p * Cin * g->ldv + (size_t)b;
            n++;
        }
    KRES_ASSERT(n == g->nblk);
}

/* ---------------------------------------------------------------- weights ----------- */

/* U for the (Cout, Cin, K) weights (layout at the top), in double and rounded once. */
static void transform_weights(float *U, const float *weight, const Geo *g) {
    const size_t per_xi = (size_t)g->nrb * g->KD * g->rows;
    const Transform *tf = g->tf;
    const int tr = tf->tr, tn = tf->tn;
    memset(U, 0, tn * per_xi * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int o = 0; o < g->Cout; o++) {
        const int rb = o / g->rows, r = o % g->rows;
        for (int blk = 0; blk < g->nblk; blk++)
            for (int c = 0; c < g->Cin; c++) {
                const float *w = weight + ((size_t)o * g->Cin + c) * g->K;
                double tap[TNMAX];
                for (int i = 0; i < tr; i++) {
                    const int k = g->S * (tr * g->bb[blk] + i) + g->bp[blk];
                    tap[i] = k < g->K ? w[k] : 0.0;
                }
                const size_t kd = (size_t)blk * g->Cin + c;
                for (int xi = 0; xi < tn; xi++) {
                    double s = 0.0;
                    for (int i = 0; i < tr; i++) s += (double)tf->G[xi][i] * tap[i];
                    U[xi * per_xi + ((size_t)rb * g->KD + kd) * g->rows + r] = (float)s;
                }
            }
    }
}

/* Transformed weights are kept per weight tensor (frozen.h's cache: checked against a copy of
 * the weights, once per kres_freeze promise), so a stale transform is never used. */
static WeightCache g_cache;

static const float *cached_weights(const float *weight, const Geo *g) {
    const int key[WEIGHT_CACHE_KEY] = {g->Cout, g->Cin, g->K, g->S | g->rows << 16};
    int fresh;
    float *U = weight_cache_get(&g_cache, weight, (size_t)g->Cout * g->Cin * g->K, key,
                                (size_t)g->tf->tn * g->nrb * g->KD * g->rows, &fresh);
    if (fresh) transform_weights(U, weight, g);
    return U;
}

/* ---------------------------------------------------------------- kernels ----------- */

static float *workspace(size_t floats) { return grow_floats(&g_ws.base, &g_ws.floats, floats); }

size_t conv1d_winograd_workspace_bytes(void) {
    return g_ws.floats * sizeof(float) +
           (size_t)g_ws.nblocks * (sizeof(int) + sizeof(size_t) / 2) +
           weight_cache_bytes(&g_cache);
}

void conv1d_winograd_release(void) {
    free(g_ws.base);
    free(g_ws.blocks);
    free(g_ws.voffs);
    memset(&g_ws, 0, sizeof g_ws);
    weight_cache_release(&g_cache);
}

int conv1d_winograd_available(void) { return cpu_avx2_kernels_enabled("KRES_CONV_WINOGRAD"); }

int conv1d_winograd_wins(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    if (B < 1 || B > conv1d_own_kernels_max_batch() || K < 8 || stride < 1 || pad < 0 || L + 2 * pad < K) return 0;
    const int Lout = (L + 2 * pad - K) / stride + 1;
    /* Measured on the KRes layers at batch 1 (one thread): faster than the direct kernels
     * from 16 tiles (Lout >= 64) with >= 64 channels each side; the stem (12 inputs) and
     * the deep layers (Lout 4 and 16, whose transformed weights would only add memory
     * traffic) stay direct. */
    return Lout >= 64 && Cin >= 64 && Cout >= 64 && conv1d_winograd_available();
}

#ifdef KRES_WINO_X86

/* V[xi, p, c, :] = BT (tn x tn) applied to the tn inputs of every tile, from the sub-phase
 * rows Z; inlined with tn a constant so that the tile's inputs stay in registers. */
__attribute__((target("avx2,fma"), always_inline)) static inline void transform_tiles(
    float *V, const float *Z, int c, const Geo *g, const int tn) {
    const int S = g->S;
    const Transform *tf = g->tf;
    const size_t xi_stride = (size_t)S * g->Cin * g->ldv;
    for (int p = 0; p < S; p++) {
        const float *zl[TNMAX];
        for (int l = 0; l < tn; l++) zl[l] = Z + (size_t)(S * (l & 3) + p) * g->zlen + (l >> 2);
        float *v = V + ((size_t)p * g->Cin + c) * g->ldv;
        for (int t = 0; t < g->ldv; t += 8) {
            __m256 d[TNMAX];
#pragma GCC unroll 8
            for (int l = 0; l < tn; l++) d[l] = _mm256_loadu_ps(zl[l] + t);
#pragma GCC unroll 8
            for (int xi = 0; xi < tn; xi++) {
                __m256 s = _mm256_mul_ps(_mm256_broadcast_ss(&tf->BT[xi][0]), d[0]);
#pragma GCC unroll 8
                for (int l = 1; l < tn; l++)
                    s = _mm256_fmadd_ps(_mm256_broadcast_ss(&tf->BT[xi][l]), d[l], s);
                _mm256_storeu_ps(v + xi * xi_stride + t, s);
            }
        }
    }
}

/* Input transform of one channel row x (length L) into V[xi, p, c, 0 .. ldv). */
__attribute__((target("avx2,fma"))) static void input_transform(float *V, float *Z,
                                                                const float *x, int c,
                                                                const Geo *g) {
    const int S = g->S, S4 = 4 * S;
    for (int q = 0; q < S4; q++) {
        /* z[u] = x[S4 u + q - pad]: zeros, then the samples inside [0, L), then zeros */
        float *z = Z + (size_t)q * g->zlen;
        const int off = q - g->pad;
        int lo = off < 0 ? (-off + S4 - 1) / S4 : 0;
        int hi = g->L - off > 0 ? (g->L - off + S4 - 1) / S4 : 0;
        if (lo > g->zlen) lo = g->zlen;
        if (hi > g->zlen) hi = g->zlen;
        if (hi < lo) hi = lo;
        for (int u = 0; u < lo; u++) z[u] = 0.0f;
        for (int u = lo; u < hi; u++) z[u] = x[(long)S4 * u + off]; /* index >= 0 here */
        for (int u = hi; u < g->zlen; u++) z[u] = 0.0f;
    }
    if (g->tf->tn == 7) transform_tiles(V, Z, c, g, 7);
    else transform_tiles(V, Z, c, g, 8);
}

/* Where there is one 16-tile block (Lout <= 64) each U row is used once, streamed from
 * memory: a software prefetch 2 KiB ahead keeps it in flight (units.2.conv1: 1.10 -> 0.86-0.93
 * ms measured cold); elsewhere it is a cheap no-op on lines already in L1. */
enum { U_PREFETCH_BYTES = 2048 };

/* M rows o0 .. o0+RR-1, tiles t0 .. t0+15 for one point: sum over the blocks and channels
 * of U (KD x RR, interleaved) times V rows shifted by each block's tile offset voff[blk];
 * each row as NV vectors of type V (simd.h). */
#define DEF_PRODUCT(NAME, TARGET, V, VU, NV, RR, FMA)                                          \
    TARGET static void NAME(float *m, size_t ldm, const float *u, const float *v,              \
                            const size_t *voff, int nblk, int Cin, size_t ldv) {               \
        enum { W = COLS / (NV) };                                                              \
        /* every loop over r fully unrolled, so that the accumulators live in registers */     \
        V acc[RR][NV];                                                                         \
        _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++)                                   \
            _Pragma("GCC unroll 2") for (int j = 0; j < NV; j++) acc[r][j] = (V){0};           \
        for (int blk = 0; blk < nblk; blk++) {                                                 \
            const float *vb = v + voff[blk], *ub = u + (size_t)blk * Cin * RR;                 \
            for (int c = 0; c < Cin; c++) {                                                    \
                V b[NV];                                                                       \
                _Pragma("GCC unroll 2") for (int j = 0; j < NV; j++) b[j] =                    \
                    *(const VU *)(vb + (size_t)c * ldv + j * W);                               \
                const float *uc = ub + (size_t)c * RR;                                         \
                __builtin_prefetch((const char *)uc + U_PREFETCH_BYTES, 0, 3);                 \
                _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++)                           \
                    _Pragma("GCC unroll 2") for (int j = 0; j < NV; j++)                       \
                        FMA(acc[r][j], uc[r], b[j]);                                           \
            }                                                                                  \
        }                                                                                      \
        _Pragma("GCC unroll 8") for (int r = 0; r < RR; r++)                                   \
            _Pragma("GCC unroll 2") for (int j = 0; j < NV; j++)                               \
                *(VU *)(m + (size_t)r * ldm + j * W) = acc[r][j];                              \
    }

typedef void (*ProductFn)(float *m, size_t ldm, const float *u, const float *v,
                          const size_t *voff, int nblk, int Cin, size_t ldv);

/* AVX2: 6 rows of two 8-float vectors (12 of 16 registers); AVX-512: 8 rows of one 16-float
 * vector, each multiply-add taking its weight as an embedded broadcast. */
DEF_PRODUCT(product6_avx2, KRES_TARGET_AVX2, vf8, vf8u, 2, 6, FMA8)
DEF_PRODUCT(product8_avx512, KRES_TARGET_AVX512, vf16, vf16u, 1, 8, FMA16)
DEF_PRODUCT(product8_shapes, KRES_TARGET_AVX2, vf16, vf16u, 1, 8, FMA16_HALVES)

static const struct {
    int rows;
    ProductFn fn;
} g_product[] = {
    [OWN_ISA_AVX2] = {6, product6_avx2},
    [OWN_ISA_AVX512] = {8, product8_avx512},
    [OWN_ISA_AVX512_SHAPES] = {8, product8_shapes},
};

/* y[o, 4T + i] = sum_xi AT[i, xi] M[xi, o, T] (+ bias[o]) for the valid outputs. */
__attribute__((target("avx2,fma"))) static void output_transform(float *y, const float *M,
                                                                 const float *bias, int o,
                                                                 const Geo *g) {
    const size_t xi_stride = (size_t)g->nrb * g->rows * g->tiles16;
    const float *mo = M + (size_t)o * g->tiles16;
    float *yo = y + (size_t)o * g->Lout;
    const float bv = bias ? bias[o] : 0.0f;
    for (int t0 = 0; t0 < g->tiles; t0 += 8) {
        __m256 acc[TM];
        for (int i = 0; i < TM; i++) acc[i] = _mm256_set1_ps(bv);
        for (int xi = 0; xi < g->tf->tn; xi++) {
            const __m256 mv = _mm256_loadu_ps(mo + xi * xi_stride + t0);
            for (int i = 0; i < TM; i++)
                if (g->tf->AT[i][xi] != 0.0f)
                    acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(g->tf->AT[i][xi]), mv, acc[i]);
        }
        float out[TM][8];
        for (int i = 0; i < TM; i++) _mm256_storeu_ps(out[i], acc[i]);
        for (int t = t0; t < t0 + 8 && t < g->tiles; t++)
            for (int i = 0; i < TM && TM * t + i < g->Lout; i++) yo[TM * t + i] = out[i][t - t0];
    }
}

static void forward_one(float *y, const float *x, const float *U, const float *bias,
                        const Geo *g, float *ws, int nt, ProductFn product) {
    const int tn = g->tf->tn;
    const size_t ldm = (size_t)g->tiles16, zsize = g->zsize;
    float *V = ws, *M = V + g->vsize, *Z0 = M + g->msize;
    const size_t rows = (size_t)g->rows, u_xi = rows * g->nrb * g->KD, v_xi = (size_t)g->S * g->Cin * g->ldv;
#pragma omp parallel num_threads(nt)
    {
        float *Z = Z0 + (size_t)omp_get_thread_num() * zsize;
#pragma omp for schedule(static)
        for (int c = 0; c < g->Cin; c++) input_transform(V, Z, x + (size_t)c * g->L, c, g);
        /* one (point, row block) pair per iteration; each M element has one writer */
#pragma omp for schedule(static) collapse(2)
        for (int xi = 0; xi < tn; xi++)
            for (int rb = 0; rb < g->nrb; rb++) {
                const float *u = U + xi * u_xi + (size_t)rb * g->KD * rows;
                float *m = M + ((size_t)xi * g->nrb + rb) * rows * ldm;
                for (int t0 = 0; t0 < g->tiles16; t0 += COLS)
                    product(m + t0, ldm, u, V + xi * v_xi + t0, g->voff, g->nblk, g->Cin,
                                   (size_t)g->ldv);
            }
#pragma omp for schedule(static)
        for (int o = 0; o < g->Cout; o++) output_transform(y, M, bias, o, g);
    }
}

#endif /* KRES_WINO_X86 */

void conv1d_winograd_forward(float *out, const float *inp, const float *weight,
                             const float *bias, int B, int Cin, int Cout, int L, int K,
                             int stride, int pad) {
    KRES_ASSERT(conv1d_winograd_available());
    KRES_ASSERT(B >= 0 && Cin >= 1 && Cout >= 1 && K >= 1 && stride >= 1 && pad >= 0);
    KRES_ASSERT(L + 2 * pad >= K);
    if (B == 0) return;
#ifdef KRES_WINO_X86
    pthread_once(&g_once, init_transforms);
    const OwnIsa isa = own_kernels_isa();
    Geo g;
    geometry(&g, Cin, Cout, L, K, stride, pad, g_product[isa].rows);
    const float *U = cached_weights(weight, &g);
    const int nt = omp_get_max_threads();
    float *ws = workspace(g.vsize + g.msize + (size_t)nt * g.zsize);
    for (int b = 0; b < B; b++)
        forward_one(out + (size_t)b * Cout * g.Lout, inp + (size_t)b * Cin * L, U, bias, &g,
                    ws, nt, g_product[isa].fn);
#else
    (void)out, (void)inp, (void)weight, (void)bias, (void)Cout, (void)L, (void)K;
#endif
}
