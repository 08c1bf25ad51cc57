using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>How the OpenCL backend runs convolutions (see opencl/f32-conv2d.cl).</summary>
public enum OpenClConvPath { Direct, Gemm }

/// <summary>
/// The OpenCL backend: every op of <see cref="IBackend"/> is a kernel of opencl/*.cl, so a whole training step
/// (forward, backward, update) stays on the device; tensors are device buffers that stay resident, and host copies
/// happen only through explicit transfers. Ops are synchronous (each waits for its kernels), so an error surfaces at
/// the op that caused it. Arguments are checked on the host, with the host backends' messages, before any launch.
/// </summary>
public sealed class OpenClBackend : IBackend, IAutoChoice, IDisposable
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

    public string Name { get; }
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

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        ThrowIfDisposed();
        var s = shape.ToArray();
        return new Tensor(this, new OpenClStorage(this, ShapeMath.ElementCount(s, "opencl.Allocate")), s);
    }

    public bool Supports(in Conv2dDesc desc) => !_disposed;
    public bool Supports(in Pool2dDesc desc) => !_disposed;

    public IConv2dPlan CreateConv2d(in Conv2dDesc desc)
    {
        ThrowIfDisposed();
        return new OpenClConv2dPlan(this, desc);
    }

    public IPool2dPlan CreatePool2d(in Pool2dDesc desc)
    {
        ThrowIfDisposed();
        return new OpenClPool2dPlan(this, desc);
    }

    // ---- argument checks: the host backends' rules, for device buffers of this backend

    internal ClMem Buf(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        Alive(t, name, op);
        OpCheck.Shape(t!, name, shape, op);
        return ((OpenClStorage)t!.Storage).Mem;
    }

    internal ClMem Buf(Tensor? t, string name, long length, string op)
    {
        Alive(t, name, op);
        OpCheck.Length(t!, name, length, op);
        return ((OpenClStorage)t!.Storage).Mem;
    }

    /// <summary>The shared rules (<see cref="OpCheck"/>), then: a buffer of this backend.</summary>
    internal void Alive(Tensor? t, string name, string op)
    {
        ThrowIfDisposed();
        OpCheck.Alive(t, name, op);
        if (t!.Storage is not OpenClStorage s || s.Backend != this)
            throw new ArgumentException($"{op}: {name} lives on backend '{t.Backend.Name}'; copy it with To(backend) first.", name);
    }

    private Verbose.Scope Log(string op, Tensor t) => Verbose.Enabled ? Verbose.Op($"opencl:{DeviceName}", op, ShapeMath.Format(t.Shape)) : default;

    internal void Run(string file, string kernel, ReadOnlySpan<long> global, params ReadOnlySpan<KernelArg> args) =>
        Runtime.Run(Runtime.Kernel(file, kernel), global, [], args);

    // ---- ops

    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f)
    {
        const string op = "Gemm";
        Alive(a, nameof(a), op); Alive(b, nameof(b), op); Alive(c, nameof(c), op);
        var (m, n, k) = OpCheck.Gemm(a, b, c, transA, transB, alpha, beta);
        using var verbose = Verbose.Enabled ? Verbose.Op($"opencl:{DeviceName}", "gemm", $"m{m} n{n} k{k} ta{(transA ? 1 : 0)} tb{(transB ? 1 : 0)}") : default;
        var ka = Runtime.Kernel(GemmFile, "fc_f32_gemm", TileOptions);
        Runtime.Run(ka, [(n + Tile - 1) / Tile * TileThreads, (m + Tile - 1) / Tile * TileThreads], [TileThreads, TileThreads],
            m, n, k, transA, transB, alpha, ((OpenClStorage)a.Storage).Mem, ((OpenClStorage)b.Storage).Mem, beta, ((OpenClStorage)c.Storage).Mem);
    }

    public void BiasAdd(Tensor x, Tensor bias)
    {
        Alive(x, nameof(x), nameof(BiasAdd));
        var (n, c, inner) = OpCheck.Channels(x, nameof(x), nameof(BiasAdd));
        var pb = Buf(bias, nameof(bias), [c], nameof(BiasAdd));
        using var verbose = Log("bias_add", x);
        Run(EltwiseFile, "fc_f32_bias_add_fwd", [x.Length], x.Length, c, (long)inner, Mem(x), pb);
    }

    public void BiasBackward(Tensor dy, Tensor dbias)
    {
        Alive(dy, nameof(dy), nameof(BiasBackward));
        var (n, c, inner) = OpCheck.Channels(dy, nameof(dy), nameof(BiasBackward));
        var pdb = Buf(dbias, nameof(dbias), [c], nameof(BiasBackward));
        using var verbose = Log("bias_bwd", dy);
        Runtime.Run(Runtime.Kernel(EltwiseFile, "fc_f32_bias_add_bwd"), [c], [1], n, c, (long)inner, Mem(dy), pdb);
    }

    internal static ClMem Mem(Tensor t) => ((OpenClStorage)t.Storage).Mem;

    public void ReluForward(Tensor x, Tensor y)
    {
        Alive(x, nameof(x), nameof(ReluForward));
        var py = Buf(y, nameof(y), x.Shape, nameof(ReluForward));
        using var verbose = Log("relu_fwd", x);
        Run(EltwiseFile, "fc_f32_relu_fwd", [x.Length], x.Length, Mem(x), py);
    }

    public void ReluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        Alive(x, nameof(x), nameof(ReluBackward));
        var pdy = Buf(dy, nameof(dy), x.Shape, nameof(ReluBackward));
        var pdx = Buf(dx, nameof(dx), x.Shape, nameof(ReluBackward));
        using var verbose = Log("relu_bwd", x);
        Run(EltwiseFile, "fc_f32_relu_bwd", [x.Length], x.Length, Mem(x), pdy, pdx);
    }

    public void GlobalAvgPoolForward(Tensor x, Tensor y)
    {
        Alive(x, nameof(x), nameof(GlobalAvgPoolForward));
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), nameof(GlobalAvgPoolForward));
        var py = Buf(y, nameof(y), n * (long)c, nameof(GlobalAvgPoolForward));
        using var verbose = Log("gap_fwd", x);
        Run(PoolFile, "fc_f32_global_avgpool2d_fwd", [n * c], n * c, (int)hw, Mem(x), py);
    }

    public void GlobalAvgPoolBackward(Tensor dy, Tensor dx)
    {
        Alive(dx, nameof(dx), nameof(GlobalAvgPoolBackward));
        var (n, c, hw) = OpCheck.Channels(dx, nameof(dx), nameof(GlobalAvgPoolBackward));
        var pdy = Buf(dy, nameof(dy), n * (long)c, nameof(GlobalAvgPoolBackward));
        using var verbose = Log("gap_bwd", dx);
        Run(PoolFile, "fc_f32_global_avgpool2d_bwd", [dx.Length], dx.Length, (int)hw, pdy, Mem(dx));
    }

    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
                                         Tensor runningMean, Tensor runningVar, float momentum, float epsilon)
    {
        const string op = nameof(BatchNormForwardTraining);
        Alive(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        ClMem g = Buf(gamma, nameof(gamma), ch, op), b = Buf(beta, nameof(beta), ch, op), py = Buf(y, nameof(y), x.Shape, op);
        ClMem sm = Buf(saveMean, nameof(saveMean), ch, op), si = Buf(saveInvStd, nameof(saveInvStd), ch, op);
        ClMem rm = Buf(runningMean, nameof(runningMean), ch, op), rv = Buf(runningVar, nameof(runningVar), ch, op);
        OpCheck.BatchNormTraining(momentum, epsilon, op);
        using var verbose = Log("batchnorm_fwd_train", x);
        Run(BatchNormFile, "fc_f32_batchnorm_stats", [c], n, c, (int)hw, momentum, epsilon, Mem(x), sm, si, rm, rv);
        Run(BatchNormFile, "fc_f32_batchnorm_apply", [x.Length], x.Length, c, (int)hw, Mem(x), g, b, sm, si, py);
    }

    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float epsilon)
    {
        const string op = nameof(BatchNormForwardInference);
        Alive(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        ClMem g = Buf(gamma, nameof(gamma), ch, op), b = Buf(beta, nameof(beta), ch, op);
        ClMem rm = Buf(runningMean, nameof(runningMean), ch, op), rv = Buf(runningVar, nameof(runningVar), ch, op), py = Buf(y, nameof(y), x.Shape, op);
        OpCheck.Finite(epsilon, nameof(epsilon), op, positive: true);
        using var verbose = Log("batchnorm_fwd_infer", x);
        Run(BatchNormFile, "fc_f32_batchnorm_fwd_infer", [x.Length], x.Length, c, (int)hw, epsilon, Mem(x), g, b, rm, rv, py);
    }

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta)
    {
        const string op = nameof(BatchNormBackward);
        Alive(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        ClMem pdy = Buf(dy, nameof(dy), x.Shape, op), g = Buf(gamma, nameof(gamma), ch, op);
        ClMem m = Buf(saveMean, nameof(saveMean), ch, op), s = Buf(saveInvStd, nameof(saveInvStd), ch, op);
        ClMem pdx = Buf(dx, nameof(dx), x.Shape, op), dg = Buf(dgamma, nameof(dgamma), ch, op), db = Buf(dbeta, nameof(dbeta), ch, op);
        using var verbose = Log("batchnorm_bwd", x);
        Run(BatchNormFile, "fc_f32_batchnorm_bwd_reduce", [c], n, c, (int)hw, Mem(x), pdy, m, s, dg, db);
        Run(BatchNormFile, "fc_f32_batchnorm_bwd_data", [x.Length], x.Length, c, (int)hw, (float)n * hw, Mem(x), pdy, g, m, s, dg, db, pdx);
    }

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float p, ulong seed)
    {
        Alive(x, nameof(x), nameof(DropoutForward));
        var py = Buf(y, nameof(y), x.Shape, nameof(DropoutForward));
        var pm = Buf(mask, nameof(mask), x.Shape, nameof(DropoutForward));
        FastConv.Dropout.CheckP(p);
        using var verbose = Log("dropout_fwd", x);
        Run(EltwiseFile, "fc_f32_dropout_fwd", [x.Length], x.Length, p, 1f / (1f - p), seed, Mem(x), py, pm);
    }

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx)
    {
        Alive(dy, nameof(dy), nameof(DropoutBackward));
        var pm = Buf(mask, nameof(mask), dy.Shape, nameof(DropoutBackward));
        var pdx = Buf(dx, nameof(dx), dy.Shape, nameof(DropoutBackward));
        using var verbose = Log("dropout_bwd", dy);
        Run(EltwiseFile, "fc_f32_dropout_bwd", [dy.Length], dy.Length, Mem(dy), pm, pdx);
    }

    private (int N, int K) Logits(Tensor t, string op)
    {
        Alive(t, "logits", op);
        return OpCheck.Logits(t, op);
    }

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
        throw new ArgumentOutOfRangeException(nameof(labels), row[0], $"{op}: label {first - 1} is {row[0]}, expected a class index in [0, {k}).");
    }

    public float SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probs)
    {
        const string op = nameof(SoftmaxCrossEntropyForward);
        var (n, k) = Logits(logits, op);
        var pp = Buf(probs, nameof(probs), logits.Shape, op);
        var pl = Buf(labels, nameof(labels), [n], op);
        using var verbose = Log("softmax_xent_fwd", logits);
        var (rows, bad) = LossScratch(n);
        Run(LossFile, "fc_f32_softmax_xent_fwd", [n], n, k, Mem(logits), pl, pp, rows, bad);
        ThrowIfBadLabel(bad, labels, k, op);
        var losses = new float[n];
        Runtime.Read(rows, 0, System.Runtime.InteropServices.MemoryMarshal.AsBytes(losses.AsSpan()));
        float loss = 0f;
        foreach (var l in losses) loss += l;
        return loss / n;
    }

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dlogits)
    {
        const string op = nameof(SoftmaxCrossEntropyBackward);
        var (n, k) = Logits(probs, op);
        var pd = Buf(dlogits, nameof(dlogits), probs.Shape, op);
        var pl = Buf(labels, nameof(labels), [n], op);
        using var verbose = Log("softmax_xent_bwd", probs);
        var (_, bad) = LossScratch(n);
        Run(LossFile, "fc_f32_softmax_xent_bwd", [(long)n * k], n, k, Mem(probs), pl, pd, bad);
        ThrowIfBadLabel(bad, labels, k, op);
    }

    public void SgdMomentumUpdate(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay = 0f, bool nesterov = false)
    {
        const string op = nameof(SgdMomentumUpdate);
        Alive(weights, nameof(weights), op);
        var pg = Buf(grad, nameof(grad), weights.Shape, op);
        var pv = Buf(velocity, nameof(velocity), weights.Shape, op);
        OpCheck.Sgd(lr, momentum, weightDecay, op);
        using var verbose = Log("sgd_update", weights);
        Run(OptimFile, "fc_f32_sgd_update", [weights.Length], weights.Length, lr, momentum, weightDecay, nesterov, Mem(weights), pg, pv);
    }

    public void AdamUpdate(Tensor weights, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float epsilon, int step, float weightDecay = 0f)
    {
        const string op = nameof(AdamUpdate);
        Alive(weights, nameof(weights), op);
        var pg = Buf(grad, nameof(grad), weights.Shape, op);
        var pm = Buf(m, nameof(m), weights.Shape, op);
        var pv = Buf(v, nameof(v), weights.Shape, op);
        OpCheck.Adam(lr, beta1, beta2, epsilon, step, weightDecay, op);
        float c1 = 1f - MathF.Pow(beta1, step), c2 = 1f - MathF.Pow(beta2, step);
        using var verbose = Log("adam_update", weights);
        Run(OptimFile, "fc_f32_adam_update", [weights.Length], weights.Length, lr, beta1, beta2, epsilon, c1, c2, weightDecay, Mem(weights), pg, pm, pv);
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
