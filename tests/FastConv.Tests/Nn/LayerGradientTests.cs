using FastConv.Nn;
using FastConv.Tests.Support;
using static FastConv.Tests.Support.Float64Backend;

namespace FastConv.Tests.Nn;

/// <summary>
/// CS231n's gradient check per layer: every layer of FastConv.Nn runs on <see cref="Float64Backend"/> (the
/// reference kernels in double), and its backward — dx and every parameter gradient — is compared with float64
/// central differences (h = 1e-5) of L = Σ layer(x) ⊙ G: rel_error ≤ 1e-7. A whole small network: ≤ 1e-5.
/// </summary>
[TestFixture]
public class LayerGradientTests
{
    private const double H = 1e-5;
    private static readonly Float64Backend Be = new();

    private static void FillRandom(Tensor t, int seed, double scale = 1)
    {
        var r = new Random(seed);
        var d = D(t);
        for (int i = 0; i < d.Length; i++) d[i] = (r.NextDouble() * 2 - 1) * scale;
    }

    private static double[] Numeric(Func<double> f, double[] x) => Tolerance.CentralDifferences(f, x, H);

    private static void Check(double[] analytic, double[] numeric, string what, double limit)
    {
        double e = Tolerance.RelError(analytic, numeric);
        TestContext.Out.WriteLine($"{what}: rel_error {e:E2}");
        Assert.That(e, Is.LessThanOrEqualTo(limit), what);
    }

    /// <summary>Checks dx and each parameter gradient of <paramref name="layer"/> for an input of <paramref name="shape"/>.</summary>
    private static void CheckLayer(Layer layer, int[] shape, bool training = true)
    {
        if (layer is Block) LayerChain.Name([layer], "");   // the block names its layers under its own name
        else layer.Name = layer.Kind.ToLowerInvariant();
        layer.Initialize(new Random(5));
        bool block = layer is Block;
        int seed = 11;
        foreach (var p in layer.Parameters) FillRandom(p.Value, p.Name.Length + (block ? seed++ * 7 : 11), 0.5);   // beyond init: non-trivial γ, β, biases
        using var x = Be.Allocate(shape);
        FillRandom(x, 1);
        var y = layer.Forward(x, training);
        using var g = Be.Allocate(y.Shape);
        FillRandom(g, 2);
        double Loss()
        {
            var o = layer.Forward(x, training);
            double s = 0; var od = D(o); var gd = D(g);
            for (int i = 0; i < od.Length; i++) s += od[i] * gd[i];
            return s;
        }
        Loss();
        var dx = layer.Backward(g);
        Assert.That(dx, Is.Not.Null);
        var analyticDx = (double[])D(dx!).Clone();
        var grads = layer.Parameters.Select(p => (p, (double[])D(p.Grad).Clone())).ToList();
        // A block is a small network (convolutions feeding batch norms, whose scale invariance leaves their weight gradients
        // small next to the values): DESIGN.md's limit for a whole small network. Every gradient must also be non-zero,
        // so a branch whose ReLUs are all off cannot pass by comparing zeros.
        double limit = block ? 1e-5 : Tolerance.GradientRelError;
        Check(analyticDx, Numeric(Loss, D(x)), $"{layer.Kind} dx", limit);
        foreach (var (p, analytic) in grads)
        {
            if (block) Assert.That(analytic.Max(Math.Abs), Is.GreaterThan(1e-6), $"{layer.Kind} d{p.Name} is zero: nothing flows through it");
            Check(analytic, Numeric(Loss, D(p.Value)), $"{layer.Kind} d{p.Name}", limit);
        }
        layer.Dispose();
    }

    [Test] public void Conv2d() => CheckLayer(new Conv2d(Be, 3, 4, 3, stride: 1, padding: 1), [2, 3, 5, 6]);
    [Test] public void Conv2d_Strided() => CheckLayer(new Conv2d(Be, 2, 3, 3, stride: 2, padding: 0), [2, 2, 7, 7]);
    [Test] public void MaxPool2d() => CheckLayer(new MaxPool2d(Be, 2, 2), [2, 3, 6, 6]);
    [Test] public void MaxPool2d_Overlapping() => CheckLayer(new MaxPool2d(Be, 3, 2, 1), [1, 2, 7, 7]);
    [Test] public void AvgPool2d() => CheckLayer(new AvgPool2d(Be, 2, 2), [2, 3, 6, 6]);
    [Test] public void GlobalAvgPool2d() => CheckLayer(new GlobalAvgPool2d(Be), [2, 3, 4, 5]);
    [Test] public void ReLU() => CheckLayer(new ReLU(Be), [2, 3, 4, 4]);
    [Test] public void Linear() => CheckLayer(new Linear(Be, 12, 5), [3, 12]);
    [Test] public void Flatten() => CheckLayer(new Flatten(Be), [2, 3, 2, 2]);
    [Test] public void BatchNorm2d_Training() => CheckLayer(new BatchNorm2d(Be, 3), [4, 3, 3, 3], training: true);

    /// <summary>Backward needs the batch statistics of a training-mode forward; after an inference forward it refuses.</summary>
    [Test]
    public void BatchNorm2d_BackwardAfterInference_Throws()
    {
        using var bn = new BatchNorm2d(Be, 3) { Name = "bn1" };
        bn.Initialize(new Random(1));
        using var x = Be.Allocate([2, 3, 3, 3]);
        FillRandom(x, 1);
        var y = bn.Forward(x, training: false);
        var e = Assert.Throws<InvalidOperationException>(() => bn.Backward(y));
        Assert.That(e!.Message, Does.Contain("bn1").And.Contain("training"));
    }
    [Test] public void Conv2d_NoBias() => CheckLayer(new Conv2d(Be, 3, 4, 3, padding: 1, bias: false), [2, 3, 5, 5]);

    /// <summary>The blocks, whole: dx and every parameter of every layer inside, in float64 (the add's backward passes dy to
    /// both branches, the relu after the add masks it, batch norm in training mode inside).</summary>
    [Test] public void Residual_Identity() => CheckLayer(ModelZoo.BasicBlock(Be, 3, 3, 1, projection: false), [2, 3, 5, 5]);
    [Test] public void Residual_OptionA_SubsampleAndZeroPad() => CheckLayer(ModelZoo.BasicBlock(Be, 2, 4, 2, projection: false), [2, 2, 6, 6]);
    [Test] public void Residual_OptionB_Projection() => CheckLayer(ModelZoo.BasicBlock(Be, 2, 4, 2, projection: true), [2, 2, 5, 5]);
    [Test] public void Residual_NoReluAfterAdd() =>
        CheckLayer(new ResidualBlock(Be, [new Conv2d(Be, 2, 2, 3, padding: 1), new ReLU(Be), new Conv2d(Be, 2, 2, 1)], reluAfterAdd: false), [2, 2, 4, 4]);
    [Test] public void Inception() => CheckLayer(InceptionBlock.GoogLeNet(Be, 3, 2, 2, 3, 1, 2, 2), [2, 3, 5, 5]);

    [Test] public void Dropout() => CheckLayer(new DropoutLayer(Be, 0.4f) { Seed = 42 }, [2, 3, 4, 4]);

    /// <summary>A whole network (conv–relu–pool–bn–fc–relu–dropout–fc) with softmax cross-entropy: every parameter gradient ≤ 1e-5.
    /// (Batch norm sits after the pool, not right after the conv: there the conv bias would cancel and its gradient be exactly 0.)</summary>
    [Test]
    public void WholeNetwork_SoftmaxLoss()
    {
        using var model = new Sequential(Be, [2, 6, 6],
            new Conv2d(Be, 2, 4, 3, padding: 1), new ReLU(Be), new MaxPool2d(Be), new BatchNorm2d(Be, 4),
            new Flatten(Be), new Linear(Be, 4 * 3 * 3, 8), new ReLU(Be), new DropoutLayer(Be, 0.25f), new Linear(Be, 8, 3, heInit: false));
        model.Initialize(3);
        using var loss = new SoftmaxCrossEntropyLoss(Be);
        using var x = Be.Allocate([4, 2, 6, 6]);
        using var labels = Be.Allocate([4]);
        FillRandom(x, 7);
        labels.CopyFrom([0f, 2f, 1f, 2f]);
        double Loss()
        {
            var s = model.Forward(x, training: true, step: 9);
            loss.Forward(s, labels);
            var p = D(loss.Probabilities); double l = 0;
            for (int n = 0; n < 4; n++) l -= Math.Log(p[n * 3 + (int)D(labels)[n]]);
            return l / 4;
        }
        Loss();
        model.Backward(loss.Backward());
        var analytic = model.Parameters.Select(p => (p, (double[])D(p.Grad).Clone())).ToList();
        Assert.That(analytic, Has.Count.EqualTo(8));
        foreach (var (p, a) in analytic) Check(a, Numeric(Loss, D(p.Value)), $"network d{p.Name}", 1e-5);
    }
}
