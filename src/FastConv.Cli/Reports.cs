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

    /// <summary>What a mirror-averaged accuracy is, beside the single view's: "" for a plain evaluation.</summary>
    public static string Views(Evaluation ev) => ev.SingleViewAccuracy is double one
        ? $" (each image's scores averaged with its mirror image's; the images alone: {one:P2})" : "";

    public static void Evaluation(Evaluation ev)
    {
        AnsiConsole.MarkupLine($"Test accuracy [bold green]{ev.Accuracy:P2}[/]{Views(ev)}, loss {ev.Loss:0.0000}");
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

    /// <summary>The notes' table (one volume per CONV/POOL/FC layer, weights without biases, receptive field), its
    /// totals and observation, then FastConv's own per-layer table and accounting.</summary>
    public static void Summary(string name, Sequential m, int batch, string format)
    {
        var rows = NotesSummary.Rows(m);
        var df = NotesSummary.ToDataFrame(rows);
        if (format == "csv")
        {
            using var o = new MemoryStream();
            Microsoft.Data.Analysis.DataFrame.SaveCsv(df, o);
            Console.Out.Write(System.Text.Encoding.UTF8.GetString(o.ToArray()));
            return;
        }
        string title = $"{name} at {m.InputShape[2]}x{m.InputShape[1]}x{m.InputShape[0]}, as the notes count it (one volume per CONV/POOL/FC layer, weights without biases)";
        long memory = rows.Sum(r => r.Memory), weights = rows.Sum(r => r.Weights), biases = rows.Sum(r => r.Biases);
        string fieldNote = $"receptive field: input pixels one neuron sees (height x width; at least the {m.InputShape[1]}x{m.InputShape[2]} input = all of it)";
        var totals = new List<string>
        {
            $"TOTAL memory: {memory:N0} values ≈ {Millions(memory)} × 4 bytes = {Decimal(memory * 4)} ({Bytes(memory * 4)}) per image, forward only; " +
            $"≈ {Decimal(memory * 8)} with the gradients of backward (×2, the notes' rule).",
            $"TOTAL params: {weights:N0} weights ≈ {Millions(weights)} ({biases:N0} biases apart: {weights + biases:N0} with them).",
        };
        if (name == "vgg16" && m.InputShape.SequenceEqual([3, 224, 224]))
            totals.Add("The notes print TOTAL memory 24M * 4 bytes ~= 93MB; their own rows, as above, add up to the total shown here " +
                       "(reported as cs231n.github.io issue #88), while the 138M parameters and every row agree.");
        string observation = NotesSummary.Observation(rows);
        var acc = NotesSummary.Accounting(m, 64);
        var fast = FastConvLines(acc, memory, weights);
        if (format == "markdown")
        {
            Console.WriteLine($"### {title}\n");
            Console.WriteLine(Markdown(df));
            foreach (var line in totals.Append(observation)) Console.WriteLine($"\n{line}");
            Console.WriteLine($"\n### FastConv's accounting\n");
            foreach (var line in fast) Console.WriteLine($"- {line}");
            return;
        }
        var t = new Table().Title(Markup.Escape(title)).AddColumns("layer", "volume", "memory", "", "weights", "", "receptive field", "FastConv");
        foreach (int i in new[] { 3, 5 }) t.Columns[i].RightAligned();
        foreach (var r in rows)
            t.AddRow(r.Label, Markup.Escape(r.Volume), r.MemoryFormula, r.Memory.ToString("N0"), r.WeightsFormula, r.Weights.ToString("N0"),
                     $"{r.FieldH}x{r.FieldW}", r.FastConvLayer);
        t.Caption(Markup.Escape(fieldNote));
        AnsiConsole.Write(t);
        foreach (var line in totals) AnsiConsole.WriteLine(line);
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(observation)}[/]");
        AnsiConsole.WriteLine();
        Layers(name, m, batch);
        var blocks = m.Layers.OfType<Block>().ToList();
        if (blocks.Count > 0)
        {
            AnsiConsole.MarkupLine($"[bold]The blocks[/] ({blocks.Count}; their layers are the rows named block.layer above):");
            foreach (var b in blocks) AnsiConsole.WriteLine($"  {b.Name} ({b.Kind}, {b.Parameters.Sum(p => p.Value.Length):N0} parameters): {b.Describe()}");
        }
        foreach (var line in fast) AnsiConsole.WriteLine(line);
    }

    /// <summary>FastConv's accounting beside the notes', and why the two differ.</summary>
    private static List<string> FastConvLines(FastConvAccounting a, long notesMemory, long notesWeights)
    {
        long p = a.Parameters, act = a.ActivationsPerImage * a.Batch;
        return
        [
            $"Why the numbers differ: the notes count one output volume per CONV/POOL/FC layer and weights only; FastConv counts every " +
            $"tensor a forward pass leaves for backward — the input and each layer's output, each ReLU's too — and the biases.",
            $"Activations: {a.ActivationsPerImage:N0} values per image ({Bytes(a.ActivationsPerImage * 4)}) against the notes' {notesMemory:N0}: " +
            $"+{a.ReluOutputs:N0} ReLU outputs{(a.ActivationsPerImage - a.ReluOutputs - notesMemory is var rest && rest != 0 ? $", {rest:+#,0;-#,0} others (flatten, dropout, batch norm)" : "")}.",
            $"Parameters: {p:N0} = {p - a.Biases:N0} weights + {a.Biases:N0} biases{(p - a.Biases != notesWeights ? $" (batch-norm scales and shifts: {p - a.Biases - notesWeights:N0})" : "")}, " +
            $"{Bytes(p * 4)}; their gradients as much again; optimizer state: SGD momentum one more copy ({Bytes(p * 4)}), Adam two ({Bytes(p * 8)}).",
            $"A batch of {a.Batch}: activations {a.Batch} × {a.ActivationsPerImage:N0} = {act:N0} values ({Bytes(act * 4)}), {Bytes(act * 8)} with their " +
            $"gradients; with parameters, gradients and Adam's state ({Bytes(p * 16)}) a training step holds about {Bytes(act * 8 + p * 16)}.",
        ];
    }

    /// <summary>Bytes in decimal units, as the notes write MB.</summary>
    private static string Decimal(long b) => b >= 1_000_000 ? $"{b / 1e6:0.0} MB" : $"{b / 1e3:0.0} kB";

    private static string Millions(long v) => v >= 1_000_000 ? $"{v / 1e6:0.0}M" : v >= 1000 ? $"{v / 1e3:0.0}K" : $"{v}";

    /// <summary>A DataFrame as a GitHub markdown table.</summary>
    internal static string Markdown(Microsoft.Data.Analysis.DataFrame df)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", df.Columns.Select(c => c.Name)) + " |");
        sb.AppendLine("|" + string.Join("|", df.Columns.Select(c => c is Microsoft.Data.Analysis.StringDataFrameColumn ? "---" : "---:")) + "|");
        foreach (var row in df.Rows)
            sb.AppendLine("| " + string.Join(" | ", row.Select(v => v is long l ? l.ToString("N0") : v?.ToString() ?? "")) + " |");
        return sb.ToString().TrimEnd();
    }

    /// <summary>FastConv's per-layer table: every layer, its output shape, activations, parameters (biases included) and FLOPs.</summary>
    private static void Layers(string name, Sequential m, int batch)
    {
        var rows = m.Summarize(batch);
        var t = new Table().Title(Markup.Escape($"FastConv's own accounting: every layer of {name}, input [{batch}, {string.Join(", ", m.InputShape)}]"))
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
        AnsiConsole.Write(t);
    }

    /// <summary>One convolution worked through as the notes do: the output-size formula, parameters with and
    /// without sharing, the im2col matrices, the receptive field, and whether the hyper-parameters tile the input.</summary>
    public static void Shape(Conv2dDesc d, string understood)
    {
        AnsiConsole.MarkupLine(Markup.Escape(understood));
        AnsiConsole.MarkupLine(Markup.Escape($"{d.K} filters F = {d.R}, stride S = {d.StrideH}, zero padding P = {d.PadH}, batch {d.N}"));
        string Worked(string axis, int w, int f, int pad, int st, int o) =>
            $"output {axis} ({(axis == "height" ? "H" : "W")} - F + 2P)/S + 1 = ({w} - {f} + 2*{pad})/{st} + 1 = {w - f + 2 * pad}/{st} + 1 = {o}" +
            ((w - f + 2 * pad) % st != 0 ? $" (floored: {w - f + 2 * pad}/{st} = {(w - f + 2 * pad) / (double)st:0.###})" : "");
        if (d.H == d.W && d.R == d.S) AnsiConsole.MarkupLine(Markup.Escape(Worked("width and height", d.W, d.S, d.PadW, d.StrideW, d.OutW)));
        else
        {
            AnsiConsole.MarkupLine(Markup.Escape(Worked("width", d.W, d.S, d.PadW, d.StrideW, d.OutW)));
            AnsiConsole.MarkupLine(Markup.Escape(Worked("height", d.H, d.R, d.PadH, d.StrideH, d.OutH)));
        }
        long neurons = (long)d.OutW * d.OutH * d.K, fan = (long)d.R * d.S * d.C;
        AnsiConsole.MarkupLine(Markup.Escape($"output volume {d.OutW}x{d.OutH}x{d.K} (W x H x D; FastConv's [N, K, OH, OW] = [{d.N}, {d.K}, {d.OutH}, {d.OutW}]): {neurons:N0} neurons"));
        AnsiConsole.MarkupLine(Markup.Escape($"parameters with sharing (one filter per depth slice): K*(F*F*D) + K = {d.K}*({d.R}*{d.S}*{d.C}) + {d.K} = " +
                                             $"{d.WeightElements:N0} weights + {d.K} biases = {d.ParameterCount:N0}"));
        AnsiConsole.MarkupLine(Markup.Escape($"parameters without sharing (every neuron its own weights): {d.OutW}*{d.OutH}*{d.K} neurons * ({d.R}*{d.S}*{d.C} + 1) = " +
                                             $"{neurons * (fan + 1):N0} ({neurons * (fan + 1) / (double)d.ParameterCount:N0}x as many)"));
        long cols = (long)d.OutH * d.OutW, colElems = fan * cols, inElems = (long)d.C * d.H * d.W;
        AnsiConsole.MarkupLine(Markup.Escape($"im2col: X_col [{fan} x {cols}] (one {d.R}x{d.S}x{d.C} column per output position: {colElems:N0} values, " +
                                             $"{colElems / (double)inElems:0.0}x the input's {inElems:N0}); W_row [{d.K} x {fan}]; " +
                                             $"W_row · X_col = [{d.K} x {fan}]·[{fan} x {cols}] = [{d.K} x {cols}], reshaped to {d.OutW}x{d.OutH}x{d.K}"));
        AnsiConsole.MarkupLine(Markup.Escape($"receptive field: each output neuron sees {d.R}x{d.S}x{d.C} of the input; neighbouring outputs are {d.StrideH} pixel(s) apart"));
        AnsiConsole.MarkupLine(Markup.Escape($"{d.Flops / 1e6:N1} MFLOPs forward (2*N*K*C*R*S*OH*OW)"));
        int remH = (d.H + 2 * d.PadH - d.R) % d.StrideH, remW = (d.W + 2 * d.PadW - d.S) % d.StrideW;
        if (remH == 0 && remW == 0)
        {
            AnsiConsole.MarkupLine("[green]tiles evenly[/]: (W - F + 2P) is a multiple of S, the windows reach the far edge");
            return;
        }
        // The last remW columns (remH rows) of the padded input lie beyond the last window; padding covers some of them.
        int lostW = Math.Max(0, remW - d.PadW), lostH = Math.Max(0, remH - d.PadH);
        long unseen = (long)lostW * d.H + (long)lostH * d.W - (long)lostW * lostH;
        AnsiConsole.MarkupLine(Markup.Escape(
            $"does not tile evenly: (W - F + 2P)/S is not an integer ({(remW != 0 ? $"width {d.W - d.S + 2 * d.PadW}/{d.StrideW}" : "")}" +
            $"{(remW != 0 && remH != 0 ? ", " : "")}{(remH != 0 ? $"height {d.H - d.R + 2 * d.PadH}/{d.StrideH}" : "")}); the notes call these hyperparameters " +
            $"invalid, FastConv floors like PyTorch: the last {remW} column(s) and {remH} row(s) of the padded input are never under a window, " +
            (unseen > 0 ? $"{lostW} column(s) and {lostH} row(s) of real pixels: {unseen:N0} pixels per channel left unseen"
                        : "all of them padding: no real pixel is left unseen")));
    }

    /// <summary>A chain of layers from a spec: each layer's volume, the formula, its receptive field, and what stacks of
    /// small stride-1 convolutions buy (three 3x3 see 7x7 with 27C² weights against 49C²).</summary>
    public static void Chain(Sequential m, string understood)
    {
        AnsiConsole.MarkupLine(Markup.Escape(understood));
        var t = new Table().Title("The chain, layer by layer").AddColumns("layer", "", "output volume", "size", "receptive field", "weights");
        t.Columns[5].RightAligned();
        var field = new NotesSummary.Field();
        int[] shape = [1, .. m.InputShape];
        var runs = new List<List<Conv2d>>();
        var run = new List<Conv2d>();
        foreach (var l in m.Layers)
        {
            int[] o = l.OutputShape(shape);
            field.Through(l, shape);
            string formula = l switch
            {
                Conv2d c => $"({shape[3]} - {c.KernelSize} + 2*{c.Padding})/{c.Stride} + 1 = {o[3]}",
                Pool2dLayer p => $"({shape[3]} - {p.KernelSize} + 2*{p.Padding})/{p.Stride} + 1 = {o[3]}",
                _ => "",
            };
            if (l is Conv2d cv && cv.Stride == 1) run.Add(cv);
            else if (l is not (ReLU or BatchNorm2d)) { if (run.Count > 1) runs.Add(run); run = []; }
            string vol = o.Length == 4 ? $"{o[3]}x{o[2]}x{o[1]}" : $"1x1x{o[1]}";
            long w = l.Parameters.FirstOrDefault(p => p.Name.EndsWith(".weight", StringComparison.Ordinal))?.Value.Length ?? 0;
            t.AddRow(l.Name, Markup.Escape(l.Describe()), vol, formula, $"{field.H}x{field.W}", w == 0 ? "" : w.ToString("N0"));
            shape = o;
        }
        if (run.Count > 1) runs.Add(run);
        AnsiConsole.Write(t);
        foreach (var r in runs)
        {
            int seen = 1 + r.Sum(c => c.KernelSize - 1), coef = r.Sum(c => c.KernelSize * c.KernelSize), c2 = r[^1].OutChannels;
            string sizes = r.All(c => c.KernelSize == r[0].KernelSize) ? $"{r.Count}*({r[0].KernelSize}*{r[0].KernelSize})" : string.Join(" + ", r.Select(c => $"{c.KernelSize}*{c.KernelSize}"));
            long cc = (long)c2 * c2;
            AnsiConsole.MarkupLine(Markup.Escape(
                $"{r[0].Name}..{r[^1].Name}: {r.Count} stacked stride-1 convolutions see {seen}x{seen} of their input with {sizes}*C² = {coef}C² weights " +
                $"(C = {c2}: {coef * cc:N0}), against {seen * seen}C² ({seen * seen * cc:N0}) for one {seen}x{seen} layer: " +
                $"{100.0 * (seen * seen - coef) / (seen * seen):0}% fewer, and {r.Count} non-linearities instead of 1."));
        }
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
