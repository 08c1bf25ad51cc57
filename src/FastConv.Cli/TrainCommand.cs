using System.Globalization;
using FastConv.Nn;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>Runs a training run with a live progress bar (or one line per epoch when the output is not a terminal).</summary>
internal static class TrainCommand
{
    public static int Execute(TrainingRun run, Nn.Distributed.MpiCommunicator? comm = null)
    {
        var s = run.Settings;
        AnsiConsole.MarkupLine($"[bold]fastconv train[/]: {Markup.Escape(s.Model)} on {Markup.Escape(s.Data)} " +
            $"({run.TrainData.Count} train / {run.ValidationData.Count} validation / {run.TestData.Count} test images), " +
            $"backend [bold]{Markup.Escape(run.Backend.Name)}[/], {Parallelism.Threads} thread(s)");
        AnsiConsole.MarkupLine($"  {s.Epochs} epochs, batch {s.Batch}, {s.Optimizer} lr {s.BaseLr} ({s.Schedule}), weight decay {s.WeightDecay}, " +
            $"{s.Loss} loss{(s.LabelSmoothing > 0 ? $" (label smoothing {s.LabelSmoothing.ToString(CultureInfo.InvariantCulture)})" : "")}, seed {s.Seed}, {run.Model.ParameterCount:N0} parameters → [link]{Markup.Escape(run.OutDir)}[/]");
        if (s.MirrorAverage)
            AnsiConsole.MarkupLine("  validation and test average each image's scores with its mirror image's (--tta none: the images alone)");
        if (comm is not null) DistributedTrain.Describe(run, comm);
        int epochsBefore = run.Trainer.Epoch;

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        RunResult result;
        try
        {
            if (AnsiConsole.Profile.Capabilities.Interactive)
            {
                result = null!;
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                    .Start(ctx => result = run.Run(new BarObserver(ctx), cancel.Token));
            }
            else
            {
                result = run.Run(new LineObserver(), cancel.Token);
            }
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLine($"[yellow]Stopped.[/] Completed epochs are saved; continue with: fastconv train --resume {Markup.Escape(run.OutDir)}");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        Reports.History(result.History, result.BestEpoch);
        var last = result.History[^1];
        double meanIps = result.History.Average(m => m.ImagesPerSecond);
        AnsiConsole.MarkupLine($"Training speed: [bold]{meanIps:N0} images/s[/] (mean over epochs; last epoch {last.ImagesPerSecond:N0}).");
        DistributedTrain.Report(run, epochsBefore);
        AnsiConsole.MarkupLine($"Test accuracy of best.ckpt (epoch {result.BestEpoch}): [bold green]{result.Test.Accuracy:P2}[/]{Reports.Views(result.Test)} " +
            $"on {result.Test.Count} test images, loss {result.Test.Loss:0.0000}.");
        if (result.BestEpoch != result.LastEpoch)
            AnsiConsole.MarkupLine($"Test accuracy of last.ckpt (epoch {result.LastEpoch}): [bold]{result.LastTest.Accuracy:P2}[/]{Reports.Views(result.LastTest)}, " +
                                   $"loss {result.LastTest.Loss:0.0000}.");
        AnsiConsole.MarkupLine($"Files: {Markup.Escape(Path.Combine(result.OutDir, "metrics.csv"))}, curves.png, best.ckpt, last.ckpt. " +
            $"Confusion matrix: fastconv eval --checkpoint {Markup.Escape(Path.Combine(result.OutDir, TrainingRun.BestCheckpoint))}");
        return 0;
    }

    private sealed class BarObserver(ProgressContext ctx) : ITrainingObserver
    {
        private ProgressTask? _task;

        public void EpochStarted(int epoch, int epochs, int batches) =>
            _task = ctx.AddTask($"epoch {epoch}/{epochs}", maxValue: batches);

        public void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond)
        {
            if (_task is null) return;
            _task.Value = batch;
            if (batch % 10 == 0 || batch == batches)
                _task.Description = $"epoch {epoch} loss {loss:0.000} acc {accuracy:P1} {imagesPerSecond:N0} img/s";
        }

        public void EpochDone(EpochMetrics m, bool best)
        {
            if (_task is not null) _task.Description = $"epoch {m.Epoch} loss {m.TrainLoss:0.000} acc {m.TrainAccuracy:P1} val {m.ValidationAccuracy:P2}{(best ? " *" : "")}";
            _task?.StopTask();
        }
    }

    /// <summary>For logs and CI: a line every tenth of an epoch and one per epoch.</summary>
    private sealed class LineObserver : ITrainingObserver
    {
        public void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond)
        {
            int every = Math.Max(1, batches / 10);
            if (batch % every == 0 && batch != batches)
                Console.WriteLine($"  epoch {epoch} [{batch}/{batches}] loss {loss:0.0000} acc {accuracy:P2} {imagesPerSecond:N0} img/s");
        }

        public void EpochDone(EpochMetrics m, bool best) =>
            Console.WriteLine($"epoch {m.Epoch}: train loss {m.TrainLoss:0.0000} acc {m.TrainAccuracy:P2} | val loss {m.ValidationLoss:0.0000} " +
                              $"acc {m.ValidationAccuracy:P2}{(best ? " (best)" : "")} | {m.Seconds:0.0} s, {m.ImagesPerSecond:N0} img/s, lr {m.LearningRate:g3}");
    }
}
