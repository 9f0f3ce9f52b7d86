/* cmd_eval.c — 'kres eval': metrics with confidence intervals for a binary classifier.
 *
 *   kres eval --scores FILE.csv [threshold options] [--ci delong|bootstrap] [--json]
 *   kres eval --model M --data DIR [--fold 10] [...]      (model path: eval_model_path)
 *   kres eval --scores A.csv --compare B.csv [--json]     (paired test: eval_compare_path)
 *
 * The first two paths end in eval_scores_and_print(): choose the threshold, compute
 * everything with eval_binary() and print it with eval_print(). The third compares the two
 * files' AUCs on the same cases with the paired DeLong test (auc_delong_paired). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/ptbxl.h"
#include "eval/metrics.h"
#include "nn/checkpoint.h"
#include "train/trainer.h"

static const char *CMD = "eval";

typedef struct {
    const char *scores_path;  /* --scores */
    const char *compare_path; /* --compare: second scores file of the same cases */
    const char *model_path;   /* --model */
    const char *data_dir;     /* --data */
    const char *scores_out;   /* --scores-out: the model path's per-ECG scores as CSV */
    int fold;                 /* --fold (model path), default 10 */
    int have_threshold;
    double threshold;         /* --threshold */
    const char *rule;         /* --threshold-rule */
    EvalOptions opts;         /* --ci, --boot, --seed */
    int json;                 /* --json */
} EvalArgs;

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres eval --scores FILE.csv [options]\n"
            "       kres eval --model M --data DIR [--fold K] [options]\n"
            "       kres eval --scores A.csv --compare B.csv [--json]\n\n"
            "Binary-classification metrics with 95%% confidence intervals: ROC AUC, and at a\n"
            "threshold (positive if score >= threshold) the confusion matrix, sensitivity,\n"
            "specificity, PPV, NPV, accuracy (Wilson intervals) and F1 (bootstrap interval).\n\n"
            "input:\n"
            "  --scores FILE      CSV with a header naming columns 'label' (0/1) and 'score'\n"
            "                     (any order; other columns are ignored)\n"
            "  --model M          model checkpoint to evaluate (with --data)\n"
            "  --data DIR         PTB-XL directory for --model\n"
            "  --fold K           holdout fold for --model (default 10)\n"
            "  --scores-out FILE  with --model: also write the fold's scores as CSV (id = ecg_id,\n"
            "                     label, score), the input of --scores and --compare\n"
            "  --compare B.csv    compare the AUC of --scores (A) with B's on the same cases:\n"
            "                     paired DeLong test (difference A - B, 95%% CI, z, two-sided p).\n"
            "                     B must have the same rows in the same order: same labels, and\n"
            "                     the same ids when both files have an 'id' or 'ecg_id' column\n"
            "threshold (default: --threshold 0.5):\n"
            "  --threshold X      fixed threshold\n"
            "  --threshold-rule R choose on this same data: youden | sens=X | spec=X | fixed=X\n"
            "                     (optimistic: choose on a validation set for honest numbers)\n"
            "intervals:\n"
            "  --ci delong|bootstrap  AUC interval (default delong, on the logit scale)\n"
            "  --boot N           bootstrap replicates for the AUC (bootstrap) and F1 (default 1000;\n"
            "                     0 = no F1 interval)\n"
            "  --seed S           bootstrap seed (default 1)\n"
            "output:\n"
            "  --json             one JSON object instead of the table\n\n"
            "exit codes: 0 ok, 1 bad data (or AUC undefined: one class only), 2 usage error\n"
            "see docs/metrics.md\n");
}

/* Shared tail of both paths: threshold, metrics, printing. Returns an exit code. */
static int eval_scores_and_print(const float *scores, const int *labels, int n, const EvalArgs *a) {
    double thr = a->have_threshold ? a->threshold : 0.5;
    char rule_desc[48];
    snprintf(rule_desc, sizeof rule_desc, "fixed");
    if (a->rule) {
        if (choose_threshold(scores, labels, n, a->rule, &thr) != 0) return data_error();
        ThresholdRule r;
        threshold_rule_parse(a->rule, &r); /* already validated */
        if (r.kind != THR_FIXED) {
            fprintf(stderr,
                    "kres: warning: eval: threshold chosen by '%s' on the data being evaluated; "
                    "the metrics at it are optimistic\n",
                    a->rule);
            snprintf(rule_desc, sizeof rule_desc, "%.24s on this data", a->rule);
        }
    }
    EvalResult res;
    int rc = eval_binary(scores, labels, n, thr, &a->opts, &res);
    if (rc < 0) return data_error();
    snprintf(res.threshold_rule, sizeof res.threshold_rule, "%s", rule_desc);
    eval_print(&res, a->json, stdout);
    fflush(stdout);
    if (rc == EVAL_AUC_UNDEFINED) return data_error(); /* table printed, but the run is not ok */
    return KRES_EXIT_OK;
}

static int eval_scores_path(const EvalArgs *a) {
    float *scores;
    int *labels, n;
    if (scores_csv_read(a->scores_path, &scores, &labels, &n) != 0) return data_error();
    int rc = eval_scores_and_print(scores, labels, n, a);
    free(scores);
    free(labels);
    return rc;
}

/* --scores A --compare B: both files read with their ids, checked to describe the same
 * cases, then the paired DeLong test. */
static int eval_compare_path(const EvalArgs *a) {
    ScoresTable ta, tb;
    if (scores_table_read(a->scores_path, &ta) != 0) return data_error();
    if (scores_table_read(a->compare_path, &tb) != 0) {
        scores_table_free(&ta);
        return data_error();
    }
    int rc = KRES_EXIT_OK;
    AucCompare c;
    if (scores_tables_paired(a->scores_path, &ta, a->compare_path, &tb) != 0 ||
        auc_delong_paired(ta.score, tb.score, ta.label, ta.n, &c) != 0) {
        rc = data_error();
    } else {
        /* ids are checked only when both files have them: say which one lacks them */
        if (!ta.id != !tb.id)
            fprintf(stderr, "kres: warning: eval: %s has no id column: rows matched by position and label only\n",
                    ta.id ? a->compare_path : a->scores_path);
        auc_compare_print(&c, a->scores_path, a->compare_path, a->json, stdout);
        fflush(stdout);
    }
    scores_table_free(&ta);
    scores_table_free(&tb);
    return rc;
}

/* --scores-out: "id,label,score" rows (id = ecg_id) of the scored fold, in cohort order (so two
 * models' files on the same data pair up for --compare). */
static int write_fold_scores(const char *path, const Cohort *coh, const int *te, const float *scores,
                             const int *labels, int n) {
    char **ids = xmalloc((size_t)n * sizeof(char *));
    for (int i = 0; i < n; i++) {
        ids[i] = xmalloc(16);
        snprintf(ids[i], 16, "%d", coh->ecg_id[te[i]]);
    }
    int rc = scores_csv_write(path, (const char *const *)ids, scores, labels, n);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    return rc;
}

/* The checkpoint path: rebuild the model from a->model_path, take its task, protocol, rate
 * and preprocessing from the metadata, score every cohort record of fold a->fold of
 * a->data_dir, and evaluate at the threshold stored in the checkpoint (chosen on the
 * validation fold during training) unless --threshold/--threshold-rule overrides it. */
static int eval_model_path(const EvalArgs *a) {
    Classifier k;
    PtbxlDb db;
    Task task;
    Cohort coh;
    int have_db = 0, have_coh = 0, rc = KRES_EXIT_DATA;
    int *tr = NULL, *va = NULL, *te = NULL, *labels = NULL;
    float *scores = NULL;
    if (classifier_open(a->model_path, 64, &k) != 0) goto fail;
    const CkptInfo *ci = &k.info;
    const TaskMeta *tm = &k.tm;
    const PreprocConfig *pc = &k.pc;
    if (isnan(ci->threshold) && !a->have_threshold && !a->rule) {
        kres_fail(a->model_path, "checkpoint stores no threshold; give --threshold or --threshold-rule");
        goto fail;
    }
    if (ptbxl_open(a->data_dir, &db) != 0) goto fail;
    have_db = 1;
    if (task_parse(tm->name, &db, &task) != 0) goto fail;
    CohortOptions co = cohort_options_default();
    co.protocol = tm->protocol, co.rate = tm->rate, co.min_likelihood = tm->min_likelihood;
    co.check_files = 2; /* the records the trainer and the probe scored: bad ones left out */
    if (cohort_build(&db, &task, co, &coh) != 0) goto fail;
    have_coh = 1;
    /* Say so: the fold evaluated is smaller than the CSV says. The first one as an example. */
    int nbad = coh.nskip_reason[PTBXL_SKIP_BAD_RECORD], first = 0;
    while (nbad > 0 && coh.skipped[first].reason != PTBXL_SKIP_BAD_RECORD) first++;
    if (nbad > 0)
        fprintf(stderr, "kres: warning: eval: %d unreadable record%s left out of the cohort, as in training (ecg_id %d: %s%s)\n",
                nbad, nbad == 1 ? "" : "s", coh.skipped[first].ecg_id, coh.skipped[first].detail,
                nbad > 1 ? "; see 'kres dataset'" : "");
    size_t cap = (size_t)(coh.n ? coh.n : 1);
    tr = xmalloc(cap * sizeof(int)), va = xmalloc(cap * sizeof(int)), te = xmalloc(cap * sizeof(int));
    int ntr, nva, nte;
    if (cohort_split(&coh, a->fold, 0, tr, &ntr, va, &nva, te, &nte) != 0) goto fail;
    if (nte == 0) {
        kres_fail(a->data_dir, "fold %d has no records for task %s", a->fold, task.name);
        goto fail;
    }
    scores = xmalloc((size_t)nte * sizeof(float));
    labels = xmalloc((size_t)nte * sizeof(int));
    if (classifier_infer(k.m, 64, &coh, te, nte, pc, NULL, scores) != 0) goto fail;
    for (int i = 0; i < nte; i++) labels[i] = coh.label[te[i]];
    if (a->scores_out && write_fold_scores(a->scores_out, &coh, te, scores, labels, nte) != 0) goto fail;
    /* Metrics on data the model was selected or trained on are optimistic: say so. */
    const char *vf = ckpt_meta(ci, "val_fold"), *tf = ckpt_meta(ci, "test_fold");
    if (vf && tf && atoi(tf) != a->fold)
        fprintf(stderr, "kres: warning: eval: fold %d is %s of this model (its held-out fold is %s); the metrics are optimistic\n",
                a->fold, atoi(vf) == a->fold ? "the validation fold" : "a training fold", atoi(tf) ? tf : "none");
    if (!a->json)
        printf("model        %s\ntask         %s (%s protocol, %d Hz records), fold %d\n", a->model_path, task.name,
               protocol_name(tm->protocol), tm->rate, a->fold);
    if (a->have_threshold || a->rule) {
        rc = eval_scores_and_print(scores, labels, nte, a);
    } else {
        /* The stored threshold: chosen on validation data, so the metrics at it are honest. */
        EvalResult res;
        int er = eval_binary(scores, labels, nte, ci->threshold, &a->opts, &res);
        if (er < 0) goto fail;
        const char *how = ckpt_meta(ci, "threshold_rule");
        snprintf(res.threshold_rule, sizeof res.threshold_rule, "stored: %.38s", how ? how : "in checkpoint");
        eval_print(&res, a->json, stdout);
        fflush(stdout);
        rc = er == EVAL_AUC_UNDEFINED ? data_error() : KRES_EXIT_OK;
    }
    goto done;
fail:
    rc = data_error();
done:
    free(tr), free(va), free(te), free(scores), free(labels);
    if (have_coh) cohort_free(&coh);
    if (have_db) ptbxl_close(&db);
    classifier_close(&k);
    return rc;
}

/* --ci, indexed by EvalCiMethod */
static const char *const CI_METHODS[] = {[EVAL_CI_DELONG] = "delong", [EVAL_CI_BOOTSTRAP] = "bootstrap", NULL};

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    memset(&a, 0, sizeof a);
    a.fold = 10;
    eval_options_default(&a.opts);
    int ci = a.opts.ci;
    ArgSpec spec[] = {
        ARG_SET("--json", &a.json),
        ARG_STR("--scores", &a.scores_path),
        ARG_STR("--compare", &a.compare_path),
        ARG_STR("--model", &a.model_path),
        ARG_STR("--data", &a.data_dir),
        ARG_STR("--scores-out", &a.scores_out),
        ARG_INT("--fold", &a.fold, 1, 10),
        ARG_DOUBLE("--threshold", &a.threshold, -1e300, 1e300),
        ARG_RULE("--threshold-rule", &a.rule),
        ARG_CHOICE("--ci", &ci, CI_METHODS),
        ARG_INT("--boot", &a.opts.n_boot, 0, 1000000),
        ARG_SEED("--seed", &a.opts.seed),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    a.have_threshold = arg_given(spec, "--threshold") > 0;
    a.opts.ci = (EvalCiMethod)ci;
    if (a.have_threshold && a.rule) return usage_error(CMD, "give --threshold or --threshold-rule, not both");
    if (a.opts.ci == EVAL_CI_BOOTSTRAP && a.opts.n_boot < 2)
        return usage_error(CMD, "--ci bootstrap needs --boot of at least 2");
    if (a.scores_path && (a.model_path || a.data_dir))
        return usage_error(CMD, "--scores cannot be combined with --model/--data");
    if (a.scores_out && !a.model_path)
        return usage_error(CMD, "--scores-out writes the scores of --model M --data DIR; give those");
    if (a.compare_path) {
        /* the paired test is about the AUCs: refuse options that would silently do nothing */
        if (!a.scores_path) return usage_error(CMD, "--compare B.csv needs --scores A.csv (the files compared)");
        if (a.have_threshold || a.rule)
            return usage_error(CMD, "--compare compares AUCs; --threshold/--threshold-rule do not apply");
        if (a.opts.ci != EVAL_CI_DELONG || arg_given(spec, "--boot") || arg_given(spec, "--seed"))
            return usage_error(CMD, "--compare uses DeLong intervals; --ci bootstrap, --boot and --seed do not apply");
        return eval_compare_path(&a);
    }
    if (a.scores_path) return eval_scores_path(&a);
    if (a.model_path || a.data_dir) {
        if (!a.model_path || !a.data_dir) return usage_error(CMD, "--model and --data go together");
        return eval_model_path(&a);
    }
    return usage_error(CMD, "nothing to evaluate: give --scores FILE or --model M --data DIR");
}
