using System.Diagnostics;
using System.Globalization;

namespace FastConv.Nn;

/// <summary>Median time of one op inside a training step, from the verbose log.</summary>
public sealed record OpTime(string Implementation, string Op, string Shape, double Milliseconds, int PerStep);

/// <summary>Training-step timings of a model on random data: the whole step, then every op it ran.</summary>
public sealed record StepBenchResult(string Model, string Backend, int Batch, int Threads, double[] StepMilliseconds, long StepFlops, IReadOnlyList<OpTime> Ops)
{
    public double MedianMilliseconds => StepMilliseconds.Order().ElementAt(StepMilliseconds.Length / 2);
    public double ImagesPerSecond => Batch / (MedianMilliseconds / 1000);
    public double Gflops => StepFlops / (MedianMilliseconds * 1e6);
}

public static class StepBench
{
    /// <summary>Warms up (at least 5 steps; up to 40 or 5 s, so tiered JIT has promoted everything a step calls),
    /// times <paramref name="steps"/> SGD steps, then runs as many again with FASTCONV_VERBOSE timing each op.</summary>
    public static StepBenchResult Run(IBackend be, string modelName, int[] inputShape, int batch, int steps)
    {
        using var model = ModelZoo.Create(modelName, be, inputShape, 10, seed: 1);
        using var loss = new SoftmaxCrossEntropyLoss(be);
        using var opt = new Sgd(model.Parameters.ToList(), 0.9f);
        using var trainer = new Trainer(model, loss, opt, new ConstantLr(0.01f), batch, seed: 1);
        using var x = be.Allocate([batch, .. inputShape]);
        using var y = be.Allocate([batch]);
        var r = new Random(1);
        x.CopyFrom(Enumerable.Range(0, (int)x.Length).Select(_ => r.NextSingle() * 2 - 1).ToArray());
        y.CopyFrom(Enumerable.Range(0, batch).Select(i => (float)(i % 10)).ToArray());
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 40 && (i < 5 || warm.Elapsed.TotalSeconds < 5); i++) trainer.TrainStep(x, y, 0.01f);
        var times = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            trainer.TrainStep(x, y, 0.01f);
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        var log = new StringWriter();
        var (writer, enabled) = (Verbose.Writer, Verbose.Enabled);
        try
        {
            Verbose.Writer = log; Verbose.Enabled = true;
            for (int i = 0; i < steps; i++) trainer.TrainStep(x, y, 0.01f);
        }
        finally
        {
            (Verbose.Writer, Verbose.Enabled) = (writer, enabled);
        }
        var ops = log.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line =>
            {
                // fastconv_verbose,exec,{implementation},{op},{shape},{ms}: the shape may itself hold commas
                var parts = line.Split(',');
                return (Impl: parts[2], Op: parts[3], Shape: string.Join(",", parts[4..^1]), Ms: double.Parse(parts[^1], CultureInfo.InvariantCulture));
            })
            .GroupBy(o => (o.Impl, o.Op, o.Shape))
            .Select(g => new OpTime(g.Key.Impl, g.Key.Op, g.Key.Shape, g.Select(o => o.Ms).Order().ElementAt(g.Count() / 2), g.Count() / steps))
            .OrderByDescending(o => o.Milliseconds * o.PerStep)
            .ToList();
        return new StepBenchResult(modelName, be.Name, batch, Parallelism.Threads, times, model.TrainingStepFlops(batch), ops);
    }
}
