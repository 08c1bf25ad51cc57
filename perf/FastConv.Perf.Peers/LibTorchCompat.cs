using System.Buffers.Binary;
using System.Text;

namespace FastConv.Perf.Peers;

/// <summary>
/// Makes TorchSharp-cpu 0.107.0 load on Debian 12.
/// <para>libLibTorchSharp.so was built with GCC 13 and lists GLIBCXX_3.4.32 among the versions it needs from
/// libstdc++.so.6; Debian 12's libstdc++ (GCC 12) stops at GLIBCXX_3.4.30, so dlopen fails with
/// "version `GLIBCXX_3.4.32' not found". The only symbol of that version it names is
/// <c>std::ios_base_library_init()</c>, which GCC 13's &lt;iostream&gt; references with a bare <c>.globl</c>
/// (no call, no relocation) only to pin the newer libstdc++; the iostreams it guards are initialised by
/// libtorch's own static initialisers. So the need is marked weak (VER_FLG_WEAK in its Vernaux entry): the
/// loader then accepts the older libstdc++, and nothing ever binds to the missing symbol.</para>
/// <para>Only copies in this program's output folder are touched, never the NuGet cache, and only versions the
/// system libstdc++ lacks. <see cref="Apply"/> is idempotent and runs before TorchSharp is first used.</para>
/// </summary>
public static class LibTorchCompat
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>Patches every libLibTorchSharp.so under the program's folder; returns what it did, one line per change.</summary>
    public static IReadOnlyList<string> Apply()
    {
        var notes = new List<string>();
        string? libstdcxx = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (!OperatingSystem.IsLinux() || libstdcxx is null) return notes;
        byte[] system = File.ReadAllBytes(libstdcxx);
        bool Provided(string version) => IndexOf(system, Encoding.ASCII.GetBytes(version + "\0")) >= 0;
        foreach (var path in Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories))
            foreach (var v in WeakenMissing(path, Provided))
                notes.Add($"{Path.GetRelativePath(AppContext.BaseDirectory, path)}: need of {v} marked weak ({Path.GetFileName(libstdcxx)} lacks it)");
        return notes;
    }

    /// <summary>Sets VER_FLG_WEAK on each GLIBCXX/CXXABI version need that <paramref name="provided"/> says is missing.</summary>
    public static List<string> WeakenMissing(string path, Func<string, bool> provided)
    {
        byte[] elf = File.ReadAllBytes(path);
        var changed = new List<string>();
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException($"{path} is not a little-endian 64-bit ELF file.");
        long shoff = (long)U64(elf, 0x28);
        int shentsize = U16(elf, 0x3a), shnum = U16(elf, 0x3c);
        for (int i = 0; i < shnum; i++)
        {
            int sh = checked((int)(shoff + (long)i * shentsize));
            if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
            int offset = (int)U64(elf, sh + 0x18);
            int strtab = (int)U64(elf, checked((int)(shoff + (long)U32(elf, sh + 0x28) * shentsize)) + 0x18);
            int count = (int)U32(elf, sh + 0x2c);  // sh_info: number of Verneed entries
            int vn = offset;
            for (int n = 0; n < count; n++)
            {
                int auxCount = U16(elf, vn + 2);
                int aux = vn + (int)U32(elf, vn + 8);
                for (int a = 0; a < auxCount; a++)
                {
                    string name = CString(elf, strtab + (int)U32(elf, aux + 8));
                    ushort flags = U16(elf, aux + 4);
                    if ((name.StartsWith("GLIBCXX_", StringComparison.Ordinal) || name.StartsWith("CXXABI_", StringComparison.Ordinal))
                        && (flags & VerFlagWeak) == 0 && !provided(name))
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(aux + 4), (ushort)(flags | VerFlagWeak));
                        changed.Add(name);
                    }
                    aux += (int)U32(elf, aux + 12);
                }
                vn += (int)U32(elf, vn + 12);
            }
        }
        if (changed.Count > 0)
        {
            string tmp = path + ".patching";
            File.WriteAllBytes(tmp, elf);
            File.Move(tmp, path, overwrite: true);
        }
        return changed;
    }

    private static ushort U16(byte[] b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(o));
    private static uint U32(byte[] b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(o));
    private static ulong U64(byte[] b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(o));
    private static string CString(byte[] b, int o) => Encoding.ASCII.GetString(b, o, Array.IndexOf(b, (byte)0, o) - o);
    private static int IndexOf(byte[] hay, byte[] needle) => hay.AsSpan().IndexOf(needle);
}
