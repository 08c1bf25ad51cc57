// Softmax cross-entropy, OpenCL C 1.2; one work-item per row. Labels are class indices stored as floats; a label
// that is not a whole number in [0, K) sets bad[0] to 1 + its row (the first such row) and the host reports it.

__kernel void fc_f32_softmax_xent_fwd(int n, int k, __global const float* logits, __global const float* labels,
                                      __global float* probs, __global float* row_loss, __global int* bad)
{
    int i = get_global_id(0);
    if (i >= n) return;
    __global const float* z = logits + (long)i * k;
    __global float* pr = probs + (long)i * k;
    float mx = z[0];
    for (int j = 1; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    float sum = 0.0f;
    for (int j = 0; j < k; j++) { pr[j] = exp(z[j] - mx); sum += pr[j]; }
    for (int j = 0; j < k; j++) pr[j] /= sum;
    float lab = labels[i];
    if (!(lab >= 0.0f && lab < (float)k) || lab != floor(lab)) {
        atomic_min(bad, i + 1);
        row_loss[i] = 0.0f;
        return;
    }
    row_loss[i] = -log(pr[(int)lab]);
}

// dlogits = (probs - onehot(labels)) / n; global (n*k); labels checked as in forward
__kernel void fc_f32_softmax_xent_bwd(int n, int k, __global const float* probs, __global const float* labels,
                                      __global float* dlogits, __global int* bad)
{
    long e = get_global_id(0);
    if (e >= (long)n * k) return;
    int i = (int)(e / k), j = (int)(e % k);
    float lab = labels[i];
    if (!(lab >= 0.0f && lab < (float)k) || lab != floor(lab)) {
        atomic_min(bad, i + 1);
        dlogits[e] = 0.0f;
        return;
    }
    float inv_n = 1.0f / (float)n;
    dlogits[e] = (probs[e] - (j == (int)labels[i] ? 1.0f : 0.0f)) * inv_n;
}
