/* cmd_predict.c — 'kres predict': heart-block probability for WFDB records.
 *
 *   kres predict --model M RECORD... [--json | --csv] [--threads N]
 *
 * Each record (any sampling rate; the model's preprocessing chain resamples it) is read,
 * preprocessed and scored; the decision uses the threshold stored in the checkpoint.
 * Every record is attempted: one that cannot be used (unreadable, a lead missing) is
 * reported on stderr naming the record, the others are still printed, and the exit
 * status is 1 if any record failed. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "data/preprocess.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "train/trainer.h"

static const char *CMD = "predict";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres predict --model M RECORD... [options]\n\n"
            "Probability of the model's task (heart block for 'kres train' defaults) for each WFDB\n"
            "record, and the decision at the threshold stored in the checkpoint (positive if\n"
            "probability >= threshold). RECORD is a record name without extension, as WFDB tools\n"
            "take it (a trailing .hea or .dat is accepted); any sampling rate works, the model's\n"
            "preprocessing resamples. A per-code (--multilabel) model also gets one probability\n"
            "per SCP code.\n\n"
            "options:\n"
            "  --model M      classifier checkpoint from 'kres train' or 'kres finetune' (required)\n"
            "  --json         one JSON object: model, threshold, and one entry per record\n"
            "  --csv          CSV: record,probability,positive[,p_<code>...]\n"
            "  --threads N    OpenMP threads (default: OMP_NUM_THREADS or all cores)\n\n"
            "A record that cannot be used is reported on stderr as 'kres: error: <record>: <why>'\n"
            "(in --json also as an entry with \"error\"); the rest are still scored.\n"
            "exit codes: 0 all records scored, 1 any record (or the model) failed, 2 usage error\n"
            "see docs/training.md\n");
}

enum { OUT_TEXT, OUT_CSV, OUT_JSON };

/* --json / --csv: the last one given wins */
static int flag_format(const char *cmd, const char *flag, const char *v, void *dst) {
    (void)cmd, (void)v;
    *(int *)dst = arg_is(flag, "--json") ? OUT_JSON : OUT_CSV;
    return 0;
}

static void print_header(const Classifier *k, const char *model_path, int fmt, JsonWriter *w) {
    if (fmt == OUT_JSON) {
        jw_object_begin(w);
        jw_key(w, "model"), jw_string(w, model_path);
        jw_key(w, "task"), jw_string(w, k->tm.name);
        jw_key(w, "threshold"), jw_number(w, k->info.threshold);
        jw_key(w, "records");
        jw_array_begin(w);
    } else if (fmt == OUT_CSV) {
        printf("record,probability,positive");
        if (k->tm.multilabel)
            for (int j = 0; j < k->O; j++) printf(",p_%s", k->tm.codes[j]);
        printf("\n");
    } else {
        printf("model %s: p(%s), positive if >= %.4g\n", model_path, k->tm.name, (double)k->info.threshold);
    }
}

/* One scored record: task probability p, its decision, per-output probabilities. */
static void print_record(const Classifier *k, const char *rec, float p, const float *probs, int fmt, JsonWriter *w) {
    const int pos = p >= (float)k->info.threshold, O = k->O, ml = k->tm.multilabel;
    if (fmt == OUT_JSON) {
        jw_object_begin(w);
        jw_key(w, "record"), jw_string(w, rec);
        jw_key(w, "probability"), jw_number(w, p);
        jw_key(w, "positive"), jw_bool(w, pos);
        if (ml) {
            jw_key(w, "codes");
            jw_object_begin(w);
            for (int j = 0; j < O; j++) jw_key(w, k->tm.codes[j]), jw_number(w, probs[j]);
            jw_object_end(w);
        }
        jw_object_end(w);
    } else if (fmt == OUT_CSV) {
        printf("%s,%.6f,%d", rec, (double)p, pos);
        if (ml)
            for (int j = 0; j < O; j++) printf(",%.6f", (double)probs[j]);
        printf("\n");
    } else {
        printf("%-40s %.4f  %s", rec, (double)p, pos ? "POSITIVE" : "negative");
        if (ml)
            for (int j = 0; j < O; j++) printf("  %s %.3f", k->tm.codes[j], (double)probs[j]);
        printf("\n");
    }
}

/* A record that could not be used: stderr, and an entry with its error in --json. */
static void print_failure(const char *rec, int fmt, JsonWriter *w) {
    fprintf(stderr, "kres: error: %s\n", kres_last_error());
    if (fmt != OUT_JSON) return;
    jw_object_begin(w);
    jw_key(w, "record"), jw_string(w, rec);
    jw_key(w, "error"), jw_string(w, kres_last_error());
    jw_object_end(w);
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL;
    int fmt = OUT_TEXT, threads = 0;
    RecordList rs = {xmalloc((size_t)(argc > 0 ? argc : 1) * sizeof(char *)), 0};
    ArgSpec spec[] = {
        ARG_CALL("--json", flag_format, &fmt),
        ARG_CALL("--csv", flag_format, &fmt),
        ARG_STR("--model", &model_path),
        ARG_THREADS("--threads", &threads),
        ARG_ARGS(arg_record, &rs),
        ARG_END,
    };
    int prc = arg_parse(CMD, argc, argv, spec, print_usage);
    char **recs = rs.recs; /* record names (.hea/.dat dropped) */
    const int nrec = rs.n;
    if (prc != ARG_CONTINUE) return record_list_free(&rs), prc;
    if (!model_path) return record_list_free(&rs), usage_error(CMD, "--model M is required");
    if (nrec == 0) return record_list_free(&rs), usage_error(CMD, "give at least one RECORD");
    if (threads > 0) omp_set_num_threads(threads);

    Classifier k;
    if (classifier_open(model_path, 1, &k) != 0 ||
        (isnan(k.info.threshold) && kres_fail(model_path, "checkpoint stores no decision threshold"))) {
        classifier_close(&k);
        record_list_free(&rs);
        return data_error();
    }
    kres_freeze(k.m, 1); /* the weights stay as loaded: cached conv transforms checked once */
    float *x = xmalloc((size_t)KRES_NLEADS * k.pc.length * sizeof(float));
    float *probs = xmalloc((size_t)k.O * sizeof(float));
    int nfail = 0;
    JsonWriter w;
    jw_init(&w);
    print_header(&k, model_path, fmt, &w);
    for (int i = 0; i < nrec; i++) {
        /* One record at a time: a bad record affects only its own line. */
        if (preprocess_file(recs[i], &k.pc, x) != 0) {
            nfail++;
            print_failure(recs[i], fmt, &w);
            continue;
        }
        kres_forward(k.m, x, 1, 0, NULL);
        const float *lg = kres_logits(k.m);
        for (int j = 0; j < k.O; j++) probs[j] = sigmoid_stable(lg[j]);
        print_record(&k, recs[i], classifier_score(lg, k.O), probs, fmt, &w);
    }
    if (fmt == OUT_JSON) {
        jw_array_end(&w);
        jw_key(&w, "failed"), jw_int(&w, nfail);
        jw_object_end(&w);
        printf("%.*s\n", (int)w.len, w.buf);
    }
    jw_free(&w);
    free(x);
    free(probs);
    fflush(stdout);
    if (nfail) fprintf(stderr, "kres: error: predict: %d of %d records could not be scored\n", nfail, nrec);
    classifier_close(&k);
    record_list_free(&rs);
    return nfail ? KRES_EXIT_DATA : KRES_EXIT_OK;
}
