using Microsoft.Data.Sqlite;
using Milter.Filters.Tests.Support;

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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}
