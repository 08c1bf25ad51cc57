using System.Collections.Concurrent;
using System.Diagnostics;

namespace FastConv.Fuzz;

/// <summary>Totals of one target (a backend, or a file format).</summary>
public sealed class Totals
{
    public int Cases, Calls, Refusals, Compared;
    public readonly Dictionary<string, int> Findings = FindingKind.All.ToDictionary(k => k, _ => 0);
    public readonly List<string> Examples = [];
    public int FindingCount => Findings.Values.Sum();
}

/// <summary>
/// The parent: runs cases [0, count) of a target in batches, each batch in a child process of this program
/// (<c>child SUITE TARGET SEED FROM TO</c>), reads the child's lines (<see cref="CaseLog"/>), and when a child dies or
/// runs one case past the timeout records a crash or hang for the case it had begun, with its seed and description,
/// then continues with the next case in a new child.
/// </summary>
public sealed class Runner(string suite, long seed, int batch, TimeSpan caseTimeout, TextWriter report)
{
    public const int MaxExamples = 20;

    /// <summary>Cases [0, count) of <paramref name="target"/>; no new batch starts after <paramref name="deadline"/>
    /// (<see cref="Totals.Cases"/> then says how many ran).</summary>
    public Totals Run(string target, int count, DateTime deadline, Dictionary<string, string>? env = null)
    {
        var t = new Totals();
        int next = 0;
        while (next < count && DateTime.UtcNow < deadline)
        {
            int to = (int)Math.Min(count, (long)next + batch);
            next = RunChild(target, next, to, t, env);
        }
        return t;
    }

    /// <summary>Runs cases [from, to) in one child; returns the first case not yet run (to, unless the child died).</summary>
    private int RunChild(string target, int from, int to, Totals t, Dictionary<string, string>? env)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        string self = typeof(Runner).Assembly.Location;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(self);
        foreach (var a in new[] { "child", suite, target, seed.ToString(), from.ToString(), to.ToString() }) psi.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var lines = new BlockingCollection<string>();
        var stderr = new ConcurrentQueue<string>();
        p.OutputDataReceived += (_, e) => { if (e.Data is null) lines.CompleteAdding(); else lines.Add(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { stderr.Enqueue(e.Data); while (stderr.Count > 40) stderr.TryDequeue(out string? _); } };
        p.BeginOutputReadLine(); p.BeginErrorReadLine();

        int current = -1;          // the case begun and not ended
        string currentDesc = "";
        int done = from;
        var caseClock = Stopwatch.StartNew();
        while (true)
        {
            if (!lines.TryTake(out var line, TimeSpan.FromMilliseconds(200)))
            {
                if (lines.IsCompleted) break;
                if (current >= 0 && caseClock.Elapsed > caseTimeout)
                {
                    try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                    p.WaitForExit();
                    Record(t, FindingKind.Hang, current, $"{target} case {current} ran past {caseTimeout.TotalSeconds:0} s: {currentDesc}");
                    t.Cases++;
                    return current + 1;
                }
                continue;
            }
            if (line.Length < 2 || line[1] != ' ') { report.WriteLine($"  [{target} child] {line}"); continue; }
            var parts = line.Split(' ', 4);
            switch (line[0])
            {
                case 'B':
                    current = int.Parse(parts[1]); currentDesc = line[(3 + parts[1].Length)..]; caseClock.Restart();
                    break;
                case 'F':
                    Record(t, parts[2], int.Parse(parts[1]), $"{target} case {parts[1]} {parts[2]}: {(parts.Length > 3 ? parts[3] : "")} [case: {currentDesc}]");
                    break;
                case 'E':
                    var n = line.Split(' ');
                    t.Cases++; t.Calls += int.Parse(n[2]); t.Refusals += int.Parse(n[3]); t.Compared += int.Parse(n[4]);
                    done = int.Parse(n[1]) + 1; current = -1;
                    break;
                default:
                    report.WriteLine($"  [{target} child] {line}");
                    break;
            }
        }
        p.WaitForExit();
        if (current >= 0 || (p.ExitCode != 0 && done < to))
        {
            int at = current >= 0 ? current : done;
            string tail = string.Join(" | ", stderr.TakeLast(6));
            Record(t, FindingKind.Crash, at, $"{target} case {at}: the child exited with {Describe(p.ExitCode)} during: {currentDesc}; stderr: {tail}");
            t.Cases++;
            return at + 1;
        }
        if (p.ExitCode != 0) report.WriteLine($"  [{target} child] exited {p.ExitCode} after its last case: {string.Join(" | ", stderr.TakeLast(6))}");
        return to;
    }

    private static string Describe(int code) => code > 128 ? $"code {code} (signal {code - 128})" : $"code {code}";

    private void Record(Totals t, string kind, int index, string text)
    {
        if (!t.Findings.ContainsKey(kind)) t.Findings[kind] = 0;
        t.Findings[kind]++;
        if (t.Examples.Count < MaxExamples) t.Examples.Add($"{text} (repro: FastConv.Fuzz repro {suite} {text.Split(' ')[0]} --seed {seed} --case {index})");
    }
}
