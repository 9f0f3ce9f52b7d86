/* frozen.h — the promise that a model's weights will not change, and the check that the
 * cached weight transforms of the fast convolution paths (FFT kernel spectra, Winograd
 * transformed weights) rely on.
 *
 * Without a promise every cached transform is validated by a byte comparison of the weights
 * with a saved copy on every call: always right, but it reads twice the weights (up to
 * ~19 MB per KRes forward at batch 1, ~1 ms from memory here). kres_freeze (kres.h) hands
 * out a generation, unique per promise; kres_forward publishes it to its thread for the
 * duration of an inference forward, and a cache entry validated once under that generation
 * is trusted for the rest of it. A new promise (a new generation) validates again, so
 * weights changed between promises are always caught. */
#ifndef KRES_NN_FROZEN_H
#define KRES_NN_FROZEN_H

#include <stddef.h>
#include <stdint.h>

/* A new nonzero generation, unique in the process (thread-safe). */
uint64_t frozen_new_generation(void);

/* This thread's promise for the convolution calls that follow (0: none). */
void frozen_set_generation(uint64_t gen);
uint64_t frozen_generation(void);

/* A cache of transforms of weight tensors (the FFT path's kernel spectra, the Winograd
 * path's U), one entry per (weights address, shape key), up to WEIGHT_CACHE_SLOTS, replaced
 * round-robin; each entry keeps a copy of the weights it came from and is checked against
 * it: skipped when the entry was already checked under this thread's nonzero promise, else
 * byte for byte (a match records the promise), so a stale transform is never returned
 * unless a promise was broken. Zero-initialised = empty; not
 * thread-safe (the callers run under the dnnl backend's lock). */
enum { WEIGHT_CACHE_SLOTS = 16, WEIGHT_CACHE_KEY = 4 };
typedef struct {
    const float *ptr;
    int key[WEIGHT_CACHE_KEY];
    size_t nweights, nfloats;
    float *copy, *data;
    uint64_t validated;
} WeightCacheEntry;
typedef struct {
    WeightCacheEntry entry[WEIGHT_CACHE_SLOTS];
    int n, next;
} WeightCache;

/* The transform (nfloats floats) cached for `weights` (nweights floats) under `key`. *fresh is
 * set to 1 when the caller must compute it into the returned buffer (new entry or changed
 * weights), 0 when it is valid as it is. */
float *weight_cache_get(WeightCache *c, const float *weights, size_t nweights,
                        const int key[WEIGHT_CACHE_KEY], size_t nfloats, int *fresh);
size_t weight_cache_bytes(const WeightCache *c);
void weight_cache_release(WeightCache *c);

#endif
