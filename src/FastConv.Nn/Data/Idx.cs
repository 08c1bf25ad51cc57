using System.Buffers.Binary;
using System.IO.Compression;

namespace FastConv.Nn.Data;

/// <summary>Thrown when a data file does not hold what its format says; names the file and the byte offset.</summary>
public sealed class DataFormatException(string path, long offset, string problem)
    : Exception($"{path}: {problem} (at byte {offset})")
{
    public string Path { get; } = path;
    public long Offset { get; } = offset;
}

/// <summary>
/// LeCun's IDX format (MNIST, Fashion-MNIST): magic 0x0000 · type 0x08 (unsigned byte) · rank, then rank
/// big-endian int32 sizes, then the data. Gzipped files (magic 1f 8b) are read the same way.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file whole, returning its dimensions and bytes. A gzipped file is inflated only as far as
    /// its header says (an array holds at most <see cref="Array.MaxLength"/> bytes), so a gzip bomb is refused.</summary>
    public static (int[] Dims, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file not found: {path}", path);
        using (var probe = File.OpenRead(path))
            if (!(probe.ReadByte() == 0x1f && probe.ReadByte() == 0x8b)) return Parse(path, File.ReadAllBytes(path));
        try
        {
            using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            var head = new byte[4 + 4 * 4];
            int got = ReadUpTo(gz, head.AsSpan(0, 4));
            if (got == 4 && head[3] is >= 1 and <= 4) got += ReadUpTo(gz, head.AsSpan(4, 4 * head[3]));
            var (dims, header, expected) = Header(path, head.AsSpan(0, got));
            // the data grows with what the gzip really inflates to: a 40-byte file whose header claims 2 GB costs nothing
            // until the bytes arrive (an array of the header's size up front was 1.2 GB for a damaged 41-byte file)
            long want = expected - header;
            var body = new MemoryStream();
            var chunk = new byte[81920];
            for (int n; body.Length < want && (n = gz.Read(chunk, 0, (int)Math.Min(chunk.Length, want - body.Length))) > 0;) body.Write(chunk, 0, n);
            if (body.Length < want)
                throw new DataFormatException(path, header + body.Length, $"truncated: dimensions [{string.Join(", ", dims)}] need {expected} bytes, the gzip inflates to {header + body.Length}");
            if (gz.ReadByte() >= 0)
                throw new DataFormatException(path, expected, $"trailing bytes: dimensions [{string.Join(", ", dims)}] need {expected} bytes, the gzip inflates to more");
            return (dims, body.Length == body.Capacity ? body.GetBuffer() : body.ToArray());
        }
        catch (InvalidDataException e) { throw new DataFormatException(path, 0, $"gzip stream is corrupt or truncated: {e.Message}"); }
    }

    private static int ReadUpTo(Stream s, Span<byte> into)
    {
        int total = 0;
        for (int n; total < into.Length && (n = s.Read(into[total..])) > 0;) total += n;
        return total;
    }

    /// <summary>The header's dimensions, its length and the file length they imply, or the first problem with them.</summary>
    private static (int[] Dims, int Header, long Expected) Header(string path, ReadOnlySpan<byte> raw)
    {
        if (raw.Length < 4) throw new DataFormatException(path, raw.Length, $"file ends after {raw.Length} bytes, before the 4-byte IDX magic");
        if (raw[0] != 0 || raw[1] != 0)
            throw new DataFormatException(path, 0, $"not an IDX file: magic starts {raw[0]:x2} {raw[1]:x2}, expected 00 00");
        if (raw[2] != 0x08)
            throw new DataFormatException(path, 2, $"IDX element type 0x{raw[2]:x2} is not unsigned byte (0x08)");
        int rank = raw[3];
        if (rank is < 1 or > 4) throw new DataFormatException(path, 3, $"IDX rank {rank} is not between 1 and 4");
        int header = 4 + 4 * rank;
        if (raw.Length < header) throw new DataFormatException(path, raw.Length, $"file ends inside the {rank} dimension sizes");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(raw[(4 + 4 * i)..]);
            if (dims[i] <= 0) throw new DataFormatException(path, 4 + 4 * i, $"dimension {i} has size {dims[i]}");
            // at most 2^31 - 1 each and 4 of them: checked against the array limit at every step, no product wraps
            count *= dims[i];
            if (count > Array.MaxLength - header)
                throw new DataFormatException(path, 4 + 4 * i,
                    $"dimensions [{string.Join(", ", dims[..(i + 1)])}...] describe more than {Array.MaxLength - header:N0} bytes of data, more than one array holds");
        }
        return (dims, header, header + count);
    }

    internal static (int[] Dims, byte[] Data) Parse(string path, byte[] raw)
    {
        var (dims, header, expected) = Header(path, raw);
        if (raw.Length != expected)
            throw new DataFormatException(path, Math.Min(raw.Length, expected),
                $"{(raw.Length < expected ? "truncated" : "trailing bytes")}: dimensions [{string.Join(", ", dims)}] need {expected} bytes, the file has {raw.Length}");
        return (dims, raw[header..]);
    }

    /// <summary>An image file [N, H, W] with its label file [N], as a one-channel data set.</summary>
    public static Dataset Load(string name, string imagesPath, string labelsPath, IReadOnlyList<string> classNames)
    {
        var (idims, pixels) = Read(imagesPath);
        if (idims.Length != 3) throw new DataFormatException(imagesPath, 3, $"an image file has rank 3 [N, H, W], this one rank {idims.Length}");
        var (ldims, labels) = Read(labelsPath);
        if (ldims.Length != 1) throw new DataFormatException(labelsPath, 3, $"a label file has rank 1 [N], this one rank {ldims.Length}");
        if (ldims[0] != idims[0])
            throw new DataFormatException(labelsPath, 4, $"{ldims[0]} labels for {idims[0]} images in {imagesPath}");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] >= classNames.Count)
                throw new DataFormatException(labelsPath, 8 + i, $"label {labels[i]} is not one of the {classNames.Count} classes");
        return new Dataset(name, pixels, labels, 1, idims[1], idims[2], classNames);
    }
}

/// <summary>Fashion-MNIST (Zalando, MIT licence): 60,000 training and 10,000 test images, 28×28 grey, 10 classes.</summary>
public static class FashionMnist
{
    public static readonly string[] ClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads train and test from a directory with the four IDX files (gzipped or not).</summary>
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"Fashion-MNIST directory not found: {directory}");
        return (Idx.Load("fashion-mnist-train", Find(directory, "train-images-idx3-ubyte"), Find(directory, "train-labels-idx1-ubyte"), ClassNames),
                Idx.Load("fashion-mnist-test", Find(directory, "t10k-images-idx3-ubyte"), Find(directory, "t10k-labels-idx1-ubyte"), ClassNames));
    }

    private static string Find(string dir, string stem)
    {
        foreach (var p in new[] { Path.Combine(dir, stem + ".gz"), Path.Combine(dir, stem) })
            if (File.Exists(p)) return p;
        throw new FileNotFoundException($"Fashion-MNIST: {dir} has neither {stem}.gz nor {stem}.");
    }

    /// <summary>data/fashion-mnist of the repository, found from the working directory or the program's directory upwards.</summary>
    public static string? FindShipped()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "data", "fashion-mnist");
                if (File.Exists(Path.Combine(p, "train-images-idx3-ubyte.gz"))) return p;
            }
        return null;
    }
}
