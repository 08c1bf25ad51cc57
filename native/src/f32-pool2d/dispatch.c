/* Pooling entry points: descriptor checks and the implementation table (oneDNN's cpu_pooling_list.cpp style). */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- the implementation table: best first, the portable loops last; the first entry that applies runs */


static int is_bwd(int op) { return op == FC_POOL_MAX_BWD || op == FC_POOL_AVG_BWD; }

/* segment columns and lanes of the chunked kernels on an ISA (internal.h, fc_pool_chunk) */
static int chunk_cols(fc_isa isa) { return isa == FC_ISA_AVX512 ? 32 : 16; }
static int chunk_lanes(fc_isa isa) { return isa == FC_ISA_AVX512 ? 16 : 8; }

static int applies_2x2s2(const fc_pool_geom* g, fc_isa isa, int op) { return fc_pool_2x2s2(&g->d); }
static int applies_small_plane(const fc_pool_geom* g, fc_isa isa, int op)
{
    return is_bwd(op) && fc_pool_small_plane(g, chunk_cols(isa), chunk_lanes(isa));
}
static int applies_chunked(const fc_pool_geom* g, fc_isa isa, int op) { return fc_pool_chunk(&g->d, chunk_cols(isa), chunk_lanes(isa)) > 0; }
static int applies_always(const fc_pool_geom* g, fc_isa isa, int op) { return 1; }

typedef struct pool_impl {
    const char* name;
    int (*applies)(const fc_pool_geom* g, fc_isa isa, int op);
    const char* rule; /* what applies() accepts, for the refusal of a forced entry */
    fc_pool_kernel run[FC_ISA_AVX512 + 1]; /* by fc_isa; NULL where the entry is not built */
} pool_impl;

static const pool_impl impls[] = {
    { "2x2s2", applies_2x2s2, "2x2 windows at stride 2 without padding",
      { [FC_ISA_AVX2] = fc_pool_2x2s2__avx2, [FC_ISA_AVX512] = fc_pool_2x2s2__avx512 } },
    { "small-plane", applies_small_plane,
      "backward of unpadded planes at most 16 (avx512: 32) wide whose output rows are one chunk (8 outputs, avx512: 16, "
      "at most (16 - kernel_w)/stride_w + 1, avx512: (32 - kernel_w)/stride_w + 1) and at most 64 output rows",
      { [FC_ISA_AVX2] = fc_pool_small_plane__avx2, [FC_ISA_AVX512] = fc_pool_small_plane__avx512 } },
    { "chunked", applies_chunked, "windows at most 16 (avx512: 32) columns wide",
      { [FC_ISA_AVX2] = fc_pool_chunked__avx2, [FC_ISA_AVX512] = fc_pool_chunked__avx512 } },
    { "loops", applies_always, "any window",
      { [FC_ISA_SCALAR] = fc_pool_loops__scalar, [FC_ISA_AVX2] = fc_pool_loops__avx2, [FC_ISA_AVX512] = fc_pool_loops__avx512 } },
};
enum { IMPL_COUNT = sizeof impls / sizeof impls[0] };

int32_t fc_f32_pool2d_impl_count(void) { return IMPL_COUNT; }

const char* fc_f32_pool2d_impl_name(int32_t i) { return i >= 0 && i < IMPL_COUNT ? impls[i].name : NULL; }

static int impl_applies(const pool_impl* e, const fc_pool_geom* g, fc_isa isa, int op)
{
    return e->run[isa] && e->applies(g, isa, op);
}

static const char* op_name(int op)
{
    static const char* names[] = { "max forward", "max backward", "average forward", "average backward" };
    return names[op];
}

/* the entry named `name` (or, null, FASTCONV_POOL_ALGO's, or the first that applies) for op; sets *e or fails */
static fc_status choose(const fc_pool_geom* g, fc_isa isa, int op, const char* name, const pool_impl** e)
{
    const char* why = "";
    if (!name) {
        const char* forced = getenv("FASTCONV_POOL_ALGO");
        if (forced && *forced) { name = forced; why = "FASTCONV_POOL_ALGO="; }
    }
    if (!name) {
        for (int i = 0; i < IMPL_COUNT; i++)
            if (impl_applies(&impls[i], g, isa, op)) { *e = &impls[i]; return FC_OK; }
        return fc_fail(FC_ERR_INTERNAL, "pool2d: no implementation applies"); /* "loops" always does */
    }
    for (int i = 0; i < IMPL_COUNT; i++) {
        if (strcmp(impls[i].name, name) != 0) continue;
        const fc_pool2d_desc* d = &g->d;
        if (!impls[i].run[isa])
            return fc_fail(FC_ERR_UNSUPPORTED, "pool2d: %s%s is not built for %s", why, name, fc_isa_name(isa));
        if (!impls[i].applies(g, isa, op))
            return fc_fail(FC_ERR_UNSUPPORTED,
                           "pool2d: %s%s does not apply to %s of %dx%d, kernel %dx%d, stride %dx%d, padding %dx%d on %s; it runs %s",
                           why, name, op_name(op), d->h, d->w, d->kernel_h, d->kernel_w, d->stride_h, d->stride_w, d->pad_h,
                           d->pad_w, fc_isa_name(isa), impls[i].rule);
        *e = &impls[i];
        return FC_OK;
    }
    return fc_fail(FC_ERR_INVALID_ARGUMENT, "pool2d: no implementation is named '%s'%s (see fc_f32_pool2d_impl_name)", name,
                   *why ? " (FASTCONV_POOL_ALGO)" : "");
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
    static _Thread_local char name[96];
    fc_pool_geom g;
    fc_isa chosen;
    const pool_impl *fwd, *bwd;
    if (!desc || prepare(desc, isa, &g, &chosen) != FC_OK) return "";
    int op = max_pool ? FC_POOL_MAX_FWD : FC_POOL_AVG_FWD;
    if (choose(&g, chosen, op, NULL, &fwd) != FC_OK || choose(&g, chosen, op + 1, NULL, &bwd) != FC_OK) return "";
    if (fwd == bwd) snprintf(name, sizeof name, "native:%s:%s", fc_isa_name(chosen), fwd->name);
    else snprintf(name, sizeof name, "native:%s:%s+%s", fc_isa_name(chosen), fwd->name, bwd->name);
    return name;
}

fc_status fc_f32_pool2d_run(const fc_pool2d_desc* desc, fc_isa isa, const char* impl, int32_t op, const float* x,
                            const float* dy, float* out)
{
    fc_clear_error();
    FC_CHECK_PTR(desc, "fc_f32_pool2d_run");
    if (op < FC_POOL_MAX_FWD || op > FC_POOL_AVG_BWD)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "fc_f32_pool2d_run: op must be an fc_pool_op (0..3), got %d", op);
    if (op != FC_POOL_AVG_BWD) FC_CHECK_PTR(x, "fc_f32_pool2d_run");
    if (is_bwd(op)) FC_CHECK_PTR(dy, "fc_f32_pool2d_run");
    FC_CHECK_PTR(out, "fc_f32_pool2d_run");
    fc_pool_geom g;
    fc_isa chosen;
    const pool_impl* e;
    fc_status st = prepare(desc, isa, &g, &chosen);
    if (st != FC_OK) return st;
    if ((st = choose(&g, chosen, op, impl, &e)) != FC_OK) return st;
    e->run[chosen](&g, op, op == FC_POOL_AVG_BWD ? NULL : x, is_bwd(op) ? dy : NULL, out);
    return FC_OK;
}

/* the four entry points of before the table: thin wrappers */
fc_status fc_f32_maxpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y)
{
    FC_CHECK_PTR(desc, "fc_f32_maxpool2d_fwd");
    FC_CHECK_PTR(x, "fc_f32_maxpool2d_fwd");
    FC_CHECK_PTR(y, "fc_f32_maxpool2d_fwd");
    return fc_f32_pool2d_run(desc, isa, NULL, FC_POOL_MAX_FWD, x, NULL, y);
}

fc_status fc_f32_maxpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, const float* dy, float* dx)
{
    FC_CHECK_PTR(desc, "fc_f32_maxpool2d_bwd");
    FC_CHECK_PTR(x, "fc_f32_maxpool2d_bwd");
    FC_CHECK_PTR(dy, "fc_f32_maxpool2d_bwd");
    FC_CHECK_PTR(dx, "fc_f32_maxpool2d_bwd");
    return fc_f32_pool2d_run(desc, isa, NULL, FC_POOL_MAX_BWD, x, dy, dx);
}

fc_status fc_f32_avgpool2d_fwd(const fc_pool2d_desc* desc, fc_isa isa, const float* x, float* y)
{
    FC_CHECK_PTR(desc, "fc_f32_avgpool2d_fwd");
    FC_CHECK_PTR(x, "fc_f32_avgpool2d_fwd");
    FC_CHECK_PTR(y, "fc_f32_avgpool2d_fwd");
    return fc_f32_pool2d_run(desc, isa, NULL, FC_POOL_AVG_FWD, x, NULL, y);
}

fc_status fc_f32_avgpool2d_bwd(const fc_pool2d_desc* desc, fc_isa isa, const float* dy, float* dx)
{
    FC_CHECK_PTR(desc, "fc_f32_avgpool2d_bwd");
    FC_CHECK_PTR(dy, "fc_f32_avgpool2d_bwd");
    FC_CHECK_PTR(dx, "fc_f32_avgpool2d_bwd");
    return fc_f32_pool2d_run(desc, isa, NULL, FC_POOL_AVG_BWD, NULL, dy, dx);
}
