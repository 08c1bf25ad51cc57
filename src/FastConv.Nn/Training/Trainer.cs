using System.Diagnostics;
using System.Numerics.Tensors;
using FastConv.Nn.Data;
using FastConv.Nn.Distributed;

namespace FastConv.Nn;

/// <summary>What a training run reports while it runs; the CLI draws a progress bar from it.</summary>
public interface ITrainingObserver
{
    void EpochStarted(int epoch, int epochs, int batches) { }
    /// <summary>After each batch: running mean loss and accuracy of the epoch so far, and images per second.</summary>
    void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond) { }
    void EpochDone(EpochMetrics metrics, bool best) { }
}

/// <summary>Loss, accuracy and confusion matrix of a model over a data set; with mirror averaging (BatchLoader.MirrorAverage)
/// they are of the averaged scores, and <see cref="SingleViewAccuracy"/> is the accuracy of the images alone.</summary>
public sealed record Evaluation(double Loss, double Accuracy, int[,] Confusion, IReadOnlyList<string> ClassNames, double Seconds)
{
    /// <summary>With mirror averaging: the accuracy of the unflipped images' own scores (the same pass's first view); else null.</summary>
    public double? SingleViewAccuracy { get; init; }

    public int Count { get; } = Sum(Confusion);
    private static int Sum(int[,] m) { int s = 0; foreach (int v in m) s += v; return s; }

    /// <summary>Recall per class: correct / examples of that class.</summary>
    public double[] PerClassAccuracy()
    {
        int k = Confusion.GetLength(0);
        var a = new double[k];
        for (int i = 0; i < k; i++)
        {
            int row = 0;
            for (int j = 0; j < k; j++) row += Confusion[i, j];
            a[i] = row == 0 ? double.NaN : (double)Confusion[i, i] / row;
        }
        return a;
    }
}

/// <summary>
/// The epoch loop: shuffled mini-batches, forward, loss, backward, optimizer step, learning-rate schedule;
/// validation after each epoch; metrics kept per epoch. Batch tensors are allocated once. Given the same seed,
/// backend and thread count, a run produces the same numbers bit for bit, and a run resumed from a
/// checkpoint continues exactly as if it had not stopped (shuffles, augmentation and dropout masks are drawn
/// from (seed, epoch, step), not from state that lives only in memory).
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly Tensor _x, _labels;
    private readonly float[] _scores, _y;
    private float[]? _mirrorScores; // allocated at the first mirror-averaged evaluation, then reused
    private readonly int _classes;

    public Trainer(Sequential model, Loss loss, Optimizer optimizer, LrSchedule schedule, int batchSize, int seed)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "Batch size must be at least 1.");
        if (model.OutputShape.Length != 1) throw new ArgumentException($"Trainer: the model must output class scores [N, K], it outputs [N, {string.Join(", ", model.OutputShape)}].");
        Model = model; Loss = loss; Optimizer = optimizer; Schedule = schedule; BatchSize = batchSize; Seed = seed;
        _classes = model.OutputShape[0];
        _x = model.Backend.Allocate([batchSize, .. model.InputShape]);
        _labels = model.Backend.Allocate([batchSize]);
        _scores = new float[batchSize * _classes];
        _y = new float[batchSize];
    }

    public Sequential Model { get; }
    public Loss Loss { get; }
    public Optimizer Optimizer { get; }
    public LrSchedule Schedule { get; }
    public int BatchSize { get; }
    public int Seed { get; }
    /// <summary>Epochs completed.</summary>
    public int Epoch { get; set; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; set; }
    public List<EpochMetrics> History { get; } = [];
    /// <summary>The training loss of every step, in order (what curves.png plots per iteration).</summary>
    public List<float> StepLosses { get; } = [];
    public double BestValidationAccuracy { get; set; } = double.NegativeInfinity;
    public int BestEpoch { get; set; }
    public ITrainingObserver? Observer { get; set; }
    /// <summary>Data-parallel training over several processes, or null for one. With it, <see cref="BatchSize"/> is this
    /// rank's share of each global batch (BatchSize × ranks), gradients are averaged over the ranks before every step, and
    /// the losses, accuracies and images/s reported are those of the global batch.</summary>
    public DataParallel? Parallel { get; set; }

    /// <summary>One optimizer step on a batch (x [B, C, H, W], labels [B]) at learning rate <paramref name="lr"/>; returns the loss.</summary>
    public float TrainStep(Tensor x, Tensor labels, float lr) => TrainStep(x, labels, lr, countCorrect: false).Loss;

    /// <summary>Forward, loss, backward, (with <see cref="Parallel"/>: the gradient allreduce, which also sums the loss
    /// and correct count over the ranks), optimizer step.</summary>
    private (float Loss, long Correct) TrainStep(Tensor x, Tensor labels, float lr, bool countCorrect)
    {
        // Dropout masks differ per rank (each holds other examples); one process draws them as before.
        long maskStep = Parallel is { Size: > 1 } dp ? Step * dp.Size + dp.Rank : Step;
        var scores = Model.Forward(x, training: true, step: maskStep);
        float l = Loss.Forward(scores, labels);
        Model.Backward(Loss.Backward());
        long correct = countCorrect ? CountCorrect(Model.Layers[^1].Output!, BatchSize) : 0;
        if (Parallel is { } p)
        {
            Span<float> sums = [l / p.Size, correct];
            p.ReduceGradients(sums);
            (l, correct) = (sums[0], (long)sums[1]);
        }
        Optimizer.Step(lr);
        Step++;
        return (l, correct);
    }

    /// <summary>Runs one epoch of training over <paramref name="train"/>, then evaluates <paramref name="validation"/>.
    /// Returns the epoch's metrics and whether validation accuracy was the best so far.</summary>
    public (EpochMetrics Metrics, bool Best) RunEpoch(BatchLoader train, BatchLoader validation, int epochs, CancellationToken cancel = default)
    {
        if (train.BatchSize != BatchSize) throw new ArgumentException($"Trainer: loader batch {train.BatchSize} differs from the trainer's {BatchSize}.");
        int epoch = Epoch;
        // Several ranks: global batch b is order[b·global ..], and this rank reads its own slice of it.
        int ranks = Parallel?.Size ?? 1, rank = Parallel?.Rank ?? 0, global = BatchSize * ranks;
        int batches = train.Data.Count / global;
        if (batches == 0) throw new ArgumentException($"Trainer: {train.Data.Count} training examples do not fill one batch of {global}.");
        var order = train.Order(Seed, epoch);
        var augment = train.Augmentation.IsNone ? null : new Random(unchecked(Seed * 31 + epoch + rank * 1_000_003));
        Observer?.EpochStarted(epoch + 1, epochs, batches);
        double lossSum = 0; long correct = 0, seen = 0;
        var sw = Stopwatch.StartNew();
        double lr = 0;
        for (int b = 0; b < batches; b++)
        {
            cancel.ThrowIfCancellationRequested();
            train.Fill(order, b * global + rank * BatchSize, _x, _labels, augment);
            lr = Schedule.Rate(epoch + (double)b / batches);
            var (l, c) = TrainStep(_x, _labels, (float)lr, countCorrect: true);
            if (!float.IsFinite(l))
                throw new InvalidOperationException($"Training diverged: loss is {l} at epoch {epoch + 1}, batch {b + 1} (learning rate {lr:g3}). Try a smaller learning rate.");
            lossSum += l;
            StepLosses.Add(l);
            correct += c;
            seen += global;
            Observer?.BatchDone(epoch + 1, b + 1, batches, lossSum / (b + 1), (double)correct / seen, seen / sw.Elapsed.TotalSeconds);
        }
        double seconds = sw.Elapsed.TotalSeconds;
        var val = Evaluate(validation);
        Epoch = epoch + 1;
        var m = new EpochMetrics(Epoch, lr, lossSum / batches, (double)correct / seen, val.Loss, val.Accuracy, seconds, seen / seconds);
        History.Add(m);
        bool best = m.ValidationAccuracy > BestValidationAccuracy;
        if (best) { BestValidationAccuracy = m.ValidationAccuracy; BestEpoch = Epoch; }
        Observer?.EpochDone(m, best);
        return (m, best);
    }

    private int CountCorrect(Tensor scores, int rows)
    {
        scores.CopyTo(_scores);
        _labels.CopyTo(_y);
        int c = 0;
        for (int i = 0; i < rows; i++) if (ArgMax(_scores.AsSpan(i * _classes, _classes)) == (int)_y[i]) c++;
        return c;
    }

    private static int ArgMax(ReadOnlySpan<float> s)
    {
        int best = 0;
        for (int j = 1; j < s.Length; j++) if (s[j] > s[best]) best = j;
        return best;
    }

    /// <summary>Loss (the trainer's loss function, without regularisation), accuracy and confusion matrix, in inference mode.</summary>
    public Evaluation Evaluate(BatchLoader data)
    {
        if (data.BatchSize != BatchSize) throw new ArgumentException($"Trainer: loader batch {data.BatchSize} differs from the trainer's {BatchSize}.");
        if (data.MirrorAverage) _mirrorScores ??= new float[_scores.Length];
        return Evaluate(Model, Loss, data, _x, _labels, _scores, _y, _mirrorScores);
    }

    /// <summary>The same evaluation for a model outside a training run (no optimizer needed); allocates one batch.</summary>
    public static Evaluation Evaluate(Sequential model, Loss loss, BatchLoader data)
    {
        using var x = model.Backend.Allocate([data.BatchSize, .. model.InputShape]);
        using var labels = model.Backend.Allocate([data.BatchSize]);
        int classes = model.OutputShape[0];
        return Evaluate(model, loss, data, x, labels, new float[data.BatchSize * classes], new float[data.BatchSize],
            data.MirrorAverage ? new float[data.BatchSize * classes] : null);
    }

    private static Evaluation Evaluate(Sequential model, Loss loss, BatchLoader data, Tensor x, Tensor labels, float[] scoresHost, float[] labelsHost,
        float[]? mirrorHost)
    {
        var sw = Stopwatch.StartNew();
        int classes = model.OutputShape[0];
        var order = Enumerable.Range(0, data.Data.Count).ToArray();
        var confusion = new int[classes, classes];
        double total = 0;
        int singleCorrect = 0;
        for (int b = 0; b < data.EvalBatches; b++)
        {
            int rows = data.Fill(order, b * data.BatchSize, x, labels);
            model.Forward(x, training: false).CopyTo(scoresHost);
            labels.CopyTo(labelsHost);
            if (data.MirrorAverage)
            {
                for (int i = 0; i < rows; i++) if (ArgMax(scoresHost.AsSpan(i * classes, classes)) == (int)labelsHost[i]) singleCorrect++;
                data.Fill(order, b * data.BatchSize, x, labels, mirror: true);
                model.Forward(x, training: false).CopyTo(mirrorHost!);
                TensorPrimitives.Add(scoresHost, mirrorHost, scoresHost);
                TensorPrimitives.Multiply(scoresHost, 0.5f, scoresHost);
            }
            for (int i = 0; i < rows; i++)
            {
                var s = scoresHost.AsSpan(i * classes, classes);
                int y = (int)labelsHost[i];
                total += loss.ExampleLoss(s, y);
                confusion[y, ArgMax(s)]++;
            }
        }
        int correct = 0;
        for (int i = 0; i < classes; i++) correct += confusion[i, i];
        return new Evaluation(total / data.Data.Count, (double)correct / data.Data.Count, confusion, data.Data.ClassNames, sw.Elapsed.TotalSeconds)
            { SingleViewAccuracy = data.MirrorAverage ? (double)singleCorrect / data.Data.Count : null };
    }

    public void Dispose()
    {
        _x.Dispose();
        _labels.Dispose();
    }
}
