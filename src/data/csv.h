/* csv.h — a strict RFC-4180 CSV reader with a header row.
 *
 * Accepted: quoted fields (with commas, doubled quotes "" and line breaks inside), LF or CRLF
 * line ends, a UTF-8 byte-order mark, a missing final line break, blank lines (skipped).
 * Rejected with "<file>: line N: ...": a quote inside an unquoted field, text after a closing
 * quote, an unterminated quoted field, NUL bytes, and a row whose field count differs from
 * the header's. Columns are found by header name, so column order does not matter.
 *
 *   CsvReader r;
 *   if (csv_open(&r, path) != 0) return -1;
 *   int c = csv_require(&r, "ecg_id");          // -1 + kres_fail if absent
 *   while ((rc = csv_next(&r)) == 1) use(csv_field(&r, c), r.row_line);
 *   csv_close(&r);                               // rc == -1: error already recorded */
#ifndef KRES_CSV_H
#define KRES_CSV_H

#include <stddef.h>

typedef struct {
    char *name;          /* file path (or a label for in-memory data), used in messages */
    char *buf;           /* whole input, NUL-terminated */
    size_t len, pos;
    int line;            /* 1-based line of buf[pos] */
    int row_line;        /* line on which the current row starts */
    int nheader;
    char **header;       /* [nheader] column names (owned) */
    int nfields;
    char **field;        /* [nfields] current row, pointing into rowbuf */
    int field_cap;
    size_t *field_off;   /* [field_cap] offsets into rowbuf while a row is being built */
    char *rowbuf;
    size_t rowcap;
} CsvReader;

/* Read the file and its header row. Empty file or unreadable file -> -1. */
int csv_open(CsvReader *r, const char *path);
/* Same from memory (copied); name is used in messages. */
int csv_open_buffer(CsvReader *r, const char *name, const char *data, size_t len);
void csv_close(CsvReader *r);

/* Index of the column named name (exact match), or -1. */
int csv_column(const CsvReader *r, const char *name);
/* Same, but a missing column is an error naming the file: returns -1 after kres_fail. */
int csv_require(const CsvReader *r, const char *name);

/* Next data row: 1 read, 0 end of input, -1 error (kres_fail with file and line). */
int csv_next(CsvReader *r);
const char *csv_field(const CsvReader *r, int i);

#endif
