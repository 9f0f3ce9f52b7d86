/* cli.h — subcommand entry points and shared argument helpers.
 * Each subcommand lives in src/cli/cmd_<name>.c and returns an exit code:
 * KRES_EXIT_OK (0), KRES_EXIT_DATA (1, bad data or runtime failure), KRES_EXIT_USAGE (2). */
#ifndef KRES_CLI_H
#define KRES_CLI_H

#include "common/util.h"

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

/* Print "kres: error: <cmd>: <msg>" plus a --help hint; returns KRES_EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "kres: error: <kres_last_error()>"; returns KRES_EXIT_DATA. */
int data_error(void);
/* Subcommand not built yet. */
int not_implemented(const char *cmd);

#endif
