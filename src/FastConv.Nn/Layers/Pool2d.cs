namespace FastConv.Nn;

/// <summary>Max or average pooling over kernel×kernel windows: y [N, C, OH, OW]. No parameters.</summary>
public abstract class Pool2dLayer : Layer
{
    private IPool2dPlan? _plan;

    protected Pool2dLayer(IBackend backend, PoolKind kind, int kernel, int stride, int padding) : base(backend)
    {
        Conv2dDesc.Positive("kernel", kernel, kind + "Pool2d"); Conv2dDesc.Positive("stride", stride, kind + "Pool2d");
        Conv2dDesc.NonNegative("padding", padding, kind + "Pool2d");
        PoolKind = kind; KernelSize = kernel; Stride = stride; Padding = padding;
    }

    public PoolKind PoolKind { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public string? Implementation => _plan?.Implementation;

    /// <summary>Max pooling after a ReLU (set by <see cref="Sequential"/>): Backward first zeroes dy where the pooled
    /// output is 0, which is the ReLU's backward done on the pooled map (k² times fewer elements): a window's gradient
    /// goes to its maximum, and that input is &gt; 0 exactly when the output is.</summary>
    public bool MasksGradientByOutput { get; internal set; }
    private Tensor? _masked;

    public override string Describe() => $"{KernelSize}x{KernelSize}, stride {Stride}" + (Padding > 0 ? $", pad {Padding}" : "");

    private Pool2dDesc DescFor(ReadOnlySpan<int> input)
    {
        CheckRank(input, 4, $"{Kind} '{Name}'");
        return new Pool2dDesc(PoolKind, input[0], input[1], input[2], input[3], KernelSize, Stride, Padding);
    }

    public override int[] OutputShape(ReadOnlySpan<int> input) => DescFor(input).OutputShape;

    protected override void OnShapeChanged(ReadOnlySpan<int> input) => _plan = Backend.CreatePool2d(DescFor(input));

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        _plan!.Forward(x, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        var x = Input;
        if (!ComputeInputGradient) return null;
        if (MasksGradientByOutput)
        {
            _masked ??= Backend.Allocate(Y!.Shape);
            Backend.ReluBackward(Y!, dy, _masked);
            dy = _masked;
        }
        _plan!.Backward(x, dy, Dx!);
        return Dx;
    }

    protected override void DisposeBuffers()
    {
        _plan?.Dispose(); _masked?.Dispose();
        _plan = null; _masked = null;
        base.DisposeBuffers();
    }
}

public sealed class MaxPool2d(IBackend backend, int kernel = 2, int stride = 2, int padding = 0)
    : Pool2dLayer(backend, PoolKind.Max, kernel, stride, padding)
{
    public override string Kind => "MaxPool2d";
}

public sealed class AvgPool2d(IBackend backend, int kernel = 2, int stride = 2, int padding = 0)
    : Pool2dLayer(backend, PoolKind.Average, kernel, stride, padding)
{
    public override string Kind => "AvgPool2d";
}

/// <summary>y [N, C] = mean of x [N, C, H, W] over H·W (the all-convolutional nets' replacement for a big FC layer).</summary>
public sealed class GlobalAvgPool2d(IBackend backend) : Layer(backend)
{
    public override string Kind => "GlobalAvgPool2d";
    public override string Describe() => "mean over H·W";

    public override int[] OutputShape(ReadOnlySpan<int> input)
    {
        CheckRank(input, 4, $"GlobalAvgPool2d '{Name}'");
        return [input[0], input[1]];
    }

    public override Tensor Forward(Tensor x, bool training)
    {
        Bind(x);
        Backend.GlobalAvgPool2dForward(x, Y!);
        return Y!;
    }

    public override Tensor? Backward(Tensor dy)
    {
        _ = Input;
        if (!ComputeInputGradient) return null;
        Backend.GlobalAvgPool2dBackward(dy, Dx!);
        return Dx;
    }
}
