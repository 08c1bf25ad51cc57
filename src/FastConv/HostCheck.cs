namespace FastConv;

/// <summary>Where a host backend's tensors must be: alive and in host memory (the shapes are <see cref="OpCheck"/>'s).</summary>
internal static class HostCheck
{
    public static void Check(Tensor? t, string name, string op)
    {
        OpCheck.Alive(t, name, op);
        if (!t!.IsHost) throw new ArgumentException($"{op}: {name} lives on backend '{t.Backend.Name}'; copy it with To(backend) first.", name);
    }
}
