using System.Runtime.InteropServices;
using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>
/// A planned convolution on the device: its geometry in a small constant buffer, the weights of backward-data as a
/// forward convolution (stride 1) and the per-split partial products of backward-filter in buffers sized once.
/// Forward and backward-filter are tiled implicit GEMMs (64x64 work-group tiles of 4x4 per work-item); backward-data
/// of a stride-1, dilation-1 convolution runs the forward kernel on dy with flipped weights, any other the gather kernel.
/// </summary>
internal sealed class OpenClConv2dPlan : IConv2dPlan
{
    private readonly OpenClBackend _be;
    private readonly ClMem _geom, _geomBack;
    private readonly ClMem? _flipped;
    private readonly ClMem _dummy;
    private readonly int _splits, _perSplit;
    private ClMem? _partial;
    private readonly bool _flipPath;

    public OpenClConv2dPlan(OpenClBackend be, in Conv2dDesc d)
    {
        _be = be;
        Desc = d;
        var rt = be.Runtime;
        _geom = Geometry(rt, [d.C, d.H, d.W, d.K, d.R, d.S, d.StrideH, d.StrideW, d.PadH, d.PadW, d.DilationH, d.DilationW, d.OutH, d.OutW]);
        _flipPath = d.StrideH == 1 && d.StrideW == 1 && d.DilationH == 1 && d.DilationW == 1 && d.PadH <= d.R - 1 && d.PadW <= d.S - 1;
        // backward-data as a forward convolution: input dy (K channels, OH x OW), output dx (C channels, H x W), padding R-1-p
        _geomBack = Geometry(rt, [d.K, d.OutH, d.OutW, d.C, d.R, d.S, 1, 1, d.R - 1 - d.PadH, d.S - 1 - d.PadW, 1, 1, d.H, d.W]);
        if (_flipPath) _flipped = rt.CreateBuffer(4 * d.WeightElements, "flipped weights");
        _dummy = rt.CreateBuffer(4, "no bias");
        long q = (long)d.N * d.OutH * d.OutW;
        long tiles = (d.K + OpenClBackend.Tile - 1) / OpenClBackend.Tile * ((d.ReductionLength + OpenClBackend.Tile - 1) / OpenClBackend.Tile);
        // enough work-groups for the device (split-K), each split at least a few hundred reduction steps
        _splits = (int)Math.Clamp(Math.Min(be.Device.ComputeUnits * 4 / Math.Max(tiles, 1), q / 256), 1, 64);
        _perSplit = (int)((q + _splits - 1) / _splits + 15) / 16 * 16;
        _splits = (int)((q + _perSplit - 1) / _perSplit);
        Implementation = $"opencl:{be.DeviceName}:im2col-gemm-64x64";
    }

    private static ClMem Geometry(ClRuntime rt, int[] values)
    {
        var m = rt.CreateBuffer(4 * values.Length, "conv geometry");
        rt.Write(m, 0, MemoryMarshal.AsBytes(values.AsSpan()));
        return m;
    }

    public Conv2dDesc Desc { get; }
    public string Implementation { get; }

    private ClKernel K(string name) => _be.Runtime.Kernel(OpenClBackend.ConvFile, name, OpenClBackend.TileOptions);

    private void RunForward(ClMem geom, ClMem x, ClMem w, ClMem? bias, bool relu, ClMem y, int n, int k, long p)
    {
        int t = OpenClBackend.Tile, th = OpenClBackend.TileThreads;
        _be.Runtime.Run(K("fc_f32_conv2d_fwd"), [(p + t - 1) / t * th, (k + t - 1) / t * th, n], [th, th, 1],
            geom, x, w, bias ?? _dummy, bias is not null, relu, y);
    }

    public void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        const string op = "Conv2d.Forward";
        var d = Desc;
        var px = _be.Buf(x, nameof(x), d.InputShape, op);
        var pw = _be.Buf(w, nameof(w), d.WeightShape, op);
        var pb = bias is null ? null : _be.Buf(bias, nameof(bias), d.BiasShape, op);
        var py = _be.Buf(y, nameof(y), d.OutputShape, op);
        using var verbose = Verbose.Op(Implementation, "conv2d_fwd", d);
        RunForward(_geom, px, pw, pb, d.Activation == Activation.Relu, py, d.N, d.K, (long)d.OutH * d.OutW);
    }

    public void BackwardData(Tensor dy, Tensor w, Tensor dx)
    {
        const string op = "Conv2d.BackwardData";
        var d = Desc;
        var pdy = _be.Buf(dy, nameof(dy), d.OutputShape, op);
        var pw = _be.Buf(w, nameof(w), d.WeightShape, op);
        var pdx = _be.Buf(dx, nameof(dx), d.InputShape, op);
        using var verbose = Verbose.Op(Implementation, "conv2d_bwd_data", d);
        if (_flipPath)
        {
            _be.Runtime.Run(K("fc_f32_conv2d_flip_weights"), [d.WeightElements], [], _geom, pw, _flipped!);
            RunForward(_geomBack, pdy, _flipped!, null, false, pdx, d.N, d.C, (long)d.H * d.W);
        }
        else
            _be.Runtime.Run(K("fc_f32_conv2d_bwd_data"), [(long)d.H * d.W, (long)d.C * d.N], [], _geom, pdy, pw, pdx);
    }

    public void BackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias)
    {
        const string op = "Conv2d.BackwardFilter";
        var d = Desc;
        var px = _be.Buf(x, nameof(x), d.InputShape, op);
        var pdy = _be.Buf(dy, nameof(dy), d.OutputShape, op);
        var pdw = _be.Buf(dw, nameof(dw), d.WeightShape, op);
        var pdb = dbias is null ? null : _be.Buf(dbias, nameof(dbias), d.BiasShape, op);
        using var verbose = Verbose.Op(Implementation, "conv2d_bwd_filter", d);
        int t = OpenClBackend.Tile, th = OpenClBackend.TileThreads;
        long kd = d.ReductionLength;
        _partial ??= _be.Runtime.CreateBuffer(4L * _splits * d.K * kd, "backward-filter partial sums");
        _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter"), [(kd + t - 1) / t * th, (d.K + t - 1) / t * th, _splits], [th, th, 1],
            _geom, d.N, _perSplit, px, pdy, _partial);
        _be.Runtime.Run(K("fc_f32_conv2d_bwd_filter_reduce"), [d.WeightElements], [], (int)d.WeightElements, _splits, _partial, pdw);
        if (pdb is not null)
            _be.Run(OpenClBackend.EltwiseFile, "fc_f32_bias_add_bwd", [d.K], d.N, d.K, (long)d.OutH * d.OutW, pdy, pdb);
    }

    public void Dispose()
    {
        _geom.Dispose(); _geomBack.Dispose(); _flipped?.Dispose(); _dummy.Dispose(); _partial?.Dispose();
    }
}

/// <summary>Pooling on the device: one work-item per output (forward) or per input element (backward, a gather).</summary>
internal sealed class OpenClPool2dPlan : IPool2dPlan
{
    private readonly OpenClBackend _be;
    private readonly ClMem _geom;

    public OpenClPool2dPlan(OpenClBackend be, in Pool2dDesc d)
    {
        _be = be;
        Desc = d;
        int[] g = [d.N, d.C, d.H, d.W, d.KernelH, d.KernelW, d.StrideH, d.StrideW, d.PadH, d.PadW, d.OutH, d.OutW];
        _geom = be.Runtime.CreateBuffer(4 * g.Length, "pool geometry");
        be.Runtime.Write(_geom, 0, MemoryMarshal.AsBytes(g.AsSpan()));
        Implementation = $"opencl:{be.DeviceName}:direct";
    }

    public Pool2dDesc Desc { get; }
    public string Implementation { get; }
    private bool Max => Desc.Kind == PoolKind.Max;

    public void Forward(Tensor x, Tensor y)
    {
        var d = Desc;
        var px = _be.Buf(x, nameof(x), d.InputShape, "Pool2d.Forward");
        var py = _be.Buf(y, nameof(y), d.OutputShape, "Pool2d.Forward");
        using var verbose = Verbose.Op(Implementation, Max ? "maxpool2d_fwd" : "avgpool2d_fwd", d);
        _be.Run(OpenClBackend.PoolFile, Max ? "fc_f32_maxpool2d_fwd" : "fc_f32_avgpool2d_fwd", [(long)d.OutH * d.OutW, (long)d.N * d.C], _geom, px, py);
    }

    public void Backward(Tensor x, Tensor dy, Tensor dx)
    {
        var d = Desc;
        var px = _be.Buf(x, nameof(x), d.InputShape, "Pool2d.Backward");
        var pdy = _be.Buf(dy, nameof(dy), d.OutputShape, "Pool2d.Backward");
        var pdx = _be.Buf(dx, nameof(dx), d.InputShape, "Pool2d.Backward");
        using var verbose = Verbose.Op(Implementation, Max ? "maxpool2d_bwd" : "avgpool2d_bwd", d);
        if (Max) _be.Run(OpenClBackend.PoolFile, "fc_f32_maxpool2d_bwd", [(long)d.H * d.W, (long)d.N * d.C], _geom, px, pdy, pdx);
        else _be.Run(OpenClBackend.PoolFile, "fc_f32_avgpool2d_bwd", [(long)d.H * d.W, (long)d.N * d.C], _geom, pdy, pdx);
    }

    public void Dispose() => _geom.Dispose();
}
