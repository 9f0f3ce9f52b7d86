/* test_pretrain.c — contrastive pretraining: NT-Xent gradient through a tiny KRes by finite
 * differences, the corpus (fold exclusion, plain WFDB directories, patients), tiny runs in
 * every pair mode, loss decrease, determinism, and bit-exact resume of an interrupted run. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "data/ptbxl.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "test.h"
#include "train/embed.h"
#include "train/pretrain.h"

static char g_tmp[256];

static void tiny_model(KresConfig *c, int in_len, float dropout) {
    kres_config_default(c);
    c->in_len = in_len, c->stem_width = 4, c->kernel = 5, c->nunits = 2;
    c->widths[0] = 6, c->widths[1] = 8, c->downsample = 4, c->dropout = dropout;
    c->n_outputs = 0, c->proj_hidden = 8, c->proj_dim = 4;
}

/* ---- NT-Xent through the whole network: directional derivatives ----------------------- */

typedef struct {
    Kres *m;
    const float *x;
    int N2;
} FdCtx;

static double fd_loss(FdCtx *c) {
    kres_forward(c->m, c->x, c->N2, 1, NULL);
    return nt_xent_loss(NULL, NULL, kres_projection(c->m), c->N2, kres_config(c->m)->proj_dim, 0.1f, NULL);
}

static void test_ntxent_through_kres(void) {
    KresConfig c;
    tiny_model(&c, 32, 0.0f);
    c.kernel = 3;
    enum { N2 = 6 };
    Kres *m = kres_create(&c, N2, 7);
    const size_t nx = (size_t)N2 * 12 * 32, np = kres_num_params(m);
    float *x = malloc(nx * sizeof(float)), *g = malloc(np * sizeof(float)), *u = malloc(np * sizeof(float));
    float *p0 = malloc(np * sizeof(float));
    Rng r;
    rng_seed(&r, 99);
    for (size_t i = 0; i < nx; i++) x[i] = (float)rng_normal(&r);
    /* Views i and i+3 are noisy copies of one signal, so the loss is far from its minimum. */
    for (size_t i = 0; i < nx / 2; i++) x[nx / 2 + i] = x[i] + 0.3f * (float)rng_normal(&r);
    float acc;
    float loss = pretrain_loss_grad(m, x, N2, 0.1f, NULL, &acc);
    CHECK(isfinite(loss) && acc >= 0 && acc <= 1);
    memcpy(g, kres_grads(m), np * sizeof(float));
    memcpy(p0, kres_params(m), np * sizeof(float));
    FdCtx ctx = {m, x, N2};
    CHECK_CLOSE(fd_loss(&ctx), loss, 1e-6, 1e-6);
    /* Directions: three random unit vectors and the normalised gradient itself. */
    double gn = 0;
    for (size_t i = 0; i < np; i++) gn += (double)g[i] * g[i];
    gn = sqrt(gn);
    CHECK(gn > 1e-3);
    for (int t = 0; t < 4; t++) {
        double un = 0;
        for (size_t i = 0; i < np; i++) {
            u[i] = t < 3 ? (float)rng_normal(&r) : g[i];
            un += (double)u[i] * u[i];
        }
        un = sqrt(un);
        double an = 0;
        for (size_t i = 0; i < np; i++) {
            u[i] = (float)(u[i] / un);
            an += (double)g[i] * u[i];
        }
        const double eps = 2e-3;
        float *p = kres_params(m);
        for (size_t i = 0; i < np; i++) p[i] = p0[i] + (float)eps * u[i];
        double fp = fd_loss(&ctx);
        for (size_t i = 0; i < np; i++) p[i] = p0[i] - (float)eps * u[i];
        double fm = fd_loss(&ctx);
        memcpy(p, p0, np * sizeof(float));
        double num = (fp - fm) / (2 * eps);
        /* Absolute part: float rounding of the loss (~1e-7) over 2 eps. */
        CHECKF(fabs(num - an) <= 2e-3 + 0.02 * fabs(an), "direction %d: numeric %.6g analytic %.6g", t, num, an);
    }
    kres_free(m);
    free(x);
    free(g);
    free(u);
    free(p0);
}

/* ---- corpus ------------------------------------------------------------------------------ */

static void test_corpus(void) {
    PtbxlDb db;
    CHECK(ptbxl_open(SAMPLE_DIR, &db) == 0);
    int per_fold[11] = {0};
    for (int i = 0; i < db.n; i++) per_fold[db.rec[i].strat_fold]++;
    PretrainOptions o;
    pretrain_options_default(&o);
    o.ndirs = 1;
    o.dirs[0] = SAMPLE_DIR;
    PretrainCorpus c;
    /* Default: folds 9 and 10 never seen. */
    CHECK(pretrain_corpus_build(&o, &c) == 0);
    CHECK(c.n == db.n - per_fold[9] - per_fold[10]);
    CHECK(c.n_excluded == per_fold[9] + per_fold[10]);
    CHECK(c.n_duplicates == 12 && c.n_ptbxl == c.n && c.n_plain == 0 && c.n_missing == 0);
    int leaked = 0;
    for (int i = 0; i < c.n; i++)
        for (int k = 0; k < db.n; k++)
            if (strstr(c.path[i], db.rec[k].filename_lr) && (db.rec[k].strat_fold >= 9)) leaked++;
    CHECK(leaked == 0);
    /* Patients with several ECGs exist in the sample; every example has a patient. */
    CHECK(c.n_multi >= 2 && c.n_patients > 0 && c.n_patients < c.n);
    int unknown = 0;
    for (int i = 0; i < c.n; i++) unknown += c.patient[i] < 0;
    CHECK(unknown == 0);
    pretrain_corpus_free(&c);
    o.exclude_folds = 0;
    CHECK(pretrain_corpus_build(&o, &c) == 0 && c.n == db.n && c.n_excluded == 0);
    pretrain_corpus_free(&c);
    o.exclude_folds = 1u << 10;
    CHECK(pretrain_corpus_build(&o, &c) == 0 && c.n == db.n - per_fold[10]);
    pretrain_corpus_free(&c);

    /* A plain WFDB directory (500 Hz PTB-XL records copied by symlink): recursive search,
     * unknown patients, and holdout ECGs of a given PTB-XL tree excluded by name. */
    char dir[320], sub[340];
    snprintf(dir, sizeof dir, "%s/plain", g_tmp);
    snprintf(sub, sizeof sub, "%s/deeper", dir);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(sub, 0700) == 0);
    /* ids[5]: a v1.0.3 duplicate; ids[6]: a holdout (fold 10) ECG. */
    int ids[7] = {1, 2, 3, 4, 5, 137, 0};
    for (int i = 0; i < db.n; i++)
        if (db.rec[i].strat_fold == 10) {
            ids[6] = db.rec[i].ecg_id;
            break;
        }
    CHECK(ids[6] > 0 && ptbxl_is_v103_duplicate(137));
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    for (int k = 0; k < 7; k++)
        for (int e = 0; e < 2; e++) {
            char src[2048], dst[512];
            snprintf(src, sizeof src, "%s/%s/records500/%05d/%05d_hr.%s", cwd, SHARED_PTBXL, ids[k] / 1000 * 1000,
                     ids[k], e ? "dat" : "hea");
            snprintf(dst, sizeof dst, "%s/%05d_hr.%s", k < 3 ? dir : sub, ids[k], e ? "dat" : "hea");
            CHECK(symlink(src, dst) == 0);
        }
    pretrain_options_default(&o);
    o.ndirs = 1;
    o.dirs[0] = dir;
    CHECK(pretrain_corpus_build(&o, &c) == 0);
    CHECK(c.n == 7 && c.n_plain == 7 && c.n_ptbxl == 0 && c.n_patients == 0 && c.n_duplicates == 0);
    CHECK(c.n > 0 && c.patient[0] == -1);
    CHECK(c.n > 3 && strstr(c.path[3], "/deeper/") != NULL);
    pretrain_corpus_free(&c);
    /* With the PTB-XL tree given too, the holdout ECG and the duplicate are dropped from the
     * plain directory. */
    o.ndirs = 2;
    o.dirs[0] = dir;
    o.dirs[1] = SAMPLE_DIR;
    CHECK(pretrain_corpus_build(&o, &c) == 0);
    CHECK(c.n_plain == 5 && c.n_ptbxl == db.n - per_fold[9] - per_fold[10]);
    CHECK(c.n_excluded == per_fold[9] + per_fold[10] + 1 && c.n_duplicates == 12 + 1);
    pretrain_corpus_free(&c);
    /* Errors name the directory. */
    o.ndirs = 1;
    o.dirs[0] = "/nonexistent/dir";
    CHECK(pretrain_corpus_build(&o, &c) == -1 && strstr(kres_last_error(), "/nonexistent/dir"));
    char empty[320];
    snprintf(empty, sizeof empty, "%s/empty", g_tmp);
    CHECK(mkdir(empty, 0700) == 0);
    o.dirs[0] = empty;
    CHECK(pretrain_corpus_build(&o, &c) == -1 && strstr(kres_last_error(), "no WFDB records"));
    rmdir(empty);
    ptbxl_close(&db);
}

/* ---- runs ------------------------------------------------------------------------------ */

static void tiny_run_options(PretrainOptions *o, const char *out) {
    pretrain_options_default(o);
    o->ndirs = 1;
    o->dirs[0] = SAMPLE_DIR;
    o->out_path = out;
    o->epochs = 3;
    o->batch = 8;
    o->limit = 32;
    o->threads = 2;
    o->quiet = 1;
    o->lr = 1e-2;
    o->cache_bytes = (size_t)64 << 20;
    o->preprocess.length = 256; /* 2.56 s windows keep the test fast */
    tiny_model(&o->model, 256, 0.1f);
    /* Wide enough to learn something in 24 steps (the FD model is narrower still). */
    o->model.stem_width = 8, o->model.widths[0] = 16, o->model.widths[1] = 16;
    o->model.proj_hidden = 16, o->model.proj_dim = 8;
}

/* All parameters and buffers of a saved model, for bit comparisons. */
static float *load_all(const char *path, size_t *n) {
    Kres *m;
    if (ckpt_load(path, 1, &m, NULL) != 0) return NULL;
    size_t np = kres_num_params(m), nb = kres_num_buffers(m);
    float *v = malloc((np + nb) * sizeof(float));
    memcpy(v, kres_params(m), np * sizeof(float));
    memcpy(v + np, kres_buffers(m), nb * sizeof(float));
    *n = np + nb;
    kres_free(m);
    return v;
}

static int same_model(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    float *va = load_all(a, &na), *vb = load_all(b, &nb);
    int same = va && vb && na == nb && memcmp(va, vb, na * sizeof(float)) == 0;
    free(va);
    free(vb);
    return same;
}

static void rm_run(const char *out) {
    char p[512];
    unlink(out);
    snprintf(p, sizeof p, "%s.state.safetensors", out);
    unlink(p);
    snprintf(p, sizeof p, "%s.log", out);
    unlink(p);
}

static void test_runs(void) {
    char a[320], b[320], logp[340];
    snprintf(a, sizeof a, "%s/a.safetensors", g_tmp);
    snprintf(b, sizeof b, "%s/b.safetensors", g_tmp);
    snprintf(logp, sizeof logp, "%s.log", a);
    PretrainOptions o;
    PretrainResult r;

    /* A: 6 epochs uninterrupted, with a log. The loss goes down. */
    tiny_run_options(&o, a);
    o.log_path = logp;
    o.epochs = 6;
    CHECKF(pretrain_run(&o, &r) == 0, "%s", kres_last_error());
    CHECK(r.corpus.n == 32 && r.steps_per_epoch == 4 && r.total_steps == 24 && r.completed);
    CHECK(r.start_step == 0 && r.end_step == 24 && r.epochs_done == 6);
    CHECKF(r.last_loss < r.first_loss - 0.1, "loss %.4f -> %.4f", r.first_loss, r.last_loss);
    CHECK(r.last_accuracy >= 0 && r.last_accuracy <= 1);
    CHECK(r.samples_per_s > 0);
    pretrain_result_free(&r);
    char *log = read_file_all(logp, NULL);
    CHECK(log && strstr(log, "\"event\":\"start\"") && strstr(log, "\"pair_accuracy\"") &&
          strstr(log, "\"samples_per_s\"") && strstr(log, "\"lr\"") && strstr(log, "\"event\":\"end\""));
    free(log);
    /* The encoder file: kind encoder, projection head included, preprocessing recorded. */
    Kres *m;
    CkptInfo info;
    CHECK(ckpt_load(a, 1, &m, &info) == 0);
    if (m) {
        CHECK(strcmp(info.kind, "encoder") == 0 && kres_config(m)->proj_hidden == 16);
        CHECK(info.preprocess_json && strstr(info.preprocess_json, "\"length\":256"));
        CHECK(ckpt_meta(&info, "pretrain") && strstr(ckpt_meta(&info, "pretrain"), "\"steps_done\":24"));
        kres_free(m);
    }
    ckpt_info_free(&info);

    /* Determinism: the same seed and threads give the same bits (two short runs, B and C,
     * no log; C writes its state next to itself, so they are independent runs). */
    char cpath[320];
    snprintf(cpath, sizeof cpath, "%s/c.safetensors", g_tmp);
    for (int k = 0; k < 2; k++) {
        tiny_run_options(&o, k ? cpath : b);
        o.epochs = 6;
        o.max_steps = 5;
        CHECK(pretrain_run(&o, &r) == 0 && r.end_step == 5);
        pretrain_result_free(&r);
    }
    CHECK(same_model(cpath, b));
    CHECK(!same_model(a, b)); /* 5 steps are not 24 */
    rm_run(cpath);
    /* Resume: kill B's twin after 10 steps (mid-epoch, between checkpoints), resume, and
     * land on exactly A's weights. A periodic checkpoint every 3 steps is also exercised. */
    rm_run(b);
    tiny_run_options(&o, b);
    o.epochs = 6;
    o.checkpoint_every = 3;
    o.max_steps = 10;
    CHECK(pretrain_run(&o, &r) == 0);
    CHECK(!r.completed && r.end_step == 10);
    pretrain_result_free(&r);
    o.max_steps = 0;
    o.resume = 1;
    /* (the resume goes through pretrain_run_corpus on a corpus built first: the corpus moves
     * into the result, and the run is the same) */
    PretrainCorpus pc;
    CHECK(pretrain_corpus_build(&o, &pc) == 0);
    const int npc = pc.n;
    CHECKF(pretrain_run_corpus(&o, &pc, &r) == 0, "%s", kres_last_error());
    CHECK(npc > 0 && r.corpus.n == npc && pc.n == 0 && pc.path == NULL);
    CHECK(r.start_step == 10 && r.end_step == 24 && r.completed);
    pretrain_result_free(&r);
    CHECK(same_model(a, b));
    /* Resuming a finished run does nothing and keeps the weights. */
    CHECK(pretrain_run(&o, &r) == 0);
    CHECK(r.start_step == 24 && r.end_step == 24 && r.completed);
    pretrain_result_free(&r);
    CHECK(same_model(a, b));
    /* Resuming with other options is refused, naming the option. */
    o.temperature = 0.2;
    CHECK(pretrain_run(&o, &r) == -1);
    CHECK(strstr(kres_last_error(), "temperature") != NULL);
    pretrain_result_free(&r);
    rm_run(a);
    rm_run(b);
}

static void test_pair_modes(void) {
    char out[320];
    snprintf(out, sizeof out, "%s/p.safetensors", g_tmp);
    PretrainOptions o;
    PretrainResult r;
    /* Segments: the model sees halves (L = 128) of the 256-sample window. */
    tiny_run_options(&o, out);
    o.pairs = PAIRS_SEGMENTS;
    o.epochs = 1;
    CHECKF(pretrain_run(&o, &r) == 0, "%s", kres_last_error());
    CHECK(r.completed && r.end_step == 4 && isfinite(r.last_loss));
    pretrain_result_free(&r);
    Kres *m;
    CkptInfo info;
    CHECK(ckpt_load(out, 1, &m, &info) == 0);
    if (m) {
        CHECK(kres_config(m)->in_len == 128);
        CHECK(info.preprocess_json && strstr(info.preprocess_json, "\"length\":256"));
        kres_free(m);
    }
    ckpt_info_free(&info);
    /* ... and downstream the encoder runs on the whole 256-sample window. */
    PreprocConfig pc;
    CHECK(embed_open_encoder(out, 1, 2, &m, &pc, NULL) == 0);
    if (m) {
        CHECK(kres_config(m)->in_len == 256 && pc.length == 256 && kres_config(m)->n_outputs == 1);
        /* no head in an encoder file: the head is explicitly zero, not random */
        const KresTensor *hw = kres_find_tensor(m, "head.weight"), *hb = kres_find_tensor(m, "head.bias");
        int head_zero = hw && hb;
        for (size_t k = 0; hw && k < hw->numel; k++) head_zero &= kres_params(m)[hw->offset + k] == 0.0f;
        for (size_t k = 0; hb && k < hb->numel; k++) head_zero &= kres_params(m)[hb->offset + k] == 0.0f;
        CHECK(head_zero);
        const char *rec[2] = {SAMPLE_DIR "/records100/00000/00001_lr", SAMPLE_DIR "/records100/00000/00002_lr"};
        float e[32];
        CHECK(embed_records(m, 2, &pc, rec, 2, e, NULL) == 0);
        int finite = 1;
        for (int i = 0; i < 32; i++) finite &= isfinite(e[i]);
        CHECK(finite);
        kres_free(m);
    }
    rm_run(out);
    /* Patient: the whole sample (patients with several ECGs exist), augmentations on top. */
    tiny_run_options(&o, out);
    o.pairs = PAIRS_PATIENT;
    o.epochs = 1;
    o.limit = 0;
    o.batch = 64;
    o.max_steps = 2;
    CHECKF(pretrain_run(&o, &r) == 0, "%s", kres_last_error());
    CHECK(r.end_step == 2 && r.corpus.n_multi >= 2);
    pretrain_result_free(&r);
    rm_run(out);
    /* A plain directory of 500 Hz records: resampled to 100 Hz, augment pairs. */
    char dir[320];
    snprintf(dir, sizeof dir, "%s/plain", g_tmp);
    tiny_run_options(&o, out);
    o.dirs[0] = dir;
    o.limit = 0;
    o.batch = 3;
    o.epochs = 1;
    CHECKF(pretrain_run(&o, &r) == 0, "%s", kres_last_error());
    CHECK(r.corpus.n == 7 && r.corpus.n_plain == 7 && r.end_step == 2);
    pretrain_result_free(&r);
    rm_run(out);
    /* Too few ECGs for one batch is an error, not an empty run. */
    tiny_run_options(&o, out);
    o.limit = 5;
    CHECK(pretrain_run(&o, &r) == -1 && strstr(kres_last_error(), "fewer than the batch"));
    pretrain_result_free(&r);
}

/* Remove a directory tree of files, symlinks and directories (the test's own temp dir). */
static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kres_test_pretrain_%d", (int)getpid());
    if (mkdir(g_tmp, 0700) != 0) return 1;
    test_ntxent_through_kres();
    test_corpus();
    test_runs();
    test_pair_modes();
    rm_tree(g_tmp);
    TEST_MAIN_END();
}
