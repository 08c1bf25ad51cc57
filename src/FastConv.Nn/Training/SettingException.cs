using System.Text.RegularExpressions;

namespace FastConv.Nn;

/// <summary>
/// A setting that cannot be used, worded with the settings' own property names: <see cref="Template"/> writes each
/// name in braces ("{Epochs} must be at least 1, got 0."), <see cref="Exception.Message"/> without them ("Epochs must
/// be at least 1, got 0."), and a front end renders the template with its own words for them (the CLI: its flags).
/// </summary>
public sealed partial class SettingException : ArgumentException
{
    /// <param name="setting">The property at fault (also <see cref="ArgumentException.ParamName"/>).</param>
    /// <param name="rule">What is wrong with it, after its name; may name other settings in braces.</param>
    public SettingException(string setting, string rule) : base(Render("{" + setting + "} " + rule, n => n), setting)
    {
        Setting = setting;
        Template = "{" + setting + "} " + rule;
    }

    public string Setting { get; }
    public string Template { get; }

    /// <summary>The template with each setting worded by <paramref name="word"/>.</summary>
    public string Render(Func<string, string> word) => Render(Template, word);

    /// <summary><paramref name="template"/> with each {Name} (a capitalised property name in braces) replaced by
    /// <paramref name="word"/>(Name); also used by other errors that name settings (<see cref="Data.ImageFolderException"/>).</summary>
    public static string Render(string template, Func<string, string> word) =>
        Name().Replace(template, m => word(m.Groups[1].Value));

    [GeneratedRegex(@"\{([A-Z][A-Za-z]*)\}")]
    private static partial Regex Name();
}
