namespace FastConv.Nn;

/// <summary>Fully connected (affine) layer: y [N, out] = x [N, in] · Wᵀ + b, with W [out, in] as PyTorch stores it.
/// Backward: dW = dyᵀ·x, db = Σₙ dy, dx = dy·W — three GEMMs on the backend.</summary>
public sealed class Linear : Layer
{
    public Linear(IBackend backend, int inFeatures, int outFeatures, bool heInit = true) : base(backend)
    {
        Conv2dDesc.Positive("in features", inFeatures, Kind); Conv2dDesc.Positive("out features", outFeatures, Kind);
        InFeatures = inFeatures; OutFeatures = outFeatures; HeInit = heInit;
        Weight = new Parameter(backend, "weight", [outFeatures, inFeatures], decay: true);
        Bias = new Parameter(backend, "bias", [outFeatures], decay: false);
    }

    public override string Kind => "Linear";
    public int InFeatures { get; }
    public int OutFeatures { get; }
    /// <summary>He (2/in) when a ReLU follows; Xavier (1/in) for the last, linear layer.</summary>
    public bool HeInit { get; }
    public Parameter Weight { get; }
    public Parameter Bias { get; }
    public override IReadOnlyList<Parameter> Parameters => [Weight, Bias];
    public override string Describe() => $"{InFeatures} → {OutFeatures}" + (HeInit ? "" : " (Xavier init)");

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        CheckRank(input, 2, $"Linear '{Name}' (put a Flatten before it)");
        if (input[1] != InFeatures)
            throw new ArgumentException($"Linear '{Name}': expects {InFeatures} input features, got {input[1]} (input {ShapeMath.Format(input)}).");
        return [input[0], OutFeatures];
    }

    public override long ForwardFlops(ReadOnlySpan<int> input) => 2L * OutputShape(input)[0] * InFeatures * OutFeatures;

    public override void Initialize(Random rng)
    {
        FillNormal(Weight.Value, rng, Math.Sqrt((HeInit ? 2.0 : 1.0) / InFeatures));
        Fill(Bias.Value, 0f);
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        Backend.Gemm(x, Weight.Value, Y!, transB: true);
        Backend.BiasAddForward(Y!, Bias.Value);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        Backend.Gemm(dy, x, Weight.Grad, transA: true);
        Backend.BiasAddBackward(dy, Bias.Grad);
        if (!ComputeInputGradient) return null;
        Backend.Gemm(dy, Weight.Value, Dx!);
        return Dx;
    }
}
