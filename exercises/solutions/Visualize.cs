using SkiaSharp;

namespace FastConv.Exercises;

/// <summary>Exercise 5, solved: pictures of filters and activation maps.</summary>
public static class Visualize
{
    public static byte[] Normalize(float[] values)
    {
        float lo = values.Min(), hi = values.Max();
        if (hi == lo) return Enumerable.Repeat((byte)128, values.Length).ToArray();
        return values.Select(v => (byte)Math.Round((v - lo) / (double)(hi - lo) * 255)).ToArray();
    }

    public static byte[,] Grid(byte[][] tiles, int tileH, int tileW, int gap)
    {
        int n = tiles.Length, cols = (int)Math.Ceiling(Math.Sqrt(n)), rows = (n + cols - 1) / cols;
        var g = new byte[rows * tileH + (rows - 1) * gap, cols * tileW + (cols - 1) * gap];
        for (int i = 0; i < g.GetLength(0); i++)
            for (int j = 0; j < g.GetLength(1); j++) g[i, j] = 255;
        for (int t = 0; t < n; t++)
        {
            int top = t / cols * (tileH + gap), left = t % cols * (tileW + gap);
            for (int i = 0; i < tileH; i++)
                for (int j = 0; j < tileW; j++) g[top + i, left + j] = tiles[t][i * tileW + j];
        }
        return g;
    }

    public static float[,,,] FirstLayerMaps(IBackend backend, float[,,,] x, float[,,,] w, float[] b)
    {
        int n = x.GetLength(0), c = x.GetLength(1), h = x.GetLength(2), wd = x.GetLength(3), k = w.GetLength(0), f = w.GetLength(2);
        var d = new Conv2dDesc(n, c, h, wd, k, f, f, stride: 1, padding: f / 2);
        using var plan = backend.CreateConv2d(d);
        using Tensor tx = backend.Allocate(d.InputShape), tw = backend.Allocate(d.WeightShape), tb = backend.Allocate(d.BiasShape),
                     ty = backend.Allocate(d.OutputShape), relu = backend.Allocate(d.OutputShape);
        tx.CopyFrom(Flat(x)); tw.CopyFrom(Flat(w)); tb.CopyFrom(b);
        plan.Forward(tx, tw, tb, ty);
        backend.ReluForward(ty, relu);
        var flat = relu.ToArray();
        var y = new float[n, k, d.OutH, d.OutW];
        Buffer.BlockCopy(flat, 0, y, 0, flat.Length * sizeof(float));
        return y;
    }

    /// <summary>A C# [a, b, c, d] array is row-major, like NCHW: its elements in order are the tensor's.</summary>
    private static float[] Flat(float[,,,] a)
    {
        var r = new float[a.Length];
        Buffer.BlockCopy(a, 0, r, 0, a.Length * sizeof(float));
        return r;
    }

    public static void SavePng(byte[,] grid, int scale, string path)
    {
        int h = grid.GetLength(0), w = grid.GetLength(1);
        using var bmp = new SKBitmap(w * scale, h * scale, SKColorType.Gray8, SKAlphaType.Opaque);
        for (int y = 0; y < h * scale; y++)
            for (int x = 0; x < w * scale; x++)
            {
                byte v = grid[y / scale, x / scale];
                bmp.SetPixel(x, y, new SKColor(v, v, v));
            }
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
