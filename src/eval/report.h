/* report.h — one self-contained HTML page (inline CSS + inline SVG, no external resources)
 * summarising an experiment: notes, a results table, paired comparisons of the pipelines'
 * AUCs, ROC curves and a label-efficiency plot. All text passed in is HTML-escaped; the file is written atomically.
 * Numbers that are NaN are shown as "n/a" in the table and skipped in plots. */
#ifndef KRES_REPORT_H
#define KRES_REPORT_H

/* One table row: a pipeline at one label fraction, summarised over repeats. */
typedef struct {
    const char *pipeline;      /* e.g. "supervised", "fine-tune", "linear probe" */
    double fraction;           /* label fraction in (0,1] */
    int n_repeats;             /* repeats the means are over */
    double auc_mean;
    double auc_spread_lo, auc_spread_hi; /* e.g. min-max over repeats, or mean -/+ sd */
    double sens, spec, ppv, npv;         /* means over repeats at the chosen threshold */
} ReportRow;

/* One ROC curve (already downsampled: a few hundred points is plenty). */
typedef struct {
    const char *label;
    int n;
    const double *fpr, *tpr;
    double auc, auc_lo, auc_hi;  /* shown in the legend; lo/hi may be NaN */
} ReportRoc;

/* One line of the label-efficiency plot: AUC against label fraction with an interval. */
typedef struct {
    const char *label;
    int n;
    const double *fraction;      /* ascending, in (0,1] */
    const double *auc_mean, *auc_lo, *auc_hi; /* lo/hi may be NULL or NaN: no bar */
} ReportSeries;

/* One paired comparison of two pipelines' AUCs on the same ECGs (paired DeLong test):
 * a row of the comparisons table. */
typedef struct {
    const char *a, *b;           /* pipeline labels; diff = AUC(a) - AUC(b) */
    double fraction;             /* label fraction in (0,1] */
    int repeat;                  /* the table gets a repeat column when some row has repeat > 1 */
    int n;                       /* ECGs compared (the caption names it when all rows agree) */
    double auc_a, auc_b;
    double diff, lo, hi;         /* difference and its 95% CI */
    double z, p;                 /* two-sided; NaN = n/a */
    const char *note;            /* why something is n/a (may be NULL) */
} ReportComparison;

/* The number of ECGs shared by every comparison made (rows with n > 0; n == 0 marks a pair
 * not compared), or 0 if none was made or their counts differ. The table caption names it;
 * results.md's caption uses it too, so both say the same. */
int report_comparisons_common_n(const ReportComparison *c, int n);

typedef struct {
    const char *title;           /* page title and <h1> */
    const char *subtitle;        /* one line under the title (may be NULL) */
    const char *notes;           /* paragraph(s): dataset, protocol, CI method, caveats;
                                    blank lines separate paragraphs (may be NULL) */
    const char *spread_label;    /* table header for the spread column, e.g. "min-max over 3 repeats" */
    const char *interval_label;  /* caption for error bars, e.g. "bars: min-max over repeats" */
    const ReportRow *rows;
    int n_rows;
    const ReportRoc *rocs;       /* ROC plot title says "at full labels" when roc_caption is NULL */
    int n_rocs;
    const char *roc_caption;
    const ReportSeries *series;
    int n_series;
    int log_x;                   /* label-efficiency x axis: 1 = log10, 0 = linear */
    int cv_folds;                /* what the metrics were measured on, named in the table
                                    caption, the default ROC caption and the label-efficiency
                                    caption and axis: 0 = one holdout; N > 0 = the pooled
                                    out-of-fold predictions of N-fold cross-validation */
    const char *footer;          /* small print at the bottom (may be NULL) */
    const ReportComparison *comparisons; /* paired tests, shown under the results table; */
    int n_comparisons;                   /* none: no table */
} ReportData;

/* Render to a malloc'd NUL-terminated string (caller frees); never fails on odd data. */
char *report_render_html(const ReportData *d);
/* Render and write atomically; returns 0 or -1 (kres_fail with the path). */
int report_write_html(const char *path, const ReportData *d);

#endif
