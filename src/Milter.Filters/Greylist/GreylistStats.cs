namespace Milter.Filters.Greylist;

/// <summary>Counts for <c>milterhost greylist stats</c>, of live rows unless said otherwise.</summary>
/// <param name="AutoWhitelistEntries">(client, sender domain) pairs with at least one pass.</param>
/// <param name="Whitelisted">Those with at least <c>auto_whitelist.after</c> passes.</param>
/// <param name="Expired">Triplet and auto-whitelist rows past their expiry, waiting for the sweeper.</param>
public sealed record GreylistStats(long Pending, long Passed, long AutoWhitelistEntries, long Whitelisted, long Allowed, long Expired);
