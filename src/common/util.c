/* util.c — see util.h. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise's MADV_HUGEPAGE */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Thread-local so that concurrent kres_fail calls from OpenMP workers never interleave. */
static _Thread_local char g_last_error[1024];

int kres_fail(const char *path, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path)
        snprintf(g_last_error, sizeof g_last_error, "%s: %s", path, msg);
    else
        snprintf(g_last_error, sizeof g_last_error, "%s", msg);
    return -1;
}

const char *kres_last_error(void) { return g_last_error[0] ? g_last_error : "unknown error"; }
void kres_clear_error(void) { g_last_error[0] = '\0'; }

void kres_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "kres: internal error: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}

void *kres_xmalloc(size_t n, const char *file, int line) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "kres: error: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
        exit(KRES_EXIT_DATA);
    }
    return p;
}

void *kres_xcalloc(size_t n, size_t size, const char *file, int line) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "kres: error: out of memory allocating %zu x %zu bytes at %s:%d\n", n, size,
                file, line);
        exit(KRES_EXIT_DATA);
    }
    return p;
}

void *kres_xrealloc(void *p, size_t n, const char *file, int line) {
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "kres: error: out of memory reallocating %zu bytes at %s:%d\n", n, file, line);
        exit(KRES_EXIT_DATA);
    }
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

/* Allocations of 1 MiB and more (model parameters, cached weight transforms, workspaces)
 * are 2 MiB-aligned, rounded up to whole 2 MiB pages and marked for transparent huge pages
 * where the OS offers them (madvise mode): a batch-1 forward streams ~37 MB of weights and
 * transforms, ~9000 TLB misses per forward with 4 KiB pages. Measured here (layer_profile
 * medians, interleaved): from 4 MiB up, 3-4% faster; from 1 MiB up (the FFT spectra and
 * smaller transforms too), 4% more. KRES_THP=0 in the environment turns this off. */
static pthread_once_t g_thp_once = PTHREAD_ONCE_INIT;
static int g_thp;
static void init_thp(void) {
    const char *e = getenv("KRES_THP");
    g_thp = !(e && strcmp(e, "0") == 0);
}
static int huge_pages_wanted(void) {
    pthread_once(&g_thp_once, init_thp);
    return g_thp;
}

void *xmalloc_aligned(size_t n) {
    void *p = NULL;
    const size_t huge = (size_t)2 << 20;
    const int big = n >= huge / 2 && huge_pages_wanted();
    const size_t align = big ? huge : 64;
    const size_t rounded = (n + align - 1) & ~(align - 1);
    if (posix_memalign(&p, align, rounded ? rounded : 64) != 0) {
        fprintf(stderr, "kres: error: out of memory allocating %zu aligned bytes\n", n);
        exit(KRES_EXIT_DATA);
    }
#ifdef MADV_HUGEPAGE
    if (big) (void)madvise(p, rounded, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
    return p;
}

float *grow_floats(float **buf, size_t *cap, size_t n) {
    if (n > *cap) {
        free(*buf);
        *buf = xmalloc_aligned(n * sizeof(float));
        *cap = n;
    }
    return *buf;
}

int atomic_open(AtomicFile *af, const char *path) {
    memset(af, 0, sizeof *af);
    size_t n = strlen(path) + 32;
    af->path = xstrdup(path);
    af->tmp_path = xmalloc(n);
    snprintf(af->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp_path, "wb");
    if (!af->fp) {
        int e = errno;
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return kres_fail(path, "cannot create temporary file for writing: %s", strerror(e));
    }
    return 0;
}

int atomic_commit(AtomicFile *af) {
    int ok = 1;
    if (fflush(af->fp) != 0) ok = 0;
    if (ok && fsync(fileno(af->fp)) != 0 && errno != EINVAL) ok = 0;
    int e = errno;
    /* Report fclose's own errno when it is the first failure (e.g. a deferred ENOSPC). */
    if (fclose(af->fp) != 0) {
        if (ok) e = errno;
        ok = 0;
    }
    af->fp = NULL;
    if (ok && rename(af->tmp_path, af->path) != 0) {
        e = errno;
        ok = 0;
    }
    int rc = 0;
    if (!ok) {
        unlink(af->tmp_path);
        rc = kres_fail(af->path, "write failed: %s", strerror(e));
    }
    free(af->path);
    free(af->tmp_path);
    af->path = af->tmp_path = NULL;
    return rc;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

int write_file_atomic(const char *path, const void *data, size_t n) {
    AtomicFile af;
    if (atomic_open(&af, path) != 0) return -1;
    if (n && fwrite(data, 1, n, af.fp) != n) {
        atomic_abort(&af);
        return kres_fail(path, "short write");
    }
    return atomic_commit(&af);
}

char *read_file_all(const char *path, size_t *len_out) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        kres_fail(path, "cannot open: %s", strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(fp);
    fclose(fp);
    if (err) {
        free(buf);
        kres_fail(path, "read error");
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

int parse_long(const char *s, long *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int parse_double(const char *s, double *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_u64(Rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double rng_uniform(Rng *r) { return (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(Rng *r, uint64_t n) {
    KRES_ASSERT(n > 0);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = rng_u64(r);
    while (x >= limit);
    return x % n;
}

void rng_shuffle_int(Rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long peak_rss_kib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

int path_join(char *out, size_t n, const char *dir, const char *name) {
    int w;
    if (!dir || !*dir || name[0] == '/')
        w = snprintf(out, n, "%s", name);
    else if (dir[strlen(dir) - 1] == '/')
        w = snprintf(out, n, "%s%s", dir, name);
    else
        w = snprintf(out, n, "%s/%s", dir, name);
    return (w < 0 || (size_t)w >= n) ? -1 : 0;
}
