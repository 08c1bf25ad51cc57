using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Nn.Onnx;
using FastConv.Nn.Onnx.Proto;
using Google.Protobuf;
using SkiaSharp;

namespace FastConv.Fuzz;

/// <summary>
/// The file fuzzers (issue 19, 2c): case i of a seed writes a valid IDX file (plain or gzipped), CIFAR-10 batch,
/// checkpoint, image folder or exported ONNX model, damages it (truncation, bit flips, length and dimension fields overwritten with edge values,
/// bytes inserted or deleted; checkpoints and the image folder's decode cache also with the checksum recomputed after the
/// edit, so the parser itself is reached) and reads it back. A reader must load a valid file (and give back what was
/// written) or throw its documented exception naming the file (DataFormatException, CheckpointException,
/// ImageFolderException, OnnxModelException; ONNX also ArgumentException, NotSupportedException); any other exception, a hang or an allocation far beyond the file's size is a finding.
/// </summary>
public sealed class FileFuzzer(string format, long seed, TextWriter output, string workDir)
{
    public static readonly string[] Formats = ["idx", "cifar10", "checkpoint", "imagefolder", "onnx"];

    /// <summary>What a reader may allocate for a file of n bytes: a few copies of it (an IDX gzip inflates to at most its
    /// header's size, which the header's own dimensions bound) plus a fixed allowance.</summary>
    private static long AllocationAllowance(long fileBytes, long declared) => (64L << 20) + 16 * Math.Max(fileBytes, declared);

    public CaseLog Run(int index, bool verbose = false)
    {
        var log = new CaseLog(output, index) { Verbose = verbose };
        var r = Values.CaseRng(seed, index, stream: 7);
        string dir = Path.Combine(workDir, $"case-{index}");
        Directory.CreateDirectory(dir);
        try
        {
            switch (format)
            {
                case "idx": IdxCase(r, log, dir); break;
                case "cifar10": CifarCase(r, log, dir); break;
                case "checkpoint": CheckpointCase(r, log, dir); break;
                case "imagefolder": FolderCase(r, log, dir); break;
                case "onnx": OnnxCase(r, log, dir); break;
                default: throw new ArgumentException($"unknown file format '{format}': use {string.Join(", ", Formats)}", nameof(format));
            }
        }
        catch (Exception e) when (e is not ArgumentException { ParamName: "format" })
        {
            log.Finding(FindingKind.BadException, $"escaped the case: {e.GetType().FullName}: {e.Message} at {CaseLog.FirstFrame(e)}");
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        log.End();
        return log;
    }

    // ---------------------------------------------------------------- damage

    /// <summary>Edge values for a 32-bit length or dimension field.</summary>
    private static readonly int[] EdgeInts = [0, -1, 1, 2, 3, int.MaxValue, int.MinValue, 1 << 30, 1 << 24, 65536, 0x7FFFFFFE, 1 << 20, 255, 256];

    /// <summary>One damage to <paramref name="b"/>, described; <paramref name="fields"/> are offsets of 32-bit fields
    /// (little- or big-endian) worth editing.</summary>
    private static (byte[] Bytes, string What) Damage(Random r, byte[] b, int[] fields, bool bigEndian)
    {
        var d = (byte[])b.Clone();
        switch (r.Next(7))
        {
            case 0:
            {
                int n = r.Next(0, d.Length);
                return (d[..n], $"truncated to {n} of {d.Length} bytes");
            }
            case 1:
            {
                int flips = r.Next(1, 9);
                var at = new List<string>();
                for (int i = 0; i < flips && d.Length > 0; i++) { int p = r.Next(d.Length), bit = r.Next(8); d[p] ^= (byte)(1 << bit); at.Add($"{p}.{bit}"); }
                return (d, $"bits flipped at {string.Join(",", at)}");
            }
            case 2 when fields.Length > 0:
            case 3 when fields.Length > 0:
            {
                int at = fields[r.Next(fields.Length)];
                if (at + 4 > d.Length) goto default;
                int old = bigEndian ? BinaryPrimitives.ReadInt32BigEndian(d.AsSpan(at)) : BinaryPrimitives.ReadInt32LittleEndian(d.AsSpan(at));
                int v = r.Next(3) switch { 0 => EdgeInts[r.Next(EdgeInts.Length)], 1 => old + r.Next(-2, 3), _ => old * r.Next(2, 5) };
                if (bigEndian) BinaryPrimitives.WriteInt32BigEndian(d.AsSpan(at), v); else BinaryPrimitives.WriteInt32LittleEndian(d.AsSpan(at), v);
                return (d, $"field at {at} {old} -> {v}");
            }
            case 4:
            {
                int at = r.Next(d.Length + 1), n = r.Next(1, 9);
                var extra = new byte[n]; r.NextBytes(extra);
                return ([.. d[..at], .. extra, .. d[at..]], $"{n} bytes inserted at {at}");
            }
            case 5 when d.Length > 0:
            {
                int at = r.Next(d.Length), n = Math.Min(r.Next(1, 9), d.Length - at);
                return ([.. d[..at], .. d[(at + n)..]], $"{n} bytes deleted at {at}");
            }
            default:
            {
                if (d.Length == 0) return (d, "empty");
                int at = r.Next(d.Length);
                d[at] = (byte)r.Next(256);
                return (d, $"byte {at} set to {d[at]}");
            }
        }
    }

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    /// <summary>Runs a reader, measuring what it allocates; returns the exception it threw, if any.</summary>
    private static Exception? Read(CaseLog log, string what, long fileBytes, long declared, Action read)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        Exception? thrown = null;
        log.Step(what); log.Call();
        try { read(); }
        catch (Exception e) { thrown = e; }
        long used = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (used > AllocationAllowance(fileBytes, declared))
            log.Finding(FindingKind.HugeAllocation, $"{what}: allocated {used:N0} bytes for a file of {fileBytes:N0} bytes");
        return thrown;
    }

    /// <summary>A refusal must be the reader's documented exception with the file named in its message.</summary>
    private static void Refusal<TDocumented>(CaseLog log, Exception e, string what, params string[] paths) where TDocumented : Exception
    {
        if (e is not TDocumented)
        {
            log.Finding(FindingKind.BadException, $"{what}: {e.GetType().FullName} instead of {typeof(TDocumented).Name}: {e.Message} at {CaseLog.FirstFrame(e)}");
            return;
        }
        if (!paths.Any(p => e.Message.Contains(p, StringComparison.Ordinal)))
        {
            log.Finding(FindingKind.UnnamedArgument, $"{what}: {typeof(TDocumented).Name} does not name the file: {e.Message}");
            return;
        }
        log.Refused();
    }

    // ---------------------------------------------------------------- IDX

    private static byte[] IdxBytes(Random r, int[] dims)
    {
        long n = dims.Aggregate(1L, (a, v) => a * v);
        var b = new byte[4 + 4 * dims.Length + n];
        b[2] = 0x08; b[3] = (byte)dims.Length;
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4 + 4 * i), dims[i]);
        r.NextBytes(b.AsSpan(4 + 4 * dims.Length));
        return b;
    }

    private void IdxCase(Random r, CaseLog log, string dir)
    {
        bool pair = r.Next(2) == 0;   // images [N, H, W] with labels [N] through Idx.Load, else one file through Idx.Read
        int count = r.Next(1, 6);
        int[] dims = pair ? [count, r.Next(1, 6), r.Next(1, 6)] : Enumerable.Range(0, r.Next(1, 5)).Select(_ => r.Next(1, 6)).ToArray();
        var good = IdxBytes(r, dims);
        var labels = IdxBytes(r, [count]);
        for (int i = 8; i < labels.Length; i++) labels[i] %= 10;
        bool damageLabels = pair && r.Next(3) == 0, valid = r.Next(100) < 8;
        var target = damageLabels ? labels : good;
        int[] fields = Enumerable.Range(0, (target.Length >= 4 ? target[3] : 0) + 1).Select(i => i * 4).ToArray();   // magic/type/rank, then dims
        var (bad, what) = valid ? (target, "valid") : Damage(r, target, fields, bigEndian: true);
        int gz = r.Next(10);   // 0-3: gzip the damaged bytes, 4: damage the gzip itself, else plain
        if (gz == 4 && !valid) { (bad, what) = Damage(r, Gzip(target), [], false); what = "gzip " + what; }
        else if (gz < 4) { bad = Gzip(bad); what += ", gzipped"; }
        string img = Path.Combine(dir, "images.idx" + (gz <= 4 ? ".gz" : "")), lbl = Path.Combine(dir, "labels.idx" + (gz <= 4 ? ".gz" : ""));
        File.WriteAllBytes(damageLabels ? lbl : img, bad);
        if (pair) File.WriteAllBytes(damageLabels ? img : lbl, gz <= 4 ? Gzip(damageLabels ? good : labels) : damageLabels ? good : labels);
        log.Begin($"idx {(pair ? "Load images+labels" : "Read")} {Values.Format(dims)} {(damageLabels ? "labels" : "images")} {what}");
        long declared = good.Length;
        string[] classes = Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray();
        (int[] Dims, byte[] Data) got = ([], []);
        Dataset? ds = null;
        var e = Read(log, pair ? "Idx.Load" : "Idx.Read", bad.Length, declared, () =>
        {
            if (pair) ds = Idx.Load("fuzz", img, lbl, classes); else got = Idx.Read(img);
        });
        if (e is not null)
        {
            if (valid) log.Finding(FindingKind.RefusedValid, $"a valid IDX file was refused: {e.GetType().Name}: {e.Message}");
            else Refusal<DataFormatException>(log, e, "Idx", img, lbl);
            return;
        }
        if (pair)
        {
            if (ds!.Count * (long)ds.Channels * ds.Height * ds.Width != ds.Pixels.Length || ds.Labels.Length != ds.Count || ds.Labels.Any(l => l >= classes.Length))
                log.Finding(FindingKind.AcceptedInvalid, $"Idx.Load gave an inconsistent data set: {ds.Count} images {ds.Height}x{ds.Width}, {ds.Pixels.Length} pixel bytes, {ds.Labels.Length} labels");
            else if (valid && (!ds.Pixels.SequenceEqual(good[16..]) || !ds.Labels.SequenceEqual(labels[8..])))
                log.Finding(FindingKind.WrongResult, "Idx.Load of a valid pair differs from what was written");
        }
        else
        {
            long n = got.Dims.Aggregate(1L, (a, v) => a * v);
            if (got.Dims.Length is < 1 or > 4 || got.Dims.Any(v => v <= 0) || n != got.Data.Length)
                log.Finding(FindingKind.AcceptedInvalid, $"Idx.Read accepted dims {Values.Format(got.Dims)} with {got.Data.Length} data bytes");
            else if (valid && (!got.Dims.SequenceEqual(dims) || !got.Data.SequenceEqual(good[(4 + 4 * dims.Length)..])))
                log.Finding(FindingKind.WrongResult, "Idx.Read of a valid file differs from what was written");
        }
        log.ComparedOne();
    }

    // ---------------------------------------------------------------- CIFAR-10

    private void CifarCase(Random r, CaseLog log, string dir)
    {
        int files = r.Next(1, 3);
        var paths = new List<string>();
        var written = new List<byte[]>();
        for (int f = 0; f < files; f++)
        {
            int n = r.Next(1, 4);
            var b = new byte[n * Cifar10.RecordSize];
            r.NextBytes(b);
            for (int i = 0; i < n; i++) b[i * Cifar10.RecordSize] = (byte)r.Next(10);
            written.Add(b);
            paths.Add(Path.Combine(dir, $"data_batch_{f + 1}.bin"));
        }
        int victim = r.Next(files);
        bool valid = r.Next(100) < 8;
        var target = written[victim];
        var (bad, what) = valid ? (target, "valid") : r.Next(4) == 0
            ? SetLabel(r, target)
            : Damage(r, target, [], bigEndian: false);
        for (int f = 0; f < files; f++) File.WriteAllBytes(paths[f], f == victim ? bad : written[f]);
        log.Begin($"cifar10 {files} files, file {victim} {what}");
        Dataset? ds = null;
        var e = Read(log, "Cifar10.ReadBatches", written.Sum(w => w.Length) + bad.Length, 0, () => ds = Cifar10.ReadBatches("fuzz", paths));
        if (e is not null)
        {
            if (valid) log.Finding(FindingKind.RefusedValid, $"valid CIFAR-10 batches were refused: {e.GetType().Name}: {e.Message}");
            else Refusal<DataFormatException>(log, e, "Cifar10", [.. paths]);
            return;
        }
        long records = written.Select((w, f) => (long)(f == victim ? bad.Length : w.Length)).Sum() / Cifar10.RecordSize;
        if (ds!.Count != records || ds.Labels.Any(l => l > 9) || ds.Pixels.Length != records * Cifar10.ImageBytes)
            log.Finding(FindingKind.AcceptedInvalid, $"Cifar10.ReadBatches gave {ds.Count} images, {ds.Pixels.Length} pixel bytes for {records} records");
        log.ComparedOne();
    }

    private static (byte[], string) SetLabel(Random r, byte[] b)
    {
        var d = (byte[])b.Clone();
        int rec = r.Next(d.Length / Cifar10.RecordSize);
        d[rec * Cifar10.RecordSize] = (byte)r.Next(10, 256);
        return (d, $"record {rec} label {d[rec * Cifar10.RecordSize]}");
    }

    // ---------------------------------------------------------------- checkpoints

    private const int CheckpointHeader = 8 + 4 + 8 + 32;

    private void CheckpointCase(Random r, CaseLog log, string dir)
    {
        var settings = new RunSettings { Epochs = r.Next(1, 50), Batch = r.Next(1, 256), Seed = r.Next() }.ToDictionary();
        var tensors = new List<(string, int[], float[])>();
        for (int i = r.Next(0, 5); i > 0; i--)
        {
            var shape = Enumerable.Range(0, r.Next(1, 4)).Select(_ => r.Next(1, 5)).ToArray();
            tensors.Add(($"layer{tensors.Count}.w", shape, Values.Uniform(r, shape.Aggregate(1, (a, v) => a * v))));
        }
        var ck = new Checkpoint
        {
            Model = r.Next(2) == 0 ? "lenet" : "[conv3-8,relu],pool2,fc", InputShape = [1, r.Next(1, 30), r.Next(1, 30)],
            ClassNames = Enumerable.Range(0, r.Next(2, 5)).Select(i => $"class {i}").ToArray(),
            Normalization = new Normalization([(float)r.NextDouble()], [1f]), Settings = settings, Epoch = r.Next(0, 10), Step = r.Next(),
            BestValidationAccuracy = r.NextDouble(), BestEpoch = r.Next(0, 10),
            History = Enumerable.Range(1, r.Next(0, 3)).Select(e => new EpochMetrics(e, 0.1, 1, 0.5, 1, 0.5, 2, 100)).ToList(),
            Tensors = tensors,
        };
        string path = Path.Combine(dir, "fuzz.ckpt");
        ck.Save(path);
        var good = File.ReadAllBytes(path);
        int mode = r.Next(100);
        bool valid = mode < 6, rehash = mode >= 40;
        byte[] bad; string what;
        if (valid) (bad, what) = (good, "valid");
        else if (!rehash) (bad, what) = Damage(r, good, [8, 12, 16], bigEndian: false);
        else
        {
            // edit the payload, then frame it again: length and SHA-256 match, only the parser stands in the way
            var payload = good[CheckpointHeader..];
            var fields = Enumerable.Range(0, Math.Max(0, payload.Length - 3)).Where(i => r.Next(8) == 0).ToArray();
            (var edited, what) = r.Next(5) == 0 ? StringLength(r, payload) : Damage(r, payload, fields, bigEndian: false);
            bad = Frame(good, edited);
            what = "re-checksummed payload " + what;
        }
        File.WriteAllBytes(path, bad);
        log.Begin($"checkpoint {ck.Tensors.Count} tensors, {good.Length} bytes, {what}");
        Checkpoint? got = null;
        var e = Read(log, "Checkpoint.Load", bad.Length, good.Length, () => got = Checkpoint.Load(path));
        if (e is not null)
        {
            if (valid) log.Finding(FindingKind.RefusedValid, $"a valid checkpoint was refused: {e.GetType().Name}: {e.Message}");
            else Refusal<CheckpointException>(log, e, "Checkpoint.Load", path);
            return;
        }
        foreach (var (name, shape, data) in got!.Tensors)
            if (shape.Any(v => v <= 0) || shape.Aggregate(1L, (a, v) => a * v) != data.Length)
                log.Finding(FindingKind.AcceptedInvalid, $"Checkpoint.Load accepted tensor '{name}' of shape {Values.Format(shape)} with {data.Length} values");
        if (got.Tensors.Select(t => t.Name).Distinct().Count() != got.Tensors.Count)
            log.Finding(FindingKind.AcceptedInvalid, "Checkpoint.Load accepted a tensor name twice");
        if (valid && (got.Model != ck.Model || !got.Tensors.Select(t => t.Data).SelectMany(d => d).SequenceEqual(tensors.SelectMany(t => t.Item3))))
            log.Finding(FindingKind.WrongResult, "a valid checkpoint loaded with other contents");
        // what eval and --resume do next: the settings are parsed
        log.Step("RunSettings.FromDictionary"); log.Call();
        try { _ = RunSettings.FromDictionary(got.Settings); }
        catch (Exception s)
        {
            if (valid) log.Finding(FindingKind.RefusedValid, $"the settings of a valid checkpoint were refused: {s.Message}");
            else if (s is not CheckpointException) log.Finding(FindingKind.BadException, $"RunSettings.FromDictionary: {s.GetType().FullName}: {s.Message} at {CaseLog.FirstFrame(s)}");
            else log.Refused();
        }
        log.ComparedOne();
    }

    /// <summary>The header of <paramref name="framed"/> with its length and SHA-256 recomputed for <paramref name="payload"/>.</summary>
    private static byte[] Frame(byte[] framed, byte[] payload)
    {
        var head = framed[..CheckpointHeader];
        BinaryPrimitives.WriteInt64LittleEndian(head.AsSpan(12), payload.Length);
        SHA256.HashData(payload).CopyTo(head, 20);
        return [.. head, .. payload];
    }

    /// <summary>The first string's 7-bit length prefix replaced by a long or malformed one.</summary>
    private static (byte[], string) StringLength(Random r, byte[] payload)
    {
        byte[][] prefixes = [[0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80], [0x7F], [0xFF, 0x7F]];
        var p = prefixes[r.Next(prefixes.Length)];
        return ([.. p, .. payload[1..]], $"string length prefix {Convert.ToHexString(p)}");
    }

    // ---------------------------------------------------------------- image folders

    private static byte[] Image(Random r, string ext)
    {
        int w = r.Next(2, 12), h = r.Next(2, 12);
        using var bmp = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var px = bmp.GetPixelSpan();
        r.NextBytes(px);
        for (int i = 3; i < px.Length; i += 4) px[i] = 255;
        var format = ext switch { ".jpg" => SKEncodedImageFormat.Jpeg, ".webp" => SKEncodedImageFormat.Webp, _ => SKEncodedImageFormat.Png };
        using var data = bmp.Encode(format, 90);
        return data.ToArray();
    }

    private void FolderCase(Random r, CaseLog log, string dir)
    {
        string root = Path.Combine(dir, "images"), cache = Path.Combine(dir, "cache");
        var files = new List<string>();
        int classes = r.Next(2, 4);
        for (int c = 0; c < classes; c++)
        {
            string cd = Path.Combine(root, $"class{c}");
            Directory.CreateDirectory(cd);
            for (int i = r.Next(2, 4); i > 0; i--)
            {
                string ext = new[] { ".png", ".jpg", ".webp" }[r.Next(3)];
                string p = Path.Combine(cd, $"img{i}{ext}");
                File.WriteAllBytes(p, Image(r, ext));
                files.Add(p);
            }
        }
        var options = new ImageFolderOptions { CacheDir = cache, SkipBadImages = r.Next(2) == 0, ImageSize = r.Next(2) == 0 ? null : r.Next(1, 9) };
        bool damageCache = r.Next(2) == 0, rehash = false;
        ImageFolderData? first = null;
        string what;
        if (damageCache)
        {
            // decode once (writes the cache), damage the cache: the next load must give the same data sets
            first = ImageFolder.Load(root, options);
            string cacheFile = Directory.EnumerateFiles(cache, "*.fcimg").Single();
            var good = File.ReadAllBytes(cacheFile);
            rehash = r.Next(100) < 70;
            byte[] bad;
            if (rehash)
            {
                var payload = good[CheckpointHeader..];
                var fields = Enumerable.Range(0, Math.Max(0, payload.Length - 3)).Where(i => r.Next(6) == 0).ToArray();
                (var edited, what) = Damage(r, payload, fields, bigEndian: false);
                bad = Frame(good, edited);
                what = "cache re-checksummed " + what;
            }
            else { (bad, what) = Damage(r, good, [8, 12, 16], bigEndian: false); what = "cache " + what; }
            File.WriteAllBytes(cacheFile, bad);
        }
        else
        {
            string victim = files[r.Next(files.Count)];
            var (bad, w) = r.Next(8) == 0 ? ([], "emptied") : Damage(r, File.ReadAllBytes(victim), [], bigEndian: false);
            File.WriteAllBytes(victim, bad);
            what = $"{Path.GetFileName(victim)} {w}";
        }
        log.Begin($"imagefolder {classes} classes, {files.Count} images, skip bad {options.SkipBadImages}, size {options.ImageSize?.ToString() ?? "auto"}, {what}");
        ImageFolderData? got = null;
        var e = Read(log, "ImageFolder.Load", files.Sum(f => new FileInfo(f).Length), 0, () => got = ImageFolder.Load(root, options));
        if (e is not null)
        {
            // a cache whose checksum fails must be ignored; one re-checksummed is another writer's cache: it may say an image is bad
            if (damageCache && !rehash) log.Finding(FindingKind.RefusedValid, $"a damaged decode cache made a good folder fail: {e.GetType().Name}: {e.Message}");
            else Refusal<ImageFolderException>(log, e, "ImageFolder.Load", root);
            return;
        }
        foreach (var ds in new[] { got!.Train, got.Test })
            if (ds.Pixels.LongLength != (long)ds.Count * ds.Channels * ds.Height * ds.Width || ds.Labels.Any(l => l >= classes))
                log.Finding(FindingKind.AcceptedInvalid, $"ImageFolder.Load gave an inconsistent {ds.Name}");
        if (first is not null && !rehash && (!first.Train.Pixels.SequenceEqual(got.Train.Pixels) || !first.Test.Pixels.SequenceEqual(got.Test.Pixels)
                                  || first.ImageSize != got.ImageSize || first.Channels != got.Channels))
            log.Finding(FindingKind.WrongResult, $"a damaged decode cache changed the data set ({what})");
        log.ComparedOne();
    }

    // ---------------------------------------------------------------- ONNX

    private static readonly string[] OnnxSpecs = ["[conv3-4,relu],pool2,fc", "conv3-4,bn,relu,avgpool2,fc", "[conv3-4,relu],gap,fc", "fc-8,relu,fc"];
    private static readonly string[] OnnxOps = ["Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Gemm", "MatMul",
                                                 "Add", "Concat", "Flatten", "Reshape", "Dropout", "Softmax", "Identity", "Constant", "Sigmoid", ""];
    private static readonly long[] EdgeLongs = [0, -1, 1, 2, int.MaxValue, (long)int.MaxValue + 1, int.MinValue, long.MaxValue, long.MinValue, 1L << 40, 65536, 1 << 30];

    private void OnnxCase(Random r, CaseLog log, string dir)
    {
        var be = BackendRegistry.Get("reference");
        string path = Path.Combine(dir, "m.onnx");
        string spec;
        int[][] shapes; float[][] xs; float[] expected;
        if (r.Next(3) == 0)
        {
            // A graph export never writes (two inputs, broadcast Add, batched MatMul, Concat and Softmax along a random
            // axis, Reshape, Gemm); its valid form is compared between the reference and the managed backend.
            (spec, shapes) = OnnxGraph(r, path);
            xs = [.. shapes.Select(sh => Values.Uniform(r, sh.Aggregate(1L, (a, d) => a * d)))];
            using var onnx = OnnxModel.Load(path, BackendRegistry.Get("managed"));
            expected = RunOnnx(onnx, shapes, xs);
        }
        else
        {
            spec = OnnxSpecs[r.Next(OnnxSpecs.Length)];
            int[] input = [r.Next(1, 3), r.Next(6, 10), r.Next(6, 10)];
            shapes = [[2, .. input]];
            xs = [Values.Uniform(r, 2L * input[0] * input[1] * input[2])];
            using var model = ModelZoo.Create(spec, be, input, 3, seed: r.Next());
            model.ExportOnnx(path);
            using var t = be.Allocate(shapes[0]);
            t.CopyFrom(xs[0]);
            expected = model.Forward(t, training: false).ToArray();
        }
        var good = File.ReadAllBytes(path);
        int mode = r.Next(100);
        bool valid = mode < 6;
        byte[] bad; string what;
        if (valid) (bad, what) = (good, "valid");
        else if (mode < 45) (bad, what) = Damage(r, good, [], bigEndian: false);
        else
        {
            var m = ModelProto.Parser.ParseFrom(good);
            what = "proto " + EditProto(r, m);
            bad = m.ToByteArray();
        }
        File.WriteAllBytes(path, bad);
        log.Begin($"onnx {spec} inputs {string.Join(" ", shapes.Select(sh => Values.Format(sh)))}, {good.Length} bytes, {what}");
        float[]? got = null;
        bool ran = false;
        var e = Read(log, "OnnxModel.Load+Forward", bad.Length, good.Length, () =>
        {
            using var onnx = OnnxModel.Load(path, be);
            // each input at its declared shape, the original size where it is dynamic; a declared shape too large to
            // feed is not run
            var feed = new int[onnx.InputNames.Count][];
            var data = new float[feed.Length][];
            for (int k = 0; k < feed.Length; k++)
            {
                int[] original = k < shapes.Length ? shapes[k] : [2];
                int[] declared = onnx.InputShapes[k];
                feed[k] = declared.Length == 0 ? original : declared.Select((d, i) => d >= 0 ? d : i < original.Length ? original[i] : 2).ToArray();
                long count = feed[k].Aggregate(1L, (a, d) => a * d);
                if (feed[k].Any(d => d <= 0) || count > 1 << 16) return;
                data[k] = k < xs.Length && count == xs[k].Length ? xs[k] : Values.Uniform(r, count);
            }
            got = RunOnnx(onnx, feed, data);
            ran = true;
        });
        if (e is not null)
        {
            if (valid) { log.Finding(FindingKind.RefusedValid, $"a valid ONNX file was refused: {e.GetType().Name}: {e.Message}"); return; }
            if (e is not (OnnxModelException or ArgumentException or NotSupportedException or OutOfMemoryException))
                log.Finding(FindingKind.BadException, $"OnnxModel: {e.GetType().FullName}: {e.Message} at {CaseLog.FirstFrame(e)}");
            else if (e is not OutOfMemoryException && !e.Message.Contains(path, StringComparison.Ordinal) && !e.Message.Contains("OnnxModel", StringComparison.Ordinal))
                log.Finding(FindingKind.UnnamedArgument, $"OnnxModel: {e.GetType().Name} names neither the file nor the model: {e.Message}");
            else log.Refused();
            return;
        }
        if (valid)
        {
            if (!ran || got!.Length != expected.Length) { log.Finding(FindingKind.WrongResult, $"a valid ONNX file gave {got?.Length ?? 0} outputs for {expected.Length}"); return; }
            double diff = 0, norm = 0;
            for (int i = 0; i < got.Length; i++) { diff += (got[i] - expected[i]) * (double)(got[i] - expected[i]); norm += expected[i] * (double)expected[i]; }
            if (Math.Sqrt(diff) > 1e-4 * Math.Sqrt(norm) + 1e-30)
                log.Finding(FindingKind.WrongResult, $"a valid ONNX file gave outputs {Math.Sqrt(diff / Math.Max(norm, 1e-30)):E2} (relative L2) from the model's");
        }
        log.ComparedOne();
    }

    /// <summary>The graph's output on host inputs.</summary>
    private static float[] RunOnnx(OnnxModel onnx, int[][] shapes, float[][] xs)
    {
        var ts = new List<Tensor>();
        try
        {
            for (int k = 0; k < shapes.Length; k++) { ts.Add(onnx.Backend.Allocate(shapes[k])); ts[k].CopyFrom(xs[k]); }
            return onnx.Forward(ts).ToArray();
        }
        finally { foreach (var t in ts) t.Dispose(); }
    }

    /// <summary>Writes a graph of two inputs a [n, c, 1, w] and b [h, 1]: s = a + b ([n, c, h, w], both broadcast),
    /// p = s · m (m [c, w, q]: a MatMul batched over c, broadcast over n), Concat(p, s) along the last axis, Softmax
    /// along a random axis, Reshape to [n, -1] and Gemm to 3 outputs. Returns its description and the input shapes.</summary>
    private static (string, int[][]) OnnxGraph(Random r, string path)
    {
        int n = r.Next(1, 3), c = r.Next(1, 4), h = r.Next(1, 4), w = r.Next(1, 5), q = r.Next(1, 5), axis = r.Next(-4, 4);
        var g = new GraphProto { Name = "fuzz" };
        ValueInfoProto Info(string name, params int[] dims)
        {
            var shape = new TensorShapeProto();
            foreach (int d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
        }
        void Init(string name, int[] dims)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            foreach (int d in dims) t.Dims.Add(d);
            t.FloatData.Add(Values.Uniform(r, dims.Aggregate(1L, (x, d) => x * d)));
            g.Initializer.Add(t);
        }
        NodeProto Node(string op, string[] inputs, string output, long? axisValue = null)
        {
            var node = new NodeProto { OpType = op, Name = op.ToLowerInvariant() };
            node.Input.Add(inputs); node.Output.Add(output);
            if (axisValue is { } v) node.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = v });
            return node;
        }
        g.Input.Add(Info("a", n, c, 1, w)); g.Input.Add(Info("b", h, 1));
        g.Output.Add(Info("y", n, 3));
        Init("m", [c, w, q]); Init("fc", [c * h * (q + w), 3]); Init("fb", [3]);
        var shape = new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(2); shape.Int64Data.Add([n, -1]);
        g.Initializer.Add(shape);
        g.Node.Add(Node("Add", ["a", "b"], "s"));
        g.Node.Add(Node("MatMul", ["s", "m"], "p"));
        g.Node.Add(Node("Concat", ["p", "s"], "cat", -1));
        g.Node.Add(Node("Softmax", ["cat"], "soft", axis));
        g.Node.Add(Node("Reshape", ["soft", "shape"], "flat"));
        g.Node.Add(Node("Gemm", ["flat", "fc", "fb"], "y"));
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "FastConv.Fuzz" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        File.WriteAllBytes(path, m.ToByteArray());
        return ($"graph(add,matmul,concat,softmax axis {axis},reshape,gemm)", [[n, c, 1, w], [h, 1]]);
    }

    /// <summary>One edit that keeps the protobuf parseable: initialiser dims, data, type or location; a node's op,
    /// attributes, inputs or outputs; the node order; the input's declared shape.</summary>
    private static string EditProto(Random r, ModelProto m)
    {
        var g = m.Graph;
        long Edge(long old) => r.Next(3) switch { 0 => EdgeLongs[r.Next(EdgeLongs.Length)], 1 => old + r.Next(-2, 3), _ => old * r.Next(2, 5) };
        TensorProto? Init() => g.Initializer.Count == 0 ? null : g.Initializer[r.Next(g.Initializer.Count)];
        NodeProto N() => g.Node[r.Next(g.Node.Count)];
        switch (r.Next(12))
        {
            case 0 when Init() is { Dims.Count: > 0 } t:
            {
                int i = r.Next(t.Dims.Count); long old = t.Dims[i]; t.Dims[i] = Edge(old);
                return $"initializer '{t.Name}' dim {i} {old} -> {t.Dims[i]}";
            }
            case 1 when Init() is { } t:
                g.Initializer.Remove(t);
                return $"initializer '{t.Name}' removed";
            case 2:
            {
                var n = N(); string old = n.OpType; n.OpType = OnnxOps[r.Next(OnnxOps.Length)];
                return $"node '{n.Name}' op {old} -> {n.OpType}";
            }
            case 3:
            case 4:
            {
                var n = N();
                string[] names = ["kernel_shape", "strides", "pads", "dilations", "group", "axis", "transA", "transB", "epsilon", "alpha", "count_include_pad"];
                string name = names[r.Next(names.Length)];
                var a = n.Attribute.FirstOrDefault(a => a.Name == name);
                if (a is null) { a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints }; n.Attribute.Add(a); }
                if (r.Next(2) == 0 || name is "group" or "axis" or "transA" or "transB" or "count_include_pad") { a.Type = AttributeProto.Types.AttributeType.Int; a.I = Edge(a.I); a.Ints.Clear(); }
                else
                {
                    if (a.Ints.Count == 0) for (int i = r.Next(1, 5); i > 0; i--) a.Ints.Add(1);
                    int i2 = r.Next(a.Ints.Count); a.Ints[i2] = Edge(a.Ints[i2]);
                    if (r.Next(4) == 0) a.Ints.Add(Edge(1));
                }
                if (name is "epsilon" or "alpha") { a.Type = AttributeProto.Types.AttributeType.Float; a.F = new[] { float.NaN, -1f, 0f, float.PositiveInfinity, 1e30f }[r.Next(5)]; }
                return $"node '{n.Name}' ({n.OpType}) {name} = {(a.Type == AttributeProto.Types.AttributeType.Ints ? "[" + string.Join(",", a.Ints) + "]" : a.Type == AttributeProto.Types.AttributeType.Float ? a.F.ToString() : a.I.ToString())}";
            }
            case 5 when g.Node.Count > 1:
            {
                var a = N(); var b = N(); a.Output[0] = b.Output[0];
                return $"node '{a.Name}' writes '{b.Output[0]}' too";
            }
            case 6 when g.Node.Count > 1:
            {
                int i = r.Next(g.Node.Count), j = r.Next(g.Node.Count);
                (g.Node[i], g.Node[j]) = (g.Node[j], g.Node[i]);
                return $"nodes {i} and {j} swapped";
            }
            case 7 when Init() is { } t:
            {
                int cut = r.Next(1, 4);
                if (t.RawData.Length > 0) { var raw = t.RawData.ToByteArray(); t.RawData = ByteString.CopyFrom(r.Next(2) == 0 ? raw[..^Math.Min(cut, raw.Length)] : [.. raw, .. new byte[cut]]); }
                else if (r.Next(2) == 0 && t.FloatData.Count > 0) t.FloatData.RemoveAt(t.FloatData.Count - 1);
                else t.FloatData.Add(1f);
                return $"initializer '{t.Name}' data length changed ({cut})";
            }
            case 8 when Init() is { } t:
                t.DataType = r.Next(0, 18);
                return $"initializer '{t.Name}' data type {t.DataType}";
            case 9 when Init() is { } t:
                t.DataLocation = TensorProto.Types.DataLocation.External;
                t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
                return $"initializer '{t.Name}' external";
            case 10:
            {
                var n = N();
                if (r.Next(2) == 0 && n.Input.Count > 0) { n.Input.RemoveAt(r.Next(n.Input.Count)); return $"node '{n.Name}' lost an input"; }
                n.Input.Add(r.Next(2) == 0 ? "" : n.Input.Count > 0 ? n.Input[0] : "nothing");
                return $"node '{n.Name}' got an input";
            }
            default:
            {
                var dims = g.Input[0].Type.TensorType.Shape.Dim;
                int i = r.Next(dims.Count); long old = dims[i].DimValue; dims[i].DimValue = Edge(old);
                return $"input dim {i} -> {dims[i].DimValue}";
            }
        }
    }
}
