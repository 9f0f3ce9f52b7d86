/* cmd_finetune.c — 'kres finetune': a pretrained encoder plus a new head, every layer trained.
 *
 *   kres finetune --encoder E --data DIR --out MODEL.safetensors [options]
 *
 * The loop is train_classifier() (src/train/trainer.h) started from the encoder via
 * finetune_prepare() (src/train/finetune.h): same split, model selection by validation AUC,
 * threshold rule and checkpoint format as 'kres train', so 'kres eval' and 'kres predict'
 * take the result. The flags it shares with 'kres train' and the printed result come from
 * arg_train_flags (args.c) and train_result_print (cmd_train.c). */
#include "cli/cli.h"
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

int cmd_finetune(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    o.argc = argc, o.argv = argv;
    o.encoder_lr_scale = FINETUNE_ENCODER_LR_SCALE;
    const char *encoder = NULL;
    int json = 0;
    ArgSpec common[ARG_TRAIN_NFLAGS + 1];
    arg_train_flags(&o, common);
    ArgSpec spec[] = {
        ARG_INCLUDE(common),
        ARG_SET("--json", &json),
        ARG_STR("--encoder", &encoder),
        ARG_FLOAT("--encoder-lr-scale", &o.encoder_lr_scale, 0, 100),
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
        if (default_log_path(o.out_path, logbuf, sizeof logbuf) != 0) return data_error();
        o.log_path = logbuf;
    }
    TrainResult r;
    if (finetune_classifier(&o, encoder, &r) != 0) {
        train_result_free(&r);
        return data_error();
    }
    train_result_print(&o, &r, json);
    train_result_free(&r);
    return KRES_EXIT_OK;
}
