/* experiment.h — the paper's experiment end to end (`kres experiment`): contrastive
 * pretraining once, then for every label fraction and repeat the three pipelines
 *   supervised   KRes trained from scratch on the labelled subset (trainer.h)
 *   fine-tune    the pretrained encoder + a new head, all layers trained (finetune.h)
 *   linear probe logistic regression on the frozen encoder's embeddings (probe.h)
 * on the SAME stratified, seeded subset (subset_label_fraction: nested across fractions
 * for one repeat), evaluated on the same holdout, with a results table, JSON and an HTML
 * report. At every fraction and repeat the pipelines' AUCs are compared pairwise with the
 * paired DeLong test on the same test ECGs (fine-tune and probe vs supervised, fine-tune
 * vs probe). Details and the on-disk layout: docs/experiment.md.
 *
 * Evaluation:
 *   holdout (default)  train folds 1-8, validation fold 9 (epoch, lambda and threshold
 *                      are chosen there), test fold 10;
 *   cv                 10 rounds (kfold_folds: test fold k, validation fold k%10+1),
 *                      test scores pooled out-of-fold; AUC on the pooled scores, the
 *                      confusion matrix from each record's decision at its own round's
 *                      threshold.
 * Pretraining never sees a label. Data:
 *   holdout            --pretrain-data dirs if given, else the PTB-XL directory; PTB-XL
 *                      trees lose the test and validation folds (9 and 10) either way;
 *   cv, transductive   (default with --cv) one pretraining on every record, the holdout
 *                      folds included: the encoder has seen the unlabelled test ECGs of
 *                      every round. Said prominently in results.md and report.html;
 *   cv, per-fold       one pretraining per round without its test and validation folds
 *                      (ten times the pretraining cost; honest in the strict sense).
 *
 * Resuming: every finished unit of work leaves a small JSON written atomically after its
 * outputs (pretrain/done.json, runs/<name>/result.json, with --cv also
 * runs/<name>/fold-K/fold.json); a rerun into the same directory skips those and resumes
 * an interrupted pretraining from its state file. RUN_DIR/experiment.json pins the
 * settings that determine the runs: a rerun with other settings is refused (fractions,
 * repeats and threads may change, so an experiment can be extended with more repeats). */
#ifndef KRES_TRAIN_EXPERIMENT_H
#define KRES_TRAIN_EXPERIMENT_H

#include <stddef.h>
#include <stdint.h>

#include "data/preprocess.h"
#include "nn/kres.h"
#include "train/pretrain.h"

typedef enum { EXP_SUPERVISED = 0, EXP_FINETUNE = 1, EXP_PROBE = 2, EXP_NPIPELINES = 3 } ExpPipeline;
/* "supervised" | "finetune" | "probe": directory names and results.json's "pipeline". */
const char *exp_pipeline_id(ExpPipeline p);
/* "supervised" | "fine-tune" | "linear probe": tables and plots. */
const char *exp_pipeline_label(ExpPipeline p);
int exp_pipeline_parse(const char *id, ExpPipeline *p);   /* from an id; 0 or -1 */

typedef enum { EXP_CV_TRANSDUCTIVE = 0, EXP_CV_PER_FOLD = 1 } ExpCvPretrain;

#define EXP_MAX_FRACTIONS 16
#define EXP_MAX_REPEATS 100

typedef struct {
    /* ---- data and protocol ---- */
    const char *data_dir;          /* PTB-XL directory (required) */
    int n_pretrain_dirs;           /* 0 = pretrain on data_dir */
    const char *pretrain_dirs[PRETRAIN_MAX_DIRS];
    const char *task;              /* default "heart-block" (paper protocol, 100 Hz) */
    int cv;                        /* 0 = holdout fold 10, 1 = pooled 10-fold CV */
    ExpCvPretrain cv_pretrain;     /* with cv (default transductive) */
    int n_fractions;               /* label fractions, each in (0,1], distinct */
    double fractions[EXP_MAX_FRACTIONS];
    int repeats;                   /* seeded subsets per fraction, 1..EXP_MAX_REPEATS */
    uint64_t seed;                 /* repeat r uses seed + r - 1 for its subset and weights */
    /* ---- training ---- */
    const char *preset;            /* "demo" | "paper" | "custom": recorded, not used */
    int epochs;                    /* supervised and fine-tune epochs ... */
    int min_steps;                 /* ... raised so that every run makes >= min_steps steps */
    int batch;
    float lr;                      /* peak AdamW lr (head; fine-tune encoder: lr * scale) */
    float encoder_lr_scale;        /* fine-tune, default 0.1 */
    const char *threshold_rule;    /* default "youden" on the validation fold */
    int pretrain_epochs, pretrain_batch;
    double pretrain_lr, temperature;
    KresConfig model;              /* the same architecture for every pipeline */
    int model_is_default;          /* 0: say so in the report (e.g. a width-reduced demo) */
    PreprocConfig preproc;
    /* ---- running ---- */
    const char *out_dir;           /* RUN_DIR (required) */
    int threads;                   /* 0 = leave as is */
    int quiet;                     /* no progress lines */
    int verbose;                   /* per-epoch lines of every training run */
    int report_only;               /* rebuild results.* from the finished runs, train nothing */
    int argc;                      /* command line, recorded */
    char *const *argv;
} ExperimentOptions;

/* Defaults = the "demo" preset on nothing (data_dir/out_dir NULL). */
void experiment_options_default(ExperimentOptions *o);
/* Apply a preset's fractions, repeats, epochs and pretraining settings:
 *   demo   fractions 1,0.5,0.25,0.1, 1 repeat, supervised/fine-tune 8 epochs (>= 40 steps),
 *          batch 32, pretraining 8 epochs of batch 32; the default KRes architecture;
 *   paper  fractions 1,0.5,0.25,0.1,0.05, 5 repeats, 30 epochs (>= 300 steps), batch 64,
 *          pretraining 50 epochs of batch 128.
 * Returns 0, or -1 (kres_fail) for an unknown name. */
int experiment_apply_preset(ExperimentOptions *o, const char *name);

/* Run (or resume) the whole experiment and write RUN_DIR/results.json, results.md and
 * report.html. Returns 0 or -1 (kres_fail). */
int experiment_run(const ExperimentOptions *o);

/* ---- pieces, exposed for tests ---------------------------------------------------------- */

/* Parse "1,0.5,0.25": each in (0, 1], at most cap, no duplicates; sorted descending.
 * Returns 0, or -1 (kres_fail, no path) naming the bad item. */
int exp_parse_fractions(const char *s, double *out, int cap, int *n);
/* "<pipeline>-f<fraction %g>-r<repeat>", e.g. "finetune-f0.25-r1". */
void exp_run_name(char *buf, size_t n, ExpPipeline p, double fraction, int repeat);
/* Epochs for a run on ntrain examples: epochs, raised to ceil(min_steps / steps per epoch)
 * (steps per epoch = ceil(ntrain / batch)) so tiny subsets still make min_steps updates. */
int exp_epochs_for(int epochs, int min_steps, int ntrain, int batch);

/* Mean, sample standard deviation (NaN for n < 2), min and max of x[0..n), NaNs skipped;
 * *used receives how many were finite. */
void exp_stats(const double *x, int n, double *mean, double *sd, double *lo, double *hi, int *used);

#endif
