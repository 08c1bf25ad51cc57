using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace FastConv.Backends.Managed;

/// <summary>
/// The managed backend's kernels of every op but convolution, pooling and GEMM: <see cref="TensorPrimitives"/> on host
/// memory, arguments already checked. They are <see cref="HostBackend"/>'s default kernels: the native backend runs them
/// for the ops its C library has no kernel for.
/// </summary>
internal static unsafe class ManagedKernels
{
    private static Span<float> S(float* p, long n) => new(p, checked((int)n));

    public static void BiasAddForward(int n, int c, int inner, float* x, float* bias)
    {
        for (long row = 0; row < (long)n * c; row++)
        {
            var r = S(x + row * inner, inner);
            TensorPrimitives.Add(r, bias[row % c], r);
        }
    }

    public static void BiasAddBackward(int n, int c, int inner, float* dy, float* dbias)
    {
        for (int ch = 0; ch < c; ch++)
        {
            float s = 0f;
            for (int i = 0; i < n; i++) s += TensorPrimitives.Sum(S(dy + ((long)i * c + ch) * inner, inner));
            dbias[ch] = s;
        }
    }

    public static void ReluForward(ReadOnlySpan<float> x, Span<float> y) => TensorPrimitives.Max(x, 0f, y);

    public static void ReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        // No TensorPrimitives op selects by a mask; this is the one hand-written element-wise loop.
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            fixed (float* px = x, pdy = dy, pdx = dx)
                for (; i + 16 <= x.Length; i += 16)
                    Vector512.Store(Vector512.ConditionalSelect(Vector512.GreaterThan(Vector512.Load(px + i), Vector512<float>.Zero),
                        Vector512.Load(pdy + i), Vector512<float>.Zero), pdx + i);
        for (; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : 0f;
    }

    /// <summary>part [n, partChannels, inner] to (or from) channels [offset, …) of whole [n, wholeChannels, inner]: one
    /// contiguous block of partChannels·inner floats per image.</summary>
    public static void Concat(int n, int inner, float* part, int partChannels, float* whole, int wholeChannels, int offset, bool toWhole)
    {
        long block = (long)partChannels * inner;
        for (long i = 0; i < n; i++)
        {
            float* p = part + i * block, w = whole + (i * wholeChannels + offset) * inner;
            if (toWhole) Buffer.MemoryCopy(p, w, block * sizeof(float), block * sizeof(float));
            else Buffer.MemoryCopy(w, p, block * sizeof(float), block * sizeof(float));
        }
    }

    public static void GlobalAvgPool2dForward(int n, int c, int hw, float* x, float* y)
    {
        for (long i = 0; i < (long)n * c; i++) y[i] = TensorPrimitives.Sum(S(x + i * hw, hw)) / hw;
    }

    public static void GlobalAvgPool2dBackward(int n, int c, int hw, float* dy, float* dx)
    {
        for (long i = 0; i < (long)n * c; i++) S(dx + i * hw, hw).Fill(dy[i] / hw);
    }

    public static void BatchNormForwardTraining(int n, int c, int hw, HostBackend.BatchNormPointers p, float momentum, float epsilon, bool relu = false)
    {
        float m = (float)n * hw;
        for (int ch = 0; ch < c; ch++)
        {
            float sum = 0f;
            for (int i = 0; i < n; i++) sum += TensorPrimitives.Sum(S(p.X + ((long)i * c + ch) * hw, hw));
            float mean = sum / m, sq = 0f;
            for (int i = 0; i < n; i++)
            {
                long o = ((long)i * c + ch) * hw;
                TensorPrimitives.Subtract(S(p.X + o, hw), mean, S(p.Y + o, hw));       // y holds x − μ for now
                sq += TensorPrimitives.SumOfSquares(S(p.Y + o, hw));
            }
            float var = sq / m, invStd = 1f / MathF.Sqrt(var + epsilon), scale = p.Gamma[ch] * invStd;
            for (int i = 0; i < n; i++)
            {
                var y = S(p.Y + ((long)i * c + ch) * hw, hw);
                ScaleShift(y, scale, p.Beta[ch]);
                if (relu) ReluForward(y, y);   // while the plane is in L1
            }
            p.SaveMean[ch] = mean;
            p.SaveInvStd[ch] = invStd;
            float unbiased = m > 1 ? var * m / (m - 1) : var;
            p.RunningMean[ch] = (1 - momentum) * p.RunningMean[ch] + momentum * mean;
            p.RunningVar[ch] = (1 - momentum) * p.RunningVar[ch] + momentum * unbiased;
        }
    }

    /// <summary>t = t·scale + shift, in that order: the training forward's last step from x − μ, which the backward's
    /// ReLU mask repeats, so both round alike.</summary>
    private static void ScaleShift(Span<float> t, float scale, float shift)
    {
        TensorPrimitives.Multiply(t, scale, t);
        TensorPrimitives.Add(t, shift, t);
    }

    public static void BatchNormForwardInference(int n, int c, int hw, HostBackend.BatchNormPointers p, float epsilon, bool relu = false)
    {
        for (int ch = 0; ch < c; ch++)
        {
            float scale = p.Gamma[ch] / MathF.Sqrt(p.RunningVar[ch] + epsilon), shift = p.Beta[ch] - p.RunningMean[ch] * scale;
            for (int i = 0; i < n; i++)
            {
                long o = ((long)i * c + ch) * hw;
                TensorPrimitives.Multiply(S(p.X + o, hw), scale, S(p.Y + o, hw));
                TensorPrimitives.Add(S(p.Y + o, hw), shift, S(p.Y + o, hw));
                if (relu) ReluForward(S(p.Y + o, hw), S(p.Y + o, hw));
            }
        }
    }

    /// <summary><paramref name="reluBeta"/> non-null: dy is first masked where the training forward's
    /// (x − μ)·(γσ⁻¹) + β, recomputed plane by plane with the forward's own operations, was not positive.</summary>
    public static void BatchNormBackward(int n, int c, int hw, float* x, float* dy, float* gamma, float* reluBeta, float* saveMean,
                                         float* saveInvStd, float* dx, float* dgamma, float* dbeta)
    {
        float m = (float)n * hw;
        // per plane: the forward's y before max(0, ·), then the masked gradient
        float[]? pre = reluBeta is null ? null : System.Buffers.ArrayPool<float>.Shared.Rent(hw);
        float[]? masked = reluBeta is null ? null : System.Buffers.ArrayPool<float>.Shared.Rent(hw);
        try
        {
            for (int ch = 0; ch < c; ch++)
            {
                float mean = saveMean[ch], invStd = saveInvStd[ch], sumDy = 0f, dot = 0f;
                // the gradient of this plane: dy, or dy masked by the forward's output (its y before max(0, ·), as the forward rounded it)
                ReadOnlySpan<float> G(long o)
                {
                    if (masked is null) return S(dy + o, hw);
                    Span<float> t = pre.AsSpan(0, hw), g = masked.AsSpan(0, hw);
                    TensorPrimitives.Subtract(S(x + o, hw), mean, t);
                    ScaleShift(t, gamma[ch] * invStd, reluBeta[ch]);
                    ReluBackward(t, S(dy + o, hw), g);
                    return g;
                }
                for (int i = 0; i < n; i++)
                {
                    long o = ((long)i * c + ch) * hw;
                    var g = G(o);
                    TensorPrimitives.Subtract(S(x + o, hw), mean, S(dx + o, hw));           // dx holds x − μ for now
                    sumDy += TensorPrimitives.Sum(g);
                    dot += TensorPrimitives.Dot(g, S(dx + o, hw));
                }
                float sumDyXhat = dot * invStd, scale = gamma[ch] * invStd / m;
                dbeta[ch] = sumDy;
                dgamma[ch] = sumDyXhat;
                // dx = scale·(m·g − Σg − x̂·Σg·x̂) with x̂ = (x − μ)·σ⁻¹
                float cx = -scale * invStd * sumDyXhat, cdy = scale * m, c0 = -scale * sumDy;
                for (int i = 0; i < n; i++)
                {
                    long o = ((long)i * c + ch) * hw;
                    var d = S(dx + o, hw);
                    TensorPrimitives.Multiply(d, cx, d);
                    TensorPrimitives.Add(d, c0, d);
                    TensorPrimitives.MultiplyAdd(G(o), cdy, d, d);
                }
            }
        }
        finally
        {
            if (masked is not null) System.Buffers.ArrayPool<float>.Shared.Return(masked);
            if (pre is not null) System.Buffers.ArrayPool<float>.Shared.Return(pre);
        }
    }

    public static void DropoutForward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float p, ulong seed)
    {
        float scale = 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = Dropout.Keep(seed, i, p) ? scale : 0f;
        TensorPrimitives.Multiply(x, mask, y);
    }

    public static void DropoutBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx) =>
        TensorPrimitives.Multiply(dy, mask, dx);

    public static float SoftmaxCrossEntropyForward(int n, int k, float* logits, ReadOnlySpan<int> labels, float* probs)
    {
        float loss = 0f;
        for (int i = 0; i < n; i++)
        {
            var row = S(logits + (long)i * k, k);
            var pr = S(probs + (long)i * k, k);
            TensorPrimitives.Subtract(row, TensorPrimitives.Max(row), pr);
            TensorPrimitives.Exp(pr, pr);
            TensorPrimitives.Divide(pr, TensorPrimitives.Sum(pr), pr);
            loss -= MathF.Log(pr[labels[i]]);
        }
        return loss / n;
    }

    public static void SoftmaxCrossEntropyBackward(int n, int k, float* probs, ReadOnlySpan<int> labels, float* dlogits)
    {
        float invN = 1f / n;
        TensorPrimitives.Multiply(S(probs, (long)n * k), invN, S(dlogits, (long)n * k));
        for (int i = 0; i < n; i++) dlogits[(long)i * k + labels[i]] = (probs[(long)i * k + labels[i]] - 1f) * invN;
    }

    public static void SgdMomentumUpdate(Span<float> w, ReadOnlySpan<float> g, Span<float> v, float lr, float momentum, float weightDecay, bool nesterov)
    {
        // v = μ·v + g + wd·w
        TensorPrimitives.MultiplyAdd(v, momentum, g, v);
        if (weightDecay != 0f) TensorPrimitives.MultiplyAdd(w, weightDecay, v, v);
        if (!nesterov) { TensorPrimitives.MultiplyAdd(v, -lr, w, w); return; }
        // w −= lr·(g + wd·w + μ·v)
        if (weightDecay != 0f) TensorPrimitives.Multiply(w, 1f - lr * weightDecay, w);
        TensorPrimitives.MultiplyAdd(g, -lr, w, w);
        TensorPrimitives.MultiplyAdd(v, -lr * momentum, w, w);
    }

    public static void AdamUpdate(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
                                           float lr, float beta1, float beta2, float epsilon, int step, float weightDecay)
    {
        var t = S(Scratch.Get(Scratch.Slot.Elementwise, w.Length), w.Length);
        if (weightDecay != 0f) TensorPrimitives.MultiplyAdd(w, weightDecay, g, t); else g.CopyTo(t);   // t = g'
        TensorPrimitives.Multiply(m, beta1, m);
        TensorPrimitives.MultiplyAdd(t, 1f - beta1, m, m);                                            // m = β1·m + (1−β1)·g'
        TensorPrimitives.Multiply(t, t, t);
        TensorPrimitives.Multiply(t, 1f - beta2, t);
        TensorPrimitives.MultiplyAdd(v, beta2, t, v);                                                 // v = β2·v + (1−β2)·g'²
        float c1 = 1f - MathF.Pow(beta1, step), c2 = 1f - MathF.Pow(beta2, step);
        TensorPrimitives.Multiply(v, 1f / c2, t);
        TensorPrimitives.Sqrt(t, t);
        TensorPrimitives.Add(t, epsilon, t);
        TensorPrimitives.Divide(m, t, t);
        TensorPrimitives.MultiplyAdd(t, -lr / c1, w, w);                                              // w −= lr·m̂/(√v̂ + ε)
    }
}
