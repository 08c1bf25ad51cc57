using System.Globalization;
using System.Text.RegularExpressions;

namespace FastConv.Nn;

/// <summary>
/// A model written in the notes' notation, e.g. <c>[conv3-64,relu]*2,pool2,fc-256,relu,fc</c>:
/// <list type="bullet">
/// <item><c>convF-K</c>: K filters F×F, stride 1, "same" padding F/2 (the notes' CONV3-64); <c>convF-K-sS-pP</c> sets stride and padding.</item>
/// <item><c>poolF</c>: F×F max pooling with stride F (POOL2); <c>avgpoolF</c> averages; <c>gap</c>: global average pool.</item>
/// <item><c>fc-N</c>: a fully-connected layer with N outputs; a bare <c>fc</c> has one output per class. A Flatten goes in before the first.</item>
/// <item><c>relu</c>, <c>bn</c> (batch norm), <c>dropout</c> or <c>dropout0.3</c> (default 0.5).</item>
/// <item><c>[a,b]*n</c> (or <c>xn</c>) repeats a group n times.</item>
/// </list>
/// </summary>
public static partial class ModelSpec
{
    /// <summary>One parsed element: what it is and its hyper-parameters (0 where none applies).</summary>
    public sealed record Item(string Token, string Op, int Kernel = 0, int Filters = 0, int Stride = 0, int Padding = 0, float Rate = 0);

    [GeneratedRegex(@"^conv(\d+)-(\d+)(?:-s(\d+))?(?:-p(\d+))?$")] private static partial Regex ConvToken();
    [GeneratedRegex(@"^(avg)?pool(\d+)$")] private static partial Regex PoolToken();
    [GeneratedRegex(@"^fc(?:-(\d+))?$")] private static partial Regex FcToken();
    [GeneratedRegex(@"^dropout(0?\.\d+)?$")] private static partial Regex DropoutToken();

    /// <summary>Whether <paramref name="text"/> is meant as a spec rather than a preset name (a list, a group, or one known token).</summary>
    public static bool LooksLikeSpec(string text) =>
        text.Contains(',') || text.Contains('[') || TryItem(text.Trim(), out _);

    /// <summary>The flat list of items, groups expanded; an ArgumentException names the token it cannot read.</summary>
    public static IReadOnlyList<Item> Parse(string spec)
    {
        var items = new List<Item>();
        int pos = 0;
        ParseList(spec, ref pos, items, nested: false);
        if (items.Count == 0) throw new ArgumentException($"Model spec '{spec}' has no layers.");
        return items;
    }

    private static void ParseList(string s, ref int pos, List<Item> into, bool nested)
    {
        while (true)
        {
            SkipSpaces(s, ref pos);
            if (pos < s.Length && s[pos] == '[')
            {
                int open = pos++;
                var group = new List<Item>();
                ParseList(s, ref pos, group, nested: true);
                if (pos >= s.Length || s[pos] != ']') throw new ArgumentException($"Model spec '{s}': the '[' at {open + 1} is never closed.");
                pos++;
                int times = 1;
                if (pos < s.Length && s[pos] is '*' or 'x')
                {
                    int start = ++pos;
                    while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
                    if (!int.TryParse(s.AsSpan(start, pos - start), NumberStyles.None, CultureInfo.InvariantCulture, out times) || times < 1)
                        throw new ArgumentException($"Model spec '{s}': after ']{s[start - 1]}' at {start} expected a repeat count >= 1.");
                }
                for (int i = 0; i < times; i++) into.AddRange(group);
            }
            else
            {
                int start = pos;
                while (pos < s.Length && s[pos] is not (',' or ']' or '[')) pos++;
                string token = s[start..pos].Trim();
                if (!TryItem(token, out var item))
                    throw new ArgumentException($"Model spec '{s}': cannot read '{token}' (at {start + 1}); expected convF-K[-sS][-pP], poolF, avgpoolF, gap, fc-N, fc, relu, bn, dropout[P] or [ ... ]*n.");
                into.Add(item!);
            }
            SkipSpaces(s, ref pos);
            if (pos < s.Length && s[pos] == ',') { pos++; continue; }
            if (pos >= s.Length) { if (nested) throw new ArgumentException($"Model spec '{s}': a '[' is never closed."); return; }
            if (s[pos] == ']') { if (!nested) throw new ArgumentException($"Model spec '{s}': ']' at {pos + 1} closes nothing."); return; }
            throw new ArgumentException($"Model spec '{s}': expected ',' at {pos + 1}, got '{s[pos]}'.");
        }
    }

    private static void SkipSpaces(string s, ref int pos)
    {
        while (pos < s.Length && char.IsWhiteSpace(s[pos])) pos++;
    }

    private static int Int(Group g, int fallback) =>
        g.Success ? int.Parse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture) : fallback;

    private static bool TryItem(string t, out Item? item)
    {
        item = null;
        string low = t.ToLowerInvariant();
        Match m;
        if ((m = ConvToken().Match(low)).Success)
        {
            int f = Int(m.Groups[1], 0);
            item = new Item(t, "conv", f, Int(m.Groups[2], 0), Int(m.Groups[3], 1), Int(m.Groups[4], f / 2));
        }
        else if ((m = PoolToken().Match(low)).Success)
        {
            int f = Int(m.Groups[2], 0);
            item = new Item(t, m.Groups[1].Success ? "avgpool" : "pool", f, Stride: f);
        }
        else if ((m = FcToken().Match(low)).Success) item = new Item(t, "fc", Filters: Int(m.Groups[1], 0));
        else if ((m = DropoutToken().Match(low)).Success)
            item = new Item(t, "dropout", Rate: m.Groups[1].Success ? float.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0.5f);
        else if (low is "relu" or "bn" or "gap") item = new Item(t, low);
        return item is not null;
    }

    /// <summary>Builds the model for an input [C, H, W]; a bare fc gets <paramref name="classes"/> outputs.
    /// The last fc uses Xavier initialisation (it feeds the loss, not a ReLU), the others He.</summary>
    public static Sequential Build(string spec, IBackend be, int[] inputShape, int classes)
    {
        var items = Parse(spec);
        int lastFc = -1;
        for (int i = 0; i < items.Count; i++) if (items[i].Op == "fc") lastFc = i;
        var layers = new List<Layer>();
        int c = inputShape[0];
        int[] shape = [1, .. inputShape];
        for (int i = 0; i < items.Count; i++)
        {
            var it = items[i];
            if (it.Op == "fc" && shape.Length == 4) layers.Add(new Flatten(be));
            Layer l = it.Op switch
            {
                "conv" => new Conv2d(be, c, it.Filters, it.Kernel, it.Stride, it.Padding),
                "pool" => new MaxPool2d(be, it.Kernel, it.Stride),
                "avgpool" => new AvgPool2d(be, it.Kernel, it.Stride),
                "gap" => new GlobalAvgPool2d(be),
                "relu" => new ReLU(be),
                "bn" => new BatchNorm2d(be, c),
                "dropout" => new DropoutLayer(be, it.Rate),
                "fc" => new Linear(be, checked((int)ShapeMath.ElementCount(shape.AsSpan(1), "fc inputs")),
                                   it.Filters > 0 ? it.Filters : classes, heInit: i != lastFc),
                _ => throw new InvalidOperationException(it.Op),
            };
            if (layers.Count > 0 && layers[^1] is Flatten f) shape = f.OutputShape(shape);
            try { shape = l.OutputShape(shape); }
            catch (ArgumentException e) { throw new ArgumentException($"Model spec '{spec}': '{it.Token}' does not fit its input {ShapeMath.Format(shape.AsSpan(1))}: {e.Message}", e); }
            if (it.Op is "conv") c = it.Filters;
            layers.Add(l);
        }
        return new Sequential(be, inputShape, [.. layers]);
    }
}
