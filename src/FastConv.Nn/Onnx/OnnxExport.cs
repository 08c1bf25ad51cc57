using System.Runtime.InteropServices;
using System.Text.Json;
using FastConv.Nn.Data;
using FastConv.Nn.Onnx.Proto;
using Google.Protobuf;

namespace FastConv.Nn.Onnx;

/// <summary>
/// Writes a FastConv model as an ONNX file (opset 13, IR version 8) that ONNX Runtime and other ONNX tools run.
/// <para>The graph takes "input" [N, C, H, W] (N dynamic, float32, already normalised) and gives "logits" [N, classes].
/// Layer by layer: Conv2d → Conv (with its bias input when it has one; a fused ReLU stays the separate ReLU layer's Relu
/// node), ReLU → Relu, MaxPool2d / AvgPool2d → MaxPool / AveragePool (count_include_pad = 1, as FastConv divides by the
/// kernel area), GlobalAvgPool2d → GlobalAveragePool + Flatten, BatchNorm2d → BatchNormalization with the running
/// statistics (inference form), Linear → Gemm (transB = 1), Flatten → Flatten, Dropout → nothing (the identity at
/// inference), ResidualBlock → its two chains joined by Add (then Relu), InceptionBlock → its branches joined by Concat
/// on the channels, ChannelPadShortcut → a 1x1 Conv of its stride with the fixed 0/1 identity-pad weight (the same map as FastConv's
/// pool-and-concatenate, in one op every ONNX runtime and FastConv's own importer run).</para>
/// <para>The normalisation is recorded in metadata_props ("normalization_mean", "normalization_std", "preprocessing"),
/// not folded into the first convolution: a folded convolution would treat its zero padding as black pixels instead of
/// the channel mean that FastConv pads with in normalised space, so border outputs would differ. Class names are the
/// JSON array "class_names".</para>
/// </summary>
public static class OnnxExport
{
    public const int Opset = 13;
    public const long IrVersion = 8;
    public const string InputName = "input", OutputName = "logits", BatchDim = "N";

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> as ONNX. <paramref name="classNames"/> (one per
    /// output) and <paramref name="normalization"/> go into the metadata when given; <paramref name="modelName"/> (the
    /// preset or spec) too. The file is written to a temporary file in the same folder and renamed over the target, so an
    /// existing file is replaced whole or not at all.</summary>
    public static void ExportOnnx(this Sequential model, string path, IReadOnlyList<string>? classNames = null,
                                  Normalization? normalization = null, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var proto = Build(model, classNames, normalization, modelName);
        WriteAtomically(path, proto);
    }

    /// <summary>A checkpoint's model, class names, normalisation and preset or spec as ONNX (see
    /// <see cref="ExportOnnx(Sequential, string, IReadOnlyList{string}?, Normalization?, string?)"/>); the model is built
    /// on the reference backend, which only holds the weights here.</summary>
    public static void ExportOnnx(this Checkpoint checkpoint, string path)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        using var model = checkpoint.CreateModel(BackendRegistry.Get("reference"));
        model.ExportOnnx(path, checkpoint.ClassNames, checkpoint.Normalization, checkpoint.Model);
    }

    internal static ModelProto Build(Sequential model, IReadOnlyList<string>? classNames, Normalization? normalization, string? modelName)
    {
        int classes = model.OutputShape.Length == 1 ? model.OutputShape[0]
            : throw new ArgumentException($"ONNX export: the model's output is {ShapeMath.Format(model.OutputShape)} per example; a classifier gives [classes].");
        if (classNames is not null && classNames.Count != classes)
            throw new ArgumentException($"ONNX export: {classNames.Count} class names for a model with {classes} outputs.", nameof(classNames));
        if (normalization is not null && (normalization.Mean.Length != model.InputShape[0] || normalization.Std.Length != model.InputShape[0]))
            throw new ArgumentException($"ONNX export: the normalisation has {normalization.Mean.Length} means and {normalization.Std.Length} standard deviations " +
                                        $"for a model with {model.InputShape[0]} input channels.", nameof(normalization));

        var g = new GraphBuilder();
        string y = g.Chain(model.Layers, InputName);
        // The last node's output is renamed "logits"; when no node produced it (a model that is all dropout), an Identity does.
        if (g.Graph.Node.Count > 0 && g.Graph.Node[^1].Output[0] == y) g.Graph.Node[^1].Output[0] = OutputName;
        else g.Node("Identity", OutputName, [y]);

        g.Graph.Name = modelName ?? "fastconv";
        g.Graph.Input.Add(ValueInfo(InputName, [.. model.InputShape]));
        g.Graph.Output.Add(ValueInfo(OutputName, [classes]));

        var m = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "FastConv",
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "fastconv",
            ModelVersion = 1,
            DocString = "Exported by FastConv. Input: float32 [N, C, H, W], normalised as metadata 'preprocessing' says; output: logits [N, classes].",
            Graph = g.Graph,
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        void Meta(string key, string value) => m.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        if (modelName is not null) Meta("fastconv_model", modelName);
        Meta("input_shape", JsonSerializer.Serialize(model.InputShape));
        if (classNames is not null) Meta("class_names", JsonSerializer.Serialize(classNames));
        if (normalization is not null)
        {
            Meta("normalization_mean", JsonSerializer.Serialize(normalization.Mean));
            Meta("normalization_std", JsonSerializer.Serialize(normalization.Std));
            Meta("preprocessing", "x[c] = (pixel / 255 - normalization_mean[c]) / normalization_std[c], channels first (NCHW)");
        }
        return m;
    }

    /// <summary>Value info of a float tensor [N, ...rest] with N the dynamic batch.</summary>
    private static ValueInfoProto ValueInfo(string name, int[] rest)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDim });
        foreach (int d in rest) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private static void WriteAtomically(string path, ModelProto proto)
    {
        string full = Path.GetFullPath(path);
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new DirectoryNotFoundException($"ONNX export: the folder {dir} does not exist.");
        if (Directory.Exists(full)) throw new IOException($"ONNX export: {full} is a folder; name a file such as model.onnx.");
        // the temporary-file-and-rename that checkpoints and run files use
        RunFiles.Atomic(full, tmp =>
        {
            using var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None);
            proto.WriteTo(f);
            f.Flush(flushToDisk: true);
        });
    }

    /// <summary>Nodes and initialisers, each named after the FastConv layer or parameter it comes from.</summary>
    private sealed class GraphBuilder
    {
        public GraphProto Graph { get; } = new();

        /// <summary>The layers in order from tensor <paramref name="x"/>; returns the name of the chain's output.</summary>
        public string Chain(IEnumerable<Layer> layers, string x)
        {
            foreach (var l in layers) x = Layer(l, x);
            return x;
        }

        private string Layer(Layer l, string x)
        {
            switch (l)
            {
                case Conv2d c:
                    return Conv(c.Name, x, c.Weight.Name, c.Weight.Value, c.Bias?.Name, c.Bias?.Value, c.KernelSize, c.Stride, c.Padding);
                case ChannelPadShortcut s:
                {
                    var w = new float[s.OutChannels * s.InChannels];
                    for (int c = 0; c < s.InChannels; c++) w[c * s.InChannels + c] = 1f;
                    Initializer($"{s.Name}.weight", [s.OutChannels, s.InChannels, 1, 1], w);
                    var n = Node("Conv", s.Name, [x, $"{s.Name}.weight"]);
                    ConvAttributes(n, 1, s.Stride, 0);
                    return s.Name;
                }
                case ReLU:
                    Node("Relu", l.Name, [x]);
                    return l.Name;
                case Pool2dLayer p:
                {
                    var n = Node(p is MaxPool2d ? "MaxPool" : "AveragePool", p.Name, [x]);
                    n.Attribute.Add(Ints("kernel_shape", p.KernelSize, p.KernelSize));
                    n.Attribute.Add(Ints("strides", p.Stride, p.Stride));
                    n.Attribute.Add(Ints("pads", p.Padding, p.Padding, p.Padding, p.Padding));
                    if (p is AvgPool2d) n.Attribute.Add(Int("count_include_pad", 1));
                    return p.Name;
                }
                case GlobalAvgPool2d:
                    Node("GlobalAveragePool", $"{l.Name}.gap", [x]);
                    Node("Flatten", l.Name, [$"{l.Name}.gap"]).Attribute.Add(Int("axis", 1));
                    return l.Name;
                case BatchNorm2d b:
                {
                    var stats = b.Buffers.ToDictionary(t => t.Name, t => t.Value);
                    Initializer(b.Gamma.Name, b.Gamma.Value);
                    Initializer(b.Beta.Name, b.Beta.Value);
                    Initializer($"{b.Name}.running_mean", stats["running_mean"]);
                    Initializer($"{b.Name}.running_var", stats["running_var"]);
                    var n = Node("BatchNormalization", b.Name, [x, b.Gamma.Name, b.Beta.Name, $"{b.Name}.running_mean", $"{b.Name}.running_var"]);
                    n.Attribute.Add(Float("epsilon", b.Epsilon));
                    n.Attribute.Add(Float("momentum", 1f - b.Momentum));   // ONNX's momentum weighs the old statistic; unused at inference
                    return b.Name;
                }
                case Linear f:
                {
                    Initializer(f.Weight.Name, f.Weight.Value);
                    Initializer(f.Bias.Name, f.Bias.Value);
                    Node("Gemm", f.Name, [x, f.Weight.Name, f.Bias.Name]).Attribute.Add(Int("transB", 1));
                    return f.Name;
                }
                case Flatten:
                    Node("Flatten", l.Name, [x]).Attribute.Add(Int("axis", 1));
                    return l.Name;
                case DropoutLayer:
                    return x;   // the identity at inference
                case ResidualBlock r:
                {
                    string body = Chain(r.Body, x), shortcut = Chain(r.Shortcut, x);
                    string sum = r.ReluAfterAdd ? $"{r.Name}.add" : r.Name;
                    Node("Add", sum, [body, shortcut]);
                    if (r.ReluAfterAdd) Node("Relu", r.Name, [sum]);
                    return r.Name;
                }
                case InceptionBlock inc:
                {
                    var outs = inc.Chains.Select(c => Chain(c, x)).ToArray();
                    Node("Concat", inc.Name, outs).Attribute.Add(Int("axis", 1));
                    return inc.Name;
                }
                default:
                    throw new ArgumentException($"ONNX export: layer '{l.Name}' of kind {l.Kind} ({l.Describe()}) has no ONNX form in FastConv's exporter.");
            }
        }

        private string Conv(string name, string x, string wName, Tensor w, string? bName, Tensor? b, int kernel, int stride, int padding)
        {
            Initializer(wName, w);
            if (b is not null) Initializer(bName!, b);
            var n = Node("Conv", name, b is null ? [x, wName] : [x, wName, bName!]);
            ConvAttributes(n, kernel, stride, padding);
            return name;
        }

        private static void ConvAttributes(NodeProto n, int kernel, int stride, int padding)
        {
            n.Attribute.Add(Ints("kernel_shape", kernel, kernel));
            n.Attribute.Add(Ints("strides", stride, stride));
            n.Attribute.Add(Ints("pads", padding, padding, padding, padding));
            n.Attribute.Add(Ints("dilations", 1, 1));
            n.Attribute.Add(Int("group", 1));
        }

        /// <summary>A node named <paramref name="output"/> whose one output has that name too.</summary>
        public NodeProto Node(string op, string output, string[] inputs)
        {
            var n = new NodeProto { OpType = op, Name = output };
            n.Input.Add(inputs);
            n.Output.Add(output);
            Graph.Node.Add(n);
            return n;
        }

        private void Initializer(string name, Tensor t) => Initializer(name, t.Shape.ToArray(), t.ToArray());

        private void Initializer(string name, int[] shape, float[] data)
        {
            var p = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            foreach (int d in shape) p.Dims.Add(d);
            // raw_data is little-endian IEEE 754, which is how .NET holds floats on every platform FastConv runs on.
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX export writes raw little-endian floats.");
            p.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data.AsSpan()));
            Graph.Initializer.Add(p);
        }

        private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
        private static AttributeProto Float(string name, float v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = v };

        private static AttributeProto Ints(string name, params long[] v)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.Add(v);
            return a;
        }
    }
}
