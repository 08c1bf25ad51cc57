using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FastConv.Perf;

/// <summary>
/// Work per call for a benchmark case: conv FLOPs (2·N·K·C·R·S·OH·OW forward, ×3 with both backward passes)
/// or pool bytes moved (read input + write output; backward adds reading x and dy and writing dx).
/// </summary>
public static class Work
{
    public static (double Amount, bool IsFlops) Of(BenchmarkCase bc)
    {
        if (bc.Descriptor.WorkloadMethod.Name == nameof(TrainStepBenchmarks.TrainStep)) return (TrainStepBenchmarks.StepFlops, true);
        if (bc.Descriptor.WorkloadMethod.Name == nameof(ResNet20StepBenchmarks.ResNet20Step)) return (ResNet20StepBenchmarks.StepFlops, true);
        var @case = (string)bc.Parameters["Case"];
        var shape = Suite.Shape(@case);
        bool both = bc.Descriptor.WorkloadMethod.Name == "ForwardBackward";   // ForwardWithTransfers counts the forward FLOPs
        if (shape.Conv is { } d) return (d.Flops * (both ? 3.0 : 1.0), true);
        var p = shape.Pool!.Value;
        return (both ? p.ForwardBackwardBytes : p.ForwardBytes, false);
    }

    public static double? Rate(Summary summary, BenchmarkCase bc)
    {
        var median = summary[bc]?.ResultStatistics?.Median;
        if (median is null or <= 0) return null;
        return Of(bc).Amount / median.Value;    // per ns = giga per second
    }
}

/// <summary>
/// Throughput from the median time (GFLOP/s for convolutions, GB/s for pools), or, with <c>fractionOfPeak</c>,
/// that throughput as a fraction of the peak the suite measured at startup with the same thread count.
/// </summary>
public sealed class RateColumn(bool fractionOfPeak) : IColumn
{
    public string Id => fractionOfPeak ? "PeakFraction" : "Throughput";
    public string ColumnName => fractionOfPeak ? "% of peak" : "GFLOP/s|GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => fractionOfPeak ? 1 : 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => fractionOfPeak
        ? "Against the FMA peak (convolutions) or copy bandwidth (pools) measured at startup with the same thread count."
        : "Convolutions: GFLOP/s (2·N·K·C·R·S·OH·OW per forward, 3× for forward+backward). Pools: GB/s moved. From the median.";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase bc) => GetValue(summary, bc, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase bc, SummaryStyle style)
    {
        var rate = Work.Rate(summary, bc);
        if (rate is null) return "-";
        bool flops = Work.Of(bc).IsFlops;
        if (!fractionOfPeak) return $"{rate:F1} {(flops ? "GFLOP/s" : "GB/s")}";
        return $"{rate / (flops ? MachinePeak.FmaGflops : MachinePeak.BandwidthGBs):P1}";
    }
}

/// <summary>The ISA every row ran at (<see cref="TargetIsa"/>), "(proxy)" when AVX2 rows come from an AVX-512 CPU; the legend names the CPU.</summary>
public sealed class IsaColumn : IColumn
{
    public string Id => "Isa";
    public string ColumnName => "ISA";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 2;
    public bool IsNumeric => false;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => TargetIsa.Describe();
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase bc) => TargetIsa.Tag;
    public string GetValue(Summary summary, BenchmarkCase bc, SummaryStyle style) => TargetIsa.Tag;
}
