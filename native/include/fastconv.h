/*
 * fastconv.h — the C ABI of libfastconv.so, FastConv's native backend.
 *
 * Conventions (DESIGN.md):
 *   - tensors are float32, NCHW, dense, row-major; weights [K, C, R, S]; GEMM matrices row-major;
 *   - names are fc_f32_<op>_<dir>; ISA variants live behind them (fc_f32_conv2d_fwd__avx512 is internal);
 *   - argument order: descriptor (or plan), inputs, outputs;
 *   - every function returns an fc_status and keeps a thread-local message for fc_last_error();
 *     nothing aborts, nothing throws across the ABI, bad descriptors and null pointers are refused.
 *   - the thread count is process-wide (fc_set_num_threads; FASTCONV_THREADS at load, default all cores).
 *   - a plan may be used by one thread at a time; different plans may run concurrently.
 */
#ifndef FASTCONV_H
#define FASTCONV_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FASTCONV_BUILD)
#define FC_API __attribute__((visibility("default")))
#else
#define FC_API
#endif

#define FC_VERSION_MAJOR 0
#define FC_VERSION_MINOR 3
#define FC_VERSION_PATCH 0

typedef enum fc_status {
    FC_OK = 0,
    FC_ERR_INVALID_ARGUMENT = 1, /* a null pointer, a bad descriptor, sizes that overflow */
    FC_ERR_UNSUPPORTED = 2,      /* an ISA this CPU lacks, or a case this backend does not run */
    FC_ERR_OUT_OF_MEMORY = 3,
    FC_ERR_INTERNAL = 4
} fc_status;

typedef enum fc_isa {
    FC_ISA_AUTO = 0,   /* the variant chosen at load: cpuid, or FASTCONV_ISA */
    FC_ISA_SCALAR = 1, /* portable C */
    FC_ISA_AVX2 = 2,   /* AVX2 + FMA */
    FC_ISA_AVX512 = 3  /* AVX-512 F/BW/VL/DQ */
} fc_isa;

typedef enum fc_activation { FC_ACTIVATION_NONE = 0, FC_ACTIVATION_RELU = 1 } fc_activation;

/* A 2-D convolution: x [n, c, h, w] * w [k, c, r, s] -> y [n, k, out_h, out_w], out = floor((in + 2p - d(r-1) - 1)/stride) + 1. */
typedef struct fc_conv2d_desc {
    int32_t n, c, h, w, k, r, s;
    int32_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int32_t activation; /* fc_activation, fused into the forward pass after the bias */
} fc_conv2d_desc;

/* 2-D pooling over every channel plane: x [n, c, h, w] -> y [n, c, out_h, out_w]; pad <= kernel/2.
 * Max pooling ignores padding and gives ties to the first maximum in scan order; average pooling divides by kernel_h*kernel_w. */
typedef struct fc_pool2d_desc {
    int32_t n, c, h, w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
} fc_pool2d_desc;

typedef struct fc_conv2d_plan fc_conv2d_plan;

/* ---- library */
FC_API const char* fc_version(void);               /* "0.3.0" */
FC_API const char* fc_last_error(void);            /* this thread's last error message, "" if none */
/* what FC_ISA_AUTO runs; FC_ISA_AUTO itself when FASTCONV_ISA names a variant this CPU cannot run (fc_last_error says why) */
FC_API fc_isa fc_selected_isa(void);
FC_API int fc_isa_supported(fc_isa isa);           /* 1 when this CPU (and build) runs the variant */
FC_API const char* fc_isa_name(fc_isa isa);        /* "scalar", "avx2", "avx512", "auto", or "unknown" */
FC_API fc_status fc_set_num_threads(int32_t threads);
FC_API int32_t fc_get_num_threads(void);

/* ---- convolution: planned once (geometry checked, algorithm chosen, workspace allocated), run many times */
FC_API fc_status fc_f32_conv2d_plan_create(const fc_conv2d_desc* desc, fc_isa isa, fc_conv2d_plan** plan);
FC_API void fc_f32_conv2d_plan_destroy(fc_conv2d_plan* plan);
/* "native:avx512:fwd=winograd-2x2-3x3,bwd_data=winograd-2x2-3x3,bwd_filter=winograd-2x2-3x3": the entry of each
 * direction's implementation table the plan runs; valid while the plan lives */
FC_API const char* fc_f32_conv2d_plan_implementation(const fc_conv2d_plan* plan);
/* the bytes of workspace the plan holds (its entries declare it; allocated at creation for fc_get_num_threads(), and
 * sized again by the next call after the thread count changes); -1 for NULL */
FC_API int64_t fc_f32_conv2d_plan_workspace_bytes(const fc_conv2d_plan* plan);

/* The implementation tables: per direction an ordered list, best first, the im2col GEMM last. A plan takes per
 * direction the first entry built for its ISA that can run its geometry and pays there (measured per ISA);
 * FASTCONV_CONV_ALGO=name[,name...] forces, per direction, the first of those names its table has. */
typedef enum fc_conv_direction { FC_CONV_FWD = 0, FC_CONV_BWD_DATA = 1, FC_CONV_BWD_FILTER = 2 } fc_conv_direction;
FC_API int32_t fc_f32_conv2d_impl_count(int32_t direction);                 /* -1 for an unknown direction */
FC_API const char* fc_f32_conv2d_impl_name(int32_t direction, int32_t index); /* NULL out of range */
FC_API int32_t fc_f32_conv2d_impl_built(int32_t direction, int32_t index, fc_isa isa); /* 1: compiled for that ISA */
/* plan_create with the entry of each direction named (NULL: chosen as above); a named entry that is unknown, not built
 * for the ISA or unable to run the geometry is refused with FC_ERR_UNSUPPORTED, and fc_last_error() says why */
FC_API fc_status fc_f32_conv2d_plan_create_with(const fc_conv2d_desc* desc, fc_isa isa, const char* fwd, const char* bwd_data,
                                                const char* bwd_filter, fc_conv2d_plan** plan);
/* output size of a descriptor, or an error with the formula */
FC_API fc_status fc_conv2d_output_size(const fc_conv2d_desc* desc, int32_t* out_h, int32_t* out_w);

/* y = act(conv(x, w) + bias); bias may be null */
FC_API fc_status fc_f32_conv2d_fwd(fc_conv2d_plan* plan, const float* x, const float* w, const float* bias, float* y);
/* dx = conv_transpose(dy, w), overwriting dx */
FC_API fc_status fc_f32_conv2d_bwd_data(fc_conv2d_plan* plan, const float* dy, const float* w, float* dx);
/* dw = sum_n dy (*) x, overwriting dw; dbias = sum of dy over n, out_h, out_w (may be null) */
FC_API fc_status fc_f32_conv2d_bwd_filter(fc_conv2d_plan* plan, const float* x, const float* dy, float* dw, float* dbias);

/* ---- pooling (stateless) */
FC_API fc_status fc_pool2d_output_size(const fc_pool2d_desc* desc, int32_t* out_h, int32_t* out_w);
FC_API const char* fc_f32_pool2d_implementation(const fc_pool2d_desc* desc, fc_isa isa, int32_t max_pool);
FC_API fc_status fc_f32_maxpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y);
/* dx (overwritten) gets each dy at its window's first maximum in x */
FC_API fc_status fc_f32_maxpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, const float* dy, float* dx);
FC_API fc_status fc_f32_avgpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y);
FC_API fc_status fc_f32_avgpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* dy, float* dx);
/* The implementation table, oneDNN-style: an ordered list, best first, the portable "loops" last. A call runs the
 * first entry that applies to its geometry, ISA and op; FASTCONV_POOL_ALGO=<name> forces one (refused with
 * FC_ERR_UNSUPPORTED where it does not apply). fc_f32_pool2d_implementation names what runs:
 * "native:<isa>:<entry>", or "native:<isa>:<forward entry>+<backward entry>" where the two differ. */
typedef enum fc_pool_op {
    FC_POOL_MAX_FWD = 0, /* x -> y */
    FC_POOL_MAX_BWD = 1, /* x, dy -> dx */
    FC_POOL_AVG_FWD = 2, /* x -> y */
    FC_POOL_AVG_BWD = 3  /* dy -> dx (x unused, may be null) */
} fc_pool_op;
FC_API int32_t fc_f32_pool2d_impl_count(void);
/* the i-th entry's name ("max-2x2s2", "chunked", "loops", ...), or null outside [0, count) */
FC_API const char* fc_f32_pool2d_impl_name(int32_t i);
/* runs op (an fc_pool_op) by the entry named impl, or, with impl null, by the one the table chooses; out is y for the
 * forward ops and dx (overwritten) for the backward ones, dy is unused by the forward ops. An unknown name is
 * FC_ERR_INVALID_ARGUMENT; an entry not built for the ISA or that does not apply to the case, FC_ERR_UNSUPPORTED. */
FC_API fc_status fc_f32_pool2d_run(const fc_pool2d_desc* desc, fc_isa isa, const char* impl, int32_t op, const float* x,
                                   const float* dy, float* out);

/* ---- GEMM: c [m, n] = alpha * op(a) * op(b) + beta * c, row-major with leading dimensions */
FC_API fc_status fc_f32_gemm(fc_isa isa, int32_t trans_a, int32_t trans_b, int32_t m, int32_t n, int32_t k,
                             float alpha, const float* a, int32_t lda, const float* b, int32_t ldb,
                             float beta, float* c, int32_t ldc);

/* ---- element-wise */
/* y = max(x, 0) */
FC_API fc_status fc_f32_relu_fwd(fc_isa isa, int64_t count, const float* x, float* y);
/* dx = x > 0 ? dy : 0 */
FC_API fc_status fc_f32_relu_bwd(fc_isa isa, int64_t count, const float* x, const float* dy, float* dx);
/* x [n, c, inner] += bias [c] */
FC_API fc_status fc_f32_bias_add_fwd(fc_isa isa, int32_t n, int32_t c, int64_t inner, float* x, const float* bias);
/* dbias [c] = sum over n and inner of dy [n, c, inner] */
FC_API fc_status fc_f32_bias_add_bwd(fc_isa isa, int32_t n, int32_t c, int64_t inner, const float* dy, float* dbias);

/* ---- spatial batch normalisation, per channel c of x [n, c, hw] over its n*hw values (m of them)
 * training: mean = sum x / m, var = sum (x - mean)^2 / m (two passes), inv_std = 1 / sqrt(var + epsilon),
 * y = (x - mean) * gamma * inv_std + beta; saves mean and inv_std for the backward pass and updates
 * running = (1 - momentum) * running + momentum * batch (the variance unbiased, * m / (m - 1)). Threads sum whole
 * channels, so the result does not depend on the thread count, and write whole images. */
FC_API fc_status fc_f32_batch_norm_fwd_training(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* gamma,
                                                const float* beta, float* y, float* save_mean, float* save_inv_std,
                                                float* running_mean, float* running_var, float momentum, float epsilon,
                                                int32_t relu);
/* y = (x - running_mean) * gamma / sqrt(running_var + epsilon) + beta */
FC_API fc_status fc_f32_batch_norm_fwd_inference(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* gamma,
                                                 const float* beta, const float* running_mean, const float* running_var,
                                                 float* y, float epsilon, int32_t relu);
/* dbeta = sum g, dgamma = sum g * xhat, dx = gamma * inv_std / m * (m * g - dbeta - xhat * dgamma), with
 * xhat = (x - save_mean) * save_inv_std (overwriting dx, dgamma and dbeta); g = dy, or with relu the gradient through
 * the forward's max(0, .): dy where (x - save_mean) * gamma * save_inv_std + beta > 0 (recomputed from x as the
 * training forward computed it, so the same elements as relu_bwd on its output), else 0. beta may be NULL without relu.
 * relu (0 or 1) in all three: the forward wrote max(0, y), the batch norm and ReLU of a conv - bn - relu chain in one
 * pass over the data each way. */
FC_API fc_status fc_f32_batch_norm_bwd(fc_isa isa, int32_t n, int32_t c, int64_t hw, const float* x, const float* dy,
                                       const float* gamma, const float* beta, const float* save_mean,
                                       const float* save_inv_std, float* dx, float* dgamma, float* dbeta, int32_t relu);

/* Element-wise ops with one scalar, listed once (FastConv's EltwiseOp): FWD(op, expr) declares
 *   fc_status fc_f32_<op>(fc_isa isa, int64_t count, const float* x, float* y, float alpha);   y[i] = expr
 * and BWD(op, expr)
 *   fc_status fc_f32_<op>(fc_isa isa, int64_t count, const float* x, const float* dy, float* dx, float alpha);   dx[i] = expr
 * where expr reads x[i], dy[i] and alpha. The list feeds these prototypes, the per-ISA kernels (f32-eltwise/eltwise.inc),
 * their entry points (f32-eltwise/dispatch.c) and the edge tests; the C# backend finds each entry point by its name. */
#define FC_F32_ELTWISE_OPS(FWD, BWD)                                                                                  \
    FWD(leaky_relu_fwd, x[i] > 0.0f ? x[i] : alpha * x[i])                                                            \
    BWD(leaky_relu_bwd, x[i] > 0.0f ? dy[i] : alpha * dy[i])                                                          \
    BWD(add, x[i] + alpha * dy[i])

#define FC_ELTWISE_FWD_API(op, expr) FC_API fc_status fc_f32_##op(fc_isa isa, int64_t count, const float* x, float* y, float alpha);
#define FC_ELTWISE_BWD_API(op, expr)                                                                                  \
    FC_API fc_status fc_f32_##op(fc_isa isa, int64_t count, const float* x, const float* dy, float* dx, float alpha);
FC_F32_ELTWISE_OPS(FC_ELTWISE_FWD_API, FC_ELTWISE_BWD_API)

#ifdef __cplusplus
}
#endif
#endif
