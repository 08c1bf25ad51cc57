using BenchmarkDotNet.Attributes;
using FastConv.Nn;

namespace FastConv.Perf;

/// <summary>
/// The realistic workload: one SGD-momentum training step of ResNet-20 (He et al. 2015 §4.2, ModelZoo's "resnet20":
/// 19 convolutions without bias, batch norm, option-A shortcuts, residual adds, global average pool, fc 10) on a batch
/// of 128 CIFAR-sized 3x32x32 images, softmax cross-entropy, weight decay 1e-4 (the same network as
/// perf/FastConv.Perf.Peers builds in TorchSharp).
/// </summary>
public class ResNet20StepBenchmarks
{
    public const int Batch = 128;

    public static IEnumerable<string> Backends() =>
        BackendRegistry.Available.Where(b => b.Name != "reference" || StepFlops <= Suite.ReferenceMaxFlops).Select(b => b.Name);

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "";

    private StepRig _rig = null!;

    public static Sequential Network(IBackend be) => ModelZoo.Create("resnet20", be, [3, 32, 32], 10, seed: 1, initialize: false);

    /// <summary>FLOPs of one step (<see cref="Sequential.TrainingStepFlops"/>: the convolutions and the fc, forward and both backward passes).</summary>
    public static double StepFlops { get; } = StepFlopsOf();

    private static double StepFlopsOf()
    {
        using var m = Network(BackendRegistry.Get("reference"));
        return m.TrainingStepFlops(Batch);
    }

    [GlobalSetup]
    public void Setup() => _rig = new StepRig(BackendRegistry.Get(Backend), Network(BackendRegistry.Get(Backend)), Batch, 0.1f, weightDecay: 1e-4f);

    [Benchmark]
    public float ResNet20Step() => _rig.Step();

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();
}
