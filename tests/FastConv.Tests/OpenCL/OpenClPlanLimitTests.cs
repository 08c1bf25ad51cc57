using FastConv.OpenCL;

namespace FastConv.Tests.OpenCL;

/// <summary>
/// Issue 19 on OpenCL: a plan works out the device memory it needs before it asks (PoCL aborted the process when a
/// ~1 GiB buffer could not be had), and refuses, at plan creation and with the reason, a shape its kernels' 32-bit
/// indices cannot reach; large strides, whose index arithmetic once wrapped, equal the reference.
/// </summary>
public class OpenClPlanLimitTests
{
    private static OpenClBackend Backend(OpenClConvPath path)
    {
        var info = BackendRegistry.List().Single(b => b.Name == "opencl");
        if (!info.IsAvailable) Assert.Ignore($"no OpenCL device here: {info.Reason}");
        return new OpenClBackend(null, path);
    }

    private static readonly OpenClConvPath[] Paths = [OpenClConvPath.Direct, OpenClConvPath.Gemm];

    [TestCaseSource(nameof(Paths))]
    public void ConvPlan_ABufferBeyondMaxAllocation_IsRefusedBeforeAsking(OpenClConvPath path)
    {
        using var be = Backend(path);
        // 17 x 65536 x 31 x 31 weights (4.3 GB), packed in blocks of 16 channels (8.1 GB, direct) or as backward-filter
        // partial sums (4.3 GB, GEMM)
        var d = new Conv2dDesc(1, 65536, 31, 31, 17, 31, 31);
        long need = path == OpenClConvPath.Direct ? 4L * 32 * 65536 * 961 : 4L * 17 * 65536 * 961;
        if (be.Device.MaxAllocation >= need) Assert.Ignore($"{be.Device.Name} allocates {be.Device.MaxAllocation:N0} bytes at once");
        var e = Assert.Throws<OutOfMemoryException>(() => be.CreateConv2d(d))!;
        Assert.That(e.Message, Does.Contain(d.ToString()).And.Contain($"{need:N0} bytes")
            .And.Contain(path == OpenClConvPath.Direct ? "packed weights" : "backward-filter partial sums")
            .And.Contain($"CL_DEVICE_MAX_MEM_ALLOC_SIZE = {be.Device.MaxAllocation:N0} bytes").And.Contain(be.Device.Name));
        using var small = be.CreateConv2d(new Conv2dDesc(1, 3, 8, 8, 4, 3, 3, 1, 1));   // the device still works
    }

    [Test]
    public void ConvPlan_ZeroBorderedCopiesBeyondTheDevice_RunWithoutThem()
    {
        using var be = Backend(OpenClConvPath.Direct);
        // stride 1: the padded copy of the input would be 2^18 x 3 x 66 x 66 floats (13.7 GB)
        var d = new Conv2dDesc(1 << 18, 3, 64, 64, 8, 3, 3, 1, 1);
        long padded = 4L * (1 << 18) * 3 * 66 * 66;
        if (be.Device.MaxAllocation >= padded && be.Device.GlobalMemory >= 2 * padded) Assert.Ignore($"{be.Device.Name} holds {padded:N0} bytes twice");
        using var plan = be.CreateConv2d(d);   // was: OutOfMemoryException from the zero-bordered input
        Assert.That(plan.Implementation, Does.StartWith("opencl:").And.Contain(":direct-16x"));
    }

    [Test]
    public void CheckMemory_OneBufferOrAllTogether_NamesShapeBytesAndLimit()
    {
        (string, long)[] buffers = [("packed weights", 3_000_000_000), ("zero-bordered input", 3_000_000_000), ("partial sums", 2_000_000_000)];
        Assert.DoesNotThrow(() => OpenClPlanLimits.CheckMemory("the plan for X", "dev", 3_000_000_000, 8_000_000_000, buffers));
        var one = Assert.Throws<OutOfMemoryException>(() => OpenClPlanLimits.CheckMemory("the plan for X", "dev", 2_999_999_999, 100_000_000_000, buffers))!;
        Assert.That(one.Message, Is.EqualTo("OpenCL: the plan for X needs 3,000,000,000 bytes for its packed weights, more than dev allocates at once " +
                                            "(CL_DEVICE_MAX_MEM_ALLOC_SIZE = 2,999,999,999 bytes)."));
        var all = Assert.Throws<OutOfMemoryException>(() => OpenClPlanLimits.CheckMemory("the plan for X", "dev", 3_000_000_000, 7_999_999_999, buffers))!;
        Assert.That(all.Message, Does.StartWith("OpenCL: the plan for X needs 8,000,000,000 bytes of buffers in all (packed weights 3,000,000,000 bytes, ")
            .And.EndWith("more than dev has (CL_DEVICE_GLOBAL_MEM_SIZE = 7,999,999,999 bytes)."));
        Assert.That(OpenClPlanLimits.FloatBytes(int.MaxValue, int.MaxValue, int.MaxValue), Is.EqualTo(long.MaxValue), "saturates instead of wrapping");
        Assert.That(OpenClPlanLimits.FloatBytes(3, 5), Is.EqualTo(60));
    }

    [Test]
    public void Allocate_BeyondTheDevice_NamesTheShape()
    {
        using var be = Backend(OpenClConvPath.Direct);
        int side = (int)Math.Ceiling(Math.Sqrt(be.Device.MaxAllocation / 4 + 1));
        var e = Assert.Throws<OutOfMemoryException>(() => be.Allocate([side, side]))!;
        Assert.That(e.Message, Does.Contain($"a tensor [{side}, {side}]").And.Contain("CL_DEVICE_MAX_MEM_ALLOC_SIZE"));
    }

    private static IEnumerable<TestCaseData> BeyondTheIndices()
    {
        foreach (var path in Paths)
        {
            yield return new TestCaseData(path, new Conv2dDesc(1 << 20, 1 << 12, 1, 1, 1, 1, 1), "N*C (planes of the backward-data gather) = 4,294,967,296")
                .SetName($"{path}_NTimesC");
            yield return new TestCaseData(path, new Conv2dDesc(1, 1, 1, int.MaxValue - 10, 1, 1, 1),
                path == OpenClConvPath.Direct ? "OW rounded up to 16-column chunks" : "OH*OW rounded up to a tile").SetName($"{path}_WideRow");
        }
        yield return new TestCaseData(OpenClConvPath.Direct, new Conv2dDesc(1 << 16, 1, 1, 1, 1 << 16, 1, 1), "N*K (planes of the zero-bordered output gradient")
            .SetName("Direct_NTimesK");
    }

    [TestCaseSource(nameof(BeyondTheIndices))]
    public void ConvPlan_BeyondThe32BitIndices_IsRefusedWithTheReason(OpenClConvPath path, Conv2dDesc d, string why)
    {
        using var be = Backend(path);
        Assert.That(be.Supports(d), Is.False, "auto passes it on to another backend");
        var e = Assert.Throws<NotSupportedException>(() => be.CreateConv2d(d))!;
        Assert.That(e.Message, Does.Contain(d.ToString()).And.Contain(why).And.Contain("exceeds 2^31 - 1").And.Contain("32 bits"));
        Assert.That(BackendRegistry.Get("reference").Supports(d), Is.True, "a limit of the OpenCL kernels, not of the shape");
    }

    [Test]
    public void PoolPlan_MorePlanesThan32Bits_IsRefusedWithTheReason()
    {
        using var be = Backend(OpenClConvPath.Direct);
        var d = new Pool2dDesc(PoolKind.Max, 1 << 20, 1 << 12, 1, 1, 1, 1);
        Assert.That(be.Supports(d), Is.False);
        var e = Assert.Throws<NotSupportedException>(() => be.CreatePool2d(d))!;
        Assert.That(e.Message, Does.Contain("N*C = 4,294,967,296 planes").And.Contain(d.ToString()));
        Assert.That(be.Supports(new Pool2dDesc(PoolKind.Max, 1 << 10, 1 << 12, 1, 1, 1, 1)), Is.True);
    }

    /// <summary>Shapes Limits admits whose kernels once wrapped an int: pooling backward's covering window (th − k + stride
    /// with a stride near 2^31) and gather16's lanes past the row (j·stride).</summary>
    private static IEnumerable<TestCaseData> LargeStrides()
    {
        foreach (var kind in new[] { PoolKind.Max, PoolKind.Average })
        {
            yield return new TestCaseData(new Pool2dDesc(kind, 1, 2, 3, 1, 1, 1, int.MaxValue, 1, 0, 0)).SetName($"{kind}Pool_StrideHIntMax");
            yield return new TestCaseData(new Pool2dDesc(kind, 1, 1, 2, 5, 2, 2, 1, int.MaxValue - 1, 1, 1)).SetName($"{kind}Pool_StrideWNearIntMax_Padded");
        }
    }

    [TestCaseSource(nameof(LargeStrides))]
    public void Pool_LargeStrides_EqualTheReference(Pool2dDesc d)
    {
        using var be = Backend(OpenClConvPath.Direct);
        var reference = BackendRegistry.Get("reference");
        float[] x = Enumerable.Range(0, (int)d.InputElements).Select(i => (float)((i * 7 % 11) - 5)).ToArray();
        float[] dy = Enumerable.Range(0, d.N * d.C * d.OutH * d.OutW).Select(i => (float)(i + 1)).ToArray();
        (float[] Y, float[] Dx) Run(IBackend b)
        {
            using var plan = b.CreatePool2d(d);
            using Tensor tx = b.Allocate(d.InputShape), ty = b.Allocate(d.OutputShape), tdy = b.Allocate(d.OutputShape), tdx = b.Allocate(d.InputShape);
            tx.CopyFrom(x); tdy.CopyFrom(dy);
            plan.Forward(tx, ty);
            plan.Backward(tx, tdy, tdx);
            return (ty.ToArray(), tdx.ToArray());
        }
        var (want, got) = (Run(reference), Run(be));
        Assert.That(got.Y, Is.EqualTo(want.Y), "forward");
        Assert.That(got.Dx, Is.EqualTo(want.Dx), "backward");
    }

    [TestCaseSource(nameof(Paths))]
    public void Conv_LargeStride_EqualsTheReference(OpenClConvPath path)
    {
        using var be = Backend(path);
        var reference = BackendRegistry.Get("reference");
        // a 1x2 output whose lanes past the row would lie at j * 2^30
        var d = new Conv2dDesc(1, 2, 2, 3, 3, 1, 2, 1, 1 << 30, 0, 0, 1, 1);
        float[] x = Enumerable.Range(0, 2 * 2 * 3).Select(i => (float)(i % 5 - 2)).ToArray();
        float[] w = Enumerable.Range(0, (int)d.WeightElements).Select(i => (float)(i % 3 - 1)).ToArray();
        float[] dy = Enumerable.Range(0, (int)d.OutputElements).Select(i => (float)(i % 4 - 1)).ToArray();
        (float[] Y, float[] Dx, float[] Dw) Run(IBackend b)
        {
            using var plan = b.CreateConv2d(d);
            using Tensor tx = b.Allocate(d.InputShape), tw = b.Allocate(d.WeightShape), ty = b.Allocate(d.OutputShape), tdy = b.Allocate(d.OutputShape),
                         tdx = b.Allocate(d.InputShape), tdw = b.Allocate(d.WeightShape);
            tx.CopyFrom(x); tw.CopyFrom(w); tdy.CopyFrom(dy);
            plan.Forward(tx, tw, null, ty);
            plan.BackwardData(tdy, tw, tdx);
            plan.BackwardFilter(tx, tdy, tdw, null);
            return (ty.ToArray(), tdx.ToArray(), tdw.ToArray());
        }
        var (want, got) = (Run(reference), Run(be));
        Assert.That(got.Y, Is.EqualTo(want.Y), "forward");
        Assert.That(got.Dx, Is.EqualTo(want.Dx), "backward-data");
        Assert.That(got.Dw, Is.EqualTo(want.Dw), "backward-filter");
    }
}
