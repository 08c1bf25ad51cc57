namespace FastConv.Fuzz;

/// <summary>
/// The documented descriptor rules restated independently of the descriptors (Conv2dDesc, Pool2dDesc, Limits): the oracle
/// that says whether a generated descriptor must be accepted. Each broken rule comes with the words a refusal may use to
/// name it; products are computed in 128 bits so the oracle itself cannot wrap.
/// </summary>
public static class Descriptors
{
    public sealed record ConvFields(int N, int C, int H, int W, int K, int R, int S, int StrideH, int StrideW,
                                    int PadH, int PadW, int DilationH, int DilationW, int Activation)
    {
        public override string ToString() =>
            $"new Conv2dDesc({N}, {C}, {H}, {W}, {K}, {R}, {S}, strideH: {StrideH}, strideW: {StrideW}, padH: {PadH}, padW: {PadW}, " +
            $"dilationH: {DilationH}, dilationW: {DilationW}, (Activation){Activation})";

        public Conv2dDesc Build() => new(N, C, H, W, K, R, S, StrideH, StrideW, PadH, PadW, DilationH, DilationW, (Activation)Activation);
    }

    public sealed record PoolFields(int Kind, int N, int C, int H, int W, int KernelH, int KernelW, int StrideH, int StrideW, int PadH, int PadW)
    {
        public override string ToString() =>
            $"new Pool2dDesc((PoolKind){Kind}, {N}, {C}, {H}, {W}, kernelH: {KernelH}, kernelW: {KernelW}, strideH: {StrideH}, " +
            $"strideW: {StrideW}, padH: {PadH}, padW: {PadW})";

        public Pool2dDesc Build() => new((PoolKind)Kind, N, C, H, W, KernelH, KernelW, StrideH, StrideW, PadH, PadW);
    }

    /// <summary>A small, mostly valid descriptor (its kernels are run and compared), or with <paramref name="wide"/> one whose
    /// fields are often edges: zero, negative, huge, 2^k ± 1.</summary>
    public static ConvFields Conv(Random r, bool wide)
    {
        int e = wide ? 35 : 3;
        int act = r.Next(100) < 96 ? r.Next(2) : new[] { -1, 2, 19, int.MaxValue, int.MinValue }[r.Next(5)];
        return new ConvFields(Values.Field(r, 1, 3, e), Values.Field(r, 1, wide ? 64 : 4, e), Values.Field(r, 1, wide ? 300 : 8, e),
            Values.Field(r, 1, wide ? 300 : 8, e), Values.Field(r, 1, wide ? 64 : 4, e), Values.Field(r, 1, wide ? 7 : 4, e),
            Values.Field(r, 1, wide ? 7 : 4, e), Values.Field(r, 1, 3, e), Values.Field(r, 1, 3, e), Values.Field(r, 0, 2, e),
            Values.Field(r, 0, 2, e), Values.Field(r, 1, 2, e), Values.Field(r, 1, 2, e), act);
    }

    public static PoolFields Pool(Random r, bool wide)
    {
        int e = wide ? 35 : 3;
        int kind = r.Next(100) < 96 ? r.Next(2) : new[] { -1, 2, 7, int.MaxValue }[r.Next(4)];
        int kh = Values.Field(r, 1, 4, e), kw = Values.Field(r, 1, 4, e);
        // padding mostly within the half-kernel rule, sometimes just past it, sometimes anything
        int Pad(int k) => r.Next(100) < 80 && k > 0 ? r.Next(0, k / 2 + 1) : r.Next(100) < 50 && k > 0 && k < int.MaxValue ? k / 2 + 1 : Values.Field(r, 0, 2, 60);
        return new PoolFields(kind, Values.Field(r, 1, 3, e), Values.Field(r, 1, wide ? 64 : 4, e), Values.Field(r, 1, wide ? 300 : 8, e),
            Values.Field(r, 1, wide ? 300 : 8, e), kh, kw, Values.Field(r, 1, 3, e), Values.Field(r, 1, 3, e), Pad(kh), Pad(kw));
    }

    /// <summary>Every rule the descriptor breaks, each with the words that name it; empty when it must be accepted.</summary>
    public static List<(string Rule, string[] Names)> ConvBroken(ConvFields f)
    {
        var broken = new List<(string, string[])>();
        void Need(bool ok, string rule, params string[] names) { if (!ok) broken.Add((rule, names)); }
        Need(f.N >= 1, "N >= 1", "batch N"); Need(f.C >= 1, "C >= 1", "channels C"); Need(f.H >= 1, "H >= 1", "input height H");
        Need(f.W >= 1, "W >= 1", "input width W"); Need(f.K >= 1, "K >= 1", "filters K"); Need(f.R >= 1, "R >= 1", "kernel height R");
        Need(f.S >= 1, "S >= 1", "kernel width S"); Need(f.StrideH >= 1, "strideH >= 1", "stride height"); Need(f.StrideW >= 1, "strideW >= 1", "stride width");
        Need(f.DilationH >= 1, "dilationH >= 1", "dilation height"); Need(f.DilationW >= 1, "dilationW >= 1", "dilation width");
        Need(f.PadH >= 0, "padH >= 0", "padding height"); Need(f.PadW >= 0, "padW >= 0", "padding width");
        Need(f.Activation is 0 or 1, "activation in the enum", "activation");
        if (broken.Count > 0) return broken;
        Need(f.H + 2L * f.PadH <= int.MaxValue, "H + 2 padH <= Limits.MaxPaddedExtent", "padH", "Limits");
        Need(f.W + 2L * f.PadW <= int.MaxValue, "W + 2 padW <= Limits.MaxPaddedExtent", "padW", "Limits");
        long oh = Out(f.H, f.R, f.StrideH, f.PadH, f.DilationH), ow = Out(f.W, f.S, f.StrideW, f.PadW, f.DilationW);
        Need(oh >= 1, $"output height {oh} >= 1", "output height"); Need(ow >= 1, $"output width {ow} >= 1", "output width");
        Need(oh <= int.MaxValue, "output height fits 32 bits", "output height"); Need(ow <= int.MaxValue, "output width fits 32 bits", "output width");
        if (broken.Count > 0) return broken;
        Int128 n = f.N, c = f.C, h = f.H, w = f.W, k = f.K, r = f.R, s = f.S;
        string[] count = ["overflows", "Limits"];
        Need(n * c * h * w <= long.MaxValue, "N*C*H*W fits 64 bits", count);
        Need(k * c * r * s <= long.MaxValue, "K*C*R*S fits 64 bits", count);
        Need(n * k * oh * ow <= long.MaxValue, "N*K*OH*OW fits 64 bits", count);
        Need(2 * n * k * c * r * s * oh * ow <= long.MaxValue, "FLOPs fit 64 bits", count);
        Need(c * h * w <= Limits.MaxImageElements, "C*H*W <= Limits.MaxImageElements", count);
        Need(k * oh * ow <= Limits.MaxImageElements, "K*OH*OW <= Limits.MaxImageElements", count);
        Need(c * r * s <= Limits.MaxImageElements, "C*R*S <= Limits.MaxImageElements", count);
        Need(k * c * r * s <= Limits.MaxWeightElements, "K*C*R*S <= Limits.MaxWeightElements", count);
        Need(n * c * h * w <= Limits.MaxTensorElements, "N*C*H*W <= Limits.MaxTensorElements", count);
        Need(n * k * oh * ow <= Limits.MaxTensorElements, "N*K*OH*OW <= Limits.MaxTensorElements", count);
        return broken;
    }

    public static List<(string Rule, string[] Names)> PoolBroken(PoolFields f)
    {
        var broken = new List<(string, string[])>();
        void Need(bool ok, string rule, params string[] names) { if (!ok) broken.Add((rule, names)); }
        Need(f.Kind is 0 or 1, "kind in the enum", "kind", "pool kind");
        Need(f.N >= 1, "N >= 1", "batch N"); Need(f.C >= 1, "C >= 1", "channels C"); Need(f.H >= 1, "H >= 1", "input height H");
        Need(f.W >= 1, "W >= 1", "input width W"); Need(f.KernelH >= 1, "kernelH >= 1", "kernel height"); Need(f.KernelW >= 1, "kernelW >= 1", "kernel width");
        Need(f.StrideH >= 1, "strideH >= 1", "stride height"); Need(f.StrideW >= 1, "strideW >= 1", "stride width");
        Need(f.PadH >= 0, "padH >= 0", "padding height"); Need(f.PadW >= 0, "padW >= 0", "padding width");
        if (broken.Count > 0) return broken;
        Need(2L * f.PadH <= f.KernelH && 2L * f.PadW <= f.KernelW, "2 pad <= kernel", "padding");
        if (broken.Count > 0) return broken;
        long oh = Out(f.H, f.KernelH, f.StrideH, f.PadH, 1), ow = Out(f.W, f.KernelW, f.StrideW, f.PadW, 1);
        Need(oh >= 1, $"output height {oh} >= 1", "output height"); Need(ow >= 1, $"output width {ow} >= 1", "output width");
        Need(oh <= int.MaxValue, "output height fits 32 bits", "output height"); Need(ow <= int.MaxValue, "output width fits 32 bits", "output width");
        if (broken.Count > 0) return broken;
        Int128 n = f.N, c = f.C, h = f.H, w = f.W;
        string[] count = ["overflows", "Limits"];
        Need(f.H + 2L * f.PadH <= int.MaxValue, "H + 2 padH <= Limits.MaxPaddedExtent", "padH", "Limits");
        Need(f.W + 2L * f.PadW <= int.MaxValue, "W + 2 padW <= Limits.MaxPaddedExtent", "padW", "Limits");
        Need(n * c * h * w <= long.MaxValue, "N*C*H*W fits 64 bits", count);
        Need(n * c * oh * ow <= long.MaxValue, "N*C*OH*OW fits 64 bits", count);
        Need(c * h * w <= Limits.MaxImageElements, "C*H*W <= Limits.MaxImageElements", count);
        Need(c * oh * ow <= Limits.MaxImageElements, "C*OH*OW <= Limits.MaxImageElements", count);
        Need(n * c * h * w <= Limits.MaxTensorElements, "N*C*H*W <= Limits.MaxTensorElements", count);
        Need(n * c * oh * ow <= Limits.MaxTensorElements, "N*C*OH*OW <= Limits.MaxTensorElements", count);
        return broken;
    }

    /// <summary>floor((in + 2p − d(k − 1) − 1)/s) + 1 in 128 bits, clamped to the long range.</summary>
    private static long Out(int input, int kernel, int stride, int pad, int dilation)
    {
        Int128 num = (Int128)input + 2 * (Int128)pad - ((Int128)dilation * (kernel - 1) + 1);
        Int128 q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
        Int128 o = q + 1;
        return o > long.MaxValue ? long.MaxValue : o < long.MinValue ? long.MinValue : (long)o;
    }
}
