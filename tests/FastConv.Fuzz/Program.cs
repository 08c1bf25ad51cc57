using System.CommandLine;
using System.Diagnostics;
using FastConv.Native;
using FastConv.OpenCL;

namespace FastConv.Fuzz;

/// <summary>
/// FastConv's .NET fuzzers (docs/testing-fuzz.md): <c>api</c> calls every IBackend op and plan method on every backend
/// with generated arguments, <c>files</c> reads damaged data files and checkpoints. Seeded: a seed and a case index give
/// the same case on every run; <c>repro</c> replays one case in this process with every step printed.
/// </summary>
public static class Program
{
    /// <summary>Every registry backend; --only also takes ISA variants (native:avx2, managed:vector256 ...).</summary>
    private static readonly string[] ApiBackends = ["reference", "managed", "native", "opencl"];

    public static int Main(string[] args)
    {
        var seed = new Option<long>("--seed") { Description = "The seed: case i of seed s is the same case on every run.", DefaultValueFactory = _ => 1 };
        var cases = new Option<int>("--cases") { Description = "Cases per backend (api) or per file format (files).", DefaultValueFactory = _ => 500 };
        var longMode = new Option<int?>("--long") { Description = "The long mode: N cases per target, in larger batches (e.g. --long 100000)." };
        var batch = new Option<int?>("--batch") { Description = "Cases per child process (default 250, 2000 in the long mode)." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds one case may run before it counts as a hang.", DefaultValueFactory = _ => 60 };
        var budget = new Option<int>("--max-seconds") { Description = "Start no new batch after this many seconds (0: no limit).", DefaultValueFactory = _ => 0 };
        var targets = new Option<string[]>("--only") { Description = "Only these backends (api) or formats (files).", AllowMultipleArgumentsPerToken = true };

        Command Suite(string name, string description, string[] all)
        {
            var c = new Command(name, description) { seed, cases, longMode, batch, timeout, budget, targets };
            c.SetAction(pr => RunSuite(name, pr.GetValue(targets) is { Length: > 0 } only ? only : all, pr.GetValue(seed),
                pr.GetValue(longMode) ?? pr.GetValue(cases), pr.GetValue(batch) ?? (pr.GetValue(longMode) is null ? 250 : 2000),
                pr.GetValue(timeout), pr.GetValue(budget), pr.GetValue(longMode) is not null));
            return c;
        }

        var suiteArg = new Argument<string>("suite") { Description = "api or files" };
        var targetArg = new Argument<string>("target") { Description = "a backend (api) or a file format (files)" };
        var caseOpt = new Option<int>("--case") { Description = "The case index.", Required = true };
        var repro = new Command("repro", "Replays one case in this process, printing every step.") { suiteArg, targetArg, seed, caseOpt };
        repro.SetAction(pr => Child(pr.GetValue(suiteArg)!, pr.GetValue(targetArg)!, pr.GetValue(seed), pr.GetValue(caseOpt), pr.GetValue(caseOpt) + 1, verbose: true));

        var seedArg = new Argument<long>("seed");
        var fromArg = new Argument<int>("from");
        var toArg = new Argument<int>("to");
        var child = new Command("child", "One batch, run by the parent in a child process.") { suiteArg, targetArg, seedArg, fromArg, toArg };
        child.Hidden = true;
        child.SetAction(pr => Child(pr.GetValue(suiteArg)!, pr.GetValue(targetArg)!, pr.GetValue(seedArg), pr.GetValue(fromArg), pr.GetValue(toArg), verbose: false));

        var root = new RootCommand("FastConv's .NET fuzzers: generated API calls on every backend, and damaged files for every reader.")
        {
            Suite("api", "Generated descriptors, tensors and scalars on every IBackend op and plan method of every backend.", ApiBackends),
            Suite("files", "Damaged IDX files, CIFAR-10 batches, checkpoints and image folders.", FileFuzzer.Formats),
            repro, child,
        };
        return root.Parse(args).Invoke();
    }

    private static int RunSuite(string suite, string[] targets, long seed, int count, int batch, int timeout, int maxSeconds, bool isLong)
    {
        BackendSetup();
        var sw = Stopwatch.StartNew();
        var deadline = maxSeconds > 0 ? DateTime.UtcNow.AddSeconds(maxSeconds) : DateTime.MaxValue;
        Console.WriteLine($"fuzz {suite}{(isLong ? " (long mode)" : "")}: seed {seed}, {count} cases per target, {batch} per child process, " +
                          $"a case past {timeout} s is a hang; {Environment.ProcessorCount} cores");
        var runner = new Runner(suite, seed, batch, TimeSpan.FromSeconds(timeout), Console.Out);
        // the children get a heap limit: a reader or a plan that asks for far more memory than the machine should give
        // fails with OutOfMemoryException (allowed for plans, a finding for readers) instead of exhausting it
        var env = new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = suite == "files" ? "0x80000000" : "0xC0000000" };
        int findings = 0;
        foreach (var target in targets)
        {
            if (suite == "api" && Unavailable(target) is { } reason)
            {
                Console.WriteLine($"  {target,-11} skipped: not available here ({reason})");
                continue;
            }
            var t0 = sw.Elapsed;
            var t = runner.Run(target, count, deadline, env);
            findings += t.FindingCount;
            string kinds = string.Join(", ", t.Findings.Select(kv => $"{kv.Value} {kv.Key}"));
            Console.WriteLine($"  {target,-11} {t.Cases} cases, {t.Calls} calls, {t.Refusals} refusals, {t.Compared} valid compared, " +
                              $"{t.FindingCount} findings ({kinds}) in {(sw.Elapsed - t0).TotalSeconds:0.0} s");
            foreach (var ex in t.Examples) Console.WriteLine($"    {ex}");
            if (t.Cases < count) Console.WriteLine($"    stopped at --max-seconds {maxSeconds} after {t.Cases} of {count} cases");
        }
        Console.WriteLine($"fuzz {suite}: {findings} findings in {sw.Elapsed.TotalSeconds:0.0} s");
        return findings == 0 ? 0 : 1;
    }

    /// <summary>Why a backend or variant cannot run here, or null.</summary>
    private static string? Unavailable(string target)
    {
        try { _ = ApiFuzzer.Resolve(target); return null; }
        catch (Exception e) when (e is BackendUnavailableException or ArgumentException or NotSupportedException) { return e.Message; }
    }

    private static void BackendSetup()
    {
        NativeBackend.Register();
        OpenClBackend.Register();
    }

    private static int Child(string suite, string target, long seed, int from, int to, bool verbose)
    {
        BackendSetup();
        var output = Console.Out;
        if (suite == "api")
        {
            var fuzzer = new ApiFuzzer(target, seed, output);
            for (int i = from; i < to; i++) fuzzer.Run(i, verbose);
            return 0;
        }
        if (suite != "files") { Console.Error.WriteLine($"unknown suite '{suite}': use api or files"); return 2; }
        string work = Path.Combine(Path.GetTempPath(), $"fastconv-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(work);
        try
        {
            var fuzzer = new FileFuzzer(target, seed, output, work);
            for (int i = from; i < to; i++) fuzzer.Run(i, verbose);
        }
        finally { Directory.Delete(work, recursive: true); }
        return 0;
    }
}
