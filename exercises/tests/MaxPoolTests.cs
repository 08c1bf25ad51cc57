namespace FastConv.Exercises.Tests;

/// <summary>Exercise 2: MaxPool.Forward and MaxPool.Backward against the reference backend's max pooling.</summary>
public class MaxPoolTests
{
    private const string File = "02-max-pool/MaxPool.cs";

    // N, C, H, W, F, S: the usual 2x2 stride 2, odd sizes that floor, overlapping 3x3 stride 2, a window as large as the map.
    [TestCase(1, 1, 4, 4, 2, 2)]
    [TestCase(2, 3, 6, 8, 2, 2)]
    [TestCase(1, 2, 7, 7, 2, 2)]
    [TestCase(2, 2, 7, 9, 3, 2)]
    [TestCase(1, 3, 5, 5, 5, 1)]
    public void Forward_EqualsTheReference(int n, int c, int h, int w, int f, int s)
    {
        var x = Reference.Distinct(new Random(h * 31 + w), n, c, h, w);
        var got = Expect.Call("MaxPool.Forward", File, () => MaxPool.Forward(x, f, s));
        Expect.Same(got, Reference.MaxPool(x, f, s), "output",
            $"a pool has no padding: (W − F)/S + 1 = ({w} − {f})/{s} + 1 = {(w - f) / s + 1} wide, and keeps the depth {c}",
            "check that window (i, j) starts at row i·S, column j·S and covers F rows and F columns");
    }

    [TestCase(1, 1, 4, 4, 2, 2)]
    [TestCase(2, 3, 6, 8, 2, 2)]
    [TestCase(1, 2, 7, 7, 2, 2)]
    [TestCase(2, 2, 7, 9, 3, 2)]
    public void Backward_EqualsTheReference(int n, int c, int h, int w, int f, int s)
    {
        var rng = new Random(h * 17 + w);
        var x = Reference.Distinct(rng, n, c, h, w);
        var dout = Reference.Integers(rng, n, c, (h - f) / s + 1, (w - f) / s + 1);
        var got = Expect.Call("MaxPool.Backward", File, () => MaxPool.Backward(dout, x, f, s));
        Expect.Same(got, Reference.MaxPoolBackward(dout, x, f, s), "dx",
            $"dx has the shape of x, [{n}, {c}, {h}, {w}]",
            "each window's gradient goes only to its maximum; use += where overlapping windows share one, and 0 everywhere else");
    }

    [Test]
    public void Backward_Ties_GoToTheFirstMaximum()
    {
        var x = new float[1, 1, 2, 2];   // all equal: the first in row-major order wins
        var dout = new float[,,,] { { { { 5 } } } };
        var got = Expect.Call("MaxPool.Backward", File, () => MaxPool.Backward(dout, x, 2, 2));
        Expect.Same(got, Reference.MaxPoolBackward(dout, x, 2, 2), "dx", "dx has the shape of x",
            "on a tie only the first maximum in row-major order gets the gradient (use >, not >=, when you search)");
    }
}
