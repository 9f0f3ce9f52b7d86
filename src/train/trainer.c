/* trainer.c — supervised classifier training (see trainer.h).
 *
 * Dimension legend:
 *   B  batch (<= o->batch)   C  leads (12)   L  samples per lead (preproc length)
 *   O  model outputs (1, or the task's ncodes for a per-code model)
 *   N  records in a split (ntrain, nval, ntest)
 * Buffers: x (B, C, L) input batch; y (B, O) targets; dlogits (B, O);
 *          best_params / best_buffers: copies of the model's flat buffers at the best epoch;
 *          adam_m, adam_v: AdamW state, same layout as the parameters. */
#include "train/trainer.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "data/augment.h"
#include "data/loader.h"
#include "eval/metrics.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "train/progress.h"

void train_options_default(TrainOptions *o) {
    memset(o, 0, sizeof *o);
    o->task = "heart-block";
    o->protocol = PROTOCOL_PAPER;
    o->rate = 100;
    o->min_likelihood = 0.0;
    o->test_fold = 10;
    o->val_fold = 9;
    o->label_fraction = 1.0;
    o->subset_seed = 1;
    preproc_default(&o->preproc);
    o->cache_bytes = (size_t)1 << 30;
    kres_config_default(&o->model);
    o->epochs = 20;
    o->batch = 64;
    o->lr = 1e-3f;
    o->min_lr_frac = 0.01f;
    o->weight_decay = 1e-2f;
    o->warmup_frac = 0.05f;
    o->grad_clip = 1.0f;
    o->seed = 1;
    o->threads = 0;
    o->threshold_rule = "youden";
    o->encoder_lr_scale = 1.0f;
    o->log_every = 10;
    o->kind = "classifier";
}

void train_result_free(TrainResult *r) {
    free(r->val_scores);
    free(r->val_labels);
    free(r->val_ecg_id);
    free(r->test_scores);
    free(r->test_labels);
    free(r->test_ecg_id);
    memset(r, 0, sizeof *r);
}

float classifier_score(const float *logits, int O) {
    /* max of sigmoids == sigmoid of the max logit (sigmoid is monotone) */
    float z = logits[0];
    for (int j = 1; j < O; j++)
        if (logits[j] > z) z = logits[j];
    return sigmoid_stable(z);
}

/* ---- task JSON ----------------------------------------------------------------------- */

char *task_json_make(const Task *t, CohortProtocol protocol, int rate, double min_likelihood,
                     int multilabel) {
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "name"), jw_string(&w, t->name);
    jw_key(&w, "codes");
    jw_array_begin(&w);
    for (int j = 0; j < t->ncodes; j++) jw_string(&w, t->codes[j]);
    jw_array_end(&w);
    jw_key(&w, "protocol"), jw_string(&w, protocol_name(protocol));
    jw_key(&w, "rate"), jw_int(&w, rate);
    jw_key(&w, "min_likelihood"), jw_number(&w, min_likelihood);
    jw_key(&w, "outputs"), jw_string(&w, multilabel ? "per-code" : "any");
    jw_key(&w, "description"), jw_string(&w, t->description);
    jw_object_end(&w);
    return w.buf;
}

int task_json_parse(const char *json, const char *path, TaskMeta *t) {
    memset(t, 0, sizeof *t);
    if (!json) return kres_fail(path, "checkpoint has no 'task' metadata (not a trained classifier?)");
    char err[256];
    JsonValue *v = json_parse(json, strlen(json), err, sizeof err);
    if (!v) return kres_fail(path, "task metadata is not valid JSON: %s", err);
    int rc = -1;
    const char *name = json_str(json_get(v, "name"), NULL);
    const char *proto = json_str(json_get(v, "protocol"), "paper");
    const char *outputs = json_str(json_get(v, "outputs"), "any");
    const JsonValue *codes = json_get(v, "codes");
    double rate = json_num(json_get(v, "rate"), 100);
    if (v->type != JSON_OBJECT || !name || strlen(name) >= sizeof t->name) {
        kres_fail(path, "task metadata needs a 'name' string");
        goto done;
    }
    snprintf(t->name, sizeof t->name, "%s", name);
    if (protocol_parse(proto, &t->protocol) != 0) {
        kres_fail(path, "task metadata: unknown protocol '%s'", proto);
        goto done;
    }
    if (rate != 100 && rate != 500) {
        kres_fail(path, "task metadata: rate must be 100 or 500, got %g", rate);
        goto done;
    }
    t->rate = (int)rate;
    t->min_likelihood = json_num(json_get(v, "min_likelihood"), 0);
    if (strcmp(outputs, "any") == 0) t->multilabel = 0;
    else if (strcmp(outputs, "per-code") == 0) t->multilabel = 1;
    else {
        kres_fail(path, "task metadata: outputs must be 'any' or 'per-code', got '%s'", outputs);
        goto done;
    }
    if (!codes || codes->type != JSON_ARRAY || codes->n < 1 || codes->n > TASK_MAX_CODES) {
        kres_fail(path, "task metadata needs a 'codes' array of 1 to %d codes", TASK_MAX_CODES);
        goto done;
    }
    t->ncodes = codes->n;
    for (int j = 0; j < codes->n; j++) {
        const char *c = json_str(&codes->items[j], NULL);
        if (!c || strlen(c) >= PTBXL_CODE_MAX) {
            kres_fail(path, "task metadata: codes[%d] is not a valid SCP code", j);
            goto done;
        }
        snprintf(t->codes[j], PTBXL_CODE_MAX, "%s", c);
    }
    rc = 0;
done:
    json_free(v);
    return rc;
}

/* ---- inference ------------------------------------------------------------------------ */

/* Logits (n, O) of cohort records idx[0..n) in batches of max_batch through loader ld.
 * x: (max_batch, C, L) scratch. */
static int infer_logits(Kres *m, int max_batch, Loader *ld, const int *idx, int n, float *x,
                        float *logits) {
    int O = kres_config(m)->n_outputs, rc = 0;
    kres_freeze(m, 1); /* no weight changes while scoring: cached transforms checked once */
    for (int s = 0; s < n && rc == 0; s += max_batch) {
        int B = n - s < max_batch ? n - s : max_batch;
        if (loader_fill_batch(ld, idx + s, B, x) != 0) rc = -1;
        else {
            kres_forward(m, x, B, 0, NULL);
            memcpy(logits + (size_t)s * O, kres_logits(m), (size_t)B * O * sizeof(float));
        }
    }
    kres_freeze(m, 0);
    return rc;
}

int classifier_infer(Kres *m, int max_batch, const Cohort *c, const int *idx, int n,
                     const PreprocConfig *pc, float *probs, float *scores) {
    const KresConfig *mc = kres_config(m);
    int O = mc->n_outputs;
    if (O < 1) return kres_fail("model", "the model has no classification head");
    if (mc->in_len != pc->length || mc->in_leads != KRES_NLEADS)
        return kres_fail("model", "model input (%d x %d) does not match the preprocessing (%d x %d)",
                         mc->in_leads, mc->in_len, KRES_NLEADS, pc->length);
    /* No cache: every record is read exactly once here. */
    Loader *ld = loader_create((const char *const *)c->path, c->n, pc, 0);
    if (!ld) return -1;
    float *x = xmalloc((size_t)max_batch * KRES_NLEADS * pc->length * sizeof(float));
    float *lg = xmalloc((size_t)(n ? n : 1) * O * sizeof(float));
    int rc = infer_logits(m, max_batch, ld, idx, n, x, lg);
    if (rc == 0)
        for (int i = 0; i < n; i++) {
            if (probs)
                for (int j = 0; j < O; j++) probs[(size_t)i * O + j] = sigmoid_stable(lg[(size_t)i * O + j]);
            if (scores) scores[i] = classifier_score(lg + (size_t)i * O, O);
        }
    free(lg);
    free(x);
    loader_free(ld);
    return rc;
}

int classifier_open(const char *path, int max_batch, Classifier *k) {
    memset(k, 0, sizeof *k);
    if (ckpt_load(path, max_batch, &k->m, &k->info) != 0) return -1;
    if (strcmp(k->info.kind, "classifier") != 0)
        return kres_fail(path, "checkpoint kind is '%s', not a classifier (train one with 'kres train')", k->info.kind);
    if (task_json_parse(k->info.task_json, path, &k->tm) != 0) return -1;
    if (!k->info.preprocess_json) return kres_fail(path, "checkpoint has no 'preprocess' metadata");
    if (preproc_from_json(k->info.preprocess_json, &k->pc) != 0) {
        char why[800]; /* kres_fail would overwrite the message it formats from */
        snprintf(why, sizeof why, "%s", kres_last_error());
        return kres_fail(path, "preprocess metadata: %s", why);
    }
    const KresConfig *mc = kres_config(k->m);
    k->O = mc->n_outputs;
    if (k->O < 1 || mc->in_len != k->pc.length || mc->in_leads != KRES_NLEADS ||
        (k->tm.multilabel && k->O != k->tm.ncodes))
        return kres_fail(path, "model (%d outputs, input %d x %d) does not match its task/preprocessing metadata",
                         k->O, mc->in_leads, mc->in_len);
    return 0;
}

void classifier_close(Classifier *k) {
    if (k->m) kres_free(k->m);
    ckpt_info_free(&k->info);
    memset(k, 0, sizeof *k);
}

/* ---- training ------------------------------------------------------------------------- */

/* Everything train_classifier owns, so that one cleanup path frees it on any exit. */
typedef struct {
    PtbxlDb db_own;
    int db_opened;
    const PtbxlDb *db;
    Task task;
    Cohort coh;
    int coh_built;
    int *tr_all, *tr, *va, *te;     /* cohort positions of each split */
    int ntr_all, ntr, nva, nte;
    Loader *ld;
    Kres *m;
    float *x, *y, *dlogits, *pw;    /* x (B,C,L), y (B,O), dlogits (B,O), pw (O) */
    float *adam_m, *adam_v;         /* (nparams) */
    float *best_p, *best_b;         /* (nparams), (nbuffers) */
    float *val_logits, *val_targets;/* (nva, O) */
    float *val_scores, *best_val_scores; /* (nva) */
    int *val_labels;                /* (nva) */
    ParamRange ranges[KRES_MAX_TENSORS];
    int nranges;
    TrainLog log;
    char *task_json, *prov_json;
} Ctx;

static void ctx_free(Ctx *c) {
    free(c->tr_all), free(c->tr), free(c->va), free(c->te);
    if (c->ld) loader_free(c->ld);
    if (c->m) kres_free(c->m);
    free(c->x), free(c->y), free(c->dlogits), free(c->pw);
    free(c->adam_m), free(c->adam_v), free(c->best_p), free(c->best_b);
    free(c->val_logits), free(c->val_targets), free(c->val_scores), free(c->best_val_scores);
    free(c->val_labels);
    trainlog_close(&c->log);
    free(c->task_json), free(c->prov_json);
    if (c->coh_built) cohort_free(&c->coh);
    if (c->db_opened) ptbxl_close(&c->db_own);
}

static int check_options(const TrainOptions *o) {
    const char *w = "training options";
    if (!o->data_dir && !o->db) return kres_fail(w, "no PTB-XL directory given");
    if (o->epochs < 1 || o->epochs > 100000) return kres_fail(w, "epochs must be in [1, 100000], got %d", o->epochs);
    if (o->batch < 1 || o->batch > 65536) return kres_fail(w, "batch must be in [1, 65536], got %d", o->batch);
    if (!(o->lr > 0 && isfinite(o->lr))) return kres_fail(w, "lr must be a positive number, got %g", (double)o->lr);
    if (!(o->min_lr_frac >= 0 && o->min_lr_frac <= 1)) return kres_fail(w, "min_lr_frac must be in [0, 1]");
    if (!(o->weight_decay >= 0 && isfinite(o->weight_decay))) return kres_fail(w, "weight decay must be >= 0");
    if (!(o->warmup_frac >= 0 && o->warmup_frac < 1)) return kres_fail(w, "warm-up fraction must be in [0, 1)");
    if (!(o->grad_clip >= 0 && isfinite(o->grad_clip))) return kres_fail(w, "gradient clip must be >= 0");
    if (!(o->label_fraction > 0 && o->label_fraction <= 1))
        return kres_fail(w, "label fraction must be in (0, 1], got %g", o->label_fraction);
    if (o->val_fold < 1 || o->val_fold > PTBXL_NFOLDS)
        return kres_fail(w, "validation fold must be in [1, 10], got %d", o->val_fold);
    if (o->test_fold < 0 || o->test_fold > PTBXL_NFOLDS || o->test_fold == o->val_fold)
        return kres_fail(w, "test fold must be 0 (none) or in [1, 10] and differ from the validation fold, got %d",
                         o->test_fold);
    if (o->rate != 100 && o->rate != 500) return kres_fail(w, "rate must be 100 or 500, got %d", o->rate);
    if (!(o->encoder_lr_scale >= 0 && isfinite(o->encoder_lr_scale)))
        return kres_fail(w, "encoder lr scale must be >= 0");
    if (o->threads < 0 || o->threads > 1024) return kres_fail(w, "threads must be in [0, 1024]");
    ThresholdRule tr;
    if (threshold_rule_parse(o->threshold_rule ? o->threshold_rule : "youden", &tr) != 0) return -1;
    return preproc_validate(&o->preproc);
}

/* Shortest decimal that reads back as the same double (0.3, not 0.29999999999999999), and
 * for floats the shortest that reads back as the same float (0.001, not 0.0010000000474974513),
 * so the provenance shows the numbers as they were typed. */
static void jw_short(JsonWriter *w, double x) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    if (isfinite(x)) jw_raw(w, buf);
    else jw_null(w);
}
static void jw_short_f(JsonWriter *w, float x) {
    char buf[40];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    jw_short(w, strtod(buf, NULL));
}

/* ckpt_provenance_json plus the training settings that, with the data, determine the run. */
static char *provenance_make(const TrainOptions *o, const Ctx *c, int threads) {
    const char *dir = o->data_dir ? o->data_dir : c->db->dir;
    char *base = ckpt_provenance_json(dir, o->seed, o->argc, o->argv);
    char err[128];
    JsonValue *v = json_parse(base, strlen(base), err, sizeof err);
    KRES_ASSERT(v && v->type == JSON_OBJECT);
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    for (int i = 0; i < v->n; i++) jw_key(&w, v->keys[i]), jw_value(&w, &v->items[i]);
    jw_key(&w, "threads"), jw_int(&w, threads);
    jw_key(&w, "epochs"), jw_int(&w, o->epochs);
    jw_key(&w, "batch"), jw_int(&w, o->batch);
    jw_key(&w, "lr"), jw_short_f(&w, o->lr);
    jw_key(&w, "min_lr_frac"), jw_short_f(&w, o->min_lr_frac);
    jw_key(&w, "weight_decay"), jw_short_f(&w, o->weight_decay);
    jw_key(&w, "warmup_frac"), jw_short_f(&w, o->warmup_frac);
    jw_key(&w, "grad_clip"), jw_short_f(&w, o->grad_clip);
    jw_key(&w, "augment"), jw_bool(&w, o->augment);
    jw_key(&w, "label_fraction"), jw_short(&w, o->label_fraction);
    jw_key(&w, "subset_seed"), jw_int(&w, (long long)o->subset_seed);
    jw_key(&w, "val_fold"), jw_int(&w, o->val_fold);
    jw_key(&w, "test_fold"), jw_int(&w, o->test_fold);
    jw_key(&w, "ntrain"), jw_int(&w, c->ntr);
    jw_key(&w, "nval"), jw_int(&w, c->nva);
    jw_key(&w, "init_encoder");
    if (o->init_encoder) jw_string(&w, o->init_encoder);
    else jw_null(&w);
    jw_key(&w, "encoder_lr_scale"), jw_short_f(&w, o->encoder_lr_scale);
    jw_object_end(&w);
    json_free(v);
    free(base);
    return w.buf;
}

/* Targets of cohort position i into y (O): the task label, or one label per code. */
static void fill_target(const Cohort *c, int i, int multilabel, int O, float *y) {
    if (!multilabel) y[0] = (float)c->label[i];
    else
        for (int j = 0; j < O; j++) y[j] = (float)c->code_label[(size_t)i * c->ncodes + j];
}

/* Light augmentation for supervised training: small amplitude changes, shifts and noise
 * that leave the rhythm and conduction intervals (what heart block is about) intact. */
static void supervised_augment(AugmentConfig *a) {
    augment_none(a);
    a->p_scale = 0.5, a->scale_min = 0.9, a->scale_max = 1.1, a->scale_per_lead = 0;
    a->p_shift = 0.5, a->shift_max_s = 0.2;
    a->p_noise = 0.5, a->noise_sigma = 0.05;
}

static int ctx_setup(const TrainOptions *o, Ctx *c, TrainResult *r) {
    if (o->db) c->db = o->db;
    else {
        if (ptbxl_open(o->data_dir, &c->db_own) != 0) return -1;
        c->db_opened = 1;
        c->db = &c->db_own;
    }
    if (task_parse(o->task ? o->task : "heart-block", c->db, &c->task) != 0) return -1;
    CohortOptions co = cohort_options_default();
    co.protocol = o->protocol;
    co.rate = o->rate;
    co.min_likelihood = o->min_likelihood;
    co.check_files = 2; /* skip unreadable records now rather than fail in epoch 7 */
    if (cohort_build(c->db, &c->task, co, &c->coh) != 0) return -1;
    c->coh_built = 1;
    const Cohort *h = &c->coh;
    size_t nn = (size_t)(h->n ? h->n : 1);
    c->tr_all = xmalloc(nn * sizeof(int)), c->tr = xmalloc(nn * sizeof(int));
    c->va = xmalloc(nn * sizeof(int)), c->te = xmalloc(nn * sizeof(int));
    if (o->test_fold > 0) {
        if (cohort_split(h, o->test_fold, o->val_fold, c->tr_all, &c->ntr_all, c->va, &c->nva, c->te, &c->nte) != 0)
            return -1;
    } else if (cohort_split(h, o->val_fold, 0, c->tr_all, &c->ntr_all, c->te, &c->nte, c->va, &c->nva) != 0) {
        return -1; /* no test fold: the validation fold plays cohort_split's test role */
    } else {
        c->nte = 0;
    }
    if (o->label_fraction < 1.0) {
        if (subset_label_fraction(h, c->tr_all, c->ntr_all, o->label_fraction, o->subset_seed, c->tr, &c->ntr) != 0)
            return -1;
    } else {
        memcpy(c->tr, c->tr_all, (size_t)c->ntr_all * sizeof(int));
        c->ntr = c->ntr_all;
    }
    const char *dir = c->db->dir;
    if (c->ntr < 1) return kres_fail(dir, "no training records for task %s", c->task.name);
    if (c->nva < 1) return kres_fail(dir, "validation fold %d has no records for task %s", o->val_fold, c->task.name);
    r->ntrain = c->ntr, r->nval = c->nva, r->ntest = 0;
    for (int i = 0; i < c->ntr; i++) r->ntrain_pos += h->label[c->tr[i]];
    for (int i = 0; i < c->nva; i++) r->nval_pos += h->label[c->va[i]];
    if (r->ntrain_pos == 0 || r->ntrain_pos == c->ntr)
        return kres_fail(dir, "the %d training records of task %s are all %s: nothing to learn", c->ntr,
                         c->task.name, r->ntrain_pos ? "positive" : "negative");
    return 0;
}

/* The epochs' fixed quantities and running state, beside the context's buffers. */
typedef struct {
    int O, L, threads;           /* outputs; samples per lead; OpenMP threads */
    size_t ex, np, nb;           /* floats per example; parameters; batch-norm buffers */
    int val_both;                /* the validation fold has both classes: select by AUC */
    long spe, total, warmup;     /* steps per epoch, in all, of warm-up */
    long step;                   /* global step */
    float min_lr;
    AugmentConfig aug;
    Rng shuffle_rng, dropout_rng, aug_rng;
    Progress pg;
    double t_begin, train_time, infer_time;
    long infer_n;                /* validation ECGs scored, for infer_samples_per_s */
} Loop;

/* The model, its loader and log, the optimiser's ranges, every buffer of the loop
 * (allocated once), the positive-class weights, the schedule and the seeded streams. */
static int loop_setup(const TrainOptions *o, Ctx *c, TrainResult *r, Loop *lp) {
    const Cohort *h = &c->coh;
    const int O = o->multilabel ? c->task.ncodes : 1, C = KRES_NLEADS, L = o->preproc.length, Bmax = o->batch;
    lp->O = O, lp->L = L, lp->ex = (size_t)C * L;

    /* Model: the trainer owns the heads; the input follows the preprocessing. */
    KresConfig cfg = o->model;
    cfg.in_leads = C, cfg.in_len = L, cfg.n_outputs = O, cfg.proj_hidden = 0;
    if (kres_config_validate(&cfg) != 0) return -1;
    c->m = kres_create(&cfg, Bmax, o->seed);
    if (!c->m) return -1;
    if (o->init_encoder) {
        CkptLoadReport rep;
        if (ckpt_load_encoder_into(o->init_encoder, c->m, 1, &rep) != 0) return -1;
    }
    c->ld = loader_create((const char *const *)h->path, h->n, &o->preproc, o->cache_bytes);
    if (!c->ld) return -1;
    if (trainlog_open(&c->log, o->log_path) != 0) return -1;

    const size_t np = kres_num_params(c->m), nb = kres_num_buffers(c->m), nenc = kres_num_encoder_params(c->m);
    lp->np = np, lp->nb = nb;
    /* Per-tensor optimiser ranges: the encoder prefix gets its own lr scale; vectors
     * (biases, BN gamma/beta) are exempt from weight decay, as is usual. */
    for (int t = 0; t < kres_num_tensors(c->m); t++) {
        const KresTensor *kt = kres_tensor(c->m, t);
        if (kt->kind != KRES_PARAM) continue;
        ParamRange *pr = &c->ranges[c->nranges++];
        pr->begin = kt->offset, pr->end = kt->offset + kt->numel;
        pr->lr_scale = kt->offset < nenc ? o->encoder_lr_scale : 1.0f;
        pr->decay = kt->ndim >= 2;
    }

    /* Every buffer of the loop, allocated once. */
    c->x = xmalloc_aligned((size_t)Bmax * lp->ex * sizeof(float));
    c->y = xmalloc((size_t)Bmax * O * sizeof(float));
    c->dlogits = xmalloc((size_t)Bmax * O * sizeof(float));
    c->pw = xmalloc((size_t)O * sizeof(float));
    c->adam_m = xcalloc(np, sizeof(float)), c->adam_v = xcalloc(np, sizeof(float));
    c->best_p = xmalloc(np * sizeof(float)), c->best_b = xmalloc((nb ? nb : 1) * sizeof(float));
    c->val_logits = xmalloc((size_t)c->nva * O * sizeof(float));
    c->val_targets = xmalloc((size_t)c->nva * O * sizeof(float));
    c->val_scores = xmalloc((size_t)c->nva * sizeof(float));
    c->best_val_scores = xmalloc((size_t)c->nva * sizeof(float));
    c->val_labels = xmalloc((size_t)c->nva * sizeof(int));
    for (int i = 0; i < c->nva; i++) {
        fill_target(h, c->va[i], o->multilabel, O, c->val_targets + (size_t)i * O);
        c->val_labels[i] = h->label[c->va[i]];
    }
    lp->val_both = r->nval_pos > 0 && r->nval_pos < c->nva;

    /* pos_weight = n_neg / n_pos over the training records, per output: the positive and
     * negative terms then carry equal total weight, whatever the prevalence. */
    for (int j = 0; j < O; j++) {
        long pos = 0;
        for (int i = 0; i < c->ntr; i++)
            pos += o->multilabel ? h->code_label[(size_t)c->tr[i] * h->ncodes + j] : h->label[c->tr[i]];
        c->pw[j] = pos > 0 ? (float)((double)(c->ntr - pos) / (double)pos) : 1.0f;
    }
    r->pos_weight = c->pw[0];

    supervised_augment(&lp->aug);
    /* Independent seeded streams: weights use `seed` itself (kres_create). */
    rng_seed(&lp->shuffle_rng, o->seed ^ 0x53485546464c45ULL);
    rng_seed(&lp->dropout_rng, o->seed ^ 0x44524f504f5554ULL);
    rng_seed(&lp->aug_rng, o->seed ^ 0x4155474d454e54ULL);

    lp->spe = (c->ntr + Bmax - 1) / Bmax, lp->total = lp->spe * o->epochs;
    lp->warmup = (long)llround((double)o->warmup_frac * (double)lp->total);
    lp->min_lr = o->lr * o->min_lr_frac;
    return 0;
}

/* The log's "start" event and the progress line that says what is trained on. */
static int log_start(const TrainOptions *o, Ctx *c, const TrainResult *r, Loop *lp) {
    const Cohort *h = &c->coh;
    JsonWriter w;
    trainlog_event_begin(&w, "start");
    jw_key(&w, "task"), jw_string(&w, c->task.name);
    jw_key(&w, "protocol"), jw_string(&w, protocol_name(o->protocol));
    jw_key(&w, "rate"), jw_int(&w, o->rate);
    jw_key(&w, "ntrain"), jw_int(&w, c->ntr);
    jw_key(&w, "ntrain_pos"), jw_int(&w, r->ntrain_pos);
    jw_key(&w, "nval"), jw_int(&w, c->nva);
    jw_key(&w, "nval_pos"), jw_int(&w, r->nval_pos);
    jw_key(&w, "ntest"), jw_int(&w, c->nte);
    jw_key(&w, "skipped_records"), jw_int(&w, h->nskipped);
    jw_key(&w, "pos_weight"), jw_number(&w, c->pw[0]);
    jw_key(&w, "params"), jw_int(&w, (long long)lp->np);
    jw_key(&w, "epochs"), jw_int(&w, o->epochs);
    jw_key(&w, "batch"), jw_int(&w, o->batch);
    jw_key(&w, "steps_per_epoch"), jw_int(&w, lp->spe);
    jw_key(&w, "threads"), jw_int(&w, lp->threads);
    jw_key(&w, "seed"), jw_int(&w, (long long)o->seed);
    if (trainlog_event_end(&c->log, &w) != 0) return -1;
    progress_message(&lp->pg, o->quiet,
                     "%straining %s (%s protocol, %d Hz): %d train (%d positive), %d validation (%d positive), "
                     "%d test; %ld steps/epoch, %d threads",
                     o->progress_prefix ? o->progress_prefix : "", c->task.name, protocol_name(o->protocol),
                     o->rate, c->ntr, r->ntrain_pos, c->nva, r->nval_pos, c->nte, lp->spe, lp->threads);
    return 0;
}

/* One pass over the shuffled training records: forward, loss, backward, clipping, AdamW.
 * *loss_sum: the batch losses weighted by batch size. */
static int train_epoch(const TrainOptions *o, Ctx *c, Loop *lp, int ep, double *loss_sum) {
    const Cohort *h = &c->coh;
    const int Bmax = o->batch, O = lp->O;
    const double t_ep = now_seconds();
    int *order = c->tr; /* shuffled in place each epoch; the split order is not needed after */
    rng_shuffle_int(&lp->shuffle_rng, order, c->ntr);
    *loss_sum = 0;
    for (long s = 0; s < lp->spe; s++, lp->step++) {
        int b0 = (int)(s * Bmax), B = c->ntr - b0 < Bmax ? c->ntr - b0 : Bmax;
        const int *bi = order + b0;
        if (loader_fill_batch(c->ld, bi, B, c->x) != 0) return -1;
        if (o->augment)
            for (int b = 0; b < B; b++)
                augment_apply(&lp->aug, c->x + (size_t)b * lp->ex, lp->L, o->preproc.target_rate, &lp->aug_rng);
        for (int b = 0; b < B; b++) fill_target(h, bi[b], o->multilabel, O, c->y + (size_t)b * O);
        kres_zero_grad(c->m);
        kres_forward(c->m, c->x, B, 1, &lp->dropout_rng);
        float loss = bce_with_logits_loss(c->dlogits, kres_logits(c->m), c->y, c->pw, NULL, B, O);
        kres_backward(c->m, c->dlogits, NULL, NULL);
        double gn = clip_grad_norm(kres_grads(c->m), lp->np, o->grad_clip);
        if (!isfinite(loss) || !isfinite(gn))
            return kres_fail(c->db->dir, "training diverged: non-finite %s at epoch %d step %ld (try a lower --lr)",
                             isfinite(loss) ? "gradient" : "loss", ep, s + 1);
        float lr = lr_at(lp->step, lp->total, lp->warmup, o->lr, lp->min_lr);
        adamw_update(kres_params(c->m), kres_grads(c->m), c->adam_m, c->adam_v, lp->np, lp->step + 1, lr, 0.9f,
                     0.999f, 1e-8f, o->weight_decay, c->ranges, c->nranges);
        *loss_sum += (double)loss * B;
        double el = lp->train_time + (now_seconds() - t_ep);
        double sps = el > 0 ? (double)((long)(ep - 1) * c->ntr + b0 + B) / el : 0;
        progress_step(&lp->pg, ep, o->epochs, lp->step + 1, loss, sps);
        if (o->log_every > 0 && ((s + 1) % o->log_every == 0 || s + 1 == lp->spe)) {
            JsonWriter w;
            trainlog_event_begin(&w, "step");
            jw_key(&w, "epoch"), jw_int(&w, ep);
            jw_key(&w, "step"), jw_int(&w, s + 1);
            jw_key(&w, "global_step"), jw_int(&w, lp->step + 1);
            jw_key(&w, "loss"), jw_number(&w, loss);
            jw_key(&w, "lr"), jw_number(&w, lr);
            jw_key(&w, "grad_norm"), jw_number(&w, gn);
            jw_key(&w, "samples_per_s"), jw_number(&w, sps);
            jw_key(&w, "elapsed_s"), jw_number(&w, now_seconds() - lp->t_begin);
            if (trainlog_event_end(&c->log, &w) != 0) return -1;
        }
    }
    lp->train_time += now_seconds() - t_ep;
    return 0;
}

/* Validation after epoch ep: loss with the training pos_weight (comparable to the training
 * loss) and AUC of the task score; the best epoch's weights and scores are kept. */
static int validate_epoch(const TrainOptions *o, Ctx *c, TrainResult *r, Loop *lp, int ep, double loss_sum) {
    const int O = lp->O;
    const double t_val = now_seconds();
    if (infer_logits(c->m, o->batch, c->ld, c->va, c->nva, c->x, c->val_logits) != 0) return -1;
    float val_loss = bce_with_logits_loss(NULL, c->val_logits, c->val_targets, c->pw, NULL, c->nva, O);
    for (int i = 0; i < c->nva; i++) c->val_scores[i] = classifier_score(c->val_logits + (size_t)i * O, O);
    double auc = NAN;
    if (lp->val_both && roc_auc(c->val_scores, c->val_labels, c->nva, &auc) != 0) return -1;
    lp->infer_time += now_seconds() - t_val;
    lp->infer_n += c->nva;
    /* Best by validation AUC (ties keep the earlier epoch); by loss if the fold has one class. */
    int best = ep == 1 || (lp->val_both ? auc > r->best_val_auc : val_loss < r->best_val_loss);
    if (best) {
        r->best_epoch = ep, r->best_val_auc = auc, r->best_val_loss = val_loss;
        memcpy(c->best_p, kres_params(c->m), lp->np * sizeof(float));
        memcpy(c->best_b, kres_buffers(c->m), lp->nb * sizeof(float));
        memcpy(c->best_val_scores, c->val_scores, (size_t)c->nva * sizeof(float));
    }
    r->epochs_run = ep;
    double tl = loss_sum / c->ntr, sps = lp->train_time > 0 ? (double)ep * c->ntr / lp->train_time : 0;
    char eta[32];
    format_duration((now_seconds() - lp->t_begin) / ep * (o->epochs - ep), eta, sizeof eta);
    progress_message(&lp->pg, o->quiet, "%sepoch %d/%d  train loss %.4f  val loss %.4f  val AUC %.4f%s  %.1f ECG/s  ETA %s",
                     o->progress_prefix ? o->progress_prefix : "", ep, o->epochs, tl, (double)val_loss, auc,
                     best ? "  *best" : "", sps, eta);
    JsonWriter w;
    trainlog_event_begin(&w, "epoch");
    jw_key(&w, "epoch"), jw_int(&w, ep);
    jw_key(&w, "train_loss"), jw_number(&w, tl);
    jw_key(&w, "val_loss"), jw_number(&w, val_loss);
    jw_key(&w, "val_auc"), jw_number(&w, auc);
    jw_key(&w, "best"), jw_bool(&w, best);
    jw_key(&w, "lr"), jw_number(&w, lr_at(lp->step - 1, lp->total, lp->warmup, o->lr, lp->min_lr));
    jw_key(&w, "train_samples_per_s"), jw_number(&w, sps);
    jw_key(&w, "elapsed_s"), jw_number(&w, now_seconds() - lp->t_begin);
    return trainlog_event_end(&c->log, &w);
}

/* Restore the best epoch; choose the threshold on its validation scores; copy the
 * validation and test scores for the caller (CV pools the test ones). */
static int final_scores(const TrainOptions *o, Ctx *c, TrainResult *r, const Loop *lp) {
    const Cohort *h = &c->coh;
    const int O = lp->O;
    memcpy(kres_params(c->m), c->best_p, lp->np * sizeof(float));
    memcpy(kres_buffers(c->m), c->best_b, lp->nb * sizeof(float));
    const char *rule = o->threshold_rule ? o->threshold_rule : "youden";
    ThresholdRule tr;
    threshold_rule_parse(rule, &tr); /* validated in check_options */
    if (lp->val_both || tr.kind == THR_FIXED) {
        if (choose_threshold(c->best_val_scores, c->val_labels, c->nva, rule, &r->threshold) != 0) return -1;
        snprintf(r->threshold_rule, sizeof r->threshold_rule, "%.32s on validation fold %d", rule, o->val_fold);
    } else {
        r->threshold = 0.5;
        snprintf(r->threshold_rule, sizeof r->threshold_rule, "fixed=0.5 (validation fold %d has one class)",
                 o->val_fold);
    }
    r->nval_scores = c->nva;
    r->val_scores = xmalloc((size_t)c->nva * sizeof(float));
    r->val_labels = xmalloc((size_t)c->nva * sizeof(int));
    r->val_ecg_id = xmalloc((size_t)c->nva * sizeof(int));
    memcpy(r->val_scores, c->best_val_scores, (size_t)c->nva * sizeof(float));
    memcpy(r->val_labels, c->val_labels, (size_t)c->nva * sizeof(int));
    for (int i = 0; i < c->nva; i++) r->val_ecg_id[i] = h->ecg_id[c->va[i]];
    if (c->nte == 0) return 0;
    float *lg = xmalloc((size_t)c->nte * O * sizeof(float));
    int e = infer_logits(c->m, o->batch, c->ld, c->te, c->nte, c->x, lg);
    if (e == 0) {
        r->ntest = c->nte;
        r->test_scores = xmalloc((size_t)c->nte * sizeof(float));
        r->test_labels = xmalloc((size_t)c->nte * sizeof(int));
        r->test_ecg_id = xmalloc((size_t)c->nte * sizeof(int));
        for (int i = 0; i < c->nte; i++) {
            r->test_scores[i] = classifier_score(lg + (size_t)i * O, O);
            r->test_labels[i] = h->label[c->te[i]];
            r->test_ecg_id[i] = h->ecg_id[c->te[i]];
        }
    }
    free(lg);
    return e;
}

/* The best epoch's model with its preprocessing, task, provenance and threshold. */
static int save_model(const TrainOptions *o, Ctx *c, const TrainResult *r, int threads) {
    char pre[512], auc_s[40], ep_s[16], vf_s[16], tf_s[16];
    if (preproc_to_json(&o->preproc, pre, sizeof pre) < 0) return -1;
    c->task_json = task_json_make(&c->task, o->protocol, o->rate, o->min_likelihood, o->multilabel);
    c->prov_json = provenance_make(o, c, threads);
    if (isnan(r->best_val_auc)) snprintf(auc_s, sizeof auc_s, "undefined");
    else snprintf(auc_s, sizeof auc_s, "%.17g", r->best_val_auc);
    snprintf(ep_s, sizeof ep_s, "%d", r->best_epoch);
    snprintf(vf_s, sizeof vf_s, "%d", o->val_fold);
    snprintf(tf_s, sizeof tf_s, "%d", o->test_fold);
    const char *keys[] = {"threshold_rule", "val_auc", "best_epoch", "val_fold", "test_fold"};
    const char *vals[] = {r->threshold_rule, auc_s, ep_s, vf_s, tf_s};
    CkptMeta meta = {.kind = o->kind ? o->kind : "classifier",
                     .preprocess_json = pre,
                     .task_json = c->task_json,
                     .provenance_json = c->prov_json,
                     .threshold = r->threshold,
                     .n_extra = 5,
                     .extra_keys = keys,
                     .extra_vals = vals};
    return ckpt_save(o->out_path, c->m, &meta, NULL, 0);
}

static int log_end(const TrainOptions *o, Ctx *c, const TrainResult *r) {
    JsonWriter w;
    trainlog_event_begin(&w, "end");
    jw_key(&w, "best_epoch"), jw_int(&w, r->best_epoch);
    jw_key(&w, "best_val_auc"), jw_number(&w, r->best_val_auc);
    jw_key(&w, "best_val_loss"), jw_number(&w, r->best_val_loss);
    jw_key(&w, "threshold"), jw_number(&w, r->threshold);
    jw_key(&w, "threshold_rule"), jw_string(&w, r->threshold_rule);
    jw_key(&w, "train_seconds"), jw_number(&w, r->train_seconds);
    jw_key(&w, "train_samples_per_s"), jw_number(&w, r->train_samples_per_s);
    jw_key(&w, "infer_samples_per_s"), jw_number(&w, r->infer_samples_per_s);
    jw_key(&w, "total_seconds"), jw_number(&w, r->total_seconds);
    jw_key(&w, "peak_rss_kib"), jw_int(&w, peak_rss_kib());
    if (o->out_path) jw_key(&w, "checkpoint"), jw_string(&w, o->out_path);
    return trainlog_event_end(&c->log, &w);
}

int train_classifier(const TrainOptions *o, TrainResult *r) {
    memset(r, 0, sizeof *r);
    r->best_val_auc = NAN, r->best_val_loss = NAN, r->threshold = NAN;
    Loop lp;
    memset(&lp, 0, sizeof lp);
    lp.t_begin = now_seconds();
    if (check_options(o) != 0) return -1;
    Ctx c;
    memset(&c, 0, sizeof c); /* lp.pg zeroed too: nothing drawn, so clearing it is safe on any exit */
    int rc = -1;
    /* The thread count must be fixed before the model sizes its convolution workspaces. */
    if (o->threads > 0) omp_set_num_threads(o->threads);
    lp.threads = omp_get_max_threads();
    if (ctx_setup(o, &c, r) != 0 || loop_setup(o, &c, r, &lp) != 0) goto done;
    progress_init(&lp.pg, lp.total, o->quiet);
    progress_set_prefix(&lp.pg, o->progress_prefix);
    if (log_start(o, &c, r, &lp) != 0) goto done;
    for (int ep = 1; ep <= o->epochs; ep++) {
        double loss_sum;
        if (train_epoch(o, &c, &lp, ep, &loss_sum) != 0) goto done;
        if (validate_epoch(o, &c, r, &lp, ep, loss_sum) != 0) goto done;
    }
    progress_clear(&lp.pg);
    r->train_seconds = lp.train_time;
    r->train_samples_per_s = lp.train_time > 0 ? (double)o->epochs * c.ntr / lp.train_time : 0;
    r->infer_samples_per_s = lp.infer_time > 0 ? (double)lp.infer_n / lp.infer_time : 0;
    if (final_scores(o, &c, r, &lp) != 0) goto done;
    if (o->out_path && save_model(o, &c, r, lp.threads) != 0) goto done;
    r->total_seconds = now_seconds() - lp.t_begin;
    if (log_end(o, &c, r) != 0) goto done;
    rc = 0;
done:
    progress_clear(&lp.pg);
    ctx_free(&c);
    return rc;
}
