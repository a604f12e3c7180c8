using Microsoft.Data.Sqlite;
using Milter.Filters.Tests.Greylist;
using Milter.TestSupport;
using Npgsql;

namespace Milter.Filters.Tests.Stats;

/// <summary>The tally suite on a SQLite file in a temp folder of its own.</summary>
public sealed class SqliteTallyTests : TallyContract
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-tally-" + Guid.NewGuid().ToString("N"));

    private string FilePath => Path.Combine(_folder, "milterhost.db");

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult("sqlite:" + FilePath);

    protected override async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    // Another process holding the write lock: writers wait out their busy timeout.
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

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>The tally suite on a real PostgreSQL, a fresh database per test.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresTallyTests(PrivatePostgres server) : TallyContract
{
    private string _connectionString = "";

    protected override async Task<string> CreateDatabaseAsync()
    {
        _connectionString = await server.CreateDatabaseAsync(nameof(PostgresTallyTests));
        return "postgres:" + _connectionString;
    }

    protected override async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    // The server crashes (pg_ctl -m immediate) and comes back when the handle is disposed.
    protected override async Task<IAsyncDisposable> MakeUnavailableAsync()
    {
        await server.StopAsync(immediate: true);
        return new Restart(server);
    }

    private sealed class Restart(PrivatePostgres server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await server.StartAsync();
    }
}
