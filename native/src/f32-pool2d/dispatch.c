/* Pooling entry points: descriptor checks, ISA dispatch. */
#include "../internal.h"

#include <stdio.h>

fc_status fc_pool2d_output_size(const fc_pool2d_desc* d, int32_t* out_h, int32_t* out_w)
{
    FC_CHECK_PTR(d, "fc_pool2d_output_size");
    FC_CHECK_PTR(out_h, "fc_pool2d_output_size");
    FC_CHECK_PTR(out_w, "fc_pool2d_output_size");
    const struct { const char* name; int v; int min; } f[] = {
        { "n", d->n, 1 }, { "c", d->c, 1 }, { "h", d->h, 1 }, { "w", d->w, 1 }, { "kernel_h", d->kernel_h, 1 },
        { "kernel_w", d->kernel_w, 1 }, { "stride_h", d->stride_h, 1 }, { "stride_w", d->stride_w, 1 },
        { "pad_h", d->pad_h, 0 }, { "pad_w", d->pad_w, 0 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return fc_fail(FC_ERR_INVALID_ARGUMENT, "pool2d: %s must be >= %d, got %d", f[i].name, f[i].min, f[i].v);
    if (2 * (int64_t)d->pad_h > d->kernel_h || 2 * (int64_t)d->pad_w > d->kernel_w)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "pool2d: padding %dx%d must be at most half the kernel %dx%d", d->pad_h, d->pad_w,
                       d->kernel_h, d->kernel_w);
    int64_t nh = (int64_t)d->h + 2 * (int64_t)d->pad_h - d->kernel_h, nw = (int64_t)d->w + 2 * (int64_t)d->pad_w - d->kernel_w;
    if (nh < 0 || nw < 0)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "pool2d: kernel %dx%d with padding %dx%d does not fit a %dx%d input", d->kernel_h,
                       d->kernel_w, d->pad_h, d->pad_w, d->h, d->w);
    *out_h = (int32_t)(nh / d->stride_h + 1);
    *out_w = (int32_t)(nw / d->stride_w + 1);
    if ((int64_t)d->h * d->w > INT32_MAX || (int64_t)d->n * d->c > INT64_MAX / ((int64_t)d->h * d->w * 8))
        return fc_fail(FC_ERR_UNSUPPORTED, "pool2d: a plane of %dx%d or the batch is too large", d->h, d->w);
    return FC_OK;
}

static fc_status prepare(const fc_pool2d_desc* d, fc_isa isa, fc_pool_geom* g, fc_isa* chosen)
{
    fc_clear_error();
    int32_t oh, ow;
    fc_status st = fc_pool2d_output_size(d, &oh, &ow);
    if (st != FC_OK) return st;
    if ((st = fc_resolve_isa(isa, chosen)) != FC_OK) return st;
    g->d = *d;
    g->oh = oh;
    g->ow = ow;
    return FC_OK;
}

const char* fc_f32_pool2d_implementation(const fc_pool2d_desc* desc, fc_isa isa, int32_t max_pool)
{
    static _Thread_local char name[64];
    fc_pool_geom g;
    fc_isa chosen;
    if (!desc || prepare(desc, isa, &g, &chosen) != FC_OK) return "";
    const char* kind = FC_CALL(chosen, fc_pool2d_kind, &g, max_pool);
    snprintf(name, sizeof name, "native:%s:%s", fc_isa_name(chosen), kind);
    return name;
}

#define POOL_ENTRY(fn, args, ...)                                                                                     \
    {                                                                                                                 \
        FC_CHECK_PTR(desc, #fn);                                                                                      \
        __VA_ARGS__                                                                                                   \
        fc_pool_geom g;                                                                                               \
        fc_isa chosen;                                                                                                \
        fc_status st = prepare(desc, isa, &g, &chosen);                                                               \
        if (st != FC_OK) return st;                                                                                   \
        FC_CALL_VOID(chosen, fn, &g, args);                                                                           \
        return FC_OK;                                                                                                 \
    }

#define ARGS2(a, b) a, b
#define ARGS3(a, b, c) a, b, c

fc_status fc_f32_maxpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y)
POOL_ENTRY(fc_f32_maxpool2d_fwd, ARGS2(x, y), FC_CHECK_PTR(x, "fc_f32_maxpool2d_fwd"); FC_CHECK_PTR(y, "fc_f32_maxpool2d_fwd");)

fc_status fc_f32_maxpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, const float* dy, float* dx)
POOL_ENTRY(fc_f32_maxpool2d_bwd, ARGS3(x, dy, dx), FC_CHECK_PTR(x, "fc_f32_maxpool2d_bwd"); FC_CHECK_PTR(dy, "fc_f32_maxpool2d_bwd");
           FC_CHECK_PTR(dx, "fc_f32_maxpool2d_bwd");)

fc_status fc_f32_avgpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y)
POOL_ENTRY(fc_f32_avgpool2d_fwd, ARGS2(x, y), FC_CHECK_PTR(x, "fc_f32_avgpool2d_fwd"); FC_CHECK_PTR(y, "fc_f32_avgpool2d_fwd");)

fc_status fc_f32_avgpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* dy, float* dx)
POOL_ENTRY(fc_f32_avgpool2d_bwd, ARGS2(dy, dx), FC_CHECK_PTR(dy, "fc_f32_avgpool2d_bwd"); FC_CHECK_PTR(dx, "fc_f32_avgpool2d_bwd");)
