/* Library-wide state: the thread-local error message, the ISA chosen at load, the thread count, scratch memory. */
#define _GNU_SOURCE
#include "../internal.h"

#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Thread_local char last_error[512];

const char* fc_version(void)
{
#define FC_STR2(x) #x
#define FC_STR(x) FC_STR2(x)
    return FC_STR(FC_VERSION_MAJOR) "." FC_STR(FC_VERSION_MINOR) "." FC_STR(FC_VERSION_PATCH);
}

const char* fc_last_error(void) { return last_error; }

void fc_clear_error(void) { last_error[0] = '\0'; }

fc_status fc_fail(fc_status status, const char* fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- ISA: what this CPU runs, and what FASTCONV_ISA asks for (read once, at load) */

int fc_isa_supported(fc_isa isa)
{
    __builtin_cpu_init();
    switch (isa) {
    case FC_ISA_SCALAR: return 1;
    case FC_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case FC_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    default: return 0;
    }
}

const char* fc_isa_name(fc_isa isa)
{
    switch (isa) {
    case FC_ISA_AUTO: return "auto";
    case FC_ISA_SCALAR: return "scalar";
    case FC_ISA_AVX2: return "avx2";
    case FC_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}

static fc_isa selected = FC_ISA_SCALAR;
static char selection_error[256];
static int num_threads = 1;

__attribute__((constructor)) static void fc_init(void)
{
    selected = fc_isa_supported(FC_ISA_AVX512) ? FC_ISA_AVX512 : fc_isa_supported(FC_ISA_AVX2) ? FC_ISA_AVX2 : FC_ISA_SCALAR;
    const char* forced = getenv("FASTCONV_ISA");
    if (forced && *forced) {
        fc_isa want = !strcmp(forced, "scalar") ? FC_ISA_SCALAR
                    : !strcmp(forced, "avx2")   ? FC_ISA_AVX2
                    : !strcmp(forced, "avx512") ? FC_ISA_AVX512
                                                : FC_ISA_AUTO;
        if (want == FC_ISA_AUTO)
            snprintf(selection_error, sizeof selection_error,
                     "FASTCONV_ISA='%s' is not one of scalar, avx2, avx512", forced);
        else if (!fc_isa_supported(want))
            snprintf(selection_error, sizeof selection_error, "FASTCONV_ISA=%s, but this CPU does not support %s",
                     forced, forced);
        else
            selected = want;
    }
    num_threads = omp_get_num_procs();
    const char* t = getenv("FASTCONV_THREADS");
    if (t && *t) {
        char* end;
        long v = strtol(t, &end, 10);
        if (*end == '\0' && v >= 1 && v <= 4096) num_threads = (int)v;
    }
}

fc_isa fc_selected_isa(void)
{
    if (selection_error[0]) {
        fc_fail(FC_ERR_UNSUPPORTED, "%s", selection_error);
        return FC_ISA_AUTO;
    }
    return selected;
}

fc_status fc_resolve_isa(fc_isa requested, fc_isa* out)
{
    if (requested == FC_ISA_AUTO) {
        if (selection_error[0]) return fc_fail(FC_ERR_UNSUPPORTED, "%s", selection_error);
        *out = selected;
        return FC_OK;
    }
    if (requested != FC_ISA_SCALAR && requested != FC_ISA_AVX2 && requested != FC_ISA_AVX512)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "isa %d is not one of FC_ISA_AUTO, FC_ISA_SCALAR, FC_ISA_AVX2, FC_ISA_AVX512",
                       (int)requested);
    if (!fc_isa_supported(requested))
        return fc_fail(FC_ERR_UNSUPPORTED, "this CPU does not support the %s variant", fc_isa_name(requested));
    *out = requested;
    return FC_OK;
}

/* ---- threads: one OpenMP pool, sized here for every call */

fc_status fc_set_num_threads(int32_t threads)
{
    if (threads < 1 || threads > 4096)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "threads must be in [1, 4096], got %d", threads);
    num_threads = threads;
    return FC_OK;
}

int32_t fc_get_num_threads(void) { return num_threads; }
int fc_threads(void) { return num_threads; }

/* ---- memory */

void* fc_aligned_alloc(size_t bytes)
{
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded < bytes) return NULL;
    size_t huge = (size_t)2 << 20;
    if (rounded >= huge) {
        /* large buffers: 2 MiB aligned so the kernel can back them with huge pages (each new 4 KiB page costs here) */
        size_t size = (rounded + huge - 1) / huge * huge;
        void* p = aligned_alloc(huge, size);
        if (p) madvise(p, size, MADV_HUGEPAGE);
        return p;
    }
    return aligned_alloc(64, rounded == 0 ? 64 : rounded);
}

void fc_aligned_free(void* p) { free(p); }

static _Thread_local float* scratch_ptr[FC_SCRATCH_SLOTS];
static _Thread_local size_t scratch_len[FC_SCRATCH_SLOTS];

float* fc_scratch(int slot, size_t floats)
{
    if (scratch_len[slot] < floats) {
        size_t want = floats + floats / 4;
        float* p = fc_aligned_alloc(want * sizeof(float));
        if (!p) return NULL;
        fc_aligned_free(scratch_ptr[slot]);
        scratch_ptr[slot] = p;
        scratch_len[slot] = want;
    }
    return scratch_ptr[slot];
}

float* fc_ws_take(const fc_ws* ws, int slot, size_t floats)
{
    int t = omp_get_thread_num();
    if (!ws || floats > ws->need.floats[slot] || t >= ws->need.copies[slot]) return NULL;
    return ws->at[slot] + (size_t)t * ws->pitch[slot];
}
