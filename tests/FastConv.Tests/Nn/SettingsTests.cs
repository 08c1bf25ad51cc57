using FastConv.Nn;
using NUnit.Framework;

namespace FastConv.Tests.Nn;

/// <summary>The training settings word their errors with their own property names (a library user never sees a
/// command-line flag); the template names them in braces so the CLI can put its flags there.</summary>
public sealed class SettingsTests
{
    private static IEnumerable<TestCaseData> BadSettings()
    {
        var ok = new RunSettings();
        yield return new TestCaseData(ok with { Epochs = 0 }, nameof(RunSettings.Epochs), "Epochs must be at least 1, got 0.");
        yield return new TestCaseData(ok with { Lr = -1 }, nameof(RunSettings.Lr), "Lr must be greater than 0, got -1.");
        yield return new TestCaseData(ok with { Batch = 0 }, nameof(RunSettings.Batch), "Batch must be at least 1, got 0.");
        yield return new TestCaseData(ok with { WeightDecay = -1 }, nameof(RunSettings.WeightDecay), "WeightDecay must be at least 0, got -1.");
        yield return new TestCaseData(ok with { Momentum = 1 }, nameof(RunSettings.Momentum), "Momentum must be in [0, 1), got 1.");
        yield return new TestCaseData(ok with { Model = "x" }, nameof(RunSettings.Model), "Model 'x' is not a model");
        yield return new TestCaseData(ok with { Data = "cifar10" }, nameof(RunSettings.DataDir), "DataDir is needed for CIFAR-10");
        yield return new TestCaseData(ok with { Data = "folder" }, nameof(RunSettings.DataDir), "DataDir is needed for image folders");
        yield return new TestCaseData(ok with { Channels = 2 }, nameof(RunSettings.Channels), "Channels must be 1 or 3, got 2.");
        yield return new TestCaseData(ok with { TestFraction = 1 }, nameof(RunSettings.TestFraction), "TestFraction must be between 0 and 1");
        yield return new TestCaseData(ok with { Augment = "warp" }, nameof(RunSettings.Augment), "Augment 'warp' is not an augmentation");
        yield return new TestCaseData(ok with { Tta = "crop" }, nameof(RunSettings.Tta), "Tta 'crop' is not a test-time augmentation");
        yield return new TestCaseData(ok with { LabelSmoothing = 1 }, nameof(RunSettings.LabelSmoothing), "LabelSmoothing must be in [0, 1), got 1.");
        yield return new TestCaseData(ok with { LabelSmoothing = -0.1f }, nameof(RunSettings.LabelSmoothing), "LabelSmoothing must be in [0, 1), got -0.1.");
        yield return new TestCaseData(ok with { Loss = "svm", LabelSmoothing = 0.1f }, nameof(RunSettings.LabelSmoothing), "LabelSmoothing applies to the softmax loss only");
    }

    [TestCaseSource(nameof(BadSettings))]
    public void Validate_NamesTheProperty_NotAFlag(RunSettings s, string setting, string message)
    {
        var e = Assert.Throws<SettingException>(s.Validate)!;
        Assert.That(e.Setting, Is.EqualTo(setting));
        Assert.That(e.ParamName, Is.EqualTo(setting));
        Assert.That(e.Message, Does.StartWith(message));
        Assert.That(e.Message, Does.Not.Contain("--"));
        Assert.That(e.Template, Does.StartWith("{" + setting + "} "));
    }

    [Test]
    public void Tta_AutoMirrorsWhenTrainingFlips_IsStored_AndOlderCheckpointsTestTheImagesAlone()
    {
        Assert.That(new RunSettings().MirrorAverage, Is.False, "the default run does not flip, so it tests the images alone");
        Assert.That(new RunSettings { Augment = "flip" }.MirrorAverage, Is.True);
        Assert.That(new RunSettings { Augment = "flip", Tta = "none" }.MirrorAverage, Is.False);
        Assert.That(new RunSettings { Tta = "flip" }.MirrorAverage, Is.True);
        Assert.That(new RunSettings { Data = "cifar10", DataDir = "d" }.MirrorAverage, Is.True, "auto augmentation on CIFAR-10 is crop-flip");
        Assert.That(RunSettings.Recipe("resnet20", "fashion-mnist")!.MirrorAverage, Is.True);
        var d = new RunSettings { Tta = "flip" }.ToDictionary();
        Assert.That(RunSettings.FromDictionary(d).Tta, Is.EqualTo("flip"));
        d.Remove("tta");
        Assert.That(RunSettings.FromDictionary(d).Tta, Is.EqualTo("none"));
    }

    [Test]
    public void LabelSmoothing_IsStored_AndOlderCheckpointsTrainedWithout()
    {
        var d = new RunSettings { LabelSmoothing = 0.1f }.ToDictionary();
        Assert.That(d["label_smoothing"], Is.EqualTo("0.1"));
        Assert.That(RunSettings.FromDictionary(d).LabelSmoothing, Is.EqualTo(0.1f));
        d.Remove("label_smoothing");
        Assert.That(RunSettings.FromDictionary(d).LabelSmoothing, Is.EqualTo(0f));
        d["label_smoothing"] = "much";
        Assert.That(() => RunSettings.FromDictionary(d), Throws.TypeOf<CheckpointException>().With.Message.Contains("'label_smoothing' = 'much'"));
    }

    [Test]
    public void Render_PutsAFrontEndsWordsForEveryNamedSetting()
    {
        var e = new SettingException(nameof(RunSettings.ImageSize), "6 is too small (choose a larger {ImageSize} or another {Model}).");
        Assert.That(e.Render(n => $"<{n}>"), Is.EqualTo("<ImageSize> 6 is too small (choose a larger <ImageSize> or another <Model>)."));
        Assert.That(e.Message, Does.StartWith("ImageSize 6 is too small (choose a larger ImageSize or another Model)."));
    }
}
