using Milter.Filters.Greylist;

namespace Milter.Filters.Stores;

/// <summary>The stores of one database, opened together by <see cref="StoreFactory"/>; disposing closes the database.</summary>
public sealed class MilterStores : IAsyncDisposable
{
    private readonly StoreDatabase _database;
    private int _disposed;

    internal MilterStores(StoreDatabase database, GreylistStore greylist, DynamicBanStore bans)
    {
        _database = database;
        Greylist = greylist;
        Bans = bans;
    }

    public GreylistStore Greylist { get; }

    public DynamicBanStore Bans { get; }

    /// <summary><c>sqlite:PATH</c> or <c>postgres:Host=..;Port=..;Database=..</c>, without secrets.</summary>
    public string Description => _database.Description;

    /// <summary>Both stores, for the sweeper.</summary>
    public IReadOnlyList<IExpiringStore> Expiring => [Greylist, Bans];

    /// <summary>Writes out the greylist's deferred lifetime extensions, then closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            await Greylist.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _database.DisposeAsync().ConfigureAwait(false);
        }
    }
}
