namespace FastConv.Backends.Managed;

/// <summary>
/// Fast pure C#: convolution as im2col-packed GEMM on a register-blocked Vector512 (or Vector256) microkernel,
/// SIMD pooling, and the element-wise ops of <see cref="ManagedKernels"/> (HostBackend's defaults).
/// </summary>
public sealed unsafe class ManagedBackend : HostBackend
{
    private readonly ManagedIsa _isa;

    /// <summary>The best SIMD width this machine accelerates, or the one asked for (tests run every width the machine has).</summary>
    public ManagedBackend(ManagedIsa? isa = null)
    {
        _isa = isa ?? ManagedIsaInfo.Best;
        if (!ManagedIsaInfo.IsSupported(_isa))
            throw new BackendUnavailableException($"Managed backend: {_isa} is not hardware-accelerated on this machine.");
        Name = isa is null ? "managed" : $"managed:{ManagedIsaInfo.Tag(_isa)}";
    }

    public override string Name { get; }
    public ManagedIsa Isa => _isa;

    protected override IConv2dPlan CreateConv2dCore(in Conv2dDesc desc) => new ManagedConv2dPlan(desc, _isa);
    protected override IPool2dPlan CreatePool2dCore(in Pool2dDesc desc) => new ManagedPool2dPlan(desc, _isa);

    protected override void GemmCore(int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta) =>
        ManagedGemm.Run(_isa, m, n, k, a, transA, b, transB, c, alpha, beta);

}
