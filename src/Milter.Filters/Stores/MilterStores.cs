using Milter.Filters.Ban;
using Milter.Filters.Greylist;
using Milter.Filters.Stats;

namespace Milter.Filters.Stores;

/// <summary>The stores of one database, opened together by <see cref="StoreFactory"/>; disposing closes the database.</summary>
public sealed class MilterStores : IAsyncDisposable
{
    private readonly StoreDatabase _database;
    private int _disposed;
    private IReadOnlyDictionary<string, long>? _generations;

    internal MilterStores(StoreDatabase database, GreylistStore greylist, DynamicBanStore bans, BypassBanStore bypassBans, DecisionTally tally)
    {
        _database = database;
        Greylist = greylist;
        Bans = bans;
        BypassBans = bypassBans;
        Tally = tally;
    }

    /// <summary>The greylist: its check path (<see cref="GreylistStore.Check"/>) and its admin queries (<see cref="GreylistStore.Admin"/>).</summary>
    public GreylistStore Greylist { get; }

    /// <summary>The database behind the stores (tests look at its connection).</summary>
    internal StoreDatabase Database => _database;

    public DynamicBanStore Bans { get; }

    /// <summary>The bypass ban's strikes, which ban a client that passed greylisting and then misbehaves.</summary>
    public BypassBanStore BypassBans { get; }

    /// <summary>The per-minute decision and greylist tallies (stats, metrics, status page).</summary>
    public DecisionTally Tally { get; }

    /// <summary>Told of every database operation: how long it took and whether it failed (the metrics).</summary>
    public IStoreObserver? Observer
    {
        get => _database.Observer;
        set => _database.Observer = value;
    }

    /// <summary><c>sqlite:PATH</c> or <c>postgres:Host=..;Port=..;Database=..</c>, without secrets.</summary>
    public string Description => _database.Description;

    /// <summary>The stores and the tally, for the sweeper.</summary>
    public IReadOnlyList<IExpiringStore> Expiring => [Greylist, BypassBans, Bans, Tally];

    /// <summary>
    /// Asks the database which change counters moved since the last call and re-reads what another
    /// process changed: the ban list, the allow list, or (after admin removals) the greylist's cached
    /// passes. The first call re-reads everything. Then the greylist's key filter takes in the rows
    /// inserted since (<see cref="GreylistStore.CatchUpKeysAsync"/>). Returns the names of the counters that moved.
    /// </summary>
    /// <exception cref="StoreUnavailableException">The database did not answer; nothing was re-read.</exception>
    public async Task<IReadOnlyList<string>> RefreshChangedAsync(CancellationToken cancellationToken)
    {
        // On a read connection: the poll runs every 2 s and must not queue behind the writer.
        var current = await _database.ReadAsync((session, ct) => StoreGenerations.ReadAsync(session, ct), cancellationToken).ConfigureAwait(false);
        var changed = current.Where(c => _generations is null || !_generations.TryGetValue(c.Key, out var seen) || seen != c.Value)
            .Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        // Re-read after the counters were read: a change made meanwhile is in the copy, or moves a counter again.
        foreach (var name in changed)
        {
            switch (name)
            {
                case StoreGenerations.Bans:
                    await Bans.ReloadAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case StoreGenerations.Allow:
                    await Greylist.ReloadAllowListAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case StoreGenerations.Greylist:
                    Greylist.ForgetCachedPasses();
                    break;
            }
        }
        _generations = current;
        // Not a change to report: the keys of rows inserted since the last poll, by anyone.
        await Greylist.CatchUpKeysAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    /// <summary>Writes out the greylist's deferred lifetime extensions and the tally, then closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await Greylist.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await Tally.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _database.DisposeAsync().ConfigureAwait(false);
        }
    }
}
