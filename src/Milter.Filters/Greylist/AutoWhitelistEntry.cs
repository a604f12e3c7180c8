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
    DateTimeOffset Expires);
