using System.Runtime.InteropServices;

namespace FastConv.Native.Interop;

/// <summary>fc_pool_op of fastconv.h.</summary>
public enum NativePoolOp
{
    MaxForward = 0,
    MaxBackward = 1,
    AvgForward = 2,
    AvgBackward = 3,
}

/// <summary>
/// The pooling implementation table of native/include/fastconv.h (the declarations after fc_f32_avgpool2d_bwd, in the
/// header's order): its entries by index, and one call that runs an op by a named entry (null: the table's choice).
/// </summary>
internal static unsafe partial class NativeMethods
{
    // ---- pooling: the implementation table
    [LibraryImport(Library)] public static partial int fc_f32_pool2d_impl_count();
    [LibraryImport(Library)] public static partial nint fc_f32_pool2d_impl_name(int i);
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial FcStatus fc_f32_pool2d_run(FcPool2dDesc* desc, NativeIsa isa, string? impl, int op, float* x, float* dy, float* @out);

    /// <summary>The table's entry names, best first (the portable "loops" last).</summary>
    public static IReadOnlyList<string> PoolImplementations() =>
        Enumerable.Range(0, fc_f32_pool2d_impl_count()).Select(i => Str(fc_f32_pool2d_impl_name(i))).ToList();
}
