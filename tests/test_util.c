/* test_util.c — RNG determinism, number parsing, atomic writes, grow-only workspaces, aligned allocation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "test.h"

int main(void) {
    Rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= rng_u64(&a) == rng_u64(&b);
    CHECK(same);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        double z = rng_normal(&a);
        sum += z;
        sq += z * z;
    }
    CHECK(fabs(sum / 100000) < 0.02);
    CHECK(fabs(sq / 100000 - 1.0) < 0.03);
    long l;
    double d;
    CHECK(parse_long("123", &l) == 0 && l == 123);
    CHECK(parse_long("12x", &l) != 0);
    CHECK(parse_long("", &l) != 0);
    CHECK(parse_double("1e-3", &d) == 0 && d == 1e-3);
    CHECK(parse_double("nan", &d) != 0);
    char path[] = "/tmp/kres_test_util_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(write_file_atomic(path, "hello", 5) == 0);
    size_t n;
    char *s = read_file_all(path, &n);
    CHECK(s && n == 5 && strcmp(s, "hello") == 0);
    free(s);
    unlink(path);
    CHECK(read_file_all("/nonexistent/x", &n) == NULL);
    /* grow-only workspace: aligned, reused while large enough, regrown when not */
    float *ws = NULL;
    size_t cap = 0;
    float *w1 = grow_floats(&ws, &cap, 100);
    CHECK(w1 == ws && cap == 100 && ((uintptr_t)w1 & 63) == 0);
    w1[99] = 1.0f;
    CHECK(grow_floats(&ws, &cap, 50) == w1 && cap == 100 && w1[99] == 1.0f);
    float *w2 = grow_floats(&ws, &cap, 1000);
    CHECK(w2 == ws && cap == 1000 && ((uintptr_t)w2 & 63) == 0);
    w2[999] = 2.0f; /* the whole new size is writable (ASan checks it) */
    free(ws);
    CHECK(strstr(kres_last_error(), "/nonexistent/x") != NULL);
    /* xmalloc_aligned: 64-byte alignment, and 2 MiB (huge-page) alignment from 1 MiB on unless
     * KRES_THP=0 (the first call decides); every byte writable. */
    {
        const char *thp = getenv("KRES_THP");
        const int huge = !(thp && strcmp(thp, "0") == 0);
        unsigned char *small = xmalloc_aligned(1000), *big = xmalloc_aligned((size_t)5 << 20);
        CHECK(((uintptr_t)small & 63) == 0);
        CHECK(((uintptr_t)big & (huge ? ((uintptr_t)2 << 20) - 1 : 63)) == 0);
        memset(small, 1, 1000);
        memset(big, 2, (size_t)5 << 20);
        CHECK(small[999] == 1 && big[((size_t)5 << 20) - 1] == 2);
        free(small);
        free(big);
    }
    TEST_MAIN_END();
}
