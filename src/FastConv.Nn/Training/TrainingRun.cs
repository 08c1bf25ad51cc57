using System.Globalization;
using FastConv.Nn.Data;
using FastConv.Nn.Distributed;

namespace FastConv.Nn;

/// <summary>What `fastconv train` was asked for. Everything has a default that trains on the shipped Fashion-MNIST.</summary>
public sealed record RunSettings
{
    public string Data { get; init; } = "fashion-mnist";
    /// <summary>Null: the shipped data/fashion-mnist (Fashion-MNIST only).</summary>
    public string? DataDir { get; init; }
    /// <summary>Image folders (<see cref="ImageFolderOptions"/>): null picks the default from the folder.</summary>
    public int? ImageSize { get; init; }
    public int? Channels { get; init; }
    public double TestFraction { get; init; } = 0.2;
    public bool SkipBadImages { get; init; }
    /// <summary>Null: <see cref="ImageFolder.DefaultCacheDir"/>.</summary>
    public string? CacheDir { get; init; }
    public string Model { get; init; } = "cs231n-convnet";
    public int Epochs { get; init; } = 5;
    /// <summary>Base learning rate; null takes the optimizer's usual one (<see cref="BaseLr"/>).</summary>
    public float? Lr { get; init; }
    public int Batch { get; init; } = 64;
    public string Optimizer { get; init; } = "adam";

    /// <summary>The learning rate used: <see cref="Lr"/>, else 0.001 for Adam and 0.01 for SGD (Adam at 0.01 is a classic way to diverge).</summary>
    public float BaseLr => Lr ?? (Optimizer == "adam" ? 0.001f : 0.01f);
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 1e-4f;
    public string Schedule { get; init; } = "cosine";
    public string Loss { get; init; } = "softmax";
    /// <summary>Label smoothing ε of the softmax loss (<see cref="SmoothedSoftmaxLoss"/>): each target puts 1 − ε on its
    /// class and ε evenly over all K; 0 (the default): plain cross-entropy.</summary>
    public float LabelSmoothing { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>Examples held out of the training set for validation.</summary>
    public int Validation { get; init; } = 5000;
    /// <summary>Use only the first N training examples (0: all) — for quick runs and tests.</summary>
    public int Limit { get; init; }
    /// <summary>none, flip, crop-flip, erase, flip-erase (random erasing with probability 0.5, alone or after a flip), or
    /// auto (crop-flip for CIFAR-10, none for Fashion-MNIST; a preset's <see cref="Recipe"/> picks its own).</summary>
    public string Augment { get; init; } = "auto";
    /// <summary>Test-time augmentation of validation and test: flip (an image's scores are the mean of its own and its
    /// mirror image's), none, or auto (flip when <see cref="Augmentation"/> trains with flips, so the model has learnt
    /// the two alike; none otherwise).</summary>
    public string Tta { get; init; } = "auto";

    /// <summary>Whether validation and test average each image's scores with its mirror image's (<see cref="Tta"/>).</summary>
    public bool MirrorAverage => Tta == "flip" || (Tta == "auto" && Augmentation.HorizontalFlip);

    /// <summary>The published training recipe of a preset, scaled to the run, for the settings a user did not give:
    /// ResNets (He et al. 2015 §4.2): SGD 0.1, momentum 0.9, weight decay 1e-4, batch 128 (64 on Fashion-MNIST, below),
    /// ×0.1 at half and three quarters of the run (the paper's 32k and 48k of 64k iterations: "multistep"), and the paper's crop-flip augmentation
    /// where it applies: CIFAR-10's 4-pixel crops and flips; flips alone for Fashion-MNIST, whose garments are centred
    /// (crops of 1 or 2 pixels left the test accuracy where flips alone put it, docs/perf/2026-12-03-resnet20-accuracy-crop1.md)
    /// but mostly left-right symmetric (flips: 93.21–93.61 % in twelve 15-epoch runs, 93.13 % in the one without,
    /// docs/perf/2026-12-07-resnet20-accuracy-default.md); "auto" (none) for image folders, whose content FastConv cannot
    /// know. On Fashion-MNIST the batch is 64: a short run takes a tenth of the paper's iterations at 128 (6.4k in 15
    /// epochs), a fifth at 64, and in two seeds batch 64 validated 0.2–0.3 points higher over the last four epochs and
    /// tested 0.16–0.19 points higher at the last epoch; batch 32 validated higher still but tested no higher and ran
    /// 19 % slower (docs/perf/2026-12-08-resnet20-accuracy-batch64.md). Measured with ResNet-20; ResNet-18 takes the same
    /// batch on Fashion-MNIST by the same count of steps, unmeasured. Null: FastConv's defaults.</summary>
    public static RunSettings? Recipe(string model, string data) => model is "resnet20" or "resnet18"
        ? new RunSettings
        {
            Data = data, Model = model, Optimizer = "sgd", Lr = 0.1f, Momentum = 0.9f, WeightDecay = 1e-4f, Batch = data == "fashion-mnist" ? 64 : 128, Schedule = "multistep",
            Augment = data switch { "cifar10" => "crop-flip", "fashion-mnist" => "flip", _ => "auto" },
        }
        : null;

    public Augmentation Augmentation => Augment switch
    {
        "none" => Augmentation.None,
        "flip" => new Augmentation(0, true),
        "crop-flip" => Data == "cifar10" ? Augmentation.Cifar : new Augmentation(2, true),
        "erase" => new Augmentation(0, false, 0.5),
        "flip-erase" => new Augmentation(0, true, 0.5),
        _ => Data == "cifar10" ? Augmentation.Cifar : Augmentation.None,
    };

    public void Validate()
    {
        // Each rule names its setting, so the CLI can word it with the flag (SettingException.Template).
        static void Need(bool ok, string setting, string rule) { if (!ok) throw new SettingException(setting, rule); }
        Need(Data is "fashion-mnist" or "cifar10" or "folder", nameof(Data), $"'{Data}' is not a data set: use fashion-mnist, cifar10 or folder.");
        Need(Data != "cifar10" || DataDir is not null, nameof(DataDir), "is needed for CIFAR-10, which is not shipped: a folder with data_batch_1.bin … test_batch.bin.");
        Need(Data != "folder" || DataDir is not null, nameof(DataDir), "is needed for image folders: a folder with one subfolder of images per class (or train/<class> and test/<class>).");
        Need(ImageSize is null or >= 1, nameof(ImageSize), $"must be at least 1, got {ImageSize}.");
        Need(Channels is null or 1 or 3, nameof(Channels), $"must be 1 or 3, got {Channels}.");
        Need(TestFraction > 0 && TestFraction < 1, nameof(TestFraction), $"must be between 0 and 1 (exclusive), got {TestFraction.ToString(CultureInfo.InvariantCulture)}.");
        Need(ModelZoo.Names.Contains(Model) || ModelZoo.IsSpec(Model), nameof(Model),
            $"'{Model}' is not a model: choose one of {string.Join(", ", ModelZoo.Names)}, or write a spec like [conv3-32,relu]*2,pool2,fc-128,relu,fc.");
        Need(Epochs >= 1, nameof(Epochs), $"must be at least 1, got {Epochs}.");
        Need(Lr is null || (Lr > 0 && float.IsFinite(Lr.Value)), nameof(Lr), $"must be greater than 0, got {Lr?.ToString(CultureInfo.InvariantCulture)}.");
        Need(Batch >= 1, nameof(Batch), $"must be at least 1, got {Batch}.");
        Need(Optimizer is "sgd" or "nesterov" or "adam", nameof(Optimizer), $"'{Optimizer}' is not an optimizer: use sgd, nesterov or adam.");
        Need(Momentum >= 0 && Momentum < 1, nameof(Momentum), $"must be in [0, 1), got {Momentum}.");
        Need(WeightDecay >= 0, nameof(WeightDecay), $"must be at least 0, got {WeightDecay}.");
        Need(Schedule is "constant" or "step" or "multistep" or "cosine", nameof(Schedule), $"'{Schedule}' is not a schedule: use constant, step, multistep or cosine.");
        Need(Loss is "softmax" or "svm", nameof(Loss), $"'{Loss}' is not a loss: use softmax or svm.");
        Need(LabelSmoothing >= 0 && LabelSmoothing < 1, nameof(LabelSmoothing), $"must be in [0, 1), got {LabelSmoothing.ToString(CultureInfo.InvariantCulture)}.");
        Need(LabelSmoothing == 0 || Loss == "softmax", nameof(LabelSmoothing), "applies to the softmax loss only, not to svm.");
        Need(Validation >= 1, nameof(Validation), $"must be at least 1, got {Validation}.");
        Need(Limit >= 0, nameof(Limit), $"must be at least 0, got {Limit}.");
        Need(Augment is "auto" or "none" or "flip" or "crop-flip" or "erase" or "flip-erase", nameof(Augment),
            $"'{Augment}' is not an augmentation: use auto, none, flip, crop-flip, erase or flip-erase.");
        CheckTta(Tta);
    }

    /// <summary>The rule for <see cref="Tta"/>, also for eval's override of a checkpoint's: auto, none or flip.</summary>
    public static void CheckTta(string tta)
    {
        if (tta is not ("auto" or "none" or "flip"))
            throw new SettingException(nameof(Tta), $"'{tta}' is not a test-time augmentation: use auto, none or flip.");
    }

    public Dictionary<string, string> ToDictionary() => new()
    {
        ["data"] = Data, ["data_dir"] = DataDir ?? "", ["model"] = Model, ["epochs"] = I(Epochs), ["lr"] = F(BaseLr), ["batch"] = I(Batch),
        ["optimizer"] = Optimizer, ["momentum"] = F(Momentum), ["weight_decay"] = F(WeightDecay), ["schedule"] = Schedule,
        ["loss"] = Loss, ["label_smoothing"] = F(LabelSmoothing), ["seed"] = I(Seed), ["validation"] = I(Validation), ["limit"] = I(Limit), ["augment"] = Augment, ["tta"] = Tta,
        ["image_size"] = ImageSize is int n ? I(n) : "", ["channels"] = Channels is int c ? I(c) : "",
        ["test_fraction"] = TestFraction.ToString("R", CultureInfo.InvariantCulture), ["skip_bad_images"] = SkipBadImages ? "true" : "false",
        ["cache_dir"] = CacheDir ?? "",
    };

    /// <summary>The settings a checkpoint stored; a value that is missing or does not parse is a CheckpointException
    /// naming the setting and the value (the checksum guards against damage, not against another writer).</summary>
    public static RunSettings FromDictionary(IReadOnlyDictionary<string, string> d)
    {
        string G(string k) => d.TryGetValue(k, out var v) ? v : throw new CheckpointException($"Checkpoint settings lack '{k}'.");
        T Parse<T>(string k, string v) where T : ISpanParsable<T> =>
            T.TryParse(v, CultureInfo.InvariantCulture, out var r) ? r
                : throw new CheckpointException($"Checkpoint setting '{k}' = '{v}' is not a valid {typeof(T).Name}.");
        int Int(string k) => Parse<int>(k, G(k));
        float Float(string k) => Parse<float>(k, G(k));
        int? OptionalInt(string k) => d.GetValueOrDefault(k, "") is { Length: > 0 } v ? Parse<int>(k, v) : null;
        return new RunSettings
        {
            Data = G("data"), DataDir = G("data_dir") is "" ? null : G("data_dir"), Model = G("model"), Epochs = Int("epochs"),
            Lr = Float("lr"), Batch = Int("batch"), Optimizer = G("optimizer"), Momentum = Float("momentum"), WeightDecay = Float("weight_decay"),
            Schedule = G("schedule"), Loss = G("loss"), Seed = Int("seed"), Validation = Int("validation"), Limit = Int("limit"),
            Augment = d.GetValueOrDefault("augment", "auto"),
            // Written since label smoothing; older checkpoints trained on plain cross-entropy.
            LabelSmoothing = Parse<float>("label_smoothing", d.GetValueOrDefault("label_smoothing", "0")),
            // Written since test-time augmentation; older checkpoints were validated and tested on the images alone.
            Tta = d.GetValueOrDefault("tta", "none"),
            // Written since image folders (older checkpoints lack them).
            ImageSize = OptionalInt("image_size"), Channels = OptionalInt("channels"),
            TestFraction = Parse<double>("test_fraction", d.GetValueOrDefault("test_fraction", "0.2")),
            SkipBadImages = d.GetValueOrDefault("skip_bad_images") == "true", CacheDir = d.GetValueOrDefault("cache_dir", "") is { Length: > 0 } cd ? cd : null,
        };
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
    private static string F(float v) => v.ToString("R", CultureInfo.InvariantCulture);
}

/// <summary>What ran a run besides its settings: the backend (its name, e.g. "native" or "managed:v256"), the kernels'
/// thread count and the data-parallel processes. Same settings and execution (on a CPU of the same ISA) repeat a run bit
/// for bit; another backend or thread count gives other rounding (a convolution that splits the batch's sum between
/// threads adds the shares in another grouping), so a resume on it continues a slightly different run. Checkpoints store
/// it beside the settings; one written before FastConv stored it has none.</summary>
public sealed record RunExecution(string Backend, int Threads, int Processes)
{
    private const string BackendKey = "backend", ThreadsKey = "threads", ProcessesKey = "processes";

    /// <summary>The settings dictionary with the execution added (the keys <see cref="RunSettings.FromDictionary"/> ignores).</summary>
    public Dictionary<string, string> AddTo(Dictionary<string, string> settings)
    {
        settings[BackendKey] = Backend;
        settings[ThreadsKey] = Threads.ToString(CultureInfo.InvariantCulture);
        settings[ProcessesKey] = Processes.ToString(CultureInfo.InvariantCulture);
        return settings;
    }

    /// <summary>The execution a checkpoint's settings hold; null when it predates them. A value that does not parse is a
    /// CheckpointException naming it.</summary>
    public static RunExecution? Of(IReadOnlyDictionary<string, string> settings)
    {
        if (!settings.TryGetValue(BackendKey, out var backend)) return null;
        int Positive(string key) =>
            settings.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 ? n
                : throw new CheckpointException($"Checkpoint setting '{key}' = '{v}' is not a positive integer.");
        if (backend.Length == 0) throw new CheckpointException($"Checkpoint setting '{BackendKey}' is empty.");
        return new RunExecution(backend, Positive(ThreadsKey), Positive(ProcessesKey));
    }

    public override string ToString() =>
        $"backend {Backend}, {Threads} thread(s){(Processes > 1 ? $" in each of {Processes} processes" : "")}";
}

/// <summary>The result of a whole run: where it went; <see cref="Test"/> is best.ckpt's test evaluation (the best-validation epoch),
/// <see cref="LastTest"/> last.ckpt's (the final weights, what a paper's "after N epochs" reports); the same evaluation
/// when the best epoch is the last.</summary>
public sealed record RunResult(string OutDir, IReadOnlyList<EpochMetrics> History, int BestEpoch, double BestValidationAccuracy, Evaluation Test,
    Evaluation LastTest)
{
    public int LastEpoch => History.Count == 0 ? 0 : History[^1].Epoch;
}

/// <summary>
/// A training run in a folder: data, model, optimizer and trainer put together from <see cref="RunSettings"/>,
/// with last.ckpt (for --resume), best.ckpt (best validation accuracy), metrics.csv and curves.png kept up to date
/// after every epoch.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    public const string LastCheckpoint = "last.ckpt", BestCheckpoint = "best.ckpt", MetricsFile = "metrics.csv", CurvesFile = "curves.png",
        FiltersFile = "filters.png", LossesFile = "losses.csv";

    /// <summary>The names errors give the run folder of <see cref="Start"/> and of <see cref="Resume"/> (SettingException's
    /// {Name} placeholders: a front end words them, the CLI as --out and --resume).</summary>
    public const string OutDirSetting = "OutDir", ResumeSetting = "Resume";

    private readonly BatchLoader _trainLoader, _valLoader, _testLoader;

    private TrainingRun(RunSettings settings, IBackend backend, string outDir, Checkpoint? resume, Action<int, int>? decodeProgress,
        ICommunicator? communicator)
    {
        settings.Validate();
        int ranks = communicator?.Size ?? 1;
        if (settings.Batch % ranks != 0)
            throw new SettingException(nameof(RunSettings.Batch), $"{settings.Batch} (the global batch) does not split evenly over {ranks} processes: use a multiple of {ranks}.");
        Backend = backend; OutDir = outDir;
        var (train, test, folder) = LoadData(settings, decodeProgress);
        // A folder's defaults are resolved once and kept, so --resume, eval and predict see the same geometry.
        Settings = folder is null ? settings : settings with { ImageSize = folder.ImageSize, Channels = folder.Channels };
        Folder = folder;
        if (settings.Limit > 0 && settings.Limit < train.Count) train = train.Subset(train.Name, Enumerable.Range(0, settings.Limit).ToArray());
        int validation = Math.Min(settings.Validation, train.Count / 10);
        if (validation < 1) throw new ArgumentException($"{train.Count} training examples are too few to hold out a validation set.");
        var (tr, val) = train.Split(validation, settings.Seed);
        if (tr.Count < settings.Batch) throw new SettingException(nameof(RunSettings.Batch), $"{settings.Batch} is larger than the {tr.Count} training examples.");
        Normalization = resume?.Normalization ?? tr.ComputeNormalization();
        int batch = settings.Batch / ranks; // this rank's share of every global batch
        _trainLoader = new BatchLoader(tr, batch, Normalization, settings.Augmentation);
        _valLoader = new BatchLoader(val, batch, Normalization) { MirrorAverage = settings.MirrorAverage };
        _testLoader = new BatchLoader(test, batch, Normalization) { MirrorAverage = settings.MirrorAverage };
        TrainData = tr; ValidationData = val; TestData = test;

        try { Model = ModelZoo.Create(settings.Model, backend, tr.ImageShape, tr.ClassNames.Count, settings.Seed); }
        catch (ArgumentException e) when (folder is not null)
        {
            string why = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "") : e.Message;
            throw new SettingException(nameof(RunSettings.ImageSize), $"{folder.ImageSize} is too small for model {settings.Model} (choose a larger {{ImageSize}} or another {{Model}}): {why}");
        }
        var ps = Model.Parameters.ToList();
        Optimizer = settings.Optimizer switch
        {
            "adam" => new Adam(ps, weightDecay: settings.WeightDecay),
            _ => new Sgd(ps, settings.Momentum, nesterov: settings.Optimizer == "nesterov", weightDecay: settings.WeightDecay),
        };
        Trainer = new Trainer(Model, Loss.Create(settings.Loss, backend, settings.LabelSmoothing), Optimizer,
            LrSchedule.Create(settings.Schedule, settings.BaseLr, settings.Epochs), batch, settings.Seed);
        if (resume is not null)
        {
            resume.Restore(Model, Optimizer);
            Trainer.Epoch = resume.Epoch; Trainer.Step = resume.Step;
            Optimizer.Steps = resume.Step;
            Trainer.BestValidationAccuracy = resume.BestValidationAccuracy; Trainer.BestEpoch = resume.BestEpoch;
            Trainer.History.AddRange(resume.History);
            Trainer.StepLosses.AddRange(RunFiles.ReadStepLosses(Path.Combine(outDir, LossesFile), resume.Step));
        }
        if (communicator is { Size: > 1 }) StartDataParallel(communicator);
    }

    /// <summary>Several processes: rank 0's weights, batch-norm statistics and optimizer state go to every rank, which
    /// then must all hold the same bytes (SHA-256 compared with rank 0's), and the trainer averages gradients.</summary>
    private void StartDataParallel(ICommunicator communicator)
    {
        var parallel = new DataParallel(communicator, Model);
        var tensors = Checkpoint.TensorsOf(Model, Optimizer).Select(t => t.Value).ToList();
        parallel.Broadcast(tensors);
        var (hash, differing) = parallel.CompareAcrossRanks(tensors);
        if (differing > 0)
            throw new InvalidOperationException($"After the initial broadcast {differing} of {communicator.Size} ranks hold other weights than rank 0 (this rank's SHA-256 {hash}).");
        InitialWeightsHash = hash;
        Trainer.Parallel = parallel;
    }

    /// <summary>Several processes: SHA-256 of every rank's weights and optimizer state after the initial broadcast (the
    /// same on all of them, or the run would not have started).</summary>
    public string? InitialWeightsHash { get; private set; }
    /// <summary>Whether this process writes the run folder: always with one process, only rank 0 with several.</summary>
    public bool IsWriter => Trainer.Parallel is not { Rank: not 0 };
    /// <summary>What runs this run now (stored in each checkpoint it writes).</summary>
    public RunExecution Execution => new(Backend.Name, Parallelism.Threads, Trainer.Parallel?.Size ?? 1);
    /// <summary>For <see cref="Resume"/>: what ran the epochs before, as the checkpoint resumed from says (null when it
    /// predates that); compare with <see cref="Execution"/>.</summary>
    public RunExecution? TrainedOn { get; private init; }

    public RunSettings Settings { get; }
    /// <summary>For --data folder: what was decoded, cached and skipped.</summary>
    public ImageFolderData? Folder { get; }
    public IBackend Backend { get; }
    public string OutDir { get; }
    public Normalization Normalization { get; }
    public Dataset TrainData { get; }
    public Dataset ValidationData { get; }
    public Dataset TestData { get; }
    public Sequential Model { get; }
    public Optimizer Optimizer { get; }
    public Trainer Trainer { get; }

    /// <summary>A new run in <paramref name="outDir"/>; refuses a folder that holds a finished epoch (continue it with
    /// <see cref="Resume"/>) or files a run would overwrite, and reuses one that a run killed before its first epoch left
    /// (<see cref="RunFolder.NewRunBlockers"/>), so nothing is overwritten.</summary>
    public static TrainingRun Start(RunSettings settings, IBackend backend, string outDir, Action<int, int>? decodeProgress = null,
        ICommunicator? communicator = null)
    {
        settings.Validate();
        if (RunFolder.NewRunBlockers(outDir) is string why) throw new SettingException(OutDirSetting, $"{outDir} {why}");
        return new TrainingRun(settings, backend, outDir, null, decodeProgress, communicator);
    }

    /// <summary>Continues the run in <paramref name="outDir"/> from its newest finished epoch (<see cref="RunFolder.ResumePoint"/>),
    /// with the settings it was started with (optionally more epochs). The writing process first makes the folder agree
    /// with that checkpoint (<see cref="RunFolder.Repair"/>: what a kill between an epoch's renames left; see
    /// <see cref="Repaired"/>), so at most the epoch in progress at a kill is lost.</summary>
    public static TrainingRun Resume(string outDir, IBackend backend, int? epochs = null, Action<int, int>? decodeProgress = null,
        ICommunicator? communicator = null)
    {
        var (ck, from) = RunFolder.ResumePoint(outDir);
        var settings = RunSettings.FromDictionary(ck.Settings);
        IReadOnlyList<string> repaired = [];
        if (communicator is not { Rank: not 0 })   // only the writer (rank 0) touches the folder
        {
            TestHook.Context = "repair";
            int stepsPerEpoch = (int)Math.Max(1, ck.Step / Math.Max(1, ck.Epoch));
            repaired = RunFolder.Repair(outDir, ck, from, losses => DrawCurves(outDir, settings, backend.Name, ck.History, losses, stepsPerEpoch));
        }
        if (epochs is int e) settings = settings with { Epochs = e };
        if (ck.Epoch >= settings.Epochs)
            throw new SettingException(ResumeSetting, $"{outDir} has already finished {ck.Epoch} of {settings.Epochs} epochs; pass {{{nameof(RunSettings.Epochs)}}} with a larger number to go on.");
        return new TrainingRun(settings, backend, outDir, ck, decodeProgress, communicator) { Repaired = repaired, TrainedOn = RunExecution.Of(ck.Settings) };
    }

    /// <summary>What ran the run in <paramref name="outDir"/> up to the epoch <see cref="Resume"/> would continue from (null
    /// when its checkpoint predates that), so a front end can continue on the same backend and thread count.</summary>
    public static RunExecution? TrainedExecution(string outDir) => RunExecution.Of(RunFolder.ResumePoint(outDir).Checkpoint.Settings);

    /// <summary>What <see cref="Resume"/> put right in the folder before continuing (empty when it was consistent).</summary>
    public IReadOnlyList<string> Repaired { get; private init; } = [];

    private static void DrawCurves(string outDir, RunSettings s, string backend, IReadOnlyList<EpochMetrics> history, IReadOnlyList<float> losses,
        int stepsPerEpoch) =>
        RunFiles.WriteCurves(Path.Combine(outDir, CurvesFile), history, losses, stepsPerEpoch, $"{s.Model} on {s.Data} ({backend})");

    /// <summary>The run's train and test sets; for an image folder also what was decoded (<paramref name="decodeProgress"/>:
    /// images decoded, images to decode).</summary>
    public static (Dataset Train, Dataset Test, ImageFolderData? Folder) LoadData(RunSettings s, Action<int, int>? decodeProgress = null)
    {
        switch (s.Data)
        {
            case "cifar10": { var (tr, te) = Cifar10.Load(s.DataDir!); return (tr, te, null); }
            case "folder":
                var f = ImageFolder.Load(s.DataDir!, new ImageFolderOptions
                {
                    ImageSize = s.ImageSize, Channels = s.Channels, TestFraction = s.TestFraction, Seed = s.Seed,
                    SkipBadImages = s.SkipBadImages, CacheDir = s.CacheDir, Progress = decodeProgress,
                });
                return (f.Train, f.Test, f);
            default:
            {
                var (tr, te) = FashionMnist.Load(s.DataDir ?? FashionMnist.FindShipped()
                    ?? throw new SettingException(nameof(RunSettings.DataDir), "is needed: the shipped Fashion-MNIST (data/fashion-mnist) was not found above the working directory."));
                return (tr, te, null);
            }
        }
    }

    /// <summary>Trains the remaining epochs, then evaluates last.ckpt and best.ckpt on the test set.</summary>
    public RunResult Run(ITrainingObserver? observer = null, CancellationToken cancel = default)
    {
        Trainer.Observer = observer;
        if (!IsWriter) return RunWithoutFiles(cancel);
        Directory.CreateDirectory(OutDir);
        RunFolder.RemoveDeadTemporaries(OutDir);   // a reused folder's, of a run killed before its first epoch was finished
        while (Trainer.Epoch < Settings.Epochs)
        {
            var (_, best) = Trainer.RunEpoch(_trainLoader, _valLoader, Settings.Epochs, cancel);
            TestHook.Context = Trainer.Epoch.ToString(CultureInfo.InvariantCulture);
            // One commit per epoch, in RunFolder's order: the step losses ahead of the checkpoint, last.ckpt (the commit),
            // best.ckpt (its bytes, so never newer than last.ckpt), then what is drawn from them. A kill anywhere in it
            // leaves a folder that Resume continues from this epoch or the one before, and repairs.
            string last = Path.Combine(OutDir, LastCheckpoint);
            RunFiles.WriteStepLosses(Path.Combine(OutDir, LossesFile), Trainer.StepLosses);
            Capture().Save(last);
            if (best) RunFiles.Atomic(Path.Combine(OutDir, BestCheckpoint), tmp => File.Copy(last, tmp));
            RunFiles.WriteMetrics(Path.Combine(OutDir, MetricsFile), Trainer.History);
            DrawCurves(OutDir, Settings, Backend.Name, Trainer.History, Trainer.StepLosses, _trainLoader.TrainBatches);
        }
        // Test the final weights, then the best-validation ones (the checkpoint a user would keep), leaving the model
        // with the final weights, as training left it.
        var final = Trainer.Evaluate(_testLoader);
        var test = final;
        bool bestIsEarlier = Trainer.BestEpoch != Trainer.Epoch;
        if (bestIsEarlier)
        {
            Checkpoint.Load(Path.Combine(OutDir, BestCheckpoint)).Restore(Model, null);
            test = Trainer.Evaluate(_testLoader);
        }
        Plots.Filters(Model, Path.Combine(OutDir, FiltersFile));
        if (bestIsEarlier) Checkpoint.Load(Path.Combine(OutDir, LastCheckpoint)).Restore(Model, null);
        return new RunResult(OutDir, Trainer.History, Trainer.BestEpoch, Trainer.BestValidationAccuracy, test, final);
    }

    /// <summary>A rank other than 0: trains in step with rank 0 (the same collectives) and writes nothing; its test
    /// evaluation is of its last weights.</summary>
    private RunResult RunWithoutFiles(CancellationToken cancel)
    {
        while (Trainer.Epoch < Settings.Epochs) Trainer.RunEpoch(_trainLoader, _valLoader, Settings.Epochs, cancel);
        var last = Trainer.Evaluate(_testLoader);
        return new RunResult(OutDir, Trainer.History, Trainer.BestEpoch, Trainer.BestValidationAccuracy, last, last);
    }

    public Checkpoint Capture() => new()
    {
        Model = Settings.Model, InputShape = Model.InputShape, ClassNames = [.. TrainData.ClassNames], Normalization = Normalization,
        Settings = Execution.AddTo(Settings.ToDictionary()), Epoch = Trainer.Epoch, Step = Trainer.Step,
        BestValidationAccuracy = Trainer.BestValidationAccuracy, BestEpoch = Trainer.BestEpoch,
        History = [.. Trainer.History], Tensors = Checkpoint.Capture(Model, Optimizer),
    };

    /// <summary>A checkpoint's model, restored on <paramref name="backend"/>, with the test set of the data it was trained
    /// on (or of <paramref name="dataDir"/>); refuses a test set whose images are not the model's input shape.</summary>
    private static (Checkpoint Checkpoint, RunSettings Settings, Dataset Test, Sequential Model) Restore(string path, IBackend backend, string? dataDir)
    {
        var ck = Checkpoint.Load(path);
        var settings = RunSettings.FromDictionary(ck.Settings);
        if (dataDir is not null) settings = settings with { DataDir = dataDir };
        var (_, test, _) = LoadData(settings);
        if (!test.ImageShape.SequenceEqual(ck.InputShape))
            throw new CheckpointException($"{path} is for images [{string.Join(", ", ck.InputShape)}], the test set has [{string.Join(", ", test.ImageShape)}].");
        return (ck, settings, test, ck.CreateModel(backend));
    }

    /// <summary>Evaluates a checkpoint on the test set of the data it was trained on (or <paramref name="dataDir"/>), with
    /// the run's test-time augmentation or <paramref name="tta"/> (auto, none or flip: <see cref="RunSettings.Tta"/>).</summary>
    public static (Checkpoint Checkpoint, Evaluation Test) EvaluateCheckpoint(string path, IBackend backend, string? dataDir = null, int batch = 256,
        string? tta = null)
    {
        if (tta is not null) RunSettings.CheckTta(tta);
        var (ck, settings, test, model) = Restore(path, backend, dataDir);
        if (tta is not null) settings = settings with { Tta = tta };
        using (model)
        using (var loss = Loss.Create(settings.Loss, backend, settings.LabelSmoothing))
            return (ck, Trainer.Evaluate(model, loss, new BatchLoader(test, batch, ck.Normalization) { MirrorAverage = settings.MirrorAverage }));
    }

    /// <summary>
    /// Loads a checkpoint's model on <paramref name="backend"/>, runs test image <paramref name="index"/> through it and
    /// writes to <paramref name="outDir"/>: input.png (the image, its class, the top-3), filters.png (the first layer's
    /// filters), activations-&lt;layer&gt;.png for every conv layer, saliency.png and occlusion.png.
    /// </summary>
    public static VisualizeResult Visualize(string path, IBackend backend, int index, string outDir, string? dataDir = null)
    {
        var (ck, _, test, model) = Restore(path, backend, dataDir);
        using (model)
        {
            if (index < 0 || index >= test.Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"must be in [0, {test.Count}) (the test images).");
            Directory.CreateDirectory(outDir);
            using var x = backend.Allocate([1, .. ck.InputShape]);
            using var y = backend.Allocate([1]);
            new BatchLoader(test, 1, ck.Normalization).Fill([index], 0, x, y);
            var probs = Attribution.Probabilities(model.Forward(x, training: false).ToArray());
            var top = probs.Select((p, i) => (Name: ck.ClassNames[i], P: p, Index: i)).OrderByDescending(t => t.P).Take(3).ToList();
            string truth = ck.ClassNames[test.Labels[index]];
            string caption = $"test image {index} ({truth})";
            var files = new List<string>();
            var pixels = test.Image(index).ToArray();
            var picture = new Plots.Picture(test.Channels, test.Height, test.Width, pixels.Select(v => v / 255f).ToArray());
            files.AddRange(Plots.Activations(model, outDir, caption));
            string Out(string name) { string f = Path.Combine(outDir, name); files.Add(f); return f; }
            Plots.Input(picture, $"{ck.Model}: {caption}", truth, [.. top.Select(t => (t.Name, t.P))], Out("input.png"));
            Plots.Filters(model, Out("filters.png"));
            int cls = test.Labels[index];
            var saliency = Attribution.Saliency(model, x, cls);
            Plots.Map(picture, saliency, $"saliency: |d score({truth}) / d pixel| for {caption}",
                "Simonyan et al. 2013: the gradient of the class score with respect to the input, the largest over channels",
                Out("saliency.png"));
            int patch = Math.Max(2, Math.Min(test.Height, test.Width) / 4), stride = Math.Max(1, patch / 3);
            var occlusion = Attribution.Occlusion(model, x, cls, patch, stride);
            Plots.Map(picture, occlusion, $"occlusion: P({truth}) with a {patch}x{patch} grey square over each part of {caption}",
                $"Zeiler & Fergus 2013: dark where covering it lowers P, from {occlusion.Max():P2} down to {occlusion.Min():P2} (uncovered {probs[cls]:P2}); step {stride} px",
                Out("occlusion.png"));
            return new VisualizeResult(truth, top[0].Name, [.. top.Select(t => (t.Name, t.P))], files, SaliencyMap: saliency, OcclusionMap: occlusion);
        }
    }

    public void Dispose()
    {
        Trainer.Dispose();
        Trainer.Loss.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}

/// <summary>What `fastconv visualize` drew: the true and predicted class, the top-3, the files, and the two maps.</summary>
public sealed record VisualizeResult(string Truth, string Predicted, IReadOnlyList<(string Name, double P)> Top, IReadOnlyList<string> Files,
    float[] SaliencyMap, float[] OcclusionMap);
