/* test_wfdb.c — WFDB reader/writer on real PTB-XL records, round trips in every supported
 * format, optional header fields, and a corpus of malformed headers and signal files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "data/wfdb.h"
#include "test.h"

/* ---------------------------------------------------------------- scratch directory */

static char g_dir[64];
static char *g_files[512];
static int g_nfiles;

/* Path of `name` inside the scratch directory; remembered so it is removed at the end. */
static const char *scratch(const char *name) {
    static char buf[8][512];
    static int k;
    char *out = buf[k++ % 8];
    snprintf(out, sizeof buf[0], "%s/%s", g_dir, name);
    for (int i = 0; i < g_nfiles; i++)
        if (strcmp(g_files[i], out) == 0) return out;
    KRES_ASSERT(g_nfiles < 512);
    g_files[g_nfiles++] = xstrdup(out);
    return out;
}

static void put_bytes(const char *name, const void *data, size_t n) {
    FILE *fp = fopen(scratch(name), "wb");
    KRES_ASSERT(fp);
    if (n) KRES_ASSERT(fwrite(data, 1, n, fp) == n);
    fclose(fp);
}

static void put_text(const char *name, const char *text) { put_bytes(name, text, strlen(text)); }

static void put_zeros(const char *name, size_t n) {
    char *z = xcalloc(n ? n : 1, 1);
    put_bytes(name, z, n);
    free(z);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void cleanup(void) {
    for (int i = 0; i < g_nfiles; i++) {
        unlink(g_files[i]);
        free(g_files[i]);
    }
    rmdir(g_dir);
}

/* ---------------------------------------------------------------- real records */

/* Every bundled 100 Hz record loads strictly: 12 leads, 1000 samples, checksums and initial
 * values matching the header, PTB-XL's gain and units. */
static void test_bundled_records(void) {
    double t0 = now_seconds();
    int loaded = 0;
    for (int i = 1; i <= 500; i++) {
        char rec[256];
        snprintf(rec, sizeof rec, SAMPLE_DIR "/records100/00000/%05d_lr", i);
        WfdbRecord r;
        int rc = wfdb_load(rec, &r, 0);
        int ok = rc == 0 && r.h.nsig == 12 && r.h.nsamples == 1000 && r.h.fs == 100.0;
        for (int s = 0; ok && s < 12; s++)
            ok = r.checksum_ok[s] == 1 && r.init_ok[s] == 1 && r.h.sig[s].gain == 1000.0 &&
                 r.h.sig[s].baseline == 0 && strcmp(r.h.sig[s].units, "mV") == 0 && r.h.sig[s].to_mv == 1.0 &&
                 r.h.sig[s].format == 16;
        CHECKF(ok, "%s: %s", rec, rc ? kres_last_error() : "wrong header facts or checksum");
        loaded += ok;
        if (rc == 0) wfdb_record_free(&r);
    }
    printf("loaded %d bundled records in %.3f s\n", loaded, now_seconds() - t0);
}

/* Reference values were computed independently of this code, from the .dat bytes, with
 *   python3 -c "import struct; b=open(P,'rb').read(); v=struct.unpack('<%dh'%(len(b)//2), b);
 *               print(v[t*12+s])"
 * (format 16 = little-endian int16, 12 interleaved leads; mV = value/1000 since every lead
 * has gain 1000.0 and baseline 0). Lead order I II III AVR AVL AVF V1..V6 (s = 0..11). */
static void test_known_values(void) {
    WfdbRecord r;
    int rc = wfdb_load(SAMPLE_DIR "/records100/00000/00001_lr", &r, 1);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc != 0) return;
    const long n = r.h.nsamples;
    const int lead_i[5] = {-119, -116, -120, -117, -103}; /* 00001_lr lead I, samples 0..4 */
    for (int t = 0; t < 5; t++) {
        CHECK(r.raw[t] == lead_i[t]);
        CHECK_CLOSE(r.mv[t], lead_i[t] / 1000.0, 1e-7, 0);
    }
    CHECK(r.raw[6 * n + 123] == 25);   /* V1 sample 123 */
    CHECK(r.raw[11 * n + 500] == -83); /* V6 sample 500 */
    CHECK(r.raw[11 * n + 999] == -120); /* V6 last sample */
    CHECK_CLOSE(r.mv[11 * n + 500], -0.083, 1e-7, 0);
    /* Header facts straight from 00001_lr.hea: checksum written unsigned (64758 for III). */
    CHECK(strcmp(r.h.record_name, "00001_lr") == 0);
    CHECK(r.h.sig[0].init_value == -119 && r.h.sig[0].checksum == 1508);
    CHECK(r.h.sig[2].checksum == 64758 && r.checksum_ok[2] == 1);
    CHECK(strcmp(r.h.sig[3].description, "AVR") == 0 && strcmp(r.h.sig[11].file, "00001_lr.dat") == 0);
    CHECK(r.h.ncomments == 0 && r.h.counter_freq == 0 && r.h.base_time[0] == '\0');
    /* Lead lookup is case-insensitive. */
    CHECK(wfdb_find_lead(&r.h, "aVR") == 3);
    CHECK(wfdb_find_lead(&r.h, "avr") == 3);
    CHECK(wfdb_find_lead(&r.h, "I") == 0);
    CHECK(wfdb_find_lead(&r.h, "ii") == 1);
    CHECK(wfdb_find_lead(&r.h, "v6") == 11);
    CHECK(wfdb_find_lead(&r.h, "V") == -1);
    CHECK(wfdb_find_lead(&r.h, "V66") == -1);
    CHECK(wfdb_find_lead(&r.h, "") == -1);
    wfdb_record_free(&r);

    /* The ".hea" suffix is accepted and ignored. */
    rc = wfdb_load(SAMPLE_DIR "/records100/00000/00002_lr.hea", &r, 1);
    CHECKF(rc == 0 && strcmp(r.h.record_name, "00002_lr") == 0, "%s", kres_last_error());
    if (rc == 0) wfdb_record_free(&r);

    /* 500 Hz version of record 1 (shared, read-only), same derivation as above. */
    rc = wfdb_load(SHARED_PTBXL "/records500/00000/00001_hr", &r, 1);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc != 0) return;
    CHECK(r.h.fs == 500.0 && r.h.nsamples == 5000 && r.h.nsig == 12);
    for (int t = 0; t < 5; t++) CHECK(r.raw[t] == -115); /* lead I samples 0..4 */
    CHECK(r.raw[1 * 5000 + 2500] == -70);                /* II sample 2500 */
    CHECK(r.raw[11 * 5000 + 4999] == 180);               /* V6 last sample */
    CHECK_CLOSE(r.mv[11 * 5000 + 4999], 0.180, 1e-7, 0);
    wfdb_record_free(&r);
}

/* ---------------------------------------------------------------- round trips */

static const int FORMATS[] = {8, 16, 24, 32, 61, 80, 160, 212, 310, 311};
#define NFORMATS ((int)(sizeof FORMATS / sizeof FORMATS[0]))

static void format_limits(int f, long *lo, long *hi) {
    int bits = f == 8 || f == 80 ? 8 : f == 212 ? 12 : f == 310 || f == 311 ? 10 : f == 24 ? 24 : f == 32 ? 32 : 16;
    *lo = -(1L << (bits - 1));
    *hi = (1L << (bits - 1)) - 1;
}

/* .dat size for n interleaved samples, from the WFDB signal(5) page: 212 packs a pair into
 * 3 bytes (a lone last sample in 2); 310/311 pack a triple into 4 bytes (310 tail: 2 or 4
 * bytes, 311 tail: 2 or 3 bytes). */
static long expected_dat_size(int f, long n) {
    switch (f) {
    case 8: case 80: return n;
    case 16: case 61: case 160: return 2 * n;
    case 24: return 3 * n;
    case 32: return 4 * n;
    case 212: return (3 * n + 1) / 2;
    case 310: return 4 * (n / 3) + (n % 3 == 0 ? 0 : n % 3 == 1 ? 2 : 4);
    default: return 4 * (n / 3) + (n % 3 == 0 ? 0 : n % 3 == 1 ? 2 : 3);
    }
}

static void fill_header(WfdbHeader *h, int nsig, long n) {
    memset(h, 0, sizeof *h);
    h->nsig = nsig;
    h->nsamples = n;
    h->fs = 500;
    h->sig = xcalloc((size_t)nsig, sizeof *h->sig);
    static const double gains[4] = {200.5, 1000, 0, 3.25};
    static const int bases[4] = {0, -7, 12, 100};
    static const char *units[4] = {"mV", "uV", "", "V"};
    for (int s = 0; s < nsig; s++) {
        h->sig[s].gain = gains[s % 4];
        h->sig[s].baseline = bases[s % 4];
        h->sig[s].adc_zero = bases[s % 4];
        strcpy(h->sig[s].units, units[s % 4]);
        snprintf(h->sig[s].description, sizeof h->sig[s].description, "lead %d", s);
    }
}

/* Write a multi-signal record holding the format's extreme values in every supported
 * format and shape (odd/even sample counts exercise the packed formats' partial blocks),
 * read it back: identical raw values, physical values from the header's gain/baseline/units,
 * checksums and initial values matching, and the .dat exactly as large as the spec says. */
static void test_round_trips(void) {
    static const int shapes[][2] = {{3, 7}, {2, 5}, {1, 5}, {1, 4}, {4, 6}, {12, 1}};
    Rng rng;
    rng_seed(&rng, 7);
    for (int fi = 0; fi < NFORMATS; fi++) {
        const int f = FORMATS[fi];
        long lo, hi;
        format_limits(f, &lo, &hi);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int nsig = shapes[si][0];
            const long n = shapes[si][1];
            WfdbHeader h;
            fill_header(&h, nsig, n);
            int32_t *raw = xmalloc((size_t)(nsig * n) * sizeof *raw);
            for (int s = 0; s < nsig; s++)
                for (long t = 0; t < n; t++) {
                    int32_t *v = &raw[s * n + t];
                    if (f == 8) {
                        /* Format 8 stores steps: walk with the extreme steps -128 and +127. */
                        static const int steps[] = {127, -128, 0, -1, 1, 100, -77};
                        *v = t == 0 ? (int32_t)(1000 * s - 2000) : v[-1] + steps[(t + s) % 7];
                    } else {
                        const long edge[] = {lo, hi, 0, -1, 1, lo + 1, hi - 1};
                        long k = (t + 3 * s) % 9;
                        *v = k < 7 ? (int32_t)edge[k] : (int32_t)(lo + (long)rng_below(&rng, (uint64_t)(hi - lo + 1)));
                    }
                }
            char name[64], rec[512];
            snprintf(name, sizeof name, "rt_%d_%d_%ld", f, nsig, n);
            snprintf(rec, sizeof rec, "%s", scratch(name));
            char hea[600], dat[600];
            snprintf(hea, sizeof hea, "%s.hea", name);
            snprintf(dat, sizeof dat, "%s.dat", name);
            snprintf(hea, sizeof hea, "%s", scratch(hea));
            snprintf(dat, sizeof dat, "%s", scratch(dat));
            int rc = wfdb_write(rec, &h, raw, f);
            CHECKF(rc == 0, "write format %d: %s", f, kres_last_error());
            CHECKF(file_size(dat) == expected_dat_size(f, nsig * n), "format %d shape %dx%ld: %ld bytes", f, nsig, n,
                   file_size(dat));
            WfdbRecord r;
            rc = wfdb_load(rec, &r, 1);
            CHECKF(rc == 0, "read back format %d: %s", f, kres_last_error());
            if (rc == 0) {
                int same = r.h.nsig == nsig && r.h.nsamples == n && r.h.fs == 500;
                int mv_ok = 1, sums_ok = 1;
                for (int s = 0; s < nsig && same; s++) {
                    const WfdbSignal *g = &r.h.sig[s];
                    same = g->format == f && strcmp(g->description, h.sig[s].description) == 0;
                    double gain = h.sig[s].gain == 0 ? 200 : h.sig[s].gain;
                    double to_mv = strcmp(h.sig[s].units, "uV") == 0 ? 1e-3 : strcmp(h.sig[s].units, "V") == 0 ? 1e3 : 1;
                    sums_ok &= r.checksum_ok[s] == 1 && r.init_ok[s] == 1;
                    for (long t = 0; t < n; t++) {
                        same &= r.raw[s * n + t] == raw[s * n + t];
                        double want = ((double)raw[s * n + t] - h.sig[s].baseline) / gain * to_mv;
                        mv_ok &= fabs(r.mv[s * n + t] - want) <= 1e-6 * fabs(want) + 1e-30;
                    }
                }
                CHECKF(same, "format %d shape %dx%ld: raw values differ", f, nsig, n);
                CHECKF(mv_ok, "format %d shape %dx%ld: mV values differ", f, nsig, n);
                CHECKF(sums_ok, "format %d shape %dx%ld: checksum/init", f, nsig, n);
                wfdb_record_free(&r);
            }
            free(raw);
            wfdb_header_free(&h);
        }
    }
}

/* Exact bytes for a few values, worked out by hand from the WFDB signal(5) page. */
static void test_exact_bytes(void) {
    static const struct {
        int format, n;
        int32_t v[3];
        int nbytes;
        uint8_t bytes[8];
    } cases[] = {
        /* 212: pair (0x800, 0x7FF) -> 00, (low nibble 8 | high nibble 7<<4) = 78, FF; lone 1 -> 01 00 */
        {212, 3, {-2048, 2047, 1}, 5, {0x00, 0x78, 0xFF, 0x01, 0x00}},
        /* 310: w0 = 1<<1 | (3 & 31)<<11 = 0x1802, w1 = 2<<1 = 0x0004, little-endian words */
        {310, 3, {1, 2, 3}, 4, {0x02, 0x18, 0x04, 0x00}},
        /* 311: w = 0x3FF | 0<<10 | 1<<20 = 0x001003FF */
        {311, 3, {-1, 0, 1}, 4, {0xFF, 0x03, 0x10, 0x00}},
        {61, 1, {0x1234}, 2, {0x12, 0x34}},          /* big-endian */
        {16, 1, {0x1234}, 2, {0x34, 0x12}},          /* little-endian */
        {160, 1, {0}, 2, {0x00, 0x80}},              /* offset binary */
        {80, 2, {-128, 127}, 2, {0x00, 0xFF}},       /* offset binary */
        {24, 1, {-2}, 3, {0xFE, 0xFF, 0xFF}},
        {32, 1, {-2147483647 - 1}, 4, {0x00, 0x00, 0x00, 0x80}},
        {8, 3, {5, 10, 3}, 3, {0x00, 0x05, 0xF9}},   /* steps from the initial value 5: 0, +5, -7 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        WfdbHeader h;
        fill_header(&h, 1, cases[i].n);
        char name[32], dat[40], hea[40];
        snprintf(name, sizeof name, "eb_%d", cases[i].format);
        snprintf(dat, sizeof dat, "%s.dat", name);
        snprintf(hea, sizeof hea, "%s.hea", name);
        scratch(hea); /* registered for cleanup */
        int rc = wfdb_write(scratch(name), &h, cases[i].v, cases[i].format);
        CHECKF(rc == 0, "%s", kres_last_error());
        size_t len = 0;
        char *got = read_file_all(scratch(dat), &len);
        CHECKF(got && (int)len == cases[i].nbytes && memcmp(got, cases[i].bytes, len) == 0, "format %d bytes",
               cases[i].format);
        free(got);
        wfdb_header_free(&h);
    }
}

/* ---------------------------------------------------------------- optional header fields */

static void put_i16(uint8_t *p, int v) {
    p[0] = (uint8_t)((unsigned)v & 0xFF);
    p[1] = (uint8_t)(((unsigned)v >> 8) & 0xFF);
}

/* A header using every optional field: counter frequency and base counter, base time and
 * date, comments before/between/after, "16x2" (two samples per frame), ":1" skew, "+6" byte
 * offset, gain 0 (= 200), baseline, uV units, missing baseline (= ADC zero), missing units,
 * initial value and checksum, a description with a space, and a bare "file format" line. */
static void test_optional_fields(void) {
    put_text("opt.hea",
             "# leading comment\n"
             "opt 3 360/720(5) 4 12:30:00 01/02/2003\r\n"
             "#between\n"
             "\n"
             "opt.dat 16x2+6 0(1024)/uV 12 1024 1030 6431 0 Lead one\n"
             "opt.dat 16:1 200 16 7\n"
             "opt.dat 16\n"
             "  # trailing comment\n");
    /* Five frames (4 samples + skew 1), each [a, a', b, c]; 6 junk bytes first. */
    const int a[10] = {1030, 1032, 1040, 1041, 1050, 1052, -7, -8, 100, 101};
    const int b[5] = {10, 20, 30, 40, 50}, c[5] = {1, 2, 3, 4, 5};
    uint8_t bytes[6 + 40];
    memset(bytes, 0xAB, 6);
    for (int k = 0; k < 5; k++) {
        put_i16(bytes + 6 + 8 * k, a[2 * k]);
        put_i16(bytes + 6 + 8 * k + 2, a[2 * k + 1]);
        put_i16(bytes + 6 + 8 * k + 4, b[k]);
        put_i16(bytes + 6 + 8 * k + 6, c[k]);
    }
    put_bytes("opt.dat", bytes, sizeof bytes);
    WfdbRecord r;
    int rc = wfdb_load(scratch("opt"), &r, 1);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc != 0) return;
    const WfdbHeader *h = &r.h;
    CHECK(strcmp(h->record_name, "opt") == 0 && h->nsig == 3 && h->nsamples == 4);
    CHECK(h->fs == 360 && h->counter_freq == 720 && h->base_counter == 5);
    CHECK(strcmp(h->base_time, "12:30:00") == 0 && strcmp(h->base_date, "01/02/2003") == 0);
    CHECK(h->ncomments == 3 && strcmp(h->comments[0], " leading comment") == 0 &&
          strcmp(h->comments[1], "between") == 0 && strcmp(h->comments[2], " trailing comment") == 0);
    const WfdbSignal *s0 = &h->sig[0], *s1 = &h->sig[1], *s2 = &h->sig[2];
    CHECK(s0->samples_per_frame == 2 && s0->byte_offset == 6 && s0->skew == 0);
    CHECK(s0->gain == 200 && s0->baseline == 1024 && strcmp(s0->units, "uV") == 0 && s0->to_mv == 1e-3);
    CHECK(s0->adc_resolution == 12 && s0->adc_zero == 1024 && s0->init_value == 1030 && s0->has_init_value);
    CHECK(s0->checksum == 6431 && s0->has_checksum && strcmp(s0->description, "Lead one") == 0);
    CHECK(s1->skew == 1 && s1->samples_per_frame == 1 && s1->gain == 200 && s1->adc_zero == 7);
    CHECK(s1->baseline == 7 && strcmp(s1->units, "mV") == 0 && !s1->has_init_value && !s1->has_checksum);
    CHECK(s2->gain == 200 && s2->baseline == 0 && s2->adc_resolution == 16 && s2->description[0] == '\0');
    /* 16x2: frame-rate value = mean of the pair, rounded half away from zero. */
    const int want0[4] = {1031, 1041, 1051, -8};
    for (int t = 0; t < 4; t++) {
        CHECK(r.raw[t] == want0[t]);
        CHECK(r.raw[4 + t] == b[t + 1]); /* skew 1: sample t is in frame t+1 */
        CHECK(r.raw[8 + t] == c[t]);
    }
    CHECK_CLOSE(r.mv[0], (1031 - 1024) / 200.0 * 1e-3, 1e-12, 1e-6);
    CHECK_CLOSE(r.mv[4], (20 - 7) / 200.0, 1e-9, 1e-6);
    CHECK(r.checksum_ok[0] == 1 && r.init_ok[0] == 1);
    CHECK(r.checksum_ok[1] == -1 && r.init_ok[1] == -1 && r.checksum_ok[2] == -1);
    wfdb_record_free(&r);

    /* Minimal header: defaults everywhere, length derived from the file (2 x 3 samples of
     * format 212 = 9 bytes). */
    put_text("min.hea", "min 2\nmin.dat 212\nmin.dat 212\n");
    uint8_t b212[9] = {0x01, 0x00, 0x02, 0x03, 0xF0, 0xFF, 0x05, 0x00, 0x06};
    put_bytes("min.dat", b212, sizeof b212);
    rc = wfdb_load(scratch("min"), &r, 1);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc == 0) {
        CHECK(r.h.fs == 250 && r.h.nsamples == 3 && r.h.sig[0].gain == 200 && r.h.sig[0].adc_resolution == 12);
        CHECK(strcmp(r.h.sig[1].units, "mV") == 0 && r.checksum_ok[0] == -1 && r.init_ok[1] == -1);
        /* stream: 1, 2 | 3, -1 | 5, 6  ->  signal 0: 1 3 5, signal 1: 2 -1 6 */
        CHECK(r.raw[0] == 1 && r.raw[1] == 3 && r.raw[2] == 5 && r.raw[3] == 2 && r.raw[4] == -1 && r.raw[5] == 6);
        CHECK_CLOSE(r.mv[4], -1 / 200.0, 1e-9, 0);
        wfdb_record_free(&r);
    }

    /* Checksums: unsigned 60000 and signed -5536 are the same 16-bit value; 60001 is not. */
    const char *forms[3] = {"60000", "-5536", "60001"};
    for (int i = 0; i < 3; i++) {
        char text[128];
        snprintf(text, sizeof text, "ck 1 100 2\nck.dat 16 200 16 0 30000 %s 0 X\n", forms[i]);
        put_text("ck.hea", text);
        uint8_t d[4];
        put_i16(d, 30000);
        put_i16(d + 2, 30000);
        put_bytes("ck.dat", d, 4);
        rc = wfdb_load(scratch("ck"), &r, 0);
        CHECKF(rc == 0, "%s", kres_last_error());
        if (rc == 0) {
            CHECK(r.checksum_ok[0] == (i < 2) && r.init_ok[0] == 1);
            wfdb_record_free(&r);
        }
        /* strict mode turns the mismatch into an error naming the .dat file */
        rc = wfdb_load(scratch("ck"), &r, 1);
        CHECK(rc == (i < 2 ? 0 : -1));
        if (rc == 0) wfdb_record_free(&r);
        else CHECK(strstr(kres_last_error(), "ck.dat") && strstr(kres_last_error(), "checksum mismatch"));
    }

    /* The writer writes checksums signed (as the WFDB library does) and reads them back. */
    WfdbHeader hw;
    fill_header(&hw, 1, 2);
    int32_t v[2] = {30000, 30000};
    scratch("ckw.hea");
    scratch("ckw.dat");
    CHECK(wfdb_write(scratch("ckw"), &hw, v, 16) == 0);
    WfdbHeader hr;
    rc = wfdb_read_header(scratch("ckw"), &hr);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc == 0) {
        CHECK(hr.sig[0].checksum == -5536 && hr.sig[0].init_value == 30000);
        CHECK(strcmp(hr.record_name, "ckw") == 0 && strcmp(hr.sig[0].file, "ckw.dat") == 0);
        wfdb_header_free(&hr);
    }
    /* Header metadata survives a write: counter frequency, base time/date, comments. */
    hw.counter_freq = 1000;
    hw.base_counter = 12.5;
    strcpy(hw.base_time, "08:00:01.5");
    strcpy(hw.base_date, "31/12/1999");
    char *comments[2] = {"age: 56", " sex: F"};
    hw.comments = comments;
    hw.ncomments = 2;
    CHECK(wfdb_write(scratch("ckw"), &hw, v, 212) != 0); /* 30000 does not fit 12 bits */
    v[0] = v[1] = 2000;
    CHECK(wfdb_write(scratch("ckw"), &hw, v, 212) == 0);
    rc = wfdb_read_header(scratch("ckw"), &hr);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc == 0) {
        CHECK(hr.counter_freq == 1000 && hr.base_counter == 12.5 && hr.fs == 500);
        CHECK(strcmp(hr.base_time, "08:00:01.5") == 0 && strcmp(hr.base_date, "31/12/1999") == 0);
        CHECK(hr.ncomments == 2 && strcmp(hr.comments[0], "age: 56") == 0 && strcmp(hr.comments[1], " sex: F") == 0);
        CHECK(hr.sig[0].format == 212 && hr.sig[0].gain == 200.5);
        wfdb_header_free(&hr);
    }
    hw.comments = NULL;
    hw.ncomments = 0;
    wfdb_header_free(&hw);

    /* Format 8 (differences) with two samples per frame and a skewed second signal.
     * Frames [d0, d0', d1]: signal 0 steps 0 2 3 -1 4 4 -128 127 from 10 give
     * 10 12 15 14 18 22 -106 21 (sum 6); frame means 11, 14.5 -> 15, 20.
     * Signal 1 steps 0 5 -3 100 from -5 give -5 0 -3 97 (sum 89); skew 1 -> 0 -3 97. */
    put_text("f8.hea", "f8 2 100 3\nf8.dat 8x2 200 8 0 10 6\nf8.dat 8:1 200 8 0 -5 89\n");
    const uint8_t d8[12] = {0, 2, 0, 3, 0xFF, 5, 4, 4, 0xFD, 0x80, 0x7F, 100};
    put_bytes("f8.dat", d8, sizeof d8);
    rc = wfdb_load(scratch("f8"), &r, 1);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc == 0) {
        CHECK(r.raw[0] == 11 && r.raw[1] == 15 && r.raw[2] == 20);
        CHECK(r.raw[3] == 0 && r.raw[4] == -3 && r.raw[5] == 97);
        CHECK(r.checksum_ok[0] == 1 && r.checksum_ok[1] == 1 && r.init_ok[0] == 1 && r.init_ok[1] == 1);
        wfdb_record_free(&r);
    }
}

/* ---------------------------------------------------------------- malformed inputs */

typedef struct {
    const char *name;   /* record name in the scratch dir */
    const char *hea;    /* header text; NULL: no header file */
    long dat;           /* .dat size in bytes (zeros); -1: no .dat file */
    const char *file;   /* the file the message must name (suffix) */
    const char *msg;    /* a substring the message must contain */
} BadCase;

static const BadCase BAD[] = {
    {"nohea", NULL, 20, "nohea.hea", "cannot open"},
    {"nodat", "nodat 1 100 10\nnodat.dat 16\n", -1, "nodat.dat", "cannot open"},
    {"trunc", "trunc 1 100 10\ntrunc.dat 16\n", 19, "trunc.dat", "truncated"},
    {"over", "over 1 100 10\nover.dat 16\n", 21, "over.dat", "oversized"},
    {"over2", "over2 2 100 10\nover2.dat 16\nover2.dat 16\n", 80, "over2.dat", "oversized"},
    {"fmt999", "fmt999 1 100 10\nfmt999.dat 999\n", 20, "fmt999.hea", "unsupported signal format 999"},
    {"fmt0", "fmt0 1 100 10\nfmt0.dat 0\n", 20, "fmt0.hea", "unsupported signal format 0"},
    {"flac", "flac 1 100 10\nflac.dat 516\n", 20, "flac.hea", "unsupported signal format 516"},
    {"multi", "multi/2 1 100 10\nseg1 5\nseg2 5\n", 20, "multi.hea", "multi-segment records are not supported"},
    {"gain", "gain 1 100 10\ngain.dat 16 abc(0)/mV 16 0\n", 20, "gain.hea", "malformed ADC gain"},
    {"gain2", "gain2 1 100 10\ngain2.dat 16 1000x/mV\n", 20, "gain2.hea", "malformed ADC gain"},
    {"gainnan", "gainnan 1 100 10\ngainnan.dat 16 nan/mV\n", 20, "gainnan.hea", "malformed ADC gain"},
    {"negn", "negn 1 100 -10\nnegn.dat 16\n", 20, "negn.hea", "negative number of samples"},
    {"hugen", "hugen 1 100 9223372036854775807\nhugen.dat 16\n", 20, "hugen.hea", "too large"},
    {"overn", "overn 1 100 99999999999999999999\novern.dat 16\n", 20, "overn.hea", "malformed number of samples"},
    {"bign", "bign 2 100 1099511627776\nbign.dat 32\nbign.dat 32\n", 20, "bign.dat", "truncated"},
    {"bigskew", "bigskew 1 100 1099511627776\nbigskew.dat 32:1073741824\n", 20, "bigskew.dat", "truncated"},
    {"zero", "zero 0 100 10\n", 20, "zero.hea", "need at least 1"},
    {"nsig257", "nsig257 257 100 10\n", 20, "nsig257.hea", "exceed the limit of 256"},
    {"nsigx", "nsigx 12abc 100 10\n", 20, "nsigx.hea", "malformed number of signals"},
    {"few", "few 2 100 10\nfew.dat 16\n", 40, "few.hea", "only 1 signal lines"},
    {"extra", "extra 1 100 10\nextra.dat 16\nextra.dat 16\n", 20, "extra.hea", "more signal lines"},
    {"fs", "fs 1 abc 10\nfs.dat 16\n", 20, "fs.hea", "malformed sampling frequency"},
    {"fsneg", "fsneg 1 -100 10\nfsneg.dat 16\n", 20, "fsneg.hea", "malformed sampling frequency"},
    {"cf", "cf 1 100/abc 10\ncf.dat 16\n", 20, "cf.hea", "malformed counter frequency"},
    {"bc", "bc 1 100/200(x) 10\nbc.dat 16\n", 20, "bc.hea", "malformed base counter"},
    {"fields", "fields 1 100 10 10:00:00 01/01/2000 extra\nfields.dat 16\n", 20, "fields.hea", "more than 6 fields"},
    {"btime", "btime 1 100 10 noon\nbtime.dat 16\n", 20, "btime.hea", "malformed base time"},
    {"bdate", "bdate 1 100 10 10:00:00 Jan1\nbdate.dat 16\n", 20, "bdate.hea", "malformed base date"},
    {"base", "base 1 100 10\nbase.dat 16 200(x)/mV\n", 20, "base.hea", "malformed baseline"},
    {"base2", "base2 1 100 10\nbase2.dat 16 200(0)(0)/mV\n", 20, "base2.hea", "malformed baseline"},
    {"units", "units 1 100 10\nunits.dat 16 200/\n", 20, "units.hea", "malformed units"},
    {"units2", "units2 1 100 10\nunits2.dat 16 200/mV/mV\n", 20, "units2.hea", "malformed units"},
    {"spf0", "spf0 1 100 10\nspf0.dat 16x0\n", 20, "spf0.hea", "samples per frame"},
    {"spf2", "spf2 1 100 10\nspf2.dat 16x2x2\n", 20, "spf2.hea", "malformed format"},
    {"skewneg", "skewneg 1 100 10\nskewneg.dat 16:-1\n", 20, "skewneg.hea", "malformed skew"},
    {"offneg", "offneg 1 100 10\noffneg.dat 16+-5\n", 20, "offneg.hea", "malformed byte offset"},
    {"order", "order 1 100 10\norder.dat 16+4x2\n", 20, "order.hea", "malformed format"},
    {"res", "res 1 100 10\nres.dat 16 200 99\n", 20, "res.hea", "ADC resolution"},
    {"adcz", "adcz 1 100 10\nadcz.dat 16 200 16 zero\n", 20, "adcz.hea", "malformed ADC zero"},
    {"init", "init 1 100 10\ninit.dat 16 200 16 0 1.5\n", 20, "init.hea", "malformed initial value"},
    {"cksum", "cksum 1 100 10\ncksum.dat 16 200 16 0 0 70000\n", 20, "cksum.hea", "malformed checksum"},
    {"bsize", "bsize 1 100 10\nbsize.dat 16 200 16 0 0 0 -1\n", 20, "bsize.hea", "malformed block size"},
    {"mixfmt", "mixfmt 2 100 10\nmixfmt.dat 16\nmixfmt.dat 212\n", 40, "mixfmt.hea", "share file"},
    {"split", "split 3 100 10\nsplit.dat 16\nother.dat 16\nsplit.dat 16\n", 40, "split.hea", "consecutive"},
    {"frames", "frames 1 100\nframes.dat 16\n", 5, "frames.dat", "not a whole number"},
    {"empty", "empty 1 100\nempty.dat 16\n", 0, "empty.dat", "holds no samples"},
    {"cksm", "cksm 1 100 10\ncksm.dat 16 200 16 0 0 1 0 I\n", 20, "cksm.dat", "checksum mismatch"},
    {"initm", "initm 1 100 10\ninitm.dat 16 200 16 0 5\n", 20, "initm.dat", "initial value"},
    {"nohdr", "", 20, "nohdr.hea", "no record line"},
    {"comments", "# only\n# comments\n", 20, "comments.hea", "no record line"},
    {"nofmt", "nofmt 1 100 10\nnofmt.dat\n", 20, "nofmt.hea", "lacks the format field"},
    {"onlyname", "onlyname\n", 20, "onlyname.hea", "lacks the number of signals"},
    {"null", "null 1 100 10\n~ 16\n", 20, "null.hea", "not supported"},
    {"offbig", "offbig 1 100\noffbig.dat 16+100\n", 20, "offbig.dat", "byte offset"},
    {"skewshort", "skewshort 1 100 10\nskewshort.dat 16:2\n", 20, "skewshort.dat", "truncated"},
};

static void test_malformed(void) {
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        const BadCase *c = &BAD[i];
        char name[128];
        if (c->hea) {
            snprintf(name, sizeof name, "%s.hea", c->name);
            put_text(name, c->hea);
        }
        if (c->dat >= 0) {
            snprintf(name, sizeof name, "%s.dat", c->name);
            put_zeros(name, (size_t)c->dat);
        }
        kres_clear_error();
        WfdbRecord r;
        int rc = wfdb_load(scratch(c->name), &r, 1);
        const char *e = kres_last_error();
        CHECKF(rc == -1, "case %s loaded", c->name);
        if (rc == 0) wfdb_record_free(&r);
        /* The message starts with the path of the offending file. */
        char want[600];
        snprintf(want, sizeof want, "%s: ", scratch(c->file));
        CHECKF(strncmp(e, want, strlen(want)) == 0 && strstr(e, c->msg), "case %s: got '%s'", c->name, e);
    }
    /* A header with a NUL byte; a signal "file" that is a directory. */
    put_bytes("nul.hea", "nul 1\0 100\n", 11);
    WfdbRecord r;
    CHECK(wfdb_load(scratch("nul"), &r, 0) == -1 && strstr(kres_last_error(), "NUL"));
    put_text("isdir.hea", "isdir 1 100\n.  16\n");
    CHECK(wfdb_load(scratch("isdir"), &r, 0) == -1 && strstr(kres_last_error(), "not a regular file"));
    /* wfdb_read_header alone does not need the .dat; it leaves nothing allocated on error. */
    WfdbHeader h;
    CHECK(wfdb_read_header(scratch("nodat"), &h) == 0 && h.nsig == 1);
    wfdb_header_free(&h);
    CHECK(wfdb_read_header(scratch("few"), &h) == -1 && h.sig == NULL && h.comments == NULL);
    /* Non-strict loading reports mismatches instead of failing. */
    CHECK(wfdb_load(scratch("cksm"), &r, 0) == 0 && r.checksum_ok[0] == 0 && r.init_ok[0] == 1);
    wfdb_record_free(&r);
    CHECK(wfdb_load(scratch("initm"), &r, 0) == 0 && r.init_ok[0] == 0 && r.checksum_ok[0] == -1);
    wfdb_record_free(&r);
}

/* The writer refuses what it cannot store exactly, and a failed write leaves the previous
 * record intact. */
static void test_write_errors(void) {
    WfdbHeader h;
    fill_header(&h, 2, 3);
    int32_t v[6] = {0, 1, 2, 3, 4, 5};
    scratch("we.hea");
    scratch("we.dat");
    CHECK(wfdb_write(scratch("we"), &h, v, 16) == 0);
    v[4] = 2048;
    CHECK(wfdb_write(scratch("we"), &h, v, 212) == -1 && strstr(kres_last_error(), "does not fit format 212"));
    CHECK(wfdb_write(scratch("we"), &h, v, 999) == -1 && strstr(kres_last_error(), "unsupported"));
    v[4] = 4 + 128;
    CHECK(wfdb_write(scratch("we"), &h, v, 8) == -1 && strstr(kres_last_error(), "step"));
    v[4] = 4;
    strcpy(h.sig[1].description, "two\nlines");
    CHECK(wfdb_write(scratch("we"), &h, v, 16) == -1 && strstr(kres_last_error(), "line break"));
    strcpy(h.sig[1].description, "ok");
    strcpy(h.sig[1].units, "m V");
    CHECK(wfdb_write(scratch("we"), &h, v, 16) == -1 && strstr(kres_last_error(), "units"));
    strcpy(h.sig[1].units, "mV");
    h.nsamples = 0;
    CHECK(wfdb_write(scratch("we"), &h, v, 16) == -1);
    h.nsamples = 3;
    h.fs = 0;
    CHECK(wfdb_write(scratch("we"), &h, v, 16) == -1);
    /* The first record is still there, unchanged: 2 x 3 int16 samples, 0..5. */
    WfdbRecord r;
    CHECK(wfdb_load(scratch("we"), &r, 1) == 0 && r.raw[5] == 5 && r.h.sig[0].format == 16);
    wfdb_record_free(&r);
    CHECK(file_size(scratch("we.dat")) == 12);
    wfdb_header_free(&h);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/kres-test-wfdb-XXXXXX");
    KRES_ASSERT(mkdtemp(g_dir) != NULL);
    test_bundled_records();
    test_known_values();
    test_round_trips();
    test_exact_bytes();
    test_optional_fields();
    test_malformed();
    test_write_errors();
    cleanup();
    TEST_MAIN_END();
}
