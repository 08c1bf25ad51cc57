namespace FastConv.Tests.Core;

/// <summary>The CS231n output-size formula (W − F + 2P)/S + 1 and the notes' VGG-16 table.</summary>
[TestFixture]
public class DescriptorTests
{
    [Test]
    public void NotesExamples()
    {
        Assert.That(new Conv2dDesc(1, 3, 32, 32, 12, 5, 5, stride: 1, padding: 2).OutW, Is.EqualTo(32), "32x32, F5 S1 P2");
        var alex = new Conv2dDesc(1, 3, 227, 227, 96, 11, 11, stride: 4, padding: 0);
        Assert.That((alex.OutH, alex.OutW), Is.EqualTo((55, 55)), "227, F11 S4 P0");
        Assert.That(alex.WeightElements, Is.EqualTo(34_848), "AlexNet conv1 weights 11*11*3*96");
        Assert.That(alex.ParameterCount, Is.EqualTo(34_944), "AlexNet conv1 with biases");
        Assert.That(new Pool2dDesc(PoolKind.Max, 1, 64, 224, 224, 2, 2).OutH, Is.EqualTo(112), "pool 224, F2 S2");
        Assert.That(new Conv2dDesc(1, 1, 7, 7, 1, 3, 3, stride: 2).OutW, Is.EqualTo(3), "7x7, F3 S2 -> 3");
    }

    [Test]
    public void OutputSizeFloorsLikePyTorch()
    {
        var d = new Conv2dDesc(1, 1, 10, 10, 1, 3, 3, stride: 3);   // (10 − 3)/3 + 1 = 3.33 → 3
        Assert.That(d.OutH, Is.EqualTo(3));
        Assert.That(d.TilesEvenly, Is.False);
        Assert.That(new Conv2dDesc(1, 1, 10, 10, 1, 4, 4, stride: 3).TilesEvenly, Is.True);
        Assert.That(new Conv2dDesc(1, 1, 11, 11, 1, 3, 3, padding: 2, dilation: 2).OutH, Is.EqualTo(11), "dilated 3x3 spans 5");
    }

    [Test]
    public void FlopCount()
    {
        var d = new Conv2dDesc(64, 3, 32, 32, 32, 3, 3, stride: 1, padding: 1);
        Assert.That(d.Flops, Is.EqualTo(2L * 64 * 32 * 3 * 9 * 32 * 32));
    }

    /// <summary>Every layer of VGG-16 (configuration D), as in the CS231n notes' table.</summary>
    [Test]
    public void Vgg16_ShapesAndParameters()
    {
        // (kind, channels out) in order; "M" is a 2x2 stride-2 max pool
        var layers = new (string Kind, int Out, int Size, long Params)[]
        {
            ("conv", 64, 224, 1_792), ("conv", 64, 224, 36_928), ("pool", 64, 112, 0),
            ("conv", 128, 112, 73_856), ("conv", 128, 112, 147_584), ("pool", 128, 56, 0),
            ("conv", 256, 56, 295_168), ("conv", 256, 56, 590_080), ("conv", 256, 56, 590_080), ("pool", 256, 28, 0),
            ("conv", 512, 28, 1_180_160), ("conv", 512, 28, 2_359_808), ("conv", 512, 28, 2_359_808), ("pool", 512, 14, 0),
            ("conv", 512, 14, 2_359_808), ("conv", 512, 14, 2_359_808), ("conv", 512, 14, 2_359_808), ("pool", 512, 7, 0),
        };
        int c = 3, size = 224;
        long total = 0;
        foreach (var (kind, outC, expectSize, expectParams) in layers)
        {
            if (kind == "conv")
            {
                var d = new Conv2dDesc(1, c, size, size, outC, 3, 3, stride: 1, padding: 1);
                Assert.That(d.OutH, Is.EqualTo(expectSize), $"conv {c}->{outC} at {size}");
                Assert.That(d.ParameterCount, Is.EqualTo(expectParams), $"conv {c}->{outC} parameters");
                total += d.ParameterCount;
                size = d.OutH; c = outC;
            }
            else
            {
                var p = new Pool2dDesc(PoolKind.Max, 1, c, size, size, 2, 2);
                Assert.That(p.OutH, Is.EqualTo(expectSize), $"pool at {size}");
                size = p.OutH;
            }
        }
        long fc1Weights = (long)c * size * size * 4096;
        Assert.That(fc1Weights, Is.EqualTo(102_760_448), "first FC layer: [7x7x512] -> 4096 weights");
        total += fc1Weights + 4096 + 4096L * 4096 + 4096 + 4096L * 1000 + 1000;
        Assert.That(total, Is.EqualTo(138_357_544), "VGG-16 parameters with biases");
    }
}
