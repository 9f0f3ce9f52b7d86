/* csv.c — strict RFC-4180 reader (see csv.h). The whole file is read once; each row is
 * unescaped into a reusable buffer, so reading is one pass with no per-field allocation. */
#include "data/csv.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static void row_put(CsvReader *r, size_t *used, char c) {
    if (*used + 1 >= r->rowcap) {
        r->rowcap = r->rowcap ? 2 * r->rowcap : 256;
        r->rowbuf = xrealloc(r->rowbuf, r->rowcap);
    }
    r->rowbuf[(*used)++] = c;
}

static void field_begin(CsvReader *r, size_t used) {
    if (r->nfields == r->field_cap) {
        r->field_cap = r->field_cap ? 2 * r->field_cap : 32;
        r->field_off = xrealloc(r->field_off, (size_t)r->field_cap * sizeof *r->field_off);
        r->field = xrealloc(r->field, (size_t)r->field_cap * sizeof *r->field);
    }
    r->field_off[r->nfields++] = used;
}

/* Parse one row into r->field. Returns 1, 0 at end of input, -1 on a syntax error. */
static int parse_row(CsvReader *r) {
    const char *b = r->buf;
    /* Blank lines carry no record; skipping them tolerates a trailing "\n\n". */
    for (;;) {
        if (r->pos >= r->len) return 0;
        if (b[r->pos] == '\n') {
            r->pos++, r->line++;
        } else if (b[r->pos] == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n') {
            r->pos += 2, r->line++;
        } else {
            break;
        }
    }
    r->row_line = r->line;
    r->nfields = 0;
    size_t used = 0;
    for (;;) {
        field_begin(r, used);
        if (r->pos < r->len && b[r->pos] == '"') {
            int start_line = r->line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len)
                    return kres_fail(r->name, "line %d: quoted field never closed", start_line);
                char c = b[r->pos];
                if (c == '\0') return kres_fail(r->name, "line %d: NUL byte in text", r->line);
                if (c == '"') {
                    if (r->pos + 1 < r->len && b[r->pos + 1] == '"') {
                        row_put(r, &used, '"');
                        r->pos += 2;
                        continue;
                    }
                    r->pos++;
                    break;
                }
                if (c == '\n') r->line++;
                row_put(r, &used, c);
                r->pos++;
            }
            /* After a closing quote only a separator or the end of the line may follow. */
            if (r->pos < r->len && b[r->pos] != ',' && b[r->pos] != '\n' &&
                !(b[r->pos] == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n'))
                return kres_fail(r->name, "line %d: unexpected '%c' after a closing quote",
                                 r->line, b[r->pos]);
        } else {
            while (r->pos < r->len) {
                char c = b[r->pos];
                if (c == ',' || c == '\n') break;
                if (c == '\r' && r->pos + 1 < r->len && b[r->pos + 1] == '\n') break;
                if (c == '"')
                    return kres_fail(r->name, "line %d: quote inside an unquoted field", r->line);
                if (c == '\0') return kres_fail(r->name, "line %d: NUL byte in text", r->line);
                row_put(r, &used, c);
                r->pos++;
            }
        }
        row_put(r, &used, '\0');
        if (r->pos < r->len && b[r->pos] == ',') {
            r->pos++;
            continue;
        }
        /* End of row: consume the line break (if any). */
        if (r->pos < r->len) {
            r->pos += b[r->pos] == '\r' ? 2 : 1;
            r->line++;
        }
        break;
    }
    for (int i = 0; i < r->nfields; i++) r->field[i] = r->rowbuf + r->field_off[i];
    return 1;
}

static int open_common(CsvReader *r) {
    r->line = 1;
    /* A UTF-8 byte-order mark (spreadsheet exports) is not part of the first column name. */
    if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) r->pos = 3;
    int rc = parse_row(r);
    if (rc == 0) kres_fail(r->name, "empty file (no header row)");
    if (rc != 1) {
        csv_close(r);
        return -1;
    }
    r->nheader = r->nfields;
    r->header = xmalloc((size_t)r->nheader * sizeof *r->header);
    for (int i = 0; i < r->nheader; i++) r->header[i] = xstrdup(r->field[i]);
    return 0;
}

int csv_open(CsvReader *r, const char *path) {
    memset(r, 0, sizeof *r);
    size_t len;
    char *buf = read_file_all(path, &len);
    if (!buf) return -1;
    r->name = xstrdup(path);
    r->buf = buf;
    r->len = len;
    return open_common(r);
}

int csv_open_buffer(CsvReader *r, const char *name, const char *data, size_t len) {
    memset(r, 0, sizeof *r);
    r->name = xstrdup(name);
    r->buf = xmalloc(len + 1);
    memcpy(r->buf, data, len);
    r->buf[len] = '\0';
    r->len = len;
    return open_common(r);
}

void csv_close(CsvReader *r) {
    for (int i = 0; i < r->nheader; i++) free(r->header[i]);
    free(r->header);
    free(r->field);
    free(r->field_off);
    free(r->rowbuf);
    free(r->buf);
    free(r->name);
    memset(r, 0, sizeof *r);
}

int csv_column(const CsvReader *r, const char *name) {
    for (int i = 0; i < r->nheader; i++)
        if (strcmp(r->header[i], name) == 0) return i;
    return -1;
}

int csv_require(const CsvReader *r, const char *name) {
    int c = csv_column(r, name);
    if (c < 0) return kres_fail(r->name, "required column '%s' is missing from the header", name);
    return c;
}

int csv_next(CsvReader *r) {
    int rc = parse_row(r);
    if (rc != 1) return rc;
    if (r->nfields != r->nheader)
        return kres_fail(r->name, "line %d: %d fields, but the header has %d", r->row_line,
                         r->nfields, r->nheader);
    return 1;
}

const char *csv_field(const CsvReader *r, int i) {
    KRES_ASSERT(i >= 0 && i < r->nfields);
    return r->field[i];
}
