/* Convolution entry points: descriptor checks (again: the C side trusts no caller), planning, ISA dispatch. */
#include "../internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fc_status out_size(const char* axis, int in, int kernel, int stride, int pad, int dilation, int32_t* out)
{
    int64_t eff = (int64_t)dilation * (kernel - 1) + 1;
    int64_t num = (int64_t)in + 2 * (int64_t)pad - eff;
    if (num < 0)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: kernel %d (effective %lld) with padding %d does not fit input %s %d",
                       kernel, (long long)eff, pad, axis, in);
    int64_t o = num / stride + 1;
    if (o > INT32_MAX) return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: output %s %lld does not fit in 32 bits", axis, (long long)o);
    *out = (int32_t)o;
    return FC_OK;
}

fc_status fc_conv2d_output_size(const fc_conv2d_desc* d, int32_t* out_h, int32_t* out_w)
{
    FC_CHECK_PTR(d, "fc_conv2d_output_size");
    FC_CHECK_PTR(out_h, "fc_conv2d_output_size");
    FC_CHECK_PTR(out_w, "fc_conv2d_output_size");
    const struct { const char* name; int v; int min; } f[] = {
        { "n", d->n, 1 }, { "c", d->c, 1 }, { "h", d->h, 1 }, { "w", d->w, 1 }, { "k", d->k, 1 }, { "r", d->r, 1 },
        { "s", d->s, 1 }, { "stride_h", d->stride_h, 1 }, { "stride_w", d->stride_w, 1 }, { "pad_h", d->pad_h, 0 },
        { "pad_w", d->pad_w, 0 }, { "dilation_h", d->dilation_h, 1 }, { "dilation_w", d->dilation_w, 1 },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: %s must be >= %d, got %d", f[i].name, f[i].min, f[i].v);
    if (d->activation != FC_ACTIVATION_NONE && d->activation != FC_ACTIVATION_RELU)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: activation %d is not FC_ACTIVATION_NONE or FC_ACTIVATION_RELU", d->activation);
    fc_status st = out_size("height", d->h, d->r, d->stride_h, d->pad_h, d->dilation_h, out_h);
    if (st == FC_OK) st = out_size("width", d->w, d->s, d->stride_w, d->pad_w, d->dilation_w, out_w);
    return st;
}

/* every product the kernels index with 32-bit ints must fit; whole tensors are indexed in 64 bits */
static fc_status check_sizes(const fc_conv2d_desc* d, int oh, int ow)
{
    const int64_t lim = INT32_MAX;
    int64_t kd = (int64_t)d->c * d->r * d->s, p = (int64_t)oh * ow, image = (int64_t)d->c * d->h * d->w;
    if (kd > lim || p > lim || image > lim || (int64_t)d->k * p > lim || (int64_t)d->k * kd > lim / 2)
        return fc_fail(FC_ERR_UNSUPPORTED, "conv2d: one image, filter bank or output plane has more than 2^31 elements "
                                           "(C*R*S = %lld, OH*OW = %lld, C*H*W = %lld)", (long long)kd, (long long)p, (long long)image);
    if ((int64_t)d->n * image > INT64_MAX / 8 || (int64_t)d->n * d->k * p > INT64_MAX / 8)
        return fc_fail(FC_ERR_INVALID_ARGUMENT, "conv2d: the batch's element counts overflow 64 bits");
    return FC_OK;
}

/* FASTCONV_CONV_ALGO names this algorithm ("im2col" turns every other one off, "winograd" forces Winograd) */
static int algo_forced(const char* name)
{
    const char* force = getenv("FASTCONV_CONV_ALGO");
    return force && !strcmp(force, name);
}

/* Where the direct AVX-512 kernels run instead of the im2col GEMM, decided once per plan (measured at 1 thread):
 * - forward, stride 1, a short and wide reduction (C*R*S <= 64, S >= 5: a first layer on grey images): C3's
 *   1x28x28 5x5 forward 0.77 ms direct vs 1.02 ms im2col; with 3x3 kernels or longer reductions the GEMM wins;
 * - backward-filter, the same layers with a 5x5 kernel: C3 1.34 ms vs 1.97, the 24x24 first layer of the training
 *   step 1.04 vs 1.33; a 3x3 first layer on 3 channels was slower direct (5.0 vs 4.4 ms), so 3x3 stays on the GEMM.
 * FASTCONV_CONV_ALGO=im2col turns both off, for comparisons. */
static int direct_allowed(const fc_conv2d_desc* d, fc_isa isa)
{
    return isa == FC_ISA_AVX512 && !algo_forced("im2col") && d->stride_h == 1 && d->stride_w == 1 &&
           d->dilation_h == 1 && d->dilation_w == 1 && (int64_t)d->c * d->r * d->s <= 64;
}

/* The AVX2 direct kernels (direct-avx2.inc; they run any stride-1, dilation-1 geometry), forward and backward-filter,
 * for the first layers: up to 4 input channels (grey, RGB, RGBA), stride 1, no dilation, not 1x1, C*R*S <= 150
 * (3 x 7x7). Measured at 1 thread (FASTCONV_ISA=avx2 on Zen 5), direct vs im2col: C3 (1 -> 16 5x5 pad 2 on 28x28) forward 0.37 vs 1.03 ms, backward-filter 0.69 vs 1.24; the
 * training step's 1 -> 16 5x5 0.27 vs 0.63 and 0.43 vs 0.83; 3 -> 32 5x5 pad 2 on 32x32 2.9 vs 4.9 and 4.3 vs 5.5;
 * C1 (3 -> 32 3x3) 1.07 vs 1.73 and 1.52 vs 2.50; 3 -> 64 7x7 pad 3 on 112x112 (batch 8) 16.8 vs 20.3 and 23.2 vs 23.9.
 * (Deeper layers were ahead direct too, forward to C*R*S = 1152 and backward-filter to 800, e.g. 6 -> 16 5x5 on 14x14
 * 0.36 vs 1.09 and 0.56 vs 0.83; they stay on the GEMM here. A 1x1 layer was slower direct.)
 * FASTCONV_CONV_ALGO=im2col or =winograd turns them off. */
static int direct_avx2_pays(const fc_conv2d_desc* d, fc_isa isa)
{
    return isa == FC_ISA_AVX2 && !algo_forced("im2col") && !algo_forced("winograd") && d->stride_h == 1 &&
           d->stride_w == 1 && d->dilation_h == 1 && d->dilation_w == 1 && d->r * d->s > 1 &&
           d->c <= 4 && d->c * d->r * d->s <= 150;
}

static int choose_algo(const fc_conv2d_desc* d, fc_isa isa)
{
    return (direct_allowed(d, isa) && d->s >= 5 && d->s <= 64) || direct_avx2_pays(d, isa) ? FC_ALGO_DIRECT : FC_ALGO_IM2COL_GEMM;
}

static int choose_dw_direct(const fc_conv2d_desc* d, fc_isa isa, int ow)
{
    return (direct_allowed(d, isa) && d->r == 5 && d->s == 5 && ow <= 256) || direct_avx2_pays(d, isa);
}

/* Winograd F(2x2, 3x3) (winograd.inc) for 3x3 kernels, stride 1, no dilation, padding at most 2 (backward-data runs
 * as a forward with padding 2 - pad). Chosen for AVX-512 plans with 16 or more input and output channels, where the
 * 2.25x fewer multiply-adds outweigh the transforms (measured in perf/: C2, C4, C5, C8); FASTCONV_CONV_ALGO=winograd
 * forces it on every eligible plan and ISA (the C edge tests do), =im2col turns it off. */
static int choose_wino(const fc_conv2d_desc* d, fc_isa isa)
{
    int eligible = d->r == 3 && d->s == 3 && d->stride_h == 1 && d->stride_w == 1 && d->dilation_h == 1 &&
                   d->dilation_w == 1 && d->pad_h <= 2 && d->pad_w <= 2;
    if (!eligible || algo_forced("im2col")) return 0;
    if (algo_forced("winograd")) return 1;
    return isa == FC_ISA_AVX512 && d->c >= 16 && d->k >= 16;
}

/* Backward-data by the direct kernel with the input channels in the lanes (direct-avx512.inc), for AVX-512 plans that
 * Winograd does not take, with 16 or more input channels to fill the lanes, planes of at most 4096 positions (the
 * per-thread accumulation plane, 16 floats a position, stays in L2) and not 1x1 stride 1 (a GEMM in place there).
 * FASTCONV_CONV_ALGO=im2col turns it off. */
static int choose_dx_lanes(const fc_conv2d_desc* d, fc_isa isa, int wino)
{
    return isa == FC_ISA_AVX512 && !algo_forced("im2col") && !wino && !fc_conv_one_by_one(d) && d->c >= 16 &&
           (int64_t)d->h * d->w <= 4096;
}

/* Backward-filter by the direct kernel with 32 output channels in two vectors of lanes (direct-avx512.inc), for AVX-512
 * plans that neither Winograd nor the 5x5 first-layer kernel takes, not 1x1, with 24 or more output channels and a
 * reduction per dy element C*R*S of 256 or more (dy is transposed once per call). Measured at 1 thread against the
 * GEMM or the phase planes: the training step's 16 -> 32 5x5 1.16 -> 1.06 ms, 32 -> 32 7x7 on 16x16 11.3 -> 7.1,
 * 32 -> 64 3x3 stride 2 2.6 -> 2.0; a 3 -> 32 3x3 layer (C*R*S = 27) was 2x slower and a 1x1 layer too. */
static int choose_dw_lanes(const fc_conv2d_desc* d, fc_isa isa, int wino, int dw_direct)
{
    return isa == FC_ISA_AVX512 && !algo_forced("im2col") && !wino && !dw_direct &&
           d->r * d->s > 1 && d->k >= 24 && (int64_t)d->c * d->r * d->s >= 256;
}

/* Forward by the direct kernel with 32 output channels in the lanes (direct-avx512.inc), for the AVX-512 plans that
 * would otherwise run the im2col GEMM (the phase planes turn it off below), not 1x1, from 24 output channels, with a
 * reduction C*R*S of 256 to 2048 (its packed weights, streamed once per 8 outputs, stay in L2) and at most 4096
 * outputs a plane (the per-image [P][32] sums stay in L2). Measured at 1 thread against the GEMM: 32 -> 64 3x3
 * stride 2 on 16x16 2.5 -> 1.9 ms, 32 -> 32 7x7 10.1 -> 7.6, 12 -> 32 7x7 stride 2 3.7 -> 1.5; on the training
 * step's 16 -> 32 5x5 kernel splitting stays ahead (0.97 vs 1.03 ms). */
static int choose_y_lanes(const fc_conv2d_desc* d, fc_isa isa, int wino, int direct, int64_t positions)
{
    int64_t crs = (int64_t)d->c * d->r * d->s;
    return isa == FC_ISA_AVX512 && !algo_forced("im2col") && !wino && !direct && d->r * d->s > 1 &&
           d->k >= 24 && crs >= 256 && crs <= 2048 && positions <= 4096;
}

/* Phase planes (conv2d.inc): a convolution whose taps are r = A*a + s*u, a < P, u < 3, runs as a stride-1 3x3
 * one on C*P*P channels, by Winograd. Space-to-depth (P = s, A = 1) for strided kernels 2s+1 .. 3s wide
 * (AlexNet's 11x11 stride 4: 19% more multiply-adds as 12x12 taps, then 2.25x fewer); kernel splitting (P = 2,
 * A = 3) for stride-1 kernels of 4 to 6 taps (a 5x5 as four 3x3 blocks: 36 taps for 25, then 2.25x fewer: the
 * training step's 16 -> 32 layer; its backward-data runs without the phases). Chosen with Winograd's rule on the new
 * channel count, where the direct kernel is not; FASTCONV_CONV_ALGO=winograd forces and =im2col refuses it as for Winograd. Sets *P and *A. */
static int choose_phases(const fc_conv2d_desc* d, fc_isa isa, int direct, int* P, int* A)
{
    int s = d->stride_h;
    if (s != d->stride_w || d->dilation_h != 1 || d->dilation_w != 1) return 0;
    if (s >= 2 && (d->r + s - 1) / s == 3 && (d->s + s - 1) / s == 3) { *P = s; *A = 1; }
    else if (s == 1 && d->r >= 4 && d->r <= 6 && d->s >= 4 && d->s <= 6) { *P = 2; *A = 3; }
    else return 0;
    if ((int64_t)d->c * *P * *P > INT32_MAX / 9 || algo_forced("im2col")) return 0;
    if (algo_forced("winograd")) return 1;
    return isa == FC_ISA_AVX512 && !direct && (int64_t)d->c * *P * *P >= 16 && d->k >= 16;
}

fc_status fc_f32_conv2d_plan_create(const fc_conv2d_desc* desc, fc_isa isa, fc_conv2d_plan** plan)
{
    fc_clear_error();
    FC_CHECK_PTR(plan, "fc_f32_conv2d_plan_create");
    *plan = NULL;
    int32_t oh, ow;
    fc_status st = fc_conv2d_output_size(desc, &oh, &ow);
    if (st != FC_OK) return st;
    if ((st = check_sizes(desc, oh, ow)) != FC_OK) return st;
    fc_isa chosen;
    if ((st = fc_resolve_isa(isa, &chosen)) != FC_OK) return st;
    struct fc_conv2d_plan* p = calloc(1, sizeof *p);
    if (!p) return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the plan");
    p->d = *desc;
    p->isa = chosen;
    p->oh = oh;
    p->ow = ow;
    p->kd = desc->c * desc->r * desc->s;
    p->p = oh * ow;
    p->rows = malloc((size_t)p->kd * 3 * sizeof(int));
    if (!p->rows) {
        int rows = p->kd;
        free(p);
        return fc_fail(FC_ERR_OUT_OF_MEMORY, "conv2d: out of memory for the im2col row table (%d rows)", rows);
    }
    for (int row = 0; row < p->kd; row++) {
        int s = row % desc->s, r = row / desc->s % desc->r, c = row / (desc->s * desc->r);
        p->rows[3 * row] = c * desc->h * desc->w;
        p->rows[3 * row + 1] = r * desc->dilation_h - desc->pad_h;
        p->rows[3 * row + 2] = s * desc->dilation_w - desc->pad_w;
    }
    int mr, nr;
    FC_CALL_VOID(chosen, fc_gemm_tile, &mr, &nr);
    p->algo = choose_algo(desc, chosen);
    p->dw_direct = choose_dw_direct(desc, chosen, ow);
    /* Winograd numbers the tile rows of the whole batch, and those of the input planes in backward-data, with ints */
    int wino_fits = (int64_t)desc->n * ((fc_max(oh, desc->h) + 3) / 2) <= INT32_MAX / 2;
    p->wino = wino_fits && choose_wino(desc, chosen);
    p->dx_lanes = choose_dx_lanes(desc, chosen, p->wino);
    p->dw_lanes = choose_dw_lanes(desc, chosen, p->wino, p->dw_direct);
    p->y_lanes = choose_y_lanes(desc, chosen, p->wino, p->algo == FC_ALGO_DIRECT, oh * ow);
    char lanes[16]; /* the backward passes the lane kernels run */
    snprintf(lanes, sizeof lanes, "%s%s", p->dx_lanes ? "+dx-c16" : "", p->dw_lanes ? "+dw-k32" : "");
    if (wino_fits && choose_phases(desc, chosen, p->algo == FC_ALGO_DIRECT, &p->phases, &p->phase_step)) {
        int P = p->phases;
        fc_conv2d_desc sub = { desc->n, desc->c * P * P, oh + 2, ow + 2, desc->k, 3, 3, 1, 1, 0, 0, 1, 1, desc->activation };
        st = fc_f32_conv2d_plan_create(&sub, chosen, &p->s2d);
        if (st != FC_OK) {
            fc_f32_conv2d_plan_destroy(p);
            return st;
        }
        p->s2d->wino = 1;
        p->s2d->dx_lanes = p->s2d->dw_lanes = p->s2d->y_lanes = 0;
        snprintf(p->s2d->implementation, sizeof p->s2d->implementation, "native:%s:winograd-2x2-3x3-gemm-%dx%d", fc_isa_name(chosen), mr, nr);
        if (desc->stride_h > 1) {
            p->dx_lanes = p->dw_lanes = 0; /* both backward passes run on the phases (C6's filter gradient: 1.6 vs 2.1 ms) */
            snprintf(p->implementation, sizeof p->implementation, "native:%s:s2d-winograd-2x2-3x3-gemm-%dx%d", fc_isa_name(chosen), mr, nr);
        } else if (p->dx_lanes) /* backward-data runs without the phase planes */
            snprintf(p->implementation, sizeof p->implementation, "native:%s:split-winograd-2x2-3x3%s", fc_isa_name(chosen), lanes);
        else
            snprintf(p->implementation, sizeof p->implementation, "native:%s:split-winograd-2x2-3x3+im2col-gemm-%dx%d%s", fc_isa_name(chosen), mr, nr, lanes);
        p->algo = FC_ALGO_IM2COL_GEMM;
        p->dw_direct = p->y_lanes = 0;
    } else if (p->wino)
        snprintf(p->implementation, sizeof p->implementation, "native:%s:winograd-2x2-3x3-gemm-%dx%d", fc_isa_name(chosen), mr, nr);
    else if (p->algo == FC_ALGO_DIRECT) /* forward and backward-filter direct, backward-data on the GEMM */
        snprintf(p->implementation, sizeof p->implementation, "native:%s:direct-%s+im2col-gemm-%dx%d", fc_isa_name(chosen),
                 chosen == FC_ISA_AVX2 ? "6x16" : "8x32", mr, nr);
    else if (p->y_lanes)
        snprintf(p->implementation, sizeof p->implementation, "native:%s:direct-k32%s", fc_isa_name(chosen), lanes);
    else
        snprintf(p->implementation, sizeof p->implementation, "native:%s:im2col-gemm-%dx%d%s", fc_isa_name(chosen), mr, nr, lanes);
    *plan = p;
    return FC_OK;
}

void fc_f32_conv2d_plan_destroy(fc_conv2d_plan* plan)
{
    if (!plan) return;
    fc_f32_conv2d_plan_destroy(plan->s2d);
    free(plan->rows);
    free(plan);
}

const char* fc_f32_conv2d_plan_implementation(const fc_conv2d_plan* plan) { return plan ? plan->implementation : ""; }

static fc_status finish(int rc, const char* op)
{
    if (rc == FC_ERR_OUT_OF_MEMORY) return fc_fail(FC_ERR_OUT_OF_MEMORY, "%s: out of memory for scratch buffers", op);
    return (fc_status)rc;
}

fc_status fc_f32_conv2d_fwd(fc_conv2d_plan* plan, const float* x, const float* w, const float* bias, float* y)
{
    const char* op = "fc_f32_conv2d_fwd";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(x, op); FC_CHECK_PTR(w, op); FC_CHECK_PTR(y, op);
    return finish(FC_CALL(plan->isa, fc_f32_conv2d_fwd, plan, x, w, bias, y), op);
}

fc_status fc_f32_conv2d_bwd_data(fc_conv2d_plan* plan, const float* dy, const float* w, float* dx)
{
    const char* op = "fc_f32_conv2d_bwd_data";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(w, op); FC_CHECK_PTR(dx, op);
    return finish(FC_CALL(plan->isa, fc_f32_conv2d_bwd_data, plan, dy, w, dx), op);
}

fc_status fc_f32_conv2d_bwd_filter(fc_conv2d_plan* plan, const float* x, const float* dy, float* dw, float* dbias)
{
    const char* op = "fc_f32_conv2d_bwd_filter";
    fc_clear_error();
    FC_CHECK_PTR(plan, op); FC_CHECK_PTR(x, op); FC_CHECK_PTR(dy, op); FC_CHECK_PTR(dw, op);
    return finish(FC_CALL(plan->isa, fc_f32_conv2d_bwd_filter, plan, x, dy, dw, dbias), op);
}
