namespace FastConv;

public enum PoolKind { Max, Average }

/// <summary>
/// 2-D max or average pooling over each channel of an NCHW input [N, C, H, W] → [N, C, OH, OW],
/// OH = floor((H + 2·padH − kernelH)/strideH) + 1. Max pooling ignores padding; average pooling divides by
/// kernelH·kernelW (PyTorch's count_include_pad). Ties in max pooling go to the first maximum in scan order.
/// </summary>
public readonly record struct Pool2dDesc
{
    public PoolKind Kind { get; }
    public int N { get; }
    public int C { get; }
    public int H { get; }
    public int W { get; }
    public int KernelH { get; }
    public int KernelW { get; }
    public int StrideH { get; }
    public int StrideW { get; }
    public int PadH { get; }
    public int PadW { get; }
    public int OutH { get; }
    public int OutW { get; }

    public Pool2dDesc(PoolKind kind, int n, int c, int h, int w, int kernel, int stride, int padding = 0)
        : this(kind, n, c, h, w, kernel, kernel, stride, stride, padding, padding) { }

    public Pool2dDesc(PoolKind kind, int n, int c, int h, int w, int kernelH, int kernelW,
                      int strideH, int strideW, int padH, int padW)
    {
        if (!Enum.IsDefined(kind)) throw new ArgumentOutOfRangeException(nameof(kind), kind, $"Pool2d: unknown pool kind {(int)kind}.");
        P("batch N", n); P("channels C", c); P("input height H", h); P("input width W", w);
        P("kernel height", kernelH); P("kernel width", kernelW); P("stride height", strideH); P("stride width", strideW);
        Conv2dDesc.NonNegative("padding height", padH, Op); Conv2dDesc.NonNegative("padding width", padW, Op);
        if (2L * padH > kernelH || 2L * padW > kernelW)
            throw new ArgumentException($"Pool2d: padding {padH}x{padW} must be at most half the kernel {kernelH}x{kernelW}, " +
                                        "or some windows would see only padding.");
        Kind = kind; N = n; C = c; H = h; W = w; KernelH = kernelH; KernelW = kernelW;
        StrideH = strideH; StrideW = strideW; PadH = padH; PadW = padW;
        OutH = Conv2dDesc.OutputSize("Pool2d", "height", h, kernelH, strideH, padH, 1, kernelH, kernelW, padH, padW, h, w);
        OutW = Conv2dDesc.OutputSize("Pool2d", "width", w, kernelW, strideW, padW, 1, kernelH, kernelW, padH, padW, h, w);
        _ = InputElements; _ = OutputElements;
        Limits.PaddedExtent(Op, "height", h, padH); Limits.PaddedExtent(Op, "width", w, padW);
        Limits.Elements("Pool2d: one input image C*H*W", "c", (long)c * h * w, Limits.MaxImageElements, nameof(Limits.MaxImageElements));
        Limits.Elements("Pool2d: the input N*C*H*W", "n", InputElements, Limits.MaxTensorElements, nameof(Limits.MaxTensorElements));
        // padding can make the output larger than the input (a 1x1 image, kernel 2, padding 1: 2x2), so it is checked too
        Limits.Elements("Pool2d: one output image C*OH*OW", "c", (long)c * OutH * OutW, Limits.MaxImageElements, nameof(Limits.MaxImageElements));
        Limits.Elements("Pool2d: the output N*C*OH*OW", "n", OutputElements, Limits.MaxTensorElements, nameof(Limits.MaxTensorElements));
    }

    public int[] InputShape => [N, C, H, W];
    public int[] OutputShape => [N, C, OutH, OutW];
    public long InputElements => ShapeMath.Product("Pool2d input N*C*H*W", N, C, H, W);
    public long OutputElements => ShapeMath.Product("Pool2d output N*C*OH*OW", N, C, OutH, OutW);
    /// <summary>Bytes a forward pass must move at least: read the input, write the output.</summary>
    public long ForwardBytes => 4 * (InputElements + OutputElements);
    /// <summary>Bytes forward+backward move: forward, then read x and dy, write dx.</summary>
    public long ForwardBackwardBytes => ForwardBytes + 4 * (2 * InputElements + OutputElements);
    public bool TilesEvenly => (H + 2L * PadH - KernelH) % StrideH == 0 && (W + 2L * PadW - KernelW) % StrideW == 0;

    public override string ToString() =>
        $"{(Kind == PoolKind.Max ? "maxpool2d" : "avgpool2d")} N{N} C{C} {H}x{W} k{KernelH}x{KernelW} s{StrideH}x{StrideW} p{PadH}x{PadW} -> {OutH}x{OutW}";

    private const string Op = "Pool2d";
    private static void P(string name, int v) => Conv2dDesc.Positive(name, v, Op);
}
