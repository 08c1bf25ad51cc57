using SkiaSharp;

namespace FastConv.Tests.Support;

/// <summary>Image files written by tests through SkiaSharp: colour or grey, PNG or JPEG, any size, pixels from a function.</summary>
public static class TestImages
{
    /// <summary>Writes an image whose pixel (x, y) is <paramref name="rgb"/>(x, y); grey files hold the red value.</summary>
    public static string Write(string path, int width, int height, Func<int, int, (byte R, byte G, byte B)> rgb, bool grey = false,
                               SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        File.WriteAllBytes(path, Encode(width, height, rgb, grey, format, quality));
        return path;
    }

    public static byte[] Encode(int width, int height, Func<int, int, (byte R, byte G, byte B)> rgb, bool grey = false,
                                SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 100)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var (r, g, b) = rgb(x, y);
                bitmap.SetPixel(x, y, grey ? new SKColor(r, r, r) : new SKColor(r, g, b));
            }
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A JPEG with an EXIF APP1 segment right after SOI whose only tag is Orientation (0x0112) = <paramref name="orientation"/>.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, ushort orientation)
    {
        byte[] tiff = [(byte)'M', (byte)'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, (byte)(orientation >> 8), (byte)orientation, 0, 0, 0, 0, 0, 0];
        byte[] payload = [.. "Exif\0\0"u8, .. tiff];
        int len = payload.Length + 2;
        return [jpeg[0], jpeg[1], 0xFF, 0xE1, (byte)(len >> 8), (byte)len, .. payload, .. jpeg.AsSpan(2)];
    }

    /// <summary>Solid colour with a little seeded noise (so no two images are equal).</summary>
    public static Func<int, int, (byte, byte, byte)> Noisy((int R, int G, int B) c, int seed)
    {
        var rng = new Random(seed);
        byte N(int v) => (byte)Math.Clamp(v + rng.Next(-20, 21), 0, 255);
        return (_, _) => (N(c.R), N(c.G), N(c.B));
    }
}
