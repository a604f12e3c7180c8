using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Greylist;

namespace Milter.Filters.Tests.Support;

/// <summary>
/// What the store suites share, whichever backend runs them: a fresh database per test, a fake
/// clock, and the stores opened on it (closed after the test).
/// </summary>
public abstract class StoreTestBase : IAsyncLifetime
{
    private readonly List<MilterStores> _open = [];

    protected FakeTimeProvider Clock { get; } = GreylistTestData.Clock();

    /// <summary>The <c>database:</c> setting of this test's database.</summary>
    protected string Database { get; private set; } = "";

    protected abstract Task<string> CreateDatabaseAsync();

    /// <summary>Runs SQL on the database directly, as another program would; returns the first column of the first row.</summary>
    protected abstract Task<long> ScalarAsync(string sql);

    /// <summary>Makes the database unusable for writers until the returned handle is disposed.</summary>
    protected abstract Task<IAsyncDisposable> MakeUnavailableAsync();

    /// <summary>Store tuning for this backend (SQLite's busy timeout is kept short where a test expects a failure).</summary>
    protected virtual StoreOptions Tuning => new();

    public async Task InitializeAsync() => Database = await CreateDatabaseAsync();

    public virtual async Task DisposeAsync()
    {
        foreach (var stores in _open)
            await stores.DisposeAsync();
    }

    protected async Task<MilterStores> OpenAsync(StoreOptions? options = null, ILoggerFactory? loggers = null)
    {
        var stores = await StoreFactory.OpenAsync(Database, Clock, loggers, options ?? Tuning);
        _open.Add(stores);
        return stores;
    }
}
