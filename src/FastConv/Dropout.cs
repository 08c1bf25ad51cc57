namespace FastConv;

/// <summary>
/// The dropout mask as a pure function of (seed, element index), so every backend draws the same mask
/// and a run is reproducible bit for bit. A SplitMix64 finaliser gives a 24-bit uniform in [0, 1).
/// </summary>
public static class Dropout
{
    public static float Uniform(ulong seed, long index)
    {
        ulong z = seed + 0x9E3779B97F4A7C15UL * (ulong)(index + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / (1 << 24));
    }

    public static bool Keep(ulong seed, long index, float p) => Uniform(seed, index) >= p;

    /// <summary>The rule on p every backend applies before any kernel.</summary>
    public static void CheckP(float p)
    {
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, $"Dropout: p must be in [0, 1), got {p}.");
    }
}
