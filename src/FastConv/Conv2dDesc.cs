namespace FastConv;

/// <summary>What a conv layer applies after bias. Fused into the forward pass; backward passes take the
/// gradient with respect to the pre-activation (use <see cref="IBackend.ReluBackward"/> with y first).</summary>
public enum Activation { None, Relu }

/// <summary>
/// A 2-D convolution, NCHW input [N, C, H, W], weights [K, C, R, S], output [N, K, OH, OW], with
/// OH = floor((H + 2·padH − dilH·(R − 1) − 1) / strideH) + 1 (CS231n's (W − F + 2P)/S + 1, floored like PyTorch).
/// Validated on construction: every field's range, every element count as a checked 64-bit product, and the sizes
/// the kernels index (<see cref="Limits"/>).
/// </summary>
public readonly record struct Conv2dDesc
{
    public int N { get; }
    public int C { get; }
    public int H { get; }
    public int W { get; }
    public int K { get; }
    public int R { get; }
    public int S { get; }
    public int StrideH { get; }
    public int StrideW { get; }
    public int PadH { get; }
    public int PadW { get; }
    public int DilationH { get; }
    public int DilationW { get; }
    public Activation Activation { get; }
    public int OutH { get; }
    public int OutW { get; }

    public Conv2dDesc(int n, int c, int h, int w, int k, int r, int s,
                      int stride = 1, int padding = 0, int dilation = 1, Activation activation = Activation.None)
        : this(n, c, h, w, k, r, s, stride, stride, padding, padding, dilation, dilation, activation) { }

    public Conv2dDesc(int n, int c, int h, int w, int k, int r, int s,
                      int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
                      Activation activation = Activation.None)
    {
        Positive("batch N", n); Positive("channels C", c); Positive("input height H", h); Positive("input width W", w);
        Positive("filters K", k); Positive("kernel height R", r); Positive("kernel width S", s);
        Positive("stride height", strideH); Positive("stride width", strideW);
        Positive("dilation height", dilationH); Positive("dilation width", dilationW);
        NonNegative("padding height", padH); NonNegative("padding width", padW);
        if (!Enum.IsDefined(activation))
            throw new ArgumentOutOfRangeException(nameof(activation), activation, $"Conv2d: activation {(int)activation} is not one of {string.Join(", ", Enum.GetNames<Activation>())}.");
        Limits.PaddedExtent("Conv2d", "height", h, padH); Limits.PaddedExtent("Conv2d", "width", w, padW);
        N = n; C = c; H = h; W = w; K = k; R = r; S = s;
        StrideH = strideH; StrideW = strideW; PadH = padH; PadW = padW; DilationH = dilationH; DilationW = dilationW;
        Activation = activation;
        OutH = OutputSize("Conv2d", "height", h, r, strideH, padH, dilationH, r, s, padH, padW, h, w);
        OutW = OutputSize("Conv2d", "width", w, s, strideW, padW, dilationW, r, s, padH, padW, h, w);
        // Refuse anything whose element counts overflow 64 bits, before anything is allocated, then what the kernels
        // cannot index (Limits).
        _ = InputElements; _ = WeightElements; _ = OutputElements; _ = Flops;
        Limits.Elements("Conv2d: one input image C*H*W", "c", (long)c * h * w, Limits.MaxImageElements, nameof(Limits.MaxImageElements));
        Limits.Elements("Conv2d: one output image K*OH*OW", "k", (long)k * OutH * OutW, Limits.MaxImageElements, nameof(Limits.MaxImageElements));
        Limits.Elements("Conv2d: the reduction C*R*S", "c", ReductionLength, Limits.MaxImageElements, nameof(Limits.MaxImageElements));
        Limits.Elements("Conv2d: the weights K*C*R*S", "k", WeightElements, Limits.MaxWeightElements, nameof(Limits.MaxWeightElements));
        Limits.Elements("Conv2d: the input N*C*H*W", "n", InputElements, Limits.MaxTensorElements, nameof(Limits.MaxTensorElements));
        Limits.Elements("Conv2d: the output N*K*OH*OW", "n", OutputElements, Limits.MaxTensorElements, nameof(Limits.MaxTensorElements));
    }

    /// <summary>The same convolution with another fused activation.</summary>
    public Conv2dDesc WithActivation(Activation activation) =>
        new(N, C, H, W, K, R, S, StrideH, StrideW, PadH, PadW, DilationH, DilationW, activation);

    public int[] InputShape => [N, C, H, W];
    public int[] WeightShape => [K, C, R, S];
    public int[] BiasShape => [K];
    public int[] OutputShape => [N, K, OutH, OutW];

    public long InputElements => ShapeMath.Product("Conv2d input N*C*H*W", N, C, H, W);
    public long WeightElements => ShapeMath.Product("Conv2d weights K*C*R*S", K, C, R, S);
    public long OutputElements => ShapeMath.Product("Conv2d output N*K*OH*OW", N, K, OutH, OutW);
    /// <summary>Length of one dot product: C·R·S.</summary>
    public long ReductionLength => ShapeMath.Product("Conv2d reduction C*R*S", C, R, S);
    /// <summary>Weights plus biases, as the CS231n parameter tables count them.</summary>
    public long ParameterCount => WeightElements + K;
    /// <summary>Forward multiply-adds counted as two FLOPs: 2·N·K·C·R·S·OH·OW. Backward (data + filter) is twice this.</summary>
    public long Flops => ShapeMath.Product("Conv2d FLOPs 2*N*K*C*R*S*OH*OW", 2, N, K, C, R, S, OutH, OutW);

    /// <summary>True when the strides leave no input row or column unused at the far edge.</summary>
    public bool TilesEvenly =>
        (H + 2L * PadH - (long)DilationH * (R - 1) - 1) % StrideH == 0 && (W + 2L * PadW - (long)DilationW * (S - 1) - 1) % StrideW == 0;

    public override string ToString() =>
        $"conv2d N{N} C{C} {H}x{W} K{K} {R}x{S} s{StrideH}x{StrideW} p{PadH}x{PadW} d{DilationH}x{DilationW}" +
        (Activation == Activation.Relu ? " +relu" : "") + $" -> {OutH}x{OutW}";

    internal static void Positive(string name, int v, string op = "Conv2d")
    {
        if (v < 1) throw new ArgumentOutOfRangeException(name, v, $"{op}: {name} must be >= 1, got {v}.");
    }

    internal static void NonNegative(string name, int v, string op = "Conv2d")
    {
        if (v < 0) throw new ArgumentOutOfRangeException(name, v, $"{op}: {name} must be >= 0, got {v}.");
    }

    /// <summary>floor((in + 2p − d(k − 1) − 1)/s) + 1, or an exception that shows the formula with the numbers filled in.</summary>
    internal static int OutputSize(string op, string axis, int input, int kernel, int stride, int pad, int dilation,
                                   int kh, int kw, int ph, int pw, int h, int w)
    {
        long eff = (long)dilation * (kernel - 1) + 1;
        long num = input + 2L * pad - eff;
        long outSize = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
        if (outSize < 1)
        {
            string k = dilation == 1 ? $"{kernel}" : $"{eff} (kernel {kernel} dilated by {dilation})";
            throw new ArgumentException(
                $"{op}: kernel {kh}x{kw}, padding {(ph == pw ? $"{ph}" : $"{ph}x{pw}")} does not fit a {h}x{w} input: " +
                $"output {axis} ({input} - {k} + 2*{pad})/{stride} + 1 = {outSize}");
        }
        if (outSize > int.MaxValue) throw new ArgumentException($"{op}: output {axis} {outSize} does not fit in 32 bits.");
        return (int)outSize;
    }
}
