/* kres.c — the KRes network assembled from the layers in src/nn (see kres.h for the
 * architecture and the dimension legend).
 *
 * Layout follows llm.c's train_gpt2.c: a tensor table fixes the order and shape of every
 * parameter and BN running statistic; parameters, gradients and buffers are each one flat
 * allocation, and named views (ParamViews, BufViews) point into them. Activations for
 * max_batch live in one more flat allocation, so forward and backward never allocate. */
#include "nn/kres.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "nn/activation.h"
#include "nn/batchnorm.h"
#include "nn/conv1d.h"
#include "nn/conv1d_dnnl.h"
#include "nn/elementwise.h"
#include "nn/frozen.h"
#include "nn/fused.h"
#include "nn/linear.h"
#include "nn/pool.h"

/* ------------------------------------------------------------------------------------ */
/* Configuration */

void kres_config_default(KresConfig *c) {
    static const int widths[4] = {128, 196, 256, 320};
    memset(c, 0, sizeof *c);
    c->in_leads = 12;
    c->in_len = 1024;
    c->stem_width = 64;
    c->kernel = 17;
    c->nunits = 4;
    for (int i = 0; i < 4; i++) c->widths[i] = widths[i];
    c->downsample = 4;
    c->dropout = 0.2f;
    c->n_outputs = 1;
    c->proj_hidden = 320;
    c->proj_dim = 128;
    c->bn_momentum = 0.1f;
    c->bn_eps = 1e-5f;
}

/* Upper bounds keep every size product well inside size_t and int index arithmetic. */
enum { MAX_LEADS = 1024, MAX_LEN = 1 << 20, MAX_WIDTH = 8192, MAX_KERNEL = 255, MAX_OUT = 1 << 16 };

int kres_config_validate(const KresConfig *c) {
    const char *w = "model config";
    if (c->in_leads < 1 || c->in_leads > MAX_LEADS)
        return kres_fail(w, "in_leads must be in [1, %d], got %d", MAX_LEADS, c->in_leads);
    if (c->in_len < 1 || c->in_len > MAX_LEN)
        return kres_fail(w, "in_len must be in [1, %d], got %d", MAX_LEN, c->in_len);
    if (c->stem_width < 1 || c->stem_width > MAX_WIDTH)
        return kres_fail(w, "stem_width must be in [1, %d], got %d", MAX_WIDTH, c->stem_width);
    if (c->kernel < 1 || c->kernel > MAX_KERNEL || c->kernel % 2 == 0)
        return kres_fail(w, "kernel must be odd and in [1, %d] (for 'same' padding), got %d",
                         MAX_KERNEL, c->kernel);
    if (c->nunits < 1 || c->nunits > KRES_MAX_UNITS)
        return kres_fail(w, "nunits must be in [1, %d], got %d", KRES_MAX_UNITS, c->nunits);
    for (int i = 0; i < c->nunits; i++)
        if (c->widths[i] < 1 || c->widths[i] > MAX_WIDTH)
            return kres_fail(w, "widths[%d] must be in [1, %d], got %d", i, MAX_WIDTH, c->widths[i]);
    if (c->downsample < 1 || c->downsample > 64)
        return kres_fail(w, "downsample must be in [1, 64], got %d", c->downsample);
    long total = 1;
    for (int i = 0; i < c->nunits; i++) {
        total *= c->downsample;
        if (total > c->in_len) break;
    }
    if (total > c->in_len || c->in_len % total != 0)
        return kres_fail(w, "in_len %d must be divisible by downsample^nunits = %d^%d", c->in_len,
                         c->downsample, c->nunits);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return kres_fail(w, "dropout must be in [0, 1), got %g", (double)c->dropout);
    if (c->n_outputs < 0 || c->n_outputs > MAX_OUT)
        return kres_fail(w, "n_outputs must be in [0, %d], got %d", MAX_OUT, c->n_outputs);
    if (c->proj_hidden < 0 || c->proj_hidden > MAX_WIDTH)
        return kres_fail(w, "proj_hidden must be in [0, %d], got %d", MAX_WIDTH, c->proj_hidden);
    if (c->proj_hidden > 0 && (c->proj_dim < 1 || c->proj_dim > MAX_WIDTH))
        return kres_fail(w, "proj_dim must be in [1, %d] when proj_hidden > 0, got %d", MAX_WIDTH,
                         c->proj_dim);
    if (!(c->bn_momentum >= 0.0f && c->bn_momentum <= 1.0f))
        return kres_fail(w, "bn_momentum must be in [0, 1], got %g", (double)c->bn_momentum);
    if (!(c->bn_eps > 0.0f && c->bn_eps < 1.0f))
        return kres_fail(w, "bn_eps must be in (0, 1), got %g", (double)c->bn_eps);
    return 0;
}

int kres_embed_dim(const KresConfig *c) { return c->widths[c->nunits - 1]; }

/* Shortest decimal that reads back as the same float, so JSON round trips are exact and
 * 0.2f prints as 0.2 rather than 0.200000003. */
static void float_repr(char *out, size_t n, float x) {
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(out, n, "%.*g", prec, (double)x);
        if (strtof(out, NULL) == x) return;
    }
}

int kres_config_to_json(const KresConfig *c, char *buf, int n) {
    char drop[32], mom[32], eps[32], widths[KRES_MAX_UNITS * 12 + 2];
    float_repr(drop, sizeof drop, c->dropout);
    float_repr(mom, sizeof mom, c->bn_momentum);
    float_repr(eps, sizeof eps, c->bn_eps);
    int k = snprintf(widths, sizeof widths, "[");
    for (int i = 0; i < c->nunits && i < KRES_MAX_UNITS; i++)
        k += snprintf(widths + k, sizeof widths - (size_t)k, "%s%d", i ? ", " : "", c->widths[i]);
    snprintf(widths + k, sizeof widths - (size_t)k, "]");
    int w = snprintf(buf, n > 0 ? (size_t)n : 0,
                     "{\"in_leads\": %d, \"in_len\": %d, \"stem_width\": %d, \"kernel\": %d, "
                     "\"widths\": %s, \"downsample\": %d, \"dropout\": %s, \"n_outputs\": %d, "
                     "\"proj_hidden\": %d, \"proj_dim\": %d, \"bn_momentum\": %s, \"bn_eps\": %s}",
                     c->in_leads, c->in_len, c->stem_width, c->kernel, widths, c->downsample, drop,
                     c->n_outputs, c->proj_hidden, c->proj_dim, mom, eps);
    if (w < 0 || w >= n) return kres_fail("model config", "JSON needs %d bytes, buffer has %d", w + 1, n);
    return w;
}

/* ------------------------------------------------------------------------------------ */
/* Geometry: per-unit widths and lengths, shared by the model, the MAC count and the summary. */

typedef struct {
    int win, w;     /* input and output width of the unit */
    int lin, lout;  /* input and output length (lout = lin / S) */
    int has_skip;   /* 1x1 convolution on the skip path (win != w) */
} UnitGeom;

static void unit_geom(const KresConfig *c, int i, UnitGeom *g) {
    g->win = i == 0 ? c->stem_width : c->widths[i - 1];
    g->w = c->widths[i];
    g->lin = c->in_len;
    for (int j = 0; j < i; j++) g->lin /= c->downsample;
    g->lout = g->lin / c->downsample;
    g->has_skip = g->win != g->w;
}

/* ------------------------------------------------------------------------------------ */
/* Tensor table and named views */

/* Parameter views: the same struct points into params and into grads (llm.c style). */
typedef struct {
    float *conv1_w, *bn1_w, *bn1_b;  /* (W, Win, K), (W), (W) */
    float *conv2_w;                  /* (W, W, K), stride S */
    float *skip_w;                   /* (W, Win, 1) or NULL where the width is unchanged */
    float *bn2_w, *bn2_b;            /* (W), (W) */
} UnitParams;
typedef struct {
    float *stem_w, *stem_bn_w, *stem_bn_b;  /* (W0, C, K), (W0), (W0) */
    UnitParams u[KRES_MAX_UNITS];
    float *head_w, *head_b;                 /* (O, E), (O) */
    float *fc1_w, *fc1_b, *fc2_w, *fc2_b;   /* (H, E), (H), (P, H), (P) */
} ParamViews;
/* BN running statistics (buffers). */
typedef struct {
    float *rm, *rv;
} BnStats;
typedef struct {
    BnStats stem, bn1[KRES_MAX_UNITS], bn2[KRES_MAX_UNITS];
} BufViews;

/* Index of each tensor in the table (-1 where absent); views are resolved from these. */
typedef struct {
    int stem_w, stem_bn_w, stem_bn_b, stem_rm, stem_rv;
    int conv1_w[KRES_MAX_UNITS], bn1_w[KRES_MAX_UNITS], bn1_b[KRES_MAX_UNITS];
    int bn1_rm[KRES_MAX_UNITS], bn1_rv[KRES_MAX_UNITS], conv2_w[KRES_MAX_UNITS];
    int skip_w[KRES_MAX_UNITS], bn2_w[KRES_MAX_UNITS], bn2_b[KRES_MAX_UNITS];
    int bn2_rm[KRES_MAX_UNITS], bn2_rv[KRES_MAX_UNITS];
    int head_w, head_b, fc1_w, fc1_b, fc2_w, fc2_b;
} TensorIds;

/* Forward activations of one residual unit, sized for max_batch (shapes per batch). */
typedef struct {
    float *c1;                /* (B, W, Lin)  conv1 output (batch norm backward input) */
    float *r1;                /* (B, W, Lin)  relu(bn1(c1)) */
    float *d1;                /* (B, W, Lin)  dropout(r1), conv2's input */
    uint8_t *mask1;           /* (B, W, Lin)  dropout keep mask */
    float *mean1, *rstd1;     /* (W)          bn1 batch statistics */
    float *c2;                /* (B, W, Lout) strided conv2 output */
    float *pool;              /* (B, Win, Lout) maxpool_S(x_skip) */
    int32_t *pidx;            /* (B, Win, Lout) argmax positions */
    float *sk;                /* (B, W, Lout) 1x1 conv of pool, NULL where width is unchanged */
    float *sum;               /* (B, W, Lout) c2 + skip: the unit's x_skip output */
    float *r2;                /* (B, W, Lout) relu(bn2(sum)) */
    float *d2;                /* (B, W, Lout) dropout(r2): the unit's x_main output (training) */
    uint8_t *mask2;           /* (B, W, Lout) */
    float *mean2, *rstd2;     /* (W) */
} UnitActs;
typedef struct {
    float *x;                 /* (B, C, L)    copy of the input (stem conv backward needs it) */
    float *c0;                /* (B, W0, L)   stem conv output */
    float *h;                 /* (B, W0, L)   relu(bn(c0)): x_main = x_skip of unit 0 */
    float *mean0, *rstd0;     /* (W0) */
    UnitActs u[KRES_MAX_UNITS];
    float *embed;             /* (B, E) */
    float *logits;            /* (B, O) */
    float *h1;                /* (B, H)       relu(fc1(embed)) */
    float *proj;              /* (B, P) */
} Acts;
/* Activation gradients. Units run backward one at a time, so only the gradients at unit
 * boundaries persist: boundary j (0 = stem output, j = i+1 after unit i) keeps d x_main and
 * d x_skip in ping-pong set j % 2; everything inside a unit uses shared scratch. */
typedef struct {
    float *dmain[2], *dskip[2];  /* (B, Wj, Lj) for the largest boundary of each parity */
    float *wa, *wb;              /* (B, W, Lin) scratch, largest unit (or stem) */
    float *dpool;                /* (B, Win, Lout) */
    float *dembed;               /* (B, E) */
    float *dh1, *dfc1;           /* (B, H) */
} GradActs;

struct Kres {
    KresConfig cfg;
    int max_batch;
    UnitGeom geom[KRES_MAX_UNITS];
    int ntensors;
    KresTensor tensors[KRES_MAX_TENSORS];
    TensorIds id;
    size_t nparams, nbuffers, nenc;
    float *params, *grads, *buffers;
    ParamViews p, g;
    BufViews b;
    void *act_mem, *dact_mem;   /* the two flat activation allocations (64-byte aligned) */
    void *act_raw, *dact_raw;   /* what calloc returned, for free() */
    size_t act_bytes, dact_bytes;
    Acts a;
    GradActs d;
    float *work;                /* convolution workspace */
    size_t work_n;
    int last_B, last_training;  /* what kres_backward differentiates */
    uint64_t freeze_gen;        /* kres_freeze's promise (nn/frozen.h), 0 = none */
};

/* Append a tensor; parameters and buffers get consecutive offsets in their own arrays. */
static int add_tensor(Kres *m, KresTensorKind kind, int ndim, int d0, int d1, int d2,
                      const char *fmt, int unit) {
    KRES_ASSERT(m->ntensors < KRES_MAX_TENSORS);
    KresTensor *t = &m->tensors[m->ntensors];
    memset(t, 0, sizeof *t);
    int w = snprintf(t->name, sizeof t->name, fmt, unit);
    KRES_ASSERT(w > 0 && (size_t)w < sizeof t->name);
    t->kind = kind;
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim > 1 ? d1 : 0;
    t->shape[2] = ndim > 2 ? d2 : 0;
    t->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1) * (size_t)(ndim > 2 ? d2 : 1);
    size_t *counter = kind == KRES_PARAM ? &m->nparams : &m->nbuffers;
    t->offset = *counter;
    *counter += t->numel;
    return m->ntensors++;
}

/* BN weight, bias and running statistics, in PyTorch's state_dict order. */
static void add_bn(Kres *m, int width, const char *prefix, int unit, int *w, int *b, int *rm, int *rv) {
    char fmt[48];
    snprintf(fmt, sizeof fmt, "%s.weight", prefix);
    *w = add_tensor(m, KRES_PARAM, 1, width, 0, 0, fmt, unit);
    snprintf(fmt, sizeof fmt, "%s.bias", prefix);
    *b = add_tensor(m, KRES_PARAM, 1, width, 0, 0, fmt, unit);
    snprintf(fmt, sizeof fmt, "%s.running_mean", prefix);
    *rm = add_tensor(m, KRES_BUFFER, 1, width, 0, 0, fmt, unit);
    snprintf(fmt, sizeof fmt, "%s.running_var", prefix);
    *rv = add_tensor(m, KRES_BUFFER, 1, width, 0, 0, fmt, unit);
}

/* The table: encoder (stem, units) first so that it is the parameter prefix, then head, then
 * projection. Names are the PyTorch module paths of bench/kres_twin.py. */
static void build_table(Kres *m) {
    const KresConfig *c = &m->cfg;
    TensorIds *id = &m->id;
    memset(id, -1, sizeof *id);
    const int K = c->kernel, E = kres_embed_dim(c);
    id->stem_w = add_tensor(m, KRES_PARAM, 3, c->stem_width, c->in_leads, K, "stem.conv.weight", 0);
    add_bn(m, c->stem_width, "stem.bn", 0, &id->stem_bn_w, &id->stem_bn_b, &id->stem_rm, &id->stem_rv);
    for (int i = 0; i < c->nunits; i++) {
        const UnitGeom *g = &m->geom[i];
        id->conv1_w[i] = add_tensor(m, KRES_PARAM, 3, g->w, g->win, K, "units.%d.conv1.weight", i);
        add_bn(m, g->w, "units.%d.bn1", i, &id->bn1_w[i], &id->bn1_b[i], &id->bn1_rm[i], &id->bn1_rv[i]);
        id->conv2_w[i] = add_tensor(m, KRES_PARAM, 3, g->w, g->w, K, "units.%d.conv2.weight", i);
        if (g->has_skip)
            id->skip_w[i] = add_tensor(m, KRES_PARAM, 3, g->w, g->win, 1, "units.%d.skip.weight", i);
        add_bn(m, g->w, "units.%d.bn2", i, &id->bn2_w[i], &id->bn2_b[i], &id->bn2_rm[i], &id->bn2_rv[i]);
    }
    m->nenc = m->nparams;
    if (c->n_outputs > 0) {
        id->head_w = add_tensor(m, KRES_PARAM, 2, c->n_outputs, E, 0, "head.weight", 0);
        id->head_b = add_tensor(m, KRES_PARAM, 1, c->n_outputs, 0, 0, "head.bias", 0);
    }
    if (c->proj_hidden > 0) {
        id->fc1_w = add_tensor(m, KRES_PARAM, 2, c->proj_hidden, E, 0, "proj.fc1.weight", 0);
        id->fc1_b = add_tensor(m, KRES_PARAM, 1, c->proj_hidden, 0, 0, "proj.fc1.bias", 0);
        id->fc2_w = add_tensor(m, KRES_PARAM, 2, c->proj_dim, c->proj_hidden, 0, "proj.fc2.weight", 0);
        id->fc2_b = add_tensor(m, KRES_PARAM, 1, c->proj_dim, 0, 0, "proj.fc2.bias", 0);
    }
}

static float *view(const Kres *m, float *base, int id) {
    return id < 0 ? NULL : base + m->tensors[id].offset;
}

/* Point a ParamViews at a flat array laid out like params (params or grads). */
static void point_params(const Kres *m, float *base, ParamViews *v) {
    const TensorIds *id = &m->id;
    memset(v, 0, sizeof *v);
    v->stem_w = view(m, base, id->stem_w);
    v->stem_bn_w = view(m, base, id->stem_bn_w);
    v->stem_bn_b = view(m, base, id->stem_bn_b);
    for (int i = 0; i < m->cfg.nunits; i++) {
        UnitParams *u = &v->u[i];
        u->conv1_w = view(m, base, id->conv1_w[i]);
        u->bn1_w = view(m, base, id->bn1_w[i]);
        u->bn1_b = view(m, base, id->bn1_b[i]);
        u->conv2_w = view(m, base, id->conv2_w[i]);
        u->skip_w = view(m, base, id->skip_w[i]);
        u->bn2_w = view(m, base, id->bn2_w[i]);
        u->bn2_b = view(m, base, id->bn2_b[i]);
    }
    v->head_w = view(m, base, id->head_w);
    v->head_b = view(m, base, id->head_b);
    v->fc1_w = view(m, base, id->fc1_w);
    v->fc1_b = view(m, base, id->fc1_b);
    v->fc2_w = view(m, base, id->fc2_w);
    v->fc2_b = view(m, base, id->fc2_b);
}

static void point_buffers(Kres *m) {
    const TensorIds *id = &m->id;
    BufViews *b = &m->b;
    b->stem.rm = view(m, m->buffers, id->stem_rm);
    b->stem.rv = view(m, m->buffers, id->stem_rv);
    for (int i = 0; i < m->cfg.nunits; i++) {
        b->bn1[i].rm = view(m, m->buffers, id->bn1_rm[i]);
        b->bn1[i].rv = view(m, m->buffers, id->bn1_rv[i]);
        b->bn2[i].rm = view(m, m->buffers, id->bn2_rm[i]);
        b->bn2[i].rv = view(m, m->buffers, id->bn2_rv[i]);
    }
}

/* Deterministic initialisation in table order from one seeded stream:
 * convolutions: He normal, std = sqrt(2 / fan_in) with fan_in = Cin*K (ReLU follows);
 * linear layers: PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias;
 * BN: weight 1, bias 0, running mean 0, running variance 1. */
/* BN tensors start as the identity: weight and running_var 1, bias and running_mean 0. */
static float bn_initial_value(const char *name) {
    return strstr(name, ".weight") || strstr(name, ".running_var") ? 1.0f : 0.0f;
}

static void init_weights(Kres *m, uint64_t seed) {
    Rng rng;
    rng_seed(&rng, seed);
    for (int t = 0; t < m->ntensors; t++) {
        const KresTensor *T = &m->tensors[t];
        float *x = (T->kind == KRES_PARAM ? m->params : m->buffers) + T->offset;
        const char *name = T->name;
        size_t len = strlen(name);
        int is_bias = len >= 5 && strcmp(name + len - 5, ".bias") == 0;
        if (T->ndim == 3) {
            double std = sqrt(2.0 / ((double)T->shape[1] * T->shape[2]));
            for (size_t k = 0; k < T->numel; k++) x[k] = (float)(std * rng_normal(&rng));
        } else if (T->ndim == 2 || (is_bias && (strncmp(name, "head.", 5) == 0 ||
                                                strncmp(name, "proj.", 5) == 0))) {
            /* For a bias the fan-in is the weight's input width (the tensor just before). */
            int fan_in = T->ndim == 2 ? T->shape[1] : m->tensors[t - 1].shape[1];
            double bound = 1.0 / sqrt((double)fan_in);
            for (size_t k = 0; k < T->numel; k++)
                x[k] = (float)(bound * (2.0 * rng_uniform(&rng) - 1.0));
        } else {
            const float v = bn_initial_value(name);
            for (size_t k = 0; k < T->numel; k++) x[k] = v;
        }
    }
}

/* Batch-norm running statistics at their initial values. */
static void init_buffers(Kres *m) {
    for (int t = 0; t < m->ntensors; t++) {
        const KresTensor *T = &m->tensors[t];
        if (T->kind != KRES_BUFFER) continue;
        const float v = bn_initial_value(T->name);
        for (size_t k = 0; k < T->numel; k++) m->buffers[T->offset + k] = v;
    }
}

const KresConfig *kres_config(const Kres *m) { return &m->cfg; }
float *kres_params(Kres *m) {
    m->freeze_gen = 0; /* the caller may write: the promise ends */
    return m->params;
}

void kres_freeze(Kres *m, int frozen) { m->freeze_gen = frozen ? frozen_new_generation() : 0; }
size_t kres_num_params(const Kres *m) { return m->nparams; }
/* Parameter gradients are allocated (zeroed) on first use, like the activation gradients:
 * a model that only runs inference (predict, embed, eval) never holds their 4 bytes per
 * parameter. */
static void ensure_grads(Kres *m) {
    if (m->grads) return;
    m->grads = xmalloc_aligned(m->nparams * sizeof(float));
    par_zero(m->grads, m->nparams);
    point_params(m, m->grads, &m->g);
}

float *kres_grads(Kres *m) {
    ensure_grads(m);
    return m->grads;
}
float *kres_buffers(Kres *m) { return m->buffers; }
size_t kres_num_buffers(const Kres *m) { return m->nbuffers; }
size_t kres_num_encoder_params(const Kres *m) { return m->nenc; }
int kres_num_tensors(const Kres *m) { return m->ntensors; }
const KresTensor *kres_tensor(const Kres *m, int i) {
    return i >= 0 && i < m->ntensors ? &m->tensors[i] : NULL;
}
const KresTensor *kres_find_tensor(const Kres *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}
void kres_zero_grad(Kres *m) {
    ensure_grads(m);
    par_zero(m->grads, m->nparams);
}

/* ------------------------------------------------------------------------------------ */
/* Size accounting: MACs per ECG and the layer table. Only convolutions and linear layers
 * count as MACs; batch norm, ReLU, dropout and pooling are elementwise and cheap. */

typedef struct {
    FILE *fp;          /* NULL: only accumulate */
    double params, macs;
} Tally;

static void row(Tally *t, const char *name, int d0, int d1, double params, double macs) {
    t->params += params;
    t->macs += macs;
    if (!t->fp) return;
    char shape[32];
    if (d1 > 0) snprintf(shape, sizeof shape, "%d x %d", d0, d1);
    else snprintf(shape, sizeof shape, "%d", d0);
    fprintf(t->fp, "  %-36s %-12s %10.0f %14.0f\n", name, shape, params, macs);
}

/* Walks the network once; prints rows when t->fp is set. Returns encoder MACs in *enc_macs. */
static void tally(const KresConfig *c, Tally *t, double *enc_params, double *enc_macs) {
    const double K = c->kernel;
    char name[64];
    row(t, "input", c->in_leads, c->in_len, 0, 0);
    snprintf(name, sizeof name, "stem.conv (k%d)", c->kernel);
    row(t, name, c->stem_width, c->in_len, (double)c->stem_width * c->in_leads * K,
        (double)c->stem_width * c->in_leads * K * c->in_len);
    row(t, "stem.bn + relu", c->stem_width, c->in_len, 2.0 * c->stem_width, 0);
    for (int i = 0; i < c->nunits; i++) {
        UnitGeom g;
        unit_geom(c, i, &g);
        snprintf(name, sizeof name, "units.%d.conv1 (k%d)", i, c->kernel);
        row(t, name, g.w, g.lin, (double)g.w * g.win * K, (double)g.w * g.win * K * g.lin);
        snprintf(name, sizeof name, "units.%d.bn1 + relu + dropout", i);
        row(t, name, g.w, g.lin, 2.0 * g.w, 0);
        snprintf(name, sizeof name, "units.%d.conv2 (k%d, stride %d)", i, c->kernel, c->downsample);
        row(t, name, g.w, g.lout, (double)g.w * g.w * K, (double)g.w * g.w * K * g.lout);
        if (g.has_skip) {
            snprintf(name, sizeof name, "units.%d.skip (maxpool%d + 1x1)", i, c->downsample);
            row(t, name, g.w, g.lout, (double)g.w * g.win, (double)g.w * g.win * g.lout);
        } else {
            snprintf(name, sizeof name, "units.%d.skip (maxpool%d)", i, c->downsample);
            row(t, name, g.w, g.lout, 0, 0);
        }
        snprintf(name, sizeof name, "units.%d.add + bn2 + relu + dropout", i);
        row(t, name, g.w, g.lout, 2.0 * g.w, 0);
    }
    const int E = kres_embed_dim(c);
    row(t, "embed (global average pool)", E, 0, 0, 0);
    *enc_params = t->params;
    *enc_macs = t->macs;
    if (c->n_outputs > 0)
        row(t, "head (linear)", c->n_outputs, 0, (double)c->n_outputs * (E + 1),
            (double)c->n_outputs * E);
    if (c->proj_hidden > 0) {
        row(t, "proj.fc1 + relu", c->proj_hidden, 0, (double)c->proj_hidden * (E + 1),
            (double)c->proj_hidden * E);
        row(t, "proj.fc2", c->proj_dim, 0, (double)c->proj_dim * (c->proj_hidden + 1),
            (double)c->proj_dim * c->proj_hidden);
    }
}

double kres_macs_per_example(const KresConfig *c) {
    Tally t = {NULL, 0, 0};
    double ep, em;
    tally(c, &t, &ep, &em);
    return t.macs;
}

void kres_print_summary(const KresConfig *c, FILE *fp) {
    Tally t = {fp, 0, 0};
    double enc_params, enc_macs;
    fprintf(fp, "  %-36s %-12s %10s %14s\n", "layer", "output", "params", "MACs");
    tally(c, &t, &enc_params, &enc_macs);
    fprintf(fp, "  %-36s %-12s %10.0f %14.0f\n", "encoder total", "", enc_params, enc_macs);
    fprintf(fp, "  %-36s %-12s %10.0f %14.0f\n", "total", "", t.params, t.macs);
    double nbuf = 2.0 * c->stem_width;
    for (int i = 0; i < c->nunits; i++) nbuf += 4.0 * c->widths[i];
    fprintf(fp, "  (output shapes are per ECG, channels x samples; MACs count the convolutions\n"
                "   and linear layers for one ECG; BN running statistics add %.0f buffer values)\n",
            nbuf);
}

/* ------------------------------------------------------------------------------------ */
/* Config from JSON. The architecture keys (in_leads, in_len, stem_width, kernel, widths,
 * downsample) are required: a checkpoint whose shape is only implied would be a trap.
 * The regularisation and head keys default to kres_config_default's values when absent.
 * Unknown keys are refused so a typo ("dropuot") cannot silently fall back to a default. */

static int json_int_field(const JsonValue *v, const char *key, int lo, int hi, int *out) {
    if (v->type != JSON_NUMBER || v->number != floor(v->number) || v->number < lo || v->number > hi)
        return kres_fail("model config", "'%s' must be an integer in [%d, %d]", key, lo, hi);
    *out = (int)v->number;
    return 0;
}

static int json_float_field(const JsonValue *v, const char *key, float *out) {
    if (v->type != JSON_NUMBER) return kres_fail("model config", "'%s' must be a number", key);
    *out = (float)v->number;
    return 0;
}

int kres_config_from_json(const char *json, KresConfig *c) {
    static const char *const required[] = {"in_leads", "in_len", "stem_width", "kernel", "widths",
                                           "downsample"};
    char err[256];
    JsonValue *root = json_parse(json, strlen(json), err, sizeof err);
    if (!root) return kres_fail("model config", "invalid JSON: %s", err);
    int rc = -1;
    KresConfig t;
    kres_config_default(&t);
    if (root->type != JSON_OBJECT) {
        kres_fail("model config", "expected a JSON object");
        goto done;
    }
    for (size_t r = 0; r < sizeof required / sizeof required[0]; r++)
        if (!json_get(root, required[r])) {
            kres_fail("model config", "missing key '%s'", required[r]);
            goto done;
        }
    for (int k = 0; k < root->n; k++) {
        const char *key = root->keys[k];
        const JsonValue *v = &root->items[k];
        int bad = 0;
        if (strcmp(key, "in_leads") == 0) bad = json_int_field(v, key, 0, MAX_LEADS, &t.in_leads);
        else if (strcmp(key, "in_len") == 0) bad = json_int_field(v, key, 0, MAX_LEN, &t.in_len);
        else if (strcmp(key, "stem_width") == 0) bad = json_int_field(v, key, 0, MAX_WIDTH, &t.stem_width);
        else if (strcmp(key, "kernel") == 0) bad = json_int_field(v, key, 0, MAX_KERNEL, &t.kernel);
        else if (strcmp(key, "downsample") == 0) bad = json_int_field(v, key, 0, 64, &t.downsample);
        else if (strcmp(key, "n_outputs") == 0) bad = json_int_field(v, key, 0, MAX_OUT, &t.n_outputs);
        else if (strcmp(key, "proj_hidden") == 0) bad = json_int_field(v, key, 0, MAX_WIDTH, &t.proj_hidden);
        else if (strcmp(key, "proj_dim") == 0) bad = json_int_field(v, key, 0, MAX_WIDTH, &t.proj_dim);
        else if (strcmp(key, "dropout") == 0) bad = json_float_field(v, key, &t.dropout);
        else if (strcmp(key, "bn_momentum") == 0) bad = json_float_field(v, key, &t.bn_momentum);
        else if (strcmp(key, "bn_eps") == 0) bad = json_float_field(v, key, &t.bn_eps);
        else if (strcmp(key, "widths") == 0) {
            if (v->type != JSON_ARRAY || v->n < 1 || v->n > KRES_MAX_UNITS) {
                kres_fail("model config", "'widths' must be an array of 1 to %d integers", KRES_MAX_UNITS);
                goto done;
            }
            memset(t.widths, 0, sizeof t.widths);
            t.nunits = v->n;
            for (int i = 0; i < v->n && !bad; i++)
                bad = json_int_field(&v->items[i], "widths[]", 1, MAX_WIDTH, &t.widths[i]);
        } else {
            kres_fail("model config", "unknown key '%s'", key);
            goto done;
        }
        if (bad) goto done;
    }
    if (kres_config_validate(&t) != 0) goto done;
    *c = t;
    rc = 0;
done:
    json_free(root);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Creation: one pass sizes every activation view, a second points the views into the
 * allocation (a NULL base only counts bytes). Each view is 64-byte aligned. */

typedef struct {
    char *base;
    size_t off;
} Arena;

static void *carve(Arena *a, size_t bytes) {
    size_t o = (a->off + 63) & ~(size_t)63;
    a->off = o + bytes;
    return a->base ? a->base + o : NULL;
}
#define CARVE_F(a, n) ((float *)carve((a), (size_t)(n) * sizeof(float)))

static void layout_acts(Kres *m, Arena *ar) {
    const KresConfig *c = &m->cfg;
    const size_t B = (size_t)m->max_batch;
    Acts *a = &m->a;
    a->x = CARVE_F(ar, B * c->in_leads * c->in_len);
    a->c0 = CARVE_F(ar, B * c->stem_width * c->in_len);
    a->h = CARVE_F(ar, B * c->stem_width * c->in_len);
    a->mean0 = CARVE_F(ar, c->stem_width);
    a->rstd0 = CARVE_F(ar, c->stem_width);
    for (int i = 0; i < c->nunits; i++) {
        const UnitGeom *g = &m->geom[i];
        UnitActs *u = &a->u[i];
        size_t nin = B * g->w * g->lin, nout = B * g->w * g->lout;
        u->c1 = CARVE_F(ar, nin);
        u->r1 = CARVE_F(ar, nin);
        u->d1 = CARVE_F(ar, nin);
        u->mask1 = carve(ar, nin);
        u->mean1 = CARVE_F(ar, g->w);
        u->rstd1 = CARVE_F(ar, g->w);
        u->c2 = CARVE_F(ar, nout);
        u->pool = CARVE_F(ar, B * g->win * g->lout);
        u->pidx = carve(ar, B * g->win * g->lout * sizeof(int32_t));
        u->sk = g->has_skip ? CARVE_F(ar, nout) : NULL;
        u->sum = CARVE_F(ar, nout);
        u->r2 = CARVE_F(ar, nout);
        u->d2 = CARVE_F(ar, nout);
        u->mask2 = carve(ar, nout);
        u->mean2 = CARVE_F(ar, g->w);
        u->rstd2 = CARVE_F(ar, g->w);
    }
    const size_t E = (size_t)kres_embed_dim(c);
    a->embed = CARVE_F(ar, B * E);
    a->logits = c->n_outputs > 0 ? CARVE_F(ar, B * c->n_outputs) : NULL;
    a->h1 = c->proj_hidden > 0 ? CARVE_F(ar, B * c->proj_hidden) : NULL;
    a->proj = c->proj_hidden > 0 ? CARVE_F(ar, B * c->proj_dim) : NULL;
}

static void layout_grad_acts(Kres *m, Arena *ar) {
    const KresConfig *c = &m->cfg;
    const size_t B = (size_t)m->max_batch;
    size_t bnd[2] = {(size_t)c->stem_width * c->in_len, 0};  /* boundary sizes per parity */
    size_t win = (size_t)c->stem_width * c->in_len, wpool = 0;
    for (int i = 0; i < c->nunits; i++) {
        const UnitGeom *g = &m->geom[i];
        size_t out = (size_t)g->w * g->lout, j = (size_t)(i + 1) % 2;
        if (out > bnd[j]) bnd[j] = out;
        if ((size_t)g->w * g->lin > win) win = (size_t)g->w * g->lin;
        if ((size_t)g->win * g->lout > wpool) wpool = (size_t)g->win * g->lout;
    }
    GradActs *d = &m->d;
    for (int s = 0; s < 2; s++) {
        d->dmain[s] = CARVE_F(ar, B * bnd[s]);
        d->dskip[s] = CARVE_F(ar, B * bnd[s]);
    }
    d->wa = CARVE_F(ar, B * win);
    d->wb = CARVE_F(ar, B * win);
    d->dpool = CARVE_F(ar, B * wpool);
    d->dembed = CARVE_F(ar, B * kres_embed_dim(c));
    d->dh1 = c->proj_hidden > 0 ? CARVE_F(ar, B * c->proj_hidden) : NULL;
    d->dfc1 = c->proj_hidden > 0 ? CARVE_F(ar, B * c->proj_hidden) : NULL;
}

/* Zeroed with calloc rather than memset: a large calloc maps fresh zero pages that cost no
 * memory until written, so views a mode never touches (dropout masks and gradients in
 * inference) stay out of the resident set. */
static void *alloc_layout(Kres *m, void (*layout)(Kres *, Arena *), size_t *bytes, void **raw) {
    Arena ar = {NULL, 0};
    layout(m, &ar);
    *bytes = ar.off;
    *raw = xcalloc(1, ar.off + 64);
    char *mem = (char *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
    ar.base = mem;
    ar.off = 0;
    layout(m, &ar);
    return mem;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* kres_create and kres_create_for_load: everything but the parameters' values. */
static Kres *create(const KresConfig *c, int max_batch) {
    if (kres_config_validate(c) != 0) return NULL;
    if (max_batch < 1 || max_batch > (1 << 20)) {
        kres_fail("model", "max_batch must be in [1, %d], got %d", 1 << 20, max_batch);
        return NULL;
    }
    Kres *m = xcalloc(1, sizeof *m);
    m->cfg = *c;
    for (int i = c->nunits; i < KRES_MAX_UNITS; i++) m->cfg.widths[i] = 0;
    m->max_batch = max_batch;
    for (int i = 0; i < c->nunits; i++) unit_geom(c, i, &m->geom[i]);
    build_table(m);
    m->params = xmalloc_aligned(m->nparams * sizeof(float));
    m->buffers = xmalloc_aligned(max_sz(m->nbuffers, 1) * sizeof(float));
    point_params(m, m->params, &m->p);
    point_buffers(m);
    m->act_mem = alloc_layout(m, layout_acts, &m->act_bytes, &m->act_raw);
    /* activation gradients: allocated by the first kres_backward (inference never needs them) */
    /* Workspace for the largest convolution. The fast backend's size is the largest any
     * backend needs, so switching backends later stays safe; it depends on the OpenMP
     * thread count, which must therefore be fixed before kres_create. */
    const int K = c->kernel, pad = (K - 1) / 2, S = c->downsample;
    size_t wn = conv1d_fast_workspace_size(max_batch, c->in_leads, c->stem_width, c->in_len, K, 1, pad);
    for (int i = 0; i < c->nunits; i++) {
        const UnitGeom *g = &m->geom[i];
        wn = max_sz(wn, conv1d_fast_workspace_size(max_batch, g->win, g->w, g->lin, K, 1, pad));
        wn = max_sz(wn, conv1d_fast_workspace_size(max_batch, g->w, g->w, g->lin, K, S, pad));
        if (g->has_skip)
            wn = max_sz(wn, conv1d_fast_workspace_size(max_batch, g->win, g->w, g->lout, 1, 1, 0));
    }
    m->work_n = wn;
    m->work = xmalloc_aligned(max_sz(wn, 1) * sizeof(float));
    return m;
}

Kres *kres_create(const KresConfig *c, int max_batch, uint64_t seed) {
    Kres *m = create(c, max_batch);
    if (m) init_weights(m, seed);
    return m;
}

Kres *kres_create_for_load(const KresConfig *c, int max_batch) {
    Kres *m = create(c, max_batch);
    if (m) {
        /* zeros, not garbage, if a caller leaves a tensor unloaded; running variances 1 */
        par_zero(m->params, m->nparams);
        init_buffers(m);
    }
    return m;
}

void kres_free(Kres *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->act_raw);
    free(m->dact_raw);
    free(m->work);
    free(m);
}

/* ------------------------------------------------------------------------------------ */
/* Forward: the flat list of layer calls of kres.h's diagram. */

void kres_forward(Kres *m, const float *x, int B, int training, Rng *rng) {
    const KresConfig *c = &m->cfg;
    KRES_ASSERT(B >= 1 && B <= m->max_batch);
    KRES_ASSERT(!training || c->dropout == 0.0f || rng != NULL);
    const int K = c->kernel, pad = (K - 1) / 2, S = c->downsample;
    const float p = c->dropout, mom = c->bn_momentum, eps = c->bn_eps;
    const ParamViews *P = &m->p;
    /* inference: weights unchanged between calls (the FFT and Winograd paths may reuse their
     * cached weight transforms), and the model's kres_freeze promise if any; both are this
     * thread's state and are withdrawn once the convolutions are done */
    conv1d_dnnl_set_frozen_weights(!training);
    frozen_set_generation(training ? 0 : m->freeze_gen);
    Acts *a = &m->a;
    m->last_B = B;
    m->last_training = training;

    /* stem: h = relu(bn(conv_K(x))) */
    par_copy(a->x, x, (size_t)B * c->in_leads * c->in_len);
    conv1d_forward(a->c0, a->x, P->stem_w, NULL, B, c->in_leads, c->stem_width, c->in_len, K, 1,
                   pad, m->work, m->work_n);
    /* batch norm and ReLU in one pass (src/nn/fused.h; batchnorm.c + activation.c stay the reference) */
    if (training)
        bn_relu_forward_train(a->h, a->mean0, a->rstd0, m->b.stem.rm, m->b.stem.rv, a->c0,
                              P->stem_bn_w, P->stem_bn_b, B, c->stem_width, c->in_len, mom, eps);
    else
        bn_relu_forward_eval(a->h, a->c0, P->stem_bn_w, P->stem_bn_b, m->b.stem.rm,
                             m->b.stem.rv, B, c->stem_width, c->in_len, eps);

    const float *x_main = a->h, *x_skip = a->h;
    for (int i = 0; i < c->nunits; i++) {
        const UnitGeom *g = &m->geom[i];
        const UnitParams *up = &P->u[i];
        UnitActs *u = &a->u[i];
        const size_t nin = (size_t)B * g->w * g->lin, nout = (size_t)B * g->w * g->lout;
        /* a = dropout(relu(bn1(conv1_K(x_main)))) */
        conv1d_forward(u->c1, x_main, up->conv1_w, NULL, B, g->win, g->w, g->lin, K, 1, pad,
                       m->work, m->work_n);
        if (training)
            bn_relu_forward_train(u->r1, u->mean1, u->rstd1, m->b.bn1[i].rm, m->b.bn1[i].rv,
                                  u->c1, up->bn1_w, up->bn1_b, B, g->w, g->lin, mom, eps);
        else
            bn_relu_forward_eval(u->r1, u->c1, up->bn1_w, up->bn1_b, m->b.bn1[i].rm,
                                 m->b.bn1[i].rv, B, g->w, g->lin, eps);
        const float *act1 = u->r1;
        if (training) {
            dropout_forward(u->d1, u->mask1, u->r1, nin, p, rng);
            act1 = u->d1;
        }
        /* a = conv2_K_strideS(a) */
        conv1d_forward(u->c2, act1, up->conv2_w, NULL, B, g->w, g->w, g->lin, K, S, pad, m->work,
                       m->work_n);
        /* s = conv1x1(maxpool_S(x_skip)); x_skip = a + s */
        maxpool1d_forward(u->pool, u->pidx, x_skip, B, g->win, g->lin, S);
        const float *s = u->pool;
        if (g->has_skip) {
            conv1d_forward(u->sk, u->pool, up->skip_w, NULL, B, g->win, g->w, g->lout, 1, 1, 0,
                           m->work, m->work_n);
            s = u->sk;
        }
        par_add(u->sum, u->c2, s, nout);
        /* x_main = dropout(relu(bn2(x_skip))) */
        if (training)
            bn_relu_forward_train(u->r2, u->mean2, u->rstd2, m->b.bn2[i].rm, m->b.bn2[i].rv,
                                  u->sum, up->bn2_w, up->bn2_b, B, g->w, g->lout, mom, eps);
        else
            bn_relu_forward_eval(u->r2, u->sum, up->bn2_w, up->bn2_b, m->b.bn2[i].rm,
                                 m->b.bn2[i].rv, B, g->w, g->lout, eps);
        x_main = u->r2;
        if (training) {
            dropout_forward(u->d2, u->mask2, u->r2, nout, p, rng);
            x_main = u->d2;
        }
        x_skip = u->sum;
    }

    conv1d_dnnl_set_frozen_weights(0);
    frozen_set_generation(0);

    /* embedding and heads */
    const int E = kres_embed_dim(c), Llast = m->geom[c->nunits - 1].lout;
    avgpool_forward(a->embed, x_main, B, E, Llast);
    if (c->n_outputs > 0)
        linear_forward(a->logits, a->embed, P->head_w, P->head_b, B, E, c->n_outputs);
    if (c->proj_hidden > 0) {
        linear_forward(a->h1, a->embed, P->fc1_w, P->fc1_b, B, E, c->proj_hidden);
        relu_forward(a->h1, a->h1, (size_t)B * c->proj_hidden);
        linear_forward(a->proj, a->h1, P->fc2_w, P->fc2_b, B, c->proj_hidden, c->proj_dim);
    }
}

const float *kres_embeddings(const Kres *m) { return m->a.embed; }
const float *kres_logits(const Kres *m) { return m->a.logits; }
const float *kres_projection(const Kres *m) { return m->a.proj; }

/* ------------------------------------------------------------------------------------ */
/* Backward: the forward list reversed. Every layer backward accumulates, so each
 * activation-gradient buffer is zeroed right before its first writer. */

static void zero(float *x, size_t n) { par_zero(x, n); }

void kres_backward(Kres *m, const float *dlogits, const float *dproj, const float *dembed) {
    const KresConfig *c = &m->cfg;
    KRES_ASSERT(m->last_B > 0 && m->last_training);
    if (!m->dact_mem) m->dact_mem = alloc_layout(m, layout_grad_acts, &m->dact_bytes, &m->dact_raw);
    const int B = m->last_B, K = c->kernel, pad = (K - 1) / 2, S = c->downsample;
    const int E = kres_embed_dim(c), H = c->proj_hidden, nu = c->nunits;
    const float p = c->dropout;
    ensure_grads(m);
    const ParamViews *P = &m->p, *G = &m->g;
    const Acts *a = &m->a;
    const GradActs *d = &m->d;

    /* heads -> d embed (B, E) */
    zero(d->dembed, (size_t)B * E);
    if (dembed)
        for (size_t k = 0; k < (size_t)B * E; k++) d->dembed[k] += dembed[k];
    if (dlogits && c->n_outputs > 0)
        linear_backward(d->dembed, G->head_w, G->head_b, dlogits, a->embed, P->head_w, B, E,
                        c->n_outputs);
    if (dproj && H > 0) {
        zero(d->dh1, (size_t)B * H);
        linear_backward(d->dh1, G->fc2_w, G->fc2_b, dproj, a->h1, P->fc2_w, B, H, c->proj_dim);
        zero(d->dfc1, (size_t)B * H);
        relu_backward(d->dfc1, d->dh1, a->h1, (size_t)B * H);
        linear_backward(d->dembed, G->fc1_w, G->fc1_b, d->dfc1, a->embed, P->fc1_w, B, E, H);
    }

    /* global average pool -> d x_main of the last boundary; its x_skip feeds nothing else */
    const UnitGeom *gl = &m->geom[nu - 1];
    const size_t nlast = (size_t)B * gl->w * gl->lout;
    zero(d->dmain[nu % 2], nlast);
    zero(d->dskip[nu % 2], nlast);
    avgpool_backward(d->dmain[nu % 2], d->dembed, B, E, gl->lout);

    for (int i = nu - 1; i >= 0; i--) {
        const UnitGeom *g = &m->geom[i];
        const UnitParams *up = &P->u[i], *ug = &G->u[i];
        const UnitActs *u = &a->u[i];
        const size_t nin = (size_t)B * g->w * g->lin;
        const size_t nbin = (size_t)B * g->win * g->lin;
        float *dmain_out = d->dmain[(i + 1) % 2], *dskip_out = d->dskip[(i + 1) % 2];
        /* unit 0's x_main and x_skip are the same tensor (the stem output): one gradient */
        float *dmain_in = d->dmain[i % 2], *dskip_in = i == 0 ? dmain_in : d->dskip[i % 2];
        zero(dmain_in, nbin);
        if (dskip_in != dmain_in) zero(dskip_in, nbin);
        const float *xm_in = i == 0 ? a->h : a->u[i - 1].d2;
        /* x_main = dropout(relu(bn2(sum))): its gradient joins d x_skip in d sum */
        /* (dropout, ReLU and batch-norm backward in one pass: src/nn/fused.h) */
        dropout_relu_bn_backward(dskip_out, ug->bn2_w, ug->bn2_b, dmain_out, u->mask2, p, u->r2,
                                 u->sum, up->bn2_w, u->mean2, u->rstd2, B, g->w, g->lout);
        const float *dsum = dskip_out;
        /* skip path: sum = c2 + conv1x1(maxpool(x_skip)) */
        const float *dpool = dsum;
        if (g->has_skip) {
            zero(d->dpool, (size_t)B * g->win * g->lout);
            conv1d_backward(d->dpool, ug->skip_w, NULL, dsum, u->pool, up->skip_w, B, g->win, g->w,
                            g->lout, 1, 1, 0, m->work, m->work_n);
            dpool = d->dpool;
        }
        maxpool1d_backward(dskip_in, dpool, u->pidx, B, g->win, g->lin, S);
        /* main path: conv2 <- dropout <- relu <- bn1 <- conv1 */
        zero(d->wa, nin);
        conv1d_backward(d->wa, ug->conv2_w, NULL, dsum, u->d1, up->conv2_w, B, g->w, g->w, g->lin,
                        K, S, pad, m->work, m->work_n);
        zero(d->wb, nin);
        dropout_relu_bn_backward(d->wb, ug->bn1_w, ug->bn1_b, d->wa, u->mask1, p, u->r1, u->c1,
                                 up->bn1_w, u->mean1, u->rstd1, B, g->w, g->lin);
        conv1d_backward(dmain_in, ug->conv1_w, NULL, d->wb, xm_in, up->conv1_w, B, g->win, g->w,
                        g->lin, K, 1, pad, m->work, m->work_n);
    }

    /* stem: h = relu(bn(conv(x))); the input needs no gradient */
    const size_t n0 = (size_t)B * c->stem_width * c->in_len;
    zero(d->wb, n0);
    dropout_relu_bn_backward(d->wb, G->stem_bn_w, G->stem_bn_b, d->dmain[0], NULL, 0.0f, a->h,
                             a->c0, P->stem_bn_w, a->mean0, a->rstd0, B, c->stem_width, c->in_len);
    conv1d_backward(NULL, G->stem_w, NULL, d->wb, a->x, P->stem_w, B, c->in_leads, c->stem_width,
                    c->in_len, K, 1, pad, m->work, m->work_n);
}
