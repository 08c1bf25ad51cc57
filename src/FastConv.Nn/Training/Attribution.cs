namespace FastConv.Nn;

/// <summary>
/// Which pixels a trained model's decision rests on, the two ways the notes show: a saliency map (Simonyan et al. 2013:
/// the gradient of the class score with respect to the input pixels) and an occlusion map (Zeiler &amp; Fergus 2013: the
/// class probability while a grey square covers each part of the image).
/// </summary>
public static class Attribution
{
    /// <summary>Softmax probabilities of one image's scores.</summary>
    public static double[] Probabilities(float[] scores)
    {
        double max = scores.Max();
        var e = scores.Select(s => Math.Exp(s - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    /// <summary>
    /// |∂ score[cls] / ∂ x| for x [1, C, H, W], the maximum over channels per pixel ([H·W], row-major). The model runs in
    /// inference mode; backward goes through every layer to the input (dropout is the identity then, batch norm the
    /// per-channel scale γ/√(σ² + ε)). Parameter gradients are overwritten on the way; the weights are not touched.
    /// </summary>
    public static float[] Saliency(Sequential model, Tensor x, int cls)
    {
        if (x.Rank != 4 || x.Dim(0) != 1) throw new ArgumentException($"Saliency: expects one image [1, C, H, W], got {ShapeMath.Format(x.Shape)}.");
        var be = model.Backend;
        var scores = model.Forward(x, training: false);
        int classes = scores.Dim(1);
        if (cls < 0 || cls >= classes) throw new ArgumentOutOfRangeException(nameof(cls), cls, $"Saliency: class must be in [0, {classes}).");
        var onehot = new float[classes];
        onehot[cls] = 1;
        using var dScores = be.Allocate(scores.Shape);
        dScores.CopyFrom(onehot);
        var first = model.Layers[0];
        bool before = first.ComputeInputGradient;
        first.ComputeInputGradient = true;
        var owned = new List<Tensor>();
        try
        {
            Tensor g = dScores;
            for (int i = model.Layers.Count - 1; i >= 0; i--)
                g = model.Layers[i] switch
                {
                    DropoutLayer => g,
                    BatchNorm2d bn => Keep(owned, InferenceBatchNormBackward(bn, g)),
                    var l => l.Backward(g) ?? throw new InvalidOperationException($"Saliency: layer {l.Name} returned no input gradient."),
                };
            var dx = g.ToArray();
            int c = x.Dim(1), plane = x.Dim(2) * x.Dim(3);
            var map = new float[plane];
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < plane; i++) map[i] = Math.Max(map[i], Math.Abs(dx[ch * plane + i]));
            return map;
        }
        finally
        {
            first.ComputeInputGradient = before;
            foreach (var t in owned) t.Dispose();
        }
    }

    private static Tensor Keep(List<Tensor> owned, Tensor t)
    {
        owned.Add(t);
        return t;
    }

    /// <summary>Batch norm in inference mode is y = γ(x − μ)/√(σ² + ε) + β with fixed statistics, so dx = dy·γ/√(σ² + ε).</summary>
    private static Tensor InferenceBatchNormBackward(BatchNorm2d bn, Tensor dy)
    {
        var gamma = bn.Gamma.Value.ToArray();
        var variance = bn.Buffers.First(b => b.Name == "running_var").Value.ToArray();
        var d = dy.ToArray();
        int c = dy.Dim(1), plane = (int)(dy.Length / dy.Dim(0) / c);
        for (int i = 0; i < d.Length; i++)
        {
            int ch = i / plane % c;
            d[i] *= gamma[ch] / MathF.Sqrt(variance[ch] + bn.Epsilon);
        }
        var dx = bn.Backend.Allocate(dy.Shape);
        dx.CopyFrom(d);
        return dx;
    }

    /// <summary>
    /// P(cls) with a patch × patch square set to the training mean (0 after normalisation: grey) at every stride-th
    /// position of x [1, C, H, W]; each pixel's value is the mean probability over the squares that covered it,
    /// so the map has the image's size ([H·W], row-major). Low values: the parts the decision needs.
    /// </summary>
    public static float[] Occlusion(Sequential model, Tensor x, int cls, int patch, int stride, int batch = 64)
    {
        int c = x.Dim(1), h = x.Dim(2), w = x.Dim(3), plane = h * w;
        if (patch < 1 || patch > Math.Min(h, w)) throw new ArgumentOutOfRangeException(nameof(patch), patch, $"Occlusion: the square must be 1 to {Math.Min(h, w)} pixels.");
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "Occlusion: stride must be >= 1.");
        var image = x.ToArray();
        var positions = new List<(int Top, int Left)>();
        for (int t = 0; t + patch <= h; t += stride)
            for (int l = 0; l + patch <= w; l += stride) positions.Add((t, l));
        var sum = new double[plane];
        var count = new int[plane];
        using var xs = model.Backend.Allocate([batch, c, h, w]);
        var buf = new float[batch * c * plane];
        for (int start = 0; start < positions.Count; start += batch)
        {
            int n = Math.Min(batch, positions.Count - start);
            for (int b = 0; b < batch; b++)
            {
                Array.Copy(image, 0, buf, b * c * plane, c * plane);
                if (b >= n) continue;
                var (top, left) = positions[start + b];
                for (int ch = 0; ch < c; ch++)
                    for (int i = top; i < top + patch; i++)
                        Array.Clear(buf, (b * c + ch) * plane + i * w + left, patch);
            }
            xs.CopyFrom(buf);
            var scores = model.Forward(xs, training: false).ToArray();
            int k = scores.Length / batch;
            for (int b = 0; b < n; b++)
            {
                double p = Probabilities(scores[(b * k)..((b + 1) * k)])[cls];
                var (top, left) = positions[start + b];
                for (int i = top; i < top + patch; i++)
                    for (int j = left; j < left + patch; j++) { sum[i * w + j] += p; count[i * w + j]++; }
            }
        }
        // Pixels no square reached (at the far edges when the stride does not tile) keep the unoccluded probability.
        double clean = Probabilities(model.Forward(x, training: false).ToArray())[cls];
        return sum.Select((s, i) => (float)(count[i] > 0 ? s / count[i] : clean)).ToArray();
    }
}
