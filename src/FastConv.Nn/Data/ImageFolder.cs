using System.Diagnostics;
using SkiaSharp;

namespace FastConv.Nn.Data;

/// <summary>How a folder of images becomes a data set; every setting has a default.</summary>
public sealed record ImageFolderOptions
{
    /// <summary>Side of the square the model sees. Null: the most common shorter side when every image is at most
    /// <see cref="ImageFolder.LargestDefaultSize"/> pixels on each side, else that size.</summary>
    public int? ImageSize { get; init; }
    /// <summary>1 or 3. Null: 1 when every image is grey, else 3.</summary>
    public int? Channels { get; init; }
    /// <summary>Share of each class held out as the test set when the folder has no test/ split.</summary>
    public double TestFraction { get; init; } = 0.2;
    public int Seed { get; init; } = 1;
    /// <summary>Train on the images that decode and report the others, instead of refusing the folder.</summary>
    public bool SkipBadImages { get; init; }
    /// <summary>Folder for the decode cache (null: FASTCONV_CACHE_DIR, else $XDG_CACHE_HOME/fastconv, else ~/.cache/fastconv).</summary>
    public string? CacheDir { get; init; }
    /// <summary>Called from the decoding threads with (images decoded, images to decode).</summary>
    public Action<int, int>? Progress { get; init; }
}

/// <summary>A file that did not decode, and why.</summary>
public sealed record BadImage(string Path, string Problem);

/// <summary>What <see cref="ImageFolder.Load"/> read: the two data sets, the geometry chosen, what was skipped, and
/// how many images were decoded now against taken from the cache.</summary>
public sealed record ImageFolderData(Dataset Train, Dataset Test, int ImageSize, int Channels, bool HasTestFolder,
    IReadOnlyList<BadImage> Skipped, int IgnoredFiles, int Decoded, int Cached, double Seconds, string CacheFile);

/// <summary>A folder that cannot be a data set (no classes, an empty class, bad images …); the message names the problem.
/// <see cref="Template"/> writes the settings it names in braces, as <see cref="SettingException"/> does.</summary>
public sealed class ImageFolderException(string template, IReadOnlyList<BadImage>? badImages = null)
    : IOException(SettingException.Render(template, n => n))
{
    public IReadOnlyList<BadImage> BadImages { get; } = badImages ?? [];
    public string Template { get; } = template;
}

/// <summary>
/// Folders of images as data sets, the layout torchvision's ImageFolder reads: DIR/&lt;class&gt;/*.png|jpg|jpeg|bmp|webp,
/// or DIR/train/&lt;class&gt;/… and DIR/test/&lt;class&gt;/…. Class names are the folder names in ordinal order. Without a
/// test/ folder a seeded share of each class is held out. Images are decoded on all cores once; the decoded pixels
/// are cached per folder, and each file's entry is reused while its size and modification time are unchanged.
/// </summary>
public static class ImageFolder
{
    public const int LargestDefaultSize = 64;
    public const int MaxClasses = 256;

    private sealed record Source(string Key, string Path, int Label, bool Test, long Length, long Ticks);

    public static ImageFolderData Load(string directory, ImageFolderOptions o)
    {
        var sw = Stopwatch.StartNew();
        if (o.ImageSize is < 1) throw new SettingException(nameof(o.ImageSize), $"must be at least 1, got {o.ImageSize}.");
        if (o.Channels is not (null or 1 or 3)) throw new SettingException(nameof(o.Channels), $"must be 1 or 3, got {o.Channels}.");
        if (!(o.TestFraction > 0 && o.TestFraction < 1)) throw new SettingException(nameof(o.TestFraction), $"must be between 0 and 1 (exclusive), got {o.TestFraction}.");
        var (classes, files, hasTest, ignored) = Discover(directory);
        var sources = new Source[files.Count];
        Parallel.For(0, files.Count, Options(), i =>
        {
            var (path, label, test) = files[i];
            var fi = new FileInfo(path);
            sources[i] = new Source(Path.GetRelativePath(directory, path), path, label, test, fi.Length, fi.LastWriteTimeUtc.Ticks);
        });

        string cacheFile = ImageCache.PathFor(o.CacheDir ?? DefaultCacheDir(), directory);
        var cache = ImageCache.Read(cacheFile, Path.GetFullPath(directory));
        ImageCache.Entry? Cached(Source s) => cache?.Entries.GetValueOrDefault(s.Key) is { } e && e.Length == s.Length && e.Ticks == s.Ticks ? e : null;

        int size = o.ImageSize ?? DefaultSize(sources, Cached);
        var entries = new ImageCache.Entry[sources.Length];
        var todo = new List<int>();
        for (int i = 0; i < sources.Length; i++)
            if (Cached(sources[i]) is { } e && (e.Error is not null || cache!.Size == size)) entries[i] = e;
            else todo.Add(i);
        int done = 0;
        Parallel.ForEach(todo, Options(), i =>
        {
            var s = sources[i];
            var image = ImageDecoder.TryDecode(s.Path, size, out string? error);
            entries[i] = new ImageCache.Entry(s.Key, s.Length, s.Ticks, image?.Width ?? 0, image?.Height ?? 0, image?.Grey ?? false, error, image?.Planes);
            int n = Interlocked.Increment(ref done);
            if (o.Progress is not null && (n % 64 == 0 || n == todo.Count)) o.Progress(n, todo.Count);
        });
        if (todo.Count > 0 || cache is null || cache.Entries.Count != entries.Length)
        {
            // A cache that cannot be written costs the next start its speed, not this run.
            try { ImageCache.Write(cacheFile, Path.GetFullPath(directory), size, entries); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { cacheFile = $"cache not written: {e.Message}"; }
        }

        var bad = Enumerable.Range(0, entries.Length).Where(i => entries[i].Error is not null)
            .Select(i => new BadImage(sources[i].Path, entries[i].Error!)).ToList();
        if (bad.Count > 0 && !o.SkipBadImages)
            throw new ImageFolderException(
                $"{bad.Count} of {entries.Length} files in {directory} are not images FastConv can read " +
                $"({{SkipBadImages}} trains on the rest): {Describe(bad)}", bad);
        var good = Enumerable.Range(0, entries.Length).Where(i => entries[i].Error is null).ToArray();
        if (good.Length == 0) throw new ImageFolderException($"None of the {entries.Length} files in {directory} decodes.", bad);
        int channels = o.Channels ?? (good.All(i => entries[i].Grey) ? 1 : 3);

        int[] trainIdx, testIdx;
        if (hasTest)
        {
            trainIdx = good.Where(i => !sources[i].Test).ToArray();
            testIdx = good.Where(i => sources[i].Test).ToArray();
        }
        else
        {
            var labels = good.Select(i => sources[i].Label).ToArray();
            var held = new HashSet<int>(StratifiedTestIndices(labels, classes.Length, o.TestFraction, o.Seed));
            trainIdx = good.Where((_, j) => !held.Contains(j)).ToArray();
            testIdx = good.Where((_, j) => held.Contains(j)).ToArray();
        }
        foreach (var (name, idx) in new[] { ("training", trainIdx), ("test", testIdx) })
            if (idx.Length == 0) throw new ImageFolderException($"{directory}: no {name} images are left after skipping {bad.Count} bad files.");
        Dataset Build(string name, int[] idx)
        {
            int per = channels * size * size;
            var px = new byte[(long)idx.Length * per];
            var lb = new byte[idx.Length];
            for (int j = 0; j < idx.Length; j++)
            {
                var e = entries[idx[j]];
                new DecodedImage(e.Width, e.Height, size, e.Grey, e.Planes!).CopyTo(channels, px.AsSpan(j * per, per));
                lb[j] = (byte)sources[idx[j]].Label;
            }
            return new Dataset(name, px, lb, channels, size, size, classes);
        }
        return new ImageFolderData(Build("folder-train", trainIdx), Build("folder-test", testIdx), size, channels, hasTest,
            bad, ignored, todo.Count, entries.Length - todo.Count, sw.Elapsed.TotalSeconds, cacheFile);
    }

    /// <summary>The classes (folder names, ordinal order) and image files (ordinal order within a class) of a folder.</summary>
    public static (string[] Classes, List<(string Path, int Label, bool Test)> Files, bool HasTestFolder, int IgnoredFiles) Discover(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Image folder not found: {directory}");
        string train = Path.Combine(directory, "train"), test = Path.Combine(directory, "test");
        bool split = Directory.Exists(train);
        string root = split ? train : directory;
        bool hasTest = split && Directory.Exists(test);
        var classes = ClassFolders(root).ToArray();
        if (classes.Length == 0)
            throw new ImageFolderException($"{root} has no class folders: put each class's images in a subfolder named after the class (or in train/<class> and test/<class>).");
        if (classes.Length == 1)
            throw new ImageFolderException($"{root} has one class folder ('{classes[0]}'): a classifier needs at least two.");
        if (classes.Length > MaxClasses)
            throw new ImageFolderException($"{root} has {classes.Length} class folders; FastConv's data sets hold at most {MaxClasses} classes.");
        var files = new List<(string, int, bool)>();
        int ignored = 0;
        void Add(string parent, bool isTest)
        {
            foreach (var name in ClassFolders(parent))
            {
                int label = Array.IndexOf(classes, name);
                if (label < 0)
                    throw new ImageFolderException($"{Path.Combine(parent, name)} is not one of the {classes.Length} classes of {root} ({string.Join(", ", classes)}).");
                var all = Directory.EnumerateFiles(Path.Combine(parent, name), "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.')).ToList();
                var images = all.Where(ImageDecoder.IsImageFile).Order(StringComparer.Ordinal).ToList();
                ignored += all.Count - images.Count;
                if (images.Count == 0)
                    throw new ImageFolderException($"Class folder {Path.Combine(parent, name)} has no images ({string.Join(", ", ImageDecoder.Extensions)}).");
                files.AddRange(images.Select(f => (f, label, isTest)));
            }
        }
        Add(root, false);
        if (hasTest) Add(test, true);
        return (classes, files, hasTest, ignored);
    }

    private static IEnumerable<string> ClassFolders(string parent) =>
        Directory.EnumerateDirectories(parent).Select(Path.GetFileName).OfType<string>()
            .Where(n => !n.StartsWith('.')).Order(StringComparer.Ordinal);

    /// <summary>A seeded, stratified hold-out: per class, round(fraction · count) examples (at least one when the class has
    /// two or more, never all of them), drawn by a shuffle seeded with <paramref name="seed"/>. Indices into
    /// <paramref name="labels"/>, ascending.</summary>
    public static int[] StratifiedTestIndices(IReadOnlyList<int> labels, int classes, double fraction, int seed)
    {
        var rng = new Random(seed);
        var held = new List<int>();
        for (int c = 0; c < classes; c++)
        {
            var members = Enumerable.Range(0, labels.Count).Where(i => labels[i] == c).ToArray();
            if (members.Length < 2) continue;
            int take = Math.Clamp((int)Math.Round(fraction * members.Length, MidpointRounding.AwayFromZero), 1, members.Length - 1);
            rng.Shuffle(members);
            held.AddRange(members.Take(take));
        }
        held.Sort();
        return [.. held];
    }

    private static int DefaultSize(Source[] sources, Func<Source, ImageCache.Entry?> cached)
    {
        var sizes = new (int W, int H)[sources.Length];
        Parallel.For(0, sources.Length, Options(), i =>
            sizes[i] = cached(sources[i]) is { Error: null } e ? (e.Width, e.Height) : ImageDecoder.TryReadSize(sources[i].Path, out _) ?? (0, 0));
        var ok = sizes.Where(s => s.W > 0).ToList();
        if (ok.Count == 0 || ok.Any(s => Math.Max(s.W, s.H) > LargestDefaultSize)) return LargestDefaultSize;
        return ok.GroupBy(s => Math.Min(s.W, s.H)).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Key).First().Key;
    }

    private static ParallelOptions Options() => new() { MaxDegreeOfParallelism = Parallelism.Threads };

    /// <summary>The first few bad files and their problems, on one line.</summary>
    public static string Describe(IReadOnlyList<BadImage> bad, int shown = 5) =>
        string.Join("; ", bad.Take(shown).Select(b => $"{b.Path}: {b.Problem}")) + (bad.Count > shown ? $"; and {bad.Count - shown} more" : "");

    /// <summary>$FASTCONV_CACHE_DIR, else $XDG_CACHE_HOME/fastconv, else ~/.cache/fastconv.</summary>
    public static string DefaultCacheDir()
    {
        if (Environment.GetEnvironmentVariable("FASTCONV_CACHE_DIR") is { Length: > 0 } d) return d;
        string baseDir = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "fastconv");
    }

    /// <summary>Writes data sets as PNG files in class folders, &lt;out&gt;/&lt;split&gt;/&lt;class&gt;/&lt;index&gt;.png (index: the
    /// example's position in its data set), on all cores. The folder is built beside <paramref name="outDir"/> and renamed
    /// into place at the end; an <paramref name="outDir"/> that already holds files is refused.</summary>
    public static void Export(string outDir, IReadOnlyList<(string Split, Dataset Data)> parts, Action<int, int>? progress = null)
    {
        string full = Path.GetFullPath(outDir);
        if (File.Exists(full)) throw new IOException($"{outDir} is a file; the export needs a new or empty folder.");
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new IOException($"{outDir} already holds files; the export needs a new or empty folder.");
        string tmp = Path.Combine(Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar))!, $".{Path.GetFileName(full.TrimEnd(Path.DirectorySeparatorChar))}.tmp-{Environment.ProcessId}");
        try
        {
            int total = parts.Sum(p => p.Data.Count), done = 0;
            foreach (var (split, data) in parts)
            {
                var names = FolderNames(data.ClassNames);
                foreach (var n in names) Directory.CreateDirectory(Path.Combine(tmp, split, n));
                string digits = "D" + Math.Max(5, (data.Count - 1).ToString().Length);
                Parallel.For(0, data.Count, Options(), i =>
                {
                    File.WriteAllBytes(Path.Combine(tmp, split, names[data.Labels[i]], i.ToString(digits) + ".png"), EncodePng(data, i));
                    int n = Interlocked.Increment(ref done);
                    if (progress is not null && (n % 256 == 0 || n == total)) progress(n, total);
                });
            }
            if (Directory.Exists(full)) Directory.Delete(full);
            Directory.Move(tmp, full);
        }
        finally
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        }
    }

    /// <summary>Class names as folder names: characters a file name cannot hold (and '/') become '_' ("T-shirt/top" → "T-shirt_top").</summary>
    public static string[] FolderNames(IReadOnlyList<string> classNames)
    {
        var bad = Path.GetInvalidFileNameChars().Concat(['/', '\\', ':']).ToHashSet();
        var names = classNames.Select(c => new string(c.Select(ch => bad.Contains(ch) ? '_' : ch).ToArray()).Trim()).ToArray();
        for (int i = 0; i < names.Length; i++)
            if (names[i] is "" or "." or ".." || names[i].StartsWith('.') || Array.IndexOf(names, names[i]) < i) names[i] = $"class{i}-{names[i].TrimStart('.')}";
        return names;
    }

    /// <summary>Example <paramref name="i"/> of a data set as a PNG: grey for one channel, RGB for three.</summary>
    public static byte[] EncodePng(Dataset data, int i)
    {
        if (data.Channels is not (1 or 3)) throw new ArgumentException($"PNG export needs 1 or 3 channels, {data.Name} has {data.Channels}.");
        int w = data.Width, h = data.Height, plane = w * h;
        var src = data.Image(i);
        bool grey = data.Channels == 1;
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = bitmap.GetPixelSpan();
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int p = y * w + x, o = y * bitmap.RowBytes + x * (grey ? 1 : 4);
                if (grey) { px[o] = src[p]; continue; }
                px[o] = src[p]; px[o + 1] = src[plane + p]; px[o + 2] = src[2 * plane + p]; px[o + 3] = 255;
            }
        using var encoded = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return encoded.ToArray();
    }
}
