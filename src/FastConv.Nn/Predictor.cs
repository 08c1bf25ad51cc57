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
    private readonly string[] _classes;
    private readonly int[] _input;
    private readonly Func<Tensor, Tensor> _forward;
    private readonly IDisposable _model;
    private readonly bool _outputsProbabilities;
    private readonly Tensor _x, _labels;

    private Predictor(string model, int[] input, string[] classes, Normalization norm, IBackend backend, int batchSize,
                      Func<IBackend, (IDisposable Model, Func<Tensor, Tensor> Forward, bool Probabilities)> create, string what)
    {
        if (input is not [1 or 3, var h, var w] || h != w)
            throw new CheckpointException($"Predictor takes models of square 1- or 3-channel images; this {what}'s input is {ShapeMath.Format(input)}.");
        Model = model; _input = input; _classes = classes; Normalization = norm;
        (_model, _forward, _outputsProbabilities) = create(backend);
        BatchSize = batchSize;
        _x = backend.Allocate([batchSize, .. input]);
        _labels = backend.Allocate([batchSize]);
    }

    /// <summary>Loads a checkpoint written by training (best.ckpt, last.ckpt) onto <paramref name="backend"/> (default: auto).</summary>
    public static Predictor Load(string checkpointPath, IBackend? backend = null, int batchSize = 64)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var ck = Checkpoint.Load(checkpointPath);
        return new Predictor(ck.Model, ck.InputShape, ck.ClassNames, ck.Normalization, backend ?? BackendRegistry.Get("auto"), batchSize, be =>
        {
            var m = ck.CreateModel(be);
            return (m, x => m.Forward(x, training: false), false);
        }, "checkpoint");
    }

    /// <summary>An ONNX classifier (<see cref="Onnx.OnnxModel"/>) with the same preprocessing: input [N, C, S, S], the
    /// class names and normalisation from its metadata as <see cref="Onnx.OnnxExport"/> writes them (without them: "class
    /// 0", … and pixel / 255). Its output is taken as logits, or as probabilities when the graph ends in a Softmax.</summary>
    public static Predictor LoadOnnx(string onnxPath, IBackend? backend = null, int batchSize = 64)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "The batch size must be at least 1.");
        var be = backend ?? BackendRegistry.Get("auto");
        var onnx = Onnx.OnnxModel.Load(onnxPath, be);
        try
        {
            if (onnx.InputNames.Count != 1)
                throw new Onnx.OnnxModelException($"{onnxPath}: the graph has {onnx.InputNames.Count} inputs ({string.Join(", ", onnx.InputNames)}); predict runs models whose one input is the image batch.");
            if (onnx.InputShape is not [_, > 0, > 0, > 0])
                throw new Onnx.OnnxModelException($"{onnxPath}: input '{onnx.InputName}' is [{string.Join(", ", onnx.InputShape)}]; predict takes [N, C, H, W] with C, H and W fixed.");
            int[] input = onnx.InputShape[1..];
            string[] classes;
            if (onnx.ClassNames is { } names) classes = names;
            else
            {
                // The class count from one forward pass of a zero image.
                using var probe = be.Allocate([1, .. input]);
                probe.CopyFrom(new float[probe.Length]);
                classes = Enumerable.Range(0, (int)onnx.Forward(probe).Length).Select(i => $"class {i}").ToArray();
            }
            var norm = onnx.Normalization ?? new Normalization(new float[input[0]], Enumerable.Repeat(1f, input[0]).ToArray());
            string name = onnx.Metadata.TryGetValue("fastconv_model", out var m) ? m : Path.GetFileName(onnxPath);
            return new Predictor(name, input, classes, norm, be, batchSize, _ => (onnx, onnx.Forward, onnx.EndsInSoftmax), "ONNX model");
        }
        catch
        {
            onnx.Dispose();
            throw;
        }
    }

    public IReadOnlyList<string> ClassNames => _classes;
    public int Channels => _input[0];
    public int ImageSize => _input[1];
    public Normalization Normalization { get; }
    public int BatchSize { get; }
    public string Model { get; }

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
        var data = new Dataset("predict", px, new byte[images.Count], Channels, ImageSize, ImageSize, _classes);
        var loader = new BatchLoader(data, BatchSize, Normalization);
        var order = Enumerable.Range(0, images.Count).ToArray();
        var result = new Prediction[images.Count][];
        for (int first = 0; first < images.Count; first += BatchSize)
        {
            int rows = loader.Fill(order, first, _x, _labels);
            TopK(_forward(_x).ToArray(), rows, k, result.AsSpan(first, rows));
        }
        return result;
    }

    /// <summary>Model inputs already normalised: [N, C, H, W] or one image [C, H, W], on any backend.</summary>
    public Prediction[][] Predict(Tensor x, int k = 3)
    {
        ArgumentNullException.ThrowIfNull(x);
        var shape = x.Shape.ToArray();
        int[] image = shape.Length == 3 ? shape : shape[1..];
        if (shape.Length is not (3 or 4) || !image.SequenceEqual(_input))
            throw new ArgumentException($"The model takes [N, {string.Join(", ", _input)}] (or one [{string.Join(", ", _input)}]); the tensor is {ShapeMath.Format(shape)}.");
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
            TopK(_forward(_x).ToArray(), rows, k, result.AsSpan(first, rows));
        }
        return result;
    }

    /// <summary>Softmax of each row's scores (in double, max subtracted; skipped when the model already gives
    /// probabilities), then the k largest, best first (ties: lower class first).</summary>
    private void TopK(float[] scores, int rows, int k, Span<Prediction[]> into)
    {
        int classes = _classes.Length;
        if (scores.Length < (long)rows * classes || scores.Length % classes != 0)
            throw new InvalidOperationException($"The model gives {scores.Length} scores for a batch of {BatchSize}; {classes} classes were expected per image.");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1.");
        k = Math.Min(k, classes);
        var p = new double[classes];
        for (int r = 0; r < rows; r++)
        {
            var s = scores.AsSpan(r * classes, classes);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float v in s) max = Math.Max(max, v);
            for (int c = 0; c < classes; c++) sum += p[c] = _outputsProbabilities ? s[c] : Math.Exp(s[c] - max);
            into[r] = Enumerable.Range(0, classes).OrderByDescending(c => p[c]).ThenBy(c => c).Take(k)
                .Select(c => new Prediction(c, _classes[c], p[c] / sum)).ToArray();
        }
    }

    public void Dispose()
    {
        _x.Dispose();
        _labels.Dispose();
        _model.Dispose();
    }
}
