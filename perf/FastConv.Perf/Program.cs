using FastConv.Perf;

// fastconv perf suite: [--quick] [--threads N] [--isa avx2|avx512] [BenchmarkDotNet arguments, e.g. --filter '*C4*']
return PerfRunner.Run(args, typeof(ConvBenchmarks), typeof(PoolBenchmarks), typeof(TrainStepBenchmarks), typeof(ResNet20StepBenchmarks), typeof(TransferBenchmarks)).ExitCode;
