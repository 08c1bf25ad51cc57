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
        var @case = (string)bc.Parameters["Case"];
        var (_, shape) = Suite.Resolve(@case);
        bool both = bc.Descriptor.WorkloadMethod.Name == "ForwardBackward";
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

/// <summary>GFLOP/s for convolutions, GB/s for pools, from the median time.</summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => "Throughput";
    public string ColumnName => "GFLOP/s|GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Convolutions: GFLOP/s (2·N·K·C·R·S·OH·OW per forward, 3× for forward+backward). Pools: GB/s moved. From the median.";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase bc) => GetValue(summary, bc, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase bc, SummaryStyle style)
    {
        var rate = Work.Rate(summary, bc);
        return rate is null ? "-" : $"{rate:F1} {(Work.Of(bc).IsFlops ? "GFLOP/s" : "GB/s")}";
    }
}

/// <summary>The throughput as a fraction of the peak the suite measured on this machine at the same thread count.</summary>
public sealed class PeakFractionColumn : IColumn
{
    public string Id => "PeakFraction";
    public string ColumnName => "% of peak";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 1;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Against the FMA peak (convolutions) or copy bandwidth (pools) measured at startup with the same thread count.";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase bc) => GetValue(summary, bc, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase bc, SummaryStyle style)
    {
        var rate = Work.Rate(summary, bc);
        if (rate is null) return "-";
        double peak = Work.Of(bc).IsFlops ? MachinePeak.FmaGflops : MachinePeak.BandwidthGBs;
        return $"{rate / peak:P1}";
    }
}
