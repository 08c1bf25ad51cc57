using System.Numerics;

namespace FastConv.Backends.Reference;

/// <summary>
/// The oracle: every op as naive loops that read like the CS231n formulas, written once over
/// <c>T : IFloatingPoint&lt;T&gt;</c> so the same code runs in double for gradient checks and in float for parity.
/// No blocking, no SIMD, no cleverness. Never delete it.
/// </summary>
public static class ReferenceKernels
{
    // ---- convolution: y[n,k,oh,ow] = b[k] + Σ_{c,r,s} x[n,c,oh·sh − ph + r·dh, ow·sw − pw + s·dw] · w[k,c,r,s]

    public static void Conv2dForward<T>(in Conv2dDesc d, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y)
        where T : IFloatingPoint<T>
    {
        for (int n = 0; n < d.N; n++)
        for (int k = 0; k < d.K; k++)
        for (int oh = 0; oh < d.OutH; oh++)
        for (int ow = 0; ow < d.OutW; ow++)
        {
            T acc = T.Zero;
            for (int c = 0; c < d.C; c++)
            for (int r = 0; r < d.R; r++)
            for (int s = 0; s < d.S; s++)
            {
                int ih = oh * d.StrideH - d.PadH + r * d.DilationH;
                int iw = ow * d.StrideW - d.PadW + s * d.DilationW;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;   // zero padding
                acc += x[((n * d.C + c) * d.H + ih) * d.W + iw] * w[((k * d.C + c) * d.R + r) * d.S + s];
            }
            if (!bias.IsEmpty) acc += bias[k];
            if (d.Activation == Activation.Relu && acc < T.Zero) acc = T.Zero;
            y[((n * d.K + k) * d.OutH + oh) * d.OutW + ow] = acc;
        }
    }

    /// <summary>dx[n,c,ih,iw] = Σ dy[n,k,oh,ow] · w[k,c,r,s] over every (k, oh, ow, r, s) whose window covers (ih, iw).</summary>
    public static void Conv2dBackwardData<T>(in Conv2dDesc d, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx)
        where T : IFloatingPoint<T>
    {
        dx.Clear();
        for (int n = 0; n < d.N; n++)
        for (int k = 0; k < d.K; k++)
        for (int oh = 0; oh < d.OutH; oh++)
        for (int ow = 0; ow < d.OutW; ow++)
        {
            T g = dy[((n * d.K + k) * d.OutH + oh) * d.OutW + ow];
            for (int c = 0; c < d.C; c++)
            for (int r = 0; r < d.R; r++)
            for (int s = 0; s < d.S; s++)
            {
                int ih = oh * d.StrideH - d.PadH + r * d.DilationH;
                int iw = ow * d.StrideW - d.PadW + s * d.DilationW;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                dx[((n * d.C + c) * d.H + ih) * d.W + iw] += g * w[((k * d.C + c) * d.R + r) * d.S + s];
            }
        }
    }

    /// <summary>dw[k,c,r,s] = Σ_{n,oh,ow} dy[n,k,oh,ow] · x[n,c,ih,iw]; dbias[k] = Σ_{n,oh,ow} dy[n,k,oh,ow].</summary>
    public static void Conv2dBackwardFilter<T>(in Conv2dDesc d, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw, Span<T> dbias)
        where T : IFloatingPoint<T>
    {
        for (int k = 0; k < d.K; k++)
        for (int c = 0; c < d.C; c++)
        for (int r = 0; r < d.R; r++)
        for (int s = 0; s < d.S; s++)
        {
            T acc = T.Zero;
            for (int n = 0; n < d.N; n++)
            for (int oh = 0; oh < d.OutH; oh++)
            for (int ow = 0; ow < d.OutW; ow++)
            {
                int ih = oh * d.StrideH - d.PadH + r * d.DilationH;
                int iw = ow * d.StrideW - d.PadW + s * d.DilationW;
                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                acc += dy[((n * d.K + k) * d.OutH + oh) * d.OutW + ow] * x[((n * d.C + c) * d.H + ih) * d.W + iw];
            }
            dw[((k * d.C + c) * d.R + r) * d.S + s] = acc;
        }
        if (dbias.IsEmpty) return;
        for (int k = 0; k < d.K; k++)
        {
            T acc = T.Zero;
            for (int n = 0; n < d.N; n++)
            for (int p = 0; p < d.OutH * d.OutW; p++)
                acc += dy[(n * d.K + k) * d.OutH * d.OutW + p];
            dbias[k] = acc;
        }
    }

    /// <summary>The CS231n im2col: column p = oh·OW + ow of image n holds its receptive field, row (c·R + r)·S + s.
    /// cols is [C·R·S, OH·OW]; padding reads as zero.</summary>
    public static void Im2Col<T>(in Conv2dDesc d, int n, ReadOnlySpan<T> x, Span<T> cols) where T : IFloatingPoint<T>
    {
        int p = d.OutH * d.OutW;
        for (int c = 0; c < d.C; c++)
        for (int r = 0; r < d.R; r++)
        for (int s = 0; s < d.S; s++)
        for (int oh = 0; oh < d.OutH; oh++)
        for (int ow = 0; ow < d.OutW; ow++)
        {
            int ih = oh * d.StrideH - d.PadH + r * d.DilationH;
            int iw = ow * d.StrideW - d.PadW + s * d.DilationW;
            bool inside = ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
            cols[((c * d.R + r) * d.S + s) * p + oh * d.OutW + ow] = inside ? x[((n * d.C + c) * d.H + ih) * d.W + iw] : T.Zero;
        }
    }

    // ---- pooling

    public static void Pool2dForward<T>(in Pool2dDesc d, ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPoint<T>
    {
        T area = T.CreateChecked(d.KernelH * d.KernelW);
        for (int plane = 0; plane < d.N * d.C; plane++)
        for (int oh = 0; oh < d.OutH; oh++)
        for (int ow = 0; ow < d.OutW; ow++)
        {
            T acc = T.Zero;
            if (d.Kind == PoolKind.Max) acc = x[FirstMax(d, x, plane, oh, ow)];
            else
            {
                for (int i = 0; i < d.KernelH; i++)
                for (int j = 0; j < d.KernelW; j++)
                {
                    int ih = oh * d.StrideH - d.PadH + i, iw = ow * d.StrideW - d.PadW + j;
                    if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) acc += x[(plane * d.H + ih) * d.W + iw];
                }
                acc /= area;
            }
            y[(plane * d.OutH + oh) * d.OutW + ow] = acc;
        }
    }

    /// <summary>Max: dy goes to the window's first maximum in scan order. Average: dy/(kernel area) to every covered input.</summary>
    public static void Pool2dBackward<T>(in Pool2dDesc d, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPoint<T>
    {
        dx.Clear();
        T area = T.CreateChecked(d.KernelH * d.KernelW);
        for (int plane = 0; plane < d.N * d.C; plane++)
        for (int oh = 0; oh < d.OutH; oh++)
        for (int ow = 0; ow < d.OutW; ow++)
        {
            T g = dy[(plane * d.OutH + oh) * d.OutW + ow];
            if (d.Kind == PoolKind.Max) { dx[FirstMax(d, x, plane, oh, ow)] += g; continue; }
            T share = g / area;
            for (int i = 0; i < d.KernelH; i++)
            for (int j = 0; j < d.KernelW; j++)
            {
                int ih = oh * d.StrideH - d.PadH + i, iw = ow * d.StrideW - d.PadW + j;
                if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W) dx[(plane * d.H + ih) * d.W + iw] += share;
            }
        }
    }

    /// <summary>Index into x of the first maximum of a window, scanning rows then columns; padding never wins.</summary>
    public static int FirstMax<T>(in Pool2dDesc d, ReadOnlySpan<T> x, int plane, int oh, int ow) where T : IFloatingPoint<T>
    {
        int best = -1;
        for (int i = 0; i < d.KernelH; i++)
        for (int j = 0; j < d.KernelW; j++)
        {
            int ih = oh * d.StrideH - d.PadH + i, iw = ow * d.StrideW - d.PadW + j;
            if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
            int idx = (plane * d.H + ih) * d.W + iw;
            if (best < 0 || x[idx] > x[best]) best = idx;
        }
        return best;
    }

    /// <summary>Channel concatenation: whole[i, offset + c, p] = part[i, c, p] (toWhole), or the reverse (its backward, a split).</summary>
    public static void Concat<T>(int n, int inner, Span<T> part, int partChannels, Span<T> whole, int wholeChannels, int offset, bool toWhole)
    {
        for (int i = 0; i < n; i++)
            for (int c = 0; c < partChannels; c++)
                for (int p = 0; p < inner; p++)
                {
                    long pi = ((long)i * partChannels + c) * inner + p, wi = ((long)i * wholeChannels + offset + c) * inner + p;
                    if (toWhole) whole[(int)wi] = part[(int)pi];
                    else part[(int)pi] = whole[(int)wi];
                }
    }

    public static void GlobalAvgPool2dForward<T>(int n, int c, int hw, ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < n * c; i++)
        {
            T acc = T.Zero;
            for (int p = 0; p < hw; p++) acc += x[i * hw + p];
            y[i] = acc / T.CreateChecked(hw);
        }
    }

    public static void GlobalAvgPool2dBackward<T>(int n, int c, int hw, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < n * c; i++)
        for (int p = 0; p < hw; p++)
            dx[i * hw + p] = dy[i] / T.CreateChecked(hw);
    }

    // ---- dense

    /// <summary>c[i,j] = alpha · Σ_l op(a)[i,l] · op(b)[l,j] + beta · c[i,j]; a is [M,K] (or [K,M] when transposed), b is [K,N] (or [N,K]).</summary>
    public static void Gemm<T>(int m, int n, int k, ReadOnlySpan<T> a, bool transA, ReadOnlySpan<T> b, bool transB, Span<T> c, T alpha, T beta)
        where T : IFloatingPoint<T>
    {
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            T acc = T.Zero;
            for (int l = 0; l < k; l++)
                acc += (transA ? a[l * m + i] : a[i * k + l]) * (transB ? b[j * k + l] : b[l * n + j]);
            c[i * n + j] = alpha * acc + (beta == T.Zero ? T.Zero : beta * c[i * n + j]);
        }
    }

    /// <summary>x[n, ch, p] += bias[ch] for x viewed as [N, C, inner].</summary>
    public static void BiasAddForward<T>(int n, int c, int inner, Span<T> x, ReadOnlySpan<T> bias) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < inner; p++)
            x[(i * c + ch) * inner + p] += bias[ch];
    }

    public static void BiasAddBackward<T>(int n, int c, int inner, ReadOnlySpan<T> dy, Span<T> dbias) where T : IFloatingPoint<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            T acc = T.Zero;
            for (int i = 0; i < n; i++)
            for (int p = 0; p < inner; p++)
                acc += dy[(i * c + ch) * inner + p];
            dbias[ch] = acc;
        }
    }

    // ---- element-wise

    public static void ReluForward<T>(ReadOnlySpan<T> x, Span<T> y) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = x[i] > T.Zero ? x[i] : T.Zero;
    }

    public static void ReluBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < x.Length; i++) dx[i] = x[i] > T.Zero ? dy[i] : T.Zero;
    }

    public static void DropoutForward<T>(ReadOnlySpan<T> x, Span<T> y, Span<T> mask, float p, ulong seed) where T : IFloatingPoint<T>
    {
        T scale = T.One / (T.One - T.CreateChecked(p));
        for (int i = 0; i < x.Length; i++)
        {
            mask[i] = Dropout.Keep(seed, i, p) ? scale : T.Zero;
            y[i] = x[i] * mask[i];
        }
    }

    public static void DropoutBackward<T>(ReadOnlySpan<T> dy, ReadOnlySpan<T> mask, Span<T> dx) where T : IFloatingPoint<T>
    {
        for (int i = 0; i < dy.Length; i++) dx[i] = dy[i] * mask[i];
    }

    // ---- spatial batch norm over (N, H·W) per channel

    public static void BatchNormForwardTraining<T>(int n, int c, int hw, ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        Span<T> y, Span<T> saveMean, Span<T> saveInvStd, Span<T> runningMean, Span<T> runningVar, T momentum, T epsilon, bool relu = false)
        where T : IFloatingPoint<T>, IRootFunctions<T>
    {
        T m = T.CreateChecked(n * hw);
        for (int ch = 0; ch < c; ch++)
        {
            T mean = T.Zero;
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++) mean += x[(i * c + ch) * hw + p];
            mean /= m;
            T var = T.Zero;
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++) { T dv = x[(i * c + ch) * hw + p] - mean; var += dv * dv; }
            var /= m;
            T invStd = T.One / T.Sqrt(var + epsilon);
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++)
            {
                int idx = (i * c + ch) * hw + p;
                y[idx] = BatchNormY(x[idx], gamma[ch], beta[ch], mean, invStd, relu);
            }
            saveMean[ch] = mean;
            saveInvStd[ch] = invStd;
            T unbiased = m > T.One ? var * m / (m - T.One) : var;
            runningMean[ch] = (T.One - momentum) * runningMean[ch] + momentum * mean;
            runningVar[ch] = (T.One - momentum) * runningVar[ch] + momentum * unbiased;
        }
    }

    public static void BatchNormForwardInference<T>(int n, int c, int hw, ReadOnlySpan<T> x, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta,
        ReadOnlySpan<T> runningMean, ReadOnlySpan<T> runningVar, Span<T> y, T epsilon, bool relu = false)
        where T : IFloatingPoint<T>, IRootFunctions<T>
    {
        for (int ch = 0; ch < c; ch++)
        {
            T invStd = T.One / T.Sqrt(runningVar[ch] + epsilon);
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++)
            {
                int idx = (i * c + ch) * hw + p;
                y[idx] = BatchNormY(x[idx], gamma[ch], beta[ch], runningMean[ch], invStd, relu);
            }
        }
    }

    /// <summary>γ·(x − μ)·σ⁻¹ + β, and max(0, ·) of it with <paramref name="relu"/> (as <see cref="ReluForward{T}"/>: x &gt; 0 ? x : 0).</summary>
    private static T BatchNormY<T>(T x, T gamma, T beta, T mean, T invStd, bool relu) where T : IFloatingPoint<T>
    {
        T y = gamma * (x - mean) * invStd + beta;
        return relu && !(y > T.Zero) ? T.Zero : y;
    }

    /// <summary>dy where the forward's max(0, γ·(x − μ)·σ⁻¹ + β) was positive, else 0.</summary>
    private static T ReluMasked<T>(T dy, T x, T gamma, T beta, T mean, T invStd) where T : IFloatingPoint<T> =>
        BatchNormY(x, gamma, beta, mean, invStd, relu: true) == T.Zero ? T.Zero : dy;

    /// <summary>x̂ = (x − μ)·σ⁻¹; dβ = Σ g; dγ = Σ g·x̂; dx = γ·σ⁻¹/M · (M·g − dβ − x̂·dγ), with g = dy, or, when
    /// <paramref name="reluBeta"/> is given (the forward applied max(0, ·) with that β), dy where the forward's
    /// γ·x̂ + β, recomputed as it computed it, was positive, else 0.</summary>
    public static void BatchNormBackward<T>(int n, int c, int hw, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> saveMean, ReadOnlySpan<T> saveInvStd, Span<T> dx, Span<T> dgamma, Span<T> dbeta, ReadOnlySpan<T> reluBeta = default)
        where T : IFloatingPoint<T>
    {
        T m = T.CreateChecked(n * hw);
        bool relu = !reluBeta.IsEmpty;
        for (int ch = 0; ch < c; ch++)
        {
            T sumDy = T.Zero, sumDyXhat = T.Zero;
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++)
            {
                int idx = (i * c + ch) * hw + p;
                T g = relu ? ReluMasked(dy[idx], x[idx], gamma[ch], reluBeta[ch], saveMean[ch], saveInvStd[ch]) : dy[idx];
                sumDy += g;
                sumDyXhat += g * (x[idx] - saveMean[ch]) * saveInvStd[ch];
            }
            dbeta[ch] = sumDy;
            dgamma[ch] = sumDyXhat;
            T scale = gamma[ch] * saveInvStd[ch] / m;
            for (int i = 0; i < n; i++) for (int p = 0; p < hw; p++)
            {
                int idx = (i * c + ch) * hw + p;
                T xhat = (x[idx] - saveMean[ch]) * saveInvStd[ch];
                T g = relu ? ReluMasked(dy[idx], x[idx], gamma[ch], reluBeta[ch], saveMean[ch], saveInvStd[ch]) : dy[idx];
                dx[idx] = scale * (m * g - sumDy - xhat * sumDyXhat);
            }
        }
    }

    // ---- loss

    /// <summary>probs = softmax(logits) row by row (max subtracted first); returns mean of −log probs[n, label[n]].</summary>
    public static T SoftmaxCrossEntropyForward<T>(int n, int k, ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> probs)
        where T : IFloatingPoint<T>, IExponentialFunctions<T>, ILogarithmicFunctions<T>
    {
        T loss = T.Zero;
        for (int i = 0; i < n; i++)
        {
            T max = logits[i * k];
            for (int j = 1; j < k; j++) if (logits[i * k + j] > max) max = logits[i * k + j];
            T sum = T.Zero;
            for (int j = 0; j < k; j++) { probs[i * k + j] = T.Exp(logits[i * k + j] - max); sum += probs[i * k + j]; }
            for (int j = 0; j < k; j++) probs[i * k + j] /= sum;
            loss -= T.Log(probs[i * k + labels[i]]);
        }
        return loss / T.CreateChecked(n);
    }

    public static void SoftmaxCrossEntropyBackward<T>(int n, int k, ReadOnlySpan<T> probs, ReadOnlySpan<int> labels, Span<T> dlogits)
        where T : IFloatingPoint<T>
    {
        T invN = T.One / T.CreateChecked(n);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++)
            dlogits[i * k + j] = (probs[i * k + j] - (j == labels[i] ? T.One : T.Zero)) * invN;
    }

    // ---- optimizers

    public static void SgdMomentumUpdate<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> v, T lr, T momentum, T weightDecay, bool nesterov)
        where T : IFloatingPoint<T>
    {
        for (int i = 0; i < w.Length; i++)
        {
            T grad = g[i] + weightDecay * w[i];
            v[i] = momentum * v[i] + grad;
            w[i] -= lr * (nesterov ? grad + momentum * v[i] : v[i]);
        }
    }

    public static void AdamUpdate<T>(Span<T> w, ReadOnlySpan<T> g, Span<T> m, Span<T> v, T lr, T beta1, T beta2, T epsilon, int step, T weightDecay)
        where T : IFloatingPoint<T>, IRootFunctions<T>, IPowerFunctions<T>
    {
        T c1 = T.One - T.Pow(beta1, T.CreateChecked(step));
        T c2 = T.One - T.Pow(beta2, T.CreateChecked(step));
        for (int i = 0; i < w.Length; i++)
        {
            T grad = g[i] + weightDecay * w[i];
            m[i] = beta1 * m[i] + (T.One - beta1) * grad;
            v[i] = beta2 * v[i] + (T.One - beta2) * grad * grad;
            w[i] -= lr * (m[i] / c1) / (T.Sqrt(v[i] / c2) + epsilon);
        }
    }
}
