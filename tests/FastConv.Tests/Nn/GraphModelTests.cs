using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Tests.Support;

namespace FastConv.Tests.Nn;

/// <summary>
/// Models that are not a chain: the presets' published parameter counts, the blocks' names, fusions, checkpoints and
/// steady-state buffers, and ResNet-20 overfitting 50 real images on every backend.
/// </summary>
[TestFixture]
public class GraphModelTests : TempDirectoryTests
{
    private static IBackend Reference => TestBackends.Reference;

    [TestCase("resnet20", 269_722)]
    [TestCase("resnet18", 11_689_512)]
    [TestCase("alexnet", 61_100_840)]
    [TestCase("googlenet", 6_998_552)]
    [TestCase("vgg16", 138_357_544)]
    public void Preset_HasThePublishedParameterCount(string name, long published)
    {
        var (input, classes) = ModelZoo.PublishedInput(name)!.Value;
        Assert.That(ModelZoo.PublishedParameters[name], Is.EqualTo(published));
        using var m = ModelZoo.Create(name, Reference, input, classes, seed: 0, initialize: false);
        Assert.That(m.ParameterCount, Is.EqualTo(published), name);
        Assert.That(m.OutputShape, Is.EqualTo(new[] { classes }));
        Assert.That(m.Summarize(1).Sum(r => r.Parameters), Is.EqualTo(published), "the summary's rows add up to the count");
    }

    [Test]
    public void ResNet20_Structure_NamesAndShortcuts()
    {
        using var m = ModelZoo.Create("resnet20", Reference, [3, 32, 32], 10, seed: 1);
        var blocks = m.Layers.OfType<ResidualBlock>().ToList();
        Assert.That(blocks, Has.Count.EqualTo(9));
        Assert.That(m.Layers.OfType<Conv2d>().Count() + blocks.Sum(b => b.Children.OfType<Conv2d>().Count()) + 1, Is.EqualTo(20), "19 convolutions and the fc");
        Assert.That(blocks.Select(b => b.Shortcut.Length), Is.EqualTo(new[] { 0, 0, 0, 1, 0, 0, 1, 0, 0 }), "option A where the size halves");
        Assert.That(blocks[3].Shortcut[0], Is.InstanceOf<ChannelPadShortcut>());
        Assert.That(blocks[3].Parameters.Select(p => p.Name), Is.EqualTo(new[] { "res4.conv1.weight", "res4.bn1.gamma", "res4.bn1.beta", "res4.conv2.weight", "res4.bn2.gamma", "res4.bn2.beta" }));
        Assert.That(m.Parameters.Select(p => p.Name).Distinct().Count(), Is.EqualTo(m.Parameters.Count()), "parameter names are unique");
        Assert.That(blocks[0].Describe(), Is.EqualTo("body: conv3x3-16 - bn - relu - conv3x3-16 - bn; shortcut: identity; relu after the add"));
        Assert.That(blocks[3].Describe(), Does.Contain("shortcut: subsample/s2+zero-pad to 32"));
        using var r18 = ModelZoo.Create("resnet18", Reference, [3, 64, 64], 10, seed: 0, initialize: false);
        var proj = r18.Layers.OfType<ResidualBlock>().First(b => b.Shortcut.Length > 0);
        Assert.That(proj.Parameters.Select(p => p.Name), Does.Contain("res3.shortcut.conv1.weight").And.Contain("res3.shortcut.bn1.beta"));
    }

    [Test]
    public void Inception_FusesConvRelu_InsideItsBranches_AndConcatenates()
    {
        using var m = ModelZoo.Create("googlenet", Reference, [3, 224, 224], 1000, seed: 0, initialize: false);
        var first = m.Layers.OfType<InceptionBlock>().First();
        Assert.That(first.Children.OfType<Conv2d>().All(c => c.FusedActivation == Activation.Relu), "every conv of a branch applies its relu");
        Assert.That(first.Children.OfType<Conv2d>().Select(c => c.Name).Take(2), Is.EqualTo(new[] { "inception1.b1.conv1", "inception1.b2.conv1" }));
        var row = m.Summarize(1).Single(r => r.Name == "inception1");
        Assert.That(row.OutputShape, Is.EqualTo(new[] { 1, 256, 28, 28 }), "3a: 64 + 128 + 32 + 32 channels");
        var e = Assert.Throws<ArgumentException>(() => new Sequential(Reference, [3, 8, 8],
            new InceptionBlock(Reference, [new Conv2d(Reference, 3, 2, 1)], [new Conv2d(Reference, 3, 2, 3)])));
        Assert.That(e!.Message, Does.Contain("branch 2 gives [1, 2, 6, 6], branch 1 [1, 2, 8, 8]"));
        var r = Assert.Throws<ArgumentException>(() => new Sequential(Reference, [3, 8, 8],
            new ResidualBlock(Reference, [new Conv2d(Reference, 3, 4, 3, padding: 1)])));
        Assert.That(r!.Message, Does.Contain("the body gives [1, 4, 8, 8], the shortcut [1, 3, 8, 8]"));
    }

    /// <summary>Both blocks: same results fused and unfused, bit for bit (an inception branch's conv-relu, the residual add).</summary>
    [Test]
    public void Blocks_FusedAndUnfused_SameOutputAndGradients()
    {
        var be = BackendRegistry.Get("managed");
        (float[] Y, float[] G) Run(bool fuse)
        {
            using var m = new Sequential(be, [3, 6, 6], InceptionBlock.GoogLeNet(be, 3, 2, 2, 3, 1, 2, 2), ModelZoo.BasicBlock(be, 9, 9, 1, false),
                new GlobalAvgPool2d(be), new Linear(be, 9, 3)) { FuseLayers = fuse };
            m.Initialize(4);
            using var x = TestData.Tensor(be, [2, 3, 6, 6], TestData.Uniform(2 * 3 * 36, 5));
            using var dy = TestData.Tensor(be, [2, 3], TestData.Uniform(6, 6));
            var y = m.Forward(x, training: true).ToArray();
            m.Backward(dy);
            return (y, m.Parameters.SelectMany(p => p.Grad.ToArray()).ToArray());
        }
        var (fy, fg) = Run(true);
        var (py, pg) = Run(false);
        Assert.That(fy, Is.EqualTo(py));
        Assert.That(fg, Is.EqualTo(pg));
    }

    [Test]
    public void ResNet20_SteadyStateStep_AllocatesNoTensors()
    {
        var be = BackendRegistry.Get("managed");
        using var model = ModelZoo.Create("resnet20", be, [1, 8, 8], 10, seed: 1);
        using var opt = new Sgd(model.Parameters.ToList(), 0.9f);
        using var loss = new SoftmaxCrossEntropyLoss(be);
        using var trainer = new Trainer(model, loss, opt, new ConstantLr(0.01f), 4, 1);
        using var x = TestData.Tensor(be, [4, 1, 8, 8], TestData.Uniform(4 * 64, 3));
        using var y = TestData.Tensor(be, [4], [0f, 1f, 2f, 3f]);
        trainer.TrainStep(x, y, 0.01f);
        long before = HostStorage.Allocations;
        for (int i = 0; i < 3; i++) trainer.TrainStep(x, y, 0.01f);
        Assert.That(HostStorage.Allocations - before, Is.Zero, "tensors allocated by steps after the first");
    }

    [Test]
    public void ResNet20_Checkpoint_RestoresBlocksAndBatchNormStatistics()
    {
        var be = BackendRegistry.Get("managed");
        using var source = ModelZoo.Create("resnet20", be, [1, 8, 8], 10, seed: 1);
        using var x = TestData.Tensor(be, [4, 1, 8, 8], TestData.Uniform(4 * 64, 3));
        source.Forward(x, training: true);   // moves the running statistics off their initial values
        var names = Checkpoint.TensorsOf(source, null).Select(t => t.Name).ToList();
        Assert.That(names, Does.Contain("res4.bn2.running_var").And.Contain("res9.conv2.weight"));
        Assert.That(names.Distinct().Count(), Is.EqualTo(names.Count));
        var ck = new Checkpoint
        {
            Model = "resnet20", InputShape = [1, 8, 8], ClassNames = [.. Enumerable.Range(0, 10).Select(i => $"c{i}")],
            Normalization = new([0f], [1f]), Tensors = Checkpoint.Capture(source, null),
        };
        string path = Path.Combine(Dir, "r.ckpt");
        ck.Save(path);
        using var target = Checkpoint.Load(path).CreateModel(be);
        Assert.That(target.Forward(x, training: false).ToArray(), Is.EqualTo(source.Forward(x, training: false).ToArray()));
    }

    public static IEnumerable<string> AllBackends() => TrainingTests.AllBackends();

    /// <summary>Option A on every backend, against the definition: y[n, k, i, j] = x[n, k, s·i, s·j] for k &lt; C, else 0;
    /// dx[n, c, s·i, s·j] = dy[n, c, i, j], 0 at the positions the subsample skips (odd sizes too: ceil(H / s) rows).</summary>
    [TestCaseSource(nameof(AllBackends))]
    public void ChannelPadShortcut_SubsamplesAndZeroPads_ForwardAndBackward(string backend)
    {
        var be = TestBackends.Get(backend);
        foreach (var (c, k, h, w, st) in new[] { (3, 5, 7, 6, 2), (2, 2, 5, 5, 1), (2, 4, 4, 5, 1), (1, 3, 9, 4, 3) })
        {
            const int n = 2;
            int oh = (h - 1) / st + 1, ow = (w - 1) / st + 1;
            var xv = Enumerable.Range(0, n * c * h * w).Select(i => (float)(i % 13 - 6)).ToArray();
            var dyv = Enumerable.Range(0, n * k * oh * ow).Select(i => (float)(i % 11 - 5) + 0.5f).ToArray();
            using var layer = new ChannelPadShortcut(be, c, k, st);
            using var x = TestData.Tensor(be, [n, c, h, w], xv);
            using var dy = TestData.Tensor(be, [n, k, oh, ow], dyv);
            for (int rep = 0; rep < 2; rep++)   // the second step reuses the buffers
            {
                var y = layer.Forward(x, training: true).ToArray();
                var dx = layer.Backward(dy)!.ToArray();
                var wantY = new float[n * k * oh * ow];
                var wantDx = new float[n * c * h * w];
                for (int b = 0; b < n; b++)
                    for (int ch = 0; ch < c; ch++)
                        for (int i = 0; i < oh; i++)
                            for (int j = 0; j < ow; j++)
                            {
                                wantY[((b * k + ch) * oh + i) * ow + j] = xv[((b * c + ch) * h + st * i) * w + st * j];
                                wantDx[((b * c + ch) * h + st * i) * w + st * j] = dyv[((b * k + ch) * oh + i) * ow + j];
                            }
                Assert.That(y, Is.EqualTo(wantY), $"{backend}: forward C{c} K{k} {h}x{w} stride {st}");
                Assert.That(dx, Is.EqualTo(wantDx), $"{backend}: backward C{c} K{k} {h}x{w} stride {st}");
            }
        }
    }

    /// <summary>CS231n's sanity check on ResNet-20 itself (the preset: 19 convolutions, batch norm, option-A shortcuts, residual
    /// adds, global average pool), on 50 real Fashion-MNIST images pooled 4x4 to 7x7 so the reference backend runs it too.</summary>
    [TestCaseSource(nameof(AllBackends))]
    public void ResNet20_Overfits50Images(string backend)
    {
        var be = TestBackends.Get(backend);
        var data = TrainingTests.Images.Value;
        var loader = new BatchLoader(data, 50, data.ComputeNormalization());
        using var big = BackendRegistry.Get("managed").Allocate([50, 1, 28, 28]);
        using var labels = be.Allocate([50]);
        using var y28 = BackendRegistry.Get("managed").Allocate([50]);
        loader.Fill(Enumerable.Range(0, 50).ToArray(), 0, big, y28);
        labels.CopyFrom(y28.ToArray());
        var px = big.ToArray();
        var small = new float[50 * 49];
        for (int i = 0; i < 50; i++)
            for (int r = 0; r < 28; r++)
                for (int c = 0; c < 28; c++) small[i * 49 + r / 4 * 7 + c / 4] += px[i * 784 + r * 28 + c] / 16f;
        using var x = TestData.Tensor(be, [50, 1, 7, 7], small);
        using var model = ModelZoo.Create("resnet20", be, [1, 7, 7], 10, seed: 1);
        using var opt = new Adam(model.Parameters.ToList());
        using var loss = new SoftmaxCrossEntropyLoss(be);
        double first = 0, last = 0, acc = 0;
        int steps = 0;
        for (; steps < 100; steps++)
        {
            last = loss.Forward(model.Forward(x, training: true, step: steps), labels);
            if (steps == 0) first = last;
            model.Backward(loss.Backward());
            opt.Step(0.01f);
            if (steps % 10 == 9 && (acc = TrainingTests.Accuracy(model, x, labels)) == 1.0) break;
        }
        TestContext.Out.WriteLine($"{backend}: loss {first:0.000} → {last:0.0000} in {steps + 1} steps, training accuracy {acc:P0}");
        Assert.That(acc, Is.EqualTo(1.0), $"{backend}: ResNet-20 did not overfit 50 images in 100 steps (loss {first:0.000} → {last:0.000})");
    }

    [Test]
    public void Spec_TheNotesNotation_BuildsChainsAndResidualBodies()
    {
        using var m = ModelZoo.Create("[conv3-32,relu]*2,pool2,[conv3-64,relu]*2,pool2,fc-256,relu,dropout-0.5,fc", Reference, [1, 28, 28], 10, seed: 0, initialize: false);
        Assert.That(m.Layers.OfType<Conv2d>().Select(c => (c.KernelSize, c.Stride, c.Padding)), Is.All.EqualTo((3, 1, 1)), "convF-K keeps the size");
        Assert.That(m.Layers.OfType<DropoutLayer>().Single().P, Is.EqualTo(0.5f));
        Assert.That(m.ParameterCount, Is.EqualTo(9 * 32 + 32 + 9 * 32 * 32 + 32 + 9 * 32 * 64 + 64 + 9 * 64 * 64 + 64 + 64 * 7 * 7 * 256 + 256 + 2570));
        using var r = ModelZoo.Create("conv3-16/nb,bn,relu,res[conv3-16/nb,bn,relu,conv3-16/nb,bn],res[conv3-32/s2/nb,bn,relu,conv3-32/nb,bn],pool3s2,gap,fc",
            Reference, [3, 16, 16], 10, seed: 0, initialize: false);
        var blocks = r.Layers.OfType<ResidualBlock>().ToList();
        Assert.That(blocks.Select(b => b.Shortcut.Length), Is.EqualTo(new[] { 0, 1 }), "identity, then option A where the body halves the size");
        Assert.That(((ChannelPadShortcut)blocks[1].Shortcut[0]).Stride, Is.EqualTo(2));
        Assert.That(r.Layers.OfType<Conv2d>().Single().Bias, Is.Null, "/nb");
        Assert.That(r.Layers.OfType<MaxPool2d>().Single().Stride, Is.EqualTo(2), "pool3s2");
    }

    [TestCase("conv3-32,rleu,fc", "cannot read 'rleu' at 10", "         ^^^^")]
    [TestCase("fc-8,[relu,fc", "the '[' at 6 is never closed", "     ^")]
    [TestCase("conv3-32,,fc", "expected a layer at 10", "         ^")]
    [TestCase("conv3-32,relu]", "']' at 14 closes nothing", "             ^")]
    [TestCase("fc-10,conv3-8", "'conv3-8' does not fit its input [10]", "      ^^^^^^^")]
    [TestCase("conv3-8/q2,fc", "cannot read 'conv3-8/q2' at 1", "^^^^^^^^^^")]
    public void Spec_Errors_PointAtTheToken(string spec, string message, string caret)
    {
        var e = Assert.Throws<ModelSpecException>(() => ModelZoo.Create(spec, Reference, [1, 8, 8], 10, seed: 0, initialize: false));
        Assert.That(e!.Message, Does.Contain(message));
        var lines = e.Message.Split('\n');
        Assert.That(lines[1], Is.EqualTo("  " + spec));
        Assert.That(lines[2], Is.EqualTo("  " + caret), "the caret is under the token");
    }
}
