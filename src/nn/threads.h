/* threads.h — OpenMP rules shared by the fast paths.
 *
 * Library calls that are themselves OpenMP-parallel (oneDNN's sgemm) made from inside our
 * parallel regions must run on the calling thread. Inside a team of several threads that
 * is OpenMP's default (nested regions are inactive), but inside a team of one (a region
 * opened with num_threads(1), as the batch-1 paths do) the library opens a nested team of
 * fresh threads, which then wait for cores held by our own pool's spinning workers: at 2
 * threads the batch-1 forward took 20 ms instead of 10, each 1x1 skip convolution 3 ms
 * instead of 0.1. */
#ifndef KRES_NN_THREADS_H
#define KRES_NN_THREADS_H

#include <omp.h>

/* Inside any parallel region, make OpenMP-parallel calls from this thread use one thread.
 * nthreads-var belongs to the current task's data environment, so the setting ends with
 * the region and never reaches the caller's later regions. */
static inline void omp_single_thread_calls(void) {
    if (omp_get_level() > 0) omp_set_num_threads(1);
}

#endif
