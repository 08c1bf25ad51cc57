/* Internal declarations shared by the op folders: errors, ISA choice, threads, scratch, the GEMM driver. */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#define FASTCONV_BUILD 1
#include "../include/fastconv.h"
#include <stddef.h>
#include <stdint.h>

#define FC_HIDDEN __attribute__((visibility("hidden")))

/* errors: set the thread-local message and return the status */
FC_HIDDEN fc_status fc_fail(fc_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
FC_HIDDEN void fc_clear_error(void);
/* FC_ISA_AUTO -> the chosen variant; an unknown or unsupported one -> error (out stays unset) */
FC_HIDDEN fc_status fc_resolve_isa(fc_isa requested, fc_isa* out);
FC_HIDDEN int fc_threads(void);

/* Scratch slots. A conv plan's workspace (below) has them per direction; fc_scratch keeps a per-thread buffer per
 * slot, grown on demand and kept, for the one op without a plan (fc_f32_gemm). */
enum {
    FC_SCRATCH_PACK_A, FC_SCRATCH_PACK_B, FC_SCRATCH_TILE, FC_SCRATCH_COLUMNS, FC_SCRATCH_REDUCE,
    FC_SCRATCH_WINO_Z, FC_SCRATCH_WINO_V, FC_SCRATCH_WINO_M, /* Winograd: filter-gradient sums, input, products */
    FC_SCRATCH_S2D_X, FC_SCRATCH_S2D_W,                        /* space-to-depth: phase planes, rearranged filters */
    FC_SCRATCH_LANES_DY, FC_SCRATCH_LANES_X,                   /* direct kernels: dy transposed, x padded or shifted */
    FC_SCRATCH_SLOTS
};
FC_HIDDEN float* fc_scratch(int slot, size_t floats);
FC_HIDDEN void* fc_aligned_alloc(size_t bytes);
FC_HIDDEN void fc_aligned_free(void* p);

/* A conv plan's workspace, in oneDNN's manner: at plan creation each chosen entry declares what it takes from each
 * slot (its FC_CONV_WORKSPACE function calls fc_ws_declare), the plan allocates all of it at once, and the run takes
 * it from its arguments with fc_ws_take. A slot holds `copies` copies of `floats` floats; copy t is thread t's
 * (omp_get_thread_num(): the calling thread is 0 inside and outside a parallel region, and the kernels never nest
 * them), so a buffer only the calling thread takes declares 1 copy and one per worker fc_threads(). The three
 * directions share the memory (a plan runs one call at a time). */
typedef struct fc_ws_need {
    size_t floats[FC_SCRATCH_SLOTS];
    int copies[FC_SCRATCH_SLOTS];
} fc_ws_need;

static inline void fc_ws_declare(fc_ws_need* need, int slot, size_t floats, int copies)
{
    if (floats > need->floats[slot]) need->floats[slot] = floats;
    if (copies > need->copies[slot]) need->copies[slot] = copies;
}

typedef struct fc_ws {
    float* at[FC_SCRATCH_SLOTS];
    size_t pitch[FC_SCRATCH_SLOTS]; /* floats from one thread's copy to the next */
    fc_ws_need need;
} fc_ws;

/* this thread's copy of a slot, or NULL where the entry declared less (a bug the edge tests would show) */
FC_HIDDEN float* fc_ws_take(const fc_ws* ws, int slot, size_t floats);

/* GEMM blocking shared by every ISA */
#ifndef FC_KC
#define FC_KC 320
#endif
#ifndef FC_NC
#define FC_NC 512
#endif

/* B packer: fills ceil(nc/nr) panels of kc rows x nr floats (zero-padded) with rows [k0, k0+kc), columns [j0, j0+nc) */
typedef void (*fc_pack_b_fn)(const void* src, int k0, int kc, int j0, int nc, float* dst, int nr);

/* a strided B: B(l, j) = p[(l / wrap) * wrap_stride + (l % wrap) * row_stride + j * col_stride] */
typedef struct fc_strided_b {
    const float* p;
    ptrdiff_t row_stride, col_stride, wrap_stride;
    int wrap;
} fc_strided_b;

#define FC_DECLARE_GEMM(isa)                                                                                          \
    FC_HIDDEN void fc_gemm_tile__##isa(int* mr, int* nr);                                                             \
    FC_HIDDEN void fc_gemm_pack_a__##isa(int m, int kd, const float* a, ptrdiff_t rs, ptrdiff_t cs, float alpha,        \
                                         float* dst);                                                                 \
    FC_HIDDEN void fc_gemm_pack_b_strided__##isa(const void* src, int k0, int kc, int j0, int nc, float* dst, int nr);  \
    FC_HIDDEN void fc_gemm_columns__##isa(int m, int kd, const float* ap, fc_pack_b_fn pack, const void* src, int j0,  \
                                          int nc, float* c, ptrdiff_t ldc, int accumulate, const float* bias,          \
                                          int relu, float* bp, float* tile);                                          \
    FC_HIDDEN void fc_gemm_columns_inplace__##isa(int m, int kd, const float* ap, const float* b, ptrdiff_t ldb,     \
                                                  int j0, int nc, float* c, ptrdiff_t ldc, int accumulate,             \
                                                  const float* bias, int relu, float* bp, float* tile);               \
    FC_HIDDEN void fc_gemm_packed__##isa(int m, int kd, const float* ap, const float* bp, int nc, float* c,            \
                                         ptrdiff_t ldc, float* tile);                                                 \
    FC_HIDDEN int fc_f32_gemm__##isa(int trans_a, int trans_b, int m, int n, int k, float alpha, const float* a,     \
                                      int lda, const float* b, int ldb, float beta, float* c, int ldc);
FC_DECLARE_GEMM(scalar)
FC_DECLARE_GEMM(avx2)
FC_DECLARE_GEMM(avx512)

static inline ptrdiff_t fc_packed_a_size(int m, int kd, int mr) { return (ptrdiff_t)((m + mr - 1) / mr) * mr * kd; }
static inline ptrdiff_t fc_packed_b_size(int nr) { return (ptrdiff_t)FC_KC * (FC_NC + nr); }

/* ---- convolution: implementation tables (f32-conv2d/impls.def) and the plan -------------------------------------- */
struct fc_conv2d_plan;

/* the tensors of one call; each direction uses its own: forward x, w, bias -> y; backward-data dy, w -> dx;
 * backward-filter x, dy -> dw, dbias (bias and dbias may be NULL) */
typedef struct fc_conv_args {
    const float *x, *w, *bias, *dy;
    float *y, *dx, *dw, *dbias;
    const fc_ws* ws; /* the plan's workspace for this direction */
} fc_conv_args;

typedef int (*fc_conv_run_fn)(const struct fc_conv2d_plan* p, const fc_conv_args* a);       /* FC_OK or an fc_status */
typedef const char* (*fc_conv_supports_fn)(const struct fc_conv2d_plan* p); /* NULL: it runs this geometry; else why not */
typedef int (*fc_conv_pays_fn)(const struct fc_conv2d_plan* p);            /* chosen by itself (measured per ISA) */
typedef void (*fc_conv_workspace_fn)(const struct fc_conv2d_plan* p, fc_ws_need* need); /* what run takes: fc_ws_declare */

typedef struct fc_conv_variant {
    fc_conv_run_fn run; /* NULL: not built for this ISA */
    fc_conv_supports_fn supports;
    fc_conv_pays_fn pays;
    fc_conv_workspace_fn workspace;
} fc_conv_variant;

typedef struct fc_conv_impl {
    const char* name;
    int phases;               /* runs over the phase planes' sub-plan */
    fc_conv_variant isa[4];   /* indexed by fc_isa */
} fc_conv_impl;

/* the tables, in impls.c: fc_conv_impls[direction][i], fc_conv_impl_counts[direction] */
FC_HIDDEN extern const fc_conv_impl* const fc_conv_impls[3];
FC_HIDDEN extern const int fc_conv_impl_counts[3];

#define FC_CONV_IMPL(dir, id, name, phases, scalar, avx2, avx512)                                                     \
    FC_HIDDEN int fc_conv_##dir##_##id##__scalar(const struct fc_conv2d_plan*, const fc_conv_args*);                   \
    FC_HIDDEN int fc_conv_##dir##_##id##__avx2(const struct fc_conv2d_plan*, const fc_conv_args*);                     \
    FC_HIDDEN int fc_conv_##dir##_##id##__avx512(const struct fc_conv2d_plan*, const fc_conv_args*);                   \
    FC_HIDDEN const char* fc_conv_##dir##_##id##_supports__scalar(const struct fc_conv2d_plan*);                       \
    FC_HIDDEN const char* fc_conv_##dir##_##id##_supports__avx2(const struct fc_conv2d_plan*);                         \
    FC_HIDDEN const char* fc_conv_##dir##_##id##_supports__avx512(const struct fc_conv2d_plan*);                       \
    FC_HIDDEN int fc_conv_##dir##_##id##_pays__scalar(const struct fc_conv2d_plan*);                                   \
    FC_HIDDEN int fc_conv_##dir##_##id##_pays__avx2(const struct fc_conv2d_plan*);                                     \
    FC_HIDDEN int fc_conv_##dir##_##id##_pays__avx512(const struct fc_conv2d_plan*);                                   \
    FC_HIDDEN void fc_conv_##dir##_##id##_workspace__scalar(const struct fc_conv2d_plan*, fc_ws_need*);                \
    FC_HIDDEN void fc_conv_##dir##_##id##_workspace__avx2(const struct fc_conv2d_plan*, fc_ws_need*);                  \
    FC_HIDDEN void fc_conv_##dir##_##id##_workspace__avx512(const struct fc_conv2d_plan*, fc_ws_need*);
#include "f32-conv2d/impls.def"
#undef FC_CONV_IMPL

/* the four functions an entry defines in each ISA unit it is built for (FC_SUFFIX adds the ISA) */
#define FC_CONV_RUN(dir, id) int FC_SUFFIX(fc_conv_##dir##_##id)(const struct fc_conv2d_plan* p, const fc_conv_args* a)
#define FC_CONV_SUPPORTS(dir, id) const char* FC_SUFFIX(fc_conv_##dir##_##id##_supports)(const struct fc_conv2d_plan* p)
#define FC_CONV_PAYS(dir, id) int FC_SUFFIX(fc_conv_##dir##_##id##_pays)(const struct fc_conv2d_plan* p)
#define FC_CONV_WORKSPACE(dir, id)                                                                                    \
    void FC_SUFFIX(fc_conv_##dir##_##id##_workspace)(const struct fc_conv2d_plan* p, fc_ws_need* need)

/* the conv plan, as dispatch.c builds it and the ISA variants read it */
struct fc_conv2d_plan {
    fc_conv2d_desc d;
    fc_isa isa;
    int oh, ow;
    int kd; /* C*R*S */
    int p;  /* OH*OW */
    int* rows; /* per column-matrix row: plane offset, offH, offW */
    const fc_conv_impl* impl[3]; /* per direction (fc_conv_direction): the entry that runs */
    /* phase planes (conv2d.inc): P and A (taps r = A*a + stride*u) where the geometry has them (0: none), and the
     * stride-1 3x3 sub-plan over them, built when a chosen entry runs on it */
    int phases, phase_step;
    struct fc_conv2d_plan* s2d;
    /* the workspace the chosen entries declared, sized for ws_threads threads (dispatch.c: plan_workspace) */
    fc_ws ws[3];
    float* ws_base;
    size_t ws_floats;
    int ws_threads;
    char implementation[160];
};

/* runs a direction of a plan on its own workspace (the phase entries run their sub-plan so) */
static inline int fc_conv_run(const struct fc_conv2d_plan* p, int dir, fc_conv_args* a)
{
    a->ws = &p->ws[dir];
    return p->impl[dir]->isa[p->isa].run(p, a);
}

/* 1x1, stride 1, no padding: an image is its own column matrix (C x P) */
static inline int fc_conv_one_by_one(const fc_conv2d_desc* d)
{
    return d->r == 1 && d->s == 1 && d->stride_h == 1 && d->stride_w == 1 && d->pad_h == 0 && d->pad_w == 0;
}

/* a supports rule shared by the stride-1 kernels: NULL, or why not */
static inline const char* fc_conv_stride1_dilation1(const fc_conv2d_desc* d)
{
    if (d->stride_h != 1 || d->stride_w != 1) return "needs stride 1";
    if (d->dilation_h != 1 || d->dilation_w != 1) return "needs dilation 1";
    return NULL;
}

/* Winograd numbers the tile rows of the whole batch, and those of the input planes in backward-data, with ints */
static inline int fc_conv_wino_fits(const struct fc_conv2d_plan* p)
{
    int tallest = p->oh > p->d.h ? p->oh : p->d.h;
    return (int64_t)p->d.n * ((tallest + 3) / 2) <= INT32_MAX / 2;
}

/* pooling: the descriptor with its output size; max = 1 for max pooling */
typedef struct fc_pool_geom {
    fc_pool2d_desc d;
    int oh, ow;
} fc_pool_geom;

/* A pooling kernel, one per entry of the implementation table (dispatch.c) and ISA: op is an fc_pool_op; x is the
 * input (null for average backward), dy the output gradient (null forward), out y or dx. */
typedef void (*fc_pool_kernel)(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out);
#define FC_DECLARE_POOL(isa)                                                                                          \
    FC_HIDDEN void fc_pool_loops__##isa(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out);
FC_DECLARE_POOL(scalar)
FC_DECLARE_POOL(avx2)
FC_DECLARE_POOL(avx512)
#define FC_DECLARE_POOL_SIMD(isa)                                                                                     \
    FC_HIDDEN void fc_pool_2x2s2__##isa(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out);   \
    FC_HIDDEN void fc_pool_small_plane__##isa(const fc_pool_geom* g, int op, const float* x, const float* dy,          \
                                              float* out);                                                            \
    FC_HIDDEN void fc_pool_chunked__##isa(const fc_pool_geom* g, int op, const float* x, const float* dy, float* out);
FC_DECLARE_POOL_SIMD(avx2)
FC_DECLARE_POOL_SIMD(avx512)

/* The chunked pooling kernels compute `lanes` outputs of a row at a time from a segment of `cols` input columns
 * (AVX2: 8 from 16, AVX-512: 16 from 32): outputs per chunk, or 0 where a window is wider than the segment. */
static inline int fc_pool_chunk(const fc_pool2d_desc* d, int cols, int lanes)
{
    if (d->kernel_w > cols) return 0;
    int ch = (cols - d->kernel_w) / d->stride_w + 1;
    return ch > lanes ? lanes : ch;
}
/* planes the small-plane backward builds a dx row at a time in registers: unpadded, each output row one chunk, each
 * input row one segment, at most 64 output rows (their winners and gradients stay on the stack) */
static inline int fc_pool_small_plane(const fc_pool_geom* g, int cols, int lanes)
{
    const fc_pool2d_desc* d = &g->d;
    int ch = fc_pool_chunk(d, cols, lanes);
    return ch && d->pad_h == 0 && d->pad_w == 0 && g->ow <= ch && d->w <= cols && g->oh <= 64;
}
static inline int fc_pool_2x2s2(const fc_pool2d_desc* d)
{
    return d->kernel_h == 2 && d->kernel_w == 2 && d->stride_h == 2 && d->stride_w == 2 && d->pad_h == 0 && d->pad_w == 0;
}

#define FC_DECLARE_ELTWISE(isa)                                                                                       \
    FC_HIDDEN void fc_f32_relu_fwd__##isa(int64_t count, const float* x, float* y);                                   \
    FC_HIDDEN void fc_f32_relu_bwd__##isa(int64_t count, const float* x, const float* dy, float* dx);                 \
    FC_HIDDEN void fc_f32_bias_add_fwd__##isa(int n, int c, int64_t inner, float* x, const float* bias);              \
    FC_HIDDEN void fc_f32_bias_add_bwd__##isa(int n, int c, int64_t inner, const float* dy, float* dbias);
#define FC_ELTWISE_FWD_KERNEL(op, expr, isa) FC_HIDDEN void fc_f32_##op##__##isa(int64_t count, const float* x, float* y, float alpha);
#define FC_ELTWISE_BWD_KERNEL(op, expr, isa)                                                                          \
    FC_HIDDEN void fc_f32_##op##__##isa(int64_t count, const float* x, const float* dy, float* dx, float alpha);
#define FC_ELTWISE_FWD_scalar(op, expr) FC_ELTWISE_FWD_KERNEL(op, expr, scalar)
#define FC_ELTWISE_BWD_scalar(op, expr) FC_ELTWISE_BWD_KERNEL(op, expr, scalar)
#define FC_ELTWISE_FWD_avx2(op, expr) FC_ELTWISE_FWD_KERNEL(op, expr, avx2)
#define FC_ELTWISE_BWD_avx2(op, expr) FC_ELTWISE_BWD_KERNEL(op, expr, avx2)
#define FC_ELTWISE_FWD_avx512(op, expr) FC_ELTWISE_FWD_KERNEL(op, expr, avx512)
#define FC_ELTWISE_BWD_avx512(op, expr) FC_ELTWISE_BWD_KERNEL(op, expr, avx512)
FC_F32_ELTWISE_OPS(FC_ELTWISE_FWD_scalar, FC_ELTWISE_BWD_scalar)
FC_F32_ELTWISE_OPS(FC_ELTWISE_FWD_avx2, FC_ELTWISE_BWD_avx2)
FC_F32_ELTWISE_OPS(FC_ELTWISE_FWD_avx512, FC_ELTWISE_BWD_avx512)
FC_DECLARE_ELTWISE(scalar)
FC_DECLARE_ELTWISE(avx2)
FC_DECLARE_ELTWISE(avx512)

#define FC_DECLARE_BNORM(isa)                                                                                         \
    FC_HIDDEN void fc_f32_batch_norm_fwd_training__##isa(int n, int c, int hw, const float* x, const float* gamma,    \
                                                         const float* beta, float* y, float* save_mean,              \
                                                         float* save_inv_std, float* running_mean, float* running_var, \
                                                         float momentum, float epsilon, int relu);                    \
    FC_HIDDEN void fc_f32_batch_norm_fwd_inference__##isa(int n, int c, int hw, const float* x, const float* gamma,   \
                                                          const float* beta, const float* running_mean,              \
                                                          const float* running_var, float* y, float epsilon, int relu); \
    FC_HIDDEN void fc_f32_batch_norm_bwd__##isa(int n, int c, int hw, const float* x, const float* dy,                \
                                                const float* gamma, const float* beta, const float* save_mean,       \
                                                const float* save_inv_std, float* dx, float* dgamma, float* dbeta,   \
                                                int relu);
FC_DECLARE_BNORM(scalar)
FC_DECLARE_BNORM(avx2)
FC_DECLARE_BNORM(avx512)

/* the calling thread's range of [0, count) when `workers` share it */
static inline void fc_range(int64_t count, int t, int workers, int64_t* begin, int64_t* end)
{
    *begin = count * t / workers;
    *end = count * (t + 1) / workers;
}

static inline int fc_min(int a, int b) { return a < b ? a : b; }
static inline int fc_max(int a, int b) { return a > b ? a : b; }
static inline int64_t fc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t fc_max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* calls fn__<isa>(args...) for a resolved isa */
#define FC_CALL(isa, fn, ...)                                                                                          \
    ((isa) == FC_ISA_AVX512 ? fn##__avx512(__VA_ARGS__) : (isa) == FC_ISA_AVX2 ? fn##__avx2(__VA_ARGS__) : fn##__scalar(__VA_ARGS__))
#define FC_CALL_VOID(isa, fn, ...)                                                                                     \
    do {                                                                                                              \
        if ((isa) == FC_ISA_AVX512) fn##__avx512(__VA_ARGS__);                                                        \
        else if ((isa) == FC_ISA_AVX2) fn##__avx2(__VA_ARGS__);                                                       \
        else fn##__scalar(__VA_ARGS__);                                                                               \
    } while (0)

/* in an entry point: `chosen`, the variant isa resolves to (FC_ISA_AUTO: the one chosen at load), or return its error */
#define FC_RESOLVE_ISA(isa, chosen)                                                                                   \
    fc_isa chosen;                                                                                                    \
    do {                                                                                                              \
        fc_status resolve_st_ = fc_resolve_isa((isa), &chosen);                                                       \
        if (resolve_st_ != FC_OK) return resolve_st_;                                                                 \
    } while (0)

#define FC_CHECK_PTR(p, op)                                                                                            \
    do {                                                                                                              \
        if (!(p)) return fc_fail(FC_ERR_INVALID_ARGUMENT, "%s: %s is null", (op), #p);                                \
    } while (0)

/* the bias gradient of a backward-filter call, for the entries that do not sum it on the way (dbias NULL: none), after
 * the entry's status rc (a scalar loop of dependent adds here once took 0.6 ms of the training step's first layer:
 * fc_f32_bias_add_bwd keeps four independent sums) */
static inline int fc_conv_with_bias_grad(const struct fc_conv2d_plan* p, const fc_conv_args* a, int rc)
{
    if (rc == FC_OK && a->dbias) FC_CALL_VOID(p->isa, fc_f32_bias_add_bwd, p->d.n, p->d.k, p->p, a->dy, a->dbias);
    return rc;
}

#endif
