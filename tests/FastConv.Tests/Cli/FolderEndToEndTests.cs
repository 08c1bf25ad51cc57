using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FastConv.Nn.Data;
using FastConv.Tests.Support;

namespace FastConv.Tests.Cli;

/// <summary>Issue 15 end to end through the `fastconv` command: export 2,000 Fashion-MNIST images as PNG, train on the
/// folder, predict the exported test images; and the folder commands' bad input, each in one line.</summary>
[TestFixture, NonParallelizable]
public class FolderEndToEndTests : TempDirectoryTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => CommandTests.Run(args);

    private string Export(int train = 1600, int test = 400)
    {
        string dir = Path.Combine(Dir, "fm");
        var (code, output, err) = Run("data", "export", "fashion-mnist", "--out", dir, "--train", $"{train}", "--test", $"{test}");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain($"Wrote {train:N0} train and {test:N0} test images"));
        return dir;
    }

    [Test]
    public void Export_TrainOnTheFolder_PredictTheTestImages()
    {
        string data = Export();
        Assert.That(Directory.EnumerateFiles(data, "*.png", SearchOption.AllDirectories).Count(), Is.EqualTo(2000));
        Assert.That(Directory.GetDirectories(Path.Combine(data, "test")).Select(Path.GetFileName).Order(StringComparer.Ordinal),
            Is.EqualTo(ImageFolder.FolderNames(FashionMnist.ClassNames).Order(StringComparer.Ordinal)));

        // Every exported test image decodes to the IDX pixels of the image its name gives.
        var (_, idxTest) = FashionMnist.Load(FashionMnist.FindShipped()!);
        var folder = ImageFolder.Load(data, new ImageFolderOptions { CacheDir = Path.Combine(Dir, "cache") });
        Assert.That((folder.ImageSize, folder.Channels, folder.HasTestFolder), Is.EqualTo((28, 1, true)));
        var testFiles = ImageFolder.Discover(data).Files.Where(f => f.Test).ToList();
        for (int j = 0; j < testFiles.Count; j++)
        {
            int index = int.Parse(Path.GetFileNameWithoutExtension(testFiles[j].Path), CultureInfo.InvariantCulture);
            Assert.That(folder.Test.Image(j).ToArray(), Is.EqualTo(idxTest.Image(index).ToArray()), testFiles[j].Path);
            Assert.That(folder.Test.ClassNames[folder.Test.Labels[j]], Is.EqualTo(ImageFolder.FolderNames(FashionMnist.ClassNames)[idxTest.Labels[index]]));
        }

        string run = Path.Combine(Dir, "run");
        var (code, output, err) = Run("train", "--data", "folder", "--data-dir", data, "--epochs", "2", "--validation", "160",
                                      "--cache-dir", Path.Combine(Dir, "cache"), "--out", run);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("Image folder: 10 classes, 1,600 train / 400 test images (test/ folder), 28x28, 1 channel").And.Contain("2,000 from the cache"));
        var accuracy = double.Parse(Regex.Match(output, @"Test accuracy of best\.ckpt \(epoch \d\): ([\d.]+) %").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.That(accuracy, Is.GreaterThan(65), "2 epochs on 1,440 images");

        // predict on the exported test images: top-1 agrees with training's own test evaluation of best.ckpt.
        (code, output, err) = Run("predict", "--checkpoint", Path.Combine(run, "best.ckpt"), Path.Combine(data, "test"), "--format", "csv", "--top", "2");
        Assert.That(code, Is.Zero, err);
        var rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(rows[0], Is.EqualTo("path,rank,class,probability"));
        Assert.That(rows, Has.Length.EqualTo(1 + 2 * 400));
        var firsts = rows.Skip(1).Select(r => r.Split(',')).Where(f => f[1] == "1").ToList();
        int correct = firsts.Count(f => Path.GetFileName(Path.GetDirectoryName(f[0])) == f[2]);
        Assert.That(100.0 * correct / firsts.Count, Is.EqualTo(accuracy).Within(0.3), "the same 400 images, the same preprocessing");
        Assert.That(err, Does.Contain("400 images in").And.Contain("images/s"));

        (code, output, _) = Run("predict", "--checkpoint", Path.Combine(run, "best.ckpt"), Path.Combine(data, "test", "Bag"), "--format", "json", "--top", "3");
        Assert.That(code, Is.Zero);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.That(json.GetArrayLength(), Is.EqualTo(Directory.GetFiles(Path.Combine(data, "test", "Bag")).Length));
        Assert.That(json[0].GetProperty("top").GetArrayLength(), Is.EqualTo(3));

        (code, output, _) = Run("predict", "--checkpoint", Path.Combine(run, "best.ckpt"), testFiles[0].Path, testFiles[1].Path);
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain(testFiles[1].Path).And.Contain("#3").And.Contain("2 images in"));
    }

    [Test]
    public void BadImage_StopsTraining_NamingIt_OrIsSkippedAndListed()
    {
        string data = Export(300, 100);
        string bad = Path.Combine(data, "train", "Coat", "broken.png");
        File.WriteAllText(bad, "not a png");
        string cache = Path.Combine(Dir, "cache");
        var (code, _, err) = Run("train", "--data", "folder", "--data-dir", data, "--epochs", "1", "--cache-dir", cache, "--out", Path.Combine(Dir, "r1"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(err, Does.StartWith("fastconv: error: 1 of 401 files").And.Contain(bad).And.Contain("--skip-bad-images"));

        (code, var output, err) = Run("train", "--data", "folder", "--data-dir", data, "--epochs", "1", "--skip-bad-images", "--cache-dir", cache,
                                      "--out", Path.Combine(Dir, "r2"), "--batch", "32");
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("Skipped 1 bad image file").And.Contain(bad));

        string ckpt = Path.Combine(Dir, "r2", "best.ckpt"), coats = Path.Combine(data, "train", "Coat");
        (code, _, err) = Run("predict", "--checkpoint", ckpt, coats);
        Assert.That((code, err), Is.EqualTo((1, $"fastconv: error: 1 of {Directory.GetFiles(coats).Length} files are not images FastConv can read " +
            $"(--skip-bad-images predicts the rest): {bad}: not an image SkiaSharp can decode (Unimplemented; 9 bytes starting 6E6F7420){Environment.NewLine}")));
        (code, output, err) = Run("predict", "--checkpoint", ckpt, coats, "--skip-bad-images");
        Assert.That(code, Is.Zero, err);
        Assert.That(err, Does.StartWith($"fastconv: skipped {bad}: not an image"));
        Assert.That(output, Does.Contain($"{Directory.GetFiles(coats).Length - 1} images in"));
    }

    [Test]
    public void FolderCommands_BadInput_OneLine()
    {
        string data = Export(200, 50);
        string notEmpty = data;
        foreach (var (args, message) in new[]
        {
            ("train --data folder", "--data-dir is needed for image folders"),
            ($"train --data folder --data-dir {Dir}/missing", "Image folder not found"),
            ($"train --data folder --data-dir {data} --channels 2", "--channels must be 1 or 3"),
            ($"train --data folder --data-dir {data} --test-fraction 1.5", "--test-fraction must be between 0 and 1"),
            ($"train --data folder --data-dir {data} --image-size 0", "--image-size must be at least 1"),
            ($"train --data folder --data-dir {data}/train/Bag", "has no class folders"),
            ($"data export fashion-mnist --out {notEmpty}", "already holds files"),
            ($"data export mnist --out {Dir}/x", "Unknown data set 'mnist'"),
            ($"predict --checkpoint {Dir}/none.ckpt {data}", "Checkpoint not found"),
            ($"predict --checkpoint {Dir}/none.ckpt {Dir}/nothing.png", "No such image file or folder"),
            ($"predict --checkpoint {Dir}/none.ckpt {data} --top 0", "--top must be at least 1"),
            ($"predict --checkpoint {Dir}/none.ckpt {data} --format xml", "Unknown format 'xml'"),
        })
        {
            var (code, _, err) = Run(args.Split(' '));
            Assert.That(code, Is.Not.Zero, args);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), args + ": " + err);
            Assert.That(lines[0], Does.StartWith("fastconv: error: ").And.Contain(message), args);
        }
    }
}
