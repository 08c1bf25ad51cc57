using FastConv.Tests.Support;

namespace FastConv.Tests.Core;

[TestFixture, NonParallelizable]
public class RegistryTests
{
    [Test]
    public void Order_IsFastestFirst_ReferenceLast()
    {
        var names = BackendRegistry.List().Where(b => b.IsAvailable).Select(b => b.Name).ToList();
        Assert.That(names, Does.Contain("managed"));
        Assert.That(names.Last(), Is.EqualTo("reference"));
        Assert.That(names.IndexOf("managed"), Is.LessThan(names.IndexOf("reference")));
    }

    [Test]
    public void Auto_PicksTheFirstAvailable_ThatDoesNotPassItselfOver()
    {
        var expected = BackendRegistry.Available.First(b => b is not IAutoChoice { PreferredForAuto: false });
        Assert.That(BackendRegistry.Get("auto"), Is.SameAs(expected));
        if (BackendRegistry.Available[0] is IAutoChoice { PreferredForAuto: false } skipped)
            Assert.That(skipped.AutoNote, Is.Not.Empty, "a backend auto passes over says why");
        var d = new Conv2dDesc(1, 1, 4, 4, 1, 3, 3);
        Assert.That(BackendRegistry.AutoFor(d).Supports(d), Is.True);
    }

    [Test]
    public void Plans_NameTheirImplementation_And_VerboseLogsIt()
    {
        var d = new Conv2dDesc(1, 2, 6, 6, 3, 3, 3, padding: 1);
        var be = BackendRegistry.Get("managed");
        using var plan = be.CreateConv2d(d);
        Assert.That(plan.Implementation, Does.StartWith("managed:").And.Contain("im2col-gemm"));
        using var x = be.Allocate(d.InputShape); using var w = be.Allocate(d.WeightShape); using var y = be.Allocate(d.OutputShape);
        var log = new StringWriter();
        var (oldOn, oldWriter) = (Verbose.Enabled, Verbose.Writer);
        try
        {
            Verbose.Enabled = true; Verbose.Writer = log;
            plan.Forward(x, w, null, y);
            be.ReluForward(y, y);
            be.LeakyReluForward(y, y, 0.1f);
            using var bias = be.Allocate([3]);
            be.BiasAddForward(y, bias);
            be.BiasAddBackward(y, bias);
        }
        finally { Verbose.Enabled = oldOn; Verbose.Writer = oldWriter; }
        Assert.That(log.ToString(), Does.Contain($"fastconv_verbose,exec,{plan.Implementation},conv2d_fwd,{d}"));
        Assert.That(log.ToString(), Does.Contain("fastconv_verbose,exec,managed,relu_fwd,[1, 3, 6, 6]"), "element-wise ops log too");
        Assert.That(log.ToString(), Does.Contain("fastconv_verbose,exec,managed,leaky_relu_fwd,[1, 3, 6, 6]"), "an EltwiseOp logs its token");
        // an op's log token is its C name after fc_f32_ (fastconv.h: fc_f32_bias_add_fwd, fc_f32_bias_add_bwd)
        Assert.That(log.ToString(), Does.Contain("fastconv_verbose,exec,managed,bias_add_fwd,[1, 3, 6, 6]"));
        Assert.That(log.ToString(), Does.Contain("fastconv_verbose,exec,managed,bias_add_bwd,[1, 3, 6, 6]"));
        // each line ends with the op's wall time in milliseconds, written after the op ran
        Assert.That(log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries),
            Has.All.Matches(@"^fastconv_verbose,exec,.*,\d+(\.\d+)?$"));
    }

    [Test]
    public void HostTensors_MoveBetweenHostBackendsWithoutCopy()
    {
        var managed = BackendRegistry.Get("managed");
        var reference = TestBackends.Reference;
        var d = new Conv2dDesc(1, 1, 3, 3, 1, 1, 1);
        using var x = TestData.Tensor(managed, d.InputShape, TestData.Ints(9, 1));
        using var w = TestData.Tensor(managed, d.WeightShape, [2f]);
        using var y = managed.Allocate(d.OutputShape);
        using var plan = reference.CreateConv2d(d);
        plan.Forward(x, w, null, y);      // managed-allocated tensors run on the reference backend as they are
        Assert.That(y.ToArray(), Is.EqualTo(x.ToArray().Select(v => 2 * v).ToArray()));
    }

    [Test]
    public void Reshape_SharesStorage()
    {
        var be = BackendRegistry.Get("managed");
        using var t = be.Allocate([2, 3, 2, 2]);
        using var flat = t.Reshape(2, 12);
        flat.Span[13] = 5f;
        Assert.That(t.ToArray()[13], Is.EqualTo(5f));
        Assert.That(flat.Shape.ToArray(), Is.EqualTo(new[] { 2, 12 }));
    }

    [Test]
    public void ShapeSuites_AreAsSpecified()
    {
        Assert.That(TestData.Parity.Count(c => c.Conv is not null), Is.GreaterThanOrEqualTo(40));
        var bench = TestData.Bench.Select(c => c.Name).ToArray();
        Assert.That(bench, Is.EqualTo(new[] { "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "P1", "P2", "P3" }));
        Assert.That(TestData.Bench.Single(c => c.Name == "C6").Conv!.Value.OutH, Is.EqualTo(55));
    }
}
