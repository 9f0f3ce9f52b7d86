/* util.h — errors, checked allocation, atomic file writes, seeded RNG, timing.
 *
 * Error convention (SQLite-like at the API boundary): library functions return 0 on
 * success and -1 on failure after calling kres_fail(), which records one message
 * "<file>: <what is wrong>" retrievable with kres_last_error(). The CLI prints it as
 * "kres: error: <message>" and exits with KRES_EXIT_DATA. Internal invariants use
 * KRES_ASSERT, which aborts loudly with file:line (a bug, never bad input). */
#ifndef KRES_UTIL_H
#define KRES_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { KRES_EXIT_OK = 0, KRES_EXIT_DATA = 1, KRES_EXIT_USAGE = 2 };

/* Record an error about `path` (may be NULL) and return -1. printf-style. */
int kres_fail(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *kres_last_error(void);
void kres_clear_error(void);

#define KRES_ASSERT(cond)                                                              \
    do {                                                                               \
        if (!(cond)) kres_assert_fail(#cond, __FILE__, __LINE__);                      \
    } while (0)
void kres_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

/* Allocation that never returns NULL: out-of-memory aborts with file:line. */
#define xmalloc(n) kres_xmalloc((n), __FILE__, __LINE__)
#define xcalloc(n, s) kres_xcalloc((n), (s), __FILE__, __LINE__)
#define xrealloc(p, n) kres_xrealloc((p), (n), __FILE__, __LINE__)
void *kres_xmalloc(size_t n, const char *file, int line);
void *kres_xcalloc(size_t n, size_t size, const char *file, int line);
void *kres_xrealloc(void *p, size_t n, const char *file, int line);
char *xstrdup(const char *s);
/* 64-byte aligned allocation for SIMD buffers (from 1 MiB: 2 MiB-aligned, transparent huge
 * pages requested; KRES_THP=0 turns that off); free with free(). */
void *xmalloc_aligned(size_t n);
/* A workspace of floats that only grows: returns *buf holding at least n floats (64-byte
 * aligned), reallocating (contents lost) only when n exceeds *cap. Not thread-safe. */
float *grow_floats(float **buf, size_t *cap, size_t n);

/* Atomic writes: write everything to "<path>.tmp.<pid>", fsync, rename over <path>.
 * Nothing already at <path> is lost if anything fails before the rename. */
typedef struct {
    FILE *fp;
    char *path;
    char *tmp_path;
} AtomicFile;
int atomic_open(AtomicFile *af, const char *path);
int atomic_commit(AtomicFile *af);   /* flush+fsync+close+rename; returns 0 or -1 */
void atomic_abort(AtomicFile *af);   /* close and unlink the temporary file */
int write_file_atomic(const char *path, const void *data, size_t n);

/* Read a whole file into a NUL-terminated buffer; returns NULL (with kres_fail) on error. */
char *read_file_all(const char *path, size_t *len_out);

/* Strict number parsing: the whole string must be a number. Return 0 on success. */
int parse_long(const char *s, long *out);
int parse_double(const char *s, double *out);

/* Seeded, platform-independent RNG (xoshiro256**, seeded by splitmix64). */
typedef struct {
    uint64_t s[4];
} Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
double rng_uniform(Rng *r);            /* [0, 1) */
double rng_normal(Rng *r);             /* standard normal (Box-Muller, no caching) */
uint64_t rng_below(Rng *r, uint64_t n); /* uniform in [0, n), unbiased */
void rng_shuffle_int(Rng *r, int *a, int n);

double now_seconds(void);              /* monotonic clock */
long peak_rss_kib(void);               /* from getrusage */

/* Path helpers: join dir and name into out (size n); returns 0 or -1 if truncated. */
int path_join(char *out, size_t n, const char *dir, const char *name);

#endif
