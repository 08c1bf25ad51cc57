namespace FastConv.Nn.Data;

/// <summary>
/// Labelled images in memory: pixels as bytes [N, C, H, W] (what the files hold, 4× smaller than floats)
/// and labels [N]. Batches are converted to normalised floats on the way into a tensor.
/// </summary>
public sealed class Dataset
{
    public Dataset(string name, byte[] pixels, byte[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        long per = (long)channels * height * width;
        if (per <= 0 || pixels.LongLength != per * labels.Length)
            throw new ArgumentException($"Dataset {name}: {pixels.LongLength} pixel bytes do not make {labels.Length} images of {channels}x{height}x{width}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classNames.Count)
                throw new ArgumentException($"Dataset {name}: label {labels[i]} of image {i} is not one of the {classNames.Count} classes.");
        Name = name; Pixels = pixels; Labels = labels; Channels = channels; Height = height; Width = width; ClassNames = classNames;
    }

    public string Name { get; }
    public byte[] Pixels { get; }
    public byte[] Labels { get; }
    public int Count => Labels.Length;
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int ImageSize => Channels * Height * Width;
    public int[] ImageShape => [Channels, Height, Width];
    public IReadOnlyList<string> ClassNames { get; }

    public ReadOnlySpan<byte> Image(int i) => Pixels.AsSpan(i * ImageSize, ImageSize);

    /// <summary>The examples at <paramref name="indices"/>, as a new data set (used for validation splits and small subsets).</summary>
    public Dataset Subset(string name, ReadOnlySpan<int> indices)
    {
        var px = new byte[(long)indices.Length * ImageSize];
        var lb = new byte[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            Image(indices[i]).CopyTo(px.AsSpan(i * ImageSize));
            lb[i] = Labels[indices[i]];
        }
        return new Dataset(name, px, lb, Channels, Height, Width, ClassNames);
    }

    /// <summary>A seeded split into (train, validation) with <paramref name="validation"/> examples held out.</summary>
    public (Dataset Train, Dataset Validation) Split(int validation, int seed)
    {
        if (validation <= 0 || validation >= Count)
            throw new ArgumentOutOfRangeException(nameof(validation), validation, $"Dataset {Name}: a validation split must hold between 1 and {Count - 1} of {Count} examples.");
        var order = Enumerable.Range(0, Count).ToArray();
        new Random(seed).Shuffle(order);
        var val = order.AsSpan(0, validation).ToArray();
        var train = order.AsSpan(validation).ToArray();
        Array.Sort(val); Array.Sort(train);
        return (Subset(Name + "-train", train), Subset(Name + "-val", val));
    }

    /// <summary>Per-channel mean and standard deviation of the pixels scaled to [0, 1].</summary>
    public Normalization ComputeNormalization()
    {
        var mean = new float[Channels];
        var std = new float[Channels];
        int plane = Height * Width;
        for (int c = 0; c < Channels; c++)
        {
            double s = 0, s2 = 0;
            for (int i = 0; i < Count; i++)
                foreach (byte b in Pixels.AsSpan(i * ImageSize + c * plane, plane)) { double v = b / 255.0; s += v; s2 += v * v; }
            double n = (double)Count * plane, m = s / n;
            mean[c] = (float)m;
            std[c] = (float)Math.Sqrt(Math.Max(s2 / n - m * m, 1e-12));
        }
        return new Normalization(mean, std);
    }
}

/// <summary>x = (pixel/255 − mean[c]) / std[c]; computed on the training set and saved with the model.</summary>
public sealed record Normalization(float[] Mean, float[] Std)
{
    public override string ToString() =>
        $"mean [{string.Join(", ", Mean.Select(m => m.ToString("0.####")))}], std [{string.Join(", ", Std.Select(s => s.ToString("0.####")))}]";
}
