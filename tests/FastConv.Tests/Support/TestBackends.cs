using System.Collections.Concurrent;
using FastConv.Backends.Managed;

namespace FastConv.Tests.Support;

/// <summary>
/// The backends under test, from the registry (habit 3: one registry drives the test cases), plus the managed
/// backend at every SIMD width this machine accelerates, so the Vector256 and scalar paths are tested too.
/// A width the machine lacks is not listed here; <see cref="MissingIsas"/> says so in the test output.
/// </summary>
public static class TestBackends
{
    private static readonly ConcurrentDictionary<string, IBackend> Variants = new();

    /// <summary>Every available backend but the oracle itself.</summary>
    public static IReadOnlyList<string> FastNames { get; } = BuildNames();

    public static IEnumerable<string> MissingIsas =>
        Enum.GetValues<ManagedIsa>().Where(i => !ManagedIsaInfo.IsSupported(i)).Select(i => $"managed:{i}");

    private static List<string> BuildNames()
    {
        var names = BackendRegistry.Available.Select(b => b.Name).Where(n => n != "reference").ToList();
        var best = ((ManagedBackend)BackendRegistry.Get("managed")).Isa;
        foreach (var isa in Enum.GetValues<ManagedIsa>().Where(i => i != best && ManagedIsaInfo.IsSupported(i)))
        {
            var b = new ManagedBackend(isa);
            Variants[b.Name] = b;
            names.Add(b.Name);
        }
        return names;
    }

    public static IBackend Get(string name) => Variants.TryGetValue(name, out var b) ? b : BackendRegistry.Get(name);

    public static IBackend Reference => BackendRegistry.Get("reference");
}
