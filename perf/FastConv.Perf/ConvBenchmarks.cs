using BenchmarkDotNet.Attributes;

namespace FastConv.Perf;

/// <summary>Convolution forward, and forward + backward-data + backward-filter, on every backend; same method names everywhere.</summary>
public class ConvBenchmarks
{
    [ParamsSource(typeof(Suite), nameof(Suite.ConvCases))]
    public string Case { get; set; } = "";

    private IConv2dPlan _plan = null!;
    private Tensor _x = null!, _w = null!, _b = null!, _y = null!, _dy = null!, _dx = null!, _dw = null!, _db = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (be, shape) = Suite.Resolve(Case);
        var d = shape.Conv!.Value;
        _plan = be.CreateConv2d(d);
        _x = Suite.Random(be, d.InputShape, 1); _w = Suite.Random(be, d.WeightShape, 2); _b = Suite.Random(be, d.BiasShape, 3);
        _y = Suite.Random(be, d.OutputShape, 4); _dy = Suite.Random(be, d.OutputShape, 5); _dx = Suite.Random(be, d.InputShape, 6);
        _dw = Suite.Random(be, d.WeightShape, 7); _db = Suite.Random(be, d.BiasShape, 8);
    }

    [Benchmark]
    public void Forward() => _plan.Forward(_x, _w, _b, _y);

    [Benchmark]
    public void ForwardBackward()
    {
        _plan.Forward(_x, _w, _b, _y);
        _plan.BackwardData(_dy, _w, _dx);
        _plan.BackwardFilter(_x, _dy, _dw, _db);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plan.Dispose();
        foreach (var t in new[] { _x, _w, _b, _y, _dy, _dx, _dw, _db }) t.Dispose();
    }
}

public class PoolBenchmarks
{
    [ParamsSource(typeof(Suite), nameof(Suite.PoolCases))]
    public string Case { get; set; } = "";

    private IPool2dPlan _plan = null!;
    private Tensor _x = null!, _y = null!, _dy = null!, _dx = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (be, shape) = Suite.Resolve(Case);
        var d = shape.Pool!.Value;
        _plan = be.CreatePool2d(d);
        _x = Suite.Random(be, d.InputShape, 1); _y = Suite.Random(be, d.OutputShape, 2);
        _dy = Suite.Random(be, d.OutputShape, 3); _dx = Suite.Random(be, d.InputShape, 4);
    }

    [Benchmark]
    public void Forward() => _plan.Forward(_x, _y);

    [Benchmark]
    public void ForwardBackward()
    {
        _plan.Forward(_x, _y);
        _plan.Backward(_x, _dy, _dx);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plan.Dispose();
        foreach (var t in new[] { _x, _y, _dy, _dx }) t.Dispose();
    }
}

/// <summary>
/// Forward on a device backend (OpenCL) counting the transfers: upload x, run, download y. The Forward rows of
/// <see cref="ConvBenchmarks"/> are the same op with every tensor resident on the device (kernel time).
/// </summary>
public class TransferBenchmarks
{
    public static IEnumerable<string> DeviceConvCases() =>
        from b in BackendRegistry.Available where !IsHost(b)
        from s in Suite.Shapes where s.Conv is not null
        select $"{b.Name} {s.Name}";

    private static bool IsHost(IBackend b)
    {
        using var t = b.Allocate([1]);
        return t.IsHost;
    }

    [ParamsSource(nameof(DeviceConvCases))]
    public string Case { get; set; } = "";

    private IConv2dPlan _plan = null!;
    private Tensor _x = null!, _w = null!, _b = null!, _y = null!;
    private float[] _hostX = [], _hostY = [];

    [GlobalSetup]
    public void Setup()
    {
        var (be, shape) = Suite.Resolve(Case);
        var d = shape.Conv!.Value;
        _plan = be.CreateConv2d(d);
        _x = Suite.Random(be, d.InputShape, 1); _w = Suite.Random(be, d.WeightShape, 2); _b = Suite.Random(be, d.BiasShape, 3);
        _y = be.Allocate(d.OutputShape);
        _hostX = _x.ToArray();
        _hostY = new float[_y.Length];
    }

    [Benchmark]
    public void ForwardWithTransfers()
    {
        _x.CopyFrom(_hostX);
        _plan.Forward(_x, _w, _b, _y);
        _y.CopyTo(_hostY);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plan.Dispose();
        foreach (var t in new[] { _x, _w, _b, _y }) t.Dispose();
    }
}
