/* experiment.c — `kres experiment`: pretraining, three pipelines x label fractions x
 * repeats, evaluation on one holdout (or pooled 10-fold CV), results.json/.md and
 * report.html (see experiment.h and docs/experiment.md).
 *
 * Units of work and their done markers (each written atomically, after its outputs):
 *   pretraining        pretrain[/fold-K]/encoder.safetensors ... done.json
 *   holdout run        runs/<name>/{model.safetensors, train.log.jsonl, scores.csv} result.json
 *   cv round           runs/<name>/fold-K/{model..., scores.csv} fold.json
 *   cv run             runs/<name>/scores.csv (pooled) result.json
 * Everything in results.* is rebuilt from those files, so a resumed experiment reports
 * the runs of earlier invocations exactly as if they had run now; that includes the paired
 * comparisons, which are computed from the runs' scores.csv. */
#include "train/experiment.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/json.h"
#include "data/ptbxl.h"
#include "eval/metrics.h"
#include "eval/report.h"
#include "nn/checkpoint.h"
#include "nn/conv1d.h"
#include "train/finetune.h"
#include "train/probe.h"
#include "train/progress.h"
#include "train/trainer.h"

#define PATHN 4096

/* ---- names, parsing, small helpers ----------------------------------------------------- */

static const char *const PIPE_ID[EXP_NPIPELINES] = {"supervised", "finetune", "probe"};
static const char *const PIPE_LABEL[EXP_NPIPELINES] = {"supervised", "fine-tune", "linear probe"};

const char *exp_pipeline_id(ExpPipeline p) { return p >= 0 && p < EXP_NPIPELINES ? PIPE_ID[p] : "?"; }
const char *exp_pipeline_label(ExpPipeline p) { return p >= 0 && p < EXP_NPIPELINES ? PIPE_LABEL[p] : "?"; }

int exp_pipeline_parse(const char *id, ExpPipeline *p) {
    for (int i = 0; i < EXP_NPIPELINES; i++)
        if (id && strcmp(id, PIPE_ID[i]) == 0) {
            *p = (ExpPipeline)i;
            return 0;
        }
    return -1;
}

static int cmp_desc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int exp_parse_fractions(const char *s, double *out, int cap, int *n) {
    *n = 0;
    if (!s || !*s) return kres_fail(NULL, "no label fractions given");
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0 || len >= sizeof item) return kres_fail(NULL, "label fraction '%.*s' is not a number", (int)len, p);
        memcpy(item, p, len);
        item[len] = '\0';
        double f;
        if (parse_double(item, &f) != 0 || !(f > 0 && f <= 1))
            return kres_fail(NULL, "label fraction '%s' must be a number in (0, 1]", item);
        for (int i = 0; i < *n; i++)
            if (out[i] == f) return kres_fail(NULL, "label fraction %s is given twice", item);
        if (*n == cap) return kres_fail(NULL, "at most %d label fractions", cap);
        out[(*n)++] = f;
        if (!comma) break;
        p = comma + 1;
    }
    qsort(out, (size_t)*n, sizeof *out, cmp_desc);
    return 0;
}

void exp_run_name(char *buf, size_t n, ExpPipeline p, double fraction, int repeat) {
    snprintf(buf, n, "%s-f%g-r%d", exp_pipeline_id(p), fraction, repeat);
}

int exp_epochs_for(int epochs, int min_steps, int ntrain, int batch) {
    if (ntrain < 1 || batch < 1) return epochs;
    long spe = (ntrain + batch - 1) / batch;
    long need = (min_steps + spe - 1) / spe;
    return need > epochs ? (int)need : epochs;
}

void exp_stats(const double *x, int n, double *mean, double *sd, double *lo, double *hi, int *used) {
    double s = 0, mn = INFINITY, mx = -INFINITY;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i])) continue;
        s += x[i], k++;
        if (x[i] < mn) mn = x[i];
        if (x[i] > mx) mx = x[i];
    }
    *used = k;
    if (k == 0) {
        *mean = *sd = *lo = *hi = NAN;
        return;
    }
    double m = s / k, ss = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) ss += (x[i] - m) * (x[i] - m);
    *mean = m, *lo = mn, *hi = mx;
    *sd = k > 1 ? sqrt(ss / (k - 1)) : NAN;
}

/* snprintf into a path buffer; a truncated path is an error, never a silent wrong file. */
static int pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pathf(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf, PATHN, fmt, ap);
    va_end(ap);
    if (w < 0 || w >= PATHN) return kres_fail(NULL, "path too long (%d characters)", w);
    return 0;
}

static int mkdir_one(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
        return kres_fail(path, "exists and is not a directory");
    }
    return kres_fail(path, "cannot create directory: %s", strerror(errno));
}

/* mkdir -p */
static int mkdir_p(const char *path) {
    char tmp[PATHN];
    if (strlen(path) >= sizeof tmp) return kres_fail(path, "path too long");
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *q = tmp + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            if (mkdir_one(tmp) != 0) return -1;
            *q = '/';
        }
    return mkdir_one(tmp);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Parse a whole JSON file; NULL with kres_fail naming it. */
static JsonValue *json_read_file(const char *path) {
    size_t len;
    char *s = read_file_all(path, &len);
    if (!s) return NULL;
    char err[256];
    JsonValue *v = json_parse(s, len, err, sizeof err);
    free(s);
    if (!v) kres_fail(path, "not valid JSON: %s", err);
    return v;
}

/* Write the writer's object plus a newline atomically. */
static int json_write_file(const char *path, const JsonWriter *w) {
    char *txt = xmalloc(w->len + 2);
    memcpy(txt, w->buf, w->len);
    txt[w->len] = '\n';
    int rc = write_file_atomic(path, txt, w->len + 1);
    free(txt);
    return rc;
}

static double jnum(const JsonValue *obj, const char *key) {
    const JsonValue *v = json_get(obj, key);
    return v && v->type == JSON_NUMBER ? v->number : NAN; /* null (NaN written by jw_number) */
}

/* Shortest decimal of a float (0.1, not 0.10000000149011612) for the settings record. */
static double float_dec(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return strtod(buf, NULL);
}


/* ---- scores files: "ecg_id,fold,label,score" ------------------------------------------ */

typedef struct {
    int n, cap;
    int *ecg_id, *fold, *label;
    float *score;
    float *thr;   /* the threshold each record is decided at (its round's) */
} Scores;

static void scores_free(Scores *s) {
    free(s->ecg_id), free(s->fold), free(s->label), free(s->score), free(s->thr);
    memset(s, 0, sizeof *s);
}

static void scores_push(Scores *s, int id, int fold, int label, float score, float thr) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->ecg_id = xrealloc(s->ecg_id, (size_t)s->cap * sizeof(int));
        s->fold = xrealloc(s->fold, (size_t)s->cap * sizeof(int));
        s->label = xrealloc(s->label, (size_t)s->cap * sizeof(int));
        s->score = xrealloc(s->score, (size_t)s->cap * sizeof(float));
        s->thr = xrealloc(s->thr, (size_t)s->cap * sizeof(float));
    }
    s->ecg_id[s->n] = id, s->fold[s->n] = fold, s->label[s->n] = label;
    s->score[s->n] = score, s->thr[s->n] = thr;
    s->n++;
}

static int scores_write(const char *path, const Scores *s) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    fprintf(af.fp, "ecg_id,fold,label,score\n");
    for (int i = 0; i < s->n; i++)
        fprintf(af.fp, "%d,%d,%d,%.9g\n", s->ecg_id[i], s->fold[i], s->label[i], (double)s->score[i]);
    return atomic_commit(&af);
}

/* Read a scores file this module wrote; thr is set to `thr` for every row. */
static int scores_read(const char *path, float thr, Scores *s) {
    char *txt = read_file_all(path, NULL);
    if (!txt) return -1;
    int rc = -1, line = 1;
    char *p = strchr(txt, '\n');
    if (!p || strncmp(txt, "ecg_id,fold,label,score", 23) != 0) {
        kres_fail(path, "line 1: expected the header 'ecg_id,fold,label,score'");
        goto done;
    }
    for (p++; *p; line++) {
        char *end = strchr(p, '\n');
        if (!end) {
            kres_fail(path, "line %d: truncated (no newline)", line + 1);
            goto done;
        }
        *end = '\0';
        int id, fold, label, used = 0;
        float sc;
        if (sscanf(p, "%d,%d,%d,%f%n", &id, &fold, &label, &sc, &used) != 4 || p[used] != '\0' ||
            (label != 0 && label != 1) || !isfinite(sc)) {
            kres_fail(path, "line %d: expected ecg_id,fold,label(0/1),score", line + 1);
            goto done;
        }
        scores_push(s, id, fold, label, sc, thr);
        p = end + 1;
    }
    rc = 0;
done:
    free(txt);
    return rc;
}

/* ---- experiment context ---------------------------------------------------------------- */

typedef struct {
    const ExperimentOptions *o;
    PtbxlDb db;
    int db_open;
    Task task;
    Cohort coh;                    /* as probe_run and the trainer build it (check_files 2) */
    int coh_built;
    FILE *log;                     /* experiment.log.jsonl, appended */
    /* encoders: one, or one per CV round (index k-1) */
    int n_encoders;
    char encoder[PTBXL_NFOLDS][PATHN];
    float *emb[PTBXL_NFOLDS];      /* cohort embeddings per encoder, computed when needed */
    int emb_dim;
    double pretrain_seconds;       /* this invocation */
    double pretrain_sps;           /* pairs/s, for the ETA before the first run */
    /* progress */
    int n_runs, run_index;
    double cost_total, cost_done, cost_seconds; /* of runs trained in this invocation */
    double t_start;
} Ctx;

static void ctx_free(Ctx *c) {
    for (int k = 0; k < PTBXL_NFOLDS; k++) free(c->emb[k]);
    if (c->coh_built) cohort_free(&c->coh);
    if (c->db_open) ptbxl_close(&c->db);
    if (c->log) fclose(c->log);
}

static void msg(const Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg(const Ctx *c, const char *fmt, ...) {
    if (c->o->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "experiment: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* One line of the JSON-lines log: {"event": ev, "time": ..., <fields of w>} — w holds an
 * open object's members or is NULL. */
static void log_event(Ctx *c, const char *ev, const JsonWriter *fields) {
    if (!c->log) return;
    char ts[32];
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    fprintf(c->log, "{\"event\":\"%s\",\"time\":\"%s\",\"elapsed_s\":%.1f", ev, ts, now_seconds() - c->t_start);
    if (fields && fields->len > 1) fprintf(c->log, ",%.*s", (int)(fields->len - 2), fields->buf + 1);
    fprintf(c->log, "}\n");
    fflush(c->log);
}

/* Positions of one split and its labelled subset (for epochs and the ETA). */
static int split_counts(Ctx *c, int test_fold, int val_fold, double fraction, uint64_t seed, int *ntrain) {
    const Cohort *h = &c->coh;
    int *tr = xmalloc((size_t)h->n * sizeof(int) + 1), *va = xmalloc((size_t)h->n * sizeof(int) + 1);
    int *te = xmalloc((size_t)h->n * sizeof(int) + 1), *sub = xmalloc((size_t)h->n * sizeof(int) + 1);
    int ntr, nva, nte, nsub = 0, rc = -1;
    if (cohort_split(h, test_fold, val_fold, tr, &ntr, va, &nva, te, &nte) != 0) goto done;
    if (fraction < 1) {
        if (subset_label_fraction(h, tr, ntr, fraction, seed, sub, &nsub) != 0) goto done;
    } else {
        nsub = ntr;
    }
    *ntrain = nsub;
    rc = 0;
done:
    free(tr), free(va), free(te), free(sub);
    return rc;
}

/* ---- settings pinned by experiment.json ------------------------------------------------ */

static void write_settings(JsonWriter *w, const ExperimentOptions *o) {
    char buf[1024];
    jw_object_begin(w);
    jw_key(w, "data_dir"), jw_string(w, o->data_dir);
    jw_key(w, "pretrain_data");
    jw_array_begin(w);
    for (int i = 0; i < o->n_pretrain_dirs; i++) jw_string(w, o->pretrain_dirs[i]);
    jw_array_end(w);
    jw_key(w, "task"), jw_string(w, o->task);
    jw_key(w, "protocol"), jw_string(w, "paper");
    jw_key(w, "rate"), jw_int(w, 100);
    jw_key(w, "evaluation"), jw_string(w, o->cv ? "cv" : "holdout");
    jw_key(w, "cv_pretrain");
    if (o->cv) jw_string(w, o->cv_pretrain == EXP_CV_PER_FOLD ? "per-fold" : "transductive");
    else jw_null(w);
    jw_key(w, "seed"), jw_int(w, (long long)o->seed);
    jw_key(w, "epochs"), jw_int(w, o->epochs);
    jw_key(w, "min_steps"), jw_int(w, o->min_steps);
    jw_key(w, "batch"), jw_int(w, o->batch);
    jw_key(w, "lr"), jw_number(w, float_dec(o->lr));
    jw_key(w, "encoder_lr_scale"), jw_number(w, float_dec(o->encoder_lr_scale));
    jw_key(w, "threshold_rule"), jw_string(w, o->threshold_rule);
    jw_key(w, "pretrain_epochs"), jw_int(w, o->pretrain_epochs);
    jw_key(w, "pretrain_batch"), jw_int(w, o->pretrain_batch);
    jw_key(w, "pretrain_lr"), jw_number(w, o->pretrain_lr);
    jw_key(w, "temperature"), jw_number(w, o->temperature);
    kres_config_to_json(&o->model, buf, sizeof buf);
    jw_key(w, "model"), jw_raw(w, buf);
    preproc_to_json(&o->preproc, buf, sizeof buf);
    jw_key(w, "preprocess"), jw_raw(w, buf);
    jw_object_end(w);
}

/* Compact serialisation of a parsed value, for comparisons. */
static char *json_canon(const JsonValue *v) {
    JsonWriter w;
    jw_init(&w);
    jw_value(&w, v);
    return w.buf;
}

/* The same directory, however it is spelled ("data/x", "data/x/", "./data/x", a symlink,
 * an absolute path): one (device, inode). */
static int same_directory(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISDIR(sa.st_mode) && S_ISDIR(sb.st_mode) &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Directory settings (a string, or an array of strings) that name the same directories. */
static int same_dir_setting(const JsonValue *a, const JsonValue *b) {
    if (a->type == JSON_STRING && b->type == JSON_STRING) return same_directory(a->string, b->string);
    if (a->type != JSON_ARRAY || b->type != JSON_ARRAY || a->n != b->n) return 0;
    for (int i = 0; i < a->n; i++)
        if (a->items[i].type != JSON_STRING || b->items[i].type != JSON_STRING ||
            (strcmp(a->items[i].string, b->items[i].string) != 0 &&
             !same_directory(a->items[i].string, b->items[i].string)))
            return 0;
    return 1;
}

/* Create experiment.json, or check that the existing one pins the same settings. Directories
 * compare by identity, not spelling, so a resume may name them differently. */
static int settings_check(Ctx *c) {
    const ExperimentOptions *o = c->o;
    char path[PATHN];
    if (pathf(path, "%s/experiment.json", o->out_dir) != 0) return -1;
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "kres_experiment"), jw_int(&w, 1);
    jw_key(&w, "preset"), jw_string(&w, o->preset ? o->preset : "custom");
    jw_key(&w, "settings");
    write_settings(&w, o);
    jw_object_end(&w);
    int rc = -1;
    if (!file_exists(path)) {
        if (o->report_only) {
            jw_free(&w);
            return kres_fail(path, "no experiment here to report on (run it first)");
        }
        rc = json_write_file(path, &w);
        jw_free(&w);
        return rc;
    }
    char err[128];
    JsonValue *now = json_parse(w.buf, w.len, err, sizeof err);
    KRES_ASSERT(now);
    JsonValue *old = json_read_file(path);
    if (!old) goto done;
    const JsonValue *a = json_get(old, "settings"), *b = json_get(now, "settings");
    if (!a || a->type != JSON_OBJECT) {
        kres_fail(path, "has no 'settings' object (not written by kres experiment?)");
        goto done;
    }
    for (int i = 0; i < b->n; i++) {
        const JsonValue *va = json_get(a, b->keys[i]);
        char *sa = va ? json_canon(va) : xstrdup("(absent)"), *sb = json_canon(&b->items[i]);
        int same = strcmp(sa, sb) == 0;
        if (!same && va && (!strcmp(b->keys[i], "data_dir") || !strcmp(b->keys[i], "pretrain_data")))
            same = same_dir_setting(va, &b->items[i]);
        if (!same)
            kres_fail(path, "this run directory holds an experiment with other settings: %s was %.200s, now %.200s "
                            "(use another --out, or the original options)", b->keys[i], sa, sb);
        free(sa), free(sb);
        if (!same) goto done;
    }
    rc = 0;
done:
    json_free(old);
    json_free(now);
    jw_free(&w);
    return rc;
}

/* ---- pretraining -------------------------------------------------------------------------- */

static void pretrain_fill(const ExperimentOptions *o, PretrainOptions *p) {
    pretrain_options_default(p);
    if (o->n_pretrain_dirs > 0) {
        p->ndirs = o->n_pretrain_dirs;
        for (int i = 0; i < o->n_pretrain_dirs; i++) p->dirs[i] = o->pretrain_dirs[i];
    } else {
        p->ndirs = 1;
        p->dirs[0] = o->data_dir;
    }
    p->epochs = o->pretrain_epochs;
    p->batch = o->pretrain_batch;
    p->lr = o->pretrain_lr;
    p->temperature = o->temperature;
    p->seed = o->seed;
    p->threads = o->threads;
    p->quiet = o->quiet;
    p->model = o->model;
    p->model.n_outputs = 0;
    if (p->model.proj_hidden <= 0) p->model.proj_hidden = kres_embed_dim(&p->model);
    if (p->model.proj_dim <= 0) p->model.proj_dim = 128;
    p->preprocess = o->preproc;
    p->argc = o->argc, p->argv = o->argv;
}

/* Refuse --pretrain-data that would show the encoder held-out ECGs of the evaluation data:
 * pretrain_run leaves out the excluded folds of PTB-XL trees it is given, but a plain WFDB
 * directory (e.g. PTB-XL's records100/ passed on its own) carries no folds. Records named
 * like PTB-XL's (NNNNN_lr, NNNNN_hr) are matched by ecg_id against the evaluation database. */
static int check_pretrain_leak(Ctx *c, const PretrainCorpus *corpus, unsigned exclude) {
    if (!c->o->n_pretrain_dirs || !exclude) return 0;
    int maxid = 0;
    for (int i = 0; i < c->db.n; i++)
        if (c->db.rec[i].ecg_id > maxid) maxid = c->db.rec[i].ecg_id;
    unsigned char *held = xcalloc((size_t)maxid + 1, 1);
    for (int i = 0; i < c->db.n; i++) {
        const PtbxlRecord *r = &c->db.rec[i];
        if (r->ecg_id >= 0 && (exclude >> r->strat_fold & 1u)) held[r->ecg_id] = 1;
    }
    int rc = 0, n = 0;
    const char *first = NULL;
    for (int i = 0; i < corpus->n; i++) {
        const int id = pretrain_record_ecg_id(corpus->path[i]); /* as the corpus matches them */
        if (id >= 0 && id <= maxid && held[id]) {
            if (!first) first = corpus->path[i];
            n++;
        }
    }
    if (n > 0) {
        char folds[64] = "";
        for (int k = 1; k <= PTBXL_NFOLDS; k++)
            if (exclude >> k & 1u) snprintf(folds + strlen(folds), sizeof folds - strlen(folds), "%s%d", *folds ? "," : "", k);
        rc = kres_fail(first, "--pretrain-data holds %d ECGs of the held-out folds %s of %s (this is one): pretraining "
                              "on them would show the encoder test ECGs. Pass the PTB-XL directory itself (its "
                              "folds %s are then left out) or remove them",
                       n, folds, c->o->data_dir, folds);
    }
    free(held);
    return rc;
}

/* Pretrain into dir (resuming or skipping as the files say); exclude = strat_fold bits. */
static int pretrain_one(Ctx *c, const char *dir, unsigned exclude, const char *what) {
    const ExperimentOptions *o = c->o;
    char enc[PATHN], done[PATHN], logp[PATHN], state[PATHN];
    if (pathf(enc, "%s/encoder.safetensors", dir) || pathf(done, "%s/done.json", dir) ||
        pathf(logp, "%s/pretrain.log.jsonl", dir))
        return -1;
    if (file_exists(done) && file_exists(enc)) {
        msg(c, "pretraining %s: done earlier, skipped (%s)", what, done);
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "dir"), jw_string(&f, dir);
        jw_object_end(&f);
        log_event(c, "pretrain_skip", &f);
        jw_free(&f);
        return 0;
    }
    if (o->report_only) return 0; /* report what is there; nothing is trained */
    if (mkdir_p(dir) != 0) return -1;
    PretrainOptions p;
    pretrain_fill(o, &p);
    p.out_path = enc;
    p.exclude_folds = exclude;
    p.log_path = logp;
    if (pretrain_state_path(enc, state, sizeof state) != 0) return kres_fail(enc, "path too long");
    p.resume = file_exists(state);
    /* one scan of the pretraining directories serves the leak check and the run */
    PretrainCorpus corpus;
    if (pretrain_corpus_build(&p, &corpus) != 0) return -1;
    if (check_pretrain_leak(c, &corpus, exclude) != 0) {
        pretrain_corpus_free(&corpus);
        return -1;
    }
    msg(c, "pretraining %s: %d epochs%s", what, p.epochs, p.resume ? ", resuming from its state file" : "");
    {
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "dir"), jw_string(&f, dir);
        jw_key(&f, "resume"), jw_bool(&f, p.resume);
        jw_key(&f, "exclude_folds_mask"), jw_int(&f, exclude);
        jw_object_end(&f);
        log_event(c, "pretrain_start", &f);
        jw_free(&f);
    }
    PretrainResult r;
    double t0 = now_seconds();
    if (pretrain_run_corpus(&p, &corpus, &r) != 0) {
        pretrain_result_free(&r);
        return -1;
    }
    double secs = now_seconds() - t0;
    c->pretrain_seconds += secs;
    if (r.samples_per_s > 0) c->pretrain_sps = r.samples_per_s;
    int rc = -1;
    if (!r.completed) {
        kres_fail(enc, "pretraining stopped before its last epoch");
        goto out;
    }
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "encoder"), jw_string(&w, enc);
    jw_key(&w, "what"), jw_string(&w, what);
    jw_key(&w, "examples"), jw_int(&w, r.corpus.n);
    jw_key(&w, "excluded_folds");
    jw_array_begin(&w);
    for (int k = 1; k <= PTBXL_NFOLDS; k++)
        if (exclude >> k & 1u) jw_int(&w, k);
    jw_array_end(&w);
    jw_key(&w, "excluded_records"), jw_int(&w, r.corpus.n_excluded);
    jw_key(&w, "epochs"), jw_int(&w, p.epochs);
    jw_key(&w, "steps"), jw_int(&w, r.total_steps);
    jw_key(&w, "first_loss"), jw_number(&w, r.first_loss);
    jw_key(&w, "last_loss"), jw_number(&w, r.last_loss);
    jw_key(&w, "last_pair_accuracy"), jw_number(&w, r.last_accuracy);
    jw_key(&w, "samples_per_s"), jw_number(&w, r.samples_per_s);
    jw_key(&w, "seconds"), jw_number(&w, r.seconds);
    jw_key(&w, "resumed"), jw_bool(&w, p.resume);
    jw_object_end(&w);
    rc = json_write_file(done, &w);
    log_event(c, "pretrain_end", &w);
    jw_free(&w);
    if (rc == 0) {
        char d[32];
        format_duration(secs, d, sizeof d);
        msg(c, "pretrained %s on %d ECGs in %s (NT-Xent loss %.3f -> %.3f, %.1f ECG pairs/s)", what, r.corpus.n, d,
            r.first_loss, r.last_loss, r.samples_per_s);
    }
out:
    pretrain_result_free(&r);
    return rc;
}

static int pretrain_all(Ctx *c) {
    const ExperimentOptions *o = c->o;
    char dir[PATHN];
    if (!o->cv || o->cv_pretrain == EXP_CV_TRANSDUCTIVE) {
        /* One encoder. Holdout: never the test/validation folds of a PTB-XL tree. With --cv
         * every fold is a test fold once, so one pretraining must use them all. */
        unsigned excl = o->cv ? 0u : (1u << 9) | (1u << 10);
        c->n_encoders = 1;
        if (pathf(dir, "%s/pretrain", o->out_dir) || pathf(c->encoder[0], "%s/encoder.safetensors", dir)) return -1;
        const char *what = o->cv ? (o->n_pretrain_dirs ? "on --pretrain-data (all records)"
                                                       : "on all records, holdout folds included (transductive)")
                                 : "without folds 9 and 10";
        return pretrain_one(c, dir, excl, what);
    }
    c->n_encoders = PTBXL_NFOLDS;
    for (int k = 1; k <= PTBXL_NFOLDS; k++) {
        int tf, vf;
        kfold_folds(k, &tf, &vf);
        char what[96];
        snprintf(what, sizeof what, "for round %d/10 (without folds %d and %d)", k, tf, vf);
        if (pathf(dir, "%s/pretrain/fold-%d", o->out_dir, k) ||
            pathf(c->encoder[k - 1], "%s/encoder.safetensors", dir))
            return -1;
        if (pretrain_one(c, dir, (1u << tf) | (1u << vf), what) != 0) return -1;
    }
    return 0;
}

/* The encoder of CV round k (1..10), or of the holdout experiment (k = 0). */
static int encoder_index(const Ctx *c, int k) { return c->n_encoders == 1 ? 0 : k - 1; }

static int embeddings_for(Ctx *c, int ei, const float **out) {
    if (!c->emb[ei]) {
        double t0 = now_seconds();
        int E;
        if (probe_embed_cohort(c->encoder[ei], &c->coh, &c->emb[ei], &E, 1) != 0) return -1;
        c->emb_dim = E;
        msg(c, "embedded the %d cohort ECGs with %s in %.1f s (frozen encoder, for the linear probe)", c->coh.n,
            c->encoder[ei], now_seconds() - t0);
    }
    *out = c->emb[ei];
    return 0;
}

/* ---- one training unit: one pipeline on one split ------------------------------------- */

typedef struct {
    int test_fold, val_fold;
    int ntrain, ntrain_pos, nval, nval_pos, ntest, ntest_pos;
    int epochs, best_epoch;
    double val_auc, threshold, lambda;
    double train_seconds, seconds, train_sps;
    Scores s;                      /* test scores (thr = threshold) */
} Unit;

static void unit_json(JsonWriter *w, const Unit *u, ExpPipeline p) {
    jw_key(w, "test_fold"), jw_int(w, u->test_fold);
    jw_key(w, "val_fold"), jw_int(w, u->val_fold);
    jw_key(w, "n_train"), jw_int(w, u->ntrain);
    jw_key(w, "n_train_pos"), jw_int(w, u->ntrain_pos);
    jw_key(w, "n_train_neg"), jw_int(w, u->ntrain - u->ntrain_pos);
    jw_key(w, "n_val"), jw_int(w, u->nval);
    jw_key(w, "n_val_pos"), jw_int(w, u->nval_pos);
    jw_key(w, "n_test"), jw_int(w, u->ntest);
    jw_key(w, "n_test_pos"), jw_int(w, u->ntest_pos);
    if (p == EXP_PROBE) {
        jw_key(w, "lambda"), jw_number(w, u->lambda);
    } else {
        jw_key(w, "epochs"), jw_int(w, u->epochs);
        jw_key(w, "best_epoch"), jw_int(w, u->best_epoch);
    }
    jw_key(w, "val_auc"), jw_number(w, u->val_auc);
    jw_key(w, "threshold"), jw_number(w, u->threshold);
    jw_key(w, "train_seconds"), jw_number(w, u->train_seconds);
    jw_key(w, "seconds"), jw_number(w, u->seconds);
    jw_key(w, "train_samples_per_s"), jw_number(w, u->train_sps);
}

static void unit_from_json(const JsonValue *v, Unit *u) {
    u->test_fold = (int)jnum(v, "test_fold"), u->val_fold = (int)jnum(v, "val_fold");
    u->ntrain = (int)jnum(v, "n_train"), u->ntrain_pos = (int)jnum(v, "n_train_pos");
    u->nval = (int)jnum(v, "n_val"), u->nval_pos = (int)jnum(v, "n_val_pos");
    u->ntest = (int)jnum(v, "n_test"), u->ntest_pos = (int)jnum(v, "n_test_pos");
    double e = jnum(v, "epochs"), b = jnum(v, "best_epoch");
    u->epochs = isnan(e) ? 0 : (int)e, u->best_epoch = isnan(b) ? 0 : (int)b;
    u->lambda = jnum(v, "lambda");
    u->val_auc = jnum(v, "val_auc"), u->threshold = jnum(v, "threshold");
    u->train_seconds = jnum(v, "train_seconds"), u->seconds = jnum(v, "seconds");
    u->train_sps = jnum(v, "train_samples_per_s");
}

/* Train and score one pipeline on (test_fold, val_fold) into dir. */
static int unit_train(Ctx *c, ExpPipeline p, double fraction, int repeat, int test_fold, int val_fold, const char *dir,
                      Unit *u) {
    const ExperimentOptions *o = c->o;
    memset(u, 0, sizeof *u);
    u->test_fold = test_fold, u->val_fold = val_fold, u->lambda = NAN;
    uint64_t rseed = o->seed + (uint64_t)(repeat - 1);
    char model[PATHN], logp[PATHN];
    if (mkdir_p(dir) != 0 || pathf(model, "%s/model.safetensors", dir) || pathf(logp, "%s/train.log.jsonl", dir))
        return -1;
    int ei = encoder_index(c, test_fold);
    double t0 = now_seconds();
    if (p == EXP_PROBE) {
        ProbeOptions po;
        probe_options_default(&po);
        po.encoder_path = c->encoder[ei];
        po.data_dir = o->data_dir;
        po.db = &c->db; /* open already: no second read of every header per probe */
        po.task = o->task;
        po.out_path = model;
        po.test_fold = test_fold, po.val_fold = val_fold;
        po.label_fraction = fraction;
        po.seed = rseed;
        po.fit.threshold_rule = o->threshold_rule;
        po.quiet = 1;
        po.argc = o->argc, po.argv = o->argv;
        if (embeddings_for(c, ei, &po.cohort_embeddings) != 0) return -1;
        ProbeResult r;
        if (probe_run(&po, &r) != 0) {
            probe_result_free(&r);
            return -1;
        }
        u->ntrain = r.ntrain, u->ntrain_pos = r.ntrain_pos, u->nval = r.nval, u->nval_pos = r.nval_pos;
        u->ntest = r.ntest, u->ntest_pos = r.ntest_pos;
        u->val_auc = r.fit.val_auc, u->threshold = r.fit.threshold, u->lambda = r.fit.lambda;
        u->train_seconds = r.seconds_fit;
        u->train_sps = r.seconds_fit > 0 ? r.ntrain / r.seconds_fit : NAN;
        for (int i = 0; i < r.ntest; i++)
            scores_push(&u->s, r.test_ecg_id[i], test_fold, r.test_labels[i], r.test_scores[i], (float)u->threshold);
        probe_result_free(&r);
    } else {
        TrainOptions to;
        train_options_default(&to);
        to.data_dir = o->data_dir;
        to.db = &c->db;
        to.task = o->task;
        to.test_fold = test_fold, to.val_fold = val_fold;
        to.label_fraction = fraction;
        to.subset_seed = rseed;
        to.seed = rseed;
        to.model = o->model;
        to.preproc = o->preproc;
        to.batch = o->batch;
        to.lr = o->lr;
        to.threads = o->threads;
        to.threshold_rule = o->threshold_rule;
        to.out_path = model;
        to.log_path = logp;
        to.quiet = !o->verbose || o->quiet;
        to.argc = o->argc, to.argv = o->argv;
        int ntr;
        if (split_counts(c, test_fold, val_fold, fraction, rseed, &ntr) != 0) return -1;
        to.epochs = exp_epochs_for(o->epochs, o->min_steps, ntr, o->batch);
        TrainResult r;
        int rc;
        if (p == EXP_FINETUNE) {
            to.encoder_lr_scale = o->encoder_lr_scale;
            rc = finetune_classifier(&to, c->encoder[ei], &r);
        } else {
            rc = train_classifier(&to, &r);
        }
        if (rc != 0) {
            train_result_free(&r);
            return -1;
        }
        u->ntrain = r.ntrain, u->ntrain_pos = r.ntrain_pos, u->nval = r.nval, u->nval_pos = r.nval_pos;
        u->ntest = r.ntest;
        for (int i = 0; i < r.ntest; i++) u->ntest_pos += r.test_labels[i];
        u->epochs = r.epochs_run, u->best_epoch = r.best_epoch;
        u->val_auc = r.best_val_auc, u->threshold = r.threshold;
        u->train_seconds = r.train_seconds, u->train_sps = r.train_samples_per_s;
        for (int i = 0; i < r.ntest; i++)
            scores_push(&u->s, r.test_ecg_id[i], test_fold, r.test_labels[i], r.test_scores[i], (float)u->threshold);
        train_result_free(&r);
    }
    u->seconds = now_seconds() - t0;
    return 0;
}

/* ---- runs ---------------------------------------------------------------------------------- */

/* Cost estimate of a run in "training examples" for the ETA. */
static double run_cost(Ctx *c, ExpPipeline p, double fraction, int repeat) {
    const ExperimentOptions *o = c->o;
    int rounds = o->cv ? PTBXL_NFOLDS : 1;
    double cost = 0;
    for (int k = 1; k <= rounds; k++) {
        int tf = 10, vf = 9, ntr = 0;
        if (o->cv) kfold_folds(k, &tf, &vf);
        if (split_counts(c, tf, vf, fraction, o->seed + (uint64_t)(repeat - 1), &ntr) != 0) ntr = 0;
        int nval = c->coh.pos_fold[vf] + c->coh.neg_fold[vf];
        if (p == EXP_PROBE) cost += 0.05 * ntr + 0.02 * nval;
        else cost += (double)exp_epochs_for(o->epochs, o->min_steps, ntr, o->batch) * (ntr + nval / 3.0);
    }
    return cost;
}

/* Pooled (or single-holdout) evaluation: AUC from the scores; the confusion matrix from
 * each record's decision at its own threshold (one threshold for a holdout run). */
static int pooled_eval(const Scores *s, EvalResult *res) {
    EvalOptions eo;
    eval_options_default(&eo);
    EvalResult raw;
    int rc = eval_binary(s->score, s->label, s->n, 0.5, &eo, &raw);
    if (rc < 0) return -1;
    float *dec = xmalloc((size_t)s->n * sizeof(float) + 1);
    for (int i = 0; i < s->n; i++) dec[i] = s->score[i] >= s->thr[i] ? 1.0f : 0.0f;
    int rc2 = eval_binary(dec, s->label, s->n, 0.5, &eo, res);
    free(dec);
    if (rc2 < 0) return -1;
    res->auc = raw.auc, res->auc_lo = raw.auc_lo, res->auc_hi = raw.auc_hi, res->auc_se = raw.auc_se;
    memcpy(res->ci_method, raw.ci_method, sizeof res->ci_method);
    /* the decision pass's notes stand; of the raw pass (at 0.5) only those about the AUC */
    for (int i = 0; i < raw.n_notes && res->n_notes < EVAL_MAX_NOTES; i++)
        if (strstr(raw.notes[i], "AUC")) memcpy(res->notes[res->n_notes++], raw.notes[i], sizeof raw.notes[i]);
    return rc;
}

static int run_one(Ctx *c, ExpPipeline p, double fraction, int repeat) {
    const ExperimentOptions *o = c->o;
    char name[96], dir[PATHN], result[PATHN], scores_path[PATHN];
    exp_run_name(name, sizeof name, p, fraction, repeat);
    if (pathf(dir, "%s/runs/%s", o->out_dir, name) || pathf(result, "%s/result.json", dir) ||
        pathf(scores_path, "%s/scores.csv", dir))
        return -1;
    c->run_index++;
    double cost = run_cost(c, p, fraction, repeat);
    if (file_exists(result)) {
        JsonValue *v = json_read_file(result);
        int ok = v && json_get(v, "auc") && strcmp(json_str(json_get(v, "pipeline"), ""), exp_pipeline_id(p)) == 0;
        json_free(v);
        if (ok) {
            msg(c, "[%d/%d] %s: done earlier, skip", c->run_index, c->n_runs, name);
            JsonWriter f;
            jw_init(&f), jw_object_begin(&f);
            jw_key(&f, "run"), jw_string(&f, name);
            jw_object_end(&f);
            log_event(c, "run_skip", &f);
            jw_free(&f);
            c->cost_total -= cost;
            return 0;
        }
        msg(c, "[%d/%d] %s: unreadable result.json, running it again", c->run_index, c->n_runs, name);
    }
    if (o->report_only) return 0;

    char eta[48] = "";
    if (c->cost_done > 0) {
        char d[32];
        format_duration(c->cost_seconds / c->cost_done * (c->cost_total - c->cost_done), d, sizeof d);
        snprintf(eta, sizeof eta, ", ETA %s", d);
    } else if (c->pretrain_sps > 0) {
        /* before any run: one pretraining pair costs about two supervised examples */
        char d[32];
        format_duration((c->cost_total - c->cost_done) / (2.0 * c->pretrain_sps), d, sizeof d);
        snprintf(eta, sizeof eta, ", ETA ~%s", d);
    }
    msg(c, "[%d/%d] %s: %s, label fraction %g, repeat %d%s", c->run_index, c->n_runs, name, exp_pipeline_label(p),
        fraction, repeat, eta);
    {
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "run"), jw_string(&f, name);
        jw_key(&f, "index"), jw_int(&f, c->run_index);
        jw_key(&f, "of"), jw_int(&f, c->n_runs);
        jw_object_end(&f);
        log_event(c, "run_start", &f);
        jw_free(&f);
    }
    double t0 = now_seconds();
    Scores all;
    memset(&all, 0, sizeof all);
    int rounds = o->cv ? PTBXL_NFOLDS : 1, rc = -1;
    Unit units[PTBXL_NFOLDS];
    memset(units, 0, sizeof units);
    for (int k = 1; k <= rounds; k++) {
        Unit *u = &units[k - 1];
        int tf = 10, vf = 9;
        if (o->cv) kfold_folds(k, &tf, &vf);
        char udir[PATHN], marker[PATHN], uscores[PATHN];
        if (o->cv) {
            if (pathf(udir, "%s/fold-%d", dir, k)) goto done;
        } else {
            snprintf(udir, sizeof udir, "%s", dir);
        }
        if (pathf(marker, "%s/fold.json", udir) || pathf(uscores, "%s/scores.csv", udir)) goto done;
        if (o->cv && file_exists(marker)) {
            JsonValue *v = json_read_file(marker);
            if (!v) goto done;
            unit_from_json(v, u);
            json_free(v);
            if (scores_read(uscores, (float)u->threshold, &u->s) != 0) goto done;
            msg(c, "    round %d/10: done earlier, skip", k);
        } else {
            if (unit_train(c, p, fraction, repeat, tf, vf, udir, u) != 0) goto done;
            if (o->cv) {
                JsonWriter w;
                jw_init(&w);
                jw_object_begin(&w);
                unit_json(&w, u, p);
                jw_object_end(&w);
                int e = scores_write(uscores, &u->s) || json_write_file(marker, &w);
                jw_free(&w);
                if (e) goto done;
                double fa = NAN;
                if (u->ntest_pos > 0 && u->ntest_pos < u->ntest) roc_auc(u->s.score, u->s.label, u->s.n, &fa);
                char d[32];
                format_duration(u->seconds, d, sizeof d);
                msg(c, "    round %d/10: test fold %d (%d ECGs, %d positive): AUC %.3f, %s", k, tf, u->ntest,
                    u->ntest_pos, fa, d);
            }
        }
        for (int i = 0; i < u->s.n; i++)
            scores_push(&all, u->s.ecg_id[i], u->s.fold[i], u->s.label[i], u->s.score[i], u->s.thr[i]);
    }
    EvalResult res;
    int er = pooled_eval(&all, &res);
    if (er < 0) goto done;
    if (o->cv) {
        res.threshold = NAN;
        snprintf(res.threshold_rule, sizeof res.threshold_rule, "%.12s per round, on its validation fold",
                 o->threshold_rule);
    } else {
        res.threshold = units[0].threshold;
        snprintf(res.threshold_rule, sizeof res.threshold_rule, "%.20s on validation fold 9", o->threshold_rule);
    }
    if (scores_write(scores_path, &all) != 0) goto done;

    /* result.json: the run's done marker, written last */
    double secs = now_seconds() - t0, train_secs = 0, sps = 0, mean[8] = {0};
    for (int k = 0; k < rounds; k++) {
        const Unit *u = &units[k];
        train_secs += u->train_seconds, sps += u->train_sps / rounds;
        mean[0] += (double)u->ntrain / rounds, mean[1] += (double)u->ntrain_pos / rounds;
        mean[2] += (double)u->nval / rounds, mean[3] += (double)u->nval_pos / rounds;
    }
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "run"), jw_string(&w, name);
    jw_key(&w, "pipeline"), jw_string(&w, exp_pipeline_id(p));
    jw_key(&w, "fraction"), jw_number(&w, fraction);
    jw_key(&w, "repeat"), jw_int(&w, repeat);
    jw_key(&w, "seed"), jw_int(&w, (long long)(o->seed + (uint64_t)(repeat - 1)));
    jw_key(&w, "subset_seed"), jw_int(&w, (long long)(o->seed + (uint64_t)(repeat - 1)));
    jw_key(&w, "evaluation"), jw_string(&w, o->cv ? "pooled out-of-fold, 10 rounds" : "holdout fold 10");
    jw_key(&w, "n_train"), jw_number(&w, mean[0]);
    jw_key(&w, "n_train_pos"), jw_number(&w, mean[1]);
    jw_key(&w, "n_train_neg"), jw_number(&w, mean[0] - mean[1]);
    jw_key(&w, "n_val"), jw_number(&w, mean[2]);
    jw_key(&w, "n_val_pos"), jw_number(&w, mean[3]);
    jw_key(&w, "n_test"), jw_int(&w, res.n);
    jw_key(&w, "n_test_pos"), jw_int(&w, res.npos);
    jw_key(&w, "auc"), jw_number(&w, res.auc);
    jw_key(&w, "auc_lo"), jw_number(&w, res.auc_lo);
    jw_key(&w, "auc_hi"), jw_number(&w, res.auc_hi);
    jw_key(&w, "auc_ci_method"), jw_string(&w, res.ci_method);
    eval_write_prop_json(&w, "sensitivity", res.sens);
    eval_write_prop_json(&w, "specificity", res.spec);
    eval_write_prop_json(&w, "ppv", res.ppv);
    eval_write_prop_json(&w, "npv", res.npv);
    jw_key(&w, "threshold"), jw_number(&w, res.threshold);
    jw_key(&w, "threshold_rule"), jw_string(&w, res.threshold_rule);
    if (!o->cv) {
        const Unit *u = &units[0];
        if (p == EXP_PROBE) jw_key(&w, "lambda"), jw_number(&w, u->lambda);
        else {
            jw_key(&w, "epochs"), jw_int(&w, u->epochs);
            jw_key(&w, "best_epoch"), jw_int(&w, u->best_epoch);
        }
        jw_key(&w, "val_auc"), jw_number(&w, u->val_auc);
    }
    jw_key(&w, "train_seconds"), jw_number(&w, train_secs);
    jw_key(&w, "seconds"), jw_number(&w, secs);
    jw_key(&w, "train_samples_per_s"), jw_number(&w, sps);
    jw_key(&w, "threads"), jw_int(&w, omp_get_max_threads());
    jw_key(&w, "backend"), jw_string(&w, nn_backend_name(nn_get_backend())); /* rounding differs */
    if (p != EXP_SUPERVISED) {
        jw_key(&w, "encoder");
        if (c->n_encoders == 1) jw_string(&w, c->encoder[0]);
        else {
            jw_array_begin(&w);
            for (int k = 0; k < c->n_encoders; k++) jw_string(&w, c->encoder[k]);
            jw_array_end(&w);
        }
    }
    jw_key(&w, "dir"), jw_string(&w, dir);
    if (o->cv) {
        jw_key(&w, "rounds");
        jw_array_begin(&w);
        for (int k = 0; k < rounds; k++) {
            jw_object_begin(&w);
            unit_json(&w, &units[k], p);
            jw_object_end(&w);
        }
        jw_array_end(&w);
    }
    jw_key(&w, "test");
    eval_write_json(&w, &res);
    jw_object_end(&w);
    int e = json_write_file(result, &w);
    if (e == 0) log_event(c, "run_end", &w);
    jw_free(&w);
    if (e) goto done;

    c->cost_done += cost;
    c->cost_seconds += secs;
    char d[32], ci[64] = "";
    format_duration(secs, d, sizeof d);
    if (!isnan(res.auc_lo)) snprintf(ci, sizeof ci, " [%.3f, %.3f]", res.auc_lo, res.auc_hi);
    msg(c, "[%d/%d] %s: AUC %.3f%s, sensitivity %.2f, specificity %.2f (n_train %.0f: %.0f positive), %s",
        c->run_index, c->n_runs, name, res.auc, ci, res.sens.p, res.spec.p, mean[0], mean[1], d);
    rc = 0;
done:
    for (int k = 0; k < rounds; k++) scores_free(&units[k].s);
    scores_free(&all);
    return rc;
}

/* ---- aggregation and reports --------------------------------------------------------- */

typedef struct {
    JsonValue *v;                  /* the run's result.json, or NULL if not finished */
} RunSlot;

typedef struct {
    int n;                         /* finished repeats */
    double auc_mean, auc_sd, auc_min, auc_max;
    double sens, spec, ppv, npv;   /* means */
    double ntrain, ntrain_pos;     /* of the first finished repeat */
    double auc_lo1, auc_hi1;       /* DeLong CI of the first finished repeat */
} Cell;

static double prop_value(const JsonValue *run, const char *key) { return jnum(json_get(run, key), "value"); }

static void cell_compute(RunSlot *slots, int repeats, Cell *cl) {
    double auc[EXP_MAX_REPEATS], se[EXP_MAX_REPEATS], sp[EXP_MAX_REPEATS], pp[EXP_MAX_REPEATS], np[EXP_MAX_REPEATS];
    int k = 0;
    memset(cl, 0, sizeof *cl);
    cl->auc_lo1 = cl->auc_hi1 = NAN;
    for (int r = 0; r < repeats; r++) {
        const JsonValue *v = slots[r].v;
        if (!v) continue;
        if (k == 0) {
            cl->ntrain = jnum(v, "n_train"), cl->ntrain_pos = jnum(v, "n_train_pos");
            cl->auc_lo1 = jnum(v, "auc_lo"), cl->auc_hi1 = jnum(v, "auc_hi");
        }
        auc[k] = jnum(v, "auc"), se[k] = prop_value(v, "sensitivity"), sp[k] = prop_value(v, "specificity");
        pp[k] = prop_value(v, "ppv"), np[k] = prop_value(v, "npv");
        k++;
    }
    cl->n = k;
    int u;
    double sd, lo, hi;
    exp_stats(auc, k, &cl->auc_mean, &cl->auc_sd, &cl->auc_min, &cl->auc_max, &u);
    exp_stats(se, k, &cl->sens, &sd, &lo, &hi, &u);
    exp_stats(sp, k, &cl->spec, &sd, &lo, &hi, &u);
    exp_stats(pp, k, &cl->ppv, &sd, &lo, &hi, &u);
    exp_stats(np, k, &cl->npv, &sd, &lo, &hi, &u);
}

static void fmt3(char *b, size_t n, double x) {
    if (isnan(x)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.3f", x);
}

static void fmt2(char *b, size_t n, double x) {
    if (isnan(x)) snprintf(b, n, "n/a");
    else snprintf(b, n, "%.2f", x);
}

static void fmt_pct(char *b, size_t n, double f) { snprintf(b, n, "%g%%", f * 100); }

/* Spread column: min-max over repeats, or the single run's DeLong CI. */
static void cell_spread(const Cell *cl, int repeats, double *lo, double *hi) {
    if (repeats > 1 && cl->n > 1) *lo = cl->auc_min, *hi = cl->auc_max;
    else *lo = cl->auc_lo1, *hi = cl->auc_hi1;
}

/* "| pipeline | 100% labels | ... |" and its separator row, for results.md tables. */
static void md_fraction_header(FILE *f, const double *fractions, int F) {
    char pct[32];
    fprintf(f, "| pipeline |");
    for (int fi = 0; fi < F; fi++) fmt_pct(pct, sizeof pct, fractions[fi]), fprintf(f, " %s labels |", pct);
    fprintf(f, "\n| --- |");
    for (int fi = 0; fi < F; fi++) fprintf(f, " --- |");
    fprintf(f, "\n");
}

/* Encoder parameters of a config (the built model knows; a throwaway batch-1 model is cheap). */
static double kres_encoder_params(const KresConfig *c) {
    Kres *m = kres_create(c, 1, 1);
    if (!m) return NAN;
    double n = (double)kres_num_encoder_params(m);
    kres_free(m);
    return n;
}

/* Notes shared by results.md and report.html (malloc'd, paragraphs separated by "\n\n"). */
static char *notes_text(const Ctx *c, int complete, int n_done, int n_total, const char *extra) {
    const ExperimentOptions *o = c->o;
    const Cohort *h = &c->coh;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    KRES_ASSERT(f);
    fprintf(f, "Data: %s, task %s (%s), paper protocol (positives vs NORM-only ECGs), 100 Hz: %d ECGs, "
               "%d positive.",
            o->data_dir, c->task.name, c->task.description, h->n, h->npos);
    if (o->cv)
        fprintf(f, " Evaluation: 10-fold cross-validation over PTB-XL's strat_folds (round k: test fold k, "
                   "validation fold k mod 10 + 1); the AUC is computed on the pooled out-of-fold scores of all %d ECGs, "
                   "sensitivity etc. from each ECG's decision at its own round's threshold.",
                h->n);
    else
        fprintf(f, " Evaluation: holdout fold 10 (%d ECGs, %d positive); training folds 1-8, validation fold 9 "
                   "(%d ECGs, %d positive) chooses the epoch (or the probe's L2 strength) and the threshold.",
                h->pos_fold[10] + h->neg_fold[10], h->pos_fold[10], h->pos_fold[9] + h->neg_fold[9], h->pos_fold[9]);
    fprintf(f, " Label fractions are stratified, seeded subsets of the training folds, nested within a repeat "
               "(repeat r uses seed %llu+r-1), and identical for the three pipelines.\n\n",
            (unsigned long long)o->seed);
    if (o->cv && o->cv_pretrain == EXP_CV_TRANSDUCTIVE)
        fprintf(f, "IMPORTANT - transductive pretraining: with --cv every fold is a test fold once, so the one "
                   "contrastive pretraining used every record, the test ECGs of each round included (without labels: "
                   "pretraining never reads a label). The fine-tune and linear-probe encoders have therefore seen the "
                   "unlabelled test ECGs; the supervised pipeline has not. Use --cv-pretrain per-fold for strictly "
                   "inductive numbers (ten pretrainings).\n\n");
    fprintf(f, "Pretraining: SimCLR-style contrastive (NT-Xent, temperature %g), %d epoch%s, batch %d, on ",
            o->temperature, o->pretrain_epochs, o->pretrain_epochs == 1 ? "" : "s", o->pretrain_batch);
    if (o->n_pretrain_dirs) {
        for (int i = 0; i < o->n_pretrain_dirs; i++) fprintf(f, "%s%s", i ? ", " : "", o->pretrain_dirs[i]);
        fputs(!o->cv ? " (PTB-XL trees without folds 9 and 10)"
                     : o->cv_pretrain == EXP_CV_PER_FOLD ? " (per round; PTB-XL trees without its test and validation folds)"
                                                         : " (all records)",
              f);
    } else if (!o->cv) {
        fprintf(f, "the unlabelled ECGs of folds 1-8 of %s", o->data_dir);
    } else if (o->cv_pretrain == EXP_CV_PER_FOLD) {
        fprintf(f, "the unlabelled ECGs of each round's training folds (one encoder per round)");
    } else {
        fprintf(f, "all unlabelled ECGs of %s", o->data_dir);
    }
    fprintf(f, ". Supervised and fine-tune: %d epoch%s (more for small fractions: at least %d optimiser steps), batch "
               "%d, AdamW lr %g; fine-tuning trains all layers, the encoder at lr x %g. Linear probe: L2 logistic "
               "regression on the frozen encoder's embeddings, strength chosen on validation AUC.",
            o->epochs, o->epochs == 1 ? "" : "s", o->min_steps, o->batch, (double)o->lr, (double)o->encoder_lr_scale);
    if (!o->model_is_default) {
        const KresConfig *m = &o->model;
        fprintf(f, " Model: NOT the paper's default KRes (stem 64, widths 128-196-256-320, kernel 17) but stem %d, "
                   "widths ", m->stem_width);
        for (int u = 0; u < m->nunits; u++) fprintf(f, "%s%d", u ? "-" : "", m->widths[u]);
        fprintf(f, ", kernel %d, downsampling %d, dropout %g (%.2f M encoder parameters; config in results.json).",
                m->kernel, m->downsample, (double)m->dropout, kres_encoder_params(m) / 1e6);
    } else {
        fprintf(f, " Model: the default KRes (stem 64, widths 128-196-256-320, kernel 17).");
    }
    fprintf(f, " Convolution backend: %s, %d thread%s (the same seed, backend and threads reproduce every number).",
            nn_backend_name(nn_get_backend()), omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s");
    fprintf(f, "\n\nIntervals: the AUC's 95%% CI is DeLong's (logit scale); sensitivity, specificity, PPV and NPV use "
               "Wilson intervals in results.json. Spread over repeats is min-max; with one repeat the table shows the "
               "run's DeLong CI instead. Threshold: %s on the validation fold.",
            o->threshold_rule);
    if (h->n < 2000)
        fprintf(f, " Caution: %d ECGs with %d positives are far too few for firm conclusions: intervals are wide and "
                   "differences between pipelines are mostly within them.",
                h->n, h->npos);
    if (extra && *extra) fprintf(f, "\n\n%s", extra);
    if (!complete) fprintf(f, "\n\nINCOMPLETE: %d of %d runs finished; missing cells are n/a.", n_done, n_total);
    fclose(f);
    return buf;
}

/* One finished run's scores.csv as the report uses it: read once (on first use), for every
 * comparison the run is in and, at the largest fraction and repeat 1, its ROC curve. */
typedef struct {
    int loaded, ok;
    Scores s;
    char path[PATHN];
    char err[256]; /* kres_last_error() of a failed read */
} RunScores;

static const RunScores *run_scores(const Ctx *c, RunScores *rs, ExpPipeline p, double fraction, int repeat) {
    if (rs->loaded) return rs;
    char name[96];
    exp_run_name(name, sizeof name, p, fraction, repeat);
    rs->loaded = 1;
    rs->ok = pathf(rs->path, "%s/runs/%s/scores.csv", c->o->out_dir, name) == 0 && scores_read(rs->path, 0, &rs->s) == 0;
    if (!rs->ok) snprintf(rs->err, sizeof rs->err, "%s", kres_last_error());
    return rs;
}

static void run_scores_free(RunScores *rs, int n) {
    for (int i = 0; i < n; i++) scores_free(&rs[i].s);
    memset(rs, 0, (size_t)n * sizeof *rs);
}

/* The (downsampled) ROC curve of a run's scores. */
static int roc_of_run(const RunScores *rs, RocCurve *out) {
    if (!rs->ok) return -1;
    RocCurve full;
    memset(&full, 0, sizeof full);
    int rc = roc_curve(rs->s.score, rs->s.label, rs->s.n, &full) != 0 || roc_downsample(&full, 300, out) != 0 ? -1 : 0;
    roc_curve_free(&full);
    return rc;
}

/* ---- paired comparisons of the pipelines ----------------------------------------------- */

/* The pairs compared at every (fraction, repeat): a - b. */
#define EXP_NCOMPARE 3
static const ExpPipeline CMP_PAIR[EXP_NCOMPARE][2] = {
    {EXP_FINETUNE, EXP_SUPERVISED}, {EXP_PROBE, EXP_SUPERVISED}, {EXP_FINETUNE, EXP_PROBE}};

typedef struct {
    ExpPipeline a, b;
    double fraction;
    int repeat;
    AucCompare c;      /* auc_compare_init's NaNs (n == 0) when the two runs' scores could not be paired */
    char note[240];    /* why not paired, or c.note */
} Comparison;

typedef struct {
    int id, row;
} IdRow;

static int cmp_idrow(const void *x, const void *y) {
    const IdRow *a = x, *b = y;
    return (a->id > b->id) - (a->id < b->id);
}

/* Both runs' scores, matched record by record (by ecg_id: the same records in the same
 * order in practice, but nothing here relies on the order), then the paired DeLong test.
 * A pair that cannot be matched (other records, another label) is reported in `note` and
 * left out of the numbers rather than failing the whole report. */
static void compare_runs(const RunScores *ra, const RunScores *rb, ExpPipeline pa, ExpPipeline pb, double fraction,
                         int repeat, Comparison *out) {
    memset(out, 0, sizeof *out);
    auc_compare_init(&out->c); /* not compared: every number NaN (null, n/a) */
    out->a = pa, out->b = pb, out->fraction = fraction, out->repeat = repeat;
    if (!ra->ok || !rb->ok) {
        snprintf(out->note, sizeof out->note, "not compared: %.200s", !ra->ok ? ra->err : rb->err);
        return;
    }
    const Scores *sa = &ra->s, *sb = &rb->s;
    if (sa->n != sb->n) {
        snprintf(out->note, sizeof out->note, "not compared: %s scored %d ECGs, %s %d", exp_pipeline_label(pa), sa->n,
                 exp_pipeline_label(pb), sb->n);
        return;
    }
    /* B's rows sorted by ecg_id, looked up for each of A's rows; each B row used once */
    const int n = sa->n;
    IdRow *byid = xmalloc((size_t)n * sizeof *byid + 1);
    float *b_score = xmalloc((size_t)n * sizeof *b_score + 1); /* B's score of A's row i */
    unsigned char *used = xcalloc((size_t)n + 1, 1);
    for (int i = 0; i < n; i++) byid[i] = (IdRow){sb->ecg_id[i], i};
    qsort(byid, (size_t)n, sizeof *byid, cmp_idrow);
    for (int i = 0; i < n; i++) {
        IdRow key = {sa->ecg_id[i], 0}, *hit = bsearch(&key, byid, (size_t)n, sizeof *byid, cmp_idrow);
        int j = hit ? hit->row : -1;
        if (j < 0 || used[j] || sb->label[j] != sa->label[i]) {
            snprintf(out->note, sizeof out->note, "not compared: ecg_id %d is %s in %.150s", key.id,
                     j < 0 ? "missing" : used[j] ? "repeated" : "labelled differently", rb->path);
            goto done;
        }
        used[j] = 1;
        b_score[i] = sb->score[j];
    }
    if (auc_delong_paired(sa->score, b_score, sa->label, n, &out->c) != 0) {
        snprintf(out->note, sizeof out->note, "not compared: %.200s", kres_last_error());
        goto done;
    }
    snprintf(out->note, sizeof out->note, "%s", out->c.note);
done:
    free(byid), free(b_score), free(used);
}

/* "0.042", or "<0.001" (every digit is in results.json) */
static void fmt_p(char *b, size_t n, double p) {
    if (isnan(p)) snprintf(b, n, "n/a");
    else if (p < 0.001) snprintf(b, n, "<0.001");
    else snprintf(b, n, "%.3f", p);
}

static int write_reports(Ctx *c) {
    const ExperimentOptions *o = c->o;
    const int F = o->n_fractions, R = o->repeats, P = EXP_NPIPELINES;
    RunSlot *slots = xcalloc((size_t)P * F * R, sizeof *slots);
    Cell *cells = xcalloc((size_t)P * F, sizeof *cells);
    int n_done = 0, rc = -1;
    char path[PATHN], name[96];
    for (int p = 0; p < P; p++)
        for (int fi = 0; fi < F; fi++)
            for (int r = 0; r < R; r++) {
                exp_run_name(name, sizeof name, (ExpPipeline)p, o->fractions[fi], r + 1);
                if (pathf(path, "%s/runs/%s/result.json", o->out_dir, name) != 0) goto done;
                if (!file_exists(path)) continue;
                JsonValue *v = json_read_file(path);
                if (!v) goto done;
                slots[((size_t)p * F + fi) * R + r].v = v;
                n_done++;
            }
    for (int p = 0; p < P; p++)
        for (int fi = 0; fi < F; fi++) cell_compute(&slots[((size_t)p * F + fi) * R], R, &cells[p * F + fi]);
    const int n_total = P * F * R, complete = n_done == n_total;
    /* The three pipelines of one (fraction, repeat) must have trained on the same subset. */
    char extra[512] = "";
    int mismatched = 0;
    for (int fi = 0; fi < F; fi++)
        for (int r = 0; r < R; r++) {
            double n0 = NAN;
            for (int p = 0; p < P; p++) {
                const JsonValue *v = slots[((size_t)p * F + fi) * R + r].v;
                if (!v) continue;
                double n = jnum(v, "n_train");
                if (isnan(n0)) n0 = n;
                else if (n != n0) mismatched++;
            }
        }
    if (mismatched)
        snprintf(extra, sizeof extra, "WARNING: in %d (fraction, repeat) cells the pipelines trained on different numbers "
                 "of ECGs (see n_train in results.json): records unreadable for one pipeline but not another?", mismatched);
    char *notes = notes_text(c, complete, n_done, n_total, extra);
    /* Paired comparisons at every (fraction, repeat) whose two runs have both finished, from
     * the runs' scores.csv: a resumed or --report-only invocation gets them too. */
    Comparison *cmps = xcalloc((size_t)F * R * EXP_NCOMPARE + 1, sizeof *cmps);
    int n_cmp = 0;
    /* each run's scores read once per report; the first cell's are kept for the ROC curves */
    RunScores first[EXP_NPIPELINES], cur[EXP_NPIPELINES];
    memset(first, 0, sizeof first), memset(cur, 0, sizeof cur);
    for (int fi = 0; fi < F; fi++)
        for (int r = 0; r < R; r++) {
            RunScores *rs = fi == 0 && r == 0 ? first : cur;
            for (int k = 0; k < EXP_NCOMPARE; k++) {
                const ExpPipeline pa = CMP_PAIR[k][0], pb = CMP_PAIR[k][1];
                if (!slots[((size_t)pa * F + fi) * R + r].v || !slots[((size_t)pb * F + fi) * R + r].v) continue;
                const RunScores *ra = run_scores(c, &rs[pa], pa, o->fractions[fi], r + 1);
                const RunScores *rb = run_scores(c, &rs[pb], pb, o->fractions[fi], r + 1);
                compare_runs(ra, rb, pa, pb, o->fractions[fi], r + 1, &cmps[n_cmp++]);
            }
            if (rs == cur) run_scores_free(cur, P);
        }
    /* the report's rows; their common ECG count captions results.md's table and report.html's */
    ReportComparison *rcmp = xcalloc((size_t)n_cmp + 1, sizeof *rcmp);
    for (int i = 0; i < n_cmp; i++) {
        const Comparison *m = &cmps[i];
        rcmp[i] = (ReportComparison){.a = exp_pipeline_label(m->a), .b = exp_pipeline_label(m->b),
                                     .fraction = m->fraction, .repeat = m->repeat, .n = m->c.n,
                                     .auc_a = m->c.auc_a, .auc_b = m->c.auc_b, .diff = m->c.diff,
                                     .lo = m->c.lo, .hi = m->c.hi, .z = m->c.z, .p = m->c.p,
                                     .note = m->note[0] ? m->note : NULL};
    }
    const int cmp_n = report_comparisons_common_n(rcmp, n_cmp);
    const char *cmp_on = o->cv ? "pooled out-of-fold predictions over 10 folds" : "holdout fold 10";

    /* ---- results.json ---- */
    {
        JsonWriter w;
        jw_init(&w);
        jw_object_begin(&w);
        jw_key(&w, "kres_version"), jw_string(&w, KRES_VERSION);
        jw_key(&w, "preset"), jw_string(&w, o->preset ? o->preset : "custom");
        jw_key(&w, "settings");
        write_settings(&w, o);
        jw_key(&w, "fractions");
        jw_array_begin(&w);
        for (int fi = 0; fi < F; fi++) jw_number(&w, o->fractions[fi]);
        jw_array_end(&w);
        jw_key(&w, "repeats"), jw_int(&w, R);
        jw_key(&w, "cohort");
        jw_object_begin(&w);
        jw_key(&w, "n"), jw_int(&w, c->coh.n);
        jw_key(&w, "positives"), jw_int(&w, c->coh.npos);
        jw_key(&w, "negatives"), jw_int(&w, c->coh.nneg);
        jw_object_end(&w);
        jw_key(&w, "pretrain");
        jw_array_begin(&w);
        for (int k = 0; k < c->n_encoders; k++) {
            char dp[PATHN];
            const char *slash = strrchr(c->encoder[k], '/');
            snprintf(dp, sizeof dp, "%.*s/done.json", (int)(slash ? slash - c->encoder[k] : 0), c->encoder[k]);
            JsonValue *v = file_exists(dp) ? json_read_file(dp) : NULL;
            if (v) jw_value(&w, v);
            else jw_null(&w);
            json_free(v);
        }
        jw_array_end(&w);
        jw_key(&w, "complete"), jw_bool(&w, complete);
        jw_key(&w, "runs_done"), jw_int(&w, n_done);
        jw_key(&w, "runs_total"), jw_int(&w, n_total);
        jw_key(&w, "summary");
        jw_array_begin(&w);
        for (int p = 0; p < P; p++)
            for (int fi = 0; fi < F; fi++) {
                const Cell *cl = &cells[p * F + fi];
                jw_object_begin(&w);
                jw_key(&w, "pipeline"), jw_string(&w, exp_pipeline_id((ExpPipeline)p));
                jw_key(&w, "fraction"), jw_number(&w, o->fractions[fi]);
                jw_key(&w, "repeats_done"), jw_int(&w, cl->n);
                jw_key(&w, "auc_mean"), jw_number(&w, cl->auc_mean);
                jw_key(&w, "auc_sd"), jw_number(&w, cl->auc_sd);
                jw_key(&w, "auc_min"), jw_number(&w, cl->auc_min);
                jw_key(&w, "auc_max"), jw_number(&w, cl->auc_max);
                jw_key(&w, "sensitivity_mean"), jw_number(&w, cl->sens);
                jw_key(&w, "specificity_mean"), jw_number(&w, cl->spec);
                jw_key(&w, "ppv_mean"), jw_number(&w, cl->ppv);
                jw_key(&w, "npv_mean"), jw_number(&w, cl->npv);
                jw_object_end(&w);
            }
        jw_array_end(&w);
        jw_key(&w, "comparisons_method");
        jw_string(&w, "paired DeLong test (DeLong, DeLong & Clarke-Pearson 1988) of AUC(a) = AUC(b) on the same ECGs, "
                      "two-sided; diff = AUC(a) - AUC(b) with its 95% Wald CI; p not adjusted for multiple comparisons");
        jw_key(&w, "comparisons");
        jw_array_begin(&w);
        for (int i = 0; i < n_cmp; i++) {
            const Comparison *m = &cmps[i]; /* not compared: every number null, the note says why */
            jw_object_begin(&w);
            jw_key(&w, "a"), jw_string(&w, exp_pipeline_id(m->a));
            jw_key(&w, "b"), jw_string(&w, exp_pipeline_id(m->b));
            jw_key(&w, "fraction"), jw_number(&w, m->fraction);
            jw_key(&w, "repeat"), jw_int(&w, m->repeat);
            jw_key(&w, "n"), jw_int(&w, m->c.n);
            jw_key(&w, "n_pos"), jw_int(&w, m->c.npos);
            const char *keys[] = {"auc_a", "auc_b", "diff", "lo", "hi", "se", "z", "p", "corr"};
            const double vals[] = {m->c.auc_a, m->c.auc_b, m->c.diff, m->c.lo, m->c.hi,
                                   m->c.se, m->c.z, m->c.p, m->c.corr};
            for (int k = 0; k < (int)(sizeof keys / sizeof *keys); k++) jw_key(&w, keys[k]), jw_number(&w, vals[k]);
            jw_key(&w, "note");
            if (m->note[0]) jw_string(&w, m->note);
            else jw_null(&w);
            jw_object_end(&w);
        }
        jw_array_end(&w);
        jw_key(&w, "runs");
        jw_array_begin(&w);
        for (int r = 0; r < R; r++)
            for (int fi = 0; fi < F; fi++)
                for (int p = 0; p < P; p++) {
                    const JsonValue *v = slots[((size_t)p * F + fi) * R + r].v;
                    if (v) jw_value(&w, v);
                }
        jw_array_end(&w);
        jw_key(&w, "notes"), jw_string(&w, notes);
        jw_object_end(&w);
        int e = pathf(path, "%s/results.json", o->out_dir) || json_write_file(path, &w);
        jw_free(&w);
        if (e) goto done_notes;
    }

    /* ---- results.md ---- */
    {
        char *md = NULL;
        size_t mdlen = 0;
        FILE *f = open_memstream(&md, &mdlen);
        KRES_ASSERT(f);
        char a[32], b[32], cc[32], pct[32];
        fprintf(f, "# kres experiment: %s, label efficiency\n\n", c->task.name);
        fprintf(f, "Preset `%s`; %s; %d repeat%s. Run directory `%s`.%s\n\n", o->preset ? o->preset : "custom",
                o->cv ? "pooled 10-fold cross-validation" : "holdout fold 10", R, R == 1 ? "" : "s", o->out_dir,
                complete ? "" : " **Incomplete.**");
        fprintf(f, "## ROC AUC on the %s\n\n", o->cv ? "pooled out-of-fold predictions" : "holdout fold");
        fprintf(f, "%s\n\n", R > 1 ? "Mean over repeats (min-max)." : "One repeat: AUC (DeLong 95% CI).");
        md_fraction_header(f, o->fractions, F);
        for (int p = 0; p < P; p++) {
            fprintf(f, "| %s |", exp_pipeline_label((ExpPipeline)p));
            for (int fi = 0; fi < F; fi++) {
                const Cell *cl = &cells[p * F + fi];
                double lo, hi;
                cell_spread(cl, R, &lo, &hi);
                fmt3(a, sizeof a, cl->auc_mean), fmt3(b, sizeof b, lo), fmt3(cc, sizeof cc, hi);
                if (cl->n == 0) fprintf(f, " n/a |");
                else fprintf(f, " %s (%s-%s) |", a, b, cc);
            }
            fprintf(f, "\n");
        }
        fprintf(f, "\n## Sensitivity / specificity at the validation-chosen threshold (mean over repeats)\n\n");
        md_fraction_header(f, o->fractions, F);
        for (int p = 0; p < P; p++) {
            fprintf(f, "| %s |", exp_pipeline_label((ExpPipeline)p));
            for (int fi = 0; fi < F; fi++) {
                const Cell *cl = &cells[p * F + fi];
                fmt2(a, sizeof a, cl->sens), fmt2(b, sizeof b, cl->spec);
                if (cl->n == 0) fprintf(f, " n/a |");
                else fprintf(f, " %s / %s |", a, b);
            }
            fprintf(f, "\n");
        }
        if (n_cmp > 0) {
            fprintf(f, "\n## Paired comparisons of the AUCs\n\n");
            if (cmp_n > 0) fprintf(f, "Paired DeLong test on the same %d ECGs (%s), ", cmp_n, cmp_on);
            else fprintf(f, "Paired DeLong test on the same ECGs within each comparison (%s; n in results.json), ", cmp_on);
            fprintf(f, "two-sided. Difference = AUC of the first pipeline minus the second, with its 95%% CI. The "
                       "p-values are not adjusted for multiple comparisons (%d per label fraction and repeat).\n\n",
                    EXP_NCOMPARE);
            fprintf(f, "| comparison | labels |%s AUC (first) | AUC (second) | difference (95%% CI) | z | p |\n",
                    R > 1 ? " repeat |" : "");
            fprintf(f, "| --- | --- |%s --- | --- | --- | --- | --- |\n", R > 1 ? " --- |" : "");
            for (int i = 0; i < n_cmp; i++) {
                const Comparison *m = &cmps[i];
                char dci[96], z[32], pv[32], rep[16] = "";
                fmt_pct(pct, sizeof pct, m->fraction);
                if (R > 1) snprintf(rep, sizeof rep, " %d |", m->repeat);
                fmt3(a, sizeof a, m->c.auc_a), fmt3(b, sizeof b, m->c.auc_b);
                if (isnan(m->c.diff)) snprintf(dci, sizeof dci, "n/a");
                else if (isnan(m->c.lo)) snprintf(dci, sizeof dci, "%+.3f (n/a)", m->c.diff);
                else snprintf(dci, sizeof dci, "%+.3f (%+.3f to %+.3f)", m->c.diff, m->c.lo, m->c.hi);
                fmt2(z, sizeof z, m->c.z);
                fmt_p(pv, sizeof pv, m->c.p);
                fprintf(f, "| %s vs %s | %s |%s %s | %s | %s | %s | %s |\n", exp_pipeline_label(m->a),
                        exp_pipeline_label(m->b), pct, rep, a, b, dci, z, pv);
            }
            for (int i = 0; i < n_cmp; i++) {
                const Comparison *m = &cmps[i];
                if (!m->note[0]) continue;
                fmt_pct(pct, sizeof pct, m->fraction);
                fprintf(f, "%s%s vs %s at %s labels, repeat %d: %s\n", i ? "" : "\n", exp_pipeline_label(m->a),
                        exp_pipeline_label(m->b), pct, m->repeat, m->note);
            }
        }
        fprintf(f, "\n## Every run\n\n");
        fprintf(f, "| run | n_train (pos/neg) | AUC [95%% CI] | sensitivity [CI] | specificity [CI] | PPV | NPV | "
                   "threshold | wall time |\n");
        fprintf(f, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (int r = 0; r < R; r++)
            for (int fi = 0; fi < F; fi++)
                for (int p = 0; p < P; p++) {
                    const JsonValue *v = slots[((size_t)p * F + fi) * R + r].v;
                    if (!v) continue;
                    double ntr = jnum(v, "n_train"), npos = jnum(v, "n_train_pos");
                    char d[32], thr[32];
                    format_duration(jnum(v, "seconds"), d, sizeof d);
                    double t = jnum(v, "threshold");
                    if (isnan(t)) snprintf(thr, sizeof thr, "per round");
                    else snprintf(thr, sizeof thr, "%.3g", t);
                    fprintf(f, "| %s | %g (%g/%g) | %.3f [%.3f, %.3f] | %.2f [%.2f, %.2f] | %.2f [%.2f, %.2f] | "
                               "%.2f | %.2f | %s | %s |\n",
                            json_str(json_get(v, "run"), "?"), ntr, npos, ntr - npos, jnum(v, "auc"),
                            jnum(v, "auc_lo"), jnum(v, "auc_hi"), prop_value(v, "sensitivity"),
                            jnum(json_get(v, "sensitivity"), "lo"), jnum(json_get(v, "sensitivity"), "hi"),
                            prop_value(v, "specificity"), jnum(json_get(v, "specificity"), "lo"),
                            jnum(json_get(v, "specificity"), "hi"), prop_value(v, "ppv"), prop_value(v, "npv"), thr,
                            d);
                }
        fprintf(f, "\n## Notes\n\n%s\n", notes);
        fclose(f);
        int e = pathf(path, "%s/results.md", o->out_dir) || write_file_atomic(path, md, mdlen);
        free(md);
        if (e) goto done_notes;
    }

    /* ---- report.html ---- */
    {
        ReportRow *rows = xcalloc((size_t)P * F, sizeof *rows);
        ReportSeries series[EXP_NPIPELINES];
        ReportRoc rocs[EXP_NPIPELINES];
        RocCurve curves[EXP_NPIPELINES];
        double *sx = xcalloc((size_t)P * F * 4, sizeof(double));
        memset(curves, 0, sizeof curves);
        int nrows = 0, nrocs = 0;
        for (int p = 0; p < P; p++) {
            double *fx = sx + (size_t)p * F * 4, *fm = fx + F, *flo = fm + F, *fhi = flo + F;
            int ns = 0;
            /* series ascending in fraction; the fractions array is descending */
            for (int fi = F - 1; fi >= 0; fi--) {
                const Cell *cl = &cells[p * F + fi];
                if (cl->n == 0) continue;
                double lo, hi;
                cell_spread(cl, R, &lo, &hi);
                fx[ns] = o->fractions[fi], fm[ns] = cl->auc_mean, flo[ns] = lo, fhi[ns] = hi;
                ns++;
            }
            series[p] = (ReportSeries){.label = exp_pipeline_label((ExpPipeline)p), .n = ns, .fraction = fx,
                                       .auc_mean = fm, .auc_lo = flo, .auc_hi = fhi};
            for (int fi = 0; fi < F; fi++) {
                const Cell *cl = &cells[p * F + fi];
                double lo, hi;
                cell_spread(cl, R, &lo, &hi);
                rows[nrows++] = (ReportRow){.pipeline = exp_pipeline_label((ExpPipeline)p), .fraction = o->fractions[fi],
                                            .n_repeats = cl->n, .auc_mean = cl->auc_mean, .auc_spread_lo = lo,
                                            .auc_spread_hi = hi, .sens = cl->sens, .spec = cl->spec, .ppv = cl->ppv,
                                            .npv = cl->npv};
            }
            /* ROC at the largest fraction, repeat 1 */
            const JsonValue *v = slots[((size_t)p * F + 0) * R + 0].v;
            if (v && roc_of_run(run_scores(c, &first[p], (ExpPipeline)p, o->fractions[0], 1), &curves[p]) == 0) {
                rocs[nrocs++] = (ReportRoc){.label = exp_pipeline_label((ExpPipeline)p), .n = curves[p].n,
                                            .fpr = curves[p].fpr, .tpr = curves[p].tpr, .auc = jnum(v, "auc"),
                                            .auc_lo = jnum(v, "auc_lo"), .auc_hi = jnum(v, "auc_hi")};
            }
        }
        char title[400], subtitle[400], spread[96], interval[160], roc_cap[160], footer[600];
        if (strcmp(c->task.name, "heart-block") == 0)
            snprintf(title, sizeof title, "Heart block on PTB-XL: supervised vs fine-tuned vs linear probe");
        else
            snprintf(title, sizeof title, "Task %s on PTB-XL: supervised vs fine-tuned vs linear probe", c->task.name);
        snprintf(subtitle, sizeof subtitle, "%s; %d ECGs (%d positive); %d label fraction%s x %d repeat%s; preset %s%s",
                 o->cv ? "pooled 10-fold cross-validation" : "holdout fold 10", c->coh.n, c->coh.npos, F,
                 F == 1 ? "" : "s", R, R == 1 ? "" : "s", o->preset ? o->preset : "custom",
                 complete ? "" : " (INCOMPLETE)");
        if (R > 1) {
            snprintf(spread, sizeof spread, "min-max over %d repeats", R);
            snprintf(interval, sizeof interval, "bars: min-max of the AUC over %d repeats", R);
        } else {
            snprintf(spread, sizeof spread, "95%% CI (DeLong)");
            snprintf(interval, sizeof interval, "bars: 95%% DeLong CI of the single repeat");
        }
        char fpct[32];
        fmt_pct(fpct, sizeof fpct, o->fractions[0]);
        snprintf(roc_cap, sizeof roc_cap, "ROC curves at %s labels (repeat 1, %s)", fpct,
                 o->cv ? "pooled out-of-fold" : "holdout fold 10");
        snprintf(footer, sizeof footer, "kres %s; run directory %s; every run's model, scores and log are under runs/; "
                 "numbers in results.json.", KRES_VERSION, o->out_dir);
        ReportData d = {.title = title, .subtitle = subtitle, .notes = notes, .spread_label = spread,
                        .interval_label = interval, .rows = rows, .n_rows = nrows, .rocs = rocs, .n_rocs = nrocs,
                        .roc_caption = roc_cap, .series = series, .n_series = P, .log_x = 1, .footer = footer,
                        /* the captions say what the AUCs are on (holdout or pooled out-of-fold) */
                        .cv_folds = o->cv ? PTBXL_NFOLDS : 0, .comparisons = rcmp, .n_comparisons = n_cmp};
        int e = pathf(path, "%s/report.html", o->out_dir) || report_write_html(path, &d);
        for (int p = 0; p < P; p++) roc_curve_free(&curves[p]);
        free(rows);
        free(sx);
        if (e) goto done_notes;
    }
    rc = 0;
    msg(c, "wrote %s/results.json, results.md and report.html (%d of %d runs%s)", o->out_dir, n_done, n_total,
        complete ? "" : "; INCOMPLETE");
done_notes:
    run_scores_free(first, P);
    free(rcmp);
    free(cmps);
    free(notes);
done:
    for (int i = 0; i < P * F * R; i++) json_free(slots[i].v);
    free(slots);
    free(cells);
    return rc;
}

/* ---- options and the whole run ------------------------------------------------------- */

void experiment_options_default(ExperimentOptions *o) {
    memset(o, 0, sizeof *o);
    o->task = "heart-block";
    o->cv_pretrain = EXP_CV_TRANSDUCTIVE;
    o->seed = 1;
    o->encoder_lr_scale = FINETUNE_ENCODER_LR_SCALE;
    o->lr = 1e-3f;
    o->threshold_rule = "youden";
    o->temperature = 0.1;
    o->pretrain_lr = 1e-3;
    kres_config_default(&o->model);
    o->model_is_default = 1;
    preproc_default(&o->preproc);
    experiment_apply_preset(o, "demo");
}

int experiment_apply_preset(ExperimentOptions *o, const char *name) {
    if (strcmp(name, "demo") == 0) {
        static const double fr[] = {1, 0.5, 0.25, 0.1};
        o->n_fractions = 4;
        memcpy(o->fractions, fr, sizeof fr);
        o->repeats = 1;
        o->epochs = 8, o->min_steps = 40, o->batch = 32;
        o->pretrain_epochs = 8, o->pretrain_batch = 32;
        o->preset = "demo";
    } else if (strcmp(name, "paper") == 0) {
        static const double fr[] = {1, 0.5, 0.25, 0.1, 0.05};
        o->n_fractions = 5;
        memcpy(o->fractions, fr, sizeof fr);
        o->repeats = 5;
        o->epochs = 30, o->min_steps = 300, o->batch = 64;
        o->pretrain_epochs = 50, o->pretrain_batch = 128;
        o->preset = "paper";
    } else {
        return kres_fail(NULL, "unknown preset '%s' (demo or paper)", name);
    }
    return 0;
}

int experiment_run(const ExperimentOptions *o) {
    if (!o->data_dir || !o->out_dir) return kres_fail("experiment", "data and output directories are required");
    if (o->n_fractions < 1 || o->repeats < 1 || o->repeats > EXP_MAX_REPEATS)
        return kres_fail("experiment", "need at least one label fraction and 1..%d repeats", EXP_MAX_REPEATS);
    Ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.t_start = now_seconds();
    int rc = -1;
    if (o->threads > 0) omp_set_num_threads(o->threads);
    /* The cohort first: a wrong data directory fails before anything is written. */
    if (ptbxl_open(o->data_dir, &c.db) != 0) goto done;
    c.db_open = 1;
    if (task_parse(o->task, &c.db, &c.task) != 0) goto done;
    /* Exactly probe_run's cohort: cohort_embeddings are indexed by its positions. */
    CohortOptions co = cohort_options_default();
    co.check_files = 2;
    if (cohort_build(&c.db, &c.task, co, &c.coh) != 0) goto done;
    c.coh_built = 1;
    if (mkdir_p(o->out_dir) != 0 || settings_check(&c) != 0) goto done;
    char path[PATHN];
    if (pathf(path, "%s/experiment.log.jsonl", o->out_dir) != 0) goto done;
    if (!(c.log = fopen(path, "a"))) {
        kres_fail(path, "cannot open for appending: %s", strerror(errno));
        goto done;
    }
    c.n_runs = EXP_NPIPELINES * o->n_fractions * o->repeats;
    {
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "runs"), jw_int(&f, c.n_runs);
        jw_key(&f, "threads"), jw_int(&f, omp_get_max_threads());
        jw_key(&f, "report_only"), jw_bool(&f, o->report_only);
        jw_key(&f, "settings");
        write_settings(&f, o);
        jw_object_end(&f);
        log_event(&c, "start", &f);
        jw_free(&f);
    }
    msg(&c, "%s: %s, %d ECGs (%d positive); 3 pipelines x %d fraction%s x %d repeat%s = %d runs; %d thread%s",
        o->out_dir, o->cv ? "pooled 10-fold CV" : "holdout fold 10", c.coh.n, c.coh.npos, o->n_fractions,
        o->n_fractions == 1 ? "" : "s", o->repeats, o->repeats == 1 ? "" : "s", c.n_runs, omp_get_max_threads(),
        omp_get_max_threads() == 1 ? "" : "s");
    if (o->cv && o->cv_pretrain == EXP_CV_TRANSDUCTIVE && !o->n_pretrain_dirs)
        msg(&c, "note: --cv pretrains once on ALL records, test folds included, without labels (transductive); "
                "--cv-pretrain per-fold avoids it");
    if (pretrain_all(&c) != 0) goto done;
    for (int r = 1; r <= o->repeats; r++)
        for (int fi = 0; fi < o->n_fractions; fi++)
            for (int p = 0; p < EXP_NPIPELINES; p++) c.cost_total += run_cost(&c, (ExpPipeline)p, o->fractions[fi], r);
    /* Repeat-major, largest fraction first: an interrupted experiment already has a
     * complete first row of the table. */
    for (int r = 1; r <= o->repeats; r++)
        for (int fi = 0; fi < o->n_fractions; fi++)
            for (int p = 0; p < EXP_NPIPELINES; p++)
                if (run_one(&c, (ExpPipeline)p, o->fractions[fi], r) != 0) goto done;
    if (write_reports(&c) != 0) goto done;
    {
        char d[32];
        format_duration(now_seconds() - c.t_start, d, sizeof d);
        msg(&c, "finished in %s", d);
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "seconds"), jw_number(&f, now_seconds() - c.t_start);
        jw_key(&f, "pretrain_seconds"), jw_number(&f, c.pretrain_seconds);
        jw_object_end(&f);
        log_event(&c, "end", &f);
        jw_free(&f);
    }
    rc = 0;
done:
    if (rc != 0 && c.log) {
        JsonWriter f;
        jw_init(&f), jw_object_begin(&f);
        jw_key(&f, "error"), jw_string(&f, kres_last_error());
        jw_object_end(&f);
        log_event(&c, "error", &f);
        jw_free(&f);
    }
    ctx_free(&c);
    return rc;
}
