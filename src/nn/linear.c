/* linear.c — see linear.h. */
#include "nn/linear.h"

#include <cblas.h>
#include <pthread.h>
#include <stddef.h>

#include "nn/conv1d.h"

/* Same policy as conv1d.c: OpenBLAS runs single-threaded (idempotent setting). */
static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

void linear_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
                        int B, int In, int Out) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < Out; o++) {
            double acc = bias ? bias[o] : 0.0;
            for (int i = 0; i < In; i++) acc += (double)inp[(size_t)b * In + i] * weight[(size_t)o * In + i];
            out[(size_t)b * Out + o] = (float)acc;
        }
}

void linear_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *inp, const float *weight, int B, int In, int Out) {
    if (dinp)
        for (int b = 0; b < B; b++)
            for (int i = 0; i < In; i++) {
                double acc = 0;
                for (int o = 0; o < Out; o++) acc += (double)dout[(size_t)b * Out + o] * weight[(size_t)o * In + i];
                dinp[(size_t)b * In + i] += (float)acc;
            }
    for (int o = 0; o < Out; o++) {
        for (int i = 0; i < In; i++) {
            double acc = 0;
            for (int b = 0; b < B; b++) acc += (double)dout[(size_t)b * Out + o] * inp[(size_t)b * In + i];
            dweight[(size_t)o * In + i] += (float)acc;
        }
        if (dbias) {
            double acc = 0;
            for (int b = 0; b < B; b++) acc += dout[(size_t)b * Out + o];
            dbias[o] += (float)acc;
        }
    }
}

static void linear_forward_blas(float *out, const float *inp, const float *weight, const float *bias,
                                int B, int In, int Out) {
    pthread_once(&g_blas_once, blas_single_thread);
    float beta = 0.0f;
    if (bias) {
        for (int b = 0; b < B; b++)
            for (int o = 0; o < Out; o++) out[(size_t)b * Out + o] = bias[o];
        beta = 1.0f;
    }
    /* out (B, Out) = inp (B, In) @ W^T (In, Out). One example: a matrix-vector product, which
     * reads W once in place; sgemm would first pack all of W (0.10 -> 0.02 ms for the 320 x 320
     * projection layer at batch 1) */
    if (B == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Out, In, 1.0f, weight, In, inp, 1, beta, out, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, Out, In, 1.0f, inp, In, weight,
                    In, beta, out, Out);
}

static void linear_backward_blas(float *dinp, float *dweight, float *dbias, const float *dout,
                                 const float *inp, const float *weight, int B, int In, int Out) {
    pthread_once(&g_blas_once, blas_single_thread);
    /* dinp (B, In) += dout (B, Out) @ W (Out, In) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, In, Out, 1.0f, dout, Out, weight,
                    In, 1.0f, dinp, In);
    /* dW (Out, In) += dout^T (Out, B) @ inp (B, In) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Out, In, B, 1.0f, dout, Out, inp, In,
                1.0f, dweight, In);
    if (dbias)
        for (int o = 0; o < Out; o++) {
            double acc = 0;
            for (int b = 0; b < B; b++) acc += dout[(size_t)b * Out + o];
            dbias[o] += (float)acc;
        }
}

void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int B, int In, int Out) {
    if (nn_get_backend() == NN_BACKEND_REF) linear_forward_ref(out, inp, weight, bias, B, In, Out);
    else linear_forward_blas(out, inp, weight, bias, B, In, Out);
}

void linear_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int B, int In, int Out) {
    if (nn_get_backend() == NN_BACKEND_REF)
        linear_backward_ref(dinp, dweight, dbias, dout, inp, weight, B, In, Out);
    else
        linear_backward_blas(dinp, dweight, dbias, dout, inp, weight, B, In, Out);
}
