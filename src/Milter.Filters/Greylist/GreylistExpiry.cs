using Dapper;
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
        var seconds = now.ToUnixTimeSeconds();
        await deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        // Relaxed commits: a sweep lost to a power cut is simply done again, its tally with it.
        var total = await database.WriteAsync(async (session, ct) =>
        {
            var args = new SweepArgs(seconds, batchSize, ct);
            var gone = (session.Dialect.LocksTripletForUpdate
                ? await session.Connection.QueryAsync<SweptTripletRow>(StoreSql.SweepTripletsSkippingLocked, args, commandTimeout: session.CommandTimeout).ConfigureAwait(false)
                : await session.Connection.QueryAsync<SweptTripletRow>(StoreSql.SweepTriplets, args, commandTimeout: session.CommandTimeout).ConfigureAwait(false)).ToList();
            var abandoned = gone.Where(row => row.State == (long)TripletState.Pending)
                .GroupBy(row => new GreylistKey(DecisionTally.MinuteOf(GreylistRows.Time(row.Expires)), GreylistTallyEvents.Abandoned(row.Deferrals), 0))
                .ToDictionary(g => g.Key, g => (long)g.Count());
            await DecisionTally.WriteGreylistAsync(session, abandoned, ct).ConfigureAwait(false);
            return gone.Count;
        }, cancellationToken, mayRelax: true).ConfigureAwait(false);
        total += await database.WriteAsync((session, ct) => session.Connection.ExecuteAsync(StoreSql.SweepAwl, new SweepArgs(seconds, batchSize, ct), commandTimeout: session.CommandTimeout),
            cancellationToken, mayRelax: true).ConfigureAwait(false);
        total += await database.WriteAsync((session, ct) => session.Connection.ExecuteAsync(StoreSql.SweepAllow, new SweepArgs(seconds, batchSize, ct), commandTimeout: session.CommandTimeout),
            cancellationToken, mayRelax: true).ConfigureAwait(false);
        return total;
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await deferrals.WhenWrittenAsync(cancellationToken).ConfigureAwait(false);
        await passes.FlushAsync(cancellationToken).ConfigureAwait(false);
    }
}
