/* probe.h — linear probing: L2-regularised logistic regression on frozen encoder embeddings,
 * folded back into a KRes classifier checkpoint.
 *
 * Dimension legend: n examples, d embedding width (E = 320 for the default KRes).
 *
 * Method (docs/pretraining.md, "Linear probe"):
 *   1. embeddings e (n, d) of the cohort in inference mode (embed.h);
 *   2. standardise with the TRAIN mean and standard deviation: z = (e - mu) / sd
 *      (sd of a constant feature is taken as 1);
 *   3. for each lambda of a log-spaced grid (default 13 values, 1e-4 .. 1e2, half decades),
 *      minimise with L-BFGS (liblbfgs)
 *        f(w, b) = (1/n) sum_i c_i [softplus(s_i) - y_i s_i] + (lambda/2) |w|^2,
 *        s_i = w . z_i + b   (bias not penalised),
 *      with class-balanced weights c_i = n / (2 n_{y_i}) (each class carries half the loss,
 *      scikit-learn's class_weight="balanced"); sklearn's C = 1 / (lambda n);
 *      the grid is walked from the strongest regularisation down, each fit warm-started
 *      from the previous one;
 *   4. pick lambda by validation AUC (ties -> the larger lambda, i.e. the simpler model);
 *   5. threshold on validation probabilities sigmoid(s) by the threshold rule;
 *   6. fold the standardisation back into embedding space, w' = w / sd,
 *      b' = b - sum_j w_j mu_j / sd_j, so that w' . e + b' = s, and store (w', b') as the
 *      head of a KRes classifier (n_outputs 1): `kres eval` and `kres predict` use it as
 *      any other model.
 * All sums are in double over fixed 256-row chunks added in order: the same inputs give the
 * same bits for any thread count. */
#ifndef KRES_TRAIN_PROBE_H
#define KRES_TRAIN_PROBE_H

#include <stdint.h>

#include "data/ptbxl.h"
#include "eval/metrics.h"

#define PROBE_MAX_GRID 32

/* ---- logistic regression ------------------------------------------------------------ */

/* Weighted L2 logistic loss and its gradient at wb = (w[0..d), b): the objective f above
 * on already standardised z (n, d), labels y in {0,1}, weights c (n) or NULL (all 1).
 * grad (d+1) may be NULL. Returns f. Deterministic for any thread count. */
double logreg_objective(const float *z, const int *y, const double *c, int n, int d,
                        double lambda, const double *wb, double *grad);

/* Minimise the objective with L-BFGS from the starting point in wb (d+1; zeros for a cold
 * start); wb receives the minimiser. *iters (may be NULL) receives the iterations used.
 * Returns the liblbfgs status (>= 0 converged; a negative line-search status near the
 * optimum is returned as is, the point is still the best one found). */
int logreg_fit(const float *z, const int *y, const double *c, int n, int d, double lambda,
               double *wb, int *iters);

/* Class-balanced weights c_i = n / (2 n_{y_i}). Fails (kres_fail) if a class is absent. */
int logreg_balanced_weights(const int *y, int n, double *c);

/* ---- probe on embeddings ------------------------------------------------------------- */

typedef struct {
    int n_lambda;                 /* grid size (1..PROBE_MAX_GRID), default 13 */
    double lambda_min, lambda_max;/* log-spaced inclusive, default 1e-4 and 1e2 */
    int balanced;                 /* class-balanced weights (default 1) */
    const char *threshold_rule;   /* default "youden" */
} ProbeFitOptions;
void probe_fit_options_default(ProbeFitOptions *o);

typedef struct {
    int d;
    double *mean, *sd;            /* (d) train standardisation */
    double *w;                    /* (d) weights on standardised features */
    double b;
    double lambda;                /* chosen */
    int chosen;                   /* index into the grid */
    int n_lambda;
    double grid_lambda[PROBE_MAX_GRID], grid_val_auc[PROBE_MAX_GRID];
    int grid_iters[PROBE_MAX_GRID], grid_status[PROBE_MAX_GRID];
    double val_auc;
    double threshold;             /* on sigmoid(decision), chosen on validation */
} ProbeFit;

/* Fit on (Xtr, ytr), select on (Xva, yva). X are raw embeddings (n, d), row-major.
 * Both sets need both classes. Returns 0 or -1 (kres_fail). Free with probe_fit_free. */
int probe_fit(const float *Xtr, const int *ytr, int ntr, const float *Xva, const int *yva, int nva,
              int d, const ProbeFitOptions *o, ProbeFit *out);
void probe_fit_free(ProbeFit *f);
/* The lambda grid as a JSON array of {lambda, val_auc, iters[, status]} (the key is the caller's). */
void probe_grid_write_json(JsonWriter *w, const ProbeFit *f, int with_status);
/* Decision value s = w . (e - mu)/sd + b for one raw embedding e (d). */
double probe_decision(const ProbeFit *f, const float *e);
/* The fold-back into embedding space: head_w (d) and *head_b with head_w . e + head_b = s. */
void probe_fold_back(const ProbeFit *f, float *head_w, float *head_b);

/* ---- the whole pipeline: `kres probe` ------------------------------------------------- */

typedef struct {
    const char *encoder_path;     /* required: any KRes checkpoint with an encoder */
    const char *data_dir;         /* required: PTB-XL directory */
    const char *task;             /* default "heart-block" */
    const char *out_path;         /* classifier checkpoint to write; NULL = do not save */
    CohortProtocol protocol;      /* default paper */
    int rate;                     /* 100 (default) or 500 */
    double min_likelihood;        /* default 0 */
    int test_fold, val_fold;      /* default 10 and 9 */
    double label_fraction;        /* of the training folds, default 1 */
    uint64_t seed;                /* label-fraction subset seed, default 1 */
    ProbeFitOptions fit;
    int quiet;                    /* no progress messages on stderr */
    /* Optional cache for repeated probes (experiment, CV): embeddings of every cohort
     * member in cohort order (cohort.n, d), e.g. from probe_embed_cohort. NULL = compute. */
    const float *cohort_embeddings;
    /* Optional: data_dir already open (the experiment's), so repeated probes do not re-read
     * the metadata and every record header. NULL = open data_dir. */
    const PtbxlDb *db;
    int argc;                     /* command line for the provenance (may be 0) */
    char *const *argv;
} ProbeOptions;
void probe_options_default(ProbeOptions *o);

typedef struct {
    int ntrain, nval, ntest;
    int ntrain_pos, nval_pos, ntest_pos;
    ProbeFit fit;
    /* Holdout (test fold) scores = sigmoid of the saved model's logit, with labels and
     * ecg_ids, in cohort order: for pooled cross-validation. */
    float *test_scores;
    int *test_labels, *test_ecg_id;
    float *val_scores;            /* (nval), likewise */
    int *val_labels;
    EvalResult test;              /* at the validation threshold */
    int test_auc_defined;         /* 0 if the test fold misses a class */
    double seconds_embed, seconds_fit;
} ProbeResult;

/* Run the probe end to end (cohort, split, subset, embeddings, fit, save, test).
 * Returns 0 or -1 (kres_fail). Free r with probe_result_free (also after a failure). */
int probe_run(const ProbeOptions *o, ProbeResult *r);
void probe_result_free(ProbeResult *r);

/* Embeddings (c->n, E) of every cohort member with the encoder at encoder_path, for the
 * cohort_embeddings cache. *out is malloc'd; *E receives the width. */
int probe_embed_cohort(const char *encoder_path, const Cohort *c, float **out, int *E, int quiet);

#endif
