namespace FastConv.Exercises.Tests;

/// <summary>Exercise 3: OutputSize against FastConv's Conv2dDesc, which computes and validates every layer's geometry.</summary>
public class OutputSizeTests
{
    private const string File = "03-output-size/OutputSize.cs";

    [TestCase(7, 3, 1, 0, 5)]
    [TestCase(7, 3, 2, 0, 3)]
    [TestCase(227, 11, 4, 0, 55)]
    [TestCase(32, 5, 1, 2, 32)]
    [TestCase(224, 3, 1, 1, 224)]
    [TestCase(10, 3, 2, 0, 4)]
    public void Of_TheNotesExamples(int w, int f, int s, int p, int expected)
    {
        int got = Expect.Call("OutputSize.Of", File, () => OutputSize.Of(w, f, s, p));
        Assert.That(got, Is.EqualTo(expected), $"(W − F + 2P)/S + 1 = ({w} − {f} + 2·{p})/{s} + 1 rounds down to {expected}");
    }

    [Test]
    public void Of_And_TilesEvenly_AgreeWithConv2dDesc_OverAGrid()
    {
        for (int w = 1; w <= 12; w++)
            for (int f = 1; f <= 7; f++)
                for (int s = 1; s <= 4; s++)
                    for (int p = 0; p <= 3; p++)
                    {
                        Conv2dDesc? d = null;
                        try { d = new Conv2dDesc(1, 1, w, w, 1, f, f, stride: s, padding: p); }
                        catch (ArgumentException) { }
                        string where = $"W = {w}, F = {f}, S = {s}, P = {p}";
                        if (d is null)
                        {
                            Expect.Call("OutputSize.Of", File, () =>
                                Assert.That(() => OutputSize.Of(w, f, s, p), Throws.InstanceOf<ArgumentException>(),
                                    $"{where}: the filter does not fit (W − F + 2P = {w - f + 2 * p} < 0); throw an ArgumentException"));
                            continue;
                        }
                        int got = Expect.Call("OutputSize.Of", File, () => OutputSize.Of(w, f, s, p));
                        Assert.That(got, Is.EqualTo(d.Value.OutW), $"{where}: check (W − F + 2P)/S + 1, rounded down");
                        bool tiles = Expect.Call("OutputSize.TilesEvenly", File, () => OutputSize.TilesEvenly(w, f, s, p));
                        Assert.That(tiles, Is.EqualTo(d.Value.TilesEvenly), $"{where}: it tiles when S divides W − F + 2P exactly");
                    }
    }

    [TestCase(1)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(7)]
    [TestCase(11)]
    public void SamePadding_KeepsTheSize(int f)
    {
        int p = Expect.Call("OutputSize.SamePadding", File, () => OutputSize.SamePadding(f));
        var d = new Conv2dDesc(1, 1, 32, 32, 1, f, f, stride: 1, padding: p);
        Assert.That(d.OutW, Is.EqualTo(32), $"F = {f}, P = {p}: (32 − {f} + 2·{p})/1 + 1 = {d.OutW}, not 32; solve (W − F + 2P) + 1 = W for P");
    }
}
