namespace FastConv.Tests.Support;

/// <summary>A fresh temporary folder per test (<see cref="Dir"/>), deleted afterwards, for tests that write files.</summary>
public abstract class TempDirectoryTests
{
    protected string Dir { get; private set; } = "";

    [SetUp]
    public void CreateTempDirectory() => Dir = Directory.CreateTempSubdirectory($"fastconv-{GetType().Name}-").FullName;

    [TearDown]
    public void DeleteTempDirectory()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}
