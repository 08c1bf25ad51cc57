using SkiaSharp;

namespace FastConv.Nn.Data;

/// <summary>
/// One image brought to the model's geometry: the centre square of the picture (as displayed, EXIF orientation
/// applied) scaled to <see cref="Size"/>×<see cref="Size"/>, as byte planes — one when every pixel is grey
/// (R = G = B, or a grey file), else three (R, G, B). Width and Height are the picture's own, before scaling.
/// </summary>
public sealed record DecodedImage(int Width, int Height, int Size, bool Grey, byte[] Planes)
{
    /// <summary>Writes the image as <paramref name="channels"/> planes into <paramref name="dst"/> (channels·size² bytes):
    /// grey copied to three planes, or colour to one by Rec. 601 luma (0.299 R + 0.587 G + 0.114 B).</summary>
    public void CopyTo(int channels, Span<byte> dst)
    {
        int plane = Size * Size;
        if (dst.Length != channels * plane)
            throw new ArgumentException($"An image of {channels}x{Size}x{Size} needs {channels * plane} bytes, the buffer has {dst.Length}.");
        if (Grey)
            for (int c = 0; c < channels; c++) Planes.CopyTo(dst.Slice(c * plane, plane));
        else if (channels == 3)
            Planes.CopyTo(dst);
        else
            for (int i = 0; i < plane; i++)
                dst[i] = (byte)((299 * Planes[i] + 587 * Planes[plane + i] + 114 * Planes[2 * plane + i] + 500) / 1000);
    }
}

/// <summary>Decoding through SkiaSharp (PNG, JPEG, BMP, WebP, GIF …): resize the shorter side to the target size and
/// crop the centre, the torchvision Resize + CenterCrop recipe. Errors are returned as text naming the problem, so a
/// folder of images can report every bad file at once.</summary>
public static class ImageDecoder
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The picture's size as displayed (EXIF orientation applied), from its header only.</summary>
    public static (int Width, int Height)? TryReadSize(string path, out string? error)
    {
        using var codec = Open(path, out error);
        if (codec is null) return null;
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        return SwapsAxes(codec.EncodedOrigin) ? (h, w) : (w, h);
    }

    /// <summary>Decodes the file at <paramref name="path"/> to <paramref name="size"/>×<paramref name="size"/>; null with
    /// <paramref name="error"/> set when it is empty, not an image, or its data is corrupt or cut short.</summary>
    public static DecodedImage? TryDecode(string path, int size, out string? error)
    {
        using var codec = Open(path, out error);
        if (codec is null) return null;
        var info = codec.Info;
        bool greyFile = info.ColorType == SKColorType.Gray8;
        var colorType = greyFile ? SKColorType.Gray8 : SKColorType.Rgba8888;
        // JPEG decodes at 1/2, 1/4 or 1/8 scale for free: take the smallest that still covers the target.
        var full = new SKSizeI(info.Width, info.Height);
        var scaled = codec.GetScaledDimensions(Math.Min(1f, (float)size / Math.Min(info.Width, info.Height)));
        var dims = Math.Min(scaled.Width, scaled.Height) >= size ? scaled : full;
        var bitmap = Decode(codec, dims, colorType, out var result);
        if (result != SKCodecResult.Success && dims != full)
        {
            bitmap.Dispose();
            bitmap = Decode(codec, full, colorType, out result);
        }
        using var _ = bitmap;
        if (result != SKCodecResult.Success)
        {
            error = result == SKCodecResult.IncompleteInput ? "image data is cut short (truncated file)" : $"image data does not decode ({result})";
            return null;
        }
        var image = Preprocess(bitmap, size, codec.EncodedOrigin);
        var (w, h) = SwapsAxes(codec.EncodedOrigin) ? (info.Height, info.Width) : (info.Width, info.Height);
        return image with { Width = w, Height = h };
    }

    private static SKBitmap Decode(SKCodec codec, SKSizeI dims, SKColorType colorType, out SKCodecResult result)
    {
        var bitmap = new SKBitmap(new SKImageInfo(dims.Width, dims.Height, colorType, SKAlphaType.Premul));
        result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
        return bitmap;
    }

    /// <summary>A bitmap the caller decoded (for the C# API): centre square scaled to <paramref name="size"/>.</summary>
    public static DecodedImage Preprocess(SKBitmap bitmap, int size, SKEncodedOrigin origin = SKEncodedOrigin.TopLeft)
    {
        ArgumentNullException.ThrowIfNull(bitmap);
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "The image size must be at least 1.");
        if (bitmap.Width < 1 || bitmap.Height < 1) throw new ArgumentException($"The bitmap is {bitmap.Width}x{bitmap.Height}: nothing to classify.");
        bool grey = bitmap.ColorType == SKColorType.Gray8;
        SKBitmap? converted = null;
        try
        {
            if (!grey && bitmap.ColorType != SKColorType.Rgba8888)
            {
                converted = new SKBitmap(new SKImageInfo(bitmap.Width, bitmap.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
                if (!bitmap.CopyTo(converted, SKColorType.Rgba8888))
                    throw new ArgumentException($"A {bitmap.ColorType} bitmap cannot be converted to RGBA.");
            }
            var src = (converted ?? bitmap).PeekPixels();
            int side = Math.Min(src.Width, src.Height), x0 = (src.Width - side) / 2, y0 = (src.Height - side) / 2;
            using var crop = new SKPixmap();
            if (!src.ExtractSubset(crop, SKRectI.Create(x0, y0, side, side)))
                throw new InvalidOperationException("SkiaSharp refused the centre crop.");
            int bpp = grey ? 1 : 4;
            var px = new byte[size * size * bpp];
            var dstInfo = new SKImageInfo(size, size, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Premul);
            unsafe
            {
                fixed (byte* p = px)
                {
                    using var dst = new SKPixmap(dstInfo, (IntPtr)p, size * bpp);
                    if (side == size) CopyRows(src, x0, y0, bpp, px, size);
                    else if (!crop.ScalePixels(dst, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)))
                        throw new InvalidOperationException($"SkiaSharp could not scale a {side}x{side} {crop.ColorType} image to {size}x{size}.");
                }
            }
            px = Orient(px, size, bpp, origin);
            return grey ? new DecodedImage(bitmap.Width, bitmap.Height, size, true, px) : Planar(bitmap.Width, bitmap.Height, size, px);
        }
        finally
        {
            converted?.Dispose();
        }
    }

    private static SKCodec? Open(string path, out string? error)
    {
        error = null;
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { error = $"cannot be read: {e.Message}"; return null; }
        if (bytes.Length == 0) { error = "file is empty"; return null; }
        var stream = new SKMemoryStream(bytes); // the codec owns it from here
        var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
        {
            stream.Dispose();
            error = $"not an image SkiaSharp can decode ({result}; {bytes.Length} bytes starting {Convert.ToHexString(bytes.AsSpan(0, Math.Min(4, bytes.Length)))})";
            return null;
        }
        if (codec.Info.Width < 1 || codec.Info.Height < 1) { codec.Dispose(); error = $"image is {codec.Info.Width}x{codec.Info.Height}"; return null; }
        return codec;
    }

    private static bool SwapsAxes(SKEncodedOrigin o) => o is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;

    /// <summary>The n×n square at (x0, y0) of <paramref name="src"/>, row by row (no resampling when no scaling is needed).</summary>
    private static void CopyRows(SKPixmap src, int x0, int y0, int bpp, byte[] dst, int n)
    {
        var span = src.GetPixelSpan();
        for (int y = 0; y < n; y++) span.Slice((y0 + y) * src.RowBytes + x0 * bpp, n * bpp).CopyTo(dst.AsSpan(y * n * bpp));
    }

    /// <summary>The EXIF orientation applied to a square image: output pixel (x, y) read from the stored pixel the
    /// orientation maps it to (a centre square crop and a scale commute with these eight symmetries).</summary>
    private static byte[] Orient(byte[] px, int n, int bpp, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft) return px;
        var o = new byte[px.Length];
        int m = n - 1;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
            {
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (m - x, y),        // mirrored horizontally
                    SKEncodedOrigin.BottomRight => (m - x, m - y), // rotated 180°
                    SKEncodedOrigin.BottomLeft => (x, m - y),      // mirrored vertically
                    SKEncodedOrigin.LeftTop => (y, x),             // transposed
                    SKEncodedOrigin.RightTop => (y, m - x),        // displayed rotated 90° clockwise
                    SKEncodedOrigin.RightBottom => (m - y, m - x), // transverse
                    SKEncodedOrigin.LeftBottom => (m - y, x),      // displayed rotated 90° counter-clockwise
                    _ => (x, y),
                };
                px.AsSpan((sy * n + sx) * bpp, bpp).CopyTo(o.AsSpan((y * n + x) * bpp));
            }
        return o;
    }

    /// <summary>RGBA pixels to R, G, B planes; grey (one plane) when every pixel has R = G = B.</summary>
    private static DecodedImage Planar(int width, int height, int size, byte[] rgba)
    {
        int plane = size * size;
        bool grey = true;
        for (int i = 0; i < plane && grey; i++) grey = rgba[4 * i] == rgba[4 * i + 1] && rgba[4 * i] == rgba[4 * i + 2];
        var planes = new byte[(grey ? 1 : 3) * plane];
        for (int i = 0; i < plane; i++)
        {
            planes[i] = rgba[4 * i];
            if (grey) continue;
            planes[plane + i] = rgba[4 * i + 1];
            planes[2 * plane + i] = rgba[4 * i + 2];
        }
        return new DecodedImage(width, height, size, grey, planes);
    }
}
