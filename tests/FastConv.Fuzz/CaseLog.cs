using System.Text.RegularExpressions;
using FastConv.Nn;
using FastConv.Nn.Data;

namespace FastConv.Fuzz;

/// <summary>What kind of finding a case produced; the parent counts each kind per target.</summary>
public static class FindingKind
{
    public const string Crash = "crash";                    // the child process died (segfault, abort, stack overflow)
    public const string Hang = "hang";                      // the child ran one case past the timeout
    public const string WrongResult = "wrong-result";       // a valid call's result differs from the reference
    public const string AcceptedInvalid = "accepted-invalid";  // an invalid descriptor, argument or call was accepted
    public const string RefusedValid = "refused-valid";     // a valid call was refused
    public const string BadException = "bad-exception";     // a refusal of a type the rules do not allow
    public const string UnnamedArgument = "unnamed-argument";  // a refusal whose message names neither the argument nor the file
    public const string HugeAllocation = "huge-allocation"; // a reader allocated far more than its file could justify

    public static readonly string[] All = [Crash, Hang, WrongResult, AcceptedInvalid, RefusedValid, BadException, UnnamedArgument, HugeAllocation];
}

/// <summary>
/// The child's side of the protocol, one line each on stdout, flushed: <c>B i desc</c> before case i runs (so a crash or a
/// hang is pinned to it), <c>F i kind text</c> per finding, <c>E i calls refusals compared</c> when it is done.
/// </summary>
public sealed class CaseLog(TextWriter output, int index)
{
    public int Index { get; } = index;
    public int Calls { get; private set; }
    public int Refusals { get; private set; }
    public int Compared { get; private set; }
    public int Findings { get; private set; }
    /// <summary>Replaying one case (<c>repro</c>): every step is printed.</summary>
    public bool Verbose { get; init; }

    public void Begin(string description) { output.WriteLine($"B {Index} {OneLine(description)}"); output.Flush(); }

    public void Step(string what) { if (Verbose) { output.WriteLine($"  step: {what}"); output.Flush(); } }

    public void Finding(string kind, string text)
    {
        Findings++;
        output.WriteLine($"F {Index} {kind} {OneLine(text)}");
        output.Flush();
    }

    public void End() { output.WriteLine($"E {Index} {Calls} {Refusals} {Compared}"); output.Flush(); }

    public void Call() => Calls++;
    public void Refused() => Refusals++;
    public void ComparedOne() => Compared++;

    private static string OneLine(string s) => s.ReplaceLineEndings(" | ");

    /// <summary>
    /// The refusal rules of issue 19: an <see cref="ArgumentException"/> (and subclasses), <see cref="NotSupportedException"/>,
    /// <see cref="OutOfMemoryException"/>, <see cref="ObjectDisposedException"/> or a FastConv exception, whose message names
    /// one of <paramref name="names"/> (the argument, or for a descriptor the op). Returns true when <paramref name="e"/> is an
    /// allowed refusal; records a finding otherwise.
    /// </summary>
    public bool CheckRefusal(Exception e, string call, params string[] names)
    {
        if (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) e = inner;
        if (!AllowedType(e))
        {
            Finding(FindingKind.BadException, $"{call}: {e.GetType().FullName}: {e.Message} at {FirstFrame(e)}");
            return false;
        }
        if (e is OutOfMemoryException || NamesOne(e, names)) { Refused(); return true; }
        Finding(FindingKind.UnnamedArgument, $"{call}: {e.GetType().Name} names none of [{string.Join(", ", names)}]: {e.Message}");
        return false;
    }

    public static bool AllowedType(Exception e) =>
        e is ArgumentException or NotSupportedException or OutOfMemoryException or ObjectDisposedException
          or BackendUnavailableException or CheckpointException or DataFormatException or ImageFolderException or SettingException
        || e.GetType().Namespace?.StartsWith("FastConv", StringComparison.Ordinal) == true;

    public static bool NamesOne(Exception e, string[] names)
    {
        string? param = e is ArgumentException a ? a.ParamName : e is ObjectDisposedException o ? o.ObjectName : null;
        foreach (var n in names)
            if (param == n || Regex.IsMatch(e.Message, $@"(?<![A-Za-z0-9_]){Regex.Escape(n)}(?![A-Za-z0-9_])")) return true;
        return false;
    }

    public static string FirstFrame(Exception e) =>
        e.StackTrace?.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "(no stack)";
}
