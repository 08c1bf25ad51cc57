using FastConv.Perf;
using FastConv.Perf.Peers;

// FastConv beside TorchSharp: [--quick] [--threads N] [--isa avx2|avx512] [--paired N] [BenchmarkDotNet arguments]. Same
// shapes, same thread count, same ISA (TargetIsa: FASTCONV_ISA, ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY,
// DOTNET_EnableAVX512), one run. --paired N: the ResNet-20 step only, the two libraries in turns (Paired).
foreach (var note in LibTorchCompat.Apply()) Console.WriteLine($"  {note}");
var rest = args.ToList();
if (Paired.Take(rest) is { } pairs)
{
    if (pairs == 0) { Console.Error.WriteLine("--paired needs a positive number of pairs"); return 2; }
    // the whole command line, so that a relaunch for the ISA passes --paired on
    var (bdnArgs, _, prepared) = PerfRunner.Prepare(args);
    if (bdnArgs is null) return prepared;
    Paired.Take(bdnArgs);
    var other = bdnArgs.Where(a => a != "--filter" && a != "*").ToList();
    if (other.Count > 0) { Console.Error.WriteLine($"--paired takes only --threads and --isa, not: {string.Join(' ', other)}"); return 2; }
    return Paired.Run(pairs, PerfRunner.Threads);
}
var (summaries, code) = PerfRunner.Run(args,
    typeof(ConvBenchmarks), typeof(PoolBenchmarks), typeof(TrainStepBenchmarks), typeof(ResNet20StepBenchmarks),
    typeof(TorchConvBenchmarks), typeof(TorchPoolBenchmarks), typeof(TorchTrainStepBenchmarks), typeof(TorchResNet20StepBenchmarks));
if (summaries.Length > 0) Ratios.Print(summaries, PerfRunner.Threads);
return code;
