using SkiaSharp;

namespace FastConv.Nn;

/// <summary>
/// The notes' "visualizing what ConvNets learn", drawn with SkiaSharp and ScottPlot's colormaps: first-layer filters
/// (RGB for colour input, each scaled to its own range), every conv layer's activation maps (one colour scale per
/// layer, shown), the input image with its class and the top-3 predictions, a saliency map and an occlusion map.
/// Every picture has a title that says what it shows; tiles are numbered.
/// </summary>
public static class Plots
{
    private const int Margin = 16, TitleHeight = 30, LineHeight = 20, ScaleWidth = 70, Gap = 4;
    private static readonly ScottPlot.IColormap MapColors = new ScottPlot.Colormaps.Viridis(), Grey = new ScottPlot.Colormaps.Grayscale();

    /// <summary>A picture of h × w values per channel: one channel is drawn through a colormap, three as RGB.</summary>
    public sealed record Picture(int Channels, int Height, int Width, float[] Values);

    /// <summary>The first convolution's filters [K, C, R, S], each normalised to its own min–max: RGB when C is 3,
    /// otherwise grey (the channels averaged), each drawn about 64 pixels wide (at least 8 a tap).</summary>
    public static void Filters(Sequential model, string path)
    {
        var conv = model.Layers.OfType<Conv2d>().FirstOrDefault()
            ?? throw new ArgumentException("The model has no convolution layer to draw.");
        var w = conv.Weight.Value.ToArray();
        int k = conv.OutChannels, c = conv.InChannels, r = conv.KernelSize, plane = r * r;
        bool rgb = c == 3;
        var tiles = new Picture[k];
        for (int f = 0; f < k; f++)
        {
            var v = new float[(rgb ? 3 : 1) * plane];
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < plane; i++)
                    if (rgb) v[ch * plane + i] = w[(f * c + ch) * plane + i];
                    else v[i] += w[(f * c + ch) * plane + i] / c;
            tiles[f] = new Picture(rgb ? 3 : 1, r, r, Rescale(v));
        }
        string what = rgb ? $"{c} channels as RGB" : c == 1 ? "grey" : $"mean of {c} channels";
        Draw(path, Grid(tiles, Math.Max(64, r * 8) / r, 0, 1, rgb ? null : Grey,
            $"{conv.Name}: {k} first-layer filters {r}x{r}x{c} ({what}), each scaled to its own min-max"), null);
    }

    /// <summary>One picture per conv layer's output for image 0 of the last forward pass: a grid of its K maps on one
    /// colour scale (from the layer's smallest to its largest value, shown beside it), tiles numbered.</summary>
    public static IReadOnlyList<string> Activations(Sequential model, string dir, string caption)
    {
        var written = new List<string>();
        foreach (var conv in model.Layers.OfType<Conv2d>())
        {
            var y = conv.Output ?? throw new InvalidOperationException("Run a forward pass before drawing activations.");
            int k = y.Dim(1), h = y.Dim(2), wd = y.Dim(3);
            var all = y.ToArray().AsSpan(0, k * h * wd).ToArray();
            float lo = all.Min(), hi = all.Max();
            var tiles = new Picture[k];
            for (int ch = 0; ch < k; ch++) tiles[ch] = new Picture(1, h, wd, all[(ch * h * wd)..((ch + 1) * h * wd)]);
            string relu = conv.FusedActivation == Activation.Relu ? " + ReLU" : "";
            int cell = Math.Max(2, 96 / Math.Max(h, wd));
            string path = Path.Combine(dir, $"activations-{conv.Name}.png");
            int zero = all.Count(v => v == 0);
            Draw(path, Grid(tiles, cell, lo, hi, MapColors,
                    $"{conv.Name}{relu}: {k} activation maps {h}x{wd} (output {wd}x{h}x{k}), {caption}",
                    $"one colour scale for the layer: {lo:0.###} to {hi:0.###}; {100.0 * zero / all.Length:0}% of the values are 0"),
                (lo, hi));
            written.Add(path);
        }
        return written;
    }

    /// <summary>The input image, its true class and the top-3 predicted classes with their probabilities as bars.</summary>
    public static void Input(Picture image, string title, string truth, IReadOnlyList<(string Name, double P)> top, string path)
    {
        int cell = Math.Max(4, 224 / Math.Max(image.Height, image.Width));
        int iw = image.Width * cell, ih = image.Height * cell, barsW = 300;
        int width = Math.Max(Margin * 3 + iw + barsW, (int)TextWidth(title, 16, bold: true) + 2 * Margin), height = TitleHeight + Margin * 2 + Math.Max(ih, LineHeight * (2 * top.Count + 2));
        using var s = SKSurface.Create(new SKImageInfo(width, height));
        var g = s.Canvas;
        g.Clear(SKColors.White);
        Text(g, title, Margin, Margin + 18, 16, bold: true);
        DrawPicture(g, image, Margin, TitleHeight + Margin, cell, 0, 1, image.Channels == 3 ? null : Grey);
        float x0 = Margin * 2 + iw, yy = TitleHeight + Margin + 16;
        Text(g, $"true class: {truth}", x0, yy, 15, bold: true);
        yy += LineHeight * 1.5f;
        Text(g, "top-3 predictions:", x0, yy, 14);
        foreach (var (name, p) in top)
        {
            yy += LineHeight;
            using var bar = new SKPaint { Color = name == truth ? new SKColor(40, 150, 60) : new SKColor(200, 80, 60) };
            g.DrawRect(x0, yy - 12, (float)(p * (barsW - 20)), 14, bar);
            yy += LineHeight;
            Text(g, $"{name}  {p:P1}", x0, yy - 4, 13);
        }
        Save(s, path);
    }

    /// <summary>The input beside a map over its pixels (saliency, occlusion), the map on its own colour scale.</summary>
    public static void Map(Picture image, float[] map, string title, string subtitle, string path, (float Lo, float Hi)? scale = null)
    {
        var m = new Picture(1, image.Height, image.Width, map);
        var (lo, hi) = scale ?? (map.Min(), map.Max());
        int cell = Math.Max(4, 224 / Math.Max(image.Height, image.Width));
        var layout = new Layout(title, subtitle, 2 * image.Width * cell + Margin, image.Height * cell, (g, x, y) =>
        {
            DrawPicture(g, image, x, y, cell, 0, 1, image.Channels == 3 ? null : Grey);
            DrawPicture(g, m, x + image.Width * cell + Margin, y, cell, lo, hi, MapColors);
        });
        Draw(path, layout, (lo, hi));
    }

    /// <summary>What a picture holds: a title, a subtitle, a body of a given size and how to draw it.</summary>
    private sealed record Layout(string Title, string? Subtitle, int BodyWidth, int BodyHeight, Action<SKCanvas, int, int> Body);

    /// <summary>Numbered tiles in ⌈√n⌉ columns; lo == hi means each tile on its own scale (filters), else one scale for all.</summary>
    private static Layout Grid(Picture[] tiles, int cell, float lo, float hi, ScottPlot.IColormap? colors, string title, string? subtitle = null)
    {
        int n = tiles.Length, cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
        int tw = tiles[0].Width * cell, th = tiles[0].Height * cell, label = 14;
        return new Layout(title, subtitle, cols * (tw + Gap) - Gap, rows * (th + label + Gap) - Gap, (g, x, y) =>
        {
            for (int t = 0; t < n; t++)
            {
                int tx = x + t % cols * (tw + Gap), ty = y + t / cols * (th + label + Gap);
                Text(g, t.ToString(), tx, ty + 11, 11);
                DrawPicture(g, tiles[t], tx, ty + label, cell, lo, hi, colors);
            }
        });
    }

    /// <summary>Renders a layout with its titles and, when <paramref name="scale"/> is given, a colour bar with its values.</summary>
    private static void Draw(string path, Layout l, (float Lo, float Hi)? scale)
    {
        int top = TitleHeight + (l.Subtitle is null ? 0 : LineHeight) + Margin / 2;
        int width = Math.Max(l.BodyWidth + 2 * Margin + (scale is null ? 0 : ScaleWidth),
                             (int)Math.Max(TextWidth(l.Title, 15, bold: true), l.Subtitle is null ? 0 : TextWidth(l.Subtitle, 13)) + 2 * Margin);
        int height = top + l.BodyHeight + 2 * Margin;
        using var s = SKSurface.Create(new SKImageInfo(width, height));
        var g = s.Canvas;
        g.Clear(SKColors.White);
        Text(g, l.Title, Margin, Margin + 14, 15, bold: true);
        if (l.Subtitle is not null) Text(g, l.Subtitle, Margin, Margin + 14 + LineHeight, 13);
        l.Body(g, Margin, top + Margin / 2);
        if (scale is var (lo, hi)) ColourBar(g, Margin + l.BodyWidth + Margin, top + Margin / 2, Math.Min(l.BodyHeight, 320), lo, hi);
        Save(s, path);
    }

    private static void ColourBar(SKCanvas g, int x, int y, int h, float lo, float hi)
    {
        for (int i = 0; i < h; i++)
        {
            using var p = new SKPaint { Color = Sk(MapColors.GetColor(1 - i / (double)(h - 1))) };
            g.DrawRect(x, y + i, 14, 1, p);
        }
        Text(g, Num(hi), x + 18, y + 10, 11);
        Text(g, Num((lo + hi) / 2), x + 18, y + h / 2 + 4, 11);
        Text(g, Num(lo), x + 18, y + h, 11);
    }

    private static string Num(float v) => Math.Abs(v) >= 100 ? v.ToString("0") : Math.Abs(v) >= 1 ? v.ToString("0.##") : v.ToString("0.###");

    /// <summary>Draws one picture cell by cell: RGB values in [0, 1], or one channel through the colormap from lo to
    /// hi (lo == hi: the picture's own min to max).</summary>
    private static void DrawPicture(SKCanvas g, Picture p, int x, int y, int cell, float lo, float hi, ScottPlot.IColormap? colors)
    {
        if (lo == hi) (lo, hi) = (p.Values.Min(), p.Values.Max());
        float span = hi > lo ? hi - lo : 1;
        int plane = p.Height * p.Width;
        using var paint = new SKPaint();
        for (int i = 0; i < p.Height; i++)
            for (int j = 0; j < p.Width; j++)
            {
                int at = i * p.Width + j;
                paint.Color = colors is null
                    ? new SKColor(Byte(p.Values[at]), Byte(p.Values[plane + at]), Byte(p.Values[2 * plane + at]))
                    : Sk(colors.GetColor(Math.Clamp((p.Values[at] - lo) / span, 0, 1)));
                g.DrawRect(x + j * cell, y + i * cell, cell, cell, paint);
            }
    }

    private static byte Byte(float v) => (byte)Math.Round(Math.Clamp(v, 0, 1) * 255);

    private static SKColor Sk(ScottPlot.Color c) => new(c.R, c.G, c.B);

    /// <summary>Values scaled to [0, 1] by their own min and max (a constant set becomes 0.5).</summary>
    internal static float[] Rescale(float[] v)
    {
        float lo = v.Min(), hi = v.Max();
        return v.Select(x => hi > lo ? (x - lo) / (hi - lo) : 0.5f).ToArray();
    }

    private static SKFont Font(float size, bool bold) =>
        new(SKTypeface.FromFamilyName(null, bold ? SKFontStyle.Bold : SKFontStyle.Normal), size);

    private static float TextWidth(string text, float size, bool bold = false)
    {
        using var font = Font(size, bold);
        return font.MeasureText(text);
    }

    private static void Text(SKCanvas g, string text, float x, float y, float size, bool bold = false)
    {
        using var font = Font(size, bold);
        using var paint = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        g.DrawText(text, x, y, font, paint);
    }

    private static void Save(SKSurface s, string path)
    {
        using var image = s.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        RunFiles.Atomic(path, tmp => { using var f = File.Create(tmp); data.SaveTo(f); });
    }
}
