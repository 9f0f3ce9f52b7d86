/* metrics.c — see metrics.h and docs/metrics.md.
 *
 * Legend: n examples, P positives (label 1), N negatives (label 0), B bootstrap replicates.
 * Everything that needs an ordering sorts (score, label) pairs once, ascending, and then
 * walks "tie groups" (runs of equal scores); every tie rule (half credit in the AUC,
 * midranks in DeLong, one ROC point per distinct score) is applied per group. */
#include "eval/metrics.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "data/csv.h"

/* ---- small helpers ---------------------------------------------------------------- */

Prop wilson_interval(long k, long n, double z) {
    Prop p = {k, n, NAN, NAN, NAN};
    if (n <= 0) return p;
    double nn = (double)n, ph = (double)k / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (ph + z2 / (2.0 * nn)) / denom;
    double half = z / denom * sqrt(ph * (1.0 - ph) / nn + z2 / (4.0 * nn * nn));
    p.p = ph;
    p.lo = centre - half;
    p.hi = centre + half;
    /* exact bounds at k = 0 and k = n; rounding can otherwise leave 1e-17 outside [0,1] */
    if (k == 0 || p.lo < 0.0) p.lo = 0.0;
    if (k == n || p.hi > 1.0) p.hi = 1.0;
    return p;
}

void eval_options_default(EvalOptions *o) {
    o->ci = EVAL_CI_DELONG;
    o->n_boot = 1000;
    o->seed = 1;
}

/* Validate labels and scores; count positives. Errors name the 0-based row. */
static int check_inputs(const float *scores, const int *labels, int n, int *npos) {
    if (n <= 0) return kres_fail(NULL, "no examples to evaluate (n = %d)", n);
    int p = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return kres_fail(NULL, "row %d: label must be 0 or 1, got %d", i, labels[i]);
        if (!isfinite(scores[i]))
            return kres_fail(NULL, "row %d: score is %s", i, isnan(scores[i]) ? "NaN" : "infinite");
        p += labels[i];
    }
    *npos = p;
    return 0;
}

typedef struct {
    float s;
    int y;
    int idx; /* original row, used by the bootstrap and as a deterministic tie-break */
} ScoreLab;

static int cmp_scorelab(const void *a, const void *b) {
    const ScoreLab *x = a, *y = b;
    if (x->s < y->s) return -1;
    if (x->s > y->s) return 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* (score, label) pairs sorted ascending by score. */
static ScoreLab *sorted_pairs(const float *scores, const int *labels, int n) {
    ScoreLab *a = xmalloc((size_t)n * sizeof *a);
    for (int i = 0; i < n; i++) a[i] = (ScoreLab){scores[i], labels[i], i};
    qsort(a, (size_t)n, sizeof *a, cmp_scorelab);
    return a;
}

static int need_both_classes(int npos, int nneg, const char *what) {
    if (npos == 0 || nneg == 0)
        return kres_fail(NULL, "%s undefined: all %d labels are %s (needs both positives and negatives)",
                         what, npos + nneg, npos == 0 ? "negative (0)" : "positive (1)");
    return 0;
}

/* ---- AUC ---------------------------------------------------------------------------- */

/* The prologue of every AUC entry point: valid inputs with both classes present. */
static int auc_inputs(const float *scores, const int *labels, int n, int *npos) {
    if (check_inputs(scores, labels, n, npos) != 0) return -1;
    return need_both_classes(*npos, n - *npos, "AUC");
}

/* The tie group starting at sorted index g: returns its end e (exclusive); p and q count
 * its positives and negatives. */
static int tie_group(const ScoreLab *a, int n, int g, int *p, int *q) {
    int e = g;
    *p = *q = 0;
    while (e < n && a[e].s == a[g].s) {
        *p += a[e].y;
        *q += 1 - a[e].y;
        e++;
    }
    return e;
}

/* One pass over tie groups computing the AUC and (optionally) the DeLong placement
 * values summed per group. The pair credit is kept as an exact integer: twice the
 * number of (pos, neg) pairs ordered correctly plus the number of tied pairs. */
static void auc_from_sorted(const ScoreLab *a, int n, int npos, int nneg, double *auc, double *var) {
    int64_t credit2 = 0; /* 2 * (#pos>neg) + #ties */
    int64_t neg_below = 0;
    for (int g = 0; g < n;) {
        int p, q;
        const int e = tie_group(a, n, g, &p, &q);
        credit2 += (int64_t)p * (2 * neg_below + q);
        neg_below += q;
        g = e;
    }
    double A = (double)credit2 / (2.0 * (double)npos * (double)nneg);
    *auc = A;
    if (!var) return;
    if (npos < 2 || nneg < 2) {
        *var = NAN;
        return;
    }
    /* Structural components (DeLong 1988) from the same tie groups — the Sun & Xu (2014)
     * midrank identities: a positive x's placement V10(x) = (#neg < x + 0.5 #neg == x)/N,
     * a negative y's V01(y) = (#pos > y + 0.5 #pos == y)/P. Both have mean A. */
    double s10 = 0.0, s01 = 0.0;
    int64_t pos_below = 0;
    neg_below = 0;
    for (int g = 0; g < n;) {
        int p, q;
        const int e = tie_group(a, n, g, &p, &q);
        double v10 = ((double)neg_below + 0.5 * q) / nneg;
        double v01 = ((double)(npos - pos_below - p) + 0.5 * p) / npos;
        s10 += p * (v10 - A) * (v10 - A);
        s01 += q * (v01 - A) * (v01 - A);
        neg_below += q;
        pos_below += p;
        g = e;
    }
    s10 /= (npos - 1);
    s01 /= (nneg - 1);
    *var = s10 / npos + s01 / nneg;
}

/* The same sort-and-walk without the variance pass (auc_from_sorted skips it for NULL). */
int roc_auc(const float *scores, const int *labels, int n, double *auc) {
    return auc_delong(scores, labels, n, auc, NULL);
}

int auc_delong(const float *scores, const int *labels, int n, double *auc, double *var) {
    int npos;
    if (auc_inputs(scores, labels, n, &npos) != 0) return -1;
    ScoreLab *a = sorted_pairs(scores, labels, n);
    auc_from_sorted(a, n, npos, n - npos, auc, var);
    free(a);
    return 0;
}

/* Logit-scale interval: logit(A) +/- z se / (A (1 - A)), mapped back with the logistic
 * function. Keeps the interval inside (0,1) and is closer to nominal coverage than the
 * plain Wald interval for the high AUCs typical of ECG classifiers. */
static void delong_interval(double A, double var, double *lo, double *hi) {
    if (!isfinite(var)) {
        *lo = *hi = NAN;
        return;
    }
    double se = sqrt(var > 0 ? var : 0);
    if (A <= 0.0 || A >= 1.0) {
        *lo = fmax(0.0, A - EVAL_Z95 * se);
        *hi = fmin(1.0, A + EVAL_Z95 * se);
        return;
    }
    double l = log(A / (1.0 - A)), h = EVAL_Z95 * se / (A * (1.0 - A));
    *lo = 1.0 / (1.0 + exp(-(l - h)));
    *hi = 1.0 / (1.0 + exp(-(l + h)));
}

int auc_ci_delong(const float *scores, const int *labels, int n, double *auc, double *lo,
                  double *hi, double *se) {
    double var;
    if (auc_delong(scores, labels, n, auc, &var) != 0) return -1;
    delong_interval(*auc, var, lo, hi);
    if (se) *se = isfinite(var) ? sqrt(var > 0 ? var : 0) : NAN;
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted x[0..m-1] by linear interpolation between order statistics
 * (Hyndman & Fan type 7, R's default). */
static double quantile_sorted(const double *x, int m, double q) {
    if (m <= 0) return NAN;
    double h = (m - 1) * q;
    int i = (int)floor(h);
    if (i >= m - 1) return x[m - 1];
    return x[i] + (h - i) * (x[i + 1] - x[i]);
}

/* Uniform integer in [0, n) for n < 2^32, unbiased (Lemire 2019: multiply, reject the
 * few low products that would bias). No division on the common path. */
static inline uint32_t draw_below(Rng *rng, uint32_t n) {
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

/* Bootstrap replicate AUCs: the sort is done once; a replicate only changes how many
 * copies of each example there are (w[k] for sorted position k), so each replicate is a
 * weighted O(n) tie-group walk. Drawing order: P positive draws, then N negative draws. */
static void auc_bootstrap_reps(const ScoreLab *a, int n, int npos, int nneg, int B, uint64_t seed,
                               double *reps) {
    int *pos_at = xmalloc((size_t)npos * sizeof *pos_at), *neg_at = xmalloc((size_t)nneg * sizeof *neg_at);
    int *w = xmalloc((size_t)n * sizeof *w);
    for (int k = 0, ip = 0, in = 0; k < n; k++) {
        if (a[k].y) pos_at[ip++] = k;
        else neg_at[in++] = k;
    }
    Rng rng;
    rng_seed(&rng, seed);
    for (int b = 0; b < B; b++) {
        memset(w, 0, (size_t)n * sizeof *w);
        for (int i = 0; i < npos; i++) w[pos_at[draw_below(&rng, (uint32_t)npos)]]++;
        for (int j = 0; j < nneg; j++) w[neg_at[draw_below(&rng, (uint32_t)nneg)]]++;
        int64_t credit2 = 0, neg_below = 0;
        for (int g = 0; g < n;) {
            int e = g;
            int64_t p = 0, q = 0;
            while (e < n && a[e].s == a[g].s) {
                if (a[e].y) p += w[e];
                else q += w[e];
                e++;
            }
            credit2 += p * (2 * neg_below + q);
            neg_below += q;
            g = e;
        }
        reps[b] = (double)credit2 / (2.0 * (double)npos * (double)nneg);
    }
    free(pos_at);
    free(neg_at);
    free(w);
}

int auc_ci_bootstrap(const float *scores, const int *labels, int n, int n_boot, uint64_t seed,
                     double *auc, double *lo, double *hi) {
    int npos;
    if (auc_inputs(scores, labels, n, &npos) != 0) return -1;
    if (n_boot < 2) return kres_fail(NULL, "bootstrap needs at least 2 replicates, got %d", n_boot);
    ScoreLab *a = sorted_pairs(scores, labels, n);
    auc_from_sorted(a, n, npos, n - npos, auc, NULL);
    double *reps = xmalloc((size_t)n_boot * sizeof *reps);
    auc_bootstrap_reps(a, n, npos, n - npos, n_boot, seed, reps);
    qsort(reps, (size_t)n_boot, sizeof *reps, cmp_double);
    *lo = quantile_sorted(reps, n_boot, 0.025);
    *hi = quantile_sorted(reps, n_boot, 0.975);
    free(reps);
    free(a);
    return 0;
}

/* psi(x, y) = 1 if x > y, 1/2 if x == y, 0 otherwise, for a positive x and negative y. */
static double psi(float x, float y) { return x > y ? 1.0 : (x == y ? 0.5 : 0.0); }

int roc_auc_naive(const float *scores, const int *labels, int n, double *auc) {
    int npos;
    if (auc_inputs(scores, labels, n, &npos) != 0) return -1;
    double s = 0.0;
    for (int i = 0; i < n; i++)
        if (labels[i])
            for (int j = 0; j < n; j++)
                if (!labels[j]) s += psi(scores[i], scores[j]);
    *auc = s / ((double)npos * (double)(n - npos));
    return 0;
}

int auc_delong_naive(const float *scores, const int *labels, int n, double *auc, double *var) {
    int npos;
    if (auc_inputs(scores, labels, n, &npos) != 0) return -1;
    const int nneg = n - npos;
    double *v10 = xcalloc((size_t)n, sizeof *v10), *v01 = xcalloc((size_t)n, sizeof *v01);
    double A = 0.0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (labels[i] && !labels[j]) {
                double s = psi(scores[i], scores[j]);
                v10[i] += s / nneg;
                v01[j] += s / npos;
                A += s;
            }
    A /= (double)npos * nneg;
    *auc = A;
    if (npos < 2 || nneg < 2) {
        *var = NAN;
    } else {
        double s10 = 0, s01 = 0;
        for (int i = 0; i < n; i++) {
            if (labels[i]) s10 += (v10[i] - A) * (v10[i] - A);
            else s01 += (v01[i] - A) * (v01[i] - A);
        }
        *var = s10 / (npos - 1) / npos + s01 / (nneg - 1) / nneg;
    }
    free(v10);
    free(v01);
    return 0;
}

/* ---- paired comparison of two AUCs (DeLong 1988) -------------------------------------- */

/* Validate both scores against one label vector; an error names the row and the score. */
static int paired_inputs(const float *sa, const float *sb, const int *labels, int n, int *npos) {
    if (n <= 0) return kres_fail(NULL, "no examples to compare (n = %d)", n);
    int p = 0;
    for (int i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return kres_fail(NULL, "row %d: label must be 0 or 1, got %d", i, labels[i]);
        for (int k = 0; k < 2; k++) {
            float v = k ? sb[i] : sa[i];
            if (!isfinite(v))
                return kres_fail(NULL, "row %d: score %c is %s", i, "AB"[k], isnan(v) ? "NaN" : "infinite");
        }
        p += labels[i];
    }
    *npos = p;
    return need_both_classes(p, n - p, "AUC");
}

/* Placements as exact integers per original row, from the tie groups (Sun & Xu 2014):
 * a positive's 2N V10 = 2 #neg below + #neg tied, a negative's 2P V01 = 2 #pos above +
 * #pos tied. Integers keep "the two scores place every case alike" exact. */
static void placements_from_sorted(const ScoreLab *a, int n, int npos, int64_t *place) {
    int64_t neg_below = 0, pos_below = 0;
    for (int g = 0; g < n;) {
        int p, q;
        const int e = tie_group(a, n, g, &p, &q);
        for (int k = g; k < e; k++)
            place[a[k].idx] = a[k].y ? 2 * neg_below + q : 2 * (npos - pos_below - p) + p;
        neg_below += q;
        pos_below += p;
        g = e;
    }
}

/* Over the rows of class cls (m of them, m >= 2): the sample covariance of the placements
 * xa, xb and the sample variance of their difference, both divided by scale^2 (scale = 2N
 * for positives, 2P for negatives, undoing the integer scaling). The variance of the
 * difference is taken from the differences themselves rather than as S_aa + S_bb - 2 S_ab:
 * no cancellation, never negative, and exactly 0 when every difference is the same. */
static void class_moments(const int64_t *xa, const int64_t *xb, const int *labels, int n, int cls, int m,
                          double scale, double *cov, double *var_d) {
    int64_t sa = 0, sb = 0;
    for (int i = 0; i < n; i++)
        if (labels[i] == cls) sa += xa[i], sb += xb[i];
    double ma = (double)sa / m, mb = (double)sb / m, md = (double)(sa - sb) / m;
    double c = 0.0, v = 0.0;
    for (int i = 0; i < n; i++)
        if (labels[i] == cls) {
            double d = (double)(xa[i] - xb[i]) - md;
            c += ((double)xa[i] - ma) * ((double)xb[i] - mb);
            v += d * d;
        }
    *cov = c / ((double)(m - 1) * scale * scale);
    *var_d = v / ((double)(m - 1) * scale * scale);
}

/* The shared tail of both paths: each AUC's own interval, then the test from the variance
 * of the difference (NaN when a class has fewer than 2 members). */
static void compare_finish(AucCompare *c, double var_diff) {
    c->diff = c->auc_a - c->auc_b;
    delong_interval(c->auc_a, c->var_a, &c->lo_a, &c->hi_a);
    delong_interval(c->auc_b, c->var_b, &c->lo_b, &c->hi_b);
    c->note[0] = '\0';
    if (isnan(var_diff)) {
        c->se = c->lo = c->hi = c->z = c->p = c->corr = NAN;
        snprintf(c->note, sizeof c->note,
                 "paired test undefined: DeLong needs at least 2 positives and 2 negatives (have %d and %d)", c->npos,
                 c->nneg);
        return;
    }
    c->corr = c->var_a > 0 && c->var_b > 0 ? fmax(-1.0, fmin(1.0, c->cov / sqrt(c->var_a * c->var_b))) : NAN;
    c->se = sqrt(var_diff > 0 ? var_diff : 0.0);
    c->lo = fmax(-1.0, c->diff - EVAL_Z95 * c->se);
    c->hi = fmin(1.0, c->diff + EVAL_Z95 * c->se);
    if (c->se > 0) {
        c->z = c->diff / c->se;
        c->p = erfc(fabs(c->z) / 1.4142135623730951); /* two-sided normal tail: 2 (1 - Phi(|z|)) */
    } else if (c->diff == 0) {
        /* every case is placed alike by both scores: nothing differs, nothing to test */
        c->z = 0.0, c->p = 1.0;
        snprintf(c->note, sizeof c->note,
                 "the two scores place every case alike (same ranking): difference 0, p = 1");
    } else {
        c->z = c->p = NAN;
        snprintf(c->note, sizeof c->note,
                 "test degenerate: the AUCs differ but the estimated variance of the difference is 0 "
                 "(e.g. one score separates the classes perfectly); z and p undefined");
    }
}

void auc_compare_init(AucCompare *c) {
    memset(c, 0, sizeof *c);
    c->auc_a = c->auc_b = c->lo_a = c->hi_a = c->lo_b = c->hi_b = NAN;
    c->var_a = c->var_b = c->cov = c->corr = c->diff = c->se = c->lo = c->hi = c->z = c->p = NAN;
}

int auc_delong_paired(const float *score_a, const float *score_b, const int *labels, int n, AucCompare *out) {
    auc_compare_init(out);
    int npos;
    if (paired_inputs(score_a, score_b, labels, n, &npos) != 0) return -1;
    const int nneg = n - npos;
    out->n = n, out->npos = npos, out->nneg = nneg;
    int64_t *place[2] = {xmalloc((size_t)n * sizeof(int64_t)), xmalloc((size_t)n * sizeof(int64_t))};
    const float *s[2] = {score_a, score_b};
    double *auc[2] = {&out->auc_a, &out->auc_b}, *var[2] = {&out->var_a, &out->var_b};
    for (int k = 0; k < 2; k++) {
        /* the very same walk as auc_delong, so each AUC and variance match it bit for bit */
        ScoreLab *a = sorted_pairs(s[k], labels, n);
        auc_from_sorted(a, n, npos, nneg, auc[k], var[k]);
        placements_from_sorted(a, n, npos, place[k]);
        free(a);
    }
    double var_diff = NAN;
    if (npos >= 2 && nneg >= 2) {
        double c10, c01, d10, d01;
        class_moments(place[0], place[1], labels, n, 1, npos, 2.0 * nneg, &c10, &d10);
        class_moments(place[0], place[1], labels, n, 0, nneg, 2.0 * npos, &c01, &d01);
        out->cov = c10 / npos + c01 / nneg;
        var_diff = d10 / npos + d01 / nneg;
    }
    free(place[0]);
    free(place[1]);
    compare_finish(out, var_diff);
    return 0;
}

int auc_delong_paired_naive(const float *score_a, const float *score_b, const int *labels, int n,
                            AucCompare *out) {
    auc_compare_init(out);
    int npos;
    if (paired_inputs(score_a, score_b, labels, n, &npos) != 0) return -1;
    const int nneg = n - npos;
    out->n = n, out->npos = npos, out->nneg = nneg;
    /* v10[k][i], v01[k][j]: structural components of score k by pair counting */
    double *v10[2], *v01[2], A[2];
    const float *s[2] = {score_a, score_b};
    for (int k = 0; k < 2; k++) {
        v10[k] = xcalloc((size_t)n, sizeof(double));
        v01[k] = xcalloc((size_t)n, sizeof(double));
        double tot = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                if (labels[i] && !labels[j]) {
                    double q = psi(s[k][i], s[k][j]);
                    v10[k][i] += q / nneg;
                    v01[k][j] += q / npos;
                    tot += q;
                }
        A[k] = tot / ((double)npos * nneg);
    }
    out->auc_a = A[0], out->auc_b = A[1];
    double var_diff = NAN;
    if (npos >= 2 && nneg >= 2) {
        /* S10[k][l], S01[k][l]: the 2x2 sample covariance matrices */
        double S10[2][2] = {{0}}, S01[2][2] = {{0}};
        for (int k = 0; k < 2; k++)
            for (int l = 0; l < 2; l++)
                for (int i = 0; i < n; i++) {
                    if (labels[i]) S10[k][l] += (v10[k][i] - A[k]) * (v10[l][i] - A[l]);
                    else S01[k][l] += (v01[k][i] - A[k]) * (v01[l][i] - A[l]);
                }
        for (int k = 0; k < 2; k++)
            for (int l = 0; l < 2; l++) S10[k][l] /= npos - 1, S01[k][l] /= nneg - 1;
        out->var_a = S10[0][0] / npos + S01[0][0] / nneg;
        out->var_b = S10[1][1] / npos + S01[1][1] / nneg;
        out->cov = S10[0][1] / npos + S01[0][1] / nneg;
        var_diff = (S10[0][0] + S10[1][1] - 2 * S10[0][1]) / npos + (S01[0][0] + S01[1][1] - 2 * S01[0][1]) / nneg;
    }
    for (int k = 0; k < 2; k++) free(v10[k]), free(v01[k]);
    compare_finish(out, var_diff);
    return 0;
}

/* ---- ROC curve ---------------------------------------------------------------------- */

/* One step of a walk over sorted a[] from the highest score down (e starts at n): the tie
 * group ending before e starts at the returned index, and its members are counted into
 * *tp / *fp, so they hold the examples with score >= that group's score. */
static int next_group_down(const ScoreLab *a, int e, int64_t *tp, int64_t *fp) {
    int g = e - 1;
    while (g > 0 && a[g - 1].s == a[e - 1].s) g--;
    for (int k = g; k < e; k++) {
        *tp += a[k].y;
        *fp += 1 - a[k].y;
    }
    return g;
}

static void roc_alloc(RocCurve *c, int m) {
    c->n = m;
    c->fpr = xmalloc((size_t)m * sizeof(double));
    c->tpr = xmalloc((size_t)m * sizeof(double));
    c->thr = xmalloc((size_t)m * sizeof(double));
}

void roc_curve_free(RocCurve *c) {
    if (!c) return;
    free(c->fpr);
    free(c->tpr);
    free(c->thr);
    memset(c, 0, sizeof *c);
}

int roc_curve(const float *scores, const int *labels, int n, RocCurve *out) {
    memset(out, 0, sizeof *out);
    int npos;
    if (check_inputs(scores, labels, n, &npos) != 0) return -1;
    int nneg = n - npos;
    if (need_both_classes(npos, nneg, "ROC curve") != 0) return -1;
    ScoreLab *a = sorted_pairs(scores, labels, n);
    int groups = 0;
    for (int k = 0; k < n; k++)
        if (k == 0 || a[k].s != a[k - 1].s) groups++;
    roc_alloc(out, groups + 1);
    out->fpr[0] = 0.0;
    out->tpr[0] = 0.0;
    out->thr[0] = INFINITY;
    /* walk groups from the highest score down: lowering the threshold to a group's score
     * turns every member of the group positive at once */
    int64_t tp = 0, fp = 0;
    int m = 1;
    for (int e = n; e > 0;) {
        const int g = next_group_down(a, e, &tp, &fp);
        out->fpr[m] = (double)fp / nneg;
        out->tpr[m] = (double)tp / npos;
        out->thr[m] = a[g].s;
        m++;
        e = g;
    }
    KRES_ASSERT(m == groups + 1 && tp == npos && fp == nneg);
    free(a);
    return 0;
}

int roc_downsample(const RocCurve *in, int max_points, RocCurve *out) {
    memset(out, 0, sizeof *out);
    if (max_points < 2) return kres_fail(NULL, "roc_downsample: max_points must be >= 2, got %d", max_points);
    if (in->n <= 0) return kres_fail(NULL, "roc_downsample: empty curve");
    if (in->n <= max_points) {
        roc_alloc(out, in->n);
        memcpy(out->fpr, in->fpr, (size_t)in->n * sizeof(double));
        memcpy(out->tpr, in->tpr, (size_t)in->n * sizeof(double));
        memcpy(out->thr, in->thr, (size_t)in->n * sizeof(double));
        return 0;
    }
    /* cumulative L1 length along the (monotone) staircase; keep the first point at or past
     * each of max_points - 1 equally spaced marks, so steep and flat parts get equal ink */
    double total = 0.0;
    for (int k = 1; k < in->n; k++)
        total += fabs(in->fpr[k] - in->fpr[k - 1]) + fabs(in->tpr[k] - in->tpr[k - 1]);
    roc_alloc(out, max_points);
    int m = 0;
    double len = 0.0, step = total / (max_points - 1);
    int next_mark = 1;
    out->fpr[m] = in->fpr[0], out->tpr[m] = in->tpr[0], out->thr[m] = in->thr[0], m++;
    for (int k = 1; k < in->n - 1 && m < max_points - 1; k++) {
        len += fabs(in->fpr[k] - in->fpr[k - 1]) + fabs(in->tpr[k] - in->tpr[k - 1]);
        if (len >= next_mark * step) {
            out->fpr[m] = in->fpr[k], out->tpr[m] = in->tpr[k], out->thr[m] = in->thr[k], m++;
            while (next_mark * step <= len) next_mark++;
        }
    }
    int last = in->n - 1;
    out->fpr[m] = in->fpr[last], out->tpr[m] = in->tpr[last], out->thr[m] = in->thr[last], m++;
    out->n = m;
    return 0;
}

/* ---- thresholds --------------------------------------------------------------------- */

int threshold_rule_parse(const char *s, ThresholdRule *out) {
    if (!s) return kres_fail(NULL, "threshold rule is missing");
    if (strcmp(s, "youden") == 0) {
        out->kind = THR_YOUDEN;
        out->value = NAN;
        return 0;
    }
    static const struct {
        const char *prefix;
        ThresholdKind kind;
    } forms[] = {{"sens=", THR_SENS}, {"spec=", THR_SPEC}, {"fixed=", THR_FIXED}};
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        size_t L = strlen(forms[f].prefix);
        if (strncmp(s, forms[f].prefix, L) != 0) continue;
        double v;
        if (parse_double(s + L, &v) != 0 || !isfinite(v))
            return kres_fail(NULL, "threshold rule '%s': '%s' is not a number", s, s + L);
        if (forms[f].kind != THR_FIXED && !(v > 0.0 && v <= 1.0))
            return kres_fail(NULL, "threshold rule '%s': target must be in (0, 1]", s);
        out->kind = forms[f].kind;
        out->value = v;
        return 0;
    }
    return kres_fail(NULL, "unknown threshold rule '%s' (use youden, sens=X, spec=X or fixed=X)", s);
}

/* The shortest decimal that rounds to the float f (0.8f -> 0.8, not 0.800000011920929),
 * so chosen thresholds print cleanly and still compare equal at float precision. */
static double float_shortest(float f) {
    char buf[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

int choose_threshold(const float *scores, const int *labels, int n, const char *rule, double *thr) {
    ThresholdRule r;
    if (threshold_rule_parse(rule, &r) != 0) return -1;
    if (r.kind == THR_FIXED) {
        *thr = r.value;
        return 0;
    }
    int npos;
    if (check_inputs(scores, labels, n, &npos) != 0) return -1;
    int nneg = n - npos;
    if (r.kind == THR_YOUDEN && need_both_classes(npos, nneg, "Youden threshold") != 0) return -1;
    if (r.kind == THR_SENS && npos == 0)
        return kres_fail(NULL, "threshold rule '%s' needs positive labels; all %d are 0", rule, n);
    if (r.kind == THR_SPEC && nneg == 0)
        return kres_fail(NULL, "threshold rule '%s' needs negative labels; all %d are 1", rule, n);
    ScoreLab *a = sorted_pairs(scores, labels, n);
    /* candidate thresholds are the distinct scores, visited from the highest down;
     * tp/fp count examples with score >= the current candidate */
    const double eps = 1e-12; /* so that e.g. 9/10 >= 0.9 despite rounding of the target */
    int64_t tp = 0, fp = 0, best_j = INT64_MIN;
    double best = NAN;
    int found = 0;
    for (int e = n; e > 0;) {
        const int g = next_group_down(a, e, &tp, &fp);
        double t = a[g].s;
        if (r.kind == THR_YOUDEN) {
            /* J * P * N = tp*N - fp*P exactly in integers; '>' keeps the highest threshold */
            int64_t j = tp * nneg - fp * npos;
            if (j > best_j) best_j = j, best = t, found = 1;
        } else if (r.kind == THR_SENS) {
            if ((double)tp / npos >= r.value - eps) {
                best = t, found = 1;
                break;
            }
        } else { /* THR_SPEC: specificity only falls as the threshold drops */
            if ((double)(nneg - fp) / nneg >= r.value - eps) best = t, found = 1;
            else break;
        }
        e = g;
    }
    if (!found) {
        /* spec=X unreachable at any observed score (negatives tied at the top): call
         * nothing positive, i.e. a threshold just above the largest score */
        best = (double)nextafterf(a[n - 1].s, INFINITY);
    }
    free(a);
    *thr = isfinite(best) ? float_shortest((float)best) : best;
    return 0;
}

/* ---- eval_binary -------------------------------------------------------------------- */

static void add_note(EvalResult *r, const char *msg) {
    if (r->n_notes >= EVAL_MAX_NOTES) return;
    size_t L = strlen(msg), cap = sizeof r->notes[0] - 1;
    if (L > cap) L = cap; /* notes are short; truncation only guards the fixed buffer */
    memcpy(r->notes[r->n_notes], msg, L);
    r->notes[r->n_notes++][L] = '\0';
}

static double f1_of(long tp, long fp, long fn) {
    long d = 2 * tp + fp + fn;
    return d > 0 ? 2.0 * tp / d : NAN;
}

/* Gamma(a, 1) for a >= 1 (Marsaglia & Tsang 2000, squeeze + log test). */
static double gamma_draw(Rng *rng, double a) {
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(rng), v = 1.0 + c * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        double u = rng_uniform(rng);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (u > 0.0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

long eval_binomial(Rng *rng, long n, double p) {
    /* Knuth, TAOCP vol. 2, 3.4.1: think of n uniforms and count those below p. The a-th
     * smallest of them, X ~ Beta(a, n+1-a), splits the rest: if X >= p only the a-1 below
     * X can count, each below p with chance p/X; otherwise all a count and each of the
     * n-a above X is below p with chance (p-X)/(1-X). n halves every step, so O(log n)
     * Beta draws, then a short exact Bernoulli sum. */
    if (n <= 0 || p <= 0.0) return 0;
    if (p >= 1.0) return n;
    long k = 0;
    while (n > 64) {
        long a = 1 + n / 2, b = n + 1 - a;
        double ga = gamma_draw(rng, (double)a), gb = gamma_draw(rng, (double)b);
        double x = ga / (ga + gb);
        if (x >= p) {
            n = a - 1;
            p = p / x;
        } else {
            k += a;
            n = b - 1;
            p = (p - x) / (1.0 - x);
        }
        if (p <= 0.0) return k;
        if (p >= 1.0) return k + n;
    }
    for (long i = 0; i < n; i++) k += rng_uniform(rng) < p;
    return k;
}

/* Stratified bootstrap of F1 at a fixed threshold. Resampling P positives with
 * replacement makes TP* ~ Binomial(P, TP/P), and likewise FP* ~ Binomial(N, FP/N), so
 * the counts are drawn directly (same distribution, no index arrays). The threshold is
 * held fixed: this interval ignores the uncertainty of choosing the threshold. */
static void f1_bootstrap(long tp, long fp, long npos, long nneg, int B, uint64_t seed, double *lo,
                         double *hi) {
    double *reps = xmalloc((size_t)B * sizeof *reps);
    Rng rng;
    rng_seed(&rng, seed ^ 0x9E3779B97F4A7C15ull); /* a stream distinct from the AUC bootstrap */
    int m = 0;
    for (int b = 0; b < B; b++) {
        long tps = eval_binomial(&rng, npos, npos ? (double)tp / npos : 0.0);
        long fps = eval_binomial(&rng, nneg, nneg ? (double)fp / nneg : 0.0);
        double f = f1_of(tps, fps, npos - tps);
        if (!isnan(f)) reps[m++] = f;
    }
    qsort(reps, (size_t)m, sizeof *reps, cmp_double);
    *lo = quantile_sorted(reps, m, 0.025);
    *hi = quantile_sorted(reps, m, 0.975);
    free(reps);
}

int eval_binary(const float *scores, const int *labels, int n, double threshold,
                const EvalOptions *opts, EvalResult *r) {
    EvalOptions dflt;
    if (!opts) {
        eval_options_default(&dflt);
        opts = &dflt;
    }
    memset(r, 0, sizeof *r);
    r->auc = r->auc_lo = r->auc_hi = r->auc_se = NAN;
    r->f1 = r->f1_lo = r->f1_hi = NAN;
    r->threshold = threshold;
    snprintf(r->threshold_rule, sizeof r->threshold_rule, "fixed");
    int npos;
    if (check_inputs(scores, labels, n, &npos) != 0) return -1;
    if (isnan(threshold)) return kres_fail(NULL, "threshold is NaN");
    if (opts->ci == EVAL_CI_BOOTSTRAP && opts->n_boot < 2)
        return kres_fail(NULL, "bootstrap needs at least 2 replicates, got %d", opts->n_boot);
    r->n = n;
    r->npos = npos;
    r->nneg = n - npos;

    /* compare at the scores' float precision, so "--threshold 0.35" and a score read as
     * 0.35 round to the same float and the score counts as positive */
    float thr_f = threshold > FLT_MAX ? INFINITY : threshold < -FLT_MAX ? -INFINITY : (float)threshold;
    for (int i = 0; i < n; i++) {
        int pred = scores[i] >= thr_f;
        if (labels[i]) pred ? r->tp++ : r->fn++;
        else pred ? r->fp++ : r->tn++;
    }
    r->sens = wilson_interval(r->tp, r->tp + r->fn, EVAL_Z95);
    r->spec = wilson_interval(r->tn, r->tn + r->fp, EVAL_Z95);
    r->ppv = wilson_interval(r->tp, r->tp + r->fp, EVAL_Z95);
    r->npv = wilson_interval(r->tn, r->tn + r->fn, EVAL_Z95);
    r->acc = wilson_interval(r->tp + r->tn, n, EVAL_Z95);
    r->f1 = f1_of(r->tp, r->fp, r->fn);

    int rc = 0;
    char msg[200];
    if (r->npos == 0 || r->nneg == 0) {
        snprintf(msg, sizeof msg, "AUC undefined: all %d labels are %s", n, r->npos == 0 ? "0" : "1");
        add_note(r, msg);
        snprintf(r->ci_method, sizeof r->ci_method, "none (AUC undefined)");
        need_both_classes(r->npos, r->nneg, "AUC"); /* sets kres_last_error() for the caller */
        rc = EVAL_AUC_UNDEFINED;
    } else if (opts->ci == EVAL_CI_BOOTSTRAP) {
        if (auc_ci_bootstrap(scores, labels, n, opts->n_boot, opts->seed, &r->auc, &r->auc_lo, &r->auc_hi) != 0)
            return -1;
        snprintf(r->ci_method, sizeof r->ci_method, "stratified bootstrap percentile, B=%d, seed=%llu",
                 opts->n_boot, (unsigned long long)opts->seed);
    } else {
        if (auc_ci_delong(scores, labels, n, &r->auc, &r->auc_lo, &r->auc_hi, &r->auc_se) != 0) return -1;
        snprintf(r->ci_method, sizeof r->ci_method, "DeLong, logit scale");
        if (isnan(r->auc_lo)) add_note(r, "AUC CI undefined: DeLong needs at least 2 positives and 2 negatives");
    }

    if (r->npos == 0) add_note(r, "sensitivity undefined: no positive labels");
    if (r->nneg == 0) add_note(r, "specificity undefined: no negative labels");
    if (r->tp + r->fp == 0) add_note(r, "PPV undefined: no predicted positives (TP + FP = 0)");
    if (r->tn + r->fn == 0) add_note(r, "NPV undefined: no predicted negatives (TN + FN = 0)");
    if (isnan(r->f1)) add_note(r, "F1 undefined: no positives and no predicted positives");
    if (!isnan(r->f1) && opts->n_boot >= 2 && r->npos > 0)
        f1_bootstrap(r->tp, r->fp, r->npos, r->nneg, opts->n_boot, opts->seed, &r->f1_lo, &r->f1_hi);
    return rc;
}

/* ---- printing ----------------------------------------------------------------------- */

void eval_write_prop_json(JsonWriter *w, const char *key, Prop p) {
    jw_key(w, key);
    jw_object_begin(w);
    jw_key(w, "value"), jw_number(w, p.p);
    jw_key(w, "lo"), jw_number(w, p.lo);
    jw_key(w, "hi"), jw_number(w, p.hi);
    jw_key(w, "k"), jw_int(w, p.k);
    jw_key(w, "n"), jw_int(w, p.n);
    jw_object_end(w);
}

/* Undefined values (NaN AUC of a one-class set, an empty proportion) become null:
 * jw_number writes every non-finite number as null. */
void eval_write_json(JsonWriter *w, const EvalResult *r) {
    jw_object_begin(w);
    jw_key(w, "n"), jw_int(w, r->n);
    jw_key(w, "npos"), jw_int(w, r->npos);
    jw_key(w, "nneg"), jw_int(w, r->nneg);
    jw_key(w, "auc"), jw_number(w, r->auc);
    jw_key(w, "auc_lo"), jw_number(w, r->auc_lo);
    jw_key(w, "auc_hi"), jw_number(w, r->auc_hi);
    jw_key(w, "auc_se"), jw_number(w, r->auc_se);
    jw_key(w, "ci_method"), jw_string(w, r->ci_method);
    jw_key(w, "threshold"), jw_number(w, r->threshold);
    jw_key(w, "threshold_rule"), jw_string(w, r->threshold_rule);
    jw_key(w, "confusion");
    jw_object_begin(w);
    jw_key(w, "tp"), jw_int(w, r->tp);
    jw_key(w, "fp"), jw_int(w, r->fp);
    jw_key(w, "tn"), jw_int(w, r->tn);
    jw_key(w, "fn"), jw_int(w, r->fn);
    jw_object_end(w);
    eval_write_prop_json(w, "sensitivity", r->sens);
    eval_write_prop_json(w, "specificity", r->spec);
    eval_write_prop_json(w, "ppv", r->ppv);
    eval_write_prop_json(w, "npv", r->npv);
    eval_write_prop_json(w, "accuracy", r->acc);
    jw_key(w, "f1");
    jw_object_begin(w);
    jw_key(w, "value"), jw_number(w, r->f1);
    jw_key(w, "lo"), jw_number(w, r->f1_lo);
    jw_key(w, "hi"), jw_number(w, r->f1_hi);
    jw_key(w, "ci_method");
    jw_string(w, isnan(r->f1_lo) ? "none" : "stratified bootstrap percentile at the fixed threshold");
    jw_object_end(w);
    jw_key(w, "notes");
    jw_array_begin(w);
    for (int i = 0; i < r->n_notes; i++) jw_string(w, r->notes[i]);
    jw_array_end(w);
    jw_object_end(w);
}

/* "0.8046" or "n/a" into buf */
static const char *fmt4(char *buf, size_t n, double x) {
    if (isnan(x)) snprintf(buf, n, "n/a");
    else snprintf(buf, n, "%.4f", x);
    return buf;
}

static void print_row(FILE *fp, const char *name, double v, double lo, double hi, const char *extra) {
    char a[32], b[32], c[32];
    if (isnan(lo) || isnan(hi))
        fprintf(fp, "  %-12s %8s   %-17s  %s\n", name, fmt4(a, sizeof a, v), "n/a", extra);
    else {
        char ci[80];
        snprintf(ci, sizeof ci, "%s - %s", fmt4(b, sizeof b, lo), fmt4(c, sizeof c, hi));
        fprintf(fp, "  %-12s %8s   %-17s  %s\n", name, fmt4(a, sizeof a, v), ci, extra);
    }
}

static void print_prop(FILE *fp, const char *name, Prop p) {
    char kn[48];
    snprintf(kn, sizeof kn, "%ld / %ld", p.k, p.n);
    print_row(fp, name, p.p, p.lo, p.hi, kn);
}

void eval_print(const EvalResult *r, int json, FILE *fp) {
    if (json) {
        JsonWriter w;
        jw_init(&w);
        eval_write_json(&w, r);
        fprintf(fp, "%.*s\n", (int)w.len, w.buf);
        jw_free(&w);
        return;
    }
    char a[32], b[32], c[32];
    fprintf(fp, "examples     %d  (%d positive, %d negative)\n", r->n, r->npos, r->nneg);
    if (isnan(r->auc)) {
        fprintf(fp, "AUC          n/a\n");
    } else if (isnan(r->auc_lo) || isnan(r->auc_hi)) {
        fprintf(fp, "AUC          %s   95%% CI n/a   (%s)\n", fmt4(a, sizeof a, r->auc), r->ci_method);
    } else {
        fprintf(fp, "AUC          %s   95%% CI %s - %s   (%s)\n", fmt4(a, sizeof a, r->auc),
                fmt4(b, sizeof b, r->auc_lo), fmt4(c, sizeof c, r->auc_hi), r->ci_method);
    }
    if (isnan(r->threshold)) /* e.g. pooled folds, each with its own threshold */
        fprintf(fp, "threshold    n/a   (%s)\n", r->threshold_rule);
    else
        fprintf(fp, "threshold    %.6g   (%s; positive if score >= threshold)\n", r->threshold, r->threshold_rule);
    fprintf(fp, "confusion    TP %ld   FP %ld   TN %ld   FN %ld\n\n", r->tp, r->fp, r->tn, r->fn);
    fprintf(fp, "  %-12s %8s   %-17s  %s\n", "metric", "value", "95% CI", "k / n  (Wilson interval)");
    print_prop(fp, "sensitivity", r->sens);
    print_prop(fp, "specificity", r->spec);
    print_prop(fp, "PPV", r->ppv);
    print_prop(fp, "NPV", r->npv);
    print_prop(fp, "accuracy", r->acc);
    print_row(fp, "F1", r->f1, r->f1_lo, r->f1_hi, isnan(r->f1_lo) ? "" : "(stratified bootstrap)");
    for (int i = 0; i < r->n_notes; i++) fprintf(fp, "note: %s\n", r->notes[i]);
}

/* ---- printing a paired comparison ------------------------------------------------------- */

#define COMPARE_METHOD "paired DeLong test (DeLong et al. 1988), two-sided; Wald 95% CI of the difference"

static void compare_side_json(JsonWriter *w, const char *key, const char *name, double auc, double lo, double hi,
                              double var) {
    jw_key(w, key);
    jw_object_begin(w);
    jw_key(w, "name");
    if (name) jw_string(w, name);
    else jw_null(w);
    jw_key(w, "auc"), jw_number(w, auc);
    jw_key(w, "auc_lo"), jw_number(w, lo);
    jw_key(w, "auc_hi"), jw_number(w, hi);
    jw_key(w, "auc_se"), jw_number(w, isfinite(var) ? sqrt(var > 0 ? var : 0) : NAN);
    jw_object_end(w);
}

void auc_compare_write_json(JsonWriter *w, const AucCompare *c, const char *name_a, const char *name_b) {
    jw_object_begin(w);
    jw_key(w, "n"), jw_int(w, c->n);
    jw_key(w, "npos"), jw_int(w, c->npos);
    jw_key(w, "nneg"), jw_int(w, c->nneg);
    compare_side_json(w, "a", name_a, c->auc_a, c->lo_a, c->hi_a, c->var_a);
    compare_side_json(w, "b", name_b, c->auc_b, c->lo_b, c->hi_b, c->var_b);
    jw_key(w, "diff"), jw_number(w, c->diff);
    jw_key(w, "diff_lo"), jw_number(w, c->lo);
    jw_key(w, "diff_hi"), jw_number(w, c->hi);
    jw_key(w, "se"), jw_number(w, c->se);
    jw_key(w, "z"), jw_number(w, c->z);
    jw_key(w, "p"), jw_number(w, c->p);
    jw_key(w, "corr"), jw_number(w, c->corr);
    jw_key(w, "method"), jw_string(w, COMPARE_METHOD);
    jw_key(w, "notes");
    jw_array_begin(w);
    if (c->note[0]) jw_string(w, c->note);
    jw_array_end(w);
    jw_object_end(w);
}

/* "+0.1128" (signed, for differences) or "n/a" */
static const char *fmt4s(char *buf, size_t n, double x) {
    if (isnan(x)) return fmt4(buf, n, x);
    snprintf(buf, n, "%+.4f", x);
    return buf;
}

void auc_compare_print(const AucCompare *c, const char *name_a, const char *name_b, int json, FILE *fp) {
    if (json) {
        JsonWriter w;
        jw_init(&w);
        auc_compare_write_json(&w, c, name_a, name_b);
        fprintf(fp, "%.*s\n", (int)w.len, w.buf);
        jw_free(&w);
        return;
    }
    char a[32], b[32], d[32], e[32];
    fprintf(fp, "examples     %d  (%d positive, %d negative), each scored by A and B\n", c->n, c->npos, c->nneg);
    fprintf(fp, "A            %s\nB            %s\n", name_a ? name_a : "(first scores)",
            name_b ? name_b : "(second scores)");
    const double auc[2] = {c->auc_a, c->auc_b}, lo[2] = {c->lo_a, c->lo_b}, hi[2] = {c->hi_a, c->hi_b};
    for (int k = 0; k < 2; k++) {
        if (isnan(lo[k]))
            fprintf(fp, "AUC %c        %s   95%% CI n/a\n", "AB"[k], fmt4(a, sizeof a, auc[k]));
        else
            fprintf(fp, "AUC %c        %s   95%% CI %s - %s   (DeLong, logit scale)\n", "AB"[k],
                    fmt4(a, sizeof a, auc[k]), fmt4(b, sizeof b, lo[k]), fmt4(d, sizeof d, hi[k]));
    }
    if (isnan(c->lo))
        fprintf(fp, "A - B        %s   95%% CI n/a\n", fmt4s(a, sizeof a, c->diff));
    else
        fprintf(fp, "A - B        %s   95%% CI %s to %s   (SE %s, Wald)\n", fmt4s(a, sizeof a, c->diff),
                fmt4s(b, sizeof b, c->lo), fmt4s(d, sizeof d, c->hi), fmt4(e, sizeof e, c->se));
    if (isnan(c->z)) fprintf(fp, "z            n/a\n");
    else fprintf(fp, "z            %.3f\n", c->z);
    if (isnan(c->p)) fprintf(fp, "p            n/a\n");
    else if (c->p < 1e-4) fprintf(fp, "p            %.2e   (two-sided paired DeLong test; H0: equal AUCs)\n", c->p);
    else fprintf(fp, "p            %.4f   (two-sided paired DeLong test; H0: equal AUCs)\n", c->p);
    if (isnan(c->corr)) fprintf(fp, "correlation  n/a\n");
    else fprintf(fp, "correlation  %.3f   (between the two AUC estimates)\n", c->corr);
    if (c->note[0]) fprintf(fp, "note: %s\n", c->note);
}

/* ---- scores CSV --------------------------------------------------------------------- */

void scores_table_free(ScoresTable *t) {
    if (!t) return;
    if (t->id)
        for (int i = 0; i < t->n; i++) free(t->id[i]);
    free(t->id), free(t->score), free(t->label), free(t->line);
    memset(t, 0, sizeof *t);
}

int scores_table_read(const char *path, ScoresTable *t) {
    memset(t, 0, sizeof *t);
    CsvReader r;
    if (csv_open(&r, path) != 0) return -1;
    int label_col = csv_require(&r, "label"), score_col = label_col < 0 ? -1 : csv_require(&r, "score");
    if (label_col < 0 || score_col < 0) {
        csv_close(&r);
        return -1;
    }
    /* ids: what scores_csv_write writes ("id"), else the experiment's "ecg_id" */
    int id_col = csv_column(&r, "id");
    snprintf(t->id_col, sizeof t->id_col, "%s", id_col >= 0 ? "id" : "");
    if (id_col < 0 && (id_col = csv_column(&r, "ecg_id")) >= 0) snprintf(t->id_col, sizeof t->id_col, "ecg_id");
    int cap = 0, n = 0, rc;
    while ((rc = csv_next(&r)) == 1) {
        const char *lf = csv_field(&r, label_col), *sf = csv_field(&r, score_col);
        double lv, sv;
        if (parse_double(lf, &lv) != 0 || (lv != 0.0 && lv != 1.0)) {
            rc = kres_fail(path, "line %d: label must be 0 or 1, got '%s'", r.row_line, lf);
            break;
        }
        if (parse_double(sf, &sv) != 0) {
            rc = kres_fail(path, "line %d: score '%s' is not a finite number", r.row_line, sf);
            break;
        }
        if (!isfinite((float)sv)) {
            rc = kres_fail(path, "line %d: score '%s' is outside the float range", r.row_line, sf);
            break;
        }
        if (n == cap) {
            if (cap >= 0x3fffffff) {
                rc = kres_fail(path, "line %d: too many rows", r.row_line);
                break;
            }
            cap = cap ? 2 * cap : 1024;
            t->score = xrealloc(t->score, (size_t)cap * sizeof *t->score);
            t->label = xrealloc(t->label, (size_t)cap * sizeof *t->label);
            t->line = xrealloc(t->line, (size_t)cap * sizeof *t->line);
            if (id_col >= 0) t->id = xrealloc(t->id, (size_t)cap * sizeof *t->id);
        }
        t->score[n] = (float)sv;
        t->label[n] = (int)lv;
        t->line[n] = r.row_line;
        if (id_col >= 0) t->id[n] = xstrdup(csv_field(&r, id_col));
        t->n = ++n;
    }
    csv_close(&r);
    if (rc == 0 && n == 0) rc = kres_fail(path, "no data rows after the header");
    if (rc != 0) {
        scores_table_free(t);
        return -1;
    }
    return 0;
}

int scores_csv_read(const char *path, float **scores_out, int **labels_out, int *n_out) {
    *scores_out = NULL;
    *labels_out = NULL;
    *n_out = 0;
    ScoresTable t;
    if (scores_table_read(path, &t) != 0) return -1;
    /* hand over the two arrays; the rest is freed */
    *scores_out = t.score, *labels_out = t.label, *n_out = t.n;
    t.score = NULL, t.label = NULL;
    scores_table_free(&t);
    return 0;
}

int scores_tables_paired(const char *path_a, const ScoresTable *a, const char *path_b, const ScoresTable *b) {
    if (a->n != b->n)
        return kres_fail(path_b, "%d data rows, but %s has %d: the two files must score the same cases in the "
                                 "same order (first unmatched: row %d)",
                         b->n, path_a, a->n, (a->n < b->n ? a->n : b->n) + 1);
    const int ids = a->id && b->id;
    for (int i = 0; i < a->n; i++) {
        if (ids && strcmp(a->id[i], b->id[i]) != 0)
            return kres_fail(path_b, "line %d: %s '%.60s', but %s line %d has %s '%.60s' (row %d): the two files must "
                                     "score the same cases in the same order",
                             b->line[i], b->id_col, b->id[i], path_a, a->line[i], a->id_col, a->id[i], i + 1);
        if (a->label[i] != b->label[i])
            return kres_fail(path_b, "line %d: label %d, but %s line %d has label %d (row %d): the two files must "
                                     "score the same cases in the same order",
                             b->line[i], b->label[i], path_a, a->line[i], a->label[i], i + 1);
    }
    return 0;
}

int scores_csv_write(const char *path, const char *const *ids, const float *scores,
                     const int *labels, int n) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    fprintf(af.fp, "id,label,score\n");
    for (int i = 0; i < n; i++) {
        if (ids) {
            /* quote ids that would break the CSV */
            if (strpbrk(ids[i], ",\"\n\r")) {
                fputc('"', af.fp);
                for (const char *c = ids[i]; *c; c++) {
                    if (*c == '"') fputc('"', af.fp);
                    fputc(*c, af.fp);
                }
                fputc('"', af.fp);
            } else {
                fputs(ids[i], af.fp);
            }
        } else {
            fprintf(af.fp, "%d", i);
        }
        /* %.9g round-trips a float exactly */
        fprintf(af.fp, ",%d,%.9g\n", labels[i], (double)scores[i]);
    }
    return atomic_commit(&af);
}
