using System.Runtime.InteropServices;

namespace FastConv.Native.Interop;

/// <summary>fc_status of fastconv.h.</summary>
internal enum FcStatus
{
    Ok = 0,
    InvalidArgument = 1,
    Unsupported = 2,
    OutOfMemory = 3,
    Internal = 4,
}

/// <summary>fc_isa of fastconv.h.</summary>
public enum NativeIsa
{
    Auto = 0,
    Scalar = 1,
    Avx2 = 2,
    Avx512 = 3,
}

/// <summary>fc_conv_direction of fastconv.h: the three implementation tables of a convolution.</summary>
public enum ConvDirection
{
    Forward = 0,
    BackwardData = 1,
    BackwardFilter = 2,
}

/// <summary>fc_conv2d_desc, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FcConv2dDesc
{
    public int N, C, H, W, K, R, S;
    public int StrideH, StrideW, PadH, PadW, DilationH, DilationW;
    public int Activation;

    public FcConv2dDesc(in Conv2dDesc d)
    {
        N = d.N; C = d.C; H = d.H; W = d.W; K = d.K; R = d.R; S = d.S;
        StrideH = d.StrideH; StrideW = d.StrideW; PadH = d.PadH; PadW = d.PadW; DilationH = d.DilationH; DilationW = d.DilationW;
        Activation = d.Activation == FastConv.Activation.Relu ? 1 : 0;
    }
}

/// <summary>fc_pool2d_desc, field for field.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FcPool2dDesc
{
    public int N, C, H, W, KernelH, KernelW, StrideH, StrideW, PadH, PadW;

    public FcPool2dDesc(in Pool2dDesc d)
    {
        N = d.N; C = d.C; H = d.H; W = d.W; KernelH = d.KernelH; KernelW = d.KernelW;
        StrideH = d.StrideH; StrideW = d.StrideW; PadH = d.PadH; PadW = d.PadW;
    }
}

/// <summary>An fc_conv2d_plan*: destroyed exactly once, when disposed or finalized.</summary>
internal sealed class ConvPlanHandle : SafeHandle
{
    public ConvPlanHandle() : base(IntPtr.Zero, ownsHandle: true) { }
    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMethods.fc_f32_conv2d_plan_destroy(handle);
        return true;
    }
}

/// <summary>
/// native/include/fastconv.h, one declaration per C function, in the header's order. Strings come back as
/// pointers (the library owns them) and are read with <see cref="Marshal.PtrToStringUTF8(nint)"/>.
/// </summary>
internal static unsafe partial class NativeMethods
{
    public const string Library = "fastconv";

    // ---- library
    [LibraryImport(Library)] public static partial nint fc_version();
    [LibraryImport(Library)] public static partial nint fc_last_error();
    [LibraryImport(Library)] public static partial NativeIsa fc_selected_isa();
    [LibraryImport(Library)] public static partial int fc_isa_supported(NativeIsa isa);
    [LibraryImport(Library)] public static partial nint fc_isa_name(NativeIsa isa);
    [LibraryImport(Library)] public static partial FcStatus fc_set_num_threads(int threads);
    [LibraryImport(Library)] public static partial int fc_get_num_threads();

    // ---- convolution
    [LibraryImport(Library)] public static partial FcStatus fc_f32_conv2d_plan_create(FcConv2dDesc* desc, NativeIsa isa, out ConvPlanHandle plan);
    [LibraryImport(Library)] public static partial void fc_f32_conv2d_plan_destroy(nint plan);
    [LibraryImport(Library)] public static partial nint fc_f32_conv2d_plan_implementation(ConvPlanHandle plan);
    [LibraryImport(Library)] public static partial long fc_f32_conv2d_plan_workspace_bytes(ConvPlanHandle plan);
    [LibraryImport(Library)] public static partial FcStatus fc_conv2d_output_size(FcConv2dDesc* desc, out int outH, out int outW);
    [LibraryImport(Library)] public static partial int fc_f32_conv2d_impl_count(int direction);
    [LibraryImport(Library)] public static partial nint fc_f32_conv2d_impl_name(int direction, int index);
    [LibraryImport(Library)] public static partial int fc_f32_conv2d_impl_built(int direction, int index, NativeIsa isa);
    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial FcStatus fc_f32_conv2d_plan_create_with(FcConv2dDesc* desc, NativeIsa isa, string? fwd, string? bwdData,
                                                                  string? bwdFilter, out ConvPlanHandle plan);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_conv2d_fwd(ConvPlanHandle plan, float* x, float* w, float* bias, float* y);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_conv2d_bwd_data(ConvPlanHandle plan, float* dy, float* w, float* dx);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_conv2d_bwd_filter(ConvPlanHandle plan, float* x, float* dy, float* dw, float* dbias);

    // ---- pooling
    [LibraryImport(Library)] public static partial FcStatus fc_pool2d_output_size(FcPool2dDesc* desc, out int outH, out int outW);
    [LibraryImport(Library)] public static partial nint fc_f32_pool2d_implementation(FcPool2dDesc* desc, NativeIsa isa, int maxPool);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_maxpool2d_fwd(FcPool2dDesc* desc, NativeIsa isa, float* x, float* y);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_maxpool2d_bwd(FcPool2dDesc* desc, NativeIsa isa, float* x, float* dy, float* dx);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_avgpool2d_fwd(FcPool2dDesc* desc, NativeIsa isa, float* x, float* y);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_avgpool2d_bwd(FcPool2dDesc* desc, NativeIsa isa, float* dy, float* dx);

    // ---- GEMM
    [LibraryImport(Library)]
    public static partial FcStatus fc_f32_gemm(NativeIsa isa, int transA, int transB, int m, int n, int k, float alpha,
                                               float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    // ---- element-wise
    [LibraryImport(Library)] public static partial FcStatus fc_f32_relu_fwd(NativeIsa isa, long count, float* x, float* y);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_relu_bwd(NativeIsa isa, long count, float* x, float* dy, float* dx);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_bias_add_fwd(NativeIsa isa, int n, int c, long inner, float* x, float* bias);
    [LibraryImport(Library)] public static partial FcStatus fc_f32_bias_add_bwd(NativeIsa isa, int n, int c, long inner, float* dy, float* dbias);

    // ---- batch normalisation
    [LibraryImport(Library)]
    public static partial FcStatus fc_f32_batch_norm_fwd_training(NativeIsa isa, int n, int c, long hw, float* x, float* gamma, float* beta,
                                                                  float* y, float* saveMean, float* saveInvStd, float* runningMean,
                                                                  float* runningVar, float momentum, float epsilon, int relu);
    [LibraryImport(Library)]
    public static partial FcStatus fc_f32_batch_norm_fwd_inference(NativeIsa isa, int n, int c, long hw, float* x, float* gamma, float* beta,
                                                                   float* runningMean, float* runningVar, float* y, float epsilon, int relu);
    [LibraryImport(Library)]
    public static partial FcStatus fc_f32_batch_norm_bwd(NativeIsa isa, int n, int c, long hw, float* x, float* dy, float* gamma,
                                                         float* beta, float* saveMean, float* saveInvStd, float* dx, float* dgamma,
                                                         float* dbeta, int relu);

    public static string Str(nint p) => p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "";

    /// <summary>Turns a failed status into the .NET exception that fits it, carrying the library's message.</summary>
    public static void Check(FcStatus status, string op)
    {
        if (status == FcStatus.Ok) return;
        string message = $"{op}: {Str(fc_last_error())}";
        throw status switch
        {
            FcStatus.InvalidArgument => new ArgumentException(message),
            FcStatus.Unsupported => new NotSupportedException(message),
            FcStatus.OutOfMemory => new OutOfMemoryException(message),
            _ => new InvalidOperationException($"{message} (fc_status {(int)status})"),
        };
    }
}
