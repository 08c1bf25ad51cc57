namespace FastConv.Exercises;

/// <summary>Exercise 5: pictures of filters and activation maps (README.md in this folder).</summary>
public static class Visualize
{
    /// <summary>Maps values linearly to grey levels: the smallest to 0, the largest to 255, rounded to the nearest
    /// level. A constant input (nothing to show) becomes mid-grey 128 everywhere.</summary>
    public static byte[] Normalize(float[] values)
    {
        throw new NotImplementedException();
    }

    /// <summary>Lays tiles (each tileH × tileW grey levels, row-major) out in a grid of ceil(√n) columns and as many rows
    /// as needed, tile t at row t / columns, column t % columns, with <paramref name="gap"/> white (255) pixels between
    /// tiles; empty cells are white too. Returns [height, width].</summary>
    public static byte[,] Grid(byte[][] tiles, int tileH, int tileW, int gap)
    {
        throw new NotImplementedException();
    }

    /// <summary>The activation maps a first conv layer with ReLU gives for <paramref name="x"/> [N, C, H, W]: filters
    /// <paramref name="w"/> [K, C, F, F] at stride 1 with "same" padding F/2, bias <paramref name="b"/>, then max(0, ·),
    /// computed by FastConv on the backend <paramref name="backend"/> (Conv2dDesc, CreateConv2d, Allocate, ReluForward).</summary>
    public static float[,,,] FirstLayerMaps(IBackend backend, float[,,,] x, float[,,,] w, float[] b)
    {
        throw new NotImplementedException();
    }

    /// <summary>Writes a grid as a grey PNG, each grid cell drawn as scale × scale pixels (SkiaSharp's SKBitmap).</summary>
    public static void SavePng(byte[,] grid, int scale, string path)
    {
        throw new NotImplementedException();
    }
}
