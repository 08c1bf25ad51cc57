using System.Buffers.Binary;
using System.IO.Compression;
using FastConv.Nn.Data;
using FastConv.Nn;
using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>Issue 19's findings as cases: descriptors beyond what the kernels index (Limits), enum values outside their
/// enums, allocations whose byte counts overflow, and data and checkpoint files whose contents pass the checksum or
/// the format's magic but not its rules. Each is refused with a message that names the argument or the file.</summary>
public class LimitTests : TempDirectoryTests
{
    // a 65536 x 1 output whose input rows lie 2^31 - 1 into the padding: native segfaulted on it
    [Test]
    public void Conv2d_PaddingBeyondThe32BitCoordinates_IsRefusedNamingTheLimit()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(1, 1, 2, 1, 1, 1, 1, 65536, 1, int.MaxValue, 0, 1, 1));
        Assert.That(ex!.ParamName, Is.EqualTo("padH"));
        Assert.That(ex.Message, Does.Contain("Limits.MaxPaddedExtent").And.Contain("2 + 2*padding 2147483647"));
        // OpenCL's backward-data returned zeros for this one: refused before any backend sees it
        ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(1, 1, 2, 2, 1, 1, 1, 1, 134217728, 0, int.MaxValue, 1, 1));
        Assert.That(ex!.ParamName, Is.EqualTo("padW"));
    }

    [TestCase(-1)]
    [TestCase(19)]
    public void Conv2d_ActivationOutsideTheEnum_IsRefused(int value)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new Conv2dDesc(1, 1, 3, 3, 1, 1, 1, activation: (Activation)value));
        Assert.That(ex!.ParamName, Is.EqualTo("activation"));
        Assert.That(ex.Message, Does.Contain($"activation {value} is not one of None, Relu"));
    }

    // 2 * (1 << 30) was computed in int and wrapped: windows of nothing but padding were accepted
    [Test]
    public void Pool2d_HugePadding_IsRefusedByTheHalfKernelRule()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Pool2dDesc(PoolKind.Max, 1, 1, 2, 2, 1, 1, 1, int.MaxValue, 0, 1 << 30));
        Assert.That(ex!.Message, Does.Contain("must be at most half the kernel"));
    }

    // ManagedConv2dPlan threw a bare OverflowException for it
    [Test]
    public void Conv2d_AnImageBeyond2Pow31Elements_IsRefusedInTheDescriptor()
    {
        var ex = Assert.Throws<ArgumentException>(() => new Conv2dDesc(2, 5, 2, 1073741823, 4, 3, 2, 3, 3, 1, 1, 1, 1));
        Assert.That(ex!.Message, Does.Contain("one input image C*H*W = 10,737,418,230 elements exceeds Limits.MaxImageElements"));
    }

    [Test]
    public void Allocate_BytesBeyondA64BitCount_IsAnArgumentExceptionNamingTheShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => TestBackends.Get("managed").Allocate([2147483647, 1035308623, 3]));
        Assert.That(ex!.Message, Does.Contain("[2147483647, 1035308623, 3]").And.Contain("Limits.MaxTensorElements"));
    }

    private string IdxFile(string name, byte[] bytes, bool gzip)
    {
        string path = Path.Combine(Dir, name + (gzip ? ".gz" : ""));
        if (!gzip) { File.WriteAllBytes(path, bytes); return path; }
        using var f = File.Create(path);
        using var gz = new GZipStream(f, CompressionLevel.Fastest);
        gz.Write(bytes);
        return path;
    }

    private static byte[] IdxHeader(params int[] dims)
    {
        var b = new byte[4 + 4 * dims.Length];
        b[2] = 0x08; b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        return b;
    }

    // 4194304 x 2097152 x 2097152 = 2^64 wrapped to 0 and loaded as a data set with no pixels
    [TestCase(false)]
    [TestCase(true)]
    public void Idx_DimensionsWhoseProductWraps_AreRefused(bool gzip)
    {
        var ex = Assert.Throws<DataFormatException>(() => Idx.Read(IdxFile("wrap", IdxHeader(4194304, 2097152, 2097152), gzip)));
        Assert.That(ex!.Message, Does.Contain("more than one array holds"));
    }

    // a gzip that inflates far past what its header says is stopped after the header's bytes, not inflated whole
    [Test]
    public void Idx_GzipInflatingPastItsHeader_IsRefusedWithoutInflatingIt()
    {
        var bytes = new byte[64 << 20];
        IdxHeader(16).CopyTo(bytes, 0);
        var ex = Assert.Throws<DataFormatException>(() => Idx.Read(IdxFile("bomb", bytes, gzip: true)));
        Assert.That(ex!.Message, Does.Contain("trailing bytes").And.Contain("need 24 bytes"));
        var cut = Assert.Throws<DataFormatException>(() => Idx.Read(IdxFile("short", [.. IdxHeader(100), 1, 2, 3], gzip: true)));
        Assert.That(cut!.Message, Does.Contain("truncated").And.Contain("the gzip inflates to 11"));
    }

    [TestCase("lr", "abc", "Single")]
    [TestCase("epochs", "99999999999", "Int32")]
    [TestCase("test_fraction", "0.2.1", "Double")]
    public void CheckpointSettings_ThatDoNotParse_NameTheSettingAndValue(string key, string value, string type)
    {
        var d = new RunSettings().ToDictionary();
        d[key] = value;
        var ex = Assert.Throws<CheckpointException>(() => RunSettings.FromDictionary(d));
        Assert.That(ex!.Message, Is.EqualTo($"Checkpoint setting '{key}' = '{value}' is not a valid {type}."));
    }

    private Checkpoint Small(List<(string, int[], float[])> tensors, Dictionary<string, string> settings) => new()
    {
        Model = "tiny", InputShape = [1, 2, 2], ClassNames = ["a", "b"], Normalization = new Normalization([0f], [1f]),
        Settings = settings, Tensors = tensors,
    };

    [Test]
    public void Checkpoint_ATensorStoredTwice_IsRefusedOnLoad()
    {
        string path = Path.Combine(Dir, "twice.ckpt");
        Small([("w", [2], [1f, 2f]), ("w", [2], [3f, 4f])], []).Save(path);
        var ex = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path));
        Assert.That(ex!.Message, Does.Contain("the tensor 'w' is stored twice"));
    }
}
