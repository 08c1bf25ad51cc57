using System.Security.Cryptography;
using System.Text;
using FastConv.Nn.Data;

namespace FastConv.Nn;

/// <summary>One epoch's numbers, as kept in metrics.csv and in checkpoints.</summary>
public sealed record EpochMetrics(int Epoch, double LearningRate, double TrainLoss, double TrainAccuracy,
                                  double ValidationLoss, double ValidationAccuracy, double Seconds, double ImagesPerSecond);

/// <summary>Thrown when a checkpoint file is corrupt, truncated, of another version, or made for another model.</summary>
public sealed class CheckpointException(string message) : Exception(message);

/// <summary>
/// Everything needed to evaluate a model or continue its training run: the model preset and input shape, the
/// normalisation, run settings, progress and history, and every tensor (parameters, batch-norm statistics,
/// optimizer state) by name.
/// <para>File format (little-endian): "FCCKPT\r\n" · u32 format version · u64 payload length · SHA-256 of the
/// payload · payload. Written to a temporary file in the same directory (<see cref="RunFiles.Atomic"/>), flushed, then
/// renamed over the target, so the previous file survives a crash. Reading checks magic, version, length and checksum and
/// parses everything before anything is applied to a model.</para>
/// </summary>
public sealed class Checkpoint
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "FCCKPT\r\n"u8.ToArray();
    private const int HeaderSize = 8 + 4 + 8 + 32;

    public required string Model { get; init; }
    public required int[] InputShape { get; init; }
    public required string[] ClassNames { get; init; }
    public required Normalization Normalization { get; init; }
    /// <summary>Run settings (optimizer, lr, batch, seed, …) as text, so a resumed run continues with the same ones.</summary>
    public Dictionary<string, string> Settings { get; init; } = [];
    /// <summary>Epochs completed.</summary>
    public int Epoch { get; init; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; init; }
    public double BestValidationAccuracy { get; init; }
    public int BestEpoch { get; init; }
    public List<EpochMetrics> History { get; init; } = [];
    public List<(string Name, int[] Shape, float[] Data)> Tensors { get; init; } = [];

    /// <summary>Names of tensors a model (and optionally its optimizer) holds, in checkpoint order.</summary>
    public static IEnumerable<(string Name, Tensor Value)> TensorsOf(Sequential model, Optimizer? optimizer)
    {
        foreach (var l in model.Layers)
        {
            foreach (var p in l.Parameters) yield return (p.Name, p.Value);
            foreach (var (n, t) in l.Buffers) yield return ($"{l.Name}.{n}", t);
        }
        if (optimizer is not null)
            foreach (var s in optimizer.State) yield return ($"optim.{s.Name}", s.Value);
    }

    public static List<(string, int[], float[])> Capture(Sequential model, Optimizer? optimizer) =>
        TensorsOf(model, optimizer).Select(t => (t.Name, t.Value.Shape.ToArray(), t.Value.ToArray())).ToList();

    /// <summary>Copies the saved tensors into <paramref name="model"/> (and the optimizer's state when given).
    /// Every name and shape is checked first; on any mismatch nothing is changed.</summary>
    public void Restore(Sequential model, Optimizer? optimizer)
    {
        if (!model.InputShape.SequenceEqual(InputShape))
            throw new CheckpointException($"Checkpoint is for input [{string.Join(", ", InputShape)}], the model takes [{string.Join(", ", model.InputShape)}].");
        var saved = Tensors.ToDictionary(t => t.Name);
        var targets = TensorsOf(model, optimizer).ToList();
        foreach (var (name, value) in targets)
        {
            if (!saved.TryGetValue(name, out var s))
                throw new CheckpointException($"Checkpoint has no tensor '{name}' (model '{Model}' saved {Tensors.Count} tensors): it was made for another model or optimizer.");
            if (!s.Shape.SequenceEqual(value.Shape.ToArray()))
                throw new CheckpointException($"Checkpoint tensor '{name}' has shape {ShapeMath.Format(s.Shape)}, the model's is {ShapeMath.Format(value.Shape)}.");
        }
        foreach (var (name, value) in targets) value.CopyFrom(saved[name].Data);
    }

    /// <summary>The checkpoint's model built on <paramref name="backend"/> with the saved weights (for inference).</summary>
    public Sequential CreateModel(IBackend backend)
    {
        var model = ModelZoo.Create(Model, backend, InputShape, ClassNames.Length, seed: 0, initialize: false);
        try { Restore(model, null); }
        catch { model.Dispose(); throw; }
        return model;
    }

    public void Save(string path)
    {
        var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Model);
            WriteInts(w, InputShape);
            w.Write(ClassNames.Length); foreach (var c in ClassNames) w.Write(c);
            WriteFloats(w, Normalization.Mean); WriteFloats(w, Normalization.Std);
            w.Write(Settings.Count); foreach (var (k, v) in Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { w.Write(k); w.Write(v); }
            w.Write(Epoch); w.Write(Step); w.Write(BestValidationAccuracy); w.Write(BestEpoch);
            w.Write(History.Count);
            foreach (var m in History)
            {
                w.Write(m.Epoch); w.Write(m.LearningRate); w.Write(m.TrainLoss); w.Write(m.TrainAccuracy);
                w.Write(m.ValidationLoss); w.Write(m.ValidationAccuracy); w.Write(m.Seconds); w.Write(m.ImagesPerSecond);
            }
            w.Write(Tensors.Count);
            foreach (var (name, shape, data) in Tensors) { w.Write(name); WriteInts(w, shape); WriteFloats(w, data); }
        }
        byte[] body = payload.ToArray();
        RunFiles.Atomic(path, tmp =>
        {
            using var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
            WriteFramed(f, Magic, FormatVersion, body);
            f.Flush(flushToDisk: true);
        });
    }

    /// <summary>The framing of checkpoints (and of the image decode cache): magic · u32 version · u64 payload length ·
    /// SHA-256 of the payload · payload.</summary>
    internal static void WriteFramed(Stream f, ReadOnlySpan<byte> magic, int version, ReadOnlySpan<byte> body)
    {
        f.Write(magic);
        Span<byte> head = stackalloc byte[12];
        BitConverter.TryWriteBytes(head, version);
        BitConverter.TryWriteBytes(head[4..], (long)body.Length);
        f.Write(head);
        f.Write(SHA256.HashData(body));
        f.Write(body);
    }

    public static Checkpoint Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Checkpoint not found: {path}", path);
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < HeaderSize || !raw.AsSpan(0, 8).SequenceEqual(Magic))
            throw new CheckpointException(raw.Length >= 8 && !raw.AsSpan(0, 8).SequenceEqual(Magic)
                ? $"{path} is not a FastConv checkpoint (its first bytes are not \"FCCKPT\")."
                : $"{path} is truncated: {raw.Length} bytes, shorter than the {HeaderSize}-byte header.");
        int version = BitConverter.ToInt32(raw, 8);
        if (version != FormatVersion)
            throw new CheckpointException($"{path} has checkpoint format version {version}; this FastConv reads version {FormatVersion}.");
        long length = BitConverter.ToInt64(raw, 12);
        if (length != raw.Length - HeaderSize)
            throw new CheckpointException($"{path} is truncated or has trailing bytes: the header says {length} payload bytes, the file holds {raw.Length - HeaderSize}.");
        var body = raw.AsSpan(HeaderSize);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(raw.AsSpan(20, 32)))
            throw new CheckpointException($"{path} is corrupt: the SHA-256 of its contents does not match the one stored in its header.");
        try
        {
            using var r = new BinaryReader(new MemoryStream(raw, HeaderSize, raw.Length - HeaderSize), Encoding.UTF8);
            string model = r.ReadString();
            int[] input = ReadInts(r);
            var classes = new string[Count(r, 1 << 16)]; for (int i = 0; i < classes.Length; i++) classes[i] = r.ReadString();
            var norm = new Normalization(ReadFloats(r), ReadFloats(r));
            var settings = new Dictionary<string, string>();
            for (int i = Count(r, 1 << 16); i > 0; i--)
            {
                string key = r.ReadString();
                if (!settings.TryAdd(key, r.ReadString())) throw new CheckpointException($"{path}: the setting '{key}' is stored twice.");
            }
            int epoch = r.ReadInt32(); long step = r.ReadInt64(); double best = r.ReadDouble(); int bestEpoch = r.ReadInt32();
            var history = new List<EpochMetrics>();
            for (int i = Count(r, 1 << 20); i > 0; i--)
                history.Add(new EpochMetrics(r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble()));
            var tensors = new List<(string, int[], float[])>();
            var names = new HashSet<string>();
            for (int i = Count(r, 1 << 20); i > 0; i--)
            {
                string name = r.ReadString(); int[] shape = ReadInts(r); float[] data = ReadFloats(r);
                if (ShapeMath.ElementCount(shape, name) != data.Length)
                    throw new CheckpointException($"{path}: tensor '{name}' has shape {ShapeMath.Format(shape)} but {data.Length} values.");
                if (!names.Add(name)) throw new CheckpointException($"{path}: the tensor '{name}' is stored twice.");
                tensors.Add((name, shape, data));
            }
            if (r.BaseStream.Position != r.BaseStream.Length)
                throw new CheckpointException($"{path}: {r.BaseStream.Length - r.BaseStream.Position} unread bytes after the last tensor.");
            return new Checkpoint
            {
                Model = model, InputShape = input, ClassNames = classes, Normalization = norm, Settings = settings,
                Epoch = epoch, Step = step, BestValidationAccuracy = best, BestEpoch = bestEpoch, History = history, Tensors = tensors,
            };
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or InvalidDataException or ArgumentException or OverflowException
                                       or FormatException)  // FormatException: a string length in more than 5 varint bytes
        {
            throw new CheckpointException($"{path} could not be parsed although its checksum matches (written by another program?): {e.Message}");
        }
    }

    private static int Count(BinaryReader r, int max)
    {
        int n = r.ReadInt32();
        if (n < 0 || n > max) throw new InvalidDataException($"a count of {n} is out of range (0 to {max}).");
        return n;
    }

    private static void WriteInts(BinaryWriter w, int[] a) { w.Write(a.Length); foreach (int v in a) w.Write(v); }
    private static int[] ReadInts(BinaryReader r) { var a = new int[Count(r, 16)]; for (int i = 0; i < a.Length; i++) a[i] = r.ReadInt32(); return a; }

    private static void WriteFloats(BinaryWriter w, float[] a)
    {
        w.Write(a.Length);
        w.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
    }

    private static float[] ReadFloats(BinaryReader r)
    {
        int n = Count(r, int.MaxValue / 4);
        // a count beyond what the file still holds is refused before anything is allocated for it
        long left = r.BaseStream.Length - r.BaseStream.Position;
        if (4L * n > left) throw new EndOfStreamException($"an array of {n} floats needs {4L * n} bytes, {left} are left.");
        byte[] bytes = r.ReadBytes(n * 4);
        if (bytes.Length != n * 4) throw new EndOfStreamException($"array of {n} floats is cut short.");
        var a = new float[n];
        Buffer.BlockCopy(bytes, 0, a, 0, bytes.Length);
        return a;
    }
}
