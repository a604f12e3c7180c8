using Dapper;
using Microsoft.Data.Sqlite;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The store suite on a SQLite file in a temp folder of its own.</summary>
public sealed class SqliteStoreTests : StoreContract
{
    private readonly SqliteTestFile _file = new("store", Path.Combine("db", "milterhost.db"));

    private string FilePath => _file.FilePath;

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(_file.Setting);

    protected override Task<long> ScalarAsync(string sql) => _file.ScalarAsync(sql);

    // Another process holding the write lock: writers wait out their busy timeout, readers go on.
    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _file.LockAsync();

    [Fact]
    public async Task Sqlite_file_and_folder_are_created_in_wal_mode()
    {
        await OpenAsync();

        Assert.True(File.Exists(FilePath));
        await using var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_first_attempt_commits_without_waiting_for_the_disk_and_a_pass_waits_for_it()
    {
        var stores = await OpenAsync();
        var triplet = Mail("alice@example.org", "bob@example.com");

        var first = await stores.Greylist.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.Equal(GreylistAction.Defer, first.Action);
        Assert.Equal(1L, await SynchronousAsync(stores)); // NORMAL: the WAL is written, not synced
        Assert.Equal(1L, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet WHERE state = 0"));

        Clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await stores.Greylist.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.True(retry.FirstPass);
        Assert.Equal(2L, await SynchronousAsync(stores)); // FULL: the pass (and the WAL before it) is on disk

        var other = Mail("carol@example.org", "bob@example.com");
        await stores.Greylist.CheckAsync(other, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.Equal(1L, await SynchronousAsync(stores));
    }

    private static Task<long> SynchronousAsync(MilterStores stores) =>
        stores.Database.RunAsync((session, ct) => session.Connection.ExecuteScalarAsync<long>(StoreSession.Define("PRAGMA synchronous", null, ct)), CancellationToken.None);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}
