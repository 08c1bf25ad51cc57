namespace FastConv.Tests.Support;

/// <summary>
/// The one place tolerances come from (DESIGN.md, "Numerical parity"):
///  - integer-valued inputs: exact, bit for bit;
///  - random fp32: |got − exact| ≤ Atol + K·ε·Σ|terms|, with K the reduction length and Σ|terms| the float64
///    reference run on absolute values (for conv: Σ|x·w| of that output element);
///  - a scalar at the end of a float32 network (a loss): first-order forward error analysis, each layer's own
///    rounding bound (the K·ε·Σ|terms| above, or the batch-norm and softmax bounds below) weighted by the float64
///    gradient of the scalar with respect to that layer's output (<see cref="Propagated"/>, <see cref="Scalar"/>);
///  - gradients: CS231n's rel_error ≤ 1e-7 per op in float64.
/// ε is 2^-23, one ulp at 1, i.e. twice the unit roundoff: every elementary float32 operation, and the ≤ 4-ulp exp, log,
/// divide and sqrt of TensorPrimitives and OpenCL C 1.2, is charged ε per ulp.
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

    // ---- a scalar computed by a float32 network, against the same network in float64

    /// <summary>A reduction's own rounding per output element: K·ε·Σ|terms| (<see cref="Reduction"/>'s bound without Atol).</summary>
    public static double[] ReductionBound(double[] absSum, long k) => absSum.Select(a => k * Epsilon * a).ToArray();

    /// <summary>
    /// Batch norm in training mode, y = γ(x − μ)·invstd + β per channel over M = N·HW values, two passes (mean, then
    /// the mean of squared deviations), as every backend computes it; its own rounding propagated to a scalar f with
    /// the float64 gradient g = ∂f/∂y. First order, any summation order:
    /// |Δμ| ≤ M·ε·mean|x|; var sums M non-negative terms, each with a 3ε rounding, so |Δvar|/var ≤ (M + 4)ε and
    /// r = |Δinvstd|/invstd ≤ (M/2 + 2)ε + 8ε (sqrt, divide); the output's own four operations (subtract, two
    /// multiplies, add) add 4ε·(|γ(x − μ)·invstd| + |y|) per element. μ and invstd are computed once per channel, so
    /// their errors are common to the channel's M outputs: Δy = −γ·invstd·Δμ + r·γ(x − μ)·invstd + local, and
    /// |Δf| ≤ Σ_c (|γ|·invstd·|Δμ|·|Σⱼ gⱼ| + r·|Σⱼ gⱼ·γ(xⱼ − μ)·invstd|) + Σⱼ |gⱼ|·|localⱼ| (signed sums: the
    /// channel's dβ and dγ·γ). The error of x itself is the layer before's.
    /// </summary>
    public static double BatchNormTrainingPropagated(int n, int c, int hw, double[] x, double[] gamma, double[] beta, double epsilon, double[] g)
    {
        Assert.That(g.Length, Is.EqualTo(x.Length), "sensitivity and batch-norm lengths");
        double total = 0, m = (double)n * hw;
        for (int ch = 0; ch < c; ch++)
        {
            var at = (from i in Enumerable.Range(0, n) from p in Enumerable.Range(0, hw) select ((long)i * c + ch) * hw + p).ToArray();
            double mean = at.Sum(j => x[j]) / m, meanAbs = at.Sum(j => Math.Abs(x[j])) / m;
            double invStd = 1 / Math.Sqrt(at.Sum(j => (x[j] - mean) * (x[j] - mean)) / m + epsilon);
            double sumG = 0, sumGCentred = 0, local = 0;
            foreach (long j in at)
            {
                double centred = gamma[ch] * (x[j] - mean) * invStd, y = centred + beta[ch];
                sumG += g[j];
                sumGCentred += g[j] * centred;
                local += Math.Abs(g[j]) * 4 * Epsilon * (Math.Abs(centred) + Math.Abs(y));
            }
            double meanError = m * Epsilon * meanAbs, invStdError = (m / 2 + 10) * Epsilon;
            total += Math.Abs(gamma[ch]) * invStd * meanError * Math.Abs(sumG) + invStdError * Math.Abs(sumGCentred) + local;
        }
        return total;
    }

    /// <summary>
    /// The mean softmax cross-entropy L = (1/N) Σᵢ −log softmax(zᵢ)[yᵢ] of N rows of K logits, its own rounding:
    /// t = z − max (ε|t|), exp (4ε + ε|t|), a K-term sum (Kε), the divide (4ε), the log (4ε·ℓᵢ), then N positive ℓᵢ
    /// summed and divided ((N + 1)ε·L). Per row ε(12 + K + 2·max|t| + 4ℓᵢ), averaged, plus (N + 1)ε·L.
    /// </summary>
    public static double SoftmaxCrossEntropyBound(int n, int k, double[] logits, int[] labels)
    {
        double rows = 0, loss = 0;
        for (int i = 0; i < n; i++)
        {
            var z = logits.AsSpan(i * k, k);
            double max = double.NegativeInfinity, min = double.PositiveInfinity, sum = 0;
            foreach (double v in z) { max = Math.Max(max, v); min = Math.Min(min, v); }
            foreach (double v in z) sum += Math.Exp(v - max);
            double l = Math.Log(sum) - (z[labels[i]] - max);
            loss += l / n;
            rows += Epsilon * (12 + k + 2 * (max - min) + 4 * l) / n;
        }
        return rows + (n + 1) * Epsilon * loss;
    }

    /// <summary>
    /// First order, a rounding error δⱼ in one layer's output element j reaches a scalar f downstream as
    /// (∂f/∂yⱼ)·δⱼ; this is Σⱼ |∂f/∂yⱼ|·bound[j] for one layer, with the gradient from the float64 run.
    /// A network's bound is the sum of these over its layers plus the scalar's own rounding.
    /// </summary>
    public static double Propagated(double[] sensitivity, double[] bound)
    {
        Assert.That(sensitivity.Length, Is.EqualTo(bound.Length), "sensitivity and bound lengths");
        double s = 0;
        for (int j = 0; j < bound.Length; j++) s += Math.Abs(sensitivity[j]) * bound[j];
        return s;
    }

    /// <summary>|got − exact| ≤ bound, with the float64 value as exact and the bound from <see cref="Propagated"/>.</summary>
    public static void Scalar(double got, double exact, double bound, string what)
    {
        double err = Math.Abs(got - exact);
        if (double.IsNaN(err) || err > bound)
            Assert.Fail($"{what}: {got:R}, float64 {exact:R}, error {err:E2} > bound {bound:E2}");
        TestContext.Out.WriteLine($"{what}: {got:R}, float64 {exact:R}, error {err:E2} = {err / bound:P1} of its bound {bound:E2}");
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
