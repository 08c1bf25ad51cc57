using System.Text.Json;
using FastConv.Nn;
using FastConv.Nn.Onnx;
using FastConv.Tests.Cli;
using FastConv.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FastConv.Tests.Onnx;

/// <summary>ONNX export checked in ONNX Runtime: every preset (random weights, batch-norm statistics that are not the
/// defaults, random biases) and a trained checkpoint give the same logits in ORT as in FastConv, within 1e-4 relative L2.</summary>
[TestFixture, NonParallelizable]
public class OnnxExportTests : TempDirectoryTests
{
    private const double RelativeL2 = 1e-4;

    /// <summary>Native when libfastconv.so loads (the big ImageNet presets in float on the reference backend would take
    /// minutes), else managed; both are checked against the reference in the parity suite.</summary>
    internal static IBackend Compute => BackendRegistry.Available.FirstOrDefault(b => b.Name == "native") ?? BackendRegistry.Get("managed");

    /// <summary>FastConv's own presets at 3x32x32, batch 3 (a batch that is not 1 checks the dynamic N); the case studies
    /// at their published input and class count, batch 1.</summary>
    private static IEnumerable<TestCaseData> Presets() => ModelZoo.Names.Select(n => ModelZoo.PublishedInput(n) is { } p
        ? new TestCaseData(n, p.Input, p.Classes, 1).SetName($"Preset_AgreesWithOnnxRuntime({n}, {string.Join("x", p.Input)}, batch 1)")
        : new TestCaseData(n, new[] { 3, 32, 32 }, 10, 3).SetName($"Preset_AgreesWithOnnxRuntime({n}, 3x32x32, batch 3)"));

    [TestCaseSource(nameof(Presets))]
    public void Preset_AgreesWithOnnxRuntime(string name, int[] input, int classes, int batch)
    {
        var be = Compute;
        using var model = ModelZoo.Create(name, be, input, classes, seed: 7);
        PerturbStatistics(model, new Random(11));
        string path = Path.Combine(Dir, $"{name}.onnx");
        model.ExportOnnx(path, modelName: name);
        float[] x = RandomInput(batch * input.Aggregate(1, (a, b) => a * b), new Random(3));
        float[] expected = Forward(model, [batch, .. input], x);
        float[] actual = RunOnnx(path, [batch, .. input], x, classes);
        AssertAgree(actual, expected, name);
    }

    [Test]
    public void TrainedCheckpoint_AgreesWithOnnxRuntime_AndCarriesClassNamesAndNormalisation()
    {
        var s = new RunSettings { Model = "cs231n-convnet", Epochs = 1, Limit = 500, Validation = 100, Batch = 50, Seed = 5 };
        string runDir = Path.Combine(Dir, "run");
        using (var run = TrainingRun.Start(s, Compute, runDir)) run.Run();
        var ck = Checkpoint.Load(Path.Combine(runDir, TrainingRun.BestCheckpoint));
        string path = Path.Combine(Dir, "trained.onnx");
        ck.ExportOnnx(path);

        using var model = ck.CreateModel(Compute);
        int[] shape = [4, .. ck.InputShape];
        float[] x = RandomInput(shape.Aggregate(1, (a, b) => a * b), new Random(9));
        float[] expected = Forward(model, shape, x);
        AssertAgree(RunOnnx(path, shape, x, ck.ClassNames.Length), expected, "trained cs231n-convnet");
        using (var imported = OnnxModel.Load(path, Compute))   // and FastConv's own import of the file gives the checkpoint's outputs
        {
            AssertAgree(imported.Run(x, shape), expected, "trained cs231n-convnet imported by OnnxModel");
            Assert.That(imported.ClassNames, Is.EqualTo(ck.ClassNames));
            Assert.That(imported.Normalization!.Mean, Is.EqualTo(ck.Normalization.Mean));
        }

        using var session = new InferenceSession(path);
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.That(JsonSerializer.Deserialize<string[]>(meta["class_names"]), Is.EqualTo(ck.ClassNames));
        Assert.That(JsonSerializer.Deserialize<float[]>(meta["normalization_mean"]), Is.EqualTo(ck.Normalization.Mean));
        Assert.That(JsonSerializer.Deserialize<float[]>(meta["normalization_std"]), Is.EqualTo(ck.Normalization.Std));
        Assert.That(meta["fastconv_model"], Is.EqualTo("cs231n-convnet"));
        Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { OnnxExport.InputName }));
        Assert.That(session.InputMetadata[OnnxExport.InputName].Dimensions, Is.EqualTo(new[] { -1, 1, 28, 28 }), "N is dynamic");
        Assert.That(session.OutputMetadata.Keys, Is.EqualTo(new[] { OnnxExport.OutputName }));

        // The command writes the same file, over an existing one (replaced whole, no temporary file left beside it).
        string cliOut = Path.Combine(Dir, "cli.onnx");
        File.WriteAllText(cliOut, "not a model");
        var (code, stdout, err) = CommandTests.Run("export", "--checkpoint", Path.Combine(runDir, TrainingRun.BestCheckpoint), "--out", cliOut);
        Assert.That(code, Is.Zero, err);
        Assert.That(stdout, Does.Contain("cli.onnx").And.Contain("10 classes"));
        Assert.That(File.ReadAllBytes(cliOut), Is.EqualTo(File.ReadAllBytes(path)), "the command and ExportOnnx write the same bytes");
        Assert.That(Directory.GetFiles(Dir, "*.tmp-*"), Is.Empty);

        // fastconv predict --onnx on image files says what --checkpoint says, to the last printed digit.
        string pngs = Path.Combine(Dir, "pngs");
        Assert.That(CommandTests.Run("data", "export", "fashion-mnist", "--out", pngs, "--train", "1", "--test", "6").Code, Is.Zero);
        string[] common = [Path.Combine(pngs, "test"), "--format", "csv", "--top", "3", "--backend", Compute.Name];
        var fromCheckpoint = CommandTests.Run(["predict", "--checkpoint", Path.Combine(runDir, TrainingRun.BestCheckpoint), .. common]);
        var fromOnnx = CommandTests.Run(["predict", "--onnx", cliOut, .. common]);
        Assert.That((fromCheckpoint.Code, fromOnnx.Code), Is.EqualTo((0, 0)), fromCheckpoint.Err + fromOnnx.Err);
        Assert.That(fromOnnx.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(1 + 6 * 3));
        Assert.That(fromOnnx.Out, Is.EqualTo(fromCheckpoint.Out));
        var neither = CommandTests.Run(["predict", .. common]);
        Assert.That(neither.Err, Does.Contain("Give either --checkpoint or --onnx"));
    }

    [Test]
    public void ExportCommand_BadPaths_OneClearLine()
    {
        var (code, _, err) = CommandTests.Run("export", "--checkpoint", Path.Combine(Dir, "none.ckpt"), "--out", Path.Combine(Dir, "m.onnx"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err.Trim(), Does.StartWith("fastconv: error: Checkpoint not found"));

        using var model = ModelZoo.Create("lenet", BackendRegistry.Get("reference"), [1, 28, 28], 10, seed: 1);
        var e = Assert.Throws<DirectoryNotFoundException>(() => model.ExportOnnx(Path.Combine(Dir, "missing", "m.onnx")));
        Assert.That(e!.Message, Does.Contain("does not exist"));
        Assert.Throws<IOException>(() => model.ExportOnnx(Dir));
        var names = Assert.Throws<ArgumentException>(() => model.ExportOnnx(Path.Combine(Dir, "m.onnx"), classNames: ["a", "b"]));
        Assert.That(names!.Message, Does.Contain("2 class names for a model with 10 outputs"));
        Assert.That(Directory.GetFiles(Dir), Is.Empty, "nothing written on a refusal");
    }

    /// <summary>Every batch norm's γ, β and running statistics, and every bias, set away from their initial values, so
    /// the export is checked on all of them (the defaults 1, 0, 0, 1 would hide a swapped or missing input).</summary>
    private static void PerturbStatistics(Sequential model, Random rng)
    {
        foreach (var l in Flatten(model.Layers))
        {
            if (l is BatchNorm2d b)
            {
                var stats = b.Buffers.ToDictionary(t => t.Name, t => t.Value);
                Fill(b.Gamma.Value, rng, 0.8, 1.2); Fill(b.Beta.Value, rng, -0.1, 0.1);
                Fill(stats["running_mean"], rng, -0.1, 0.1); Fill(stats["running_var"], rng, 0.5, 1.5);
            }
            foreach (var p in l.Parameters.Where(p => p.Name.EndsWith(".bias", StringComparison.Ordinal))) Fill(p.Value, rng, -0.05, 0.05);
        }
    }

    private static IEnumerable<Layer> Flatten(IEnumerable<Layer> layers) =>
        layers.SelectMany(l => l is Block b ? Flatten(b.Children) : [l]);

    private static void Fill(Tensor t, Random rng, double lo, double hi)
    {
        var a = new float[t.Length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        t.CopyFrom(a);
    }

    internal static float[] RandomInput(int count, Random rng)
    {
        var a = new float[count];
        for (int i = 0; i < a.Length; i++) a[i] = (float)(2 * rng.NextDouble() - 1);
        return a;
    }

    private static float[] Forward(Sequential model, int[] shape, float[] x)
    {
        using var t = model.Backend.Allocate(shape);
        t.CopyFrom(x);
        return model.Forward(t, training: false).ToArray();
    }

    private static float[] RunOnnx(string path, int[] shape, float[] x, int classes)
    {
        using var session = new InferenceSession(path);
        var input = new DenseTensor<float>(x, shape);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(OnnxExport.InputName, input)]);
        var y = results.Single(r => r.Name == OnnxExport.OutputName).AsTensor<float>();
        Assert.That(y.Dimensions.ToArray(), Is.EqualTo(new[] { shape[0], classes }), "ORT output shape");
        return y.ToArray();
    }

    internal static void AssertAgree(float[] actual, float[] expected, string what, double tolerance = RelativeL2)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(float.IsFinite(expected[i]) && float.IsFinite(actual[i]), $"{what}: logit {i} is {expected[i]} in FastConv, {actual[i]} in ORT");
            diff += Math.Pow(actual[i] - expected[i], 2);
            norm += Math.Pow(expected[i], 2);
        }
        Assert.That(norm, Is.GreaterThan(0), $"{what}: all logits are 0, which would agree with anything");
        double rel = Math.Sqrt(diff / norm);
        TestContext.Out.WriteLine($"{what}: relative L2 {rel:E2} over {expected.Length} logits (FastConv on {Compute.Name})");
        Assert.That(rel, Is.LessThanOrEqualTo(tolerance), $"{what}: the outputs disagree");
    }
}
