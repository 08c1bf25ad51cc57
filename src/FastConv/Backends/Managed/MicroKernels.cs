// Unrolled register tiles, one per ISA (written out by hand-run generator; keep the three in step).
// Each microkernel computes C[MR x NR] (+)= A-panel(kc x MR) · B-panel(kc x NR), then the epilogue:
// + bias[row] and ReLU, applied by the caller only on the last k block.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastConv.Backends.Managed;

internal static unsafe class MicroKernels
{
    /// <summary>8x32 register tile: 16 Vector512 accumulators, 2 loads of B and 8 broadcasts of A per k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile8x32(int kc, float* a, float* b, float* c, long ldc, bool accumulate, float* bias, bool relu)
    {
        var c00 = Vector512<float>.Zero; var c01 = Vector512<float>.Zero;
        var c10 = Vector512<float>.Zero; var c11 = Vector512<float>.Zero;
        var c20 = Vector512<float>.Zero; var c21 = Vector512<float>.Zero;
        var c30 = Vector512<float>.Zero; var c31 = Vector512<float>.Zero;
        var c40 = Vector512<float>.Zero; var c41 = Vector512<float>.Zero;
        var c50 = Vector512<float>.Zero; var c51 = Vector512<float>.Zero;
        var c60 = Vector512<float>.Zero; var c61 = Vector512<float>.Zero;
        var c70 = Vector512<float>.Zero; var c71 = Vector512<float>.Zero;
        for (int k = 0; k < kc; k++, a += 8, b += 32)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(a4, b0, c40); c41 = Vector512.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(a5, b0, c50); c51 = Vector512.FusedMultiplyAdd(a5, b1, c51);
            var a6 = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(a6, b0, c60); c61 = Vector512.FusedMultiplyAdd(a6, b1, c61);
            var a7 = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(a7, b0, c70); c71 = Vector512.FusedMultiplyAdd(a7, b1, c71);
        }
        StoreVector512(c + 0 * ldc, c00, c01, accumulate, bias == null ? 0f : bias[0], relu);
        StoreVector512(c + 1 * ldc, c10, c11, accumulate, bias == null ? 0f : bias[1], relu);
        StoreVector512(c + 2 * ldc, c20, c21, accumulate, bias == null ? 0f : bias[2], relu);
        StoreVector512(c + 3 * ldc, c30, c31, accumulate, bias == null ? 0f : bias[3], relu);
        StoreVector512(c + 4 * ldc, c40, c41, accumulate, bias == null ? 0f : bias[4], relu);
        StoreVector512(c + 5 * ldc, c50, c51, accumulate, bias == null ? 0f : bias[5], relu);
        StoreVector512(c + 6 * ldc, c60, c61, accumulate, bias == null ? 0f : bias[6], relu);
        StoreVector512(c + 7 * ldc, c70, c71, accumulate, bias == null ? 0f : bias[7], relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector512(float* p, Vector512<float> v0, Vector512<float> v1, bool accumulate, float bias, bool relu)
    {
        var bv = Vector512.Create(bias);
        if (accumulate) v0 += Vector512.Load(p + 0);
        v0 += bv;
        if (relu) v0 = Vector512.Max(v0, Vector512<float>.Zero);
        Vector512.Store(v0, p + 0);
        if (accumulate) v1 += Vector512.Load(p + 16);
        v1 += bv;
        if (relu) v1 = Vector512.Max(v1, Vector512<float>.Zero);
        Vector512.Store(v1, p + 16);
    }

    /// <summary>6x16 register tile: 12 Vector256 accumulators, 2 loads of B and 6 broadcasts of A per k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile6x16(int kc, float* a, float* b, float* c, long ldc, bool accumulate, float* bias, bool relu)
    {
        var c00 = Vector256<float>.Zero; var c01 = Vector256<float>.Zero;
        var c10 = Vector256<float>.Zero; var c11 = Vector256<float>.Zero;
        var c20 = Vector256<float>.Zero; var c21 = Vector256<float>.Zero;
        var c30 = Vector256<float>.Zero; var c31 = Vector256<float>.Zero;
        var c40 = Vector256<float>.Zero; var c41 = Vector256<float>.Zero;
        var c50 = Vector256<float>.Zero; var c51 = Vector256<float>.Zero;
        for (int k = 0; k < kc; k++, a += 6, b += 16)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
            var a1 = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
            var a2 = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
            var a3 = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            var a4 = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(a4, b0, c40); c41 = Vector256.FusedMultiplyAdd(a4, b1, c41);
            var a5 = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(a5, b0, c50); c51 = Vector256.FusedMultiplyAdd(a5, b1, c51);
        }
        StoreVector256(c + 0 * ldc, c00, c01, accumulate, bias == null ? 0f : bias[0], relu);
        StoreVector256(c + 1 * ldc, c10, c11, accumulate, bias == null ? 0f : bias[1], relu);
        StoreVector256(c + 2 * ldc, c20, c21, accumulate, bias == null ? 0f : bias[2], relu);
        StoreVector256(c + 3 * ldc, c30, c31, accumulate, bias == null ? 0f : bias[3], relu);
        StoreVector256(c + 4 * ldc, c40, c41, accumulate, bias == null ? 0f : bias[4], relu);
        StoreVector256(c + 5 * ldc, c50, c51, accumulate, bias == null ? 0f : bias[5], relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreVector256(float* p, Vector256<float> v0, Vector256<float> v1, bool accumulate, float bias, bool relu)
    {
        var bv = Vector256.Create(bias);
        if (accumulate) v0 += Vector256.Load(p + 0);
        v0 += bv;
        if (relu) v0 = Vector256.Max(v0, Vector256<float>.Zero);
        Vector256.Store(v0, p + 0);
        if (accumulate) v1 += Vector256.Load(p + 8);
        v1 += bv;
        if (relu) v1 = Vector256.Max(v1, Vector256<float>.Zero);
        Vector256.Store(v1, p + 8);
    }

    /// <summary>Portable fallback for machines without 256-bit SIMD: a 4x8 tile in scalar code.</summary>
    public static void Tile4x8(int kc, float* a, float* b, float* c, long ldc, bool accumulate, float* bias, bool relu)
    {
        float* acc = stackalloc float[32];
        for (int i = 0; i < 32; i++) acc[i] = 0f;
        for (int k = 0; k < kc; k++, a += 4, b += 8)
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 8; j++)
                    acc[i * 8 + j] = MathF.FusedMultiplyAdd(a[i], b[j], acc[i * 8 + j]);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++)
            {
                float v = acc[i * 8 + j] + (accumulate ? c[i * ldc + j] : 0f) + (bias == null ? 0f : bias[i]);
                c[i * ldc + j] = relu && v < 0f ? 0f : v;
            }
    }
}
