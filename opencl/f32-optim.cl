// Optimizer updates, OpenCL C 1.2, with the reference's formulas; one work-item per weight.
//
// No contraction into fma: g + wd w is rounded twice, as the reference (and C#) rounds it. Adam divides by
// sqrt(v) ~ |g + wd w|, so when that sum nearly cancels, the one rounding's difference is amplified by
// m / (g + wd w)^2 (fuzz api opencl, seed 2, case 7599: -114.958 against the reference's -114.899).
#pragma OPENCL FP_CONTRACT OFF

// PyTorch's SGD: g' = g + wd w; v = mu v + g'; w -= lr (nesterov ? g' + mu v : v)
__kernel void fc_f32_sgd_update(long total, float lr, float momentum, float weight_decay, int nesterov,
                                __global float* w, __global const float* g, __global float* v)
{
    long i = get_global_id(0);
    if (i >= total) return;
    float grad = g[i] + weight_decay * w[i];
    float vi = momentum * v[i] + grad;
    v[i] = vi;
    w[i] -= lr * (nesterov ? grad + momentum * vi : vi);
}

// Adam with bias corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t computed by the host
__kernel void fc_f32_adam_update(long total, float lr, float beta1, float beta2, float epsilon, float c1, float c2,
                                 float weight_decay, __global float* w, __global const float* g, __global float* m,
                                 __global float* v)
{
    long i = get_global_id(0);
    if (i >= total) return;
    float grad = g[i] + weight_decay * w[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * grad;
    float vi = beta2 * v[i] + (1.0f - beta2) * grad * grad;
    m[i] = mi;
    v[i] = vi;
    w[i] -= lr * (mi / c1) / (sqrt(vi / c2) + epsilon);
}
