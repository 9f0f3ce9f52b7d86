/* safetensors.h — reader and writer for the safetensors tensor file format.
 *
 * File layout (all integers little-endian):
 *   bytes [0, 8)        u64 N, the length of the JSON header
 *   bytes [8, 8+N)      JSON header, UTF-8, right-padded with spaces (we pad to 8 bytes)
 *                         {"__metadata__": {"key": "value", ...},          (optional)
 *                          "tensor.name": {"dtype": "F32", "shape": [d0, d1, ...],
 *                                          "data_offsets": [begin, end]}, ...}
 *   bytes [8+N, EOF)    data buffer; tensor bytes are [begin, end) relative to its start,
 *                       row-major, little-endian
 * The reader is as strict as the reference implementation: tensors must tile the data
 * buffer exactly (contiguous from 0, no gaps, no overlaps, nothing after the last one)
 * and end - begin must equal numel * dtype size. Any violation, a truncated file, bad
 * JSON, an unknown dtype or a duplicate name is refused with "<file>: <what>" via
 * kres_fail. The writer keeps tensors in the order given and writes atomically. */
#ifndef KRES_SAFETENSORS_H
#define KRES_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_MAX_DIMS 8
/* Largest header the reader accepts; the reference implementation uses the same bound. */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef enum {
    ST_F64, ST_F32, ST_F16, ST_BF16,
    ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
    ST_NDTYPES
} StDtype;

const char *st_dtype_name(StDtype t);        /* "F32", ... */
size_t st_dtype_size(StDtype t);             /* bytes per element */
int st_dtype_from_name(const char *s);       /* StDtype, or -1 if unknown */

/* One tensor to write. A 0-d (scalar) tensor has ndim 0 and one element. */
typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;          /* numel * dtype size bytes, little-endian; may be NULL if empty */
} StTensor;

/* Write tensors (in the given order) and metadata string pairs to path atomically.
 * Names must be unique, non-empty and not "__metadata__". Returns 0 or -1 (kres_fail). */
int st_write(const char *path, const StTensor *tensors, int n, const char *const *meta_keys,
             const char *const *meta_vals, int nmeta);

typedef struct {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end;         /* byte range in the data buffer */
    const void *data;          /* points into StFile's buffer (not necessarily aligned) */
} StTensorInfo;

typedef struct {
    char *path;
    unsigned char *buf;        /* the whole file */
    size_t size;
    const unsigned char *data; /* start of the data buffer */
    size_t data_size;
    int n;                     /* tensors, in header order */
    StTensorInfo *tensors;
    int nmeta;                 /* __metadata__ pairs, in header order */
    char **meta_keys, **meta_vals;
} StFile;

/* Read and validate a whole file. On failure f is left empty (st_close is still safe). */
int st_open(const char *path, StFile *f);
void st_close(StFile *f);
const StTensorInfo *st_find(const StFile *f, const char *name);  /* NULL if absent */
const char *st_meta(const StFile *f, const char *key);            /* NULL if absent */
/* Copy tensor `name` into dst as float32, converting from any float or integer dtype.
 * numel must equal the tensor's element count. Returns 0 or -1 (kres_fail naming the file). */
int st_read_f32(const StFile *f, const char *name, float *dst, size_t numel);
/* Format a shape as "[2, 3]" (or "[]" for a scalar) into buf; returns buf. */
char *st_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* Half-precision conversions used by st_read_f32 (exposed for tests). */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

#endif
