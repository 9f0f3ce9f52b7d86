/* layer_profile.c — where the time of one KRes inference forward goes, layer by layer.
 *
 *   make build/layer_profile
 *   OMP_NUM_THREADS=1 taskset -c 0 build/layer_profile [--batch B] [--reps N] [--backend dnnl|fast|ref]
 *                                                      [--precision fp32|bf16]
 *
 * It compiles src/nn/kres.c itself with every layer call in kres_forward wrapped in a timer
 * (the macros below shadow the layer functions; the library's own kres.c is not linked), so
 * the numbers are those of the real forward pass, caches and all. Prints one line per layer
 * call in forward order (mean milliseconds over the timed repetitions), the mean total and
 * the median and minimum of the per-forward totals. A
 * development tool for docs/performance.md, not part of the tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <omp.h>

/* kres.c's own includes first, so the macros below only touch the calls in its body */
#include "common/json.h"
#include "common/util.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/conv1d.h"
#include "nn/conv1d_dnnl.h"
#include "nn/elementwise.h"
#include "nn/fused.h"
#include "nn/kres.h"
#include "nn/linear.h"
#include "nn/pool.h"

enum { MAX_CALLS = 256 };
static double prof_ms[MAX_CALLS];
static const char *prof_name[MAX_CALLS];
static int prof_seq, prof_n;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

#define PROF(name, call)                                                                      \
    do {                                                                                      \
        const double t0_ = now_ms();                                                          \
        call;                                                                                 \
        if (prof_seq < MAX_CALLS) {                                                           \
            prof_ms[prof_seq] += now_ms() - t0_;                                              \
            prof_name[prof_seq] = name;                                                       \
        }                                                                                     \
        prof_seq++;                                                                           \
    } while (0)

#define conv1d_forward(...) PROF("conv", (conv1d_forward)(__VA_ARGS__))
#define bn_relu_forward_eval(...) PROF("bn+relu", (bn_relu_forward_eval)(__VA_ARGS__))
#define maxpool1d_forward(...) PROF("maxpool", (maxpool1d_forward)(__VA_ARGS__))
#define avgpool_forward(...) PROF("avgpool", (avgpool_forward)(__VA_ARGS__))
#define linear_forward(...) PROF("linear", (linear_forward)(__VA_ARGS__))
#include "nn/kres.c"
#undef conv1d_forward
#undef conv1d_dnnl_set_frozen_weights

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int B = 1, reps = 50;
    const char *backend = "dnnl", *precision = "fp32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backend")) backend = argv[i + 1];
        else if (!strcmp(argv[i], "--precision")) precision = argv[i + 1];
        else {
            fprintf(stderr, "usage: layer_profile [--batch B] [--reps N] [--backend dnnl|fast|ref] "
                            "[--precision fp32|bf16]\n");
            return 2;
        }
    }
    if (B < 1 || reps < 1) {
        fprintf(stderr, "layer_profile: --batch and --reps must be >= 1\n");
        return 2;
    }
    nn_set_backend(!strcmp(backend, "ref") ? NN_BACKEND_REF
                   : !strcmp(backend, "fast") ? NN_BACKEND_FAST : NN_BACKEND_DNNL);
    if (!strcmp(precision, "bf16") && conv1d_dnnl_set_precision(NN_PREC_BF16) != 0) {
        fprintf(stderr, "layer_profile: %s\n", kres_last_error());
        return 1;
    }
    KresConfig cfg;
    kres_config_default(&cfg);
    Kres *m = kres_create(&cfg, B, 1);
    if (!m) {
        fprintf(stderr, "layer_profile: %s\n", kres_last_error());
        return 1;
    }
    const size_t n = (size_t)B * cfg.in_leads * cfg.in_len;
    float *x = xmalloc(n * sizeof(float));
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
    kres_freeze(m, 1); /* as bench_kres's inference modes and kres predict */
    for (int w = 0; w < 3; w++) kres_forward(m, x, B, 0, NULL); /* warm-up: caches, spectra */
    memset(prof_ms, 0, sizeof prof_ms);
    double *each = xmalloc((size_t)reps * sizeof(double)), total = 0;
    for (int i = 0; i < reps; i++) {
        prof_seq = 0; /* the slots count layer calls from the start of each forward */
        const double t0 = now_ms();
        kres_forward(m, x, B, 0, NULL);
        each[i] = now_ms() - t0;
        total += each[i] / reps;
    }
    qsort(each, (size_t)reps, sizeof(double), cmp_double);
    prof_n = prof_seq < MAX_CALLS ? prof_seq : MAX_CALLS;
    double timed = 0;
    printf("# KRes inference forward, batch %d, backend %s, %s, %d threads, mean of %d\n", B,
           backend, nn_precision_name(conv1d_dnnl_get_precision()), omp_get_max_threads(), reps);
    for (int i = 0; i < prof_n; i++) {
        printf("%3d  %-8s %8.3f ms\n", i, prof_name[i], prof_ms[i] / reps);
        timed += prof_ms[i] / reps;
    }
    printf("total %.3f ms per forward (%.3f ms in the listed calls); median %.3f, min %.3f\n",
           total, timed, each[reps / 2], each[0]);
    free(each);
    free(x);
    kres_free(m);
    return 0;
}
