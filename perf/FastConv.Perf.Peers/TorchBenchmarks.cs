using BenchmarkDotNet.Attributes;
using FastConv.Shapes;
using TorchSharp;
using static TorchSharp.torch;

namespace FastConv.Perf.Peers;

// Inside the namespace, so it wins over FastConv.Tensor.
using Tensor = TorchSharp.torch.Tensor;

/// <summary>Shared set-up for TorchSharp rows: the GLIBCXX fix, one thread count for both libraries, a fixed seed.</summary>
public static class Torch
{
    /// <summary>One training step: zero the gradients, cross-entropy of the model's scores, backward, the optimizer's step.</summary>
    public static float Step(nn.Module<Tensor, Tensor> model, optim.Optimizer opt, Tensor x, Tensor y)
    {
        using var scope = torch.NewDisposeScope();
        opt.zero_grad();
        var loss = nn.functional.cross_entropy(model.call(x), y);
        loss.backward();
        opt.step();
        return loss.item<float>();
    }

    private static bool _ready;

    /// <summary>libtorch's OpenMP pool reads OMP_NUM_THREADS when it starts, and at::set_num_threads only sets the
    /// calling thread's OpenMP count: both are set, natively (Environment.SetEnvironmentVariable does not reach getenv).</summary>
    public static void Init()
    {
        if (_ready) return;
        LibTorchCompat.Apply();
        string n = Parallelism.Threads.ToString();
        PerfRunner.SetNativeEnvironment("OMP_NUM_THREADS", n);
        PerfRunner.SetNativeEnvironment("MKL_NUM_THREADS", n);
        torch.set_num_threads(Parallelism.Threads);
        torch.manual_seed(1);
        _ready = true;
    }

    public static Tensor Rand(params long[] shape) => torch.rand(shape, ScalarType.Float32);
}

/// <summary>TorchSharp's conv2d (oneDNN on CPU) on the suite's shapes; method names match <see cref="ConvBenchmarks"/>.</summary>
public class TorchConvBenchmarks
{
    public static IEnumerable<string> Cases() => Suite.Shapes.Where(s => s.Conv is not null).Select(s => $"torchsharp {s.Name}");

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    private Conv2dDesc _d;
    private Tensor _x = null!, _w = null!, _b = null!, _dy = null!;
    private long[] _stride = [], _pad = [], _dil = [];

    [GlobalSetup]
    public void Setup()
    {
        Torch.Init();
        _d = Suite.Shape(Case).Conv!.Value;
        _x = Torch.Rand(_d.N, _d.C, _d.H, _d.W).requires_grad_(true);
        _w = Torch.Rand(_d.K, _d.C, _d.R, _d.S).requires_grad_(true);
        _b = Torch.Rand(_d.K).requires_grad_(true);
        _dy = Torch.Rand(_d.N, _d.K, _d.OutH, _d.OutW);
        _stride = [_d.StrideH, _d.StrideW]; _pad = [_d.PadH, _d.PadW]; _dil = [_d.DilationH, _d.DilationW];
    }

    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        nn.functional.conv2d(_x, _w, _b, _stride, _pad, _dil);
    }

    /// <summary>Forward, then dx, dw and db (autograd.grad: gradients returned, not accumulated).</summary>
    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        var y = nn.functional.conv2d(_x, _w, _b, _stride, _pad, _dil);
        torch.autograd.grad([y], [_x, _w, _b], [_dy]);
    }

    [GlobalCleanup]
    public void Cleanup() { foreach (var t in new[] { _x, _w, _b, _dy }) t.Dispose(); }
}

/// <summary>TorchSharp's max/avg pooling on the suite's shapes; method names match <see cref="PoolBenchmarks"/>.</summary>
public class TorchPoolBenchmarks
{
    public static IEnumerable<string> Cases() => Suite.Shapes.Where(s => s.Pool is not null).Select(s => $"torchsharp {s.Name}");

    [ParamsSource(nameof(Cases))]
    public string Case { get; set; } = "";

    private Pool2dDesc _d;
    private Tensor _x = null!, _dy = null!;

    [GlobalSetup]
    public void Setup()
    {
        Torch.Init();
        _d = Suite.Shape(Case).Pool!.Value;
        _x = Torch.Rand(_d.N, _d.C, _d.H, _d.W).requires_grad_(true);
        _dy = Torch.Rand(_d.N, _d.C, _d.OutH, _d.OutW);
    }

    private Tensor Pool(Tensor x) => _d.Kind == PoolKind.Max
        ? nn.functional.max_pool2d(x, [_d.KernelH, _d.KernelW], [_d.StrideH, _d.StrideW], [_d.PadH, _d.PadW])
        : nn.functional.avg_pool2d(x, [_d.KernelH, _d.KernelW], [_d.StrideH, _d.StrideW], [_d.PadH, _d.PadW]);

    [Benchmark]
    public void Forward()
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        Pool(_x);
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using var scope = torch.NewDisposeScope();
        torch.autograd.grad([Pool(_x)], [_x], [_dy]);
    }

    [GlobalCleanup]
    public void Cleanup() { _x.Dispose(); _dy.Dispose(); }
}

/// <summary>The same training step as <see cref="TrainStepBenchmarks"/> in TorchSharp: conv16 5x5 – relu – pool – conv32 5x5 – relu – pool – fc10, SGD momentum.</summary>
public class TorchTrainStepBenchmarks
{
    public static IEnumerable<string> Backends() => ["torchsharp"];

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "";

    private nn.Module<Tensor, Tensor> _model = null!;
    private optim.Optimizer _opt = null!;
    private Tensor _x = null!, _y = null!;

    [GlobalSetup]
    public void Setup()
    {
        Torch.Init();
        _model = nn.Sequential(nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Flatten(), nn.Linear(32 * 4 * 4, 10));
        _opt = optim.SGD(_model.parameters(), 0.01, momentum: 0.9);
        _x = Torch.Rand(TrainStepBenchmarks.Batch, 1, 28, 28);
        _y = torch.arange(TrainStepBenchmarks.Batch, ScalarType.Int64) % 10;
    }

    [Benchmark]
    public float TrainStep() => Torch.Step(_model, _opt, _x, _y);

    [GlobalCleanup]
    public void Cleanup() { _model.Dispose(); _x.Dispose(); _y.Dispose(); }
}

/// <summary>The same ResNet-20 step as <see cref="ResNet20StepBenchmarks"/> in TorchSharp: conv3x3 16 (no bias) – bn – relu,
/// 3 stages of 3 basic blocks (16, 32, 64 channels; option A shortcuts: subsample by 2 and zero-pad the channels), global
/// average pool, fc 10; SGD 0.1, momentum 0.9, weight decay 1e-4; batch 128 of 3x32x32.</summary>
public class TorchResNet20StepBenchmarks
{
    public static IEnumerable<string> Backends() => ["torchsharp"];

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "";

    private ResNet20 _model = null!;
    private optim.Optimizer _opt = null!;
    private Tensor _x = null!, _y = null!;

    /// <summary>He et al.'s basic block: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)).</summary>
    private sealed class Basic : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _c1, _b1, _c2, _b2;
        private readonly int _stride, _pad;

        public Basic(int cin, int cout, int stride) : base($"basic{cin}-{cout}")
        {
            _c1 = nn.Conv2d(cin, cout, 3, stride: stride, padding: 1, bias: false); _b1 = nn.BatchNorm2d(cout);
            _c2 = nn.Conv2d(cout, cout, 3, padding: 1, bias: false); _b2 = nn.BatchNorm2d(cout);
            _stride = stride; _pad = cout - cin;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var body = _b2.call(_c2.call(nn.functional.relu(_b1.call(_c1.call(x)))));
            // option A: x[:, :, ::2, ::2] with the new channels zero
            var shortcut = _stride == 1 && _pad == 0 ? x
                : nn.functional.pad(x[.., .., TensorIndex.Slice(null, null, _stride), TensorIndex.Slice(null, null, _stride)], [0, 0, 0, 0, 0, _pad]);
            return nn.functional.relu(body + shortcut);
        }
    }

    private sealed class ResNet20 : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> _stem, _blocks, _fc;

        public ResNet20() : base("resnet20")
        {
            _stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding: 1, bias: false), nn.BatchNorm2d(16), nn.ReLU());
            var blocks = new List<nn.Module<Tensor, Tensor>>();
            int cin = 16;
            foreach (var (cout, stride) in new[] { (16, 1), (32, 2), (64, 2) })
                for (int i = 0; i < 3; i++) { blocks.Add(new Basic(cin, cout, i == 0 ? stride : 1)); cin = cout; }
            _blocks = nn.Sequential(blocks);
            _fc = nn.Linear(64, 10);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => _fc.call(_blocks.call(_stem.call(x)).mean([2, 3]));
    }

    [GlobalSetup]
    public void Setup()
    {
        Torch.Init();
        _model = new ResNet20();
        long count = _model.parameters().Sum(p => p.numel());
        if (count != 269_722) throw new InvalidOperationException($"TorchSharp's ResNet-20 has {count} parameters, expected 269,722.");
        _opt = optim.SGD(_model.parameters(), 0.1, momentum: 0.9, weight_decay: 1e-4);
        _x = Torch.Rand(ResNet20StepBenchmarks.Batch, 3, 32, 32);
        _y = torch.arange(ResNet20StepBenchmarks.Batch, ScalarType.Int64) % 10;
    }

    [Benchmark]
    public float ResNet20Step() => Torch.Step(_model, _opt, _x, _y);

    [GlobalCleanup]
    public void Cleanup() { _model.Dispose(); _x.Dispose(); _y.Dispose(); }
}
