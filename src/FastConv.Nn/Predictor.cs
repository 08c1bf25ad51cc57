using FastConv.Nn.Data;
using SkiaSharp;

namespace FastConv.Nn;

/// <summary>One of the top classes for an image: its index and name in the checkpoint's classes, and the softmax probability.</summary>
public sealed record Prediction(int Class, string Label, double Probability);

/// <summary>What <see cref="Predictor.PredictFiles"/> says about one file: its top classes, or why it could not be read.</summary>
public sealed record FilePrediction(string Path, Prediction[]? Top, string? Error);

/// <summary>
/// A trained checkpoint as a classifier of new images, with the checkpoint's own preprocessing: the centre square
/// scaled to the model's input size, the model's channel count (grey ↔ colour converted), and the training set's
/// per-channel normalisation. Many images go through the model in batches of <see cref="BatchSize"/>.
/// <code>
/// using var p = Predictor.Load("runs/x/best.ckpt");
/// Prediction[] top = p.Predict("cat.png", k: 3);
/// </code>
/// </summary>
public sealed class Predictor : IDisposable
{
    private readonly Checkpoint _ck;
    private readonly Sequential _model;
    private readonly Tensor _x, _labels;

    private Predictor(Checkpoint ck, IBackend backend, int batchSize)
    {
        if (ck.InputShape is not [1 or 3, var h, var w] || h != w)
            throw new CheckpointException($"Predictor takes models of square 1- or 3-channel images; this checkpoint's input is {ShapeMath.Format(ck.InputShape)}.");
        _ck = ck;
        _model = ck.CreateModel(backend);
        BatchSize = batchSize;
        _x = backend.Allocate([batchSize, .. ck.InputShape]);
        _labels = backend.Allocate([batchSize]);
    }

    /// <summary>Loads a checkpoint written by training (best.ckpt, last.ckpt) onto <paramref name="backend"/> (default: auto).</summary>
    public static Predictor Load(string checkpointPath, IBackend? backend = null, int batchSize = 64)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        return new Predictor(Checkpoint.Load(checkpointPath), backend ?? BackendRegistry.Get("auto"), batchSize);
    }

    public IReadOnlyList<string> ClassNames => _ck.ClassNames;
    public int Channels => _ck.InputShape[0];
    public int ImageSize => _ck.InputShape[1];
    public Normalization Normalization => _ck.Normalization;
    public int BatchSize { get; }
    public string Model => _ck.Model;

    /// <summary>The top <paramref name="k"/> classes of an image file; an unreadable file throws <see cref="ImageFolderException"/> naming it.</summary>
    public Prediction[] Predict(string imagePath, int k = 3) => Predict([imagePath], k)[0];

    /// <summary>The top classes of each file, batched; throws <see cref="ImageFolderException"/> naming every file that does not decode.</summary>
    public Prediction[][] Predict(IReadOnlyList<string> imagePaths, int k = 3)
    {
        var results = PredictFiles(imagePaths, k);
        var bad = results.Where(r => r.Error is not null).Select(r => new BadImage(r.Path, r.Error!)).ToList();
        if (bad.Count > 0)
            throw new ImageFolderException($"{bad.Count} of {imagePaths.Count} files are not images FastConv can read: {ImageFolder.Describe(bad)}", bad);
        return results.Select(r => r.Top!).ToArray();
    }

    /// <summary>Decodes the files on all cores and runs them through the model in batches, a few thousand files at a time.
    /// A file that does not decode gets its error instead of a prediction.</summary>
    public FilePrediction[] PredictFiles(IReadOnlyList<string> imagePaths, int k = 3, Action<int, int>? progress = null)
    {
        var results = new FilePrediction[imagePaths.Count];
        int chunk = Math.Max(BatchSize, 4096 / BatchSize * BatchSize);
        for (int start = 0; start < imagePaths.Count; start += chunk)
        {
            int n = Math.Min(chunk, imagePaths.Count - start);
            var images = new DecodedImage?[n];
            var errors = new string?[n];
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Threads },
                i => images[i] = ImageDecoder.TryDecode(imagePaths[start + i], ImageSize, out errors[i]));
            var ok = Enumerable.Range(0, n).Where(i => images[i] is not null).ToArray();
            var top = Predict(ok.Select(i => images[i]!).ToArray(), k);
            for (int j = 0; j < ok.Length; j++) results[start + ok[j]] = new FilePrediction(imagePaths[start + ok[j]], top[j], null);
            for (int i = 0; i < n; i++)
                if (images[i] is null) results[start + i] = new FilePrediction(imagePaths[start + i], null, errors[i]);
            progress?.Invoke(start + n, imagePaths.Count);
        }
        return results;
    }

    /// <summary>A bitmap decoded by the caller.</summary>
    public Prediction[] Predict(SKBitmap image, int k = 3) => Predict([ImageDecoder.Preprocess(image, ImageSize)], k)[0];

    /// <summary>Images already brought to the model's size (<see cref="ImageDecoder.TryDecode"/>), batched.</summary>
    public Prediction[][] Predict(IReadOnlyList<DecodedImage> images, int k = 3)
    {
        if (images.Count == 0) return [];
        int per = Channels * ImageSize * ImageSize;
        var px = new byte[(long)images.Count * per];
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].Size != ImageSize)
                throw new ArgumentException($"Image {i} was decoded at {images[i].Size}x{images[i].Size}; the model takes {ImageSize}x{ImageSize}.");
            images[i].CopyTo(Channels, px.AsSpan(i * per, per));
        }
        var data = new Dataset("predict", px, new byte[images.Count], Channels, ImageSize, ImageSize, _ck.ClassNames);
        var loader = new BatchLoader(data, BatchSize, Normalization);
        var order = Enumerable.Range(0, images.Count).ToArray();
        var result = new Prediction[images.Count][];
        for (int first = 0; first < images.Count; first += BatchSize)
        {
            int rows = loader.Fill(order, first, _x, _labels);
            TopK(_model.Forward(_x, training: false).ToArray(), rows, k, result.AsSpan(first, rows));
        }
        return result;
    }

    /// <summary>Model inputs already normalised: [N, C, H, W] or one image [C, H, W], on any backend.</summary>
    public Prediction[][] Predict(Tensor x, int k = 3)
    {
        ArgumentNullException.ThrowIfNull(x);
        var shape = x.Shape.ToArray();
        int[] image = shape.Length == 3 ? shape : shape[1..];
        if (shape.Length is not (3 or 4) || !image.SequenceEqual(_ck.InputShape))
            throw new ArgumentException($"The model takes [N, {string.Join(", ", _ck.InputShape)}] (or one [{string.Join(", ", _ck.InputShape)}]); the tensor is {ShapeMath.Format(shape)}.");
        int n = shape.Length == 3 ? 1 : shape[0], per = Channels * ImageSize * ImageSize;
        var values = x.ToArray();
        var host = new float[BatchSize * per];
        var result = new Prediction[n][];
        for (int first = 0; first < n; first += BatchSize)
        {
            int rows = Math.Min(BatchSize, n - first);
            host.AsSpan().Clear();
            values.AsSpan(first * per, rows * per).CopyTo(host);
            _x.CopyFrom(host);
            TopK(_model.Forward(_x, training: false).ToArray(), rows, k, result.AsSpan(first, rows));
        }
        return result;
    }

    /// <summary>Softmax of each row's scores (in double, max subtracted), then the k largest, best first (ties: lower class first).</summary>
    private void TopK(float[] scores, int rows, int k, Span<Prediction[]> into)
    {
        int classes = _ck.ClassNames.Length;
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        k = Math.Min(k, classes);
        var p = new double[classes];
        for (int r = 0; r < rows; r++)
        {
            var s = scores.AsSpan(r * classes, classes);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in s) max = Math.Max(max, v);
            for (int c = 0; c < classes; c++) sum += p[c] = Math.Exp(s[c] - max);
            into[r] = Enumerable.Range(0, classes).OrderByDescending(c => p[c]).ThenBy(c => c).Take(k)
                .Select(c => new Prediction(c, _ck.ClassNames[c], p[c] / sum)).ToArray();
        }
    }

    public void Dispose()
    {
        _x.Dispose();
        _labels.Dispose();
        _model.Dispose();
    }
}
