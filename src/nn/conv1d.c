/* conv1d.c — see conv1d.h. Reference (direct loops, double) and fast (im2col + sgemm). */
#include "nn/conv1d.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/conv1d_dnnl.h"

static NnBackend g_backend = NN_BACKEND_FAST;

void nn_set_backend(NnBackend b) {
    KRES_ASSERT(b == NN_BACKEND_REF || b == NN_BACKEND_FAST || b == NN_BACKEND_DNNL);
    g_backend = b;
}

NnBackend nn_get_backend(void) { return g_backend; }

const char *nn_backend_name(NnBackend b) {
    switch (b) {
    case NN_BACKEND_REF: return "ref";
    case NN_BACKEND_FAST: return "fast";
    case NN_BACKEND_DNNL: return "dnnl";
    }
    return "?";
}

int conv1d_out_len(int L, int K, int stride, int pad) {
    KRES_ASSERT(L >= 1 && K >= 1 && stride >= 1 && pad >= 0);
    KRES_ASSERT(L + 2 * pad >= K);
    return (L + 2 * pad - K) / stride + 1;
}

/* ---------------------------------------------------------------- reference --------- */

void conv1d_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    int Lo = conv1d_out_len(L, K, stride, pad);
    for (int b = 0; b < B; b++)
        for (int o = 0; o < Cout; o++)
            for (int t = 0; t < Lo; t++) {
                double acc = bias ? bias[o] : 0.0;
                for (int c = 0; c < Cin; c++) {
                    const float *x = inp + ((size_t)b * Cin + c) * L;
                    const float *w = weight + ((size_t)o * Cin + c) * K;
                    for (int k = 0; k < K; k++) {
                        int i = t * stride + k - pad;
                        if (i >= 0 && i < L) acc += (double)w[k] * x[i];
                    }
                }
                out[((size_t)b * Cout + o) * Lo + t] = (float)acc;
            }
}

void conv1d_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    int Lo = conv1d_out_len(L, K, stride, pad);
    if (dbias)
        for (int o = 0; o < Cout; o++) {
            double acc = 0;
            for (int b = 0; b < B; b++)
                for (int t = 0; t < Lo; t++) acc += dout[((size_t)b * Cout + o) * Lo + t];
            dbias[o] += (float)acc;
        }
    /* dweight[o,c,k] = sum_{b,t} dout[b,o,t] * inp[b,c,t*S+k-P] */
    for (int o = 0; o < Cout; o++)
        for (int c = 0; c < Cin; c++)
            for (int k = 0; k < K; k++) {
                double acc = 0;
                for (int b = 0; b < B; b++) {
                    const float *g = dout + ((size_t)b * Cout + o) * Lo;
                    const float *x = inp + ((size_t)b * Cin + c) * L;
                    for (int t = 0; t < Lo; t++) {
                        int i = t * stride + k - pad;
                        if (i >= 0 && i < L) acc += (double)g[t] * x[i];
                    }
                }
                dweight[((size_t)o * Cin + c) * K + k] += (float)acc;
            }
    if (!dinp) return;
    /* dinp[b,c,i] = sum over (o,k,t) with t*S+k-P == i of dout[b,o,t] * w[o,c,k]; scatter
     * into a double row so each element is rounded once. */
    double *acc = xmalloc((size_t)L * sizeof(double));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < Cin; c++) {
            for (int i = 0; i < L; i++) acc[i] = 0;
            for (int o = 0; o < Cout; o++) {
                const float *g = dout + ((size_t)b * Cout + o) * Lo;
                const float *w = weight + ((size_t)o * Cin + c) * K;
                for (int k = 0; k < K; k++)
                    for (int t = 0; t < Lo; t++) {
                        int i = t * stride + k - pad;
                        if (i >= 0 && i < L) acc[i] += (double)g[t] * w[k];
                    }
            }
            float *dx = dinp + ((size_t)b * Cin + c) * L;
            for (int i = 0; i < L; i++) dx[i] += (float)acc[i];
        }
    free(acc);
}

/* ---------------------------------------------------------------- fast path --------- */

/* The fast path calls sgemm from inside its own OpenMP loop, so OpenBLAS must not spawn
 * threads of its own (oversubscription, and its pthread build is not meant for concurrent
 * multi-threaded calls). Done once, process-wide. */
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* A 1x1 stride-1 unpadded conv is a plain matrix product on the input: no im2col. */
static int is_pointwise(int K, int stride, int pad) { return K == 1 && stride == 1 && pad == 0; }

/* Threads used for a batch of B (never more threads than examples). */
static int team_size(int B) {
    int nt = omp_get_max_threads();
    if (nt > B) nt = B;
    return nt < 1 ? 1 : nt;
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Per-thread scratch: one (Cin*K, Lo) column matrix (shared by im2col and the column
 * gradient), plus dweight/dbias partials for the deterministic batch reduction. */
static size_t per_thread_floats(int Cin, int Cout, int K, int Lo, int stride, int pad) {
    size_t CK = (size_t)Cin * K;
    size_t col = is_pointwise(K, stride, pad) ? 0 : round16(CK * Lo);
    return col + round16((size_t)Cout * CK) + round16((size_t)Cout);
}

size_t conv1d_fast_workspace_size(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    int Lo = conv1d_out_len(L, K, stride, pad);
    return (size_t)team_size(B) * per_thread_floats(Cin, Cout, K, Lo, stride, pad);
}

size_t conv1d_workspace_size(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    if (g_backend == NN_BACKEND_REF) return 0;
    return conv1d_fast_workspace_size(B, Cin, Cout, L, K, stride, pad);
}

/* Valid output range [*t0, *t1) for tap k: 0 <= t*S + k - P < L. */
static void tap_range(int k, int L, int Lo, int stride, int pad, int *t0, int *t1) {
    int lo = pad - k; /* need t*S >= P - k */
    int a = lo <= 0 ? 0 : (lo + stride - 1) / stride;
    int hi = L - 1 + pad - k; /* need t*S <= L-1+P-k */
    int b = hi < 0 ? 0 : hi / stride + 1;
    if (b > Lo) b = Lo;
    if (a > b) a = b;
    *t0 = a;
    *t1 = b;
}

/* col (Cin*K, Lo): col[(c*K+k), t] = x[c, t*S+k-P] or 0 outside [0, L). */
static void im2col(float *col, const float *x, int Cin, int L, int K, int Lo, int stride, int pad) {
    for (int k = 0; k < K; k++) {
        int t0, t1;
        tap_range(k, L, Lo, stride, pad, &t0, &t1);
        for (int c = 0; c < Cin; c++) {
            float *row = col + ((size_t)c * K + k) * Lo;
            const float *src = x + (size_t)c * L + k - pad;
            for (int t = 0; t < t0; t++) row[t] = 0.0f;
            if (stride == 1) memcpy(row + t0, src + t0, (size_t)(t1 - t0) * sizeof(float));
            else
                for (int t = t0; t < t1; t++) row[t] = src[(size_t)t * stride];
            for (int t = t1; t < Lo; t++) row[t] = 0.0f;
        }
    }
}

/* dx[c, t*S+k-P] += col[(c*K+k), t] for valid positions; fixed (c, k, t) order. */
static void col2im_add(float *dx, const float *col, int Cin, int L, int K, int Lo, int stride, int pad) {
    for (int c = 0; c < Cin; c++)
        for (int k = 0; k < K; k++) {
            int t0, t1;
            tap_range(k, L, Lo, stride, pad, &t0, &t1);
            const float *row = col + ((size_t)c * K + k) * Lo;
            float *dst = dx + (size_t)c * L + k - pad;
            for (int t = t0; t < t1; t++) dst[(size_t)t * stride] += row[t];
        }
}

void conv1d_forward_fast(float *out, const float *inp, const float *weight, const float *bias,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad,
                         float *work, size_t work_n) {
    int Lo = conv1d_out_len(L, K, stride, pad);
    int nt = team_size(B);
    size_t per = per_thread_floats(Cin, Cout, K, Lo, stride, pad);
    if (B <= 0) return;
    KRES_ASSERT(work_n >= (size_t)nt * per && work);
    pthread_once(&g_blas_once, blas_single_thread);
    int CK = Cin * K;
    int pw = is_pointwise(K, stride, pad);
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int b = 0; b < B; b++) {
        float *col = work + (size_t)omp_get_thread_num() * per;
        const float *x = inp + (size_t)b * Cin * L;
        float *y = out + (size_t)b * Cout * Lo;
        const float *cx = x;
        if (!pw) {
            im2col(col, x, Cin, L, K, Lo, stride, pad);
            cx = col;
        }
        /* y (Cout, Lo) = W (Cout, CK) @ col (CK, Lo) [+ bias broadcast over t] */
        float beta = 0.0f;
        if (bias) {
            for (int o = 0; o < Cout; o++)
                for (int t = 0; t < Lo; t++) y[(size_t)o * Lo + t] = bias[o];
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, Lo, CK, 1.0f, weight, CK,
                    cx, Lo, beta, y, Lo);
    }
}

void conv1d_backward_fast(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *weight,
                          int B, int Cin, int Cout, int L, int K, int stride, int pad,
                          float *work, size_t work_n) {
    int Lo = conv1d_out_len(L, K, stride, pad);
    int nt = team_size(B);
    size_t per = per_thread_floats(Cin, Cout, K, Lo, stride, pad);
    if (B <= 0) return;
    KRES_ASSERT(work_n >= (size_t)nt * per && work);
    pthread_once(&g_blas_once, blas_single_thread);
    int CK = Cin * K;
    int pw = is_pointwise(K, stride, pad);
    size_t colsz = pw ? 0 : round16((size_t)CK * Lo);
    size_t dwsz = round16((size_t)Cout * CK);
    int team = 1;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num();
#pragma omp single
        team = omp_get_num_threads();
        float *col = work + (size_t)tid * per;
        float *dw = col + colsz;
        float *db = dw + dwsz;
        memset(dw, 0, (size_t)Cout * CK * sizeof(float));
        memset(db, 0, (size_t)Cout * sizeof(float));
        /* Each thread owns a contiguous static block of examples; its partials are later
         * summed in thread order, so the bits depend only on the team size. */
#pragma omp for schedule(static)
        for (int b = 0; b < B; b++) {
            const float *x = inp + (size_t)b * Cin * L;
            const float *g = dout + (size_t)b * Cout * Lo;
            const float *cx = x;
            if (!pw) {
                im2col(col, x, Cin, L, K, Lo, stride, pad);
                cx = col;
            }
            /* dW (Cout, CK) += g (Cout, Lo) @ col^T (Lo, CK) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Cout, CK, Lo, 1.0f, g, Lo, cx, Lo,
                        1.0f, dw, CK);
            if (dbias)
                for (int o = 0; o < Cout; o++) {
                    float s = 0.0f;
                    for (int t = 0; t < Lo; t++) s += g[(size_t)o * Lo + t];
                    db[o] += s;
                }
            if (dinp) {
                float *dx = dinp + (size_t)b * Cin * L;
                if (pw) { /* dx (Cin, L) += W^T (Cin, Cout) @ g (Cout, L) */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CK, Lo, Cout, 1.0f, weight,
                                CK, g, Lo, 1.0f, dx, Lo);
                } else { /* dcol (CK, Lo) = W^T @ g, then scatter back (col2im) */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CK, Lo, Cout, 1.0f, weight,
                                CK, g, Lo, 0.0f, col, Lo);
                    col2im_add(dx, col, Cin, L, K, Lo, stride, pad);
                }
            }
        }
        /* implicit barrier: all partials complete; reduce element-wise in thread order */
        size_t nw = (size_t)Cout * CK;
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            float s = 0.0f;
            for (int j = 0; j < team; j++) s += work[(size_t)j * per + colsz + i];
            dweight[i] += s;
        }
#pragma omp single
        if (dbias)
            for (int o = 0; o < Cout; o++) {
                float s = 0.0f;
                for (int j = 0; j < team; j++) s += work[(size_t)j * per + colsz + dwsz + o];
                dbias[o] += s;
            }
    }
}

/* ---------------------------------------------------------------- dispatch ---------- */

void conv1d_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int B, int Cin, int Cout, int L, int K, int stride, int pad,
                    float *work, size_t work_n) {
    if (g_backend == NN_BACKEND_REF)
        conv1d_forward_ref(out, inp, weight, bias, B, Cin, Cout, L, K, stride, pad);
    else if (g_backend == NN_BACKEND_DNNL) /* oneDNN keeps its own cached scratch */
        conv1d_forward_dnnl(out, inp, weight, bias, B, Cin, Cout, L, K, stride, pad);
    else
        conv1d_forward_fast(out, inp, weight, bias, B, Cin, Cout, L, K, stride, pad, work, work_n);
}

void conv1d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight,
                     int B, int Cin, int Cout, int L, int K, int stride, int pad,
                     float *work, size_t work_n) {
    if (g_backend == NN_BACKEND_REF)
        conv1d_backward_ref(dinp, dweight, dbias, dout, inp, weight, B, Cin, Cout, L, K, stride, pad);
    else if (g_backend == NN_BACKEND_DNNL)
        conv1d_backward_dnnl(dinp, dweight, dbias, dout, inp, weight, B, Cin, Cout, L, K, stride,
                             pad);
    else
        conv1d_backward_fast(dinp, dweight, dbias, dout, inp, weight, B, Cin, Cout, L, K, stride,
                             pad, work, work_n);
}
