using FastConv.Nn;
using FastConv.Backends.Reference;
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
    private static Sequential Small(IBackend be, int seed, bool fuse = true) => new Sequential(be, [1, 28, 28],
        new Conv2d(be, 1, 8, 3, padding: 1), new ReLU(be), new MaxPool2d(be),
        new Conv2d(be, 8, 8, 3, stride: 2, padding: 1), new BatchNorm2d(be, 8), new ReLU(be),
        new Flatten(be), new Linear(be, 8 * 7 * 7, 10, heInit: false)) { FuseLayers = fuse }
        .Also(m => m.Initialize(seed));

    private static (Tensor X, Tensor Y) Batch(IBackend be, Dataset data, int first, int count)
    {
        var loader = new BatchLoader(data, count, data.ComputeNormalization());
        var x = be.Allocate([count, 1, 28, 28]);
        var y = be.Allocate([count]);
        loader.Fill(Enumerable.Range(first, count).ToArray(), 0, x, y);
        return (x, y);
    }

    internal static double Accuracy(Sequential m, Tensor x, Tensor y)
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

    private static (BatchLoader Loader, int[] Order) Batches(int seed)
    {
        var data = Images.Value;
        var loader = new BatchLoader(data, 32, data.ComputeNormalization());
        return (loader, loader.Order(seed, 0));
    }

    private static float[] LossCurve(IBackend be, int steps, int seed = 2)
    {
        using var model = Small(be, seed);
        using var opt = new Sgd(model.Parameters.ToList(), 0.9f, weightDecay: 1e-4f);
        using var loss = new SoftmaxCrossEntropyLoss(be);
        var losses = new float[steps];
        var (loader, order) = Batches(seed);
        using var x = be.Allocate([32, 1, 28, 28]);
        using var y = be.Allocate([32]);
        for (int s = 0; s < steps; s++)
        {
            loader.Fill(order, s * 32, x, y);
            losses[s] = loss.Forward(model.Forward(x, training: true, step: s), y);
            model.Backward(loss.Backward());
            opt.Step(0.02f);
        }
        return losses;
    }

    /// <summary>
    /// The first step's loss in float64 (the same network, weights and batch on <see cref="Float64Backend"/>, layers run
    /// one by one and unfused), and the first-order bound on the error of any float32 forward pass of it: each layer's
    /// own rounding (conv and linear: K·ε·Σ|terms| with K = C·R·S + 1 or in + 1; batch norm and the loss: their
    /// <see cref="Tolerance"/> bounds; ReLU, max pool and flatten round nothing), weighted by the float64 gradient of
    /// the loss with respect to that layer's output.
    /// </summary>
    private static readonly Lazy<(double Exact, double Bound, string Terms)> FirstLoss = new(() =>
    {
        var be = new Float64Backend();
        using var model = Small(be, 2, fuse: false);
        using var x = be.Allocate([32, 1, 28, 28]);
        using var y = be.Allocate([32]);
        var (loader, order) = Batches(2);
        loader.Fill(order, 0, x, y);
        var layers = model.Layers;
        // per layer: its own rounding, as a function of g = dL/d(its output)
        var propagated = new Func<double[], double>[layers.Count];
        Tensor h = x;
        for (int l = 0; l < layers.Count; l++)
        {
            var input = h;
            var xin = (double[])Float64Backend.D(input).Clone();
            h = layers[l].Forward(input, training: true);
            double[]? bound = layers[l] switch
            {
                Conv2d c => Tolerance.ReductionBound(ConvAbsSum(c, input, h), (long)c.InChannels * c.KernelSize * c.KernelSize + 1),
                Linear f => Tolerance.ReductionBound(LinearAbsSum(f, xin, input.Dim(0)), f.InFeatures + 1L),
                _ => null,
            };
            propagated[l] = layers[l] switch
            {
                Conv2d or Linear => g => Tolerance.Propagated(g, bound!),
                BatchNorm2d b => g => Tolerance.BatchNormTrainingPropagated(input.Dim(0), input.Dim(1), input.Dim(2) * input.Dim(3), xin,
                    (double[])Float64Backend.D(b.Gamma.Value).Clone(), (double[])Float64Backend.D(b.Beta.Value).Clone(), b.Epsilon, g),
                ReLU or MaxPool2d or Flatten => _ => 0,
                var other => throw new NotSupportedException($"No rounding bound for a {other.Kind} layer."),
            };
        }
        var logits = (double[])Float64Backend.D(h).Clone();
        var labels = Float64Backend.D(y).Select(v => (int)v).ToArray();
        int n = h.Dim(0), k = h.Dim(1);
        double exact = ReferenceKernels.SoftmaxCrossEntropyForward<double>(n, k, logits, labels, new double[logits.Length]);
        using var loss = new SoftmaxCrossEntropyLoss(be);
        loss.Forward(h, y);
        Tensor? g = loss.Backward();
        var terms = new double[layers.Count];
        for (int l = layers.Count - 1; l >= 0; l--)
        {
            terms[l] = propagated[l](Float64Backend.D(g!));   // g: dL/d(output of layer l)
            g = layers[l].Backward(g!);
        }
        double own = Tolerance.SoftmaxCrossEntropyBound(n, k, logits, labels);
        string text = string.Join(", ", layers.Select((l, i) => $"{l.Name} {terms[i]:E2}").Where((_, i) => terms[i] > 0)) + $", loss {own:E2}";
        return (exact, terms.Sum() + own, text);
    });

    /// <summary>Σ|x·w| + |b| per output element: the conv run on absolute values (in float64).</summary>
    private static double[] ConvAbsSum(Conv2d c, Tensor x, Tensor y)
    {
        var d = new Conv2dDesc(x.Dim(0), c.InChannels, x.Dim(2), x.Dim(3), c.OutChannels, c.KernelSize, c.KernelSize, c.Stride, c.Padding);
        Assert.That(d.OutputShape, Is.EqualTo(y.Shape.ToArray()), "conv geometry");
        var abs = new double[y.Length];
        ReferenceKernels.Conv2dForward<double>(d, Abs(x), Abs(c.Weight.Value), Abs(c.Bias!.Value), abs);
        return abs;
    }

    /// <summary>Σ|x·w| + |b| per output element of a linear layer (weights [out, in]).</summary>
    private static double[] LinearAbsSum(Linear f, double[] x, int n)
    {
        var w = Float64Backend.D(f.Weight.Value);
        var b = Float64Backend.D(f.Bias.Value);
        var abs = new double[(long)n * f.OutFeatures];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < f.OutFeatures; o++)
            {
                double s = Math.Abs(b[o]);
                for (int j = 0; j < f.InFeatures; j++) s += Math.Abs(x[(long)i * f.InFeatures + j] * w[(long)o * f.InFeatures + j]);
                abs[(long)i * f.OutFeatures + o] = s;
            }
        return abs;
    }

    private static double[] Abs(Tensor t) => Float64Backend.D(t).Select(Math.Abs).ToArray();

    /// <summary>
    /// 20 seeded SGD steps give the same loss on every backend as on the reference. The first step's loss, from the
    /// same weights and batch, is within the forward error analysis' bound (<see cref="FirstLoss"/>) of the float64
    /// loss on both; the later ones within 0.01%, float rounding grown over 20 steps.
    /// </summary>
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.FastNames))]
    public void SeededLossAgreesWithReference(string backend)
    {
        var expected = LossCurve(TestBackends.Reference, 20);
        var got = LossCurve(TestBackends.Get(backend), 20);
        TestContext.Out.WriteLine($"step 1: {got[0]} vs {expected[0]}; step 20: {got[^1]} vs {expected[^1]}");
        var (exact, bound, terms) = FirstLoss.Value;
        TestContext.Out.WriteLine($"first-step bound {bound:E2} = {terms}");
        Tolerance.Scalar(expected[0], exact, bound, "reference first step");
        Tolerance.Scalar(got[0], exact, bound, $"{backend} first step");
        for (int i = 1; i < got.Length; i++)
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
    /// with overlapping, padded windows; the second ReLU is folded forward only; the batch norm applies the third and masks
    /// its gradient) change no bit of a run.</summary>
    [TestCaseSource(nameof(AllBackends))]
    public void FusedLayers_SameRunAsUnfused_BitForBit(string backend)
    {
        var be = TestBackends.Get(backend);
        (float[] Losses, float[][] Params, bool Positive) Run(bool fuse)
        {
            using var model = new Sequential(be, [1, 28, 28],
                new Conv2d(be, 1, 8, 3, padding: 1), new ReLU(be), new MaxPool2d(be, 3, 2, 1),
                new Conv2d(be, 8, 8, 3, stride: 2, padding: 1), new ReLU(be), new BatchNorm2d(be, 8), new ReLU(be),
                new Flatten(be), new Linear(be, 8 * 7 * 7, 10, heInit: false)) { FuseLayers = fuse };
            model.Initialize(5);
            var layers = model.Layers;
            Assert.That(((Conv2d)layers[0]).FusedActivation, Is.EqualTo(fuse ? Activation.Relu : Activation.None));
            Assert.That(((ReLU)layers[1]).MaskedByNext && ((MaxPool2d)layers[2]).MasksGradientByOutput, Is.EqualTo(fuse));
            Assert.That(((ReLU)layers[4]).AppliedByPrevious, Is.EqualTo(fuse));
            Assert.That(((ReLU)layers[4]).MaskedByNext || ((ReLU)layers[4]).MaskedByPrevious, Is.False, "a ReLU before a batch norm keeps its backward");
            Assert.That(((BatchNorm2d)layers[5]).FusedRelu && ((ReLU)layers[6]).AppliedByPrevious && ((ReLU)layers[6]).MaskedByPrevious, Is.EqualTo(fuse));
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
                bool positive = layers[0].Output!.ToArray().All(v => v >= 0) && layers[5].Output!.ToArray().All(v => v >= 0);
                return (losses, model.Parameters.Select(p => p.Value.ToArray()).ToArray(), positive);
            }
        }
        var fused = Run(true);
        var plain = Run(false);
        Assert.That(fused.Losses, Is.EqualTo(plain.Losses));
        for (int i = 0; i < fused.Params.Length; i++) Assert.That(fused.Params[i], Is.EqualTo(plain.Params[i]), $"parameter {i}");
        Assert.That(fused.Positive && !plain.Positive, Is.True, "the fused conv's and batch norm's outputs are the activated maps, the plain ones are not");
    }

    /// <summary>DESIGN.md: a training step in steady state allocates no new tensors.</summary>
    [Test]
    public void MirrorAverage_ScoresEachImageAsTheMeanOfItsOwnAndItsMirrorImagesScores()
    {
        var be = BackendRegistry.Get("managed");
        const int n = 40, batch = 16; // three batches, the last one padded
        var data = Images.Value.Subset("mirror", Enumerable.Range(0, n).ToArray());
        var norm = data.ComputeNormalization();
        using var model = Small(be, 3);
        using var loss = Loss.Create("softmax", be);
        var plain = Trainer.Evaluate(model, loss, new BatchLoader(data, batch, norm));
        var averaged = Trainer.Evaluate(model, loss, new BatchLoader(data, batch, norm) { MirrorAverage = true });

        // by hand: each batch and its mirror through the model, the two score rows averaged
        var loader = new BatchLoader(data, batch, norm);
        using var x = be.Allocate([batch, 1, 28, 28]);
        using var y = be.Allocate([batch]);
        var order = Enumerable.Range(0, n).ToArray();
        int correct = 0;
        double total = 0;
        for (int first = 0; first < n; first += batch)
        {
            int rows = loader.Fill(order, first, x, y);
            var a = model.Forward(x, training: false).ToArray();
            loader.Fill(order, first, x, y, mirror: true);
            var b = model.Forward(x, training: false).ToArray();
            for (int i = 0; i < rows; i++)
            {
                var s = Enumerable.Range(0, 10).Select(j => (a[i * 10 + j] + b[i * 10 + j]) * 0.5f).ToArray();
                int label = data.Labels[first + i];
                total += loss.ExampleLoss(s, label);
                if (Array.IndexOf(s, s.Max()) == label) correct++;
            }
        }
        Assert.That(averaged.Accuracy, Is.EqualTo((double)correct / n));
        Assert.That(averaged.Loss, Is.EqualTo(total / n).Within(1e-9));
        Assert.That(averaged.Loss, Is.Not.EqualTo(plain.Loss).Within(1e-6), "the mirror images change the scores");
        Assert.That(averaged.SingleViewAccuracy, Is.EqualTo(plain.Accuracy), "the first view is the plain evaluation");
        Assert.That(plain.SingleViewAccuracy, Is.Null);
        Assert.That(averaged.Count, Is.EqualTo(n));
    }

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
