namespace FastConv.Nn;

/// <summary>A classification loss over scores [N, K] and labels [N] (class indices stored as floats).</summary>
public abstract class Loss : IDisposable
{
    protected Loss(IBackend backend) => Backend = backend;
    public IBackend Backend { get; }
    public abstract string Name { get; }
    /// <summary>Mean loss over the batch.</summary>
    public abstract float Forward(Tensor scores, Tensor labels);
    /// <summary>dL/dscores for the last <see cref="Forward"/>; the tensor belongs to the loss.</summary>
    public abstract Tensor Backward();
    public abstract void Dispose();

    /// <summary>The loss of one example from its scores, in double on the host (evaluation, where the last batch is padded).</summary>
    public abstract double ExampleLoss(ReadOnlySpan<float> scores, int label);

    public static Loss Create(string name, IBackend backend) => name switch
    {
        "softmax" or "cross-entropy" => new SoftmaxCrossEntropyLoss(backend),
        "svm" or "hinge" => new SvmLoss(backend),
        _ => throw new ArgumentException($"Unknown loss '{name}': use softmax or svm."),
    };
}

/// <summary>L = −log softmax(s)[y], averaged: the backend's fused op (probabilities kept for backward).</summary>
public sealed class SoftmaxCrossEntropyLoss(IBackend backend) : Loss(backend)
{
    private Tensor? _probs, _dscores, _labels;

    public override string Name => "softmax";

    public override double ExampleLoss(ReadOnlySpan<float> scores, int label)
    {
        double max = double.NegativeInfinity;
        foreach (float v in scores) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in scores) sum += Math.Exp(v - max);
        return max + Math.Log(sum) - scores[label];
    }
    public Tensor Probabilities => _probs ?? throw new InvalidOperationException("Softmax loss: Forward has not run.");

    public override float Forward(Tensor scores, Tensor labels)
    {
        if (_probs is null || !_probs.Shape.SequenceEqual(scores.Shape))
        {
            Dispose();
            _probs = Backend.Allocate(scores.Shape);
            _dscores = Backend.Allocate(scores.Shape);
        }
        _labels = labels;
        return Backend.SoftmaxCrossEntropyForward(scores, labels, _probs);
    }

    public override Tensor Backward()
    {
        if (_labels is null) throw new InvalidOperationException("Softmax loss: Backward called before Forward.");
        Backend.SoftmaxCrossEntropyBackward(_probs!, _labels, _dscores!);
        return _dscores!;
    }

    public override void Dispose()
    {
        _probs?.Dispose(); _dscores?.Dispose();
        _probs = null; _dscores = null;
    }
}

/// <summary>
/// Multiclass SVM (hinge) loss from the notes: L = (1/N) Σₙ Σ_{j≠y} max(0, sⱼ − s_y + Δ), Δ = 1.
/// Computed on the host from the [N, K] scores (small next to the network), so it runs with every backend.
/// </summary>
public sealed class SvmLoss(IBackend backend, float margin = 1f) : Loss(backend)
{
    private float[] _s = [], _ds = [], _y = [];
    private Tensor? _dscores;
    private bool _ready;

    public override string Name => "svm";

    public override double ExampleLoss(ReadOnlySpan<float> scores, int label)
    {
        double l = 0;
        for (int j = 0; j < scores.Length; j++)
            if (j != label) l += Math.Max(0.0, (double)scores[j] - scores[label] + Margin);
        return l;
    }
    public float Margin { get; } = margin;

    public override float Forward(Tensor scores, Tensor labels)
    {
        if (scores.Rank != 2) throw new ArgumentException($"SVM loss: scores must be [N, K], got {ShapeMath.Format(scores.Shape)}.", nameof(scores));
        int n = scores.Dim(0), k = scores.Dim(1);
        if (labels.Length != n) throw new ArgumentException($"SVM loss: {labels.Length} labels for {n} rows of scores.", nameof(labels));
        if (_dscores is null || !_dscores.Shape.SequenceEqual(scores.Shape))
        {
            Dispose();
            _dscores = Backend.Allocate(scores.Shape);
            _s = new float[n * k]; _ds = new float[n * k]; _y = new float[n];
        }
        scores.CopyTo(_s); labels.CopyTo(_y);
        double total = 0;
        Array.Clear(_ds);
        for (int i = 0; i < n; i++)
        {
            int y = (int)_y[i];
            if (y < 0 || y >= k || y != _y[i]) throw new ArgumentException($"SVM loss: label {_y[i]} at row {i} is not a class index in [0, {k}).", nameof(labels));
            float sy = _s[i * k + y];
            for (int j = 0; j < k; j++)
            {
                if (j == y) continue;
                float m = _s[i * k + j] - sy + Margin;
                if (m > 0) { total += m; _ds[i * k + j] += 1f / n; _ds[i * k + y] -= 1f / n; }
            }
        }
        _dscores.CopyFrom(_ds);
        _ready = true;
        return (float)(total / n);
    }

    public override Tensor Backward() =>
        _ready ? _dscores! : throw new InvalidOperationException("SVM loss: Backward called before Forward.");

    public override void Dispose()
    {
        _dscores?.Dispose();
        _dscores = null;
        _ready = false;
    }
}
