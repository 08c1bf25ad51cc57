// Pooling, OpenCL C 1.2. One work-item per output (forward) or per input element (backward, a gather: no two
// work-items write the same dx, so no atomics). Max pooling takes the first maximum in scan order and ignores
// padding; backward adds, in order of the outputs, every dy whose window's first maximum is this element, so the
// result equals the reference bit for bit. Average pooling divides by kernel_h*kernel_w.

// geometry: n c h w kh kw sh sw ph pw oh ow
#define P_H g[2]
#define P_W g[3]
#define P_KH g[4]
#define P_KW g[5]
#define P_SH g[6]
#define P_SW g[7]
#define P_PH g[8]
#define P_PW g[9]
#define P_OH g[10]
#define P_OW g[11]

// index in the plane of the window's first maximum
inline int first_max(__global const float* xp, __constant int* g, int oh, int ow)
{
    int best = -1;
    float bv = 0.0f;
    for (int i = 0; i < P_KH; i++) {
        int ih = oh * P_SH - P_PH + i;
        if (ih < 0 || ih >= P_H) continue;
        for (int j = 0; j < P_KW; j++) {
            int iw = ow * P_SW - P_PW + j;
            if (iw < 0 || iw >= P_W) continue;
            float v = xp[ih * P_W + iw];
            if (best < 0 || v > bv) { best = ih * P_W + iw; bv = v; }
        }
    }
    return best;
}

// global (OH*OW, N*C)
__kernel void fc_f32_maxpool2d_fwd(__constant int* g, __global const float* x, __global float* y)
{
    int o = get_global_id(0), plane = get_global_id(1);
    if (o >= P_OH * P_OW) return;
    __global const float* xp = x + (long)plane * P_H * P_W;
    y[(long)plane * P_OH * P_OW + o] = xp[first_max(xp, g, o / P_OW, o % P_OW)];
}

// the outputs whose windows cover input (ih, iw), as [oh0, oh1] x [ow0, ow1]; the first is a ceiling division in 64 bits:
// th - k + stride passes 2^31 for strides near INT_MAX, and wrapped it made oh0 0 for inputs no window covers (the API
// fuzzer's opencl case 1768: average-pool backward gave such inputs window 0's gradient)
inline void covering(__constant int* g, int ih, int iw, int* oh0, int* oh1, int* ow0, int* ow1)
{
    int th = ih + P_PH, tw = iw + P_PW;
    *oh0 = th - P_KH + 1 <= 0 ? 0 : (int)(((long)th - P_KH + P_SH) / P_SH);
    *oh1 = min(th / P_SH, P_OH - 1);
    *ow0 = tw - P_KW + 1 <= 0 ? 0 : (int)(((long)tw - P_KW + P_SW) / P_SW);
    *ow1 = min(tw / P_SW, P_OW - 1);
}

// global (H*W, N*C)
__kernel void fc_f32_maxpool2d_bwd(__constant int* g, __global const float* x, __global const float* dy, __global float* dx)
{
    int e = get_global_id(0), plane = get_global_id(1);
    if (e >= P_H * P_W) return;
    __global const float* xp = x + (long)plane * P_H * P_W;
    __global const float* gp = dy + (long)plane * P_OH * P_OW;
    int ih = e / P_W, iw = e % P_W, oh0, oh1, ow0, ow1;
    covering(g, ih, iw, &oh0, &oh1, &ow0, &ow1);
    float acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++)
            if (first_max(xp, g, oh, ow) == e) acc += gp[oh * P_OW + ow];
    dx[(long)plane * P_H * P_W + e] = acc;
}

__kernel void fc_f32_avgpool2d_fwd(__constant int* g, __global const float* x, __global float* y)
{
    int o = get_global_id(0), plane = get_global_id(1);
    if (o >= P_OH * P_OW) return;
    __global const float* xp = x + (long)plane * P_H * P_W;
    int oh = o / P_OW, ow = o % P_OW;
    float acc = 0.0f;
    for (int i = 0; i < P_KH; i++) {
        int ih = oh * P_SH - P_PH + i;
        if (ih < 0 || ih >= P_H) continue;
        for (int j = 0; j < P_KW; j++) {
            int iw = ow * P_SW - P_PW + j;
            if (iw >= 0 && iw < P_W) acc += xp[ih * P_W + iw];
        }
    }
    y[(long)plane * P_OH * P_OW + o] = acc / (float)(P_KH * P_KW);
}

__kernel void fc_f32_avgpool2d_bwd(__constant int* g, __global const float* dy, __global float* dx)
{
    int e = get_global_id(0), plane = get_global_id(1);
    if (e >= P_H * P_W) return;
    __global const float* gp = dy + (long)plane * P_OH * P_OW;
    int ih = e / P_W, iw = e % P_W, oh0, oh1, ow0, ow1;
    covering(g, ih, iw, &oh0, &oh1, &ow0, &ow1);
    float area = (float)(P_KH * P_KW), acc = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++)
        for (int ow = ow0; ow <= ow1; ow++) acc += gp[oh * P_OW + ow] / area;
    dx[(long)plane * P_H * P_W + e] = acc;
}

// y[i] = mean of plane i (N*C planes of hw); global (N*C)
__kernel void fc_f32_global_avgpool2d_fwd(int planes, int hw, __global const float* x, __global float* y)
{
    int i = get_global_id(0);
    if (i >= planes) return;
    float s = 0.0f;
    for (int p = 0; p < hw; p++) s += x[(long)i * hw + p];
    y[i] = s / (float)hw;
}

// global (N*C*hw)
__kernel void fc_f32_global_avgpool2d_bwd(long total, int hw, __global const float* dy, __global float* dx)
{
    long i = get_global_id(0);
    if (i >= total) return;
    dx[i] = dy[i / hw] / (float)hw;
}
