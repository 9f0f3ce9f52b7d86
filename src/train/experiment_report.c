/* experiment_report.c — the reports of `kres experiment`: results.json, results.md and
 * report.html, rebuilt from the run directory's files alone (every finished run's
 * result.json and scores.csv), so that a resumed or --report-only invocation reports the
 * runs of earlier invocations exactly as if they had run now. Per (pipeline, fraction):
 * the AUC's mean and spread over repeats and the mean operating point; per (fraction,
 * repeat): the paired DeLong comparisons of the pipelines on the same test ECGs. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "nn/checkpoint.h"
#include "nn/conv1d.h"
#include "nn/kres.h"
#include "train/experiment_internal.h"
#include "train/progress.h"

#define PATHN EXP_PATHN

/* ---- aggregation and reports --------------------------------------------------------- */

typedef struct {
    int n;                         /* finished repeats */
    double auc_mean, auc_sd, auc_min, auc_max;
    double sens, spec, ppv, npv;   /* means */
    double auc_lo1, auc_hi1;       /* DeLong CI of the first finished repeat */
} Cell;

static double prop_value(const JsonValue *run, const char *key) { return exp_jnum(json_get(run, key), "value"); }

/* One (pipeline, fraction) cell from its repeats' result.json (NULL: not finished). */
static void cell_compute(JsonValue *const *runs, int repeats, Cell *cl) {
    double auc[EXP_MAX_REPEATS], se[EXP_MAX_REPEATS], sp[EXP_MAX_REPEATS], pp[EXP_MAX_REPEATS], np[EXP_MAX_REPEATS];
    int k = 0;
    memset(cl, 0, sizeof *cl);
    cl->auc_lo1 = cl->auc_hi1 = NAN;
    for (int r = 0; r < repeats; r++) {
        const JsonValue *v = runs[r];
        if (!v) continue;
        if (k == 0) cl->auc_lo1 = exp_jnum(v, "auc_lo"), cl->auc_hi1 = exp_jnum(v, "auc_hi");
        auc[k] = exp_jnum(v, "auc"), se[k] = prop_value(v, "sensitivity"), sp[k] = prop_value(v, "specificity");
        pp[k] = prop_value(v, "ppv"), np[k] = prop_value(v, "npv");
        k++;
    }
    cl->n = k;
    int u;
    double sd, lo, hi;
    exp_stats(auc, k, &cl->auc_mean, &cl->auc_sd, &cl->auc_min, &cl->auc_max, &u);
    exp_stats(se, k, &cl->sens, &sd, &lo, &hi, &u);
    exp_stats(sp, k, &cl->spec, &sd, &lo, &hi, &u);
    exp_stats(pp, k, &cl->ppv, &sd, &lo, &hi, &u);
    exp_stats(np, k, &cl->npv, &sd, &lo, &hi, &u);
}

static void fmt3(char *b, size_t n, double x) {
    if (isnan(x)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.3f", x);
}

static void fmt2(char *b, size_t n, double x) {
    if (isnan(x)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.2f", x);
}

static void fmt_pct(char *b, size_t n, double f) { snprintf(b, n, "%g%%", f * 100); }

/* Spread column: min-max over repeats, or the single run's DeLong CI. */
static void cell_spread(const Cell *cl, int repeats, double *lo, double *hi) {
    if (repeats > 1 && cl->n > 1) *lo = cl->auc_min, *hi = cl->auc_max;
    else *lo = cl->auc_lo1, *hi = cl->auc_hi1;
}

/* "| pipeline | 100% labels | ... |" and its separator row, for results.md tables. */
static void md_fraction_header(FILE *f, const double *fractions, int F) {
    char pct[32];
    fprintf(f, "| pipeline |");
    for (int fi = 0; fi < F; fi++) fmt_pct(pct, sizeof pct, fractions[fi]), fprintf(f, " %s labels |", pct);
    fprintf(f, "\n| --- |");
    for (int fi = 0; fi < F; fi++) fprintf(f, " --- |");
    fprintf(f, "\n");
}

/* Encoder parameters of a config (the built model knows; a throwaway batch-1 model is cheap). */
static double kres_encoder_params(const KresConfig *c) {
    Kres *m = kres_create(c, 1, 1);
    if (!m) return NAN;
    double n = (double)kres_num_encoder_params(m);
    kres_free(m);
    return n;
}

/* Notes shared by results.md and report.html (malloc'd, paragraphs separated by "\n\n"). */
static char *notes_text(const ExpReportInput *c, int complete, int n_done, int n_total, const char *extra) {
    const ExperimentOptions *o = c->o;
    const Cohort *h = c->coh;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    KRES_ASSERT(f);
    fprintf(f, "Data: %s, task %s (%s), paper protocol (positives vs NORM-only ECGs), 100 Hz: %d ECGs, "
               "%d positive.",
            o->data_dir, c->task->name, c->task->description, h->n, h->npos);
    if (o->cv)
        fprintf(f, " Evaluation: 10-fold cross-validation over PTB-XL's strat_folds (round k: test fold k, "
                   "validation fold k mod 10 + 1); the AUC is computed on the pooled out-of-fold scores of all %d ECGs, "
                   "sensitivity etc. from each ECG's decision at its own round's threshold.",
                h->n);
    else
        fprintf(f, " Evaluation: holdout fold 10 (%d ECGs, %d positive); training folds 1-8, validation fold 9 "
                   "(%d ECGs, %d positive) chooses the epoch (or the probe's L2 strength) and the threshold.",
                h->pos_fold[10] + h->neg_fold[10], h->pos_fold[10], h->pos_fold[9] + h->neg_fold[9], h->pos_fold[9]);
    fprintf(f, " Label fractions are stratified, seeded subsets of the training folds, nested within a repeat "
               "(repeat r uses seed %llu+r-1), and identical for the three pipelines.\n\n",
            (unsigned long long)o->seed);
    if (o->cv && o->cv_pretrain == EXP_CV_TRANSDUCTIVE)
        fprintf(f, "IMPORTANT - transductive pretraining: with --cv every fold is a test fold once, so the one "
                   "contrastive pretraining used every record, the test ECGs of each round included (without labels: "
                   "pretraining never reads a label). The fine-tune and linear-probe encoders have therefore seen the "
                   "unlabelled test ECGs; the supervised pipeline has not. Use --cv-pretrain per-fold for strictly "
                   "inductive numbers (ten pretrainings).\n\n");
    fprintf(f, "Pretraining: SimCLR-style contrastive (NT-Xent, temperature %g), %d epoch%s, batch %d, on ",
            o->temperature, o->pretrain_epochs, o->pretrain_epochs == 1 ? "" : "s", o->pretrain_batch);
    if (o->n_pretrain_dirs) {
        for (int i = 0; i < o->n_pretrain_dirs; i++) fprintf(f, "%s%s", i ? ", " : "", o->pretrain_dirs[i]);
        fputs(!o->cv ? " (PTB-XL trees without folds 9 and 10)"
                     : o->cv_pretrain == EXP_CV_PER_FOLD ? " (per round; PTB-XL trees without its test and validation folds)"
                                                         : " (all records)",
              f);
    } else if (!o->cv) {
        fprintf(f, "the unlabelled ECGs of folds 1-8 of %s", o->data_dir);
    } else if (o->cv_pretrain == EXP_CV_PER_FOLD) {
        fprintf(f, "the unlabelled ECGs of each round's training folds (one encoder per round)");
    } else {
        fprintf(f, "all unlabelled ECGs of %s", o->data_dir);
    }
    fprintf(f, ". Supervised and fine-tune: %d epoch%s (more for small fractions: at least %d optimiser steps), batch "
               "%d, AdamW lr %g; fine-tuning trains all layers, the encoder at lr x %g. Linear probe: L2 logistic "
               "regression on the frozen encoder's embeddings, strength chosen on validation AUC.",
            o->epochs, o->epochs == 1 ? "" : "s", o->min_steps, o->batch, (double)o->lr, (double)o->encoder_lr_scale);
    if (!o->model_is_default) {
        const KresConfig *m = &o->model;
        fprintf(f, " Model: NOT the paper's default KRes (stem 64, widths 128-196-256-320, kernel 17) but stem %d, "
                   "widths ", m->stem_width);
        for (int u = 0; u < m->nunits; u++) fprintf(f, "%s%d", u ? "-" : "", m->widths[u]);
        fprintf(f, ", kernel %d, downsampling %d, dropout %g (%.2f M encoder parameters; config in results.json).",
                m->kernel, m->downsample, (double)m->dropout, kres_encoder_params(m) / 1e6);
    } else {
        fprintf(f, " Model: the default KRes (stem 64, widths 128-196-256-320, kernel 17).");
    }
    fprintf(f, " Convolution backend: %s, %d thread%s (the same seed, backend and threads reproduce every number).",
            nn_backend_name(nn_get_backend()), omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s");
    fprintf(f, "\n\nIntervals: the AUC's 95%% CI is DeLong's (logit scale); sensitivity, specificity, PPV and NPV use "
               "Wilson intervals in results.json. Spread over repeats is min-max; with one repeat the table shows the "
               "run's DeLong CI instead. Threshold: %s on the validation fold.",
            o->threshold_rule);
    if (h->n < 2000)
        fprintf(f, " Caution: %d ECGs with %d positives are far too few for firm conclusions: intervals are wide and "
                   "differences between pipelines are mostly within them.",
                h->n, h->npos);
    if (extra && *extra) fprintf(f, "\n\n%s", extra);
    if (!complete) fprintf(f, "\n\nINCOMPLETE: %d of %d runs finished; missing cells are n/a.", n_done, n_total);
    fclose(f);
    return buf;
}

/* One finished run's scores.csv as the report uses it: read once (on first use), for every
 * comparison the run is in and, at the largest fraction and repeat 1, its ROC curve. */
typedef struct {
    int loaded, ok;
    Scores s;
    char path[PATHN];
    char err[256]; /* kres_last_error() of a failed read */
} RunScores;

static const RunScores *run_scores(const ExpReportInput *c, RunScores *rs, ExpPipeline p, double fraction, int repeat) {
    if (rs->loaded) return rs;
    char name[96];
    exp_run_name(name, sizeof name, p, fraction, repeat);
    rs->loaded = 1;
    rs->ok = exp_pathf(rs->path, "%s/runs/%s/scores.csv", c->o->out_dir, name) == 0 && exp_scores_read(rs->path, 0, &rs->s) == 0;
    if (!rs->ok) snprintf(rs->err, sizeof rs->err, "%s", kres_last_error());
    return rs;
}

static void run_scores_free(RunScores *rs, int n) {
    for (int i = 0; i < n; i++) exp_scores_free(&rs[i].s);
    memset(rs, 0, (size_t)n * sizeof *rs);
}

/* The (downsampled) ROC curve of a run's scores. */
static int roc_of_run(const RunScores *rs, RocCurve *out) {
    if (!rs->ok) return -1;
    RocCurve full;
    memset(&full, 0, sizeof full);
    int rc = roc_curve(rs->s.score, rs->s.label, rs->s.n, &full) != 0 || roc_downsample(&full, 300, out) != 0 ? -1 : 0;
    roc_curve_free(&full);
    return rc;
}

/* ---- paired comparisons of the pipelines ----------------------------------------------- */

/* The pairs compared at every (fraction, repeat): a - b. */
#define EXP_NCOMPARE 3
static const ExpPipeline CMP_PAIR[EXP_NCOMPARE][2] = {
    {EXP_FINETUNE, EXP_SUPERVISED}, {EXP_PROBE, EXP_SUPERVISED}, {EXP_FINETUNE, EXP_PROBE}};

typedef struct {
    ExpPipeline a, b;
    double fraction;
    int repeat;
    AucCompare c;      /* auc_compare_init's NaNs (n == 0) when the two runs' scores could not be paired */
    char note[240];    /* why not paired, or c.note */
} Comparison;

typedef struct {
    int id, row;
} IdRow;

static int cmp_idrow(const void *x, const void *y) {
    const IdRow *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

/* Both runs' scores, matched record by record (by ecg_id: the same records in the same
 * order in practice, but nothing here relies on the order), then the paired DeLong test.
 * A pair that cannot be matched (other records, another label) is reported in `note` and
 * left out of the numbers rather than failing the whole report. */
static void compare_runs(const RunScores *ra, const RunScores *rb, ExpPipeline pa, ExpPipeline pb, double fraction,
                         int repeat, Comparison *out) {
    memset(out, 0, sizeof *out);
    auc_compare_init(&out->c); /* not compared: every number NaN (null, n/a) */
    out->a = pa, out->b = pb, out->fraction = fraction, out->repeat = repeat;
    if (!ra->ok || !rb->ok) {
        snprintf(out->note, sizeof out->note, "not compared: %.200s", !ra->ok ? ra->err : rb->err);
        return;
    }
    const Scores *sa = &ra->s, *sb = &rb->s;
    if (sa->n != sb->n) {
        snprintf(out->note, sizeof out->note, "not compared: %s scored %d ECGs, %s %d", exp_pipeline_label(pa), sa->n,
                 exp_pipeline_label(pb), sb->n);
        return;
    }
    /* B's rows sorted by ecg_id, looked up for each of A's rows; each B row used once */
    const int n = sa->n;
    IdRow *byid = xmalloc((size_t)n * sizeof *byid + 1);
    float *b_score = xmalloc((size_t)n * sizeof *b_score + 1); /* B's score of A's row i */
    unsigned char *used = xcalloc((size_t)n + 1, 1);
    for (int i = 0; i < n; i++) byid[i] = (IdRow){sb->ecg_id[i], i};
    qsort(byid, (size_t)n, sizeof *byid, cmp_idrow);
    for (int i = 0; i < n; i++) {
        IdRow key = {sa->ecg_id[i], 0}, *hit = bsearch(&key, byid, (size_t)n, sizeof *byid, cmp_idrow);
        int j = hit ? hit->row : -1;
        if (j < 0 || used[j] || sb->label[j] != sa->label[i]) {
            snprintf(out->note, sizeof out->note, "not compared: ecg_id %d is %s in %.150s", key.id,
                     j < 0 ? "missing" : used[j] ? "repeated" : "labelled differently", rb->path);
            goto done;
        }
        used[j] = 1;
        b_score[i] = sb->score[j];
    }
    if (auc_delong_paired(sa->score, b_score, sa->label, n, &out->c) != 0) {
        snprintf(out->note, sizeof out->note, "not compared: %.200s", kres_last_error());
        goto done;
    }
    snprintf(out->note, sizeof out->note, "%s", out->c.note);
done:
    free(byid), free(b_score), free(used);
}

/* "0.042", or "<0.001" (every digit is in results.json) */
static void fmt_p(char *b, size_t n, double p) {
    if (isnan(p)) snprintf(b, n, "n/a");
    else if (p < 0.001) snprintf(b, n, "<0.001");
    else snprintf(b, n, "%.3f", p);
}

/* ---- the three report files ------------------------------------------------------------ */

/* What results.json, results.md and report.html are written from, gathered once. */
typedef struct {
    int F, R;                      /* label fractions, repeats */
    int n_done, n_total, complete; /* finished runs of all P x F x R */
    JsonValue **runs;              /* [n_total] result.json of run (p, fi, r) at run_slot, or NULL */
    Cell *cells;                   /* (p, fi) at p * F + fi */
    char *notes;                   /* notes_text */
    Comparison *cmps;              /* every (fraction, repeat) x EXP_NCOMPARE with both runs done */
    int n_cmp;
    ReportComparison *rcmp;        /* cmps as report.h rows */
    int cmp_n;                     /* their common ECG count, 0 if they differ */
    RunScores first[EXP_NPIPELINES]; /* scores of the largest fraction, repeat 1: ROC curves */
} Report;

/* Where run (pipeline p, fraction fi, repeat r) is in rp->runs: a cell's repeats side by side. */
static size_t run_slot(const Report *rp, int p, int fi, int r) { return ((size_t)p * rp->F + fi) * rp->R + r; }

static const JsonValue *run_at(const Report *rp, int p, int fi, int r) { return rp->runs[run_slot(rp, p, fi, r)]; }

static void report_free(Report *rp) {
    for (int i = 0; i < rp->n_total; i++) json_free(rp->runs[i]);
    run_scores_free(rp->first, EXP_NPIPELINES);
    free(rp->runs), free(rp->cells), free(rp->notes), free(rp->cmps), free(rp->rcmp);
}

/* Every finished run's result.json into rp->runs. */
static int load_runs(const ExpReportInput *c, Report *rp) {
    const ExperimentOptions *o = c->o;
    char path[PATHN], name[96];
    for (int p = 0; p < EXP_NPIPELINES; p++)
        for (int fi = 0; fi < rp->F; fi++)
            for (int r = 0; r < rp->R; r++) {
                exp_run_name(name, sizeof name, (ExpPipeline)p, o->fractions[fi], r + 1);
                if (exp_pathf(path, "%s/runs/%s/result.json", o->out_dir, name) != 0) return -1;
                if (!exp_file_exists(path)) continue;
                JsonValue *v = exp_json_read(path);
                if (!v) return -1;
                rp->runs[run_slot(rp, p, fi, r)] = v;
                rp->n_done++;
            }
    return 0;
}

/* (fraction, repeat) cells whose pipelines trained on different numbers of ECGs: they must
 * have trained on the same subset. */
static int subset_mismatches(const Report *rp) {
    int mismatched = 0;
    for (int fi = 0; fi < rp->F; fi++)
        for (int r = 0; r < rp->R; r++) {
            double n0 = NAN;
            for (int p = 0; p < EXP_NPIPELINES; p++) {
                const JsonValue *v = run_at(rp, p, fi, r);
                if (!v) continue;
                double n = exp_jnum(v, "n_train");
                if (isnan(n0)) n0 = n;
                else if (n != n0) mismatched++;
            }
        }
    return mismatched;
}

/* Paired comparisons at every (fraction, repeat) whose two runs have both finished, from
 * the runs' scores.csv: a resumed or --report-only invocation gets them too. Each run's
 * scores are read once; the first cell's are kept in rp->first for the ROC curves. */
static void compare_all(const ExpReportInput *c, Report *rp) {
    const ExperimentOptions *o = c->o;
    RunScores cur[EXP_NPIPELINES];
    memset(cur, 0, sizeof cur);
    rp->cmps = xcalloc((size_t)rp->F * rp->R * EXP_NCOMPARE + 1, sizeof *rp->cmps);
    for (int fi = 0; fi < rp->F; fi++)
        for (int r = 0; r < rp->R; r++) {
            RunScores *rs = fi == 0 && r == 0 ? rp->first : cur;
            for (int k = 0; k < EXP_NCOMPARE; k++) {
                const ExpPipeline pa = CMP_PAIR[k][0], pb = CMP_PAIR[k][1];
                if (!run_at(rp, pa, fi, r) || !run_at(rp, pb, fi, r)) continue;
                const RunScores *ra = run_scores(c, &rs[pa], pa, o->fractions[fi], r + 1);
                const RunScores *rb = run_scores(c, &rs[pb], pb, o->fractions[fi], r + 1);
                compare_runs(ra, rb, pa, pb, o->fractions[fi], r + 1, &rp->cmps[rp->n_cmp++]);
            }
            if (rs == cur) run_scores_free(cur, EXP_NPIPELINES);
        }
    /* the report's rows; their common ECG count captions results.md's table and report.html's */
    rp->rcmp = xcalloc((size_t)rp->n_cmp + 1, sizeof *rp->rcmp);
    for (int i = 0; i < rp->n_cmp; i++) {
        const Comparison *m = &rp->cmps[i];
        rp->rcmp[i] = (ReportComparison){.a = exp_pipeline_label(m->a), .b = exp_pipeline_label(m->b),
                                         .fraction = m->fraction, .repeat = m->repeat, .n = m->c.n,
                                         .auc_a = m->c.auc_a, .auc_b = m->c.auc_b, .diff = m->c.diff,
                                         .lo = m->c.lo, .hi = m->c.hi, .z = m->c.z, .p = m->c.p,
                                         .note = m->note[0] ? m->note : NULL};
    }
    rp->cmp_n = report_comparisons_common_n(rp->rcmp, rp->n_cmp);
}

/* Runs, cells, notes and comparisons of the run directory; report_free in any case. */
static int report_gather(const ExpReportInput *c, Report *rp) {
    const ExperimentOptions *o = c->o;
    memset(rp, 0, sizeof *rp);
    rp->F = o->n_fractions, rp->R = o->repeats;
    rp->n_total = EXP_NPIPELINES * rp->F * rp->R;
    rp->runs = xcalloc((size_t)rp->n_total, sizeof *rp->runs);
    rp->cells = xcalloc((size_t)EXP_NPIPELINES * rp->F, sizeof *rp->cells);
    if (load_runs(c, rp) != 0) return -1;
    for (int p = 0; p < EXP_NPIPELINES; p++)
        for (int fi = 0; fi < rp->F; fi++)
            cell_compute(&rp->runs[run_slot(rp, p, fi, 0)], rp->R, &rp->cells[p * rp->F + fi]);
    rp->complete = rp->n_done == rp->n_total;
    char extra[512] = "";
    const int mismatched = subset_mismatches(rp);
    if (mismatched)
        snprintf(extra, sizeof extra, "WARNING: in %d (fraction, repeat) cells the pipelines trained on different numbers "
                 "of ECGs (see n_train in results.json): records unreadable for one pipeline but not another?", mismatched);
    rp->notes = notes_text(c, rp->complete, rp->n_done, rp->n_total, extra);
    compare_all(c, rp);
    return 0;
}

/* results.json's head: the settings and the cohort that every number below comes from. */
static void json_setup(JsonWriter *w, const ExpReportInput *c, const Report *rp) {
    const ExperimentOptions *o = c->o;
    jw_key(w, "kres_version"), jw_string(w, KRES_VERSION);
    jw_key(w, "preset"), jw_string(w, o->preset ? o->preset : "custom");
    jw_key(w, "settings");
    exp_write_settings(w, o);
    jw_key(w, "fractions");
    jw_array_begin(w);
    for (int fi = 0; fi < rp->F; fi++) jw_number(w, o->fractions[fi]);
    jw_array_end(w);
    jw_key(w, "repeats"), jw_int(w, rp->R);
    jw_key(w, "cohort");
    jw_object_begin(w);
    jw_key(w, "n"), jw_int(w, c->coh->n);
    jw_key(w, "positives"), jw_int(w, c->coh->npos);
    jw_key(w, "negatives"), jw_int(w, c->coh->nneg);
    jw_object_end(w);
}

/* Each encoder's pretraining done.json (beside the encoder file), or null where it is
 * missing: the report is still written without it. */
static void json_pretrain(JsonWriter *w, const ExpReportInput *c) {
    jw_key(w, "pretrain");
    jw_array_begin(w);
    for (int k = 0; k < c->n_encoders; k++) {
        char dp[PATHN];
        const char *slash = strrchr(c->encoder[k], '/');
        snprintf(dp, sizeof dp, "%.*s/done.json", (int)(slash ? slash - c->encoder[k] : 0), c->encoder[k]);
        JsonValue *v = exp_file_exists(dp) ? exp_json_read(dp) : NULL;
        if (v) jw_value(w, v);
        else jw_null(w);
        json_free(v);
    }
    jw_array_end(w);
}

/* One object per (pipeline, fraction) cell: the AUC over repeats and the mean operating point. */
static void json_summary(JsonWriter *w, const ExperimentOptions *o, const Report *rp) {
    jw_key(w, "summary");
    jw_array_begin(w);
    for (int p = 0; p < EXP_NPIPELINES; p++)
        for (int fi = 0; fi < rp->F; fi++) {
            const Cell *cl = &rp->cells[p * rp->F + fi];
            jw_object_begin(w);
            jw_key(w, "pipeline"), jw_string(w, exp_pipeline_id((ExpPipeline)p));
            jw_key(w, "fraction"), jw_number(w, o->fractions[fi]);
            jw_key(w, "repeats_done"), jw_int(w, cl->n);
            jw_key(w, "auc_mean"), jw_number(w, cl->auc_mean);
            jw_key(w, "auc_sd"), jw_number(w, cl->auc_sd);
            jw_key(w, "auc_min"), jw_number(w, cl->auc_min);
            jw_key(w, "auc_max"), jw_number(w, cl->auc_max);
            jw_key(w, "sensitivity_mean"), jw_number(w, cl->sens);
            jw_key(w, "specificity_mean"), jw_number(w, cl->spec);
            jw_key(w, "ppv_mean"), jw_number(w, cl->ppv);
            jw_key(w, "npv_mean"), jw_number(w, cl->npv);
            jw_object_end(w);
        }
    jw_array_end(w);
}

/* The paired tests with every digit (results.md and report.html round them), after the
 * method they were made with. */
static void json_comparisons(JsonWriter *w, const Report *rp) {
    jw_key(w, "comparisons_method");
    jw_string(w, "paired DeLong test (DeLong, DeLong & Clarke-Pearson 1988) of AUC(a) = AUC(b) on the same ECGs, "
                 "two-sided; diff = AUC(a) - AUC(b) with its 95% Wald CI; p not adjusted for multiple comparisons");
    jw_key(w, "comparisons");
    jw_array_begin(w);
    for (int i = 0; i < rp->n_cmp; i++) {
        const Comparison *m = &rp->cmps[i]; /* not compared: every number null, the note says why */
        jw_object_begin(w);
        jw_key(w, "a"), jw_string(w, exp_pipeline_id(m->a));
        jw_key(w, "b"), jw_string(w, exp_pipeline_id(m->b));
        jw_key(w, "fraction"), jw_number(w, m->fraction);
        jw_key(w, "repeat"), jw_int(w, m->repeat);
        jw_key(w, "n"), jw_int(w, m->c.n);
        jw_key(w, "n_pos"), jw_int(w, m->c.npos);
        const char *keys[] = {"auc_a", "auc_b", "diff", "lo", "hi", "se", "z", "p", "corr"};
        const double vals[] = {m->c.auc_a, m->c.auc_b, m->c.diff, m->c.lo, m->c.hi,
                               m->c.se, m->c.z, m->c.p, m->c.corr};
        for (int k = 0; k < (int)(sizeof keys / sizeof *keys); k++) jw_key(w, keys[k]), jw_number(w, vals[k]);
        jw_key(w, "note");
        if (m->note[0]) jw_string(w, m->note);
        else jw_null(w);
        jw_object_end(w);
    }
    jw_array_end(w);
}

/* Every finished run's result.json verbatim, in the order the experiment runs them
 * (repeat, then fraction, then pipeline). */
static void json_runs(JsonWriter *w, const Report *rp) {
    jw_key(w, "runs");
    jw_array_begin(w);
    for (int r = 0; r < rp->R; r++)
        for (int fi = 0; fi < rp->F; fi++)
            for (int p = 0; p < EXP_NPIPELINES; p++) {
                const JsonValue *v = run_at(rp, p, fi, r);
                if (v) jw_value(w, v);
            }
    jw_array_end(w);
}

static int write_results_json(const ExpReportInput *c, const Report *rp) {
    const ExperimentOptions *o = c->o;
    char path[PATHN];
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    json_setup(&w, c, rp);
    json_pretrain(&w, c);
    /* an interrupted experiment's summary covers fewer repeats: say how many runs it has */
    jw_key(&w, "complete"), jw_bool(&w, rp->complete);
    jw_key(&w, "runs_done"), jw_int(&w, rp->n_done);
    jw_key(&w, "runs_total"), jw_int(&w, rp->n_total);
    json_summary(&w, o, rp);
    json_comparisons(&w, rp);
    json_runs(&w, rp);
    jw_key(&w, "notes"), jw_string(&w, rp->notes);
    jw_object_end(&w);
    int e = exp_pathf(path, "%s/results.json", o->out_dir) || exp_json_write(path, &w);
    jw_free(&w);
    return e ? -1 : 0;
}

/* Title and one line on how the experiment was run, flagging an incomplete one up front. */
static void md_title(FILE *f, const ExpReportInput *c, const Report *rp) {
    const ExperimentOptions *o = c->o;
    const int R = rp->R;
    fprintf(f, "# kres experiment: %s, label efficiency\n\n", c->task->name);
    fprintf(f, "Preset `%s`; %s; %d repeat%s. Run directory `%s`.%s\n\n", o->preset ? o->preset : "custom",
            o->cv ? "pooled 10-fold cross-validation" : "holdout fold 10", R, R == 1 ? "" : "s", o->out_dir,
            rp->complete ? "" : " **Incomplete.**");
}

/* AUC per (pipeline, fraction) with its spread: min-max over repeats, or one run's DeLong CI. */
static void md_auc_table(FILE *f, const ExperimentOptions *o, const Report *rp) {
    const int F = rp->F, R = rp->R;
    char a[32], b[32], cc[32];
    fprintf(f, "## ROC AUC on the %s\n\n", o->cv ? "pooled out-of-fold predictions" : "holdout fold");
    fprintf(f, "%s\n\n", R > 1 ? "Mean over repeats (min-max)." : "One repeat: AUC (DeLong 95% CI).");
    md_fraction_header(f, o->fractions, F);
    for (int p = 0; p < EXP_NPIPELINES; p++) {
        fprintf(f, "| %s |", exp_pipeline_label((ExpPipeline)p));
        for (int fi = 0; fi < F; fi++) {
            const Cell *cl = &rp->cells[p * F + fi];
            double lo, hi;
            cell_spread(cl, R, &lo, &hi);
            fmt3(a, sizeof a, cl->auc_mean), fmt3(b, sizeof b, lo), fmt3(cc, sizeof cc, hi);
            if (cl->n == 0) fprintf(f, " n/a |");
            else fprintf(f, " %s (%s-%s) |", a, b, cc);
        }
        fprintf(f, "\n");
    }
}

static void md_sens_spec_table(FILE *f, const ExperimentOptions *o, const Report *rp) {
    const int F = rp->F;
    char a[32], b[32];
    fprintf(f, "\n## Sensitivity / specificity at the validation-chosen threshold (mean over repeats)\n\n");
    md_fraction_header(f, o->fractions, F);
    for (int p = 0; p < EXP_NPIPELINES; p++) {
        fprintf(f, "| %s |", exp_pipeline_label((ExpPipeline)p));
        for (int fi = 0; fi < F; fi++) {
            const Cell *cl = &rp->cells[p * F + fi];
            fmt2(a, sizeof a, cl->sens), fmt2(b, sizeof b, cl->spec);
            if (cl->n == 0) fprintf(f, " n/a |");
            else fprintf(f, " %s / %s |", a, b);
        }
        fprintf(f, "\n");
    }
}

/* One comparisons table row; the repeat column only exists with more than one repeat. */
static void md_comparison_row(FILE *f, const Comparison *m, int R) {
    char a[32], b[32], pct[32], dci[96], z[32], pv[32], rep[16] = "";
    fmt_pct(pct, sizeof pct, m->fraction);
    if (R > 1) snprintf(rep, sizeof rep, " %d |", m->repeat);
    fmt3(a, sizeof a, m->c.auc_a), fmt3(b, sizeof b, m->c.auc_b);
    if (isnan(m->c.diff)) snprintf(dci, sizeof dci, "n/a");
    else if (isnan(m->c.lo)) snprintf(dci, sizeof dci, "%+.3f (n/a)", m->c.diff);
    else snprintf(dci, sizeof dci, "%+.3f (%+.3f to %+.3f)", m->c.diff, m->c.lo, m->c.hi);
    fmt2(z, sizeof z, m->c.z);
    fmt_p(pv, sizeof pv, m->c.p);
    fprintf(f, "| %s vs %s | %s |%s %s | %s | %s | %s | %s |\n", exp_pipeline_label(m->a),
            exp_pipeline_label(m->b), pct, rep, a, b, dci, z, pv);
}

/* The paired DeLong tests; pairs that could not be compared get their reason under the table. */
static void md_comparisons(FILE *f, const ExperimentOptions *o, const Report *rp) {
    const int R = rp->R;
    const char *on = o->cv ? "pooled out-of-fold predictions over 10 folds" : "holdout fold 10";
    char pct[32];
    fprintf(f, "\n## Paired comparisons of the AUCs\n\n");
    if (rp->cmp_n > 0) fprintf(f, "Paired DeLong test on the same %d ECGs (%s), ", rp->cmp_n, on);
    else fprintf(f, "Paired DeLong test on the same ECGs within each comparison (%s; n in results.json), ", on);
    fprintf(f, "two-sided. Difference = AUC of the first pipeline minus the second, with its 95%% CI. The "
               "p-values are not adjusted for multiple comparisons (%d per label fraction and repeat).\n\n",
            EXP_NCOMPARE);
    fprintf(f, "| comparison | labels |%s AUC (first) | AUC (second) | difference (95%% CI) | z | p |\n",
            R > 1 ? " repeat |" : "");
    fprintf(f, "| --- | --- |%s --- | --- | --- | --- | --- |\n", R > 1 ? " --- |" : "");
    for (int i = 0; i < rp->n_cmp; i++) md_comparison_row(f, &rp->cmps[i], R);
    for (int i = 0; i < rp->n_cmp; i++) {
        const Comparison *m = &rp->cmps[i];
        if (!m->note[0]) continue;
        fmt_pct(pct, sizeof pct, m->fraction);
        fprintf(f, "%s%s vs %s at %s labels, repeat %d: %s\n", i ? "" : "\n", exp_pipeline_label(m->a),
                exp_pipeline_label(m->b), pct, m->repeat, m->note);
    }
}

/* One row per finished run, in run order, with each run's own CIs and threshold; a CV run
 * has a threshold per round, so its result.json holds none. */
static void md_every_run(FILE *f, const Report *rp) {
    fprintf(f, "\n## Every run\n\n");
    fprintf(f, "| run | n_train (pos/neg) | AUC [95%% CI] | sensitivity [CI] | specificity [CI] | PPV | NPV | "
               "threshold | wall time |\n");
    fprintf(f, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (int r = 0; r < rp->R; r++)
        for (int fi = 0; fi < rp->F; fi++)
            for (int p = 0; p < EXP_NPIPELINES; p++) {
                const JsonValue *v = run_at(rp, p, fi, r);
                if (!v) continue;
                double ntr = exp_jnum(v, "n_train"), npos = exp_jnum(v, "n_train_pos");
                char d[32], thr[32];
                format_duration(exp_jnum(v, "seconds"), d, sizeof d);
                double t = exp_jnum(v, "threshold");
                if (isnan(t)) snprintf(thr, sizeof thr, "per round");
                else snprintf(thr, sizeof thr, "%.3g", t);
                fprintf(f, "| %s | %g (%g/%g) | %.3f [%.3f, %.3f] | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | "
                           "%.2f | %.2f | %s | %s |\n",
                        json_str(json_get(v, "run"), "?"), ntr, npos, ntr - npos, exp_jnum(v, "auc"),
                        exp_jnum(v, "auc_lo"), exp_jnum(v, "auc_hi"), prop_value(v, "sensitivity"),
                        exp_jnum(json_get(v, "sensitivity"), "lo"), exp_jnum(json_get(v, "sensitivity"), "hi"),
                        prop_value(v, "specificity"), exp_jnum(json_get(v, "specificity"), "lo"),
                        exp_jnum(json_get(v, "specificity"), "hi"), prop_value(v, "ppv"), prop_value(v, "npv"), thr,
                        d);
            }
}

static int write_results_md(const ExpReportInput *c, const Report *rp) {
    const ExperimentOptions *o = c->o;
    char path[PATHN];
    char *md = NULL;
    size_t mdlen = 0;
    /* built in memory so that it goes out in one atomic write */
    FILE *f = open_memstream(&md, &mdlen);
    KRES_ASSERT(f);
    md_title(f, c, rp);
    md_auc_table(f, o, rp);
    md_sens_spec_table(f, o, rp);
    if (rp->n_cmp > 0) md_comparisons(f, o, rp);
    md_every_run(f, rp);
    fprintf(f, "\n## Notes\n\n%s\n", rp->notes);
    fclose(f);
    int e = exp_pathf(path, "%s/results.md", o->out_dir) || write_file_atomic(path, md, mdlen);
    free(md);
    return e ? -1 : 0;
}

static int write_report_html(const ExpReportInput *c, Report *rp) {
    const ExperimentOptions *o = c->o;
    const int F = rp->F, R = rp->R, P = EXP_NPIPELINES;
    char path[PATHN];
    ReportRow *rows = xcalloc((size_t)P * F, sizeof *rows);
    ReportSeries series[EXP_NPIPELINES];
    ReportRoc rocs[EXP_NPIPELINES];
    RocCurve curves[EXP_NPIPELINES];
    double *sx = xcalloc((size_t)P * F * 4, sizeof(double));
    memset(curves, 0, sizeof curves);
    int nrows = 0, nrocs = 0;
    for (int p = 0; p < P; p++) {
        double *fx = sx + (size_t)p * F * 4, *fm = fx + F, *flo = fm + F, *fhi = flo + F;
        int ns = 0;
        /* series ascending in fraction; the fractions array is descending */
        for (int fi = F - 1; fi >= 0; fi--) {
            const Cell *cl = &rp->cells[p * F + fi];
            if (cl->n == 0) continue;
            double lo, hi;
            cell_spread(cl, R, &lo, &hi);
            fx[ns] = o->fractions[fi], fm[ns] = cl->auc_mean, flo[ns] = lo, fhi[ns] = hi;
            ns++;
        }
        series[p] = (ReportSeries){.label = exp_pipeline_label((ExpPipeline)p), .n = ns, .fraction = fx,
                                   .auc_mean = fm, .auc_lo = flo, .auc_hi = fhi};
        for (int fi = 0; fi < F; fi++) {
            const Cell *cl = &rp->cells[p * F + fi];
            double lo, hi;
            cell_spread(cl, R, &lo, &hi);
            rows[nrows++] = (ReportRow){.pipeline = exp_pipeline_label((ExpPipeline)p), .fraction = o->fractions[fi],
                                        .n_repeats = cl->n, .auc_mean = cl->auc_mean, .auc_spread_lo = lo,
                                        .auc_spread_hi = hi, .sens = cl->sens, .spec = cl->spec, .ppv = cl->ppv,
                                        .npv = cl->npv};
        }
        /* ROC at the largest fraction, repeat 1 */
        const JsonValue *v = run_at(rp, p, 0, 0);
        if (v && roc_of_run(run_scores(c, &rp->first[p], (ExpPipeline)p, o->fractions[0], 1), &curves[p]) == 0) {
            rocs[nrocs++] = (ReportRoc){.label = exp_pipeline_label((ExpPipeline)p), .n = curves[p].n,
                                        .fpr = curves[p].fpr, .tpr = curves[p].tpr, .auc = exp_jnum(v, "auc"),
                                        .auc_lo = exp_jnum(v, "auc_lo"), .auc_hi = exp_jnum(v, "auc_hi")};
        }
    }
    char title[400], subtitle[400], spread[96], interval[160], roc_cap[160], footer[600];
    if (strcmp(c->task->name, "heart-block") == 0)
        snprintf(title, sizeof title, "Heart block on PTB-XL: supervised vs fine-tuned vs linear probe");
    else
        snprintf(title, sizeof title, "Task %s on PTB-XL: supervised vs fine-tuned vs linear probe", c->task->name);
    snprintf(subtitle, sizeof subtitle, "%s; %d ECGs (%d positive); %d label fraction%s x %d repeat%s; preset %s%s",
             o->cv ? "pooled 10-fold cross-validation" : "holdout fold 10", c->coh->n, c->coh->npos, F,
             F == 1 ? "" : "s", R, R == 1 ? "" : "s", o->preset ? o->preset : "custom",
             rp->complete ? "" : " (INCOMPLETE)");
    if (R > 1) {
        snprintf(spread, sizeof spread, "min-max over %d repeats", R);
        snprintf(interval, sizeof interval, "bars: min-max of the AUC over %d repeats", R);
    } else {
        snprintf(spread, sizeof spread, "95%% CI (DeLong)");
        snprintf(interval, sizeof interval, "bars: 95%% DeLong CI of the single repeat");
    }
    char fpct[32];
    fmt_pct(fpct, sizeof fpct, o->fractions[0]);
    snprintf(roc_cap, sizeof roc_cap, "ROC curves at %s labels (repeat 1, %s)", fpct,
             o->cv ? "pooled out-of-fold" : "holdout fold 10");
    snprintf(footer, sizeof footer, "kres %s; run directory %s; every run's model, scores and log are under runs/; "
             "numbers in results.json.", KRES_VERSION, o->out_dir);
    ReportData d = {.title = title, .subtitle = subtitle, .notes = rp->notes, .spread_label = spread,
                    .interval_label = interval, .rows = rows, .n_rows = nrows, .rocs = rocs, .n_rocs = nrocs,
                    .roc_caption = roc_cap, .series = series, .n_series = P, .log_x = 1, .footer = footer,
                    /* the captions say what the AUCs are on (holdout or pooled out-of-fold) */
                    .cv_folds = o->cv ? PTBXL_NFOLDS : 0, .comparisons = rp->rcmp, .n_comparisons = rp->n_cmp};
    int e = exp_pathf(path, "%s/report.html", o->out_dir) || report_write_html(path, &d);
    for (int p = 0; p < P; p++) roc_curve_free(&curves[p]);
    free(rows);
    free(sx);
    return e ? -1 : 0;
}

int exp_write_reports(const ExpReportInput *c) {
    Report rp;
    int rc = report_gather(c, &rp);
    if (rc == 0)
        rc = write_results_json(c, &rp) || write_results_md(c, &rp) || write_report_html(c, &rp) ? -1 : 0;
    if (rc == 0 && !c->o->quiet)
        fprintf(stderr, "experiment: wrote %s/results.json, results.md and report.html (%d of %d runs%s)\n",
                c->o->out_dir, rp.n_done, rp.n_total, rp.complete ? "" : "; INCOMPLETE");
    report_free(&rp);
    return rc;
}
