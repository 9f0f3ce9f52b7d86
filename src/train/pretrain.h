/* pretrain.h — self-supervised contrastive pretraining of the KRes encoder (`kres pretrain`).
 *
 * Dimension legend: N ECGs (pairs) per step, 2N views, C = 12 leads, L model input length,
 * E embedding width, P projection width.
 *
 * One step (SimCLR, Chen et al. 2020): build two views of N ECGs, run the 2N views through
 * encoder + projection head (training mode: batch statistics over all 2N views, dropout),
 * NT-Xent loss (loss.h) with rows i and i+N as the positive pairs, backward, global-norm
 * clipping, AdamW with linear warm-up and cosine decay (optim.h).
 * Views by pair mode:
 *   augment   two independent augmentations of one ECG (SimCLR);
 *   segments  the two adjacent non-overlapping halves of one ECG window (CLOCS's CMSC):
 *             records are preprocessed to 2L samples and split, the model is built for L,
 *             and the saved encoder records the 2L preprocessing for downstream use;
 *   patient   two different ECGs of the same patient (PCLR); a patient with one ECG (or
 *             unknown patient, e.g. a plain WFDB directory) falls back to two views of the
 *             same ECG. Augmentations are applied on top in every mode (unless disabled).
 * Randomness: the epoch permutation is drawn from (seed, epoch); the partner and the
 * augmentations of example x in epoch e from (seed, e, x, view); dropout from (seed, step).
 * Nothing depends on the thread count except the floating-point reductions, which are
 * themselves fixed for a fixed thread count: same seed + threads => same bits.
 *
 * Checkpoints (atomic): the state file "<out>.state.safetensors" (the whole model, AdamW
 * moments as extra tensors "optim.m"/"optim.v", the step and the run's options as
 * metadata) and the encoder "<out>" (kind "encoder", the model incl. projection head).
 * Resuming loads the state file and continues at its step; because every random draw is a
 * function of (seed, epoch, example, step), the result is bit-identical to an uninterrupted
 * run with the same seed and thread count. */
#ifndef KRES_TRAIN_PRETRAIN_H
#define KRES_TRAIN_PRETRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "data/augment.h"
#include "data/preprocess.h"
#include "nn/kres.h"

typedef enum { PAIRS_AUGMENT = 0, PAIRS_SEGMENTS = 1, PAIRS_PATIENT = 2 } PairMode;
int pair_mode_parse(const char *s, PairMode *out);   /* "augment" | "segments" | "patient" */
const char *pair_mode_name(PairMode m);

#define PRETRAIN_MAX_DIRS 64

typedef struct {
    int ndirs;
    const char *dirs[PRETRAIN_MAX_DIRS]; /* PTB-XL trees (have ptbxl_database.csv) or WFDB dirs */
    const char *out_path;        /* encoder checkpoint (required) */
    PairMode pairs;              /* default augment */
    int epochs;                  /* default 10 */
    int batch;                   /* N ECGs per step (2N views), default 32 */
    double temperature;          /* default 0.1 */
    double lr;                   /* AdamW peak learning rate, default 1e-3 */
    double weight_decay;         /* default 1e-4 (BN and bias parameters exempt) */
    double warmup_frac;          /* warm-up steps as a fraction of all steps, default 0.05 */
    double clip;                 /* global-norm clip, default 1.0 (0 = off) */
    uint64_t seed;               /* default 1 */
    int threads;                 /* OpenMP threads, 0 = leave as is */
    unsigned exclude_folds;      /* bit k set = skip PTB-XL strat_fold k; default folds 9, 10 */
    int rate;                    /* PTB-XL files to read: 100 (default) or 500 */
    long checkpoint_every;       /* also checkpoint every N steps (0 = epoch ends only) */
    int resume;                  /* continue from the state file */
    long max_steps;              /* stop (with a checkpoint) after this global step, 0 = no
                                  * limit; the schedule still spans all epochs (tests use it to
                                  * simulate a killed run) */
    int limit;                   /* use only the first N examples found (0 = all) */
    size_t cache_bytes;          /* loader cache, default 256 MiB */
    const char *log_path;        /* JSON-lines log, NULL = none */
    int log_every;               /* step lines every N steps, default 10 */
    int quiet;                   /* no progress bar or messages */
    KresConfig model;            /* default kres_config_default (n_outputs 0, proj on) */
    PreprocConfig preprocess;    /* default preproc_default; .length is the model length L */
    AugmentConfig augment;       /* default augment_default */
    int argc;                    /* command line for the provenance */
    char *const *argv;
} PretrainOptions;
void pretrain_options_default(PretrainOptions *o);

/* The examples a run uses (exposed so tests and `--dry-run` can count them). */
typedef struct {
    int n;
    char **path;                 /* (n) WFDB record names */
    int *patient;                /* (n) dense patient index, -1 = unknown */
    int n_ptbxl, n_plain;        /* examples from PTB-XL trees / plain WFDB directories */
    int n_excluded;              /* PTB-XL rows (and matching plain records) in excluded folds */
    int n_duplicates;            /* PTB-XL v1.0.3 duplicates dropped (rows, and plain records
                                  * named like one when a PTB-XL tree is given too) */
    int n_missing;               /* PTB-XL rows whose files are absent at the rate */
    int n_patients;              /* distinct known patients */
    int n_multi;                 /* examples whose patient has >= 2 examples */
} PretrainCorpus;
int pretrain_corpus_build(const PretrainOptions *o, PretrainCorpus *c);
void pretrain_corpus_free(PretrainCorpus *c);
/* The ecg_id of a record named like PTB-XL's files ("dir/NNNNN_lr", "dir/NNNNN_hr"), else
 * -1: how a plain record is recognised as a PTB-XL ECG (a held-out one, a duplicate). */
int pretrain_record_ecg_id(const char *path);

typedef struct {
    PretrainCorpus corpus;       /* what was used (owned; freed by pretrain_result_free) */
    long steps_per_epoch, total_steps;
    long start_step, end_step;   /* global steps done before this call / after it */
    int epochs_done;
    double first_loss, last_loss;/* mean loss of the first / last epoch run in this call */
    double last_accuracy;        /* mean positive-pair accuracy of the last epoch */
    double samples_per_s;        /* ECGs (pairs) per second over this call */
    double seconds;
    int completed;               /* 1 if all epochs are done */
} PretrainResult;

/* Run (or resume) pretraining. Returns 0 or -1 (kres_fail). Free r with
 * pretrain_result_free, also after a failure. */
int pretrain_run(const PretrainOptions *o, PretrainResult *r);
/* pretrain_run on a corpus already built from the same options (pretrain_corpus_build), so a
 * caller that inspected it does not scan the directories twice: it moves into r->corpus (and
 * *corpus is left empty) whatever the outcome. */
int pretrain_run_corpus(const PretrainOptions *o, PretrainCorpus *corpus, PretrainResult *r);
void pretrain_result_free(PretrainResult *r);

/* "<out>.state.safetensors" into buf; -1 if it does not fit. */
int pretrain_state_path(const char *out, char *buf, size_t n);

/* One NT-Xent training step on a prepared batch, exposed for tests:
 * x (2N, C, L) views with rows i and i+N paired; updates nothing, leaves the gradients of
 * the mean loss in kres_grads (zeroed first). Returns the loss; *acc the pair accuracy.
 * dropout_rng may be NULL only for a model with dropout 0. */
float pretrain_loss_grad(Kres *m, const float *x, int N2, float temperature, Rng *dropout_rng,
                         float *acc);

#endif
