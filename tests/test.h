/* test.h — tiny test harness. Every CHECK counts as one assertion; a test binary ends with
 * TEST_MAIN_END, which prints "N passed, N failed" and exits non-zero on any failure.
 * tests/run.sh runs every test binary and shell test and prints the summed line. */
#ifndef KRES_TEST_H
#define KRES_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int g_test_pass = 0, g_test_fail = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (cond) g_test_pass++;                                                       \
        else {                                                                         \
            g_test_fail++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                              \
    } while (0)

#define CHECKF(cond, ...)                                                              \
    do {                                                                               \
        if (cond) g_test_pass++;                                                       \
        else {                                                                         \
            g_test_fail++;                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

/* |a-b| <= atol + rtol*|b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                  \
    do {                                                                               \
        double a_ = (double)(a), b_ = (double)(b);                                     \
        CHECKF(fabs(a_ - b_) <= (atol) + (rtol) * fabs(b_), "%s=%.9g vs %s=%.9g", #a,   \
               a_, #b, b_);                                                            \
    } while (0)

#define TEST_MAIN_END()                                                                \
    do {                                                                               \
        printf("%d passed, %d failed\n", g_test_pass, g_test_fail);                    \
        return g_test_fail ? 1 : 0;                                                    \
    } while (0)

/* Path to the bundled PTB-XL sample and the shared 500 Hz records (tests run from repo root). */
#define SAMPLE_DIR "data/ptbxl-sample"
#define SHARED_PTBXL "../shared/data/ptbxl"

#endif
