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

    /// <summary>The loss <paramref name="name"/>; <paramref name="labelSmoothing"/> ε &gt; 0 (softmax only, below 1) trains
    /// against smoothed targets (<see cref="SmoothedSoftmaxLoss"/>).</summary>
    public static Loss Create(string name, IBackend backend, float labelSmoothing = 0) =>
        (name, SmoothedSoftmaxLoss.CheckSmoothing(labelSmoothing, nameof(labelSmoothing))) switch
    {
        ("softmax" or "cross-entropy", > 0) => new SmoothedSoftmaxLoss(backend, labelSmoothing),
        ("softmax" or "cross-entropy", _) => new SoftmaxCrossEntropyLoss(backend),
        ("svm" or "hinge", > 0) => throw new ArgumentException("Label smoothing applies to the softmax loss, not to svm.", nameof(labelSmoothing)),
        ("svm" or "hinge", _) => new SvmLoss(backend),
        _ => throw new ArgumentException($"Unknown loss '{name}': use softmax or svm."),
    };

    /// <summary>That the <paramref name="n"/> labels are class indices in [0, <paramref name="k"/>), or an
    /// ArgumentException naming the loss, the label and its row.</summary>
    protected static void CheckLabels(string loss, ReadOnlySpan<float> labels, int n, int k)
    {
        for (int i = 0; i < n; i++)
            if (labels[i] < 0 || labels[i] >= k || labels[i] != (int)labels[i])
                throw new ArgumentException($"{loss}: label {labels[i]} at row {i} is not a class index in [0, {k}).", nameof(labels));
    }
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
/// A loss computed on the host from the [N, K] scores (small next to the network), so it runs with every backend: it
/// copies the scores and labels down, checks the labels, lets <see cref="Compute"/> fill dL/ds, and copies that up.
/// </summary>
public abstract class HostLoss(IBackend backend) : Loss(backend)
{
    private float[] _s = [], _ds = [], _y = [];
    private Tensor? _dscores;
    private bool _ready;

    /// <summary>How errors name the loss ("SVM loss").</summary>
    protected abstract string Title { get; }

    /// <summary>The batch's total loss (not yet averaged) from scores s [n × k] and labels y (checked class indices);
    /// writes dL/ds of the mean loss into ds, which starts cleared.</summary>
    protected abstract double Compute(ReadOnlySpan<float> s, ReadOnlySpan<float> y, Span<float> ds, int n, int k);

    public override float Forward(Tensor scores, Tensor labels)
    {
        if (scores.Rank != 2) throw new ArgumentException($"{Title}: scores must be [N, K], got {ShapeMath.Format(scores.Shape)}.", nameof(scores));
        int n = scores.Dim(0), k = scores.Dim(1);
        if (labels.Length != n) throw new ArgumentException($"{Title}: {labels.Length} labels for {n} rows of scores.", nameof(labels));
        if (_dscores is null || !_dscores.Shape.SequenceEqual(scores.Shape))
        {
            Dispose();
            _dscores = Backend.Allocate(scores.Shape);
            _s = new float[n * k]; _ds = new float[n * k]; _y = new float[n];
        }
        scores.CopyTo(_s); labels.CopyTo(_y);
        CheckLabels(Title, _y, n, k);
        Array.Clear(_ds);
        double total = Compute(_s, _y, _ds, n, k);
        _dscores.CopyFrom(_ds);
        _ready = true;
        return (float)(total / n);
    }

    public override Tensor Backward() =>
        _ready ? _dscores! : throw new InvalidOperationException($"{Title}: Backward called before Forward.");

    public override void Dispose()
    {
        _dscores?.Dispose();
        _dscores = null;
        _ready = false;
    }
}

/// <summary>
/// Softmax cross-entropy against smoothed targets (label smoothing, Szegedy et al. 2016, "Rethinking the Inception
/// Architecture for Computer Vision", §7): q = (1 − ε)·onehot(y) + ε/K, L = −Σₖ qₖ log softmax(s)ₖ averaged over the
/// batch, dL/ds = (softmax(s) − q) / N. The target never asks for a score infinitely above the others, so the network
/// is kept from growing over-confident. In double on the host (<see cref="HostLoss"/>).
/// </summary>
public sealed class SmoothedSoftmaxLoss(IBackend backend, float smoothing) : HostLoss(backend)
{
    public override string Name => "softmax";
    protected override string Title => "Softmax loss";
    /// <summary>ε: the share of each target spread evenly over the K classes.</summary>
    public float Smoothing { get; } = CheckSmoothing(smoothing, nameof(smoothing));

    /// <summary><paramref name="smoothing"/> when it is in [0, 1) (NaN is not), else an ArgumentException for <paramref name="parameter"/>.</summary>
    internal static float CheckSmoothing(float smoothing, string parameter) => smoothing >= 0 && smoothing < 1 ? smoothing
        : throw new ArgumentException($"Label smoothing must be in [0, 1), got {smoothing}.", parameter);

    /// <summary>−Σₖ qₖ log softmax(s)ₖ = logsumexp(s) − (1 − ε)·s_y − (ε/K)·Σₖ sₖ.</summary>
    public override double ExampleLoss(ReadOnlySpan<float> scores, int label)
    {
        var (max, sum, all) = Sums(scores);
        return max + Math.Log(sum) - (1 - Smoothing) * scores[label] - Smoothing / scores.Length * all;
    }

    /// <summary>The largest score, Σₖ exp(sₖ − max) and Σₖ sₖ.</summary>
    private static (double Max, double SumExp, double Sum) Sums(ReadOnlySpan<float> scores)
    {
        double max = double.NegativeInfinity, sum = 0, all = 0;
        foreach (float v in scores) { max = Math.Max(max, v); all += v; }
        foreach (float v in scores) sum += Math.Exp(v - max);
        return (max, sum, all);
    }

    protected override double Compute(ReadOnlySpan<float> s, ReadOnlySpan<float> y, Span<float> ds, int n, int k)
    {
        double total = 0, spread = Smoothing / k;
        for (int i = 0; i < n; i++)
        {
            var row = s.Slice(i * k, k);
            int label = (int)y[i];
            total += ExampleLoss(row, label);
            var (max, sum, _) = Sums(row);
            for (int j = 0; j < k; j++)
                ds[i * k + j] = (float)((Math.Exp(row[j] - max) / sum - spread - (j == label ? 1 - Smoothing : 0)) / n);
        }
        return total;
    }
}

/// <summary>
/// Multiclass SVM (hinge) loss from the notes: L = (1/N) Σₙ Σ_{j≠y} max(0, sⱼ − s_y + Δ), Δ = 1. On the host
/// (<see cref="HostLoss"/>).
/// </summary>
public sealed class SvmLoss(IBackend backend, float margin = 1f) : HostLoss(backend)
{
    public override string Name => "svm";
    protected override string Title => "SVM loss";

    public override double ExampleLoss(ReadOnlySpan<float> scores, int label)
    {
        double l = 0;
        for (int j = 0; j < scores.Length; j++)
            if (j != label) l += Math.Max(0.0, (double)scores[j] - scores[label] + Margin);
        return l;
    }
    public float Margin { get; } = margin;

    protected override double Compute(ReadOnlySpan<float> s, ReadOnlySpan<float> y, Span<float> ds, int n, int k)
    {
        double total = 0;
        for (int i = 0; i < n; i++)
        {
            int label = (int)y[i];
            float sy = s[i * k + label];
            for (int j = 0; j < k; j++)
            {
                if (j == label) continue;
                float m = s[i * k + j] - sy + Margin;
                if (m > 0) { total += m; ds[i * k + j] += 1f / n; ds[i * k + label] -= 1f / n; }
            }
        }
        return total;
    }
}
