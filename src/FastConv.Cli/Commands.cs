using System.CommandLine;
using System.Globalization;
using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Nn.Onnx;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>The `fastconv` command line: train · eval · summary · shape · info.</summary>
public static class Commands
{
    public static int Run(string[] args)
    {
        var root = new RootCommand("FastConv: convolutional networks on reference, managed, native and OpenCL backends.");
        root.Subcommands.Add(Train());
        root.Subcommands.Add(Eval());
        root.Subcommands.Add(Export());
        root.Subcommands.Add(Summary());
        root.Subcommands.Add(Shape());
        root.Subcommands.Add(Visualize());
        root.Subcommands.Add(Bench());
        root.Subcommands.Add(Info());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One clear line per problem, not the whole help page.
            foreach (var e in parsed.Errors) Error(e.Message);
            var cmd = parsed.CommandResult.Command;
            Console.Error.WriteLine($"See: fastconv {(cmd is RootCommand ? "" : cmd.Name + " ")}--help");
            return 2;
        }
        try
        {
            // Without a terminal (logs, CI) Spectre assumes 80 columns; tables read better wider.
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (IsUserError(e))
        {
            Error(OneLine(e));
            return 1;
        }
    }

    /// <summary>Errors that come from what the user asked for: reported in one line, never a stack trace.</summary>
    internal static bool IsUserError(Exception e) =>
        e is ArgumentException or IOException or UnauthorizedAccessException or CheckpointException or DataFormatException
            or BackendUnavailableException or InvalidOperationException or OperationCanceledException;

    private static void Error(string message) => Console.Error.WriteLine($"fastconv: error: {message}");

    /// <summary>The exception's own message on one line: without the " (Parameter 'x')" and "Actual value was"
    /// lines that ArgumentException and ArgumentOutOfRangeException append for programmers.</summary>
    internal static string OneLine(Exception e)
    {
        string? template = e switch { SettingException s => s.Template, ImageFolderException f => f.Template, _ => null };
        if (template is not null) return SettingException.Render(template, Flag).Split('\n')[0].TrimEnd();
        if (e is ModelSpecException spec) return spec.Message; // three lines: the reason, the spec, a caret under the token
        string m = e.Message.Split('\n')[0].TrimEnd();
        if (e is ArgumentException { ParamName: { } p } && m.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal))
            m = m[..^$" (Parameter '{p}')".Length];
        return m;
    }

    /// <summary>The flag of a settings property (RunSettings, ImageFolderOptions): its name in kebab case ("WeightDecay":
    /// --weight-decay), except where the flag is shorter.</summary>
    internal static string Flag(string property) => property switch
    {
        TrainingRun.OutDirSetting => "--out",
        _ => "--" + string.Concat(property.Select((c, i) => char.IsUpper(c) ? (i > 0 ? "-" : "") + char.ToLowerInvariant(c) : c.ToString())),
    };

    internal static Option<T> Opt<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };

    internal static readonly Option<string> BackendOption = Opt("--backend", "auto, reference, managed, native or opencl (auto: the best available).", "auto");
    internal static readonly Option<int?> ThreadsOption = new("--threads") { Description = "Threads for the kernels (default: FASTCONV_THREADS, else all cores)." };

    internal static IBackend Backend(ParseResult p)
    {
        ApplyThreads(p);
        return BackendRegistry.Get(p.GetValue(BackendOption)!);
    }

    private static void ApplyThreads(ParseResult p)
    {
        if (p.GetValue(ThreadsOption) is int t)
        {
            if (t < 1) throw new ArgumentException($"--threads must be at least 1, got {t}.");
            Parallelism.Threads = t;
        }
    }

    /// <summary>--resume continues on the backend and thread count that trained the run (its checkpoint says which), unless
    /// --backend or --threads (or FASTCONV_THREADS) choose others; null <paramref name="trained"/> (an older checkpoint): the
    /// options as for a new run.</summary>
    private static IBackend ResumeBackend(ParseResult p, string dir, RunExecution? trained)
    {
        if (trained is null) return Backend(p);
        ApplyThreads(p);
        if (p.GetValue(ThreadsOption) is null && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("FASTCONV_THREADS")))
            Parallelism.Threads = trained.Threads;
        if (p.GetResult(BackendOption) is { Implicit: false }) return BackendRegistry.Get(p.GetValue(BackendOption)!);
        try { return BackendRegistry.Get(trained.Backend); }
        catch (Exception e) when (e is BackendUnavailableException or ArgumentException)
        {
            string why = e is ArgumentException { ParamName: { } n } ? e.Message.Replace($" (Parameter '{n}')", "") : e.Message;
            throw new ArgumentException($"--resume {dir} was trained on backend {trained.Backend}, which cannot run here: {why} " +
                                        "Pass --backend to continue on another (the rest of the run will not repeat the original bit for bit).");
        }
    }

    private static Command Train()
    {
        var d = new RunSettings();
        var data = Opt("--data", "fashion-mnist (shipped in data/), cifar10 or folder (both need --data-dir).", d.Data);
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory with the data files (default: the shipped data/fashion-mnist)." };
        var model = Opt("--model", $"Model preset ({string.Join(", ", ModelZoo.Names)}; resnet20 and resnet18 train with the paper's recipe " +
                                   "where the options below are not given) or a spec like \"[conv3-32,relu]*2,pool2,res[conv3-32/nb,bn,relu,conv3-32/nb,bn],gap,fc\".", d.Model);
        var epochs = Opt("--epochs", "Epochs to train (with --resume: the new total).", d.Epochs);
        var lr = new Option<float?>("--lr") { Description = "Base learning rate (default: 0.001 for adam, 0.01 for sgd and nesterov)." };
        var batch = Opt("--batch", "Mini-batch size.", d.Batch);
        var optimizer = Opt("--optimizer", "adam, sgd (momentum) or nesterov.", d.Optimizer);
        var momentum = Opt("--momentum", "Momentum for sgd/nesterov.", d.Momentum);
        var wd = Opt("--weight-decay", "L2 regularisation strength λ (weights only).", d.WeightDecay);
        var schedule = Opt("--schedule", "Learning-rate schedule: cosine, step (×0.1 every third of the run), multistep (×0.1 at half and three quarters: the ResNet paper's; the resnet recipe's default) or constant.", d.Schedule);
        var loss = Opt("--loss", "softmax (cross-entropy) or svm (multiclass hinge).", d.Loss);
        var smoothing = Opt("--label-smoothing", "Label smoothing ε of the softmax loss: each target puts 1 − ε on its class and ε evenly over all classes (0: none).", d.LabelSmoothing);
        var seed = Opt("--seed", "Seed for initialisation, shuffling, dropout and augmentation.", d.Seed);
        var validation = Opt("--validation", "Training examples held out for validation.", d.Validation);
        var limit = Opt("--limit", "Train on only the first N training examples (0: all).", d.Limit);
        var augment = Opt("--augment", "auto (crop-flip for cifar10, none for fashion-mnist), none, flip, crop-flip, erase or flip-erase (random erasing, p 0.5).", d.Augment);
        var tta = Opt("--tta", "Test-time augmentation of validation and test: flip (each image's scores averaged with its mirror image's), none, " +
                               "or auto (flip when training flips images).", d.Tta);
        var outDir = new Option<string?>("--out") { Description = "Run folder (default: runs/<model>-<time>). Refuses one that holds a finished epoch; reuses one a run killed before it left." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last finished epoch (last.ckpt), repairing what a kill left." };
        var distributed = new Option<bool>("--distributed") { Description = DistributedTrain.Help, DefaultValueFactory = _ => Nn.Distributed.MpiCommunicator.LaunchedByMpi() };
        var cmd = new Command("train", "Train a model and write metrics.csv, best.ckpt, last.ckpt and curves.png to the run folder.")
        {
            data, dataDir, model, epochs, lr, batch, optimizer, momentum, wd, schedule, loss, smoothing, BackendOption, ThreadsOption, seed, validation, limit, augment, tta, outDir, resume, distributed,
        };
        var folder = new FolderOptions(cmd);
        cmd.SetAction(p =>
        {
            var comm = DistributedTrain.Start(p.GetValue(distributed), threadsGiven: p.GetValue(ThreadsOption) is not null);
            return DistributedTrain.Run(comm, () =>
            {
                TrainingRun run;
                if (p.GetValue(resume) is string dir)
                {
                    var trained = TrainingRun.TrainedExecution(dir);
                    var be = ResumeBackend(p, dir, trained);
                    run = FolderOptions.Decoding(progress => TrainingRun.Resume(dir, be, p.GetResult(epochs) is { Implicit: false } ? p.GetValue(epochs) : null, progress, comm));
                    foreach (var r in run.Repaired) AnsiConsole.MarkupLine($"  repaired: {Markup.Escape(r)}");
                    AnsiConsole.MarkupLine($"Resuming [bold]{Markup.Escape(dir)}[/] after epoch {run.Trainer.Epoch} of {run.Settings.Epochs}.");
                    if (run.TrainedOn is not { } before)
                        AnsiConsole.MarkupLine("  Its checkpoint does not say which backend and thread count trained it (an older FastConv): pass the same " +
                                               "--backend and --threads to continue it bit for bit.");
                    else if (before != run.Execution)
                        AnsiConsole.MarkupLine(Markup.Escape($"  Trained on {before}; continuing on {run.Execution}, as asked: the rest of the run will not repeat ") +
                                               "[yellow]bit for bit[/] what the first would have done.");
                }
                else
                {
                    var be = Backend(p);
                    // a preset's recipe (RunSettings.Recipe) for every option not given on the command line
                    var r = RunSettings.Recipe(p.GetValue(model)!, p.GetValue(data)!);
                    T Given<T>(Option<T> o, T fromRecipe) => r is null || p.GetResult(o) is { Implicit: false } ? p.GetValue(o)! : fromRecipe;
                    var s = new RunSettings
                    {
                        Data = p.GetValue(data)!, DataDir = p.GetValue(dataDir), Model = p.GetValue(model)!, Epochs = p.GetValue(epochs),
                        Lr = Given(lr, r?.Lr), Batch = Given(batch, r?.Batch ?? 0), Optimizer = Given(optimizer, r?.Optimizer!), Momentum = Given(momentum, r?.Momentum ?? 0),
                        WeightDecay = Given(wd, r?.WeightDecay ?? 0), Schedule = Given(schedule, r?.Schedule!), Loss = p.GetValue(loss)!, LabelSmoothing = p.GetValue(smoothing), Seed = p.GetValue(seed),
                        Validation = p.GetValue(validation), Limit = p.GetValue(limit), Augment = Given(augment, r?.Augment!),
                        Tta = p.GetValue(tta)!,
                    };
                    if (r is not null)
                        AnsiConsole.MarkupLine(Markup.Escape($"{s.Model}: the paper's recipe where not given: {s.Optimizer} lr {s.BaseLr.ToString(CultureInfo.InvariantCulture)}, " +
                            $"momentum {s.Momentum.ToString(CultureInfo.InvariantCulture)}, weight decay {s.WeightDecay.ToString(CultureInfo.InvariantCulture)}, " +
                            $"batch {s.Batch}, {s.Schedule} schedule, {s.Augment} augmentation."));
                    s = folder.Apply(p, s);
                    s.Validate();
                    string o = p.GetValue(outDir) ?? Path.Combine("runs", $"{s.Model}-{DateTime.Now:yyyyMMdd-HHmmss}");
                    run = FolderOptions.Decoding(progress => TrainingRun.Start(s, be, o, progress, comm));
                }
                FolderOptions.Report(run.Folder);
                using (run) return TrainCommand.Execute(run, comm);
            });
        });
        return cmd;
    }

    private static Command Eval()
    {
        var ckpt = new Option<string>("--checkpoint") { Description = "A checkpoint written by fastconv train (best.ckpt or last.ckpt).", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory, if not the one the run used." };
        var tta = new Option<string?>("--tta") { Description = "Test-time augmentation: flip (each image's scores averaged with its mirror image's), none, " +
                                                                   "or auto (flip when the run trained with flips). Default: the run's own." };
        var cmd = new Command("eval", "Test accuracy, confusion matrix and per-class accuracy of a checkpoint.") { ckpt, dataDir, tta, BackendOption, ThreadsOption };
        cmd.SetAction(p =>
        {
            var be = Backend(p);
            var (ck, ev) = TrainingRun.EvaluateCheckpoint(p.GetValue(ckpt)!, be, p.GetValue(dataDir), tta: p.GetValue(tta));
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(ck.Model)}[/] after {ck.Epoch} epochs, on {ev.Count} test images ({Markup.Escape(be.Name)}, {ev.Seconds:0.0} s):");
            Reports.Evaluation(ev);
            return 0;
        });
        return cmd;
    }

    private static Command Export()
    {
        var ckpt = new Option<string>("--checkpoint") { Description = "A checkpoint written by fastconv train (best.ckpt or last.ckpt).", Required = true };
        var outPath = new Option<string>("--out") { Description = "The ONNX file to write (replaced whole if it exists).", Required = true };
        var cmd = new Command("export", "Write a checkpoint's model as ONNX (opset 13): input [N, C, H, W] normalised as its metadata says, output logits; " +
                                        "class names and normalisation in the metadata.") { ckpt, outPath };
        cmd.SetAction(p =>
        {
            string path = p.GetValue(ckpt)!, o = p.GetValue(outPath)!;
            var ck = Checkpoint.Load(path);
            ck.ExportOnnx(o);
            AnsiConsole.MarkupLine(Markup.Escape($"Wrote {o} ({new FileInfo(o).Length:N0} bytes): {ck.Model}, input [N, {string.Join(", ", ck.InputShape)}], " +
                                                 $"{ck.ClassNames.Length} classes, after {ck.Epoch} epochs."));
            return 0;
        });
        return cmd;
    }

    private static Command Visualize()
    {
        var ckpt = new Option<string>("--checkpoint") { Description = "A checkpoint written by fastconv train.", Required = true };
        var image = Opt("--image", "Index of the test image whose activation maps are drawn.", 0);
        var outDir = new Option<string?>("--out") { Description = "Folder for the pictures (default: the checkpoint's folder)." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory, if not the one the run used." };
        var cmd = new Command("visualize", "Draw what the model learned and sees (the notes' \"what ConvNets learn\"): the test image with the top-3, " +
                                           "first-layer filters, every conv layer's activation maps, a saliency map and an occlusion map.")
            { ckpt, image, outDir, dataDir, BackendOption, ThreadsOption };
        cmd.SetAction(p =>
        {
            string path = p.GetValue(ckpt)!;
            string dir = p.GetValue(outDir) ?? Path.GetDirectoryName(Path.GetFullPath(path))!;
            VisualizeResult r;
            try { r = TrainingRun.Visualize(path, Backend(p), p.GetValue(image), dir, p.GetValue(dataDir)); }
            catch (ArgumentOutOfRangeException e) when (e.ParamName == "index")
            {
                throw new ArgumentException($"--image {OneLine(e)}", e); // the library's rule, after the flag
            }
            AnsiConsole.MarkupLine($"Test image {p.GetValue(image)}: [bold]{Markup.Escape(r.Truth)}[/], predicted [bold]{Markup.Escape(r.Predicted)}[/] " +
                                   Markup.Escape($"(top-3: {string.Join(", ", r.Top.Select(t => $"{t.Name} {t.P:P1}"))})."));
            foreach (var f in r.Files) AnsiConsole.MarkupLine($"Written: {Markup.Escape(f)}");
            return 0;
        });
        return cmd;
    }

    private static Command Bench()
    {
        var model = Opt("--model", $"Model preset: {string.Join(", ", ModelZoo.Names)}.", new RunSettings().Model);
        var input = new Option<string?>("--input") { Description = "Input as C,H,W (default 1,28,28) or the notes' WxHxD (28x28x1)." };
        var batch = Opt("--batch", "Batch size.", 64);
        var steps = Opt("--steps", "Timed training steps (after a warm-up of up to 40 steps or 5 s).", 20);
        var cmd = new Command("bench", "Time training steps of a model on random data, and each op in them (FASTCONV_VERBOSE timings).")
            { model, input, batch, steps, BackendOption, ThreadsOption };
        cmd.SetAction(p =>
        {
            int n = p.GetValue(batch), count = p.GetValue(steps);
            if (n < 1) throw new ArgumentException($"--batch must be at least 1, got {n}.");
            if (count < 1) throw new ArgumentException($"--steps must be at least 1, got {count}.");
            var be = Backend(p);
            int[] shape = ParseShape(p.GetValue(input) ?? "1,28,28", "--input");
            Reports.Bench(StepBench.Run(be, p.GetValue(model)!, shape, n, count));
            return 0;
        });
        return cmd;
    }

    private static Command Summary()
    {
        var model = Opt("--model", $"Model preset ({string.Join(", ", ModelZoo.Names)}) or a spec like \"[conv3-64,relu]*2,pool2,fc-256,relu,fc\".", "cs231n-3layer");
        var input = new Option<string?>("--input") { Description = "Input as C,H,W (3,224,224) or the notes' WxHxD (224x224x3); default 1,28,28, " +
                                                                  "3,224,224 for vgg16, resnet18, alexnet and googlenet, 3,32,32 for resnet20." };
        var classes = new Option<int?>("--classes") { Description = "Number of classes (default 10; 1000 for the ImageNet models, as published)." };
        var batch = Opt("--batch", "Batch size for FastConv's own table (activations and FLOPs).", 1);
        var format = Opt("--format", "table, csv (the notes' rows only) or markdown.", "table");
        var cmd = new Command("summary", "The notes' VGG table for a model (volumes, memory, weights, receptive fields), then FastConv's own accounting.")
            { model, input, classes, batch, format };
        cmd.SetAction(p =>
        {
            string name = p.GetValue(model)!, fmt = p.GetValue(format)!;
            if (fmt is not ("table" or "csv" or "markdown")) throw new ArgumentException($"--format must be table, csv or markdown, got '{fmt}'.");
            if (p.GetValue(batch) < 1) throw new ArgumentException($"--batch must be at least 1, got {p.GetValue(batch)}.");
            var published = ModelZoo.PublishedInput(name);   // a case study at the input and classes its count is published for
            var (shape, _) = ParseInput(p.GetValue(input) ?? (published is { } pi ? string.Join(",", pi.Input) : "1,28,28"), "--input");
            using var m = ModelZoo.Create(name, BackendRegistry.Get("reference"), shape, p.GetValue(classes) ?? published?.Classes ?? 10, seed: 0, initialize: false);
            Reports.Summary(name, m, p.GetValue(batch), fmt);
            return 0;
        });
        return cmd;
    }

    private static Command Shape()
    {
        var input = Opt("--input", "Input as the notes' WxHxD (227x227x3) or FastConv's C,H,W (3,227,227); H,W or WxH for one channel.", "32x32x3");
        var filters = new Option<int>("--filters", "-K") { Description = "Number of filters K (the output depth).", DefaultValueFactory = _ => 16 };
        var kernel = new Option<int>("--kernel", "-F", "--filter") { Description = "Filter size F (spatial extent, F x F).", DefaultValueFactory = _ => 3 };
        var stride = new Option<int>("--stride", "-S") { Description = "Stride S.", DefaultValueFactory = _ => 1 };
        var pad = new Option<int>("--pad", "-P") { Description = "Zero padding P.", DefaultValueFactory = _ => 1 };
        var batch = Opt("--batch", "Batch N.", 1);
        var layers = new Option<string?>("--layers", "--model")
            { Description = "Walk a chain instead, in the notes' notation: \"conv3-64,conv3-64,pool2\" (convF-K[-sS][-pP], poolF, relu, fc-N, [ ... ]*n)." };
        var cmd = new Command("shape", "One convolution worked through: (W − F + 2P)/S + 1, parameters with and without sharing, im2col sizes, receptive field, tiling; or a chain with --layers.")
        { input, filters, kernel, stride, pad, batch, layers };
        cmd.SetAction(p =>
        {
            var (s, understood) = ParseInput(p.GetValue(input)!, "--input");
            if (p.GetValue(layers) is string spec)
            {
                using var m = ModelSpec.Build(spec, BackendRegistry.Get("reference"), s, classes: 10);
                Reports.Chain(m, understood);
                return 0;
            }
            var d = new Conv2dDesc(p.GetValue(batch), s[0], s[1], s[2], p.GetValue(filters), p.GetValue(kernel), p.GetValue(kernel), p.GetValue(stride), p.GetValue(pad));
            Reports.Shape(d, understood);
            return 0;
        });
        return cmd;
    }

    private static Command Info()
    {
        var cmd = new Command("info", "Backends available and why any is not, the ISA each uses, threads.");
        cmd.SetAction(_ => { Reports.Info(); return 0; });
        return cmd;
    }

    internal static int[] ParseShape(string text, string option) => ParseInput(text, option).Shape;

    /// <summary>
    /// An input volume in either notation, returned as [C, H, W] with a sentence saying how it was read: commas are
    /// FastConv's C,H,W (or H,W with one channel); 'x' is the notes' W×H×D (or W×H with depth 1).
    /// </summary>
    internal static (int[] Shape, string Understood) ParseInput(string text, string option)
    {
        bool comma = text.Contains(','), times = text.Contains('x') || text.Contains('X');
        if (comma && times) throw new ArgumentException($"{option} '{text}': mixes ',' and 'x'; write C,H,W (3,227,227) or the notes' WxHxD (227x227x3).");
        var parts = text.Split([',', 'x', 'X'], StringSplitOptions.TrimEntries);
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out r[i]) || r[i] <= 0)
                throw new ArgumentException($"{option} '{text}': '{parts[i]}' is not a positive size; write C,H,W (3,227,227) or the notes' WxHxD (227x227x3).");
        if (r.Length is < 2 or > 3) throw new ArgumentException($"{option} '{text}': expected C,H,W or H,W (3,227,227), or WxHxD or WxH (227x227x3).");
        int[] chw = times
            ? [r.Length == 3 ? r[2] : 1, r[1], r[0]]
            : r.Length == 3 ? r : [1, r[0], r[1]];
        string how = times
            ? $"read as the notes' W x H x D: width {chw[2]}, height {chw[1]}, depth {chw[0]}" + (r.Length == 2 ? " (one channel)" : "")
            : $"read as FastConv's C,H,W: {chw[0]} channel(s), height {chw[1]}, width {chw[2]}" + (r.Length == 2 ? " (H,W: one channel)" : "");
        return (chw, $"input {text}: {how}; in the other notation {(times ? $"{chw[0]},{chw[1]},{chw[2]}" : $"{chw[2]}x{chw[1]}x{chw[0]}")}");
    }
}
