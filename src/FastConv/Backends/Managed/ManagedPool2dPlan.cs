using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;
using FastConv.Backends.Reference;

namespace FastConv.Backends.Managed;

/// <summary>
/// Pooling, parallel over channel planes. The common 2×2 stride-2 unpadded window has a SIMD path: two input rows
/// are loaded, even and odd columns separated with a two-source permute, and combined in the reference's scan order
/// (so max and average match the reference bit for bit). Every other window, and backward, use the scan-order loops.
/// </summary>
internal sealed unsafe class ManagedPool2dPlan : HostPool2dPlan
{
    private readonly ManagedIsa _isa;
    private readonly bool _fast;

    public ManagedPool2dPlan(in Pool2dDesc d, ManagedIsa isa) : base(d)
    {
        _isa = isa;
        _fast = d.KernelH == 2 && d.KernelW == 2 && d.StrideH == 2 && d.StrideW == 2 && d.PadH == 0 && d.PadW == 0 &&
                (isa == ManagedIsa.Vector512 && Avx512F.IsSupported || isa == ManagedIsa.Vector256 && Avx2.IsSupported);
        Implementation = $"managed:{ManagedIsaInfo.Tag(isa)}:" + (_fast ? "2x2s2-simd" : "direct");
    }

    public override string Implementation { get; }

    protected override void ForwardCore(float* x, float* y)
    {
        var d = Desc;
        long inPlane = (long)d.H * d.W, outPlane = (long)d.OutH * d.OutW;
        bool fast = _fast;
        var isa = _isa;
        Parallelism.For((long)d.N * d.C, (_, begin, end) =>
        {
            for (long plane = begin; plane < end; plane++)
            {
                float* xp = x + plane * inPlane, yp = y + plane * outPlane;
                if (fast) Fast2x2(d, isa, xp, yp);
                else Direct(d, xp, yp);
            }
        });
    }

    protected override void BackwardCore(float* x, float* dy, float* dx)
    {
        var d = Desc;
        long inPlane = (long)d.H * d.W, outPlane = (long)d.OutH * d.OutW;
        bool simd = _isa == ManagedIsa.Vector512 && Avx512F.IsSupported;
        Parallelism.For((long)d.N * d.C, (_, begin, end) =>
        {
            for (long plane = begin; plane < end; plane++)
                BackwardPlane(d, x + plane * inPlane, dy + plane * outPlane, dx + plane * inPlane, simd);
        });
    }

    /// <summary>
    /// One plane. Non-overlapping 2×2 max windows write each dx element once (the gradient at the first maximum,
    /// zero elsewhere); every other window runs the reference's loops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardPlane(in Pool2dDesc d, float* x, float* dy, float* dx, bool simd)
    {
        if (d.Kind == PoolKind.Max && d.KernelH == 2 && d.KernelW == 2 && d.StrideH == 2 && d.StrideW == 2 && d.PadH == 0 && d.PadW == 0)
        {
            if (d.H % 2 != 0 || d.W % 2 != 0) new Span<float>(dx, d.H * d.W).Clear();   // rows/columns no window covers
            for (int oh = 0; oh < d.OutH; oh++)
            {
                float* r0 = x + 2 * oh * d.W, r1 = r0 + d.W, g0 = dx + 2 * oh * d.W, g1 = g0 + d.W, g = dy + oh * d.OutW;
                int ow = simd ? Backward2x2Simd(d.OutW, r0, r1, g, g0, g1) : 0;
                for (; ow < d.OutW; ow++)
                {
                    int j = 2 * ow;
                    float a = r0[j], b = r0[j + 1], c = r1[j], e = r1[j + 1];
                    int arg = 0; float m = a;
                    if (b > m) { m = b; arg = 1; }
                    if (c > m) { m = c; arg = 2; }
                    if (e > m) arg = 3;
                    float v = g[ow];
                    g0[j] = arg == 0 ? v : 0f; g0[j + 1] = arg == 1 ? v : 0f;
                    g1[j] = arg == 2 ? v : 0f; g1[j + 1] = arg == 3 ? v : 0f;
                }
            }
            return;
        }
        // every other window: the reference's scan-order loops on this one plane, so results match it bit for bit
        var plane = new Pool2dDesc(d.Kind, 1, 1, d.H, d.W, d.KernelH, d.KernelW, d.StrideH, d.StrideW, d.PadH, d.PadW);
        ReferenceKernels.Pool2dBackward<float>(plane, new ReadOnlySpan<float>(x, d.H * d.W), new ReadOnlySpan<float>(dy, d.OutH * d.OutW),
                                               new Span<float>(dx, d.H * d.W));
    }

    /// <summary>
    /// 16 windows at a time: masks pick each window's first maximum in scan order (a, then b, then c, else e),
    /// the gradient goes there and zeros elsewhere, and the four quarters are interleaved back into two rows.
    /// Returns how many output columns it did.
    /// </summary>
    private static int Backward2x2Simd(int outW, float* r0, float* r1, float* g, float* g0, float* g1)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        var lo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        var hi = lo + Vector512.Create(8);
        int ow = 0;
        for (; ow + 16 <= outW; ow += 16)
        {
            int j = 2 * ow;
            var a0 = Vector512.Load(r0 + j); var a1 = Vector512.Load(r0 + j + 16);
            var b0 = Vector512.Load(r1 + j); var b1 = Vector512.Load(r1 + j + 16);
            var a = Avx512F.PermuteVar16x32x2(a0, even, a1); var b = Avx512F.PermuteVar16x32x2(a0, odd, a1);
            var c = Avx512F.PermuteVar16x32x2(b0, even, b1); var e = Avx512F.PermuteVar16x32x2(b0, odd, b1);
            var m = Vector512.Max(Vector512.Max(a, b), Vector512.Max(c, e));
            var ta = Vector512.Equals(a, m);
            var tb = Vector512.AndNot(Vector512.Equals(b, m), ta);
            var tc = Vector512.AndNot(Vector512.AndNot(Vector512.Equals(c, m), ta), tb);
            var td = ~(ta | tb | tc);
            var v = Vector512.Load(g + ow);
            var ga = v & ta; var gb = v & tb; var gc = v & tc; var gd = v & td;
            Vector512.Store(Avx512F.PermuteVar16x32x2(ga, lo, gb), g0 + j);
            Vector512.Store(Avx512F.PermuteVar16x32x2(ga, hi, gb), g0 + j + 16);
            Vector512.Store(Avx512F.PermuteVar16x32x2(gc, lo, gd), g1 + j);
            Vector512.Store(Avx512F.PermuteVar16x32x2(gc, hi, gd), g1 + j + 16);
        }
        // 8 windows with the 256-bit forms of the same permutes (small images: 24x24 gives 12 windows a row).
        var even8 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
        var odd8 = even8 + Vector256<int>.One;
        var lo8 = Vector256.Create(0, 8, 1, 9, 2, 10, 3, 11);
        var hi8 = lo8 + Vector256.Create(4);
        for (; ow + 8 <= outW; ow += 8) Windows8(ow);
        // the last few windows: one more 8-window step that overlaps windows already done (same inputs, same writes)
        if (ow < outW && outW >= 8) { Windows8(outW - 8); ow = outW; }
        return ow;

        void Windows8(int o)
        {
            int j = 2 * o;
            var a0 = Vector256.Load(r0 + j); var a1 = Vector256.Load(r0 + j + 8);
            var b0 = Vector256.Load(r1 + j); var b1 = Vector256.Load(r1 + j + 8);
            var a = Avx512F.VL.PermuteVar8x32x2(a0, even8, a1); var b = Avx512F.VL.PermuteVar8x32x2(a0, odd8, a1);
            var c = Avx512F.VL.PermuteVar8x32x2(b0, even8, b1); var e = Avx512F.VL.PermuteVar8x32x2(b0, odd8, b1);
            var m = Vector256.Max(Vector256.Max(a, b), Vector256.Max(c, e));
            var ta = Vector256.Equals(a, m);
            var tb = Vector256.AndNot(Vector256.Equals(b, m), ta);
            var tc = Vector256.AndNot(Vector256.AndNot(Vector256.Equals(c, m), ta), tb);
            var td = ~(ta | tb | tc);
            var v = Vector256.Load(g + o);
            var ga = v & ta; var gb = v & tb; var gc = v & tc; var gd = v & td;
            Vector256.Store(Avx512F.VL.PermuteVar8x32x2(ga, lo8, gb), g0 + j);
            Vector256.Store(Avx512F.VL.PermuteVar8x32x2(ga, hi8, gb), g0 + j + 8);
            Vector256.Store(Avx512F.VL.PermuteVar8x32x2(gc, lo8, gd), g1 + j);
            Vector256.Store(Avx512F.VL.PermuteVar8x32x2(gc, hi8, gd), g1 + j + 8);
        }
    }

    /// <summary>Scan-order window loops for one plane, clipped to the image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Direct(in Pool2dDesc d, float* x, float* y)
    {
        float area = d.KernelH * d.KernelW;
        for (int oh = 0; oh < d.OutH; oh++)
        {
            int h0 = oh * d.StrideH - d.PadH, h1 = Math.Min(h0 + d.KernelH, d.H);
            h0 = Math.Max(h0, 0);
            for (int ow = 0; ow < d.OutW; ow++)
            {
                int w0 = ow * d.StrideW - d.PadW, w1 = Math.Min(w0 + d.KernelW, d.W);
                w0 = Math.Max(w0, 0);
                float acc;
                if (d.Kind == PoolKind.Max)
                {
                    acc = float.NegativeInfinity;
                    for (int ih = h0; ih < h1; ih++) for (int iw = w0; iw < w1; iw++) acc = Math.Max(acc, x[ih * d.W + iw]);
                }
                else
                {
                    acc = 0f;
                    for (int ih = h0; ih < h1; ih++) for (int iw = w0; iw < w1; iw++) acc += x[ih * d.W + iw];
                    acc /= area;
                }
                y[oh * d.OutW + ow] = acc;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Fast2x2(in Pool2dDesc d, ManagedIsa isa, float* x, float* y)
    {
        bool max = d.Kind == PoolKind.Max;
        for (int oh = 0; oh < d.OutH; oh++)
        {
            float* r0 = x + 2 * oh * d.W, r1 = r0 + d.W, o = y + oh * d.OutW;
            int ow = 0;
            if (isa == ManagedIsa.Vector512)
            {
                var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                var odd = even + Vector512<int>.One;
                var four = Vector512.Create(4f);
                for (; ow + 16 <= d.OutW; ow += 16)
                {
                    var a0 = Vector512.Load(r0 + 2 * ow); var a1 = Vector512.Load(r0 + 2 * ow + 16);
                    var b0 = Vector512.Load(r1 + 2 * ow); var b1 = Vector512.Load(r1 + 2 * ow + 16);
                    var ae = Avx512F.PermuteVar16x32x2(a0, even, a1); var ao = Avx512F.PermuteVar16x32x2(a0, odd, a1);
                    var be = Avx512F.PermuteVar16x32x2(b0, even, b1); var bo = Avx512F.PermuteVar16x32x2(b0, odd, b1);
                    var v = max ? Vector512.Max(Vector512.Max(Vector512.Max(ae, ao), be), bo) : (ae + ao + be + bo) / four;
                    Vector512.Store(v, o + ow);
                }
            }
            else if (isa == ManagedIsa.Vector256)
            {
                var four = Vector256.Create(4f);
                for (; ow + 8 <= d.OutW; ow += 8)
                {
                    var a0 = Vector256.Load(r0 + 2 * ow); var a1 = Vector256.Load(r0 + 2 * ow + 8);
                    var b0 = Vector256.Load(r1 + 2 * ow); var b1 = Vector256.Load(r1 + 2 * ow + 8);
                    var ae = Even(a0, a1); var ao = Odd(a0, a1); var be = Even(b0, b1); var bo = Odd(b0, b1);
                    var v = max ? Vector256.Max(Vector256.Max(Vector256.Max(ae, ao), be), bo) : (ae + ao + be + bo) / four;
                    Vector256.Store(v, o + ow);
                }
            }
            for (; ow < d.OutW; ow++)
            {
                float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], e = r1[2 * ow + 1];
                o[ow] = max ? Math.Max(Math.Max(Math.Max(a, b), c), e) : (a + b + c + e) / 4f;
            }
        }
    }

    private static Vector256<float> Even(Vector256<float> a, Vector256<float> b) =>
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();

    private static Vector256<float> Odd(Vector256<float> a, Vector256<float> b) =>
        Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();
}
