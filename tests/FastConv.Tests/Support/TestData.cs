using FastConv.Shapes;

namespace FastConv.Tests.Support;

public static class TestData
{
    /// <summary>Small integers in [lo, hi]: every fp32 sum of their products is exact (benchdnn's trick).</summary>
    public static float[] Ints(long n, int seed, int lo = -3, int hi = 3)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = r.Next(lo, hi + 1);
        return a;
    }

    public static float[] Uniform(long n, int seed, float scale = 1f)
    {
        var r = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1) * scale;
        return a;
    }

    public static double[] ToDouble(float[] a) => Array.ConvertAll(a, v => (double)v);
    public static double[] Abs(double[] a) => Array.ConvertAll(a, Math.Abs);

    private static readonly Lazy<IReadOnlyList<ShapeCase>> ParityCases = new(() => ShapeSuite.Load(ShapeSuite.Find("parity.txt")));
    private static readonly Lazy<IReadOnlyList<ShapeCase>> BenchCases = new(() => ShapeSuite.Load(ShapeSuite.Find("bench.txt")));

    public static IReadOnlyList<ShapeCase> Parity => ParityCases.Value;
    public static IReadOnlyList<ShapeCase> Bench => BenchCases.Value;
    public static ShapeCase ParityCase(string name) => Parity.Single(c => c.Name == name);

    public static Tensor Tensor(IBackend b, int[] shape, float[] data)
    {
        var t = b.Allocate(shape);
        t.CopyFrom(data);
        return t;
    }
}
