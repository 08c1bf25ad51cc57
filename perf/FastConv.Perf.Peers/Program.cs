using FastConv.Perf;
using FastConv.Perf.Peers;

// FastConv beside TorchSharp: [--quick] [--threads N] [--isa avx2|avx512] [BenchmarkDotNet arguments]. Same shapes, same
// thread count, same ISA (TargetIsa: FASTCONV_ISA, ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY, DOTNET_EnableAVX512), one run.
foreach (var note in LibTorchCompat.Apply()) Console.WriteLine($"  {note}");
var (summaries, code) = PerfRunner.Run(args,
    typeof(ConvBenchmarks), typeof(PoolBenchmarks), typeof(TrainStepBenchmarks), typeof(ResNet20StepBenchmarks),
    typeof(TorchConvBenchmarks), typeof(TorchPoolBenchmarks), typeof(TorchTrainStepBenchmarks), typeof(TorchResNet20StepBenchmarks));
if (summaries.Length > 0) Ratios.Print(summaries, PerfRunner.Threads);
return code;
