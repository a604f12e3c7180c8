using System.Text.RegularExpressions;

namespace Milter.Filters.Ban;

/// <summary>
/// Regexes from the configuration, built so that no input can stall a session: the
/// non-backtracking engine (linear in the input), or, for the few constructs it lacks
/// (backreferences, lookarounds), the backtracking engine with a match timeout.
/// </summary>
internal static class PatternRegex
{
    /// <summary>How long a backtracking pattern may run on one input before it throws.</summary>
    internal static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    /// <exception cref="FormatException">The pattern is not a valid .NET regex.</exception>
    public static Regex Create(string pattern, RegexOptions options)
    {
        options |= RegexOptions.CultureInvariant;
        try
        {
            return new Regex(pattern, options | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            // Fall through to the backtracking engine with a timeout.
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"'{pattern}' is not a valid regular expression: {ex.Message}", ex);
        }
        try
        {
            return new Regex(pattern, options, MatchTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"'{pattern}' is not a valid regular expression: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// <c>/body/flags</c> as written in the configuration; flags <c>i</c> (ignore case),
    /// <c>m</c> (multi-line), <c>s</c> (dot matches newline), <c>x</c> (ignore pattern whitespace).
    /// </summary>
    /// <exception cref="FormatException">No closing slash, an unknown flag, or a bad regex.</exception>
    public static Regex FromSlashed(string text)
    {
        if (text.Length < 2 || text[0] != '/')
            throw new FormatException($"'{text}' is not written /regex/flags");
        var close = text.LastIndexOf('/');
        if (close == 0)
            throw new FormatException($"'{text}' has no closing '/'");
        var options = RegexOptions.None;
        foreach (var flag in text[(close + 1)..])
        {
            options |= flag switch
            {
                'i' => RegexOptions.IgnoreCase,
                'm' => RegexOptions.Multiline,
                's' => RegexOptions.Singleline,
                'x' => RegexOptions.IgnorePatternWhitespace,
                _ => throw new FormatException($"'{text}': unknown regex flag '{flag}' (known: i, m, s, x)"),
            };
        }
        if (close == 1)
            throw new FormatException($"'{text}' is an empty regex");
        return Create(text[1..close], options);
    }
}
