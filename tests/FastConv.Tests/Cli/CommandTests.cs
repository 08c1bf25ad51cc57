using FastConv.Tests.Support;
using FastConv.Cli;
using FastConv.Nn;

namespace FastConv.Tests.Cli;

/// <summary>The `fastconv` command: bad arguments give one clear line and a non-zero exit, never a stack trace.</summary>
[TestFixture, NonParallelizable]
public class CommandTests : TempDirectoryTests
{
    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o); Console.SetError(e);
        try
        {
            Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Out = new Spectre.Console.AnsiConsoleOutput(o), Interactive = Spectre.Console.InteractionSupport.No,
                Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
            });
            int code = Commands.Run(args);
            return (code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(oldOut); Console.SetError(oldErr);
        }
    }

    [TestCase("train --lr 0", "--lr must be greater than 0")]
    [TestCase("train --lr -0.5", "--lr must be greater than 0")]
    [TestCase("train --batch 0", "--batch must be at least 1")]
    [TestCase("train --model resnet-9000", "--model 'resnet-9000' is not a model")]
    [TestCase("train --optimizer rmsprop", "--optimizer 'rmsprop' is not an optimizer")]
    [TestCase("train --data-dir /nonexistent/fashion", "Fashion-MNIST directory not found: /nonexistent/fashion")]
    [TestCase("train --data cifar10", "--data-dir is needed for CIFAR-10")]
    [TestCase("train --weight-decay -1", "--weight-decay must be at least 0")]
    [TestCase("train --label-smoothing 1", "--label-smoothing must be in [0, 1), got 1.")]
    [TestCase("train --loss svm --label-smoothing 0.1", "--label-smoothing applies to the softmax loss only")]
    [TestCase("train --backend tpu", "Unknown backend 'tpu'")]
    [TestCase("train --threads 0", "--threads must be at least 1")]
    [TestCase("train --resume /nonexistent/run", "--resume /nonexistent/run does not exist.")]
    [TestCase("eval --checkpoint /nonexistent.ckpt", "Checkpoint not found")]
    [TestCase("summary --model lenet-9000", "lenet-9000")]
    [TestCase("shape --input 3,5,5 --kernel 7 --pad 0", "output height (5 - 7 + 2*0)/1 + 1 = -1")]
    [TestCase("shape --input 227x227,3", "mixes ',' and 'x'")]
    [TestCase("shape --input 227x0x3", "'0' is not a positive size")]
    [TestCase("summary --format xml", "--format must be table, csv or markdown, got 'xml'")]
    public void BadArguments_OneLine_NonZeroExit(string args, string message)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.That(code, Is.Not.Zero);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), err);
        Assert.That(lines[0], Does.StartWith("fastconv: error: ").And.Contain(message));
        Assert.That(err, Does.Not.Contain("   at "), "no stack trace");
    }

    // A model spec's error is the reason, the spec and a caret under the token, on every command that takes one.
    [TestCase("shape --layers conv3-64,blorp", "cannot read 'blorp' at 10", "conv3-64,blorp", "         ^^^^^")]
    [TestCase("shape --layers [conv3-8,relu", "never closed", "[conv3-8,relu", "^")]
    [TestCase("shape --input 8x8x3 --layers conv9-8-p0", "'conv9-8-p0' does not fit its input [3, 8, 8]", "conv9-8-p0", "^^^^^^^^^^")]
    [TestCase("summary --model [conv3-32,relu]*2,pol2,fc", "cannot read 'pol2' at 19", "[conv3-32,relu]*2,pol2,fc", "                  ^^^^")]
    [TestCase("train --epochs 1 --model conv3-8,relu,fc-x", "cannot read 'fc-x' at 14", "conv3-8,relu,fc-x", "             ^^^^")]
    public void BadModelSpec_PointsAtTheToken(string args, string message, string spec, string caret)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.That(code, Is.Not.Zero);
        var lines = err.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(3), err);
        Assert.That(lines[0], Does.StartWith("fastconv: error: Model spec: ").And.Contain(message));
        Assert.That(lines[1], Is.EqualTo("  " + spec));
        Assert.That(lines[2], Is.EqualTo("  " + caret), "the caret is under the token");
    }

    [Test]
    public void Divergence_IsReportedInOneLine()
    {
        var (code, _, err) = Run("train", "--limit", "500", "--validation", "100", "--batch", "50", "--optimizer", "sgd", "--lr", "1000", "--out", Dir);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(err.Trim(), Does.StartWith("fastconv: error: Training diverged: loss is").And.Contain("Try a smaller learning rate"));
    }

    [TestCase("train --epochs many")]
    [TestCase("train --no-such-option 1")]
    public void UnparsableArguments_Exit2_WithHint(string args)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(err, Does.Contain("fastconv: error: ").And.Contain("See: fastconv train --help"));
    }

    [Test]
    public void Summary_Vgg16_MatchesTheNotes()
    {
        var (code, output, _) = Run("summary", "--model", "vgg16");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("138,357,544").And.Contain("102,764,544"), "FC1: 7·7·512·4096 weights + 4096 biases");
    }

    [Test]
    public void Info_ListsBackends()
    {
        var (code, output, _) = Run("info");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("managed:").And.Contain("reference").And.Contain("auto"));
    }

    [Test]
    public void Train_Tiny_Then_Eval()
    {
        string dir = Path.Combine(Dir, "run");
        try
        {
            var (code, output, err) = Run("train", "--epochs", "1", "--limit", "500", "--validation", "100", "--batch", "50", "--out", dir, "--threads", "1");
            Assert.That(code, Is.Zero, err);
            Assert.That(output, Does.Contain("Test accuracy of best.ckpt").And.Contain("images/s"));
            var (ecode, eout, eerr) = Run("eval", "--checkpoint", Path.Combine(dir, "best.ckpt"));
            Assert.That(ecode, Is.Zero, eerr);
            Assert.That(eout, Does.Contain("Confusion matrix").And.Contain("Ankle boot").And.Contain("Per-class accuracy"));
            var (vcode, vout, verr) = Run("visualize", "--checkpoint", Path.Combine(dir, "best.ckpt"), "--image", "3");
            Assert.That(vcode, Is.Zero, verr);
            Assert.That(vout, Does.Contain("Test image 3: Trouser"));
            foreach (var png in new[] { "filters.png", "activations-conv1.png", "activations-conv2.png", "input.png", "saliency.png", "occlusion.png", "curves.png" })
                Assert.That(new FileInfo(Path.Combine(dir, png)).Length, Is.GreaterThan(1000), png);
            // The run folder's errors come from the library with its setting names; the CLI words them with its flags.
            var (again, _, aerr) = Run("train", "--epochs", "1", "--limit", "500", "--out", dir);
            Assert.That(again, Is.EqualTo(1));
            Assert.That(aerr.TrimEnd(), Is.EqualTo($"fastconv: error: --out {dir} already holds a run (last.ckpt, best.ckpt); continue it with --resume {dir}, or choose another --out."));
            var (done, _, derr) = Run("train", "--resume", dir);
            Assert.That(done, Is.EqualTo(1));
            Assert.That(derr.TrimEnd(), Is.EqualTo($"fastconv: error: --resume {dir} has already finished 1 of 1 epochs; pass --epochs with a larger number to go on."));
            var (bad, _, berr) = Run("visualize", "--checkpoint", Path.Combine(dir, "best.ckpt"), "--image", "10000");
            Assert.That(bad, Is.EqualTo(1));
            Assert.That(berr.TrimEnd(), Is.EqualTo("fastconv: error: --image must be in [0, 10000) (the test images)."), "one line, no parameter name");
        }
        finally
        {
            Parallelism.Threads = Environment.ProcessorCount;
        }
    }

    [Test]
    public void Train_Resnet20_TakesThePapersRecipe_WithFlipsOnFashionMnist()
    {
        string dir = Path.Combine(Dir, "r20");
        try
        {
            var (code, output, err) = Run("train", "--model", "resnet20", "--epochs", "1", "--limit", "300", "--validation", "30", "--batch", "30",
                "--out", dir, "--threads", "1");
            Assert.That(code, Is.Zero, err);
            Assert.That(output, Does.Contain("resnet20: the paper's recipe where not given: sgd lr 0.1, momentum 0.9, weight decay 0.0001, batch 30, " +
                                             "multistep schedule, flip augmentation."));
            string last = Path.Combine(dir, TrainingRun.LastCheckpoint);
            Assert.That(Checkpoint.Load(last).Settings["augment"], Is.EqualTo("flip"));
            // trained with flips, so validated and tested on each image and its mirror (--tta auto), with the single view beside
            Assert.That(Checkpoint.Load(last).Settings["tta"], Is.EqualTo("auto"));
            Assert.That(output, Does.Contain("validation and test average each image's scores with its mirror image's"));
            Assert.That(output, Does.Match(@"Test accuracy of best\.ckpt \(epoch 1\): [\d.]+ % \(each image's scores averaged with its mirror image's; the images alone: [\d.]+ %\)"));
            var (evalCode, evalOut, evalErr) = Run("eval", "--checkpoint", last, "--tta", "none", "--threads", "1");
            Assert.That(evalCode, Is.Zero, evalErr);
            Assert.That(evalOut, Does.Contain("Test accuracy").And.Not.Contain("mirror"));
            var (badCode, _, badErr) = Run("eval", "--checkpoint", last, "--tta", "crop");
            Assert.That(badCode, Is.EqualTo(1));
            Assert.That(badErr, Does.Contain("--tta 'crop' is not a test-time augmentation: use auto, none or flip."));
        }
        finally
        {
            Parallelism.Threads = Environment.ProcessorCount;
        }
    }

    [Test]
    public void Resume_ContinuesOnTheBackendAndThreadsThatTrainedTheRun()
    {
        if (!string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("FASTCONV_THREADS")))
            Assert.Ignore("FASTCONV_THREADS is set: it chooses the thread count of a resume, so the stored one is not used.");
        string dir = Path.Combine(Dir, "run"), last = Path.Combine(dir, "last.ckpt");
        string[] tiny = ["--limit", "500", "--validation", "100", "--batch", "50"];
        try
        {
            var (code, _, err) = Run(["train", "--epochs", "1", .. tiny, "--out", dir, "--backend", "managed", "--threads", "1"]);
            Assert.That(code, Is.Zero, err);
            Assert.That(RunExecution.Of(Checkpoint.Load(last).Settings), Is.EqualTo(new RunExecution("managed", 1, 1)));

            // Neither option given: the checkpoint's backend and thread count, not this process's defaults.
            Parallelism.Threads = 3;
            var (rcode, rout, rerr) = Run("train", "--resume", dir, "--epochs", "2");
            Assert.That(rcode, Is.Zero, rerr);
            Assert.That(rout, Does.Contain($"Resuming {dir} after epoch 1 of 2.").And.Not.Contain("Trained on"));
            Assert.That(Parallelism.Threads, Is.EqualTo(1));
            Assert.That(RunExecution.Of(Checkpoint.Load(last).Settings), Is.EqualTo(new RunExecution("managed", 1, 1)));

            // Another thread count, asked for: it is used, stored, and the output says the bits will differ.
            var (tcode, tout, terr) = Run("train", "--resume", dir, "--epochs", "3", "--threads", "2");
            Assert.That(tcode, Is.Zero, terr);
            Assert.That(tout, Does.Contain("Trained on backend managed, 1 thread(s); continuing on backend managed, 2 thread(s), as asked"));
            Assert.That(RunExecution.Of(Checkpoint.Load(last).Settings), Is.EqualTo(new RunExecution("managed", 2, 1)));

            // A backend this machine does not have: one line that says so and how to go on, and the folder is untouched.
            var ck = Checkpoint.Load(last);
            ck.Settings["backend"] = "tpu";
            ck.Save(last);
            byte[] before = File.ReadAllBytes(last);
            var (bcode, _, berr) = Run("train", "--resume", dir, "--epochs", "4");
            Assert.That(bcode, Is.EqualTo(1));
            Assert.That(berr.TrimEnd(), Does.StartWith($"fastconv: error: --resume {dir} was trained on backend tpu, which cannot run here: Unknown backend 'tpu'.")
                                            .And.EndWith("Pass --backend to continue on another (the rest of the run will not repeat the original bit for bit)."));
            Assert.That(File.ReadAllBytes(last), Is.EqualTo(before));
        }
        finally
        {
            Parallelism.Threads = Environment.ProcessorCount;
        }
    }
}
