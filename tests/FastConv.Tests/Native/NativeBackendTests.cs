using System.Diagnostics;
using FastConv.Native;
using FastConv.Native.Interop;

namespace FastConv.Tests.Native;

/// <summary>What is particular to the native backend: variants, names, errors crossing the ABI, FASTCONV_ISA.
/// Its numerics are held to the reference by the parity suite, which runs every variant the CPU has.</summary>
public unsafe class NativeBackendTests
{
    private static readonly Conv2dDesc Conv3x3 = new(2, 8, 10, 10, 16, 3, 3, stride: 1, padding: 1);

    public static IEnumerable<NativeIsa> Isas() => NativeBackend.SupportedIsas;

    /// <summary>The native kernel table of the element-wise ops is filled by symbol: every op libfastconv exports runs
    /// there (the parity suite holds it to the reference), an op it lacks would fall back to the managed kernel.</summary>
    [Test]
    public void EltwiseOps_FindTheirCEntryPointsByName()
    {
        foreach (var op in new[] { EltwiseOps.LeakyReluForward, EltwiseOps.LeakyReluBackward })
            Assert.That(NativeBackend.HasKernel(op), Is.True, $"{op.Symbol} is exported by libfastconv");
    }

    [TestCaseSource(nameof(Isas))]
    public void EachVariant_NamesItsIsaAndEntries(NativeIsa isa)
    {
        var be = new NativeBackend(isa);
        using var plan = be.CreateConv2d(new Conv2dDesc(2, 8, 10, 10, 16, 1, 1, stride: 2));  // only the GEMM runs a strided 1x1
        Assert.That(plan.Implementation, Is.EqualTo($"native:{NativeBackend.IsaName(isa)}:fwd=im2col-gemm,bwd_data=im2col-gemm,bwd_filter=im2col-gemm"));
        using var pool = be.CreatePool2d(new Pool2dDesc(PoolKind.Max, 1, 2, 8, 8, 2, 2));
        Assert.That(pool.Implementation, Does.StartWith($"native:{NativeBackend.IsaName(isa)}:"));
    }

    /// <summary>The plan holds the workspace its entries declared from creation on: running every direction, twice, at
    /// the thread count it was planned for leaves it as it was (nothing grows while a kernel runs).</summary>
    [TestCaseSource(nameof(Isas))]
    public void Plan_HoldsItsWorkspaceFromCreation(NativeIsa isa)
    {
        var be = new NativeBackend(isa);
        foreach (var d in new[] { Conv3x3, new Conv2dDesc(2, 3, 12, 12, 8, 5, 5, padding: 2), new Conv2dDesc(1, 3, 31, 31, 16, 11, 11, stride: 4) })
        {
            using var plan = (NativeConv2dPlan)be.CreateConv2d(d);
            long planned = plan.WorkspaceBytes;
            Assert.That(planned, Is.GreaterThan(0), plan.Implementation);
            using Tensor x = be.Allocate(d.InputShape), w = be.Allocate(d.WeightShape), b = be.Allocate(d.BiasShape),
                         y = be.Allocate(d.OutputShape), dx = be.Allocate(d.InputShape), dw = be.Allocate(d.WeightShape);
            for (int i = 0; i < 2; i++)
            {
                plan.Forward(x, w, b, y);
                plan.BackwardData(y, w, dx);
                plan.BackwardFilter(x, y, dw, b);
            }
            Assert.That(plan.WorkspaceBytes, Is.EqualTo(planned), plan.Implementation);
        }
    }

    private static string Entries(string fwd, string bwdData, string bwdFilter, string isa = "avx512") =>
        $"native:{isa}:fwd={fwd},bwd_data={bwdData},bwd_filter={bwdFilter}";

    /// <summary>Which entries an AVX-512 plan takes: Winograd for 3x3 stride 1 from 16 channels, space-to-depth for strided
    /// kernels 2s+1..3s wide, kernel splitting for stride-1 4..6 taps, the direct kernels for first layers; backward-data
    /// outside Winograd by the 16-channel direct kernel from 16 input channels (not for 1x1 stride 1), and backward-filter
    /// by the 32-channel one from 24 output channels and a reduction C*R*S of 256 (128 from 16 input channels) or by its
    /// one-vector form at exactly 16 output channels from 8 input channels (before Winograd), and forward by the 32-channel direct kernel where
    /// the GEMM would run, for reductions of 256 (128 from 16 input channels) to 2048; the GEMM's col2im gathers for stride 1.</summary>
    public static IEnumerable<TestCaseData> PlanChoices() =>
    [
        new TestCaseData(new Conv2dDesc(2, 16, 10, 10, 16, 3, 3, padding: 1), Entries("winograd-2x2-3x3", "winograd-2x2-3x3", "lanes-k")).SetArgDisplayNames("3x3 C16"),
        new TestCaseData(new Conv2dDesc(2, 3, 10, 10, 16, 3, 3, padding: 1), Entries("im2col-gemm", "im2col-gemm-gather", "lanes-k")).SetArgDisplayNames("3x3 C3"),
        new TestCaseData(new Conv2dDesc(2, 16, 10, 10, 16, 3, 3, stride: 2, padding: 1), Entries("im2col-gemm", "lanes-c", "lanes-k")).SetArgDisplayNames("3x3 stride 2"),
        // padding 3: backward-data would need padding -1
        new TestCaseData(new Conv2dDesc(2, 16, 4, 4, 16, 3, 3, padding: 3), Entries("im2col-gemm", "lanes-c", "lanes-k")).SetArgDisplayNames("3x3 pad 3"),
        new TestCaseData(new Conv2dDesc(1, 3, 227, 227, 96, 11, 11, stride: 4), Entries("s2d-winograd-2x2-3x3", "s2d-winograd-2x2-3x3", "s2d-winograd-2x2-3x3")).SetArgDisplayNames("11x11 stride 4"),
        // 7 taps at stride 2 would need 4x4 phase kernels
        new TestCaseData(new Conv2dDesc(1, 3, 227, 227, 96, 7, 7, stride: 2), Entries("im2col-gemm", "im2col-gemm", "lanes-k")).SetArgDisplayNames("7x7 stride 2"),
        new TestCaseData(new Conv2dDesc(64, 16, 12, 12, 32, 5, 5), Entries("split-winograd-2x2-3x3", "lanes-c", "lanes-k")).SetArgDisplayNames("5x5 C16"),
        new TestCaseData(new Conv2dDesc(2, 15, 10, 10, 16, 3, 3, stride: 2, padding: 1), Entries("im2col-gemm", "im2col-gemm", "lanes-k")).SetArgDisplayNames("3x3 stride 2 C15"),
        // ResNet-20's stage-2 entry: a reduction of 16*3*3 = 144 from 16 input channels
        new TestCaseData(new Conv2dDesc(4, 16, 32, 32, 32, 3, 3, stride: 2, padding: 1), Entries("lanes-k", "lanes-c", "lanes-k")).SetArgDisplayNames("3x3 stride 2 C16 K32"),
        new TestCaseData(new Conv2dDesc(2, 64, 7, 7, 32, 1, 1), Entries("gemm-1x1", "gemm-1x1", "im2col-gemm")).SetArgDisplayNames("1x1 C64"),
        new TestCaseData(new Conv2dDesc(2, 64, 20, 20, 32, 1, 1), Entries("gemm-1x1", "gemm-1x1", "gemm-1x1")).SetArgDisplayNames("1x1 C64 20x20"),
        // one image: every backward-filter item is a slice of it, read in place
        new TestCaseData(new Conv2dDesc(1, 64, 7, 7, 32, 1, 1), Entries("gemm-1x1", "gemm-1x1", "gemm-1x1")).SetArgDisplayNames("1x1 C64 N1"),
        new TestCaseData(new Conv2dDesc(2, 32, 16, 16, 32, 7, 7, padding: 3), Entries("lanes-k", "lanes-c", "lanes-k")).SetArgDisplayNames("7x7 C32"),
        // a reduction of 48*7*7 = 2352: the forward's packed weights would not stay in L2
        new TestCaseData(new Conv2dDesc(2, 48, 16, 16, 32, 7, 7, padding: 3), Entries("im2col-gemm", "lanes-c", "lanes-k")).SetArgDisplayNames("7x7 C48"),
        new TestCaseData(new Conv2dDesc(2, 12, 16, 16, 32, 7, 7, stride: 2), Entries("lanes-k", "im2col-gemm", "lanes-k")).SetArgDisplayNames("7x7 stride 2 C12"),
        new TestCaseData(new Conv2dDesc(64, 1, 28, 28, 16, 5, 5), Entries("direct-flat", "im2col-gemm-gather", "direct-flat")).SetArgDisplayNames("5x5 C1"),
    ];

    /// <summary>Which entries an AVX2 plan takes (the rules measured on AVX2): the first-layer direct kernel up to 4 input
    /// channels; Winograd for 3x3 stride 1 from 16 channels (backward-filter from 24); space-to-depth for strided
    /// first layers; kernel splitting from 32 channels; the lane kernels for every other kernel wider than 1x1
    /// (backward-data from 8 input channels); the GEMM for 1x1 and the rest.</summary>
    public static IEnumerable<TestCaseData> Avx2PlanChoices() =>
    [
        new TestCaseData(new Conv2dDesc(2, 16, 10, 10, 16, 3, 3, padding: 1), Entries("winograd-2x2-3x3", "winograd-2x2-3x3", "lanes-k", "avx2")).SetArgDisplayNames("3x3 C16"),
        new TestCaseData(new Conv2dDesc(64, 32, 16, 16, 64, 3, 3, padding: 1), Entries("winograd-2x2-3x3", "winograd-2x2-3x3", "winograd-2x2-3x3", "avx2")).SetArgDisplayNames("3x3 C32 (C2)"),
        new TestCaseData(new Conv2dDesc(2, 3, 10, 10, 16, 3, 3, padding: 1), Entries("direct-flat", "im2col-gemm-gather", "direct-flat", "avx2")).SetArgDisplayNames("3x3 C3"),
        new TestCaseData(new Conv2dDesc(64, 1, 28, 28, 16, 5, 5), Entries("direct-flat", "im2col-gemm", "direct-flat", "avx2")).SetArgDisplayNames("5x5 C1"),
        new TestCaseData(new Conv2dDesc(2, 16, 10, 10, 16, 3, 3, stride: 2, padding: 1), Entries("lanes-k", "lanes-c", "lanes-k", "avx2")).SetArgDisplayNames("3x3 stride 2"),
        new TestCaseData(new Conv2dDesc(64, 16, 12, 12, 32, 5, 5), Entries("lanes-k", "lanes-c", "lanes-k", "avx2")).SetArgDisplayNames("5x5 C16"),
        // backward-filter: lanes-k comes first in its table (AVX-512 needs that order on the training step's layer)
        new TestCaseData(new Conv2dDesc(8, 32, 32, 32, 64, 5, 5, padding: 2), Entries("split-winograd-2x2-3x3", "lanes-c", "lanes-k", "avx2")).SetArgDisplayNames("5x5 C32"),
        new TestCaseData(new Conv2dDesc(1, 3, 227, 227, 96, 11, 11, stride: 4), Entries("s2d-winograd-2x2-3x3", "s2d-winograd-2x2-3x3", "s2d-winograd-2x2-3x3", "avx2")).SetArgDisplayNames("11x11 stride 4"),
        new TestCaseData(new Conv2dDesc(64, 16, 16, 16, 32, 5, 5, stride: 2, padding: 1), Entries("lanes-k", "lanes-c", "lanes-k", "avx2")).SetArgDisplayNames("5x5 stride 2 C16"),
        new TestCaseData(new Conv2dDesc(2, 64, 20, 20, 32, 1, 1), Entries("gemm-1x1", "gemm-1x1", "gemm-1x1", "avx2")).SetArgDisplayNames("1x1 C64"),
        // a reduction of 48*7*7 = 2352, past the measured range of the forward lane kernel
        new TestCaseData(new Conv2dDesc(2, 48, 16, 16, 32, 7, 7, padding: 3), Entries("im2col-gemm", "lanes-c", "lanes-k", "avx2")).SetArgDisplayNames("7x7 C48"),
    ];

    [TestCaseSource(nameof(Avx2PlanChoices))]
    public void Avx2Plan_NamesTheEntriesItRuns(Conv2dDesc d, string implementation)
    {
        if (!NativeBackend.SupportedIsas.Contains(NativeIsa.Avx2)) Assert.Ignore("no AVX2 here");
        using var plan = new NativeBackend(NativeIsa.Avx2).CreateConv2d(d);
        Assert.That(plan.Implementation, Is.EqualTo(implementation));
    }

    [TestCaseSource(nameof(PlanChoices))]
    public void Avx512Plan_NamesTheAlgorithmItRuns(Conv2dDesc d, string implementation)
    {
        if (!NativeBackend.SupportedIsas.Contains(NativeIsa.Avx512)) Assert.Ignore("no AVX-512 here: these algorithms are chosen on AVX-512 only");
        using var plan = new NativeBackend(NativeIsa.Avx512).CreateConv2d(d);
        Assert.That(plan.Implementation, Is.EqualTo(implementation));
    }

    [Test]
    public void RegistryNative_IsTheChosenVariant()
    {
        var be = (NativeBackend)BackendRegistry.Get("native");
        Assert.That(be.Name, Is.EqualTo("native"));
        Assert.That(be.NativeIsa, Is.EqualTo(NativeMethods.fc_selected_isa()));
        Assert.That(be.Version, Does.Match(@"^\d+\.\d+\.\d+$"));
    }

    [Test]
    public void NativeErrors_BecomeExceptionsWithTheLibrarysMessage()
    {
        // The C# layer refuses bad geometry before any native call; the C side checks again on its own.
        var bad = new FcConv2dDesc(Conv3x3) { C = 0 };
        var st = NativeMethods.fc_f32_conv2d_plan_create(&bad, NativeIsa.Auto, out var plan);
        Assert.That(plan.IsInvalid, Is.True);
        var e = Assert.Throws<ArgumentException>(() => NativeMethods.Check(st, "fc_f32_conv2d_plan_create"));
        Assert.That(e!.Message, Is.EqualTo("fc_f32_conv2d_plan_create: conv2d: c must be >= 1, got 0"));

        var big = new FcConv2dDesc(Conv3x3) { R = 13 };
        st = NativeMethods.fc_f32_conv2d_plan_create(&big, NativeIsa.Auto, out _);
        e = Assert.Throws<ArgumentException>(() => NativeMethods.Check(st, "create"));
        Assert.That(e!.Message, Does.Contain("does not fit input height 10"));

        float one = 1f;
        st = NativeMethods.fc_f32_gemm(NativeIsa.Auto, 0, 0, 2, 2, 2, 1f, &one, 1, &one, 2, 0f, &one, 2);
        e = Assert.Throws<ArgumentException>(() => NativeMethods.Check(st, "fc_f32_gemm"));
        Assert.That(e!.Message, Does.Contain("lda 1 is less than op(a)'s stored row length 2"));

        st = NativeMethods.fc_f32_relu_fwd((NativeIsa)9, 1, &one, &one);
        Assert.Throws<ArgumentException>(() => NativeMethods.Check(st, "fc_f32_relu_fwd"));
    }

    [Test]
    public void DisposedPlan_ThrowsInsteadOfCallingIntoFreedMemory()
    {
        var be = BackendRegistry.Get("native");
        var plan = be.CreateConv2d(Conv3x3);
        using var x = be.Allocate(Conv3x3.InputShape);
        using var w = be.Allocate(Conv3x3.WeightShape);
        using var y = be.Allocate(Conv3x3.OutputShape);
        plan.Dispose();
        plan.Dispose();   // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => plan.Forward(x, w, null, y));
    }

    [Test]
    public void FastconvIsa_ForcesAVariant_AndAnUnknownOneMakesNativeUnavailableWithTheReason()
    {
        var (code, output) = Info("avx2");
        Assert.That(code, Is.EqualTo(0), output);
        if (NativeBackend.SupportedIsas.Contains(NativeIsa.Avx2))
            Assert.That(output, Does.Contain("native:avx2:fwd="));

        (code, output) = Info("sse9");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("FASTCONV_ISA='sse9' is not one"));
        Assert.That(output, Does.Contain("auto → managed"));
    }

    /// <summary>`fastconv info` in a child process (FASTCONV_ISA is read once, when the library loads).</summary>
    private static (int Code, string Output) Info(string isa)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "FastConv.Cli.dll"), "info"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.Environment["FASTCONV_ISA"] = isa;
        psi.Environment["COLUMNS"] = "250";
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
