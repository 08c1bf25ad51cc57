namespace FastConv;

/// <summary>
/// The one thread pool FastConv uses (the .NET pool, bounded). Sized by FASTCONV_THREADS, default all cores.
/// Work is split into at most <see cref="Threads"/> chunks, each chunk owning a worker index for its scratch buffers.
/// </summary>
public static class Parallelism
{
    private static int _threads = FromEnvironment();

    public static int Threads
    {
        get => _threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, $"Threads must be >= 1, got {value}.");
            _threads = value;
        }
    }

    private static int FromEnvironment()
    {
        var s = Environment.GetEnvironmentVariable("FASTCONV_THREADS");
        if (string.IsNullOrWhiteSpace(s)) return Environment.ProcessorCount;
        if (int.TryParse(s, out int n) && n >= 1) return n;
        throw new InvalidOperationException($"FASTCONV_THREADS must be a positive integer, got '{s}'.");
    }

    /// <summary>Runs body(worker, begin, end) over [0, count) in contiguous chunks, one per worker.</summary>
    public static void For(long count, Action<int, long, long> body)
    {
        int workers = (int)Math.Min(Threads, Math.Max(count, 1));
        if (workers <= 1) { body(0, 0, count); return; }
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, t =>
        {
            long begin = count * t / workers, end = count * (t + 1) / workers;
            if (begin < end) body(t, begin, end);
        });
    }
}
