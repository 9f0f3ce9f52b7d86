/* probe.c — linear probe: logistic regression with liblbfgs on frozen embeddings, folded
 * back into a KRes classifier; see probe.h for the method. */
#include "train/probe.h"

#include <lbfgs.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/util.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "train/embed.h"
#include "train/trainer.h"

enum { CHUNK = 256 };      /* rows per partial sum: fixes the summation order */
enum { PROBE_BATCH = 32 }; /* ECGs per inference forward */

/* ---- logistic regression ------------------------------------------------------------ */

double logreg_objective(const float *z, const int *y, const double *c, int n, int d,
                        double lambda, const double *wb, double *grad) {
    const int nchunks = (n + CHUNK - 1) / CHUNK;
    const int G = grad ? d + 1 : 0;
    /* part[k] = (loss, dw[0..d), db) of chunk k; chunks are summed in order afterwards. */
    double *part = xcalloc((size_t)nchunks * (d + 2), sizeof(double));
    /* Threads only pay off for large problems (a fork/join per evaluation otherwise). */
#pragma omp parallel for schedule(static) if ((long)n * d > 200000)
    for (int k = 0; k < nchunks; k++) {
        double *p = part + (size_t)k * (d + 2);
        const int i1 = (k + 1) * CHUNK < n ? (k + 1) * CHUNK : n;
        for (int i = k * CHUNK; i < i1; i++) {
            const float *zi = z + (size_t)i * d;
            double s = wb[d];
            for (int j = 0; j < d; j++) s += wb[j] * zi[j];
            const double ci = c ? c[i] : 1.0, yi = y[i];
            /* softplus(s) - y s, stable for any s */
            p[0] += ci * ((s > 0 ? s : 0) + log1p(exp(-fabs(s))) - yi * s);
            if (G) {
                const double sig = s >= 0 ? 1.0 / (1.0 + exp(-s)) : exp(s) / (1.0 + exp(s));
                const double r = ci * (sig - yi);
                for (int j = 0; j < d; j++) p[1 + j] += r * zi[j];
                p[1 + d] += r;
            }
        }
    }
    double f = 0;
    if (grad) memset(grad, 0, (size_t)(d + 1) * sizeof(double));
    for (int k = 0; k < nchunks; k++) {
        const double *p = part + (size_t)k * (d + 2);
        f += p[0];
        for (int j = 0; j < G; j++) grad[j] += p[1 + j];
    }
    free(part);
    f /= n;
    double w2 = 0;
    for (int j = 0; j < d; j++) w2 += wb[j] * wb[j];
    f += 0.5 * lambda * w2;
    if (grad) {
        for (int j = 0; j <= d; j++) grad[j] /= n;
        for (int j = 0; j < d; j++) grad[j] += lambda * wb[j];
    }
    return f;
}

typedef struct {
    const float *z;
    const int *y;
    const double *c;
    int n, d;
    double lambda;
    double *wb, *g;
    int iters;
} LrProblem;

/* liblbfgs callback. The variable vector is padded to a multiple of 16 (an SSE build of
 * liblbfgs requires it); the padding has zero gradient and stays at zero. */
static lbfgsfloatval_t lr_evaluate(void *inst, const lbfgsfloatval_t *x, lbfgsfloatval_t *g,
                                   const int nv, const lbfgsfloatval_t step) {
    (void)step;
    LrProblem *p = inst;
    for (int j = 0; j <= p->d; j++) p->wb[j] = x[j];
    double f = logreg_objective(p->z, p->y, p->c, p->n, p->d, p->lambda, p->wb, p->g);
    for (int j = 0; j < nv; j++) g[j] = j <= p->d ? p->g[j] : 0.0;
    return f;
}

static int lr_progress(void *inst, const lbfgsfloatval_t *x, const lbfgsfloatval_t *g,
                       const lbfgsfloatval_t fx, const lbfgsfloatval_t xnorm,
                       const lbfgsfloatval_t gnorm, const lbfgsfloatval_t step, int n, int k, int ls) {
    (void)x, (void)g, (void)fx, (void)xnorm, (void)gnorm, (void)step, (void)n, (void)ls;
    ((LrProblem *)inst)->iters = k;
    return 0;
}

int logreg_fit(const float *z, const int *y, const double *c, int n, int d, double lambda,
               double *wb, int *iters) {
    const int nv = (d + 1 + 15) / 16 * 16;
    lbfgsfloatval_t *x = lbfgs_malloc(nv);
    KRES_ASSERT(x != NULL);
    for (int j = 0; j < nv; j++) x[j] = j <= d ? wb[j] : 0.0;
    LrProblem p = {z, y, c, n, d, lambda, xmalloc((size_t)(d + 1) * sizeof(double)),
                   xmalloc((size_t)(d + 1) * sizeof(double)), 0};
    lbfgs_parameter_t prm;
    lbfgs_parameter_init(&prm);
    prm.epsilon = 1e-6;        /* ||g|| < eps * max(1, ||x||) */
    prm.max_iterations = 1000;
    lbfgsfloatval_t fx;
    int status = lbfgs(nv, x, &fx, lr_evaluate, lr_progress, &p, &prm);
    /* On a line-search failure liblbfgs leaves x at the last accepted point. */
    for (int j = 0; j <= d; j++) wb[j] = x[j];
    if (iters) *iters = p.iters;
    lbfgs_free(x);
    free(p.wb);
    free(p.g);
    return status;
}

int logreg_balanced_weights(const int *y, int n, double *c) {
    long npos = 0;
    for (int i = 0; i < n; i++) npos += y[i] != 0;
    const long nneg = n - npos;
    if (npos == 0 || nneg == 0)
        return kres_fail("probe", "training set has %ld positives and %ld negatives; both classes are needed",
                         npos, nneg);
    for (int i = 0; i < n; i++) c[i] = (double)n / (2.0 * (y[i] ? npos : nneg));
    return 0;
}

/* ---- probe on embeddings ------------------------------------------------------------- */

void probe_fit_options_default(ProbeFitOptions *o) {
    o->n_lambda = 13;
    o->lambda_min = 1e-4;
    o->lambda_max = 1e2;
    o->balanced = 1;
    o->threshold_rule = "youden";
}

void probe_fit_free(ProbeFit *f) {
    free(f->mean);
    free(f->sd);
    free(f->w);
    f->mean = f->sd = f->w = NULL;
}

/* Standardised copy of X (n, d) with the given mean/sd. */
static float *standardise(const float *X, int n, int d, const double *mean, const double *sd) {
    float *z = xmalloc((size_t)n * d * sizeof(float) + 1);
    for (size_t i = 0; i < (size_t)n; i++)
        for (int j = 0; j < d; j++) z[i * d + j] = (float)((X[i * d + j] - mean[j]) / sd[j]);
    return z;
}

static void decisions(const float *z, int n, int d, const double *wb, float *s) {
    for (int i = 0; i < n; i++) {
        double acc = wb[d];
        for (int j = 0; j < d; j++) acc += wb[j] * z[(size_t)i * d + j];
        s[i] = (float)acc;
    }
}

static int count_pos(const int *y, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += y[i] != 0;
    return k;
}

int probe_fit(const float *Xtr, const int *ytr, int ntr, const float *Xva, const int *yva, int nva,
              int d, const ProbeFitOptions *o, ProbeFit *out) {
    memset(out, 0, sizeof *out);
    if (o->n_lambda < 1 || o->n_lambda > PROBE_MAX_GRID || !(o->lambda_min > 0) ||
        !(o->lambda_max >= o->lambda_min))
        return kres_fail("probe", "bad regularisation grid (%d values in [%g, %g])", o->n_lambda,
                         o->lambda_min, o->lambda_max);
    const int vpos = count_pos(yva, nva);
    if (nva < 2 || vpos == 0 || vpos == nva)
        return kres_fail("probe", "validation set has %d positives of %d; both classes are needed "
                         "to choose the regularisation", vpos, nva);
    double *c = xmalloc((size_t)ntr * sizeof(double) + 1);
    if (logreg_balanced_weights(ytr, ntr, c) != 0) {
        free(c);
        return -1;
    }
    if (!o->balanced)
        for (int i = 0; i < ntr; i++) c[i] = 1.0;
    out->d = d;
    out->mean = xcalloc((size_t)d, sizeof(double));
    out->sd = xcalloc((size_t)d, sizeof(double));
    out->w = xcalloc((size_t)d, sizeof(double));
    /* Train mean and population sd, two passes in double. */
    for (size_t i = 0; i < (size_t)ntr; i++)
        for (int j = 0; j < d; j++) out->mean[j] += Xtr[i * d + j];
    for (int j = 0; j < d; j++) out->mean[j] /= ntr;
    for (size_t i = 0; i < (size_t)ntr; i++)
        for (int j = 0; j < d; j++) {
            double t = Xtr[i * d + j] - out->mean[j];
            out->sd[j] += t * t;
        }
    for (int j = 0; j < d; j++) {
        out->sd[j] = sqrt(out->sd[j] / ntr);
        /* A constant feature (e.g. a dead ReLU channel) carries nothing: sd 1 keeps it 0. */
        if (!(out->sd[j] > 1e-8 * (1.0 + fabs(out->mean[j])))) out->sd[j] = 1.0;
    }
    float *ztr = standardise(Xtr, ntr, d, out->mean, out->sd);
    float *zva = standardise(Xva, nva, d, out->mean, out->sd);
    float *sva = xmalloc((size_t)nva * sizeof(float));
    double *wb = xcalloc((size_t)d + 1, sizeof(double)), *best = xcalloc((size_t)d + 1, sizeof(double));
    out->n_lambda = o->n_lambda;
    out->chosen = -1;
    double best_auc = -1;
    int rc = 0;
    /* Strongest regularisation first; each fit warm-starts from the previous minimiser. */
    for (int k = 0; k < o->n_lambda; k++) {
        const double t = o->n_lambda == 1 ? 0.0 : (double)k / (o->n_lambda - 1);
        const double lam = o->lambda_max * pow(o->lambda_min / o->lambda_max, t);
        out->grid_lambda[k] = lam;
        out->grid_status[k] = logreg_fit(ztr, ytr, c, ntr, d, lam, wb, &out->grid_iters[k]);
        int finite = 1;
        for (int j = 0; j <= d; j++) finite &= isfinite(wb[j]);
        if (!finite) {
            rc = kres_fail("probe", "logistic regression diverged at lambda %g (liblbfgs status %d)",
                           lam, out->grid_status[k]);
            break;
        }
        decisions(zva, nva, d, wb, sva);
        KRES_ASSERT(roc_auc(sva, yva, nva, &out->grid_val_auc[k]) == 0);
        /* Ties (within rounding) keep the earlier, more regularised model. */
        if (out->grid_val_auc[k] > best_auc + 1e-12) {
            best_auc = out->grid_val_auc[k];
            out->chosen = k;
            memcpy(best, wb, (size_t)(d + 1) * sizeof(double));
        }
    }
    if (rc == 0) {
        out->lambda = out->grid_lambda[out->chosen];
        out->val_auc = best_auc;
        memcpy(out->w, best, (size_t)d * sizeof(double));
        out->b = best[d];
        /* Threshold on probabilities, as the saved model reports them. */
        decisions(zva, nva, d, best, sva);
        for (int i = 0; i < nva; i++) sva[i] = sigmoid_stable(sva[i]);
        if (choose_threshold(sva, yva, nva, o->threshold_rule, &out->threshold) != 0) rc = -1;
    }
    free(c);
    free(ztr);
    free(zva);
    free(sva);
    free(wb);
    free(best);
    if (rc) probe_fit_free(out);
    return rc;
}

double probe_decision(const ProbeFit *f, const float *e) {
    double s = f->b;
    for (int j = 0; j < f->d; j++) s += f->w[j] * ((e[j] - f->mean[j]) / f->sd[j]);
    return s;
}

void probe_grid_write_json(JsonWriter *w, const ProbeFit *f, int with_status) {
    /* The L-BFGS status is for the command's --json output only: checkpoint metadata has
     * never carried it, and adding it would change existing checkpoints' bytes. */
    jw_array_begin(w);
    for (int k = 0; k < f->n_lambda; k++) {
        jw_object_begin(w);
        jw_key(w, "lambda"), jw_number(w, f->grid_lambda[k]);
        jw_key(w, "val_auc"), jw_number(w, f->grid_val_auc[k]);
        jw_key(w, "iters"), jw_int(w, f->grid_iters[k]);
        if (with_status) jw_key(w, "status"), jw_int(w, f->grid_status[k]);
        jw_object_end(w);
    }
    jw_array_end(w);
}

void probe_fold_back(const ProbeFit *f, float *head_w, float *head_b) {
    double b = f->b;
    for (int j = 0; j < f->d; j++) {
        head_w[j] = (float)(f->w[j] / f->sd[j]);
        b -= f->w[j] * f->mean[j] / f->sd[j];
    }
    *head_b = (float)b;
}

/* ---- the pipeline ----------------------------------------------------------------------- */

void probe_options_default(ProbeOptions *o) {
    memset(o, 0, sizeof *o);
    o->task = "heart-block";
    o->protocol = PROTOCOL_PAPER;
    o->rate = 100;
    o->test_fold = 10;
    o->val_fold = 9;
    o->label_fraction = 1.0;
    o->seed = 1;
    probe_fit_options_default(&o->fit);
}

void probe_result_free(ProbeResult *r) {
    probe_fit_free(&r->fit);
    free(r->test_scores);
    free(r->test_labels);
    free(r->test_ecg_id);
    free(r->val_scores);
    free(r->val_labels);
    memset(r, 0, sizeof *r);
}

/* Embeddings of the cohort positions idx[0..n) into out (n, E). */
static int embed_positions(Kres *m, const PreprocConfig *pc, const Cohort *c, const int *idx, int n,
                           float *out) {
    const char **paths = xmalloc((size_t)n * sizeof(char *) + 1);
    for (int i = 0; i < n; i++) paths[i] = c->path[idx[i]];
    int rc = embed_records(m, PROBE_BATCH, pc, paths, n, out, NULL);
    free(paths);
    return rc;
}

int probe_embed_cohort(const char *encoder_path, const Cohort *c, float **out, int *E, int quiet) {
    Kres *m;
    PreprocConfig pc;
    *out = NULL;
    if (embed_open_encoder(encoder_path, 0, PROBE_BATCH, &m, &pc, NULL) != 0) return -1;
    *E = kres_embed_dim(kres_config(m));
    int *all = xmalloc((size_t)c->n * sizeof(int) + 1);
    for (int i = 0; i < c->n; i++) all[i] = i;
    *out = xmalloc((size_t)c->n * *E * sizeof(float) + 1);
    double t0 = now_seconds();
    int rc = embed_positions(m, &pc, c, all, c->n, *out);
    if (rc == 0 && !quiet)
        fprintf(stderr, "probe: embedded %d ECGs in %.1f s\n", c->n, now_seconds() - t0);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    free(all);
    kres_free(m);
    return rc;
}

static void gather(const float *all, const int *idx, int n, int E, float *out) {
    for (int i = 0; i < n; i++) memcpy(out + (size_t)i * E, all + (size_t)idx[i] * E, (size_t)E * sizeof(float));
}

/* One probe: the cohort and its split, the encoder, the embeddings and labels. */
typedef struct {
    const ProbeOptions *o;
    PtbxlDb own;                 /* opened here unless o->db is given */
    int own_open;
    Task task;
    Cohort c;
    int *tr, *va, *te, *sub;     /* cohort positions: training folds, validation, test, subset */
    int nsub;
    Kres *m;
    PreprocConfig pc;
    int E;                       /* embedding width */
    float *Xtr, *Xva, *Xte;      /* embeddings of the subset, validation and test (n, E) */
    int *ytr;
} Probe;

static void probe_free(Probe *p) {
    free(p->Xtr), free(p->Xva), free(p->Xte), free(p->ytr);
    free(p->tr), free(p->va), free(p->te), free(p->sub);
    kres_free(p->m);
    cohort_free(&p->c);
    if (p->own_open) ptbxl_close(&p->own);
}

/* The task's cohort (the trainer's record check), its folds and the labelled subset. */
static int probe_split(Probe *p, ProbeResult *r) {
    const ProbeOptions *o = p->o;
    const PtbxlDb *db = o->db;
    if (!db) {
        if (ptbxl_open(o->data_dir, &p->own) != 0) return -1;
        p->own_open = 1;
        db = &p->own;
    }
    CohortOptions co = cohort_options_default();
    co.protocol = o->protocol;
    co.rate = o->rate;
    co.min_likelihood = o->min_likelihood;
    /* The trainer's check (trainer.c): every header read, bad records left out, so that the
     * probe, supervised and fine-tuned models of one experiment see the same records. */
    co.check_files = 2;
    if (task_parse(o->task, db, &p->task) != 0 || cohort_build(db, &p->task, co, &p->c) != 0) return -1;
    const int n = p->c.n;
    p->tr = xmalloc((size_t)n * sizeof(int) + 1);
    p->va = xmalloc((size_t)n * sizeof(int) + 1);
    p->te = xmalloc((size_t)n * sizeof(int) + 1);
    p->sub = xmalloc((size_t)n * sizeof(int) + 1);
    int ntr0;
    if (cohort_split(&p->c, o->test_fold, o->val_fold, p->tr, &ntr0, p->va, &r->nval, p->te, &r->ntest) != 0)
        return -1;
    if (o->val_fold == 0) return kres_fail("probe", "a validation fold is required to choose the regularisation");
    if (o->label_fraction < 1.0) {
        if (subset_label_fraction(&p->c, p->tr, ntr0, o->label_fraction, o->seed, p->sub, &p->nsub) != 0) return -1;
    } else {
        memcpy(p->sub, p->tr, (size_t)ntr0 * sizeof(int));
        p->nsub = ntr0;
    }
    r->ntrain = p->nsub;
    return 0;
}

/* The frozen encoder's embeddings of the subset, validation and test ECGs (or the given
 * cohort embeddings), and their labels. */
static int probe_embed(Probe *p, ProbeResult *r) {
    const ProbeOptions *o = p->o;
    if (embed_open_encoder(o->encoder_path, 1, PROBE_BATCH, &p->m, &p->pc, NULL) != 0) return -1;
    const int E = p->E = kres_embed_dim(kres_config(p->m)), nsub = p->nsub;
    const double t0 = now_seconds();
    p->Xtr = xmalloc((size_t)nsub * E * sizeof(float) + 1);
    p->Xva = xmalloc((size_t)r->nval * E * sizeof(float) + 1);
    p->Xte = xmalloc((size_t)r->ntest * E * sizeof(float) + 1);
    if (o->cohort_embeddings) {
        gather(o->cohort_embeddings, p->sub, nsub, E, p->Xtr);
        gather(o->cohort_embeddings, p->va, r->nval, E, p->Xva);
        gather(o->cohort_embeddings, p->te, r->ntest, E, p->Xte);
    } else {
        if (!o->quiet)
            fprintf(stderr, "probe: embedding %d train, %d validation, %d test ECGs\n", nsub, r->nval, r->ntest);
        if (embed_positions(p->m, &p->pc, &p->c, p->sub, nsub, p->Xtr) != 0 ||
            embed_positions(p->m, &p->pc, &p->c, p->va, r->nval, p->Xva) != 0 ||
            embed_positions(p->m, &p->pc, &p->c, p->te, r->ntest, p->Xte) != 0)
            return -1;
    }
    r->seconds_embed = now_seconds() - t0;
    p->ytr = xmalloc((size_t)nsub * sizeof(int) + 1);
    r->val_labels = xmalloc((size_t)r->nval * sizeof(int) + 1);
    r->test_labels = xmalloc((size_t)r->ntest * sizeof(int) + 1);
    r->test_ecg_id = xmalloc((size_t)r->ntest * sizeof(int) + 1);
    for (int i = 0; i < nsub; i++) p->ytr[i] = p->c.label[p->sub[i]];
    for (int i = 0; i < r->nval; i++) r->val_labels[i] = p->c.label[p->va[i]];
    for (int i = 0; i < r->ntest; i++) {
        r->test_labels[i] = p->c.label[p->te[i]];
        r->test_ecg_id[i] = p->c.ecg_id[p->te[i]];
    }
    r->ntrain_pos = count_pos(p->ytr, nsub);
    r->nval_pos = count_pos(r->val_labels, r->nval);
    r->ntest_pos = count_pos(r->test_labels, r->ntest);
    return 0;
}

/* Fold the fit back into the model's head, score validation and test as a forward pass
 * would (from the folded float head), and evaluate the test fold. */
static int probe_score(Probe *p, ProbeResult *r) {
    const int E = p->E;
    /* The folded head makes the model's logit the probe's decision value. */
    const KresTensor *hw = kres_find_tensor(p->m, "head.weight"), *hb = kres_find_tensor(p->m, "head.bias");
    float *head_w = kres_params(p->m) + hw->offset, *head_b = kres_params(p->m) + hb->offset;
    probe_fold_back(&r->fit, head_w, head_b);
    r->val_scores = xmalloc((size_t)r->nval * sizeof(float) + 1);
    r->test_scores = xmalloc((size_t)r->ntest * sizeof(float) + 1);
    for (int s = 0; s < 2; s++) {
        const float *X = s ? p->Xte : p->Xva;
        float *out = s ? r->test_scores : r->val_scores;
        const int n = s ? r->ntest : r->nval;
        for (int i = 0; i < n; i++) {
            double z = *head_b;
            for (int j = 0; j < E; j++) z += (double)head_w[j] * X[(size_t)i * E + j];
            out[i] = sigmoid_stable((float)z);
        }
    }
    if (r->ntest == 0) return 0;
    EvalOptions eo;
    eval_options_default(&eo);
    int erc = eval_binary(r->test_scores, r->test_labels, r->ntest, r->fit.threshold, &eo, &r->test);
    if (erc < 0) return -1;
    r->test_auc_defined = erc == 0;
    snprintf(r->test.threshold_rule, sizeof r->test.threshold_rule, "%.24s on validation",
             p->o->fit.threshold_rule);
    return 0;
}

/* The probe as a classifier checkpoint: the encoder with the folded head, the probe's
 * settings and grid in its metadata. */
static int probe_save(Probe *p, const ProbeResult *r) {
    const ProbeOptions *o = p->o;
    char pj[512];
    if (preproc_to_json(&p->pc, pj, sizeof pj) < 0) return -1;
    char *task_json = task_json_make(&p->task, o->protocol, o->rate, o->min_likelihood, 0);
    char *prov = ckpt_provenance_json(o->data_dir, o->seed, o->argc, o->argv);
    JsonWriter w;
    jw_init(&w);
    jw_object_begin(&w);
    jw_key(&w, "method");
    jw_string(&w, "L2 logistic regression on standardised frozen embeddings (L-BFGS), folded back");
    jw_key(&w, "encoder"), jw_string(&w, o->encoder_path);
    jw_key(&w, "lambda"), jw_number(&w, r->fit.lambda);
    jw_key(&w, "val_auc"), jw_number(&w, r->fit.val_auc);
    jw_key(&w, "class_weights"), jw_string(&w, o->fit.balanced ? "balanced" : "none");
    jw_key(&w, "threshold_rule"), jw_string(&w, o->fit.threshold_rule);
    jw_key(&w, "label_fraction"), jw_number(&w, o->label_fraction);
    jw_key(&w, "folds");
    jw_object_begin(&w);
    jw_key(&w, "test"), jw_int(&w, o->test_fold);
    jw_key(&w, "val"), jw_int(&w, o->val_fold);
    jw_object_end(&w);
    jw_key(&w, "ntrain"), jw_int(&w, r->ntrain);
    jw_key(&w, "grid");
    probe_grid_write_json(&w, &r->fit, 0);
    jw_object_end(&w);
    char rule[64], auc_s[32], vf_s[16], tf_s[16];
    snprintf(rule, sizeof rule, "%.32s on validation fold %d", o->fit.threshold_rule, o->val_fold);
    snprintf(auc_s, sizeof auc_s, "%.17g", r->fit.val_auc);
    snprintf(vf_s, sizeof vf_s, "%d", o->val_fold);
    snprintf(tf_s, sizeof tf_s, "%d", o->test_fold);
    const char *keys[] = {"probe", "threshold_rule", "val_auc", "val_fold", "test_fold"};
    const char *vals[] = {w.buf, rule, auc_s, vf_s, tf_s};
    CkptMeta meta = {"classifier", pj, task_json, prov, r->fit.threshold, 5, keys, vals};
    int rc = ckpt_save(o->out_path, p->m, &meta, NULL, 0);
    jw_free(&w);
    free(task_json);
    free(prov);
    return rc;
}

int probe_run(const ProbeOptions *o, ProbeResult *r) {
    memset(r, 0, sizeof *r);
    if (!o->encoder_path || !o->data_dir) return kres_fail("probe", "encoder and data directory are required");
    if (!(o->label_fraction > 0 && o->label_fraction <= 1))
        return kres_fail("probe", "label fraction must be in (0, 1], got %g", o->label_fraction);
    Probe p;
    memset(&p, 0, sizeof p);
    p.o = o;
    int rc = -1;
    if (probe_split(&p, r) != 0 || probe_embed(&p, r) != 0) goto done;
    const double t1 = now_seconds();
    if (probe_fit(p.Xtr, p.ytr, p.nsub, p.Xva, r->val_labels, r->nval, p.E, &o->fit, &r->fit) != 0) goto done;
    r->seconds_fit = now_seconds() - t1;
    if (probe_score(&p, r) != 0) goto done;
    if (o->out_path && probe_save(&p, r) != 0) goto done;
    rc = 0;
done:
    probe_free(&p);
    return rc;
}
