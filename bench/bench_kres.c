/* bench_kres.c — speed of the KRes network on CPU, one measurement per process.
 *
 * Modes (each prints one JSON line on stdout, so bench/run.sh can put kres and its PyTorch
 * twin side by side; peak RSS is per process, which is why each mode runs alone):
 *   train    forward + backward + AdamW step at --batch (training mode, dropout on)
 *   infer    inference-mode forward at --batch
 *   latency  inference-mode forward at batch 1 (run it with OMP_NUM_THREADS=1)
 *   gemm     OpenBLAS sgemm GFLOP/s at --threads (the machine's fp32 matrix rate)
 *   accuracy train the network on a synthetic two-class task (noisy sinusoids, 5 vs 6
 *            cycles per window) for --steps steps in fp32 and, where the CPU has native bf16,
 *            in bf16 from the same initial weights and data; report validation loss and AUC
 *   convs    every distinct convolution of the network at --batch: forward and backward
 *            seconds (median) with the chosen backend, one JSON line per shape
 * Timing: --warmup untimed steps, then --reps timed steps; the median is reported (min and
 * max too). The thread count is whatever OpenMP was given (OMP_NUM_THREADS).
 *
 *   bench_kres --mode train --backend dnnl --precision auto --batch 64 --reps 7
 */
#include <cblas.h>
#include <dnnl.h>
#include <math.h>
#include <time.h>
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
#include "eval/metrics.h"

typedef struct {
    const char *mode, *backend, *precision;
    int batch, warmup, reps, len, gemm_n, steps;
} Opts;

static void usage(void) {
    fprintf(stderr,
            "usage: bench_kres [--mode train|infer|latency|gemm|convs] [--backend ref|fast|dnnl]\n"
            "                  [--precision fp32|bf16|auto] [--batch B] [--warmup N] [--reps N]\n"
            "                  [--len L] [--gemm-n N] [--steps S] (modes also: accuracy, convs)\n");
    exit(2);
}

/* CPU seconds of the whole process (all threads): under time-sharing with other jobs this
 * moves less than wall time, so the JSON reports both. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
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
    const dnnl_version_t *dv = dnnl_version();
    printf("{\"impl\": \"openblas\", \"mode\": \"gemm\", \"n\": %d, \"threads\": %d, "
           "\"openblas_config\": \"%s\", \"openblas_coretype\": \"%s\", \"onednn\": \"%d.%d.%d\", "
           "\"seconds\": %.6f, \"gflops\": %.2f}\n",
           n, nt, openblas_get_config(), core ? core : "", dv->major, dv->minor, dv->patch, med,
           2.0 * n * n * n / med * 1e-9);
    free(a);
    free(b);
    free(c);
    free(t);
    return 0;
}

/* Median seconds of conv forward and backward (dinp too, except for the stem) for each
 * distinct convolution shape of KRes at batch B, with the current backend. */
static int run_convs(const Opts *o, const KresConfig *c) {
    typedef struct { int cin, cout, len, k, s; const char *name; } Conv;
    Conv cv[3 * KRES_MAX_UNITS + 1];
    int n = 0, L = c->in_len;
    cv[n++] = (Conv){c->in_leads, c->stem_width, L, c->kernel, 1, "stem"};
    for (int i = 0; i < c->nunits; i++) {
        int win = i == 0 ? c->stem_width : c->widths[i - 1], w = c->widths[i];
        cv[n++] = (Conv){win, w, L, c->kernel, 1, "conv1"};
        cv[n++] = (Conv){w, w, L, c->kernel, c->downsample, "conv2"};
        L /= c->downsample;
        if (win != w) cv[n++] = (Conv){win, w, L, 1, 1, "skip"};
    }
    const int B = o->batch;
    for (int i = 0; i < n; i++) {
        const Conv *q = &cv[i];
        int pad = (q->k - 1) / 2, Lo = conv1d_out_len(q->len, q->k, q->s, pad);
        size_t nx = (size_t)B * q->cin * q->len, ny = (size_t)B * q->cout * Lo;
        size_t nw = (size_t)q->cout * q->cin * q->k;
        size_t wn = conv1d_workspace_size(B, q->cin, q->cout, q->len, q->k, q->s, pad);
        float *x = xcalloc(nx, sizeof(float)), *dx = xcalloc(nx, sizeof(float));
        float *y = xcalloc(ny, sizeof(float)), *w = xcalloc(nw, sizeof(float));
        float *dw = xcalloc(nw, sizeof(float)), *work = xmalloc((wn ? wn : 1) * sizeof(float));
        for (size_t j = 0; j < nx; j++) x[j] = (float)((j * 7919) % 13) * 0.1f - 0.6f;
        for (size_t j = 0; j < nw; j++) w[j] = (float)((j * 104729) % 11) * 0.01f - 0.05f;
        double *tf = xmalloc(sizeof(double) * (size_t)o->reps), *tb = xmalloc(sizeof(double) * (size_t)o->reps);
        for (int r = -o->warmup; r < o->reps; r++) {
            double t0 = now_seconds();
            conv1d_forward(y, x, w, NULL, B, q->cin, q->cout, q->len, q->k, q->s, pad, work, wn);
            double t1 = now_seconds();
            conv1d_backward(i == 0 ? NULL : dx, dw, NULL, y, x, w, B, q->cin, q->cout, q->len, q->k,
                            q->s, pad, work, wn);
            double t2 = now_seconds();
            if (r >= 0) {
                tf[r] = t1 - t0;
                tb[r] = t2 - t1;
            }
        }
        double mf, mb, lo, hi;
        stats(tf, o->reps, &mf, &lo, &hi);
        stats(tb, o->reps, &mb, &lo, &hi);
        double fl = 2.0 * B * q->cout * q->cin * q->k * Lo;
        int fft = nn_get_backend() == NN_BACKEND_DNNL
                      ? conv1d_dnnl_uses_fft(B, q->cin, q->cout, q->len, q->k, q->s, pad) : 0;
        printf("{\"impl\": \"kres\", \"mode\": \"convs\", \"backend\": \"%s\", \"layer\": \"%s\", "
               "\"cin\": %d, \"cout\": %d, \"len\": %d, \"k\": %d, \"stride\": %d, \"fft_n\": %d, "
               "\"batch\": %d, \"threads\": %d, \"fwd_s\": %.6f, \"bwd_s\": %.6f, "
               "\"fwd_gflops\": %.2f, \"bwd_gflops\": %.2f}\n",
               nn_backend_name(nn_get_backend()), q->name, q->cin, q->cout, q->len, q->k, q->s, fft,
               B, omp_get_max_threads(), mf, mb, fl / mf * 1e-9,
               (i == 0 ? 1.0 : 2.0) * fl / mb * 1e-9);
        free(x), free(dx), free(y), free(w), free(dw), free(work), free(tf), free(tb);
    }
    return 0;
}

/* Noisy two-class sinusoids: class 1 has 6 cycles per window, class 0 has 5, random phase
 * and amplitude per lead, unit Gaussian noise on top. */
static void synth_batch(float *x, float *y, int B, const KresConfig *c, Rng *r) {
    for (int b = 0; b < B; b++) {
        int label = (int)(rng_u64(r) & 1);
        y[b] = (float)label;
        double cycles = label ? 6.0 : 5.0;
        for (int ch = 0; ch < c->in_leads; ch++) {
            double ph = 6.283185307179586 * rng_uniform(r), amp = 0.3 + 0.4 * rng_uniform(r);
            float *row = x + ((size_t)b * c->in_leads + ch) * c->in_len;
            for (int t = 0; t < c->in_len; t++)
                row[t] = (float)(amp * sin(6.283185307179586 * cycles * t / c->in_len + ph) +
                                 rng_normal(r));
        }
    }
}

/* Train from seed 1 for o->steps AdamW steps on fresh synthetic batches (data seed 2), then
 * score 512 validation examples (seed 3): BCE loss and AUC. Same weights and data for every
 * precision, so the difference is the arithmetic alone. */
static void accuracy_run(const Opts *o, const KresConfig *c, NnPrecision prec, double *vloss,
                         double *vauc, double *secs) {
    const int B = o->batch, NV = 512;
    KRES_ASSERT(conv1d_dnnl_set_precision(prec) == 0);
    Kres *m = kres_create(c, B, 1);
    KRES_ASSERT(m != NULL);
    size_t np = kres_num_params(m), nx = (size_t)B * c->in_leads * c->in_len;
    float *am = xcalloc(np, sizeof(float)), *av = xcalloc(np, sizeof(float));
    float *x = xmalloc(nx * sizeof(float)), *y = xmalloc((size_t)B * sizeof(float));
    float *dl = xmalloc((size_t)B * sizeof(float));
    Rng dr, drop;
    rng_seed(&dr, 2);
    rng_seed(&drop, 4);
    double t0 = now_seconds();
    for (int s = 0; s < o->steps; s++) {
        synth_batch(x, y, B, c, &dr);
        kres_zero_grad(m);
        kres_forward(m, x, B, 1, &drop);
        bce_with_logits_loss(dl, kres_logits(m), y, NULL, NULL, B, 1);
        kres_backward(m, dl, NULL, NULL);
        adamw_update(kres_params(m), kres_grads(m), am, av, np, s + 1, 1e-3f, 0.9f, 0.999f, 1e-8f,
                     1e-2f, NULL, 0);
    }
    *secs = now_seconds() - t0;
    float *scores = xmalloc(NV * sizeof(float));
    int *labels = xmalloc(NV * sizeof(int));
    Rng vr;
    rng_seed(&vr, 3);
    double lsum = 0;
    for (int v = 0; v < NV; v += B) {
        int nb = NV - v < B ? NV - v : B;
        synth_batch(x, y, nb, c, &vr);
        kres_forward(m, x, nb, 0, NULL);
        lsum += bce_with_logits_loss(dl, kres_logits(m), y, NULL, NULL, nb, 1) * nb;
        for (int b = 0; b < nb; b++) {
            scores[v + b] = kres_logits(m)[b];
            labels[v + b] = (int)y[b];
        }
    }
    *vloss = lsum / NV;
    roc_auc(scores, labels, NV, vauc);
    conv1d_dnnl_set_precision(NN_PREC_FP32);
    kres_free(m);
    free(am), free(av), free(x), free(y), free(dl), free(scores), free(labels);
}

static int run_accuracy(const Opts *o, KresConfig *c) {
    nn_set_backend(NN_BACKEND_DNNL);
    const int nprec = cpu_has_fast_bf16() ? 2 : 1;
    if (nprec == 1)
        fprintf(stderr, "bench_kres: accuracy: no native bf16 here (%s): fp32 only\n",
                cpu_features_summary());
    for (int i = 0; i < nprec; i++) {
        NnPrecision p = i ? NN_PREC_BF16 : NN_PREC_FP32;
        double vl, va, secs;
        accuracy_run(o, c, p, &vl, &va, &secs);
        printf("{\"impl\": \"kres\", \"mode\": \"accuracy\", \"precision\": \"%s\", \"steps\": %d, "
               "\"batch\": %d, \"len\": %d, \"val_loss\": %.5f, \"val_auc\": %.5f, "
               "\"train_seconds\": %.2f}\n",
               nn_precision_name(p), o->steps, o->batch, c->in_len, vl, va, secs);
        fflush(stdout);
    }
    return 0;
}

int main(int argc, char **argv) {
    Opts o = {"train", "dnnl", "auto", 64, 2, 7, 1024, 1024, 60};
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
        else if (!strcmp(a, "--steps")) o.steps = atoi(v);
        else usage();
    }
    if (o.batch < 1 || o.reps < 1 || o.warmup < 0 || o.len < 256 || o.gemm_n < 16 || o.steps < 1)
        usage();
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
    fprintf(stderr, "bench_kres: precision %s -> %s (%s); own kernels %s\n", o.precision,
            want_bf16 ? "bf16" : "fp32", cpu_features_summary(),
            own_kernels_isa_name(own_kernels_isa()));

    int training = !strcmp(o.mode, "train");
    int B = !strcmp(o.mode, "latency") ? 1 : o.batch;
    KresConfig cfg;
    kres_config_default(&cfg);
    cfg.in_len = o.len;
    if (!strcmp(o.mode, "convs")) return run_convs(&o, &cfg);
    if (!strcmp(o.mode, "accuracy")) return run_accuracy(&o, &cfg);
    if (!training && strcmp(o.mode, "infer") && strcmp(o.mode, "latency")) usage();
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
    double *tc = xmalloc(sizeof(double) * (size_t)o.reps);
    float loss = 0;
    if (!training) kres_freeze(m, 1); /* inference: weights fixed, as in kres predict */
    for (int r = -o.warmup; r < o.reps; r++) {
        double t0 = now_seconds(), c0 = cpu_seconds();
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
        if (r >= 0) {
            t[r] = now_seconds() - t0;
            tc[r] = cpu_seconds() - c0;
        }
    }
    double med, lo, hi, cmed, clo, chi;
    stats(t, o.reps, &med, &lo, &hi);
    stats(tc, o.reps, &cmed, &clo, &chi);
    double macs = kres_macs_per_example(&cfg);
    /* training costs about 3 forwards (forward, input gradient, weight gradient) */
    double flops = 2.0 * macs * B * (training ? 3.0 : 1.0);
    printf("{\"impl\": \"kres\", \"mode\": \"%s\", \"backend\": \"%s\", \"precision\": \"%s\", "
           "\"batch\": %d, \"threads\": %d, \"reps\": %d, \"seconds\": %.6f, \"min\": %.6f, "
           "\"max\": %.6f, \"cpu_seconds\": %.6f, \"samples_per_s\": %.2f, \"gflops\": %.2f, "
           "\"peak_rss_mib\": %.1f, \"check\": %.6g}\n",
           o.mode, nn_backend_name(be), want_bf16 ? "bf16" : "fp32", B, omp_get_max_threads(),
           o.reps, med, lo, hi, cmed, B / med, flops / med * 1e-9, peak_rss_kib() / 1024.0,
           (double)loss);
    kres_free(m);
    free(adam_m);
    free(adam_v);
    free(x);
    free(y);
    free(dl);
    free(t);
    free(tc);
    return 0;
}
