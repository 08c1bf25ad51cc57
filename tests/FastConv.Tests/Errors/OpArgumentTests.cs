using FastConv.Backends.Managed;
using FastConv.Shapes;
using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>The remaining argument checks of HostBackend, the shape-file reader and the standalone managed pieces.</summary>
[TestFixture]
public class OpArgumentTests
{
    private static IBackend Be => BackendRegistry.Get("managed");

    private static void Throws<TEx>(TestDelegate call, string messagePart) where TEx : Exception
    {
        var ex = Assert.Throws<TEx>(call);
        Assert.That(ex!.Message, Does.Contain(messagePart));
    }

    [Test]
    public void BiasAdd_NeedsChannels()
    {
        using var x = Be.Allocate([5]); using var b = Be.Allocate([5]);
        Throws<ArgumentException>(() => Be.BiasAdd(x, b), "x has shape [5], expected at least 2 dimensions");
    }

    [Test]
    public void GlobalAvgPool_OutputElements()
    {
        using var x = Be.Allocate([2, 3, 4, 4]); using var y = Be.Allocate([2, 4]);
        Throws<ArgumentException>(() => Be.GlobalAvgPoolForward(x, y), "y has shape [2, 4] (8 elements), expected 6 elements");
    }

    [Test]
    public void ReluBackward_ShapeMismatch()
    {
        using var x = Be.Allocate([2, 3]); using var dy = Be.Allocate([3, 2]); using var dx = Be.Allocate([2, 3]);
        Throws<ArgumentException>(() => Be.ReluBackward(x, dy, dx), "dy has shape [3, 2], expected [2, 3]");
    }

    [Test]
    public void DropoutBackward_MaskShape()
    {
        using var dy = Be.Allocate([4]); using var mask = Be.Allocate([5]); using var dx = Be.Allocate([4]);
        Throws<ArgumentException>(() => Be.DropoutBackward(dy, mask, dx), "mask has shape [5], expected [4]");
    }

    [TestCase(2f, 1e-5f, "momentum must be in [0, 1], got 2")]
    [TestCase(0.1f, 0f, "epsilon must be a positive number, got 0")]
    public void BatchNorm_Hyperparameters(float momentum, float eps, string message)
    {
        using var x = Be.Allocate([2, 3, 2, 2]); using var y = Be.Allocate([2, 3, 2, 2]);
        var c = Enumerable.Range(0, 6).Select(_ => Be.Allocate([3])).ToArray();
        try { Throws<ArgumentOutOfRangeException>(() => Be.BatchNormForwardTraining(x, c[0], c[1], y, c[2], c[3], c[4], c[5], momentum, eps), message); }
        finally { foreach (var t in c) t.Dispose(); }
    }

    [TestCase(1f, 0.999f, 1e-8f, 0f, "beta1 must be in [0, 1), got 1")]
    [TestCase(0.9f, -0.1f, 1e-8f, 0f, "beta2 must be in [0, 1), got -0.1")]
    [TestCase(0.9f, 0.999f, 0f, 0f, "epsilon must be a positive number, got 0")]
    [TestCase(0.9f, 0.999f, 1e-8f, -1f, "weightDecay must be >= 0, got -1")]
    public void Adam_Hyperparameters(float b1, float b2, float eps, float wd, string message)
    {
        using var w = Be.Allocate([3]); using var g = Be.Allocate([3]); using var m = Be.Allocate([3]); using var v = Be.Allocate([3]);
        Throws<ArgumentOutOfRangeException>(() => Be.AdamUpdate(w, g, m, v, 0.001f, b1, b2, eps, 1, wd), message);
    }

    [Test]
    public void Sgd_NegativeWeightDecay_And_VelocityShape()
    {
        using var w = Be.Allocate([3]); using var g = Be.Allocate([3]); using var v = Be.Allocate([3]); using var v4 = Be.Allocate([4]);
        Throws<ArgumentOutOfRangeException>(() => Be.SgdMomentumUpdate(w, g, v, 0.1f, 0.9f, -1f), "weightDecay must be >= 0, got -1");
        Throws<ArgumentException>(() => Be.SgdMomentumUpdate(w, g, v4, 0.1f, 0.9f), "velocity has shape [4], expected [3]");
    }

    [Test]
    public void Gemm_NotMatrices_And_NonFiniteAlpha()
    {
        using var a3 = Be.Allocate([2, 2, 2]); using var a = Be.Allocate([2, 2]); using var b = Be.Allocate([2, 2]); using var c = Be.Allocate([2, 2]);
        Throws<ArgumentException>(() => Be.Gemm(a3, b, c), "a, b and c must be matrices, got [2, 2, 2]");
        Throws<ArgumentOutOfRangeException>(() => Be.Gemm(a, b, c, alpha: float.NaN), "alpha must be a finite number, got NaN");
    }

    [Test]
    public void SoftmaxCrossEntropy_LogitsRank_And_LabelsShape()
    {
        using var l1 = Be.Allocate([6]); using var p1 = Be.Allocate([6]); using var lab = Be.Allocate([2]);
        Throws<ArgumentException>(() => Be.SoftmaxCrossEntropyForward(l1, lab, p1), "logits must be [N, classes], got [6]");
        using var logits = Be.Allocate([3, 2]); using var probs = Be.Allocate([3, 2]);
        Throws<ArgumentException>(() => Be.SoftmaxCrossEntropyForward(logits, lab, probs), "labels has shape [2], expected [3]");
    }

    [Test]
    public void Tensor_CopyToWrongLength_And_NegativeStorage()
    {
        using var t = Be.Allocate([2, 2]);
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
