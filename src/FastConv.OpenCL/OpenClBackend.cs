using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>How the OpenCL backend runs convolutions (see opencl/f32-conv2d.cl).</summary>
public enum OpenClConvPath { Direct, Gemm }

/// <summary>
/// The OpenCL backend: every op of <see cref="IBackend"/> is a kernel of opencl/*.cl, so a whole training step
/// (forward, backward, update) stays on the device; tensors are device buffers that stay resident, and host copies
/// happen only through explicit transfers. Ops are synchronous (each waits for its kernels), so an error surfaces at
/// the op that caused it. Arguments are checked on the host by <see cref="Backend"/>, with the host backends' messages,
/// before any launch.
/// </summary>
public sealed class OpenClBackend : Backend, IAutoChoice, IDisposable
{
    internal const string ConvFile = "f32-conv2d.cl", PoolFile = "f32-pool2d.cl", GemmFile = "f32-gemm.cl", EltwiseFile = "f32-eltwise.cl",
                          BatchNormFile = "f32-batchnorm.cl", LossFile = "f32-loss.cl", OptimFile = "f32-optim.cl";
    /// <summary>Work-group tile of the GEMM-shaped kernels: TS_M x TS_N outputs, 16 x 16 work-items of 4 x 4 each.</summary>
    internal const int Tile = 64, TileThreads = 16;
    internal const string TileOptions = "-DTS_M=64 -DTS_N=64 -DTS_K=16 -DWPT_M=4 -DWPT_N=4";

    /// <summary>Where "opencl" stands under `auto`: first (a CPU device passes itself over, <see cref="PreferredForAuto"/>).</summary>
    public const int RegistryPriority = 0;

    /// <summary>Registers "opencl" on the default device; called at the composition root. Unavailable, with the reason,
    /// where there is no ICD loader, no platform or no device that builds the kernels.</summary>
    public static void Register() => BackendRegistry.Register("opencl", RegistryPriority, () => new OpenClBackend());

    private bool _disposed;
    private ClMem? _rowLoss, _bad;

    /// <summary>The device FASTCONV_OPENCL_DEVICE names (an index or part of a name), else the first GPU, else the first device.</summary>
    public OpenClBackend() : this(null) { }

    /// <summary>A device (index or part of a name; null: FASTCONV_OPENCL_DEVICE or the default) and, optionally, the
    /// convolution path (default: direct on a CPU device, GEMM elsewhere; FASTCONV_OPENCL_CONV=direct|gemm overrides).</summary>
    public OpenClBackend(string? device, OpenClConvPath? convPath = null)
    {
        _ = ClApi.Cl;   // throws BackendUnavailableException with the reason when there is no ICD loader
        var info = OpenClDevices.Select(device);
        Runtime = new ClRuntime(info);
        Device = info;
        DeviceName = info.Name.Replace(' ', '-');
        ConvPath = convPath ?? PathFromEnvironment() ?? (info.IsCpu ? OpenClConvPath.Direct : OpenClConvPath.Gemm);
        Name = convPath is null ? "opencl" : $"opencl:{convPath.Value.ToString().ToLowerInvariant()}";
        // build one program now: a device that cannot compile our kernels is unavailable, not broken later
        Runtime.Kernel(EltwiseFile, "fc_f32_relu_fwd");
    }

    public override string Name { get; }
    /// <summary>How convolutions run: 16-wide register tiles without barriers (CPUs), or work-group-tiled implicit GEMM (GPUs).</summary>
    public OpenClConvPath ConvPath { get; }

    private static OpenClConvPath? PathFromEnvironment()
    {
        var s = Environment.GetEnvironmentVariable("FASTCONV_OPENCL_CONV");
        if (string.IsNullOrWhiteSpace(s)) return null;
        return Enum.TryParse<OpenClConvPath>(s, ignoreCase: true, out var p) ? p
            : throw new ArgumentException($"FASTCONV_OPENCL_CONV must be 'direct' or 'gemm', got '{s}'.");
    }

    /// <summary>`auto` takes OpenCL on a GPU or accelerator; on a CPU device (PoCL) the native backend runs the same cores faster.</summary>
    public bool PreferredForAuto => !Device.IsCpu;
    public string AutoNote => PreferredForAuto ? "" : "auto passes over it: a CPU device, where native runs faster";
    public OpenClDeviceInfo Device { get; }
    /// <summary>The device's name as implementation names show it, e.g. "pthread-skylake-avx512-AMD-EPYC".</summary>
    public string DeviceName { get; }
    internal ClRuntime Runtime { get; }

    internal void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(OpenClBackend), $"OpenCL backend on {Device.Name} has been disposed; its tensors can only be disposed.");
    }

    public override Tensor Allocate(ReadOnlySpan<int> shape)
    {
        ThrowIfDisposed();
        var s = shape.ToArray();
        long n = ShapeMath.ElementCount(s, "opencl.Allocate");
        OpenClPlanLimits.CheckMemory($"a tensor {ShapeMath.Format(s)}", Device, [("data", OpenClPlanLimits.FloatBytes(Math.Max(n, 1)))]);
        return new Tensor(this, new OpenClStorage(this, n), s);
    }

    public override bool Supports(in Conv2dDesc desc) => !_disposed && base.Supports(desc);
    public override bool Supports(in Pool2dDesc desc) => !_disposed && base.Supports(desc);
    /// <summary>Shapes beyond the kernels' 32-bit indices (<see cref="OpenClPlanLimits"/>): `auto` passes them on to another backend.</summary>
    protected override string? Unsupported(in Conv2dDesc desc) => OpenClPlanLimits.Unsupported(desc, ConvPath);
    protected override string? Unsupported(in Pool2dDesc desc) => OpenClPlanLimits.Unsupported(desc);

    protected override void CheckUsable() => ThrowIfDisposed();
    protected override IConv2dPlan CreateConv2dCore(in Conv2dDesc desc) => new OpenClConv2dPlan(this, desc);
    protected override IPool2dPlan CreatePool2dCore(in Pool2dDesc desc) => new OpenClPool2dPlan(this, desc);

    protected override string LogName => $"opencl:{DeviceName}";

    /// <summary>The backend is alive, then the shared rules (<see cref="OpCheck"/>), then: a buffer of this backend.</summary>
    public override void CheckTensor(Tensor? t, string name, string op)
    {
        ThrowIfDisposed();
        OpCheck.Alive(t, name, op);
        if (t!.Storage is not OpenClStorage s || s.Backend != this)
            throw new ArgumentException($"{op}: {name} lives on backend '{t.Backend.Name}'; copy it with To(backend) first.", name);
    }

    internal void Run(string file, string kernel, ReadOnlySpan<long> global, params ReadOnlySpan<KernelArg> args) =>
        Runtime.Run(Runtime.Kernel(file, kernel), global, [], args);

    internal static ClMem Mem(Tensor t) => ((OpenClStorage)t.Storage).Mem;

    // ---- kernels: arguments checked by Backend

    protected override void GemmKernel(int m, int n, int k, Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta)
    {
        var ka = Runtime.Kernel(GemmFile, "fc_f32_gemm", TileOptions);
        Runtime.Run(ka, [(n + Tile - 1) / Tile * TileThreads, (m + Tile - 1) / Tile * TileThreads], [TileThreads, TileThreads],
            m, n, k, transA, transB, alpha, Mem(a), Mem(b), beta, Mem(c));
    }

    protected override void BiasAddForwardKernel(int n, int c, int inner, Tensor x, Tensor bias) =>
        Run(EltwiseFile, "fc_f32_bias_add_fwd", [x.Length], x.Length, c, (long)inner, Mem(x), Mem(bias));

    protected override void BiasAddBackwardKernel(int n, int c, int inner, Tensor dy, Tensor dbias) =>
        Runtime.Run(Runtime.Kernel(EltwiseFile, "fc_f32_bias_add_bwd"), [c], [1], n, c, (long)inner, Mem(dy), Mem(dbias));

    protected override void ReluForwardKernel(Tensor x, Tensor y) => Run(EltwiseFile, "fc_f32_relu_fwd", [x.Length], x.Length, Mem(x), Mem(y));

    protected override void ReluBackwardKernel(Tensor x, Tensor dy, Tensor dx) =>
        Run(EltwiseFile, "fc_f32_relu_bwd", [x.Length], x.Length, Mem(x), Mem(dy), Mem(dx));

    protected override void EltwiseKernel(EltwiseOp op, Tensor x, Tensor? dy, Tensor y, float alpha)
    {
        if (dy is null) Run(EltwiseFile, op.Symbol, [x.Length], x.Length, Mem(x), Mem(y), alpha);
        else Run(EltwiseFile, op.Symbol, [x.Length], x.Length, Mem(x), Mem(dy), Mem(y), alpha);
    }

    protected override void ConcatKernel(int n, int inner, Tensor part, int partChannels, Tensor whole, int wholeChannels, int offset, bool toWhole) =>
        Run(EltwiseFile, toWhole ? "fc_f32_concat_fwd" : "fc_f32_concat_bwd", [part.Length], part.Length, partChannels, wholeChannels, offset,
            (long)inner, Mem(part), Mem(whole));

    protected override void GlobalAvgPool2dForwardKernel(int n, int c, int hw, Tensor x, Tensor y) =>
        Run(PoolFile, "fc_f32_global_avgpool2d_fwd", [n * c], n * c, hw, Mem(x), Mem(y));

    protected override void GlobalAvgPool2dBackwardKernel(int n, int c, int hw, Tensor dy, Tensor dx) =>
        Run(PoolFile, "fc_f32_global_avgpool2d_bwd", [dx.Length], dx.Length, hw, Mem(dy), Mem(dx));

    protected override void BatchNormForwardTrainingKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta, Tensor y,
        Tensor saveMean, Tensor saveInvStd, Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu)
    {
        ClMem sm = Mem(saveMean), si = Mem(saveInvStd);
        Run(BatchNormFile, "fc_f32_batchnorm_stats", [c], n, c, hw, momentum, epsilon, Mem(x), sm, si, Mem(runningMean), Mem(runningVar));
        Run(BatchNormFile, "fc_f32_batchnorm_apply", [x.Length], x.Length, c, hw, relu ? 1 : 0, Mem(x), Mem(gamma), Mem(beta), sm, si, Mem(y));
    }

    protected override void BatchNormForwardInferenceKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor y, float epsilon, bool relu) =>
        Run(BatchNormFile, "fc_f32_batchnorm_fwd_infer", [x.Length], x.Length, c, hw, relu ? 1 : 0, epsilon, Mem(x), Mem(gamma), Mem(beta),
            Mem(runningMean), Mem(runningVar), Mem(y));

    protected override void BatchNormBackwardKernel(int n, int c, int hw, Tensor x, Tensor dy, Tensor gamma, Tensor saveMean,
        Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta, Tensor? reluBeta)
    {
        ClMem pdy = Mem(dy), m = Mem(saveMean), s = Mem(saveInvStd), dg = Mem(dgamma), db = Mem(dbeta), g = Mem(gamma);
        // without the ReLU the kernels never read beta: gamma stands in for the argument
        int relu = reluBeta is null ? 0 : 1;
        ClMem b = reluBeta is null ? g : Mem(reluBeta);
        Run(BatchNormFile, "fc_f32_batchnorm_bwd_reduce", [c], n, c, hw, relu, Mem(x), pdy, g, b, m, s, dg, db);
        Run(BatchNormFile, "fc_f32_batchnorm_bwd_data", [x.Length], x.Length, c, hw, relu, (float)n * hw, Mem(x), pdy, g, b, m, s, dg, db, Mem(dx));
    }

    protected override void DropoutForwardKernel(Tensor x, Tensor y, Tensor mask, float p, ulong seed) =>
        Run(EltwiseFile, "fc_f32_dropout_fwd", [x.Length], x.Length, p, 1f / (1f - p), seed, Mem(x), Mem(y), Mem(mask));

    protected override void DropoutBackwardKernel(Tensor dy, Tensor mask, Tensor dx) =>
        Run(EltwiseFile, "fc_f32_dropout_bwd", [dy.Length], dy.Length, Mem(dy), Mem(mask), Mem(dx));

    /// <summary>Per-row losses and the "bad label" flag, grown as needed and reused.</summary>
    private (ClMem RowLoss, ClMem Bad) LossScratch(int n)
    {
        if (_rowLoss is null || _rowLoss.IsClosed || n > _rowLossLength)
        {
            _rowLoss?.Dispose();
            _rowLoss = Runtime.CreateBuffer(4L * n, "softmax row losses");
            _rowLossLength = n;
        }
        _bad ??= Runtime.CreateBuffer(4, "label check flag");
        Runtime.Write(_bad, 0, BitConverter.GetBytes(int.MaxValue));
        return (_rowLoss, _bad);
    }

    private int _rowLossLength;

    private void ThrowIfBadLabel(ClMem bad, Tensor labels, int k, string op)
    {
        Span<byte> b = stackalloc byte[4];
        Runtime.Read(bad, 0, b);
        int first = BitConverter.ToInt32(b);
        if (first == int.MaxValue) return;
        var row = new float[1];
        labels.Storage.Read(first - 1, row);
        throw BadLabel(op, first - 1, row[0], k);
    }

    protected override float SoftmaxCrossEntropyForwardKernel(int n, int k, Tensor logits, Tensor labels, Tensor probs)
    {
        var (rows, bad) = LossScratch(n);
        Run(LossFile, "fc_f32_softmax_xent_fwd", [n], n, k, Mem(logits), Mem(labels), Mem(probs), rows, bad);
        ThrowIfBadLabel(bad, labels, k, nameof(SoftmaxCrossEntropyForward));
        var losses = new float[n];
        Runtime.Read(rows, 0, System.Runtime.InteropServices.MemoryMarshal.AsBytes(losses.AsSpan()));
        float loss = 0f;
        foreach (var l in losses) loss += l;
        return loss / n;
    }

    protected override void SoftmaxCrossEntropyBackwardKernel(int n, int k, Tensor probs, Tensor labels, Tensor dlogits)
    {
        var (_, bad) = LossScratch(n);
        Run(LossFile, "fc_f32_softmax_xent_bwd", [(long)n * k], n, k, Mem(probs), Mem(labels), Mem(dlogits), bad);
        ThrowIfBadLabel(bad, labels, k, nameof(SoftmaxCrossEntropyBackward));
    }

    protected override void SgdMomentumUpdateKernel(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, bool nesterov) =>
        Run(OptimFile, "fc_f32_sgd_update", [weights.Length], weights.Length, lr, momentum, weightDecay, nesterov, Mem(weights), Mem(grad), Mem(velocity));

    protected override void AdamUpdateKernel(Tensor weights, Tensor grad, Tensor m, Tensor v,
                                             float lr, float beta1, float beta2, float epsilon, int step, float weightDecay)
    {
        float c1 = 1f - MathF.Pow(beta1, step), c2 = 1f - MathF.Pow(beta2, step);
        Run(OptimFile, "fc_f32_adam_update", [weights.Length], weights.Length, lr, beta1, beta2, epsilon, c1, c2, weightDecay,
            Mem(weights), Mem(grad), Mem(m), Mem(v));
    }

    /// <summary>Releases the context, queue, programs and kernels. Tensors still alive keep their buffers (OpenCL counts
    /// references) and can be disposed; any other use of them, or of this backend, throws ObjectDisposedException.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _rowLoss?.Dispose();
        _bad?.Dispose();
        Runtime.Dispose();
    }

    public override string ToString() => $"opencl ({Device})";
}
