using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Parity;

/// <summary>
/// The ops of graph models on every backend against the reference formulas, bit for bit: the element-wise add (the
/// residual join; in place too, as a block may run it) and the channel concatenation with its backward, the split.
/// </summary>
[TestFixture]
public class GraphOpParityTests
{
    public static IEnumerable<string> Backends() => TestBackends.AllNames;

    [TestCaseSource(nameof(Backends))]
    public void Add_Exact_AndInPlace(string backend)
    {
        var be = TestBackends.Get(backend);
        const int len = 2 * 3 * 5 * 7 + 13;   // a tail after every vector width
        foreach (float alpha in new[] { 1f, 0.5f, 0f })
        {
            var a = TestData.Uniform(len, 1); var b = TestData.Uniform(len, 2);
            var want = a.Select((v, i) => (float)EltwiseOps.Add.Reference(v, b[i], alpha)).ToArray();
            Assert.That(want[3], Is.EqualTo(a[3] + alpha * b[3]), "the formula");
            using var ta = TestData.Tensor(be, [len], a); using var tb = TestData.Tensor(be, [len], b); using var ty = be.Allocate([len]);
            if (alpha == 1f) be.AddForward(ta, tb, ty); else be.AddForward(ta, tb, ty, alpha);
            Tolerance.Exact(ty.ToArray(), want, $"{backend} add, alpha {alpha}");
            be.AddForward(ta, tb, ta, alpha);   // y = a, in place
            Tolerance.Exact(ta.ToArray(), want, $"{backend} add in place, alpha {alpha}");
        }
    }

    [TestCaseSource(nameof(Backends))]
    public void Concat_ForwardAndSplit_Exact(string backend)
    {
        var be = TestBackends.Get(backend);
        int n = 3, h = 5, w = 3;
        int[] channels = [2, 1, 5, 17];
        int total = channels.Sum();
        var parts = channels.Select((c, i) => TestData.Tensor(be, [n, c, h, w], TestData.Uniform(n * c * h * w, 10 + i))).ToList();
        using var y = be.Allocate([n, total, h, w]);
        be.ConcatForward(parts, y);
        var want = new float[n * total * h * w];
        int offset = 0;
        foreach (var p in parts)
        {
            ReferenceKernels.Concat<float>(n, h * w, p.ToArray(), p.Dim(1), want, total, offset, toWhole: true);
            offset += p.Dim(1);
        }
        // one element by hand: image 1, channel 3 (the first of part 2), position (2, 1)
        Assert.That(want[((1 * total + 3) * h + 2) * w + 1], Is.EqualTo(parts[2].ToArray()[((1 * 5 + 0) * h + 2) * w + 1]));
        Tolerance.Exact(y.ToArray(), want, $"{backend} concat");

        var dy = TestData.Uniform(n * total * h * w, 99);
        using var tdy = TestData.Tensor(be, [n, total, h, w], dy);
        var dxs = channels.Select(c => be.Allocate([n, c, h, w])).ToList();
        be.ConcatBackward(tdy, dxs);
        offset = 0;
        for (int i = 0; i < dxs.Count; i++)
        {
            var part = new float[n * channels[i] * h * w];
            ReferenceKernels.Concat<float>(n, h * w, part, channels[i], dy, total, offset, toWhole: false);
            Tolerance.Exact(dxs[i].ToArray(), part, $"{backend} split, part {i}");
            offset += channels[i];
        }
        foreach (var t in parts.Concat(dxs)) t.Dispose();
    }

    [TestCaseSource(nameof(Backends))]
    public void BadShapes_NameTheArgument(string backend)
    {
        var be = TestBackends.Get(backend);
        using var a = be.Allocate([2, 3]); using var b = be.Allocate([3, 2]); using var y = be.Allocate([2, 3]);
        Assert.That(Assert.Throws<ArgumentException>(() => be.AddForward(a, b, y))!.Message,
            Does.Contain("AddForward: b has shape [3, 2], expected [2, 3]"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => be.AddForward(a, a, y, float.NaN))!.Message,
            Does.Contain("AddForward: alpha must be a finite number"));
        using var p1 = be.Allocate([2, 3, 4, 4]); using var p2 = be.Allocate([2, 2, 4, 4]); using var odd = be.Allocate([2, 2, 4, 5]);
        using var whole = be.Allocate([2, 6, 4, 4]);
        Assert.That(Assert.Throws<ArgumentException>(() => be.ConcatForward([p1, p2], whole))!.Message,
            Does.Contain("ConcatForward: the channels of xs add up to 5, y [2, 6, 4, 4] has 6"));
        Assert.That(Assert.Throws<ArgumentException>(() => be.ConcatForward([p1, odd], whole))!.Message,
            Does.Contain("ConcatForward: xs[1] has shape [2, 2, 4, 5]; it must match y [2, 6, 4, 4] in every dimension but the channels"));
        Assert.That(Assert.Throws<ArgumentException>(() => be.ConcatBackward(whole, []))!.Message, Does.Contain("ConcatBackward: dxs is empty"));
        Assert.Throws<ArgumentNullException>(() => be.ConcatBackward(whole, [p1, null!]));
    }
}
