namespace FastConv.Nn;

/// <summary>A learnable tensor and its gradient, both owned by the layer that declares it.</summary>
public sealed class Parameter : IDisposable
{
    public Parameter(IBackend backend, string name, int[] shape, bool decay)
    {
        Name = name;
        Value = backend.Allocate(shape);
        Grad = backend.Allocate(shape);
        Decay = decay;
    }

    /// <summary>"conv1.weight": the layer's name and the parameter's role.</summary>
    public string Name { get; internal set; }
    public Tensor Value { get; }
    public Tensor Grad { get; }
    /// <summary>Whether L2 weight decay applies (weights yes; biases and batch-norm scales no, as in the notes).</summary>
    public bool Decay { get; }

    public void Dispose()
    {
        Value.Dispose();
        Grad.Dispose();
    }
}

/// <summary>
/// One layer: forward and backward side by side, both through <see cref="IBackend"/> only, so the same
/// model runs on any backend. Outputs and input gradients are tensors the layer owns and reuses while the
/// input shape stays the same, so a training step in steady state allocates no new tensors.
/// </summary>
public abstract class Layer : IDisposable
{
    protected Layer(IBackend backend) => Backend = backend;

    public IBackend Backend { get; }
    /// <summary>"Conv2d", "ReLU", …</summary>
    public abstract string Kind { get; }
    /// <summary>Unique within a model, e.g. "conv1"; set by <see cref="Sequential"/>.</summary>
    public string Name { get; internal set; } = "";
    /// <summary>Whether <see cref="Backward"/> computes dx. The first layer of a model skips it.</summary>
    public bool ComputeInputGradient { get; set; } = true;

    public virtual IReadOnlyList<Parameter> Parameters => [];
    /// <summary>State that is not learned by gradient but is saved in checkpoints (batch-norm running statistics).</summary>
    public virtual IReadOnlyList<(string Name, Tensor Value)> Buffers => [];

    /// <summary>The output shape for an input shape [N, ...], or an <see cref="ArgumentException"/> naming the mismatch.</summary>
    public abstract int[] OutputShape(ReadOnlySpan<int> input);

    /// <summary>Multiply-add FLOPs (2 per multiply-add) of a forward pass on <paramref name="input"/>; 0 for layers
    /// whose cost is a memory pass, not arithmetic (pooling, ReLU, batch norm).</summary>
    public virtual long ForwardFlops(ReadOnlySpan<int> input) => 0;

    /// <summary>A short description of the hyper-parameters, e.g. "32 filters 7x7, stride 1, pad 3".</summary>
    public abstract string Describe();

    /// <summary>Seeded initialisation of the parameters (He for layers followed by ReLU, as the notes recommend).</summary>
    public virtual void Initialize(Random rng) { }

    /// <summary>y = layer(x). The returned tensor belongs to the layer and is overwritten by the next call.</summary>
    public abstract Tensor Forward(Tensor x, bool training);

    /// <summary>dx from dy for the input of the last <see cref="Forward"/>; also fills the parameter gradients.
    /// Returns null when <see cref="ComputeInputGradient"/> is off.</summary>
    public abstract Tensor? Backward(Tensor dy);

    public virtual void Dispose()
    {
        foreach (var p in Parameters) p.Dispose();
        foreach (var (_, t) in Buffers) t.Dispose();
        DisposeBuffers();
        GC.SuppressFinalize(this);
    }

    /// <summary>The input of the last Forward, and the layer's output and input-gradient buffers for its shape.</summary>
    protected Tensor? X, Y, Dx;

    /// <summary>The output of the last Forward (activation maps, for inspection); null before the first.</summary>
    public virtual Tensor? Output => Y;

    /// <summary>
    /// Called first in Forward: remembers <paramref name="x"/> and, when its shape differs from the last one,
    /// frees the per-shape buffers and allocates Y (of <see cref="OutputShape"/>) and Dx (of the input's shape),
    /// then lets the layer plan for the new shape in <see cref="OnShapeChanged"/>. Same shape: nothing is allocated.
    /// </summary>
    protected void Bind(Tensor x)
    {
        if (Y is null || X is null || !X.Shape.SequenceEqual(x.Shape))
        {
            var outShape = OutputShape(x.Shape);
            DisposeBuffers();
            Y = Backend.Allocate(outShape);
            Dx = Backend.Allocate(x.Shape);
            OnShapeChanged(x.Shape);
        }
        X = x;
    }

    /// <summary>Per-shape planning (convolution and pooling plans); runs after Y and Dx are allocated.</summary>
    protected virtual void OnShapeChanged(ReadOnlySpan<int> input) { }

    /// <summary>Frees the per-shape buffers (outputs, input gradients, plans).</summary>
    protected virtual void DisposeBuffers()
    {
        Y?.Dispose(); Dx?.Dispose();
        Y = null; Dx = null; X = null;
    }

    /// <summary>The input of the last Forward, or a clear error when Backward comes first.</summary>
    protected Tensor Input => X ?? throw new InvalidOperationException($"{Kind} '{Name}': Backward called before Forward.");

    protected static void CheckRank(ReadOnlySpan<int> input, int rank, string what)
    {
        if (input.Length != rank)
            throw new ArgumentException($"{what}: expects a rank-{rank} input, got {ShapeMath.Format(input)}.");
    }

    /// <summary>Fills a tensor with N(0, std²) values from <paramref name="rng"/> (Box–Muller, reproducible for a seed).</summary>
    protected static void FillNormal(Tensor t, Random rng, double std)
    {
        var a = new float[t.Length];
        for (int i = 0; i < a.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            a[i] = (float)(std * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        t.CopyFrom(a);
    }

    protected static void Fill(Tensor t, float value)
    {
        var a = new float[t.Length];
        Array.Fill(a, value);
        t.CopyFrom(a);
    }
}
