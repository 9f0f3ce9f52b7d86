/* cmd_pretrain.c — 'kres pretrain': contrastive (NT-Xent) pretraining of the KRes encoder.
 * Parses flags into PretrainOptions and calls pretrain_run (src/train/pretrain.h). */
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

int cmd_pretrain(int argc, char **argv) {
    PretrainOptions o;
    pretrain_options_default(&o);
    o.argc = argc;
    o.argv = argv;
    const char *model_config = NULL, *preprocess = NULL;
    int log_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (arg_is_help(f)) {
            print_usage(stdout);
            return KRES_EXIT_OK;
        } else if (arg_is(f, "--quiet")) {
            o.quiet = 1;
        } else if (arg_is(f, "--resume")) {
            o.resume = 1;
        } else if (arg_is(f, "--no-augment")) {
            augment_none(&o.augment);
        } else if (arg_is(f, "--data")) {
            if (!(v = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
            /* One --data may be followed by several directories. */
            for (;;) {
                if (o.ndirs == PRETRAIN_MAX_DIRS) return usage_error(CMD, "at most %d data directories", PRETRAIN_MAX_DIRS);
                o.dirs[o.ndirs++] = v;
                if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) v = argv[++i];
                else break;
            }
        } else {
            /* Every other flag takes a value. */
            if (strncmp(f, "--", 2) != 0) return usage_error(CMD, "unexpected argument '%s'", f);
            if (!(v = arg_value(argc, argv, &i, CMD))) return KRES_EXIT_USAGE;
            if (arg_is(f, "--out")) {
                o.out_path = v;
            } else if (arg_is(f, "--log")) {
                o.log_path = v;
                log_given = 1;
            } else if (arg_is(f, "--pairs")) {
                if (pair_mode_parse(v, &o.pairs) != 0) return usage_error(CMD, "--pairs: %s", kres_last_error());
            } else if (arg_is(f, "--epochs")) {
                if (arg_int(CMD, f, v, 1, 100000, &o.epochs) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--batch")) {
                if (arg_int(CMD, f, v, 2, 65536, &o.batch) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--temperature")) {
                if (arg_double(CMD, f, v, 1e-4, 100, &o.temperature) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--lr")) {
                if (arg_double(CMD, f, v, 1e-12, 10, &o.lr) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--weight-decay")) {
                if (arg_double(CMD, f, v, 0, 10, &o.weight_decay) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--warmup")) {
                if (arg_double(CMD, f, v, 0, 0.99, &o.warmup_frac) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--clip")) {
                if (arg_double(CMD, f, v, 0, 1e9, &o.clip) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--seed")) {
                if (arg_seed(CMD, f, v, &o.seed) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--threads")) {
                if (arg_threads(CMD, f, v, &o.threads) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--exclude-folds")) {
                if (parse_folds(v, &o.exclude_folds) != 0)
                    return usage_error(CMD, "--exclude-folds must be 'none' or a comma list of folds 1..10, got '%s'", v);
            } else if (arg_is(f, "--rate")) {
                if (arg_rate(CMD, v, &o.rate) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--checkpoint-every")) {
                if (arg_long(CMD, f, v, 0, 1L << 40, &o.checkpoint_every) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--log-every")) {
                if (arg_int(CMD, f, v, 1, 1 << 30, &o.log_every) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--max-steps")) {
                if (arg_long(CMD, f, v, 1, 1L << 40, &o.max_steps) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--limit")) {
                if (arg_int(CMD, f, v, 1, 1 << 30, &o.limit) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--cache-mb")) {
                if (arg_cache_mb(CMD, f, v, &o.cache_bytes) != 0) return KRES_EXIT_USAGE;
            } else if (arg_is(f, "--model-config")) {
                model_config = v;
            } else if (arg_is(f, "--preprocess")) {
                preprocess = v;
            } else {
                return usage_error(CMD, "unknown option '%s'", f);
            }
        }
    }
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
    if (!log_given) {
        if (default_log_path(o.out_path, logbuf, sizeof logbuf) != 0) return data_error();
        o.log_path = logbuf;
    }
    PretrainResult r;
    int rc = pretrain_run(&o, &r);
    if (rc != 0) {
        pretrain_result_free(&r);
        return data_error();
    }
    printf("pretrained   %d ECGs (%d PTB-XL, %d plain; %d excluded by fold), pairs %s\n", r.corpus.n,
           r.corpus.n_ptbxl, r.corpus.n_plain, r.corpus.n_excluded, pair_mode_name(o.pairs));
    printf("steps        %ld of %ld (%ld per epoch)%s\n", r.end_step, r.total_steps, r.steps_per_epoch,
           r.completed ? "" : ", not finished: continue with --resume");
    if (r.end_step > r.start_step)
        printf("last epoch   loss %.4f, positive-pair accuracy %.3f\n", r.last_loss, r.last_accuracy);
    printf("speed        %.1f ECGs/s (%.1f views/s), %.1f s\n", r.samples_per_s, 2 * r.samples_per_s, r.seconds);
    printf("encoder      %s\n", o.out_path);
    printf("log          %s\n", o.log_path);
    pretrain_result_free(&r);
    return KRES_EXIT_OK;
}
