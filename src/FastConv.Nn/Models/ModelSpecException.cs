namespace FastConv.Nn;

/// <summary>
/// A model spec that does not parse or does not fit its input. <see cref="Exception.Message"/> has three lines: what was
/// wrong, the spec, and a caret under the token (columns [<see cref="Column"/>, Column + <see cref="Length"/>)), so a
/// caller that prints the message whole shows where the problem is; the CLI does.
/// </summary>
public sealed class ModelSpecException(string spec, int column, int length, string reason)
    : ArgumentException($"Model spec: {reason}\n  {spec}\n  {new string(' ', Math.Min(column, spec.Length))}{new string('^', Math.Max(1, length))}", "spec")
{
    /// <summary>The whole spec as given.</summary>
    public string Spec { get; } = spec;
    /// <summary>Where the offending token starts, 0-based (the message counts from 1).</summary>
    public int Column { get; } = column;
    /// <summary>How many characters the caret marks.</summary>
    public int Length { get; } = Math.Max(1, length);
    /// <summary>The first line without "Model spec: ".</summary>
    public string Reason { get; } = reason;

    /// <summary>The three lines, without ArgumentException's " (Parameter 'spec')" suffix.</summary>
    public override string Message => base.Message.Replace(" (Parameter 'spec')", "");
}
