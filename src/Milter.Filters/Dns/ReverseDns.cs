using System.Text.RegularExpressions;

namespace Milter.Filters.Dns;

/// <summary>
/// The client's reverse DNS: the PTR names of its address and the first of them whose A/AAAA
/// records contain the address again (forward-confirmed reverse DNS, FCrDNS).
/// </summary>
/// <param name="Names">The PTR names, lowercased, without the trailing dot; empty when there is no PTR record.</param>
/// <param name="ConfirmedName">The first forward-confirmed name, or null.</param>
public sealed record ReverseDns(IReadOnlyList<string> Names, string? ConfirmedName)
{
    public bool IsForwardConfirmed => ConfirmedName is not null;

    /// <summary>
    /// The name that makes the client trustworthy for <c>greylist.only_suspicious</c>: forward-confirmed
    /// and matching none of <paramref name="suspiciousNames"/>; null when the client is suspicious.
    /// </summary>
    public string? TrustedName(IReadOnlyList<Regex> suspiciousNames)
    {
        ArgumentNullException.ThrowIfNull(suspiciousNames);
        return ConfirmedName is { } name && !suspiciousNames.Any(r => r.IsMatch(name)) ? name : null;
    }

    public override string ToString() => Names.Count == 0
        ? "no PTR record"
        : ConfirmedName is { } confirmed
            ? $"{confirmed} (forward-confirmed)"
            : $"{string.Join(", ", Names)} (not forward-confirmed)";
}
