namespace FastConv.Tests.Support;

/// <summary>
/// The one place tolerances come from (DESIGN.md, "Numerical parity"):
///  - integer-valued inputs: exact, bit for bit;
///  - random fp32: |got − exact| ≤ Atol + K·ε·Σ|terms|, with K the reduction length and Σ|terms| the float64
///    reference run on absolute values (for conv: Σ|x·w| of that output element);
///  - gradients: CS231n's rel_error ≤ 1e-7 per op in float64.
/// </summary>
public static class Tolerance
{
    public const double Atol = 1e-6;
    public const double Epsilon = 1.1920928955078125e-7;   // float.Epsilon in the numerical sense: 2^-23
    public const double GradientRelError = 1e-7;

    public static void Exact(float[] got, float[] expected, string what)
    {
        Assert.That(got.Length, Is.EqualTo(expected.Length), $"{what}: length");
        for (int i = 0; i < got.Length; i++)
            if (BitConverter.SingleToInt32Bits(got[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                Assert.Fail($"{what}: element {i} is {got[i]:R}, reference {expected[i]:R} (integer inputs must match exactly)");
    }

    /// <summary>Each element within Atol + K·ε·absSum[i] of the float64 result.</summary>
    public static void Reduction(float[] got, double[] exact, double[] absSum, long k, string what)
    {
        Assert.That(got.Length, Is.EqualTo(exact.Length), $"{what}: length");
        double worst = 0; int at = -1;
        for (int i = 0; i < got.Length; i++)
        {
            double bound = Atol + k * Epsilon * absSum[i];
            double err = Math.Abs(got[i] - exact[i]);
            if (double.IsNaN(err) || err > bound)
                Assert.Fail($"{what}: element {i} is {got[i]:R}, float64 reference {exact[i]:R}, error {err:E2} > bound {bound:E2} (K={k})");
            if (err / bound > worst) { worst = err / bound; at = i; }
        }
        TestContext.Out.WriteLine($"{what}: worst error {worst:P1} of its bound at element {at}");
    }

    /// <summary>Element-wise ops with a few roundings per element: |got − exact| ≤ Atol + ops·ε·|exact|·scale.</summary>
    public static void Elementwise(float[] got, double[] exact, string what, int ops = 8)
    {
        double scale = exact.Length == 0 ? 0 : exact.Max(Math.Abs);
        Reduction(got, exact, Enumerable.Repeat(Math.Max(scale, 1.0), exact.Length).ToArray(), ops, what);
    }

    /// <summary>CS231n: max |a − b| / max(1e-8, |a| + |b|).</summary>
    /// <summary>Central differences (f(x+h) − f(x−h)) / 2h of f with respect to every element of x (x is restored).</summary>
    public static double[] CentralDifferences(Func<double> f, double[] x, double h)
    {
        var g = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            double old = x[i];
            x[i] = old + h; double fp = f();
            x[i] = old - h; double fm = f();
            x[i] = old;
            g[i] = (fp - fm) / (2 * h);
        }
        return g;
    }

    public static double RelError(double[] a, double[] b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]) / Math.Max(1e-8, Math.Abs(a[i]) + Math.Abs(b[i])));
        return worst;
    }
}
