/* test_json.c — strict JSON reader (valid documents, every error class with its byte
 * offset, depth limit, random/truncated input never crashing) and the writer (escaping,
 * numbers, commas, round trips through the reader). */
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "test.h"

static JsonValue *parse(const char *s, char *err, size_t errn) {
    return json_parse(s, strlen(s), err, errn);
}

/* The document must be refused, and the message must mention `want` (e.g. "byte 3"). */
static void expect_error(const char *s, const char *want) {
    char err[256] = "";
    JsonValue *v = parse(s, err, sizeof err);
    CHECKF(v == NULL, "accepted invalid JSON: %s", s);
    CHECKF(strstr(err, want) != NULL, "input %s: error '%s' lacks '%s'", s, err, want);
    json_free(v);
}

static void expect_ok(const char *s) {
    char err[256] = "";
    JsonValue *v = parse(s, err, sizeof err);
    CHECKF(v != NULL, "refused valid JSON %s: %s", s, err);
    json_free(v);
}

static void test_values(void) {
    char err[256];
    JsonValue *v = parse(" {\"a\": [1, -2.5e3, true, false, null, \"x\"], \"b\": {}, \"c\": []} ",
                         err, sizeof err);
    CHECK(v != NULL);
    if (!v) return;
    CHECK(v->type == JSON_OBJECT && v->n == 3);
    const JsonValue *a = json_get(v, "a");
    CHECK(a && a->type == JSON_ARRAY && a->n == 6);
    CHECK(json_num(json_at(a, 0), 0) == 1.0);
    CHECK(json_num(json_at(a, 1), 0) == -2500.0);
    CHECK(json_at(a, 2)->type == JSON_BOOL && json_at(a, 2)->number == 1);
    CHECK(json_at(a, 3)->type == JSON_BOOL && json_at(a, 3)->number == 0);
    CHECK(json_at(a, 4)->type == JSON_NULL);
    CHECK(strcmp(json_str(json_at(a, 5), ""), "x") == 0);
    CHECK(json_at(a, 6) == NULL && json_at(a, -1) == NULL);
    CHECK(json_get(v, "b")->type == JSON_OBJECT && json_get(v, "b")->n == 0);
    CHECK(json_get(v, "c")->type == JSON_ARRAY && json_get(v, "c")->n == 0);
    CHECK(json_get(v, "zz") == NULL);
    CHECK(json_get(a, "a") == NULL);               /* not an object */
    CHECK(json_num(json_at(a, 5), 7.0) == 7.0);     /* wrong type -> default */
    CHECK(strcmp(json_str(json_at(a, 0), "d"), "d") == 0);
    CHECK(json_num(NULL, 3.0) == 3.0);
    json_free(v);

    /* Scalars at top level, numbers at the edges of the grammar. */
    v = parse("0", err, sizeof err);
    CHECK(v && v->type == JSON_NUMBER && v->number == 0);
    json_free(v);
    v = parse("-0.0e+0", err, sizeof err);
    CHECK(v && v->number == 0 && signbit(v->number));
    json_free(v);
    v = parse("1E2", err, sizeof err);
    CHECK(v && v->number == 100);
    json_free(v);
    v = parse("0.1", err, sizeof err);
    CHECK(v && v->number == 0.1);
    json_free(v);
    v = parse("123456789012345678", err, sizeof err);
    CHECK(v && v->number == 123456789012345678.0);
    json_free(v);
    v = parse("1e-400", err, sizeof err); /* underflow to 0 is representable enough */
    CHECK(v && v->number == 0);
    json_free(v);
    expect_ok("\"\"");
    expect_ok("null");
    expect_ok("[[[]]]");
    expect_ok("\t\r\n[ 1 ,2 ]\n");
}

static void test_strings(void) {
    char err[256];
    JsonValue *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", err, sizeof err);
    CHECK(v && strcmp(v->string, "a\"b\\c/d\b\f\n\r\t") == 0);
    json_free(v);
    /* \u escapes: 1-, 2-, 3-byte UTF-8 and a surrogate pair (U+1F600) to 4 bytes. */
    v = parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"", err, sizeof err);
    CHECK(v && strcmp(v->string, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80") == 0);
    json_free(v);
    /* Raw UTF-8 passes through unchanged. */
    v = parse("\"\xC3\xA9\xF0\x9F\x98\x80\"", err, sizeof err);
    CHECK(v && strcmp(v->string, "\xC3\xA9\xF0\x9F\x98\x80") == 0);
    json_free(v);
    v = parse("{\"k\\u0065y\": 1}", err, sizeof err);
    CHECK(v && json_get(v, "key") != NULL);
    json_free(v);
}

static void test_errors(void) {
    expect_error("", "byte 0");
    expect_error("   ", "byte 3");
    expect_error("[1,]", "byte 3");
    expect_error("[1 2]", "byte 3");
    expect_error("{\"a\" 1}", "byte 5");
    expect_error("{\"a\":1,}", "byte 7");
    expect_error("{a:1}", "byte 1");
    expect_error("{\"a\":1", "end of input");
    expect_error("[", "end of input");
    expect_error("01", "leading zero");
    expect_error("-", "byte 1");
    expect_error("+1", "byte 0");
    expect_error("1.", "byte 2");
    expect_error(".5", "byte 0");
    expect_error("1e", "byte 2");
    expect_error("1e+", "byte 3");
    expect_error("1e999", "out of range");
    expect_error("-1e999", "out of range");
    expect_error("NaN", "byte 0");
    expect_error("Infinity", "byte 0");
    expect_error("tru", "byte 0");
    expect_error("nul", "byte 0");
    expect_error("truex", "byte 4");
    expect_error("1 2", "after the value");
    expect_error("{} x", "byte 3");
    expect_error("\"abc", "unterminated string");
    expect_error("\"a\nb\"", "control character");
    expect_error("\"a\\x\"", "invalid escape");
    expect_error("\"a\\", "byte 2");
    expect_error("\"\\u12x4\"", "hex digit");
    expect_error("\"\\u12\"", "truncated");
    expect_error("\"\\u12", "truncated");
    expect_error("\"\\u0000\"", "\\u0000");
    expect_error("\"\\ud83d\"", "surrogate");
    expect_error("\"\\ud83dx\"", "surrogate");
    expect_error("\"\\ud83d\\u0041\"", "surrogate");
    expect_error("\"\\ude00\"", "low surrogate");
    expect_error("\"\xC3\"", "UTF-8");
    expect_error("\"\xC0\x80\"", "UTF-8");         /* overlong */
    expect_error("\"\xED\xA0\x80\"", "UTF-8");     /* encoded surrogate */
    expect_error("\"\xF4\x90\x80\x80\"", "UTF-8"); /* above U+10FFFF */
    expect_error("\"\xFF\"", "UTF-8");
    expect_error("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"");
    expect_error("[1] \x01", "byte 0x01");
    expect_error("/* c */ 1", "byte 0");
    expect_error("'a'", "byte 0");

    /* An embedded NUL byte inside the given length is refused, not treated as the end. */
    char err[256];
    JsonValue *v = json_parse("[1]\0", 4, err, sizeof err);
    CHECK(v == NULL && strstr(err, "byte 3"));
    /* A length shorter than the C string limits what is parsed. */
    v = json_parse("[1]xyz", 3, err, sizeof err);
    CHECK(v != NULL);
    json_free(v);
    /* NULL err buffer is allowed. */
    CHECK(json_parse("[", 1, NULL, 0) == NULL);
    /* A tiny err buffer is truncated safely. */
    char small[8];
    CHECK(json_parse("[", 1, small, sizeof small) == NULL && strlen(small) == 7);
}

static void test_depth(void) {
    char buf[512], err[256];
    /* JSON_MAX_DEPTH nested arrays are fine; one more is refused with a clear message. */
    for (int d = JSON_MAX_DEPTH; d <= JSON_MAX_DEPTH + 1; d++) {
        int n = 0;
        for (int i = 0; i < d; i++) buf[n++] = '[';
        for (int i = 0; i < d; i++) buf[n++] = ']';
        JsonValue *v = json_parse(buf, (size_t)n, err, sizeof err);
        if (d == JSON_MAX_DEPTH) CHECKF(v != NULL, "%s", err);
        else CHECK(v == NULL && strstr(err, "nesting deeper"));
        json_free(v);
    }
    /* A hostile 100000-deep document must not overflow the stack. */
    size_t n = 200000;
    char *deep = xmalloc(n);
    memset(deep, '[', n);
    CHECK(json_parse(deep, n, err, sizeof err) == NULL && strstr(err, "nesting"));
    memset(deep, '{', n);
    CHECK(json_parse(deep, n, err, sizeof err) == NULL);
    free(deep);
}

/* Random and truncated inputs: the reader may accept or refuse, but must never crash or
 * leak (checked under ASan), and a refusal always comes with a message. */
static void test_fuzz(void) {
    static const char *seeds[] = {
        "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],"
        "\"data_offsets\":[0,24]}}",
        "[1,-2.5e-3,true,false,null,\"a\\u00e9\\ud83d\\ude00\\n\",{\"x\":[[]]}]",
        "\"\xF0\x9F\x98\x80\\\"\"",
    };
    Rng r;
    rng_seed(&r, 1234);
    char buf[256], err[256];
    int accepted = 0, refused = 0, msg_ok = 1;
    for (int s = 0; s < 3; s++) {
        size_t len = strlen(seeds[s]);
        /* Every truncation of a valid document: all but the full one must be refused. */
        for (size_t cut = 0; cut < len; cut++) {
            JsonValue *v = json_parse(seeds[s], cut, err, sizeof err);
            if (v) accepted++;
            else {
                refused++;
                msg_ok &= strstr(err, "invalid JSON at byte") != NULL;
            }
            json_free(v);
        }
    }
    CHECK(accepted == 0);
    CHECK(msg_ok);
    /* Random byte mutations of the seeds, and fully random bytes from a JSON-ish alphabet. */
    static const char alpha[] = "{}[]\":,\\u0123456789abcdefEe+-.tnrl \t\n\xC3\xA9\xFF";
    for (int it = 0; it < 20000; it++) {
        size_t len;
        if (it % 2 == 0) {
            const char *seed = seeds[it % 3];
            len = strlen(seed);
            memcpy(buf, seed, len);
            int muts = 1 + (int)rng_below(&r, 4);
            for (int m = 0; m < muts; m++) {
                size_t at = rng_below(&r, len);
                buf[at] = rng_below(&r, 2) ? (char)rng_below(&r, 256)
                                           : alpha[rng_below(&r, sizeof alpha - 1)];
            }
        } else {
            len = rng_below(&r, 40);
            for (size_t i = 0; i < len; i++) buf[i] = alpha[rng_below(&r, sizeof alpha - 1)];
        }
        err[0] = '\0';
        JsonValue *v = json_parse(buf, len, err, sizeof err);
        if (v) {
            accepted++;
            /* Anything accepted must re-serialise to something the reader accepts again. */
            JsonWriter w;
            jw_init(&w);
            jw_value(&w, v);
            JsonValue *v2 = json_parse(w.buf, w.len, err, sizeof err);
            msg_ok &= v2 != NULL;
            json_free(v2);
            jw_free(&w);
        } else {
            refused++;
            msg_ok &= strstr(err, "invalid JSON at byte") != NULL;
        }
        json_free(v);
    }
    CHECK(msg_ok);
    CHECK(refused > 1000); /* the fuzzer actually exercised error paths */
}

static void test_writer(void) {
    JsonWriter w;
    jw_init(&w);
    CHECK(w.buf && strcmp(w.buf, "") == 0);
    jw_object_begin(&w);
    jw_key(&w, "s");
    jw_string(&w, "q\"b\\n\n\t\x01\x1f/\xC3\xA9");
    jw_key(&w, "n");
    jw_number(&w, 0.1);
    jw_key(&w, "i");
    jw_int(&w, -9007199254740992LL);
    jw_key(&w, "nan");
    jw_number(&w, NAN);
    jw_key(&w, "inf");
    jw_number(&w, -INFINITY);
    jw_key(&w, "a");
    jw_array_begin(&w);
    jw_bool(&w, 1);
    jw_bool(&w, 0);
    jw_null(&w);
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_raw(&w, "{\"r\":1}");
    jw_array_end(&w);
    jw_key(&w, "bad\xFF");
    jw_number(&w, 3);
    jw_object_end(&w);
    const char *want = "{\"s\":\"q\\\"b\\\\n\\n\\t\\u0001\\u001f/\xC3\xA9\",\"n\":0.10000000000000001,"
                       "\"i\":-9007199254740992,\"nan\":null,\"inf\":null,"
                       "\"a\":[true,false,null,[],{},{\"r\":1}],\"bad\xEF\xBF\xBD\":3}";
    CHECKF(strcmp(w.buf, want) == 0, "got %s", w.buf);
    CHECK(w.len == strlen(want));
    CHECK(w.depth == 0);

    /* Round trip: the reader gets back exactly what was written. */
    char err[256];
    JsonValue *v = json_parse(w.buf, w.len, err, sizeof err);
    CHECKF(v != NULL, "%s", err);
    if (v) {
        CHECK(strcmp(json_str(json_get(v, "s"), ""), "q\"b\\n\n\t\x01\x1f/\xC3\xA9") == 0);
        CHECK(json_num(json_get(v, "n"), 0) == 0.1);
        CHECK(json_get(v, "nan")->type == JSON_NULL);
        CHECK(json_get(v, "a")->n == 6);
        /* jw_value reproduces the document byte for byte (numbers are %.17g already). */
        JsonWriter w2;
        jw_init(&w2);
        jw_value(&w2, v);
        CHECKF(strcmp(w2.buf, w.buf) == 0, "got %s", w2.buf);
        jw_free(&w2);
    }
    json_free(v);
    jw_free(&w);

    /* Doubles survive a write/read round trip bit-exactly. */
    Rng r;
    rng_seed(&r, 7);
    int exact = 1;
    for (int i = 0; i < 2000; i++) {
        uint64_t bits = rng_u64(&r);
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!isfinite(x)) continue;
        jw_init(&w);
        jw_number(&w, x);
        JsonValue *n = json_parse(w.buf, w.len, err, sizeof err);
        exact &= n && n->type == JSON_NUMBER && memcmp(&n->number, &x, sizeof x) == 0;
        json_free(n);
        jw_free(&w);
    }
    CHECK(exact);

    /* Top-level sequence: commas between siblings at depth 0 as well. */
    jw_init(&w);
    jw_int(&w, 1);
    jw_int(&w, 2);
    CHECK(strcmp(w.buf, "1,2") == 0);
    jw_free(&w);
}

int main(void) {
    test_values();
    test_strings();
    test_errors();
    test_depth();
    test_fuzz();
    test_writer();
    TEST_MAIN_END();
}
