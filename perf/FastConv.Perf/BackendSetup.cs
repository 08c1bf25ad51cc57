using System.Runtime.CompilerServices;
using FastConv.Native;
using FastConv.OpenCL;

namespace FastConv.Perf;

/// <summary>The perf suite's composition root: the backends it measures register before any benchmark lists its
/// parameters, in the host process and in every process BenchmarkDotNet starts (a module initializer runs in each).</summary>
internal static class BackendSetup
{
    [ModuleInitializer]
    internal static void RegisterShippedBackends()
    {
        NativeBackend.Register();
        OpenClBackend.Register();
    }
}
