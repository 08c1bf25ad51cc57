using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Tests.Support;
using SkiaSharp;

namespace FastConv.Tests.Nn;

/// <summary>Predictor: a checkpoint trained on a folder of red, green and blue pictures names the colour of new pictures
/// the test writes, with the checkpoint's own preprocessing, from a file, a bitmap or a tensor, batched or one at a time.</summary>
[TestFixture, NonParallelizable]
public class PredictorTests : TempDirectoryTests
{
    private static readonly (string Name, (int, int, int) Rgb)[] Colours = [("blue", (30, 40, 210)), ("green", (40, 200, 50)), ("red", (220, 30, 40))];
    private string _checkpoint = "";

    [SetUp]
    public void Train()
    {
        string root = Path.Combine(Dir, "colours");
        int seed = 0;
        foreach (var (name, rgb) in Colours)
        {
            Directory.CreateDirectory(Path.Combine(root, name));
            for (int i = 0; i < 40; i++)
                TestImages.Write(Path.Combine(root, name, $"{i}.png"), 12 + i % 5, 12, TestImages.Noisy(rgb, seed++));
        }
        var s = new RunSettings { Data = "folder", DataDir = root, CacheDir = Path.Combine(Dir, "cache"), Model = "cs231n-convnet", Epochs = 3, Batch = 8, Validation = 10 };
        using var run = TrainingRun.Start(s, BackendRegistry.Get("managed"), Path.Combine(Dir, "run"));
        Assert.That(run.Settings.ImageSize, Is.EqualTo(12), "the default size is resolved and kept in the checkpoint");
        run.Run();
        _checkpoint = Path.Combine(Dir, "run", TrainingRun.BestCheckpoint);
    }

    private string NewImage(int colour, int seed, int width = 30, int height = 20, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        TestImages.Write(Path.Combine(Dir, $"new-{colour}-{seed}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}"), width, height,
                         TestImages.Noisy(Colours[colour].Rgb, 1000 + seed), format: format, quality: 90);

    [Test]
    public void NewImages_GetTheirClass_WithProbabilitiesBestFirst()
    {
        using var p = Predictor.Load(_checkpoint, BackendRegistry.Get("managed"));
        Assert.That((p.ImageSize, p.Channels), Is.EqualTo((12, 3)));
        Assert.That(p.ClassNames, Is.EqualTo(Colours.Select(c => c.Name)));
        for (int c = 0; c < 3; c++)
        {
            var top = p.Predict(NewImage(c, c, format: c == 1 ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png), k: 3);
            Assert.That(top[0].Label, Is.EqualTo(Colours[c].Name));
            Assert.That(top[0].Class, Is.EqualTo(c));
            Assert.That(top.Select(t => t.Probability), Is.Ordered.Descending);
            Assert.That(top.Sum(t => t.Probability), Is.EqualTo(1).Within(1e-9), "k = all classes");
            Assert.That(top[0].Probability, Is.GreaterThan(0.5));
        }
        Assert.That(p.Predict(NewImage(0, 9), k: 10), Has.Length.EqualTo(3), "k is capped at the class count");
        Assert.That(p.Predict(NewImage(0, 9), k: 1), Has.Length.EqualTo(1));
    }

    [Test]
    public void Batched_File_Bitmap_AndTensor_AllAgree()
    {
        using var p = Predictor.Load(_checkpoint, BackendRegistry.Get("managed"), batchSize: 4);
        var files = Enumerable.Range(0, 10).Select(i => NewImage(i % 3, i, 20 + i, 25)).ToArray();
        var batched = p.Predict(files, k: 3);
        Assert.That(batched, Has.Length.EqualTo(10));
        for (int i = 0; i < files.Length; i++)
        {
            var single = p.Predict(files[i], k: 3);
            Assert.That(batched[i].Select(t => t.Class), Is.EqualTo(single.Select(t => t.Class)), files[i]);
            Assert.That(batched[i][0].Probability, Is.EqualTo(single[0].Probability).Within(1e-6));
            Assert.That(batched[i][0].Class, Is.EqualTo(i % 3));
        }

        using var bitmap = SKBitmap.Decode(files[4]);
        Assert.That(p.Predict(bitmap, k: 1)[0].Probability, Is.EqualTo(batched[4][0].Probability).Within(1e-6));

        // The tensor path takes normalised inputs: (pixel / 255 − mean) / std per channel.
        var img = ImageDecoder.TryDecode(files[5], p.ImageSize, out _)!;
        var px = new byte[3 * 144];
        img.CopyTo(3, px);
        var x = px.Select((b, i) => (b / 255f - p.Normalization.Mean[i / 144]) / p.Normalization.Std[i / 144]).ToArray();
        using var t = TestData.Tensor(BackendRegistry.Get("reference"), [3, 12, 12], x);
        Assert.That(p.Predict(t, k: 1)[0][0].Probability, Is.EqualTo(batched[5][0].Probability).Within(1e-5));
        using var wrong = BackendRegistry.Get("reference").Allocate([1, 1, 12, 12]);
        Assert.That(Assert.Throws<ArgumentException>(() => p.Predict(wrong))!.Message, Does.Contain("The model takes [N, 3, 12, 12]"));
    }

    [Test]
    public void UnreadableFile_IsNamed()
    {
        using var p = Predictor.Load(_checkpoint, BackendRegistry.Get("managed"));
        string bad = Path.Combine(Dir, "bad.png");
        File.WriteAllText(bad, "no picture here");
        var e = Assert.Throws<ImageFolderException>(() => p.Predict([NewImage(0, 1), bad]))!;
        Assert.That(e.Message, Does.Contain("1 of 2 files").And.Contain(bad).And.Contain("not an image"));
        var each = p.PredictFiles([NewImage(0, 1), bad]);
        Assert.That((each[0].Error, each[1].Top), Is.EqualTo(((string?)null, (Prediction[]?)null)));
    }
}
