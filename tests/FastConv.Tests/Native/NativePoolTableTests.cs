using FastConv.Native;
using FastConv.Native.Interop;
using FastConv.Tests.Support;

namespace FastConv.Tests.Native;

/// <summary>
/// The native pooling implementation table (fc_f32_pool2d_run with a named entry): each entry runs every pool case of
/// data/shapes/parity.txt it applies to, forward and backward, on every native ISA variant this CPU runs, with small
/// integer inputs (ties everywhere), and must equal the reference backend bit for bit. An entry that no case reaches
/// fails, as does one that an ISA refuses for any reason but not being built for it.
/// </summary>
public unsafe class NativePoolTableTests
{
    public static IEnumerable<TestCaseData> Entries() =>
        NativeMethods.PoolImplementations().Select(e => new TestCaseData(e).SetArgDisplayNames(e));

    [Test]
    public void Table_IsNamed_BestFirst_LoopsLast()
    {
        var names = NativeMethods.PoolImplementations();
        Assert.That(names, Is.Unique);
        Assert.That(names, Has.Count.GreaterThanOrEqualTo(2));
        Assert.That(names[^1], Is.EqualTo("loops"));
        Assert.That(NativeMethods.fc_f32_pool2d_impl_name(names.Count), Is.EqualTo((nint)0));
    }

    [TestCaseSource(nameof(Entries))]
    public void Entry_OnEveryParityCaseItAppliesTo_EqualsReferenceExactly(string entry)
    {
        var ran = new List<string>();
        foreach (var isa in NativeBackend.SupportedIsas)
        {
            int ranHere = 0;
            var refusals = new List<string>();
            foreach (var c in TestData.Parity.Where(c => c.Pool is not null))
            {
                var d = c.Pool!.Value;
                var x = TestData.Ints(d.InputElements, 1, -2, 2);
                var dy = TestData.Ints(d.OutputElements, 2);
                var (ry, rdx) = Reference(d, x, dy);
                bool max = d.Kind == PoolKind.Max;
                var fwd = Run(d, isa, entry, max ? NativePoolOp.MaxForward : NativePoolOp.AvgForward, x, dy, d.OutputElements);
                var bwd = Run(d, isa, entry, max ? NativePoolOp.MaxBackward : NativePoolOp.AvgBackward, x, dy, d.InputElements);
                string where = $"{entry} on native:{NativeBackend.IsaName(isa)}, {c.Name}";
                foreach (var (got, want, dir) in new[] { (fwd, ry, "forward"), (bwd, rdx, "backward") })
                {
                    if (got.Refusal is { } why) { refusals.Add($"{c.Name} {dir}: {why}"); continue; }
                    Tolerance.Exact(got.Out!, want, $"{where} {dir}");
                    ranHere++;
                    ran.Add($"{NativeBackend.IsaName(isa)} {c.Name} {dir}");
                }
            }
            if (ranHere == 0)
                Assert.That(refusals, Has.All.Contains($"is not built for {NativeBackend.IsaName(isa)}"),
                    $"{entry} applies to no pool case of parity.txt on {NativeBackend.IsaName(isa)}");
        }
        Assert.That(ran, Is.Not.Empty, $"{entry} applies to no pool case of parity.txt on any ISA this CPU runs");
        TestContext.Out.WriteLine($"{entry}: {ran.Count} runs: {string.Join(", ", ran)}");
    }

    [Test]
    public void ForcedEntryThatDoesNotApply_IsRefusedWithTheReason()
    {
        var d = new FcPool2dDesc(new Pool2dDesc(PoolKind.Max, 1, 1, 8, 8, 3, 2));
        float* buf = stackalloc float[64];
        var st = NativeMethods.fc_f32_pool2d_run(&d, NativeIsa.Auto, "small-plane", (int)NativePoolOp.MaxForward, buf, null, buf);
        var e = Assert.Throws<NotSupportedException>(() => NativeMethods.Check(st, "fc_f32_pool2d_run"));
        Assert.That(e!.Message, Does.Contain("small-plane").And.Contain("does not apply to max forward").Or.Contain("is not built for"));
        st = NativeMethods.fc_f32_pool2d_run(&d, NativeIsa.Auto, "no-such-entry", (int)NativePoolOp.MaxForward, buf, null, buf);
        Assert.Throws<ArgumentException>(() => NativeMethods.Check(st, "fc_f32_pool2d_run"));
    }

    private static (float[] Y, float[] Dx) Reference(Pool2dDesc d, float[] x, float[] dy)
    {
        var be = TestBackends.Reference;
        using var plan = be.CreatePool2d(d);
        using var tx = TestData.Tensor(be, d.InputShape, x);
        using var ty = be.Allocate(d.OutputShape);
        using var tdy = TestData.Tensor(be, d.OutputShape, dy);
        using var tdx = be.Allocate(d.InputShape);
        plan.Forward(tx, ty);
        plan.Backward(tx, tdy, tdx);
        return (ty.ToArray(), tdx.ToArray());
    }

    /// <summary>One op by the named entry; the output starts as NaN, so every element must be written.</summary>
    private static (float[]? Out, string? Refusal) Run(Pool2dDesc desc, NativeIsa isa, string entry, NativePoolOp op, float[] x,
                                                       float[] dy, long outElements)
    {
        var d = new FcPool2dDesc(desc);
        var o = new float[outElements];
        Array.Fill(o, float.NaN);
        FcStatus st;
        fixed (float* px = x, pdy = dy, po = o)
            st = NativeMethods.fc_f32_pool2d_run(&d, isa, entry, (int)op, op == NativePoolOp.AvgBackward ? null : px,
                                                 op is NativePoolOp.MaxForward or NativePoolOp.AvgForward ? null : pdy, po);
        if (st == FcStatus.Unsupported) return (null, NativeMethods.Str(NativeMethods.fc_last_error()));
        NativeMethods.Check(st, $"fc_f32_pool2d_run({entry}, {op})");
        return (o, null);
    }
}
