/* metrics.h — binary-classification metrics with confidence intervals.
 *
 * Conventions used everywhere in this module:
 *   labels[i] in {0,1} (1 = positive, heart block), scores[i] any finite real,
 *   decision rule: predict positive  <=>  score >= threshold, compared in float (the
 *   scores' precision: a threshold of 0.35 and a score of 0.35 are equal).
 *   All intervals are two-sided 95% (z = 1.959963984540054).
 * Functions return 0 on success and -1 (after kres_fail) on bad input: n <= 0, a label
 * other than 0/1, or a NaN/Inf score (the message names the 0-based row).
 * AUC needs both classes; when one class is absent the AUC functions fail with a
 * message saying so, while eval_binary still fills in everything that is defined and
 * returns EVAL_AUC_UNDEFINED (1). Nothing here is multi-threaded, so results are
 * bit-identical for the same inputs and seed. See docs/metrics.md. */
#ifndef KRES_METRICS_H
#define KRES_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "common/json.h"
#include "common/util.h"

#define EVAL_Z95 1.959963984540054
/* eval_binary's return value when everything except the AUC (and its CI) is filled in. */
#define EVAL_AUC_UNDEFINED 1

/* A proportion k/n with its Wilson score interval; p, lo, hi are NaN when n == 0. */
typedef struct {
    long k, n;
    double p, lo, hi;
} Prop;

/* Wilson score interval for k successes out of n (z = EVAL_Z95 for 95%). */
Prop wilson_interval(long k, long n, double z);

typedef enum { EVAL_CI_DELONG = 0, EVAL_CI_BOOTSTRAP = 1 } EvalCiMethod;

typedef struct {
    EvalCiMethod ci;   /* AUC interval: DeLong (default) or stratified percentile bootstrap */
    int n_boot;        /* bootstrap replicates for the AUC (if bootstrap) and for F1; 0 = no F1 CI */
    uint64_t seed;     /* seeds every bootstrap; same seed => same bits */
} EvalOptions;
void eval_options_default(EvalOptions *o); /* DeLong, n_boot 1000, seed 1 */

#define EVAL_MAX_NOTES 8
typedef struct {
    int n, npos, nneg;
    double auc, auc_lo, auc_hi; /* NaN when undefined */
    double auc_se;              /* DeLong standard error (NaN for bootstrap / undefined) */
    char ci_method[96];         /* e.g. "DeLong, logit scale", "stratified bootstrap percentile, B=1000, seed=1" */
    double threshold;
    char threshold_rule[48];    /* "fixed" by default; callers overwrite, e.g. "youden (chosen on this data)" */
    long tp, fp, tn, fn;
    Prop sens, spec, ppv, npv, acc;
    double f1, f1_lo, f1_hi;    /* F1 CI: stratified bootstrap at the fixed threshold; NaN if none */
    int n_notes;                /* human-readable caveats: undefined values and why */
    char notes[EVAL_MAX_NOTES][160];
} EvalResult;

/* Everything at once: AUC + CI (opts->ci), confusion matrix at `threshold` and each
 * proportion with a Wilson interval, F1 with a bootstrap interval.
 * Returns 0, EVAL_AUC_UNDEFINED (one class absent; r is filled, AUC fields NaN,
 * kres_last_error() explains), or -1 on bad input (r is not meaningful). */
int eval_binary(const float *scores, const int *labels, int n, double threshold,
                const EvalOptions *opts, EvalResult *r);

/* Human-readable table (json == 0) or one JSON object + newline (json != 0). */
void eval_print(const EvalResult *r, int json, FILE *fp);
/* Append r as one JSON object value to w (for results.json and friends). */
void eval_write_json(JsonWriter *w, const EvalResult *r);
/* key: {"value", "lo", "hi", "k", "n"} for one proportion (as in eval_write_json). */
void eval_write_prop_json(JsonWriter *w, const char *key, Prop p);

/* ---- AUC ---------------------------------------------------------------------------- */

/* ROC AUC = P(score_pos > score_neg) + 0.5 P(tie) (Mann-Whitney with midranks). O(n log n). */
int roc_auc(const float *scores, const int *labels, int n, double *auc);
/* AUC and DeLong variance via midranks (Sun & Xu 2014), O(n log n). *var is NaN when a
 * class has fewer than 2 members (the structural-component variance needs 2); var may be
 * NULL (AUC only, as roc_auc). */
int auc_delong(const float *scores, const int *labels, int n, double *auc, double *var);
/* 95% DeLong CI computed on the logit scale and mapped back (always inside [0,1]);
 * falls back to the plain-scale interval clipped to [0,1] when AUC is exactly 0 or 1. */
int auc_ci_delong(const float *scores, const int *labels, int n, double *auc, double *lo,
                  double *hi, double *se);
/* 95% stratified percentile bootstrap CI: each replicate resamples the positives and
 * the negatives separately with replacement (class counts fixed). */
int auc_ci_bootstrap(const float *scores, const int *labels, int n, int n_boot, uint64_t seed,
                     double *auc, double *lo, double *hi);

/* Naive O(npos*nneg) references (tests only): AUC by pair counting and DeLong variance
 * from the structural components V10_i = mean_j psi(x_i, y_j), V01_j = mean_i psi(x_i, y_j). */
int roc_auc_naive(const float *scores, const int *labels, int n, double *auc);
int auc_delong_naive(const float *scores, const int *labels, int n, double *auc, double *var);

/* ---- paired comparison of two AUCs on the same cases ------------------------------- */

/* DeLong, DeLong & Clarke-Pearson (1988) test of AUC_a = AUC_b for two scores of the SAME
 * cases (correlated ROC curves). Per score, the structural components V10 (one per
 * positive) and V01 (one per negative); S10, S01 their 2x2 sample covariance matrices
 * (divisors P-1 and N-1); then
 *   var(A_a - A_b) = (S10_aa + S10_bb - 2 S10_ab) / P + (S01_aa + S01_bb - 2 S01_ab) / N,
 *   z = (A_a - A_b) / se,  p = erfc(|z| / sqrt 2) (two-sided),
 *   95% Wald interval diff +/- 1.96 se, clipped to [-1, 1].
 * Undefined values are NaN and `note` says why:
 *   fewer than 2 positives or 2 negatives: the AUCs are given, se/lo/hi/z/p/corr are NaN;
 *   identical placements (a == b, or one a monotone transform of the other): diff 0, se 0,
 *     interval [0, 0], z 0, p 1;
 *   se 0 but diff != 0 (e.g. one score separates the classes perfectly and the other is
 *     constant): the test is degenerate; interval [diff, diff], z and p NaN.
 * corr is NaN when either AUC's variance is 0 or undefined. */
typedef struct {
    int n, npos, nneg;
    double auc_a, auc_b;
    double lo_a, hi_a, lo_b, hi_b; /* each AUC's own 95% DeLong CI (logit scale, as auc_ci_delong) */
    double var_a, var_b, cov;      /* DeLong variances of the two AUCs and their covariance */
    double corr;                   /* cov / sqrt(var_a var_b): the correlation of the estimates */
    double diff, se;               /* auc_a - auc_b and its standard error */
    double lo, hi;                 /* 95% Wald CI of diff */
    double z, p;
    char note[200];                /* "" or why something is undefined / degenerate */
} AucCompare;

/* Every number NaN, the counts 0 and no note: a comparison not (yet) made. Both tests
 * start from it, so *out is in this state after they return -1. */
void auc_compare_init(AucCompare *c);
/* O(n log n): one sort per score, placements from the tie groups (as auc_delong; var_a and
 * var_b are bit-identical to auc_delong's). Returns 0, or -1 (kres_fail) on bad input:
 * n <= 0, a label not 0/1, a NaN/Inf score in either array (the message says which), or
 * one class absent (no AUC). */
int auc_delong_paired(const float *score_a, const float *score_b, const int *labels, int n, AucCompare *out);
/* O(P*N) reference (tests only): placements by pair counting, var(diff) from the 2x2
 * covariance matrices exactly as the formula above. Same edge-case rules. */
int auc_delong_paired_naive(const float *score_a, const float *score_b, const int *labels, int n,
                            AucCompare *out);
/* Table (json == 0) or one JSON object + newline; name_a/name_b label the two scores
 * (e.g. file names; may be NULL). */
void auc_compare_print(const AucCompare *c, const char *name_a, const char *name_b, int json, FILE *fp);
/* Append c as one JSON object value (keys: n, npos, nneg, a {name, auc, auc_lo, auc_hi,
 * auc_se}, b {...}, diff, diff_lo, diff_hi, se, z, p, corr, method, notes). */
void auc_compare_write_json(JsonWriter *w, const AucCompare *c, const char *name_a, const char *name_b);

/* Exact Binomial(n, p) draw in O(log n) (Knuth's Beta splitting); used by the F1
 * bootstrap. Deterministic for a given Rng state. */
long eval_binomial(Rng *rng, long n, double p);

/* ---- ROC curve ---------------------------------------------------------------------- */

/* Points (fpr[k], tpr[k]) for threshold thr[k], k = 0..n-1, thresholds descending:
 * point 0 is (0,0) at thr = +Inf, then one point per distinct score (predict positive if
 * score >= thr), ending at (1,1). Needs both classes. */
typedef struct {
    int n;
    double *fpr, *tpr, *thr;
} RocCurve;
int roc_curve(const float *scores, const int *labels, int n, RocCurve *out);
/* At most max_points (>= 2) points, spaced evenly along the curve's length and always
 * keeping both ends; for plots only (its trapezoid area is not the exact AUC). */
int roc_downsample(const RocCurve *in, int max_points, RocCurve *out);
void roc_curve_free(RocCurve *c);

/* ---- thresholds --------------------------------------------------------------------- */

typedef enum { THR_YOUDEN, THR_SENS, THR_SPEC, THR_FIXED } ThresholdKind;
typedef struct {
    ThresholdKind kind;
    double value; /* target for sens/spec, the threshold for fixed */
} ThresholdRule;
/* "youden" | "sens=X" | "spec=X" (X in (0,1]) | "fixed=X" (any finite X).
 * Returns -1 with a message (no path) for anything else. */
int threshold_rule_parse(const char *s, ThresholdRule *out);
/* Choose a threshold on (scores, labels) by a rule string (see threshold_rule_parse):
 *   youden: the observed score maximising sens + spec - 1 (highest such score on ties);
 *   sens=X: the highest observed score whose sensitivity is >= X;
 *   spec=X: the lowest observed score whose specificity is >= X (if none, a value just
 *           above the maximum score, so nothing is called positive);
 *   fixed=X: X.
 * A chosen score is returned as the shortest decimal that rounds to that float score
 * (0.8, not 0.800000011920929), which compares equal to it under the decision rule. */
int choose_threshold(const float *scores, const int *labels, int n, const char *rule, double *thr);

/* ---- scores CSV --------------------------------------------------------------------- */

/* Read a CSV with a header that has columns `label` and `score` (any order, extra columns
 * ignored). Errors name the file and 1-based line. Caller frees *scores and *labels. */
int scores_csv_read(const char *path, float **scores, int **labels, int *n);

/* The same file with what is needed to check that two files score the same cases: the id
 * column ("id", else "ecg_id"; id is NULL when there is neither) and each row's line. */
typedef struct {
    int n;
    float *score;
    int *label;
    char **id;         /* [n] or NULL */
    char id_col[8];    /* "id", "ecg_id" or "" */
    int *line;         /* [n] 1-based line where the row starts */
} ScoresTable;
int scores_table_read(const char *path, ScoresTable *t);
void scores_table_free(ScoresTable *t);
/* Do b (read from path_b) and a (from path_a) describe the same cases in the same order?
 * Same number of rows, the same label row by row, and the same id row by row when both
 * have an id column. Returns 0, or -1 with kres_fail naming path_b and the first
 * differing row (its line in both files). */
int scores_tables_paired(const char *path_a, const ScoresTable *a, const char *path_b, const ScoresTable *b);
/* Write "id,label,score" rows atomically (ids may be NULL: row numbers are used). */
int scores_csv_write(const char *path, const char *const *ids, const float *scores,
                     const int *labels, int n);

#endif
