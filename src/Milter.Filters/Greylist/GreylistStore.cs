using Microsoft.Extensions.Logging;
using Milter.Filters.Stats;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// The greylist on a SQL database (SQLite or PostgreSQL: <see cref="StoreDatabase"/> holds what
/// differs), made of its parts: <see cref="Check"/> for the filter, <see cref="Admin"/> for the
/// command line and the stats, and the sweeper's work (<see cref="IExpiringStore"/>). The parts share
/// the pass cache, the queue of deferrals not yet written and the allow list in memory.
/// Opened by <see cref="StoreFactory"/>.
/// </summary>
public sealed class GreylistStore : IExpiringStore
{
    private readonly PassCache _passes;
    private readonly DeferralQueue _deferrals;
    private readonly GreylistAllowList _allow;
    private readonly GreylistExpiry _expiry;

    /// <param name="passes">The cache of passes, shared with the bypass ban (which removes a banned client's auto-whitelist entries).</param>
    /// <param name="purgedWith">Swept by <see cref="IGreylistAdmin.PurgeAsync"/> after the greylist's own tables (the bypass strikes).</param>
    internal GreylistStore(StoreDatabase database, PassCache passes, DecisionTally? tally, TimeProvider time, StoreOptions options, ILogger logger,
        IReadOnlyList<IExpiringStore> purgedWith)
    {
        _passes = passes;
        _deferrals = new DeferralQueue(database, options, logger);
        _allow = new GreylistAllowList(database, time, options, logger);
        _expiry = new GreylistExpiry(database, _passes, _deferrals);
        Keys = database.Dialect.FiltersGreylistKeys ? new GreylistKeyFilter(database, logger) : null;
        Check = new GreylistCheck(database, _allow, _passes, _deferrals, tally, Keys);
        Admin = new GreylistAdmin(database, _allow, _passes, _deferrals, [_expiry, .. purgedWith]);
    }

    /// <summary>The check path (<see cref="IGreylistCheck"/>): what the greylist filter uses.</summary>
    public GreylistCheck Check { get; }

    /// <summary>Listings, counts, the allow list, removals and the purge.</summary>
    public GreylistAdmin Admin { get; }

    /// <summary>The filter of the keys in the database, which spares a check of a triplet never seen its read; null where not used (PostgreSQL).</summary>
    internal GreylistKeyFilter? Keys { get; }

    /// <summary>Checks answered without reading the database, the key filter knowing that neither row exists.</summary>
    public long SkippedReads => Keys?.SkippedReads ?? 0;

    /// <summary>Takes in the keys other processes inserted since the last call (the change poll calls it); nothing where no key filter is used.</summary>
    internal Task CatchUpKeysAsync(CancellationToken cancellationToken) => Keys?.CatchUpAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Entries in the pass cache (for the status page and tests).</summary>
    public int CachedPasses => _passes.Count;

    /// <summary>Lifetime extensions waiting for <see cref="FlushAsync"/>.</summary>
    public int PendingTouches => _passes.PendingTouches;

    /// <summary>Completes once every deferred attempt answered so far is in the database (or was lost to a failure, logged).</summary>
    public Task WhenAttemptsWrittenAsync(CancellationToken cancellationToken) => _deferrals.WhenWrittenAsync(cancellationToken);

    public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken) =>
        _expiry.SweepAsync(now, batchSize, cancellationToken);

    public Task FlushAsync(CancellationToken cancellationToken) => _expiry.FlushAsync(cancellationToken);

    /// <summary>Reads the admin allow list into memory again now (another process changed it).</summary>
    internal Task ReloadAllowListAsync(CancellationToken cancellationToken) => _allow.ReloadAsync(cancellationToken);

    /// <summary>
    /// Another process removed triplets or auto-whitelist entries: forget every pass held in memory,
    /// so the next check of each asks the database (which no longer has the removed ones).
    /// </summary>
    internal void ForgetCachedPasses() => _passes.Clear();
}
