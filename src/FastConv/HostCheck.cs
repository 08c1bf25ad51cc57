namespace FastConv;

/// <summary>Checks shared by the host backends: the tensor is alive, in host memory, and has the expected shape.</summary>
internal static unsafe class HostCheck
{
    public static float* Ptr(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        Check(t, name, op);
        if (!t!.Shape.SequenceEqual(shape))
            throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)}, expected {ShapeMath.Format(shape)}.", name);
        return t.HostStorage.Pointer;
    }

    /// <summary>Any shape of <paramref name="length"/> elements.</summary>
    public static float* Ptr(Tensor? t, string name, long length, string op)
    {
        Check(t, name, op);
        if (t!.Length != length)
            throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)} ({t.Length} elements), expected {length} elements.", name);
        return t.HostStorage.Pointer;
    }

    public static void Check(Tensor? t, string name, string op)
    {
        if (t is null) throw new ArgumentNullException(name, $"{op}: {name} is null.");
        if (t.IsDisposed) throw new ObjectDisposedException(name, $"{op}: {name} ({ShapeMath.Format(t.Shape)}) has been disposed.");
        if (!t.IsHost) throw new ArgumentException($"{op}: {name} lives on backend '{t.Backend.Name}'; copy it with To(backend) first.", name);
    }

    public static void Rank(Tensor t, string name, int min, string op)
    {
        if (t.Rank < min) throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(t.Shape)}, expected at least {min} dimensions.", name);
    }

    public static void Finite(float v, string name, string op, bool positive = false)
    {
        if (!float.IsFinite(v) || (positive && v <= 0))
            throw new ArgumentOutOfRangeException(name, v, $"{op}: {name} must be {(positive ? "a positive" : "a finite")} number, got {v}.");
    }
}
