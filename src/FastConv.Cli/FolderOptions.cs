using System.CommandLine;
using FastConv.Nn;
using FastConv.Nn.Data;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>`fastconv train --data folder`: the image-folder options, a progress bar while images decode, and the
/// report of what was read, cached and skipped.</summary>
internal sealed class FolderOptions
{
    private readonly Option<int?> _imageSize = new("--image-size")
        { Description = "Folder images: side of the square the model sees (shorter side resized, centre cropped; default: the most common size when every image is at most 64 pixels, else 64)." };
    private readonly Option<int?> _channels = new("--channels") { Description = "Folder images: 1 (grey) or 3 (RGB); default 3 unless every image is grey." };
    private readonly Option<double> _testFraction = Commands.Opt("--test-fraction", "Folder images without a test/ folder: share of each class held out for testing (seeded by --seed).", new RunSettings().TestFraction);
    private readonly Option<bool> _skipBad = new("--skip-bad-images") { Description = "Folder images: train on the files that decode and list the ones skipped, instead of stopping." };
    private readonly Option<string?> _cacheDir = new("--cache-dir") { Description = "Folder images: where decoded images are cached (default: FASTCONV_CACHE_DIR, else ~/.cache/fastconv)." };

    public FolderOptions(Command train)
    {
        foreach (var o in new Option[] { _imageSize, _channels, _testFraction, _skipBad, _cacheDir }) train.Options.Add(o);
    }

    public RunSettings Apply(ParseResult p, RunSettings s) => s with
    {
        ImageSize = p.GetValue(_imageSize), Channels = p.GetValue(_channels), TestFraction = p.GetValue(_testFraction),
        SkipBadImages = p.GetValue(_skipBad), CacheDir = p.GetValue(_cacheDir),
    };

    /// <summary>Runs <paramref name="start"/> with a progress bar that appears once images are being decoded (on a terminal).</summary>
    public static T Decoding<T>(Func<Action<int, int>?, T> start) => WithProgress("decoding images", start);

    /// <summary>Runs <paramref name="work"/>, showing its (done, total) reports as a bar on a terminal, nothing otherwise.</summary>
    public static T WithProgress<T>(string what, Func<Action<int, int>?, T> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive) return work(null);
        T result = default!;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                ProgressTask? task = null;
                var gate = new Lock();
                result = work((done, total) =>
                {
                    lock (gate)
                    {
                        task ??= ctx.AddTask($"{what} ({total:N0})", maxValue: total);
                        task.Value = done;
                    }
                });
            });
        return result;
    }

    public static void Report(ImageFolderData? f)
    {
        if (f is null) return;
        var train = f.Train;
        double rate = f.Decoded / Math.Max(f.Seconds, 1e-9);
        AnsiConsole.MarkupLine($"Image folder: {train.ClassNames.Count} classes, {train.Count:N0} train / {f.Test.Count:N0} test images " +
            $"({(f.HasTestFolder ? "test/ folder" : "test held out per class")}), {f.ImageSize}x{f.ImageSize}, {f.Channels} channel{(f.Channels == 1 ? "" : "s")}; " +
            (f.Decoded > 0 ? $"decoded {f.Decoded:N0} ({rate:N0} images/s), " : "") + $"{f.Cached:N0} from the cache, {f.Seconds:0.00} s " +
            $"([link]{Markup.Escape(f.CacheFile)}[/])");
        AnsiConsole.MarkupLine($"  classes: {Markup.Escape(string.Join(", ", train.ClassNames))}");
        if (f.IgnoredFiles > 0)
            AnsiConsole.MarkupLine($"  {f.IgnoredFiles:N0} files that are not .png/.jpg/.jpeg/.bmp/.webp were ignored.");
        if (f.Skipped.Count > 0)
        {
            AnsiConsole.MarkupLine($"[yellow]Skipped {f.Skipped.Count:N0} bad image file{(f.Skipped.Count == 1 ? "" : "s")}[/] (--skip-bad-images):");
            foreach (var b in f.Skipped) AnsiConsole.MarkupLine($"  {Markup.Escape(b.Path)}: {Markup.Escape(b.Problem)}");
        }
    }
}
