using System.Runtime.InteropServices;
using FastConv.Nn.Onnx;
using FastConv.Nn.Onnx.Proto;
using FastConv.Tests.Support;

namespace FastConv.Tests.Onnx;

/// <summary>
/// The ONNX project's own node tests (Debian's libonnx-testdata: data/node/test_*/model.onnx with test_data_set_*/
/// input_*.pb and output_0.pb), each one a graph of one op. Every test is loaded; one that FastConv refuses must be
/// refused with an <see cref="OnnxModelException"/> naming the file and, for a node, the node and its op type; one it
/// runs must give the expected output on every backend, within the ONNX backend tests' own tolerance
/// (numpy.testing.assert_allclose with rtol 1e-3, atol 1e-7). Which tests run is pinned in node-tests-run.txt: a test
/// that ran before and is now refused fails, and so does one that newly runs until the list names it.
/// <para>The data are at /usr/share/libonnx-testdata/data/node (or $FASTCONV_ONNX_TESTDATA); .ci/run installs them and
/// sets FASTCONV_REQUIRE_ONNX_TESTDATA=1, so there a missing folder fails instead of skipping.</para>
/// </summary>
[TestFixture, NonParallelizable]
public class OnnxNodeTests
{
    private const double Rtol = 1e-3, Atol = 1e-7;

    private static string DataDir =>
        Environment.GetEnvironmentVariable("FASTCONV_ONNX_TESTDATA") is { Length: > 0 } d ? d : "/usr/share/libonnx-testdata/data/node";

    private static readonly Lazy<HashSet<string>> Expected = new(() =>
        [.. File.ReadAllLines(Path.Combine(TestContext.CurrentContext.TestDirectory, "onnx", "node-tests-run.txt"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))]);

    public static IEnumerable<string> NodeTests() =>
        Directory.Exists(DataDir)
            ? Directory.GetDirectories(DataDir, "test_*").Where(d => File.Exists(Path.Combine(d, "model.onnx"))).Select(Path.GetFileName).Order()!
            : [];

    [Test]
    public void TestData_ArePresent_AndTheRunListNamesOnlyTestsThatExist()
    {
        if (!Directory.Exists(DataDir))
        {
            string why = $"the ONNX node tests are not installed at {DataDir} (apt-get install libonnx-testdata)";
            if (Environment.GetEnvironmentVariable("FASTCONV_REQUIRE_ONNX_TESTDATA") == "1") Assert.Fail(why);
            Assert.Ignore(why);
        }
        var present = NodeTests().ToHashSet();
        Assert.That(present, Has.Count.GreaterThan(100), $"{DataDir} holds too few node tests");
        Assert.That(Expected.Value.Where(n => !present.Contains(n)), Is.Empty, "node-tests-run.txt names tests the data do not have");
    }

    [TestCaseSource(nameof(NodeTests))]
    public void NodeTest_RunsOnEveryBackend_OrIsRefusedNamingWhatIsMissing(string name)
    {
        string dir = Path.Combine(DataDir, name), model = Path.Combine(dir, "model.onnx");
        var sets = Directory.GetDirectories(dir, "test_data_set_*").Order().ToArray();
        string? refusal = null;
        try
        {
            using var onnx = OnnxModel.Load(model, TestBackends.Reference);
            foreach (var set in sets) RunSet(onnx, set);   // a shape-dependent refusal comes from Forward
        }
        catch (OnnxModelException e)
        {
            refusal = e.Message;
            Assert.That(e.Message, Does.StartWith(model), "a refusal names the file");
            if (e.Node is not null) Assert.That(e.Message, Does.Contain($"node '{e.Node}' ({e.OpType})"), "a node's refusal names the node and its op type");
        }
        if (refusal is not null)
        {
            Assert.That(Expected.Value, Does.Not.Contain(name), $"{name} is in node-tests-run.txt but was refused: {refusal}");
            TestContext.Out.WriteLine($"refused: {refusal[(model.Length + 2)..]}");
            return;
        }
        Assert.That(Expected.Value, Does.Contain(name), $"{name} runs now: add it to node-tests-run.txt");
        Assert.That(sets, Is.Not.Empty);
        foreach (var backend in TestBackends.FastNames)
        {
            using var onnx = OnnxModel.Load(model, TestBackends.Get(backend));
            foreach (var set in sets) RunSet(onnx, set, backend);
        }
    }

    /// <summary>Runs one test data set and compares its output; throws an OnnxModelException for a refusal.</summary>
    private static void RunSet(OnnxModel onnx, string set, string backend = "reference")
    {
        var inputs = new List<Tensor>();
        try
        {
            for (int i = 0; i < onnx.InputNames.Count; i++)
            {
                var (shape, data) = Read(Path.Combine(set, $"input_{i}.pb"));
                var t = onnx.Backend.Allocate(shape);
                inputs.Add(t);
                t.CopyFrom(data);
            }
            var (expectedShape, expected) = Read(Path.Combine(set, "output_0.pb"));
            var y = onnx.Forward(inputs);
            string where = $"{Path.GetFileName(Path.GetDirectoryName(set))}/{Path.GetFileName(set)} on {backend}";
            Assert.That(y.Shape.ToArray(), Is.EqualTo(expectedShape), $"{where}: output shape");
            float[] actual = y.ToArray();
            for (int k = 0; k < expected.Length; k++)
            {
                double e = expected[k], a = actual[k];
                bool ok = double.IsNaN(e) ? double.IsNaN(a) : double.IsInfinity(e) ? a == e : Math.Abs(a - e) <= Atol + Rtol * Math.Abs(e);
                if (!ok) Assert.Fail($"{where}: output[{k}] = {a:R}, expected {e:R} (rtol {Rtol}, atol {Atol})");
            }
        }
        finally
        {
            foreach (var t in inputs) t.Dispose();
        }
    }

    /// <summary>A float32 TensorProto file: its dims and values.</summary>
    private static (int[] Shape, float[] Data) Read(string path)
    {
        using var f = File.OpenRead(path);
        var t = TensorProto.Parser.ParseFrom(f);
        Assert.That((TensorProto.Types.DataType)t.DataType, Is.EqualTo(TensorProto.Types.DataType.Float),
            $"{path}: the graph's inputs are float32 (Load refuses any other), so its data must be");
        float[] data = t.HasRawData ? MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
        return ([.. t.Dims.Select(d => (int)d)], data);
    }
}
