/* test_metrics.c — AUC (ties), DeLong variance and CI, bootstrap, ROC curve, threshold
 * rules, Wilson intervals, eval_binary edge cases, scores CSV, printing, and the paired
 * DeLong test of two AUCs (hand-worked case, O(P*N) reference, symmetry and edge cases)
 * with the check that two scores files describe the same cases.
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

/* ---- paired DeLong test ------------------------------------------------------------------ */

/* Hand-worked: 3 positives, 3 negatives, a tie in score B.
 *   labels  1    1    1    0    0    0
 *   A      0.9  0.6  0.4  0.5  0.3  0.1
 *   B      0.8  0.4  0.7  0.4  0.6  0.2
 * A: V10 (positives) = 1, 1, 2/3 (0.4 beats 0.3 and 0.1 only); V01 (negatives) = 2/3, 1, 1;
 *    AUC_A = 8/9.
 * B: V10 = 1, 1/2 (0.4 beats 0.2, ties 0.4), 1; V01 = 5/6 (0.8, 0.7 beat 0.4, 0.4 ties it),
 *    2/3, 1; AUC_B = 5/6.  diff = 8/9 - 5/6 = 1/18.
 * Differences of the placements: positives 0, 1/2, -1/3 (mean 1/18), deviations -1, 8, -7
 *    (x 1/18): S10_dd = 114/324 / 2 = 19/108; negatives -1/6, 1/3, 0 (mean 1/18),
 *    deviations -4, 5, -1 (x 1/18): S01_dd = 42/324 / 2 = 7/108.
 *    var(diff) = 19/108/3 + 7/108/3 = 13/162, se = 0.283278861866.
 * Separately: var_A = 1/27/3 + 1/27/3 = 2/81, var_B = 1/12/3 + 1/36/3 = 1/27,
 *    cov = S10_ab/3 + S01_ab/3 = (-1/36)/3 + 0 = -1/108; check 2/81 + 1/27 + 2/108 = 13/162.
 *    corr = (-1/108) / sqrt(2/81 * 1/27) = -sqrt(6)/8.
 * z = (1/18) / sqrt(13/162) = 1/sqrt(26) = 0.196116135138; p = erfc(z/sqrt 2) = 0.844519267473;
 * 95% CI 1/18 -/+ 1.959964 se = -0.499660811284 .. 0.610771922395. */
static const float PA[] = {0.9f, 0.6f, 0.4f, 0.5f, 0.3f, 0.1f};
static const float PB[] = {0.8f, 0.4f, 0.7f, 0.4f, 0.6f, 0.2f};
static const int PY[] = {1, 1, 1, 0, 0, 0};

static void check_hand_case(const AucCompare *c, const char *what) {
    CHECKF(c->n == 6 && c->npos == 3 && c->nneg == 3, "%s", what);
    CHECK_CLOSE(c->auc_a, 8.0 / 9.0, 1e-15, 0);
    CHECK_CLOSE(c->auc_b, 5.0 / 6.0, 1e-15, 0);
    CHECK_CLOSE(c->diff, 1.0 / 18.0, 1e-15, 0);
    CHECK_CLOSE(c->var_a, 2.0 / 81.0, 1e-15, 0);
    CHECK_CLOSE(c->var_b, 1.0 / 27.0, 1e-15, 0);
    CHECK_CLOSE(c->cov, -1.0 / 108.0, 1e-15, 0);
    CHECK_CLOSE(c->se * c->se, 13.0 / 162.0, 1e-15, 0);
    CHECK_CLOSE(c->se, 0.283278861866, 1e-11, 0);
    CHECK_CLOSE(c->z, 1.0 / sqrt(26.0), 1e-14, 0);
    CHECK_CLOSE(c->p, 0.844519267473, 1e-11, 0);
    CHECK_CLOSE(c->corr, -sqrt(6.0) / 8.0, 1e-14, 0);
    CHECK_CLOSE(c->lo, -0.499660811284, 1e-11, 0);
    CHECK_CLOSE(c->hi, 0.610771922395, 1e-11, 0);
    CHECKF(c->note[0] == '\0', "%s: note '%s'", what, c->note);
}

static void test_paired_hand(void) {
    AucCompare c, cn;
    CHECK(auc_delong_paired(PA, PB, PY, 6, &c) == 0);
    check_hand_case(&c, "fast");
    CHECK(auc_delong_paired_naive(PA, PB, PY, 6, &cn) == 0);
    check_hand_case(&cn, "naive");
    /* each AUC's own interval is auc_ci_delong's */
    double a, lo, hi;
    CHECK(auc_ci_delong(PB, PY, 6, &a, &lo, &hi, NULL) == 0);
    CHECK(c.auc_b == a && c.lo_b == lo && c.hi_b == hi);
}

/* Two correlated integer-valued scores (many ties within and across them). */
static void paired_case(uint64_t seed, int n, int grid, float *a, float *b, int *y) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = rng_uniform(&r) < 0.3;
        double latent = rng_uniform(&r) + 0.4 * y[i];
        a[i] = (float)floor((latent + 0.3 * rng_uniform(&r)) * grid);
        b[i] = (float)floor((latent + 0.3 * rng_uniform(&r) + 0.1 * y[i]) * grid);
    }
}

/* |x - y| <= tol (1 + |y|), NaN only with NaN */
static int near(double x, double y, double tol) {
    if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
    return fabs(x - y) <= tol * (1 + fabs(y));
}

static void test_paired_vs_naive(void) {
    enum { N = 300 };
    float a[N], b[N];
    int y[N];
    int ok = 1, ok_own = 1, ok_id = 1, ok_corr = 1, cases = 0;
    const int sizes[] = {5, 12, 60, N}, grids[] = {3, 8, 50};
    for (uint64_t seed = 1; seed <= 6; seed++)
        for (int si = 0; si < N_OF(sizes); si++)
            for (int gi = 0; gi < N_OF(grids); gi++) {
                int n = sizes[si];
                paired_case(seed * 100 + si * 10 + gi, n, grids[gi], a, b, y);
                AucCompare f, s;
                if (auc_delong_paired(a, b, y, n, &f) != 0) continue; /* a one-class draw at n = 5 */
                CHECK(auc_delong_paired_naive(a, b, y, n, &s) == 0);
                cases++;
                const double fv[] = {f.auc_a, f.auc_b, f.var_a, f.var_b, f.cov, f.corr, f.diff, f.se,
                                     f.lo, f.hi, f.z, f.p, f.lo_a, f.hi_a, f.lo_b, f.hi_b};
                const double sv[] = {s.auc_a, s.auc_b, s.var_a, s.var_b, s.cov, s.corr, s.diff, s.se,
                                     s.lo, s.hi, s.z, s.p, s.lo_a, s.hi_a, s.lo_b, s.hi_b};
                for (int k = 0; k < N_OF(fv); k++) {
                    /* the correlation is 0/0 when a variance is 0 (perfect separation at small n):
                     * NaN on the fast path, rounding noise over rounding noise in the naive one */
                    if (k == 5 && !(s.var_a > 1e-12 && s.var_b > 1e-12)) continue;
                    if (!near(fv[k], sv[k], 1e-11)) {
                        fprintf(stderr, "paired seed %llu n %d grid %d field %d: %.17g vs naive %.17g\n",
                                (unsigned long long)seed, n, grids[gi], k, fv[k], sv[k]);
                        ok = 0;
                    }
                }
                /* each AUC and variance bit-identical to the unpaired DeLong */
                double au, va, bu, vb;
                auc_delong(a, y, n, &au, &va);
                auc_delong(b, y, n, &bu, &vb);
                ok_own &= f.auc_a == au && f.auc_b == bu && (f.var_a == va || (isnan(va) && isnan(f.var_a))) &&
                          (f.var_b == vb || (isnan(vb) && isnan(f.var_b)));
                /* var(A - B) = var A + var B - 2 cov (computed from the differences directly) */
                if (!isnan(f.se)) ok_id &= near(f.se * f.se, f.var_a + f.var_b - 2 * f.cov, 1e-12);
                /* these scores share a latent variable: positively correlated AUC estimates,
                 * so pairing narrows the interval (at sizes where the estimates mean something) */
                if (n == N) ok_corr &= f.corr > 0.2 && f.se * f.se < f.var_a + f.var_b;
            }
    CHECKF(cases >= 60, "%d cases", cases);
    CHECK(ok);
    CHECK(ok_own);
    CHECK(ok_id);
    CHECK(ok_corr);
}

static void test_paired_properties(void) {
    enum { N = 200 };
    float a[N], b[N], c[N];
    int y[N];
    paired_case(77, N, 10, a, b, y);
    /* swapping A and B flips the difference, its interval and z; p and se stay */
    AucCompare ab, ba;
    CHECK(auc_delong_paired(a, b, y, N, &ab) == 0 && auc_delong_paired(b, a, y, N, &ba) == 0);
    CHECK(ab.diff != 0 && ba.diff == -ab.diff && ba.z == -ab.z && ba.p == ab.p && ba.se == ab.se);
    CHECK(ba.lo == -ab.hi && ba.hi == -ab.lo && ba.cov == ab.cov && ba.auc_a == ab.auc_b);
    CHECK(ab.p > 0 && ab.p < 1 && ab.lo < ab.diff && ab.diff < ab.hi);

    /* A == B, and B a monotone transform of A: the same placements, so diff 0, se 0, p 1 */
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < N; i++) c[i] = k ? 3.0f * a[i] - 7.0f : a[i];
        AucCompare s;
        CHECK(auc_delong_paired(a, c, y, N, &s) == 0);
        CHECKF(s.diff == 0 && s.se == 0 && s.z == 0 && s.p == 1 && s.lo == 0 && s.hi == 0, "k=%d se %g", k, s.se);
        CHECK_CLOSE(s.corr, 1.0, 1e-12, 0);
        CHECK(strstr(s.note, "alike") != NULL);
    }

    /* B constant: V10_B = V01_B = 1/2 for every case, so S_bb = S_ab = 0 and the variance of
     * the difference is exactly the unpaired DeLong variance of A; AUC_B = 1/2 */
    for (int i = 0; i < N; i++) c[i] = 0.25f;
    AucCompare s;
    CHECK(auc_delong_paired(a, c, y, N, &s) == 0);
    double au, va;
    CHECK(auc_delong(a, y, N, &au, &va) == 0);
    CHECK(s.auc_b == 0.5 && s.var_b == 0 && s.cov == 0 && isnan(s.corr));
    CHECK_CLOSE(s.se * s.se, va, 0, 1e-13);
    CHECK_CLOSE(s.diff, au - 0.5, 1e-15, 0);

    /* fewer than 2 positives: the AUCs are defined, the test is not */
    const float a1[] = {0.9f, 0.1f, 0.2f, 0.3f}, b1[] = {0.2f, 0.1f, 0.5f, 0.3f};
    const int y1[] = {1, 0, 0, 0};
    CHECK(auc_delong_paired(a1, b1, y1, 4, &s) == 0);
    CHECK(s.auc_a == 1.0 && fabs(s.auc_b - 1.0 / 3.0) < 1e-15);
    CHECK(isnan(s.se) && isnan(s.z) && isnan(s.p) && isnan(s.lo) && isnan(s.hi) && isnan(s.corr));
    CHECK(strstr(s.note, "at least 2 positives and 2 negatives") != NULL);
    CHECK(auc_delong_paired_naive(a1, b1, y1, 4, &s) == 0 && isnan(s.se) && isnan(s.p));

    /* degenerate: A separates perfectly (variance 0), B is constant: the AUCs differ by 1/2
     * but the estimated variance of the difference is 0; z and p are undefined, not 0 */
    const float a2[] = {0.9f, 0.8f, 0.1f, 0.2f}, b2[] = {0.5f, 0.5f, 0.5f, 0.5f};
    const int y2[] = {1, 1, 0, 0};
    CHECK(auc_delong_paired(a2, b2, y2, 4, &s) == 0);
    CHECK(s.diff == 0.5 && s.se == 0 && isnan(s.z) && isnan(s.p) && s.lo == 0.5 && s.hi == 0.5);
    CHECK(strstr(s.note, "degenerate") != NULL);
}

static void test_paired_errors(void) {
    const float a[] = {0.1f, 0.2f, 0.3f, 0.4f}, b[] = {0.1f, 0.2f, NAN, 0.4f};
    const int y[] = {0, 1, 0, 1}, pos[] = {1, 1, 1, 1}, bad[] = {0, 1, 3, 1};
    AucCompare c;
    CHECK(auc_delong_paired(a, b, y, 4, &c) == -1);
    CHECKF(strstr(kres_last_error(), "row 2: score B is NaN") != NULL, "%s", kres_last_error());
    CHECK(auc_delong_paired(b, a, y, 4, &c) == -1);
    CHECK(strstr(kres_last_error(), "row 2: score A is NaN") != NULL);
    const float inf[] = {0.1f, INFINITY, 0.3f, 0.4f};
    CHECK(auc_delong_paired_naive(a, inf, y, 4, &c) == -1);
    CHECK(strstr(kres_last_error(), "row 1: score B is infinite") != NULL);
    CHECK(auc_delong_paired(a, a, pos, 4, &c) == -1);
    CHECK(strstr(kres_last_error(), "undefined") != NULL);
    CHECK(auc_delong_paired(a, a, bad, 4, &c) == -1);
    CHECK(strstr(kres_last_error(), "row 2: label") != NULL);
    CHECK(auc_delong_paired(a, a, y, 0, &c) == -1);
}

static void test_paired_print(void) {
    AucCompare c;
    CHECK(auc_delong_paired(PA, PB, PY, 6, &c) == 0);
    char *buf;
    size_t len;
    FILE *mf = open_memstream(&buf, &len);
    auc_compare_print(&c, "a.csv", "b \"x\".csv", 1, mf);
    fclose(mf);
    char err[128];
    JsonValue *v = json_parse(buf, len, err, sizeof err);
    CHECKF(v != NULL, "%s: %s", err, buf);
    if (v) {
        CHECK_CLOSE(json_num(json_get(v, "p"), -1), 0.844519267473, 1e-11, 0);
        CHECK_CLOSE(json_num(json_get(v, "diff"), -1), 1.0 / 18.0, 1e-15, 0);
        CHECK_CLOSE(json_num(json_get(v, "diff_lo"), 9), -0.499660811284, 1e-11, 0);
        CHECK_CLOSE(json_num(json_get(json_get(v, "b"), "auc"), -1), 5.0 / 6.0, 1e-15, 0);
        CHECK(strcmp(json_str(json_get(json_get(v, "b"), "name"), ""), "b \"x\".csv") == 0);
        CHECK(json_get(v, "notes") && json_get(v, "notes")->n == 0);
        json_free(v);
    }
    free(buf);
    mf = open_memstream(&buf, &len);
    auc_compare_print(&c, "a.csv", "b.csv", 0, mf);
    fclose(mf);
    CHECKF(strstr(buf, "A - B        +0.0556   95% CI -0.4997 to +0.6108") != NULL, "%s", buf);
    CHECK(strstr(buf, "p            0.8445") != NULL && strstr(buf, "AUC B        0.8333") != NULL);
    free(buf);
    /* undefined values print as n/a / null, never "nan" */
    const float a1[] = {0.9f, 0.1f, 0.2f}, b1[] = {0.2f, 0.1f, 0.5f};
    const int y1[] = {1, 0, 0};
    CHECK(auc_delong_paired(a1, b1, y1, 3, &c) == 0);
    mf = open_memstream(&buf, &len);
    auc_compare_print(&c, NULL, NULL, 0, mf);
    auc_compare_print(&c, NULL, NULL, 1, mf);
    fclose(mf);
    CHECK(strstr(buf, "nan") == NULL && strstr(buf, "p            n/a") && strstr(buf, "\"p\":null"));
    CHECK(strstr(buf, "note: paired test undefined") != NULL);
    free(buf);
}

static void test_scores_tables(void) {
    char dir[] = "/tmp/kres_test_metrics_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char pa[256], pb[256];
    snprintf(pa, sizeof pa, "%s/a.csv", dir);
    snprintf(pb, sizeof pb, "%s/b.csv", dir);
    /* "id" column, a quoted id over two lines and a blank line: rows keep their own lines */
    const char *ta = "id,label,score\n7,1,0.9\n\"x\ny\",0,0.1\n\n9,0,0.4\n";
    CHECK(write_file_atomic(pa, ta, strlen(ta)) == 0);
    ScoresTable a, b;
    CHECK(scores_table_read(pa, &a) == 0);
    CHECK(a.n == 3 && a.id && strcmp(a.id_col, "id") == 0 && strcmp(a.id[1], "x\ny") == 0);
    CHECK(a.line[0] == 2 && a.line[1] == 3 && a.line[2] == 6 && a.label[2] == 0 && a.score[0] == 0.9f);
    /* the experiment's layout: "ecg_id" is the id column; the same cases, other scores */
    const char *cases[][2] = {
        {"ecg_id,fold,label,score\n7,10,1,0.2\n\"x\ny\",10,0,0.3\n9,10,0,0.1\n", NULL},
        {"label,score\n1,0.2\n0,0.3\n0,0.1\n", NULL},                      /* no ids: rows and labels only */
        {"label,score\n1,0.2\n0,0.3\n", "2 data rows, but"},              /* too few rows */
        {"label,score\n1,0.2\n0,0.3\n0,0.5\n1,0.1\n", "4 data rows, but"},   /* too many */
        {"id,label,score\n7,1,0.2\n\"x\ny\",0,0.3\n9,1,0.1\n", "line 5: label 1, but"},  /* a label differs */
        {"id,label,score\n7,1,0.2\n8,0,0.3\n9,0,0.1\n", "line 3: id '8', but"},        /* an id differs */
    };
    for (int i = 0; i < N_OF(cases); i++) {
        CHECK(write_file_atomic(pb, cases[i][0], strlen(cases[i][0])) == 0);
        CHECK(scores_table_read(pb, &b) == 0);
        int rc = scores_tables_paired(pa, &a, pb, &b);
        if (!cases[i][1]) {
            CHECKF(rc == 0, "case %d: %s", i, kres_last_error());
        } else {
            const char *e = kres_last_error();
            CHECKF(rc == -1 && strstr(e, cases[i][1]) && strncmp(e, pb, strlen(pb)) == 0 && strstr(e, pa), "case %d: %s",
                   i, e);
        }
        if (i == 0) CHECK(strcmp(b.id_col, "ecg_id") == 0 && b.id && strcmp(b.id[2], "9") == 0);
        if (i == 1) CHECK(b.id == NULL && b.id_col[0] == '\0');
        if (i == 4) CHECK(strstr(kres_last_error(), "line 6 has label 0 (row 3)") != NULL);
        scores_table_free(&b);
    }
    scores_table_free(&a);
    CHECK(scores_table_read(pa, &a) == 0); /* reading again after free: nothing left over */
    scores_table_free(&a);
    CHECK(a.n == 0 && a.id == NULL);
    CHECK(scores_table_read("/nonexistent/x.csv", &a) == -1 && a.n == 0 && a.score == NULL);
    unlink(pa), unlink(pb);
    rmdir(dir);
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
    test_paired_hand();
    test_paired_vs_naive();
    test_paired_properties();
    test_paired_errors();
    test_paired_print();
    test_scores_tables();
    TEST_MAIN_END();
}
