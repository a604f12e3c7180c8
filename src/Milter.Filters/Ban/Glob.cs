namespace Milter.Filters.Ban;

/// <summary>
/// A shell-style wildcard, matched case-insensitively against the whole text: <c>*</c> any run
/// of characters (also none), <c>?</c> exactly one. No other character is special.
/// </summary>
public sealed class Glob
{
    public Glob(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Pattern = pattern;
    }

    public string Pattern { get; }

    /// <summary>True when the text has a <c>*</c> or <c>?</c>, so it is a glob rather than a literal.</summary>
    public static bool HasWildcards(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    /// <summary>
    /// Greedy match with one remembered star: time is bounded by text length times pattern length,
    /// never exponential, so a long hostile name costs little.
    /// </summary>
    public bool IsMatch(ReadOnlySpan<char> text)
    {
        var p = Pattern.AsSpan();
        int ti = 0, pi = 0, starPi = -1, starTi = 0;
        while (ti < text.Length)
        {
            if (pi < p.Length && (p[pi] == '?' || EqualsIgnoreCase(p[pi], text[ti])))
            {
                ti++;
                pi++;
            }
            else if (pi < p.Length && p[pi] == '*')
            {
                starPi = pi++;
                starTi = ti;
            }
            else if (starPi >= 0)
            {
                pi = starPi + 1;
                ti = ++starTi;
            }
            else
            {
                return false;
            }
        }
        while (pi < p.Length && p[pi] == '*')
            pi++;
        return pi == p.Length;
    }

    public override string ToString() => Pattern;

    private static bool EqualsIgnoreCase(char a, char b) =>
        a == b || char.ToUpperInvariant(a) == char.ToUpperInvariant(b);
}
