namespace FastConv.Fuzz;

/// <summary>Seeded draws: case i of seed s always gets the same numbers (SplitMix64 of both, then System.Random).</summary>
public static class Values
{
    public static Random CaseRng(long seed, int index, int stream = 0)
    {
        ulong z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)index * 0xBF58476D1CE4E5B9UL + (ulong)stream * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }

    /// <summary>An integer field: usually in [lo, hi], sometimes an edge (0, 1, negative, 2^k, 2^k ± 1, int.MaxValue).</summary>
    public static int Field(Random r, int lo, int hi, int edgePercent)
    {
        if (r.Next(100) >= edgePercent) return r.Next(lo, hi + 1);
        return r.Next(14) switch
        {
            0 => 0,
            1 => -1,
            2 => int.MinValue,
            3 => -r.Next(1, 1000),
            4 => int.MaxValue,
            5 => int.MaxValue - r.Next(0, 4),
            6 => 1 << r.Next(10, 31),
            7 => (1 << r.Next(10, 31)) + r.Next(-1, 2),
            8 => r.Next(65, 5000),
            9 => r.Next(5000, 1 << 20),
            10 => r.Next(1 << 20, int.MaxValue),
            11 => 65536,
            12 => 134217728,
            _ => 1073741823,
        };
    }

    /// <summary>A float argument: a typical value from <paramref name="typical"/> or an edge (NaN, ±∞, 0, −0, negative, huge, tiny, 1).</summary>
    public static float Scalar(Random r, Func<Random, float> typical, int edgePercent)
    {
        if (r.Next(100) >= edgePercent) return typical(r);
        return r.Next(12) switch
        {
            0 => float.NaN,
            1 => float.PositiveInfinity,
            2 => float.NegativeInfinity,
            3 => 0f,
            4 => -0f,
            5 => -typical(r) - 1e-3f,
            6 => 1e30f,
            7 => float.Epsilon,
            8 => 1f,
            9 => 1f + 1e-6f,
            10 => -1f,
            _ => float.MaxValue,
        };
    }

    /// <summary>Small integers in [−3, 3]: every fp32 sum of a few thousand of their products is exact.</summary>
    public static float[] Ints(Random r, long n)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = r.Next(-3, 4);
        return a;
    }

    /// <summary>Uniform in [lo, hi).</summary>
    public static float[] Uniform(Random r, long n, float lo = -2f, float hi = 2f)
    {
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = lo + (float)r.NextDouble() * (hi - lo);
        return a;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(",", shape.ToArray()) + "]";
    public static string F(float v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
