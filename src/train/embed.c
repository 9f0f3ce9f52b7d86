/* embed.c — frozen-encoder embeddings and their file formats; see embed.h. */
#include "train/embed.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "data/loader.h"

int embed_open_encoder(const char *path, int n_outputs, int max_batch, Kres **out,
                       PreprocConfig *pc, CkptInfo *info) {
    *out = NULL;
    CkptInfo local;
    CkptInfo *ci = info ? info : &local;
    Kres *file_model = NULL;
    /* ckpt_load validates the whole file (checksum, config, every tensor) and hands us its
     * metadata; the model it builds is sized for the pretraining length, so it is dropped. */
    int rc = ckpt_load(path, 1, &file_model, ci);
    kres_free(file_model);
    if (rc != 0) {
        if (!info) ckpt_info_free(&local);
        return -1;
    }
    preproc_default(pc);
    if (ci->preprocess_json && preproc_from_json(ci->preprocess_json, pc) != 0) {
        char why[256]; /* kres_fail would overwrite the message it formats from */
        snprintf(why, sizeof why, "%s", kres_last_error());
        kres_fail(path, "metadata 'preprocess': %s", why);
        goto fail;
    }
    KresConfig c;
    if (kres_config_from_json(ci->kres_config, &c) != 0) goto fail;
    c.in_len = pc->length;
    c.n_outputs = n_outputs;
    c.proj_hidden = 0;
    if (kres_config_validate(&c) != 0) {
        char why[256];
        snprintf(why, sizeof why, "%s", kres_last_error());
        kres_fail(path, "model for input length %d: %s", pc->length, why);
        goto fail;
    }
    /* every encoder tensor comes from the file (strict); the head, if any, stays zero:
     * "no head loaded", explicitly, rather than random weights */
    Kres *m = kres_create_for_load(&c, max_batch);
    if (!m) goto fail;
    if (ckpt_load_encoder_into(path, m, 1, NULL) != 0) {
        kres_free(m);
        goto fail;
    }
    *out = m;
    if (!info) ckpt_info_free(&local);
    return 0;
fail:
    if (!info) ckpt_info_free(&local);
    return -1;
}

int embed_records(Kres *m, int batch, const PreprocConfig *pc, const char *const *records, int n,
                  float *out, float *logits) {
    const KresConfig *c = kres_config(m);
    if (pc->length != c->in_len)
        return kres_fail("embed", "preprocessing length %d differs from the model's input length %d",
                         pc->length, c->in_len);
    const int E = kres_embed_dim(c), O = c->n_outputs, B = batch < n ? batch : n;
    const size_t ex = (size_t)KRES_NLEADS * c->in_len;
    if (n <= 0) return 0;
    Loader *ld = loader_create(records, n, pc, 0);
    if (!ld) return -1;
    float *x = xmalloc((size_t)B * ex * sizeof(float));
    int *idx = xmalloc((size_t)B * sizeof(int));
    int rc = 0;
    kres_freeze(m, 1); /* no weight changes while embedding: cached transforms checked once */
    /* One batch in memory at a time: the loader reads and preprocesses it in parallel. */
    for (int start = 0; start < n; start += B) {
        const int nb = n - start < B ? n - start : B;
        for (int i = 0; i < nb; i++) idx[i] = start + i;
        if ((rc = loader_fill_batch(ld, idx, nb, x)) != 0) break;
        kres_forward(m, x, nb, 0, NULL);
        memcpy(out + (size_t)start * E, kres_embeddings(m), (size_t)nb * E * sizeof(float));
        if (logits && O > 0)
            memcpy(logits + (size_t)start * O, kres_logits(m), (size_t)nb * O * sizeof(float));
    }
    kres_freeze(m, 0);
    free(x);
    free(idx);
    loader_free(ld);
    return rc;
}

int embed_write_csv(const char *path, const char *const *records, const float *emb, int n, int E) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    fputs("record", af.fp);
    for (int j = 0; j < E; j++) fprintf(af.fp, ",e%d", j);
    fputc('\n', af.fp);
    for (int i = 0; i < n; i++) {
        /* Quote a record name only when CSV needs it (comma, quote, newline). */
        const char *r = records[i];
        if (strpbrk(r, ",\"\r\n")) {
            fputc('"', af.fp);
            for (const char *p = r; *p; p++) {
                if (*p == '"') fputc('"', af.fp);
                fputc(*p, af.fp);
            }
            fputc('"', af.fp);
        } else {
            fputs(r, af.fp);
        }
        for (int j = 0; j < E; j++) fprintf(af.fp, ",%.9g", (double)emb[(size_t)i * E + j]);
        fputc('\n', af.fp);
    }
    return atomic_commit(&af);
}

/* NPY 1.0: magic, version, u16 header length, a Python-literal dict padded with spaces and
 * a newline so the data starts at a multiple of 64 bytes. */
int embed_write_npy(const char *path, const char *const *records, const float *emb, int n, int E) {
    char dict[128];
    int dl = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, E);
    int total = 10 + dl + 1;
    total = (total + 63) / 64 * 64;
    const int hlen = total - 10;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xFF),
                             (unsigned char)(hlen >> 8)};
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    fwrite(pre, 1, 10, af.fp);
    fwrite(dict, 1, (size_t)dl, af.fp);
    for (int k = dl; k < hlen - 1; k++) fputc(' ', af.fp);
    fputc('\n', af.fp);
    /* Little-endian float32 rows; x86-64 and aarch64 Linux are little-endian. */
    const uint16_t probe = 1;
    KRES_ASSERT(*(const unsigned char *)&probe == 1);
    if (n > 0) fwrite(emb, sizeof(float), (size_t)n * E, af.fp);
    if (ferror(af.fp)) {
        atomic_abort(&af);
        return kres_fail(path, "write failed");
    }
    /* The sidecar first: a committed .npy then always has its row names. */
    char side[4096];
    if (snprintf(side, sizeof side, "%s.txt", path) >= (int)sizeof side) {
        atomic_abort(&af);
        return kres_fail(path, "path too long");
    }
    AtomicFile as;
    if (atomic_open(&as, side) != 0) {
        atomic_abort(&af);
        return -1;
    }
    for (int i = 0; i < n; i++) fprintf(as.fp, "%s\n", records[i]);
    if (atomic_commit(&as) != 0) {
        atomic_abort(&af);
        return -1;
    }
    return atomic_commit(&af);
}

/* Parse "'shape': (r, c)" and friends out of the header dict; strict about what we write. */
int npy_read_f32(const char *path, float **data, int *rows, int *cols) {
    *data = NULL;
    size_t len;
    char *buf = read_file_all(path, &len);
    if (!buf) return -1;
    int rc = -1;
    if (len < 12 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        kres_fail(path, "not an NPY file (bad magic)");
        goto done;
    }
    const unsigned char *u = (const unsigned char *)buf;
    size_t hlen, off;
    if (u[6] == 1) {
        hlen = (size_t)u[8] | (size_t)u[9] << 8;
        off = 10;
    } else if (u[6] == 2 || u[6] == 3) {
        if (len < 12) goto trunc;
        hlen = (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        off = 12;
    } else {
        kres_fail(path, "unsupported NPY version %d.%d", u[6], u[7]);
        goto done;
    }
    if (off + hlen > len) goto trunc;
    char *h = xmalloc(hlen + 1);
    memcpy(h, buf + off, hlen);
    h[hlen] = '\0';
    long r = -1, c = -1;
    const char *sh = strstr(h, "'shape': (");
    int ok = strstr(h, "'descr': '<f4'") && strstr(h, "'fortran_order': False") && sh &&
             sscanf(sh, "'shape': (%ld, %ld)", &r, &c) == 2 && r >= 0 && c >= 0;
    free(h);
    if (!ok) {
        kres_fail(path, "NPY header is not a 2-D little-endian float32 C-order array");
        goto done;
    }
    off += hlen;
    if ((len - off) != (size_t)r * (size_t)c * 4) {
        kres_fail(path, "NPY data has %zu bytes, shape (%ld, %ld) needs %zu", len - off, r, c,
                  (size_t)r * (size_t)c * 4);
        goto done;
    }
    *data = xmalloc((size_t)r * c * sizeof(float) + 1);
    memcpy(*data, buf + off, (size_t)r * c * sizeof(float));
    *rows = (int)r;
    *cols = (int)c;
    rc = 0;
    goto done;
trunc:
    kres_fail(path, "NPY file truncated");
done:
    free(buf);
    return rc;
}
