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
