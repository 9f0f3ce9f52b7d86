/* test_loader.c — streaming loader: gets match preprocess_file, batches match gets, cache
 * on/off/small give identical bits, the cache stays within its budget, errors name the
 * failing record. */
#include <omp.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "data/loader.h"
#include "test.h"

#define NREC 10

static char g_paths[NREC + 2][256];
static const char *g_ptr[NREC + 2];

static void make_paths(void) {
    for (int i = 0; i < NREC; i++) {
        snprintf(g_paths[i], sizeof g_paths[i], "%s/records100/00000/%05d_lr", SAMPLE_DIR, i + 1);
        g_ptr[i] = g_paths[i];
    }
    /* two bad records: one absent, one with a corrupt header */
    snprintf(g_paths[NREC], sizeof g_paths[NREC], "%s/records100/00000/missing_lr", SAMPLE_DIR);
    snprintf(g_paths[NREC + 1], sizeof g_paths[NREC + 1], "/tmp/kres_test_loader_%d_bad", (int)getpid());
    char hea[300];
    snprintf(hea, sizeof hea, "%s.hea", g_paths[NREC + 1]);
    write_file_atomic(hea, "this is not a header\n", 21);
    g_ptr[NREC] = g_paths[NREC];
    g_ptr[NREC + 1] = g_paths[NREC + 1];
}

static void test_get_matches_preprocess(const PreprocConfig *c, size_t E) {
    Loader *ld = loader_create(g_ptr, NREC, c, 0);
    CHECK(ld != NULL);
    if (!ld) return;
    CHECK(loader_size(ld) == NREC && loader_length(ld) == c->length);
    CHECK(strcmp(loader_path(ld, 3), g_paths[3]) == 0);
    CHECK(preproc_equal(loader_config(ld), c));
    float *a = xmalloc(E * sizeof(float)), *b = xmalloc(E * sizeof(float));
    int same = 1;
    for (int i = 0; i < NREC; i++) {
        CHECK(loader_get(ld, i, a) == 0);
        CHECK(preprocess_file(g_paths[i], c, b) == 0);
        same &= memcmp(a, b, E * sizeof(float)) == 0;
    }
    CHECK(same);
    CHECK(loader_get(ld, NREC, a) == -1 && strstr(kres_last_error(), "outside"));
    CHECK(loader_get(ld, -1, a) == -1);
    free(a);
    free(b);
    loader_free(ld);
}

static void test_batch_and_cache(const PreprocConfig *c, size_t E) {
    /* reference: one get per record, no cache */
    Loader *ref = loader_create(g_ptr, NREC, c, 0);
    float *want = xmalloc(NREC * E * sizeof(float));
    for (int i = 0; i < NREC; i++) CHECK(loader_get(ref, i, want + i * E) == 0);
    const size_t budgets[3] = {0, 3 * E * sizeof(float) + 100, (size_t)1 << 30};
    const int idx[12] = {4, 0, 9, 4, 2, 7, 7, 1, 3, 8, 5, 6}; /* with duplicates */
    float *batch = xmalloc(12 * E * sizeof(float)), *one = xmalloc(E * sizeof(float));
    for (int k = 0; k < 3; k++) {
        Loader *ld = loader_create(g_ptr, NREC, c, budgets[k]);
        int same = 1;
        for (int pass = 0; pass < 3; pass++) {
            omp_set_num_threads(pass == 0 ? 1 : 2);
            CHECK(loader_fill_batch(ld, idx, 12, batch) == 0);
            for (int b = 0; b < 12; b++)
                same &= memcmp(batch + b * E, want + idx[b] * E, E * sizeof(float)) == 0;
            for (int i = NREC - 1; i >= 0; i--) {
                CHECK(loader_get(ld, i, one) == 0);
                same &= memcmp(one, want + i * E, E * sizeof(float)) == 0;
            }
        }
        CHECKF(same, "budget %zu: batches and gets bit-identical to uncached gets", budgets[k]);
        LoaderStats s;
        loader_stats(ld, &s);
        CHECK(s.example_bytes == E * sizeof(float));
        CHECKF(s.entries <= s.max_entries && s.bytes <= s.budget, "budget %zu: %d entries, %zu bytes",
               budgets[k], s.entries, s.bytes);
        if (k == 0) CHECK(s.entries == 0 && s.max_entries == 0 && s.hits == 0);
        if (k == 1) CHECK(s.max_entries == 3 && s.entries == 3 && s.hits > 0);
        if (k == 2) CHECK(s.entries == NREC && s.hits >= 2 * (12 + NREC)); /* passes 2-3 all hit */
        loader_free(ld);
    }
    omp_set_num_threads(2);
    free(batch);
    free(one);
    free(want);
    loader_free(ref);
}

static void test_errors(const PreprocConfig *c, size_t E) {
    Loader *ld = loader_create(g_ptr, NREC + 2, c, (size_t)1 << 20);
    float *out = xmalloc(8 * E * sizeof(float)), *good = xmalloc(E * sizeof(float));
    kres_clear_error();
    CHECK(loader_get(ld, NREC, out) == -1);
    CHECKF(strstr(kres_last_error(), "missing_lr") != NULL, "%s", kres_last_error());
    CHECK(loader_get(ld, NREC + 1, out) == -1);
    CHECKF(strstr(kres_last_error(), g_paths[NREC + 1]) != NULL, "%s", kres_last_error());
    /* batch with two bad records: the first bad position is reported, good ones are filled */
    const int idx[6] = {0, 1, NREC + 1, 2, NREC, 3};
    for (int rep = 0; rep < 2; rep++) {
        kres_clear_error();
        CHECK(loader_fill_batch(ld, idx, 6, out) == -1);
        CHECKF(strstr(kres_last_error(), g_paths[NREC + 1]) != NULL, "%s", kres_last_error());
        CHECK(strstr(kres_last_error(), "missing_lr") == NULL);
        CHECK(loader_get(ld, 2, good) == 0);
        CHECK(memcmp(out + 3 * E, good, E * sizeof(float)) == 0);
        int zero = 1;
        for (size_t i = 0; i < E; i++) zero &= out[2 * E + i] == 0 && out[4 * E + i] == 0;
        CHECK(zero);
    }
    const int badidx[2] = {0, NREC + 5};
    CHECK(loader_fill_batch(ld, badidx, 2, out) == -1 && strstr(kres_last_error(), "outside"));
    CHECK(loader_fill_batch(ld, badidx, 0, out) == 0); /* empty batch */
    loader_free(ld);
    /* bad config and empty paths are refused at creation */
    PreprocConfig bad = *c;
    bad.length = 0;
    CHECK(loader_create(g_ptr, NREC, &bad, 0) == NULL && strstr(kres_last_error(), "length"));
    const char *empty[1] = {""};
    CHECK(loader_create(empty, 1, c, 0) == NULL);
    Loader *none = loader_create(g_ptr, 0, c, 1000);
    CHECK(none != NULL && loader_size(none) == 0);
    loader_free(none);
    free(out);
    free(good);
}

int main(void) {
    make_paths();
    PreprocConfig c;
    preproc_default(&c);
    c.length = 256; /* small examples keep the test fast */
    size_t E = (size_t)KRES_NLEADS * c.length;
    test_get_matches_preprocess(&c, E);
    test_batch_and_cache(&c, E);
    test_errors(&c, E);
    char hea[300];
    snprintf(hea, sizeof hea, "%s.hea", g_paths[NREC + 1]);
    unlink(hea);
    TEST_MAIN_END();
}
