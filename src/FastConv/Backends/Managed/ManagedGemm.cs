using System.Runtime.Intrinsics.X86;
using System.Runtime.CompilerServices;

namespace FastConv.Backends.Managed;

/// <summary>Fills a packed B block: columns [j0, j0+nc) of rows [k0, k0+kc), as ceil(nc/NR) panels of kc rows × NR floats, zero-padded.</summary>
internal unsafe interface IPackB
{
    void Pack(int k0, int kc, int j0, int nc, float* dst, int nr);
}

/// <summary>
/// B as a strided matrix: B(l, j) = p[l·rowStride + j·colStride]. Transposes are just swapped strides.
/// With <c>wrap</c>, row l continues in the next block every <c>wrap</c> rows: B(l, j) =
/// p[(l / wrap)·wrapStride + (l % wrap)·rowStride + j·colStride] (dYᵀ of consecutive images, for example).
/// </summary>
internal readonly unsafe struct StridedB(float* p, long rowStride, long colStride, int wrap = int.MaxValue, long wrapStride = 0) : IPackB
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int j0, int nc, float* dst, int nr)
    {
        int panels = (nc + nr - 1) / nr;
        for (int q = 0; q < panels; q++)
        {
            int jn = Math.Min(nr, nc - q * nr);
            float* d = dst + (long)q * kc * nr;
            int block = k0 / wrap, l = k0 % wrap;
            // a transposed source (rows contiguous in l): 8×8 blocks transposed in registers where they fit
            int jn8 = jn / 8 * 8;
            bool blocks = rowStride == 1 && colStride != 1 && jn8 > 0 && Avx.IsSupported;
            for (int t = 0; t < kc;)
            {
                float* s = p + block * wrapStride + l * rowStride + (long)(j0 + q * nr) * colStride;
                if (blocks && t + 8 <= kc && l + 8 <= wrap)
                {
                    for (int jb = 0; jb < jn8; jb += 8) GemmDriver.Transpose8x8(s + jb * colStride, colStride, d + jb, nr);
                    for (int r = 0; r < 8; r++)
                    {
                        float* dr = d + r * nr;
                        for (int j = jn8; j < jn; j++) dr[j] = s[r + j * colStride];
                        for (int j = jn; j < nr; j++) dr[j] = 0f;
                    }
                    t += 8; d += 8 * nr; l += 8;
                }
                else
                {
                    if (colStride == 1) new ReadOnlySpan<float>(s, jn).CopyTo(new Span<float>(d, jn));
                    else for (int j = 0; j < jn; j++) d[j] = s[j * colStride];
                    for (int j = jn; j < nr; j++) d[j] = 0f;
                    t++; d += nr; l++;
                }
                if (l == wrap) { l = 0; block++; }
            }
        }
    }
}

/// <summary>
/// A register-blocked, cache-blocked SGEMM in the BLIS style: C[M×N] (+)= A[M×Kd]·B[Kd×N], row-major C.
/// A is packed once per call into MR-row panels; B is packed per KC×NC block into NR-column panels by an
/// <see cref="IPackB"/> (a strided matrix, or im2col done on the fly). The microkernel keeps an MR×NR tile in registers.
/// </summary>
internal static unsafe class GemmDriver
{
    public const int KC = 320;     // B micro-panel (≤ KC)×NR (≤ 40 KiB at NR=32) stays near L1 across the row panels
    public const int NC = 512;     // packed B block KC×NC (512 KiB) stays in L2

    public static (int MR, int NR) Tile(ManagedIsa isa) => isa switch
    {
        ManagedIsa.Vector512 => (8, 32),
        ManagedIsa.Vector256 => (6, 16),
        _ => (4, 8),
    };

    public static long PackedASize(ManagedIsa isa, int m, int kd)
    {
        var (mr, _) = Tile(isa);
        return (long)((m + mr - 1) / mr) * mr * kd;
    }

    public static long PackedBSize(ManagedIsa isa) => (long)KC * (NC + Tile(isa).NR);

    /// <summary>Packs A(i, l) = a[i·rowStride + l·colStride]·alpha as ceil(M/MR) panels of Kd × MR, zero-padded rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(ManagedIsa isa, int m, int kd, float* a, long rowStride, long colStride, float alpha, float* dst)
    {
        int mr = Tile(isa).MR;
        for (int i0 = 0; i0 < m; i0 += mr)
        {
            int mn = Math.Min(mr, m - i0);
            float* d = dst + (long)(i0 / mr) * kd * mr;
            int l0 = 0;
            if (mr == 8 && mn == 8 && colStride == 1 && alpha == 1f && Avx.IsSupported)
            {
                // row-major A (weights, im2col columns): 8×8 blocks transposed in registers
                for (; l0 + 8 <= kd; l0 += 8, d += 64) Transpose8x8(a + i0 * rowStride + l0, rowStride, d);
            }
            for (int l = l0; l < kd; l++, d += mr)
            {
                float* s = a + i0 * rowStride + l * colStride;
                for (int i = 0; i < mn; i++) d[i] = s[i * rowStride] * alpha;
                for (int i = mn; i < mr; i++) d[i] = 0f;
            }
        }
    }

    /// <summary>dst[c·dstStride + r] = src[r·stride + c] for an 8×8 block: unpack, shuffle, then swap 128-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, long stride, float* dst, long dstStride = 8)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + stride);
        var r2 = Avx.LoadVector256(src + 2 * stride); var r3 = Avx.LoadVector256(src + 3 * stride);
        var r4 = Avx.LoadVector256(src + 4 * stride); var r5 = Avx.LoadVector256(src + 5 * stride);
        var r6 = Avx.LoadVector256(src + 6 * stride); var r7 = Avx.LoadVector256(src + 7 * stride);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20)); Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20)); Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31)); Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31)); Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// Computes columns [j0, j0+nc) of C from packed A. <paramref name="accumulate"/> adds to C instead of overwriting;
    /// bias (one per row, may be null) and ReLU are applied once the whole reduction is summed.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Columns<TB>(ManagedIsa isa, int m, int kd, float* ap, ref TB packB, int j0, int nc,
                                   float* c, long ldc, bool accumulate, float* bias, bool relu, float* bp, float* tile)
        where TB : struct, IPackB
    {
        var (mr, nr) = Tile(isa);
        for (int jc = j0; jc < j0 + nc; jc += NC)
        {
            int ncb = Math.Min(NC, j0 + nc - jc);
            // even k blocks of at most KC: 288 runs as one block, not 256 + 32
            int kblocks = (kd + KC - 1) / KC, kstep = (kd + kblocks - 1) / kblocks;
            for (int k0 = 0; k0 < kd; k0 += kstep)
            {
                int kc = Math.Min(kstep, kd - k0);
                packB.Pack(k0, kc, jc, ncb, bp, nr);
                bool add = accumulate || k0 > 0, last = k0 + kc >= kd;
                for (int q = 0; q * nr < ncb; q++)
                {
                    int jn = Math.Min(nr, ncb - q * nr);
                    float* bpanel = bp + (long)q * kc * nr;
                    for (int i0 = 0; i0 < m; i0 += mr)
                    {
                        int mn = Math.Min(mr, m - i0);
                        float* apanel = ap + (long)(i0 / mr) * kd * mr + (long)k0 * mr;
                        float* ct = c + i0 * ldc + jc + q * nr;
                        float* bi = last && bias != null ? bias + i0 : null;
                        if (mn == mr && jn == nr)
                            Micro(isa, kc, apanel, bpanel, ct, ldc, add, bi, last && relu);
                        else
                        {
                            Micro(isa, kc, apanel, bpanel, tile, nr, false, null, false);
                            for (int i = 0; i < mn; i++)
                                for (int j = 0; j < jn; j++)
                                {
                                    float v = tile[i * nr + j] + (add ? ct[i * ldc + j] : 0f) + (bi == null ? 0f : bi[i]);
                                    ct[i * ldc + j] = last && relu && v < 0f ? 0f : v;
                                }
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Micro(ManagedIsa isa, int kc, float* a, float* b, float* c, long ldc, bool add, float* bias, bool relu)
    {
        switch (isa)
        {
            case ManagedIsa.Vector512: MicroKernels.Tile8x32(kc, a, b, c, ldc, add, bias, relu); break;
            case ManagedIsa.Vector256: MicroKernels.Tile6x16(kc, a, b, c, ldc, add, bias, relu); break;
            default: MicroKernels.Tile4x8(kc, a, b, c, ldc, add, bias, relu); break;
        }
    }
}

/// <summary>
/// The managed GEMM on its own: C = alpha·op(A)·op(B) + beta·C on row-major spans, parallel over column blocks.
/// The CS231n notes' conv-as-matrix-multiply ([96 × 363] · [363 × 3025]) runs through this.
/// </summary>
public static unsafe class ManagedGemm
{
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, bool transA, ReadOnlySpan<float> b, bool transB,
                                Span<float> c, float alpha = 1f, float beta = 0f, ManagedIsa? isa = null)
    {
        if (m < 1 || n < 1 || k < 1) throw new ArgumentException($"ManagedGemm: sizes must be >= 1, got m={m} n={n} k={k}.");
        if (a.Length < (long)m * k) throw new ArgumentException($"ManagedGemm: a has {a.Length} elements, needs {(long)m * k}.", nameof(a));
        if (b.Length < (long)k * n) throw new ArgumentException($"ManagedGemm: b has {b.Length} elements, needs {(long)k * n}.", nameof(b));
        if (c.Length < (long)m * n) throw new ArgumentException($"ManagedGemm: c has {c.Length} elements, needs {(long)m * n}.", nameof(c));
        fixed (float* pa = a, pb = b, pc = c)
            Run(isa ?? ManagedIsaInfo.Best, m, n, k, pa, transA, pb, transB, pc, alpha, beta);
    }

    internal static void Run(ManagedIsa isa, int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta)
    {
        if (beta != 0f && beta != 1f) System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(c, checked(m * n)), beta, new Span<float>(c, m * n));
        bool accumulate = beta != 0f;
        float* ap = Scratch.Get(Scratch.Slot.PackA, GemmDriver.PackedASize(isa, m, k));
        GemmDriver.PackA(isa, m, k, a, transA ? 1 : k, transA ? m : 1, alpha, ap);
        var nr = GemmDriver.Tile(isa).NR;
        int blocks = Math.Max(1, Math.Min((n + nr - 1) / nr, Parallelism.Threads * 4));
        int per = ((n + blocks - 1) / blocks + nr - 1) / nr * nr;
        blocks = (n + per - 1) / per;
        Parallelism.For(blocks, (_, begin, end) =>
        {
            float* bp = Scratch.Get(Scratch.Slot.PackB, GemmDriver.PackedBSize(isa));
            float* tile = Scratch.Get(Scratch.Slot.Tile, 64 * 64);
            var packB = new StridedB(b, transB ? 1 : n, transB ? k : 1);
            for (long blk = begin; blk < end; blk++)
            {
                int j0 = (int)blk * per;
                GemmDriver.Columns(isa, m, k, ap, ref packB, j0, Math.Min(per, n - j0), c, n, accumulate, null, false, bp, tile);
            }
        });
    }
}
