using Milter.TestSupport;
using Npgsql;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The tests that share one private PostgreSQL server; they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PrivatePostgres>
{
    public const string Name = "postgres";
}

/// <summary>The store suite on a real PostgreSQL, a fresh database per test.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PrivatePostgres server) : StoreContract
{
    private string _connectionString = "";

    protected override async Task<string> CreateDatabaseAsync()
    {
        _connectionString = await server.CreateDatabaseAsync(nameof(PostgresStoreTests));
        return "postgres:" + _connectionString;
    }

    protected override async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
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
