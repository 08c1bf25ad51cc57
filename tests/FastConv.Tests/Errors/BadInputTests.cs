using FastConv.Shapes;
using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>Every validation path: the exception type, and a message that names the offending value; the checks of ops on
/// every backend and variant, OpenCL included.</summary>
[TestFixture]
public class BadInputTests
{
    [Test]
    public void Conv2d_KernelDoesNotFit_MessageShowsTheFormula()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(1, 1, 3, 3, 1, 5, 5, stride: 1, padding: 0));
        Assert.That(ex!.Message, Is.EqualTo("Conv2d: kernel 5x5, padding 0 does not fit a 3x3 input: output height (3 - 5 + 2*0)/1 + 1 = -1"));
    }

    [Test]
    public void Conv2d_DilatedKernelDoesNotFit_NamesTheDilation()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(1, 1, 4, 4, 1, 3, 3, dilation: 2));
        Assert.That(ex!.Message, Does.Contain("(4 - 5 (kernel 3 dilated by 2) + 2*0)/1 + 1 = 0"));
    }

    [TestCase(0, 1, 1, 1, 1, 1, 1, 1, 0, 1, "batch N", TestName = "Conv2d_ZeroBatch")]
    [TestCase(1, -2, 1, 1, 1, 1, 1, 1, 0, 1, "channels C", TestName = "Conv2d_NegativeChannels")]
    [TestCase(1, 1, 0, 1, 1, 1, 1, 1, 0, 1, "input height H", TestName = "Conv2d_ZeroHeight")]
    [TestCase(1, 1, 1, 1, 0, 1, 1, 1, 0, 1, "filters K", TestName = "Conv2d_ZeroFilters")]
    [TestCase(1, 1, 1, 1, 1, 0, 1, 1, 0, 1, "kernel height R", TestName = "Conv2d_ZeroKernel")]
    [TestCase(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, "stride height", TestName = "Conv2d_ZeroStride")]
    [TestCase(1, 1, 1, 1, 1, 1, 1, 1, -1, 1, "padding height", TestName = "Conv2d_NegativePadding")]
    [TestCase(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, "dilation height", TestName = "Conv2d_ZeroDilation")]
    public void Conv2d_OutOfRangeArgument_NamesIt(int n, int c, int h, int w, int k, int r, int s, int stride, int pad, int dil, string name)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2dDesc(n, c, h, w, k, r, s, stride, pad, dil));
        Assert.That(ex!.ParamName, Is.EqualTo(name));
        Assert.That(ex.Message, Does.Contain($"{name} must be"));
    }

    [Test]
    public void Conv2d_ElementCountOverflow_IsRefusedBeforeAllocation()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(int.MaxValue, int.MaxValue, int.MaxValue, 3, 1, 1, 1));
        Assert.That(ex!.Message, Does.Contain("overflows a 64-bit count"));
        Assert.That(ex.Message, Does.Contain("2147483647"));
    }

    [Test]
    public void Pool2d_PaddingMoreThanHalfKernel()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Pool2dDesc(PoolKind.Max, 1, 1, 8, 8, 2, 2, 2));
        Assert.That(ex!.Message, Does.Contain("padding 2x2 must be at most half the kernel 2x2"));
    }

    [Test]
    public void Pool2d_WindowDoesNotFit_ShowsFormula()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Pool2dDesc(PoolKind.Average, 1, 1, 2, 2, 3, 1));
        Assert.That(ex!.Message, Does.Contain("Pool2d: kernel 3x3, padding 0 does not fit a 2x2 input: output height (2 - 3 + 2*0)/1 + 1 = 0"));
    }

    [Test]
    public void Pool2d_ZeroStride()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Pool2dDesc(PoolKind.Max, 1, 1, 4, 4, 2, 0));
        Assert.That(ex!.Message, Does.Contain("stride height must be >= 1, got 0"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Allocate_ZeroDimension_NamesTheShape(string backend)
    {
        var be = TestBackends.Get(backend);
        var ex = Assert.Throws<ArgumentException>(() => be.Allocate([2, 0, 3]));
        Assert.That(ex!.Message, Does.Contain("dimension 1 of shape [2, 0, 3] must be >= 1, got 0"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Allocate_OverflowingShape(string backend)
    {
        var be = TestBackends.Get(backend);
        var ex = Assert.Throws<ArgumentException>(() => be.Allocate([int.MaxValue, int.MaxValue, int.MaxValue]));
        Assert.That(ex!.Message, Does.Contain("more elements than a 64-bit count holds"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.FastNames))]
    public void ConvForward_WrongOutputShape_NamesTensorAndShapes(string backend)
    {
        var be = TestBackends.Get(backend);
        var d = new Conv2dDesc(1, 2, 5, 5, 3, 3, 3);
        using var plan = be.CreateConv2d(d);
        using var x = be.Allocate(d.InputShape); using var w = be.Allocate(d.WeightShape); using var y = be.Allocate([1, 3, 5, 5]);
        var ex = Assert.Throws<ArgumentException>(() => plan.Forward(x, w, null, y));
        Assert.That(ex!.ParamName, Is.EqualTo("y"));
        Assert.That(ex.Message, Does.Contain("y has shape [1, 3, 5, 5], expected [1, 3, 3, 3]"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void ConvBackwardFilter_WrongBiasShape(string backend)
    {
        var be = TestBackends.Get(backend);
        var d = new Conv2dDesc(1, 2, 5, 5, 3, 3, 3);
        using var plan = be.CreateConv2d(d);
        using var x = be.Allocate(d.InputShape); using var dy = be.Allocate(d.OutputShape);
        using var dw = be.Allocate(d.WeightShape); using var db = be.Allocate([4]);
        var ex = Assert.Throws<ArgumentException>(() => plan.BackwardFilter(x, dy, dw, db));
        Assert.That(ex!.Message, Does.Contain("dbias has shape [4], expected [3]"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Conv_NullInput(string backend)
    {
        var be = TestBackends.Get(backend);
        var d = new Conv2dDesc(1, 1, 3, 3, 1, 1, 1);
        using var plan = be.CreateConv2d(d);
        using var w = be.Allocate(d.WeightShape); using var y = be.Allocate(d.OutputShape);
        var ex = Assert.Throws<ArgumentNullException>(() => plan.Forward(null!, w, null, y));
        Assert.That(ex!.ParamName, Is.EqualTo("x"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void DisposedTensor_IsRefusedWithItsName(string backend)
    {
        var be = TestBackends.Get(backend);
        var d = new Conv2dDesc(1, 1, 3, 3, 1, 1, 1);
        using var plan = be.CreateConv2d(d);
        var x = be.Allocate(d.InputShape);
        x.Dispose();
        using var w = be.Allocate(d.WeightShape); using var y = be.Allocate(d.OutputShape);
        var ex = Assert.Throws<ObjectDisposedException>(() => plan.Forward(x, w, null, y));
        Assert.That(ex!.Message, Does.Contain("x ([1, 1, 3, 3]) has been disposed"));
        Assert.Throws<ObjectDisposedException>(() => x.ToArray());
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Pool_WrongInputShape(string backend)
    {
        var be = TestBackends.Get(backend);
        var d = new Pool2dDesc(PoolKind.Max, 1, 2, 4, 4, 2, 2);
        using var plan = be.CreatePool2d(d);
        using var x = be.Allocate([1, 2, 4, 5]); using var y = be.Allocate(d.OutputShape);
        var ex = Assert.Throws<ArgumentException>(() => plan.Forward(x, y));
        Assert.That(ex!.Message, Does.Contain("x has shape [1, 2, 4, 5], expected [1, 2, 4, 4]"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Gemm_InnerDimensionsDiffer(string backend)
    {
        var be = TestBackends.Get(backend);
        using var a = be.Allocate([3, 4]); using var b = be.Allocate([5, 2]); using var c = be.Allocate([3, 2]);
        var ex = Assert.Throws<ArgumentException>(() => be.Gemm(a, b, c));
        Assert.That(ex!.Message, Does.Contain("op(a) is 3x4, op(b) is 5x2"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Gemm_WrongOutputShape(string backend)
    {
        var be = TestBackends.Get(backend);
        using var a = be.Allocate([3, 4]); using var b = be.Allocate([4, 2]); using var c = be.Allocate([2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => be.Gemm(a, b, c));
        Assert.That(ex!.Message, Does.Contain("c has shape [2, 3], expected [3, 2]"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void SoftmaxCrossEntropy_LabelOutOfRange(string backend)
    {
        var be = TestBackends.Get(backend);
        using var logits = be.Allocate([2, 3]); using var probs = be.Allocate([2, 3]);
        using var labels = TestData.Tensor(be, [2], [1f, 3f]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => be.SoftmaxCrossEntropyForward(logits, labels, probs));
        Assert.That(ex!.Message, Does.Contain("label 1 is 3, expected a class index in [0, 3)"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void SoftmaxCrossEntropy_FractionalLabel(string backend)
    {
        var be = TestBackends.Get(backend);
        using var logits = be.Allocate([1, 3]); using var probs = be.Allocate([1, 3]);
        using var labels = TestData.Tensor(be, [1], [0.5f]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => be.SoftmaxCrossEntropyForward(logits, labels, probs));
        Assert.That(ex!.Message, Does.Contain("label 0 is 0.5"));
    }

    [TestCase(-0.1f)]
    [TestCase(1f)]
    [TestCase(float.NaN)]
    public void Dropout_ProbabilityOutOfRange(float p)
    {
        foreach (var be in TestBackends.All)
        {
            using var x = be.Allocate([4]); using var y = be.Allocate([4]); using var m = be.Allocate([4]);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => be.DropoutForward(x, y, m, p, 1), be.Name);
            Assert.That(ex!.Message, Does.Contain($"p must be in [0, 1), got {p}"), be.Name);
        }
    }

    [TestCase(0f, 0.9f, "lr")]
    [TestCase(-1f, 0.9f, "lr")]
    [TestCase(0.1f, 1f, "momentum")]
    public void Sgd_BadHyperparameters(float lr, float momentum, string name)
    {
        foreach (var be in TestBackends.All)
        {
            using var w = be.Allocate([4]); using var g = be.Allocate([4]); using var v = be.Allocate([4]);
            var ex = Assert.Throws<ArgumentOutOfRangeException>(() => be.SgdMomentumUpdate(w, g, v, lr, momentum), be.Name);
            Assert.That(ex!.ParamName, Is.EqualTo(name), be.Name);
        }
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Adam_StepCountsFromOne(string backend)
    {
        var be = TestBackends.Get(backend);
        using var w = be.Allocate([4]); using var g = be.Allocate([4]); using var m = be.Allocate([4]); using var v = be.Allocate([4]);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => be.AdamUpdate(w, g, m, v, 0.001f, 0.9f, 0.999f, 1e-8f, 0));
        Assert.That(ex!.Message, Does.Contain("step counts from 1, got 0"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void BatchNorm_WrongGammaShape(string backend)
    {
        var be = TestBackends.Get(backend);
        using var x = be.Allocate([2, 3, 4, 4]); using var y = be.Allocate([2, 3, 4, 4]);
        using var gamma = be.Allocate([4]);
        using var c3 = be.Allocate([3]); using var m = be.Allocate([3]); using var s = be.Allocate([3]);
        using var rm = be.Allocate([3]); using var rv = be.Allocate([3]);
        var ex = Assert.Throws<ArgumentException>(() => be.BatchNormForwardTraining(x, gamma, c3, y, m, s, rm, rv, 0.1f, 1e-5f));
        Assert.That(ex!.Message, Does.Contain("gamma has shape [4], expected [3]"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Tensor_CopyFromWrongLength(string backend)
    {
        var be = TestBackends.Get(backend);
        using var t = be.Allocate([2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => t.CopyFrom(new float[5]));
        Assert.That(ex!.Message, Does.Contain("source has 5 elements, tensor [2, 3] has 6"));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Tensor_ReshapeToOtherCount(string backend)
    {
        var be = TestBackends.Get(backend);
        using var t = be.Allocate([2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => t.Reshape(7));
        Assert.That(ex!.Message, Does.Contain("[2, 3] has 6 elements, [7] has 7"));
    }

    [Test]
    public void Registry_UnknownBackend_ListsKnownOnes()
    {
        var ex = Assert.Throws<ArgumentException>(() => BackendRegistry.Get("cuda"));
        Assert.That(ex!.Message, Does.Contain("Unknown backend 'cuda'"));
        Assert.That(ex.Message, Does.Contain("managed"));
    }

    [Test]
    public void Registry_UnavailableBackend_SaysWhy_And_AutoSkipsIt()
    {
        BackendRegistry.Register("broken-test-backend", -1, () => throw new InvalidOperationException("libbroken.so: cannot open shared object file"));
        var info = BackendRegistry.List().Single(b => b.Name == "broken-test-backend");
        Assert.That(info.IsAvailable, Is.False);
        Assert.That(info.Reason, Does.Contain("libbroken.so"));
        var ex = Assert.Throws<BackendUnavailableException>(() => BackendRegistry.Get("broken-test-backend"));
        Assert.That(ex!.Message, Does.Contain("not available: libbroken.so"));
        Assert.That(BackendRegistry.Get("auto").Name, Is.Not.EqualTo("broken-test-backend"));
    }

    [Test]
    public void Threads_MustBePositive()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.Threads = 0);
        Assert.That(ex!.Message, Does.Contain("Threads must be >= 1, got 0"));
    }

    [Test]
    public void ShapeFile_BadLine_NamesFileAndLine()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastconv-shapes-{Guid.NewGuid():N}.txt");
        File.WriteAllText(path, "conv ok n=1 c=1 h=3 w=3 k=1 r=1 s=1\nconv bad n=1 c=1 h=3 w=3 k=1 r=5 s=5\n");
        try
        {
            var ex = Assert.Throws<FormatException>(() => ShapeSuite.Load(path));
            Assert.That(ex!.Message, Does.StartWith($"{path}:2: Conv2d: kernel 5x5"));
        }
        finally { File.Delete(path); }
    }
}
