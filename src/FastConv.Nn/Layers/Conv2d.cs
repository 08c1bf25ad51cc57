namespace FastConv.Nn;

/// <summary>
/// Convolution: y [N, K, OH, OW] = conv(x [N, C, H, W], w [K, C, R, R]) + b [K]. One plan per batch shape,
/// made by the backend, which picks the algorithm and packs what it can.
/// </summary>
public sealed class Conv2d : Layer
{
    private IConv2dPlan? _plan;

    // bias: false for a convolution without bias (the one before a batch norm, whose beta takes its place).
    public Conv2d(IBackend backend, int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = true) : base(backend)
    {
        // Checked here, so a bad layer fails where it is declared rather than at its first forward pass.
        Conv2dDesc.Positive("channels C", inChannels, Kind); Conv2dDesc.Positive("filters K", outChannels, Kind);
        Conv2dDesc.Positive("kernel", kernel, Kind); Conv2dDesc.Positive("stride", stride, Kind);
        Conv2dDesc.NonNegative("padding", padding, Kind);
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernel; Stride = stride; Padding = padding;
        Weight = new Parameter(backend, "weight", [outChannels, inChannels, kernel, kernel], decay: true);
        Bias = bias ? new Parameter(backend, "bias", [outChannels], decay: false) : null;
    }

    public override string Kind => "Conv2d";
    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Parameter Weight { get; }
    /// <summary>Null for a convolution without bias.</summary>
    public Parameter? Bias { get; }
    /// <summary>The implementation the backend chose for the current batch shape, once Forward has run.</summary>
    public string? Implementation => _plan?.Implementation;

    /// <summary>The activation the plan applies after the bias (<see cref="Sequential"/> sets ReLU when a ReLU layer
    /// follows); the output is then the activated map and Backward still takes the gradient of the pre-activation.</summary>
    public Activation FusedActivation
    {
        get => _activation;
        internal set
        {
            if (value == _activation) return;
            _activation = value;
            DisposeBuffers();   // re-planned for the new activation at the next Forward
        }
    }
    private Activation _activation;

    public override IReadOnlyList<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    public override string Describe() => $"{OutChannels} filters {KernelSize}x{KernelSize}, stride {Stride}, pad {Padding}" + (Bias is null ? ", no bias" : "");

    private Conv2dDesc DescFor(ReadOnlySpan<int> input)
    {
        CheckRank(input, 4, $"Conv2d '{Name}'");
        if (input[1] != InChannels)
            throw new ArgumentException($"Conv2d '{Name}': expects {InChannels} input channels, got {input[1]} (input {ShapeMath.Format(input)}).");
        return new Conv2dDesc(input[0], InChannels, input[2], input[3], OutChannels, KernelSize, KernelSize, Stride, Padding,
                              activation: FusedActivation);
    }

    public override int[] OutputShape(ReadOnlySpan<int> input) => DescFor(input).OutputShape;
    public override long ForwardFlops(ReadOnlySpan<int> input) => DescFor(input).Flops;

    /// <summary>He initialisation: w ~ N(0, 2 / (C·R·S)), b = 0.</summary>
    public override void Initialize(Random rng)
    {
        FillNormal(Weight.Value, rng, Math.Sqrt(2.0 / (InChannels * KernelSize * KernelSize)));
        if (Bias is not null) Fill(Bias.Value, 0f);
    }

    protected override void OnShapeChanged(ReadOnlySpan<int> input)
    {
        _plan = Backend.CreateConv2d(DescFor(input));
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        _plan!.Forward(x, Weight.Value, Bias?.Value, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        _plan!.BackwardFilter(x, dy, Weight.Grad, Bias?.Grad);
        if (!ComputeInputGradient) return null;
        _plan.BackwardData(dy, Weight.Value, Dx!);
        return Dx;
    }

    protected override void DisposeBuffers()
    {
        _plan?.Dispose();
        _plan = null;
        base.DisposeBuffers();
    }
}
