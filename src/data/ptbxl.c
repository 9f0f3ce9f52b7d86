/* ptbxl.c — PTB-XL database reading, tasks, cohorts, splits, label-fraction subsets.
 * Definitions and rationale: docs/labels.md. */
#include "data/ptbxl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/util.h"
#include "data/csv.h"
#include "data/wfdb.h"

/* CHANGELOG_v1.0.3.txt: "Dropped ecg_ids [38 in total]" (34 duplicates + 2 triplicates). */
static const int V103_DROPPED[] = {137,   139,   140,   141,   142,   143,   145,   11817,
                                   456,   458,   459,   461,   462,   13796, 2506,  2511,
                                   3795,  3798,  3832,  5817,  7777,  7779,  7782,  9821,
                                   9825,  9888,  15742, 11810, 11838, 13791, 13793, 13797,
                                   13799, 18150, 11814, 11815, 3800,  3801};
#define NV103_DROPPED ((int)(sizeof V103_DROPPED / sizeof V103_DROPPED[0]))

int ptbxl_is_v103_duplicate(int ecg_id) {
    for (int i = 0; i < NV103_DROPPED; i++)
        if (V103_DROPPED[i] == ecg_id) return 1;
    return 0;
}

const char *ptbxl_skip_reason_name(PtbxlSkipReason reason) {
    switch (reason) {
    case PTBXL_SKIP_DUPLICATE: return "duplicate-v1.0.3";
    case PTBXL_SKIP_MISSING_FILES: return "missing-files";
    case PTBXL_SKIP_BAD_RECORD: return "bad-record";
    default: return "unknown";
    }
}

/* ---- scp_codes: "{'NORM': 100.0, 'LVOLT': 0.0}" ------------------------------------
 * Grammar (Python dict repr, strict): ws '{' ws [ item (ws ',' ws item)* ] ws '}' ws
 * item = quote code quote ws ':' ws number; quote is ' or " (same on both sides). */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

#define SCP_FAIL(...)                                                                  \
    do {                                                                               \
        snprintf(err, errn, __VA_ARGS__);                                              \
        free(arr);                                                                     \
        return -1;                                                                     \
    } while (0)

int scp_codes_parse(const char *s, PtbxlCode **codes, int *ncodes, char *err, size_t errn) {
    PtbxlCode *arr = NULL;
    int n = 0, cap = 0;
    *codes = NULL;
    *ncodes = 0;
    const char *p = skip_ws(s);
    if (*p != '{') SCP_FAIL("scp_codes must start with '{' (offset %d)", (int)(p - s));
    p = skip_ws(p + 1);
    if (*p != '}') {
        for (;;) {
            char q = *p;
            if (q != '\'' && q != '"') SCP_FAIL("expected a quoted code at offset %d", (int)(p - s));
            const char *k = ++p;
            while (*p && *p != q) p++;
            if (!*p) SCP_FAIL("unterminated code starting at offset %d", (int)(k - s - 1));
            size_t klen = (size_t)(p - k);
            if (klen == 0 || klen >= PTBXL_CODE_MAX)
                SCP_FAIL("code of length %zu at offset %d (must be 1..%d)", klen, (int)(k - s),
                         PTBXL_CODE_MAX - 1);
            p = skip_ws(p + 1);
            if (*p != ':') SCP_FAIL("expected ':' at offset %d", (int)(p - s));
            p = skip_ws(p + 1);
            /* The number is the run of number characters; strtod must consume all of it. */
            const char *v = p;
            while (*p && strchr("0123456789+-.eE", *p)) p++;
            char num[32];
            size_t vlen = (size_t)(p - v);
            if (vlen == 0 || vlen >= sizeof num)
                SCP_FAIL("expected a likelihood at offset %d", (int)(v - s));
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            double x;
            if (parse_double(num, &x) != 0 || x < 0 || x > 100)
                SCP_FAIL("likelihood '%s' at offset %d is not a number in [0, 100]", num, (int)(v - s));
            for (int i = 0; i < n; i++)
                if (strlen(arr[i].code) == klen && memcmp(arr[i].code, k, klen) == 0)
                    SCP_FAIL("code '%.*s' appears twice", (int)klen, k);
            if (n == cap) {
                cap = cap ? 2 * cap : 8;
                arr = xrealloc(arr, (size_t)cap * sizeof *arr);
            }
            memcpy(arr[n].code, k, klen);
            arr[n].code[klen] = '\0';
            arr[n].likelihood = (float)x;
            n++;
            p = skip_ws(p);
            if (*p == ',') {
                p = skip_ws(p + 1);
                continue;
            }
            if (*p == '}') break;
            SCP_FAIL("expected ',' or '}' at offset %d", (int)(p - s));
        }
    }
    p = skip_ws(p + 1);
    if (*p) SCP_FAIL("unexpected text after '}' at offset %d", (int)(p - s));
    *codes = arr;
    *ncodes = n;
    return 0;
}

/* ---- ptbxl_database.csv / scp_statements.csv ---------------------------------------- */

/* Integer-valued field written by pandas as "15709.0" or "3". */
static int parse_intish(const char *s, long lo, long hi, int *out) {
    double x;
    if (parse_double(s, &x) != 0 || x != floor(x) || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

static int copy_field(char *dst, size_t n, const char *src) {
    size_t len = strlen(src);
    if (len >= n) return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

static int load_statements(const char *path, PtbxlDb *db) {
    CsvReader r;
    if (csv_open(&r, path) != 0) return -1;
    /* The code column is the pandas index, whose header cell is empty. */
    int c_code = csv_column(&r, "");
    if (c_code < 0) c_code = csv_column(&r, "scp_code");
    int c_diag = csv_require(&r, "diagnostic");
    int c_cls = c_diag < 0 ? -1 : csv_require(&r, "diagnostic_class");
    int c_sub = c_cls < 0 ? -1 : csv_require(&r, "diagnostic_subclass");
    int c_desc = c_sub < 0 ? -1 : csv_require(&r, "description");
    if (c_code < 0 && c_desc >= 0)
        kres_fail(path, "required column '' (the SCP code, first column) is missing from the header");
    if (c_code < 0 || c_desc < 0) {
        csv_close(&r);
        return -1;
    }
    int cap = 0, rc;
    while ((rc = csv_next(&r)) == 1) {
        if (db->nstatements == cap) {
            cap = cap ? 2 * cap : 128;
            db->stmt = xrealloc(db->stmt, (size_t)cap * sizeof *db->stmt);
        }
        PtbxlStatement *st = &db->stmt[db->nstatements];
        memset(st, 0, sizeof *st);
        const char *code = csv_field(&r, c_code), *diag = csv_field(&r, c_diag);
        double d = 0;
        if (!*code || copy_field(st->code, sizeof st->code, code) != 0)
            rc = kres_fail(path, "line %d: SCP code '%s' is empty or too long", r.row_line, code);
        else if (*diag && (parse_double(diag, &d) != 0 || (d != 0 && d != 1)))
            rc = kres_fail(path, "line %d: diagnostic must be empty, 0 or 1, got '%s'", r.row_line, diag);
        else if (copy_field(st->diagnostic_class, sizeof st->diagnostic_class, csv_field(&r, c_cls)) ||
                 copy_field(st->diagnostic_subclass, sizeof st->diagnostic_subclass, csv_field(&r, c_sub)))
            rc = kres_fail(path, "line %d: diagnostic class or subclass too long", r.row_line);
        else if (ptbxl_statement(db, code))
            rc = kres_fail(path, "line %d: SCP code '%s' listed twice", r.row_line, code);
        if (rc != 1) break;
        st->diagnostic = d == 1;
        /* Descriptions are informational: a long one is cut, not an error. */
        snprintf(st->description, sizeof st->description, "%s", csv_field(&r, c_desc));
        db->nstatements++;
    }
    csv_close(&r);
    if (rc == 0 && db->nstatements == 0) return kres_fail(path, "no statements");
    return rc == 0 ? 0 : -1;
}

enum { COL_ECG, COL_PAT, COL_AGE, COL_SEX, COL_FOLD, COL_LR, COL_HR, COL_SCP, NCOL };
static const char *const DB_COLUMNS[NCOL] = {"ecg_id", "patient_id", "age", "sex",
                                              "strat_fold", "filename_lr", "filename_hr",
                                              "scp_codes"};

/* One csv row into *rec; its codes are appended to the pool and referenced by offset
 * (rec->codes holds the offset cast to a pointer-sized integer until loading ends). */
static int parse_record_row(const char *path, CsvReader *r, const int *col, PtbxlRecord *rec,
                            PtbxlCode **pool, size_t *npool, size_t *pool_cap, size_t *off) {
    const int line = r->row_line;
    const char *f[NCOL];
    for (int i = 0; i < NCOL; i++) f[i] = csv_field(r, col[i]);
    memset(rec, 0, sizeof *rec);
    if (parse_intish(f[COL_ECG], 1, 1000000000L, &rec->ecg_id) != 0)
        return kres_fail(path, "line %d: ecg_id '%s' is not a positive integer", line, f[COL_ECG]);
    rec->patient_id = -1;
    if (*f[COL_PAT] && parse_intish(f[COL_PAT], 0, 1000000000L, &rec->patient_id) != 0)
        return kres_fail(path, "line %d: patient_id '%s' is not an integer", line, f[COL_PAT]);
    rec->sex = -1;
    if (*f[COL_SEX] && parse_intish(f[COL_SEX], 0, 1, &rec->sex) != 0)
        return kres_fail(path, "line %d: sex '%s' is not 0 or 1", line, f[COL_SEX]);
    double age = NAN;
    if (*f[COL_AGE] && (parse_double(f[COL_AGE], &age) != 0 || age < 0 || age > 300))
        return kres_fail(path, "line %d: age '%s' is not a number in [0, 300]", line, f[COL_AGE]);
    rec->age = (float)age;
    if (parse_intish(f[COL_FOLD], 1, PTBXL_NFOLDS, &rec->strat_fold) != 0)
        return kres_fail(path, "line %d: strat_fold '%s' is not in 1..%d", line, f[COL_FOLD], PTBXL_NFOLDS);
    for (int k = COL_LR; k <= COL_HR; k++) {
        const char *fn = f[k];
        char *dst = k == COL_LR ? rec->filename_lr : rec->filename_hr;
        /* Names are joined under the PTB-XL directory: keep them inside it. */
        if (!*fn || fn[0] == '/' || strstr(fn, ".."))
            return kres_fail(path, "line %d: %s '%s' must be a relative path inside the PTB-XL directory",
                             line, DB_COLUMNS[k], fn);
        if (copy_field(dst, PTBXL_FILE_MAX, fn) != 0)
            return kres_fail(path, "line %d: %s is longer than %d bytes", line, DB_COLUMNS[k],
                             PTBXL_FILE_MAX - 1);
    }
    char err[256];
    PtbxlCode *codes;
    int n;
    if (scp_codes_parse(f[COL_SCP], &codes, &n, err, sizeof err) != 0)
        return kres_fail(path, "line %d: scp_codes: %s", line, err);
    if (*npool + (size_t)n > *pool_cap) {
        while (*npool + (size_t)n > *pool_cap) *pool_cap = *pool_cap ? 2 * *pool_cap : 4096;
        *pool = xrealloc(*pool, *pool_cap * sizeof **pool);
    }
    if (n) memcpy(*pool + *npool, codes, (size_t)n * sizeof *codes);
    free(codes);
    *off = *npool;
    *npool += (size_t)n;
    rec->ncodes = n;
    return 0;
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* An ecg_id on two rows would put one recording in two folds (or twice in one). */
static int check_unique_ids(const char *path, const PtbxlDb *db) {
    int n = db->n + db->nskipped, *ids = xmalloc((size_t)n * sizeof(int)), rc = 0;
    for (int i = 0; i < db->n; i++) ids[i] = db->rec[i].ecg_id;
    for (int i = 0; i < db->nskipped; i++) ids[db->n + i] = db->skipped[i].ecg_id;
    qsort(ids, (size_t)n, sizeof(int), cmp_int);
    for (int i = 1; i < n && rc == 0; i++)
        if (ids[i] == ids[i - 1]) rc = kres_fail(path, "ecg_id %d appears on more than one row", ids[i]);
    free(ids);
    return rc;
}

int ptbxl_open(const char *dir, PtbxlDb *db) {
    memset(db, 0, sizeof *db);
    struct stat st;
    if (stat(dir, &st) != 0) return kres_fail(dir, "cannot open PTB-XL directory: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) return kres_fail(dir, "not a directory (expected the PTB-XL folder)");
    if (copy_field(db->dir, sizeof db->dir, dir) != 0) return kres_fail(dir, "path too long");
    char path[1200];
    if (path_join(path, sizeof path, dir, "scp_statements.csv") != 0) return kres_fail(dir, "path too long");
    if (load_statements(path, db) != 0) {
        ptbxl_close(db);
        return -1;
    }
    CsvReader r;
    if (path_join(path, sizeof path, dir, "ptbxl_database.csv") != 0 || csv_open(&r, path) != 0) {
        ptbxl_close(db);
        return -1;
    }
    /* Name every missing column at once: a wrong file usually lacks several. */
    int col[NCOL], nmissing = 0;
    char missing[256] = "";
    for (int i = 0; i < NCOL; i++) {
        col[i] = csv_column(&r, DB_COLUMNS[i]);
        if (col[i] < 0) {
            size_t used = strlen(missing);
            snprintf(missing + used, sizeof missing - used, "%s'%s'", nmissing++ ? ", " : "", DB_COLUMNS[i]);
        }
    }
    if (nmissing) {
        kres_fail(path, "required column%s %s missing from the header", nmissing > 1 ? "s" : "", missing);
        csv_close(&r);
        ptbxl_close(db);
        return -1;
    }
    int cap = 0, skip_cap = 0, rc;
    size_t npool = 0, pool_cap = 0, *offs = NULL;
    while ((rc = csv_next(&r)) == 1) {
        db->nrows++;
        if (db->n == cap) {
            cap = cap ? 2 * cap : 1024;
            db->rec = xrealloc(db->rec, (size_t)cap * sizeof *db->rec);
            offs = xrealloc(offs, (size_t)cap * sizeof *offs);
        }
        PtbxlRecord *rec = &db->rec[db->n];
        if (parse_record_row(path, &r, col, rec, &db->code_pool, &npool, &pool_cap, &offs[db->n]) != 0) {
            rc = -1;
            break;
        }
        if (ptbxl_is_v103_duplicate(rec->ecg_id)) {
            if (db->nskipped == skip_cap) {
                skip_cap = skip_cap ? 2 * skip_cap : 64;
                db->skipped = xrealloc(db->skipped, (size_t)skip_cap * sizeof *db->skipped);
            }
            db->skipped[db->nskipped++] = (PtbxlSkip){.ecg_id = rec->ecg_id, .reason = PTBXL_SKIP_DUPLICATE};
            npool = offs[db->n]; /* release its codes */
            continue;
        }
        db->n++;
    }
    csv_close(&r);
    if (rc == 0 && db->nrows == 0) rc = kres_fail(path, "no data rows");
    if (rc == 0) rc = check_unique_ids(path, db);
    if (rc != 0) {
        free(offs);
        ptbxl_close(db);
        return -1;
    }
    /* The pool no longer moves: turn offsets into pointers. */
    for (int i = 0; i < db->n; i++) db->rec[i].codes = db->rec[i].ncodes ? db->code_pool + offs[i] : NULL;
    free(offs);
    return 0;
}

void ptbxl_close(PtbxlDb *db) {
    free(db->rec);
    free(db->stmt);
    free(db->skipped);
    free(db->code_pool);
    memset(db, 0, sizeof *db);
}

const PtbxlStatement *ptbxl_statement(const PtbxlDb *db, const char *code) {
    for (int i = 0; i < db->nstatements; i++)
        if (strcmp(db->stmt[i].code, code) == 0) return &db->stmt[i];
    return NULL;
}

float ptbxl_record_likelihood(const PtbxlRecord *r, const char *code) {
    for (int i = 0; i < r->ncodes; i++)
        if (strcmp(r->codes[i].code, code) == 0) return r->codes[i].likelihood;
    return -1.0f;
}

int ptbxl_record_norm_only(const PtbxlDb *db, const PtbxlRecord *r) {
    int ndiag = 0;
    for (int i = 0; i < r->ncodes; i++) {
        const PtbxlStatement *st = ptbxl_statement(db, r->codes[i].code);
        if (!st || !st->diagnostic) continue; /* form/rhythm statements carry no class */
        if (strcmp(st->diagnostic_class, "NORM") != 0) return 0;
        ndiag++;
    }
    return ndiag > 0;
}

/* ---- tasks ------------------------------------------------------------------------- */

const char *const TASK_NAMES[] = {"heart-block", "avb", "bbb", "fascicular", "cd", NULL};

typedef struct {
    const char *name, *codes, *description;
} NamedTask;

static const NamedTask NAMED_TASKS[] = {
    {"avb", "1AVB,2AVB,3AVB", "atrioventricular block, first to third degree"},
    {"bbb", "CLBBB,CRBBB,ILBBB,IRBBB", "complete or incomplete left/right bundle branch block"},
    {"fascicular", "LAFB,LPFB", "left anterior or posterior fascicular block"},
    {"heart-block", "1AVB,2AVB,3AVB,CLBBB,CRBBB,ILBBB,IRBBB,LAFB,LPFB",
     "heart block: AV block, bundle branch block or fascicular block (avb + bbb + fascicular)"},
};

/* One code of a task; named: the built-in task the code comes from, or NULL for a spec the
 * user typed. An unknown code is the spec's fault, or for a named task the file's. */
static int task_add_code(Task *t, const PtbxlDb *db, const char *tok, const char *spec, const NamedTask *named) {
    const PtbxlStatement *st = NULL;
    for (int i = 0; i < db->nstatements && !st; i++)
        if (strcasecmp(db->stmt[i].code, tok) == 0) st = &db->stmt[i];
    if (!st && named) {
        char path[sizeof db->dir + 32];
        snprintf(path, sizeof path, "%s/scp_statements.csv", db->dir);
        return kres_fail(path, "has no statement '%s', which task '%s' needs (%s); PTB-XL's own file "
                               "has them all: truncated, or not PTB-XL's?",
                         tok, named->name, named->codes);
    }
    if (!st) {
        char valid[700];
        size_t used = 0;
        valid[0] = '\0';
        for (int i = 0; i < db->nstatements && used + PTBXL_CODE_MAX + 8 < sizeof valid; i++)
            used += (size_t)snprintf(valid + used, sizeof valid - used, "%s%s", i ? " " : "",
                                     db->stmt[i].code);
        return kres_fail(NULL, "task '%s': unknown SCP code '%s'; valid tasks: heart-block avb bbb "
                         "fascicular cd, or codes from scp_statements.csv: %s", spec, tok, valid);
    }
    for (int j = 0; j < t->ncodes; j++)
        if (strcmp(t->codes[j], st->code) == 0)
            return kres_fail(NULL, "task '%s': code '%s' listed twice", spec, st->code);
    KRES_ASSERT(t->ncodes < TASK_MAX_CODES);
    snprintf(t->codes[t->ncodes++], PTBXL_CODE_MAX, "%s", st->code);
    return 0;
}

/* Comma-separated codes; spaces around codes are allowed. */
static int task_add_list(Task *t, const PtbxlDb *db, const char *list, const char *spec, const NamedTask *named) {
    const char *p = list;
    for (;;) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *end = e;
        while (end > p && end[-1] == ' ') end--;
        char tok[64];
        size_t len = (size_t)(end - p);
        if (len == 0) return kres_fail(NULL, "task '%s': empty code in the list", spec);
        if (len >= sizeof tok) return kres_fail(NULL, "task '%s': code '%.*s' is too long", spec, (int)len, p);
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (t->ncodes == TASK_MAX_CODES) return kres_fail(NULL, "task '%s': too many codes", spec);
        if (task_add_code(t, db, tok, spec, named) != 0) return -1;
        if (!*e) return 0;
        p = e + 1;
    }
}

int task_parse(const char *spec, const PtbxlDb *db, Task *t) {
    memset(t, 0, sizeof *t);
    if (!spec || !*spec) return kres_fail(NULL, "empty task (use heart-block, avb, bbb, fascicular, cd or SCP codes)");
    for (size_t i = 0; i < sizeof NAMED_TASKS / sizeof NAMED_TASKS[0]; i++) {
        if (strcasecmp(spec, NAMED_TASKS[i].name) != 0) continue;
        if (task_add_list(t, db, NAMED_TASKS[i].codes, NAMED_TASKS[i].name, &NAMED_TASKS[i]) != 0) return -1;
        snprintf(t->name, sizeof t->name, "%s", NAMED_TASKS[i].name);
        snprintf(t->description, sizeof t->description, "%s", NAMED_TASKS[i].description);
        return 0;
    }
    if (strcasecmp(spec, "cd") == 0) {
        for (int i = 0; i < db->nstatements; i++)
            if (db->stmt[i].diagnostic && strcmp(db->stmt[i].diagnostic_class, "CD") == 0)
                snprintf(t->codes[t->ncodes++], PTBXL_CODE_MAX, "%s", db->stmt[i].code);
        if (t->ncodes == 0) return kres_fail(NULL, "task 'cd': scp_statements.csv has no CD statements");
        snprintf(t->name, sizeof t->name, "cd");
        snprintf(t->description, sizeof t->description,
                 "conduction disturbance: every diagnostic statement of class CD");
        return 0;
    }
    if (task_add_list(t, db, spec, spec, NULL) != 0) return -1;
    /* Name = the canonical codes joined by commas (cut at sizeof name). */
    char name[sizeof t->name];
    size_t used = 0;
    name[0] = '\0';
    for (int j = 0; j < t->ncodes && used < sizeof name; j++)
        used += (size_t)snprintf(name + used, sizeof name - used, "%s%s", j ? "," : "", t->codes[j]);
    memcpy(t->name, name, sizeof name);
    snprintf(t->description, sizeof t->description, "any of the listed SCP codes");
    return 0;
}

int task_is_named(const char *spec) {
    if (!spec) return 0;
    for (size_t i = 0; i < sizeof NAMED_TASKS / sizeof NAMED_TASKS[0]; i++)
        if (strcasecmp(spec, NAMED_TASKS[i].name) == 0) return 1;
    return strcasecmp(spec, "cd") == 0;
}

/* ---- cohorts ----------------------------------------------------------------------- */

CohortOptions cohort_options_default(void) {
    return (CohortOptions){.protocol = PROTOCOL_PAPER, .rate = 100, .min_likelihood = 0, .check_files = 1};
}

int protocol_parse(const char *s, CohortProtocol *p) {
    if (strcmp(s, "paper") == 0) *p = PROTOCOL_PAPER;
    else if (strcmp(s, "all") == 0) *p = PROTOCOL_ALL;
    else return kres_fail(NULL, "unknown protocol '%s' (use paper or all)", s);
    return 0;
}

const char *protocol_name(CohortProtocol p) { return p == PROTOCOL_ALL ? "all" : "paper"; }

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void cohort_skip(Cohort *c, int ecg_id, PtbxlSkipReason why, const char *detail, int *cap) {
    if (c->nskipped == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        c->skipped = xrealloc(c->skipped, (size_t)*cap * sizeof *c->skipped);
    }
    PtbxlSkip *s = &c->skipped[c->nskipped++];
    s->ecg_id = ecg_id;
    s->reason = why;
    snprintf(s->detail, sizeof s->detail, "%s", detail ? detail : "");
    c->nskip_reason[why]++;
}

/* check_files == 2: the header must parse and describe a 12-lead record at `rate` Hz whose
 * signal file is long enough (checked for format 16, PTB-XL's). Returns 0 or -1 + kres_fail. */
static int check_record(const char *record, int rate) {
    WfdbHeader h;
    if (wfdb_read_header(record, &h) != 0) return -1;
    int rc = 0;
    if (h.nsig != 12) rc = kres_fail(record, "%d signals, expected 12 leads", h.nsig);
    else if (h.fs != rate) rc = kres_fail(record, "sampling frequency %g Hz, expected %d", h.fs, rate);
    if (rc == 0 && h.nsamples > 0 && h.sig[0].format == 16) {
        int one_file = 1;
        for (int s = 1; s < h.nsig; s++) one_file &= strcmp(h.sig[s].file, h.sig[0].file) == 0 && h.sig[s].format == 16;
        char dat[1400];
        struct stat st;
        if (one_file && path_join(dat, sizeof dat, h.dir, h.sig[0].file) == 0) {
            long long need = (long long)h.sig[0].byte_offset + 2LL * h.nsig * h.nsamples;
            if (stat(dat, &st) != 0) rc = kres_fail(dat, "signal file missing");
            else if ((long long)st.st_size < need)
                rc = kres_fail(dat, "%lld bytes, the header needs %lld", (long long)st.st_size, need);
        }
    }
    wfdb_header_free(&h);
    return rc;
}

int cohort_build(const PtbxlDb *db, const Task *t, CohortOptions o, Cohort *c) {
    memset(c, 0, sizeof *c);
    if (o.rate != 100 && o.rate != 500) return kres_fail(NULL, "sampling rate must be 100 or 500, got %d", o.rate);
    if (!(o.min_likelihood >= 0 && o.min_likelihood <= 100))
        return kres_fail(NULL, "min_likelihood must be in [0, 100], got %g", o.min_likelihood);
    if (t->ncodes < 1) return kres_fail(NULL, "task '%s' has no codes", t->name);
    const int nc = t->ncodes, cap = db->n > 0 ? db->n : 1;
    c->ncodes = nc;
    c->nrows = db->nrows;
    c->path = xcalloc((size_t)cap, sizeof *c->path);
    c->rec = xmalloc((size_t)cap * sizeof(int));
    c->ecg_id = xmalloc((size_t)cap * sizeof(int));
    c->patient_id = xmalloc((size_t)cap * sizeof(int));
    c->fold = xmalloc((size_t)cap * sizeof(int));
    c->sex = xmalloc((size_t)cap * sizeof(int));
    c->age = xmalloc((size_t)cap * sizeof(float));
    c->label = xmalloc((size_t)cap * sizeof(int));
    c->code_label = xcalloc((size_t)cap * (size_t)nc, sizeof(int));
    c->code_count = xcalloc((size_t)nc, sizeof(int));
    int skip_cap = 0;
    for (int i = 0; i < db->nskipped; i++) cohort_skip(c, db->skipped[i].ecg_id, db->skipped[i].reason, db->skipped[i].detail, &skip_cap);
    int *lab = xmalloc((size_t)nc * sizeof(int));
    char path[1400];
    for (int r = 0; r < db->n; r++) {
        const PtbxlRecord *rec = &db->rec[r];
        int pos = 0, uncertain = 0;
        for (int j = 0; j < nc; j++) {
            float lk = ptbxl_record_likelihood(rec, t->codes[j]);
            lab[j] = lk >= 0 && lk >= o.min_likelihood;
            pos |= lab[j];
            uncertain |= lk >= 0 && !lab[j];
        }
        /* A record carrying a task code below the threshold is neither a confident positive
         * nor a clean negative: leave it out under both protocols. */
        if (!pos && uncertain) {
            c->n_uncertain++;
            continue;
        }
        if (!pos && o.protocol == PROTOCOL_PAPER && !ptbxl_record_norm_only(db, rec)) {
            c->n_excluded++;
            continue;
        }
        const char *fn = o.rate == 100 ? rec->filename_lr : rec->filename_hr;
        if (path_join(path, sizeof path - 8, db->dir, fn) != 0) {
            free(lab);
            cohort_free(c);
            return kres_fail(db->dir, "record path too long for ecg_id %d", rec->ecg_id);
        }
        if (o.check_files) {
            size_t len = strlen(path);
            strcpy(path + len, ".hea");
            int ok = file_exists(path);
            strcpy(path + len, ".dat");
            ok = ok && file_exists(path);
            path[len] = '\0';
            if (!ok) {
                cohort_skip(c, rec->ecg_id, PTBXL_SKIP_MISSING_FILES, NULL, &skip_cap);
                continue;
            }
            if (o.check_files >= 2 && check_record(path, o.rate) != 0) {
                cohort_skip(c, rec->ecg_id, PTBXL_SKIP_BAD_RECORD, kres_last_error(), &skip_cap);
                kres_clear_error();
                continue;
            }
        }
        int i = c->n++;
        c->path[i] = xstrdup(path);
        c->rec[i] = r;
        c->ecg_id[i] = rec->ecg_id;
        c->patient_id[i] = rec->patient_id;
        c->fold[i] = rec->strat_fold;
        c->sex[i] = rec->sex;
        c->age[i] = rec->age;
        c->label[i] = pos;
        for (int j = 0; j < nc; j++) {
            c->code_label[(size_t)i * nc + j] = lab[j];
            c->code_count[j] += lab[j];
        }
        if (pos) c->npos++, c->pos_fold[rec->strat_fold]++;
        else c->nneg++, c->neg_fold[rec->strat_fold]++;
    }
    free(lab);
    KRES_ASSERT(c->nrows == c->n + c->nskipped + c->n_excluded + c->n_uncertain);
    return 0;
}

void cohort_free(Cohort *c) {
    if (c->path)
        for (int i = 0; i < c->n; i++) free(c->path[i]);
    free(c->path);
    free(c->rec);
    free(c->ecg_id);
    free(c->patient_id);
    free(c->fold);
    free(c->sex);
    free(c->age);
    free(c->label);
    free(c->code_label);
    free(c->code_count);
    free(c->skipped);
    memset(c, 0, sizeof *c);
}

/* ---- splits ------------------------------------------------------------------------ */

int cohort_split(const Cohort *c, int test_fold, int val_fold, int *train_idx, int *ntrain,
                 int *val_idx, int *nval, int *test_idx, int *ntest) {
    if (test_fold < 1 || test_fold > PTBXL_NFOLDS)
        return kres_fail(NULL, "test fold %d is not in 1..%d", test_fold, PTBXL_NFOLDS);
    if (val_fold < 0 || val_fold > PTBXL_NFOLDS || val_fold == test_fold)
        return kres_fail(NULL, "validation fold %d must be 0 (none) or a fold in 1..%d other than the test fold",
                         val_fold, PTBXL_NFOLDS);
    int a = 0, b = 0, d = 0;
    for (int i = 0; i < c->n; i++) {
        if (c->fold[i] == test_fold) test_idx[d++] = i;
        else if (c->fold[i] == val_fold) val_idx[b++] = i;
        else train_idx[a++] = i;
    }
    *ntrain = a, *nval = b, *ntest = d;
    return 0;
}

void kfold_folds(int k, int *test_fold, int *val_fold) {
    KRES_ASSERT(k >= 1 && k <= PTBXL_NFOLDS);
    *test_fold = k;
    *val_fold = k % PTBXL_NFOLDS + 1;
}

int subset_label_fraction(const Cohort *c, const int *idx, int n, double fraction, uint64_t seed,
                          int *out, int *nout) {
    if (!(fraction > 0 && fraction <= 1))
        return kres_fail(NULL, "label fraction must be in (0, 1], got %g", fraction);
    for (int i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= c->n) return kres_fail(NULL, "subset index %d out of range", idx[i]);
    /* Positions into idx, by class; each class shuffled by its own seeded stream so the
     * negatives' order does not depend on how many positives there are. */
    int *cls[2], m[2] = {0, 0};
    cls[0] = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    cls[1] = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(int));
    for (int i = 0; i < n; i++) {
        int y = c->label[idx[i]] != 0;
        cls[y][m[y]++] = i;
    }
    unsigned char *keep = xcalloc((size_t)(n > 0 ? n : 1), 1);
    for (int y = 0; y < 2; y++) {
        Rng rng;
        rng_seed(&rng, seed ^ (y ? 0x5ca1ab1e0ddba11ULL : 0));
        rng_shuffle_int(&rng, cls[y], m[y]);
        int k = (int)floor(fraction * m[y] + 0.5);
        if (k < 1 && m[y] > 0) k = 1;
        if (k > m[y]) k = m[y];
        for (int j = 0; j < k; j++) keep[cls[y][j]] = 1;
    }
    int w = 0;
    for (int i = 0; i < n; i++)
        if (keep[i]) out[w++] = idx[i];
    *nout = w;
    free(keep);
    free(cls[0]);
    free(cls[1]);
    return 0;
}
