/* cmd_finetune.c — 'kres finetune': a pretrained encoder plus a new head, every layer trained.
 *
 *   kres finetune --encoder E --data DIR --out MODEL.safetensors [options]
 *
 * The loop is train_classifier() (src/train/trainer.h) started from the encoder via
 * finetune_prepare() (src/train/finetune.h): same split, model selection by validation AUC,
 * threshold rule and checkpoint format as 'kres train', so 'kres eval' and 'kres predict'
 * take the result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "eval/metrics.h"
#include "train/finetune.h"

static const char *CMD = "finetune";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres finetune --encoder E --data PTBXL_DIR --out MODEL.safetensors [options]\n\n"
            "Fine-tune a pretrained KRes encoder (from 'kres pretrain', or any KRes checkpoint) for\n"
            "a PTB-XL task: the encoder's weights and batch-norm statistics are copied, a new head is\n"
            "initialised, and ALL layers are trained, the encoder at a lower learning rate\n"
            "(lr x --encoder-lr-scale, default 0.1). The architecture and the preprocessing come from\n"
            "the encoder file. Split, model selection (best validation AUC), threshold rule and the\n"
            "output checkpoint are those of 'kres train': folds 1-8 train, fold 9 validation, fold 10\n"
            "held out for 'kres eval --model'.\n\n"
            "required:\n"
            "  --encoder E           pretrained checkpoint (kind encoder, classifier or probe)\n"
            "  --data DIR            PTB-XL directory\n"
            "  --out FILE            classifier checkpoint to write (atomically)\n"
            "data:\n"
            "  --task T              heart-block (default) | avb | bbb | fascicular | cd | codes\n"
            "  --protocol P          paper (default): positives vs NORM-only; all: vs every other record\n"
            "  --rate R              100 (default) or 500: which PTB-XL files are read\n"
            "  --label-fraction F    train on a stratified fraction (0, 1] of the training folds (default 1)\n"
            "  --subset-seed S       seed of that subset (default 1)\n"
            "  --val-fold K          validation fold (default 9)\n"
            "  --test-fold K         held-out fold (default 10; 0 = none)\n"
            "  --augment             light augmentation (amplitude, shift, noise) of training batches\n"
            "optimisation:\n"
            "  --encoder-lr-scale X  encoder learning rate = lr * X (default 0.1; 1 = same as the head,\n"
            "                        0 = encoder frozen apart from its batch-norm statistics)\n"
            "  --epochs N            default 20\n"
            "  --batch N             default 64\n"
            "  --lr X                peak AdamW learning rate of the head (default 0.001)\n"
            "  --weight-decay X      decoupled weight decay (default 0.01; not on biases/BN)\n"
            "  --seed S              head weights, shuffling, dropout (default 1)\n"
            "  --threads N           OpenMP threads (same seed and threads => same bits)\n"
            "  --threshold-rule R    youden (default) | sens=X | spec=X | fixed=X, on the validation fold\n"
            "output:\n"
            "  --log FILE            JSON-lines training log (default <out>.log.jsonl)\n"
            "  --json                print the result as one JSON object on stdout\n"
            "  --quiet               no progress bar or per-epoch lines on stderr\n\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error\n"
            "see docs/experiment.md\n");
}

static void print_result(const TrainOptions *o, const TrainResult *r, int json) {
    if (json) {
        JsonWriter w;
        jw_init(&w);
        jw_object_begin(&w);
        jw_key(&w, "encoder"), jw_string(&w, o->init_encoder);
        jw_key(&w, "encoder_lr_scale"), jw_number(&w, o->encoder_lr_scale);
        jw_key(&w, "task"), jw_string(&w, o->task);
        jw_key(&w, "label_fraction"), jw_number(&w, o->label_fraction);
        jw_key(&w, "epochs"), jw_int(&w, r->epochs_run);
        jw_key(&w, "best_epoch"), jw_int(&w, r->best_epoch);
        jw_key(&w, "best_val_auc"), jw_number(&w, r->best_val_auc);
        jw_key(&w, "threshold"), jw_number(&w, r->threshold);
        jw_key(&w, "threshold_rule"), jw_string(&w, r->threshold_rule);
        jw_key(&w, "ntrain"), jw_int(&w, r->ntrain);
        jw_key(&w, "ntrain_pos"), jw_int(&w, r->ntrain_pos);
        jw_key(&w, "nval"), jw_int(&w, r->nval);
        jw_key(&w, "nval_pos"), jw_int(&w, r->nval_pos);
        jw_key(&w, "ntest"), jw_int(&w, r->ntest);
        jw_key(&w, "train_samples_per_s"), jw_number(&w, r->train_samples_per_s);
        jw_key(&w, "total_seconds"), jw_number(&w, r->total_seconds);
        jw_key(&w, "checkpoint"), jw_string(&w, o->out_path);
        jw_object_end(&w);
        printf("%.*s\n", (int)w.len, w.buf);
        jw_free(&w);
        return;
    }
    printf("fine-tuned   %s from %s (encoder lr x %g), %d epochs, best epoch %d\n", o->task,
           o->init_encoder, (double)o->encoder_lr_scale, r->epochs_run, r->best_epoch);
    printf("records      train %d (%d positive), validation %d (%d positive), test fold %d: %d\n",
           r->ntrain, r->ntrain_pos, r->nval, r->nval_pos, o->test_fold, r->ntest);
    if (isnan(r->best_val_auc)) printf("val AUC      n/a (validation fold has one class)\n");
    else printf("val AUC      %.4f (fold %d, best epoch; optimistic: it chose the epoch)\n", r->best_val_auc, o->val_fold);
    printf("threshold    %.6g (%s)\n", r->threshold, r->threshold_rule);
    printf("speed        %.1f ECG/s training, %.1f s in all\n", r->train_samples_per_s, r->total_seconds);
    printf("checkpoint   %s\n", o->out_path);
    if (o->log_path) printf("log          %s\n", o->log_path);
}

int cmd_finetune(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    o.argc = argc, o.argv = argv;
    o.encoder_lr_scale = FINETUNE_ENCODER_LR_SCALE;
    const char *encoder = NULL;
    int json = 0;
    ArgSpec spec[] = {
        ARG_SET("--quiet", &o.quiet),
        ARG_SET("--json", &json),
        ARG_SET("--augment", &o.augment),
        ARG_STR("--encoder", &encoder),
        ARG_STR("--data", &o.data_dir),
        ARG_STR("--task", &o.task),
        ARG_STR("--out", &o.out_path),
        ARG_STR("--log", &o.log_path),
        ARG_PROTOCOL("--protocol", &o.protocol),
        ARG_RATE("--rate", &o.rate),
        ARG_DOUBLE("--label-fraction", &o.label_fraction, 1e-9, 1),
        ARG_SEED("--subset-seed", &o.subset_seed),
        ARG_INT("--val-fold", &o.val_fold, 1, 10),
        ARG_INT("--test-fold", &o.test_fold, 0, 10),
        ARG_FLOAT("--encoder-lr-scale", &o.encoder_lr_scale, 0, 100),
        ARG_INT("--epochs", &o.epochs, 1, 100000),
        ARG_INT("--batch", &o.batch, 1, 65536),
        ARG_FLOAT("--lr", &o.lr, 1e-12, 10),
        ARG_FLOAT("--weight-decay", &o.weight_decay, 0, 10),
        ARG_SEED("--seed", &o.seed),
        ARG_THREADS("--threads", &o.threads),
        ARG_RULE("--threshold-rule", &o.threshold_rule),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    if (!encoder) return usage_error(CMD, "--encoder E is required");
    if (!o.data_dir) return usage_error(CMD, "--data PTBXL_DIR is required");
    if (!o.out_path) return usage_error(CMD, "--out MODEL.safetensors is required");
    if (o.val_fold == o.test_fold) return usage_error(CMD, "--val-fold and --test-fold must differ");
    char logbuf[4096];
    if (!o.log_path) { /* no --log */
        snprintf(logbuf, sizeof logbuf, "%s.log.jsonl", o.out_path);
        o.log_path = logbuf;
    }
    TrainResult r;
    if (finetune_classifier(&o, encoder, &r) != 0) {
        train_result_free(&r);
        return data_error();
    }
    print_result(&o, &r, json);
    train_result_free(&r);
    return KRES_EXIT_OK;
}
