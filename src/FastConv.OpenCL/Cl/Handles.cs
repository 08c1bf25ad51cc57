using System.Runtime.InteropServices;
using Silk.NET.OpenCL;

namespace FastConv.OpenCL.Cl;

/// <summary>An OpenCL object released exactly once (clRelease*), when disposed or finalized. OpenCL keeps its own
/// reference counts, so a buffer outliving its context's handle keeps the context alive until it is released.</summary>
internal abstract class ClHandle : SafeHandle
{
    protected ClHandle(nint h) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(h);
    public override bool IsInvalid => handle == IntPtr.Zero;
    public nint Value => IsClosed ? throw new ObjectDisposedException(GetType().Name) : handle;
}

internal sealed class ClContext(nint h) : ClHandle(h)
{
    protected override bool ReleaseHandle() => ClApi.Cl.ReleaseContext(handle) == 0;
}

internal sealed class ClQueue(nint h) : ClHandle(h)
{
    protected override bool ReleaseHandle() => ClApi.Cl.ReleaseCommandQueue(handle) == 0;
}

internal sealed class ClMem(nint h) : ClHandle(h)
{
    protected override bool ReleaseHandle() => ClApi.Cl.ReleaseMemObject(handle) == 0;
}

internal sealed class ClProgram(nint h) : ClHandle(h)
{
    protected override bool ReleaseHandle() => ClApi.Cl.ReleaseProgram(handle) == 0;
}

internal sealed class ClKernel(nint h) : ClHandle(h)
{
    protected override bool ReleaseHandle() => ClApi.Cl.ReleaseKernel(handle) == 0;
}

/// <summary>The OpenCL API, loaded once (libOpenCL.so.1 through the ICD loader); null with the reason when it cannot load.</summary>
internal static class ClApi
{
    private static readonly Lazy<(CL? Api, string? Error)> Loaded = new(() =>
    {
        try { return (CL.GetApi(), null); }
        catch (Exception e) { return (null, $"the OpenCL ICD loader (libOpenCL.so.1) could not be loaded: {e.Message}"); }
    });

    public static CL Cl => Loaded.Value.Api ?? throw new BackendUnavailableException($"OpenCL: {Loaded.Value.Error}");
    public static string? LoadError => Loaded.Value.Error;
}
