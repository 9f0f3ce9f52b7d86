/* args.c — argument helpers shared by every subcommand. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "eval/metrics.h"

int arg_is(const char *arg, const char *flag) { return strcmp(arg, flag) == 0; }

int arg_is_help(const char *arg) { return arg_is(arg, "--help") || arg_is(arg, "-h"); }

int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kres: error: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'kres %s --help')\n", cmd);
    va_end(ap);
    return KRES_EXIT_USAGE;
}

int data_error(void) {
    fprintf(stderr, "kres: error: %s\n", kres_last_error());
    return KRES_EXIT_DATA;
}

int not_implemented(const char *cmd) {
    fprintf(stderr, "kres: error: %s: not implemented yet\n", cmd);
    return KRES_EXIT_DATA;
}

const char *arg_value(int argc, char **argv, int *i, const char *cmd) {
    if (*i + 1 >= argc) {
        usage_error(cmd, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int arg_long(const char *cmd, const char *flag, const char *v, long lo, long hi, long *out) {
    long x;
    if (parse_long(v, &x) != 0 || x < lo || x > hi) {
        usage_error(cmd, "%s must be an integer in [%ld, %ld], got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

int arg_int(const char *cmd, const char *flag, const char *v, long lo, long hi, int *out) {
    long x;
    if (arg_long(cmd, flag, v, lo, hi, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

int arg_double(const char *cmd, const char *flag, const char *v, double lo, double hi, double *out) {
    double x;
    if (parse_double(v, &x) != 0 || x < lo || x > hi) {
        usage_error(cmd, "%s must be a number in [%g, %g], got '%s'", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* ---- flags shared by several commands ---------------------------------------------------- */

int arg_rate(const char *cmd, const char *v, int *out) {
    /* Only the two PTB-XL file sets exist: records100/ and records500/. */
    long x;
    if (parse_long(v, &x) != 0 || (x != 100 && x != 500)) {
        usage_error(cmd, "--rate must be 100 or 500, got '%s'", v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int arg_seed(const char *cmd, const char *flag, const char *v, uint64_t *out) {
    long x;
    if (arg_long(cmd, flag, v, 0, LONG_MAX, &x) != 0) return -1;
    *out = (uint64_t)x;
    return 0;
}

int arg_threads(const char *cmd, const char *flag, const char *v, int *out) {
    return arg_int(cmd, flag, v, 1, 1024, out);
}

int arg_protocol(const char *cmd, const char *v, CohortProtocol *out) {
    if (protocol_parse(v, out) != 0) {
        usage_error(cmd, "--protocol must be 'paper' or 'all', got '%s'", v);
        return -1;
    }
    return 0;
}

int arg_threshold_rule(const char *cmd, const char *v) {
    /* Parsed here only to refuse a bad rule before any work; the library re-parses it. */
    ThresholdRule r;
    if (threshold_rule_parse(v, &r) != 0) {
        usage_error(cmd, "--threshold-rule: %s", kres_last_error());
        return -1;
    }
    return 0;
}

int arg_cache_mb(const char *cmd, const char *flag, const char *v, size_t *bytes) {
    long x;
    /* 2^30 MiB keeps the shift below within size_t on 64-bit hosts. */
    if (arg_long(cmd, flag, v, 0, 1L << 30, &x) != 0) return -1;
    *bytes = (size_t)x << 20;
    return 0;
}

/* ---- flag tables ----------------------------------------------------------------------- */

/* The entry for flag (or, with flag NULL, the ARGT_ARGS entry), included tables searched in
 * place; NULL if there is none. */
static ArgSpec *arg_find(ArgSpec *spec, const char *flag) {
    for (ArgSpec *s = spec; s->type != ARGT_END; s++) {
        if (s->type == ARGT_INCLUDE) {
            ArgSpec *t = arg_find(s->dst, flag);
            if (t) return t;
        } else if (flag ? s->flag && arg_is(s->flag, flag) : s->type == ARGT_ARGS) {
            return s;
        }
    }
    return NULL;
}

int arg_single(const char *cmd, const char *flag, const char *v, void *dst) {
    (void)flag;
    ArgSingle *one = dst;
    if (one->value) {
        usage_error(cmd, "one %s only (got '%s' and '%s')", one->noun, one->value, v);
        return -1;
    }
    one->value = v;
    return 0;
}

int arg_record(const char *cmd, const char *flag, const char *v, void *dst) {
    (void)cmd, (void)flag;
    RecordList *l = dst;
    l->recs[l->n++] = record_arg(v);
    return 0;
}

void record_list_free(RecordList *l) {
    for (int i = 0; i < l->n; i++) free(l->recs[i]);
    free(l->recs);
    l->recs = NULL;
    l->n = 0;
}

int arg_given(const ArgSpec *spec, const char *flag) {
    /* arg_find only reads through the pointer it returns here. */
    const ArgSpec *s = arg_find((ArgSpec *)spec, flag);
    return s ? s->seen : 0;
}

/* v as one of the NULL-terminated words: its index in *out, or -1 after the usage error
 * "FLAG must be 'a', 'b' or 'c', got 'v'". */
static int arg_choice(const char *cmd, const char *flag, const char *v, const char *const *words, int *out) {
    int n = 0;
    for (; words[n]; n++)
        if (arg_is(v, words[n])) {
            *out = n;
            return 0;
        }
    char list[512];
    size_t len = 0;
    list[0] = '\0';
    for (int k = 0; k < n && len < sizeof list; k++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s'%s'", k == 0 ? "" : k == n - 1 ? " or " : ", ",
                                words[k]);
    usage_error(cmd, "%s must be %s, got '%s'", flag, list, v);
    return -1;
}

/* Store value v of the flag s that takes one; 0 or -1 after a usage error. */
static int arg_store(const char *cmd, const ArgSpec *s, const char *v) {
    double d;
    switch (s->type) {
    case ARGT_STRING: *(const char **)s->dst = v; return 0;
    case ARGT_INT: return arg_int(cmd, s->flag, v, (long)s->lo, (long)s->hi, s->dst);
    case ARGT_LONG: return arg_long(cmd, s->flag, v, (long)s->lo, (long)s->hi, s->dst);
    case ARGT_DOUBLE: return arg_double(cmd, s->flag, v, s->lo, s->hi, s->dst);
    case ARGT_FLOAT:
        if (arg_double(cmd, s->flag, v, s->lo, s->hi, &d) != 0) return -1;
        *(float *)s->dst = (float)d;
        return 0;
    case ARGT_SEED: return arg_seed(cmd, s->flag, v, s->dst);
    case ARGT_THREADS: return arg_threads(cmd, s->flag, v, s->dst);
    case ARGT_RATE: return arg_rate(cmd, v, s->dst);
    case ARGT_PROTOCOL: return arg_protocol(cmd, v, s->dst);
    case ARGT_RULE:
        if (arg_threshold_rule(cmd, v) != 0) return -1;
        *(const char **)s->dst = v;
        return 0;
    case ARGT_CACHE_MB: return arg_cache_mb(cmd, s->flag, v, s->dst);
    case ARGT_CHOICE: return arg_choice(cmd, s->flag, v, s->choices, s->dst);
    case ARGT_FUNC:
    case ARGT_FUNC_MANY: return s->fn(cmd, s->flag, v, s->dst);
    default: KRES_ASSERT(!"flag type without a value"); return -1;
    }
}

int arg_parse(const char *cmd, int argc, char **argv, ArgSpec *spec, void (*usage)(FILE *)) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (arg_is_help(f)) {
            usage(stdout);
            return KRES_EXIT_OK;
        }
        /* Look the flag up before taking a value: "--bogus" last on the line is unknown,
         * not a flag that "needs a value". */
        int dashed = strncmp(f, "--", 2) == 0;
        /* "-x" is a mistyped option, never a record or directory name */
        if (!dashed && f[0] == '-' && f[1]) return usage_error(cmd, "unknown option '%s'", f);
        ArgSpec *s = arg_find(spec, dashed ? f : NULL);
        if (!s) return usage_error(cmd, dashed ? "unknown option '%s'" : "unexpected argument '%s'", f);
        s->seen++;
        switch (s->type) {
        case ARGT_ARGS:
            if (s->fn(cmd, NULL, f, s->dst) != 0) return KRES_EXIT_USAGE;
            continue;
        case ARGT_SET: *(int *)s->dst = 1; continue;
        case ARGT_CLEAR: *(int *)s->dst = 0; continue;
        case ARGT_CALL:
            if (s->fn(cmd, f, NULL, s->dst) != 0) return KRES_EXIT_USAGE;
            continue;
        default: break;
        }
        const char *v = arg_value(argc, argv, &i, cmd);
        if (!v || arg_store(cmd, s, v) != 0) return KRES_EXIT_USAGE;
        /* "--data A B C": the following plain arguments belong to the same flag. */
        while (s->type == ARGT_FUNC_MANY && i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            if (s->fn(cmd, f, argv[++i], s->dst) != 0) return KRES_EXIT_USAGE;
    }
    return ARG_CONTINUE;
}

int arg_append(const char *cmd, const char *what, const char **list, int *n, int max, const char *v) {
    if (*n >= max) {
        usage_error(cmd, "at most %d %s", max, what);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}

void arg_train_flags(TrainOptions *o, ArgSpec spec[ARG_TRAIN_NFLAGS + 1]) {
    /* Same names, ranges and wording in both commands: fine-tuning is training that starts
     * from an encoder. */
    const ArgSpec s[] = {
        ARG_SET("--quiet", &o->quiet),
        ARG_SET("--augment", &o->augment),
        ARG_STR("--data", &o->data_dir),
        ARG_STR("--task", &o->task),
        ARG_STR("--out", &o->out_path),
        ARG_STR("--log", &o->log_path),
        ARG_PROTOCOL("--protocol", &o->protocol),
        ARG_RATE("--rate", &o->rate),
        ARG_DOUBLE("--label-fraction", &o->label_fraction, 1e-9, 1),
        ARG_SEED("--subset-seed", &o->subset_seed),
        ARG_INT("--val-fold", &o->val_fold, 1, 10),
        ARG_INT("--test-fold", &o->test_fold, 0, 10),
        ARG_INT("--epochs", &o->epochs, 1, 100000),
        ARG_INT("--batch", &o->batch, 1, 65536),
        ARG_FLOAT("--lr", &o->lr, 1e-12, 10),
        ARG_FLOAT("--weight-decay", &o->weight_decay, 0, 10),
        ARG_SEED("--seed", &o->seed),
        ARG_THREADS("--threads", &o->threads),
        ARG_RULE("--threshold-rule", &o->threshold_rule),
        ARG_END,
    };
    _Static_assert(sizeof s / sizeof s[0] == ARG_TRAIN_NFLAGS + 1, "ARG_TRAIN_NFLAGS is the count above");
    memcpy(spec, s, sizeof s);
}

/* Read path and run parse on its text; a parser error is re-worded to name the file
 * (the parsers only say "model config" / "preprocess"). */
static int load_json_file(const char *path, int (*parse)(const char *, void *), void *out) {
    char *s = read_file_all(path, NULL);
    if (!s) return -1;
    int rc = parse(s, out);
    free(s);
    if (rc != 0) {
        char msg[900]; /* copy first: kres_fail overwrites the message it formats from */
        snprintf(msg, sizeof msg, "%s", kres_last_error());
        return kres_fail(path, "%s", msg);
    }
    return 0;
}
static int parse_model(const char *s, void *c) { return kres_config_from_json(s, c); }
static int parse_preproc(const char *s, void *c) { return preproc_from_json(s, c); }

int load_model_config(const char *path, KresConfig *c) { return load_json_file(path, parse_model, c); }

int load_preprocess_config(const char *path, PreprocConfig *c) { return load_json_file(path, parse_preproc, c); }

int default_log_path(const char *out, char *buf, size_t n) {
    /* A truncated name would send the log somewhere the user never asked for. */
    int w = snprintf(buf, n, "%s.log.jsonl", out);
    if (w < 0 || (size_t)w >= n) return kres_fail(out, "path too long for its default log name");
    return 0;
}

char *record_arg(const char *arg) {
    /* Users often tab-complete the header (or signal) file rather than the record name. */
    char *s = xstrdup(arg);
    size_t n = strlen(s);
    if (n > 4 && (strcmp(s + n - 4, ".hea") == 0 || strcmp(s + n - 4, ".dat") == 0)) s[n - 4] = '\0';
    return s;
}
