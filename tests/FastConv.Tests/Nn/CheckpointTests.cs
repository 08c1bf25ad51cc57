using FastConv.Tests.Support;
using FastConv.Nn;

namespace FastConv.Tests.Nn;

/// <summary>
/// Runs in a temporary folder on a 600-image slice of the shipped Fashion-MNIST: checkpoint round trip,
/// resume that continues bit for bit, refusal of corrupt, truncated and mismatched files (changing nothing),
/// and a run folder that is never overwritten.
/// </summary>
[TestFixture]
public class CheckpointTests : TempDirectoryTests
{
    private static readonly RunSettings Tiny = new()
    {
        Model = "cs231n-3layer", Optimizer = "sgd", Epochs = 3, Batch = 50, Limit = 600, Validation = 100, Lr = 0.02f, Seed = 4,
    };

    private static IBackend Managed => BackendRegistry.Get("managed");

    private static float[][] Weights(Sequential m) => m.Parameters.Select(p => p.Value.ToArray()).ToArray();

    private static void AssertSameMetrics(IReadOnlyList<EpochMetrics> a, IReadOnlyList<EpochMetrics> b)
    {
        Assert.That(b, Has.Count.EqualTo(a.Count));
        for (int i = 0; i < a.Count; i++)
        {
            // Everything but the wall-clock columns, bit for bit.
            Assert.That((b[i].Epoch, b[i].LearningRate, b[i].TrainLoss, b[i].TrainAccuracy, b[i].ValidationLoss, b[i].ValidationAccuracy),
                Is.EqualTo((a[i].Epoch, a[i].LearningRate, a[i].TrainLoss, a[i].TrainAccuracy, a[i].ValidationLoss, a[i].ValidationAccuracy)), $"epoch {i + 1}");
        }
    }

    [Test]
    public void Run_WritesFiles_AndResumeContinuesBitForBit()
    {
        string full = Path.Combine(Dir, "full"), split = Path.Combine(Dir, "split");
        RunResult whole;
        float[][] wholeWeights;
        using (var run = TrainingRun.Start(Tiny, Managed, full))
        {
            whole = run.Run();
            wholeWeights = Weights(run.Model);
        }
        foreach (var f in new[] { "metrics.csv", "losses.csv", "curves.png", "filters.png", "best.ckpt", "last.ckpt" })
            Assert.That(File.Exists(Path.Combine(full, f)), f);
        Assert.That(Directory.GetFiles(full, "*tmp*"), Is.Empty, "temporary files left behind");
        var csv = RunFiles.ReadMetrics(Path.Combine(full, "metrics.csv"));
        Assert.That(csv.Rows.Count, Is.EqualTo(3));
        Assert.That(csv.Columns.Select(c => c.Name), Is.EqualTo(RunFiles.MetricColumns));
        Assert.That((double)csv["val_accuracy"][2], Is.EqualTo(whole.History[2].ValidationAccuracy).Within(1e-12));
        Assert.That(whole.Test.Accuracy, Is.GreaterThan(0.5), "600 images and 3 epochs should already beat chance by far");
        // Test is best.ckpt's evaluation, LastTest last.ckpt's: what `eval` gives for each file (every prediction; the
        // loss is a mean over other batch sizes there).
        Assert.That(whole.LastEpoch, Is.EqualTo(3));
        foreach (var (file, got) in new[] { ("best.ckpt", whole.Test), ("last.ckpt", whole.LastTest) })
        {
            var (_, e) = TrainingRun.EvaluateCheckpoint(Path.Combine(full, file), Managed);
            Assert.That(got.Count, Is.EqualTo(e.Count), file);
            Assert.That(got.Confusion, Is.EqualTo(e.Confusion), file + ": confusion matrix");
            Assert.That(got.Loss, Is.EqualTo(e.Loss).Within(1e-5), file);
        }

        // The same run interrupted during its second epoch (as Ctrl+C does), then resumed from last.ckpt.
        using (var run = TrainingRun.Start(Tiny, Managed, split))
        {
            using var cancel = new CancellationTokenSource();
            Assert.Throws<OperationCanceledException>(() => run.Run(new CancelAfterBatches(cancel, 12 + 3), cancel.Token));
        }
        using (var resumed = TrainingRun.Resume(split, Managed))
        {
            Assert.That(resumed.Trainer.Epoch, Is.EqualTo(1));
            var r = resumed.Run();
            AssertSameMetrics(whole.History, r.History);
            Assert.That(Weights(resumed.Model), Is.EqualTo(wholeWeights), "weights after resume differ from the uninterrupted run");
            Assert.That(r.Test.Accuracy, Is.EqualTo(whole.Test.Accuracy));
            var losses = RunFiles.ReadStepLosses(Path.Combine(full, "losses.csv"), long.MaxValue);
            Assert.That(losses, Has.Count.EqualTo(resumed.Trainer.Step));
            Assert.That(RunFiles.ReadStepLosses(Path.Combine(split, "losses.csv"), long.MaxValue), Is.EqualTo(losses),
                "the resumed run's per-step losses (curves.png) continue the interrupted ones exactly");
        }
    }

    /// <summary>Cancels after a number of batches (an epoch of the tiny run is 10 batches).</summary>
    private sealed class CancelAfterBatches(CancellationTokenSource cancel, int batches) : ITrainingObserver
    {
        private int _seen;
        public void BatchDone(int epoch, int batch, int count, double loss, double accuracy, double imagesPerSecond)
        {
            if (++_seen == batches) cancel.Cancel();
        }
    }

    [Test]
    public void Start_RefusesAFolderThatHoldsARun()
    {
        string dir = Path.Combine(Dir, "r");
        using (var run = TrainingRun.Start(Tiny with { Epochs = 1 }, Managed, dir)) run.Run();
        byte[] before = File.ReadAllBytes(Path.Combine(dir, "last.ckpt"));
        // The library names its own settings (OutDir, Resume), never a flag; the CLI words the template (CommandTests).
        var e = Assert.Throws<SettingException>(() => TrainingRun.Start(Tiny, Managed, dir))!;
        Assert.That(e.Setting, Is.EqualTo(TrainingRun.OutDirSetting));
        Assert.That(e.Message, Does.StartWith($"OutDir {dir} already holds a run (last.ckpt, best.ckpt); continue it with Resume {dir}, or choose another OutDir."));
        Assert.That(e.Template, Does.Contain("{Resume}").And.Contain("{OutDir}"));
        Assert.That(e.Message, Does.Not.Contain("--"));
        Assert.That(File.ReadAllBytes(Path.Combine(dir, "last.ckpt")), Is.EqualTo(before));
        var done = Assert.Throws<SettingException>(() => TrainingRun.Resume(dir, Managed))!;
        Assert.That(done.Setting, Is.EqualTo(TrainingRun.ResumeSetting));
        Assert.That(done.Message, Does.Contain("already finished 1 of 1").And.Contain("pass Epochs with a larger number").And.Not.Contain("--"));
        // a folder with only a metrics.csv of someone's is not overwritten either
        string other = Path.Combine(Dir, "other");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "metrics.csv"), "mine");
        var e2 = Assert.Throws<SettingException>(() => TrainingRun.Start(Tiny, Managed, other))!;
        Assert.That(e2.Message, Does.Contain("metrics.csv").And.Contain("overwrite").And.Contain("choose another OutDir."));
        Assert.That(File.ReadAllText(Path.Combine(other, "metrics.csv")), Is.EqualTo("mine"));
    }

    /// <summary>A communicator of <paramref name="size"/> ranks that is never called (the batch rule is checked first).</summary>
    private sealed class Ranks(int size) : FastConv.Nn.Distributed.ICommunicator
    {
        public int Rank => 0;
        public int Size => size;
        public void AllreduceSum(Span<float> data) => throw new InvalidOperationException("not expected");
        public void Broadcast(Span<float> data, int root = 0) => throw new InvalidOperationException("not expected");
        public void Barrier() => throw new InvalidOperationException("not expected");
        public void Abort(int code) => throw new InvalidOperationException("not expected");
        public void Dispose() { }
    }

    [Test]
    public void Start_BatchThatDoesNotSplitOverRanks_NamesTheSetting()
    {
        var e = Assert.Throws<SettingException>(() => TrainingRun.Start(Tiny with { Batch = 50 }, Managed, Path.Combine(Dir, "r"), communicator: new Ranks(3)))!;
        Assert.That(e.Setting, Is.EqualTo(nameof(RunSettings.Batch)));
        Assert.That(e.Message, Does.StartWith("Batch 50 (the global batch) does not split evenly over 3 processes: use a multiple of 3."));
        Assert.That(e.Render(n => "--" + n.ToLowerInvariant()), Does.StartWith("--batch 50 (the global batch)"));
    }

    private string SavedCheckpoint(out Sequential model)
    {
        model = ModelZoo.Create("lenet", Managed, [1, 28, 28], 10, seed: 7);
        var ck = new Checkpoint
        {
            Model = "lenet", InputShape = [1, 28, 28], ClassNames = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"],
            Normalization = new(new[] { 0.5f }, new[] { 0.25f }), Settings = new() { ["seed"] = "7" }, Epoch = 2, Step = 99,
            BestValidationAccuracy = 0.75, BestEpoch = 1,
            History = [new EpochMetrics(1, 0.1, 1.5, 0.6, 1.4, 0.75, 3.0, 1000)],
            Tensors = Checkpoint.Capture(model, null),
        };
        string path = Path.Combine(Dir, "m.ckpt");
        ck.Save(path);
        return path;
    }

    [Test]
    public void RoundTrip_RestoresEveryTensorAndField()
    {
        string path = SavedCheckpoint(out var source);
        using (source)
        {
            var ck = Checkpoint.Load(path);
            Assert.That((ck.Model, ck.Epoch, ck.Step, ck.BestEpoch, ck.BestValidationAccuracy), Is.EqualTo(("lenet", 2, 99L, 1, 0.75)));
            Assert.That(ck.Normalization.Mean, Is.EqualTo(new[] { 0.5f }));
            Assert.That(ck.History[0], Is.EqualTo(new EpochMetrics(1, 0.1, 1.5, 0.6, 1.4, 0.75, 3.0, 1000)));
            using var target = ModelZoo.Create("lenet", Managed, [1, 28, 28], 10, seed: 8);
            Assert.That(Weights(target), Is.Not.EqualTo(Weights(source)));
            ck.Restore(target, null);
            Assert.That(Weights(target), Is.EqualTo(Weights(source)));
        }
    }

    private static IEnumerable<TestCaseData> Damages()
    {
        yield return new TestCaseData((Func<byte[], byte[]>)(b => { b[b.Length / 2] ^= 0x40; return b; }), "corrupt").SetName("FlippedBit_IsCorrupt");
        yield return new TestCaseData((Func<byte[], byte[]>)(b => b[..(b.Length - 100)]), "truncated").SetName("Truncated");
        yield return new TestCaseData((Func<byte[], byte[]>)(b => b[..30]), "truncated").SetName("TruncatedInHeader");
        yield return new TestCaseData((Func<byte[], byte[]>)(b => { b[0] = (byte)'X'; return b; }), "not a FastConv checkpoint").SetName("WrongMagic");
        yield return new TestCaseData((Func<byte[], byte[]>)(b => { b[8] = 9; return b; }), "version 9").SetName("OtherVersion");
        yield return new TestCaseData((Func<byte[], byte[]>)(b => [.. b, 1, 2, 3]), "trailing").SetName("TrailingBytes");
    }

    [TestCaseSource(nameof(Damages))]
    public void DamagedFile_IsRefused_AndChangesNothing(Func<byte[], byte[]> damage, string expected)
    {
        string path = SavedCheckpoint(out var source);
        source.Dispose();
        File.WriteAllBytes(path, damage(File.ReadAllBytes(path)));
        using var target = ModelZoo.Create("lenet", Managed, [1, 28, 28], 10, seed: 8);
        var before = Weights(target);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path).Restore(target, null));
        Assert.That(e!.Message, Does.Contain(expected).And.Contain(path));
        Assert.That(Weights(target), Is.EqualTo(before));
    }

    [Test]
    public void OtherModel_IsRefused_AndChangesNothing()
    {
        string path = SavedCheckpoint(out var source);
        source.Dispose();
        using var target = ModelZoo.Create("cs231n-3layer", Managed, [1, 28, 28], 10, seed: 8);
        var before = Weights(target);
        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(path).Restore(target, null));
        Assert.That(e!.Message, Does.Contain("conv1.weight").And.Contain("shape"));
        Assert.That(Weights(target), Is.EqualTo(before));
    }

    [Test]
    public void SaveOverExisting_LeavesOnlyTheNewFile()
    {
        string path = SavedCheckpoint(out var m);
        using (m)
        {
            var ck = Checkpoint.Load(path);
            var newer = new Checkpoint
            {
                Model = ck.Model, InputShape = ck.InputShape, ClassNames = ck.ClassNames, Normalization = ck.Normalization,
                Epoch = 3, Tensors = ck.Tensors,
            };
            newer.Save(path);
            Assert.That(Checkpoint.Load(path).Epoch, Is.EqualTo(3));
            Assert.That(Directory.GetFiles(Dir), Has.Length.EqualTo(1));
        }
    }
}
