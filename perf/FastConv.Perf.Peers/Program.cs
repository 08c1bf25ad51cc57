using FastConv.Perf;
using FastConv.Perf.Peers;

// FastConv beside TorchSharp: [--quick] [--threads N] [BenchmarkDotNet arguments]. Same shapes, same thread count, one run.
foreach (var note in LibTorchCompat.Apply()) Console.WriteLine($"  {note}");
var (summaries, code) = PerfRunner.Run(args,
    typeof(ConvBenchmarks), typeof(PoolBenchmarks), typeof(TrainStepBenchmarks),
    typeof(TorchConvBenchmarks), typeof(TorchPoolBenchmarks), typeof(TorchTrainStepBenchmarks));
if (summaries.Length > 0) Ratios.Print(summaries, PerfRunner.Threads);
return code;
