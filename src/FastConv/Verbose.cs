namespace FastConv;

/// <summary>FASTCONV_VERBOSE=1 logs every op that runs and its implementation to stderr, as oneDNN's verbose mode does.</summary>
public static class Verbose
{
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("FASTCONV_VERBOSE") is "1" or "true";

    /// <summary>Where lines go; stderr unless a test or tool redirects it.</summary>
    public static TextWriter Writer { get; set; } = Console.Error;

    public static void Log(string implementation, string op, object desc)
    {
        if (Enabled) Writer.WriteLine($"fastconv_verbose,exec,{implementation},{op},{desc}");
    }
}
