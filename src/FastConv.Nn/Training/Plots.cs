namespace FastConv.Nn;

/// <summary>
/// The notes' "visualizing what ConvNets learn": first-layer filters and the activation maps of one image,
/// each drawn as a grid of grey tiles (every tile scaled to its own min–max) with ScottPlot.
/// </summary>
public static class Plots
{
    /// <summary>The first convolution's filters [K, C, R, S]; channels are averaged (a colour filter becomes grey).</summary>
    public static void Filters(Sequential model, string path)
    {
        var conv = model.Layers.OfType<Conv2d>().FirstOrDefault()
            ?? throw new ArgumentException("The model has no convolution layer to draw.");
        var w = conv.Weight.Value.ToArray();
        int k = conv.OutChannels, c = conv.InChannels, r = conv.KernelSize, plane = r * r;
        var tiles = new double[k][,];
        for (int f = 0; f < k; f++)
        {
            tiles[f] = new double[r, r];
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < plane; i++) tiles[f][i / r, i % r] += w[(f * c + ch) * plane + i] / c;
        }
        Save(tiles, $"{conv.Name}: {k} filters {r}x{r}" + (c > 1 ? $" (mean of {c} channels)" : ""), path);
    }

    /// <summary>The output maps of a layer (default: the first ReLU, else the first convolution) for image 0 of the last forward pass.</summary>
    public static void Activations(Sequential model, string path, string? layerName = null)
    {
        var layer = layerName is null
            ? model.Layers.FirstOrDefault(l => l is ReLU && l.Output is { Rank: 4 }) ?? model.Layers.FirstOrDefault(l => l is Conv2d)
            : model.Layers.FirstOrDefault(l => l.Name == layerName);
        if (layer is null) throw new ArgumentException($"The model has no layer '{layerName}'; its layers are {string.Join(", ", model.Layers.Select(l => l.Name))}.");
        var y = layer.Output ?? throw new InvalidOperationException("Run a forward pass before drawing activations.");
        if (y.Rank != 4) throw new ArgumentException($"Layer {layer.Name} outputs {ShapeMath.Format(y.Shape)}, not maps [N, C, H, W].");
        int c = y.Dim(1), h = y.Dim(2), wd = y.Dim(3);
        var all = y.ToArray();
        var tiles = new double[c][,];
        for (int ch = 0; ch < c; ch++)
        {
            tiles[ch] = new double[h, wd];
            for (int i = 0; i < h * wd; i++) tiles[ch][i / wd, i % wd] = all[ch * h * wd + i];
        }
        Save(tiles, $"{layer.Name} ({layer.Kind}): {c} activation maps {h}x{wd}", path);
    }

    private static void Save(double[][,] tiles, string title, string path)
    {
        int n = tiles.Length, th = tiles[0].GetLength(0), tw = tiles[0].GetLength(1);
        int cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
        var grid = new double[rows * (th + 1) - 1, cols * (tw + 1) - 1];
        for (int i = 0; i < grid.GetLength(0); i++)
            for (int j = 0; j < grid.GetLength(1); j++) grid[i, j] = double.NaN;   // gaps between tiles
        for (int t = 0; t < n; t++)
        {
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            foreach (double v in tiles[t]) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
            double span = hi > lo ? hi - lo : 1;
            int r0 = t / cols * (th + 1), c0 = t % cols * (tw + 1);
            for (int i = 0; i < th; i++)
                for (int j = 0; j < tw; j++) grid[r0 + i, c0 + j] = (tiles[t][i, j] - lo) / span;
        }
        var plt = new ScottPlot.Plot();
        var hm = plt.Add.Heatmap(grid);
        hm.Colormap = new ScottPlot.Colormaps.Grayscale();
        hm.NaNCellColor = ScottPlot.Colors.White;
        plt.Title(title);
        plt.Axes.Frameless();
        plt.HideGrid();
        int scale = Math.Max(4, 640 / Math.Max(grid.GetLength(0), grid.GetLength(1)));
        RunFiles.Atomic(path, tmp => plt.SavePng(tmp, grid.GetLength(1) * scale + 40, grid.GetLength(0) * scale + 60));
    }
}
