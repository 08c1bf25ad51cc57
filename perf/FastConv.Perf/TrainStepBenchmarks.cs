using BenchmarkDotNet.Attributes;
using FastConv.Nn;

namespace FastConv.Perf;

/// <summary>
/// One SGD-momentum training step of the small CNN on a batch of 64 Fashion-MNIST-sized images:
/// conv 16 5x5 – relu – pool 2 – conv 32 5x5 – relu – pool 2 – fc 10, softmax cross-entropy
/// (the same network as perf/FastConv.Perf.Peers runs through TorchSharp).
/// </summary>
public class TrainStepBenchmarks
{
    public const int Batch = 64;

    public static IEnumerable<string> Backends() =>
        BackendRegistry.Available.Where(b => b.Name != "reference" || StepFlops <= Suite.ReferenceMaxFlops).Select(b => b.Name);

    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "";

    private StepRig _rig = null!;

    /// <summary>ModelZoo's "small-cnn" (so `fastconv bench --model small-cnn` times the same step op by op).</summary>
    public static Sequential Network(IBackend be) => ModelZoo.Create("small-cnn", be, [1, 28, 28], 10, seed: 1, initialize: false);

    /// <summary>FLOPs of one step (<see cref="Sequential.TrainingStepFlops"/>).</summary>
    public static double StepFlops { get; } = StepFlopsOf();

    private static double StepFlopsOf()
    {
        using var m = Network(BackendRegistry.Get("reference"));
        return m.TrainingStepFlops(Batch);
    }

    [GlobalSetup]
    public void Setup() => _rig = new StepRig(BackendRegistry.Get(Backend), Network(BackendRegistry.Get(Backend)), Batch, 0.01f);

    [Benchmark]
    public float TrainStep() => _rig.Step();

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();
}
