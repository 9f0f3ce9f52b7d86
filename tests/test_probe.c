/* test_probe.c — linear probe: logistic-regression objective and gradient, L-BFGS fits,
 * lambda selection, standardisation fold-back, the saved classifier (its logits equal the
 * probe's decision values), the cohort-embedding cache, and the embedding file formats. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "test.h"
#include "train/embed.h"
#include "train/probe.h"

static char g_tmp[256];

/* Two Gaussian blobs in d dims: class 1 shifted by `shift` along the first k features;
 * features get different scales and offsets so standardisation matters. */
static void blobs(float *X, int *y, int n, int d, int k, double shift, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        y[i] = rng_uniform(&r) < 0.3;
        for (int j = 0; j < d; j++) {
            double v = rng_normal(&r) + (y[i] && j < k ? shift : 0.0);
            X[(size_t)i * d + j] = (float)(v * (1.0 + j) + 5.0 * j);
        }
    }
}

static void test_objective_gradient(void) {
    enum { n = 300, d = 7 };
    float z[n * d];
    int y[n];
    double c[n], wb[d + 1], g[d + 1];
    blobs(z, y, n, d, 3, 1.0, 11);
    for (int i = 0; i < n * d; i++) z[i] = z[i] / 10.0f;
    CHECK(logreg_balanced_weights(y, n, c) == 0);
    /* Balanced weights: each class carries half of the total weight n. */
    double sp = 0, sn = 0;
    for (int i = 0; i < n; i++) *(y[i] ? &sp : &sn) += c[i];
    CHECK_CLOSE(sp, n / 2.0, 1e-9, 1e-12);
    CHECK_CLOSE(sn, n / 2.0, 1e-9, 1e-12);
    Rng r;
    rng_seed(&r, 3);
    for (int j = 0; j <= d; j++) wb[j] = rng_normal(&r) * 0.5;
    const double lam = 0.3;
    double f = logreg_objective(z, y, c, n, d, lam, wb, g);
    /* The objective by its definition, written out once more. */
    double ref = 0, w2 = 0;
    for (int i = 0; i < n; i++) {
        double s = wb[d];
        for (int j = 0; j < d; j++) s += wb[j] * z[i * d + j];
        ref += c[i] * (log1p(exp(s)) - y[i] * s);
    }
    for (int j = 0; j < d; j++) w2 += wb[j] * wb[j];
    ref = ref / n + 0.5 * lam * w2;
    CHECK_CLOSE(f, ref, 1e-12, 1e-10);
    /* Central differences in double: the gradient is exact. */
    int bad = 0;
    for (int j = 0; j <= d; j++) {
        double h = 1e-6, keep = wb[j];
        wb[j] = keep + h;
        double fp = logreg_objective(z, y, c, n, d, lam, wb, NULL);
        wb[j] = keep - h;
        double fm = logreg_objective(z, y, c, n, d, lam, wb, NULL);
        wb[j] = keep;
        double num = (fp - fm) / (2 * h);
        if (fabs(num - g[j]) > 1e-7 + 1e-6 * fabs(num)) {
            fprintf(stderr, "  d/dw[%d]: numeric %.10g analytic %.10g\n", j, num, g[j]);
            bad++;
        }
    }
    CHECK(bad == 0);
    /* Bias is not penalised: with lambda huge, the weights vanish but the bias does not. */
    double w0[d + 1] = {0};
    CHECK(logreg_fit(z, y, c, n, d, 1e6, w0, NULL) >= 0);
    double wn = 0;
    for (int j = 0; j < d; j++) wn += fabs(w0[j]);
    CHECK(wn < 1e-3);
    /* Balanced weights make the optimal bias-only model predict 0.5: b = 0. */
    CHECK(fabs(w0[d]) < 1e-3);
    /* A fit reaches a stationary point: |grad| small. */
    double w1[d + 1] = {0};
    CHECK(logreg_fit(z, y, c, n, d, 1e-2, w1, NULL) >= 0);
    logreg_objective(z, y, c, n, d, 1e-2, w1, g);
    double gn = 0;
    for (int j = 0; j <= d; j++) gn += g[j] * g[j];
    CHECKF(sqrt(gn) < 1e-4, "gradient norm at the minimum %.3g", sqrt(gn));
    int y1[4] = {1, 1, 1, 1};
    double c1[4];
    CHECK(logreg_balanced_weights(y1, 4, c1) == -1);
    CHECK(strstr(kres_last_error(), "both classes") != NULL);
}

static void test_fit_separable(void) {
    enum { ntr = 400, nva = 200, d = 10 };
    float *Xtr = malloc(sizeof(float) * ntr * d), *Xva = malloc(sizeof(float) * nva * d);
    int ytr[ntr], yva[nva];
    blobs(Xtr, ytr, ntr, d, 3, 2.5, 1);
    blobs(Xva, yva, nva, d, 3, 2.5, 2);
    ProbeFitOptions o;
    probe_fit_options_default(&o);
    ProbeFit f;
    CHECK(probe_fit(Xtr, ytr, ntr, Xva, yva, nva, d, &o, &f) == 0);
    CHECKF(f.val_auc > 0.95, "val AUC %.4f", f.val_auc);
    CHECK(f.n_lambda == 13);
    CHECK_CLOSE(f.grid_lambda[0], 100.0, 0, 1e-12);
    CHECK_CLOSE(f.grid_lambda[12], 1e-4, 0, 1e-12);
    CHECK_CLOSE(f.grid_lambda[2], 10.0, 0, 1e-12);
    /* Selection: the first (most regularised) maximum of the validation AUCs. */
    int best = 0;
    for (int k = 1; k < f.n_lambda; k++)
        if (f.grid_val_auc[k] > f.grid_val_auc[best] + 1e-12) best = k;
    CHECK(f.chosen == best);
    CHECK(f.lambda == f.grid_lambda[best]);
    CHECK(f.val_auc == f.grid_val_auc[best]);
    /* The reported validation AUC is the AUC of the kept model. */
    float *s = malloc(sizeof(float) * nva);
    for (int i = 0; i < nva; i++) s[i] = (float)probe_decision(&f, Xva + (size_t)i * d);
    double auc;
    CHECK(roc_auc(s, yva, nva, &auc) == 0);
    CHECK_CLOSE(auc, f.val_auc, 1e-12, 0);
    /* The threshold is a validation probability (Youden), inside (0, 1). */
    CHECK(f.threshold > 0 && f.threshold < 1);
    /* Fold-back: head_w . e + head_b == the decision value on standardised features. */
    float hw[d], hb;
    probe_fold_back(&f, hw, &hb);
    double worst = 0;
    for (int i = 0; i < nva; i++) {
        double z = hb;
        for (int j = 0; j < d; j++) z += (double)hw[j] * Xva[(size_t)i * d + j];
        double ref = probe_decision(&f, Xva + (size_t)i * d);
        double e = fabs(z - ref) / (1 + fabs(ref));
        if (e > worst) worst = e;
    }
    CHECKF(worst < 1e-5, "fold-back error %.3g", worst);
    /* The informative features carry the weight (in standardised units). */
    double inf = 0, noise = 0;
    for (int j = 0; j < d; j++) *(j < 3 ? &inf : &noise) += fabs(f.w[j]);
    CHECK(inf > 3 * noise);
    probe_fit_free(&f);
    free(s);
    free(Xtr);
    free(Xva);
}

static void test_lambda_selection(void) {
    /* One feature: every lambda gives the same ranking, so every validation AUC ties and the
     * strongest regularisation must win. */
    enum { n = 120 };
    float Xtr[n], Xva[n];
    int ytr[n], yva[n];
    blobs(Xtr, ytr, n, 1, 1, 1.0, 5);
    blobs(Xva, yva, n, 1, 1, 1.0, 6);
    ProbeFitOptions o;
    probe_fit_options_default(&o);
    ProbeFit f;
    CHECK(probe_fit(Xtr, ytr, n, Xva, yva, n, 1, &o, &f) == 0);
    CHECK(f.chosen == 0);
    CHECK(f.lambda == 100.0);
    for (int k = 1; k < f.n_lambda; k++) CHECK(f.grid_val_auc[k] == f.grid_val_auc[0]);
    probe_fit_free(&f);
    /* Many noise features, few training rows: the weakest penalty overfits, so the
     * chosen lambda is not the smallest, and the weight norm shrinks as lambda grows. */
    enum { nt = 40, nv = 400, d = 30 };
    float *A = malloc(sizeof(float) * nt * d), *V = malloc(sizeof(float) * nv * d);
    int ya[nt], yv[nv];
    blobs(A, ya, nt, d, 1, 1.5, 7);
    blobs(V, yv, nv, d, 1, 1.5, 8);
    CHECK(probe_fit(A, ya, nt, V, yv, nv, d, &o, &f) == 0);
    CHECKF(f.chosen < f.n_lambda - 1, "chosen index %d (lambda %g)", f.chosen, f.lambda);
    CHECKF(f.val_auc > f.grid_val_auc[f.n_lambda - 1], "best %.4f vs weakest %.4f", f.val_auc,
           f.grid_val_auc[f.n_lambda - 1]);
    /* |w| decreases with lambda (refit on the standardised training rows). */
    float *z = malloc(sizeof(float) * nt * d);
    for (int i = 0; i < nt; i++)
        for (int j = 0; j < d; j++) z[i * d + j] = (float)((A[i * d + j] - f.mean[j]) / f.sd[j]);
    double c[nt], prev = -1;
    logreg_balanced_weights(ya, nt, c);
    int mono = 1;
    for (int k = f.n_lambda - 1; k >= 0; k--) {
        double wb[d + 1];
        memset(wb, 0, sizeof wb);
        logreg_fit(z, ya, c, nt, d, f.grid_lambda[k], wb, NULL);
        double nrm = 0;
        for (int j = 0; j < d; j++) nrm += wb[j] * wb[j];
        if (prev >= 0 && !(sqrt(nrm) < prev)) mono = 0;
        prev = sqrt(nrm);
    }
    CHECK(mono);
    /* Determinism: the same inputs give the same bits. */
    ProbeFit f2;
    CHECK(probe_fit(A, ya, nt, V, yv, nv, d, &o, &f2) == 0);
    CHECK(memcmp(f.w, f2.w, sizeof(double) * d) == 0 && f.b == f2.b && f.threshold == f2.threshold);
    probe_fit_free(&f2);
    probe_fit_free(&f);
    /* A validation set with one class cannot choose lambda. */
    int yone[nv];
    for (int i = 0; i < nv; i++) yone[i] = 0;
    CHECK(probe_fit(A, ya, nt, V, yone, nv, d, &o, &f) == -1);
    CHECK(strstr(kres_last_error(), "validation") != NULL);
    free(z);
    free(A);
    free(V);
}

/* A tiny random encoder saved as an encoder checkpoint (default preprocessing, L = 1024). */
static int save_tiny_encoder(const char *path) {
    KresConfig c;
    kres_config_default(&c);
    c.stem_width = 4, c.kernel = 5, c.nunits = 2, c.widths[0] = 6, c.widths[1] = 8;
    c.downsample = 4, c.dropout = 0, c.n_outputs = 0, c.proj_hidden = 8, c.proj_dim = 4;
    Kres *m = kres_create(&c, 2, 42);
    if (!m) return -1;
    PreprocConfig pc;
    preproc_default(&pc);
    char pj[512];
    preproc_to_json(&pc, pj, sizeof pj);
    CkptMeta meta = {"encoder", pj, NULL, NULL, NAN, 0, NULL, NULL};
    int rc = ckpt_save(path, m, &meta, NULL, 0);
    kres_free(m);
    return rc;
}

static void test_probe_run(void) {
    char enc[320], out[320];
    snprintf(enc, sizeof enc, "%s/enc.safetensors", g_tmp);
    snprintf(out, sizeof out, "%s/probe.safetensors", g_tmp);
    CHECK(save_tiny_encoder(enc) == 0);
    ProbeOptions o;
    probe_options_default(&o);
    o.encoder_path = enc;
    o.data_dir = SAMPLE_DIR;
    o.out_path = out;
    o.label_fraction = 0.3;
    o.quiet = 1;
    ProbeResult r;
    CHECKF(probe_run(&o, &r) == 0, "%s", kres_last_error());
    /* Sample facts (data/ptbxl-sample/README.md): fold 9 has 8 positives, fold 10 has 11. */
    CHECK(r.nval_pos == 8 && r.ntest_pos == 11);
    CHECK(r.nval == 44 && r.ntest == 45);
    CHECK(r.ntrain > 0 && r.ntrain < 100);
    CHECK(r.fit.lambda > 0 && r.fit.d == 8);

    /* The saved model is a KRes classifier whose logits are the probe's decision values. */
    Kres *m = NULL;
    CkptInfo info;
    CHECKF(ckpt_load(out, 8, &m, &info) == 0, "%s", kres_last_error());
    if (m) {
        CHECK(strcmp(info.kind, "classifier") == 0);
        CHECK(kres_config(m)->n_outputs == 1 && kres_config(m)->proj_hidden == 0);
        CHECK(info.threshold == r.fit.threshold);
        CHECK(info.task_json && strstr(info.task_json, "heart-block"));
        CHECK(ckpt_meta(&info, "probe") && ckpt_meta(&info, "threshold_rule"));
        PtbxlDb db;
        Task t;
        Cohort c;
        CHECK(ptbxl_open(SAMPLE_DIR, &db) == 0 && task_parse("heart-block", &db, &t) == 0);
        CHECK(cohort_build(&db, &t, cohort_options_default(), &c) == 0);
        /* The first 8 test-fold records, in cohort order (as r.test_* are). */
        const char *paths[8];
        int k = 0;
        for (int i = 0; i < c.n && k < 8; i++)
            if (c.fold[i] == 10) paths[k++] = c.path[i];
        CHECK(k == 8);
        PreprocConfig pc;
        preproc_default(&pc);
        float emb[8 * 8], logit[8];
        CHECK(embed_records(m, 8, &pc, paths, 8, emb, logit) == 0);
        double worst = 0, worst_p = 0;
        for (int i = 0; i < 8; i++) {
            double ref = probe_decision(&r.fit, emb + i * 8);
            double e = fabs(logit[i] - ref) / (1 + fabs(ref));
            if (e > worst) worst = e;
            double ep = fabs(sigmoid_stable(logit[i]) - r.test_scores[i]);
            if (ep > worst_p) worst_p = ep;
        }
        CHECKF(worst < 1e-5, "saved logits vs decision values: %.3g", worst);
        CHECKF(worst_p < 1e-6, "saved probabilities vs probe test scores: %.3g", worst_p);
        /* The encoder part is the original encoder, untouched. */
        Kres *e0;
        CHECK(ckpt_load(enc, 1, &e0, NULL) == 0);
        size_t ne = kres_num_encoder_params(e0);
        CHECK(ne == kres_num_encoder_params(m) && memcmp(kres_params(e0), kres_params(m), ne * sizeof(float)) == 0);
        kres_free(e0);

        /* The cohort-embedding cache, and the database passed open instead of data_dir
         * opened again, give the same fit as embedding on the fly. */
        float *cache;
        int E;
        CHECK(probe_embed_cohort(enc, &c, &cache, &E, 1) == 0 && E == 8);
        ProbeOptions o2 = o;
        o2.out_path = NULL;
        o2.cohort_embeddings = cache;
        o2.db = &db;
        ProbeResult r2;
        CHECK(probe_run(&o2, &r2) == 0);
        CHECK(r2.fit.lambda == r.fit.lambda && r2.fit.b == r.fit.b &&
              memcmp(r2.fit.w, r.fit.w, sizeof(double) * 8) == 0);
        CHECK(memcmp(r2.test_scores, r.test_scores, sizeof(float) * r.ntest) == 0);
        probe_result_free(&r2);
        free(cache);
        cohort_free(&c);
        ptbxl_close(&db);
    }
    kres_free(m);
    ckpt_info_free(&info);
    probe_result_free(&r);

    /* Errors name the file. */
    ProbeOptions bad = o;
    bad.encoder_path = "/nonexistent/enc.safetensors";
    CHECK(probe_run(&bad, &r) == -1);
    CHECK(strstr(kres_last_error(), "/nonexistent/enc.safetensors") != NULL);
    probe_result_free(&r);
    unlink(enc);
    unlink(out);
}

static void test_embed_files(void) {
    enum { n = 3, E = 5 };
    float emb[n * E];
    for (int i = 0; i < n * E; i++) emb[i] = (float)(i * 0.1 - 0.7) / 3.0f;
    emb[4] = 1e-30f;
    const char *recs[n] = {"a/rec1", "b/with,comma", "c/rec3"};
    char csv[320], npy[320], side[340];
    snprintf(csv, sizeof csv, "%s/e.csv", g_tmp);
    snprintf(npy, sizeof npy, "%s/e.npy", g_tmp);
    snprintf(side, sizeof side, "%s.txt", npy);
    CHECK(embed_write_csv(csv, recs, emb, n, E) == 0);
    char *text = read_file_all(csv, NULL);
    CHECK(text && strncmp(text, "record,e0,e1,e2,e3,e4\n", 22) == 0);
    CHECK(text && strstr(text, "\"b/with,comma\","));
    /* Values read back exactly (%.9g round-trips float32). */
    int exact = 1;
    if (text) {
        char *line = strchr(text, '\n') + 1;
        for (int i = 0; i < n; i++) {
            char *p = line;
            if (*p == '"') p = strchr(p + 1, '"') + 1;
            else p = strchr(p, ',');
            for (int j = 0; j < E; j++) {
                char *end;
                float v = strtof(p + 1, &end);
                if (v != emb[i * E + j]) exact = 0;
                p = end;
            }
            line = strchr(line, '\n') + 1;
        }
    }
    CHECK(exact);
    free(text);

    CHECK(embed_write_npy(npy, recs, emb, n, E) == 0);
    size_t len;
    unsigned char *b = (unsigned char *)read_file_all(npy, &len);
    CHECK(b && memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    if (b) {
        size_t hl = b[8] | (size_t)b[9] << 8;
        CHECK((10 + hl) % 64 == 0);
        CHECK(b[10 + hl - 1] == '\n');
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }";
        CHECK(strncmp((char *)b + 10, dict, strlen(dict)) == 0);
        CHECK(len == 10 + hl + sizeof emb);
        CHECK(memcmp(b + 10 + hl, emb, sizeof emb) == 0);
    }
    free(b);
    float *back;
    int rows, cols;
    CHECK(npy_read_f32(npy, &back, &rows, &cols) == 0 && rows == n && cols == E);
    if (back) CHECK(memcmp(back, emb, sizeof emb) == 0);
    free(back);
    char *names = read_file_all(side, NULL);
    CHECK(names && strcmp(names, "a/rec1\nb/with,comma\nc/rec3\n") == 0);
    free(names);
    /* A truncated NPY is refused with the file named. */
    FILE *fp = fopen(npy, "r+b");
    if (fp) {
        CHECK(ftruncate(fileno(fp), 100) == 0);
        fclose(fp);
    }
    CHECK(npy_read_f32(npy, &back, &rows, &cols) == -1);
    CHECK(strstr(kres_last_error(), "e.npy") != NULL);
    unlink(csv);
    unlink(npy);
    unlink(side);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/kres_test_probe_%d", (int)getpid());
    if (mkdir(g_tmp, 0700) != 0) return 1;
    test_objective_gradient();
    test_fit_separable();
    test_lambda_selection();
    test_embed_files();
    test_probe_run();
    rmdir(g_tmp);
    TEST_MAIN_END();
}
