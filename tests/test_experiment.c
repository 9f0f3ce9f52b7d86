/* test_experiment.c — kres experiment: option pieces (fractions, names, epochs rule,
 * statistics, presets), then one tiny experiment end to end on the bundled sample
 * (a 2-unit toy model, 1 epoch, 2 label fractions x 1 repeat x 3 pipelines): results.json
 * parsed and checked run by run, results.md rows, report.html plots, the same subset for
 * every pipeline, the paired comparisons (checked against the runs' AUCs and recomputed from
 * their scores.csv), and a rerun that skips every finished run but still reports every
 * comparison. Then a tiny pooled-CV experiment (one fraction) checks the 10-round
 * bookkeeping, the comparisons on the pooled out-of-fold predictions and the CV captions. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "eval/metrics.h"
#include "test.h"
#include "train/experiment.h"

/* ---- pieces ------------------------------------------------------------------------------ */

static void test_fractions(void) {
    double f[EXP_MAX_FRACTIONS];
    int n;
    CHECK(exp_parse_fractions("1,0.5,0.25", f, EXP_MAX_FRACTIONS, &n) == 0);
    CHECK(n == 3 && f[0] == 1 && f[1] == 0.5 && f[2] == 0.25);
    CHECK(exp_parse_fractions("0.05,1,0.1", f, EXP_MAX_FRACTIONS, &n) == 0);
    CHECK(n == 3 && f[0] == 1 && f[1] == 0.1 && f[2] == 0.05); /* sorted, largest first */
    CHECK(exp_parse_fractions("1", f, EXP_MAX_FRACTIONS, &n) == 0 && n == 1);
    const char *bad[] = {"", "0", "1.5", "-0.5", "abc", "0.5,0.5", "0.5,", ",0.5", "0.5,,1", "nan", "0.5x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECKF(exp_parse_fractions(bad[i], f, EXP_MAX_FRACTIONS, &n) == -1, "'%s' accepted", bad[i]);
    CHECK(strstr(kres_last_error(), "0.5x") != NULL); /* names the bad item */
    CHECK(exp_parse_fractions("1,0.5,0.25", f, 2, &n) == -1); /* over capacity */
}

static void test_names_and_epochs(void) {
    char b[64];
    exp_run_name(b, sizeof b, EXP_FINETUNE, 0.25, 1);
    CHECK(strcmp(b, "finetune-f0.25-r1") == 0);
    exp_run_name(b, sizeof b, EXP_SUPERVISED, 1, 3);
    CHECK(strcmp(b, "supervised-f1-r3") == 0);
    exp_run_name(b, sizeof b, EXP_PROBE, 0.05, 2);
    CHECK(strcmp(b, "probe-f0.05-r2") == 0);
    for (int p = 0; p < EXP_NPIPELINES; p++) {
        ExpPipeline q;
        CHECK(exp_pipeline_parse(exp_pipeline_id((ExpPipeline)p), &q) == 0 && (int)q == p);
    }
    ExpPipeline q;
    CHECK(exp_pipeline_parse("fine-tune", &q) == -1); /* labels are not ids */
    CHECK(strcmp(exp_pipeline_label(EXP_PROBE), "linear probe") == 0);
    /* epochs: raised to reach min_steps when an epoch has few steps */
    CHECK(exp_epochs_for(8, 40, 268, 32) == 8);   /* 9 steps/epoch: 72 >= 40 */
    CHECK(exp_epochs_for(8, 40, 67, 32) == 14);   /* 3 steps/epoch: ceil(40/3) */
    CHECK(exp_epochs_for(8, 40, 27, 32) == 40);   /* 1 step/epoch */
    CHECK(exp_epochs_for(8, 0, 27, 32) == 8);
    CHECK(exp_epochs_for(8, 40, 0, 32) == 8);     /* degenerate input: unchanged */
}

static void test_stats(void) {
    double x[] = {0.7, 0.8, NAN, 0.9}, m, sd, lo, hi;
    int used;
    exp_stats(x, 4, &m, &sd, &lo, &hi, &used);
    CHECK(used == 3);
    CHECK_CLOSE(m, 0.8, 1e-12, 0);
    CHECK_CLOSE(sd, 0.1, 1e-12, 0);
    CHECK(lo == 0.7 && hi == 0.9);
    exp_stats(x, 1, &m, &sd, &lo, &hi, &used);
    CHECK(used == 1 && m == 0.7 && isnan(sd) && lo == 0.7 && hi == 0.7);
    exp_stats(x + 2, 1, &m, &sd, &lo, &hi, &used);
    CHECK(used == 0 && isnan(m) && isnan(lo));
}

static void test_presets(void) {
    ExperimentOptions o;
    experiment_options_default(&o);
    CHECK(strcmp(o.preset, "demo") == 0 && o.model_is_default);
    KresConfig d;
    kres_config_default(&d);
    CHECK(o.model.stem_width == d.stem_width && o.model.nunits == d.nunits && o.model.widths[3] == d.widths[3]);
    CHECK(experiment_apply_preset(&o, "paper") == 0);
    CHECK(o.n_fractions == 5 && o.fractions[0] == 1 && o.fractions[4] == 0.05 && o.repeats == 5);
    CHECK(experiment_apply_preset(&o, "huge") == -1);
    CHECK(strstr(kres_last_error(), "huge") != NULL);
}

/* ---- end to end ---------------------------------------------------------------------------- */

static char g_tmp[256];

static int rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rm_rf(p);
        }
        closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static void tiny_options(ExperimentOptions *o, const char *out) {
    experiment_options_default(o);
    o->data_dir = SAMPLE_DIR;
    o->out_dir = out;
    /* a toy model and one epoch: this tests the bookkeeping, not the learning */
    o->model.stem_width = 4, o->model.kernel = 5, o->model.nunits = 2;
    o->model.widths[0] = 8, o->model.widths[1] = 8;
    o->model.proj_hidden = 8, o->model.proj_dim = 8;
    o->model_is_default = 0;
    o->epochs = 1, o->min_steps = 0, o->batch = 64;
    o->pretrain_epochs = 1, o->pretrain_batch = 64;
    o->threads = 1; /* a toy model gains nothing from threads; spinning workers cost */
    o->quiet = 1;
    o->preset = "test";
}

static JsonValue *read_json(const char *path) {
    size_t n;
    char *s = read_file_all(path, &n);
    if (!s) return NULL;
    char err[128];
    JsonValue *v = json_parse(s, n, err, sizeof err);
    free(s);
    return v;
}

static int count_substr(const char *hay, const char *needle) {
    int k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

static double mtime_of(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9;
}

/* The "comparisons" of results.json: `expect` entries, each a paired test of two pipelines
 * on the same `n` ECGs, consistent with the two runs' own AUCs in `runs`. */
static void check_comparisons(const JsonValue *v, int expect, int n, int npos) {
    const JsonValue *cmps = json_get(v, "comparisons"), *runs = json_get(v, "runs");
    CHECKF(cmps && cmps->type == JSON_ARRAY && cmps->n == expect, "%d comparisons", cmps ? cmps->n : -1);
    CHECK(strstr(json_str(json_get(v, "comparisons_method"), ""), "not adjusted for multiple comparisons") != NULL);
    int pairs[EXP_NPIPELINES][EXP_NPIPELINES] = {{0}};
    for (int i = 0; cmps && i < cmps->n; i++) {
        const JsonValue *m = json_at(cmps, i);
        ExpPipeline a, b;
        CHECK(exp_pipeline_parse(json_str(json_get(m, "a"), ""), &a) == 0);
        CHECK(exp_pipeline_parse(json_str(json_get(m, "b"), ""), &b) == 0 && a != b);
        pairs[a][b]++;
        CHECK(json_num(json_get(m, "n"), 0) == n && json_num(json_get(m, "n_pos"), 0) == npos);
        CHECK(json_num(json_get(m, "repeat"), 0) == 1);
        double f = json_num(json_get(m, "fraction"), -1), auc_a = json_num(json_get(m, "auc_a"), -1);
        double auc_b = json_num(json_get(m, "auc_b"), -1), diff = json_num(json_get(m, "diff"), NAN);
        /* the AUCs are the runs' own (recomputed from their scores.csv: the same bits) */
        double run_auc[2] = {NAN, NAN};
        for (int r = 0; runs && r < runs->n; r++) {
            const JsonValue *x = json_at(runs, r);
            if (json_num(json_get(x, "fraction"), -1) != f) continue;
            const char *pid = json_str(json_get(x, "pipeline"), "");
            if (!strcmp(pid, exp_pipeline_id(a))) run_auc[0] = json_num(json_get(x, "auc"), NAN);
            if (!strcmp(pid, exp_pipeline_id(b))) run_auc[1] = json_num(json_get(x, "auc"), NAN);
        }
        CHECKF(auc_a == run_auc[0] && auc_b == run_auc[1], "%g %g vs runs %g %g", auc_a, auc_b, run_auc[0], run_auc[1]);
        CHECK_CLOSE(diff, auc_a - auc_b, 1e-15, 0);
        const JsonValue *pv = json_get(m, "p");
        if (pv && pv->type == JSON_NUMBER) {
            double lo = json_num(json_get(m, "lo"), NAN), hi = json_num(json_get(m, "hi"), NAN);
            double z = json_num(json_get(m, "z"), NAN);
            CHECK(lo <= diff && diff <= hi && pv->number >= 0 && pv->number <= 1);
            CHECK((z > 0) == (diff > 0) && (z < 0) == (diff < 0));
        } else { /* undefined only with a reason */
            CHECK(json_get(m, "note") && json_get(m, "note")->type == JSON_STRING);
        }
    }
    /* fine-tune vs supervised, probe vs supervised, fine-tune vs probe at every fraction */
    const int per = expect / 3;
    CHECK(pairs[EXP_FINETUNE][EXP_SUPERVISED] == per && pairs[EXP_PROBE][EXP_SUPERVISED] == per &&
          pairs[EXP_FINETUNE][EXP_PROBE] == per);
}

static void test_holdout_end_to_end(void) {
    char out[512], path[1024];
    snprintf(out, sizeof out, "%s/holdout", g_tmp);
    ExperimentOptions o;
    tiny_options(&o, out);
    o.n_fractions = 2, o.fractions[0] = 1, o.fractions[1] = 0.25, o.repeats = 1;
    int rc = experiment_run(&o);
    CHECKF(rc == 0, "experiment_run: %s", kres_last_error());
    if (rc != 0) return;

    snprintf(path, sizeof path, "%s/results.json", out);
    JsonValue *v = read_json(path);
    CHECK(v != NULL);
    if (!v) return;
    CHECK(json_get(v, "complete") && json_get(v, "complete")->number == 1);
    const JsonValue *runs = json_get(v, "runs");
    CHECK(runs && runs->type == JSON_ARRAY && runs->n == 6);
    int seen[EXP_NPIPELINES][2] = {{0}};
    double ntrain[2][EXP_NPIPELINES];
    for (int i = 0; runs && i < runs->n; i++) {
        const JsonValue *r = json_at(runs, i);
        ExpPipeline p;
        CHECK(exp_pipeline_parse(json_str(json_get(r, "pipeline"), ""), &p) == 0);
        double f = json_num(json_get(r, "fraction"), -1);
        CHECK(f == 1 || f == 0.25);
        int fi = f == 1 ? 0 : 1;
        seen[p][fi]++;
        CHECK(json_num(json_get(r, "repeat"), 0) == 1);
        CHECK(json_get(r, "seed") && json_get(r, "subset_seed"));
        double auc = json_num(json_get(r, "auc"), -1);
        CHECKF(auc >= 0 && auc <= 1, "auc %g", auc);
        double lo = json_num(json_get(r, "auc_lo"), -1), hi = json_num(json_get(r, "auc_hi"), -1);
        CHECK(lo >= 0 && lo <= auc && auc <= hi && hi <= 1);
        const char *props[] = {"sensitivity", "specificity", "ppv", "npv"};
        for (int k = 0; k < 4; k++) {
            const JsonValue *pr = json_get(r, props[k]);
            CHECKF(pr && json_get(pr, "value") && json_get(pr, "lo") && json_get(pr, "hi"), "%s", props[k]);
        }
        double sens = json_num(json_get(json_get(r, "sensitivity"), "value"), -1);
        CHECK(sens >= 0 && sens <= 1);
        double thr = json_num(json_get(r, "threshold"), NAN);
        CHECK(isfinite(thr) && thr >= 0 && thr <= 1); /* a probability */
        double ntr = json_num(json_get(r, "n_train"), -1), npos = json_num(json_get(r, "n_train_pos"), -1);
        double nneg = json_num(json_get(r, "n_train_neg"), -1);
        CHECK(ntr > 0 && npos > 0 && npos + nneg == ntr);
        ntrain[fi][p] = ntr;
        CHECK(json_num(json_get(r, "n_test"), 0) == 45); /* fold 10 of the sample: 11 + 34 */
        CHECK(json_num(json_get(r, "n_test_pos"), 0) == 11);
        CHECK(json_num(json_get(r, "train_seconds"), -1) >= 0 && json_num(json_get(r, "seconds"), -1) >= 0);
        CHECK(json_get(r, "test") && json_get(json_get(r, "test"), "confusion"));
        /* notes describe the decisions actually made (not a pass at some other threshold) */
        const JsonValue *notes = json_get(json_get(r, "test"), "notes");
        int ppv_n = (int)json_num(json_get(json_get(r, "ppv"), "n"), -1);
        for (int k = 0; notes && ppv_n > 0 && k < notes->n; k++)
            CHECKF(!strstr(json_str(json_at(notes, k), ""), "PPV undefined"), "%s", json_str(json_at(notes, k), ""));
    }
    for (int p = 0; p < EXP_NPIPELINES; p++) CHECK(seen[p][0] == 1 && seen[p][1] == 1);
    /* the same labelled subset for all three pipelines: 268 = folds 1-8; 25% stratified = 13 + 54 */
    for (int fi = 0; fi < 2; fi++)
        CHECKF(ntrain[fi][0] == ntrain[fi][1] && ntrain[fi][1] == ntrain[fi][2], "fraction %d: %g %g %g", fi,
               ntrain[fi][0], ntrain[fi][1], ntrain[fi][2]);
    CHECK(ntrain[0][0] == 268 && ntrain[1][0] == 67);
    const JsonValue *summary = json_get(v, "summary");
    CHECK(summary && summary->n == 6);
    check_comparisons(v, 6, 45, 11);
    /* recomputed by hand from the two runs' scores.csv: the same test, the same numbers */
    double p_json = NAN, z_json = NAN;
    for (int i = 0; json_get(v, "comparisons") && i < json_get(v, "comparisons")->n; i++) {
        const JsonValue *m = json_at(json_get(v, "comparisons"), i);
        if (!strcmp(json_str(json_get(m, "a"), ""), "finetune") && !strcmp(json_str(json_get(m, "b"), ""), "supervised") &&
            json_num(json_get(m, "fraction"), 0) == 1)
            p_json = json_num(json_get(m, "p"), NAN), z_json = json_num(json_get(m, "z"), NAN);
    }
    ScoresTable ta, tb;
    snprintf(path, sizeof path, "%s/runs/finetune-f1-r1/scores.csv", out);
    CHECK(scores_table_read(path, &ta) == 0);
    snprintf(path, sizeof path, "%s/runs/supervised-f1-r1/scores.csv", out);
    CHECK(scores_table_read(path, &tb) == 0);
    CHECKF(scores_tables_paired("finetune", &ta, "supervised", &tb) == 0, "%s", kres_last_error());
    CHECK(strcmp(ta.id_col, "ecg_id") == 0);
    AucCompare cmp;
    CHECK(auc_delong_paired(ta.score, tb.score, ta.label, ta.n, &cmp) == 0);
    CHECKF(cmp.p == p_json && cmp.z == z_json, "p %.17g vs %.17g", cmp.p, p_json);
    scores_table_free(&ta);
    scores_table_free(&tb);
    json_free(v);

    snprintf(path, sizeof path, "%s/results.md", out);
    char *md = read_file_all(path, NULL);
    CHECK(md != NULL);
    if (md) {
        CHECK(strstr(md, "| pipeline | 100% labels | 25% labels |") != NULL);
        CHECK(strstr(md, "\n| supervised | 0.") != NULL);
        CHECK(strstr(md, "\n| fine-tune | 0.") != NULL);
        CHECK(strstr(md, "\n| linear probe | 0.") != NULL);
        CHECK(count_substr(md, "\n| probe-f") == 2); /* every-run table */
        CHECK(strstr(md, "NOT the paper's default KRes") != NULL);
        CHECK(strstr(md, "## Paired comparisons of the AUCs") != NULL);
        CHECK(strstr(md, "Paired DeLong test on the same 45 ECGs (holdout fold 10), two-sided") != NULL);
        CHECK(strstr(md, "not adjusted for multiple comparisons") != NULL);
        CHECK(count_substr(md, "\n| fine-tune vs supervised | ") == 2 && count_substr(md, "\n| linear probe vs supervised | ") == 2);
        CHECK(count_substr(md, "\n| fine-tune vs linear probe | 25% | ") == 1);
        free(md);
    }
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = read_file_all(path, NULL);
    CHECK(html != NULL);
    if (html) {
        CHECK(count_substr(html, "<svg") >= 2);
        CHECK(strstr(html, "supervised") && strstr(html, "fine-tune") && strstr(html, "linear probe"));
        CHECK(count_substr(html, "<polyline") >= 6); /* 3 ROC curves + 3 label-efficiency lines */
        CHECK(count_substr(html, "<table") == 2);      /* results and paired comparisons */
        CHECK(strstr(html, "<caption>Paired DeLong test on the same 45 ECGs (the holdout), two-sided; p-values not "
                           "adjusted for multiple comparisons.") != NULL);
        CHECK(count_substr(html, "<tr><td>fine-tune vs supervised</td>") == 2);
        free(html);
    }
    snprintf(path, sizeof path, "%s/runs/finetune-f0.25-r1/model.safetensors", out);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/pretrain/encoder.safetensors", out);
    CHECK(access(path, R_OK) == 0);

    /* Rerun: every run is skipped, its done marker untouched, the log says so. */
    const char *names[] = {"supervised-f1-r1", "finetune-f0.25-r1", "probe-f1-r1"};
    double before[3];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/result.json", out, names[i]);
        before[i] = mtime_of(path);
    }
    snprintf(path, sizeof path, "%s/pretrain/done.json", out);
    double pre_before = mtime_of(path);
    CHECKF(experiment_run(&o) == 0, "rerun: %s", kres_last_error());
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/runs/%s/result.json", out, names[i]);
        CHECKF(mtime_of(path) == before[i], "%s rewritten", names[i]);
    }
    snprintf(path, sizeof path, "%s/pretrain/done.json", out);
    CHECK(mtime_of(path) == pre_before);
    snprintf(path, sizeof path, "%s/experiment.log.jsonl", out);
    char *log = read_file_all(path, NULL);
    CHECK(log && count_substr(log, "\"event\":\"run_skip\"") == 6 && count_substr(log, "\"event\":\"run_end\"") == 6);
    CHECK(log && count_substr(log, "\"event\":\"pretrain_skip\"") == 1);
    free(log);
    /* the rerun trained nothing, yet its results.json has every comparison */
    snprintf(path, sizeof path, "%s/results.json", out);
    v = read_json(path);
    CHECK(v != NULL);
    if (v) check_comparisons(v, 6, 45, 11);
    json_free(v);

    /* A run without its scores: --report-only still reports, its comparisons say why they
     * are missing and have no numbers. */
    snprintf(path, sizeof path, "%s/runs/probe-f0.25-r1/scores.csv", out);
    CHECK(unlink(path) == 0);
    o.report_only = 1;
    CHECKF(experiment_run(&o) == 0, "report only: %s", kres_last_error());
    o.report_only = 0;
    snprintf(path, sizeof path, "%s/results.json", out);
    v = read_json(path);
    int n_missing = 0;
    for (int i = 0; v && json_get(v, "comparisons") && i < json_get(v, "comparisons")->n; i++) {
        const JsonValue *m = json_at(json_get(v, "comparisons"), i);
        if (strstr(json_str(json_get(m, "note"), ""), "not compared") && strstr(json_str(json_get(m, "note"), ""), "probe-f0.25-r1")) {
            n_missing++;
            CHECK(json_get(m, "p")->type == JSON_NULL && json_get(m, "diff")->type == JSON_NULL);
        }
    }
    CHECK(n_missing == 2); /* probe vs supervised and fine-tune vs probe at 25% */
    json_free(v);
    /* the comparisons made are all on the 45 test ECGs, and both captions say so */
    snprintf(path, sizeof path, "%s/results.md", out);
    char *md2 = read_file_all(path, NULL);
    CHECK(md2 && strstr(md2, "Paired DeLong test on the same 45 ECGs (holdout fold 10)"));
    free(md2);
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html2 = read_file_all(path, NULL);
    CHECK(html2 && strstr(html2, "<caption>Paired DeLong test on the same 45 ECGs (the holdout)"));
    free(html2);

    /* A lost run is redone; the others stay skipped. */
    snprintf(path, sizeof path, "%s/runs/probe-f0.25-r1/result.json", out);
    CHECK(unlink(path) == 0);
    CHECKF(experiment_run(&o) == 0, "rerun: %s", kres_last_error());
    CHECK(access(path, R_OK) == 0);

    /* Other settings into the same directory are refused, naming the setting. */
    o.epochs = 2;
    CHECK(experiment_run(&o) == -1);
    CHECK(strstr(kres_last_error(), "epochs") != NULL);
}

static void test_cv_end_to_end(void) {
    char out[512], path[1024];
    snprintf(out, sizeof out, "%s/cv", g_tmp);
    ExperimentOptions o;
    tiny_options(&o, out);
    o.cv = 1;
    o.n_fractions = 1, o.fractions[0] = 0.1, o.repeats = 1;
    int rc = experiment_run(&o);
    CHECKF(rc == 0, "cv experiment_run: %s", kres_last_error());
    if (rc != 0) return;
    snprintf(path, sizeof path, "%s/results.json", out);
    JsonValue *v = read_json(path);
    CHECK(v != NULL);
    if (!v) return;
    const JsonValue *runs = json_get(v, "runs");
    CHECK(runs && runs->n == 3);
    for (int i = 0; runs && i < runs->n; i++) {
        const JsonValue *r = json_at(runs, i);
        /* pooled out-of-fold: every cohort ECG is scored exactly once */
        CHECK(json_num(json_get(r, "n_test"), 0) == 357 && json_num(json_get(r, "n_test_pos"), 0) == 71);
        const JsonValue *rounds = json_get(r, "rounds");
        CHECK(rounds && rounds->n == 10);
        double sum = 0;
        for (int k = 0; rounds && k < rounds->n; k++) sum += json_num(json_get(json_at(rounds, k), "n_test"), 0);
        CHECK(sum == 357);
        CHECK(json_get(r, "threshold") && json_get(r, "threshold")->type == JSON_NULL); /* one per round */
        double auc = json_num(json_get(r, "auc"), -1);
        CHECK(auc >= 0 && auc <= 1);
    }
    /* pooled out-of-fold predictions are paired too: the same 357 ECGs for every pipeline */
    check_comparisons(v, 3, 357, 71);
    char *md;
    snprintf(path, sizeof path, "%s/results.md", out);
    md = read_file_all(path, NULL);
    CHECK(md && strstr(md, "transductive") != NULL); /* the caveat is stated */
    CHECK(md && strstr(md, "Paired DeLong test on the same 357 ECGs (pooled out-of-fold predictions over 10 folds)"));
    free(md);
    json_free(v);
    /* the report's captions say what the metrics are on: pooled out-of-fold, not a holdout */
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = read_file_all(path, NULL);
    CHECK(html && strstr(html, "<caption>Metrics on pooled out-of-fold predictions over 10 folds.</caption>"));
    CHECK(html && strstr(html, "<figcaption>Label efficiency: AUC on pooled out-of-fold predictions over 10 folds"));
    CHECK(html && strstr(html, "<caption>Paired DeLong test on the same 357 ECGs (pooled out-of-fold predictions "
                               "over 10 folds), two-sided; p-values not adjusted for multiple comparisons."));
    free(html);
    /* the rounds have their own done markers */
    snprintf(path, sizeof path, "%s/runs/probe-f0.1-r1/fold-7/fold.json", out);
    CHECK(access(path, R_OK) == 0);
}

static void test_errors(void) {
    char out[512];
    snprintf(out, sizeof out, "%s/never", g_tmp);
    ExperimentOptions o;
    tiny_options(&o, out);
    o.data_dir = "no/such/ptbxl";
    CHECK(experiment_run(&o) == -1);
    CHECK(strstr(kres_last_error(), "no/such/ptbxl") != NULL);
    CHECK(access(out, F_OK) != 0); /* nothing written for a bad data directory */
}

int main(void) {
    test_fractions();
    test_names_and_epochs();
    test_stats();
    test_presets();
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kres_test_experiment.XXXXXX");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_errors();
    double t0 = now_seconds();
    test_holdout_end_to_end();
    double t1 = now_seconds();
    test_cv_end_to_end();
    fprintf(stderr, "end to end: holdout %.1f s, cv %.1f s\n", t1 - t0, now_seconds() - t1);
    rm_rf(g_tmp);
    TEST_MAIN_END();
}
