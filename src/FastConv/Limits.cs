namespace FastConv;

/// <summary>
/// The sizes every backend can index, in one place. A descriptor or an allocation beyond them is refused when it is
/// built, with the argument and the limit named, so that no kernel computes with an index that wraps (the native and
/// OpenCL kernels compute coordinates and in-image offsets in 32-bit ints; whole tensors in 64 bits).
/// </summary>
public static class Limits
{
    /// <summary>H + 2·padH and W + 2·padW: input coordinates o·stride + r·dilation − pad lie in [−pad, H + pad), and the
    /// kernels compute them in 32-bit ints.</summary>
    public const long MaxPaddedExtent = int.MaxValue;

    /// <summary>Elements of one input image C·H·W, of one output image K·OH·OW (C·OH·OW for pooling) and of one
    /// reduction C·R·S: offsets within them are 32-bit ints.</summary>
    public const long MaxImageElements = int.MaxValue;

    /// <summary>Elements of a convolution's weights K·C·R·S (the native GEMM addresses twice that in 32 bits).</summary>
    public const long MaxWeightElements = int.MaxValue / 2;

    /// <summary>Elements of one tensor: its size in bytes must fit a 64-bit count.</summary>
    public const long MaxTensorElements = long.MaxValue / sizeof(float);

    internal static void PaddedExtent(string op, string axis, int input, int pad)
    {
        long extent = input + 2L * pad;
        if (extent > MaxPaddedExtent)
            throw new ArgumentException($"{op}: input {axis} {input} + 2*padding {pad} = {extent} exceeds Limits.MaxPaddedExtent " +
                                        $"({MaxPaddedExtent}): the kernels compute input coordinates in 32 bits.", $"pad{char.ToUpperInvariant(axis[0])}");
    }

    internal static void Elements(string what, string param, long count, long limit, string limitName)
    {
        if (count > limit)
            throw new ArgumentException($"{what} = {count:N0} elements exceeds Limits.{limitName} ({limit:N0}).", param);
    }
}
