using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Tests.Support;
using SkiaSharp;

namespace FastConv.Tests.Data;

/// <summary>Image folders as data sets: decoding (PNG, JPEG, colour, grey, odd sizes, EXIF orientation), class discovery,
/// the stratified split, the decode cache and every bad-folder case.</summary>
public class ImageFolderTests : TempDirectoryTests
{
    private static (byte, byte, byte) Pattern(int x, int y) => ((byte)(x * 7 + y), (byte)(y * 5 + 3), (byte)(x * y % 251));

    private string Cache => Path.Combine(Dir, "cache");

    private ImageFolderData Load(string dir, ImageFolderOptions? o = null) => ImageFolder.Load(dir, (o ?? new ImageFolderOptions()) with { CacheDir = Cache });

    /// <summary>DIR/&lt;class&gt;/&lt;i&gt;.png for each (class, count), solid noisy colours.</summary>
    private string Folder(string name, params (string Class, int Count)[] classes)
    {
        string root = Path.Combine(Dir, name);
        int seed = 0;
        foreach (var (c, n) in classes)
        {
            Directory.CreateDirectory(Path.Combine(root, c));
            for (int i = 0; i < n; i++)
                TestImages.Write(Path.Combine(root, c, $"{i:D3}.png"), 8, 8, TestImages.Noisy((40 * c.Length % 256, 100, 160), seed++));
        }
        return root;
    }

    [Test]
    public void Png_Colour_OddSize_CentreSquareKeptExactly()
    {
        string path = TestImages.Write(Path.Combine(Dir, "odd.png"), 37, 23, Pattern);
        var img = ImageDecoder.TryDecode(path, 23, out var error)!;
        Assert.That(error, Is.Null);
        Assert.That((img.Width, img.Height, img.Grey, img.Planes.Length), Is.EqualTo((37, 23, false, 3 * 23 * 23)));
        int plane = 23 * 23;
        for (int y = 0; y < 23; y++)
            for (int x = 0; x < 23; x++)
            {
                var (r, g, b) = Pattern(x + 7, y); // (37 - 23) / 2 = 7 columns cut on the left
                Assert.That((img.Planes[y * 23 + x], img.Planes[plane + y * 23 + x], img.Planes[2 * plane + y * 23 + x]), Is.EqualTo((r, g, b)), $"pixel {x},{y}");
            }
    }

    [Test]
    public void Png_Grey_IsOnePlane_AndCopiesToThreeChannels()
    {
        string path = TestImages.Write(Path.Combine(Dir, "grey.png"), 9, 13, Pattern, grey: true);
        var img = ImageDecoder.TryDecode(path, 9, out _)!;
        Assert.That(img.Grey, Is.True);
        Assert.That(img.Planes, Has.Length.EqualTo(81));
        Assert.That(img.Planes[0], Is.EqualTo(Pattern(0, 2).Item1), "rows (13 - 9) / 2 = 2 cut at the top");
        var three = new byte[3 * 81];
        img.CopyTo(3, three);
        Assert.That(three.AsSpan(81, 81).ToArray(), Is.EqualTo(img.Planes));
        Assert.That(three.AsSpan(162, 81).ToArray(), Is.EqualTo(img.Planes));
    }

    [Test]
    public void Colour_ToOneChannel_IsRec601Luma()
    {
        string path = TestImages.Write(Path.Combine(Dir, "c.png"), 4, 4, (_, _) => (200, 100, 50));
        var img = ImageDecoder.TryDecode(path, 4, out _)!;
        var one = new byte[16];
        img.CopyTo(1, one);
        Assert.That(one, Is.All.EqualTo((byte)Math.Round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)));
    }

    [Test]
    public void RgbFile_WhosePixelsAreAllGrey_CountsAsGrey()
    {
        string path = TestImages.Write(Path.Combine(Dir, "g.png"), 5, 5, (x, y) => ((byte)(x * 40), (byte)(x * 40), (byte)(x * 40)));
        Assert.That(ImageDecoder.TryDecode(path, 5, out _)!.Grey, Is.True);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Jpeg_ColourAndGrey_DecodeCloseToTheOriginal(bool grey)
    {
        (byte, byte, byte) Smooth(int x, int y) => ((byte)(x * 8), (byte)(255 - y * 8), (byte)(x * 4 + y * 4));
        string path = TestImages.Write(Path.Combine(Dir, "p.jpg"), 31, 31, Smooth, grey, SKEncodedImageFormat.Jpeg, 95);
        var img = ImageDecoder.TryDecode(path, 31, out var error)!;
        Assert.That(error, Is.Null);
        Assert.That(img.Grey, Is.EqualTo(grey));
        double diff = 0;
        for (int y = 0; y < 31; y++)
            for (int x = 0; x < 31; x++) diff += Math.Abs(img.Planes[y * 31 + x] - Smooth(x, y).Item1);
        Assert.That(diff / (31 * 31), Is.LessThan(4), "mean absolute error of the first plane at JPEG quality 95");
    }

    [TestCase(80, SKEncodedImageFormat.Png)]
    [TestCase(400, SKEncodedImageFormat.Jpeg)] // decoded at a reduced scale first
    public void Resize_ShorterSideThenCentreCrop(int width, SKEncodedImageFormat format)
    {
        // width x width/2: the centre square's left half bright, right half dark.
        string path = TestImages.Write(Path.Combine(Dir, "wide.img"), width, width / 2,
            (x, _) => x < width / 2 ? ((byte)250, (byte)250, (byte)250) : ((byte)5, (byte)5, (byte)5), format: format, quality: 95);
        var img = ImageDecoder.TryDecode(path, 10, out _)!;
        Assert.That((img.Width, img.Height, img.Size), Is.EqualTo((width, width / 2, 10)));
        for (int y = 0; y < 10; y++)
        {
            Assert.That(img.Planes[y * 10 + 1], Is.GreaterThan(240));
            Assert.That(img.Planes[y * 10 + 8], Is.LessThan(15));
        }
    }

    [Test]
    public void Jpeg_ExifOrientation_IsApplied()
    {
        // Stored: 30 wide, 20 high, left third bright. Orientation 6 displays it rotated 90° clockwise: 20 wide, 30 high,
        // the stored left columns along the top.
        var jpeg = TestImages.Encode(30, 20, (x, _) => x < 10 ? ((byte)250, (byte)250, (byte)250) : ((byte)5, (byte)5, (byte)5),
                                     grey: true, SKEncodedImageFormat.Jpeg, 95);
        string plain = Path.Combine(Dir, "plain.jpg"), rotated = Path.Combine(Dir, "rotated.jpg");
        File.WriteAllBytes(plain, jpeg);
        File.WriteAllBytes(rotated, TestImages.WithExifOrientation(jpeg, 6));
        Assert.That(ImageDecoder.TryReadSize(plain, out _), Is.EqualTo((30, 20)));
        Assert.That(ImageDecoder.TryReadSize(rotated, out _), Is.EqualTo((20, 30)));
        var p = ImageDecoder.TryDecode(plain, 20, out _)!;    // centre square: stored columns 5..24, bright at its left (x < 5)
        var r = ImageDecoder.TryDecode(rotated, 20, out _)!;  // the same square turned: bright at its top (y < 5)
        Assert.That((r.Width, r.Height), Is.EqualTo((20, 30)));
        Assert.That(p.Planes[10 * 20 + 1], Is.GreaterThan(200)); Assert.That(p.Planes[1 * 20 + 10], Is.LessThan(50));
        Assert.That(r.Planes[1 * 20 + 10], Is.GreaterThan(200)); Assert.That(r.Planes[10 * 20 + 1], Is.LessThan(50));
    }

    [Test]
    public void Classes_AreFolderNamesInOrdinalOrder_HiddenAndOtherFilesIgnored()
    {
        string root = Folder("f", ("banana", 2), ("Zebra", 2), ("apple", 2));
        Directory.CreateDirectory(Path.Combine(root, ".git"));
        File.WriteAllText(Path.Combine(root, "apple", "notes.txt"), "not an image");
        Directory.CreateDirectory(Path.Combine(root, "apple", "more"));
        TestImages.Write(Path.Combine(root, "apple", "more", "x.png"), 8, 8, Pattern);
        var (classes, files, hasTest, ignored) = ImageFolder.Discover(root);
        Assert.That(classes, Is.EqualTo(new[] { "Zebra", "apple", "banana" }));
        Assert.That(hasTest, Is.False);
        Assert.That(ignored, Is.EqualTo(1));
        Assert.That(files.Count(f => f.Label == 1), Is.EqualTo(3), "images in subfolders of a class belong to it");
        var data = Load(root);
        Assert.That(data.Train.ClassNames, Is.EqualTo(classes));
        Assert.That(data.Train.Count + data.Test.Count, Is.EqualTo(7));
    }

    [Test]
    public void StratifiedSplit_HoldsOutEachClassesShare_Seeded()
    {
        int[] labels = [.. Enumerable.Repeat(0, 50), .. Enumerable.Repeat(1, 20), .. Enumerable.Repeat(2, 5), 3];
        var a = ImageFolder.StratifiedTestIndices(labels, 4, 0.2, seed: 7);
        Assert.That(a.Count(i => labels[i] == 0), Is.EqualTo(10));
        Assert.That(a.Count(i => labels[i] == 1), Is.EqualTo(4));
        Assert.That(a.Count(i => labels[i] == 2), Is.EqualTo(1));
        Assert.That(a.Count(i => labels[i] == 3), Is.Zero, "a class of one image stays in training");
        Assert.That(a, Is.Ordered.And.Unique);
        Assert.That(ImageFolder.StratifiedTestIndices(labels, 4, 0.2, seed: 7), Is.EqualTo(a));
        Assert.That(ImageFolder.StratifiedTestIndices(labels, 4, 0.2, seed: 8), Is.Not.EqualTo(a));
    }

    [Test]
    public void TrainAndTestFolders_AreUsedAsTheSplit()
    {
        string root = Path.Combine(Dir, "split");
        foreach (var (split, n) in new[] { ("train", 4), ("test", 2) })
            foreach (var c in new[] { "cat", "dog" })
            {
                Directory.CreateDirectory(Path.Combine(root, split, c));
                for (int i = 0; i < n; i++) TestImages.Write(Path.Combine(root, split, c, $"{i}.png"), 6, 6, TestImages.Noisy((c == "cat" ? 200 : 20, 90, 90), i));
            }
        var data = Load(root);
        Assert.That((data.HasTestFolder, data.Train.Count, data.Test.Count, data.ImageSize, data.Channels), Is.EqualTo((true, 8, 4, 6, 3)));
        Assert.That(data.Test.Labels, Is.EqualTo(new byte[] { 0, 0, 1, 1 }));

        Directory.CreateDirectory(Path.Combine(root, "test", "bird"));
        var e = Assert.Throws<ImageFolderException>(() => Load(root))!;
        Assert.That(e.Message, Does.Contain("bird").And.Contain("is not one of the 2 classes"));
    }

    [Test]
    public void Defaults_MostCommonSmallSize_GreyMeansOneChannel_LargeMeans64()
    {
        string root = Folder("f", ("a", 3), ("b", 2));
        TestImages.Write(Path.Combine(root, "a", "big.png"), 12, 10, Pattern, grey: true);
        var d = Load(root);
        Assert.That((d.ImageSize, d.Channels), Is.EqualTo((8, 3)), "5 of 6 images are 8x8; the pictures are colour");
        string greyRoot = Path.Combine(Dir, "g");
        foreach (var c in new[] { "a", "b" })
        {
            Directory.CreateDirectory(Path.Combine(greyRoot, c));
            for (int i = 0; i < 3; i++) TestImages.Write(Path.Combine(greyRoot, c, $"{i}.png"), 70, 90, Pattern, grey: true);
        }
        var g = Load(greyRoot);
        Assert.That((g.ImageSize, g.Channels), Is.EqualTo((ImageFolder.LargestDefaultSize, 1)));
        Assert.That(Load(greyRoot, new ImageFolderOptions { ImageSize = 16, Channels = 3 }).Train.ImageShape, Is.EqualTo(new[] { 3, 16, 16 }));
    }

    [Test]
    public void Cache_SecondLoadDecodesNothing_AChangedFileIsDecodedAgain()
    {
        string root = Folder("f", ("a", 3), ("b", 3));
        var first = Load(root, new ImageFolderOptions { ImageSize = 8 });
        Assert.That((first.Decoded, first.Cached), Is.EqualTo((6, 0)));
        Assert.That(File.Exists(first.CacheFile), Is.True);
        var second = Load(root, new ImageFolderOptions { ImageSize = 8 });
        Assert.That((second.Decoded, second.Cached), Is.EqualTo((0, 6)));
        Assert.That(second.Train.Pixels, Is.EqualTo(first.Train.Pixels));

        // Rewrite one image (other pixels, a later time): only it is decoded, and its new pixels are used.
        string changed = Path.Combine(root, "b", "001.png");
        TestImages.Write(changed, 8, 8, (_, _) => (1, 2, 3));
        File.SetLastWriteTimeUtc(changed, DateTime.UtcNow.AddMinutes(1));
        var third = Load(root, new ImageFolderOptions { ImageSize = 8 });
        Assert.That((third.Decoded, third.Cached), Is.EqualTo((1, 5)));
        var all = third.Train.Pixels.Concat(third.Test.Pixels).ToArray();
        Assert.That(Enumerable.Range(0, all.Length / 192).Any(i => all.AsSpan(i * 192, 64).IndexOfAnyExcept((byte)1) < 0), Is.True, "the new red plane (all 1)");

        // Another image size decodes everything again; a corrupt cache file is ignored.
        Assert.That(Load(root, new ImageFolderOptions { ImageSize = 4 }).Decoded, Is.EqualTo(6));
        var bytes = File.ReadAllBytes(third.CacheFile);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(third.CacheFile, bytes);
        var afterCorruption = Load(root, new ImageFolderOptions { ImageSize = 4 });
        Assert.That(afterCorruption.Decoded, Is.EqualTo(6));
    }

    private static readonly (string Name, Func<byte[]> Bytes, string Problem)[] BadFiles =
    [
        ("empty.png", () => [], "file is empty"),
        ("text.png", () => "hello, not a picture"u8.ToArray(), "not an image SkiaSharp can decode"),
        ("cut.png", () => Half(TestImages.Encode(128, 128, Pattern)), "cut short"),
        ("cut.jpg", () => Half(TestImages.Encode(128, 128, Pattern, format: SKEncodedImageFormat.Jpeg)), "cut short"),
    ];

    private static byte[] Half(byte[] file) => file[..(file.Length / 2)];

    [TestCaseSource(nameof(BadFileNames))]
    public void BadFile_IsNamed_OrSkippedWhenAsked(string name)
    {
        var (_, bytes, problem) = BadFiles.Single(b => b.Name == name);
        string root = Folder("f", ("a", 3), ("b", 3));
        string bad = Path.Combine(root, "a", name);
        File.WriteAllBytes(bad, bytes());
        var e = Assert.Throws<ImageFolderException>(() => Load(root))!;
        Assert.That(e.Message, Does.Contain(bad).And.Contain(problem).And.Contain("(SkipBadImages trains on the rest)"));
        Assert.That(e.Template, Does.Contain("({SkipBadImages} trains on the rest)"), "the CLI puts its flag there");
        Assert.That(e.BadImages.Select(b => b.Path), Is.EqualTo(new[] { bad }));

        var skipped = Load(root, new ImageFolderOptions { SkipBadImages = true });
        Assert.That(skipped.Skipped.Select(b => b.Path), Is.EqualTo(new[] { bad }));
        Assert.That(skipped.Train.Count + skipped.Test.Count, Is.EqualTo(6));
        // The cache remembers the bad file too, and still refuses it.
        Assert.That(Assert.Throws<ImageFolderException>(() => Load(root))!.Message, Does.Contain(problem));
    }

    private static IEnumerable<string> BadFileNames() => BadFiles.Select(b => b.Name);

    [Test]
    public void EmptyClassFolder_OneClass_NoClasses_AreEachOneClearError()
    {
        string root = Folder("f", ("a", 2), ("b", 2));
        Directory.CreateDirectory(Path.Combine(root, "c"));
        File.WriteAllText(Path.Combine(root, "c", "readme.txt"), "");
        Assert.That(Assert.Throws<ImageFolderException>(() => Load(root))!.Message,
            Does.StartWith($"Class folder {Path.Combine(root, "c")} has no images"));
        Assert.That(Assert.Throws<ImageFolderException>(() => Load(Folder("one", ("only", 3))))!.Message,
            Does.Contain("has one class folder ('only'): a classifier needs at least two"));
        Directory.CreateDirectory(Path.Combine(Dir, "none"));
        Assert.That(Assert.Throws<ImageFolderException>(() => Load(Path.Combine(Dir, "none")))!.Message, Does.Contain("has no class folders"));
        Assert.Throws<DirectoryNotFoundException>(() => Load(Path.Combine(Dir, "missing")));
    }

    [Test]
    public void ImageTooSmallForTheModel_IsOneClearError()
    {
        string root = Folder("f", ("a", 10), ("b", 10));
        var s = new RunSettings { Data = "folder", DataDir = root, CacheDir = Cache, Model = "lenet", Epochs = 1, Batch = 4, ImageSize = 6 };
        var e = Assert.Throws<SettingException>(() => TrainingRun.Start(s, BackendRegistry.Get("managed"), Path.Combine(Dir, "run")))!;
        // the library names its own properties; the CLI words the same template with its flags
        Assert.That(e.Message, Does.StartWith("ImageSize 6 is too small for model lenet (choose a larger ImageSize or another Model)"));
        Assert.That(e.Setting, Is.EqualTo(nameof(RunSettings.ImageSize)));
    }

    [Test]
    public void Export_WritesClassFolders_ThatReadBackToTheSamePixels()
    {
        var pixels = Enumerable.Range(0, 6 * 3 * 5 * 4).Select(i => (byte)(i * 37)).ToArray();
        var data = new Dataset("t", pixels, [0, 1, 2, 0, 1, 2], 3, 5, 4, ["a/b", "c", "d"]);
        string outDir = Path.Combine(Dir, "export");
        ImageFolder.Export(outDir, [("train", data), ("test", data)]);
        Assert.That(Directory.GetDirectories(Path.Combine(outDir, "train")).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { "a_b", "c", "d" }));
        var img = ImageDecoder.TryDecode(Path.Combine(outDir, "train", "c", "00004.png"), 4, out _)!;
        var back = new byte[3 * 16];
        img.CopyTo(3, back);
        // The 5-row image's centre square drops its last row ((5 - 4) / 2 = 0 rows at the top).
        for (int c = 0; c < 3; c++)
            Assert.That(back.AsSpan(c * 16, 16).ToArray(), Is.EqualTo(data.Image(4).Slice(c * 20, 16).ToArray()));
        Assert.That(Assert.Throws<IOException>(() => ImageFolder.Export(outDir, [("train", data)]))!.Message, Does.Contain("already holds files"));
        Assert.That(Directory.GetFileSystemEntries(Dir).Where(p => Path.GetFileName(p).StartsWith('.')), Is.Empty, "no temporary folder left");
    }
}
