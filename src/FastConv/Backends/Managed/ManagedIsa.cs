using System.Runtime.Intrinsics;

namespace FastConv.Backends.Managed;

/// <summary>Which SIMD width the managed backend's kernels use. Chosen once per backend instance.</summary>
public enum ManagedIsa { Scalar, Vector256, Vector512 }

internal static class ManagedIsaInfo
{
    public static ManagedIsa Best =>
        Vector512.IsHardwareAccelerated ? ManagedIsa.Vector512 :
        Vector256.IsHardwareAccelerated ? ManagedIsa.Vector256 : ManagedIsa.Scalar;

    public static bool IsSupported(ManagedIsa isa) => isa switch
    {
        ManagedIsa.Vector512 => Vector512.IsHardwareAccelerated,
        ManagedIsa.Vector256 => Vector256.IsHardwareAccelerated,
        _ => true,
    };

    public static string Tag(ManagedIsa isa) => isa switch { ManagedIsa.Vector512 => "v512", ManagedIsa.Vector256 => "v256", _ => "scalar" };
}
