namespace FastConv;

/// <summary>
/// The argument rules of the IBackend ops that do not depend on where a tensor lives: shapes, and the ranges of
/// the scalar arguments. Every backend calls these before any kernel, so one rule gives one message everywhere;
/// whether a tensor is in host memory or on a device is the backend's own check (<see cref="HostCheck"/>).
/// Public, so a backend in another assembly refuses bad input with the same messages.
/// </summary>
public static class OpCheck
{
    /// <summary>Not null and not disposed.</summary>
    public static void Alive(Tensor? t, string name, string op)
    {
        if (t is null) throw new ArgumentNullException(name, $"{op}: {name} is null.");
        if (t.IsDisposed) throw new ObjectDisposedException(name, $"{op}: {name} ({ShapeMath.Format(t.Shape)}) has been disposed.");
    }

    public static void Shape(Tensor t, string name, ReadOnlySpan<int> shape, string op)
    {
        if (!t.Shape.SequenceEqual(shape))
            throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)}, expected {ShapeMath.Format(shape)}.", name);
    }

    public static void Length(Tensor t, string name, long length, string op)
    {
        if (t.Length != length)
            throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)} ({t.Length} elements), expected {length} elements.", name);
    }

    public static void Finite(float v, string name, string op, bool positive = false)
    {
        if (!float.IsFinite(v) || (positive && v <= 0))
            throw new ArgumentOutOfRangeException(name, v, $"{op}: {name} must be {(positive ? "a positive" : "a finite")} number, got {v}.");
    }

    /// <summary>[N, C, rest...] as (N, C, product of rest).</summary>
    public static (int N, int C, int Inner) Channels(Tensor t, string name, string op)
    {
        if (t.Rank < 2) throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)}, expected at least 2 dimensions.", name);
        long inner = 1;
        for (int i = 2; i < t.Rank; i++) inner *= t.Dim(i);
        if (inner > int.MaxValue) throw new ArgumentException($"{op}: {name} has {inner} elements per channel, more than supported.", name);
        return (t.Dim(0), t.Dim(1), (int)inner);
    }

    /// <summary>c [M, N] = op(a) [M, K] · op(b) [K, N]: the sizes, or an exception naming the mismatch.</summary>
    public static (int M, int N, int K) Gemm(Tensor a, Tensor b, Tensor c, bool transA, bool transB, float alpha, float beta)
    {
        const string op = "Gemm";
        if (a.Rank != 2 || b.Rank != 2 || c.Rank != 2)
            throw new ArgumentException($"{op}: a, b and c must be matrices, got {ShapeMath.Format(a.Shape)}, {ShapeMath.Format(b.Shape)}, {ShapeMath.Format(c.Shape)}.");
        int m = transA ? a.Dim(1) : a.Dim(0), k = transA ? a.Dim(0) : a.Dim(1);
        int kb = transB ? b.Dim(1) : b.Dim(0), n = transB ? b.Dim(0) : b.Dim(1);
        if (k != kb)
            throw new ArgumentException($"{op}: inner dimensions differ: op(a) is {m}x{k}, op(b) is {kb}x{n}.", nameof(b));
        if (c.Dim(0) != m || c.Dim(1) != n)
            throw new ArgumentException($"{op}: c has shape {ShapeMath.Format(c.Shape)}, expected [{m}, {n}].", nameof(c));
        Finite(alpha, nameof(alpha), op); Finite(beta, nameof(beta), op);
        return (m, n, k);
    }

    /// <summary>Logits [N, classes].</summary>
    public static (int N, int K) Logits(Tensor t, string name, string op)
    {
        if (t.Rank != 2) throw new ArgumentException($"{op}: {name} must be [N, classes], got {ShapeMath.Format(t.Shape)}.", name);
        return (t.Dim(0), t.Dim(1));
    }

    public static void BatchNormTraining(float momentum, float epsilon, string op)
    {
        if (!(momentum >= 0f && momentum <= 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{op}: momentum must be in [0, 1], got {momentum}.");
        Finite(epsilon, nameof(epsilon), op, positive: true);
    }

    public static void Sgd(float lr, float momentum, float weightDecay, string op)
    {
        Finite(lr, nameof(lr), op, positive: true);
        if (!(momentum >= 0f && momentum < 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"{op}: momentum must be in [0, 1), got {momentum}.");
        WeightDecay(weightDecay, op);
    }

    public static void Adam(float lr, float beta1, float beta2, float epsilon, int step, float weightDecay, string op)
    {
        Finite(lr, nameof(lr), op, positive: true);
        Finite(epsilon, nameof(epsilon), op, positive: true);
        if (!(beta1 >= 0f && beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, $"{op}: beta1 must be in [0, 1), got {beta1}.");
        if (!(beta2 >= 0f && beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, $"{op}: beta2 must be in [0, 1), got {beta2}.");
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"{op}: step counts from 1, got {step}.");
        WeightDecay(weightDecay, op);
    }

    private static void WeightDecay(float weightDecay, string op)
    {
        if (!(weightDecay >= 0f) || !float.IsFinite(weightDecay))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, $"{op}: weightDecay must be >= 0, got {weightDecay}.");
    }
}
