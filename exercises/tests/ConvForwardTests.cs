namespace FastConv.Exercises.Tests;

/// <summary>Exercise 1: ConvForward.Naive against the reference backend's convolution.</summary>
public class ConvForwardTests
{
    private const string File = "01-conv-forward/ConvForward.cs";

    // N, C, H, W, K, F, stride, pad: the notes' 5x5x3 example with two 3x3 filters, stride 2, pad 1 first.
    [TestCase(1, 3, 5, 5, 2, 3, 2, 1)]
    [TestCase(1, 1, 7, 7, 1, 3, 1, 0)]
    [TestCase(2, 3, 8, 6, 4, 3, 1, 1)]
    [TestCase(2, 2, 9, 9, 3, 5, 1, 2)]
    [TestCase(1, 3, 11, 11, 2, 4, 3, 0)]
    [TestCase(1, 4, 4, 4, 3, 1, 1, 0)]
    [TestCase(1, 2, 3, 3, 2, 3, 1, 2)]
    public void Naive_EqualsTheReference(int n, int c, int h, int w, int k, int f, int stride, int pad)
    {
        var rng = new Random(n * 1000 + c * 100 + h * 10 + f);
        var x = Reference.Integers(rng, n, c, h, w);
        var wt = Reference.Integers(rng, k, c, f, f);
        var b = Enumerable.Range(0, k).Select(i => (float)(i - 1)).ToArray();
        var got = Expect.Call("ConvForward.Naive", File, () => ConvForward.Naive(x, wt, b, stride, pad));
        Expect.Same(got, Reference.Conv(x, wt, b, stride, pad), "output",
            $"check the padding in (W − F + 2P)/S + 1 (here ({w} − {f} + 2·{pad})/{stride} + 1 = {(w - f + 2 * pad) / stride + 1} wide)",
            "check the offset i·S + r − P of the input pixel under each tap, that taps outside the input count as 0, and the bias");
    }

    [Test]
    public void Naive_DoesNotChangeItsInputs()
    {
        var rng = new Random(5);
        var x = Reference.Integers(rng, 1, 2, 5, 5);
        var w = Reference.Integers(rng, 2, 2, 3, 3);
        var (x0, w0) = ((float[,,,])x.Clone(), (float[,,,])w.Clone());
        Expect.Call("ConvForward.Naive", File, () => ConvForward.Naive(x, w, [1, 2], 1, 1));
        Assert.That(x, Is.EqualTo(x0), "the input x was modified: pad by skipping taps, not by writing into x");
        Assert.That(w, Is.EqualTo(w0), "the filters w were modified");
    }
}
