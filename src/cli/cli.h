/* cli.h — subcommand entry points and shared argument helpers.
 * Each subcommand lives in src/cli/cmd_<name>.c and returns an exit code:
 * KRES_EXIT_OK (0), KRES_EXIT_DATA (1, bad data or runtime failure), KRES_EXIT_USAGE (2). */
#ifndef KRES_CLI_H
#define KRES_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "common/util.h"
#include "data/preprocess.h"
#include "data/ptbxl.h"
#include "nn/kres.h"
#include "train/trainer.h"

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

/* ---- flag tables ------------------------------------------------------------------------
 * A command lists every flag it takes in an ArgSpec table (the ARG_* macros below, ARG_END
 * last) and hands argv to arg_parse once. Knowing all flags up front is what lets the parser
 * tell an unknown option from a known one that lacks its value, wherever either stands. */
typedef enum {
    ARGT_END = 0,    /* end of a table */
    ARGT_SET,        /* switch: *(int *)dst = 1 */
    ARGT_CLEAR,      /* switch: *(int *)dst = 0 */
    ARGT_CALL,       /* switch: fn(cmd, flag, NULL, dst) */
    ARGT_STRING,     /* *(const char **)dst = value */
    ARGT_INT,        /* int in [lo, hi] */
    ARGT_LONG,       /* long in [lo, hi] */
    ARGT_DOUBLE,     /* double in [lo, hi] */
    ARGT_FLOAT,      /* float, range-checked as a double in [lo, hi] */
    ARGT_SEED,       /* uint64_t via arg_seed */
    ARGT_THREADS,    /* int via arg_threads */
    ARGT_RATE,       /* int via arg_rate */
    ARGT_PROTOCOL,   /* CohortProtocol via arg_protocol */
    ARGT_RULE,       /* const char *, checked by arg_threshold_rule */
    ARGT_CACHE_MB,   /* size_t bytes via arg_cache_mb */
    ARGT_CHOICE,     /* int: the index of the value in choices (NULL-terminated) */
    ARGT_FUNC,       /* fn(cmd, flag, value, dst) */
    ARGT_FUNC_MANY,  /* ARGT_FUNC for the value and for each following argument not starting "--" */
    ARGT_ARGS,       /* the arguments not starting "--": fn(cmd, NULL, arg, dst) for each */
    ARGT_INCLUDE,    /* the flags of another table (dst, an ArgSpec array ending in ARG_END) */
} ArgType;

/* A custom flag parser: 0, or -1 after printing a usage error. */
typedef int (*ArgFn)(const char *cmd, const char *flag, const char *v, void *dst);

typedef struct {
    const char *flag;
    ArgType type;
    void *dst;
    double lo, hi; /* ARGT_INT, ARGT_LONG, ARGT_DOUBLE, ARGT_FLOAT */
    const char *const *choices; /* ARGT_CHOICE: the words, NULL last */
    ArgFn fn;
    int seen;      /* how often the flag was given (set by arg_parse) */
} ArgSpec;

/* p must point to T: a mismatch is a compile error under -Werror, not a wild store. */
#define ARG_PTR_(T, p) (1 ? (p) : (T *)0)
#define ARG_SET(f, p) {.flag = (f), .type = ARGT_SET, .dst = ARG_PTR_(int, p)}
#define ARG_CLEAR(f, p) {.flag = (f), .type = ARGT_CLEAR, .dst = ARG_PTR_(int, p)}
#define ARG_CALL(f, fn_, p) {.flag = (f), .type = ARGT_CALL, .dst = (p), .fn = (fn_)}
#define ARG_STR(f, p) {.flag = (f), .type = ARGT_STRING, .dst = ARG_PTR_(const char *, p)}
#define ARG_INT(f, p, lo_, hi_) {.flag = (f), .type = ARGT_INT, .dst = ARG_PTR_(int, p), .lo = (lo_), .hi = (hi_)}
#define ARG_LONG(f, p, lo_, hi_) {.flag = (f), .type = ARGT_LONG, .dst = ARG_PTR_(long, p), .lo = (lo_), .hi = (hi_)}
#define ARG_DOUBLE(f, p, lo_, hi_) {.flag = (f), .type = ARGT_DOUBLE, .dst = ARG_PTR_(double, p), .lo = (lo_), .hi = (hi_)}
#define ARG_FLOAT(f, p, lo_, hi_) {.flag = (f), .type = ARGT_FLOAT, .dst = ARG_PTR_(float, p), .lo = (lo_), .hi = (hi_)}
#define ARG_SEED(f, p) {.flag = (f), .type = ARGT_SEED, .dst = ARG_PTR_(uint64_t, p)}
#define ARG_THREADS(f, p) {.flag = (f), .type = ARGT_THREADS, .dst = ARG_PTR_(int, p)}
#define ARG_RATE(f, p) {.flag = (f), .type = ARGT_RATE, .dst = ARG_PTR_(int, p)}
#define ARG_PROTOCOL(f, p) {.flag = (f), .type = ARGT_PROTOCOL, .dst = ARG_PTR_(CohortProtocol, p)}
#define ARG_RULE(f, p) {.flag = (f), .type = ARGT_RULE, .dst = ARG_PTR_(const char *, p)}
#define ARG_CACHE_MB(f, p) {.flag = (f), .type = ARGT_CACHE_MB, .dst = ARG_PTR_(size_t, p)}
/* An enum flag: index the words by the enum's values ({[MY_A] = "a", [MY_B] = "b", NULL})
 * and p points to an int that is cast back after parsing. */
#define ARG_CHOICE(f, p, words) {.flag = (f), .type = ARGT_CHOICE, .dst = ARG_PTR_(int, p), .choices = (words)}
#define ARG_FUNC(f, fn_, p) {.flag = (f), .type = ARGT_FUNC, .dst = (p), .fn = (fn_)}
#define ARG_FUNC_MANY(f, fn_, p) {.flag = (f), .type = ARGT_FUNC_MANY, .dst = (p), .fn = (fn_)}
#define ARG_ARGS(fn_, p) {.type = ARGT_ARGS, .dst = (p), .fn = (fn_)}
#define ARG_INCLUDE(table) {.type = ARGT_INCLUDE, .dst = ARG_PTR_(ArgSpec, table)}
#define ARG_END {.type = ARGT_END}

/* arg_parse's "no reason to stop": parsing went through, the command goes on. */
#define ARG_CONTINUE (-1)
/* Parse argv[1..argc) (argv[0] is the command name) against spec, left to right. Returns
 * ARG_CONTINUE, or the exit code to return at once: KRES_EXIT_OK after --help/-h (usage
 * printed on stdout) or KRES_EXIT_USAGE after a usage error (printed: an unknown option,
 * an argument not starting "--" where the table has no ARGT_ARGS, a missing or bad value). */
int arg_parse(const char *cmd, int argc, char **argv, ArgSpec *spec, void (*usage)(FILE *));
/* How often flag was given in the last arg_parse over spec (0 for a flag not in spec). */
int arg_given(const ArgSpec *spec, const char *flag);
/* For commands that take exactly one positional argument: ARG_ARGS(arg_single, &one) keeps
 * the first in one.value and makes a second a usage error naming one.noun (e.g. "RECORD"). */
typedef struct {
    const char *noun;
    const char *value;
} ArgSingle;
int arg_single(const char *cmd, const char *flag, const char *v, void *dst);
/* For commands that take RECORD...: ARG_ARGS(arg_record, &list) appends record_arg(v) (the
 * record name, .hea/.dat dropped; owned) to list.recs, which the caller allocates with room
 * for argc entries (there are never more) and frees with record_list_free. */
typedef struct {
    char **recs;
    int n;
} RecordList;
int arg_record(const char *cmd, const char *flag, const char *v, void *dst);
void record_list_free(RecordList *l);

/* The flags 'kres train' and 'kres finetune' share, all filling TrainOptions (--quiet,
 * --augment, --data, --task, --out, --log, --protocol, --rate, --label-fraction,
 * --subset-seed, --val-fold, --test-fold, --epochs, --batch, --lr, --weight-decay, --seed,
 * --threads, --threshold-rule): written to spec (ARG_TRAIN_NFLAGS entries, then ARG_END)
 * for an ARG_INCLUDE in the command's own table. */
#define ARG_TRAIN_NFLAGS 19
void arg_train_flags(TrainOptions *o, ArgSpec spec[ARG_TRAIN_NFLAGS + 1]);

/* A repeatable flag's value v appended to list[0..*n) of capacity max; 0, or -1 after the
 * usage error "at most <max> <what>". For ArgFn parsers. */
int arg_append(const char *cmd, const char *what, const char **list, int *n, int max, const char *v);

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

/* The outcome of train_classifier as 'kres train' and 'kres finetune' print it on stdout:
 * text lines or one JSON object; a fine-tuning run (o->init_encoder set) names its encoder. */
void train_result_print(const TrainOptions *o, const TrainResult *r, int json);

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
