using FastConv.Native.Interop;

namespace FastConv.Native;

/// <summary>
/// The native backend: convolution, pooling, GEMM, bias, ReLU and batch norm run in libfastconv.so (C with AVX2/AVX-512 variants
/// chosen at load, or the one asked for). Tensors are the shared host storage, so nothing is copied. Its kernel table is
/// the kernels it overrides below (with batch norm and the element-wise ops of libfastconv's list); every other op
/// (dropout, softmax, optimizers, global average pooling) falls back to <see cref="HostBackend"/>'s default, the
/// managed kernel, on the same memory.
/// Threads: the library's OpenMP pool, sized from <see cref="Parallelism.Threads"/> before every call.
/// </summary>
public sealed unsafe class NativeBackend : HostBackend
{
    private static int _threadsSet;

    /// <summary>Where "native" stands under `auto`: after OpenCL on a GPU, before the managed backend.</summary>
    public const int RegistryPriority = 10;

    /// <summary>Registers "native" (the variant chosen at load); called at the composition root. Unavailable, with the
    /// reason, where libfastconv.so does not load or the CPU has no variant.</summary>
    public static void Register() => BackendRegistry.Register("native", RegistryPriority, () => new NativeBackend());

    /// <summary>The variant chosen at load (cpuid, or FASTCONV_ISA).</summary>
    public NativeBackend() : this(null) { }

    /// <summary>A given variant (tests run every variant the machine has); unavailable when the CPU lacks it.</summary>
    public NativeBackend(NativeIsa? isa)
    {
        try { Version = NativeMethods.Str(NativeMethods.fc_version()); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new BackendUnavailableException(
                $"libfastconv.so could not be loaded ({e.Message}). `dotnet build` builds it with cmake and copies it next to the assemblies.");
        }
        if (isa is null or NativeIsa.Auto)
        {
            NativeIsa chosen = NativeMethods.fc_selected_isa();
            if (chosen == NativeIsa.Auto) throw new BackendUnavailableException($"Native backend: {NativeMethods.Str(NativeMethods.fc_last_error())}.");
            NativeIsa = chosen;
        }
        else
        {
            if (NativeMethods.fc_isa_supported(isa.Value) == 0)
                throw new BackendUnavailableException($"Native backend: this CPU does not support the {IsaName(isa.Value)} variant.");
            NativeIsa = isa.Value;
        }
        Name = isa is null or NativeIsa.Auto ? "native" : $"native:{IsaName(NativeIsa)}";
    }

    public override string Name { get; }

    /// <summary>The variant this backend runs.</summary>
    public NativeIsa NativeIsa { get; }
    /// <summary>libfastconv's version, e.g. "0.3.0".</summary>
    public string Version { get; }

    /// <summary>Every variant the machine runs, best last (scalar, avx2, avx512).</summary>
    public static IReadOnlyList<NativeIsa> SupportedIsas =>
        new[] { NativeIsa.Scalar, NativeIsa.Avx2, NativeIsa.Avx512 }.Where(i => NativeMethods.fc_isa_supported(i) != 0).ToList();

    public static string IsaName(NativeIsa isa) => NativeMethods.Str(NativeMethods.fc_isa_name(isa));

    /// <summary>The library's convolution implementation tables, best first per direction (the im2col GEMM last):
    /// each entry with the ISA variants it is built for. A plan takes per direction the first that applies.</summary>
    public static IReadOnlyList<NativeConvImplementation> ConvImplementations => ConvTables.Value;

    private static readonly Lazy<List<NativeConvImplementation>> ConvTables = new(ReadConvImplementations);

    private static List<NativeConvImplementation> ReadConvImplementations()
    {
        var list = new List<NativeConvImplementation>();
        foreach (var dir in Enum.GetValues<ConvDirection>())
            for (int i = 0, n = NativeMethods.fc_f32_conv2d_impl_count((int)dir); i < n; i++)
                list.Add(new NativeConvImplementation(dir, NativeMethods.Str(NativeMethods.fc_f32_conv2d_impl_name((int)dir, i)),
                    new[] { NativeIsa.Scalar, NativeIsa.Avx2, NativeIsa.Avx512 }
                        .Where(isa => NativeMethods.fc_f32_conv2d_impl_built((int)dir, i, isa) != 0).ToList()));
        return list;
    }

    /// <summary>A plan that runs the named entry of each direction's table (null: the one the plan would choose). An entry
    /// that is unknown, not built for this variant or unable to run <paramref name="desc"/> throws
    /// <see cref="NotSupportedException"/> with the library's reason: tests force every entry this way.</summary>
    public IConv2dPlan CreateConv2d(in Conv2dDesc desc, string? forward, string? backwardData, string? backwardFilter)
    {
        if (!Supports(desc)) throw new NotSupportedException($"Backend '{Name}' does not support {desc}.");
        return new NativeConv2dPlan(desc, NativeIsa, forward, backwardData, backwardFilter);
    }

    /// <summary>Keeps the library's thread count equal to FastConv's (FASTCONV_THREADS, or what the caller set).</summary>
    internal static void SyncThreads()
    {
        int t = Parallelism.Threads;
        if (t == Volatile.Read(ref _threadsSet)) return;
        NativeMethods.Check(NativeMethods.fc_set_num_threads(t), "fc_set_num_threads");
        Volatile.Write(ref _threadsSet, t);
    }

    protected override IConv2dPlan CreateConv2dCore(in Conv2dDesc desc) => new NativeConv2dPlan(desc, NativeIsa);
    protected override IPool2dPlan CreatePool2dCore(in Pool2dDesc desc) => new NativePool2dPlan(desc, NativeIsa);

    protected override void GemmCore(int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta)
    {
        SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_gemm(NativeIsa, transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha,
            a, transA ? m : k, b, transB ? k : n, beta, c, n), "fc_f32_gemm");
    }

    protected override void BiasAddForwardCore(int n, int c, int inner, float* x, float* bias) =>
        NativeMethods.Check(NativeMethods.fc_f32_bias_add_fwd(NativeIsa, n, c, inner, x, bias), "fc_f32_bias_add_fwd");

    protected override void BiasAddBackwardCore(int n, int c, int inner, float* dy, float* dbias) =>
        NativeMethods.Check(NativeMethods.fc_f32_bias_add_bwd(NativeIsa, n, c, inner, dy, dbias), "fc_f32_bias_add_bwd");

    protected override void ReluForwardCore(ReadOnlySpan<float> x, Span<float> y)
    {
        SyncThreads();
        fixed (float* px = x, py = y)
            NativeMethods.Check(NativeMethods.fc_f32_relu_fwd(NativeIsa, x.Length, px, py), "fc_f32_relu_fwd");
    }

    /// <summary>The native kernel table of the <see cref="EltwiseOp"/>s: each op's C entry point (<see cref="EltwiseOp.Symbol"/>)
    /// if libfastconv exports it, else 0, and the op runs its managed kernel.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<EltwiseOp, nint> EltwiseTable = new();

    private static nint EltwiseEntry(EltwiseOp op) => EltwiseTable.GetOrAdd(op, o =>
        System.Runtime.InteropServices.NativeLibrary.TryGetExport(
            System.Runtime.InteropServices.NativeLibrary.Load(NativeMethods.Library, typeof(NativeBackend).Assembly, null), o.Symbol, out var f) ? f : 0);

    /// <summary>Whether libfastconv has a kernel for <paramref name="op"/> (else it runs the managed one).</summary>
    public static bool HasKernel(EltwiseOp op) => EltwiseEntry(op) != 0;

    protected override void EltwiseCore(EltwiseOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> y, float alpha)
    {
        nint f = EltwiseEntry(op);
        if (f == 0) { base.EltwiseCore(op, x, dy, y, alpha); return; }
        SyncThreads();
        fixed (float* px = x, pdy = dy, py = y)
            NativeMethods.Check(op.Backward
                ? ((delegate* unmanaged<NativeIsa, long, float*, float*, float*, float, FcStatus>)f)(NativeIsa, x.Length, px, pdy, py, alpha)
                : ((delegate* unmanaged<NativeIsa, long, float*, float*, float, FcStatus>)f)(NativeIsa, x.Length, px, py, alpha), op.Symbol);
    }

    // Batch norm: threads take whole channels in C, so at 2 threads it no longer runs on one core beside a halved convolution.
    protected override void BatchNormForwardTrainingCore(int n, int c, int hw, BatchNormPointers p, float momentum, float epsilon, bool relu)
    {
        SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_batch_norm_fwd_training(NativeIsa, n, c, hw, p.X, p.Gamma, p.Beta, p.Y, p.SaveMean,
            p.SaveInvStd, p.RunningMean, p.RunningVar, momentum, epsilon, relu ? 1 : 0), "fc_f32_batch_norm_fwd_training");
    }

    protected override void BatchNormForwardInferenceCore(int n, int c, int hw, BatchNormPointers p, float epsilon, bool relu)
    {
        SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_batch_norm_fwd_inference(NativeIsa, n, c, hw, p.X, p.Gamma, p.Beta, p.RunningMean,
            p.RunningVar, p.Y, epsilon, relu ? 1 : 0), "fc_f32_batch_norm_fwd_inference");
    }

    protected override void BatchNormBackwardCore(int n, int c, int hw, float* x, float* dy, float* gamma, float* reluBeta, float* saveMean,
                                                  float* saveInvStd, float* dx, float* dgamma, float* dbeta)
    {
        SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_batch_norm_bwd(NativeIsa, n, c, hw, x, dy, gamma, reluBeta, saveMean, saveInvStd, dx,
            dgamma, dbeta, reluBeta is null ? 0 : 1), "fc_f32_batch_norm_bwd");
    }

    protected override void ReluBackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx)
    {
        SyncThreads();
        fixed (float* px = x, pdy = dy, pdx = dx)
            NativeMethods.Check(NativeMethods.fc_f32_relu_bwd(NativeIsa, x.Length, px, pdy, pdx), "fc_f32_relu_bwd");
    }
}

/// <summary>One entry of a convolution implementation table: its direction, name and the ISA variants it is built for.</summary>
public sealed record NativeConvImplementation(ConvDirection Direction, string Name, IReadOnlyList<NativeIsa> Isas);

/// <summary>A native convolution plan: the C plan (geometry checked again, im2col row table, chosen entries, their workspace) in a SafeHandle.</summary>
internal sealed unsafe class NativeConv2dPlan : HostConv2dPlan
{
    private readonly ConvPlanHandle _plan;

    public NativeConv2dPlan(in Conv2dDesc d, NativeIsa isa, string? forward = null, string? backwardData = null,
                            string? backwardFilter = null) : base(d)
    {
        var desc = new FcConv2dDesc(d);
        NativeBackend.SyncThreads();  // the workspace is sized for the thread count the plan will run at
        NativeMethods.Check(NativeMethods.fc_f32_conv2d_plan_create_with(&desc, isa, forward, backwardData, backwardFilter, out _plan),
            "fc_f32_conv2d_plan_create");
        Implementation = NativeMethods.Str(NativeMethods.fc_f32_conv2d_plan_implementation(_plan));
        // "native:avx512:fwd=A,bwd_data=B,bwd_filter=C" -> "native:avx512:A" for conv2d_fwd, and so on
        int colon = Implementation.LastIndexOf(':');
        var entries = Implementation[(colon + 1)..].Split(',').Select(e => Implementation[..(colon + 1)] + e[(e.IndexOf('=') + 1)..]).ToArray();
        (_forward, _backwardData, _backwardFilter) = (entries[0], entries[1], entries[2]);
    }

    private readonly string _forward, _backwardData, _backwardFilter;

    public override string Implementation { get; }

    /// <summary>The bytes of workspace the C plan holds: what its entries declared, allocated when it was created.</summary>
    public long WorkspaceBytes => NativeMethods.fc_f32_conv2d_plan_workspace_bytes(_plan);

    protected override string ImplementationOf(string op) =>
        op == "conv2d_fwd" ? _forward : op == "conv2d_bwd_data" ? _backwardData : _backwardFilter;

    protected override void ForwardCore(float* x, float* w, float* bias, float* y)
    {
        NativeBackend.SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_conv2d_fwd(_plan, x, w, bias, y), "fc_f32_conv2d_fwd");
    }

    protected override void BackwardDataCore(float* dy, float* w, float* dx)
    {
        NativeBackend.SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_conv2d_bwd_data(_plan, dy, w, dx), "fc_f32_conv2d_bwd_data");
    }

    protected override void BackwardFilterCore(float* x, float* dy, float* dw, float* dbias)
    {
        NativeBackend.SyncThreads();
        NativeMethods.Check(NativeMethods.fc_f32_conv2d_bwd_filter(_plan, x, dy, dw, dbias), "fc_f32_conv2d_bwd_filter");
    }

    protected override void DisposeCore() => _plan.Dispose();
}

internal sealed unsafe class NativePool2dPlan : HostPool2dPlan
{
    private readonly FcPool2dDesc _desc;
    private readonly NativeIsa _isa;
    private readonly bool _max;

    public NativePool2dPlan(in Pool2dDesc d, NativeIsa isa) : base(d)
    {
        _desc = new FcPool2dDesc(d);
        _isa = isa;
        _max = d.Kind == PoolKind.Max;
        var desc = _desc;
        NativeMethods.Check(NativeMethods.fc_pool2d_output_size(&desc, out int oh, out int ow), "fc_pool2d_output_size");
        if (oh != d.OutH || ow != d.OutW)
            throw new InvalidOperationException($"libfastconv computes a {oh}x{ow} output for {d}, FastConv {d.OutH}x{d.OutW}.");
        Implementation = NativeMethods.Str(NativeMethods.fc_f32_pool2d_implementation(&desc, isa, _max ? 1 : 0));
    }

    public override string Implementation { get; }

    protected override void ForwardCore(float* x, float* y)
    {
        NativeBackend.SyncThreads();
        var desc = _desc;
        NativeMethods.Check(_max ? NativeMethods.fc_f32_maxpool2d_fwd(&desc, _isa, x, y) : NativeMethods.fc_f32_avgpool2d_fwd(&desc, _isa, x, y),
            _max ? "fc_f32_maxpool2d_fwd" : "fc_f32_avgpool2d_fwd");
    }

    protected override void BackwardCore(float* x, float* dy, float* dx)
    {
        NativeBackend.SyncThreads();
        var desc = _desc;
        NativeMethods.Check(_max ? NativeMethods.fc_f32_maxpool2d_bwd(&desc, _isa, x, dy, dx) : NativeMethods.fc_f32_avgpool2d_bwd(&desc, _isa, dy, dx),
            _max ? "fc_f32_maxpool2d_bwd" : "fc_f32_avgpool2d_bwd");
    }
}
