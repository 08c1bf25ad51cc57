using System.Globalization;

namespace FastConv.Shapes;

/// <summary>One named line of a shape file: a convolution or a pooling configuration.</summary>
public sealed record ShapeCase(string Name, Conv2dDesc? Conv, Pool2dDesc? Pool)
{
    public override string ToString() => Name;
    public string Describe() => Conv?.ToString() ?? Pool!.Value.ToString();
}

/// <summary>
/// Reads the shape lists in data/shapes/ that tests and benchmarks share. One case a line:
/// <code>
/// conv C1 n=64 c=3 h=32 w=32 k=32 r=3 s=3 stride=1 pad=1 [dilation=1] [relu]
/// pool P1 kind=max n=64 c=32 h=32 w=32 kernel=2 stride=2 [pad=0]
/// </code>
/// stride, pad, dilation and kernel take one number or HxW (e.g. stride=2x1). '#' starts a comment.
/// </summary>
public static class ShapeSuite
{
    public static IReadOnlyList<ShapeCase> Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Shape file not found: {path}", path);
        var cases = new List<ShapeCase>();
        var lines = File.ReadAllLines(path);
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            int hash = line.IndexOf('#');
            if (hash >= 0) line = line[..hash];
            var tok = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (tok.Length == 0) continue;
            try { cases.Add(Parse(tok)); }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                throw new FormatException($"{path}:{i + 1}: {e.Message}", e);
            }
        }
        var dup = cases.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new FormatException($"{path}: case name '{dup.Key}' appears more than once.");
        return cases;
    }

    /// <summary>Finds data/shapes/<paramref name="fileName"/>: next to the assembly (copied by the build) or up from the working directory.</summary>
    public static string Find(string fileName)
    {
        var local = Path.Combine(AppContext.BaseDirectory, "shapes", fileName);
        if (File.Exists(local)) return local;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "data", "shapes", fileName);
            if (File.Exists(p)) return p;
        }
        throw new FileNotFoundException($"Cannot find shapes/{fileName} next to {AppContext.BaseDirectory} or data/shapes/{fileName} above {Directory.GetCurrentDirectory()}.");
    }

    private static ShapeCase Parse(string[] tok)
    {
        if (tok.Length < 2) throw new FormatException("expected '<conv|pool> <name> key=value ...'");
        string op = tok[0], name = tok[1];
        var kv = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        bool relu = false;
        foreach (var t in tok.Skip(2))
        {
            if (t.Equals("relu", StringComparison.OrdinalIgnoreCase)) { relu = true; continue; }
            int eq = t.IndexOf('=');
            if (eq <= 0) throw new FormatException($"'{t}' is not key=value");
            kv[t[..eq]] = t[(eq + 1)..];
        }
        int Num(string k, string v) => int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n)
            ? n : throw new FormatException($"{k}={v}: '{v}' is not an integer");
        int I(string k) => kv.TryGetValue(k, out var v) ? Num(k, v) : throw new FormatException($"{op} {name} is missing {k}=");
        (int, int) Pair(string k, int dflt)
        {
            if (!kv.TryGetValue(k, out var v)) return (dflt, dflt);
            var parts = v.Split('x');
            if (parts.Length > 2) throw new FormatException($"{k}={v}: expected one number or HxW");
            int a = Num(k, parts[0]);
            return parts.Length == 2 ? (a, Num(k, parts[1])) : (a, a);
        }
        switch (op.ToLowerInvariant())
        {
            case "conv":
            {
                var (sh, sw) = Pair("stride", 1); var (ph, pw) = Pair("pad", 0); var (dh, dw) = Pair("dilation", 1);
                var d = new Conv2dDesc(I("n"), I("c"), I("h"), I("w"), I("k"), I("r"), I("s"), sh, sw, ph, pw, dh, dw,
                                       relu ? Activation.Relu : Activation.None);
                return new ShapeCase(name, d, null);
            }
            case "pool":
            {
                var kind = kv.GetValueOrDefault("kind", "max").ToLowerInvariant() switch
                {
                    "max" => PoolKind.Max,
                    "avg" or "average" => PoolKind.Average,
                    var k => throw new FormatException($"unknown pool kind '{k}' (max or avg)"),
                };
                var (kh, kw) = Pair("kernel", 0); var (sh, sw) = Pair("stride", 0); var (ph, pw) = Pair("pad", 0);
                if (sh == 0) (sh, sw) = (kh, kw);
                return new ShapeCase(name, null, new Pool2dDesc(kind, I("n"), I("c"), I("h"), I("w"), kh, kw, sh, sw, ph, pw));
            }
            default:
                throw new FormatException($"unknown op '{op}' (conv or pool)");
        }
    }
}
