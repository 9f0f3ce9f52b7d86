/* trainer.h — the supervised classifier training loop (heart block and any other PTB-XL task).
 *
 * One call, train_classifier(), does everything `kres train` does for one split:
 *   cohort (task + protocol + rate) -> split by strat_fold (test, validation, train = the
 *   rest) -> optional stratified label-fraction subset of the training records -> epochs of
 *   shuffled mini-batches from the streaming loader: BCE-with-logits (pos_weight = n_neg /
 *   n_pos of the training records), AdamW with linear warm-up and cosine decay, global
 *   gradient-norm clipping -> after every epoch: validation AUC and loss; the parameters and
 *   BN statistics of the best epoch (highest validation AUC, earlier epoch on ties) are kept
 *   -> the best epoch is restored, the decision threshold chosen on the validation scores by
 *   a rule (Youden's J by default), test-fold scores computed, and the checkpoint saved
 *   atomically with its metadata (kind "classifier", kres_config, preprocess, task,
 *   threshold, threshold_rule, provenance).
 *
 * It is a library function: `kres finetune` calls it with init_encoder set (and a lower
 * encoder learning rate), `kres train --cv` calls it ten times, and `kres experiment` calls
 * it for every pipeline and label fraction. Pass an open PtbxlDb (db) to skip re-reading the
 * CSVs on every call.
 *
 * Scores are probabilities: sigmoid of the logit (binary model), or for a per-code
 * (multi-label) model the largest per-code probability, so the task-level decision is
 * "any code called positive" at one threshold.
 *
 * Reproducibility: the same options, seed and thread count give bit-identical checkpoint
 * tensors and threshold (the only run-dependent metadata is provenance.date, pinned by the
 * environment variable SOURCE_DATE_EPOCH, and provenance.git_commit). */
#ifndef KRES_TRAINER_H
#define KRES_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "data/preprocess.h"
#include "data/ptbxl.h"
#include "nn/checkpoint.h"
#include "nn/kres.h"

typedef struct {
    /* ---- data ---- */
    const char *data_dir;       /* PTB-XL directory (required unless db is given) */
    const PtbxlDb *db;          /* optional: an already open database for data_dir */
    const char *task;           /* task spec for task_parse, default "heart-block" */
    CohortProtocol protocol;    /* default PROTOCOL_PAPER (as `kres dataset`) */
    int rate;                   /* 100 (default) or 500: which PTB-XL files are read */
    double min_likelihood;      /* default 0 = any likelihood counts */
    int test_fold;              /* 1..10 (default 10); 0 = no test fold */
    int val_fold;               /* 1..10 (default 9); required, != test_fold */
    double label_fraction;      /* (0, 1], default 1: stratified subset of the training folds */
    uint64_t subset_seed;       /* seed of that subset (default 1) */
    int multilabel;             /* 0 (default): one output "any task code"; 1: one per code */
    PreprocConfig preproc;      /* default preproc_default() (100 Hz, 1024 samples) */
    size_t cache_bytes;         /* loader cache of preprocessed records (default 1 GiB) */
    int augment;                /* 1: light augmentation of training batches (default 0) */

    /* ---- model and optimisation ---- */
    KresConfig model;           /* default kres_config_default(); heads are set by the trainer
                                 * (n_outputs = 1 or ncodes, no projection head) */
    int epochs;                 /* default 20 */
    int batch;                  /* default 64 */
    float lr;                   /* peak learning rate, default 1e-3 */
    float min_lr_frac;          /* cosine floor as a fraction of lr, default 0.01 */
    float weight_decay;         /* AdamW decoupled decay, default 1e-2 (not on biases, BN) */
    float warmup_frac;          /* fraction of all steps for linear warm-up, default 0.05 */
    float grad_clip;            /* global-norm clip, default 1.0; 0 = off */
    uint64_t seed;              /* weights, shuffling, dropout (default 1) */
    int threads;                /* OpenMP threads; 0 = leave as is (OMP_NUM_THREADS / cores) */
    const char *threshold_rule; /* "youden" (default) | "sens=X" | "spec=X" | "fixed=X" */

    /* ---- fine-tuning (used by `kres finetune`) ---- */
    const char *init_encoder;   /* checkpoint whose encoder tensors initialise the model; NULL */
    float encoder_lr_scale;     /* multiplies lr for the encoder prefix (default 1) */

    /* ---- output ---- */
    const char *out_path;       /* checkpoint to write; NULL = do not save */
    const char *log_path;       /* JSON-lines log; NULL = none */
    int log_every;              /* steps between "step" log lines (default 10) */
    const char *kind;           /* checkpoint kind, default "classifier" */
    int quiet;                  /* no progress bar or per-epoch lines on stderr */
    const char *progress_prefix;/* e.g. "fold 3/10 " before the bar */
    int argc;                   /* command line for provenance (argv may be NULL) */
    char *const *argv;
} TrainOptions;

void train_options_default(TrainOptions *o);

typedef struct {
    int best_epoch;             /* 1-based */
    double best_val_auc;        /* NaN if the validation fold has one class only */
    double best_val_loss;
    double threshold;           /* chosen on the validation scores of the best epoch */
    char threshold_rule[64];    /* the rule as applied, e.g. "youden on validation fold 9" */
    int epochs_run;
    int ntrain, ntrain_pos, nval, nval_pos;
    double pos_weight;          /* binary models: n_neg / n_pos of the training records */
    double train_seconds;       /* wall time of the training epochs (without validation) */
    double train_samples_per_s; /* training examples per second (forward + backward + step) */
    double infer_samples_per_s; /* validation inference throughput */
    double total_seconds;       /* the whole call */
    /* Validation scores of the best epoch and the test-fold scores (malloc'd, free with
     * train_result_free). Scores are probabilities (see above). */
    int nval_scores;
    float *val_scores;
    int *val_labels, *val_ecg_id;
    int ntest;                  /* 0 if test_fold == 0 */
    float *test_scores;
    int *test_labels, *test_ecg_id;
} TrainResult;

void train_result_free(TrainResult *r);

/* Train one classifier. Returns 0, or -1 with kres_fail (bad options or data, a
 * non-finite loss, a failed save). r is zeroed first and owns its arrays afterwards,
 * also after a failure (train_result_free is always safe). */
int train_classifier(const TrainOptions *o, TrainResult *r);

/* ---- pieces shared with `kres eval --model` and `kres predict` ---- */

/* Task-level score from the model's O outputs (logits): sigmoid for O = 1, else the
 * largest per-code sigmoid. */
float classifier_score(const float *logits, int O);

/* Scores of the cohort records idx[0..n) with model m (inference mode: running BN
 * statistics, no dropout), in batches of up to max_batch (the model's). probs (n * O or
 * NULL): per-output sigmoid; scores (n or NULL): classifier_score. Records are read and
 * preprocessed with pc. Returns 0 or -1 (a record that cannot be read, named). */
int classifier_infer(Kres *m, int max_batch, const Cohort *c, const int *idx, int n,
                     const PreprocConfig *pc, float *probs, float *scores);

/* The task JSON stored in checkpoints:
 *   {"name":"heart-block","codes":["1AVB",...],"protocol":"paper","rate":100,
 *    "min_likelihood":0,"outputs":"any"|"per-code","description":"..."}
 * (malloc'd). */
char *task_json_make(const Task *t, CohortProtocol protocol, int rate, double min_likelihood,
                     int multilabel);

/* What a checkpoint's task JSON says. */
typedef struct {
    char name[256];
    int ncodes;
    char codes[TASK_MAX_CODES][PTBXL_CODE_MAX];
    CohortProtocol protocol;
    int rate;
    double min_likelihood;
    int multilabel;
} TaskMeta;
/* Parse task JSON (as written by task_json_make); path names the checkpoint in errors. */
int task_json_parse(const char *json, const char *path, TaskMeta *t);

/* A classifier checkpoint opened for scoring, with what its metadata says. */
typedef struct {
    Kres *m;
    CkptInfo info;             /* info.threshold: the stored one, NaN if none */
    TaskMeta tm;
    PreprocConfig pc;
    int O;                     /* outputs: 1, or one per SCP code (multilabel) */
} Classifier;

/* Load path (activations for max_batch examples) and check it: kind "classifier", task and
 * preprocessing metadata that parse, and outputs and input shape that agree with them.
 * Whether a stored threshold is needed is the caller's to check. 0, or -1 with kres_fail
 * naming the file; classifier_close in both cases. */
int classifier_open(const char *path, int max_batch, Classifier *k);
void classifier_close(Classifier *k);

#endif
