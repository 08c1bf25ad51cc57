using System.Globalization;
using System.Text.RegularExpressions;

namespace FastConv.Nn;

/// <summary>
/// A model written in the notes' notation, e.g. <c>[conv3-32,relu]*2,pool2,[conv3-64,relu]*2,pool2,fc-256,relu,dropout-0.5,fc</c>:
/// <list type="bullet">
/// <item><c>convF-K</c>: the notes' CONV F with K filters, stride 1 and padding (F−1)/2, so the size is kept (VGG's CONV3-64);
/// <c>/s2</c> and <c>/p0</c> override stride and padding (<c>conv7-64/s2/p3</c>), <c>/nb</c> drops the bias (a conv before a
/// batch norm); <c>convF-K-sS-pP</c> is read too.</item>
/// <item><c>poolF</c>: F×F max pooling with stride F (<c>pool2</c>); <c>poolFsS</c> sets the stride (<c>pool3s2</c>);
/// <c>avgpoolF</c> averages; <c>gap</c>: global average pool.</item>
/// <item><c>fc-N</c>: a fully-connected layer with N outputs; a final bare <c>fc</c> has one output per class. A Flatten goes in before the first.</item>
/// <item><c>relu</c>, <c>bn</c> (batch norm), <c>dropout-P</c> (<c>dropout</c> alone: 0.5).</item>
/// <item><c>[a,b]*n</c> (or <c>xn</c>) repeats a group n times; <c>res[a,b]</c> is a residual block with that body
/// (shortcut: the identity, or option A's subsample and zero-pad where the body changes size or channels; relu after the add).</item>
/// </list>
/// </summary>
public static partial class ModelSpec
{
    /// <summary>One parsed element: what it is and its hyper-parameters (0 where none applies); a residual block's body in <see cref="Body"/>.</summary>
    public sealed record Item(string Token, string Op, int Kernel = 0, int Filters = 0, int Stride = 0, int Padding = 0, float Rate = 0,
                              bool NoBias = false)
    {
        public IReadOnlyList<Item>? Body { get; init; }
    }

    [GeneratedRegex(@"^conv(\d+)-(\d+)(?:-s(\d+))?(?:-p(\d+))?((?:/(?:s\d+|p\d+|nb))*)$")] private static partial Regex ConvToken();
    [GeneratedRegex(@"^(avg)?pool(\d+)(?:s(\d+))?$")] private static partial Regex PoolToken();
    [GeneratedRegex(@"^fc(?:-(\d+))?$")] private static partial Regex FcToken();
    [GeneratedRegex(@"^dropout(?:-?(0?\.\d+))?$")] private static partial Regex DropoutToken();

    private const string Expected = "expected convF-K[/sS][/pP][/nb], poolF, poolFsS, avgpoolF, gap, fc-N, fc, relu, bn, dropout-P, [ ... ]*N or res[ ... ]";

    /// <summary>Whether <paramref name="text"/> is meant as a spec rather than a preset name (a list, a group, or one known token).</summary>
    public static bool LooksLikeSpec(string text) =>
        text.Contains(',') || text.Contains('[') || TryItem(text.Trim(), out _);

    /// <summary>The flat list of items, groups expanded (a residual block is one item with its body); an ArgumentException
    /// points at the token it cannot read and says what was expected.</summary>
    public static IReadOnlyList<Item> Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var items = new List<Item>();
        int pos = 0;
        ParseList(spec, ref pos, items, open: -1);
        if (items.Count == 0) throw new ArgumentException($"Model spec '{spec}' has no layers.");
        return items;
    }

    /// <summary>The message, then the spec with a caret under the columns [<paramref name="at"/>, at + length).</summary>
    private static ModelSpecException Error(string s, int at, int length, string message) => new(s, at, length, message);

    private static void ParseList(string s, ref int pos, List<Item> into, int open)
    {
        while (true)
        {
            SkipSpaces(s, ref pos);
            bool res = string.CompareOrdinal(s, pos, "res[", 0, 4) == 0;
            if (pos < s.Length && (s[pos] == '[' || res))
            {
                int start = pos;
                pos += res ? 4 : 1;
                var group = new List<Item>();
                ParseList(s, ref pos, group, open: start);
                pos++;   // the ']'
                if (group.Count == 0) throw Error(s, start, pos - start, $"the group at {start + 1} is empty; expected at least one layer inside.");
                int times = 1;
                if (pos < s.Length && s[pos] is '*' or 'x')
                {
                    int from = ++pos;
                    while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
                    if (!int.TryParse(s.AsSpan(from, pos - from), NumberStyles.None, CultureInfo.InvariantCulture, out times) || times < 1)
                        throw Error(s, from - 1, Math.Max(1, pos - from + 1), $"after ']{s[from - 1]}' at {from} expected a repeat count >= 1.");
                }
                var unit = res ? [new Item(s[start..pos], "res") { Body = group }] : group;
                for (int i = 0; i < times; i++) into.AddRange(unit);
            }
            else
            {
                int start = pos;
                while (pos < s.Length && s[pos] is not (',' or ']' or '[')) pos++;
                string token = s[start..pos].Trim();
                if (token.Length == 0)
                    throw Error(s, start, 1, pos < s.Length ? $"expected a layer at {start + 1}, got '{s[pos]}'; {Expected}." : $"the spec ends where a layer was expected; {Expected}.");
                if (pos < s.Length && s[pos] == '[')
                    throw Error(s, start, pos - start + 1, $"'{token}[' at {start + 1}: only 'res' may open a group; {Expected}.");
                if (!TryItem(token, out var item))
                    throw Error(s, start + (s[start..pos].Length - s[start..pos].TrimStart().Length), token.Length,
                        $"cannot read '{token}' at {start + 1}; {Expected}.");
                into.Add(item!);
            }
            SkipSpaces(s, ref pos);
            if (pos < s.Length && s[pos] == ',') { pos++; continue; }
            if (pos >= s.Length)
            {
                if (open >= 0) throw Error(s, open, 1, $"the '[' at {open + 1} is never closed; expected ']'.");
                return;
            }
            if (s[pos] == ']')
            {
                if (open < 0) throw Error(s, pos, 1, $"']' at {pos + 1} closes nothing.");
                return;
            }
            throw Error(s, pos, 1, $"expected ',' at {pos + 1}, got '{s[pos]}'.");
        }
    }

    private static void SkipSpaces(string s, ref int pos)
    {
        while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
    }

    private static int Int(Group g, int fallback) =>
        g.Success && int.TryParse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : g.Success ? -1 : fallback;

    private static bool TryItem(string t, out Item? item)
    {
        item = null;
        string low = t.ToLowerInvariant();
        Match m;
        if ((m = ConvToken().Match(low)).Success)
        {
            int f = Int(m.Groups[1], 0), stride = Int(m.Groups[3], 1), pad = Int(m.Groups[4], (f - 1) / 2);
            bool noBias = false;
            foreach (var part in m.Groups[5].Value.Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                if (part == "nb") noBias = true;
                else if (!int.TryParse(part.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out int v)) return false;
                else if (part[0] == 's') stride = v;
                else pad = v;
            }
            item = new Item(t, "conv", f, Int(m.Groups[2], 0), stride, pad, NoBias: noBias);
        }
        else if ((m = PoolToken().Match(low)).Success)
        {
            int f = Int(m.Groups[2], 0);
            item = new Item(t, m.Groups[1].Success ? "avgpool" : "pool", f, Stride: Int(m.Groups[3], f));
        }
        else if ((m = FcToken().Match(low)).Success) item = new Item(t, "fc", Filters: Int(m.Groups[1], 0));
        else if ((m = DropoutToken().Match(low)).Success)
            item = new Item(t, "dropout", Rate: m.Groups[1].Success ? float.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0.5f);
        else if (low is "relu" or "bn" or "gap") item = new Item(t, low);
        return item is not null && item.Kernel >= 0 && item.Filters >= 0 && item.Stride >= 0 && item.Padding >= 0;
    }

    /// <summary>Builds the model for an input [C, H, W]; a bare fc gets <paramref name="classes"/> outputs.
    /// The last fc uses Xavier initialisation (it feeds the loss, not a ReLU), the others He.
    /// A layer that does not fit its input is named with the token and the input it got.</summary>
    public static Sequential Build(string spec, IBackend be, int[] inputShape, int classes)
    {
        var items = Parse(spec);
        var last = items.LastOrDefault(i => i.Op == "fc");
        int[] shape = [1, .. inputShape];
        var layers = Chain(items, be, ref shape, classes, last, spec);
        return new Sequential(be, inputShape, [.. layers]);
    }

    private static List<Layer> Chain(IReadOnlyList<Item> items, IBackend be, ref int[] shape, int classes, Item? lastFc, string spec)
    {
        var layers = new List<Layer>();
        foreach (var it in items)
        {
            try
            {
                if (it.Op == "fc" && shape.Length == 4)
                {
                    var flatten = new Flatten(be);
                    layers.Add(flatten);
                    shape = flatten.OutputShape(shape);
                }
                if (shape.Length != 4 && it.Op is not ("fc" or "relu" or "dropout"))
                    throw new ArgumentException($"it needs an image [C, H, W], and the layers before it left {ShapeMath.Format(shape.AsSpan(1))} (after an fc or gap only fc, relu and dropout fit).");
                int c = shape[1];
                Layer l = it.Op switch
                {
                    "conv" => new Conv2d(be, c, it.Filters, it.Kernel, it.Stride, it.Padding, bias: !it.NoBias),
                    "pool" => new MaxPool2d(be, it.Kernel, it.Stride),
                    "avgpool" => new AvgPool2d(be, it.Kernel, it.Stride),
                    "gap" => new GlobalAvgPool2d(be),
                    "relu" => new ReLU(be),
                    "bn" => new BatchNorm2d(be, c),
                    "dropout" => new DropoutLayer(be, it.Rate),
                    "fc" => new Linear(be, checked((int)ShapeMath.ElementCount(shape.AsSpan(1), "fc inputs")),
                                       it.Filters > 0 ? it.Filters : classes, heInit: !ReferenceEquals(it, lastFc)),
                    "res" => Residual(it, be, shape, classes, lastFc, spec),
                    _ => throw new InvalidOperationException(it.Op),
                };
                shape = l.OutputShape(shape);
                layers.Add(l);
            }
            catch (ArgumentException e) when (e is not ModelSpecException)
            {
                int at = spec.IndexOf(it.Token, StringComparison.Ordinal);
                throw Error(spec, Math.Max(0, at), it.Token.Length, $"'{it.Token}' does not fit its input {ShapeMath.Format(shape.AsSpan(1))}: {e.Message}");
            }
        }
        return layers;
    }

    private static ResidualBlock Residual(Item it, IBackend be, int[] shape, int classes, Item? lastFc, string spec)
    {
        int[] s = shape;
        var body = Chain(it.Body!, be, ref s, classes, lastFc, spec);
        if (s.Length != 4) throw new ArgumentException($"a residual body must keep an image, it gives {ShapeMath.Format(s.AsSpan(1))}.");
        int stride = shape[2] / s[2];
        Layer[] shortcut = s.SequenceEqual(shape) ? [] : [new ChannelPadShortcut(be, shape[1], s[1], Math.Max(1, stride))];
        return new ResidualBlock(be, [.. body], shortcut);
    }
}
