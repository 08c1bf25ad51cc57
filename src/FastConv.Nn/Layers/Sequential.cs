namespace FastConv.Nn;

/// <summary>One row of a model summary: the notes' VGG table (activation memory and parameters per layer).</summary>
public sealed record LayerSummary(string Name, string Kind, string Description, int[] OutputShape, long Activations, long Parameters, long Flops);

/// <summary>
/// Layers applied in order. The input shape [C, H, W] (without the batch) is fixed at construction and every
/// layer's shape is checked then, so a model that does not fit together fails with the layer's name, not mid-epoch.
/// </summary>
public sealed class Sequential : IDisposable
{
    private readonly Layer[] _layers;

    public Sequential(IBackend backend, int[] inputShape, params Layer[] layers)
    {
        if (layers.Length == 0) throw new ArgumentException("Sequential: a model needs at least one layer.", nameof(layers));
        Backend = backend;
        InputShape = (int[])inputShape.Clone();
        _layers = layers;
        foreach (var l in layers)
            if (!ReferenceEquals(l.Backend, backend))
                throw new ArgumentException($"Sequential: layer {l.Kind} is on backend '{l.Backend.Name}', the model on '{backend.Name}'.");
        LayerChain.Name(layers, "");
        layers[0].ComputeInputGradient = false;
        Fuse(true);
        Summary = Summarize(1);
        OutputShape = Summary[^1].OutputShape[1..];
    }

    /// <summary>
    /// Whether neighbouring layers share work (on by default): a Conv2d followed by a ReLU applies the ReLU in its
    /// own forward pass, and a ReLU followed by a MaxPool2d leaves its backward to the pool, which masks the smaller
    /// pooled gradient instead. Losses, gradients and outputs are the same bit for bit either way; what changes is that
    /// such a Conv2d's <see cref="Layer.Output"/> is the activated map, and two passes over the largest activations
    /// are saved. Set it to false (at construction) to run every layer on its own.
    /// </summary>
    public bool FuseLayers { get => _fused; init => Fuse(value); }
    private bool _fused;

    private void Fuse(bool on)
    {
        _fused = on;
        LayerChain.Fuse(_layers, on);
    }

    public IBackend Backend { get; }
    /// <summary>[C, H, W] of one example.</summary>
    public int[] InputShape { get; }
    /// <summary>Shape of one example's output, e.g. [10].</summary>
    public int[] OutputShape { get; }
    public IReadOnlyList<Layer> Layers => _layers;
    public IReadOnlyList<LayerSummary> Summary { get; }
    public IEnumerable<Parameter> Parameters => _layers.SelectMany(l => l.Parameters);
    public long ParameterCount => Parameters.Sum(p => p.Value.Length);

    /// <summary>Per-layer output shapes, activation counts, parameter counts and forward FLOPs for a batch of <paramref name="batch"/>.
    /// A block's layers come first, each chain in turn ("res1.conv1", …), then the block's own row: its join (the add or the
    /// concatenation) and its output, with no parameters or FLOPs of its own, so the sums over the rows hold for any model.</summary>
    public IReadOnlyList<LayerSummary> Summarize(int batch)
    {
        var rows = new List<LayerSummary>();
        int[] shape = [batch, .. InputShape];
        foreach (var l in _layers) shape = Summarize(l, shape, rows);
        return rows;
    }

    private static int[] Summarize(Layer l, int[] shape, List<LayerSummary> rows)
    {
        int[] outShape;
        try { outShape = l.OutputShape(shape); }
        catch (ArgumentException e) { throw new ArgumentException($"Model does not fit together at {l.Name} ({l.Kind}, {l.Describe()}): {e.Message}", e); }
        if (l is Block b)
        {
            foreach (var chain in b.Chains)
            {
                int[] s = shape;
                foreach (var child in chain) s = Summarize(child, s, rows);
            }
            string join = b is ResidualBlock r ? (r.ReluAfterAdd ? "relu(body + shortcut)" : "body + shortcut") : $"concatenation of {b.Chains.Count} branches";
            rows.Add(new LayerSummary(l.Name, l.Kind, join, outShape, ShapeMath.ElementCount(outShape, "activations"), 0, 0));
            return outShape;
        }
        rows.Add(new LayerSummary(l.Name, l.Kind, l.Describe(), outShape, ShapeMath.ElementCount(outShape, "activations"),
            l.Parameters.Sum(p => p.Value.Length), l.ForwardFlops(shape)));
        return outShape;
    }

    /// <summary>FLOPs of one training step on a batch: forward, backward-filter and backward-data (each as many as the
    /// forward) of every conv and fc layer, less the first layer's backward-data, which a step does not compute.</summary>
    public long TrainingStepFlops(int batch)
    {
        var rows = Summarize(batch);
        return rows.Sum(r => 3 * r.Flops) - (rows.FirstOrDefault(r => r.Flops > 0)?.Flops ?? 0);
    }

    /// <summary>Seeded initialisation of every layer, in order.</summary>
    public void Initialize(int seed)
    {
        var rng = new Random(seed);
        foreach (var l in _layers) l.Initialize(rng);
    }

    /// <summary>Forward through every layer. <paramref name="step"/> seeds the dropout masks of a training step.</summary>
    public Tensor Forward(Tensor x, bool training, long step = 0)
    {
        if (x.Rank != InputShape.Length + 1 || !x.Shape[1..].SequenceEqual(InputShape))
            throw new ArgumentException($"Model: expects input [N, {string.Join(", ", InputShape)}], got {ShapeMath.Format(x.Shape)}.", nameof(x));
        LayerChain.Seed(_layers, unchecked((ulong)step));
        return LayerChain.Forward(_layers, x, training);
    }

    /// <summary>Backward from dL/d(output) through every layer, filling each parameter's gradient.</summary>
    public void Backward(Tensor dy)
    {
        LayerChain.Backward(_layers, dy);
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
    }
}
