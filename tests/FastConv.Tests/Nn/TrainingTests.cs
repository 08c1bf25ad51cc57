using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Tests.Support;

namespace FastConv.Tests.Nn;

/// <summary>
/// Training on real Fashion-MNIST images (the shipped test file, small subsets): the notes' overfitting sanity
/// check on every backend, agreement of a seeded run across backends, bit-for-bit repeatability, and no tensor
/// allocation in a steady-state step.
/// </summary>
[TestFixture]
public class TrainingTests
{
    internal static readonly Lazy<Dataset> Images = new(() =>
    {
        string dir = FashionMnist.FindShipped() ?? throw new InvalidOperationException("data/fashion-mnist is not above the test directory.");
        return Idx.Load("fashion-mnist-test", Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), FashionMnist.ClassNames);
    });

    public static IEnumerable<string> AllBackends() => TestBackends.FastNames.Append("reference");

    /// <summary>A network small enough to train on the reference backend in a test.</summary>
    private static Sequential Small(IBackend be, int seed) => new Sequential(be, [1, 28, 28],
        new Conv2d(be, 1, 8, 3, padding: 1), new ReLU(be), new MaxPool2d(be),
        new Conv2d(be, 8, 8, 3, stride: 2, padding: 1), new BatchNorm2d(be, 8), new ReLU(be),
        new Flatten(be), new Linear(be, 8 * 7 * 7, 10, heInit: false))
        .Also(m => m.Initialize(seed));

    private static (Tensor X, Tensor Y) Batch(IBackend be, Dataset data, int first, int count)
    {
        var loader = new BatchLoader(data, count, data.ComputeNormalization());
        var x = be.Allocate([count, 1, 28, 28]);
        var y = be.Allocate([count]);
        loader.Fill(Enumerable.Range(first, count).ToArray(), 0, x, y);
        return (x, y);
    }

    private static double Accuracy(Sequential m, Tensor x, Tensor y)
    {
        var s = m.Forward(x, training: false).ToArray();
        var labels = y.ToArray();
        int k = s.Length / labels.Length, correct = 0;
        for (int i = 0; i < labels.Length; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (s[i * k + j] > s[i * k + best]) best = j;
            if (best == (int)labels[i]) correct++;
        }
        return (double)correct / labels.Length;
    }

    /// <summary>CS231n's sanity check: a small net drives 50 training images to 100% accuracy within 150 full-batch steps.</summary>
    [TestCaseSource(nameof(AllBackends))]
    public void Overfits50Images(string backend)
    {
        var be = TestBackends.Get(backend);
        using var model = Small(be, 1);
        using var opt = new Adam(model.Parameters.ToList());
        using var loss = new SoftmaxCrossEntropyLoss(be);
        var (x, y) = Batch(be, Images.Value, 0, 50);
        using (x) using (y)
        {
            double first = 0, last = 0;
            int steps = 0;
            for (; steps < 150; steps++)
            {
                last = loss.Forward(model.Forward(x, training: true, step: steps), y);
                if (steps == 0) first = last;
                model.Backward(loss.Backward());
                opt.Step(0.01f);
                if (steps % 10 == 9 && Accuracy(model, x, y) == 1.0) break;
            }
            double acc = Accuracy(model, x, y);
            TestContext.Out.WriteLine($"{backend}: loss {first:0.000} → {last:0.0000} in {steps + 1} steps, training accuracy {acc:P0}");
            Assert.That(acc, Is.EqualTo(1.0), $"{backend} did not overfit 50 images in 150 steps (loss {first:0.000} → {last:0.000})");
            Assert.That(last, Is.LessThan(first / 5));
        }
    }

    private static float[] LossCurve(IBackend be, int steps, int seed = 2)
    {
        using var model = Small(be, seed);
        using var opt = new Sgd(model.Parameters.ToList(), 0.9f, weightDecay: 1e-4f);
        using var loss = new SoftmaxCrossEntropyLoss(be);
        var losses = new float[steps];
        var data = Images.Value;
        var loader = new BatchLoader(data, 32, data.ComputeNormalization());
        using var x = be.Allocate([32, 1, 28, 28]);
        using var y = be.Allocate([32]);
        var order = loader.Order(seed, 0);
        for (int s = 0; s < steps; s++)
        {
            loader.Fill(order, s * 32, x, y);
            losses[s] = loss.Forward(model.Forward(x, training: true, step: s), y);
            model.Backward(loss.Backward());
            opt.Step(0.02f);
        }
        return losses;
    }

    /// <summary>20 seeded SGD steps give the same loss on every backend as on the reference, within float rounding grown over 20 steps.</summary>
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.FastNames))]
    public void SeededLossAgreesWithReference(string backend)
    {
        var expected = LossCurve(TestBackends.Reference, 20);
        var got = LossCurve(TestBackends.Get(backend), 20);
        TestContext.Out.WriteLine($"step 1: {got[0]} vs {expected[0]}; step 20: {got[^1]} vs {expected[^1]}");
        Assert.That(got[0], Is.EqualTo(expected[0]).Within(1e-5).Percent, "first step");
        for (int i = 0; i < got.Length; i++)
            Assert.That(got[i], Is.EqualTo(expected[i]).Within(0.01).Percent, $"step {i + 1}");
        Assert.That(expected[^1], Is.LessThan(expected[0]), "the loss should fall over 20 steps");
    }

    [TestCaseSource(nameof(AllBackends))]
    public void SameSeed_SameLosses_BitForBit(string backend)
    {
        var a = LossCurve(TestBackends.Get(backend), 8);
        var b = LossCurve(TestBackends.Get(backend), 8);
        Assert.That(b, Is.EqualTo(a));
        var c = LossCurve(TestBackends.Get(backend), 8, seed: 3);
        Assert.That(c, Is.Not.EqualTo(a), "another seed should give another run");
    }

    /// <summary>Sequential's fusions (conv applies the ReLU; the max pool masks the gradient for the ReLU before it, here
    /// with overlapping, padded windows; the second ReLU is folded forward only) change no bit of a run.</summary>
    [TestCaseSource(nameof(AllBackends))]
    public void FusedLayers_SameRunAsUnfused_BitForBit(string backend)
    {
        var be = TestBackends.Get(backend);
        (float[] Losses, float[][] Params, bool Positive) Run(bool fuse)
        {
            using var model = new Sequential(be, [1, 28, 28],
                new Conv2d(be, 1, 8, 3, padding: 1), new ReLU(be), new MaxPool2d(be, 3, 2, 1),
                new Conv2d(be, 8, 8, 3, stride: 2, padding: 1), new ReLU(be),
                new Flatten(be), new Linear(be, 8 * 7 * 7, 10, heInit: false)) { FuseLayers = fuse };
            model.Initialize(5);
            var layers = model.Layers;
            Assert.That(((Conv2d)layers[0]).FusedActivation, Is.EqualTo(fuse ? Activation.Relu : Activation.None));
            Assert.That(((ReLU)layers[1]).MaskedByNext && ((MaxPool2d)layers[2]).MasksGradientByOutput, Is.EqualTo(fuse));
            Assert.That(((ReLU)layers[4]).AppliedByPrevious, Is.EqualTo(fuse));
            Assert.That(((ReLU)layers[4]).MaskedByNext, Is.False, "a ReLU before Flatten keeps its backward");
            using var opt = new Sgd(model.Parameters.ToList(), 0.9f);
            using var loss = new SoftmaxCrossEntropyLoss(be);
            var (x, y) = Batch(be, Images.Value, 100, 16);
            using (x) using (y)
            {
                var losses = new float[6];
                for (int s = 0; s < losses.Length; s++)
                {
                    losses[s] = loss.Forward(model.Forward(x, training: true, step: s), y);
                    model.Backward(loss.Backward());
                    opt.Step(0.05f);
                }
                bool positive = layers[0].Output!.ToArray().All(v => v >= 0);
                return (losses, model.Parameters.Select(p => p.Value.ToArray()).ToArray(), positive);
            }
        }
        var fused = Run(true);
        var plain = Run(false);
        Assert.That(fused.Losses, Is.EqualTo(plain.Losses));
        for (int i = 0; i < fused.Params.Length; i++) Assert.That(fused.Params[i], Is.EqualTo(plain.Params[i]), $"parameter {i}");
        Assert.That(fused.Positive && !plain.Positive, Is.True, "the fused conv's output is the activated map, the plain one's is not");
    }

    /// <summary>DESIGN.md: a training step in steady state allocates no new tensors.</summary>
    [Test]
    public void SteadyStateStep_AllocatesNoTensors()
    {
        var be = BackendRegistry.Get("managed");
        using var model = ModelZoo.Create("vgg-small", be, [1, 28, 28], 10, seed: 1);
        using var opt = new Sgd(model.Parameters.ToList());
        using var loss = new SoftmaxCrossEntropyLoss(be);
        using var trainer = new Trainer(model, loss, opt, new ConstantLr(0.01f), 8, 1);
        var (x, y) = Batch(be, Images.Value, 0, 8);
        using (x) using (y)
        {
            trainer.TrainStep(x, y, 0.01f);
            long before = HostStorage.Allocations;
            for (int i = 0; i < 3; i++) trainer.TrainStep(x, y, 0.01f);
            Assert.That(HostStorage.Allocations - before, Is.Zero, "tensors allocated by steps after the first");
        }
    }
}

internal static class Fluent
{
    public static T Also<T>(this T value, Action<T> action) { action(value); return value; }
}
