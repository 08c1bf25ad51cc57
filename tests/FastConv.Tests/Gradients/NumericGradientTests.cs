using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Gradients;

/// <summary>
/// CS231n's gradient check on the reference path, in float64: each backward op against central differences
/// (h = 1e-5) of a scalar loss L = Σ out ⊙ G, with relative error ≤ 1e-7.
/// </summary>
[TestFixture]
public class NumericGradientTests
{
    private const double H = 1e-5;

    private static double[] Rand(long n, int seed, double scale = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (long i = 0; i < n; i++) a[i] = (r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    private static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }

    private static double[] Numeric(Func<double> f, double[] x) => Tolerance.CentralDifferences(f, x, H);

    private static void Check(double[] analytic, double[] numeric, string what)
    {
        double e = Tolerance.RelError(analytic, numeric);
        TestContext.Out.WriteLine($"{what}: rel_error {e:E2}");
        Assert.That(e, Is.LessThanOrEqualTo(Tolerance.GradientRelError), what);
    }

    public static IEnumerable<Conv2dDesc> ConvCases() =>
    [
        new Conv2dDesc(2, 3, 5, 6, 4, 3, 3, stride: 1, padding: 1),
        new Conv2dDesc(1, 2, 7, 7, 3, 3, 2, strideH: 2, strideW: 1, padH: 1, padW: 0, dilationH: 1, dilationW: 2),
        new Conv2dDesc(2, 2, 6, 6, 2, 1, 1, stride: 2),
    ];

    [TestCaseSource(nameof(ConvCases))]
    public void Conv2d_BackwardDataFilterBias(Conv2dDesc d)
    {
        var x = Rand(d.InputElements, 1); var w = Rand(d.WeightElements, 2); var b = Rand(d.K, 3); var g = Rand(d.OutputElements, 4);
        var y = new double[d.OutputElements];
        double Loss() { ReferenceKernels.Conv2dForward<double>(d, x, w, b, y); return Dot(y, g); }

        var dx = new double[d.InputElements];
        ReferenceKernels.Conv2dBackwardData<double>(d, g, w, dx);
        var dw = new double[d.WeightElements]; var db = new double[d.K];
        ReferenceKernels.Conv2dBackwardFilter<double>(d, x, g, dw, db);
        Check(dx, Numeric(Loss, x), $"{d} dx");
        Check(dw, Numeric(Loss, w), $"{d} dw");
        Check(db, Numeric(Loss, b), $"{d} dbias");
    }

    public static IEnumerable<Pool2dDesc> PoolCases() =>
    [
        new Pool2dDesc(PoolKind.Max, 2, 2, 6, 6, 2, 2),
        new Pool2dDesc(PoolKind.Max, 1, 2, 7, 7, 3, 2, 1),
        new Pool2dDesc(PoolKind.Average, 2, 2, 6, 7, 2, 2),
        new Pool2dDesc(PoolKind.Average, 1, 2, 7, 7, 3, 1, 1),
    ];

    [TestCaseSource(nameof(PoolCases))]
    public void Pool2d_Backward(Pool2dDesc d)
    {
        // distinct values far apart compared with h, so no max switches inside the difference
        var r = new Random(5);
        var x = Enumerable.Range(0, (int)d.InputElements).Select(i => i * 0.01).OrderBy(_ => r.Next()).ToArray();
        var g = Rand(d.OutputElements, 6);
        var y = new double[d.OutputElements];
        double Loss() { ReferenceKernels.Pool2dForward<double>(d, x, y); return Dot(y, g); }
        var dx = new double[d.InputElements];
        ReferenceKernels.Pool2dBackward<double>(d, x, g, dx);
        Check(dx, Numeric(Loss, x), $"{d} dx");
    }

    [Test]
    public void GlobalAvgPool_Backward()
    {
        int n = 2, c = 3, hw = 10;
        var x = Rand(n * c * hw, 1); var g = Rand(n * c, 2); var y = new double[n * c];
        double Loss() { ReferenceKernels.GlobalAvgPool2dForward<double>(n, c, hw, x, y); return Dot(y, g); }
        var dx = new double[x.Length];
        ReferenceKernels.GlobalAvgPool2dBackward<double>(n, c, hw, g, dx);
        Check(dx, Numeric(Loss, x), "global avg pool dx");
    }

    [Test]
    public void Relu_Backward()
    {
        var x = Rand(200, 1).Select(v => v + Math.Sign(v) * 0.01).ToArray();   // nothing within h of the kink
        var g = Rand(200, 2); var y = new double[200];
        double Loss() { ReferenceKernels.ReluForward<double>(x, y); return Dot(y, g); }
        var dx = new double[200];
        ReferenceKernels.ReluBackward<double>(x, g, dx);
        Check(dx, Numeric(Loss, x), "relu dx");
    }

    [Test]
    public void LeakyRelu_Backward()
    {
        const double alpha = 0.5;   // a slope this size keeps alpha·g well above the differences' rounding
        var x = Rand(200, 1).Select(v => v + Math.Sign(v) * 0.01).ToArray();   // nothing within h of the kink
        var g = Rand(200, 2);
        double Loss() { double s = 0; for (int i = 0; i < x.Length; i++) s += EltwiseOps.LeakyReluForward.Reference(x[i], 0, alpha) * g[i]; return s; }
        var dx = x.Select((v, i) => EltwiseOps.LeakyReluBackward.Reference(v, g[i], alpha)).ToArray();
        Check(dx, Numeric(Loss, x), "leaky relu dx");
    }

    [Test]
    public void Gemm_And_BiasAdd_Backward()
    {
        // y = a·b + bias (the fully-connected layer): da = G·bᵀ, db = aᵀ·G, dbias = Σ_rows G
        int m = 4, k = 5, n = 3;
        var a = Rand(m * k, 1); var b = Rand(k * n, 2); var bias = Rand(n, 3); var g = Rand(m * n, 4); var y = new double[m * n];
        double Loss()
        {
            ReferenceKernels.Gemm<double>(m, n, k, a, false, b, false, y, 1, 0);
            ReferenceKernels.BiasAddForward<double>(m, n, 1, y, bias);
            return Dot(y, g);
        }
        var da = new double[m * k]; var db = new double[k * n]; var dbias = new double[n];
        ReferenceKernels.Gemm<double>(m, k, n, g, false, b, true, da, 1, 0);
        ReferenceKernels.Gemm<double>(k, n, m, a, true, g, false, db, 1, 0);
        ReferenceKernels.BiasAddBackward<double>(m, n, 1, g, dbias);
        Check(da, Numeric(Loss, a), "gemm da");
        Check(db, Numeric(Loss, b), "gemm db");
        Check(dbias, Numeric(Loss, bias), "bias dbias");
    }

    /// <summary>The batch norm, and with <paramref name="relu"/> the fused batch norm and ReLU: the gradient of
    /// max(0, bn(x)) (values away from the kink: the numeric derivative steps by 1e-6, and no output of these draws is
    /// that close to 0).</summary>
    [TestCase(false)]
    [TestCase(true)]
    public void BatchNorm_Backward(bool relu)
    {
        int n = 3, c = 2, hw = 4;
        var x = Rand(n * c * hw, relu ? 5 : 1, 2); var gamma = Rand(c, relu ? 6 : 2); var beta = Rand(c, relu ? 7 : 3); var g = Rand(x.Length, relu ? 8 : 4);
        var y = new double[x.Length]; var mean = new double[c]; var inv = new double[c];
        double Loss()
        {
            ReferenceKernels.BatchNormForwardTraining<double>(n, c, hw, x, gamma, beta, y, mean, inv, new double[c], new double[c], 0.1, 1e-5, relu);
            return Dot(y, g);
        }
        Loss();
        if (relu) Assert.That(y.Count(v => v == 0), Is.InRange(4, x.Length - 4), "some outputs are cut by the ReLU, some are not");
        var dx = new double[x.Length]; var dgamma = new double[c]; var dbeta = new double[c];
        ReferenceKernels.BatchNormBackward<double>(n, c, hw, x, g, gamma, mean, inv, dx, dgamma, dbeta, relu ? beta : default);
        Check(dx, Numeric(Loss, x), "batchnorm dx");
        Check(dgamma, Numeric(Loss, gamma), "batchnorm dgamma");
        Check(dbeta, Numeric(Loss, beta), "batchnorm dbeta");
    }

    [Test]
    public void Dropout_Backward()
    {
        var x = Rand(100, 1); var g = Rand(100, 2); var y = new double[100]; var mask = new double[100];
        double Loss() { ReferenceKernels.DropoutForward<double>(x, y, mask, 0.4f, 99); return Dot(y, g); }
        Loss();
        var dx = new double[100];
        ReferenceKernels.DropoutBackward<double>(g, mask, dx);
        Check(dx, Numeric(Loss, x), "dropout dx");
    }

    [Test]
    public void SoftmaxCrossEntropy_Backward()
    {
        int n = 5, k = 7;
        var logits = Rand(n * k, 1, 3); int[] labels = [0, 3, 6, 2, 2]; var p = new double[n * k];
        double Loss() => ReferenceKernels.SoftmaxCrossEntropyForward<double>(n, k, logits, labels, p);
        Loss();
        var d = new double[n * k];
        ReferenceKernels.SoftmaxCrossEntropyBackward<double>(n, k, p, labels, d);
        Check(d, Numeric(Loss, logits), "softmax cross-entropy dlogits");
    }
}
