namespace FastConv.Tests.Core;

/// <summary>The README's C# example compiles and runs here, and the README shows this code verbatim, so the two cannot
/// drift; the README also keeps the one test command that .ci/run runs.</summary>
[TestFixture]
public class ReadmeExampleTests
{
    private const string Begin = "// README example begin", End = "// README example end";
    private const string TestCommand = "dotnet test FastConv.sln -c Release";

    [Test]
    public void Example_Runs_AndTheIdentityFilterGivesBackItsInput()
    {
        // README example begin
        IBackend be = BackendRegistry.Get("auto");
        var d = new Conv2dDesc(n: 1, c: 1, h: 4, w: 4, k: 1, r: 3, s: 3, stride: 1, padding: 1);
        using IConv2dPlan conv = be.CreateConv2d(d);          // validated and planned once, run many times
        using Tensor x = be.Allocate(d.InputShape), w = be.Allocate(d.WeightShape),
                     b = be.Allocate(d.BiasShape), y = be.Allocate(d.OutputShape);
        x.CopyFrom(Enumerable.Range(0, 16).Select(i => (float)i).ToArray());
        w.CopyFrom([0, 0, 0, 0, 1, 0, 0, 0, 0]);              // the identity filter: y = x
        conv.Forward(x, w, b, y);
        float[] result = y.ToArray();                         // 0, 1, …, 15
        Console.WriteLine($"{conv.Implementation}: {string.Join(" ", result)}");
        // README example end

        Assert.That(result, Is.EqualTo(Enumerable.Range(0, 16).Select(i => (float)i).ToArray()), "y = x for the identity filter");
        Assert.That(conv.Implementation, Does.StartWith(be.Name.Split(':')[0] + ":"), "the plan names the backend that ran it");
    }

    [Test]
    public void Readme_ShowsTheExampleVerbatim()
    {
        string root = RepoRoot();
        var source = File.ReadAllLines(Path.Combine(root, "tests", "FastConv.Tests", "Core", "ReadmeExampleTests.cs"));
        int from = Array.FindIndex(source, l => l.Trim() == Begin), to = Array.FindIndex(source, l => l.Trim() == End);
        Assert.That(from >= 0 && to > from, Is.True, $"the markers '{Begin}' and '{End}' in this file");
        var body = source[(from + 1)..to];
        int indent = body.Where(l => l.Trim().Length > 0).Min(l => l.Length - l.TrimStart().Length);
        var expected = body.Select(l => l.Length >= indent ? l[indent..].TrimEnd() : l.Trim()).ToArray();

        var readme = File.ReadAllLines(Path.Combine(root, "README.md"));
        int marker = Array.FindIndex(readme, l => l.Contains("ReadmeExampleTests.cs"));
        Assert.That(marker, Is.GreaterThanOrEqualTo(0), "README.md names this test beside its C# example");
        int open = Array.FindIndex(readme, marker, l => l.Trim() == "```csharp");
        Assert.That(open, Is.GreaterThan(marker), "a ```csharp block follows that line in README.md");
        int close = Array.FindIndex(readme, open + 1, l => l.Trim() == "```");
        Assert.That(close, Is.GreaterThan(open), "the README's ```csharp block is closed");
        var shown = readme[(open + 1)..close].Select(l => l.TrimEnd()).ToArray();

        for (int i = 0; i < Math.Min(expected.Length, shown.Length); i++)
            Assert.That(shown[i], Is.EqualTo(expected[i]), $"README.md line {open + 2 + i} differs from the tested example");
        Assert.That(shown.Length, Is.EqualTo(expected.Length), "README's example has as many lines as the tested one");
    }

    [Test]
    public void Readme_KeepsOneTestCommand_TheOneCiRuns()
    {
        string root = RepoRoot(), readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int count = System.Text.RegularExpressions.Regex.Matches(readme, System.Text.RegularExpressions.Regex.Escape(TestCommand)).Count;
        Assert.That(count, Is.EqualTo(1), $"README.md shows '{TestCommand}' exactly once");
        Assert.That(File.ReadAllText(Path.Combine(root, ".ci", "run")), Does.Contain(TestCommand + " "), ".ci/run runs the README's test command");
    }

    /// <summary>The folder above the test binaries that holds FastConv.sln and README.md.</summary>
    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastConv.sln")) && File.Exists(Path.Combine(dir.FullName, "README.md")))
                return dir.FullName;
        throw new DirectoryNotFoundException($"No folder above {AppContext.BaseDirectory} holds FastConv.sln and README.md.");
    }
}
