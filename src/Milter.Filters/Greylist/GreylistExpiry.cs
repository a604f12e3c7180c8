using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist's share of the sweeper's work: deleting expired triplets (counting the pending ones
/// nobody retried in the greylist tally, in the same transaction), auto-whitelist entries and allow
/// entries, and flushing the lifetime extensions of cache hits. Both first wait for the deferrals
/// answered so far, so that neither races their write.
/// </summary>
internal sealed class GreylistExpiry(StoreDatabase database, PassCache passes, DeferralQueue deferrals) : IExpiringStore
{
    public async Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        (string Name, object? Value)[] parameters = [("@now", now.ToUnixTimeSeconds()), ("@batch", (long)batchSize)];
        await deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        // Relaxed commits: a sweep lost to a power cut is simply done again, its tally with it.
        var total = await database.WriteAsync(async (session, ct) =>
        {
            var gone = await session.QueryAsync(StoreSql.SweepTriplets,
                static r => (State: StoreSession.Int64(r, 0), Expires: StoreSession.Int64(r, 1), Deferrals: StoreSession.Int64(r, 2)), ct, parameters).ConfigureAwait(false);
            var abandoned = gone.Where(row => row.State == (long)TripletState.Pending)
                .GroupBy(row => new GreylistKey(DecisionTally.MinuteOf(GreylistRows.Time(row.Expires)), GreylistTallyEvents.Abandoned(row.Deferrals), 0))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            await DecisionTally.WriteGreylistAsync(session, abandoned, ct).ConfigureAwait(false);
            return gone.Count;
        }, cancellationToken, mayRelax: true).ConfigureAwait(false);
        foreach (var sql in (string[])[StoreSql.SweepAwl, StoreSql.SweepAllow])
        {
            total += await database.WriteAsync((session, ct) =>
                session.ExecuteAsync(sql, ct, parameters), cancellationToken, mayRelax: true).ConfigureAwait(false);
        }
        return total;
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        await passes.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
