using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastConv.Backends.Managed;

/// <summary>
/// im2col for one image, done in runs: each row (c, r, s) of the column matrix walks the output positions
/// row by row, and a run of output columns that stays inside the image is a strided (stride 1: contiguous)
/// read of one input row. <see cref="Pack"/> writes straight into GEMM B panels, so the forward pass never
/// materialises the column matrix.
/// </summary>
internal readonly unsafe struct Im2ColB(in Conv2dDesc d, float* image, int* rows = null) : IPackB
{
    private readonly int _c = d.C, _h = d.H, _w = d.W, _r = d.R, _s = d.S, _oh = d.OutH, _ow = d.OutW;
    private readonly int _sh = d.StrideH, _sw = d.StrideW, _ph = d.PadH, _pw = d.PadW, _dh = d.DilationH, _dw = d.DilationW;
    private readonly float* _x = image;
    private readonly int* _rows = rows;

    /// <summary>(plane offset, offH, offW) of every column-matrix row, for a plan to compute once: the three
    /// divisions per row otherwise cost as much as copying a small image's row.</summary>
    public static int[] RowTable(in Conv2dDesc d)
    {
        int kd = checked((int)d.ReductionLength);
        var t = GC.AllocateArray<int>(3 * kd, pinned: true);
        for (int row = 0; row < kd; row++)
        {
            int s = row % d.S, r = row / d.S % d.R, c = row / (d.S * d.R);
            t[3 * row] = checked(c * d.H * d.W);
            t[3 * row + 1] = r * d.DilationH - d.PadH;
            t[3 * row + 2] = s * d.DilationW - d.PadW;
        }
        return t;
    }

    /// <summary>Row (c, r, s) of the column matrix reads input plane c, shifted by (r·dh − ph, s·dw − pw).</summary>
    private float* Origin(int row, out int offH, out int offW)
    {
        if (_rows != null)
        {
            int* e = _rows + 3 * row;
            offH = e[1];
            offW = e[2];
            return _x + e[0];
        }
        int s = row % _s, r = row / _s % _r, c = row / (_s * _r);
        offH = r * _dh - _ph;
        offW = s * _dw - _pw;
        return _x + (long)c * _h * _w;
    }

    /// <summary>Writes columns [j0, j0+count) of column-matrix row <paramref name="row"/> into panels of
    /// <paramref name="panelWidth"/> columns, <paramref name="panelStride"/> floats apart (one wide panel: a plain row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Row(int row, int j0, int count, float* dst, int panelWidth, long panelStride)
    {
        float* xc = Origin(row, out int offH, out int offW);
        int oh = j0 / _ow, ow = j0 % _ow, t = 0;
        if (_sw == 1 && ow == 0 && count % _ow == 0 && (panelWidth >= count || panelWidth % _ow == 0))
        {
            // whole output rows that never straddle a panel (backward-filter's plain rows; forward panels of NR = 32
            // when OW divides 32): the padding bounds are the same for every output row, so each row is at most
            // a zero run, one copy and a zero run
            int lo = Math.Clamp(-offW, 0, _ow), hi = Math.Clamp(_w - offW, lo, _ow);
            int at = 0, rows = count / _ow;
            float* panelStart = dst;
            for (int q = 0; q < rows; q++, oh++)
            {
                float* d = panelStart + at;
                int ih = oh * _sh + offH;
                if ((uint)ih >= (uint)_h) Zero(d, _ow);
                else
                {
                    if (lo > 0) Zero(d, lo);
                    Copy(xc + (long)ih * _w + offW + lo, d + lo, hi - lo);
                    if (hi < _ow) Zero(d + hi, _ow - hi);
                }
                if ((at += _ow) == panelWidth) { at = 0; panelStart += panelStride; }
            }
            return;
        }
        // the destination position advances with t; tracked, not divided out per piece (small images have many pieces)
        int inPanel = 0;
        float* panel = dst;
        while (t < count)
        {
            int run = Math.Min(_ow - ow, count - t);
            int ih = oh * _sh + offH;
            bool rowInside = ih >= 0 && ih < _h;
            float* src = xc + (long)ih * _w;
            for (int u = 0; u < run;)
            {
                // a piece never crosses a panel boundary of the destination
                int piece = Math.Min(run - u, panelWidth - inPanel);
                float* d = panel + inPanel;
                int iw0 = (ow + u) * _sw + offW;
                if (!rowInside)
                    Zero(d, piece);
                else if (_sw == 1)
                {
                    // zeros where the window hangs over the left or right padding, one copy in between
                    int lo = Math.Clamp(-iw0, 0, piece), hi = Math.Clamp(_w - iw0, lo, piece);
                    if (lo > 0) Zero(d, lo);
                    Copy(src + iw0 + lo, d + lo, hi - lo);
                    if (hi < piece) Zero(d + hi, piece - hi);
                }
                else
                    for (int e = 0; e < piece; e++)
                    {
                        int iw = iw0 + e * _sw;
                        d[e] = iw >= 0 && iw < _w ? src[iw] : 0f;
                    }
                u += piece;
                inPanel += piece;
                if (inPanel == panelWidth) { inPanel = 0; panel += panelStride; }
            }
            t += run;
            ow = 0;
            oh++;
        }
    }

    /// <summary>Short copies (a run is one output row: often 8–32 floats) without Span set-up.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Copy(float* s, float* d, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16) Vector512.Store(Vector512.Load(s + i), d + i);
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(s + i), d + i);
        for (; i < n; i++) d[i] = s[i];
    }

    /// <summary>d[i] += s[i] for a short run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo(float* s, float* d, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(d + i) + Vector256.Load(s + i), d + i);
        for (; i < n; i++) d[i] += s[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Zero(float* d, int n)
    {
        int i = 0;
        for (; i + 8 <= n; i += 8) Vector256.Store(Vector256<float>.Zero, d + i);
        for (; i < n; i++) d[i] = 0f;
    }

    /// <summary>col2im for backward-data: adds src[t], columns [j0, j0+count) of row <paramref name="row"/>, back into the image.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ScatterAddRow(int row, int j0, int count, float* src)
    {
        float* xc = Origin(row, out int offH, out int offW);
        int oh = j0 / _ow, ow = j0 % _ow, t = 0;
        if (_sw == 1 && ow == 0 && count % _ow == 0)
        {
            // whole output rows: the same columns [lo, hi) of every row land inside the image
            int lo = Math.Clamp(-offW, 0, _ow), hi = Math.Clamp(_w - offW, lo, _ow);
            for (; t < count; t += _ow, oh++)
            {
                int ih = oh * _sh + offH;
                if ((uint)ih < (uint)_h) AddTo(src + t + lo, xc + (long)ih * _w + offW + lo, hi - lo);
            }
            return;
        }
        while (t < count)
        {
            int run = Math.Min(_ow - ow, count - t);
            int ih = oh * _sh + offH;
            if (ih >= 0 && ih < _h)
            {
                float* dstRow = xc + (long)ih * _w;
                int iw0 = ow * _sw + offW;
                if (_sw == 1 && iw0 >= 0 && iw0 + run <= _w)
                    System.Numerics.Tensors.TensorPrimitives.Add(new ReadOnlySpan<float>(dstRow + iw0, run),
                        new ReadOnlySpan<float>(src + t, run), new Span<float>(dstRow + iw0, run));
                else
                    for (int e = 0; e < run; e++)
                    {
                        int iw = iw0 + e * _sw;
                        if (iw >= 0 && iw < _w) dstRow[iw] += src[t + e];
                    }
            }
            t += run;
            ow = 0;
            oh++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int k0, int kc, int j0, int nc, float* dst, int nr)
    {
        int panels = (nc + nr - 1) / nr;
        long panelStride = (long)kc * nr;
        int tail = nc % nr;
        float* last = dst + (long)(panels - 1) * panelStride;
        for (int l = 0; l < kc; l++)
        {
            Row(k0 + l, j0, nc, dst + (long)l * nr, nr, panelStride);
            if (tail != 0) Zero(last + (long)l * nr + tail, nr - tail);   // the last panel's unused columns
        }
    }
}

/// <summary>The im2col transform on its own (CS231n's X_col): cols is [C·R·S, OH·OW] for image n of x.</summary>
public static unsafe class ManagedIm2Col
{
    public static void Run(in Conv2dDesc d, int n, ReadOnlySpan<float> x, Span<float> cols)
    {
        if ((uint)n >= (uint)d.N) throw new ArgumentOutOfRangeException(nameof(n), n, $"Im2Col: image {n} is outside batch {d.N}.");
        if (x.Length != d.InputElements) throw new ArgumentException($"Im2Col: x has {x.Length} elements, expected {d.InputElements}.", nameof(x));
        long p = (long)d.OutH * d.OutW, rows = d.ReductionLength;
        if (cols.Length != rows * p) throw new ArgumentException($"Im2Col: cols has {cols.Length} elements, expected {rows}x{p} = {rows * p}.", nameof(cols));
        fixed (float* px = x, pc = cols)
        {
            var im = new Im2ColB(d, px + n * (long)d.C * d.H * d.W);
            // one "panel" as wide as the whole row: a plain row-major matrix
            for (int row = 0; row < rows; row++) im.Row(row, 0, (int)p, pc + row * p, (int)p, 0);
        }
    }
}
