using FastConv.Nn;

namespace FastConv.Exercises.Tests;

/// <summary>Exercise 4: ParameterCount against what FastConv's layers allocate.</summary>
public class ParameterCountTests
{
    private const string File = "04-parameter-count/ParameterCount.cs";

    [TestCase(3, 96, 11)]
    [TestCase(64, 64, 3)]
    [TestCase(1, 32, 7)]
    [TestCase(512, 512, 3)]
    public void Conv_EqualsTheLayersParameters(int depth, int filters, int f)
    {
        using var layer = new Conv2d(Reference.Backend, depth, filters, f);
        long got = Expect.Call("ParameterCount.Conv", File, () => ParameterCount.Conv(depth, filters, f));
        Assert.That(got, Is.EqualTo(layer.Parameters.Sum(p => p.Value.Length)),
            $"a Conv2d({depth} → {filters}, {f}x{f}) holds weights [{filters}, {depth}, {f}, {f}] and biases [{filters}]: K·(F·F·D) + K");
    }

    [Test]
    public void Conv_WithAndWithoutSharing_TheNotesAlexNetNumbers()
    {
        Assert.That(Expect.Call("ParameterCount.Conv", File, () => ParameterCount.Conv(3, 96, 11)), Is.EqualTo(34_944), "96·(11·11·3) + 96");
        long unshared = Expect.Call("ParameterCount.ConvWithoutSharing", File, () => ParameterCount.ConvWithoutSharing(55, 55, 3, 96, 11));
        Assert.That(unshared, Is.EqualTo(105_705_600), "55·55·96 neurons, each with 11·11·3 weights and a bias");
        var d = new Conv2dDesc(1, 3, 227, 227, 96, 11, 11, stride: 4);
        Assert.That(unshared, Is.EqualTo(d.OutputElements * (d.ReductionLength + 1)), "one weight per input it sees, plus a bias, for every output neuron");
    }

    [TestCase(25088, 4096)]
    [TestCase(4096, 1000)]
    [TestCase(100, 10)]
    public void FullyConnected_EqualsTheLayersParameters(int inputs, int outputs)
    {
        using var layer = new Linear(Reference.Backend, inputs, outputs);
        long got = Expect.Call("ParameterCount.FullyConnected", File, () => ParameterCount.FullyConnected(inputs, outputs));
        Assert.That(got, Is.EqualTo(layer.Parameters.Sum(p => p.Value.Length)), $"{inputs}·{outputs} weights and {outputs} biases");
    }

    [Test]
    public void Vgg16_AddsUpToThePreset()
    {
        using var vgg = ModelZoo.Create("vgg16", Reference.Backend, [3, 224, 224], 1000, seed: 0, initialize: false);
        int[] widths = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512];
        long total = 0;
        int depth = 3;
        foreach (int k in widths) { total += Expect.Call("ParameterCount.Conv", File, () => ParameterCount.Conv(depth, k, 3)); depth = k; }
        total += ParameterCount.FullyConnected(7 * 7 * 512, 4096) + ParameterCount.FullyConnected(4096, 4096) + ParameterCount.FullyConnected(4096, 1000);
        Assert.That(total, Is.EqualTo(vgg.ParameterCount).And.EqualTo(138_357_544), "13 conv layers 3x3 and 3 FC layers, biases included");
    }
}
