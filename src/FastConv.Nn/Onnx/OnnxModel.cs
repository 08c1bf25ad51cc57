using System.Runtime.InteropServices;
using System.Text.Json;
using FastConv.Nn.Data;
using FastConv.Nn.Onnx.Proto;
using Google.Protobuf;
using System.Numerics.Tensors;

namespace FastConv.Nn.Onnx;

/// <summary>An ONNX file FastConv cannot read or run: names the file, and the node, its op type and what is missing
/// when one node is the reason. Thrown at <see cref="OnnxModel.Load"/> for what the graph declares and at
/// <see cref="OnnxModel.Forward(IReadOnlyList{Tensor})"/> for what depends on the input's shape; never a wrong answer instead.</summary>
public sealed class OnnxModelException(string message, string? node = null, string? opType = null) : IOException(message)
{
    public string? Node { get; } = node;
    public string? OpType { get; } = opType;
}

/// <summary>
/// An ONNX CNN run for inference on any FastConv backend: Conv (pads, strides, dilations; group 1), Relu, MaxPool,
/// AveragePool (count_include_pad either way), GlobalAveragePool, BatchNormalization (inference), Gemm, MatMul (2-D,
/// and batched with broadcast batch axes), Add (numpy broadcasting), Concat (any axis), Flatten, Reshape (to a constant
/// shape), Dropout (the identity), Softmax (any axis, with opset &lt; 13's flattening), Identity and Constant, over
/// float32 tensors, with initialisers as constants; float32 graph inputs (any number) and one output. The graph is
/// checked at load: an op, attribute or data type outside that set is one <see cref="OnnxModelException"/> naming the
/// node, its op type and what is missing. Padding is explicit pads or auto_pad, and the same at both ends of an axis.
/// <para>Some steps finish on the host, where the backend has no such kernel: Softmax, AveragePool with
/// count_include_pad = 0 over padding, an Add whose broadcast is not a per-channel bias, and MatMul with a batched
/// right operand. The tensor is read back, computed with TensorPrimitives and written again.</para>
/// </summary>
public sealed class OnnxModel : IDisposable
{
    private static readonly HashSet<string> Supported =
    [
        "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Gemm", "MatMul", "Add", "Concat",
        "Flatten", "Reshape", "Dropout", "Softmax", "Identity", "Constant",
    ];

    private readonly string _path;
    private readonly NodeProto[] _nodes;
    private readonly Dictionary<string, Const> _consts = [];
    private readonly Dictionary<string, Tensor> _weights = [];
    private readonly long _opset;
    private readonly List<Tensor> _live = [];

    /// <summary>A constant: an initialiser or a Constant node's value, float or int64, with its shape.</summary>
    private sealed record Const(int[] Shape, float[]? Floats, long[]? Longs);

    private OnnxModel(IBackend backend, string path, ModelProto m)
    {
        Backend = backend; _path = path;
        var g = m.Graph ?? throw new OnnxModelException($"{path}: the model has no graph.");
        _opset = m.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        // Every op FastConv runs means the same from opset 1 on, except where an old version has an attribute FastConv
        // does not know (consumed_inputs, broadcast, is_test, Reshape's shape), which Check refuses by name.
        if (_opset < 1) throw new OnnxModelException($"{path}: the model imports no version of the standard ONNX opset (its domains: {string.Join(", ", m.OpsetImport.Select(o => $"'{o.Domain}' {o.Version}"))}).");
        foreach (var t in g.Initializer) _consts[t.Name] = ReadTensor(t, $"initializer '{t.Name}'", null, null);
        var inputs = g.Input.Where(i => !_consts.ContainsKey(i.Name)).ToArray();
        if (g.Output.Count != 1)
            throw new OnnxModelException($"{path}: the graph has {g.Output.Count} outputs; FastConv runs models with one.");
        OutputName = g.Output[0].Name;
        foreach (var i in inputs)
        {
            var tt = i.Type?.TensorType;
            if (tt is null || tt.ElemType != (int)TensorProto.Types.DataType.Float)
                throw new OnnxModelException($"{path}: input '{i.Name}' is {(tt is null ? "not a tensor" : $"of data type {(TensorProto.Types.DataType)tt.ElemType}")}; FastConv runs float32 inputs.");
        }
        InputNames = [.. inputs.Select(i => i.Name)];
        InputShapes = [.. inputs.Select(i => i.Type.TensorType.Shape?.Dim.Select(d => d.HasDimValue && d.DimValue is >= 0 and <= int.MaxValue ? (int)d.DimValue : -1).ToArray() ?? [])];
        Metadata = m.MetadataProps.ToDictionary(p => p.Key, p => p.Value);

        // Every node is checked here, in order, so an unsupported one is refused before anything runs.
        var defined = new HashSet<string>(_consts.Keys);
        defined.UnionWith(InputNames);
        _nodes = [.. g.Node];
        foreach (var n in _nodes)
        {
            string what = $"node '{n.Name}' ({n.OpType})";
            if (n.Domain is not ("" or "ai.onnx"))
                throw Unsupported(n, $"its domain '{n.Domain}' is not the standard ONNX one");
            if (!Supported.Contains(n.OpType))
                throw Unsupported(n, $"FastConv has no {n.OpType} op (it runs {string.Join(", ", Supported)})");
            foreach (var i in n.Input)
                if (i.Length > 0 && !defined.Contains(i))
                    throw new OnnxModelException($"{path}: {what} reads '{i}', which no earlier node, initialiser or input defines (nodes out of order?).", n.Name, n.OpType);
            Check(n);
            if (n.OpType == "Constant") _consts[n.Output[0]] = ConstantValue(n);
            foreach (var o in n.Output) if (o.Length > 0) defined.Add(o);
        }
        if (!defined.Contains(OutputName)) throw new OnnxModelException($"{path}: no node produces the graph output '{OutputName}'.");
    }

    public IBackend Backend { get; }
    /// <summary>The graph inputs that are not initialisers, in the file's order: what <see cref="Forward(IReadOnlyList{Tensor})"/> takes.</summary>
    public IReadOnlyList<string> InputNames { get; }
    /// <summary>Each input's shape as the file declares it, -1 for a dynamic dimension (the batch).</summary>
    public IReadOnlyList<int[]> InputShapes { get; }
    /// <summary>The first input (a CNN's image batch); an <see cref="OnnxModelException"/> for a graph without inputs (a constant).</summary>
    public string InputName => InputNames.Count > 0 ? InputNames[0] : throw new OnnxModelException($"{_path}: the graph has no inputs (every value is a constant).");
    /// <summary>The first input's declared shape, -1 for a dynamic dimension (the batch).</summary>
    public int[] InputShape => InputShapes.Count > 0 ? InputShapes[0] : throw new OnnxModelException($"{_path}: the graph has no inputs (every value is a constant).");
    public string OutputName { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Whether the graph output comes from a Softmax node (probabilities rather than logits).</summary>
    public bool EndsInSoftmax => _nodes.Any(n => n.OpType == "Softmax" && n.Output.Contains(OutputName));
    /// <summary>The metadata "class_names" (a JSON array, as <see cref="OnnxExport"/> writes it), or null.</summary>
    public string[]? ClassNames => Metadata.TryGetValue("class_names", out var s) ? JsonSerializer.Deserialize<string[]>(s) : null;
    /// <summary>The metadata "normalization_mean" and "normalization_std", or null.</summary>
    public Normalization? Normalization => Metadata.TryGetValue("normalization_mean", out var m) && Metadata.TryGetValue("normalization_std", out var s)
        ? new Normalization(JsonSerializer.Deserialize<float[]>(m)!, JsonSerializer.Deserialize<float[]>(s)!) : null;

    /// <summary>Reads and checks <paramref name="path"/>; an <see cref="OnnxModelException"/> for a file that is not
    /// ONNX or asks for something FastConv does not run.</summary>
    public static OnnxModel Load(string path, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (!File.Exists(path)) throw new FileNotFoundException($"ONNX model not found: {path}", path);
        ModelProto m;
        try
        {
            using var f = File.OpenRead(path);
            m = ModelProto.Parser.ParseFrom(f);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxModelException($"{path} is not an ONNX model (its protobuf does not parse: {e.Message}).");
        }
        return new OnnxModel(backend, path, m);
    }

    /// <summary>The graph on <paramref name="x"/> (on this model's backend), for a graph with one input. The returned
    /// tensor belongs to the model and is freed by the next call or <see cref="Dispose"/>.</summary>
    public Tensor Forward(Tensor x)
    {
        if (InputNames.Count != 1)
            throw new ArgumentException($"OnnxModel: the graph has {InputNames.Count} inputs ({string.Join(", ", InputNames)}); give one tensor for each.", nameof(x));
        return Forward([x]);
    }

    /// <summary>The graph on <paramref name="inputs"/>, one tensor for each of <see cref="InputNames"/> in that order (on
    /// this model's backend). The returned tensor belongs to the model and is freed by the next call or <see cref="Dispose"/>.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count != InputNames.Count)
            throw new ArgumentException($"OnnxModel: the graph has {InputNames.Count} inputs ({string.Join(", ", InputNames)}), got {inputs.Count} tensors.", nameof(inputs));
        var values = new Dictionary<string, Tensor>();
        for (int k = 0; k < inputs.Count; k++)
        {
            var x = inputs[k] ?? throw new ArgumentNullException(nameof(inputs), $"OnnxModel: the tensor for input '{InputNames[k]}' is null.");
            int[] declared = InputShapes[k];
            if (!ReferenceEquals(x.Backend, Backend))
                throw new ArgumentException($"OnnxModel: input '{InputNames[k]}' is on backend '{x.Backend.Name}', the model on '{Backend.Name}'.", nameof(inputs));
            if (declared.Length > 0 && (x.Rank != declared.Length || declared.Where((d, i) => d >= 0 && d != x.Dim(i)).Any()))
                throw new ArgumentException($"OnnxModel: input '{InputNames[k]}' is declared [{string.Join(", ", declared.Select(d => d < 0 ? "?" : d.ToString()))}], got {ShapeMath.Format(x.Shape)}.", nameof(inputs));
            values[InputNames[k]] = x;
        }
        FreeLive();
        foreach (var n in _nodes)
        {
            if (n.OpType == "Constant") continue;
            try { Run(n, values); }
            catch (ArgumentException e) { throw new OnnxModelException($"{_path}: node '{n.Name}' ({n.OpType}): {e.Message}", n.Name, n.OpType); }
        }
        var y = Value(values, OutputName, null);
        // Everything but the output is freed now; the output with the next call.
        foreach (var t in _live.Where(t => !ReferenceEquals(t, y) && !ReferenceEquals(t.Storage, y.Storage)).ToArray()) { t.Dispose(); _live.Remove(t); }
        return y;
    }

    /// <summary>The graph on host data <paramref name="x"/> of <paramref name="shape"/>; the output as an array.</summary>
    public float[] Run(float[] x, int[] shape)
    {
        using var t = Backend.Allocate(shape);
        t.CopyFrom(x);
        return Forward(t).ToArray();
    }

    public void Dispose()
    {
        FreeLive();
        foreach (var t in _weights.Values) t.Dispose();
        _weights.Clear();
    }

    private void FreeLive()
    {
        // Views first (they own nothing), then the tensors that own storage.
        foreach (var t in _live) t.Dispose();
        _live.Clear();
    }

    private OnnxModelException Unsupported(NodeProto n, string missing) =>
        new($"{_path}: node '{n.Name}' ({n.OpType}) is not supported: {missing}.", n.Name, n.OpType);

    // ---- load-time checks: attributes and what the inputs must be ----

    private static readonly Dictionary<string, string[]> KnownAttributes = new()
    {
        ["Conv"] = ["kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"],
        ["MaxPool"] = ["kernel_shape", "strides", "pads", "dilations", "ceil_mode", "storage_order", "auto_pad"],
        ["AveragePool"] = ["kernel_shape", "strides", "pads", "count_include_pad", "ceil_mode", "auto_pad"],
        ["GlobalAveragePool"] = [], ["Relu"] = [], ["Identity"] = [], ["Add"] = [], ["MatMul"] = [],
        ["BatchNormalization"] = ["epsilon", "momentum", "spatial", "training_mode"],
        ["Gemm"] = ["alpha", "beta", "transA", "transB"],
        ["Concat"] = ["axis"], ["Flatten"] = ["axis"], ["Reshape"] = ["allowzero"], ["Dropout"] = ["ratio", "seed", "is_test"],
        ["Softmax"] = ["axis"], ["Constant"] = ["value", "value_float", "value_floats", "value_int", "value_ints"],
    };

    private static readonly Dictionary<string, (int Min, int Max)> InputCounts = new()
    {
        ["Conv"] = (2, 3), ["MaxPool"] = (1, 1), ["AveragePool"] = (1, 1), ["GlobalAveragePool"] = (1, 1), ["Relu"] = (1, 1),
        ["Identity"] = (1, 1), ["Add"] = (2, 2), ["MatMul"] = (2, 2), ["BatchNormalization"] = (5, 5), ["Gemm"] = (2, 3),
        ["Concat"] = (1, int.MaxValue), ["Flatten"] = (1, 1), ["Reshape"] = (2, 2), ["Dropout"] = (1, 3), ["Softmax"] = (1, 1), ["Constant"] = (0, 0),
    };

    private void Check(NodeProto n)
    {
        var (min, max) = InputCounts[n.OpType];
        if (n.Input.Count < min || n.Input.Count > max || n.Input.Take(min).Any(i => i.Length == 0))
            throw Unsupported(n, $"it has {n.Input.Count} inputs; FastConv's {n.OpType} takes {(min == max ? $"{min}" : max == int.MaxValue ? $"{min} or more" : $"{min} to {max}")}");
        if (n.OpType == "Constant" && n.Attribute.Count != 1) throw Unsupported(n, $"a Constant needs exactly one value attribute, it has {n.Attribute.Count}");
        foreach (var a in n.Attribute)
            if (!KnownAttributes[n.OpType].Contains(a.Name)) throw Unsupported(n, $"FastConv does not know its attribute '{a.Name}'");
        int outputs = n.Output.Count(o => o.Length > 0);
        if (outputs != 1 && !(n.OpType == "Dropout" && outputs == 2 && !IsRead(n.Output[1])))
            throw Unsupported(n, $"it has {outputs} outputs; FastConv computes only the first");
        switch (n.OpType)
        {
            case "Conv":
                if (Int(n, "group", 1) != 1) throw Unsupported(n, $"group = {Int(n, "group", 1)}: FastConv has no grouped convolution");
                CheckPads(n);
                if (Ints(n, "kernel_shape") is { } ks && ks.Length != 2) throw Unsupported(n, $"kernel_shape of rank {ks.Length}: only 2-D convolutions run");
                break;
            case "MaxPool" or "AveragePool":
                if (Ints(n, "kernel_shape") is not { Length: 2 }) throw Unsupported(n, "kernel_shape must give 2 sizes (2-D pooling)");
                if (Int(n, "ceil_mode", 0) != 0) throw Unsupported(n, "ceil_mode = 1: FastConv's pooling floors the output size");
                if (Ints(n, "dilations") is { } d && d.Any(v => v != 1)) throw Unsupported(n, $"dilations [{string.Join(", ", d)}]: pooling runs undilated");
                if (Int(n, "storage_order", 0) != 0) throw Unsupported(n, "storage_order = 1 (column major)");
                CheckPads(n);
                break;
            case "BatchNormalization":
                if (Int(n, "training_mode", 0) != 0) throw Unsupported(n, "training_mode = 1: FastConv imports for inference");
                break;
            case "Reshape":
                if (Int(n, "allowzero", 0) != 0) throw Unsupported(n, "allowzero = 1");
                if (!_consts.TryGetValue(n.Input[1], out var s) || s.Longs is null)
                    throw Unsupported(n, "its shape must be an int64 initialiser or Constant");
                break;
            case "Dropout":
                if (n.Input.Count >= 3 && n.Input[2].Length > 0 && !(_consts.TryGetValue(n.Input[2], out var tm) && (tm.Longs ?? []).All(x => x == 0) && (tm.Floats ?? []).All(x => x == 0)))
                    throw Unsupported(n, "its training_mode input must be a constant false (FastConv imports for inference)");
                break;
        }
    }

    private bool IsRead(string name) => _nodes.Any(n => n.Input.Contains(name)) || OutputName == name;

    private void CheckPads(NodeProto n)
    {
        string autoPad = Str(n, "auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "VALID" or "SAME_UPPER" or "SAME_LOWER")) throw Unsupported(n, $"auto_pad = {autoPad} is not an ONNX value");
        if (autoPad != "NOTSET" && Ints(n, "pads") is not null) throw Unsupported(n, $"it gives both auto_pad = {autoPad} and pads");
        if (Ints(n, "pads") is { } p && (p.Length != 4 || p[0] != p[2] || p[1] != p[3]))
            throw Unsupported(n, $"pads [{string.Join(", ", p)}]: FastConv pads the same at both ends of an axis");
    }

    // ---- running one node ----

    private void Run(NodeProto n, Dictionary<string, Tensor> v)
    {
        Tensor In(int i) => Value(v, n.Input[i], n);
        string output = n.Output[0];
        switch (n.OpType)
        {
            case "Identity" or "Dropout":
                v[output] = In(0);
                return;
            case "Relu":
            {
                var x = In(0);
                var y = New(x.Shape);
                Backend.ReluForward(x, y);
                v[output] = y;
                return;
            }
            case "Conv":
            {
                var x = In(0); var w = In(1);
                if (x.Rank != 4 || w.Rank != 4) throw new ArgumentException($"input {ShapeMath.Format(x.Shape)} and weight {ShapeMath.Format(w.Shape)}: only 2-D convolutions (rank 4) run.");
                var (sh, sw) = Pair(n, "strides"); var (dh, dw) = Pair(n, "dilations");
                var (ph, pw) = Pads(n, x, w.Dim(2), w.Dim(3), sh, sw, dh, dw);
                if (Ints(n, "kernel_shape") is { } ks && (ks[0] != w.Dim(2) || ks[1] != w.Dim(3)))
                    throw new ArgumentException($"kernel_shape [{ks[0]}, {ks[1]}] does not match the weight {ShapeMath.Format(w.Shape)}.");
                if (w.Dim(1) != x.Dim(1)) throw new ArgumentException($"the weight {ShapeMath.Format(w.Shape)} expects {w.Dim(1)} input channels, the input {ShapeMath.Format(x.Shape)} has {x.Dim(1)}.");
                var d = new Conv2dDesc(x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3), w.Dim(0), w.Dim(2), w.Dim(3), sh, sw, ph, pw, dh, dw);
                Tensor? b = n.Input.Count > 2 && n.Input[2].Length > 0 ? In(2) : null;
                if (b is not null && (b.Rank != 1 || b.Dim(0) != w.Dim(0))) throw new ArgumentException($"bias {ShapeMath.Format(b.Shape)} for {w.Dim(0)} filters.");
                var y = New(d.OutputShape);
                using (var plan = Backend.CreateConv2d(d)) plan.Forward(x, w, b, y);
                v[output] = y;
                return;
            }
            case "MaxPool" or "AveragePool":
            {
                var x = In(0);
                if (x.Rank != 4) throw new ArgumentException($"input {ShapeMath.Format(x.Shape)}: only 2-D pooling (rank 4) runs.");
                var k = Ints(n, "kernel_shape")!;
                var (sh, sw) = Pair(n, "strides");
                var (ph, pw) = Pads(n, x, (int)k[0], (int)k[1], sh, sw, 1, 1);
                var d = new Pool2dDesc(n.OpType == "MaxPool" ? PoolKind.Max : PoolKind.Average, x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3),
                                       (int)k[0], (int)k[1], sh, sw, ph, pw);
                var y = New(d.OutputShape);
                using (var plan = Backend.CreatePool2d(d)) plan.Forward(x, y);
                if (n.OpType == "AveragePool" && Int(n, "count_include_pad", 0) == 0 && (ph > 0 || pw > 0)) ExcludePadding(y, d);
                v[output] = y;
                return;
            }
            case "GlobalAveragePool":
            {
                var x = In(0);
                if (x.Rank != 4) throw new ArgumentException($"input {ShapeMath.Format(x.Shape)}: only rank-4 inputs run.");
                var y = New([x.Dim(0), x.Dim(1)]);
                Backend.GlobalAvgPool2dForward(x, y);
                v[output] = View(y, [x.Dim(0), x.Dim(1), 1, 1]);
                return;
            }
            case "BatchNormalization":
            {
                var x = In(0);
                var y = New(x.Shape);
                Backend.BatchNormForwardInference(x, In(1), In(2), In(3), In(4), y, Float(n, "epsilon", 1e-5f));
                v[output] = y;
                return;
            }
            case "MatMul" when In(0).Rank != 2 || In(1).Rank != 2:
                v[output] = BatchedMatMul(In(0), In(1));
                return;
            case "Gemm" or "MatMul":
            {
                bool gemm = n.OpType == "Gemm";
                var a = In(0); var b = In(1);
                if (a.Rank != 2 || b.Rank != 2) throw new ArgumentException($"inputs {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)}: Gemm multiplies 2-D matrices.");
                bool ta = gemm && Int(n, "transA", 0) != 0, tb = gemm && Int(n, "transB", 0) != 0;
                int m = ta ? a.Dim(1) : a.Dim(0), ka = ta ? a.Dim(0) : a.Dim(1), kb = tb ? b.Dim(1) : b.Dim(0), cols = tb ? b.Dim(0) : b.Dim(1);
                if (ka != kb) throw new ArgumentException($"{ShapeMath.Format(a.Shape)}{(ta ? "ᵀ" : "")} times {ShapeMath.Format(b.Shape)}{(tb ? "ᵀ" : "")}: inner sizes {ka} and {kb} differ.");
                var y = New([m, cols]);
                float alpha = gemm ? Float(n, "alpha", 1f) : 1f, beta = gemm ? Float(n, "beta", 1f) : 0f;
                Backend.Gemm(a, b, y, ta, tb, alpha);
                if (gemm && n.Input.Count > 2 && n.Input[2].Length > 0 && beta != 0f) AddBroadcast(y, HostValue(v, n.Input[2], n), beta, n.Input[2], y);
                v[output] = y;
                return;
            }
            case "Add":
            {
                Tensor a = In(0), b = In(1);
                if (a.Shape.SequenceEqual(b.Shape))
                {
                    var same = New(a.Shape);
                    Backend.AddForward(a, b, same);
                    v[output] = same;
                    return;
                }
                // Numpy broadcasting: the output has the broadcast shape. An operand of that shape is added to the other,
                // broadcast; when neither has it, the first is expanded into the output on the host and the second added.
                int[] shape = BroadcastShape(a.Shape.ToArray(), b.Shape.ToArray())
                    ?? throw new ArgumentException($"{ShapeMath.Format(a.Shape)} + {ShapeMath.Format(b.Shape)}: the shapes do not broadcast.");
                string bn = n.Input[1];
                if (b.Shape.SequenceEqual(shape) && !a.Shape.SequenceEqual(shape)) { (a, b) = (b, a); bn = n.Input[0]; }
                var y = New(shape);
                if (!a.Shape.SequenceEqual(shape)) { y.CopyFrom(BroadcastTo(a.ToArray(), a.Shape.ToArray(), shape)); a = y; }
                AddBroadcast(a, HostValue(v, bn, n), 1f, bn, y);
                v[output] = y;
                return;
            }
            case "Concat":
            {
                var xs = n.Input.Select(i => Value(v, i, n)).ToArray();
                long axis = Int(n, "axis", 1);
                int rank = xs[0].Rank;
                if (axis < 0) axis += rank;
                if (axis < 0 || axis >= rank) throw new ArgumentException($"axis {Int(n, "axis", 1)} is outside rank-{rank} inputs.");
                int ax = (int)axis;
                foreach (var t in xs)
                    if (t.Rank != rank || !t.Shape[..ax].SequenceEqual(xs[0].Shape[..ax]) || !t.Shape[(ax + 1)..].SequenceEqual(xs[0].Shape[(ax + 1)..]))
                        throw new ArgumentException($"inputs {string.Join(", ", xs.Select(t => ShapeMath.Format(t.Shape)))} differ outside axis {ax}.");
                int[] shape = xs[0].Shape.ToArray();
                long total = xs.Sum(t => (long)t.Dim(ax));
                if (total > int.MaxValue) throw new ArgumentException($"the inputs' axis {ax} adds up to {total}, beyond {int.MaxValue}.");
                shape[ax] = (int)total;
                var y = New(shape);
                // Any axis is the channel concatenation of [outer, size, inner] views: outer is the product of the
                // dimensions before the axis, inner of those after it.
                int outer = 1, inner = 1;
                for (int i = 0; i < ax; i++) outer *= shape[i];
                for (int i = ax + 1; i < rank; i++) inner *= shape[i];
                Backend.ConcatForward(xs.Select(t => View(t, [outer, t.Dim(ax), inner])).ToArray(), View(y, [outer, shape[ax], inner]));
                v[output] = y;
                return;
            }
            case "Flatten":
            {
                var x = In(0);
                long axis = Int(n, "axis", 1);
                if (axis < 0) axis += x.Rank;
                if (axis < 0 || axis > x.Rank) throw new ArgumentException($"axis {Int(n, "axis", 1)} is outside a rank-{x.Rank} input.");
                int outer = 1;
                for (int i = 0; i < axis; i++) outer *= x.Dim(i);
                v[output] = View(x, [outer, (int)(x.Length / outer)]);
                return;
            }
            case "Reshape":
            {
                var x = In(0);
                long[] target = _consts[n.Input[1]].Longs!;
                var shape = new int[target.Length];
                int infer = -1; long known = 1;
                for (int i = 0; i < target.Length; i++)
                {
                    if (target[i] == -1) { if (infer >= 0) throw new ArgumentException("the shape has more than one -1."); infer = i; continue; }
                    if (target[i] == 0 && i >= x.Rank) throw new ArgumentException($"shape [{string.Join(", ", target)}]: 0 at {i} copies a dimension the input {ShapeMath.Format(x.Shape)} lacks.");
                    if (target[i] < -1 || target[i] > int.MaxValue) throw new ArgumentException($"shape [{string.Join(", ", target)}] has the size {target[i]}.");
                    shape[i] = target[i] == 0 ? x.Dim(i) : (int)target[i];
                    known *= shape[i];
                }
                if (infer >= 0)
                {
                    if (known == 0 || x.Length % known != 0) throw new ArgumentException($"shape [{string.Join(", ", target)}] does not divide {x.Length} elements.");
                    shape[infer] = (int)(x.Length / known);
                }
                v[output] = View(x, shape);
                return;
            }
            case "Softmax":
            {
                var x = In(0);
                long axis = Int(n, "axis", _opset >= 13 ? -1 : 1);
                if (axis < 0) axis += x.Rank;
                if (axis < 0 || axis >= x.Rank) throw new ArgumentException($"axis {Int(n, "axis", -1)} is outside a rank-{x.Rank} input.");
                // Opset < 13 flattens to 2-D at axis and normalises each row (every dimension from axis on); from 13 it
                // normalises along the one axis, which is strided unless it is the last.
                int size = x.Dim((int)axis), inner = 1;
                for (int i = (int)axis + 1; i < x.Rank; i++) inner *= x.Dim(i);
                if (_opset < 13) { size *= inner; inner = 1; }
                float[] a = x.ToArray(), r = new float[a.Length], line = new float[size], soft = new float[size];
                for (int start = 0; start < a.Length; start += size * inner)
                    for (int j = 0; j < inner; j++)
                    {
                        for (int k = 0; k < size; k++) line[k] = a[start + k * inner + j];
                        // Shifted by the maximum first (softmax is shift-invariant): TensorPrimitives.SoftMax exponentiates
                        // as given, which overflows to NaN from about 88 on (the node test softmax_large_number).
                        TensorPrimitives.Subtract(line, TensorPrimitives.Max(line), line);
                        TensorPrimitives.SoftMax(line, soft);
                        for (int k = 0; k < size; k++) r[start + k * inner + j] = soft[k];
                    }
                var y = New(x.Shape);
                y.CopyFrom(r);
                v[output] = y;
                return;
            }
        }
        throw new ArgumentException($"no runner for {n.OpType}.");   // Load refused it already
    }

    /// <summary>A value's shape and data on the host: a constant as it is, a computed tensor read back.</summary>
    private Const HostValue(Dictionary<string, Tensor> v, string name, NodeProto n)
    {
        if (!v.ContainsKey(name) && _consts.TryGetValue(name, out var c))
            return c.Floats is null ? throw new ArgumentException($"'{name}' is an int64 tensor where a float32 one is needed.") : c;
        var t = Value(v, name, n);
        return new Const(t.Shape.ToArray(), t.ToArray(), null);
    }

    /// <summary>y = a + scale · c, with a of y's shape (or y itself) and c broadcast to it the numpy way
    /// (unidirectionally: y's shape is the result). In place (a is y), a per-channel bias ([C] or [1, C] over a rank-2
    /// y; [C, 1, 1] or [1, C, 1, 1] over a rank-4 y) goes through BiasAddForward; otherwise c is expanded on the host to
    /// y's shape and added on the device.</summary>
    private void AddBroadcast(Tensor a, Const c, float scale, string name, Tensor y)
    {
        float[] data = c.Floats ?? throw new ArgumentException($"'{name}' is not a float tensor.");
        int[] ys = y.Shape.ToArray(), cs = c.Shape;
        if (BroadcastShape(ys, cs) is not { } r || !r.SequenceEqual(ys))
            throw new ArgumentException($"'{name}' {ShapeMath.Format(cs)} does not broadcast to {ShapeMath.Format(ys)}.");
        int channels = y.Rank >= 2 ? y.Dim(1) : 0;
        bool perChannel = y.Rank == 2 ? cs.SequenceEqual(new[] { channels }) || cs.SequenceEqual(new[] { 1, channels })
                        : y.Rank == 4 && (cs.SequenceEqual(new[] { channels, 1, 1 }) || cs.SequenceEqual(new[] { 1, channels, 1, 1 }));
        if (perChannel && ReferenceEquals(a, y))
        {
            using var bias = Backend.Allocate([channels]);
            var scaled = new float[channels];
            TensorPrimitives.Multiply(data, scale, scaled);
            bias.CopyFrom(scaled);
            Backend.BiasAddForward(y, bias);
            return;
        }
        using var t = Backend.Allocate(ys);
        t.CopyFrom(cs.SequenceEqual(ys) ? data : BroadcastTo(data, cs, ys));
        Backend.AddForward(a, t, y, scale);
    }

    /// <summary>The numpy broadcast of two shapes (aligned at their last axes; a 1 stretches), or null when they do not.</summary>
    private static int[]? BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)], db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1) return null;
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary><paramref name="data"/> of <paramref name="shape"/> expanded to <paramref name="target"/> (which
    /// <see cref="BroadcastShape"/> made from it).</summary>
    private static float[] BroadcastTo(float[] data, int[] shape, int[] target)
    {
        int rank = target.Length, lead = rank - shape.Length;
        // The source stride of each target axis: 0 where the source has no such axis or a 1 there.
        var stride = new long[rank];
        long s = 1;
        for (int i = rank - 1; i >= lead; i--)
        {
            stride[i] = shape[i - lead] == 1 ? 0 : s;
            s *= shape[i - lead];
        }
        var r = new float[ShapeMath.ElementCount(target, "the broadcast")];
        var index = new int[rank];
        long src = 0;
        for (long k = 0; k < r.Length; k++)
        {
            r[k] = data[src];
            for (int i = rank - 1; i >= 0; i--)   // the odometer: the next index, and the source offset with it
            {
                if (++index[i] < target[i]) { src += stride[i]; break; }
                src -= stride[i] * (index[i] - 1);
                index[i] = 0;
            }
        }
        return r;
    }

    /// <summary>MatMul of rank 3 and more (numpy's matmul: the last two axes multiply, the ones before broadcast). A
    /// 2-D right operand is one Gemm on the device over the left one's rows; batches of both are multiplied on the host.</summary>
    private Tensor BatchedMatMul(Tensor a, Tensor b)
    {
        if (a.Rank < 2 || b.Rank < 2)
            throw new ArgumentException($"inputs {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)}: MatMul of a 1-D operand does not run here; give matrices.");
        int m = a.Dim(a.Rank - 2), k = a.Dim(a.Rank - 1), kb = b.Dim(b.Rank - 2), cols = b.Dim(b.Rank - 1);
        if (k != kb) throw new ArgumentException($"{ShapeMath.Format(a.Shape)} times {ShapeMath.Format(b.Shape)}: inner sizes {k} and {kb} differ.");
        int[] batchA = a.Shape[..^2].ToArray(), batchB = b.Shape[..^2].ToArray();
        int[] batch = BroadcastShape(batchA, batchB)
            ?? throw new ArgumentException($"{ShapeMath.Format(a.Shape)} times {ShapeMath.Format(b.Shape)}: the batch dimensions do not broadcast.");
        int[] shape = [.. batch, m, cols];
        if (b.Rank == 2)
        {
            int rows = (int)(a.Length / k);
            var flat = New([rows, cols]);
            Backend.Gemm(View(a, [rows, k]), b, flat, false, false, 1f);
            return View(flat, shape);
        }
        // Each operand expanded to the common batch, then one m×k by k×cols product per batch entry, row by row.
        float[] ha = BroadcastTo(a.ToArray(), a.Shape.ToArray(), [.. batch, m, k]), hb = BroadcastTo(b.ToArray(), b.Shape.ToArray(), [.. batch, k, cols]);
        var r = new float[ShapeMath.ElementCount(shape, "the MatMul output")];
        long batches = r.Length / ((long)m * cols);
        for (long p = 0; p < batches; p++)
            for (int i = 0; i < m; i++)
            {
                var row = r.AsSpan((int)((p * m + i) * cols), cols);
                for (int j = 0; j < k; j++)
                    TensorPrimitives.MultiplyAdd(hb.AsSpan((int)((p * k + j) * cols), cols), ha[(p * m + i) * k + j], row, row);
            }
        var y = New(shape);
        y.CopyFrom(r);
        return y;
    }

    /// <summary>count_include_pad = 0: each output times kernel area / the window's cells inside the image.</summary>
    private static void ExcludePadding(Tensor y, in Pool2dDesc d)
    {
        float[] a = y.ToArray();
        int plane = d.OutH * d.OutW;
        var factor = new float[plane];
        for (int oh = 0; oh < d.OutH; oh++)
            for (int ow = 0; ow < d.OutW; ow++)
            {
                int h0 = oh * d.StrideH - d.PadH, w0 = ow * d.StrideW - d.PadW;
                int hs = Math.Min(h0 + d.KernelH, d.H) - Math.Max(h0, 0), ws = Math.Min(w0 + d.KernelW, d.W) - Math.Max(w0, 0);
                factor[oh * d.OutW + ow] = (float)(d.KernelH * d.KernelW) / (hs * ws);
            }
        for (int i = 0; i < a.Length; i += plane) TensorPrimitives.Multiply(a.AsSpan(i, plane), factor, a.AsSpan(i, plane));
        y.CopyFrom(a);
    }

    private Tensor New(ReadOnlySpan<int> shape)
    {
        var t = Backend.Allocate(shape);
        _live.Add(t);
        return t;
    }

    private Tensor View(Tensor x, int[] shape)
    {
        var t = x.Reshape(shape);
        _live.Insert(0, t);   // views are disposed before what they view
        return t;
    }

    /// <summary>A value by name: computed earlier in this run, or a float constant uploaded once to the backend.</summary>
    private Tensor Value(Dictionary<string, Tensor> v, string name, NodeProto? n)
    {
        if (v.TryGetValue(name, out var t)) return t;
        if (_weights.TryGetValue(name, out t)) return t;
        if (_consts.TryGetValue(name, out var c))
        {
            if (c.Floats is null) throw new ArgumentException($"'{name}' is an int64 tensor where a float32 one is needed.");
            t = Backend.Allocate(c.Shape);
            t.CopyFrom(c.Floats);
            _weights[name] = t;
            return t;
        }
        throw new OnnxModelException($"{_path}: '{name}' is not computed (read by {(n is null ? "the graph output" : $"node '{n.Name}' ({n.OpType})")}).", n?.Name, n?.OpType);
    }

    // ---- constants and attributes ----

    private Const ConstantValue(NodeProto n)
    {
        var a = n.Attribute.Single();
        return a.Name switch
        {
            "value" => ReadTensor(a.T, $"node '{n.Name}' (Constant) value", n.Name, "Constant"),
            "value_float" => new Const([], [a.F], null),
            "value_floats" => new Const([a.Floats.Count], [.. a.Floats], null),
            "value_int" => new Const([], null, [a.I]),
            "value_ints" => new Const([a.Ints.Count], null, [.. a.Ints]),
            _ => throw Unsupported(n, $"its attribute '{a.Name}'"),
        };
    }

    private Const ReadTensor(TensorProto t, string what, string? node, string? op)
    {
        if (t.HasDataLocation && t.DataLocation == TensorProto.Types.DataLocation.External)
            throw new OnnxModelException($"{_path}: {what} keeps its data in an external file; FastConv reads models with the data inside.", node, op);
        int[] shape = t.Dims.Select(d => d is < 0 or > int.MaxValue ? throw new OnnxModelException($"{_path}: {what} has the dimension {d}.", node, op) : (int)d).ToArray();
        long count;
        try { count = ShapeMath.ElementCount(shape, what); }
        catch (ArgumentException e) { throw new OnnxModelException($"{_path}: {e.Message}", node, op); }
        int size = (TensorProto.Types.DataType)t.DataType switch { TensorProto.Types.DataType.Float => 4, TensorProto.Types.DataType.Int64 => 8, _ => 1 };
        if (t.HasRawData && t.RawData.Length % size != 0)
            throw new OnnxModelException($"{_path}: {what} has {t.RawData.Length} bytes of raw data, not a whole number of {size}-byte values.", node, op);
        var type = (TensorProto.Types.DataType)t.DataType;
        switch (type)
        {
            case TensorProto.Types.DataType.Float:
            {
                float[] f = t.HasRawData ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
                if (f.Length != count) throw new OnnxModelException($"{_path}: {what} has shape {ShapeMath.Format(shape)} but {f.Length} values.", node, op);
                return new Const(shape, f, null);
            }
            case TensorProto.Types.DataType.Int64:
            {
                long[] l = t.HasRawData ? MemoryMarshal.Cast<byte, long>(t.RawData.Span).ToArray() : [.. t.Int64Data];
                if (l.Length != count) throw new OnnxModelException($"{_path}: {what} has shape {ShapeMath.Format(shape)} but {l.Length} values.", node, op);
                return new Const(shape, null, l);
            }
            case TensorProto.Types.DataType.Bool:
            {
                long[] l = t.HasRawData ? t.RawData.Span.ToArray().Select(b => (long)b).ToArray() : t.Int32Data.Select(i => (long)i).ToArray();
                return new Const(shape, null, l);
            }
            default:
                throw new OnnxModelException($"{_path}: {what} is of data type {type}; FastConv runs float32 (and int64 shapes).", node, op);
        }
    }

    private static AttributeProto? Attr(NodeProto n, string name) => n.Attribute.FirstOrDefault(a => a.Name == name);
    private static long Int(NodeProto n, string name, long dflt) => Attr(n, name) is { } a ? a.I : dflt;
    private static float Float(NodeProto n, string name, float dflt) => Attr(n, name) is { } a ? a.F : dflt;
    private static string Str(NodeProto n, string name, string dflt) => Attr(n, name) is { } a ? a.S.ToStringUtf8() : dflt;
    private static long[]? Ints(NodeProto n, string name) => Attr(n, name) is { } a ? [.. a.Ints] : null;

    private static (int, int) Pair(NodeProto n, string name) =>
        Ints(n, name) is { } v ? v.Length == 2 ? ((int)v[0], (int)v[1]) : throw new ArgumentException($"{name} gives {v.Length} values; 2-D ops take 2.") : (1, 1);

    /// <summary>The padding of each spatial axis: the pads attribute, 0 for VALID, or for SAME_UPPER / SAME_LOWER what
    /// makes the output ceil(size / stride), when that padding is the same at both ends (FastConv pads symmetrically).</summary>
    private static (int, int) Pads(NodeProto n, Tensor x, int kh, int kw, int sh, int sw, int dh, int dw)
    {
        string autoPad = Str(n, "auto_pad", "NOTSET");
        if (autoPad is not ("SAME_UPPER" or "SAME_LOWER"))
            return Ints(n, "pads") is { } p ? ((int)p[0], (int)p[1]) : (0, 0);
        int Same(int size, int k, int s, int d, string axis)
        {
            if (s < 1 || d < 1) throw new ArgumentException($"strides and dilations must be at least 1, got {s} and {d} along {axis}.");
            long outSize = (size + (long)s - 1) / s, total = Math.Max(0, (outSize - 1) * s + (long)(k - 1) * d + 1 - size);
            if (total % 2 != 0)
                throw new ArgumentException($"auto_pad = {autoPad} pads {axis} by {total / 2} and {total - total / 2} at its two ends (size {size}, kernel {k}, stride {s}); FastConv pads the same at both ends.");
            if (total / 2 > int.MaxValue) throw new ArgumentException($"auto_pad = {autoPad} pads {axis} by {total / 2} at each end, beyond {int.MaxValue}.");
            return (int)(total / 2);
        }
        return (Same(x.Dim(2), kh, sh, dh, "the height"), Same(x.Dim(3), kw, sw, dw, "the width"));
    }
}
