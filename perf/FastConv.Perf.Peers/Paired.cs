using System.Diagnostics;
using Microsoft.Data.Analysis;

namespace FastConv.Perf.Peers;

/// <summary>
/// <c>--paired N</c>: the ResNet-20 training step of FastConv's native backend and of TorchSharp, timed in turns in one
/// process (N pairs after 3 warm-up steps each; odd pairs run TorchSharp first), so that a slow minute of a shared
/// host slows both halves of a pair instead of one library's whole run. Each pair's ratio (TorchSharp time / FastConv
/// time) is its own measurement; the median of the ratios and their quartiles are the result. BenchmarkDotNet's runs
/// measure each library for several seconds before the other one, and on a noisy host their ratio moved ±30 %.
/// Each step's minor page faults are counted too: on a VM that pays for the first touch of every new page, a library
/// that hands its freed memory back to the system and touches it anew each step pays that every step.
/// Printed, and written to BenchmarkDotNet.Artifacts/paired-resnet20-{threads}t.csv.
/// </summary>
public static class Paired
{
    public const int Warmups = 3;

    /// <summary>Parses and removes <c>--paired N</c> (N ≥ 1); null without it, 0 when N is missing or not a positive integer.</summary>
    public static int? Take(List<string> args)
    {
        int i = args.IndexOf("--paired");
        if (i < 0) return null;
        int pairs = i + 1 < args.Count && int.TryParse(args[i + 1], out var n) && n >= 1 ? n : 0;
        args.RemoveRange(i, pairs > 0 ? 2 : 1);
        return pairs;
    }

    public static int Run(int pairs, int threads)
    {
        var ours = new ResNet20StepBenchmarks { Backend = "native" };
        var torch = new TorchResNet20StepBenchmarks { Backend = "torchsharp" };
        ours.Setup();
        try
        {
            torch.Setup();
            try
            {
                for (int i = 0; i < Warmups; i++) { ours.ResNet20Step(); torch.ResNet20Step(); }
                var fast = new Step[pairs];
                var peer = new Step[pairs];
                for (int i = 0; i < pairs; i++)
                {
                    if (i % 2 == 0) { fast[i] = Time(() => ours.ResNet20Step()); peer[i] = Time(() => torch.ResNet20Step()); }
                    else { peer[i] = Time(() => torch.ResNet20Step()); fast[i] = Time(() => ours.ResNet20Step()); }
                }
                Print(fast, peer, threads);
                return 0;
            }
            finally { torch.Cleanup(); }
        }
        finally { ours.Cleanup(); }
    }

    /// <summary>One step's milliseconds and the minor page faults it took (-1 off Linux).</summary>
    private readonly record struct Step(double Ms, long Faults);

    private static Step Time(Action step)
    {
        long f0 = MinorFaults(), t0 = Stopwatch.GetTimestamp();
        step();
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        return new Step(ms, f0 < 0 ? -1 : MinorFaults() - f0);
    }

    /// <summary>This process's minor page faults so far: field 10 of /proc/self/stat (the 8th after the command's ")").</summary>
    private static long MinorFaults() =>
        OperatingSystem.IsLinux()
            ? long.Parse(File.ReadAllText("/proc/self/stat").Split(')')[^1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7])
            : -1;

    private static void Print(Step[] fastSteps, Step[] peerSteps, int threads)
    {
        double flops = ResNet20StepBenchmarks.StepFlops;
        string Rate(double ms) => $"{flops / (ms * 1e6):F1} GFLOP/s, {100 * flops / (ms * 1e6) / MachinePeak.FmaGflops:F0} % of peak";
        double[] fast = fastSteps.Select(s => s.Ms).ToArray(), peer = peerSteps.Select(s => s.Ms).ToArray();
        var ratio = fast.Select((f, i) => peer[i] / f).ToArray();
        var df = new DataFrame(new Int32DataFrameColumn("pair", Enumerable.Range(1, fast.Length)),
            new DoubleDataFrameColumn("native_ms", fast), new DoubleDataFrameColumn("torchsharp_ms", peer),
            new DoubleDataFrameColumn("speedup", ratio),
            new Int64DataFrameColumn("native_page_faults", fastSteps.Select(s => s.Faults)),
            new Int64DataFrameColumn("torchsharp_page_faults", peerSteps.Select(s => s.Faults)));
        Console.WriteLine();
        Console.WriteLine($"ResNet-20 training step (batch {ResNet20StepBenchmarks.Batch}), native backend and TorchSharp in turns, {threads} thread(s), {fast.Length} pairs after {Warmups} warm-ups:");
        Console.WriteLine($"  {TargetIsa.Describe()}");
        Console.WriteLine($"{"pair",5}{"native ms",12}{"torch ms",12}{"speed-up",10}{"native faults",15}{"torch faults",14}");
        for (int i = 0; i < fast.Length; i++)
            Console.WriteLine($"{i + 1,5}{fast[i],12:F1}{peer[i],12:F1}{ratio[i],9:F2}x{fastSteps[i].Faults,15}{peerSteps[i].Faults,14}");
        Console.WriteLine($"native:     median {Quantile(fast, 0.5):F1} ms ({Rate(Quantile(fast, 0.5))}), best {fast.Min():F1} ms");
        Console.WriteLine($"TorchSharp: median {Quantile(peer, 0.5):F1} ms ({Rate(Quantile(peer, 0.5))}), best {peer.Min():F1} ms");
        Console.WriteLine($"Speed-up (TorchSharp time / native time), median of the pairs: {Quantile(ratio, 0.5):F2}x " +
                          $"(quartiles {Quantile(ratio, 0.25):F2}-{Quantile(ratio, 0.75):F2}, range {ratio.Min():F2}-{ratio.Max():F2}); " +
                          $"best against best {peer.Min() / fast.Min():F2}x");
        Console.WriteLine($"Minor page faults a step (first touches of new pages), median: native {Quantile(fastSteps.Select(s => (double)s.Faults), 0.5):F0}, " +
                          $"TorchSharp {Quantile(peerSteps.Select(s => (double)s.Faults), 0.5):F0}");
        Console.WriteLine($"Peak used for '% of peak': FMA ({MachinePeak.FmaWidth}) {MachinePeak.FmaGflops:F1} GFLOP/s.");
        Directory.CreateDirectory("BenchmarkDotNet.Artifacts");
        string csv = Path.Combine("BenchmarkDotNet.Artifacts", $"paired-resnet20-{threads}t.csv");
        DataFrame.SaveCsv(df, csv);
        Console.WriteLine($"Written: {csv}");
    }

    /// <summary>The q-quantile by linear interpolation between the sorted values (q = 0.5: the median).</summary>
    public static double Quantile(IEnumerable<double> values, double q)
    {
        var s = values.OrderBy(v => v).ToArray();
        double at = q * (s.Length - 1);
        int lo = (int)Math.Floor(at), hi = Math.Min(lo + 1, s.Length - 1);
        return s[lo] + (s[hi] - s[lo]) * (at - lo);
    }
}
