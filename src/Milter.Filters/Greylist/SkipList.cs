using System.Text.RegularExpressions;

namespace Milter.Filters.Greylist;

/// <summary>
/// <c>greylist.skip.senders</c> / <c>recipients</c>: envelope address patterns written as for ban
/// rules — exact, glob (<c>*</c>, <c>?</c>), <c>@domain</c> (that domain only), <c>/regex/</c>, or
/// <c>&lt;&gt;</c> for the null sender — all case-insensitive. (The ban filter's AddressPattern
/// reads the same syntax; this stays private to the greylist until the two are merged.)
/// </summary>
internal sealed class SkipList
{
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);
    private readonly Func<string, bool>[] _matchers;

    /// <exception cref="FormatException">An empty pattern or a regex that does not compile; the message names it.</exception>
    public SkipList(IEnumerable<string> patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        _matchers = [.. patterns.Select(Compile)];
    }

    public bool IsEmpty => _matchers.Length == 0;

    /// <summary>True when any pattern matches one of the given forms of the address (as written, normalised).</summary>
    public bool Matches(params ReadOnlySpan<string> addresses)
    {
        foreach (var matcher in _matchers)
        {
            foreach (var address in addresses)
            {
                if (matcher(Normalize(address)))
                    return true;
            }
        }
        return false;
    }

    private static Func<string, bool> Compile(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var p = pattern.Trim();
        if (p.Length > 2 && p[0] == '/' && p.LastIndexOf('/') > 0)
            return WithTimeout(RegexFor(p[1..p.LastIndexOf('/')], pattern));
        if (p == "<>")
            return static a => a.Length == 0;
        p = Normalize(p);
        if (p.Length == 0)
            throw new FormatException($"greylist.skip: an empty address pattern matches nothing; write <> for the null sender");
        if (p.AsSpan().IndexOfAny('*', '?') >= 0)
        {
            var glob = p[0] == '@' ? "*" + p : p;
            var regex = RegexFor("^" + Regex.Escape(glob).Replace(@"\*", ".*", StringComparison.Ordinal).Replace(@"\?", ".", StringComparison.Ordinal) + "$", pattern);
            return WithTimeout(regex);
        }
        if (p[0] == '@')
        {
            var domain = p[1..];
            return a => a.EndsWith(domain, StringComparison.Ordinal) && a.Length > domain.Length && a[^(domain.Length + 1)] == '@';
        }
        return a => a == p;
    }

    private static Regex RegexFor(string expression, string written)
    {
        try
        {
            return new Regex(expression, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant | RegexOptions.NonBacktracking);
        }
        catch (NotSupportedException)
        {
            // Backreferences and lookarounds need the backtracking engine; the timeout bounds it.
            return new Regex(expression, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout);
        }
        catch (ArgumentException ex)
        {
            throw new FormatException($"greylist.skip: '{written}' is not a valid regex: {ex.Message}", ex);
        }
    }

    private static Func<string, bool> WithTimeout(Regex regex) => a =>
    {
        try { return regex.IsMatch(a); }
        catch (RegexMatchTimeoutException) { return false; }
    };

    private static string Normalize(string address)
    {
        var a = address.Trim();
        if (a.StartsWith('<') && a.EndsWith('>'))
            a = a[1..^1];
        return a.TrimEnd('.').ToLowerInvariant();
    }
}
