namespace FastConv.Nn.Data;

/// <summary>Random-crop (zero padding) and horizontal-flip augmentation, the CIFAR-10 recipe; and random erasing
/// (Zhong et al. 2017, "Random Erasing Data Augmentation"): with probability <see cref="EraseProbability"/> one
/// rectangle of 2–40 % of the image, aspect ratio 0.3–3.3, is set to 0 in normalised space (each channel's mean,
/// the paper's RE-M; torchvision's RandomErasing default, whose log-uniform aspect ratio this draws too), after the
/// crop and the flip.</summary>
public sealed record Augmentation(int CropPadding, bool HorizontalFlip, double EraseProbability = 0)
{
    public static readonly Augmentation None = new(0, false);
    public static readonly Augmentation Cifar = new(4, true);
    /// <summary>The paper's area range (as a fraction of the image) and aspect-ratio range of the erased rectangle.</summary>
    public const double EraseMinArea = 0.02, EraseMaxArea = 0.4, EraseMinAspect = 0.3;
    public bool IsNone => CropPadding == 0 && !HorizontalFlip && EraseProbability == 0;
}

/// <summary>
/// Turns a data set into mini-batches: a seeded shuffle per epoch, pixels normalised per channel into a
/// reusable host buffer, then one copy into the batch tensor. Training drops the last partial batch
/// (every batch has the same shape, so layers never reallocate); evaluation pads it and reports how many rows are real.
/// </summary>
public sealed class BatchLoader
{
    private readonly Dataset _data;
    private readonly Normalization _norm;
    private readonly float[] _x, _y;
    private readonly float[] _scale, _shift;

    public BatchLoader(Dataset data, int batchSize, Normalization norm, Augmentation? augmentation = null)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        if (norm.Mean.Length != data.Channels || norm.Std.Length != data.Channels)
            throw new ArgumentException($"Normalization has {norm.Mean.Length} channels, the data set {data.Name} has {data.Channels}.");
        _data = data; _norm = norm; BatchSize = batchSize;
        Augmentation = augmentation ?? Augmentation.None;
        _x = new float[batchSize * data.ImageSize];
        _y = new float[batchSize];
        _scale = norm.Std.Select(s => 1f / (255f * s)).ToArray();
        _shift = norm.Mean.Zip(norm.Std, (m, s) => -m / s).ToArray();
    }

    public int BatchSize { get; }
    public Augmentation Augmentation { get; }
    /// <summary>Test-time augmentation for evaluation (Trainer.Evaluate): an example's scores are the mean of its image's
    /// and its mirror image's, the left-right flip that training with flips taught the model to treat alike.</summary>
    public bool MirrorAverage { get; init; }
    public Dataset Data => _data;
    /// <summary>Full batches per training epoch.</summary>
    public int TrainBatches => _data.Count / BatchSize;
    /// <summary>Batches to cover every example once (the last one padded).</summary>
    public int EvalBatches => (_data.Count + BatchSize - 1) / BatchSize;

    /// <summary>The example order of an epoch: a permutation drawn from (seed, epoch), so a resumed run sees the same order.</summary>
    public int[] Order(int seed, int epoch)
    {
        var order = Enumerable.Range(0, _data.Count).ToArray();
        // Not HashCode.Combine: that is randomised per process, and runs must repeat across processes.
        new Random(unchecked(seed * 1_000_003 + epoch * 7919 + 0x5EED)).Shuffle(order);
        return order;
    }

    /// <summary>Fills x [B, C, H, W] and labels [B] with examples order[first..], each image left-right flipped if
    /// <paramref name="mirror"/>; returns how many rows are real (the rest are zeros).</summary>
    public int Fill(ReadOnlySpan<int> order, int first, Tensor x, Tensor labels, Random? augmentRng = null, bool mirror = false)
    {
        int count = Math.Min(BatchSize, order.Length - first);
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(first), first, "BatchLoader: no examples left at this offset.");
        int size = _data.ImageSize, plane = _data.Height * _data.Width;
        for (int b = 0; b < count; b++)
        {
            int idx = order[first + b];
            var src = _data.Image(idx);
            var dst = _x.AsSpan(b * size, size);
            for (int c = 0; c < _data.Channels; c++)
            {
                float sc = _scale[c], sh = _shift[c];
                var s = src.Slice(c * plane, plane);
                var d = dst.Slice(c * plane, plane);
                for (int i = 0; i < plane; i++) d[i] = s[i] * sc + sh;
            }
            if (augmentRng is not null && !Augmentation.IsNone) Augment(dst, augmentRng);
            if (mirror) ShiftAndFlip(dst, 0, 0, flip: true);
            _y[b] = _data.Labels[idx];
        }
        _x.AsSpan(count * size).Clear();
        _y.AsSpan(count).Clear();
        x.CopyFrom(_x);
        labels.CopyFrom(_y);
        return count;
    }

    private void Augment(Span<float> image, Random rng)
    {
        int p = Augmentation.CropPadding;
        int dy = p > 0 ? rng.Next(-p, p + 1) : 0, dx = p > 0 ? rng.Next(-p, p + 1) : 0;
        bool flip = Augmentation.HorizontalFlip && rng.Next(2) == 1;
        if (dy != 0 || dx != 0 || flip) ShiftAndFlip(image, dy, dx, flip);
        if (Augmentation.EraseProbability > 0) Erase(image, rng);
    }

    private void ShiftAndFlip(Span<float> image, int dy, int dx, bool flip)
    {
        int h = _data.Height, w = _data.Width;
        Span<float> tmp = stackalloc float[h * w];
        for (int c = 0; c < _data.Channels; c++)
        {
            var plane = image.Slice(c * h * w, h * w);
            plane.CopyTo(tmp);
            // Pixels shifted in from the padding are 0 in normalised space, i.e. the channel mean.
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                {
                    int sy = y + dy, sx = (flip ? w - 1 - xx : xx) + dx;
                    plane[y * w + xx] = sy >= 0 && sy < h && sx >= 0 && sx < w ? tmp[sy * w + sx] : 0f;
                }
        }
    }

    /// <summary>Erases one rectangle with the set probability: area and aspect ratio drawn as the paper draws them,
    /// redrawn until the rectangle fits (the paper's loop; at most 10 tries here, then the image is left whole).</summary>
    private void Erase(Span<float> image, Random rng)
    {
        if (rng.NextDouble() >= Augmentation.EraseProbability) return;
        int h = _data.Height, w = _data.Width;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double area = h * w * (Augmentation.EraseMinArea + rng.NextDouble() * (Augmentation.EraseMaxArea - Augmentation.EraseMinArea));
            // log-uniform aspect ratio in [0.3, 1/0.3], so tall and wide rectangles are equally likely
            double logR = Math.Log(Augmentation.EraseMinAspect), aspect = Math.Exp(logR + rng.NextDouble() * -2 * logR);
            int eh = (int)Math.Round(Math.Sqrt(area * aspect)), ew = (int)Math.Round(Math.Sqrt(area / aspect));
            if (eh < 1 || ew < 1 || eh >= h || ew >= w) continue;
            int y0 = rng.Next(h - eh + 1), x0 = rng.Next(w - ew + 1);
            for (int c = 0; c < _data.Channels; c++)
                for (int y = y0; y < y0 + eh; y++) image.Slice(c * h * w + y * w + x0, ew).Clear();
            return;
        }
    }
}
