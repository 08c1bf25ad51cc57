using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace FastConv.Perf;

/// <summary>
/// The suite's command line, shared by FastConv.Perf and FastConv.Perf.Peers:
/// [--quick] [--threads N] [--isa avx2|avx512] [BenchmarkDotNet arguments, e.g. --filter '*C4*'].
/// Measures the machine's peak first (at the ISA's vector width), so every row can print its fraction of it.
/// </summary>
public static class PerfRunner
{
    public static int Threads { get; private set; } = Parallelism.Threads;

    /// <summary>
    /// Parses the suite's own options, sets the ISA's variables and the thread count, measures the peak; returns
    /// BenchmarkDotNet's arguments, or (null, exit code) on a usage error or after running the suite in a relaunched
    /// process (<see cref="TargetIsa.Relaunch"/>).
    /// </summary>
    public static (List<string>? BenchmarkArgs, bool Quick, int ExitCode) Prepare(string[] args)
    {
        var rest = new List<string>();
        bool quick = false;
        int threads = Parallelism.Threads;
        string? isa = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], out var t) && t >= 1: threads = t; i++; break;
                case "--threads": Console.Error.WriteLine("--threads needs a positive integer"); return (null, quick, 2);
                case "--isa" when i + 1 < args.Length: isa = args[++i]; break;
                case "--isa": Console.Error.WriteLine("--isa needs avx2 or avx512"); return (null, quick, 2);
                default: rest.Add(args[i]); break;
            }
        }
        // before anything loads libfastconv.so or libtorch: both read their ISA variables once, when they start
        if (TargetIsa.Select(isa) is { } refusal) { Console.Error.WriteLine(refusal); return (null, quick, 2); }
        if (TargetIsa.Relaunch(args) is { } code) return (null, quick, code);
        Environment.SetEnvironmentVariable("FASTCONV_THREADS", threads.ToString());
        // PoCL sizes its worker pool from POCL_MAX_PTHREAD_COUNT when the platform starts (before the registry loads the
        // OpenCL backend, just below); set natively, or "1 thread" OpenCL rows would run on every core
        SetNativeEnvironment("POCL_MAX_PTHREAD_COUNT", threads.ToString());
        Parallelism.Threads = threads;
        Threads = threads;
        Console.WriteLine(TargetIsa.Describe());
        Console.WriteLine($"Measuring this machine's peak at {threads} thread(s)...");
        MachinePeak.Measure(threads, TargetIsa.FmaBits);
        Console.WriteLine($"  FMA peak ({MachinePeak.FmaWidth}): {MachinePeak.FmaGflops:F1} GFLOP/s   copy bandwidth: {MachinePeak.BandwidthGBs:F1} GB/s");
        Console.WriteLine($"  backends: {string.Join(", ", BackendRegistry.List().Select(b => b.IsAvailable ? b.Name : $"{b.Name} (unavailable: {b.Reason})"))}");
        if (!rest.Any(a => a.StartsWith("--filter"))) rest.AddRange(["--filter", "*"]);
        return (rest, quick, 0);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>Sets a variable where native libraries read it (getenv); Environment.SetEnvironmentVariable does not reach them.</summary>
    public static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (OperatingSystem.IsLinux()) _ = SetEnv(name, value, 1);
    }

    public static IConfig Config(bool quick)
    {
        var job = quick
            ? Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(5)
                .WithIterationTime(TimeInterval.FromMilliseconds(120)).WithId("quick")
            : Job.Default.WithEnvironmentVariables(ChildEnvironment());
        return ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job)
            .AddColumn(StatisticColumn.Median, new RateColumn(fractionOfPeak: false), new RateColumn(fractionOfPeak: true), new IsaColumn())
            .HideColumns(Column.Error, Column.StdDev, "Job", "Toolchain", "IterationCount", "LaunchCount", "WarmupCount", "IterationTime")
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile)
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40));
    }

    /// <summary>
    /// What an out-of-process benchmark child needs set: the thread count and the ISA's variables. Children inherit this
    /// process's environment anyway (every one of these is set in it before BenchmarkDotNet starts them); the job
    /// names them too, so a child that runs with a cleaned environment still gets them, and the summary lists them.
    /// </summary>
    private static EnvironmentVariable[] ChildEnvironment()
    {
        var vars = new List<EnvironmentVariable> { new("FASTCONV_THREADS", Threads.ToString()), new("POCL_MAX_PTHREAD_COUNT", Threads.ToString()) };
        if (TargetIsa.Requested is { } isa) vars.AddRange(TargetIsa.Variables(isa).Select(v => new EnvironmentVariable(v.Key, v.Value)));
        return vars.ToArray();
    }

    /// <summary>Runs the given benchmark classes; returns the summaries and the process exit code.</summary>
    public static (Summary[] Summaries, int ExitCode) Run(string[] args, params Type[] types)
    {
        var (rest, quick, code) = Prepare(args);
        if (rest is null) return ([], code);
        var summaries = BenchmarkSwitcher.FromTypes(types).Run(rest.ToArray(), Config(quick)).ToArray();
        Console.WriteLine($"The table above: {TargetIsa.Describe()}");
        Console.WriteLine($"Peaks used for '% of peak': FMA ({MachinePeak.FmaWidth}) {MachinePeak.FmaGflops:F1} GFLOP/s, copy {MachinePeak.BandwidthGBs:F1} GB/s, {Threads} thread(s).");
        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return (summaries, failed ? 1 : 0);
    }
}
