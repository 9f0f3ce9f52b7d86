/* test_kres.c — the assembled KRes network: whole-model gradient proof, dropout and
 * batch-norm modes, determinism, the default configuration's sizes, config JSON, and a
 * tiny training run.
 *
 * With arguments `--twin-dump DIR` it instead writes the files tests/twin_test.sh hands to
 * the PyTorch twin (bench/kres_twin.py): weights, an input batch, the C outputs in training
 * and inference mode and one step of parameter gradients. */
#include <omp.h>
#include <string.h>

#include "common/util.h"
#include "nn/checkpoint.h"
#include "nn/conv1d.h"
#include "nn/kres.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "nn/safetensors.h"
#include "test.h"

/* A tiny network that still has every feature: 3 units (the middle one keeps its width, so
 * its skip path is a bare maxpool), both heads, stride 2. L: 64 -> 32 -> 16 -> 8. */
static KresConfig tiny_config(void) {
    KresConfig c;
    kres_config_default(&c);
    c.in_leads = 3;
    c.in_len = 64;
    c.stem_width = 4;
    c.kernel = 5;
    c.nunits = 3;
    c.widths[0] = 6;
    c.widths[1] = 6;
    c.widths[2] = 8;
    c.widths[3] = 0;
    c.downsample = 2;
    c.dropout = 0.0f;
    c.n_outputs = 2;
    c.proj_hidden = 5;
    c.proj_dim = 3;
    return c;
}

static void fill_normal(float *x, size_t n, Rng *r, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * rng_normal(r));
}

static int same_bits(const float *a, const float *b, size_t n) {
    return memcmp(a, b, n * sizeof(float)) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* (1) Whole-model gradient check.
 * Probe loss  Lp = sum(logits * R1) + sum(proj * R2) + sum(embed * R3), so the upstream
 * gradients are exactly R1, R2, R3. For each parameter tensor and a few random directions d
 * (unit RMS per element), compare the analytic <grad, d> with the central difference
 * (Lp(w + h d) - Lp(w - h d)) / 2h at several h; a ReLU kink or a maxpool switch can spoil
 * one h but not all of them, so the best agreement is judged. BN runs in training mode
 * (batch-coupled), so every evaluation is a full forward with the BN running statistics
 * restored afterwards. */

typedef struct {
    Kres *m;
    const float *x, *R1, *R2, *R3;
    int B;
    float *saved_buffers;
    uint64_t dropout_seed;  /* every evaluation redraws the same dropout masks */
} Probe;

static double probe_loss(Probe *p) {
    Kres *m = p->m;
    const KresConfig *c = kres_config(m);
    Rng r;
    rng_seed(&r, p->dropout_seed);
    kres_forward(m, p->x, p->B, 1, &r);
    memcpy(kres_buffers(m), p->saved_buffers, kres_num_buffers(m) * sizeof(float));
    double L = 0;
    const float *lo = kres_logits(m), *pr = kres_projection(m), *em = kres_embeddings(m);
    for (int k = 0; k < p->B * c->n_outputs; k++) L += (double)lo[k] * p->R1[k];
    for (int k = 0; k < p->B * c->proj_dim; k++) L += (double)pr[k] * p->R2[k];
    for (int k = 0; k < p->B * kres_embed_dim(c); k++) L += (double)em[k] * p->R3[k];
    return L;
}

/* Worst relative disagreement over tensors and directions. With `corrupt` >= 0 only that
 * tensor is checked, its analytic gradient scaled by 1.03 (a negative control). */
static double gradcheck(Probe *p, const float *grads, int corrupt, int verbose, int *nchecked) {
    Kres *m = p->m;
    float *w = kres_params(m);
    Rng r;
    rng_seed(&r, 99);
    static const double H[] = {3e-3, 1e-3, 3e-4, 1e-4, 3e-5};
    double worst = 0;
    *nchecked = 0;
    for (int t = 0; t < kres_num_tensors(m); t++) {
        const KresTensor *T = kres_tensor(m, t);
        if (T->kind != KRES_PARAM || (corrupt >= 0 && t != corrupt)) continue;
        float *wt = w + T->offset;
        const float *gt = grads + T->offset;
        double gnorm = 0;
        for (size_t k = 0; k < T->numel; k++) gnorm += (double)gt[k] * gt[k];
        gnorm = sqrt(gnorm);
        float *d = xmalloc(T->numel * sizeof(float)), *w0 = xmalloc(T->numel * sizeof(float));
        memcpy(w0, wt, T->numel * sizeof(float));
        for (int dir = 0; dir < 3; dir++) {
            fill_normal(d, T->numel, &r, 1.0);
            double ana = 0;
            for (size_t k = 0; k < T->numel; k++) ana += (double)gt[k] * d[k];
            if (t == corrupt) ana *= 1.03;
            double best = INFINITY, best_num = 0;
            for (int hi = 0; hi < 5; hi++) {
                for (size_t k = 0; k < T->numel; k++) wt[k] = (float)(w0[k] + H[hi] * d[k]);
                double lp = probe_loss(p);
                for (size_t k = 0; k < T->numel; k++) wt[k] = (float)(w0[k] - H[hi] * d[k]);
                double lm = probe_loss(p);
                memcpy(wt, w0, T->numel * sizeof(float));
                double num = (lp - lm) / (2 * H[hi]);
                if (fabs(num - ana) < best) best = fabs(num - ana), best_num = num;
            }
            /* <g, d> has standard deviation |g| over random d: judge the error against it */
            double rel = best / (fabs(ana) + 0.25 * gnorm + 1e-6);
            if (verbose)
                printf("  %-24s dir %d  analytic %+.6e  numeric %+.6e  rel %.2e\n", T->name, dir,
                       ana, best_num, rel);
            if (rel > worst) worst = rel;
            ++*nchecked;
        }
        free(d);
        free(w0);
    }
    return worst;
}

static void test_gradients(int verbose) {
    /* Fewer activations mean fewer ReLU kinks inside the difference interval: L 32 -> 4,
     * two examples. Dropout stays on (same masks at every evaluation) so its scaling is
     * checked too. */
    KresConfig c = tiny_config();
    c.in_len = 32;
    c.dropout = 0.25f;
    const int B = 2;
    /* ~1000 tiny forwards: one thread avoids OpenMP barrier costs on a busy machine (the
     * thread count is fixed before kres_create, which sizes the workspace for it). */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    Kres *m = kres_create(&c, B, 7);
    CHECK(m != NULL);
    if (!m) {
        omp_set_num_threads(threads);
        return;
    }
    Rng r;
    rng_seed(&r, 5);
    size_t nx = (size_t)B * c.in_leads * c.in_len;
    float *x = xmalloc(nx * sizeof(float));
    float *R1 = xmalloc((size_t)B * c.n_outputs * sizeof(float));
    float *R2 = xmalloc((size_t)B * c.proj_dim * sizeof(float));
    float *R3 = xmalloc((size_t)B * kres_embed_dim(&c) * sizeof(float));
    fill_normal(x, nx, &r, 1.0);
    fill_normal(R1, (size_t)B * c.n_outputs, &r, 1.0);
    fill_normal(R2, (size_t)B * c.proj_dim, &r, 1.0);
    fill_normal(R3, (size_t)B * kres_embed_dim(&c), &r, 0.5);
    /* The reference backend accumulates in double: the cleanest finite differences. */
    NnBackend prev = nn_get_backend();
    nn_set_backend(NN_BACKEND_REF);
    float *saved = xmalloc(kres_num_buffers(m) * sizeof(float));
    memcpy(saved, kres_buffers(m), kres_num_buffers(m) * sizeof(float));
    Probe p = {m, x, R1, R2, R3, B, saved, 123};

    kres_zero_grad(m);
    probe_loss(&p);
    kres_backward(m, R1, R2, R3);
    memcpy(kres_buffers(m), saved, kres_num_buffers(m) * sizeof(float));
    size_t np = kres_num_params(m);
    float *g = xmalloc(np * sizeof(float));
    memcpy(g, kres_grads(m), np * sizeof(float));
    int nonzero = 0;
    for (size_t k = 0; k < np; k++) nonzero += g[k] != 0.0f;
    CHECKF(nonzero > (int)(np * 9 / 10), "only %d of %zu gradients are non-zero", nonzero, np);

    int n;
    double worst = gradcheck(&p, g, -1, verbose, &n);
    CHECKF(worst < 1e-2, "worst relative gradient error %.3e over %d checks", worst, n);
    CHECK(n == 3 * 29);  /* 29 parameter tensors in the tiny config, 3 directions each */
    /* Negative control: a 3% error in one tensor's gradient must be caught. Try the first
     * conv of unit 2 (deep inside) and the stem conv (the far end of the backward pass). */
    int t_deep = (int)(kres_find_tensor(m, "units.2.conv1.weight") - kres_tensor(m, 0));
    double bad = gradcheck(&p, g, t_deep, 0, &n);
    CHECKF(bad > 1e-2, "a corrupted units.2.conv1 gradient went unnoticed (%.3e)", bad);
    bad = gradcheck(&p, g, 0, 0, &n);
    CHECKF(bad > 1e-2, "a corrupted stem.conv gradient went unnoticed (%.3e)", bad);

    /* Accumulation: a second backward doubles the gradients. */
    probe_loss(&p);
    kres_backward(m, R1, R2, R3);
    double maxdiff = 0;
    for (size_t k = 0; k < np; k++) {
        double e = fabs(kres_grads(m)[k] - 2.0 * g[k]);
        if (e > maxdiff) maxdiff = e;
    }
    CHECKF(maxdiff < 1e-5, "second backward did not accumulate (max diff %.3e)", maxdiff);

    /* The fast (im2col + sgemm) and oneDNN backends agree with the reference, forward and
     * backward, through the whole network. */
    probe_loss(&p);
    float ref_logits[4];
    memcpy(ref_logits, kres_logits(m), sizeof ref_logits);
    static const NnBackend others[] = {NN_BACKEND_FAST, NN_BACKEND_DNNL};
    for (int bi = 0; bi < 2; bi++) {
        nn_set_backend(others[bi]);
        kres_zero_grad(m);
        probe_loss(&p);
        kres_backward(m, R1, R2, R3);
        double lerr = 0, gmax = 0, gerr = 0;
        for (int k = 0; k < B * c.n_outputs; k++)
            lerr = fmax(lerr, fabs(kres_logits(m)[k] - ref_logits[k]) / (1 + fabs(ref_logits[k])));
        for (size_t k = 0; k < np; k++) {
            gmax = fmax(gmax, fabs(g[k]));
            gerr = fmax(gerr, fabs(kres_grads(m)[k] - g[k]));
        }
        const char *bn = nn_backend_name(others[bi]);
        CHECKF(lerr <= 1e-4, "%s vs reference logits differ by %.3e", bn, lerr);
        CHECKF(gerr <= 1e-4 * gmax, "%s vs reference gradients differ by %.3e (max %.3e)", bn, gerr,
               gmax);
    }
    nn_set_backend(prev);
    omp_set_num_threads(threads);
    free(g);
    free(saved);
    free(x);
    free(R1);
    free(R2);
    free(R3);
    kres_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* (2) Dropout: the rng fixes the masks; (3) inference uses running statistics. */

static void test_dropout_and_modes(void) {
    KresConfig c = tiny_config();
    c.dropout = 0.3f;
    const int B = 4;
    Kres *a = kres_create(&c, B, 11), *b = kres_create(&c, B, 11);
    Rng r;
    rng_seed(&r, 3);
    size_t nx = (size_t)B * c.in_leads * c.in_len, nl = (size_t)B * c.n_outputs;
    float *x = xmalloc(nx * sizeof(float));
    fill_normal(x, nx, &r, 1.0);
    CHECK(same_bits(kres_params(a), kres_params(b), kres_num_params(a)));

    Rng ra, rb;
    rng_seed(&ra, 100);
    rng_seed(&rb, 100);
    kres_forward(a, x, B, 1, &ra);
    kres_forward(b, x, B, 1, &rb);
    CHECK(same_bits(kres_logits(a), kres_logits(b), nl));
    CHECK(same_bits(kres_projection(a), kres_projection(b), (size_t)B * c.proj_dim));
    CHECK(same_bits(kres_buffers(a), kres_buffers(b), kres_num_buffers(a)));
    /* Another seed draws other masks, hence other outputs. */
    float first[8];
    memcpy(first, kres_logits(a), nl * sizeof(float));
    rng_seed(&rb, 101);
    kres_forward(b, x, B, 1, &rb);
    CHECK(!same_bits(first, kres_logits(b), nl));

    /* Training forward updated the running statistics: stem.bn.running_mean moved from 0
     * towards the batch mean, running_var away from 1. */
    const KresTensor *rm = kres_find_tensor(a, "stem.bn.running_mean");
    const KresTensor *rv = kres_find_tensor(a, "stem.bn.running_var");
    CHECK(rm && rv && rm->kind == KRES_BUFFER && rv->kind == KRES_BUFFER);
    int moved = 0;
    for (size_t k = 0; k < rm->numel; k++)
        moved += kres_buffers(a)[rm->offset + k] != 0.0f && kres_buffers(a)[rv->offset + k] != 1.0f;
    CHECK(moved == (int)rm->numel);

    /* Inference: buffers untouched, no rng needed, deterministic, and each example's output
     * is independent of the rest of the batch (training-mode BN couples the batch). */
    size_t nb = kres_num_buffers(a);
    float *buf0 = xmalloc(nb * sizeof(float));
    memcpy(buf0, kres_buffers(a), nb * sizeof(float));
    kres_forward(a, x, B, 0, NULL);
    CHECK(same_bits(buf0, kres_buffers(a), nb));
    float full[8], full2[8];
    memcpy(full, kres_logits(a), nl * sizeof(float));
    kres_forward(a, x, B, 0, NULL);
    memcpy(full2, kres_logits(a), nl * sizeof(float));
    CHECK(same_bits(full, full2, nl));
    kres_forward(a, x + (size_t)2 * c.in_leads * c.in_len, 1, 0, NULL);  /* example 2 alone */
    CHECK_CLOSE(kres_logits(a)[0], full[2 * c.n_outputs], 1e-5, 1e-4);
    CHECK_CLOSE(kres_logits(a)[1], full[2 * c.n_outputs + 1], 1e-5, 1e-4);
    /* In training mode the same example alone gets other BN statistics: a different output. */
    c.dropout = 0.0f;
    Kres *t = kres_create(&c, B, 11);
    kres_forward(t, x, B, 1, NULL);
    float tb = kres_logits(t)[2 * c.n_outputs];
    kres_forward(t, x + (size_t)2 * c.in_leads * c.in_len, 2, 1, NULL);
    CHECK(fabs(kres_logits(t)[0] - tb) > 1e-4);
    /* With fresh statistics (mean 0, var 1) inference BN is nearly the identity affine map,
     * so a fresh model's inference output differs from its training output. */
    Kres *f = kres_create(&c, B, 11);
    kres_forward(f, x, B, 0, NULL);
    memcpy(full, kres_logits(f), nl * sizeof(float));
    kres_forward(f, x, B, 1, NULL);
    CHECK(!same_bits(full, kres_logits(f), nl));
    free(buf0);
    free(x);
    kres_free(a);
    kres_free(b);
    kres_free(t);
    kres_free(f);
}

/* ------------------------------------------------------------------------------------ */
/* (4) Determinism: same seed and thread count -> identical parameters after SGD steps. */

static void train_steps(Kres *m, const float *x, const float *y, int B, int steps, int adam,
                        float lr, float *losses) {
    const KresConfig *c = kres_config(m);
    size_t np = kres_num_params(m);
    float *s1 = xcalloc(np, sizeof(float)), *s2 = xcalloc(np, sizeof(float));
    float *dl = xmalloc((size_t)B * c->n_outputs * sizeof(float));
    Rng r;
    rng_seed(&r, 1234);
    for (int s = 0; s < steps; s++) {
        kres_zero_grad(m);
        kres_forward(m, x, B, 1, &r);
        float loss = bce_with_logits_loss(dl, kres_logits(m), y, NULL, NULL, B, c->n_outputs);
        if (losses) losses[s] = loss;
        kres_backward(m, dl, NULL, NULL);
        if (adam)
            adamw_update(kres_params(m), kres_grads(m), s1, s2, np, s + 1, lr, 0.9f, 0.999f, 1e-8f,
                         0.01f, NULL, 0);
        else
            sgd_update(kres_params(m), kres_grads(m), s1, np, lr, 0.9f, 0.0f, 0, NULL, 0);
    }
    free(s1);
    free(s2);
    free(dl);
}

static void test_determinism(void) {
    KresConfig c = tiny_config();
    c.dropout = 0.2f;
    c.n_outputs = 1;
    const int B = 4;
    Rng r;
    rng_seed(&r, 8);
    size_t nx = (size_t)B * c.in_leads * c.in_len;
    float *x = xmalloc(nx * sizeof(float)), y[4] = {0, 1, 1, 0};
    fill_normal(x, nx, &r, 1.0);
    Kres *a = kres_create(&c, B, 21), *b = kres_create(&c, B, 21), *o = kres_create(&c, B, 22);
    size_t np = kres_num_params(a);
    CHECK(!same_bits(kres_params(a), kres_params(o), np));  /* the seed matters */
    float *p0 = xmalloc(np * sizeof(float));
    memcpy(p0, kres_params(a), np * sizeof(float));
    train_steps(a, x, y, B, 3, 0, 0.05f, NULL);
    train_steps(b, x, y, B, 3, 0, 0.05f, NULL);
    CHECK(same_bits(kres_params(a), kres_params(b), np));
    CHECK(same_bits(kres_buffers(a), kres_buffers(b), kres_num_buffers(a)));
    CHECK(!same_bits(kres_params(a), p0, np));  /* and training moved them */
    free(p0);
    free(x);
    kres_free(a);
    kres_free(b);
    kres_free(o);
}

/* ------------------------------------------------------------------------------------ */
/* (5) The default configuration, counted by hand (C=12, W0=64, K=17, widths 128, 196, 256,
 * 320, O=1, H=320, P=128):
 *   stem     64*12*17 = 13056 + bn 2*64                                        =   13184
 *   unit 0   128*64*17 + 128*128*17 + 1x1 128*64 + bn 4*128
 *            = 139264 + 278528 + 8192 + 512                                    =  426496
 *   unit 1   196*128*17 + 196*196*17 + 196*128 + 4*196
 *            = 426496 + 653072 + 25088 + 784                                   = 1105440
 *   unit 2   256*196*17 + 256*256*17 + 256*196 + 4*256
 *            = 852992 + 1114112 + 50176 + 1024                                 = 2018304
 *   unit 3   320*256*17 + 320*320*17 + 320*256 + 4*320
 *            = 1392640 + 1740800 + 81920 + 1280                                = 3216640
 *   encoder                                                                      6780064
 *   head 320 + 1 = 321; proj 320*320 + 320 + 128*320 + 128 = 143808;   total  6924193
 *   buffers 2 * (64 + 2*(128 + 196 + 256 + 320)) = 3728
 *   MACs: convs 484754432 (stem 13369344; e.g. unit 0 conv1 128*64*17*1024 = 142606336)
 *         + linear 320 + 102400 + 40960                                    = 484898112 */
static void test_default_config(void) {
    KresConfig c;
    kres_config_default(&c);
    CHECK(kres_config_validate(&c) == 0);
    CHECK(kres_embed_dim(&c) == 320);
    Kres *m = kres_create(&c, 1, 1);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(kres_num_params(m) == 6924193);
    CHECK(kres_num_encoder_params(m) == 6780064);
    CHECK(kres_num_buffers(m) == 3728);
    CHECK(kres_num_tensors(m) == 5 + 4 * 11 + 2 + 4);
    CHECK(kres_macs_per_example(&c) == 484898112.0);
    /* Encoder prefix: everything before head.weight is encoder, in table order. */
    const KresTensor *hw = kres_find_tensor(m, "head.weight");
    CHECK(hw && hw->offset == kres_num_encoder_params(m) && hw->shape[0] == 1 && hw->shape[1] == 320);
    const KresTensor *f2 = kres_find_tensor(m, "proj.fc2.weight");
    CHECK(f2 && f2->shape[0] == 128 && f2->shape[1] == 320);
    const KresTensor *sk = kres_find_tensor(m, "units.2.skip.weight");
    CHECK(sk && sk->ndim == 3 && sk->shape[0] == 256 && sk->shape[1] == 196 && sk->shape[2] == 1);
    const KresTensor *c2 = kres_find_tensor(m, "units.3.conv2.weight");
    CHECK(c2 && c2->shape[0] == 320 && c2->shape[1] == 320 && c2->shape[2] == 17);
    CHECK(kres_find_tensor(m, "units.4.conv1.weight") == NULL);
    /* Parameters tile [0, n) without gaps in table order; so do buffers. */
    size_t po = 0, bo = 0;
    int tiled = 1;
    for (int i = 0; i < kres_num_tensors(m); i++) {
        const KresTensor *t = kres_tensor(m, i);
        size_t *o = t->kind == KRES_PARAM ? &po : &bo;
        tiled &= t->offset == *o;
        *o += t->numel;
    }
    CHECK(tiled && po == kres_num_params(m) && bo == kres_num_buffers(m));
    CHECK(kres_tensor(m, -1) == NULL && kres_tensor(m, kres_num_tensors(m)) == NULL);

    /* Initialisation: He normal for convolutions, PyTorch uniform for linear, BN (1, 0). */
    const KresTensor *st = kres_find_tensor(m, "stem.conv.weight");
    double ss = 0;
    for (size_t k = 0; k < st->numel; k++) ss += (double)kres_params(m)[st->offset + k] * kres_params(m)[st->offset + k];
    double std = sqrt(ss / st->numel), want = sqrt(2.0 / (12 * 17));
    CHECK_CLOSE(std, want, 0, 0.03);
    float bound = 1.0f / sqrtf(320.0f);
    int inside = 1;
    const KresTensor *f1 = kres_find_tensor(m, "proj.fc1.weight");
    for (size_t k = 0; k < f1->numel; k++) inside &= fabsf(kres_params(m)[f1->offset + k]) <= bound;
    CHECK(inside);
    const KresTensor *bw = kres_find_tensor(m, "units.1.bn2.weight");
    const KresTensor *bb = kres_find_tensor(m, "units.1.bn2.bias");
    const KresTensor *brv = kres_find_tensor(m, "units.1.bn2.running_var");
    CHECK(bw && bb && brv && bw->numel == 196);
    CHECK(kres_params(m)[bw->offset + 7] == 1.0f && kres_params(m)[bb->offset + 7] == 0.0f);
    CHECK(kres_buffers(m)[brv->offset + 7] == 1.0f);

    /* One inference forward at full size: finite outputs of the documented shapes. */
    Rng r;
    rng_seed(&r, 2);
    float *x = xmalloc((size_t)12 * 1024 * sizeof(float));
    fill_normal(x, (size_t)12 * 1024, &r, 1.0);
    kres_forward(m, x, 1, 0, NULL);
    int finite = 1;
    for (int k = 0; k < 320; k++) finite &= isfinite(kres_embeddings(m)[k]);
    for (int k = 0; k < 128; k++) finite &= isfinite(kres_projection(m)[k]);
    CHECK(finite && isfinite(kres_logits(m)[0]));
    free(x);
    kres_free(m);

    /* The 400 Hz variant: 4096 samples, 4 units of /4 -> 16 samples, same parameters. */
    c.in_len = 4096;
    CHECK(kres_config_validate(&c) == 0);
    CHECK(kres_macs_per_example(&c) == 484754432.0 * 4 + 143680.0);
}

/* ------------------------------------------------------------------------------------ */
/* Config validation and JSON. */

static void expect_invalid(KresConfig c, const char *needle) {
    kres_clear_error();
    int rc = kres_config_validate(&c);
    CHECKF(rc == -1 && strstr(kres_last_error(), needle), "wanted '%s', got '%s'", needle,
           kres_last_error());
}

static void test_config(void) {
    KresConfig d;
    kres_config_default(&d);
    KresConfig c = d;
    c.kernel = 16;
    expect_invalid(c, "kernel must be odd");
    c = d;
    c.in_len = 1000;  /* not divisible by 4^4 = 256 */
    expect_invalid(c, "divisible by downsample^nunits");
    c = d;
    c.dropout = 1.0f;
    expect_invalid(c, "dropout");
    c = d;
    c.widths[2] = 0;
    expect_invalid(c, "widths[2]");
    c = d;
    c.nunits = KRES_MAX_UNITS + 1;
    expect_invalid(c, "nunits");
    c = d;
    c.bn_eps = 0.0f;
    expect_invalid(c, "bn_eps");
    c = d;
    c.in_leads = 0;
    expect_invalid(c, "in_leads");
    c = d;
    c.proj_dim = 0;
    expect_invalid(c, "proj_dim");
    c.proj_hidden = 0;  /* no projection head: proj_dim is irrelevant */
    CHECK(kres_config_validate(&c) == 0);
    c = d;
    c.in_len = 4;  /* shorter than downsample^nunits */
    expect_invalid(c, "divisible");
    CHECK(kres_create(&c, 4, 0) == NULL);
    CHECK(kres_create(&d, 0, 0) == NULL);

    /* JSON round trip, exact for floats. */
    char buf[1024];
    KresConfig t = tiny_config(), back;
    t.dropout = 0.15f;
    int n = kres_config_to_json(&t, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n == strlen(buf));
    CHECK(strstr(buf, "\"dropout\": 0.15") != NULL);
    CHECK(kres_config_from_json(buf, &back) == 0);
    CHECK(memcmp(&t, &back, sizeof t) == 0);
    CHECK(kres_config_to_json(&t, buf, 10) == -1);  /* too small a buffer is an error */
    /* Optional keys default; required keys, unknown keys and bad values are refused. */
    const char *minimal = "{\"in_leads\": 12, \"in_len\": 1024, \"stem_width\": 64, \"kernel\": 17,"
                          " \"widths\": [128, 196, 256, 320], \"downsample\": 4}";
    CHECK(kres_config_from_json(minimal, &back) == 0 && memcmp(&back, &d, sizeof d) == 0);
    static const struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"in_leads\": 12}", "missing key 'in_len'"},
        {"{\"in_leads\": 12, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 5, \"widths\": [4],"
         " \"downsample\": 2, \"dropuot\": 0.1}", "unknown key 'dropuot'"},
        {"{\"in_leads\": 12.5, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 5, \"widths\": [4],"
         " \"downsample\": 2}", "'in_leads' must be an integer"},
        {"{\"in_leads\": 12, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 4, \"widths\": [4],"
         " \"downsample\": 2}", "kernel must be odd"},
        {"{\"in_leads\": 12, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 5, \"widths\": [],"
         " \"downsample\": 2}", "'widths' must be an array"},
        {"{\"in_leads\": 12, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 5, \"widths\": 4,"
         " \"downsample\": 2}", "'widths' must be an array"},
        {"{\"in_leads\": 12, \"in_len\": 64, \"stem_width\": 4, \"kernel\": 5, \"widths\": [4],"
         " \"downsample\": 2, \"dropout\": \"0.1\"}", "'dropout' must be a number"},
        {"[1, 2]", "expected a JSON object"},
        {"{\"in_leads\": 12,", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kres_clear_error();
        int rc = kres_config_from_json(bad[i].json, &back);
        CHECKF(rc == -1 && strstr(kres_last_error(), bad[i].needle), "case %zu: wanted '%s', got '%s'",
               i, bad[i].needle, kres_last_error());
    }
}

/* ------------------------------------------------------------------------------------ */
/* (6) The model learns: a separable toy problem (class 1 carries a 6-cycle sinusoid on
 * lead 0, class 0 a 2-cycle one; both with noise) is fitted within 30 AdamW steps. */

static void test_training(void) {
    KresConfig c = tiny_config();
    c.n_outputs = 1;
    c.proj_hidden = 0;
    c.dropout = 0.1f;
    const int B = 16;
    Rng r;
    rng_seed(&r, 4);
    float *x = xmalloc((size_t)B * c.in_leads * c.in_len * sizeof(float)), y[16];
    for (int b = 0; b < B; b++) {
        y[b] = (float)(b % 2);
        double cycles = y[b] > 0 ? 6 : 2, phase = 6.283185307179586 * rng_uniform(&r);
        for (int ch = 0; ch < c.in_leads; ch++)
            for (int t = 0; t < c.in_len; t++) {
                double s = ch == 0 ? sin(6.283185307179586 * cycles * t / c.in_len + phase) : 0;
                x[((size_t)b * c.in_leads + ch) * c.in_len + t] = (float)(s + 0.3 * rng_normal(&r));
            }
    }
    Kres *m = kres_create(&c, B, 5);
    float losses[30];
    train_steps(m, x, y, B, 30, 1, 1e-2f, losses);
    double first = losses[0], last = (losses[27] + losses[28] + losses[29]) / 3;
    CHECKF(first > 0.5 && last < 0.25 * first, "loss %.4f -> %.4f", first, last);
    /* Inference with the learnt running statistics separates the classes too. */
    kres_forward(m, x, B, 0, NULL);
    int correct = 0;
    for (int b = 0; b < B; b++) correct += (kres_logits(m)[b] > 0) == (y[b] > 0);
    CHECKF(correct >= 14, "inference accuracy %d/16 after training", correct);
    free(x);
    kres_free(m);
}

/* ------------------------------------------------------------------------------------ */
/* --twin-dump DIR: files for the PyTorch twin (see tests/twin_test.sh). */

static int write_tensors(const char *path, const char *const *names, const float *const *data,
                         const int (*shapes)[3], const int *ndims, int n) {
    StTensor *t = xcalloc((size_t)n, sizeof *t);
    for (int i = 0; i < n; i++) {
        t[i].name = names[i];
        t[i].dtype = ST_F32;
        t[i].ndim = ndims[i];
        for (int k = 0; k < ndims[i]; k++) t[i].shape[k] = shapes[i][k];
        t[i].data = data[i];
    }
    int rc = st_write(path, t, n, NULL, NULL, 0);
    free(t);
    return rc;
}

/* Model weights as the checkpoint <dir>/<name>.safetensors, plus an
 * io file with the input batch, upstream gradients R1, R2, R3, the training-mode outputs,
 * the parameter gradients, the running statistics after that forward, and the
 * inference-mode outputs that follow. */
static int twin_dump_one(const char *dir, const char *name, const KresConfig *c, int B) {
    char path[1024];
    Kres *m = kres_create(c, B, 77);
    if (!m) return -1;
    int nt = kres_num_tensors(m);
    const char *names[3 * KRES_MAX_TENSORS + 16];
    const float *data[3 * KRES_MAX_TENSORS + 16];
    int shapes[3 * KRES_MAX_TENSORS + 16][3], ndims[3 * KRES_MAX_TENSORS + 16];
    char namebuf[3 * KRES_MAX_TENSORS + 16][80];
    /* The weights go through the real checkpoint writer, with an extra tensor the twin must
     * ignore, so the twin is proven on the files kres train/pretrain write. */
    float extra[4] = {1, 2, 3, 4};
    StTensor probe = {"probe.weight", ST_F32, 2, {1, 4}, extra};
    CkptMeta meta = {.kind = "classifier", .threshold = NAN};
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    if (ckpt_save(path, m, &meta, &probe, 1) != 0) return -1;
    Rng r;
    rng_seed(&r, 31);
    const int E = kres_embed_dim(c), O = c->n_outputs, P = c->proj_dim;
    size_t nx = (size_t)B * c->in_leads * c->in_len;
    float *x = xmalloc(nx * sizeof(float)), *R1 = xmalloc((size_t)B * O * sizeof(float));
    float *R2 = xmalloc((size_t)B * P * sizeof(float)), *R3 = xmalloc((size_t)B * E * sizeof(float));
    float *out = xmalloc((size_t)6 * B * (E + O + P) * sizeof(float));
    float *buf_after = xmalloc(kres_num_buffers(m) * sizeof(float));
    fill_normal(x, nx, &r, 1.0);
    fill_normal(R1, (size_t)B * O, &r, 1.0);
    fill_normal(R2, (size_t)B * P, &r, 1.0);
    fill_normal(R3, (size_t)B * E, &r, 1.0);
    kres_zero_grad(m);
    kres_forward(m, x, B, 1, NULL);
    kres_backward(m, R1, R2, R3);
    memcpy(buf_after, kres_buffers(m), kres_num_buffers(m) * sizeof(float));
    float *tr = out, *ev = out + (size_t)B * (E + O + P);
    memcpy(tr, kres_logits(m), (size_t)B * O * sizeof(float));
    memcpy(tr + B * O, kres_projection(m), (size_t)B * P * sizeof(float));
    memcpy(tr + B * (O + P), kres_embeddings(m), (size_t)B * E * sizeof(float));
    kres_forward(m, x, B, 0, NULL);
    memcpy(ev, kres_logits(m), (size_t)B * O * sizeof(float));
    memcpy(ev + B * O, kres_projection(m), (size_t)B * P * sizeof(float));
    memcpy(ev + B * (O + P), kres_embeddings(m), (size_t)B * E * sizeof(float));

    int n = 0;
#define PUT(nm, ptr, nd, d0, d1, d2)                                                       \
    do {                                                                                   \
        snprintf(namebuf[n], sizeof namebuf[n], "%s", nm);                                 \
        names[n] = namebuf[n];                                                             \
        data[n] = (ptr);                                                                   \
        ndims[n] = (nd);                                                                   \
        shapes[n][0] = (d0), shapes[n][1] = (d1), shapes[n][2] = (d2);                     \
        n++;                                                                               \
    } while (0)
    PUT("input", x, 3, B, c->in_leads, c->in_len);
    PUT("R1", R1, 2, B, O, 0);
    PUT("R2", R2, 2, B, P, 0);
    PUT("R3", R3, 2, B, E, 0);
    PUT("train.logits", tr, 2, B, O, 0);
    PUT("train.proj", tr + B * O, 2, B, P, 0);
    PUT("train.embed", tr + B * (O + P), 2, B, E, 0);
    PUT("eval.logits", ev, 2, B, O, 0);
    PUT("eval.proj", ev + B * O, 2, B, P, 0);
    PUT("eval.embed", ev + B * (O + P), 2, B, E, 0);
    for (int i = 0; i < nt; i++) {
        const KresTensor *t = kres_tensor(m, i);
        char nm[80];
        snprintf(nm, sizeof nm, "%s.%s", t->kind == KRES_PARAM ? "grad" : "after", t->name);
        PUT(nm, (t->kind == KRES_PARAM ? kres_grads(m) : buf_after) + t->offset, t->ndim,
            t->shape[0], t->shape[1], t->shape[2]);
    }
#undef PUT
    snprintf(path, sizeof path, "%s/%s.io.safetensors", dir, name);
    int rc = write_tensors(path, names, data, (const int(*)[3])shapes, ndims, n);
    free(x);
    free(R1);
    free(R2);
    free(R3);
    free(out);
    free(buf_after);
    kres_free(m);
    return rc;
}

static void twin_dump(const char *dir) {
    KresConfig tiny = tiny_config(), full;
    kres_config_default(&full);
    full.dropout = 0.0f;  /* dropout masks cannot be matched across RNGs: keep the step exact */
    CHECKF(twin_dump_one(dir, "tiny", &tiny, 3) == 0, "%s", kres_last_error());
    CHECKF(twin_dump_one(dir, "default", &full, 2) == 0, "%s", kres_last_error());
    /* The checkpoint re-reads with the names and shapes of the tensor table. */
    char path[1024];
    snprintf(path, sizeof path, "%s/default.safetensors", dir);
    StFile f;
    CHECKF(st_open(path, &f) == 0, "%s", kres_last_error());
    const StTensorInfo *ti = st_find(&f, "units.3.conv2.weight");
    CHECK(ti && ti->ndim == 3 && ti->shape[0] == 320 && ti->shape[2] == 17);
    CHECK(st_meta(&f, "kres_config") != NULL);
    st_close(&f);
    Kres *m = NULL;
    CHECKF(ckpt_load(path, 1, &m, NULL) == 0, "%s", kres_last_error());
    CHECK(m && kres_num_params(m) == 6924193 && kres_config(m)->dropout == 0.0f);
    kres_free(m);
}

/* kres_create_for_load: zeros and initial BN statistics instead of random weights; the
 * same tensor table and a forward that runs. Gradients come on first use, zeroed, and a
 * training step through a lazily allocated buffer matches one through an eager one. */
static void test_create_for_load_and_lazy_grads(void) {
    KresConfig c = tiny_config();
    Kres *a = kres_create(&c, 2, 7), *z = kres_create_for_load(&c, 2);
    CHECK(a && z);
    if (!a || !z) return;
    CHECK(kres_num_params(a) == kres_num_params(z) && kres_num_tensors(a) == kres_num_tensors(z));
    int params_zero = 1, buffers_ok = 1;
    for (size_t i = 0; i < kres_num_params(z); i++) params_zero &= kres_params(z)[i] == 0.0f;
    for (int t = 0; t < kres_num_tensors(z); t++) {
        const KresTensor *T = kres_tensor(z, t);
        if (T->kind != KRES_BUFFER) continue;
        const float want = strstr(T->name, ".running_var") ? 1.0f : 0.0f;
        for (size_t k = 0; k < T->numel; k++) buffers_ok &= kres_buffers(z)[T->offset + k] == want;
    }
    CHECK(params_zero);
    CHECK(buffers_ok);
    /* the same parameters copied in: the same training forward, backward and gradients,
     * though z's gradient buffer only comes into being in the backward */
    memcpy(kres_params(z), kres_params(a), kres_num_params(a) * sizeof(float));
    memcpy(kres_buffers(z), kres_buffers(a), kres_num_buffers(a) * sizeof(float));
    const size_t n = (size_t)2 * c.in_leads * c.in_len;
    float *x = malloc(n * sizeof(float)), *dl = malloc(2 * (size_t)c.n_outputs * sizeof(float));
    Rng rx;
    rng_seed(&rx, 3);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&rx);
    for (int i = 0; i < 2 * c.n_outputs; i++) dl[i] = 0.25f * (float)(i + 1);
    Rng r1, r2;
    rng_seed(&r1, 5), rng_seed(&r2, 5);
    kres_zero_grad(a);
    kres_forward(a, x, 2, 1, &r1);
    kres_backward(a, dl, NULL, NULL);
    kres_forward(z, x, 2, 1, &r2);
    kres_backward(z, dl, NULL, NULL);
    CHECK(memcmp(kres_grads(a), kres_grads(z), kres_num_params(a) * sizeof(float)) == 0);
    /* a fresh model's first kres_grads is all zeros */
    Kres *f = kres_create_for_load(&c, 1);
    int grads_zero = 1;
    for (size_t i = 0; f && i < kres_num_params(f); i++) grads_zero &= kres_grads(f)[i] == 0.0f;
    CHECK(f && grads_zero);
    kres_free(f);
    free(x), free(dl);
    kres_free(a), kres_free(z);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--twin-dump") == 0) {
        /* KRES_BACKEND=dnnl|ref: dump through that convolution backend (default: fast), so
         * the twin also checks oneDNN, the FFT path and the batch-1/2 direct and Winograd
         * kernels */
        const char *be = getenv("KRES_BACKEND");
        if (be && strcmp(be, "dnnl") == 0) nn_set_backend(NN_BACKEND_DNNL);
        else if (be && strcmp(be, "ref") == 0) nn_set_backend(NN_BACKEND_REF);
        twin_dump(argv[2]);
        TEST_MAIN_END();
    }
    int verbose = argc == 2 && strcmp(argv[1], "-v") == 0;
    test_config();
    test_default_config();
    test_gradients(verbose);
    test_dropout_and_modes();
    test_determinism();
    test_training();
    test_create_for_load_and_lazy_grads();
    TEST_MAIN_END();
}
