/* cmd_experiment.c — 'kres experiment': the paper's experiment end to end.
 *
 *   kres experiment --data PTBXL_DIR --out RUN_DIR [--preset demo|paper] [options]
 *
 * Everything happens in experiment_run() (src/train/experiment.h); this file parses the
 * options (a preset first, then the options that override it) and prints the table. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/metrics.h"
#include "train/experiment.h"

static const char *CMD = "experiment";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres experiment --data PTBXL_DIR --out RUN_DIR [options]\n\n"
            "The paper's experiment: contrastive pretraining of the KRes encoder (no labels), then for\n"
            "every label fraction and repeat three pipelines on the SAME stratified, seeded subset of\n"
            "the training folds: supervised from scratch, fine-tuning the pretrained encoder, and a\n"
            "linear probe on its frozen embeddings; all evaluated on the same holdout, and each\n"
            "pair of pipelines compared on it by the paired DeLong test. Writes\n"
            "RUN_DIR/results.json, results.md, report.html and every model and log under\n"
            "RUN_DIR/runs/ and RUN_DIR/pretrain/. Rerun the same command to resume: finished\n"
            "runs are skipped.\n\n"
            "  --data DIR            PTB-XL directory (required)\n"
            "  --out RUN_DIR         run directory (required; created)\n"
            "  --preset P            demo (default): the bundled-sample job, fractions 1,0.5,0.25,0.1,\n"
            "                        1 repeat, 8 epochs, pretraining 8 epochs;\n"
            "                        paper: fractions 1,0.5,0.25,0.1,0.05, 5 repeats, 30 epochs,\n"
            "                        pretraining 50 epochs (see docs/experiment.md for run times)\n"
            "  --fractions LIST      label fractions, comma-separated, each in (0, 1]\n"
            "  --repeats R           seeded subsets per fraction (1..100)\n"
            "  --pretrain-data DIR   pretrain on this directory instead (repeatable; PTB-XL trees or\n"
            "                        WFDB directories); PTB-XL trees lose folds 9 and 10 unless --cv\n"
            "  --cv                  pooled 10-fold cross-validation instead of holdout fold 10\n"
            "  --cv-pretrain M       with --cv: transductive (default; ONE pretraining on all records,\n"
            "                        test folds included, labels never read) or per-fold (ten\n"
            "                        pretrainings, each without its round's test and validation folds)\n"
            "  --seed S              repeat r uses seed S+r-1 for subset and weights (default 1)\n"
            "  --threads N           OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
            "  --task T              heart-block (default) | avb | bbb | fascicular | cd | codes\n"
            "advanced (override the preset; recorded in RUN_DIR/experiment.json):\n"
            "  --epochs N            supervised and fine-tune epochs\n"
            "  --min-steps N         raise epochs so every run makes at least N optimiser steps\n"
            "  --batch N             supervised and fine-tune batch\n"
            "  --lr X                peak AdamW learning rate (default 0.001)\n"
            "  --encoder-lr-scale X  fine-tuning: encoder lr = lr * X (default 0.1)\n"
            "  --pretrain-epochs N   contrastive pretraining epochs\n"
            "  --pretrain-batch N    ECGs per pretraining step (2N views)\n"
            "  --threshold-rule R    youden (default) | sens=X | spec=X | fixed=X, on the validation fold\n"
            "  --model-config FILE   KRes config JSON instead of the paper's KRes (e.g. a smaller\n"
            "                        model for tests; the report says so)\n"
            "  --report-only         rebuild results.* from the finished runs; train nothing\n"
            "  --verbose             per-epoch lines of every training run\n"
            "  --quiet               no progress lines\n\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error\n"
            "see docs/experiment.md\n");
}

/* Print results.md up to its per-run table. */
static void print_table(const char *out_dir) {
    char path[4096];
    if (path_join(path, sizeof path, out_dir, "results.md") != 0) return;
    char *md = read_file_all(path, NULL);
    if (!md) return;
    char *cut = strstr(md, "\n## Every run");
    if (cut) cut[1] = '\0';
    fputs(md, stdout);
    printf("\nfull table, notes: %s; report: %s/report.html\n", path, out_dir);
    free(md);
}

/* ---- the flags with their own parsers (ArgFn; dst is the ExperimentOptions) ---- */

static int flag_preset(const char *cmd, const char *flag, const char *v, void *dst) {
    return 0; /* applied before the other flags (cmd_experiment) */
}

static int flag_pretrain_data(const char *cmd, const char *flag, const char *v, void *dst) {
    ExperimentOptions *o = dst;
    return arg_append(cmd, "--pretrain-data directories", o->pretrain_dirs, &o->n_pretrain_dirs, PRETRAIN_MAX_DIRS, v);
}

static int flag_fractions(const char *cmd, const char *flag, const char *v, void *dst) {
    ExperimentOptions *o = dst;
    if (exp_parse_fractions(v, o->fractions, EXP_MAX_FRACTIONS, &o->n_fractions) == 0) return 0;
    usage_error(cmd, "--fractions: %s", kres_last_error());
    return -1;
}

/* --cv-pretrain, indexed by ExpCvPretrain */
static const char *const CV_PRETRAIN[] = {[EXP_CV_TRANSDUCTIVE] = "transductive", [EXP_CV_PER_FOLD] = "per-fold", NULL};

static int flag_seed(const char *cmd, const char *flag, const char *v, void *dst) {
    /* At most LONG_MAX / 2: repeat r runs with seed + r - 1 (and derived seeds). */
    long l;
    if (arg_long(cmd, flag, v, 0, LONG_MAX / 2, &l) != 0) return -1;
    ((ExperimentOptions *)dst)->seed = (uint64_t)l;
    return 0;
}

int cmd_experiment(int argc, char **argv) {
    ExperimentOptions o;
    experiment_options_default(&o);
    o.argc = argc, o.argv = argv;
    /* The preset first, wherever it is on the line, so that other options override it. */
    for (int i = 1; i < argc; i++) {
        if (arg_is_help(argv[i])) {
            print_usage(stdout);
            return KRES_EXIT_OK;
        }
        if (arg_is(argv[i], "--preset")) {
            if (i + 1 >= argc) return usage_error(CMD, "--preset needs a value");
            if (experiment_apply_preset(&o, argv[i + 1]) != 0) return usage_error(CMD, "%s", kres_last_error());
        }
    }
    const char *model_config = NULL;
    int cv_pretrain = o.cv_pretrain;
    ArgSpec spec[] = {
        ARG_SET("--cv", &o.cv),
        ARG_SET("--report-only", &o.report_only),
        ARG_SET("--verbose", &o.verbose),
        ARG_SET("--quiet", &o.quiet),
        ARG_FUNC("--preset", flag_preset, &o),
        ARG_STR("--data", &o.data_dir),
        ARG_STR("--out", &o.out_dir),
        ARG_FUNC("--pretrain-data", flag_pretrain_data, &o),
        ARG_STR("--task", &o.task),
        ARG_FUNC("--fractions", flag_fractions, &o),
        ARG_INT("--repeats", &o.repeats, 1, EXP_MAX_REPEATS),
        ARG_CHOICE("--cv-pretrain", &cv_pretrain, CV_PRETRAIN),
        ARG_FUNC("--seed", flag_seed, &o),
        ARG_THREADS("--threads", &o.threads),
        ARG_INT("--epochs", &o.epochs, 1, 100000),
        ARG_INT("--min-steps", &o.min_steps, 0, 10000000),
        ARG_INT("--batch", &o.batch, 1, 65536),
        ARG_FLOAT("--lr", &o.lr, 1e-12, 10),
        ARG_FLOAT("--encoder-lr-scale", &o.encoder_lr_scale, 0, 100),
        ARG_INT("--pretrain-epochs", &o.pretrain_epochs, 1, 100000),
        ARG_INT("--pretrain-batch", &o.pretrain_batch, 2, 65536),
        ARG_RULE("--threshold-rule", &o.threshold_rule),
        ARG_STR("--model-config", &model_config),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    o.cv_pretrain = (ExpCvPretrain)cv_pretrain;
    if (model_config) {
        if (load_model_config(model_config, &o.model) != 0) return data_error();
        o.model_is_default = 0;
    }
    if (!o.data_dir) return usage_error(CMD, "--data PTBXL_DIR is required");
    if (!o.out_dir) return usage_error(CMD, "--out RUN_DIR is required");
    if (o.cv_pretrain == EXP_CV_PER_FOLD && !o.cv) return usage_error(CMD, "--cv-pretrain goes with --cv");
    if (experiment_run(&o) != 0) return data_error();
    if (!o.quiet) print_table(o.out_dir);
    return KRES_EXIT_OK;
}
