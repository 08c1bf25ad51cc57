namespace FastConv.Nn;

/// <summary>
/// Spatial batch normalisation (Ioffe &amp; Szegedy, as in the notes): per channel over N, H, W.
/// Training uses the batch's statistics and updates the running ones; evaluation uses the running ones.
/// </summary>
public sealed class BatchNorm2d : Layer
{
    private readonly Tensor _runningMean, _runningVar, _saveMean, _saveInvStd;
    private bool _trained;

    public BatchNorm2d(IBackend backend, int channels, float momentum = 0.1f, float epsilon = 1e-5f) : base(backend)
    {
        Conv2dDesc.Positive("channels", channels, Kind);
        Channels = channels; Momentum = momentum; Epsilon = epsilon;
        Gamma = new Parameter(backend, "gamma", [channels], decay: false);
        Beta = new Parameter(backend, "beta", [channels], decay: false);
        _runningMean = backend.Allocate([channels]);
        _runningVar = backend.Allocate([channels]);
        _saveMean = backend.Allocate([channels]);
        _saveInvStd = backend.Allocate([channels]);
    }

    public override string Kind => "BatchNorm2d";
    public int Channels { get; }
    public float Momentum { get; }
    public float Epsilon { get; }
    public Parameter Gamma { get; }
    public Parameter Beta { get; }
    public override IReadOnlyList<Parameter> Parameters => [Gamma, Beta];
    public override IReadOnlyList<(string Name, Tensor Value)> Buffers => [("running_mean", _runningMean), ("running_var", _runningVar)];
    public override string Describe() => $"{Channels} channels, momentum {Momentum}";

    /// <summary>The ReLU after this layer is applied here, forward and backward (set by <see cref="LayerChain.Fuse"/>):
    /// Y is max(0, ·) of the normalised x, and Backward takes dy as the gradient of that, masking it where Y is 0
    /// (the backend recomputes the mask from x in its one backward pass; no pass over Y, no ReLU pass).</summary>
    public bool FusedRelu { get; internal set; }

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        if (input.Length < 2 || input[1] != Channels)
            throw new ArgumentException($"BatchNorm2d '{Name}': expects [N, {Channels}, ...], got {ShapeMath.Format(input)}.");
        return input.ToArray();
    }

    public override void Initialize(Random rng)
    {
        Fill(Gamma.Value, 1f); Fill(Beta.Value, 0f);
        Fill(_runningMean, 0f); Fill(_runningVar, 1f);
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        _trained = training;
        if (training)
            Backend.BatchNormForwardTraining(x, Gamma.Value, Beta.Value, Y!, _saveMean, _saveInvStd, _runningMean, _runningVar, Momentum, Epsilon, FusedRelu);
        else
            Backend.BatchNormForwardInference(x, Gamma.Value, Beta.Value, _runningMean, _runningVar, Y!, Epsilon, FusedRelu);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        if (!_trained)
            throw new InvalidOperationException($"BatchNorm2d '{Name}': Backward needs the batch statistics of a training-mode Forward; the last Forward ran in inference mode.");
        // The backend computes dx, dγ and dβ together; dx is cheap next to the statistics it shares.
        Backend.BatchNormBackward(x, dy, Gamma.Value, _saveMean, _saveInvStd, Dx!, Gamma.Grad, Beta.Grad, FusedRelu, Beta.Value);
        return ComputeInputGradient ? Dx : null;
    }

    public override void Dispose()
    {
        base.Dispose();
        _saveMean.Dispose(); _saveInvStd.Dispose();
    }
}
