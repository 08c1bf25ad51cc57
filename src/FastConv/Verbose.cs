using System.Diagnostics;

namespace FastConv;

/// <summary>
/// FASTCONV_VERBOSE=1 logs every op that runs, its implementation, its shape and its wall time to stderr, as
/// oneDNN's verbose mode does: <c>fastconv_verbose,exec,{implementation},{op},{shape},{ms}</c>.
/// </summary>
public static class Verbose
{
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("FASTCONV_VERBOSE") is "1" or "true";

    /// <summary>Where lines go; stderr unless a test or tool redirects it.</summary>
    public static TextWriter Writer { get; set; } = Console.Error;

    /// <summary>Starts timing an op; the line is written when the scope is disposed, after the op ran.
    /// Disabled: returns an empty scope and costs one branch.</summary>
    public static Scope Op(string implementation, string op, object desc) =>
        Enabled ? new Scope(implementation, op, desc, Stopwatch.GetTimestamp()) : default;

    public readonly struct Scope(string? implementation, string? op, object? desc, long start) : IDisposable
    {
        public void Dispose()
        {
            if (implementation is null) return;
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            Writer.WriteLine(FormattableString.Invariant($"fastconv_verbose,exec,{implementation},{op},{desc},{ms:0.###}"));
        }
    }
}
