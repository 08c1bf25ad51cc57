using Microsoft.Data.Analysis;

namespace FastConv.Nn;

/// <summary>The files of a run folder: metrics.csv (a DataFrame), curves.png (ScottPlot), written atomically.</summary>
public static class RunFiles
{
    public static readonly string[] MetricColumns =
        ["epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "images_per_second"];

    public static DataFrame ToDataFrame(IReadOnlyList<EpochMetrics> history) => new(
        new PrimitiveDataFrameColumn<int>("epoch", history.Select(m => m.Epoch)),
        new PrimitiveDataFrameColumn<double>("lr", history.Select(m => m.LearningRate)),
        new PrimitiveDataFrameColumn<double>("train_loss", history.Select(m => m.TrainLoss)),
        new PrimitiveDataFrameColumn<double>("train_accuracy", history.Select(m => m.TrainAccuracy)),
        new PrimitiveDataFrameColumn<double>("val_loss", history.Select(m => m.ValidationLoss)),
        new PrimitiveDataFrameColumn<double>("val_accuracy", history.Select(m => m.ValidationAccuracy)),
        new PrimitiveDataFrameColumn<double>("seconds", history.Select(m => m.Seconds)),
        new PrimitiveDataFrameColumn<double>("images_per_second", history.Select(m => m.ImagesPerSecond)));

    public static void WriteMetrics(string path, IReadOnlyList<EpochMetrics> history) =>
        Atomic(path, tmp => DataFrame.SaveCsv(ToDataFrame(history), tmp));

    /// <summary>Reads metrics.csv back (what plots and tests read).</summary>
    public static DataFrame ReadMetrics(string path) =>
        DataFrame.LoadCsv(path, dataTypes: [typeof(int), typeof(double), typeof(double), typeof(double), typeof(double), typeof(double), typeof(double), typeof(double)]);

    /// <summary>losses.csv: the training loss of every step (columns step, loss).</summary>
    public static void WriteStepLosses(string path, IReadOnlyList<float> losses) =>
        Atomic(path, tmp => DataFrame.SaveCsv(new DataFrame(
            new PrimitiveDataFrameColumn<long>("step", Enumerable.Range(1, losses.Count).Select(i => (long)i)),
            new PrimitiveDataFrameColumn<float>("loss", losses)), tmp));

    /// <summary>The first <paramref name="steps"/> losses of losses.csv (a resumed run continues them); none when the file
    /// is missing (a run from before it was written), so curves.png then starts at the resumed step.</summary>
    public static IReadOnlyList<float> ReadStepLosses(string path, long steps)
    {
        if (!File.Exists(path)) return [];
        var df = DataFrame.LoadCsv(path, dataTypes: [typeof(long), typeof(float)]);
        return df["loss"].Cast<float?>().Take((int)Math.Min(steps, df.Rows.Count)).Select(v => v ?? float.NaN).ToList();
    }

    /// <summary>
    /// The notes' loss plot: the training loss of every iteration (faint) and its moving average, with the validation
    /// loss at the end of each epoch (points); train and validation accuracy per epoch on the right axis. One epoch
    /// already draws a whole curve. Without step losses (an old run resumed) the epochs alone are drawn.
    /// </summary>
    public static void WriteCurves(string path, IReadOnlyList<EpochMetrics> history, IReadOnlyList<float> stepLosses, int stepsPerEpoch, string title)
    {
        var plt = new ScottPlot.Plot();
        int skipped = history.Count * stepsPerEpoch - stepLosses.Count;   // steps before losses.csv began
        double[] ends = history.Select(m => (double)m.Epoch * stepsPerEpoch).ToArray();
        if (stepLosses.Count > 0)
        {
            double[] x = Enumerable.Range(skipped + 1, stepLosses.Count).Select(i => (double)i).ToArray();
            var raw = plt.Add.ScatterLine(x, stepLosses.Select(v => (double)v).ToArray());
            raw.LegendText = "train loss (per iteration)";
            raw.Color = ScottPlot.Colors.SteelBlue.WithAlpha(0.35);
            int window = Math.Max(1, stepLosses.Count / 40);
            var smooth = plt.Add.ScatterLine(x, MovingAverage(stepLosses, window));
            smooth.LegendText = $"train loss (mean of {window})";
            smooth.Color = ScottPlot.Colors.Navy;
            smooth.LineWidth = 2;
        }
        void Points(IEnumerable<double> ys, string label, bool right, ScottPlot.Color color, ScottPlot.MarkerShape shape)
        {
            var s = plt.Add.Scatter(ends, ys.ToArray());
            s.LegendText = label;
            s.Color = color;
            s.MarkerShape = shape;
            s.MarkerSize = 10;
            s.LinePattern = ScottPlot.LinePattern.Dashed;
            if (right) s.Axes.YAxis = plt.Axes.Right;
        }
        Points(history.Select(m => m.ValidationLoss), "validation loss (per epoch)", false, ScottPlot.Colors.OrangeRed, ScottPlot.MarkerShape.FilledCircle);
        Points(history.Select(m => m.TrainAccuracy), "train accuracy (per epoch)", true, ScottPlot.Colors.SeaGreen, ScottPlot.MarkerShape.FilledSquare);
        Points(history.Select(m => m.ValidationAccuracy), "validation accuracy (per epoch)", true, ScottPlot.Colors.DarkGreen, ScottPlot.MarkerShape.OpenSquare);
        plt.Title(title);
        plt.XLabel($"iteration ({stepsPerEpoch} per epoch)");
        plt.Axes.Left.Label.Text = "loss";
        plt.Axes.Right.Label.Text = "accuracy";
        plt.Axes.SetLimitsX(0, Math.Max(1, ends.LastOrDefault()) * 1.02);
        plt.Axes.SetLimitsY(0, 1.05, plt.Axes.Right);   // accuracy on its whole range, so one epoch's point reads in context
        plt.ShowLegend(ScottPlot.Edge.Bottom);   // outside the data: a legend inside hides the single points of a one-epoch run
        Atomic(path, tmp => plt.SavePng(tmp, 900, 560));
    }

    /// <summary>The mean of each value and the window − 1 before it (fewer at the start).</summary>
    private static double[] MovingAverage(IReadOnlyList<float> v, int window)
    {
        var r = new double[v.Count];
        double sum = 0;
        for (int i = 0; i < v.Count; i++)
        {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            r[i] = sum / Math.Min(i + 1, window);
        }
        return r;
    }

    /// <summary>Writes through a temporary file in the same folder (<see cref="RunFolder.TemporaryPath"/>) and renames it
    /// over <paramref name="path"/>: a reader, or a process after a kill, sees the old file or the new one, whole. (A
    /// rename is atomic for a kill; against a power cut the data would also have to be flushed, as checkpoints are.)</summary>
    public static void Atomic(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = RunFolder.TemporaryPath(full);
        try
        {
            write(tmp);
            TestHook.Pause("before-rename:" + Path.GetFileName(full));
            File.Move(tmp, full, overwrite: true);
            TestHook.Pause("after-rename:" + Path.GetFileName(full));
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
