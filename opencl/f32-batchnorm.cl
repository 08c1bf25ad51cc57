// Spatial batch norm over (N, H*W) per channel, OpenCL C 1.2, with the reference's formulas. Reductions: one
// work-item per channel; the per-element passes: one work-item per element.

// No contraction into fma: the backward's ReLU mask recomputes the forward's y in another kernel, and must round alike.
#pragma OPENCL FP_CONTRACT OFF

// relu (0 or 1) in the per-element passes: the forward writes max(0, y) (x > 0 ? x : 0, as fc_f32_relu_fwd), and the
// backward masks dy where the training forward's y, recomputed by bn_y exactly as it computed it, was not positive.
inline float bn_y(float x, float gamma, float beta, float mean, float inv_std) { return gamma * (x - mean) * inv_std + beta; }
inline float bn_relu(float y, int relu) { return relu && !(y > 0.0f) ? 0.0f : y; }
inline float bn_grad(long i, int ch, int relu, __global const float* x, __global const float* dy, __global const float* gamma,
                     __global const float* beta, __global const float* mean, __global const float* inv_std)
{
    return relu && !(bn_y(x[i], gamma[ch], beta[ch], mean[ch], inv_std[ch]) > 0.0f) ? 0.0f : dy[i];
}

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
__kernel void fc_f32_batchnorm_apply(long total, int c, int hw, int relu, __global const float* x, __global const float* gamma,
                                     __global const float* beta, __global const float* mean, __global const float* inv_std,
                                     __global float* y)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    y[i] = bn_relu(bn_y(x[i], gamma[ch], beta[ch], mean[ch], inv_std[ch]), relu);
}

// inference: inv_std from the running variance; global (N*C*hw)
__kernel void fc_f32_batchnorm_fwd_infer(long total, int c, int hw, int relu, float epsilon, __global const float* x,
                                         __global const float* gamma, __global const float* beta,
                                         __global const float* running_mean, __global const float* running_var,
                                         __global float* y)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    y[i] = bn_relu(gamma[ch] * (x[i] - running_mean[ch]) * (1.0f / sqrt(running_var[ch] + epsilon)) + beta[ch], relu);
}

// dbeta = sum dy, dgamma = sum dy * xhat per channel; global (C)
__kernel void fc_f32_batchnorm_bwd_reduce(int n, int c, int hw, int relu, __global const float* x, __global const float* dy,
                                          __global const float* gamma, __global const float* beta,
                                          __global const float* mean, __global const float* inv_std,
                                          __global float* dgamma, __global float* dbeta)
{
    int ch = get_global_id(0);
    if (ch >= c) return;
    float s = 0.0f, sx = 0.0f;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++) {
            long idx = ((long)i * c + ch) * hw + p;
            float g = bn_grad(idx, ch, relu, x, dy, gamma, beta, mean, inv_std);
            s += g;
            sx += g * (x[idx] - mean[ch]) * inv_std[ch];
        }
    dbeta[ch] = s;
    dgamma[ch] = sx;
}

// dx = gamma inv_std / M (M dy - dbeta - xhat dgamma); global (N*C*hw)
__kernel void fc_f32_batchnorm_bwd_data(long total, int c, int hw, int relu, float m, __global const float* x, __global const float* dy,
                                        __global const float* gamma, __global const float* beta, __global const float* mean,
                                        __global const float* inv_std, __global const float* dgamma,
                                        __global const float* dbeta, __global float* dx)
{
    long i = get_global_id(0);
    if (i >= total) return;
    int ch = (int)((i / hw) % c);
    float xhat = (x[i] - mean[ch]) * inv_std[ch];
    float g = bn_grad(i, ch, relu, x, dy, gamma, beta, mean, inv_std);
    dx[i] = gamma[ch] * inv_std[ch] / m * (m * g - dbeta[ch] - xhat * dgamma[ch]);
}
