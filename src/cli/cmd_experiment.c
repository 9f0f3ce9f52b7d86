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
            "linear probe on its frozen embeddings; all evaluated on the same holdout. Writes\n"
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
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        double d;
        long l;
        if (arg_is(f, "--cv")) {
            o.cv = 1;
        } else if (arg_is(f, "--report-only")) {
            o.report_only = 1;
        } else if (arg_is(f, "--verbose")) {
            o.verbose = 1;
        } else if (arg_is(f, "--quiet")) {
            o.quiet = 1;
        } else if (!(v = arg_value(argc, argv, &i, CMD))) {
            return KRES_EXIT_USAGE; /* every remaining option takes a value */
        } else if (arg_is(f, "--preset")) {
            /* applied above */
        } else if (arg_is(f, "--data")) {
            o.data_dir = v;
        } else if (arg_is(f, "--out")) {
            o.out_dir = v;
        } else if (arg_is(f, "--pretrain-data")) {
            if (o.n_pretrain_dirs == PRETRAIN_MAX_DIRS)
                return usage_error(CMD, "at most %d --pretrain-data directories", PRETRAIN_MAX_DIRS);
            o.pretrain_dirs[o.n_pretrain_dirs++] = v;
        } else if (arg_is(f, "--task")) {
            o.task = v;
        } else if (arg_is(f, "--fractions")) {
            if (exp_parse_fractions(v, o.fractions, EXP_MAX_FRACTIONS, &o.n_fractions) != 0)
                return usage_error(CMD, "--fractions: %s", kres_last_error());
        } else if (arg_is(f, "--repeats")) {
            if (arg_int(CMD, f, v, 1, EXP_MAX_REPEATS, &o.repeats) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--cv-pretrain")) {
            if (arg_is(v, "transductive")) o.cv_pretrain = EXP_CV_TRANSDUCTIVE;
            else if (arg_is(v, "per-fold")) o.cv_pretrain = EXP_CV_PER_FOLD;
            else return usage_error(CMD, "--cv-pretrain must be 'transductive' or 'per-fold', got '%s'", v);
        } else if (arg_is(f, "--seed")) {
            if (arg_long(CMD, f, v, 0, LONG_MAX / 2, &l) != 0) return KRES_EXIT_USAGE;
            o.seed = (uint64_t)l;
        } else if (arg_is(f, "--threads")) {
            if (arg_int(CMD, f, v, 1, 1024, &o.threads) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--epochs")) {
            if (arg_int(CMD, f, v, 1, 100000, &o.epochs) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--min-steps")) {
            if (arg_int(CMD, f, v, 0, 10000000, &o.min_steps) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--batch")) {
            if (arg_int(CMD, f, v, 1, 65536, &o.batch) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--lr")) {
            if (arg_double(CMD, f, v, 1e-12, 10, &d) != 0) return KRES_EXIT_USAGE;
            o.lr = (float)d;
        } else if (arg_is(f, "--encoder-lr-scale")) {
            if (arg_double(CMD, f, v, 0, 100, &d) != 0) return KRES_EXIT_USAGE;
            o.encoder_lr_scale = (float)d;
        } else if (arg_is(f, "--pretrain-epochs")) {
            if (arg_int(CMD, f, v, 1, 100000, &o.pretrain_epochs) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--pretrain-batch")) {
            if (arg_int(CMD, f, v, 2, 65536, &o.pretrain_batch) != 0) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--threshold-rule")) {
            ThresholdRule r;
            if (threshold_rule_parse(v, &r) != 0) return usage_error(CMD, "--threshold-rule: %s", kres_last_error());
            o.threshold_rule = v;
        } else if (arg_is(f, "--model-config")) {
            char *s = read_file_all(v, NULL);
            if (!s) return data_error();
            KresConfig mc;
            kres_config_default(&mc);
            int e = kres_config_from_json(s, &mc);
            free(s);
            if (e != 0) {
                char why[512];
                snprintf(why, sizeof why, "%s", kres_last_error());
                kres_fail(v, "%s", why);
                return data_error();
            }
            o.model = mc;
            o.model_is_default = 0;
        } else {
            return usage_error(CMD, "unknown option '%s'", f);
        }
    }
    if (!o.data_dir) return usage_error(CMD, "--data PTBXL_DIR is required");
    if (!o.out_dir) return usage_error(CMD, "--out RUN_DIR is required");
    if (o.cv_pretrain == EXP_CV_PER_FOLD && !o.cv) return usage_error(CMD, "--cv-pretrain goes with --cv");
    if (experiment_run(&o) != 0) return data_error();
    if (!o.quiet) print_table(o.out_dir);
    return KRES_EXIT_OK;
}
