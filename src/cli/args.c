/* args.c — argument helpers shared by every subcommand. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

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
