using FastConv.Native;
using FastConv.Native.Interop;
using FastConv.Tests.Parity;
using FastConv.Tests.Support;

namespace FastConv.Tests.Native;

/// <summary>
/// Every entry of the native convolution implementation tables × every ISA variant this CPU runs that the entry is
/// built for × every conv case of data/shapes/parity.txt it can run, forced through
/// <see cref="NativeBackend.CreateConv2d(in Conv2dDesc, string?, string?, string?)"/>: integer inputs equal the
/// reference exactly, random inputs stay within <see cref="Tolerance"/>. An entry that no parity case reaches fails,
/// so a new entry cannot go untested.
/// </summary>
public class ConvImplementationTests
{
    public static IEnumerable<TestCaseData> Entries() =>
        from isa in NativeBackend.SupportedIsas
        from e in NativeBackend.ConvImplementations
        where e.Isas.Contains(isa)
        select new TestCaseData(isa, e.Direction, e.Name).SetArgDisplayNames(NativeBackend.IsaName(isa), e.Direction.ToString(), e.Name);

    [OneTimeSetUp]
    public void ReportUntestedVariants()
    {
        foreach (var e in NativeBackend.ConvImplementations)
            foreach (var isa in e.Isas.Where(i => !NativeBackend.SupportedIsas.Contains(i)))
                TestContext.Progress.WriteLine($"not tested here (this CPU lacks {NativeBackend.IsaName(isa)}): {e.Direction} {e.Name}");
    }

    /// <summary>Plans with <paramref name="name"/> forced for direction <paramref name="dir"/> (the others the native
    /// backend's choice).</summary>
    internal static Func<IBackend, Conv2dDesc, IConv2dPlan> ForcedPlan(ConvDirection dir, string name) => (b, d) =>
        ((NativeBackend)b).CreateConv2d(d, dir == ConvDirection.Forward ? name : null, dir == ConvDirection.BackwardData ? name : null,
            dir == ConvDirection.BackwardFilter ? name : null);

    /// <summary>Whether the forced entry runs the geometry (a refusal names why it cannot).</summary>
    internal static bool Runs(Func<IBackend, Conv2dDesc, IConv2dPlan> forced, IBackend be, Conv2dDesc d)
    {
        try { forced(be, d).Dispose(); return true; }
        catch (NotSupportedException e) when (e.Message.Contains("cannot run")) { return false; }
    }

    [TestCaseSource(nameof(Entries))]
    public void Entry_OnEveryParityCaseItRuns_AgreesWithTheReference(NativeIsa isa, ConvDirection dir, string name)
    {
        var be = new NativeBackend(isa);
        var Forced = ForcedPlan(dir, name);
        var hits = new List<string>();
        foreach (var c in TestData.Parity.Where(c => c.Conv is not null))
        {
            if (!Runs(Forced, be, c.Conv!.Value)) continue;
            hits.Add(c.Name);
            string what = $"{be.Name} {dir} {name} {c.Name}";
            using (var ints = new ConvParityTests.Run(c.Name, integers: true, Forced))
            using (var oracle = new ConvParityTests.Run(c.Name, integers: true))
            {
                switch (dir)
                {
                    case ConvDirection.Forward:
                        Tolerance.Exact(ints.Forward(be), oracle.Forward(TestBackends.Reference), what); break;
                    case ConvDirection.BackwardData:
                        Tolerance.Exact(ints.BackwardData(be), oracle.BackwardData(TestBackends.Reference), what); break;
                    default:
                        var (dw, db) = ints.BackwardFilter(be);
                        var (rw, rb) = oracle.BackwardFilter(TestBackends.Reference);
                        Tolerance.Exact(dw, rw, what + " dw");
                        Tolerance.Exact(db, rb, what + " dbias");
                        break;
                }
            }
            using var random = new ConvParityTests.Run(c.Name, integers: false, Forced);
            switch (dir)
            {
                case ConvDirection.Forward: ConvParityTests.ForwardWithinTolerance(random, random.Forward(be), what); break;
                case ConvDirection.BackwardData: ConvParityTests.BackwardDataWithinTolerance(random, random.BackwardData(be), what); break;
                default: ConvParityTests.BackwardFilterWithinTolerance(random, random.BackwardFilter(be), what); break;
            }
        }
        Assert.That(hits, Is.Not.Empty, $"{dir} entry {name} runs no parity case on {NativeBackend.IsaName(isa)}: add one to data/shapes/parity.txt");
        TestContext.Out.WriteLine($"{dir} {name} on {NativeBackend.IsaName(isa)}: {hits.Count} cases ({string.Join(", ", hits)})");
    }

    [Test]
    public void ForcedEntry_ThatCannotRunTheGeometry_IsRefusedWithTheReason()
    {
        var be = (NativeBackend)BackendRegistry.Get("native");
        var fiveByFive = new Conv2dDesc(1, 2, 8, 8, 3, 5, 5);
        var e = Assert.Throws<NotSupportedException>(() => be.CreateConv2d(fiveByFive, "winograd-2x2-3x3", null, null));
        Assert.That(e!.Message, Does.Contain("forward entry 'winograd-2x2-3x3'").And.Contain("needs a 3x3 kernel"));
        e = Assert.Throws<NotSupportedException>(() => be.CreateConv2d(fiveByFive, null, "no-such-entry", null));
        Assert.That(e!.Message, Does.Contain("no backward-data entry is named 'no-such-entry'").And.Contain("im2col-gemm"));
        using var plan = be.CreateConv2d(fiveByFive, null, "im2col-gemm", null);
        Assert.That(plan.Implementation, Does.Contain(",bwd_data=im2col-gemm,"));
    }

    [Test]
    public void EveryDirection_EndsWithTheGemmThatRunsEverything()
    {
        foreach (var dir in Enum.GetValues<ConvDirection>())
        {
            var last = NativeBackend.ConvImplementations.Last(e => e.Direction == dir);
            Assert.That(last.Name, Is.EqualTo("im2col-gemm"), $"{dir}");
            Assert.That(last.Isas, Is.EquivalentTo(new[] { NativeIsa.Scalar, NativeIsa.Avx2, NativeIsa.Avx512 }), $"{dir}");
        }
    }

    [Test]
    public void VerboseLog_NamesTheEntryOfEachDirection()
    {
        var be = (NativeBackend)BackendRegistry.Get("native");
        var d = new Conv2dDesc(1, 3, 6, 6, 4, 3, 3, padding: 1);
        using var plan = be.CreateConv2d(d, "im2col-gemm", null, "im2col-gemm");
        using var x = be.Allocate(d.InputShape); using var w = be.Allocate(d.WeightShape);
        using var y = be.Allocate(d.OutputShape); using var dw = be.Allocate(d.WeightShape);
        var log = new StringWriter();
        var (oldOn, oldWriter) = (Verbose.Enabled, Verbose.Writer);
        try
        {
            Verbose.Enabled = true; Verbose.Writer = log;
            plan.Forward(x, w, null, y);
            plan.BackwardFilter(x, y, dw, null);
        }
        finally { Verbose.Enabled = oldOn; Verbose.Writer = oldWriter; }
        string isa = NativeBackend.IsaName(be.NativeIsa);
        Assert.That(log.ToString(), Does.Contain($"fastconv_verbose,exec,native:{isa}:im2col-gemm,conv2d_fwd,{d}"));
        Assert.That(log.ToString(), Does.Contain($"fastconv_verbose,exec,native:{isa}:im2col-gemm,conv2d_bwd_filter,{d}"));
    }
}
