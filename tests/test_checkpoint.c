/* test_checkpoint.c — KRes checkpoints: bit-exact save/load round trip (parameters, BN
 * buffers, metadata, extra tensors, forward outputs), refusal of truncated, corrupted,
 * mismatched and foreign files with a message naming the file, atomic saves, encoder
 * transfer for fine-tuning, provenance JSON. Tiny model shapes keep it fast. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "nn/checkpoint.h"
#include "test.h"

static char g_dir[64], g_path[128], g_path2[128];

static void tiny_config(KresConfig *c, int n_outputs, int proj_hidden, int last_width) {
    kres_config_default(c);
    c->in_leads = 2;
    c->in_len = 64;
    c->stem_width = 4;
    c->kernel = 3;
    c->nunits = 2;
    c->widths[0] = 4;
    c->widths[1] = last_width;
    c->widths[2] = c->widths[3] = 0;
    c->downsample = 2;
    c->n_outputs = n_outputs;
    c->proj_hidden = proj_hidden;
    c->proj_dim = 3;
}

/* A model with random (non-default) BN running statistics, so buffers are really tested. */
static Kres *tiny_model(int n_outputs, int proj_hidden, int last_width, uint64_t seed) {
    KresConfig c;
    tiny_config(&c, n_outputs, proj_hidden, last_width);
    Kres *m = kres_create(&c, 2, seed);
    KRES_ASSERT(m);
    Rng r;
    rng_seed(&r, seed + 1000);
    float *b = kres_buffers(m);
    for (size_t i = 0; i < kres_num_buffers(m); i++) b[i] = 0.5f + (float)rng_uniform(&r);
    return m;
}

static void model_st(Kres *m, StTensor *ts) {
    for (int i = 0; i < kres_num_tensors(m); i++) {
        const KresTensor *t = kres_tensor(m, i);
        memset(&ts[i], 0, sizeof ts[i]);
        ts[i].name = t->name;
        ts[i].dtype = ST_F32;
        ts[i].ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
        ts[i].data = (t->kind == KRES_PARAM ? kres_params(m) : kres_buffers(m)) + t->offset;
    }
}

static int starts_with(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* ckpt_load must refuse g_path with a message "<g_path>: ...<want>...". */
static void expect_load_refused(const char *what, const char *want) {
    Kres *m = (Kres *)1;
    CkptInfo info;
    kres_clear_error();
    int rc = ckpt_load(g_path, 2, &m, &info);
    const char *e = kres_last_error();
    CHECKF(rc != 0, "%s: accepted", what);
    CHECKF(m == NULL, "%s: model not NULL on failure", what);
    CHECKF(starts_with(e, g_path), "%s: error '%s' does not name the file", what, e);
    CHECKF(!want || strstr(e, want), "%s: error '%s' lacks '%s'", what, e, want);
    ckpt_info_free(&info);
}

/* Plain write without fsync: the corruption tests rewrite the file hundreds of times. */
static int put_file(const char *path, const void *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return -1;
    int ok = fwrite(b, 1, n, fp) == n;
    return fclose(fp) == 0 && ok ? 0 : -1;
}

/* memmem is a GNU extension; a naive search is plenty for a header. */
static unsigned char *find_bytes(unsigned char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

static int files_in_dir(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

static void test_round_trip(void) {
    Kres *m = tiny_model(1, 5, 6, 11);
    float pw[6] = {1, -2, 3, -4, 5, -6}, pb = 0.25f, mean[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    StTensor extra[] = {{"probe.weight", ST_F32, 2, {1, 6}, pw},
                        {"probe.bias", ST_F32, 1, {1}, &pb},
                        {"probe.mean", ST_F32, 1, {6}, mean}};
    char *argv[] = {"kres", "train", "--out", "my dir/x.safetensors", "it's"};
    setenv("SOURCE_DATE_EPOCH", "86410", 1);
    char *prov = ckpt_provenance_json("data/ptbxl-sample", 42, 5, argv);
    const char *ek[] = {"note"}, *ev[] = {"hello \"world\""};
    CkptMeta meta = {.kind = "classifier",
                     .preprocess_json = "{\"fs\": 100, \"len\": 64}",
                     .task_json = "{\"name\": \"1AVB\", \"codes\": [\"1AVB\"], \"min_likelihood\": 100}",
                     .provenance_json = prov,
                     .threshold = 0.1 + 0.2,
                     .n_extra = 1,
                     .extra_keys = ek,
                     .extra_vals = ev};
    CHECKF(ckpt_save(g_path, m, &meta, extra, 3) == 0, "%s", kres_last_error());
    CHECK(files_in_dir() == 1); /* no temporary left behind */

    Kres *l = NULL;
    CkptInfo info;
    CHECKF(ckpt_load(g_path, 2, &l, &info) == 0, "%s", kres_last_error());
    CHECK(l != NULL);
    if (!l) {
        free(prov);
        kres_free(m);
        return;
    }
    /* Bit-exact parameters and buffers, same config. */
    CHECK(kres_num_params(l) == kres_num_params(m) && kres_num_buffers(l) == kres_num_buffers(m));
    CHECK(memcmp(kres_params(l), kres_params(m), kres_num_params(m) * sizeof(float)) == 0);
    CHECK(memcmp(kres_buffers(l), kres_buffers(m), kres_num_buffers(m) * sizeof(float)) == 0);
    char c1[2048], c2[2048];
    CHECK(kres_config_to_json(kres_config(m), c1, sizeof c1) > 0);
    CHECK(kres_config_to_json(kres_config(l), c2, sizeof c2) > 0);
    CHECK(strcmp(c1, c2) == 0);
    /* Same inference outputs, bit for bit. */
    float x[2 * 2 * 64];
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < 2 * 2 * 64; i++) x[i] = (float)rng_normal(&r);
    kres_forward(m, x, 2, 0, NULL);
    kres_forward(l, x, 2, 0, NULL);
    CHECK(memcmp(kres_logits(m), kres_logits(l), 2 * sizeof(float)) == 0);
    CHECK(memcmp(kres_projection(m), kres_projection(l), 2 * 3 * sizeof(float)) == 0);

    /* Metadata. */
    CHECK(strcmp(info.kind, "classifier") == 0);
    CHECK(strcmp(info.kres_config, c1) == 0);
    CHECK(info.preprocess_json && strcmp(info.preprocess_json, meta.preprocess_json) == 0);
    CHECK(info.task_json && strcmp(info.task_json, meta.task_json) == 0);
    CHECK(info.provenance_json && strcmp(info.provenance_json, prov) == 0);
    CHECK(info.threshold == 0.1 + 0.2);
    CHECK(strcmp(info.path, g_path) == 0);
    CHECK(ckpt_meta(&info, "format") && strcmp(ckpt_meta(&info, "format"), CKPT_FORMAT) == 0);
    CHECK(ckpt_meta(&info, "note") && strcmp(ckpt_meta(&info, "note"), ev[0]) == 0);
    CHECK(ckpt_meta(&info, "threshold") && strcmp(ckpt_meta(&info, "threshold"), "0.30000000000000004") == 0);
    CHECK(ckpt_meta(&info, "data_crc32") && strlen(ckpt_meta(&info, "data_crc32")) == 8);
    CHECK(ckpt_meta(&info, "absent") == NULL);
    /* Extra tensors, and only those. */
    CHECK(info.n_tensors == 3);
    const CkptTensor *t = ckpt_tensor(&info, "probe.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 1 && t->shape[1] == 6 && t->numel == 6 &&
          memcmp(t->data, pw, sizeof pw) == 0);
    t = ckpt_tensor(&info, "probe.bias");
    CHECK(t && t->numel == 1 && t->data[0] == 0.25f);
    CHECK(ckpt_tensor(&info, "head.weight") == NULL);
    ckpt_info_free(&info);
    ckpt_info_free(&info); /* idempotent */
    kres_free(l);

    /* Provenance content. */
    char err[256];
    JsonValue *p = json_parse(prov, strlen(prov), err, sizeof err);
    CHECKF(p != NULL, "%s", err);
    CHECK(strcmp(json_str(json_get(p, "data_dir"), ""), "data/ptbxl-sample") == 0);
    CHECK(json_num(json_get(p, "seed"), -1) == 42);
    CHECK(strcmp(json_str(json_get(p, "command"), ""),
                 "kres train --out 'my dir/x.safetensors' 'it'\\''s'") == 0);
    CHECK(strcmp(json_str(json_get(p, "date"), ""), "1970-01-02T00:00:10Z") == 0);
    CHECK(strcmp(json_str(json_get(p, "kres_version"), ""), KRES_VERSION) == 0);
    const char *commit = json_str(json_get(p, "git_commit"), "");
    CHECK(commit[0] != '\0'); /* a revision, or "unknown" outside a git checkout */
    json_free(p);

    /* Same model, same metadata and a pinned date: byte-identical files. */
    CHECK(ckpt_save(g_path2, m, &meta, extra, 3) == 0);
    size_t n1, n2;
    char *f1 = read_file_all(g_path, &n1), *f2 = read_file_all(g_path2, &n2);
    CHECK(f1 && f2 && n1 == n2 && memcmp(f1, f2, n1) == 0);
    free(f1);
    free(f2);
    unlink(g_path2);

    /* Huge seeds stay exact as strings; argv may be NULL. */
    char *p2 = ckpt_provenance_json(NULL, 18446744073709551615ull, 0, NULL);
    JsonValue *pv = json_parse(p2, strlen(p2), err, sizeof err);
    CHECK(pv && strcmp(json_str(json_get(pv, "seed"), ""), "18446744073709551615") == 0);
    CHECK(pv && json_get(pv, "data_dir")->type == JSON_NULL);
    json_free(pv);
    free(p2);
    unsetenv("SOURCE_DATE_EPOCH");

    /* Minimal metadata: NULL JSON fields and NAN threshold are omitted. */
    CkptMeta bare = {.kind = "encoder", .threshold = NAN};
    CHECK(ckpt_save(g_path, m, &bare, NULL, 0) == 0);
    CHECK(ckpt_load(g_path, 1, &l, &info) == 0);
    CHECK(l && isnan(info.threshold) && !info.preprocess_json && !info.task_json &&
          !info.provenance_json && info.n_tensors == 0 && strcmp(info.kind, "encoder") == 0);
    ckpt_info_free(&info);
    kres_free(l);
    /* info may be NULL. */
    CHECK(ckpt_load(g_path, 1, &l, NULL) == 0);
    kres_free(l);

    free(prov);
    kres_free(m);
}

static void test_truncated_and_corrupted(void) {
    Kres *m = tiny_model(1, 0, 6, 3);
    CkptMeta meta = {.kind = "classifier", .task_json = "{\"name\":\"AVB\"}", .threshold = 0.5};
    CHECK(ckpt_save(g_path, m, &meta, NULL, 0) == 0);
    size_t n;
    unsigned char *full = (unsigned char *)read_file_all(g_path, &n);
    CHECK(full != NULL && n > 100);
    if (!full) return;
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)full[i] << (8 * i);
    size_t cuts[] = {0, 4, 7, 8, 9, 50, (size_t)hlen, (size_t)hlen + 8, (size_t)hlen + 12,
                     (n + (size_t)hlen) / 2, n - 4, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(put_file(g_path, full, cuts[i]) == 0);
        char what[64];
        snprintf(what, sizeof what, "truncated at %zu of %zu", cuts[i], n);
        expect_load_refused(what, NULL);
    }
    /* Appended garbage is refused too. */
    unsigned char *big = xmalloc(n + 3);
    memcpy(big, full, n);
    memcpy(big + n, "xyz", 3);
    CHECK(write_file_atomic(g_path, big, n + 3) == 0);
    expect_load_refused("trailing bytes", "unexpected bytes");
    free(big);

    /* Targeted header corruption: length prefix, format string, dtype, a shape digit. */
    unsigned char *buf = xmalloc(n);
    struct {
        const char *find, *repl, *want;
    } hits[] = {
        {"kres-checkpoint-1", "kres-checkpoint-9", "unsupported checkpoint format"},
        {"\"F32\"", "\"F3\x01\"", "invalid JSON"},
        {"\"F32\"", "\"I32\"", "expected a float type"},
        {"\"shape\":[4,2,3]", "\"shape\":[5,2,3]", "stem.conv.weight"},
        {"\"data_offsets\":[0,", "\"data_offsets\":[4,", "stem.conv.weight"},
        {"\\\"in_leads\\\": 2", "\\\"in_leads\\\": 3", "stem.conv.weight has shape [4, 2, 3], expected [4, 3, 3]"},
        {"\"kind\":\"classifier\"", "\"kind\":\"classifiex\"", "'kind'"},
        {"\"threshold\":\"0.5\"", "\"threshold\":\"0.x\"", "threshold"},
        {"\"kres_config\"", "\"kres_confix\"", "'kres_config' is missing"},
    };
    for (size_t h = 0; h < sizeof hits / sizeof hits[0]; h++) {
        memcpy(buf, full, n);
        unsigned char *at = find_bytes(buf, (size_t)hlen + 8, hits[h].find);
        CHECKF(at != NULL, "pattern %s not in header", hits[h].find);
        if (!at) continue;
        KRES_ASSERT(strlen(hits[h].find) == strlen(hits[h].repl));
        memcpy(at, hits[h].repl, strlen(hits[h].repl));
        CHECK(put_file(g_path, buf, n) == 0);
        expect_load_refused(hits[h].find, hits[h].want);
    }
    memcpy(buf, full, n);
    buf[3] = 0x01; /* header length ~16 MiB: beyond the file */
    CHECK(put_file(g_path, buf, n) == 0);
    expect_load_refused("length prefix", "exceeds the file size");

    /* Any change to tensor data is caught by the checksum. */
    Rng r;
    rng_seed(&r, 17);
    int all_refused = 1;
    for (int it = 0; it < 40; it++) {
        memcpy(buf, full, n);
        size_t at = (size_t)hlen + 8 + rng_below(&r, n - (size_t)hlen - 8);
        buf[at] ^= (unsigned char)(1 + rng_below(&r, 255));
        CHECK(put_file(g_path, buf, n) == 0);
        Kres *l = NULL;
        if (ckpt_load(g_path, 1, &l, NULL) == 0) all_refused = 0;
        else all_refused &= strstr(kres_last_error(), "checksum mismatch") != NULL;
        kres_free(l);
    }
    CHECK(all_refused);
    /* Random header byte flips: refused or (if the flip hit a harmless byte, e.g. inside
     * a task string) accepted, but never a crash or a partly filled model. */
    int refused = 0;
    for (int it = 0; it < 150; it++) {
        memcpy(buf, full, n);
        buf[8 + rng_below(&r, hlen)] ^= (unsigned char)(1 + rng_below(&r, 255));
        CHECK(put_file(g_path, buf, n) == 0);
        Kres *l = NULL;
        CkptInfo info;
        if (ckpt_load(g_path, 1, &l, &info) == 0) {
            CHECK(memcmp(kres_params(l), kres_params(m), kres_num_params(m) * sizeof(float)) == 0);
        } else {
            refused++;
            CHECK(l == NULL && starts_with(kres_last_error(), g_path));
        }
        ckpt_info_free(&info);
        kres_free(l);
    }
    CHECK(refused > 100);
    free(buf);
    free(full);
    kres_free(m);
}

static void test_mismatch_and_foreign(void) {
    Kres *a = tiny_model(1, 0, 6, 1), *b = tiny_model(1, 0, 8, 2);
    StTensor ts[KRES_MAX_TENSORS];
    model_st(a, ts);
    int nt = kres_num_tensors(a);
    char cfg_b[2048];
    CHECK(kres_config_to_json(kres_config(b), cfg_b, sizeof cfg_b) > 0);

    /* Tensors of model A under model B's config: first differing tensor is named. */
    const char *k[] = {"format", "kind", "kres_config"};
    const char *v[] = {CKPT_FORMAT, "classifier", cfg_b};
    CHECK(st_write(g_path, ts, nt, k, v, 3) == 0);
    expect_load_refused("shape mismatch",
                        "tensor units.1.conv1.weight has shape [6, 4, 3], expected [8, 4, 3]");

    /* A file without one model tensor (and without a checksum: accepted format). */
    char cfg_a[2048];
    CHECK(kres_config_to_json(kres_config(a), cfg_a, sizeof cfg_a) > 0);
    v[2] = cfg_a;
    CHECK(st_write(g_path, ts, nt, k, v, 3) == 0);
    Kres *l = NULL;
    CHECKF(ckpt_load(g_path, 1, &l, NULL) == 0, "%s", kres_last_error()); /* control */
    kres_free(l);
    CHECK(st_write(g_path, ts, nt - 1, k, v, 3) == 0); /* drops head.bias, the last one */
    expect_load_refused("missing tensor", "tensor head.bias is missing");

    /* Foreign and broken metadata. */
    CHECK(st_write(g_path, ts, nt, NULL, NULL, 0) == 0);
    expect_load_refused("plain safetensors", "not a kres checkpoint");
    v[2] = "{\"in_leads\": 2}";
    CHECK(st_write(g_path, ts, nt, k, v, 3) == 0);
    expect_load_refused("bad config", "metadata 'kres_config': model config: missing key");
    v[2] = "{not json";
    CHECK(st_write(g_path, ts, nt, k, v, 3) == 0);
    expect_load_refused("config not JSON", "metadata 'kres_config'");
    CHECK(write_file_atomic(g_path, "hello world, not a checkpoint", 29) == 0);
    expect_load_refused("text file", NULL);
    unlink(g_path);
    expect_load_refused("missing file", "cannot open");
    kres_free(a);
    kres_free(b);
}

static void test_save_failures(void) {
    Kres *m = tiny_model(1, 0, 6, 4);
    CkptMeta ok = {.kind = "probe", .threshold = NAN};
    CHECK(ckpt_save(g_path, m, &ok, NULL, 0) == 0);
    size_t n0;
    char *before = read_file_all(g_path, &n0);

    /* Each failing save leaves the existing checkpoint byte-identical. */
    CkptMeta bad_kind = {.kind = "regressor", .threshold = NAN};
    CHECK(ckpt_save(g_path, m, &bad_kind, NULL, 0) != 0 && strstr(kres_last_error(), "kind"));
    CkptMeta bad_json = {.kind = "probe", .preprocess_json = "{\"fs\":", .threshold = NAN};
    CHECK(ckpt_save(g_path, m, &bad_json, NULL, 0) != 0 &&
          strstr(kres_last_error(), "'preprocess' is not valid JSON"));
    const char *rk[] = {"format"}, *rv[] = {"x"};
    CkptMeta reserved = {.kind = "probe", .threshold = NAN, .n_extra = 1, .extra_keys = rk, .extra_vals = rv};
    CHECK(ckpt_save(g_path, m, &reserved, NULL, 0) != 0 && strstr(kres_last_error(), "reserved"));
    CkptMeta inf = {.kind = "probe", .threshold = INFINITY};
    CHECK(ckpt_save(g_path, m, &inf, NULL, 0) != 0);
    float one = 1;
    StTensor clash = {"head.bias", ST_F32, 1, {1}, &one};
    CHECK(ckpt_save(g_path, m, &ok, &clash, 1) != 0 && strstr(kres_last_error(), "clashes"));
    int32_t i32 = 1;
    StTensor notf32 = {"probe.n", ST_I32, 1, {1}, &i32};
    CHECK(ckpt_save(g_path, m, &ok, &notf32, 1) != 0 && strstr(kres_last_error(), "must be F32"));
    StTensor dup[] = {{"probe.x", ST_F32, 1, {1}, &one}, {"probe.x", ST_F32, 1, {1}, &one}};
    CHECK(ckpt_save(g_path, m, &ok, dup, 2) != 0 && strstr(kres_last_error(), "duplicate"));
    size_t n1;
    char *after = read_file_all(g_path, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);

    /* A directory that does not exist: error naming the path, nothing created. */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/model.safetensors", g_dir);
    CHECK(ckpt_save(bad, m, &ok, NULL, 0) != 0 && starts_with(kres_last_error(), bad));
    struct stat st;
    CHECK(stat(bad, &st) != 0);
    CHECK(files_in_dir() == 1);
    kres_free(m);
}

static void test_encoder_transfer(void) {
    /* Pretrained encoder with a projection head, no classifier head. */
    Kres *pre = tiny_model(0, 5, 6, 21);
    CkptMeta meta = {.kind = "encoder", .threshold = NAN};
    CHECK(ckpt_save(g_path, pre, &meta, NULL, 0) == 0);
    /* A classifier (different seed) gets the encoder; its head stays as it was. */
    Kres *clf = tiny_model(1, 0, 6, 22);
    size_t nenc = kres_num_encoder_params(clf), np = kres_num_params(clf);
    float *head_before = xmalloc((np - nenc) * sizeof(float));
    memcpy(head_before, kres_params(clf) + nenc, (np - nenc) * sizeof(float));
    CkptLoadReport rep;
    CHECKF(ckpt_load_encoder_into(g_path, clf, 1, &rep) == 0, "%s", kres_last_error());
    CHECK(nenc == kres_num_encoder_params(pre));
    CHECK(memcmp(kres_params(clf), kres_params(pre), nenc * sizeof(float)) == 0);
    CHECK(memcmp(kres_buffers(clf), kres_buffers(pre), kres_num_buffers(pre) * sizeof(float)) == 0);
    CHECK(memcmp(kres_params(clf) + nenc, head_before, (np - nenc) * sizeof(float)) == 0);
    int n_enc_tensors = 0;
    for (int i = 0; i < kres_num_tensors(clf); i++)
        n_enc_tensors += !starts_with(kres_tensor(clf, i)->name, "head.");
    CHECK(rep.n_loaded == n_enc_tensors && rep.n_missing == 0);
    CHECK(rep.n_unused == 4); /* proj.fc1/fc2 weight+bias */
    free(head_before);

    /* A file lacking one encoder tensor: strict refuses (model untouched), lenient reports. */
    StTensor ts[KRES_MAX_TENSORS];
    model_st(pre, ts);
    int nt = kres_num_tensors(pre), w = 0;
    for (int i = 0; i < nt; i++)
        if (strcmp(ts[i].name, "units.1.skip.weight") != 0) ts[w++] = ts[i];
    CHECK(w == nt - 1);
    const char *k[] = {"format"}, *v[] = {CKPT_FORMAT};
    CHECK(st_write(g_path, ts, w, k, v, 1) == 0);
    Kres *fresh = tiny_model(1, 0, 6, 23);
    float *snap = xmalloc(kres_num_params(fresh) * sizeof(float));
    memcpy(snap, kres_params(fresh), kres_num_params(fresh) * sizeof(float));
    CHECK(ckpt_load_encoder_into(g_path, fresh, 1, &rep) != 0 &&
          strstr(kres_last_error(), "encoder tensor units.1.skip.weight is missing") &&
          starts_with(kres_last_error(), g_path));
    CHECK(memcmp(kres_params(fresh), snap, kres_num_params(fresh) * sizeof(float)) == 0);
    CHECK(ckpt_load_encoder_into(g_path, fresh, 0, &rep) == 0);
    CHECK(rep.n_missing == 1 && strcmp(rep.missing[0], "units.1.skip.weight") == 0);
    CHECK(rep.n_loaded == n_enc_tensors - 1);
    free(snap);

    /* A different architecture is refused and leaves the model untouched. */
    CHECK(ckpt_save(g_path, pre, &meta, NULL, 0) == 0);
    Kres *wide = tiny_model(1, 0, 8, 24);
    snap = xmalloc(kres_num_params(wide) * sizeof(float));
    memcpy(snap, kres_params(wide), kres_num_params(wide) * sizeof(float));
    CHECK(ckpt_load_encoder_into(g_path, wide, 0, NULL) != 0 &&
          strstr(kres_last_error(), "units.1.conv1.weight has shape [6, 4, 3], expected [8, 4, 3]"));
    CHECK(memcmp(kres_params(wide), snap, kres_num_params(wide) * sizeof(float)) == 0);
    free(snap);
    /* A checkpoint with no encoder tensor at all is refused. */
    float one = 1;
    StTensor only = {"probe.weight", ST_F32, 1, {1}, &one};
    CHECK(st_write(g_path, &only, 1, k, v, 1) == 0);
    CHECK(ckpt_load_encoder_into(g_path, wide, 0, &rep) != 0 &&
          strstr(kres_last_error(), "no encoder tensor"));
    kres_free(wide);
    kres_free(fresh);
    kres_free(clf);
    kres_free(pre);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/kres_test_ckpt_XXXXXX");
    CHECK(mkdtemp(g_dir) != NULL);
    snprintf(g_path, sizeof g_path, "%s/model.safetensors", g_dir);
    snprintf(g_path2, sizeof g_path2, "%s/model2.safetensors", g_dir);
    CHECK(ckpt_crc32(0, "123456789", 9) == 0xCBF43926u); /* the standard check value */
    CHECK(ckpt_crc32(ckpt_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
    test_round_trip();
    test_truncated_and_corrupted();
    test_mismatch_and_foreign();
    test_save_failures();
    test_encoder_transfer();
    unlink(g_path);
    CHECK(rmdir(g_dir) == 0);
    TEST_MAIN_END();
}
