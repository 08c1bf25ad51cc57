using System.Diagnostics;
using System.Text.RegularExpressions;

namespace FastConv.Nn;

/// <summary>
/// What a run folder holds after any stop, SIGKILL included, and how a run goes on from it.
/// <para>Every file is written under a temporary name (<see cref="TemporaryPath"/>: .name.tmp-PID.ext) and renamed over
/// the real one, so each file is whole, old or new. An epoch's files form one commit, written in this order
/// (<see cref="TrainingRun.Run"/>):</para>
/// <list type="number">
/// <item>losses.csv, the loss of every step so far: ahead of the checkpoint (a reader takes its first Step losses);</item>
/// <item>last.ckpt: the commit. Once it is renamed into place, the epoch is finished;</item>
/// <item>best.ckpt when the epoch is the best so far: a copy of last.ckpt's bytes, so last.ckpt is always at least as
/// new as best.ckpt;</item>
/// <item>metrics.csv and curves.png, drawn from the checkpoint's history.</item>
/// </list>
/// <para>So a kill leaves one of two states: no checkpoint (no finished epoch: <see cref="NewRunBlockers"/> lets a new
/// run reuse the folder), or a last.ckpt with, at worst, a best.ckpt one best epoch behind and a metrics.csv and curves.png
/// one epoch behind. <see cref="Repair"/> puts those right from the checkpoint resumed from (which <see cref="ResumePoint"/>
/// picks: the newer of last.ckpt and best.ckpt, so a folder from the older best-then-last order resumes too), and
/// removes the temporary files of processes that no longer run. Rewriting a file with the bytes it should hold is
/// harmless, so a kill during the repair is repaired by the next resume.</para>
/// </summary>
public static partial class RunFolder
{
    /// <summary>The files of a run folder that have temporary names while they are written.</summary>
    public static readonly string[] Files =
    [
        TrainingRun.LastCheckpoint, TrainingRun.BestCheckpoint, TrainingRun.MetricsFile, TrainingRun.LossesFile,
        TrainingRun.CurvesFile, TrainingRun.FiltersFile,
    ];

    /// <summary>Where <paramref name="path"/> is written before its rename: .stem.tmp-PID.ext in the same folder (the
    /// extension last, for writers that choose a format by it).</summary>
    public static string TemporaryPath(string path, int? pid = null)
    {
        string full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileNameWithoutExtension(full)}.tmp-{pid ?? Environment.ProcessId}{Path.GetExtension(full)}");
    }

    /// <summary>The process that writes a temporary file named <paramref name="fileName"/> for one of the run's
    /// <see cref="Files"/>, or null when the name is not one (older FastConv named checkpoints last.ckpt.tmp-PID).</summary>
    public static int? TemporaryOwner(string fileName)
    {
        var m = Temporary().Match(fileName);
        if (!m.Success) return null;
        string target = m.Groups["old"].Success ? m.Groups["old"].Value : m.Groups["stem"].Value + m.Groups["ext"].Value;
        return Files.Contains(target) && int.TryParse(m.Groups["pid"].Value, out int pid) ? pid : null;
    }

    [GeneratedRegex(@"^(?:\.(?<stem>[^/]+)\.tmp-(?<pid>[0-9]{1,9})(?<ext>\.[A-Za-z]+)?|(?<old>(?:last|best)\.ckpt)\.tmp-(?<pid>[0-9]{1,9}))$")]
    private static partial Regex Temporary();

    /// <summary>Whether process <paramref name="pid"/> runs on this machine (/proc on Linux, else the process table).
    /// A pid that a later process took again counts as alive: its file is kept, never a live one deleted.</summary>
    public static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        if (OperatingSystem.IsLinux()) return Directory.Exists($"/proc/{pid}");
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }          // no such process
        catch (InvalidOperationException) { return false; }
    }

    /// <summary>The temporary files in <paramref name="dir"/> and the process writing each.</summary>
    public static IEnumerable<(string Path, int Pid)> Temporaries(string dir) =>
        !Directory.Exists(dir) ? [] :
        Directory.EnumerateFiles(dir).Select(f => (Path: f, Pid: TemporaryOwner(System.IO.Path.GetFileName(f))))
            .Where(t => t.Pid is not null).Select(t => (t.Path, t.Pid!.Value)).OrderBy(t => t.Path, StringComparer.Ordinal);

    /// <summary>Deletes the temporary files of processes that no longer run (<paramref name="isAlive"/>: <see cref="IsAlive"/>)
    /// and returns them; the files of live processes, this one included, stay.</summary>
    public static IReadOnlyList<string> RemoveDeadTemporaries(string dir, Func<int, bool>? isAlive = null)
    {
        isAlive ??= IsAlive;
        var removed = new List<string>();
        foreach (var (path, pid) in Temporaries(dir))
        {
            if (isAlive(pid)) continue;
            try { File.Delete(path); removed.Add(path); }
            catch (FileNotFoundException) { }                 // another resume removed it first
        }
        return removed;
    }

    /// <summary>Whether <paramref name="dir"/> holds a finished epoch: a last.ckpt or a best.ckpt.</summary>
    public static bool HasFinishedEpoch(string dir) =>
        File.Exists(Path.Combine(dir, TrainingRun.LastCheckpoint)) || File.Exists(Path.Combine(dir, TrainingRun.BestCheckpoint));

    /// <summary>
    /// Why a new run may not use <paramref name="dir"/>, or null when it may: a folder that does not exist, is empty,
    /// or holds only what a run killed before its first epoch was finished leaves there (FastConv's own losses.csv,
    /// temporary files of dead processes) is reused. A finished epoch (last.ckpt, best.ckpt) is continued with Resume,
    /// never overwritten; a metrics.csv or curves.png without a checkpoint is not a run's, nor a losses.csv that FastConv
    /// did not write; and a temporary file of a live process means a run is writing there now.
    /// </summary>
    public static string? NewRunBlockers(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        var checkpoints = new[] { TrainingRun.LastCheckpoint, TrainingRun.BestCheckpoint }.Where(f => File.Exists(Path.Combine(dir, f))).ToList();
        if (checkpoints.Count > 0) return $"already holds a run ({string.Join(", ", checkpoints)}); continue it with {{{TrainingRun.ResumeSetting}}} {dir}, or choose another {{{TrainingRun.OutDirSetting}}}.";
        var live = Temporaries(dir).Where(t => IsAlive(t.Pid) && t.Pid != Environment.ProcessId).ToList();
        if (live.Count > 0)
            return $"is being written by process {live[0].Pid} ({Path.GetFileName(live[0].Path)}); wait for it or choose another {{{TrainingRun.OutDirSetting}}}.";
        var foreign = new[] { TrainingRun.MetricsFile, TrainingRun.CurvesFile, TrainingRun.FiltersFile }.Where(f => File.Exists(Path.Combine(dir, f))).ToList();
        string losses = Path.Combine(dir, TrainingRun.LossesFile);
        if (File.Exists(losses) && !IsOwnLosses(losses)) foreign.Add(TrainingRun.LossesFile);
        return foreign.Count > 0 ? $"already has {string.Join(", ", foreign)}, which a new run would overwrite; choose another {{{TrainingRun.OutDirSetting}}}." : null;
    }

    /// <summary>A losses.csv as <see cref="RunFiles.WriteStepLosses"/> writes it (a header "step,loss").</summary>
    private static bool IsOwnLosses(string path)
    {
        using var r = new StreamReader(path);
        return r.ReadLine()?.Trim() == "step,loss";
    }

    /// <summary>The checkpoint to continue from: the newer (by epoch) of last.ckpt and best.ckpt, last.ckpt on a tie;
    /// refuses a folder without one, naming the setting Resume. A checkpoint that does not load is refused, never passed
    /// over (a kill does not damage one: damage is for the user to see).</summary>
    public static (Checkpoint Checkpoint, string Path) ResumePoint(string dir)
    {
        if (!Directory.Exists(dir)) throw new SettingException(TrainingRun.ResumeSetting, $"{dir} does not exist.");
        string last = Path.Combine(dir, TrainingRun.LastCheckpoint), best = Path.Combine(dir, TrainingRun.BestCheckpoint);
        var l = File.Exists(last) ? Checkpoint.Load(last) : null;
        var b = File.Exists(best) ? Checkpoint.Load(best) : null;
        if (l is null && b is null)
            throw new SettingException(TrainingRun.ResumeSetting,
                $"{dir} holds no finished epoch ({TrainingRun.LastCheckpoint} or {TrainingRun.BestCheckpoint}) to continue from; start the run again " +
                $"with {{{TrainingRun.OutDirSetting}}} {dir}, which reuses a folder without a finished epoch.");
        return l is not null && (b is null || l.Epoch >= b.Epoch) ? (l, last) : (b!, best);
    }

    /// <summary>
    /// Makes <paramref name="dir"/> agree with <paramref name="ck"/> (from <paramref name="from"/>, by
    /// <see cref="ResumePoint"/>): last.ckpt holds it; best.ckpt holds its best epoch when that is its own epoch (a kill
    /// came between the two renames); losses.csv has no losses past its step; metrics.csv has exactly its epochs; the
    /// temporary files of dead processes are removed. curves.png is redrawn by <paramref name="drawCurves"/> when given.
    /// Returns what it changed, for the log.
    /// </summary>
    public static IReadOnlyList<string> Repair(string dir, Checkpoint ck, string from, Action<IReadOnlyList<float>>? drawCurves = null)
    {
        var done = RemoveDeadTemporaries(dir).Select(f => $"removed {Path.GetFileName(f)} (its process is gone)").ToList();
        string last = Path.Combine(dir, TrainingRun.LastCheckpoint), best = Path.Combine(dir, TrainingRun.BestCheckpoint);
        if (Path.GetFullPath(from) != Path.GetFullPath(last))
        {
            RunFiles.Atomic(last, tmp => File.Copy(from, tmp));
            done.Add($"{TrainingRun.LastCheckpoint} restored from {Path.GetFileName(from)} (epoch {ck.Epoch})");
        }
        if (ck.BestEpoch == ck.Epoch && (!File.Exists(best) || Checkpoint.Load(best).Epoch != ck.Epoch))
        {
            RunFiles.Atomic(best, tmp => File.Copy(last, tmp));
            done.Add($"{TrainingRun.BestCheckpoint} brought up to epoch {ck.Epoch}");
        }
        string lossesPath = Path.Combine(dir, TrainingRun.LossesFile);
        var losses = RunFiles.ReadStepLosses(lossesPath, ck.Step);
        if (File.Exists(lossesPath)) RunFiles.WriteStepLosses(lossesPath, losses);
        string metrics = Path.Combine(dir, TrainingRun.MetricsFile);
        long rows = File.Exists(metrics) ? RunFiles.ReadMetrics(metrics).Rows.Count : 0;
        RunFiles.WriteMetrics(metrics, ck.History);
        if (rows != ck.History.Count) done.Add($"{TrainingRun.MetricsFile}: {rows} epoch rows -> {ck.History.Count}");
        drawCurves?.Invoke(losses);
        return done;
    }
}

/// <summary>
/// A test hook: with FASTCONV_TEST_PAUSE_AT=point@context set (e.g. after-rename:last.ckpt@2, before-rename:best.ckpt@1,
/// after-rename:metrics.csv@repair), the process prints "FASTCONV_TEST_PAUSED point@context" and blocks there for
/// ever, so a test can SIGKILL it at exactly that moment. Unset, it costs one null check.
/// </summary>
internal static class TestHook
{
    private static readonly string? At = Environment.GetEnvironmentVariable("FASTCONV_TEST_PAUSE_AT") is { Length: > 0 } s ? s : null;

    /// <summary>The epoch being committed, or "repair" while a resume repairs the folder.</summary>
    internal static string Context { get; set; } = "";

    internal static void Pause(string point)
    {
        if (At is null || At != $"{point}@{Context}") return;
        Console.Out.WriteLine($"FASTCONV_TEST_PAUSED {At}");
        Console.Out.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
