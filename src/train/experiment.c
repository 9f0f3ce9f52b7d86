/* experiment.c — `kres experiment`: pretraining, three pipelines x label fractions x
 * repeats, evaluation on one holdout (or pooled 10-fold CV), results.json/.md and
 * report.html (see experiment.h and docs/experiment.md).
 *
 * Units of work and their done markers (each written atomically, after its outputs):
 *   pretraining        pretrain[/fold-K]/encoder.safetensors ... done.json
 *   holdout run        runs/<name>/{model.safetensors, train.log.jsonl, scores.csv} result.json
 *   cv round           runs/<name>/fold-K/{model..., scores.csv} fold.json
 *   cv run             runs/<name>/scores.csv (pooled) result.json
 * Everything in results.* is rebuilt from those files (experiment_report.c), so a resumed
 * experiment reports the runs of earlier invocations exactly as if they had run now; that
 * includes the paired comparisons, which are computed from the runs' scores.csv. */
#include "train/experiment.h"
#include "train/experiment_internal.h"

#include <errno.h>
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
#include "nn/conv1d.h"
#include "train/finetune.h"
#include "train/probe.h"
#include "train/progress.h"
#include "train/trainer.h"

#define PATHN EXP_PATHN

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
int exp_pathf(char *buf, const char *fmt, ...) {
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

int exp_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Parse a whole JSON file; NULL with kres_fail naming it. */
JsonValue *exp_json_read(const char *path) {
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
int exp_json_write(const char *path, const JsonWriter *w) {
    char *txt = xmalloc(w->len + 2);
    memcpy(txt, w->buf, w->len);
    txt[w->len] = '\n';
    int rc = write_file_atomic(path, txt, w->len + 1);
    free(txt);
    return rc;
}

double exp_jnum(const JsonValue *obj, const char *key) {
    return json_num(json_get(obj, key), NAN); /* null (NaN written by jw_number) is NaN too */
}

/* Shortest decimal of a float (0.1, not 0.10000000149011612) for the settings record. */
static double float_dec(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return strtod(buf, NULL);
}


/* ---- scores files: "ecg_id,fold,label,score" ------------------------------------------ */

void exp_scores_free(Scores *s) {
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
int exp_scores_read(const char *path, float thr, Scores *s) {
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

void exp_write_settings(JsonWriter *w, const ExperimentOptions *o) {
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
    if (exp_pathf(path, "%s/experiment.json", o->out_dir) != 0) return -1;
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "kres_experiment"), jw_int(&w, 1);
    jw_key(&w, "preset"), jw_string(&w, o->preset ? o->preset : "custom");
    jw_key(&w, "settings");
    exp_write_settings(&w, o);
    jw_object_end(&w);
    int rc = -1;
    if (!exp_file_exists(path)) {
        if (o->report_only) {
            jw_free(&w);
            return kres_fail(path, "no experiment here to report on (run it first)");
        }
        rc = exp_json_write(path, &w);
        jw_free(&w);
        return rc;
    }
    char err[128];
    JsonValue *now = json_parse(w.buf, w.len, err, sizeof err);
    KRES_ASSERT(now);
    JsonValue *old = exp_json_read(path);
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
    if (exp_pathf(enc, "%s/encoder.safetensors", dir) || exp_pathf(done, "%s/done.json", dir) ||
        exp_pathf(logp, "%s/pretrain.log.jsonl", dir))
        return -1;
    if (exp_file_exists(done) && exp_file_exists(enc)) {
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
    p.resume = exp_file_exists(state);
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
    rc = exp_json_write(done, &w);
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
        if (exp_pathf(dir, "%s/pretrain", o->out_dir) || exp_pathf(c->encoder[0], "%s/encoder.safetensors", dir)) return -1;
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
        if (exp_pathf(dir, "%s/pretrain/fold-%d", o->out_dir, k) ||
            exp_pathf(c->encoder[k - 1], "%s/encoder.safetensors", dir))
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
    u->test_fold = (int)exp_jnum(v, "test_fold"), u->val_fold = (int)exp_jnum(v, "val_fold");
    u->ntrain = (int)exp_jnum(v, "n_train"), u->ntrain_pos = (int)exp_jnum(v, "n_train_pos");
    u->nval = (int)exp_jnum(v, "n_val"), u->nval_pos = (int)exp_jnum(v, "n_val_pos");
    u->ntest = (int)exp_jnum(v, "n_test"), u->ntest_pos = (int)exp_jnum(v, "n_test_pos");
    double e = exp_jnum(v, "epochs"), b = exp_jnum(v, "best_epoch");
    u->epochs = isnan(e) ? 0 : (int)e, u->best_epoch = isnan(b) ? 0 : (int)b;
    u->lambda = exp_jnum(v, "lambda");
    u->val_auc = exp_jnum(v, "val_auc"), u->threshold = exp_jnum(v, "threshold");
    u->train_seconds = exp_jnum(v, "train_seconds"), u->seconds = exp_jnum(v, "seconds");
    u->train_sps = exp_jnum(v, "train_samples_per_s");
}

/* Train and score one pipeline on (test_fold, val_fold) into dir. */
static int unit_train(Ctx *c, ExpPipeline p, double fraction, int repeat, int test_fold, int val_fold, const char *dir,
                      Unit *u) {
    const ExperimentOptions *o = c->o;
    memset(u, 0, sizeof *u);
    u->test_fold = test_fold, u->val_fold = val_fold, u->lambda = NAN;
    uint64_t rseed = o->seed + (uint64_t)(repeat - 1);
    char model[PATHN], logp[PATHN];
    if (mkdir_p(dir) != 0 || exp_pathf(model, "%s/model.safetensors", dir) || exp_pathf(logp, "%s/train.log.jsonl", dir))
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

/* Which run: pipeline, label fraction and repeat, with its name and paths. */
typedef struct {
    ExpPipeline p;
    double fraction;
    int repeat;
    char name[96], dir[PATHN], result[PATHN], scores[PATHN];
} RunId;

/* 1 if the run's result.json says it finished (then skipped and logged), else 0. */
static int run_done_earlier(Ctx *c, const RunId *id, double cost) {
    if (!exp_file_exists(id->result)) return 0;
    JsonValue *v = exp_json_read(id->result);
    int ok = v && json_get(v, "auc") && strcmp(json_str(json_get(v, "pipeline"), ""), exp_pipeline_id(id->p)) == 0;
    json_free(v);
    if (!ok) {
        msg(c, "[%d/%d] %s: unreadable result.json, running it again", c->run_index, c->n_runs, id->name);
        return 0;
    }
    msg(c, "[%d/%d] %s: done earlier, skip", c->run_index, c->n_runs, id->name);
    JsonWriter f;
    jw_init(&f), jw_object_begin(&f);
    jw_key(&f, "run"), jw_string(&f, id->name);
    jw_object_end(&f);
    log_event(c, "run_skip", &f);
    jw_free(&f);
    c->cost_total -= cost;
    return 1;
}

/* The progress line (with an ETA from the runs so far, or from pretraining's speed) and
 * the log's run_start event. */
static void announce_run(Ctx *c, const RunId *id) {
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
    msg(c, "[%d/%d] %s: %s, label fraction %g, repeat %d%s", c->run_index, c->n_runs, id->name,
        exp_pipeline_label(id->p), id->fraction, id->repeat, eta);
    JsonWriter f;
    jw_init(&f), jw_object_begin(&f);
    jw_key(&f, "run"), jw_string(&f, id->name);
    jw_key(&f, "index"), jw_int(&f, c->run_index);
    jw_key(&f, "of"), jw_int(&f, c->n_runs);
    jw_object_end(&f);
    log_event(c, "run_start", &f);
    jw_free(&f);
}

/* Every round of the run (one on the holdout, ten with --cv): trained now or, for a CV
 * round whose fold.json exists, read back; every round's test scores pooled into *all. */
static int run_rounds(Ctx *c, const RunId *id, int rounds, Unit *units, Scores *all) {
    const ExperimentOptions *o = c->o;
    for (int k = 1; k <= rounds; k++) {
        Unit *u = &units[k - 1];
        int tf = 10, vf = 9;
        if (o->cv) kfold_folds(k, &tf, &vf);
        char udir[PATHN], marker[PATHN], uscores[PATHN];
        if (o->cv) {
            if (exp_pathf(udir, "%s/fold-%d", id->dir, k)) return -1;
        } else {
            snprintf(udir, sizeof udir, "%s", id->dir);
        }
        if (exp_pathf(marker, "%s/fold.json", udir) || exp_pathf(uscores, "%s/scores.csv", udir)) return -1;
        if (o->cv && exp_file_exists(marker)) {
            JsonValue *v = exp_json_read(marker);
            if (!v) return -1;
            unit_from_json(v, u);
            json_free(v);
            if (exp_scores_read(uscores, (float)u->threshold, &u->s) != 0) return -1;
            msg(c, "    round %d/10: done earlier, skip", k);
        } else {
            if (unit_train(c, id->p, id->fraction, id->repeat, tf, vf, udir, u) != 0) return -1;
            if (o->cv) {
                JsonWriter w;
                jw_init(&w);
                jw_object_begin(&w);
                unit_json(&w, u, id->p);
                jw_object_end(&w);
                int e = scores_write(uscores, &u->s) || exp_json_write(marker, &w);
                jw_free(&w);
                if (e) return -1;
                double fa = NAN;
                if (u->ntest_pos > 0 && u->ntest_pos < u->ntest) roc_auc(u->s.score, u->s.label, u->s.n, &fa);
                char d[32];
                format_duration(u->seconds, d, sizeof d);
                msg(c, "    round %d/10: test fold %d (%d ECGs, %d positive): AUC %.3f, %s", k, tf, u->ntest,
                    u->ntest_pos, fa, d);
            }
        }
        for (int i = 0; i < u->s.n; i++)
            scores_push(all, u->s.ecg_id[i], u->s.fold[i], u->s.label[i], u->s.score[i], u->s.thr[i]);
    }
    return 0;
}

/* result.json, the run's done marker (written last, atomically), and the log's run_end;
 * mean[0], mean[1]: training ECGs and positives, averaged over the rounds. */
static int write_run_result(Ctx *c, const RunId *id, const Unit *units, int rounds, const EvalResult *res,
                            double secs, double mean[4]) {
    const ExperimentOptions *o = c->o;
    const ExpPipeline p = id->p;
    double train_secs = 0, sps = 0;
    for (int k = 0; k < 4; k++) mean[k] = 0;
    for (int k = 0; k < rounds; k++) {
        const Unit *u = &units[k];
        train_secs += u->train_seconds, sps += u->train_sps / rounds;
        mean[0] += (double)u->ntrain / rounds, mean[1] += (double)u->ntrain_pos / rounds;
        mean[2] += (double)u->nval / rounds, mean[3] += (double)u->nval_pos / rounds;
    }
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "run"), jw_string(&w, id->name);
    jw_key(&w, "pipeline"), jw_string(&w, exp_pipeline_id(p));
    jw_key(&w, "fraction"), jw_number(&w, id->fraction);
    jw_key(&w, "repeat"), jw_int(&w, id->repeat);
    jw_key(&w, "seed"), jw_int(&w, (long long)(o->seed + (uint64_t)(id->repeat - 1)));
    jw_key(&w, "subset_seed"), jw_int(&w, (long long)(o->seed + (uint64_t)(id->repeat - 1)));
    jw_key(&w, "evaluation"), jw_string(&w, o->cv ? "pooled out-of-fold, 10 rounds" : "holdout fold 10");
    jw_key(&w, "n_train"), jw_number(&w, mean[0]);
    jw_key(&w, "n_train_pos"), jw_number(&w, mean[1]);
    jw_key(&w, "n_train_neg"), jw_number(&w, mean[0] - mean[1]);
    jw_key(&w, "n_val"), jw_number(&w, mean[2]);
    jw_key(&w, "n_val_pos"), jw_number(&w, mean[3]);
    jw_key(&w, "n_test"), jw_int(&w, res->n);
    jw_key(&w, "n_test_pos"), jw_int(&w, res->npos);
    jw_key(&w, "auc"), jw_number(&w, res->auc);
    jw_key(&w, "auc_lo"), jw_number(&w, res->auc_lo);
    jw_key(&w, "auc_hi"), jw_number(&w, res->auc_hi);
    jw_key(&w, "auc_ci_method"), jw_string(&w, res->ci_method);
    eval_write_prop_json(&w, "sensitivity", res->sens);
    eval_write_prop_json(&w, "specificity", res->spec);
    eval_write_prop_json(&w, "ppv", res->ppv);
    eval_write_prop_json(&w, "npv", res->npv);
    jw_key(&w, "threshold"), jw_number(&w, res->threshold);
    jw_key(&w, "threshold_rule"), jw_string(&w, res->threshold_rule);
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
    jw_key(&w, "dir"), jw_string(&w, id->dir);
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
    eval_write_json(&w, res);
    jw_object_end(&w);
    int e = exp_json_write(id->result, &w);
    if (e == 0) log_event(c, "run_end", &w);
    jw_free(&w);
    return e;
}

static int run_one(Ctx *c, ExpPipeline p, double fraction, int repeat) {
    const ExperimentOptions *o = c->o;
    RunId id = {.p = p, .fraction = fraction, .repeat = repeat};
    exp_run_name(id.name, sizeof id.name, p, fraction, repeat);
    if (exp_pathf(id.dir, "%s/runs/%s", o->out_dir, id.name) || exp_pathf(id.result, "%s/result.json", id.dir) ||
        exp_pathf(id.scores, "%s/scores.csv", id.dir))
        return -1;
    c->run_index++;
    const double cost = run_cost(c, p, fraction, repeat);
    if (run_done_earlier(c, &id, cost) || o->report_only) return 0;
    announce_run(c, &id);

    const double t0 = now_seconds();
    Scores all;
    memset(&all, 0, sizeof all);
    const int rounds = o->cv ? PTBXL_NFOLDS : 1;
    int rc = -1;
    Unit units[PTBXL_NFOLDS];
    memset(units, 0, sizeof units);
    if (run_rounds(c, &id, rounds, units, &all) != 0) goto done;
    EvalResult res;
    if (pooled_eval(&all, &res) < 0) goto done;
    if (o->cv) {
        res.threshold = NAN;
        snprintf(res.threshold_rule, sizeof res.threshold_rule, "%.12s per round, on its validation fold",
                 o->threshold_rule);
    } else {
        res.threshold = units[0].threshold;
        snprintf(res.threshold_rule, sizeof res.threshold_rule, "%.20s on validation fold 9", o->threshold_rule);
    }
    if (scores_write(id.scores, &all) != 0) goto done;
    const double secs = now_seconds() - t0;
    double mean[4];
    if (write_run_result(c, &id, units, rounds, &res, secs, mean) != 0) goto done;

    c->cost_done += cost;
    c->cost_seconds += secs;
    char d[32], ci[64] = "";
    format_duration(secs, d, sizeof d);
    if (!isnan(res.auc_lo)) snprintf(ci, sizeof ci, " [%.3f, %.3f]", res.auc_lo, res.auc_hi);
    msg(c, "[%d/%d] %s: AUC %.3f%s, sensitivity %.2f, specificity %.2f (n_train %.0f: %.0f positive), %s",
        c->run_index, c->n_runs, id.name, res.auc, ci, res.sens.p, res.spec.p, mean[0], mean[1], d);
    rc = 0;
done:
    for (int k = 0; k < rounds; k++) exp_scores_free(&units[k].s);
    exp_scores_free(&all);
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
    if (exp_pathf(path, "%s/experiment.log.jsonl", o->out_dir) != 0) goto done;
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
        exp_write_settings(&f, o);
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
    const ExpReportInput rin = {.o = o, .task = &c.task, .coh = &c.coh, .n_encoders = c.n_encoders,
                                .encoder = (const char(*)[EXP_PATHN])c.encoder};
    if (exp_write_reports(&rin) != 0) goto done;
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
