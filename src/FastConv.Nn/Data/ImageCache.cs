using System.Security.Cryptography;
using System.Text;

namespace FastConv.Nn.Data;

/// <summary>
/// The decode cache of one image folder: per file (path relative to the folder, length, modification time) its
/// natural size, whether it is grey, and its pixels at the cached image size — or the reason it does not decode.
/// <para>File: &lt;cache dir&gt;/images-&lt;SHA-256 of the folder's full path, 16 hex digits&gt;.fcimg: "FCIMGC\r\n" · u32
/// version · u64 payload length · SHA-256 of the payload · payload; written to a temporary file and renamed. A cache
/// that is missing, of another version, corrupt or for another folder is ignored (everything is decoded again).</para>
/// </summary>
internal static class ImageCache
{
    public const int FormatVersion = 1;
    private static readonly byte[] Magic = "FCIMGC\r\n"u8.ToArray();
    private const int HeaderSize = 8 + 4 + 8 + 32;
    /// <summary>The largest image side a cache may hold (its planes are size² bytes each), and the fewest bytes an entry takes
    /// (an empty key, two longs, two ints, two flags).</summary>
    private const int MaxSize = 1 << 14, MinEntryBytes = 1 + 8 + 8 + 4 + 4 + 1 + 1;

    public sealed record Entry(string Key, long Length, long Ticks, int Width, int Height, bool Grey, string? Error, byte[]? Planes);

    public sealed record Contents(int Size, Dictionary<string, Entry> Entries);

    public static string PathFor(string cacheDir, string folder)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)));
        return Path.Combine(cacheDir, $"images-{Convert.ToHexStringLower(hash.AsSpan(0, 8))}.fcimg");
    }

    public static Contents? Read(string path, string folder)
    {
        byte[] raw;
        try { raw = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        if (raw.Length < HeaderSize || !raw.AsSpan(0, 8).SequenceEqual(Magic) || BitConverter.ToInt32(raw, 8) != FormatVersion
            || BitConverter.ToInt64(raw, 12) != raw.Length - HeaderSize
            || !SHA256.HashData(raw.AsSpan(HeaderSize)).AsSpan().SequenceEqual(raw.AsSpan(20, 32)))
            return null;
        try
        {
            using var r = new BinaryReader(new MemoryStream(raw, HeaderSize, raw.Length - HeaderSize), Encoding.UTF8);
            if (r.ReadString() != folder.TrimEnd(Path.DirectorySeparatorChar)) return null;
            int size = r.ReadInt32(), count = r.ReadInt32();
            // another writer's cache (its checksum matches) is still checked: sizes and counts it cannot hold make it unusable
            long left = r.BaseStream.Length - r.BaseStream.Position;
            if (size < 1 || size > MaxSize || count < 0 || count > left / MinEntryBytes) return null;
            var entries = new Dictionary<string, Entry>(count, StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                string key = r.ReadString();
                long length = r.ReadInt64(), ticks = r.ReadInt64();
                int w = r.ReadInt32(), h = r.ReadInt32();
                bool grey = r.ReadBoolean();
                string? error = r.ReadBoolean() ? r.ReadString() : null;
                int planeBytes = size * size * (grey ? 1 : 3);
                // planes the file cannot hold are not allocated first (a re-checksummed size of 8,700 asked for 227 MB)
                if (error is null && planeBytes > r.BaseStream.Length - r.BaseStream.Position) return null;
                byte[]? planes = error is null ? r.ReadBytes(planeBytes) : null;
                if (planes is not null && planes.Length != planeBytes) return null;
                if (error is null && (w < 1 || h < 1)) return null;
                entries[key] = new Entry(key, length, ticks, w, h, grey, error, planes);
            }
            return new Contents(size, entries);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or FormatException or ArgumentException or OverflowException)
        {
            return null;
        }
    }

    public static void Write(string path, string folder, int size, IReadOnlyList<Entry> entries)
    {
        var payload = new MemoryStream();
        using (var w = new BinaryWriter(payload, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(folder.TrimEnd(Path.DirectorySeparatorChar));
            w.Write(size); w.Write(entries.Count);
            foreach (var e in entries)
            {
                w.Write(e.Key); w.Write(e.Length); w.Write(e.Ticks); w.Write(e.Width); w.Write(e.Height); w.Write(e.Grey);
                w.Write(e.Error is not null);
                if (e.Error is not null) w.Write(e.Error);
                else w.Write(e.Planes!);
            }
        }
        byte[] buffer = payload.GetBuffer();
        int length = (int)payload.Length;
        RunFiles.Atomic(path, tmp =>
        {
            using var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
            Checkpoint.WriteFramed(f, Magic, FormatVersion, buffer.AsSpan(0, length));
        });
    }
}
