namespace Milter.Filters.Greylist;

/// <summary>
/// Passes counted for one (client, sender domain). From <c>auto_whitelist.after</c> passes on, its
/// mail skips greylisting until <see cref="Expires"/>, which every use pushes out by <c>auto_whitelist.lifetime</c>.
/// </summary>
public sealed record AutoWhitelistEntry(
    string Client,
    string SenderDomain,
    int Passes,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    DateTimeOffset Expires)
{
    /// <summary>Client, then sender domain, ordinally: the order every writer of auto-whitelist rows takes them in (see <see cref="Triplet.KeyOrder"/>).</summary>
    internal static int CompareKeys((string Client, string Domain) a, (string Client, string Domain) b)
    {
        var c = string.CompareOrdinal(a.Client, b.Client);
        return c != 0 ? c : string.CompareOrdinal(a.Domain, b.Domain);
    }
}
