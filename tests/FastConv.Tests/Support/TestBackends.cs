using System.Collections.Concurrent;
using FastConv.Backends.Managed;
using FastConv.Native;
using FastConv.Native.Interop;
using FastConv.OpenCL;

namespace FastConv.Tests.Support;

/// <summary>
/// The backends under test, from the registry (habit 3: one registry drives the test cases), plus the managed
/// backend at every SIMD width this machine accelerates, so the Vector256 and scalar paths are tested too, and the
/// native backend at every ISA variant the CPU runs (scalar, avx2, avx512; "native" itself is the chosen one), and
/// the OpenCL backend on both of its convolution paths.
/// A width the machine lacks is not listed here; <see cref="MissingIsas"/> says so in the test output.
/// </summary>
public static class TestBackends
{
    private static readonly ConcurrentDictionary<string, IBackend> Variants = new();

    /// <summary>Every available backend but the oracle itself.</summary>
    public static IReadOnlyList<string> FastNames { get; } = BuildNames();

    /// <summary>Every available backend and variant, the oracle included: what the argument checks run on.</summary>
    public static IReadOnlyList<string> AllNames { get; } = ["reference", .. FastNames];

    public static IEnumerable<IBackend> All => AllNames.Select(Get);

    public static IEnumerable<string> MissingIsas =>
        Enum.GetValues<ManagedIsa>().Where(i => !ManagedIsaInfo.IsSupported(i)).Select(i => $"managed:{i}")
            .Concat(NativeVariants.Where(i => !NativeBackend.SupportedIsas.Contains(i)).Select(i => $"native:{i}"));

    private static readonly NativeIsa[] NativeVariants = [NativeIsa.Scalar, NativeIsa.Avx2, NativeIsa.Avx512];

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
        if (BackendRegistry.Get("native") is NativeBackend native)
            foreach (var isa in NativeBackend.SupportedIsas.Where(i => i != native.NativeIsa))
            {
                var b = new NativeBackend(isa);
                Variants[b.Name] = b;
                names.Add(b.Name);
            }
        if (BackendRegistry.Available.OfType<OpenClBackend>().FirstOrDefault() is { } cl)
        {
            // the other convolution path too (on PoCL the GEMM path GPUs take; on a GPU the direct path)
            var other = new OpenClBackend(null, cl.ConvPath == OpenClConvPath.Direct ? OpenClConvPath.Gemm : OpenClConvPath.Direct);
            Variants[other.Name] = other;
            names.Add(other.Name);
        }
        return names;
    }

    public static IBackend Get(string name) => Variants.TryGetValue(name, out var b) ? b : BackendRegistry.Get(name);

    public static IBackend Reference => BackendRegistry.Get("reference");
}
