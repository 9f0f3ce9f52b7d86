/* conv1d_dnnl.c — oneDNN convolution backend (see conv1d_dnnl.h).
 *
 * Structure: a small cache of Entry records, one per (direction, sizes, precision, threads).
 * An Entry holds the convolution primitive and, for each of its tensors, a Slot: the user's
 * plain fp32 layout, the layout the primitive wants, and (where they differ) a reorder
 * primitive. Inputs are reordered user -> primitive before the convolution; outputs are
 * reordered primitive -> user after it, where the reorder's "sum" post-op turns the copy
 * into the += that the backward contract needs. All intermediate buffers (reordered
 * tensors and the primitive's scratchpad) are carved from one shared arena: calls run one at
 * a time, so entries can reuse the same bytes. The arena only grows while new shapes appear
 * (warm-up), so the step loop itself never allocates. */
#include "nn/conv1d_dnnl.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>
#include <dnnl_debug.h>

#include "common/util.h"
#include "nn/conv1d.h"
#include "nn/conv1d_direct.h"
#include "nn/conv1d_winograd.h"
#include "nn/conv1d_fft.h"
#include "nn/cpu_features.h"
#include "nn/frozen.h"
#include "nn/threads.h"

#define DNNL_CHECK(call)                                                                   \
    do {                                                                                   \
        dnnl_status_t st_ = (call);                                                        \
        if (st_ != dnnl_success) dnnl_die(#call, st_, __FILE__, __LINE__);                 \
    } while (0)

static void dnnl_die(const char *what, dnnl_status_t st, const char *file, int line) {
    fprintf(stderr, "kres: internal error: oneDNN call failed (%s): %s at %s:%d\n",
            dnnl_status2str(st), what, file, line);
    abort();
}

enum { DIR_FWD = 0, DIR_BWD_DATA = 1, DIR_BWD_WEIGHTS = 2 };
enum { MAX_ENTRIES = 96, MAX_SLOTS = 5 };

typedef struct {
    int dir, B, Cin, Cout, L, K, S, P, prec, has_bias, threads;
} Key;

/* One tensor argument of the convolution. */
typedef struct {
    int arg;                    /* DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, ... */
    int is_output;              /* written by the convolution */
    int accumulate;             /* output reorder adds into the user's buffer */
    dnnl_memory_t user;         /* plain fp32 memory over the caller's buffer */
    dnnl_memory_t prim;         /* the primitive's layout (== user when no reorder) */
    dnnl_primitive_t reorder;   /* NULL when layouts match and no accumulation is needed */
    size_t scratch_off;         /* arena offset of prim's buffer (when reordered) */
    size_t prim_bytes;          /* size of prim's buffer (when reordered) */
} Slot;

typedef struct {
    Key key;
    dnnl_primitive_t conv;
    dnnl_memory_t scratchpad;   /* NULL if the primitive needs none */
    size_t scratchpad_off;
    size_t arena_need;          /* bytes of arena this entry uses */
    int nslots;
    Slot slot[MAX_SLOTS];
    char impl[64];
} Entry;

static struct {
    pthread_mutex_t lock;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    Entry *entries[MAX_ENTRIES];
    int n, next_evict;
    char *arena;
    size_t arena_size;
    NnPrecision prec;
    int fft;                    /* -1: not yet read from KRES_CONV_FFT, 0 off, 1 on, 2 forced */
    int bf16_fft;               /* -1: not yet read from KRES_BF16_FFT, 0 off, 1 on */
} G = {.lock = PTHREAD_MUTEX_INITIALIZER, .fft = -1, .bf16_fft = -1};

int conv1d_dnnl_set_precision(NnPrecision p) {
    KRES_ASSERT(p == NN_PREC_FP32 || p == NN_PREC_BF16);
    if (p == NN_PREC_BF16 && !cpu_has_fast_bf16())
        return kres_fail("bf16", "this CPU cannot run bf16 convolutions natively (%s); "
                                 "keeping fp32", cpu_features_summary());
    pthread_mutex_lock(&G.lock);
    G.prec = p;
    pthread_mutex_unlock(&G.lock);
    return 0;
}

NnPrecision nn_precision_auto(void) { return cpu_has_fast_bf16() ? NN_PREC_BF16 : NN_PREC_FP32; }

NnPrecision conv1d_dnnl_get_precision(void) { return G.prec; }

const char *nn_precision_name(NnPrecision p) { return p == NN_PREC_BF16 ? "bf16" : "fp32"; }

void conv1d_dnnl_set_fft(int mode) {
    KRES_ASSERT(mode >= 0 && mode <= 2);
    pthread_mutex_lock(&G.lock);
    G.fft = mode;
    pthread_mutex_unlock(&G.lock);
}

void conv1d_dnnl_set_bf16_fft(int on) {
    pthread_mutex_lock(&G.lock);
    G.bf16_fft = on != 0;
    pthread_mutex_unlock(&G.lock);
}

/* FFT length for a stride-1 convolution where the FFT path wins, else 0 (caller holds the
 * lock). KRES_CONV_FFT=0 in the environment turns the FFT path off, =2 forces it. The FFT
 * path computes in fp32; in bf16 mode it is considered only with KRES_BF16_FFT=1 (or
 * conv1d_dnnl_set_bf16_fft), where the fp32 cost model still decides. */
static int fft_n(int B, int Cin, int Cout, int L, int K, int stride, int pad, int frozen,
                 NnPrecision prec) {
    if (G.fft < 0) {
        const char *e = getenv("KRES_CONV_FFT");
        G.fft = e && strcmp(e, "0") == 0 ? 0 : e && strcmp(e, "2") == 0 ? 2 : 1;
    }
    if (G.bf16_fft < 0) {
        const char *e = getenv("KRES_BF16_FFT");
        G.bf16_fft = e && strcmp(e, "1") == 0;
    }
    if (!G.fft || (prec != NN_PREC_FP32 && !G.bf16_fft)) return 0;
    if (G.fft == 2) return conv1d_fft_best_n(B, Cin, Cout, L, K, stride, pad);
    return conv1d_fft_plan_n_frozen(B, Cin, Cout, L, K, stride, pad, frozen);
}

/* Per calling thread: kres_forward in inference mode promises unchanged weights (a speed
 * hint only: the FFT path validates its cached spectra byte for byte either way). Thread-local
 * so that a training model in another thread never changes this thread's choice of path. */
static _Thread_local int g_frozen;

void conv1d_dnnl_set_frozen_weights(int frozen) { g_frozen = frozen != 0; }

int conv1d_dnnl_uses_fft(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    pthread_mutex_lock(&G.lock);
    int n = fft_n(B, Cin, Cout, L, K, stride, pad, 0, G.prec);
    pthread_mutex_unlock(&G.lock);
    return n;
}

static void ensure_engine(void) {
    if (G.engine) return;
    DNNL_CHECK(dnnl_engine_create(&G.engine, dnnl_cpu, 0));
    DNNL_CHECK(dnnl_stream_create(&G.stream, G.engine, dnnl_stream_default_flags));
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Plain fp32 descriptors of the user's buffers: (B, C, L) "ncw", (O, I, K) "oiw", (O) "a". */
static void md3(dnnl_memory_desc_t *md, int a, int b, int c, dnnl_data_type_t dt,
                dnnl_format_tag_t tag) {
    dnnl_dims_t d = {a, b, c};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, 3, d, dt, tag));
}
static void md1(dnnl_memory_desc_t *md, int a, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    dnnl_dims_t d = {a};
    DNNL_CHECK(dnnl_memory_desc_init_by_tag(md, 1, d, dt, tag));
}

/* Build the Slot for one argument. want: the layout the primitive chose. An input whose
 * layouts match is used in place; an output that must accumulate always goes through the
 * arena and a summing reorder (oneDNN's backward convolutions overwrite). */
static void make_slot(Entry *e, int arg, int is_output, int accumulate,
                      const dnnl_memory_desc_t *user_md, const dnnl_memory_desc_t *want,
                      size_t *arena_off) {
    KRES_ASSERT(e->nslots < MAX_SLOTS);
    Slot *s = &e->slot[e->nslots++];
    memset(s, 0, sizeof *s);
    s->arg = arg;
    s->is_output = is_output;
    s->accumulate = accumulate;
    DNNL_CHECK(dnnl_memory_create(&s->user, user_md, G.engine, DNNL_MEMORY_NONE));
    int same = dnnl_memory_desc_equal(user_md, want);
    if (same && !accumulate) {
        s->prim = s->user;
        return;
    }
    DNNL_CHECK(dnnl_memory_create(&s->prim, want, G.engine, DNNL_MEMORY_NONE));
    s->scratch_off = *arena_off;
    s->prim_bytes = dnnl_memory_desc_get_size(want);
    *arena_off += align64(s->prim_bytes);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_attr_t attr = NULL;
    if (accumulate) {
        dnnl_post_ops_t po;
        DNNL_CHECK(dnnl_primitive_attr_create(&attr));
        DNNL_CHECK(dnnl_post_ops_create(&po));
        DNNL_CHECK(dnnl_post_ops_append_sum(po, 1.0f));
        DNNL_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_post_ops_destroy(po);
    }
    if (is_output)
        DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, want, G.engine, user_md, G.engine, attr));
    else
        DNNL_CHECK(dnnl_reorder_primitive_desc_create(&rpd, user_md, G.engine, want, G.engine, attr));
    DNNL_CHECK(dnnl_primitive_create(&s->reorder, rpd));
    dnnl_primitive_desc_destroy(rpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
}

/* Descriptor of the convolution for a key: "any" layouts let oneDNN pick its fastest
 * (blocked) formats; bf16 makes the inputs bf16 and keeps every result fp32. */
static void conv_descs(const Key *k, dnnl_memory_desc_t *src, dnnl_memory_desc_t *wei,
                       dnnl_memory_desc_t *bia, dnnl_memory_desc_t *dst, int for_dir) {
    int Lo = conv1d_out_len(k->L, k->K, k->S, k->P);
    dnnl_data_type_t lo = k->prec == NN_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    /* Which tensors are results (fp32 always) depends on the direction. */
    dnnl_data_type_t src_t = for_dir == DIR_BWD_DATA ? dnnl_f32 : lo;
    dnnl_data_type_t wei_t = for_dir == DIR_BWD_WEIGHTS ? dnnl_f32 : lo;
    dnnl_data_type_t dst_t = for_dir == DIR_FWD ? dnnl_f32 : lo;
    md3(src, k->B, k->Cin, k->L, src_t, dnnl_format_tag_any);
    md3(wei, k->Cout, k->Cin, k->K, wei_t, dnnl_format_tag_any);
    md3(dst, k->B, k->Cout, Lo, dst_t, dnnl_format_tag_any);
    if (k->has_bias) md1(bia, k->Cout, dnnl_f32, dnnl_format_tag_any);
    else memset(bia, 0, sizeof *bia);
}

static void conv_op_desc(dnnl_convolution_desc_t *cd, const Key *k, int dir) {
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_dims_t strides = {k->S}, pl = {k->P};
    int Lo = conv1d_out_len(k->L, k->K, k->S, k->P);
    /* right padding so that (L + pl + pr - K) / S + 1 == Lo exactly (oneDNN requires it) */
    dnnl_dims_t pr = {(Lo - 1) * k->S + k->K - k->L - k->P};
    conv_descs(k, &src, &wei, &bia, &dst, dir);
    const dnnl_memory_desc_t *pb = k->has_bias ? &bia : NULL;
    if (dir == DIR_FWD)
        DNNL_CHECK(dnnl_convolution_forward_desc_init(cd, dnnl_forward_training,
                                                      dnnl_convolution_direct, &src, &wei, pb,
                                                      &dst, strides, pl, pr));
    else if (dir == DIR_BWD_DATA)
        DNNL_CHECK(dnnl_convolution_backward_data_desc_init(cd, dnnl_convolution_direct, &src,
                                                            &wei, &dst, strides, pl, pr));
    else
        DNNL_CHECK(dnnl_convolution_backward_weights_desc_init(
            cd, dnnl_convolution_direct, &src, &wei, pb, &dst, strides, pl, pr));
}

/* Primitive descriptor for key k (and its forward hint, for backward directions), or a
 * oneDNN status other than success. */
static dnnl_status_t make_pd(const Key *k, dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd,
                             dnnl_primitive_desc_t *hint) {
    dnnl_convolution_desc_t cd;
    conv_op_desc(&cd, k, k->dir);
    *hint = NULL;
    if (k->dir != DIR_FWD) { /* backward primitives need the forward one as a hint */
        dnnl_convolution_desc_t fd;
        conv_op_desc(&fd, k, DIR_FWD);
        dnnl_status_t st = dnnl_primitive_desc_create(hint, &fd, NULL, G.engine, NULL);
        if (st != dnnl_success) return st;
    }
    dnnl_status_t st = dnnl_primitive_desc_create(pd, &cd, attr, G.engine, *hint);
    if (st != dnnl_success && *hint) {
        dnnl_primitive_desc_destroy(*hint);
        *hint = NULL;
    }
    return st;
}

static Entry *build_entry(const Key *key) {
    ensure_engine();
    Entry *e = xcalloc(1, sizeof *e);
    e->key = *key;
    Key kk = *key;
    const Key *k = &kk;
    dnnl_primitive_attr_t attr;
    DNNL_CHECK(dnnl_primitive_attr_create(&attr));
    /* scratchpad from our arena instead of a per-execution allocation inside oneDNN */
    DNNL_CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    dnnl_primitive_desc_t hint = NULL, pd;
    dnnl_status_t st = make_pd(k, attr, &pd, &hint);
    if (st == dnnl_unimplemented && kk.prec == NN_PREC_BF16) {
        /* no bf16 kernel for this shape (oneDNN has gaps, e.g. odd channel counts on some
         * ISAs): this one convolution runs in fp32, and we say so once */
        static int warned;
        if (!warned++)
            fprintf(stderr, "kres: note: oneDNN has no bf16 kernel for a %d->%d conv (K %d, "
                            "stride %d); running it in fp32\n", kk.Cin, kk.Cout, kk.K, kk.S);
        kk.prec = NN_PREC_FP32;
        st = make_pd(k, attr, &pd, &hint);
    }
    if (st != dnnl_success) dnnl_die("dnnl_primitive_desc_create(convolution)", st, __FILE__, __LINE__);
    const char *impl = NULL;
    DNNL_CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    snprintf(e->impl, sizeof e->impl, "%s", impl ? impl : "?");

    int Lo = conv1d_out_len(k->L, k->K, k->S, k->P);
    dnnl_memory_desc_t u_act_in, u_wei, u_act_out, u_bias;
    md3(&u_act_in, k->B, k->Cin, k->L, dnnl_f32, dnnl_ncw);
    md3(&u_wei, k->Cout, k->Cin, k->K, dnnl_f32, dnnl_oiw);
    md3(&u_act_out, k->B, k->Cout, Lo, dnnl_f32, dnnl_ncw);
    md1(&u_bias, k->Cout, dnnl_f32, dnnl_a);
    size_t off = 0;
#define Q(what) dnnl_primitive_desc_query_md(pd, what, 0)
    if (k->dir == DIR_FWD) {
        make_slot(e, DNNL_ARG_SRC, 0, 0, &u_act_in, Q(dnnl_query_src_md), &off);
        make_slot(e, DNNL_ARG_WEIGHTS, 0, 0, &u_wei, Q(dnnl_query_weights_md), &off);
        if (k->has_bias) /* the bias descriptor is weights_md number 1 */
            make_slot(e, DNNL_ARG_BIAS, 0, 0, &u_bias,
                      dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1), &off);
        make_slot(e, DNNL_ARG_DST, 1, 0, &u_act_out, Q(dnnl_query_dst_md), &off);
    } else if (k->dir == DIR_BWD_DATA) {
        make_slot(e, DNNL_ARG_DIFF_DST, 0, 0, &u_act_out, Q(dnnl_query_diff_dst_md), &off);
        make_slot(e, DNNL_ARG_WEIGHTS, 0, 0, &u_wei, Q(dnnl_query_weights_md), &off);
        make_slot(e, DNNL_ARG_DIFF_SRC, 1, 1, &u_act_in, Q(dnnl_query_diff_src_md), &off);
    } else {
        make_slot(e, DNNL_ARG_SRC, 0, 0, &u_act_in, Q(dnnl_query_src_md), &off);
        make_slot(e, DNNL_ARG_DIFF_DST, 0, 0, &u_act_out, Q(dnnl_query_diff_dst_md), &off);
        make_slot(e, DNNL_ARG_DIFF_WEIGHTS, 1, 1, &u_wei, Q(dnnl_query_diff_weights_md), &off);
        if (k->has_bias)
            make_slot(e, DNNL_ARG_DIFF_BIAS, 1, 1, &u_bias,
                      dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 1), &off);
    }
    const dnnl_memory_desc_t *sp = Q(dnnl_query_scratchpad_md);
#undef Q
    size_t spn = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (spn > 0) {
        DNNL_CHECK(dnnl_memory_create(&e->scratchpad, sp, G.engine, DNNL_MEMORY_NONE));
        e->scratchpad_off = off;
        off += align64(spn);
    }
    e->arena_need = off;
    DNNL_CHECK(dnnl_primitive_create(&e->conv, pd));
    dnnl_primitive_desc_destroy(pd);
    if (hint) dnnl_primitive_desc_destroy(hint);
    dnnl_primitive_attr_destroy(attr);
    return e;
}

static void free_entry(Entry *e) {
    for (int i = 0; i < e->nslots; i++) {
        Slot *s = &e->slot[i];
        if (s->reorder) dnnl_primitive_destroy(s->reorder);
        if (s->prim && s->prim != s->user) dnnl_memory_destroy(s->prim);
        dnnl_memory_destroy(s->user);
    }
    if (e->scratchpad) dnnl_memory_destroy(e->scratchpad);
    dnnl_primitive_destroy(e->conv);
    free(e);
}

/* Find or build the entry for k (caller holds the lock); grows the arena if needed. */
static Entry *lookup(const Key *k) {
    for (int i = 0; i < G.n; i++)
        if (memcmp(&G.entries[i]->key, k, sizeof *k) == 0) return G.entries[i];
    Entry *e = build_entry(k);
    if (G.n < MAX_ENTRIES) G.entries[G.n++] = e;
    else { /* full: replace entries round-robin (only with very many distinct shapes) */
        free_entry(G.entries[G.next_evict]);
        G.entries[G.next_evict] = e;
        G.next_evict = (G.next_evict + 1) % MAX_ENTRIES;
    }
    if (e->arena_need > G.arena_size) {
        free(G.arena);
        G.arena = xmalloc_aligned(e->arena_need);
        G.arena_size = e->arena_need;
    }
    return e;
}

static Key make_key(int dir, int B, int Cin, int Cout, int L, int K, int S, int P, int bias) {
    Key k;
    memset(&k, 0, sizeof k); /* padding bytes too: keys are compared with memcmp */
    k.dir = dir;
    k.B = B;
    k.Cin = Cin;
    k.Cout = Cout;
    k.L = L;
    k.K = K;
    k.S = S;
    k.P = P;
    k.prec = (int)G.prec;
    k.has_bias = bias;
    k.threads = omp_get_max_threads();
    return k;
}

/* Forward weights in the primitive's layout (blocked, bf16 in bf16 mode), kept across calls
 * while this thread holds a kres_freeze promise (nn/frozen.h): in inference the weights do
 * not change, and reordering them on every call read and wrote the whole model (27.6 MB
 * fp32 in, 13.8 MB bf16 out per KRes forward). Without a promise the arena is used as
 * before: validating a cached copy byte for byte would cost as much as the reorder. */
static WeightCache g_wcache;

/* Slot s's reorder from one of its memories to the other. */
static void run_reorder(const Slot *s, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t ra[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    DNNL_CHECK(dnnl_primitive_execute(s->reorder, G.stream, 2, ra));
}

/* The cached reordered weights for forward entry e's weight slot s, reordered from w now
 * if the cache had no valid copy. */
static void cached_weights(const Entry *e, const Slot *s, const float *w) {
    const Key *k = &e->key;
    const int key[WEIGHT_CACHE_KEY] = {k->B, k->L, k->S | k->P << 8 | k->prec << 20, k->threads};
    int fresh;
    float *buf = weight_cache_get(&g_wcache, w, (size_t)k->Cout * k->Cin * k->K, key,
                                  (s->prim_bytes + sizeof(float) - 1) / sizeof(float), &fresh);
    DNNL_CHECK(dnnl_memory_set_data_handle(s->prim, buf));
    if (fresh) run_reorder(s, s->user, s->prim);
}

/* Run one entry: point every memory at this call's buffers, reorder inputs in, convolve,
 * reorder (and accumulate) outputs out. ptr[i] is the user buffer of slot i. */
static void run_entry(Entry *e, void *const ptr[MAX_SLOTS]) {
    dnnl_exec_arg_t args[MAX_SLOTS + 1];
    int na = 0;
    const int frozen = e->key.dir == DIR_FWD && frozen_generation() != 0;
    for (int i = 0; i < e->nslots; i++) {
        Slot *s = &e->slot[i];
        DNNL_CHECK(dnnl_memory_set_data_handle(s->user, ptr[i]));
        if (frozen && s->arg == DNNL_ARG_WEIGHTS && s->reorder) {
            cached_weights(e, s, ptr[i]); /* reorders only when no valid copy is cached */
        } else {
            if (s->prim != s->user)
                DNNL_CHECK(dnnl_memory_set_data_handle(s->prim, G.arena + s->scratch_off));
            if (!s->is_output && s->reorder) run_reorder(s, s->user, s->prim);
        }
        args[na].arg = s->arg;
        args[na].memory = s->prim;
        na++;
    }
    if (e->scratchpad) {
        DNNL_CHECK(dnnl_memory_set_data_handle(e->scratchpad, G.arena + e->scratchpad_off));
        args[na].arg = DNNL_ARG_SCRATCHPAD;
        args[na].memory = e->scratchpad;
        na++;
    }
    DNNL_CHECK(dnnl_primitive_execute(e->conv, G.stream, na, args));
    for (int i = 0; i < e->nslots; i++) {
        Slot *s = &e->slot[i];
        if (s->is_output && s->reorder) run_reorder(s, s->prim, s->user);
    }
    DNNL_CHECK(dnnl_stream_wait(G.stream));
}

/* ---------------------------------------------------------------- 1x1 convolutions ---- */
/* A 1x1, stride-1, unpadded convolution is one GEMM per example: y_b = W x_b. oneDNN's
 * version reorders into blocked layouts around its 1x1 kernel (five parallel regions per call,
 * each a wait for a preempted thread on a busy machine), so in fp32 these run here: one
 * parallel region over examples, each a single-threaded oneDNN sgemm (JIT for this CPU).
 * The weight gradient sums per-thread partials in thread order (deterministic). */
static int is_pointwise(int K, int stride, int pad) { return K == 1 && stride == 1 && pad == 0; }

/* Below ~16M multiply-adds (about half a millisecond on one core) a second thread costs more
 * in wake-up and barrier time than it saves, all the more on a shared machine. */
static int pw_threads(int B, int Cin, int Cout, int L) {
    double macs = (double)B * Cin * Cout * L;
    int nt = macs < 16e6 ? 1 : omp_get_max_threads();
    return nt > B ? B : nt;
}

static float *g_pw_ws;
static size_t g_pw_n;

static float *pw_workspace(size_t n) { /* grows during warm-up only; caller holds the lock */
    return grow_floats(&g_pw_ws, &g_pw_n, n);
}

/* Called inside our parallel regions only; runs on the calling thread (omp_single_thread_calls). */
static void sgemm_rm(char ta, char tb, int m, int n, int k, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc) {
    omp_single_thread_calls();
    DNNL_CHECK(dnnl_sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc));
}

static void pointwise_forward(float *out, const float *inp, const float *weight, const float *bias,
                              int B, int Cin, int Cout, int L) {
#pragma omp parallel for schedule(static) num_threads(pw_threads(B, Cin, Cout, L))
    for (int b = 0; b < B; b++) {
        float *y = out + (size_t)b * Cout * L;
        float beta = 0.0f;
        if (bias) {
            for (int o = 0; o < Cout; o++)
                for (int t = 0; t < L; t++) y[(size_t)o * L + t] = bias[o];
            beta = 1.0f;
        }
        sgemm_rm('N', 'N', Cout, L, Cin, 1.0f, weight, Cin, inp + (size_t)b * Cin * L, L, beta, y, L);
    }
}

static void pointwise_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *inp, const float *weight, int B, int Cin, int Cout,
                               int L) {
    const int nt = pw_threads(B, Cin, Cout, L);
    const size_t nw = (size_t)Cout * Cin, per = nw + (size_t)Cout;
    float *ws = pw_workspace((size_t)nt * per);
#pragma omp parallel num_threads(nt)
    {
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        float *dw = ws + (size_t)tid * per, *db = dw + nw;
        memset(dw, 0, per * sizeof(float));
        const int per_t = (B + team - 1) / team, b0 = tid * per_t;
        const int b1 = b0 + per_t < B ? b0 + per_t : B;
        for (int b = b0; b < b1; b++) {
            const float *g = dout + (size_t)b * Cout * L, *x = inp + (size_t)b * Cin * L;
            /* dW (Cout, Cin) += g (Cout, L) x^T;  dx (Cin, L) += W^T g */
            sgemm_rm('N', 'T', Cout, Cin, L, 1.0f, g, L, x, L, 1.0f, dw, Cin);
            if (dinp)
                sgemm_rm('T', 'N', Cin, L, Cout, 1.0f, weight, Cin, g, L, 1.0f,
                         dinp + (size_t)b * Cin * L, L);
            if (dbias)
                for (int o = 0; o < Cout; o++) {
                    float sum = 0.0f;
                    for (int t = 0; t < L; t++) sum += g[(size_t)o * L + t];
                    db[o] += sum;
                }
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t i = 0; i < nw; i++) {
            float sum = 0.0f;
            for (int t = 0; t < team; t++) sum += ws[(size_t)t * per + i];
            dweight[i] += sum;
        }
#pragma omp single
        if (dbias)
            for (int o = 0; o < Cout; o++) {
                float sum = 0.0f;
                for (int t = 0; t < team; t++) sum += ws[(size_t)t * per + nw + o];
                dbias[o] += sum;
            }
    }
}

void conv1d_forward_dnnl(float *out, const float *inp, const float *weight, const float *bias,
                         int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    if (B <= 0) return;
    pthread_mutex_lock(&G.lock);
    /* bf16 gains nothing for one or two examples: the device measured bf16 batch-1 latency
     * at 14.8 ms against 12.0 for fp32 before the direct kernels, which are faster still.
     * Such forwards run the fp32 paths (more precise, too). */
    const NnPrecision prec =
        B <= 2 && conv1d_direct_available() ? NN_PREC_FP32 : G.prec;
    int nfft = fft_n(B, Cin, Cout, L, K, stride, pad, g_frozen, prec);
    if (nfft) {
        conv1d_fft_forward(out, inp, weight, bias, B, Cin, Cout, L, K, pad, nfft);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    if (prec == NN_PREC_FP32 && is_pointwise(K, stride, pad)) {
        pointwise_forward(out, inp, weight, bias, B, Cin, Cout, L);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    /* with frozen weights the transformed weights are checked once per promise; in training
     * the byte check sees the step's new weights and transforms them again */
    if (prec == NN_PREC_FP32 && conv1d_winograd_wins(B, Cin, Cout, L, K, stride, pad)) {
        conv1d_winograd_forward(out, inp, weight, bias, B, Cin, Cout, L, K, stride, pad);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    if (prec == NN_PREC_FP32 && conv1d_direct_wins(B, g_frozen, Cin, Cout, L, K, stride, pad)) {
        conv1d_direct_forward(out, inp, weight, bias, B, Cin, Cout, L, K, stride, pad);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    Key k = make_key(DIR_FWD, B, Cin, Cout, L, K, stride, pad, bias != NULL);
    Entry *e = lookup(&k);
    void *ptr[MAX_SLOTS] = {(void *)inp, (void *)weight};
    int n = 2;
    if (bias) ptr[n++] = (void *)bias;
    ptr[n] = out;
    run_entry(e, ptr);
    pthread_mutex_unlock(&G.lock);
}

void conv1d_backward_dnnl(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *weight,
                          int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    if (B <= 0) return;
    pthread_mutex_lock(&G.lock);
    int nfft = fft_n(B, Cin, Cout, L, K, stride, pad, 0, G.prec);
    if (nfft) {
        conv1d_fft_backward(dinp, dweight, dbias, dout, inp, weight, B, Cin, Cout, L, K, pad, nfft);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    if (G.prec == NN_PREC_FP32 && is_pointwise(K, stride, pad)) {
        pointwise_backward(dinp, dweight, dbias, dout, inp, weight, B, Cin, Cout, L);
        pthread_mutex_unlock(&G.lock);
        return;
    }
    Key kw = make_key(DIR_BWD_WEIGHTS, B, Cin, Cout, L, K, stride, pad, dbias != NULL);
    Entry *ew = lookup(&kw);
    void *pw[MAX_SLOTS] = {(void *)inp, (void *)dout, dweight, dbias};
    run_entry(ew, pw);
    if (dinp) {
        Key kd = make_key(DIR_BWD_DATA, B, Cin, Cout, L, K, stride, pad, 0);
        Entry *ed = lookup(&kd);
        void *pd[MAX_SLOTS] = {(void *)dout, (void *)weight, dinp};
        run_entry(ed, pd);
    }
    pthread_mutex_unlock(&G.lock);
}

const char *conv1d_dnnl_impl_name(int B, int Cin, int Cout, int L, int K, int stride, int pad) {
    pthread_mutex_lock(&G.lock);
    Key k = make_key(DIR_FWD, B, Cin, Cout, L, K, stride, pad, 0);
    const char *s = lookup(&k)->impl;
    pthread_mutex_unlock(&G.lock);
    return s;
}

int conv1d_dnnl_cache_size(void) { return G.n; }

size_t conv1d_dnnl_weight_cache_bytes(void) {
    pthread_mutex_lock(&G.lock);
    size_t n = weight_cache_bytes(&g_wcache);
    pthread_mutex_unlock(&G.lock);
    return n;
}

void conv1d_dnnl_release(void) {
    pthread_mutex_lock(&G.lock);
    for (int i = 0; i < G.n; i++) free_entry(G.entries[i]);
    G.n = 0;
    G.next_evict = 0;
    free(G.arena);
    G.arena = NULL;
    G.arena_size = 0;
    conv1d_fft_release();
    conv1d_direct_release();
    conv1d_winograd_release();
    weight_cache_release(&g_wcache);
    free(g_pw_ws);
    g_pw_ws = NULL;
    g_pw_n = 0;
    if (G.stream) dnnl_stream_destroy(G.stream);
    if (G.engine) dnnl_engine_destroy(G.engine);
    G.stream = NULL;
    G.engine = NULL;
    pthread_mutex_unlock(&G.lock);
}
