/* cmd_probe.c — 'kres probe': linear probe (L2 logistic regression) on frozen embeddings.
 * Parses flags into ProbeOptions and calls probe_run (src/train/probe.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "train/probe.h"

static const char *CMD = "probe";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres probe --encoder E --data PTBXL_DIR --out MODEL.safetensors [options]\n\n"
            "Linear probe: embeddings of the frozen encoder (inference mode) for the training,\n"
            "validation and test folds, standardised with the training mean/sd, then L2-\n"
            "regularised logistic regression (L-BFGS) for a grid of lambdas; lambda is chosen by\n"
            "validation AUC (ties: the stronger one) and the threshold on validation by the rule.\n"
            "The result is folded back into a KRes classifier (its head), so 'kres eval' and\n"
            "'kres predict' take it like any other model.\n\n"
            "options:\n"
            "  --encoder E          encoder checkpoint (from 'kres pretrain'; any KRes checkpoint)\n"
            "  --data DIR           PTB-XL directory\n"
            "  --task T             heart-block (default) | avb | bbb | fascicular | cd | CODE,...\n"
            "  --out M              classifier checkpoint to write\n"
            "  --protocol P         paper (positives vs NORM-only, default) | all\n"
            "  --rate 100|500       PTB-XL files to read (default 100)\n"
            "  --min-likelihood X   a code counts if its likelihood >= X (default 0 = any)\n"
            "  --test-fold K        default 10\n"
            "  --val-fold K         default 9 (the training folds are all others)\n"
            "  --label-fraction F   stratified fraction of the training folds (default 1)\n"
            "  --seed S             seed of that subset (default 1)\n"
            "  --threshold-rule R   youden (default) | sens=X | spec=X | fixed=X, on validation\n"
            "  --lambdas MIN,MAX,N  regularisation grid, log-spaced (default 1e-4,1e2,13)\n"
            "  --no-class-weights   plain (unweighted) loss instead of class-balanced weights\n"
            "  --scores FILE        also write the test-fold scores as CSV (id = ecg_id, label, score)\n"
            "  --json               print the result as one JSON object\n"
            "  --quiet              no progress messages\n\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error; see docs/pretraining.md\n");
}

/* --lambdas MIN,MAX,N (ArgFn; dst is the ProbeFitOptions). */
static int flag_lambdas(const char *cmd, const char *flag, const char *v, void *dst) {
    ProbeFitOptions *fit = dst;
    double lo, hi;
    int n, used = 0;
    if (sscanf(v, "%lf,%lf,%d%n", &lo, &hi, &n, &used) != 3 || v[used] != '\0' || !(lo > 0) || !(hi >= lo) ||
        !isfinite(hi) || n < 1 || n > PROBE_MAX_GRID) {
        usage_error(cmd, "--lambdas must be MIN,MAX,N with 0 < MIN <= MAX and 1 <= N <= %d, got '%s'",
                    PROBE_MAX_GRID, v);
        return -1;
    }
    fit->lambda_min = lo, fit->lambda_max = hi, fit->n_lambda = n;
    return 0;
}

static void print_json(const ProbeOptions *o, const ProbeResult *r) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "task"), jw_string(&w, o->task);
    jw_key(&w, "encoder"), jw_string(&w, o->encoder_path);
    jw_key(&w, "ntrain"), jw_int(&w, r->ntrain);
    jw_key(&w, "ntrain_pos"), jw_int(&w, r->ntrain_pos);
    jw_key(&w, "nval"), jw_int(&w, r->nval);
    jw_key(&w, "nval_pos"), jw_int(&w, r->nval_pos);
    jw_key(&w, "ntest"), jw_int(&w, r->ntest);
    jw_key(&w, "ntest_pos"), jw_int(&w, r->ntest_pos);
    jw_key(&w, "lambda"), jw_number(&w, r->fit.lambda);
    jw_key(&w, "val_auc"), jw_number(&w, r->fit.val_auc);
    jw_key(&w, "threshold"), jw_number(&w, r->fit.threshold);
    jw_key(&w, "grid");
    probe_grid_write_json(&w, &r->fit, 1);
    if (r->ntest > 0) {
        jw_key(&w, "test");
        eval_write_json(&w, &r->test);
    }
    jw_key(&w, "seconds_embed"), jw_number(&w, r->seconds_embed);
    jw_key(&w, "seconds_fit"), jw_number(&w, r->seconds_fit);
    jw_object_end(&w);
    printf("%s\n", w.buf);
    jw_free(&w);
}

static void print_text(const ProbeOptions *o, const ProbeResult *r) {
    printf("probe        %s on %s (%s protocol), encoder %s\n", o->task, o->data_dir,
           protocol_name(o->protocol), o->encoder_path);
    printf("records      train %d (%d positive), validation fold %d: %d (%d positive), test fold %d: %d (%d positive)\n",
           r->ntrain, r->ntrain_pos, o->val_fold, r->nval, r->nval_pos, o->test_fold, r->ntest, r->ntest_pos);
    printf("lambda       %.3g of %d (validation AUC per lambda:", r->fit.lambda, r->fit.n_lambda);
    for (int k = 0; k < r->fit.n_lambda; k++) printf(" %.3g:%.3f", r->fit.grid_lambda[k], r->fit.grid_val_auc[k]);
    printf(")\n");
    printf("val AUC      %.4f (optimistic: it chose lambda)\n", r->fit.val_auc);
    printf("threshold    %.6g (%s on validation)\n", r->fit.threshold, o->fit.threshold_rule);
    if (r->ntest > 0) {
        printf("test fold %d:\n", o->test_fold);
        eval_print(&r->test, 0, stdout);
    }
    printf("time         %.1f s embedding, %.1f s fitting\n", r->seconds_embed, r->seconds_fit);
    if (o->out_path) printf("model        %s\n", o->out_path);
}

int cmd_probe(int argc, char **argv) {
    ProbeOptions o;
    probe_options_default(&o);
    o.argc = argc;
    o.argv = argv;
    const char *scores = NULL;
    int json = 0;
    ArgSpec spec[] = {
        ARG_SET("--quiet", &o.quiet),
        ARG_SET("--json", &json),
        ARG_CLEAR("--no-class-weights", &o.fit.balanced),
        ARG_STR("--encoder", &o.encoder_path),
        ARG_STR("--data", &o.data_dir),
        ARG_STR("--task", &o.task),
        ARG_STR("--out", &o.out_path),
        ARG_STR("--scores", &scores),
        ARG_PROTOCOL("--protocol", &o.protocol),
        ARG_RATE("--rate", &o.rate),
        ARG_DOUBLE("--min-likelihood", &o.min_likelihood, 0, 100),
        ARG_INT("--test-fold", &o.test_fold, 1, 10),
        ARG_INT("--val-fold", &o.val_fold, 1, 10),
        ARG_DOUBLE("--label-fraction", &o.label_fraction, 1e-9, 1),
        ARG_SEED("--seed", &o.seed),
        ARG_RULE("--threshold-rule", &o.fit.threshold_rule),
        ARG_FUNC("--lambdas", flag_lambdas, &o.fit),
        ARG_END,
    };
    int prc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (prc != ARG_CONTINUE) return prc;
    if (!o.encoder_path) return usage_error(CMD, "--encoder E is required");
    if (!o.data_dir) return usage_error(CMD, "--data PTBXL_DIR is required");
    if (!o.out_path) return usage_error(CMD, "--out MODEL.safetensors is required");
    if (o.val_fold == o.test_fold) return usage_error(CMD, "--val-fold and --test-fold must differ");
    ProbeResult r;
    if (probe_run(&o, &r) != 0) {
        probe_result_free(&r);
        return data_error();
    }
    int rc = KRES_EXIT_OK;
    if (scores && r.ntest > 0) {
        char **ids = xmalloc((size_t)r.ntest * sizeof(char *));
        for (int i = 0; i < r.ntest; i++) {
            ids[i] = xmalloc(16);
            snprintf(ids[i], 16, "%d", r.test_ecg_id[i]);
        }
        if (scores_csv_write(scores, (const char *const *)ids, r.test_scores, r.test_labels, r.ntest) != 0)
            rc = data_error();
        for (int i = 0; i < r.ntest; i++) free(ids[i]);
        free(ids);
    }
    if (rc == KRES_EXIT_OK) {
        if (json) print_json(&o, &r);
        else print_text(&o, &r);
    }
    probe_result_free(&r);
    return rc;
}
