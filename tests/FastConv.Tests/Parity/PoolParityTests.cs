using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Parity;

[TestFixture]
public class PoolParityTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from b in TestBackends.FastNames
        from c in TestData.Parity where c.Pool is not null
        select new TestCaseData(b, c.Name).SetArgDisplayNames(b, c.Name);

    private static (float[] Y, float[] Dx) Run(IBackend be, Pool2dDesc d, float[] x, float[] dy)
    {
        using var plan = be.CreatePool2d(d);
        using var tx = TestData.Tensor(be, d.InputShape, x);
        using var ty = be.Allocate(d.OutputShape);
        using var tdy = TestData.Tensor(be, d.OutputShape, dy);
        using var tdx = TestData.Tensor(be, d.InputShape, TestData.Uniform(d.InputElements, 9));
        plan.Forward(tx, ty);
        plan.Backward(tx, tdy, tdx);
        return (ty.ToArray(), tdx.ToArray());
    }

    /// <summary>Small integers make ties common: both backends must send each gradient to the first maximum in scan order.</summary>
    [TestCaseSource(nameof(Cases))]
    public void ForwardBackward_IntegerInputsWithTies_EqualReferenceExactly(string backend, string shape)
    {
        var d = TestData.ParityCase(shape).Pool!.Value;
        var x = TestData.Ints(d.InputElements, 1, -2, 2);
        var dy = TestData.Ints(d.OutputElements, 2);
        var (y, dx) = Run(TestBackends.Get(backend), d, x, dy);
        var (ry, rdx) = Run(TestBackends.Reference, d, x, dy);
        Tolerance.Exact(y, ry, $"{backend} {shape} forward");
        Tolerance.Exact(dx, rdx, $"{backend} {shape} backward");
    }

    public static IEnumerable<string> AllBackends() => TestBackends.FastNames.Prepend("reference");

    public static IEnumerable<TestCaseData> TieCases() =>
        from b in AllBackends() from w in new[] { 4, 32, 48, 56 } select new TestCaseData(b, w);

    /// <summary>DESIGN.md: max pool ties go to the first maximum in scan order, on every backend. The 4x4 pattern is
    /// repeated across widths that reach every SIMD path (4: scalar; 32: 16 windows; 48: 16 + 8; 56: 16 + 8 + scalar).</summary>
    [TestCaseSource(nameof(TieCases))]
    public void MaxPoolBackward_Ties_GoToFirstMaximumInScanOrder(string backend, int width)
    {
        var be = TestBackends.Get(backend);
        var d = new Pool2dDesc(PoolKind.Max, 1, 1, 4, width, 2, 2);
        // windows: all equal | max at (0,3) and (1,2) tie | max at (2,1),(3,0),(3,1) tie | strictly increasing
        float[][] rows = [[5, 5, 1, 7], [5, 5, 7, 2], [0, 9, 1, 2], [9, 9, 3, 4]];
        float[][] grads = [[1, 0, 0, 2], [0, 0, 0, 0], [0, 3, 0, 0], [0, 0, 0, 4]];
        float[] Tile(float[][] m) => Enumerable.Range(0, 4).SelectMany(r => Enumerable.Range(0, width).Select(c => m[r][c % 4])).ToArray();
        float[] dy = Enumerable.Range(0, 2 * width / 2).Select(i => i / (width / 2) == 0 ? (i % 2 == 0 ? 1f : 2f) : (i % 2 == 0 ? 3f : 4f)).ToArray();
        var (y, dx) = Run(be, d, Tile(rows), dy);
        Assert.That(y, Is.EqualTo(Enumerable.Range(0, width).Select(i => i < width / 2 ? (i % 2 == 0 ? 5f : 7f) : (i % 2 == 0 ? 9f : 4f)).ToArray()));
        Assert.That(dx, Is.EqualTo(Tile(grads)), $"{backend}, width {width}: each gradient goes to its window's first maximum");
    }

    [TestCaseSource(nameof(Cases))]
    public void ForwardBackward_RandomInputs_WithinTolerance(string backend, string shape)
    {
        var d = TestData.ParityCase(shape).Pool!.Value;
        var x = TestData.Uniform(d.InputElements, 3);
        var dy = TestData.Uniform(d.OutputElements, 4);
        var (y, dx) = Run(TestBackends.Get(backend), d, x, dy);
        var ey = new double[d.OutputElements]; var ay = new double[d.OutputElements];
        var edx = new double[d.InputElements]; var adx = new double[d.InputElements];
        var xd = TestData.ToDouble(x); var dyd = TestData.ToDouble(dy);
        ReferenceKernels.Pool2dForward<double>(d, xd, ey);
        ReferenceKernels.Pool2dForward<double>(d, TestData.Abs(xd), ay);
        ReferenceKernels.Pool2dBackward<double>(d, xd, dyd, edx);
        ReferenceKernels.Pool2dBackward<double>(d, xd, TestData.Abs(dyd), adx);
        long k = (long)d.KernelH * d.KernelW;
        Tolerance.Reduction(y, ey, ay, k + 1, $"{backend} {shape} forward");
        Tolerance.Reduction(dx, edx, adx, k + 1, $"{backend} {shape} backward");
    }
}
