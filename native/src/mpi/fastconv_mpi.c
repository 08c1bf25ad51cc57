/* libfastconv_mpi.so: MPI collectives for data-parallel training (fastconv_mpi.h). Each collective is the
 * non-blocking MPI call polled with MPI_Test until it completes or its deadline passes, so a rank that died or hangs
 * turns into an error on the others instead of a wait forever. */
#define _GNU_SOURCE
#define FASTCONV_BUILD 1
#include "fastconv_mpi.h"

#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Thread_local char last_error[512];
static int initialised, world_rank = -1, world_size = -1;
static double timeout_s = 300.0;
static char library_version[MPI_MAX_LIBRARY_VERSION_STRING];

const char* fc_mpi_last_error(void) { return last_error; }

static fc_status fail(fc_status status, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

static fc_status mpi_fail(const char* what, int code)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    return fail(FC_ERR_INTERNAL, "%s failed on rank %d: %s", what, world_rank, text);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

fc_status fc_mpi_init(void)
{
    last_error[0] = '\0';
    if (initialised) return FC_OK;
    /* Open MPI loads its components with dlopen; they need libmpi's symbols global, and .NET loads this library
     * (and so libmpi) RTLD_LOCAL. Promote the copy already loaded, as mpi4py does. */
    const char* names[] = { "libmpi.so.40", "libmpi.so.12", "libmpi.so" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (dlopen(names[i], RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD)) break;
    int already = 0;
    MPI_Initialized(&already);
    if (!already) {
        int provided = 0;
        int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (rc != MPI_SUCCESS) return fail(FC_ERR_INTERNAL, "MPI_Init_thread failed (error %d)", rc);
    }
    int rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS) return mpi_fail("MPI_Comm_set_errhandler", rc);
    if ((rc = MPI_Comm_rank(MPI_COMM_WORLD, &world_rank)) != MPI_SUCCESS) return mpi_fail("MPI_Comm_rank", rc);
    if ((rc = MPI_Comm_size(MPI_COMM_WORLD, &world_size)) != MPI_SUCCESS) return mpi_fail("MPI_Comm_size", rc);
    int len = 0;
    MPI_Get_library_version(library_version, &len);
    char* nl = strchr(library_version, '\n');
    if (nl) *nl = '\0';
    const char* t = getenv("FASTCONV_MPI_TIMEOUT");
    if (t && *t) {
        char* end = NULL;
        double v = strtod(t, &end);
        if (end == t || *end != '\0' || !(v > 0))
            return fail(FC_ERR_INVALID_ARGUMENT, "FASTCONV_MPI_TIMEOUT='%s' is not a number of seconds greater than 0", t);
        timeout_s = v;
    }
    initialised = 1;
    return FC_OK;
}

fc_status fc_mpi_finalize(void)
{
    last_error[0] = '\0';
    if (!initialised) return FC_OK;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) {
        int rc = MPI_Finalize();
        if (rc != MPI_SUCCESS) return mpi_fail("MPI_Finalize", rc);
    }
    initialised = 0;
    return FC_OK;
}

int32_t fc_mpi_rank(void) { return initialised ? world_rank : -1; }
int32_t fc_mpi_size(void) { return initialised ? world_size : -1; }
const char* fc_mpi_library_version(void) { return initialised ? library_version : ""; }
double fc_mpi_get_timeout(void) { return timeout_s; }

fc_status fc_mpi_set_timeout(double seconds)
{
    last_error[0] = '\0';
    if (!(seconds > 0)) return fail(FC_ERR_INVALID_ARGUMENT, "fc_mpi_set_timeout: seconds must be greater than 0, got %g", seconds);
    timeout_s = seconds;
    return FC_OK;
}

void fc_mpi_abort(int32_t code)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (inited && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
    _Exit(code ? code : 1);
}

/* Polls a started request until it completes or the deadline passes; spins briefly, then yields the core (two
 * ranks on two cores must not starve the one still computing). */
static fc_status wait(MPI_Request* req, const char* what, int64_t count, double deadline)
{
    for (long spins = 0;; spins++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return mpi_fail(what, rc);
        if (done) return FC_OK;
        if (spins > 200) sched_yield();
        if ((spins & 63) == 0 && now() > deadline)
            /* the request stays pending: the caller is expected to abort the job, which reclaims it */
            return fail(FC_ERR_INTERNAL,
                        "%s of %lld floats on rank %d of %d did not complete within %g s (FASTCONV_MPI_TIMEOUT): "
                        "another rank has stopped or is stuck",
                        what, (long long)count, world_rank, world_size, timeout_s);
    }
}

static fc_status check(const char* what, const float* data, int64_t count)
{
    if (!initialised) return fail(FC_ERR_INVALID_ARGUMENT, "%s: fc_mpi_init has not been called", what);
    if (count < 0) return fail(FC_ERR_INVALID_ARGUMENT, "%s: count must be at least 0, got %lld", what, (long long)count);
    if (count > 0 && !data) return fail(FC_ERR_INVALID_ARGUMENT, "%s: data is NULL", what);
    return FC_OK;
}

/* MPI counts are int: longer buffers go in pieces of at most 2^30 floats. */
#define FC_MPI_PIECE ((int64_t)1 << 30)

fc_status fc_mpi_allreduce_sum_f32(float* data, int64_t count)
{
    last_error[0] = '\0';
    fc_status s = check("fc_mpi_allreduce_sum_f32", data, count);
    if (s != FC_OK) return s;
    double deadline = now() + timeout_s;
    for (int64_t at = 0; at < count; at += FC_MPI_PIECE) {
        int n = (int)(count - at < FC_MPI_PIECE ? count - at : FC_MPI_PIECE);
        MPI_Request req;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, data + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail("MPI_Iallreduce", rc);
        if ((s = wait(&req, "allreduce", count, deadline)) != FC_OK) return s;
    }
    return FC_OK;
}

fc_status fc_mpi_broadcast_f32(float* data, int64_t count, int32_t root)
{
    last_error[0] = '\0';
    fc_status s = check("fc_mpi_broadcast_f32", data, count);
    if (s != FC_OK) return s;
    if (root < 0 || root >= world_size)
        return fail(FC_ERR_INVALID_ARGUMENT, "fc_mpi_broadcast_f32: root %d is not a rank of this job (0 to %d)", root, world_size - 1);
    double deadline = now() + timeout_s;
    for (int64_t at = 0; at < count; at += FC_MPI_PIECE) {
        int n = (int)(count - at < FC_MPI_PIECE ? count - at : FC_MPI_PIECE);
        MPI_Request req;
        int rc = MPI_Ibcast(data + at, n, MPI_FLOAT, root, MPI_COMM_WORLD, &req);
        if (rc != MPI_SUCCESS) return mpi_fail("MPI_Ibcast", rc);
        if ((s = wait(&req, "broadcast", count, deadline)) != FC_OK) return s;
    }
    return FC_OK;
}

fc_status fc_mpi_barrier(void)
{
    last_error[0] = '\0';
    if (!initialised) return fail(FC_ERR_INVALID_ARGUMENT, "fc_mpi_barrier: fc_mpi_init has not been called");
    MPI_Request req;
    int rc = MPI_Ibarrier(MPI_COMM_WORLD, &req);
    if (rc != MPI_SUCCESS) return mpi_fail("MPI_Ibarrier", rc);
    return wait(&req, "barrier", 0, now() + timeout_s);
}
