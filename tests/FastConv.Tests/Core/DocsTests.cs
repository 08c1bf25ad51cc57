using System.Text.RegularExpressions;

namespace FastConv.Tests.Core;

/// <summary>The README and docs/ stay navigable: every relative link resolves, and docs/perf/README.md indexes every
/// measurement file beside it.</summary>
[TestFixture]
public partial class DocsTests
{
    [GeneratedRegex(@"\]\((?!https?:|mailto:|#)([^)\s#]+)(#[^)]*)?\)")] private static partial Regex RelativeLink();

    [Test]
    public void RelativeLinks_InTheReadmeAndDocs_Resolve()
    {
        string root = ReadmeExampleTests.RepoRoot();
        var files = new[] { Path.Combine(root, "README.md"), Path.Combine(root, "perf", "FastConv.Perf.Peers", "README.md") }
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories));
        var broken = (from f in files
                      from Match m in RelativeLink().Matches(File.ReadAllText(f))
                      let target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(f)!, m.Groups[1].Value))
                      where !File.Exists(target) && !Directory.Exists(target)
                      select $"{Path.GetRelativePath(root, f)} -> {m.Groups[1].Value}").ToList();
        Assert.That(broken, Is.Empty, "links to files that do not exist");
    }

    [Test]
    public void PerfIndex_ListsEveryMeasurement()
    {
        string dir = Path.Combine(ReadmeExampleTests.RepoRoot(), "docs", "perf");
        string index = File.ReadAllText(Path.Combine(dir, "README.md"));
        var missing = Directory.EnumerateFiles(dir, "*.md").Select(Path.GetFileName)
            .Where(n => n != "README.md" && !index.Contains($"]({n})")).ToList();
        Assert.That(missing, Is.Empty, "docs/perf files without a row in docs/perf/README.md's index");
    }
}
