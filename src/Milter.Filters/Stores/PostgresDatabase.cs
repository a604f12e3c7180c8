using System.Data.Common;
using Npgsql;

namespace Milter.Filters.Stores;

/// <summary>
/// A PostgreSQL database shared by several MX hosts, through Npgsql's pool. Statements used again
/// and again are prepared by Npgsql's automatic preparation on each pooled connection.
/// </summary>
internal sealed class PostgresDatabase : StoreDatabase
{
    private readonly NpgsqlDataSource _dataSource;

    private PostgresDatabase(NpgsqlDataSource dataSource, string description) : base(SqlDialect.Postgres, description)
    {
        _dataSource = dataSource;
    }

    /// <summary>Builds the pool; the first session opens the first connection.</summary>
    public static PostgresDatabase Create(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        NpgsqlConnectionStringBuilder settings;
        try
        {
            settings = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            throw new StoreUnavailableException($"postgres: bad connection string: {ex.Message}", ex);
        }
        if (settings.MaxAutoPrepare == 0)
            settings.MaxAutoPrepare = 32;
        if (settings.AutoPrepareMinUsages > 2)
            settings.AutoPrepareMinUsages = 2;
        var description = $"postgres:Host={settings.Host};Port={settings.Port};Database={settings.Database}";
        return new PostgresDatabase(new NpgsqlDataSourceBuilder(settings.ConnectionString).Build(), description);
    }

    public override async ValueTask<StoreSession> OpenSessionAsync(CancellationToken cancellationToken)
    {
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return new Session(connection, Dialect);
    }

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private sealed class Session(NpgsqlConnection connection, SqlDialect dialect) : StoreSession(connection, dialect)
    {
        public override DbCommand Rent(string sql) => new NpgsqlCommand(sql, connection);

        public override void Return(DbCommand command) => command.Dispose();

        public override int CommandTimeout => connection.CommandTimeout;

        protected override ValueTask ReleaseAsync() => connection.DisposeAsync();

        // For this transaction only: the server never loses consistency, only the last such commits if it crashes.
        protected override Task BeforeCommitAsync(bool relaxed, CancellationToken cancellationToken) =>
            relaxed ? ExecuteRawAsync("SET LOCAL synchronous_commit TO OFF", cancellationToken) : Task.CompletedTask;
    }
}
