/* test_metrics.c — AUC (ties), DeLong variance and CI, bootstrap, ROC curve, threshold
 * rules, Wilson intervals, eval_binary edge cases, scores CSV, printing.
 * Expected values are worked out by hand (shown in comments) or, for DeLong, with a
 * one-off exact-rational Python script using the O(P*N) structural-component definition:
 *   V10_i = mean_j psi(x_i, y_j), V01_j = mean_i psi(x_i, y_j),  psi = 1 / 0.5 / 0 for >, ==, <
 *   Var = S10/P + S01/N with S10, S01 the sample variances (divisor P-1, N-1). */
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "eval/metrics.h"
#include "test.h"

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* random scores on a coarse grid (so there are many ties) and random labels */
static void random_case(uint64_t seed, int n, int grid, float *s, int *y) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = rng_uniform(&r) < 0.3;
        /* positives shifted up a little so the AUC is away from 0.5 */
        double v = rng_uniform(&r) + 0.3 * y[i];
        s[i] = (float)(floor(v * grid) / grid);
    }
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    float s;
    int i;
} SI;
static int cmp_si(const void *a, const void *b) {
    const SI *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return x->i - y->i;
}

/* The bounded draw metrics.c uses for resampling (Lemire's multiply-and-reject), so the
 * naive bootstrap below sees exactly the same resamples. */
static uint32_t draw_below(Rng *rng, uint32_t n) {
    uint64_t m = (rng_u64(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (low < t) {
            m = (rng_u64(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Naive stratified bootstrap built from roc_auc_naive, drawing the same random stream
 * as the fast path (positives, then negatives, each indexed in ascending score order). */
static void naive_bootstrap(const float *s, const int *y, int n, int B, uint64_t seed, double *lo, double *hi) {
    SI *pos = malloc(n * sizeof *pos), *neg = malloc(n * sizeof *neg);
    int P = 0, N = 0;
    for (int i = 0; i < n; i++) {
        if (y[i]) pos[P++] = (SI){s[i], i};
        else neg[N++] = (SI){s[i], i};
    }
    /* order within a class by (score, row) — the order the fast path sees them in */
    qsort(pos, P, sizeof *pos, cmp_si);
    qsort(neg, N, sizeof *neg, cmp_si);
    float *bs = malloc(n * sizeof *bs);
    int *by = malloc(n * sizeof *by);
    double *reps = malloc(B * sizeof *reps);
    Rng r;
    rng_seed(&r, seed);
    for (int b = 0; b < B; b++) {
        int k = 0;
        for (int i = 0; i < P; i++) bs[k] = pos[draw_below(&r, P)].s, by[k++] = 1;
        for (int j = 0; j < N; j++) bs[k] = neg[draw_below(&r, N)].s, by[k++] = 0;
        roc_auc_naive(bs, by, n, &reps[b]);
    }
    qsort(reps, B, sizeof *reps, cmp_d);
    double h = (B - 1) * 0.025;
    int i = (int)floor(h);
    *lo = reps[i] + (h - i) * (reps[i + 1] - reps[i]);
    h = (B - 1) * 0.975;
    i = (int)floor(h);
    *hi = reps[i] + (h - i) * (reps[i + 1] - reps[i]);
    free(pos), free(neg), free(bs), free(by), free(reps);
}

static void test_auc_small(void) {
    /* positives 0.35, 0.8; negatives 0.1, 0.4: pairs (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4)
     * -> 3 of 4 correct, AUC = 0.75 */
    const float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int y[] = {0, 0, 1, 1};
    double a = -1, an = -1, var = -1;
    CHECK(roc_auc(s, y, 4, &a) == 0);
    CHECK_CLOSE(a, 0.75, 1e-15, 0);
    CHECK(roc_auc_naive(s, y, 4, &an) == 0);
    CHECK_CLOSE(an, 0.75, 1e-15, 0);
    /* V10 = (0.5, 1), V01 = (1, 0.5): S10 = S01 = 0.125, Var = 0.125/2 + 0.125/2 = 0.125 */
    CHECK(auc_delong(s, y, 4, &a, &var) == 0);
    CHECK_CLOSE(var, 0.125, 1e-15, 0);
    double lo, hi, se;
    CHECK(auc_ci_delong(s, y, 4, &a, &lo, &hi, &se) == 0);
    /* logit(0.75) -/+ 1.96 sqrt(0.125)/(0.75*0.25), mapped back (python) */
    CHECK_CLOSE(lo, 0.069323277032, 1e-9, 0);
    CHECK_CLOSE(hi, 0.991791606805, 1e-9, 0);
    CHECK_CLOSE(se, sqrt(0.125), 1e-15, 0);
}

static void test_auc_ties(void) {
    /* one positive and one negative tied: half credit */
    const float s1[] = {0.5f, 0.5f};
    const int y1[] = {1, 0};
    double a;
    CHECK(roc_auc(s1, y1, 2, &a) == 0 && a == 0.5);
    /* positive 0.5 vs negatives 0.3 (win) and 0.5 (tie): (1 + 0.5)/2 = 0.75 */
    const float s2[] = {0.3f, 0.5f, 0.5f};
    const int y2[] = {0, 1, 0};
    CHECK(roc_auc(s2, y2, 3, &a) == 0);
    CHECK_CLOSE(a, 0.75, 1e-15, 0);
    /* 5 positives, 6 negatives with ties at 0.7 and 0.35:
     * exact python: AUC = 5/6, DeLong Var = 211/12000, logit CI 0.434918967111 - 0.970133181151 */
    const float s3[] = {0.9f, 0.8f, 0.7f, 0.6f, 0.35f, 0.7f, 0.5f, 0.4f, 0.35f, 0.2f, 0.1f};
    const int y3[] = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    double var, lo, hi;
    CHECK(auc_delong(s3, y3, 11, &a, &var) == 0);
    CHECK_CLOSE(a, 5.0 / 6.0, 1e-15, 0);
    CHECK_CLOSE(var, 211.0 / 12000.0, 1e-15, 0);
    CHECK(auc_delong_naive(s3, y3, 11, &a, &var) == 0);
    CHECK_CLOSE(var, 211.0 / 12000.0, 1e-15, 0);
    CHECK(auc_ci_delong(s3, y3, 11, &a, &lo, &hi, NULL) == 0);
    CHECK_CLOSE(lo, 0.434918967111, 1e-9, 0);
    CHECK_CLOSE(hi, 0.970133181151, 1e-9, 0);
    /* constant scores: every pair tied, AUC 0.5 */
    float c[20];
    int yc[20];
    for (int i = 0; i < 20; i++) c[i] = 0.42f, yc[i] = i % 3 == 0;
    CHECK(roc_auc(c, yc, 20, &a) == 0 && a == 0.5);
    CHECK(auc_ci_delong(c, yc, 20, &a, &lo, &hi, NULL) == 0);
    CHECK(lo <= 0.5 && hi >= 0.5);
    /* perfect separation: AUC 1, DeLong variance 0 -> CI [1, 1] on the plain-scale fallback */
    const float s4[] = {0.1f, 0.2f, 0.8f, 0.9f};
    const int y4[] = {0, 0, 1, 1};
    CHECK(auc_ci_delong(s4, y4, 4, &a, &lo, &hi, NULL) == 0);
    CHECK(a == 1.0 && lo == 1.0 && hi == 1.0);
}

static void test_auc_vs_naive(void) {
    enum { N = 400 };
    float s[N];
    int y[N];
    int ok_auc = 1, ok_var = 1;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        random_case(seed, N, seed % 2 ? 10 : 1000, s, y);
        double a, v, an, vn;
        CHECK(auc_delong(s, y, N, &a, &v) == 0);
        CHECK(auc_delong_naive(s, y, N, &an, &vn) == 0);
        ok_auc &= fabs(a - an) <= 1e-12;
        ok_var &= fabs(v - vn) <= 1e-12 * vn;
    }
    CHECK(ok_auc);
    CHECK(ok_var);
    /* a single positive: AUC defined, DeLong variance is not */
    const float s1[] = {0.9f, 0.1f, 0.2f};
    const int y1[] = {1, 0, 0};
    double a, v, lo, hi;
    CHECK(auc_delong(s1, y1, 3, &a, &v) == 0 && a == 1.0 && isnan(v));
    CHECK(auc_ci_delong(s1, y1, 3, &a, &lo, &hi, NULL) == 0 && isnan(lo) && isnan(hi));
}

static void test_auc_errors(void) {
    const float s[] = {0.1f, 0.2f, 0.3f};
    const int pos[] = {1, 1, 1}, neg[] = {0, 0, 0}, bad[] = {0, 2, 1};
    double a;
    kres_clear_error();
    CHECK(roc_auc(s, pos, 3, &a) == -1);
    CHECK(strstr(kres_last_error(), "undefined") && strstr(kres_last_error(), "positive"));
    CHECK(roc_auc(s, neg, 3, &a) == -1);
    CHECK(strstr(kres_last_error(), "negative") != NULL);
    CHECK(roc_auc(s, pos, 0, &a) == -1);
    CHECK(strstr(kres_last_error(), "no examples") != NULL);
    CHECK(roc_auc(s, bad, 3, &a) == -1);
    CHECK(strstr(kres_last_error(), "row 1") != NULL);
    const float sn[] = {0.1f, 0.2f, NAN, 0.3f};
    const int yn[] = {0, 1, 0, 1};
    CHECK(roc_auc(sn, yn, 4, &a) == -1);
    CHECKF(strstr(kres_last_error(), "row 2") && strstr(kres_last_error(), "NaN"), "%s", kres_last_error());
    RocCurve c;
    CHECK(roc_curve(s, pos, 3, &c) == -1 && c.n == 0);
    CHECK(auc_ci_bootstrap(s, neg, 3, 100, 1, &a, &a, &a) == -1);
}

static void test_bootstrap(void) {
    enum { N = 300 };
    float s[N];
    int y[N];
    random_case(7, N, 20, s, y);
    double a1, lo1, hi1, a2, lo2, hi2, lo3, hi3, a3;
    CHECK(auc_ci_bootstrap(s, y, N, 200, 42, &a1, &lo1, &hi1) == 0);
    CHECK(auc_ci_bootstrap(s, y, N, 200, 42, &a2, &lo2, &hi2) == 0);
    CHECK(memcmp(&lo1, &lo2, sizeof lo1) == 0 && memcmp(&hi1, &hi2, sizeof hi1) == 0);
    CHECK(auc_ci_bootstrap(s, y, N, 200, 43, &a3, &lo3, &hi3) == 0);
    CHECK(lo3 != lo1 || hi3 != hi1);
    CHECK(lo1 < a1 && a1 < hi1);
    /* same resamples through the naive O(P*N) AUC */
    double nlo, nhi;
    naive_bootstrap(s, y, N, 200, 42, &nlo, &nhi);
    CHECK_CLOSE(lo1, nlo, 1e-12, 0);
    CHECK_CLOSE(hi1, nhi, 1e-12, 0);
    /* bootstrap and DeLong agree roughly at this n (seeded, so not flaky) */
    double da, dlo, dhi;
    CHECK(auc_ci_delong(s, y, N, &da, &dlo, &dhi, NULL) == 0);
    CHECK(da == a1);
    CHECKF(fabs(dlo - lo1) < 0.03 && fabs(dhi - hi1) < 0.03, "delong %.4f-%.4f boot %.4f-%.4f", dlo, dhi, lo1, hi1);
    CHECK(auc_ci_bootstrap(s, y, N, 1, 42, &a1, &lo1, &hi1) == -1);
}

/* exact Binomial(n, p) CDF at k from log-pmfs */
static double binom_cdf(long n, double p, long k) {
    double c = 0;
    for (long i = 0; i <= k; i++)
        c += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) + i * log(p) + (n - i) * log1p(-p));
    return c;
}

static void test_binomial(void) {
    Rng r;
    rng_seed(&r, 99);
    CHECK(eval_binomial(&r, 0, 0.5) == 0 && eval_binomial(&r, 100, 0.0) == 0 && eval_binomial(&r, 100, 1.0) == 100);
    /* moments against n p and n p (1 - p), several regimes (Bernoulli tail only, and Beta splitting) */
    const long ns[] = {50, 1000, 1000000, 1000000};
    const double ps[] = {0.5, 0.02, 0.3, 0.999};
    enum { D = 4000 };
    for (int c = 0; c < 4; c++) {
        double m = 0, v = 0;
        long lo = ns[c], hi = 0;
        for (int d = 0; d < D; d++) {
            long k = eval_binomial(&r, ns[c], ps[c]);
            lo = k < lo ? k : lo, hi = k > hi ? k : hi;
            m += k, v += (double)k * k;
        }
        m /= D;
        v = v / D - m * m;
        double em = ns[c] * ps[c], ev = em * (1 - ps[c]);
        CHECKF(fabs(m - em) < 5 * sqrt(ev / D), "n=%ld p=%g mean %.3f vs %.3f", ns[c], ps[c], m, em);
        CHECKF(fabs(v / ev - 1) < 0.12, "n=%ld p=%g var %.3f vs %.3f", ns[c], ps[c], v, ev);
        CHECK(lo >= 0 && hi <= ns[c]);
    }
    /* distribution shape: empirical CDF vs the exact CDF at several points (KS-style bound) */
    enum { E = 20000 };
    static long cnt[301];
    for (int d = 0; d < E; d++) cnt[eval_binomial(&r, 300, 0.37)]++;
    double worst = 0, cum = 0;
    for (long k = 0; k <= 300; k++) {
        cum += (double)cnt[k] / E;
        if (k >= 90 && k <= 135) worst = fmax(worst, fabs(cum - binom_cdf(300, 0.37, k)));
    }
    CHECKF(worst < 0.015, "max |ECDF - CDF| = %.4f", worst);
    /* deterministic for the same state */
    Rng a, b;
    rng_seed(&a, 5), rng_seed(&b, 5);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= eval_binomial(&a, 123456, 0.25) == eval_binomial(&b, 123456, 0.25);
    CHECK(same);
}

static void test_wilson(void) {
    /* 8/10: the textbook Wilson 95% interval 0.4902 - 0.9433 (closed form, python) */
    Prop p = wilson_interval(8, 10, EVAL_Z95);
    CHECK(p.k == 8 && p.n == 10 && p.p == 0.8);
    CHECK_CLOSE(p.lo, 0.490162471537, 1e-11, 0);
    CHECK_CLOSE(p.hi, 0.943317848546, 1e-11, 0);
    p = wilson_interval(0, 10, EVAL_Z95);
    CHECK(p.lo == 0.0);
    CHECK_CLOSE(p.hi, 0.277532799863, 1e-11, 0);
    p = wilson_interval(10, 10, EVAL_Z95);
    CHECK(p.hi == 1.0);
    CHECK_CLOSE(p.lo, 0.722467200137, 1e-11, 0);
    p = wilson_interval(0, 0, EVAL_Z95);
    CHECK(isnan(p.p) && isnan(p.lo) && isnan(p.hi));
}

static void test_roc_curve(void) {
    const float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int y[] = {0, 0, 1, 1};
    RocCurve c;
    CHECK(roc_curve(s, y, 4, &c) == 0);
    /* thresholds inf, 0.8, 0.4, 0.35, 0.1 -> (0,0) (0,.5) (.5,.5) (.5,1) (1,1) */
    const double fpr[] = {0, 0, 0.5, 0.5, 1}, tpr[] = {0, 0.5, 0.5, 1, 1};
    CHECK(c.n == 5);
    int ok = c.n == 5 && isinf(c.thr[0]);
    for (int k = 0; ok && k < 5; k++) ok &= c.fpr[k] == fpr[k] && c.tpr[k] == tpr[k];
    CHECK(ok);
    CHECK(c.thr[1] == (double)0.8f && c.thr[4] == (double)0.1f);
    roc_curve_free(&c);
    /* trapezoid area under the full curve equals the tie-aware AUC */
    enum { N = 5000 };
    static float rs[N];
    static int ry[N];
    random_case(3, N, 500, rs, ry);
    CHECK(roc_curve(rs, ry, N, &c) == 0);
    double area = 0, a;
    for (int k = 1; k < c.n; k++) area += (c.fpr[k] - c.fpr[k - 1]) * (c.tpr[k] + c.tpr[k - 1]) / 2;
    CHECK(roc_auc(rs, ry, N, &a) == 0);
    CHECK_CLOSE(area, a, 1e-12, 0);
    RocCurve d;
    CHECK(roc_downsample(&c, 100, &d) == 0);
    CHECK(d.n >= 50 && d.n <= 100);
    int mono = d.fpr[0] == 0 && d.tpr[0] == 0 && d.fpr[d.n - 1] == 1 && d.tpr[d.n - 1] == 1;
    for (int k = 1; k < d.n; k++) mono &= d.fpr[k] >= d.fpr[k - 1] && d.tpr[k] >= d.tpr[k - 1] && d.thr[k] < d.thr[k - 1];
    CHECK(mono);
    double darea = 0;
    for (int k = 1; k < d.n; k++) darea += (d.fpr[k] - d.fpr[k - 1]) * (d.tpr[k] + d.tpr[k - 1]) / 2;
    CHECK(fabs(darea - a) < 0.01);
    roc_curve_free(&d);
    CHECK(roc_downsample(&c, 1, &d) == -1);
    roc_curve_free(&c);
}

static void test_thresholds(void) {
    /* descending: 0.8+ 0.7- 0.6+ 0.5+ 0.4- 0.3+ 0.2- 0.1-   (P = 4, N = 4)
     * J at each threshold: .25 0 .25 .5 .25 .5 .25 0 -> max 0.5 at 0.5 and 0.3; highest wins */
    const float s[] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f};
    const int y[] = {0, 0, 1, 0, 1, 1, 0, 1};
    double t;
    CHECK(choose_threshold(s, y, 8, "youden", &t) == 0 && (float)t == 0.5f);
    /* sens >= 0.9 needs all 4 positives: first reached at 0.3 */
    CHECK(choose_threshold(s, y, 8, "sens=0.9", &t) == 0 && (float)t == 0.3f);
    /* sens >= 0.75 (3 of 4): reached at 0.5 (the target is met exactly) */
    CHECK(choose_threshold(s, y, 8, "sens=0.75", &t) == 0 && (float)t == 0.5f);
    /* spec >= 0.9 allows no false positive: lowest such threshold is 0.8 */
    CHECK(choose_threshold(s, y, 8, "spec=0.9", &t) == 0 && (float)t == 0.8f);
    /* spec >= 0.75 allows one: 0.7 .. 0.5 qualify, the lowest is 0.5 */
    CHECK(choose_threshold(s, y, 8, "spec=0.75", &t) == 0 && (float)t == 0.5f);
    CHECK(choose_threshold(s, y, 8, "fixed=0.42", &t) == 0 && t == 0.42);
    /* chosen thresholds come back as short decimals: 0.8, not 0.800000011920929 */
    CHECK(choose_threshold(s, y, 8, "spec=0.9", &t) == 0 && t == 0.8);
    /* spec unreachable at any observed score: threshold just above the max, nobody positive */
    const float s2[] = {0.9f, 0.9f, 0.1f};
    const int y2[] = {0, 1, 0};
    CHECK(choose_threshold(s2, y2, 3, "spec=0.9", &t) == 0 && t > (double)0.9f && t < 0.9001);
    EvalResult r;
    CHECK(eval_binary(s2, y2, 3, t, NULL, &r) == 0);
    CHECK(r.tp == 0 && r.fp == 0 && isnan(r.ppv.p) && r.spec.p == 1.0);
    ThresholdRule rule;
    CHECK(threshold_rule_parse("sens=0.9", &rule) == 0 && rule.kind == THR_SENS && rule.value == 0.9);
    CHECK(threshold_rule_parse("youden", &rule) == 0 && rule.kind == THR_YOUDEN);
    CHECK(threshold_rule_parse("fixed=-2.5", &rule) == 0 && rule.kind == THR_FIXED && rule.value == -2.5);
    const char *bad[] = {"sens=1.5", "spec=0", "sens=", "fixed=abc", "Youden", "sens 0.9", "", "fixed=nan"};
    int all_bad = 1;
    for (int i = 0; i < N_OF(bad); i++) all_bad &= threshold_rule_parse(bad[i], &rule) == -1;
    CHECK(all_bad);
    const int allpos[] = {1, 1, 1};
    CHECK(choose_threshold(s, allpos, 3, "youden", &t) == -1);
    CHECK(choose_threshold(s, allpos, 3, "sens=0.9", &t) == 0 && (float)t == 0.1f);
    CHECK(choose_threshold(s, allpos, 3, "spec=0.9", &t) == -1);
    CHECK(strstr(kres_last_error(), "negative") != NULL);
}

static void test_eval_binary(void) {
    /* threshold 0.5 on the small case: predictions 0 0 0 1 -> TP 1 FN 1 TN 2 FP 0 */
    const float s[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const int y[] = {0, 0, 1, 1};
    EvalOptions o;
    eval_options_default(&o);
    EvalResult r;
    CHECK(eval_binary(s, y, 4, 0.5, &o, &r) == 0);
    CHECK(r.n == 4 && r.npos == 2 && r.nneg == 2);
    CHECK(r.tp == 1 && r.fn == 1 && r.tn == 2 && r.fp == 0);
    CHECK(r.sens.p == 0.5 && r.spec.p == 1.0 && r.ppv.p == 1.0);
    CHECK_CLOSE(r.npv.p, 2.0 / 3.0, 1e-15, 0);
    CHECK(r.acc.p == 0.75 && r.acc.k == 3 && r.acc.n == 4);
    Prop w = wilson_interval(1, 2, EVAL_Z95);
    CHECK(r.sens.lo == w.lo && r.sens.hi == w.hi);
    CHECK_CLOSE(r.f1, 2.0 / 3.0, 1e-15, 0); /* 2TP / (2TP + FP + FN) = 2/3 */
    CHECK(r.f1_lo <= r.f1 && r.f1 <= r.f1_hi);
    CHECK_CLOSE(r.auc, 0.75, 1e-15, 0);
    CHECK(strstr(r.ci_method, "DeLong") != NULL);
    CHECK(r.n_notes == 0);
    /* score exactly at the threshold is positive */
    CHECK(eval_binary(s, y, 4, (double)0.35f, &o, &r) == 0 && r.tp == 2 && r.fp == 1);
    /* ... also when the threshold is the decimal 0.35 (compared at float precision) */
    CHECK(eval_binary(s, y, 4, 0.35, &o, &r) == 0 && r.tp == 2 && r.fp == 1);
    CHECK(eval_binary(s, y, 4, 1e300, &o, &r) == 0 && r.tp == 0 && r.fp == 0);
    CHECK(eval_binary(s, y, 4, -1e300, &o, &r) == 0 && r.tp == 2 && r.fp == 2);

    /* bootstrap option: reproducible, says so in ci_method */
    enum { N = 200 };
    float rs[N];
    int ry[N];
    random_case(11, N, 50, rs, ry);
    o.ci = EVAL_CI_BOOTSTRAP;
    o.n_boot = 300;
    o.seed = 5;
    EvalResult r1, r2;
    CHECK(eval_binary(rs, ry, N, 0.6, &o, &r1) == 0);
    CHECK(eval_binary(rs, ry, N, 0.6, &o, &r2) == 0);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);
    CHECK(strstr(r1.ci_method, "bootstrap") && strstr(r1.ci_method, "B=300") && strstr(r1.ci_method, "seed=5"));
    CHECK(r1.auc_lo < r1.auc && r1.auc < r1.auc_hi && isnan(r1.auc_se));
    CHECK(r1.f1_lo < r1.f1 && r1.f1 < r1.f1_hi);
    o.n_boot = 0;
    o.ci = EVAL_CI_DELONG;
    CHECK(eval_binary(rs, ry, N, 0.6, &o, &r1) == 0 && isnan(r1.f1_lo) && !isnan(r1.f1));

    /* all positive: AUC undefined but sensitivity is still there */
    const int allpos[] = {1, 1, 1, 1};
    eval_options_default(&o);
    kres_clear_error();
    CHECK(eval_binary(s, allpos, 4, 0.3, &o, &r) == EVAL_AUC_UNDEFINED);
    CHECK(isnan(r.auc) && isnan(r.auc_lo));
    CHECK(strstr(kres_last_error(), "AUC undefined") != NULL);
    CHECK(r.tp == 3 && r.fn == 1 && r.sens.p == 0.75 && isnan(r.spec.p));
    CHECK(!isnan(r.ppv.p) && r.ppv.p == 1.0);
    int has_spec_note = 0;
    for (int i = 0; i < r.n_notes; i++) has_spec_note |= strstr(r.notes[i], "specificity undefined") != NULL;
    CHECK(has_spec_note);
    /* all negative with nothing predicted positive: PPV and F1 undefined, noted */
    const int allneg[] = {0, 0, 0, 0};
    CHECK(eval_binary(s, allneg, 4, 0.9, &o, &r) == EVAL_AUC_UNDEFINED);
    CHECK(r.tn == 4 && r.spec.p == 1.0 && isnan(r.sens.p) && isnan(r.ppv.p) && isnan(r.f1));
    int has_ppv = 0, has_f1 = 0;
    for (int i = 0; i < r.n_notes; i++) {
        has_ppv |= strstr(r.notes[i], "PPV undefined") != NULL;
        has_f1 |= strstr(r.notes[i], "F1 undefined") != NULL;
    }
    CHECK(has_ppv && has_f1);
    CHECK(eval_binary(s, y, 0, 0.5, &o, &r) == -1);
    const float sn[] = {0.1f, NAN};
    const int yn[] = {0, 1};
    CHECK(eval_binary(sn, yn, 2, 0.5, &o, &r) == -1 && strstr(kres_last_error(), "row 1"));
    CHECK(eval_binary(s, y, 4, NAN, &o, &r) == -1);

    /* printing: JSON parses back; undefined values come out as null / n/a */
    CHECK(eval_binary(s, allneg, 4, 0.9, &o, &r) == EVAL_AUC_UNDEFINED);
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    eval_print(&r, 1, mf);
    fclose(mf);
    char err[200];
    JsonValue *v = json_parse(buf, len, err, sizeof err);
    CHECKF(v != NULL, "%s: %s", err, buf);
    if (v) {
        CHECK(json_get(v, "auc") && json_get(v, "auc")->type == JSON_NULL);
        CHECK(json_num(json_get(json_get(v, "confusion"), "tn"), -1) == 4);
        CHECK(json_get(json_get(v, "ppv"), "value")->type == JSON_NULL);
        CHECK(json_num(json_get(json_get(v, "specificity"), "value"), -1) == 1.0);
        CHECK(json_get(v, "notes") && json_get(v, "notes")->n >= 2);
        json_free(v);
    }
    free(buf);
    mf = open_memstream(&buf, &len);
    eval_print(&r, 0, mf);
    fclose(mf);
    CHECK(strstr(buf, "AUC          n/a") && strstr(buf, "note: PPV undefined") && strstr(buf, "TN 4"));
    free(buf);
    r.threshold = NAN; /* callers pooling per-fold thresholds print no single threshold */
    mf = open_memstream(&buf, &len);
    eval_print(&r, 0, mf);
    fclose(mf);
    CHECK(strstr(buf, "threshold    n/a") != NULL && strstr(buf, "nan") == NULL);
    free(buf);
}

static void test_csv(void) {
    char dir[] = "/tmp/kres_test_metrics_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p[256];
    snprintf(p, sizeof p, "%s/s.csv", dir);
    const char *ids[] = {"a", "b,c", "d\"e"};
    const float s[] = {0.25f, 1.0f / 3.0f, -7.5e-8f};
    const int y[] = {1, 0, 1};
    CHECK(scores_csv_write(p, ids, s, y, 3) == 0);
    float *rs;
    int *ry, n;
    CHECK(scores_csv_read(p, &rs, &ry, &n) == 0);
    CHECK(n == 3 && memcmp(rs, s, sizeof s) == 0 && memcmp(ry, y, sizeof y) == 0);
    free(rs), free(ry);
    /* column order does not matter, extra columns are fine */
    CHECK(write_file_atomic(p, "score,x,label\n0.9,q,1\r\n0.1,r,0\n", 31) == 0);
    CHECK(scores_csv_read(p, &rs, &ry, &n) == 0 && n == 2 && rs[0] == 0.9f && ry[1] == 0);
    free(rs), free(ry);
    const char *bad[][2] = {{"label,score\n1,0.5\n2,0.1\n", "line 3"},
                            {"label,score\n1,0.5\n0,abc\n", "line 3"},
                            {"label,score\n1,nan\n", "line 2"},
                            {"label,score\n1,0.5\n0\n", "line 3"},
                            {"lab,score\n1,0.5\n", "label"},
                            {"label,score\n", "no data rows"},
                            {"", "empty"}};
    int ok = 1;
    for (int i = 0; i < N_OF(bad); i++) {
        write_file_atomic(p, bad[i][0], strlen(bad[i][0]));
        int rc = scores_csv_read(p, &rs, &ry, &n);
        int good = rc == -1 && strstr(kres_last_error(), bad[i][1]) && strstr(kres_last_error(), p);
        if (!good) fprintf(stderr, "csv case %d: %s\n", i, kres_last_error());
        ok &= good;
    }
    CHECK(ok);
    unlink(p);
    rmdir(dir);
}

int main(void) {
    test_auc_small();
    test_auc_ties();
    test_auc_vs_naive();
    test_auc_errors();
    test_bootstrap();
    test_wilson();
    test_binomial();
    test_roc_curve();
    test_thresholds();
    test_eval_binary();
    test_csv();
    TEST_MAIN_END();
}
