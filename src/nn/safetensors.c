/* safetensors.c — see safetensors.h for the format and the validation rules. */
#include "nn/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json.h"
#include "common/util.h"

/* Tensor bytes are copied with memcpy, which is only correct on a little-endian host
 * (every platform kres targets). Refuse to build elsewhere rather than misread silently. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

static const struct {
    const char *name;
    size_t size;
} k_dtypes[ST_NDTYPES] = {
    [ST_F64] = {"F64", 8}, [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1}, [ST_U8] = {"U8", 1}, [ST_BOOL] = {"BOOL", 1},
};

const char *st_dtype_name(StDtype t) {
    return (unsigned)t < ST_NDTYPES ? k_dtypes[t].name : "?";
}
size_t st_dtype_size(StDtype t) { return (unsigned)t < ST_NDTYPES ? k_dtypes[t].size : 0; }
int st_dtype_from_name(const char *s) {
    for (int i = 0; i < ST_NDTYPES; i++)
        if (s && strcmp(s, k_dtypes[i].name) == 0) return i;
    return -1;
}

char *st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = 0;
    int w = snprintf(buf, n, "[");
    k = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && k < n; i++) {
        w = snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)shape[i]);
        if (w < 0) break;
        k += (size_t)w;
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* numel of a shape, or 0 with *overflow set if it exceeds `limit` elements. */
static size_t shape_numel(int ndim, const int64_t *shape, size_t limit, int *overflow) {
    size_t numel = 1;
    *overflow = 0;
    for (int i = 0; i < ndim; i++) {
        size_t d = (size_t)shape[i];
        if (d == 0) return 0;
        if (numel > limit / d) *overflow = 1;
        else numel *= d;
    }
    return *overflow ? 0 : numel;
}

/* ------------------------------------------------------------------------------------ */
/* Writer                                                                               */
/* ------------------------------------------------------------------------------------ */

static void put_u64le(unsigned char b[8], uint64_t x) {
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
}

/* Everything st_write can check before touching the filesystem. */
static int check_tensors(const char *path, const StTensor *t, int n, const char *const *meta_keys,
                         const char *const *meta_vals, int nmeta) {
    for (int i = 0; i < n; i++) {
        if (!t[i].name || !t[i].name[0]) return kres_fail(path, "tensor %d has an empty name", i);
        if (strcmp(t[i].name, "__metadata__") == 0)
            return kres_fail(path, "\"__metadata__\" is reserved and cannot name a tensor");
        if ((unsigned)t[i].dtype >= ST_NDTYPES)
            return kres_fail(path, "tensor \"%s\": invalid dtype %d", t[i].name, (int)t[i].dtype);
        if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS)
            return kres_fail(path, "tensor \"%s\": %d dimensions (at most %d)", t[i].name, t[i].ndim,
                             ST_MAX_DIMS);
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].shape[d] < 0)
                return kres_fail(path, "tensor \"%s\": negative dimension", t[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return kres_fail(path, "duplicate tensor name \"%s\"", t[i].name);
    }
    for (int i = 0; i < nmeta; i++)
        if (!meta_keys[i] || !meta_vals[i])
            return kres_fail(path, "metadata entry %d has a NULL key or value", i);
    return 0;
}

/* The JSON header into w: metadata first (as the reference writer does), then the tensors in
 * order with contiguous data offsets; nbytes[i] = tensor i's data size. */
static int build_header(const char *path, const StTensor *t, int n, const char *const *meta_keys,
                        const char *const *meta_vals, int nmeta, JsonWriter *w, size_t *nbytes) {
    jw_object_begin(w);
    if (nmeta > 0) {
        jw_key(w, "__metadata__");
        jw_object_begin(w);
        for (int i = 0; i < nmeta; i++) {
            jw_key(w, meta_keys[i]);
            jw_string(w, meta_vals[i]);
        }
        jw_object_end(w);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        int ovf;
        size_t esz = st_dtype_size(t[i].dtype);
        size_t numel = shape_numel(t[i].ndim, t[i].shape, SIZE_MAX / esz, &ovf);
        if (ovf) return kres_fail(path, "tensor \"%s\" is too large", t[i].name);
        nbytes[i] = numel * esz;
        if (nbytes[i] && !t[i].data) return kres_fail(path, "tensor \"%s\" has no data", t[i].name);
        jw_key(w, t[i].name);
        jw_object_begin(w);
        jw_key(w, "dtype");
        jw_string(w, st_dtype_name(t[i].dtype));
        jw_key(w, "shape");
        jw_array_begin(w);
        for (int d = 0; d < t[i].ndim; d++) jw_int(w, (long long)t[i].shape[d]);
        jw_array_end(w);
        jw_key(w, "data_offsets");
        jw_array_begin(w);
        jw_int(w, (long long)off);
        jw_int(w, (long long)(off + nbytes[i]));
        jw_array_end(w);
        jw_object_end(w);
        off += nbytes[i];
    }
    jw_object_end(w);
    return 0;
}

/* The file, atomically: 8-byte header length, the header padded with spaces so that the data
 * buffer starts 8-byte aligned, then each tensor's bytes. */
static int write_file(const char *path, const JsonWriter *w, const StTensor *t, int n,
                      const size_t *nbytes) {
    size_t hlen = (w->len + 7) & ~(size_t)7;
    if ((uint64_t)hlen > ST_MAX_HEADER)
        return kres_fail(path, "header of %zu bytes exceeds the format's limit", hlen);
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    unsigned char len8[8];
    put_u64le(len8, (uint64_t)hlen);
    int ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(w->buf, 1, w->len, af.fp) == w->len &&
             fwrite("       ", 1, hlen - w->len, af.fp) == hlen - w->len;
    for (int i = 0; ok && i < n; i++)
        if (nbytes[i]) ok = fwrite(t[i].data, 1, nbytes[i], af.fp) == nbytes[i];
    if (!ok) {
        int e = errno;
        atomic_abort(&af);
        return kres_fail(path, "write failed: %s", strerror(e));
    }
    return atomic_commit(&af);
}

int st_write(const char *path, const StTensor *t, int n, const char *const *meta_keys,
             const char *const *meta_vals, int nmeta) {
    if (check_tensors(path, t, n, meta_keys, meta_vals, nmeta) != 0) return -1;
    size_t *nbytes = xmalloc(sizeof(size_t) * (size_t)(n ? n : 1));
    JsonWriter w;
    jw_init(&w);
    int rc = build_header(path, t, n, meta_keys, meta_vals, nmeta, &w, nbytes);
    if (rc == 0) rc = write_file(path, &w, t, n, nbytes);
    jw_free(&w);
    free(nbytes);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Reader                                                                               */
/* ------------------------------------------------------------------------------------ */

void st_close(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->nmeta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->buf);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* A JSON number that is a non-negative integer exactly representable as a double. */
static int json_uint(const JsonValue *v, uint64_t *out) {
    if (!v || v->type != JSON_NUMBER) return -1;
    double x = v->number;
    if (!(x >= 0) || x > 9007199254740992.0 || x != floor(x)) return -1;
    *out = (uint64_t)x;
    return 0;
}

static int read_whole(const char *path, unsigned char **buf, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return kres_fail(path, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return kres_fail(path, "not a regular file");
    }
    size_t n = (size_t)st.st_size;
    unsigned char *b = xmalloc(n ? n : 1);
    size_t got = n ? fread(b, 1, n, fp) : 0;
    int extra = fgetc(fp) != EOF; /* file grew while reading: refuse rather than guess */
    fclose(fp);
    if (got != n || extra) {
        free(b);
        return kres_fail(path, "read error (file changed while reading?)");
    }
    *buf = b;
    *size = n;
    return 0;
}

typedef struct {
    size_t begin, end;
    int idx;
} Span;
static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Parse one tensor entry of the header into ti (name already set). */
static int parse_entry(const char *path, const char *name, const JsonValue *e, size_t data_size,
                       StTensorInfo *ti) {
    if (e->type != JSON_OBJECT)
        return kres_fail(path, "header entry \"%s\" is not an object", name);
    for (int k = 0; k < e->n; k++)
        if (strcmp(e->keys[k], "dtype") && strcmp(e->keys[k], "shape") &&
            strcmp(e->keys[k], "data_offsets"))
            return kres_fail(path, "tensor \"%s\": unexpected field \"%s\"", name, e->keys[k]);
    const JsonValue *dt = json_get(e, "dtype"), *sh = json_get(e, "shape"),
                    *of = json_get(e, "data_offsets");
    if (!dt) return kres_fail(path, "tensor \"%s\": missing \"dtype\"", name);
    if (!sh) return kres_fail(path, "tensor \"%s\": missing \"shape\"", name);
    if (!of) return kres_fail(path, "tensor \"%s\": missing \"data_offsets\"", name);
    if (dt->type != JSON_STRING) return kres_fail(path, "tensor \"%s\": dtype is not a string", name);
    int d = st_dtype_from_name(dt->string);
    if (d < 0) return kres_fail(path, "tensor \"%s\": unknown dtype \"%.32s\"", name, dt->string);
    ti->dtype = (StDtype)d;
    if (sh->type != JSON_ARRAY) return kres_fail(path, "tensor \"%s\": shape is not an array", name);
    if (sh->n > ST_MAX_DIMS)
        return kres_fail(path, "tensor \"%s\": %d dimensions (at most %d)", name, sh->n, ST_MAX_DIMS);
    ti->ndim = sh->n;
    for (int k = 0; k < sh->n; k++) {
        uint64_t x;
        if (json_uint(&sh->items[k], &x) != 0)
            return kres_fail(path, "tensor \"%s\": shape[%d] is not a non-negative integer", name, k);
        ti->shape[k] = (int64_t)x;
    }
    uint64_t b, en;
    if (of->type != JSON_ARRAY || of->n != 2 || json_uint(&of->items[0], &b) != 0 ||
        json_uint(&of->items[1], &en) != 0)
        return kres_fail(path, "tensor \"%s\": data_offsets must be [begin, end] integers", name);
    if (b > en) return kres_fail(path, "tensor \"%s\": data_offsets begin > end", name);
    if (en > data_size)
        return kres_fail(path,
                         "tensor \"%s\": data_offsets [%llu, %llu] exceed the %zu-byte data "
                         "buffer (file truncated?)",
                         name, (unsigned long long)b, (unsigned long long)en, data_size);
    ti->begin = (size_t)b;
    ti->end = (size_t)en;
    int ovf;
    size_t esz = st_dtype_size(ti->dtype);
    ti->numel = shape_numel(ti->ndim, ti->shape, SIZE_MAX / esz, &ovf);
    if (ovf || ti->numel * esz != ti->end - ti->begin) {
        char s[160];
        return kres_fail(path,
                         "tensor \"%s\": data_offsets [%zu, %zu] hold %zu bytes but dtype %s and "
                         "shape %s need %s%zu",
                         name, ti->begin, ti->end, ti->end - ti->begin, st_dtype_name(ti->dtype),
                         st_shape_str(s, sizeof s, ti->ndim, ti->shape), ovf ? "more than " : "",
                         ovf ? SIZE_MAX : ti->numel * esz);
    }
    return 0;
}

/* The 8-byte little-endian header length, bounded by the format's limit (so a random file
 * cannot make us parse megabytes of garbage) and by what the file actually holds. */
static int read_header_length(const char *path, const unsigned char *buf, size_t size,
                              uint64_t *hlen) {
    if (size < 8) return kres_fail(path, "file too short (%zu bytes) to be a safetensors file", size);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++) n |= (uint64_t)buf[i] << (8 * i);
    if (n > ST_MAX_HEADER)
        return kres_fail(path, "header length %llu is absurd (limit %llu): not a safetensors file?",
                         (unsigned long long)n, (unsigned long long)ST_MAX_HEADER);
    if (n > size - 8)
        return kres_fail(path, "header length %llu exceeds the file size %zu (file truncated?)",
                         (unsigned long long)n, size);
    *hlen = n;
    return 0;
}

/* The JSON header, which must be an object; NULL (with kres_fail) otherwise. */
static JsonValue *parse_header(const char *path, const unsigned char *text, uint64_t hlen) {
    char jerr[256];
    JsonValue *h = json_parse((const char *)text, (size_t)hlen, jerr, sizeof jerr);
    if (!h) {
        kres_fail(path, "header: %s", jerr);
        return NULL;
    }
    if (h->type != JSON_OBJECT) {
        json_free(h);
        kres_fail(path, "header is not a JSON object");
        return NULL;
    }
    return h;
}

/* Metadata (optional): string -> string only, as in the reference format. */
static int read_metadata(const char *path, const JsonValue *h, StFile *f) {
    const JsonValue *meta = json_get(h, "__metadata__");
    if (!meta) return 0;
    if (meta->type != JSON_OBJECT) return kres_fail(path, "__metadata__ is not an object");
    f->meta_keys = xcalloc((size_t)meta->n + 1, sizeof(char *));
    f->meta_vals = xcalloc((size_t)meta->n + 1, sizeof(char *));
    for (int i = 0; i < meta->n; i++) {
        if (meta->items[i].type != JSON_STRING)
            return kres_fail(path, "__metadata__ value \"%s\" is not a string", meta->keys[i]);
        /* nmeta grows pair by pair so st_close frees exactly what was copied */
        f->meta_keys[f->nmeta] = xstrdup(meta->keys[i]);
        f->meta_vals[f->nmeta] = xstrdup(meta->items[i].string);
        f->nmeta++;
    }
    return 0;
}

/* Every other header entry is a tensor: check its dtype, shape and offsets (parse_entry)
 * and point it into the data buffer. Needs f->data and f->data_size set. */
static int read_tensor_entries(const char *path, const JsonValue *h, StFile *f) {
    int ntensors = h->n - (json_get(h, "__metadata__") ? 1 : 0);
    f->tensors = xcalloc((size_t)ntensors + 1, sizeof(StTensorInfo));
    for (int i = 0; i < h->n; i++) {
        const char *name = h->keys[i];
        if (strcmp(name, "__metadata__") == 0) continue;
        if (!name[0]) return kres_fail(path, "a tensor has an empty name");
        StTensorInfo *ti = &f->tensors[f->n];
        ti->name = xstrdup(name);
        f->n++; /* counted before parsing so st_close frees the name on failure */
        if (parse_entry(path, name, &h->items[i], f->data_size, ti) != 0) return -1;
        ti->data = f->data + ti->begin;
    }
    return 0;
}

/* Tensors must tile the data buffer: sorted by offset, each starts where the previous
 * ended, and the last ends at the end of the file. */
static int check_data_tiled(const char *path, const StFile *f) {
    Span *spans = xmalloc(sizeof(Span) * ((size_t)f->n + 1));
    for (int i = 0; i < f->n; i++) spans[i] = (Span){f->tensors[i].begin, f->tensors[i].end, i};
    qsort(spans, (size_t)f->n, sizeof(Span), cmp_span);
    size_t at = 0;
    int rc = 0;
    for (int i = 0; i < f->n; i++) {
        const StTensorInfo *ti = &f->tensors[spans[i].idx];
        if (spans[i].begin < at) {
            rc = kres_fail(path, "tensor \"%s\": data_offsets [%zu, %zu] overlap another tensor",
                           ti->name, ti->begin, ti->end);
            break;
        }
        if (spans[i].begin > at) {
            rc = kres_fail(path, "tensor \"%s\": gap in the data buffer before offset %zu", ti->name,
                           ti->begin);
            break;
        }
        at = spans[i].end;
    }
    if (rc == 0 && at != f->data_size)
        rc = kres_fail(path, "%zu unexpected bytes after the last tensor (data buffer %zu bytes)",
                       f->data_size - at, f->data_size);
    free(spans);
    return rc;
}

/* Read, then validate step by step; any failure leaves f zeroed (st_close) and the first
 * problem found in kres_last_error(). */
int st_open(const char *path, StFile *f) {
    memset(f, 0, sizeof *f);
    if (read_whole(path, &f->buf, &f->size) != 0) return -1;
    f->path = xstrdup(path);
    JsonValue *h = NULL;
    uint64_t hlen = 0;
    int rc = -1;
    if (read_header_length(path, f->buf, f->size, &hlen) != 0) goto done;
    if (!(h = parse_header(path, f->buf + 8, hlen))) goto done;
    f->data = f->buf + 8 + hlen;
    f->data_size = f->size - 8 - (size_t)hlen;
    if (read_metadata(path, h, f) != 0) goto done;
    if (read_tensor_entries(path, h, f) != 0) goto done;
    if (check_data_tiled(path, f) != 0) goto done;
    rc = 0;
done:
    json_free(h);
    if (rc != 0) st_close(f);
    return rc;
}

const StTensorInfo *st_find(const StFile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

float st_f16_to_f32(uint16_t h) {
    unsigned sign = (h >> 15) & 1, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);                       /* zero / subnormal */
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400), (int)exp - 25);
    return sign ? -v : v;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

int st_read_f32(const StFile *f, const char *name, float *dst, size_t numel) {
    const StTensorInfo *t = st_find(f, name);
    if (!t) return kres_fail(f->path, "no tensor named \"%s\"", name);
    if (t->numel != numel)
        return kres_fail(f->path, "tensor \"%s\" has %zu elements, expected %zu", name, t->numel,
                         numel);
    const unsigned char *p = t->data;
    size_t es = st_dtype_size(t->dtype);
    if (t->dtype == ST_F32) {
        if (numel) memcpy(dst, p, numel * 4);
        return 0;
    }
    for (size_t i = 0; i < numel; i++, p += es) {
        switch (t->dtype) {
        case ST_F64: { double x; memcpy(&x, p, 8); dst[i] = (float)x; break; }
        case ST_F16: { uint16_t x; memcpy(&x, p, 2); dst[i] = st_f16_to_f32(x); break; }
        case ST_BF16: { uint16_t x; memcpy(&x, p, 2); dst[i] = st_bf16_to_f32(x); break; }
        case ST_I64: { int64_t x; memcpy(&x, p, 8); dst[i] = (float)x; break; }
        case ST_I32: { int32_t x; memcpy(&x, p, 4); dst[i] = (float)x; break; }
        case ST_I16: { int16_t x; memcpy(&x, p, 2); dst[i] = (float)x; break; }
        case ST_I8: dst[i] = (float)(int8_t)p[0]; break;
        case ST_U8: dst[i] = (float)p[0]; break;
        case ST_BOOL: dst[i] = p[0] ? 1.0f : 0.0f; break;
        default: KRES_ASSERT(0);
        }
    }
    return 0;
}
