/* wfdb.c — WFDB header parsing, signal decoding and writing (see wfdb.h).
 *
 * Reading a record is three steps:
 *   1. parse "<record>.hea" into a WfdbHeader (every field checked, defaults filled in);
 *   2. group consecutive signals that share a signal file, check each file's size against
 *      the declared length (or derive the length from it), read each file with one fread;
 *   3. decode the interleaved byte stream of each group into int32 samples with one tight
 *      loop per format, then scatter it lead-major into raw[s*n + t], verifying checksums
 *      and initial values on the way, and convert to millivolts.
 *
 * Sizes: nsig <= WFDB_MAX_SIGNALS, nsamples <= WFDB_MAX_SAMPLES; every product of sizes is
 * formed in int64_t after those bounds are checked, so no size arithmetic can overflow. */
#include "data/wfdb.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

/* Bounds that keep int64 size arithmetic exact: (2^40 samples + 2^30 skew) x 256 signals x
 * 2^10 samples per frame x 4 bytes < 2^61. Real records are many orders of magnitude smaller. */
#define WFDB_MAX_SAMPLES (1L << 40)
#define WFDB_MAX_SPF 1024
#define WFDB_MAX_SKEW (1L << 30)

/* ---------------------------------------------------------------- formats */

/* Bits of ADC resolution a format stores; also the default adc_resolution. 0: unsupported. */
static int format_bits(int f) {
    switch (f) {
    case 8: case 80: return 8;
    case 310: case 311: return 10;
    case 212: return 12;
    case 16: case 61: case 160: return 16;
    case 24: return 24;
    case 32: return 32;
    default: return 0;
    }
}

/* Range of sample values a format can hold (format 8 stores differences: any int32). */
static void format_range(int f, int64_t *lo, int64_t *hi) {
    int bits = f == 8 ? 32 : format_bits(f);
    *lo = -((int64_t)1 << (bits - 1));
    *hi = ((int64_t)1 << (bits - 1)) - 1;
}

/* Bytes that hold n consecutive samples of format f, laid out as WFDB writers do: packed
 * formats end in a partial block (212: 3 bytes per pair, a lone last sample in 2 bytes;
 * 310: 4 bytes per triple, remainder 1 or 2 in 2 or 4 bytes; 311: in 2 or 3 bytes). */
static int64_t stream_bytes(int f, int64_t n) {
    switch (f) {
    case 8: case 80: return n;
    case 16: case 61: case 160: return 2 * n;
    case 24: return 3 * n;
    case 32: return 4 * n;
    case 212: return 3 * (n / 2) + 2 * (n % 2);
    case 310: { static const int tail[3] = {0, 2, 4}; return 4 * (n / 3) + tail[n % 3]; }
    case 311: { static const int tail[3] = {0, 2, 3}; return 4 * (n / 3) + tail[n % 3]; }
    default: KRES_ASSERT(0 && "unsupported format"); return -1;
    }
}

/* Largest byte count that still holds exactly n samples: a writer may pad the last block. */
static int64_t stream_bytes_padded(int f, int64_t n) {
    if (f == 212) return 3 * ((n + 1) / 2);
    if (f == 310 || f == 311) return 4 * ((n + 2) / 3);
    return stream_bytes(f, n);
}

/* Number of whole samples held in nbytes (inverse of stream_bytes, rounding down). */
static int64_t stream_samples(int f, int64_t nbytes) {
    switch (f) {
    case 212: return 2 * (nbytes / 3) + (nbytes % 3 >= 2);
    case 310: { static const int k[4] = {0, 0, 1, 1}; return 3 * (nbytes / 4) + k[nbytes % 4]; }
    case 311: { static const int k[4] = {0, 0, 1, 2}; return 3 * (nbytes / 4) + k[nbytes % 4]; }
    default: return nbytes / stream_bytes(f, 1);
    }
}

/* Sign-extend the low `bits` bits of x without shifting negative values. */
static inline int32_t sext(uint32_t x, int bits) {
    int32_t v = (int32_t)(x & ((1u << bits) - 1));
    return v - ((v & (1 << (bits - 1))) << 1);
}

/* Decode n samples of format f from b into out. Format 8 yields the raw 8-bit differences;
 * the caller accumulates them per signal. One loop per format: no per-sample branching. */
static void decode_stream(int f, const uint8_t *b, int64_t n, int32_t *out) {
    int64_t i = 0;
    switch (f) {
    case 8:
        for (; i < n; i++) out[i] = (int32_t)b[i] - ((b[i] & 0x80) << 1);
        break;
    case 80:
        for (; i < n; i++) out[i] = (int32_t)b[i] - 128;
        break;
    case 16:
        for (; i < n; i++) out[i] = sext((uint32_t)b[2 * i] | (uint32_t)b[2 * i + 1] << 8, 16);
        break;
    case 61:
        for (; i < n; i++) out[i] = sext((uint32_t)b[2 * i] << 8 | (uint32_t)b[2 * i + 1], 16);
        break;
    case 160:
        for (; i < n; i++) out[i] = (int32_t)((uint32_t)b[2 * i] | (uint32_t)b[2 * i + 1] << 8) - 32768;
        break;
    case 24:
        for (; i < n; i++) {
            const uint8_t *p = b + 3 * i;
            out[i] = sext((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16, 24);
        }
        break;
    case 32:
        for (; i < n; i++) {
            const uint8_t *p = b + 4 * i;
            uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            int32_t v;
            memcpy(&v, &u, sizeof v); /* two's-complement reinterpretation, no UB */
            out[i] = v;
        }
        break;
    case 212: /* two 12-bit samples in 3 bytes; byte 1 holds both high nibbles */
        for (; i + 1 < n; i += 2) {
            const uint8_t *p = b + 3 * (i / 2);
            out[i] = sext((uint32_t)p[0] | ((uint32_t)p[1] & 0x0F) << 8, 12);
            out[i + 1] = sext((uint32_t)p[2] | ((uint32_t)p[1] & 0xF0) << 4, 12);
        }
        if (i < n) {
            const uint8_t *p = b + 3 * (i / 2);
            out[i] = sext((uint32_t)p[0] | ((uint32_t)p[1] & 0x0F) << 8, 12);
        }
        break;
    case 310: /* three 10-bit samples in two 16-bit words: bits 1-10 of each word hold the first
               * two; the third is split over bits 11-15 (low half in word 0, high in word 1) */
        for (; i + 2 < n; i += 3) {
            const uint8_t *p = b + 4 * (i / 3);
            uint32_t w0 = (uint32_t)p[0] | (uint32_t)p[1] << 8, w1 = (uint32_t)p[2] | (uint32_t)p[3] << 8;
            out[i] = sext(w0 >> 1, 10);
            out[i + 1] = sext(w1 >> 1, 10);
            out[i + 2] = sext((w0 >> 11) | (w1 >> 11) << 5, 10);
        }
        for (int k = 0; i < n; i++, k++) {
            const uint8_t *p = b + 4 * (i / 3) + 2 * k;
            out[i] = sext(((uint32_t)p[0] | (uint32_t)p[1] << 8) >> 1, 10);
        }
        break;
    case 311: /* three 10-bit samples in bits 0-9, 10-19, 20-29 of a 32-bit word */
        for (; i + 2 < n; i += 3) {
            const uint8_t *p = b + 4 * (i / 3);
            uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
            out[i] = sext(w, 10);
            out[i + 1] = sext(w >> 10, 10);
            out[i + 2] = sext(w >> 20, 10);
        }
        if (i < n) { /* the tail is 2 bytes (one sample) or 3 bytes (two) */
            const uint8_t *p = b + 4 * (i / 3);
            uint32_t w = (uint32_t)p[0] | (uint32_t)p[1] << 8;
            if (i + 1 < n) w |= (uint32_t)p[2] << 16;
            out[i] = sext(w, 10);
            if (i + 1 < n) out[i + 1] = sext(w >> 10, 10);
        }
        break;
    default: KRES_ASSERT(0 && "unsupported format");
    }
}

/* Encode n samples (already range-checked; differences for format 8) into stream_bytes(f, n)
 * bytes at b. Exact inverse of decode_stream. */
static void encode_stream(int f, const int32_t *in, int64_t n, uint8_t *b) {
    int64_t i = 0;
    switch (f) {
    case 8: case 80:
        for (; i < n; i++) b[i] = (uint8_t)((uint32_t)in[i] + (f == 80 ? 128u : 0u));
        break;
    case 16: case 160:
        for (; i < n; i++) {
            uint32_t u = (uint32_t)in[i] + (f == 160 ? 32768u : 0u);
            b[2 * i] = (uint8_t)u;
            b[2 * i + 1] = (uint8_t)(u >> 8);
        }
        break;
    case 61:
        for (; i < n; i++) {
            b[2 * i] = (uint8_t)((uint32_t)in[i] >> 8);
            b[2 * i + 1] = (uint8_t)in[i];
        }
        break;
    case 24: case 32: {
        int w = f / 8;
        for (; i < n; i++)
            for (int k = 0; k < w; k++) b[w * i + k] = (uint8_t)((uint32_t)in[i] >> (8 * k));
        break;
    }
    case 212:
        for (; i < n; i += 2) {
            uint8_t *p = b + 3 * (i / 2);
            uint32_t a = (uint32_t)in[i] & 0xFFF, c = i + 1 < n ? (uint32_t)in[i + 1] & 0xFFF : 0;
            p[0] = (uint8_t)a;
            p[1] = (uint8_t)((a >> 8) | (c >> 8) << 4);
            if (i + 1 < n) p[2] = (uint8_t)c;
        }
        break;
    case 310:
        for (; i < n; i += 3) {
            uint8_t *p = b + 4 * (i / 3);
            uint32_t s0 = (uint32_t)in[i] & 0x3FF, s1 = i + 1 < n ? (uint32_t)in[i + 1] & 0x3FF : 0;
            uint32_t s2 = i + 2 < n ? (uint32_t)in[i + 2] & 0x3FF : 0;
            uint32_t w0 = s0 << 1 | (s2 & 0x1F) << 11, w1 = s1 << 1 | (s2 >> 5) << 11;
            p[0] = (uint8_t)w0;
            p[1] = (uint8_t)(w0 >> 8);
            if (i + 1 < n) {
                p[2] = (uint8_t)w1;
                p[3] = (uint8_t)(w1 >> 8);
            }
        }
        break;
    case 311:
        for (; i < n; i += 3) {
            uint8_t *p = b + 4 * (i / 3);
            uint32_t w = (uint32_t)in[i] & 0x3FF;
            if (i + 1 < n) w |= ((uint32_t)in[i + 1] & 0x3FF) << 10;
            if (i + 2 < n) w |= ((uint32_t)in[i + 2] & 0x3FF) << 20;
            int nb = i + 2 < n ? 4 : i + 1 < n ? 3 : 2;
            for (int k = 0; k < nb; k++) p[k] = (uint8_t)(w >> (8 * k));
        }
        break;
    default: KRES_ASSERT(0 && "unsupported format");
    }
}

/* Millivolts per physical unit; 1 for unknown units (the value stays in its own unit). */
static double units_to_mv(const char *u) {
    static const struct { const char *name; double f; } T[] = {
        {"mV", 1.0},  {"mv", 1.0},  {"uV", 1e-3}, {"uv", 1e-3}, {"\xC2\xB5V", 1e-3},
        {"\xCE\xBCV", 1e-3}, {"V", 1e3}, {"v", 1e3}, {"nV", 1e-6}, {"kV", 1e6},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (strcmp(u, T[i].name) == 0) return T[i].f;
    return 1.0;
}

/* ---------------------------------------------------------------- header parsing */

/* "<record>.hea" path and the directory part; strips a ".hea" the caller may have typed. */
static int record_paths(const char *record, char *hea, size_t nhea, char *dir, size_t ndir) {
    size_t len = strlen(record);
    if (len == 0) return kres_fail(NULL, "empty record name");
    if (len >= 4 && strcmp(record + len - 4, ".hea") == 0) len -= 4;
    if (len + 5 > nhea) return kres_fail(record, "record path is too long");
    memcpy(hea, record, len);
    memcpy(hea + len, ".hea", 5);
    const char *slash = strrchr(hea, '/');
    if (!slash) {
        snprintf(dir, ndir, ".");
    } else {
        size_t dl = slash == hea ? 1 : (size_t)(slash - hea);
        if (dl + 1 > ndir) return kres_fail(record, "record path is too long");
        memcpy(dir, hea, dl);
        dir[dl] = '\0';
    }
    return 0;
}

/* Path of a signal file named in the header: relative to the header's directory. */
static int signal_path(const WfdbHeader *h, const char *file, char *out, size_t n) {
    int rc = strcmp(h->dir, ".") == 0 ? (snprintf(out, n, "%s", file) >= (int)n ? -1 : 0)
                                      : path_join(out, n, h->dir, file);
    return rc == 0 ? 0 : kres_fail(file, "signal file path is too long");
}

/* Split line into at most maxtok whitespace-separated tokens (NUL-terminating them in
 * place). *rest gets the trimmed text after the last token taken ("" if none). */
static int split_tokens(char *line, char **tok, int maxtok, char **rest) {
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || n == maxtok) break;
        tok[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (*p) *p++ = '\0';
    }
    char *end = p + strlen(p);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) *--end = '\0';
    *rest = p;
    return n;
}

static int parse_int_in(const char *s, long lo, long hi, long *out) {
    long v;
    if (parse_long(s, &v) != 0 || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* Record line: name[/nseg] nsig [fs[/counter_freq[(base_counter)]] [nsamples [time [date]]]] */
static int parse_record_line(const char *path, int ln, char *line, WfdbHeader *h) {
    char *tok[6], *rest;
    int nt = split_tokens(line, tok, 6, &rest);
    if (*rest) return kres_fail(path, "line %d: record line has more than 6 fields", ln);
    if (strchr(tok[0], '/')) return kres_fail(path, "line %d: multi-segment records are not supported ('%s')", ln, tok[0]);
    if (strlen(tok[0]) >= sizeof h->record_name) return kres_fail(path, "line %d: record name is too long", ln);
    strcpy(h->record_name, tok[0]);
    if (nt < 2) return kres_fail(path, "line %d: record line lacks the number of signals", ln);
    long v;
    if (parse_long(tok[1], &v) != 0) return kres_fail(path, "line %d: malformed number of signals '%s'", ln, tok[1]);
    if (v <= 0) return kres_fail(path, "line %d: record has %ld signals; need at least 1", ln, v);
    if (v > WFDB_MAX_SIGNALS) return kres_fail(path, "line %d: %ld signals exceed the limit of %d", ln, v, WFDB_MAX_SIGNALS);
    h->nsig = (int)v;
    h->fs = 250.0; /* the specification's default */
    if (nt >= 3) {
        /* "fs", "fs/cf" or "fs/cf(base)" */
        char *f = tok[2], *cf = strchr(f, '/');
        if (cf) {
            *cf++ = '\0';
            char *base = strchr(cf, '(');
            if (base) {
                size_t bl = strlen(base);
                if (bl < 3 || base[bl - 1] != ')') return kres_fail(path, "line %d: malformed base counter value in '%s'", ln, cf);
                *base++ = '\0';
                base[bl - 2] = '\0';
                if (parse_double(base, &h->base_counter) != 0) return kres_fail(path, "line %d: malformed base counter value '%s'", ln, base);
            }
            if (parse_double(cf, &h->counter_freq) != 0 || h->counter_freq <= 0)
                return kres_fail(path, "line %d: malformed counter frequency '%s'", ln, cf);
        }
        if (parse_double(f, &h->fs) != 0 || h->fs <= 0) return kres_fail(path, "line %d: malformed sampling frequency '%s'", ln, f);
    }
    if (nt >= 4) {
        if (parse_long(tok[3], &v) != 0) return kres_fail(path, "line %d: malformed number of samples '%s'", ln, tok[3]);
        if (v < 0) return kres_fail(path, "line %d: negative number of samples %ld", ln, v);
        if (v > WFDB_MAX_SAMPLES) return kres_fail(path, "line %d: number of samples %ld is too large (limit %ld)", ln, v, WFDB_MAX_SAMPLES);
        h->nsamples = v;
    }
    /* Base time "HH:MM:SS[.sss]" and date "DD/MM/YYYY": kept as text, checked for shape. */
    if (nt >= 5) {
        if (strlen(tok[4]) >= sizeof h->base_time || strspn(tok[4], "0123456789:.") != strlen(tok[4]))
            return kres_fail(path, "line %d: malformed base time '%s'", ln, tok[4]);
        strcpy(h->base_time, tok[4]);
    }
    if (nt >= 6) {
        if (strlen(tok[5]) >= sizeof h->base_date || strspn(tok[5], "0123456789/") != strlen(tok[5]))
            return kres_fail(path, "line %d: malformed base date '%s'", ln, tok[5]);
        strcpy(h->base_date, tok[5]);
    }
    return 0;
}

/* Format field: format[xspf][:skew][+byte_offset], each modifier at most once, in order. */
static int parse_format_field(const char *path, int ln, const char *s, WfdbSignal *g) {
    char buf[64];
    if (strlen(s) >= sizeof buf) return kres_fail(path, "line %d: malformed format '%s'", ln, s);
    strcpy(buf, s);
    char *off = strchr(buf, '+'), *skew = strchr(buf, ':'), *spf = strchr(buf, 'x');
    /* Modifiers must appear in the order x, :, + and only once each. */
    if ((off && strchr(off + 1, '+')) || (skew && strchr(skew + 1, ':')) || (spf && strchr(spf + 1, 'x')) ||
        (skew && off && skew > off) || (spf && skew && spf > skew) || (spf && off && spf > off))
        return kres_fail(path, "line %d: malformed format '%s'", ln, s);
    long v;
    if (off) {
        *off++ = '\0';
        if (parse_int_in(off, 0, LONG_MAX, &v) != 0) return kres_fail(path, "line %d: malformed byte offset in '%s'", ln, s);
        g->byte_offset = v;
    }
    if (skew) {
        *skew++ = '\0';
        if (parse_int_in(skew, 0, WFDB_MAX_SKEW, &v) != 0) return kres_fail(path, "line %d: malformed skew in '%s'", ln, s);
        g->skew = (int)v;
    }
    g->samples_per_frame = 1;
    if (spf) {
        *spf++ = '\0';
        if (parse_int_in(spf, 1, WFDB_MAX_SPF, &v) != 0) return kres_fail(path, "line %d: malformed samples per frame in '%s'", ln, s);
        g->samples_per_frame = (int)v;
    }
    if (parse_int_in(buf, 0, INT_MAX, &v) != 0) return kres_fail(path, "line %d: malformed format '%s'", ln, s);
    if (format_bits((int)v) == 0) return kres_fail(path, "line %d: unsupported signal format %ld (supported: 8, 16, 24, 32, 61, 80, 160, 212, 310, 311)", ln, v);
    g->format = (int)v;
    return 0;
}

/* Gain field: gain[(baseline)][/units]; returns has_baseline in *hb. */
static int parse_gain_field(const char *path, int ln, const char *s, WfdbSignal *g, int *hb) {
    char buf[128];
    if (strlen(s) >= sizeof buf) return kres_fail(path, "line %d: malformed ADC gain '%s'", ln, s);
    strcpy(buf, s);
    char *units = strchr(buf, '/');
    if (units) {
        *units++ = '\0';
        if (!*units || strpbrk(units, "/()")) return kres_fail(path, "line %d: malformed units in '%s'", ln, s);
        if (strlen(units) >= sizeof g->units) return kres_fail(path, "line %d: units '%s' are too long", ln, units);
        strcpy(g->units, units);
    }
    char *base = strchr(buf, '(');
    if (base) {
        size_t bl = strlen(base);
        if (bl < 3 || base[bl - 1] != ')' || strchr(base + 1, '(')) return kres_fail(path, "line %d: malformed baseline in '%s'", ln, s);
        *base++ = '\0';
        base[bl - 2] = '\0';
        long v;
        if (parse_int_in(base, INT_MIN, INT_MAX, &v) != 0) return kres_fail(path, "line %d: malformed baseline '%s'", ln, base);
        g->baseline = (int)v;
        *hb = 1;
    }
    if (strchr(buf, ')') || parse_double(buf, &g->gain) != 0) return kres_fail(path, "line %d: malformed ADC gain '%s'", ln, s);
    if (g->gain == 0) g->gain = 200.0; /* the specification's default */
    return 0;
}

/* Signal line: file format[xspf][:skew][+off] [gain[(base)][/units] [res [zero [init
 * [checksum [blocksize [description...]]]]]]]. Fields are positional, optional from the right. */
static int parse_signal_line(const char *path, int ln, char *line, WfdbSignal *g) {
    char *tok[8], *rest;
    int nt = split_tokens(line, tok, 8, &rest);
    memset(g, 0, sizeof *g);
    if (strlen(tok[0]) >= sizeof g->file) return kres_fail(path, "line %d: signal file name is too long", ln);
    strcpy(g->file, tok[0]);
    if (strcmp(g->file, "~") == 0) return kres_fail(path, "line %d: null signals (file '~') are not supported", ln);
    if (nt < 2) return kres_fail(path, "line %d: signal line lacks the format field", ln);
    if (parse_format_field(path, ln, tok[1], g) != 0) return -1;
    g->gain = 200.0;
    strcpy(g->units, "mV");
    int has_baseline = 0;
    if (nt >= 3 && parse_gain_field(path, ln, tok[2], g, &has_baseline) != 0) return -1;
    long v;
    g->adc_resolution = format_bits(g->format);
    if (nt >= 4) {
        if (parse_int_in(tok[3], 0, 32, &v) != 0) return kres_fail(path, "line %d: malformed ADC resolution '%s' (bits, 0-32)", ln, tok[3]);
        if (v > 0) g->adc_resolution = (int)v;
    }
    if (nt >= 5 && parse_int_in(tok[4], INT_MIN, INT_MAX, &v) != 0) return kres_fail(path, "line %d: malformed ADC zero '%s'", ln, tok[4]);
    if (nt >= 5) g->adc_zero = (int)v;
    if (!has_baseline) g->baseline = g->adc_zero; /* the specification's default */
    g->init_value = g->adc_zero;
    if (nt >= 6) {
        if (parse_int_in(tok[5], INT32_MIN, INT32_MAX, &v) != 0) return kres_fail(path, "line %d: malformed initial value '%s'", ln, tok[5]);
        g->init_value = v;
        g->has_init_value = 1;
    }
    if (nt >= 7) {
        /* 16-bit checksum, written signed by some tools and unsigned by others */
        if (parse_int_in(tok[6], -32768, 65535, &v) != 0) return kres_fail(path, "line %d: malformed checksum '%s' (16-bit)", ln, tok[6]);
        g->checksum = v;
        g->has_checksum = 1;
    }
    if (nt >= 8) {
        if (parse_int_in(tok[7], 0, INT_MAX, &v) != 0) return kres_fail(path, "line %d: malformed block size '%s'", ln, tok[7]);
        g->block_size = (int)v;
    }
    /* Description: the rest of the line, spaces included; cut at a UTF-8 boundary if long. */
    size_t dl = strlen(rest);
    if (dl >= sizeof g->description) {
        dl = sizeof g->description - 1;
        while (dl > 0 && ((unsigned char)rest[dl] & 0xC0) == 0x80) dl--;
    }
    memcpy(g->description, rest, dl);
    g->description[dl] = '\0';
    return 0;
}

/* Signals sharing a file must be on consecutive lines and agree on format and offset. */
static int check_groups(const char *path, const WfdbHeader *h) {
    for (int s = 1; s < h->nsig; s++) {
        const WfdbSignal *a = &h->sig[s - 1], *b = &h->sig[s];
        if (strcmp(a->file, b->file) == 0) {
            if (a->format != b->format)
                return kres_fail(path, "signals %d and %d share file %s but have formats %d and %d", s - 1, s, b->file, a->format, b->format);
            if (a->byte_offset != b->byte_offset && b->byte_offset != 0)
                return kres_fail(path, "signals %d and %d share file %s but have byte offsets %ld and %ld", s - 1, s, b->file, a->byte_offset, b->byte_offset);
            continue;
        }
        for (int k = 0; k < s - 1; k++)
            if (strcmp(h->sig[k].file, b->file) == 0)
                return kres_fail(path, "signals stored in %s must be on consecutive lines (signals %d and %d)", b->file, k, s);
    }
    return 0;
}

void wfdb_header_free(WfdbHeader *h) {
    if (!h) return;
    free(h->sig);
    for (int i = 0; i < h->ncomments; i++) free(h->comments[i]);
    free(h->comments);
    memset(h, 0, sizeof *h);
}

int wfdb_read_header(const char *record, WfdbHeader *h) {
    memset(h, 0, sizeof *h);
    char path[4096];
    if (record_paths(record, path, sizeof path, h->dir, sizeof h->dir) != 0) return -1;
    size_t len;
    char *text = read_file_all(path, &len);
    if (!text) return -1;
    int rc = -1, ln = 0, nsig_lines = 0, capc = 0, have_record = 0;
    if (strlen(text) != len) {
        kres_fail(path, "contains NUL bytes; not a WFDB header");
        goto done;
    }
    for (char *line = text, *next; line; line = next) {
        ln++;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r') line[--l] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '#') {
            if (capc == h->ncomments) {
                capc = capc ? 2 * capc : 8;
                h->comments = xrealloc(h->comments, (size_t)capc * sizeof *h->comments);
            }
            h->comments[h->ncomments++] = xstrdup(p + 1);
            continue;
        }
        if (!*p) continue; /* blank line */
        if (!have_record) {
            if (parse_record_line(path, ln, p, h) != 0) goto done;
            h->sig = xcalloc((size_t)h->nsig, sizeof *h->sig);
            have_record = 1;
        } else if (nsig_lines < h->nsig) {
            if (parse_signal_line(path, ln, p, &h->sig[nsig_lines]) != 0) goto done;
            nsig_lines++;
        } else {
            kres_fail(path, "line %d: more signal lines than the %d signals the record line declares", ln, h->nsig);
            goto done;
        }
    }
    if (!have_record) {
        kres_fail(path, "no record line; not a WFDB header");
        goto done;
    }
    if (nsig_lines < h->nsig) {
        kres_fail(path, "record line declares %d signals but there are only %d signal lines", h->nsig, nsig_lines);
        goto done;
    }
    for (int s = 0; s < h->nsig; s++) h->sig[s].to_mv = units_to_mv(h->sig[s].units);
    if (check_groups(path, h) != 0) goto done;
    rc = 0;
done:
    free(text);
    if (rc != 0) wfdb_header_free(h);
    return rc;
}

/* ---------------------------------------------------------------- loading */

/* A run of consecutive signals stored interleaved in one file. */
typedef struct {
    int first, count;      /* signals [first, first+count) */
    int format;
    long offset;           /* bytes to skip at the start of the file */
    int frame_len;         /* samples per frame in the file: sum of samples_per_frame */
    int max_skew;
    int64_t frames;        /* frames the file holds (= nsamples + max_skew) */
    char path[4096];
} Group;

static int make_groups(const WfdbHeader *h, Group *g) {
    int ng = 0;
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *sg = &h->sig[s];
        if (s == 0 || strcmp(sg->file, h->sig[s - 1].file) != 0) {
            memset(&g[ng], 0, sizeof g[ng]);
            g[ng].first = s;
            g[ng].format = sg->format;
            g[ng].offset = sg->byte_offset;
            if (signal_path(h, sg->file, g[ng].path, sizeof g[ng].path) != 0) return -1;
            ng++;
        }
        Group *cur = &g[ng - 1];
        cur->count++;
        cur->frame_len += sg->samples_per_frame;
        if (sg->skew > cur->max_skew) cur->max_skew = sg->skew;
    }
    return ng;
}

/* Check the file size against nsamples (or derive nsamples from it when 0). */
static int size_group(Group *g, long *nsamples) {
    struct stat st;
    if (stat(g->path, &st) != 0) return kres_fail(g->path, "cannot open signal file: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return kres_fail(g->path, "signal file is not a regular file");
    int64_t size = (int64_t)st.st_size;
    if (size < g->offset) return kres_fail(g->path, "file has %lld bytes, fewer than its byte offset %ld", (long long)size, g->offset);
    int64_t data = size - g->offset;
    if (*nsamples > 0) {
        g->frames = *nsamples + g->max_skew;
        int64_t need = stream_bytes(g->format, g->frames * g->frame_len);
        if (data < need)
            return kres_fail(g->path, "truncated: %ld samples per signal need %lld bytes of format %d data, the file holds %lld",
                             *nsamples, (long long)need, g->format, (long long)data);
        if (data > stream_bytes_padded(g->format, g->frames * g->frame_len))
            return kres_fail(g->path, "oversized: %ld samples per signal need %lld bytes of format %d data, the file holds %lld",
                             *nsamples, (long long)need, g->format, (long long)data);
        return 0;
    }
    /* No length in the header: as many whole frames as the file holds, and nothing more. */
    g->frames = stream_samples(g->format, data) / g->frame_len;
    if (data > stream_bytes_padded(g->format, g->frames * g->frame_len))
        return kres_fail(g->path, "file size (%lld data bytes) is not a whole number of %d-sample frames of format %d",
                         (long long)data, g->frame_len, g->format);
    if (g->frames <= g->max_skew) return kres_fail(g->path, "signal file holds no samples");
    if (g->frames - g->max_skew > WFDB_MAX_SAMPLES) return kres_fail(g->path, "signal file is too large");
    *nsamples = (long)(g->frames - g->max_skew);
    return 0;
}

/* Read one group's file with a single fread and decode it into the record. */
static int load_group(const Group *g, WfdbRecord *r) {
    const WfdbHeader *h = &r->h;
    const int64_t n = h->nsamples, nstream = g->frames * g->frame_len;
    const int64_t nbytes = stream_bytes(g->format, nstream);
    FILE *fp = fopen(g->path, "rb");
    if (!fp) return kres_fail(g->path, "cannot open signal file: %s", strerror(errno));
    uint8_t *bytes = xmalloc((size_t)nbytes);
    int ok = fseek(fp, g->offset, SEEK_SET) == 0 && fread(bytes, 1, (size_t)nbytes, fp) == (size_t)nbytes;
    fclose(fp);
    if (!ok) {
        free(bytes);
        return kres_fail(g->path, "read error or file changed while reading");
    }
    int32_t *stream = xmalloc((size_t)nstream * sizeof *stream);
    decode_stream(g->format, bytes, nstream, stream);
    free(bytes);

    int pos = 0; /* position of the signal's first sample within a frame */
    int32_t *full = NULL;
    for (int s = g->first; s < g->first + g->count; s++) {
        const WfdbSignal *sg = &h->sig[s];
        const int spf = sg->samples_per_frame, stride = g->frame_len;
        int32_t *dst = r->raw + (size_t)s * (size_t)n;
        uint64_t sum = 0; /* wraps modulo 2^64, a multiple of 65536: the checksum is exact */
        int32_t first;
        if (spf == 1 && g->format != 8) {
            /* Common case: one sample per frame, stored as is. */
            const int32_t *src = stream + pos;
            for (int64_t k = 0; k < g->frames; k++) sum += (uint64_t)(int64_t)src[k * stride];
            for (int64_t t = 0; t < n; t++) dst[t] = src[(t + sg->skew) * stride];
            first = src[0];
        } else {
            /* Gather the signal's samples at full rate; format 8 accumulates differences
             * starting from the initial value. */
            int64_t nf = g->frames * spf;
            full = xrealloc(full, (size_t)nf * sizeof *full);
            for (int64_t k = 0; k < nf; k++) full[k] = stream[(k / spf) * stride + pos + k % spf];
            if (g->format == 8) {
                int64_t acc = sg->init_value;
                for (int64_t k = 0; k < nf; k++) {
                    acc += full[k];
                    if (acc < INT32_MIN || acc > INT32_MAX) {
                        free(full);
                        free(stream);
                        return kres_fail(g->path, "signal %d: format 8 differences overflow 32 bits", s);
                    }
                    full[k] = (int32_t)acc;
                }
            }
            for (int64_t k = 0; k < nf; k++) sum += (uint64_t)(int64_t)full[k];
            first = full[0];
            /* Several samples per frame: the frame-rate value is their mean, rounded half away
             * from zero (as rdsamp reports them without -H). */
            for (int64_t t = 0; t < n; t++) {
                const int32_t *q = full + (t + sg->skew) * spf;
                int64_t m = 0;
                for (int j = 0; j < spf; j++) m += q[j];
                dst[t] = (int32_t)(m >= 0 ? (m + spf / 2) / spf : -((-m + spf / 2) / spf));
            }
        }
        pos += spf;
        /* Checksum: 16-bit sum of every sample of the signal in the file, either sign. */
        r->checksum_ok[s] = sg->has_checksum ? ((sum - (uint64_t)sg->checksum) & 0xFFFF) == 0 : -1;
        r->init_ok[s] = sg->has_init_value ? (first == sg->init_value) : -1;
    }
    free(full);
    free(stream);
    return 0;
}

void wfdb_record_free(WfdbRecord *r) {
    if (!r) return;
    wfdb_header_free(&r->h);
    free(r->raw);
    free(r->mv);
    free(r->checksum_ok);
    free(r->init_ok);
    memset(r, 0, sizeof *r);
}

int wfdb_load(const char *record, WfdbRecord *r, int strict) {
    memset(r, 0, sizeof *r);
    if (wfdb_read_header(record, &r->h) != 0) return -1;
    WfdbHeader *h = &r->h;
    Group *groups = xmalloc((size_t)h->nsig * sizeof *groups);
    int ng = make_groups(h, groups);
    if (ng < 0) goto fail;
    /* Size every file first: derive the length from the first, then hold the others to it. */
    long n = h->nsamples;
    for (int i = 0; i < ng; i++)
        if (size_group(&groups[i], &n) != 0) goto fail;
    h->nsamples = n;
    if ((uint64_t)n * (uint64_t)h->nsig > SIZE_MAX / sizeof(int32_t)) {
        kres_fail(groups[0].path, "record is too large for memory");
        goto fail;
    }
    size_t total = (size_t)n * (size_t)h->nsig;
    r->raw = xmalloc(total * sizeof *r->raw);
    r->mv = xmalloc(total * sizeof *r->mv);
    r->checksum_ok = xmalloc((size_t)h->nsig * sizeof *r->checksum_ok);
    r->init_ok = xmalloc((size_t)h->nsig * sizeof *r->init_ok);
    for (int i = 0; i < ng; i++)
        if (load_group(&groups[i], r) != 0) goto fail;
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *sg = &h->sig[s];
        const int32_t *raw = r->raw + (size_t)s * (size_t)n;
        float *mv = r->mv + (size_t)s * (size_t)n;
        const double base = sg->baseline, gain = sg->gain, to_mv = sg->to_mv;
        for (long t = 0; t < n; t++) mv[t] = (float)(((double)raw[t] - base) / gain * to_mv);
    }
    if (strict) {
        for (int s = 0; s < h->nsig; s++) {
            const char *name = h->sig[s].description[0] ? h->sig[s].description : "(unnamed)";
            char dat[4096];
            if (signal_path(h, h->sig[s].file, dat, sizeof dat) != 0) goto fail;
            if (r->checksum_ok[s] == 0) {
                kres_fail(dat, "signal %d (%s): checksum mismatch (header says %ld)", s, name, h->sig[s].checksum);
                goto fail;
            }
            if (r->init_ok[s] == 0) {
                kres_fail(dat, "signal %d (%s): first sample %d differs from the header's initial value %ld", s, name,
                          r->raw[(size_t)s * (size_t)n], h->sig[s].init_value);
                goto fail;
            }
        }
    }
    free(groups);
    return 0;
fail:
    free(groups);
    wfdb_record_free(r);
    return -1;
}

/* ---------------------------------------------------------------- writing */

/* Shortest %g text that reads back as exactly x, avoiding exponents where possible. */
static void fmt_num(char *out, size_t n, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, x);
        if (strtod(out, NULL) == x && (prec == 17 || !strchr(out, 'e'))) return;
    }
}

static int bad_token(const char *s) { return !*s || strpbrk(s, " \t\r\n") != NULL; }

/* What a written record is called on disk: "<record>.hea", the ".dat" beside it, and the
 * record name (the path's last part), which the header repeats on its record line. */
typedef struct {
    char hea[4096], dat[4096], name[256];
} RecordNames;

/* Record-level fields: a format this writer encodes, sizes within the reader's limits, a
 * usable rate, and a date only with a time (the record line's fields are positional). */
static int check_record_fields(const char *hea, const WfdbHeader *h, int format) {
    if (format_bits(format) == 0) return kres_fail(hea, "cannot write unsupported signal format %d", format);
    if (h->nsig <= 0 || h->nsig > WFDB_MAX_SIGNALS) return kres_fail(hea, "cannot write %d signals (1-%d)", h->nsig, WFDB_MAX_SIGNALS);
    if (h->nsamples <= 0 || h->nsamples > WFDB_MAX_SAMPLES) return kres_fail(hea, "cannot write %ld samples", h->nsamples);
    if (!(h->fs > 0) || !isfinite(h->fs)) return kres_fail(hea, "sampling frequency must be positive");
    if (h->base_date[0] && !h->base_time[0]) return kres_fail(hea, "a base date needs a base time");
    return 0;
}

/* Names: the header's record name and the .dat file are the record path's last part. */
static int name_record_files(RecordNames *r) {
    const char *base = strrchr(r->hea, '/');
    base = base ? base + 1 : r->hea;
    size_t bl = strlen(base) - 4; /* record_paths ended hea in ".hea" */
    if (bl == 0 || bl >= sizeof r->name - 4) return kres_fail(r->hea, "bad record name");
    memcpy(r->name, base, bl);
    r->name[bl] = '\0';
    /* the record line is whitespace-separated, and a '/' would read as a segment count */
    if (bad_token(r->name) || strchr(r->name, '/')) return kres_fail(r->hea, "record name must not contain spaces");
    /* dat is as large as hea, so ".hea" -> ".dat" always fits */
    memcpy(r->dat, r->hea, strlen(r->hea) - 4);
    strcpy(r->dat + strlen(r->hea) - 4, ".dat");
    return 0;
}

/* Signal fields that would not read back: a non-finite gain, units that would split the
 * gain field, and line breaks, which would start a new header line. */
static int check_signal_text(const char *hea, const WfdbHeader *h) {
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *sg = &h->sig[s];
        if (!isfinite(sg->gain)) return kres_fail(hea, "signal %d: gain is not finite", s);
        /* "(", ")" and "/" delimit the gain field "gain(baseline)/units" */
        if (sg->units[0] && (bad_token(sg->units) || strpbrk(sg->units, "()/")))
            return kres_fail(hea, "signal %d: units '%s' cannot be written", s, sg->units);
        if (strpbrk(sg->description, "\r\n")) return kres_fail(hea, "signal %d: description contains a line break", s);
    }
    for (int i = 0; i < h->ncomments; i++)
        if (strpbrk(h->comments[i], "\r\n")) return kres_fail(hea, "comment %d contains a line break", i);
    return 0;
}

/* Interleave frames; format 8 stores differences from the previous sample (the first
 * from the initial value, which is the first sample, so it is 0). Every value is checked
 * against the format here, before any file is touched, and each signal's checksum summed. */
static int interleave_samples(const char *dat, const WfdbHeader *h, const int32_t *raw, int format,
                              int32_t *stream, long *sums) {
    const int nsig = h->nsig;
    const int64_t n = h->nsamples;
    int64_t lo, hi;
    format_range(format, &lo, &hi);
    for (int s = 0; s < nsig; s++) {
        const int32_t *x = raw + (size_t)s * (size_t)n;
        uint64_t sum = 0; /* modulo 2^64, then 65536 */
        for (int64_t t = 0; t < n; t++) {
            int64_t v = x[t];
            if (v < lo || v > hi)
                return kres_fail(dat, "signal %d sample %lld: value %lld does not fit format %d (%lld..%lld)", s,
                                 (long long)t, (long long)v, format, (long long)lo, (long long)hi);
            if (format == 8) {
                v = t ? v - x[t - 1] : 0;
                if (v < -128 || v > 127)
                    return kres_fail(dat, "signal %d sample %lld: step %lld does not fit format 8 (-128..127)", s,
                                     (long long)t, (long long)v);
            }
            stream[t * nsig + s] = (int32_t)v;
            sum += (uint64_t)(int64_t)x[t];
        }
        /* Written signed, as the WFDB library does. */
        long c = (long)(sum & 0xFFFF);
        sums[s] = c >= 32768 ? c - 65536 : c;
    }
    return 0;
}

/* Pack the interleaved stream in `format` and write the .dat atomically. */
static int write_dat(const char *dat, int format, const int32_t *stream, int64_t nstream) {
    int64_t nbytes = stream_bytes(format, nstream);
    uint8_t *bytes = xcalloc((size_t)nbytes, 1);
    encode_stream(format, stream, nstream, bytes);
    int rc = write_file_atomic(dat, bytes, (size_t)nbytes);
    free(bytes);
    return rc;
}

/* Record line: name nsig fs[/counter_freq(base_counter)] nsamples [time [date]]. */
static void print_record_line(FILE *fp, const char *name, const WfdbHeader *h) {
    char fs[64], cf[64], bc[64];
    fmt_num(fs, sizeof fs, h->fs);
    fprintf(fp, "%s %d %s", name, h->nsig, fs);
    if (h->counter_freq > 0) {
        fmt_num(cf, sizeof cf, h->counter_freq);
        fmt_num(bc, sizeof bc, h->base_counter);
        fprintf(fp, "/%s(%s)", cf, bc);
    }
    fprintf(fp, " %ld", h->nsamples);
    if (h->base_time[0]) fprintf(fp, " %s", h->base_time);
    if (h->base_date[0]) fprintf(fp, " %s", h->base_date);
    fputc('\n', fp);
}

/* The .hea: record line, one line per signal (with its first sample and checksum, which
 * readers verify), then the comments; atomically. */
static int write_hea(const RecordNames *r, const WfdbHeader *h, const int32_t *raw, int format, const long *sums) {
    AtomicFile af;
    if (atomic_open(&af, r->hea) != 0) return -1;
    print_record_line(af.fp, r->name, h);
    for (int s = 0; s < h->nsig; s++) {
        const WfdbSignal *sg = &h->sig[s];
        /* a resolution the format cannot hold (or none) is written as the format's own */
        int res = sg->adc_resolution;
        if (res <= 0 || res > format_bits(format)) res = format_bits(format);
        char gain[64];
        fmt_num(gain, sizeof gain, sg->gain == 0 ? 200.0 : sg->gain); /* 0 means 200 (wfdb.h) */
        fprintf(af.fp, "%s.dat %d %s(%d)/%s %d %d %d %ld 0", r->name, format, gain, sg->baseline,
                sg->units[0] ? sg->units : "mV", res, sg->adc_zero, raw[(size_t)s * (size_t)h->nsamples], sums[s]);
        if (sg->description[0]) fprintf(af.fp, " %s", sg->description);
        fputc('\n', af.fp);
    }
    for (int i = 0; i < h->ncomments; i++) fprintf(af.fp, "#%s\n", h->comments[i]);
    if (ferror(af.fp)) {
        atomic_abort(&af);
        return kres_fail(r->hea, "write error");
    }
    return atomic_commit(&af);
}

int wfdb_write(const char *record, const WfdbHeader *h, const int32_t *raw, int format) {
    RecordNames r;
    char dir[1024];
    /* Everything is checked before anything is written. */
    if (record_paths(record, r.hea, sizeof r.hea, dir, sizeof dir) != 0) return -1;
    if (check_record_fields(r.hea, h, format) != 0) return -1;
    if (name_record_files(&r) != 0) return -1;
    if (check_signal_text(r.hea, h) != 0) return -1;

    const int64_t nstream = (int64_t)h->nsamples * h->nsig;
    int32_t *stream = xmalloc((size_t)nstream * sizeof *stream);
    long *sums = xcalloc((size_t)h->nsig, sizeof *sums);
    int rc = -1;
    if (interleave_samples(r.dat, h, raw, format, stream, sums) != 0) goto out;
    /* The .dat goes first: a header is only written once the signal file it names is. */
    if (write_dat(r.dat, format, stream, nstream) != 0) goto out;
    rc = write_hea(&r, h, raw, format, sums);
out:
    free(stream);
    free(sums);
    return rc;
}

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; }

int wfdb_find_lead(const WfdbHeader *h, const char *name) {
    for (int s = 0; s < h->nsig; s++) {
        const unsigned char *a = (const unsigned char *)h->sig[s].description, *b = (const unsigned char *)name;
        while (*a && ascii_lower(*a) == ascii_lower(*b)) a++, b++;
        if (!*a && !*b) return s;
    }
    return -1;
}
