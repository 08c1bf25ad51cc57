using System.Diagnostics;
using System.Numerics.Tensors;
using System.Security.Cryptography;

namespace FastConv.Nn.Distributed;

/// <summary>
/// Data parallelism (PyTorch DDP's recipe) for one model replica per rank: rank 0's weights are broadcast at the start,
/// and after every backward pass the gradients are packed into buckets in reverse layer order — the order backward
/// produces them — and allreduced, then divided by the number of ranks, so every rank steps its optimizer on the same
/// gradient (the mean over the global batch) and the replicas stay identical. Batch-norm statistics stay per rank.
/// </summary>
public sealed class DataParallel
{
    /// <summary>PyTorch DDP's default bucket size.</summary>
    public const int DefaultBucketBytes = 25 << 20;

    private readonly Parameter[] _reversed;
    private readonly (int First, int Count, long Floats)[] _buckets;
    private readonly float[] _buffer;
    private readonly float _scale;

    /// <param name="communicator">The ranks of the job.</param>
    /// <param name="model">This rank's replica.</param>
    /// <param name="bucketBytes">Gradients per allreduce, at most (a larger gradient gets a bucket of its own).</param>
    /// <param name="extras">Floats appended to the last bucket for each reduction (the step's loss and correct count).</param>
    public DataParallel(ICommunicator communicator, Sequential model, int bucketBytes = DefaultBucketBytes, int extras = 2)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        if (bucketBytes < sizeof(float)) throw new ArgumentOutOfRangeException(nameof(bucketBytes), bucketBytes, "DataParallel: a bucket must hold at least one float.");
        if (extras < 0) throw new ArgumentOutOfRangeException(nameof(extras), extras, "DataParallel: extras must be at least 0.");
        Communicator = communicator; Model = model; Extras = extras;
        _reversed = model.Parameters.Reverse().ToArray();
        // Greedy in backward order: a bucket closes when the next gradient would overflow it (a gradient larger than a
        // bucket gets one of its own; gradients are never split).
        var buckets = new List<(int, int, long)>();
        int first = 0; long floats = 0, cap = bucketBytes / sizeof(float), largest = extras;
        for (int i = 0; i < _reversed.Length; i++)
        {
            long n = _reversed[i].Grad.Length;
            if (i > first && floats + n > cap) { buckets.Add((first, i - first, floats)); largest = Math.Max(largest, floats); first = i; floats = 0; }
            floats += n;
        }
        buckets.Add((first, _reversed.Length - first, floats + extras));
        largest = Math.Max(largest, floats + extras);
        _buckets = [.. buckets];
        if (largest > Array.MaxLength) throw new ArgumentException($"DataParallel: a bucket of {largest} floats is larger than an array can be; use smaller buckets.");
        _buffer = new float[largest];
        _scale = 1f / communicator.Size;
    }

    public ICommunicator Communicator { get; }
    public Sequential Model { get; }
    public int Rank => Communicator.Rank;
    public int Size => Communicator.Size;
    public int Extras { get; }
    /// <summary>The buckets, last layer first: how many gradients and floats each holds (the last one with the extras).</summary>
    public IReadOnlyList<(int Gradients, long Floats)> Buckets => _buckets.Select(b => (b.Count, b.Floats)).ToList();
    /// <summary>Floats allreduced per step (every gradient plus the extras).</summary>
    public long FloatsPerStep => _buckets.Sum(b => b.Floats);
    /// <summary>Reductions done, and the seconds spent in them: in the allreduce calls alone, and in all (packing too).</summary>
    public long Reductions { get; private set; }
    public double AllreduceSeconds { get; private set; }
    public double ReduceSeconds { get; private set; }

    /// <summary>
    /// Sums every gradient over the ranks and divides by their number, in place; <paramref name="extras"/> (as many as
    /// the constructor's <c>extras</c>) travel in the last bucket and come back summed, not divided.
    /// </summary>
    public void ReduceGradients(Span<float> extras)
    {
        if (extras.Length != Extras) throw new ArgumentException($"DataParallel: {extras.Length} extras, the buckets were made for {Extras}.", nameof(extras));
        long t0 = Stopwatch.GetTimestamp(), inAllreduce = 0;
        for (int k = 0; k < _buckets.Length; k++)
        {
            var (first, count, floats) = _buckets[k];
            var bucket = _buffer.AsSpan(0, (int)floats);
            int at = 0;
            for (int i = first; i < first + count; i++)
            {
                var g = _reversed[i].Grad;
                g.CopyTo(bucket.Slice(at, (int)g.Length));
                at += (int)g.Length;
            }
            if (k == _buckets.Length - 1) extras.CopyTo(bucket[at..]);
            long c0 = Stopwatch.GetTimestamp();
            Communicator.AllreduceSum(bucket);
            inAllreduce += Stopwatch.GetTimestamp() - c0;
            TensorPrimitives.Multiply(bucket[..at], _scale, bucket[..at]);
            at = 0;
            for (int i = first; i < first + count; i++)
            {
                var g = _reversed[i].Grad;
                g.CopyFrom(bucket.Slice(at, (int)g.Length));
                at += (int)g.Length;
            }
            if (k == _buckets.Length - 1) bucket.Slice(at, extras.Length).CopyTo(extras);
        }
        Reductions++;
        AllreduceSeconds += (double)inAllreduce / Stopwatch.Frequency;
        ReduceSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    /// <summary>Copies rank <paramref name="root"/>'s values of <paramref name="tensors"/> to every rank (the initial
    /// weights, and on --resume the optimizer state too), in buckets of this instance's size.</summary>
    public void Broadcast(IEnumerable<Tensor> tensors, int root = 0)
    {
        foreach (var t in tensors)
        {
            // One tensor at a time through the bucket buffer, in pieces when it is larger.
            for (long at = 0; at < t.Length;)
            {
                int n = (int)Math.Min(_buffer.Length, t.Length - at);
                var b = _buffer.AsSpan(0, n);
                t.Storage.Read(at, b);
                Communicator.Broadcast(b, root);
                t.Storage.Write(b, at);
                at += n;
            }
        }
    }

    /// <summary>SHA-256 of the tensors' bytes, in order: equal on every rank when the replicas are identical.</summary>
    public static string Hash(IEnumerable<Tensor> tensors)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var t in tensors)
        {
            var a = t.ToArray();
            sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// Whether every rank holds the same <paramref name="tensors"/> (their SHA-256, compared with rank 0's); returns
    /// this rank's hash and the number of ranks whose hash differs from rank 0's.
    /// </summary>
    public (string Hash, int Differing) CompareAcrossRanks(IEnumerable<Tensor> tensors)
    {
        string hash = Hash(tensors);
        var bytes = Convert.FromHexString(hash);
        // 32 bytes as 16 floats of 16 bits each: exact in float, so the broadcast copies them bit for bit.
        var mine = new float[16];
        for (int i = 0; i < 16; i++) mine[i] = bytes[2 * i] << 8 | bytes[2 * i + 1];
        var root = (float[])mine.Clone();
        Communicator.Broadcast(root, 0);
        var differs = new[] { mine.AsSpan().SequenceEqual(root) ? 0f : 1f };
        Communicator.AllreduceSum(differs);
        return (hash, (int)differs[0]);
    }
}
