/* test_train.c — the supervised training loop on the bundled PTB-XL sample with a tiny
 * KRes (stem 8, two units of width 8, kernel 5, 256 samples at 100 Hz): checkpoint and
 * metadata, reload reproducing the test scores, bit-identical reruns, stratified label
 * fractions, the JSON-lines log, per-code (multi-label) heads, a frozen encoder
 * initialised from a checkpoint, and option/data errors. */
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "data/ptbxl.h"
#include "eval/metrics.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/safetensors.h"
#include "train/progress.h"
#include "train/trainer.h"
#include "test.h"

static char g_dir[256];

static void tiny_options(TrainOptions *o) {
    train_options_default(o);
    o->data_dir = SAMPLE_DIR;
    o->model.stem_width = 8;
    o->model.kernel = 5;
    o->model.nunits = 2;
    o->model.widths[0] = 8, o->model.widths[1] = 8, o->model.widths[2] = 0, o->model.widths[3] = 0;
    o->model.dropout = 0.1f;
    o->preproc.length = 256;
    o->epochs = 2;
    o->batch = 16;
    o->threads = 2;
    o->label_fraction = 0.3;
    o->quiet = 1;
    o->cache_bytes = 64u << 20;
}

static void tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", g_dir, name); }

/* Two checkpoint files agree on every tensor byte and on every metadata pair except the
 * provenance (which records the wall-clock date and the source tree's git state). */
static int same_checkpoint(const char *a, const char *b) {
    StFile fa, fb;
    memset(&fa, 0, sizeof fa), memset(&fb, 0, sizeof fb);
    int same = st_open(a, &fa) == 0 && st_open(b, &fb) == 0 && fa.n == fb.n && fa.nmeta == fb.nmeta &&
               fa.data_size == fb.data_size && memcmp(fa.data, fb.data, fa.data_size) == 0;
    for (int i = 0; same && i < fa.nmeta; i++) {
        if (strcmp(fa.meta_keys[i], "provenance") == 0) continue;
        const char *vb = st_meta(&fb, fa.meta_keys[i]);
        same = vb && strcmp(vb, fa.meta_vals[i]) == 0;
    }
    st_close(&fa), st_close(&fb);
    return same;
}

static void test_small_pieces(void) {
    TrainOptions o;
    train_options_default(&o);
    CHECK(o.epochs == 20 && o.batch == 64 && o.val_fold == 9 && o.test_fold == 10);
    CHECK(o.protocol == PROTOCOL_PAPER && o.rate == 100 && o.label_fraction == 1.0);
    CHECK(strcmp(o.threshold_rule, "youden") == 0 && strcmp(o.kind, "classifier") == 0);

    float one = 0.3f, three[3] = {-2.0f, 1.5f, 0.25f};
    CHECK(classifier_score(&one, 1) == sigmoid_stable(0.3f));
    CHECK(classifier_score(three, 3) == sigmoid_stable(1.5f));

    char buf[32];
    format_duration(42.4, buf, sizeof buf);
    CHECK(strcmp(buf, "42s") == 0);
    format_duration(185, buf, sizeof buf);
    CHECK(strcmp(buf, "3m05s") == 0);
    format_duration(3720, buf, sizeof buf);
    CHECK(strcmp(buf, "1h02m") == 0);

    /* Task JSON round trip, including a per-code model. */
    PtbxlDb db;
    Task t;
    CHECK(ptbxl_open(SAMPLE_DIR, &db) == 0);
    CHECK(task_parse("bbb", &db, &t) == 0);
    char *js = task_json_make(&t, PROTOCOL_ALL, 500, 50, 1);
    TaskMeta tm;
    CHECK(task_json_parse(js, "x.safetensors", &tm) == 0);
    CHECK(strcmp(tm.name, t.name) == 0 && tm.ncodes == t.ncodes && tm.protocol == PROTOCOL_ALL);
    CHECK(tm.rate == 500 && tm.min_likelihood == 50 && tm.multilabel == 1);
    CHECK(strcmp(tm.codes[t.ncodes - 1], t.codes[t.ncodes - 1]) == 0);
    free(js);
    CHECK(task_json_parse(NULL, "m.st", &tm) != 0 && strstr(kres_last_error(), "m.st: ") == kres_last_error());
    CHECK(task_json_parse("{\"name\":\"x\",\"codes\":[]}", "m.st", &tm) != 0);
    CHECK(task_json_parse("{\"name\":\"x\",\"codes\":[\"1AVB\"],\"rate\":250}", "m.st", &tm) != 0);
    CHECK(strstr(kres_last_error(), "rate") != NULL);
    CHECK(task_json_parse("{\"name\":\"x\",\"codes\":[\"1AVB\"],\"outputs\":\"some\"}", "m.st", &tm) != 0);
    ptbxl_close(&db);
}

static void test_bad_options(void) {
    TrainOptions o;
    TrainResult r;
    tiny_options(&o);
    o.epochs = 0;
    CHECK(train_classifier(&o, &r) != 0 && strstr(kres_last_error(), "epochs") != NULL);
    train_result_free(&r);
    tiny_options(&o);
    o.test_fold = 9;
    CHECK(train_classifier(&o, &r) != 0 && strstr(kres_last_error(), "test fold") != NULL);
    train_result_free(&r);
    tiny_options(&o);
    o.threshold_rule = "sens=2";
    CHECK(train_classifier(&o, &r) != 0);
    train_result_free(&r);
    tiny_options(&o);
    o.data_dir = "no/such/ptbxl";
    CHECK(train_classifier(&o, &r) != 0 && strstr(kres_last_error(), "no/such/ptbxl") != NULL);
    train_result_free(&r);
    tiny_options(&o);
    o.task = "NOTACODE";
    CHECK(train_classifier(&o, &r) != 0 && strstr(kres_last_error(), "NOTACODE") != NULL);
    train_result_free(&r);
    /* 2AVB has no positive in the sample: nothing to learn, said so. */
    tiny_options(&o);
    o.task = "2AVB";
    CHECK(train_classifier(&o, &r) != 0 && strstr(kres_last_error(), "all negative") != NULL);
    train_result_free(&r);
}

/* Count lines of the log by event; every line must be a JSON object. */
static void check_log(const char *path, int epochs) {
    size_t len;
    char *s = read_file_all(path, &len);
    CHECK(s != NULL);
    if (!s) return;
    int nstart = 0, nstep = 0, nepoch = 0, nend = 0, bad = 0, first = 1;
    for (char *line = s, *next; *line; line = next) {
        next = strchr(line, '\n');
        CHECK(next != NULL); /* every line is terminated */
        if (!next) break;
        *next++ = '\0';
        char err[128];
        JsonValue *v = json_parse(line, strlen(line), err, sizeof err);
        const char *ev = v ? json_str(json_get(v, "event"), "") : "";
        if (!v) {
            bad++;
        } else if (strcmp(ev, "start") == 0) {
            nstart++;
            CHECK(first);
        } else if (strcmp(ev, "step") == 0) {
            nstep++;
            CHECK(json_num(json_get(v, "loss"), NAN) > 0);
        } else if (strcmp(ev, "epoch") == 0) {
            nepoch++;
            CHECK(json_get(v, "val_auc") && json_get(v, "val_loss"));
        } else if (strcmp(ev, "end") == 0) {
            nend++;
            CHECK(*next == '\0');
        }
        first = 0;
        json_free(v);
    }
    CHECK(bad == 0 && nstart == 1 && nepoch == epochs && nend == 1 && nstep >= epochs);
    free(s);
}

static void test_train_and_reload(void) {
    char out[512], out2[512], out3[512], logp[512];
    tmp_path(out, sizeof out, "a.safetensors");
    tmp_path(out2, sizeof out2, "b.safetensors");
    tmp_path(out3, sizeof out3, "c.safetensors");
    tmp_path(logp, sizeof logp, "a.log.jsonl");
    TrainOptions o;
    tiny_options(&o);
    o.out_path = out, o.log_path = logp;
    TrainResult r;
    CHECK(train_classifier(&o, &r) == 0);
    if (r.epochs_run == 0) {
        fprintf(stderr, "training failed: %s\n", kres_last_error());
        return;
    }
    /* Sample facts (data/ptbxl-sample/README): paper protocol, training folds 1-8 hold 52
     * positives and 216 NORM-only records; 30% of each class is round(15.6) and round(64.8). */
    CHECK(r.ntrain == 16 + 65 && r.ntrain_pos == 16);
    CHECK(r.nval == 44 && r.nval_pos == 8 && r.ntest == 45);
    CHECK_CLOSE(r.pos_weight, 65.0 / 16.0, 1e-6, 0);
    CHECK(r.epochs_run == 2 && r.best_epoch >= 1 && r.best_epoch <= 2);
    CHECK(r.best_val_auc >= 0 && r.best_val_auc <= 1);
    CHECK(r.threshold >= 0 && r.threshold <= 1);
    CHECK(strstr(r.threshold_rule, "youden on validation fold 9") != NULL);
    CHECK(r.nval_scores == 44 && r.val_scores && r.test_scores && r.test_labels && r.test_ecg_id);
    int tpos = 0;
    for (int i = 0; i < r.ntest; i++) tpos += r.test_labels[i];
    CHECK(tpos == 11);
    double vauc;
    CHECK(roc_auc(r.val_scores, r.val_labels, r.nval_scores, &vauc) == 0 && vauc == r.best_val_auc);
    check_log(logp, 2);

    /* The checkpoint: loadable, kind, task, preprocessing, threshold. */
    Kres *m = NULL;
    CkptInfo info;
    memset(&info, 0, sizeof info);
    CHECK(ckpt_load(out, 16, &m, &info) == 0);
    if (m) {
        CHECK(strcmp(info.kind, "classifier") == 0);
        CHECK(info.threshold == r.threshold);
        const char *rule = ckpt_meta(&info, "threshold_rule");
        CHECK(rule && strcmp(rule, r.threshold_rule) == 0);
        TaskMeta tm;
        CHECK(task_json_parse(info.task_json, out, &tm) == 0);
        CHECK(strcmp(tm.name, "heart-block") == 0 && tm.ncodes == 9 && tm.protocol == PROTOCOL_PAPER);
        CHECK(tm.rate == 100 && tm.multilabel == 0);
        PreprocConfig pc;
        CHECK(info.preprocess_json && preproc_from_json(info.preprocess_json, &pc) == 0 && preproc_equal(&pc, &o.preproc));
        const KresConfig *mc = kres_config(m);
        CHECK(mc->n_outputs == 1 && mc->proj_hidden == 0 && mc->in_len == 256 && mc->stem_width == 8);
        CHECK(info.provenance_json && strstr(info.provenance_json, "\"epochs\":2") &&
              strstr(info.provenance_json, "\"threads\":2") && strstr(info.provenance_json, "\"label_fraction\":0.3,") &&
              strstr(info.provenance_json, "\"lr\":0.001,"));

        /* The reloaded model reproduces the test-fold scores of the run. */
        PtbxlDb db;
        Task t;
        Cohort c;
        CHECK(ptbxl_open(SAMPLE_DIR, &db) == 0 && task_parse("heart-block", &db, &t) == 0);
        CHECK(cohort_build(&db, &t, cohort_options_default(), &c) == 0);
        int *idx = xmalloc((size_t)c.n * sizeof(int)), nt = 0;
        for (int i = 0; i < c.n; i++)
            if (c.fold[i] == 10) idx[nt++] = i;
        CHECK(nt == r.ntest);
        float *s = xmalloc((size_t)nt * sizeof(float));
        CHECK(classifier_infer(m, 16, &c, idx, nt, &pc, NULL, s) == 0);
        int same = nt == r.ntest;
        for (int i = 0; same && i < nt; i++) same = s[i] == r.test_scores[i] && c.ecg_id[idx[i]] == r.test_ecg_id[i];
        CHECK(same);
        free(s), free(idx);
        cohort_free(&c);
        ptbxl_close(&db);
        kres_free(m);
    }
    ckpt_info_free(&info);

    /* Same options, seed and threads: bit-identical tensors and metadata (but provenance). */
    TrainOptions o2 = o;
    o2.out_path = out2, o2.log_path = NULL;
    TrainResult r2;
    CHECK(train_classifier(&o2, &r2) == 0);
    CHECK(same_checkpoint(out, out2));
    CHECK(r2.threshold == r.threshold && r2.best_val_auc == r.best_val_auc && r2.ntest == r.ntest);
    CHECK(r2.ntest == r.ntest && memcmp(r2.test_scores, r.test_scores, (size_t)r.ntest * sizeof(float)) == 0);
    train_result_free(&r2);

    /* Another seed must change the weights (so the comparison above can fail). */
    o2.seed = 2, o2.out_path = out3, o2.threads = 1;
    CHECK(train_classifier(&o2, &r2) == 0);
    CHECK(!same_checkpoint(out, out3));
    train_result_free(&r2);

    /* A corrupted checkpoint is refused with the file's name. */
    size_t len;
    unsigned char *bytes = (unsigned char *)read_file_all(out, &len);
    CHECK(bytes && len > 100);
    if (bytes) {
        bytes[len - 5] ^= 0x40;
        CHECK(write_file_atomic(out3, bytes, len) == 0);
        Kres *bad = NULL;
        CHECK(ckpt_load(out3, 1, &bad, NULL) != 0 && bad == NULL && strstr(kres_last_error(), out3) != NULL);
        free(bytes);
    }

    /* Fine-tuning hook: encoder from the checkpoint, frozen (lr scale 0): after training the
     * encoder parameters are still exactly the checkpoint's, the head has moved. */
    TrainOptions of = o;
    of.out_path = out2, of.log_path = NULL, of.epochs = 1, of.seed = 7;
    of.init_encoder = out, of.encoder_lr_scale = 0.0f, of.threads = 1;
    TrainResult rf;
    CHECK(train_classifier(&of, &rf) == 0);
    Kres *ma = NULL, *mb = NULL;
    CHECK(ckpt_load(out, 1, &ma, NULL) == 0 && ckpt_load(out2, 1, &mb, NULL) == 0);
    if (ma && mb) {
        size_t ne = kres_num_encoder_params(ma), np = kres_num_params(ma);
        CHECK(ne > 0 && ne < np && kres_num_params(mb) == np);
        CHECK(memcmp(kres_params(ma), kres_params(mb), ne * sizeof(float)) == 0);
        CHECK(memcmp(kres_params(ma) + ne, kres_params(mb) + ne, (np - ne) * sizeof(float)) != 0);
    }
    if (ma) kres_free(ma);
    if (mb) kres_free(mb);
    train_result_free(&rf);
    train_result_free(&r);
}

static void test_multilabel_and_subsets(void) {
    char out[512];
    tmp_path(out, sizeof out, "ml.safetensors");
    TrainOptions o;
    tiny_options(&o);
    o.threads = 1; /* 2 threads are covered above; 1 keeps the suite light on a busy machine */
    o.multilabel = 1, o.epochs = 1, o.label_fraction = 0.2, o.out_path = out, o.test_fold = 0;
    o.threshold_rule = "sens=0.5";
    TrainResult r;
    CHECK(train_classifier(&o, &r) == 0);
    /* No test fold: training is every fold but 9 (63 positives, 250 NORM-only);
     * round(0.2 * 63) = 13 and round(0.2 * 250) = 50 are kept. */
    CHECK(r.ntrain == 63 && r.ntrain_pos == 13 && r.ntest == 0 && r.test_scores == NULL);
    CHECK(strstr(r.threshold_rule, "sens=0.5") != NULL);
    Kres *m = NULL;
    CkptInfo info;
    memset(&info, 0, sizeof info);
    CHECK(ckpt_load(out, 1, &m, &info) == 0);
    if (m) {
        TaskMeta tm;
        CHECK(kres_config(m)->n_outputs == 9);
        CHECK(task_json_parse(info.task_json, out, &tm) == 0 && tm.multilabel == 1 && tm.ncodes == 9);
        kres_free(m);
    }
    ckpt_info_free(&info);
    /* The sensitivity rule holds on the validation scores it was chosen on (8 positives). */
    int tp = 0, pos = 0;
    for (int i = 0; i < r.nval_scores; i++)
        if (r.val_labels[i]) pos++, tp += r.val_scores[i] >= (float)r.threshold;
    CHECK(pos == 8 && tp >= 4);
    train_result_free(&r);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/kres_test_train.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    test_small_pieces();
    test_bad_options();
    test_train_and_reload();
    test_multilabel_and_subsets();
    static const char *const files[] = {"a.safetensors", "b.safetensors", "c.safetensors", "a.log.jsonl",
                                        "ml.safetensors"};
    char p[512];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) tmp_path(p, sizeof p, files[i]), unlink(p);
    CHECK(rmdir(g_dir) == 0); /* nothing else (no temporary file) was left behind */
    TEST_MAIN_END();
}
