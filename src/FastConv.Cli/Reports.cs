using FastConv.Nn;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>Spectre.Console tables for the commands' results.</summary>
internal static class Reports
{
    public static void History(IReadOnlyList<EpochMetrics> history, int bestEpoch)
    {
        var t = new Table().Title("Training run").AddColumns("epoch", "lr", "train loss", "train acc", "val loss", "val acc", "seconds", "images/s");
        foreach (var c in t.Columns.Skip(1)) c.RightAligned();
        foreach (var m in history)
            t.AddRow((m.Epoch == bestEpoch ? $"[bold]{m.Epoch}*[/]" : m.Epoch.ToString()), m.LearningRate.ToString("g3"), m.TrainLoss.ToString("0.0000"),
                m.TrainAccuracy.ToString("P2"), m.ValidationLoss.ToString("0.0000"), m.ValidationAccuracy.ToString("P2"),
                m.Seconds.ToString("0.0"), m.ImagesPerSecond.ToString("N0"));
        t.Caption("* best validation accuracy: best.ckpt");
        AnsiConsole.Write(t);
    }

    public static void Evaluation(Evaluation ev)
    {
        AnsiConsole.MarkupLine($"Test accuracy [bold green]{ev.Accuracy:P2}[/], loss {ev.Loss:0.0000}");
        int k = ev.ClassNames.Count;
        var cm = new Table().Title("Confusion matrix (rows: true class, columns: predicted)").AddColumn("true \\ predicted");
        for (int j = 0; j < k; j++) cm.AddColumn(new TableColumn(j.ToString()).RightAligned());
        for (int i = 0; i < k; i++)
        {
            var row = new List<string> { $"{i} {Markup.Escape(ev.ClassNames[i])}" };
            for (int j = 0; j < k; j++) row.Add(i == j ? $"[green]{ev.Confusion[i, j]}[/]" : ev.Confusion[i, j].ToString());
            cm.AddRow(row.ToArray());
        }
        AnsiConsole.Write(cm);
        var pc = new Table().Title("Per-class accuracy").AddColumns("class", "accuracy", "images");
        var acc = ev.PerClassAccuracy();
        for (int i = 0; i < k; i++)
        {
            int n = 0;
            for (int j = 0; j < k; j++) n += ev.Confusion[i, j];
            pc.AddRow(Markup.Escape(ev.ClassNames[i]), double.IsNaN(acc[i]) ? "-" : acc[i].ToString("P2"), n.ToString());
        }
        AnsiConsole.Write(pc);
    }

    public static void Summary(string name, Sequential m, int batch)
    {
        var rows = m.Summarize(batch);
        var t = new Table().Title(Markup.Escape($"{name}, input [{batch}, {string.Join(", ", m.InputShape)}]"))
            .AddColumns("layer", "kind", "", "output", "activations", "memory", "parameters", "MFLOPs");
        foreach (var c in t.Columns.Skip(4)) c.RightAligned();
        long act = m.InputShape.Aggregate(1L, (a, b) => a * b) * batch;
        t.AddRow("input", "", "", Markup.Escape($"[{batch}, {string.Join(", ", m.InputShape)}]"), act.ToString("N0"), Bytes(act * 4), "", "");
        foreach (var r in rows)
        {
            act += r.Activations;
            t.AddRow(r.Name, r.Kind, Markup.Escape(r.Description), Markup.Escape($"[{string.Join(", ", r.OutputShape)}]"), r.Activations.ToString("N0"),
                Bytes(r.Activations * 4), r.Parameters == 0 ? "" : r.Parameters.ToString("N0"), r.Flops == 0 ? "" : (r.Flops / 1e6).ToString("N1"));
        }
        long parms = rows.Sum(r => r.Parameters), flops = rows.Sum(r => r.Flops);
        t.AddRow("[bold]total[/]", "", "", "", act.ToString("N0"), Bytes(act * 4), $"[bold]{parms:N0}[/]", (flops / 1e6).ToString("N1"));
        t.Caption($"Forward activations {Bytes(act * 4)} per pass (×2 with backward); parameters {Bytes(parms * 4)} (×3 with gradients and momentum).");
        AnsiConsole.Write(t);
    }

    public static void Shape(Conv2dDesc d)
    {
        AnsiConsole.MarkupLine($"input [[{d.N}, {d.C}, {d.H}, {d.W}]], {d.K} filters {d.R}x{d.S}, stride {d.StrideH}, pad {d.PadH}");
        AnsiConsole.MarkupLine($"output height ({d.H} - {d.R} + 2*{d.PadH})/{d.StrideH} + 1 = {d.OutH}; width ({d.W} - {d.S} + 2*{d.PadW})/{d.StrideW} + 1 = {d.OutW}");
        AnsiConsole.MarkupLine($"output [[{d.N}, {d.K}, {d.OutH}, {d.OutW}]]; parameters {d.K}*{d.C}*{d.R}*{d.S} + {d.K} = {d.ParameterCount:N0}; " +
                               $"{d.Flops / 1e6:N1} MFLOPs forward");
        AnsiConsole.MarkupLine(d.TilesEvenly ? "[green]tiles evenly[/]: every input pixel is covered by a window"
            : "[yellow]does not tile evenly[/]: (W − F + 2P) is not a multiple of S, so the last rows/columns of the input are never seen (the output size floors, as in PyTorch)");
    }

    public static void Info()
    {
        var t = new Table().Title("FastConv backends (auto takes the first available)").AddColumns("backend", "available", "notes");
        foreach (var b in BackendRegistry.List())
        {
            string notes = b.IsAvailable ? "a 3x3 conv runs " + Probe(BackendRegistry.Get(b.Name)) : b.Reason ?? "";
            if (b.IsAvailable && BackendRegistry.Get(b.Name) is IAutoChoice { PreferredForAuto: false } ac) notes += "; " + ac.AutoNote;
            if (b.IsAvailable && BackendRegistry.Get(b.Name) is FastConv.Native.NativeBackend nb)
                notes += $"; libfastconv {nb.Version}, ISA {FastConv.Native.NativeBackend.IsaName(nb.NativeIsa)} " +
                         $"(this CPU runs {string.Join(", ", FastConv.Native.NativeBackend.SupportedIsas.Select(FastConv.Native.NativeBackend.IsaName))}; FASTCONV_ISA forces one)";
            t.AddRow(b.Name, b.IsAvailable ? "[green]yes[/]" : "[red]no[/]", Markup.Escape(notes));
        }
        AnsiConsole.Write(t);
        OpenClDevices();
        AnsiConsole.MarkupLine($"auto → [bold]{Markup.Escape(BackendRegistry.Get("auto").Name)}[/]; threads {Parallelism.Threads} " +
                               $"({Environment.ProcessorCount} cores; FASTCONV_THREADS or --threads); verbose per-op log: FASTCONV_VERBOSE=1");
    }

    /// <summary>OpenCL platforms and devices, numbered as FASTCONV_OPENCL_DEVICE takes them.</summary>
    private static void OpenClDevices()
    {
        try
        {
            var devices = FastConv.OpenCL.Cl.OpenClDevices.List();
            if (devices.Count == 0) { AnsiConsole.MarkupLine("OpenCL: no platform or device (install one, e.g. pocl-opencl-icd)."); return; }
            foreach (var d in devices) AnsiConsole.MarkupLine(Markup.Escape($"OpenCL device {d}"));
        }
        catch (Exception e) { AnsiConsole.MarkupLine(Markup.Escape($"OpenCL: {e.Message}")); }
    }

    /// <summary>The implementation a backend picks for a typical 3x3 convolution: shows its ISA and algorithm.</summary>
    private static string Probe(IBackend be)
    {
        using var plan = be.CreateConv2d(new Conv2dDesc(8, 32, 16, 16, 32, 3, 3, stride: 1, padding: 1));
        return plan.Implementation;
    }

    public static void Bench(StepBenchResult r)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(r.Model)}[/], batch {r.Batch}, backend {Markup.Escape(r.Backend)}, {r.Threads} thread(s): " +
            $"training step [bold]{r.MedianMilliseconds:0.00} ms[/] (median of {r.StepMilliseconds.Length}), {r.ImagesPerSecond:N0} images/s, " +
            $"{r.Gflops:0.0} GFLOP/s of {r.StepFlops / 1e6:N0} MFLOP");
        var t = new Table().Title("Ops of one step, slowest first (medians; FASTCONV_VERBOSE timings)").AddColumns("ms", "% of step", "op", "implementation", "shape");
        t.Columns[0].RightAligned(); t.Columns[1].RightAligned();
        foreach (var o in r.Ops)
            t.AddRow((o.Milliseconds * o.PerStep).ToString("0.000"), (o.Milliseconds * o.PerStep / r.MedianMilliseconds).ToString("P1"),
                     o.Op + (o.PerStep > 1 ? $" ×{o.PerStep}" : ""), Markup.Escape(o.Implementation), Markup.Escape(o.Shape));
        AnsiConsole.Write(t);
    }

    private static string Bytes(long b) => b switch
    {
        >= 1L << 30 => $"{b / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{b / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{b / 1024.0:0.0} KiB",
        _ => $"{b} B",
    };
}
