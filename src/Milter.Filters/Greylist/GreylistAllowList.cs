using Microsoft.Extensions.Logging;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>The admin allow list as the check path sees it: a copy in memory, re-read periodically and after every change.</summary>
internal sealed class GreylistAllowList
{
    private readonly StoreDatabase _database;
    private readonly RefreshingSnapshot<AllowIndex> _snapshot;

    public GreylistAllowList(StoreDatabase database, TimeProvider time, StoreOptions options, ILogger logger)
    {
        _database = database;
        _snapshot = new RefreshingSnapshot<AllowIndex>(LoadAsync, time, options.SnapshotRefresh, logger, "greylist allow list");
    }

    public ValueTask<AllowIndex> GetAsync(CancellationToken cancellationToken) => _snapshot.GetAsync(cancellationToken);

    /// <summary>Reads the list into memory again now (this or another process changed it).</summary>
    public Task ReloadAsync(CancellationToken cancellationToken) => _snapshot.ReloadAsync(cancellationToken);

    private Task<AllowIndex> LoadAsync(CancellationToken cancellationToken) =>
        // Entries that expire before the next reload are kept; AllowIndex compares their expiry with each check's time.
        _database.ReadAsync(async (session, ct) => new AllowIndex(await GreylistRows.ListAllowAsync(session, 0, ct).ConfigureAwait(false)), cancellationToken);
}
