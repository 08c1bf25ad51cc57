using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using Perfolizer.Horology;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using FastConv;
using FastConv.Perf;

// fastconv perf suite: [--quick] [--threads N] [BenchmarkDotNet arguments, e.g. --filter '*C4*']
var rest = new List<string>();
bool quick = false;
int threads = Parallelism.Threads;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick": quick = true; break;
        case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out var t) && t >= 1: threads = t; i++; break;
        case "--threads": Console.Error.WriteLine("--threads needs a positive integer"); return 2;
        default: rest.Add(args[i]); break;
    }
}
Environment.SetEnvironmentVariable("FASTCONV_THREADS", threads.ToString());
Parallelism.Threads = threads;

Console.WriteLine($"Measuring this machine's peak at {threads} thread(s)...");
MachinePeak.Measure(threads);
Console.WriteLine($"  FMA peak ({MachinePeak.FmaWidth}): {MachinePeak.FmaGflops:F1} GFLOP/s   copy bandwidth: {MachinePeak.BandwidthGBs:F1} GB/s");
Console.WriteLine($"  backends: {string.Join(", ", BackendRegistry.List().Select(b => b.IsAvailable ? b.Name : $"{b.Name} (unavailable: {b.Reason})"))}");

var job = quick
    ? Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5)
        .WithIterationTime(TimeInterval.FromMilliseconds(120)).WithId("quick")
    : Job.Default.WithEnvironmentVariable("FASTCONV_THREADS", threads.ToString());

var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(job)
    .AddColumn(StatisticColumn.Median, new RateColumn(fractionOfPeak: false), new RateColumn(fractionOfPeak: true))
    .HideColumns(Column.Error, Column.StdDev, "Job", "Toolchain", "IterationCount", "LaunchCount", "WarmupCount", "IterationTime")
    .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile)
    .WithSummaryStyle(BenchmarkDotNet.Reports.SummaryStyle.Default.WithMaxParameterColumnWidth(40));

if (!rest.Any(a => a.StartsWith("--filter"))) rest.AddRange(["--filter", "*"]);
var summaries = BenchmarkSwitcher.FromTypes([typeof(ConvBenchmarks), typeof(PoolBenchmarks)]).Run(rest.ToArray(), config);
Console.WriteLine($"Peaks used for '% of peak': FMA {MachinePeak.FmaGflops:F1} GFLOP/s, copy {MachinePeak.BandwidthGBs:F1} GB/s, {threads} thread(s).");
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
