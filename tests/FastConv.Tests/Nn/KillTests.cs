using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using FastConv.Tests.Support;
using FastConv.Nn;

namespace FastConv.Tests.Nn;

/// <summary>
/// Issue 19's "nothing lost on a kill": the real `fastconv train` in a child process, SIGKILLed at named moments of an
/// epoch's commit (FASTCONV_TEST_PAUSE_AT makes it block there) and at random ones, then resumed, again and again in one
/// run folder. After every kill each checkpoint left loads, best.ckpt is never newer than last.ckpt, and at most the
/// epoch in progress is lost; every resume continues (or, with no finished epoch, a new run reuses the folder), removes
/// the dead processes' temporary files and makes metrics.csv agree with its checkpoint. At the end the run equals an
/// uninterrupted one bit for bit: weights, best.ckpt and every metrics row, each epoch once.
/// </summary>
[TestFixture, NonParallelizable]
public partial class KillTests : TempDirectoryTests
{
    private const int Epochs = 3;
    /// <summary>Not stored in a checkpoint, so given to every resume too: the same kernels and reduction order, bit for bit.</summary>
    private static readonly string[] Machine = ["--backend", "managed", "--threads", "1"];
    private static readonly string[] Settings =
    [
        "--epochs", "3", "--limit", "600", "--validation", "100", "--batch", "50", "--model", "cs231n-3layer", "--optimizer", "sgd",
        "--lr", "0.02", "--seed", "1", .. Machine,
    ];


    private sealed record Child(int Code, bool Killed, bool Paused, IReadOnlyList<string> Lines, string Err, IReadOnlyList<double> EpochEndMs)
    {
        /// <summary>The epochs whose end the child printed ("epoch N: train loss ..."): the last is the one in progress at a kill.</summary>
        public int LastEpochDone => Lines.Select(l => EpochLine().Match(l)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
        public string Out => string.Join("\n", Lines);
    }

    [GeneratedRegex(@"^epoch (\d+): train loss")]
    private static partial Regex EpochLine();

    /// <summary>Runs the CLI; with <paramref name="pauseAt"/> waits until it blocks there and SIGKILLs it, with
    /// <paramref name="killAfterMs"/> kills it after that long (if it still runs).</summary>
    private static Child Cli(string[] args, string? pauseAt = null, int? killAfterMs = null)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "FastConv.Cli.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (pauseAt is not null) psi.Environment["FASTCONV_TEST_PAUSE_AT"] = pauseAt;
        var lines = new ConcurrentQueue<string>();
        var epochEnds = new ConcurrentQueue<double>();
        var clock = new Stopwatch();
        var paused = new ManualResetEventSlim();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lines.Enqueue(e.Data);
            if (EpochLine().IsMatch(e.Data)) epochEnds.Enqueue(clock.Elapsed.TotalMilliseconds);
            if (e.Data.StartsWith("FASTCONV_TEST_PAUSED ", StringComparison.Ordinal)) paused.Set();
        };
        var err = new System.Text.StringBuilder();
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (err) err.AppendLine(e.Data); };
        clock.Start();
        p.Start();
        p.BeginOutputReadLine(); p.BeginErrorReadLine();
        bool killed = false, wasPaused = false;
        if (pauseAt is not null)
        {
            // blocks there for ever once it gets there; if it ends first, the point was never reached
            var exited = Task.Run(() => p.WaitForExit(60_000));
            while (!paused.IsSet && !exited.IsCompleted) paused.Wait(50);
            wasPaused = paused.IsSet;
        }
        else if (killAfterMs is int ms) p.WaitForExit(ms);
        if ((pauseAt is not null || killAfterMs is not null) && !p.HasExited)
        {
            p.Kill(entireProcessTree: true);   // SIGKILL
            killed = true;
        }
        if (!p.WaitForExit(120_000)) { p.Kill(true); Assert.Fail($"fastconv {string.Join(' ', args)} did not end in 2 minutes"); }
        p.WaitForExit();
        return new Child(p.ExitCode, killed, wasPaused, [.. lines], err.ToString(), [.. epochEnds]);
    }

    private string Run => Path.Combine(Dir, "run");
    private string F(string name) => Path.Combine(Run, name);
    private int AssertConsistent(Child killed, int before, string when) => AssertConsistent(Run, killed, before, when);
    private Child Resume(int finished, string? pauseAt = null, int? killAfterMs = null) => Resume(Run, finished, pauseAt, killAfterMs);
    private static Checkpoint? Load(string path) => File.Exists(path) ? Checkpoint.Load(path) : null;

    /// <summary>What must hold after any kill of a process that started with <paramref name="before"/> epochs finished;
    /// returns the epochs finished now (last.ckpt's).</summary>
    private static int AssertConsistent(string run, Child killed, int before, string when)
    {
        foreach (var ck in Directory.GetFiles(run, "*.ckpt"))
        {
            // a temporary (.last.tmp-PID.ckpt) may be cut short by the kill; it is never read, and the next resume removes it
            if (RunFolder.TemporaryOwner(Path.GetFileName(ck)) is int pid)
                Assert.That(RunFolder.IsAlive(pid), Is.False, $"{when}: {Path.GetFileName(ck)} belongs to a dead writer");
            else
                Assert.DoesNotThrow(() => Checkpoint.Load(ck), $"{when}: {Path.GetFileName(ck)} loads");
        }
        var last = Load(Path.Combine(run, "last.ckpt"));
        var best = Load(Path.Combine(run, "best.ckpt"));
        int finished = last?.Epoch ?? 0;
        Assert.That(best?.Epoch ?? 0, Is.LessThanOrEqualTo(finished), $"{when}: best.ckpt is never newer than last.ckpt");
        if (best is not null)
        {
            // best.ckpt is last.ckpt's best, or, when a kill came between the renames of a new best epoch, the best before it
            Assert.That(best.BestEpoch, Is.EqualTo(best.Epoch), $"{when}: best.ckpt holds a best epoch");
            if (best.Epoch != last!.BestEpoch)
            {
                Assert.That(last.BestEpoch, Is.EqualTo(finished), $"{when}: best.ckpt (epoch {best.Epoch}) lags only a new best last.ckpt");
                Assert.That(last.History.Where(e => e.Epoch > best.Epoch && e.Epoch < finished).Select(e => e.ValidationAccuracy),
                    Has.All.LessThanOrEqualTo(best.BestValidationAccuracy), $"{when}: best.ckpt is the best before epoch {finished}");
            }
        }
        // at most the epoch in progress is lost: the last one whose end was printed, and none finished before
        int ended = Math.Max(before, killed.LastEpochDone);
        Assert.That(finished, Is.InRange(Math.Max(before, ended - 1), ended), $"{when}: {before} finished before, epochs ended {ended}, finished on disk {finished}\n{killed.Out}");
        return finished;
    }

    /// <summary>Resumes (killed at <paramref name="pauseAt"/>, after <paramref name="killAfterMs"/>, or to the end) and checks that
    /// it continued from what was on disk; a folder without a finished epoch is refused with the reason, then a new run reuses it.</summary>
    private static Child Resume(string run, int finished, string? pauseAt = null, int? killAfterMs = null)
    {
        if (finished == 0)
        {
            if (Directory.Exists(run))
            {
                var refused = Cli(["train", "--resume", run, .. Machine]);
                Assert.That(refused.Code, Is.EqualTo(1));
                Assert.That(refused.Err.Trim(), Does.StartWith($"fastconv: error: --resume {run} holds no finished epoch").And.Contain($"--out {run}, which reuses"));
            }
            return Cli(["train", "--out", run, .. Settings], pauseAt, killAfterMs);
        }
        var c = Cli(["train", "--resume", run, .. Machine], pauseAt, killAfterMs);
        if (c.Code == 1 && c.Err.Contains("has already finished")) return c;
        // a kill during start-up may come before this line
        if (c.Lines.Any(l => l.StartsWith("Resuming", StringComparison.Ordinal)))
            Assert.That(c.Lines, Has.Some.EqualTo($"Resuming {run} after epoch {finished} of {Epochs}."), c.Out);
        return c;
    }

    [Test]
    public void KilledAtAnyMoment_ResumeContinues_AndTheRunEqualsAnUninterruptedOne()
    {
        string reference = Path.Combine(Dir, "reference");
        var whole = Cli(["train", "--out", reference, .. Settings]);
        Assert.That(whole.Code, Is.Zero, whole.Err);

        // 1. before the first commit: a temporary last.ckpt, nothing finished; --resume says so and a new run reuses the folder
        var c = Cli(["train", "--out", Run, .. Settings], "before-rename:last.ckpt@1");
        Assert.That(c.Paused && c.Killed, c.Out + c.Err);
        Assert.That(Directory.GetFiles(Run, ".last.tmp-*.ckpt"), Has.Length.EqualTo(1), "the killed process's temporary checkpoint");
        Assert.That(AssertConsistent(c, 0, "before the first rename"), Is.Zero);
        string stale = Directory.GetFiles(Run, ".last.tmp-*.ckpt")[0];

        // 2. between the renames of epoch 1: last.ckpt, no best.ckpt yet, no metrics.csv
        c = Resume(0, "after-rename:last.ckpt@1");
        Assert.That(c.Paused && c.Killed, c.Out + c.Err);
        Assert.That(File.Exists(stale), Is.False, "the dead process's temporary file is removed");
        Assert.That((File.Exists(F("best.ckpt")), File.Exists(F("metrics.csv"))), Is.EqualTo((false, false)));
        int finished = AssertConsistent(c, 0, "between last.ckpt and best.ckpt");
        Assert.That(finished, Is.EqualTo(1));

        // 3. the resume repairs (best.ckpt from last.ckpt) and is killed right after: a repair is itself kill-safe
        c = Resume(finished, "after-rename:best.ckpt@repair");
        Assert.That(c.Paused, c.Out + c.Err);
        Assert.That(File.ReadAllBytes(F("best.ckpt")), Is.EqualTo(File.ReadAllBytes(F("last.ckpt"))));
        finished = AssertConsistent(c, finished, "during the repair");

        // 4. losses.csv of epoch 2 gone ahead of its checkpoint; 5. epoch 2 committed, metrics.csv not yet
        c = Resume(finished, "after-rename:losses.csv@2");
        Assert.That(c.Paused, c.Out + c.Err);
        Assert.That(RunFiles.ReadMetrics(F("metrics.csv")).Rows.Count, Is.EqualTo(1), "the repair wrote metrics.csv for epoch 1");
        finished = AssertConsistent(c, finished, "losses.csv ahead of last.ckpt");
        Assert.That(finished, Is.EqualTo(1));
        c = Resume(finished, "before-rename:metrics.csv@2");
        Assert.That(c.Paused, c.Out + c.Err);
        finished = AssertConsistent(c, finished, "before metrics.csv of epoch 2");
        Assert.That((finished, RunFiles.ReadMetrics(F("metrics.csv")).Rows.Count), Is.EqualTo((2, 1)));
        Assert.That(Directory.GetFiles(Run, ".metrics.tmp-*.csv"), Has.Length.EqualTo(1));

        // 6. to the end: the metrics agree with the checkpoint, no temporary file stays, and it equals the uninterrupted run
        c = Resume(Run, finished);
        Assert.That(c.Code, Is.Zero, c.Out + c.Err);
        AssertEqual(Run, reference);

        // 7. another run killed at random moments (seeded) over the whole of it: start-up, training, the commits, the
        // final test evaluation; each time resumed, until it ends
        string other = Path.Combine(Dir, "random");
        var random = new Random(19);
        // from half-way through start-up to the last epoch's commit (the uninterrupted run's times), where the files change
        var (lo, hi) = ((int)(whole.EpochEndMs[0] / 2), (int)whole.EpochEndMs[^1] + 100);
        finished = 0;
        for (int i = 0; i < 6; i++)
        {
            int ms = random.Next(lo, hi);
            c = Resume(other, finished, killAfterMs: ms);
            TestContext.Out.WriteLine($"random kill {i + 1} after {ms} ms (of {lo} to {hi}): " +
                                      $"{(c.Killed ? "killed" : $"ended ({c.Code})")}, epochs ended {c.LastEpochDone}");
            finished = AssertConsistent(other, c, finished, $"random kill {i + 1} after {ms} ms");
            if (!c.Killed) break;
        }
        if (c.Killed) c = Resume(other, finished);
        Assert.That(c.Code, Is.Zero.Or.EqualTo(1), c.Out + c.Err);
        if (c.Code == 1) Assert.That(c.Err, Does.Contain("has already finished 3 of 3 epochs"), "killed during the final test evaluation");
        AssertEqual(other, reference);
    }

    /// <summary>The run in <paramref name="dir"/> equals the uninterrupted one: no temporary file, the same weights and
    /// optimizer state, best.ckpt, every metrics row once, every step's loss once.</summary>
    private static void AssertEqual(string dir, string reference)
    {
        string F(string name) => Path.Combine(dir, name);
        string R(string name) => Path.Combine(reference, name);
        Assert.That(Directory.GetFiles(dir, "*tmp*"), Is.Empty, "temporary files left behind");
        var (a, b) = (Checkpoint.Load(F("last.ckpt")), Checkpoint.Load(R("last.ckpt")));
        Assert.That(a.Epoch, Is.EqualTo(Epochs));
        Assert.That(a.Tensors.Select(t => t.Data), Is.EqualTo(b.Tensors.Select(t => t.Data)), "weights and optimizer state equal the uninterrupted run's");
        Assert.That(Checkpoint.Load(F("best.ckpt")).Tensors.Select(t => t.Data), Is.EqualTo(Checkpoint.Load(R("best.ckpt")).Tensors.Select(t => t.Data)),
            "best.ckpt equals the uninterrupted run's");
        var (m, r) = (RunFiles.ReadMetrics(F("metrics.csv")), RunFiles.ReadMetrics(R("metrics.csv")));
        Assert.That(m["epoch"].Cast<int?>(), Is.EqualTo(Enumerable.Range(1, Epochs).Select(e => (int?)e)), "each epoch once, none missing");
        foreach (var col in new[] { "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy" })
            Assert.That(m[col].Cast<double?>(), Is.EqualTo(r[col].Cast<double?>()), col);
        Assert.That(RunFiles.ReadStepLosses(F("losses.csv"), long.MaxValue), Is.EqualTo(RunFiles.ReadStepLosses(R("losses.csv"), long.MaxValue)),
            "every step's loss once");
    }
}
