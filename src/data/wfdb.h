/* wfdb.h — PhysioNet WFDB records: header (.hea) parsing, signal (.dat) decoding, writing.
 *
 * Follows the WFDB header specification (record line, signal lines, '#' comments) for
 * single-segment records. A record is named by its path without extension, as WFDB tools
 * take it: "data/ptbxl-sample/records100/00000/00001_lr". */
#ifndef KRES_WFDB_H
#define KRES_WFDB_H

#include <stdint.h>

#define WFDB_MAX_SIGNALS 256

typedef struct {
    char file[256];        /* signal file name, relative to the header's directory */
    int format;            /* 16, 212, 80, 24, 32, 61, ... */
    int samples_per_frame; /* 1 unless given as "16x2" */
    int skew;
    long byte_offset;
    double gain;           /* ADC units per physical unit; 0 in the header means 200 */
    int baseline;          /* ADC value of physical zero; defaults to adc_zero */
    char units[32];        /* "mV" when absent */
    double to_mv;          /* factor from the physical unit to millivolts (uV: 1e-3, V: 1e3) */
    int adc_resolution;
    int adc_zero;
    long init_value;
    int has_init_value;
    long checksum;
    int has_checksum;
    int block_size;
    char description[64]; /* lead name, e.g. "I", "AVR", "V1" */
} WfdbSignal;

typedef struct {
    char record_name[256];
    char dir[1024];       /* directory of the header file */
    int nsig;
    double fs;            /* sampling frequency, Hz (default 250) */
    double counter_freq;
    double base_counter;
    long nsamples;        /* samples per signal; 0 if not given (then from file size) */
    char base_time[32];
    char base_date[32];
    WfdbSignal *sig;      /* nsig entries */
    char **comments;      /* '#' lines, without the '#', in order */
    int ncomments;
} WfdbHeader;

typedef struct {
    WfdbHeader h;
    int32_t *raw;         /* [nsig][nsamples], lead-major ADC integers */
    float *mv;            /* [nsig][nsamples], lead-major, millivolts */
    int *checksum_ok;     /* per signal: 1 matched, 0 mismatch, -1 not given in header */
    int *init_ok;         /* per signal: 1 matched, 0 mismatch, -1 not given */
} WfdbRecord;

/* Parse "<record>.hea". Returns 0, or -1 with kres_fail naming the file. */
int wfdb_read_header(const char *record, WfdbHeader *h);
void wfdb_header_free(WfdbHeader *h);

/* Read header and samples, convert to mV, verify checksums and initial values.
 * A checksum or initial-value mismatch is reported in checksum_ok/init_ok, and makes
 * this call fail only when strict is nonzero. */
int wfdb_load(const char *record, WfdbRecord *r, int strict);
void wfdb_record_free(WfdbRecord *r);

/* Write a record (header + one interleaved .dat in `format`) from raw ADC values
 * [nsig][nsamples]; used by tests and by tools that export. Atomic writes. */
int wfdb_write(const char *record, const WfdbHeader *h, const int32_t *raw, int format);

/* Find the index of a lead by name, case-insensitive ("aVR" == "AVR"); -1 if absent. */
int wfdb_find_lead(const WfdbHeader *h, const char *name);

#endif
