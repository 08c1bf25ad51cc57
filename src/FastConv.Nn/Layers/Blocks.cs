namespace FastConv.Nn;

/// <summary>
/// What a chain of layers does wherever it appears, in a <see cref="Sequential"/> model or inside a block: names
/// ("conv1", "bn2", and inside a block "res3.conv1"), the neighbour fusions, forward and backward in order.
/// </summary>
public static class LayerChain
{
    private static string Stem(Layer l) => l.Kind switch
    {
        "Conv2d" => "conv", "Linear" => "fc", "BatchNorm2d" => "bn", "ReLU" => "relu",
        "MaxPool2d" or "AvgPool2d" or "GlobalAvgPool2d" => "pool", "Dropout" => "drop", "Residual" => "res", "Inception" => "inception",
        "ChannelPadShortcut" => "pad", _ => l.Kind.ToLowerInvariant(),
    };

    /// <summary>Names each layer by its kind's stem and count, with <paramref name="prefix"/> ("res1."), its parameters
    /// "&lt;layer&gt;.&lt;role&gt;", and a block's own layers under its name.</summary>
    public static void Name(IReadOnlyList<Layer> layers, string prefix)
    {
        var counts = new Dictionary<string, int>();
        foreach (var l in layers)
        {
            string stem = Stem(l);
            counts[stem] = counts.GetValueOrDefault(stem) + 1;
            l.Name = $"{prefix}{stem}{counts[stem]}";
            if (l is Block b) b.NameChildren();
            else foreach (var p in l.Parameters) p.Name = $"{l.Name}.{(p.Name.Contains('.') ? p.Name[(p.Name.LastIndexOf('.') + 1)..] : p.Name)}";
        }
    }

    /// <summary>
    /// Whether neighbouring layers share work: a Conv2d followed by a ReLU applies the ReLU in its own forward pass, a
    /// BatchNorm2d followed by a ReLU applies it forward and masks its gradient backward (one pass each way), and
    /// a ReLU followed by a MaxPool2d leaves its backward to the pool, which masks the smaller pooled gradient instead.
    /// Losses, gradients and outputs are the same bit for bit either way. Blocks fuse their own chains the same way.
    /// </summary>
    public static void Fuse(IReadOnlyList<Layer> layers, bool on)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i] is Block b) b.Fuse(on);
            if (layers[i] is not ReLU relu) continue;
            bool afterConv = on && i > 0 && layers[i - 1] is Conv2d;
            bool afterBatchNorm = on && i > 0 && layers[i - 1] is BatchNorm2d;
            bool beforeMaxPool = on && i + 1 < layers.Count && layers[i + 1] is MaxPool2d;
            if (i > 0 && layers[i - 1] is Conv2d conv) conv.FusedActivation = afterConv ? Activation.Relu : Activation.None;
            if (i > 0 && layers[i - 1] is BatchNorm2d bn) bn.FusedRelu = afterBatchNorm;
            if (i + 1 < layers.Count && layers[i + 1] is MaxPool2d pool) pool.MasksGradientByOutput = beforeMaxPool;
            relu.AppliedByPrevious = afterConv || afterBatchNorm;
            relu.MaskedByPrevious = afterBatchNorm;
            relu.MaskedByNext = beforeMaxPool;
        }
    }

    /// <summary>The output shape of the chain, or an ArgumentException naming the layer that does not fit.</summary>
    public static int[] OutputShape(IReadOnlyList<Layer> layers, ReadOnlySpan<int> input, string where)
    {
        int[] shape = input.ToArray();
        foreach (var l in layers)
        {
            try { shape = l.OutputShape(shape); }
            catch (ArgumentException e) { throw new ArgumentException($"{where}: {l.Name} ({l.Kind}, {l.Describe()}) does not fit its input {ShapeMath.Format(shape)}: {e.Message}", e); }
        }
        return shape;
    }

    public static long ForwardFlops(IReadOnlyList<Layer> layers, ReadOnlySpan<int> input)
    {
        long flops = 0;
        int[] shape = input.ToArray();
        foreach (var l in layers) { flops += l.ForwardFlops(shape); shape = l.OutputShape(shape); }
        return flops;
    }

    /// <summary>Dropout masks of a training step: each dropout layer's seed from the step and its place.</summary>
    public static void Seed(IReadOnlyList<Layer> layers, ulong seed)
    {
        for (int i = 0; i < layers.Count; i++)
        {
            ulong s = unchecked(seed * 0x9E3779B97F4A7C15UL + (ulong)i);
            if (layers[i] is DropoutLayer d) d.Seed = s;
            else if (layers[i] is Block b) b.Seed(s);
        }
    }

    public static Tensor Forward(IReadOnlyList<Layer> layers, Tensor x, bool training)
    {
        Tensor h = x;
        foreach (var l in layers) h = l.Forward(h, training);
        return h;
    }

    public static Tensor? Backward(IReadOnlyList<Layer> layers, Tensor dy)
    {
        Tensor? g = dy;
        for (int i = layers.Count - 1; i >= 0 && g is not null; i--) g = layers[i].Backward(g);
        return g;
    }
}

/// <summary>
/// A layer made of chains of layers (a residual block, an inception module). It owns its chains like a layer owns its
/// parameters: their parameters and buffers are its own, named under its name ("res2.conv1.weight"), and its output and
/// input gradient are buffers it keeps for the batch shape, so a steady-state step allocates no tensor.
/// </summary>
public abstract class Block : Layer
{
    protected Block(IBackend backend, IReadOnlyList<Layer[]> chains) : base(backend)
    {
        foreach (var l in chains.SelectMany(c => c))
            if (!ReferenceEquals(l.Backend, backend))
                throw new ArgumentException($"{Kind}: layer {l.Kind} is on backend '{l.Backend.Name}', the block on '{backend.Name}'.");
        Chains = chains;
        foreach (var c in chains) Fuse(c, true);
    }

    /// <summary>The block's chains of layers, in the order they are named and saved (an empty chain is the identity).</summary>
    public IReadOnlyList<Layer[]> Chains { get; }
    /// <summary>What each chain is, for summaries: "body", "shortcut", "1x1", …</summary>
    public abstract IReadOnlyList<string> ChainNames { get; }
    public IEnumerable<Layer> Children => Chains.SelectMany(c => c);

    public override IReadOnlyList<Parameter> Parameters => Children.SelectMany(l => l.Parameters).ToArray();
    public override IReadOnlyList<(string Name, Tensor Value)> Buffers =>
        Children.SelectMany(l => l.Buffers.Select(b => ($"{l.Name[(Name.Length + 1)..]}.{b.Name}", b.Value))).ToArray();

    internal void NameChildren()
    {
        for (int i = 0; i < Chains.Count; i++) LayerChain.Name(Chains[i], $"{Name}.{(Chains.Count > 1 && ChainPrefix(i) is { } p ? p : "")}");
    }

    /// <summary>A name part that keeps the layers of different chains apart ("b2." for an inception branch); null for none.</summary>
    protected virtual string? ChainPrefix(int chain) => null;

    internal void Fuse(bool on) { foreach (var c in Chains) Fuse(c, on); }
    private static void Fuse(Layer[] chain, bool on) => LayerChain.Fuse(chain, on);

    internal void Seed(ulong seed)
    {
        for (int i = 0; i < Chains.Count; i++) LayerChain.Seed(Chains[i], unchecked(seed + (ulong)i * 0xD1B54A32D192ED03UL));
    }

    public override long ForwardFlops(ReadOnlySpan<int> input)
    {
        long f = 0;
        foreach (var c in Chains) f += LayerChain.ForwardFlops(c, input);
        return f;
    }

    public override void Initialize(Random rng)
    {
        foreach (var l in Children) l.Initialize(rng);
    }

    /// <summary>The chain's first layer computes dx only when the block must.</summary>
    protected void PropagateInputGradient()
    {
        foreach (var c in Chains) if (c.Length > 0) c[0].ComputeInputGradient = ComputeInputGradient;
    }

    public override string Describe() =>
        string.Join("; ", Chains.Select((c, i) => $"{ChainNames[i]}: " + (c.Length == 0 ? "identity" : string.Join(" - ", c.Select(Short)))));

    /// <summary>One layer in a few characters: "conv3x3-16/s2", "bn", "relu", "pool3x3/s1".</summary>
    public static string Short(Layer l) => l switch
    {
        Conv2d c => $"conv{c.KernelSize}x{c.KernelSize}-{c.OutChannels}" + (c.Stride != 1 ? $"/s{c.Stride}" : "") + (c.Bias is null ? "" : "+b"),
        Pool2dLayer p => $"{(p is AvgPool2d ? "avg" : "max")}pool{p.KernelSize}x{p.KernelSize}/s{p.Stride}",
        BatchNorm2d => "bn",
        ReLU => "relu",
        ChannelPadShortcut s => $"subsample/s{s.Stride}+zero-pad to {s.OutChannels}",
        Block b => $"{b.Kind}({b.Describe()})",
        _ => l.Kind.ToLowerInvariant(),
    };

    public override void Dispose()
    {
        foreach (var l in Children) l.Dispose();
        DisposeBuffers();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// He et al. 2015's residual block: y = relu(body(x) + shortcut(x)). The shortcut is the identity (an empty chain), a
/// projection (option B: a 1x1 stride-2 convolution without bias and a batch norm) or <see cref="ChannelPadShortcut"/>
/// (option A: subsample and zero-pad the channels, no parameters). Backward: the add passes dy to both branches; dx is
/// the sum of what the body and the shortcut return.
/// </summary>
public sealed class ResidualBlock : Block
{
    private Tensor? _dsum;

    // reluAfterAdd: max(0, ·) of the sum (the paper's block); false returns the sum itself.
    public ResidualBlock(IBackend backend, Layer[] body, Layer[]? shortcut = null, bool reluAfterAdd = true)
        : base(backend, [body ?? throw new ArgumentNullException(nameof(body)), shortcut ?? []])
    {
        if (body.Length == 0) throw new ArgumentException("Residual: the body needs at least one layer.", nameof(body));
        ReluAfterAdd = reluAfterAdd;
    }

    public override string Kind => "Residual";
    public override IReadOnlyList<string> ChainNames => ["body", "shortcut"];
    protected override string? ChainPrefix(int chain) => chain == 1 ? "shortcut." : null;
    public Layer[] Body => Chains[0];
    public Layer[] Shortcut => Chains[1];
    public bool ReluAfterAdd { get; }

    public override string Describe() => base.Describe() + (ReluAfterAdd ? "; relu after the add" : "");

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        var body = LayerChain.OutputShape(Body, input, $"Residual '{Name}' body");
        var shortcut = LayerChain.OutputShape(Shortcut, input, $"Residual '{Name}' shortcut");
        if (!body.SequenceEqual(shortcut))
            throw new ArgumentException($"Residual '{Name}': the body gives {ShapeMath.Format(body)}, the shortcut {ShapeMath.Format(shortcut)}; " +
                                        "they must match to be added (a shortcut that changes size or channels needs a projection or channel padding).");
        return body;
    }

    protected override void OnShapeChanged(ReadOnlySpan<int> input) => _dsum = ReluAfterAdd ? Backend.Allocate(Y!.Shape) : null;

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        PropagateInputGradient();
        var body = LayerChain.Forward(Body, x, training);
        var shortcut = Shortcut.Length == 0 ? x : LayerChain.Forward(Shortcut, x, training);
        Backend.AddForward(body, shortcut, Y!);
        if (ReluAfterAdd) Backend.ReluForward(Y!, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        _ = Input;
        Tensor g = dy;
        if (ReluAfterAdd) { Backend.ReluBackward(Y!, dy, _dsum!); g = _dsum!; }   // relu(s) > 0 exactly where s > 0
        var dBody = LayerChain.Backward(Body, g);
        var dShortcut = Shortcut.Length == 0 ? g : LayerChain.Backward(Shortcut, g);
        if (!ComputeInputGradient) return null;
        Backend.AddForward(dBody!, dShortcut!, Dx!);
        return Dx;
    }

    protected override void DisposeBuffers()
    {
        _dsum?.Dispose();
        _dsum = null;
        base.DisposeBuffers();
    }
}

/// <summary>
/// GoogLeNet's inception module (Szegedy et al. 2014): branches side by side on the same input, their outputs
/// concatenated along the channels. Backward splits dy by channels, runs each branch back, and sums their dx.
/// </summary>
public sealed class InceptionBlock : Block
{
    private Tensor[] _outputs = [], _dys = [];

    public InceptionBlock(IBackend backend, params Layer[][] branches) : base(backend, branches)
    {
        if (branches.Length < 2) throw new ArgumentException($"Inception: needs at least 2 branches, got {branches.Length}.", nameof(branches));
        for (int i = 0; i < branches.Length; i++)
            if (branches[i].Length == 0) throw new ArgumentException($"Inception: branch {i + 1} has no layers.", nameof(branches));
    }

    /// <summary>The paper's module (Table 1's columns): 1x1; 1x1 reduce → 3x3; 1x1 reduce → 5x5; 3x3 max pool (stride 1) → 1x1
    /// projection; every convolution with bias and a ReLU.</summary>
    public static InceptionBlock GoogLeNet(IBackend be, int cin, int c1, int r3, int c3, int r5, int c5, int pool)
    {
        Layer[] Conv(int i, int o, int k) => [new Conv2d(be, i, o, k, padding: k / 2), new ReLU(be)];
        return new InceptionBlock(be,
            Conv(cin, c1, 1),
            [.. Conv(cin, r3, 1), .. Conv(r3, c3, 3)],
            [.. Conv(cin, r5, 1), .. Conv(r5, c5, 5)],
            [new MaxPool2d(be, 3, 1, 1), .. Conv(cin, pool, 1)]);
    }

    public override string Kind => "Inception";
    public override IReadOnlyList<string> ChainNames => Chains.Select((_, i) => $"branch {i + 1}").ToArray();
    protected override string? ChainPrefix(int chain) => $"b{chain + 1}.";

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        int[]? first = null;
        int channels = 0;
        for (int i = 0; i < Chains.Count; i++)
        {
            var o = LayerChain.OutputShape(Chains[i], input, $"Inception '{Name}' branch {i + 1}");
            if (o.Length != 4) throw new ArgumentException($"Inception '{Name}': branch {i + 1} gives {ShapeMath.Format(o)}, expected [N, C, H, W].");
            if (first is not null && (o[0] != first[0] || o[2] != first[2] || o[3] != first[3]))
                throw new ArgumentException($"Inception '{Name}': branch {i + 1} gives {ShapeMath.Format(o)}, branch 1 {ShapeMath.Format(first)}; " +
                                            "branches must keep the same size to be concatenated.");
            first ??= o;
            channels += o[1];
        }
        return [first![0], channels, first[2], first[3]];
    }

    protected override void OnShapeChanged(ReadOnlySpan<int> input)
    {
        _outputs = new Tensor[Chains.Count];
        int[] shape = input.ToArray();
        _dys = Chains.Select(c => Backend.Allocate(LayerChain.OutputShape(c, shape, Name))).ToArray();
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        PropagateInputGradient();
        for (int i = 0; i < Chains.Count; i++) _outputs[i] = LayerChain.Forward(Chains[i], x, training);
        Backend.ConcatForward(_outputs, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        _ = Input;
        Backend.ConcatBackward(dy, _dys);
        for (int i = 0; i < Chains.Count; i++)
        {
            var dx = LayerChain.Backward(Chains[i], _dys[i]);
            if (!ComputeInputGradient) continue;
            if (i == 0) Backend.AddForward(dx!, dx!, Dx!, 0f);   // Dx = dx (dx + 0·dx), one pass
            else Backend.AddForward(Dx!, dx!, Dx!);
        }
        return ComputeInputGradient ? Dx : null;
    }

    protected override void DisposeBuffers()
    {
        foreach (var t in _dys) t.Dispose();
        _dys = []; _outputs = [];
        base.DisposeBuffers();
    }
}

/// <summary>
/// He et al.'s option A shortcut: x subsampled by <see cref="Stride"/> and its channels zero-padded to
/// <see cref="OutChannels"/> (output channel k = input channel k, the rest zero); no parameters. Forward is a 1x1
/// average pool of stride <see cref="Stride"/> (one element a window: an exact copy) and a channel concatenation with
/// a zero tensor; backward splits dy by channels and runs the pool's backward, which puts each gradient back at its
/// subsampled position and zeros elsewhere. Every backend has both ops. (It ran as a 1x1 convolution with fixed 0/1
/// weights until ResNet-20's step showed that costing 9 ms of 375 at 1 thread on Zen 4: the convolution multiplies
/// by the zeros.)
/// </summary>
public sealed class ChannelPadShortcut : Layer
{
    private IPool2dPlan? _pool;                       // null at stride 1
    private Tensor? _sub, _dsub, _zeros, _dzeros;     // [N, C, OH, OW] and [N, K − C, OH, OW]
    private Tensor[] _parts = [], _dparts = [];

    public ChannelPadShortcut(IBackend backend, int inChannels, int outChannels, int stride) : base(backend)
    {
        Conv2dDesc.Positive("channels C", inChannels, Kind); Conv2dDesc.Positive("stride", stride, Kind);
        if (outChannels < inChannels)
            throw new ArgumentOutOfRangeException(nameof(outChannels), outChannels, $"{Kind}: pads {inChannels} channels to {outChannels}; it can only add channels.");
        InChannels = inChannels; OutChannels = outChannels; Stride = stride;
    }

    public override string Kind => "ChannelPadShortcut";
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }
    public override string Describe() => $"subsample by {Stride}, zero-pad {InChannels} to {OutChannels} channels";

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        CheckRank(input, 4, $"{Kind} '{Name}'");
        if (input[1] != InChannels)
            throw new ArgumentException($"{Kind} '{Name}': expects {InChannels} input channels, got {input[1]} (input {ShapeMath.Format(input)}).");
        // as a 1x1 convolution (or pool) of this stride without padding: ceil(H / stride)
        return [input[0], OutChannels, (input[2] - 1) / Stride + 1, (input[3] - 1) / Stride + 1];
    }

    protected override void OnShapeChanged(ReadOnlySpan<int> input)
    {
        int n = input[0], oh = Y!.Shape[2], ow = Y.Shape[3];
        if (Stride > 1)
        {
            _pool = Backend.CreatePool2d(new Pool2dDesc(PoolKind.Average, n, InChannels, input[2], input[3], 1, Stride));
            _sub = Backend.Allocate([n, InChannels, oh, ow]);
            _dsub = Backend.Allocate([n, InChannels, oh, ow]);
        }
        if (OutChannels > InChannels)
        {
            _zeros = Backend.Allocate([n, OutChannels - InChannels, oh, ow]);
            Fill(_zeros, 0f);
            _dzeros = Backend.Allocate([n, OutChannels - InChannels, oh, ow]);
        }
        _parts = _zeros is null ? [_sub ?? X!] : [_sub ?? X!, _zeros];
        _dparts = _dzeros is null ? [_dsub ?? Dx!] : [_dsub ?? Dx!, _dzeros];
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        if (_pool is not null) _pool.Forward(x, _sub!);
        else _parts[0] = x;   // stride 1: x itself, whichever tensor of this shape comes
        Backend.ConcatForward(_parts, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        if (!ComputeInputGradient) return null;
        Backend.ConcatBackward(dy, _dparts);
        _pool?.Backward(x, _dsub!, Dx!);
        return Dx;
    }

    protected override void DisposeBuffers()
    {
        _pool?.Dispose();
        foreach (var t in new[] { _sub, _dsub, _zeros, _dzeros }) t?.Dispose();
        _pool = null; _sub = _dsub = _zeros = _dzeros = null;
        _parts = _dparts = [];
        base.DisposeBuffers();
    }
}
