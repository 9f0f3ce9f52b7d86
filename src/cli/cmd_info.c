/* cmd_info.c — 'kres info RECORD [--json]': header facts of a WFDB record, with each
 * signal's checksum and initial value verified against the signal file. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/json.h"
#include "data/wfdb.h"

static void info_usage(FILE *fp) {
    fprintf(fp,
            "usage: kres info RECORD [--json]\n\n"
            "Print the header of a WFDB record and verify its signals. RECORD is the record's\n"
            "path without extension (a trailing .hea is accepted), as WFDB tools take it:\n"
            "  kres info data/ptbxl-sample/records100/00000/00001_lr\n\n"
            "Shows the record line (name, signals, rate, length, base time/date, counter\n"
            "frequency), then per signal: lead name, file, format, ADC gain, baseline, units,\n"
            "ADC resolution, ADC zero, initial value and checksum with whether each matches\n"
            "the data, then the header's '#' comment lines.\n\n"
            "options:\n"
            "  --json      one JSON object instead of the table\n"
            "  -h, --help  this help\n\n"
            "exit status: 0 ok; 1 unreadable or malformed record, or a checksum or initial-value\n"
            "mismatch (the report is printed first); 2 usage error\n");
}

/* "16", "16x2", "212:3", "16+512": the format field as the header writes it. */
static void format_spec(const WfdbSignal *g, char *out, size_t n) {
    int w = snprintf(out, n, "%d", g->format);
    if (g->samples_per_frame > 1) w += snprintf(out + w, n - (size_t)w, "x%d", g->samples_per_frame);
    if (g->skew) w += snprintf(out + w, n - (size_t)w, ":%d", g->skew);
    if (g->byte_offset) snprintf(out + w, n - (size_t)w, "+%ld", g->byte_offset);
}

static const char *match_word(int ok) { return ok == 1 ? "yes" : ok == 0 ? "NO" : "-"; }

static void print_text(const WfdbRecord *r, const char *hea) {
    const WfdbHeader *h = &r->h;
    printf("record    %s\n", h->record_name);
    printf("header    %s\n", hea);
    printf("signals   %d\n", h->nsig);
    printf("rate      %g Hz\n", h->fs);
    printf("length    %ld samples (%g s)\n", h->nsamples, (double)h->nsamples / h->fs);
    if (h->base_time[0]) printf("start     %s%s%s\n", h->base_time, h->base_date[0] ? " " : "", h->base_date);
    if (h->counter_freq > 0) printf("counter   %g Hz, base %g\n", h->counter_freq, h->base_counter);
    printf("\n%3s  %-8s %-16s %-8s %10s %8s %-6s %7s %8s %8s %7s %8s %11s\n", "#", "lead", "file", "format",
           "gain", "baseline", "units", "adc_res", "adc_zero", "init", "init_ok", "checksum", "checksum_ok");
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *g = &h->sig[s];
        char fmt[48], init[24] = "-", cks[24] = "-";
        format_spec(g, fmt, sizeof fmt);
        if (g->has_init_value) snprintf(init, sizeof init, "%ld", g->init_value);
        if (g->has_checksum) snprintf(cks, sizeof cks, "%ld", g->checksum);
        printf("%3d  %-8s %-16s %-8s %10g %8d %-6s %7d %8d %8s %7s %8s %11s\n", s,
               g->description[0] ? g->description : "-", g->file, fmt, g->gain, g->baseline, g->units,
               g->adc_resolution, g->adc_zero, init, match_word(r->init_ok[s]), cks, match_word(r->checksum_ok[s]));
    }
    if (h->ncomments) {
        printf("\ncomments (%d):\n", h->ncomments);
        for (int i = 0; i < h->ncomments; i++) printf("  #%s\n", h->comments[i]);
    }
}

static void json_match(JsonWriter *w, const char *key, int ok) {
    jw_key(w, key);
    if (ok < 0) jw_null(w);
    else jw_bool(w, ok);
}

static void print_json(const WfdbRecord *r, const char *hea, int all_ok) {
    const WfdbHeader *h = &r->h;
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "record"); jw_string(&w, h->record_name);
    jw_key(&w, "header"); jw_string(&w, hea);
    jw_key(&w, "nsig"); jw_int(&w, h->nsig);
    jw_key(&w, "fs"); jw_number(&w, h->fs);
    jw_key(&w, "nsamples"); jw_int(&w, h->nsamples);
    jw_key(&w, "seconds"); jw_number(&w, (double)h->nsamples / h->fs);
    jw_key(&w, "counter_freq");
    if (h->counter_freq > 0) jw_number(&w, h->counter_freq);
    else jw_null(&w);
    jw_key(&w, "base_counter"); jw_number(&w, h->base_counter);
    jw_key(&w, "base_time");
    if (h->base_time[0]) jw_string(&w, h->base_time);
    else jw_null(&w);
    jw_key(&w, "base_date");
    if (h->base_date[0]) jw_string(&w, h->base_date);
    else jw_null(&w);
    jw_key(&w, "signals");
    jw_array_begin(&w);
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *g = &h->sig[s];
        jw_object_begin(&w);
        jw_key(&w, "index"); jw_int(&w, s);
        jw_key(&w, "name"); jw_string(&w, g->description);
        jw_key(&w, "file"); jw_string(&w, g->file);
        jw_key(&w, "format"); jw_int(&w, g->format);
        jw_key(&w, "samples_per_frame"); jw_int(&w, g->samples_per_frame);
        jw_key(&w, "skew"); jw_int(&w, g->skew);
        jw_key(&w, "byte_offset"); jw_int(&w, g->byte_offset);
        jw_key(&w, "gain"); jw_number(&w, g->gain);
        jw_key(&w, "baseline"); jw_int(&w, g->baseline);
        jw_key(&w, "units"); jw_string(&w, g->units);
        jw_key(&w, "to_mv"); jw_number(&w, g->to_mv);
        jw_key(&w, "adc_resolution"); jw_int(&w, g->adc_resolution);
        jw_key(&w, "adc_zero"); jw_int(&w, g->adc_zero);
        jw_key(&w, "init_value");
        if (g->has_init_value) jw_int(&w, g->init_value);
        else jw_null(&w);
        json_match(&w, "init_ok", r->init_ok[s]);
        jw_key(&w, "checksum");
        if (g->has_checksum) jw_int(&w, g->checksum);
        else jw_null(&w);
        json_match(&w, "checksum_ok", r->checksum_ok[s]);
        jw_key(&w, "block_size"); jw_int(&w, g->block_size);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "comments");
    jw_array_begin(&w);
    for (int i = 0; i < h->ncomments; i++) jw_string(&w, h->comments[i]);
    jw_array_end(&w);
    jw_key(&w, "ok"); jw_bool(&w, all_ok);
    jw_object_end(&w);
    fwrite(w.buf, 1, w.len, stdout);
    fputc('\n', stdout);
    jw_free(&w);
}

int cmd_info(int argc, char **argv) {
    int json = 0;
    ArgSingle one = {"RECORD", NULL};
    ArgSpec spec[] = {
        ARG_SET("--json", &json),
        ARG_ARGS(arg_single, &one),
        ARG_END,
    };
    const int prc = arg_parse("info", argc, argv, spec, info_usage);
    if (prc != ARG_CONTINUE) return prc;
    const char *record = one.value;
    if (!record) return usage_error("info", "missing RECORD");

    WfdbRecord r;
    if (wfdb_load(record, &r, 0) != 0) return data_error();
    char hea[4096];
    size_t len = strlen(record);
    snprintf(hea, sizeof hea, "%s%s", record, len >= 4 && strcmp(record + len - 4, ".hea") == 0 ? "" : ".hea");

    /* Mismatches are shown in the report and make the exit status 1. */
    int bad = -1, nbad = 0;
    for (int s = 0; s < r.h.nsig; s++)
        if (r.checksum_ok[s] == 0 || r.init_ok[s] == 0) {
            if (bad < 0) bad = s;
            nbad++;
        }
    if (json) print_json(&r, hea, nbad == 0);
    else print_text(&r, hea);
    int rc = KRES_EXIT_OK;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        kres_fail("stdout", "write error");
        rc = data_error();
    } else if (bad >= 0) {
        char dat[4096];
        const WfdbSignal *g = &r.h.sig[bad];
        if (strcmp(r.h.dir, ".") == 0) snprintf(dat, sizeof dat, "%s", g->file);
        else path_join(dat, sizeof dat, r.h.dir, g->file);
        kres_fail(dat, "%d signal(s) do not match the header's checksum or initial value (first: signal %d, %s)",
                  nbad, bad, g->description[0] ? g->description : "unnamed");
        rc = data_error();
    }
    wfdb_record_free(&r);
    return rc;
}
