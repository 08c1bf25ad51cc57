using FastConv.Nn;
using FastConv.Tests.Support;

namespace FastConv.Tests.Nn;

[TestFixture]
public class LossAndScheduleTests
{
    private static IBackend Be => BackendRegistry.Get("managed");

    /// <summary>The notes' worked example (cat / car / frog scores): SVM losses 2.9, 0 and 12.9, mean 5.27.</summary>
    [Test]
    public void SvmLoss_MatchesTheNotesExample()
    {
        using var loss = new SvmLoss(Be);
        using var scores = Be.Allocate([3, 3]);
        using var labels = Be.Allocate([3]);
        scores.CopyFrom([3.2f, 5.1f, -1.7f,
                         1.3f, 4.9f, 2.0f,
                         2.2f, 2.5f, -3.1f]);
        labels.CopyFrom([0f, 1f, 2f]);
        Assert.That(loss.Forward(scores, labels), Is.EqualTo((2.9 + 0 + 12.9) / 3).Within(1e-5));
        Assert.That(loss.ExampleLoss([3.2f, 5.1f, -1.7f], 0), Is.EqualTo(2.9).Within(1e-6));
        // dL/ds: each violated margin adds 1/N to the wrong class and −1/N to the right one
        var g = loss.Backward().ToArray();
        Assert.That(g, Is.EqualTo(new[] { -1f / 3, 1f / 3, 0f, 0f, 0f, 0f, 1f / 3, 1f / 3, -2f / 3 }).Within(1e-7));
    }

    /// <summary>Every loss's backward against central differences of its host-side per-example loss (double).</summary>
    [TestCase("softmax", 0f)]
    [TestCase("softmax", 0.1f)]
    [TestCase("softmax", 0.6f)]
    [TestCase("svm", 0f)]
    public void LossGradient_MatchesNumeric(string name, float smoothing)
    {
        var be = new Float64Backend();
        using var loss = Loss.Create(name, be, smoothing);
        Assert.That(loss, smoothing > 0 ? Is.TypeOf<SmoothedSoftmaxLoss>() : Is.Not.TypeOf<SmoothedSoftmaxLoss>());
        using var scores = be.Allocate([4, 5]);
        using var labels = be.Allocate([4]);
        var s = Float64Backend.D(scores);
        var r = new Random(3);
        for (int i = 0; i < s.Length; i++) s[i] = r.NextDouble() * 4 - 2;
        labels.CopyFrom([1f, 0f, 4f, 2f]);
        loss.Forward(scores, labels);
        var analytic = (double[])Float64Backend.D(loss.Backward()).Clone();
        double Mean()
        {
            double t = 0;
            for (int n = 0; n < 4; n++) t += loss.ExampleLoss(s.AsSpan(n * 5, 5).ToArray().Select(v => (float)v).ToArray(), (int)Float64Backend.D(labels)[n]);
            return t / 4;
        }
        // float scores inside ExampleLoss: a coarser step keeps rounding out of the differences (the SVM is piecewise linear).
        var numeric = Tolerance.CentralDifferences(Mean, s, 1e-3);
        Assert.That(Tolerance.RelError(analytic, numeric), Is.LessThan(1e-3));
    }

    /// <summary>Label smoothing by its definition, −Σₖ qₖ log pₖ with q = (1 − ε)·onehot + ε/K, written out here; and
    /// with ε = 0 the backend's fused cross-entropy, value and gradient.</summary>
    [Test]
    public void SmoothedSoftmax_IsCrossEntropyAgainstTheSmoothedTargets()
    {
        float[] s = [2.0f, -1.0f, 0.5f, 0.0f, 3.0f, 1.0f, -2.0f, 0.25f];
        float[] y = [2f, 1f];
        double Definition(double eps, out double[] grad)
        {
            grad = new double[8];
            double total = 0;
            for (int n = 0; n < 2; n++)
            {
                var e = Enumerable.Range(0, 4).Select(k => Math.Exp(s[n * 4 + k])).ToArray();
                for (int k = 0; k < 4; k++)
                {
                    double p = e[k] / e.Sum(), q = (k == (int)y[n] ? 1 - eps : 0) + eps / 4;
                    total -= q * Math.Log(p);
                    grad[n * 4 + k] = (p - q) / 2;
                }
            }
            return total / 2;
        }
        using var scores = Be.Allocate([2, 4]);
        using var labels = Be.Allocate([2]);
        scores.CopyFrom(s);
        labels.CopyFrom(y);
        using var smoothed = new SmoothedSoftmaxLoss(Be, 0.3f);
        double want = Definition(0.3f, out var g);
        Assert.That(smoothed.Forward(scores, labels), Is.EqualTo(want).Within(1e-6));
        Assert.That(smoothed.Backward().ToArray(), Is.EqualTo(g.Select(v => (float)v)).Within(1e-7));
        Assert.That(smoothed.ExampleLoss(s.AsSpan(4, 4), 1), Is.Not.EqualTo(new SoftmaxCrossEntropyLoss(Be).ExampleLoss(s.AsSpan(4, 4), 1)).Within(1e-3));
        using var none = new SmoothedSoftmaxLoss(Be, 0f);
        using var fused = new SoftmaxCrossEntropyLoss(Be);
        Assert.That(none.Forward(scores, labels), Is.EqualTo(fused.Forward(scores, labels)).Within(1e-6));
        Assert.That(none.Backward().ToArray(), Is.EqualTo(fused.Backward().ToArray()).Within(1e-7));
    }

    [Test]
    public void LabelSmoothing_IsRefusedOutsideItsRangeAndForTheSvm()
    {
        Assert.That(() => Loss.Create("softmax", Be, 1f), Throws.ArgumentException.With.Message.Contains("must be in [0, 1), got 1"));
        Assert.That(() => Loss.Create("softmax", Be, float.NaN), Throws.ArgumentException.With.Message.Contains("must be in [0, 1)"));
        Assert.That(() => Loss.Create("svm", Be, 0.1f), Throws.ArgumentException.With.Message.Contains("applies to the softmax loss"));
        using var loss = new SmoothedSoftmaxLoss(Be, 0.1f);
        using var scores = Be.Allocate([2, 3]);
        using var labels = Be.Allocate([2]);
        labels.CopyFrom([0f, 3f]);
        Assert.That(() => loss.Forward(scores, labels), Throws.ArgumentException.With.Message.Contains("label 3 at row 1"));
    }

    [Test]
    public void SvmLoss_RefusesBadLabels()
    {
        using var loss = new SvmLoss(Be);
        using var scores = Be.Allocate([2, 3]);
        using var labels = Be.Allocate([2]);
        labels.CopyFrom([0f, 3f]);
        var e = Assert.Throws<ArgumentException>(() => loss.Forward(scores, labels));
        Assert.That(e!.Message, Does.Contain("label 3 at row 1"));
    }

    [Test]
    public void Schedules()
    {
        var step = new StepDecayLr(0.1f, 2, 0.5f);
        Assert.That(new[] { step.Rate(0), step.Rate(1.9), step.Rate(2), step.Rate(4.5) }, Is.EqualTo(new[] { 0.1f, 0.1f, 0.05f, 0.025f }).Within(1e-7));
        var cos = new CosineLr(0.1f, 10);
        Assert.That(cos.Rate(0), Is.EqualTo(0.1f));
        Assert.That(cos.Rate(5), Is.EqualTo(0.05f).Within(1e-6));
        Assert.That(cos.Rate(10), Is.GreaterThan(0f).And.LessThan(1e-3f));
        Assert.That(new ConstantLr(0.3f).Rate(99), Is.EqualTo(0.3f));
        // the ResNet paper's: /10 at half and three quarters of the run (15 epochs: at 7.5 and 11.25)
        var multi = LrSchedule.Create("multistep", 0.1f, 15);
        Assert.That(new[] { multi.Rate(0), multi.Rate(7.49), multi.Rate(7.5), multi.Rate(11.2), multi.Rate(11.25), multi.Rate(14.9) },
            Is.EqualTo(new[] { 0.1f, 0.1f, 0.01f, 0.01f, 0.001f, 0.001f }).Within(1e-7));
        Assert.That(RunSettings.Recipe("resnet20", "fashion-mnist")!.Schedule, Is.EqualTo("multistep"));
        // the paper's crop-flip where it applies: CIFAR-10's crops and flips, flips alone on Fashion-MNIST, none on a folder
        Assert.That(new[] { "fashion-mnist", "cifar10", "folder" }.Select(d => RunSettings.Recipe("resnet20", d)!.Augment),
            Is.EqualTo(new[] { "flip", "crop-flip", "auto" }));
        Assert.That(RunSettings.Recipe("resnet20", "fashion-mnist")!.Augmentation, Is.EqualTo(new FastConv.Nn.Data.Augmentation(0, true)));
        Assert.That(RunSettings.Recipe("resnet20", "cifar10")!.Augmentation, Is.EqualTo(FastConv.Nn.Data.Augmentation.Cifar));
        // the paper's batch 128, and 64 on Fashion-MNIST (twice the paper-scaled iterations of a short run)
        Assert.That(new[] { "fashion-mnist", "cifar10", "folder" }.Select(d => RunSettings.Recipe("resnet20", d)!.Batch),
            Is.EqualTo(new[] { 64, 128, 128 }));
        Assert.That(RunSettings.Recipe("cs231n-convnet", "fashion-mnist"), Is.Null);
        Assert.Throws<ArgumentException>(() => LrSchedule.Create("warmup", 0.1f, 5));
    }

    [Test]
    public void Optimizer_RefusesBadLearningRate_AndAppliesDecayToWeightsOnly()
    {
        using var model = new Sequential(Be, [4], new Linear(Be, 4, 2));
        model.Initialize(1);
        using var sgd = new Sgd(model.Parameters.ToList(), momentum: 0f, weightDecay: 0.5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.Step(0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => sgd.Step(float.NaN));
        var fc = (Linear)model.Layers[0];
        fc.Bias.Value.CopyFrom([1f, 1f]);
        var w0 = fc.Weight.Value.ToArray();
        fc.Weight.Grad.CopyFrom(new float[8]); fc.Bias.Grad.CopyFrom(new float[2]);
        sgd.Step(0.1f);
        // zero gradients: weights shrink by lr·λ·w, biases stay
        Assert.That(fc.Weight.Value.ToArray(), Is.EqualTo(w0.Select(w => w - 0.1f * 0.5f * w).ToArray()).Within(1e-6));
        Assert.That(fc.Bias.Value.ToArray(), Is.EqualTo(new[] { 1f, 1f }));
    }

    [Test]
    public void Sequential_ReportsTheLayerThatDoesNotFit()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sequential(Be, [1, 28, 28],
            new Conv2d(Be, 1, 8, 3), new Flatten(Be), new Linear(Be, 8 * 28 * 28, 10)));
        Assert.That(e!.Message, Does.Contain("fc1").And.Contain("expects 6272 input features, got 5408"));
        var c = Assert.Throws<ArgumentException>(() => new Sequential(Be, [3, 8, 8], new Conv2d(Be, 1, 8, 3)));
        Assert.That(c!.Message, Does.Contain("conv1").And.Contain("expects 1 input channels, got 3"));
    }
}
