/* loader.c — see loader.h. Dimension legend: n = records, B = batch size, L = length,
 * E = 12 * L floats per example. */
#include "data/loader.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct Loader {
    int n;
    PreprocConfig cfg;
    char *names;          /* all paths, NUL-separated, in one block */
    size_t *name_off;     /* [n] offsets into names */
    size_t example_floats;/* E */
    /* cache */
    float **slot;         /* [n] cached example or NULL; NULL table when the cache is off */
    int entries, max_entries;
    size_t budget;
    long hits, misses;
    omp_lock_t lock;      /* guards slot, entries, hits, misses */
};

Loader *loader_create(const char *const *record_paths, int n, const PreprocConfig *c,
                      size_t cache_bytes) {
    if (n < 0) {
        kres_fail(NULL, "loader: negative record count %d", n);
        return NULL;
    }
    if (preproc_validate(c) != 0) return NULL;
    for (int i = 0; i < n; i++)
        if (!record_paths[i] || !record_paths[i][0]) {
            kres_fail(NULL, "loader: record path %d is empty", i);
            return NULL;
        }
    Loader *ld = xcalloc(1, sizeof *ld);
    ld->n = n;
    ld->cfg = *c;
    /* One block for the paths: millions of records cost one allocation, not millions. */
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(record_paths[i]) + 1;
    ld->names = xmalloc(total ? total : 1);
    ld->name_off = xmalloc((size_t)(n ? n : 1) * sizeof(size_t));
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(record_paths[i]) + 1;
        memcpy(ld->names + pos, record_paths[i], len);
        ld->name_off[i] = pos;
        pos += len;
    }
    ld->example_floats = (size_t)KRES_NLEADS * c->length;
    ld->budget = cache_bytes;
    size_t eb = ld->example_floats * sizeof(float);
    size_t maxe = cache_bytes / eb;
    ld->max_entries = maxe > (size_t)n ? n : (int)maxe;
    if (ld->max_entries > 0) ld->slot = xcalloc((size_t)n, sizeof(float *));
    omp_init_lock(&ld->lock);
    return ld;
}

void loader_free(Loader *ld) {
    if (!ld) return;
    if (ld->slot) {
        for (int i = 0; i < ld->n; i++) free(ld->slot[i]);
        free(ld->slot);
    }
    omp_destroy_lock(&ld->lock);
    free(ld->names);
    free(ld->name_off);
    free(ld);
}

int loader_size(const Loader *ld) { return ld->n; }
int loader_length(const Loader *ld) { return ld->cfg.length; }
const PreprocConfig *loader_config(const Loader *ld) { return &ld->cfg; }

const char *loader_path(const Loader *ld, int idx) {
    KRES_ASSERT(idx >= 0 && idx < ld->n);
    return ld->names + ld->name_off[idx];
}

void loader_stats(const Loader *ld, LoaderStats *s) {
    Loader *m = (Loader *)ld; /* the lock is not part of the observable state */
    omp_set_lock(&m->lock);
    s->hits = ld->hits;
    s->misses = ld->misses;
    s->entries = ld->entries;
    s->max_entries = ld->max_entries;
    s->example_bytes = ld->example_floats * sizeof(float);
    s->bytes = (size_t)ld->entries * s->example_bytes;
    s->budget = ld->budget;
    omp_unset_lock(&m->lock);
}

/* Cache lookup: copies into out and returns 1 on a hit. */
static int cache_lookup(Loader *ld, int idx, float *out) {
    if (!ld->slot) return 0;
    int hit = 0;
    omp_set_lock(&ld->lock);
    if (ld->slot[idx]) {
        memcpy(out, ld->slot[idx], ld->example_floats * sizeof(float));
        hit = 1;
        ld->hits++;
    } else {
        ld->misses++;
    }
    omp_unset_lock(&ld->lock);
    return hit;
}

/* Admit an example while there is room; never evicts. */
static void cache_admit(Loader *ld, int idx, const float *ex) {
    if (!ld->slot) return;
    omp_set_lock(&ld->lock);
    if (!ld->slot[idx] && ld->entries < ld->max_entries) {
        float *copy = xmalloc(ld->example_floats * sizeof(float));
        memcpy(copy, ex, ld->example_floats * sizeof(float));
        ld->slot[idx] = copy;
        ld->entries++;
    }
    omp_unset_lock(&ld->lock);
}

int loader_get(Loader *ld, int idx, float *out) {
    /* out: [12][L] */
    if (idx < 0 || idx >= ld->n)
        return kres_fail(NULL, "loader: example index %d is outside 0..%d", idx, ld->n - 1);
    if (cache_lookup(ld, idx, out)) return 0;
    const char *path = loader_path(ld, idx);
    if (preprocess_file(path, &ld->cfg, out) != 0) {
        /* Messages from wfdb name "<record>.hea" or ".dat"; make sure the record is named. */
        if (!strstr(kres_last_error(), path)) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s", kres_last_error());
            kres_fail(path, "%s", msg);
        }
        return -1;
    }
    cache_admit(ld, idx, out);
    return 0;
}

int loader_fill_batch(Loader *ld, const int *indices, int B, float *out) {
    /* indices: [B], out: [B][12][L] */
    for (int b = 0; b < B; b++)
        if (indices[b] < 0 || indices[b] >= ld->n)
            return kres_fail(NULL, "loader: batch position %d has example index %d, outside 0..%d",
                             b, indices[b], ld->n - 1);
    size_t E = ld->example_floats;
    int *failed = xcalloc((size_t)(B > 0 ? B : 1), sizeof(int));
    /* Each example is independent; static schedule so the work split is reproducible.
     * kres_fail's message buffer is shared, so messages written here may interleave; the
     * first failure is re-read serially below to report a clean message. */
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        if (loader_get(ld, indices[b], out + (size_t)b * E) != 0) {
            failed[b] = 1;
            memset(out + (size_t)b * E, 0, E * sizeof(float));
        }
    }
    int first = -1;
    for (int b = 0; b < B && first < 0; b++)
        if (failed[b]) first = b;
    free(failed);
    if (first < 0) return 0;
    float *tmp = xmalloc(E * sizeof(float));
    int rc = loader_get(ld, indices[first], tmp);
    free(tmp);
    if (rc == 0) /* it failed in the batch but reads now: report that rather than nothing */
        kres_fail(loader_path(ld, indices[first]), "failed to load in a batch (it reads now)");
    return -1;
}
