/* The C test of libfastconv_mpi.so, run by CTest as mpiexec -n 2 fastconv_mpi_tests: collectives on rank-dependent
 * values (the sums and broadcasts have one right answer, exact in float), the refusals (null, negative count, bad
 * root, bad timeout) with their messages, and the deadline: a collective that one rank never joins returns an error
 * on the other within the timeout instead of waiting forever. */
#include "fastconv_mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failures, rank, size;

#define CHECK(cond, ...)                                                                          \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            failures++;                                                                           \
            fprintf(stderr, "rank %d: FAIL %s:%d: %s: ", rank, __FILE__, __LINE__, #cond);        \
            fprintf(stderr, __VA_ARGS__);                                                         \
            fprintf(stderr, "\n");                                                                \
        }                                                                                         \
    } while (0)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void test_allreduce(int64_t n)
{
    float* a = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) a[i] = (float)((rank + 1) * (i % 97) + rank);
    fc_status s = fc_mpi_allreduce_sum_f32(a, n);
    CHECK(s == FC_OK, "allreduce of %lld: %s", (long long)n, fc_mpi_last_error());
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; i++) {
        float want = (float)((i % 97) * size * (size + 1) / 2 + size * (size - 1) / 2);
        if (a[i] != want) { CHECK(a[i] == want, "allreduce of %lld: [%lld] = %g, want %g", (long long)n, (long long)i, a[i], want); bad = 1; }
    }
    free(a);
}

static void test_broadcast(int64_t n, int root)
{
    float* a = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) a[i] = (float)(rank * 100000 + i % 50000);
    fc_status s = fc_mpi_broadcast_f32(a, n, root);
    CHECK(s == FC_OK, "broadcast of %lld from %d: %s", (long long)n, root, fc_mpi_last_error());
    int bad = 0;
    for (int64_t i = 0; i < n && !bad; i++) {
        float want = (float)(root * 100000 + i % 50000);
        if (a[i] != want) { CHECK(a[i] == want, "broadcast of %lld from %d: [%lld] = %g, want %g", (long long)n, root, (long long)i, a[i], want); bad = 1; }
    }
    free(a);
}

int main(void)
{
    CHECK(fc_mpi_rank() == -1 && fc_mpi_size() == -1, "rank/size before init: %d/%d", fc_mpi_rank(), fc_mpi_size());
    float one = 1;
    CHECK(fc_mpi_allreduce_sum_f32(&one, 1) == FC_ERR_INVALID_ARGUMENT && strstr(fc_mpi_last_error(), "fc_mpi_init"),
          "allreduce before init: '%s'", fc_mpi_last_error());
    if (fc_mpi_init() != FC_OK) { fprintf(stderr, "fc_mpi_init: %s\n", fc_mpi_last_error()); return 1; }
    CHECK(fc_mpi_init() == FC_OK, "a second fc_mpi_init: %s", fc_mpi_last_error());
    rank = fc_mpi_rank(); size = fc_mpi_size();
    CHECK(size >= 2 && rank >= 0 && rank < size, "rank %d of %d: run this under mpiexec -n 2", rank, size);
    CHECK(strlen(fc_mpi_library_version()) > 0, "empty library version");

    int64_t sizes[] = { 0, 1, 15, 16, 17, 1000, 1 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) test_allreduce(sizes[i]);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) { test_broadcast(sizes[i], 0); test_broadcast(sizes[i], size - 1); }
    CHECK(fc_mpi_barrier() == FC_OK, "barrier: %s", fc_mpi_last_error());

    /* refusals: every rank refuses the same way before any communication */
    CHECK(fc_mpi_allreduce_sum_f32(NULL, 4) == FC_ERR_INVALID_ARGUMENT && strstr(fc_mpi_last_error(), "NULL"), "null: '%s'", fc_mpi_last_error());
    CHECK(fc_mpi_allreduce_sum_f32(&one, -1) == FC_ERR_INVALID_ARGUMENT && strstr(fc_mpi_last_error(), "-1"), "negative: '%s'", fc_mpi_last_error());
    CHECK(fc_mpi_broadcast_f32(&one, 1, size) == FC_ERR_INVALID_ARGUMENT && strstr(fc_mpi_last_error(), "root"), "root: '%s'", fc_mpi_last_error());
    CHECK(fc_mpi_set_timeout(0) == FC_ERR_INVALID_ARGUMENT && strstr(fc_mpi_last_error(), "greater than 0"), "timeout 0: '%s'", fc_mpi_last_error());
    CHECK(fc_mpi_set_timeout(-1) == FC_ERR_INVALID_ARGUMENT, "timeout -1 accepted");
    CHECK(fc_mpi_allreduce_sum_f32(&one, 1) == FC_OK && one == (float)size, "allreduce after refusals: %g: %s", one, fc_mpi_last_error());

    /* every rank's count of failures so far, then the deadline: rank 1 joins an allreduce 3 s late; rank 0, with a
     * 1 s timeout, must get the error after about 1 s (then both meet again at the barrier, which completes it) */
    float f = (float)failures;
    CHECK(fc_mpi_allreduce_sum_f32(&f, 1) == FC_OK, "failure count: %s", fc_mpi_last_error());
    int others = (int)f - failures;
    CHECK(fc_mpi_set_timeout(1.0) == FC_OK && fc_mpi_get_timeout() == 1.0, "set timeout 1 s");
    float v[4] = { 1, 2, 3, 4 };
    if (rank == 0) {
        double t0 = now();
        fc_status s = fc_mpi_allreduce_sum_f32(v, 4);
        double took = now() - t0;
        CHECK(s == FC_ERR_INTERNAL && strstr(fc_mpi_last_error(), "did not complete within 1 s"), "late rank: status %d '%s'", s, fc_mpi_last_error());
        CHECK(took >= 0.9 && took < 2.5, "late rank: the error came after %.2f s, want about 1 s", took);
        printf("rank 0: a collective rank 1 joined 3 s late failed after %.2f s: %s\n", took, fc_mpi_last_error());
    } else {
        if (rank == 1) sleep(3);
        fc_mpi_set_timeout(30);
        fc_mpi_allreduce_sum_f32(v, 4);
    }
    fc_mpi_set_timeout(30);
    CHECK(fc_mpi_barrier() == FC_OK, "barrier after the late rank: %s", fc_mpi_last_error());
    CHECK(fc_mpi_finalize() == FC_OK, "finalize: %s", fc_mpi_last_error());
    if (rank == 0) printf("fastconv_mpi_tests: %d ranks, %s\n", size, failures + others == 0 ? "all passed" : "FAILED");
    return failures + (rank == 0 ? others : 0) ? 1 : 0;
}
