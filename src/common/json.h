/* json.h — a small strict JSON reader (RFC 8259) and an append-only JSON writer.
 * Used for safetensors headers, checkpoint metadata, results.json and --json output. */
#ifndef KRES_JSON_H
#define KRES_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    double number;      /* JSON_NUMBER; JSON_BOOL as 0/1 */
    char *string;       /* JSON_STRING (NUL-terminated, unescaped) */
    int n;              /* JSON_ARRAY / JSON_OBJECT: element count */
    char **keys;        /* JSON_OBJECT: n keys */
    JsonValue *items;   /* JSON_ARRAY / JSON_OBJECT: n values */
};

/* Deepest nesting of arrays/objects the reader accepts (the writer holds 63 levels). */
#define JSON_MAX_DEPTH 63

/* Parse len bytes. Returns NULL on error and writes a message with the byte offset to err. */
JsonValue *json_parse(const char *text, size_t len, char *err, size_t errn);
void json_free(JsonValue *v);

const JsonValue *json_get(const JsonValue *obj, const char *key); /* NULL if absent/not object */
const JsonValue *json_at(const JsonValue *arr, int i);            /* NULL if out of range */
/* Typed getters with defaults; return dflt if v is NULL or of another type. */
double json_num(const JsonValue *v, double dflt);
const char *json_str(const JsonValue *v, const char *dflt);

/* Writer: a growable string. Commas between members are inserted automatically. */
typedef struct {
    char *buf;
    size_t len, cap;
    int need_comma[64];
    int depth;
} JsonWriter;
void jw_init(JsonWriter *w);
void jw_free(JsonWriter *w);
void jw_object_begin(JsonWriter *w);
void jw_object_end(JsonWriter *w);
void jw_array_begin(JsonWriter *w);
void jw_array_end(JsonWriter *w);
void jw_key(JsonWriter *w, const char *key);     /* next value belongs to this key */
void jw_string(JsonWriter *w, const char *s);    /* escaped */
void jw_number(JsonWriter *w, double x);         /* %.17g; NaN/Inf written as null */
void jw_int(JsonWriter *w, long long x);
void jw_bool(JsonWriter *w, int b);
void jw_null(JsonWriter *w);
void jw_raw(JsonWriter *w, const char *json);    /* pre-formatted JSON value */
void jw_value(JsonWriter *w, const JsonValue *v); /* re-serialise a parsed value */

#endif
