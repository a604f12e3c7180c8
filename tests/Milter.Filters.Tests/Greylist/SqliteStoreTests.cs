using Microsoft.Data.Sqlite;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The store suite on a SQLite file in a temp folder of its own.</summary>
public sealed class SqliteStoreTests : StoreContract
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-store-" + Guid.NewGuid().ToString("N"));

    private string FilePath => Path.Combine(_folder, "db", "milterhost.db");

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult("sqlite:" + FilePath);

    protected override async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    // Another process holding the write lock: writers wait out their busy timeout, readers go on.
    protected override async Task<IAsyncDisposable> MakeUnavailableAsync()
    {
        var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False");
        await connection.OpenAsync();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "BEGIN EXCLUSIVE";
            await command.ExecuteNonQueryAsync();
        }
        return connection;
    }

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
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }
}
