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

    Kres *m = NULL;
    CkptInfo info;
    memset(&info, 0, sizeof info);
    TaskMeta tm;
    PreprocConfig pc;
    int rc = KRES_EXIT_DATA;
    if (ckpt_load(model_path, 1, &m, &info) != 0) goto model_fail;
    kres_freeze(m, 1); /* the weights stay as loaded: cached conv transforms checked once */
    if (strcmp(info.kind, "classifier") != 0) {
        kres_fail(model_path, "checkpoint kind is '%s', not a classifier (train one with 'kres train')", info.kind);
        goto model_fail;
    }
    if (task_json_parse(info.task_json, model_path, &tm) != 0) goto model_fail;
    if (!info.preprocess_json || preproc_from_json(info.preprocess_json, &pc) != 0) {
        kres_fail(model_path, "checkpoint has no valid 'preprocess' metadata");
        goto model_fail;
    }
    if (isnan(info.threshold)) {
        kres_fail(model_path, "checkpoint stores no decision threshold");
        goto model_fail;
    }
    const KresConfig *mc = kres_config(m);
    int O = mc->n_outputs;
    if (O < 1 || mc->in_len != pc.length || mc->in_leads != KRES_NLEADS || (tm.multilabel && O != tm.ncodes)) {
        kres_fail(model_path, "model (%d outputs, input %d x %d) does not match its task/preprocessing metadata", O,
                  mc->in_leads, mc->in_len);
        goto model_fail;
    }

    float thr = (float)info.threshold;
    float *x = xmalloc((size_t)KRES_NLEADS * pc.length * sizeof(float));
    float *probs = xmalloc((size_t)O * sizeof(float));
    int nfail = 0;
    JsonWriter w;
    jw_init(&w);
    if (fmt == OUT_JSON) {
        jw_object_begin(&w);
        jw_key(&w, "model"), jw_string(&w, model_path);
        jw_key(&w, "task"), jw_string(&w, tm.name);
        jw_key(&w, "threshold"), jw_number(&w, info.threshold);
        jw_key(&w, "records");
        jw_array_begin(&w);
    } else if (fmt == OUT_CSV) {
        printf("record,probability,positive");
        if (tm.multilabel)
            for (int j = 0; j < O; j++) printf(",p_%s", tm.codes[j]);
        printf("\n");
    } else {
        printf("model %s: p(%s), positive if >= %.4g\n", model_path, tm.name, (double)thr);
    }
    for (int k = 0; k < nrec; k++) {
        const char *rec = recs[k];
        /* One record at a time: a bad record affects only its own line. */
        if (preprocess_file(rec, &pc, x) != 0) {
            nfail++;
            fprintf(stderr, "kres: error: %s\n", kres_last_error());
            if (fmt == OUT_JSON) {
                jw_object_begin(&w);
                jw_key(&w, "record"), jw_string(&w, rec);
                jw_key(&w, "error"), jw_string(&w, kres_last_error());
                jw_object_end(&w);
            }
            continue;
        }
        kres_forward(m, x, 1, 0, NULL);
        const float *lg = kres_logits(m);
        for (int j = 0; j < O; j++) probs[j] = sigmoid_stable(lg[j]);
        float p = classifier_score(lg, O);
        int pos = p >= thr;
        if (fmt == OUT_JSON) {
            jw_object_begin(&w);
            jw_key(&w, "record"), jw_string(&w, rec);
            jw_key(&w, "probability"), jw_number(&w, p);
            jw_key(&w, "positive"), jw_bool(&w, pos);
            if (tm.multilabel) {
                jw_key(&w, "codes");
                jw_object_begin(&w);
                for (int j = 0; j < O; j++) jw_key(&w, tm.codes[j]), jw_number(&w, probs[j]);
                jw_object_end(&w);
            }
            jw_object_end(&w);
        } else if (fmt == OUT_CSV) {
            printf("%s,%.6f,%d", rec, (double)p, pos);
            if (tm.multilabel)
                for (int j = 0; j < O; j++) printf(",%.6f", (double)probs[j]);
            printf("\n");
        } else {
            printf("%-40s %.4f  %s", rec, (double)p, pos ? "POSITIVE" : "negative");
            if (tm.multilabel)
                for (int j = 0; j < O; j++) printf("  %s %.3f", tm.codes[j], (double)probs[j]);
            printf("\n");
        }
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
    rc = nfail ? KRES_EXIT_DATA : KRES_EXIT_OK;
    goto done;
model_fail:
    rc = data_error();
done:
    if (m) kres_free(m);
    ckpt_info_free(&info);
    record_list_free(&rs);
    return rc;
}
