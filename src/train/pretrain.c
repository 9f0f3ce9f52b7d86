/* pretrain.c — contrastive pretraining (SimCLR / CLOCS / PCLR pairs) with NT-Xent;
 * see pretrain.h for the method, the randomness contract and the checkpoint files. */
#include "train/pretrain.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "common/util.h"
#include "data/loader.h"
#include "data/ptbxl.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "train/progress.h"

/* ---- options ------------------------------------------------------------------------- */

int pair_mode_parse(const char *s, PairMode *out) {
    if (strcmp(s, "augment") == 0) *out = PAIRS_AUGMENT;
    else if (strcmp(s, "segments") == 0) *out = PAIRS_SEGMENTS;
    else if (strcmp(s, "patient") == 0) *out = PAIRS_PATIENT;
    else return kres_fail(NULL, "pair mode must be augment, segments or patient, got '%s'", s);
    return 0;
}

const char *pair_mode_name(PairMode m) {
    return m == PAIRS_SEGMENTS ? "segments" : m == PAIRS_PATIENT ? "patient" : "augment";
}

void pretrain_options_default(PretrainOptions *o) {
    memset(o, 0, sizeof *o);
    o->pairs = PAIRS_AUGMENT;
    o->epochs = 10;
    o->batch = 32;
    o->temperature = 0.1;
    o->lr = 1e-3;
    o->weight_decay = 1e-4;
    o->warmup_frac = 0.05;
    o->clip = 1.0;
    o->seed = 1;
    o->exclude_folds = (1u << 9) | (1u << 10);
    o->rate = 100;
    o->cache_bytes = (size_t)256 << 20;
    o->log_every = 10;
    kres_config_default(&o->model);
    o->model.n_outputs = 0;
    preproc_default(&o->preprocess);
    augment_default(&o->augment);
}

int pretrain_state_path(const char *out, char *buf, size_t n) {
    int w = snprintf(buf, n, "%s.state.safetensors", out);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* ---- randomness: every draw is a function of (seed, purpose, a, b) ------------------ */

enum { TAG_PERM = 1, TAG_PARTNER = 2, TAG_AUG = 3, TAG_DROPOUT = 4 };

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_for(Rng *r, uint64_t seed, uint64_t tag, uint64_t a, uint64_t b) {
    uint64_t h = mix64(seed + 0x9E3779B97F4A7C15ull * tag);
    h = mix64(h ^ (a + 0x632BE59BD9B4E019ull));
    h = mix64(h ^ (b + 0x85EBCA77C2B2AE63ull));
    rng_seed(r, h);
}

/* ---- corpus ---------------------------------------------------------------------------- */

typedef struct {
    int n, cap;
    char **path;
    long long *pkey;  /* (tree << 32 | patient_id), or -1 */
    char *plain;      /* 1 = from a plain WFDB directory */
} Paths;

static void paths_add(Paths *p, const char *path, long long key, int plain) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->path = xrealloc(p->path, (size_t)p->cap * sizeof(char *));
        p->pkey = xrealloc(p->pkey, (size_t)p->cap * sizeof(long long));
        p->plain = xrealloc(p->plain, (size_t)p->cap);
    }
    p->path[p->n] = xstrdup(path);
    p->plain[p->n] = (char)plain;
    p->pkey[p->n++] = key;
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_ptbxl_tree(const char *dir) {
    char p[4096];
    return path_join(p, sizeof p, dir, "ptbxl_database.csv") == 0 && file_exists(p);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Recursively collect "<dir>/.../<name>" for every <name>.hea (sorted per directory, so the
 * walk order is fixed). Depth-limited against symlink loops. */
static int walk_wfdb(const char *dir, int depth, Paths *out, int *nfound) {
    if (depth > 32) return kres_fail(dir, "directory tree deeper than 32 levels (a symlink loop?)");
    DIR *d = opendir(dir);
    if (!d) return kres_fail(dir, "cannot open directory: %s", strerror(errno));
    int n = 0, cap = 0;
    char **names = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = xrealloc(names, (size_t)cap * sizeof(char *));
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof(char *), cmp_str);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        char p[4096];
        if (path_join(p, sizeof p, dir, names[i]) != 0) {
            rc = kres_fail(dir, "path too long: %s", names[i]);
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0) continue;
        size_t len = strlen(p);
        if (S_ISDIR(st.st_mode)) {
            rc = walk_wfdb(p, depth + 1, out, nfound);
        } else if (S_ISREG(st.st_mode) && len > 4 && strcmp(p + len - 4, ".hea") == 0) {
            p[len - 4] = '\0';
            paths_add(out, p, -1, 1);
            (*nfound)++;
        }
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

int pretrain_record_ecg_id(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strlen(b) != 8 || (strcmp(b + 5, "_lr") != 0 && strcmp(b + 5, "_hr") != 0)) return -1;
    int id = 0;
    for (int i = 0; i < 5; i++) {
        if (b[i] < '0' || b[i] > '9') return -1;
        id = id * 10 + (b[i] - '0');
    }
    return id;
}

typedef struct {
    long long key;
    int idx;
} KeyIdx;

static int cmp_keyidx(const void *a, const void *b) {
    const KeyIdx *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->idx - y->idx;
}

void pretrain_corpus_free(PretrainCorpus *c) {
    if (c->path)
        for (int i = 0; i < c->n; i++) free(c->path[i]);
    free(c->path);
    free(c->patient);
    memset(c, 0, sizeof *c);
}

/* ecg_ids in the excluded folds of every PTB-XL tree given (pass 1), so that the same holdout
 * ECGs are kept out when they also appear as plain records (e.g. records500/ given directly). */
typedef struct {
    unsigned char *id; /* (cap) 1 = excluded */
    int cap, have_ptbxl;
} ExcludedIds;

static int excluded_ids(const PretrainOptions *o, ExcludedIds *x) {
    memset(x, 0, sizeof *x);
    for (int d = 0; d < o->ndirs; d++) {
        if (!is_ptbxl_tree(o->dirs[d])) continue;
        x->have_ptbxl = 1;
        PtbxlDb db;
        if (ptbxl_open(o->dirs[d], &db) != 0) return -1;
        for (int i = 0; i < db.n; i++) {
            const PtbxlRecord *r = &db.rec[i];
            if (!(o->exclude_folds >> r->strat_fold & 1u) || r->ecg_id < 0) continue;
            if (r->ecg_id >= x->cap) {
                int nc = r->ecg_id + 1024;
                x->id = xrealloc(x->id, (size_t)nc);
                memset(x->id + x->cap, 0, (size_t)(nc - x->cap));
                x->cap = nc;
            }
            x->id[r->ecg_id] = 1;
        }
        ptbxl_close(&db);
    }
    return 0;
}

/* The rows of PTB-XL tree number d outside the excluded folds whose files exist at the rate;
 * patients are keyed by (tree, patient_id), as ids of different trees are unrelated. */
static int add_ptbxl_tree(const PretrainOptions *o, int d, Paths *P, PretrainCorpus *c) {
    const char *dir = o->dirs[d];
    PtbxlDb db;
    if (ptbxl_open(dir, &db) != 0) return -1;
    c->n_duplicates += db.nskipped;
    int rc = 0;
    for (int i = 0; i < db.n; i++) {
        const PtbxlRecord *r = &db.rec[i];
        if (o->exclude_folds >> r->strat_fold & 1u) {
            c->n_excluded++;
            continue;
        }
        char rec[4096], f[4200];
        const char *name = o->rate == 500 ? r->filename_hr : r->filename_lr;
        if (path_join(rec, sizeof rec, dir, name) != 0) {
            rc = kres_fail(dir, "path too long: %s", name);
            break;
        }
        snprintf(f, sizeof f, "%s.hea", rec);
        int ok = file_exists(f);
        snprintf(f, sizeof f, "%s.dat", rec);
        if (!ok || !file_exists(f)) {
            c->n_missing++;
            continue;
        }
        long long key = r->patient_id >= 0 ? ((long long)d << 32 | r->patient_id) : -1;
        paths_add(P, rec, key, 0);
    }
    ptbxl_close(&db);
    return rc;
}

/* The WFDB records under a plain directory, less those that are holdout ECGs of a PTB-XL tree
 * given too and PTB-XL's v1.0.3 duplicates (whose twin may be a holdout ECG). */
static int add_plain_tree(const char *dir, const ExcludedIds *x, Paths *P, PretrainCorpus *c) {
    const int before = P->n;
    int found = 0;
    if (walk_wfdb(dir, 0, P, &found) != 0) return -1;
    if (found == 0) return kres_fail(dir, "no WFDB records (*.hea) found, and no ptbxl_database.csv");
    int w = before;
    for (int i = before; i < P->n; i++) {
        int id = x->have_ptbxl ? pretrain_record_ecg_id(P->path[i]) : -1;
        if (id >= 0 && id < x->cap && x->id[id]) {
            free(P->path[i]);
            c->n_excluded++;
            continue;
        }
        if (id >= 0 && ptbxl_is_v103_duplicate(id)) {
            free(P->path[i]);
            c->n_duplicates++;
            continue;
        }
        P->path[w] = P->path[i];
        P->plain[w] = P->plain[i];
        P->pkey[w++] = P->pkey[i];
    }
    P->n = w;
    return 0;
}

/* Dense patient numbers in order of key; count the examples of multi-ECG patients. */
static void number_patients(PretrainCorpus *c, const long long *pkey) {
    KeyIdx *ki = xmalloc((size_t)c->n * sizeof(KeyIdx) + 1);
    int nk = 0;
    for (int i = 0; i < c->n; i++) {
        c->patient[i] = -1;
        if (pkey[i] >= 0) ki[nk++] = (KeyIdx){pkey[i], i};
    }
    qsort(ki, (size_t)nk, sizeof *ki, cmp_keyidx);
    for (int a = 0, b; a < nk; a = b) {
        for (b = a; b < nk && ki[b].key == ki[a].key; b++) c->patient[ki[b].idx] = c->n_patients;
        c->n_patients++;
        if (b - a >= 2) c->n_multi += b - a;
    }
    free(ki);
}

int pretrain_corpus_build(const PretrainOptions *o, PretrainCorpus *c) {
    memset(c, 0, sizeof *c);
    if (o->ndirs < 1) return kres_fail("pretrain", "no data directory given");
    if (o->rate != 100 && o->rate != 500) return kres_fail("pretrain", "rate must be 100 or 500, got %d", o->rate);
    ExcludedIds x;
    if (excluded_ids(o, &x) != 0) {
        free(x.id);
        return -1;
    }
    /* Pass 2: the examples, in command-line order. */
    Paths P = {0};
    int rc = 0;
    for (int d = 0; d < o->ndirs && rc == 0; d++) {
        struct stat st;
        if (stat(o->dirs[d], &st) != 0 || !S_ISDIR(st.st_mode)) rc = kres_fail(o->dirs[d], "not a directory");
        else if (is_ptbxl_tree(o->dirs[d])) rc = add_ptbxl_tree(o, d, &P, c);
        else rc = add_plain_tree(o->dirs[d], &x, &P, c);
    }
    free(x.id);
    if (rc == 0 && o->limit > 0 && P.n > o->limit) {
        for (int i = o->limit; i < P.n; i++) free(P.path[i]);
        P.n = o->limit;
    }
    if (rc == 0 && P.n == 0) rc = kres_fail("pretrain", "no ECGs to pretrain on (all excluded or missing)");
    c->n = P.n;
    c->path = P.path;
    for (int i = 0; i < P.n; i++) {
        c->n_plain += P.plain[i];
        c->n_ptbxl += !P.plain[i];
    }
    c->patient = xmalloc((size_t)P.n * sizeof(int) + 1);
    if (rc == 0) number_patients(c, P.pkey);
    free(P.plain);
    free(P.pkey);
    if (rc) pretrain_corpus_free(c);
    return rc;
}

/* ---- one NT-Xent step ------------------------------------------------------------------ */

static float loss_grad(Kres *m, const float *x, int N2, float temperature, Rng *rng, float *dz,
                       double *work, float *acc) {
    const int P = kres_config(m)->proj_dim;
    kres_zero_grad(m);
    kres_forward(m, x, N2, 1, rng);
    float loss = nt_xent_loss(dz, acc, kres_projection(m), N2, P, temperature, work);
    kres_backward(m, NULL, dz, NULL);
    return loss;
}

float pretrain_loss_grad(Kres *m, const float *x, int N2, float temperature, Rng *rng, float *acc) {
    const int P = kres_config(m)->proj_dim;
    KRES_ASSERT(P > 0 && kres_config(m)->proj_hidden > 0 && N2 >= 2 && N2 % 2 == 0);
    float *dz = xmalloc((size_t)N2 * P * sizeof(float));
    double *work = xmalloc(nt_xent_workspace_size(N2, P) * sizeof(double));
    float loss = loss_grad(m, x, N2, temperature, rng, dz, work, acc);
    free(dz);
    free(work);
    return loss;
}

/* ---- run state ------------------------------------------------------------------------ */

/* Options that fix the trajectory: a resumed run must match them exactly. */
static char *options_json(const PretrainOptions *o, const PretrainCorpus *c, const KresConfig *mc,
                          const PreprocConfig *pc) {
    uint32_t crc = 0;
    for (int i = 0; i < c->n; i++) crc = ckpt_crc32(crc, c->path[i], strlen(c->path[i]) + 1);
    crc = ckpt_crc32(crc, &o->augment, sizeof o->augment);
    char buf[1024], hex[16];
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "pairs"), jw_string(&w, pair_mode_name(o->pairs));
    jw_key(&w, "epochs"), jw_int(&w, o->epochs);
    jw_key(&w, "batch"), jw_int(&w, o->batch);
    jw_key(&w, "temperature"), jw_number(&w, o->temperature);
    jw_key(&w, "lr"), jw_number(&w, o->lr);
    jw_key(&w, "weight_decay"), jw_number(&w, o->weight_decay);
    jw_key(&w, "warmup_frac"), jw_number(&w, o->warmup_frac);
    jw_key(&w, "clip"), jw_number(&w, o->clip);
    jw_key(&w, "seed"), jw_int(&w, (long long)o->seed);
    jw_key(&w, "examples"), jw_int(&w, c->n);
    snprintf(hex, sizeof hex, "%08x", crc);
    jw_key(&w, "corpus_and_augment_crc32"), jw_string(&w, hex);
    if (kres_config_to_json(mc, buf, sizeof buf) > 0) {
        jw_key(&w, "model"), jw_raw(&w, buf);
    }
    if (preproc_to_json(pc, buf, sizeof buf) == 0) {
        jw_key(&w, "preprocess"), jw_raw(&w, buf);
    }
    jw_object_end(&w);
    return w.buf;
}

/* Name the first differing option of two options_json strings (for the resume error). */
static int explain_mismatch(const char *path, const char *stored, const char *now) {
    char err[128];
    JsonValue *a = json_parse(stored, strlen(stored), err, sizeof err);
    JsonValue *b = json_parse(now, strlen(now), err, sizeof err);
    int rc = kres_fail(path, "cannot resume: the run's options differ from this command's");
    if (a && b && a->type == JSON_OBJECT && b->type == JSON_OBJECT) {
        for (int i = 0; i < b->n; i++) {
            const JsonValue *va = json_get(a, b->keys[i]);
            JsonWriter wa, wb;
            jw_init(&wa);
            jw_init(&wb);
            if (va) jw_value(&wa, va);
            jw_value(&wb, &b->items[i]);
            int differ = !va || strcmp(wa.buf, wb.buf) != 0;
            if (differ)
                rc = kres_fail(path, "cannot resume: option '%s' was %.200s, now %.200s", b->keys[i],
                               va ? wa.buf : "(absent)", wb.buf);
            jw_free(&wa);
            jw_free(&wb);
            if (differ) break;
        }
    }
    json_free(a);
    json_free(b);
    return rc;
}

typedef struct {
    long step;              /* global steps done */
    double ep_loss, ep_acc; /* sums over the steps done in the current epoch */
} RunPos;

static int save_state(const char *state_path, Kres *m, const float *am, const float *av,
                      const char *opts_json, const RunPos *pos, const char *prov, const char *pre_json) {
    char step[32], sums[96];
    snprintf(step, sizeof step, "%ld", pos->step);
    snprintf(sums, sizeof sums, "[%.17g, %.17g]", pos->ep_loss, pos->ep_acc);
    const char *keys[] = {"pretrain_step", "pretrain_epoch_sums", "pretrain_options"};
    const char *vals[] = {step, sums, opts_json};
    CkptMeta meta = {"encoder", pre_json, NULL, prov, NAN, 3, keys, vals};
    const int64_t np = (int64_t)kres_num_params(m);
    StTensor t[2] = {{"optim.m", ST_F32, 1, {np}, am}, {"optim.v", ST_F32, 1, {np}, av}};
    return ckpt_save(state_path, m, &meta, t, 2);
}

/* Load the state file: the model (*m) and freshly allocated AdamW moments (*am, *av). */
static int load_state(const char *state_path, int max_batch, Kres **m, float **am, float **av,
                      const char *opts_json, RunPos *pos) {
    CkptInfo info;
    *m = NULL;
    if (ckpt_load(state_path, max_batch, m, &info) != 0) {
        ckpt_info_free(&info);
        return -1;
    }
    int rc = -1;
    const size_t np = kres_num_params(*m);
    const char *st = ckpt_meta(&info, "pretrain_step"), *sums = ckpt_meta(&info, "pretrain_epoch_sums");
    const char *oj = ckpt_meta(&info, "pretrain_options");
    const CkptTensor *tm = ckpt_tensor(&info, "optim.m"), *tv = ckpt_tensor(&info, "optim.v");
    long s;
    if (!st || !sums || !oj || !tm || !tv || parse_long(st, &s) != 0 || s < 0 ||
        sscanf(sums, "[%lf, %lf]", &pos->ep_loss, &pos->ep_acc) != 2) {
        kres_fail(state_path, "not a pretraining state file (missing step, sums, options or optimiser moments)");
        goto done;
    }
    if (tm->numel != np || tv->numel != np) {
        kres_fail(state_path, "optimiser moments have %zu values, the model has %zu parameters", tm->numel, np);
        goto done;
    }
    if (strcmp(oj, opts_json) != 0) {
        explain_mismatch(state_path, oj, opts_json);
        goto done;
    }
    pos->step = s;
    *am = xmalloc(np * sizeof(float));
    *av = xmalloc(np * sizeof(float));
    memcpy(*am, tm->data, np * sizeof(float));
    memcpy(*av, tv->data, np * sizeof(float));
    rc = 0;
done:
    ckpt_info_free(&info);
    if (rc) {
        kres_free(*m);
        *m = NULL;
    }
    return rc;
}

static char *summary_json(const PretrainOptions *o, const PretrainCorpus *c, long step, long total,
                          double loss, double acc) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "method"), jw_string(&w, "NT-Xent contrastive pretraining");
    jw_key(&w, "pairs"), jw_string(&w, pair_mode_name(o->pairs));
    jw_key(&w, "temperature"), jw_number(&w, o->temperature);
    jw_key(&w, "batch"), jw_int(&w, o->batch);
    jw_key(&w, "epochs"), jw_int(&w, o->epochs);
    jw_key(&w, "steps_done"), jw_int(&w, step);
    jw_key(&w, "steps_total"), jw_int(&w, total);
    jw_key(&w, "examples"), jw_int(&w, c->n);
    jw_key(&w, "excluded"), jw_int(&w, c->n_excluded);
    jw_key(&w, "exclude_folds");
    jw_array_begin(&w);
    for (int k = 1; k <= 10; k++)
        if (o->exclude_folds >> k & 1u) jw_int(&w, k);
    jw_array_end(&w);
    jw_key(&w, "last_epoch_loss"), jw_number(&w, loss);
    jw_key(&w, "last_epoch_pair_accuracy"), jw_number(&w, acc);
    jw_object_end(&w);
    return w.buf;
}

/* The encoder file: the model (incl. projection head), kind "encoder". */
static int save_encoder(const PretrainOptions *o, const PretrainCorpus *c, Kres *m, long step,
                        long total, double loss, double acc, const char *prov, const char *pre_json) {
    char *sum = summary_json(o, c, step, total, loss, acc);
    const char *keys[] = {"pretrain"}, *vals[] = {sum};
    CkptMeta meta = {"encoder", pre_json, NULL, prov, NAN, 1, keys, vals};
    int rc = ckpt_save(o->out_path, m, &meta, NULL, 0);
    free(sum);
    return rc;
}

void pretrain_result_free(PretrainResult *r) {
    pretrain_corpus_free(&r->corpus);
    memset(r, 0, sizeof *r);
}

/* ---- the run ------------------------------------------------------------------------------ */

typedef struct {
    int *start, *members;   /* CSR lists of examples per patient */
} Groups;

static void groups_build(const PretrainCorpus *c, Groups *g) {
    g->start = xcalloc((size_t)c->n_patients + 1, sizeof(int));
    g->members = xmalloc((size_t)c->n * sizeof(int) + 1);
    for (int i = 0; i < c->n; i++)
        if (c->patient[i] >= 0) g->start[c->patient[i] + 1]++;
    for (int p = 0; p < c->n_patients; p++) g->start[p + 1] += g->start[p];
    int *fill = xcalloc((size_t)c->n_patients + 1, sizeof(int));
    for (int i = 0; i < c->n; i++)
        if (c->patient[i] >= 0) {
            int p = c->patient[i];
            g->members[g->start[p] + fill[p]++] = i;
        }
    free(fill);
}

/* Another ECG of x's patient, drawn from (seed, epoch, x); x itself if there is none. */
static int partner(const PretrainCorpus *c, const Groups *g, uint64_t seed, int epoch, int x) {
    const int p = c->patient[x];
    if (p < 0) return x;
    const int a = g->start[p], k = g->start[p + 1] - a;
    if (k < 2) return x;
    Rng r;
    rng_for(&r, seed, TAG_PARTNER, (uint64_t)epoch, (uint64_t)x);
    int j = (int)rng_below(&r, (uint64_t)(k - 1));
    int y = g->members[a + j];
    return y == x ? g->members[a + k - 1] : y;  /* skip x: the last member stands in for it */
}

static int check_options(const PretrainOptions *o) {
    if (!o->out_path) return kres_fail("pretrain", "no output path");
    if (o->epochs < 1) return kres_fail("pretrain", "epochs must be >= 1");
    if (o->batch < 2) return kres_fail("pretrain", "batch must be >= 2 ECGs (NT-Xent needs negatives)");
    if (!(o->temperature > 0)) return kres_fail("pretrain", "temperature must be > 0");
    if (!(o->lr > 0) || !(o->weight_decay >= 0) || !(o->clip >= 0) ||
        !(o->warmup_frac >= 0 && o->warmup_frac < 1))
        return kres_fail("pretrain", "bad optimiser settings");
    if (o->model.proj_hidden <= 0 || o->model.proj_dim <= 0)
        return kres_fail("pretrain", "the model needs a projection head (proj_hidden, proj_dim > 0)");
    if (preproc_validate(&o->preprocess) != 0 || augment_validate(&o->augment) != 0) return -1;
    if (o->pairs == PAIRS_SEGMENTS && o->preprocess.length % 2 != 0)
        return kres_fail("pretrain", "segments need an even window length, got %d", o->preprocess.length);
    return 0;
}

int pretrain_run(const PretrainOptions *o, PretrainResult *r) {
    memset(r, 0, sizeof *r);
    if (check_options(o) != 0) return -1;
    PretrainCorpus c;
    if (pretrain_corpus_build(o, &c) != 0) return -1;
    return pretrain_run_corpus(o, &c, r);
}

/* One pretraining run: settings, model, optimiser state, every buffer of the step (allocated
 * once), the log and the position; run_free releases whatever was set up. */
typedef struct {
    const PretrainOptions *o;
    PretrainCorpus *c;
    PreprocConfig pc;
    int N, N2;                   /* ECGs per step; views per step */
    int Lp, L, nload;            /* window per record; model input; records loaded per step */
    size_t exL, exLp, np;        /* floats per view and per loaded record; parameters */
    long spe, total, warmup, stop;
    char state_path[4096];
    char *opts, *prov;           /* options_json, provenance */
    char pre_json[512];
    Kres *m;
    Loader *ld;
    float *am, *av;              /* AdamW moments */
    float *raw, *x, *dz;         /* loaded records, views, d loss / d projection */
    double *work;                /* NT-Xent workspace */
    int *perm, *loadidx, *srcx;
    ParamRange *ranges;
    int nranges;
    Groups g;
    TrainLog log;
    Progress prog;
    RunPos pos;
    double t0;
} Run;

static void run_free(Run *u) {
    progress_clear(&u->prog);
    trainlog_close(&u->log);
    loader_free(u->ld);
    kres_free(u->m);
    free(u->am), free(u->av), free(u->raw), free(u->x), free(u->dz), free(u->work);
    free(u->perm), free(u->loadidx), free(u->srcx), free(u->ranges);
    free(u->g.start), free(u->g.members);
    free(u->opts), free(u->prov);
}

/* The window, the model (new, or the killed run's from its state file), the optimiser's
 * ranges, the pairing groups, the loader, the buffers and the log. */
static int run_setup(const PretrainOptions *o, PretrainCorpus *c, PretrainResult *r, Run *u) {
    u->o = o, u->c = c;
    if (pretrain_state_path(o->out_path, u->state_path, sizeof u->state_path) != 0)
        return kres_fail(o->out_path, "path too long");
    u->N = o->batch, u->N2 = 2 * u->N;
    if (c->n < u->N)
        return kres_fail("pretrain", "only %d ECGs to pretrain on, fewer than the batch of %d", c->n, u->N);

    /* Window: Lp samples per record; the model sees L (half of it for segments). */
    u->pc = o->preprocess;
    u->Lp = u->pc.length, u->L = o->pairs == PAIRS_SEGMENTS ? u->Lp / 2 : u->Lp;
    KresConfig mc = o->model;
    mc.in_len = u->L;
    mc.in_leads = KRES_NLEADS;
    if (kres_config_validate(&mc) != 0) return -1;
    u->spe = c->n / u->N, u->total = u->spe * o->epochs;
    u->warmup = (long)(o->warmup_frac * u->total);
    u->stop = o->max_steps > 0 && o->max_steps < u->total ? o->max_steps : u->total;
    u->opts = options_json(o, c, &mc, &u->pc);
    KRES_ASSERT(preproc_to_json(&u->pc, u->pre_json, sizeof u->pre_json) == 0);
    u->prov = ckpt_provenance_json(o->dirs[0], o->seed, o->argc, o->argv);

    if (o->resume && file_exists(u->state_path)) {
        if (load_state(u->state_path, u->N2, &u->m, &u->am, &u->av, u->opts, &u->pos) != 0) return -1;
    } else {
        if (o->resume && !o->quiet)
            fprintf(stderr, "pretrain: no state file %s; starting a new run\n", u->state_path);
        u->m = kres_create(&mc, u->N2, o->seed);
        if (!u->m) return -1;
        u->am = xcalloc(kres_num_params(u->m), sizeof(float));
        u->av = xcalloc(kres_num_params(u->m), sizeof(float));
    }
    u->np = kres_num_params(u->m);
    /* Weight decay on weights only: 1-D tensors (BN scale/shift, biases) are exempt. */
    u->ranges = xmalloc((size_t)kres_num_tensors(u->m) * sizeof(ParamRange));
    for (int i = 0; i < kres_num_tensors(u->m); i++) {
        const KresTensor *t = kres_tensor(u->m, i);
        if (t->kind == KRES_PARAM && t->ndim == 1)
            u->ranges[u->nranges++] = (ParamRange){t->offset, t->offset + t->numel, 1.0f, 0};
    }
    r->steps_per_epoch = u->spe;
    r->total_steps = u->total;
    r->start_step = u->pos.step;
    r->first_loss = r->last_loss = r->last_accuracy = NAN;
    if (o->pairs == PAIRS_PATIENT) groups_build(c, &u->g);
    if (!(u->ld = loader_create((const char *const *)c->path, c->n, &u->pc, o->cache_bytes))) return -1;
    u->nload = o->pairs == PAIRS_PATIENT ? u->N2 : u->N;
    u->exL = (size_t)KRES_NLEADS * u->L, u->exLp = (size_t)KRES_NLEADS * u->Lp;
    u->raw = xmalloc((size_t)u->nload * u->exLp * sizeof(float));
    u->x = xmalloc((size_t)u->N2 * u->exL * sizeof(float));
    u->dz = xmalloc((size_t)u->N2 * mc.proj_dim * sizeof(float));
    u->work = xmalloc(nt_xent_workspace_size(u->N2, mc.proj_dim) * sizeof(double));
    u->perm = xmalloc((size_t)c->n * sizeof(int));
    u->loadidx = xmalloc((size_t)u->nload * sizeof(int));
    u->srcx = xmalloc((size_t)u->N * sizeof(int));

    if (o->resume && u->pos.step > 0 && o->log_path) {
        /* Keep the killed run's lines: append. */
        u->log.fp = fopen(o->log_path, "a");
        if (!u->log.fp) return kres_fail(o->log_path, "cannot open the training log: %s", strerror(errno));
        u->log.path = xstrdup(o->log_path);
        return 0;
    }
    return trainlog_open(&u->log, o->log_path);
}

/* The log's "start" (or "resume") event and the progress line that says what runs. */
static int log_start(Run *u) {
    const PretrainOptions *o = u->o;
    const PretrainCorpus *c = u->c;
    JsonWriter w;
    trainlog_event_begin(&w, u->pos.step > 0 ? "resume" : "start");
    jw_key(&w, "command"), jw_string(&w, "pretrain");
    jw_key(&w, "examples"), jw_int(&w, c->n);
    jw_key(&w, "excluded"), jw_int(&w, c->n_excluded);
    jw_key(&w, "ptbxl"), jw_int(&w, c->n_ptbxl);
    jw_key(&w, "plain"), jw_int(&w, c->n_plain);
    jw_key(&w, "patients_multi_ecg_examples"), jw_int(&w, c->n_multi);
    jw_key(&w, "steps_per_epoch"), jw_int(&w, u->spe);
    jw_key(&w, "total_steps"), jw_int(&w, u->total);
    jw_key(&w, "start_step"), jw_int(&w, u->pos.step);
    jw_key(&w, "threads"), jw_int(&w, omp_get_max_threads());
    jw_key(&w, "options"), jw_raw(&w, u->opts);
    if (trainlog_event_end(&u->log, &w) != 0) return -1;
    progress_message(&u->prog, o->quiet,
                     "pretrain: %d ECGs (%d PTB-XL, %d plain; %d excluded by fold), pairs=%s, "
                     "%ld steps/epoch x %d epochs, batch %d ECGs = %d views, %d threads",
                     c->n, c->n_ptbxl, c->n_plain, c->n_excluded, pair_mode_name(o->pairs), u->spe,
                     o->epochs, u->N, u->N2, omp_get_max_threads());
    return 0;
}

/* Step s of the epoch's permutation: load its records (and patient partners) and write
 * the views: rows [0, N) first views, [N, 2N) second views, each augmented from (seed,
 * epoch, example, view), in parallel (each view owns its RNG). */
static int load_views(Run *u, int epoch, long s) {
    const PretrainOptions *o = u->o;
    const int N = u->N, L = u->L, Lp = u->Lp;
    for (int i = 0; i < N; i++) {
        u->srcx[i] = u->perm[s * N + i];
        u->loadidx[i] = u->srcx[i];
        if (o->pairs == PAIRS_PATIENT) u->loadidx[N + i] = partner(u->c, &u->g, o->seed, epoch, u->srcx[i]);
    }
    if (loader_fill_batch(u->ld, u->loadidx, u->nload, u->raw) != 0) return -1;
#pragma omp parallel for schedule(static)
    for (int v = 0; v < u->N2; v++) {
        const int i = v % N, second = v >= N;
        /* patient pairs loaded a record per view; the other modes one per ECG */
        const float *src = u->raw + (size_t)(o->pairs == PAIRS_PATIENT ? v : i) * u->exLp;
        float *dst = u->x + (size_t)v * u->exL;
        if (o->pairs == PAIRS_SEGMENTS)
            for (int l = 0; l < KRES_NLEADS; l++)
                memcpy(dst + (size_t)l * L, src + (size_t)l * Lp + (second ? L : 0), (size_t)L * sizeof(float));
        else
            memcpy(dst, src, u->exL * sizeof(float));
        Rng ar;
        rng_for(&ar, o->seed, TAG_AUG, (uint64_t)epoch, (uint64_t)u->srcx[i] * 2 + (uint64_t)second);
        augment_apply(&o->augment, dst, L, u->pc.target_rate, &ar);
    }
    return 0;
}

/* The epoch's means into r, the log and the progress line. */
static int end_epoch(Run *u, PretrainResult *r, int epoch, double sps, double el) {
    const double ml = u->pos.ep_loss / u->spe, ma = u->pos.ep_acc / u->spe;
    if (isnan(r->first_loss)) r->first_loss = ml; /* NaN until this run's first epoch ends */
    r->last_loss = ml;
    r->last_accuracy = ma;
    JsonWriter w;
    trainlog_event_begin(&w, "epoch");
    jw_key(&w, "epoch"), jw_int(&w, epoch + 1);
    jw_key(&w, "loss"), jw_number(&w, ml);
    jw_key(&w, "pair_accuracy"), jw_number(&w, ma);
    jw_key(&w, "samples_per_s"), jw_number(&w, sps);
    jw_key(&w, "elapsed_s"), jw_number(&w, el);
    if (trainlog_event_end(&u->log, &w) != 0) return -1;
    progress_message(&u->prog, u->o->quiet, "epoch %d/%d: loss %.4f, pair accuracy %.3f, %.1f ECGs/s", epoch + 1,
                     u->o->epochs, ml, ma, sps);
    u->pos.ep_loss = u->pos.ep_acc = 0;
    r->epochs_done = epoch + 1;
    return 0;
}

/* The state file (model, optimiser, position) and the encoder, both written atomically. */
static int checkpoint(Run *u, const PretrainResult *r) {
    const PretrainOptions *o = u->o;
    if (save_state(u->state_path, u->m, u->am, u->av, u->opts, &u->pos, u->prov, u->pre_json) != 0 ||
        save_encoder(o, u->c, u->m, u->pos.step, u->total, r->last_loss, r->last_accuracy, u->prov, u->pre_json) != 0)
        return -1;
    JsonWriter w;
    trainlog_event_begin(&w, "checkpoint");
    jw_key(&w, "global_step"), jw_int(&w, u->pos.step);
    jw_key(&w, "path"), jw_string(&w, o->out_path);
    jw_key(&w, "state"), jw_string(&w, u->state_path);
    return trainlog_event_end(&u->log, &w);
}

/* One optimiser step (step s of epoch `epoch`): views, NT-Xent loss and gradient, clipping,
 * AdamW; then the step's log line, the epoch's end and the checkpoint when due. */
static int pretrain_step(Run *u, PretrainResult *r, int epoch, long s) {
    const PretrainOptions *o = u->o;
    const double ts = now_seconds();
    if (load_views(u, epoch, s) != 0) return -1;
    Rng dr;
    rng_for(&dr, o->seed, TAG_DROPOUT, (uint64_t)u->pos.step, 0);
    float acc;
    const float loss = loss_grad(u->m, u->x, u->N2, (float)o->temperature, &dr, u->dz, u->work, &acc);
    if (!isfinite(loss)) return kres_fail("pretrain", "loss is not finite at step %ld (lower --lr?)", u->pos.step + 1);
    float *grads = kres_grads(u->m);
    const double norm = clip_grad_norm(grads, u->np, (float)o->clip);
    if (!isfinite(norm))
        return kres_fail("pretrain", "gradient norm is not finite at step %ld (lower --lr?)", u->pos.step + 1);
    const float lr = lr_at(u->pos.step, u->total, u->warmup, (float)o->lr, 0.01f * (float)o->lr);
    adamw_update(kres_params(u->m), grads, u->am, u->av, u->np, u->pos.step + 1, lr, 0.9f, 0.999f, 1e-8f,
                 (float)o->weight_decay, u->ranges, u->nranges);
    u->pos.step++;
    u->pos.ep_loss += loss;
    u->pos.ep_acc += acc;
    const double el = now_seconds() - u->t0;
    const double sps = (double)(u->pos.step - r->start_step) * u->N / (el > 0 ? el : 1e-9);
    progress_step(&u->prog, epoch + 1, o->epochs, u->pos.step, loss, sps);
    if (o->log_every > 0 && (u->pos.step % o->log_every == 0 || s == u->spe - 1)) {
        JsonWriter w;
        trainlog_event_begin(&w, "step");
        jw_key(&w, "epoch"), jw_int(&w, epoch + 1);
        jw_key(&w, "step"), jw_int(&w, s + 1);
        jw_key(&w, "global_step"), jw_int(&w, u->pos.step);
        jw_key(&w, "loss"), jw_number(&w, loss);
        jw_key(&w, "pair_accuracy"), jw_number(&w, acc);
        jw_key(&w, "lr"), jw_number(&w, lr);
        jw_key(&w, "grad_norm"), jw_number(&w, norm);
        jw_key(&w, "samples_per_s"), jw_number(&w, sps);
        jw_key(&w, "step_s"), jw_number(&w, now_seconds() - ts);
        jw_key(&w, "elapsed_s"), jw_number(&w, el);
        if (trainlog_event_end(&u->log, &w) != 0) return -1;
    }
    const int epoch_end = s == u->spe - 1;
    if (epoch_end && end_epoch(u, r, epoch, sps, el) != 0) return -1;
    const int periodic = o->checkpoint_every > 0 && u->pos.step % o->checkpoint_every == 0;
    if (epoch_end || periodic || u->pos.step == u->stop) return checkpoint(u, r);
    return 0;
}

static int log_end(Run *u, const PretrainResult *r) {
    JsonWriter w;
    trainlog_event_begin(&w, "end");
    jw_key(&w, "global_step"), jw_int(&w, u->pos.step);
    jw_key(&w, "completed"), jw_bool(&w, r->completed);
    jw_key(&w, "last_epoch_loss"), jw_number(&w, r->last_loss);
    jw_key(&w, "last_epoch_pair_accuracy"), jw_number(&w, r->last_accuracy);
    jw_key(&w, "samples_per_s"), jw_number(&w, r->samples_per_s);
    jw_key(&w, "seconds"), jw_number(&w, r->seconds);
    return trainlog_event_end(&u->log, &w);
}

int pretrain_run_corpus(const PretrainOptions *o, PretrainCorpus *corpus, PretrainResult *r) {
    memset(r, 0, sizeof *r);
    r->corpus = *corpus; /* owned by r from here on, freed by pretrain_result_free */
    memset(corpus, 0, sizeof *corpus);
    if (check_options(o) != 0) return -1;
    if (o->threads > 0) omp_set_num_threads(o->threads);
    Run u;
    memset(&u, 0, sizeof u);
    int rc = -1;
    if (run_setup(o, &r->corpus, r, &u) != 0) goto done;
    progress_init(&u.prog, u.total, o->quiet);
    if (log_start(&u) != 0) goto done;
    u.t0 = now_seconds();
    while (u.pos.step < u.stop) {
        const int epoch = (int)(u.pos.step / u.spe);
        /* The epoch's permutation, redrawn from (seed, epoch): resume needs no RNG state. */
        for (int i = 0; i < u.c->n; i++) u.perm[i] = i;
        Rng pr;
        rng_for(&pr, o->seed, TAG_PERM, (uint64_t)epoch, 0);
        rng_shuffle_int(&pr, u.perm, u.c->n);
        for (long s = u.pos.step % u.spe; s < u.spe && u.pos.step < u.stop; s++)
            if (pretrain_step(&u, r, epoch, s) != 0) goto done;
    }
    if (u.pos.step == r->start_step) {
        /* Nothing left to run (a finished run resumed): rewrite the encoder from the state. */
        if (save_encoder(o, u.c, u.m, u.pos.step, u.total, NAN, NAN, u.prov, u.pre_json) != 0) goto done;
        progress_message(&u.prog, o->quiet, "pretrain: already complete (%ld of %ld steps)", u.pos.step, u.total);
    }
    r->end_step = u.pos.step;
    r->completed = u.pos.step == u.total;
    r->seconds = now_seconds() - u.t0;
    r->samples_per_s = r->seconds > 0 ? (double)(u.pos.step - r->start_step) * u.N / r->seconds : 0;
    if (log_end(&u, r) != 0) goto done;
    rc = 0;
done:
    run_free(&u);
    return rc;
}
