// Spatial batch norm over (N, H*W) per channel, OpenCL C 1.2, with the reference's formulas. Reductions: one
// work-item per channel; the per-element passes: one work-item per element.

// batch mean and 1/sqrt(var + eps) per channel, running statistics updated (unbiased variance); global (C)
__kernel void fc_f32_batchnorm_stats(int n, int c, int hw, float momentum, float epsilon, __global const float* x,
                                     __global float* save_mean, __global float* save_inv_std,
                                     __global float* running_mean, __global float* running_var)
{
    int ch = get_global_id(0);
    if (ch >= c) return;
    float m = (float)n * hw, sum = 0.0f;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) sum += x[((long)i * c + ch) * hw + p];
    float mean = sum / m, sq = 0.0f;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) {
            float d = x[((long)i * c + ch) * hw + p] - mean;
            sq += d * d;
        }
    float var = sq / m;
    save_mean[ch] = mean;
    save_inv_std[ch] = 1.0f / sqrt(var + epsilon);
    float unbiased = m > 1.0f ? var * m / (m - 1.0f) : var;
    running_mean[ch] = (1.0f - momentum) * running_mean[ch] + momentum * mean;
    running_var[ch] = (1.0f - momentum) * running_var[ch] + momentum * unbiased;
}

// y = gamma (x - mean) inv_std + beta with per-channel mean and inv_std; global (N*C*hw)
__kernel void fc_f32_batchnorm_apply(long total, int c, int hw, __global const float* x, __global const float* gamma,
                                     __global const float* beta, __global const float* mean, __global const float* inv_std,
                                     __global float* y)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    y[i] = gamma[ch] * (x[i] - mean[ch]) * inv_std[ch] + beta[ch];
}

// inference: inv_std from the running variance; global (N*C*hw)
__kernel void fc_f32_batchnorm_fwd_infer(long total, int c, int hw, float epsilon, __global const float* x,
                                         __global const float* gamma, __global const float* beta,
                                         __global const float* running_mean, __global const float* running_var,
                                         __global float* y)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    y[i] = gamma[ch] * (x[i] - running_mean[ch]) * (1.0f / sqrt(running_var[ch] + epsilon)) + beta[ch];
}

// dbeta = sum dy, dgamma = sum dy * xhat per channel; global (C)
__kernel void fc_f32_batchnorm_bwd_reduce(int n, int c, int hw, __global const float* x, __global const float* dy,
                                          __global const float* mean, __global const float* inv_std,
                                          __global float* dgamma, __global float* dbeta)
{
    int ch = get_global_id(0);
    if (ch >= c) return;
    float s = 0.0f, sx = 0.0f;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) {
            long idx = ((long)i * c + ch) * hw + p;
            s += dy[idx];
            sx += dy[idx] * (x[idx] - mean[ch]) * inv_std[ch];
        }
    dbeta[ch] = s;
    dgamma[ch] = sx;
}

// dx = gamma inv_std / M (M dy - dbeta - xhat dgamma); global (N*C*hw)
__kernel void fc_f32_batchnorm_bwd_data(long total, int c, int hw, float m, __global const float* x, __global const float* dy,
                                        __global const float* gamma, __global const float* mean,
                                        __global const float* inv_std, __global const float* dgamma,
                                        __global const float* dbeta, __global float* dx)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    float xhat = (x[i] - mean[ch]) * inv_std[ch];
    dx[i] = gamma[ch] * inv_std[ch] / m * (m * dy[i] - dbeta[ch] - xhat * dgamma[ch]);
}
