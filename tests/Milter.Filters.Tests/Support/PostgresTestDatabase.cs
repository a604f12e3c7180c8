using Milter.TestSupport;
using Npgsql;

namespace Milter.Filters.Tests.Support;

/// <summary>A fresh database on the collection's private PostgreSQL, and the ways a test reaches it from outside the stores.</summary>
internal sealed class PostgresTestDatabase(PrivatePostgres server)
{
    private string _connectionString = "";

    /// <summary>Creates the database; returns the <c>database:</c> setting.</summary>
    public async Task<string> CreateAsync(string prefix)
    {
        _connectionString = await server.CreateDatabaseAsync(prefix);
        return "postgres:" + _connectionString;
    }

    /// <summary>Runs SQL as another program would; the first column of the first row.</summary>
    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A connection of another program, open, for a test to hold transactions on.</summary>
    public async Task<NpgsqlConnection> ConnectAsync()
    {
        var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>The server crashes (pg_ctl -m immediate) and comes back when the handle is disposed.</summary>
    public async Task<IAsyncDisposable> CrashAsync()
    {
        await server.StopAsync(immediate: true);
        return new Restart(server);
    }

    private sealed class Restart(PrivatePostgres server) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await server.StartAsync();
    }
}
