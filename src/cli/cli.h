/* cli.h — subcommand entry points and shared argument helpers.
 * Each subcommand lives in src/cli/cmd_<name>.c and returns an exit code:
 * KRES_EXIT_OK (0), KRES_EXIT_DATA (1, bad data or runtime failure), KRES_EXIT_USAGE (2). */
#ifndef KRES_CLI_H
#define KRES_CLI_H

#include <stdint.h>

#include "common/util.h"
#include "data/preprocess.h"
#include "data/ptbxl.h"
#include "nn/kres.h"

int cmd_info(int argc, char **argv);
int cmd_samples(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_pretrain(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_experiment(int argc, char **argv);

/* argv[0] of a subcommand is its name ("train"). */
int arg_is(const char *arg, const char *flag);
int arg_is_help(const char *arg);
/* Take the value following flag argv[*i]; prints a usage error and returns NULL if missing. */
const char *arg_value(int argc, char **argv, int *i, const char *cmd);
/* Parse numbers for flag; on failure print a usage error and return -1. */
int arg_int(const char *cmd, const char *flag, const char *v, long lo, long hi, int *out);
int arg_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out);
int arg_double(const char *cmd, const char *flag, const char *v, double lo, double hi, double *out);

/* Flags several commands share, parsed (and worded) the same way everywhere. Each returns 0,
 * or -1 after printing a usage error (the caller then exits KRES_EXIT_USAGE). */
int arg_rate(const char *cmd, const char *v, int *out);                     /* --rate 100|500 */
int arg_seed(const char *cmd, const char *flag, const char *v, uint64_t *out); /* 0..LONG_MAX */
int arg_threads(const char *cmd, const char *flag, const char *v, int *out);  /* 1..1024 */
int arg_protocol(const char *cmd, const char *v, CohortProtocol *out);       /* paper|all */
int arg_threshold_rule(const char *cmd, const char *v);   /* validates; callers keep the string */
int arg_cache_mb(const char *cmd, const char *flag, const char *v, size_t *bytes); /* MiB -> bytes */

/* --model-config / --preprocess files: read and parse; -1 with kres_fail naming the file. */
int load_model_config(const char *path, KresConfig *c);
int load_preprocess_config(const char *path, PreprocConfig *c);
/* The default --log of a run writing out: "<out>.log.jsonl" into buf; -1 (kres_fail) if too long. */
int default_log_path(const char *out, char *buf, size_t n);
/* A RECORD argument as WFDB tools take it: a trailing ".hea" or ".dat" dropped (malloc'd). */
char *record_arg(const char *arg);

/* Print "kres: error: <cmd>: <msg>" plus a --help hint; returns KRES_EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "kres: error: <kres_last_error()>"; returns KRES_EXIT_DATA. */
int data_error(void);
/* Subcommand not built yet. */
int not_implemented(const char *cmd);

#endif
