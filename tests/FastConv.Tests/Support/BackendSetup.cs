using System.Runtime.CompilerServices;
using FastConv.Native;
using FastConv.OpenCL;

namespace FastConv.Tests.Support;

/// <summary>The tests' composition root: the backends they test register before any test case is built (a module
/// initializer, because [TestCaseSource] lists are read at discovery, before any set-up fixture runs).</summary>
internal static class BackendSetup
{
    [ModuleInitializer]
    internal static void RegisterShippedBackends()
    {
        NativeBackend.Register();
        OpenClBackend.Register();
    }
}
