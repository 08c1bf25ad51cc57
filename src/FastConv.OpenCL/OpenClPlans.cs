using System.Runtime.InteropServices;
using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>
/// A planned convolution on the device: its geometry in a small constant buffer, the packed weight panels (forward, and
/// backward-data as a forward convolution of dy) in buffers sized once, and the kernels built for its kernel size.
/// See opencl/f32-conv2d.cl: 16 output columns per work-item as a float16, KT output channels, no barriers.
/// </summary>
internal sealed class OpenClConv2dPlan : Conv2dPlan
{
    private readonly OpenClBackend _be;
    private readonly ClMem _geom, _geomBack, _dummy;
    private readonly ClMem? _wp;
    private readonly ClMem? _wpBack, _xp, _dyp;
    private readonly int _hp, _wpad, _hpBack, _wpadBack;
    private readonly bool _flipPath;
    private readonly int _kt, _ktBack;
    private readonly string _options, _optionsBack;
    private readonly bool _gemm;
    private readonly int _splits, _perSplit;
    private ClMem? _partial;

    public OpenClConv2dPlan(OpenClBackend be, in Conv2dDesc d) : base(d)
    {
        _be = be;
        var rt = be.Runtime;
        _gemm = be.ConvPath == OpenClConvPath.Gemm;
        if (OpenClPlanLimits.Unsupported(d, be.ConvPath) is string why) throw new NotSupportedException(why);
        _kt = ChannelsPerItem(d.K);
        _ktBack = ChannelsPerItem(d.C);
        _options = $"-DKT={_kt} -DKR={d.R} -DKS={d.S}";
        _optionsBack = $"-DKT={_ktBack} -DKR={d.R} -DKS={d.S}";
        long rs = (long)d.R * d.S;
        // What the plan needs on the device, worked out before anything is created (OpenClPlanLimits.CheckMemory).
        var required = new List<(string, long)>();
        if (_gemm)
        {
            // split-K for backward-filter: enough work-groups for the device, each split a few hundred reduction steps,
            // and no more splits than one partial-sums buffer the device allocates at once holds
            long q = (long)d.N * d.OutH * d.OutW;
            long tiles = (d.K + OpenClBackend.Tile - 1) / OpenClBackend.Tile * ((d.ReductionLength + OpenClBackend.Tile - 1) / OpenClBackend.Tile);
            long perSplitBytes = OpenClPlanLimits.FloatBytes(d.K, d.ReductionLength);
            long fit = Math.Max(1, be.Device.MaxAllocation / Math.Max(perSplitBytes, 1));
            _splits = (int)Math.Clamp(Math.Min(Math.Min(be.Device.ComputeUnits * 4 / Math.Max(tiles, 1), q / 256), fit), 1, 64);
            _perSplit = (int)((q + _splits - 1) / _splits + 15) / 16 * 16;
            _splits = (int)((q + _perSplit - 1) / _perSplit);
            required.Add(("backward-filter partial sums", OpenClPlanLimits.FloatBytes(_splits, d.K, d.ReductionLength)));
        }
        else
        {
            required.Add(("packed weights", OpenClPlanLimits.FloatBytes(Blocks(d.K, _kt) * _kt, d.C, rs)));
            // backward-data of a stride-1 convolution is a forward one: input dy (K channels, OH x OW), output dx (C, H x W),
            // padding R-1-p; stride 1 copies inputs once per call into zero-bordered buffers, so no row load needs a mask.
            // One output channel per work-item runs RowsPerItem output rows, reading up to RowsPerItem - 1 zero rows past the end.
            long hp = d.H + 2L * d.PadH + (_kt == 1 ? RowsPerItem - 1 : 0), wpad = ((long)d.OutW + 15) / 16 * 16 + d.S - 1;
            long hpBack = d.OutH + 2L * (d.R - 1 - d.PadH) + (_ktBack == 1 ? RowsPerItem - 1 : 0), wpadBack = ((long)d.W + 15) / 16 * 16 + d.S - 1;
            (string, long)[] flip =
            [
                ("packed flipped weights", OpenClPlanLimits.FloatBytes(Blocks(d.C, _ktBack) * _ktBack, d.K, rs)),
                ("zero-bordered input", OpenClPlanLimits.FloatBytes(d.N, d.C, hp, wpad)),
                ("zero-bordered output gradient", OpenClPlanLimits.FloatBytes(d.N, d.K, hpBack, wpadBack)),
            ];
            // The padded path is a speed-up: where its extents do not fit the kernels' ints or its buffers the device, the
            // unpadded kernels (masked loads, the gather backward-data) run the same convolution.
            _flipPath = d.StrideH == 1 && d.StrideW == 1 && d.DilationH == 1 && d.DilationW == 1 && d.PadH <= d.R - 1 && d.PadW <= d.S - 1
                        && Math.Max(Math.Max(hp, wpad), Math.Max(hpBack, wpadBack)) + 128 <= int.MaxValue   // + 16-column chunks rounded up
                        && OpenClPlanLimits.Fits(be.Device, [.. required, .. flip]);
            if (_flipPath)
            {
                required.AddRange(flip);
                (_hp, _wpad, _hpBack, _wpadBack) = ((int)hp, (int)wpad, (int)hpBack, (int)wpadBack);
            }
        }
        OpenClPlanLimits.CheckMemory($"the plan for {d}", be.Device, required);

        _geom = Geometry(rt, [d.C, d.H, d.W, d.K, d.R, d.S, d.StrideH, d.StrideW, d.PadH, d.PadW, d.DilationH, d.DilationW, d.OutH, d.OutW]);
        _geomBack = Geometry(rt, [d.K, d.OutH, d.OutW, d.C, d.R, d.S, 1, 1, d.R - 1 - d.PadH, d.S - 1 - d.PadW, 1, 1, d.H, d.W]);
        _dummy = rt.CreateBuffer(4, "no bias");
        if (_gemm)
        {
            Implementation = $"opencl:{be.DeviceName}:im2col-gemm-{OpenClBackend.Tile}x{OpenClBackend.Tile}";
            return;
        }
        _wp = rt.CreateBuffer(required[0].Item2, "packed weights");
        if (_flipPath)
        {
            _wpBack = rt.CreateBuffer(required[1].Item2, "packed flipped weights");
            _xp = rt.CreateBuffer(required[2].Item2, "zero-bordered input");
            _dyp = rt.CreateBuffer(required[3].Item2, "zero-bordered output gradient");
        }
        Implementation = $"opencl:{be.DeviceName}:direct-16x{_kt}";
    }

    /// <summary>Output rows per work-item of fc_f32_conv2d_fwd_padded_rows (the kernel's ROWS), used when a work-item has one
    /// output channel.</summary>
    private const int RowsPerItem = 4;

    /// <summary>Output channels per work-item: 16 when there are that many, else fewer (no lanes of zeros to multiply).</summary>
    private static int ChannelsPerItem(int channels) => channels >= 16 ? 16 : channels >= 8 ? 8 : channels >= 3 ? 4 : 1;
    private static long Blocks(int channels, int kt) => (channels + kt - 1) / kt;

    private static ClMem Geometry(ClRuntime rt, int[] values)
    {
        var m = rt.CreateBuffer(4 * values.Length, "conv geometry");
        rt.Write(m, 0, MemoryMarshal.AsBytes(values.AsSpan()));
        return m;
    }

    public override string Implementation { get; }

    protected override void CheckTensor(Tensor? t, string name, string op) => _be.CheckTensor(t, name, op);

    private ClKernel K(string name, string options) => _be.Runtime.Kernel(OpenClBackend.ConvFile, name, options);

    /// <summary>
    /// Work-group of the forward kernels: two 16-column chunks of one output row (one when the row has one) for up to
    /// 4 channel blocks, so the
    /// work-items that read the same input rows run together (one PoCL thread) and share them in cache. Measured on
    /// PoCL, 2 threads, against the runtime's own choice: C8 38.4 -> 22.9 ms, C4 47 -> 25 ms, C5 28 -> 23.5 ms. The z
    /// size divides the channel blocks, so no work-item past the batch exists (x and y are rounded up and checked).
    /// </summary>
    private static long[] Local(long chunks, long blocks) => [chunks >= 2 ? 2 : 1, 1, blocks % 4 == 0 ? 4 : blocks % 2 == 0 ? 2 : 1];

    /// <summary>Packs the weights, then runs the forward kernel: (ceil(OW/16), OH, N * blocks) work-items; with a padded
    /// buffer, the input is first copied into it (stride 1).</summary>
    private void RunForward(ClMem geom, string options, int kt, ClMem w, bool flipped, int outCh, int inCh, ClMem wp, ClMem x,
                            ClMem? bias, bool relu, ClMem y, int n, int oh, int ow, ClMem? padded = null, int hp = 0, int wpad = 0)
    {
        long blocks = Blocks(outCh, kt);
        _be.Runtime.Run(K("fc_f32_conv2d_pack_weights", options), [blocks * kt * inCh * Desc.R * Desc.S], [], outCh, inCh, flipped, w, wp);
        if (padded is null)
        {
            _be.Runtime.Run(K("fc_f32_conv2d_fwd", options), [(ow + 15) / 16, oh, n * blocks], Local((ow + 15) / 16, blocks), geom, x, wp, bias ?? _dummy, bias is not null, relu, y);
            return;
        }
        _be.Runtime.Run(K("fc_f32_conv2d_pad_input", options), [(wpad + 15) / 16, hp, (long)n * inCh], [], geom, hp, wpad, x, padded);
        // one output channel per work-item: RowsPerItem output rows each
        var (kernel, rows) = kt == 1 ? ("fc_f32_conv2d_fwd_padded_rows", RowsPerItem) : ("fc_f32_conv2d_fwd_padded", 1);
        _be.Runtime.Run(K(kernel, options), [(ow + 15) / 16, (oh + rows - 1) / rows, n * blocks], Local((ow + 15) / 16, blocks), geom, hp, wpad,
            padded, wp, bias ?? _dummy, bias is not null, relu, y);
    }

    protected override void ForwardKernel(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        var d = Desc;
        ClMem px = OpenClBackend.Mem(x), pw = OpenClBackend.Mem(w), py = OpenClBackend.Mem(y);
        var pb = bias is null ? null : OpenClBackend.Mem(bias);
        if (_gemm)
        {
            int t = OpenClBackend.Tile, th = OpenClBackend.TileThreads;
            long p = (long)d.OutH * d.OutW;
            _be.Runtime.Run(K("fc_f32_conv2d_fwd_gemm", _options), [(p + t - 1) / t * th, (d.K + t - 1) / t * th, d.N], [th, th, 1],
                _geom, px, pw, pb ?? _dummy, pb is not null, d.Activation == Activation.Relu, py);
            return;
        }
        RunForward(_geom, _options, _kt, pw, false, d.K, d.C, _wp!, px, pb, d.Activation == Activation.Relu, py, d.N, d.OutH, d.OutW, _xp, _hp, _wpad);
    }

    protected override void BackwardDataKernel(Tensor dy, Tensor w, Tensor dx)
    {
        var d = Desc;
        ClMem pdy = OpenClBackend.Mem(dy), pw = OpenClBackend.Mem(w), pdx = OpenClBackend.Mem(dx);
        if (_gemm)
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_data", _options), [(long)d.H * d.W, (long)d.C * d.N], [], _geom, pdy, pw, pdx);
        else if (_flipPath)
            RunForward(_geomBack, _optionsBack, _ktBack, pw, true, d.C, d.K, _wpBack!, pdy, null, false, pdx, d.N, d.H, d.W, _dyp, _hpBack, _wpadBack);
        else
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_data", _options), [(long)d.H * d.W, (long)d.C * d.N], [], _geom, pdy, pw, pdx);
    }

    protected override void BackwardFilterKernel(Tensor x, Tensor dy, Tensor dw, Tensor? dbias)
    {
        var d = Desc;
        ClMem px = OpenClBackend.Mem(x), pdy = OpenClBackend.Mem(dy), pdw = OpenClBackend.Mem(dw);
        if (_gemm)
        {
            int t = OpenClBackend.Tile, th = OpenClBackend.TileThreads;
            long kd = d.ReductionLength;
            _partial ??= _be.Runtime.CreateBuffer(OpenClPlanLimits.FloatBytes(_splits, d.K, kd), "backward-filter partial sums");
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter_gemm", _options), [(kd + t - 1) / t * th, (d.K + t - 1) / t * th, _splits], [th, th, 1],
                _geom, d.N, _perSplit, px, pdy, _partial);
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter_reduce", _options), [d.WeightElements], [], (int)d.WeightElements, _splits, _partial, pdw);
        }
        else if (_xp is not null)
        {
            _be.Runtime.Run(K("fc_f32_conv2d_pad_input", _options), [(_wpad + 15) / 16, _hp, (long)d.N * d.C], [], _geom, _hp, _wpad, px, _xp);
            // few, long work-items: one per work-group, so every compute unit gets some
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter_padded", _options), [d.C, d.K], [1, 1], _geom, d.N, _hp, _wpad, _xp, pdy, pdw);
        }
        else _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter", _options), [d.C, d.K], [1, 1], _geom, d.N, px, pdy, pdw);
        if (dbias is not null)
            _be.BiasAddBackward(dy, dbias);
    }

    protected override void DisposeCore()
    {
        _geom.Dispose(); _geomBack.Dispose(); _wp?.Dispose(); _wpBack?.Dispose(); _dummy.Dispose(); _xp?.Dispose(); _dyp?.Dispose(); _partial?.Dispose();
    }
}

/// <summary>Pooling on the device: one work-item per output (forward) or per input element (backward, a gather).</summary>
internal sealed class OpenClPool2dPlan : Pool2dPlan
{
    private readonly OpenClBackend _be;
    private readonly ClMem _geom;

    public OpenClPool2dPlan(OpenClBackend be, in Pool2dDesc d) : base(d)
    {
        _be = be;
        if (OpenClPlanLimits.Unsupported(d) is string why) throw new NotSupportedException(why);
        int[] g = [d.N, d.C, d.H, d.W, d.KernelH, d.KernelW, d.StrideH, d.StrideW, d.PadH, d.PadW, d.OutH, d.OutW];
        _geom = be.Runtime.CreateBuffer(4 * g.Length, "pool geometry");
        be.Runtime.Write(_geom, 0, MemoryMarshal.AsBytes(g.AsSpan()));
        Implementation = $"opencl:{be.DeviceName}:direct";
    }

    public override string Implementation { get; }
    private bool Max => Desc.Kind == PoolKind.Max;

    protected override void CheckTensor(Tensor? t, string name, string op) => _be.CheckTensor(t, name, op);

    protected override void ForwardKernel(Tensor x, Tensor y)
    {
        var d = Desc;
        _be.Run(OpenClBackend.PoolFile, Max ? "fc_f32_maxpool2d_fwd" : "fc_f32_avgpool2d_fwd", [(long)d.OutH * d.OutW, (long)d.N * d.C], _geom,
            OpenClBackend.Mem(x), OpenClBackend.Mem(y));
    }

    protected override void BackwardKernel(Tensor x, Tensor dy, Tensor dx)
    {
        var d = Desc;
        ClMem px = OpenClBackend.Mem(x), pdy = OpenClBackend.Mem(dy), pdx = OpenClBackend.Mem(dx);
        if (Max) _be.Run(OpenClBackend.PoolFile, "fc_f32_maxpool2d_bwd", [(long)d.H * d.W, (long)d.N * d.C], _geom, px, pdy, pdx);
        else _be.Run(OpenClBackend.PoolFile, "fc_f32_avgpool2d_bwd", [(long)d.H * d.W, (long)d.N * d.C], _geom, pdy, pdx);
    }

    protected override void DisposeCore() => _geom.Dispose();
}
