/* experiment_internal.h — what the two halves of `kres experiment` share: experiment.c
 * trains the runs and writes their files; experiment_report.c rebuilds results.json,
 * results.md and report.html from those files alone. Not part of the library's API. */
#ifndef KRES_TRAIN_EXPERIMENT_INTERNAL_H
#define KRES_TRAIN_EXPERIMENT_INTERNAL_H

#include "common/json.h"
#include "data/ptbxl.h"
#include "train/experiment.h"

#define EXP_PATHN 4096

/* snprintf into an EXP_PATHN buffer; a truncated path is an error (kres_fail), never a
 * silently wrong file. */
int exp_pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int exp_file_exists(const char *path);
/* A whole JSON file, parsed; NULL with kres_fail naming the file. */
JsonValue *exp_json_read(const char *path);
/* The writer's object plus a newline, written atomically. */
int exp_json_write(const char *path, const JsonWriter *w);
/* obj[key] as a number; NaN when absent or null (jw_number writes NaN as null). */
double exp_jnum(const JsonValue *obj, const char *key);
/* The settings experiment.json pins, as one JSON object (results.json repeats them). */
void exp_write_settings(JsonWriter *w, const ExperimentOptions *o);

/* A run's scores.csv: "ecg_id,fold,label,score", one row per test ECG. */
typedef struct {
    int n, cap;
    int *ecg_id, *fold, *label;
    float *score;
    float *thr;   /* the threshold each record is decided at (its round's) */
} Scores;

void exp_scores_free(Scores *s);
/* Read a scores file the experiment wrote; every row's thr is set to `thr`. */
int exp_scores_read(const char *path, float thr, Scores *s);

/* Everything the reports need besides the run directory's files. */
typedef struct {
    const ExperimentOptions *o;
    const Task *task;
    const Cohort *coh;                    /* the task's cohort, as the runs built it */
    int n_encoders;                       /* one, or one per CV round */
    const char (*encoder)[EXP_PATHN];     /* encoder[k]: path of encoder k's safetensors */
} ExpReportInput;

/* results.json, results.md and report.html of o->out_dir from its runs' result.json and
 * scores.csv (finished runs only; missing cells are n/a). 0, or -1 with kres_fail. */
int exp_write_reports(const ExpReportInput *in);

#endif
