using Milter.Filters.Context;

namespace Milter.Filters.Dns;

/// <summary>
/// What DNS said about the current message's client and sender: the facts the DNS lists and the
/// greylist decided on. Kept in <see cref="SessionContext.MessageState"/> (see <see cref="Of"/>),
/// so <c>simulate</c> can print them beside the decisions.
/// </summary>
public sealed record DnsFacts
{
    public static DnsFacts None { get; } = new();

    /// <summary>The SPF check of the sender domain; null when none was made (null sender, spf_pools off, exempt client).</summary>
    public SpfCheck? Spf { get; init; }

    /// <summary>The client's reverse DNS; null when not looked up (only_suspicious off) or when the lookup failed.</summary>
    public ReverseDns? ReverseDns { get; init; }

    /// <summary>The lists asked about this client (none for relay clients and logged-in users).</summary>
    public IReadOnlyList<DnsList> ListsQueried { get; init; } = [];

    /// <summary>The lists the client is on, in configuration order.</summary>
    public IReadOnlyList<DnsListing> Listings { get; init; } = [];

    /// <summary>Lookups that failed or ran out of time (<c>spf pool.example: ...</c>); each fell back to what no answer means.</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    /// <summary>The listing that decides: the first in configuration order, as for ban rules; null when listed nowhere.</summary>
    public DnsListing? DecidingListing => Listings.Count > 0 ? Listings[0] : null;

    /// <summary>
    /// The sender domain whose servers share one greylist key: its SPF record passed the client,
    /// and only a bounded set of hosts can pass it (<see cref="SpfCheck.IsPool"/>).
    /// </summary>
    public string? SpfPoolDomain => Spf is { IsPool: true, Domain: var domain } ? domain : null;

    /// <summary>The facts of the current message once its lookups are done; null before or without them.</summary>
    public static DnsFacts? Of(SessionContext session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.MessageState.TryGet(MessageLookups.StateKey, out var lookups) && lookups.Facts.IsCompletedSuccessfully
            ? lookups.Facts.Result
            : null;
    }

    /// <summary>The current message's lookups, done or not; null when none were started.</summary>
    internal static Task<DnsFacts>? Pending(SessionContext session) =>
        session.MessageState.TryGet(MessageLookups.StateKey, out var lookups) ? lookups.Facts : null;

    /// <summary>One line per fact, as <c>simulate</c> prints them: <c>spf: pass (pool.example)</c>.</summary>
    public IReadOnlyList<string> Describe()
    {
        var lines = new List<string>();
        if (Spf is not null)
            lines.Add($"spf: {Spf}");
        if (ReverseDns is not null)
            lines.Add($"reverse dns: {ReverseDns}");
        foreach (var list in ListsQueried)
        {
            var listing = Listings.FirstOrDefault(l => ReferenceEquals(l.List, list));
            lines.Add(listing is not null ? $"dns list: {listing}" : $"dns list: {list.Zone} not listed");
        }
        foreach (var failure in Failures)
            lines.Add($"dns failure: {failure}");
        return lines;
    }
}
