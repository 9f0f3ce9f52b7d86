/* json.c — strict RFC 8259 reader and append-only writer; see json.h.
 *
 * Reader: recursive descent over a (text, len) byte range. Strictness choices, each
 * deliberate because the reader parses untrusted checkpoint headers:
 *   - exactly one value, surrounded only by JSON whitespace (space, tab, LF, CR);
 *   - strings must be valid UTF-8, control characters must be escaped, \uXXXX escapes
 *     (including surrogate pairs) are decoded to UTF-8, lone surrogates are refused;
 *   - "\u0000" is refused because strings are returned NUL-terminated and a silent
 *     truncation could make two distinct keys equal;
 *   - numbers follow the RFC grammar (no leading zeros, no "+", no "NaN") and must be
 *     finite as doubles;
 *   - duplicate keys in one object are refused (safetensors names must be unique);
 *   - nesting deeper than JSON_MAX_DEPTH is refused, so hostile input cannot overflow
 *     the C stack.
 * Every error message carries the byte offset where the problem was detected. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ------------------------------------------------------------------------------------ */
/* Reader                                                                               */
/* ------------------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    int depth;
    char *err;
    size_t errn;
    int failed;
} Parser;

static int perr(Parser *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(Parser *p, size_t at, const char *fmt, ...) {
    if (p->failed) return -1; /* keep the first (innermost) message */
    p->failed = 1;
    if (p->err && p->errn) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errn, "invalid JSON at byte %zu: %s", at, msg);
    }
    return -1;
}

static void skip_ws(Parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

/* Describe the byte at pos for error messages ("end of input" or the character). */
static const char *describe(Parser *p, char *buf, size_t n) {
    if (p->pos >= p->len) return "end of input";
    unsigned char c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, n, "'%c'", c);
    else
        snprintf(buf, n, "byte 0x%02x", c);
    return buf;
}

static int parse_value(Parser *p, JsonValue *v);

/* Growable byte buffer for unescaped strings. */
typedef struct {
    char *b;
    size_t n, cap;
} Buf;
static void buf_put(Buf *b, const void *src, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->n + n + 1) cap *= 2;
        b->b = xrealloc(b->b, cap);
        b->cap = cap;
    }
    memcpy(b->b + b->n, src, n);
    b->n += n;
    b->b[b->n] = '\0';
}

static int utf8_encode(unsigned cp, unsigned char out[4]) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence starting at s[0] (at most n bytes available), or 0
 * if invalid: overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_valid_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t need;
    unsigned cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) need = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) need = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return need;
}

static int hex4(Parser *p, size_t at, unsigned *out) {
    if (p->len - at < 4) return perr(p, at, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p->s[at + i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return perr(p, at + i, "invalid hex digit in \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Parse a string starting at the opening quote; returns a malloc'd NUL-terminated copy. */
static char *parse_string_raw(Parser *p) {
    Buf b = {0};
    buf_put(&b, "", 0);
    p->pos++; /* opening quote */
    for (;;) {
        if (p->pos >= p->len) {
            perr(p, p->pos, "unterminated string");
            goto fail;
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            return b.b;
        }
        if (c < 0x20) {
            perr(p, p->pos, "unescaped control character 0x%02x in string", c);
            goto fail;
        }
        if (c == '\\') {
            size_t esc = p->pos;
            if (p->pos + 1 >= p->len) {
                perr(p, esc, "unterminated escape");
                goto fail;
            }
            unsigned char e = p->s[p->pos + 1];
            const char *simple = NULL;
            switch (e) {
            case '"': simple = "\""; break;
            case '\\': simple = "\\"; break;
            case '/': simple = "/"; break;
            case 'b': simple = "\b"; break;
            case 'f': simple = "\f"; break;
            case 'n': simple = "\n"; break;
            case 'r': simple = "\r"; break;
            case 't': simple = "\t"; break;
            case 'u': break;
            default: perr(p, esc, "invalid escape '\\%c'", e >= 0x20 && e < 0x7f ? e : '?'); goto fail;
            }
            if (simple) {
                buf_put(&b, simple, 1);
                p->pos += 2;
                continue;
            }
            unsigned cp;
            if (hex4(p, p->pos + 2, &cp) != 0) goto fail;
            p->pos += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                perr(p, esc, "lone low surrogate \\u%04X", cp);
                goto fail;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A high surrogate must be followed immediately by an escaped low one. */
                unsigned lo;
                if (p->len - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    perr(p, esc, "high surrogate \\u%04X not followed by a low surrogate", cp);
                    goto fail;
                }
                if (hex4(p, p->pos + 2, &lo) != 0) goto fail;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    perr(p, esc, "high surrogate \\u%04X not followed by a low surrogate", cp);
                    goto fail;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) {
                perr(p, esc, "\\u0000 is not supported in strings");
                goto fail;
            }
            unsigned char u[4];
            buf_put(&b, u, (size_t)utf8_encode(cp, u));
            continue;
        }
        size_t n = utf8_valid_len(p->s + p->pos, p->len - p->pos);
        if (n == 0) {
            perr(p, p->pos, "invalid UTF-8 in string");
            goto fail;
        }
        buf_put(&b, p->s + p->pos, n);
        p->pos += n;
    }
fail:
    free(b.b);
    return NULL;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int parse_number(Parser *p, JsonValue *v) {
    size_t start = p->pos, i = p->pos;
    const unsigned char *s = p->s;
    if (i < p->len && s[i] == '-') i++;
    if (i >= p->len || !is_digit(s[i])) return perr(p, i, "invalid number: expected a digit");
    if (s[i] == '0') {
        i++;
        if (i < p->len && is_digit(s[i])) return perr(p, i, "invalid number: leading zero");
    } else {
        while (i < p->len && is_digit(s[i])) i++;
    }
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !is_digit(s[i]))
            return perr(p, i, "invalid number: expected a digit after '.'");
        while (i < p->len && is_digit(s[i])) i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || !is_digit(s[i]))
            return perr(p, i, "invalid number: expected a digit in the exponent");
        while (i < p->len && is_digit(s[i])) i++;
    }
    /* strtod needs a NUL-terminated copy; the text is not necessarily terminated. */
    size_t n = i - start;
    char small[64];
    char *tmp = n < sizeof small ? small : xmalloc(n + 1);
    memcpy(tmp, s + start, n);
    tmp[n] = '\0';
    errno = 0;
    double x = strtod(tmp, NULL);
    int range = errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL);
    if (tmp != small) free(tmp);
    if (range || !isfinite(x)) return perr(p, start, "number out of range");
    v->type = JSON_NUMBER;
    v->number = x;
    p->pos = i;
    return 0;
}

static int literal(Parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        char d[32];
        return perr(p, p->pos, "unexpected %s", describe(p, d, sizeof d));
    }
    p->pos += n;
    return 0;
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Refuse duplicate keys; O(n log n) so a hostile object with many keys stays cheap. */
static int check_duplicates(Parser *p, JsonValue *v, size_t at) {
    if (v->n < 2) return 0;
    char **sorted = xmalloc(sizeof(char *) * (size_t)v->n);
    memcpy(sorted, v->keys, sizeof(char *) * (size_t)v->n);
    qsort(sorted, (size_t)v->n, sizeof(char *), cmp_strp);
    int rc = 0;
    for (int i = 1; i < v->n; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) {
            rc = perr(p, at, "duplicate key \"%.80s\" in object", sorted[i]);
            break;
        }
    free(sorted);
    return rc;
}

/* Append a zeroed slot to an array/object, growing capacity geometrically. */
static JsonValue *push_item(JsonValue *v, int *cap, int with_key) {
    if (v->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        v->items = xrealloc(v->items, sizeof(JsonValue) * (size_t)*cap);
        if (with_key) v->keys = xrealloc(v->keys, sizeof(char *) * (size_t)*cap);
    }
    JsonValue *it = &v->items[v->n];
    memset(it, 0, sizeof *it);
    if (with_key) v->keys[v->n] = NULL;
    v->n++;
    return it;
}

static int parse_container(Parser *p, JsonValue *v, int is_object) {
    size_t open = p->pos;
    if (++p->depth > JSON_MAX_DEPTH)
        return perr(p, open, "nesting deeper than %d levels", JSON_MAX_DEPTH);
    v->type = is_object ? JSON_OBJECT : JSON_ARRAY;
    int cap = 0;
    char close = is_object ? '}' : ']';
    char d[32];
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        p->depth--;
        return 0;
    }
    for (;;) {
        skip_ws(p);
        JsonValue *it;
        if (is_object) {
            if (p->pos >= p->len || p->s[p->pos] != '"')
                return perr(p, p->pos, "expected a string key, found %s", describe(p, d, sizeof d));
            char *key = parse_string_raw(p);
            if (!key) return -1;
            it = push_item(v, &cap, 1);
            v->keys[v->n - 1] = key;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return perr(p, p->pos, "expected ':' after key, found %s", describe(p, d, sizeof d));
            p->pos++;
            skip_ws(p);
        } else {
            it = push_item(v, &cap, 0);
        }
        if (parse_value(p, it) != 0) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        return perr(p, p->pos, "expected ',' or '%c', found %s", close, describe(p, d, sizeof d));
    }
    p->depth--;
    return is_object ? check_duplicates(p, v, open) : 0;
}

/* Parse one value at p->pos (whitespace already skipped). On failure v may be partly
 * filled; json_free-style cleanup of v is the caller's job. */
static int parse_value(Parser *p, JsonValue *v) {
    char d[32];
    if (p->pos >= p->len) return perr(p, p->pos, "unexpected end of input, expected a value");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, v, 1);
    case '[': return parse_container(p, v, 0);
    case '"':
        v->type = JSON_STRING;
        v->string = parse_string_raw(p);
        return v->string ? 0 : -1;
    case 't':
        v->type = JSON_BOOL;
        v->number = 1;
        return literal(p, "true");
    case 'f':
        v->type = JSON_BOOL;
        v->number = 0;
        return literal(p, "false");
    case 'n':
        v->type = JSON_NULL;
        return literal(p, "null");
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, v);
        return perr(p, p->pos, "unexpected %s, expected a value", describe(p, d, sizeof d));
    }
}

static void free_contents(JsonValue *v) {
    if (v->type == JSON_STRING) free(v->string);
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        for (int i = 0; i < v->n; i++) {
            free_contents(&v->items[i]);
            if (v->keys) free(v->keys[i]);
        }
        free(v->items);
        free(v->keys);
    }
}

JsonValue *json_parse(const char *text, size_t len, char *err, size_t errn) {
    Parser p = {(const unsigned char *)text, len, 0, 0, err, errn, 0};
    if (err && errn) err[0] = '\0';
    if (!text) len = p.len = 0;
    JsonValue *v = xcalloc(1, sizeof *v);
    char d[32];
    skip_ws(&p);
    if (parse_value(&p, v) == 0) {
        skip_ws(&p);
        if (p.pos == p.len) return v;
        perr(&p, p.pos, "unexpected %s after the value", describe(&p, d, sizeof d));
    }
    json_free(v);
    return NULL;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT || !key) return NULL;
    for (int i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

const JsonValue *json_at(const JsonValue *arr, int i) {
    if (!arr || arr->type != JSON_ARRAY || i < 0 || i >= arr->n) return NULL;
    return &arr->items[i];
}

double json_num(const JsonValue *v, double dflt) {
    return v && v->type == JSON_NUMBER ? v->number : dflt;
}

const char *json_str(const JsonValue *v, const char *dflt) {
    return v && v->type == JSON_STRING ? v->string : dflt;
}

/* ------------------------------------------------------------------------------------ */
/* Writer                                                                               */
/* ------------------------------------------------------------------------------------ */

static void w_put(JsonWriter *w, const char *s, size_t n) {
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1) cap *= 2;
        w->buf = xrealloc(w->buf, cap);
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}
static void w_puts(JsonWriter *w, const char *s) { w_put(w, s, strlen(s)); }

/* Every value (and every key) starts here: a comma if a sibling came before. jw_key
 * clears the flag so the key's value does not get a comma of its own. */
static void w_begin_value(JsonWriter *w) {
    KRES_ASSERT(w->depth >= 0 && w->depth < 64);
    if (w->need_comma[w->depth]) w_put(w, ",", 1);
    w->need_comma[w->depth] = 1;
}

void jw_init(JsonWriter *w) {
    memset(w, 0, sizeof *w);
    w_put(w, "", 0); /* buf is always a valid C string */
}

void jw_free(JsonWriter *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void w_open(JsonWriter *w, const char *c) {
    w_begin_value(w);
    w_puts(w, c);
    KRES_ASSERT(w->depth + 1 < 64); /* writer nesting limit: a programming error */
    w->depth++;
    w->need_comma[w->depth] = 0;
}

static void w_close(JsonWriter *w, const char *c) {
    KRES_ASSERT(w->depth > 0);
    w->depth--;
    w_puts(w, c);
}

void jw_object_begin(JsonWriter *w) { w_open(w, "{"); }
void jw_object_end(JsonWriter *w) { w_close(w, "}"); }
void jw_array_begin(JsonWriter *w) { w_open(w, "["); }
void jw_array_end(JsonWriter *w) { w_close(w, "]"); }

/* Escape s as a JSON string. Invalid UTF-8 bytes become U+FFFD so that the output is
 * always accepted by the strict reader above. */
static void w_escaped(JsonWriter *w, const char *str) {
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    w_put(w, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        char esc[8];
        const char *rep = NULL;
        switch (c) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\t': rep = "\\t"; break;
        case '\b': rep = "\\b"; break;
        case '\f': rep = "\\f"; break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                rep = esc;
            }
        }
        if (rep) {
            w_puts(w, rep);
            i++;
            continue;
        }
        size_t k = utf8_valid_len(s + i, n - i);
        if (k == 0) {
            w_puts(w, "\xEF\xBF\xBD");
            i++;
        } else {
            w_put(w, (const char *)s + i, k);
            i += k;
        }
    }
    w_put(w, "\"", 1);
}

void jw_key(JsonWriter *w, const char *key) {
    w_begin_value(w);
    w_escaped(w, key);
    w_put(w, ":", 1);
    w->need_comma[w->depth] = 0;
}

void jw_string(JsonWriter *w, const char *s) {
    w_begin_value(w);
    w_escaped(w, s);
}

void jw_number(JsonWriter *w, double x) {
    w_begin_value(w);
    if (!isfinite(x)) {
        w_puts(w, "null");
        return;
    }
    char b[40];
    snprintf(b, sizeof b, "%.17g", x);
    w_puts(w, b);
}

void jw_int(JsonWriter *w, long long x) {
    w_begin_value(w);
    char b[32];
    snprintf(b, sizeof b, "%lld", x);
    w_puts(w, b);
}

void jw_bool(JsonWriter *w, int b) {
    w_begin_value(w);
    w_puts(w, b ? "true" : "false");
}

void jw_null(JsonWriter *w) {
    w_begin_value(w);
    w_puts(w, "null");
}

void jw_raw(JsonWriter *w, const char *json) {
    w_begin_value(w);
    w_puts(w, json);
}

void jw_value(JsonWriter *w, const JsonValue *v) {
    if (!v) {
        jw_null(w);
        return;
    }
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, v->number != 0); break;
    case JSON_NUMBER: jw_number(w, v->number); break;
    case JSON_STRING: jw_string(w, v->string); break;
    case JSON_ARRAY:
        jw_array_begin(w);
        for (int i = 0; i < v->n; i++) jw_value(w, &v->items[i]);
        jw_array_end(w);
        break;
    case JSON_OBJECT:
        jw_object_begin(w);
        for (int i = 0; i < v->n; i++) {
            jw_key(w, v->keys[i]);
            jw_value(w, &v->items[i]);
        }
        jw_object_end(w);
        break;
    }
}
