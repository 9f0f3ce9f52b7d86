/* cmd_train.c — 'kres train': a supervised KRes classifier from scratch (or --cv: 10-fold
 * cross-validation with pooled out-of-fold predictions).
 *
 *   kres train --data DIR --out MODEL.safetensors [options]
 *   kres train --data DIR --cv --out-dir DIR [options]
 *
 * The loop itself is train_classifier() (src/train/trainer.h); this file parses options,
 * prints the outcome and, for --cv, runs the ten rounds and pools their test folds. */
#define _GNU_SOURCE /* open_memstream is POSIX 2008; glibc declares it here too */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/json.h"
#include "eval/metrics.h"
#include "nn/kres.h"
#include "train/trainer.h"

static const char *CMD = "train";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres train --data PTBXL_DIR --out MODEL.safetensors [options]\n"
            "       kres train --data PTBXL_DIR --cv --out-dir DIR [options]\n\n"
            "Train a KRes classifier from scratch on PTB-XL's official split: folds 1-8 train,\n"
            "fold 9 picks the best epoch (validation AUC) and the decision threshold, fold 10 is\n"
            "held out (evaluate it with 'kres eval --model'). --cv runs 10-fold cross-validation\n"
            "instead (round k: test fold k, validation fold k%%10+1) and reports the pooled\n"
            "out-of-fold AUC with its 95%% DeLong interval.\n\n"
            "data:\n"
            "  --data DIR            PTB-XL directory (required)\n"
            "  --task T              heart-block (default) | avb | bbb | fascicular | cd | codes,\n"
            "                        e.g. 1AVB,LAFB\n"
            "  --protocol P          paper (default): positives vs NORM-only; all: vs every other record\n"
            "  --rate R              100 (default) or 500: which PTB-XL files are read\n"
            "  --min-likelihood X    a code counts if its likelihood >= X (default 0 = any)\n"
            "  --label-fraction F    train on a stratified fraction (0, 1] of the training folds (default 1)\n"
            "  --subset-seed S       seed of that subset (default 1)\n"
            "  --val-fold K          validation fold (default 9)\n"
            "  --test-fold K         held-out fold (default 10; 0 = none)\n"
            "  --multilabel          one output per task code (the task score is the largest)\n"
            "  --augment             light augmentation (amplitude, shift, noise) of training batches\n"
            "  --cache-mb N          cache of preprocessed records in MiB (default 1024; 0 = off)\n"
            "optimisation:\n"
            "  --epochs N            default 20\n"
            "  --batch N             default 64\n"
            "  --lr X                peak AdamW learning rate (default 0.001; warm-up, cosine decay)\n"
            "  --weight-decay X      decoupled weight decay (default 0.01; not on biases/BN)\n"
            "  --warmup F            fraction of steps for linear warm-up (default 0.05)\n"
            "  --clip X              gradient-norm clipping (default 1; 0 = off)\n"
            "  --seed S              weights, shuffling, dropout (default 1)\n"
            "  --threads N           OpenMP threads (default: OMP_NUM_THREADS or all cores); the same\n"
            "                        seed and thread count give bit-identical checkpoints\n"
            "  --threshold-rule R    youden (default) | sens=X | spec=X | fixed=X, on the validation fold\n"
            "model (advanced):\n"
            "  --model-config FILE   KRes config JSON (as in checkpoint metadata kres_config);\n"
            "                        in_len/in_leads/heads follow the data (default: the paper's KRes)\n"
            "  --preprocess FILE     preprocessing JSON (default: 100 Hz, 1024 samples, 0.5-40 Hz)\n"
            "output:\n"
            "  --out FILE            checkpoint (safetensors; written atomically)\n"
            "  --out-dir DIR         with --cv: fold1..fold10 checkpoints, oof_scores.csv,\n"
            "                        summary.json, logs\n"
            "  --log FILE            JSON-lines training log (default <out>.log.jsonl)\n"
            "  --json                print the result as one JSON object on stdout\n"
            "  --quiet               no progress bar or per-epoch lines on stderr\n\n"
            "Set SOURCE_DATE_EPOCH to pin the date recorded in the checkpoint's provenance.\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error\n"
            "see docs/training.md\n");
}

typedef struct {
    TrainOptions o;
    const char *out_dir;
    int cv, json;
    const char *model_config, *preprocess;
} TrainArgs;

static void print_result_text(const TrainOptions *o, const TrainResult *r) {
    if (o->init_encoder)
        printf("fine-tuned   %s from %s (encoder lr x %g), %d epochs, best epoch %d\n", o->task, o->init_encoder,
               (double)o->encoder_lr_scale, r->epochs_run, r->best_epoch);
    else
        printf("trained      %s (%s protocol, %d Hz), %d epochs, best epoch %d\n", o->task,
               protocol_name(o->protocol), o->rate, r->epochs_run, r->best_epoch);
    printf("records      train %d (%d positive), validation %d (%d positive), test fold %d: %d\n",
           r->ntrain, r->ntrain_pos, r->nval, r->nval_pos, o->test_fold, r->ntest);
    if (isnan(r->best_val_auc)) printf("val AUC      n/a (validation fold has one class)\n");
    else printf("val AUC      %.4f (fold %d, best epoch; optimistic: it chose the epoch)\n", r->best_val_auc, o->val_fold);
    printf("threshold    %.6g (%s)\n", r->threshold, r->threshold_rule);
    printf("speed        %.1f ECG/s training, %.1f ECG/s inference, %.1f s in all\n", r->train_samples_per_s,
           r->infer_samples_per_s, r->total_seconds);
    if (o->out_path) printf("checkpoint   %s\n", o->out_path);
    if (o->log_path) printf("log          %s\n", o->log_path);
}

static void print_result_json(const TrainOptions *o, const TrainResult *r) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    if (o->init_encoder) {
        jw_key(&w, "encoder"), jw_string(&w, o->init_encoder);
        jw_key(&w, "encoder_lr_scale"), jw_number(&w, o->encoder_lr_scale);
    }
    jw_key(&w, "task"), jw_string(&w, o->task);
    if (o->init_encoder) jw_key(&w, "label_fraction"), jw_number(&w, o->label_fraction);
    jw_key(&w, "protocol"), jw_string(&w, protocol_name(o->protocol));
    jw_key(&w, "rate"), jw_int(&w, o->rate);
    jw_key(&w, "epochs"), jw_int(&w, r->epochs_run);
    jw_key(&w, "best_epoch"), jw_int(&w, r->best_epoch);
    jw_key(&w, "best_val_auc"), jw_number(&w, r->best_val_auc);
    jw_key(&w, "best_val_loss"), jw_number(&w, r->best_val_loss);
    jw_key(&w, "threshold"), jw_number(&w, r->threshold);
    jw_key(&w, "threshold_rule"), jw_string(&w, r->threshold_rule);
    jw_key(&w, "ntrain"), jw_int(&w, r->ntrain);
    jw_key(&w, "ntrain_pos"), jw_int(&w, r->ntrain_pos);
    jw_key(&w, "nval"), jw_int(&w, r->nval);
    jw_key(&w, "nval_pos"), jw_int(&w, r->nval_pos);
    jw_key(&w, "ntest"), jw_int(&w, r->ntest);
    jw_key(&w, "pos_weight"), jw_number(&w, r->pos_weight);
    jw_key(&w, "train_samples_per_s"), jw_number(&w, r->train_samples_per_s);
    jw_key(&w, "infer_samples_per_s"), jw_number(&w, r->infer_samples_per_s);
    jw_key(&w, "total_seconds"), jw_number(&w, r->total_seconds);
    jw_key(&w, "checkpoint");
    if (o->out_path) jw_string(&w, o->out_path);
    else jw_null(&w);
    jw_object_end(&w);
    printf("%.*s\n", (int)w.len, w.buf);
    jw_free(&w);
}

/* Also 'kres finetune' (cmd_finetune.c): its result is a TrainResult too. */
void train_result_print(const TrainOptions *o, const TrainResult *r, int json) {
    if (json) print_result_json(o, r);
    else print_result_text(o, r);
}

/* ---- cross-validation --------------------------------------------------------------- */

typedef struct {
    int fold, val_fold, best_epoch, ntest, npos;
    double val_auc, threshold, test_auc;
} FoldSummary;

/* Pooled out-of-fold metrics: AUC (+ DeLong CI) from the raw scores; the confusion matrix
 * and proportions from each record's decision at its own fold's threshold. */
static int pooled_eval(const float *scores, const int *labels, const float *thr_of, int n,
                       EvalResult *res) {
    EvalOptions eo;
    eval_options_default(&eo);
    EvalResult raw;
    int rc = eval_binary(scores, labels, n, 0.5, &eo, &raw);
    if (rc < 0) return -1;
    float *dec = xmalloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) dec[i] = scores[i] >= thr_of[i] ? 1.0f : 0.0f;
    int rc2 = eval_binary(dec, labels, n, 0.5, &eo, res);
    free(dec);
    if (rc2 < 0) return -1;
    res->auc = raw.auc, res->auc_lo = raw.auc_lo, res->auc_hi = raw.auc_hi, res->auc_se = raw.auc_se;
    memcpy(res->ci_method, raw.ci_method, sizeof res->ci_method);
    res->threshold = NAN;
    snprintf(res->threshold_rule, sizeof res->threshold_rule, "per fold, chosen on its validation fold");
    return rc;
}

/* eval_print's table with its threshold line (NaN for per-fold thresholds) reworded. */
static void print_pooled_table(const EvalResult *res, const char *rule) {
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    if (!mf) {
        eval_print(res, 0, stdout);
        return;
    }
    eval_print(res, 0, mf);
    fclose(mf);
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        if (strncmp(line, "threshold ", 10) == 0)
            printf("threshold    per fold (%s on each round's validation fold; positive if score >= it)\n", rule);
        else printf("%s\n", line);
    }
    free(buf);
}

static int write_oof_csv(const char *path, const float *s, const int *lab, const int *fold, const int *id, int n) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    fprintf(af.fp, "label,score,fold,ecg_id\n");
    for (int i = 0; i < n; i++) fprintf(af.fp, "%d,%.9g,%d,%d\n", lab[i], (double)s[i], fold[i], id[i]);
    return atomic_commit(&af);
}

/* One --cv run: the options every round starts from, the pooled out-of-fold rows (one per
 * test record of every round), the rounds' summaries and the pooled metrics. Everything
 * cv_setup acquires is released in cv_free alone, whichever step failed. */
typedef struct {
    const TrainArgs *a;
    TrainOptions o;                          /* a->o with the database and the current round's folds */
    PtbxlDb db;
    int cap, n;                              /* pooled rows: room for every record; filled */
    float *scores, *thr_of;                  /* out-of-fold score; threshold of the round that scored it */
    int *labels, *folds, *ids;
    FoldSummary fs[PTBXL_NFOLDS];
    char ckpt[4096], logp[4096], prefix[32]; /* the current round's outputs (o points at them) */
    char oof_path[4096];
    EvalResult pooled;
    int pooled_rc;                           /* pooled_eval's: 0 or EVAL_AUC_UNDEFINED */
    int nauc;                                /* rounds whose test AUC is defined */
    double auc_mean, auc_min, auc_max;       /* of those rounds' test AUCs */
    double t0, train_sps, infer_sps;         /* start; the rounds' mean speeds */
} Cv;

static void cv_free(Cv *cv) {
    free(cv->scores), free(cv->thr_of), free(cv->labels), free(cv->folds), free(cv->ids);
    ptbxl_close(&cv->db); /* harmless when never opened: the struct starts zeroed */
}

/* The output directory, the database (read once for all ten rounds) and the pooled rows,
 * sized for the whole database: a record is in at most one round's test fold. */
static int cv_setup(Cv *cv, const TrainArgs *a) {
    cv->a = a, cv->o = a->o;
    if (mkdir(a->out_dir, 0777) != 0 && errno != EEXIST)
        return kres_fail(a->out_dir, "cannot create the output directory: %s", strerror(errno));
    if (ptbxl_open(cv->o.data_dir, &cv->db) != 0) return -1;
    cv->o.db = &cv->db;
    cv->cap = cv->db.n;
    cv->scores = xmalloc((size_t)cv->cap * sizeof(float)), cv->thr_of = xmalloc((size_t)cv->cap * sizeof(float));
    cv->labels = xmalloc((size_t)cv->cap * sizeof(int)), cv->folds = xmalloc((size_t)cv->cap * sizeof(int));
    cv->ids = xmalloc((size_t)cv->cap * sizeof(int));
    cv->t0 = now_seconds();
    return 0;
}

/* Round k (test fold k, validation fold k%10+1) into fold<k>.safetensors and its log; its
 * test records join the pooled rows, each with this round's threshold. */
static int cv_train_round(Cv *cv, int k) {
    TrainOptions *o = &cv->o;
    kfold_folds(k, &o->test_fold, &o->val_fold);
    snprintf(cv->ckpt, sizeof cv->ckpt, "%s/fold%d.safetensors", cv->a->out_dir, k);
    snprintf(cv->logp, sizeof cv->logp, "%s/fold%d.log.jsonl", cv->a->out_dir, k);
    snprintf(cv->prefix, sizeof cv->prefix, "fold %d/10 ", k);
    o->out_path = cv->ckpt, o->log_path = cv->logp, o->progress_prefix = cv->prefix;
    TrainResult r;
    if (train_classifier(o, &r) != 0) {
        train_result_free(&r);
        return -1;
    }
    FoldSummary *f = &cv->fs[k - 1];
    f->fold = k, f->val_fold = o->val_fold, f->best_epoch = r.best_epoch, f->val_auc = r.best_val_auc;
    f->threshold = r.threshold, f->ntest = r.ntest, f->npos = 0, f->test_auc = NAN;
    KRES_ASSERT(cv->n + r.ntest <= cv->cap);
    for (int i = 0; i < r.ntest; i++, cv->n++) {
        const int j = cv->n;
        cv->scores[j] = r.test_scores[i], cv->labels[j] = r.test_labels[i], cv->folds[j] = k;
        cv->ids[j] = r.test_ecg_id[i], cv->thr_of[j] = (float)r.threshold;
        f->npos += r.test_labels[i];
    }
    /* A round's test AUC needs both classes in its fold; otherwise it stays NaN. */
    if (f->npos > 0 && f->npos < f->ntest) roc_auc(r.test_scores, r.test_labels, r.ntest, &f->test_auc);
    cv->train_sps += r.train_samples_per_s / PTBXL_NFOLDS, cv->infer_sps += r.infer_samples_per_s / PTBXL_NFOLDS;
    if (!o->quiet)
        fprintf(stderr, "fold %d/10: best epoch %d, val AUC %.4f, threshold %.4g, test AUC %.4f (%d records, %d positive)\n",
                k, r.best_epoch, r.best_val_auc, r.threshold, f->test_auc, r.ntest, f->npos);
    train_result_free(&r);
    return 0;
}

/* oof_scores.csv, then the pooled metrics; an undefined pooled AUC is not a failure here
 * (the table is still printed) but decides the exit code in run_cv. */
static int cv_pool(Cv *cv) {
    snprintf(cv->oof_path, sizeof cv->oof_path, "%s/oof_scores.csv", cv->a->out_dir);
    if (write_oof_csv(cv->oof_path, cv->scores, cv->labels, cv->folds, cv->ids, cv->n) != 0) return -1;
    cv->pooled_rc = pooled_eval(cv->scores, cv->labels, cv->thr_of, cv->n, &cv->pooled);
    return cv->pooled_rc < 0 ? -1 : 0;
}

/* Mean of the per-round test AUCs: unlike the pooled AUC it does not compare scores of
 * different models with each other (their calibrations differ). */
static void cv_round_auc_stats(Cv *cv) {
    double auc_sum = 0;
    cv->auc_min = NAN, cv->auc_max = NAN, cv->nauc = 0;
    for (int k = 0; k < PTBXL_NFOLDS; k++) {
        const double auc = cv->fs[k].test_auc;
        if (isnan(auc)) continue;
        auc_sum += auc, cv->nauc++;
        /* Written so that the first defined AUC replaces the NaN start. */
        if (!(auc >= cv->auc_min)) cv->auc_min = auc;
        if (!(auc <= cv->auc_max)) cv->auc_max = auc;
    }
    cv->auc_mean = cv->nauc ? auc_sum / cv->nauc : NAN;
}

static void cv_folds_json(const Cv *cv, JsonWriter *w) {
    jw_array_begin(w);
    for (int k = 0; k < PTBXL_NFOLDS; k++) {
        const FoldSummary *f = &cv->fs[k];
        jw_object_begin(w);
        jw_key(w, "test_fold"), jw_int(w, f->fold);
        jw_key(w, "val_fold"), jw_int(w, f->val_fold);
        jw_key(w, "best_epoch"), jw_int(w, f->best_epoch);
        jw_key(w, "val_auc"), jw_number(w, f->val_auc);
        jw_key(w, "threshold"), jw_number(w, f->threshold);
        jw_key(w, "ntest"), jw_int(w, f->ntest);
        jw_key(w, "npos"), jw_int(w, f->npos);
        jw_key(w, "test_auc"), jw_number(w, f->test_auc);
        jw_object_end(w);
    }
    jw_array_end(w);
}

/* The settings, every round, the per-round mean and the pooled metrics; total_seconds is
 * taken here, so it covers everything but writing the summary itself. */
static void cv_summary_json(const Cv *cv, JsonWriter *w) {
    const TrainOptions *o = &cv->o;
    jw_object_begin(w);
    jw_key(w, "task"), jw_string(w, o->task);
    jw_key(w, "protocol"), jw_string(w, protocol_name(o->protocol));
    jw_key(w, "rate"), jw_int(w, o->rate);
    jw_key(w, "epochs"), jw_int(w, o->epochs);
    jw_key(w, "batch"), jw_int(w, o->batch);
    jw_key(w, "seed"), jw_int(w, (long long)o->seed);
    jw_key(w, "label_fraction"), jw_number(w, o->label_fraction);
    jw_key(w, "threshold_rule"), jw_string(w, o->threshold_rule);
    jw_key(w, "folds");
    cv_folds_json(cv, w);
    jw_key(w, "mean_fold_test_auc"), jw_number(w, cv->auc_mean);
    jw_key(w, "pooled");
    eval_write_json(w, &cv->pooled);
    jw_key(w, "oof_scores"), jw_string(w, cv->oof_path);
    jw_key(w, "train_samples_per_s"), jw_number(w, cv->train_sps);
    jw_key(w, "infer_samples_per_s"), jw_number(w, cv->infer_sps);
    jw_key(w, "total_seconds"), jw_number(w, now_seconds() - cv->t0);
    jw_object_end(w);
}

/* summary.json (one line plus newline); with --json the same object goes to stdout, even
 * when the file could not be written (the error follows it). */
static int cv_write_summary(const Cv *cv) {
    JsonWriter w;
    jw_init(&w);
    cv_summary_json(cv, &w);
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.json", cv->a->out_dir);
    char *txt = xmalloc(w.len + 2);
    memcpy(txt, w.buf, w.len);
    txt[w.len] = '\n';
    int we = write_file_atomic(path, txt, w.len + 1);
    free(txt);
    if (cv->a->json) printf("%.*s\n", (int)w.len, w.buf);
    jw_free(&w);
    return we != 0 ? -1 : 0;
}

static void cv_print_table(const Cv *cv) {
    const TrainOptions *o = &cv->o;
    const char *dir = cv->a->out_dir;
    printf("10-fold cross-validation, %s (%s protocol, %d Hz), pooled out-of-fold predictions\n", o->task,
           protocol_name(o->protocol), o->rate);
    printf("fold  val  best epoch  val AUC  threshold  test n (pos)  test AUC\n");
    for (int k = 0; k < PTBXL_NFOLDS; k++) {
        const FoldSummary *f = &cv->fs[k];
        printf("%4d  %3d  %10d  %7.4f  %9.4g  %6d (%3d)  %8.4f\n", f->fold, f->val_fold, f->best_epoch,
               f->val_auc, f->threshold, f->ntest, f->npos, f->test_auc);
    }
    printf("mean of the %d per-round test AUCs %.4f (range %.4f - %.4f)\n\npooled out-of-fold:\n", cv->nauc,
           cv->auc_mean, cv->auc_min, cv->auc_max);
    print_pooled_table(&cv->pooled, o->threshold_rule);
    printf("\nwrote %s/oof_scores.csv, %s/summary.json and fold1..10 checkpoints\n", dir, dir);
}

/* The steps in order; the first failure stops them with kres_fail's message pending. */
static int cv_steps(Cv *cv, const TrainArgs *a) {
    if (cv_setup(cv, a) != 0) return -1;
    for (int k = 1; k <= PTBXL_NFOLDS; k++)
        if (cv_train_round(cv, k) != 0) return -1;
    if (cv_pool(cv) != 0) return -1;
    cv_round_auc_stats(cv);
    if (cv_write_summary(cv) != 0) return -1;
    if (!a->json) cv_print_table(cv);
    return 0;
}

static int run_cv(const TrainArgs *a) {
    Cv cv;
    memset(&cv, 0, sizeof cv);
    int rc;
    if (cv_steps(&cv, a) != 0) rc = data_error();
    /* An undefined pooled AUC (one class only) fails the run, after its report. */
    else rc = cv.pooled_rc == EVAL_AUC_UNDEFINED ? KRES_EXIT_DATA : KRES_EXIT_OK;
    cv_free(&cv);
    return rc;
}

static int train_main(TrainArgs *ap, int argc, char **argv);

int cmd_train(int argc, char **argv) {
    TrainArgs a;
    memset(&a, 0, sizeof a);
    train_options_default(&a.o);
    /* Provenance records the command as typed: "kres train ...". */
    char **full = xmalloc((size_t)(argc + 1) * sizeof(char *));
    full[0] = "kres";
    for (int i = 0; i < argc; i++) full[i + 1] = argv[i];
    a.o.argc = argc + 1, a.o.argv = full;
    int rc = train_main(&a, argc, argv);
    free(full);
    return rc;
}

static int train_main(TrainArgs *ap, int argc, char **argv) {
    TrainArgs a = *ap;
    ArgSpec common[ARG_TRAIN_NFLAGS + 1];
    arg_train_flags(&a.o, common);
    ArgSpec spec[] = {
        ARG_INCLUDE(common),
        ARG_SET("--json", &a.json),
        ARG_SET("--cv", &a.cv),
        ARG_SET("--multilabel", &a.o.multilabel),
        ARG_STR("--out-dir", &a.out_dir),
        ARG_DOUBLE("--min-likelihood", &a.o.min_likelihood, 0, 100),
        ARG_CACHE_MB("--cache-mb", &a.o.cache_bytes),
        ARG_FLOAT("--warmup", &a.o.warmup_frac, 0, 0.99),
        ARG_FLOAT("--clip", &a.o.grad_clip, 0, 1e6),
        ARG_STR("--model-config", &a.model_config),
        ARG_STR("--preprocess", &a.preprocess),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    int log_given = arg_given(spec, "--log");
    int fold_given = arg_given(spec, "--val-fold") || arg_given(spec, "--test-fold");
    if (!a.o.data_dir) return usage_error(CMD, "--data PTBXL_DIR is required");
    if (a.cv) {
        if (!a.out_dir) return usage_error(CMD, "--cv needs --out-dir DIR");
        if (a.o.out_path || log_given) return usage_error(CMD, "--cv writes into --out-dir; drop --out/--log");
        if (fold_given) return usage_error(CMD, "--cv chooses the folds itself; drop --val-fold/--test-fold");
    } else {
        if (!a.o.out_path) return usage_error(CMD, "--out MODEL.safetensors is required");
        if (a.out_dir) return usage_error(CMD, "--out-dir goes with --cv");
        if (a.o.val_fold == a.o.test_fold) return usage_error(CMD, "--val-fold and --test-fold must differ");
    }
    if (a.model_config && load_model_config(a.model_config, &a.o.model) != 0) return data_error();
    if (a.preprocess && load_preprocess_config(a.preprocess, &a.o.preproc) != 0) return data_error();
    if (a.cv) return run_cv(&a);

    char logbuf[4096];
    if (!log_given) {
        if (default_log_path(a.o.out_path, logbuf, sizeof logbuf) != 0) return data_error();
        a.o.log_path = logbuf;
    }
    TrainResult r;
    if (train_classifier(&a.o, &r) != 0) {
        train_result_free(&r);
        return data_error();
    }
    train_result_print(&a.o, &r, a.json);
    train_result_free(&r);
    return KRES_EXIT_OK;
}
