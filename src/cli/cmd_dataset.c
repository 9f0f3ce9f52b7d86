/* cmd_dataset.c — 'kres dataset': summarise a PTB-XL tree for a task and protocol.
 *
 *   kres dataset PTBXL_DIR [--task T] [--protocol paper|all] [--rate 100|500]
 *                [--min-likelihood X] [--json]
 *
 * Reads both CSVs, builds the cohort with check_files = 2 (every WFDB header is parsed, so a
 * record that would fail during training is reported here), and prints rows read, skips by
 * reason, positives/negatives per fold, per-code counts and the task definition. Timing and
 * peak memory go to stderr so that stdout (text or JSON) is reproducible. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "data/ptbxl.h"

static const char *CMD = "dataset";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres dataset PTBXL_DIR [options]\n\n"
            "Summarise a PTB-XL folder (ptbxl_database.csv, scp_statements.csv, records100/500):\n"
            "records read, rows skipped and why, positives/negatives per fold, per-code counts.\n"
            "Every record's WFDB header is read to make sure it parses.\n\n"
            "options:\n"
            "  --task T             heart-block (default) | avb | bbb | fascicular | cd |\n"
            "                       comma-separated SCP codes, e.g. 1AVB,LAFB\n"
            "  --protocol P         paper (default): positives vs NORM-only records;\n"
            "                       all: positives vs every other record\n"
            "  --rate R             100 (default, filename_lr) or 500 (filename_hr)\n"
            "  --min-likelihood X   a code counts if its likelihood >= X (0..100, default 0 = any)\n"
            "  --json               one JSON object instead of the text summary\n\n"
            "Read throughput and peak memory are printed on stderr.\n"
            "exit codes: 0 ok, 1 missing/bad directory or CSV, 2 usage error\n"
            "see docs/labels.md\n");
}

static const char *split_name(int fold) { return fold <= 8 ? "train" : fold == 9 ? "validation" : "test"; }

static void print_text(const PtbxlDb *db, const Task *t, const CohortOptions *o, const Cohort *c) {
    printf("PTB-XL directory   %s\n", db->dir);
    printf("rows read          %d (ptbxl_database.csv), %d SCP statements\n", db->nrows, db->nstatements);
    printf("task               %s: %s\n", t->name, t->description);
    printf("  codes           ");
    for (int j = 0; j < t->ncodes; j++) printf(" %s", t->codes[j]);
    printf("\n");
    printf("protocol           %s (%s)\n", protocol_name(o->protocol),
           o->protocol == PROTOCOL_PAPER ? "positives vs NORM-only records" : "positives vs every other record");
    printf("rate               %d Hz (%s)\n", o->rate, o->rate == 100 ? "filename_lr" : "filename_hr");
    if (o->min_likelihood > 0) printf("min likelihood     %g\n", o->min_likelihood);
    else printf("min likelihood     0 (any likelihood counts)\n");
    printf("cohort             %d records: %d positive, %d negative\n", c->n, c->npos, c->nneg);
    printf("skipped            %d\n", c->nskipped);
    for (int r = 0; r < PTBXL_SKIP_NREASONS; r++) {
        printf("  %-17s %d", ptbxl_skip_reason_name((PtbxlSkipReason)r), c->nskip_reason[r]);
        int shown = 0;
        for (int i = 0; i < c->nskipped && shown < 12; i++)
            if ((int)c->skipped[i].reason == r) printf("%s%d", shown++ ? " " : "  ecg_id ", c->skipped[i].ecg_id);
        if (c->nskip_reason[r] > shown && shown) printf(" ...");
        printf("\n");
    }
    /* One example message per bad record kind is enough to act on. */
    int details = 0;
    for (int i = 0; i < c->nskipped && details < 5; i++)
        if (c->skipped[i].reason == PTBXL_SKIP_BAD_RECORD) printf("    %s\n", c->skipped[i].detail), details++;
    if (o->protocol == PROTOCOL_PAPER) printf("left out           %d (negative but not NORM-only)\n", c->n_excluded);
    if (c->n_uncertain) printf("left out           %d (task code only below min likelihood)\n", c->n_uncertain);
    printf("\nfold  split       positive  negative  total\n");
    for (int f = 1; f <= PTBXL_NFOLDS; f++)
        printf("%4d  %-10s  %8d  %8d  %5d\n", f, split_name(f), c->pos_fold[f], c->neg_fold[f],
               c->pos_fold[f] + c->neg_fold[f]);
    printf("%4s  %-10s  %8d  %8d  %5d\n", "all", "", c->npos, c->nneg, c->n);
    printf("\ncode     positives  class  description\n");
    for (int j = 0; j < t->ncodes; j++) {
        const PtbxlStatement *st = ptbxl_statement(db, t->codes[j]);
        printf("%-8s %9d  %-5s  %s\n", t->codes[j], c->code_count[j],
               st && st->diagnostic_class[0] ? st->diagnostic_class : "-", st ? st->description : "");
    }
}

static void print_json(const PtbxlDb *db, const Task *t, const CohortOptions *o, const Cohort *c) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "dir"), jw_string(&w, db->dir);
    jw_key(&w, "rows"), jw_int(&w, db->nrows);
    jw_key(&w, "statements"), jw_int(&w, db->nstatements);
    jw_key(&w, "task");
    jw_object_begin(&w);
    jw_key(&w, "name"), jw_string(&w, t->name);
    jw_key(&w, "description"), jw_string(&w, t->description);
    jw_key(&w, "codes");
    jw_array_begin(&w);
    for (int j = 0; j < t->ncodes; j++) jw_string(&w, t->codes[j]);
    jw_array_end(&w);
    jw_object_end(&w);
    jw_key(&w, "protocol"), jw_string(&w, protocol_name(o->protocol));
    jw_key(&w, "rate"), jw_int(&w, o->rate);
    jw_key(&w, "min_likelihood"), jw_number(&w, o->min_likelihood);
    jw_key(&w, "records"), jw_int(&w, c->n);
    jw_key(&w, "positives"), jw_int(&w, c->npos);
    jw_key(&w, "negatives"), jw_int(&w, c->nneg);
    jw_key(&w, "excluded_by_protocol"), jw_int(&w, c->n_excluded);
    jw_key(&w, "uncertain"), jw_int(&w, c->n_uncertain);
    jw_key(&w, "skipped_total"), jw_int(&w, c->nskipped);
    jw_key(&w, "skipped_by_reason");
    jw_object_begin(&w);
    for (int r = 0; r < PTBXL_SKIP_NREASONS; r++)
        jw_key(&w, ptbxl_skip_reason_name((PtbxlSkipReason)r)), jw_int(&w, c->nskip_reason[r]);
    jw_object_end(&w);
    jw_key(&w, "skipped");
    jw_array_begin(&w);
    for (int i = 0; i < c->nskipped; i++) {
        jw_object_begin(&w);
        jw_key(&w, "ecg_id"), jw_int(&w, c->skipped[i].ecg_id);
        jw_key(&w, "reason"), jw_string(&w, ptbxl_skip_reason_name(c->skipped[i].reason));
        if (c->skipped[i].detail[0]) jw_key(&w, "detail"), jw_string(&w, c->skipped[i].detail);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "folds");
    jw_array_begin(&w);
    for (int f = 1; f <= PTBXL_NFOLDS; f++) {
        jw_object_begin(&w);
        jw_key(&w, "fold"), jw_int(&w, f);
        jw_key(&w, "split"), jw_string(&w, split_name(f));
        jw_key(&w, "positives"), jw_int(&w, c->pos_fold[f]);
        jw_key(&w, "negatives"), jw_int(&w, c->neg_fold[f]);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "codes");
    jw_object_begin(&w);
    for (int j = 0; j < t->ncodes; j++) jw_key(&w, t->codes[j]), jw_int(&w, c->code_count[j]);
    jw_object_end(&w);
    jw_object_end(&w);
    fwrite(w.buf, 1, w.len, stdout);
    fputc('\n', stdout);
    jw_free(&w);
}

int cmd_dataset(int argc, char **argv) {
    const char *task_spec = "heart-block";
    CohortOptions o = cohort_options_default();
    o.check_files = 2;
    int json = 0;
    ArgSingle one = {"PTBXL_DIR", NULL};
    ArgSpec spec[] = {
        ARG_SET("--json", &json),
        ARG_STR("--task", &task_spec),
        ARG_PROTOCOL("--protocol", &o.protocol),
        ARG_RATE("--rate", &o.rate),
        ARG_DOUBLE("--min-likelihood", &o.min_likelihood, 0, 100),
        ARG_ARGS(arg_single, &one),
        ARG_END,
    };
    int prc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (prc != ARG_CONTINUE) return prc;
    const char *dir = one.value;
    if (!dir) return usage_error(CMD, "missing PTBXL_DIR");

    double t0 = now_seconds();
    PtbxlDb db;
    if (ptbxl_open(dir, &db) != 0) return data_error();
    Task t;
    if (task_parse(task_spec, &db, &t) != 0) {
        ptbxl_close(&db);
        if (task_is_named(task_spec)) return data_error(); /* the file lacks the task's codes */
        return usage_error(CMD, "--task: %s", kres_last_error());
    }
    Cohort c;
    if (cohort_build(&db, &t, o, &c) != 0) {
        ptbxl_close(&db);
        return data_error();
    }
    double dt = now_seconds() - t0;
    if (json) print_json(&db, &t, &o, &c);
    else print_text(&db, &t, &o, &c);
    fflush(stdout);
    if (c.n == 0)
        fprintf(stderr, "kres: warning: dataset: no usable records at %d Hz (%d skipped for missing files)\n",
                o.rate, c.nskip_reason[PTBXL_SKIP_MISSING_FILES]);
    /* Headers read = kept records + bad ones (excluded rows are never opened). */
    int opened = c.n + c.nskip_reason[PTBXL_SKIP_BAD_RECORD];
    fprintf(stderr, "kres: dataset: read %d rows and %d WFDB headers in %.3f s (%.0f records/s); peak RSS %.1f MiB\n",
            db.nrows, opened, dt, dt > 0 ? db.nrows / dt : 0.0, peak_rss_kib() / 1024.0);
    cohort_free(&c);
    ptbxl_close(&db);
    return KRES_EXIT_OK;
}
