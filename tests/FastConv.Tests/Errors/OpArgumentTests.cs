using FastConv.Backends.Managed;
using FastConv.Shapes;
using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>The remaining argument checks of every backend (Backend runs them for all), the shape-file reader and the
/// standalone managed pieces.</summary>
[TestFixture]
public class OpArgumentTests
{
    private static void Throws<TEx>(Action call, string messagePart, IBackend? be = null) where TEx : Exception
    {
        var ex = Assert.Throws<TEx>(() => call(), be?.Name ?? "");
        Assert.That(ex!.Message, Does.Contain(messagePart), be?.Name);
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void BiasAdd_NeedsChannels(string backend)
    {
        var be = TestBackends.Get(backend);
        using var x = be.Allocate([5]); using var b = be.Allocate([5]);
        Throws<ArgumentException>(() => be.BiasAddForward(x, b), "x has shape [5], expected at least 2 dimensions");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void GlobalAvgPool_OutputElements(string backend)
    {
        var be = TestBackends.Get(backend);
        using var x = be.Allocate([2, 3, 4, 4]); using var y = be.Allocate([2, 4]);
        Throws<ArgumentException>(() => be.GlobalAvgPool2dForward(x, y), "y has shape [2, 4] (8 elements), expected 6 elements");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void ReluBackward_ShapeMismatch(string backend)
    {
        var be = TestBackends.Get(backend);
        using var x = be.Allocate([2, 3]); using var dy = be.Allocate([3, 2]); using var dx = be.Allocate([2, 3]);
        Throws<ArgumentException>(() => be.ReluBackward(x, dy, dx), "dy has shape [3, 2], expected [2, 3]");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void LeakyRelu_Slope_And_Shapes(string backend)
    {
        var be = TestBackends.Get(backend);
        using var x = be.Allocate([2, 3]); using var y = be.Allocate([2, 3]); using var dy = be.Allocate([3, 2]);
        Throws<ArgumentOutOfRangeException>(() => be.LeakyReluForward(x, y, -0.1f), "LeakyReluForward: alpha (the slope for x <= 0) must be in [0, 1], got -0.1");
        Throws<ArgumentOutOfRangeException>(() => be.LeakyReluBackward(x, x, y, float.NaN), "alpha (the slope for x <= 0) must be in [0, 1], got NaN");
        Throws<ArgumentException>(() => be.LeakyReluBackward(x, dy, y, 0.1f), "LeakyReluBackward: dy has shape [3, 2], expected [2, 3]");
        Throws<ArgumentNullException>(() => be.LeakyReluForward(x, null!, 0.1f), "LeakyReluForward: y is null");
        if (be is not HostBackend)   // a device backend refuses host memory by name
        {
            using var host = TestBackends.Reference.Allocate([2, 3]);
            Throws<ArgumentException>(() => be.LeakyReluForward(host, y, 0.1f), "LeakyReluForward: x lives on backend 'reference'");
        }
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void DropoutBackward_MaskShape(string backend)
    {
        var be = TestBackends.Get(backend);
        using var dy = be.Allocate([4]); using var mask = be.Allocate([5]); using var dx = be.Allocate([4]);
        Throws<ArgumentException>(() => be.DropoutBackward(dy, mask, dx), "mask has shape [5], expected [4]");
    }

    [TestCase(2f, 1e-5f, "momentum must be in [0, 1], got 2")]
    [TestCase(0.1f, 0f, "epsilon must be a positive number, got 0")]
    public void BatchNorm_Hyperparameters(float momentum, float eps, string message)
    {
        foreach (var be in TestBackends.All)
        {
            using var x = be.Allocate([2, 3, 2, 2]); using var y = be.Allocate([2, 3, 2, 2]);
            var c = Enumerable.Range(0, 6).Select(_ => be.Allocate([3])).ToArray();
            try { Throws<ArgumentOutOfRangeException>(() => be.BatchNormForwardTraining(x, c[0], c[1], y, c[2], c[3], c[4], c[5], momentum, eps), message, be); }
            finally { foreach (var t in c) t.Dispose(); }
        }
    }

    [TestCase(1f, 0.999f, 1e-8f, 0f, "beta1 must be in [0, 1), got 1")]
    [TestCase(0.9f, -0.1f, 1e-8f, 0f, "beta2 must be in [0, 1), got -0.1")]
    [TestCase(0.9f, 0.999f, 0f, 0f, "epsilon must be a positive number, got 0")]
    [TestCase(0.9f, 0.999f, 1e-8f, -1f, "weightDecay must be >= 0, got -1")]
    public void Adam_Hyperparameters(float b1, float b2, float eps, float wd, string message)
    {
        foreach (var be in TestBackends.All)
        {
            using var w = be.Allocate([3]); using var g = be.Allocate([3]); using var m = be.Allocate([3]); using var v = be.Allocate([3]);
            Throws<ArgumentOutOfRangeException>(() => be.AdamUpdate(w, g, m, v, 0.001f, b1, b2, eps, 1, wd), message, be);
        }
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Sgd_NegativeWeightDecay_And_VelocityShape(string backend)
    {
        var be = TestBackends.Get(backend);
        using var w = be.Allocate([3]); using var g = be.Allocate([3]); using var v = be.Allocate([3]); using var v4 = be.Allocate([4]);
        Throws<ArgumentOutOfRangeException>(() => be.SgdMomentumUpdate(w, g, v, 0.1f, 0.9f, -1f), "weightDecay must be >= 0, got -1");
        Throws<ArgumentException>(() => be.SgdMomentumUpdate(w, g, v4, 0.1f, 0.9f), "velocity has shape [4], expected [3]");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Gemm_NotMatrices_And_NonFiniteAlpha(string backend)
    {
        var be = TestBackends.Get(backend);
        using var a3 = be.Allocate([2, 2, 2]); using var a = be.Allocate([2, 2]); using var b = be.Allocate([2, 2]); using var c = be.Allocate([2, 2]);
        Throws<ArgumentException>(() => be.Gemm(a3, b, c), "a, b and c must be matrices, got [2, 2, 2]");
        Throws<ArgumentOutOfRangeException>(() => be.Gemm(a, b, c, alpha: float.NaN), "alpha must be a finite number, got NaN");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void SoftmaxCrossEntropy_LogitsRank_And_LabelsShape(string backend)
    {
        var be = TestBackends.Get(backend);
        using var l1 = be.Allocate([6]); using var p1 = be.Allocate([6]); using var lab = be.Allocate([2]);
        Throws<ArgumentException>(() => be.SoftmaxCrossEntropyForward(l1, lab, p1), "logits must be [N, classes], got [6]");
        using var logits = be.Allocate([3, 2]); using var probs = be.Allocate([3, 2]);
        Throws<ArgumentException>(() => be.SoftmaxCrossEntropyForward(logits, lab, probs), "labels has shape [2], expected [3]");
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Tensor_CopyToWrongLength_And_NegativeStorage(string backend)
    {
        var be = TestBackends.Get(backend);
        using var t = be.Allocate([2, 2]);
        Throws<ArgumentException>(() => t.CopyTo(new float[3]), "destination has 3 elements, tensor [2, 2] has 4");
        Throws<ArgumentOutOfRangeException>(() => new HostStorage(-1), "length must be >= 0");
    }

    [Test]
    public void Pool2d_UnknownKind()
    {
        Throws<ArgumentOutOfRangeException>(() => new Pool2dDesc((PoolKind)7, 1, 1, 4, 4, 2, 2), "unknown pool kind 7");
    }

    [Test]
    public void ManagedIm2Col_ImageOutsideBatch_And_WrongColumns()
    {
        var d = new Conv2dDesc(2, 1, 4, 4, 1, 3, 3);
        Throws<ArgumentOutOfRangeException>(() => ManagedIm2Col.Run(d, 2, new float[32], new float[36]), "image 2 is outside batch 2");
        Throws<ArgumentException>(() => ManagedIm2Col.Run(d, 0, new float[32], new float[35]), "cols has 35 elements, expected 9x4 = 36");
    }

    [TestCase("pool p kind=median n=1 c=1 h=4 w=4 kernel=2", ":1: unknown pool kind 'median'")]
    [TestCase("fft f n=1", ":1: unknown op 'fft'")]
    [TestCase("conv a n=1 c=1 h=3 w=3 k=1 r=1 s=1\nconv a n=1 c=1 h=3 w=3 k=1 r=1 s=1", "case name 'a' appears more than once")]
    [TestCase("conv a n=1 c=1 h=3 w=3 r=1 s=1", ":1: conv a is missing k=")]
    [TestCase("conv a n=1 c=x h=3 w=3 k=1 r=1 s=1", ":1: c=x: 'x' is not an integer")]
    public void ShapeFile_Errors_NameFileAndLine(string text, string message)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastconv-shapes-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, text);
        try { Throws<FormatException>(() => ShapeSuite.Load(path), message); }
        finally { File.Delete(path); }
    }

    [Test]
    public void ShapeFile_Missing()
    {
        Throws<FileNotFoundException>(() => ShapeSuite.Load("/nonexistent/shapes.txt"), "Shape file not found: /nonexistent/shapes.txt");
    }
}
