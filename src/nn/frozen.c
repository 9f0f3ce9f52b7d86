/* frozen.c — see frozen.h. */
#include "nn/frozen.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static atomic_uint_fast64_t g_next = 1;
static _Thread_local uint64_t g_gen;

uint64_t frozen_new_generation(void) { return (uint64_t)atomic_fetch_add(&g_next, 1); }

void frozen_set_generation(uint64_t gen) { g_gen = gen; }

uint64_t frozen_generation(void) { return g_gen; }

/* 1 if the transform cached from `copy` still matches `weights` (see frozen.h). */
static int cache_valid(uint64_t *validated, const void *copy, const void *weights, size_t bytes) {
    if (g_gen != 0 && *validated == g_gen) return 1;
    if (memcmp(copy, weights, bytes) != 0) return 0;
    *validated = g_gen;
    return 1;
}

float *weight_cache_get(WeightCache *c, const float *weights, size_t nweights,
                        const int key[WEIGHT_CACHE_KEY], size_t nfloats, int *fresh) {
    WeightCacheEntry *e = NULL;
    for (int i = 0; i < c->n && !e; i++) {
        WeightCacheEntry *t = &c->entry[i];
        if (t->ptr == weights && t->nweights == nweights && t->nfloats == nfloats &&
            memcmp(t->key, key, sizeof t->key) == 0)
            e = t;
    }
    if (e && cache_valid(&e->validated, e->copy, weights, nweights * sizeof(float))) {
        *fresh = 0;
        return e->data;
    }
    if (!e) {
        if (c->n < WEIGHT_CACHE_SLOTS) e = &c->entry[c->n++];
        else { /* many distinct layers: replace round-robin */
            e = &c->entry[c->next];
            c->next = (c->next + 1) % WEIGHT_CACHE_SLOTS;
            free(e->copy);
            free(e->data);
        }
        e->ptr = weights;
        memcpy(e->key, key, sizeof e->key);
        e->nweights = nweights;
        e->nfloats = nfloats;
        e->copy = xmalloc_aligned(nweights * sizeof(float));
        e->data = xmalloc_aligned(nfloats * sizeof(float));
    }
    memcpy(e->copy, weights, nweights * sizeof(float));
    e->validated = g_gen;
    *fresh = 1;
    return e->data;
}

size_t weight_cache_bytes(const WeightCache *c) {
    size_t n = 0;
    for (int i = 0; i < c->n; i++) n += (c->entry[i].nweights + c->entry[i].nfloats) * sizeof(float);
    return n;
}

void weight_cache_release(WeightCache *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->entry[i].copy);
        free(c->entry[i].data);
    }
    memset(c, 0, sizeof *c);
}
