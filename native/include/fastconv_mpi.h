/*
 * fastconv_mpi.h — the C ABI of libfastconv_mpi.so: the few MPI collectives data-parallel training needs, over the
 * system's MPI (Open MPI 4.1 from Debian's openmpi-bin / libopenmpi-dev). Built by CMake only when find_package(MPI)
 * finds one; FastConv works unchanged without it.
 *
 * Conventions (those of fastconv.h):
 *   - every function that can fail returns an fc_status and keeps a thread-local message for fc_mpi_last_error();
 *     nothing aborts (except fc_mpi_abort, on purpose), nothing throws across the ABI, null pointers are refused;
 *   - MPI_COMM_WORLD's error handler is MPI_ERRORS_RETURN, so an MPI failure is a status and a message, not an abort;
 *   - every collective has a deadline (fc_mpi_set_timeout; FASTCONV_MPI_TIMEOUT seconds at init, default 300):
 *     one that does not complete in time returns FC_ERR_INTERNAL ("... did not complete within N s"), so a rank that
 *     stopped answering ends the job with an error instead of a hang (the caller then calls fc_mpi_abort);
 *   - calls come from one thread at a time (MPI_THREAD_SERIALIZED).
 */
#ifndef FASTCONV_MPI_H
#define FASTCONV_MPI_H

#include "fastconv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* MPI_Init_thread (once; later calls return FC_OK); the error handler and the timeout are set here. Without mpirun,
 * Open MPI starts a singleton: rank 0 of 1. */
FC_API fc_status fc_mpi_init(void);
/* MPI_Finalize, once, after every rank's last collective (a no-op when not initialised) */
FC_API fc_status fc_mpi_finalize(void);
/* rank in MPI_COMM_WORLD and its size; -1 before fc_mpi_init */
FC_API int32_t fc_mpi_rank(void);
FC_API int32_t fc_mpi_size(void);
/* in place: data[i] = the sum over ranks of data[i]; every rank passes the same count (count >= 0) */
FC_API fc_status fc_mpi_allreduce_sum_f32(float* data, int64_t count);
/* in place: data = root's data on every rank; every rank passes the same count and root */
FC_API fc_status fc_mpi_broadcast_f32(float* data, int64_t count, int32_t root);
FC_API fc_status fc_mpi_barrier(void);
/* the deadline of every later collective, in seconds (> 0) */
FC_API fc_status fc_mpi_set_timeout(double seconds);
FC_API double fc_mpi_get_timeout(void);
/* MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job; does not return */
FC_API void fc_mpi_abort(int32_t code);
/* the MPI library's version line ("Open MPI v4.1.4, ..."), or "" before fc_mpi_init */
FC_API const char* fc_mpi_library_version(void);
/* this thread's last error message, "" if none */
FC_API const char* fc_mpi_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
