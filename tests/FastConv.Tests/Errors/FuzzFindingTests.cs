using System.Buffers.Binary;
using System.Security.Cryptography;
using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Nn.Onnx;
using FastConv.Nn.Onnx.Proto;
using Google.Protobuf;
using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>What the .NET fuzzers (tests/FastConv.Fuzz, docs/testing-fuzz.md) found, each as a case that failed before
/// its fix: the fuzzer's case is named in each test (seed 1, <c>FastConv.Fuzz repro SUITE TARGET --seed 1 --case N</c>).</summary>
public class FuzzFindingTests : TempDirectoryTests
{
    // api native case 3, api opencl case 2: a disposed plan threw ObjectDisposedException naming ConvPlanHandle or ClMem
    // (and the reference and managed plans ran as if nothing had happened)
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void Plans_CalledAfterDispose_AreRefusedNamingThePlan(string backend)
    {
        var be = TestBackends.Get(backend);
        var cd = new Conv2dDesc(2, 3, 8, 7, 1, 2, 4, 2, 3, 0, 0, 1, 1);
        using var x = be.Allocate(cd.InputShape); using var w = be.Allocate(cd.WeightShape); using var y = be.Allocate(cd.OutputShape);
        var conv = be.CreateConv2d(cd);
        conv.Dispose();
        conv.Dispose();   // twice is harmless
        foreach (var call in new Action[] { () => conv.Forward(x, w, null, y), () => conv.BackwardData(y, w, x), () => conv.BackwardFilter(x, y, w, null) })
        {
            var ex = Assert.Throws<ObjectDisposedException>(() => call(), backend);
            Assert.That(ex!.ObjectName, Is.EqualTo("plan"));
            Assert.That(ex.Message, Does.Contain("has been disposed").And.Contain(cd.ToString()));
        }
        var pd = new Pool2dDesc(PoolKind.Max, 1, 2, 4, 4, 2, 2);
        using var px = be.Allocate(pd.InputShape); using var py = be.Allocate(pd.OutputShape);
        var pool = be.CreatePool2d(pd);
        pool.Dispose();
        var pex = Assert.Throws<ObjectDisposedException>(() => pool.Forward(px, py), backend);
        Assert.That(pex!.ObjectName, Is.EqualTo("plan"));
        Assert.Throws<ObjectDisposedException>(() => pool.Backward(px, py, px), backend);
    }

    // api opencl cases 1768, 5274, 7912 (long mode): with a stride near 2^31 the OpenCL average-pool backward's
    // "first covering window" wrapped in 32 bits, so inputs that no window covers got window 0's gradient
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void AvgPoolBackward_StrideNearInt32Max_GivesUncoveredInputsZero(string backend)
    {
        var be = TestBackends.Get(backend);
        foreach (var d in new[] { new Pool2dDesc(PoolKind.Average, 3, 4, 6, 7, 1, 4, 3, int.MaxValue, 0, 2),
                                  new Pool2dDesc(PoolKind.Average, 3, 1, 7, 8, 4, 3, int.MaxValue, 1, 0, 0),
                                  new Pool2dDesc(PoolKind.Max, 3, 2, 6, 5, 1, 2, 1, int.MaxValue, 0, 1) })
        {
            var x = TestData.Ints(d.InputElements, 1);
            var dy = TestData.Ints(d.OutputElements, 2);
            float[] Run(IBackend b)
            {
                using var plan = b.CreatePool2d(d);
                using var tx = b.Allocate(d.InputShape); using var tdy = b.Allocate(d.OutputShape); using var tdx = b.Allocate(d.InputShape);
                tx.CopyFrom(x); tdy.CopyFrom(dy);
                plan.Backward(tx, tdy, tdx);
                return tdx.ToArray();
            }
            Tolerance.Exact(Run(be), Run(TestBackends.Reference), $"{backend} {d} backward");
        }
    }

    // api reference case 360 (and every backend): the backward named its probs argument "logits"
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void SoftmaxCrossEntropyBackward_NamesProbs(string backend)
    {
        var be = TestBackends.Get(backend);
        using var probs = be.Allocate([6]); using var labels = be.Allocate([2]); using var dlogits = be.Allocate([2, 3]);
        var ex = Assert.Throws<ArgumentException>(() => be.SoftmaxCrossEntropyBackward(probs, labels, dlogits));
        Assert.That(ex!.ParamName, Is.EqualTo("probs"));
        Assert.That(ex.Message, Does.Contain("probs must be [N, classes], got [6]"));
        var disposed = be.Allocate([2, 3]);
        disposed.Dispose();
        var od = Assert.Throws<ObjectDisposedException>(() => be.SoftmaxCrossEntropyBackward(disposed, labels, dlogits));
        Assert.That(od!.ObjectName, Is.EqualTo("probs"));
    }

    // the oracle's rule C*OH*OW <= Limits.MaxImageElements (Limits: "one output image ... C·OH·OW for pooling"): padding
    // makes a pooled 1x1 image 2x2, so 2^31 - 1 channels gave an output image of 8.6e9 elements, accepted
    [Test]
    public void Pool2d_AnOutputImageBeyond2Pow31Elements_IsRefused()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Pool2dDesc(PoolKind.Max, 1, int.MaxValue, 1, 1, 2, 2, 1, 1, 1, 1));
        Assert.That(ex!.Message, Does.Contain("one output image C*OH*OW = 8,589,934,588 elements exceeds Limits.MaxImageElements"));
        Assert.That(ex.ParamName, Is.EqualTo("c"));
        Assert.DoesNotThrow(() => _ = new Pool2dDesc(PoolKind.Max, 1, int.MaxValue / 4, 1, 1, 2, 2, 1, 1, 1, 1));
    }

    // files idx cases 313, 881, 1502 ...: a damaged 41-byte gzip whose header claimed [2, 151060481, ...] made Idx.Read
    // allocate the header's 1.2 GB before inflating a byte (OutOfMemoryException under a heap limit)
    [Test]
    public void Idx_GzipWhoseHeaderClaimsAGigabyte_IsRefusedWithoutAllocatingIt()
    {
        string path = Path.Combine(Dir, "claims.idx.gz");
        var head = new byte[12];
        head[2] = 0x08; head[3] = 2;
        BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(4), 1 << 15);
        BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(8), 1 << 15);
        using (var f = File.Create(path))
        using (var gz = new System.IO.Compression.GZipStream(f, System.IO.Compression.CompressionLevel.Fastest))
            gz.Write([.. head, 1, 2, 3]);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<DataFormatException>(() => Idx.Read(path));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(16 << 20));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("truncated: dimensions [32768, 32768] need 1073741836 bytes, the gzip inflates to 15"));
    }

    private static byte[] Reframe(byte[] file, byte[] payload)
    {
        var head = file[..52];
        BinaryPrimitives.WriteInt64LittleEndian(head.AsSpan(12), payload.Length);
        SHA256.HashData(payload).CopyTo(head, 20);
        return [.. head, .. payload];
    }

    // files checkpoint case 10: a float count edited to ~93 million (checksum recomputed) made Load allocate 373 MB
    // for a 630-byte file before finding the bytes missing
    [Test]
    public void Checkpoint_AFloatCountBeyondTheFile_IsRefusedWithoutAllocatingIt()
    {
        string path = Path.Combine(Dir, "count.ckpt");
        new Checkpoint
        {
            Model = "tiny", InputShape = [1, 2, 2], ClassNames = ["a", "b"], Normalization = new Normalization([0f], [1f]),
            Tensors = [("w", [2], [1f, 2f])],
        }.Save(path);
        var raw = File.ReadAllBytes(path);
        var payload = raw[52..];
        // the last tensor's float count sits 12 bytes from the end: count (4) + 2 floats (8)
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(payload.Length - 12), int.MaxValue / 4);
        File.WriteAllBytes(path, Reframe(raw, payload));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(16 << 20));
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("an array of 536870911 floats needs 2147483644 bytes, 8 are left"));
    }

    // files imagefolder cases 123 and 164: a decode cache with a matching checksum but a negative entry count or plane
    // size threw ArgumentOutOfRangeException out of ImageFolder.Load; such a cache is now ignored (decoded again)
    /// <summary>A one-entry decode cache of a 2x2 grey image, read back once; its path, the folder it is for, its bytes.</summary>
    private (string File, string Folder, byte[] Raw) OneEntryCache()
    {
        string folder = Path.Combine(Dir, "images"), file = Path.Combine(Dir, "cache.fcimg");
        Directory.CreateDirectory(folder);
        string full = Path.GetFullPath(folder);
        ImageCache.Write(file, full, 2, [new ImageCache.Entry("a/1.png", 10, 20, 2, 2, true, null, [1, 2, 3, 4])]);
        Assert.That(ImageCache.Read(file, full), Is.Not.Null);
        return (file, full, File.ReadAllBytes(file));
    }

    /// <summary>The cache with the int32 at <paramref name="offset"/> bytes after the folder name set to <paramref name="value"/>,
    /// checksum recomputed.</summary>
    private static void EditAfterFolder((string File, string Folder, byte[] Raw) c, int offset, int value)
    {
        var payload = c.Raw[52..];
        int folderBytes = 1 + System.Text.Encoding.UTF8.GetByteCount(c.Folder);   // a one-byte length prefix: the path is short
        BinaryPrimitives.WriteInt32LittleEndian(payload.AsSpan(folderBytes + offset), value);
        File.WriteAllBytes(c.File, Reframe(c.Raw, payload));
    }

    [TestCase(4, -1783785424, TestName = "ImageCache_NegativeCount_IsIgnored")]
    [TestCase(0, -5, TestName = "ImageCache_NegativeSize_IsIgnored")]
    [TestCase(0, 1 << 20, TestName = "ImageCache_HugeSize_IsIgnored")]
    [TestCase(4, 1 << 28, TestName = "ImageCache_CountBeyondTheFile_IsIgnored")]
    public void ImageCache_ReChecksummedWithImpossibleSizes_IsIgnored(int fieldAfterFolder, int value)
    {
        var c = OneEntryCache();
        EditAfterFolder(c, fieldAfterFolder, value);
        Assert.That(ImageCache.Read(c.File, c.Folder), Is.Null);
    }

    // files imagefolder case 9055 (long mode): a re-checksummed image size of several thousand made the cache reader
    // allocate the planes (227 MB) before finding the file too short
    [Test]
    public void ImageCache_ASizeBeyondTheFile_IsIgnoredWithoutAllocatingThePlanes()
    {
        var c = OneEntryCache();
        EditAfterFolder(c, 0, 16000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(ImageCache.Read(c.File, c.Folder), Is.Null);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(16 << 20));
    }

    [Test]
    public void ImageCache_PlanesCutShort_IsIgnored()
    {
        var c = OneEntryCache();
        File.WriteAllBytes(c.File, Reframe(c.Raw, c.Raw[52..^2]));
        Assert.That(ImageCache.Read(c.File, c.Folder), Is.Null);
    }

    // api opencl seed 2 case 7599 (long mode): PoCL contracted Adam's g + wd·w into one fma. Where that sum cancels,
    // Adam divides by sqrt(v) ≈ |g + wd·w|, so the one rounding's difference grew into a wrong weight (-114.958 against
    // -114.899). Here g = -fl(wd·w): the reference's sum is exactly 0, a contracted one is wd·w's rounding error.
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void AdamUpdate_CancellingWeightDecay_AgreesWithTheReference(string backend)
    {
        var be = TestBackends.Get(backend);
        const int n = 64;
        const float wd = 1.0000009536743164f;
        var rng = new Random(7599);
        float[] w = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        float[] g = w.Select(x => -(wd * x)).ToArray();
        float[] m = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] Run(IBackend b)
        {
            using var tw = b.Allocate([n]); using var tg = b.Allocate([n]); using var tm = b.Allocate([n]); using var tv = b.Allocate([n]);
            tw.CopyFrom(w); tg.CopyFrom(g); tm.CopyFrom(m); tv.CopyFrom(new float[n]);
            b.AdamUpdate(tw, tg, tm, tv, 0.0085f, 0.8f, 0.999f, 1e-8f, 1, wd);
            return tw.ToArray();
        }
        float[] got = Run(be), expected = Run(TestBackends.Reference);
        for (int i = 0; i < n; i++)
            Assert.That(got[i], Is.EqualTo(expected[i]).Within(1e-5 * Math.Abs(expected[i]) + 1e-6), $"{backend} weight {i} (w = {w[i]})");
    }

    // files onnx case 401: an initialiser dimension edited to 0 threw ShapeMath's ArgumentException, naming neither the
    // file nor the model; and a raw_data whose length is no multiple of 4 was cut to whole floats without a word
    [TestCase("zero-dim", "must be >= 1")]
    [TestCase("odd-raw", "not a whole number of 4-byte values")]
    public void OnnxInitializer_ZeroDimOrOddRawData_IsRefusedNamingTheFile(string edit, string expected)
    {
        var be = TestBackends.Reference;
        string path = Path.Combine(Dir, "m.onnx");
        using (var model = ModelZoo.Create("[conv3-4,relu],gap,fc", be, [1, 8, 9], 3, seed: 1)) model.ExportOnnx(path);
        var m = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var w = m.Graph.Initializer.First(t => t.Name == "conv1.weight");
        if (edit == "zero-dim") w.Dims[3] = 0;
        else
        {
            // 4 bytes more than the shape's 36 floats would pass as 37 and be refused by count; 3 more were silently dropped
            var raw = w.RawData.Length > 0 ? w.RawData.ToByteArray() : w.FloatData.SelectMany(BitConverter.GetBytes).ToArray();
            w.FloatData.Clear();
            w.RawData = ByteString.CopyFrom([.. raw, 0, 0, 0]);
        }
        File.WriteAllBytes(path, m.ToByteArray());
        var ex = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path, be).Dispose());
        Assert.That(ex!.Message, Does.Contain(path).And.Contain("conv1.weight").And.Contain(expected));
    }
}
