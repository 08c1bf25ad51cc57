using FastConv.Cli;
using FastConv.Nn;
using Microsoft.Data.Analysis;

namespace FastConv.Tests.Cli;

/// <summary>`fastconv summary` and `fastconv shape` against the numbers the CS231n notes print.</summary>
[TestFixture, NonParallelizable]
public class LearnCommandTests
{
    /// <summary>Runs the command; the output with every run of white space made one space, so lines Spectre wraps still match.</summary>
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (code, o, e) = CommandTests.Run(args);
        return (code, System.Text.RegularExpressions.Regex.Replace(o, @"\s+", " "), e);
    }

    /// <summary>The notes' "VGGNet in detail" table, transcribed: volume, memory (values) and weights per row.</summary>
    private static readonly (string Label, string Volume, long Memory, long Weights)[] NotesVgg16 =
    [
        ("INPUT", "[224x224x3]", 224 * 224 * 3, 0),
        ("CONV3-64", "[224x224x64]", 224 * 224 * 64, 1_728), ("CONV3-64", "[224x224x64]", 224 * 224 * 64, 36_864),
        ("POOL2", "[112x112x64]", 112 * 112 * 64, 0),
        ("CONV3-128", "[112x112x128]", 112 * 112 * 128, 73_728), ("CONV3-128", "[112x112x128]", 112 * 112 * 128, 147_456),
        ("POOL2", "[56x56x128]", 56 * 56 * 128, 0),
        ("CONV3-256", "[56x56x256]", 56 * 56 * 256, 294_912), ("CONV3-256", "[56x56x256]", 56 * 56 * 256, 589_824),
        ("CONV3-256", "[56x56x256]", 56 * 56 * 256, 589_824),
        ("POOL2", "[28x28x256]", 28 * 28 * 256, 0),
        ("CONV3-512", "[28x28x512]", 28 * 28 * 512, 1_179_648), ("CONV3-512", "[28x28x512]", 28 * 28 * 512, 2_359_296),
        ("CONV3-512", "[28x28x512]", 28 * 28 * 512, 2_359_296),
        ("POOL2", "[14x14x512]", 14 * 14 * 512, 0),
        ("CONV3-512", "[14x14x512]", 14 * 14 * 512, 2_359_296), ("CONV3-512", "[14x14x512]", 14 * 14 * 512, 2_359_296),
        ("CONV3-512", "[14x14x512]", 14 * 14 * 512, 2_359_296),
        ("POOL2", "[7x7x512]", 7 * 7 * 512, 0),
        ("FC", "[1x1x4096]", 4096, 102_760_448), ("FC", "[1x1x4096]", 4096, 16_777_216), ("FC", "[1x1x1000]", 1000, 4_096_000),
    ];

    private static Sequential Vgg16() =>
        ModelZoo.Create("vgg16", BackendRegistry.Get("reference"), [3, 224, 224], 1000, seed: 0, initialize: false);

    [Test]
    public void Vgg16_EveryRowAndTotal_AsTheNotes()
    {
        using var m = Vgg16();
        var rows = NotesSummary.Rows(m);
        Assert.That(rows.Select(r => (r.Label, r.Volume, r.Memory, r.Weights)), Is.EqualTo(NotesVgg16));
        Assert.That(rows.Sum(r => r.Weights), Is.EqualTo(NotesVgg16.Sum(r => r.Weights)).And.EqualTo(138_344_128), "≈ 138M parameters");
        Assert.That(rows.Sum(r => r.Memory), Is.EqualTo(NotesVgg16.Sum(r => r.Memory)).And.EqualTo(15_237_608), "the notes' rows add up to 15.2M values");
        Assert.That(rows.Sum(r => r.Biases), Is.EqualTo(13_416));
        // Receptive fields: conv 3, 5, pool 6, ... pool5 sees 212x212 (torchscan and the VGG paper's arithmetic).
        Assert.That(rows.Select(r => r.FieldH).ToArray()[..20],
            Is.EqualTo(new[] { 1, 3, 5, 6, 10, 14, 16, 24, 32, 40, 44, 60, 76, 92, 100, 132, 164, 196, 212, 404 }));
    }

    [Test]
    public void Vgg16_Summary_PrintsTheNotesTable_Totals_Observation_AndFastConvsAccounting()
    {
        var (code, output, err) = Run("summary", "--model", "vgg16");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("7*7*512*4096").And.Contain("102,760,448"), "the first FC's weights, as the notes write them");
        Assert.That(output, Does.Contain("(3*3*64)*128").And.Contain("212x212"));
        Assert.That(output, Does.Contain("TOTAL memory: 15,237,608 values ≈ 15.2M × 4 bytes = 61.0 MB").And.Contain("≈ 121.9 MB with the gradients"));
        Assert.That(output, Does.Contain("TOTAL params: 138,344,128 weights ≈ 138.3M").And.Contain("138,357,544 with them"));
        Assert.That(output, Does.Contain("24M * 4 bytes ~= 93MB"), "the notes' printed total is quoted and explained");
        Assert.That(output, Does.Contain("most of the memory is in the early layers: the first 5 of 22 rows").And.Contain("59%"));
        Assert.That(output, Does.Contain("most of the parameters are in the FC layers: the FC layers hold 123,633,664 of the 138,344,128 weights (89%)"));
        Assert.That(output, Does.Contain("Why the numbers differ").And.Contain("+13,555,712 ReLU outputs").And.Contain("28,826,600 values per image"));
        Assert.That(output, Does.Contain("A batch of 64: activations 64 × 28,826,600"));
        Assert.That(output, Does.Contain("102,764,544"), "FastConv's own table still counts the biases");
    }

    [Test]
    public void Summary_Observation_IsComputed_NotPrinted()
    {
        // An all-convolutional spec: the weights sit in the CONV layers, so the sentence must say so.
        var (code, output, err) = Run("summary", "--model", "[conv3-64,relu]*3,gap,fc", "--input", "32x32x3");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("most of the parameters are in the CONV layers").And.Not.Contain("in the FC layers"));
        Assert.That(output, Does.Contain("[32x32x3]"), "32x32x3 read as W x H x D");
    }

    [Test]
    public void Summary_Csv_IsTheRowsDataFrame_AndMarkdownATable()
    {
        var (code, csv, err) = CommandTests.Run("summary", "--model", "vgg16", "--format", "csv");
        Assert.That(code, Is.Zero, err);
        using var s = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(csv));
        var df = DataFrame.LoadCsv(s);
        Assert.That(df.Rows.Count, Is.EqualTo(22));
        Assert.That(df.Columns.Select(c => c.Name), Is.SupersetOf(new[] { "layer", "volume", "memory", "weights", "biases", "receptive_field" }));
        Assert.That(Convert.ToInt64(df["weights"][19]), Is.EqualTo(102_760_448));
        var (mcode, md, _) = Run("summary", "--model", "vgg16", "--format", "markdown");
        Assert.That(mcode, Is.Zero);
        Assert.That(md, Does.Contain("| FC | [1x1x4096] | 4096 | 4,096 | 7*7*512*4096 | 102,760,448 |"));
    }

    [TestCase("227x227x3", "read as the notes' W x H x D: width 227, height 227, depth 3")]
    [TestCase("3,227,227", "read as FastConv's C,H,W: 3 channel(s), height 227, width 227")]
    public void Shape_AlexNetConv1_BothNotations(string input, string understood)
    {
        var (code, output, err) = Run("shape", "--input", input, "--filter", "11", "--filters", "96", "--stride", "4", "--pad", "0");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain(understood));
        Assert.That(output, Does.Contain("(227 - 11 + 2*0)/4 + 1 = 216/4 + 1 = 55"));
        Assert.That(output, Does.Contain("output volume 55x55x96"));
        Assert.That(output, Does.Contain("96*(11*11*3) + 96 = 34,848 weights + 96 biases = 34,944"));
        Assert.That(output, Does.Contain("= 105,705,600"), "without parameter sharing");
        Assert.That(output, Does.Contain("X_col [363 x 3025]").And.Contain("[96 x 363]·[363 x 3025] = [96 x 3025]"));
        Assert.That(output, Does.Contain("sees 11x11x3 of the input"));
        Assert.That(output, Does.Contain("tiles evenly"));
    }

    [TestCase("5x7", "read as the notes' W x H x D: width 5, height 7, depth 1 (one channel); in the other notation 1,7,5")]
    [TestCase("7,5", "read as FastConv's C,H,W: 1 channel(s), height 7, width 5 (H,W: one channel); in the other notation 5x7x1")]
    public void Shape_NonSquare_OneChannel_BothNotations(string input, string understood)
    {
        var (code, output, err) = Run("shape", "--input", input, "-F", "3", "-P", "0", "-K", "2");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain(understood));
        Assert.That(output, Does.Contain("output width (W - F + 2P)/S + 1 = (5 - 3 + 2*0)/1 + 1 = 2/1 + 1 = 3"));
        Assert.That(output, Does.Contain("output height (H - F + 2P)/S + 1 = (7 - 3 + 2*0)/1 + 1 = 4/1 + 1 = 5"));
        Assert.That(output, Does.Contain("output volume 3x5x2"));
    }

    [Test]
    public void Shape_SamePadding_32To32()
    {
        var (code, output, err) = Run("shape", "--input", "32x32x3", "-F", "5", "-S", "1", "-P", "2", "-K", "10");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("(32 - 5 + 2*2)/1 + 1 = 31/1 + 1 = 32").And.Contain("output volume 32x32x10"));
    }

    [Test]
    public void Shape_NotTiling_CountsThePixelsLeftUnseen()
    {
        // The notes' example: W = 10, P = 0, F = 3, S = 2 gives 4.5; floored, column and row 9 are never seen.
        var (code, output, err) = Run("shape", "--input", "10x10x3", "-F", "3", "-S", "2", "-P", "0", "-K", "4");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("does not tile evenly").And.Contain("floored: 7/2 = 3.5"));
        Assert.That(output, Does.Contain("19 pixels per channel left unseen"), "10 + 10 - 1 pixels of the last row and column");
        var (c2, o2, _) = Run("shape", "--input", "10x10x3", "-F", "3", "-S", "2", "-P", "1", "-K", "4");
        Assert.That(c2, Is.Zero);
        Assert.That(o2, Does.Contain("no real pixel is left unseen"), "(10 - 3 + 2)/2: the one column lost is padding");
    }

    [Test]
    public void Shape_Layers_ThreeStacked3x3_See7x7_With27CSquared()
    {
        var (code, output, err) = Run("shape", "--input", "56x56x64", "--layers", "conv3-64,relu,conv3-64,relu,conv3-64,relu,pool2");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("3 stacked stride-1 convolutions see 7x7 of their input with 3*(3*3)*C² = 27C² weights"));
        Assert.That(output, Does.Contain("against 49C²").And.Contain("C = 64: 110,592").And.Contain("200,704"));
        Assert.That(output, Does.Contain("(56 - 2 + 2*0)/2 + 1 = 28").And.Contain("8x8"), "the pool after them sees 8x8");
    }

    [Test]
    public void ModelSpec_BuildsWhatThePresetBuilds()
    {
        var be = BackendRegistry.Get("reference");
        using var preset = ModelZoo.Create("cs231n-convnet", be, [1, 28, 28], 10, seed: 0, initialize: false);
        using var spec = ModelZoo.Create("[conv3-32,relu,pool2],[conv3-64,relu,pool2],fc-128,relu,fc", be, [1, 28, 28], 10, seed: 0, initialize: false);
        Assert.That(spec.Layers.Select(l => (l.Kind, l.Describe())), Is.EqualTo(preset.Layers.Select(l => (l.Kind, l.Describe()))));
        Assert.That(spec.ParameterCount, Is.EqualTo(preset.ParameterCount));
        Assert.That(ModelSpec.Parse("[conv3-8,relu]x3,pool2").Count, Is.EqualTo(7));
        Assert.That(ModelSpec.Parse("conv11-96-s4-p0")[0], Is.EqualTo(new ModelSpec.Item("conv11-96-s4-p0", "conv", 11, 96, 4, 0)));
    }
}
