using FastConv.Native;
using FastConv.Native.Interop;
using FastConv.Tests.Parity;

namespace FastConv.Tests.Native;

/// <summary>
/// Every native convolution entry, forced, on geometries whose work spans several items and (for lanes-k's
/// backward-filter) several chunks of images: 1, 2 and 3 threads give the same bits, since each output element has one
/// writer and one summation order whatever the thread count. Not so for the backward-filters that split the batch's
/// sum between threads and add the threads' partial dw at the end (<see cref="SumsSplitByThreads"/>): their bits
/// depend on the thread count, within the usual rounding (docs/kernels/native.md).
/// </summary>
public class ThreadCountTests
{
    // 20 images of 32x32 are 5 of lanes-k's backward-filter chunks (dy of 4 images in 256 KB), summed by items; 32 are 8,
    // which the threads take whole (by chunks); 3x3 from 16 channels
    // is Winograd, 5x5 split Winograd, 5x5 stride 2 the phase Winograd, 3x3 stride 2 from 24 channels lanes-k/-c,
    // 1x1 and 7x7 stride 2 from 3 channels the GEMM and im2col.
    private static readonly Conv2dDesc[] Shapes =
    [
        new(20, 16, 32, 32, 16, 3, 3, padding: 1),
        new(32, 4, 32, 32, 8, 3, 3, padding: 1),
        new(6, 16, 14, 14, 32, 5, 5, padding: 2),
        new(5, 16, 16, 16, 16, 5, 5, stride: 2, padding: 2),
        new(9, 24, 12, 12, 32, 3, 3, stride: 2, padding: 1),
        new(7, 3, 17, 17, 24, 7, 7, stride: 2, padding: 3),
        new(5, 40, 18, 18, 24, 1, 1),
    ];

    /// <summary>Backward-filter entries whose threads each sum a share of the batch (per-thread dw, added at the end).</summary>
    public static readonly string[] SumsSplitByThreads = ["winograd-2x2-3x3", "split-winograd-2x2-3x3", "im2col-gemm", "gemm-1x1"];

    public static IEnumerable<TestCaseData> Entries() =>
        from isa in NativeBackend.SupportedIsas
        from e in NativeBackend.ConvImplementations
        where e.Isas.Contains(isa) && !(e.Direction == ConvDirection.BackwardFilter && SumsSplitByThreads.Contains(e.Name))
        select new TestCaseData(isa, e.Direction, e.Name).SetArgDisplayNames(NativeBackend.IsaName(isa), e.Direction.ToString(), e.Name);

    [TestCaseSource(nameof(Entries))]
    public void Entry_GivesTheSameBits_AtOneTwoAndThreeThreads(NativeIsa isa, ConvDirection dir, string name)
    {
        var be = new NativeBackend(isa);
        var forced = ConvImplementationTests.ForcedPlan(dir, name);
        int ran = 0, saved = Parallelism.Threads;
        try
        {
            foreach (var d in Shapes.Where(d => ConvImplementationTests.Runs(forced, be, d)))
            {
                ran++;
                float[]? first = null;
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    Parallelism.Threads = threads;   // before the plan is made, so its workspace is sized for them
                    using var run = new ConvParityTests.Run(d, integers: false, forced);
                    float[] got = dir switch
                    {
                        ConvDirection.Forward => run.Forward(be),
                        ConvDirection.BackwardData => run.BackwardData(be),
                        _ => DwThenDbias(run.BackwardFilter(be)),
                    };
                    if (first is null) first = got;
                    else Assert.That(got, Is.EqualTo(first), $"{NativeBackend.IsaName(isa)} {dir} {name} {d}: {threads} threads against 1");
                }
            }
        }
        finally { Parallelism.Threads = saved; }
        Assert.That(ran, Is.GreaterThan(0), $"{dir} {name} runs none of these geometries: add one it runs");
    }

    private static float[] DwThenDbias((float[] Dw, float[] Db) g) => [.. g.Dw, .. g.Db];
}
