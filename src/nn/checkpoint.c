/* checkpoint.c — KRes checkpoints as safetensors files; see checkpoint.h. */
#include "nn/checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/json.h"
#include "common/util.h"

/* Metadata keys written by ckpt_save itself; callers may not use them as extras. */
static const char *const k_reserved[] = {"format",     "kind",       "kres_config",
                                         "preprocess", "task",       "threshold",
                                         "provenance", "data_crc32", "kres_version"};
enum { N_RESERVED = sizeof k_reserved / sizeof k_reserved[0] };

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n) {
    /* zlib's CRC-32 (the same polynomial and conditioning; several times faster than a
     * byte-at-a-time table: a 27 MB checkpoint was ~60 ms of a cold start); uInt lengths,
     * so in chunks */
    const unsigned char *p = data;
    uLong c = crc;
    while (n > 0) {
        const uInt len = n > (1u << 30) ? 1u << 30 : (uInt)n;
        c = crc32(c, p, len);
        p += len, n -= len;
    }
    return (uint32_t)c;
}

static int is_kind(const char *k) {
    return k && (strcmp(k, "classifier") == 0 || strcmp(k, "encoder") == 0 || strcmp(k, "probe") == 0);
}

static int check_json(const char *path, const char *what, const char *json) {
    char err[256];
    JsonValue *v = json_parse(json, strlen(json), err, sizeof err);
    if (!v) return kres_fail(path, "metadata '%s' is not valid JSON: %s", what, err);
    json_free(v);
    return 0;
}

/* Shortest "%.Ng" that reads back as exactly x. */
static void double_repr(char *buf, size_t n, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) return;
    }
}

static void model_tensor_to_st(Kres *m, const KresTensor *t, StTensor *s) {
    memset(s, 0, sizeof *s);
    s->name = t->name;
    s->dtype = ST_F32;
    s->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) s->shape[d] = t->shape[d];
    float *base = t->kind == KRES_PARAM ? kres_params(m) : kres_buffers(m);
    s->data = base + t->offset;
}

int ckpt_save(const char *path, Kres *m, const CkptMeta *meta, const StTensor *extra, int n_extra) {
    if (!m) return kres_fail(path, "no model to save");
    if (!meta || !is_kind(meta->kind))
        return kres_fail(path, "checkpoint kind must be classifier, encoder or probe");
    if (meta->preprocess_json && check_json(path, "preprocess", meta->preprocess_json)) return -1;
    if (meta->task_json && check_json(path, "task", meta->task_json)) return -1;
    if (meta->provenance_json && check_json(path, "provenance", meta->provenance_json)) return -1;
    if (isinf(meta->threshold)) return kres_fail(path, "threshold must be finite");
    for (int i = 0; i < meta->n_extra; i++) {
        if (!meta->extra_keys[i] || !meta->extra_vals[i])
            return kres_fail(path, "extra metadata %d has a NULL key or value", i);
        for (int r = 0; r < N_RESERVED; r++)
            if (strcmp(meta->extra_keys[i], k_reserved[r]) == 0)
                return kres_fail(path, "extra metadata key '%s' is reserved", k_reserved[r]);
    }
    for (int i = 0; i < n_extra; i++) {
        if (extra[i].dtype != ST_F32)
            return kres_fail(path, "extra tensor \"%s\" must be F32", extra[i].name ? extra[i].name : "");
        if (extra[i].name && kres_find_tensor(m, extra[i].name))
            return kres_fail(path, "extra tensor \"%s\" clashes with a model tensor", extra[i].name);
    }

    /* Tensor list: the model's table in order, then the extras. */
    int nt = kres_num_tensors(m), n = nt + n_extra;
    StTensor *ts = xmalloc(sizeof(StTensor) * (size_t)(n ? n : 1));
    for (int i = 0; i < nt; i++) model_tensor_to_st(m, kres_tensor(m, i), &ts[i]);
    for (int i = 0; i < n_extra; i++) ts[nt + i] = extra[i];

    /* CRC over the data buffer exactly as st_write lays it out (contiguous, in order). */
    uint32_t crc = 0;
    for (int i = 0; i < n; i++) {
        size_t numel = 1;
        int bad = 0;
        for (int d = 0; d < ts[i].ndim && d < ST_MAX_DIMS; d++) {
            if (ts[i].shape[d] < 0) bad = 1;
            else numel *= (size_t)ts[i].shape[d];
        }
        if (!bad && ts[i].data && ts[i].ndim <= ST_MAX_DIMS) crc = ckpt_crc32(crc, ts[i].data, numel * 4);
        /* Malformed extras are reported by st_write below. */
    }

    char cfg[2048], thr[40], crcs[16];
    if (kres_config_to_json(kres_config(m), cfg, sizeof cfg) < 0) {
        free(ts);
        return kres_fail(path, "cannot serialise the model config");
    }
    snprintf(crcs, sizeof crcs, "%08x", crc);
    const char *keys[N_RESERVED + 256], *vals[N_RESERVED + 256];
    int nm = 0;
    keys[nm] = "format", vals[nm++] = CKPT_FORMAT;
    keys[nm] = "kind", vals[nm++] = meta->kind;
    keys[nm] = "kres_config", vals[nm++] = cfg;
    if (meta->preprocess_json) keys[nm] = "preprocess", vals[nm++] = meta->preprocess_json;
    if (meta->task_json) keys[nm] = "task", vals[nm++] = meta->task_json;
    if (!isnan(meta->threshold)) {
        double_repr(thr, sizeof thr, meta->threshold);
        keys[nm] = "threshold", vals[nm++] = thr;
    }
    if (meta->provenance_json) keys[nm] = "provenance", vals[nm++] = meta->provenance_json;
    keys[nm] = "data_crc32", vals[nm++] = crcs;
    keys[nm] = "kres_version", vals[nm++] = KRES_VERSION;
    if (meta->n_extra > 256) {
        free(ts);
        return kres_fail(path, "too many extra metadata pairs (%d, at most 256)", meta->n_extra);
    }
    for (int i = 0; i < meta->n_extra; i++) keys[nm] = meta->extra_keys[i], vals[nm++] = meta->extra_vals[i];

    int rc = st_write(path, ts, n, keys, vals, nm);
    free(ts);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Loading                                                                              */
/* ------------------------------------------------------------------------------------ */

/* Format and integrity checks shared by both loaders. */
static int check_file(const StFile *f) {
    const char *fmt = st_meta(f, "format");
    if (!fmt)
        return kres_fail(f->path, "not a kres checkpoint (no 'format' metadata); a plain safetensors "
                                  "file needs kres_config metadata to be loaded");
    if (strcmp(fmt, CKPT_FORMAT) != 0)
        return kres_fail(f->path, "unsupported checkpoint format '%.64s' (expected '%s')", fmt,
                         CKPT_FORMAT);
    const char *crc = st_meta(f, "data_crc32");
    if (crc) {
        uint32_t want = ckpt_crc32(0, f->data, f->data_size);
        char got[16];
        snprintf(got, sizeof got, "%08x", want);
        if (strcmp(got, crc) != 0)
            return kres_fail(f->path, "data checksum mismatch (stored %.16s, computed %s): file corrupted",
                             crc, got);
    }
    return 0;
}

static int is_float_dtype(StDtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64; }

/* Check that the file holds model tensor t with exactly its shape and a float dtype. */
static int check_tensor(const StFile *f, const KresTensor *t, const StTensorInfo *ti) {
    int same = ti->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = ti->shape[d] == t->shape[d];
    if (!same) {
        char a[128], b[128];
        int64_t want[3] = {t->shape[0], t->shape[1], t->shape[2]};
        return kres_fail(f->path, "tensor %s has shape %s, expected %s", t->name,
                         st_shape_str(a, sizeof a, ti->ndim, ti->shape),
                         st_shape_str(b, sizeof b, t->ndim, want));
    }
    if (!is_float_dtype(ti->dtype))
        return kres_fail(f->path, "tensor %s has dtype %s, expected a float type (F32)", t->name,
                         st_dtype_name(ti->dtype));
    return 0;
}

static float *tensor_dst(Kres *m, const KresTensor *t) {
    return (t->kind == KRES_PARAM ? kres_params(m) : kres_buffers(m)) + t->offset;
}

void ckpt_info_free(CkptInfo *info) {
    if (!info) return;
    free(info->path);
    free(info->kind);
    free(info->kres_config);
    free(info->preprocess_json);
    free(info->task_json);
    free(info->provenance_json);
    for (int i = 0; i < info->nmeta; i++) {
        free(info->meta_keys[i]);
        free(info->meta_vals[i]);
    }
    free(info->meta_keys);
    free(info->meta_vals);
    for (int i = 0; i < info->n_tensors; i++) {
        free(info->tensors[i].name);
        free(info->tensors[i].data);
    }
    free(info->tensors);
    memset(info, 0, sizeof *info);
    info->threshold = NAN;
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static int fill_info(const StFile *f, Kres *m, CkptInfo *info) {
    info->path = xstrdup(f->path);
    info->kind = xstrdup(st_meta(f, "kind"));
    info->kres_config = xstrdup(st_meta(f, "kres_config"));
    info->preprocess_json = dup_or_null(st_meta(f, "preprocess"));
    info->task_json = dup_or_null(st_meta(f, "task"));
    info->provenance_json = dup_or_null(st_meta(f, "provenance"));
    info->threshold = NAN;
    info->meta_keys = xcalloc((size_t)f->nmeta + 1, sizeof(char *));
    info->meta_vals = xcalloc((size_t)f->nmeta + 1, sizeof(char *));
    for (int i = 0; i < f->nmeta; i++) {
        info->meta_keys[i] = xstrdup(f->meta_keys[i]);
        info->meta_vals[i] = xstrdup(f->meta_vals[i]);
        info->nmeta++;
    }
    const char *thr = st_meta(f, "threshold");
    if (thr && parse_double(thr, &info->threshold) != 0)
        return kres_fail(f->path, "metadata 'threshold' is not a number: '%.40s'", thr);
    info->tensors = xcalloc((size_t)f->n + 1, sizeof(CkptTensor));
    for (int i = 0; i < f->n; i++) {
        const StTensorInfo *ti = &f->tensors[i];
        if (kres_find_tensor(m, ti->name)) continue;
        CkptTensor *c = &info->tensors[info->n_tensors];
        c->name = xstrdup(ti->name);
        c->ndim = ti->ndim;
        memcpy(c->shape, ti->shape, sizeof c->shape);
        c->numel = ti->numel;
        c->data = xmalloc(sizeof(float) * (ti->numel ? ti->numel : 1));
        info->n_tensors++;
        if (st_read_f32(f, ti->name, c->data, ti->numel) != 0) return -1;
    }
    return 0;
}

int ckpt_load(const char *path, int max_batch, Kres **out, CkptInfo *info) {
    *out = NULL;
    if (info) {
        memset(info, 0, sizeof *info);
        info->threshold = NAN;
    }
    StFile f;
    if (st_open(path, &f) != 0) return -1;
    Kres *m = NULL;
    int rc = -1;
    if (check_file(&f) != 0) goto done;
    const char *kind = st_meta(&f, "kind"), *cfgs = st_meta(&f, "kres_config");
    if (!is_kind(kind)) {
        kres_fail(path, "metadata 'kind' is missing or not classifier/encoder/probe");
        goto done;
    }
    if (!cfgs) {
        kres_fail(path, "metadata 'kres_config' is missing");
        goto done;
    }
    KresConfig cfg;
    if (kres_config_from_json(cfgs, &cfg) != 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", kres_last_error());
        kres_fail(path, "metadata 'kres_config': %s", why);
        goto done;
    }
    m = kres_create_for_load(&cfg, max_batch);
    if (!m) {
        char why[512];
        snprintf(why, sizeof why, "%s", kres_last_error());
        kres_fail(path, "cannot build the model: %s", why);
        goto done;
    }
    for (int i = 0; i < kres_num_tensors(m); i++) {
        const KresTensor *t = kres_tensor(m, i);
        const StTensorInfo *ti = st_find(&f, t->name);
        if (!ti) {
            kres_fail(path, "tensor %s is missing", t->name);
            goto done;
        }
        if (check_tensor(&f, t, ti) != 0 || st_read_f32(&f, t->name, tensor_dst(m, t), t->numel) != 0)
            goto done;
    }
    if (info && fill_info(&f, m, info) != 0) goto done;
    rc = 0;
done:
    st_close(&f);
    if (rc == 0) *out = m;
    else kres_free(m);
    return rc;
}

const char *ckpt_meta(const CkptInfo *info, const char *key) {
    for (int i = 0; i < info->nmeta; i++)
        if (strcmp(info->meta_keys[i], key) == 0) return info->meta_vals[i];
    return NULL;
}

const CkptTensor *ckpt_tensor(const CkptInfo *info, const char *name) {
    for (int i = 0; i < info->n_tensors; i++)
        if (strcmp(info->tensors[i].name, name) == 0) return &info->tensors[i];
    return NULL;
}

/* Encoder tensors: all BN buffers (only the encoder has batch norm) and the parameters
 * in the encoder prefix of the flat parameter array. */
static int is_encoder_tensor(const Kres *m, const KresTensor *t) {
    return t->kind == KRES_BUFFER || t->offset < kres_num_encoder_params(m);
}

int ckpt_load_encoder_into(const char *path, Kres *m, int strict, CkptLoadReport *rep) {
    CkptLoadReport local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    StFile f;
    if (st_open(path, &f) != 0) return -1;
    int rc = -1;
    if (check_file(&f) != 0) goto done;
    /* Validate everything first so a refused file leaves m untouched. */
    int nt = kres_num_tensors(m);
    for (int i = 0; i < nt; i++) {
        const KresTensor *t = kres_tensor(m, i);
        if (!is_encoder_tensor(m, t)) continue;
        const StTensorInfo *ti = st_find(&f, t->name);
        if (!ti) {
            if (strict) {
                kres_fail(path, "encoder tensor %s is missing", t->name);
                goto done;
            }
            snprintf(rep->missing[rep->n_missing++], sizeof rep->missing[0], "%s", t->name);
            continue;
        }
        if (check_tensor(&f, t, ti) != 0) goto done;
        rep->n_loaded++;
    }
    if (rep->n_loaded == 0) {
        kres_fail(path, "no encoder tensor of the model is in this checkpoint");
        goto done;
    }
    for (int i = 0; i < nt; i++) {
        const KresTensor *t = kres_tensor(m, i);
        if (is_encoder_tensor(m, t) && st_find(&f, t->name))
            KRES_ASSERT(st_read_f32(&f, t->name, tensor_dst(m, t), t->numel) == 0);
    }
    rep->n_unused = f.n - rep->n_loaded;
    rc = 0;
done:
    st_close(&f);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Provenance                                                                           */
/* ------------------------------------------------------------------------------------ */

/* Run a shell command and keep its first output line if it looks like a git revision. */
static int git_line(const char *cmd, char *buf, size_t n) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[128] = "";
    char *got = fgets(line, sizeof line, p);
    /* Drain so git never gets SIGPIPE mid-write; the exit status decides success. */
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    int status = pclose(p);
    if (!got || status != 0) return -1;
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) return -1;
    for (const char *c = line; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '-' || *c == '_' || *c == '.'))
            return -1;
    snprintf(buf, n, "%s", line);
    return 0;
}

/* Append s to out single-quoted for the shell ('It'\''s'). */
static void shell_quote(char *out, size_t n, const char *s) {
    size_t k = 0;
    if (k + 1 < n) out[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    if (k + 1 < n) out[k++] = '\'';
    out[k < n ? k : n - 1] = '\0';
}

void ckpt_git_commit(char *buf, size_t n) {
    snprintf(buf, n, "unknown");
    char exe[1024];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        char q[4200], cmd[4400];
        shell_quote(q, sizeof q, exe[0] ? exe : "/");
        snprintf(cmd, sizeof cmd, "{ git -C %s describe --always --dirty; } 2>/dev/null", q);
        if (git_line(cmd, buf, n) == 0) return;
    }
    if (git_line("{ git describe --always --dirty; } 2>/dev/null", buf, n) == 0) return;
    snprintf(buf, n, "unknown");
}

/* Characters that need no quoting when the command line is shown shell-style. */
static int plain_arg(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%", *s))
            return 0;
    return 1;
}

char *ckpt_provenance_json(const char *data_dir, uint64_t seed, int argc, char *const *argv) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "data_dir");
    if (data_dir) jw_string(&w, data_dir);
    else jw_null(&w);
    jw_key(&w, "seed");
    if (seed <= (1ull << 53)) jw_int(&w, (long long)seed);
    else {
        /* Beyond 2^53 a JSON number would not read back exactly: keep it as a string. */
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        jw_string(&w, s);
    }
    char commit[128];
    ckpt_git_commit(commit, sizeof commit);
    jw_key(&w, "git_commit");
    jw_string(&w, commit);
    /* Command line, shell-quoted where needed so it can be pasted back. */
    size_t cap = 64, len = 0;
    char *cmd = xmalloc(cap);
    cmd[0] = '\0';
    for (int i = 0; argv && i < argc; i++) {
        size_t need = 4 * strlen(argv[i]) + 4;
        if (len + need + 1 > cap) {
            while (len + need + 1 > cap) cap *= 2;
            cmd = xrealloc(cmd, cap);
        }
        if (i) cmd[len++] = ' ';
        if (plain_arg(argv[i])) memcpy(cmd + len, argv[i], strlen(argv[i]) + 1);
        else shell_quote(cmd + len, cap - len, argv[i]);
        len += strlen(cmd + len);
    }
    jw_key(&w, "command");
    jw_string(&w, cmd);
    free(cmd);
    /* SOURCE_DATE_EPOCH (reproducible-builds convention) pins the date so that two runs
     * with the same seed can produce byte-identical checkpoints. */
    time_t now = time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    long sde_v;
    if (sde && parse_long(sde, &sde_v) == 0 && sde_v >= 0) now = (time_t)sde_v;
    struct tm tmv;
    char date[32] = "unknown";
    if (gmtime_r(&now, &tmv)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    jw_key(&w, "date");
    jw_string(&w, date);
    jw_key(&w, "kres_version");
    jw_string(&w, KRES_VERSION);
    jw_object_end(&w);
    return w.buf; /* ownership passes to the caller */
}
