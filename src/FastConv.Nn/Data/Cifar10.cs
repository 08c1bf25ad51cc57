namespace FastConv.Nn.Data;

/// <summary>
/// CIFAR-10 binary version: files of 3073-byte records, a label byte then 3072 pixel bytes
/// (1024 red, 1024 green, 1024 blue, row-major 32×32). data_batch_1.bin … data_batch_5.bin, test_batch.bin.
/// </summary>
public static class Cifar10
{
    public const int RecordSize = 1 + ImageBytes;
    public const int ImageBytes = 3 * 32 * 32;

    public static readonly string[] ClassNames =
        ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>Reads the records of several batch files into one data set.</summary>
    public static Dataset ReadBatches(string name, IReadOnlyList<string> paths)
    {
        var pixels = new List<byte[]>();
        var labels = new List<byte>();
        foreach (var path in paths)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"CIFAR-10 batch file not found: {path}", path);
            byte[] raw = File.ReadAllBytes(path);
            if (raw.Length == 0) throw new DataFormatException(path, 0, "file is empty");
            if (raw.Length % RecordSize != 0)
                throw new DataFormatException(path, raw.Length - raw.Length % RecordSize,
                    $"{raw.Length} bytes is not a whole number of {RecordSize}-byte records: the last record is cut after {raw.Length % RecordSize} bytes");
            int n = raw.Length / RecordSize;
            var px = new byte[n * ImageBytes];
            for (int i = 0; i < n; i++)
            {
                byte label = raw[i * RecordSize];
                if (label > 9) throw new DataFormatException(path, (long)i * RecordSize, $"record {i} has label {label}, not a class 0–9");
                labels.Add(label);
                raw.AsSpan(i * RecordSize + 1, ImageBytes).CopyTo(px.AsSpan(i * ImageBytes));
            }
            pixels.Add(px);
        }
        return new Dataset(name, pixels.SelectMany(p => p).ToArray(), labels.ToArray(), 3, 32, 32, ClassNames);
    }

    /// <summary>The five training batches and the test batch from a directory (cifar-10-batches-bin).</summary>
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"CIFAR-10 directory not found: {directory}");
        var train = Enumerable.Range(1, 5).Select(i => Path.Combine(directory, $"data_batch_{i}.bin")).ToList();
        return (ReadBatches("cifar10-train", train), ReadBatches("cifar10-test", [Path.Combine(directory, "test_batch.bin")]));
    }
}
