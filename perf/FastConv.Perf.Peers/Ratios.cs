using BenchmarkDotNet.Reports;
using Microsoft.Data.Analysis;

namespace FastConv.Perf.Peers;

/// <summary>
/// FastConv against TorchSharp per shape and method, from the medians of one run: the fastest FastConv backend's
/// time beside TorchSharp's, speed-up = TorchSharp time / FastConv time (≥ 1: FastConv is faster), and the
/// geometric mean over the convolution rows, under a line naming the CPU and the ISA (<see cref="TargetIsa"/>). Printed and written to BenchmarkDotNet.Artifacts/ratios-{threads}t.csv.
/// </summary>
public static class Ratios
{
    /// <summary>The table for FastConv's fastest backend per row, then the same for the native backend alone.</summary>
    public static void Print(IEnumerable<Summary> summaries, int threads)
    {
        var list = summaries.ToList();
        Print(list, threads, only: null);
        Print(list, threads, only: "native");
    }

    private static void Print(List<Summary> summaries, int threads, string? only)
    {
        var rows = summaries.SelectMany(s => s.Reports.Where(r => r.Success && r.ResultStatistics is not null).Select(r => (Summary: s, Report: r)))
            .Select(x =>
            {
                var bc = x.Report.BenchmarkCase;
                string param = bc.Parameters.Items.First().Value?.ToString() ?? "";
                string runner = param.Split(' ')[0];
                string shape = bc.Descriptor.WorkloadMethod.Name switch
                {
                    "TrainStep" => "train-step",
                    "ResNet20Step" => "resnet20-step",
                    _ => param.Split(' ')[^1],
                };
                return (Runner: runner, Shape: shape, Method: bc.Descriptor.WorkloadMethod.Name, Ns: x.Report.ResultStatistics!.Median,
                        Rate: Work.Rate(x.Summary, bc) ?? 0, IsFlops: Work.Of(bc).IsFlops);
            }).ToList();
        var df = new DataFrame(
            new StringDataFrameColumn("shape"), new StringDataFrameColumn("method"), new StringDataFrameColumn("fastconv_backend"),
            new DoubleDataFrameColumn("fastconv_ms"), new DoubleDataFrameColumn("fastconv_rate"), new DoubleDataFrameColumn("torchsharp_ms"),
            new DoubleDataFrameColumn("torchsharp_rate"), new StringDataFrameColumn("unit"), new DoubleDataFrameColumn("speedup"));
        var logs = new List<double>();
        foreach (var g in rows.GroupBy(r => (r.Shape, r.Method)))
        {
            var torch = g.Where(r => r.Runner == "torchsharp").ToList();
            var ours = g.Where(r => r.Runner != "torchsharp" && (only is null || r.Runner == only)).OrderBy(r => r.Ns).ToList();
            if (torch.Count == 0 || ours.Count == 0) continue;
            var (t, o) = (torch[0], ours[0]);
            double speedup = t.Ns / o.Ns;
            if (o.IsFlops && g.Key.Shape.StartsWith('C')) logs.Add(Math.Log(speedup));
            df.Append([
                new KeyValuePair<string, object>("shape", g.Key.Shape), new("method", g.Key.Method), new("fastconv_backend", o.Runner),
                new("fastconv_ms", o.Ns / 1e6), new("fastconv_rate", o.Rate), new("torchsharp_ms", t.Ns / 1e6), new("torchsharp_rate", t.Rate),
                new("unit", o.IsFlops ? "GFLOP/s" : "GB/s"), new("speedup", speedup)], inPlace: true);
        }
        Console.WriteLine();
        Console.WriteLine($"FastConv{(only is null ? "" : $" ({only} backend)")} vs TorchSharp at {threads} thread(s) (speed-up = TorchSharp time / FastConv time; medians of this run):");
        Console.WriteLine($"  {TargetIsa.Describe()}");
        // columns as wide as their longest entry and a space, so a long shape name ("resnet20-step") keeps its gap
        int Width(int column, string header, int least) =>
            Math.Max(least, Enumerable.Range(0, (int)df.Rows.Count).Select(i => df.Rows[i][column]?.ToString()?.Length ?? 0).Append(header.Length).Max() + 1);
        int sw = Width(0, "shape", 11), mw = Width(1, "method", 16), fw = Width(2, "fastconv", 14);
        Console.WriteLine($"{"shape".PadRight(sw)}{"method".PadRight(mw)}{"fastconv".PadRight(fw)}{"ms",10}{"rate",10}{"torch ms",10}{"rate",10}  unit      speed-up");
        for (long i = 0; i < df.Rows.Count; i++)
        {
            var r = df.Rows[i];
            Console.WriteLine($"{r[0]?.ToString()?.PadRight(sw)}{r[1]?.ToString()?.PadRight(mw)}{r[2]?.ToString()?.PadRight(fw)}{(double)r[3],10:F3}{(double)r[4],10:F1}{(double)r[5],10:F3}{(double)r[6],10:F1}  {r[7],-8}{(double)r[8],8:F2}x");
        }
        if (logs.Count > 0)
            Console.WriteLine($"Geometric-mean speed-up over the {logs.Count} convolution rows: {Math.Exp(logs.Average()):F2}x");
        Directory.CreateDirectory("BenchmarkDotNet.Artifacts");
        string csv = Path.Combine("BenchmarkDotNet.Artifacts", only is null ? $"ratios-{threads}t.csv" : $"ratios-{only}-{threads}t.csv");
        DataFrame.SaveCsv(df, csv);
        Console.WriteLine($"Written: {csv}");
    }
}
