/* loader.h — streaming example loader: reads and preprocesses records on demand.
 *
 * Never holds the corpus in memory: only the record paths are kept, each example is read
 * with wfdb_load and run through preprocess_record when asked for. An optional bounded
 * cache keeps preprocessed examples (admit-until-full, no eviction: with a fresh random
 * permutation every epoch this gives the best possible hit rate, cache/dataset, where LRU
 * would thrash). Results are bit-identical with the cache on or off.
 *
 *   Loader *ld = loader_create(paths, n, &cfg, 256u << 20);   // NULL -> kres_last_error()
 *   float *batch = xmalloc((size_t)B * 12 * cfg.length * sizeof(float));
 *   if (loader_fill_batch(ld, idx, B, batch) != 0) -> kres_last_error() names the record
 *   loader_free(ld);
 *
 * Thread safety: loader_get and loader_fill_batch may be called from one thread at a time;
 * loader_fill_batch itself reads the batch in parallel (OpenMP, static schedule). */
#ifndef KRES_LOADER_H
#define KRES_LOADER_H

#include <stddef.h>

#include "data/preprocess.h"

typedef struct Loader Loader;

typedef struct {
    long hits, misses;   /* cache lookups since creation */
    int entries;         /* examples in the cache now */
    int max_entries;     /* cache_bytes / example bytes */
    size_t bytes;        /* entries * example bytes (the cache's payload) */
    size_t budget;       /* cache_bytes as given */
    size_t example_bytes;/* 12 * length * sizeof(float) */
} LoaderStats;

/* Copies the paths (record names without extension, as wfdb_load takes them) and the
 * config. cache_bytes = 0 disables the cache. Returns NULL with kres_fail on a bad config. */
Loader *loader_create(const char *const *record_paths, int n, const PreprocConfig *c,
                      size_t cache_bytes);
void loader_free(Loader *ld);

int loader_size(const Loader *ld);               /* n */
int loader_length(const Loader *ld);             /* samples per lead of one example */
const char *loader_path(const Loader *ld, int idx);
const PreprocConfig *loader_config(const Loader *ld);
void loader_stats(const Loader *ld, LoaderStats *s);

/* One example. out: [12][length]. Returns 0, or -1 with kres_fail naming the record. */
int loader_get(Loader *ld, int idx, float *out);

/* B examples in parallel. out: [B][12][length]. Every example is attempted; on failure the
 * error of the first failing position is reported (naming its record) and -1 returned;
 * the slots of examples that failed are zero-filled. */
int loader_fill_batch(Loader *ld, const int *indices, int B, float *out);

#endif
