using System.Text.RegularExpressions;

namespace Milter.Filters.Ban;

/// <summary>
/// An envelope address pattern as written in ban rules and <c>greylist.skip</c>: exact, glob,
/// <c>@domain</c> or <c>/regex/flags</c>. Addresses are compared without angle brackets and
/// without trailing dots on the domain.
/// </summary>
public sealed class AddressPattern
{
    private readonly string _text = "";
    private readonly Glob? _glob;
    private readonly Regex? _regex;

    private AddressPattern(string written, AddressPatternKind kind, string text, Glob? glob, Regex? regex)
    {
        Written = written;
        Kind = kind;
        _text = text;
        _glob = glob;
        _regex = regex;
    }

    /// <summary>The pattern as written in the configuration.</summary>
    public string Written { get; }

    public AddressPatternKind Kind { get; }

    /// <exception cref="FormatException">An empty pattern, a bad regex, or a malformed <c>@domain</c>.</exception>
    public static AddressPattern Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var p = pattern.Trim();
        if (p.Length > 1 && p[0] == '/')
            return new AddressPattern(pattern, AddressPatternKind.Regex, p, null, PatternRegex.FromSlashed(p));
        if (p == "<>")
            return new AddressPattern(pattern, AddressPatternKind.Exact, "", null, null);
        p = Normalize(p);
        if (p.Length == 0)
            throw new FormatException("an empty address pattern matches nothing; write <> for the null sender");
        if (Glob.HasWildcards(p))
        {
            // "@*.example" reads as "any address at a subdomain of example".
            var glob = p[0] == '@' ? "*" + p : p;
            return new AddressPattern(pattern, AddressPatternKind.Glob, glob, new Glob(glob), null);
        }
        if (p[0] == '@')
        {
            var domain = p[1..];
            if (domain.Length == 0 || domain.Contains('@', StringComparison.Ordinal))
                throw new FormatException($"'{pattern}' is not @domain");
            return new AddressPattern(pattern, AddressPatternKind.Domain, domain, null, null);
        }
        return new AddressPattern(pattern, AddressPatternKind.Exact, p, null, null);
    }

    /// <summary>True when the envelope address (with or without angle brackets) matches.</summary>
    public bool Matches(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var a = Normalize(address);
        return Kind switch
        {
            AddressPatternKind.Exact => a.Equals(_text, StringComparison.OrdinalIgnoreCase),
            AddressPatternKind.Glob => _glob!.IsMatch(a),
            AddressPatternKind.Domain => a.LastIndexOf('@') is var at and >= 0 && a.AsSpan(at + 1).Equals(_text, StringComparison.OrdinalIgnoreCase),
            _ => _regex!.IsMatch(a),
        };
    }

    /// <summary>True when any of <paramref name="patterns"/> matches; a regex that runs out of time on this address does not.</summary>
    public static bool AnyMatches(IReadOnlyList<AddressPattern> patterns, string address)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        foreach (var pattern in patterns)
        {
            try
            {
                if (pattern.Matches(address))
                    return true;
            }
            catch (RegexMatchTimeoutException)
            {
                // A backtracking pattern that ran too long on this address: it does not match.
            }
        }
        return false;
    }

    public override string ToString() => Written;

    private static string Normalize(string address) =>
        Protocol.Commands.AngleBrackets.Strip(address).TrimEnd('.');
}
