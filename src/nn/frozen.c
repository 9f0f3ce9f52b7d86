/* frozen.c — see frozen.h. */
#include "nn/frozen.h"

#include <stdatomic.h>
#include <string.h>

static atomic_uint_fast64_t g_next = 1;
static _Thread_local uint64_t g_gen;

uint64_t frozen_new_generation(void) { return (uint64_t)atomic_fetch_add(&g_next, 1); }

void frozen_set_generation(uint64_t gen) { g_gen = gen; }

uint64_t frozen_generation(void) { return g_gen; }

int frozen_cache_valid(uint64_t *validated, const void *copy, const void *weights, size_t bytes) {
    if (g_gen != 0 && *validated == g_gen) return 1;
    if (memcmp(copy, weights, bytes) != 0) return 0;
    *validated = g_gen;
    return 1;
}
