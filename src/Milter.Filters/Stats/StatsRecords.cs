namespace Milter.Filters.Stats;

/// <summary>How many decisions a filter made with one verdict under one rule.</summary>
public sealed record DecisionCount(string Filter, string Verdict, string Rule, long Count);

/// <summary>A name (network, sender domain) and how often it was refused.</summary>
public sealed record NamedCount(string Name, long Count);

/// <summary>Decisions with one verdict in the hour starting at <see cref="Hour"/>.</summary>
public sealed record HourlyCount(DateTimeOffset Hour, string Verdict, long Count);

/// <summary>
/// Greylisting in a window, in triplets: first attempts, retries, passes, and the pending triplets
/// whose retry window ran out (never retried, or retried only too early).
/// </summary>
/// <param name="MedianDelaySeconds">The median time from first attempt to the retry that passed; null without passes.</param>
public sealed record GreylistFunnel(long FirstAttempts, long Retries, long Passed, long NeverRetried, long GaveUp, double? MedianDelaySeconds)
{
    /// <summary>Passes per first attempt in the window (at most 1); null without first attempts.</summary>
    public double? PassRate => FirstAttempts == 0 ? null : Math.Min(1.0, (double)Passed / FirstAttempts);
}

/// <summary>A refused client network, with the active dynamic bans that overlap it.</summary>
public sealed record RefusedNetwork(string Network, long Count, IReadOnlyList<string> Bans)
{
    public bool Banned => Bans.Count > 0;
}

/// <summary>What <c>milterhost stats</c> prints and <c>/api/summary</c> serves, for the window [<see cref="From"/>, <see cref="To"/>).</summary>
/// <param name="Decisions">By filter, verdict and rule; accepted messages are filter <c>-</c>, verdict <c>accept</c>.</param>
/// <param name="PendingTriplets">Triplets waiting for their retry now.</param>
/// <param name="AutoWhitelisted">(client, sender domain) pairs auto-whitelisted now.</param>
/// <param name="DynamicBansActive">Dynamic bans in force now.</param>
public sealed record StatsReport(
    DateTimeOffset From,
    DateTimeOffset To,
    IReadOnlyList<DecisionCount> Decisions,
    GreylistFunnel Greylist,
    long PendingTriplets,
    long PassedTriplets,
    long AutoWhitelisted,
    long AutoWhitelistEntries,
    long DynamicBansActive,
    IReadOnlyList<RefusedNetwork> TopRefusedNetworks,
    IReadOnlyList<NamedCount> TopRefusedSenderDomains)
{
    /// <summary>Decisions by filter and verdict, rules added up.</summary>
    public IReadOnlyList<DecisionCount> ByFilter =>
        [.. Decisions.GroupBy(d => (d.Filter, d.Verdict)).Select(g => new DecisionCount(g.Key.Filter, g.Key.Verdict, "", g.Sum(d => d.Count)))
            .OrderBy(d => d.Filter, StringComparer.Ordinal).ThenBy(d => d.Verdict, StringComparer.Ordinal)];

    /// <summary>Decisions by verdict, filters added up.</summary>
    public long Total(string verdict) => Decisions.Where(d => d.Verdict == verdict).Sum(d => d.Count);
}
