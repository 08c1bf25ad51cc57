using SkiaSharp;

namespace FastConv.Exercises.Tests;

/// <summary>Exercise 5: Visualize's normalisation, grid, activation maps (against the reference backend) and PNG.</summary>
public class VisualizeTests
{
    private const string File = "05-visualize/Visualize.cs";

    [Test]
    public void Normalize_MapsMinTo0_MaxTo255_Linearly()
    {
        float[] v = [-2f, 0f, 1f, 2f, -1f];
        var got = Expect.Call("Visualize.Normalize", File, () => Visualize.Normalize(v));
        Assert.That(got, Is.EqualTo(new byte[] { 0, 128, 191, 255, 64 }), "level = round((v − min)/(max − min)·255): −2 → 0, 2 → 255, 0 → 127.5 → 128");
        var flat = Expect.Call("Visualize.Normalize", File, () => Visualize.Normalize([3f, 3f, 3f]));
        Assert.That(flat, Is.EqualTo(new byte[] { 128, 128, 128 }), "a constant filter has max = min: draw it mid-grey, do not divide by 0");
    }

    [Test]
    public void Grid_PlacesTilesRowMajor_WithWhiteGaps()
    {
        // 5 tiles of 2x3 in ceil(sqrt 5) = 3 columns, 2 rows, gap 1: 2·2 + 1 = 5 rows by 3·3 + 2 = 11 columns.
        var tiles = Enumerable.Range(0, 5).Select(t => Enumerable.Repeat((byte)(t * 10), 6).ToArray()).ToArray();
        tiles[4][5] = 99;   // the last pixel of tile 4
        var g = Expect.Call("Visualize.Grid", File, () => Visualize.Grid(tiles, 2, 3, 1));
        Assert.That(new[] { g.GetLength(0), g.GetLength(1) }, Is.EqualTo(new[] { 5, 11 }), "rows·tileH + (rows − 1)·gap by columns·tileW + (columns − 1)·gap");
        Assert.That(g[0, 4], Is.EqualTo(10), "tile 1 starts at column tileW + gap = 4");
        Assert.That(g[3, 0], Is.EqualTo(30), "tile 3 starts the second row, at row tileH + gap = 3");
        Assert.That(g[4, 6], Is.EqualTo(99), "tile 4's last pixel: row 3 + 1, column 4 + 2");
        Assert.That(g[2, 0], Is.EqualTo(255), "the gap between rows is white");
        Assert.That(g[0, 3], Is.EqualTo(255), "the gap between columns is white");
        Assert.That(g[3, 8], Is.EqualTo(255), "the empty sixth cell is white");
    }

    [Test]
    public void FirstLayerMaps_EqualTheReferenceConvolutionWithRelu()
    {
        var rng = new Random(3);
        var x = Reference.Integers(rng, 2, 3, 9, 9);
        var w = Reference.Integers(rng, 4, 3, 5, 5);
        float[] b = [1, -1, 0, 2];
        var got = Expect.Call("Visualize.FirstLayerMaps", File, () => Visualize.FirstLayerMaps(Reference.Backend, x, w, b));
        Expect.Same(got, Reference.Conv(x, w, b, 1, 2, Activation.Relu), "maps",
            "stride 1 with padding F/2 keeps the 9x9 size; the maps are [N, K, H, W]",
            "the maps are max(0, conv(x, w) + b): check the padding F/2, the bias and the ReLU");
    }

    [Test]
    public void SavePng_WritesAGreyPictureOfTheGrid()
    {
        var grid = new byte[,] { { 0, 255, 40 }, { 90, 128, 200 } };
        string path = Path.Combine(Path.GetTempPath(), $"fastconv-exercise5-{Environment.ProcessId}.png");
        try
        {
            Expect.Call("Visualize.SavePng", File, () => Visualize.SavePng(grid, 4, path));
            using var bmp = SKBitmap.Decode(path);
            Assert.That(bmp, Is.Not.Null, "the file is not a PNG that SkiaSharp can decode");
            Assert.That((bmp.Width, bmp.Height), Is.EqualTo((12, 8)), "3 columns and 2 rows, each cell 4x4 pixels");
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 3; j++)
                {
                    var c = bmp.GetPixel(j * 4 + 3, i * 4 + 3);
                    Assert.That((c.Red, c.Green, c.Blue), Is.EqualTo((grid[i, j], grid[i, j], grid[i, j])), $"cell ({i}, {j}) drawn at the wrong grey or place");
                }
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }
}
