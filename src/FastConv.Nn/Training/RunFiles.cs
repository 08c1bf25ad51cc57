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

    /// <summary>Loss (left axis) and accuracy (right axis) per epoch, train and validation.</summary>
    public static void WriteCurves(string path, IReadOnlyList<EpochMetrics> history, string title)
    {
        var plt = new ScottPlot.Plot();
        double[] x = history.Select(m => (double)m.Epoch).ToArray();
        void Line(IEnumerable<double> ys, string label, bool right, ScottPlot.LinePattern pattern)
        {
            var s = plt.Add.Scatter(x, ys.ToArray());
            s.LegendText = label;
            s.LinePattern = pattern;
            if (right) s.Axes.YAxis = plt.Axes.Right;
        }
        Line(history.Select(m => m.TrainLoss), "train loss", false, ScottPlot.LinePattern.Solid);
        Line(history.Select(m => m.ValidationLoss), "validation loss", false, ScottPlot.LinePattern.Dashed);
        Line(history.Select(m => m.TrainAccuracy), "train accuracy", true, ScottPlot.LinePattern.Solid);
        Line(history.Select(m => m.ValidationAccuracy), "validation accuracy", true, ScottPlot.LinePattern.Dashed);
        plt.Title(title);
        plt.XLabel("epoch");
        plt.Axes.Left.Label.Text = "loss";
        plt.Axes.Right.Label.Text = "accuracy";
        plt.ShowLegend(ScottPlot.Alignment.MiddleRight);
        Atomic(path, tmp => plt.SavePng(tmp, 900, 560));
    }

    /// <summary>Writes through a temporary file in the same folder and renames it over <paramref name="path"/>.</summary>
    public static void Atomic(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.tmp-{Environment.ProcessId}{Path.GetExtension(full)}");
        try
        {
            write(tmp);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
