using FastConv.Nn;
using FastConv.Tests.Cli;
using FastConv.Tests.Support;
using SkiaSharp;
using static FastConv.Tests.Support.Float64Backend;

namespace FastConv.Tests.Nn;

/// <summary>`fastconv visualize` and the pictures of a run: saliency against numeric gradients, occlusion against a
/// direct forward pass, and every PNG written, decodable, of the expected size and not blank.</summary>
[TestFixture, NonParallelizable]
public class PicturesTests : TempDirectoryTests
{
    [Test]
    public void Saliency_IsTheGradientOfTheClassScore_ThroughBatchNormAndDropout()
    {
        var be = new Float64Backend();
        using var m = ModelSpec.Build("conv3-4,bn,relu,pool2,fc-6,relu,dropout,fc", be, [2, 6, 6], classes: 3);
        m.Initialize(7);
        var bn = m.Layers.OfType<BatchNorm2d>().Single();
        var rng = new Random(3);
        foreach (var (name, t) in bn.Buffers) { var d = D(t); for (int i = 0; i < d.Length; i++) d[i] = name == "running_var" ? 0.5 + rng.NextDouble() : rng.NextDouble() - 0.5; }
        using var x = be.Allocate([1, 2, 6, 6]);
        var xd = D(x);
        for (int i = 0; i < xd.Length; i++) xd[i] = rng.NextDouble() * 2 - 1;
        const int cls = 1;
        var map = Attribution.Saliency(m, x, cls);
        var numeric = Tolerance.CentralDifferences(() => D(m.Forward(x, training: false))[cls], xd, 1e-5);
        var expected = Enumerable.Range(0, 36).Select(i => Math.Max(Math.Abs(numeric[i]), Math.Abs(numeric[36 + i]))).ToArray();
        double e = Tolerance.RelError(map.Select(v => (double)v).ToArray(), expected);
        Assert.That(e, Is.LessThanOrEqualTo(1e-5), $"saliency vs central differences: rel_error {e:E2}");
        Assert.That(m.Layers[0].ComputeInputGradient, Is.False, "the first layer's setting is restored");
    }

    [Test]
    public void Occlusion_OneSquareOverEverything_IsTheBlankImagesProbability()
    {
        var be = BackendRegistry.Get("reference");
        using var m = ModelZoo.Create("cs231n-3layer", be, [1, 8, 8], 4, seed: 2);
        using var x = be.Allocate([1, 1, 8, 8]);
        x.CopyFrom(Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray());
        using var blank = be.Allocate([1, 1, 8, 8]);
        double p = Attribution.Probabilities(m.Forward(blank, training: false).ToArray())[2];
        var map = Attribution.Occlusion(m, x, 2, patch: 8, stride: 1);
        Assert.That(map, Has.All.EqualTo((float)p).Within(1e-6), "the only square covers the whole image");
        var partial = Attribution.Occlusion(m, x, 2, patch: 3, stride: 2);
        Assert.That(partial, Has.All.InRange(0f, 1f));
        Assert.That(partial.Distinct().Count(), Is.GreaterThan(4), "squares at different places change the probability differently");
    }

    [Test]
    public void Filters_OfAColourInput_AreDrawnInColour_EachOnItsOwnScale()
    {
        var be = BackendRegistry.Get("reference");
        using var m = ModelSpec.Build("conv5-8,relu,fc", be, [3, 8, 8], classes: 2);
        m.Initialize(4);
        string path = Path.Combine(Dir, "filters.png");
        Plots.Filters(m, path);
        // 8 filters 5x5 at 12 px a tap (60 wide: 64 / 5 a cell) in 3 columns and 3 rows, 14 px numbers, 4 px gaps.
        AssertPicture(path, 3 * 64 - 4 + 32, 38 + 3 * 78 - 4 + 32, minInk: 0.1);   // small tiles under a long title
        using var bmp = SKBitmap.Decode(path);
        Assert.That(bmp.Pixels.Count(c => c.Red != c.Green || c.Green != c.Blue), Is.GreaterThan(8 * 25 * 81 / 2), "three input channels are drawn as RGB");
        var w = m.Layers.OfType<Conv2d>().Single().Weight.Value.ToArray();
        var first = Plots.Rescale(w[..75]);
        Assert.That((first.Min(), first.Max()), Is.EqualTo((0f, 1f)), "each filter spans the whole range on its own");
    }

    /// <summary>Decodes a PNG and checks its size and that it shows something: many colours, much that is not white.
    /// The height follows from the layout alone; the width is at least the drawing's and grows with the title's
    /// length in the installed font, so it is checked against the drawing's width (and a bound).</summary>
    private static void AssertPicture(string path, int minWidth, int height, double minInk = 0.2)
    {
        Assert.That(File.Exists(path), Is.True, $"{path} was not written");
        using var bmp = SKBitmap.Decode(path);
        Assert.That(bmp, Is.Not.Null, $"{path} does not decode as an image");
        Assert.That(bmp.Height, Is.EqualTo(height), Path.GetFileName(path));
        Assert.That(bmp.Width, Is.InRange(minWidth, minWidth + 1200), Path.GetFileName(path));
        var pixels = bmp.Pixels;
        int colours = pixels.Distinct().Count(), inked = pixels.Count(c => c != SKColors.White);
        Assert.That(colours, Is.GreaterThan(20), $"{Path.GetFileName(path)}: only {colours} colours");
        Assert.That(inked, Is.GreaterThan(pixels.Length * minInk), $"{Path.GetFileName(path)}: mostly blank ({inked} of {pixels.Length} pixels drawn)");
    }

    [Test]
    public void TrainedCheckpoint_Visualize_WritesEveryPicture()
    {
        string run = Path.Combine(Dir, "run");
        try
        {
            var (code, _, err) = CommandTests.Run("train", "--model", "cs231n-convnet", "--epochs", "1", "--limit", "1500", "--validation", "300",
                                                  "--batch", "50", "--out", run, "--threads", "1");
            Assert.That(code, Is.Zero, err);
            // filters.png: 32 filters 3x3 drawn 63 px wide (21 a tap) in 6 columns and 6 rows (+14 px numbers, 4 px gaps):
            // body 398 x 482, plus 2 x 16 margins, the 30 px title and 8: 430 wide at least, 38 + 482 + 32 = 552 high.
            AssertPicture(Path.Combine(run, "filters.png"), 430, 552);
            AssertPicture(Path.Combine(run, "curves.png"), 900, 560, minInk: 0.05);   // lines on white: axes, grid, curves, legend
            Assert.That(RunFiles.ReadStepLosses(Path.Combine(run, "losses.csv"), long.MaxValue), Has.Count.EqualTo(27), "1350 images (1500 less the 150 held out: at most a tenth) in batches of 50");
            string pics = Path.Combine(Dir, "pictures");
            var (vcode, vout, verr) = CommandTests.Run("visualize", "--checkpoint", Path.Combine(run, "best.ckpt"), "--image", "3", "--out", pics);
            Assert.That(vcode, Is.Zero, verr);
            Assert.That(vout, Does.Contain("Test image 3: Trouser").And.Contain("top-3: "));
            // The 28x28 image at 8 px a pixel (224), beside the 300 px of bars; titles 30 px, margins 16.
            AssertPicture(Path.Combine(pics, "input.png"), 3 * 16 + 224 + 300, 30 + 2 * 16 + 224);
            AssertPicture(Path.Combine(pics, "filters.png"), 430, 552);
            // conv1: 32 maps 28x28 at 3 px (84) in 6 x 6 with a 20 px subtitle and the 70 px colour scale;
            // conv2: 64 maps 14x14 at 6 px (84) in 8 x 8.
            AssertPicture(Path.Combine(pics, "activations-conv1.png"), 6 * 88 - 4 + 32 + 70, 58 + 6 * 102 - 4 + 32);
            AssertPicture(Path.Combine(pics, "activations-conv2.png"), 8 * 88 - 4 + 32 + 70, 58 + 8 * 102 - 4 + 32);
            // The image and the map side by side, 224 px each with 16 between.
            AssertPicture(Path.Combine(pics, "saliency.png"), 2 * 224 + 16 + 32 + 70, 58 + 224 + 32);
            AssertPicture(Path.Combine(pics, "occlusion.png"), 2 * 224 + 16 + 32 + 70, 58 + 224 + 32);
        }
        finally
        {
            Parallelism.Threads = Environment.ProcessorCount;
        }
    }
}
