using System.CommandLine;
using FastConv.Nn;
using FastConv.Nn.Data;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>`fastconv data export fashion-mnist --out DIR`: a data set as PNG files in class folders (train/ and test/),
/// the layout `fastconv train --data folder` reads.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var dataset = new Argument<string>("dataset") { Description = "fashion-mnist (shipped) or cifar10 (needs --data-dir)." };
        var outDir = new Option<string>("--out") { Description = "A new or empty folder for train/<class>/*.png and test/<class>/*.png.", Required = true };
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory with the data files (default: the shipped data/fashion-mnist)." };
        var train = Commands.Opt("--train", "Export only the first N training images (0: all).", 0);
        var test = Commands.Opt("--test", "Export only the first N test images (0: all).", 0);
        var export = new Command("export", "Write a data set as PNG files in class folders, named by their index in the data set.") { dataset, outDir, dataDir, train, test };
        export.SetAction(p =>
        {
            string name = p.GetValue(dataset)!;
            if (name is not ("fashion-mnist" or "cifar10")) throw new ArgumentException($"Unknown data set '{name}': export fashion-mnist or cifar10.");
            int nTrain = p.GetValue(train), nTest = p.GetValue(test);
            if (nTrain < 0 || nTest < 0) throw new ArgumentException($"--train and --test must be at least 0, got {nTrain} and {nTest}.");
            var settings = new RunSettings { Data = name, DataDir = p.GetValue(dataDir) };
            settings.Validate();
            var (tr, te, _) = TrainingRun.LoadData(settings);
            static Dataset First(Dataset d, int n) => n > 0 && n < d.Count ? d.Subset(d.Name, Enumerable.Range(0, n).ToArray()) : d;
            tr = First(tr, nTrain); te = First(te, nTest);
            string o = p.GetValue(outDir)!;
            var sw = System.Diagnostics.Stopwatch.StartNew();
            FolderOptions.WithProgress("writing PNG files", progress => { ImageFolder.Export(o, [("train", tr), ("test", te)], progress); return 0; });
            AnsiConsole.MarkupLine($"Wrote {tr.Count:N0} train and {te.Count:N0} test images of {Markup.Escape(name)} as PNG to [link]{Markup.Escape(o)}[/] " +
                $"({tr.ClassNames.Count} class folders each, {sw.Elapsed.TotalSeconds:0.0} s). Train on it: fastconv train --data folder --data-dir {Markup.Escape(o)}");
            return 0;
        });
        return new Command("data", "Data sets: export one as an image folder.") { export };
    }
}
