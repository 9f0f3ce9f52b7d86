/* cmd_samples.c — 'kres samples RECORD [--from N] [--to N] [--raw]': a record's samples as
 * CSV, like rdsamp: "sample,<lead>,..." then one row per sample in millivolts or ADC units. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "data/wfdb.h"

static void samples_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres samples RECORD [--from N] [--to N] [--raw]\n\n"
            "Print the samples of a WFDB record as CSV, like rdsamp. RECORD is the record's path\n"
            "without extension (a trailing .hea is accepted):\n"
            "  kres samples data/ptbxl-sample/records100/00000/00001_lr --to 5\n\n"
            "The first line is 'sample,<lead>,...' (lead names from the header); then one row per\n"
            "sample: its index, then each lead in millivolts, (raw - baseline) / gain, converted\n"
            "from the header's units (10 significant digits), or the raw ADC integers with --raw.\n"
            "A checksum or initial-value mismatch is reported on stderr; the samples still print.\n\n"
            "options:\n"
            "  --from N    first sample to print (default 0)\n"
            "  --to N      stop before sample N (default: the record length)\n"
            "  --raw       ADC integers instead of millivolts\n"
            "  -h, --help  this help\n\n"
            "exit status: 0 ok; 1 unreadable or malformed record, or a write error; 2 usage error\n"
            "(including --from/--to outside the record)\n");
}

/* A lead name as one CSV field (RFC 4180 quoting when needed; "sig<k>" if unnamed). */
static void csv_name(FILE *fp, const char *name, int s) {
    if (!name[0]) {
        fprintf(fp, "sig%d", s);
    } else if (strpbrk(name, ",\"\r\n") || name[0] == ' ' || name[strlen(name) - 1] == ' ') {
        fputc('"', fp);
        for (const char *p = name; *p; p++) {
            if (*p == '"') fputc('"', fp);
            fputc(*p, fp);
        }
        fputc('"', fp);
    } else {
        fputs(name, fp);
    }
}

int cmd_samples(int argc, char **argv) {
    long from = 0, to = -1;
    int raw = 0;
    ArgSingle one = {"RECORD", NULL};
    ArgSpec spec[] = {
        ARG_SET("--raw", &raw),
        ARG_LONG("--from", &from, 0, 1L << 40),
        ARG_LONG("--to", &to, 0, 1L << 40),
        ARG_ARGS(arg_single, &one),
        ARG_END,
    };
    const int prc = arg_parse("samples", argc, argv, spec, samples_usage);
    if (prc != ARG_CONTINUE) return prc;
    const char *record = one.value;
    if (!record) return usage_error("samples", "missing RECORD");

    WfdbRecord r;
    if (wfdb_load(record, &r, 0) != 0) return data_error();
    const WfdbHeader *h = &r.h;
    const long n = h->nsamples;
    int rc = KRES_EXIT_OK;
    if (to < 0) to = n;
    if (to > n) {
        rc = usage_error("samples", "--to %ld is beyond the end of the record (%ld samples)", to, n);
    } else if (from >= to) {
        rc = usage_error("samples", "--from %ld must be less than --to %ld", from, to);
    }
    if (rc != KRES_EXIT_OK) {
        wfdb_record_free(&r);
        return rc;
    }
    for (int s = 0; s < h->nsig; s++)
        if (r.checksum_ok[s] == 0 || r.init_ok[s] == 0)
            fprintf(stderr, "kres: warning: %s: signal %d (%s): %s does not match the header\n", record, s,
                    h->sig[s].description, r.checksum_ok[s] == 0 ? "checksum" : "initial value");

    /* Fully buffered stdout (nothing was written to it yet): one write per 256 KiB rather
     * than per line. The buffer is static so it outlives every later use of stdout. */
    static char outbuf[1 << 18];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    fputs("sample", stdout);
    for (int s = 0; s < h->nsig; s++) {
        fputc(',', stdout);
        csv_name(stdout, h->sig[s].description, s);
    }
    fputc('\n', stdout);
    for (long t = from; t < to; t++) {
        printf("%ld", t);
        for (int s = 0; s < h->nsig; s++) {
            const int32_t v = r.raw[(size_t)s * (size_t)n + (size_t)t];
            if (raw) {
                printf(",%d", v);
            } else {
                /* In double from the ADC value (not the float mv array): exact to 10 digits;
                 * + 0.0 turns a negative zero into 0. */
                const WfdbSignal *g = &h->sig[s];
                printf(",%.10g", ((double)v - g->baseline) / g->gain * g->to_mv + 0.0);
            }
        }
        putchar('\n');
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        kres_fail("stdout", "write error");
        rc = data_error();
    }
    wfdb_record_free(&r);
    return rc;
}
