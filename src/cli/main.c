/* main.c — the kres command-line entry: dispatch to a subcommand. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "nn/conv1d.h"
#include "nn/conv1d_dnnl.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"info", cmd_info, "header facts of a WFDB record"},
    {"samples", cmd_samples, "samples of a WFDB record as CSV (like rdsamp)"},
    {"dataset", cmd_dataset, "summarise a PTB-XL tree: records, labels, folds"},
    {"model", cmd_model, "print the KRes layer table, parameters and MACs"},
    {"train", cmd_train, "train a supervised KRes classifier from scratch"},
    {"eval", cmd_eval, "evaluate a model (or a scores CSV) on a holdout"},
    {"predict", cmd_predict, "heart-block probability for WFDB records"},
    {"pretrain", cmd_pretrain, "self-supervised contrastive pretraining of the encoder"},
    {"finetune", cmd_finetune, "fine-tune a pretrained encoder with a new head"},
    {"probe", cmd_probe, "linear probe (logistic regression) on frozen embeddings"},
    {"embed", cmd_embed, "write encoder embeddings for records (CSV or NPY)"},
    {"experiment", cmd_experiment, "the paper's experiment: three pipelines x label fractions"},
};
static const int NCOMMANDS = (int)(sizeof COMMANDS / sizeof COMMANDS[0]);

static void print_help(FILE *fp) {
    fprintf(fp,
            "kres — self-supervised ECG representations and heart-block detection\n\n"
            "usage: kres <command> [options]   (kres <command> --help for details)\n\n"
            "commands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(fp, "  %-11s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(fp, "\nexit codes: 0 success, 1 data or runtime error, 2 usage error\n");
}

/* Compute backend and precision for every subcommand, from the environment so that all
 * commands (train, pretrain, eval, ...) share one switch:
 *   KRES_BACKEND   = dnnl (default: oneDNN + FFT convolutions) | fast (im2col + OpenBLAS) | ref
 *   KRES_PRECISION = fp32 (default) | bf16 | auto (bf16 where the CPU has native bf16)
 * bf16 on a CPU without AVX512-BF16/AMX falls back to fp32 and says so on stderr. */
static int select_compute(void) {
    const char *be = getenv("KRES_BACKEND");
    if (!be || !*be || strcmp(be, "dnnl") == 0)
        nn_set_backend(NN_BACKEND_DNNL);
    else if (strcmp(be, "fast") == 0)
        nn_set_backend(NN_BACKEND_FAST);
    else if (strcmp(be, "ref") == 0)
        nn_set_backend(NN_BACKEND_REF);
    else {
        fprintf(stderr, "kres: error: KRES_BACKEND must be dnnl, fast or ref, got '%s'\n", be);
        return -1;
    }
    const char *pr = getenv("KRES_PRECISION");
    if (!pr || !*pr || strcmp(pr, "fp32") == 0) return 0;
    if (strcmp(pr, "bf16") != 0 && strcmp(pr, "auto") != 0) {
        fprintf(stderr, "kres: error: KRES_PRECISION must be fp32, bf16 or auto, got '%s'\n", pr);
        return -1;
    }
    if (nn_get_backend() != NN_BACKEND_DNNL) {
        fprintf(stderr, "kres: note: KRES_PRECISION=%s needs KRES_BACKEND=dnnl; using fp32\n", pr);
        return 0;
    }
    NnPrecision want = strcmp(pr, "auto") == 0 ? nn_precision_auto() : NN_PREC_BF16;
    if (want == NN_PREC_BF16 && conv1d_dnnl_set_precision(NN_PREC_BF16) == 0) return 0;
    fprintf(stderr, "kres: note: no native bf16 on this CPU; using fp32\n");
    return 0;
}

int main(int argc, char **argv) {
    if (select_compute() != 0) return KRES_EXIT_USAGE;
    if (argc < 2) {
        print_help(stderr);
        return KRES_EXIT_USAGE;
    }
    if (arg_is_help(argv[1]) || arg_is(argv[1], "help")) {
        if (argc >= 3) {
            for (int i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], COMMANDS[i].name) == 0) {
                    char *sub[] = {argv[2], "--help", NULL};
                    return COMMANDS[i].fn(2, sub);
                }
        }
        print_help(stdout);
        return KRES_EXIT_OK;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "kres: error: unknown command '%s' (see 'kres help')\n", argv[1]);
    return KRES_EXIT_USAGE;
}
