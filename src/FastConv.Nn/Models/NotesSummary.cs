using Microsoft.Data.Analysis;

namespace FastConv.Nn;

/// <summary>
/// One row of the notes' accounting ("VGGNet in detail"): a CONV, POOL or FC layer (or the INPUT) with its output
/// volume W×H×D, memory in values (one volume per layer, ReLUs not counted) and weights (biases apart), and the
/// receptive field of one of its neurons on the input, in pixels (height × width).
/// </summary>
public sealed record NotesRow(string Layer, string Label, int W, int H, int D, long Memory, string MemoryFormula,
    long Weights, string WeightsFormula, long Biases, int FieldH, int FieldW, string FastConvLayer)
{
    /// <summary>The notes' volume notation, [224x224x64].</summary>
    public string Volume => $"[{W}x{H}x{D}]";
}

/// <summary>FastConv's own accounting for the same model: what its layers really hold.</summary>
public sealed record FastConvAccounting(long InputValues, long LayerOutputs, long ReluOutputs, long Parameters, long Biases, int Batch)
{
    /// <summary>Every tensor a forward pass leaves for backward: the input and every layer's output, ReLUs included, per image.</summary>
    public long ActivationsPerImage => InputValues + LayerOutputs;
}

/// <summary>The notes' VGG table for any model: rows, totals, the closing observation, and FastConv's accounting beside it.</summary>
public static class NotesSummary
{
    /// <summary>
    /// Receptive field through a chain: each conv or pool of kernel F and stride S grows the field by (F − 1)·jump
    /// and multiplies the jump (the distance on the input between neighbouring outputs) by S; fully-connected and
    /// global layers see their whole input volume.
    /// </summary>
    public sealed class Field
    {
        public int H { get; private set; } = 1;
        public int W { get; private set; } = 1;
        public int JumpH { get; private set; } = 1;
        public int JumpW { get; private set; } = 1;

        public void Window(int kernel, int stride)
        {
            H += (kernel - 1) * JumpH; W += (kernel - 1) * JumpW;
            JumpH *= stride; JumpW *= stride;
        }

        /// <summary>A layer that sees all h×w positions of its input (fc, global pool): a window as large as the input.</summary>
        public void Whole(int h, int w)
        {
            H += (h - 1) * JumpH; W += (w - 1) * JumpW;
            JumpH *= h; JumpW *= w;
        }

        /// <summary>Advances over one layer for an input [N, C, H, W] (or [N, F] after a flatten); other layers leave it.</summary>
        public void Through(Layer l, ReadOnlySpan<int> input)
        {
            switch (l)
            {
                case Conv2d c: Window(c.KernelSize, c.Stride); break;
                case Pool2dLayer p: Window(p.KernelSize, p.Stride); break;
                case GlobalAvgPool2d or Linear when input.Length == 4: Whole(input[2], input[3]); break;
                case GlobalAvgPool2d or Linear when !_flat && _last is { } s: Whole(s.H, s.W); break;
            }
            if (input.Length == 4) _last = (input[2], input[3]);
            if (l is Linear or GlobalAvgPool2d) _flat = true;
        }

        private (int H, int W)? _last;
        private bool _flat;

        public Field Clone() => (Field)MemberwiseClone();

        public void CopyFrom(Field f)
        {
            H = f.H; W = f.W; JumpH = f.JumpH; JumpW = f.JumpW; _last = f._last; _flat = f._flat;
        }
    }

    public static IReadOnlyList<NotesRow> Rows(Sequential m)
    {
        int[] input = m.InputShape;
        var rows = new List<NotesRow>
        {
            new("input", "INPUT", input[2], input[1], input[0], ShapeMath.ElementCount(input, "input"),
                $"{input[2]}*{input[1]}*{input[0]}", 0, "0", 0, 1, 1, ""),
        };
        var field = new Field();
        int[] shape = [1, .. input];
        foreach (var l in m.Layers) shape = Row(l, shape, field, rows);
        return rows;
    }

    /// <summary>The notes' row of one layer (none for ReLU, batch norm, flatten, dropout); a block's layers in turn, the
    /// receptive field followed along its widest chain, then a row for its join (ADD or CONCAT) with its output volume.</summary>
    private static int[] Row(Layer l, int[] shape, Field field, List<NotesRow> rows)
    {
        int[] outShape = l.OutputShape(shape);
        var (w, h, d) = outShape.Length == 4 ? (outShape[3], outShape[2], outShape[1]) : (1, 1, outShape[1]);
        long memory = ShapeMath.ElementCount(outShape, l.Name);
        string mem = outShape.Length == 4 ? $"{w}*{h}*{d}" : $"{d}";
        if (l is Block b)
        {
            Field? widest = null;
            foreach (var chain in b.Chains)
            {
                var f = field.Clone();
                int[] s = shape;
                foreach (var child in chain) s = Row(child, s, f, rows);
                if (widest is null || f.H > widest.H) widest = f;
            }
            field.CopyFrom(widest!);
            rows.Add(new(l.Name, b is ResidualBlock ? "ADD" : "CONCAT", w, h, d, memory, mem, 0, "0", 0, field.H, field.W, l.Name));
            return outShape;
        }
        field.Through(l, shape);
        switch (l)
        {
            case Conv2d c:
                rows.Add(new(l.Name, $"CONV{c.KernelSize}-{c.OutChannels}", w, h, d, memory, mem, c.Weight.Value.Length,
                    $"({c.KernelSize}*{c.KernelSize}*{c.InChannels})*{c.OutChannels}", c.Bias?.Value.Length ?? 0, field.H, field.W, l.Name));
                break;
            case Pool2dLayer p:
                rows.Add(new(l.Name, (p is AvgPool2d ? "AVGPOOL" : "POOL") + p.KernelSize, w, h, d, memory, mem, 0, "0", 0, field.H, field.W, l.Name));
                break;
            case GlobalAvgPool2d:
                rows.Add(new(l.Name, "GAP", w, h, d, memory, mem, 0, "0", 0, field.H, field.W, l.Name));
                break;
            case Linear f:
                string fin = shape.Length == 4 ? $"{shape[3]}*{shape[2]}*{shape[1]}" : FlatInputFormula(rows, f.InFeatures);
                rows.Add(new(l.Name, "FC", w, h, d, memory, mem, f.Weight.Value.Length, $"{fin}*{f.OutFeatures}", f.Bias.Value.Length,
                    field.H, field.W, l.Name));
                break;
        }
        return outShape;
    }

    /// <summary>An fc after a flatten reads the last volume: 7*7*512 as the notes write it, else the feature count.</summary>
    private static string FlatInputFormula(List<NotesRow> rows, int inFeatures)
    {
        var last = rows[^1];
        return (long)last.W * last.H * last.D == inFeatures && last.W * last.H > 1 ? $"{last.W}*{last.H}*{last.D}" : $"{inFeatures}";
    }

    public static DataFrame ToDataFrame(IReadOnlyList<NotesRow> rows) => new(
        new StringDataFrameColumn("layer", rows.Select(r => r.Label)),
        new StringDataFrameColumn("volume", rows.Select(r => r.Volume)),
        new StringDataFrameColumn("memory_formula", rows.Select(r => r.MemoryFormula)),
        new PrimitiveDataFrameColumn<long>("memory", rows.Select(r => r.Memory)),
        new StringDataFrameColumn("weights_formula", rows.Select(r => r.WeightsFormula)),
        new PrimitiveDataFrameColumn<long>("weights", rows.Select(r => r.Weights)),
        new PrimitiveDataFrameColumn<long>("biases", rows.Select(r => r.Biases)),
        new StringDataFrameColumn("receptive_field", rows.Select(r => $"{r.FieldH}x{r.FieldW}")),
        new StringDataFrameColumn("fastconv_layer", rows.Select(r => r.FastConvLayer)));

    /// <summary>The notes' closing observation, computed from the rows: how few leading layers hold half of the memory,
    /// and what share of the weights the FC layers (and the largest layer) hold.</summary>
    public static string Observation(IReadOnlyList<NotesRow> rows)
    {
        long memory = rows.Sum(r => r.Memory), weights = rows.Sum(r => r.Weights);
        int n = 0;
        long prefix = 0;
        while (n < rows.Count && 2 * prefix < memory) prefix += rows[n++].Memory;
        var biggest = rows.MaxBy(r => r.Weights)!;
        long fc = rows.Where(r => r.Label == "FC").Sum(r => r.Weights), conv = rows.Where(r => r.Label.StartsWith("CONV")).Sum(r => r.Weights);
        string where = fc >= conv ? $"the FC layers hold {fc:N0} of the {weights:N0} weights ({Share(fc, weights)})"
                                  : $"the CONV layers hold {conv:N0} of the {weights:N0} weights ({Share(conv, weights)}), the FC layers {Share(fc, weights)}";
        string early = 3 * n <= rows.Count ? "most of the memory is in the early layers: " : "";
        string most = 2 * Math.Max(fc, conv) > weights ? $"most of the parameters are in the {(fc >= conv ? "FC" : "CONV")} layers: " : "";
        return $"Memory: {early}the first {n} of {rows.Count} rows (input to {rows[n - 1].Label} {rows[n - 1].Volume}) hold {Share(prefix, memory)} of the " +
               $"{memory:N0} values. Parameters: {most}{where}; the largest layer, {biggest.Label} {biggest.Volume}, alone has {biggest.Weights:N0} ({Share(biggest.Weights, weights)}).";
    }

    private static string Share(long part, long whole) => whole == 0 ? "0%" : $"{100.0 * part / whole:0}%";

    /// <summary>FastConv's accounting for a batch: layer outputs (ReLUs included), biases, parameters.</summary>
    public static FastConvAccounting Accounting(Sequential m, int batch)
    {
        var rows = m.Summarize(1);
        long relu = rows.Where(r => r.Kind == "ReLU").Sum(r => r.Activations);
        long biases = m.Parameters.Where(p => p.Name.EndsWith(".bias", StringComparison.Ordinal)).Sum(p => p.Value.Length);
        return new FastConvAccounting(ShapeMath.ElementCount(m.InputShape, "input"), rows.Sum(r => r.Activations), relu, m.ParameterCount, biases, batch);
    }
}
