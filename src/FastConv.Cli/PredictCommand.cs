using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FastConv.Nn;
using FastConv.Nn.Data;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>`fastconv predict --checkpoint PATH IMAGE...` (or `--onnx model.onnx`): the top classes of each image (files, or folders of them),
/// with the checkpoint's own preprocessing, batched through the model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var ckpt = new Option<string?>("--checkpoint") { Description = "A checkpoint written by fastconv train (best.ckpt or last.ckpt)." };
        var onnx = new Option<string?>("--onnx") { Description = "An ONNX classifier instead of a checkpoint (fastconv export writes one; class names and normalisation from its metadata)." };
        var images = new Argument<string[]>("images") { Description = "Image files (.png, .jpg, .jpeg, .bmp, .webp) or folders of them (searched recursively).", Arity = ArgumentArity.OneOrMore };
        var top = Commands.Opt("--top", "How many classes to show per image.", 3);
        var format = Commands.Opt("--format", "table, csv (path,rank,class,probability) or json.", "table");
        var batch = Commands.Opt("--batch", "Images per forward pass.", 64);
        var skipBad = new Option<bool>("--skip-bad-images") { Description = "Predict the files that decode and list the others, instead of stopping." };
        var cmd = new Command("predict", "Classify images with a trained checkpoint or an ONNX model: the top classes and their probabilities.")
            { ckpt, onnx, images, top, format, batch, skipBad, Commands.BackendOption, Commands.ThreadsOption };
        cmd.SetAction(p =>
        {
            int k = p.GetValue(top), n = p.GetValue(batch);
            string fmt = p.GetValue(format)!;
            if (k < 1) throw new ArgumentException($"--top must be at least 1, got {k}.");
            if (n < 1) throw new ArgumentException($"--batch must be at least 1, got {n}.");
            if (fmt is not ("table" or "csv" or "json")) throw new ArgumentException($"Unknown format '{fmt}': use table, csv or json.");
            string? ckptPath = p.GetValue(ckpt), onnxPath = p.GetValue(onnx);
            if ((ckptPath is null) == (onnxPath is null)) throw new ArgumentException("Give either --checkpoint or --onnx (one model to predict with).");
            var files = Expand(p.GetValue(images)!);
            var be = Commands.Backend(p);
            using var predictor = ckptPath is not null ? Predictor.Load(ckptPath, be, n) : Predictor.LoadOnnx(onnxPath!, be, n);
            var sw = Stopwatch.StartNew();
            var results = FolderOptions.WithProgress("predicting", progress => predictor.PredictFiles(files, k, progress));
            double seconds = sw.Elapsed.TotalSeconds;
            var bad = results.Where(r => r.Error is not null).Select(r => new BadImage(r.Path, r.Error!)).ToList();
            if (bad.Count > 0 && !p.GetValue(skipBad))
                throw new ImageFolderException($"{bad.Count} of {files.Count} files are not images FastConv can read (--skip-bad-images predicts the rest): {ImageFolder.Describe(bad)}", bad);
            var good = results.Where(r => r.Error is null).ToList();
            switch (fmt)
            {
                case "csv": Csv(good); break;
                case "json": Json(good); break;
                default: Table(good, Math.Min(k, predictor.ClassNames.Count)); break;
            }
            foreach (var b in bad) Console.Error.WriteLine($"fastconv: skipped {b.Path}: {b.Problem}");
            string summary = $"{good.Count:N0} images in {seconds:0.000} s: {good.Count / Math.Max(seconds, 1e-9):N0} images/s (decode + forward, batch {n}, " +
                $"{be.Name}, {Parallelism.Threads} thread(s)); model {predictor.Model} on {predictor.Channels}x{predictor.ImageSize}x{predictor.ImageSize}";
            if (fmt == "table") AnsiConsole.WriteLine(summary);
            else Console.Error.WriteLine(summary);
            return 0;
        });
        return cmd;
    }

    /// <summary>Files as given; folders as their image files (recursively, ordinal order). A missing path is an error.</summary>
    internal static List<string> Expand(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path)) files.Add(path);
            else if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => ImageDecoder.IsImageFile(f) && !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0) throw new ArgumentException($"Folder {path} holds no images ({string.Join(", ", ImageDecoder.Extensions)}).");
                files.AddRange(found);
            }
            else throw new FileNotFoundException($"No such image file or folder: {path}", path);
        }
        return files;
    }

    private static void Table(List<FilePrediction> results, int k)
    {
        var table = new Table().AddColumn("image");
        for (int r = 1; r <= k; r++) table.AddColumn(new TableColumn($"#{r}"));
        foreach (var res in results)
            table.AddRow([Markup.Escape(res.Path), .. res.Top!.Select(t => Markup.Escape($"{t.Label} {t.Probability:P1}"))]);
        AnsiConsole.Write(table);
    }

    private static void Csv(List<FilePrediction> results)
    {
        static string Q(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
        Console.Out.WriteLine("path,rank,class,probability");
        foreach (var res in results)
            for (int r = 0; r < res.Top!.Length; r++)
                Console.Out.WriteLine($"{Q(res.Path)},{r + 1},{Q(res.Top[r].Label)},{res.Top[r].Probability.ToString("0.######", CultureInfo.InvariantCulture)}");
    }

    private static void Json(List<FilePrediction> results)
    {
        var doc = results.Select(r => new
        {
            path = r.Path,
            top = r.Top!.Select(t => new { @class = t.Label, index = t.Class, probability = Math.Round(t.Probability, 6) }),
        });
        Console.Out.WriteLine(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }
}
