using FastConv.Tests.Support;
using System.Buffers.Binary;
using System.IO.Compression;
using FastConv.Nn.Data;

namespace FastConv.Tests.Data;

/// <summary>IDX and CIFAR-10 readers on small files written here: contents, gzip, and every malformed case named with file and offset.</summary>
[TestFixture]
public class ReaderTests : TempDirectoryTests
{
    private static byte[] IdxBytes(byte[] data, params int[] dims)
    {
        var b = new byte[4 + 4 * dims.Length + data.Length];
        b[2] = 0x08; b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        data.CopyTo(b, 4 + 4 * dims.Length);
        return b;
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        string p = Path.Combine(Dir, name);
        if (!gzip) { File.WriteAllBytes(p, bytes); return p; }
        using var f = File.Create(p);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        gz.Write(bytes);
        return p;
    }

    private static readonly string[] Ten = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();

    [TestCase(false)]
    [TestCase(true)]
    public void Idx_ReadsImagesAndLabels(bool gzip)
    {
        var pixels = Enumerable.Range(0, 3 * 2 * 4).Select(i => (byte)(i * 7)).ToArray();
        string img = Write("img" + (gzip ? ".gz" : ""), IdxBytes(pixels, 3, 2, 4), gzip);
        string lbl = Write("lbl" + (gzip ? ".gz" : ""), IdxBytes([4, 0, 9], 3), gzip);
        var ds = Idx.Load("t", img, lbl, Ten);
        Assert.That((ds.Count, ds.Channels, ds.Height, ds.Width), Is.EqualTo((3, 1, 2, 4)));
        Assert.That(ds.Labels, Is.EqualTo(new byte[] { 4, 0, 9 }));
        Assert.That(ds.Image(1).ToArray(), Is.EqualTo(pixels[8..16]));
    }

    private static IEnumerable<TestCaseData> BadIdx()
    {
        var good = IdxBytes(new byte[12], 3, 2, 2);
        yield return new TestCaseData(good[..(good.Length - 5)], "truncated", 23L).SetName("Idx_Truncated");
        yield return new TestCaseData(good.Append((byte)1).ToArray(), "trailing", 28L).SetName("Idx_TrailingBytes");
        var magic = (byte[])good.Clone(); magic[0] = 0x50; magic[1] = 0x4b;
        yield return new TestCaseData(magic, "not an IDX file", 0L).SetName("Idx_WrongMagic");
        var type = (byte[])good.Clone(); type[2] = 0x0D;
        yield return new TestCaseData(type, "0x0d is not unsigned byte", 2L).SetName("Idx_FloatType");
        yield return new TestCaseData(good[..7], "inside the 3 dimension sizes", 7L).SetName("Idx_CutInHeader");
        yield return new TestCaseData(new byte[] { 0, 0 }, "before the 4-byte IDX magic", 2L).SetName("Idx_TwoBytes");
        var zero = (byte[])good.Clone(); BinaryPrimitives.WriteInt32BigEndian(zero.AsSpan(8), 0);
        yield return new TestCaseData(zero, "dimension 1 has size 0", 8L).SetName("Idx_ZeroDimension");
    }

    [TestCaseSource(nameof(BadIdx))]
    public void Idx_Malformed_NamesFileAndOffset(byte[] bytes, string problem, long offset)
    {
        string p = Write("bad-idx", bytes);
        var e = Assert.Throws<DataFormatException>(() => Idx.Read(p));
        Assert.That(e!.Message, Does.Contain(p).And.Contain(problem).And.Contain($"at byte {offset}"));
        Assert.That(e.Offset, Is.EqualTo(offset));
    }

    [Test]
    public void Idx_CorruptGzip_IsRefused()
    {
        var gz = File.ReadAllBytes(Write("x.gz", IdxBytes(new byte[400], 4, 10, 10), gzip: true));
        string p = Write("cut.gz", gz[..(gz.Length / 2)]);
        var e = Assert.Throws<DataFormatException>(() => Idx.Read(p));
        Assert.That(e!.Message, Does.Contain(p));
    }

    [Test]
    public void Idx_LabelCountMismatch_AndBadLabel()
    {
        string img = Write("img", IdxBytes(new byte[8], 2, 2, 2));
        string lbl3 = Write("lbl3", IdxBytes([1, 2, 3], 3));
        Assert.That(Assert.Throws<DataFormatException>(() => Idx.Load("t", img, lbl3, Ten))!.Message, Does.Contain("3 labels for 2 images"));
        string lblBad = Write("lblbad", IdxBytes([1, 12], 2));
        var e = Assert.Throws<DataFormatException>(() => Idx.Load("t", img, lblBad, Ten));
        Assert.That(e!.Message, Does.Contain("label 12").And.Contain("at byte 9"));
    }

    [Test]
    public void FashionMnist_Shipped_HasTheKnownCounts()
    {
        string dir = FashionMnist.FindShipped()!;
        Assert.That(dir, Is.Not.Null);
        var test = Idx.Load("t", Path.Combine(dir, "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "t10k-labels-idx1-ubyte.gz"), FashionMnist.ClassNames);
        Assert.That((test.Count, test.Height, test.Width), Is.EqualTo((10000, 28, 28)));
        // Fashion-MNIST's test set is balanced: 1000 images per class.
        Assert.That(test.Labels.GroupBy(l => l).Select(g => g.Count()), Is.All.EqualTo(1000));
        Assert.That(File.Exists(Path.Combine(dir, "LICENSE")), "the MIT licence ships with the data");
    }

    private static byte[] CifarRecords(params byte[] labels)
    {
        var b = new byte[labels.Length * Cifar10.RecordSize];
        for (int i = 0; i < labels.Length; i++)
        {
            b[i * Cifar10.RecordSize] = labels[i];
            for (int j = 0; j < Cifar10.ImageBytes; j++) b[i * Cifar10.RecordSize + 1 + j] = (byte)(i + j / 1024);   // plane index shows R, G, B order
        }
        return b;
    }

    [Test]
    public void Cifar10_ReadsRecords_AcrossFiles()
    {
        string a = Write("data_batch_1.bin", CifarRecords(3, 7)), b = Write("data_batch_2.bin", CifarRecords(9));
        var ds = Cifar10.ReadBatches("c", [a, b]);
        Assert.That((ds.Count, ds.Channels, ds.Height, ds.Width), Is.EqualTo((3, 3, 32, 32)));
        Assert.That(ds.Labels, Is.EqualTo(new byte[] { 3, 7, 9 }));
        var img1 = ds.Image(1);
        Assert.That((img1[0], img1[1024], img1[2048], img1[3071]), Is.EqualTo(((byte)1, (byte)2, (byte)3, (byte)3)));
    }

    [Test]
    public void Cifar10_Truncated_NamesFileAndOffset()
    {
        var bytes = CifarRecords(1, 2);
        string p = Write("data_batch_1.bin", bytes[..(Cifar10.RecordSize + 100)]);
        var e = Assert.Throws<DataFormatException>(() => Cifar10.ReadBatches("c", [p]));
        Assert.That(e!.Message, Does.Contain(p).And.Contain("cut after 100 bytes").And.Contain($"at byte {Cifar10.RecordSize}"));
    }

    [Test]
    public void Cifar10_BadLabel_NamesRecord()
    {
        string p = Write("test_batch.bin", CifarRecords(1, 10));
        var e = Assert.Throws<DataFormatException>(() => Cifar10.ReadBatches("c", [p]));
        Assert.That(e!.Message, Does.Contain("record 1 has label 10").And.Contain($"at byte {Cifar10.RecordSize}"));
    }

    [Test]
    public void Cifar10_MissingFile_IsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(Dir));
        Assert.That(e!.Message, Does.Contain("data_batch_1.bin"));
    }

    [Test]
    public void BatchLoader_NormalisesPerChannel_ShufflesBySeed_PadsLastBatch()
    {
        var px = new byte[5 * 2 * 1 * 1];
        for (int i = 0; i < 5; i++) { px[i * 2] = (byte)(i * 10); px[i * 2 + 1] = 255; }
        var ds = new Dataset("d", px, [0, 1, 0, 1, 0], 2, 1, 1, ["a", "b"]);
        var norm = new Normalization([0.1f, 0.5f], [0.2f, 0.25f]);
        var loader = new BatchLoader(ds, 2, norm);
        var be = BackendRegistry.Get("reference");
        using var x = be.Allocate([2, 2, 1, 1]);
        using var y = be.Allocate([2]);
        int rows = loader.Fill([4, 1, 3, 2, 0], 4, x, y);
        Assert.That(rows, Is.EqualTo(1));
        Assert.That(x.ToArray(), Is.EqualTo(new[] { (0f / 255 - 0.1f) / 0.2f, (1f - 0.5f) / 0.25f, 0f, 0f }).Within(1e-5));
        Assert.That(loader.Order(1, 0), Is.EqualTo(loader.Order(1, 0)));
        Assert.That(loader.Order(1, 0), Is.Not.EqualTo(loader.Order(1, 1)));
        Assert.That(loader.Order(1, 3).Order(), Is.EqualTo(Enumerable.Range(0, 5)));
        Assert.That((loader.TrainBatches, loader.EvalBatches), Is.EqualTo((2, 3)));
    }
}

/// <summary>Augmentation and the CIFAR-10 path through a whole training run, on small files written here.</summary>
[TestFixture]
public class AugmentationAndCifarRunTests : TempDirectoryTests
{
    [Test]
    public void Flip_GivesTheImageOrItsMirror_AndCropShiftsWithZeroFill()
    {
        // one 1-channel 2x3 image with distinct pixels; normalisation (x/255 − 0)/(1/255) leaves the byte values
        var ds = new Dataset("d", [1, 2, 3, 4, 5, 6], [0], 1, 2, 3, ["a", "b"]);
        var norm = new Normalization([0f], [1f / 255f]);
        var be = BackendRegistry.Get("reference");
        using var x = be.Allocate([1, 1, 2, 3]);
        using var y = be.Allocate([1]);
        var flip = new BatchLoader(ds, 1, norm, new Augmentation(0, true));
        var rng = new Random(5);
        var seen = new HashSet<string>();
        for (int i = 0; i < 40; i++)
        {
            flip.Fill([0], 0, x, y, rng);
            var v = x.ToArray().Select(f => (int)MathF.Round(f)).ToArray();
            Assert.That(v, Is.EqualTo(new[] { 1, 2, 3, 4, 5, 6 }).Or.EqualTo(new[] { 3, 2, 1, 6, 5, 4 }));
            seen.Add(string.Join(",", v));
        }
        Assert.That(seen, Has.Count.EqualTo(2), "both the image and its mirror should occur");
        // evaluation's mirror view (test-time augmentation) flips every image, with or without a training augmentation
        new BatchLoader(ds, 1, norm).Fill([0], 0, x, y, mirror: true);
        Assert.That(x.ToArray().Select(f => (int)MathF.Round(f)), Is.EqualTo(new[] { 3, 2, 1, 6, 5, 4 }));
        var crop = new BatchLoader(ds, 1, norm, new Augmentation(1, false));
        for (int i = 0; i < 40; i++)
        {
            crop.Fill([0], 0, x, y, rng);
            var v = x.ToArray().Select(f => (int)MathF.Round(f)).ToArray();
            // every output pixel is 0 (padding) or the pixel at a shift of at most 1 in each direction
            Assert.That(v.Where(p => p != 0), Is.SubsetOf(new[] { 1, 2, 3, 4, 5, 6 }));
        }
    }

    [Test]
    public void Erase_ZeroesOneRectangleOfTwoToFortyPercent_InEveryChannel_AboutHalfTheTime()
    {
        // a 2-channel 10x10 image of distinct nonzero pixels; normalisation leaves the byte values
        const int h = 10, w = 10;
        var px = Enumerable.Range(1, 2 * h * w).Select(i => (byte)i).ToArray();
        var ds = new Dataset("d", px, [0], 2, h, w, ["a", "b"]);
        var norm = new Normalization([0f, 0f], [1f / 255f, 1f / 255f]);
        var be = BackendRegistry.Get("reference");
        using var x = be.Allocate([1, 2, h, w]);
        using var y = be.Allocate([1]);
        var erase = new BatchLoader(ds, 1, norm, new Augmentation(0, false, 0.5));
        var rng = new Random(3);
        int erased = 0;
        const int trials = 400;
        for (int t = 0; t < trials; t++)
        {
            erase.Fill([0], 0, x, y, rng);
            var v = x.ToArray().Select(f => (int)MathF.Round(f)).ToArray();
            // each pixel is its own value or 0, and both channels have the same pixels erased
            for (int i = 0; i < v.Length; i++) Assert.That(v[i], Is.EqualTo(px[i]).Or.EqualTo(0));
            var zero = Enumerable.Range(0, h * w).Where(i => v[i] == 0).ToArray();
            Assert.That(Enumerable.Range(0, h * w).Where(i => v[h * w + i] == 0), Is.EqualTo(zero));
            if (zero.Length == 0) continue;
            erased++;
            // the zeros form one filled rectangle of 2–40 % of the image (rounding the sides may add up to a row and a column)
            int y0 = zero.Min(i => i / w), y1 = zero.Max(i => i / w), x0 = zero.Min(i => i % w), x1 = zero.Max(i => i % w);
            Assert.That(zero.Length, Is.EqualTo((y1 - y0 + 1) * (x1 - x0 + 1)), "erased pixels form a rectangle");
            Assert.That(zero.Length, Is.InRange(1, (int)(0.4 * h * w) + h + w));
        }
        // 0.5 of 400 trials: a binomial sd of 10, and a few draws that do not fit leave the image whole
        Assert.That(erased, Is.InRange(150, 230));
        Assert.That(new FastConv.Nn.RunSettings { Augment = "flip-erase" }.Augmentation, Is.EqualTo(new Augmentation(0, true, 0.5)));
    }

    [Test]
    public void TrainingRun_OnCifar10Files()
    {
        string dir = Dir;
        var r = new Random(2);
        byte[] Batch(int n)
        {
            var b = new byte[n * Cifar10.RecordSize];
            r.NextBytes(b);
            for (int i = 0; i < n; i++) b[i * Cifar10.RecordSize] = (byte)(i % 10);
            return b;
        }
        for (int i = 1; i <= 5; i++) File.WriteAllBytes(Path.Combine(dir, $"data_batch_{i}.bin"), Batch(40));
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), Batch(30));
        var settings = new FastConv.Nn.RunSettings
        {
            Data = "cifar10", DataDir = dir, Model = "lenet", Epochs = 1, Batch = 10, Validation = 20, Optimizer = "sgd", Seed = 3,
        };
        string outDir = Path.Combine(dir, "run");
        using var run = FastConv.Nn.TrainingRun.Start(settings, BackendRegistry.Get("managed"), outDir);
        Assert.That(run.TrainData.ImageShape, Is.EqualTo(new[] { 3, 32, 32 }));
        Assert.That(run.Normalization.Mean, Has.Length.EqualTo(3));
        Assert.That(settings.Augmentation, Is.EqualTo(Augmentation.Cifar));
        var result = run.Run();
        Assert.That(result.History, Has.Count.EqualTo(1));
        Assert.That(result.Test.Count, Is.EqualTo(30));
        Assert.That(double.IsFinite(result.History[0].TrainLoss));
        var (ck, ev) = FastConv.Nn.TrainingRun.EvaluateCheckpoint(Path.Combine(outDir, "best.ckpt"), BackendRegistry.Get("managed"), batch: 8);
        Assert.That((ck.Model, ev.Count), Is.EqualTo(("lenet", 30)));
        Assert.That(ev.ClassNames, Is.EqualTo(Cifar10.ClassNames));
    }
}
