namespace FastConv.Nn;

/// <summary>y = max(0, x); dx = dy where x &gt; 0.</summary>
/// <remarks><see cref="Sequential"/> may fold either half into a neighbour (same results, bit for bit): after a
/// Conv2d the convolution applies max(0, ·) itself and Forward passes its output on (max(0, ·) of it changes nothing,
/// and x &gt; 0 there exactly where the pre-activation was); before a MaxPool2d the pool masks its incoming gradient by
/// its own output, so Backward has nothing left to do.</remarks>
public sealed class ReLU(IBackend backend) : Layer(backend)
{
    public override string Kind => "ReLU";
    public override string Describe() => "max(0, x)";
    public override int[] OutputShape(ReadOnlySpan<int> input) => input.ToArray();
    public override Tensor? Output => AppliedByPrevious ? X : Y;

    /// <summary>The layer before applies max(0, ·) (a Conv2d with <see cref="Conv2d.FusedActivation"/> ReLU, or a
    /// BatchNorm2d with <see cref="BatchNorm2d.FusedRelu"/>).</summary>
    public bool AppliedByPrevious { get; internal set; }
    /// <summary>The layer before also masks the gradient it receives (a BatchNorm2d with <see cref="BatchNorm2d.FusedRelu"/>),
    /// so this layer passes dy on.</summary>
    public bool MaskedByPrevious { get; internal set; }
    /// <summary>The layer after masks the gradient it returns (a MaxPool2d with <see cref="Pool2dLayer.MasksGradientByOutput"/>).</summary>
    public bool MaskedByNext { get; internal set; }

    public override Tensor Forward(Tensor x, bool training)
    {
        // Folded both ways the layer computes nothing and needs no buffers of its own.
        if (AppliedByPrevious && (MaskedByNext || MaskedByPrevious)) { X = x; return x; }
        Bind(x);
        if (AppliedByPrevious) return x;
        Backend.ReluForward(x, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        if (!ComputeInputGradient) return null;
        if (MaskedByNext || MaskedByPrevious) return dy;
        Backend.ReluBackward(x, dy, Dx!);
        return Dx;
    }
}

/// <summary>[N, C, H, W] → [N, C·H·W]: a view of the same storage, no copy.</summary>
public sealed class Flatten(IBackend backend) : Layer(backend)
{
    private Tensor? _x, _view, _dy, _dxView;

    public override string Kind => "Flatten";
    public override Tensor? Output => _view;
    public override string Describe() => "to [N, features]";

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        if (input.Length < 2) throw new ArgumentException($"Flatten '{Name}': expects [N, ...], got {ShapeMath.Format(input)}.");
        return [input[0], checked((int)ShapeMath.ElementCount(input[1..], "Flatten features"))];
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        // Views are cached per source tensor: the layer before reuses its output, so this allocates once.
        if (!ReferenceEquals(x, _x) || _view is null) { _view?.Dispose(); _view = x.Reshape(OutputShape(x.Shape)); }
        _x = x;
        return _view;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = _x ?? throw new InvalidOperationException($"Flatten '{Name}': Backward called before Forward.");
        if (!ComputeInputGradient) return null;
        if (!ReferenceEquals(dy, _dy) || _dxView is null || !_dxView.Shape.SequenceEqual(x.Shape))
        {
            _dxView?.Dispose();
            _dxView = dy.Reshape(x.Shape.ToArray());
        }
        _dy = dy;
        return _dxView;
    }

    protected override void DisposeBuffers()
    {
        // Views do not own storage; disposing them frees nothing of the layer before.
        _view?.Dispose(); _dxView?.Dispose();
        _view = null; _dxView = null; _x = null; _dy = null;
    }
}

/// <summary>Inverted dropout (the notes' version): at training time keep each unit with probability 1−p and scale by 1/(1−p);
/// at test time the identity. The mask comes from a counter-based hash of (seed, index), so a run is reproducible.</summary>
public sealed class DropoutLayer : Layer
{
    private Tensor? _mask;
    private bool _trained;

    public DropoutLayer(IBackend backend, float p) : base(backend)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout: p must be in [0, 1).");
        P = p;
    }

    public override string Kind => "Dropout";
    public override Tensor? Output => _trained ? Y : X;
    public float P { get; }
    /// <summary>Set by the model before each training forward pass (derived from the run seed and the step), so resumed runs draw the same masks.</summary>
    public ulong Seed { get; set; }
    public override string Describe() => $"p = {P}";
    public override int[] OutputShape(ReadOnlySpan<int> input) => input.ToArray();

    protected override void OnShapeChanged(ReadOnlySpan<int> input) => _mask = Backend.Allocate(input);

    public override Tensor Forward(Tensor x, bool training)
    {
        _trained = training;
        if (!training) return x;
        Bind(x);
        Backend.DropoutForward(x, Y!, _mask!, P, Seed);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        _ = Input;
        if (!_trained) throw new InvalidOperationException($"Dropout '{Name}': Backward after an inference-mode Forward.");
        if (!ComputeInputGradient) return null;
        Backend.DropoutBackward(dy, _mask!, Dx!);
        return Dx;
    }

    protected override void DisposeBuffers()
    {
        _mask?.Dispose();
        _mask = null;
        base.DisposeBuffers();
    }
}
