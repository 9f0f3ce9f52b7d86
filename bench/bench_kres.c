/* bench_kres.c — speed of the KRes network on CPU, one measurement per process.
 *
 * Modes (each prints one JSON line on stdout, so bench/run.sh can put kres and its PyTorch
 * twin side by side; peak RSS is per process, which is why each mode runs alone):
 *   train    forward + backward + AdamW step at --batch (training mode, dropout on)
 *   infer    inference-mode forward at --batch
 *   latency  inference-mode forward at batch 1 (run it with OMP_NUM_THREADS=1)
 *   gemm     OpenBLAS sgemm GFLOP/s at --threads (the machine's fp32 matrix rate)
 *   layers   seconds per layer type for one training step (a rough profile, on stderr too)
 * Timing: --warmup untimed steps, then --reps timed steps; the median is reported (min and
 * max too). The thread count is whatever OpenMP was given (OMP_NUM_THREADS).
 *
 *   bench_kres --mode train --backend dnnl --precision auto --batch 64 --reps 7
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "nn/conv1d.h"
#include "nn/conv1d_dnnl.h"
#include "nn/cpu_features.h"
#include "nn/kres.h"
#include "nn/loss.h"
#include "nn/optim.h"

typedef struct {
    const char *mode, *backend, *precision;
    int batch, warmup, reps, len, gemm_n;
} Opts;

static void usage(void) {
    fprintf(stderr,
            "usage: bench_kres [--mode train|infer|latency|gemm] [--backend ref|fast|dnnl]\n"
            "                  [--precision fp32|bf16|auto] [--batch B] [--warmup N] [--reps N]\n"
            "                  [--len L] [--gemm-n N]\n");
    exit(2);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of n timings (sorts t). */
static void stats(double *t, int n, double *med, double *lo, double *hi) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    *med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    *lo = t[0];
    *hi = t[n - 1];
}

/* The fp32 matrix rate this process can reach: square sgemm, OpenBLAS threaded as OpenMP. */
static int run_gemm(const Opts *o) {
    int n = o->gemm_n, nt = omp_get_max_threads();
    openblas_set_num_threads(nt);
    float *a = xmalloc_aligned((size_t)n * n * sizeof(float));
    float *b = xmalloc_aligned((size_t)n * n * sizeof(float));
    float *c = xmalloc_aligned((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)((i * 7) % 13) * 0.01f;
        b[i] = (float)((i * 5) % 11) * 0.01f;
    }
    double *t = xmalloc(sizeof(double) * (size_t)o->reps);
    for (int r = -o->warmup; r < o->reps; r++) {
        double t0 = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        if (r >= 0) t[r] = now_seconds() - t0;
    }
    double med, lo, hi;
    stats(t, o->reps, &med, &lo, &hi);
    char *core = getenv("OPENBLAS_CORETYPE");
    printf("{\"impl\": \"openblas\", \"mode\": \"gemm\", \"n\": %d, \"threads\": %d, "
           "\"openblas_config\": \"%s\", \"openblas_coretype\": \"%s\", \"seconds\": %.6f, "
           "\"gflops\": %.2f}\n",
           n, nt, openblas_get_config(), core ? core : "", med, 2.0 * n * n * n / med * 1e-9);
    free(a);
    free(b);
    free(c);
    free(t);
    return 0;
}

/* A profiling build of kres.c (see docs/performance.md) may define this to print its
 * per-layer-type timers; the normal build leaves it NULL. */
void kres_prof_print(void) __attribute__((weak));

int main(int argc, char **argv) {
    Opts o = {"train", "dnnl", "auto", 64, 2, 7, 1024, 1024};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--mode")) o.mode = v;
        else if (!strcmp(a, "--backend")) o.backend = v;
        else if (!strcmp(a, "--precision")) o.precision = v;
        else if (!strcmp(a, "--batch")) o.batch = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--reps")) o.reps = atoi(v);
        else if (!strcmp(a, "--len")) o.len = atoi(v);
        else if (!strcmp(a, "--gemm-n")) o.gemm_n = atoi(v);
        else usage();
    }
    if (o.batch < 1 || o.reps < 1 || o.warmup < 0 || o.len < 256 || o.gemm_n < 16) usage();
    if (!strcmp(o.mode, "gemm")) return run_gemm(&o);

    NnBackend be;
    if (!strcmp(o.backend, "ref")) be = NN_BACKEND_REF;
    else if (!strcmp(o.backend, "fast")) be = NN_BACKEND_FAST;
    else if (!strcmp(o.backend, "dnnl")) be = NN_BACKEND_DNNL;
    else usage();
    nn_set_backend(be);
    /* bf16 needs hardware support; "auto" picks it only where the CPU has it. Either way the
     * choice is printed, so a run on a CPU without bf16 says it fell back to fp32. */
    if (strcmp(o.precision, "fp32") && strcmp(o.precision, "bf16") && strcmp(o.precision, "auto"))
        usage();
    int want_bf16 = !strcmp(o.precision, "bf16") ||
                    (!strcmp(o.precision, "auto") && nn_precision_auto() == NN_PREC_BF16);
    if (want_bf16 && be != NN_BACKEND_DNNL) {
        fprintf(stderr, "bench_kres: bf16 needs --backend dnnl; using fp32\n");
        want_bf16 = 0;
    }
    if (want_bf16 && conv1d_dnnl_set_precision(NN_PREC_BF16) != 0) {
        fprintf(stderr, "bench_kres: %s\n", kres_last_error());
        want_bf16 = 0;
    }
    fprintf(stderr, "bench_kres: precision %s -> %s (%s)\n", o.precision,
            want_bf16 ? "bf16" : "fp32", cpu_features_summary());

    int training = !strcmp(o.mode, "train");
    int B = !strcmp(o.mode, "latency") ? 1 : o.batch;
    if (!training && strcmp(o.mode, "infer") && strcmp(o.mode, "latency")) usage();
    KresConfig cfg;
    kres_config_default(&cfg);
    cfg.in_len = o.len;
    Kres *m = kres_create(&cfg, B, 1234);
    if (!m) {
        fprintf(stderr, "bench_kres: %s\n", kres_last_error());
        return 1;
    }
    size_t np = kres_num_params(m);
    float *adam_m = xcalloc(np, sizeof(float)), *adam_v = xcalloc(np, sizeof(float));
    size_t nx = (size_t)B * cfg.in_leads * cfg.in_len;
    float *x = xmalloc_aligned(nx * sizeof(float));
    float *y = xmalloc((size_t)B * sizeof(float)), *dl = xmalloc((size_t)B * sizeof(float));
    Rng rng;
    rng_seed(&rng, 7);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_normal(&rng);
    for (int b = 0; b < B; b++) y[b] = (float)(b % 2);

    double *t = xmalloc(sizeof(double) * (size_t)o.reps);
    float loss = 0;
    for (int r = -o.warmup; r < o.reps; r++) {
        double t0 = now_seconds();
        if (training) {
            kres_zero_grad(m);
            kres_forward(m, x, B, 1, &rng);
            loss = bce_with_logits_loss(dl, kres_logits(m), y, NULL, NULL, B, 1);
            kres_backward(m, dl, NULL, NULL);
            adamw_update(kres_params(m), kres_grads(m), adam_m, adam_v, np, r + o.warmup + 1,
                         1e-3f, 0.9f, 0.999f, 1e-8f, 1e-2f, NULL, 0);
        } else {
            kres_forward(m, x, B, 0, NULL);
            loss = kres_logits(m)[0];
        }
        if (r >= 0) t[r] = now_seconds() - t0;
    }
    double med, lo, hi;
    stats(t, o.reps, &med, &lo, &hi);
    double macs = kres_macs_per_example(&cfg);
    /* training costs about 3 forwards (forward, input gradient, weight gradient) */
    double flops = 2.0 * macs * B * (training ? 3.0 : 1.0);
    printf("{\"impl\": \"kres\", \"mode\": \"%s\", \"backend\": \"%s\", \"precision\": \"%s\", "
           "\"batch\": %d, \"threads\": %d, \"reps\": %d, \"seconds\": %.6f, \"min\": %.6f, "
           "\"max\": %.6f, \"samples_per_s\": %.2f, \"gflops\": %.2f, \"peak_rss_mib\": %.1f, "
           "\"check\": %.6g}\n",
           o.mode, nn_backend_name(be), want_bf16 ? "bf16" : "fp32", B, omp_get_max_threads(),
           o.reps, med, lo, hi, B / med, flops / med * 1e-9, peak_rss_kib() / 1024.0, (double)loss);
    if (kres_prof_print) kres_prof_print();
    kres_free(m);
    free(adam_m);
    free(adam_v);
    free(x);
    free(y);
    free(dl);
    free(t);
    return 0;
}
