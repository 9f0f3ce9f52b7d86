/* cmd_eval.c — 'kres eval': metrics with confidence intervals for a binary classifier.
 *
 *   kres eval --scores FILE.csv [threshold options] [--ci delong|bootstrap] [--json]
 *   kres eval --model M --data DIR [--fold 10] [...]      (model path: eval_model_path)
 *
 * Both paths end in eval_scores_and_print(): choose the threshold, compute everything with
 * eval_binary() and print it with eval_print(). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/metrics.h"

static const char *CMD = "eval";

typedef struct {
    const char *scores_path;  /* --scores */
    const char *model_path;   /* --model */
    const char *data_dir;     /* --data */
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
            "       kres eval --model M --data DIR [--fold K] [options]\n\n"
            "Binary-classification metrics with 95%% confidence intervals: ROC AUC, and at a\n"
            "threshold (positive if score >= threshold) the confusion matrix, sensitivity,\n"
            "specificity, PPV, NPV, accuracy (Wilson intervals) and F1 (bootstrap interval).\n\n"
            "input:\n"
            "  --scores FILE      CSV with a header naming columns 'label' (0/1) and 'score'\n"
            "                     (any order; other columns are ignored)\n"
            "  --model M          model checkpoint to evaluate (with --data)\n"
            "  --data DIR         PTB-XL directory for --model\n"
            "  --fold K           holdout fold for --model (default 10)\n"
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

/* Placeholder for the checkpoint path: load a->model_path, score fold a->fold of
 * a->data_dir, then call eval_scores_and_print(). */
static int eval_model_path(const EvalArgs *a) {
    (void)a;
    return not_implemented("eval --model");
}

int cmd_eval(int argc, char **argv) {
    EvalArgs a;
    memset(&a, 0, sizeof a);
    a.fold = 10;
    eval_options_default(&a.opts);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (arg_is_help(f)) {
            print_usage(stdout);
            return KRES_EXIT_OK;
        } else if (arg_is(f, "--json")) {
            a.json = 1;
        } else if (arg_is(f, "--scores")) {
            if (!(a.scores_path = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--model")) {
            if (!(a.model_path = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--data")) {
            if (!(a.data_dir = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--fold")) {
            if (!(v = arg_value(argc, argv, &i, CMD)) || arg_int(CMD, f, v, 1, 10, &a.fold) != 0)
                return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--threshold")) {
            if (!(v = arg_value(argc, argv, &i, CMD)) || arg_double(CMD, f, v, -1e300, 1e300, &a.threshold) != 0)
                return KRES_EXIT_USAGE;
            a.have_threshold = 1;
        } else if (arg_is(f, "--threshold-rule")) {
            if (!(a.rule = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
            ThresholdRule r;
            if (threshold_rule_parse(a.rule, &r) != 0) return usage_error(CMD, "%s", kres_last_error());
        } else if (arg_is(f, "--ci")) {
            if (!(v = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
            if (arg_is(v, "delong")) a.opts.ci = EVAL_CI_DELONG;
            else if (arg_is(v, "bootstrap")) a.opts.ci = EVAL_CI_BOOTSTRAP;
            else return usage_error(CMD, "--ci must be 'delong' or 'bootstrap', got '%s'", v);
        } else if (arg_is(f, "--boot")) {
            if (!(v = arg_value(argc, argv, &i, CMD)) || arg_int(CMD, f, v, 0, 1000000, &a.opts.n_boot) != 0)
                return KRES_EXIT_USAGE;
        } else if (arg_is(f, "--seed")) {
            long s;
            if (!(v = arg_value(argc, argv, &i, CMD)) || arg_long(CMD, f, v, 0, LONG_MAX, &s) != 0)
                return KRES_EXIT_USAGE;
            a.opts.seed = (uint64_t)s;
        } else {
            return usage_error(CMD, "unknown option '%s'", f);
        }
    }
    if (a.have_threshold && a.rule) return usage_error(CMD, "give --threshold or --threshold-rule, not both");
    if (a.opts.ci == EVAL_CI_BOOTSTRAP && a.opts.n_boot < 2)
        return usage_error(CMD, "--ci bootstrap needs --boot of at least 2");
    if (a.scores_path && (a.model_path || a.data_dir))
        return usage_error(CMD, "--scores cannot be combined with --model/--data");
    if (a.scores_path) return eval_scores_path(&a);
    if (a.model_path || a.data_dir) {
        if (!a.model_path || !a.data_dir) return usage_error(CMD, "--model and --data go together");
        return eval_model_path(&a);
    }
    return usage_error(CMD, "nothing to evaluate: give --scores FILE or --model M --data DIR");
}
