using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace FastConv.Backends.Managed;

/// <summary>
/// Convolution as GEMM (CS231n's im2col view), with the im2col folded into GEMM packing:
///   forward          Y[n] (K × P)   = W (K × CRS) · col(X[n]) (CRS × P)           + bias, ReLU in the epilogue
///   backward-data    dcol (CRS × P) = Wᵀ · dY[n], then col2im scatter-adds into dX[n]
///   backward-filter  dW (K × CRS)  += dY[n] (K × P) · col(X[n])ᵀ, per worker, summed in a fixed order
/// Work is split over images and blocks of output positions (forward), images and channel groups (backward-data,
/// so no two workers write the same dx), images and position blocks (backward-filter). Scratch is per thread and reused.
/// </summary>
internal sealed unsafe class ManagedConv2dPlan : HostConv2dPlan
{
    private readonly ManagedIsa _isa;
    private readonly int _m, _kd, _p;

    public ManagedConv2dPlan(in Conv2dDesc d, ManagedIsa isa) : base(d)
    {
        _isa = isa;
        _m = d.K;
        _kd = checked((int)d.ReductionLength);
        _p = checked(d.OutH * d.OutW);
        checked { _ = d.C * d.H * d.W; _ = d.K * _p; }   // per-image offsets fit in int arithmetic below
        var (mr, nr) = GemmDriver.Tile(isa);
        Implementation = $"managed:{ManagedIsaInfo.Tag(isa)}:im2col-gemm-{mr}x{nr}";
        _rowTable = Im2ColB.RowTable(d);
    }

    /// <summary>Per column-matrix row: plane offset and shifts, on the pinned heap so kernels take its address.</summary>
    private readonly int[] _rowTable;
    private int* Rows => (int*)Unsafe.AsPointer(ref _rowTable[0]);

    public override string Implementation { get; }

    /// <summary>Splits P output positions of N images into blocks of whole NR panels, enough for every worker.</summary>
    private (int Blocks, int Per) Split(int maxPer)
    {
        int nr = GemmDriver.Tile(_isa).NR, threads = Parallelism.Threads, n = Desc.N;
        int blocks = Math.Max(1, (_p + maxPer - 1) / maxPer);
        if (n < threads * 2) blocks = Math.Max(blocks, (threads * 2 + n - 1) / n);
        if (n < threads) blocks = (blocks + threads - 1) / threads * threads;
        blocks = Math.Min(blocks, (_p + nr - 1) / nr);
        int per = ((_p + blocks - 1) / blocks + nr - 1) / nr * nr;
        return ((_p + per - 1) / per, per);
    }

    protected override void ForwardCore(float* x, float* w, float* bias, float* y)
    {
        var d = Desc;
        int* rows = Rows;
        var isa = _isa;
        int m = _m, kd = _kd, p = _p;
        bool relu = d.Activation == Activation.Relu;
        float* ap = Scratch.Get(Scratch.Slot.PackA, GemmDriver.PackedASize(isa, m, kd));
        GemmDriver.PackA(isa, m, kd, w, kd, 1, 1f, ap);
        var (blocks, per) = Split(GemmDriver.NC);
        long imageIn = (long)d.C * d.H * d.W, imageOut = (long)m * p;
        Parallelism.For((long)d.N * blocks, (_, begin, end) =>
        {
            float* bp = Scratch.Get(Scratch.Slot.PackB, GemmDriver.PackedBSize(isa));
            float* tile = Scratch.Get(Scratch.Slot.Tile, 64 * 64);
            for (long item = begin; item < end; item++)
            {
                int n = (int)(item / blocks), j0 = (int)(item % blocks) * per;
                var im = new Im2ColB(d, x + n * imageIn, rows);
                GemmDriver.Columns(isa, m, kd, ap, ref im, j0, Math.Min(per, p - j0), y + n * imageOut, p, false, bias, relu, bp, tile);
            }
        });
    }

    protected override void BackwardDataCore(float* dy, float* w, float* dx)
    {
        var d = Desc;
        int* table = Rows;
        var isa = _isa;
        int k = _m, kd = _kd, p = _p, rs = d.R * d.S;
        int groups = d.N >= Parallelism.Threads ? 1 : Math.Min(d.C, (Parallelism.Threads + d.N - 1) / d.N);
        // Wᵀ rows of each channel group, packed back to back
        var offsets = new long[groups + 1];
        for (int g = 0; g < groups; g++)
            offsets[g + 1] = offsets[g] + GemmDriver.PackedASize(isa, (GroupEnd(g, groups) - GroupEnd(g - 1, groups)) * rs, k);
        float* ap = Scratch.Get(Scratch.Slot.PackA, offsets[groups]);
        for (int g = 0; g < groups; g++)
        {
            int row0 = GroupEnd(g - 1, groups) * rs, rows = GroupEnd(g, groups) * rs - row0;
            GemmDriver.PackA(isa, rows, k, w + row0, 1, kd, 1f, ap + offsets[g]);
        }
        long imageIn = (long)d.C * d.H * d.W, imageOut = (long)k * p, plane = (long)d.H * d.W;
        Parallelism.For((long)d.N * groups, (_, begin, end) =>
        {
            float* bp = Scratch.Get(Scratch.Slot.PackB, GemmDriver.PackedBSize(isa));
            float* tile = Scratch.Get(Scratch.Slot.Tile, 64 * 64);
            for (long item = begin; item < end; item++)
            {
                int n = (int)(item / groups), g = (int)(item % groups);
                int c0 = GroupEnd(g - 1, groups), c1 = GroupEnd(g, groups), row0 = c0 * rs, rows = (c1 - c0) * rs;
                float* cols = Scratch.Get(Scratch.Slot.Columns, (long)rows * GemmDriver.NC);
                float* image = dx + n * imageIn;
                new Span<float>(image + c0 * plane, checked((int)((c1 - c0) * plane))).Clear();
                var dyN = new StridedB(dy + n * imageOut, p, 1);
                var im = new Im2ColB(d, image, table);
                for (int j0 = 0; j0 < p; j0 += GemmDriver.NC)
                {
                    int nc = Math.Min(GemmDriver.NC, p - j0);
                    GemmDriver.Columns(isa, rows, k, ap + offsets[g], ref dyN, j0, nc, cols - j0, nc, false, null, false, bp, tile);
                    for (int i = 0; i < rows; i++) im.ScatterAddRow(row0 + i, j0, nc, cols + (long)i * nc);
                }
            }
        });

        int GroupEnd(int g, int count) => g < 0 ? 0 : (int)((long)d.C * (g + 1) / count);
    }

    /// <summary>
    /// dW (K × CRS) = Σₙ dY[n] (K × P) · col(X[n])ᵀ (P × CRS), in items of at most KC output positions: a slice of
    /// one image, or several whole images when P &lt; KC (a reduction of P alone is too short for the GEMM).
    /// The product is computed as it is, or turned around, dWᵀ (CRS × K) = col(X) · dYᵀ, whichever fills the
    /// MR×NR register tile better (always turned around for small images, so CRS is the long M side).
    /// Each worker accumulates its own copy; the copies are summed in worker order.
    /// </summary>
    protected override void BackwardFilterCore(float* x, float* dy, float* dw, float* dbias)
    {
        var d = Desc;
        int* rows = Rows;
        var isa = _isa;
        int k = _m, kd = _kd, p = _p;
        const int kc = GemmDriver.KC;
        var (mr, nr) = GemmDriver.Tile(isa);
        static long Padded(int m, int n, int mr, int nr) => (long)((m + mr - 1) / mr) * mr * ((n + nr - 1) / nr) * nr;
        bool transposed = p < kc || Padded(kd, k, mr, nr) < Padded(k, kd, mr, nr);
        int per = p < kc ? kc / p : 1, blocks = p < kc ? 1 : (p + kc - 1) / kc;
        long items = p < kc ? (d.N + per - 1) / per : (long)d.N * blocks;
        long weights = (long)k * kd, imageIn = (long)d.C * d.H * d.W, imageOut = (long)k * p;
        int workers = (int)Math.Min(Parallelism.Threads, items);
        float* acc = Scratch.Get(Scratch.Slot.Reduce, workers * weights);
        new Span<float>(acc, checked((int)(workers * weights))).Clear();
        Parallelism.For(items, (t, begin, end) =>
        {
            float* ap = Scratch.Get(Scratch.Slot.PackA, GemmDriver.PackedASize(isa, transposed ? kd : k, kc));
            float* bp = Scratch.Get(Scratch.Slot.PackB, GemmDriver.PackedBSize(isa));
            float* tile = Scratch.Get(Scratch.Slot.Tile, 64 * 64);
            float* cols = Scratch.Get(Scratch.Slot.Columns, (long)kd * kc);
            float* mine = acc + t * weights;
            for (long item = begin; item < end; item++)
            {
                int n0 = (int)(item / blocks * per), q0 = (int)(item % blocks) * kc;
                int imgs = Math.Min(per, d.N - n0), run = Math.Min(p - q0, kc), len = imgs * run;
                // col(X) of the item as a [CRS × len] row-major matrix
                for (int i = 0; i < imgs; i++)
                {
                    var im = new Im2ColB(d, x + (n0 + i) * imageIn, rows);
                    for (int row = 0; row < kd; row++) im.Row(row, q0, run, cols + (long)row * len + i * run, run, 0);
                }
                float* dyItem = dy + n0 * imageOut + q0;
                if (transposed)
                {
                    GemmDriver.PackA(isa, kd, len, cols, len, 1, 1f, ap);
                    var dyT = new StridedB(dyItem, 1, p, p, imageOut);
                    GemmDriver.Columns(isa, kd, len, ap, ref dyT, 0, k, mine, k, true, null, false, bp, tile);
                }
                else
                {
                    GemmDriver.PackA(isa, k, len, dyItem, p, 1, 1f, ap);
                    var colsT = new StridedB(cols, 1, len);
                    GemmDriver.Columns(isa, k, len, ap, ref colsT, 0, kd, mine, kd, true, null, false, bp, tile);
                }
            }
        });
        var sum = new Span<float>(acc, checked((int)weights));
        for (int t = 1; t < workers; t++) TensorPrimitives.Add(sum, new ReadOnlySpan<float>(acc + t * weights, (int)weights), sum);
        if (transposed)
            for (int row = 0; row < kd; row++)
                for (int kk = 0; kk < k; kk++) dw[(long)kk * kd + row] = acc[(long)row * k + kk];
        else
            sum.CopyTo(new Span<float>(dw, (int)weights));
        if (dbias == null) return;
        long outImage = (long)k * p;
        for (int kk = 0; kk < k; kk++)
        {
            float s = 0f;
            for (int n = 0; n < d.N; n++) s += TensorPrimitives.Sum(new ReadOnlySpan<float>(dy + n * outImage + (long)kk * p, p));
            dbias[kk] = s;
        }
    }
}

