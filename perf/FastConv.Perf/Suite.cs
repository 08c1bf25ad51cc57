using FastConv.Shapes;

namespace FastConv.Perf;

/// <summary>The registry × data/shapes/bench.txt, as "backend shape" case names (habit 3: one registry drives the benchmarks).</summary>
public static class Suite
{
    /// <summary>The naive oracle runs at about 1 GFLOP/s; it is timed only where one call stays short.</summary>
    public const long ReferenceMaxFlops = 300_000_000;

    public static readonly IReadOnlyList<ShapeCase> Shapes = ShapeSuite.Load(ShapeSuite.Find("bench.txt"));

    public static IEnumerable<string> ConvCases() =>
        from b in BackendRegistry.Available
        from s in Shapes where s.Conv is { } d && (b.Name != "reference" || d.Flops <= ReferenceMaxFlops)
        select $"{b.Name} {s.Name}";

    public static IEnumerable<string> PoolCases() =>
        from b in BackendRegistry.Available
        from s in Shapes where s.Pool is not null
        select $"{b.Name} {s.Name}";

    /// <summary>A tensor of uniform values in [0, 1), the same on every run.</summary>
    public static Tensor Random(IBackend be, int[] shape, int seed)
    {
        var t = be.Allocate(shape);
        var r = new Random(seed);
        var a = new float[t.Length];
        for (int i = 0; i < a.Length; i++) a[i] = r.NextSingle();
        t.CopyFrom(a);
        return t;
    }

    public static (IBackend Backend, ShapeCase Shape) Resolve(string @case) => (BackendRegistry.Get(@case.Split(' ')[0]), Shape(@case));

    /// <summary>The shape of a case "runner shape"; the runner may be a FastConv backend or a peer such as "torchsharp".</summary>
    public static ShapeCase Shape(string @case)
    {
        string name = @case.Split(' ')[^1];
        return Shapes.SingleOrDefault(s => s.Name == name) ?? throw new ArgumentException($"No shape '{name}' in bench.txt (case '{@case}').");
    }
}
