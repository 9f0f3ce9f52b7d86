/* cmd_pretrain.c — 'kres pretrain': contrastive (NT-Xent) pretraining of the KRes encoder.
 * Parses flags into PretrainOptions and calls pretrain_run (src/train/pretrain.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "train/pretrain.h"

static const char *CMD = "pretrain";

static void print_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres pretrain --data DIR [DIR...] --out ENCODER.safetensors [options]\n\n"
            "Self-supervised contrastive pretraining (SimCLR NT-Xent loss through a projection\n"
            "head) of the KRes encoder on unlabelled ECGs. Labels are never read.\n\n"
            "input:\n"
            "  --data DIR...        PTB-XL trees (with ptbxl_database.csv) and/or directories of\n"
            "                       WFDB records (*.hea, searched recursively); repeatable\n"
            "  --rate 100|500       which PTB-XL files to read (default 100); every record is\n"
            "                       resampled to the model rate by the preprocessing\n"
            "  --exclude-folds L    PTB-XL strat_folds never used, e.g. 9,10 (default) or none;\n"
            "                       when a PTB-XL tree is given, plain records named like one of\n"
            "                       its holdout ECGs or a v1.0.3 duplicate (NNNNN_lr/_hr) are\n"
            "                       dropped too\n"
            "  --limit N            use only the first N ECGs found\n"
            "pairs and views:\n"
            "  --pairs MODE         augment (SimCLR, default) | segments (CLOCS: two adjacent\n"
            "                       halves of the window) | patient (PCLR: two ECGs of a patient)\n"
            "  --no-augment         no augmentations (segments/patient pairs only differ by data)\n"
            "optimisation:\n"
            "  --epochs N           default 10\n"
            "  --batch N            ECGs per step, each giving two views (default 32 = 64 views)\n"
            "  --temperature T      NT-Xent temperature (default 0.1)\n"
            "  --lr X               AdamW peak learning rate (default 1e-3), warm-up + cosine\n"
            "  --weight-decay X     default 1e-4 (not on BN parameters and biases)\n"
            "  --warmup F           warm-up fraction of all steps (default 0.05)\n"
            "  --clip X             global gradient-norm clip (default 1, 0 = off)\n"
            "  --seed S             default 1\n"
            "  --threads N          OpenMP threads (default: all; results depend on it)\n"
            "  --model-config FILE  KRes config JSON (as in checkpoints; default the paper's KRes)\n"
            "  --preprocess FILE    preprocessing JSON (default 100 Hz, 1024 samples)\n"
            "  --cache-mb N         cache of preprocessed records (default 256)\n"
            "checkpoints and logs:\n"
            "  --out FILE           the encoder (kind 'encoder'); the optimiser state goes to\n"
            "                       FILE.state.safetensors\n"
            "  --checkpoint-every N also checkpoint every N steps (default: every epoch end)\n"
            "  --resume             continue the run from FILE.state.safetensors\n"
            "  --max-steps N        stop after global step N (with a checkpoint); --resume later\n"
            "  --log FILE           JSON-lines log (default FILE.log.jsonl next to --out)\n"
            "  --log-every N        a step line every N steps (default 10; epoch lines always)\n"
            "  --quiet              no progress bar or messages\n\n"
            "exit codes: 0 ok, 1 data or runtime error, 2 usage error; see docs/pretraining.md\n");
}

/* "9,10" -> bits 9 and 10; "none" -> 0. */
static int parse_folds(const char *v, unsigned *out) {
    *out = 0;
    if (strcmp(v, "none") == 0) return 0;
    const char *p = v;
    while (*p) {
        char *end;
        long k = strtol(p, &end, 10);
        if (end == p || k < 1 || k > 10 || (*end && *end != ',')) return -1;
        *out |= 1u << k;
        p = *end ? end + 1 : end;
        if (*end && !*p) return -1;
    }
    return 0;
}

/* ---- the flags with their own parsers (ArgFn; dst is the PretrainOptions) ---- */

static int flag_data(const char *cmd, const char *flag, const char *v, void *dst) {
    PretrainOptions *o = dst;
    return arg_append(cmd, "data directories", o->dirs, &o->ndirs, PRETRAIN_MAX_DIRS, v);
}

static int flag_exclude_folds(const char *cmd, const char *flag, const char *v, void *dst) {
    PretrainOptions *o = dst;
    if (parse_folds(v, &o->exclude_folds) == 0) return 0;
    usage_error(cmd, "--exclude-folds must be 'none' or a comma list of folds 1..10, got '%s'", v);
    return -1;
}

static int flag_pairs(const char *cmd, const char *flag, const char *v, void *dst) {
    PretrainOptions *o = dst;
    if (pair_mode_parse(v, &o->pairs) == 0) return 0;
    usage_error(cmd, "--pairs: %s", kres_last_error());
    return -1;
}

static int flag_no_augment(const char *cmd, const char *flag, const char *v, void *dst) {
    augment_none(&((PretrainOptions *)dst)->augment);
    return 0;
}

int cmd_pretrain(int argc, char **argv) {
    PretrainOptions o;
    pretrain_options_default(&o);
    o.argc = argc;
    o.argv = argv;
    const char *model_config = NULL, *preprocess = NULL;
    ArgSpec spec[] = {
        ARG_SET("--quiet", &o.quiet),
        ARG_SET("--resume", &o.resume),
        ARG_CALL("--no-augment", flag_no_augment, &o),
        /* One --data may be followed by several directories. */
        ARG_FUNC_MANY("--data", flag_data, &o),
        ARG_STR("--out", &o.out_path),
        ARG_STR("--log", &o.log_path),
        ARG_FUNC("--pairs", flag_pairs, &o),
        ARG_INT("--epochs", &o.epochs, 1, 100000),
        ARG_INT("--batch", &o.batch, 2, 65536),
        ARG_DOUBLE("--temperature", &o.temperature, 1e-4, 100),
        ARG_DOUBLE("--lr", &o.lr, 1e-12, 10),
        ARG_DOUBLE("--weight-decay", &o.weight_decay, 0, 10),
        ARG_DOUBLE("--warmup", &o.warmup_frac, 0, 0.99),
        ARG_DOUBLE("--clip", &o.clip, 0, 1e9),
        ARG_SEED("--seed", &o.seed),
        ARG_THREADS("--threads", &o.threads),
        ARG_FUNC("--exclude-folds", flag_exclude_folds, &o),
        ARG_RATE("--rate", &o.rate),
        ARG_LONG("--checkpoint-every", &o.checkpoint_every, 0, 1L << 40),
        ARG_INT("--log-every", &o.log_every, 1, 1 << 30),
        ARG_LONG("--max-steps", &o.max_steps, 1, 1L << 40),
        ARG_INT("--limit", &o.limit, 1, 1 << 30),
        ARG_CACHE_MB("--cache-mb", &o.cache_bytes),
        ARG_STR("--model-config", &model_config),
        ARG_STR("--preprocess", &preprocess),
        ARG_END,
    };
    int rc = arg_parse(CMD, argc, argv, spec, print_usage);
    if (rc != ARG_CONTINUE) return rc;
    if (o.ndirs == 0) return usage_error(CMD, "--data DIR is required");
    if (!o.out_path) return usage_error(CMD, "--out ENCODER.safetensors is required");
    if (model_config && load_model_config(model_config, &o.model) != 0) return data_error();
    if (preprocess && load_preprocess_config(preprocess, &o.preprocess) != 0) return data_error();
    if (model_config) {
        /* A classifier config may come without a projection head: pretraining needs one. */
        if (o.model.proj_hidden <= 0) o.model.proj_hidden = kres_embed_dim(&o.model);
        if (o.model.proj_dim <= 0) o.model.proj_dim = 128;
        o.model.n_outputs = 0;
    }
    char logbuf[4096];
    if (!o.log_path) { /* no --log */
        if (default_log_path(o.out_path, logbuf, sizeof logbuf) != 0) return data_error();
        o.log_path = logbuf;
    }
    PretrainResult r;
    if (pretrain_run(&o, &r) != 0) {
        pretrain_result_free(&r);
        return data_error();
    }
    printf("pretrained   %d ECGs (%d PTB-XL, %d plain; %d excluded by fold), pairs %s\n", r.corpus.n,
           r.corpus.n_ptbxl, r.corpus.n_plain, r.corpus.n_excluded, pair_mode_name(o.pairs));
    printf("steps        %ld of %ld (%ld per epoch)%s\n", r.end_step, r.total_steps, r.steps_per_epoch,
           r.completed ? "" : ", not finished: continue with --resume");
    if (r.end_step > r.start_step) {
        if (isnan(r.last_loss)) printf("last epoch   none finished in this run (--max-steps before the epoch's end)\n");
        else printf("last epoch   loss %.4f, positive-pair accuracy %.3f\n", r.last_loss, r.last_accuracy);
    }
    printf("speed        %.1f ECGs/s (%.1f views/s), %.1f s\n", r.samples_per_s, 2 * r.samples_per_s, r.seconds);
    printf("encoder      %s\n", o.out_path);
    printf("log          %s\n", o.log_path);
    pretrain_result_free(&r);
    return KRES_EXIT_OK;
}
