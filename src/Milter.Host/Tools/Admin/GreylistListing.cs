using Milter.Filters.Greylist;

namespace MilterHost.Tools.Admin;

/// <summary>
/// What <c>greylist list</c> found, section by section; a section the selection leaves out is null.
/// A section holding <see cref="Limit"/> rows may have been cut short.
/// </summary>
internal sealed record GreylistListing(
    IReadOnlyList<TripletEntry>? Triplets,
    IReadOnlyList<AutoWhitelistEntry>? AutoWhitelist,
    IReadOnlyList<GreylistAllowEntry>? Allowed,
    int Limit,
    int WhitelistAfter)
{
    public bool Truncated => Triplets?.Count >= Limit || AutoWhitelist?.Count >= Limit;

    public static async Task<GreylistListing> ReadAsync(IGreylistAdmin store, GreylistSelection selection, int whitelistAfter, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(selection);
        var triplets = selection.IncludesTriplets
            ? await store.ListTripletsAsync(selection.TripletQuery(), now, cancellationToken).ConfigureAwait(false)
            : null;
        var autoWhitelist = selection.IncludesAutoWhitelist
            ? await store.ListAutoWhitelistAsync(selection.AutoWhitelistQuery(whitelistAfter), now, cancellationToken).ConfigureAwait(false)
            : null;
        var allowed = selection.IncludesAllowed
            ? [.. (await store.ListAllowedAsync(now, cancellationToken).ConfigureAwait(false)).Where(selection.Matches)]
            : (IReadOnlyList<GreylistAllowEntry>?)null;
        return new GreylistListing(triplets, autoWhitelist, allowed, selection.Limit, whitelistAfter);
    }

    /// <summary>Whether an auto-whitelist entry has enough passes to skip greylisting.</summary>
    public bool IsWhitelisted(AutoWhitelistEntry entry) => WhitelistAfter > 0 && entry.Passes >= WhitelistAfter;
}
