using System.Text.RegularExpressions;

namespace MilterHost.Configuration;

/// <summary>
/// Regexes and address patterns from the configuration, checked the way the filters will build
/// them: the non-backtracking engine (linear time whatever the input), or, for the constructs it
/// lacks (backreferences, lookarounds), the backtracking engine with a match timeout.
/// </summary>
internal static class PatternSyntax
{
    /// <summary>How long a backtracking pattern may run on one input (the filters use the same bound).</summary>
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(250);

    /// <param name="offset">Where in <paramref name="pattern"/> the parser gave up, when it says.</param>
    public static bool TryRegex(string pattern, RegexOptions options, out Regex regex, out string error, out int? offset)
    {
        regex = null!;
        error = "";
        offset = null;
        options |= RegexOptions.CultureInvariant;
        try
        {
            try
            {
                regex = new Regex(pattern, options | RegexOptions.NonBacktracking);
            }
            catch (NotSupportedException)
            {
                regex = new Regex(pattern, options, MatchTimeout);
            }
            return true;
        }
        catch (RegexParseException ex)
        {
            offset = ex.Offset;
            error = $"invalid regex '{pattern}': {Reason(ex)} (at offset {ex.Offset})";
            return false;
        }
        catch (ArgumentException ex)
        {
            error = $"invalid regex '{pattern}': {ex.Message}";
            return false;
        }
    }

    /// <summary><c>/body/flags</c> with flags i, m, s, x; offsets are into the whole text.</summary>
    public static bool TrySlashed(string text, out Regex regex, out string error, out int? offset)
    {
        regex = null!;
        offset = null;
        var close = text.LastIndexOf('/');
        if (text.Length < 2 || text[0] != '/' || close == 0)
        {
            error = $"'{text}' has no closing '/'; write /regex/ or /regex/i";
            return false;
        }
        if (close == 1)
        {
            error = $"'{text}' is an empty regex";
            return false;
        }
        var options = RegexOptions.None;
        for (var i = close + 1; i < text.Length; i++)
        {
            var flag = text[i] switch
            {
                'i' => RegexOptions.IgnoreCase,
                'm' => RegexOptions.Multiline,
                's' => RegexOptions.Singleline,
                'x' => RegexOptions.IgnorePatternWhitespace,
                _ => (RegexOptions?)null,
            };
            if (flag is null)
            {
                offset = i;
                error = $"'{text}' has an unknown regex flag '{text[i]}' (known: i, m, s, x)";
                return false;
            }
            options |= flag.Value;
        }
        if (TryRegex(text[1..close], options, out regex, out error, out offset))
            return true;
        offset += 1;
        return false;
    }

    /// <summary>
    /// An envelope address pattern as the ban filter and <c>greylist.skip</c> take it: an address,
    /// a glob (<c>*@spammer.example</c>), <c>@domain</c>, <c>/regex/flags</c>, or <c>&lt;&gt;</c>.
    /// </summary>
    public static bool TryAddressPattern(string text, out string error, out int? offset)
    {
        offset = null;
        error = "";
        var p = text.Trim();
        if (p.Length > 1 && p[0] == '/')
            return TrySlashed(p, out _, out error, out offset);
        if (p.Length == 0)
        {
            error = "an empty address pattern matches nothing; write <> for the null sender";
            return false;
        }
        if (p == "@" || (p[0] == '@' && p.IndexOf('@', 1) > 0))
        {
            error = $"'{text}' is not @domain";
            return false;
        }
        return true;
    }

    private static string Reason(RegexParseException ex)
    {
        // "Invalid pattern 'x' at offset N. Reason." -> "Reason"
        var marker = $"at offset {ex.Offset}. ";
        var at = ex.Message.IndexOf(marker, StringComparison.Ordinal);
        return (at < 0 ? ex.Message : ex.Message[(at + marker.Length)..]).TrimEnd('.');
    }
}
