namespace FastConv;

/// <summary>Checks shared by the host backends: the tensor is alive, in host memory, and has the expected shape.</summary>
internal static unsafe class HostCheck
{
    public static float* Ptr(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        Check(t, name, op);
        OpCheck.Shape(t!, name, shape, op);
        return t!.HostStorage.Pointer;
    }

    /// <summary>Any shape of <paramref name="length"/> elements.</summary>
    public static float* Ptr(Tensor? t, string name, long length, string op)
    {
        Check(t, name, op);
        OpCheck.Length(t!, name, length, op);
        return t!.HostStorage.Pointer;
    }

    public static void Check(Tensor? t, string name, string op)
    {
        OpCheck.Alive(t, name, op);
        if (!t!.IsHost) throw new ArgumentException($"{op}: {name} lives on backend '{t.Backend.Name}'; copy it with To(backend) first.", name);
    }

}
