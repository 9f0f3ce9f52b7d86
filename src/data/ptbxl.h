/* ptbxl.h — the PTB-XL database: records and SCP labels, named tasks, cohort protocols,
 * patient-wise fold splits and seeded label-fraction subsets.
 *
 * Typical use:
 *   PtbxlDb db;  Task t;  Cohort c;
 *   if (ptbxl_open("data/ptbxl-sample", &db) != 0) -> kres_last_error()
 *   if (task_parse("heart-block", &db, &t) != 0)   -> kres_last_error()
 *   CohortOptions o = cohort_options_default();     // paper protocol, 100 Hz, any likelihood
 *   if (cohort_build(&db, &t, o, &c) != 0)          -> kres_last_error()
 *   int *tr = xmalloc(c.n * sizeof(int)), ...;      // each index array holds up to c.n
 *   cohort_split(&c, 10, 9, tr, &ntr, va, &nva, te, &nte);   // PTB-XL's official split
 *   subset_label_fraction(&c, tr, ntr, 0.1, seed, sub, &nsub);
 *   cohort_free(&c); ptbxl_close(&db);
 *
 * Every function returns 0 on success and -1 after kres_fail() with a message naming the
 * file (and line) that is wrong. Definitions of tasks and protocols: docs/labels.md. */
#ifndef KRES_PTBXL_H
#define KRES_PTBXL_H

#include <stddef.h>
#include <stdint.h>

#define PTBXL_CODE_MAX 16   /* longest SCP code + NUL ("LAO/LAE", "PRC(S)") */
#define PTBXL_FILE_MAX 128  /* filename_lr / filename_hr, relative to the PTB-XL dir */
#define PTBXL_NFOLDS 10     /* strat_fold is 1..10 */
#define TASK_MAX_CODES 80   /* scp_statements.csv has 71 statements */

typedef struct {
    char code[PTBXL_CODE_MAX];
    float likelihood;       /* 0..100; 0 means "unknown", not "absent" */
} PtbxlCode;

typedef struct {
    int ecg_id;
    int patient_id;         /* -1 if missing */
    int sex;                /* 0 male, 1 female, -1 missing */
    int strat_fold;         /* 1..10 */
    float age;              /* years; NaN if missing; PTB-XL writes 300 for ages > 89 */
    char filename_lr[PTBXL_FILE_MAX]; /* "records100/00000/00001_lr" (no extension) */
    char filename_hr[PTBXL_FILE_MAX]; /* "records500/00000/00001_hr" */
    int ncodes;
    PtbxlCode *codes;       /* [ncodes], in the order of the scp_codes string */
} PtbxlRecord;

typedef struct {
    char code[PTBXL_CODE_MAX];
    int diagnostic;         /* 1 if column diagnostic == 1.0 */
    char diagnostic_class[16];    /* "NORM", "MI", "STTC", "CD", "HYP"; "" if none */
    char diagnostic_subclass[16]; /* e.g. "_AVB", "LAFB/LPFB"; "" if none */
    char description[128];
} PtbxlStatement;

/* Why a row of ptbxl_database.csv is not in a cohort. */
typedef enum {
    PTBXL_SKIP_DUPLICATE = 0,    /* dropped as duplicate in PTB-XL v1.0.3 (38 ecg_ids) */
    PTBXL_SKIP_MISSING_FILES = 1,/* <record>.hea or <record>.dat absent for the chosen rate */
    PTBXL_SKIP_BAD_RECORD = 2,   /* files present but the header does not parse or does not fit
                                  * (check_files == 2: 12 signals at the chosen rate, .dat long enough) */
    PTBXL_SKIP_NREASONS = 3
} PtbxlSkipReason;

typedef struct {
    int ecg_id;
    PtbxlSkipReason reason;
    char detail[160];       /* the error for bad-record ("<file>: what"), else "" */
} PtbxlSkip;

typedef struct {
    char dir[1024];          /* the PTB-XL directory as given */
    int nrows;               /* data rows read from ptbxl_database.csv */
    int n;
    PtbxlRecord *rec;        /* [n] kept records, in csv order (PTB-XL: ascending ecg_id) */
    int nstatements;
    PtbxlStatement *stmt;    /* [nstatements] rows of scp_statements.csv */
    int nskipped;
    PtbxlSkip *skipped;      /* [nskipped] rows dropped on reading (duplicates) */
    PtbxlCode *code_pool;    /* storage behind rec[i].codes */
} PtbxlDb;

/* Read <dir>/ptbxl_database.csv and <dir>/scp_statements.csv. Drops the v1.0.3 duplicates
 * (listed in db->skipped). Does not touch the signal files. */
int ptbxl_open(const char *dir, PtbxlDb *db);
void ptbxl_close(PtbxlDb *db);

/* The 38 ecg_ids PTB-XL v1.0.3 dropped as duplicates/triplicates. */
int ptbxl_is_v103_duplicate(int ecg_id);

/* Parse a Python-dict scp_codes string "{'NORM': 100.0, 'SR': 0.0}" into a fresh array
 * (*codes, free() it; NULL when n is 0). On bad syntax returns -1 and writes a message
 * (with the byte offset) to err; the caller adds file and line. */
int scp_codes_parse(const char *s, PtbxlCode **codes, int *ncodes, char *err, size_t errn);

/* The statement for a code (exact match), or NULL. */
const PtbxlStatement *ptbxl_statement(const PtbxlDb *db, const char *code);
/* Likelihood of code in the record, or -1 if the record does not carry it. */
float ptbxl_record_likelihood(const PtbxlRecord *r, const char *code);
/* 1 if the record has at least one diagnostic statement (diagnostic == 1 in
 * scp_statements.csv) and every diagnostic statement is of diagnostic_class NORM. */
int ptbxl_record_norm_only(const PtbxlDb *db, const PtbxlRecord *r);

const char *ptbxl_skip_reason_name(PtbxlSkipReason reason);   /* "duplicate-v1.0.3", ... */

/* ---- tasks: named label definitions ------------------------------------------------ */

typedef struct {
    char name[256];         /* "heart-block", or the normalised code list "1AVB,LAFB" */
    int ncodes;             /* one output per code for multi-label use */
    char codes[TASK_MAX_CODES][PTBXL_CODE_MAX];
    char description[192];
} Task;

/* spec: "avb" | "bbb" | "fascicular" | "heart-block" | "cd", or a comma-separated list of
 * SCP codes (case-insensitive, each must be in scp_statements.csv; unknown codes are an
 * error listing the valid ones). Codes of named tasks missing from the db's statements are
 * an error too (a truncated scp_statements.csv). */
int task_parse(const char *spec, const PtbxlDb *db, Task *t);
/* 1 for a built-in task name (heart-block, ..., cd): its failure is the data's fault, not
 * the spec's. */
int task_is_named(const char *spec);
/* The built-in names, NULL-terminated, for help texts. */
extern const char *const TASK_NAMES[];

/* ---- cohorts ---------------------------------------------------------------------- */

typedef enum {
    PROTOCOL_PAPER = 0,     /* positives vs NORM-only records; everything else left out */
    PROTOCOL_ALL = 1        /* positives vs every other record */
} CohortProtocol;

typedef struct {
    CohortProtocol protocol;
    int rate;               /* 100 (filename_lr) or 500 (filename_hr) */
    double min_likelihood;  /* a code counts if likelihood >= this; 0 = any (default) */
    int check_files;        /* 0: none; 1: skip records whose .hea/.dat are missing (default);
                             * 2: also read each WFDB header and skip bad records */
} CohortOptions;

CohortOptions cohort_options_default(void);
int protocol_parse(const char *s, CohortProtocol *p);   /* "paper" | "all" */
const char *protocol_name(CohortProtocol p);

typedef struct {
    int n;
    char **path;            /* [n] "<dir>/records100/00000/00001_lr": WFDB record name */
    int *rec;               /* [n] index into db->rec */
    int *ecg_id, *patient_id, *fold, *sex; /* [n] */
    float *age;             /* [n] */
    int *label;             /* [n] 1 if any task code counts, else 0 */
    int ncodes;             /* == task ncodes */
    int *code_label;        /* [n * ncodes], row-major: code_label[i*ncodes + j] */
    /* Bookkeeping: nrows = n + nskipped + n_excluded + n_uncertain. */
    int nrows;              /* rows in ptbxl_database.csv */
    int nskipped;
    PtbxlSkip *skipped;     /* duplicates (from the db) then missing files */
    int nskip_reason[PTBXL_SKIP_NREASONS];
    int n_excluded;         /* paper protocol: negatives that are not NORM-only */
    int n_uncertain;        /* task code present but below min_likelihood (left out) */
    int npos, nneg;
    int pos_fold[PTBXL_NFOLDS + 1], neg_fold[PTBXL_NFOLDS + 1]; /* index 1..10 */
    int *code_count;        /* [ncodes] positives per code in the cohort */
} Cohort;

int cohort_build(const PtbxlDb *db, const Task *t, CohortOptions opts, Cohort *out);
void cohort_free(Cohort *c);

/* ---- splits ----------------------------------------------------------------------- */

/* Partition cohort positions by fold: test = test_fold, validation = val_fold (0 = none),
 * train = every other fold. Each output array must hold c->n ints; indices ascend.
 * Errors: folds out of 1..10 or equal. */
int cohort_split(const Cohort *c, int test_fold, int val_fold, int *train_idx, int *ntrain,
                 int *val_idx, int *nval, int *test_idx, int *ntest);
/* Cross-validation round k in 1..10: test fold k, validation fold (k mod 10) + 1. */
void kfold_folds(int k, int *test_fold, int *val_fold);

/* Keep a stratified, seeded fraction of the positions idx[0..n): per label class,
 * round(fraction * class size) records, at least 1 of a non-empty class. Each class is
 * shuffled once by seed and a prefix taken, so for one seed a smaller fraction's subset is
 * contained in a larger one's. out (capacity n) keeps the order of idx. fraction in (0, 1]. */
int subset_label_fraction(const Cohort *c, const int *idx, int n, double fraction,
                          uint64_t seed, int *out, int *nout);

#endif
