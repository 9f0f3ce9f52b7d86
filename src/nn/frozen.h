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

/* 1 if a transform cached from `copy` (bytes long) still matches `weights`: trusted without
 * reading either when *validated equals this thread's nonzero promise, else compared byte
 * for byte; a match records the promise in *validated. */
int frozen_cache_valid(uint64_t *validated, const void *copy, const void *weights, size_t bytes);

#endif
