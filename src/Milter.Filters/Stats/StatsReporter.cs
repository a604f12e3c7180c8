using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Stats;

/// <summary>Builds the <see cref="StatsReport"/> of a window from the tally, the greylist and the ban list.</summary>
public static class StatsReporter
{
    /// <summary>How many networks and sender domains the top lists hold.</summary>
    public const int TopCount = 10;

    /// <summary>
    /// The report for the <paramref name="window"/> up to <paramref name="now"/>, in whole minutes: the
    /// current minute counts, so the window ends at the next minute boundary.
    /// </summary>
    public static async Task<StatsReport> CreateAsync(MilterStores stores, GreylistOptions greylist, DateTimeOffset now, TimeSpan window,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stores);
        ArgumentNullException.ThrowIfNull(greylist);
        var (from, to) = Window(now, window);
        var tally = stores.Tally;
        var decisions = await tally.DecisionsAsync(from, to, cancellationToken).ConfigureAwait(false);
        var funnel = await tally.GreylistFunnelAsync(from, to, cancellationToken).ConfigureAwait(false);
        var networks = await tally.TopRefusedNetworksAsync(from, to, TopCount, cancellationToken).ConfigureAwait(false);
        var domains = await tally.TopRefusedSenderDomainsAsync(from, to, TopCount, cancellationToken).ConfigureAwait(false);
        var table = await stores.Greylist.Admin.StatsAsync(now, greylist, cancellationToken).ConfigureAwait(false);
        var bans = await stores.Bans.ListAsync(now, cancellationToken).ConfigureAwait(false);
        var refused = networks.Select(n => new RefusedNetwork(n.Name, n.Count, BansOver(n.Name, bans))).ToList();
        return new StatsReport(from, to, decisions, funnel, table.Pending, table.Passed, table.Whitelisted, table.AutoWhitelistEntries,
            bans.Count, refused, domains);
    }

    /// <summary>[from, to) in whole minutes: <paramref name="window"/> (at least a minute) ending after the minute of <paramref name="now"/>.</summary>
    public static (DateTimeOffset From, DateTimeOffset To) Window(DateTimeOffset now, TimeSpan window)
    {
        var to = DecisionTally.MinuteOf(now) + 60;
        var minutes = Math.Max(1, (long)Math.Ceiling(window.TotalMinutes));
        return (DateTimeOffset.FromUnixTimeSeconds(to - minutes * 60), DateTimeOffset.FromUnixTimeSeconds(to));
    }

    private static List<string> BansOver(string network, IReadOnlyList<DynamicBan> bans)
    {
        if (!IPNetworks.TryParse(network, out var parsed))
            return [];
        return [.. bans.Where(b => IPNetworks.Overlaps(IPNetworks.Normalize(b.Network), parsed)).Select(b => b.Network.ToString())];
    }
}
