using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FastConv.Perf;

/// <summary>
/// This machine's ceilings, measured by the suite itself before any benchmark: FMA throughput (24 independent
/// FMA chains on the vector width of the ISA the rows run at: Vector256 for avx2, Vector512 for avx512) and memory
/// bandwidth (a 256 MiB copy, bytes read + written). Both per thread count used, so "% of peak" compares like with like.
/// </summary>
public static unsafe class MachinePeak
{
    public static double FmaGflops { get; private set; }
    public static double BandwidthGBs { get; private set; }
    public static string FmaWidth { get; private set; } = "";
    public static int Threads { get; private set; }

    /// <summary>Measures both peaks at <paramref name="threads"/> threads, the FMA one with <paramref name="bits"/>-bit vectors (256 or 512).</summary>
    public static void Measure(int threads, int bits)
    {
        if (bits == 512 && !Vector512.IsHardwareAccelerated)
            throw new InvalidOperationException("A Vector512 FMA peak needs Vector512 hardware acceleration, which this runtime does not report.");
        if (bits != 512 && bits != 256) throw new ArgumentOutOfRangeException(nameof(bits), bits, "256 or 512");
        Threads = threads;
        FmaWidth = bits == 512 ? "Vector512" : "Vector256";
        FmaGflops = Enumerable.Range(0, 3).Max(_ => Parallel(threads, () => FmaOnce(bits)));
        BandwidthGBs = Enumerable.Range(0, 3).Max(_ => Parallel(threads, CopyOnce));
    }

    /// <summary>Runs the measurement on every thread at once and adds the rates.</summary>
    private static double Parallel(int threads, Func<double> one)
    {
        var rates = new double[threads];
        System.Threading.Tasks.Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => rates[t] = one());
        return rates.Sum();
    }

    private static double FmaOnce(int bits)
    {
        const long iters = 20_000_000;
        var sw = Stopwatch.StartNew();
        double flopsPerIter = bits == 512 ? FmaLoop512(iters) : FmaLoop256(iters);
        return iters * flopsPerIter / sw.Elapsed.TotalSeconds / 1e9;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double FmaLoop512(long iters)
    {
        var m = Vector512.Create(0.999999f); var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        return s[0] == 42f ? 0 : 12 * 16 * 2;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static double FmaLoop256(long iters)
    {
        var m = Vector256.Create(0.999999f); var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256<float>.One, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
        for (long i = 0; i < iters; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c); a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c); a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c); a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c);
        }
        var s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9;
        return s[0] == 42f ? 0 : 10 * 8 * 2;
    }

    private static double CopyOnce()
    {
        const long bytes = 256L << 20;
        byte* src = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64), dst = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            new Span<byte>(src, (int)bytes).Fill(1);
            Buffer.MemoryCopy(src, dst, bytes, bytes);            // touch every destination page before timing
            double best = 0;
            for (int rep = 0; rep < 3; rep++)
            {
                var sw = Stopwatch.StartNew();
                Buffer.MemoryCopy(src, dst, bytes, bytes);
                best = Math.Max(best, 2.0 * bytes / sw.Elapsed.TotalSeconds / 1e9);
            }
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(src);
            NativeMemory.AlignedFree(dst);
        }
    }
}
