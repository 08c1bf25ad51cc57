// Element-wise ops, OpenCL C 1.2; one work-item per element unless said otherwise.

// x [N, C, inner] += bias [C]
__kernel void fc_f32_bias_add_fwd(long total, int c, long inner, __global float* x, __global const float* bias)
{
    long i = get_global_id(0);
    if (i < total) x[i] += bias[(i / inner) % c];
}

// dbias [C] = sum over N and inner of dy; one work-item per channel, images in order, 16 lanes at a time
__kernel void fc_f32_bias_add_bwd(int n, int c, long inner, __global const float* dy, __global float* dbias)
{
    int ch = get_global_id(0);
    if (ch >= c) return;
    float s = 0.0f;
    for (int i = 0; i < n; i++) {
        __global const float* r = dy + ((long)i * c + ch) * inner;
        float16 acc = (float16)(0.0f);
        long p = 0;
        for (; p + 16 <= inner; p += 16) acc += vload16(0, r + p);
        float t[16];
        vstore16(acc, 0, t);
        float part = 0.0f;
        for (int j = 0; j < 16; j++) part += t[j];
        for (; p < inner; p++) part += r[p];
        s += part;
    }
    dbias[ch] = s;
}

__kernel void fc_f32_relu_fwd(long total, __global const float* x, __global float* y)
{
    long i = get_global_id(0);
    if (i < total) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__kernel void fc_f32_relu_bwd(long total, __global const float* x, __global const float* dy, __global float* dx)
{
    long i = get_global_id(0);
    if (i < total) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

// the dropout mask of FastConv.Dropout: SplitMix64's finaliser of seed + golden * (i + 1), top 24 bits as [0, 1)
inline float dropout_uniform(ulong seed, long index)
{
    ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(index + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

__kernel void fc_f32_dropout_fwd(long total, float p, float scale, ulong seed, __global const float* x, __global float* y,
                                 __global float* mask)
{
    long i = get_global_id(0);
    if (i >= total) return;
    float m = dropout_uniform(seed, i) >= p ? scale : 0.0f;
    mask[i] = m;
    y[i] = x[i] * m;
}

__kernel void fc_f32_dropout_bwd(long total, __global const float* dy, __global const float* mask, __global float* dx)
{
    long i = get_global_id(0);
    if (i < total) dx[i] = dy[i] * mask[i];
}

// the ops of EltwiseOps (C#) and FC_F32_ELTWISE_OPS (fastconv.h), by the same names
__kernel void fc_f32_leaky_relu_fwd(long total, __global const float* x, __global float* y, float alpha)
{
    long i = get_global_id(0);
    if (i < total) y[i] = x[i] > 0.0f ? x[i] : alpha * x[i];
}

__kernel void fc_f32_leaky_relu_bwd(long total, __global const float* x, __global const float* dy, __global float* dx, float alpha)
{
    long i = get_global_id(0);
    if (i < total) dx[i] = x[i] > 0.0f ? dy[i] : alpha * dy[i];
}

// y = a + alpha * b (the residual join with alpha = 1); y may be a or b
__kernel void fc_f32_add(long total, __global const float* x, __global const float* dy, __global float* y, float alpha)
{
    long i = get_global_id(0);
    if (i < total) y[i] = x[i] + alpha * dy[i];
}

// channel concatenation: part [n, pc, inner] into channels [offset, offset + pc) of whole [n, wc, inner]
__kernel void fc_f32_concat_fwd(long total, int pc, int wc, int offset, long inner, __global const float* part, __global float* whole)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long block = (long)pc * inner, img = i / block, r = i % block;
    whole[(img * wc + offset) * inner + r] = part[i];
}

// its backward, a split: those channels of whole back into part
__kernel void fc_f32_concat_bwd(long total, int pc, int wc, int offset, long inner, __global float* part, __global const float* whole)
{
    long i = get_global_id(0);
    if (i >= total) return;
    long block = (long)pc * inner, img = i / block, r = i % block;
    part[i] = whole[(img * wc + offset) * inner + r];
}
