using System.Diagnostics;
using FastConv.Tests.Support;
using FastConv.Nn;

namespace FastConv.Tests.Nn;

/// <summary>
/// The run folder's states after a kill (RunFolder): which temporary files are a dead process's, when a new run may
/// reuse a folder, which checkpoint a resume continues from, and how the folder is made to agree with it. The same
/// rules driven through killed CLI processes: <see cref="KillTests"/>.
/// </summary>
[TestFixture]
public class RunFolderTests : TempDirectoryTests
{
    /// <summary>A checkpoint as a run writes it after <paramref name="epoch"/> epochs of 3 steps (no model needed: one tensor).</summary>
    private static Checkpoint Ck(int epoch, int bestEpoch, float marker = 0) => new()
    {
        Model = "lenet", InputShape = [1, 28, 28], ClassNames = ["a", "b"], Normalization = new([0.5f], [0.25f]),
        Settings = new() { ["seed"] = "1" }, Epoch = epoch, Step = 3L * epoch, BestEpoch = bestEpoch, BestValidationAccuracy = 0.1 * bestEpoch,
        History = [.. Enumerable.Range(1, epoch).Select(e => new EpochMetrics(e, 0.1, 2.0 / e, 0.1 * e, 2.0 / e, 0.1 * e, 1, 100))],
        Tensors = [("w", [2], [epoch, marker])],
    };

    private string P(string name) => Path.Combine(Dir, name);

    /// <summary>The pid of a process that has ended (a `true` run to its end: its pid is free).</summary>
    private static int DeadPid()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        p.WaitForExit();
        return p.Id;
    }

    [TestCase(".last.tmp-123.ckpt", 123)]
    [TestCase(".best.tmp-7.ckpt", 7)]
    [TestCase(".metrics.tmp-99999.csv", 99999)]
    [TestCase(".losses.tmp-5.csv", 5)]
    [TestCase(".curves.tmp-5.png", 5)]
    [TestCase("last.ckpt.tmp-4242", 4242)]       // the name older FastConv gave checkpoints
    [TestCase("best.ckpt.tmp-1", 1)]
    [TestCase(".notes.tmp-5.txt", null)]        // not a run file: never touched
    [TestCase(".last.tmp-x.ckpt", null)]
    [TestCase("last.ckpt", null)]
    [TestCase(".metrics.tmp-1234567890123.csv", null)]
    public void TemporaryOwner_ReadsThePidOfRunFilesOnly(string name, int? pid) =>
        Assert.That(RunFolder.TemporaryOwner(name), Is.EqualTo(pid));

    [Test]
    public void TemporaryPath_IsWhatTemporaryOwnerReads()
    {
        foreach (var f in RunFolder.Files)
            Assert.That(RunFolder.TemporaryOwner(Path.GetFileName(RunFolder.TemporaryPath(P(f), 31337))), Is.EqualTo(31337), f);
        Assert.That(Path.GetDirectoryName(RunFolder.TemporaryPath(P("last.ckpt"))), Is.EqualTo(Dir), "renamed within its folder");
    }

    [Test]
    public void RemoveDeadTemporaries_KeepsLiveProcessesFilesAndOthers()
    {
        int dead = DeadPid();
        Assert.That(RunFolder.IsAlive(dead), Is.False);
        Assert.That(RunFolder.IsAlive(Environment.ProcessId), Is.True);
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            Assert.That(RunFolder.IsAlive(sleeper.Id), Is.True);
            string deadCk = RunFolder.TemporaryPath(P("last.ckpt"), dead), deadCsv = RunFolder.TemporaryPath(P("metrics.csv"), dead);
            string old = P($"best.ckpt.tmp-{dead}"), mine = RunFolder.TemporaryPath(P("last.ckpt"));
            string live = RunFolder.TemporaryPath(P("losses.csv"), sleeper.Id), users = P($".notes.tmp-{dead}.txt"), ck = P("last.ckpt");
            foreach (var f in new[] { deadCk, deadCsv, old, mine, live, users, ck }) File.WriteAllText(f, "x");
            var removed = RunFolder.RemoveDeadTemporaries(Dir);
            Assert.That(removed, Is.EquivalentTo(new[] { deadCk, deadCsv, old }));
            foreach (var f in new[] { mine, live, users, ck }) Assert.That(File.Exists(f), f);
            Assert.That(RunFolder.RemoveDeadTemporaries(Dir), Is.Empty, "nothing more to remove");
            // with the decision injected: every pid dead but this process's
            Assert.That(RunFolder.RemoveDeadTemporaries(Dir, pid => pid == Environment.ProcessId), Is.EqualTo(new[] { live }));
        }
        finally { sleeper.Kill(); sleeper.WaitForExit(); }
    }

    [Test]
    public void NewRunBlockers_ReusesAFolderWithoutAFinishedEpoch()
    {
        Assert.That(RunFolder.NewRunBlockers(P("none")), Is.Null, "a folder that does not exist");
        Assert.That(RunFolder.NewRunBlockers(Dir), Is.Null, "an empty folder");
        // what a run killed before its first epoch was finished leaves: its losses.csv and temporary files
        RunFiles.WriteStepLosses(P("losses.csv"), [2.3f, 2.2f]);
        File.WriteAllText(RunFolder.TemporaryPath(P("last.ckpt"), DeadPid()), "half a checkpoint");
        Assert.That(RunFolder.NewRunBlockers(Dir), Is.Null);
        Assert.That(RunFolder.HasFinishedEpoch(Dir), Is.False);
    }

    [TestCase("last.ckpt", "already holds a run (last.ckpt); continue it with {Resume}")]
    [TestCase("best.ckpt", "already holds a run (best.ckpt); continue it with {Resume}")]
    [TestCase("metrics.csv", "already has metrics.csv, which a new run would overwrite; choose another {OutDir}.")]
    [TestCase("curves.png", "already has curves.png, which a new run would overwrite")]
    public void NewRunBlockers_RefusesWhatWouldBeOverwritten(string file, string why)
    {
        File.WriteAllText(P(file), "mine");
        Assert.That(RunFolder.NewRunBlockers(Dir), Does.StartWith(why));
        Assert.That(File.ReadAllText(P(file)), Is.EqualTo("mine"));
    }

    [Test]
    public void NewRunBlockers_RefusesSomeoneElsesLosses_AndALiveWriter()
    {
        File.WriteAllText(P("losses.csv"), "epoch,my loss\n1,0.5\n");
        Assert.That(RunFolder.NewRunBlockers(Dir), Does.StartWith("already has losses.csv"));
        File.Delete(P("losses.csv"));
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            File.WriteAllText(RunFolder.TemporaryPath(P("losses.csv"), sleeper.Id), "x");
            Assert.That(RunFolder.NewRunBlockers(Dir), Does.StartWith($"is being written by process {sleeper.Id}"));
        }
        finally { sleeper.Kill(); sleeper.WaitForExit(); }
    }

    [Test]
    public void ResumePoint_TheNewerCheckpoint_OrARefusalNamingResume()
    {
        var missing = Assert.Throws<SettingException>(() => RunFolder.ResumePoint(P("none")))!;
        Assert.That((missing.Setting, missing.Template), Is.EqualTo(("Resume", $"{{Resume}} {P("none")} does not exist.")));
        var empty = Assert.Throws<SettingException>(() => RunFolder.ResumePoint(Dir))!;
        Assert.That(empty.Template, Does.StartWith($"{{Resume}} {Dir} holds no finished epoch").And.Contain($"with {{OutDir}} {Dir}, which reuses"));

        Ck(1, 1).Save(P("best.ckpt"));                       // killed between best and last in the older order, first epoch
        Assert.That(RunFolder.ResumePoint(Dir) is var (a, pa) && a.Epoch == 1 && pa == P("best.ckpt"));
        Ck(2, 1).Save(P("last.ckpt"));
        Assert.That(RunFolder.ResumePoint(Dir) is var (b, pb) && b.Epoch == 2 && pb == P("last.ckpt"));
        Ck(3, 3).Save(P("best.ckpt"));                       // the older order again, a later epoch
        Assert.That(RunFolder.ResumePoint(Dir) is var (c, pc) && c.Epoch == 3 && pc == P("best.ckpt"));
        Ck(3, 3).Save(P("last.ckpt"));
        Assert.That(RunFolder.ResumePoint(Dir).Path, Is.EqualTo(P("last.ckpt")), "a tie: last.ckpt");

        File.WriteAllBytes(P("last.ckpt"), File.ReadAllBytes(P("last.ckpt"))[..40]);
        Assert.Throws<CheckpointException>(() => RunFolder.ResumePoint(Dir), "a damaged checkpoint is refused, not passed over");
    }

    [Test]
    public void Repair_KilledBetweenTheRenames_BringsBestAndMetricsToLast()
    {
        // epoch 2 was the best and committed (last.ckpt); the kill came before best.ckpt and metrics.csv followed,
        // after losses.csv had gone ahead (7 losses: one step more than last.ckpt's 6 as if a step were written early)
        Ck(1, 1).Save(P("best.ckpt"));
        RunFiles.WriteMetrics(P("metrics.csv"), Ck(1, 1).History);
        RunFiles.WriteStepLosses(P("losses.csv"), [1, 2, 3, 4, 5, 6, 7]);
        Ck(2, 2, marker: 5).Save(P("last.ckpt"));
        File.WriteAllText(RunFolder.TemporaryPath(P("best.ckpt"), DeadPid()), "half");
        var (ck, from) = RunFolder.ResumePoint(Dir);
        IReadOnlyList<float>? drawn = null;
        var done = RunFolder.Repair(Dir, ck, from, l => drawn = l);
        Assert.That(done, Has.Some.StartWith("removed .best.tmp-").And.Some.EqualTo("best.ckpt brought up to epoch 2")
                                  .And.Some.EqualTo("metrics.csv: 1 epoch rows -> 2"));
        Assert.That(File.ReadAllBytes(P("best.ckpt")), Is.EqualTo(File.ReadAllBytes(P("last.ckpt"))));
        Assert.That(Checkpoint.Load(P("best.ckpt")).Tensors[0].Data, Is.EqualTo(new[] { 2f, 5f }));
        var metrics = RunFiles.ReadMetrics(P("metrics.csv"));
        Assert.That(metrics.Rows.Count, Is.EqualTo(2));
        Assert.That(metrics["epoch"].Cast<int?>(), Is.EqualTo(new int?[] { 1, 2 }), "each epoch once");
        Assert.That(RunFiles.ReadStepLosses(P("losses.csv"), long.MaxValue), Is.EqualTo(new[] { 1f, 2, 3, 4, 5, 6 }), "no loss past last.ckpt's step");
        Assert.That(drawn, Is.EqualTo(new[] { 1f, 2, 3, 4, 5, 6 }));
        Assert.That(Directory.GetFiles(Dir, "*tmp*"), Is.Empty);
        Assert.That(RunFolder.Repair(Dir, ck, from), Is.Empty, "a consistent folder needs nothing");
    }

    [Test]
    public void Repair_BestNewerThanLast_RestoresLast_AndAStaleBestStaysWhenNotTheBest()
    {
        Ck(1, 1).Save(P("last.ckpt"));
        Ck(2, 2).Save(P("best.ckpt"));                       // the older best-then-last order, killed between
        var (ck, from) = RunFolder.ResumePoint(Dir);
        Assert.That(RunFolder.Repair(Dir, ck, from), Has.Some.EqualTo("last.ckpt restored from best.ckpt (epoch 2)"));
        Assert.That(Checkpoint.Load(P("last.ckpt")).Epoch, Is.EqualTo(2));

        // epoch 3 was not the best: best.ckpt of epoch 2 is right and stays
        Ck(3, 2).Save(P("last.ckpt"));
        byte[] best = File.ReadAllBytes(P("best.ckpt"));
        (ck, from) = RunFolder.ResumePoint(Dir);
        RunFolder.Repair(Dir, ck, from);
        Assert.That(File.ReadAllBytes(P("best.ckpt")), Is.EqualTo(best));
        Assert.That(RunFiles.ReadMetrics(P("metrics.csv")).Rows.Count, Is.EqualTo(3));
    }
}
