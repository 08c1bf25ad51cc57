namespace FastConv;

/// <summary>
/// Every convolution plan's ops written once: check → log → the plan's kernel, for host and device plans alike. A plan
/// adds where its tensors must live (<see cref="CheckTensor"/>) and its kernels, which receive tensors of the right shapes.
/// </summary>
public abstract class Conv2dPlan(Conv2dDesc desc) : IConv2dPlan
{
    public Conv2dDesc Desc { get; } = desc;
    public abstract string Implementation { get; }

    /// <summary>What runs for one op ("conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter"), as the verbose log names it:
    /// <see cref="Implementation"/>, unless the backend chooses per direction.</summary>
    protected virtual string ImplementationOf(string op) => Implementation;

    /// <summary>Not null, not disposed, and in the memory of the plan's backend.</summary>
    protected abstract void CheckTensor(Tensor? t, string name, string op);

    private void Arg(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        CheckTensor(t, name, op);
        OpCheck.Shape(t!, name, shape, op);
    }

    private bool _disposed;

    /// <summary>A call on a disposed plan is refused here, naming the plan, before any kernel touches what it freed.</summary>
    private void Alive(string op)
    {
        if (_disposed) throw new ObjectDisposedException("plan", $"{op}: the plan {Implementation} for {Desc} has been disposed.");
    }

    public void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        const string op = "Conv2d.Forward";
        Alive(op);
        var d = Desc;
        Arg(x, nameof(x), d.InputShape, op);
        Arg(w, nameof(w), d.WeightShape, op);
        if (bias is not null) Arg(bias, nameof(bias), d.BiasShape, op);
        Arg(y, nameof(y), d.OutputShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_fwd"), "conv2d_fwd", d);
        ForwardKernel(x, w, bias, y);
    }

    public void BackwardData(Tensor dy, Tensor w, Tensor dx)
    {
        const string op = "Conv2d.BackwardData";
        Alive(op);
        var d = Desc;
        Arg(dy, nameof(dy), d.OutputShape, op);
        Arg(w, nameof(w), d.WeightShape, op);
        Arg(dx, nameof(dx), d.InputShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_bwd_data"), "conv2d_bwd_data", d);
        BackwardDataKernel(dy, w, dx);
    }

    public void BackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias)
    {
        const string op = "Conv2d.BackwardFilter";
        Alive(op);
        var d = Desc;
        Arg(x, nameof(x), d.InputShape, op);
        Arg(dy, nameof(dy), d.OutputShape, op);
        Arg(dw, nameof(dw), d.WeightShape, op);
        if (dbias is not null) Arg(dbias, nameof(dbias), d.BiasShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_bwd_filter"), "conv2d_bwd_filter", d);
        BackwardFilterKernel(x, dy, dw, dbias);
    }

    protected abstract void ForwardKernel(Tensor x, Tensor w, Tensor? bias, Tensor y);
    protected abstract void BackwardDataKernel(Tensor dy, Tensor w, Tensor dx);
    protected abstract void BackwardFilterKernel(Tensor x, Tensor dy, Tensor dw, Tensor? dbias);

    /// <summary>Frees the plan once (<see cref="DisposeCore"/>); later calls on it throw ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeCore();
    }

    /// <summary>What the plan holds (a native plan, device buffers), freed once.</summary>
    protected virtual void DisposeCore() { }
}

/// <summary>Every pooling plan's ops written once: check → log → the plan's kernel.</summary>
public abstract class Pool2dPlan(Pool2dDesc desc) : IPool2dPlan
{
    public Pool2dDesc Desc { get; } = desc;
    public abstract string Implementation { get; }

    protected abstract void CheckTensor(Tensor? t, string name, string op);

    private void Arg(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        CheckTensor(t, name, op);
        OpCheck.Shape(t!, name, shape, op);
    }

    private bool _disposed;

    private void Alive(string op)
    {
        if (_disposed) throw new ObjectDisposedException("plan", $"{op}: the plan {Implementation} for {Desc} has been disposed.");
    }

    public void Forward(Tensor x, Tensor y)
    {
        Alive("Pool2d.Forward");
        Arg(x, nameof(x), Desc.InputShape, "Pool2d.Forward");
        Arg(y, nameof(y), Desc.OutputShape, "Pool2d.Forward");
        using var verbose = Verbose.Op(Implementation, Desc.Kind == PoolKind.Max ? "maxpool2d_fwd" : "avgpool2d_fwd", Desc);
        ForwardKernel(x, y);
    }

    public void Backward(Tensor x, Tensor dy, Tensor dx)
    {
        Alive("Pool2d.Backward");
        Arg(x, nameof(x), Desc.InputShape, "Pool2d.Backward");
        Arg(dy, nameof(dy), Desc.OutputShape, "Pool2d.Backward");
        Arg(dx, nameof(dx), Desc.InputShape, "Pool2d.Backward");
        using var verbose = Verbose.Op(Implementation, Desc.Kind == PoolKind.Max ? "maxpool2d_bwd" : "avgpool2d_bwd", Desc);
        BackwardKernel(x, dy, dx);
    }

    protected abstract void ForwardKernel(Tensor x, Tensor y);
    protected abstract void BackwardKernel(Tensor x, Tensor dy, Tensor dx);

    /// <summary>Frees the plan once (<see cref="DisposeCore"/>); later calls on it throw ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        DisposeCore();
    }

    /// <summary>What the plan holds (a native plan, device buffers), freed once.</summary>
    protected virtual void DisposeCore() { }
}
