using FastConv.Nn;
using FastConv.Nn.Onnx;
using FastConv.Nn.Onnx.Proto;
using FastConv.Tests.Support;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FastConv.Tests.Onnx;

/// <summary>OnnxModel.Load: an exported model imported again gives the model's outputs; a hand-written graph of the ops
/// export does not write (MatMul, Reshape, Softmax, Constant, bias Add, dilated Conv, AveragePool without the padding
/// in its count) agrees with ONNX Runtime; anything unsupported is one error naming the node, op and what is missing.</summary>
[TestFixture, NonParallelizable]
public class OnnxImportTests : TempDirectoryTests
{
    private static IBackend Compute => OnnxExportTests.Compute;

    [TestCase("cs231n-convnet"), TestCase("vgg-small"), TestCase("resnet20"), TestCase("lenet")]
    public void Exported_ImportedAgain_GivesTheModelsOutputs(string name)
    {
        var be = Compute;
        int[] input = [3, 32, 32];
        using var model = ModelZoo.Create(name, be, input, 10, seed: 2);
        string path = Path.Combine(Dir, "m.onnx");
        model.ExportOnnx(path, classNames: Enumerable.Range(0, 10).Select(i => $"c{i}").ToArray());
        float[] x = Random(2 * 3 * 32 * 32, 4);
        using var t = be.Allocate([2, .. input]);
        t.CopyFrom(x);
        float[] expected = model.Forward(t, training: false).ToArray();
        using var onnx = OnnxModel.Load(path, be);
        Assert.That(onnx.InputShape, Is.EqualTo(new[] { -1, 3, 32, 32 }));
        Assert.That(onnx.ClassNames, Is.EqualTo(Enumerable.Range(0, 10).Select(i => $"c{i}")));
        float[] actual = onnx.Run(x, [2, .. input]);
        OnnxExportTests.AssertAgree(actual, expected, $"{name} exported and imported", tolerance: 1e-5);
    }

    [Test]
    public void HandWrittenGraph_AgreesWithOnnxRuntime()
    {
        var rng = new Random(8);
        var g = new GraphProto { Name = "ops" };
        g.Input.Add(ValueInfo("x", 2, 3, 9, 9));
        g.Output.Add(ValueInfo("probs", 2, 5));
        Init(g, "w", [4, 3, 3, 3], rng); Init(g, "b", [4], rng);
        Init(g, "cb", [1, 4, 1, 1], rng);
        Init(g, "fc", [4 * 4 * 4, 5], rng); Init(g, "fb", [5], rng);
        var shape = new TensorProto { Name = "shape", DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(2); shape.Int64Data.Add([0, -1]);
        g.Initializer.Add(shape);
        g.Node.Add(Node("Conv", "conv", ["x", "w", "b"], ["c"], Ints("dilations", 2, 2), Ints("pads", 2, 2, 2, 2), Ints("strides", 1, 1)));
        g.Node.Add(Node("Add", "bias", ["cb", "c"], ["c2"]));
        g.Node.Add(Node("Relu", "relu", ["c2"], ["r"]));
        g.Node.Add(Node("AveragePool", "avg", ["r"], ["p"], Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1),
                        new AttributeProto { Name = "count_include_pad", Type = AttributeProto.Types.AttributeType.Int, I = 0 }));
        g.Node.Add(Node("MaxPool", "max", ["p"], ["q"], Ints("kernel_shape", 2, 2), Ints("strides", 1, 1)));
        g.Node.Add(Node("Reshape", "flat", ["q", "shape"], ["f"]));
        g.Node.Add(Node("MatMul", "mm", ["f", "fc"], ["m"]));
        g.Node.Add(Node("Constant", "half", [], ["h"], new AttributeProto { Name = "value_floats", Type = AttributeProto.Types.AttributeType.Floats, Floats = { 0.5f, -0.25f, 1f, 2f, 0f } }));
        g.Node.Add(Node("Add", "shift", ["m", "h"], ["m2"]));
        g.Node.Add(Node("Dropout", "drop", ["m2"], ["d"]));
        g.Node.Add(Node("Identity", "id", ["d"], ["i"]));
        g.Node.Add(Node("Softmax", "softmax", ["i"], ["probs"]));
        string path = Write(g, "ops.onnx");

        float[] x = Random(2 * 3 * 9 * 9, 5);
        using var onnx = OnnxModel.Load(path, Compute);
        float[] ours = onnx.Run(x, [2, 3, 9, 9]);
        using var session = new InferenceSession(path);
        using var r = session.Run([NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(x, [2, 3, 9, 9]))]);
        float[] ort = r.Single().AsTensor<float>().ToArray();
        OnnxExportTests.AssertAgree(ours, ort, "hand-written graph, FastConv against ORT", tolerance: 1e-5);
        Assert.That(ours.Sum(), Is.EqualTo(2f).Within(1e-4), "two softmax rows");
    }

    /// <summary>Two graph inputs, broadcasts the node tests do not reach ([2, 3, 1, 5] + [4, 1]: both operands
    /// stretch; a batched MatMul whose batch axes broadcast; a concatenation along the last axis; Softmax over a middle
    /// axis), against ONNX Runtime on every backend.</summary>
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void TwoInputs_Broadcasts_AgreeWithOnnxRuntime(string backend)
    {
        var rng = new Random(9);
        var g = new GraphProto { Name = "broadcasts" };
        g.Input.Add(ValueInfo("a", 2, 3, 1, 5));
        g.Input.Add(ValueInfo("b", 4, 1));
        g.Output.Add(ValueInfo("y", 2, 3, 4, 9));
        Init(g, "m", [3, 5, 6], rng);
        g.Node.Add(Node("Add", "add", ["a", "b"], ["s"]));                   // [2, 3, 4, 5]
        g.Node.Add(Node("MatMul", "mm", ["s", "m"], ["p"]));                 // [2, 3, 4, 6], m broadcast over the batch of 2
        g.Node.Add(Node("Concat", "cat", ["p", "s"], ["c"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = -1 }));
        g.Node.Add(Node("Softmax", "soft", ["c"], ["y"], new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = 1 }));
        string path = Write(g, "broadcasts.onnx");

        float[] a = Random(2 * 3 * 5, 10), b = Random(4, 11);
        using var onnx = OnnxModel.Load(path, TestBackends.Get(backend));
        Assert.That(onnx.InputNames, Is.EqualTo(new[] { "a", "b" }));
        using var ta = onnx.Backend.Allocate([2, 3, 1, 5]);
        using var tb = onnx.Backend.Allocate([4, 1]);
        ta.CopyFrom(a); tb.CopyFrom(b);
        var y = onnx.Forward([ta, tb]);
        Assert.That(y.Shape.ToArray(), Is.EqualTo(new[] { 2, 3, 4, 11 }));
        float[] ours = y.ToArray();
        using var session = new InferenceSession(path);
        using var r = session.Run([NamedOnnxValue.CreateFromTensor("a", new DenseTensor<float>(a, [2, 3, 1, 5])),
                                   NamedOnnxValue.CreateFromTensor("b", new DenseTensor<float>(b, [4, 1]))]);
        OnnxExportTests.AssertAgree(ours, r.Single().AsTensor<float>().ToArray(), $"broadcasting graph on {backend}, FastConv against ORT", tolerance: 1e-5);

        var one = Assert.Throws<ArgumentException>(() => onnx.Forward(ta));
        Assert.That(one!.Message, Does.Contain("2 inputs (a, b)"));
        var e = Assert.Throws<OnnxModelException>(() => Predictor.LoadOnnx(path, onnx.Backend));
        Assert.That(e!.Message, Does.Contain("2 inputs (a, b)").And.Contain("predict"));
    }

    /// <summary>A broadcast Add keeps an infinite input infinite: the output was once made a copy of the input as
    /// x + 0·x, which turns ∞ into NaN.</summary>
    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.AllNames))]
    public void BroadcastAdd_OfAnInfiniteInput_StaysInfinite(string backend)
    {
        var g = new GraphProto { Name = "inf" };
        g.Input.Add(ValueInfo("x", 1, 2, 2, 2));
        g.Output.Add(ValueInfo("y", 1, 2, 2, 2));
        var bias = new TensorProto { Name = "b", DataType = (int)TensorProto.Types.DataType.Float };
        bias.Dims.Add([1, 2, 1, 1]); bias.FloatData.Add([1f, -1f]);
        var row = new TensorProto { Name = "r", DataType = (int)TensorProto.Types.DataType.Float };
        row.Dims.Add(2); row.FloatData.Add([0.5f, 0.25f]);
        g.Initializer.Add(bias); g.Initializer.Add(row);
        g.Node.Add(Node("Add", "per_channel", ["x", "b"], ["s"]));
        g.Node.Add(Node("Add", "along_w", ["s", "r"], ["y"]));
        string path = Write(g, "inf.onnx");
        using var onnx = OnnxModel.Load(path, TestBackends.Get(backend));
        float[] y = onnx.Run([float.PositiveInfinity, 1, 2, 3, 4, 5, float.NegativeInfinity, 7], [1, 2, 2, 2]);
        Assert.That(y, Is.EqualTo(new[] { float.PositiveInfinity, 2.25f, 3.5f, 4.25f, 3.5f, 4.25f, float.NegativeInfinity, 6.25f }));
    }

    [TestCase("Sigmoid", "", "FastConv has no Sigmoid op")]
    [TestCase("Conv", "group", "group = 2: FastConv has no grouped convolution")]
    [TestCase("Conv", "pads", "pads [0, 1, 1, 0]: FastConv pads the same at both ends")]
    [TestCase("MaxPool", "ceil_mode", "ceil_mode = 1")]
    [TestCase("Conv", "auto_pad", "auto_pad = SAME is not an ONNX value")]
    public void Unsupported_IsOneErrorNamingNodeOpAndWhat(string op, string attribute, string message)
    {
        var rng = new Random(1);
        var g = new GraphProto { Name = "bad" };
        g.Input.Add(ValueInfo("x", 1, 2, 5, 5));
        g.Output.Add(ValueInfo("y", 1, 2, 5, 5));
        Init(g, "w", [2, attribute == "group" ? 1 : 2, 1, 1], rng);
        var attrs = attribute switch
        {
            "group" => new[] { new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = 2 } },
            "pads" => [Ints("pads", 0, 1, 1, 0)],
            "ceil_mode" => [Ints("kernel_shape", 2, 2), new AttributeProto { Name = "ceil_mode", Type = AttributeProto.Types.AttributeType.Int, I = 1 }],
            "auto_pad" => [new AttributeProto { Name = "auto_pad", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8("SAME") }],
            _ => [],
        };
        g.Node.Add(Node(op, "the_node", op == "Conv" ? ["x", "w"] : ["x"], ["y"], attrs));
        string path = Write(g, "bad.onnx");
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path, Compute));
        Assert.That(e!.Message, Does.Contain($"node 'the_node' ({op})").And.Contain(message));
        Assert.That((e.Node, e.OpType), Is.EqualTo(("the_node", op)));
    }

    [Test]
    public void NotOnnx_OrMissing_ClearError()
    {
        string path = Path.Combine(Dir, "junk.onnx");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        var e = Assert.Throws<OnnxModelException>(() => OnnxModel.Load(path, Compute));
        Assert.That(e!.Message, Does.Contain("is not an ONNX model"));
        Assert.Throws<FileNotFoundException>(() => OnnxModel.Load(Path.Combine(Dir, "none.onnx"), Compute));
    }

    private string Write(GraphProto g, string file)
    {
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "test" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        string path = Path.Combine(Dir, file);
        File.WriteAllBytes(path, m.ToByteArray());
        return path;
    }

    private static ValueInfoProto ValueInfo(string name, params int[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (int d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } } };
    }

    private static void Init(GraphProto g, string name, int[] dims, Random rng)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (int d in dims) t.Dims.Add(d);
        t.FloatData.Add(Random(dims.Aggregate(1, (a, b) => a * b), rng.Next()));
        g.Initializer.Add(t);
    }

    private static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attrs)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.Add(inputs); n.Output.Add(outputs); n.Attribute.Add(attrs);
        return n;
    }

    private static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(v);
        return a;
    }

    private static float[] Random(int count, int seed) => OnnxExportTests.RandomInput(count, new Random(seed));
}
